//! A migration's evidence report in three forms: Markdown (the pull-request and commit body), JSON
//! (for tools) and one self-contained HTML page (for reviewers; it loads nothing and runs nothing).

use std::cmp::Reverse;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::evidence::{ChangeSetEvidence, Evidence, ExceptionRow, FileTouched, ManualSite, Revision};

/// The version of [`json`]'s document; it changes when a field changes meaning or goes away.
pub const JSON_VERSION: u32 = 1;

/// The evidence as pretty JSON, with `"version"` first so that a reader can check it before the rest.
pub fn json(e: &Evidence) -> String {
    #[derive(Serialize)]
    struct Versioned<'a> {
        version: u32,
        #[serde(flatten)]
        evidence: &'a Evidence,
    }
    let document = Versioned { version: JSON_VERSION, evidence: e };
    serde_json::to_string_pretty(&document).expect("the evidence is plain data") + "\n"
}

/// The report as GitHub-flavoured Markdown, for a pull-request body and a commit body. Headings are
/// underlined (setext) rather than `#`-prefixed: `git commit`'s default cleanup drops `#` lines.
pub fn markdown(e: &Evidence) -> String {
    let mut out = String::new();
    let title = title(e);
    out.push_str(&format!("{title}\n{}\n\n", "=".repeat(title.chars().count())));
    out.push_str(&format!("- Base: {}\n", revision(&e.base)));
    match &e.head {
        Some(head) => out.push_str(&format!("- Head: {}\n", revision(head))),
        None => out.push_str("- Head: none (nothing committed)\n"),
    }
    if let Some(verification) = &e.verification {
        out.push_str(&format!("- Verification: {}\n", inline(verification, false)));
    }

    section(&mut out, "Violations per rule", None);
    if e.rules.is_empty() {
        out.push_str("No rules ran.\n");
    } else {
        out.push_str("| rule | before | after | change |\n|---|---:|---:|---:|\n");
        for r in &e.rules {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                code(&r.rule, true),
                r.before,
                r.after,
                change(r.before, r.after)
            ));
        }
        let (before, after) = totals(e);
        out.push_str(&format!("| **total** | {before} | {after} | {} |\n", change(before, after)));
    }

    section(&mut out, "Files touched", Some(e.files.len()));
    if e.files.is_empty() {
        out.push_str("No files changed.\n");
    } else {
        out.push_str("| file | status | added | removed |\n|---|---|---:|---:|\n");
        for f in &e.files {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                code(&f.path, true),
                f.status.as_str(),
                f.added_lines,
                f.removed_lines
            ));
        }
    }

    section(&mut out, "Change sets", Some(e.change_sets.len()));
    if e.change_sets.is_empty() {
        out.push_str("No change sets applied.\n");
    }
    for (i, cs) in e.change_sets.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        markdown_change_set(&mut out, cs);
    }

    section(&mut out, "Manual sites", Some(e.manual.len()));
    if e.manual.is_empty() {
        out.push_str("No manual sites.\n");
    } else {
        out.push_str("| reason | sites |\n|---|---|\n");
        for (reason, sites) in manual_groups(&e.manual) {
            let sites: Vec<String> =
                sites.iter().map(|s| format!("{} at {}", code(&s.rule, true), code(&s.location, true))).collect();
            out.push_str(&format!("| {} | {} |\n", inline(reason, true), sites.join("<br>")));
        }
    }

    section(&mut out, "Exceptions", Some(e.exceptions.len()));
    if e.exceptions.is_empty() {
        out.push_str("No exceptions.\n");
    } else {
        out.push_str("| rule | path | owner | reason | expires | state | matched |\n|---|---|---|---|---|---|---:|\n");
        for x in &e.exceptions {
            // The owner is a code span so that an `@team` handle does not notify anyone.
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                code(&x.rule, true),
                code(&x.path, true),
                code(&x.owner, true),
                inline(&x.reason, true),
                x.expires.as_deref().map_or_else(|| "never".to_string(), |d| inline(d, true)),
                inline(&x.state, true),
                x.matched
            ));
        }
    }

    section(&mut out, "Reproduce", None);
    if e.commands.is_empty() {
        out.push_str("No commands recorded.\n");
    } else {
        out.push_str(&fenced("sh", &(e.commands.join("\n") + "\n")));
    }
    out
}

