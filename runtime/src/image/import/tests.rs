//! `import` on tarballs built here: plain, gzip, zstd, with changes, and hostile or broken ones.

use std::io::Write;
use std::path::Path;

use super::*;
use crate::image::unpack::tests::Tar;
use crate::store::Root;

fn store() -> (tempfile::TempDir, ImageStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&Root::new(dir.path().join("root"), dir.path().join("run"))).unwrap();
    (dir, store)
}

fn rootfs() -> Vec<u8> {
    Tar::new().dir("./").dir("./etc/").file("./etc/hostname", b"imported\n").symlink("./bin", "usr/bin").bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn options(reference: &str, changes: &[&str]) -> ImportOptions {
    ImportOptions {
        changes: changes.iter().map(|c| c.parse().unwrap()).collect(),
        message: None,
        source: "-".into(),
        reference: Some(Reference::parse(reference).unwrap()),
    }
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn every_compression_imports_to_the_same_layer() {
    let (_dir, store) = store();
    let plain = rootfs();
    let blobs = [
        (plain.clone(), "application/vnd.oci.image.layer.v1.tar"),
        (gzip(&plain), "application/vnd.oci.image.layer.v1.tar+gzip"),
        (zstd::encode_all(&plain[..], 3).unwrap(), "application/vnd.oci.image.layer.v1.tar+zstd"),
    ];
    let mut ids = Vec::new();
    for (i, (blob, media_type)) in blobs.iter().enumerate() {
        let imported = store.import(&blob[..], &options(&format!("example/rootfs:{i}"), &[])).unwrap();
        assert_eq!(imported.diff_id, Digest::of(&plain));
        let image = store.resolve(&format!("example/rootfs:{i}")).unwrap();
        assert_eq!(image.id, imported.id.to_string());
        assert_eq!(image.layer_dirs.len(), 1);
        assert_eq!(std::fs::read(image.layer_dirs[0].join("etc/hostname")).unwrap(), b"imported\n");
        assert_eq!(std::fs::read_link(image.layer_dirs[0].join("bin")).unwrap(), Path::new("usr/bin"));
        // The blob is kept as given, digest-checked, and the manifest names it.
        let manifest = store.local_manifest(&imported.id).unwrap();
        assert_eq!(manifest.layers[0].digest, Digest::of(blob));
        assert_eq!(manifest.layers[0].media_type, *media_type);
        assert_eq!(store.content().read(&manifest.layers[0].digest).unwrap(), *blob);
        ids.push(imported.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "each import is a new image (its config records when it was made)");
    let chain = Digest::of(&plain);
    assert_eq!(store.layer_references(&chain).unwrap(), 3, "one layer, unpacked once, shared by the three");
    assert_eq!(entries(&store.root().layers()), 1);
    assert_eq!(entries(&store.root().tmp()), 0, "no temp file or directory is left");
}

#[test]
fn changes_and_message_go_into_the_config() {
    let (_dir, store) = store();
    let mut options = options(
        "example/app",
        &[r#"CMD ["sh"]"#, "ENV GREETING=hi PATH=/bin", "WORKDIR /srv", "USER 1000", "EXPOSE 8080", "LABEL a=b"],
    );
    options.message = Some("from a test".into());
    let imported = store.import(&rootfs()[..], &options).unwrap();
    let image = store.resolve("example/app:latest").unwrap();
    assert_eq!(image.id, imported.id.to_string());
    let config = image.config.config().clone().expect("a config");
    assert_eq!(config.cmd().clone().unwrap(), ["sh"]);
    assert_eq!(config.env().clone().unwrap(), ["GREETING=hi", "PATH=/bin"]);
    assert_eq!(config.working_dir().clone().unwrap(), "/srv");
    assert_eq!(config.user().clone().unwrap(), "1000");
    assert_eq!(config.exposed_ports().clone().unwrap(), ["8080/tcp"]);
    assert_eq!(config.labels().clone().unwrap()["a"], "b");
    assert_eq!(image.config.rootfs().diff_ids(), &[imported.diff_id.to_string()]);
    let inspect = store.inspect("example/app").unwrap();
    assert_eq!(inspect["Comment"], "from a test");
    assert_eq!(inspect["Os"], "linux");

    let unnamed = store.import(&rootfs()[..], &ImportOptions { source: "rootfs.tar".into(), ..Default::default() });
    let inspect = store.inspect(&unnamed.unwrap().id.to_string()).unwrap();
    assert_eq!(inspect["Comment"], "Imported from rootfs.tar");
    assert_eq!(inspect["RepoTags"], json!([]));
}

/// A failed import leaves no image, no layer, no blob and no temp file.
fn assert_refused(store: &ImageStore, input: &[u8], needle: &str) {
    let error = store.import(input, &options("example/bad", &[])).expect_err("refused").to_string();
    assert!(error.contains(needle), "expected {needle:?} in: {error}");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(entries(&store.root().layers()), 0);
    assert_eq!(entries(&store.root().content()), 0);
    assert_eq!(entries(&store.root().tmp()), 0);
}

#[test]
fn hostile_and_broken_tarballs_are_refused_and_nothing_is_kept() {
    let (dir, store) = store();
    let outside = dir.path().join("escaped");
    let dots = format!("../../../../../../..{}", outside.display());
    assert_refused(&store, &Tar::new().file(&dots, b"x").bytes(), "its path contains '..'");
    let absolute = outside.display().to_string();
    assert_refused(&store, &gzip(&Tar::new().file(&absolute, b"x").bytes()), "its path is absolute");
    let out = dir.path().display().to_string();
    assert_refused(&store, &Tar::new().symlink("out", &out).file("out/escaped", b"x").bytes(), "unsafe layer entry");
    assert_refused(&store, &Tar::new().link("passwd", "../../etc/passwd").bytes(), "hard link");
    assert!(!outside.exists(), "nothing was written outside the layer");

    assert_refused(&store, b"", "the tarball is empty");
    assert_refused(&store, &[b'x'; 700], "not a valid tar archive");
    let whole = gzip(&rootfs());
    assert_refused(&store, &whole[..whole.len() / 2], "not a valid tar archive");
}

#[test]
fn a_digest_is_not_a_name_to_import_as() {
    let (_dir, store) = store();
    let reference = format!("example/x@{}", Digest::of(b"x"));
    let error = store.import(&rootfs()[..], &options(&reference, &[])).unwrap_err().to_string();
    assert!(error.contains("a digest names content"), "{error}");
    assert_eq!(entries(&store.root().content()), 0);
}
