//! What Python 3.12's own parser rejects but tree-sitter-python accepts: the grammar also parses
//! Python 2 (`print x`, `exec code`, `<>`, backticks, `except E, e:`, `0777`, `10L`, `ur""`) and
//! leaves rules to the compiler that CPython's parser enforces (argument order, assignment
//! targets, literal syntax, tabs mixed with spaces). A file with any of these is skipped, as Python
//! would refuse to import it; one walk over the tree, no Python process.

use std::sync::OnceLock;

use regex::Regex;
use tree_sitter::Node;

/// The first construct of a parsed file that Python 3 rejects: what it is and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The construct (`Python 2 print statement`).
    pub what: String,
    /// What Python 3 has instead, or why it refuses it; may be empty.
    pub hint: String,
    pub offset: usize,
}

/// The first construct under `root` (a tree without ERROR nodes) that Python 3.12 rejects.
pub fn check(root: Node, text: &str) -> Option<Rejection> {
    let mut checker = Checker { text, flufl: text.contains("barry_as_FLUFL"), found: None };
    let lines = tabs_in_indentation(text).then(Vec::new);
    let mut lines = lines;
    let mut cursor = root.walk();
    'walk: loop {
        let node = cursor.node();
        checker.visit(node);
        if checker.found.is_some() {
            break;
        }
        if let Some(starts) = lines.as_mut() {
            if starts_logical_line(node, text) {
                starts.push(node.start_byte());
            }
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
        }
    }
    let found = checker.found;
    let tabs = lines.and_then(|starts| inconsistent_indentation(text, starts));
    match (found, tabs) {
        (Some(a), Some(b)) => Some(if b.offset < a.offset { b } else { a }),
        (a, b) => a.or(b),
    }
}

struct Checker<'s> {
    text: &'s str,
    /// `from __future__ import barry_as_FLUFL` makes `<>` Python 3 again.
    flufl: bool,
    found: Option<Rejection>,
}

