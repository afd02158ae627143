//! `stats --no-stream`: CPU, memory, network, block I/O and tasks, from the
//! container's cgroup (and its network namespace).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cgroup::{Cgroups, ContainerCgroup, MemoryUsage};
use super::containers::Containers;
use super::error::ContainerError;

/// The CPU percentage compares two samples this far apart.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stats {
    pub id: String,
    pub name: String,
    /// Docker's: the container's share of all CPUs, times the number of CPUs.
    pub cpu_percent: f64,
    pub memory_usage: u64,
    /// The container's limit, or the machine's memory.
    pub memory_limit: u64,
    pub memory_percent: f64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

/// Total CPU time of the machine, in nanoseconds, and its number of CPUs.
fn system_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().map_or(100, |t| t as u64);
    let total: u64 = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse::<u64>().ok()).sum();
    let cpus =
        stat.lines().filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)).count();
    Some((total * 1_000_000_000 / ticks, cpus as u64))
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes received and sent on the namespace's interfaces other than loopback.
fn network(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            if name.trim() == "lo" {
                return None;
            }
            let fields: Vec<u64> = counters.split_whitespace().filter_map(|v| v.parse().ok()).collect();
            Some((*fields.first()?, *fields.get(8)?))
        })
        .fold((0, 0), |(rx, tx), (r, t)| (rx + r, tx + t))
}

impl Containers {
    /// One reading per running container in `references`.
    pub fn stats(&self, references: &[String]) -> Result<Vec<Stats>, ContainerError> {
        let cgroups = Cgroups::detect().map_err(|e| ContainerError::io("cannot read", "/sys/fs/cgroup", e))?;
        let mut targets = Vec::new();
        for reference in references {
            let record = self.lookup(reference)?;
            let state = self.state(&record)?;
            if !state.is_running() {
                continue;
            }
            let cgroup: ContainerCgroup = cgroups.container(&record.id);
            targets.push((record, state.pid, cgroup));
        }
        let first: Vec<u64> = targets.iter().map(|(_, _, cgroup)| cgroup.cpu_usage_ns().unwrap_or(0)).collect();
        let system_first = system_cpu();
        let deadline = Instant::now() + SAMPLE_INTERVAL;
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        let system_second = system_cpu();
        let machine_memory = host_memory();
        let mut readings = Vec::new();
        for ((record, pid, cgroup), cpu_first) in targets.into_iter().zip(first) {
            let cpu_second = cgroup.cpu_usage_ns().unwrap_or(cpu_first);
            let cpu_percent = match (system_first, system_second) {
                (Some((s1, cpus)), Some((s2, _))) if s2 > s1 => {
                    (cpu_second.saturating_sub(cpu_first)) as f64 / (s2 - s1) as f64 * cpus as f64 * 100.0
                }
                _ => 0.0,
            };
            let MemoryUsage { usage, limit } = cgroup.memory().unwrap_or_default();
            let limit = limit.unwrap_or(machine_memory).min(machine_memory.max(1));
            let (block_read, block_write) = cgroup.block_io().unwrap_or((0, 0));
            let (net_rx, net_tx) = network(pid);
            readings.push(Stats {
                id: record.id.to_string(),
                name: record.name.clone(),
                cpu_percent,
                memory_usage: usage,
                memory_limit: limit,
                memory_percent: if limit > 0 { usage as f64 / limit as f64 * 100.0 } else { 0.0 },
                net_rx,
                net_tx,
                block_read,
                block_write,
                pids: cgroup.pids_current().unwrap_or(0),
            });
        }
        Ok(readings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_counters_read() {
        let (total, cpus) = system_cpu().unwrap();
        assert!(total > 0 && cpus > 0);
        assert!(host_memory() > 0);
    }
}
