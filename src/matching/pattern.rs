//! Code patterns in Python syntax with `$X` (one node) and `$$$XS` (a sequence) metavariables.

use std::borrow::Cow;

use thiserror::Error;
use tree_sitter::Node;

use crate::python;

const VAR_PREFIX: &str = "__strata_var_";
const SEQ_PREFIX: &str = "__strata_seq_";

/// A pattern that does not compile, with the 1-based position inside the pattern text.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid pattern `{pattern}` at line {line}, column {column}: {message}")]
pub struct PatternError {
    pub pattern: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One node of a compiled pattern; owned, so compiled recipes can be shared across threads.
#[derive(Debug, Clone)]
enum PNode {
    /// `$X`: any single node (`$_` binds nothing).
    Var(String),
    /// `$$$XS`: zero or more sibling nodes.
    Seq(String),
    /// A node without children (identifier, number, operator keyword...): kind and text must agree.
    Leaf { kind: &'static str, text: String },
    /// An inner node: kind, its significant anonymous tokens (operators, keywords) and its named children.
    Inner { kind: &'static str, tokens: Vec<String>, children: Vec<PNode> },
}

/// A compiled structural pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: PNode,
}

/// A metavariable's value: one node or a run of sibling nodes.
#[derive(Debug, Clone)]
pub enum Bound<'t> {
    Node(Node<'t>),
    Seq(Vec<Node<'t>>),
}

/// Metavariable bindings of one match; small, so a vector beats a map.
#[derive(Debug, Clone, Default)]
pub struct Bindings<'t> {
    entries: Vec<(String, Bound<'t>)>,
}

impl<'t> Bindings<'t> {
    pub fn get(&self, name: &str) -> Option<&Bound<'t>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, b)| b)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bound<'t>)> {
        self.entries.iter().map(|(n, b)| (n.as_str(), b))
    }

    pub fn insert(&mut self, name: String, bound: Bound<'t>) {
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, bound));
    }

    /// The code of a binding (a sequence spans from its first to its last node), as one logical
    /// line: however the source splits it over lines (`session \\` newline `.commit()`),
    /// constraints and templates see `session` (see [`python::code_text`]).
    pub fn text<'s>(&self, name: &str, source: &'s str) -> Option<Cow<'s, str>> {
        self.get(name).map(|b| match b {
            Bound::Node(n) => python::code_text(source, std::slice::from_ref(n)),
            Bound::Seq(nodes) => python::code_text(source, nodes),
        })
    }
}

impl Pattern {
    pub fn compile(source: &str) -> Result<Self, PatternError> {
        let (rewritten, offsets) = substitute_metavariables(source);
        let error = |offset: usize, message: &str| {
            let original = map_offset(&offsets, offset).min(source.len());
            let line = source[..original].matches('\n').count() + 1;
            let column = source[..original].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            PatternError { pattern: source.to_string(), line, column, message: message.to_string() }
        };
        let tree = python::parse_text(&rewritten).map_err(|e| error(0, &e.to_string()))?;
        if let Some(bad) = python::first_error(tree.root_node()) {
            if bad.is_missing() {
                return Err(error(bad.start_byte(), &format!("missing `{}`", bad.kind())));
            }
            // An ERROR node spans what could not be parsed; its last token is where parsing gave up.
            let mut last = bad;
            while let Some(child) = last.child(last.child_count().saturating_sub(1)) {
                last = child;
            }
            let text = restore_names(&rewritten[last.byte_range()]);
            return Err(error(last.start_byte(), &format!("unexpected `{text}`")));
        }
        if let Some(bad) = misplaced_metavariable(tree.root_node(), &rewritten) {
            let text = restore_names(&rewritten[bad.byte_range()]);
            return Err(error(
                bad.start_byte(),
                &format!("a metavariable inside `{text}`: `$X` and `$$$XS` stand for whole nodes, never part of a name or string"),
            ));
        }
        let root = unwrap_root(tree.root_node()).ok_or_else(|| error(0, "the pattern is empty"))?;
        let root = build(root, rewritten.as_bytes());
        if matches!(root, PNode::Var(_) | PNode::Seq(_)) {
            return Err(error(0, "a pattern cannot be a lone metavariable; use `kind` to match any node of a kind"));
        }
        Ok(Pattern { root })
    }

