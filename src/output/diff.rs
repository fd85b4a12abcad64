//! Unified diffs of fixed files (new files from /dev/null), coloured on a terminal.

use owo_colors::OwoColorize;
use similar::TextDiff;

/// A unified diff of one file; `old` is `None` for a created file.
pub fn unified(path: &str, old: Option<&str>, new: &str, color: bool) -> String {
    let before = old.unwrap_or("");
    let diff = TextDiff::from_lines(before, new);
    let old_header = if old.is_some() { format!("a/{path}") } else { "/dev/null".to_string() };
    let mut text = diff.unified_diff().context_radius(3).header(&old_header, &format!("b/{path}")).to_string();
    // An empty new file has no lines to show, but a reviewer must still see it is created.
    if old.is_none() && new.is_empty() {
        text = format!("--- /dev/null\n+++ b/{path}\n(new empty file)\n");
    }
    if !color {
        return text;
    }
    text.lines()
        .map(|line| {
            let styled = if line.starts_with("+++") || line.starts_with("---") {
                line.bold().to_string()
            } else if line.starts_with('+') {
                line.green().to_string()
            } else if line.starts_with('-') {
                line.red().to_string()
            } else if line.starts_with("@@") {
                line.cyan().to_string()
            } else {
                line.to_string()
            };
            styled + "\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_diff_from_dev_null() {
        let text = unified("a.py", None, "x = 1\n", false);
        assert!(text.starts_with("--- /dev/null\n+++ b/a.py\n"), "{text}");
        assert!(text.contains("+x = 1"));
    }

    #[test]
    fn an_empty_new_file_is_shown() {
        assert_eq!(unified("p/__init__.py", None, "", false), "--- /dev/null\n+++ b/p/__init__.py\n(new empty file)\n");
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!unified("a.py", Some("a\n"), "b\n", false).contains('\u{1b}'));
        assert!(unified("a.py", Some("a\n"), "b\n", true).contains('\u{1b}'));
    }
}
