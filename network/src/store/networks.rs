//! The `networks` table.

use rusqlite::{Connection, Row, params};

use super::{Store, StoreError, query_err};
use crate::model::Network;

const COLUMNS: &str = "id, name, bridge, subnet, gateway, ip_range, internal, dns, mtu, labels, created, ipv6";

fn parse<T: std::str::FromStr>(what: &'static str, value: String) -> Result<T, StoreError> {
    value.parse().map_err(|_| StoreError::Corrupt { what, value })
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<Network, StoreError>> {
    let id: String = row.get(0)?;
    let subnet: String = row.get(3)?;
    let gateway: String = row.get(4)?;
    let ip_range: Option<String> = row.get(5)?;
    let labels: String = row.get(9)?;
    let mtu: i64 = row.get(8)?;
    let name: String = row.get(1)?;
    let bridge: String = row.get(2)?;
    let internal: bool = row.get(6)?;
    let dns: bool = row.get(7)?;
    let created: i64 = row.get(10)?;
    let ipv6: Option<String> = row.get(11)?;
    Ok((|| {
        Ok(Network {
            id,
            name,
            bridge,
            subnet: parse("networks.subnet", subnet)?,
            gateway: parse("networks.gateway", gateway)?,
            ip_range: ip_range.map(|r| parse("networks.ip_range", r)).transpose()?,
            internal,
            dns,
            mtu: u32::try_from(mtu)
                .map_err(|_| StoreError::Corrupt { what: "networks.mtu", value: mtu.to_string() })?,
            labels: serde_json::from_str(&labels)
                .map_err(|_| StoreError::Corrupt { what: "networks.labels", value: labels.clone() })?,
            created,
            ipv6: ipv6
                .map(|v| serde_json::from_str(&v).map_err(|_| StoreError::Corrupt { what: "networks.ipv6", value: v }))
                .transpose()?,
        })
    })())
}

fn collect(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Network>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(query_err("read networks"))?;
    let rows = statement.query_map(args, from_row).map_err(query_err("read networks"))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(query_err("read networks"))??);
    }
    Ok(out)
}

impl Store {
    pub fn insert_network(conn: &Connection, network: &Network) -> Result<(), StoreError> {
        conn.execute(
            &format!("INSERT INTO networks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
            params![
                network.id,
                network.name,
                network.bridge,
                network.subnet.to_string(),
                network.gateway.to_string(),
                network.ip_range.map(|r| r.to_string()),
                network.internal,
                network.dns,
                i64::from(network.mtu),
                serde_json::to_string(&network.labels).expect("a string map serialises"),
                network.created,
                network.ipv6.map(|v6| serde_json::to_string(&v6).expect("addresses serialise")),
            ],
        )
        .map_err(query_err("record a network"))?;
        Ok(())
    }

    pub fn delete_network(conn: &Connection, id: &str) -> Result<(), StoreError> {
        conn.execute("DELETE FROM networks WHERE id = ?1", params![id]).map_err(query_err("delete a network"))?;
        Ok(())
    }

    pub fn networks(&self) -> Result<Vec<Network>, StoreError> {
        collect(&self.conn(), &format!("SELECT {COLUMNS} FROM networks ORDER BY created, name"), [])
    }

    /// A network by exact name, exact id, or an id prefix that only one network has (Docker's lookup).
    pub fn find_network(conn: &Connection, reference: &str) -> Result<Option<Network>, StoreError> {
        let exact =
            collect(conn, &format!("SELECT {COLUMNS} FROM networks WHERE name = ?1 OR id = ?1"), params![reference])?;
        if let Some(network) = exact.into_iter().next() {
            return Ok(Some(network));
        }
        if reference.is_empty() || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut by_prefix = collect(
            conn,
            &format!("SELECT {COLUMNS} FROM networks WHERE substr(id, 1, ?2) = ?1"),
            params![reference, reference.len() as i64],
        )?;
        Ok(if by_prefix.len() == 1 { by_prefix.pop() } else { None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(id: &str, name: &str, bridge: &str, subnet: &str) -> Network {
        Network {
            id: id.into(),
            name: name.into(),
            bridge: bridge.into(),
            subnet: subnet.parse().unwrap(),
            gateway: subnet.parse::<ipnet::Ipv4Net>().unwrap().hosts().next().unwrap(),
            ip_range: None,
            internal: false,
            dns: true,
            mtu: 1500,
            labels: [("a".to_string(), "b".to_string())].into(),
            created: 1,
            ipv6: None,
        }
    }

    #[test]
    fn networks_round_trip_and_are_found_by_name_id_and_prefix() {
        let store = Store::memory();
        let a = sample("abc123", "front", "b0", "10.89.0.0/24");
        let mut b = sample("abd456", "back", "b1", "10.89.1.0/24");
        b.ipv6 = Some(crate::model::Ipv6Subnet {
            subnet: "fd89::/64".parse().unwrap(),
            gateway: "fd89::1".parse().unwrap(),
            ip_range: Some("fd89::8000/113".parse().unwrap()),
        });
        Store::insert_network(&store.conn(), &a).unwrap();
        Store::insert_network(&store.conn(), &b).unwrap();
        assert_eq!(store.networks().unwrap(), vec![b.clone(), a.clone()]);
        assert_eq!(Store::find_network(&store.conn(), "front").unwrap(), Some(a.clone()));
        assert_eq!(Store::find_network(&store.conn(), "abd456").unwrap(), Some(b.clone()));
        assert_eq!(Store::find_network(&store.conn(), "abc").unwrap(), Some(a.clone()));
        assert_eq!(Store::find_network(&store.conn(), "ab").unwrap(), None, "ambiguous prefix");
        assert!(Store::insert_network(&store.conn(), &sample("x", "front", "b2", "10.89.2.0/24")).is_err());
        Store::delete_network(&store.conn(), "abc123").unwrap();
        assert_eq!(store.networks().unwrap(), vec![b]);
    }
}
