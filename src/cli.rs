//! The command line: clap definitions of every command and flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::{ColorChoice, Format};

#[derive(Debug, Parser)]
#[command(name = "strata", version, about = "Find and fix layering violations in Python backends", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Use this configuration file instead of the nearest strata.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Add the recipes in this directory (a recipe with a shipped id replaces it).
    #[arg(long = "recipes", global = true, value_name = "DIR")]
    pub recipe_dirs: Vec<PathBuf>,
    /// Say nothing on stderr but errors (no summaries, warnings or progress bars).
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more on stderr: each fix pass and each change set applied.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Colour: auto (terminal and no NO_COLOR), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report violations (exit 0 when clean, 1 when violations remain, 2 on usage or configuration errors).
    Check(CheckArgs),
    /// Apply fixes to the working tree.
    Fix(FixArgs),
    /// Fix a commit's tree into commits on a branch, without touching the working tree, the index
    /// or HEAD; optionally push it and open a pull request.
    Migrate(MigrateArgs),
    /// Migrate many repositories (local clones or URLs) from a manifest, optionally one shard of it.
    Batch(BatchArgs),
    /// The evidence of a migration: counts per rule before and after, change sets with their
    /// diffs, manual sites, exceptions, and how to reproduce it.
    Report(ReportArgs),
    /// Accept the current violations: write them into the exceptions file, one counted entry per
    /// rule and file, so that `check` fails only on new ones.
    Baseline(BaselineArgs),
    /// List, show or test recipes.
    Recipes {
        #[command(subcommand)]
        command: RecipesCommand,
    },
    /// Write a strata.toml with the default HOC layout.
    Init {
        /// Directory to write strata.toml into.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Overwrite an existing strata.toml.
        #[arg(long)]
        force: bool,
    },
    /// Explain a rule: what it finds, why, an example and its fix (like `ruff rule`).
    Explain(ExplainArgs),
    /// Print a shell completion script (e.g. `strata completions bash > ~/.local/share/bash-completion/completions/strata`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct Selection {
    /// Files or directories to check (default: the project root).
    pub paths: Vec<PathBuf>,
    /// Run only these rules: comma-separated ids or starts of ids (`l6` selects every `l6-*` rule;
    /// composites expand).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub select: Vec<String>,
    /// Leave out these rules (ids or starts of ids, like --select).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub ignore: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print a per-rule table of counts after the report.
    #[arg(long)]
    pub statistics: bool,
    /// Fail (exit 1) when an exception is stale or expired.
    #[arg(long)]
    pub strict: bool,
    /// Plan every fix, transforms included, so each hint says exactly what `fix` would do (slower:
    /// without it, a site fixed by a transform shows the recipe's declared fix).
    #[arg(long)]
    pub plan: bool,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Who answers for the accepted violations (each new entry's `owner`).
    #[arg(long, value_name = "NAME")]
    pub owner: String,
    /// Why they are accepted (default: "baseline: existing violation, accepted on <today>").
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The exceptions file to write (default: the one `check` reads, `exceptions` in strata.toml).
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print the diffs instead of writing; exit 1 if anything would change.
    #[arg(long, conflicts_with = "interactive")]
    pub dry_run: bool,
    /// Review each change set and answer y/n/a/q.
    #[arg(long, short = 'i')]
    pub interactive: bool,
    /// Also apply unsafe fixes.
    #[arg(long = "unsafe")]
    pub unsafe_fixes: bool,
    /// Write files that have uncommitted git changes.
    #[arg(long)]
    pub allow_dirty: bool,
    /// `json`: stdout is one JSON document (the summary, and with --dry-run the diffs); the text
    /// summary is not printed.
    #[arg(long, value_enum, default_value_t = FixFormat::Text)]
    pub format: FixFormat,
    /// The same as `--format json` (kept for scripts written against earlier versions).
    #[arg(long, hide = true)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// The branch to write the commits to.
    #[arg(long, value_name = "NAME")]
    pub branch: String,
    /// The commit to start from.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub base: String,
    /// How to cut the fixes into commits.
    #[arg(long, value_enum, default_value_t = crate::migrate::CommitPer::Recipe)]
    pub commit_per: crate::migrate::CommitPer,
    /// Rebuild an existing branch from the base (refused when it carries commits strata did not write).
    #[arg(long)]
    pub update: bool,
    /// With --update, drop commits strata did not write; with --push, overwrite a remote branch
    /// someone else moved.
    #[arg(long)]
    pub force: bool,
    /// Author and committer, "Name <email>" (default: git's user.name and user.email).
    #[arg(long, value_name = "WHO")]
    pub author: Option<String>,
    /// Also apply unsafe fixes.
    #[arg(long = "unsafe")]
    pub unsafe_fixes: bool,
    /// Write the Markdown report to this file instead of the last commit's body.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Push the branch to this remote (with a lease: a remote branch someone else moved is not overwritten).
    #[arg(long, value_name = "REMOTE")]
    pub push: Option<String>,
    /// Open a pull request for the branch, or update the open one (needs --push; token in STRATA_GITHUB_TOKEN).
    #[arg(long, requires = "push")]
    pub pr: bool,
    /// The REST API of the forge (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, value_name = "URL", default_value = "https://api.github.com")]
    pub api_url: String,
    /// The branch the pull request merges into (default: the --base name when it is a branch).
    #[arg(long, value_name = "NAME")]
    pub pr_base: Option<String>,
    /// The repository on the forge, OWNER/NAME (default: from the push remote's URL).
    #[arg(long, value_name = "OWNER/NAME", requires = "pr")]
    pub pr_repo: Option<String>,
    /// Write the pull request's body to this file (for bots that open the PR themselves).
    #[arg(long, value_name = "FILE")]
    pub pr_body_file: Option<PathBuf>,
    /// Run this command (e.g. "pytest -q") on the base and on the branch, each in a temporary copy;
    /// change sets it fails with are found by bisection and dropped (with those depending on them).
    #[arg(long, value_name = "CMD")]
    pub verify: Option<String>,
    /// Seconds a run of the verify command may take before it is killed and counted as failed.
    #[arg(long, value_name = "S", default_value_t = 600, requires = "verify")]
    pub verify_timeout: u64,
    /// Runs of the verify command at once (bisection probes several points per round).
    #[arg(long, short = 'j', value_name = "J", default_value_t = 1, requires = "verify")]
    pub jobs: usize,
    /// `json`: stdout is one JSON document summing the migration up (for bots and `batch`).
    #[arg(long, value_enum, default_value_t = FixFormat::Text)]
    pub format: FixFormat,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The manifest: `[defaults]` and one `[[repo]]` table per repository (`path` or `url`).
    pub manifest: PathBuf,
    /// Run only this stable slice of the manifest, `I/N` (for a CI matrix of N jobs).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::batch::Shard>,
    /// Repositories migrated at once.
    #[arg(long, short = 'j', value_name = "J", default_value_t = 2)]
    pub jobs: usize,
    /// Clone repositories given by URL into this directory (default: a temporary one, removed at the end).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// The commit the migration starts from.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub base: String,
    /// The migrated commit (a branch `migrate` wrote); without it, the report shows what migrating
    /// the base would do.
    #[arg(long, value_name = "REF")]
    pub head: Option<String>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// Also apply unsafe fixes (as `migrate --unsafe`).
    #[arg(long = "unsafe")]
    pub unsafe_fixes: bool,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FixFormat {
    Text,
    Json,
}

impl FixArgs {
    pub fn json(&self) -> bool {
        self.json || self.format == FixFormat::Json
    }
}

#[derive(Debug, Subcommand)]
pub enum RecipesCommand {
    /// List the recipes with their scope and fixability.
    List,
    /// Show one recipe as TOML.
    Show { id: String },
    /// Run every recipe's own test cases.
    Test {
        /// Only these recipe ids.
        ids: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The rule's id (`strata recipes list` shows them).
    pub rule: String,
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}
