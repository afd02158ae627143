//! `ps`: containers with Docker's summary columns, and `--filter`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::containers::Containers;
use super::error::ContainerError;
use super::options::OptionError;
use super::records::{self, ContainerRecord};
use super::state::{State, Status};
use super::times::human_duration;

/// One `ps` row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Summary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    pub image_id: String,
    pub command: String,
    pub created: DateTime<Utc>,
    /// e.g. "Up 5 minutes", "Exited (0) 2 seconds ago", "Created".
    pub status: String,
    pub state: String,
    pub labels: BTreeMap<String, String>,
}

/// `--filter key=value`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Filter {
    /// ID prefix.
    Id(String),
    /// Part of the name.
    Name(String),
    /// `label=key` or `label=key=value`.
    Label(String, Option<String>),
    Status(Status),
    Exited(i32),
    /// The image as given at create, or its ID.
    Ancestor(String),
}

impl std::str::FromStr for Filter {
    type Err = OptionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| OptionError::new("--filter", text, reason);
        let (key, value) = text.split_once('=').ok_or_else(|| err("want key=value"))?;
        Ok(match key {
            "id" => Filter::Id(value.to_owned()),
            "name" => Filter::Name(value.trim_start_matches('/').to_owned()),
            "label" => match value.split_once('=') {
                Some((key, value)) => Filter::Label(key.to_owned(), Some(value.to_owned())),
                None => Filter::Label(value.to_owned(), None),
            },
            "status" => Filter::Status(match value {
                "created" => Status::Created,
                "running" => Status::Running,
                "paused" => Status::Paused,
                "restarting" => Status::Restarting,
                "exited" => Status::Exited,
                "dead" => Status::Dead,
                _ => return Err(err("status is one of created, running, paused, restarting, exited, dead")),
            }),
            "exited" => Filter::Exited(value.parse().map_err(|_| err("exited wants an exit code"))?),
            "ancestor" => Filter::Ancestor(value.to_owned()),
            _ => return Err(err("filters are id, name, label, status, exited and ancestor")),
        })
    }
}

impl Filter {
    fn matches(&self, record: &ContainerRecord, state: &State) -> bool {
        match self {
            Filter::Id(prefix) => record.id.as_str().starts_with(prefix.as_str()),
            Filter::Name(part) => record.name.contains(part.as_str()),
            Filter::Label(key, value) => match (record.config.labels.get(key), value) {
                (Some(found), Some(wanted)) => found == wanted,
                (Some(_), None) => true,
                (None, _) => false,
            },
            Filter::Status(status) => state.status == *status,
            Filter::Exited(code) => state.status == Status::Exited && state.exit_code == *code,
            Filter::Ancestor(image) => {
                record.config.image == *image
                    || record.config.image_id == *image
                    || record.config.image_id.strip_prefix("sha256:").is_some_and(|hex| hex.starts_with(image.as_str()))
            }
        }
    }
}

/// Docker's status text.
pub fn status_text(state: &State, now: DateTime<Utc>) -> String {
    let since = |time: Option<DateTime<Utc>>| human_duration(now - time.unwrap_or(now));
    match state.status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", since(state.started_at)),
        Status::Paused => format!("Up {} (Paused)", since(state.started_at)),
        Status::Restarting => format!("Restarting ({}) {} ago", state.exit_code, since(state.finished_at)),
        Status::Exited => format!("Exited ({}) {} ago", state.exit_code, since(state.finished_at)),
        Status::Dead => "Dead".into(),
    }
}

impl Containers {
    /// Containers matching every filter; only running ones unless `all`.
    pub fn list(&self, all: bool, filters: &[Filter]) -> Result<Vec<Summary>, ContainerError> {
        let labels: BTreeMap<String, Option<String>> = filters
            .iter()
            .filter_map(|f| match f {
                Filter::Label(key, value) => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect();
        let now = Utc::now();
        let mut summaries = Vec::new();
        for record in records::with_labels(&self.db, &labels)? {
            let state = self.state(&record)?;
            if !all
                && !state.is_running()
                && !filters.iter().any(|f| matches!(f, Filter::Status(_) | Filter::Exited(_)))
            {
                continue;
            }
            if !filters.iter().all(|f| f.matches(&record, &state)) {
                continue;
            }
            let command = record.config.command().join(" ");
            summaries.push(Summary {
                id: record.id.to_string(),
                names: vec![record.name.clone()],
                image: record.config.image.clone(),
                image_id: record.config.image_id.clone(),
                command,
                created: record.created,
                status: status_text(&state, now),
                state: state.status.as_str().to_owned(),
                labels: record.config.labels.clone(),
            });
        }
        Ok(summaries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!("label=a=b".parse::<Filter>().unwrap(), Filter::Label("a".into(), Some("b".into())));
        assert_eq!("label=a".parse::<Filter>().unwrap(), Filter::Label("a".into(), None));
        assert_eq!("status=exited".parse::<Filter>().unwrap(), Filter::Status(Status::Exited));
        assert_eq!("exited=137".parse::<Filter>().unwrap(), Filter::Exited(137));
        assert!("status=sleepy".parse::<Filter>().is_err());
        assert!("colour=red".parse::<Filter>().is_err());
    }

    #[test]
    fn status_texts() {
        let now = Utc::now();
        let running = State {
            status: Status::Running,
            started_at: Some(now - chrono::Duration::minutes(5)),
            ..Default::default()
        };
        assert_eq!(status_text(&running, now), "Up 5 minutes");
        let paused = State { status: Status::Paused, ..running };
        assert_eq!(status_text(&paused, now), "Up 5 minutes (Paused)");
        let exited = State {
            status: Status::Exited,
            exit_code: 137,
            finished_at: Some(now - chrono::Duration::seconds(3)),
            ..Default::default()
        };
        assert_eq!(status_text(&exited, now), "Exited (137) 3 seconds ago");
        assert_eq!(status_text(&State::default(), now), "Created");
    }
}