impl Checker<'_> {
    fn reject(&mut self, node: Node, what: String) {
        self.reject_with(node, what, "");
    }

    fn reject_with(&mut self, node: Node, what: String, hint: &str) {
        if self.found.is_none() {
            self.found = Some(Rejection { what, hint: hint.to_string(), offset: node.start_byte() });
        }
    }

    fn text(&self, node: Node) -> &str {
        &self.text[node.byte_range()]
    }

    fn visit(&mut self, node: Node) {
        // Most nodes are of no interest: one table lookup by kind id skips them.
        if !interesting(node) {
            return;
        }
        let first_child = |kind: &str| node.named_child(0).is_some_and(|c| c.kind() == kind);
        match node.kind() {
            "print_statement" | "exec_statement" => self.py2_statement(node),
            "<>" if !node.is_named() && !self.flufl => {
                self.reject_with(node, "Python 2 comparison `<>`".into(), "write `!=`")
            }
            "string_start" => self.string_prefix(node),
            "string" => self.bytes_content(node),
            "concatenated_string" => self.mixed_strings(node),
            "integer" | "float" => self.number(node),
            "identifier" if matches!(self.text(node), "async" | "await") => {
                let what = format!("`{}` used as a name", self.text(node));
                self.reject_with(node, what, "a keyword since Python 3.7");
            }
            "except_clause" if has_token(node, ",") => {
                self.reject_with(node, "Python 2 `except E, name:`".into(), "write `except E as name:`")
            }
            "raise_statement" if first_child("expression_list") => {
                self.reject_with(node, "Python 2 `raise E, value`".into(), "write `raise E(value)`")
            }
            "parameters" | "lambda_parameters" => self.parameters(node),
            "argument_list" => self.arguments(node),
            "generator_expression" if has_token(node, ",") => {
                let what = "an unparenthesized generator expression".into();
                self.reject_with(node, what, "give it its own parentheses")
            }
            "for_in_clause" => {
                let mut cursor = node.walk();
                let right = node.children_by_field_name("right", &mut cursor).count();
                if right > 1 || has_token(node, ",") {
                    self.reject(node, "a comprehension over an unparenthesized tuple (`for x in a, b`)".into());
                }
            }
            "delete_statement" => {
                if let Some(bad) = node.named_child(0).and_then(|t| invalid_target(t, true)) {
                    self.reject(bad, format!("`del` of {}", describe(bad)));
                }
            }
            "augmented_assignment" => {
                if let Some(left) = node.child_by_field_name("left").filter(|l| !single_target(*l)) {
                    self.reject(left, format!("augmented assignment to {}", describe(left)));
                }
            }
            "assignment" if node.child_by_field_name("type").is_some() => {
                if let Some(left) = node.child_by_field_name("left").filter(|l| !single_target(*l)) {
                    let what = format!("an annotation of {}", describe(left));
                    self.reject_with(left, what, "only a single target can be annotated");
                }
            }
            "as_pattern_target" => {
                let in_with = node.parent().and_then(|p| p.parent()).is_some_and(|p| p.kind() == "with_item");
                if let Some(bad) = node.named_child(0).filter(|_| in_with).and_then(|t| invalid_target(t, false)) {
                    self.reject(bad, format!("`with ... as` assigning to {}", describe(bad)));
                }
            }
            "expression_statement" if first_child("named_expression") => {
                self.reject(node, "an unparenthesized `:=` as a statement".into())
            }
            "import_statement" | "import_from_statement" => {
                let last = node.child(node.child_count().saturating_sub(1));
                if last.is_some_and(|c| !c.is_named() && c.kind() == ",") {
                    self.reject(node, "a trailing comma in an import without parentheses".into());
                }
            }
            "type_conversion" if !matches!(self.text(node), "!r" | "!s" | "!a") => {
                let what = format!("f-string conversion `{}`", self.text(node));
                self.reject_with(node, what, "only !r, !s and !a exist");
            }
            _ => {}
        }
    }

    /// `print x` and `exec code`: Python 2 unless the text reads as a Python 3 expression too
    /// (`print >> f, x` is a shift and a tuple there).
    fn py2_statement(&mut self, node: Node) {
        let text = self.text(node);
        let keyword = if node.kind() == "print_statement" { "print" } else { "exec" };
        let Some(rest) = text.strip_prefix(keyword) else { return };
        let renamed = format!("{}{rest}", "_".repeat(keyword.len()));
        let expression = super::parse_text(&renamed).is_ok_and(|tree| {
            let root = tree.root_node();
            !root.has_error() && root.named_child(0).is_some_and(|s| s.kind() == "expression_statement")
        });
        if !expression {
            let call = if keyword == "print" { "print(...)" } else { "exec(...)" };
            self.reject_with(node, format!("Python 2 {keyword} statement"), &format!("call {call}"));
        }
    }

    fn string_prefix(&mut self, node: Node) {
        let text = self.text(node);
        if text.starts_with('`') {
            self.reject_with(node, "Python 2 backtick repr".into(), "write `repr(...)`");
            return;
        }
        let prefix = text.trim_end_matches(['"', '\'']).to_ascii_lowercase();
        if !matches!(prefix.as_str(), "" | "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf") {
            let what = if prefix.contains('u') {
                format!("Python 2 string prefix `{prefix}`")
            } else {
                format!("string prefix `{prefix}`")
            };
            self.reject(node, what);
        }
    }

    fn bytes_content(&mut self, node: Node) {
        if !string_prefix(node, self.text).contains('b') {
            return;
        }
        let mut cursor = node.walk();
        let content = node.children(&mut cursor).find(|c| c.kind() == "string_content" && !self.text(*c).is_ascii());
        if let Some(content) = content {
            self.reject(content, "a bytes literal with non-ASCII characters".into());
        }
    }

    fn mixed_strings(&mut self, node: Node) {
        let mut cursor = node.walk();
        let kinds: Vec<bool> = node
            .named_children(&mut cursor)
            .filter(|c| c.kind() == "string")
            .map(|s| string_prefix(s, self.text).contains('b'))
            .collect();
        if kinds.iter().any(|b| *b) && kinds.iter().any(|b| !*b) {
            self.reject(node, "bytes and str literals joined together".into());
        }
    }

    fn number(&mut self, node: Node) {
        let text = self.text(node);
        let valid = if node.kind() == "integer" { &patterns().integer } else { &patterns().float };
        if valid.is_match(text) {
            return;
        }
        let decimal = !text.starts_with("0x") && !text.starts_with("0X") && node.kind() == "integer";
        if text.ends_with(['l', 'L']) {
            self.reject_with(node, format!("Python 2 long integer `{text}`"), "drop the `L`");
        } else if decimal && text.starts_with('0') && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
            let digits = text.trim_start_matches(['0', '_']);
            self.reject_with(node, format!("Python 2 octal literal `{text}`"), &format!("write `0o{digits}`"));
        } else {
            self.reject(node, format!("invalid number `{text}`"));
        }
    }

    /// Parameter order: no plain parameter after one with a default (before `*`), `*` once and
    /// followed by a named parameter, nothing after `**kwargs`, no Python 2 tuple parameters.
    fn parameters(&mut self, node: Node) {
        let (mut default, mut star, mut bare_star, mut kwargs) = (false, false, false, false);
        let mut cursor = node.walk();
        let params: Vec<Node> = node.named_children(&mut cursor).filter(|c| !c.is_extra()).collect();
        for param in params {
            if kwargs {
                return self.reject(param, "a parameter after `**kwargs`".into());
            }
            let splat = match param.kind() {
                "typed_parameter" => param.named_child(0).map(|c| c.kind()).filter(|k| k.ends_with("splat_pattern")),
                "list_splat_pattern" | "dictionary_splat_pattern" | "keyword_separator" => Some(param.kind()),
                _ => None,
            };
            match (param.kind(), splat) {
                (_, Some("dictionary_splat_pattern")) => {
                    if bare_star {
                        return self.reject(param, "a bare `*` without a named parameter after it".into());
                    }
                    kwargs = true;
                }
                (_, Some(kind)) => {
                    if star {
                        return self.reject(param, "a second `*` parameter".into());
                    }
                    star = true;
                    bare_star = kind == "keyword_separator";
                }
                ("tuple_pattern", _) => {
                    return self.reject_with(param, "Python 2 tuple parameter".into(), "unpack it in the body")
                }
                ("default_parameter" | "typed_default_parameter", _) => {
                    default |= !star;
                    bare_star = false;
                }
                ("identifier" | "typed_parameter", _) => {
                    if default && !star {
                        return self.reject(param, "a parameter without a default after one with a default".into());
                    }
                    bare_star = false;
                }
                ("positional_separator", _) if star => {
                    return self.reject(param, "`/` after `*` in the parameters".into())
                }
                _ => {}
            }
        }
        if bare_star {
            self.reject(node, "a bare `*` without a named parameter after it".into());
        }
    }

    /// Argument order: positional arguments before keyword ones and before `**`, `*` before `**`.
    fn arguments(&mut self, node: Node) {
        let (mut keyword, mut kwsplat) = (false, false);
        let mut cursor = node.walk();
        let args: Vec<Node> = node.named_children(&mut cursor).filter(|c| !c.is_extra()).collect();
        for arg in args {
            match arg.kind() {
                "keyword_argument" => keyword = true,
                "dictionary_splat" => kwsplat = true,
                "list_splat" if kwsplat => {
                    return self.reject(arg, "`*` unpacking after `**` unpacking in a call".into())
                }
                "list_splat" => {}
                _ if keyword || kwsplat => {
                    return self.reject(arg, "a positional argument after a keyword argument".into())
                }
                _ => {}
            }
        }
    }
}

