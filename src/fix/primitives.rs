//! Primitive edits on a parsed Python file: delete a statement cleanly, insert beside one, add or
//! remove an import, re-indent text. Recipes declare them; transforms build on them.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use crate::edit::Edit;
use crate::python::SourceFile;

/// The whitespace before `node` on its line, when only whitespace precedes it there.
pub fn indentation(file: &SourceFile, node: Node) -> Option<String> {
    let line_start = file.text[..node.start_byte()].rfind('\n').map_or(0, |i| i + 1);
    let before = &file.text[line_start..node.start_byte()];
    before.chars().all(|c| c == ' ' || c == '\t').then(|| before.to_string())
}

/// Whether `node` has its line(s) to itself (nothing but whitespace or a comment beside it).
fn alone_on_lines(file: &SourceFile, node: Node) -> bool {
    let after_end = file.text[node.end_byte()..].split('\n').next().unwrap_or("");
    let after = after_end.trim_start();
    indentation(file, node).is_some() && (after.is_empty() || after.starts_with('#') || after == "\r")
}

/// Re-indents every non-blank line of `text` from `from` to `to` (lines not starting with `from` keep
/// their relative indentation after the common prefix is swapped).
pub fn reindent(text: &str, from: &str, to: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            if line.trim().is_empty() {
                line.trim_start_matches([' ', '\t']).to_string()
            } else if let Some(rest) = line.strip_prefix(from) {
                format!("{to}{rest}")
            } else {
                line.to_string()
            }
        })
        .collect()
}

/// Indents each line of `text` by `indent`, using the file's line break.
pub fn indent_lines(text: &str, indent: &str, newline: &str) -> String {
    text.lines()
        .map(|line| if line.trim().is_empty() { newline.to_string() } else { format!("{indent}{line}{newline}") })
        .collect()
}

/// Significant (non-comment) statements of a block or module.
pub fn statements(block: Node) -> Vec<Node> {
    let mut cursor = block.walk();
    block.named_children(&mut cursor).filter(|c| c.kind() != "comment").collect()
}

/// Deletes statement `stmt` and everything it means to its block:
/// an `except` block left empty re-raises, an emptied `finally` goes away (a `try` left without
/// handlers is unwrapped), any other emptied block gets `pass`.
pub fn delete_statement(file: &SourceFile, stmt: Node) -> Vec<Edit> {
    delete_statements(file, &[stmt])
}

/// Deletes several sibling statements of one block at once (see [`delete_statement`]).
pub fn delete_statements(file: &SourceFile, stmts: &[Node]) -> Vec<Edit> {
    let Some(first) = stmts.first() else { return Vec::new() };
    let Some(block) = first.parent() else { return Vec::new() };
    let remaining: Vec<Node> =
        statements(block).into_iter().filter(|s| !stmts.iter().any(|d| d.id() == s.id())).collect();
    // `except ...: raise` alone makes its `try` a no-op: unwrap it rather than keep the ceremony.
    if let [only] = remaining.as_slice() {
        let handler = block.parent().filter(|p| p.kind() == "except_clause");
        let try_stmt = handler.and_then(|h| h.parent());
        if only.kind() == "raise_statement" && file.node_text(*only).trim() == "raise" {
            if let Some(edits) = try_stmt.filter(|t| is_single_handler_try(*t)).and_then(|t| unwrap_try(file, t)) {
                return edits;
            }
        }
    }
    if remaining.is_empty() && block.kind() == "block" {
        let parent = block.parent();
        match parent.map(|p| p.kind()) {
            Some("except_clause") | Some("except_group_clause") => return replace_run(stmts, "raise"),
            Some("finally_clause") => {
                if let Some(edits) = parent.and_then(|finally| remove_finally(file, finally)) {
                    return edits;
                }
            }
            _ => {}
        }
        return replace_run(stmts, "pass");
    }
    stmts
        .iter()
        .map(|stmt| {
            if alone_on_lines(file, *stmt) {
                Edit::delete(with_surrounding_blank_line(file, file.line_range(stmt.byte_range())))
            } else {
                Edit::delete(stmt.byte_range())
            }
        })
        .collect()
}

