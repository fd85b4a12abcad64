//! Templates: one minijinja environment per run for messages, descriptions and generated code.

use std::collections::BTreeSet;
use std::ops::Range;

use minijinja::{Environment, UndefinedBehavior, Value};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("template `{name}`: {message}")]
    Invalid { name: String, message: String },
    #[error("template `{name}` failed to render: {message}")]
    Render { name: String, message: String },
    /// Found when the configuration loads: a syntax error, or a variable the template cannot see.
    #[error("{at}: template `{key}` {message}")]
    Load { at: String, key: String, message: String },
}

/// The variables a template can see: plain names, and `config` (checked key by key when given).
#[derive(Debug, Clone, Default)]
pub struct Scope<'c> {
    pub names: BTreeSet<String>,
    pub config: Option<&'c serde_json::Value>,
}

impl Scope<'_> {
    pub fn with(&self, extra: impl IntoIterator<Item = String>) -> Self {
        let mut scope = self.clone();
        scope.names.extend(extra);
        scope
    }
}

/// Functions minijinja defines for every template: reading them is not reading a variable.
const BUILTINS: &[&str] = &["range", "dict", "namespace", "debug"];

/// What is wrong with a template, found before anything renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Syntax {
        line: Option<usize>,
        message: String,
    },
    /// `name` (or a `config.` key path) that nothing defines, the closest known name, what it can use.
    Unknown {
        name: String,
        suggestion: Option<String>,
        known: Vec<String>,
    },
}

/// All templates of a run, compiled once; rendering by name is cheap and thread-safe.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        // A misspelt variable must fail loudly instead of generating code with a hole in it.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("repr", |value: String| python_string(&value));
        env.add_filter("camel", |value: String| camel(&value));
        Templates { env }
    }
}

impl Templates {
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.env
            .add_template_owned(name.to_string(), source.to_string())
            .map_err(|e| TemplateError::Invalid { name: name.to_string(), message: describe(&e) })
    }

    pub fn render(&self, name: &str, context: &Value) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| TemplateError::Render { name: name.to_string(), message: describe(&e) })?;
        template.render(context).map_err(|e| TemplateError::Render { name: name.to_string(), message: describe(&e) })
    }

    /// Checks `source` before anything renders: its syntax, and that every variable it reads is
    /// one `scope` defines (a `config.` path must name keys the configuration has).
    pub fn check(&self, source: &str, scope: &Scope) -> Result<(), Problem> {
        let template = self.env.template_from_str(source).map_err(|e| Problem::Syntax {
            line: e.line(),
            message: e.detail().map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
        })?;
        let mut unknown: Vec<(usize, Problem)> = Vec::new();
        for path in template.undeclared_variables(true) {
            let mut parts = path.split('.');
            let first = parts.next().unwrap_or_default();
            let problem = if BUILTINS.contains(&first) {
                None
            } else if !scope.names.contains(first) {
                let known: Vec<String> = scope.names.iter().cloned().collect();
                Some(Problem::Unknown { name: first.to_string(), suggestion: closest(first, &known), known })
            } else if let (Some(config), "config") = (scope.config, first) {
                unknown_key(config, parts)
            } else {
                None
            };
            if let Some(problem) = problem {
                let name = match &problem {
                    Problem::Unknown { name, .. } => name.rsplit('.').next().unwrap_or(name).to_string(),
                    Problem::Syntax { .. } => String::new(),
                };
                unknown.push((find_name(source, &name).unwrap_or(usize::MAX), problem));
            }
        }
        unknown.sort_by_key(|(at, _)| *at);
        match unknown.into_iter().next() {
            Some((_, problem)) => Err(problem),
            None => Ok(()),
        }
    }

    /// Renders a one-off template string (used for short, per-run strings such as paths).
    pub fn render_str(&self, source: &str, context: &Value) -> Result<String, TemplateError> {
        self.env
            .render_str(source, context)
            .map_err(|e| TemplateError::Render { name: source.to_string(), message: describe(&e) })
    }
}

/// The first key of a `config.` path that the configuration does not have (a value that is not a
/// table ends the check: what follows is a method or attribute of that value).
fn unknown_key<'p>(config: &serde_json::Value, parts: impl Iterator<Item = &'p str>) -> Option<Problem> {
    let mut value = config;
    let mut path = String::from("config");
    for part in parts {
        let serde_json::Value::Object(table) = value else { return None };
        let Some(next) = table.get(part) else {
            let known: Vec<String> = table.keys().map(|k| format!("{path}.{k}")).collect();
            let keys: Vec<String> = table.keys().cloned().collect();
            let suggestion = closest(part, &keys).map(|k| format!("{path}.{k}"));
            return Some(Problem::Unknown { name: format!("{path}.{part}"), suggestion, known });
        };
        path = format!("{path}.{part}");
        value = next;
    }
    None
}

/// Where `name` is first used as a whole word in `text`.
pub fn find_name(text: &str, name: &str) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name)
        .map(|(i, _)| i)
        .find(|&i| !text[..i].ends_with(word) && !text[i + name.len()..].starts_with(word))
}

