//! Inline suppressions: `# strata: allow[RULE-ID, ...] reason` comments.
//!
//! Read from the syntax tree's comment nodes, so the same text in a string or docstring is not a
//! suppression. A trailing comment covers its own line; a comment alone on its line covers the
//! next line that is not a comment (a block of comment lines may sit between, a blank line may
//! not). A suppression covers the findings of its rules that start on the line it covers.

use std::collections::BTreeSet;
use std::ops::Range;

use crate::python::{self, SourceFile};

/// The marker every suppression contains; files without it are not searched for comments.
pub const MARKER: &str = "strata:";

/// One `# strata: ...` directive found in a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// 1-based line of the comment.
    pub line: usize,
    /// Byte range of the directive (from its `#` to the end of the comment).
    pub span: Range<usize>,
    /// The line whose findings it covers; `None` when nothing follows it (a blank line, the end).
    pub target: Option<usize>,
    /// The rule ids and the reason, or why the directive is malformed.
    pub parsed: Result<Allow, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub rules: Vec<String>,
    pub reason: String,
}

/// Whether raw file bytes may hold a directive (the cheap test before walking the tree).
pub fn may_contain(bytes: &[u8]) -> bool {
    bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes())
}

/// Every directive in a parsed file, in source order.
pub fn directives(file: &SourceFile) -> Vec<Directive> {
    if !file.text.contains(MARKER) {
        return Vec::new();
    }
    // (line, byte range, alone on its line) of every comment.
    let mut comments: Vec<(usize, Range<usize>, bool)> = Vec::new();
    python::for_each_node(file.tree.root_node(), |node| {
        if node.kind() == "comment" {
            let range = node.byte_range();
            let line_start = file.text[..range.start].rfind('\n').map_or(0, |i| i + 1);
            let alone = file.text[line_start..range.start].trim().is_empty();
            comments.push((node.start_position().row + 1, range, alone));
        }
    });
    let comment_lines: BTreeSet<usize> = comments.iter().filter(|(_, _, alone)| *alone).map(|(l, _, _)| *l).collect();
    let lines: Vec<&str> = file.text.lines().collect();
    let mut out = Vec::new();
    for (line, range, alone) in comments {
        let text = &file.text[range.clone()];
        let Some(offset) = directive_start(text) else { continue };
        let target = if alone {
            let mut next = line + 1;
            while comment_lines.contains(&next) {
                next += 1;
            }
            lines.get(next - 1).filter(|l| !l.trim().is_empty()).map(|_| next)
        } else {
            Some(line)
        };
        out.push(Directive { line, span: range.start + offset..range.end, target, parsed: parse(&text[offset..]) });
    }
    out
}

/// Where a directive starts in a comment: a `#` (the comment's own, or one inside it, as in
/// `# noqa: E501  # strata: allow[...] why`) followed by optional spaces and `strata:`.
fn directive_start(comment: &str) -> Option<usize> {
    comment.match_indices('#').map(|(i, _)| i).find(|&i| {
        let before_ok = i == 0 || comment[..i].ends_with(char::is_whitespace);
        before_ok && comment[i + 1..].trim_start().starts_with(MARKER)
    })
}

/// Parses `# strata: allow[a, b] reason` (the reason may follow a `:` or `-`).
fn parse(directive: &str) -> Result<Allow, String> {
    let usage = "write `# strata: allow[RULE-ID] reason`";
    let rest = directive.trim_start_matches('#').trim_start();
    let rest = rest[MARKER.len()..].trim_start();
    let Some(rest) = rest.strip_prefix("allow") else {
        return Err(format!("not a suppression: {usage}"));
    };
    let Some(rest) = rest.trim_start().strip_prefix('[') else {
        return Err(format!("the rule ids go in brackets: {usage}"));
    };
    let Some(close) = rest.find(']') else {
        return Err(format!("`[` is not closed: {usage}"));
    };
    let rules: Vec<String> =
        rest[..close].split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_string).collect();
    if rules.is_empty() {
        return Err(format!("no rule id between the brackets: {usage}"));
    }
    let reason = rest[close + 1..].trim_start().trim_start_matches([':', '-', '\u{2014}']).trim();
    if reason.is_empty() {
        return Err(format!(
            "a suppression needs a reason after the brackets (`# strata: allow[{}] why it is justified`)",
            rules.join(", ")
        ));
    }
    Ok(Allow { rules, reason: reason.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parsed(code: &str) -> Vec<Directive> {
        let file = SourceFile::parse("a.py".into(), PathBuf::from("a.py"), code.as_bytes().to_vec()).unwrap();
        directives(&file)
    }

    #[test]
    fn trailing_and_own_line_directives_cover_their_lines() {
        let code = "x = 1  # strata: allow[r1] legacy\n# strata: allow[r2, r3]: moved in Q3\n# more words\ny = 2\n";
        let d = parsed(code);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].line, d[0].target), (1, Some(1)));
        assert_eq!(d[0].parsed, Ok(Allow { rules: vec!["r1".into()], reason: "legacy".into() }));
        assert_eq!((d[1].line, d[1].target), (2, Some(4)));
        assert_eq!(d[1].parsed, Ok(Allow { rules: vec!["r2".into(), "r3".into()], reason: "moved in Q3".into() }));
        assert_eq!(&code[d[0].span.clone()], "# strata: allow[r1] legacy");
    }

    #[test]
    fn a_blank_line_ends_what_an_own_line_directive_covers() {
        let d = parsed("# strata: allow[r] why\n\ny = 2\n");
        assert_eq!(d[0].target, None);
        let d = parsed("y = 2\n# strata: allow[r] why\n");
        assert_eq!(d[0].target, None);
    }

    #[test]
    fn strings_and_prose_are_not_directives() {
        assert!(parsed("s = '# strata: allow[r] why'\n\"\"\"\n# strata: allow[r] why\n\"\"\"\n").is_empty());
        assert!(parsed("# see the strata: docs\nx = 1\n").is_empty());
        assert!(parsed("x = 1  # nothing here\n").is_empty());
    }

    #[test]
    fn a_directive_after_another_tools_comment() {
        let d = parsed("x = 1  # noqa: E501  # strata: allow[r] long line, legacy\n");
        assert_eq!(d[0].parsed, Ok(Allow { rules: vec!["r".into()], reason: "long line, legacy".into() }));
    }

    #[test]
    fn malformed_directives_say_why() {
        let err = |code: &str| parsed(code)[0].parsed.clone().unwrap_err();
        assert!(err("x = 1  # strata: allow[r]\n").contains("reason"));
        assert!(err("x = 1  # strata: allow[r] :  \n").contains("reason"));
        assert!(err("x = 1  # strata: allow[] why\n").contains("no rule id"));
        assert!(err("x = 1  # strata: allow[r why\n").contains("not closed"));
        assert!(err("x = 1  # strata: allow r why\n").contains("brackets"));
        assert!(err("x = 1  # strata: ignore[r] why\n").contains("not a suppression"));
    }

    #[test]
    fn the_marker_test_is_on_raw_bytes() {
        assert!(may_contain(b"x = 1  # strata: allow[r] why"));
        assert!(!may_contain(b"x = 1  # noqa"));
    }
}
