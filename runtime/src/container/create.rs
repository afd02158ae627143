//! `create`: records a container (nothing runs until `start`).

use chrono::Utc;

use super::config::{ContainerConfig, validate_name};
use super::containers::Containers;
use super::error::ContainerError;
use super::id::ContainerId;
use super::layout::ContainerDir;
use super::mounts::MountKind;
use super::options::{CreateOptions, OptionError};
use super::records::{self, ContainerRecord};
use super::security::bounding_set;
use super::{etc, layout, names, volumes};
use crate::image::Image;

/// Tries before giving up on finding a free generated name.
const NAME_ATTEMPTS: u32 = 20;

impl Containers {
    /// Creates a container from `image` (named `reference` by the user). The
    /// options are checked first; on any error nothing is left behind.
    pub fn create(
        &mut self,
        image: &Image,
        reference: &str,
        options: &CreateOptions,
    ) -> Result<ContainerRecord, ContainerError> {
        let host_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        options.resources.validate(host_cpus)?;
        let available = bounding_set().map_err(|e| ContainerError::io("cannot read", "/proc/self/status", e))?;
        options.capabilities.resolve(&available).map_err(|reason| OptionError::new("--cap-add", "", reason))?;
        if options.init {
            super::monitor::find_init_binary()?;
        }
        let name = match &options.name {
            Some(name) => {
                let name = validate_name(name)?.to_owned();
                if !records::name_free(&self.db, &name)? {
                    let owner = records::lookup(&self.db, &name)?.id.to_string();
                    return Err(ContainerError::NameInUse { name, owner });
                }
                name
            }
            None => self.free_name()?,
        };

        let id = match &options.id {
            Some(id) => id.clone(),
            None => ContainerId::generate().map_err(|e| ContainerError::io("cannot read", "/dev/urandom", e))?,
        };
        let anonymous =
            options.mounts.iter().filter(|m| matches!(m.kind, MountKind::Volume { name: None, .. })).count()
                + image.config.config().as_ref().and_then(|c| c.volumes().as_ref()).map_or(0, Vec::len);
        let mut fresh_names = (0..anonymous)
            .map(|_| volumes::anonymous_name())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ContainerError::io("cannot read", "/dev/urandom", e))?;
        let config = ContainerConfig::merge(&id, reference, image, options, || fresh_names.pop().unwrap_or_default())?;
        let record = ContainerRecord { id, name, created: Utc::now(), config };

        // Written aside, then moved into place and recorded: a failure leaves nothing.
        let staging = self.root.tmp().join(format!("container-{}", record.id));
        let result = self.stage(&staging, &record, options).and_then(|()| {
            let dir = ContainerDir::new(&self.root, &record.id);
            std::fs::rename(&staging, dir.path()).map_err(|e| ContainerError::io("cannot create", dir.path(), e))?;
            std::fs::File::open(self.root.containers())
                .and_then(|parent| parent.sync_all())
                .map_err(|e| ContainerError::io("cannot sync", self.root.containers(), e))?;
            records::insert(&mut self.db, &record).inspect_err(|_| {
                let _ = std::fs::remove_dir_all(dir.path());
            })
        });
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result.map(|()| record)
    }

    fn stage(
        &self,
        staging: &std::path::Path,
        record: &ContainerRecord,
        options: &CreateOptions,
    ) -> Result<(), ContainerError> {
        std::fs::create_dir_all(staging).map_err(|e| ContainerError::io("cannot create", staging, e))?;
        // The staging directory is invisible until renamed: plain writes suffice,
        // and only the record itself is synced (the /etc files are written again
        // at start if a crash lost them).
        let config_path = staging.join(layout::CONTAINER_JSON);
        let json = serde_json::to_vec_pretty(&record.config).map_err(|e| ContainerError::Internal(e.to_string()))?;
        let synced = std::fs::File::create(&config_path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, &json).and_then(|()| file.sync_all()));
        synced.map_err(|e| ContainerError::io("cannot write", &config_path, e))?;
        etc::write(staging, &record.config.hostname, &record.config.network, &options.etc)
            .map_err(|e| ContainerError::io("cannot write", staging, e))
    }

    /// A generated name no container has (`create` picks one when none is given;
    /// a caller that needs the name before, for the network, asks here).
    pub fn free_name(&self) -> Result<String, ContainerError> {
        for attempt in 0..NAME_ATTEMPTS {
            let name = names::generate(attempt).map_err(|e| ContainerError::io("cannot read", "/dev/urandom", e))?;
            if records::name_free(&self.db, &name)? {
                return Ok(name);
            }
        }
        Err(ContainerError::Internal("cannot find a free container name".into()))
    }
}
