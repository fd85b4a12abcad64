//! Forge: the pull request of `strata migrate --pr` on GitHub, found, created, updated or left alone (REST API).

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use thiserror::Error;
use ureq::config::RedirectAuthHeaders;

/// The environment variable [`Token::from_env`] reads.
pub const TOKEN_VAR: &str = "STRATA_GITHUB_TOKEN";

/// The REST API version strata is written against; GitHub keeps answering in it after newer ones.
const API_VERSION: &str = "2022-11-28";
const ACCEPT: &str = "application/vnd.github+json";
const USER_AGENT: &str = concat!("strata/", env!("CARGO_PKG_VERSION"));
/// GitHub's largest page: the fewest requests for a long list.
const PER_PAGE: &str = "100";
/// GitHub lists at most this many commits of a pull request, however many it has.
const MAX_LISTED_COMMITS: usize = 250;
/// More pages than any list strata asks for can have (3 of commits): a `next` link that never
/// ends is a broken answer, not a reason to loop.
const MAX_PAGES: usize = 10;
/// Long enough for a slow GitHub Enterprise server, short enough that a hung one ends the run.
const TIMEOUT: Duration = Duration::from_secs(60);
/// What to do after any failure: strata asks GitHub only once the branch is pushed.
const RETRY: &str = "the branch was pushed; re-run with --pr, or open the pull request by hand";

/// A GitHub token. It is sent in the `Authorization` header and nowhere else: `Debug` and
/// `Display` print `***`, and every error text passes through [`Forge`]'s redaction first.
pub struct Token(String);

impl Token {
    pub fn new(secret: impl Into<String>) -> Self {
        Token(secret.into())
    }

    /// The token in `STRATA_GITHUB_TOKEN`; an error that says how to set it when it is unset or empty.
    pub fn from_env() -> Result<Self, ForgeError> {
        Self::from_value(std::env::var_os(TOKEN_VAR))
    }

    fn from_value(value: Option<OsString>) -> Result<Self, ForgeError> {
        match value.map(OsString::into_string) {
            // A header value cannot hold the newline `$(cat token-file)` may leave.
            Some(Ok(text)) if !text.trim().is_empty() => Ok(Token(text.trim().to_string())),
            Some(Ok(_)) => Err(ForgeError::Token { problem: "is empty" }),
            Some(Err(_)) => Err(ForgeError::Token { problem: "is not valid UTF-8" }),
            None => Err(ForgeError::Token { problem: "is not set" }),
        }
    }

    /// `text` with every occurrence of the token replaced by `***`.
    fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What [`Forge::open_or_update`] did. `url` is the pull request's page on GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrOutcome {
    Created {
        number: u64,
        url: String,
    },
    Updated {
        number: u64,
        url: String,
    },
    /// An open pull request for the branch holds commits strata did not write; `why` names one.
    LeftAlone {
        number: u64,
        url: String,
        why: String,
    },
}

