//! What a call reaches: resolving a call's callee through the caller's own bindings (imports,
//! assignments, `self` attributes) to decide whether it calls a given function.

use std::sync::Arc;

use tree_sitter::Node;

use super::scope::{module_bindings_of_statement, BindingKind, ModuleBinding};
use super::{absolute_import, enclosing_function, for_each_node, parameter_name, SourceFile};

/// The function a caller may reach: its file, module, class (for a method) and name.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub file: &'a str,
    pub module: Option<&'a str>,
    pub class: Option<&'a str>,
    pub name: &'a str,
}

/// Whether a call reaches the target. `Unknown` when the caller's code does not say (a
/// parameter, an unresolved receiver): a fix that depends on the answer must not be safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Yes,
    No,
    Unknown,
}

/// A name bound inside a function (nested blocks included), where the binding starts.
pub struct LocalBinding {
    start: usize,
    name: String,
    kind: Local,
}

/// How a function binds a name: an assignment (the byte range of its value), an import (handlers
/// often import lazily), or something this resolution does not follow.
enum Local {
    Value(std::ops::Range<usize>),
    Import(ModuleBinding),
    Other,
}

/// What a name at a point of the caller means, as far as its own code says.
enum Meaning<'t> {
    /// `import m` / `import m as x` (the module), or `from m import x` (`member` set).
    Import { module: String, member: Option<String> },
    /// A class, function or value the caller's module defines itself.
    Defined { kind: BindingKind, name: String },
    /// The value of an expression assigned to it.
    Value(Node<'t>),
    /// A parameter, or bound in a way this resolution does not follow.
    Opaque,
    /// Not bound in the caller's module at all (a builtin or an error).
    Unbound,
}

/// Whether `call` (a `call` node of `caller`) reaches `target`.
pub fn reaches(caller: &SourceFile, caller_module: Option<&str>, call: Node, target: &Target) -> Reach {
    let resolver = Resolver { file: caller, module: caller_module, bindings: caller.module_bindings() };
    let Some(callee) = call.child_by_field_name("function") else { return Reach::Unknown };
    match callee.kind() {
        "identifier" => resolver.plain_call(callee, target),
        "attribute" => {
            let Some(object) = callee.child_by_field_name("object") else { return Reach::Unknown };
            resolver.method_call(object, call, target)
        }
        _ => Reach::Unknown,
    }
}

struct Resolver<'f> {
    file: &'f SourceFile,
    module: Option<&'f str>,
    bindings: &'f [ModuleBinding],
}

