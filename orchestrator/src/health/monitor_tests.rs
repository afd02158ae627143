//! The health task with host processes as probes and a file as the
//! container's state: scheduling, events, saving, stopping, restarts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::health::config::HealthTest;
use crate::health::test_support::{gone, read_pid};

/// Probes run `sh -c SCRIPT` on the host; the "container" state is a file
/// the test (or the probe) writes: `running <RFC 3339 start>`, `restarting`, `paused` or `stopped`.
struct HostTarget {
    script: String,
    state_file: PathBuf,
}

impl Target for HostTarget {
    fn probe(&self) -> Command {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg(&self.script);
        command
    }

    fn observe(&self) -> Observed {
        let text = std::fs::read_to_string(&self.state_file).unwrap_or_default();
        match text.split_once(' ') {
            Some(("running", at)) => Observed::Running(DateTime::parse_from_rfc3339(at.trim()).unwrap().into()),
            _ if text.trim() == "restarting" => Observed::Restarting,
            _ if text.trim() == "paused" => Observed::Paused,
            _ => Observed::Stopped,
        }
    }
}

struct Setup {
    dir: tempfile::TempDir,
    started: DateTime<Utc>,
    events: mpsc::UnboundedReceiver<HealthEvent>,
    monitor: HealthMonitor,
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn saved(&self) -> Health {
        persist::load_state(&self.path("health.json")).unwrap().expect("saved").health().clone()
    }

    async fn next_event(&mut self) -> HealthEvent {
        tokio::time::timeout(Duration::from_secs(20), self.events.recv()).await.expect("an event in time").unwrap()
    }

    /// Waits until the log has `length` entries.
    async fn wait_for_log(&self, length: usize) -> Health {
        let mut watch = self.monitor.subscribe();
        tokio::time::timeout(Duration::from_secs(20), watch.wait_for(|h| h.log.len() >= length))
            .await
            .expect("probes in time")
            .unwrap()
            .clone()
    }
}

fn set_state(file: &Path, text: &str) {
    berth_runtime::store::write_atomic(file, text.as_bytes()).unwrap();
}

fn running(at: DateTime<Utc>) -> String {
    format!("running {}", at.to_rfc3339())
}

fn config(retries: u32, start_period: Duration) -> HealthConfig {
    HealthConfig {
        test: HealthTest::Cmd(vec!["unused".into()]),
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
        start_period,
        start_interval: Duration::from_millis(20),
        retries,
    }
}

