//! `inject-session`: a driver class with `__init__(self, session=None)` and a private helper that
//! opens a session when none was given gets a required, injected session instead.

use std::collections::BTreeMap;

use regex::Regex;
use tree_sitter::Node;

use super::{ManualReason, TransformCall, TransformOutput};
use crate::edit::{self, Edit, FileEdits};
use crate::fix::primitives;
use crate::matching::{for_each_node, Bindings, Pattern};
use crate::python::{self, SourceFile};

fn name_of<'a>(file: &'a SourceFile, node: Node) -> &'a str {
    node.child_by_field_name("name").map_or("", |n| file.node_text(n))
}

/// The methods (function definitions, decorated or not) of a class body.
fn methods(class: Node) -> Vec<Node> {
    let Some(body) = class.child_by_field_name("body") else { return Vec::new() };
    primitives::statements(body)
        .into_iter()
        .filter_map(|s| match s.kind() {
            "function_definition" => Some(s),
            "decorated_definition" => s.child_by_field_name("definition"),
            _ => None,
        })
        .collect()
}

fn session_like() -> Regex {
    Regex::new(r"(?i)^(db|conn|\w*session\w*)$").expect("constant regex")
}

/// `Optional[X]`, `X | None`, `None | X` → `X`: the type once the session is required.
fn required_type(annotation: &str) -> String {
    let t = annotation.trim();
    if let Some(inner) = t.strip_prefix("Optional[").and_then(|r| r.strip_suffix(']')) {
        return inner.trim().to_string();
    }
    let parts: Vec<&str> = t.split('|').map(str::trim).filter(|p| *p != "None").collect();
    parts.join(" | ")
}

struct InitParam<'t> {
    node: Node<'t>,
    name: String,
    replacement: String,
}

fn injected_parameter<'t>(file: &SourceFile, init: Node<'t>, class_name: &str) -> Result<InitParam<'t>, ManualReason> {
    let params = init.child_by_field_name("parameters").ok_or("`__init__` has no parameters")?;
    let mut cursor = params.walk();
    let list: Vec<Node> = params.named_children(&mut cursor).collect();
    let session_like = session_like();
    let position = list.iter().position(|p| {
        matches!(p.kind(), "default_parameter" | "typed_default_parameter")
            && session_like.is_match(name_of(file, *p))
            && p.child_by_field_name("value").is_some_and(|v| file.node_text(v) == "None")
    });
    let Some(position) = position else {
        return Err(format!("`{class_name}.__init__` has no `session=None` parameter; inject the session by hand"));
    };
    if list[..position].iter().any(|p| matches!(p.kind(), "default_parameter" | "typed_default_parameter")) {
        return Err(format!(
            "`{class_name}.__init__` has parameters with defaults before the session; a required session there would not parse"
        ));
    }
    let node = list[position];
    let name = name_of(file, node).to_string();
    let replacement = match node.child_by_field_name("type") {
        Some(t) => format!("{name}: {}", required_type(file.node_text(t))),
        None => name.clone(),
    };
    Ok(InitParam { node, name, replacement })
}

/// The attribute `__init__` stores the session in (`self._session = session` → `_session`).
fn session_attribute(file: &SourceFile, init: Node, param: &str) -> Option<String> {
    let pattern = Pattern::compile(&format!("self.$ATTR = {param}")).ok()?;
    let mut found = None;
    for_each_node(init, |node| {
        let mut env = Bindings::default();
        if found.is_none() && pattern.match_node(node, &file.text, &mut env) {
            found = env.text("ATTR", &file.text).map(str::to_string);
        }
    });
    found
}

fn reparse(file: &SourceFile, text: String) -> Result<SourceFile, ManualReason> {
    SourceFile::parse(file.rel_path.clone(), file.abs_path.clone(), text.into_bytes())
        .map_err(|e| format!("injecting the session would leave the driver unparsable ({e})"))
}

