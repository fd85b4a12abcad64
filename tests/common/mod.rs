//! Helpers shared by the integration tests: running the binary, temp projects, git, the Python venv.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use tempfile::TempDir;

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sample application in the HOC layout.
pub fn sample_app() -> PathBuf {
    repo_root().join("examples/hoc_app")
}

/// The Python interpreter with tests/requirements.txt installed: `$STRATA_PYTHON`, else `<repo>/.venv/bin/python`.
/// Fails loudly (never skips) when it is missing.
pub fn python() -> PathBuf {
    let path = match std::env::var_os("STRATA_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join(".venv/bin/python"),
    };
    assert!(
        path.exists(),
        "Python interpreter not found at {} — these tests need it. Create it with \
         `python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt`, \
         or point STRATA_PYTHON at an interpreter that has tests/requirements.txt installed.",
        path.display()
    );
    path
}

/// The `strata` binary with a clean colour environment, run in `dir`.
pub fn strata(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("strata").expect("the strata binary is built");
    cmd.current_dir(dir).env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE").env_remove("FORCE_COLOR");
    cmd
}

/// Runs `strata` and returns (exit code, stdout, stderr); asserts nothing panicked.
pub fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = strata(dir).args(args).output().expect("strata runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "strata {args:?} panicked:\n{stderr}");
    (out.status.code().expect("strata exited normally (not by a signal)"), stdout, stderr)
}

/// Writes `content` at `rel` under `root`, creating parent directories.
pub fn write(root: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

pub fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

pub fn read_bytes(root: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(root.join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// A temporary project with the default `strata.toml` written by `strata init`.
pub fn init_project() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(dir.path(), &["init"]);
    assert_eq!(code, 0, "strata init failed: {stderr}");
    assert!(dir.path().join("strata.toml").is_file());
    dir
}

/// Runs a git command in `dir`, asserting success; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = StdCommand::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=strata-tests", "-c", "user.email=tests@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git is installed");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes `dir` a git repository with everything committed.
pub fn git_commit_all(dir: &Path) {
    if !dir.join(".git").exists() {
        git(dir, &["init", "-q", "-b", "main"]);
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "snapshot", "--allow-empty"]);
}

/// Copies a directory tree, leaving out caches.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `root` (relative path → bytes), leaving out `.git` and caches.
pub fn tree_bytes(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == ".git" || name == "__pycache__" || name == ".pytest_cache" {
                continue;
            }
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                // Recorded by target, never followed (a link may lead outside the tree).
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, format!("-> {}", target.display()).into_bytes());
            } else if kind.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Parses stdout as JSON, with the text in the panic message when it is not.
pub fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

/// `register_all_handlers`' module in the default layout.
pub const WIRING: &str = "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/__init__.py";

/// What the extraction's generated code imports in the default layout: the registry module, the
/// handlers package with `register_all_handlers`, and the modules L2 fixtures import from (the
/// semantic guard checks that every import a rewrite writes resolves).
pub fn write_registry_scaffold(root: &Path) {
    write(root, WIRING, "def register_all_handlers(registry):\n    pass\n");
    write(
        root,
        "backend/app/hoc/cus/hoc_spine/orchestrator/operation_registry.py",
        "class OperationContext:\n    pass\n\n\nclass OperationResult:\n    pass\n\n\ndef get_operation_registry():\n    pass\n",
    );
    write(
        root,
        "backend/app/db.py",
        "def get_session():\n    pass\n\n\ndef get_db():\n    pass\n\n\ndef open_session():\n    pass\n",
    );
    write(root, "backend/app/models.py", "class Item:\n    pass\n");
    write(root, "backend/app/hoc/models.py", "class Item:\n    pass\n");
}
