//! `top`: the container's processes, in `ps -ef`'s columns.

use std::collections::BTreeMap;

use chrono::{DateTime, Local, TimeZone};

use super::cgroup::Cgroups;
use super::containers::Containers;
use super::error::ContainerError;

/// A table: `ps -ef`'s titles and one row per process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// The fields of /proc/PID/stat berth shows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProcStat {
    comm: String,
    ppid: i32,
    tty: u64,
    cpu_ticks: u64,
    start_ticks: u64,
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command sits in parentheses and may contain anything, spaces and ')' included.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 (state) of proc(5).
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(ProcStat {
        comm,
        ppid: fields.get(1)?.parse().ok()?,
        tty: field(7)?,
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
    })
}

fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        0 => "?".into(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 => format!("tty{minor}"),
        _ => "?".into(),
    }
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().map_or(100, |t| t as u64)
}

fn host_users() -> BTreeMap<u32, String> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some((fields.get(2)?.parse().ok()?, fields.first()?.to_string()))
        })
        .collect()
}

fn boot_time() -> Option<i64> {
    std::fs::read_to_string("/proc/stat").ok()?.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}

impl Containers {
    pub fn top(&self, reference: &str) -> Result<Top, ContainerError> {
        let record = self.lookup(reference)?;
        if !self.state(&record)?.is_running() {
            return Err(ContainerError::NotRunning(record.name));
        }
        let cgroup = Cgroups::detect()
            .map_err(|e| ContainerError::io("cannot read", "/sys/fs/cgroup", e))?
            .container(&record.id);
        let mut pids =
            cgroup.pids().map_err(|e| ContainerError::io("cannot read the cgroup of", record.name.clone(), e))?;
        pids.sort_unstable();
        let ticks = clock_ticks();
        let users = host_users();
        let boot = boot_time().unwrap_or(0);
        let now = chrono::Utc::now();
        let mut processes = Vec::new();
        for pid in pids {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let Some(stat) = parse_stat(&stat) else { continue };
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let uid: u32 = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:")?.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let command = if cmdline.is_empty() {
                format!("[{}]", stat.comm)
            } else {
                cmdline
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(String::from_utf8_lossy)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let started: DateTime<chrono::Utc> =
                chrono::Utc.timestamp_opt(boot + (stat.start_ticks / ticks) as i64, 0).single().unwrap_or(now);
            let elapsed = (now - started).num_seconds().max(1) as u64;
            let cpu_seconds = stat.cpu_ticks / ticks;
            let local = started.with_timezone(&Local);
            let stime = if local.date_naive() == now.with_timezone(&Local).date_naive() {
                local.format("%H:%M").to_string()
            } else {
                local.format("%b%d").to_string()
            };
            processes.push(vec![
                users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
                pid.to_string(),
                stat.ppid.to_string(),
                (cpu_seconds * 100 / elapsed).to_string(),
                stime,
                tty_name(stat.tty),
                format!("{:02}:{:02}:{:02}", cpu_seconds / 3600, cpu_seconds / 60 % 60, cpu_seconds % 60),
                command,
            ]);
        }
        let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"].map(String::from).to_vec();
        Ok(Top { titles, processes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names() {
        let line = "4242 (my (odd) proc) S 1 4242 4242 34816 4242 4194304 100 0 0 0 7 3 0 0 20 0 1 0 123456 1000 100 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.comm, "my (odd) proc");
        assert_eq!((stat.ppid, stat.tty, stat.cpu_ticks, stat.start_ticks), (1, 34816, 10, 123456));
        assert_eq!(tty_name(34816), "pts/0");
        assert_eq!(tty_name(0), "?");
    }

    #[test]
    fn this_process_parses() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_stat(&stat).is_some());
    }
}
