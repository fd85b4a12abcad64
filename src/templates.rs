//! Templates: one minijinja environment per run for messages, descriptions and generated code.

use minijinja::{Environment, UndefinedBehavior, Value};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("template `{name}`: {message}")]
    Invalid { name: String, message: String },
    #[error("template `{name}` failed to render: {message}")]
    Render { name: String, message: String },
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

    /// Renders a one-off template string (used for short, per-run strings such as paths).
    pub fn render_str(&self, source: &str, context: &Value) -> Result<String, TemplateError> {
        self.env
            .render_str(source, context)
            .map_err(|e| TemplateError::Render { name: source.to_string(), message: describe(&e) })
    }
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
