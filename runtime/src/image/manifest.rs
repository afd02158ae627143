//! Manifests as registries serve them: OCI image index and Docker manifest
//! list, OCI and Docker schema 2 image manifests (the same JSON shapes, read
//! with oci-spec's types), classified once by media type.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use super::digest::Digest;
use super::error::ImageError;
use super::platform::Platform;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    OCI_LAYER_GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    DOCKER_LAYER_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// A parsed manifest of either level.
#[derive(Debug, Clone)]
pub enum Manifest {
    Index { media_type: String, index: Box<ImageIndex> },
    Image(ImageManifestInfo),
}

/// An image manifest with what berth needs from it checked.
#[derive(Debug, Clone)]
pub struct ImageManifestInfo {
    pub media_type: String,
    pub config: BlobRef,
    pub layers: Vec<BlobRef>,
}

/// A descriptor reduced to what berth uses, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

impl BlobRef {
    pub fn from_descriptor(descriptor: &Descriptor, what: &str) -> Result<BlobRef, ImageError> {
        let digest = descriptor
            .digest()
            .to_string()
            .parse::<Digest>()
            .map_err(|e| ImageError::Manifest(format!("{what}: {e}")))?;
        Ok(BlobRef { digest, size: descriptor.size(), media_type: descriptor.media_type().to_string() })
    }
}

impl Manifest {
    /// Parses manifest bytes; `served` is the Content-Type the registry sent, if any.
    pub fn parse(bytes: &[u8], served: Option<&str>, what: &str) -> Result<Manifest, ImageError> {
        let bad = |detail: String| ImageError::Manifest(format!("{what}: {detail}"));
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("the manifest is not valid JSON: {e}")))?;
        if json.get("schemaVersion").and_then(serde_json::Value::as_u64) == Some(1) {
            return Err(bad(
                "Docker schema 1 manifests are not supported; push the image again with a current client".into()
            ));
        }
        let declared = json.get("mediaType").and_then(serde_json::Value::as_str);
        let media_type = match (declared, served) {
            (Some(declared), _) => declared.to_owned(),
            (None, Some(served)) if served != "application/json" && served != "text/plain" => served.to_owned(),
            // Neither says: OCI allows leaving mediaType out; the shape tells.
            _ if json.get("manifests").is_some() => OCI_INDEX.to_owned(),
            _ => OCI_MANIFEST.to_owned(),
        };
        match media_type.as_str() {
            OCI_INDEX | DOCKER_LIST => {
                let index: ImageIndex =
                    serde_json::from_value(json).map_err(|e| bad(format!("invalid image index: {e}")))?;
                Ok(Manifest::Index { media_type, index: Box::new(index) })
            }
            OCI_MANIFEST | DOCKER_MANIFEST => {
                let manifest: ImageManifest =
                    serde_json::from_value(json).map_err(|e| bad(format!("invalid image manifest: {e}")))?;
                Ok(Manifest::Image(ImageManifestInfo::check(&manifest, media_type, what)?))
            }
            other => Err(bad(format!("unsupported manifest media type {other:?}"))),
        }
    }
}

impl ImageManifestInfo {
    fn check(manifest: &ImageManifest, media_type: String, what: &str) -> Result<Self, ImageError> {
        let config = BlobRef::from_descriptor(manifest.config(), what)?;
        if config.media_type != OCI_CONFIG && config.media_type != DOCKER_CONFIG {
            return Err(ImageError::Manifest(format!(
                "{what} is not a container image (its config has media type {:?})",
                config.media_type
            )));
        }
        let layers = manifest
            .layers()
            .iter()
            .map(|layer| {
                let layer = BlobRef::from_descriptor(layer, what)?;
                if !LAYER_TYPES.contains(&layer.media_type.as_str()) {
                    return Err(ImageError::Manifest(format!(
                        "{what}: layer {} has unsupported media type {:?}",
                        layer.digest, layer.media_type
                    )));
                }
                Ok(layer)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ImageManifestInfo { media_type, config, layers })
    }
}

/// The index entry for `platform`, or an error listing what the index offers.
pub fn select(index: &ImageIndex, platform: &Platform, what: &str) -> Result<BlobRef, ImageError> {
    let mut available = Vec::new();
    for entry in index.manifests() {
        let Some(p) = entry.platform() else { continue };
        let (os, arch) = (p.os().to_string(), p.architecture().to_string());
        // Attestation manifests are listed as unknown/unknown.
        if os == "unknown" {
            continue;
        }
        if platform.matches(&os, &arch, p.variant().as_deref()) {
            return BlobRef::from_descriptor(entry, what);
        }
        available.push(match p.variant() {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        });
    }
    Err(ImageError::Platform(format!(
        "{what} has no image for platform {platform} (it has: {}); use --platform to choose one",
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn index() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{D1}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
              {{"mediaType":"{DOCKER_MANIFEST}","digest":"{D2}","size":2,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        )
    }

    #[test]
    fn picks_the_platform() {
        let Manifest::Index { index, .. } = Manifest::parse(index().as_bytes(), None, "x").unwrap() else {
            panic!("an index")
        };
        let amd = select(&index, &"linux/amd64".parse().unwrap(), "x").unwrap();
        assert_eq!(amd.digest.to_string(), D2);
        let arm = select(&index, &"linux/arm64".parse().unwrap(), "x").unwrap();
        assert_eq!(arm.digest.to_string(), D1);
        let err = select(&index, &"linux/s390x".parse().unwrap(), "busybox").unwrap_err().to_string();
        assert!(
            err.contains("no image for platform linux/s390x") && err.contains("linux/arm64/v8, linux/amd64"),
            "{err}"
        );
    }

    #[test]
    fn reads_an_image_manifest() {
        let json = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{D1}","size":10}},
               "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"{D2}","size":20}}]}}"#
        );
        let Manifest::Image(m) = Manifest::parse(json.as_bytes(), Some(OCI_MANIFEST), "x").unwrap() else {
            panic!("a manifest")
        };
        assert_eq!(m.media_type, OCI_MANIFEST);
        assert_eq!(m.config.size, 10);
        assert_eq!(m.layers[0].digest.to_string(), D2);
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let helm = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"{D1}","size":1}},"layers":[]}}"#
        );
        assert!(Manifest::parse(helm.as_bytes(), None, "x").unwrap_err().to_string().contains("not a container image"));
        let v1 = r#"{"schemaVersion":1,"name":"x"}"#;
        assert!(Manifest::parse(v1.as_bytes(), None, "x").unwrap_err().to_string().contains("schema 1"));
        assert!(Manifest::parse(b"{", None, "x").unwrap_err().to_string().contains("not valid JSON"));
    }
}
