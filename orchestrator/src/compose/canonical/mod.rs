//! Short syntax → long form, file by file, before files are merged: each
//! short form is rewritten in the tree (keeping the span of what the user
//! wrote), and relative host paths are made absolute against the file's base
//! directory. After this, every service key holds the one form the typed model reads.

mod lists;
mod ports;
mod volumes;

use std::path::{Component, Path as FsPath, PathBuf};

use super::error::{Error, ErrorKind};
use super::node::{Key, Map, Node, Value};
use super::path::Path;
use lists::{Bare, command, default, list_or_dict, null_to_map, string_or_list, type_error};

/// What relative paths and bare variables are resolved against.
pub struct Context<'a> {
    /// Relative host paths are relative to this directory.
    pub base_dir: &'a FsPath,
    /// `~` in host paths.
    pub home: Option<&'a FsPath>,
    /// The environment, for `environment` and `build.args` entries given without a value.
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("base_dir", &self.base_dir).field("home", &self.home).finish_non_exhaustive()
    }
}

impl Context<'_> {
    /// An absolute, lexically cleaned path (the file system is not consulted).
    pub fn resolve_path(&self, path: &str) -> String {
        let joined = match path.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                self.home.unwrap_or(FsPath::new("/")).join(rest.trim_start_matches('/'))
            }
            _ => self.base_dir.join(path),
        };
        clean(&joined).display().to_string()
    }
}

fn clean(path: &FsPath) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A build context or additional context that is not a local directory.
fn is_remote(context: &str) -> bool {
    context.contains("://")
        || ["git@", "github.com/", "docker-image:", "service:", "target:", "oci-layout:"]
            .iter()
            .any(|p| context.starts_with(p))
}

pub fn canonicalize(tree: &mut Node, context: &Context<'_>) -> Result<(), Error> {
    let root = Path::Root;
    let Some(map) = tree.as_map_mut() else { return Ok(()) };
    if map.contains_key("version") {
        tracing::warn!("the attribute `version` is obsolete, it will be ignored");
    }
    if let Some(services) = map.get_mut("services") {
        let services_path = root.key("services");
        null_to_map(services);
        let Value::Map(services) = &mut services.value else {
            return Err(type_error(services, &services_path, "a mapping of services"));
        };
        for (name, service) in services.iter_mut() {
            let path = services_path.key(&name.name);
            null_to_map(service);
            let Value::Map(service) = &mut service.value else {
                return Err(type_error(service, &path, "a mapping"));
            };
            canonicalize_service(service, &path, context)?;
        }
    }
    for section in ["networks", "volumes", "secrets", "configs"] {
        if let Some(resources) = map.get_mut(section) {
            let section_path = root.key(section);
            null_to_map(resources);
            let Value::Map(resources) = &mut resources.value else {
                return Err(type_error(resources, &section_path, "a mapping"));
            };
            for (name, resource) in resources.iter_mut() {
                canonicalize_resource(resource, &section_path.key(&name.name), context)?;
            }
        }
    }
    if let Some(include) = map.get_mut("include") {
        canonicalize_include(include, &root.key("include"), context)?;
    }
    Ok(())
}

fn canonicalize_service(service: &mut Map, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    for (key, value) in service.iter_mut() {
        let path = path.key(&key.name);
        match key.name.as_str() {
            "build" => build(value, &path, context)?,
            "command" | "entrypoint" => command(value, &path)?,
            "configs" | "secrets" => file_references(value, &path)?,
            "depends_on" => depends_on(value, &path)?,
            "devices" => devices(value, &path)?,
            "dns"
            | "dns_search"
            | "dns_opt"
            | "tmpfs"
            | "expose"
            | "cap_add"
            | "cap_drop"
            | "profiles"
            | "links"
            | "external_links"
            | "volumes_from"
            | "security_opt"
            | "group_add"
            | "device_cgroup_rules" => string_or_list(value, &path)?,
            "env_file" => env_file(value, &path, context)?,
            "label_file" => {
                string_or_list(value, &path)?;
                resolve_all(value, context);
            }
            "environment" => environment(value, &path, context)?,
            "extends" => extends(value, &path, context)?,
            "extra_hosts" => extra_hosts(value, &path)?,
            "healthcheck" => healthcheck(value, &path)?,
            "labels" | "annotations" | "sysctls" => list_or_dict(value, &path, Bare::Empty)?,
            "logging" => {
                if let Some(options) = value.as_map_mut().and_then(|m| m.get_mut("options")) {
                    list_or_dict(options, &path.key("options"), Bare::Null)?;
                }
            }
            "networks" => networks(value, &path)?,
            "ports" => ports::canonicalize(value, &path)?,
            "pull_policy" => pull_policy(value, &path)?,
            "ulimits" => ulimits(value, &path)?,
            "volumes" => volumes::canonicalize(value, &path, context)?,
            "deploy" => deploy(value, &path)?,
            "develop" => develop(value, &path, context)?,
            _ => {}
        }
    }
    Ok(())
}

