//! The handle the verbs hang off: a state root, its database, and how to
//! run berth's helper processes (the monitor and `exec`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use super::error::ContainerError;
use super::layout::ContainerDir;
use super::records::{self, ContainerRecord, MIGRATION};
use super::spawner::MonitorSpawner;
use super::state::State;
use crate::store::{Db, Root};

/// How to start `berth internal <subcommand> ...`: the berth binary, normally.
#[derive(Debug, Clone)]
pub struct HelperCommand {
    pub program: PathBuf,
    /// Arguments before the subcommand (`internal`).
    pub args: Vec<OsString>,
    /// The name the helper is shown by (`argv[0]`) when `program` is not it.
    pub arg0: Option<OsString>,
}

impl HelperCommand {
    /// This very binary, for the `berth` CLI and daemon: run as
    /// `/proc/self/exe`, so that a daemon whose file was replaced (an upgrade
    /// while it runs) still starts monitors of its own version, shown by its path.
    pub fn current_exe() -> Result<HelperCommand, ContainerError> {
        let shown = std::env::current_exe()
            .map_err(|e| ContainerError::Internal(format!("cannot find the berth binary: {e}")))?;
        Ok(HelperCommand {
            program: PathBuf::from("/proc/self/exe"),
            args: vec!["internal".into()],
            arg0: Some(shown.into_os_string()),
        })
    }

    pub(crate) fn command(&self, subcommand: &str) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        if let Some(arg0) = &self.arg0 {
            std::os::unix::process::CommandExt::arg0(&mut command, arg0);
        }
        command.args(&self.args).arg(subcommand);
        command
    }
}

/// The containers of one state root. Every operation works from any process:
/// all state is on disk and with the monitors, none in this value (but the
/// spawner of monitors, shared by the values a process opens).
#[derive(Debug)]
pub struct Containers {
    pub(crate) root: Root,
    pub(crate) db: Db,
    pub(crate) spawner: Arc<MonitorSpawner>,
}

impl Containers {
    /// Opens the containers of `root`, running helpers with this binary.
    pub fn open(root: &Root) -> Result<Containers, ContainerError> {
        Containers::open_with(root, HelperCommand::current_exe()?)
    }

    /// Opens the containers of `root`, running helpers with `helper`.
    pub fn open_with(root: &Root, helper: HelperCommand) -> Result<Containers, ContainerError> {
        Containers::open_sharing(root, Arc::new(MonitorSpawner::new(helper, root.clone())))
    }

    /// Opens the containers of `root` with a spawner another value uses too
    /// (the daemon opens a value per long operation; all share one spawner).
    pub fn open_sharing(root: &Root, spawner: Arc<MonitorSpawner>) -> Result<Containers, ContainerError> {
        for dir in [root.containers(), root.volumes()] {
            std::fs::create_dir_all(&dir).map_err(|e| ContainerError::io("cannot create", dir, e))?;
        }
        let db = Db::open(&root.db(), &[MIGRATION])?;
        Ok(Containers { root: root.clone(), db, spawner })
    }

    /// The spawner of this value's monitors, to share with [`Containers::open_sharing`].
    pub fn spawner(&self) -> Arc<MonitorSpawner> {
        Arc::clone(&self.spawner)
    }

    pub(crate) fn helper(&self) -> &HelperCommand {
        self.spawner.helper()
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Finds a container by full ID, name or unique ID prefix.
    pub fn lookup(&self, reference: &str) -> Result<ContainerRecord, ContainerError> {
        records::lookup(&self.db, reference)
    }

    /// Every container, newest first.
    pub fn all(&self) -> Result<Vec<ContainerRecord>, ContainerError> {
        records::list(&self.db)
    }

    pub(crate) fn dir(&self, record: &ContainerRecord) -> ContainerDir {
        ContainerDir::new(&self.root, &record.id)
    }

    /// The runtime state of a container.
    pub fn state(&self, record: &ContainerRecord) -> Result<State, ContainerError> {
        let dir = self.dir(record);
        State::load(&dir).map_err(|e| ContainerError::io("cannot read", dir.state_json(), e))
    }

    /// Whether any container uses the image `image_id` (images in use are not removed).
    pub fn image_in_use(&self, image_id: &str) -> Result<bool, ContainerError> {
        records::image_in_use(&self.db, image_id)
    }
}
