//! The services' dependency graph (depends_on, links, volumes_from,
//! `network_mode: service:`): start order, stop order, and what a service pulls in.
//! Ties are broken by declaration order, so every order is deterministic.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

/// One edge: the service depends on `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// `required: false` dependencies may be absent.
    pub required: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("service {service:?} depends on undefined service {dependency:?}")]
    UnknownService { service: String, dependency: String },
    #[error("service {service:?} depends on itself")]
    SelfDependency { service: String },
    #[error("dependency cycle: {}", path.join(" -> "))]
    Cycle { path: Vec<String> },
}

/// Edges point from a service to what it depends on.
#[derive(Clone, Debug)]
pub struct DependencyGraph {
    graph: DiGraph<String, ()>,
    index: IndexMap<String, NodeIndex>,
}

impl DependencyGraph {
    /// Builds the graph of `services` (in declaration order) and checks it:
    /// every required dependency exists, and there is no cycle.
    pub fn new(services: impl IntoIterator<Item = (String, Vec<Dependency>)>) -> Result<Self, GraphError> {
        let services: Vec<(String, Vec<Dependency>)> = services.into_iter().collect();
        let mut graph = DiGraph::new();
        let index: IndexMap<String, NodeIndex> =
            services.iter().map(|(name, _)| (name.clone(), graph.add_node(name.clone()))).collect();
        for (name, deps) in &services {
            for dep in deps {
                if dep.name == *name {
                    return Err(GraphError::SelfDependency { service: name.clone() });
                }
                match index.get(&dep.name) {
                    Some(target) => {
                        graph.update_edge(index[name], *target, ());
                    }
                    None if dep.required => {
                        return Err(GraphError::UnknownService { service: name.clone(), dependency: dep.name.clone() });
                    }
                    None => {}
                }
            }
        }
        let graph = DependencyGraph { graph, index };
        if let Some(path) = graph.find_cycle() {
            return Err(GraphError::Cycle { path });
        }
        Ok(graph)
    }

