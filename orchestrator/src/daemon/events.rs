//! Events: what happened to a project's containers, networks and volumes, as
//! `compose events` streams them (JSON lines, Docker's shape).

use serde::{Deserialize, Serialize};

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339 with nanoseconds.
    pub time: String,
    /// `container`, `network`, `volume`, `image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `create`, `start`, `restart`, `stop`, `die`, `destroy`, `health_status: healthy`, ...
    pub action: String,
    /// The container, network or volume name.
    pub id: String,
    pub project: String,
    pub service: String,
    /// Extra facts: `exitCode` for `die`, the reason of a (re)create.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, String>,
}

impl Event {
    pub fn new(kind: &str, action: &str, id: &str, project: &str, service: &str) -> Self {
        Event {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            kind: kind.into(),
            action: action.into(),
            id: id.into(),
            project: project.into(),
            service: service.into(),
            attributes: Default::default(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }
}

/// The event a finished progress step means, if any: (`Container`, `Started`) → `start`.
pub fn action_of(resource: &str, status: &str) -> Option<(&'static str, &'static str)> {
    let kind = match resource {
        "Container" => "container",
        "Network" => "network",
        "Volume" => "volume",
        "Image" => "image",
        _ => return None,
    };
    let action = match status {
        "Created" => "create",
        "Started" => "start",
        "Stopped" => "stop",
        "Killed" => "kill",
        "Removed" => "destroy",
        "Pulled" => "pull",
        _ => return None,
    };
    Some((kind, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_steps_are_events_and_others_are_not() {
        assert_eq!(action_of("Container", "Started"), Some(("container", "start")));
        assert_eq!(action_of("Network", "Removed"), Some(("network", "destroy")));
        assert_eq!(action_of("Container", "Starting"), None);
        assert_eq!(action_of("Service", "Healthy"), None);
    }

    #[test]
    fn events_serialize_in_dockers_shape() {
        let event = Event::new("container", "die", "p-web-1", "p", "web").with("exitCode", "137");
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "container");
        assert_eq!(json["attributes"]["exitCode"], "137");
    }
}