fn build(node: &mut Node, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    if let Value::String(text) = &node.value {
        let mut map = Map::default();
        map.insert(Key::new("context", node.span.clone()), Node::string(text.clone(), node.span.clone()));
        node.value = Value::Map(map);
    }
    let span = node.span.clone();
    let Value::Map(map) = &mut node.value else {
        return Err(type_error(node, path, "a build context path or a mapping"));
    };
    default(map, "context", Node::string(".", span.clone()));
    for (key, value) in map.iter_mut() {
        let path = path.key(&key.name);
        match key.name.as_str() {
            "context" => {
                if let Some(text) = value.scalar_text()
                    && !is_remote(&text)
                {
                    value.value = Value::String(context.resolve_path(&text));
                }
            }
            "args" => {
                list_or_dict(value, &path, Bare::Null)?;
                fill_from_environment(value, context);
            }
            "labels" => list_or_dict(value, &path, Bare::Empty)?,
            "additional_contexts" => {
                list_or_dict(value, &path, Bare::Empty)?;
                for (_, entry) in value.as_map_mut().into_iter().flatten() {
                    if let Some(text) = entry.as_str()
                        && !is_remote(text)
                    {
                        entry.value = Value::String(context.resolve_path(text));
                    }
                }
            }
            "extra_hosts" => extra_hosts(value, &path)?,
            "secrets" => file_references(value, &path)?,
            "ulimits" => ulimits(value, &path)?,
            "cache_from" | "cache_to" | "tags" | "platforms" | "entitlements" => string_or_list(value, &path)?,
            "ssh" => string_or_list(value, &path)?,
            _ => {}
        }
    }
    let has_inline = map.contains_key("dockerfile_inline");
    if !has_inline {
        default(map, "dockerfile", Node::string("Dockerfile", span));
    }
    Ok(())
}

/// Entries given without a value take it from the environment when it is set, as compose does.
fn fill_from_environment(node: &mut Node, context: &Context<'_>) {
    for (key, value) in node.as_map_mut().into_iter().flatten() {
        if value.is_null()
            && let Some(found) = (context.lookup)(&key.name)
        {
            value.value = Value::String(found);
        }
    }
}

fn environment(node: &mut Node, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    list_or_dict(node, path, Bare::Null)?;
    fill_from_environment(node, context);
    Ok(())
}

fn resolve_all(node: &mut Node, context: &Context<'_>) {
    for item in node.as_seq_mut().into_iter().flatten() {
        if let Some(text) = item.as_str() {
            item.value = Value::String(context.resolve_path(text));
        }
    }
}

/// `secrets: [name]` → `[{source: name}]`.
fn file_references(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    let Value::Seq(items) = &mut node.value else {
        return Err(type_error(node, path, "a list"));
    };
    for (index, item) in items.iter_mut().enumerate() {
        match &item.value {
            Value::String(name) => {
                let mut map = Map::default();
                map.insert(Key::new("source", item.span.clone()), Node::string(name.clone(), item.span.clone()));
                item.value = Value::Map(map);
            }
            Value::Map(_) => {}
            _ => return Err(type_error(item, &path.index(index), "a name or a mapping")),
        }
    }
    Ok(())
}

