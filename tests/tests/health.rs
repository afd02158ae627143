//! Healthchecks end to end (root, the real kernel): containers started by
//! the `berth` CLI from an image pulled from Debian's docker-registry, probed
//! by `berth::health` through berth's exec helper, as the daemon does it.
//!
//! Every test has its own state root and registry; [`World`] removes its
//! containers and monitors also when a test fails, and [`World::finish`]
//! asserts that no probe, helper or container is left.

use std::time::{Duration, Instant};

use berth::compose::model::{Duration as ComposeDuration, Healthcheck};
use berth::health::{
    self, HealthConfig, HealthEvent, HealthMonitor, HealthStatus, HealthTest, ImageHealth, StopReason,
};
use berth_runtime::container::{ContainerId, Containers, HelperCommand};
use berth_runtime::image::ImageStore;
use berth_runtime::store::Root;
use berth_tests::berth::{TestRoot, berth_bin};
use berth_tests::images::{self, Compression, Image};
use berth_tests::registry::Registry;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The container's main process: waits, and exits at once on `stop`.
const IDLE: &str = "trap 'exit 0' TERM; while true; do sleep 1; done";
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A state root with `image` pulled and tagged `hc`, a runtime for the
/// monitors, and the containers the test started.
struct World {
    root: TestRoot,
    _registry: Registry,
    runtime: Option<tokio::runtime::Runtime>,
    containers: Containers,
    names: Vec<String>,
    ids: Vec<String>,
}

impl World {
    fn new(image: &Image) -> World {
        let registry = Registry::start();
        let reference = registry.reference("health:latest");
        images::push(image, &reference);
        let root = TestRoot::new();
        root.ok(&["pull", "-q", &reference]);
        root.ok(&["tag", &reference, "hc"]);
        let helper = HelperCommand { program: berth_bin(), args: vec!["internal".into()], arg0: None };
        let containers = Containers::open_with(&state_root(&root), helper).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        World { root, _registry: registry, runtime: Some(runtime), containers, names: Vec::new(), ids: Vec::new() }
    }

    /// Runs an idle container named `name`; returns its ID.
    fn run(&mut self, name: &str) -> ContainerId {
        self.names.push(name.to_owned());
        let id = self.root.ok(&["run", "-d", "--name", name, "--hostname", name, "hc", "sh", "-c", IDLE]);
        self.ids.push(id.trim().to_owned());
        ContainerId::parse(id.trim()).expect("run prints the ID")
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until the end")
    }

    fn monitor(&self, name: &str, config: HealthConfig) -> (HealthMonitor, mpsc::UnboundedReceiver<HealthEvent>) {
        let (events_tx, events) = mpsc::unbounded_channel();
        let _entered = self.runtime().enter();
        (HealthMonitor::spawn(&self.containers, name, config, events_tx).unwrap(), events)
    }

    fn next_event(&self, events: &mut mpsc::UnboundedReceiver<HealthEvent>) -> HealthEvent {
        self.runtime()
            .block_on(async { tokio::time::timeout(EVENT_TIMEOUT, events.recv()).await })
            .expect("a health change in time")
            .expect("the monitor runs")
    }

    fn stop(&self, monitor: HealthMonitor, reason: StopReason) {
        self.runtime()
            .block_on(async { tokio::time::timeout(EVENT_TIMEOUT, monitor.stop(reason)).await })
            .expect("stops in time");
    }

    fn image_health(&self, name: &str) -> ImageHealth {
        let record = self.containers.lookup(name).unwrap();
        let store = ImageStore::open(&state_root(&self.root)).unwrap();
        ImageHealth::of_image(&store, &record.config.image_id).unwrap()
    }

    fn saved(&self, id: &ContainerId) -> health::Health {
        health::load(&state_root(&self.root), id).unwrap().expect("the health is saved")
    }

    /// Removes every container and asserts nothing of the test is left.
    fn finish(mut self) {
        self.runtime.take().unwrap().shutdown_timeout(Duration::from_secs(10));
        for name in std::mem::take(&mut self.names) {
            self.root.ok(&["rm", "-f", &name]);
        }
        self.root.assert_no_container_leftovers(&std::mem::take(&mut self.ids));
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // A failed test: monitors (and their probes) go first, then the containers.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(10));
        }
        for name in &self.names {
            let _ = self.root.berth(&["rm", "-f", name]);
        }
    }
}

fn state_root(root: &TestRoot) -> Root {
    Root::new(root.root(), root.run_dir())
}