    /// The node kind every match has, used to skip nodes cheaply.
    pub fn root_kind(&self) -> Option<&'static str> {
        match &self.root {
            PNode::Leaf { kind, .. } | PNode::Inner { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Identifiers every matching file must contain: the literal prefilter.
    pub fn literals(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_literals(&self.root, &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Names of the metavariables the pattern binds.
    pub fn metavariables(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_vars(&self.root, &mut out);
        out
    }

    /// Matches the pattern at exactly `node`, extending `env`; `env` is left unchanged on failure.
    pub fn match_node<'t>(&self, node: Node<'t>, source: &str, env: &mut Bindings<'t>) -> bool {
        let mut trial = env.clone();
        if match_one(&self.root, node, source, &mut trial) {
            *env = trial;
            true
        } else {
            false
        }
    }
}

/// Replaces `$X`/`$$$X` by identifiers tree-sitter accepts; returns the text and an offset map.
fn substitute_metavariables(source: &str) -> (String, Vec<(usize, usize)>) {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len() + 32);
    // (offset in rewritten text, offset in original) at each substitution boundary.
    let mut offsets = vec![(0, 0)];
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let seq = source[i..].starts_with("$$$");
            let name_start = if seq { i + 3 } else { i + 1 };
            let name_len = source[name_start..]
                .bytes()
                .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
                .count();
            if seq || name_len > 0 {
                let name = &source[name_start..name_start + name_len];
                offsets.push((out.len(), i));
                out.push_str(if seq { SEQ_PREFIX } else { VAR_PREFIX });
                out.push_str(if name.is_empty() { "_" } else { name });
                i = name_start + name_len;
                offsets.push((out.len(), i));
                continue;
            }
        }
        let ch = source[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    (out, offsets)
}

/// `$X` and `$$$XS` again where the rewritten text has the identifiers that stand for them, so
/// internal names never reach a message.
fn restore_names(text: &str) -> String {
    text.replace(SEQ_PREFIX, "$$$").replace(VAR_PREFIX, "$").replace("$$$_", "$$$")
}

/// A name or string that contains a metavariable without being one (`foo$X`, `"$X"`).
fn misplaced_metavariable<'t>(root: Node<'t>, rewritten: &str) -> Option<Node<'t>> {
    let mut found = None;
    python::for_each_node(root, |node| {
        let text = &rewritten[node.byte_range()];
        let inside = text.contains(VAR_PREFIX) || text.contains(SEQ_PREFIX);
        let misplaced = match node.kind() {
            "identifier" => inside && !text.starts_with(VAR_PREFIX) && !text.starts_with(SEQ_PREFIX),
            "string_content" => inside,
            _ => false,
        };
        if misplaced && found.is_none() {
            found = Some(node);
        }
    });
    found
}

fn map_offset(offsets: &[(usize, usize)], rewritten: usize) -> usize {
    let (new, old) = offsets.iter().rev().find(|(new, _)| *new <= rewritten).copied().unwrap_or((0, 0));
    old + (rewritten - new)
}

/// Strips the `module` and single-statement wrappers so `foo($X)` is a call, not a module.
fn unwrap_root(root: Node) -> Option<Node> {
    let mut node = root;
    loop {
        let children = significant_children(node);
        match (node.kind(), children.as_slice()) {
            ("module", [only]) => node = *only,
            ("module", _) => return None,
            ("expression_statement", [only]) => node = *only,
            _ => return Some(node),
        }
    }
}

/// Named children without comments and line continuations (extras the grammar allows anywhere):
/// what a pattern's structure is compared on, so code split over lines matches.
fn significant_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).filter(|c| !c.is_extra()).collect()
}

/// Anonymous tokens that change meaning (operators, `async`, `not`...), ignoring punctuation.
fn significant_tokens(node: Node, source: &[u8]) -> Vec<String> {
    let mut cursor = node.walk();
    node.children(&mut cursor)
        .filter(|c| !c.is_named() && !matches!(c.kind(), "," | "(" | ")" | "[" | "]" | "{" | "}" | ":" | ";"))
        .map(|c| String::from_utf8_lossy(&source[c.byte_range()]).into_owned())
        .collect()
}

fn metavariable(node: Node, source: &[u8]) -> Option<PNode> {
    if node.kind() != "identifier" {
        return None;
    }
    let text = std::str::from_utf8(&source[node.byte_range()]).ok()?;
    if let Some(name) = text.strip_prefix(SEQ_PREFIX) {
        return Some(PNode::Seq(name.to_string()));
    }
    text.strip_prefix(VAR_PREFIX).map(|name| PNode::Var(name.to_string()))
}

