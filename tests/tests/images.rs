//! The image commands end to end, as a user runs them: `berth pull`, `push`,
//! `images`, `tag`, `rmi`, `image inspect|prune`, `save`, `load`, `login`,
//! `logout`, against Debian's docker-registry on 127.0.0.1 with images built
//! from Debian packages and pushed by skopeo (an independent implementation).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_tests::berth::TestRoot;
use berth_tests::images::{self, Compression, Format, Image, Layer, Layout, raw_tar};
use berth_tests::registry::{Auth, Registry};
use serde_json::Value;

/// Names (files, directories) directly inside `dir`.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn layer_dir(root: &TestRoot, chain_id: &str) -> PathBuf {
    root.root().join("layers").join(chain_id.strip_prefix("sha256:").unwrap())
}

fn inspect(root: &TestRoot, name: &str) -> Value {
    let out: Value = serde_json::from_str(&root.ok(&["image", "inspect", name])).unwrap();
    out[0].clone()
}

/// Runs berth and returns (success, stdout, stderr).
fn run(root: &TestRoot, args: &[&str]) -> (bool, String, String) {
    let output = root.berth(args);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn fails_with(root: &TestRoot, args: &[&str], needle: &str) -> String {
    let (ok, stdout, stderr) = run(root, args);
    assert!(!ok, "berth {} should fail; stdout: {stdout}", args.join(" "));
    assert!(stderr.contains(needle), "berth {}: expected {needle:?} in stderr:\n{stderr}", args.join(" "));
    stderr
}

/// The chain ID of a one-layer image is its diff ID.
fn chain_of_first(image: &Image) -> String {
    image.layers[0].diff_id.clone()
}

#[test]
fn pull_stores_once_and_repull_downloads_nothing() {
    let registry = Registry::start();
    let image = images::busybox(Compression::Gzip);
    let name = registry.reference("busybox:1.0");
    images::push(&image, &name);
    let root = TestRoot::new();

    let out = root.ok(&["pull", &name]);
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    assert!(out.trim_end().ends_with(&name), "{out}");
    assert_eq!(registry.blob_gets(&image.layers[0].digest), 1);
    let layer = layer_dir(&root, &chain_of_first(&image));
    assert!(layer.join("bin/busybox").is_file(), "the layer is unpacked at its chain ID");

    let again = root.ok(&["pull", &name]);
    assert!(again.contains("Status: Image is up to date"), "{again}");
    assert!(again.contains("Already exists"), "{again}");
    assert_eq!(registry.blob_gets(&image.layers[0].digest), 1, "no layer is downloaded twice");

    let info = inspect(&root, &name);
    assert_eq!(info["Id"], image.id());
    assert_eq!(info["RepoTags"], serde_json::json!([name]));
    assert_eq!(info["RepoDigests"], serde_json::json!([format!("{}/busybox@{}", registry.address(), image.digest())]));
    assert_eq!(info["RootFS"]["Layers"], serde_json::json!([image.layers[0].diff_id]));
    assert_eq!(info["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(info["Config"]["Labels"]["berth.test"], "busybox");
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Os"], "linux");
    assert!(info["Size"].as_u64().unwrap() > 500_000, "busybox is most of a megabyte or more");

    let ids = root.ok(&["images", "-q"]);
    assert_eq!(ids.trim(), &image.id()[7..19]);
    let table = root.ok(&["images", "--digests"]);
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("REPOSITORY") && header.contains("DIGEST") && header.contains("IMAGE ID"), "{table}");
    assert!(table.contains(&image.digest()), "{table}");
    let json: Value = serde_json::from_str(root.ok(&["images", "--format", "json"]).lines().next().unwrap()).unwrap();
    assert_eq!(json["Repository"], registry.reference("busybox"));
    assert_eq!(json["Tag"], "1.0");
    assert_eq!(json["ID"], &image.id()[7..19]);
}

#[test]
fn the_shared_base_layer_is_fetched_and_unpacked_once() {
    let registry = Registry::start();
    let base = images::busybox(Compression::Gzip);
    let app = Image::new(
        vec![base.layers[0].clone(), Layer::files(&[("etc/app.conf", b"port=8080\n")], Compression::Gzip)],
        &[("berth.test", "app")],
    );
    images::push(&base, &registry.reference("base:1"));
    images::push(&app, &registry.reference("app:1"));
    let root = TestRoot::new();
    root.ok(&["pull", &registry.reference("base:1")]);
    let out = root.ok(&["pull", &registry.reference("app:1")]);
    assert!(out.contains("Already exists"), "{out}");
    assert_eq!(registry.blob_gets(&base.layers[0].digest), 1, "the base layer came once");
    assert_eq!(registry.blob_gets(&app.layers[1].digest), 1, "only the new layer was fetched");
    assert_eq!(entries(&root.root().join("layers")).len(), 2, "two layers unpacked for two images");

    // rmi frees only what no other image uses.
    let out = root.ok(&["rmi", &registry.reference("app:1")]);
    assert!(out.contains(&format!("Untagged: {}", registry.reference("app:1"))), "{out}");
    assert!(out.contains(&format!("Deleted: {}", app.id())), "{out}");
    let base_layer = layer_dir(&root, &chain_of_first(&base));
    assert!(base_layer.join("bin/busybox").is_file(), "the shared layer stays for the base image");
    assert_eq!(entries(&root.root().join("layers")), vec![chain_of_first(&base)[7..].to_owned()]);
    assert!(!root.root().join("content/sha256").join(&app.layers[1].digest[7..]).exists());
    root.ok(&["rmi", &registry.reference("base:1")]);
    assert!(entries(&root.root().join("layers")).is_empty(), "the last image took its layers");
    assert!(entries(&root.root().join("content/sha256")).is_empty(), "and its blobs");
    assert_eq!(root.ok(&["images", "-q"]), "");
}

#[test]
fn pull_by_digest_and_tag_and_rmi_rules() {
    let registry = Registry::start();
    let image = images::busybox(Compression::Gzip);
    images::push(&image, &registry.reference("busybox:1"));
    let root = TestRoot::new();
    let by_digest = format!("{}@{}", registry.reference("busybox"), image.digest());
    root.ok(&["pull", &by_digest]);
    let info = inspect(&root, &by_digest);
    assert_eq!(info["Id"], image.id());
    assert_eq!(info["RepoTags"], serde_json::json!([]), "a pull by digest adds no tag");

    root.ok(&["tag", &image.id()[7..19], "mine:v1"]);
    root.ok(&["tag", "mine:v1", "other/name:v2"]);
    let info = inspect(&root, "other/name:v2");
    assert_eq!(info["RepoTags"], serde_json::json!(["mine:v1", "other/name:v2"]));
    fails_with(&root, &["tag", "mine:v1", &format!("mine@{}", image.digest())], "cannot tag with a digest");
    fails_with(&root, &["tag", "nothere:1", "x:1"], "no such image: nothere:1");
    fails_with(&root, &["tag", "mine:v1", "UPPER:1"], "invalid reference");

    // By ID with names in several repositories: refused without -f.
    fails_with(&root, &["rmi", &image.id()], "referenced by");
    let out = root.ok(&["rmi", "mine:v1"]);
    assert_eq!(out.trim(), "Untagged: mine:v1", "another name is left, so only the name goes");
    let out = root.ok(&["rmi", "-f", &image.id()[7..19]]);
    assert!(out.contains(&format!("Deleted: {}", image.id())), "{out}");
    fails_with(&root, &["image", "inspect", "other/name:v2"], "no such image");
}

#[test]
fn zstd_uncompressed_and_docker_schema2_images_pull() {
    let registry = Registry::start();
    let zstd = Image::new(vec![images::busybox_layer(Compression::Zstd)], &[("v", "zstd")]);
    let plain = Image::new(vec![Layer::files(&[("hello", b"world")], Compression::None)], &[("v", "plain")]);
    let docker =
        Image::build(vec![images::busybox_layer(Compression::Gzip)], &[("v", "docker")], Format::Docker, "amd64");
    images::push(&zstd, &registry.reference("v:zstd"));
    images::push(&plain, &registry.reference("v:plain"));
    images::push(&docker, &registry.reference("v:docker"));
    let root = TestRoot::new();
    for (tag, image) in [("zstd", &zstd), ("plain", &plain), ("docker", &docker)] {
        root.ok(&["pull", &registry.reference(&format!("v:{tag}"))]);
        assert_eq!(inspect(&root, &registry.reference(&format!("v:{tag}")))["Id"], image.id());
    }
    assert!(layer_dir(&root, &chain_of_first(&zstd)).join("bin/busybox").is_file());
    assert_eq!(std::fs::read(layer_dir(&root, &chain_of_first(&plain)).join("hello")).unwrap(), b"world");
}

#[test]
fn a_multi_platform_index_gives_the_host_platform_or_the_one_asked_for() {
    let registry = Registry::start();
    let amd64 = Image::build(vec![Layer::files(&[("arch", b"amd64")], Compression::Gzip)], &[], Format::Oci, "amd64");
    let arm64 = Image::build(vec![Layer::files(&[("arch", b"arm64")], Compression::Gzip)], &[], Format::Oci, "arm64");
    let mut layout = Layout::new();
    let index = layout.add_index(&[&amd64, &arm64], "multi");
    layout.push("multi", &registry.reference("multi:1"));
    let mut only_arm = Layout::new();
    only_arm.add_index(&[&arm64], "arm");
    only_arm.push("arm", &registry.reference("armonly:1"));

    let root = TestRoot::new();
    root.ok(&["pull", &registry.reference("multi:1")]);
    let info = inspect(&root, &registry.reference("multi:1"));
    assert_eq!(info["Id"], amd64.id());
    assert_eq!(info["RepoDigests"], serde_json::json!([format!("{}@{index}", registry.reference("multi"))]));
    assert_eq!(registry.blob_gets(&arm64.layers[0].digest), 0, "the other platform's layers are not fetched");

    let stderr = fails_with(&root, &["pull", &registry.reference("armonly:1")], "no image for platform linux/amd64");
    assert!(stderr.contains("linux/arm64"), "the error lists what there is: {stderr}");
    root.ok(&["pull", "--platform", "linux/arm64", &registry.reference("armonly:1")]);
    assert_eq!(inspect(&root, &registry.reference("armonly:1"))["Architecture"], "arm64");
    fails_with(&root, &["pull", "--platform", "linux", &registry.reference("armonly:1")], "invalid platform");
}

#[test]
fn push_then_pull_back_gives_identical_digests() {
    let source = Registry::start();
    let target = Registry::start();
    let image = Image::new(
        vec![images::busybox_layer(Compression::Gzip), Layer::files(&[("etc/x", b"x")], Compression::Zstd)],
        &[("berth.test", "push")],
    );
    images::push(&image, &source.reference("app:1"));
    let root = TestRoot::new();
    root.ok(&["pull", &source.reference("app:1")]);
    root.ok(&["tag", &source.reference("app:1"), &target.reference("copy:2")]);
    let out = root.ok(&["push", &target.reference("copy:2")]);
    assert!(out.contains(&format!("2: digest: {} size: {}", image.digest(), image.manifest.len())), "{out}");
    // Pushing again sends no blob.
    let out = root.ok(&["push", &target.reference("copy:2")]);
    assert!(out.contains("Layer already exists"), "{out}");

    // skopeo reads back exactly the manifest that was pulled.
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}", target.reference("copy:2")))
        .output()
        .unwrap();
    assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
    assert_eq!(raw.stdout, image.manifest);

    let fresh = TestRoot::new();
    fresh.ok(&["pull", &target.reference("copy:2")]);
    let info = inspect(&fresh, &target.reference("copy:2"));
    assert_eq!(info["Id"], image.id());
    assert_eq!(info["RepoDigests"], serde_json::json!([format!("{}@{}", target.reference("copy"), image.digest())]));
    fails_with(&root, &["push", &target.reference("never:1")], "no such image");
}

#[test]
fn save_and_load_round_trip() {
    let registry = Registry::start();
    let image = images::busybox(Compression::Gzip);
    images::push(&image, &registry.reference("busybox:1"));
    let root = TestRoot::new();
    root.ok(&["pull", &registry.reference("busybox:1")]);
    root.ok(&["tag", &registry.reference("busybox:1"), "saved:v1"]);
    let archive = root.scratch().join("images.tar");
    root.ok(&["save", "-o", archive.to_str().unwrap(), "saved:v1"]);

    // An independent reader accepts both forms in the archive.
    for transport in [format!("oci-archive:{}:v1", archive.display()), format!("docker-archive:{}", archive.display())]
    {
        let out = std::process::Command::new("skopeo").args(["inspect", "--raw"]).arg(&transport).output().unwrap();
        assert!(out.status.success(), "skopeo inspect {transport}: {}", String::from_utf8_lossy(&out.stderr));
    }

    let fresh = TestRoot::new();
    let out = fresh.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: saved:v1");
    let info = inspect(&fresh, "saved:v1");
    assert_eq!(info["Id"], image.id());
    assert!(layer_dir(&fresh, &chain_of_first(&image)).join("bin/busybox").is_file());
    // The loaded image pushes with the original digest: the blobs travelled unchanged.
    fresh.ok(&["tag", "saved:v1", &registry.reference("again:1")]);
    let out = fresh.ok(&["push", &registry.reference("again:1")]);
    assert!(out.contains(&image.digest()), "{out}");

    // Loading from standard input works too; a broken archive changes nothing.
    let other = TestRoot::new();
    let output = other
        .command()
        .arg("load")
        .stdin(std::fs::File::open(&archive).unwrap())
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(output.status.success());
    let broken = root.scratch().join("broken.tar");
    std::fs::write(&broken, &std::fs::read(&archive).unwrap()[..3000]).unwrap();
    let empty = TestRoot::new();
    let (ok, _, _) = run(&empty, &["load", "-i", broken.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(empty.ok(&["images", "-q"]), "");
    fails_with(&empty, &["load", "-i", "/nonexistent.tar"], "/nonexistent.tar");
}

#[test]
fn a_corrupted_blob_in_the_registry_is_refused_and_nothing_is_kept() {
    let registry = Registry::start();
    let image = images::busybox(Compression::Gzip);
    images::push(&image, &registry.reference("busybox:1"));
    // Same length, different bytes: only the digest can tell.
    let blob = registry.blob_path(&image.layers[0].digest);
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let root = TestRoot::new();
    let stderr = fails_with(&root, &["pull", &registry.reference("busybox:1")], "has digest");
    assert!(stderr.contains(&image.layers[0].digest), "{stderr}");
    assert_nothing_kept(&root);
}

#[test]
fn a_truncated_blob_is_refused() {
    let registry = Registry::start();
    let image = images::busybox(Compression::Gzip);
    images::push(&image, &registry.reference("busybox:1"));
    let blob = registry.blob_path(&image.layers[0].digest);
    let bytes = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &bytes[..bytes.len() / 3]).unwrap();
    let root = TestRoot::new();
    fails_with(&root, &["pull", &registry.reference("busybox:1")], "expected");
    assert_nothing_kept(&root);
}

fn assert_nothing_kept(root: &TestRoot) {
    assert_eq!(root.ok(&["images", "-q"]), "");
    assert!(entries(&root.root().join("layers")).is_empty(), "no layer was kept");
    assert!(entries(&root.root().join("tmp")).is_empty(), "no temp file was left");
    // Only nothing, or the manifest and config (which were verified), may be in the content store.
    assert!(entries(&root.root().join("content/sha256")).len() <= 2);
}

#[test]
fn unknown_tags_and_unreachable_registries_fail_clearly() {
    let registry = Registry::start();
    let root = TestRoot::new();
    let stderr = fails_with(&root, &["pull", &registry.reference("nothing:here")], "not found");
    assert!(stderr.contains("nothing:here"), "{stderr}");
    fails_with(&root, &["pull", "Bad:Ref"], "invalid reference");

    let port = berth_tests::registry::free_port();
    let started = Instant::now();
    let mut child = root
        .command()
        .args(["pull", &format!("127.0.0.1:{port}/x:1")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A bound, not a speed test: berth must give up on its own.
    let limit = Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("berth pull from a closed port did not give up within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(stderr.contains(&format!("cannot reach registry 127.0.0.1:{port}")), "{stderr}");
}

/// Builds an image whose one layer is the hand-made tar `tar`, pushes and pulls it.
fn pull_hostile(tar: Vec<u8>, tag: &str) -> (TestRoot, String) {
    let registry = Registry::start();
    let image = Image::new(vec![Layer::from_tar(tar, Compression::Gzip)], &[]);
    images::push(&image, &registry.reference(tag));
    let root = TestRoot::new();
    let (ok, _, stderr) = run(&root, &["pull", &registry.reference(tag)]);
    assert!(!ok, "a hostile layer must be refused");
    assert!(stderr.contains("unsafe layer entry"), "{stderr}");
    assert_eq!(root.ok(&["images", "-q"]), "");
    assert!(entries(&root.root().join("layers")).is_empty());
    (root, stderr)
}

#[test]
fn layers_that_try_to_escape_are_refused() {
    let unique = format!("berth-escape-{}", std::process::id());
    let outside = std::env::temp_dir().join(&unique);
    // Should berth ever write it, it goes again when the test ends, pass or fail.
    struct RemoveOnDrop(PathBuf);
    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _guard = RemoveOnDrop(outside.clone());
    let dots = format!("../../../../../../../../tmp/{unique}");
    let (root, _) = pull_hostile(raw_tar(&[(&dots, tar::EntryType::Regular, "", b"x")]), "dots:1");
    assert!(!outside.exists());
    assert!(!root.root().join(&unique).exists() && !root.root().join("tmp").join(&unique).exists());

    let absolute = format!("/tmp/{unique}");
    pull_hostile(raw_tar(&[(&absolute, tar::EntryType::Regular, "", b"x")]), "abs:1");
    assert!(!outside.exists());

    let through = format!("out/{unique}");
    pull_hostile(
        raw_tar(&[("out", tar::EntryType::Symlink, "/tmp", b""), (&through, tar::EntryType::Regular, "", b"x")]),
        "symlink:1",
    );
    assert!(!outside.exists());

    pull_hostile(raw_tar(&[("passwd", tar::EntryType::Link, "../../../../etc/passwd", b"")]), "hardlink:1");
}

#[test]
fn basic_auth_login_pull_and_logout() {
    let registry = Registry::start_with(Auth::Htpasswd { user: "alice".into(), password: "s3cret".into() });
    let image = images::busybox(Compression::Gzip);
    // skopeo pushes with its own credentials.
    images::push_with_credentials(&image, &registry.reference("private:1"), "alice:s3cret");
    auth_flow(&registry, &image);
}

#[test]
fn token_auth_login_pull_push_and_logout() {
    let registry = Registry::start_with(Auth::Token { user: "bob".into(), password: "t0ken-pw".into() });
    let image = images::busybox(Compression::Gzip);
    images::push_with_credentials(&image, &registry.reference("private:1"), "bob:t0ken-pw");
    let root = auth_flow_user(&registry, &image, "bob", "t0ken-pw");
    assert!(registry.token_requests() > 0, "the bearer token flow was used");
    // The password can come on standard input.
    let mut child = root
        .command()
        .args(["login", &registry.address(), "-u", "bob", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"t0ken-pw\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("Login Succeeded"));
    root.ok(&["pull", &registry.reference("private:1")]);
}

fn auth_flow(registry: &Registry, image: &Image) {
    auth_flow_user(registry, image, "alice", "s3cret");
}

fn auth_flow_user(registry: &Registry, image: &Image, user: &str, password: &str) -> TestRoot {
    let root = TestRoot::new();
    let name = registry.reference("private:1");
    fails_with(&root, &["pull", &name], "requires authentication");
    fails_with(&root, &["login", &registry.address(), "-u", user, "-p", "wrong"], "login to");
    assert!(!root.scratch().join(".docker/config.json").exists(), "a failed login writes nothing");
    let out = root.ok(&["login", &registry.address(), "-u", user, "-p", password]);
    assert!(out.contains("Login Succeeded"), "{out}");
    let config: Value =
        serde_json::from_slice(&std::fs::read(root.scratch().join(".docker/config.json")).unwrap()).unwrap();
    assert!(config["auths"][registry.address()]["auth"].is_string(), "{config}");
    root.ok(&["pull", &name]);
    assert_eq!(inspect(&root, &name)["Id"], image.id());
    root.ok(&["tag", &name, &registry.reference("pushed:1")]);
    root.ok(&["push", &registry.reference("pushed:1")]);
    let out = root.ok(&["logout", &registry.address()]);
    assert!(out.contains("Removing login credentials"), "{out}");
    let config: Value =
        serde_json::from_slice(&std::fs::read(root.scratch().join(".docker/config.json")).unwrap()).unwrap();
    assert!(config["auths"].get(registry.address()).is_none(), "{config}");
    root.ok(&["rmi", &name]);
    fails_with(&root, &["pull", &name], "requires authentication");
    root
}

#[test]
fn a_credential_helper_supplies_the_password() {
    let registry = Registry::start_with(Auth::Htpasswd { user: "carol".into(), password: "helper-pw".into() });
    let image = images::busybox(Compression::Gzip);
    images::push_with_credentials(&image, &registry.reference("private:1"), "carol:helper-pw");
    let root = TestRoot::new();
    // A docker-credential-* helper on PATH, speaking the helper protocol on stdin/stdout.
    let bin = root.scratch().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-berthtest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\ncase \"$1\" in get) printf '{\"ServerURL\":\"%s\",\"Username\":\"carol\",\"Secret\":\"helper-pw\"}' \"$server\";; *) exit 1;; esac\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.scratch().join(".docker")).unwrap();
    std::fs::write(
        root.scratch().join(".docker/config.json"),
        format!(r#"{{"credHelpers": {{"{}": "berthtest"}}}}"#, registry.address()),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let output = root.command().env("PATH", path).args(["pull", &registry.reference("private:1")]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(inspect(&root, &registry.reference("private:1"))["Id"], image.id());
}

#[test]
fn a_pull_killed_half_way_leaves_a_consistent_store_and_a_rerun_finishes() {
    let registry = Registry::start();
    // A big, incompressible layer so the pull is still running when it is killed.
    let mut noise = vec![0u8; 48 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in noise.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    let big = Layer::files(&[("noise.bin", &noise)], Compression::None);
    let image = Image::new(vec![images::busybox_layer(Compression::Gzip), big], &[("berth.test", "big")]);
    images::push(&image, &registry.reference("big:1"));
    let root = TestRoot::new();
    let mut child = root
        .command()
        .args(["pull", &registry.reference("big:1")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (by PID) once unpacking has started, or give up waiting after a bound.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy = entries(&root.root().join("tmp")).iter().any(|e| e.starts_with("layer-"));
        if busy || Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    child.wait().unwrap();
    // Whatever was left, no half-made image and no half layer is visible.
    let listed = root.ok(&["images", "-q"]);
    assert!(listed.is_empty() || listed.trim() == &image.id()[7..19], "{listed}");
    let top = images::sha256(format!("{} {}", image.layers[0].diff_id, image.layers[1].diff_id).as_bytes());
    for layer in entries(&root.root().join("layers")) {
        let known = image.layers[0].diff_id.ends_with(&layer) || top.ends_with(&layer);
        assert!(known, "only layers of the image are in layers/: {layer}");
        // Complete ones: the big file is whole wherever it is present.
        let noise = root.root().join("layers").join(&layer).join("noise.bin");
        assert!(!noise.exists() || std::fs::metadata(&noise).unwrap().len() == 48 << 20);
    }
    let out = root.ok(&["pull", &registry.reference("big:1")]);
    assert!(out.contains("Status:"), "{out}");
    let info = inspect(&root, &registry.reference("big:1"));
    assert_eq!(info["Id"], image.id());
    let top = images::sha256(format!("{} {}", image.layers[0].diff_id, image.layers[1].diff_id).as_bytes());
    assert_eq!(std::fs::metadata(layer_dir(&root, &top).join("noise.bin")).unwrap().len(), 48 << 20);
    // prune clears what the killed process left in tmp/.
    root.ok(&["image", "prune", "-f"]);
    assert!(entries(&root.root().join("tmp")).is_empty(), "{:?}", entries(&root.root().join("tmp")));
}

#[test]
fn a_moved_tag_leaves_a_dangling_image_that_prune_removes() {
    let registry = Registry::start();
    let first = Image::new(vec![Layer::files(&[("v", b"1")], Compression::Gzip)], &[("v", "1")]);
    let second = Image::new(vec![Layer::files(&[("v", b"2")], Compression::Gzip)], &[("v", "2")]);
    let name = registry.reference("moving:latest");
    images::push(&first, &name);
    let root = TestRoot::new();
    root.ok(&["pull", &name]);
    images::push(&second, &name);
    let out = root.ok(&["pull", &name]);
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let table = root.ok(&["images"]);
    assert_eq!(table.lines().count(), 3, "{table}");
    // The old image keeps only its digest name, so it shows without a tag.
    assert!(table.lines().any(|l| l.contains("<none>") && l.contains(&first.id()[7..19])), "{table}");

    let out = root.ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {}", first.id())), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(root.ok(&["images", "-q"]).trim(), &second.id()[7..19]);
    let out = root.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains(&format!("deleted: {}", second.id())), "{out}");
    assert_eq!(root.ok(&["images", "-q"]), "");
    assert!(entries(&root.root().join("layers")).is_empty());
    assert!(entries(&root.root().join("content/sha256")).is_empty());
}

#[test]
fn a_download_cut_off_half_way_is_retried() {
    let registry = Registry::start();
    let image = images::busybox(Compression::Gzip);
    images::push(&image, &registry.reference("busybox:1"));
    // The first answer for the layer blob stops after 64 kB: a connection lost mid-download.
    let proxy = berth_tests::proxy::CuttingProxy::start(
        registry.socket_addr(),
        &format!("/blobs/{}", image.layers[0].digest),
        64 * 1024,
    );
    let root = TestRoot::new();
    let out = root.ok(&["pull", &format!("{}/busybox:1", proxy.address())]);
    assert!(out.contains("Retrying"), "{out}");
    assert_eq!(registry.blob_gets(&image.layers[0].digest), 2, "one cut-off download and one whole one");
    let info = inspect(&root, &format!("{}/busybox:1", proxy.address()));
    assert_eq!(info["Id"], image.id());
    assert!(entries(&root.root().join("tmp")).is_empty(), "the broken attempt left nothing behind");
}
