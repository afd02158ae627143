//! `include`: other compose projects pulled in whole, each loaded with its own
//! project directory and environment, their resources added to this file's.
//! A resource defined both here and in an included file is an error, as in Compose.

use std::path::{Path as FsPath, PathBuf};

use super::environment::Environment;
use super::error::{Error, ErrorKind};
use super::load::{Loader, MAX_INCLUDE_DEPTH};
use super::merge;
use super::node::{Map, Node, Value};
use super::path::Path;

const SECTIONS: [&str; 5] = ["services", "networks", "volumes", "secrets", "configs"];

pub(super) fn resolve(tree: &mut Node, loader: &mut Loader, env: &Environment) -> Result<(), Error> {
    let Some(includes) = tree.as_map_mut().and_then(|m| m.shift_remove("include")) else {
        return Ok(());
    };
    let root = Path::Root;
    let include_path = root.key("include");
    let Value::Seq(items) = &includes.value else {
        return Err(Error::at(
            &includes,
            &include_path,
            ErrorKind::InvalidType { expected: "a sequence".into(), found: includes.kind().into() },
        ));
    };
    if loader.include_depth >= MAX_INCLUDE_DEPTH {
        return Err(Error::at(
            &includes,
            &include_path,
            ErrorKind::Limit(format!(
                "includes nested deeper than {MAX_INCLUDE_DEPTH} levels (does a file include itself?)"
            )),
        ));
    }
    for (index, item) in items.iter().enumerate() {
        let item_path = include_path.index(index);
        let included = load_included(item, &item_path, loader, env)?;
        add_resources(tree, included, item, &item_path)?;
    }
    Ok(())
}

fn strings(node: Option<&Node>) -> Vec<PathBuf> {
    node.and_then(Node::as_seq)
        .map(|items| items.iter().filter_map(Node::as_str).map(PathBuf::from).collect())
        .unwrap_or_default()
}

fn load_included(item: &Node, path: &Path<'_>, loader: &mut Loader, env: &Environment) -> Result<Node, Error> {
    let files = strings(item.get_path(&["path"]));
    let Some(first) = files.first() else {
        return Err(Error::at(item, path, ErrorKind::MissingKey("path".into())));
    };
    let project_dir = item
        .get_path(&["project_directory"])
        .and_then(Node::as_str)
        .map(PathBuf::from)
        .unwrap_or_else(|| first.parent().unwrap_or(FsPath::new("/")).to_path_buf());
    let env = env.with_env_files(&strings(item.get_path(&["env_file"])), &project_dir)?;

    loader.include_depth += 1;
    let merged = load_all(&files, &project_dir, loader, &env);
    loader.include_depth -= 1;
    merged
}

fn load_all(files: &[PathBuf], project_dir: &FsPath, loader: &mut Loader, env: &Environment) -> Result<Node, Error> {
    let mut merged: Option<Node> = None;
    for file in files {
        let tree = loader.load_project_file(file, project_dir, env)?;
        merged = Some(match merged {
            None => tree,
            Some(base) => merge::merge(base, tree),
        });
    }
    Ok(merged.expect("the caller checked there is a file"))
}

fn add_resources(tree: &mut Node, included: Node, item: &Node, path: &Path<'_>) -> Result<(), Error> {
    let Value::Map(mut included) = included.value else { return Ok(()) };
    let Some(map) = tree.as_map_mut() else { return Ok(()) };
    for section in SECTIONS {
        let Some((key, Node { value: Value::Map(resources), span, tag })) = included.shift_remove_entry(section) else {
            continue;
        };
        let target = map.entry(key).or_insert_with(|| Node { value: Value::Map(Map::default()), span, tag });
        let Some(target) = target.as_map_mut() else { continue };
        for (name, resource) in resources {
            if target.contains_key(name.name.as_str()) {
                return Err(Error::at(
                    item,
                    path,
                    ErrorKind::Reference(format!(
                        "{section}.{name} is defined both here and in the included file {}",
                        resource.span.file
                    )),
                ));
            }
            target.insert(name, resource);
        }
    }
    Ok(())
}
