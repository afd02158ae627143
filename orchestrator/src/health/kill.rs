//! Killing a probe that overran its timeout. The probe is started by berth's
//! exec helper, whose child it is; inside the container it runs in a session
//! of its own (libcontainer's setsid), so a signal to the helper's process
//! group would miss it, and killing only the helper would leave it running.
//! Its processes are found in /proc and each is signalled through a pidfd,
//! so a PID reused in the meantime is never hit.

use std::collections::HashSet;
use std::os::fd::OwnedFd;

use rustix::process::{Pid, PidfdFlags, Signal};

/// One line of the process table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    pid: i32,
    ppid: i32,
    pgrp: i32,
}

/// `ppid` and `pgrp` from `/proc/<pid>/stat` (fields 4 and 5; the command
/// name before them is in parentheses and may contain anything).
fn parse_stat(pid: i32, stat: &str) -> Option<Entry> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace().skip(1);
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Entry { pid, ppid, pgrp })
}

fn entry(pid: i32) -> Option<Entry> {
    parse_stat(pid, &std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn process_table() -> Vec<Entry> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter_map(entry).collect()
}

/// The processes of the probe under `helper`: the helper's children and
/// every process in their process groups, the helper itself excluded.
fn probe_processes(table: &[Entry], helper: i32) -> (Vec<i32>, HashSet<i32>) {
    let groups: HashSet<i32> = table.iter().filter(|e| e.ppid == helper).map(|e| e.pgrp).collect();
    let pids = table
        .iter()
        .filter(|e| e.pid != helper && (e.ppid == helper || groups.contains(&e.pgrp)))
        .map(|e| e.pid)
        .collect();
    (pids, groups)
}

/// SIGKILLs the probe's processes under `helper` (a child of ours, not yet
/// reaped), leaving the helper to see its child die, clean up and exit.
/// Returns how many were signalled.
pub(super) fn kill_probe(helper: u32) -> usize {
    let helper = helper as i32;
    let (pids, groups) = probe_processes(&process_table(), helper);
    let mut killed = 0;
    for pid in pids {
        let Some(raw) = Pid::from_raw(pid) else { continue };
        let Ok(pidfd): Result<OwnedFd, _> = rustix::process::pidfd_open(raw, PidfdFlags::empty()) else { continue };
        // Checked again now that the pidfd holds the process: the PID read
        // from the table may have been reused since.
        let still_ours = entry(pid).is_some_and(|e| e.ppid == helper || groups.contains(&e.pgrp));
        if still_ours && rustix::process::pidfd_send_signal(&pidfd, Signal::KILL).is_ok() {
            killed += 1;
        }
    }
    tracing::debug!(helper, killed, "killed the probe's processes");
    killed
}

/// SIGKILLs the helper's process group (it was started as its leader).
/// Only for a helper not yet reaped: then its PID cannot have been reused.
pub(super) fn kill_helper_group(helper: u32) {
    if let Some(pid) = Pid::from_raw(helper as i32) {
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_with_odd_command_names() {
        let stat = "4242 (sh -c (x) y) S 4200 4242 4242 0 -1 4194560 97 0 0 0";
        assert_eq!(parse_stat(4242, stat), Some(Entry { pid: 4242, ppid: 4200, pgrp: 4242 }));
        assert_eq!(parse_stat(1, "1 (init"), None);
        assert_eq!(parse_stat(1, "1 (init) S"), None);
    }

    #[test]
    fn finds_the_children_and_their_groups_but_not_the_helper() {
        let table = [
            Entry { pid: 100, ppid: 1, pgrp: 100 },   // the helper
            Entry { pid: 101, ppid: 100, pgrp: 101 }, // the probe, in a session of its own
            Entry { pid: 102, ppid: 101, pgrp: 101 }, // its background child
            Entry { pid: 103, ppid: 1, pgrp: 101 },   // orphaned into init, still in the group
            Entry { pid: 200, ppid: 1, pgrp: 200 },   // someone else
        ];
        let (mut pids, groups) = probe_processes(&table, 100);
        pids.sort();
        assert_eq!(pids, [101, 102, 103]);
        assert_eq!(groups, HashSet::from([101]));
        // Children in the helper's own group (no session of their own): that group.
        let table = [
            Entry { pid: 100, ppid: 1, pgrp: 100 },
            Entry { pid: 101, ppid: 100, pgrp: 100 },
            Entry { pid: 102, ppid: 101, pgrp: 100 },
        ];
        let (pids, _) = probe_processes(&table, 100);
        assert_eq!(pids, [101, 102]);
    }
}
