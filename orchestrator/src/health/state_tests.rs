//! The state machine, with times as data: `t(s)` is `s` seconds after the container started.

use super::*;
use crate::health::config::{HealthConfig, HealthTest};

fn t(seconds: f64) -> DateTime<Utc> {
    let base = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
    base + TimeDelta::nanoseconds((seconds * 1e9).round() as i64)
}

fn config(start_period: u64, retries: u32) -> HealthConfig {
    HealthConfig {
        test: HealthTest::Cmd(vec!["check".into()]),
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(1),
        start_period: Duration::from_secs(start_period),
        start_interval: Duration::from_secs(5),
        retries,
    }
}

/// A probe that started at `t(at)` and took 100 ms.
fn probe(at: f64, outcome: ProbeOutcome, output: &str) -> ProbeResult {
    ProbeResult { start: t(at), end: t(at + 0.1), outcome, output: output.into() }
}

fn pass(at: f64) -> ProbeResult {
    probe(at, ProbeOutcome::Exited(0), "ok\n")
}

fn fail(at: f64) -> ProbeResult {
    probe(at, ProbeOutcome::Exited(1), "not yet\n")
}

fn fresh() -> HealthState {
    HealthState::new(t(0.0), Vec::new())
}

fn transition(from: HealthStatus, to: HealthStatus) -> Option<Transition> {
    Some(Transition { from, to })
}

use HealthStatus::{Healthy, Starting, Unhealthy};

#[test]
fn a_new_container_is_starting() {
    let state = fresh();
    assert_eq!(state.health(), &Health { status: Starting, failing_streak: 0, log: vec![] });
    assert_eq!(state.started_at(), t(0.0));
}

#[test]
fn a_success_makes_it_healthy() {
    let mut state = fresh();
    assert_eq!(state.record(&config(0, 3), pass(30.0)), transition(Starting, Healthy));
    assert_eq!(state.status(), Healthy);
    assert_eq!(state.health().failing_streak, 0);
    assert_eq!(state.record(&config(0, 3), pass(60.0)), None, "no change, no transition");
}

#[test]
fn unhealthy_after_retries_failures_in_a_row() {
    let c = config(0, 3);
    let mut state = fresh();
    assert_eq!(state.record(&c, fail(30.0)), None);
    assert_eq!((state.status(), state.health().failing_streak), (Starting, 1));
    assert_eq!(state.record(&c, fail(60.0)), None);
    assert_eq!((state.status(), state.health().failing_streak), (Starting, 2));
    assert_eq!(state.record(&c, fail(90.0)), transition(Starting, Unhealthy));
    assert_eq!((state.status(), state.health().failing_streak), (Unhealthy, 3));
    // Further failures keep counting, without another transition.
    assert_eq!(state.record(&c, fail(120.0)), None);
    assert_eq!((state.status(), state.health().failing_streak), (Unhealthy, 4));
}

#[test]
fn a_healthy_container_stays_healthy_until_retries_failures() {
    let c = config(0, 2);
    let mut state = fresh();
    state.record(&c, pass(30.0));
    assert_eq!(state.record(&c, fail(60.0)), None);
    assert_eq!((state.status(), state.health().failing_streak), (Healthy, 1));
    // A success in between resets the streak.
    assert_eq!(state.record(&c, pass(90.0)), None);
    assert_eq!(state.health().failing_streak, 0);
    assert_eq!(state.record(&c, fail(120.0)), None);
    assert_eq!(state.record(&c, fail(150.0)), transition(Healthy, Unhealthy));
}

#[test]
fn an_unhealthy_container_recovers_on_one_success() {
    let c = config(0, 1);
    let mut state = fresh();
    assert_eq!(state.record(&c, fail(30.0)), transition(Starting, Unhealthy), "retries 1: the first failure");
    assert_eq!(state.record(&c, pass(60.0)), transition(Unhealthy, Healthy));
    assert_eq!(state.health().failing_streak, 0);
}

#[test]
fn retries_zero_means_one() {
    let mut state = fresh();
    assert_eq!(state.record(&config(0, 0), fail(30.0)), transition(Starting, Unhealthy));
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let c = config(60, 1);
    let mut state = fresh();
    for at in [5.0, 10.0, 30.0, 59.9] {
        assert_eq!(state.record(&c, fail(at)), None, "failure at {at}s is in the start period");
        assert_eq!((state.status(), state.health().failing_streak), (Starting, 0));
    }
    // A probe that starts when the period is over counts (Docker compares the probe's start).
    assert_eq!(state.record(&c, fail(60.0)), transition(Starting, Unhealthy));
    assert_eq!(state.health().failing_streak, 1);
}

