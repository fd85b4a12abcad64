//! Justified exceptions (`strata-exceptions.toml`): rule + path glob + reason + owner, optional expiry.

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
    Stale,
    Expired,
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
        let file: ExceptionsFile = tomlfile::read(path)?;
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

    /// The index of the first unexpired exception covering a violation of `rule` in `path`.
    pub fn covering(&self, rule: &str, rel_path: &str) -> Option<usize> {
        self.items.iter().position(|e| !e.expired && e.entry.rule == rule && e.matcher.is_match(rel_path))
    }

    /// The state of each exception given which ones covered at least one violation.
    pub fn states(&self, used: &[bool]) -> Vec<ExceptionState> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, e)| {
                if e.expired {
                    ExceptionState::Expired
                } else if used.get(i).copied().unwrap_or(false) {
                    ExceptionState::Active
                } else {
                    ExceptionState::Stale
                }
            })
            .collect()
    }
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
        assert_eq!(ex.covering("r", "a/x.py"), None);
        assert_eq!(ex.covering("r", "b/x.py"), Some(1));
        assert_eq!(ex.states(&[false, false]), vec![ExceptionState::Expired, ExceptionState::Stale]);
    }

    #[test]
    fn owner_and_reason_are_required() {
        let err = load("[[exception]]\nrule='r'\npath='a'\nreason='x'\n").err().unwrap();
        assert!(err.to_string().contains("owner"), "{err}");
        let err = load("[[exception]]\nrule='r'\npath='a'\nreason=' '\nowner='o'\n").err().unwrap();
        assert!(err.to_string().contains("reason"), "{err}");
    }
}
