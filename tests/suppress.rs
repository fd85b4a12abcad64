//! Inline suppressions (`# strata: allow[RULE] reason`), `strata baseline` (counted exceptions
//! written from the current violations) and `--select`/`--ignore` with prefixes.

mod common;

use std::path::Path;

use common::{copy_dir, init_project, json, read, run, sample_app, write};

const DRIVER: &str = "backend/app/hoc/cus/shop/L6_drivers/items_driver.py";
const EXCEPTIONS: &str = "strata-exceptions.toml";

fn driver(code: &str) -> tempfile::TempDir {
    let dir = init_project();
    write(dir.path(), DRIVER, code);
    dir
}

fn check_json(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(dir, &args);
    assert_ne!(code, 2, "{stderr}");
    (code, json(&stdout))
}

fn rules_of(list: &serde_json::Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect()
}

// ---------------------------------------------------------------- inline suppressions

#[test]
fn trailing_suppression_with_a_reason_excepts_the_site() {
    let dir = driver(
        "def save(session, item):\n    session.add(item)\n    session.commit()  # strata: allow[l6-transaction] legacy driver, JIRA-7\n",
    );
    let (code, v) = check_json(dir.path(), &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["summary"]["violations"], 0);
    assert_eq!(v["summary"]["excepted"], 1);
    assert_eq!(v["statistics"]["l6-transaction"]["excepted"], 1);
    let excepted = &v["excepted"][0];
    assert_eq!(excepted["rule"], "l6-transaction");
    assert_eq!(excepted["source"], "inline");
    assert_eq!(excepted["reason"], "legacy driver, JIRA-7");
    assert_eq!(excepted["suppression_line"], 3);
    assert_eq!(excepted["start"]["line"], 3);
    assert_eq!(v["suppressions"][0]["state"], "active");
    assert_eq!(v["suppressions"][0]["matched"], 1);

    let (code, stdout, _) = run(dir.path(), &["check", "--color", "never", "--statistics", "--strict"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("1 excepted by inline suppressions"), "{stdout}");
    let row = stdout.lines().find(|l| l.starts_with("l6-transaction ")).unwrap();
    assert_eq!(row.split_whitespace().collect::<Vec<_>>()[1..3], ["0", "1"], "{row}");

    let (_, stdout, _) = run(dir.path(), &["check", "--format", "sarif"]);
    let sarif = json(&stdout);
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["suppressions"][0]["kind"], "inSource", "{result:#}");
    assert_eq!(result["suppressions"][0]["justification"], "legacy driver, JIRA-7");
}

#[test]
fn own_line_suppression_covers_the_next_code_line_and_names_several_rules() {
    let dir = driver(
        "from app.db import SessionLocal\n\n\ndef save(item):\n    \
         # strata: allow[l6-session-lifecycle, l6-transaction]: one-off script, removed in Q3\n    \
         # (tracked in JIRA-8)\n    \
         session = SessionLocal(); session.commit()\n    \
         session.add(item)\n",
    );
    let (code, v) = check_json(dir.path(), &[]);
    assert_eq!(code, 0, "{v:#}");
    let mut excepted = rules_of(&v["excepted"]);
    excepted.sort();
    assert_eq!(excepted, ["l6-session-lifecycle", "l6-transaction"]);
    assert_eq!(v["excepted"][0]["reason"], "one-off script, removed in Q3");
    assert_eq!(v["suppressions"][0]["line"], 5);
    assert_eq!(v["suppressions"][0]["state"], "active");
}

#[test]
fn suppression_without_a_reason_does_not_apply_and_is_reported() {
    let dir = driver("def save(session, item):\n    session.commit()  # strata: allow[l6-transaction]\n");
    let (code, v) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(rules_of(&v["violations"]), ["l6-transaction", "strata-suppression"]);
    let problem = &v["violations"][1];
    assert_eq!(problem["severity"], "warning");
    assert!(problem["message"].as_str().unwrap().contains("reason"), "{problem}");
    assert_eq!(problem["start"]["line"], 2);
    assert_eq!(v["summary"]["excepted"], 0);

    let (_, stdout, _) = run(dir.path(), &["check", "--color", "never"]);
    assert!(stdout.contains("warning[strata-suppression]"), "{stdout}");
    assert!(stdout.contains("# strata: allow[l6-transaction]"), "the comment is shown in a code frame:\n{stdout}");
}

