//! The `network_attachments` table: one row per container per network. The row
//! is also the container's IP lease on that network; it stays while the
//! container exists (stopped or not), so the address comes back after a restart.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rusqlite::{Connection, Row, params};

use super::{Store, StoreError, query_err};
use crate::model::ContainerLink;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachmentRow {
    pub container_id: String,
    pub network_id: String,
    /// `eth<position>` inside the container; the lowest position has the default route.
    pub position: u32,
    pub ipv4: Ipv4Addr,
    /// The IPv6 lease, on a network with IPv6.
    pub ipv6: Option<Ipv6Addr>,
    pub container_name: String,
    pub hostname: Option<String>,
    pub aliases: Vec<String>,
    pub links: Vec<ContainerLink>,
    pub dns_servers: Vec<IpAddr>,
    pub active: bool,
}

const COLUMNS: &str =
    "container_id, network_id, position, ipv4, container_name, hostname, aliases, links, dns_servers, active, ipv6";

fn json<T: serde::de::DeserializeOwned>(what: &'static str, value: String) -> Result<T, StoreError> {
    serde_json::from_str(&value).map_err(|_| StoreError::Corrupt { what, value })
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<AttachmentRow, StoreError>> {
    let container_id: String = row.get(0)?;
    let network_id: String = row.get(1)?;
    let position: i64 = row.get(2)?;
    let ipv4: String = row.get(3)?;
    let container_name: String = row.get(4)?;
    let hostname: Option<String> = row.get(5)?;
    let aliases: String = row.get(6)?;
    let links: String = row.get(7)?;
    let dns_servers: String = row.get(8)?;
    let active: bool = row.get(9)?;
    let ipv6: Option<String> = row.get(10)?;
    Ok((|| {
        Ok(AttachmentRow {
            container_id,
            network_id,
            position: u32::try_from(position).map_err(|_| StoreError::Corrupt {
                what: "network_attachments.position",
                value: position.to_string(),
            })?,
            ipv4: ipv4.parse().map_err(|_| StoreError::Corrupt { what: "network_attachments.ipv4", value: ipv4 })?,
            ipv6: ipv6
                .map(|v| v.parse().map_err(|_| StoreError::Corrupt { what: "network_attachments.ipv6", value: v }))
                .transpose()?,
            container_name,
            hostname,
            aliases: json("network_attachments.aliases", aliases)?,
            links: json("network_attachments.links", links)?,
            dns_servers: json("network_attachments.dns_servers", dns_servers)?,
            active,
        })
    })())
}

fn collect(conn: &Connection, filter: &str, args: impl rusqlite::Params) -> Result<Vec<AttachmentRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM network_attachments {filter} ORDER BY container_id, position");
    let mut statement = conn.prepare_cached(&sql).map_err(query_err("read attachments"))?;
    let rows = statement.query_map(args, from_row).map_err(query_err("read attachments"))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(query_err("read attachments"))??);
    }
    Ok(out)
}

impl Store {
    pub fn insert_attachment(conn: &Connection, row: &AttachmentRow) -> Result<(), StoreError> {
        conn.execute(
            &format!(
                "INSERT INTO network_attachments ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            params![
                row.container_id,
                row.network_id,
                i64::from(row.position),
                row.ipv4.to_string(),
                row.container_name,
                row.hostname,
                to_json(&row.aliases),
                to_json(&row.links),
                to_json(&row.dns_servers),
                row.active,
                row.ipv6.map(|ip| ip.to_string()),
            ],
        )
        .map_err(query_err("record an attachment"))?;
        Ok(())
    }

    pub fn delete_attachment(conn: &Connection, container_id: &str, network_id: &str) -> Result<(), StoreError> {
        conn.execute(
            "DELETE FROM network_attachments WHERE container_id = ?1 AND network_id = ?2",
            params![container_id, network_id],
        )
        .map_err(query_err("delete an attachment"))?;
        Ok(())
    }

    pub fn set_active(conn: &Connection, container_id: &str, active: bool) -> Result<(), StoreError> {
        conn.execute(
            "UPDATE network_attachments SET active = ?2 WHERE container_id = ?1",
            params![container_id, active],
        )
        .map_err(query_err("mark a container's attachments"))?;
        Ok(())
    }

