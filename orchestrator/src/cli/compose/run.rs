//! `berth compose run [OPTIONS] SERVICE [COMMAND] [ARGS...]`: a one-off
//! container with the service's config. The daemon first brings up what it
//! needs by its `up` path (networks, volumes and, unless `--no-deps`, the
//! service's dependencies, up to their `depends_on` conditions), then creates
//! it; it is started here as `berth run` starts a container, and its exit
//! code is ours.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_network::PortMapping;
use berth_runtime::container::AttachStreams;
use berth_runtime::container::mounts::MountRequest;
use clap::{ArgAction, Args};

use super::ComposeArgs;
use super::progress::Printer;
use crate::api::compose::{OneOffRequest, Progress, PullPolicy, UpRequest};
use crate::api::containers::Created;
use crate::cli::container::session;
use crate::cli::remote::with_client;
use crate::reconcile::oneoff::OneOffOptions;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run the container in the background and print its ID.
    #[arg(short, long)]
    detach: bool,
    /// Assign a name to the container.
    #[arg(long)]
    name: Option<String>,
    /// Override the entrypoint of the image.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from this environment).
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Add or override a label (KEY=VALUE).
    #[arg(short, long = "label")]
    label: Vec<String>,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Disable pseudo-TTY allocation (given by default when stdin is a terminal).
    #[arg(short = 'T', long = "no-TTY", alias = "no-tty")]
    no_tty: bool,
    /// Keep STDIN open even if not attached (on by default).
    #[arg(
        short,
        long,
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = ArgAction::Set
    )]
    interactive: bool,
    /// Run as specified username or uid.
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// Don't start linked services.
    #[arg(long)]
    no_deps: bool,
    /// Publish a container's port(s) to the host.
    #[arg(short, long)]
    publish: Vec<PortMapping>,
    /// Run command with the service's ports enabled and mapped to the host.
    #[arg(long, conflicts_with = "publish")]
    service_ports: bool,
    /// Use the service's network aliases in the network(s) the container connects to.
    #[arg(long)]
    use_aliases: bool,
    /// Bind mount a volume.
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// Pull image before running: always, missing (default) or never.
    #[arg(long, value_enum, default_value = "missing")]
    pull: PullPolicy,
    /// Pull without printing progress information.
    #[arg(long)]
    quiet_pull: bool,
    service: String,
    /// The command and its arguments (the service's command by default).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

impl RunArgs {
    /// The run's overrides; `-e KEY` reads this process's environment, and
    /// `-v ./dir:...` is relative to the project directory.
    fn options(&self, project_dir: &Path) -> anyhow::Result<OneOffOptions> {
        let mut env = Vec::new();
        for pair in &self.env {
            match pair.split_once('=') {
                Some((key, value)) => env.push((key.to_string(), value.to_string())),
                None => env.extend(std::env::var(pair).ok().map(|value| (pair.clone(), value))),
            }
        }
        let mut labels = BTreeMap::new();
        for pair in &self.label {
            let (key, value) =
                pair.split_once('=').with_context(|| format!("-l {pair}: label must be set as KEY=VALUE"))?;
            labels.insert(key.to_string(), value.to_string());
        }
        let entrypoint = match &self.entrypoint {
            Some(text) => {
                Some(shlex::split(text).with_context(|| format!("--entrypoint {text:?}: unbalanced quotes"))?)
            }
            None => None,
        };
        let volumes = self
            .volume
            .iter()
            .map(|spec| MountRequest::parse_volume(&relative_to(spec, project_dir)))
            .collect::<Result<_, _>>()?;
        Ok(OneOffOptions {
            name: self.name.clone(),
            command: self.command.clone(),
            entrypoint,
            env,
            labels,
            user: self.user.clone(),
            workdir: self.workdir.clone(),
            tty: !self.no_tty && std::io::stdin().is_terminal(),
            interactive: self.interactive,
            auto_remove: self.rm,
            service_ports: self.service_ports,
            publish: self.publish.clone(),
            volumes,
            use_aliases: self.use_aliases,
        })
    }
}

