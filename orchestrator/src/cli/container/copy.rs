//! `cp`: `CONTAINER:SRC DEST` or `SRC CONTAINER:DEST`, `-a` keeps owners.
//! The host's files are this process's to read and write; the container's
//! side is the daemon's; a tar archive goes between the two.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use berth_runtime::container::cp::{self, CopySource};
use clap::Args;
use hyper::Method;

use crate::api::containers::ArchiveQuery;
use crate::api::{self, client};
use crate::cli::remote::with_client;

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
    match (split(&args.source), split(&args.destination)) {
        (Some((container, path)), None) => copy_from(container, path, PathBuf::from(&args.destination), args.archive),
        (None, Some((container, path))) => copy_to(Path::new(&args.source), container, path, args.archive),
        (Some(_), Some(_)) => anyhow::bail!("copying between containers is not supported"),
        (None, None) => anyhow::bail!("must specify at least one container source"),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// The daemon sends the archive of the container's `path`; it is placed here.
fn copy_from(container: &str, path: &str, destination: PathBuf, archive: bool) -> anyhow::Result<()> {
    let query = ArchiveQuery { path: path.to_owned(), ..ArchiveQuery::default() };
    let url = format!("/containers/{container}/archive{}", api::query(&query));
    let contents_only = cp::contents_only(path);
    with_client(|client| async move {
        let response = client.request(Method::GET, &url, &[], client::empty_body()).await?;
        let input = client::body_reader(response);
        tokio::task::spawn_blocking(move || cp::extract_on_host(input, &destination, contents_only, archive)).await??;
        Ok(())
    })
}

/// The archive of the local `source` goes to the daemon, which places it in the container.
fn copy_to(source: &Path, container: &str, path: &str, archive: bool) -> anyhow::Result<()> {
    let found = CopySource::host(source)?;
    let text = source.to_string_lossy();
    let query = ArchiveQuery { path: path.to_owned(), contents_only: cp::contents_only(&text), archive };
    let url = format!("/containers/{container}/archive{}", api::query(&query));
    let body = client::writer_body(move |out| found.write(out).map_err(std::io::Error::other));
    with_client(|client| async move {
        client::decode::<()>(client.request(Method::PUT, &url, &[], body).await?).await?;
        Ok(())
    })
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