fn class_at(file: &SourceFile, start: usize) -> Option<Node<'_>> {
    let mut found = None;
    for_each_node(file.tree.root_node(), |n| {
        if found.is_none() && n.kind() == "class_definition" && n.start_byte() == start {
            found = Some(n);
        }
    });
    found
}

pub fn run(call: &TransformCall) -> Result<TransformOutput, ManualReason> {
    let file = call.analysed.ctx.file;
    let helper = python::enclosing_function(call.m.node).ok_or("the session is not created inside a method")?;
    let class = helper
        .parent()
        .and_then(|b| b.parent())
        .filter(|c| c.kind() == "class_definition")
        .ok_or("the session helper is not a method of a driver class")?;
    let class_name = name_of(file, class).to_string();
    let helper_name = name_of(file, helper).to_string();
    let init = methods(class)
        .into_iter()
        .find(|m| name_of(file, *m) == "__init__")
        .ok_or_else(|| format!("`{class_name}` has no `__init__` to receive the session"))?;
    let param = injected_parameter(file, init, &class_name)?;
    let attr = session_attribute(file, init, &param.name)
        .ok_or_else(|| format!("`{class_name}.__init__` does not store `{}` on self", param.name))?;

    // Round 1: the parameter becomes required, the helper goes, its calls read the attribute.
    let helper_stmt = helper.parent().filter(|p| p.kind() == "decorated_definition").unwrap_or(helper);
    let mut edits = vec![Edit::replace(param.node.byte_range(), param.replacement.clone())];
    edits.extend(primitives::delete_statement(file, helper_stmt));
    let helper_call = Pattern::compile(&format!("self.{helper_name}()")).map_err(|e| e.to_string())?;
    let mut problem = None;
    for_each_node(class, |node| {
        let mut env = Bindings::default();
        if node.start_byte() >= helper_stmt.start_byte() && node.end_byte() <= helper_stmt.end_byte() {
            return;
        }
        if helper_call.match_node(node, &file.text, &mut env) {
            let in_with = std::iter::successors(node.parent(), |p| p.parent()).take(3).any(|p| p.kind() == "with_item");
            if in_with {
                problem = Some(format!(
                    "`with self.{helper_name}()` would close the injected session at the end of the block; rewrite by hand"
                ));
            }
            edits.push(Edit::replace(node.byte_range(), format!("self.{attr}")));
        }
    });
    if let Some(problem) = problem {
        return Err(problem);
    }
    let round1 = reparse(file, edit::apply(&file.text, &edits).map_err(|e| e.to_string())?)?;

    // Round 2: nothing closes the injected session any more (that is its owner's job).
    let class1 = class_at(&round1, class.start_byte()).ok_or("the class could not be found after the first rewrite")?;
    let closes = closing_statements(&round1, class1, &attr);
    let mut deletions = Vec::new();
    for stmt in closes {
        deletions.extend(primitives::delete_statement(&round1, stmt));
    }
    let round2 = reparse(file, edit::apply(&round1.text, &deletions).map_err(|e| e.to_string())?)?;
    let delta = round2.text.len() as isize - file.text.len() as isize;
    let new_end = (class.end_byte() as isize + delta) as usize;
    let class_text = round2.text[class.start_byte()..new_end].to_string();
    // Imports only the helper used (the engine factory, `Optional`) go with it.
    let mut edits = vec![Edit::replace(class.byte_range(), class_text)];
    for unused in primitives::imports_made_unused(file, &round2) {
        if unused.range.end <= class.start_byte() {
            edits.push(unused);
        }
    }
    let mut files = vec![FileEdits::edit(file.rel_path.clone(), edits)];
    files.extend(pass_session_at_call_sites(call, &class_name, &param.name)?);
    Ok(TransformOutput {
        files,
        follow_ups: Vec::new(),
        description: Some(format!(
            "`{class_name}` receives its session: `{}` is required, `{helper_name}` and the session close are removed",
            param.replacement
        )),
    })
}