/// A change set: its heading line, description, lists, and its diff folded in `<details>`.
fn markdown_change_set(out: &mut String, cs: &ChangeSetEvidence) {
    // The description is a paragraph of its own: a hard line break would be trailing spaces, which
    // `git commit` strips.
    out.push_str(&format!(
        "**{}. {}** at {} ({})\n\n{}\n\n",
        cs.id,
        code(&cs.rule, false),
        code(&cs.location, false),
        inline(&cs.applicability, false),
        inline(&cs.description, false)
    ));
    let mut items = Vec::new();
    if !cs.also_fixes.is_empty() {
        let fixes: Vec<String> = cs.also_fixes.iter().map(|f| code(f, false)).collect();
        items.push(format!("Also fixes: {}", fixes.join(", ")));
    }
    items.extend(cs.follow_ups.iter().map(|f| format!("Follow-up: {}", inline(f, false))));
    if let Some(verification) = &cs.verification {
        items.push(format!("Verification: {}", inline(verification, false)));
    }
    for item in &items {
        out.push_str(&format!("- {item}\n"));
    }
    if !items.is_empty() {
        out.push('\n');
    }
    let (added, removed) = diff_counts(&cs.diff);
    // The blank line after <summary> lets GitHub read the fenced block inside the HTML block.
    out.push_str(&format!("<details>\n<summary>Diff of change set {} (+{added} -{removed})</summary>\n\n", cs.id));
    let diff = if cs.diff.ends_with('\n') { cs.diff.clone() } else { format!("{}\n", cs.diff) };
    out.push_str(&fenced("diff", &diff));
    out.push_str("\n</details>\n");
}

/// The report as one HTML page that needs nothing else: inline CSS, no script, no external
/// resource (its Content-Security-Policy forbids loading any), every text from the evidence escaped.
pub fn html(e: &Evidence) -> String {
    let mut env = Environment::new();
    // A misspelt field in the template must fail the tests instead of rendering as nothing.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // The `.html` name turns on minijinja's HTML auto-escaping for every `{{ }}`.
    env.add_template("report.html", include_str!("report.html.j2")).expect("the report template parses");
    let (total_before, total_after) = totals(e);
    let max = e.rules.iter().map(|r| r.before.max(r.after)).max().unwrap_or(0);
    let page = Page {
        title: title(e),
        base: &e.base,
        head: e.head.as_ref(),
        verification: e.verification.as_deref(),
        total_before,
        total_after,
        total_change: change(total_before, total_after),
        rules: e
            .rules
            .iter()
            .map(|r| RuleBar {
                rule: &r.rule,
                before: r.before,
                after: r.after,
                change: change(r.before, r.after),
                before_width: bar_width(r.before, max),
                after_width: bar_width(r.after, max),
            })
            .collect(),
        files: &e.files,
        change_sets: e
            .change_sets
            .iter()
            .map(|cs| {
                let lines = diff_lines(&cs.diff);
                let (added, removed) = count_lines(&lines);
                ChangeSetView { cs, verification: cs.verification.as_deref(), added, removed, lines }
            })
            .collect(),
        manual_count: e.manual.len(),
        manual: manual_groups(&e.manual).into_iter().map(|(reason, sites)| ManualGroup { reason, sites }).collect(),
        exceptions: e.exceptions.iter().map(|x| ExceptionView { x, expires: x.expires.as_deref() }).collect(),
        commands: &e.commands,
    };
    // The template is part of the binary and the tests render it: an error is a bug in it.
    env.get_template("report.html").and_then(|t| t.render(&page)).expect("the report template renders")
}

/// What the template sees: the evidence with its numbers worked out and `Option`s as `none`
/// (strict undefined behaviour refuses a missing key, which is what `skip_serializing_if` makes).
#[derive(Serialize)]
struct Page<'a> {
    title: String,
    base: &'a Revision,
    head: Option<&'a Revision>,
    verification: Option<&'a str>,
    total_before: usize,
    total_after: usize,
    total_change: String,
    rules: Vec<RuleBar<'a>>,
    files: &'a [FileTouched],
    change_sets: Vec<ChangeSetView<'a>>,
    manual_count: usize,
    manual: Vec<ManualGroup<'a>>,
    exceptions: Vec<ExceptionView<'a>>,
    commands: &'a [String],
}

