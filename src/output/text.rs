//! Human output: ruff/rustc-style diagnostics with code frames, summaries and the statistics table.

use annotate_snippets::{Level, Renderer, Snippet};
use owo_colors::OwoColorize;

use crate::diagnostics::{CheckReport, Disposition, ExceptedBy, Finding};
use crate::exceptions::ExceptionState;
use crate::recipe::{Applicability, Severity};

fn level(severity: Severity) -> Level {
    match severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Info => Level::Info,
    }
}

/// One diagnostic with its code frame.
pub fn render_finding(finding: &Finding, color: bool) -> String {
    let origin = finding.path.clone();
    let label = match &finding.fix {
        Some(fix) if fix.applicability == Applicability::Manual => format!("manual fix: {}", fix.description),
        Some(fix) if !fix.planned => format!("{} fix to plan: {}", fix.applicability.as_str(), fix.description),
        Some(fix) => format!("{} fix available: {}", fix.applicability.as_str(), fix.description),
        None => String::new(),
    };
    let span = finding.frame.span.clone();
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let message = level(finding.severity).title(&finding.message).id(&finding.rule).snippet(
        Snippet::source(&finding.frame.source)
            .line_start(finding.frame.first_line)
            .origin(&origin)
            .fold(true)
            .annotation(level(finding.severity).span(span).label(&label)),
    );
    let rendered = renderer.render(message).to_string();
    rendered
}

/// The full text report: violations, then a summary of excepted, classified and exceptions
/// (skipped files are warnings, on stderr).
pub fn render(report: &CheckReport, color: bool) -> String {
    let mut out = String::new();
    for finding in report.violations() {
        out.push_str(&render_finding(finding, color));
        out.push_str("\n\n");
    }
    let violations = report.violations().count();
    let excepted = report.findings.iter().filter(|(_, d)| matches!(d, Disposition::Excepted(_))).count();
    let inline =
        report.findings.iter().filter(|(_, d)| matches!(d, Disposition::Excepted(ExceptedBy::Inline(_)))).count();
    let classified = report.findings.iter().filter(|(_, d)| matches!(d, Disposition::Classified(_))).count();
    let safe = |planned: bool| {
        report
            .violations()
            .filter(|f| f.fix.as_ref().is_some_and(|x| x.applicability == Applicability::Safe && x.planned == planned))
            .count()
    };
    let (fixable, to_plan) = (safe(true), safe(false));
    let summary = if violations == 0 {
        "No violations found.".to_string()
    } else {
        format!("Found {violations} violation{}.", if violations == 1 { "" } else { "s" })
    };
    out.push_str(&if color { summary.bold().to_string() } else { summary });
    out.push('\n');
    if fixable > 0 {
        out.push_str(&format!("{fixable} fixable with `strata fix`.\n"));
    }
    if to_plan > 0 {
        out.push_str(&format!(
            "{to_plan} more with a safe fix to plan: `strata fix` applies it or says why not (`check --plan` plans it now).\n"
        ));
    }
    if excepted + classified > 0 {
        let by = match (excepted - inline, inline) {
            (_, 0) => "by strata-exceptions.toml".to_string(),
            (0, _) => "by inline suppressions".to_string(),
            (file, inline) => format!("({file} by strata-exceptions.toml, {inline} by inline suppressions)"),
        };
        out.push_str(&format!(
            "{excepted} excepted {by}, {classified} classified as justified patterns (not hidden: see --statistics).\n"
        ));
    }
    for e in &report.exceptions {
        let what = match e.state {
            ExceptionState::Active | ExceptionState::Unchecked => continue,
            ExceptionState::Stale => "matches nothing (stale); remove it".to_string(),
            ExceptionState::Expired => "has expired and no longer applies; renew or remove it".to_string(),
            ExceptionState::Loose => format!(
                "allows {} but found {} (loose): lower its count with `strata baseline`",
                e.entry.count.unwrap_or_default(),
                e.matched
            ),
        };
        out.push_str(&format!(
            "warning: exception for `{}` on `{}` (owner {}) {what}\n",
            e.entry.rule, e.entry.path, e.entry.owner
        ));
    }
    for s in report.suppressions.iter().filter(|s| s.state == ExceptionState::Stale) {
        let what = if s.unused.len() == s.rules.len() {
            "suppresses nothing (stale); remove it".to_string()
        } else {
            format!("suppresses nothing for `{}` (stale); remove it from the comment", s.unused.join("`, `"))
        };
        out.push_str(&format!(
            "warning: suppression `allow[{}]` at {}:{} {what}\n",
            s.rules.join(", "),
            s.path,
            s.line
        ));
    }
    out
}

/// The per-rule evidence table of `--statistics`.
pub fn statistics(report: &CheckReport) -> String {
    let counts = report.counts();
    let width = counts.keys().map(String::len).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<width$}  {:>10}  {:>8}  {:>10}  {:>5}  classified as\n",
        "rule", "violations", "excepted", "classified", "files"
    );
    let mut totals = (0, 0, 0);
    for (rule, c) in &counts {
        let classified: usize = c.classified.values().sum();
        let labels: Vec<String> = c.classified.iter().map(|(label, n)| format!("{label}={n}")).collect();
        out.push_str(&format!(
            "{rule:<width$}  {:>10}  {:>8}  {:>10}  {:>5}  {}\n",
            c.violations,
            c.excepted,
            classified,
            c.files,
            labels.join(" ")
        ));
        totals = (totals.0 + c.violations, totals.1 + c.excepted, totals.2 + classified);
    }
    out.push_str(&format!("{:<width$}  {:>10}  {:>8}  {:>10}\n", "total", totals.0, totals.1, totals.2));
    out.push_str(&format!(
        "files: {} discovered, {} read, {} parsed, {} skipped\n",
        report.stats.discovered,
        report.stats.read,
        report.stats.parsed,
        report.skipped.len()
    ));
    out
}