impl<'f> Resolver<'f> {
    fn text(&self, node: Node) -> &'f str {
        &self.file.text[node.byte_range()]
    }

    fn same_file(&self, target: &Target) -> bool {
        self.file.rel_path == target.file
    }

    /// `f(...)`: the target itself only when it is a module function (or class) bound to that name here.
    fn plain_call(&self, callee: Node, target: &Target) -> Reach {
        if target.class.is_some() {
            return Reach::No;
        }
        match self.meaning(self.text(callee), callee) {
            Meaning::Import { module, member: Some(member) } => self.module_member(&module, &member, target),
            // A function, or a class (its construction).
            Meaning::Defined { kind: BindingKind::Function | BindingKind::Class, name } if self.same_file(target) => {
                if name == target.name {
                    Reach::Yes
                } else {
                    Reach::No
                }
            }
            Meaning::Value(_) | Meaning::Opaque => Reach::Unknown,
            _ => Reach::No,
        }
    }

    /// `from module import member` as a way to the target function: the function itself, or a
    /// package that may re-export it (unknown).
    fn module_member(&self, module: &str, member: &str, target: &Target) -> Reach {
        let Some(target_module) = target.module else { return Reach::Unknown };
        if module == target_module && member == target.name {
            Reach::Yes
        } else if member == target.name && target_module.starts_with(&format!("{module}.")) {
            Reach::Unknown
        } else {
            Reach::No
        }
    }

    /// `object.f(...)` where `f` has the target's name.
    fn method_call(&self, object: Node, call: Node, target: &Target) -> Reach {
        match object.kind() {
            "identifier" if matches!(self.text(object), "self" | "cls") => self.own_class(call, target),
            "identifier" => match self.meaning(self.text(object), object) {
                Meaning::Import { module, member } => self.imported_object(&module, member.as_deref(), target),
                Meaning::Defined { kind: BindingKind::Class, name } => {
                    self.class_is_target(&name, self.same_file(target), target)
                }
                Meaning::Defined { .. } => Reach::No,
                Meaning::Value(value) => self.instance_of(value, target),
                Meaning::Opaque | Meaning::Unbound => Reach::Unknown,
            },
            "attribute" => {
                let owner = object.child_by_field_name("object").map(|o| self.text(o));
                let attribute = object.child_by_field_name("attribute").map(|a| self.text(a));
                match (owner, attribute) {
                    (Some("self"), Some(attribute)) => match self.self_attribute(call, attribute) {
                        Some(value) => self.instance_of(value, target),
                        None => Reach::Unknown,
                    },
                    _ => Reach::Unknown,
                }
            }
            "call" | "await" => self.instance_of(object, target),
            _ => Reach::Unknown,
        }
    }

    /// `self.f()` in a method of the caller's class.
    fn own_class(&self, call: Node, target: &Target) -> Reach {
        let Some(target_class) = target.class else { return Reach::No };
        let Some(class) = enclosing_class(call) else { return Reach::Unknown };
        let name = class.child_by_field_name("name").map(|n| self.text(n)).unwrap_or_default();
        if self.same_file(target) && name == target_class {
            return Reach::Yes;
        }
        // A subclass may inherit the method.
        let bases = class.child_by_field_name("superclasses").map(|b| self.text(b)).unwrap_or_default();
        if bases.contains(target_class) {
            Reach::Unknown
        } else {
            Reach::No
        }
    }

    /// `x.f()` where `x` is imported: a module (the target's module for a module function) or a
    /// class (the target's class, for a static or class method).
    fn imported_object(&self, module: &str, member: Option<&str>, target: &Target) -> Reach {
        let Some(target_module) = target.module else { return Reach::Unknown };
        let object = match member {
            Some(member) => format!("{module}.{member}"),
            None => module.to_string(),
        };
        match (target.class, member) {
            (None, _) if object == target_module => Reach::Yes,
            (Some(class), Some(member)) if module == target_module && member == class => Reach::Yes,
            (Some(class), Some(member)) if member == class && target_module.starts_with(&format!("{module}.")) => {
                Reach::Unknown
            }
            _ => Reach::No,
        }
    }

    /// Whether the class named `name` (defined here when `local`) is the target's class.
    fn class_is_target(&self, name: &str, local: bool, target: &Target) -> Reach {
        match target.class {
            Some(class) if local && name == class => Reach::Yes,
            _ => Reach::No,
        }
    }

    /// Whether `value` (an expression) is an instance of the target's class: `C(...)`, `await
    /// C(...)`, or a factory of the target's module that returns `C(...)`.
    fn instance_of(&self, value: Node, target: &Target) -> Reach {
        let Some(class) = target.class else { return Reach::No };
        let value = if value.kind() == "await" { value.named_child(0).unwrap_or(value) } else { value };
        if value.kind() != "call" {
            return Reach::Unknown;
        }
        let Some(callee) = value.child_by_field_name("function").filter(|c| c.kind() == "identifier") else {
            return Reach::Unknown;
        };
        let name = self.text(callee);
        match self.meaning(name, callee) {
            Meaning::Import { module, member: Some(member) } => {
                let Some(target_module) = target.module else { return Reach::Unknown };
                if module == target_module && member == class {
                    Reach::Yes
                } else if module == target_module {
                    // A factory of the driver's own module: unknown unless it visibly builds the class.
                    Reach::Unknown
                } else if target_module.starts_with(&format!("{module}.")) {
                    Reach::Unknown
                } else {
                    Reach::No
                }
            }
            Meaning::Defined { kind: BindingKind::Class, name } => {
                self.class_is_target(&name, self.same_file(target), target)
            }
            Meaning::Defined { kind: BindingKind::Function, .. } if self.same_file(target) => Reach::Unknown,
            Meaning::Defined { .. } => Reach::No,
            _ => Reach::Unknown,
        }
    }

    /// The value last assigned to `self.<attribute>` in a method of the caller's class.
    fn self_attribute(&self, call: Node, attribute: &str) -> Option<Node<'f>> {
        let class = enclosing_class(call)?;
        let mut found = None;
        let root = self.file.tree.root_node();
        let class = root.descendant_for_byte_range(class.start_byte(), class.end_byte())?;
        for_each_node(class, |n| {
            if n.kind() != "assignment" {
                return;
            }
            let left = n.child_by_field_name("left");
            let is_self_attr = left.is_some_and(|l| {
                l.kind() == "attribute"
                    && l.child_by_field_name("object").is_some_and(|o| self.text(o) == "self")
                    && l.child_by_field_name("attribute").is_some_and(|a| self.text(a) == attribute)
            });
            if is_self_attr {
                found = n.child_by_field_name("right");
            }
        });
        found
    }

    /// What `name` means where `at` reads it: the last plain assignment before `at` in its
    /// function, a parameter, else the module's binding.
    fn meaning(&self, name: &str, at: Node) -> Meaning<'f> {
        let root = self.file.tree.root_node();
        let at = root.descendant_for_byte_range(at.start_byte(), at.end_byte()).unwrap_or(root);
        if let Some(function) = enclosing_function(at) {
            if let Some(params) = function.child_by_field_name("parameters") {
                let mut cursor = params.walk();
                let is_param =
                    params.named_children(&mut cursor).any(|p| parameter_name(self.file, p).as_deref() == Some(name));
                if is_param {
                    return Meaning::Opaque;
                }
            }
            // The last binding of the name before `at` in the function.
            let locals = self.file.function_locals(function);
            let last = locals.iter().rev().find(|l| l.start < at.start_byte() && l.name == name);
            match last.map(|l| &l.kind) {
                Some(Local::Value(range)) => {
                    let value = root.descendant_for_byte_range(range.start, range.end).unwrap_or(root);
                    return Meaning::Value(value);
                }
                Some(Local::Import(binding)) => return self.binding_meaning(binding, name),
                Some(Local::Other) => return Meaning::Opaque,
                None => {}
            }
        }
        let Some(binding) = self.bindings.iter().rev().find(|b| b.name == name) else { return Meaning::Unbound };
        self.binding_meaning(binding, name)
    }

    fn binding_meaning(&self, binding: &ModuleBinding, name: &str) -> Meaning<'f> {
        let root = self.file.tree.root_node();
        match &binding.kind {
            BindingKind::Import { module, imported, level } => {
                let Some(module) = absolute_import(self.file, self.module, module, *level) else {
                    return Meaning::Opaque;
                };
                Meaning::Import { module, member: imported.clone() }
            }
            BindingKind::Assignment => {
                let stmt = root.descendant_for_byte_range(binding.stmt_byte_range.start, binding.stmt_byte_range.end);
                let assignment = stmt.and_then(|s| s.named_child(0)).filter(|a| a.kind() == "assignment");
                match assignment.and_then(|a| a.child_by_field_name("right")) {
                    Some(value) => Meaning::Value(value),
                    None => Meaning::Opaque,
                }
            }
            kind => Meaning::Defined { kind: kind.clone(), name: name.to_string() },
        }
    }
}

