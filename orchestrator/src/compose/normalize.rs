//! Filling in what Compose implies, on the merged long-form tree:
//! `env_file`s read into `environment`, optional dependencies on absent
//! services dropped, the `default` network, and the names of networks,
//! volumes, secrets and configs (`<project>_<key>` unless external).

use std::path::PathBuf;
use std::sync::Arc;

use super::dotenv;
use super::environment::Environment;
use super::error::{Error, ErrorKind};
use super::node::{Key, Map, Node, Span, Value};
use super::path::Path;

pub fn normalize(tree: &mut Node, project: &str, env: &Environment) -> Result<(), Error> {
    let Some(root) = tree.as_map_mut() else { return Ok(()) };
    let span = Span::synthetic("defaults");
    let service_names: Vec<String> = root
        .get("services")
        .and_then(Node::as_map)
        .map(|s| s.keys().map(|k| k.name.clone()).collect())
        .unwrap_or_default();
    let mut uses_default_network = false;
    if let Some(services) = root.get_mut("services").and_then(Node::as_map_mut) {
        for (name, service) in services.iter_mut() {
            let root_path = Path::Root;
            let services_path = root_path.key("services");
            let path = services_path.key(&name.name);
            let Some(service) = service.as_map_mut() else { continue };
            read_env_files(service, &path, env)?;
            read_label_files(service, &path)?;
            drop_optional_dependencies(service, &service_names);
            if !service.contains_key("networks") && !service.contains_key("network_mode") {
                let mut networks = Map::default();
                networks.insert(Key::new("default", span.clone()), Node::null(span.clone()));
                service.insert(Key::new("networks", span.clone()), Node::new(Value::Map(networks), span.clone()));
            }
            uses_default_network |=
                service.get("networks").and_then(Node::as_map).is_some_and(|n| n.contains_key("default"));
        }
    }
    if uses_default_network {
        let networks = section(root, "networks", &span);
        if !networks.contains_key("default") {
            networks.insert(Key::new("default", span.clone()), Node::new(Value::Map(Map::default()), span.clone()));
        }
    }
    for name in ["networks", "volumes", "secrets", "configs"] {
        if let Some(resources) = root.get_mut(name).and_then(Node::as_map_mut) {
            name_resources(resources, project);
        }
    }
    Ok(())
}

fn section<'a>(root: &'a mut Map, key: &str, span: &Span) -> &'a mut Map {
    let node =
        root.entry(Key::new(key, span.clone())).or_insert_with(|| Node::new(Value::Map(Map::default()), span.clone()));
    if !matches!(node.value, Value::Map(_)) {
        node.value = Value::Map(Map::default());
    }
    node.as_map_mut().expect("made a map above")
}

/// Gives every resource its engine-side name: `<project>_<key>`, or the key
/// itself for external resources, unless the file names it.
fn name_resources(resources: &mut Map, project: &str) {
    for (key, resource) in resources.iter_mut() {
        if resource.is_null() {
            resource.value = Value::Map(Map::default());
        }
        let Some(map) = resource.as_map_mut() else { continue };
        if map.contains_key("name") {
            continue;
        }
        let external = map.get("external").is_some_and(|e| matches!(e.value, Value::Bool(true)));
        let name = if external { key.name.clone() } else { format!("{project}_{}", key.name) };
        map.insert(Key::new("name", key.span.clone()), Node::string(name, key.span.clone()));
    }
}

/// `required: false` dependencies on services that are not there are dropped.
fn drop_optional_dependencies(service: &mut Map, services: &[String]) {
    let Some(deps) = service.get_mut("depends_on").and_then(Node::as_map_mut) else { return };
    deps.retain(|name, dep| {
        let optional = dep.get_path(&["required"]).is_some_and(|r| matches!(r.value, Value::Bool(false)));
        !optional || services.contains(&name.name)
    });
}

/// Reads the service's `label_file`s into its `labels` (labels written in the file win).
fn read_label_files(service: &mut Map, path: &Path<'_>) -> Result<(), Error> {
    let Some(files) = service.shift_remove("label_file") else { return Ok(()) };
    let files_path = path.key("label_file");
    let mut from_files: Vec<(String, String)> = Vec::new();
    for (index, entry) in files.as_seq().unwrap_or_default().iter().enumerate() {
        let file = PathBuf::from(entry.as_str().unwrap_or_default());
        let text = std::fs::read_to_string(&file).map_err(|source| {
            Error::at(entry, &files_path.index(index), ErrorKind::Io { path: file.clone(), source })
        })?;
        let no_variables = |_: &str| None;
        let entries = dotenv::parse(&text, &no_variables).map_err(|e| {
            let span = Span::new(Arc::from(file.display().to_string()), e.line as u32, 1);
            Error::at_span(&span, "", ErrorKind::Invalid(e.message.clone()))
        })?;
        from_files.extend(entries.into_iter().map(|(k, v)| (k, v.unwrap_or_default())));
    }
    let span = files.span.clone();
    let labels = service
        .entry(Key::new("labels", span.clone()))
        .or_insert_with(|| Node::new(Value::Map(Map::default()), span.clone()));
    if let Some(labels) = labels.as_map_mut() {
        for (key, value) in from_files {
            labels.entry(Key::new(key, span.clone())).or_insert_with(|| Node::string(value, span.clone()));
        }
    }
    Ok(())
}

/// Reads the service's `env_file`s into its `environment` (values written in
/// `environment` win; later files win over earlier ones) and drops `env_file`.
fn read_env_files(service: &mut Map, path: &Path<'_>, env: &Environment) -> Result<(), Error> {
    let Some(files) = service.shift_remove("env_file") else { return Ok(()) };
    let files_path = path.key("env_file");
    let mut from_files: Vec<(Key, Node)> = Vec::new();
    for (index, entry) in files.as_seq().unwrap_or_default().iter().enumerate() {
        let entry_path = files_path.index(index);
        let Some(file) = entry.get_path(&["path"]).and_then(Node::as_str).map(PathBuf::from) else {
            return Err(Error::at(entry, &entry_path, ErrorKind::MissingKey("path".into())));
        };
        let required = !entry.get_path(&["required"]).is_some_and(|r| matches!(r.value, Value::Bool(false)));
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(file = %file.display(), "optional env_file is missing");
                continue;
            }
            Err(source) => return Err(Error::at(entry, &entry_path, ErrorKind::Io { path: file, source })),
        };
        let lookup = |name: &str| env.get(name);
        let entries = dotenv::parse(&text, &lookup).map_err(|e| {
            let span = Span::new(Arc::from(file.display().to_string()), e.line as u32, 1);
            Error::at_span(&span, "", ErrorKind::Invalid(e.message.clone()))
        })?;
        let span = Span::new(Arc::from(file.display().to_string()), 0, 0);
        for (name, value) in entries {
            let value = match value.or_else(|| env.get(&name)) {
                Some(v) => Node::string(v, span.clone()),
                None => Node::null(span.clone()),
            };
            from_files.retain(|(k, _)| k.name != name);
            from_files.push((Key::new(name, span.clone()), value));
        }
    }
    if from_files.is_empty() {
        return Ok(());
    }
    let span = files.span.clone();
    let environment = service
        .entry(Key::new("environment", span.clone()))
        .or_insert_with(|| Node::new(Value::Map(Map::default()), span));
    if let Some(environment) = environment.as_map_mut() {
        for (key, value) in from_files {
            environment.entry(key).or_insert(value);
        }
    }
    Ok(())
}
