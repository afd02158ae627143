//! Loading and normalising a 300-service compose file with anchors, merge keys
//! and interpolation (bench/fixtures/compose-300.yaml). Target: under 20 ms.

use std::hint::black_box;
use std::path::PathBuf;

use berth::compose::{LoadOptions, load};
use criterion::{Criterion, criterion_group, criterion_main};

fn load_300_services(c: &mut Criterion) {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/fixtures");
    let options = LoadOptions {
        files: vec![fixtures.join("compose-300.yaml")],
        interpolate: true,
        env: [("HOME".to_string(), "/root".to_string())].into(),
        cwd: fixtures,
        ..Default::default()
    };
    c.bench_function("load compose-300.yaml", |b| {
        b.iter(|| black_box(load(black_box(&options)).expect("the fixture loads")))
    });
}

criterion_group!(benches, load_300_services);
criterion_main!(benches);
