//! Containers end to end, as a user runs them (root, the real kernel): `run`,
//! `create`/`start`, `ps`, `logs`, `exec`, `stop`, `kill`, `restart`, `rm`,
//! `inspect`, `top`, `wait`, `cp`, `stats`, `rename`, `container prune`, with
//! the busybox image built from Debian's busybox-static, pushed to Debian's
//! docker-registry on 127.0.0.1 by skopeo, and pulled by berth.
//!
//! Every test has its own state root and registry; [`World::finish`] removes
//! its containers and asserts that nothing is left: no mount, cgroup, monitor
//! process or directory of theirs.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use berth_tests::berth::TestRoot;
use berth_tests::images::{self, Compression};
use berth_tests::registry::Registry;
use serde_json::Value;

/// A state root with the busybox image pulled and tagged `busybox`.
struct World {
    root: TestRoot,
    registry: Registry,
    finished: bool,
}

impl World {
    fn new() -> World {
        let root = TestRoot::new();
        let registry = images::busybox_in(&root);
        World { root, registry, finished: false }
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.root.berth(args)
    }

    /// stdout of a command that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        self.root.ok(args)
    }

    /// (exit code, stdout, stderr)
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.berth(args);
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn inspect(&self, container: &str) -> Value {
        let documents: Value = serde_json::from_str(&self.ok(&["inspect", container])).unwrap();
        documents[0].clone()
    }

    fn state(&self, container: &str) -> Value {
        self.inspect(container)["State"].clone()
    }

    fn ids(&self) -> Vec<String> {
        self.ok(&["ps", "-aq", "--no-trunc"]).lines().map(str::to_owned).collect()
    }

    /// Removes every container and asserts nothing of them is left anywhere.
    fn finish(mut self) {
        self.finished = true;
        let ids = self.ids();
        for id in &ids {
            self.ok(&["rm", "-f", "-v", id]);
        }
        assert!(self.ids().is_empty());
        self.root.assert_no_container_leftovers(&ids);
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if !self.finished {
            // A failed test: clean up without asserting.
            for id in self.ids() {
                let _ = self.berth(&["rm", "-f", "-v", &id]);
            }
        }
    }
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `berth ARGS` on a new pseudo-terminal, types `input`, and returns the
/// exit code and everything the terminal showed.
fn on_terminal(world: &World, args: &[&str], input: &[u8], until: &str) -> (i32, String) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = File::from(pty.slave);
    let mut command = world.root.command();
    command.args(args).stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave);
    let mut child = command.spawn().unwrap();
    drop(command);
    let mut master = File::from(pty.master);
    master.write_all(input).unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(30);
    let fd = master.as_raw_fd();
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).unwrap();
    loop {
        match master.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if String::from_utf8_lossy(&seen).contains(until)
                    && let Some(status) = child.try_wait().unwrap()
                {
                    return (status.code().unwrap_or(-1), String::from_utf8_lossy(&seen).into_owned());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => break,
        }
        assert!(Instant::now() < deadline, "terminal session timed out; seen: {}", String::from_utf8_lossy(&seen));
    }
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&seen).into_owned())
}