#[derive(Serialize)]
struct RuleBar<'a> {
    rule: &'a str,
    before: usize,
    after: usize,
    change: String,
    /// CSS widths, as a share of the largest count of any rule.
    before_width: String,
    after_width: String,
}

#[derive(Serialize)]
struct ChangeSetView<'a> {
    cs: &'a ChangeSetEvidence,
    verification: Option<&'a str>,
    added: usize,
    removed: usize,
    lines: Vec<DiffLine<'a>>,
}

#[derive(Serialize)]
struct ManualGroup<'a> {
    reason: &'a str,
    sites: Vec<&'a ManualSite>,
}

#[derive(Serialize)]
struct ExceptionView<'a> {
    x: &'a ExceptionRow,
    expires: Option<&'a str>,
}

/// What a line of a unified diff is; the HTML colours lines by it (it is their CSS class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum LineKind {
    /// `---`/`+++` and anything else outside a hunk.
    File,
    Hunk,
    Add,
    Del,
    Context,
    /// `\ No newline at end of file`.
    Note,
}

#[derive(Debug, Serialize)]
struct DiffLine<'a> {
    kind: LineKind,
    text: &'a str,
}

/// The lines of a unified diff by kind. Inside a hunk its header's line counts decide where it
/// ends, so a removed line that reads `--- x` is a removal, not a file header.
fn diff_lines(diff: &str) -> Vec<DiffLine<'_>> {
    let mut left = (0usize, 0usize);
    let mut lines = Vec::new();
    for text in diff.lines() {
        let in_hunk = left != (0, 0);
        let kind = if in_hunk {
            match text.as_bytes().first() {
                Some(b'+') => LineKind::Add,
                Some(b'-') => LineKind::Del,
                Some(b'\\') => LineKind::Note,
                _ => LineKind::Context,
            }
        } else if text.starts_with("@@") {
            // A header without counts leaves `left` at zero: its lines are classified by prefix.
            left = hunk_counts(text).unwrap_or((0, 0));
            LineKind::Hunk
        } else if text.starts_with("--- ") || text.starts_with("+++ ") {
            LineKind::File
        } else {
            match text.as_bytes().first() {
                Some(b'+') => LineKind::Add,
                Some(b'-') => LineKind::Del,
                Some(b' ') => LineKind::Context,
                Some(b'\\') => LineKind::Note,
                _ => LineKind::File,
            }
        };
        if in_hunk {
            match kind {
                LineKind::Add => left.1 = left.1.saturating_sub(1),
                LineKind::Del => left.0 = left.0.saturating_sub(1),
                LineKind::Context => left = (left.0.saturating_sub(1), left.1.saturating_sub(1)),
                _ => {}
            }
        }
        lines.push(DiffLine { kind, text });
    }
    lines
}

/// The old and new line counts of a hunk header `@@ -l[,n] +l[,n] @@` (a missing count is 1).
fn hunk_counts(header: &str) -> Option<(usize, usize)> {
    let mut ranges = header.strip_prefix("@@ ")?.split(' ');
    let old = ranges.next()?.strip_prefix('-')?;
    let new = ranges.next()?.strip_prefix('+')?;
    let count = |range: &str| match range.split_once(',') {
        Some((_, n)) => n.parse().ok(),
        None => Some(1),
    };
    Some((count(old)?, count(new)?))
}

fn count_lines(lines: &[DiffLine]) -> (usize, usize) {
    let count = |kind| lines.iter().filter(|l| l.kind == kind).count();
    (count(LineKind::Add), count(LineKind::Del))
}

/// Added and removed lines of a diff.
fn diff_counts(diff: &str) -> (usize, usize) {
    count_lines(&diff_lines(diff))
}

fn bar_width(count: usize, max: usize) -> String {
    let share = if max == 0 { 0.0 } else { count as f64 * 100.0 / max as f64 };
    format!("{share:.2}%")
}

fn totals(e: &Evidence) -> (usize, usize) {
    (e.rules.iter().map(|r| r.before).sum(), e.rules.iter().map(|r| r.after).sum())
}

