//! The image store driven through its library API against a real registry:
//! what the CLI suite (images.rs) cannot see from outside — layer sharing,
//! reference counts, and recovery from a pull stopped half-way.

use berth_runtime::image::{ImageStore, PullOptions, Reference, Silent};
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
}
