//! `strata migrate --verify`: the sample app's own suite judges the change sets. A project recipe
//! makes one behaviour-changing change set among the built-in ones (a widget looked up without its
//! id); bisection finds it, drops it and keeps the rest, in at most 2·log2(n)+2 runs. Two bad
//! change sets that depend on each other go together; a failing base and a flaky command are told
//! apart from a bad change set; the user's checkout is never touched.

mod common;

use std::path::Path;

use common::{copy_dir, git, git_commit_all, json, python, tree_bytes, write};

const BOT: &str = "Strata Bot <bot@example.com>";

/// The sample app in a repository, with the project recipes in `recipes/` committed beside it.
fn repo_with(recipes: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::sample_app(), dir.path());
    for (name, text) in recipes {
        write(dir.path(), &format!("recipes/{name}.toml"), text);
    }
    git_commit_all(dir.path());
    dir
}

/// Drops the widget lookup's id filter: `get_widget` then returns some widget of the tenant.
const LOOKUP_BY_TENANT: &str = r#"
id = "widget-lookup-by-tenant"
title = "a rewrite that changes behaviour (for the verification test)"
severity = "warning"
message = "the widget lookup filters on `{{ I }}`"
[scope]
paths = ["backend/app/hoc/cus/catalog/L6_drivers/widget_driver.py"]
[match]
pattern = "select(Widget).where(Widget.tenant_id == $T, Widget.id == $I)"
[[fix]]
applicability = "safe"
description = "look the widget up by tenant only"
edits = [{ op = "replace", target = { node = "match" }, with = "select(Widget).where(Widget.tenant_id == {{ T }}).limit(1)" }]
"#;

/// Rewrites what the recipe above wrote, so it exists only after it (and is wrong too).
const LIMIT_TWO: &str = r#"
id = "widget-lookup-limit"
title = "a rewrite of another rewrite's output (for the verification test)"
severity = "warning"
message = "limit 1"
[scope]
paths = ["backend/app/hoc/cus/catalog/L6_drivers/widget_driver.py"]
[match]
pattern = "$Q.limit(1)"
[[fix]]
applicability = "safe"
description = "limit 2"
edits = [{ op = "replace", target = { node = "match" }, with = "{{ Q }}.limit(2)" }]
"#;

fn suite() -> String {
    format!("cd backend && PYTHONDONTWRITEBYTECODE=1 {} -m pytest -q -x -p no:cacheprovider", python().display())
}

/// Runs `strata --recipes recipes migrate ... --verify CMD --format json`.
fn migrate(root: &Path, verify: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec!["--recipes", "recipes", "migrate", "--branch", "strata/layers", "--author", BOT];
    args.extend(["--verify", verify, "--format", "json"]);
    args.extend(extra);
    let (code, stdout, stderr) = common::run(root, &args);
    let summary = if stdout.trim().is_empty() { serde_json::Value::Null } else { json(&stdout) };
    (code, summary, stderr)
}

fn checkout_state(root: &Path) -> (std::collections::BTreeMap<String, Vec<u8>>, Vec<u8>, Vec<u8>) {
    (tree_bytes(root), std::fs::read(root.join(".git/index")).unwrap(), std::fs::read(root.join(".git/HEAD")).unwrap())
}

