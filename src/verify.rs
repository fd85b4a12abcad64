//! Verification: the project's own test command run on trees of a migration (temporary copies,
//! never the user's checkout), and the change sets that break it found by bisection and dropped
//! together with the change sets that depend on them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::engine::Project;
use crate::fix::Contents;
use crate::git::Repo;
use crate::migrate::{Checkout, MigrateError, Plan};

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error(
        "the verify command fails on the base commit itself ({}), so it cannot judge the migration; \
         make it pass on the base first\n{}",
        .0.test,
        .0.tail
    )]
    BaseFails(Failure),
    #[error("cannot prepare a tree to verify in: {0}")]
    Tree(std::io::Error),
    #[error("cannot run the verify command `{command}`: {error}")]
    Spawn { command: String, error: std::io::Error },
    #[error(transparent)]
    Migrate(#[from] MigrateError),
}

/// Why a run of the command failed: the failing test (or the exit status) and its output's last lines.
#[derive(Debug, Clone)]
pub struct Failure {
    pub test: String,
    pub tail: String,
}

/// A change set dropped because the command fails with it.
#[derive(Debug, Clone)]
pub struct Dropped {
    /// The change set bisection found (1-based id).
    pub culprit: usize,
    /// The change sets dropped with it because they depend on it.
    pub with: BTreeSet<usize>,
    pub failure: Failure,
}

/// What verification found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Runs of the command, the base's included.
    pub runs: usize,
    pub dropped: Vec<Dropped>,
    /// The command failed on a tree and passed on a rerun of the same tree: nothing was dropped,
    /// and the change sets not yet verified stay unverified.
    pub flaky: Option<Failure>,
    /// The commands passes on the kept change sets.
    pub verified: bool,
}

/// Runs the test command on trees: the base commit with some change sets' files written over it.
pub struct Verifier<'r> {
    pub repo: &'r Repo,
    pub base: git2::Oid,
    /// The project root's path from the repository's top (`""` or `dir/`).
    pub prefix: String,
    /// Where the command runs, from the repository's top (the user's working directory there).
    pub workdir: PathBuf,
    pub command: String,
    pub timeout: Duration,
    pub jobs: usize,
    runs: AtomicUsize,
    /// Called after each run with the number of runs so far (a progress line).
    pub on_run: Box<dyn Fn(usize) + 'r>,
}

impl<'r> Verifier<'r> {
    pub fn new(repo: &'r Repo, base: git2::Oid, prefix: String, workdir: PathBuf, command: String) -> Self {
        Verifier {
            repo,
            base,
            prefix,
            workdir,
            command,
            timeout: Duration::from_secs(600),
            jobs: 1,
            runs: AtomicUsize::new(0),
            on_run: Box::new(|_| {}),
        }
    }

    /// The base with `contents` (paths from the project root) written over it.
    fn tree(&self, contents: &Contents) -> Result<Checkout, VerifyError> {
        let tree = Checkout::at(self.repo, self.base)?;
        for (path, text) in contents {
            let target = tree.path().join(&self.prefix).join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(VerifyError::Tree)?;
            }
            std::fs::write(&target, text).map_err(VerifyError::Tree)?;
        }
        Ok(tree)
    }

    /// Runs the command on the base with `contents` written over it.
    fn run(&self, contents: &Contents) -> Result<Option<Failure>, VerifyError> {
        Ok(self.run_all(std::slice::from_ref(contents))?.remove(0))
    }

    /// Runs the command on several trees, `jobs` at a time, in order of the input. The trees are
    /// written here (git's handle stays on this thread); only the commands run in parallel.
    fn run_all(&self, trees: &[Contents]) -> Result<Vec<Option<Failure>>, VerifyError> {
        let mut out = Vec::new();
        for chunk in trees.chunks(self.jobs.max(1)) {
            let dirs = chunk.iter().map(|contents| self.tree(contents)).collect::<Result<Vec<_>, _>>()?;
            let (command, workdir, timeout) = (&self.command, &self.workdir, self.timeout);
            let results: Vec<Result<Option<Failure>, VerifyError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = dirs
                    .iter()
                    .map(|dir| scope.spawn(move || run_command(command, &dir.path().join(workdir), timeout)))
                    .collect();
                handles.into_iter().map(|h| h.join().expect("a verify run does not panic")).collect()
            });
            for result in results {
                out.push(result?);
                let runs = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
                (self.on_run)(runs);
            }
        }
        Ok(out)
    }

    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

/// Verifies `plan` with the command: the base must pass; while the kept change sets fail (twice:
/// a command that passes on a rerun is flaky), the first failing prefix of them (in application
/// order, which keeps every change set's dependencies before it) is found by bisection, rerun to
/// rule out a flaky command, and its last change set dropped with its dependents. One culprit
/// among n costs about log2(n) + 5 runs (`jobs` > 1 probes several prefixes per round).
pub fn verify(
    plan: &mut Plan,
    project: &Project,
    paths: &[PathBuf],
    verifier: &Verifier,
) -> Result<Outcome, VerifyError> {
    let mut outcome = Outcome::default();
    if let Some(failure) = verifier.run(&Contents::new())? {
        return Err(VerifyError::BaseFails(failure));
    }
    loop {
        let kept = plan.kept();
        let Some(full_failure) = verifier.run(&plan.contents)? else {
            outcome.verified = true;
            break;
        };
        // A command that passes on a rerun of the tree it failed on is flaky: it never drops anything.
        if verifier.run(&plan.contents)?.is_none() {
            outcome.flaky = Some(full_failure);
            break;
        }
        // prefix(lo) passes (the base, at first), prefix(hi) fails.
        let (mut lo, mut hi, mut failure) = (0, kept.len(), full_failure);
        while hi - lo > 1 {
            let probes = probe_points(lo, hi, verifier.jobs);
            let trees = probes
                .iter()
                .map(|&k| plan.contents_with(&kept[..k].iter().copied().collect()))
                .collect::<Result<Vec<_>, _>>()?;
            for (k, result) in probes.iter().zip(verifier.run_all(&trees)?) {
                match result {
                    None => lo = *k,
                    Some(f) => {
                        hi = *k;
                        failure = f;
                        break;
                    }
                }
            }
        }
        let culprit = kept[hi - 1];
        // The same for the prefix that decides the culprit.
        let again = plan.contents_with(&kept[..hi].iter().copied().collect())?;
        if verifier.run(&again)?.is_none() {
            outcome.flaky = Some(failure);
            break;
        }
        let with: BTreeSet<usize> = plan.dependents_of(culprit).into_iter().filter(|id| kept.contains(id)).collect();
        plan.without(project, paths, &BTreeSet::from([culprit]))?;
        outcome.dropped.push(Dropped { culprit, with, failure });
    }
    outcome.runs = verifier.runs();
    Ok(outcome)
}