/// Deletes a top-level statement together with the comment lines right above it (its own
/// comment), keeping the spacing between its neighbours.
pub fn delete_with_leading_comments(file: &SourceFile, stmt: Node) -> Vec<Edit> {
    let mut first = stmt;
    while let Some(previous) = first.prev_sibling().filter(|p| p.kind() == "comment") {
        let between = &file.text[previous.end_byte()..first.start_byte()];
        if between.matches('\n').count() > 1 || !alone_on_lines(file, previous) {
            break;
        }
        first = previous;
    }
    if first.id() == stmt.id() || !alone_on_lines(file, stmt) {
        return delete_statement(file, stmt);
    }
    vec![Edit::delete(with_surrounding_blank_line(file, file.line_range(first.start_byte()..stmt.end_byte())))]
}

/// Extends a deleted run of lines over as many following blank lines as precede it (one between
/// methods, two between top-level definitions), so removing a definition leaves the spacing that
/// separated its neighbours from it, not twice that.
fn with_surrounding_blank_line(file: &SourceFile, lines: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let before = &file.text[..lines.start];
    let blank_before = before.split_inclusive('\n').rev().take(2).take_while(|l| l.trim().is_empty()).count();
    let mut end = lines.end;
    for next_line in file.text[lines.end..].split_inclusive('\n').take(blank_before) {
        if next_line.trim().is_empty() && next_line.ends_with('\n') {
            end += next_line.len();
        } else {
            break;
        }
    }
    lines.start..end
}

/// Edits on `after` that remove imports the change made unused (used in `before`, unused in `after`).
pub fn imports_made_unused(before: &SourceFile, after: &SourceFile) -> Vec<Edit> {
    let (used_before, used_after) = (used_names(before), used_names(after));
    let mut edits = Vec::new();
    for stmt in top_level_imports(after) {
        if stmt.kind() != "import_from_statement" {
            continue;
        }
        let Some(module) = from_module(after, stmt) else { continue };
        for (_, name, alias) in from_names(after, stmt) {
            let bound = alias.unwrap_or(name);
            if used_before.contains(bound.as_str()) && !used_after.contains(bound.as_str()) {
                edits.extend(remove_import(after, &module, &bound));
            }
        }
    }
    // Several names of one statement may go at once: merge to one deletion of the statement.
    dedupe_import_edits(after, edits)
}

/// Edits on `after` that delete private top-level functions (`_name`) the change made unused:
/// referenced in `before` outside their own definition, referenced nowhere in `after`. A private
/// name is the module's own business, so no other module is expected to import it.
pub fn private_functions_made_unused(before: &SourceFile, after: &SourceFile) -> Vec<Edit> {
    // One walk per file: where each private name occurs.
    let occurrences = |file: &SourceFile| {
        let mut at: HashMap<String, Vec<usize>> = HashMap::new();
        walk_identifiers(file.tree.root_node(), &mut |n| {
            let name = file.node_text(n);
            if name.starts_with('_') {
                at.entry(name.to_string()).or_default().push(n.start_byte());
            }
        });
        at
    };
    let (used_before, used_after) = (occurrences(before), occurrences(after));
    let outside = |at: &HashMap<String, Vec<usize>>, name: &str, def: Option<std::ops::Range<usize>>| {
        at.get(name).map_or(0, |v| v.iter().filter(|b| !def.as_ref().is_some_and(|d| d.contains(b))).count())
    };
    let definition = |file: &SourceFile, stmt: Node| {
        let def =
            if stmt.kind() == "decorated_definition" { stmt.child_by_field_name("definition") } else { Some(stmt) };
        def.filter(|d| d.kind() == "function_definition")
            .and_then(|d| d.child_by_field_name("name"))
            .map(|n| file.node_text(n).to_string())
    };
    let mut edits = Vec::new();
    for stmt in statements(after.tree.root_node()) {
        let Some(name) = definition(after, stmt) else { continue };
        if !name.starts_with('_') || name.starts_with("__") {
            continue;
        }
        let before_def = statements(before.tree.root_node())
            .into_iter()
            .find(|s| definition(before, *s).as_deref() == Some(name.as_str()))
            .map(|s| s.byte_range());
        if outside(&used_before, &name, before_def) > 0 && outside(&used_after, &name, Some(stmt.byte_range())) == 0 {
            edits.extend(delete_statement(after, stmt));
        }
    }
    edits
}

fn walk_identifiers<'t>(node: Node<'t>, visit: &mut impl FnMut(Node<'t>)) {
    if node.kind() == "identifier" {
        visit(node);
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        walk_identifiers(child, visit);
    }
}

