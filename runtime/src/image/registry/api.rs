//! The distribution API calls berth makes (OCI distribution spec, "pull" and "push").

use std::path::Path;

use reqwest::{Response, StatusCode, header};

use super::client::{Access, Registry};
use super::{RegistryError, error_chain};
use crate::image::digest::Digest;

/// Manifests larger than this are refused (containerd's limit too).
pub const MAX_MANIFEST: usize = 4 << 20;

/// Every manifest kind berth understands, for the Accept header.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// A manifest as served: its bytes and the media type the registry gave.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: Option<String>,
}

impl Registry {
    /// `GET /v2/<repo>/manifests/<tag or digest>`.
    pub async fn manifest(&self, repository: &str, selector: &str) -> Result<FetchedManifest, RegistryError> {
        let what = format!("manifest {repository}:{selector}");
        let url = self.url(&format!("/v2/{repository}/manifests/{selector}"));
        let response = self
            .send(&what, Some((repository, Access::Pull)), |http| {
                http.get(&url).header(header::ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        let response = self.check(response, &what).await?;
        if response.content_length().is_some_and(|len| len > MAX_MANIFEST as u64) {
            return Err(self.protocol(&what, "the manifest is larger than 4 MiB"));
        }
        let media_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let bytes = self.body(response, &what).await?;
        if bytes.len() > MAX_MANIFEST {
            return Err(self.protocol(&what, "the manifest is larger than 4 MiB"));
        }
        Ok(FetchedManifest { bytes, media_type })
    }

    /// `GET /v2/<repo>/blobs/<digest>`, for the caller to stream.
    pub async fn blob(&self, repository: &str, digest: &Digest) -> Result<Response, RegistryError> {
        let what = format!("blob {digest} of {repository}");
        let url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let response = self.send(&what, Some((repository, Access::Pull)), |http| http.get(&url)).await?;
        self.check(response, &what).await
    }

    /// A small blob (a config), read whole.
    pub async fn blob_bytes(&self, repository: &str, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        let response = self.blob(repository, digest).await?;
        self.body(response, &format!("blob {digest}")).await
    }

    /// `HEAD /v2/<repo>/blobs/<digest>`: does the repository have it?
    pub async fn has_blob(&self, repository: &str, digest: &Digest) -> Result<bool, RegistryError> {
        let what = format!("blob {digest} of {repository}");
        let url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let response = self.send(&what, Some((repository, Access::Push)), |http| http.head(&url)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        self.check(response, &what).await.map(|_| true)
    }

    /// Uploads the file at `path` as blob `digest`: a POST to open the upload, one PUT with it all.
    pub async fn upload_blob(&self, repository: &str, digest: &Digest, path: &Path) -> Result<(), RegistryError> {
        let what = format!("upload of blob {digest} to {repository}");
        let start = self.url(&format!("/v2/{repository}/blobs/uploads/"));
        let response = self
            .send(&what, Some((repository, Access::Push)), |http| http.post(&start).header(header::CONTENT_LENGTH, "0"))
            .await?;
        let response = self.check(response, &what).await?;
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol(&what, "the registry gave no upload location"))?;
        let mut url = reqwest::Url::parse(&self.url("/"))
            .and_then(|base| base.join(location))
            .map_err(|e| self.protocol(&what, &format!("bad upload location {location:?}: {e}")))?;
        url.query_pairs_mut().append_pair("digest", &digest.to_string());
        let size =
            std::fs::metadata(path).map_err(|e| self.protocol(&what, &format!("{}: {e}", path.display())))?.len();
        let response = self
            .send(&what, Some((repository, Access::Push)), |http| {
                let body = match std::fs::File::open(path) {
                    Ok(file) => reqwest::Body::from(tokio::fs::File::from_std(file)),
                    // Sent empty, the upload fails on the digest check with a registry error.
                    Err(_) => reqwest::Body::from(Vec::new()),
                };
                http.put(url.clone())
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .header(header::CONTENT_LENGTH, size)
                    .body(body)
            })
            .await?;
        self.check(response, &what).await.map(drop)
    }

    /// `PUT /v2/<repo>/manifests/<tag or digest>`.
    pub async fn put_manifest(
        &self,
        repository: &str,
        selector: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        let what = format!("manifest {repository}:{selector}");
        let url = self.url(&format!("/v2/{repository}/manifests/{selector}"));
        let response = self
            .send(&what, Some((repository, Access::Push)), |http| {
                http.put(&url).header(header::CONTENT_TYPE, media_type).body(bytes.to_vec())
            })
            .await?;
        self.check(response, &what).await.map(drop)
    }

    /// `GET /v2/`: checks that the registry answers and accepts the credentials.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let url = self.url("/v2/");
        let response = self.send("the API root /v2/", None, |http| http.get(&url)).await?;
        self.check(response, "the API root /v2/").await.map(drop)
    }

    async fn body(&self, response: Response, what: &str) -> Result<Vec<u8>, RegistryError> {
        response.bytes().await.map(|b| b.to_vec()).map_err(|e| RegistryError::Body {
            registry: self.name().to_owned(),
            what: what.to_owned(),
            detail: error_chain(&e),
        })
    }

    fn protocol(&self, what: &str, detail: &str) -> RegistryError {
        RegistryError::Protocol { registry: self.name().to_owned(), what: what.to_owned(), detail: detail.to_owned() }
    }
}