#[test]
fn the_change_set_the_suite_fails_with_is_dropped_and_every_other_kept() {
    let repo = repo_with(&[("lookup", LOOKUP_BY_TENANT)]);
    let root = repo.path();
    write(root, "notes.txt", "uncommitted\n");
    let before = checkout_state(root);
    let (code, summary, stderr) = migrate(root, &suite(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(checkout_state(root), before, "verification touched the user's checkout");

    let verification = &summary["verification"];
    assert_eq!(verification["verified"], true, "{summary}");
    let dropped = verification["dropped"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{summary}");
    assert_eq!(dropped[0]["with"], serde_json::json!([]), "nothing depends on it: {summary}");
    assert!(dropped[0]["test"].as_str().unwrap().starts_with("tests/test_catalog.py::"), "{summary}");
    // Every other change set is kept: the same as migrating without the bad recipe.
    let plain = repo_with(&[]);
    let (code, stdout, plain_stderr) =
        common::run(plain.path(), &["migrate", "--branch", "b", "--author", BOT, "--format", "json"]);
    assert_eq!(code, 0, "{plain_stderr}");
    let reference = json(&stdout);
    assert_eq!(summary["change_sets"], reference["change_sets"], "{summary}\n{reference}");
    let n = summary["change_sets"].as_u64().unwrap() as f64 + 1.0;
    let runs = verification["runs"].as_u64().unwrap() as f64;
    assert!(runs <= 2.0 * n.log2() + 2.0, "{runs} runs for one culprit among {n}");
    assert!(stderr.contains(&format!("{runs} runs")), "the number of runs is logged: {stderr}");

    // The branch has no trace of the bad change set, and the suite passes on it.
    let lookup = git(root, &["show", "strata/layers:backend/app/hoc/cus/catalog/L6_drivers/widget_driver.py"]);
    assert!(lookup.contains("Widget.id == widget_id") && !lookup.contains(".limit(1)"), "{lookup}");
    let out = tempfile::tempdir().unwrap();
    git(out.path(), &["clone", "-q", "-b", "strata/layers", root.to_str().unwrap(), "."]);
    let status = std::process::Command::new("sh").args(["-c", &suite()]).current_dir(out.path()).status().unwrap();
    assert!(status.success(), "the suite fails on the verified branch");

    // The report says how it was verified, and why the change set was dropped.
    let (code, report, _) = common::run(root, &["--recipes", "recipes", "report", "--format", "md"]);
    assert_eq!(code, 0);
    assert!(!report.contains("verified with"), "a plain report runs no verification");
    let body = git(root, &["log", "-1", "--format=%B", "strata/layers"]);
    assert!(body.contains("verified with `") && body.contains("dropped: `"), "{body}");
    assert!(body.contains("widget-lookup-by-tenant"), "{body}");
}

#[test]
fn change_sets_that_depend_on_a_bad_one_are_dropped_with_it() {
    let repo = repo_with(&[("lookup", LOOKUP_BY_TENANT), ("limit", LIMIT_TWO)]);
    let root = repo.path();
    let (code, summary, stderr) = migrate(root, &suite(), &["--jobs", "2"]);
    assert_eq!(code, 0, "{stderr}");
    let dropped = summary["verification"]["dropped"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "one bisection found both: {summary}");
    assert_eq!(dropped[0]["with"].as_array().unwrap().len(), 1, "{summary}");
    assert!(stderr.contains("and the 1 that depend on it"), "{stderr}");
    let lookup = git(root, &["show", "strata/layers:backend/app/hoc/cus/catalog/L6_drivers/widget_driver.py"]);
    assert!(!lookup.contains(".limit(1)") && !lookup.contains(".limit(2)"), "{lookup}");
}

#[test]
fn a_failing_base_is_refused_and_a_flaky_command_drops_nothing() {
    let repo = repo_with(&[("lookup", LOOKUP_BY_TENANT)]);
    let root = repo.path();
    let refs = git(root, &["for-each-ref"]);
    let (code, _, stderr) = migrate(root, "echo 'FAILED tests/test_x.py::test_base - no'; exit 1", &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the verify command fails on the base commit itself (tests/test_x.py::test_base)"),
        "{stderr}"
    );
    assert_eq!(git(root, &["for-each-ref"]), refs, "a refused verification wrote a branch");

    // Passes, fails, passes...: the second run of the first failing tree passes.
    let counter = tempfile::tempdir().unwrap();
    let file = counter.path().join("runs");
    let flaky =
        format!("n=$(cat {f} 2>/dev/null || echo 0); echo $((n + 1)) > {f}; test $((n % 2)) -eq 0", f = file.display());
    let (code, summary, stderr) = migrate(root, &flaky, &[]);
    assert_eq!(code, 1, "a flaky verification is not a success: {stderr}");
    assert!(stderr.contains("is flaky"), "{stderr}");
    let verification = &summary["verification"];
    assert!(verification["flaky"].is_string(), "{summary}");
    assert_eq!(verification["dropped"], serde_json::json!([]), "a flaky command dropped something: {summary}");
    assert_eq!(verification["verified"], false);
    let lookup = git(root, &["show", "strata/layers:backend/app/hoc/cus/catalog/L6_drivers/widget_driver.py"]);
    assert!(lookup.contains(".limit(1)"), "every change set is kept: {lookup}");
}