/// When every name of a `from` import is removed, the separate name edits become one line deletion.
fn dedupe_import_edits(file: &SourceFile, edits: Vec<Edit>) -> Vec<Edit> {
    let mut out: Vec<Edit> = Vec::new();
    for stmt in top_level_imports(file) {
        let lines = file.line_range(stmt.byte_range());
        let inside: Vec<&Edit> = edits.iter().filter(|e| lines.contains(&e.range.start)).collect();
        if inside.is_empty() {
            continue;
        }
        let names = from_names(file, stmt);
        // A deletion of the statement's whole line(s) (maybe with a blank line after) wins.
        if let Some(whole) = inside.iter().find(|e| e.range.start == lines.start && e.range.end >= lines.end) {
            out.push((*whole).clone());
        } else if inside.len() >= names.len() {
            out.push(Edit::delete(lines));
        } else {
            // Removing adjacent names one by one could overlap: rebuild the name list instead.
            let removed: Vec<String> =
                inside.iter().map(|e| file.text[e.range.clone()].trim_matches([',', ' ']).to_string()).collect();
            let kept: Vec<String> =
                names.iter().map(|(n, _, _)| file.node_text(*n).to_string()).filter(|n| !removed.contains(n)).collect();
            let (Some(first), Some(last)) = (names.first(), names.last()) else { continue };
            out.push(Edit::replace(first.0.start_byte()..last.0.end_byte(), kept.join(", ")));
        }
    }
    out
}

/// Replaces a run of statements by one statement (`pass`/`raise`) at the first one's position.
fn replace_run(stmts: &[Node], with: &str) -> Vec<Edit> {
    let (Some(first), Some(last)) = (stmts.first(), stmts.last()) else { return Vec::new() };
    vec![Edit::replace(first.start_byte()..last.end_byte(), with)]
}

/// Drops a `finally:` clause; a `try` that then has no handler is replaced by its dedented body.
fn remove_finally(file: &SourceFile, finally: Node) -> Option<Vec<Edit>> {
    let try_stmt = finally.parent()?;
    let mut cursor = try_stmt.walk();
    let has_handler = try_stmt
        .named_children(&mut cursor)
        .any(|c| matches!(c.kind(), "except_clause" | "except_group_clause" | "else_clause"));
    if has_handler {
        return Some(vec![Edit::delete(file.line_range(finally.byte_range()))]);
    }
    unwrap_try(file, try_stmt)
}

/// Unwraps every `try` whose only handler is a bare `raise` (and that has no `else`/`finally`):
/// such a `try` changes nothing, and generated code should not keep it.
pub fn unwrap_reraising_try(text: &str) -> String {
    let mut current = text.to_string();
    // Without a bare `raise` line there is no such `try`: no need to parse.
    if !text.lines().any(|line| line.trim() == "raise") {
        return current;
    }
    loop {
        let Ok(file) = SourceFile::parse(String::new(), Default::default(), current.clone().into_bytes()) else {
            return current;
        };
        let mut target = None;
        crate::matching::for_each_node(file.tree.root_node(), |node| {
            if target.is_none() && node.kind() == "try_statement" && is_reraise_only(&file, node) {
                target = Some(node);
            }
        });
        let Some(try_stmt) = target else { return current };
        let Some(edits) = unwrap_try(&file, try_stmt) else { return current };
        match crate::edit::apply(&current, &edits) {
            Ok(next) => current = next,
            Err(_) => return current,
        }
    }
}

/// Whether the file has a `try` whose only handler re-raises (see [`unwrap_reraising_try`]).
pub fn has_reraising_try(file: &SourceFile) -> bool {
    let mut found = false;
    crate::matching::for_each_node(file.tree.root_node(), |node| {
        found |= !found && node.kind() == "try_statement" && is_reraise_only(file, node);
    });
    found
}

/// The clauses of a `try` besides its body (except, else, finally).
fn try_clauses(try_stmt: Node) -> Vec<Node> {
    let mut cursor = try_stmt.walk();
    try_stmt.named_children(&mut cursor).filter(|c| c.kind() != "block" && c.kind() != "comment").collect()
}

/// A `try` with exactly one `except` and no `else`/`finally`.
fn is_single_handler_try(try_stmt: Node) -> bool {
    matches!(try_clauses(try_stmt).as_slice(), [except] if except.kind() == "except_clause")
}

fn is_reraise_only(file: &SourceFile, try_stmt: Node) -> bool {
    match try_clauses(try_stmt).as_slice() {
        [except] if except.kind() == "except_clause" => {
            let body = except.named_children(&mut except.walk()).filter(|c| c.kind() == "block").last();
            body.map(statements).is_some_and(|stmts| {
                matches!(stmts.as_slice(), [only] if only.kind() == "raise_statement" && file.node_text(*only).trim() == "raise")
            })
        }
        _ => false,
    }
}