fn depends_on(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    if let Value::Seq(items) = &node.value {
        let mut map = Map::default();
        for (index, item) in items.iter().enumerate() {
            let name = item.as_str().ok_or_else(|| type_error(item, &path.index(index), "a service name"))?;
            map.insert(Key::new(name, item.span.clone()), Node::null(item.span.clone()));
        }
        node.value = Value::Map(map);
    }
    let Value::Map(map) = &mut node.value else {
        return Err(type_error(node, path, "a list of services or a mapping"));
    };
    for (_, dependency) in map.iter_mut() {
        null_to_map(dependency);
        let span = dependency.span.clone();
        if let Some(dependency) = dependency.as_map_mut() {
            default(dependency, "condition", Node::string("service_started", span.clone()));
            default(dependency, "required", Node::new(Value::Bool(true), span));
        }
    }
    Ok(())
}

/// `/dev/a[:/dev/b[:rwm]]` → `{source, target, permissions}`.
fn devices(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    let Value::Seq(items) = &mut node.value else {
        return Err(type_error(node, path, "a list of devices"));
    };
    for (index, item) in items.iter_mut().enumerate() {
        let Some(spec) = item.as_str() else { continue };
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, target, permissions) = match parts.as_slice() {
            [source] => (*source, *source, None),
            [source, target] => (*source, *target, None),
            [source, target, permissions] => (*source, *target, Some(*permissions)),
            _ => {
                return Err(Error::invalid(
                    item,
                    &path.index(index),
                    format!("invalid device {spec:?}: expected HOST[:CONTAINER[:PERMISSIONS]]"),
                ));
            }
        };
        let mut entry = serde_json::json!({"source": source, "target": target});
        if let Some(permissions) = permissions {
            entry["permissions"] = permissions.into();
        }
        *item = Node::from_json(&entry, &item.span);
    }
    Ok(())
}

/// `env_file: a.env` / `[a.env, {path: b.env, required: false}]` → `[{path, required}]`, paths absolute.
fn env_file(node: &mut Node, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    if let Value::String(_) = node.value {
        let item = node.clone();
        node.value = Value::Seq(vec![item]);
    }
    let Value::Seq(items) = &mut node.value else {
        return Err(type_error(node, path, "a file name or a list"));
    };
    for (index, item) in items.iter_mut().enumerate() {
        let item_path = path.index(index);
        if let Value::String(file) = &item.value {
            let entry = serde_json::json!({"path": file, "required": true});
            *item = Node::from_json(&entry, &item.span);
        }
        let span = item.span.clone();
        let Some(map) = item.as_map_mut() else {
            return Err(type_error(item, &item_path, "a file name or a mapping"));
        };
        default(map, "required", Node::new(Value::Bool(true), span));
        match map.get_mut("path") {
            Some(file) => {
                let text = file.scalar_text().unwrap_or_default();
                file.value = Value::String(context.resolve_path(&text));
            }
            None => return Err(Error::at(item, &item_path, ErrorKind::MissingKey("path".into()))),
        }
    }
    Ok(())
}

/// `extends: web` → `{service: web}`; `file` made absolute.
fn extends(node: &mut Node, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    if let Value::String(name) = &node.value {
        let entry = serde_json::json!({ "service": name });
        *node = Node::from_json(&entry, &node.span);
    }
    let Some(map) = node.as_map_mut() else {
        return Err(type_error(node, path, "a service name or a mapping"));
    };
    if let Some(file) = map.get_mut("file")
        && let Some(text) = file.as_str()
    {
        file.value = Value::String(context.resolve_path(text));
    }
    Ok(())
}

