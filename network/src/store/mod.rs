//! The network tables in the shared state database `<root>/berth.db`: networks,
//! attachments (which are the IP leases) and published ports. The database is
//! opened here with the same `schema_versions(component, version)` convention
//! the runtime uses, as component "network", so the crates share the file
//! without depending on each other.

mod attachments;
mod networks;
mod ports;

use std::path::Path;
use std::time::Duration;

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

pub(crate) use attachments::AttachmentRow;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the state database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("cannot migrate the network tables of the state database to version {version}: {source}")]
    Migrate { version: usize, source: rusqlite::Error },
    #[error(
        "the state database has network tables at version {found}, newer than this berth knows ({known}); use a newer berth"
    )]
    TooNew { found: usize, known: usize },
    #[error("state database: cannot {op}: {source}")]
    Query { op: &'static str, source: rusqlite::Error },
    #[error("state database: {what} holds a value this berth cannot read: {value:?}")]
    Corrupt { what: &'static str, value: String },
}

/// Shorthand for mapping a rusqlite error to [`StoreError::Query`].
pub(crate) fn query_err(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query { op, source }
}

const COMPONENT: &str = "network";

/// Append-only: version `i + 1` is reached by running `STEPS[i]`.
const STEPS: &[&str] = &[
    "CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        bridge TEXT NOT NULL UNIQUE,
        subnet TEXT NOT NULL,
        gateway TEXT NOT NULL,
        ip_range TEXT,
        internal INTEGER NOT NULL,
        dns INTEGER NOT NULL,
        mtu INTEGER NOT NULL,
        labels TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE TABLE network_attachments (
        container_id TEXT NOT NULL,
        network_id TEXT NOT NULL REFERENCES networks(id),
        position INTEGER NOT NULL,
        ipv4 TEXT NOT NULL,
        container_name TEXT NOT NULL,
        hostname TEXT,
        aliases TEXT NOT NULL,
        links TEXT NOT NULL,
        dns_servers TEXT NOT NULL,
        active INTEGER NOT NULL,
        PRIMARY KEY (container_id, network_id),
        UNIQUE (network_id, ipv4),
        UNIQUE (container_id, position)
    );
    CREATE TABLE network_ports (
        protocol TEXT NOT NULL,
        host_ip TEXT NOT NULL,
        host_port INTEGER NOT NULL,
        container_id TEXT NOT NULL,
        container_ip TEXT NOT NULL,
        container_port INTEGER NOT NULL,
        PRIMARY KEY (protocol, host_ip, host_port)
    );
    CREATE INDEX network_ports_by_container ON network_ports (container_id);",
    // IPv6: a network's subnet, gateway and range (JSON, NULL without IPv6)
    // and a container's IPv6 lease. (Ports' addresses are text of either family.)
    "ALTER TABLE networks ADD COLUMN ipv6 TEXT;
    ALTER TABLE network_attachments ADD COLUMN ipv6 TEXT;
    CREATE UNIQUE INDEX network_attachments_ipv6 ON network_attachments (network_id, ipv6);",
];

/// Writers wait this long for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The manager's one connection, shared by its threads (the daemon connects
/// and releases containers in parallel). Whoever holds it does so only for a
/// statement or a transaction, never across kernel work; the lock is
/// reentrant because a verb reads through `conn()` while its own transaction
/// is open (publishing rewrites the firewall from the ports it is recording).
#[derive(Debug)]
pub(crate) struct Store {
    conn: ReentrantMutex<Connection>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open { path: path.display().to_string(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| open_err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        }
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        // NORMAL, in WAL mode: a commit is appended to the log without waiting
        // for the disk (the log is synced at checkpoints), so connecting a
        // container costs no fsync. A crash of berth loses nothing; a power
        // loss may lose the last commits before it. Those concern containers,
        // which a reboot stops, and kernel state and a run directory that a
        // reboot empties: `recover` rebuilds bridges, rules and DNS files from
        // what the database kept, and a container gets its leases when it is
        // connected again. Do not change it without reading `recover`.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        let store = Store { conn: ReentrantMutex::new(conn) };
        store.migrate()?;
        Ok(store)
    }

    #[cfg(test)]
    pub fn memory() -> Self {
        let store = Store { conn: ReentrantMutex::new(Connection::open_in_memory().unwrap()) };
        store.migrate().unwrap();
        store
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let err = |version, source| StoreError::Migrate { version, source };
        let conn = self.conn();
        // IMMEDIATE: two processes starting at once must not both run a step.
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate).map_err(|e| err(0, e))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
        )
        .map_err(|e| err(0, e))?;
        let current: i64 = tx
            .query_row("SELECT version FROM schema_versions WHERE component = ?1", params![COMPONENT], |r| r.get(0))
            .optional()
            .map_err(|e| err(0, e))?
            .unwrap_or(0);
        let current = usize::try_from(current).unwrap_or(usize::MAX);
        if current > STEPS.len() {
            return Err(StoreError::TooNew { found: current, known: STEPS.len() });
        }
        for (index, step) in STEPS.iter().enumerate().skip(current) {
            tx.execute_batch(step).map_err(|e| err(index + 1, e))?;
        }
        tx.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            params![COMPONENT, STEPS.len() as i64],
        )
        .map_err(|e| err(STEPS.len(), e))?;
        tx.commit().map_err(|e| err(STEPS.len(), e))
    }

    /// Runs `work` in an IMMEDIATE transaction, committed only if it succeeds.
    /// The connection is this thread's until then.
    pub fn write<T, E: From<StoreError>>(&self, work: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E> {
        let conn = self.conn();
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
            .map_err(query_err("begin a transaction"))?;
        let value = work(&tx)?;
        tx.commit().map_err(query_err("commit"))?;
        Ok(value)
    }

    /// The connection, this thread's while the guard lives: keep it for a
    /// statement (`Store::ports(&store.conn(), ..)`), not across kernel work.
    pub fn conn(&self) -> ReentrantMutexGuard<'_, Connection> {
        self.conn.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_idempotent_and_shared_with_other_components() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        {
            // Another component's row must survive.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
                 INSERT INTO schema_versions VALUES ('images', 3);",
            )
            .unwrap();
        }
        Store::open(&path).unwrap();
        let store = Store::open(&path).unwrap();
        let versions: Vec<(String, i64)> = store
            .conn()
            .prepare("SELECT component, version FROM schema_versions ORDER BY component")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(versions, vec![("images".into(), 3), ("network".into(), STEPS.len() as i64)]);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        Store::open(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE schema_versions SET version = 99 WHERE component = 'network'", [])
            .unwrap();
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew { found: 99, .. })));
    }
}
