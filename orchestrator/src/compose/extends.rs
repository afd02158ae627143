//! `extends`: a service built on another one, from the same file or another.
//!
//! The base is resolved first (it may extend yet another service), then the
//! extending service is merged over it with the ordinary merge rules.

use std::path::{Path as FsPath, PathBuf};

use super::environment::Environment;
use super::error::{Error, ErrorKind};
use super::load::Loader;
use super::merge;
use super::node::{Map, Node};
use super::path::Path;

/// Resolves every `extends` in the services of `tree`, which was read from `file`.
pub(super) fn resolve(tree: &mut Node, file: &FsPath, loader: &mut Loader, env: &Environment) -> Result<(), Error> {
    let Some(services) = tree.as_map_mut().and_then(|m| m.get_mut("services")).and_then(Node::as_map_mut) else {
        return Ok(());
    };
    // Only services with `extends` need work; the others are left as they are.
    let names: Vec<String> = services
        .iter()
        .filter(|(_, s)| s.as_map().is_some_and(|m| m.contains_key("extends")))
        .map(|(k, _)| k.name.clone())
        .collect();
    for name in names {
        let mut chain = Vec::new();
        resolve_service(services, &name, file, loader, env, &mut chain)?;
    }
    Ok(())
}

/// Resolves one service in place and returns its resolved node.
fn resolve_service(
    services: &mut Map,
    name: &str,
    file: &FsPath,
    loader: &mut Loader,
    env: &Environment,
    chain: &mut Vec<(PathBuf, String)>,
) -> Result<Node, Error> {
    let root = Path::Root;
    let services_path = root.key("services");
    let path = services_path.key(name);
    let existing = services.get(name).expect("caller checked the service exists");
    let Some(extends) = existing.as_map().and_then(|m| m.get("extends")).cloned() else {
        return Ok(existing.clone());
    };
    let service = existing.clone();
    let extends_path = path.key("extends");
    let base_name = extends
        .get_path(&["service"])
        .and_then(Node::as_str)
        .ok_or_else(|| Error::at(&extends, &extends_path, ErrorKind::MissingKey("service".into())))?
        .to_string();
    let base_file = extends.get_path(&["file"]).and_then(Node::as_str).map(PathBuf::from);

    let link = (file.to_path_buf(), name.to_string());
    if chain.contains(&link) {
        let cycle: Vec<&str> = chain.iter().map(|(_, n)| n.as_str()).chain([name]).collect();
        return Err(Error::at(
            &extends,
            &extends_path,
            ErrorKind::Invalid(format!("extends cycle: {}", cycle.join(" -> "))),
        ));
    }
    chain.push(link);

    let base = match &base_file {
        Some(other) if other != file => {
            let base_dir = other.parent().unwrap_or(FsPath::new("/")).to_path_buf();
            let mut other_tree = loader.load_file(other, &base_dir, env)?;
            let other_services = other_tree
                .as_map_mut()
                .and_then(|m| m.get_mut("services"))
                .and_then(Node::as_map_mut)
                .filter(|s| s.contains_key(base_name.as_str()))
                .ok_or_else(|| unknown_base(&extends, &extends_path, &base_name, Some(other)))?;
            resolve_service(other_services, &base_name, other, loader, env, chain)?
        }
        _ => {
            if !services.contains_key(base_name.as_str()) {
                return Err(unknown_base(&extends, &extends_path, &base_name, None));
            }
            resolve_service(services, &base_name, file, loader, env, chain)?
        }
    };
    chain.pop();

    let mut over = service;
    if let Some(map) = over.as_map_mut() {
        map.shift_remove("extends");
    }
    let resolved = merge::merge_service(base, over);
    services.insert(services.get_key_value(name).expect("exists").0.clone(), resolved.clone());
    Ok(resolved)
}

fn unknown_base(extends: &Node, path: &Path<'_>, base: &str, file: Option<&FsPath>) -> Error {
    let place = file.map(|f| format!(" in {}", f.display())).unwrap_or_default();
    Error::at(extends, path, ErrorKind::Reference(format!("extends service {base:?}, which is not defined{place}")))
}
