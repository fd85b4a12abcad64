//! CLI tests of `strata check`, `init` and `recipes`: exit codes, colour, output formats, bad input
//! and justified exceptions.

mod common;

use std::path::Path;

use common::{init_project, json, run, strata, write};
use predicates::prelude::*;

const DRIVER: &str = "backend/app/hoc/cus/shop/L6_drivers/items_driver.py";
const DRIVER_SRC: &str = "def save(session, item):\n    session.add(item)\n    session.commit()\n";
const ROUTER: &str = "backend/app/hoc/api/cus/shop/items.py";
const ROUTER_SRC: &str = "\
from fastapi import APIRouter
from sqlalchemy import select

router = APIRouter()


@router.get(\"/items\")
async def list_items(db):
    rows = await db.execute(select(Item))
    return list(rows)
";

/// A project with one L6 violation (l6-transaction) and one L2 router (l2-db-execute + registry dispatch).
fn violating_project() -> tempfile::TempDir {
    let dir = init_project();
    write(dir.path(), DRIVER, DRIVER_SRC);
    write(dir.path(), ROUTER, ROUTER_SRC);
    dir
}

fn assert_no_ansi(text: &str, what: &str) {
    assert!(!text.contains('\u{1b}'), "{what} contains ANSI escapes:\n{text}");
}

fn recipe_dir(root: &Path, toml: &str) -> String {
    write(root, "my_recipes/custom.toml", toml);
    root.join("my_recipes").display().to_string()
}

/// Checks a project with `toml` as its own recipe, expects exit 2, and returns stderr.
fn rejected_recipe(toml: &str) -> String {
    let dir = violating_project();
    let recipes = recipe_dir(dir.path(), toml);
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 2, "{stderr}");
    stderr
}

// ---------------------------------------------------------------- exit codes

