//! The typed compose model: what a project is once every short syntax has been
//! rewritten to its long form (`canonical`), files merged, and defaults filled
//! in (`normalize`). It serializes in the layout of `docker compose config`,
//! and its JSON Schema (with the short forms added back) is `schemas/compose.schema.json`.

mod build;
mod deploy;
mod develop;
mod health;
mod port;
mod restart;
mod schema;
mod service;
mod units;
mod volume;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use build::Build;
pub use deploy::{Deploy, DeployRestartPolicy, Limits, Reservations, Resources};
pub use develop::{Develop, Watch, WatchAction};
pub use health::Healthcheck;
pub use port::{Port, PortMode, Protocol};
pub use restart::RestartPolicy;
pub use service::{Condition, DependsOn, Device, FileReference, Logging, Service, ServiceNetwork, Ulimit};
pub use units::{Bytes, Duration};
pub use volume::{BindOptions, ImageOptions, MountType, ServiceVolume, TmpfsOptions, VolumeOptions};

/// Parts of the specification berth accepts and keeps, but does not act on.
pub type Opaque = serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::allow_extensions, title = "berth compose file")]
pub struct Project {
    /// The project name (filled in by the loader when the file has none).
    #[serde(default)]
    pub name: String,
    /// Obsolete; accepted and ignored, as compose does.
    #[serde(default, skip_serializing)]
    pub version: Option<String>,
    #[serde(default)]
    pub services: IndexMap<String, Service>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "schema::map_of_nullable::<Network>")]
    pub networks: IndexMap<String, Network>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "schema::map_of_nullable::<Volume>")]
    pub volumes: IndexMap<String, Volume>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "schema::map_of_nullable::<FileObject>")]
    pub secrets: IndexMap<String, FileObject>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "schema::map_of_nullable::<FileObject>")]
    pub configs: IndexMap<String, FileObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::any")]
    pub models: Option<Opaque>,
    /// Resolved by the loader; accepted here for the schema.
    #[serde(default, skip_serializing)]
    #[schemars(schema_with = "schema::any")]
    pub include: Option<Opaque>,
}

/// berth's own per-service options, under `x-berth`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Extensions {
    /// Restart the container when its healthcheck reports it unhealthy
    /// (compose only reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_on_unhealthy: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::allow_extensions)]
pub struct Network {
    /// The engine-side name: `<project>_<key>` unless set or external.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Ipam>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ipv4: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachable: Option<bool>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "schema::list_or_dict")]
    pub labels: IndexMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::allow_extensions)]
pub struct Ipam {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamPool>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub options: IndexMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::allow_extensions)]
pub struct IpamPool {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub aux_addresses: IndexMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::allow_extensions)]
pub struct Volume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "schema::list_or_dict")]
    pub labels: IndexMap<String, String>,
}

/// A top-level secret or config: from a file, an environment variable, or inline content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = schema::allow_extensions)]
pub struct FileObject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "schema::list_or_dict")]
    pub labels: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_driver: Option<String>,
}

/// The JSON Schema of the compose files berth accepts.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Project)).expect("a schema is JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schemas/compose.schema.json` is generated from these types; this test
    /// fails when it is out of date. `BERTH_UPDATE_SCHEMA=1 cargo test -p berth schema`
    /// rewrites it.
    #[test]
    fn checked_in_schema_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/compose.schema.json");
        let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("BERTH_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "{} is out of date: run `BERTH_UPDATE_SCHEMA=1 cargo test -p berth schema` and commit it",
            path.display()
        );
    }
}
