//! Registry credentials in Docker's client config (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`): `auths` entries, and the `credsStore` /
//! `credHelpers` helpers spoken to through the docker-credential-* protocol.
//! `berth login` and `logout` write the same file, keeping what else is in it.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::RegistryError;
use crate::image::reference::DOCKER_HUB;

/// Docker Hub's key in `auths`, kept for compatibility with the docker CLI.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("secret", &"<hidden>").finish()
    }
}

/// The client config file, read once; unknown keys are kept when it is written back.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
    json: Map<String, Value>,
}

impl DockerConfig {
    /// Where the docker CLI looks: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub fn default_path() -> PathBuf {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            return PathBuf::from(dir).join("config.json");
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
        home.join(".docker").join("config.json")
    }

    /// Reads the file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<DockerConfig, RegistryError> {
        let config_error = |detail: String| RegistryError::Config { path: path.to_owned(), detail };
        let json = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(config_error("the file is not a JSON object".into())),
                Err(e) => return Err(config_error(format!("invalid JSON: {e}"))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(config_error(e.to_string())),
        };
        Ok(DockerConfig { path: path.to_owned(), json })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The helper responsible for `registry`, if any (`credHelpers` first, then `credsStore`).
    fn helper(&self, registry: &str) -> Option<String> {
        let specific = self.json.get("credHelpers").and_then(|h| h.get(registry)).and_then(Value::as_str);
        let store = self.json.get("credsStore").and_then(Value::as_str);
        specific.or(store).filter(|h| !h.is_empty()).map(str::to_owned)
    }

    /// Credentials for `registry` (as in references: `docker.io`, `host:port`).
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        if let Some(helper) = self.helper(registry) {
            return helper_get(&helper, &server_key(registry));
        }
        let Some(auths) = self.json.get("auths").and_then(Value::as_object) else { return Ok(None) };
        let entry = auths
            .get(&server_key(registry))
            .or_else(|| auths.iter().find(|(key, _)| key_host(key) == key_host(&server_key(registry))).map(|(_, v)| v));
        let Some(entry) = entry else { return Ok(None) };
        let config_error = |detail: String| RegistryError::Config {
            path: self.path.clone(),
            detail: format!("auths[{registry}]: {detail}"),
        };
        if let Some(auth) = entry.get("auth").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| config_error(format!("\"auth\" is not base64: {e}")))?;
            let text = String::from_utf8(decoded).map_err(|_| config_error("\"auth\" is not UTF-8".into()))?;
            let (username, secret) =
                text.split_once(':').ok_or_else(|| config_error("\"auth\" is not user:password".into()))?;
            return Ok(Some(Credentials { username: username.to_owned(), secret: secret.to_owned() }));
        }
        let field = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(field("username").zip(field("password")).map(|(username, secret)| Credentials { username, secret }))
    }

    /// Saves credentials for `registry`, through its helper if it has one.
    pub fn store(&mut self, registry: &str, credentials: &Credentials) -> Result<(), RegistryError> {
        let key = server_key(registry);
        if let Some(helper) = self.helper(registry) {
            let input = json!({"ServerURL": key, "Username": credentials.username, "Secret": credentials.secret});
            helper_run(&helper, "store", input.to_string().as_bytes())?;
            // The docker CLI records the registry with an empty entry so `logout` knows of it.
            self.auths_mut().insert(key, json!({}));
        } else {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", credentials.username, credentials.secret));
            self.auths_mut().insert(key, json!({ "auth": auth }));
        }
        self.save()
    }

    /// Forgets the credentials for `registry`; returns whether there were any.
    pub fn erase(&mut self, registry: &str) -> Result<bool, RegistryError> {
        let key = server_key(registry);
        let mut found = self.auths_mut().remove(&key).is_some();
        if let Some(helper) = self.helper(registry) {
            match helper_run(&helper, "erase", key.as_bytes()) {
                Ok(_) => found = true,
                Err(RegistryError::Helper { detail, .. }) if is_not_found(&detail) => {}
                Err(e) => return Err(e),
            }
        }
        if found {
            self.save()?;
        }
        Ok(found)
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let auths = self.json.entry("auths").or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        auths.as_object_mut().expect("just made an object")
    }

    fn save(&self) -> Result<(), RegistryError> {
        let config_error = |detail: String| RegistryError::Config { path: self.path.clone(), detail };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| config_error(e.to_string()))?;
        }
        let mut bytes = serde_json::to_vec_pretty(&self.json).map_err(|e| config_error(e.to_string()))?;
        bytes.push(b'\n');
        crate::store::write_atomic(&self.path, &bytes).map_err(|e| config_error(e.to_string()))?;
        // It holds secrets: readable by its owner only, as the docker CLI leaves it.
        std::fs::set_permissions(&self.path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| config_error(e.to_string()))
    }
}

