//! Callers: where the project calls a function, by name, found on demand over the files that
//! mention the name, for relations and transforms that look at who calls a function.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::discover::Candidate;
use crate::engine::Project;
use crate::matching::{for_each_node, CallSite, CallerLookup, CallerMatches};
use crate::python::SourceFile;

/// A name and the byte range where a file uses it.
type NamedRange = (String, Range<usize>);

/// A file's calls by callee name and its `from m import name as alias` statements by name.
#[derive(Default)]
struct FileIndex {
    calls: Vec<NamedRange>,
    aliases: Vec<NamedRange>,
}

/// Where a name is called and where it is imported under an alias: (file index, byte range).
#[derive(Default, Clone)]
struct NameSites {
    calls: Vec<(usize, Range<usize>)>,
    aliases: Vec<(usize, Range<usize>)>,
}

/// Call sites by name, found on demand: a name's sites come from the files whose text contains
/// it (a literal prefilter), each parsed and indexed at most once per run, so a run that asks
/// about a few names reads the project once and parses only the files that mention them.
pub struct ProjectCallers<'a> {
    project: &'a Project,
    contents: &'a BTreeMap<String, String>,
    /// Every Python file of the project (callers may live outside the paths being checked).
    files: OnceLock<Vec<(Candidate, Option<Arc<str>>)>>,
    indexed: Mutex<HashMap<usize, Arc<FileIndex>>>,
    by_name: Mutex<HashMap<String, NameSites>>,
    /// Files parsed to look at their call sites, kept for later questions.
    parsed: Mutex<HashMap<usize, Arc<SourceFile>>>,
    caller_matches: CallerMatches,
}

impl<'a> ProjectCallers<'a> {
    /// `contents` are a fix run's in-memory files, which take precedence over the disk.
    pub fn new(project: &'a Project, contents: &'a BTreeMap<String, String>) -> Self {
        ProjectCallers {
            project,
            contents,
            files: OnceLock::new(),
            indexed: Mutex::new(HashMap::new()),
            by_name: Mutex::new(HashMap::new()),
            parsed: Mutex::new(HashMap::new()),
            caller_matches: CallerMatches::default(),
        }
    }

    fn read(&self, candidate: &Candidate) -> Option<String> {
        match self.contents.get(&candidate.rel_path) {
            Some(text) => Some(text.clone()),
            None => std::fs::read_to_string(&candidate.abs_path).ok(),
        }
    }

    /// Every project file and its text, read once, in parallel.
    fn files(&self) -> &[(Candidate, Option<Arc<str>>)] {
        self.files.get_or_init(|| {
            let mut files = self.project.candidates(&[]).unwrap_or_default();
            let created: Vec<String> =
                self.contents.keys().filter(|p| !files.iter().any(|c| &c.rel_path == *p)).cloned().collect();
            for rel_path in created {
                files.push(Candidate { abs_path: self.project.root().join(&rel_path), rel_path });
            }
            files
                .into_par_iter()
                .map(|c| {
                    let text = self.read(&c).map(Arc::from);
                    (c, text)
                })
                .collect()
        })
    }

    fn parse(&self, i: usize) -> Option<SourceFile> {
        let (candidate, text) = &self.files()[i];
        SourceFile::parse(candidate.rel_path.clone(), candidate.abs_path.clone(), text.as_ref()?.as_bytes().to_vec())
            .ok()
    }

    /// A file with call sites asked about, parsed once and kept (trees of the files merely
    /// indexed are not kept: most never have a site anyone asks about).
    fn file(&self, i: usize) -> Option<Arc<SourceFile>> {
        if let Some(file) = self.parsed.lock().ok().and_then(|p| p.get(&i).cloned()) {
            return Some(file);
        }
        let file = Arc::new(self.parse(i)?);
        if let Ok(mut parsed) = self.parsed.lock() {
            parsed.insert(i, file.clone());
        }
        Some(file)
    }

    fn index_of(&self, i: usize) -> Arc<FileIndex> {
        if let Some(found) = self.indexed.lock().ok().and_then(|m| m.get(&i).cloned()) {
            return found;
        }
        let index = Arc::new(
            self.parse(i).map(|f| FileIndex { calls: calls_in(&f), aliases: aliases_in(&f) }).unwrap_or_default(),
        );
        if let Ok(mut indexed) = self.indexed.lock() {
            indexed.insert(i, index.clone());
        }
        index
    }

    /// The sites of `name`, from the files that mention it.
    fn name_sites(&self, name: &str) -> NameSites {
        if let Some(found) = self.by_name.lock().ok().and_then(|m| m.get(name).cloned()) {
            return found;
        }
        let files = self.files();
        let mentioning: Vec<usize> = (0..files.len())
            .into_par_iter()
            .filter(|i| files[*i].1.as_deref().is_some_and(|t| t.contains(name)))
            .collect();
        let per_file: Vec<(usize, Arc<FileIndex>)> =
            mentioning.into_par_iter().map(|i| (i, self.index_of(i))).collect();
        let mut sites = NameSites::default();
        for (i, index) in per_file {
            sites.calls.extend(index.calls.iter().filter(|(n, _)| n == name).map(|(_, r)| (i, r.clone())));
            sites.aliases.extend(index.aliases.iter().filter(|(n, _)| n == name).map(|(_, r)| (i, r.clone())));
        }
        if let Ok(mut by_name) = self.by_name.lock() {
            by_name.insert(name.to_string(), sites.clone());
        }
        sites
    }

    fn sites(&self, entries: &[(usize, Range<usize>)]) -> Vec<CallSite> {
        let roots = &self.project.config.file.python.import_roots;
        entries
            .iter()
            .filter_map(|(i, call)| {
                let file = self.file(*i)?;
                let module = crate::python::module_name(&file.rel_path, roots);
                Some(CallSite { file, module, call: call.clone() })
            })
            .collect()
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
        self.sites(&self.name_sites(name).calls)
    }

    fn aliased_imports(&self, name: &str) -> Vec<CallSite> {
        self.sites(&self.name_sites(name).aliases)
    }

    fn caller_matches(&self) -> &CallerMatches {
        &self.caller_matches
    }
}