/// Command lines (NUL-separated arguments joined by spaces) of host processes matching `pick`.
fn processes(pick: impl Fn(&str) -> bool) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " ").trim_end().to_owned())
        .filter(|cmdline| pick(cmdline))
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn duration(text: &str) -> Option<ComposeDuration> {
    Some(ComposeDuration::parse(text).unwrap())
}

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| (*s).to_owned()).collect())
}

/// The check of a compose service with this `healthcheck`, on an image without one.
fn compose_check(world: &World, name: &str, check: Healthcheck) -> HealthConfig {
    health::resolve(Some(&check), &world.image_health(name)).unwrap().expect("a healthcheck")
}

/// `exec-*.json` files the exec helper left in the container's directory.
fn exec_leftovers(world: &World, id: &ContainerId) -> Vec<String> {
    let dir = world.root.root().join("containers").join(id.as_str());
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("exec-"))
        .collect()
}

fn busybox() -> Image {
    images::busybox(Compression::Gzip)
}

/// `image` with its config changed by `edit`, and its manifest naming the new config.
fn with_config(image: Image, edit: impl FnOnce(&mut Value)) -> Image {
    let mut config: Value = serde_json::from_slice(&image.config).unwrap();
    edit(&mut config);
    let config = serde_json::to_vec(&config).unwrap();
    let mut manifest: Value = serde_json::from_slice(&image.manifest).unwrap();
    manifest["config"]["digest"] = json!(images::sha256(&config));
    manifest["config"]["size"] = json!(config.len());
    Image { config, manifest: serde_json::to_vec(&manifest).unwrap(), ..image }
}

#[test]
fn a_passing_check_makes_the_container_healthy() {
    let mut world = World::new(&busybox());
    let id = world.run("hc-pass");
    let check = Healthcheck {
        test: strings(&["CMD-SHELL", "echo ok from $(hostname) as $(id -u)"]),
        interval: duration("200ms"),
        ..Default::default()
    };
    let config = compose_check(&world, "hc-pass", check);
    let (monitor, mut events) = world.monitor("hc-pass", config);
    assert_eq!(monitor.container(), &id);
    assert_eq!(world.saved(&id).status, HealthStatus::Starting, "starting as soon as the monitor runs");

    let event = world.next_event(&mut events);
    assert_eq!((event.from, event.to), (HealthStatus::Starting, HealthStatus::Healthy));
    let probe = event.health.log.last().unwrap();
    assert_eq!(probe.exit_code, 0);
    assert_eq!(probe.output, "ok from hc-pass as 0\n", "run inside the container");
    // What `inspect` in another process reads.
    let saved = world.saved(&id);
    assert_eq!((saved.status, saved.failing_streak), (HealthStatus::Healthy, 0));

    // The container stops: the monitor ends by itself, the container is
    // reported unhealthy (as Docker reports it), and no change is announced.
    world.root.ok(&["stop", "hc-pass"]);
    wait_until("the monitor to end", || monitor.is_finished());
    assert_eq!(world.saved(&id).status, HealthStatus::Unhealthy);
    assert!(events.try_recv().is_err(), "a stop is not a health change: {:?}", events.try_recv());
    assert!(exec_leftovers(&world, &id).is_empty());
    drop(monitor);
    world.finish();
}

#[test]
fn a_failing_check_turns_unhealthy_after_retries_and_recovers() {
    let mut world = World::new(&busybox());
    let id = world.run("hc-fail");
    let check = Healthcheck {
        test: strings(&["CMD", "cat", "/tmp/ready"]),
        interval: duration("100ms"),
        retries: Some(3),
        ..Default::default()
    };
    let config = compose_check(&world, "hc-fail", check);
    let (monitor, mut events) = world.monitor("hc-fail", config);

    let event = world.next_event(&mut events);
    assert_eq!((event.from, event.to), (HealthStatus::Starting, HealthStatus::Unhealthy));
    assert_eq!(event.health.failing_streak, 3, "unhealthy at the third failure in a row, not before");
    assert_eq!(event.health.log.len(), 3);
    for probe in &event.health.log {
        assert_eq!(probe.exit_code, 1);
        assert_eq!(probe.output, "cat: can't open '/tmp/ready': No such file or directory\n");
    }
    assert_eq!(world.saved(&id).status, HealthStatus::Unhealthy);

    // The check passes once the file exists in the container.
    world.root.ok(&["exec", "hc-fail", "touch", "/tmp/ready"]);
    let event = world.next_event(&mut events);
    assert_eq!((event.from, event.to), (HealthStatus::Unhealthy, HealthStatus::Healthy));
    assert_eq!(world.saved(&id).failing_streak, 0);

    // A daemon that lets go and a new one that takes over: still healthy, not starting again.
    world.stop(monitor, StopReason::Detach);
    let config =
        compose_check(&world, "hc-fail", Healthcheck { test: strings(&["CMD", "true"]), ..Default::default() });
    let (monitor, _events) = world.monitor("hc-fail", config);
    assert_eq!(monitor.health().status, HealthStatus::Healthy);
    world.stop(monitor, StopReason::ContainerStopped);
    assert_eq!(world.saved(&id).status, HealthStatus::Unhealthy);
    assert!(exec_leftovers(&world, &id).is_empty());
    world.finish();
}

