//! Reading TOML files into serde types with errors that name the file, line, column and key path.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TomlFileError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}:{line}:{column}: invalid value for `{key}`: {message}")]
    Invalid { path: PathBuf, line: usize, column: usize, key: String, message: String },
}

/// Reads and deserializes a TOML file; unknown keys are errors because the types deny them.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, TomlFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| TomlFileError::Read { path: path.to_path_buf(), error })?;
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

/// One step of a path into a TOML document: a key or an array index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'k> {
    Name(&'k str),
    Index(usize),
}

/// The byte range of the value at `path` in TOML `text` (`fix`, 2, `description`), to point an
/// error at its line; `None` when the text does not parse or has no such value.
pub fn value_span(text: &str, path: &[Key]) -> Option<std::ops::Range<usize>> {
    let document = toml_edit::ImDocument::parse(text).ok()?;
    let mut item = document.as_item();
    for key in path {
        item = match key {
            Key::Name(name) => item.get(*name)?,
            Key::Index(i) => item.get(*i)?,
        };
    }
    item.span()
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let line = text[..offset].matches('\n').count() + 1;
    let column = text[..offset].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
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
    fn value_spans_point_at_nested_keys() {
        let text = "id = 'x'\n[[fix]]\nreason = 'a'\n[[fix]]\ndescription = '''\nb {{ c }}'''\nedits = [{ op = 'replace', with = 'w' }]\n";
        let span = value_span(text, &[Key::Name("fix"), Key::Index(1), Key::Name("description")]).unwrap();
        assert_eq!(line_column(text, span.start), (5, 15));
        let span =
            value_span(text, &[Key::Name("fix"), Key::Index(1), Key::Name("edits"), Key::Index(0), Key::Name("with")]);
        assert_eq!(&text[span.unwrap()], "'w'");
        assert_eq!(value_span(text, &[Key::Name("fix"), Key::Index(2)]), None);
        // Tables a dotted header creates on the way (`[layers.l2]` makes `layers`) are walked too.
        let text = "[layers.l2]\npaths = []\n[match.constraints.X]\nregex = 'a'\n";
        let span =
            value_span(text, &[Key::Name("match"), Key::Name("constraints"), Key::Name("X"), Key::Name("regex")]);
        assert_eq!(line_column(text, span.unwrap().start), (4, 9));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse::<Outer>("[inner\n", Path::new("s.toml")).unwrap_err();
        assert!(err.to_string().starts_with("s.toml:1:"), "{err}");
    }
}