/// Statements in the class that close the session: `X.close()` where X is `self.<attr>` or a local
/// alias of it, and `if self.<attr> is None: ...close()` guards.
fn closing_statements<'t>(file: &'t SourceFile, class: Node<'t>, attr: &str) -> Vec<Node<'t>> {
    let alias = Pattern::compile(&format!("$VAR = self.{attr}")).expect("valid pattern");
    let mut aliases = vec![format!("self.{attr}")];
    for_each_node(class, |node| {
        let mut env = Bindings::default();
        if alias.match_node(node, &file.text, &mut env) {
            if let Some(var) = env.text("VAR", &file.text) {
                aliases.push(var.to_string());
            }
        }
    });
    let close = Pattern::compile("$X.close()").expect("valid pattern");
    let mut found: Vec<Node> = Vec::new();
    for_each_node(class, |node| {
        let mut env = Bindings::default();
        if !close.match_node(node, &file.text, &mut env) {
            return;
        }
        let receiver = env.text("X", &file.text).unwrap_or_default();
        if !aliases.iter().any(|a| a == receiver) {
            return;
        }
        let Some(stmt) = python::enclosing_statement(node) else { return };
        if !primitives::statement_is_just(stmt, node) {
            return;
        }
        // `if self._session is None: session.close()` goes as a whole.
        let guard = stmt.parent().and_then(|b| b.parent()).filter(|g| {
            g.kind() == "if_statement"
                && g.child_by_field_name("condition")
                    .is_some_and(|c| file.node_text(c).contains(&format!("self.{attr}")))
                && g.child_by_field_name("consequence").is_some_and(|b| primitives::statements(b).len() == 1)
                && g.child_by_field_name("alternative").is_none()
        });
        let target = guard.unwrap_or(stmt);
        if !found.iter().any(|f| f.id() == target.id()) {
            found.push(target);
        }
    });
    found
}

/// Constructions `Class()` without a session get the session their function has in scope; where
/// none is in scope the whole fix is manual.
fn pass_session_at_call_sites(
    call: &TransformCall,
    class_name: &str,
    param: &str,
) -> Result<Vec<FileEdits>, ManualReason> {
    let lookup = call.analysed.ctx.callers.ok_or("call sites are only known during a project run")?;
    let session_like = session_like();
    let mut per_file: BTreeMap<String, Vec<Edit>> = BTreeMap::new();
    for site in lookup.call_sites(class_name) {
        let file = &site.file;
        let Some(node) = file.tree.root_node().descendant_for_byte_range(site.call.start, site.call.end) else {
            continue;
        };
        // Only constructions without arguments relied on the driver opening its own session.
        let Some(args) = node.child_by_field_name("arguments").filter(|a| a.named_child_count() == 0) else {
            continue;
        };
        let in_scope = python::enclosing_function(node).and_then(|f| {
            let params = f.child_by_field_name("parameters")?;
            let mut cursor = params.walk();
            let names: Vec<String> = params
                .named_children(&mut cursor)
                .map(|p| if p.kind() == "identifier" { file.node_text(p) } else { name_of(file, p) }.to_string())
                .collect();
            names.into_iter().find(|n| session_like.is_match(n))
        });
        let Some(session) = in_scope else {
            let (line, _) = file.line_col(node.start_byte());
            return Err(format!(
                "`{class_name}()` at {}:{line} has no session in scope to pass; give its function a session first",
                file.rel_path
            ));
        };
        let inner = args.start_byte() + 1..args.end_byte() - 1;
        per_file.entry(file.rel_path.clone()).or_default().push(Edit::replace(inner, format!("{param}={session}")));
    }
    Ok(per_file.into_iter().map(|(path, edits)| FileEdits::edit(path, edits)).collect())
}

#[cfg(test)]
mod tests {
    use super::required_type;

    #[test]
    fn optional_types_become_required() {
        assert_eq!(required_type("Optional[Session]"), "Session");
        assert_eq!(required_type("Session | None"), "Session");
        assert_eq!(required_type("None | AsyncSession"), "AsyncSession");
        assert_eq!(required_type("Session"), "Session");
    }
}
