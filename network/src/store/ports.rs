//! The `network_ports` table: what is published, so that a second container
//! asking for the same host port gets a clear error, and so that recovery can
//! rebuild the DNAT maps.

use std::net::IpAddr;

use rusqlite::{Connection, params};

use super::{Store, StoreError, query_err};
use crate::ports::{self, Protocol, PublishedPort};

impl Store {
    pub fn insert_port(conn: &Connection, container_id: &str, port: &PublishedPort) -> Result<(), StoreError> {
        conn.execute(
            "INSERT INTO network_ports (protocol, host_ip, host_port, container_id, container_ip, container_port)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                port.protocol.as_str(),
                port.host_ip.to_string(),
                port.host_port,
                container_id,
                port.container_ip.to_string(),
                port.container_port
            ],
        )
        .map_err(query_err("record a published port"))?;
        Ok(())
    }

    /// Who already has `protocol` `host_port` on `host_ip`: the same address, or
    /// the wildcard address of its family on either side (0.0.0.0 overlaps every
    /// IPv4 address, :: every IPv6 one; 0.0.0.0 and :: do not overlap).
    pub fn port_holder(
        conn: &Connection,
        protocol: Protocol,
        host_ip: IpAddr,
        host_port: u16,
    ) -> Result<Option<String>, StoreError> {
        let mut statement = conn
            .prepare_cached("SELECT container_id, host_ip FROM network_ports WHERE protocol = ?1 AND host_port = ?2")
            .map_err(query_err("look up a published port"))?;
        let rows = statement
            .query_map(params![protocol.as_str(), host_port], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(query_err("look up a published port"))?;
        for row in rows {
            let (container, held) = row.map_err(query_err("look up a published port"))?;
            let held: IpAddr =
                held.parse().map_err(|_| StoreError::Corrupt { what: "network_ports.host_ip", value: held })?;
            if ports::overlapping(held, host_ip) {
                return Ok(Some(container));
            }
        }
        Ok(None)
    }

    /// Published ports, of one container or (with `None`) of all, with their container.
    pub fn ports(conn: &Connection, container_id: Option<&str>) -> Result<Vec<(String, PublishedPort)>, StoreError> {
        let mut statement = conn
            .prepare_cached(
                "SELECT container_id, protocol, host_ip, host_port, container_ip, container_port FROM network_ports
                 WHERE ?1 IS NULL OR container_id = ?1 ORDER BY container_id, protocol, host_port, host_ip",
            )
            .map_err(query_err("read published ports"))?;
        let rows = statement
            .query_map(params![container_id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u16>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, u16>(5)?,
                ))
            })
            .map_err(query_err("read published ports"))?;
        let mut out = Vec::new();
        for row in rows {
            let (container, protocol, host_ip, host_port, container_ip, container_port) =
                row.map_err(query_err("read published ports"))?;
            let corrupt = |what, value: String| StoreError::Corrupt { what, value };
            out.push((
                container,
                PublishedPort {
                    protocol: protocol.parse().map_err(|_| corrupt("network_ports.protocol", protocol.clone()))?,
                    host_ip: host_ip.parse().map_err(|_| corrupt("network_ports.host_ip", host_ip.clone()))?,
                    host_port,
                    container_ip: container_ip
                        .parse()
                        .map_err(|_| corrupt("network_ports.container_ip", container_ip.clone()))?,
                    container_port,
                },
            ));
        }
        Ok(out)
    }

    /// The container's ports that lead to `container_ip` (its address on a network it leaves).
    pub fn delete_ports_to(conn: &Connection, container_id: &str, container_ip: IpAddr) -> Result<(), StoreError> {
        conn.execute(
            "DELETE FROM network_ports WHERE container_id = ?1 AND container_ip = ?2",
            params![container_id, container_ip.to_string()],
        )
        .map_err(query_err("delete published ports"))?;
        Ok(())
    }

    pub fn delete_ports(conn: &Connection, container_id: &str) -> Result<(), StoreError> {
        conn.execute("DELETE FROM network_ports WHERE container_id = ?1", params![container_id])
            .map_err(query_err("delete published ports"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(ip: &str, host_port: u16) -> PublishedPort {
        let host_ip: IpAddr = ip.parse().unwrap();
        let container_ip = if host_ip.is_ipv4() { "10.89.0.2" } else { "fd89::2" };
        PublishedPort {
            protocol: Protocol::Tcp,
            host_ip,
            host_port,
            container_ip: container_ip.parse().unwrap(),
            container_port: 80,
        }
    }

    #[test]
    fn holders_overlap_through_the_wildcard_address() {
        let store = Store::memory();
        let guard = store.conn();
        let conn: &rusqlite::Connection = &guard;
        Store::insert_port(conn, "c1", &port("127.0.0.1", 8080)).unwrap();
        Store::insert_port(conn, "c2", &port("0.0.0.0", 9090)).unwrap();
        Store::insert_port(conn, "c3", &port("::1", 7070)).unwrap();
        Store::insert_port(conn, "c4", &port("::", 9090)).unwrap();
        let holder = |ip: &str, p| Store::port_holder(conn, Protocol::Tcp, ip.parse().unwrap(), p).unwrap();
        assert_eq!(holder("127.0.0.1", 8080).as_deref(), Some("c1"));
        assert_eq!(holder("0.0.0.0", 8080).as_deref(), Some("c1"));
        assert_eq!(holder("192.0.2.9", 8080), None);
        assert_eq!(holder("192.0.2.9", 9090).as_deref(), Some("c2"));
        assert_eq!(holder("::", 8080), None, "the families do not overlap");
        assert_eq!(holder("::", 7070).as_deref(), Some("c3"));
        assert_eq!(holder("127.0.0.1", 7070), None);
        assert_eq!(holder("fd89::5", 9090).as_deref(), Some("c4"));
        assert_eq!(Store::port_holder(conn, Protocol::Udp, "127.0.0.1".parse().unwrap(), 8080).unwrap(), None);
        assert_eq!(Store::ports(conn, Some("c1")).unwrap(), vec![("c1".to_string(), port("127.0.0.1", 8080))]);
        assert_eq!(Store::ports(conn, Some("c3")).unwrap(), vec![("c3".to_string(), port("::1", 7070))]);
        Store::delete_ports(conn, "c1").unwrap();
        assert_eq!(Store::ports(conn, None).unwrap().len(), 3);
    }
}
