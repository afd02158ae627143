//! The manager's two locks, both files in the run directory, both released on
//! drop (and by the kernel when a process dies holding them):
//!
//! - `network.lock` ([`ChangeLock`], flock): the decisions. Reading and
//!   writing the database, choosing addresses, writing the DNS files, changing
//!   bridges and the firewall table. Held for short moments only.
//! - `containers.lock` ([`ContainerLock`], open file description record locks):
//!   the kernel objects of one container (its namespace file, veths, addresses,
//!   routes). A verb on a container holds that container's byte for its whole
//!   run, so two verbs on one container never interleave, while containers
//!   plumb their veths at the same time. A verb that touches every container's
//!   objects (recovery, removing networks) locks every byte: it waits for the
//!   plumbing in flight and holds off new plumbing while it runs.
//!
//! Both kinds work between threads as between processes (each lock is taken on
//! a descriptor of its own). The order is always a container lock (or all of
//! them) first, then `network.lock`: never the other way round.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Instant;

use nix::fcntl::{FcntlArg, Flock, FlockArg, fcntl};
use nix::libc;
use sha2::{Digest, Sha256};

use crate::error::NetworkError;

/// `network.lock`, held; released on drop.
#[derive(Debug)]
pub(super) struct ChangeLock {
    _held: Flock<File>,
    what: &'static str,
    since: Instant,
}

impl ChangeLock {
    /// Waits for `<run>/network.lock`; `what` names the step in the debug log,
    /// which tells how long each step waited for the lock and held it.
    pub(super) fn take(run: &Path, what: &'static str) -> Result<Self, NetworkError> {
        let asked = Instant::now();
        let (file, path) = open(run, "network.lock")?;
        let held = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| NetworkError::Io {
            what: format!("cannot lock {}", path.display()),
            source: errno.into(),
        })?;
        let since = Instant::now();
        tracing::trace!(what, waited_us = since.duration_since(asked).as_micros() as u64, "network.lock taken");
        Ok(ChangeLock { _held: held, what, since })
    }
}

impl Drop for ChangeLock {
    fn drop(&mut self) {
        tracing::debug!(what = self.what, held_us = self.since.elapsed().as_micros() as u64, "network.lock released");
    }
}

/// One container's byte of `containers.lock` (or all of them); released on drop.
#[derive(Debug)]
pub(super) struct ContainerLock {
    _file: File,
}

impl ContainerLock {
    /// Waits until no other verb works on `container_id`'s kernel objects.
    pub(super) fn one(run: &Path, container_id: &str) -> Result<Self, NetworkError> {
        Self::take(run, byte_of(container_id), 1)
    }

    /// Waits until no verb works on any container's kernel objects.
    pub(super) fn all(run: &Path) -> Result<Self, NetworkError> {
        // A length of 0: from `start` to the end of any file, however long.
        Self::take(run, 0, 0)
    }

    fn take(run: &Path, start: i64, len: i64) -> Result<Self, NetworkError> {
        let (file, path) = open(run, "containers.lock")?;
        let range = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: start,
            l_len: len,
            // Open file description locks must say 0 here.
            l_pid: 0,
        };
        loop {
            match fcntl(file.as_raw_fd(), FcntlArg::F_OFD_SETLKW(&range)) {
                Ok(_) => return Ok(ContainerLock { _file: file }),
                Err(nix::Error::EINTR) => continue,
                Err(errno) => {
                    let what = format!("cannot lock {} at {start}", path.display());
                    return Err(NetworkError::Io { what, source: errno.into() });
                }
            }
        }
    }
}

fn open(run: &Path, name: &str) -> Result<(File, std::path::PathBuf), NetworkError> {
    let path = run.join(name);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(NetworkError::io(format!("cannot open {}", path.display())))?;
    Ok((file, path))
}

/// A container's byte: from its id's digest, so that two containers share a
/// byte (and wait for each other needlessly) with a chance of about 2^-62.
fn byte_of(container_id: &str) -> i64 {
    let digest = Sha256::digest(container_id.as_bytes());
    let first: [u8; 8] = digest[..8].try_into().expect("a sha256 digest has 32 bytes");
    (u64::from_be_bytes(first) >> 2) as i64
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Whether a new descriptor could lock `len` bytes at `start` of
    /// `containers.lock` now (tried without waiting, and let go at once).
    fn free(run: &Path, start: i64, len: i64) -> bool {
        let (file, _) = open(run, "containers.lock").unwrap();
        let range = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: start,
            l_len: len,
            l_pid: 0,
        };
        fcntl(file.as_raw_fd(), FcntlArg::F_OFD_SETLK(&range)).is_ok()
    }

    #[test]
    fn a_container_excludes_itself_and_everything_but_not_another() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        let (c1, c2) = (byte_of("c1"), byte_of("c2"));
        assert!(c1 >= 0 && c1 != c2);
        let held = ContainerLock::one(run, "c1").unwrap();
        assert!(!free(run, c1, 1), "the same container waits");
        assert!(free(run, c2, 1), "another container does not");
        assert!(!free(run, 0, 0), "everything waits for one");
        drop(held);
        let all = ContainerLock::all(run).unwrap();
        assert!(!free(run, c2, 1), "one waits for everything");
        drop(all);
        assert!(free(run, 0, 0), "all let go");
    }

    #[test]
    fn a_waiting_container_gets_its_lock_when_it_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let held = ContainerLock::all(dir.path()).unwrap();
        let run = dir.path().to_path_buf();
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let lock = ContainerLock::one(&run, "c1").unwrap();
            tx.send(()).unwrap();
            drop(lock);
        });
        drop(held);
        rx.recv_timeout(Duration::from_secs(5)).expect("the waiter gets the lock");
        waiter.join().unwrap();
    }

    #[test]
    fn the_change_lock_excludes_other_descriptors_of_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let held = ChangeLock::take(dir.path(), "test").unwrap();
        let try_lock = || {
            let (file, _) = open(dir.path(), "network.lock").unwrap();
            Flock::lock(file, FlockArg::LockExclusiveNonblock).is_ok()
        };
        assert!(!try_lock(), "held by another descriptor of this process");
        drop(held);
        assert!(try_lock());
    }
}
