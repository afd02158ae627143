//! The desired state of a project: what its compose file asks for, reduced to
//! what the planner compares (DESIGN.md, "How data flows", step 2).

use std::collections::BTreeMap;

use crate::compose::graph::DependencyGraph;
use crate::compose::hash::service_hash;
use crate::compose::model::{Condition, Project, RestartPolicy};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredProject {
    pub name: String,
    /// Services in start order (each after what it depends on).
    pub services: Vec<DesiredService>,
    /// Engine-side names of the networks the project owns (not external ones).
    pub networks: Vec<String>,
    /// Engine-side names of the volumes the project owns (not external ones).
    pub volumes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredService {
    pub name: String,
    pub replicas: u32,
    /// `container_name:` replaces `<project>-<service>-<n>` (one replica only).
    pub container_name: Option<String>,
    /// sha256 of the service's canonical config: a change means recreate.
    pub config_hash: String,
    /// The image ID the service should run, when known (a changed image means recreate).
    pub image_id: Option<String>,
    pub depends_on: Vec<Dependency>,
    pub restart: RestartPolicy,
    pub has_healthcheck: bool,
    /// `x-berth.restart_on_unhealthy`.
    pub restart_on_unhealthy: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub service: String,
    pub condition: Condition,
    /// Restart this service when the dependency is restarted or recreated.
    pub restart: bool,
    pub required: bool,
}

impl DesiredProject {
    /// The desired state of a loaded project. `image_ids` maps service names to
    /// the ID of the image they should run (services missing from it are
    /// compared by config hash only); `scale` overrides replica counts.
    pub fn from_project(
        project: &Project,
        graph: &DependencyGraph,
        image_ids: &BTreeMap<String, String>,
        scale: &BTreeMap<String, u32>,
    ) -> Self {
        let services = graph
            .start_order()
            .into_iter()
            .filter_map(|name| project.services.get(&name).map(|service| (name, service)))
            .map(|(name, service)| {
                let replicas = scale
                    .get(&name)
                    .copied()
                    .or(service.deploy.as_ref().and_then(|d| d.replicas))
                    .or(service.scale)
                    .unwrap_or(1);
                DesiredService {
                    replicas,
                    container_name: service.container_name.clone(),
                    config_hash: service_hash(service),
                    image_id: image_ids.get(&name).cloned(),
                    depends_on: service
                        .depends_on
                        .iter()
                        .map(|(dep, d)| Dependency {
                            service: dep.clone(),
                            condition: d.condition,
                            restart: d.restart,
                            required: d.required,
                        })
                        .collect(),
                    restart: service.restart.unwrap_or_default(),
                    has_healthcheck: service.healthcheck.as_ref().is_some_and(|h| {
                        h.disable != Some(true) && h.test.as_ref().is_none_or(|t| t.first().is_none_or(|c| c != "NONE"))
                    }),
                    restart_on_unhealthy: service.berth.as_ref().and_then(|b| b.restart_on_unhealthy).unwrap_or(false),
                    name,
                }
            })
            .collect();
        let owned = |external: Option<bool>, name: &Option<String>, key: &str| {
            (external != Some(true)).then(|| name.clone().unwrap_or_else(|| format!("{}_{key}", project.name)))
        };
        DesiredProject {
            name: project.name.clone(),
            services,
            networks: project.networks.iter().filter_map(|(k, n)| owned(n.external, &n.name, k)).collect(),
            volumes: project.volumes.iter().filter_map(|(k, v)| owned(v.external, &v.name, k)).collect(),
        }
    }

    pub fn service(&self, name: &str) -> Option<&DesiredService> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The container name of replica `number` of `service`.
    pub fn container_name(&self, service: &DesiredService, number: u32) -> String {
        service.container_name.clone().unwrap_or_else(|| format!("{}-{}-{number}", self.name, service.name))
    }
}