#[test]
fn unknown_rule_in_a_suppression_is_reported_and_the_known_ones_still_apply() {
    let dir = driver(
        "def save(session, item):\n    session.commit()  # strata: allow[l6-transction, l6-transaction] legacy\n",
    );
    let (code, v) = check_json(dir.path(), &[]);
    assert_eq!(code, 1, "an unknown id is a finding: {v:#}");
    assert_eq!(rules_of(&v["violations"]), ["strata-suppression"]);
    let message = v["violations"][0]["message"].as_str().unwrap();
    assert!(message.contains("unknown rule `l6-transction`"), "{message}");
    assert_eq!(rules_of(&v["excepted"]), ["l6-transaction"]);

    let dir = driver("def save(session, item):\n    session.commit()  # strata: allow[hoc-layers] everything\n");
    let (code, v) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(rules_of(&v["violations"]), ["l6-transaction", "strata-suppression"]);
    assert!(v["violations"][1]["message"].as_str().unwrap().contains("group of rules"), "{v:#}");
}

#[test]
fn stale_suppression_is_listed_and_strict_fails() {
    // No `commit` left in the file: the prefilter would not parse it, but the suppression is read.
    let dir = driver("def save(session, item):\n    session.add(item)  # strata: allow[l6-transaction] legacy\n");
    let (code, stdout, _) = run(dir.path(), &["check", "--color", "never", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("suppression `allow[l6-transaction]` at {DRIVER}:2 suppresses nothing")),
        "{stdout}"
    );
    let (code, stdout, _) = run(dir.path(), &["check", "--strict", "--select", "l6-transaction"]);
    assert_eq!(code, 1, "--strict fails on a stale suppression: {stdout}");
    let (_, v) = check_json(dir.path(), &["--select", "l6-transaction"]);
    let suppression = &v["suppressions"][0];
    assert_eq!(suppression["state"], "stale");
    assert_eq!(suppression["unused"], serde_json::json!(["l6-transaction"]));
    assert_eq!(suppression["path"], DRIVER);
    assert_eq!(suppression["line"], 2);
}

#[test]
fn suppression_of_a_rule_that_did_not_run_is_not_stale() {
    let dir = driver("def save(session, item):\n    session.add(item)  # strata: allow[l6-transaction] legacy\n");
    let (code, stdout, _) = run(dir.path(), &["check", "--strict", "--select", "l6-session-lifecycle"]);
    assert_eq!(code, 0, "{stdout}");
    let (_, v) = check_json(dir.path(), &["--select", "l6-session-lifecycle"]);
    assert_eq!(v["suppressions"][0]["state"], "unchecked");
}

#[test]
fn suppression_text_in_a_string_or_docstring_does_nothing() {
    let dir = driver(
        "def save(session, item):\n    \"\"\"\n    # strata: allow[l6-transaction] in a docstring\n    \"\"\"\n    \
         session.commit(); note = \"# strata: allow[l6-transaction] in a string\"\n",
    );
    let (code, v) = check_json(dir.path(), &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(rules_of(&v["violations"]), ["l6-transaction"]);
    assert_eq!(v["summary"]["excepted"], 0);
    assert!(v["suppressions"].as_array().unwrap().is_empty());
}

#[test]
fn a_suppression_above_a_blank_line_covers_nothing() {
    let dir = driver("def save(session, item):\n    # strata: allow[l6-transaction] legacy\n\n    session.commit()\n");
    let (code, v) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(rules_of(&v["violations"]), ["l6-transaction"]);
    assert_eq!(v["suppressions"][0]["state"], "stale");
}

// ---------------------------------------------------------------- baseline

/// A copy of the sample app (its own strata.toml) in a temporary directory.
fn sample_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_app(), dir.path());
    dir
}

const INGEST: &str = "backend/app/hoc/api/cus/audit/ingest.py";

