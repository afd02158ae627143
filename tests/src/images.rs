//! Test images, built here from Debian packages (a busybox-static rootfs and
//! small extra layers), written as an OCI image layout and pushed to a test
//! registry with skopeo, an implementation independent of berth's own.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Manifest flavour: OCI, or Docker schema 2 (which has no zstd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Oci,
    Docker,
}

/// A layer: its tar, the blob as pushed, and their digests.
#[derive(Debug, Clone)]
pub struct Layer {
    pub tar: Vec<u8>,
    pub blob: Vec<u8>,
    pub digest: String,
    pub diff_id: String,
    pub compression: Compression,
}

impl Layer {
    pub fn from_tar(tar: Vec<u8>, compression: Compression) -> Layer {
        let blob = match compression {
            Compression::None => tar.clone(),
            Compression::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(&tar).unwrap();
                encoder.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(&tar[..], 3).unwrap(),
        };
        Layer { digest: sha256(&blob), diff_id: sha256(&tar), tar, blob, compression }
    }

    /// A layer of everything under `dir`, owned by root, with fixed times.
    pub fn from_dir(dir: &Path, compression: Compression) -> Layer {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        builder.follow_symlinks(false);
        builder.append_dir_all(".", dir).unwrap();
        Layer::from_tar(builder.into_inner().unwrap(), compression)
    }

    /// A layer of regular files (path, contents), mode 0644.
    pub fn files(files: &[(&str, &[u8])], compression: Compression) -> Layer {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            header.set_mtime(1_700_000_000);
            header.set_uid(0);
            header.set_gid(0);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        Layer::from_tar(builder.into_inner().unwrap(), compression)
    }

    pub fn media_type(&self, format: Format) -> &'static str {
        match (format, self.compression) {
            (Format::Oci, Compression::None) => "application/vnd.oci.image.layer.v1.tar",
            (Format::Oci, Compression::Gzip) => "application/vnd.oci.image.layer.v1.tar+gzip",
            (Format::Oci, Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
            (Format::Docker, Compression::None) => "application/vnd.docker.image.rootfs.diff.tar",
            (Format::Docker, _) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        }
    }
}

/// An image: config and manifest bytes and their layers.
#[derive(Debug, Clone)]
pub struct Image {
    pub layers: Vec<Layer>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub format: Format,
    pub os: String,
    pub architecture: String,
}

impl Image {
    /// An image for linux/amd64 that runs `sh` by default, with `labels` in its config.
    pub fn new(layers: Vec<Layer>, labels: &[(&str, &str)]) -> Image {
        Image::build(layers, labels, Format::Oci, "amd64")
    }

    pub fn build(layers: Vec<Layer>, labels: &[(&str, &str)], format: Format, architecture: &str) -> Image {
        let labels: serde_json::Map<String, Value> =
            labels.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
        let config = json!({
            "created": "2024-01-01T00:00:00Z",
            "architecture": architecture,
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"],
                "WorkingDir": "/",
                "Labels": labels,
            },
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
            "history": layers.iter().map(|_| json!({"created": "2024-01-01T00:00:00Z", "created_by": "berth-tests"})).collect::<Vec<_>>(),
        });
        let config = serde_json::to_vec(&config).unwrap();
        let (manifest_type, config_type) = match format {
            Format::Oci => (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json"),
            Format::Docker => (DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json"),
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": sha256(&config), "size": config.len()},
            "layers": layers.iter().map(|l| json!({
                "mediaType": l.media_type(format), "digest": l.digest, "size": l.blob.len()
            })).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec(&manifest).unwrap();
        Image { layers, config, manifest, format, os: "linux".into(), architecture: architecture.into() }
    }

    /// The image ID berth (and Docker) give it: the config digest.
    pub fn id(&self) -> String {
        sha256(&self.config)
    }

    pub fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    fn media_type(&self) -> &'static str {
        match self.format {
            Format::Oci => OCI_MANIFEST,
            Format::Docker => DOCKER_MANIFEST,
        }
    }
}

/// A tar whose entries are written raw, so paths the tar crate itself refuses can be made.
pub fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The busybox-static image: one layer with the rootfs of [`crate::rootfs::busybox`].
pub fn busybox(compression: Compression) -> Image {
    Image::new(vec![busybox_layer(compression)], &[("berth.test", "busybox")])
}

pub fn busybox_layer(compression: Compression) -> Layer {
    let dir = tempfile::tempdir().unwrap();
    crate::rootfs::busybox(dir.path()).expect("a busybox rootfs");
    Layer::from_dir(dir.path(), compression)
}

/// An OCI image layout directory, the source skopeo pushes from.
#[derive(Debug)]
pub struct Layout {
    dir: tempfile::TempDir,
    index: Vec<Value>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout::new()
    }
}

