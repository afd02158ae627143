//! The container log in Docker's json-file format: one JSON object per line,
//! `{"log":"...\n","stream":"stdout","time":"<RFC 3339, ns>"}`, rotated by size.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::config::LogConfig;
use super::layout::ContainerDir;

/// Docker splits lines longer than this into several entries.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The text, with its newline when the line was complete.
    pub log: String,
    pub stream: Stream,
    pub time: DateTime<Utc>,
}

#[derive(Serialize)]
struct EntryRef<'a> {
    log: &'a str,
    stream: Stream,
    time: String,
}

/// Appends the container's output to its log.
#[derive(Debug)]
pub struct LogWriter {
    current: PathBuf,
    rotated: Vec<PathBuf>,
    file: File,
    size: u64,
    config: LogConfig,
    /// Output without its newline yet, per stream.
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(dir: &ContainerDir, config: LogConfig) -> io::Result<LogWriter> {
        let current = dir.log();
        let file = OpenOptions::new().create(true).append(true).open(&current)?;
        let size = file.metadata()?.len();
        let rotated = (1..config.max_files).map(|n| dir.rotated_log(n)).collect();
        Ok(LogWriter { current, rotated, file, size, config, partial: [Vec::new(), Vec::new()] })
    }

    /// Logs output; complete lines are written now, the rest when its line ends.
    pub fn write(&mut self, stream: Stream, mut data: &[u8]) -> io::Result<()> {
        let index = stream as usize;
        while !data.is_empty() {
            let room = MAX_LINE - self.partial[index].len();
            let take = match data[..data.len().min(room)].iter().position(|b| *b == b'\n') {
                Some(newline) => newline + 1,
                None => data.len().min(room),
            };
            self.partial[index].extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial[index].ends_with(b"\n") || self.partial[index].len() >= MAX_LINE {
                let line = std::mem::take(&mut self.partial[index]);
                self.entry(stream, &line)?;
            }
        }
        Ok(())
    }

    /// Writes out partial lines (the process ended without a final newline).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut self.partial[stream as usize]);
            if !line.is_empty() {
                self.entry(stream, &line)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let entry = EntryRef { log: &text, stream, time: Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true) };
        let mut bytes = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        bytes.push(b'\n');
        if self.size > 0 && self.size + bytes.len() as u64 > self.config.max_size {
            self.rotate()?;
        }
        self.file.write_all(&bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// current -> .1 -> .2 ...; the oldest beyond `max_files` is dropped.
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(last) = self.rotated.last() {
            remove_if_present(last)?;
            for pair in self.rotated.windows(2).rev() {
                rename_if_present(&pair[0], &pair[1])?;
            }
            std::fs::rename(&self.current, &self.rotated[0])?;
        }
        self.file = OpenOptions::new().create(true).write(true).truncate(true).open(&self.current)?;
        self.size = 0;
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The log files, oldest first.
pub fn files(dir: &ContainerDir, config: LogConfig) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..config.max_files.max(1)).rev().map(|n| dir.rotated_log(n)).collect();
    files.push(dir.log());
    files.into_iter().filter(|f| f.exists()).collect()
}

/// Reads the entries of one file; a damaged line (say, half-written when the
/// machine lost power) is skipped.
pub fn read_entries(path: &Path) -> io::Result<Vec<Entry>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        if let Ok(entry) = serde_json::from_slice::<Entry>(&line?) {
            entries.push(entry);
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::id::ContainerId;
    use crate::store::Root;

    fn dir() -> (tempfile::TempDir, ContainerDir) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path().join("root"), tmp.path().join("run"));
        let dir = ContainerDir::new(&root, &ContainerId::generate().unwrap());
        std::fs::create_dir_all(dir.path()).unwrap();
        (tmp, dir)
    }

    #[test]
    fn lines_are_logged_whole_per_stream() {
        let (_tmp, dir) = dir();
        let mut log = LogWriter::open(&dir, LogConfig::default()).unwrap();
        log.write(Stream::Stdout, b"hel").unwrap();
        log.write(Stream::Stderr, b"oops\n").unwrap();
        log.write(Stream::Stdout, b"lo\nwor").unwrap();
        log.write(Stream::Stdout, b"ld \xff\n\"quoted\"").unwrap();
        log.flush_partial().unwrap();
        let entries = read_entries(&dir.log()).unwrap();
        let lines: Vec<(&str, Stream)> = entries.iter().map(|e| (e.log.as_str(), e.stream)).collect();
        assert_eq!(
            lines,
            [
                ("oops\n", Stream::Stderr),
                ("hello\n", Stream::Stdout),
                ("world \u{fffd}\n", Stream::Stdout),
                ("\"quoted\"", Stream::Stdout)
            ]
        );
        let raw = std::fs::read_to_string(dir.log()).unwrap();
        assert!(raw.lines().next().unwrap().contains("\"stream\":\"stderr\""));
    }

    #[test]
    fn long_lines_are_split_like_docker() {
        let (_tmp, dir) = dir();
        let mut log = LogWriter::open(&dir, LogConfig::default()).unwrap();
        log.write(Stream::Stdout, &vec![b'x'; MAX_LINE + 10]).unwrap();
        log.write(Stream::Stdout, b"\n").unwrap();
        let entries = read_entries(&dir.log()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].log.len(), MAX_LINE);
        assert_eq!(entries[1].log.len(), 11);
    }

    #[test]
    fn rotation_keeps_max_files() {
        let (_tmp, dir) = dir();
        let config = LogConfig { max_size: 200, max_files: 3 };
        let mut log = LogWriter::open(&dir, config).unwrap();
        for n in 0..40 {
            log.write(Stream::Stdout, format!("line {n}\n").as_bytes()).unwrap();
        }
        let files = files(&dir, config);
        assert_eq!(files.len(), 3);
        assert!(!dir.rotated_log(3).exists());
        let all: Vec<Entry> = files.iter().flat_map(|f| read_entries(f).unwrap()).collect();
        assert_eq!(all.last().unwrap().log, "line 39\n");
        let numbers: Vec<u32> = all.iter().map(|e| e.log[5..].trim().parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "oldest first, nothing lost inside the window");
        for file in &files {
            assert!(std::fs::metadata(file).unwrap().len() <= 200);
        }
    }
}
