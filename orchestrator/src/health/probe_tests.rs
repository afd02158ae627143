//! The probe runner on host processes (no container needed): exit codes,
//! combined output, the output limit, timeouts and what they kill.

use std::process::Command;
use std::time::Duration;

use super::*;
use crate::health::test_support::{gone, read_pid};

fn sh(script: &str) -> Command {
    let mut command = Command::new("/bin/sh");
    command.arg("-c").arg(script);
    command
}

#[tokio::test]
async fn exit_code_and_both_streams_in_order() {
    let result = run_probe(sh("echo out; echo err >&2; echo more; exit 3"), Duration::from_secs(30)).await;
    assert_eq!(result.outcome, ProbeOutcome::Exited(3));
    assert_eq!(result.output, "out\nerr\nmore\n");
    assert!(result.start <= result.end);
    let result = run_probe(sh("true"), Duration::from_secs(30)).await;
    assert_eq!((result.outcome, result.output.as_str()), (ProbeOutcome::Exited(0), ""));
}

#[tokio::test]
async fn output_beyond_4096_bytes_is_dropped() {
    let result = run_probe(sh("head -c 100000 /dev/zero | tr '\\0' a; echo end >&2"), Duration::from_secs(30)).await;
    assert_eq!(result.outcome, ProbeOutcome::Exited(0));
    assert_eq!(result.output, format!("{}...", "a".repeat(MAX_OUTPUT_BYTES)));
}

#[tokio::test]
async fn a_probe_killed_by_a_signal_exits_128_plus_it() {
    let result = run_probe(sh("kill -9 $$"), Duration::from_secs(30)).await;
    assert_eq!(result.outcome, ProbeOutcome::Exited(137));
}

#[tokio::test]
async fn a_probe_that_cannot_start_fails() {
    let result = run_probe(Command::new("/nonexistent/berth-probe"), Duration::from_secs(30)).await;
    match result.outcome {
        ProbeOutcome::Failed(message) => assert!(message.starts_with("cannot start the health check: "), "{message}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn at_the_timeout_the_probe_and_its_children_are_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!("echo started; sleep 1000 & echo $! > {}; wait", pids.display());
    let result = run_probe(sh(&script), Duration::from_millis(300)).await;
    assert_eq!(result.outcome, ProbeOutcome::TimedOut);
    assert_eq!(result.output, "started\n", "the output up to the kill");
    assert!(result.end - result.start >= chrono::TimeDelta::milliseconds(300));
    assert!(gone(read_pid(&pids)), "the probe's child was killed");
}

#[tokio::test]
async fn a_helper_that_outlives_its_child_is_killed_with_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // After its first child is killed, the "helper" starts another: its group goes.
    let script = format!("echo $$ > {}; sleep 1000; sleep 1000", pids.display());
    let result = run_probe(sh(&script), Duration::from_millis(300)).await;
    assert_eq!(result.outcome, ProbeOutcome::TimedOut);
    assert!(gone(read_pid(&pids)), "the helper was killed");
    // A probe with no child at all is killed at once.
    let mut sleep = Command::new("/bin/sleep");
    sleep.arg("1000");
    let result = run_probe(sleep, Duration::from_millis(200)).await;
    assert_eq!(result.outcome, ProbeOutcome::TimedOut);
}

#[tokio::test]
async fn a_background_process_holding_the_pipe_does_not_hold_the_probe() {
    let result = run_probe(sh("sleep 1000 & echo $!; echo done"), Duration::from_secs(60)).await;
    assert_eq!(result.outcome, ProbeOutcome::Exited(0), "ended at the exit, not at the timeout");
    let mut lines = result.output.lines();
    let leftover: i32 = lines.next().unwrap().parse().unwrap();
    assert_eq!(lines.next(), Some("done"));
    // Docker leaves such processes be; this test cleans up its own.
    let _ =
        rustix::process::kill_process(rustix::process::Pid::from_raw(leftover).unwrap(), rustix::process::Signal::KILL);
    assert!(gone(leftover));
}

#[tokio::test]
async fn a_probe_abandoned_midway_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!("sleep 1000 & echo $! > {}; wait", pids.display());
    let abandoned =
        tokio::time::timeout(Duration::from_millis(300), run_probe(sh(&script), Duration::from_secs(100))).await;
    assert!(abandoned.is_err(), "the probe was still running");
    assert!(gone(read_pid(&pids)), "dropping the probe killed it");
}