/// Wrappers that vanish around a lone metavariable, so `$M` stands for a whole dotted name or statement.
fn is_transparent_wrapper(kind: &str) -> bool {
    matches!(kind, "expression_statement" | "dotted_name")
}

fn build(node: Node, source: &[u8]) -> PNode {
    if let Some(var) = metavariable(node, source) {
        return var;
    }
    let children = significant_children(node);
    if is_transparent_wrapper(node.kind()) {
        if let [only] = children.as_slice() {
            if let Some(var) = metavariable(*only, source) {
                return var;
            }
        }
    }
    if node.child_count() == 0 {
        return PNode::Leaf {
            kind: node.kind(),
            text: String::from_utf8_lossy(&source[node.byte_range()]).into_owned(),
        };
    }
    PNode::Inner {
        kind: node.kind(),
        tokens: significant_tokens(node, source),
        children: children.into_iter().map(|c| build(c, source)).collect(),
    }
}

fn collect_literals(node: &PNode, out: &mut Vec<String>) {
    match node {
        PNode::Leaf { kind: "identifier", text } => out.push(text.clone()),
        PNode::Inner { children, .. } => children.iter().for_each(|c| collect_literals(c, out)),
        _ => {}
    }
}

fn collect_vars(node: &PNode, out: &mut Vec<String>) {
    match node {
        PNode::Var(name) | PNode::Seq(name) if name != "_" && !out.contains(name) => out.push(name.clone()),
        PNode::Inner { children, .. } => children.iter().for_each(|c| collect_vars(c, out)),
        _ => {}
    }
}

/// Whether two nodes are the same code, however each is split over lines.
fn same_text(a: Node, b: Node, source: &str) -> bool {
    source[a.byte_range()] == source[b.byte_range()]
        || python::code_text(source, &[a]) == python::code_text(source, &[b])
}

fn match_one<'t>(pattern: &PNode, node: Node<'t>, source: &str, env: &mut Bindings<'t>) -> bool {
    match pattern {
        PNode::Var(name) => bind_node(name, node, source, env),
        PNode::Seq(name) => bind_seq(name, vec![node], source, env),
        PNode::Leaf { kind, text } => node.kind() == *kind && &source[node.byte_range()] == text,
        PNode::Inner { kind, tokens, children } => {
            node.kind() == *kind
                && significant_tokens(node, source.as_bytes()) == *tokens
                && match_seq(children, &significant_children(node), source, env)
        }
    }
}

fn bind_node<'t>(name: &str, node: Node<'t>, source: &str, env: &mut Bindings<'t>) -> bool {
    if name == "_" {
        return true;
    }
    match env.get(name) {
        Some(Bound::Node(prev)) => same_text(*prev, node, source),
        Some(Bound::Seq(_)) => false,
        None => {
            env.insert(name.to_string(), Bound::Node(node));
            true
        }
    }
}

fn bind_seq<'t>(name: &str, nodes: Vec<Node<'t>>, source: &str, env: &mut Bindings<'t>) -> bool {
    if name == "_" {
        return true;
    }
    match env.get(name) {
        Some(Bound::Seq(prev)) => {
            prev.len() == nodes.len() && prev.iter().zip(&nodes).all(|(a, b)| same_text(*a, *b, source))
        }
        Some(Bound::Node(_)) => false,
        None => {
            env.insert(name.to_string(), Bound::Seq(nodes));
            true
        }
    }
}

