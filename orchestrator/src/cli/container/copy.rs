//! `cp`: `CONTAINER:SRC DEST` or `SRC CONTAINER:DEST`, `-a` keeps owners.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::open;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Source: CONTAINER:SRC_PATH or a local path.
    pub source: String,
    /// Destination: CONTAINER:DEST_PATH or a local path.
    pub destination: String,
}

/// `CONTAINER:PATH` → (container, path); a local path (with a `/` before any `:`) → None.
fn split(argument: &str) -> Option<(&str, &str)> {
    if argument.starts_with('/') || argument.starts_with('.') {
        return None;
    }
    argument.split_once(':').filter(|(container, _)| !container.is_empty() && !container.contains('/'))
}

pub fn cp(args: CpArgs) -> anyhow::Result<ExitCode> {
    let containers = open()?;
    match (split(&args.source), split(&args.destination)) {
        (Some((container, path)), None) => {
            containers.copy_from(container, path, Path::new(&args.destination), args.archive)?
        }
        (None, Some((container, path))) => {
            containers.copy_to(container, Path::new(&args.source), path, args.archive)?
        }
        (Some(_), Some(_)) => anyhow::bail!("copying between containers is not supported"),
        (None, None) => anyhow::bail!("must specify at least one container source"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths() {
        assert_eq!(split("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(split("./a:b"), None);
        assert_eq!(split("/tmp/x"), None);
        assert_eq!(split("local-file"), None);
    }
}