/// The node kinds `visit` looks at (named ones, and the anonymous `<>`).
const KINDS: &[&str] = &[
    "print_statement",
    "exec_statement",
    "string_start",
    "string",
    "concatenated_string",
    "integer",
    "float",
    "identifier",
    "except_clause",
    "raise_statement",
    "parameters",
    "lambda_parameters",
    "argument_list",
    "generator_expression",
    "for_in_clause",
    "delete_statement",
    "augmented_assignment",
    "assignment",
    "as_pattern_target",
    "expression_statement",
    "import_statement",
    "import_from_statement",
    "type_conversion",
];

fn interesting(node: Node) -> bool {
    static TABLE: OnceLock<Vec<bool>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let language = super::language();
        (0..language.node_kind_count())
            .map(|id| {
                let id = id as u16;
                let name = language.node_kind_for_id(id).unwrap_or_default();
                if language.node_kind_is_named(id) {
                    KINDS.contains(&name)
                } else {
                    name == "<>"
                }
            })
            .collect()
    });
    table.get(usize::from(node.kind_id())).copied().unwrap_or(false)
}

struct Patterns {
    integer: Regex,
    float: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let digits = "[0-9](?:_?[0-9])*";
        Patterns {
            integer: Regex::new(&format!(
                "^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?[0-9])*|0(?:_?0)*|{digits}[jJ])$"
            ))
            .expect("constant regex"),
            float: Regex::new(&format!(
                "^(?:(?:{digits})?\\.{digits}|{digits}\\.?)(?:[eE][+-]?{digits})?[jJ]?$"
            ))
            .expect("constant regex"),
        }
    })
}

/// The lowercase prefix letters of a `string` node (`rb`, `f`, empty).
fn string_prefix(string: Node, text: &str) -> String {
    let start = string.child(0).filter(|c| c.kind() == "string_start");
    start.map_or_else(String::new, |s| text[s.byte_range()].trim_end_matches(['"', '\'']).to_ascii_lowercase())
}

