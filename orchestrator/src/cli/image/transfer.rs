//! `berth save` and `berth load`: the archive is read and written here (a
//! file or stdio of this user's) and streamed to and from the daemon.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;

use crate::api::client::{self, json_body, reader_body};
use crate::api::images::{LoadedImage, SaveRequest};
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Images: references or IDs.
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Writes the daemon's archive of `names` to `out`.
fn save_to(names: &[String], out: &mut dyn Write) -> anyhow::Result<()> {
    let request = SaveRequest { names: names.to_vec() };
    with_client(|client| async move {
        let response = client.request(Method::POST, "/images/save", &[], json_body(&request)?).await?;
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.context("the archive broke off")?.into_data() {
                out.write_all(&data)?;
            }
        }
        Ok(out.flush()?)
    })
}

pub fn save(args: SaveArgs) -> anyhow::Result<ExitCode> {
    match &args.output {
        Some(path) => {
            // Written whole or not at all: a temp file beside the target, renamed when complete.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let mut file = tempfile::Builder::new()
                .prefix(".berth-save-")
                .tempfile_in(dir)
                .with_context(|| format!("cannot write to {}", dir.display()))?;
            save_to(&args.images, &mut std::io::BufWriter::new(file.as_file_mut()))?;
            file.as_file().sync_all()?;
            file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                bail!("refusing to write an image archive to a terminal; use -o FILE or redirect the output");
            }
            save_to(&args.images, &mut std::io::stdout().lock())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this file instead of standard input.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Print nothing.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let input: Box<dyn Read + Send> = match &args.input {
        Some(path) => Box::new(std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?),
        None => {
            if std::io::stdin().is_terminal() {
                bail!("no image archive on standard input; use -i FILE or redirect the input");
            }
            Box::new(std::io::stdin())
        }
    };
    let loaded: Vec<LoadedImage> = with_client(|client| async move {
        let response = client.request(Method::POST, "/images/load", &[], reader_body(input)).await?;
        Ok(client::decode(response).await?)
    })?;
    if !args.quiet {
        for image in &loaded {
            if image.names.is_empty() {
                println!("Loaded image ID: {}", image.id);
            }
            for name in &image.names {
                println!("Loaded image: {name}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
