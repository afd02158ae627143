//! One registry: the HTTP client, the auth dance and retries. Requests are
//! built by closures so they can be sent again after a 401 or a transient failure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode, header};

use super::challenge::Challenge;
use super::credentials::{Credentials, DockerConfig};
use super::{RegistryError, RegistryOptions, error_chain};
use crate::image::reference::DOCKER_HUB;

/// Attempts for a request that fails in a way that may pass (connection, 5xx, 429).
pub const ATTEMPTS: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(200);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest silence in a response before it counts as a failure.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What a request needs the token to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Pull,
    Push,
}

impl Access {
    fn scope(self, repository: &str) -> String {
        match self {
            Access::Pull => format!("repository:{repository}:pull"),
            Access::Push => format!("repository:{repository}:pull,push"),
        }
    }
}

/// A client for one registry; cheap to clone (clones share tokens and connections).
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    base: String,
    http: reqwest::Client,
    credentials: Option<Credentials>,
    auth: Mutex<AuthState>,
}

#[derive(Debug, Default)]
struct AuthState {
    /// The registry asked for basic auth: send credentials with every request.
    basic: bool,
    /// Bearer tokens by scope.
    tokens: HashMap<String, String>,
}

impl Registry {
    /// A client for `name` (as in references), with credentials from the docker client config.
    pub fn new(name: &str, options: &RegistryOptions) -> Result<Registry, RegistryError> {
        let config = DockerConfig::load(&options.config_path())?;
        let credentials = config.credentials(name)?;
        Registry::with_credentials(name, options, credentials)
    }