/// The exceptions file as a list of (rule, path, count) and the raw text.
fn entries(dir: &Path) -> (Vec<(String, String, Option<i64>)>, String) {
    let text = read(dir, EXCEPTIONS);
    let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{EXCEPTIONS} is not TOML ({e}):\n{text}"));
    let list = table["exception"].as_array().unwrap();
    let entries = list
        .iter()
        .map(|e| {
            (
                e["rule"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e.get("count").and_then(toml::Value::as_integer),
            )
        })
        .collect();
    (entries, text)
}

fn count_of(entries: &[(String, String, Option<i64>)], rule: &str, path: &str) -> Vec<Option<i64>> {
    entries.iter().filter(|(r, p, _)| r == rule && p == path).map(|(_, _, c)| *c).collect()
}

#[test]
fn baseline_round_trip_fails_only_on_new_violations() {
    let dir = sample_copy();
    let root = dir.path();
    let manual = "# Platform decisions, reviewed quarterly.\n\
                  [[exception]]\n\
                  rule = \"l4-service-locator\"\n\
                  path = \"backend/app/hoc/cus/**\"\n\
                  reason = \"locators go in the Q3 refactor\"\n\
                  owner = \"platform-team\"  # ask in #platform\n";
    write(root, EXCEPTIONS, manual);
    let (code, _, _) = run(root, &["check"]);
    assert_eq!(code, 1, "the sample app has violations");

    let (code, stdout, stderr) = run(root, &["baseline", "--owner", "team"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Accepted 63 violation(s)"), "66 less the 3 the manual exception covers: {stdout}");
    let (list, text) = entries(root);
    assert!(
        text.starts_with("# Platform decisions, reviewed quarterly.\n[[exception]]\nrule = \"l4-service-locator\""),
        "{text}"
    );
    assert!(text.contains("owner = \"platform-team\"  # ask in #platform"), "comments are kept:\n{text}");
    assert_eq!(count_of(&list, "l2-transaction", INGEST), [Some(1)]);
    assert!(count_of(&list, "l4-service-locator", "backend/app/hoc/cus/**") == [None], "{text}");
    assert!(list.iter().all(|(r, _, c)| r == "l4-service-locator" || c.is_some()), "{text}");
    assert!(
        !list.iter().any(|(r, p, c)| r == "l4-service-locator" && c.is_some() && p.starts_with("backend/app/hoc/cus/")),
        "sites the manual exception covers are not baselined:\n{text}"
    );
    assert!(text.contains("reason = \"baseline: existing violation, accepted on "), "{text}");
    assert!(text.contains("owner = \"team\""), "{text}");

    let (code, stdout, _) = run(root, &["check", "--strict", "--color", "never"]);
    assert_eq!(code, 0, "after baseline, check passes:\n{stdout}");
    assert!(stdout.contains("No violations found."), "{stdout}");

    // A new violation: a new endpoint that commits, at the end of a router that already has one.
    let original = read(root, INGEST);
    let new_endpoint = "\n\n@router.post(\"/flush\")\nasync def flush_events(db_session: AsyncSession = \
                        Depends(get_async_session_dep)):\n    await db_session.commit()\n    return {\"ok\": True}\n";
    write(root, INGEST, format!("{original}{new_endpoint}"));
    let new_line = original.lines().count() + 5;
    let (code, v) = check_json(root, &[]);
    assert_eq!(code, 1, "{v:#}");
    let violations = v["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "only the new site is reported: {v:#}");
    assert_eq!(violations[0]["rule"], "l2-transaction");
    assert_eq!(violations[0]["path"], INGEST);
    assert_eq!(violations[0]["start"]["line"], new_line);
    let message = violations[0]["message"].as_str().unwrap();
    assert!(message.contains("strata-exceptions.toml allows 1"), "{message}");
    assert!(message.contains("found 2"), "{message}");

    // Re-running baseline updates the count in place: no duplicate entry.
    let before = entries(root).0.len();
    let (code, stdout, _) = run(root, &["baseline", "--owner", "someone-else"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("1 updated"), "{stdout}");
    let (list, text) = entries(root);
    assert_eq!(list.len(), before, "{text}");
    assert_eq!(count_of(&list, "l2-transaction", INGEST), [Some(2)]);
    assert!(!text.contains("someone-else"), "an updated entry keeps its owner:\n{text}");
    assert!(text.starts_with("# Platform decisions"), "{text}");
    assert_eq!(run(root, &["check"]).0, 0);

    // The new violation is fixed: the count is now loose, which --strict reports; baseline lowers it.
    write(root, INGEST, &original);
    let (code, stdout, _) = run(root, &["check", "--strict", "--color", "never"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("allows 2 but found 1 (loose)"), "{stdout}");
    let (_, v) = check_json(root, &[]);
    let loose: Vec<&serde_json::Value> =
        v["exceptions"].as_array().unwrap().iter().filter(|e| e["state"] == "loose").collect();
    assert_eq!(loose.len(), 1, "{v:#}");
    assert_eq!((loose[0]["count"].as_i64(), loose[0]["matched"].as_i64()), (Some(2), Some(1)));
    let (code, stdout, _) = run(root, &["baseline", "--owner", "team"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("1 updated"), "{stdout}");
    assert_eq!(count_of(&entries(root).0, "l2-transaction", INGEST), [Some(1)]);
    assert_eq!(run(root, &["check", "--strict"]).0, 0);

    // Nothing changed: baseline leaves the file as it is.
    let text = read(root, EXCEPTIONS);
    let (code, stdout, _) = run(root, &["baseline", "--owner", "team"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("up to date"), "{stdout}");
    assert_eq!(read(root, EXCEPTIONS), text);
}

#[test]
fn baseline_removes_fixed_sites_and_leaves_other_rules_alone() {
    let dir = driver("def save(session, item):\n    session.add(item)\n    session.commit()\n    session.rollback()\n");
    let root = dir.path();
    write(root, "backend/app/hoc/cus/shop/L5_engines/pricing.py", "from app.hoc.cus.hoc_spine.orchestrator import x\n");
    let (code, stdout, stderr) = run(root, &["baseline", "--owner", "team", "--reason", "adopting strata"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (list, text) = entries(root);
    assert_eq!(count_of(&list, "l6-transaction", DRIVER), [Some(2)], "{text}");
    assert_eq!(list.len(), 2, "{text}");
    assert!(text.contains("reason = \"adopting strata\""), "{text}");

    // Only l6-transaction is fixed and re-baselined: the l5 entry stays, the driver's goes.
    write(root, DRIVER, "def save(session, item):\n    session.add(item)\n");
    let (code, stdout, _) = run(root, &["check", "--strict"]);
    assert_eq!(code, 1, "a baseline entry that matches nothing is stale: {stdout}");
    let (code, stdout, _) = run(root, &["baseline", "--owner", "team", "--select", "l6"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("1 removed"), "{stdout}");
    let (list, text) = entries(root);
    assert_eq!(list.len(), 1, "{text}");
    assert_eq!(list[0].0, "l5-imports-l4");
    assert_eq!(run(root, &["check", "--strict"]).0, 0);
}

#[test]
fn checking_some_files_leaves_the_other_files_baseline_entries_unchecked() {
    let dir = driver("def save(session, item):\n    session.commit()\n");
    let other = "backend/app/hoc/cus/shop/L6_drivers/other_driver.py";
    write(dir.path(), other, "def drop(session, item):\n    session.delete(item)\n    session.commit()\n");
    assert_eq!(run(dir.path(), &["baseline", "--owner", "team"]).0, 0);
    let (code, stdout, _) = run(dir.path(), &["check", "--strict", "--color", "never", DRIVER]);
    assert_eq!(code, 0, "the other file's entry is not stale in a run that did not look at it:\n{stdout}");
    assert!(!stdout.contains("stale"), "{stdout}");
    let (_, v) = check_json(dir.path(), &[DRIVER]);
    let states: Vec<(&str, &str)> = v["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(DRIVER, "active"), (other, "unchecked")]);
    // A file that is gone leaves its entry stale.
    std::fs::remove_file(dir.path().join(other)).unwrap();
    let (code, stdout, _) = run(dir.path(), &["check", "--strict", "--color", "never", DRIVER]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains(&format!("`{other}` (owner team) matches nothing (stale)")), "{stdout}");
}

#[test]
fn baseline_refuses_a_broken_exceptions_file_and_writes_nothing() {
    let dir = driver("def save(session, item):\n    session.commit()\n");
    let broken = "[[exception]]\nrule = \"l6-transaction\"\npath = \"backend/**\"\nreason = \"x\"\n";
    write(dir.path(), EXCEPTIONS, broken);
    let (code, _, stderr) = run(dir.path(), &["baseline", "--owner", "team"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("owner"), "{stderr}");
    assert_eq!(read(dir.path(), EXCEPTIONS), broken);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".strata-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (code, _, stderr) = run(dir.path(), &["baseline", "--owner", " "]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run(dir.path(), &["baseline"]);
    assert_eq!(code, 2, "--owner is required: {stderr}");
}

#[test]
fn baseline_to_another_file_says_which_one_check_reads() {
    let dir = driver("def save(session, item):\n    session.commit()\n");
    let (code, _, stderr) = run(dir.path(), &["baseline", "--owner", "team", "--exceptions", "review.toml"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("`strata check` reads strata-exceptions.toml"), "{stderr}");
    assert!(read(dir.path(), "review.toml").contains("count = 1"));
    assert!(!dir.path().join(EXCEPTIONS).exists());
}

#[test]
fn inline_suppressed_sites_are_not_baselined() {
    let dir = driver(
        "def save(session, item):\n    session.commit()  # strata: allow[l6-transaction] legacy\n    session.rollback()\n",
    );
    let (code, _, _) = run(dir.path(), &["baseline", "--owner", "team"]);
    assert_eq!(code, 0);
    assert_eq!(count_of(&entries(dir.path()).0, "l6-transaction", DRIVER), [Some(1)]);
    assert_eq!(run(dir.path(), &["check", "--strict"]).0, 0);
}

// ---------------------------------------------------------------- --select / --ignore

fn rules_run(dir: &Path, args: &[&str]) -> Vec<String> {
    let (_, v) = check_json(dir, args);
    v["statistics"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn select_and_ignore_take_prefixes_and_spaces() {
    let dir = driver("def save(session, item):\n    session.commit()\n");
    assert_eq!(rules_run(dir.path(), &["--select", "l6"]), ["l6-session-lifecycle", "l6-transaction"]);
    assert_eq!(
        rules_run(dir.path(), &["--select", "l2-db-execute, l6-transaction"]),
        ["l2-db-execute", "l6-transaction"]
    );
    assert_eq!(
        rules_run(dir.path(), &["--select", "l2-db-execute,", "--select", " l6-t"]),
        ["l2-db-execute", "l6-transaction"]
    );
    let without_l2 = rules_run(dir.path(), &["--ignore", "l2"]);
    assert!(without_l2.iter().all(|r| !r.starts_with("l2")), "{without_l2:?}");
    assert!(without_l2.contains(&"l6-transaction".to_string()) && without_l2.len() == 6, "{without_l2:?}");
    assert_eq!(
        rules_run(dir.path(), &["--select", "hoc-layers", "--ignore", "l2, l4, l5, imports, unregistered"]),
        ["l6-session-lifecycle", "l6-transaction"]
    );
}

#[test]
fn select_or_ignore_items_that_match_nothing_exit_two_with_the_known_ids() {
    let dir = driver("def save(session, item):\n    session.commit()\n");
    for args in [["check", "--select", "l9"], ["check", "--ignore", "l6, nothing"], ["fix", "--select", "x"]] {
        let (code, _, stderr) = run(dir.path(), &args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("matches no rule id"), "{stderr}");
        assert!(stderr.contains("l6-transaction") && stderr.contains("l2-db-execute"), "{stderr}");
    }
}

/// `fix` leaves what `check` excepts: a suppressed site and a site of an exceptions-file entry.
#[test]
fn fix_leaves_suppressed_and_excepted_sites_alone() {
    let suppressed =
        "def save(session, item):\n    session.add(item)\n    session.commit()  # strata: allow[l6-transaction] owns its unit of work\n";
    let dir = driver(suppressed);
    let (code, _, stderr) = run(dir.path(), &["fix", "--unsafe", "--allow-dirty", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "nothing is left to fix: {stderr}");
    assert_eq!(read(dir.path(), DRIVER), suppressed);

    let plain = "def save(session, item):\n    session.add(item)\n    session.commit()\n";
    let dir = driver(plain);
    write(
        dir.path(),
        EXCEPTIONS,
        format!(
            "[[exception]]\nrule = \"l6-transaction\"\npath = \"{DRIVER}\"\nreason = \"legacy\"\nowner = \"team\"\n"
        ),
    );
    let (code, _, stderr) = run(dir.path(), &["fix", "--unsafe", "--allow-dirty", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(dir.path(), DRIVER), plain);

    // Without the exception the same site is fixed.
    std::fs::remove_file(dir.path().join(EXCEPTIONS)).unwrap();
    let (code, _, stderr) = run(dir.path(), &["fix", "--unsafe", "--allow-dirty", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(read(dir.path(), DRIVER), plain);
}