/// The class a node's function is a method of.
pub fn enclosing_class(node: Node) -> Option<Node> {
    let function = enclosing_function(node)?;
    std::iter::successors(function.parent(), |n| n.parent())
        .find(|n| matches!(n.kind(), "class_definition" | "function_definition"))
        .filter(|n| n.kind() == "class_definition")
}

impl SourceFile {
    /// The bindings inside `function`, in source order, computed once per function: resolving
    /// each of a function's n calls must not walk its body n times.
    fn function_locals(&self, function: Node) -> Arc<Vec<LocalBinding>> {
        let key = function.start_byte();
        if let Some(known) = self.locals.lock().ok().and_then(|memo| memo.get(&key).cloned()) {
            return known;
        }
        let mut out = Vec::new();
        let text = |n: Node| &self.text[n.byte_range()];
        if let Some(body) = function.child_by_field_name("body") {
            for_each_node(body, |n| match n.kind() {
                "assignment" => {
                    let left = n.child_by_field_name("left").filter(|l| l.kind() == "identifier");
                    if let (Some(left), Some(right)) = (left, n.child_by_field_name("right")) {
                        let kind = Local::Value(right.byte_range());
                        out.push(LocalBinding { start: n.start_byte(), name: text(left).to_string(), kind });
                    }
                }
                "import_from_statement" | "import_statement" => {
                    for binding in module_bindings_of_statement(self.bytes(), n) {
                        let name = binding.name.clone();
                        out.push(LocalBinding { start: n.start_byte(), name, kind: Local::Import(binding) });
                    }
                }
                // A loop or `as` target binding the name (not merely a body that mentions it).
                "for_statement" | "as_pattern" => {
                    let field = if n.kind() == "for_statement" { "left" } else { "alias" };
                    if let Some(target) = n.child_by_field_name(field) {
                        for_each_node(target, |t| {
                            if t.kind() == "identifier" {
                                let name = text(t).to_string();
                                out.push(LocalBinding { start: n.start_byte(), name, kind: Local::Other });
                            }
                        });
                    }
                }
                _ => {}
            });
        }
        let out = Arc::new(out);
        if let Ok(mut memo) = self.locals.lock() {
            memo.insert(key, out.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(src: &str, target: Target) -> Vec<Reach> {
        let file = SourceFile::parse("app/h.py".into(), "app/h.py".into(), src.as_bytes().to_vec()).unwrap();
        let mut calls = Vec::new();
        for_each_node(file.tree.root_node(), |n| {
            let named = n.child_by_field_name("function").is_some_and(|f| {
                let last = if f.kind() == "attribute" { f.child_by_field_name("attribute") } else { Some(f) };
                last.is_some_and(|l| &file.text[l.byte_range()] == target.name)
            });
            if n.kind() == "call" && named {
                calls.push(n);
            }
        });
        calls.into_iter().map(|c| reaches(&file, Some("app.h"), c, &target)).collect()
    }

    const SAVE: Target = Target { file: "app/d.py", module: Some("app.d"), class: None, name: "save" };
    const METHOD: Target = Target { file: "app/d.py", module: Some("app.d"), class: Some("Driver"), name: "save" };

    #[test]
    fn module_functions_through_imports() {
        let src = "from app import d\nfrom app.d import save\nfrom app.cache import Cache\nimport app.d as dd\n\n\
                   def f(x):\n    d.save(1)\n    save(2)\n    dd.save(3)\n    cache = Cache()\n    cache.save(4)\n    x.save(5)\n";
        assert_eq!(reach(src, SAVE), vec![Reach::Yes, Reach::Yes, Reach::Yes, Reach::No, Reach::Unknown]);
    }

    #[test]
    fn a_loop_that_calls_the_function_does_not_rebind_it() {
        let src = "from app.d import save\n\n\ndef f(items):\n    for item in items:\n        save(item)\n    for save in items:\n        save(1)\n";
        assert_eq!(reach(src, SAVE), vec![Reach::Yes, Reach::Unknown]);
    }

    #[test]
    fn lazy_imports_and_constructions_inside_the_caller() {
        let src = "def f():\n    from app.d import save\n    save(1)\n\n\ndef g():\n    from app.other import save\n    save(2)\n";
        assert_eq!(reach(src, SAVE), vec![Reach::Yes, Reach::No]);
        let class = Target { file: "app/h.py", module: Some("app.h"), class: None, name: "Driver" };
        let src = "class Driver:\n    pass\n\n\ndef make():\n    return Driver()\n";
        assert_eq!(reach(src, class), vec![Reach::Yes]);
    }

    #[test]
    fn methods_through_instances_and_self_attributes() {
        let src = "from app.d import Driver\nfrom app.other import Other\n\n\
                   class H:\n    def __init__(self):\n        self._driver = Driver()\n        self._other = Other()\n\n\
                   \x20   def run(self, given):\n        self._driver.save()\n        self._other.save()\n        Driver().save()\n        given.save()\n";
        assert_eq!(reach(src, METHOD), vec![Reach::Yes, Reach::No, Reach::Yes, Reach::Unknown]);
    }
}
