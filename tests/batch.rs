//! `strata batch` over local repositories (one cloned from a bare remote by URL, one broken):
//! the summary, a failure that does not stop the others, and shards that add up to the whole.

mod common;

use std::path::Path;

use common::{copy_dir, git, git_commit_all, json, run, sample_app};

/// Four repositories under `dir`: alpha and beta (local), gamma (a bare remote, by URL), and
/// delta, whose configuration is broken.
fn repositories(dir: &Path) -> String {
    for name in ["alpha", "beta", "gamma-src"] {
        copy_dir(&sample_app(), &dir.join(name));
        git_commit_all(&dir.join(name));
    }
    let bare = dir.join("gamma.git");
    git(dir, &["clone", "-q", "--bare", "gamma-src", bare.to_str().unwrap()]);
    let delta = dir.join("delta");
    std::fs::create_dir_all(&delta).unwrap();
    std::fs::write(delta.join("strata.toml"), "layers = 3\n").unwrap();
    git_commit_all(&delta);
    format!(
        "[defaults]\nbranch = \"strata/layers\"\nauthor = \"Strata Bot <bot@example.com>\"\n\n\
         [[repo]]\npath = \"alpha\"\n\n[[repo]]\npath = \"beta\"\nselect = [\"l2\"]\n\n\
         [[repo]]\nname = \"gamma\"\nurl = \"file://{}\"\npush = \"origin\"\n\n[[repo]]\npath = \"delta\"\n",
        bare.display()
    )
}

fn batch(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["batch", "batch.toml", "--json"];
    args.extend(extra);
    let (code, stdout, stderr) = run(dir, &args);
    assert!(stderr.is_empty() || stderr.contains("failed"), "{stderr}");
    (code, json(&stdout))
}

/// What a repository's result says, without the commit ids (their dates differ between runs).
fn essentials(outcome: &serde_json::Value) -> String {
    let m = &outcome["migration"];
    format!(
        "{} ok={} commits={} change_sets={} manual={} remaining={} pushed={}",
        outcome["name"], outcome["ok"], m["commits"], m["change_sets"], m["manual"], m["remaining"], m["pushed"]
    )
}

#[test]
fn a_batch_reports_every_repository_and_goes_on_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = repositories(dir.path());
    std::fs::write(dir.path().join("batch.toml"), &manifest).unwrap();

    let (code, stdout, stderr) = run(dir.path(), &["batch", "batch.toml"]);
    assert_eq!(code, 1, "a failed repository must fail the batch: {stderr}");
    assert!(stderr.contains("1 of 4 repositories failed"), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("repository") && lines[0].contains("change sets"), "{stdout}");
    for (name, result) in [("alpha", "ok"), ("beta", "ok"), ("gamma", "pushed"), ("delta", "FAILED")] {
        let row = lines.iter().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"));
        assert!(row.split_whitespace().nth(1) == Some(result), "{row}");
    }
    assert!(stdout.contains("delta failed:") && stdout.contains("strata.toml"), "{stdout}");

    // The local repositories have the branch; gamma's clone pushed it to its remote.
    git(&dir.path().join("alpha"), &["rev-parse", "--verify", "strata/layers"]);
    git(&dir.path().join("beta"), &["rev-parse", "--verify", "strata/layers"]);
    git(&dir.path().join("gamma.git"), &["rev-parse", "--verify", "strata/layers"]);
    // beta's selection reached its migration: only l2 rules' commits.
    let subjects = git(&dir.path().join("beta"), &["log", "--format=%s", "main..strata/layers"]);
    assert!(subjects.lines().all(|s| s.starts_with("strata: fix l2-")), "{subjects}");
}

#[test]
fn the_shards_of_a_batch_add_up_to_the_whole() {
    let whole = tempfile::tempdir().unwrap();
    std::fs::write(whole.path().join("batch.toml"), repositories(whole.path())).unwrap();
    let (code, all) = batch(whole.path(), &[]);
    assert_eq!(code, 1);
    let mut expected: Vec<String> = all.as_array().unwrap().iter().map(essentials).collect();
    expected.sort();

    let split = tempfile::tempdir().unwrap();
    std::fs::write(split.path().join("batch.toml"), repositories(split.path())).unwrap();
    let mut union: Vec<String> = Vec::new();
    let mut sizes = Vec::new();
    for shard in ["1/2", "2/2"] {
        let (_, part) = batch(split.path(), &["--shard", shard, "--jobs", "1"]);
        sizes.push(part.as_array().unwrap().len());
        union.extend(part.as_array().unwrap().iter().map(essentials));
    }
    union.sort();
    assert_eq!(union, expected);
    assert_eq!(sizes.iter().sum::<usize>(), 4);
    assert!(sizes.iter().all(|&n| n > 0), "a shard was empty: {sizes:?}");

    let (code, _, stderr) = run(split.path(), &["batch", "batch.toml", "--shard", "3/2"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--shard wants I/N"), "{stderr}");
}
