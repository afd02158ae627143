//! Running the `berth` binary against a state root of the test's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_network::{DnsLauncher, NetworkConfig, NetworkManager};

/// The `berth` binary of this build: `target/<profile>/berth`, next to the
/// `deps/` directory the test executable runs from. `cargo build --workspace`
/// (or `-p berth`) builds it; `cargo test` does not build another package's binary.
pub fn berth_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("test executables live in target/<profile>/deps");
    let bin = profile_dir.join("berth");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build --workspace`), then run the suites",
        bin.display()
    );
    bin
}

/// A fresh `--root` and run directory with a network prefix and address pool
/// of its own (so its own daemon, started by the first command that needs it,
/// and its own bridges). Dropping it removes every container of the root,
/// stops the daemon (by PID), removes every network object of the prefix and
/// then the directories.
#[derive(Debug)]
pub struct TestRoot {
    dir: tempfile::TempDir,
    prefix: String,
    pool: String,
    pool6: String,
}

/// Numbers the roots of one test process: prefixes and pools differ between
/// the tests of a suite, which run in parallel (suites run one after another).
static NEXT_ROOT: AtomicU32 = AtomicU32::new(0);

impl TestRoot {
    /// A root with a generated prefix (`bt<n>`) and pool (10.(110+n).0.0/16).
    pub fn new() -> Self {
        let n = NEXT_ROOT.fetch_add(1, Ordering::Relaxed) % 40;
        TestRoot::with_network(&format!("bt{n}"), &format!("10.{}.0.0/16", 110 + n))
    }

    /// `prefix`: short (≤ 6 characters; link and nftables names); `pool`: a
    /// /16 no other test uses, 10.B.0.0/16 (the IPv6 pool is fd91:B::/48).
    pub fn with_network(prefix: &str, pool: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("berth-test-").tempdir().expect("a temp dir");
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        let pool4: std::net::Ipv4Addr = pool.split('/').next().and_then(|ip| ip.parse().ok()).expect("an IPv4 CIDR");
        let pool6 = format!("fd91:{}::/48", pool4.octets()[1]);
        TestRoot { dir, prefix: prefix.to_owned(), pool: pool.to_owned(), pool6 }
    }

    /// The IPv6 pool of this root's networks created with `--ipv6`.
    pub fn pool6(&self) -> &str {
        &self.pool6
    }

    /// The network prefix of this root's bridges, veths and nftables table.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Starts this root's daemon (`berth version`), so that later commands do
    /// not say on stderr that they started one.
    pub fn start_daemon(&self) {
        self.ok(&["version"]);
    }

    /// Starts `berth daemon ARGS` for this root detached (as the CLI starts
    /// one: not a child of the test, its output in `daemon.log`), and waits
    /// (bounded) until it answers on its socket.
    pub fn spawn_daemon(&self, args: &[&str]) {
        let log = self.run_dir().join("daemon.log");
        // `sh` leaves the daemon to be adopted when it exits, as the CLI's start does.
        let status = self
            .with_env(&mut Command::new("sh"))
            .arg("-c")
            .arg(r#"log="$1"; shift; "$@" </dev/null >>"$log" 2>&1 &"#)
            .arg("sh")
            .arg(&log)
            .arg(berth_bin())
            .arg("daemon")
            .args(args)
            .status()
            .expect("sh runs");
        assert!(status.success(), "cannot start berth daemon {args:?}");
        let socket = self.run_dir().join("berth.sock");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "berth daemon {args:?} did not listen on {} within 20 s:\n{}",
                socket.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that nothing of the containers `ids` (full or short IDs) is left:
    /// no mount under the root or run directory, no monitor or other helper
    /// running with this root, no cgroup, no container directory.
    pub fn assert_no_container_leftovers(&self, ids: &[String]) {
        let (root, run) = (self.root().display().to_string(), self.run_dir().display().to_string());
        // The daemon frees a `run --rm` container's namespace once it has seen it end: allow it 5 s.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            if !mounts.contains(&root) && !mounts.contains(&run) {
                break;
            }
            assert!(Instant::now() < deadline, "mounts left under {root} or {run}:\n{mounts}");
            std::thread::sleep(Duration::from_millis(50));
        }
        // A `--rm` container's monitor deletes its files after reporting the exit: allow it 5 s too.
        loop {
            let helpers: Vec<String> = std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
                .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
                // The daemon's monitor spawner lives as long as the daemon; monitors show their container's short ID.
                .filter(|cmdline| cmdline.contains(" internal ") || cmdline.contains("berth-monitor "))
                .filter(|cmdline| !cmdline.contains(" spawner "))
                .filter(|cmdline| {
                    cmdline.contains(&root)
                        || ids.iter().any(|id| cmdline.contains(&format!(" monitor {}", id.get(..12).unwrap_or(id))))
                })
                .collect();
            if helpers.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "helpers still running: {helpers:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        for id in ids {
            for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
                let berth = hierarchy.path().join("berth");
                let left = std::fs::read_dir(&berth)
                    .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(id.as_str())))
                    .unwrap_or(false);
                assert!(!left, "a cgroup of {id} is left under {}", berth.display());
            }
        }
        let containers = self.root().join("containers");
        let left: Vec<_> = std::fs::read_dir(&containers).map(|d| d.flatten().collect()).unwrap_or_default();
        assert!(left.is_empty(), "container directories left: {left:?}");
        // Removed containers' files, moved aside into tmp before deletion.
        let aside: Vec<_> = std::fs::read_dir(self.root().join("tmp"))
            .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("removing-")).collect())
            .unwrap_or_default();
        assert!(aside.is_empty(), "removed containers' files left: {aside:?}");
    }

    /// The daemon's PID, when one runs for this root.
    pub fn daemon_pid(&self) -> Option<i32> {
        daemon_pid(&self.run_dir())
    }

    /// Stops the daemon by PID: SIGTERM, then SIGKILL after 5 s.
    pub fn stop_daemon(&self) {
        stop_daemon(&self.run_dir());
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A scratch directory for the test's own files.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// `berth ARGS` with this root: BERTH_ROOT, BERTH_RUN and a HOME of its own
    /// (so `~/.docker/config.json` is the test's).
    pub fn command(&self) -> Command {
        let mut command = Command::new(berth_bin());
        self.with_env(&mut command);
        command
    }

    /// This root's environment on `command`.
    fn with_env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command
            .env("BERTH_ROOT", self.root())
            .env("BERTH_RUN", self.run_dir())
            .env("HOME", self.dir.path())
            .env("BERTH_NETWORK_PREFIX", &self.prefix)
            .env("BERTH_NETWORK_POOL", &self.pool)
            .env("BERTH_NETWORK_POOL6", &self.pool6)
            // Forwarded DNS queries go nowhere (never to the host's resolver).
            .env("BERTH_DNS_UPSTREAMS", "127.0.0.1:9")
            .env_remove("BERTH_LOG")
    }

    /// Runs `berth ARGS` to completion.
    pub fn berth(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("berth runs")
    }

    /// Runs `berth ARGS` and returns its stdout, failing the test with stderr if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.berth(args))
    }
}

/// The PID of the daemon of the run directory `run`, when one runs.
pub fn daemon_pid(run: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(run.join("berth.pid")).ok()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Stops the daemon of the run directory `run` by PID: SIGTERM, then SIGKILL after 5 s.
pub fn stop_daemon(run: &Path) {
    if let Some(pid) = daemon_pid(run) {
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}")).exists() {
            if Instant::now() > deadline {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The stdout of `berth ARGS` that ran as `output`, failing the test with its stderr if it failed.
pub fn succeeded(args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "berth {} failed ({}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("berth prints UTF-8")
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        // A root whose commands never needed the daemon has no containers or networks
        // (nor does one whose test failed before anything ran, say without a binary).
        if !self.run_dir().join("daemon.log").exists() {
            return;
        }
        if let Ok(ids) = self.command().args(["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.berth(&["rm", "-f", "-v", id]);
            }
        }
        self.stop_daemon();
        let launcher = DnsLauncher { program: berth_bin(), args: vec!["__dns-server".into()] };
        let mut config = NetworkConfig::new(self.root(), self.run_dir(), launcher);
        config.prefix = self.prefix.clone();
        config.pool = self.pool.parse().expect("a CIDR");
        config.pool6 = self.pool6.parse().expect("an IPv6 CIDR");
        match NetworkManager::open(config) {
            Ok(manager) => {
                if let Err(e) = manager.remove_everything() {
                    eprintln!("test root {}: cannot remove its network objects: {e}", self.prefix);
                }
            }
            Err(e) => eprintln!("test root {}: cannot open its network state: {e}", self.prefix),
        }
    }
}

impl Default for TestRoot {
    fn default() -> Self {
        Self::new()
    }
}
