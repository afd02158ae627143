//! A real registry for the suites: Debian's `docker-registry` (the reference
//! OCI distribution server) on a free 127.0.0.1 port with storage of its own,
//! optionally behind htpasswd (basic) or token auth. Stopped by PID on drop.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::token::TokenServer;

const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How clients must authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    /// Basic auth against an htpasswd file with one user.
    Htpasswd {
        user: String,
        password: String,
    },
    /// Bearer tokens from a token server the harness runs, which accepts one user.
    Token {
        user: String,
        password: String,
    },
}

/// A running registry; killed (by PID) and its storage removed on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    token: Option<TokenServer>,
}

/// One line of the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub status: u16,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(Auth::Anonymous)
    }

    pub fn start_with(auth: Auth) -> Registry {
        let dir = tempfile::Builder::new().prefix("berth-registry-").tempdir().expect("a temp dir");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let (auth_yaml, token) = auth_config(&auth, dir.path());
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: berth-test-secret\n{auth_yaml}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let stdout = std::fs::File::create(dir.path().join("access.log")).unwrap();
        let stderr = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("docker-registry runs (install Debian's docker-registry; .ci/run does)");
        let registry = Registry { child, dir, addr, token };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the registry did not listen on {} within {START_TIMEOUT:?}:\n{}", self.addr, self.server_log());
    }

    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, as it appears in references.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// `127.0.0.1:PORT/NAME` for a repository.
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.address())
    }

    /// The registry's storage root (filesystem driver).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.storage().join("docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }

    /// Requests the token server answered (0 without token auth).
    pub fn token_requests(&self) -> usize {
        self.token.as_ref().map_or(0, TokenServer::requests)
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Every request the registry has logged so far.
    pub fn requests(&self) -> Vec<Request> {
        let file = std::fs::File::open(self.dir.path().join("access.log")).unwrap();
        BufReader::new(file).lines().map_while(Result::ok).filter_map(|line| parse_access_line(&line)).collect()
    }

    /// How many `GET .../blobs/<digest>` requests were answered with 200.
    pub fn blob_gets(&self, digest: &str) -> usize {
        let suffix = format!("/blobs/{digest}");
        self.requests().iter().filter(|r| r.method == "GET" && r.status == 200 && r.path.ends_with(&suffix)).count()
    }

    /// How many blob GETs were answered with 200, whatever the blob.
    pub fn all_blob_gets(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.status == 200 && r.path.contains("/blobs/sha256:"))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Child::kill signals this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `127.0.0.1 - - [date] "GET /v2/x/blobs/sha256:.. HTTP/1.1" 200 123 "" "agent"`
fn parse_access_line(line: &str) -> Option<Request> {
    let start = line.find('"')?;
    let rest = &line[start + 1..];
    let end = rest.find('"')?;
    let mut request = rest[..end].split(' ');
    let method = request.next()?.to_owned();
    let path = request.next()?.to_owned();
    let status = rest[end + 1..].split_whitespace().next()?.parse().ok()?;
    Some(Request { method, path, status })
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn auth_config(auth: &Auth, dir: &Path) -> (String, Option<TokenServer>) {
    match auth {
        Auth::Anonymous => (String::new(), None),
        Auth::Htpasswd { user, password } => {
            let output = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd runs (apache2-utils)");
            assert!(output.status.success(), "htpasswd failed: {}", String::from_utf8_lossy(&output.stderr));
            let path = dir.join("htpasswd");
            std::fs::write(&path, output.stdout).unwrap();
            (format!("auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n", path.display()), None)
        }
        Auth::Token { user, password } => {
            let server = TokenServer::start(dir, user, password);
            let yaml = format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                server.realm(),
                crate::token::SERVICE,
                crate::token::ISSUER,
                server.cert_path().display()
            );
            (yaml, Some(server))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_access_lines() {
        let line = r#"127.0.0.1 - - [25/Nov/2026:06:54:50 +0000] "GET /v2/x/blobs/sha256:ab HTTP/1.1" 404 157 "" "curl/7.88.1""#;
        assert_eq!(
            parse_access_line(line),
            Some(Request { method: "GET".into(), path: "/v2/x/blobs/sha256:ab".into(), status: 404 })
        );
        assert_eq!(parse_access_line("time=x level=info"), None);
    }
}
