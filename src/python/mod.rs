//! Python source files: decoding, parsing with tree-sitter, line/column positions and module names.

pub mod calls;
pub mod scope;

use std::ops::Range;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tree_sitter::{Language, Node, Parser, Tree};

/// The tree-sitter grammar every part of strata parses Python with.
pub fn language() -> Language {
    tree_sitter_python::LANGUAGE.into()
}

/// Why a file could not be analysed; such files are skipped with a warning, never fatal.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SourceError {
    #[error("not valid UTF-8 (byte {0}); strata only reads UTF-8 Python files")]
    NotUtf8(usize),
    #[error("syntax error at line {line}, column {column}; fix the file or exclude it")]
    Syntax { line: usize, column: usize },
    #[error("tree-sitter failed to parse the file")]
    ParserFailed,
}

/// A parsed Python file: its text, tree and where it lives in the project.
pub struct SourceFile {
    /// Path relative to the project root, with `/` separators (used in output and layer matching).
    pub rel_path: String,
    pub abs_path: PathBuf,
    pub text: String,
    pub tree: Tree,
    line_starts: Vec<usize>,
    /// Top-level bindings, computed on first use: resolving each of many calls into one file must
    /// not walk the whole module each time.
    bindings: std::sync::OnceLock<Vec<scope::ModuleBinding>>,
    /// Bindings inside functions by function start, computed on first use (see `calls`).
    locals: std::sync::Mutex<std::collections::HashMap<usize, std::sync::Arc<Vec<calls::LocalBinding>>>>,
}

impl SourceFile {
    /// Decodes and parses `bytes`; a leading BOM is kept in `text` so byte offsets match the file.
    pub fn parse(rel_path: String, abs_path: PathBuf, bytes: Vec<u8>) -> Result<Self, SourceError> {
        let text = String::from_utf8(bytes).map_err(|e| SourceError::NotUtf8(e.utf8_error().valid_up_to()))?;
        let tree = parse_text(&text)?;
        if let Some(bad) = first_error(tree.root_node()) {
            let pos = bad.start_position();
            return Err(SourceError::Syntax { line: pos.row + 1, column: pos.column + 1 });
        }
        Ok(Self::from_parts(rel_path, abs_path, text, tree))
    }

    fn from_parts(rel_path: String, abs_path: PathBuf, text: String, tree: Tree) -> Self {
        let line_starts = line_starts(&text);
        SourceFile {
            rel_path,
            abs_path,
            text,
            tree,
            line_starts,
            bindings: std::sync::OnceLock::new(),
            locals: Default::default(),
        }
    }

    /// The names bound at the top level of the module, in source order.
    pub fn module_bindings(&self) -> &[scope::ModuleBinding] {
        self.bindings.get_or_init(|| scope::module_bindings(&self.tree, self.bytes()))
    }

    pub fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    pub fn node_text(&self, node: Node) -> &str {
        &self.text[node.byte_range()]
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self.text[start..offset.min(self.text.len())].chars().count() + 1;
        (line + 1, column)
    }

    /// Byte range of the whole line(s) containing `range`, including the line break.
    pub fn line_range(&self, range: Range<usize>) -> Range<usize> {
        let start = self.text[..range.start].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[range.end..].find('\n').map_or(self.text.len(), |i| range.end + i + 1);
        start..end
    }

    /// The line break style of the file, so inserted lines match their neighbours.
    pub fn newline(&self) -> &'static str {
        if self.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        }
    }
}

/// Parses text, returning the tree even when it contains errors (callers decide what that means).
pub fn parse_text(text: &str) -> Result<Tree, SourceError> {
    let mut parser = Parser::new();
    parser.set_language(&language()).map_err(|_| SourceError::ParserFailed)?;
    parser.parse(text, None).ok_or(SourceError::ParserFailed)
}

/// True when `text` is syntactically valid Python (used to validate every rewritten file).
pub fn is_valid_python(text: &str) -> bool {
    parse_text(text).is_ok_and(|tree| first_error(tree.root_node()).is_none())
}

/// The first ERROR or MISSING node in document order, if any.
pub fn first_error(root: Node) -> Option<Node> {
    if !root.has_error() {
        return None;
    }
    let mut cursor = root.walk();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            return Some(node);
        }
        if node.has_error() {
            let children: Vec<Node> = node.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
    }
    None
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

