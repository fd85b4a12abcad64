//! The pre-commit hooks of `.pre-commit-hooks.yaml`, end to end: pre-commit (installed from PyPI
//! into the test venv, tests/requirements.txt) installs the committed `strata-system` hook in a
//! temporary repository, and `git commit` runs `strata check` on the staged files. The `strata`
//! hook (`language: rust`) builds strata with cargo from the network, so only its manifest is
//! validated here.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{python, repo_root, write};

const ROUTER: &str = "backend/app/hoc/api/cus/shop/items.py";
const ROUTER_SRC: &str = "\
from fastapi import APIRouter, Depends

router = APIRouter(prefix=\"/items\")


@router.post(\"/items\")
async def create_item(name: str, session=Depends(get_session)):
    session.add(Item(name=name))
    await session.commit()
    return {\"ok\": True}
";

/// A router without database code: classified `stateless`, not a violation.
const HEALTH: &str = "backend/app/hoc/api/cus/shop/health.py";
const HEALTH_SRC: &str = "\
from fastapi import APIRouter

router = APIRouter(prefix=\"/health\")


@router.get(\"/\")
async def health():
    return {\"status\": \"ok\"}
";

/// The directory of the strata binary under test, first on PATH (as `cargo install` would put it).
fn path_with_strata() -> std::ffi::OsString {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let dir = bin.parent().expect("the binary has a directory").to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&rest))).expect("PATH joins")
}

/// A command isolated from the machine's git and pre-commit configuration.
fn isolated(program: impl AsRef<std::ffi::OsStr>, dir: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("PATH", path_with_strata())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
        .env("GIT_AUTHOR_NAME", "strata-tests")
        .env("GIT_AUTHOR_EMAIL", "tests@example.com")
        .env("GIT_COMMITTER_NAME", "strata-tests")
        .env("GIT_COMMITTER_EMAIL", "tests@example.com")
        .env("PRE_COMMIT_HOME", home.join("pre-commit"))
        .env("PRE_COMMIT_COLOR", "never")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE");
    cmd
}

fn combined(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn git(dir: &Path, home: &Path, args: &[&str]) -> Output {
    isolated("git", dir, home).arg("-c").arg("commit.gpgsign=false").args(args).output().expect("git runs")
}

fn git_ok(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = git(dir, home, args);
    assert!(out.status.success(), "git {args:?} failed:\n{}", combined(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `python -m pre_commit ARGS`, with the venv's interpreter; fails loudly when pre-commit is missing.
fn pre_commit(dir: &Path, home: &Path, args: &[&str]) -> Output {
    let python = python();
    let probe = Command::new(&python).args(["-c", "import pre_commit"]).output().expect("python runs");
    assert!(
        probe.status.success(),
        "pre-commit is not installed for {}: run scripts/test (it installs tests/requirements.txt) or \
         `{} -m pip install -r tests/requirements.txt`",
        python.display(),
        python.display()
    );
    isolated(&python, dir, home).args(["-m", "pre_commit"]).args(args).output().expect("pre-commit runs")
}

/// A git repository holding only this checkout's `.pre-commit-hooks.yaml`, as a hook repository
/// that pre-commit clones; returns its commit.
fn hooks_repository(dir: &Path, home: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(repo_root().join(".pre-commit-hooks.yaml"), dir.join(".pre-commit-hooks.yaml"))
        .expect("the repository has .pre-commit-hooks.yaml");
    git_ok(dir, home, &["init", "-q", "-b", "main"]);
    git_ok(dir, home, &["add", "-A"]);
    git_ok(dir, home, &["commit", "-q", "-m", "hooks"]);
    git_ok(dir, home, &["rev-parse", "HEAD"])
}

#[test]
fn hook_manifest_is_valid_and_declares_both_hooks() {
    let home = tempfile::tempdir().unwrap();
    let out = pre_commit(&repo_root(), home.path(), &["validate-manifest", ".pre-commit-hooks.yaml"]);
    assert!(out.status.success(), "pre-commit rejects .pre-commit-hooks.yaml:\n{}", combined(&out));
    let script = "import json, sys, yaml\n\
                  print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let out = Command::new(python())
        .args(["-c", script])
        .arg(repo_root().join(".pre-commit-hooks.yaml"))
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", combined(&out));
    let hooks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hook = |id: &str| hooks.as_array().unwrap().iter().find(|h| h["id"] == id).cloned();
    let rust = hook("strata").expect("a hook `strata`");
    let system = hook("strata-system").expect("a hook `strata-system`");
    assert_eq!(rust["language"], "rust");
    assert_eq!(system["language"], "system");
    for h in [&rust, &system] {
        assert_eq!(h["entry"], "strata check", "{h}");
        assert_eq!(h["types"], serde_json::json!(["python"]), "{h}");
        assert_eq!(h["pass_filenames"], true, "{h}");
    }
}

#[test]
fn git_commit_runs_strata_check_on_the_staged_files() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("gitconfig"), "").unwrap();
    let rev = hooks_repository(&tmp.path().join("hooks"), &home);

    // A backend with strata.toml (strata init) and a pre-commit configuration using the hook.
    let project = tmp.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    git_ok(&project, &home, &["init", "-q", "-b", "main"]);
    let out = isolated(env!("CARGO_BIN_EXE_strata"), &project, &home).arg("init").output().unwrap();
    assert!(out.status.success(), "strata init failed:\n{}", combined(&out));
    let config = format!(
        "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: strata-system\n",
        tmp.path().join("hooks").display()
    );
    write(&project, ".pre-commit-config.yaml", config);
    git_ok(&project, &home, &["add", "-A"]);
    git_ok(&project, &home, &["commit", "-q", "-m", "configuration"]);
    let out = pre_commit(&project, &home, &["install"]);
    assert!(out.status.success(), "pre-commit install failed:\n{}", combined(&out));

    // A staged router with a violation: the hook fails, so does the commit, and it says why.
    write(&project, ROUTER, ROUTER_SRC);
    git_ok(&project, &home, &["add", ROUTER]);
    let out = git(&project, &home, &["commit", "-m", "items"]);
    let text = combined(&out);
    assert!(!out.status.success(), "the commit of a violation went through:\n{text}");
    assert!(text.contains("strata-system"), "{text}");
    assert!(text.contains("Failed"), "{text}");
    assert!(text.contains("error[l2-transaction]"), "{text}");
    assert!(text.contains(&format!("{ROUTER}:9:11")), "{text}");
    assert_eq!(git_ok(&project, &home, &["rev-list", "--count", "HEAD"]), "1", "nothing was committed");

    // Unstage it (it stays in the working tree, unstaged); a clean staged router passes and commits.
    git_ok(&project, &home, &["rm", "-q", "--cached", ROUTER]);
    write(&project, HEALTH, HEALTH_SRC);
    git_ok(&project, &home, &["add", HEALTH]);
    let out = git(&project, &home, &["commit", "-m", "health"]);
    let text = combined(&out);
    assert!(out.status.success(), "the commit of a clean file failed:\n{text}");
    assert!(text.contains("strata check (strata on PATH)"), "{text}");
    assert!(text.contains("Passed"), "the hook did not run on the staged file:\n{text}");
    assert_eq!(git_ok(&project, &home, &["rev-list", "--count", "HEAD"]), "2");
    assert_eq!(git_ok(&project, &home, &["show", "--name-only", "--format=", "HEAD"]), HEALTH);
}
