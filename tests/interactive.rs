//! `strata fix --interactive` driven through a pseudo-terminal (rexpect): y, n, a, q and ?.

mod common;

use std::path::Path;
use std::process::Command;

use common::{git_commit_all, init_project, read, run, strata, tree_bytes, write};
use predicates::prelude::*;
use rexpect::session::{spawn_command, PtySession};

const L6: &str = "backend/app/hoc/cus/shop/L6_drivers";
const NAMES: [&str; 5] = ["a_driver", "b_driver", "c_driver", "d_driver", "e_driver"];
const PROMPT: &str = "Apply this change? [y,n,a,q,?]";
/// Generous: only a guard against a hang, never a timing assertion.
const TIMEOUT_MS: u64 = 60_000;

fn source(name: &str) -> String {
    format!("def save_{name}(session, item):\n    session.add(item)\n    session.commit()\n")
}

fn fixed(name: &str) -> String {
    format!("def save_{name}(session, item):\n    session.add(item)\n")
}

/// A committed git project with one independent l6-transaction fix in each of five files.
fn project() -> tempfile::TempDir {
    let dir = init_project();
    for name in NAMES {
        write(dir.path(), &format!("{L6}/{name}.py"), source(name));
    }
    // The L4 caller commits after each driver call, so every deletion is a safe fix.
    let imports: String =
        NAMES.iter().map(|name| format!("from app.hoc.cus.shop.L6_drivers.{name} import save_{name}\n")).collect();
    let calls: String = NAMES.iter().map(|name| format!("    save_{name}(ctx.session, item)\n")).collect();
    write(
        dir.path(),
        "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py",
        format!("{imports}\n\ndef handle(ctx, item):\n{calls}    ctx.session.commit()\n"),
    );
    git_commit_all(dir.path());
    dir
}

fn spawn(dir: &Path) -> PtySession {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("strata"));
    cmd.current_dir(dir).args(["fix", "--interactive", "--select", "l6-transaction", "--color", "never"]);
    cmd.env_remove("NO_COLOR");
    spawn_command(cmd, Some(TIMEOUT_MS)).expect("strata starts in a pseudo-terminal")
}

/// Waits for the review of `name` and its prompt; returns what was shown.
fn expect_review(p: &mut PtySession, name: &str) -> String {
    let shown = p.exp_string(PROMPT).unwrap_or_else(|e| panic!("no prompt for {name}: {e}"));
    assert!(
        shown.contains(&format!("[l6-transaction] {L6}/{name}.py:3:5")),
        "expected the review of {name}, got:\n{shown}"
    );
    assert!(shown.contains(&format!("--- a/{L6}/{name}.py")), "the diff is shown:\n{shown}");
    assert!(shown.contains("-    session.commit()"), "{shown}");
    shown
}

fn state(dir: &Path) -> Vec<bool> {
    NAMES
        .iter()
        .map(|name| {
            let text = read(dir, &format!("{L6}/{name}.py"));
            assert!(text == source(name) || text == fixed(name), "unexpected content of {name}:\n{text}");
            text == fixed(name)
        })
        .collect()
}

#[test]
fn yes_no_then_all() {
    let dir = project();
    let mut p = spawn(dir.path());
    expect_review(&mut p, "a_driver");
    p.send_line("?").unwrap();
    let help = p.exp_string(PROMPT).unwrap();
    assert!(help.contains("a - apply this and all remaining changes"), "help text:\n{help}");
    assert!(help.contains("q - quit"), "{help}");
    p.send_line("y").unwrap();
    expect_review(&mut p, "b_driver");
    p.send_line("n").unwrap();
    expect_review(&mut p, "c_driver");
    p.send_line("a").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains(PROMPT), "asked again after `a`:\n{rest}");
    assert!(rest.contains("Fixed 4 violations in 4 files"), "{rest}");
    assert!(rest.contains("Rejected in review (1)"), "{rest}");
    assert!(rest.contains(&format!("{L6}/b_driver.py:3:5")), "{rest}");
    assert_eq!(state(dir.path()), [true, false, true, true, true]);
}

#[test]
fn quit_first_writes_nothing() {
    let dir = project();
    let before = tree_bytes(dir.path());
    let mut p = spawn(dir.path());
    expect_review(&mut p, "a_driver");
    p.send_line("q").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains(PROMPT), "asked again after `q`:\n{rest}");
    assert!(rest.contains("Fixed 0 violations in 0 files"), "{rest}");
    assert_eq!(tree_bytes(dir.path()), before, "`q` first must write nothing");
    assert_eq!(state(dir.path()), [false; 5]);
}

#[test]
fn yes_then_quit_keeps_only_the_accepted_change() {
    let dir = project();
    let mut p = spawn(dir.path());
    expect_review(&mut p, "a_driver");
    p.send_line("y").unwrap();
    expect_review(&mut p, "b_driver");
    p.send_line("n").unwrap();
    expect_review(&mut p, "c_driver");
    p.send_line("q").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("Fixed 1 violation in 1 file"), "{rest}");
    assert_eq!(state(dir.path()), [true, false, false, false, false]);
}

#[test]
fn interactive_without_a_terminal_exits_two() {
    let dir = project();
    let before = tree_bytes(dir.path());
    strata(dir.path())
        .args(["fix", "--interactive"])
        .write_stdin("y\ny\ny\ny\ny\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--interactive needs a terminal"));
    assert_eq!(tree_bytes(dir.path()), before);
    let (code, _, stderr) = run(dir.path(), &["fix", "-i"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn interactive_and_dry_run_conflict() {
    let dir = project();
    let (code, _, stderr) = run(dir.path(), &["fix", "--interactive", "--dry-run"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--dry-run") || stderr.contains("--interactive"), "{stderr}");
}
