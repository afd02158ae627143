//! Printing the progress lines the daemon streams, as compose does: on a
//! terminal, one line per resource updated in place; otherwise plain lines.

use std::io::{IsTerminal, Write};

use crate::api::compose::Progress;

#[derive(Debug)]
pub struct Printer {
    terminal: bool,
    /// Resources in the order first seen, with their latest line (terminal mode).
    lines: Vec<(String, String)>,
    drawn: usize,
    /// Also print the plan (for `--dry-run`).
    show_plan: bool,
    pub error: Option<String>,
}

impl Printer {
    pub fn new(show_plan: bool) -> Self {
        Printer { terminal: std::io::stderr().is_terminal(), lines: Vec::new(), drawn: 0, show_plan, error: None }
    }

    pub fn show(&mut self, progress: Progress) {
        match progress {
            Progress::Plan { text } if self.show_plan => print!("{text}"),
            Progress::Plan { .. } => {}
            Progress::Note { message } => eprintln!("WARN {message}"),
            Progress::Step { resource, name, status, detail } => {
                let key = format!("{resource} {name}");
                let mut line = format!("{key:<40} {status}");
                if status == "Error"
                    && let Some(detail) = &detail
                {
                    line.push_str(&format!(": {detail}"));
                }
                if self.terminal {
                    match self.lines.iter_mut().find(|(k, _)| *k == key) {
                        Some(entry) => entry.1 = line,
                        None => self.lines.push((key, line)),
                    }
                    self.redraw();
                } else {
                    eprintln!(" {line}");
                }
            }
            Progress::Done { error } => self.error = error,
        }
    }

    fn redraw(&mut self) {
        let mut err = std::io::stderr().lock();
        if self.drawn > 0 {
            let _ = write!(err, "\x1b[{}A", self.drawn);
        }
        for (_, line) in &self.lines {
            let mark = if line.ends_with("Error") || line.contains(" Error: ") { "✘" } else { "✔" };
            let _ = writeln!(err, "\x1b[2K {mark} {line}");
        }
        self.drawn = self.lines.len();
    }
}
