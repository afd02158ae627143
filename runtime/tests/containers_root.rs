//! The container library against the real kernel (root): lifecycle, stdio,
//! logs, stop and kill, failures. This binary is also the monitor the library
//! starts (`<this binary> internal monitor ...`), so it has its own `main`.
//! The end-to-end suite of the CLI is tests/tests/containers.rs.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use berth_runtime::container::cp::{self, CopySource};
use berth_runtime::container::mounts::MountRequest;
use berth_runtime::container::{
    AttachStream, AttachStreams, ContainerError, Containers, CreateOptions, ExecOptions, HelperCommand, LogOptions,
    Pump, RemoveOptions, Reply, RestartPolicy, Status,
};
use berth_runtime::image::Image;
use berth_runtime::store::Root;

type Test = fn(&Fixture);

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "internal") {
        match args.get(2).and_then(|a| a.to_str()) {
            Some(berth_runtime::container::spawner::SUBCOMMAND) => {
                return berth_runtime::container::spawner::main(&args[3..]);
            }
            Some(berth_runtime::container::exec::SUBCOMMAND) => {
                return berth_runtime::container::exec::main(&args[3..]);
            }
            _ => return ExitCode::FAILURE,
        }
    }
    let filter: Option<String> =
        args.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).find(|a| !a.starts_with('-'));
    let tests: &[(&str, Test)] = &[
        ("echo_attached", echo_attached),
        ("missing_command_is_127", missing_command_is_127),
        ("stop_and_kill", stop_and_kill),
        ("exec_joins_the_container", exec_joins_the_container),
        ("exec_with_a_terminal", exec_with_a_terminal),
        ("stdin_reaches_the_container", stdin_reaches_the_container),
        ("logs_and_tail", logs_and_tail),
        ("volumes_persist_and_auto_remove_cleans_up", volumes_persist_and_auto_remove_cleans_up),
        ("copy_both_ways", copy_both_ways),
        ("restart_on_failure", restart_on_failure),
        ("top_stats_inspect_list", top_stats_inspect_list),
    ];
    if !nix::unistd::geteuid().is_root() {
        eprintln!("containers_root: SKIPPED, needs root");
        return ExitCode::SUCCESS;
    }
    let mut failed = 0;
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let fixture = Fixture::new();
        let outcome = std::panic::catch_unwind(|| test(&fixture));
        drop(fixture);
        match outcome {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// A state root of its own with a busybox image in it.
struct Fixture {
    dir: tempfile::TempDir,
    image: Image,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::Builder::new().prefix("berth-rt-").tempdir().unwrap();
        let layer = dir.path().join("root/layers/busybox");
        busybox_rootfs(&layer);
        let mut config = oci_spec::image::Config::default();
        config.set_cmd(Some(vec!["sh".into()]));
        config.set_env(Some(vec!["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()]));
        let mut image_config = oci_spec::image::ImageConfiguration::default();
        image_config.set_config(Some(config));
        let image =
            Image { id: "sha256:busybox".into(), config: image_config, layer_dirs: vec![layer], references: vec![] };
        Fixture { dir, image }
    }

    fn root(&self) -> Root {
        Root::new(self.dir.path().join("root"), self.dir.path().join("run"))
    }

    fn containers(&self) -> Containers {
        let helper =
            HelperCommand { program: std::env::current_exe().unwrap(), args: vec!["internal".into()], arg0: None };
        Containers::open_with(&self.root(), helper).unwrap()
    }

    fn create(&self, containers: &mut Containers, cmd: &[&str], options: CreateOptions) -> String {
        let options = CreateOptions { cmd: Some(cmd.iter().map(|s| s.to_string()).collect()), ..options };
        containers.create(&self.image, "busybox", &options).unwrap().id.to_string()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Whatever a failed test left running goes first.
        if let Ok(mut containers) = Containers::open_with(
            &self.root(),
            HelperCommand { program: std::env::current_exe().unwrap(), args: vec!["internal".into()], arg0: None },
        ) {
            for record in containers.all().unwrap_or_default() {
                let _ = containers.remove(record.id.as_str(), RemoveOptions { force: true, volumes: true });
            }
        }
    }
}

fn busybox_rootfs(dir: &Path) {
    for sub in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    let list = std::process::Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines().filter(|a| *a != "busybox") {
        let _ = std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet));
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nappuser:x:1000:1000::/home/app:/bin/sh\n")
        .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nappuser:x:1000:\n").unwrap();
}

/// Runs the container attached and returns (stdout, stderr, reply).
fn run_attached(containers: &Containers, id: &str) -> (String, String, Reply) {
    let started = containers.start(id, Some(AttachStreams { stdin: false, stdout: true, stderr: true })).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let reply =
        started.attach.unwrap().pump(Pump { stdin: None, stdout: &mut out, stderr: &mut err, events: None }).unwrap();
    (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap(), reply)
}

fn exit_code(reply: &Reply) -> i32 {
    match reply {
        Reply::Exited(status) => status.exit_code,
        other => panic!("not an exit: {other:?}"),
    }
}

fn echo_attached(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let id = fixture.create(&mut containers, &["sh", "-c", "echo out; echo err >&2; exit 3"], CreateOptions::default());
    let (out, err, reply) = run_attached(&containers, &id);
    assert_eq!(out, "out\n");
    assert_eq!(err, "err\n");
    assert_eq!(exit_code(&reply), 3);
    let record = containers.lookup(&id).unwrap();
    let state = containers.state(&record).unwrap();
    assert_eq!((state.status, state.exit_code), (Status::Exited, 3));
}

fn missing_command_is_127(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let id = fixture.create(&mut containers, &["no-such-command"], CreateOptions::default());
    let err = containers.start(&id, None).unwrap_err();
    assert_eq!(err.exit_code(), 127, "{err}");
    assert!(err.to_string().contains("exec: \"no-such-command\": executable file not found in $PATH"), "{err}");
    let record = containers.lookup(&id).unwrap();
    let state = containers.state(&record).unwrap();
    assert_eq!((state.status, state.exit_code), (Status::Created, 127));
    assert!(state.error.contains("executable file not found"));
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop_and_kill(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let id = fixture.create(&mut containers, &["sleep", "1000"], CreateOptions::default());
    containers.start(&id, None).unwrap();
    let record = containers.lookup(&id).unwrap();
    assert!(containers.state(&record).unwrap().is_running());
    let status = containers.stop(&id, Some(5)).unwrap().unwrap();
    // sleep as PID 1 has no SIGTERM handler: the kernel ignores the signal, so SIGKILL ends it.
    assert_eq!(status.exit_code, 137);
    wait_until("the monitor to exit", || containers.state(&record).unwrap().status == Status::Exited);
}

/// Starts `cmd` detached and returns its ID.
fn run_detached(fixture: &Fixture, containers: &mut Containers, cmd: &[&str], options: CreateOptions) -> String {
    let id = fixture.create(containers, cmd, options);
    containers.start(&id, None).unwrap();
    id
}

fn exec_output(containers: &Containers, id: &str, options: ExecOptions) -> (String, i32) {
    let output = containers.exec_command(id, &options).unwrap().output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty() || output.status.code() != Some(0), "stderr: {stderr}");
    (String::from_utf8(output.stdout).unwrap(), output.status.code().unwrap())
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn exec_joins_the_container(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let options = CreateOptions { hostname: Some("inside".into()), ..Default::default() };
    let id = run_detached(fixture, &mut containers, &["sleep", "1000"], options);
    let (out, code) = exec_output(&containers, &id, ExecOptions { cmd: cmd(&["hostname"]), ..Default::default() });
    assert_eq!((out.as_str(), code), ("inside\n", 0));
    let (out, _) =
        exec_output(&containers, &id, ExecOptions { cmd: cmd(&["cat", "/proc/1/cmdline"]), ..Default::default() });
    assert_eq!(out, "sleep\u{0}1000\u{0}", "PID 1 in the exec's view is the container's command");
    let (out, _) = exec_output(
        &containers,
        &id,
        ExecOptions {
            cmd: cmd(&["sh", "-c", "echo $FOO $(pwd) $(id -u) $HOME"]),
            env: vec!["FOO=bar".into()],
            working_dir: Some("/tmp".into()),
            user: Some("appuser".into()),
            ..Default::default()
        },
    );
    assert_eq!(out, "bar /tmp 1000 /home/app\n");
    let (_, code) =
        exec_output(&containers, &id, ExecOptions { cmd: cmd(&["sh", "-c", "exit 7"]), ..Default::default() });
    assert_eq!(code, 7);
    let failed = containers
        .exec_command(&id, &ExecOptions { cmd: cmd(&["nope"]), ..Default::default() })
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("executable file not found in $PATH"));
    // The seccomp filter covers exec'd processes too: unshare is refused.
    let (_, code) =
        exec_output(&containers, &id, ExecOptions { cmd: cmd(&["unshare", "-n", "true"]), ..Default::default() });
    assert_ne!(code, 0);
    containers.remove(&id, RemoveOptions { force: true, volumes: true }).unwrap();
}

fn exec_with_a_terminal(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let id = run_detached(fixture, &mut containers, &["sleep", "1000"], CreateOptions::default());
    let options = ExecOptions { cmd: cmd(&["sh"]), tty: true, interactive: true, ..Default::default() };
    let (mut command, stream) = containers.exec_attached(&id, &options).unwrap();
    let mut child = command.spawn().unwrap();
    drop(command);
    let (read, write) = nix::unistd::pipe().unwrap();
    std::io::Write::write_all(&mut File::from(write), b"tty; echo marker-$((6*7)); exit 3\n").unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut attach = AttachStream::relayed(stream, Vec::new());
    attach.resize(30, 100).unwrap();
    let reply =
        attach.pump(Pump { stdin: Some(read.as_fd()), stdout: &mut out, stderr: &mut err, events: None }).unwrap();
    let seen = String::from_utf8_lossy(&out);
    assert!(seen.contains("marker-42") && seen.contains("/dev/pts/"), "{seen}");
    assert_eq!(exit_code(&reply), 3);
    assert_eq!(child.wait().unwrap().code(), Some(3));
    assert!(containers.exec_command(&id, &options).is_err(), "a terminal needs the attach stream");
    containers.remove(&id, RemoveOptions { force: true, volumes: true }).unwrap();
}

fn stdin_reaches_the_container(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let options = CreateOptions { open_stdin: true, ..Default::default() };
    let id = fixture.create(&mut containers, &["sh", "-c", "tr a-z A-Z"], options);
    let started = containers.start(&id, Some(AttachStreams { stdin: true, stdout: true, stderr: true })).unwrap();
    let (read, write) = nix::unistd::pipe().unwrap();
    let mut writer = File::from(write);
    std::io::Write::write_all(&mut writer, b"hello stdin\n").unwrap();
    drop(writer);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let reply = started
        .attach
        .unwrap()
        .pump(Pump { stdin: Some(read.as_fd()), stdout: &mut out, stderr: &mut err, events: None })
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "HELLO STDIN\n");
    assert_eq!(exit_code(&reply), 0);
}

fn logs_and_tail(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let id = fixture.create(
        &mut containers,
        &["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2"],
        CreateOptions::default(),
    );
    let (_, _, reply) = run_attached(&containers, &id);
    assert_eq!(exit_code(&reply), 0);
    let collect = |containers: &Containers, id: &str, options: LogOptions| {
        let mut lines = Vec::new();
        containers
            .logs(id, &options, &mut |entry| {
                lines.push(entry.log.clone());
                Ok(())
            })
            .unwrap();
        lines
    };
    assert_eq!(
        collect(&containers, &id, LogOptions::default()),
        ["line1\n", "line2\n", "line3\n", "line4\n", "line5\n", "oops\n"]
    );
    assert_eq!(collect(&containers, &id, LogOptions { tail: Some(2), ..Default::default() }), ["line5\n", "oops\n"]);
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(collect(&containers, &id, LogOptions { since: Some(future), ..Default::default() }).is_empty());

    // Following a running container sees what it prints later, and ends when it stops.
    let id = run_detached(
        fixture,
        &mut containers,
        &["sh", "-c", "echo first; sleep 1; echo second"],
        CreateOptions::default(),
    );
    let followed = collect(&containers, &id, LogOptions { follow: true, ..Default::default() });
    assert_eq!(followed, ["first\n", "second\n"]);
}

fn volumes_persist_and_auto_remove_cleans_up(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let volume = |spec: &str| vec![MountRequest::parse_volume(spec).unwrap()];
    let writer = fixture.create(
        &mut containers,
        &["sh", "-c", "echo kept > /data/file"],
        CreateOptions { mounts: volume("keep:/data"), ..Default::default() },
    );
    assert_eq!(exit_code(&run_attached(&containers, &writer).2), 0);
    let reader = fixture.create(
        &mut containers,
        &["cat", "/data/file"],
        CreateOptions { mounts: volume("keep:/data"), ..Default::default() },
    );
    assert_eq!(run_attached(&containers, &reader).0, "kept\n");

    let host = fixture.dir.path().join("host-dir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("from-host"), "hi\n").unwrap();
    let bind = fixture.create(
        &mut containers,
        &["sh", "-c", "cat /mnt/from-host; touch /mnt/x 2>/dev/null || echo read-only"],
        CreateOptions { mounts: volume(&format!("{}:/mnt:ro", host.display())), ..Default::default() },
    );
    assert_eq!(run_attached(&containers, &bind).0, "hi\nread-only\n");

    let removed = fixture.create(
        &mut containers,
        &["sh", "-c", "echo x > /scratch/f"],
        CreateOptions { mounts: volume("/scratch"), auto_remove: true, ..Default::default() },
    );
    let record = containers.lookup(&removed).unwrap();
    let anonymous = match &record.config.mounts[0].source {
        berth_runtime::container::mounts::MountSource::Volume { name, anonymous: true, .. } => name.clone(),
        other => panic!("not an anonymous volume: {other:?}"),
    };
    assert_eq!(exit_code(&run_attached(&containers, &removed).2), 0);
    assert!(containers.lookup(&removed).is_err(), "--rm removed the record");
    assert!(!fixture.root().containers().join(record.id.as_str()).exists(), "--rm removed the directory");
    assert!(!fixture.root().volumes().join(&anonymous).exists(), "--rm removed the anonymous volume");
    assert!(fixture.root().volumes().join("keep").exists(), "named volumes stay");
}

/// `cp` as the daemon and the CLI do it: an archive written on one side, placed on the other.
fn copy_in(containers: &Containers, id: &str, source: &Path, destination: &str) {
    let mut tar = Vec::new();
    CopySource::host(source).unwrap().write(&mut tar).unwrap();
    containers.extract_into(id, destination, false, false, &tar[..]).unwrap();
}

fn copy_out(containers: &Containers, id: &str, source: &str, destination: &Path) -> Result<(), ContainerError> {
    let mut tar = Vec::new();
    containers.copy_source(id, source)?.write(&mut tar)?;
    cp::extract_on_host(&tar[..], destination, false, false)
}

fn copy_both_ways(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let host = fixture.dir.path().join("cp");
    std::fs::create_dir_all(host.join("tree/sub")).unwrap();
    std::fs::write(host.join("tree/sub/file"), "payload").unwrap();
    // Into a stopped container, then read it back from the running one.
    let id = fixture.create(&mut containers, &["sleep", "1000"], CreateOptions::default());
    copy_in(&containers, &id, &host.join("tree"), "/tmp");
    containers.start(&id, None).unwrap();
    let (out, _) =
        exec_output(&containers, &id, ExecOptions { cmd: cmd(&["cat", "/tmp/tree/sub/file"]), ..Default::default() });
    assert_eq!(out, "payload");
    exec_output(
        &containers,
        &id,
        ExecOptions {
            cmd: cmd(&["sh", "-c", "echo made inside > /made; ln -s /etc/passwd /link"]),
            ..Default::default()
        },
    );
    copy_out(&containers, &id, "/made", &host.join("made")).unwrap();
    assert_eq!(std::fs::read_to_string(host.join("made")).unwrap(), "made inside\n");
    copy_out(&containers, &id, "/link", &host.join("link")).unwrap();
    assert_eq!(
        std::fs::read_link(host.join("link")).unwrap(),
        Path::new("/etc/passwd"),
        "links are copied, not followed"
    );
    assert!(copy_out(&containers, &id, "/missing", &host.join("x")).is_err());
    containers.remove(&id, RemoveOptions { force: true, volumes: true }).unwrap();
    // Stopped again: out of the overlay.
    let id = fixture.create(&mut containers, &["true"], CreateOptions::default());
    copy_out(&containers, &id, "/etc/passwd", &host.join("passwd")).unwrap();
    assert!(std::fs::read_to_string(host.join("passwd")).unwrap().starts_with("root:"));
}

fn restart_on_failure(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let options = CreateOptions { restart: RestartPolicy::OnFailure { max_retries: 2 }, ..Default::default() };
    let id = run_detached(fixture, &mut containers, &["sh", "-c", "echo run; exit 2"], options);
    let record = containers.lookup(&id).unwrap();
    wait_until("the retries to run out", || {
        let state = containers.state(&record).unwrap();
        state.status == Status::Exited && state.restart_count == 2
    });
    let mut runs = 0;
    containers
        .logs(&id, &LogOptions::default(), &mut |_| {
            runs += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(runs, 3, "the first run and two restarts");
}

fn top_stats_inspect_list(fixture: &Fixture) {
    let mut containers = fixture.containers();
    let options = CreateOptions { name: Some("topped".into()), ..Default::default() };
    let id = run_detached(fixture, &mut containers, &["sleep", "1000"], options);
    let top = containers.top("topped").unwrap();
    assert_eq!(top.titles[1], "PID");
    assert_eq!(top.processes.len(), 1);
    assert_eq!(top.processes[0].last().unwrap(), "sleep 1000");
    let stats = containers.stats(std::slice::from_ref(&id)).unwrap();
    assert_eq!(stats.len(), 1);
    assert!(stats[0].memory_usage > 0 && stats[0].pids == 1, "{stats:?}");
    let inspect = containers.inspect(&id[..8]).unwrap();
    assert_eq!(inspect.name, "/topped");
    assert!(inspect.state.running && inspect.state.pid > 0);
    let listed = containers.list(false, &[]).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].status.starts_with("Up "), "{}", listed[0].status);
    containers.remove("topped", RemoveOptions { force: true, volumes: false }).unwrap();
    assert!(containers.list(true, &[]).unwrap().is_empty());
}
