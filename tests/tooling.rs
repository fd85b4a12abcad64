//! Where users work: `strata explain`, shell completions, the GitHub Actions example; and docs
//! that are true (the design document every reference points at, the license, the changelog).

mod common;

use std::path::Path;
use std::process::Command;

use common::{init_project, python, repo_root, run, write};

// ---------------------------------------------------------------- explain

#[test]
fn explain_prints_what_why_example_and_fix() {
    let dir = init_project();
    let (code, stdout, stderr) = run(dir.path(), &["explain", "l2-transaction"]);
    assert_eq!(code, 0, "{stderr}");
    let sections = ["l2-transaction: Transaction boundary in an L2 router", "What it finds", "Why", "Example", "Fix"];
    let mut at = 0;
    for section in sections {
        let found = stdout[at..].find(section).unwrap_or_else(|| panic!("no `{section}` after byte {at}:\n{stdout}"));
        at += found + section.len();
    }
    // What: the pattern and the message; why: the recipe's help and the layer from strata.toml.
    assert!(stdout.contains("$RECV.$METHOD($$$ARGS)"), "{stdout}");
    assert!(stdout.contains("transaction boundaries belong to the L4 handler"), "{stdout}");
    assert!(stdout.contains("L2 must not own transactions"), "{stdout}");
    assert!(stdout.contains("l2: L2 API: FastAPI routers, HTTP only"), "{stdout}");
    // The example is the recipe's first test case that matches, with its expected count.
    assert!(stdout.contains("backend/app/hoc/api/cus/shop/items.py"), "{stdout}");
    assert!(stdout.contains("await async_session.rollback()"), "{stdout}");
    assert!(stdout.contains("expected: 2 matches"), "{stdout}");
    // The fix: applicability, description and the transform.
    assert!(stdout.contains("- safe: move the transaction of `{{ function }}` into its L4 handler"), "{stdout}");
    assert!(stdout.contains("extract-to-driver"), "{stdout}");
}

