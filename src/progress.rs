//! Progress: how much a run says on stderr (`--quiet`, `-v`), and the bars long runs show there
//! when it is a terminal.

use std::sync::atomic::{AtomicI8, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// -1 quiet, 0 normal, 1 and more verbose. One process, one person asking: set once by the CLI.
static VERBOSITY: AtomicI8 = AtomicI8::new(0);

pub fn set_verbosity(level: i8) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    VERBOSITY.load(Ordering::Relaxed) < 0
}

pub fn verbose() -> bool {
    VERBOSITY.load(Ordering::Relaxed) > 0
}

/// A bar of `len` steps drawn with `template`, on stderr unless quiet or `show` is false
/// (indicatif itself draws nothing when stderr is not a terminal).
pub fn bar(len: Option<u64>, template: &str, show: bool) -> ProgressBar {
    let target = if show && !quiet() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(len, target);
    let style = match len {
        Some(_) => ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        None => ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
    };
    bar.set_style(style);
    bar
}

/// Says `line` on stderr when the run is verbose (above a bar, if one is drawn).
pub fn detail(bar: &ProgressBar, line: impl AsRef<str>) {
    if verbose() {
        if bar.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            bar.println(line.as_ref());
        }
    }
}

/// Says `line` on stderr unless the run is quiet: summaries and warnings (errors always go out).
pub fn say(line: impl AsRef<str>) {
    if !quiet() {
        eprintln!("{}", line.as_ref());
    }
}
