//! `--change` instructions of `import`: the Dockerfile instructions that set
//! image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR),
//! parsed once into [`Change`] and applied to the config in Docker's keys.

use std::str::FromStr;

use serde_json::{Map, Value, json};

/// One parsed `--change` instruction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
    Env(Vec<(String, String)>),
    /// Ports as the config keys them: `80/tcp`.
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    User(String),
    Volume(Vec<String>),
    /// Absolute.
    Workdir(String),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid change {text:?}: {reason}")]
pub struct ChangeError {
    pub text: String,
    pub reason: String,
}

const SUPPORTED: &str = "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR";

impl FromStr for Change {
    type Err = ChangeError;

    /// `INSTRUCTION ARGUMENTS`, the instruction in any case, as in a Dockerfile.
    fn from_str(text: &str) -> Result<Change, ChangeError> {
        let error = |reason: String| ChangeError { text: text.to_owned(), reason };
        let trimmed = text.trim();
        let (keyword, rest) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
        let rest = rest.trim();
        let keyword = keyword.to_ascii_uppercase();
        if keyword.is_empty() {
            return Err(error(format!("it is empty; expected one of {SUPPORTED}")));
        }
        if rest.is_empty() {
            return Err(error(format!("{keyword} needs an argument")));
        }
        let change = match keyword.as_str() {
            "CMD" => Change::Cmd(command(rest).map_err(error)?),
            "ENTRYPOINT" => Change::Entrypoint(command(rest).map_err(error)?),
            "ENV" => Change::Env(env(rest).map_err(error)?),
            "LABEL" => Change::Label(pairs(&words(rest, true).map_err(error)?).map_err(error)?),
            "EXPOSE" => Change::Expose(expose(rest).map_err(error)?),
            "USER" => Change::User(single(rest).map_err(error)?),
            "VOLUME" => Change::Volume(match json_array(rest) {
                Some(list) => list.map_err(error)?,
                None => words(rest, true).map_err(error)?,
            }),
            "WORKDIR" => {
                let dir = single(rest).map_err(error)?;
                Change::Workdir(if dir.starts_with('/') { dir } else { format!("/{dir}") })
            }
            "ONBUILD" | "STOPSIGNAL" | "HEALTHCHECK" => {
                return Err(error(format!("{keyword} is not supported by berth import; supported: {SUPPORTED}")));
            }
            _ => return Err(error(format!("unknown instruction {keyword}; expected one of {SUPPORTED}"))),
        };
        Ok(change)
    }
}

impl Change {
    /// Applies the change to an image config's `config` object (Docker's keys), in order.
    pub fn apply(&self, config: &mut Map<String, Value>) {
        match self {
            Change::Cmd(args) => {
                config.insert("Cmd".into(), json!(args));
            }
            Change::Entrypoint(args) => {
                config.insert("Entrypoint".into(), json!(args));
            }
            Change::Env(pairs) => {
                let mut env: Vec<String> = strings(config.get("Env"));
                for (key, value) in pairs {
                    // A later value for a key replaces the earlier one in place, as a Dockerfile's ENV does.
                    let entry = format!("{key}={value}");
                    match env.iter_mut().find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key) {
                        Some(existing) => *existing = entry,
                        None => env.push(entry),
                    }
                }
                config.insert("Env".into(), json!(env));
            }
            Change::Expose(ports) => set_keys(config, "ExposedPorts", ports.iter().map(|p| (p.clone(), json!({})))),
            Change::Label(pairs) => set_keys(config, "Labels", pairs.iter().map(|(k, v)| (k.clone(), json!(v)))),
            Change::User(user) => {
                config.insert("User".into(), json!(user));
            }
            Change::Volume(paths) => set_keys(config, "Volumes", paths.iter().map(|p| (p.clone(), json!({})))),
            Change::Workdir(dir) => {
                config.insert("WorkingDir".into(), json!(dir));
            }
        }
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
}

/// Adds entries to a map-valued key (`ExposedPorts`, `Labels`, `Volumes`).
fn set_keys(config: &mut Map<String, Value>, key: &str, entries: impl Iterator<Item = (String, Value)>) {
    let slot = config.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    let map = slot.as_object_mut().expect("made an object above");
    for (name, value) in entries {
        map.insert(name, value);
    }
}

/// CMD and ENTRYPOINT: the exec form (a JSON array of strings) or the shell form (run by `/bin/sh -c`).
fn command(rest: &str) -> Result<Vec<String>, String> {
    match json_array(rest) {
        Some(list) => list,
        None => Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_owned()]),
    }
}

/// `Some` when the text is meant as a JSON array (it starts with `[`), checked to be one of strings.
fn json_array(rest: &str) -> Option<Result<Vec<String>, String>> {
    if !rest.starts_with('[') {
        return None;
    }
    Some(
        serde_json::from_str::<Vec<String>>(rest)
            .map_err(|e| format!("{rest} is not a JSON array of strings: {e}"))
            .and_then(|list| if list.is_empty() { Err("the JSON array is empty".into()) } else { Ok(list) }),
    )
}

/// ENV: `KEY=VALUE ...` (quoted as in a Dockerfile), or the older `KEY VALUE` with one pair.
fn env(rest: &str) -> Result<Vec<(String, String)>, String> {
    let first = rest.split(char::is_whitespace).next().unwrap_or_default();
    if first.contains('=') {
        return pairs(&words(rest, true)?);
    }
    let value = rest[first.len()..].trim_start();
    check_key(first)?;
    if value.is_empty() {
        return Err(format!("ENV {first} needs a value (ENV KEY=VALUE or ENV KEY VALUE)"));
    }
    Ok(vec![(first.to_owned(), words(value, false)?.concat())])
}

