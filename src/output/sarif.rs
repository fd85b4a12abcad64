//! SARIF 2.1.0 output for code-scanning services: the tool and its rules, results with regions.

use serde_json::{json, Value};

use crate::diagnostics::{CheckReport, Disposition, ExceptedBy, Finding};
use crate::matching::rule::Rule;
use crate::recipe::Severity;

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn rule_descriptor(rule: &Rule) -> Value {
    let recipe = &rule.recipe;
    let help = if recipe.help.is_empty() { recipe.title.clone() } else { recipe.help.clone() };
    json!({
        "id": recipe.id,
        "name": recipe.id,
        "shortDescription": { "text": recipe.title },
        "fullDescription": { "text": help },
        "help": { "text": help, "markdown": help },
        "defaultConfiguration": { "level": level(recipe.severity) },
    })
}

fn result(finding: &Finding, rule_index: Option<usize>, suppression: Option<Value>) -> Value {
    let mut result = json!({
        "ruleId": finding.rule,
        "level": level(finding.severity),
        "message": { "text": finding.message },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": finding.path, "uriBaseId": "%SRCROOT%" },
                "region": {
                    "startLine": finding.start.line,
                    "startColumn": finding.start.column,
                    "endLine": finding.end.line,
                    "endColumn": finding.end.column,
                }
            }
        }],
    });
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    if let Some(suppression) = suppression {
        result["suppressions"] = json!([suppression]);
    }
    result
}

pub fn render(report: &CheckReport, rules: &[Rule]) -> String {
    let descriptors: Vec<Value> = rules.iter().map(rule_descriptor).collect();
    let index_of = |id: &str| rules.iter().position(|r| r.id() == id);
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|(finding, disposition)| {
            let suppression = match disposition {
                Disposition::Violation => None,
                Disposition::Excepted(ExceptedBy::File(i)) => {
                    let entry = &report.exceptions[*i].entry;
                    Some(json!({ "kind": "external", "justification": format!("{} (owner: {})", entry.reason, entry.owner) }))
                }
                Disposition::Excepted(ExceptedBy::Inline(i)) => {
                    Some(json!({ "kind": "inSource", "justification": report.suppressions[*i].reason }))
                }
                Disposition::Classified(label) => {
                    Some(json!({ "kind": "external", "justification": format!("classified as a justified pattern: {label}") }))
                }
            };
            result(finding, index_of(&finding.rule), suppression)
        })
        .collect();
    let notifications: Vec<Value> = report
        .skipped
        .iter()
        .map(|s| {
            json!({
                "level": "warning",
                "message": { "text": format!("skipped: {}", s.reason) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": s.path, "uriBaseId": "%SRCROOT%" } } }],
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "strata",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": descriptors,
            }},
            "invocations": [{ "executionSuccessful": true, "toolExecutionNotifications": notifications }],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"
}
