//! The quickstart stack (examples/quickstart) as a user runs it (root): its
//! images built by its own build-images.sh from Debian packages and `berth
//! import`ed, then `compose up -d --wait`, two visits counted by redis, the
//! count kept across `down`/`up` by the named volume, and `down -v`. The
//! stack's network prefix, address pool and DNS upstreams are the test's own
//! (the Stack harness), and its port is a free one instead of 8080.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_tests::berth::{berth_bin, succeeded};
use berth_tests::registry::free_port;
use berth_tests::stack::Stack;
use serde_json::Value;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart")
}

/// Copies the example's files (modes kept: the CGI script is executable) into `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The example as a user has it, with its images built by its own script into the stack's root.
fn quickstart() -> Stack {
    let stack = Stack::new("qs1", 31);
    for name in ["compose.yaml", ".env", "www"] {
        let from = example().join(name);
        if from.is_dir() {
            copy_tree(&from, &stack.dir().join(name));
        } else {
            std::fs::copy(&from, stack.dir().join(name)).unwrap();
        }
    }
    let output = Command::new(example().join("build-images.sh"))
        .env("BERTH", berth_bin())
        .env("BERTH_ROOT", stack.root.root())
        .env("BERTH_RUN", stack.root.run_dir())
        .env("TMPDIR", stack.root.scratch())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "build-images.sh failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    stack
}

/// `berth ARGS` in the project, with the test's port; stdout, failing the test if it fails.
fn berth(stack: &Stack, port: u16, args: &[&str]) -> String {
    succeeded(args, stack.command(args).env("WEB_PORT", port.to_string()).output().unwrap())
}

fn ps(stack: &Stack, port: u16) -> Vec<Value> {
    serde_json::from_str(&berth(stack, port, &["compose", "ps", "-a", "--format", "json"])).unwrap()
}

/// An HTTP GET on 127.0.0.1:`port`, as curl does it: the status line and the body.
/// `up --wait` returns once the web container runs (it has no healthcheck),
/// which can be a moment before its httpd listens: refused connections are
/// tried again for a while.
fn get(port: u16, path: &str) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("GET {path} on port {port}: {e}"),
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

fn visit(port: u16) -> String {
    let (status, body) = get(port, "/cgi-bin/hits");
    assert!(status.contains(" 200"), "{status}\n{body}");
    body
}

#[test]
fn the_quickstart_stack_counts_visits_and_keeps_the_count_across_down_and_up() {
    let stack = quickstart();
    let port = free_port();
    berth(&stack, port, &["compose", "up", "-d", "--wait"]);
    let containers = ps(&stack, port);
    let service = |name: &str| containers.iter().find(|c| c["Service"] == name).cloned().unwrap();
    assert_eq!(service("cache")["State"], "running", "{containers:#?}");
    assert_eq!(service("cache")["Health"], "healthy", "--wait returned once the cache was healthy");
    assert_eq!(service("web")["State"], "running", "{containers:#?}");
    assert_eq!(service("web")["Publishers"][0], format!("127.0.0.1:{port}->8080/tcp"));

    // GREETING comes from .env, through the container's environment to the CGI script.
    assert_eq!(visit(port), "hello from berth - visit number 1\n");
    assert_eq!(visit(port), "hello from berth - visit number 2\n");
    let (status, page) = get(port, "/");
    assert!(status.contains(" 200") && page.contains("berth quickstart"), "{status}\n{page}");

    berth(&stack, port, &["compose", "down"]);
    assert!(ps(&stack, port).is_empty());
    let volume = stack.root.root().join("volumes/quickstart_cache-data");
    assert!(volume.exists(), "down keeps the named volume");

    berth(&stack, port, &["compose", "up", "-d", "--wait"]);
    assert_eq!(visit(port), "hello from berth - visit number 3\n", "the count survived down/up in the volume");

    berth(&stack, port, &["compose", "down", "-v"]);
    assert!(ps(&stack, port).is_empty());
    assert!(!volume.exists(), "down -v removes the volume");
    let networks = berth(&stack, port, &["network", "ls"]);
    assert!(!networks.contains("quickstart_default"), "{networks}");
}