/// Matches pattern children against node children; `$$$XS` takes as few nodes as lets the rest match.
fn match_seq<'t>(patterns: &[PNode], nodes: &[Node<'t>], source: &str, env: &mut Bindings<'t>) -> bool {
    let Some((first, rest)) = patterns.split_first() else {
        return nodes.is_empty();
    };
    if let PNode::Seq(name) = first {
        for take in 0..=nodes.len() {
            let mut trial = env.clone();
            if bind_seq(name, nodes[..take].to_vec(), source, &mut trial)
                && match_seq(rest, &nodes[take..], source, &mut trial)
            {
                *env = trial;
                return true;
            }
        }
        return false;
    }
    let Some((node, others)) = nodes.split_first() else {
        return false;
    };
    match_one(first, *node, source, env) && match_seq(rest, others, source, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, code: &str) -> Vec<String> {
        let pattern = Pattern::compile(pattern).unwrap();
        let tree = python::parse_text(code).unwrap();
        let mut found = Vec::new();
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            let mut env = Bindings::default();
            if pattern.match_node(node, code, &mut env) {
                found.push(code[node.byte_range()].to_string());
            }
            let mut cursor = node.walk();
            stack.extend(node.children(&mut cursor));
        }
        found.reverse();
        found
    }

    #[test]
    fn receivers_and_argument_sequences() {
        let code = "await session.execute(select(A))\nregistry.execute('x', ctx)\ndb.execute()\n";
        assert_eq!(matches("$R.execute($$$ARGS)", code).len(), 3);
        assert_eq!(matches("$R.execute($A)", code), vec!["session.execute(select(A))"]);
        assert_eq!(matches("$R.execute()", code), vec!["db.execute()"]);
    }

    #[test]
    fn repeated_metavariables_must_agree() {
        let code = "a = a + 1\nb = c + 1\n";
        assert_eq!(matches("$X = $X + 1", code), vec!["a = a + 1"]);
    }

    #[test]
    fn operators_and_keywords_are_significant() {
        assert_eq!(matches("$A + $B", "x - y\nx + y\n"), vec!["x + y"]);
        let code = "async with s() as t:\n    pass\nwith s() as t:\n    pass\n";
        assert_eq!(matches("with $C as $T:\n    $$$B", code).len(), 1);
        assert_eq!(matches("async with $C as $T:\n    $$$B", code).len(), 1);
    }

    #[test]
    fn comments_strings_and_docstrings_never_match() {
        let code = "# session.execute(x)\n\"\"\"session.execute(x)\"\"\"\ns = f'{1} session.execute(x)'\n";
        assert!(matches("$R.execute($$$A)", code).is_empty());
    }

    #[test]
    fn dotted_names_and_decorated_functions() {
        let code = "from a.b.c import d, e\n@router.get('/x')\nasync def f(q):\n    return q\n";
        assert_eq!(matches("from $M import $$$N", code).len(), 1);
        let decorated = "@router.$VERB($$$A)\nasync def $F($$$P):\n    $$$BODY";
        assert_eq!(matches(decorated, code).len(), 1);
    }

    #[test]
    fn invalid_patterns_report_their_position() {
        let err = Pattern::compile("$R.execute(").unwrap_err();
        assert_eq!((err.line, err.column), (1, 11), "{err}");
        let err = Pattern::compile("foo(\n  $X,, )").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(Pattern::compile("$X").is_err());
    }

    #[test]
    fn errors_never_show_internal_names() {
        for source in ["$X $Y", "foo($$$ARGS $X)", "$R.execute($$$", "\"$X\" + 1", "foo$X(1)", "$$$ A B"] {
            let err = Pattern::compile(source).unwrap_err().to_string();
            assert!(!err.contains("__strata"), "{source}: {err}");
        }
        let err = Pattern::compile("f(\"$X\")").unwrap_err();
        assert!(err.message.contains("whole nodes"), "{err}");
    }

    #[test]
    fn code_split_over_lines_matches_and_binds_one_line() {
        let code = "session \\\n    .commit()\n(await session\n    .rollback())\nx = f(a,\n      b)\n";
        let pattern = Pattern::compile("$RECV.$METHOD($$$ARGS)").unwrap();
        let tree = python::parse_text(code).unwrap();
        let mut receivers = Vec::new();
        python::for_each_node(tree.root_node(), |node| {
            let mut env = Bindings::default();
            if pattern.match_node(node, code, &mut env) {
                receivers.push(format!("{}.{}", env.text("RECV", code).unwrap(), env.text("METHOD", code).unwrap()));
            }
        });
        assert_eq!(receivers, vec!["session.commit", "session.rollback"]);
        let args = Pattern::compile("f($$$ARGS)").unwrap();
        let mut bound = Vec::new();
        python::for_each_node(tree.root_node(), |node| {
            let mut env = Bindings::default();
            if args.match_node(node, code, &mut env) {
                bound.push(env.text("ARGS", code).unwrap().into_owned());
            }
        });
        assert_eq!(bound, vec!["a, b"]);
        assert_eq!(matches("g($X) + g($X)", "y = g(a\n  .b) + g(a.b)\n"), vec!["g(a\n  .b) + g(a.b)"]);
    }

    #[test]
    fn literals_exclude_metavariables() {
        let pattern = Pattern::compile("$R.execute($$$A)").unwrap();
        assert_eq!(pattern.literals(), vec!["execute".to_string()]);
    }
}
