//! A plan: small actions, each with the reason it exists and the actions it
//! waits for. Printed by `berth compose up --dry-run`, compared as text in tests.

use std::fmt;

use super::observed::Millis;

pub type StepId = usize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreateNetwork {
        name: String,
    },
    CreateVolume {
        name: String,
    },
    /// Create replica `number` of `service` as container `name`.
    Create {
        service: String,
        number: u32,
        name: String,
    },
    Start {
        service: String,
        name: String,
    },
    /// Stop (by the stop signal, then SIGKILL after the grace period) and start again.
    Restart {
        service: String,
        name: String,
    },
    Stop {
        name: String,
    },
    Remove {
        name: String,
    },
    /// Gate: the service's containers report healthy.
    WaitHealthy {
        service: String,
    },
    /// Gate: the service's containers exited with status 0.
    WaitCompleted {
        service: String,
    },
    RemoveNetwork {
        name: String,
    },
    RemoveVolume {
        name: String,
    },
    /// `down --rmi`: the image, unless a container still uses it.
    RemoveImage {
        name: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateNetwork { name } => write!(f, "create network {name}"),
            Action::CreateVolume { name } => write!(f, "create volume {name}"),
            Action::Create { name, .. } => write!(f, "create container {name}"),
            Action::Start { name, .. } => write!(f, "start {name}"),
            Action::Restart { name, .. } => write!(f, "restart {name}"),
            Action::Stop { name } => write!(f, "stop {name}"),
            Action::Remove { name } => write!(f, "remove {name}"),
            Action::WaitHealthy { service } => write!(f, "wait for {service} to be healthy"),
            Action::WaitCompleted { service } => write!(f, "wait for {service} to complete successfully"),
            Action::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Action::RemoveVolume { name } => write!(f, "remove volume {name}"),
            Action::RemoveImage { name } => write!(f, "remove image {name}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    /// Why: "config hash changed", "dependency db recreated", "restart policy always, exit 137".
    pub reason: String,
    /// Steps that must finish first.
    pub after: Vec<StepId>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Things the user should know that need no action (orphans left in place, ...).
    pub notes: Vec<String>,
    /// When to plan again: the earliest restart held back by its backoff.
    pub wake_at: Option<Millis>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Adds a step and returns its ID.
    pub(super) fn push(&mut self, action: Action, reason: impl Into<String>, after: Vec<StepId>) -> StepId {
        let mut after = after;
        after.sort_unstable();
        after.dedup();
        self.steps.push(Step { action, reason: reason.into(), after });
        self.steps.len() - 1
    }

    pub(super) fn wake(&mut self, at: Millis) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }
}

impl fmt::Display for Plan {
    /// One line per step, numbered from 1: `3. start demo-web-1 (after 1, 2): missing`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            writeln!(f, "nothing to do")?;
        }
        for (id, step) in self.steps.iter().enumerate() {
            write!(f, "{}. {}", id + 1, step.action)?;
            if !step.after.is_empty() {
                let after: Vec<String> = step.after.iter().map(|a| (a + 1).to_string()).collect();
                write!(f, " (after {})", after.join(", "))?;
            }
            writeln!(f, ": {}", step.reason)?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        if let Some(at) = self.wake_at {
            writeln!(f, "plan again at {at}")?;
        }
        Ok(())
    }
}