fn title(e: &Evidence) -> String {
    let (before, after) = totals(e);
    format!("strata migration: {before} violation{} before, {after} after", if before == 1 { "" } else { "s" })
}

/// The signed difference `after - before`: `-29`, `+2`, `0`.
fn change(before: usize, after: usize) -> String {
    match after.cmp(&before) {
        std::cmp::Ordering::Less => format!("-{}", before - after),
        std::cmp::Ordering::Equal => "0".to_string(),
        std::cmp::Ordering::Greater => format!("+{}", after - before),
    }
}

/// Manual sites by reason, the reason with the most sites first (ties in the order they came).
fn manual_groups(manual: &[ManualSite]) -> Vec<(&str, Vec<&ManualSite>)> {
    let mut groups: Vec<(&str, Vec<&ManualSite>)> = Vec::new();
    for site in manual {
        match groups.iter_mut().find(|(reason, _)| *reason == site.reason) {
            Some((_, sites)) => sites.push(site),
            None => groups.push((&site.reason, vec![site])),
        }
    }
    groups.sort_by_key(|(_, sites)| Reverse(sites.len()));
    groups
}

fn revision(r: &Revision) -> String {
    // A report committed on its own branch cannot name that commit: it names the branch alone.
    if r.commit.is_empty() {
        return format!("{} (the branch this report is committed on)", code(&r.name, false));
    }
    format!("{} at {}", code(&r.name, false), code(&r.commit, false))
}

/// A setext heading (`---` underline), with the item count when the section lists items.
fn section(out: &mut String, title: &str, count: Option<usize>) {
    let title = match count {
        Some(n) => format!("{title} ({n})"),
        None => title.to_string(),
    };
    out.push_str(&format!("\n{title}\n{}\n\n", "-".repeat(title.chars().count())));
}

/// The longest run of backticks in `text`.
fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// A fenced code block whose fence is longer than any backtick run in `body` (a diff of Markdown
/// or of a docstring may hold ```` ``` ````). `body` ends with a newline.
fn fenced(info: &str, body: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(body) + 1).max(3));
    format!("{fence}{info}\n{body}{fence}\n")
}

/// `text` as one code span (rule ids, paths, locations, commits): verbatim on one line, fenced by
/// more backticks than it holds. In a table cell `|` is escaped, which GFM undoes inside code too.
fn code(text: &str, cell: bool) -> String {
    if text.is_empty() {
        return String::new();
    }
    let one_line: String = text.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect();
    let fence = "`".repeat(longest_backtick_run(&one_line) + 1);
    // Markdown strips one space at each end when both ends have one: pad both, or neither.
    let pad = if one_line.starts_with(['`', ' ']) || one_line.ends_with(['`', ' ']) { " " } else { "" };
    let span = format!("{fence}{pad}{one_line}{pad}{fence}");
    if cell {
        span.replace('|', "\\|")
    } else {
        span
    }
}

/// Text from the evidence (descriptions, reasons) as inline Markdown that renders as written.
/// Code spans the text already has stay code (recipe messages put identifiers in backticks), an
/// unmatched backtick is escaped; outside code, what Markdown would read as emphasis, a link,
/// HTML or a block marker is backslash-escaped. Line breaks become `<br>` so that a table row or
/// list item stays on its line. In a table cell `|` is escaped everywhere, code spans included:
/// GFM splits a row into cells before it reads code spans.
fn inline(text: &str, cell: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|&&c| c == '`').count();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            let run = run_at(i);
            // A code span closes at the next run of exactly as many backticks.
            let mut close = None;
            let mut j = i + run;
            while j < chars.len() {
                if chars[j] == '`' {
                    let other = run_at(j);
                    if other == run {
                        close = Some(j);
                        break;
                    }
                    j += other;
                } else {
                    j += 1;
                }
            }
            match close {
                Some(close) => {
                    for &d in &chars[i..close + run] {
                        match d {
                            '\n' | '\r' => out.push(' '),
                            '|' if cell => out.push_str("\\|"),
                            d => out.push(d),
                        }
                    }
                    i = close + run;
                }
                None => {
                    out.push_str(&"\\`".repeat(run));
                    i += run;
                }
            }
            continue;
        }
        let prev_word = i > 0 && chars[i - 1].is_alphanumeric();
        let next = chars.get(i + 1).copied();
        match c {
            '\r' if next == Some('\n') => {}
            '\n' | '\r' => out.push_str("<br>"),
            '\\' | '*' | '[' | ']' | '<' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '|' if cell => out.push_str("\\|"),
            // `snake_case` stays readable: only an underscore at a word's edge can emphasise.
            '_' if !(prev_word && next.is_some_and(char::is_alphanumeric)) => out.push_str("\\_"),
            // `&lt;` would show as `<`; a lone `&` shows as itself.
            '&' if next.is_some_and(|n| n.is_alphanumeric() || n == '#') => out.push_str("\\&"),
            _ => out.push(c),
        }
        i += 1;
    }
    escape_block_start(out)
}