/// Replaces a `try` statement by its body, dedented to the `try`'s indentation.
fn unwrap_try(file: &SourceFile, try_stmt: Node) -> Option<Vec<Edit>> {
    let body = try_stmt.child_by_field_name("body")?;
    let try_indent = indentation(file, try_stmt)?;
    let body_indent = indentation(file, statements(body).into_iter().next()?)?;
    let dedented = reindent(&file.text[file.line_range(body.byte_range())], &body_indent, &try_indent);
    Some(vec![Edit::replace(file.line_range(try_stmt.byte_range()), dedented)])
}

/// Inserts `text` (one or more lines) as statements before `stmt`, indented like it.
pub fn insert_before(file: &SourceFile, stmt: Node, text: &str) -> Option<Edit> {
    let indent = indentation(file, stmt)?;
    let line_start = file.line_range(stmt.byte_range()).start;
    let body = indent_lines(text, &indent, file.newline());
    Some(Edit::insert(line_start, body))
}

/// Inserts `text` as statements after `stmt`, indented like it.
pub fn insert_after(file: &SourceFile, stmt: Node, text: &str) -> Option<Edit> {
    let indent = indentation(file, stmt)?;
    let end = file.line_range(stmt.byte_range()).end;
    let mut body = indent_lines(text, &indent, file.newline());
    if !file.text[..end].ends_with('\n') {
        body.insert_str(0, file.newline());
    }
    Some(Edit::insert(end, body))
}

/// The dotted module of an import_from_statement (`..x` for relative ones).
fn from_module(file: &SourceFile, stmt: Node) -> Option<String> {
    stmt.child_by_field_name("module_name").map(|m| file.node_text(m).replace(char::is_whitespace, ""))
}

/// `(name, alias)` pairs imported by an import_from_statement.
fn from_names<'t>(file: &SourceFile, stmt: Node<'t>) -> Vec<(Node<'t>, String, Option<String>)> {
    let mut cursor = stmt.walk();
    stmt.children_by_field_name("name", &mut cursor)
        .map(|n| match n.kind() {
            "aliased_import" => (
                n,
                n.child_by_field_name("name").map(|x| file.node_text(x).to_string()).unwrap_or_default(),
                n.child_by_field_name("alias").map(|x| file.node_text(x).to_string()),
            ),
            _ => (n, file.node_text(n).to_string(), None),
        })
        .collect()
}

/// The top-level statements that are imports (including `from __future__`).
fn top_level_imports(file: &SourceFile) -> Vec<Node<'_>> {
    statements(file.tree.root_node())
        .into_iter()
        .filter(|s| matches!(s.kind(), "import_statement" | "import_from_statement" | "future_import_statement"))
        .collect()
}

/// Whether the module already imports `name` from `module` (or `module` itself when `name` is None).
pub fn has_import(file: &SourceFile, module: &str, name: Option<&str>, alias: Option<&str>) -> bool {
    top_level_imports(file).into_iter().any(|stmt| match (stmt.kind(), name) {
        ("import_from_statement", Some(name)) => {
            from_module(file, stmt).as_deref() == Some(module)
                && from_names(file, stmt).iter().any(|(_, n, a)| n == name && a.as_deref() == alias)
        }
        ("import_statement", None) => {
            let mut cursor = stmt.walk();
            let found = stmt.named_children(&mut cursor).any(|c| match c.kind() {
                "aliased_import" => {
                    c.child_by_field_name("name").is_some_and(|n| file.node_text(n) == module)
                        && c.child_by_field_name("alias").map(|a| file.node_text(a)) == alias
                }
                _ => file.node_text(c) == module && alias.is_none(),
            });
            found
        }
        _ => false,
    })
}

/// Adds an import with the module's imports (after a docstring and `from __future__`), unless present.
pub fn add_import(file: &SourceFile, module: &str, name: Option<&str>, alias: Option<&str>) -> Option<Edit> {
    if has_import(file, module, name, alias) {
        return None;
    }
    let alias_text = alias.map(|a| format!(" as {a}")).unwrap_or_default();
    let line = match name {
        Some(name) => format!("from {module} import {name}{alias_text}"),
        None => format!("import {module}{alias_text}"),
    };
    let nl = file.newline();
    let root = file.tree.root_node();
    let anchor = top_level_imports(file).into_iter().last().or_else(|| {
        statements(root).into_iter().next().filter(|first| {
            first.kind() == "expression_statement" && first.named_child(0).is_some_and(|c| c.kind() == "string")
        })
    });
    match anchor {
        Some(stmt) => {
            let end = file.line_range(stmt.byte_range()).end;
            let lead = if file.text[..end].ends_with('\n') { "" } else { nl };
            Some(Edit::insert(end, format!("{lead}{line}{nl}")))
        }
        // Nothing to follow: the import opens the file (after a BOM, which must stay first).
        None => Some(Edit::insert(if file.text.starts_with('\u{feff}') { 3 } else { 0 }, format!("{line}{nl}"))),
    }
}

