//! `berth import` end to end (root): a busybox root file system tarball,
//! built here from Debian's busybox-static, becomes an image that runs, can
//! be pushed to and pulled back from a real registry; hostile tarballs are
//! refused and leave nothing behind.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use berth_tests::berth::TestRoot;
use berth_tests::images::{Compression, busybox_layer, raw_tar};
use berth_tests::registry::Registry;
use serde_json::Value;

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn write(root: &TestRoot, name: &str, bytes: &[u8]) -> String {
    let path = root.scratch().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// `berth ARGS` with `input` on standard input.
fn with_stdin(root: &TestRoot, args: &[&str], input: &[u8]) -> Output {
    let mut child =
        root.command().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn inspect(root: &TestRoot, image: &str) -> Value {
    let documents: Value = serde_json::from_str(&root.ok(&["image", "inspect", image])).unwrap();
    documents[0].clone()
}

#[test]
fn a_busybox_rootfs_imports_and_runs() {
    let root = TestRoot::new();
    let layer = busybox_layer(Compression::Gzip);
    let file = write(&root, "busybox.tar.gz", &layer.blob);
    let id = root.ok(&[
        "import",
        "--change",
        r#"CMD ["sh", "-c", "echo $GREETING from $(pwd)"]"#,
        "-c",
        "ENV GREETING=hello",
        "-c",
        "WORKDIR /tmp",
        "-m",
        "busybox from Debian",
        &file,
        "example/busybox:1",
    ]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "import prints the image ID: {id:?}");
    let listed = root.ok(&["images", "--format", "json"]);
    assert!(listed.contains("example/busybox") && listed.contains(&id[7..19]), "{listed}");

    let image = inspect(&root, "example/busybox:1");
    assert_eq!(image["Id"], id);
    assert_eq!(image["Comment"], "busybox from Debian");
    assert_eq!(image["RootFS"]["Layers"][0], layer.diff_id.as_str(), "the layer is the uncompressed tar");
    assert_eq!(image["Config"]["Cmd"][0], "sh");

    // The config reaches the container: its command, environment and working directory.
    assert_eq!(root.ok(&["run", "--rm", "example/busybox:1"]), "hello from /tmp\n");
    assert_eq!(root.ok(&["run", "--rm", "example/busybox:1", "echo", "hi"]), "hi\n");
    assert_eq!(root.ok(&["ps", "-aq"]), "", "--rm removed the containers");

    // From standard input, uncompressed, without a name: the image is known by its ID only.
    let output = with_stdin(&root, &["import", "-"], &layer.tar);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let unnamed = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_ne!(unnamed, id, "a new import is a new image");
    assert_eq!(inspect(&root, &unnamed)["Comment"], "Imported from -");
    assert_eq!(root.ok(&["run", "--rm", &unnamed, "cat", "/etc/group"]).lines().next(), Some("root:x:0:"));
    assert_eq!(entries(&root.root().join("layers")).len(), 1, "both images share the one unpacked layer");
}

#[test]
fn an_imported_image_pushes_and_pulls_back_like_any_other() {
    let registry = Registry::start();
    let root = TestRoot::new();
    let file = write(&root, "busybox.tar.zst", &busybox_layer(Compression::Zstd).blob);
    let id = root.ok(&["import", "-c", "CMD echo pulled", &file, "example/zstd"]).trim().to_owned();
    let remote = registry.reference("imported/busybox:1");
    root.ok(&["tag", "example/zstd", &remote]);
    root.ok(&["push", &remote]);

    let other = TestRoot::new();
    other.ok(&["pull", "-q", &remote]);
    assert_eq!(inspect(&other, &remote)["Id"], id.as_str(), "the same config digest after the round trip");
    assert_eq!(other.ok(&["run", "--rm", &remote]), "pulled\n");
}

#[test]
fn hostile_and_broken_tarballs_are_refused_and_nothing_is_kept() {
    let root = TestRoot::new();
    let unique = format!("berth-import-escape-{}", std::process::id());
    let outside = std::env::temp_dir().join(&unique);
    // Should berth ever write it, it goes again when the test ends, pass or fail.
    struct RemoveOnDrop(std::path::PathBuf);
    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _guard = RemoveOnDrop(outside.clone());
    let dots = format!("../../../../../../../..{}", outside.display());
    let absolute = outside.display().to_string();
    let through = format!("out/{unique}");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("dots.tar", raw_tar(&[(&dots, tar::EntryType::Regular, "", b"x")]), "its path contains '..'"),
        ("absolute.tar", raw_tar(&[(&absolute, tar::EntryType::Regular, "", b"x")]), "its path is absolute"),
        (
            "symlink.tar",
            raw_tar(&[("out", tar::EntryType::Symlink, "/tmp", b""), (&through, tar::EntryType::Regular, "", b"x")]),
            "unsafe layer entry",
        ),
        ("hardlink.tar", raw_tar(&[("passwd", tar::EntryType::Link, "../../../../etc/passwd", b"")]), "hard link"),
        ("empty.tar", Vec::new(), "the tarball is empty"),
        ("text.tar", b"this is not a tar archive\n".repeat(40), "not a valid tar archive"),
    ];
    for (name, bytes, expected) in cases {
        let file = write(&root, name, &bytes);
        let output = root.berth(&["import", &file, "example/hostile"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name} must be refused");
        assert!(stderr.contains(expected) && stderr.contains(name), "{name}: expected {expected:?} in {stderr}");
        assert!(!outside.exists(), "{name}: nothing was written outside the layer");
    }
    assert_eq!(root.ok(&["images", "-q"]), "");
    for dir in ["layers", "content/sha256", "tmp"] {
        assert!(entries(&root.root().join(dir)).is_empty(), "{dir} is empty");
    }

    let output = root.berth(&["import", "--change", "RUN rm -rf /", "x.tar"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("unknown instruction RUN"), "{stderr}");
}
