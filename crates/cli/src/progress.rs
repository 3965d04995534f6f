//! Progress bars with ETA for long phases (hidden when stderr is not a terminal... but then a
//! line per phase is still printed).

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
