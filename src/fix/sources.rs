//! Sources of one fix pass: the current text of every project file (the run's in-memory changes
//! first, then the disk), parsed at most once per pass and shared by every plan of the pass.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::Contents;
use crate::config::Config;
use crate::engine::Project;
use crate::guard::{self, Fact, Guard, ProjectFiles};
use crate::python::scope::{self, ModuleScope};
use crate::python::SourceFile;

pub struct Sources<'a> {
    pub project: &'a Project,
    pub contents: &'a Contents,
    parsed: Mutex<HashMap<String, Result<Arc<SourceFile>, String>>>,
    scopes: Mutex<HashMap<String, Arc<ModuleScope>>>,
    /// Semantic facts of files as they stand in this pass, the baseline a change set is judged against.
    facts: Mutex<HashMap<String, Arc<Vec<Fact>>>>,
    /// Dotted names of every module of the project, listed on first use.
    modules: std::sync::OnceLock<Arc<Vec<String>>>,
    /// One guard for the pass, so what it learns of the files (which modules import) is shared.
    guard: Guard<'a>,
}

impl<'a> Sources<'a> {
    pub fn new(project: &'a Project, contents: &'a Contents) -> Self {
        Sources {
            project,
            contents,
            parsed: Mutex::new(HashMap::new()),
            scopes: Mutex::new(HashMap::new()),
            facts: Mutex::new(HashMap::new()),
            modules: std::sync::OnceLock::new(),
            guard: Guard::new(&project.config),
        }
    }

    /// The current text of a project file, `None` when it does not exist.
    pub fn text(&self, rel: &str) -> Option<String> {
        super::current_text(self.project, self.contents, rel)
    }

    /// The parsed current text of a project file: `Ok(None)` when it does not exist, `Err` with the
    /// reason when it does not parse.
    pub fn parsed(&self, rel: &str) -> Result<Option<Arc<SourceFile>>, String> {
        if let Some(known) = self.parsed.lock().ok().and_then(|p| p.get(rel).cloned()) {
            return known.map(Some);
        }
        let Some(text) = self.text(rel) else { return Ok(None) };
        let parsed = SourceFile::parse(rel.to_string(), self.project.root().join(rel), text.into_bytes())
            .map(Arc::new)
            .map_err(|e| format!("{rel} does not parse ({e}); fix it first"));
        if let Ok(mut cache) = self.parsed.lock() {
            cache.insert(rel.to_string(), parsed.clone());
        }
        parsed.map(Some)
    }

    /// The scope analysis of `file`'s module level (which must be current for this pass).
    pub fn module_scope(&self, file: &SourceFile) -> Arc<ModuleScope> {
        cached(&self.scopes, file, || scope::module_scope(&file.tree, file.bytes()))
    }

    /// The semantic facts of a file as it stands in this pass (cached).
    fn facts(&self, file: &SourceFile) -> Arc<Vec<Fact>> {
        cached(&self.facts, file, || self.guard.file_facts(self, file))
    }

    /// The dotted names of every Python module of the project (files of this run included).
    pub fn modules(&self) -> Arc<Vec<String>> {
        self.modules
            .get_or_init(|| {
                let roots = &self.project.config.file.python.import_roots;
                let mut paths: Vec<String> = crate::discover::python_files(self.project.root(), &[])
                    .map(|found| found.into_iter().map(|c| c.rel_path).collect())
                    .unwrap_or_default();
                paths.extend(self.contents.keys().filter(|k| k.ends_with(".py")).cloned());
                let mut modules: Vec<String> =
                    paths.iter().filter_map(|p| crate::python::module_name(p, roots)).collect();
                modules.sort();
                modules.dedup();
                Arc::new(modules)
            })
            .clone()
    }

    fn dir_exists_in_run(&self, rel: &str) -> bool {
        let prefix = format!("{rel}/");
        self.project.root().join(rel).is_dir() || self.contents.keys().any(|k| k.starts_with(&prefix))
    }
}

impl ProjectFiles for Sources<'_> {
    fn parsed(&self, rel: &str) -> Option<Arc<SourceFile>> {
        Sources::parsed(self, rel).ok().flatten()
    }

    fn dir_exists(&self, rel: &str) -> bool {
        self.dir_exists_in_run(rel)
    }

    fn file_exists(&self, rel: &str) -> bool {
        self.contents.contains_key(rel) || self.project.root().join(rel).is_file()
    }
}