#[test]
fn isolation_is_real() {
    let world = World::new();
    let secret = world.root.scratch().join("host-only-file");
    std::fs::write(&secret, "host").unwrap();
    let script = format!(
        "echo pid1=$(cat /proc/1/comm); ps -o pid= | sort -n | tail -1; hostname; \
         test -e {} && echo sees-host || echo no-host-file; \
         grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; \
         echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo wrote-proc-sys || echo proc-sys-read-only; \
         cut -d' ' -f5 /proc/self/mountinfo | sort -u | tr '\\n' ' '",
        secret.display()
    );
    let out = world.ok(&["run", "--rm", "--hostname", "boxed", "busybox", "sh", "-c", &script]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid1=sh", "PID 1 is the container's command:\n{out}");
    // PIDs of its own namespace: the shell is 1 and a handful of its children follow (a host process would show its host PID).
    let highest: u32 = lines[1].trim().parse().unwrap();
    assert!(highest < 10, "only its own processes:\n{out}");
    assert_eq!(lines[2], "boxed");
    assert_eq!(lines[3], "no-host-file");
    // Docker's default capability set; no_new_privs; a seccomp filter.
    assert!(out.contains("CapEff:\t00000000a80425fb"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1") && out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("proc-sys-read-only"), "{out}");
    let mount_points: Vec<&str> = lines.last().unwrap().split_whitespace().collect();
    for point in &mount_points {
        let expected = *point == "/"
            || ["/proc", "/dev", "/sys"].iter().any(|p| point == p || point.starts_with(&format!("{p}/")))
            || ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"].contains(point);
        assert!(expected, "unexpected mount {point} in the container: {mount_points:?}");
    }

    // The default filter refuses swapon(2) even with CAP_SYS_ADMIN; without
    // the filter the kernel gets as far as reading the (non-swap) file.
    let filtered = world.run(&["run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "swapon", "/etc/passwd"]);
    assert!(filtered.2.contains("Operation not permitted"), "{filtered:?}");
    let unfiltered = world.run(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "swapon",
        "/etc/passwd",
    ]);
    assert!(unfiltered.2.contains("Invalid argument"), "{unfiltered:?}");
    // Without the capability, namespaces cannot be made; the container cannot see the host's network.
    let (code, _, _) = world.run(&["run", "--rm", "busybox", "unshare", "-n", "true"]);
    assert_ne!(code, 0);
    let names = |dev: &str| -> Vec<String> {
        let mut names: Vec<String> =
            dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|n| n.trim().to_owned()).collect();
        names.sort();
        names
    };
    let links = world.ok(&["run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"]);
    assert_eq!(names(&links), ["lo"], "--network none has only loopback");
    // By default a container joins the default bridge network, as in Docker.
    let links = world.ok(&["run", "--rm", "busybox", "cat", "/proc/net/dev"]);
    assert_eq!(names(&links), ["eth0", "lo"], "the default network gives eth0");
    let host_links = world.ok(&["run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"]);
    assert_eq!(names(&host_links), names(&std::fs::read_to_string("/proc/net/dev").unwrap()), "--network host");
    world.finish();
}

#[test]
fn limits_are_real() {
    let world = World::new();
    // A memory hog is killed by the OOM killer: exit 137, OOMKilled.
    let (code, _, _) =
        world.run(&["run", "--name", "hog", "-m", "32m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x; done"]);
    assert_eq!(code, 137);
    assert_eq!(world.state("hog")["OOMKilled"], true);
    // A fork bomb stops at the pids limit: the forking subshell fails and
    // gives up, the container stays with exactly the limit.
    let bomb = world.ok(&[
        "run",
        "-d",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "(while true; do sleep 60 & done); sleep 1000",
    ]);
    let bomb = bomb.trim().to_owned();
    wait_until("the fork bomb to hit the limit", Duration::from_secs(20), || {
        world.ok(&["logs", &bomb]).is_empty() && world.run(&["logs", &bomb]).2.contains("can't fork")
    });
    let stats = world.ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", &bomb]);
    let pids: u32 = stats.trim().parse().unwrap();
    assert!((8..=10).contains(&pids), "the pids limit held: {pids} tasks");
    // The limits are in the container's cgroup.
    let id = world.ok(&["run", "-d", "-m", "64m", "--cpus", "0.5", "--cpu-shares", "512", "busybox", "sleep", "100"]);
    let id = id.trim();
    let v2 = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains("cgroup2"));
    let (memory, quota) = if v2 {
        (format!("/sys/fs/cgroup/berth/{id}/memory.max"), format!("/sys/fs/cgroup/berth/{id}/cpu.max"))
    } else {
        (
            format!("/sys/fs/cgroup/memory/berth/{id}/memory.limit_in_bytes"),
            format!("/sys/fs/cgroup/cpu/berth/{id}/cpu.cfs_quota_us"),
        )
    };
    assert_eq!(std::fs::read_to_string(memory).unwrap().trim(), (64 << 20).to_string());
    assert!(std::fs::read_to_string(quota).unwrap().trim().starts_with("50000"));
    let (code, _, err) = world.run(&["run", "--rm", "-m", "1k", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    let (code, _, err) = world.run(&["run", "--rm", "--memory", "lots", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("invalid --memory \"lots\""), "{err}");
    world.finish();
}

#[test]
fn exit_codes_and_failures_follow_docker() {
    let world = World::new();
    assert_eq!(world.run(&["run", "--rm", "busybox", "sh", "-c", "exit 42"]).0, 42);
    // An image that is not here yet is pulled first, as docker run does.
    let other = world.registry.reference("other:1");
    images::push(&images::busybox(Compression::Gzip), &other);
    let (code, out, err) = world.run(&["run", "--rm", &other, "echo", "pulled"]);
    assert_eq!((code, out.as_str()), (0, "pulled\n"), "{err}");
    assert!(err.contains("Unable to find image") && err.contains("Status: Downloaded newer image"), "{err}");
    let (code, _, err) = world.run(&["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(code, 127);
    assert!(err.contains("exec: \"no-such-command\": executable file not found in $PATH"), "{err}");
    let (code, _, err) = world.run(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(code, 126);
    assert!(err.contains("permission denied"), "{err}");
    let (code, _, err) = world.run(&["run", "--rm", "-u", "ghost", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("unable to find user ghost: no matching entries in passwd file"), "{err}");
    let (code, _, err) = world.run(&["run", "--rm", "-v", "not/absolute:/data", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("invalid characters for a local volume name"), "{err}");
    let (code, _, err) = world.run(&["run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true"]);
    assert_eq!(code, 2, "clap refuses the value: {err}");
    assert!(err.contains("unknown capability"), "{err}");
    // Failed starts with --rm leave nothing; without --rm the container stays created, with the error.
    assert!(world.ids().is_empty());
    let (code, _, _) = world.run(&["run", "--name", "broken", "busybox", "no-such-command"]);
    assert_eq!(code, 127);
    let state = world.state("broken");
    assert_eq!(state["Status"], "created");
    assert_eq!(state["ExitCode"], 127);
    assert!(state["Error"].as_str().unwrap().contains("executable file not found"));
    let (code, _, err) = world.run(&["run", "--name", "broken", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("is already in use"), "{err}");
    world.finish();
}

#[test]
fn stop_kill_restart_rm_and_wait() {
    let world = World::new();
    let trapping = "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done";
    world.ok(&["run", "-d", "--name", "polite", "busybox", "sh", "-c", trapping]);
    assert_eq!(world.state("polite")["Status"], "running");
    let (code, _, err) = world.run(&["rm", "polite"]);
    assert_eq!(code, 1);
    assert!(err.contains("container is running"), "{err}");
    assert_eq!(world.ok(&["stop", "polite"]), "polite\n");
    assert_eq!(world.state("polite")["ExitCode"], 0);
    assert!(world.ok(&["logs", "polite"]).contains("got TERM"));

    // A process that ignores SIGTERM gets the grace period, then SIGKILL.
    world.ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    ]);
    let started = Instant::now();
    world.ok(&["stop", "-t", "2", "stubborn"]);
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(10), "stop took {took:?}");
    assert_eq!(world.state("stubborn")["ExitCode"], 137);

    // --stop-signal given at create is the one stop sends.
    world.ok(&[
        "run",
        "-d",
        "--name",
        "usr1",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got USR1; exit 3' USR1; while true; do sleep 0.1; done",
    ]);
    world.ok(&["stop", "usr1"]);
    assert_eq!(world.state("usr1")["ExitCode"], 3);

    world.ok(&["run", "-d", "--name", "victim", "busybox", "sleep", "1000"]);
    let waiter = world.root.command().args(["wait", "victim"]).stdout(Stdio::piped()).spawn().unwrap();
    world.ok(&["kill", "victim"]);
    let waited = waiter.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&waited.stdout), "137\n");
    let (code, _, err) = world.run(&["kill", "victim"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not running"), "{err}");

    world.ok(&["start", "victim"]);
    let first_pid = world.state("victim")["Pid"].as_i64().unwrap();
    world.ok(&["restart", "-t", "1", "victim"]);
    let state = world.state("victim");
    assert_eq!(state["Status"], "running");
    assert_ne!(state["Pid"].as_i64().unwrap(), first_pid);
    world.ok(&["rm", "-f", "victim"]);
    assert!(world.run(&["inspect", "victim"]).0 != 0);

    // kill -s: the signal reaches the process (which, as PID 1, needs a handler).
    world.ok(&[
        "run",
        "-d",
        "--name",
        "handler",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 5' TERM; while true; do sleep 0.1; done",
    ]);
    world.ok(&["kill", "-s", "SIGTERM", "handler"]);
    assert_eq!(world.ok(&["wait", "handler"]), "5\n");
    // With --init, PID 1 is an init that passes signals on and reaps zombies.
    world.ok(&["run", "-d", "--init", "--name", "inited", "busybox", "sh", "-c", "sleep 1000 & wait"]);
    let top = world.ok(&["top", "inited"]);
    assert!(top.contains("/sbin/docker-init -- sh -c"), "{top}");
    world.ok(&["kill", "-s", "TERM", "inited"]);
    assert_eq!(world.ok(&["wait", "inited"]), "143\n");
    world.finish();
}

#[test]
fn logs_tail_follow_and_timestamps() {
    let world = World::new();
    world.ok(&[
        "run",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo out$i; done; echo err >&2",
    ]);
    let (_, out, err) = world.run(&["logs", "counter"]);
    assert_eq!(out, "out1\nout2\nout3\nout4\nout5\n");
    assert_eq!(err, "err\n", "stderr entries go to stderr");
    assert_eq!(world.ok(&["logs", "--tail", "2", "counter"]), "out5\n");
    let stamped = world.ok(&["logs", "-t", "--tail", "2", "counter"]);
    let (time, line) = stamped.split_once(' ').unwrap();
    assert!(chrono_like(time), "{stamped}");
    assert_eq!(line, "out5\n");
    assert_eq!(world.ok(&["logs", "--since", "1h", "--tail", "all", "counter"]).lines().count(), 5);
    assert_eq!(world.ok(&["logs", "--until", "1h", "counter"]), "");

    // -f prints what comes later and returns when the container stops.
    world.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "busybox",
        "sh",
        "-c",
        "echo first; sleep 1; echo second; sleep 1; echo third",
    ]);
    let started = Instant::now();
    let followed = world.ok(&["logs", "-f", "slow"]);
    assert_eq!(followed, "first\nsecond\nthird\n");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    world.finish();
}

fn chrono_like(text: &str) -> bool {
    text.len() >= 20 && text.as_bytes()[4] == b'-' && text.contains('T') && text.ends_with('Z')
}

#[test]
fn exec_with_and_without_a_terminal() {
    let world = World::new();
    world.ok(&["run", "-d", "--name", "box", "-e", "FROM_RUN=1", "busybox", "sleep", "1000"]);
    assert_eq!(world.ok(&["exec", "box", "sh", "-c", "echo $FROM_RUN $(cat /proc/1/comm)"]), "1 sleep\n");
    assert_eq!(
        world.ok(&["exec", "-u", "appuser", "-w", "/tmp", "-e", "X=y", "box", "sh", "-c", "echo $(id -u) $PWD $X"]),
        "1000 /tmp y\n"
    );
    assert_eq!(world.run(&["exec", "box", "sh", "-c", "exit 9"]).0, 9);
    let (code, _, err) = world.run(&["exec", "box", "nope"]);
    assert_eq!(code, 126);
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    // -i passes stdin.
    let mut child = world
        .root
        .command()
        .args(["exec", "-i", "box", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"piped in\n").unwrap();
    assert_eq!(String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout), "PIPED IN\n");
    // -it: a real terminal, driven through a pty.
    let (code, screen) =
        on_terminal(&world, &["exec", "-it", "box", "sh"], b"tty; echo marker-$((6*7)); exit 4\n", "marker-42");
    assert_eq!(code, 4, "{screen}");
    assert!(screen.contains("/dev/pts/"), "{screen}");
    let (code, _, err) = world.run(&["exec", "-it", "box", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("the input device is not a TTY"), "{err}");
    world.ok(&["stop", "-t", "0", "box"]);
    let (code, _, err) = world.run(&["exec", "box", "true"]);
    assert_eq!(code, 126);
    assert!(err.contains("is not running"), "{err}");
    world.finish();
}

#[test]
fn run_attached_interactive_and_with_a_terminal() {
    let world = World::new();
    let mut child = world
        .root
        .command()
        .args(["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z; echo done >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"to the container\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "TO THE CONTAINER\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "done\n");
    let (code, screen) = on_terminal(
        &world,
        &["run", "--rm", "-it", "busybox", "sh"],
        b"tty; echo $TERM; echo marker-$((2*21)); exit 6\n",
        "marker-42",
    );
    assert_eq!(code, 6, "{screen}");
    assert!(screen.contains("/dev/pts/0") && screen.contains("xterm"), "{screen}");
    // create + start -a gives the same session.
    let id = world.ok(&["create", "busybox", "echo", "from create"]);
    assert_eq!(world.ok(&["start", "-a", id.trim()]), "from create\n");
    world.finish();
}

#[test]
fn cp_both_ways() {
    let world = World::new();
    let host = world.root.scratch().join("cp");
    std::fs::create_dir_all(host.join("tree/sub")).unwrap();
    std::fs::write(host.join("tree/sub/file"), "payload\n").unwrap();
    world.ok(&["create", "--name", "target", "busybox", "sleep", "1000"]);
    world.ok(&["cp", host.join("tree").to_str().unwrap(), "target:/srv"]);
    world.ok(&["start", "target"]);
    assert_eq!(world.ok(&["exec", "target", "cat", "/srv/sub/file"]), "payload\n");
    world.ok(&["cp", host.join("tree/sub/file").to_str().unwrap(), "target:/tmp/"]);
    assert_eq!(world.ok(&["exec", "target", "stat", "-c", "%u %n", "/tmp/file"]), "0 /tmp/file\n");
    world.ok(&["exec", "target", "sh", "-c", "mkdir /out && echo made > /out/a && ln -s /etc/passwd /out/link"]);
    world.ok(&["cp", "target:/out", host.join("back").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(host.join("back/a")).unwrap(), "made\n");
    assert_eq!(std::fs::read_link(host.join("back/link")).unwrap(), Path::new("/etc/passwd"));
    world.ok(&["cp", "target:/out/.", host.join("back").to_str().unwrap()]);
    let (code, _, err) = world.run(&["cp", "target:/missing", host.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("Could not find the file /missing"), "{err}");
    world.ok(&["stop", "-t", "0", "target"]);
    world.ok(&["cp", "target:/srv/sub/file", host.join("from-stopped").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(host.join("from-stopped")).unwrap(), "payload\n");
    world.finish();
}

#[test]
fn rm_flag_and_volumes() {
    let world = World::new();
    // --rm leaves nothing: no record, no directory, no anonymous volume.
    world.ok(&["run", "--rm", "-v", "/scratch", "busybox", "sh", "-c", "echo x > /scratch/f"]);
    assert!(world.ids().is_empty());
    let volumes: Vec<_> = std::fs::read_dir(world.root.root().join("volumes")).unwrap().flatten().collect();
    assert!(volumes.is_empty(), "{volumes:?}");
    // Named volumes persist across containers.
    world.ok(&["run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo persisted > /data/file"]);
    assert_eq!(world.ok(&["run", "--rm", "-v", "data:/data:ro", "busybox", "cat", "/data/file"]), "persisted\n");
    let (code, _, _) = world.run(&["run", "--rm", "-v", "data:/data:ro", "busybox", "touch", "/data/x"]);
    assert_ne!(code, 0, "a read-only volume refuses writes");
    // Bind mounts, and a missing source directory is made as docker run -v does.
    let host = world.root.scratch().join("bind");
    world.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/mnt", host.display()),
        "busybox",
        "sh",
        "-c",
        "echo from-container > /mnt/f",
    ]);
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "from-container\n");
    // tmpfs and --read-only.
    let out = world.ok(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/run",
        "busybox",
        "sh",
        "-c",
        "touch /run/ok && echo tmpfs-ok; touch /nope 2>/dev/null || echo read-only",
    ]);
    assert_eq!(out, "tmpfs-ok\nread-only\n");
    // rm -v removes the anonymous volume of a kept container.
    let id = world.ok(&["run", "-d", "-v", "/anon", "busybox", "sleep", "100"]);
    let name = world.inspect(id.trim())["Mounts"][0]["Name"].as_str().unwrap().to_owned();
    assert!(world.root.root().join("volumes").join(&name).exists());
    world.ok(&["rm", "-f", "-v", id.trim()]);
    assert!(!world.root.root().join("volumes").join(&name).exists());
    assert!(world.root.root().join("volumes/data").exists(), "named volumes stay");
    world.finish();
}

#[test]
fn ps_inspect_top_stats_rename_prune() {
    let world = World::new();
    let id =
        world.ok(&["run", "-d", "--network", "none", "--name", "first", "-l", "tier=web", "busybox", "sleep", "1000"]);
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 64);
    world.ok(&["run", "--name", "done", "-l", "tier=batch", "busybox", "true"]);
    let ps = world.ok(&["ps"]);
    let mut lines = ps.lines();
    let header = lines.next().unwrap();
    for column in ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"] {
        assert!(header.contains(column), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&id[..12]) && row.contains("\"sleep 1000\"") && row.contains("Up ") && row.ends_with("first"),
        "{ps}"
    );
    assert!(lines.next().is_none(), "ps shows running containers only");
    assert_eq!(world.ok(&["ps", "-a", "-q"]).lines().count(), 2);
    assert_eq!(world.ok(&["ps", "-a", "--filter", "label=tier=batch", "--format", "{{.Names}}"]), "done\n");
    assert_eq!(world.ok(&["ps", "-a", "--filter", "status=exited", "-q"]).trim().len(), 12);
    let json: Value = serde_json::from_str(world.ok(&["ps", "--format", "json"]).lines().next().unwrap()).unwrap();
    assert_eq!(json["Names"], "first");
    assert_eq!(json["State"], "running");
    // Unique prefixes and names both find a container.
    assert_eq!(world.inspect(&id[..6])["Name"], "/first");
    assert_eq!(
        world.ok(&["inspect", "-f", "{{.Config.Labels.tier}} {{.HostConfig.NetworkMode}}", "first"]),
        "web none\n"
    );
    let top = world.ok(&["top", "first"]);
    assert!(top.starts_with("UID") && top.contains("sleep 1000"), "{top}");
    let stats = world.ok(&["stats", "--no-stream", "first"]);
    assert!(stats.contains("MEM USAGE / LIMIT") && stats.contains("first"), "{stats}");
    world.ok(&["rename", "first", "renamed"]);
    assert_eq!(world.inspect(&id)["Name"], "/renamed");
    let (code, _, err) = world.run(&["rename", "renamed", "done"]);
    assert_ne!(code, 0);
    assert!(err.contains("already in use"), "{err}");
    let (code, _, err) = world.run(&["inspect", "nothing-like-it"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such container: nothing-like-it"), "{err}");
    let pruned = world.ok(&["container", "prune", "-f"]);
    assert!(pruned.starts_with("Deleted Containers:\n"), "{pruned}");
    assert_eq!(world.ok(&["ps", "-aq"]).lines().count(), 1, "the running one stays");
    world.finish();
}

#[test]
fn containers_outlive_the_cli_and_restart_by_policy() {
    let world = World::new();
    world.ok(&["run", "-d", "--name", "lasting", "busybox", "sleep", "1000"]);
    let pid = world.state("lasting")["Pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let monitor: i64 = status.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap();
    let monitor_status = std::fs::read_to_string(format!("/proc/{monitor}/status")).unwrap();
    let monitor_parent: i64 =
        monitor_status.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap();
    let our_pid = std::process::id() as i64;
    assert_ne!(monitor_parent, our_pid);
    let cmdline = std::fs::read(format!("/proc/{monitor}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("berth-monitor\0monitor\0"),
        "the container's parent is its monitor"
    );
    assert_eq!(world.state("lasting")["Status"], "running");

    // on-failure:2 restarts twice, then leaves the container exited.
    world.ok(&["run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 1"]);
    wait_until("the restarts", Duration::from_secs(20), || {
        let state = world.state("flaky");
        state["Status"] == "exited" && world.inspect("flaky")["RestartCount"] == 2
    });
    assert_eq!(world.ok(&["logs", "flaky"]), "run\nrun\nrun\n");
    // always: a stop keeps it stopped.
    world.ok(&["run", "-d", "--name", "steady", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 0"]);
    wait_until("a restart", Duration::from_secs(20), || world.inspect("steady")["RestartCount"].as_i64().unwrap() >= 1);
    world.ok(&["stop", "-t", "1", "steady"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(world.state("steady")["Status"], "exited");
    world.finish();
}

#[test]
fn users_workdirs_env_files_and_ulimits() {
    let world = World::new();
    let env_file = world.root.scratch().join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\nOVERRIDDEN=file\n").unwrap();
    let out = world.ok(&[
        "run",
        "--rm",
        "-u",
        "appuser",
        "-w",
        "/made/here",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "OVERRIDDEN=flag",
        "--ulimit",
        "nofile=512:1024",
        "busybox",
        "sh",
        "-c",
        "echo $(id -u):$(id -g) $PWD $HOME $FROM_FILE $OVERRIDDEN $(ulimit -n) $(ulimit -Hn)",
    ]);
    assert_eq!(out, "1000:1000 /made/here /home/appuser yes flag 512 1024\n");
    assert_eq!(
        world.ok(&["run", "--rm", "-u", "1234:5678", "busybox", "sh", "-c", "echo $(id -u) $(id -g)"]),
        "1234 5678\n"
    );
    let groups = world.ok(&["run", "--rm", "-u", "appuser", "busybox", "id", "-G"]);
    assert_eq!(groups.split_whitespace().collect::<Vec<_>>(), ["1000", "100"], "supplementary groups from /etc/group");
    assert_eq!(world.ok(&["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"]), "a b\n");
    let hosts = world.ok(&["run", "--rm", "-h", "named", "busybox", "cat", "/etc/hosts", "/etc/hostname"]);
    assert!(hosts.contains("127.0.0.1\tlocalhost") && hosts.contains("named"), "{hosts}");
    world.finish();
}
