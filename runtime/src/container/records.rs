//! The "containers" tables of the state database: one row per container (its
//! ID, unique name and recorded configuration) and its labels, for lookups
//! by name, by ID prefix and by label.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::config::ContainerConfig;
use super::error::ContainerError;
use super::id::{ContainerId, is_lower_hex};
use crate::store::{Db, Migration};

pub const MIGRATION: Migration = Migration {
    component: "containers",
    steps: &["CREATE TABLE containers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            image_id TEXT NOT NULL,
            created TEXT NOT NULL,
            config TEXT NOT NULL
        );
        CREATE TABLE container_labels (
            container_id TEXT NOT NULL REFERENCES containers (id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (container_id, key)
        );
        CREATE INDEX container_labels_by_key ON container_labels (key, value);
        CREATE INDEX containers_by_image ON containers (image_id);"],
};

/// A container as recorded at create.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRecord {
    pub id: ContainerId,
    pub name: String,
    pub created: DateTime<Utc>,
    pub config: ContainerConfig,
}

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn decode((id, name, created, config): (String, String, String, String)) -> Result<ContainerRecord, ContainerError> {
    let corrupt = |what: String| ContainerError::Corrupt { id: id.clone(), what };
    Ok(ContainerRecord {
        id: ContainerId::parse(&id).ok_or_else(|| corrupt("its ID".into()))?,
        created: DateTime::parse_from_rfc3339(&created)
            .map_err(|e| corrupt(format!("its creation time: {e}")))?
            .with_timezone(&Utc),
        config: serde_json::from_str(&config).map_err(|e| corrupt(format!("its configuration: {e}")))?,
        name,
    })
}

const COLUMNS: &str = "id, name, created, config";

/// Adds a container; a taken name is refused with Docker's message.
pub fn insert(db: &mut Db, record: &ContainerRecord) -> Result<(), ContainerError> {
    let tx = db.write()?;
    let taken: Option<String> =
        tx.query_row("SELECT id FROM containers WHERE name = ?1", [&record.name], |r| r.get(0)).optional()?;
    if let Some(owner) = taken {
        return Err(ContainerError::NameInUse { name: record.name.clone(), owner });
    }
    tx.execute(
        "INSERT INTO containers (id, name, image_id, created, config) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            record.id.as_str(),
            record.name,
            record.config.image_id,
            record.created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            serde_json::to_string(&record.config).map_err(|e| ContainerError::Internal(e.to_string()))?,
        ],
    )?;
    for (key, value) in &record.config.labels {
        tx.execute(
            "INSERT INTO container_labels (container_id, key, value) VALUES (?1, ?2, ?3)",
            params![record.id.as_str(), key, value],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Finds a container as Docker does: full ID, then name, then unique ID prefix.
pub fn lookup(db: &Db, reference: &str) -> Result<ContainerRecord, ContainerError> {
    let conn = db.conn();
    let query = |sql: &str, arg: &str| -> Result<Vec<ContainerRecord>, ContainerError> {
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map([arg], from_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(decode).collect()
    };
    let name = reference.strip_prefix('/').unwrap_or(reference);
    if let Some(id) = ContainerId::parse(reference)
        && let Some(found) = query(&format!("SELECT {COLUMNS} FROM containers WHERE id = ?1"), id.as_str())?.pop()
    {
        return Ok(found);
    }
    if let Some(found) = query(&format!("SELECT {COLUMNS} FROM containers WHERE name = ?1"), name)?.pop() {
        return Ok(found);
    }
    if is_lower_hex(reference) {
        // `substr` keeps LIKE's wildcards out of the comparison.
        let mut found = query(
            &format!("SELECT {COLUMNS} FROM containers WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2"),
            reference,
        )?;
        match found.len() {
            1 => return Ok(found.remove(0)),
            2.. => return Err(ContainerError::Ambiguous(reference.to_owned())),
            _ => {}
        }
    }
    Err(ContainerError::NotFound(reference.to_owned()))
}

/// Every container, newest first.
pub fn list(db: &Db) -> Result<Vec<ContainerRecord>, ContainerError> {
    let mut statement = db.conn().prepare_cached(&format!("SELECT {COLUMNS} FROM containers ORDER BY created DESC"))?;
    let rows = statement.query_map([], from_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Containers carrying every one of `labels` (a `None` value matches any value), newest first.
pub fn with_labels(db: &Db, labels: &BTreeMap<String, Option<String>>) -> Result<Vec<ContainerRecord>, ContainerError> {
    let mut sql = format!("SELECT {COLUMNS} FROM containers WHERE 1");
    let mut args: Vec<&str> = Vec::new();
    for (key, value) in labels {
        args.push(key);
        match value {
            Some(value) => {
                args.push(value);
                sql.push_str(&format!(
                    " AND id IN (SELECT container_id FROM container_labels WHERE key = ?{} AND value = ?{})",
                    args.len() - 1,
                    args.len()
                ));
            }
            None => sql.push_str(&format!(
                " AND id IN (SELECT container_id FROM container_labels WHERE key = ?{})",
                args.len()
            )),
        }
    }
    sql.push_str(" ORDER BY created DESC");
    let mut statement = db.conn().prepare(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(args), from_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(decode).collect()
}

/// Whether any container was created from `image_id`.
pub fn image_in_use(db: &Db, image_id: &str) -> Result<bool, ContainerError> {
    let found: Option<i64> = db
        .conn()
        .query_row("SELECT 1 FROM containers WHERE image_id = ?1 LIMIT 1", [image_id], |r| r.get(0))
        .optional()?;
    Ok(found.is_some())
}

/// Renames a container; a taken name is refused.
pub fn rename(db: &mut Db, id: &ContainerId, new_name: &str) -> Result<(), ContainerError> {
    let tx = db.write()?;
    let taken: Option<String> =
        tx.query_row("SELECT id FROM containers WHERE name = ?1", [new_name], |r| r.get(0)).optional()?;
    if let Some(owner) = taken {
        return Err(ContainerError::NameInUse { name: new_name.to_owned(), owner });
    }
    tx.execute("UPDATE containers SET name = ?1 WHERE id = ?2", params![new_name, id.as_str()])?;
    tx.commit()?;
    Ok(())
}

/// Whether `name` is free.
pub fn name_free(db: &Db, name: &str) -> Result<bool, ContainerError> {
    let found: Option<i64> =
        db.conn().query_row("SELECT 1 FROM containers WHERE name = ?1", [name], |r| r.get(0)).optional()?;
    Ok(found.is_none())
}

/// Removes the row (labels go with it).
pub fn delete(db: &mut Db, id: &ContainerId) -> Result<(), ContainerError> {
    db.conn_mut().execute("DELETE FROM containers WHERE id = ?1", [id.as_str()])?;
    Ok(())
}