    /// The first cycle met by a depth-first walk in declaration order, closed (`a, b, a`).
    fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut marks = vec![Mark::New; self.graph.node_count()];
        for &start in self.index.values() {
            if marks[start.index()] != Mark::New {
                continue;
            }
            // An explicit stack of (node, its remaining dependencies): no recursion on user input.
            let mut path: Vec<(NodeIndex, Vec<NodeIndex>)> = vec![(start, self.sorted_dependencies(start))];
            marks[start.index()] = Mark::OnPath;
            while let Some((_, pending)) = path.last_mut() {
                match pending.pop() {
                    Some(next) => match marks[next.index()] {
                        Mark::OnPath => {
                            let from = path.iter().position(|(n, _)| *n == next).expect("on the path");
                            let mut cycle: Vec<String> =
                                path[from..].iter().map(|(n, _)| self.graph[*n].clone()).collect();
                            cycle.push(self.graph[next].clone());
                            return Some(cycle);
                        }
                        Mark::New => {
                            marks[next.index()] = Mark::OnPath;
                            path.push((next, self.sorted_dependencies(next)));
                        }
                        Mark::Done => {}
                    },
                    None => {
                        let (done, _) = path.pop().expect("non-empty");
                        marks[done.index()] = Mark::Done;
                    }
                }
            }
        }
        None
    }

    /// Direct dependencies, reversed so that popping yields declaration order.
    fn sorted_dependencies(&self, node: NodeIndex) -> Vec<NodeIndex> {
        let mut deps: Vec<NodeIndex> = self.graph.neighbors_directed(node, Direction::Outgoing).collect();
        deps.sort_by_key(|d| std::cmp::Reverse(d.index()));
        deps
    }

    fn names(&self, nodes: impl IntoIterator<Item = NodeIndex>) -> Vec<String> {
        nodes.into_iter().map(|n| self.graph[n].clone()).collect()
    }

    /// Services in the order they start: each after everything it depends on.
    pub fn start_order(&self) -> Vec<String> {
        self.names(self.topological(Direction::Outgoing))
    }

    /// Services in the order they stop: each before everything it depends on.
    pub fn stop_order(&self) -> Vec<String> {
        self.names(self.topological(Direction::Incoming))
    }

    /// Kahn's algorithm; `waits_on` is the direction of the edges a node must wait for.
    fn topological(&self, waits_on: Direction) -> Vec<NodeIndex> {
        let mut waiting: Vec<usize> =
            self.graph.node_indices().map(|n| self.graph.neighbors_directed(n, waits_on).count()).collect();
        let mut ready: BTreeSet<NodeIndex> = self.graph.node_indices().filter(|n| waiting[n.index()] == 0).collect();
        let mut order = Vec::with_capacity(waiting.len());
        while let Some(node) = ready.pop_first() {
            order.push(node);
            for next in self.graph.neighbors_directed(node, waits_on.opposite()) {
                waiting[next.index()] -= 1;
                if waiting[next.index()] == 0 {
                    ready.insert(next);
                }
            }
        }
        order
    }

    /// The direct dependencies of a service, in declaration order.
    pub fn dependencies(&self, service: &str) -> Vec<String> {
        let Some(&node) = self.index.get(service) else { return Vec::new() };
        let mut deps = self.sorted_dependencies(node);
        deps.reverse();
        self.names(deps)
    }

    /// The services that depend directly on `service`, in declaration order.
    pub fn dependents(&self, service: &str) -> Vec<String> {
        let Some(&node) = self.index.get(service) else { return Vec::new() };
        let mut users: Vec<NodeIndex> = self.graph.neighbors_directed(node, Direction::Incoming).collect();
        users.sort();
        self.names(users)
    }

    /// `services` and everything they depend on, transitively, in start order.
    pub fn pulled_in(&self, services: &[&str]) -> Vec<String> {
        let mut seen = vec![false; self.graph.node_count()];
        let mut stack: Vec<NodeIndex> = services.iter().filter_map(|s| self.index.get(*s).copied()).collect();
        while let Some(node) = stack.pop() {
            if std::mem::replace(&mut seen[node.index()], true) {
                continue;
            }
            stack.extend(self.graph.neighbors_directed(node, Direction::Outgoing));
        }
        self.names(self.topological(Direction::Outgoing).into_iter().filter(|n| seen[n.index()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Result<DependencyGraph, GraphError> {
        DependencyGraph::new(edges.iter().map(|(name, deps)| {
            (name.to_string(), deps.iter().map(|d| Dependency { name: d.to_string(), required: true }).collect())
        }))
    }

    #[test]
    fn start_and_stop_orders() {
        let g =
            graph(&[("web", &["api", "cache"]), ("api", &["db"]), ("db", &[]), ("cache", &[]), ("tool", &[])]).unwrap();
        assert_eq!(g.start_order(), ["db", "api", "cache", "web", "tool"]);
        assert_eq!(g.stop_order(), ["web", "api", "db", "cache", "tool"]);
    }

    #[test]
    fn what_a_service_pulls_in() {
        let g = graph(&[("web", &["api"]), ("api", &["db"]), ("db", &[]), ("other", &[])]).unwrap();
        assert_eq!(g.pulled_in(&["web"]), ["db", "api", "web"]);
        assert_eq!(g.pulled_in(&["db"]), ["db"]);
        assert_eq!(g.dependencies("web"), ["api"]);
        assert_eq!(g.dependents("db"), ["api"]);
    }

    #[test]
    fn cycles_are_named() {
        let err = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> c -> a");
        let err = graph(&[("x", &[]), ("a", &["x", "b"]), ("b", &["a"])]).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> a");
    }

    #[test]
    fn unknown_and_self_dependencies() {
        assert_eq!(
            graph(&[("a", &["ghost"])]).unwrap_err(),
            GraphError::UnknownService { service: "a".into(), dependency: "ghost".into() }
        );
        assert_eq!(graph(&[("a", &["a"])]).unwrap_err(), GraphError::SelfDependency { service: "a".into() });
        let optional =
            DependencyGraph::new([("a".to_string(), vec![Dependency { name: "ghost".into(), required: false }])]);
        assert!(optional.is_ok());
    }
}
