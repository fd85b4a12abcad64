//! Python source files: decoding, parsing with tree-sitter, line/column positions and module names.

pub mod calls;
pub mod scope;
mod validity;

use std::borrow::Cow;
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
    /// Bytes strata cannot read as UTF-8 source: the message says what they look like.
    #[error("{0}")]
    Encoding(String),
    #[error("syntax error at line {line}, column {column}; fix the file or exclude it")]
    Syntax { line: usize, column: usize },
    /// Parsed by tree-sitter (which also reads Python 2), but rejected by Python 3's parser.
    #[error("{what} at line {line}, column {column}: Python 3 rejects it{hint}; fix the file or exclude it")]
    NotPython3 { what: String, hint: String, line: usize, column: usize },
    #[error("tree-sitter failed to parse the file")]
    ParserFailed,
}

/// Checks that `bytes` are source strata and Python 3 can both read: UTF-8 without NUL bytes.
/// Cheap (one validation pass), so it runs on every file read, before the literal prefilter.
pub fn check_encoding(bytes: &[u8]) -> Result<(), SourceError> {
    let bom = match bytes {
        [0xff, 0xfe, 0, 0, ..] => Some("UTF-32 (BOM FF FE 00 00)"),
        [0, 0, 0xfe, 0xff, ..] => Some("UTF-32 (BOM 00 00 FE FF)"),
        [0xff, 0xfe, ..] => Some("UTF-16 (BOM FF FE)"),
        [0xfe, 0xff, ..] => Some("UTF-16 (BOM FE FF)"),
        _ => None,
    };
    if let Some(bom) = bom {
        return Err(SourceError::Encoding(format!(
            "{bom}: strata and Python 3 read UTF-8 source only; re-encode the file as UTF-8"
        )));
    }
    let line_of = |offset: usize| bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
    if let Some(nul) = bytes.iter().position(|b| *b == 0) {
        let head = &bytes[..bytes.len().min(200)];
        let zeros_at = |parity: usize| head.iter().enumerate().filter(|(i, b)| i % 2 == parity && **b == 0).count();
        let half = head.len() / 2;
        let reason = if half >= 2 && zeros_at(1) * 4 >= half * 3 {
            "UTF-16LE without a BOM: strata and Python 3 read UTF-8 source only; re-encode the file as UTF-8"
                .to_string()
        } else if half >= 2 && zeros_at(0) * 4 >= half * 3 {
            "UTF-16BE without a BOM: strata and Python 3 read UTF-8 source only; re-encode the file as UTF-8"
                .to_string()
        } else {
            format!("a NUL byte at line {}: Python 3 rejects source with NUL bytes", line_of(nul))
        };
        return Err(SourceError::Encoding(reason));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let reason = match coding_declaration(bytes) {
            Some((coding, line)) if !coding.eq_ignore_ascii_case("utf-8") && !coding.eq_ignore_ascii_case("utf8") => {
                format!("encoded as {coding} (coding declaration on line {line}): strata reads UTF-8 source only; re-encode the file as UTF-8")
            }
            _ => format!(
                "not valid UTF-8 (byte {at}, line {}) and no coding declaration: Python 3 rejects it too; re-encode the file as UTF-8",
                line_of(at)
            ),
        };
        return Err(SourceError::Encoding(reason));
    }
    Ok(())
}

