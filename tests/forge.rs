//! The pull-request client (`strata::forge`) against `tests/github_server.py`: a loopback server that
//! holds every request and every answer to GitHub's published OpenAPI description (the version
//! tests/openapi.lock pins, which scripts/test downloads). Each test seeds the server's pull
//! requests, runs the client, and asserts on the outcome and on the server's record of requests,
//! which must hold no violation of the description.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use strata::forge::{Forge, ForgeError, PrOutcome, Token};
use tempfile::TempDir;

const TOKEN: &str = "ghp_forgeTestT0ken1234567890abcdefABCDEF";
const OWNER: &str = "octo-org";
const REPO: &str = "backend";
const HEAD: &str = "strata/migrate-l6-sessions";
const BASE: &str = "main";
const TITLE: &str = "strata: move database access into L6 drivers";
const BODY: &str = "Migrated by `strata migrate`.\n\n| rule | sites |\n|---|---|\n| HOC-L2-DB | 3 |\n";

/// The commits strata writes carry this trailer (the tests' stand-in for what `migrate` writes).
fn is_own(message: &str) -> bool {
    message.lines().any(|line| line == "Generated-by: strata")
}

fn own(subject: &str) -> String {
    format!("{subject}\n\nGenerated-by: strata")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The OpenAPI description scripts/test cached, at the version tests/openapi.lock pins.
fn description() -> (PathBuf, String) {
    let lock = std::fs::read_to_string(root().join("tests/openapi.lock")).unwrap();
    let version = lock.lines().find_map(|l| l.strip_prefix("version ")).expect("tests/openapi.lock has a version");
    let path = root().join(".cache/openapi").join(version).join("api.github.com.json");
    assert!(
        path.is_file(),
        "{} is missing: run the tests through scripts/test, which downloads GitHub's OpenAPI description \
         (pinned in tests/openapi.lock) before `cargo test`",
        path.display()
    );
    (path, version.to_string())
}

/// The venv Python with tests/requirements.txt (jsonschema) that scripts/test exports.
fn python() -> String {
    match std::env::var("STRATA_PYTHON") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "STRATA_PYTHON is not set: run the tests through scripts/test, which prepares the venv with \
             tests/requirements.txt and exports it"
        ),
    }
}

