//! Justified exceptions (`strata-exceptions.toml`): rule + path glob + reason + owner, optional expiry
//! and count (at most that many violations: what `strata baseline` writes); inline suppressions
//! (`# strata: allow[RULE] reason`) live in [`inline`].

pub mod inline;

use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::tomlfile::{self, TomlFileError};

#[derive(Debug, Error)]
pub enum ExceptionsError {
    #[error(transparent)]
    Toml(#[from] TomlFileError),
    #[error("{path}: exception {index} ({rule}): {message}")]
    Invalid { path: PathBuf, index: usize, rule: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionsFile {
    #[serde(default)]
    exception: Vec<ExceptionEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionEntry {
    pub rule: String,
    /// A glob over paths relative to the project root.
    pub path: String,
    /// At most this many violations (in file order) are excepted; `None`: every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    pub reason: String,
    pub owner: String,
    /// A TOML date (`expires = 2027-01-31`); after it the exception no longer applies.
    #[serde(serialize_with = "serialize_expires")]
    pub expires: Option<toml::value::Datetime>,
}

/// `expires` as its TOML text (`"2027-01-31"`) in JSON, not toml's internal datetime wrapper.
fn serialize_expires<S: serde::Serializer>(value: &Option<toml::value::Datetime>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(datetime) => s.serialize_str(&datetime.to_string()),
        None => s.serialize_none(),
    }
}

/// The state of one exception after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionState {
    Active,
    /// Matched nothing (for an inline suppression: suppressed nothing).
    Stale,
    Expired,
    /// A counted exception that found fewer violations than its `count` allows.
    Loose,
    /// Not checked by this run: its rule did not run (not selected), or the one file it names was
    /// not among the paths checked. Neither used nor stale.
    Unchecked,
}

pub struct Exception {
    pub entry: ExceptionEntry,
    matcher: GlobMatcher,
    expired: bool,
}

/// The project's exceptions; empty when the file does not exist.
#[derive(Default)]
pub struct Exceptions {
    pub items: Vec<Exception>,
}

/// `(year, month, day)` of today, in UTC.
pub fn today() -> (i32, u8, u8) {
    let now = time::OffsetDateTime::now_utc().date();
    (now.year(), u8::from(now.month()), now.day())
}

impl Exceptions {
    pub fn load(path: &Path, today: (i32, u8, u8)) -> Result<Self, ExceptionsError> {
        if !path.exists() {
            return Ok(Exceptions::default());
        }
        let text =
            std::fs::read_to_string(path).map_err(|error| TomlFileError::Read { path: path.to_path_buf(), error })?;
        Self::parse(&text, path, today)
    }

    /// Parses and validates the text of an exceptions file; `path` labels errors.
    pub fn parse(text: &str, path: &Path, today: (i32, u8, u8)) -> Result<Self, ExceptionsError> {
        let file: ExceptionsFile = tomlfile::parse(text, path)?;
        let items = file
            .exception
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let invalid = |message: String| ExceptionsError::Invalid {
                    path: path.to_path_buf(),
                    index: i + 1,
                    rule: entry.rule.clone(),
                    message,
                };
                if entry.reason.trim().is_empty() {
                    return Err(invalid("`reason` is empty; say why the exception is justified".into()));
                }
                if entry.count == Some(0) {
                    return Err(invalid("`count` is 0; remove the exception instead".into()));
                }
                if entry.owner.trim().is_empty() {
                    return Err(invalid("`owner` is empty; name who answers for it".into()));
                }
                let matcher = Glob::new(&entry.path).map_err(|e| invalid(format!("invalid path glob: {e}")))?;
                let expired = match &entry.expires {
                    Some(datetime) => {
                        let date = datetime.date.ok_or_else(|| invalid("`expires` must be a date".into()))?;
                        (i32::from(date.year), date.month, date.day) < today
                    }
                    None => false,
                };
                Ok(Exception { matcher: matcher.compile_matcher(), expired, entry })
            })
            .collect::<Result<_, _>>()?;
        Ok(Exceptions { items })
    }

    /// The index of the first unexpired exception covering a violation of `rule` in `path` for
    /// which `available` holds (a counted exception is available while it has room left).
    pub fn covering(&self, rule: &str, rel_path: &str, available: impl Fn(usize) -> bool) -> Option<usize> {
        (0..self.items.len()).find(|&i| {
            let e = &self.items[i];
            !e.expired && e.entry.rule == rule && e.matcher.is_match(rel_path) && available(i)
        })
    }
}