    pub fn attachment(
        conn: &Connection,
        container_id: &str,
        network_id: &str,
    ) -> Result<Option<AttachmentRow>, StoreError> {
        Ok(collect(conn, "WHERE container_id = ?1 AND network_id = ?2", params![container_id, network_id])?.pop())
    }

    /// A container's attachments in `eth0, eth1, ...` order.
    pub fn container_attachments(conn: &Connection, container_id: &str) -> Result<Vec<AttachmentRow>, StoreError> {
        collect(conn, "WHERE container_id = ?1", params![container_id])
    }

    pub fn network_attachments(conn: &Connection, network_id: &str) -> Result<Vec<AttachmentRow>, StoreError> {
        collect(conn, "WHERE network_id = ?1", params![network_id])
    }

    pub fn all_attachments(conn: &Connection) -> Result<Vec<AttachmentRow>, StoreError> {
        collect(conn, "", [])
    }
}

/// Lists are stored as JSON text.
fn to_json<T: serde::Serialize>(list: &[T]) -> String {
    serde_json::to_string(list).expect("lists of names and addresses serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Network;

    fn network(id: &str) -> Network {
        Network {
            id: id.into(),
            name: id.into(),
            bridge: format!("b{id}"),
            subnet: "10.89.0.0/24".parse().unwrap(),
            gateway: "10.89.0.1".parse().unwrap(),
            ip_range: None,
            internal: false,
            dns: true,
            mtu: 1500,
            labels: Default::default(),
            created: 0,
            ipv6: None,
        }
    }

    fn row(container: &str, network: &str, position: u32, ip: &str) -> AttachmentRow {
        AttachmentRow {
            container_id: container.into(),
            network_id: network.into(),
            position,
            ipv4: ip.parse().unwrap(),
            ipv6: None,
            container_name: format!("{container}-name"),
            hostname: None,
            aliases: vec!["web".into()],
            links: vec![ContainerLink { name: "db".into(), alias: "database".into() }],
            dns_servers: vec!["192.0.2.53".parse().unwrap()],
            active: true,
        }
    }

    #[test]
    fn attachments_round_trip_and_leases_are_unique() {
        let store = Store::memory();
        Store::insert_network(&store.conn(), &network("n1")).unwrap();
        Store::insert_network(&store.conn(), &network("n2")).unwrap();
        let a = row("c1", "n1", 0, "10.89.0.2");
        Store::insert_attachment(&store.conn(), &a).unwrap();
        Store::insert_attachment(&store.conn(), &row("c1", "n2", 1, "10.89.0.2")).unwrap();
        assert!(Store::insert_attachment(&store.conn(), &row("c2", "n1", 0, "10.89.0.2")).is_err(), "address taken");
        assert!(Store::insert_attachment(&store.conn(), &row("c1", "n1", 2, "10.89.0.3")).is_err(), "already on n1");
        assert!(Store::insert_attachment(&store.conn(), &row("c3", "nx", 0, "10.89.0.9")).is_err(), "no such network");
        // IPv6 leases are unique per network too; rows without one do not collide.
        let v6 = |container, ipv4: &str| AttachmentRow {
            ipv6: Some("fd89::2".parse().unwrap()),
            ..row(container, "n2", 0, ipv4)
        };
        Store::insert_attachment(&store.conn(), &v6("c4", "10.89.0.7")).unwrap();
        assert!(Store::insert_attachment(&store.conn(), &v6("c5", "10.89.0.8")).is_err(), "IPv6 address taken");
        assert_eq!(Store::attachment(&store.conn(), "c4", "n2").unwrap(), Some(v6("c4", "10.89.0.7")));
        Store::delete_attachment(&store.conn(), "c4", "n2").unwrap();
        assert_eq!(Store::attachment(&store.conn(), "c1", "n1").unwrap(), Some(a));
        assert_eq!(Store::container_attachments(&store.conn(), "c1").unwrap().len(), 2);
        Store::set_active(&store.conn(), "c1", false).unwrap();
        assert!(Store::network_attachments(&store.conn(), "n2").unwrap().iter().all(|r| !r.active));
        Store::delete_attachment(&store.conn(), "c1", "n1").unwrap();
        assert_eq!(Store::all_attachments(&store.conn()).unwrap().len(), 1);
    }
}