#[test]
fn explain_shows_every_fix_case_with_its_conditions_and_the_fixed_example() {
    let dir = init_project();
    let (code, stdout, stderr) = run(dir.path(), &["explain", "l6-transaction"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("- manual: `{{ RECV }}` is opened by the driver itself"), "{stdout}");
    assert!(stdout.contains("when every caller of the function then has `$SESSION.commit()`"), "{stdout}");
    assert!(stdout.contains("- unsafe: delete"), "{stdout}");
    assert!(stdout.contains("after `strata fix`:"), "{stdout}");
    // A rule with no fix says so; a composite lists its parts.
    let (_, stdout, _) = run(dir.path(), &["explain", "l5-imports-l4"]);
    assert!(stdout.contains("none: `strata fix` reports it only"), "{stdout}");
    let (code, stdout, _) = run(dir.path(), &["explain", "hoc-layers"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("A composite") && stdout.contains("unregistered-operation"), "{stdout}");
}

#[test]
fn explain_json_is_one_document() {
    let dir = init_project();
    let (code, stdout, stderr) = run(dir.path(), &["explain", "l2-db-execute", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("explain --format json prints JSON");
    assert_eq!(doc["id"], "l2-db-execute");
    assert_eq!(doc["severity"], "error");
    assert_eq!(doc["finds"]["patterns"][0], "$RECV.$METHOD($$$ARGS)");
    assert!(doc["why"]["help"].as_str().unwrap().contains("L2 routers speak HTTP only"));
    assert_eq!(doc["why"]["layers"][0]["name"], "l2");
    assert_eq!(doc["example"]["path"], "backend/app/hoc/api/cus/shop/items.py");
    assert_eq!(doc["example"]["matches"], 3);
    assert_eq!(doc["fix"][0]["applicability"], "safe");
    assert_eq!(doc["fix"][0]["transform"], "extract-to-driver");
    assert_eq!(doc["origin"], "<shipped>/l2-db-execute.toml");
}

#[test]
fn explain_finds_a_project_recipe() {
    let dir = init_project();
    let recipe = "\
id = \"no-print\"
title = \"print in a driver\"
help = \"Drivers log; they never print.\"
[scope]
layers = [\"l6\"]
[match]
pattern = \"print($$$ARGS)\"
[[tests]]
name = \"a print\"
path = \"backend/app/hoc/cus/shop/L6_drivers/items_driver.py\"
code = \"print('x')\\n\"
matches = 1
";
    write(dir.path(), "my_recipes/no-print.toml", recipe);
    let (code, stdout, stderr) = run(dir.path(), &["--recipes", "my_recipes", "explain", "no-print"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("no-print: print in a driver"), "{stdout}");
    assert!(stdout.contains("Drivers log; they never print."), "{stdout}");
    assert!(stdout.contains("l6: L6 drivers: database access with an injected session"), "{stdout}");
    assert!(stdout.contains("    print('x')"), "{stdout}");
    assert!(stdout.contains("detect only"), "{stdout}");
}

#[test]
fn explain_unknown_rule_exits_two_and_lists_the_known_ids() {
    let dir = init_project();
    let (code, stdout, stderr) = run(dir.path(), &["explain", "l2-nope"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("`l2-nope`"), "{stderr}");
    for id in ["l2-db-execute", "l6-transaction", "unregistered-operation", "hoc-layers"] {
        assert!(stderr.contains(id), "{stderr}");
    }
    assert!(stderr.contains("strata recipes list"), "{stderr}");
    // `recipes show` shares the lookup and the message.
    let (code, _, stderr) = run(dir.path(), &["recipes", "show", "l2-nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("the known ids are: l2-db-execute"), "{stderr}");
}

// ---------------------------------------------------------------- completions

#[test]
fn bash_completions_complete_strata_and_its_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let (code, script, stderr) = run(dir.path(), &["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(script.contains("complete -F _strata"), "{script}");
    for command in ["check", "fix", "recipes", "init", "explain", "completions"] {
        assert!(script.contains(&format!("strata,{command})")), "no `{command}` in the script:\n{script}");
    }
    let file = dir.path().join("strata.bash");
    std::fs::write(&file, &script).unwrap();
    // Sourced in bash: the completion is registered, and completing `strata ex` gives `explain`.
    let probe = "source \"$1\" && complete -p strata && \
                 COMP_WORDS=(strata ex) COMP_CWORD=1 && _strata strata ex strata && \
                 printf 'reply:%s\\n' \"${COMPREPLY[@]}\"";
    let out = Command::new("bash").args(["--norc", "--noprofile", "-c", probe, "bash"]).arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("-F _strata strata"), "{stdout}");
    assert!(stdout.contains("reply:explain"), "{stdout}");
}

#[test]
fn completions_for_every_shell_and_a_clear_error_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let (code, script, stderr) = run(dir.path(), &["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains("strata") && script.contains("explain"), "{shell}:\n{script}");
    }
    let (code, _, stderr) = run(dir.path(), &["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("possible values: bash"), "{stderr}");
}

// ---------------------------------------------------------------- GitHub Actions example

#[test]
fn github_actions_example_installs_strata_and_annotates_with_format_github() {
    let file = repo_root().join("docs/examples/github-actions-check.yml");
    let script = "import json, sys, yaml\nprint(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let out = Command::new(python()).args(["-c", script]).arg(&file).output().expect("python runs");
    assert!(out.status.success(), "the workflow is not YAML:\n{}", String::from_utf8_lossy(&out.stderr));
    let workflow: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // YAML 1.1 reads the key `on` as true.
    let triggers = workflow.get("on").or_else(|| workflow.get("true")).expect("the workflow has triggers");
    assert!(triggers.get("pull_request").is_some(), "{triggers}");
    let jobs = workflow["jobs"].as_object().expect("jobs");
    let runs: Vec<String> = jobs
        .values()
        .flat_map(|job| job["steps"].as_array().cloned().unwrap_or_default())
        .filter_map(|step| step["run"].as_str().map(str::to_string))
        .collect();
    let install = runs.iter().position(|r| r.contains("cargo install")).expect("a step installs strata");
    let check = runs.iter().position(|r| r.contains("strata check") && r.contains("--format github"));
    let check = check.unwrap_or_else(|| panic!("no step runs `strata check --format github`: {runs:?}"));
    assert!(install < check, "{runs:?}");
}

// ---------------------------------------------------------------- docs that are true

/// Every text file of the repository (no build output, venvs or git internals).
fn repository_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if matches!(name.as_str(), ".git" | "target" | ".venv" | ".cache" | "__pycache__" | ".pytest_cache") {
            continue;
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            repository_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_design_reference_points_at_docs_design_md() {
    let root = repo_root();
    assert!(root.join("docs/design.md").is_file(), "docs/design.md is missing");
    let design = std::fs::read_to_string(root.join("docs/design.md")).unwrap();
    for section in ["The pipeline", "Guarantees of every rewrite", "Adding a recipe or a transform", "flows through"] {
        assert!(design.contains(section), "docs/design.md has no `{section}`");
    }
    let mut files = Vec::new();
    repository_files(&root, &mut files);
    let stale: Vec<String> = files
        .iter()
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("DESIGN.md")))
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .filter(|p| p != "tests/tooling.rs")
        .collect();
    assert!(stale.is_empty(), "these cite a DESIGN.md that does not exist: {stale:?}");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("docs/design.md"), "the README does not cite docs/design.md");
    // The configuration `strata init` writes cites it too.
    let dir = init_project();
    let config = std::fs::read_to_string(dir.path().join("strata.toml")).unwrap();
    assert!(config.contains("docs/design.md"), "{config}");
}

#[test]
fn license_changelog_and_readme_are_there() {
    let root = repo_root();
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(cargo.contains("license = \"MIT\""), "Cargo.toml's license changed: update LICENSE");
    let license = std::fs::read_to_string(root.join("LICENSE")).expect("a LICENSE file");
    assert!(license.starts_with("MIT License"), "{license}");
    assert!(license.contains("the strata developers"), "{license}");
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).expect("a CHANGELOG.md");
    assert!(changelog.contains("## [Unreleased]"), "{changelog}");
    assert!(changelog.contains("keepachangelog.com"), "{changelog}");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for needle in [
        "cargo install --path .",
        "## Two commands",
        "Use it with pre-commit",
        "strata-system",
        "Shell completions",
        "strata explain",
        "github-actions-check.yml",
    ] {
        assert!(readme.contains(needle), "the README has no `{needle}`");
    }
}

// ---------------------------------------------------------------- bot and batch workflows

/// The `run` lines of a workflow file (parsed as YAML by the tests' Python).
fn workflow_runs(name: &str) -> (serde_json::Value, Vec<String>) {
    let file = repo_root().join("docs/examples").join(name);
    let script = "import json, sys, yaml\nprint(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let out = Command::new(python()).args(["-c", script]).arg(&file).output().expect("python runs");
    assert!(out.status.success(), "{name} is not YAML:\n{}", String::from_utf8_lossy(&out.stderr));
    let workflow: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = workflow["jobs"]
        .as_object()
        .expect("jobs")
        .values()
        .flat_map(|job| job["steps"].as_array().cloned().unwrap_or_default())
        .filter_map(|step| step["run"].as_str().map(str::to_string))
        .collect();
    (workflow, runs)
}

/// Every `--flag` of the `strata SUB` command line in `run` is one `strata SUB --help` lists.
fn flags_exist(run_line: &str, sub: &str) {
    let (code, help, _) = run(&repo_root(), &[sub, "--help"]);
    assert_eq!(code, 0);
    for flag in run_line.split_whitespace().filter(|w| w.starts_with("--")) {
        let flag = flag.split('=').next().unwrap();
        assert!(help.contains(flag), "`strata {sub}` has no {flag} (used in the example workflow)");
    }
}

#[test]
fn the_bot_workflow_migrates_on_a_schedule_and_pushes_and_opens_the_pull_request() {
    let (workflow, runs) = workflow_runs("github-actions-migrate.yml");
    let triggers = workflow.get("on").or_else(|| workflow.get("true")).expect("triggers");
    assert!(triggers["schedule"][0]["cron"].is_string(), "{triggers}");
    assert_eq!(workflow["permissions"]["contents"], "write");
    assert_eq!(workflow["permissions"]["pull-requests"], "write");
    let migrate = runs.iter().find(|r| r.contains("strata migrate")).expect("a step runs strata migrate");
    for needle in ["--push origin", "--pr", "--update", "--branch"] {
        assert!(migrate.contains(needle), "{migrate}");
    }
    flags_exist(migrate, "migrate");
}

#[test]
fn the_batch_workflow_spreads_shards_over_a_matrix_and_its_manifest_loads() {
    let (workflow, runs) = workflow_runs("github-actions-batch.yml");
    let job = workflow["jobs"].as_object().unwrap().values().next().unwrap().clone();
    let shards = job["strategy"]["matrix"]["shard"].as_array().expect("a shard matrix").len();
    assert_eq!(job["strategy"]["fail-fast"], false);
    let batch = runs.iter().find(|r| r.contains("strata batch")).expect("a step runs strata batch");
    assert!(batch.contains(&format!("--shard ${{{{ matrix.shard }}}}/{shards}")), "{batch}");
    flags_exist(batch, "batch");
    let repos = strata::batch::load(&repo_root().join("docs/examples/batch.toml")).expect("the example manifest loads");
    assert_eq!(repos.len(), 3);
    assert!(repos.iter().all(|r| r.options.branch.as_deref() == Some("strata/layers")));
    // Its shards cover it, whatever the matrix size.
    for n in 1..=4u64 {
        let covered: usize = (1..=n)
            .map(|i| {
                repos.iter().filter(|r| format!("{i}/{n}").parse::<strata::batch::Shard>().unwrap().holds(r)).count()
            })
            .sum();
        assert_eq!(covered, repos.len());
    }
}
