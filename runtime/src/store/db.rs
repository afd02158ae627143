//! The SQLite database (`<root>/berth.db`, WAL). Each component (images,
//! containers, ...) owns its tables and brings its own migrations; a
//! `schema_versions` row per component records how far it has got.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the state database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("cannot migrate the {component} tables of the state database to version {version}: {source}")]
    Migrate { component: &'static str, version: usize, source: rusqlite::Error },
    #[error(
        "the state database has {component} tables at version {found}, newer than this berth knows ({known}); use a newer berth"
    )]
    TooNew { component: &'static str, found: usize, known: usize },
}

/// One component's schema changes, applied in order, each exactly once.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub component: &'static str,
    /// Version `i + 1` is reached by running `steps[i]`.
    pub steps: &'static [&'static str],
}

/// An open connection to the state database.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
}

/// Writers wait this long for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Db {
    /// Opens (creating if needed) the database at `path` and brings `migrations` up to date.
    pub fn open(path: &Path, migrations: &[Migration]) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open { path: path.display().to_string(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| open_err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        }
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Only the first open switches to WAL; asking again takes a lock that
        // concurrent openers (the daemon's parallel steps) would wait on.
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        let mut db = Db { conn };
        for migration in migrations {
            db.migrate(migration)?;
        }
        Ok(db)
    }

    /// An in-memory database, for unit tests.
    pub fn memory(migrations: &[Migration]) -> Result<Self, DbError> {
        let conn = Connection::open_in_memory().map_err(|source| DbError::Open { path: ":memory:".into(), source })?;
        let mut db = Db { conn };
        for migration in migrations {
            db.migrate(migration)?;
        }
        Ok(db)
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// A transaction that writes. It takes the write lock at BEGIN (IMMEDIATE),
    /// waiting up to the busy timeout for another writer: a deferred transaction
    /// that reads first and writes later fails at once with SQLITE_BUSY when
    /// another connection wrote in between (WAL snapshots), which concurrent
    /// creates in the daemon do.
    pub fn write(&mut self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
    }

    fn migrate(&mut self, migration: &Migration) -> Result<(), DbError> {
        let component = migration.component;
        let err = |version, source| DbError::Migrate { component, version, source };
        // Up to date (every open but the first): a read, no write transaction to wait for or sync.
        let current: Option<i64> = self
            .conn
            .query_row("SELECT version FROM schema_versions WHERE component = ?1", params![component], |r| r.get(0))
            .optional()
            .unwrap_or(None);
        if current == Some(migration.steps.len() as i64) {
            return Ok(());
        }
        // IMMEDIATE: two processes starting at once must not both run a step.
        let tx =
            self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| err(0, e))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
        )
        .map_err(|e| err(0, e))?;
        let current: i64 = tx
            .query_row("SELECT version FROM schema_versions WHERE component = ?1", params![component], |r| r.get(0))
            .optional()
            .map_err(|e| err(0, e))?
            .unwrap_or(0);
        let current = usize::try_from(current).unwrap_or(usize::MAX);
        if current > migration.steps.len() {
            return Err(DbError::TooNew { component, found: current, known: migration.steps.len() });
        }
        for (index, step) in migration.steps.iter().enumerate().skip(current) {
            tx.execute_batch(step).map_err(|e| err(index + 1, e))?;
        }
        tx.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            params![component, migration.steps.len() as i64],
        )
        .map_err(|e| err(migration.steps.len(), e))?;
        tx.commit().map_err(|e| err(migration.steps.len(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Migration = Migration { component: "things", steps: &["CREATE TABLE things (id TEXT PRIMARY KEY)"] };
    const V2: Migration = Migration {
        component: "things",
        steps: &["CREATE TABLE things (id TEXT PRIMARY KEY)", "ALTER TABLE things ADD COLUMN size INTEGER"],
    };

    #[test]
    fn migrations_run_once_and_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        Db::open(&path, &[V1]).unwrap().conn().execute("INSERT INTO things (id) VALUES ('a')", []).unwrap();
        let db = Db::open(&path, &[V2]).unwrap();
        let size: Option<i64> =
            db.conn().query_row("SELECT size FROM things WHERE id = 'a'", [], |r| r.get(0)).unwrap();
        assert_eq!(size, None);
        Db::open(&path, &[V2]).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        Db::open(&path, &[V2]).unwrap();
        let err = Db::open(&path, &[V1]).unwrap_err();
        assert!(err.to_string().contains("newer than this berth knows"), "{err}");
    }
}
