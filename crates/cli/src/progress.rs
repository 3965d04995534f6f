//! Progress bars with ETA for long phases, drawn on stderr (hidden when stderr is not a
//! terminal).

use std::sync::Mutex;

use ami_agent::pipeline::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// A bar `label [=====>   ] pos/len ETA` on stderr.
pub fn bar(label: &str, len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{prefix:>9} [{bar:32.cyan/blue}] {pos}/{len} {msg} (eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    pb.set_style(style);
    pb.set_prefix(label.to_string());
    pb
}

/// The library's [`Progress`] as one bar per phase.
#[derive(Default)]
pub struct Bars(Mutex<Option<ProgressBar>>);

impl Bars {
    fn with(&self, f: impl FnOnce(&mut Option<ProgressBar>)) {
        if let Ok(mut g) = self.0.lock() {
            f(&mut g);
        }
    }
}

impl Progress for Bars {
    fn start(&self, phase: &str, total: u64) {
        self.with(|b| *b = Some(bar(phase, total)));
    }

    fn set(&self, done: u64, message: &str) {
        self.with(|b| {
            if let Some(pb) = b {
                pb.set_position(done);
                if !message.is_empty() {
                    pb.set_message(message.to_string());
                }
            }
        });
    }

    fn finish(&self) {
        self.with(|b| {
            if let Some(pb) = b.take() {
                pb.finish();
            }
        });
    }
}