/// Adds `members` (`name` or `name as alias`) to the file's own top-level `from module import ...`
/// statement, when it has one (not a star import): one insertion per member after its last name,
/// inside the parentheses and after a trailing comma where there are some. `None` when there is none.
///
/// The insertions commute: the order of names in an import does not matter, so change sets that
/// add different names to one statement apply in one pass, and a name both add is added once.
pub fn merge_into_from_import(file: &SourceFile, module: &str, members: &[String]) -> Option<Vec<Edit>> {
    let stmt = top_level_imports(file).into_iter().rev().find(|s| {
        s.kind() == "import_from_statement" && from_module(file, *s).as_deref() == Some(module) && {
            let mut cursor = s.walk();
            let star = s.named_children(&mut cursor).any(|c| c.kind() == "wildcard_import");
            !star
        }
    })?;
    let names = from_names(file, stmt);
    let last = names.last()?.0;
    let after_last = &file.text[last.end_byte()..stmt.end_byte()];
    let parenthesized = after_last.contains(')');
    if parenthesized && file.text[stmt.byte_range()].contains('\n') {
        // One name a line: follow the layout, after the trailing comma if there is one.
        let indent = indentation(file, last).unwrap_or_else(|| "    ".into());
        let comma = after_last.trim_start().starts_with(',');
        let at = if comma { last.end_byte() + after_last.find(',')? + 1 } else { last.end_byte() };
        let nl = file.newline();
        let text = |m: &String| if comma { format!("{nl}{indent}{m},") } else { format!(",{nl}{indent}{m}") };
        return Some(members.iter().map(|m| Edit::insert(at, text(m)).commuting()).collect());
    }
    Some(members.iter().map(|m| Edit::insert(last.end_byte(), format!(", {m}")).commuting()).collect())
}

/// Every identifier used outside import statements, in one walk of the file.
pub fn used_names(file: &SourceFile) -> HashSet<&str> {
    // A walk that skips import statements (asking each identifier for its ancestors is quadratic).
    fn walk<'f>(file: &'f SourceFile, node: Node, used: &mut HashSet<&'f str>) {
        match node.kind() {
            "import_statement" | "import_from_statement" | "future_import_statement" => {}
            "identifier" => {
                used.insert(file.node_text(node));
            }
            _ => {
                let mut cursor = node.walk();
                for child in node.children(&mut cursor) {
                    walk(file, child, used);
                }
            }
        }
    }
    let mut used = HashSet::new();
    walk(file, file.tree.root_node(), &mut used);
    used
}

/// Whether identifier `name` is used anywhere outside import statements.
pub fn name_is_used(file: &SourceFile, name: &str) -> bool {
    used_names(file).contains(name)
}

/// Removes `name` from `from module import ...` when nothing else uses it.
pub fn remove_import(file: &SourceFile, module: &str, name: &str) -> Vec<Edit> {
    if name_is_used(file, name) {
        return Vec::new();
    }
    for stmt in top_level_imports(file) {
        if stmt.kind() != "import_from_statement" || from_module(file, stmt).as_deref() != Some(module) {
            continue;
        }
        let names = from_names(file, stmt);
        let Some(index) = names.iter().position(|(_, n, a)| a.as_deref().unwrap_or(n) == name) else { continue };
        if names.len() == 1 {
            return delete_statement(file, stmt);
        }
        let node = names[index].0;
        // Remove the name with the comma that separates it from its neighbour.
        let range = if index + 1 < names.len() {
            node.start_byte()..names[index + 1].0.start_byte()
        } else {
            names[index - 1].0.end_byte()..node.end_byte()
        };
        return vec![Edit::delete(range)];
    }
    Vec::new()
}

