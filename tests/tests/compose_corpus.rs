//! Every case of the compose corpus (real files from public projects, a copy of
//! ../shared/compose-corpus in tests/fixtures/compose-corpus):
//! valid ones load and agree with the reference implementation's output where
//! there is one; invalid ones are rejected with a clear, located error.
//!
//! The reference (docker-compose 1.29) prints an older layout: short volume
//! strings, `command` as a string, no implicit `default` network, relative
//! paths as `./x`. [`Expected`] turns both sides into the same plain facts
//! before comparing, so only meaning is compared, not spelling.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use berth::compose::{LoadOptions, load, render};
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/compose-corpus")
}

fn cases() -> Vec<PathBuf> {
    let mut cases = Vec::new();
    for source in std::fs::read_dir(corpus()).expect("the corpus is in tests/fixtures/compose-corpus") {
        let source = source.unwrap().path();
        if !source.is_dir() {
            continue;
        }
        for case in std::fs::read_dir(&source).unwrap() {
            let case = case.unwrap().path();
            if case.join("compose.yaml").exists() {
                cases.push(case);
            }
        }
    }
    cases.sort();
    assert!(cases.len() > 60, "expected the whole corpus, found {} cases", cases.len());
    cases
}

/// The environment the reference ran with: PATH, HOME and LANG, plus `oracle.env`.
fn options(case: &Path) -> LoadOptions {
    let mut env: HashMap<String, String> = [("PATH", "/usr/bin:/bin"), ("HOME", "/root"), ("LANG", "C.UTF-8")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Ok(text) = std::fs::read_to_string(case.join("oracle.env")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once('=').expect("oracle.env lines are KEY=VALUE");
            env.insert(k.to_string(), v.to_string());
        }
    }
    LoadOptions {
        files: vec![case.join("compose.yaml")],
        interpolate: true,
        env,
        cwd: case.to_path_buf(),
        ..Default::default()
    }
}

fn is_invalid(case: &Path) -> bool {
    case.join("INVALID").exists() || case.join("expected.error").exists()
}

#[test]
fn every_valid_case_loads() {
    let mut failures = Vec::new();
    for case in cases().iter().filter(|c| !is_invalid(c)) {
        if let Err(e) = load(&options(case)) {
            failures.push(format!("{}: {e}", case.display()));
        }
    }
    assert!(failures.is_empty(), "cases that should load:\n{}", failures.join("\n"));
}