    pub fn with_credentials(
        name: &str,
        options: &RegistryOptions,
        credentials: Option<Credentials>,
    ) -> Result<Registry, RegistryError> {
        // reqwest is built without a default TLS provider; install ring's once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plain_http = is_loopback(name) || options.insecure.iter().any(|i| i == name);
        let host = if name == DOCKER_HUB { "registry-1.docker.io" } else { name };
        let base = format!("{}://{host}", if plain_http { "http" } else { "https" });
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")));
        if is_loopback(name) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| RegistryError::Protocol {
            registry: name.to_owned(),
            what: "setting up the HTTP client".into(),
            detail: error_chain(&e),
        })?;
        Ok(Registry {
            inner: Arc::new(Inner { name: name.to_owned(), base, http, credentials, auth: Mutex::default() }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// `scheme://host` of the API.
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    /// Sends the request `build` makes, authenticating as the registry asks and
    /// retrying transient failures; returns the response whatever its status
    /// other than 401 (the caller judges it, see [`Registry::check`]).
    pub(super) async fn send(
        &self,
        what: &str,
        repository: Option<(&str, Access)>,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let scope = repository.map(|(repo, access)| access.scope(repo));
        let mut authenticated_once = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.authorize(build(&self.inner.http), scope.as_deref());
            let result = request.send().await;
            let response = match result {
                Ok(response) if is_transient_status(response.status()) && attempt < ATTEMPTS => {
                    tracing::debug!(registry = %self.inner.name, what, status = %response.status(), attempt, "retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Ok(response) => response,
                Err(error) if attempt < ATTEMPTS && !error.is_builder() => {
                    tracing::debug!(registry = %self.inner.name, what, error = %error_chain(&error), attempt, "retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(error) => {
                    return Err(RegistryError::Unreachable {
                        registry: self.inner.name.clone(),
                        url: error.url().map_or_else(|| self.inner.base.clone(), ToString::to_string),
                        attempts: attempt,
                        detail: error_chain(&error),
                    });
                }
            };
            if response.status() != StatusCode::UNAUTHORIZED || authenticated_once {
                return Ok(response);
            }
            // 401: learn how to authenticate, once, then send again.
            authenticated_once = true;
            attempt = 0;
            let challenge = response
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(Challenge::parse);
            match challenge {
                Some(Challenge::Basic) if self.inner.credentials.is_some() => self.auth().basic = true,
                Some(Challenge::Bearer { realm, service, scope: offered }) => {
                    let wanted = scope.clone().or(offered).unwrap_or_default();
                    let token = self.fetch_token(&realm, service.as_deref(), &wanted).await?;
                    self.auth().tokens.insert(scope.clone().unwrap_or_default(), token);
                }
                _ => return Ok(response),
            }
        }
    }

    fn auth(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.inner.auth.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn authorize(&self, request: RequestBuilder, scope: Option<&str>) -> RequestBuilder {
        let auth = self.auth();
        if let Some(token) = auth.tokens.get(scope.unwrap_or_default()) {
            return request.bearer_auth(token);
        }
        match (&self.inner.credentials, auth.basic) {
            (Some(c), true) => request.basic_auth(&c.username, Some(&c.secret)),
            _ => request,
        }
    }

    /// The token dance: GET realm?service=..&scope=.., with credentials when there are some.
    async fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String, RegistryError> {
        let token_error = |detail: String| RegistryError::Token {
            registry: self.inner.name.clone(),
            realm: realm.to_owned(),
            detail,
        };
        let mut params: Vec<(&str, &str)> = Vec::new();
        if let Some(service) = service {
            params.push(("service", service));
        }
        if !scope.is_empty() {
            params.push(("scope", scope));
        }
        let url =
            reqwest::Url::parse_with_params(realm, &params).map_err(|e| token_error(format!("bad realm: {e}")))?;
        let mut request = self.inner.http.get(url);
        if let Some(c) = &self.inner.credentials {
            request = request.basic_auth(&c.username, Some(&c.secret));
        }
        let response = request.send().await.map_err(|e| token_error(error_chain(&e)))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: self.inner.name.clone(),
                what: format!("a token for {scope}"),
                detail: Some(format!("the token server answered {status}")),
            });
        }
        if !status.is_success() {
            return Err(token_error(format!("answered {status}")));
        }
        let body: serde_json::Value = json_body(response).await.map_err(token_error)?;
        body.get("token")
            .or_else(|| body.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| token_error("the answer has no token".into()))
    }

    /// Turns an unsuccessful response into the error a user can act on.
    pub(super) async fn check(&self, response: Response, what: &str) -> Result<Response, RegistryError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let detail = registry_message(response).await;
        let (registry, what) = (self.inner.name.clone(), what.to_owned());
        Err(match status {
            StatusCode::NOT_FOUND => RegistryError::NotFound { registry, what, detail },
            StatusCode::UNAUTHORIZED => RegistryError::Unauthorized { registry, what, detail },
            StatusCode::FORBIDDEN => RegistryError::Denied { registry, what, detail },
            status => RegistryError::Status { registry, what, status: status.as_u16(), detail },
        })
    }
}

/// A JSON body, read whole (tokens, error bodies): small by nature.
async fn json_body(response: Response) -> Result<serde_json::Value, String> {
    let bytes = response.bytes().await.map_err(|e| error_chain(&e))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("invalid JSON: {e}"))
}

/// The `errors[].message` of a distribution error body, if there is one.
async fn registry_message(response: Response) -> Option<String> {
    let body = json_body(response).await.ok()?;
    let messages: Vec<String> = body
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(|e| {
            let message = e.get("message").and_then(serde_json::Value::as_str)?;
            let code = e.get("code").and_then(serde_json::Value::as_str).unwrap_or_default();
            Some(if code.is_empty() { message.to_owned() } else { format!("{code}: {message}") })
        })
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// 200 ms, 400 ms, ... between attempts.
pub fn backoff(attempt: u32) -> Duration {
    BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1))
}

/// Docker reaches these over plain http without being told.
fn is_loopback(name: &str) -> bool {
    let host = if let Some(rest) = name.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        name.split(':').next().unwrap_or(name)
    };
    host == "localhost" || host == "::1" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_plain_http() {
        let options = RegistryOptions::default();
        assert_eq!(
            Registry::with_credentials("127.0.0.1:5000", &options, None).unwrap().base(),
            "http://127.0.0.1:5000"
        );
        assert_eq!(Registry::with_credentials("localhost", &options, None).unwrap().base(), "http://localhost");
        assert_eq!(Registry::with_credentials("[::1]:5000", &options, None).unwrap().base(), "http://[::1]:5000");
        assert_eq!(
            Registry::with_credentials("docker.io", &options, None).unwrap().base(),
            "https://registry-1.docker.io"
        );
        assert_eq!(Registry::with_credentials("reg.lan:5000", &options, None).unwrap().base(), "https://reg.lan:5000");
        let insecure = RegistryOptions { insecure: vec!["reg.lan:5000".into()], ..RegistryOptions::default() };
        assert_eq!(Registry::with_credentials("reg.lan:5000", &insecure, None).unwrap().base(), "http://reg.lan:5000");
    }

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(3), Duration::from_millis(800));
    }
}
