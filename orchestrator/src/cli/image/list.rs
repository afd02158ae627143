//! `berth images` / `berth image ls`

use std::collections::BTreeSet;
use std::process::ExitCode;

use berth_runtime::image::{Reference, short};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::format::{ago, size};
use crate::api::images::ImageRow;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (berth keeps no intermediate images, so this is the default list).
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Output format: a table, or one JSON object per image and name.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only images of this repository (and tag), e.g. busybox or busybox:latest.
    pub repository: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// An image, its names parsed.
struct Image {
    row: ImageRow,
    tags: Vec<Reference>,
    digests: Vec<Reference>,
}

/// One row: an image under one of its names.
struct Row<'a> {
    image: &'a Image,
    repository: String,
    tag: String,
    digest: String,
}

pub fn run(args: ImagesArgs) -> anyhow::Result<ExitCode> {
    let listed: Vec<ImageRow> = with_client(|client| async move { Ok(client.get("/images").await?) })?;
    let parse = |names: &[String]| names.iter().filter_map(|name| Reference::parse(name).ok()).collect();
    let images: Vec<Image> =
        listed.into_iter().map(|row| Image { tags: parse(&row.tags), digests: parse(&row.digests), row }).collect();
    let now = chrono::Utc::now();
    let mut rows: Vec<Row<'_>> = Vec::new();
    for image in &images {
        let digest_of = |name: &str| {
            image
                .digests
                .iter()
                .find(|d| d.familiar_name() == name)
                .and_then(|d| d.digest())
                .map_or_else(|| "<none>".to_owned(), ToString::to_string)
        };
        for tag in &image.tags {
            let repository = tag.familiar_name();
            let digest = digest_of(&repository);
            rows.push(Row { image, repository, tag: tag.tag().unwrap_or("<none>").to_owned(), digest });
        }
        // Repositories it has only by digest, then the image with no name at all.
        let tagged: BTreeSet<String> = image.tags.iter().map(|t| t.familiar_name()).collect();
        for named in image.digests.iter().filter(|d| !tagged.contains(&d.familiar_name())) {
            let repository = named.familiar_name();
            let digest = digest_of(&repository);
            rows.push(Row { image, repository, tag: "<none>".into(), digest });
        }
        if image.tags.is_empty() && image.digests.is_empty() {
            rows.push(Row { image, repository: "<none>".into(), tag: "<none>".into(), digest: "<none>".into() });
        }
    }
    if let Some(filter) = &args.repository {
        let (repo, tag) = match filter.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((repo, tag)) => (repo, Some(tag)),
            None => (filter.as_str(), None),
        };
        rows.retain(|r| r.repository == repo && tag.is_none_or(|t| r.tag == t));
    }
    if args.quiet {
        let mut seen = BTreeSet::new();
        for row in &rows {
            if seen.insert(&row.image.row.id) {
                println!("{}", short(&row.image.row.id));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let created = |image: &Image| {
        image
            .row
            .created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    match args.format {
        Format::Json => {
            for row in &rows {
                let when = created(row.image);
                println!(
                    "{}",
                    json!({
                        "Containers": "N/A",
                        "CreatedAt": when.map(|t| t.format("%Y-%m-%d %H:%M:%S %z UTC").to_string()).unwrap_or_default(),
                        "CreatedSince": when.map(|t| ago((now - t).num_seconds())).unwrap_or_else(|| "N/A".into()),
                        "Digest": row.digest,
                        "ID": short(&row.image.row.id),
                        "Repository": row.repository,
                        "SharedSize": "N/A",
                        "Size": size(row.image.row.size),
                        "Tag": row.tag,
                        "UniqueSize": "N/A",
                        "VirtualSize": size(row.image.row.size),
                    })
                );
            }
        }
        Format::Table => {
            let mut table: Vec<Vec<String>> = Vec::new();
            let mut header = vec!["REPOSITORY", "TAG"];
            if args.digests {
                header.push("DIGEST");
            }
            header.extend(["IMAGE ID", "CREATED", "SIZE"]);
            table.push(header.into_iter().map(str::to_owned).collect());
            for row in &rows {
                let mut cells = vec![row.repository.clone(), row.tag.clone()];
                if args.digests {
                    cells.push(row.digest.clone());
                }
                let since = created(row.image).map_or_else(|| "N/A".to_owned(), |t| ago((now - t).num_seconds()));
                cells.extend([short(&row.image.row.id), since, size(row.image.row.size)]);
                table.push(cells);
            }
            print_table(&table);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Columns padded to their widest cell plus three spaces, as Docker's tables.
fn print_table(rows: &[Vec<String>]) {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> =
        (0..columns).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[c]));
            }
        }
        println!("{}", line.trim_end());
    }
}
