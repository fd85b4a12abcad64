//! `strata migrate` end to end on temporary git repositories (with a local bare remote): the
//! working tree, index and HEAD stay as they were, the branch holds what `fix` writes, and
//! `--update`, foreign commits and the push lease behave as the user needs.

mod common;

use std::path::Path;

use common::{copy_dir, git, git_commit_all, python, run, sample_app, tree_bytes};

const BOT: &str = "Strata Bot <bot@example.com>";

/// A repository holding the sample backend, everything committed on `main`.
fn sample_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_app(), dir.path());
    git_commit_all(dir.path());
    dir
}

/// The sample repository with a local bare remote `origin` that has its `main`.
fn sample_repo_with_remote() -> (tempfile::TempDir, tempfile::TempDir) {
    let repo = sample_repo();
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), &["init", "-q", "--bare"]);
    git(repo.path(), &["remote", "add", "origin", remote.path().to_str().unwrap()]);
    git(repo.path(), &["push", "-q", "origin", "main"]);
    (repo, remote)
}

/// The files of a commit, as a checkout would write them.
fn files_of(repo: &Path, rev: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().unwrap();
    let archive = std::process::Command::new("git")
        .current_dir(repo)
        .args(["archive", "--format=tar", rev])
        .output()
        .expect("git runs");
    assert!(archive.status.success(), "git archive {rev} failed");
    let mut tar = std::process::Command::new("tar")
        .current_dir(out.path())
        .args(["-x", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("tar runs");
    std::io::Write::write_all(tar.stdin.as_mut().unwrap(), &archive.stdout).unwrap();
    assert!(tar.wait().unwrap().success());
    tree_bytes(out.path())
}

/// Everything a user's checkout is: the files, the index and HEAD, byte for byte.
fn checkout_state(repo: &Path) -> (std::collections::BTreeMap<String, Vec<u8>>, Vec<u8>, Vec<u8>, String) {
    let index = std::fs::read(repo.join(".git/index")).unwrap();
    let head = std::fs::read(repo.join(".git/HEAD")).unwrap();
    (tree_bytes(repo), index, head, git(repo, &["rev-parse", "HEAD"]))
}

fn subjects(repo: &Path, range: &str) -> Vec<String> {
    git(repo, &["log", "--format=%s", range]).lines().map(String::from).collect()
}

#[test]
fn migrate_leaves_the_checkout_alone_and_its_branch_is_what_fix_writes() {
    let repo = sample_repo();
    let root = repo.path();
    let base = git(root, &["rev-parse", "HEAD"]).trim().to_string();
    // Uncommitted work of every kind: a modified file strata rewrites, a staged new file, an untracked one.
    let endpoint = "backend/app/hoc/api/cus/catalog/widgets.py";
    let mut text = common::read(root, endpoint);
    text.push_str("\n# work in progress\n");
    common::write(root, endpoint, &text);
    common::write(root, "staged.txt", "staged\n");
    git(root, &["add", "staged.txt"]);
    common::write(root, "notes/untracked.md", "mine\n");
    let before = checkout_state(root);

    let (code, _, stderr) = run(root, &["migrate", "--branch", "strata/layers", "--author", BOT]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(checkout_state(root), before, "migrate changed the working tree, the index or HEAD");

    let subjects = subjects(root, "main..strata/layers");
    assert!(!subjects.is_empty());
    assert!(subjects.iter().all(|s| s.starts_with("strata: fix ")), "{subjects:?}");
    let authors = git(root, &["log", "--format=%an <%ae>|%cn <%ce>", "main..strata/layers"]);
    assert!(authors.lines().all(|l| l == format!("{BOT}|{BOT}")), "{authors}");
    let bodies = git(root, &["log", "--format=%B", "main..strata/layers"]);
    assert_eq!(bodies.matches(&format!("Strata-Base: {base}")).count(), subjects.len());
    assert!(stderr.contains(&format!("branch `strata/layers`: {} commits", subjects.len())), "{stderr}");

    // `git diff base..B` is what `fix` writes to a clean copy of the base.
    let copy = tempfile::tempdir().unwrap();
    git(copy.path(), &["clone", "-q", root.to_str().unwrap(), "."]);
    let (code, _, stderr) = run(copy.path(), &["fix"]);
    assert!(code <= 1, "{stderr}");
    let fixed = tree_bytes(copy.path());
    let branch = files_of(root, "strata/layers");
    assert_eq!(branch.keys().collect::<Vec<_>>(), fixed.keys().collect::<Vec<_>>());
    for (path, bytes) in &fixed {
        assert!(branch[path] == *bytes, "{path} differs between the branch and fix");
    }
    assert_ne!(files_of(root, "main"), branch, "the migration changed nothing");

    // The branch's code runs: the sample app's own suite passes on it.
    let out = tempfile::tempdir().unwrap();
    for (path, bytes) in &branch {
        common::write(out.path(), path, bytes);
    }
    let suite = std::process::Command::new(python())
        .current_dir(out.path().join("backend"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(suite.status.success(), "the suite fails on the branch:\n{}", String::from_utf8_lossy(&suite.stdout));
}

#[test]
fn commits_per_change_set_or_all_hold_the_same_tree() {
    let repo = sample_repo();
    let root = repo.path();
    for (branch, per) in [("per-recipe", "recipe"), ("per-set", "change-set"), ("one", "all")] {
        let (code, _, stderr) =
            run(root, &["migrate", "--branch", branch, "--commit-per", per, "--author", BOT, "--quiet"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.is_empty(), "--quiet printed: {stderr}");
    }
    let tree = |b: &str| git(root, &["rev-parse", &format!("{b}^{{tree}}")]);
    assert_eq!(tree("per-recipe"), tree("per-set"));
    assert_eq!(tree("per-recipe"), tree("one"));
    assert_eq!(subjects(root, "main..one").len(), 1);
    let per_set = subjects(root, "main..per-set");
    assert!(per_set.iter().all(|s| s.ends_with("(1 change set)")), "{per_set:?}");
    let per_recipe = subjects(root, "main..per-recipe");
    assert!(per_recipe.len() < per_set.len(), "{per_recipe:?}");
    // Every change set is in exactly one commit per cut: the per-recipe counts add up.
    let counted: usize = per_recipe
        .iter()
        .map(|s| s.rsplit_once('(').unwrap().1.split(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(counted, per_set.len());
    // Each commit of a per-change-set branch is a state Python can compile.
    let ids = git(root, &["rev-list", "main..per-set"]);
    for id in ids.lines().take(5) {
        let out = tempfile::tempdir().unwrap();
        for (path, bytes) in files_of(root, id) {
            common::write(out.path(), &path, bytes);
        }
        let compiled = std::process::Command::new(python())
            .args(["-m", "compileall", "-q", out.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(compiled.status.success(), "commit {id} does not compile");
    }
}

#[test]
fn the_report_goes_in_the_last_commit_or_in_the_files_asked_for() {
    let repo = sample_repo();
    let root = repo.path();
    let (code, _, stderr) = run(root, &["migrate", "--branch", "in-body", "--author", BOT, "--quiet"]);
    assert_eq!(code, 0, "{stderr}");
    let last = git(root, &["log", "-1", "--format=%B", "in-body"]);
    assert!(last.contains("Violations per rule"), "the last commit's body has no report:\n{last}");

    let files = tempfile::tempdir().unwrap();
    let report = files.path().join("report.md");
    let body = files.path().join("body.md");
    let (code, _, stderr) = run(
        root,
        &[
            "migrate",
            "--branch",
            "in-file",
            "--author",
            BOT,
            "--quiet",
            "--report",
            report.to_str().unwrap(),
            "--pr-body-file",
            body.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(written.contains("Violations per rule") && written.contains("Change sets"), "{written}");
    assert_eq!(std::fs::read_to_string(&body).unwrap(), written, "the PR body is the report");
    let head = git(root, &["rev-parse", "in-file"]);
    assert!(written.contains(&head[..10]), "the report names the branch's head {head}:\n{written}");
    let bodies = git(root, &["log", "--format=%B", "main..in-file"]);
    assert!(!bodies.contains("Violations per rule"), "--report FILE still put the report in a commit");
    assert_eq!(git(root, &["rev-parse", "in-file^{tree}"]), git(root, &["rev-parse", "in-body^{tree}"]));

    // A run that fails writes neither file.
    let (_, _, _) = (std::fs::remove_file(&report), std::fs::remove_file(&body), ());
    let (code, _, stderr) =
        run(root, &["migrate", "--branch", "in-file", "--quiet", "--report", report.to_str().unwrap()]);
    assert_eq!(code, 2, "an existing branch without --update is an error: {stderr}");
    assert!(!report.exists(), "a refused run wrote its report");
}

#[test]
fn an_existing_branch_is_rebuilt_only_with_update_and_never_over_foreign_commits() {
    let repo = sample_repo();
    let root = repo.path();
    let migrate = |extra: &[&str]| {
        let mut args = vec!["migrate", "--branch", "strata/layers", "--author", BOT];
        args.extend(extra);
        run(root, &args)
    };
    assert_eq!(migrate(&[]).0, 0);
    let first = git(root, &["rev-parse", "strata/layers"]);

    let (code, _, stderr) = migrate(&[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("branch `strata/layers` exists; pass --update"), "{stderr}");

    // Nothing new on the base: the branch stays as it is.
    let (code, _, stderr) = migrate(&["--update"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("is up to date"), "{stderr}");
    assert_eq!(git(root, &["rev-parse", "strata/layers"]), first);

    // A new base commit: the branch is rebuilt on it.
    common::write(root, "CHANGES.md", "a change on main\n");
    git(root, &["add", "CHANGES.md"]);
    git(root, &["commit", "-q", "-m", "a change on main"]);
    let new_base = git(root, &["rev-parse", "HEAD"]).trim().to_string();
    let (code, _, stderr) = migrate(&["--update"]);
    assert_eq!(code, 0, "{stderr}");
    git(root, &["merge-base", "--is-ancestor", "main", "strata/layers"]);
    let last = git(root, &["log", "-1", "--format=%B", "strata/layers"]);
    assert!(last.contains(&format!("Strata-Base: {new_base}")), "{last}");
    assert!(files_of(root, "strata/layers").contains_key("CHANGES.md"));

    // Someone adds a commit of their own to the branch: --update refuses to drop it.
    let other = tempfile::tempdir().unwrap();
    git(root, &["worktree", "add", "-q", other.path().to_str().unwrap(), "strata/layers"]);
    common::write(other.path(), "REVIEW.md", "a reviewer's note\n");
    git(other.path(), &["add", "REVIEW.md"]);
    git(other.path(), &["commit", "-q", "-m", "review notes"]);
    git(root, &["worktree", "remove", "--force", other.path().to_str().unwrap()]);
    let theirs = git(root, &["rev-parse", "strata/layers"]);
    let (code, _, stderr) = migrate(&["--update"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("has commits strata did not write") && stderr.contains("review notes"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(git(root, &["rev-parse", "strata/layers"]), theirs, "a refused update moved the branch");

    let (code, _, stderr) = migrate(&["--update", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!subjects(root, "main..strata/layers").contains(&"review notes".to_string()));
}

#[test]
fn push_goes_to_the_remote_with_a_lease() {
    let (repo, remote) = sample_repo_with_remote();
    let root = repo.path();

    let (code, _, stderr) = run(root, &["migrate", "--branch", "strata/layers", "--author", BOT, "--push", "origin"]);
    assert_eq!(code, 0, "{stderr}");
    let local = git(root, &["rev-parse", "strata/layers"]);
    assert_eq!(git(remote.path(), &["rev-parse", "strata/layers"]), local);
    assert_eq!(git(root, &["rev-parse", "origin/strata/layers"]), local, "the remote-tracking branch follows the push");
    assert!(stderr.contains("pushed `strata/layers` to origin"), "{stderr}");

    // Someone else pushes to the branch; this clone has not seen it.
    let other = tempfile::tempdir().unwrap();
    git(other.path(), &["clone", "-q", "-b", "strata/layers", remote.path().to_str().unwrap(), "."]);
    common::write(other.path(), "THEIRS.md", "pushed by someone else\n");
    git(other.path(), &["add", "THEIRS.md"]);
    git(other.path(), &["commit", "-q", "-m", "someone else's commit"]);
    git(other.path(), &["push", "-q", "origin", "strata/layers"]);
    let theirs = git(remote.path(), &["rev-parse", "strata/layers"]);

    common::write(root, "CHANGES.md", "a change on main\n");
    git(root, &["add", "CHANGES.md"]);
    git(root, &["commit", "-q", "-m", "a change on main"]);
    let (code, _, stderr) =
        run(root, &["migrate", "--branch", "strata/layers", "--update", "--author", BOT, "--push", "origin"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("someone else moved it, and it was not overwritten"), "{stderr}");
    assert_eq!(git(remote.path(), &["rev-parse", "strata/layers"]), theirs, "the lease did not hold");

    // After looking at it (fetch), the user may overwrite it on purpose.
    let (code, _, stderr) = run(
        root,
        &["migrate", "--branch", "strata/layers", "--update", "--author", BOT, "--push", "origin", "--force"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(git(remote.path(), &["rev-parse", "strata/layers"]), git(root, &["rev-parse", "strata/layers"]));
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let repo = sample_repo();
    let root = repo.path();
    let refs_before = git(root, &["for-each-ref"]);
    let (code, _, stderr) = run(root, &["migrate", "--branch", "b", "--base", "no-such-ref", "--author", BOT]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`no-such-ref` does not name a commit"), "{stderr}");
    let (code, _, stderr) = run(root, &["migrate", "--branch", "b", "--author", "nobody"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--author must look like \"Name <email>\""), "{stderr}");
    let (code, _, stderr) = run(root, &["migrate", "--branch", "b", "--author", BOT, "--push", "nowhere"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no remote named `nowhere`"), "{stderr}");
    // A push that fails leaves the branch written locally (the work is not lost), and nothing else.
    assert_eq!(git(root, &["for-each-ref"]).lines().count(), refs_before.lines().count() + 1);
    let outside = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(outside.path(), &["migrate", "--branch", "b"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not inside a git repository"), "{stderr}");
}

#[test]
fn quiet_says_nothing_and_verbose_tells_each_pass() {
    let repo = sample_repo();
    let root = repo.path();
    let (code, stdout, stderr) = run(root, &["-q", "fix", "--dry-run"]);
    assert_eq!(code, 1);
    assert!(stderr.is_empty(), "--quiet printed: {stderr}");
    assert!(stdout.contains("+++ b/"), "the diffs still go to stdout");
    let (_, _, stderr) = run(root, &["fix", "--dry-run", "-v"]);
    assert!(stderr.contains("pass 1: ") && stderr.contains("  applied l2-db-execute at "), "{stderr}");
    let (code, _, stderr) = run(root, &["-q", "-v", "check"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn a_bot_in_a_fresh_clone_keeps_an_unchanged_branch_and_never_pushes_over_someone_s_commits() {
    let (repo, remote) = sample_repo_with_remote();
    let root = repo.path();
    let bot = |dir: &Path, extra: &[&str]| {
        let mut args =
            vec!["migrate", "--base", "origin/main", "--branch", "strata/layers", "--author", BOT, "--push", "origin"];
        args.extend(extra);
        run(dir, &args)
    };
    assert_eq!(bot(root, &[]).0, 0);
    let first = git(remote.path(), &["rev-parse", "strata/layers"]);

    // A new CI run: a fresh clone with every branch fetched and no local strata/layers.
    let clone = tempfile::tempdir().unwrap();
    git(clone.path(), &["clone", "-q", remote.path().to_str().unwrap(), "."]);
    let (code, _, stderr) = bot(clone.path(), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("branch `strata/layers` exists on origin; pass --update"), "{stderr}");
    let (code, stdout, stderr) = bot(clone.path(), &["--update", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let summary = common::json(&stdout);
    assert_eq!(summary["updated"], false, "{summary}");
    assert_eq!(summary["pushed"], false, "{summary}");
    assert_eq!(git(remote.path(), &["rev-parse", "strata/layers"]), first, "an unchanged branch was rewritten");

    // Someone pushes a commit of their own to the branch; the next run leaves it alone.
    git(clone.path(), &["checkout", "-q", "strata/layers"]);
    common::write(clone.path(), "REVIEW.md", "a reviewer's note\n");
    git(clone.path(), &["add", "REVIEW.md"]);
    git(clone.path(), &["commit", "-q", "-m", "review notes"]);
    git(clone.path(), &["push", "-q", "origin", "strata/layers"]);
    let theirs = git(remote.path(), &["rev-parse", "strata/layers"]);
    let next = tempfile::tempdir().unwrap();
    git(next.path(), &["clone", "-q", remote.path().to_str().unwrap(), "."]);
    let (code, _, stderr) = bot(next.path(), &["--update"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("review notes") && stderr.contains("it was left alone"), "{stderr}");
    assert_eq!(git(remote.path(), &["rev-parse", "strata/layers"]), theirs);
}
