//! Batch: the manifest of many repositories to migrate, and the stable shards a CI matrix splits it into.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::tomlfile::{self, TomlFileError};

#[derive(Debug, Error)]
pub enum BatchError {
    #[error(transparent)]
    Manifest(#[from] TomlFileError),
    #[error("{path}: repository {index} needs exactly one of `path` and `url`")]
    Source { path: PathBuf, index: usize },
    #[error("{path}: two repositories are named `{name}`; give one a `name`")]
    Duplicate { path: PathBuf, name: String },
    #[error("{path}:{line}: unknown key `{key}` in repository {index}; known keys: name, path, url, {known}")]
    UnknownKey { path: PathBuf, line: usize, index: usize, key: String, known: String },
    #[error("--shard wants I/N with 1 <= I <= N (like 2/4), not `{0}`")]
    Shard(String),
}

/// What a migration of one repository does; every key may be set in `[defaults]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Options {
    pub branch: Option<String>,
    pub base: Option<String>,
    /// Where in the repository to run (the directory with strata.toml), from its top.
    pub dir: Option<String>,
    pub select: Option<Vec<String>>,
    pub ignore: Option<Vec<String>>,
    pub commit_per: Option<String>,
    pub author: Option<String>,
    /// Rebuild the branch when it exists (default true: a batch is re-run).
    pub update: Option<bool>,
    #[serde(rename = "unsafe")]
    pub unsafe_fixes: Option<bool>,
    pub push: Option<String>,
    pub pr: Option<bool>,
    pub api_url: Option<String>,
    pub pr_base: Option<String>,
}

impl Options {
    /// `self`, with what it leaves unset taken from `defaults`.
    fn or(self, defaults: &Options) -> Options {
        let d = defaults.clone();
        Options {
            branch: self.branch.or(d.branch),
            base: self.base.or(d.base),
            dir: self.dir.or(d.dir),
            select: self.select.or(d.select),
            ignore: self.ignore.or(d.ignore),
            commit_per: self.commit_per.or(d.commit_per),
            author: self.author.or(d.author),
            update: self.update.or(d.update),
            unsafe_fixes: self.unsafe_fixes.or(d.unsafe_fixes),
            push: self.push.or(d.push),
            pr: self.pr.or(d.pr),
            api_url: self.api_url.or(d.api_url),
            pr_base: self.pr_base.or(d.pr_base),
        }
    }

    /// The `strata migrate` arguments for these options.
    pub fn migrate_args(&self) -> Vec<String> {
        let mut args = vec!["migrate".to_string()];
        let mut flag = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                args.extend([format!("--{name}"), value.clone()]);
            }
        };
        flag("branch", &self.branch);
        flag("base", &self.base);
        flag("commit-per", &self.commit_per);
        flag("author", &self.author);
        flag("push", &self.push);
        flag("api-url", &self.api_url);
        flag("pr-base", &self.pr_base);
        flag("select", &self.select.as_ref().map(|s| s.join(",")));
        flag("ignore", &self.ignore.as_ref().map(|s| s.join(",")));
        for (on, name) in [(self.update.unwrap_or(true), "--update"), (self.unsafe_fixes.unwrap_or(false), "--unsafe")]
        {
            if on {
                args.push(name.to_string());
            }
        }
        if self.pr.unwrap_or(false) {
            args.push("--pr".to_string());
        }
        args
    }
}

/// The keys of [`Options`] (serde's `flatten` cannot deny unknown keys, so a `[[repo]]` table's
/// keys are checked against these).
const OPTION_KEYS: &[&str] = &[
    "branch",
    "base",
    "dir",
    "select",
    "ignore",
    "commit_per",
    "author",
    "update",
    "unsafe",
    "push",
    "pr",
    "api_url",
    "pr_base",
];

#[derive(Debug, Clone, Deserialize)]
struct RepoEntry {
    name: Option<String>,
    path: Option<String>,
    url: Option<String>,
    #[serde(flatten)]
    options: Options,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    defaults: Options,
    #[serde(default, rename = "repo")]
    repos: Vec<RepoEntry>,
}

/// Where a repository comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A local clone (relative paths are from the manifest's directory).
    Path(PathBuf),
    /// A URL to clone.
    Url(String),
}

/// One repository of a batch, with its options resolved against `[defaults]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repository {
    pub name: String,
    pub source: Source,
    pub options: Options,
}

