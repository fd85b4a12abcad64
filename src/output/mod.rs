//! Output: rendering check results as text, JSON, SARIF or GitHub annotations, and the statistics table.

pub mod diff;
pub mod fix_summary;
pub mod github;
pub mod json;
pub mod sarif;
pub mod text;

use std::io::IsTerminal;

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
                std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty()) && std::io::stdout().is_terminal()
            }
        }
    }
}