#[derive(Debug, Error)]
pub enum ForgeError {
    #[error(
        "{TOKEN_VAR} {problem}: set it to a GitHub token that may write the repository's pull requests \
         (a fine-grained token with \"Pull requests: read and write\", or a classic one with the repo scope)"
    )]
    Token { problem: &'static str },
    /// GitHub answered with an error status; `message` is its own (`message` and `errors[]`).
    #[error("GitHub answered {method} {path} with {status}: {message}; {}", hint(*.status))]
    Http { method: &'static str, path: String, status: u16, message: String },
    #[error("cannot reach GitHub at {url} ({method}): {reason}; {RETRY}")]
    Connect { method: &'static str, url: String, reason: String },
    /// A success status with a body that is not what the REST API documents.
    #[error("GitHub's answer to {method} {path} is not what its REST API documents: {reason}; {RETRY}")]
    Answer { method: &'static str, path: String, reason: String },
}

/// What to do about an error status, beyond retrying.
fn hint(status: u16) -> String {
    match status {
        401 => format!("GitHub refused the token in {TOKEN_VAR} (expired or revoked?): {RETRY}"),
        // GitHub answers 404, not 403, to a token that may not see a private repository.
        403 | 404 => format!("is the token in {TOKEN_VAR} allowed to write this repository's pull requests? {RETRY}"),
        _ => RETRY.to_string(),
    }
}

/// The fields strata reads of a pull request (the list's and the single one's shapes share them).
#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    html_url: String,
    base: BranchRef,
}

#[derive(Deserialize)]
struct BranchRef {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Deserialize)]
struct PullCommit {
    sha: String,
    commit: CommitDetail,
}

#[derive(Deserialize)]
struct CommitDetail {
    message: String,
}

/// A request's method, as the builder calls and errors name it.
#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// One repository's pull requests on GitHub or GitHub Enterprise.
pub struct Forge {
    api_url: String,
    owner: String,
    repo: String,
    token: Token,
    agent: ureq::Agent,
}

impl fmt::Debug for Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forge")
            .field("api_url", &self.token.redact(&self.api_url))
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Forge {
    /// `api_url` is the REST API's root: `https://api.github.com`, a GitHub Enterprise server's
    /// `https://HOST/api/v3`, or a test server's loopback URL.
    pub fn new(api_url: &str, owner: &str, repo: &str, token: Token) -> Self {
        let agent = ureq::Agent::config_builder()
            // Error answers carry GitHub's explanation in their body: read it, don't drop it.
            .http_status_as_error(false)
            // A renamed repository answers with a redirect on the same API host.
            .redirect_auth_headers(RedirectAuthHeaders::SameHost)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        Forge {
            api_url: api_url.trim_end_matches('/').to_string(),
            owner: owner.to_string(),
            repo: repo.to_string(),
            token,
            agent,
        }
    }

    /// Opens a pull request of `head` into `base`, or updates the title and body of the open one
    /// for `head` (the one into `base` if there are several). One whose commits are not all
    /// strata's own (`is_own(message)` false for one of them) is left as it is: a person works on it.
    pub fn open_or_update(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
        is_own: &dyn Fn(&str) -> bool,
    ) -> Result<PrOutcome, ForgeError> {
        let pulls = self.repo_path("/pulls");
        let filter = format!("{}:{head}", self.owner);
        let open: Vec<PullRequest> = self.get_all(&pulls, &[("head", &filter), ("state", "open")])?;
        let Some(pull) = open.iter().find(|p| p.base.name == base).or(open.first()) else {
            let request = self.agent.post(self.url(&pulls));
            let fields = json!({ "title": title, "head": head, "base": base, "body": body });
            let created: PullRequest = self.send(Method::Post, &pulls, request, &fields)?;
            return Ok(PrOutcome::Created { number: created.number, url: created.html_url });
        };
        let (number, url) = (pull.number, pull.html_url.clone());
        let commits: Vec<PullCommit> = self.get_all(&format!("{pulls}/{number}/commits"), &[])?;
        if let Some(other) = commits.iter().find(|c| !is_own(&c.commit.message)) {
            let short = other.sha.get(..7).unwrap_or(&other.sha);
            let subject = other.commit.message.lines().next().unwrap_or_default();
            let why = format!("commit {short} (\"{subject}\") is not one strata wrote: a person is working on it");
            return Ok(PrOutcome::LeftAlone { number, url, why });
        }
        if commits.len() >= MAX_LISTED_COMMITS {
            let why = format!(
                "it has {} or more commits and GitHub lists no more, so strata cannot tell that all are its own",
                commits.len()
            );
            return Ok(PrOutcome::LeftAlone { number, url, why });
        }
        let path = format!("{pulls}/{number}");
        let request = self.agent.patch(self.url(&path));
        let updated: PullRequest =
            self.send(Method::Patch, &path, request, &json!({ "title": title, "body": body }))?;
        Ok(PrOutcome::Updated { number: updated.number, url: updated.html_url })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_url)
    }

    /// `/repos/{owner}/{repo}{rest}`, each name percent-encoded as one path segment.
    fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", encode_segment(&self.owner), encode_segment(&self.repo))
    }

    /// Every item of a list, following `Link: <…>; rel="next"` from page to page.
    fn get_all<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<T>, ForgeError> {
        let mut items = Vec::new();
        let mut request = self.agent.get(self.url(path)).query_pairs(query.iter().copied()).query("per_page", PER_PAGE);
        let mut shown = path.to_string();
        for _ in 0..MAX_PAGES {
            let (text, next) = self.exchange(Method::Get, &shown, self.headers(request).call())?;
            items.extend(self.decode::<Vec<T>>(Method::Get, &shown, &text)?);
            let Some(next) = next else { return Ok(items) };
            // The token goes only where it was meant to: a next page elsewhere is a broken answer.
            let Some(rest) = next.strip_prefix(&self.api_url).filter(|rest| rest.starts_with('/')) else {
                let reason = format!("its next page is at {next}, outside {}", self.api_url);
                return Err(self.answer_error(Method::Get, &shown, &reason));
            };
            shown = rest.split('?').next().unwrap_or(rest).to_string();
            request = self.agent.get(next.as_str());
        }
        Err(self.answer_error(Method::Get, path, &format!("it has more than {MAX_PAGES} pages")))
    }

    /// `body` sent as JSON by `request` (to `path`, with `method`), and the object GitHub answers.
    fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
        body: &Value,
    ) -> Result<T, ForgeError> {
        let request = self.headers(request).header("Content-Type", "application/json");
        let (text, _) = self.exchange(method, path, request.send(body.to_string()))?;
        self.decode(method, path, &text)
    }

    /// The headers GitHub documents for every REST request.
    fn headers<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        request
            .header("Accept", ACCEPT)
            .header("Authorization", format!("Bearer {}", self.token.0))
            .header("X-GitHub-Api-Version", API_VERSION)
            .header("User-Agent", USER_AGENT)
    }

    /// The body of a success answer and its `next` page link; an error for anything else.
    fn exchange(
        &self,
        method: Method,
        path: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(String, Option<String>), ForgeError> {
        let connect_error = |error: ureq::Error| ForgeError::Connect {
            method: method.name(),
            url: self.token.redact(&self.url(path)),
            reason: self.token.redact(&error.to_string()),
        };
        let mut response = result.map_err(connect_error)?;
        let status = response.status().as_u16();
        let next = response.headers().get("link").and_then(|v| v.to_str().ok()).and_then(next_link);
        let text = response.body_mut().read_to_string().map_err(connect_error)?;
        if !(200..300).contains(&status) {
            return Err(ForgeError::Http {
                method: method.name(),
                path: self.token.redact(path),
                status,
                message: self.token.redact(&error_message(&text)),
            });
        }
        Ok((text, next))
    }

    fn decode<T: DeserializeOwned>(&self, method: Method, path: &str, text: &str) -> Result<T, ForgeError> {
        serde_json::from_str(text).map_err(|e| self.answer_error(method, path, &e.to_string()))
    }

    fn answer_error(&self, method: Method, path: &str, reason: &str) -> ForgeError {
        ForgeError::Answer { method: method.name(), path: self.token.redact(path), reason: self.token.redact(reason) }
    }
}

