//! `image prune`: delete dangling images (no tag; with `all`, every image
//! no container uses), then sweep what a crash may have left: temp files of
//! dead processes, and layers or blobs on disk that no table row knows.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use super::ImageStore;
use super::digest::Digest;
use super::error::ImageError;
use super::records::{self, RefKind};
use super::remove::Removed;

/// Strays younger than this may belong to a pull still running in another process.
const STRAY_AGE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub removed: Vec<Removed>,
    /// Bytes of unpacked layers and blobs freed.
    pub reclaimed: u64,
}

impl ImageStore {
    pub fn prune(&self, all: bool, in_use: &HashSet<String>) -> Result<PruneReport, ImageError> {
        self.settle()?;
        let mut report = PruneReport::default();
        let (layers, blobs) = {
            let mut db = self.db();
            let tx = db.write().map_err(ImageError::sql("pruning images"))?;
            for row in records::all_images(&tx)? {
                let names = records::image_refs(&tx, &row.id)?;
                // Dangling, as in Docker: no tag (names by digest alone do not keep an image).
                let tagged = names.iter().any(|n| n.kind == RefKind::Tag);
                if in_use.contains(&row.id.to_string()) || (tagged && !all) {
                    continue;
                }
                for name in names {
                    records::remove_ref(&tx, &name.name)?;
                    report.removed.push(Removed::Untagged(super::remove::familiar(&name.name)));
                }
                records::delete_image(&tx, &row.id)?;
                report.removed.push(Removed::Deleted(row.id));
            }
            let freed_layers = records::take_unreferenced_layers(&tx)?;
            let freed_blobs = records::take_unreferenced_blobs(&tx)?;
            tx.commit().map_err(ImageError::sql("pruning images"))?;
            (freed_layers, freed_blobs)
        };
        report.reclaimed += layers.iter().map(|c| disk_bytes(&self.layer_dir(c))).sum::<u64>();
        report.reclaimed += blobs.iter().map(|d| disk_bytes(&self.content().path(d))).sum::<u64>();
        self.delete_files(&layers, &blobs);
        report.reclaimed += self.sweep_strays()?;
        Ok(report)
    }

    /// Removes what no row knows and no live process is writing; returns the bytes freed.
    fn sweep_strays(&self) -> Result<u64, ImageError> {
        let (known_layers, known_blobs) = {
            let db = self.db();
            records::known_layers_and_blobs(db.conn())?
        };
        let known_layers: HashSet<String> =
            known_layers.iter().filter_map(|c| c.parse::<Digest>().ok()).map(|d| d.hex().to_owned()).collect();
        let known_blobs: HashSet<String> =
            known_blobs.iter().filter_map(|c| c.parse::<Digest>().ok()).map(|d| d.hex().to_owned()).collect();
        let mut freed = 0;
        for (dir, known) in [(self.root().layers(), &known_layers), (self.root().content(), &known_blobs)] {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if known.contains(&name) || !is_old(&entry.path()) {
                    continue;
                }
                freed += remove_any(&entry.path());
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.root().tmp()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // Temp names carry the PID of their writer: layer-PID-.., blob-PID-.., removing-PID-..
                let pid = name.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
                let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
                // A dead writer's leftovers go at once; unnamed ones only once old.
                if (pid.is_some() && !alive) || (pid.is_none() && is_old(&entry.path())) {
                    freed += remove_any(&entry.path());
                }
            }
        }
        Ok(freed)
    }
}

fn is_old(path: &std::path::Path) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_none_or(|age| age >= STRAY_AGE)
}

fn remove_any(path: &std::path::Path) -> u64 {
    let bytes = disk_bytes(path);
    let result = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove a stray");
        return 0;
    }
    bytes
}

use super::layers::disk_bytes;