/// The encoding a PEP 263 declaration on one of the first two lines names, with its line.
fn coding_declaration(bytes: &[u8]) -> Option<(String, usize)> {
    let mut lines = bytes.split(|b| *b == b'\n');
    for (i, line) in lines.by_ref().take(2).enumerate() {
        let line = String::from_utf8_lossy(line);
        let Some(comment) = line.trim_start().strip_prefix('#') else { continue };
        if let Some(at) = comment.find("coding") {
            let rest = &comment[at + "coding".len()..];
            let Some(rest) = rest.strip_prefix([':', '=']) else { continue };
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            return (!name.is_empty()).then_some((name, i + 1));
        }
    }
    None
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
    /// Files Python 3 would reject are errors too (see [`rejection`]), even when tree-sitter,
    /// which also reads Python 2, parses them.
    pub fn parse(rel_path: String, abs_path: PathBuf, bytes: Vec<u8>) -> Result<Self, SourceError> {
        check_encoding(&bytes)?;
        let text = String::from_utf8(bytes).map_err(|_| SourceError::Encoding("not valid UTF-8".into()))?;
        let tree = parse_text(&text)?;
        if let Some(error) = rejection(&tree, &text) {
            return Err(error);
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

/// True when `text` is syntactically valid Python 3 (used to validate every rewritten file).
pub fn is_valid_python(text: &str) -> bool {
    parse_text(text).is_ok_and(|tree| rejection(&tree, text).is_none())
}

/// Why Python 3 would not parse `text` (its tree): a syntax error (an ERROR or MISSING node) or a
/// construct tree-sitter accepts and Python 3.12 rejects; `None` when it parses.
pub fn rejection(tree: &Tree, text: &str) -> Option<SourceError> {
    let root = tree.root_node();
    if let Some(bad) = first_error(root) {
        let pos = bad.start_position();
        return Some(SourceError::Syntax { line: pos.row + 1, column: pos.column + 1 });
    }
    let found = validity::check(root, text)?;
    let line_start = text[..found.offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..found.offset].matches('\n').count() + 1;
    let column = text[line_start..found.offset].chars().count() + 1;
    let hint = if found.hint.is_empty() { String::new() } else { format!(" ({})", found.hint) };
    Some(SourceError::NotPython3 { what: found.what, hint, line, column })
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

/// The code of `nodes` (one node, or a run of siblings) as one logical line: line breaks inside
/// brackets and backslash continuations (with the comments between) are joined, so `session \
/// .commit()` reads `session.commit()` and `(await session\n    .rollback())` reads `(await
/// session.rollback())`. Code on one line comes back as written (borrowed), strings are kept
/// whole, and code holding statements (a block) is returned as written.
pub fn code_text<'s>(source: &'s str, nodes: &[Node]) -> Cow<'s, str> {
    let (Some(first), Some(last)) = (nodes.first(), nodes.last()) else { return Cow::Borrowed("") };
    let raw = &source[first.start_byte()..last.end_byte()];
    if !raw.contains(['\n', '\\']) || nodes.iter().any(|n| is_statement(*n)) {
        return Cow::Borrowed(raw);
    }
    let mut tokens: Vec<Range<usize>> = Vec::new();
    let mut pieces: Vec<Node> = nodes.to_vec();
    if let (true, Some(parent)) = (nodes.len() > 1, first.parent()) {
        // The tokens between the siblings (commas) belong to the run too.
        let mut cursor = parent.walk();
        let within = |c: &Node| c.start_byte() >= first.start_byte() && c.end_byte() <= last.end_byte();
        pieces = parent.children(&mut cursor).filter(within).collect();
    }
    for piece in pieces {
        if !collect_tokens(piece, &mut tokens) {
            return Cow::Borrowed(raw);
        }
    }
    let mut out = String::with_capacity(raw.len());
    let mut previous: Option<Range<usize>> = None;
    for token in tokens {
        if let Some(prev) = previous {
            let gap = &source[prev.end..token.start];
            if gap.contains(['\n', '\\', '#']) {
                out.push_str(joint(&source[prev], &source[token.clone()]));
            } else {
                out.push_str(gap);
            }
        }
        out.push_str(&source[token.clone()]);
        previous = Some(token);
    }
    if out == raw {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(out)
    }
}

/// The leaf tokens of `node` in order (a string counts as one token; comments and line
/// continuations as none); false when it holds a block of statements.
fn collect_tokens(node: Node, out: &mut Vec<Range<usize>>) -> bool {
    if node.is_extra() {
        return true;
    }
    match node.kind() {
        "block" => false,
        "string" => {
            out.push(node.byte_range());
            true
        }
        _ if node.child_count() == 0 => {
            out.push(node.byte_range());
            true
        }
        _ => {
            let mut cursor = node.walk();
            let children: Vec<Node> = node.children(&mut cursor).collect();
            children.into_iter().all(|c| collect_tokens(c, out))
        }
    }
}

/// What joins two tokens that a line break separated: nothing around brackets and dots, else a space.
fn joint(prev: &str, next: &str) -> &'static str {
    let word_end = prev.ends_with(|c: char| c.is_alphanumeric() || matches!(c, '_' | ')' | ']' | '}' | '"' | '\''));
    if next.starts_with([')', ']', '}', '.', ',', ':', ';'])
        || prev.ends_with(['(', '[', '{', '.'])
        || (word_end && next.starts_with(['(', '[']))
    {
        ""
    } else {
        " "
    }
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
        assert!(
            matches!(&err, Some(SourceError::Encoding(m)) if m.contains("not valid UTF-8 (byte 1, line 1)")),
            "{err:?}"
        );
    }

    #[test]
    fn line_col_counts_characters() {
        let file = SourceFile::parse("a.py".into(), "a.py".into(), "x = 'é'\ny = 1\n".as_bytes().to_vec()).unwrap();
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(file.text.find('y').unwrap()), (2, 1));
        assert_eq!(file.line_col(file.text.find('\'').unwrap() + 3), (1, 7));
    }
}
