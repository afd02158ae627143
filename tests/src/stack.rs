//! A compose stack under test: its own state root and run directory (so its
//! own daemon, started by the first `berth compose` command), its own network
//! prefix and address pool, an uplink guard, the busybox image in a registry
//! of its own, and a project directory. Dropping it takes the stack down,
//! stops its daemon (by PID) and removes every network object of its prefix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::berth::TestRoot;
use crate::images::{self, Compression};
use crate::net_host::UplinkGuard;
use crate::registry::Registry;

#[derive(Debug)]
pub struct Stack {
    pub root: TestRoot,
    pub registry: Registry,
    /// The busybox image's reference in the registry.
    pub image: String,
    _uplink: UplinkGuard,
}

impl Stack {
    /// `prefix`: short (≤ 6 characters), unique per test (links and nftables
    /// names); `k`: picks the address pool 10.(160+k).0.0/16, unique per test.
    pub fn new(prefix: &str, k: u8) -> Stack {
        let uplink = UplinkGuard::install(&format!("{prefix}guard"));
        let registry = Registry::start();
        let image = registry.reference("berth/busybox:latest");
        images::push(&images::busybox(Compression::Gzip), &image);
        let root = TestRoot::with_network(prefix, &format!("10.{}.0.0/16", 160 + u16::from(k)));
        std::fs::create_dir_all(root.scratch().join("project")).unwrap();
        Stack { root, registry, image, _uplink: uplink }
    }

    /// The project directory compose files are written to.
    pub fn dir(&self) -> PathBuf {
        self.root.scratch().join("project")
    }

    pub fn write(&self, name: &str, text: &str) {
        let path = self.dir().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `berth ARGS` in the project directory, with the stack's state, prefix,
    /// pool and no upstream DNS (forwarded queries go nowhere).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.root.command();
        command
            .args(args)
            .current_dir(self.dir())
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_PROFILES");
        command
    }

    pub fn berth(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("berth runs")
    }

    /// stdout of a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        crate::berth::succeeded(args, self.berth(args))
    }

    /// `compose ps -a --format json`, parsed.
    pub fn ps(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["compose", "ps", "-a", "--format", "json"])).unwrap()
    }

    /// `inspect CONTAINER`, parsed: its one document.
    pub fn inspect(&self, container: &str) -> serde_json::Value {
        let documents: serde_json::Value = serde_json::from_str(&self.ok(&["inspect", container])).unwrap();
        documents[0].clone()
    }

    /// The daemon's PID, when one runs for this stack.
    pub fn daemon_pid(&self) -> Option<i32> {
        self.root.daemon_pid()
    }

    /// Polls `done` every 50 ms until it holds, failing the test after `timeout`.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !done() {
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the daemon by PID: SIGTERM, then SIGKILL after 5 s.
    pub fn stop_daemon(&self) {
        self.root.stop_daemon();
    }

    /// Kills the daemon with SIGKILL, as a crash would.
    pub fn kill_daemon(&self) {
        if let Some(pid) = self.daemon_pid() {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // The stack first; then the root (its own Drop) removes every other
        // container, stops the daemon and removes the prefix's network objects.
        // No daemon ever ran (the test failed early): nothing to take down.
        if self.root.run_dir().join("daemon.log").exists() {
            let _ = self.berth(&["compose", "down", "-v", "-t", "1"]);
        }
    }
}
