//! Restart policies: `no`, `always`, `on-failure[:max]`, `unless-stopped`.

use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    /// Restart after a non-zero exit, at most `max` times when given.
    OnFailure {
        max: Option<u32>,
    },
    /// Like `always`, but a container the user stopped stays stopped, also after a reboot.
    UnlessStopped,
}

impl FromStr for RestartPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "no" | "" => Ok(RestartPolicy::No),
            "always" => Ok(RestartPolicy::Always),
            "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            "on-failure" => Ok(RestartPolicy::OnFailure { max: None }),
            other => match other.strip_prefix("on-failure:") {
                Some(max) => max.parse().map(|max| RestartPolicy::OnFailure { max: Some(max) }).map_err(|_| {
                    format!("invalid restart policy {other:?}: the count after on-failure: must be a number")
                }),
                None => Err(format!(
                    "invalid restart policy {other:?}: expected no, always, on-failure, on-failure:<max> or unless-stopped"
                )),
            },
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
            RestartPolicy::OnFailure { max: None } => f.write_str("on-failure"),
            RestartPolicy::OnFailure { max: Some(max) } => write!(f, "on-failure:{max}"),
        }
    }
}

impl Serialize for RestartPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RestartPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for RestartPolicy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RestartPolicy".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^(no|always|unless-stopped|on-failure(:[0-9]+)?)$" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["no", "always", "on-failure", "on-failure:3", "unless-stopped"] {
            assert_eq!(text.parse::<RestartPolicy>().unwrap().to_string(), text);
        }
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert!("on-failure:x".parse::<RestartPolicy>().is_err());
    }
}
