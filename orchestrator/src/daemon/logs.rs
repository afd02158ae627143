//! `compose logs`: the logs of a project's containers, merged as they come.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use berth_runtime::container::LogOptions;
use tokio::sync::mpsc::UnboundedSender;

use super::Daemon;
use super::observe::project_containers;
use crate::api::compose::LogLine;

/// What `compose logs` asks for.
#[derive(Clone, Debug, Default)]
pub struct LogsRequest {
    pub services: Vec<String>,
    pub follow: bool,
    pub tail: Option<usize>,
    /// Set when the reader went away: follows end.
    pub stop: Option<Arc<AtomicBool>>,
}

/// Sends every selected container's log lines to `lines`; with `follow`, until
/// each container stops (or the receiver goes away).
pub async fn logs(
    daemon: &Arc<Daemon>,
    project: &str,
    request: LogsRequest,
    lines: UnboundedSender<LogLine>,
) -> Result<(), String> {
    let engine = daemon.engine.clone();
    let name = project.to_string();
    let containers =
        super::blocking(move || project_containers(&engine, &name, &HashMap::new(), &HashMap::new())).await?;
    let mut readers = Vec::new();
    for container in containers {
        // A one-off's output went to its `compose run`, as with compose.
        if container.observed.oneoff
            || (!request.services.is_empty() && !request.services.contains(&container.observed.service))
        {
            continue;
        }
        let (engine, lines) = (daemon.engine.clone(), lines.clone());
        let options = LogOptions {
            follow: request.follow,
            tail: request.tail,
            stop: request.stop.clone(),
            ..LogOptions::default()
        };
        readers.push(tokio::task::spawn_blocking(move || {
            let containers = engine.own_containers().map_err(|e| e.to_string())?;
            let (name, service) = (container.record.name.clone(), container.observed.service.clone());
            let mut sink = |entry: &berth_runtime::container::logfile::Entry| {
                let line = LogLine {
                    container: name.clone(),
                    service: service.clone(),
                    stream: serde_json::to_value(entry.stream)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    time: entry.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    log: entry.log.clone(),
                };
                lines.send(line).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            };
            match containers.logs(container.record.id.as_str(), &options, &mut sink) {
                Ok(()) => Ok(()),
                // The reader went away: not an error of the logs.
                Err(e) if lines.is_closed() => {
                    tracing::debug!(error = %e, "log reader gone");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }));
    }
    for reader in readers {
        reader.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}