/// Reads a manifest: `[defaults]` and `[[repo]]` tables.
pub fn load(path: &Path) -> Result<Vec<Repository>, BatchError> {
    let file: ManifestFile = tomlfile::read(path)?;
    check_repo_keys(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut repos: Vec<Repository> = Vec::new();
    for (index, entry) in file.repos.into_iter().enumerate() {
        let source = match (&entry.path, &entry.url) {
            (Some(p), None) => Source::Path(base.join(p)),
            (None, Some(u)) => Source::Url(u.clone()),
            _ => return Err(BatchError::Source { path: path.to_path_buf(), index: index + 1 }),
        };
        let name = entry.name.clone().unwrap_or_else(|| default_name(entry.path.as_deref().or(entry.url.as_deref())));
        if repos.iter().any(|r| r.name == name) {
            return Err(BatchError::Duplicate { path: path.to_path_buf(), name });
        }
        repos.push(Repository { name, source, options: entry.options.or(&file.defaults) });
    }
    Ok(repos)
}

fn check_repo_keys(path: &Path) -> Result<(), BatchError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| TomlFileError::Read { path: path.to_path_buf(), error })?;
    let Ok(document) = toml_edit::ImDocument::parse(text.as_str()) else { return Ok(()) };
    let Some(tables) = document.get("repo").and_then(|r| r.as_array_of_tables()) else { return Ok(()) };
    for (index, table) in tables.iter().enumerate() {
        for (key, item) in table.iter() {
            if ["name", "path", "url"].contains(&key) || OPTION_KEYS.contains(&key) {
                continue;
            }
            let at = item.span().map_or(0, |s| s.start).min(text.len());
            return Err(BatchError::UnknownKey {
                path: path.to_path_buf(),
                line: text[..at].matches('\n').count() + 1,
                index: index + 1,
                key: key.to_string(),
                known: OPTION_KEYS.join(", "),
            });
        }
    }
    Ok(())
}

/// The last segment of a path or URL, without `.git`.
fn default_name(from: Option<&str>) -> String {
    let from = from.unwrap_or_default().trim_end_matches('/');
    let last = from.rsplit(['/', ':']).next().unwrap_or(from);
    last.strip_suffix(".git").unwrap_or(last).to_string()
}

/// A shard `I/N` of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = BatchError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BatchError::Shard(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether a repository belongs to this shard: by a hash of its name, so that adding or
    /// removing a repository moves no other one between the shards of a CI matrix.
    pub fn holds(&self, repo: &Repository) -> bool {
        fnv1a(repo.name.as_bytes()) % self.count == self.index - 1
    }
}

/// FNV-1a (64 bits): stable across runs, platforms and versions, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Result<Vec<Repository>, BatchError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn repositories_take_defaults_and_names_from_their_source() {
        let repos = manifest(
            "[defaults]\nbranch = \"strata/layers\"\npush = \"origin\"\n\n\
             [[repo]]\npath = \"billing\"\n\n[[repo]]\nurl = \"https://example.com/acme/orders.git\"\npush = \"upstream\"\n",
        )
        .unwrap();
        assert_eq!(repos[0].name, "billing");
        assert_eq!(repos[1].name, "orders");
        assert_eq!(repos[1].options.push.as_deref(), Some("upstream"));
        assert_eq!(repos[1].options.branch.as_deref(), Some("strata/layers"));
        assert!(repos[0].options.migrate_args().contains(&"--update".to_string()));
    }

    #[test]
    fn bad_manifests_say_what_and_where() {
        let err = manifest("[[repo]]\npath = \"a\"\nurl = \"b\"\n").unwrap_err().to_string();
        assert!(err.contains("repository 1 needs exactly one of `path` and `url`"), "{err}");
        let err = manifest("[[repo]]\npath = \"a\"\nbrnch = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("batch.toml:3: unknown key `brnch` in repository 1"), "{err}");
        let err = manifest("[defaults]\nbrnch = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("batch.toml:2:1: invalid value for `defaults.brnch`"), "{err}");
        let err = manifest("[[repo]]\npath = \"x/a\"\n[[repo]]\npath = \"y/a\"\n").unwrap_err().to_string();
        assert!(err.contains("two repositories are named `a`"), "{err}");
    }

    #[test]
    fn every_option_key_is_known_to_the_repo_check() {
        for key in OPTION_KEYS {
            let value = match *key {
                "update" | "unsafe" | "pr" => "true",
                "select" | "ignore" => "[]",
                _ => "\"x\"",
            };
            let parsed: Result<Options, _> = toml::from_str(&format!("{key} = {value}"));
            assert!(parsed.is_ok(), "`{key}` is not an option: {parsed:?}");
        }
    }

    #[test]
    fn shards_partition_the_batch_and_parse_strictly() {
        let repos: Vec<Repository> = (0..50)
            .map(|i| Repository {
                name: format!("repo-{i}"),
                source: Source::Url(String::new()),
                options: Options::default(),
            })
            .collect();
        let shards: Vec<Shard> = (1..=3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for repo in &repos {
            assert_eq!(shards.iter().filter(|s| s.holds(repo)).count(), 1, "{}", repo.name);
        }
        assert!(shards.iter().all(|s| repos.iter().any(|r| s.holds(r))), "a shard is empty");
        for bad in ["0/2", "3/2", "1", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