fn has_token(node: Node, token: &str) -> bool {
    let mut cursor = node.walk();
    let found = node.children(&mut cursor).any(|c| !c.is_named() && c.kind() == token);
    found
}

/// A name, attribute or subscript, possibly in redundant parentheses.
fn single_target(node: Node) -> bool {
    match node.kind() {
        "identifier" | "attribute" | "subscript" => true,
        "parenthesized_expression" | "tuple_pattern" if !has_token(node, ",") && node.named_child_count() == 1 => {
            node.named_child(0).is_some_and(single_target)
        }
        _ => false,
    }
}

/// The first part of an assignment or `del` target that is not assignable: names, attributes,
/// subscripts and tuples or lists of them (with `*name` where assigning).
fn invalid_target(node: Node, delete: bool) -> Option<Node> {
    match node.kind() {
        "identifier" | "attribute" | "subscript" => None,
        "tuple"
        | "list"
        | "expression_list"
        | "parenthesized_expression"
        | "tuple_pattern"
        | "list_pattern"
        | "pattern_list" => {
            let mut cursor = node.walk();
            let parts: Vec<Node> = node.named_children(&mut cursor).filter(|c| !c.is_extra()).collect();
            parts.into_iter().find_map(|part| invalid_target(part, delete))
        }
        "list_splat" | "list_splat_pattern" if !delete => node.named_child(0).and_then(|t| invalid_target(t, delete)),
        _ => Some(node),
    }
}

fn describe(node: Node) -> String {
    match node.kind() {
        "call" => "a function call".into(),
        "integer" | "float" | "string" | "concatenated_string" | "true" | "false" | "none" => "a literal".into(),
        "list_splat" | "list_splat_pattern" => "a starred expression".into(),
        "tuple" | "pattern_list" | "expression_list" | "tuple_pattern" => "a tuple".into(),
        "list" | "list_pattern" => "a list".into(),
        kind => format!("an expression ({})", kind.replace('_', " ")),
    }
}

/// Whether some line's indentation has a tab (only then can tabs and spaces disagree).
fn tabs_in_indentation(text: &str) -> bool {
    let indentation = |line: &str| line.bytes().take_while(|b| matches!(b, b' ' | b'\t' | b'\x0c')).any(|b| b == b'\t');
    text.as_bytes().contains(&b'\t') && text.split('\n').any(indentation)
}

/// Whether `node` begins a logical line: a statement, a clause (`else:`, `except:`...) or a
/// decorator, with only indentation before it on its line.
fn starts_logical_line(node: Node, text: &str) -> bool {
    let line_opener = node.parent().is_some_and(|p| matches!(p.kind(), "module" | "block"))
        || matches!(
            node.kind(),
            "else_clause"
                | "elif_clause"
                | "except_clause"
                | "except_group_clause"
                | "finally_clause"
                | "case_clause"
                | "decorator"
        )
        || node.parent().is_some_and(|p| p.kind() == "decorated_definition" && node.kind() != "decorator");
    if !line_opener || node.is_extra() {
        return false;
    }
    let line_start = text[..node.start_byte()].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..node.start_byte()].bytes().all(|b| matches!(b, b' ' | b'\t' | b'\x0c'))
}

/// Python's tokenizer check for tabs: indentation measured with tabs of 8 and of 1 columns must
/// order the lines the same way (`TabError: inconsistent use of tabs and spaces`).
fn inconsistent_indentation(text: &str, mut starts: Vec<usize>) -> Option<Rejection> {
    starts.sort_unstable();
    starts.dedup();
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    let mut last_line = usize::MAX;
    for start in starts {
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        if line_start == last_line {
            continue;
        }
        last_line = line_start;
        let (mut col, mut alt) = (0usize, 0usize);
        for b in text[line_start..start].bytes() {
            match b {
                b' ' => (col, alt) = (col + 1, alt + 1),
                b'\t' => (col, alt) = ((col / 8 + 1) * 8, alt + 1),
                _ => (col, alt) = (0, 0),
            }
        }
        let bad = loop {
            let (top, top_alt) = *stack.last().unwrap_or(&(0, 0));
            if col == top {
                break alt != top_alt;
            }
            if col > top {
                if alt <= top_alt {
                    break true;
                }
                stack.push((col, alt));
                break false;
            }
            if stack.len() == 1 {
                break false;
            }
            stack.pop();
        };
        if bad {
            return Some(Rejection {
                what: "indentation that mixes tabs and spaces inconsistently".into(),
                hint: "TabError: indent with spaces only".into(),
                offset: line_start,
            });
        }
    }
    None
}
