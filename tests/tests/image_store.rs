//! The image store driven through its library API against a real registry:
//! what the CLI suite (images.rs) cannot see from outside — layer sharing,
//! reference counts, and recovery from a pull stopped half-way.

use std::collections::HashSet;

use berth_runtime::image::{Digest, ImageStore, PullOptions, Reference, Removed, Silent};
use berth_runtime::store::Root;
use berth_tests::images::{self, Compression, Image, Layer};
use berth_tests::registry::Registry;

struct Store {
    _dir: tempfile::TempDir,
    store: ImageStore,
}

fn store() -> Store {
    let dir = tempfile::Builder::new().prefix("berth-imgstore-").tempdir().unwrap();
    let root = Root::new(dir.path().join("root"), dir.path().join("run"));
    let store = ImageStore::open(&root).unwrap();
    Store { _dir: dir, store }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

fn pull(store: &ImageStore, reference: &str) -> berth_runtime::image::Pulled {
    let reference = Reference::parse(reference).unwrap();
    runtime().block_on(store.pull(&reference, &PullOptions::default(), &Silent)).unwrap()
}

#[test]
fn pulls_an_image_and_resolves_it() {
    let registry = Registry::start();
    let image = images::busybox(Compression::Gzip);
    images::push(&image, &registry.reference("busybox:1"));
    let s = store();
    let pulled = pull(&s.store, &registry.reference("busybox:1"));
    assert_eq!(pulled.id.to_string(), image.id());
    let resolved = s.store.resolve(&registry.reference("busybox:1")).unwrap();
    assert_eq!(resolved.id, image.id());
    assert_eq!(resolved.layer_dirs.len(), 1);
    assert!(resolved.layer_dirs[0].join("bin/busybox").is_file());
    assert_eq!(std::fs::read_link(resolved.layer_dirs[0].join("bin/sh")).unwrap(), std::path::Path::new("busybox"));
    let shared = Image::new(
        vec![image.layers[0].clone(), Layer::files(&[("etc/app.conf", b"x=1\n")], Compression::Gzip)],
        &[("berth.test", "app")],
    );
    images::push(&shared, &registry.reference("app:1"));
    let before = registry.blob_gets(&image.layers[0].digest);
    let app = pull(&s.store, &registry.reference("app:1"));
    assert_eq!(registry.blob_gets(&image.layers[0].digest), before, "the shared base layer is not fetched again");
    let app = s.store.image(&app.id).unwrap();
    assert_eq!(app.layer_dirs[0], resolved.layer_dirs[0]);

    // Reference counts: the base layer is used by both images, then by one, then by none.
    let base: Digest = image.layers[0].diff_id.parse().unwrap();
    assert_eq!(s.store.layer_references(&base).unwrap(), 2);
    let none = HashSet::new();
    s.store.remove(&registry.reference("app:1"), false, &none).unwrap();
    assert_eq!(s.store.layer_references(&base).unwrap(), 1);
    assert!(resolved.layer_dirs[0].is_dir());
    // An image a container uses is kept, and with -f only loses its names.
    let in_use: HashSet<String> = [image.id()].into_iter().collect();
    let err = s.store.remove(&registry.reference("busybox:1"), false, &in_use).unwrap_err();
    assert!(err.to_string().contains("used by a container"), "{err}");
    let done = s.store.remove(&registry.reference("busybox:1"), true, &in_use).unwrap();
    assert!(done.iter().all(|d| matches!(d, Removed::Untagged(_))), "{done:?}");
    assert!(resolved.layer_dirs[0].is_dir(), "the container's layers stay");
    assert_eq!(s.store.layer_references(&base).unwrap(), 1);
    // Once no container uses it, prune takes the dangling image and its layer.
    let report = s.store.prune(false, &none).unwrap();
    assert!(report.removed.contains(&Removed::Deleted(image.id().parse().unwrap())), "{report:?}");
    assert_eq!(s.store.layer_references(&base).unwrap(), 0);
    assert!(!resolved.layer_dirs[0].exists());
}