#[test]
fn a_probe_started_in_the_period_but_ending_after_it_does_not_count() {
    let c = config(60, 1);
    let mut state = fresh();
    let slow = ProbeResult { start: t(59.0), end: t(61.0), outcome: ProbeOutcome::TimedOut, output: String::new() };
    assert_eq!(state.record(&c, slow), None);
    assert_eq!(state.health().failing_streak, 0);
}

#[test]
fn a_success_ends_the_start_period() {
    let c = config(60, 2);
    let mut state = fresh();
    state.record(&c, fail(5.0));
    assert_eq!(state.record(&c, pass(10.0)), transition(Starting, Healthy));
    // Still within the 60 s, but the container was healthy once: failures count now.
    assert_eq!(state.record(&c, fail(15.0)), None);
    assert_eq!(state.health().failing_streak, 1);
    assert_eq!(state.record(&c, fail(20.0)), transition(Healthy, Unhealthy));
}

#[test]
fn the_log_keeps_the_last_five_oldest_first() {
    let c = config(0, 100);
    let mut state = fresh();
    for i in 0..8 {
        let code = if i % 2 == 0 { 0 } else { 1 };
        state.record(&c, probe(f64::from(i) * 30.0, ProbeOutcome::Exited(code), &format!("probe {i}")));
    }
    let log = &state.health().log;
    assert_eq!(log.len(), MAX_LOG_ENTRIES);
    let outputs: Vec<&str> = log.iter().map(|l| l.output.as_str()).collect();
    assert_eq!(outputs, ["probe 3", "probe 4", "probe 5", "probe 6", "probe 7"]);
    assert_eq!(log[0].start, t(90.0));
    assert_eq!(log[0].end, t(90.1));
    assert_eq!(log.iter().map(|l| l.exit_code).collect::<Vec<_>>(), [1, 0, 1, 0, 1]);
}

#[test]
fn any_exit_code_but_zero_is_a_failure() {
    let c = config(0, 2);
    let mut state = fresh();
    state.record(&c, probe(30.0, ProbeOutcome::Exited(2), "reserved code"));
    state.record(&c, probe(60.0, ProbeOutcome::Exited(137), "killed"));
    assert_eq!((state.status(), state.health().failing_streak), (Unhealthy, 2));
    assert_eq!(state.health().log[1].exit_code, 137);
    assert_eq!(state.health().log[1].output, "killed");
}

#[test]
fn a_timeout_fails_with_dockers_message() {
    let c = config(0, 1);
    let mut state = fresh();
    state.record(&c, probe(30.0, ProbeOutcome::TimedOut, ""));
    state.record(&c, probe(60.0, ProbeOutcome::TimedOut, "partial output\n"));
    let log = &state.health().log;
    assert_eq!(log[0].exit_code, -1);
    assert_eq!(log[0].output, "Health check exceeded timeout (1s)");
    assert_eq!(log[1].output, "Health check exceeded timeout (1s): partial output\n");
    assert_eq!(state.status(), Unhealthy);
    let mut odd = config(0, 1);
    odd.timeout = Duration::from_millis(1500);
    let mut state = fresh();
    state.record(&odd, probe(30.0, ProbeOutcome::TimedOut, ""));
    assert_eq!(state.health().log[0].output, "Health check exceeded timeout (1.5s)", "Go's duration format");
}

#[test]
fn a_probe_that_cannot_run_fails_with_its_error() {
    let mut state = fresh();
    state.record(&config(0, 1), probe(30.0, ProbeOutcome::Failed("cannot start the probe: ENOENT".into()), ""));
    let entry = &state.health().log[0];
    assert_eq!((entry.exit_code, entry.output.as_str()), (-1, "cannot start the probe: ENOENT"));
    assert_eq!(state.status(), Unhealthy);
}

#[test]
fn probes_come_every_start_interval_in_the_start_period_until_the_first_success() {
    let c = config(60, 3);
    let mut state = fresh();
    // The first probe: start_interval after the start.
    assert_eq!(state.next_probe_at(&c, t(0.0)), t(5.0));
    state.record(&c, fail(5.0));
    assert_eq!(state.next_probe_at(&c, t(5.1)), t(10.1), "from the end of the last probe");
    // Never past the end of the period; after it, the normal interval.
    assert_eq!(state.next_probe_at(&c, t(57.0)), t(60.0));
    assert_eq!(state.next_probe_at(&c, t(60.0)), t(90.0));
    // A success ends the fast probing at once.
    state.record(&c, pass(10.1));
    assert_eq!(state.next_probe_at(&c, t(10.2)), t(40.2));
}

