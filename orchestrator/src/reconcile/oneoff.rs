//! The one-off container of `compose run SERVICE`: the service's config with
//! the run's overrides (compose's `applyRunOptions`), compose's name for it
//! (`<project>-<service>-run-<12 hex>`) and labels (`oneoff=True`, its slug).
//! Its ports are published only with `--service-ports` (or `-p`), and the
//! service's network aliases point at it only with `--use-aliases`.

use std::collections::BTreeMap;

use berth_network::PortMapping;
use berth_runtime::container::mounts::{MountKind, MountRequest};
use serde::{Deserialize, Serialize};

use super::container_spec::{ContainerSpec, Identity, SpecError, container_spec, labels, volume_name};
use crate::compose::hash::service_hash;
use crate::compose::model::{Project, Service};

/// What `compose run` changes of the service, parsed by the CLI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneOffOptions {
    /// `--name`; `<project>-<service>-run-<12 hex>` when absent.
    pub name: Option<String>,
    /// The command after SERVICE; the service's when empty.
    pub command: Vec<String>,
    /// `--entrypoint`, split as a shell would (`Some([])`: none).
    pub entrypoint: Option<Vec<String>>,
    /// `-e`, over the service's environment.
    pub env: Vec<(String, String)>,
    /// `-l`, over the service's labels.
    pub labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    /// `--rm`
    pub auto_remove: bool,
    /// `--service-ports`: publish the service's ports (none are otherwise).
    pub service_ports: bool,
    /// `-p`
    pub publish: Vec<PortMapping>,
    /// `-v`; a volume named as one of the project's is that volume.
    pub volumes: Vec<MountRequest>,
    /// `--use-aliases`: the service's name and aliases resolve to it too.
    pub use_aliases: bool,
}

/// The one-off's identity: its slug (a random 64-hex ID), and what every container of the project records.
#[derive(Clone, Copy, Debug)]
pub struct OneOffIds<'a> {
    pub slug: &'a str,
    pub image_id: &'a str,
    pub working_dir: &'a str,
    pub config_files: &'a [String],
}

/// `<project>-<service>-run-<the slug's first 12 digits>`.
pub fn oneoff_name(project: &str, service: &str, slug: &str) -> String {
    format!("{project}-{service}-run-{}", &slug[..slug.len().min(12)])
}

/// The run's overrides on the service.
fn apply(service: &mut Service, options: &OneOffOptions) {
    service.tty = Some(options.tty);
    service.stdin_open = Some(options.interactive);
    service.container_name.clone_from(&options.name);
    if !options.command.is_empty() {
        service.command = Some(options.command.clone());
    }
    if let Some(entrypoint) = &options.entrypoint {
        service.entrypoint = Some(entrypoint.clone());
        // A new entrypoint does not take the service's command (the image's neither).
        if options.command.is_empty() {
            service.command = Some(Vec::new());
        }
    }
    if options.user.is_some() {
        service.user.clone_from(&options.user);
    }
    if options.workdir.is_some() {
        service.working_dir.clone_from(&options.workdir);
    }
    for (key, value) in &options.env {
        service.environment.insert(key.clone(), Some(value.clone()));
    }
    for (key, value) in &options.labels {
        service.labels.insert(key.clone(), value.clone());
    }
    // Never restarted: the reconciler leaves one-offs alone, and neither has a restart policy.
    service.restart = None;
    if let Some(deploy) = &mut service.deploy {
        deploy.restart_policy = None;
    }
}