impl Layout {
    pub fn new() -> Layout {
        let dir = tempfile::Builder::new().prefix("berth-layout-").tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(dir.path().join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout { dir, index: Vec::new() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn blob(&self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let path = self.dir.path().join("blobs/sha256").join(digest.strip_prefix("sha256:").unwrap());
        std::fs::write(path, bytes).unwrap();
        digest
    }

    fn add_image_blobs(&self, image: &Image) {
        for layer in &image.layers {
            self.blob(&layer.blob);
        }
        self.blob(&image.config);
        self.blob(&image.manifest);
    }

    /// Adds an image under `tag`.
    pub fn add_image(&mut self, image: &Image, tag: &str) {
        self.add_image_blobs(image);
        self.index.push(json!({
            "mediaType": image.media_type(), "digest": image.digest(), "size": image.manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
        self.write_index();
    }

    /// Adds a multi-platform index of `images` under `tag`; returns the index's digest.
    pub fn add_index(&mut self, images: &[&Image], tag: &str) -> String {
        for image in images {
            self.add_image_blobs(image);
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": images.iter().map(|i| json!({
                "mediaType": i.media_type(), "digest": i.digest(), "size": i.manifest.len(),
                "platform": {"os": i.os, "architecture": i.architecture},
            })).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&index).unwrap();
        let digest = self.blob(&bytes);
        self.index.push(json!({
            "mediaType": OCI_INDEX, "digest": digest, "size": bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
        self.write_index();
        digest
    }

    fn write_index(&self) {
        let index = json!({"schemaVersion": 2, "manifests": self.index});
        std::fs::write(self.dir.path().join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }

    /// Pushes `tag` of this layout to `destination` (`127.0.0.1:PORT/name:tag`) with skopeo, digests unchanged.
    pub fn push(&self, tag: &str, destination: &str) {
        skopeo_copy(&format!("oci:{}:{tag}", self.dir.path().display()), destination, None);
    }
}

/// Pushes one image to `destination` with skopeo: from an OCI layout, or for
/// Docker schema 2 from skopeo's `dir:` layout (its OCI reader takes only OCI manifests).
pub fn push(image: &Image, destination: &str) {
    push_as(image, destination, None);
}

/// [`push`] to a registry that wants credentials (`user:password`).
pub fn push_with_credentials(image: &Image, destination: &str, credentials: &str) {
    push_as(image, destination, Some(credentials));
}

fn push_as(image: &Image, destination: &str, credentials: Option<&str>) {
    if image.format == Format::Oci {
        let mut layout = Layout::new();
        layout.add_image(image, "push");
        skopeo_copy(&format!("oci:{}:push", layout.path().display()), destination, credentials);
        return;
    }
    let dir = tempfile::Builder::new().prefix("berth-dir-").tempdir().unwrap();
    std::fs::write(dir.path().join("version"), "Directory Transport Version: 1.1\n").unwrap();
    std::fs::write(dir.path().join("manifest.json"), &image.manifest).unwrap();
    for blob in image.layers.iter().map(|l| &l.blob).chain([&image.config]) {
        std::fs::write(dir.path().join(sha256(blob).strip_prefix("sha256:").unwrap()), blob).unwrap();
    }
    skopeo_copy(&format!("dir:{}", dir.path().display()), destination, credentials);
}

fn skopeo_copy(source: &str, destination: &str, credentials: Option<&str>) {
    let mut command = Command::new("skopeo");
    command.args(["copy", "--all", "--preserve-digests", "--quiet", "--dest-tls-verify=false"]);
    if let Some(credentials) = credentials {
        command.args(["--dest-creds", credentials]);
    }
    let output = command
        .arg(source)
        .arg(format!("docker://{destination}"))
        .output()
        .expect("skopeo runs (Debian's skopeo; .ci/run installs it)");
    assert!(
        output.status.success(),
        "skopeo copy to {destination} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A registry of its own serving the busybox image, which `root` has pulled
/// and tagged `busybox`; then `root`'s daemon is started (so later commands do
/// not report starting it). The registry lives as long as the value returned.
pub fn busybox_in(root: &crate::berth::TestRoot) -> crate::registry::Registry {
    let registry = crate::registry::Registry::start();
    let reference = registry.reference("busybox:latest");
    push(&busybox(Compression::Gzip), &reference);
    root.ok(&["pull", "-q", &reference]);
    root.ok(&["tag", &reference, "busybox"]);
    root.start_daemon();
    registry
}
