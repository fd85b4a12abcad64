//! The stable JSON output (schema version 1, documented in the README).

use serde::Serialize;
use serde_json::json;

use crate::diagnostics::{CheckReport, Disposition, ExceptedBy, Finding};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Excepted<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    reason: &'a str,
    /// `None` for an inline suppression.
    owner: Option<&'a str>,
    /// `exceptions` (the exceptions file) or `inline` (a `# strata: allow[...]` comment).
    source: &'static str,
    /// The suppression comment's line.
    #[serde(skip_serializing_if = "Option::is_none")]
    suppression_line: Option<usize>,
}

#[derive(Serialize)]
struct Classified<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    label: &'a str,
}

pub fn render(report: &CheckReport) -> String {
    let violations: Vec<&Finding> = report.violations().collect();
    let mut excepted = Vec::new();
    let mut classified = Vec::new();
    for (finding, disposition) in &report.findings {
        match disposition {
            Disposition::Excepted(ExceptedBy::File(index)) => {
                let entry = &report.exceptions[*index].entry;
                excepted.push(Excepted {
                    finding,
                    reason: &entry.reason,
                    owner: Some(&entry.owner),
                    source: "exceptions",
                    suppression_line: None,
                });
            }
            Disposition::Excepted(ExceptedBy::Inline(index)) => {
                let suppression = &report.suppressions[*index];
                excepted.push(Excepted {
                    finding,
                    reason: &suppression.reason,
                    owner: None,
                    source: "inline",
                    suppression_line: Some(suppression.line),
                });
            }
            Disposition::Classified(label) => classified.push(Classified { finding, label }),
            Disposition::Violation => {}
        }
    }
    let value = json!({
        "version": SCHEMA_VERSION,
        "tool": { "name": "strata", "version": env!("CARGO_PKG_VERSION") },
        "summary": {
            "violations": violations.len(),
            "excepted": excepted.len(),
            "classified": classified.len(),
            "skipped": report.skipped.len(),
            "files": report.stats,
        },
        "statistics": report.counts(),
        "violations": violations,
        "excepted": excepted,
        "classified": classified,
        "skipped": report.skipped,
        "exceptions": report.exceptions,
        "suppressions": report.suppressions,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}
