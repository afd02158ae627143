//! Checks that need the whole project: every service can get an image, every
//! reference (services, networks, volumes, secrets, configs) names something
//! defined, and the dependencies form no cycle. Runs on the merged long-form
//! tree so each error still points at the line that holds the reference.

use super::error::{Error, ErrorKind};
use super::graph::{Dependency, DependencyGraph, GraphError};
use super::node::{Map, Node};
use super::path::Path;

pub fn validate(tree: &Node) -> Result<(), Error> {
    let empty = Map::default();
    let services = tree.get_path(&["services"]).and_then(Node::as_map).unwrap_or(&empty);
    let root = Path::Root;
    let services_path = root.key("services");
    for (name, service) in services {
        let path = services_path.key(&name.name);
        let Some(map) = service.as_map() else { continue };
        if !map.contains_key("image") && !map.contains_key("build") {
            return Err(Error::at_span(
                &name.span,
                path,
                ErrorKind::Invalid(format!(
                    "service {:?} has neither an image nor a build context: set `image` or `build`",
                    name.name
                )),
            ));
        }
        check_references(tree, map, &path)?;
    }
    dependency_graph(tree).map(|_| ())
}

/// Networks, named volumes, secrets and configs used by a service must be declared at the top level.
fn check_references(tree: &Node, service: &Map, path: &Path<'_>) -> Result<(), Error> {
    let declared = |section: &str, name: &str| tree.get_path(&[section, name]).is_some();
    if let Some(networks) = service.get("networks").and_then(Node::as_map) {
        let networks_path = path.key("networks");
        if let Some(key) = networks.keys().find(|k| !declared("networks", &k.name)) {
            let message = format!("network {:?} is not declared in the top-level `networks`", key.name);
            return Err(Error::at_span(&key.span, networks_path.key(&key.name), ErrorKind::Reference(message)));
        }
    }
    for (field, section) in [("volumes", "volumes"), ("secrets", "secrets"), ("configs", "configs")] {
        let Some(items) = service.get(field).and_then(Node::as_seq) else { continue };
        let field_path = path.key(field);
        for (index, item) in items.iter().enumerate() {
            let is_named_volume =
                field != "volumes" || item.get_path(&["type"]).and_then(Node::as_str) == Some("volume");
            let Some(source) = item.get_path(&["source"]) else { continue };
            let Some(source_name) = source.as_str() else { continue };
            if is_named_volume && !declared(section, source_name) {
                let kind = &section[..section.len() - 1];
                let message = format!("{kind} {source_name:?} is not declared in the top-level `{section}`");
                return Err(Error::at(source, &field_path.index(index).key("source"), ErrorKind::Reference(message)));
            }
        }
    }
    Ok(())
}

/// Every service-to-service edge: depends_on, links, volumes_from and `network_mode: service:`.
fn dependencies(service: &Node) -> Vec<Dependency> {
    let mut deps = Vec::new();
    for (name, dep) in service.get_path(&["depends_on"]).and_then(Node::as_map).into_iter().flatten() {
        let required = dep.get_path(&["required"]).and_then(|r| r.scalar_text()).is_none_or(|r| r != "false");
        deps.push(Dependency { name: name.name.clone(), required });
    }
    let strings = |key: &str| {
        service
            .get_path(&[key])
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(Node::as_str)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    for link in strings("links") {
        let target = link.split(':').next().unwrap_or_default().to_string();
        deps.push(Dependency { name: target, required: true });
    }
    for source in strings("volumes_from") {
        if !source.starts_with("container:") {
            let target = source.split(':').next().unwrap_or_default().to_string();
            deps.push(Dependency { name: target, required: true });
        }
    }
    if let Some(target) =
        service.get_path(&["network_mode"]).and_then(Node::as_str).and_then(|m| m.strip_prefix("service:"))
    {
        deps.push(Dependency { name: target.to_string(), required: true });
    }
    deps.dedup_by(|a, b| a.name == b.name);
    deps
}

/// The project's dependency graph; errors point at the offending `depends_on`.
pub fn dependency_graph(tree: &Node) -> Result<DependencyGraph, Error> {
    let empty = Map::default();
    let services = tree.get_path(&["services"]).and_then(Node::as_map).unwrap_or(&empty);
    DependencyGraph::new(services.iter().map(|(name, service)| (name.name.clone(), dependencies(service)))).map_err(
        |e| {
            let service = match &e {
                GraphError::UnknownService { service, .. } | GraphError::SelfDependency { service } => service.clone(),
                GraphError::Cycle { path } => path.first().cloned().unwrap_or_default(),
            };
            let node =
                tree.get_path(&["services", &service, "depends_on"]).or_else(|| tree.get_path(&["services", &service]));
            let kind = match e {
                GraphError::Cycle { path } => ErrorKind::Cycle(path.join(" -> ")),
                other => ErrorKind::Reference(other.to_string()),
            };
            match node {
                Some(node) => Error::at_span(&node.span, format!("services.{service}.depends_on"), kind),
                None => Error::new(kind),
            }
        },
    )
}
