//! The /etc files berth writes for a container (`hosts`, `resolv.conf`,
//! `hostname`) into its directory; they are bind-mounted over the image's.

use std::net::IpAddr;

use std::path::Path;

use super::layout::replace_file;
use super::layout::{HOSTNAME, HOSTS, RESOLV_CONF};
use super::options::{EtcFiles, NetworkMode};

/// Docker's fallback when the host has no usable resolver.
const FALLBACK_NAMESERVERS: &str = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";

/// `/etc/hosts` for a container with a network of its own: loopback names and its host name.
pub fn default_hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.0.1\t{hostname}\n"
    )
}

/// The host's resolv.conf without loopback nameservers (unreachable from
/// another network namespace); Docker's public fallback if none is left.
pub fn container_resolv_conf(host: &str) -> String {
    let mut nameservers = 0;
    let mut out = String::new();
    for line in host.lines() {
        let mut fields = line.split_whitespace();
        if fields.next() == Some("nameserver") {
            let loopback = fields.next().and_then(|a| a.parse::<IpAddr>().ok()).is_some_and(|ip| ip.is_loopback());
            if loopback {
                continue;
            }
            nameservers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if nameservers == 0 {
        out.push_str(FALLBACK_NAMESERVERS);
    }
    out
}

/// Writes the three files into the container directory `dir`; `files` overrides the defaults.
pub fn write(dir: &Path, hostname: &str, network: &NetworkMode, files: &EtcFiles) -> std::io::Result<()> {
    let host_file = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let hosts = match (&files.hosts, network) {
        (Some(hosts), _) => hosts.clone(),
        (None, NetworkMode::Host) => host_file("/etc/hosts"),
        (None, _) => default_hosts(hostname),
    };
    let resolv_conf = match (&files.resolv_conf, network) {
        (Some(resolv_conf), _) => resolv_conf.clone(),
        (None, NetworkMode::Host) => host_file("/etc/resolv.conf"),
        (None, _) => container_resolv_conf(&host_file("/etc/resolv.conf")),
    };
    replace_file(&dir.join(HOSTS), hosts.as_bytes())?;
    replace_file(&dir.join(RESOLV_CONF), resolv_conf.as_bytes())?;
    replace_file(&dir.join(HOSTNAME), format!("{hostname}\n").as_bytes())
}

/// Replaces a file the running container already has bind-mounted. It is
/// rewritten in place, not renamed over: a rename would leave the container
/// looking at the old file. Readers may see a partial file for a moment, as
/// with Docker's own updates of these files.
pub fn rewrite_in_place(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_dropped() {
        let host = "# generated\nsearch example.org\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\noptions edns0\n";
        assert_eq!(
            container_resolv_conf(host),
            "# generated\nsearch example.org\nnameserver 10.0.0.2\noptions edns0\n"
        );
        let only_loopback = container_resolv_conf("nameserver 127.0.0.1\n");
        assert_eq!(only_loopback, FALLBACK_NAMESERVERS);
    }

    #[test]
    fn hosts_names_the_container() {
        let hosts = default_hosts("web");
        assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(hosts.ends_with("127.0.0.1\tweb\n"));
    }
}