fn pairs(words: &[String]) -> Result<Vec<(String, String)>, String> {
    words
        .iter()
        .map(|word| {
            let (key, value) = word.split_once('=').ok_or_else(|| format!("{word:?} is not KEY=VALUE"))?;
            check_key(key)?;
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() { Err("a key is empty".into()) } else { Ok(()) }
}

/// EXPOSE: `PORT[/PROTOCOL]` or `FIRST-LAST[/PROTOCOL]`, protocol tcp (default), udp or sctp.
fn expose(rest: &str) -> Result<Vec<String>, String> {
    let mut ports = Vec::new();
    for word in words(rest, true)? {
        let (range, protocol) = word.split_once('/').unwrap_or((&word, "tcp"));
        let protocol = protocol.to_ascii_lowercase();
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            return Err(format!("{word}: protocol {protocol:?} is not tcp, udp or sctp"));
        }
        let port = |text: &str| text.parse::<u16>().map_err(|_| format!("{word}: {text:?} is not a port (0-65535)"));
        let (first, last) = match range.split_once('-') {
            Some((first, last)) => (port(first)?, port(last)?),
            None => (port(range)?, port(range)?),
        };
        if first > last {
            return Err(format!("{word}: the range ends before it starts"));
        }
        ports.extend((first..=last).map(|p| format!("{p}/{protocol}")));
    }
    Ok(ports)
}

/// USER and WORKDIR: one word (quotes allowed).
fn single(rest: &str) -> Result<String, String> {
    match words(rest, true)?.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("expected one argument, got {rest:?}")),
    }
}

/// Splits at unquoted whitespace (when `split`), removing quotes as a Dockerfile
/// does: `"..."` with `\"` and `\\` escapes, `'...'` literally, `\x` outside quotes.
fn words(text: &str, split: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if split && c.is_whitespace() => words.extend(word.take()),
            '\\' => word.get_or_insert_default().push(chars.next().unwrap_or('\\')),
            '\'' => {
                let current = word.get_or_insert_default();
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err(format!("unterminated ' in {text:?}")),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_default();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped @ ('"' | '\\' | '$' | '`')) => current.push(escaped),
                            Some(other) => current.extend(['\\', other]),
                            None => return Err(format!("unterminated \" in {text:?}")),
                        },
                        Some(c) => current.push(c),
                        None => return Err(format!("unterminated \" in {text:?}")),
                    }
                }
            }
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Change {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn applied(changes: &[&str]) -> Value {
        let mut config = Map::new();
        for change in changes {
            parse(change).apply(&mut config);
        }
        Value::Object(config)
    }

    #[test]
    fn exec_and_shell_forms() {
        assert_eq!(
            parse(r#"CMD ["sh", "-c", "echo hi"]"#),
            Change::Cmd(vec!["sh".into(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(parse("cmd echo $HOME"), Change::Cmd(vec!["/bin/sh".into(), "-c".into(), "echo $HOME".into()]));
        assert_eq!(parse(r#"ENTRYPOINT ["/bin/busybox"]"#), Change::Entrypoint(vec!["/bin/busybox".into()]));
    }

    #[test]
    fn env_forms_and_quotes() {
        assert_eq!(
            parse(r#"ENV A=1 B="two words" C='single $x' D=esc\ aped"#),
            Change::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "single $x".into()),
                ("D".into(), "esc aped".into()),
            ])
        );
        assert_eq!(parse("ENV GREETING hello  there"), Change::Env(vec![("GREETING".into(), "hello  there".into())]));
        let config = applied(&["ENV A=1 B=2", "ENV A=3"]);
        assert_eq!(config["Env"], json!(["A=3", "B=2"]), "a later value replaces the earlier in place");
    }

    #[test]
    fn ports_labels_volumes_user_workdir() {
        let config = applied(&[
            "EXPOSE 80 53/udp 8000-8001",
            r#"LABEL org.example.name="quick start" version=1"#,
            r#"VOLUME ["/data", "/logs"]"#,
            "VOLUME /cache",
            "USER redis:redis",
            "WORKDIR app",
        ]);
        assert_eq!(config["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}));
        assert_eq!(config["Labels"], json!({"org.example.name": "quick start", "version": "1"}));
        assert_eq!(config["Volumes"], json!({"/data": {}, "/logs": {}, "/cache": {}}));
        assert_eq!(config["User"], json!("redis:redis"));
        assert_eq!(config["WorkingDir"], json!("/app"));
    }

    #[test]
    fn bad_changes_say_why() {
        let cases = [
            ("", "it is empty"),
            ("CMD", "CMD needs an argument"),
            ("RUN apt-get update", "unknown instruction RUN"),
            ("STOPSIGNAL SIGINT", "not supported"),
            (r#"CMD ["sh", 1]"#, "not a JSON array of strings"),
            ("CMD []", "empty"),
            ("ENV =x", "a key is empty"),
            ("ENV A", "needs a value"),
            ("LABEL novalue", "is not KEY=VALUE"),
            ("EXPOSE 80/icmp", "not tcp, udp or sctp"),
            ("EXPOSE 70000", "not a port"),
            ("EXPOSE 90-80", "ends before it starts"),
            ("USER a b", "expected one argument"),
            ("ENV A=\"open", "unterminated"),
        ];
        for (text, expected) in cases {
            let error = text.parse::<Change>().expect_err(text).to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(error.contains(&format!("{text:?}")), "the error names the change: {error}");
        }
    }
}
