//! A quiet daemon gives back memory: the file pages a burst of work touched
//! ([`berth_runtime::memory`]) and the heap its threads freed (`malloc_trim`).
//! Requests and reconcile passes count as work; health probes touch little,
//! so a minute of them is allowed between releases.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Quiet this long after a request, the daemon releases.
const QUIET: Duration = Duration::from_secs(2);
/// While quiet, it releases again this often.
const AGAIN: Duration = Duration::from_secs(60);

/// When the daemon last worked, in milliseconds since it started.
#[derive(Clone, Debug)]
pub struct Activity {
    started: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    pub fn new() -> Activity {
        Activity { started: Instant::now(), last_ms: Arc::new(AtomicU64::new(0)) }
    }

    /// Work is being done now.
    pub fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Releases memory whenever the daemon has been quiet for [`QUIET`]: once
    /// per burst of work, and every [`AGAIN`] while it stays quiet.
    pub async fn release_when_quiet(self) {
        let mut released: Option<(u64, Instant)> = None;
        loop {
            tokio::time::sleep(QUIET / 2).await;
            let last = self.last_ms.load(Ordering::Relaxed);
            let quiet = self.now_ms().saturating_sub(last) >= QUIET.as_millis() as u64;
            let due = released.is_none_or(|(after, at)| after != last || at.elapsed() >= AGAIN);
            if quiet && due {
                let _ = tokio::task::spawn_blocking(release).await;
                released = Some((last, Instant::now()));
            }
        }
    }
}

fn release() {
    berth_runtime::memory::release_file_pages();
    trim_heap();
}

#[allow(unsafe_code)]
fn trim_heap() {
    // SAFETY: malloc_trim only returns free heap memory to the kernel; it is
    // thread-safe (it takes each arena's lock).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Fewer malloc arenas than glibc's default (8 per core): the daemon's
/// threads are mostly short-lived blocking tasks, each of which would otherwise
/// keep an arena (and its freed memory) of its own.
#[allow(unsafe_code)]
pub fn limit_malloc_arenas() {
    // SAFETY: called before the async runtime starts any thread; mallopt only
    // sets an allocator parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
