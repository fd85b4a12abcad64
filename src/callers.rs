//! Callers: a project-wide index of call sites by function name, built on first use in one
//! parallel pass, for relations that look at who calls a function (`callers_have`).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::discover::Candidate;
use crate::engine::Project;
use crate::matching::{for_each_node, CallSite, CallerLookup};
use crate::python::SourceFile;

/// A name and the byte range where a file uses it.
type NamedRange = (String, Range<usize>);

/// Where each function name is called: (file index, call byte range).
type CallIndex = HashMap<String, Vec<(usize, Range<usize>)>>;

/// The index: every project file, its calls by callee name, and `from m import name as alias`
/// statements by imported name.
struct Index {
    files: Vec<Candidate>,
    calls: CallIndex,
    aliases: CallIndex,
}

pub struct ProjectCallers<'a> {
    project: &'a Project,
    contents: &'a BTreeMap<String, String>,
    /// Every Python file of the project (callers may live outside the paths being checked) and the index.
    index: OnceLock<Index>,
    /// Files re-parsed to look at their call sites, kept for later questions.
    parsed: Mutex<HashMap<usize, Arc<SourceFile>>>,
}

impl<'a> ProjectCallers<'a> {
    /// `contents` are a fix run's in-memory files, which take precedence over the disk.
    pub fn new(project: &'a Project, contents: &'a BTreeMap<String, String>) -> Self {
        ProjectCallers { project, contents, index: OnceLock::new(), parsed: Mutex::new(HashMap::new()) }
    }

    fn read(&self, candidate: &Candidate) -> Option<String> {
        match self.contents.get(&candidate.rel_path) {
            Some(text) => Some(text.clone()),
            None => std::fs::read_to_string(&candidate.abs_path).ok(),
        }
    }

    fn parse(&self, candidate: &Candidate) -> Option<SourceFile> {
        let text = self.read(candidate)?;
        SourceFile::parse(candidate.rel_path.clone(), candidate.abs_path.clone(), text.into_bytes()).ok()
    }

    fn build(&self) -> Index {
        let mut files = self.project.candidates(&[]).unwrap_or_default();
        let created: Vec<String> =
            self.contents.keys().filter(|p| !files.iter().any(|c| &c.rel_path == *p)).cloned().collect();
        for rel_path in created {
            files.push(Candidate { abs_path: self.project.root().join(&rel_path), rel_path });
        }
        let per_file: Vec<(Vec<NamedRange>, Vec<NamedRange>)> = files
            .par_iter()
            .map(|candidate| self.parse(candidate).map(|file| (calls_in(&file), aliases_in(&file))).unwrap_or_default())
            .collect();
        let (mut calls, mut aliases) = (CallIndex::new(), CallIndex::new());
        for (i, (file_calls, file_aliases)) in per_file.into_iter().enumerate() {
            for (name, range) in file_calls {
                calls.entry(name).or_default().push((i, range));
            }
            for (name, range) in file_aliases {
                aliases.entry(name).or_default().push((i, range));
            }
        }
        Index { files, calls, aliases }
    }

    fn sites(&self, index: &Index, entries: Option<&Vec<(usize, Range<usize>)>>) -> Vec<CallSite> {
        let roots = &self.project.config.file.python.import_roots;
        entries
            .into_iter()
            .flatten()
            .filter_map(|(i, call)| {
                let file = self.file(&index.files, *i)?;
                let module = crate::python::module_name(&file.rel_path, roots);
                Some(CallSite { file, module, call: call.clone() })
            })
            .collect()
    }

    fn file(&self, files: &[Candidate], i: usize) -> Option<Arc<SourceFile>> {
        if let Some(file) = self.parsed.lock().ok().and_then(|p| p.get(&i).cloned()) {
            return Some(file);
        }
        let file = Arc::new(self.parse(&files[i])?);
        if let Ok(mut parsed) = self.parsed.lock() {
            parsed.insert(i, file.clone());
        }
        Some(file)
    }
}

/// Every `from m import name as alias` (alias differing from the name) in a file, by name.
fn aliases_in(file: &SourceFile) -> Vec<NamedRange> {
    let mut out = Vec::new();
    for_each_node(file.tree.root_node(), |node| {
        if node.kind() != "import_from_statement" {
            return;
        }
        let mut cursor = node.walk();
        for name in node.children_by_field_name("name", &mut cursor) {
            let (Some(original), Some(alias)) = (name.child_by_field_name("name"), name.child_by_field_name("alias"))
            else {
                continue;
            };
            if file.node_text(original) != file.node_text(alias) {
                out.push((file.node_text(original).to_string(), node.byte_range()));
            }
        }
    });
    out
}

/// Every call of a plain or attribute callee in a file: `name(...)` and `x.name(...)`.
fn calls_in(file: &SourceFile) -> Vec<(String, Range<usize>)> {
    let mut calls = Vec::new();
    for_each_node(file.tree.root_node(), |node| {
        if node.kind() != "call" {
            return;
        }
        let callee = node.child_by_field_name("function").map(|c| match c.kind() {
            "attribute" => c.child_by_field_name("attribute").unwrap_or(c),
            _ => c,
        });
        if let Some(callee) = callee.filter(|c| c.kind() == "identifier") {
            calls.push((file.node_text(callee).to_string(), node.byte_range()));
        }
    });
    calls
}

impl CallerLookup for ProjectCallers<'_> {
    fn call_sites(&self, name: &str) -> Vec<CallSite> {
        let index = self.index.get_or_init(|| self.build());
        self.sites(index, index.calls.get(name))
    }

    fn aliased_imports(&self, name: &str) -> Vec<CallSite> {
        let index = self.index.get_or_init(|| self.build());
        self.sites(index, index.aliases.get(name))
    }
}
