//! `berth compose top [SERVICE...]`: per running container, its name, then
//! its processes as `top` shows them (compose's layout), a blank line after each.

use std::process::ExitCode;

use clap::Args;

use super::ComposeArgs;
use crate::api::compose::TopEntry;
use crate::cli::container::table;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Services (default: all).
    services: Vec<String>,
}

pub fn run(compose: &ComposeArgs, args: &TopArgs) -> anyhow::Result<ExitCode> {
    let (name, _) = compose.project_or_name()?;
    let path = format!("/projects/{name}/top?services={}", args.services.join(","));
    let entries: Vec<TopEntry> = with_client(|client| async move { Ok(client.get(&path).await?) })?;
    print!("{}", render(&entries));
    Ok(ExitCode::SUCCESS)
}

fn render(entries: &[TopEntry]) -> String {
    let mut out = String::new();
    for entry in entries {
        let titles: Vec<&str> = entry.titles.iter().map(String::as_str).collect();
        out.push_str(&format!("{}\n{}\n", entry.name, table(&titles, &entry.processes)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_container_is_a_name_and_a_table() {
        let entry = |name: &str, pid: &str| TopEntry {
            name: name.into(),
            service: "web".into(),
            titles: vec!["UID".into(), "PID".into(), "CMD".into()],
            processes: vec![vec!["root".into(), pid.into(), "sleep 1000".into()]],
        };
        assert_eq!(
            render(&[entry("demo-web-1", "42"), entry("demo-web-2", "4242")]),
            "demo-web-1\nUID    PID   CMD\nroot   42    sleep 1000\n\ndemo-web-2\nUID    PID    CMD\nroot   4242   sleep 1000\n\n"
        );
    }
}