/// GitHub's explanation in an error body: `message`, then each `errors[]` entry's message (or,
/// without one, its resource, field and code). A body that is not GitHub's JSON is quoted, cut short.
fn error_message(body: &str) -> String {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body) else {
        let text: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
        let cut: String = text.chars().take(200).collect();
        return if cut.is_empty() { "no explanation in the answer".to_string() } else { format!("\"{cut}\"") };
    };
    let mut message = object.get("message").and_then(Value::as_str).unwrap_or("no message").to_string();
    let details: Vec<String> = object
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|error| match error {
            Value::String(text) => Some(text.clone()),
            Value::Object(fields) => {
                let text = |key: &str| fields.get(key).and_then(Value::as_str);
                text("message").map(str::to_string).or_else(|| {
                    let place = [text("resource"), text("field")].into_iter().flatten().collect::<Vec<_>>();
                    text("code").map(|code| format!("{} {code}", place.join(".")).trim().to_string())
                })
            }
            _ => None,
        })
        .collect();
    if !details.is_empty() {
        message = format!("{message} ({})", details.join("; "));
    }
    message
}

/// The URL of `rel="next"` in a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (url, params) = link.split_once(';')?;
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|param| {
            param
                .trim()
                .strip_prefix("rel=")
                .is_some_and(|rel| rel.trim_matches('"').split_whitespace().any(|r| r == "next"))
        });
        is_next.then(|| url.to_string())
    })
}

