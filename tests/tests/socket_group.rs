//! Every command through the daemon's socket, by a user who is not root but
//! is in the socket's group (`berth daemon --group`, mode 0660), as Docker's
//! `docker` group: the daemon, started as root, is the only one that touches
//! the state root, which the user cannot even read. Credentials are the
//! user's (`login` writes their ~/.docker/config.json, `pull` sends them), and
//! the files of `cp`, `save` and `load` are read and written as the user. A
//! user outside the group is told that the socket refused them.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use berth_tests::berth::{TestRoot, berth_bin, succeeded};
use berth_tests::images::{self, Compression};
use berth_tests::registry::{Auth, Registry};

/// The unprivileged user and the socket's group: numbers no account has here.
const USER: u32 = 64_123;
const SOCKET_GROUP: u32 = 64_123;
/// A group the socket does not let in.
const OTHER_GROUP: u32 = 64_124;

/// The user's side: a home of their own, and the daemon's run directory.
struct User {
    home: PathBuf,
    run: PathBuf,
    gid: u32,
}

impl User {
    /// `berth ARGS` as the user: no BERTH_ROOT, only where the socket is.
    fn berth(&self, args: &[&str]) -> Output {
        Command::new(berth_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("BERTH_RUN", &self.run)
            .current_dir(&self.home)
            .uid(USER)
            .gid(self.gid)
            .output()
            .expect("berth runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.berth(args))
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_member_of_the_socket_group_uses_every_command_and_others_are_refused() {
    assert!(nix::unistd::geteuid().is_root(), "this suite starts the daemon as root and runs commands as another user");
    let registry = Registry::start_with(Auth::Htpasswd { user: "alice".into(), password: "s3cret".into() });
    let image = registry.reference("busybox:1");
    images::push_with_credentials(&images::busybox(Compression::Gzip), &image, "alice:s3cret");

    let root = TestRoot::new();
    // The user may pass through the test's directory to the socket and their
    // home, but not into the state root: a client that opened it would fail.
    chmod(root.scratch(), 0o711);
    chmod(&root.run_dir(), 0o755);
    chmod(&root.root(), 0o700);
    let home = root.scratch().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(USER), Some(SOCKET_GROUP)).unwrap();
    chmod(&home, 0o700);
    root.spawn_daemon(&["--group", &SOCKET_GROUP.to_string()]);
    let socket = std::fs::metadata(root.run_dir().join("berth.sock")).unwrap();
    assert_eq!((socket.gid(), socket.mode() & 0o777), (SOCKET_GROUP, 0o660), "the socket is the group's, mode 0660");

    let user = User { home: home.clone(), run: root.run_dir(), gid: SOCKET_GROUP };
    let root_dir = root.root().display().to_string();
    let peek = Command::new("ls").arg(&root_dir).uid(USER).gid(SOCKET_GROUP).output().unwrap();
    assert!(!peek.status.success(), "the user cannot read the state root (so no command of theirs opens berth.db)");

    // Credentials: the user's own, sent with the pull (the daemon has none).
    let registry_address = registry.address();
    assert!(user.ok(&["login", &registry_address, "-u", "alice", "-p", "s3cret"]).contains("Login Succeeded"));
    assert!(home.join(".docker/config.json").is_file());
    let pulled = user.ok(&["pull", &image]);
    assert!(pulled.contains("Status: Downloaded newer image"), "{pulled}");
    assert!(user.ok(&["images"]).contains(&registry.reference("busybox")));

    let id = user.ok(&["run", "-d", "--name", "web", &image, "sh", "-c", "echo hello from web; exec sleep 1000"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert!(user.ok(&["ps"]).contains("web"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while user.ok(&["logs", "web"]) != "hello from web\n" {
        assert!(Instant::now() < deadline, "no log line: {}", user.ok(&["logs", "web"]));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(user.ok(&["exec", "web", "sh", "-c", "echo $((6*7))"]), "42\n");
    assert_eq!(user.berth(&["exec", "web", "sh", "-c", "exit 3"]).status.code(), Some(3));
    let inspected: serde_json::Value = serde_json::from_str(&user.ok(&["inspect", "web"])).unwrap();
    assert_eq!(inspected[0]["State"]["Running"], true);
    assert!(user.ok(&["top", "web"]).contains("sleep 1000"));
    assert!(user.ok(&["stats", "--no-stream", "web"]).contains("web"));

    // cp: the user's files, read and written by the user's own process.
    std::fs::write(home.join("in.txt"), "from the user\n").unwrap();
    std::os::unix::fs::chown(home.join("in.txt"), Some(USER), Some(SOCKET_GROUP)).unwrap();
    user.ok(&["cp", "in.txt", "web:/tmp/in.txt"]);
    assert_eq!(user.ok(&["exec", "web", "cat", "/tmp/in.txt"]), "from the user\n");
    user.ok(&["cp", "web:/tmp/in.txt", "out.txt"]);
    assert_eq!(std::fs::read_to_string(home.join("out.txt")).unwrap(), "from the user\n");
    assert_eq!(std::fs::metadata(home.join("out.txt")).unwrap().uid(), USER, "the copy is the user's");

    // exec -d: answered once the process runs.
    user.ok(&["exec", "-d", "web", "sh", "-c", "echo detached > /tmp/detached"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while user.berth(&["exec", "web", "cat", "/tmp/detached"]).stdout != b"detached\n" {
        assert!(Instant::now() < deadline, "exec -d did not run");
        std::thread::sleep(Duration::from_millis(50));
    }
    // save and load: the archive is the user's file.
    user.ok(&["save", "-o", "image.tar", &image]);
    assert_eq!(std::fs::metadata(home.join("image.tar")).unwrap().uid(), USER);
    let loaded = user.ok(&["load", "-i", "image.tar"]);
    assert!(loaded.contains(&format!("Loaded image: {image}")), "{loaded}");

    let network = format!("{}-usernet", root.prefix());
    user.ok(&["network", "create", &network]);
    assert!(user.ok(&["network", "ls"]).contains(&network));
    assert_eq!(user.ok(&["network", "rm", &network]), format!("{network}\n"));

    user.ok(&["stop", "-t", "1", "web"]);
    user.ok(&["rm", "web"]);
    assert_eq!(user.ok(&["ps", "-aq"]), "");

    // Outside the group: refused, and told why.
    let outsider = User { gid: OTHER_GROUP, ..user };
    let refused = outsider.berth(&["ps"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("permission denied on the socket"), "{stderr}");
    assert!(stderr.contains("berth.sock"), "{stderr}");
}