#[test]
fn every_invalid_case_is_rejected_with_a_located_error() {
    let mut failures = Vec::new();
    for case in cases().iter().filter(|c| is_invalid(c)) {
        match load(&options(case)) {
            Ok(_) => failures.push(format!("{}: loaded, but is invalid", case.display())),
            Err(e) if e.span.is_none() => failures.push(format!("{}: error without a position: {e}", case.display())),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn normalised_services_agree_with_the_reference() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in cases() {
        let Ok(expected) = std::fs::read_to_string(case.join("expected.json")) else { continue };
        let expected: Value = serde_json::from_str(&expected).unwrap();
        // docker-compose 1.29's `config` prints every service whatever its profiles.
        let all_profiles = LoadOptions { profiles: vec!["*".into()], ..options(&case) };
        let ours = match load(&all_profiles) {
            Ok(loaded) => render::to_json(&loaded),
            Err(e) => {
                failures.push(format!("{}: {e}", case.display()));
                continue;
            }
        };
        compared += 1;
        let expected = Expected::from_reference(&expected, &case);
        let ours = Expected::from_berth(&ours);
        if expected != ours {
            failures.push(format!("{}:\n  reference: {expected:?}\n  berth:     {ours:?}", case.display()));
        }
    }
    assert!(compared > 40, "only {compared} cases compared");
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// The facts compared for each service.
#[derive(Debug, PartialEq, Eq)]
struct Expected(BTreeMap<String, ServiceFacts>);

#[derive(Debug, PartialEq, Eq, Default)]
struct ServiceFacts {
    image: Option<String>,
    /// (host ip, published, target, protocol)
    ports: BTreeSet<(String, String, u64, String)>,
    /// (source, target, read only)
    volumes: BTreeSet<(String, String, bool)>,
    environment: BTreeMap<String, Option<String>>,
    depends_on: BTreeMap<String, String>,
    networks: BTreeSet<String>,
    command: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn words(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(shlex::split(s).expect("reference commands are valid shell words")),
        Value::Array(items) => Some(items.iter().map(text).collect()),
        other => panic!("unexpected command {other}"),
    }
}

/// The reference prints paths relative to the case as `./x`; berth prints absolute ones.
fn resolve(case: &Path, path: &str) -> String {
    let relative = match path {
        "." => "",
        p => match p.strip_prefix("./") {
            Some(rest) => rest,
            None => return p.to_string(),
        },
    };
    let joined = if relative.is_empty() { case.to_path_buf() } else { case.join(relative) };
    clean(&joined)
}

fn clean(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

impl Expected {
    fn from_reference(json: &Value, case: &Path) -> Self {
        let mut services = BTreeMap::new();
        for (name, s) in json["services"].as_object().into_iter().flatten() {
            let mut facts = ServiceFacts { image: s.get("image").map(text), ..Default::default() };
            for port in s.get("ports").and_then(Value::as_array).into_iter().flatten() {
                facts.ports.insert(match port {
                    Value::String(short) => reference_short_port(short),
                    long => (
                        long.get("host_ip").map(text).unwrap_or_default(),
                        long.get("published").map(text).unwrap_or_default(),
                        long["target"].as_u64().unwrap(),
                        long.get("protocol").map(text).unwrap_or_else(|| "tcp".into()),
                    ),
                });
            }
            for volume in s.get("volumes").and_then(Value::as_array).into_iter().flatten() {
                facts.volumes.insert(match volume {
                    Value::String(short) => {
                        let parts: Vec<&str> = short.split(':').collect();
                        match parts.as_slice() {
                            [target] => (String::new(), target.to_string(), false),
                            [source, target] => (resolve(case, source), target.to_string(), false),
                            [source, target, mode] => {
                                (resolve(case, source), target.to_string(), mode.split(',').any(|m| m == "ro"))
                            }
                            _ => panic!("unexpected volume {short}"),
                        }
                    }
                    long => (
                        long.get("source").map(|s| resolve(case, &text(s))).unwrap_or_default(),
                        text(&long["target"]),
                        long.get("read_only").and_then(Value::as_bool).unwrap_or(false),
                    ),
                });
            }
            facts.environment = environment(s);
            for (dep, condition) in s.get("depends_on").and_then(Value::as_object).into_iter().flatten() {
                facts.depends_on.insert(dep.clone(), text(&condition["condition"]));
            }
            facts.networks = match s.get("networks").and_then(Value::as_object) {
                Some(networks) => networks.keys().cloned().collect(),
                // docker-compose 1.29 leaves the implicit default network out.
                None if s.get("network_mode").is_none() => ["default".to_string()].into(),
                None => BTreeSet::new(),
            };
            facts.command = s.get("command").and_then(words);
            facts.entrypoint = s.get("entrypoint").and_then(words);
            services.insert(name.clone(), facts);
        }
        Expected(services)
    }

    fn from_berth(json: &Value) -> Self {
        let mut services = BTreeMap::new();
        for (name, s) in json["services"].as_object().into_iter().flatten() {
            let mut facts = ServiceFacts { image: s.get("image").map(text), ..Default::default() };
            for port in s.get("ports").and_then(Value::as_array).into_iter().flatten() {
                facts.ports.insert((
                    port.get("host_ip").map(text).unwrap_or_default(),
                    port.get("published").map(text).unwrap_or_default(),
                    port["target"].as_u64().unwrap(),
                    port.get("protocol").map(text).unwrap_or_else(|| "tcp".into()),
                ));
            }
            for volume in s.get("volumes").and_then(Value::as_array).into_iter().flatten() {
                facts.volumes.insert((
                    volume.get("source").map(text).unwrap_or_default(),
                    text(&volume["target"]),
                    volume.get("read_only").and_then(Value::as_bool).unwrap_or(false),
                ));
            }
            facts.environment = environment(s);
            for (dep, condition) in s.get("depends_on").and_then(Value::as_object).into_iter().flatten() {
                facts.depends_on.insert(dep.clone(), text(&condition["condition"]));
            }
            facts.networks =
                s.get("networks").and_then(Value::as_object).map(|n| n.keys().cloned().collect()).unwrap_or_default();
            facts.command = s.get("command").and_then(words);
            facts.entrypoint = s.get("entrypoint").and_then(words);
            services.insert(name.clone(), facts);
        }
        Expected(services)
    }
}

fn environment(service: &Value) -> BTreeMap<String, Option<String>> {
    service
        .get("environment")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), if v.is_null() { None } else { Some(text(v)) }))
        .collect()
}

/// `127.0.0.1:8001:8000/tcp`, the one short port the reference printed.
fn reference_short_port(short: &str) -> (String, String, u64, String) {
    let (spec, protocol) = short.split_once('/').unwrap_or((short, "tcp"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, published, target) = match parts.as_slice() {
        [target] => ("", "", *target),
        [published, target] => ("", *published, *target),
        [ip, published, target] => (*ip, *published, *target),
        _ => panic!("unexpected port {short}"),
    };
    (ip.to_string(), published.to_string(), target.parse().unwrap(), protocol.to_string())
}
