//! `berth import [--change INSTRUCTION ...] [-m MESSAGE] FILE|- [REPOSITORY[:TAG]]`

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_runtime::image::{Change, ImportOptions, Reference};
use clap::Args;

use super::open_store;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply a Dockerfile instruction to the image: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME or WORKDIR.
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<Change>,
    /// The comment recorded in the image's history.
    #[arg(short, long)]
    pub message: Option<String>,
    /// The root file system tarball (plain, gzip or zstd), or - for standard input.
    #[arg(value_name = "FILE|-")]
    pub file: String,
    /// The name to give the image.
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<Reference>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    if args.file.starts_with("http://") || args.file.starts_with("https://") {
        bail!("importing from a URL is not supported: download {} first and import the file", args.file);
    }
    let input: Box<dyn Read> = if args.file == "-" {
        if std::io::stdin().is_terminal() {
            bail!("no tarball on standard input; give a FILE or redirect the input");
        }
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file))?)
    };
    let store = open_store()?;
    let options = ImportOptions {
        changes: args.changes,
        message: args.message,
        source: args.file.clone(),
        reference: args.reference,
    };
    let imported = store.import(input, &options).with_context(|| format!("cannot import {}", args.file))?;
    println!("{}", imported.id);
    Ok(ExitCode::SUCCESS)
}