/// The dotted module name of a file below one of the import roots (`backend/app/x/y.py` → `app.x.y`).
pub fn module_name(rel_path: &str, import_roots: &[String]) -> Option<String> {
    let path = Path::new(rel_path);
    let under_root = import_roots.iter().find_map(|root| {
        if root.is_empty() || root == "." {
            Some(path)
        } else {
            path.strip_prefix(root).ok()
        }
    })?;
    let mut parts: Vec<String> =
        under_root.with_extension("").components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|last| last == "__init__") {
        parts.pop();
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

/// Resolves a possibly relative module reference (`..models`) against the importing module.
pub fn resolve_module(reference: &str, importer: &str, importer_is_package: bool) -> String {
    let level = reference.chars().take_while(|c| *c == '.').count();
    if level == 0 {
        return reference.to_string();
    }
    let mut base: Vec<&str> = importer.split('.').collect();
    // A module's package is its parent; a package (`__init__`) is its own package.
    let drop = if importer_is_package { level - 1 } else { level };
    base.truncate(base.len().saturating_sub(drop));
    let rest = &reference[level..];
    if !rest.is_empty() {
        base.push(rest);
    }
    base.join(".")
}

/// The absolute module an import in `file` (module `importer`) names: `level` leading dots
/// resolved against the file's package; `None` for a relative import outside the import roots.
pub fn absolute_import(file: &SourceFile, importer: Option<&str>, module: &str, level: usize) -> Option<String> {
    if level == 0 {
        return Some(module.to_string());
    }
    let reference = format!("{}{module}", ".".repeat(level));
    Some(resolve_module(&reference, importer?, file.rel_path.ends_with("__init__.py")))
}

/// Statement-level node kinds: the units that delete/insert fixes and extraction work on.
pub fn is_statement(node: Node) -> bool {
    node.parent().is_some_and(|p| matches!(p.kind(), "module" | "block"))
}

/// The innermost statement containing `node` (the node itself when it is one).
pub fn enclosing_statement(node: Node) -> Option<Node> {
    let mut current = Some(node);
    while let Some(n) = current {
        if is_statement(n) {
            return Some(n);
        }
        current = n.parent();
    }
    None
}

/// The innermost function definition containing `node`.
pub fn enclosing_function(node: Node) -> Option<Node> {
    let mut current = node.parent();
    while let Some(n) = current {
        if n.kind() == "function_definition" {
            return Some(n);
        }
        current = n.parent();
    }
    None
}

/// `(function, class)` around `node`: `Class.method` or `function` (empty when at module level),
/// and the innermost class name (empty when none).
pub fn enclosing_names(file: &SourceFile, node: Node) -> (String, String) {
    let name_of = |n: Node| n.child_by_field_name("name").map(|id| file.node_text(id).to_string());
    let function = enclosing_function(node).and_then(|f| name_of(f).map(|name| (f, name)));
    let class = std::iter::successors(node.parent(), |n| n.parent()).find(|n| n.kind() == "class_definition");
    let class_name = class.and_then(name_of).unwrap_or_default();
    let function_name = match function {
        Some((f, name)) if class.is_some_and(|c| f.parent().and_then(|b| b.parent()) == Some(c)) => {
            format!("{class_name}.{name}")
        }
        Some((_, name)) => name,
        None => String::new(),
    };
    (function_name, class_name)
}

/// The top-level definition of `kind` (`function_definition`, `class_definition`) named `name`,
/// looking through decorators.
pub fn top_level_definition<'t>(file: &'t SourceFile, kind: &str, name: &str) -> Option<Node<'t>> {
    let root = file.tree.root_node();
    let mut cursor = root.walk();
    let found = root.named_children(&mut cursor).find_map(|s| {
        let def = if s.kind() == "decorated_definition" { s.child_by_field_name("definition")? } else { s };
        (def.kind() == kind && def.child_by_field_name("name").is_some_and(|n| file.node_text(n) == name))
            .then_some(def)
    });
    found
}

/// Pre-order walk over every node below `root` (inclusive), in document order.
pub fn for_each_node<'t>(root: Node<'t>, mut visit: impl FnMut(Node<'t>)) {
    let mut cursor = root.walk();
    loop {
        visit(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node().id() == root.id() {
                return;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// The name of a function's first parameter, whatever its form (`p`, `p: T`, `p=1`, `p: "T" = 1`).
pub fn first_parameter(file: &SourceFile, function: Node) -> Option<String> {
    let params = function.child_by_field_name("parameters")?;
    let mut cursor = params.walk();
    let first = params.named_children(&mut cursor).find(|p| p.kind() != "comment")?;
    parameter_name(file, first)
}

pub fn parameter_name(file: &SourceFile, param: Node) -> Option<String> {
    match param.kind() {
        "identifier" => Some(file.node_text(param).to_string()),
        "default_parameter" | "typed_default_parameter" => {
            param.child_by_field_name("name").map(|n| file.node_text(n).to_string())
        }
        "typed_parameter" => {
            let mut cursor = param.walk();
            let found = param.named_children(&mut cursor).find(|c| c.kind() == "identifier");
            found.map(|n| file.node_text(n).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_follow_import_roots() {
        let roots = vec!["backend".to_string()];
        assert_eq!(module_name("backend/app/x/y.py", &roots).as_deref(), Some("app.x.y"));
        assert_eq!(module_name("backend/app/x/__init__.py", &roots).as_deref(), Some("app.x"));
        assert_eq!(module_name("other/z.py", &roots), None);
    }

    #[test]
    fn relative_imports_resolve_against_the_package() {
        assert_eq!(resolve_module("..models", "app.api.cus.widgets", false), "app.api.models");
        assert_eq!(resolve_module(".", "app.api.cus.widgets", false), "app.api.cus");
        assert_eq!(resolve_module(".x", "app.pkg", true), "app.pkg.x");
        assert_eq!(resolve_module("app.db", "app.pkg", false), "app.db");
    }

    #[test]
    fn syntax_errors_and_bad_encoding_are_reported_with_position() {
        let err = SourceFile::parse("a.py".into(), "a.py".into(), b"def f(:\n  pass\n".to_vec()).err();
        assert!(matches!(err, Some(SourceError::Syntax { line: 1, .. })), "{err:?}");
        let err = SourceFile::parse("a.py".into(), "a.py".into(), vec![b'x', 0xff]).err();
        assert_eq!(err, Some(SourceError::NotUtf8(1)));
    }

    #[test]
    fn line_col_counts_characters() {
        let file = SourceFile::parse("a.py".into(), "a.py".into(), "x = 'é'\ny = 1\n".as_bytes().to_vec()).unwrap();
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(file.text.find('y').unwrap()), (2, 1));
        assert_eq!(file.line_col(file.text.find('\'').unwrap() + 3), (1, 7));
    }
}