/// The container of `compose run SERVICE` with `options`.
pub fn oneoff_spec(
    project: &Project,
    service: &str,
    options: &OneOffOptions,
    ids: OneOffIds<'_>,
) -> Result<ContainerSpec, SpecError> {
    let invalid =
        |key: &'static str, message: String| SpecError::Invalid { service: service.to_string(), key, message };
    let mut config =
        project.services.get(service).cloned().ok_or_else(|| invalid("", "no such service".to_string()))?;
    if options.service_ports && !options.publish.is_empty() {
        return Err(invalid("ports", "--service-ports and --publish are incompatible".into()));
    }
    apply(&mut config, options);
    let name = options.name.clone().unwrap_or_else(|| oneoff_name(&project.name, service, ids.slug));
    let hash = service_hash(&config);
    let identity = Identity {
        project: &project.name,
        service,
        number: 1,
        name: &name,
        config_hash: &hash,
        image_id: ids.image_id,
        working_dir: ids.working_dir,
        config_files: ids.config_files,
    };
    let mut spec = container_spec(project, &config, &identity)?;
    let created = &mut spec.create;
    created.labels.insert(labels::ONEOFF.into(), "True".into());
    created.labels.insert(labels::SLUG.into(), ids.slug.into());
    // As compose numbers one-offs: no replica's number.
    created.labels.insert(labels::NUMBER.into(), "-1".into());
    created.auto_remove = options.auto_remove;
    for mount in &options.volumes {
        let mut mount = mount.clone();
        if let MountKind::Volume { name: Some(name), .. } = &mut mount.kind
            && project.volumes.contains_key(name.as_str())
        {
            *name = volume_name(project, name);
        }
        created.mounts.push(mount);
    }
    if !options.service_ports {
        spec.ports = options.publish.clone();
    }
    if !options.use_aliases {
        for join in &mut spec.networks {
            join.options.aliases.clear();
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{LoadOptions, load};

    const FILE: &str = "name: demo
services:
  web:
    image: web
    command: serve
    environment: {MODE: prod, KEEP: '1'}
    ports: ['8080:80']
    restart: always
    container_name: the-web
    networks:
      default:
        aliases: [site]
volumes:
  data:
";

    const SLUG: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn spec(options: &OneOffOptions) -> Result<ContainerSpec, SpecError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), FILE).unwrap();
        let loaded = load(&LoadOptions { interpolate: true, cwd: dir.path().to_path_buf(), ..Default::default() });
        let project = loaded.unwrap().project;
        let files = ["/p/compose.yaml".to_string()];
        let ids = OneOffIds { slug: SLUG, image_id: "sha256:img", working_dir: "/p", config_files: &files };
        oneoff_spec(&project, "web", options, ids)
    }

    #[test]
    fn named_and_labelled_as_compose_does() {
        let spec = spec(&OneOffOptions::default()).unwrap();
        let c = &spec.create;
        assert_eq!(c.name.as_deref(), Some("demo-web-run-0123456789ab"), "container_name is not the one-off's");
        for (key, value) in [
            (labels::PROJECT, "demo"),
            (labels::SERVICE, "web"),
            (labels::ONEOFF, "True"),
            (labels::SLUG, SLUG),
            (labels::NUMBER, "-1"),
            (labels::WORKING_DIR, "/p"),
        ] {
            assert_eq!(c.labels.get(key).map(String::as_str), Some(value), "{key}");
        }
        assert_eq!(c.cmd, Some(vec!["serve".to_string()]));
        assert!(!c.auto_remove && !c.tty && !c.open_stdin);
        assert!(spec.ports.is_empty(), "the service's ports only with --service-ports");
        let aliases: Vec<&Vec<String>> = spec.networks.iter().map(|n| &n.options.aliases).collect();
        assert!(aliases.iter().all(|a| a.is_empty()), "{aliases:?}");
        assert_eq!(spec.networks[0].options.container_name, "demo-web-run-0123456789ab");
    }

    #[test]
    fn the_run_overrides_the_service() {
        let options = OneOffOptions {
            name: Some("mine".into()),
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            env: vec![("MODE".into(), "test".into())],
            labels: BTreeMap::from([("team".into(), "a".into())]),
            user: Some("1000".into()),
            workdir: Some("/w".into()),
            tty: true,
            interactive: true,
            auto_remove: true,
            service_ports: true,
            use_aliases: true,
            volumes: vec![
                MountRequest::parse_volume("data:/data").unwrap(),
                MountRequest::parse_volume("/host:/host:ro").unwrap(),
            ],
            ..Default::default()
        };
        let spec = spec(&options).unwrap();
        let c = &spec.create;
        assert_eq!(c.name.as_deref(), Some("mine"));
        assert_eq!(c.cmd, Some(vec!["sh".to_string(), "-c".into(), "exit 3".into()]));
        assert_eq!(c.env, ["MODE=test", "KEEP=1"]);
        assert_eq!(c.labels["team"], "a");
        assert_eq!((c.user.as_deref(), c.working_dir.as_deref()), (Some("1000"), Some("/w")));
        assert!(c.auto_remove && c.tty && c.open_stdin);
        assert_eq!(spec.ports.len(), 1);
        assert_eq!(spec.networks[0].options.aliases, ["web", "site"]);
        assert_eq!(c.mounts[0].kind, MountKind::Volume { name: Some("demo_data".into()), no_copy: false });
        assert!(c.mounts[1].read_only);
    }

    #[test]
    fn an_entrypoint_drops_the_command_and_publish_replaces_the_ports() {
        let options = OneOffOptions {
            entrypoint: Some(vec!["env".into()]),
            publish: vec!["127.0.0.1:9090:90".parse().unwrap()],
            ..Default::default()
        };
        let spec = spec(&options).unwrap();
        assert_eq!(spec.create.entrypoint, Some(vec!["env".to_string()]));
        assert_eq!(spec.create.cmd, Some(vec![]));
        assert_eq!(spec.ports, options.publish);
        let both = OneOffOptions { service_ports: true, ..options };
        assert!(spec_err(&both).contains("--service-ports and --publish are incompatible"));
    }

    fn spec_err(options: &OneOffOptions) -> String {
        spec(options).unwrap_err().to_string()
    }

    #[test]
    fn names_take_twelve_digits_of_the_slug() {
        assert_eq!(oneoff_name("p", "s", SLUG), "p-s-run-0123456789ab");
    }
}
