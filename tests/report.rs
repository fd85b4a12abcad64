//! `strata report` on the sample backend: the Markdown evidence as a snapshot, its numbers checked
//! against `check` and `fix` run on their own, and the report of a migrated branch against git.

mod common;

use std::path::Path;

use common::{copy_dir, git, git_commit_all, json, run, sample_app};

fn sample_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_app(), dir.path());
    git_commit_all(dir.path());
    dir
}

/// Violations per rule that `check --format json` reports in `dir`.
fn counts(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    let (_, stdout, _) = run(dir, &["check", "--format", "json"]);
    let report = json(&stdout);
    let mut out = serde_json::Map::new();
    for finding in report["violations"].as_array().unwrap() {
        let rule = finding["rule"].as_str().unwrap().to_string();
        let n = out.get(&rule).and_then(|v| v.as_u64()).unwrap_or(0);
        out.insert(rule, (n + 1).into());
    }
    out
}

#[test]
fn the_markdown_report_of_the_sample_backend_matches_check_and_fix() {
    let repo = sample_repo();
    let root = repo.path();
    let (code, markdown, stderr) = run(root, &["report", "--format", "md"]);
    assert_eq!(code, 0, "{stderr}");
    let base = git(root, &["rev-parse", "HEAD"]).trim().to_string();
    let shown = markdown.replace(&base, "<base>").replace(&base[..10], "<base>");
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("report_sample_backend_md", shown);
    });

    // The numbers are those of `check` before and after `fix`, run on their own.
    let (code, stdout, _) = run(root, &["report", "--format", "json"]);
    assert_eq!(code, 0);
    let evidence = json(&stdout);
    assert_eq!(evidence["version"], 1);
    let before = counts(root);
    let (_, fixed, _) = run(root, &["fix", "--format", "json"]);
    let applied = json(&fixed)["applied"].as_array().unwrap().len();
    let after = counts(root);
    for row in evidence["rules"].as_array().unwrap() {
        let rule = row["rule"].as_str().unwrap();
        assert_eq!(row["before"].as_u64().unwrap(), before.get(rule).and_then(|v| v.as_u64()).unwrap_or(0), "{rule}");
        assert_eq!(row["after"].as_u64().unwrap(), after.get(rule).and_then(|v| v.as_u64()).unwrap_or(0), "{rule}");
    }
    assert_eq!(evidence["change_sets"].as_array().unwrap().len(), applied);
    let touched: Vec<String> = git(root, &["status", "--porcelain"]).lines().map(|l| l[3..].to_string()).collect();
    let files: Vec<&str> = evidence["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    for file in &files {
        assert!(touched.iter().any(|t| file.starts_with(t.trim_end_matches('/'))), "{file} not touched by fix");
    }
    assert!(evidence["manual"].as_array().unwrap().iter().all(|m| !m["reason"].as_str().unwrap().is_empty()));
}

#[test]
fn the_report_of_a_migrated_branch_agrees_with_git_and_with_check_on_the_branch() {
    let repo = sample_repo();
    let root = repo.path();
    let (code, _, stderr) = run(root, &["migrate", "--branch", "strata/layers", "--author", "Bot <bot@example.com>"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) =
        run(root, &["report", "--base", "main", "--head", "strata/layers", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let evidence = json(&stdout);
    assert_eq!(evidence["head"]["commit"].as_str().unwrap(), git(root, &["rev-parse", "strata/layers"]).trim());
    let numstat = git(root, &["diff", "--numstat", "main", "strata/layers"]);
    let files = evidence["files"].as_array().unwrap();
    assert_eq!(files.len(), numstat.lines().count());
    for line in numstat.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        let file = files.iter().find(|f| f["path"] == parts[2]).unwrap_or_else(|| panic!("{} missing", parts[2]));
        assert_eq!(file["added_lines"].as_u64().unwrap().to_string(), parts[0]);
        assert_eq!(file["removed_lines"].as_u64().unwrap().to_string(), parts[1]);
    }
    // The counts after are those of `check` in a checkout of the branch.
    let checkout = tempfile::tempdir().unwrap();
    git(checkout.path(), &["clone", "-q", "-b", "strata/layers", root.to_str().unwrap(), "."]);
    let after = counts(checkout.path());
    for row in evidence["rules"].as_array().unwrap() {
        let rule = row["rule"].as_str().unwrap();
        assert_eq!(row["after"].as_u64().unwrap(), after.get(rule).and_then(|v| v.as_u64()).unwrap_or(0), "{rule}");
    }
    // The last commit's body carries the Markdown report.
    let body = git(root, &["log", "-1", "--format=%B", "strata/layers"]);
    assert!(body.contains("Violations per rule") && body.contains("Change sets ("), "{body}");
    // HTML goes to a file, self-contained.
    let page = root.join("report.html");
    let (code, _, _) = run(root, &["report", "--format", "html", "-o", page.to_str().unwrap()]);
    assert_eq!(code, 0);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("l2-db-execute") && !html.contains("<script"));
}
