//! The desired state of each project, as the last `up` gave it: kept in
//! SQLite so the daemon converges it again after a restart or a reboot.

use std::collections::BTreeMap;

use berth_runtime::store::{Db, Migration};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::compose::model::Project;
use crate::reconcile::selection::Kept;

pub const MIGRATION: Migration = Migration {
    component: "projects",
    steps: &[
        "CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        working_dir TEXT NOT NULL,
        config_files TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    )",
        "ALTER TABLE projects ADD COLUMN scale TEXT NOT NULL DEFAULT '{}'",
        // NULL: every service.
        "ALTER TABLE projects ADD COLUMN services TEXT",
    ],
};

/// One project as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub project: Project,
    pub working_dir: String,
    pub config_files: Vec<String>,
    /// `up --scale` overrides of the replica counts.
    #[serde(default)]
    pub scale: BTreeMap<String, u32>,
    /// The services the reconciler keeps up (`up SERVICE...` brought up only those).
    #[serde(default)]
    pub services: Kept,
    /// Seconds since the epoch.
    pub updated_at: i64,
}

#[derive(Debug)]
pub struct ProjectStore {
    db: Db,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectStoreError {
    #[error("the project database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the stored spec of project {name} cannot be read: {source}")]
    Spec { name: String, source: serde_json::Error },
}

impl ProjectStore {
    pub fn new(db: Db) -> Self {
        ProjectStore { db }
    }

    /// Stores (or replaces) a project's desired state, in one transaction.
    pub fn put(&mut self, record: &ProjectRecord) -> Result<(), ProjectStoreError> {
        let name = record.project.name.clone();
        let spec = serde_json::to_string(&record.project).map_err(|source| ProjectStoreError::Spec { name, source })?;
        let files = serde_json::to_string(&record.config_files).expect("strings serialize");
        let scale = serde_json::to_string(&record.scale).expect("a map of numbers serializes");
        let services = record.services.as_ref().map(|s| serde_json::to_string(s).expect("strings serialize"));
        self.db.conn().execute(
            "INSERT INTO projects (name, spec, working_dir, config_files, updated_at, scale, services)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, working_dir = excluded.working_dir,
               config_files = excluded.config_files, updated_at = excluded.updated_at, scale = excluded.scale,
               services = excluded.services",
            params![record.project.name, spec, record.working_dir, files, record.updated_at, scale, services],
        )?;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<Option<ProjectRecord>, ProjectStoreError> {
        let row = self
            .db
            .conn()
            .query_row(
                "SELECT name, spec, working_dir, config_files, updated_at, scale, services FROM projects WHERE name = ?1",
                params![name],
                row,
            )
            .optional()?;
        row.map(parse).transpose()
    }

    pub fn list(&self) -> Result<Vec<ProjectRecord>, ProjectStoreError> {
        let mut statement = self.db.conn().prepare(
            "SELECT name, spec, working_dir, config_files, updated_at, scale, services FROM projects ORDER BY name",
        )?;
        let rows = statement.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(parse).collect()
    }

    /// Forgets a project (after `down`); true if it was known.
    pub fn remove(&mut self, name: &str) -> Result<bool, ProjectStoreError> {
        Ok(self.db.conn().execute("DELETE FROM projects WHERE name = ?1", params![name])? > 0)
    }
}

type Row = (String, String, String, String, i64, String, Option<String>);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn parse(
    (name, spec, working_dir, files, updated_at, scale, services): Row,
) -> Result<ProjectRecord, ProjectStoreError> {
    let spec_err = |source| ProjectStoreError::Spec { name: name.clone(), source };
    Ok(ProjectRecord {
        project: serde_json::from_str(&spec).map_err(spec_err)?,
        working_dir,
        config_files: serde_json::from_str(&files).map_err(spec_err)?,
        scale: serde_json::from_str(&scale).map_err(spec_err)?,
        services: services.map(|s| serde_json::from_str(&s)).transpose().map_err(spec_err)?,
        updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{LoadOptions, load};

    #[test]
    fn projects_round_trip_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("compose.yaml"),
            "name: demo\nservices:\n  web:\n    image: web\n    ports: ['8080:80']\n    extra_hosts: ['h=1.2.3.4']\n    healthcheck: {test: 'true', interval: 1m30s}\n    restart: on-failure:3\n    deploy: {resources: {limits: {memory: 64m}}}\nvolumes:\n  data:\n",
        )
        .unwrap();
        let options = LoadOptions { interpolate: true, cwd: dir.path().to_path_buf(), ..Default::default() };
        let project = load(&options).unwrap().project;
        let mut store = ProjectStore::new(Db::memory(&[MIGRATION]).unwrap());
        let record = ProjectRecord {
            project,
            working_dir: "/w".into(),
            config_files: vec!["/w/compose.yaml".into()],
            updated_at: 7,
            scale: BTreeMap::from([("web".to_owned(), 2)]),
            services: Some(["web".to_owned()].into()),
        };
        store.put(&record).unwrap();
        assert_eq!(store.get("demo").unwrap().as_ref(), Some(&record));
        assert_eq!(store.list().unwrap(), std::slice::from_ref(&record));
        let all = ProjectRecord { services: None, ..record };
        store.put(&all).unwrap();
        assert_eq!(store.get("demo").unwrap().as_ref(), Some(&all));
        assert!(store.remove("demo").unwrap());
        assert_eq!(store.get("demo").unwrap(), None);
    }
}
