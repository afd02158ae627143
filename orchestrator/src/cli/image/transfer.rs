//! `berth save` and `berth load`

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::open_store;

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Images: references or IDs.
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn save(args: SaveArgs) -> anyhow::Result<ExitCode> {
    let store = open_store()?;
    match &args.output {
        Some(path) => {
            // Written whole or not at all: a temp file beside the target, renamed when complete.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let mut file = tempfile::Builder::new()
                .prefix(".berth-save-")
                .tempfile_in(dir)
                .with_context(|| format!("cannot write to {}", dir.display()))?;
            store.save(&args.images, std::io::BufWriter::new(file.as_file_mut()))?;
            file.as_file().sync_all()?;
            file.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                bail!("refusing to write an image archive to a terminal; use -o FILE or redirect the output");
            }
            store.save(&args.images, std::io::stdout().lock())?;
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
    let store = open_store()?;
    let input: Box<dyn Read> = match &args.input {
        Some(path) => Box::new(std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?),
        None => {
            if std::io::stdin().is_terminal() {
                bail!("no image archive on standard input; use -i FILE or redirect the input");
            }
            Box::new(std::io::stdin().lock())
        }
    };
    let loaded = store.load(std::io::BufReader::new(input))?;
    if !args.quiet {
        for image in &loaded {
            if image.names.is_empty() {
                println!("Loaded image ID: {}", image.id);
            }
            for name in &image.names {
                println!("Loaded image: {}", name.familiar());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