/// Up to `jobs` prefix lengths strictly between `lo` and `hi`, evenly spread (the midpoint for one job).
fn probe_points(lo: usize, hi: usize, jobs: usize) -> Vec<usize> {
    let gaps = (hi - lo - 1).min(jobs.max(1));
    let mut points: Vec<usize> = (1..=gaps).map(|i| lo + (hi - lo) * i / (gaps + 1)).collect();
    points.dedup();
    points.retain(|&k| k > lo && k < hi);
    points
}

/// Runs `command` with `sh -c` in `dir`; `None` when it exits 0. A run longer than `timeout` is
/// killed (its whole process group) and fails.
fn run_command(command: &str, dir: &Path, timeout: Duration) -> Result<Option<Failure>, VerifyError> {
    use std::os::unix::process::CommandExt;
    let output_file = tempfile::tempfile().map_err(VerifyError::Tree)?;
    let spawn_error = |error| VerifyError::Spawn { command: command.to_string(), error };
    let mut child = Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(output_file.try_clone().map_err(VerifyError::Tree)?)
        .stderr(output_file.try_clone().map_err(VerifyError::Tree)?)
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(spawn_error)? {
            break Some(status);
        }
        if started.elapsed() > timeout {
            // The command's children (pytest under sh) are in its process group.
            let group = i32::try_from(child.id()).unwrap_or(i32::MAX);
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let mut output = String::new();
    {
        use std::io::{Read, Seek};
        let mut file = output_file;
        let _ = file.seek(std::io::SeekFrom::Start(0));
        let mut bytes = Vec::new();
        let _ = file.read_to_end(&mut bytes);
        output.push_str(&String::from_utf8_lossy(&bytes));
    }
    let tail = output.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    match status {
        Some(status) if status.success() => Ok(None),
        Some(status) => Ok(Some(Failure { test: failing_test(&output).unwrap_or_else(|| status.to_string()), tail })),
        None => Ok(Some(Failure { test: format!("timed out after {} s", timeout.as_secs()), tail })),
    }
}

/// The first failing test a runner names: pytest's `FAILED path::test`, unittest's `FAIL: test`.
fn failing_test(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let line = line.trim();
        let rest = line
            .strip_prefix("FAILED ")
            .or_else(|| line.strip_prefix("FAIL: "))
            .or_else(|| line.strip_prefix("ERROR: "))?;
        rest.split(" - ").next().map(|t| t.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_split_the_range_between_a_pass_and_a_failure() {
        assert_eq!(probe_points(0, 8, 1), vec![4]);
        assert_eq!(probe_points(0, 2, 1), vec![1]);
        assert_eq!(probe_points(4, 8, 3), vec![5, 6, 7]);
        assert_eq!(probe_points(0, 30, 2), vec![10, 20]);
        assert!(probe_points(3, 4, 4).is_empty());
    }

    #[test]
    fn the_failing_test_is_named_from_pytest_or_unittest_output() {
        let pytest =
            "....F\n=== short test summary info ===\nFAILED tests/test_orders.py::test_get - assert 2 == 1\n1 failed";
        assert_eq!(failing_test(pytest).as_deref(), Some("tests/test_orders.py::test_get"));
        assert_eq!(failing_test("FAIL: test_get (tests.OrdersTest)\n").as_deref(), Some("test_get (tests.OrdersTest)"));
        assert_eq!(failing_test("Traceback\nboom\n"), None);
    }

    #[test]
    fn a_command_that_overruns_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let failure = run_command("sleep 30 & echo $! > child.pid; sleep 30", dir.path(), Duration::from_millis(300))
            .unwrap()
            .expect("a timeout is a failure");
        assert!(failure.test.starts_with("timed out after"), "{failure:?}");
        let pid = std::fs::read_to_string(dir.path().join("child.pid")).unwrap();
        // The background child was killed too: gone, or a zombie waiting for init to reap it (the
        // kernel may take a moment to finish a killed process on a loaded machine).
        let dead = || {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
            stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z")
        };
        let mut tries = 0;
        while !dead() && tries < 100 {
            std::thread::sleep(Duration::from_millis(50));
            tries += 1;
        }
        assert!(dead(), "the command's background child survived the timeout");
        let passed = run_command("echo ok", dir.path(), Duration::from_secs(10)).unwrap();
        assert!(passed.is_none());
        let failed = run_command("echo 'FAILED t.py::x - no'; exit 3", dir.path(), Duration::from_secs(10)).unwrap();
        assert_eq!(failed.unwrap().test, "t.py::x");
    }
}
