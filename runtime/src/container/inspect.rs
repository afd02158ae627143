//! `inspect`: a container as Docker's API describes it (the fields berth has).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::config::ContainerConfig;
use super::containers::Containers;
use super::error::ContainerError;
use super::limits::Ulimit;
use super::mounts::MountSource;
use super::records::ContainerRecord;
use super::security::Seccomp;
use super::state::{State, Status};
use crate::store::Root;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspect {
    pub id: String,
    pub created: DateTime<Utc>,
    pub path: String,
    pub args: Vec<String>,
    pub state: InspectState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: u32,
    pub driver: &'static str,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<InspectMount>,
    pub config: InspectConfig,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectState {
    pub status: &'static str,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub binds: Vec<String>,
    pub network_mode: String,
    pub restart_policy: super::options::RestartPolicy,
    pub auto_remove: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub readonly_rootfs: bool,
    pub security_opt: Vec<String>,
    pub tmpfs: BTreeMap<String, String>,
    pub memory: u64,
    pub memory_swap: i64,
    pub nano_cpus: u64,
    pub cpu_shares: u64,
    pub pids_limit: Option<i64>,
    pub ulimits: Vec<Ulimit>,
    pub init: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: &'static str,
    pub data: BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectMount {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub source: String,
    pub destination: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectConfig {
    pub hostname: String,
    pub user: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub image: String,
    pub working_dir: String,
    pub entrypoint: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    pub stop_timeout: u32,
}

fn time_or_zero(time: Option<DateTime<Utc>>) -> String {
    time.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
}

fn mounts(root: &Root, config: &ContainerConfig) -> Vec<InspectMount> {
    config
        .mounts
        .iter()
        .map(|mount| {
            let (kind, name, source, propagation) = match &mount.source {
                MountSource::Bind { path, propagation } => {
                    ("bind", None, path.display().to_string(), propagation.name().to_string())
                }
                MountSource::Volume { name, .. } => (
                    "volume",
                    Some(name.clone()),
                    super::volumes::data_dir(root, name).display().to_string(),
                    String::new(),
                ),
                MountSource::Tmpfs { .. } => ("tmpfs", None, String::new(), String::new()),
            };
            InspectMount {
                kind,
                name,
                source,
                destination: mount.target.display().to_string(),
                mode: if mount.read_only { "ro".into() } else { String::new() },
                rw: !mount.read_only,
                propagation,
            }
        })
        .collect()
}

/// The inspect document of a container in a given state.
pub fn describe(root: &Root, record: &ContainerRecord, state: &State) -> Inspect {
    let config = &record.config;
    let dir = super::layout::ContainerDir::new(root, &record.id);
    let command = config.command();
    let binds = config
        .mounts
        .iter()
        .filter_map(|mount| {
            let source = match &mount.source {
                MountSource::Bind { path, .. } => path.display().to_string(),
                MountSource::Volume { name, .. } => name.clone(),
                MountSource::Tmpfs { .. } => return None,
            };
            let mode = if mount.read_only { ":ro" } else { "" };
            Some(format!("{source}:{}{mode}", mount.target.display()))
        })
        .collect();
    let tmpfs = config
        .mounts
        .iter()
        .filter_map(|mount| match &mount.source {
            MountSource::Tmpfs { options } => Some((mount.target.display().to_string(), options.join(","))),
            _ => None,
        })
        .collect();
    let mut security_opt = Vec::new();
    if config.security.seccomp == Seccomp::Unconfined {
        security_opt.push("seccomp=unconfined".to_string());
    }
    if config.security.no_new_privileges {
        security_opt.push("no-new-privileges".to_string());
    }
    let lower = config.layer_dirs.iter().rev().map(|d| d.display().to_string()).collect::<Vec<_>>().join(":");
    Inspect {
        id: record.id.to_string(),
        created: record.created,
        path: command.first().cloned().unwrap_or_default(),
        args: command.iter().skip(1).cloned().collect(),
        state: InspectState {
            status: state.status.as_str(),
            // Docker's paused container is running, and paused.
            running: matches!(state.status, Status::Running | Status::Paused),
            paused: state.status == Status::Paused,
            restarting: state.status == Status::Restarting,
            oom_killed: state.oom_killed,
            dead: state.status == Status::Dead,
            pid: state.pid,
            exit_code: state.exit_code,
            error: state.error.clone(),
            started_at: time_or_zero(state.started_at),
            finished_at: time_or_zero(state.finished_at),
        },
        image: config.image_id.clone(),
        resolv_conf_path: dir.resolv_conf().display().to_string(),
        hostname_path: dir.hostname().display().to_string(),
        hosts_path: dir.hosts().display().to_string(),
        log_path: dir.log().display().to_string(),
        name: format!("/{}", record.name),
        restart_count: state.restart_count,
        driver: "overlay2",
        host_config: HostConfig {
            binds,
            network_mode: config.network_name.clone().unwrap_or_else(|| config.network.name()),
            restart_policy: config.restart,
            auto_remove: config.auto_remove,
            cap_add: config.capabilities.add.iter().cloned().map(String::from).collect(),
            cap_drop: config.capabilities.drop.iter().cloned().map(String::from).collect(),
            readonly_rootfs: config.read_only,
            security_opt,
            tmpfs,
            memory: config.resources.memory.unwrap_or(0),
            memory_swap: config.resources.effective_memory_swap().unwrap_or(0),
            nano_cpus: config.resources.nano_cpus.unwrap_or(0),
            cpu_shares: config.resources.cpu_shares.unwrap_or(0),
            pids_limit: config.resources.effective_pids_limit(),
            ulimits: config.ulimits.clone(),
            init: config.init,
        },
        graph_driver: GraphDriver {
            name: "overlay2",
            data: [
                ("LowerDir", lower),
                ("UpperDir", dir.upper().display().to_string()),
                ("WorkDir", dir.work().display().to_string()),
                ("MergedDir", dir.rootfs().display().to_string()),
            ]
            .into(),
        },
        mounts: mounts(root, config),
        config: InspectConfig {
            hostname: config.hostname.clone(),
            user: config.user.clone(),
            tty: config.tty,
            open_stdin: config.open_stdin,
            env: config.env.clone(),
            cmd: config.cmd.clone(),
            image: config.image.clone(),
            working_dir: config.working_dir.clone(),
            entrypoint: config.entrypoint.clone(),
            labels: config.labels.clone(),
            stop_signal: config.stop_signal.clone(),
            stop_timeout: config.stop_timeout,
        },
    }
}

impl Containers {
    pub fn inspect(&self, reference: &str) -> Result<Inspect, ContainerError> {
        let record = self.lookup(reference)?;
        let state = self.state(&record)?;
        Ok(describe(&self.root, &record, &state))
    }
}
