//! `berth login` and `berth logout`: credentials in the docker client config.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_runtime::image::registry::{Credentials, DockerConfig, Registry};
use clap::Args;

use super::{RegistryArgs, block_on};
use crate::api::images::{AUTH_HEADER, encode_auth};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry (host[:port]); Docker Hub when left out.
    pub server: Option<String>,
    #[arg(short, long)]
    pub username: Option<String>,
    /// The password (prefer --password-stdin: command lines are visible to other users).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (host[:port]); Docker Hub when left out.
    pub server: Option<String>,
}

/// `https://host:5000/v2/` or `host:5000` -> `host:5000`; Docker Hub's aliases -> `docker.io`.
fn registry_name(server: Option<&str>) -> String {
    let server = server.unwrap_or("docker.io");
    let without_scheme = server.split_once("://").map_or(server, |(_, rest)| rest);
    let host = without_scheme.split('/').next().unwrap_or(without_scheme);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "" => "docker.io".to_owned(),
        host => host.to_owned(),
    }
}

pub fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let registry = registry_name(args.server.as_deref());
    let username = match args.username {
        Some(username) => username,
        None => prompt("Username: ")?,
    };
    let password = match (args.password, args.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(password), false) => password,
        (None, true) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => prompt_hidden("Password: ")?,
    };
    if username.is_empty() || password.is_empty() {
        bail!("a username and a password are required");
    }
    let credentials = Credentials { username, secret: password };
    let client = Registry::with_credentials(&registry, &args.registry.options(), Some(credentials.clone()))?;
    block_on(client.ping())?.with_context(|| format!("login to {registry} failed"))?;
    let mut config = DockerConfig::load(&DockerConfig::default_path())?;
    config.store(&registry, &credentials)?;
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

pub fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let registry = registry_name(args.server.as_deref());
    let mut config = DockerConfig::load(&DockerConfig::default_path())?;
    if config.erase(&registry)? {
        println!("Removing login credentials for {registry}");
    } else {
        println!("Not logged in to {registry}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The credentials this user has for `registry` (from ~/.docker/config.json
/// or its helper), as the header the daemon takes them in: they go with each
/// pull or push, and the daemon keeps none.
pub fn auth_headers(registry: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let config = DockerConfig::load(&DockerConfig::default_path())?;
    Ok(match config.credentials(registry)? {
        Some(credentials) => vec![(AUTH_HEADER, encode_auth(registry, &credentials))],
        None => Vec::new(),
    })
}

fn require_terminal() -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for it on: give --username and --password-stdin");
    }
    Ok(())
}

fn prompt(label: &str) -> anyhow::Result<String> {
    require_terminal()?;
    print!("{label}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// A prompt whose answer is not echoed (the terminal's ECHO flag is off while it is typed).
fn prompt_hidden(label: &str) -> anyhow::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    require_terminal()?;
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).context("cannot read the terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("cannot turn off the terminal echo")?;
    let answer = prompt(label);
    // Restored whatever happened, or the user's terminal stays mute.
    let restored = tcsetattr(&stdin, OptionalActions::Now, &saved);
    println!();
    restored.context("cannot restore the terminal settings")?;
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert_eq!(registry_name(None), "docker.io");
        assert_eq!(registry_name(Some("https://index.docker.io/v1/")), "docker.io");
        assert_eq!(registry_name(Some("http://127.0.0.1:5000")), "127.0.0.1:5000");
        assert_eq!(registry_name(Some("localhost:5000/v2/")), "localhost:5000");
    }
}