/// Escapes what would make inline text a heading, quote, list or rule where it starts a line.
fn escape_block_start(text: String) -> String {
    if text.starts_with(['#', '>', '-', '+', '=']) {
        return format!("\\{text}");
    }
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && text[digits..].starts_with(['.', ')']) {
        return format!("{}\\{}", &text[..digits], &text[digits..]);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::evidence::{FileStatus, RuleRow};

    const DIFF: &str = "\
--- a/backend/app/api/orders.py
+++ b/backend/app/api/orders.py
@@ -1,4 +1,3 @@
 async def create(db_session, order):
-    db_session.add(order)
--- a comment line removed, not a header
+    await registry.execute(\"orders.create\", OperationContext(order=order))
 \treturn order
";

    fn evidence() -> Evidence {
        Evidence {
            base: Revision { name: "main".into(), commit: "0123abc".into() },
            head: Some(Revision { name: "strata/migrate".into(), commit: "4567def".into() }),
            rules: vec![
                RuleRow { rule: "l2-db-execute".into(), before: 10, after: 0 },
                RuleRow { rule: "l6-transaction".into(), before: 5, after: 2 },
                RuleRow { rule: "imports-l2".into(), before: 0, after: 0 },
            ],
            files: vec![FileTouched {
                path: "backend/app/api/orders.py".into(),
                status: FileStatus::Modified,
                added_lines: 1,
                removed_lines: 2,
            }],
            change_sets: vec![ChangeSetEvidence {
                id: 1,
                rule: "l2-db-execute".into(),
                applicability: "safe".into(),
                location: "backend/app/api/orders.py:2:5".into(),
                description: "move the database work of `create` into L6".into(),
                also_fixes: vec!["l2-transaction backend/app/api/orders.py:3:5".into()],
                follow_ups: vec!["review the new driver".into()],
                diff: DIFF.into(),
                verification: Some("verified".into()),
            }],
            manual: vec![],
            exceptions: vec![],
            commands: vec!["strata migrate --base main".into(), "strata check".into()],
            verification: Some("pytest: 42 passed".into()),
        }
    }

    fn site(rule: &str, location: &str, reason: &str) -> ManualSite {
        ManualSite { rule: rule.into(), location: location.into(), reason: reason.into() }
    }

    /// The cells of a Markdown table row, split as GFM splits them (at pipes not escaped).
    fn cells(row: &str) -> Vec<String> {
        let mut cells = vec![String::new()];
        let mut escaped = false;
        for c in row.trim().trim_start_matches('|').trim_end_matches('|').chars() {
            if c == '|' && !escaped {
                cells.push(String::new());
            } else {
                cells.last_mut().unwrap().push(c);
            }
            escaped = c == '\\' && !escaped;
        }
        cells.into_iter().map(|c| c.trim().to_string()).collect()
    }

    #[test]
    fn markdown_lists_rules_with_change_and_total() {
        let md = markdown(&evidence());
        assert!(md.starts_with("strata migration: 15 violations before, 2 after\n====="), "{md}");
        assert!(md.contains("- Base: `main` at `0123abc`\n- Head: `strata/migrate` at `4567def`\n"), "{md}");
        assert!(md.contains("- Verification: pytest: 42 passed\n"), "{md}");
        assert!(md.contains("| `l2-db-execute` | 10 | 0 | -10 |\n"), "{md}");
        assert!(md.contains("| `imports-l2` | 0 | 0 | 0 |\n"), "{md}");
        assert!(md.contains("| **total** | 15 | 2 | -13 |\n"), "{md}");
        assert!(md.contains("| `backend/app/api/orders.py` | modified | 1 | 2 |\n"), "{md}");
        // No `#` line: git's default cleanup would drop it from a commit message.
        assert!(!md.lines().any(|l| l.starts_with('#')), "{md}");
    }

    #[test]
    fn markdown_change_set_folds_its_diff() {
        let md = markdown(&evidence());
        assert!(
            md.contains(
                "**1. `l2-db-execute`** at `backend/app/api/orders.py:2:5` (safe)\n\n\
                 move the database work of `create` into L6\n\n\
                 - Also fixes: `l2-transaction backend/app/api/orders.py:3:5`\n\
                 - Follow-up: review the new driver\n\
                 - Verification: verified\n\n\
                 <details>\n<summary>Diff of change set 1 (+1 -2)</summary>\n\n```diff\n--- a/backend"
            ),
            "{md}"
        );
        assert!(md.contains(" \treturn order\n```\n\n</details>\n"), "{md}");
        assert!(md.ends_with("```sh\nstrata migrate --base main\nstrata check\n```\n"), "{md}");
    }

    #[test]
    fn markdown_fences_outgrow_backticks_in_the_diff() {
        let mut e = evidence();
        e.change_sets[0].diff = "@@ -1 +1 @@\n-\"\"\"```py\n+\"\"\"````py\n".into();
        let md = markdown(&e);
        assert!(md.contains("\n`````diff\n@@ -1 +1 @@\n"), "{md}");
        assert!(md.contains("````py\n`````\n"), "{md}");
    }

    #[test]
    fn markdown_escapes_table_cells() {
        let mut e = evidence();
        e.manual = vec![
            site("l2-db-execute", "a.py:1:1", "raw SQL | joined `a|b` <script>alert(1)</script>\nsecond *line* of x_"),
            site(
                "l2-db-execute",
                "b|c.py:2:1",
                "raw SQL | joined `a|b` <script>alert(1)</script>\nsecond *line* of x_",
            ),
            site("l6-transaction", "c.py:3:1", "a lone ` backtick"),
        ];
        e.exceptions = vec![ExceptionRow {
            rule: "l6-transaction".into(),
            path: "legacy/**".into(),
            owner: "@db-team".into(),
            reason: "# not a heading | really".into(),
            expires: None,
            state: "active".into(),
            matched: 3,
        }];
        let md = markdown(&e);
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| reason")).collect();
        let manual = rows.iter().find(|r| r.contains("raw SQL")).expect("the manual row");
        assert_eq!(
            cells(manual),
            [
                "raw SQL \\| joined `a\\|b` \\<script>alert(1)\\</script><br>second \\*line\\* of x\\_",
                "`l2-db-execute` at `a.py:1:1`<br>`l2-db-execute` at `b\\|c.py:2:1`",
            ],
            "{md}"
        );
        let lone = rows.iter().find(|r| r.contains("lone")).expect("the second group");
        assert_eq!(cells(lone)[0], "a lone \\` backtick");
        // The group with two sites comes first.
        assert!(md.find("raw SQL").unwrap() < md.find("a lone").unwrap());
        let exception = rows.iter().find(|r| r.contains("legacy")).expect("the exception row");
        assert_eq!(
            cells(exception),
            ["`l6-transaction`", "`legacy/**`", "`@db-team`", "\\# not a heading \\| really", "never", "active", "3"]
        );
    }

    #[test]
    fn code_spans_hold_backticks_and_stay_on_one_line() {
        assert_eq!(code("a`b", false), "``a`b``");
        assert_eq!(code("`x`", false), "`` `x` ``");
        assert_eq!(code("a\nb|c", true), "`a b\\|c`");
        assert_eq!(inline("1. first", false), "1\\. first");
        assert_eq!(inline("a && b, &amp;", false), "a && b, \\&amp;");
        assert_eq!(inline("x\r\ny", false), "x<br>y");
    }

    #[test]
    fn empty_sections_say_so() {
        let md = markdown(&Evidence::default());
        for line in [
            "- Head: none (nothing committed)",
            "No rules ran.",
            "Files touched (0)\n-----------------\n\nNo files changed.",
            "No change sets applied.",
            "Manual sites (0)\n----------------\n\nNo manual sites.",
            "No exceptions.",
            "Reproduce\n---------\n\nNo commands recorded.",
        ] {
            assert!(md.contains(line), "no `{line}` in:\n{md}");
        }
        assert!(!md.contains("Verification"), "{md}");
        let page = html(&Evidence::default());
        for line in
            ["No rules ran.", "No files changed.", "No change sets applied.", "No manual sites.", "No exceptions."]
        {
            assert!(page.contains(line), "no `{line}` in:\n{page}");
        }
    }

    #[test]
    fn json_has_a_version_first() {
        let text = json(&evidence());
        assert!(text.starts_with("{\n  \"version\": 1,\n"), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["rules"][1]["after"], 2);
        assert_eq!(value["files"][0]["status"], "modified");
        assert_eq!(value["change_sets"][0]["diff"], DIFF);
        assert_eq!(value["head"]["name"], "strata/migrate");
        let empty: serde_json::Value = serde_json::from_str(&json(&Evidence::default())).unwrap();
        assert_eq!(empty["version"], 1);
        assert!(empty.get("head").is_none(), "{empty}");
    }

    #[test]
    fn diff_lines_follow_hunk_counts() {
        let kinds: Vec<LineKind> = diff_lines(DIFF).iter().map(|l| l.kind).collect();
        use LineKind::*;
        assert_eq!(kinds, [File, File, Hunk, Context, Del, Del, Add, Context]);
        assert_eq!(diff_counts(DIFF), (1, 2));
        let created = "--- /dev/null\n+++ b/p/__init__.py\n(new empty file)\n";
        let kinds: Vec<LineKind> = diff_lines(created).iter().map(|l| l.kind).collect();
        assert_eq!(kinds, [File, File, File]);
        assert_eq!(hunk_counts("@@ -3 +3,0 @@ def f():"), Some((1, 0)));
    }

    #[test]
    fn html_escapes_every_text() {
        let mut e = evidence();
        e.change_sets[0].description = "<script>alert(1)</script>".into();
        e.manual = vec![site("l2-db-execute", "a.py:1:1", "uses <b>raw</b> SQL & \"quotes\"")];
        e.commands = vec!["strata check && echo '<done>'".into()];
        let page = html(&e);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<b>raw"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{page}");
        assert!(page.contains("uses &lt;b&gt;raw&lt;&#x2f;b&gt; SQL &amp; &quot;quotes&quot;"), "{page}");
        assert!(page.contains("strata check &amp;&amp; echo &#x27;&lt;done&gt;&#x27;"), "{page}");
        // The diff's own markup-like text is escaped inside its coloured lines.
        e.change_sets[0].diff = "@@ -1 +1 @@\n-if a < b:\n+if a <= b & c:\n".into();
        let page = html(&e);
        assert!(page.contains("<span class=\"del\">-if a &lt; b:</span>\n"), "{page}");
        assert!(page.contains("<span class=\"add\">+if a &lt;= b &amp; c:</span>\n"), "{page}");
    }

    #[test]
    fn html_is_self_contained() {
        let page = html(&evidence());
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(page.contains("default-src 'none'"), "{page}");
        for external in ["http:", "https:", "src=", "<link", "@import", "url(", "<script"] {
            assert!(!page.contains(external), "`{external}` in:\n{page}");
        }
    }

    #[test]
    fn html_bars_are_proportional_to_the_largest_count() {
        let page = html(&evidence());
        // l2-db-execute: 10 → 0, l6-transaction: 5 → 2, imports-l2: 0 → 0; the largest is 10.
        let widths: Vec<&str> =
            page.split("style=\"width: ").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect();
        assert_eq!(widths, ["100.00%", "0.00%", "50.00%", "20.00%", "0.00%", "0.00%"], "{page}");
        for number in [">10<", ">5<", ">2<", ">-3<"] {
            assert!(page.contains(number), "no {number} in:\n{page}");
        }
        assert_eq!(bar_width(3, 0), "0.00%");
    }
}
