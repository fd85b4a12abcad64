//! Errors found early, named once: templates checked when the configuration loads (file, line,
//! the unknown name), render errors during `fix` reported as errors of their change set, layers
//! tried in the order the configuration lists them, exceptions and `recipes test` ids checked
//! like `--select`, and no internal name in any output.

mod common;

use std::path::Path;

use common::*;

const DRIVER: &str = "backend/app/hoc/cus/shop/L6_drivers/items_driver.py";
const DRIVER_SRC: &str = "def save(session, item):\n    session.add(item)\n    session.commit()\n";

fn project() -> tempfile::TempDir {
    let dir = init_project();
    write(dir.path(), DRIVER, DRIVER_SRC);
    dir
}

/// The 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in:\n{text}")) + 1
}

/// `line:column` (1-based) of the first `needle` in `text`.
fn position(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"));
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{column}")
}

fn own_recipe(root: &Path, toml: &str) -> String {
    write(root, "my_recipes/custom.toml", toml);
    root.join("my_recipes").display().to_string()
}

/// Every byte of the project, to show that a run wrote nothing.
fn snapshot(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    tree_bytes(root)
}

#[test]
fn a_naming_template_typo_fails_at_load_with_file_line_and_name() {
    let dir = project();
    let config = read(dir.path(), "strata.toml");
    let typo = config.replace("operation = \"{{ domain }}.{{ module }}\"", "operation = \"{{ domian }}.{{ module }}\"");
    assert_ne!(typo, config, "the default configuration changed: update this test");
    write(dir.path(), "strata.toml", &typo);
    let line = line_of(&typo, "operation = ");
    let before = snapshot(dir.path());
    for args in [vec!["check"], vec!["fix", "--allow-dirty"], vec!["fix", "--dry-run"]] {
        let (code, stdout, stderr) = run(dir.path(), &args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        let want = format!("strata.toml:{line}:17: template `naming.operation` uses unknown variable `domian`");
        assert!(stderr.contains(&want), "{args:?}: {stderr}");
        assert!(stderr.contains("did you mean `domain`?"), "{stderr}");
        assert_eq!(stderr.matches("domian").count(), 1, "the error is printed once: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
    assert_eq!(snapshot(dir.path()), before, "a run with a broken configuration wrote something");
}

#[test]
fn a_recipe_template_typo_fails_at_load_with_file_line_and_name() {
    let dir = project();
    let recipe = "id = \"my-rule\"\ntitle = \"commits\"\n\
        message = \"`{{ RECV }}.commit()` in {{ modul }}\"\n\
        [scope]\nlayers = [\"l6\"]\n[match]\npattern = \"$RECV.commit()\"\n";
    let recipes = own_recipe(dir.path(), recipe);
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 2, "{stderr}");
    let at = position(recipe, "modul }}");
    assert!(
        stderr.contains(&format!(
            "custom.toml:{at}: template `message` of recipe `my-rule` uses unknown variable `modul`"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `module`?"), "{stderr}");
    // What it can use: the match's metavariables, the layer's captures, the file facts, `config`.
    for known in ["RECV", "domain", "module", "function", "path", "config"] {
        assert!(stderr.contains(known), "{known} missing from the known names: {stderr}");
    }
}

#[test]
fn fix_templates_see_what_their_case_binds_and_config_keys_are_checked() {
    let dir = project();
    // `$FACTORY` is bound by the first case's `when`, not by the second's: the second may not use it.
    let recipe = r#"id = "my-rule"
title = "commits"
message = "commit"
[scope]
layers = ["l6"]
[match]
pattern = "$RECV.commit()"

[[fix]]
applicability = "manual"
reason = "opened by {{ FACTORY }} ({{ config.registry.module }})"
[fix.when.preceded_by]
pattern = "$RECV = $FACTORY()"

[[fix]]
applicability = "manual"
reason = "opened by {{ FACTORY }}"
"#;
    let recipes = own_recipe(dir.path(), recipe);
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 2, "{stderr}");
    let at = position(recipe, "FACTORY }}\"\n");
    assert!(stderr.contains(&format!("custom.toml:{at}: template `fix[1].reason` of recipe `my-rule`")), "{stderr}");
    assert!(stderr.contains("unknown variable `FACTORY`"), "{stderr}");

    let recipes = own_recipe(dir.path(), &recipe.replace("reason = \"opened by {{ FACTORY }}\"\n", "reason = \"x\"\n"));
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 1, "a case may use what its own `when` binds: {stderr}");

    let typo = recipe.replace("{{ config.registry.module }}", "{{ config.registry.modul }}");
    let recipes = own_recipe(dir.path(), &typo.replace("reason = \"opened by {{ FACTORY }}\"\n", "reason = \"x\"\n"));
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("custom.toml:11:"), "{stderr}");
    assert!(stderr.contains("`config.registry.modul` (did you mean `config.registry.module`?)"), "{stderr}");
}

#[test]
fn a_template_syntax_error_names_the_file_and_line() {
    let dir = project();
    let recipe = "id = \"my-rule\"\ntitle = \"x\"\n[match]\npattern = \"$RECV.commit()\"\n\
        [[fix]]\napplicability = \"manual\"\nreason = \"\"\"\nline one\n{% if RECV %}never closed\"\"\"\n";
    let recipes = own_recipe(dir.path(), recipe);
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("custom.toml:9: template `fix[0].reason` of recipe `my-rule` does not compile"),
        "{stderr}"
    );
}

#[test]
fn an_override_of_generated_code_is_checked_too() {
    let dir = project();
    let recipes = dir.path().join("my_recipes");
    write(dir.path(), "my_recipes/templates/call_site.py.j2", "{{ result_var }} = await {{ sesion }}\n");
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", &recipes.display().to_string()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("call_site.py.j2:1:29: template `call_site.py.j2` uses unknown variable `sesion`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `session`?"), "{stderr}");
}

/// A name the configuration defines for some files only (`domain` is captured by the first L2
/// pattern, not by `backend/app/hoc/api/**/{module}.py`) passes the load-time check; where it is
/// missing, rendering fails, and that change set is an error: never a file name, never output.
#[test]
fn a_render_error_during_fix_is_an_error_of_that_change_set() {
    let dir = init_project();
    let router = "backend/app/hoc/api/misc.py";
    write(
        dir.path(),
        router,
        "from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\ndef f(session):\n    session.commit()\n",
    );
    let recipe = r#"id = "gen-rule"
title = "generates a file"
message = "commit in {{ module }}"
[scope]
layers = ["l2"]
[match]
pattern = "$RECV.commit()"
[[fix]]
applicability = "safe"
description = "write a note for {{ domain }}"
edits = [{ op = "create_file", path = "notes/{{ domain }}.txt", with = "note\n" }]
"#;
    let recipes = own_recipe(dir.path(), recipe);
    let before = snapshot(dir.path());
    let (code, stdout, stderr) =
        run(dir.path(), &["fix", "--allow-dirty", "--recipes", &recipes, "--select", "gen-rule", "--color", "never"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("Errors (not applied) (1):"), "{stderr}");
    assert!(
        stderr.contains(&format!("{router}:7:5 [gen-rule] error: template `gen-rule.fix[0].description`")),
        "{stderr}"
    );
    assert!(stderr.contains("undefined"), "{stderr}");
    assert!(!stdout.contains('<') && !stderr.contains('<'), "an error rendered as text: {stdout}{stderr}");
    assert_eq!(snapshot(dir.path()), before, "the failed change set wrote something");

    let (code, stdout, _) =
        run(dir.path(), &["fix", "--dry-run", "--json", "--recipes", &recipes, "--select", "gen-rule"]);
    assert_eq!(code, 2);
    let v = json(&stdout);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["applied"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["errors"][0]["why"].as_str().unwrap().contains("gen-rule.fix[0].description"), "{v}");
}

#[test]
fn a_file_two_layers_match_belongs_to_the_first_the_configuration_lists() {
    let dir = project();
    let config = read(dir.path(), "strata.toml");
    // `zz` sorts last but is listed first, and its glob takes every backend file.
    let first = config.replace("[layers.l2]", "[layers.zz]\npaths = [\"backend/**/{module}.py\"]\n\n[layers.l2]");
    write(dir.path(), "strata.toml", &first);
    let (code, stdout, stderr) = run(dir.path(), &["check", "--format", "json", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "the driver is in `zz`, outside l6-transaction's scope: {stdout}{stderr}");
    assert_eq!(json(&stdout)["summary"]["violations"], 0);

    let last = format!("{config}\n[layers.zz]\npaths = [\"backend/**/{{module}}.py\"]\n");
    write(dir.path(), "strata.toml", &last);
    let (code, stdout, _) = run(dir.path(), &["check", "--format", "json", "--select", "l6-transaction"]);
    assert_eq!(code, 1, "listed last, `zz` only takes what no layer before it matched: {stdout}");
    assert_eq!(json(&stdout)["violations"][0]["path"], DRIVER);
}

#[test]
fn an_exception_for_an_unknown_rule_is_an_error() {
    let dir = project();
    let entry = |rule: &str| {
        format!("[[exception]]\nrule = \"l6-transaction\"\npath = \"backend/**\"\nreason = \"legacy\"\nowner = \"alice\"\n\n[[exception]]\nrule = \"{rule}\"\npath = \"backend/**\"\nreason = \"legacy\"\nowner = \"alice\"\n")
    };
    write(dir.path(), "strata-exceptions.toml", entry("l6-transacton"));
    let (code, stdout, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("strata-exceptions.toml: exception 2 (l6-transacton): no rule has the id `l6-transacton`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `l6-transaction`?"), "{stderr}");
    assert!(stderr.contains("the known ids are: ") && stderr.contains("l2-db-execute"), "{stderr}");
    assert!(!stdout.contains("stale"), "{stdout}");

    write(dir.path(), "strata-exceptions.toml", entry("hoc-layers"));
    let (code, _, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`hoc-layers` is a composite of"), "{stderr}");
}

#[test]
fn recipes_test_rejects_an_unknown_id_like_select() {
    let dir = project();
    let (code, stdout, stderr) = run(dir.path(), &["recipes", "test", "l6-transaction", "nope"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "nothing ran: {stdout}");
    let (select_code, _, select_stderr) = run(dir.path(), &["check", "--select", "nope"]);
    assert_eq!(select_code, 2);
    // The same error as --select, naming the command instead of the flag.
    assert_eq!(stderr.replacen("recipes test", "--select", 1), select_stderr);
    assert!(stderr.contains("`nope` matches no rule id"), "{stderr}");

    // A composite stands for its parts.
    let (code, stdout, stderr) = run(dir.path(), &["recipes", "test", "hoc-layers"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ok      l6-transaction ::"), "{stdout}");
}

#[test]
fn internal_metavariable_names_never_reach_output() {
    let dir = project();
    for pattern in ["$X $Y", "foo($$$ARGS $X)", "$RECV.commit($$$", "foo$X()", "f(\\\"$X\\\")"] {
        let recipes =
            own_recipe(dir.path(), &format!("id = \"my-rule\"\ntitle = \"x\"\n[match]\npattern = \"{pattern}\"\n"));
        let (code, stdout, stderr) = run(dir.path(), &["check", "--recipes", &recipes]);
        assert_eq!(code, 2, "{pattern}: {stderr}");
        assert!(!format!("{stdout}{stderr}").contains("__strata"), "{pattern}: {stderr}");
        assert!(stderr.contains("my-rule"), "{stderr}");
    }
    // A valid recipe: its findings, hints and explanation show metavariables as written.
    let recipes = own_recipe(
        dir.path(),
        "id = \"my-rule\"\ntitle = \"x\"\nmessage = \"{{ RECV }}.commit({{ ARGS }})\"\n[match]\npattern = \"$RECV.commit($$$ARGS)\"\n",
    );
    for args in [vec!["check", "--format", "json"], vec!["explain", "my-rule"], vec!["fix", "--dry-run"]] {
        let mut all = args.clone();
        all.extend(["--recipes", recipes.as_str()]);
        let (_, stdout, stderr) = run(dir.path(), &all);
        assert!(!format!("{stdout}{stderr}").contains("__strata"), "{args:?}: {stdout}{stderr}");
    }
}

#[test]
fn each_error_is_printed_once() {
    let dir = project();
    let (code, _, stderr) = run(dir.path(), &["check", "--config", "nope.toml"]);
    assert_eq!(code, 2);
    assert_eq!(stderr.matches("nope.toml").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
    let (code, _, stderr) = run(dir.path(), &["check", "--recipes", "no-such-dir"]);
    assert_eq!(code, 2);
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
