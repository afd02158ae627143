//! Running the `berth` binary against a state root of the test's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `berth` binary of this build: `target/<profile>/berth`, next to the
/// `deps/` directory the test executable runs from. `cargo test --workspace`
/// builds it (it is a member's binary); `cargo test -p berth-tests` alone does not.
pub fn berth_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("test executables live in target/<profile>/deps");
    let bin = profile_dir.join("berth");
    assert!(
        bin.exists(),
        "{} is missing: run the suites with `cargo test --workspace`, which builds the berth binary",
        bin.display()
    );
    bin
}

/// A fresh `--root` and run directory, removed when dropped.
#[derive(Debug)]
pub struct TestRoot {
    dir: tempfile::TempDir,
}

impl TestRoot {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("berth-test-").tempdir().expect("a temp dir");
        std::fs::create_dir_all(dir.path().join("root")).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        TestRoot { dir }
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
        command
            .env("BERTH_ROOT", self.root())
            .env("BERTH_RUN", self.run_dir())
            .env("HOME", self.dir.path())
            .env_remove("BERTH_LOG");
        command
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

impl Default for TestRoot {
    fn default() -> Self {
        Self::new()
    }
}