/// `text` percent-encoded to stand as one URL path segment (everything but RFC 3986's unreserved).
fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The owner and repository of a git remote URL on GitHub or a GitHub Enterprise host:
/// `https://HOST/OWNER/REPO(.git)`, `git@HOST:OWNER/REPO.git`, `ssh://git@HOST:PORT/OWNER/REPO.git`
/// (also `git://`, `http://` and user info). `None` for local paths and paths of another shape.
pub fn parse_remote_url(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let path = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git" | "git+ssh" | "ssh+git") {
            return None;
        }
        let (authority, path) = rest.split_once('/')?;
        // `rsplit` yields at least one part: the host (and port) after any user info.
        if authority.rsplit('@').next().unwrap_or_default().is_empty() {
            return None;
        }
        path
    } else {
        // scp-like `[user@]host:path`; a colon after a slash is a local path instead.
        let (host, path) = url.split_once(':')?;
        if host.is_empty() || host.contains('/') || host.ends_with('@') {
            return None;
        }
        path
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, repo) = path.split_once('/')?;
    let valid = |name: &str| !name.is_empty() && !name.contains('/') && name != "." && name != "..";
    (valid(owner) && valid(repo)).then(|| (owner.to_string(), repo.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ghp_s3cr3tT0k3nValue";

    fn forge() -> Forge {
        Forge::new(&format!("https://x:{SECRET}@ghe.example.com/api/v3/"), "octo-org", "backend", Token::new(SECRET))
    }

    #[test]
    fn remote_urls_of_github_and_enterprise_hosts() {
        let ours = Some(("octo-org".to_string(), "backend".to_string()));
        for url in [
            "https://github.com/octo-org/backend",
            "https://github.com/octo-org/backend.git",
            "https://github.com/octo-org/backend/",
            "http://github.com/octo-org/backend.git",
            "https://user:pass@github.com/octo-org/backend.git",
            "git@github.com:octo-org/backend.git",
            "git@github.com:octo-org/backend",
            "github.com:octo-org/backend.git",
            "ssh://git@github.com/octo-org/backend.git",
            "ssh://git@ghe.example.com:2222/octo-org/backend.git",
            "git://github.com/octo-org/backend.git",
            "https://ghe.example.com/octo-org/backend.git",
            "git@ghe.example.com:octo-org/backend.git",
            "  https://github.com/octo-org/backend.git\n",
        ] {
            assert_eq!(parse_remote_url(url), ours, "{url}");
        }
        let dotted = parse_remote_url("git@github.com:octo.org/my.repo.git");
        assert_eq!(dotted, Some(("octo.org".to_string(), "my.repo".to_string())));
        for url in [
            "/srv/git/backend.git",
            "../backend",
            "file:///srv/git/octo-org/backend.git",
            "./a:b/c",
            "https://github.com/octo-org",
            "https://github.com/a/b/c",
            "https://github.com//backend",
            "git@github.com:backend.git",
            "ftp://github.com/octo-org/backend.git",
            "https:///octo-org/backend",
            "",
        ] {
            assert_eq!(parse_remote_url(url), None, "{url}");
        }
    }

    #[test]
    fn the_token_comes_from_the_environment_or_a_clear_error() {
        let token = Token::from_value(Some(format!("{SECRET}\n").into())).unwrap();
        assert_eq!(token.0, SECRET, "the newline a file leaves is not part of the token");
        for (value, problem) in [(None, "is not set"), (Some(OsString::from("  ")), "is empty")] {
            let error = Token::from_value(value).err().unwrap().to_string();
            assert!(error.starts_with(&format!("STRATA_GITHUB_TOKEN {problem}: set it to a GitHub token")), "{error}");
        }
    }

    #[test]
    fn the_token_prints_as_stars() {
        let token = Token::new(SECRET);
        assert_eq!(format!("{token} {token:?} {token:#?}"), "*** *** ***");
        let shown = format!("{:?} {:#?}", forge(), forge());
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("octo-org") && shown.contains("token: ***"), "{shown}");
        assert_eq!(Token::new("").redact("text"), "text", "an empty token redacts nothing");
    }

    /// Each error variant, built where the code builds it from text that holds the token.
    #[test]
    fn no_error_shows_the_token() {
        let forge = forge();
        let mut errors = vec![Token::from_value(None).err().unwrap()];
        let echo = format!(r#"{{"message": "Bad token {SECRET}", "errors": [{{"message": "{SECRET}"}}]}}"#);
        let status = ureq::http::Response::builder().status(401).body(ureq::Body::builder().data(echo)).unwrap();
        errors.push(forge.exchange(Method::Get, "/repos/o/r/pulls", Ok(status)).err().unwrap());
        let refused = forge.agent.get("http://127.0.0.1:1/").call();
        errors.push(forge.exchange(Method::Post, "/repos/o/r/pulls", refused).err().unwrap());
        // serde_json quotes the string it did not expect.
        let wrong = format!(r#"{{"number": "{SECRET}"}}"#);
        errors.push(forge.decode::<PullRequest>(Method::Patch, "/repos/o/r/pulls/1", &wrong).err().unwrap());
        let kinds: Vec<&str> = errors
            .iter()
            .map(|e| match e {
                ForgeError::Token { .. } => "token",
                ForgeError::Http { .. } => "http",
                ForgeError::Connect { .. } => "connect",
                ForgeError::Answer { .. } => "answer",
            })
            .collect();
        assert_eq!(kinds, ["token", "http", "connect", "answer"]);
        for error in &errors {
            let shown = format!("{error} {error:?} {error:#?}");
            assert!(!shown.contains(SECRET), "{shown}");
        }
        assert!(errors[1].to_string().contains("Bad token ***"), "{}", errors[1]);
        assert!(
            errors[2].to_string().contains("https://x:***@ghe.example.com/api/v3/repos/o/r/pulls"),
            "{}",
            errors[2]
        );
        assert!(errors[3].to_string().contains(r#"invalid type: string "***""#), "{}", errors[3]);
    }

    #[test]
    fn error_messages_quote_github() {
        let failed = r#"{"message": "Validation Failed", "errors": [
            {"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for o:b."},
            {"resource": "PullRequest", "field": "head", "code": "invalid"}, "plain"],
            "documentation_url": "https://docs.github.com/rest"}"#;
        assert_eq!(
            error_message(failed),
            "Validation Failed (A pull request already exists for o:b.; PullRequest.head invalid; plain)"
        );
        assert_eq!(error_message(r#"{"message": "Bad credentials"}"#), "Bad credentials");
        assert_eq!(error_message("<html>\n<b>Bad gateway</b>\n</html>"), "\"<html> <b>Bad gateway</b> </html>\"");
        assert_eq!(error_message(""), "no explanation in the answer");
    }

    #[test]
    fn next_links() {
        let header = r#"<https://api.github.com/r?page=2>; rel="next", <https://api.github.com/r?page=5>; rel="last""#;
        assert_eq!(next_link(header).as_deref(), Some("https://api.github.com/r?page=2"));
        let last = r#"<https://api.github.com/r?page=1>; rel="prev", <https://api.github.com/r?page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
        assert_eq!(next_link("<https://h/r?page=3>; rel=next").as_deref(), Some("https://h/r?page=3"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("octo-org.x_y~"), "octo-org.x_y~");
        assert_eq!(encode_segment("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(forge().repo_path("/pulls"), "/repos/octo-org/backend/pulls");
    }
}