/// `["host:ip", "host=ip"]` or `{host: ip | [ips]}` → `{host: [ips]}`.
fn extra_hosts(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    let mut hosts: Map = Map::default();
    let mut add = |host: &str, ip: &str, item: &Node| {
        let entry = hosts
            .entry(Key::new(host, item.span.clone()))
            .or_insert_with(|| Node::new(Value::Seq(Vec::new()), item.span.clone()));
        if let Value::Seq(ips) = &mut entry.value {
            ips.push(Node::string(ip.trim_matches(['[', ']']), item.span.clone()));
        }
    };
    match &node.value {
        Value::Seq(items) => {
            for (index, item) in items.iter().enumerate() {
                let text =
                    item.as_str().ok_or_else(|| type_error(item, &path.index(index), "a host=address string"))?;
                let (host, ip) = text.split_once('=').or_else(|| text.split_once(':')).ok_or_else(|| {
                    Error::invalid(
                        item,
                        &path.index(index),
                        format!("invalid extra host {text:?}: expected host=address"),
                    )
                })?;
                add(host, ip, item);
            }
        }
        Value::Map(map) => {
            for (key, value) in map {
                match &value.value {
                    Value::Seq(ips) => {
                        for ip in ips {
                            add(&key.name, &ip.scalar_text().unwrap_or_default(), ip);
                        }
                    }
                    _ => add(&key.name, &value.scalar_text().unwrap_or_default(), value),
                }
            }
        }
        Value::Null => {}
        _ => return Err(type_error(node, path, "a list of host=address strings or a mapping")),
    }
    node.value = Value::Map(hosts);
    Ok(())
}

fn healthcheck(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    let Some(map) = node.as_map_mut() else {
        return Err(type_error(node, path, "a mapping"));
    };
    let Some(test) = map.get_mut("test") else { return Ok(()) };
    let test_path = path.key("test");
    match &test.value {
        Value::String(command) => {
            let items =
                vec![Node::string("CMD-SHELL", test.span.clone()), Node::string(command.clone(), test.span.clone())];
            test.value = Value::Seq(items);
        }
        Value::Seq(_) => {
            string_or_list(test, &test_path)?;
            let first = test.as_seq().and_then(|s| s.first()).and_then(Node::as_str).unwrap_or_default();
            if !matches!(first, "CMD" | "CMD-SHELL" | "NONE") {
                return Err(Error::invalid(
                    test,
                    &test_path,
                    format!("a healthcheck test list starts with CMD, CMD-SHELL or NONE, not {first:?}"),
                ));
            }
        }
        _ => return Err(type_error(test, &test_path, "a command string or a list")),
    }
    Ok(())
}

/// `networks: [a, b]` → `{a: null, b: null}`.
fn networks(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    match &node.value {
        Value::Seq(items) => {
            let mut map = Map::default();
            for (index, item) in items.iter().enumerate() {
                let name = item.as_str().ok_or_else(|| type_error(item, &path.index(index), "a network name"))?;
                map.insert(Key::new(name, item.span.clone()), Node::null(item.span.clone()));
            }
            node.value = Value::Map(map);
        }
        Value::Map(_) => {
            for (key, network) in node.as_map_mut().into_iter().flatten() {
                if let Some(aliases) = network.as_map_mut().and_then(|m| m.get_mut("aliases")) {
                    string_or_list(aliases, &path.key(&key.name).key("aliases"))?;
                }
            }
        }
        _ => return Err(type_error(node, path, "a list of networks or a mapping")),
    }
    Ok(())
}

fn pull_policy(node: &Node, path: &Path<'_>) -> Result<(), Error> {
    let text = node.scalar_text().unwrap_or_default();
    let valid = matches!(
        text.as_str(),
        "always" | "never" | "missing" | "if_not_present" | "build" | "daily" | "weekly" | "refresh"
    ) || text.strip_prefix("every_").is_some_and(|d| super::model::Duration::parse(d).is_ok());
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            node,
            path,
            format!(
                "invalid pull_policy {text:?}: expected always, never, missing, build, daily, weekly or every_<duration>"
            ),
        ))
    }
}

