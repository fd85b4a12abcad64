//! `inject-session`: a driver that opens its own session (in a block, an assignment or a helper
//! around each call) receives one instead; its callers are given one, threaded up to the function
//! that owns it, and the driver's commits move there, in one change set.

mod driver;
mod owners;

use super::{ManualReason, TransformCall, TransformOutput};
use crate::edit::FileEdits;

pub use driver::Unit;

pub fn run(call: &TransformCall) -> Result<TransformOutput, ManualReason> {
    let file = call.analysed.ctx.file;
    let registry = &call.project.config.file.registry;
    let rewrite = driver::rewrite(&driver::Request { file, trigger: call.m.node, registry })?;
    let lookup = call.analysed.ctx.callers.ok_or("callers are only known during a project run")?;
    let unit_range = rewrite.edits.first().map(|e| e.range.clone()).unwrap_or_default();
    let threaded = owners::Threading::new(
        lookup,
        call.sources,
        &call.project.config,
        &rewrite,
        file,
        call.analysed.ctx.module.clone(),
        unit_range,
    )
    .run()?;
    let mut files = vec![FileEdits::edit(file.rel_path.clone(), rewrite.edits.clone())];
    for other in threaded.files {
        match files.iter_mut().find(|f| f.path == other.path) {
            Some(same) => same.edits.extend(other.edits),
            None => files.push(other),
        }
    }
    let name = rewrite.unit.name();
    let what = match rewrite.unit {
        Unit::Class(_) => format!("`{name}` receives its session (`__init__(self, session)`)"),
        Unit::Function(_) => format!("`{name}` receives its session (`{}`)", rewrite.parameter),
    };
    let description = if rewrite.committed.is_empty() {
        format!("{what}; its callers pass theirs")
    } else {
        format!("{what}; the commits of `{}` move to their owners", rewrite.committed.join("`, `"))
    };
    Ok(TransformOutput { files, follow_ups: threaded.owners, description: Some(description) })
}

/// The start of the class or function a match's rewrite covers (matches in one unit share it).
pub fn unit_start(node: tree_sitter::Node) -> Option<usize> {
    let mut unit = None;
    let mut current = node.parent();
    while let Some(n) = current {
        if matches!(n.kind(), "function_definition" | "class_definition") {
            unit = Some(n.start_byte());
        }
        current = n.parent();
    }
    unit
}