/// Starts a monitor whose probe is `script`, where `$DIR` is the test's directory.
fn setup(script: &str, config: HealthConfig, saved: Option<HealthState>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // A saved state is of this same run of the "container".
    let started = saved.as_ref().map_or_else(Utc::now, HealthState::started_at);
    let state_file = dir.path().join("state");
    set_state(&state_file, &running(started));
    let path = dir.path().join("health.json");
    if let Some(saved) = &saved {
        persist::save(&path, saved).unwrap();
    }
    let script = script.replace("$DIR", &dir.path().display().to_string());
    let (events_tx, events) = mpsc::unbounded_channel();
    let state = initial_state(&path, started);
    let monitor = HealthMonitor::start(
        ContainerId::generate().unwrap(),
        HostTarget { script, state_file },
        path,
        config,
        state,
        events_tx,
    );
    Setup { dir, started, events, monitor }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_check_turns_healthy_and_is_saved() {
    let mut s = setup("echo fine", config(3, Duration::ZERO), None);
    let event = s.next_event().await;
    assert_eq!((event.from, event.to), (HealthStatus::Starting, HealthStatus::Healthy));
    assert_eq!(&event.container, s.monitor.container());
    assert_eq!(event.health.log.last().unwrap().output, "fine\n");
    assert_eq!(s.saved().status, HealthStatus::Healthy, "saved before it is announced");
    assert_eq!(s.monitor.health().status, HealthStatus::Healthy);
    // It keeps probing, and the log stays at five.
    let health = s.wait_for_log(5).await;
    assert_eq!(health.log.len(), 5);
    assert_eq!(s.wait_for_log(5).await.log.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_turns_unhealthy_after_retries_and_recovers() {
    let mut s = setup("echo missing >&2; test -f $DIR/ok", config(3, Duration::ZERO), None);
    let event = s.next_event().await;
    assert_eq!((event.from, event.to), (HealthStatus::Starting, HealthStatus::Unhealthy));
    assert_eq!(event.health.failing_streak, 3, "at the third failure, not before");
    assert_eq!(event.health.log.len(), 3);
    assert!(event.health.log.iter().all(|l| l.exit_code == 1 && l.output == "missing\n"), "{:?}", event.health.log);
    std::fs::write(s.path("ok"), "").unwrap();
    let event = s.next_event().await;
    assert_eq!((event.from, event.to), (HealthStatus::Unhealthy, HealthStatus::Healthy));
    assert_eq!(event.health.failing_streak, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_in_the_start_period_are_not_counted() {
    let mut s = setup("test -f $DIR/ok", config(1, Duration::from_secs(3600)), None);
    let health = s.wait_for_log(3).await;
    assert_eq!((health.status, health.failing_streak), (HealthStatus::Starting, 0));
    assert!(s.events.try_recv().is_err(), "no change yet");
    std::fs::write(s.path("ok"), "").unwrap();
    let event = s.next_event().await;
    assert_eq!((event.from, event.to), (HealthStatus::Starting, HealthStatus::Healthy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_stops_ends_the_task_unhealthy_without_an_event() {
    let mut s = setup("true", config(3, Duration::ZERO), None);
    assert_eq!(s.next_event().await.to, HealthStatus::Healthy);
    set_state(&s.path("state"), "stopped");
    tokio::time::timeout(Duration::from_secs(20), async {
        while !s.monitor.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the task ends by itself");
    assert_eq!(s.saved().status, HealthStatus::Unhealthy);
    assert_eq!(s.monitor.health().status, HealthStatus::Unhealthy);
    assert!(s.events.try_recv().is_err(), "a stop is not a health change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_caused_by_the_stop_is_not_recorded() {
    // The probe itself "stops the container", then fails.
    let s = setup("echo stopped > $DIR/state; exit 1", config(1, Duration::ZERO), None);
    let mut watch = s.monitor.subscribe();
    tokio::time::timeout(Duration::from_secs(20), watch.wait_for(|h| h.status == HealthStatus::Unhealthy))
        .await
        .unwrap()
        .unwrap();
    assert!(s.saved().log.is_empty(), "the failure was not logged: {:?}", s.saved().log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_detach() {
    let mut s = setup("true", config(3, Duration::ZERO), None);
    assert_eq!(s.next_event().await.to, HealthStatus::Healthy);
    let Setup { dir, monitor, .. } = s;
    monitor.stop(StopReason::Detach).await;
    let path = dir.path().join("health.json");
    let saved = persist::load_state(&path).unwrap().unwrap();
    assert_eq!(saved.status(), HealthStatus::Healthy, "a detached monitor leaves the health as it was");

    // A new monitor of the same run takes it up; it is not `starting` again.
    let s = setup("sleep 1000 & echo $! > $DIR/probe; wait", config(3, Duration::ZERO), Some(saved.clone()));
    assert_eq!(s.monitor.health().status, HealthStatus::Healthy);
    // A probe under way is killed by the stop; a stopped container is unhealthy.
    let probe = read_pid(&s.path("probe"));
    let Setup { dir, monitor, .. } = s;
    tokio::time::timeout(Duration::from_secs(10), monitor.stop(StopReason::ContainerStopped))
        .await
        .expect("stop does not wait for the probe");
    assert!(gone(probe), "the probe under way was killed");
    assert_eq!(
        persist::load_state(&dir.path().join("health.json")).unwrap().unwrap().status(),
        HealthStatus::Unhealthy
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_run_starts_over_with_the_log_kept() {
    let earlier = Utc::now() - chrono::TimeDelta::hours(1);
    let mut saved = HealthState::new(earlier, Vec::new());
    saved.record(
        &config(1, Duration::ZERO),
        crate::health::state::ProbeResult {
            start: earlier,
            end: earlier,
            outcome: ProbeOutcome::Exited(1),
            output: "old".into(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("health.json");
    persist::save(&path, &saved).unwrap();
    let now = Utc::now();
    let state = initial_state(&path, now);
    assert_eq!((state.status(), state.started_at()), (HealthStatus::Starting, now));
    assert_eq!(state.health().log, saved.health().log);
    assert_eq!(initial_state(&path, earlier), saved, "the same run: taken up");
    std::fs::write(&path, "garbage").unwrap();
    assert_eq!(initial_state(&path, now), HealthState::new(now, Vec::new()), "a damaged file: start over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_behind_the_monitors_back_makes_it_starting_again() {
    let mut s = setup("echo >> $DIR/count; test -f $DIR/ok", config(1, Duration::from_secs(3600)), None);
    std::fs::write(s.path("ok"), "").unwrap();
    assert_eq!(s.next_event().await.to, HealthStatus::Healthy);
    std::fs::remove_file(s.path("ok")).unwrap();
    set_state(&s.path("state"), "restarting");
    // While it restarts, nothing is probed (but the probe that may be under way).
    let probes = || std::fs::read_to_string(s.path("count")).unwrap().lines().count();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = probes();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(probes(), before, "probed while restarting");
    let restarted = s.started + chrono::TimeDelta::seconds(5);
    set_state(&s.path("state"), &running(restarted));
    let event = s.next_event().await;
    assert_eq!((event.from, event.to), (HealthStatus::Healthy, HealthStatus::Starting));
    // In the new run's start period, failures do not count.
    let length = s.monitor.health().log.len();
    let health = s.wait_for_log((length + 2).min(5)).await;
    assert_eq!((health.status, health.failing_streak), (HealthStatus::Starting, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_container_is_not_probed_and_stays_healthy() {
    let mut s = setup("echo >> $DIR/count; test -f $DIR/ok", config(1, Duration::ZERO), None);
    std::fs::write(s.path("ok"), "").unwrap();
    assert_eq!(s.next_event().await.to, HealthStatus::Healthy);
    // Paused: a probe would fail (the check cannot run), but none runs and none counts.
    std::fs::remove_file(s.path("ok")).unwrap();
    set_state(&s.path("state"), "paused");
    let probes = || std::fs::read_to_string(s.path("count")).unwrap().lines().count();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = probes();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(probes(), before, "probed while paused");
    assert!(!s.monitor.is_finished(), "a paused container is not a stopped one");
    assert_eq!(s.monitor.health().status, HealthStatus::Healthy);
    assert!(s.events.try_recv().is_err(), "no change while paused");
    // Unpaused (the same run): probed again, and now it fails.
    set_state(&s.path("state"), &running(s.started));
    assert_eq!(s.next_event().await.to, HealthStatus::Unhealthy);
}