#[test]
fn a_start_interval_longer_than_the_start_period_ends_with_the_period() {
    // moby#46747: StartPeriod 2s, StartInterval 30s, Interval 2s: the first probe at 2 s, then every 2 s.
    let mut c = config(2, 1);
    (c.start_interval, c.interval) = (Duration::from_secs(30), Duration::from_secs(2));
    let mut state = fresh();
    assert_eq!(state.next_probe_at(&c, t(0.0)), t(2.0));
    assert_eq!(
        state.record(&c, fail(2.0)),
        transition(Starting, Unhealthy),
        "the probe at the end of the period counts"
    );
    assert_eq!(state.next_probe_at(&c, t(2.1)), t(4.1));
}

#[test]
fn without_a_start_period_probes_come_every_interval() {
    let c = config(0, 3);
    let mut state = fresh();
    assert_eq!(state.next_probe_at(&c, t(0.0)), t(30.0));
    state.record(&c, fail(30.0));
    assert_eq!(state.next_probe_at(&c, t(30.1)), t(60.1));
}

#[test]
fn a_restart_starts_over_and_keeps_the_log() {
    let c = config(60, 1);
    let mut state = fresh();
    state.record(&c, pass(5.0));
    state.record(&c, fail(100.0));
    assert_eq!(state.status(), Unhealthy);
    assert_eq!(state.restarted(t(200.0)), transition(Unhealthy, Starting));
    assert_eq!((state.status(), state.health().failing_streak, state.health().log.len()), (Starting, 0, 2));
    assert_eq!(state.started_at(), t(200.0));
    // The start period counts from the new start.
    assert_eq!(state.record(&c, fail(230.0)), None);
    assert_eq!(state.next_probe_at(&c, t(230.1)), t(235.1));
    assert_eq!(state.restarted(t(300.0)), None, "starting already");
    // The log of an earlier run is kept by `new` too.
    let log = state.health().log.clone();
    assert_eq!(HealthState::new(t(400.0), log.clone()).health().log, log);
}

#[test]
fn a_resumed_state_goes_on_where_it_was() {
    let c = config(0, 2);
    let saved = Health { status: Healthy, failing_streak: 1, log: vec![] };
    let mut state = HealthState::resume(saved, t(0.0));
    assert_eq!(state.record(&c, fail(100.0)), transition(Healthy, Unhealthy));
}

#[test]
fn a_stopped_container_is_unhealthy() {
    let mut state = fresh();
    state.record(&config(0, 3), pass(30.0));
    state.stopped();
    assert_eq!(state.status(), Unhealthy);
}

#[test]
fn output_is_cut_at_4096_bytes_like_docker() {
    let exact = vec![b'a'; MAX_OUTPUT_BYTES];
    assert_eq!(truncate_output(&exact, false).len(), MAX_OUTPUT_BYTES);
    let over = vec![b'a'; MAX_OUTPUT_BYTES + 1];
    let text = truncate_output(&over, false);
    assert_eq!(text.len(), MAX_OUTPUT_BYTES + 3);
    assert!(text.ends_with("a..."));
    assert_eq!(truncate_output(&exact, true).len(), MAX_OUTPUT_BYTES + 3, "more was discarded while reading");
    assert_eq!(truncate_output(b"bad \xff byte", false), "bad \u{fffd} byte");
    assert_eq!(truncate_output(b"", false), "");
}

#[test]
fn health_serializes_as_docker_inspect_shows_it() {
    let mut state = fresh();
    state.record(&config(0, 3), pass(30.0));
    let json = serde_json::to_value(state.health()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "Status": "healthy",
            "FailingStreak": 0,
            "Log": [{
                "Start": "2026-01-01T00:00:30Z",
                "End": "2026-01-01T00:00:30.100Z",
                "ExitCode": 0,
                "Output": "ok\n",
            }],
        })
    );
    let back: Health = serde_json::from_value(json).unwrap();
    assert_eq!(&back, state.health());
    assert_eq!(Starting.ps_suffix(), "(health: starting)");
    assert_eq!(Unhealthy.to_string(), "unhealthy");
}
