//! Profiles: services with `profiles:` run only when one of their profiles is
//! active (`--profile`, `COMPOSE_PROFILES`); services without any always run,
//! and a service an enabled service depends on is enabled with it.

use std::collections::BTreeSet;

use super::environment::Environment;
use super::error::Error;
use super::node::Node;

fn services(tree: &Node) -> impl Iterator<Item = (&str, &Node)> {
    tree.get_path(&["services"])
        .and_then(Node::as_map)
        .into_iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.name.as_str(), v)))
}

fn profiles_of(service: &Node) -> impl Iterator<Item = &str> {
    service.get_path(&["profiles"]).and_then(Node::as_seq).unwrap_or_default().iter().filter_map(Node::as_str)
}

/// Every profile any service names, for `compose config --profiles`.
pub fn all(tree: &Node) -> BTreeSet<String> {
    services(tree).flat_map(|(_, s)| profiles_of(s)).map(str::to_string).collect()
}

/// The active profiles: the `--profile` flags plus the comma-separated `COMPOSE_PROFILES`.
pub fn active(flags: &[String], env: &Environment) -> BTreeSet<String> {
    let from_env = env.get("COMPOSE_PROFILES").unwrap_or_default();
    flags
        .iter()
        .map(String::as_str)
        .chain(from_env.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Removes the services that are not enabled.
pub fn apply(tree: &mut Node, active: &BTreeSet<String>) -> Result<(), Error> {
    let mut enabled: BTreeSet<String> = services(tree)
        .filter(|(_, s)| {
            let mut profiles = profiles_of(s).peekable();
            profiles.peek().is_none() || active.contains("*") || profiles.any(|p| active.contains(p))
        })
        .map(|(name, _)| name.to_string())
        .collect();
    // Pull in what enabled services depend on (required dependencies only).
    let mut queue: Vec<String> = enabled.iter().cloned().collect();
    while let Some(name) = queue.pop() {
        let Some(deps) = tree.get_path(&["services", &name, "depends_on"]).and_then(Node::as_map) else { continue };
        for (dep, condition) in deps {
            let required = condition.get_path(&["required"]).is_none_or(|r| r.value != super::node::Value::Bool(false));
            if required && enabled.insert(dep.name.clone()) {
                queue.push(dep.name.clone());
            }
        }
    }
    if let Some(services) = tree.as_map_mut().and_then(|m| m.get_mut("services")).and_then(Node::as_map_mut) {
        services.retain(|name, _| enabled.contains(&name.name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::compose::yaml::{Limits, parse};

    const FILE: &str = "services:\n  web: {image: a, depends_on: {db: {condition: service_started}}}\n  db: {image: b, profiles: [storage]}\n  debug: {image: c, profiles: [dev, debug]}\n  tool: {image: d, profiles: [tools]}\n";

    fn names(active_profiles: &[&str]) -> Vec<String> {
        let mut tree = parse(FILE, Arc::from("c.yaml"), Limits::default()).unwrap();
        let active = active_profiles.iter().map(|s| s.to_string()).collect();
        apply(&mut tree, &active).unwrap();
        services(&tree).map(|(n, _)| n.to_string()).collect()
    }

    #[test]
    fn services_without_profiles_always_run_and_pull_in_their_dependencies() {
        assert_eq!(names(&[]), ["web", "db"]);
    }

    #[test]
    fn an_active_profile_enables_its_services() {
        assert_eq!(names(&["debug"]), ["web", "db", "debug"]);
        assert_eq!(names(&["*"]), ["web", "db", "debug", "tool"]);
    }

    #[test]
    fn compose_profiles_and_flags_combine() {
        let env = Environment::from_process([("COMPOSE_PROFILES".to_string(), "a, b".to_string())].into());
        let active = active(&["c".to_string()], &env);
        assert_eq!(active.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn all_lists_every_profile() {
        let tree = parse(FILE, Arc::from("c.yaml"), Limits::default()).unwrap();
        assert_eq!(all(&tree).into_iter().collect::<Vec<_>>(), ["debug", "dev", "storage", "tools"]);
    }
}
