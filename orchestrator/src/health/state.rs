//! Docker's healthcheck rules as a pure state machine: probe results and
//! times go in (as data), the status, failing streak, log and the time of the
//! next probe come out. Follows moby's `daemon/health.go`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::config::HealthConfig;

/// Probe results kept in the log.
pub const MAX_LOG_ENTRIES: usize = 5;
/// A probe's output is kept up to this many bytes (then `...`).
pub const MAX_OUTPUT_BYTES: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// What `docker ps` appends to `Up 5 minutes`.
    pub fn ps_suffix(self) -> &'static str {
        match self {
            HealthStatus::Starting => "(health: starting)",
            HealthStatus::Healthy => "(healthy)",
            HealthStatus::Unhealthy => "(unhealthy)",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<HealthStatus> for crate::reconcile::observed::Health {
    fn from(status: HealthStatus) -> Self {
        use crate::reconcile::observed::Health;
        match status {
            HealthStatus::Starting => Health::Starting,
            HealthStatus::Healthy => Health::Healthy,
            HealthStatus::Unhealthy => Health::Unhealthy,
        }
    }
}

/// One probe in the log, as `docker inspect` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeLog {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The probe's exit code; -1 when it timed out or could not run.
    pub exit_code: i32,
    pub output: String,
}

/// `.State.Health` of `docker inspect`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    /// The last [`MAX_LOG_ENTRIES`] probes, oldest first.
    pub log: Vec<ProbeLog>,
}

impl Health {
    pub fn starting() -> Health {
        Health { status: HealthStatus::Starting, failing_streak: 0, log: Vec::new() }
    }
}

/// How a probe ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    Exited(i32),
    /// Still running at the timeout, and killed.
    TimedOut,
    /// It could not be run at all.
    Failed(String),
}

/// One probe: when it ran, how it ended, what it printed (stdout and stderr
/// together, already cut to [`MAX_OUTPUT_BYTES`] by [`truncate_output`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub outcome: ProbeOutcome,
    pub output: String,
}

/// The probe's output as Docker keeps it: the first [`MAX_OUTPUT_BYTES`]
/// bytes, with `...` when there was more (`truncated`, or `kept` is longer).
pub fn truncate_output(kept: &[u8], truncated: bool) -> String {
    let cut = kept.len() > MAX_OUTPUT_BYTES;
    let mut text = String::from_utf8_lossy(&kept[..kept.len().min(MAX_OUTPUT_BYTES)]).into_owned();
    if truncated || cut {
        text.push_str("...");
    }
    text
}

/// A change of status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: HealthStatus,
    pub to: HealthStatus,
}

/// The health of one run of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthState {
    health: Health,
    /// When the container (this run of it) started: the start period counts from here.
    started_at: DateTime<Utc>,
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

impl HealthState {
    /// A container that just started: `starting`, no failures. The log of
    /// an earlier run is kept, as Docker keeps it across restarts.
    pub fn new(started_at: DateTime<Utc>, log: Vec<ProbeLog>) -> HealthState {
        HealthState { health: Health { log, ..Health::starting() }, started_at }
    }

    /// The health saved for a run that started at `started_at`, taken up again.
    pub fn resume(health: Health, started_at: DateTime<Utc>) -> HealthState {
        HealthState { health, started_at }
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn status(&self) -> HealthStatus {
        self.health.status
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Whether `at` falls in the start period.
    fn in_start_period(&self, config: &HealthConfig, at: DateTime<Utc>) -> bool {
        at.signed_duration_since(self.started_at) < delta(config.start_period)
    }

    /// Takes a probe's result. A success makes the container healthy and
    /// clears the streak; a failure adds to the streak, and at `retries`
    /// failures in a row the container is unhealthy, except that failures
    /// in the start period of a container never healthy yet do not count.
    pub fn record(&mut self, config: &HealthConfig, result: ProbeResult) -> Option<Transition> {
        let from = self.health.status;
        let entry = log_entry(config, result);
        let start = entry.start;
        let healthy = entry.exit_code == 0;
        self.health.log.push(entry);
        let excess = self.health.log.len().saturating_sub(MAX_LOG_ENTRIES);
        self.health.log.drain(..excess);
        if healthy {
            self.health.failing_streak = 0;
            self.health.status = HealthStatus::Healthy;
        } else if !(from == HealthStatus::Starting && self.in_start_period(config, start)) {
            self.health.failing_streak = self.health.failing_streak.saturating_add(1);
            if self.health.failing_streak >= config.retries.max(1) {
                self.health.status = HealthStatus::Unhealthy;
            }
        }
        self.transition_from(from)
    }

    /// When the probe after one that ended at `after` is due (the first is
    /// due after the start): `start_interval` while in the start period and
    /// never healthy yet, but no later than the end of the period (moby#52317);
    /// `interval` otherwise.
    pub fn next_probe_at(&self, config: &HealthConfig, after: DateTime<Utc>) -> DateTime<Utc> {
        let later = |from: DateTime<Utc>, wait: Duration| {
            from.checked_add_signed(delta(wait)).unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        if self.health.status == HealthStatus::Starting && self.in_start_period(config, after) {
            later(after, config.start_interval).min(later(self.started_at, config.start_period))
        } else {
            later(after, config.interval)
        }
    }

    /// The container started again (a restart): `starting`, no failures, the log kept.
    pub fn restarted(&mut self, started_at: DateTime<Utc>) -> Option<Transition> {
        let from = self.health.status;
        self.started_at = started_at;
        self.health.status = HealthStatus::Starting;
        self.health.failing_streak = 0;
        self.transition_from(from)
    }

    /// The container stopped: Docker reports a container whose checks
    /// stopped as unhealthy (for compatibility, its comment says).
    pub fn stopped(&mut self) {
        self.health.status = HealthStatus::Unhealthy;
    }

    fn transition_from(&self, from: HealthStatus) -> Option<Transition> {
        (from != self.health.status).then_some(Transition { from, to: self.health.status })
    }
}

/// The log entry of a probe, with Docker's messages for a timeout.
fn log_entry(config: &HealthConfig, result: ProbeResult) -> ProbeLog {
    let (exit_code, output) = match result.outcome {
        ProbeOutcome::Exited(code) => (code, result.output),
        ProbeOutcome::TimedOut => {
            let timeout = crate::compose::model::Duration(config.timeout);
            let message = if result.output.is_empty() {
                format!("Health check exceeded timeout ({timeout})")
            } else {
                format!("Health check exceeded timeout ({timeout}): {}", result.output)
            };
            (-1, message)
        }
        ProbeOutcome::Failed(message) => (-1, message),
    };
    ProbeLog { start: result.start, end: result.end, exit_code, output }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
