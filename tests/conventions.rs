//! CLI conventions users bring from ruff and git: the project root without a configuration, paths
//! shown from the working directory, exit codes of `fix`, stdout kept for what a pipe wants, and a
//! closed pipe ending the run quietly.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use common::{copy_dir, git, git_commit_all, json, run, sample_app, write};

/// A copy of the sample app without `strata.toml`, in a git repository.
fn unconfigured_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_app(), dir.path());
    let config = dir.path().join("strata.toml");
    if config.exists() {
        std::fs::remove_file(config).unwrap();
    }
    git_commit_all(dir.path());
    dir
}

/// (rule, path as printed, line) of every violation `check --format json` reports.
fn sites(dir: &Path, args: &[&str]) -> BTreeSet<(String, String, u64)> {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run(dir, &all);
    assert!(code == 0 || code == 1, "{stderr}");
    json(&stdout)["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let path = v["path"].as_str().unwrap().to_string();
            (v["rule"].as_str().unwrap().to_string(), path, v["start"]["line"].as_u64().unwrap())
        })
        .collect()
}

#[test]
fn without_a_configuration_the_root_is_the_repository_whatever_the_path_or_directory() {
    let repo = unconfigured_repo();
    assert!(!repo.path().join("strata.toml").exists());
    let at_root = sites(repo.path(), &[]);
    assert!(at_root.len() > 20, "{at_root:?}");
    let folder = "backend/app/hoc/api/cus";
    let under = |prefix: &str| -> BTreeSet<(String, String, u64)> {
        at_root.iter().filter(|(_, path, _)| path.starts_with(prefix)).cloned().collect()
    };
    let expected = under(&format!("{folder}/"));
    assert!(!expected.is_empty());

    // A folder given on the command line: the same sites as at the root, under that folder.
    assert_eq!(sites(repo.path(), &[folder]), expected);

    // Run from a subdirectory: the same sites, with paths relative to where strata runs.
    let from_backend = sites(&repo.path().join("backend"), &[]);
    let shown_from_backend: BTreeSet<(String, String, u64)> =
        at_root.iter().map(|(r, p, l)| (r.clone(), p.trim_start_matches("backend/").to_string(), *l)).collect();
    assert_eq!(from_backend, shown_from_backend);

    // One file, from its own directory: ruff lints a file with the project's settings.
    let file_dir = repo.path().join("backend/app/hoc/api/cus/audit");
    let one = sites(&file_dir, &["ingest.py"]);
    let expected_one: BTreeSet<(String, String, u64)> = at_root
        .iter()
        .filter(|(_, p, _)| p == "backend/app/hoc/api/cus/audit/ingest.py")
        .map(|(r, _, l)| (r.clone(), "ingest.py".to_string(), *l))
        .collect();
    assert!(!expected_one.is_empty());
    assert_eq!(one, expected_one);
}

