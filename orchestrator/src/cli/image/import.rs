//! `berth import [--change INSTRUCTION ...] [-m MESSAGE] FILE|- [REPOSITORY[:TAG]]`

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_runtime::image::{Change, Digest, Reference};
use clap::Args;
use hyper::Method;

use crate::api::client::{self, reader_body};
use crate::api::images::{ImportQuery, ImportRequest};
use crate::api::query;
use crate::cli::remote::with_client;

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
    // The tarball is read here, as this user; the daemon gets its bytes.
    let input: Box<dyn Read + Send> = if args.file == "-" {
        if std::io::stdin().is_terminal() {
            bail!("no tarball on standard input; give a FILE or redirect the input");
        }
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file))?)
    };
    let request = ImportRequest {
        changes: args.changes,
        message: args.message,
        source: args.file.clone(),
        reference: args.reference.map(|reference| reference.to_string()),
    };
    let path = format!("/images/import{}", query(&ImportQuery { options: serde_json::to_string(&request)? }));
    let imported: Digest = with_client(|client| async move {
        let response = client.request(Method::POST, &path, &[], reader_body(input)).await?;
        Ok(client::decode(response).await?)
    })
    .with_context(|| format!("cannot import {}", args.file))?;
    println!("{imported}");
    Ok(ExitCode::SUCCESS)
}