/// The known name closest to `name` when it is close enough to be a typo of it.
pub fn closest(name: &str, known: &[String]) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(&name.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

/// The load-time error for a template with `problem`: `file:line:column` of the offending name
/// (or the line of a syntax error) when `text` (the file) and `span` (the template's value in it)
/// are known, else the file alone.
pub fn load_error(
    file: &str,
    text: Option<&str>,
    span: Option<Range<usize>>,
    key: &str,
    problem: Problem,
) -> TemplateError {
    let message = match &problem {
        Problem::Syntax { message, .. } => format!("does not compile: {message}"),
        Problem::Unknown { name, suggestion, known } => {
            let hint = suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
            let known = if known.is_empty() { "no variable".to_string() } else { known.join(", ") };
            format!("uses unknown variable `{name}`{hint}; it can use: {known}")
        }
    };
    let at = match (text.zip(span), &problem) {
        (Some((text, span)), Problem::Unknown { name, .. }) => {
            let last = name.rsplit('.').next().unwrap_or(name);
            let offset = find_name(&text[span.clone()], last).map_or(span.start, |i| span.start + i);
            let (line, column) = crate::tomlfile::line_column(text, offset);
            format!("{file}:{line}:{column}")
        }
        (Some((text, span)), Problem::Syntax { line, .. }) => {
            let value = &text[span.clone()];
            // A multi-line TOML string drops the line break right after its opening quotes.
            let quotes = ["\"\"\"\n", "'''\n", "\"\"\"\r\n", "'''\r\n"];
            let skipped = usize::from(quotes.iter().any(|q| value.starts_with(q)));
            let (first, _) = crate::tomlfile::line_column(text, span.start);
            format!("{file}:{}", first + skipped + line.unwrap_or(1) - 1)
        }
        (None, _) => file.to_string(),
    };
    TemplateError::Load { at, key: key.to_string(), message }
}

/// `price_rules` → `PriceRules`, `v2_orders` → `V2Orders`.
pub fn camel(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn describe(err: &minijinja::Error) -> String {
    match err.line() {
        Some(line) => format!("{} (line {line})", err.kind()).replace(
            &err.kind().to_string(),
            &err.detail().map_or_else(|| err.kind().to_string(), |d| format!("{}: {d}", err.kind())),
        ),
        None => err.to_string(),
    }
}

/// A Python string literal for `value` (double-quoted, escaped).
pub fn python_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_variables_are_errors() {
        let mut t = Templates::default();
        t.add("m", "{{ RECV }}.{{ nope }}").unwrap();
        let err = t.render("m", &minijinja::context! { RECV => "db" }).unwrap_err();
        assert!(err.to_string().contains("undefined"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_template_and_line() {
        let mut t = Templates::default();
        let err = t.add("x/message", "ok\n{{ RECV ").unwrap_err();
        assert!(err.to_string().contains("x/message"), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    fn scope(names: &[&str]) -> Scope<'static> {
        Scope { names: names.iter().map(|n| n.to_string()).collect(), config: None }
    }

    #[test]
    fn check_finds_unknown_variables_with_a_suggestion() {
        let t = Templates::default();
        let known = scope(&["domain", "module"]);
        assert_eq!(t.check("{{ domain }}/{% if module != domain %}{{ module | camel }}{% endif %}", &known), Ok(()));
        assert_eq!(t.check("{% for p in range(2) %}{{ loop.index }}{{ p }}{% endfor %}", &known), Ok(()));
        let Err(Problem::Unknown { name, suggestion, .. }) = t.check("{{ module }}/{{ domian }}", &known) else {
            panic!("no problem found")
        };
        assert_eq!((name.as_str(), suggestion.as_deref()), ("domian", Some("domain")));
        assert!(matches!(t.check("{{ x }", &known), Err(Problem::Syntax { .. })));
    }

    #[test]
    fn config_paths_are_checked_key_by_key() {
        let t = Templates::default();
        let config = serde_json::json!({"registry": {"module": "app.registry"}});
        let known = Scope { names: ["config".to_string()].into(), config: Some(&config) };
        assert_eq!(t.check("{{ config.registry.module }} {{ config.registry.module.upper() }}", &known), Ok(()));
        let Err(Problem::Unknown { name, suggestion, .. }) = t.check("{{ config.registry.modul }}", &known) else {
            panic!("no problem found")
        };
        assert_eq!((name.as_str(), suggestion.as_deref()), ("config.registry.modul", Some("config.registry.module")));
    }

    #[test]
    fn load_errors_point_at_the_name_in_the_file() {
        use crate::tomlfile::{value_span, Key};
        let text = "[naming]\ndriver_path = \"x/{{ domian }}.py\"\n";
        let span = value_span(text, &[Key::Name("naming"), Key::Name("driver_path")]);
        let problem =
            Problem::Unknown { name: "domian".into(), suggestion: Some("domain".into()), known: vec!["domain".into()] };
        let err = load_error("strata.toml", Some(text), span, "naming.driver_path", problem).to_string();
        let want =
            "strata.toml:2:21: template `naming.driver_path` uses unknown variable `domian` (did you mean `domain`?)";
        assert!(err.starts_with(want), "{err}");
    }

    #[test]
    fn repr_filter_quotes_python_strings() {
        let t = Templates::default();
        let out = t.render_str("{{ v | repr }}", &minijinja::context! { v => "a\"b" }).unwrap();
        assert_eq!(out, "\"a\\\"b\"");
    }

    #[test]
    fn camel_filter_joins_words_without_separators() {
        let t = Templates::default();
        let out = t.render_str(
            "{{ a | camel }} {{ b | camel }}",
            &minijinja::context! { a => "price_rules", b => "v2_orders" },
        );
        assert_eq!(out.unwrap(), "PriceRules V2Orders");
    }
}
