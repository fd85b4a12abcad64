//! The sample app's `check --format json` counts agree, rule by rule, with an independent counter
//! written with Python's `ast` module (tests/ast_counter.py).

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{json, python, repo_root, run, sample_app};
use serde_json::Value;

const RULES: [&str; 7] = [
    "l2-db-execute",
    "l2-transaction",
    "l6-transaction",
    "l6-session-lifecycle",
    "l4-service-locator",
    "l5-imports-l4",
    "l2-registry-dispatch",
];

fn python_counts() -> BTreeMap<String, Value> {
    let out = Command::new(python())
        .arg(repo_root().join("tests/ast_counter.py"))
        .arg(sample_app())
        .output()
        .expect("the Python interpreter runs");
    assert!(out.status.success(), "ast_counter.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("ast_counter.py prints JSON")
}

fn strata_stats() -> Value {
    let (code, stdout, stderr) = run(&sample_app(), &["check", "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let v = json(&stdout);
    assert!(v["skipped"].as_array().unwrap().is_empty(), "the sample app has no skipped files: {}", v["skipped"]);
    v["statistics"].clone()
}

#[test]
fn violation_counts_agree_rule_by_rule() {
    let expected = python_counts();
    let stats = strata_stats();
    for rule in RULES {
        let ours = stats[rule]["violations"].as_u64().unwrap_or_else(|| panic!("strata has no count for {rule}"));
        let theirs =
            expected.get(rule).and_then(Value::as_u64).unwrap_or_else(|| panic!("ast_counter has no count for {rule}"));
        assert_eq!(ours, theirs, "{rule}: strata {ours}, ast counter {theirs}");
        assert!(ours >= 1, "{rule} never fires on the sample app");
    }
    let counted: Vec<&String> = expected.keys().filter(|k| !k.contains(':')).collect();
    assert_eq!(counted.len(), RULES.len(), "the counter knows exactly the seven rules: {counted:?}");
}

#[test]
fn registry_dispatch_classifications_agree() {
    let expected = python_counts();
    let stats = strata_stats();
    let theirs = expected["l2-registry-dispatch:classified"].as_object().expect("classified counts");
    let ours = stats["l2-registry-dispatch"]["classified"].as_object().unwrap();
    assert_eq!(ours, theirs, "classified labels and counts");
    for label in ["bridge", "facade", "adapter", "stateless"] {
        assert!(
            ours.get(label).and_then(Value::as_u64).unwrap_or(0) >= 1,
            "no `{label}` router in the sample app: {ours:?}"
        );
    }
}

#[test]
fn statistics_report_every_rule() {
    let (code, stdout, _) = run(&sample_app(), &["check", "--statistics", "--color", "never"]);
    assert_eq!(code, 1);
    for rule in RULES {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{rule} ")))
            .unwrap_or_else(|| panic!("no row for {rule}:\n{stdout}"));
        let violations: u64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(violations >= 1, "{row}");
    }
}