/// True when `stmt` is just `call` (or `await call`) as an expression statement.
pub fn statement_is_just(stmt: Node, call: Node) -> bool {
    if stmt.kind() != "expression_statement" {
        return false;
    }
    let Some(expr) = only_child(stmt).map(unparenthesized) else { return false };
    let expr = match (expr.kind(), only_child(expr)) {
        ("await", Some(awaited)) => unparenthesized(awaited),
        _ => expr,
    };
    expr.id() == call.id()
}

/// The one named child of `node` that is not a comment or line continuation.
fn only_child(node: Node) -> Option<Node> {
    let mut cursor = node.walk();
    let mut children = node.named_children(&mut cursor).filter(|c| !c.is_extra());
    let first = children.next()?;
    children.next().is_none().then_some(first)
}

/// `node` without redundant parentheses, however the code is split over lines: `(await s\n.commit())`.
fn unparenthesized(mut node: Node) -> Node {
    while node.kind() == "parenthesized_expression" {
        match only_child(node) {
            Some(inner) => node = inner,
            None => break,
        }
    }
    node
}

/// Wraps each line of generated code longer than `max` the way black and ruff do: the last
/// bracket pair at the line's top level opens, one item a line, with a trailing comma, and
/// closes on a line of its own; items still too long are wrapped in turn. Lines without a
/// bracket pair with items, and text inside strings, are left alone.
pub fn wrap_long_lines(text: &str, max: usize) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        for (i, wrapped) in wrap_line(body, max).iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(wrapped);
        }
        out.push_str(end);
    }
    out
}

fn wrap_line(line: &str, max: usize) -> Vec<String> {
    if line.chars().count() <= max {
        return vec![line.to_string()];
    }
    let Some((open, close, items)) = last_top_level_pair(line) else { return vec![line.to_string()] };
    // Only argument lists and displays take one item a line with a trailing comma: in a
    // parenthesised expression or a subscript the comma would make a tuple, and a comprehension
    // cannot take one at all.
    let before = line[..open].trim_end();
    let follows_value = before.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ')' || c == ']');
    let bracket = line.as_bytes()[open];
    let wrappable = match bracket {
        b'(' => follows_value,
        b'[' => !follows_value,
        _ => true,
    };
    let comprehension = items.iter().any(|i| format!(" {i} ").contains(" for ")) && items.len() == 1;
    if !wrappable || comprehension || items.iter().all(|i| i.trim().is_empty()) {
        return vec![line.to_string()];
    }
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    let inner = format!("{indent}    ");
    let mut lines = vec![line[..=open].trim_end().to_string()];
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        lines.extend(wrap_line(&format!("{inner}{item},"), max));
    }
    lines.push(format!("{indent}{}", &line[close..]));
    lines
}