#[test]
fn a_hanging_probe_is_killed_at_its_timeout() {
    let mut world = World::new(&busybox());
    let id = world.run("hc-hang");
    // A probe every 5 s, each hanging; one failure is enough. (The timeout
    // leaves the exec helper time to start the probe on a loaded machine.)
    let check = Healthcheck {
        test: strings(&["CMD-SHELL", "echo probing; sleep 7373; echo never"]),
        interval: duration("5s"),
        timeout: duration("3s"),
        retries: Some(1),
        ..Default::default()
    };
    let config = compose_check(&world, "hc-hang", check);
    let (monitor, mut events) = world.monitor("hc-hang", config);
    let is_probe = |cmdline: &str| cmdline == "sleep 7373";

    let event = world.next_event(&mut events);
    assert_eq!((event.from, event.to), (HealthStatus::Starting, HealthStatus::Unhealthy));
    let probe = &event.health.log[0];
    assert_eq!(probe.exit_code, -1);
    assert_eq!(probe.output, "Health check exceeded timeout (3s): probing\n");
    let ran = (probe.end - probe.start).num_milliseconds();
    assert!((3000..60_000).contains(&ran), "ran {ran} ms: until the timeout, not to its end");
    // Killed in the container, not only its helper on the host; the container runs on.
    wait_until("the timed-out probe to be gone", || processes(is_probe).is_empty());
    let state: Value = serde_json::from_str(&world.root.ok(&["inspect", "hc-hang"])).unwrap();
    assert_eq!(state[0]["State"]["Running"], json!(true));

    // A probe under way when the monitor stops is killed as well, and the
    // exec helper, which saw its probe die, cleaned up after itself.
    wait_until("the next probe", || !processes(is_probe).is_empty());
    world.stop(monitor, StopReason::ContainerStopped);
    wait_until("the stopped probe to be gone", || processes(is_probe).is_empty());
    wait_until("the exec helper to clean up", || exec_leftovers(&world, &id).is_empty());
    world.finish();
}

#[test]
fn the_images_healthcheck_is_used_when_the_service_has_none() {
    let image = with_config(busybox(), |config| {
        config["config"]["Healthcheck"] = json!({
            "Test": ["CMD-SHELL", "echo from the image; test -e /etc/passwd"],
            "Interval": 200_000_000,
            "Timeout": 5_000_000_000_u64,
            "StartPeriod": 60_000_000_000_u64,
            "StartInterval": 100_000_000,
            "Retries": 2,
        });
    });
    let mut world = World::new(&image);
    let id = world.run("hc-image");
    let from_image = world.image_health("hc-image");
    let config = health::resolve(None, &from_image).unwrap().expect("the image's healthcheck");
    assert_eq!(
        config,
        HealthConfig {
            test: HealthTest::Shell {
                shell: vec!["/bin/sh".into(), "-c".into()],
                command: "echo from the image; test -e /etc/passwd".into(),
            },
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
            start_period: Duration::from_secs(60),
            start_interval: Duration::from_millis(100),
            retries: 2,
        }
    );
    // A service that sets only some fields keeps the image's others.
    let partial = Healthcheck { retries: Some(9), timeout: duration("3s"), ..Default::default() };
    let merged = health::resolve(Some(&partial), &from_image).unwrap().unwrap();
    assert_eq!((merged.test.clone(), merged.retries, merged.timeout), (config.test.clone(), 9, Duration::from_secs(3)));
    assert_eq!(merged.interval, Duration::from_millis(200));
    // `disable: true` turns it off.
    let disabled = Healthcheck { disable: Some(true), ..Default::default() };
    assert_eq!(health::resolve(Some(&disabled), &from_image).unwrap(), None);

    let (monitor, mut events) = world.monitor("hc-image", config);
    let event = world.next_event(&mut events);
    assert_eq!((event.from, event.to), (HealthStatus::Starting, HealthStatus::Healthy));
    assert_eq!(event.health.log.last().unwrap().output, "from the image\n");
    assert_eq!(world.saved(&id).status, HealthStatus::Healthy);
    world.stop(monitor, StopReason::ContainerStopped);
    world.finish();
}