/// `./data:/data` → `<project dir>/data:/data`, as a compose file's relative bind mounts.
fn relative_to(spec: &str, project_dir: &Path) -> String {
    match spec.split_once(':') {
        Some((source, rest)) if source == "." || source.starts_with("./") || source.starts_with("../") => {
            format!("{}:{rest}", project_dir.join(source).display())
        }
        _ => spec.to_string(),
    }
}

pub fn run(compose: &ComposeArgs, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let loaded = compose.load(true)?;
    let project = loaded.project;
    if !project.services.contains_key(&args.service) {
        bail!("no such service: {}", args.service);
    }
    let options = args.options(&loaded.project_dir)?;
    let (tty, interactive) = (options.tty, options.interactive);
    let working_dir = loaded.project_dir.display().to_string();
    let config_files: Vec<String> = loaded.files.iter().map(|f| f.display().to_string()).collect();
    let up = UpRequest {
        project: project.clone(),
        working_dir: working_dir.clone(),
        config_files: config_files.clone(),
        force_recreate: false,
        no_recreate: false,
        no_deps: args.no_deps,
        services: Vec::new(),
        remove_orphans: false,
        scale: BTreeMap::new(),
        pull: args.pull,
        dry_run: false,
        timeout: None,
        run: Some(args.service.clone()),
    };
    let request = OneOffRequest { project, working_dir, config_files, service: args.service.clone(), options };
    let name = request.project.name.clone();
    let created = with_client(|client| async move {
        let mut printer = Printer::new(false);
        let shown = |line: &Progress| {
            !(args.quiet_pull && matches!(line, Progress::Step { resource, .. } if resource == "Image"))
        };
        client
            .stream(&format!("/projects/{name}/up"), &up, |line: Progress| {
                if shown(&line) {
                    printer.show(line);
                }
            })
            .await?;
        if let Some(error) = printer.error {
            bail!("{error}");
        }
        let created: Created = client.post(&format!("/projects/{name}/run"), &request).await?;
        if args.detach {
            client.post::<_, ()>(&format!("/containers/{}/start", created.id), &()).await?;
        }
        Ok(created)
    })?;
    if args.detach {
        println!("{}", created.id);
        return Ok(ExitCode::SUCCESS);
    }
    let streams = AttachStreams { stdin: interactive, stdout: true, stderr: true };
    let path = crate::api::containers::attach_path(&created.id, streams.stdin);
    Ok(session(move |client| async move { Ok(client.attach(&path, &()).await?) }, streams, tty, !tty))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> RunArgs {
        let cli = crate::cli::Cli::try_parse_from([&["berth", "compose", "run"], args].concat()).unwrap();
        let crate::cli::Command::Compose(compose) = cli.command else { unreachable!() };
        match compose.command {
            super::super::ComposeCommand::Run(run) => run,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_as_compose_takes_them() {
        let run = parse(&["-i", "web", "ls", "-l"]);
        assert!(run.interactive);
        assert_eq!((run.service.as_str(), run.command.as_slice()), ("web", ["ls".to_string(), "-l".into()].as_slice()));
        assert!(!parse(&["--interactive=false", "web"]).interactive);
        assert!(parse(&["web"]).interactive, "on by default");
        let run = parse(&["--rm", "-T", "-e", "A=1", "-p", "8080:80", "-v", "./x:/x", "-l", "k=v", "web"]);
        assert!(run.rm && run.no_tty);
        assert_eq!(run.publish.len(), 1);
        let options = run.options(Path::new("/p")).unwrap();
        assert_eq!(options.env, [("A".to_string(), "1".to_string())]);
        assert_eq!(options.labels["k"], "v");
        assert!(!options.tty, "-T: no terminal");
        assert!(parse(&["-l", "novalue", "web"]).options(Path::new("/p")).is_err());
    }

    #[test]
    fn relative_bind_mounts_are_the_project_directorys() {
        let dir = Path::new("/p");
        assert_eq!(relative_to("./data:/data:ro", dir), "/p/./data:/data:ro");
        assert_eq!(relative_to("../up:/up", dir), "/p/../up:/up");
        assert_eq!(relative_to("named:/data", dir), "named:/data");
        assert_eq!(relative_to("/abs:/abs", dir), "/abs:/abs");
        assert_eq!(relative_to("/anonymous", dir), "/anonymous");
    }
}
