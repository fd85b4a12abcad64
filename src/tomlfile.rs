//! Reading TOML files into serde types with errors that name the file, line, column and key path.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TomlFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: invalid value for `{key}`: {message}")]
    Invalid { path: PathBuf, line: usize, column: usize, key: String, message: String },
}

/// Reads and deserializes a TOML file; unknown keys are errors because the types deny them.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, TomlFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| TomlFileError::Read { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

/// Deserializes TOML text; `path` only labels errors.
pub fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, TomlFileError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let key = err.path().to_string();
        let inner = err.into_inner();
        let offset = inner.span().map_or(0, |span| span.start).min(text.len());
        let line = text[..offset].matches('\n').count() + 1;
        let column = text[..offset].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        TomlFileError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            key: if key == "." { "(top level)".to_string() } else { key },
            message: inner.message().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    #[test]
    fn unknown_keys_name_line_column_and_path() {
        let err = parse::<Outer>("[inner]\nname = \"x\"\nnmae = 1\n", Path::new("s.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("s.toml:3:1:"), "{text}");
        assert!(text.contains("inner"), "{text}");
        assert!(text.contains("nmae"), "{text}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse::<Outer>("[inner\n", Path::new("s.toml")).unwrap_err();
        assert!(err.to_string().starts_with("s.toml:1:"), "{err}");
    }
}
