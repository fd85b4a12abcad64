//! `inject-session`: a driver that opens its own session (in a block, an assignment or a helper
//! around each call) receives one instead; its callers are given one, threaded up to the function
//! that owns it, and the driver's commits move there, in one change set.

mod driver;
mod owners;

use regex::Regex;

use super::{ManualReason, TransformCall, TransformOutput};
use crate::edit::FileEdits;

pub use driver::Unit;

pub const PARAMS: &[&str] = &["sessions", "engines"];

/// How many functions of one driver module are rewritten together at most.
const MAX_GROUP: usize = 8;

/// Callees that open a session, or build an engine one is opened on (SQLAlchemy's, SQLModel's
/// and the usual project helpers); a recipe may name its project's own.
const DEFAULT_SESSIONS: &str = r"^(?:[A-Za-z_][\w.]*\.)?(Session|AsyncSession|sessionmaker|async_sessionmaker|create_engine|create_async_engine|get_session|get_async_session|get_engine|get_async_engine|SessionLocal|AsyncSessionLocal|async_session_context|session_context|session_scope)$";
const DEFAULT_ENGINES: &str =
    r"^(?:[A-Za-z_][\w.]*\.)?(create_engine|create_async_engine|get_engine|get_async_engine)$";

/// The transform's parameters: which callees open sessions (`sessions`), and which of those
/// build engines (`engines`).
pub struct Factories {
    pub sessions: Regex,
    pub engines: Regex,
}

impl Factories {
    fn read(table: &toml::Table) -> Result<Self, String> {
        let regex = |key: &str, default: &str| {
            let source = table.get(key).and_then(|v| v.as_str()).unwrap_or(default);
            Regex::new(source).map_err(|e| format!("{key}: {e}"))
        };
        Ok(Factories { sessions: regex("sessions", DEFAULT_SESSIONS)?, engines: regex("engines", DEFAULT_ENGINES)? })
    }
}

pub fn validate(table: &toml::Table) -> Result<(), String> {
    Factories::read(table).map(|_| ())
}

pub fn run(call: &TransformCall) -> Result<TransformOutput, ManualReason> {
    let file = call.analysed.ctx.file;
    let registry = &call.project.config.file.registry;
    let factories = Factories::read(call.params)?;
    let request = |trigger| driver::Request { file, trigger, registry, factories: &factories };
    let mut group = vec![driver::rewrite(&request(call.m.node))?];
    // Functions of the module that open their own sessions where this one is used join it.
    let threaded = loop {
        match owners::Threading::new(call, &factories, &group)?.run() {
            Ok(threaded) => break threaded,
            Err(owners::Refused::Manual(reason)) => return Err(reason),
            Err(owners::Refused::Companion(name)) => {
                let trigger = driver::opening_call(&factories, file, &name)
                    .filter(|_| group.len() < MAX_GROUP && !group.iter().any(|d| d.unit.name() == name))
                    .ok_or_else(|| format!("`{name}` in the same driver opens its own session where this one is used; migrate them together by hand"))?;
                let companion = driver::rewrite(&request(trigger)).map_err(|why| {
                    format!("`{name}`, used together with this driver, cannot be rewritten with it: {why}")
                })?;
                group.push(companion);
            }
        }
    };
    let mut files = vec![FileEdits::edit(file.rel_path.clone(), driver::file_edits(file, &group)?)];
    for other in threaded.files {
        match files.iter_mut().find(|f| f.path == other.path) {
            Some(same) => same.edits.extend(other.edits),
            None => files.push(other),
        }
    }
    let what: Vec<String> = group
        .iter()
        .map(|d| match &d.unit {
            Unit::Class(name) => format!("`{name}` receives its session (`__init__(self, session)`)"),
            Unit::Function(name) => format!("`{name}` receives its session (`{}`)", d.call_param.0),
        })
        .collect();
    let committed: Vec<&str> = group.iter().flat_map(|d| d.committed.iter().map(String::as_str)).collect();
    let description = if committed.is_empty() {
        format!("{}; its callers pass theirs", what.join(", "))
    } else {
        format!("{}; the commits of `{}` move to their owners", what.join(", "), committed.join("`, `"))
    };
    let mut follow_ups = threaded.owners;
    follow_ups.extend(threaded.notes);
    Ok(TransformOutput { files, follow_ups, description: Some(description), tidies_source: false })
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
