//! Output: rendering check results as text, JSON, SARIF or GitHub annotations, and the statistics table;
//! a migration's evidence report as Markdown, JSON or HTML.

pub mod diff;
pub mod evidence;
pub mod fix_summary;
pub mod github;
pub mod json;
pub mod report;
pub mod sarif;
pub mod text;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// How paths are shown: relative to the working directory, as ruff and git show them, while the
/// pipeline keeps them relative to the project root (what layer globs and exceptions match).
pub struct PathStyle {
    /// The project root and the working directory, when they differ.
    base: Option<(PathBuf, PathBuf)>,
}

impl PathStyle {
    pub fn new(root: &Path) -> Self {
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let root = canonical(root);
        let cwd = std::env::current_dir().map(|d| canonical(&d)).unwrap_or_else(|_| root.clone());
        PathStyle { base: (root != cwd).then_some((root, cwd)) }
    }

    /// A root-relative path as the user should see it (`/`-separated).
    pub fn show(&self, rel: &str) -> String {
        let Some((root, cwd)) = &self.base else { return rel.to_string() };
        let absolute = root.join(rel);
        match pathdiff::diff_paths(&absolute, cwd) {
            Some(shown) => shown.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
            None => absolute.display().to_string(),
        }
    }

    /// A `path:line:col` location with its path shown.
    pub fn show_location(&self, location: &str) -> String {
        match location.split_once(':') {
            Some((path, rest)) => format!("{}:{rest}", self.show(path)),
            None => self.show(location),
        }
    }
}

/// Output formats of `strata check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

/// When to colour output, as in cargo and ripgrep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Colour only on a terminal, and never when `NO_COLOR` is set (https://no-color.org).
    pub fn enabled_for_stdout(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
            }
        }
    }
}
