//! Progress of pull and push: a bar per layer on a terminal (like `docker
//! pull`), one line per layer state change otherwise, nothing with -q.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use berth_runtime::image::{Digest, Event, LayerState};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Pull,
    Push,
}

#[derive(Debug)]
pub struct Display {
    verb: Verb,
    bars: Option<MultiProgress>,
    quiet: bool,
    layers: Mutex<HashMap<Digest, Layer>>,
}

#[derive(Debug)]
struct Layer {
    bar: Option<ProgressBar>,
    started: bool,
}

impl Display {
    pub fn new(verb: Verb, quiet: bool) -> Display {
        let bars = (!quiet && std::io::stdout().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Display { verb, bars, quiet, layers: Mutex::new(HashMap::new()) }
    }

    /// A line above the bars (or a plain line).
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
        }
    }

    fn layer_line(&self, digest: &Digest, text: &str) {
        self.line(&format!("{}: {text}", &digest.hex()[..12]));
    }

    fn done_text(&self, state: &LayerState) -> &'static str {
        match (self.verb, state) {
            (Verb::Pull, LayerState::Exists) => "Already exists",
            (Verb::Push, LayerState::Exists) => "Layer already exists",
            (Verb::Pull, _) => "Pull complete",
            (Verb::Push, _) => "Pushed",
        }
    }
}

impl Display {
    /// Shows one progress event of the daemon's.
    pub fn event(&self, event: Event) {
        let Event::Layer { digest, state } = event else { return };
        if self.quiet {
            return;
        }
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        let layer = layers.entry(digest.clone()).or_insert_with(|| Layer { bar: None, started: false });
        match (&self.bars, &state) {
            (Some(bars), LayerState::Transferring { done, total }) => {
                let bar = layer.bar.get_or_insert_with(|| {
                    let bar = bars.add(ProgressBar::new(*total));
                    bar.set_style(
                        ProgressStyle::with_template("{prefix}: {msg:12} [{bar:40}] {bytes}/{total_bytes}")
                            .expect("a valid template")
                            .progress_chars("=> "),
                    );
                    bar.set_prefix(digest.hex()[..12].to_owned());
                    bar.set_message(if self.verb == Verb::Pull { "Downloading" } else { "Pushing" });
                    bar
                });
                bar.set_position(*done);
            }
            (Some(_), LayerState::Exists | LayerState::Complete) => match layer.bar.take() {
                Some(bar) => bar.finish_with_message(self.done_text(&state)),
                None => self.layer_line(&digest, self.done_text(&state)),
            },
            (None, LayerState::Transferring { .. }) if !layer.started => {
                layer.started = true;
                self.layer_line(&digest, if self.verb == Verb::Pull { "Pulling fs layer" } else { "Preparing" });
            }
            (None, LayerState::Exists | LayerState::Complete) => self.layer_line(&digest, self.done_text(&state)),
            (_, LayerState::Retrying { attempt, error }) => {
                self.layer_line(&digest, &format!("Retrying (attempt {}): {error}", attempt + 1))
            }
            _ => {}
        }
    }
}