/// The last bracket pair at depth 0 of `line` (outside strings) and its items split at its own
/// top-level commas: `(open, close, items)` with byte offsets of the brackets.
fn last_top_level_pair(line: &str) -> Option<(usize, usize, Vec<&str>)> {
    let bytes = line.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut open_at = None;
    let mut pair = None;
    let mut commas = Vec::new();
    let mut pending_commas = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'#' => break,
                b'(' | b'[' | b'{' => {
                    if depth == 0 {
                        open_at = Some(i);
                        pending_commas.clear();
                    }
                    depth += 1;
                }
                b')' | b']' | b'}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        pair = Some((open_at?, i));
                        commas = std::mem::take(&mut pending_commas);
                    }
                }
                b',' if depth == 1 => pending_commas.push(i),
                _ => {}
            },
        }
        i += 1;
    }
    let (open, close) = pair?;
    let mut items = Vec::new();
    let mut start = open + 1;
    for comma in commas {
        items.push(&line[start..comma]);
        start = comma + 1;
    }
    items.push(&line[start..close]);
    Some((open, close, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_a_definition_keeps_its_neighbours_spacing() {
        let text = "import x\n\n\nclass A:\n    pass\n\n\nclass B:\n    pass\n\n\nclass C:\n    pass\n";
        let f = file(text);
        let b = statements(f.tree.root_node())[2];
        let out = crate::edit::apply(text, &delete_statement(&f, b)).unwrap();
        assert_eq!(out, "import x\n\n\nclass A:\n    pass\n\n\nclass C:\n    pass\n");
        let methods = "class A:\n    def a(self):\n        pass\n\n    def b(self):\n        pass\n\n    def c(self):\n        pass\n";
        let f = file(methods);
        let class = statements(f.tree.root_node())[0];
        let b = statements(class.child_by_field_name("body").unwrap())[1];
        let out = crate::edit::apply(methods, &delete_statement(&f, b)).unwrap();
        assert_eq!(out, "class A:\n    def a(self):\n        pass\n\n    def c(self):\n        pass\n");
    }

    #[test]
    fn a_statement_goes_with_its_own_comment_but_not_a_distant_one() {
        let text = "import x\n\n# Section.\n\n# The cache.\n_c = None\n\n\ndef f():\n    pass\n";
        let f = file(text);
        let cache = statements(f.tree.root_node())[1];
        let out = crate::edit::apply(text, &delete_with_leading_comments(&f, cache)).unwrap();
        assert_eq!(out, "import x\n\n# Section.\n\n\ndef f():\n    pass\n");
    }

    #[test]
    fn names_two_change_sets_add_to_one_import_commute_and_a_shared_one_is_added_once() {
        use crate::edit::FileEdits;
        for text in [
            "from m import a, b\nx = 1\n",
            "from m import (\n    a,\n    b,\n)\n",
            "from m import (\n    a,\n    b\n)\n",
        ] {
            let f = file(text);
            let one = FileEdits::edit("x.py", merge_into_from_import(&f, "m", &["c".into(), "d".into()]).unwrap());
            let two = FileEdits::edit("x.py", merge_into_from_import(&f, "m", &["d".into(), "e".into()]).unwrap());
            assert!(!one.conflicts_with(&two), "{text}");
            let mut both: Vec<Edit> = one.edits.clone();
            both.extend(two.edits.into_iter().filter(|e| !one.edits.contains(e)));
            let out = crate::edit::apply(text, &both).unwrap();
            let parsed = file(&out);
            let names: Vec<String> =
                from_names(&parsed, top_level_imports(&parsed)[0]).into_iter().map(|(_, n, _)| n).collect();
            assert_eq!(names, ["a", "b", "c", "d", "e"], "{out}");
            // Removing the statement while a name is added to it is a conflict.
            let gone = FileEdits::edit("x.py", delete_statement(&f, top_level_imports(&f)[0]));
            assert!(one.conflicts_with(&gone), "{text}");
        }
    }

    #[test]
    fn new_names_join_the_files_own_from_import() {
        let merged = |text: &str| {
            let f = file(text);
            let edits = merge_into_from_import(&f, "m", &["c".into(), "d as e".into()]).unwrap();
            crate::edit::apply(text, &edits).unwrap()
        };
        assert_eq!(merged("from m import a, b\nx = 1\n"), "from m import a, b, c, d as e\nx = 1\n");
        assert_eq!(
            merged("from m import (\n    a,\n    b,\n)\n"),
            "from m import (\n    a,\n    b,\n    c,\n    d as e,\n)\n"
        );
        assert_eq!(
            merged("from m import (\n    a,\n    b\n)\n"),
            "from m import (\n    a,\n    b,\n    c,\n    d as e\n)\n"
        );
        assert!(merge_into_from_import(&file("from m import *\n"), "m", &["c".into()]).is_none());
        assert!(merge_into_from_import(&file("from n import a\n"), "m", &["c".into()]).is_none());
    }

    #[test]
    fn long_generated_lines_wrap_like_black() {
        let line = "        data = await d.list_items(ctx.session, tenant_id=ctx.params[\"tenant_id\"], page=ctx.params[\"page\"])\n";
        assert_eq!(
            wrap_long_lines(line, 60),
            "        data = await d.list_items(\n            ctx.session,\n            tenant_id=ctx.params[\"tenant_id\"],\n            page=ctx.params[\"page\"],\n        )\n"
        );
        let dict = "    params={\"method\": \"a, b\", \"x\": x},";
        assert_eq!(wrap_long_lines(dict, 20), "    params={\n        \"method\": \"a, b\",\n        \"x\": x,\n    },");
        assert_eq!(wrap_long_lines("short(a, b)", 88), "short(a, b)");
        // No trailing comma where it would change or break the code.
        let comprehension = "    out = [ItemOut(id=r.id, name=r.name) for r in rows]";
        assert_eq!(wrap_long_lines(comprehension, 20), comprehension);
        let subscript = "    value = mapping[some_long_key_name_here]";
        assert_eq!(wrap_long_lines(subscript, 20), subscript);
        let grouping = "    total = (first_long_operand + second_long_operand)";
        assert_eq!(wrap_long_lines(grouping, 20), grouping);
        assert_eq!(
            wrap_long_lines("x = \"no brackets at all, just a long string\"", 10),
            "x = \"no brackets at all, just a long string\""
        );
    }
    use crate::edit::apply;
    use crate::python;

    fn file(text: &str) -> SourceFile {
        SourceFile::parse("t.py".into(), "t.py".into(), text.as_bytes().to_vec()).unwrap()
    }

    fn find<'t>(f: &'t SourceFile, text: &str) -> Node<'t> {
        let start = f.text.find(text).unwrap();
        let node = f.tree.root_node().descendant_for_byte_range(start, start + text.len()).unwrap();
        python::enclosing_statement(node).unwrap()
    }

    fn delete(text: &str, target: &str) -> String {
        let f = file(text);
        let stmt = find(&f, target);
        apply(&f.text, &delete_statement(&f, stmt)).unwrap()
    }

    #[test]
    fn deleting_removes_the_whole_line() {
        assert_eq!(delete("a()\nb()  # why\nc()\n", "b()"), "a()\nc()\n");
    }

    #[test]
    fn emptied_blocks_get_pass_or_raise() {
        assert_eq!(delete("if x:\n    y()\n", "y()"), "if x:\n    pass\n");
        assert_eq!(
            delete("try:\n    a()\nexcept E:\n    s.rollback()\n", "s.rollback()"),
            "try:\n    a()\nexcept E:\n    raise\n"
        );
    }

    #[test]
    fn emptied_finally_is_removed_and_try_unwrapped() {
        let text = "def f():\n    try:\n        a()\n        b()\n    finally:\n        s.close()\n";
        assert_eq!(delete(text, "s.close()"), "def f():\n    a()\n    b()\n");
        let text = "try:\n    a()\nexcept E:\n    h()\nfinally:\n    s.close()\n";
        assert_eq!(delete(text, "s.close()"), "try:\n    a()\nexcept E:\n    h()\n");
    }

    #[test]
    fn deleting_a_rollback_before_raise_unwraps_the_try() {
        let text =
            "def f(s):\n    try:\n        s.add(1)\n    except Exception:\n        s.rollback()\n        raise\n";
        assert_eq!(delete(text, "s.rollback()"), "def f(s):\n    s.add(1)\n");
        let logged = "try:\n    a()\nexcept E:\n    s.rollback()\n    log()\n    raise\n";
        assert_eq!(delete(logged, "s.rollback()"), "try:\n    a()\nexcept E:\n    log()\n    raise\n");
    }

    #[test]
    fn reraise_only_try_is_unwrapped() {
        let text = "def f(s):\n    try:\n        s.add(1)\n        s.flush()\n    except Exception:\n        raise\n    return 1\n";
        assert_eq!(unwrap_reraising_try(text), "def f(s):\n    s.add(1)\n    s.flush()\n    return 1\n");
        let kept = "try:\n    a()\nexcept E:\n    log()\n    raise\n";
        assert_eq!(unwrap_reraising_try(kept), kept);
    }

    #[test]
    fn crlf_and_tabs_are_kept() {
        assert_eq!(delete("if x:\r\n\ta()\r\n\tb()\r\n", "b()"), "if x:\r\n\ta()\r\n");
    }

    #[test]
    fn imports_go_after_docstring_and_existing_imports() {
        let f = file("\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\n\nx = 1\n");
        let edit = add_import(&f, "a.b", Some("C"), None).unwrap();
        assert_eq!(
            apply(&f.text, &[edit]).unwrap(),
            "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\nfrom a.b import C\n\nx = 1\n"
        );
        let f = file("\"\"\"Doc.\"\"\"\nx = 1\n");
        let edit = add_import(&f, "m", None, None).unwrap();
        assert_eq!(apply(&f.text, &[edit]).unwrap(), "\"\"\"Doc.\"\"\"\nimport m\nx = 1\n");
        let f = file("from a.b import C\n");
        assert!(add_import(&f, "a.b", Some("C"), None).is_none());
    }

    #[test]
    fn unused_imports_are_removed_used_ones_kept() {
        let f = file("from m import a, b, c\nprint(b)\n");
        assert_eq!(apply(&f.text, &remove_import(&f, "m", "a")).unwrap(), "from m import b, c\nprint(b)\n");
        assert_eq!(apply(&f.text, &remove_import(&f, "m", "c")).unwrap(), "from m import a, b\nprint(b)\n");
        assert!(remove_import(&f, "m", "b").is_empty());
        let f = file("from m import a\nx = 1\n");
        assert_eq!(apply(&f.text, &remove_import(&f, "m", "a")).unwrap(), "x = 1\n");
    }
}
