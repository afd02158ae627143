//! `logs`: the container's log, filtered, and followed while it runs.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::containers::Containers;
use super::error::ContainerError;
use super::layout::ContainerDir;
use super::logfile::{self, Entry};

/// How often `follow` looks at whether the container still runs.
const FOLLOW_CHECK: Duration = Duration::from_millis(250);

/// `logs` options.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// `-f`: keep printing new entries until the container stops.
    pub follow: bool,
    /// `--tail N`: only the last N entries of the existing log.
    pub tail: Option<usize>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Set by the reader when it goes away: a follow ends within a check's time
    /// even if the container writes nothing more.
    pub stop: Option<Arc<AtomicBool>>,
}

impl LogOptions {
    fn wants(&self, entry: &Entry) -> bool {
        self.since.is_none_or(|since| entry.time >= since) && self.until.is_none_or(|until| entry.time <= until)
    }
}

impl Containers {
    /// Hands the container's log entries to `sink`, oldest first.
    pub fn logs(
        &self,
        reference: &str,
        options: &LogOptions,
        sink: &mut dyn FnMut(&Entry) -> io::Result<()>,
    ) -> Result<(), ContainerError> {
        let record = self.lookup(reference)?;
        let dir = self.dir(&record);
        let io_error = |e: io::Error| ContainerError::io("cannot read the log of", dir.path(), e);
        // Watch before reading, so nothing written in between is missed.
        let watch = if options.follow { Some(watch(&dir).map_err(io_error)?) } else { None };
        let mut current = File::open(dir.log()).ok();
        let mut entries: Vec<Entry> = Vec::new();
        for file in logfile::files(&dir, record.config.log) {
            if file == dir.log() {
                if let Some(open) = &mut current {
                    read_new(open, &mut entries).map_err(io_error)?;
                }
            } else {
                entries.extend(logfile::read_entries(&file).map_err(io_error)?);
            }
        }
        entries.retain(|entry| options.wants(entry));
        if let Some(tail) = options.tail {
            let skip = entries.len().saturating_sub(tail);
            entries.drain(..skip);
        }
        for entry in &entries {
            sink(entry).map_err(io_error)?;
        }
        let Some(inotify) = watch else { return Ok(()) };
        loop {
            if options.stop.as_ref().is_some_and(|stop| stop.load(Ordering::Relaxed)) {
                return Ok(());
            }
            let running = self.state(&record).map(|s| s.is_running()).unwrap_or(false);
            let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(FOLLOW_CHECK).unwrap_or(PollTimeout::MAX);
            if nix::poll::poll(&mut fds, timeout).is_ok_and(|n| n > 0) {
                let _ = inotify.read_events();
            }
            // A rotation replaced the file: finish the old one, go on with the new.
            let rotated = match (std::fs::metadata(dir.log()), &current) {
                (Ok(meta), Some(open)) => open.metadata().map(|m| m.ino() != meta.ino()).unwrap_or(true),
                (Ok(_), None) => true,
                (Err(_), _) => false,
            };
            let mut fresh = Vec::new();
            if let Some(open) = &mut current {
                read_new(open, &mut fresh).map_err(io_error)?;
            }
            if rotated {
                current = File::open(dir.log()).ok();
                if let Some(open) = &mut current {
                    read_new(open, &mut fresh).map_err(io_error)?;
                }
            }
            for entry in fresh.iter().filter(|e| options.wants(e)) {
                sink(entry).map_err(io_error)?;
            }
            if options.until.is_some_and(|until| Utc::now() > until) {
                return Ok(());
            }
            if !running && fresh.is_empty() {
                return Ok(());
            }
        }
    }
}

fn watch(dir: &ContainerDir) -> io::Result<Inotify> {
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    inotify.add_watch(dir.path(), AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)?;
    Ok(inotify)
}

/// Reads the complete lines added to `file` since the last read; a partly
/// written last line is left for the next time.
fn read_new(file: &mut File, entries: &mut Vec<Entry>) -> io::Result<()> {
    let start = file.stream_position()?;
    let mut reader = BufReader::new(&mut *file);
    let mut consumed = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || !line.ends_with(b"\n") {
            break;
        }
        consumed += n as u64;
        if let Ok(entry) = serde_json::from_slice::<Entry>(&line) {
            entries.push(entry);
        }
    }
    drop(reader);
    file.seek(SeekFrom::Start(start + consumed))?;
    Ok(())
}