#[test]
fn clean_project_exits_zero() {
    let dir = init_project();
    write(dir.path(), DRIVER, "def save(session, item):\n    session.add(item)\n");
    let (code, stdout, _) = run(dir.path(), &["check"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("No violations found."), "{stdout}");
}

#[test]
fn violations_exit_one_with_location_and_code_frame() {
    let dir = violating_project();
    let (code, stdout, _) = run(dir.path(), &["check", "--color", "never"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains(&format!("{DRIVER}:3:5")), "{stdout}");
    assert!(stdout.contains("error[l6-transaction]"), "{stdout}");
    assert!(stdout.contains("3 |     session.commit()"), "{stdout}");
    assert!(stdout.contains("^^^^^^^^^^^^^^^^"), "{stdout}");
    assert!(stdout.contains(&format!("{ROUTER}:9:18")), "{stdout}");
    assert!(stdout.contains("error[l2-db-execute]"), "{stdout}");
}

#[test]
fn usage_errors_exit_two() {
    let dir = init_project();
    for args in [
        vec!["check", "--bogus-flag"],
        vec!["check", "--format", "xml"],
        vec!["no-such-command"],
        vec!["recipes", "show"],
    ] {
        let (code, _, stderr) = run(dir.path(), &args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(!stderr.is_empty(), "{args:?} printed no error");
    }
}

#[test]
fn unknown_select_id_is_a_usage_error() {
    let dir = violating_project();
    let (code, _, stderr) = run(dir.path(), &["check", "--select", "no-such-rule"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no-such-rule"), "{stderr}");
}

#[test]
fn select_limits_the_rules() {
    let dir = violating_project();
    let (code, stdout, _) = run(dir.path(), &["check", "--select", "l6-transaction", "--format", "json"]);
    assert_eq!(code, 1);
    let v = json(&stdout);
    let rules: Vec<&str> = v["violations"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, vec!["l6-transaction"]);
}

// ---------------------------------------------------------------- colour

#[test]
fn no_colour_when_piped_with_auto() {
    let dir = violating_project();
    let (code, stdout, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 1);
    assert_no_ansi(&stdout, "stdout");
    assert_no_ansi(&stderr, "stderr");
}

#[test]
fn no_colour_with_no_color_env() {
    let dir = violating_project();
    let out = strata(dir.path()).args(["check", "--color", "auto"]).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_no_ansi(&String::from_utf8_lossy(&out.stdout), "stdout");
    assert!(String::from_utf8_lossy(&out.stdout).contains("error[l6-transaction]"));
}

#[test]
fn colour_always_emits_ansi() {
    let dir = violating_project();
    let (code, stdout, _) = run(dir.path(), &["check", "--color", "always"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("\u{1b}["), "expected ANSI escapes:\n{stdout}");
}

#[test]
fn colour_never_has_no_ansi() {
    let dir = violating_project();
    let (_, stdout, _) = run(dir.path(), &["check", "--color", "never", "--statistics"]);
    assert_no_ansi(&stdout, "stdout");
}

// ---------------------------------------------------------------- formats

#[test]
fn json_output_shape() {
    let dir = violating_project();
    let (code, stdout, _) = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code, 1);
    let v = json(&stdout);
    assert_eq!(v["version"], 1);
    assert_eq!(v["tool"]["name"], "strata");
    let summary = &v["summary"];
    assert_eq!(summary["violations"], 3, "{summary}");
    assert_eq!(summary["excepted"], 0);
    assert_eq!(summary["skipped"], 0);
    assert!(summary["files"]["discovered"].as_u64().unwrap() >= 2, "{summary}");
    let stats = v["statistics"].as_object().unwrap();
    for rule in [
        "l2-db-execute",
        "l2-transaction",
        "l6-transaction",
        "l6-session-lifecycle",
        "l4-service-locator",
        "l5-imports-l4",
        "l2-registry-dispatch",
    ] {
        assert!(stats.contains_key(rule), "statistics lacks {rule}: {stats:?}");
    }
    assert_eq!(stats["l6-transaction"]["violations"], 1);
    assert_eq!(stats["l2-db-execute"]["violations"], 1);
    // The router never calls registry.execute and imports sqlalchemy (not stateless): unclassified.
    assert_eq!(stats["l2-registry-dispatch"]["violations"], 1);
    assert_eq!(stats["l2-transaction"]["violations"], 0);
    let total: u64 = stats.values().map(|s| s["violations"].as_u64().unwrap()).sum();
    assert_eq!(total, v["violations"].as_array().unwrap().len() as u64);
    let violations = v["violations"].as_array().unwrap();
    let driver = violations.iter().find(|f| f["rule"] == "l6-transaction").expect("l6-transaction finding");
    assert_eq!(driver["path"], DRIVER);
    assert_eq!(driver["start"]["line"], 3);
    assert_eq!(driver["start"]["column"], 5);
    assert_eq!(driver["end"]["line"], 3);
    assert_eq!(driver["end"]["column"], 21);
    assert_eq!(driver["severity"], "error");
    assert!(driver["message"].as_str().unwrap().contains("session.commit()"));
    assert!(v["skipped"].as_array().unwrap().is_empty());
    assert!(v["excepted"].as_array().unwrap().is_empty());
}

#[test]
fn github_annotations() {
    let dir = violating_project();
    let (code, stdout, _) = run(dir.path(), &["check", "--format", "github"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.contains(&format!("::error file={DRIVER},line=3,col=5,endLine=3,endColumn=21,title=l6-transaction::`session.commit()` in L6 driver `items_driver` (`save`): the L4 caller owns the transaction").as_str()),
        "{stdout}"
    );
    assert!(
        lines.iter().all(|l| l.starts_with("::error ") || l.starts_with("::warning ") || l.starts_with("::notice ")),
        "{stdout}"
    );
    assert!(lines.iter().any(|l| l.contains("title=l2-db-execute")), "{stdout}");
}

#[test]
fn statistics_table() {
    let dir = violating_project();
    let (code, stdout, _) = run(dir.path(), &["check", "--statistics", "--color", "never"]);
    assert_eq!(code, 1);
    let header = stdout.lines().find(|l| l.starts_with("rule ")).unwrap_or_else(|| panic!("no table:\n{stdout}"));
    for col in ["violations", "excepted", "classified", "files"] {
        assert!(header.contains(col), "{header}");
    }
    let row = |rule: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{rule} ")))
            .unwrap_or_else(|| panic!("no row {rule}:\n{stdout}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(row("l6-transaction")[1..5], ["1", "0", "0", "1"]);
    assert_eq!(row("l5-imports-l4")[1..5], ["0", "0", "0", "0"]);
    assert!(stdout.lines().any(|l| l.starts_with("total ")), "{stdout}");
}

#[test]
fn statistics_with_json_keeps_stdout_parseable() {
    let dir = violating_project();
    let (code, stdout, stderr) = run(dir.path(), &["check", "--statistics", "--format", "json"]);
    assert_eq!(code, 1);
    json(&stdout);
    assert!(stderr.contains("l6-transaction"), "{stderr}");
}

// ---------------------------------------------------------------- bad configuration

#[test]
fn invalid_toml_in_config_names_file_line_column() {
    let dir = init_project();
    write(dir.path(), "strata.toml", "exceptions = \"x.toml\"\n[layers.l2\npaths = []\n");
    let (code, _, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("strata.toml:2:"), "no file:line:col in: {stderr}");
    let re = regex::Regex::new(r"strata\.toml:2:\d+:").unwrap();
    assert!(re.is_match(&stderr), "{stderr}");
}

#[test]
fn unknown_config_key_names_the_key_path() {
    let dir = init_project();
    let text = std::fs::read_to_string(dir.path().join("strata.toml")).unwrap();
    assert!(text.contains("getter = "));
    write(dir.path(), "strata.toml", text.replace("getter = ", "gettr = "));
    let line = text.lines().position(|l| l.starts_with("getter = ")).unwrap() + 1;
    let (code, _, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("registry.gettr"), "key path missing: {stderr}");
    assert!(stderr.contains(&format!("strata.toml:{line}:1")), "position missing: {stderr}");
}

#[test]
fn explicit_missing_config_is_an_error() {
    let dir = init_project();
    let (code, _, stderr) = run(dir.path(), &["check", "--config", "nope.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nope.toml"), "{stderr}");
}

#[test]
fn unknown_key_in_project_recipe() {
    let dir = violating_project();
    let recipes =
        recipe_dir(dir.path(), "id = \"my-rule\"\ntitle = \"x\"\ncolour = \"red\"\n[match]\npattern = \"foo($X)\"\n");
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("custom.toml:3:1"), "{stderr}");
    assert!(stderr.contains("colour"), "{stderr}");
}

#[test]
fn unknown_nested_key_in_project_recipe_names_the_path() {
    let stderr = rejected_recipe(
        "id = \"my-rule\"\ntitle = \"x\"\n[match]\npattern = \"foo($X)\"\n[match.constraints.X]\nregexp = \"a\"\n",
    );
    assert!(stderr.contains("match.constraints.X.regexp"), "{stderr}");
    assert!(stderr.contains("custom.toml:6:"), "{stderr}");
}

#[test]
fn invalid_pattern_shows_position() {
    let stderr = rejected_recipe("id = \"my-rule\"\ntitle = \"x\"\n[match]\npattern = \"foo(($X)\"\n");
    assert!(stderr.contains("my-rule"), "{stderr}");
    assert!(stderr.contains("foo(($X)"), "{stderr}");
    assert!(stderr.contains("line 1, column 8"), "{stderr}");
}

/// Relations share metavariables with the match, so a relation reusing the match's `$$$ARGS`
/// would only hold when both argument lists are equal: a recipe bug, refused at load.
#[test]
fn a_relation_reusing_the_matchs_list_metavariable_is_refused() {
    let stderr = rejected_recipe(
        "id = \"my-rule\"\ntitle = \"x\"\n[match]\npattern = \"$RECV.commit($$$ARGS)\"\n\
         [[fix]]\napplicability = \"manual\"\nreason = \"r\"\n[fix.when.preceded_by]\npattern = \"$RECV = connect($$$ARGS)\"\n",
    );
    assert!(stderr.contains("my-rule") && stderr.contains("reuses `$$$ARGS`"), "{stderr}");
}

#[test]
fn invalid_query_shows_position() {
    let dir = violating_project();
    let recipes = recipe_dir(
        dir.path(),
        "id = \"my-rule\"\ntitle = \"x\"\n[match]\nquery = \"(call function: (identifier) @f\"\n",
    );
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tree-sitter query"), "{stderr}");
    assert!(stderr.contains("line 1, column"), "{stderr}");

    let recipes = recipe_dir(dir.path(), "id = \"my-rule\"\ntitle = \"x\"\n[match]\nquery = \"(no_such_node) @m\"\n");
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("line 1, column 2"), "{stderr}");
}

#[test]
fn valid_project_query_recipe_runs() {
    let dir = violating_project();
    let recipes = recipe_dir(
        dir.path(),
        "id = \"my-rule\"\ntitle = \"calls to add\"\nmessage = \"add called\"\n[match]\nquery = \"(call function: (attribute attribute: (identifier) @m (#eq? @m \\\"add\\\"))) @match\"\n",
    );
    let (code, stdout, stderr) =
        run(dir.path(), &["check", "--recipes", &recipes, "--select", "my-rule", "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let v = json(&stdout);
    assert_eq!(v["statistics"]["my-rule"]["violations"], 1, "{stdout}");
    assert_eq!(v["violations"][0]["path"], DRIVER);
}

#[test]
fn recipe_naming_an_unknown_layer() {
    let stderr = rejected_recipe(
        "id = \"my-rule\"\ntitle = \"x\"\n[scope]\nlayers = [\"l9\"]\n[match]\npattern = \"foo($X)\"\n",
    );
    assert!(stderr.contains("l9"), "{stderr}");
    assert!(stderr.contains("my-rule"), "{stderr}");
}

#[test]
fn project_recipe_with_shipped_id_replaces_it() {
    let dir = violating_project();
    let recipes = recipe_dir(
        dir.path(),
        "id = \"l6-transaction\"\ntitle = \"replaced\"\nmessage = \"replaced rule\"\n[scope]\nlayers = [\"l6\"]\n[match]\npattern = \"$S.add($X)\"\n",
    );
    let (code, stdout, stderr) =
        run(dir.path(), &["check", "--recipes", &recipes, "--select", "l6-transaction", "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let v = json(&stdout);
    assert_eq!(v["violations"].as_array().unwrap().len(), 1);
    assert_eq!(v["violations"][0]["message"], "replaced rule");
    assert_eq!(v["violations"][0]["start"]["line"], 2);
}

// ---------------------------------------------------------------- bad Python input

#[test]
fn syntax_error_and_non_utf8_files_are_skipped_and_the_run_goes_on() {
    let dir = violating_project();
    let bad = "backend/app/hoc/cus/shop/L6_drivers/broken.py";
    let latin = "backend/app/hoc/cus/shop/L6_drivers/latin1.py";
    write(dir.path(), bad, "def save(:\n    session.commit()\n");
    write(dir.path(), latin, b"# caf\xe9\ndef save(session):\n    session.commit()\n".as_slice());

    let (code, stdout, stderr) = run(dir.path(), &["check", "--color", "never"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(all.contains(&format!("warning: skipped {bad}")), "{all}");
    assert!(all.contains(&format!("warning: skipped {latin}")), "{all}");
    assert!(all.contains("syntax error"), "{all}");
    assert!(all.contains("UTF-8"), "{all}");
    // The other violations are still reported.
    assert!(stdout.contains(&format!("{DRIVER}:3:5")), "{stdout}");

    let (code, stdout, stderr) = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code, 1);
    let v = json(&stdout);
    let skipped: Vec<&str> = v["skipped"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert_eq!(skipped, vec![bad, latin]);
    assert!(v["skipped"].as_array().unwrap().iter().all(|s| !s["reason"].as_str().unwrap().is_empty()));
    assert_eq!(v["summary"]["skipped"], 2);
    assert_eq!(v["statistics"]["l6-transaction"]["violations"], 1);
    assert!(stderr.contains(bad) && stderr.contains(latin), "machine formats warn on stderr: {stderr}");
}

#[test]
fn odd_python_inputs_never_panic() {
    let dir = init_project();
    let base = "backend/app/hoc/cus/shop/L6_drivers";
    let deep = "session.commit(".repeat(200);
    let inputs: &[(&str, &[u8])] = &[
        ("empty.py", b""),
        ("only_bom.py", b"\xef\xbb\xbf"),
        ("nul.py", b"session.commit()\x00\n"),
        ("unterminated.py", b"x = \"session.commit()\n"),
        ("deep.py", deep.as_bytes()),
        ("tabs_spaces.py", b"def f(session):\n\tif x:\n        session.commit()\n"),
        ("crlf.py", b"def f(session):\r\n    session.commit()\r\n"),
        ("lone_cr.py", b"def f(session):\r    session.commit()\r"),
        ("utf16.py", b"\xff\xfed\x00e\x00f\x00"),
        ("emoji.py", "def f(session):\n    s = '\u{1F600}'; session.commit()\n".as_bytes()),
    ];
    for (name, bytes) in inputs {
        write(dir.path(), &format!("{base}/{name}"), bytes);
    }
    for format in ["text", "json", "sarif", "github"] {
        let (code, stdout, stderr) = run(dir.path(), &["check", "--format", format]);
        assert!(code == 0 || code == 1, "{format}: exit {code}\n{stdout}\n{stderr}");
    }
    let (_, stdout, _) = run(dir.path(), &["check", "--format", "json"]);
    let v = json(&stdout);
    let skipped: Vec<&str> = v["skipped"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert!(skipped.contains(&format!("{base}/deep.py").as_str()), "{skipped:?}");
    assert!(skipped.contains(&format!("{base}/unterminated.py").as_str()), "{skipped:?}");
    let (code, _, _) = run(dir.path(), &["fix", "--dry-run", "--allow-dirty"]);
    assert!(code == 0 || code == 1, "fix --dry-run exit {code}");
}

// ---------------------------------------------------------------- exceptions

const EXCEPTIONS: &str = "strata-exceptions.toml";

fn exception(rule: &str, path: &str, extra: &str) -> String {
    format!("[[exception]]\nrule = \"{rule}\"\npath = \"{path}\"\nreason = \"legacy driver, tracked in JIRA-1\"\nowner = \"alice\"\n{extra}\n")
}

#[test]
fn excepted_violation_is_counted_not_hidden() {
    let dir = violating_project();
    write(dir.path(), EXCEPTIONS, exception("l6-transaction", "backend/app/hoc/cus/shop/**", ""));
    let (code, stdout, _) = run(dir.path(), &["check", "--format", "json", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "{stdout}");
    let v = json(&stdout);
    assert_eq!(v["summary"]["violations"], 0);
    assert_eq!(v["summary"]["excepted"], 1);
    assert_eq!(v["statistics"]["l6-transaction"]["excepted"], 1);
    assert_eq!(v["statistics"]["l6-transaction"]["violations"], 0);
    assert!(v["violations"].as_array().unwrap().is_empty());
    let excepted = &v["excepted"][0];
    assert_eq!(excepted["path"], DRIVER);
    assert_eq!(excepted["owner"], "alice");
    assert_eq!(excepted["reason"], "legacy driver, tracked in JIRA-1");
    assert_eq!(v["exceptions"][0]["state"], "active");
    assert_eq!(v["exceptions"][0]["matched"], 1);

    let (code, stdout, _) =
        run(dir.path(), &["check", "--color", "never", "--select", "l6-transaction", "--statistics"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("No violations found."), "{stdout}");
    assert!(stdout.contains("1 excepted"), "{stdout}");
    let row = stdout.lines().find(|l| l.starts_with("l6-transaction ")).unwrap();
    assert_eq!(row.split_whitespace().collect::<Vec<_>>()[1..3], ["0", "1"]);
}

#[test]
fn stale_exception_is_warned_and_strict_fails() {
    let dir = init_project();
    write(dir.path(), DRIVER, "def save(session, item):\n    session.add(item)\n");
    write(dir.path(), EXCEPTIONS, exception("l6-transaction", "backend/app/hoc/cus/nowhere/**", ""));
    let (code, stdout, _) = run(dir.path(), &["check", "--color", "never"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("stale"), "{stdout}");
    assert!(stdout.contains("backend/app/hoc/cus/nowhere/**"), "{stdout}");
    let (code, stdout, _) = run(dir.path(), &["check", "--strict"]);
    assert_eq!(code, 1, "--strict must fail on a stale exception: {stdout}");
    let (_, stdout, _) = run(dir.path(), &["check", "--format", "json"]);
    let v = json(&stdout);
    assert_eq!(v["exceptions"][0]["state"], "stale");
    assert_eq!(v["exceptions"][0]["matched"], 0);
}

#[test]
fn expired_exception_no_longer_applies_and_is_reported() {
    let dir = violating_project();
    write(dir.path(), EXCEPTIONS, exception("l6-transaction", "backend/app/hoc/cus/shop/**", "expires = 2020-01-31"));
    let (code, stdout, _) = run(dir.path(), &["check", "--color", "never", "--select", "l6-transaction"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Found 1 violation."), "{stdout}");
    assert!(stdout.contains("expired"), "{stdout}");
    let (code, stdout, _) = run(dir.path(), &["check", "--format", "json", "--select", "l6-transaction"]);
    assert_eq!(code, 1);
    let v = json(&stdout);
    assert_eq!(v["summary"]["violations"], 1);
    assert_eq!(v["summary"]["excepted"], 0);
    assert_eq!(v["exceptions"][0]["state"], "expired");
    assert_eq!(v["exceptions"][0]["expires"], "2020-01-31", "expires is a plain date string: {}", v["exceptions"][0]);
}

#[test]
fn expired_exception_fails_strict_even_without_violations() {
    let dir = init_project();
    write(dir.path(), DRIVER, "def save(session, item):\n    session.add(item)\n");
    write(dir.path(), EXCEPTIONS, exception("l6-transaction", "backend/**", "expires = 2020-01-31"));
    let (code, _, _) = run(dir.path(), &["check"]);
    assert_eq!(code, 0);
    let (code, stdout, _) = run(dir.path(), &["check", "--strict", "--color", "never"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("expired"), "{stdout}");
}

#[test]
fn future_expiry_still_applies() {
    let dir = violating_project();
    write(dir.path(), EXCEPTIONS, exception("l6-transaction", "backend/app/hoc/cus/shop/**", "expires = 2999-12-31"));
    let (code, stdout, _) = run(dir.path(), &["check", "--format", "json", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(json(&stdout)["summary"]["excepted"], 1);
}

#[test]
fn exception_without_owner_is_a_config_error() {
    let dir = violating_project();
    write(
        dir.path(),
        EXCEPTIONS,
        "[[exception]]\nrule = \"l6-transaction\"\npath = \"backend/**\"\nreason = \"legacy\"\n",
    );
    let (code, stdout, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("owner"), "{stderr}");
    assert!(stderr.contains(EXCEPTIONS), "{stderr}");

    write(
        dir.path(),
        EXCEPTIONS,
        exception("l6-transaction", "backend/**", "").replace("owner = \"alice\"", "owner = \"  \""),
    );
    let (code, _, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("owner"), "{stderr}");
}

#[test]
fn exception_without_reason_is_a_config_error() {
    let dir = violating_project();
    write(
        dir.path(),
        EXCEPTIONS,
        "[[exception]]\nrule = \"l6-transaction\"\npath = \"backend/**\"\nowner = \"alice\"\n",
    );
    let (code, _, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("reason"), "{stderr}");
}

// ---------------------------------------------------------------- init and recipes

#[test]
fn init_writes_config_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    strata(dir.path()).arg("init").assert().success().stdout(predicate::str::contains("strata.toml"));
    let path = dir.path().join("strata.toml");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("[layers.l6]"), "{written}");
    assert!(written.contains("backend/app/hoc/cus/{domain}/L6_drivers/**/{module}.py"), "{written}");

    std::fs::write(&path, "# mine\n").unwrap();
    strata(dir.path()).arg("init").assert().code(2).stderr(predicate::str::contains("--force"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    strata(dir.path()).args(["init", "--force"]).assert().success();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}

#[test]
fn init_config_is_the_built_in_default() {
    // Without strata.toml the built-in default applies; with the init'd one the result is the same.
    let bare = tempfile::tempdir().unwrap();
    write(bare.path(), DRIVER, DRIVER_SRC);
    let (code, without, _) = run(bare.path(), &["check", "--format", "json"]);
    assert_eq!(code, 1);
    let dir = init_project();
    write(dir.path(), DRIVER, DRIVER_SRC);
    let (_, with, _) = run(dir.path(), &["check", "--format", "json"]);
    assert_eq!(json(&without)["violations"], json(&with)["violations"]);
}

#[test]
fn recipes_list_shows_every_shipped_recipe() {
    let dir = init_project();
    let (code, stdout, _) = run(dir.path(), &["recipes", "list"]);
    assert_eq!(code, 0);
    for id in [
        "l2-db-execute",
        "l2-transaction",
        "l6-transaction",
        "l6-session-lifecycle",
        "l4-service-locator",
        "l5-imports-l4",
        "l2-registry-dispatch",
        "hoc-layers",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("{id} "))), "{id} missing:\n{stdout}");
    }
}

#[test]
fn recipes_show_prints_the_recipe_as_toml() {
    let dir = init_project();
    let (code, stdout, _) = run(dir.path(), &["recipes", "show", "l6-transaction"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("id = \"l6-transaction\""), "{stdout}");
    assert!(stdout.contains("[match]"), "{stdout}");
    let (code, _, stderr) = run(dir.path(), &["recipes", "show", "no-such-recipe"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no-such-recipe"), "{stderr}");
}

#[test]
fn recipes_test_passes() {
    let dir = init_project();
    let (code, stdout, stderr) = run(dir.path(), &["recipes", "test"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// A project's own recipe is tested as written, not as the shipped recipe of the same id.
#[test]
fn recipes_test_runs_the_projects_own_recipe() {
    let dir = init_project();
    let recipes = dir.path().join("my-recipes");
    std::fs::create_dir_all(&recipes).unwrap();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/l6-transaction.toml")).unwrap();
    // The project's version deletes nothing: its own test expects the commit to stay.
    let cut = shipped.find("[[fix]]").unwrap();
    let own = format!(
        "{}[[fix]]\napplicability = \"manual\"\nreason = \"by hand here\"\n\n[[tests]]\nname = \"kept\"\npath = \"backend/app/hoc/cus/orders/L6_drivers/order_driver.py\"\ncode = \"def save(session):\\n    session.commit()\\n\"\nmatches = 1\nfixed = \"def save(session):\\n    session.commit()\\n\"\n",
        &shipped[..cut]
    );
    std::fs::write(recipes.join("l6-transaction.toml"), own).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["recipes", "test", "--recipes", "my-recipes", "l6-transaction"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ok      l6-transaction :: kept") && stdout.contains("1 passed"), "{stdout}");
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    strata(dir.path()).arg("--version").assert().success().stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
    strata(dir.path()).arg("--help").assert().success().stdout(
        predicate::str::contains("check").and(predicate::str::contains("fix")).and(predicate::str::contains("init")),
    );
}