/// What `cache` holds for `file`, computed on first use (per pass: files do not change in one).
fn cached<T>(cache: &Mutex<HashMap<String, Arc<T>>>, file: &SourceFile, compute: impl FnOnce() -> T) -> Arc<T> {
    if let Some(known) = cache.lock().ok().and_then(|c| c.get(&file.rel_path).cloned()) {
        return known;
    }
    let value = Arc::new(compute());
    if let Ok(mut cache) = cache.lock() {
        cache.insert(file.rel_path.clone(), value.clone());
    }
    value
}

/// The files of a pass with one change set applied, for judging what the change set means.
pub struct Overlay<'s, 'a> {
    base: &'s Sources<'a>,
    files: HashMap<String, Option<Arc<SourceFile>>>,
}

impl<'s, 'a> Overlay<'s, 'a> {
    pub fn new(base: &'s Sources<'a>) -> Self {
        Overlay { base, files: HashMap::new() }
    }

    /// The new text of a Python file (a file that does not parse counts as missing).
    pub fn put(&mut self, rel: &str, text: String) {
        let parsed = SourceFile::parse(rel.to_string(), self.base.project.root().join(rel), text.into_bytes());
        self.files.insert(rel.to_string(), parsed.ok().map(Arc::new));
    }

    /// Facts of the changed files that they did not have before: unbound names, unresolved
    /// imports (modules outside the project are fine when the changed files already imported
    /// them), imports up the layers, calls that do not fit, and newly dispatched operations that
    /// no running registration provides.
    pub fn new_facts(&self, config: &Config) -> Vec<Fact> {
        let guard = Guard::new(config);
        let mut known_external: BTreeSet<String> = BTreeSet::new();
        let mut before_ops: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        let mut new_ops: Vec<&Arc<SourceFile>> = Vec::new();
        for path in self.files.keys() {
            if let Some(before) = Sources::parsed(self.base, path).ok().flatten() {
                known_external.extend(guard::imported_modules(config, &before));
                before_ops.extend(guard.dispatched(&before).into_iter().map(|(op, _)| op));
            }
        }
        // The configured session types are the project's own choice of library.
        let registry = &config.file.registry;
        known_external.extend([registry.async_session_type.clone(), registry.sync_session_type.clone()]);
        let tops: BTreeSet<&str> = known_external.iter().filter_map(|m| m.split('.').next()).collect();
        for (path, after) in &self.files {
            let Some(after) = after else { continue };
            let before = Sources::parsed(self.base, path).ok().flatten().map(|b| self.base.facts(&b));
            let facts = guard.file_facts(self, after);
            let fresh = guard::new_facts(before.as_deref().map(Vec::as_slice).unwrap_or(&[]), facts);
            out.extend(
                fresh.into_iter().filter(|f| {
                    !f.external.as_deref().is_some_and(|m| tops.contains(m.split('.').next().unwrap_or(m)))
                }),
            );
            if guard.dispatched(after).iter().any(|(op, _)| !before_ops.contains(op)) {
                new_ops.push(after);
            }
        }
        let handlers_dir = format!("{}/", config.file.registry.handlers_dir);
        if self.files.keys().any(|p| p.starts_with(&handlers_dir)) {
            let before = guard::duplicates(&guard.registered(self.base));
            for op in guard::duplicates(&guard.registered(self)).difference(&before) {
                out.push(Fact {
                    check: guard::Check::DuplicateRegistration,
                    path: format!("{}__init__.py", handlers_dir),
                    line: 1,
                    message: format!("operation `{op}` would be registered twice; the registry refuses the second"),
                    key: op.clone(),
                    external: None,
                });
            }
        }
        if !new_ops.is_empty() {
            let registered = guard.registered(self);
            for file in new_ops {
                out.extend(guard.unregistered(file, &registered).into_iter().filter(|f| {
                    let op = f.key.rsplit('|').next().unwrap_or_default();
                    !before_ops.contains(op)
                }));
            }
        }
        out
    }
}

impl ProjectFiles for Overlay<'_, '_> {
    fn parsed(&self, rel: &str) -> Option<Arc<SourceFile>> {
        match self.files.get(rel) {
            Some(file) => file.clone(),
            None => Sources::parsed(self.base, rel).ok().flatten(),
        }
    }

    fn dir_exists(&self, rel: &str) -> bool {
        let prefix = format!("{rel}/");
        self.base.dir_exists_in_run(rel) || self.files.keys().any(|k| k.starts_with(&prefix))
    }

    fn file_exists(&self, rel: &str) -> bool {
        match self.files.get(rel) {
            Some(file) => file.is_some(),
            None => self.base.file_exists(rel),
        }
    }
}
