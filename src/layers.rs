//! Layers: path patterns with named captures (`{domain}`) that classify each file of a project.

use std::collections::BTreeMap;

use regex::Regex;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("layer `{layer}`: invalid path pattern `{pattern}`: {message}")]
pub struct LayerPatternError {
    pub layer: String,
    pub pattern: String,
    pub message: String,
}

/// A path pattern: a glob (`*`, `**`, `?`) where `{name}` captures one path segment (or part of one).
#[derive(Debug, Clone)]
pub struct PathPattern {
    regex: Regex,
}

impl PathPattern {
    pub fn compile(source: &str) -> Result<Self, String> {
        let mut out = String::from("^");
        let mut rest = source;
        while let Some(ch) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("**/") {
                out.push_str("(?:.*/)?");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("**") {
                out.push_str(".*");
                rest = after;
            } else if ch == '*' {
                out.push_str("[^/]*");
                rest = &rest[1..];
            } else if ch == '?' {
                out.push_str("[^/]");
                rest = &rest[1..];
            } else if ch == '{' {
                let end = rest.find('}').ok_or("an unclosed `{`")?;
                let name = &rest[1..end];
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("`{{{name}}}` is not a valid capture name"));
                }
                out.push_str(&format!("(?P<{name}>[^/]+?)"));
                rest = &rest[end + 1..];
            } else {
                out.push_str(&regex::escape(&ch.to_string()));
                rest = &rest[ch.len_utf8()..];
            }
        }
        out.push('$');
        let regex = Regex::new(&out).map_err(|e| e.to_string())?;
        Ok(PathPattern { regex })
    }

    /// The captures of a matching path (relative, `/`-separated).
    pub fn captures(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let caps = self.regex.captures(path)?;
        Some(
            self.regex
                .capture_names()
                .flatten()
                .filter_map(|name| caps.name(name).map(|m| (name.to_string(), m.as_str().to_string())))
                .collect(),
        )
    }
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub patterns: Vec<PathPattern>,
}

/// Where a file sits: its layer (if any) and the captures of the pattern that placed it there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub layer: Option<String>,
    pub captures: BTreeMap<String, String>,
}

/// The layers of a project, in configuration order: a file belongs to the first that matches.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    layers: Vec<Layer>,
}

impl Layers {
    /// Compiles `(layer, path patterns)` pairs; their order is the order layers are tried in.
    pub fn compile(config: &[(String, Vec<String>)]) -> Result<Self, LayerPatternError> {
        let layers = config
            .iter()
            .map(|(name, patterns)| {
                let patterns = patterns
                    .iter()
                    .map(|p| {
                        PathPattern::compile(p).map_err(|message| LayerPatternError {
                            layer: name.clone(),
                            pattern: p.clone(),
                            message,
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Layer { name: name.clone(), patterns })
            })
            .collect::<Result<_, _>>()?;
        Ok(Layers { layers })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.layers.iter().map(|l| l.name.as_str())
    }

    /// The captures (`domain`, `module`...) some path pattern of `layer` defines, or of any
    /// layer when `layer` is `None`: the variables a file of that layer may carry.
    pub fn capture_names(&self, layer: Option<&str>) -> Vec<String> {
        let mut names: Vec<String> = self
            .layers
            .iter()
            .filter(|l| layer.is_none_or(|name| l.name == name))
            .flat_map(|l| &l.patterns)
            .flat_map(|p| p.regex.capture_names().flatten().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The layers no path is placed in: a glob that matches nothing is usually a layout mistake.
    pub fn unmatched<'p>(&self, paths: impl IntoIterator<Item = &'p str>) -> Vec<&str> {
        let mut seen = std::collections::BTreeSet::new();
        for path in paths {
            if let Some(layer) = self.classify(path).layer {
                seen.insert(layer);
            }
        }
        self.names().filter(|name| !seen.contains(*name)).collect()
    }

    pub fn classify(&self, rel_path: &str) -> Placement {
        self.candidates(rel_path).into_iter().next().unwrap_or_default()
    }

    /// Every layer whose paths match `rel_path`, in order: the file is in the first whose
    /// requirements (see `LayerConfig::requires`) it meets.
    pub fn candidates(&self, rel_path: &str) -> Vec<Placement> {
        self.layers
            .iter()
            .filter_map(|layer| {
                let captures = layer.patterns.iter().find_map(|p| p.captures(rel_path))?;
                Some(Placement { layer: Some(layer.name.clone()), captures })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_domain_and_module() {
        let p = PathPattern::compile("backend/app/hoc/cus/{domain}/L6_drivers/**/{module}.py").unwrap();
        let caps = p.captures("backend/app/hoc/cus/billing/L6_drivers/invoice_driver.py").unwrap();
        assert_eq!(caps["domain"], "billing");
        assert_eq!(caps["module"], "invoice_driver");
        let caps = p.captures("backend/app/hoc/cus/billing/L6_drivers/sub/x.py").unwrap();
        assert_eq!(caps["module"], "x");
        assert!(p.captures("backend/app/hoc/cus/billing/L5_engines/x.py").is_none());
    }

    #[test]
    fn first_matching_layer_wins() {
        let config = vec![
            ("l2".to_string(), vec!["api/{domain}/{module}.py".to_string(), "api/**".to_string()]),
            ("a".to_string(), vec!["**/*.py".to_string()]),
        ];
        let layers = Layers::compile(&config).unwrap();
        assert_eq!(layers.classify("lib/y.py").layer.as_deref(), Some("a"));
        let layers = Layers::compile(&config[..1]).unwrap();
        assert_eq!(layers.classify("api/a/b.py").captures["domain"], "a");
        assert_eq!(layers.classify("api/x.py").layer.as_deref(), Some("l2"));
        assert_eq!(layers.classify("lib/x.py"), Placement::default());
    }

    #[test]
    fn bad_capture_names_are_errors() {
        assert!(PathPattern::compile("a/{do-main}/x.py").is_err());
        assert!(PathPattern::compile("a/{domain/x.py").is_err());
    }
}
