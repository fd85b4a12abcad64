//! Sources of one fix pass: the current text of every project file (the run's in-memory changes
//! first, then the disk), parsed at most once per pass and shared by every plan of the pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Contents;
use crate::engine::Project;
use crate::python::scope::{self, ModuleBinding};
use crate::python::SourceFile;

pub struct Sources<'a> {
    pub project: &'a Project,
    pub contents: &'a Contents,
    parsed: Mutex<HashMap<String, Result<Arc<SourceFile>, String>>>,
    bindings: Mutex<HashMap<String, Arc<Vec<ModuleBinding>>>>,
}

impl<'a> Sources<'a> {
    pub fn new(project: &'a Project, contents: &'a Contents) -> Self {
        Sources { project, contents, parsed: Mutex::new(HashMap::new()), bindings: Mutex::new(HashMap::new()) }
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

    /// The names bound at the top level of `file` (which must be current for this pass).
    pub fn module_bindings(&self, file: &SourceFile) -> Arc<Vec<ModuleBinding>> {
        if let Some(known) = self.bindings.lock().ok().and_then(|b| b.get(&file.rel_path).cloned()) {
            return known;
        }
        let bindings = Arc::new(scope::module_bindings(&file.tree, file.bytes()));
        if let Ok(mut cache) = self.bindings.lock() {
            cache.insert(file.rel_path.clone(), bindings.clone());
        }
        bindings
    }
}