/// `nofile: 1024` → `nofile: {soft: 1024, hard: 1024}`.
fn ulimits(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    let Some(map) = node.as_map_mut() else {
        return Err(type_error(node, path, "a mapping of limits"));
    };
    for (key, limit) in map.iter_mut() {
        if matches!(limit.value, Value::Int(_) | Value::String(_)) {
            let entry = Node::new(limit.value.clone(), limit.span.clone());
            let mut pair = Map::default();
            pair.insert(Key::new("soft", limit.span.clone()), entry.clone());
            pair.insert(Key::new("hard", limit.span.clone()), entry);
            limit.value = Value::Map(pair);
        }
        let soft = limit.get_path(&["soft"]).and_then(|n| n.scalar_text()).and_then(|t| t.parse::<i64>().ok());
        let hard = limit.get_path(&["hard"]).and_then(|n| n.scalar_text()).and_then(|t| t.parse::<i64>().ok());
        if let (Some(soft), Some(hard)) = (soft, hard)
            && soft > hard
        {
            return Err(Error::invalid(
                limit,
                &path.key(&key.name),
                format!("ulimit {}: the soft limit {soft} is above the hard limit {hard}", key.name),
            ));
        }
    }
    Ok(())
}

fn deploy(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    if let Some(labels) = node.as_map_mut().and_then(|m| m.get_mut("labels")) {
        list_or_dict(labels, &path.key("labels"), Bare::Empty)?;
    }
    Ok(())
}

fn develop(node: &mut Node, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    let Some(watch) = node.as_map_mut().and_then(|m| m.get_mut("watch")) else { return Ok(()) };
    let watch_path = path.key("watch");
    let Value::Seq(rules) = &mut watch.value else {
        return Err(type_error(watch, &watch_path, "a list of watch rules"));
    };
    for (index, rule) in rules.iter_mut().enumerate() {
        let rule_path = watch_path.index(index);
        let Some(map) = rule.as_map_mut() else {
            return Err(type_error(rule, &rule_path, "a mapping"));
        };
        if let Some(file) = map.get_mut("path")
            && let Some(text) = file.as_str()
        {
            file.value = Value::String(context.resolve_path(text));
        }
        for key in ["ignore", "include"] {
            if let Some(patterns) = map.get_mut(key) {
                string_or_list(patterns, &rule_path.key(key))?;
            }
        }
    }
    Ok(())
}