/// The test server, on an OS-assigned port of 127.0.0.1. It stops when its stdin closes, so a
/// failed test cannot leave it running; `Drop` also ends it.
struct Server {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Server {
    /// Starts the server with `scenario` merged over the default state (the token, the repository,
    /// and the pushed branch with two commits of strata's).
    fn start(scenario: Value) -> Server {
        let mut state = json!({
            "token": TOKEN,
            "owner": OWNER,
            "repo": REPO,
            "branches": { HEAD: [own("Extract the order queries into OrderDriver"), own("Inject sessions")] },
        });
        for (key, value) in scenario.as_object().unwrap() {
            state[key] = value.clone();
        }
        let (spec, version) = description();
        let dir = tempfile::tempdir().unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let mut child = Command::new(python())
            .arg(root().join("tests/github_server.py"))
            .args(["--spec".as_ref(), spec.as_os_str()])
            .args(["--version", &version, "--state", &state.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the test server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(port) = line.trim().strip_prefix("listening on ").and_then(|p| p.parse().ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
            panic!("the test server did not start (it printed {line:?}):\n{stderr}");
        };
        Server { child, port, dir }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn forge(&self) -> Forge {
        Forge::new(&self.url(), OWNER, REPO, Token::new(TOKEN))
    }

    fn open(&self) -> Result<PrOutcome, ForgeError> {
        self.forge().open_or_update(HEAD, BASE, TITLE, BODY, &is_own)
    }

    /// The server's record (requests, violations, pull requests), after asserting that it holds no
    /// violation of the description and that neither it nor the server's stderr shows the token.
    fn finish(self) -> Log {
        let mut answer = ureq::get(format!("{}/__test__/log", self.url())).call().expect("the log is served");
        let text = answer.body_mut().read_to_string().unwrap();
        let log: Value = serde_json::from_str(&text).unwrap();
        let violations: Vec<&str> = log["violations"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(violations.is_empty(), "requests or answers that depart from GitHub's description:\n{violations:#?}");
        assert!(!text.contains(TOKEN), "the server's log shows the token:\n{text}");
        let stderr = std::fs::read_to_string(self.dir.path().join("stderr")).unwrap();
        assert!(!stderr.contains(TOKEN), "the server's stderr shows the token:\n{stderr}");
        assert!(stderr.is_empty(), "the server wrote to stderr:\n{stderr}");
        Log(log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Log(Value);

impl Log {
    fn requests(&self) -> &Vec<Value> {
        self.0["requests"].as_array().unwrap()
    }

    /// `METHOD operationId` of every request, in order.
    fn operations(&self) -> Vec<String> {
        self.requests().iter().map(|r| format!("{} {}", r["method"].as_str().unwrap(), r["operation"])).collect()
    }

    fn pulls(&self) -> &Vec<Value> {
        self.0["pulls"].as_array().unwrap()
    }
}

fn ops(list: &[&str]) -> Vec<String> {
    list.iter()
        .map(|op| {
            let (method, id) = op.split_once(' ').unwrap();
            format!("{method} \"{id}\"")
        })
        .collect()
}

/// Neither the outcome nor its Debug shows the token.
fn shown<T: std::fmt::Debug + ?Sized>(value: &T) -> String {
    let text = format!("{value:?}");
    assert!(!text.contains(TOKEN), "{text}");
    text
}

/// A pull request of `head` into `BASE` for the server's state.
fn pull(number: u64, head: &str, state: &str, title: &str, commits: Vec<String>) -> Value {
    json!({ "number": number, "head": head, "base": BASE, "state": state, "title": title, "body": "", "commits": commits })
}

/// An open pull request of strata's branch, as an earlier run left it.
fn existing(number: u64, commits: Vec<String>) -> Value {
    pull(number, HEAD, "open", "strata: an older title", commits)
}

#[test]
fn creates_the_pull_request_once() {
    let server = Server::start(json!({}));
    let outcome = server.open().unwrap();
    shown(&outcome);
    let log = server.finish();
    let url = format!("https://github.com/{OWNER}/{REPO}/pull/1");
    assert_eq!(outcome, PrOutcome::Created { number: 1, url });
    assert_eq!(log.operations(), ops(&["GET pulls/list", "POST pulls/create"]));
    let list = &log.requests()[0];
    assert_eq!(list["query"], json!({ "head": format!("{OWNER}:{HEAD}"), "state": "open", "per_page": "100" }));
    assert_eq!(list["headers"]["User-Agent"], concat!("strata/", env!("CARGO_PKG_VERSION")));
    let sent: Value = serde_json::from_str(log.requests()[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, json!({ "title": TITLE, "head": HEAD, "base": BASE, "body": BODY }));
    let [pull] = log.pulls().as_slice() else { panic!("one pull request: {:?}", log.pulls()) };
    assert_eq!(
        (&pull["title"], &pull["body"], &pull["head"], &pull["base"]),
        (&json!(TITLE), &json!(BODY), &json!(HEAD), &json!(BASE))
    );
}

#[test]
fn a_rerun_updates_the_open_one_and_creates_none() {
    let server = Server::start(json!({}));
    let forge = server.forge();
    let first = forge.open_or_update(HEAD, BASE, "strata: first title", "first body", &is_own).unwrap();
    let second = forge.open_or_update(HEAD, BASE, TITLE, BODY, &is_own).unwrap();
    shown(&[&first, &second]);
    let log = server.finish();
    let url = format!("https://github.com/{OWNER}/{REPO}/pull/1");
    assert_eq!(first, PrOutcome::Created { number: 1, url: url.clone() });
    assert_eq!(second, PrOutcome::Updated { number: 1, url });
    let again = ["GET pulls/list", "GET pulls/list-commits", "PATCH pulls/update"];
    assert_eq!(log.operations(), ops(&[&["GET pulls/list", "POST pulls/create"][..], &again].concat()));
    let sent: Value = serde_json::from_str(log.requests()[4]["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, json!({ "title": TITLE, "body": BODY }), "an update changes the title and body only");
    let [pull] = log.pulls().as_slice() else { panic!("one pull request: {:?}", log.pulls()) };
    assert_eq!((&pull["title"], &pull["body"], &pull["state"]), (&json!(TITLE), &json!(BODY), &json!("open")));
}

/// The open pull request is found among others (another branch's, a closed one of the same
/// branch), and its commits are read page by page from a GitHub Enterprise server's `/api/v3`.
#[test]
fn an_open_pull_request_of_strata_is_updated_on_github_enterprise() {
    let commits: Vec<String> = (1..=130).map(|i| own(&format!("Migration step {i}"))).collect();
    let closed = pull(3, HEAD, "closed", "old", vec!["by hand".to_string()]);
    let other = pull(5, "feature/login", "open", "Login", vec!["by hand".to_string()]);
    let server = Server::start(json!({ "prefix": "/api/v3", "pulls": [closed, other, existing(8, commits)] }));
    let forge = Forge::new(&format!("{}/api/v3/", server.url()), OWNER, REPO, Token::new(TOKEN));
    let outcome = forge.open_or_update(HEAD, BASE, TITLE, BODY, &is_own).unwrap();
    shown(&outcome);
    let log = server.finish();
    let url = format!("https://github.com/{OWNER}/{REPO}/pull/8");
    assert_eq!(outcome, PrOutcome::Updated { number: 8, url });
    let pages = ["GET pulls/list-commits", "GET pulls/list-commits"];
    assert_eq!(log.operations(), ops(&[&["GET pulls/list"][..], &pages, &["PATCH pulls/update"]].concat()));
    let page2 = &log.requests()[2];
    assert_eq!(page2["path"], "/api/v3/repos/octo-org/backend/pulls/8/commits");
    assert_eq!(page2["query"], json!({ "per_page": "100", "page": "2" }));
    let titles: Vec<&Value> = log.pulls().iter().map(|p| &p["title"]).collect();
    assert_eq!(titles, [&json!("old"), &json!("Login"), &json!(TITLE)], "only #8 changed");
}

/// A person's commit on the second page of commits: no update, and the outcome says why.
#[test]
fn a_pull_request_with_a_persons_commit_is_left_alone() {
    let mut commits: Vec<String> = (1..=110).map(|i| own(&format!("Migration step {i}"))).collect();
    commits.push("Fix the order test by hand\n\nThe driver needs the tenant too.".to_string());
    let server = Server::start(json!({ "pulls": [existing(4, commits)] }));
    let outcome = server.open().unwrap();
    shown(&outcome);
    let log = server.finish();
    let PrOutcome::LeftAlone { number: 4, url, why } = &outcome else { panic!("{outcome:?}") };
    assert_eq!(url, &format!("https://github.com/{OWNER}/{REPO}/pull/4"));
    assert!(why.contains("(\"Fix the order test by hand\") is not one strata wrote"), "{why}");
    let pages = ["GET pulls/list-commits", "GET pulls/list-commits"];
    assert_eq!(log.operations(), ops(&[&["GET pulls/list"][..], &pages].concat()), "no PATCH, no POST");
    assert_eq!(log.pulls()[0]["title"], "strata: an older title");
}

/// GitHub lists 250 commits of a pull request at most: past that strata cannot check them all.
#[test]
fn a_pull_request_with_more_commits_than_github_lists_is_left_alone() {
    let commits: Vec<String> = (1..=260).map(|i| own(&format!("Migration step {i}"))).collect();
    let server = Server::start(json!({ "pulls": [existing(2, commits)] }));
    let outcome = server.open().unwrap();
    let log = server.finish();
    let PrOutcome::LeftAlone { number: 2, why, .. } = &outcome else { panic!("{outcome:?}") };
    assert!(why.contains("250 or more commits"), "{why}");
    assert!(!log.operations().iter().any(|op| op.starts_with("PATCH")), "{:?}", log.operations());
}

#[test]
fn a_validation_error_names_the_request_status_githubs_message_and_the_retry() {
    let failed = json!({
        "message": "Validation Failed",
        "errors": [{
            "resource": "PullRequest",
            "code": "custom",
            "message": format!("No commits between {BASE} and {HEAD}"),
        }],
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        "status": "422",
    });
    let server = Server::start(json!({ "fail": { "pulls/create": { "status": 422, "body": failed } } }));
    let error = server.open().unwrap_err();
    server.finish();
    assert!(matches!(error, ForgeError::Http { status: 422, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "GitHub answered POST /repos/octo-org/backend/pulls with 422: Validation Failed \
         (No commits between main and strata/migrate-l6-sessions); \
         the branch was pushed; re-run with --pr, or open the pull request by hand"
    );
}

/// GitHub's answer to a token it refuses; a server that echoed the token would not show it either.
#[test]
fn bad_credentials_point_at_the_token_and_never_show_it() {
    let refused = json!({
        "message": format!("Bad credentials: {TOKEN}"),
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    });
    let server = Server::start(json!({ "fail": { "pulls/list": { "status": 401, "body": refused } } }));
    let forge = server.forge();
    let error = forge.open_or_update(HEAD, BASE, TITLE, BODY, &is_own).unwrap_err();
    let text = format!("{error} {error:?} {error:#?} {forge:?} {forge:#?}");
    assert!(!text.contains(TOKEN), "{text}");
    drop(forge);
    let log = server.finish();
    assert_eq!(log.operations(), ops(&["GET pulls/list"]));
    let shown = error.to_string();
    assert!(
        shown.starts_with("GitHub answered GET /repos/octo-org/backend/pulls with 401: Bad credentials: ***;"),
        "{shown}"
    );
    assert!(shown.contains("GitHub refused the token in STRATA_GITHUB_TOKEN"), "{shown}");
    assert!(shown.ends_with("re-run with --pr, or open the pull request by hand"), "{shown}");
}

#[test]
fn an_unreachable_server_is_named_in_the_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let forge = Forge::new(&format!("http://127.0.0.1:{port}"), OWNER, REPO, Token::new(TOKEN));
    let error = forge.open_or_update(HEAD, BASE, TITLE, BODY, &is_own).unwrap_err();
    let text = shown(&error);
    assert!(matches!(error, ForgeError::Connect { .. }), "{text}");
    let shown = error.to_string();
    let at = format!("cannot reach GitHub at http://127.0.0.1:{port}/repos/octo-org/backend/pulls (GET): ");
    assert!(shown.starts_with(&at), "{shown}");
    assert!(!shown.contains(TOKEN), "{shown}");
}

/// `strata migrate --push --pr` end to end: a sample repository with a local bare remote, the
/// pull request opened on the first run and updated (never duplicated) on the next, its title from
/// the `[migrate]` template and the evidence report as its body, and the token nowhere in output.
#[test]
fn migrate_pushes_the_branch_and_opens_then_updates_its_pull_request() {
    let branch = "strata/layers";
    let server = Server::start(
        json!({ "branches": { branch: [format!("strata: fix l2-db-execute\n\nStrata-Base: {}", "0".repeat(40))] } }),
    );
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    common::copy_dir(&common::sample_app(), root);
    common::git_commit_all(root);
    let remote = tempfile::tempdir().unwrap();
    common::git(remote.path(), &["init", "-q", "--bare"]);
    common::git(root, &["remote", "add", "origin", remote.path().to_str().unwrap()]);
    common::git(root, &["push", "-q", "origin", "main"]);
    let url = server.url();
    let full_name = format!("{OWNER}/{REPO}");
    let migrate = |extra: &[&str]| {
        let mut args = vec!["migrate", "--branch", branch, "--author", "Bot <bot@example.com>", "--push", "origin"];
        args.extend(["--pr", "--pr-repo", full_name.as_str(), "--api-url", url.as_str()]);
        args.extend(extra);
        let out = common::strata(root).args(&args).env("STRATA_GITHUB_TOKEN", TOKEN).output().unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "the token was shown:\n{stdout}\n{stderr}");
        (out.status.code().unwrap(), stderr)
    };
    let (code, stderr) = migrate(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("opened pull request #1: https://github.com/octo-org/backend/pull/1"), "{stderr}");
    common::write(root, "CHANGES.md", "a change on main\n");
    common::git(root, &["add", "CHANGES.md"]);
    common::git(root, &["commit", "-q", "-m", "a change on main"]);
    let (code, stderr) = migrate(&["--update"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("updated pull request #1"), "{stderr}");

    // Without a token, the branch is still pushed and the error says what to set.
    let out = common::strata(root)
        .args(["migrate", "--branch", branch, "--update", "--author", "Bot <bot@example.com>", "--push", "origin"])
        .args(["--pr", "--pr-repo", &format!("{OWNER}/{REPO}"), "--api-url", &url])
        .env_remove("STRATA_GITHUB_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("STRATA_GITHUB_TOKEN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let log = server.finish();
    let posts = log.operations().iter().filter(|o| o.starts_with("POST")).count();
    assert_eq!(posts, 1, "{:?}", log.operations());
    assert!(log.operations().contains(&"PATCH \"pulls/update\"".to_string()), "{:?}", log.operations());
    let [pull] = log.pulls().as_slice() else { panic!("one pull request: {:?}", log.pulls()) };
    assert_eq!((&pull["head"], &pull["base"]), (&json!(branch), &json!("main")));
    assert!(pull["title"].as_str().unwrap().starts_with("strata: layering migration, "), "{}", pull["title"]);
    let body = pull["body"].as_str().unwrap();
    assert!(body.contains("Violations per rule") && body.contains("Change sets ("), "{body}");
    assert_eq!(common::git(remote.path(), &["rev-parse", branch]), common::git(root, &["rev-parse", branch]));
}