#[test]
fn fix_paths_are_shown_from_the_working_directory() {
    let repo = unconfigured_repo();
    let (code, stdout, stderr) =
        run(&repo.path().join("backend"), &["fix", "--dry-run", "--select", "l6-transaction", "--color", "never"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("--- a/app/hoc/cus/orders/L6_drivers/order_driver.py"), "{stdout}");
    assert!(!stdout.contains("a/backend/"), "{stdout}");
    assert!(stderr.contains("\n  app/hoc/cus/"), "{stderr}");
}

#[test]
fn fix_exits_one_while_violations_remain_and_zero_when_none_do() {
    let repo = unconfigured_repo();
    // Manual sites remain after fixing everything it can: 1, as `ruff check --fix`.
    let (code, stdout, stderr) = run(repo.path(), &["fix", "--select", "l2-db-execute,l2-transaction"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "the summary goes to stderr: {stdout}");
    assert!(stderr.contains("remain; `strata check` lists them."), "{stderr}");

    // A project whose only violation is fixed: 0.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "backend/app/hoc/cus/shop/L6_drivers/items_driver.py",
        "def save(session, item):\n    session.add(item)\n    session.commit()\n",
    );
    git(dir.path(), &["init", "-q"]);
    git_commit_all(dir.path());
    let (code, _, stderr) = run(dir.path(), &["fix", "--unsafe", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Fixed 1 violation in 1 file"), "{stderr}");
    let (code, _, _) = run(dir.path(), &["check", "--select", "l6-transaction"]);
    assert_eq!(code, 0);
}

#[test]
fn json_output_is_the_only_thing_on_stdout() {
    let repo = unconfigured_repo();
    for flags in [&["--format", "json"][..], &["--json"][..]] {
        let mut args = vec!["fix", "--dry-run", "--color", "always"];
        args.extend_from_slice(flags);
        let (code, stdout, stderr) = run(repo.path(), &args);
        assert_eq!(code, 1, "{stderr}");
        let document: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is one JSON document");
        assert!(!document["diffs"].as_array().unwrap().is_empty());
        assert!(document["remaining"].as_u64().unwrap() > 0);
        assert!(!stdout.contains('\u{1b}'), "no colour inside JSON");
        assert!(stderr.is_empty(), "nothing else is printed: {stderr}");
    }
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let repo = unconfigured_repo();
    for args in [&["check"][..], &["fix", "--dry-run"][..], &["recipes", "list"][..]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
            .current_dir(repo.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("strata starts");
        // The reader goes away before strata writes anything (`strata check | head -0`).
        drop(child.stdout.take());
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_layer_whose_globs_match_no_file_is_warned_about() {
    let dir = common::init_project();
    write(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/items_driver.py", "def save(session):\n    return 1\n");
    let (code, _, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("warning: layer `l2` matches no file"), "{stderr}");
    assert!(!stderr.contains("layer `l6`"), "{stderr}");
    // Paths on the command line choose the files: their layers need not all be there.
    let (_, _, stderr) = run(dir.path(), &["check", "backend"]);
    assert!(!stderr.contains("matches no file"), "{stderr}");
}

const ROUTER_WITH_EXECUTE: &str = "\
from fastapi import APIRouter

router = APIRouter()


@router.get(\"/items\")
async def list_items(session):
    return await session.execute(\"select 1\")
";

const CLI_WITH_EXECUTE: &str = "\
import sys


def main(session):
    session.execute(\"select 1\")
    return sys.argv
";

#[test]
fn an_l2_router_is_a_file_that_creates_a_router_or_app_as_configured() {
    let dir = common::init_project();
    let config = std::fs::read_to_string(dir.path().join("strata.toml")).unwrap();
    assert!(config.contains("requires = [\"APIRouter($$$ARGS)\""), "init writes the requirement:\n{config}");
    write(dir.path(), "backend/app/hoc/api/cus/shop/items.py", ROUTER_WITH_EXECUTE);
    write(dir.path(), "backend/app/hoc/api/cus/shop/cli.py", CLI_WITH_EXECUTE);
    let reported = sites(dir.path(), &["--select", "l2-db-execute"]);
    let paths: BTreeSet<&str> = reported.iter().map(|(_, p, _)| p.as_str()).collect();
    assert_eq!(paths, BTreeSet::from(["backend/app/hoc/api/cus/shop/items.py"]), "{reported:?}");

    // The others are reported under their own rule when a layer after L2 takes them.
    let config = format!(
        "{config}\n[layers.l2-other]\ndescription = \"modules under the API that are not routers\"\npaths = [\"backend/app/hoc/api/**/{{module}}.py\"]\n"
    );
    std::fs::write(dir.path().join("strata.toml"), config).unwrap();
    write(
        dir.path(),
        "my_recipes/api-module-db.toml",
        "id = \"api-module-db\"\ntitle = \"Database code in a non-router API module\"\nseverity = \"warning\"\n\
         message = \"database call in a module under the API\"\n[scope]\nlayers = [\"l2-other\"]\n\
         [match]\npattern = \"$S.execute($$$A)\"\n",
    );
    let reported = sites(dir.path(), &["--recipes", "my_recipes", "--select", "l2-db-execute,api-module-db"]);
    let by_rule: BTreeSet<(&str, &str)> = reported.iter().map(|(r, p, _)| (r.as_str(), p.as_str())).collect();
    assert_eq!(
        by_rule,
        BTreeSet::from([
            ("api-module-db", "backend/app/hoc/api/cus/shop/cli.py"),
            ("l2-db-execute", "backend/app/hoc/api/cus/shop/items.py"),
        ])
    );
}

/// Runs strata where permissions hold: as `nobody` when the tests run as root (root reads
/// everything), else as the current user.
fn run_unprivileged(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let strata = env!("CARGO_BIN_EXE_strata");
    let is_root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let mut command = if is_root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", strata]);
        c
    } else {
        std::process::Command::new(strata)
    };
    let out = command.current_dir(dir).args(args).output().expect("strata runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().expect("exited normally"), text(&out.stdout), text(&out.stderr))
}

#[test]
fn unreadable_files_and_directories_are_listed_and_fail_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let driver = "backend/app/hoc/cus/shop/L6_drivers/items_driver.py";
    write(root, driver, "def save(session, item):\n    session.add(item)\n");
    write(root, "backend/app/hoc/cus/shop/L6_drivers/secret.py", "def f(session):\n    session.commit()\n");
    write(root, "backend/app/hoc/cus/stock/L6_drivers/locked/inner.py", "def g(session):\n    session.commit()\n");
    // Everything readable by all, except one file and one directory.
    let mode = |path: &Path, mode: u32| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    for entry in walk_all(root) {
        mode(&entry, if entry.is_dir() { 0o755 } else { 0o644 });
    }
    mode(&root.join("backend/app/hoc/cus/shop/L6_drivers/secret.py"), 0o000);
    mode(&root.join("backend/app/hoc/cus/stock/L6_drivers/locked"), 0o000);

    let (code, stdout, stderr) = run_unprivileged(root, &["check", "--color", "never"]);
    mode(&root.join("backend/app/hoc/cus/stock/L6_drivers/locked"), 0o755);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("warning: skipped backend/app/hoc/cus/shop/L6_drivers/secret.py: cannot read"), "{stderr}");
    assert!(stderr.contains("warning: skipped backend/app/hoc/cus/stock/L6_drivers/locked: cannot read"), "{stderr}");
    assert!(stderr.contains("the check is incomplete"), "{stderr}");
}

fn walk_all(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            for entry in std::fs::read_dir(&out[i]).unwrap() {
                out.push(entry.unwrap().path());
            }
        }
        i += 1;
    }
    out
}

/// The README's example exceptions file is true of the sample app: it applies there, nothing stale.
#[test]
fn the_readme_exceptions_example_applies_to_the_sample() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let start =
        readme.find("```toml\n[[exception]]\nrule = \"l2-registry-dispatch\"").expect("the example is in the README");
    let block = &readme[start + "```toml\n".len()..];
    let block = &block[..block.find("```").unwrap()];
    let repo = unconfigured_repo();
    write(repo.path(), "strata-exceptions.toml", block);
    let (code, stdout, stderr) = run(repo.path(), &["check", "--format", "json", "--select", "l2-registry-dispatch"]);
    assert_eq!(code, 1, "{stderr}");
    let report = json(&stdout);
    assert!(report["excepted"].as_array().unwrap().len() >= 2, "{report:#}");
    let states: Vec<&str> =
        report["exceptions"].as_array().unwrap().iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["active"], "{report:#}");
}
