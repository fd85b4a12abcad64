//! The summary of a fix run: what was fixed per rule, what was not and why, and follow-ups.

use std::collections::BTreeMap;

use crate::fix::FixOutcome;

/// The human summary printed after `strata fix` (and `--dry-run`, where it says "would").
pub fn render(outcome: &FixOutcome, dry_run: bool) -> String {
    let mut out = String::new();
    let verb = if dry_run { "Would fix" } else { "Fixed" };
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    // A follow-on change set fixes no violation of its own.
    for cs in outcome.applied.iter().filter(|cs| !cs.follow_on) {
        *per_rule.entry(cs.rule.as_str()).or_default() += 1;
        for (rule, _) in &cs.also_fixes {
            *per_rule.entry(rule.as_str()).or_default() += 1;
        }
    }
    let fixed: usize = outcome.applied.iter().map(|cs| cs.fixes()).sum();
    let files = outcome.changed_files().len();
    out.push_str(&format!(
        "{verb} {fixed} violation{} in {files} file{} ({} pass{}).\n",
        if fixed == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" },
        outcome.passes,
        if outcome.passes == 1 { "" } else { "es" },
    ));
    for (rule, n) in &per_rule {
        out.push_str(&format!("  {rule:<24} {n}\n"));
    }
    let section = |out: &mut String, title: &str, items: Vec<String>| {
        if !items.is_empty() {
            out.push_str(&format!("{title} ({}):\n", items.len()));
            for item in items {
                out.push_str(&format!("  {item}\n"));
            }
        }
    };
    section(
        &mut out,
        "Manual (reported, not changed)",
        outcome
            .manual
            .iter()
            .map(|cs| format!("{} [{}] {}", cs.location, cs.rule, cs.reason.as_deref().unwrap_or("")))
            .collect(),
    );
    section(
        &mut out,
        "Skipped unsafe fixes (apply with --unsafe)",
        outcome.unsafe_skipped.iter().map(|cs| format!("{} [{}] {}", cs.location, cs.rule, cs.description)).collect(),
    );
    section(
        &mut out,
        "Rejected in review",
        outcome.rejected.iter().map(|cs| format!("{} [{}] {}", cs.location, cs.rule, cs.description)).collect(),
    );
    section(
        &mut out,
        "Dropped (not applied)",
        outcome
            .dropped
            .iter()
            .map(|d| format!("{} [{}] {}", d.change_set.location, d.change_set.rule, d.why))
            .collect(),
    );
    section(
        &mut out,
        "Errors (not applied)",
        outcome
            .errors
            .iter()
            .map(|d| format!("{} [{}] error: {}", d.change_set.location, d.change_set.rule, d.why))
            .collect(),
    );
    section(
        &mut out,
        "Skipped files",
        outcome.skipped_files.iter().map(|s| format!("{}: {}", s.path, s.reason)).collect(),
    );
    let mut follow_ups: Vec<&String> = outcome.applied.iter().flat_map(|cs| &cs.follow_ups).collect();
    follow_ups.sort();
    follow_ups.dedup();
    section(&mut out, "Follow-ups", follow_ups.into_iter().cloned().collect());
    if outcome.hit_pass_limit {
        out.push_str(&format!(
            "warning: stopped after {} passes with fixes still pending; run `strata fix` again or report the recipe that keeps changing code\n",
            crate::fix::MAX_PASSES
        ));
    }
    out
}