/// Top-level networks, volumes, secrets, configs: empty entries become mappings,
/// the legacy `external: {name: x}` becomes `external: true` + `name: x`,
/// labels become mappings and `file` paths absolute.
fn canonicalize_resource(node: &mut Node, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    null_to_map(node);
    let Some(map) = node.as_map_mut() else {
        return Err(type_error(node, path, "a mapping"));
    };
    if let Some(external) = map.get_mut("external")
        && let Some(name) = external.get_path(&["name"]).cloned()
    {
        external.value = Value::Bool(true);
        default(map, "name", name);
    }
    for (key, value) in map.iter_mut() {
        match key.name.as_str() {
            "labels" => list_or_dict(value, &path.key("labels"), Bare::Empty)?,
            "file" => {
                if let Some(text) = value.as_str() {
                    value.value = Value::String(context.resolve_path(text));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `include: [a.yaml, {path: [b.yaml], env_file: x, project_directory: d}]`, paths absolute.
fn canonicalize_include(node: &mut Node, path: &Path<'_>, context: &Context<'_>) -> Result<(), Error> {
    let Value::Seq(items) = &mut node.value else {
        return Err(type_error(node, path, "a list of files"));
    };
    for (index, item) in items.iter_mut().enumerate() {
        let item_path = path.index(index);
        if let Value::String(file) = &item.value {
            let entry = serde_json::json!({ "path": file });
            *item = Node::from_json(&entry, &item.span);
        }
        let Some(map) = item.as_map_mut() else {
            return Err(type_error(item, &item_path, "a file name or a mapping"));
        };
        for (key, value) in map.iter_mut() {
            match key.name.as_str() {
                "path" | "env_file" => {
                    string_or_list(value, &item_path.key(&key.name))?;
                    resolve_all(value, context);
                }
                "project_directory" => {
                    if let Some(text) = value.as_str() {
                        value.value = Value::String(context.resolve_path(text));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::compose::yaml::{Limits, parse};

    fn canonical(text: &str) -> Result<serde_json::Value, Error> {
        let mut tree = parse(text, Arc::from("c.yaml"), Limits::default()).unwrap();
        let lookup = |name: &str| (name == "FROM_ENV").then(|| "yes".to_string());
        let context = Context { base_dir: FsPath::new("/proj"), home: Some(FsPath::new("/home/u")), lookup: &lookup };
        canonicalize(&mut tree, &context)?;
        Ok(tree.to_json())
    }

    #[test]
    fn environment_lists_and_values_from_the_environment() {
        let out = canonical("services: {a: {environment: [A=1, FROM_ENV, UNSET]}}").unwrap();
        assert_eq!(
            out["services"]["a"]["environment"],
            serde_json::json!({"A": "1", "FROM_ENV": "yes", "UNSET": null})
        );
    }

    #[test]
    fn build_strings_and_contexts() {
        let out =
            canonical("services: {a: {build: ./app}, b: {build: {context: 'https://x/y.git', args: [K=v]}}}").unwrap();
        assert_eq!(
            out["services"]["a"]["build"],
            serde_json::json!({"context": "/proj/app", "dockerfile": "Dockerfile"})
        );
        assert_eq!(out["services"]["b"]["build"]["context"], serde_json::json!("https://x/y.git"));
        assert_eq!(out["services"]["b"]["build"]["args"], serde_json::json!({"K": "v"}));
    }

    #[test]
    fn depends_on_and_networks_lists_become_mappings() {
        let out = canonical(
            "services: {a: {depends_on: [b], networks: [front]}, b: {depends_on: {c: {condition: service_healthy}}}}",
        )
        .unwrap();
        assert_eq!(
            out["services"]["a"]["depends_on"],
            serde_json::json!({"b": {"condition": "service_started", "required": true}})
        );
        assert_eq!(out["services"]["a"]["networks"], serde_json::json!({"front": null}));
        assert_eq!(out["services"]["b"]["depends_on"]["c"]["condition"], serde_json::json!("service_healthy"));
    }

    #[test]
    fn healthcheck_strings_and_ulimits() {
        let out = canonical(
            "services: {a: {healthcheck: {test: 'curl -f x'}, ulimits: {nofile: 1024, nproc: {soft: 1, hard: 2}}}}",
        )
        .unwrap();
        assert_eq!(out["services"]["a"]["healthcheck"]["test"], serde_json::json!(["CMD-SHELL", "curl -f x"]));
        assert_eq!(out["services"]["a"]["ulimits"]["nofile"], serde_json::json!({"soft": 1024, "hard": 1024}));
        let err = canonical("services: {a: {healthcheck: {test: [curl, x]}}}").unwrap_err();
        assert!(err.to_string().contains("services.a.healthcheck.test"), "{err}");
        let err = canonical("services: {a: {ulimits: {nofile: {soft: 3, hard: 2}}}}").unwrap_err();
        assert!(err.to_string().contains("above the hard limit"), "{err}");
    }

    #[test]
    fn env_files_extra_hosts_and_resources() {
        let out = canonical(
            "services: {a: {env_file: [a.env, {path: b.env, required: false}], extra_hosts: ['h:1.2.3.4', 'h=::1']}}\nnetworks: {n: , e: {external: {name: real}}}\nsecrets: {s: {file: ./s.txt}}",
        )
        .unwrap();
        assert_eq!(
            out["services"]["a"]["env_file"],
            serde_json::json!([{"path": "/proj/a.env", "required": true}, {"path": "/proj/b.env", "required": false}])
        );
        assert_eq!(out["services"]["a"]["extra_hosts"], serde_json::json!({"h": ["1.2.3.4", "::1"]}));
        assert_eq!(out["networks"], serde_json::json!({"n": {}, "e": {"external": true, "name": "real"}}));
        assert_eq!(out["secrets"]["s"]["file"], serde_json::json!("/proj/s.txt"));
    }

    #[test]
    fn wrong_shapes_are_located() {
        let err = canonical("services: {a: {environment: 5}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:1:29: services.a.environment: expected a mapping or a list of KEY=VALUE strings, found an integer"
        );
        let err = canonical("services: {a: {ports: ['80:http']}}").unwrap_err();
        assert!(err.to_string().contains("services.a.ports[0]: invalid port \"80:http\""), "{err}");
        let err = canonical("services: {a: {pull_policy: sometimes}}").unwrap_err();
        assert!(err.to_string().contains("invalid pull_policy"), "{err}");
    }
}