/// The key the docker CLI uses for a registry.
pub fn server_key(registry: &str) -> String {
    if registry == DOCKER_HUB || registry == "index.docker.io" || registry == "registry-1.docker.io" {
        DOCKER_HUB_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// `https://host:port/v1/` -> `host:port`.
fn key_host(key: &str) -> &str {
    let without_scheme = key.split_once("://").map_or(key, |(_, rest)| rest);
    without_scheme.split('/').next().unwrap_or(without_scheme)
}

fn is_not_found(detail: &str) -> bool {
    detail.contains("credentials not found")
}

fn helper_get(helper: &str, server: &str) -> Result<Option<Credentials>, RegistryError> {
    let output = match helper_run(helper, "get", server.as_bytes()) {
        Ok(output) => output,
        Err(RegistryError::Helper { detail, .. }) if is_not_found(&detail) => return Ok(None),
        Err(e) => return Err(e),
    };
    let value: Value = serde_json::from_slice(&output).map_err(|e| RegistryError::Helper {
        helper: helper.to_owned(),
        detail: format!("its answer to `get` is not JSON: {e}"),
    })?;
    let field = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (username, secret) = (field("Username"), field("Secret"));
    Ok((!secret.is_empty()).then_some(Credentials { username, secret }))
}

fn helper_run(helper: &str, action: &str, input: &[u8]) -> Result<Vec<u8>, RegistryError> {
    let program = format!("docker-credential-{helper}");
    let error = |detail: String| RegistryError::Helper { helper: helper.to_owned(), detail };
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| error(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(|e| error(format!("cannot write to {program}: {e}")))?;
    }
    let output = child.wait_with_output().map_err(|e| error(format!("{program} failed: {e}")))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(if output.stdout.is_empty() { &output.stderr } else { &output.stdout });
        return Err(error(format!("`{program} {action}` failed ({}): {}", output.status, said.trim())));
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auths_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"}, "http://127.0.0.1:5000": {"username": "a", "password": "b"}}, "psFormat": "x"}"#,
        )
        .unwrap();
        let mut config = DockerConfig::load(&path).unwrap();
        assert_eq!(
            config.credentials("docker.io").unwrap(),
            Some(Credentials { username: "user".into(), secret: "pass".into() })
        );
        assert_eq!(config.credentials("127.0.0.1:5000").unwrap().unwrap().username, "a");
        assert_eq!(config.credentials("other:1").unwrap(), None);

        config.store("localhost:5001", &Credentials { username: "u".into(), secret: "s:x".into() }).unwrap();
        let again = DockerConfig::load(&path).unwrap();
        assert_eq!(again.credentials("localhost:5001").unwrap().unwrap().secret, "s:x");
        assert_eq!(again.json.get("psFormat"), Some(&json!("x")));
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);

        let mut again = again;
        assert!(again.erase("localhost:5001").unwrap());
        assert!(!again.erase("localhost:5001").unwrap());
        assert_eq!(DockerConfig::load(&path).unwrap().credentials("localhost:5001").unwrap(), None);
    }

    #[test]
    fn a_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{nope").unwrap();
        let err = DockerConfig::load(&path).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
        assert!(DockerConfig::load(&dir.path().join("missing.json")).unwrap().credentials("x").unwrap().is_none());
    }

    #[test]
    fn the_secret_is_not_printed() {
        let c = Credentials { username: "u".into(), secret: "hunter2".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