impl Exception {
    /// Its state after a run: `matched` violations excepted, `checked` whether its rule ran.
    pub fn state(&self, matched: usize, checked: bool) -> ExceptionState {
        if self.expired {
            ExceptionState::Expired
        } else if !checked {
            ExceptionState::Unchecked
        } else if matched == 0 {
            ExceptionState::Stale
        } else if self.entry.count.is_some_and(|count| matched < count) {
            ExceptionState::Loose
        } else {
            ExceptionState::Active
        }
    }
}

/// The path a glob written by [`exact_glob`] matches; `None` for a glob with wildcards.
pub fn literal_path(glob: &str) -> Option<String> {
    let mut out = String::with_capacity(glob.len());
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' | '{' | '}' | '\\' => return None,
            '[' => {
                let inner = chars.next()?;
                if chars.next()? != ']' || inner == '!' || inner == '^' {
                    return None;
                }
                out.push(inner);
            }
            _ => out.push(c),
        }
    }
    Some(out)
}

/// `path` as a glob that matches exactly that path (glob metacharacters in brackets).
pub fn exact_glob(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '*' | '?' | '[' | ']' | '{' | '}' | '\\' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Exceptions, ExceptionsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, text).unwrap();
        Exceptions::load(&path, (2026, 6, 1))
    }

    #[test]
    fn expired_exceptions_stop_applying() {
        let ex = load(
            "[[exception]]\nrule='r'\npath='a/**'\nreason='x'\nowner='o'\nexpires=2026-01-01\n\
             [[exception]]\nrule='r'\npath='b/*.py'\nreason='x'\nowner='o'\nexpires=2027-01-01\n",
        )
        .unwrap();
        assert_eq!(ex.covering("r", "a/x.py", |_| true), None);
        assert_eq!(ex.covering("r", "b/x.py", |_| true), Some(1));
        assert_eq!(ex.covering("r", "b/x.py", |_| false), None);
        assert_eq!(ex.items[0].state(0, true), ExceptionState::Expired);
        assert_eq!(ex.items[1].state(0, true), ExceptionState::Stale);
        assert_eq!(ex.items[1].state(0, false), ExceptionState::Unchecked);
    }

    #[test]
    fn counted_exceptions_are_loose_below_their_count() {
        let ex = load("[[exception]]\nrule='r'\npath='a.py'\ncount=3\nreason='x'\nowner='o'\n").unwrap();
        assert_eq!(ex.items[0].entry.count, Some(3));
        assert_eq!(ex.items[0].state(3, true), ExceptionState::Active);
        assert_eq!(ex.items[0].state(2, true), ExceptionState::Loose);
        assert_eq!(ex.items[0].state(0, true), ExceptionState::Stale);
        let err = load("[[exception]]\nrule='r'\npath='a.py'\ncount=0\nreason='x'\nowner='o'\n").err().unwrap();
        assert!(err.to_string().contains("count"), "{err}");
    }

    #[test]
    fn exact_globs_match_only_their_path() {
        for path in ["a/b.py", "a/[x]*.py", "a/{b,c}?.py", "we\\ird.py"] {
            let glob = Glob::new(&exact_glob(path)).unwrap().compile_matcher();
            assert!(glob.is_match(path), "{path} -> {}", exact_glob(path));
        }
        let glob = Glob::new(&exact_glob("a/*.py")).unwrap().compile_matcher();
        assert!(!glob.is_match("a/b.py"));
        for path in ["a/b.py", "a/[x]*.py", "a/{b,c}?.py", "we\\ird.py"] {
            assert_eq!(literal_path(&exact_glob(path)).as_deref(), Some(path));
        }
        assert_eq!(literal_path("a/**/*.py"), None);
        assert_eq!(literal_path("a/[ab].py"), None);
    }

    #[test]
    fn owner_and_reason_are_required() {
        let err = load("[[exception]]\nrule='r'\npath='a'\nreason='x'\n").err().unwrap();
        assert!(err.to_string().contains("owner"), "{err}");
        let err = load("[[exception]]\nrule='r'\npath='a'\nreason=' '\nowner='o'\n").err().unwrap();
        assert!(err.to_string().contains("reason"), "{err}");
    }
}
