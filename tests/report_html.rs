//! The HTML evidence report in a real browser: headless Chromium (Debian's, driven by playwright
//! from tests/browser_check.py) loads the page from a file. It must load nothing else, log nothing,
//! run no script (not even one a description smuggles in), show the rules, diffs and sites, draw
//! its bars to scale, and put them, in their colours, in a full-page screenshot.
//!
//! The screenshot is decoded here with the `png` crate rather than with Pillow in the driver: the
//! pixel checks then sit with the other assertions, and the venv gains no native package for them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use strata::output::evidence::{
    ChangeSetEvidence, Evidence, ExceptionRow, FileStatus, FileTouched, ManualSite, Revision, RuleRow,
};
use strata::output::report;

/// `$STRATA_PYTHON`, the venv scripts/test prepares. Missing is a failure, never a skip.
fn python() -> PathBuf {
    match std::env::var_os("STRATA_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "STRATA_PYTHON is not set: run these tests through scripts/test, which installs Chromium \
             (apt-get) and tests/requirements.txt (playwright) into .venv and exports STRATA_PYTHON"
        ),
    }
}

/// Loads `html` (written to `dir`) in Chromium; returns the driver's report, whose screenshot is in `dir`.
fn load(dir: &Path, html: &str) -> Value {
    let page = dir.join("report.html");
    std::fs::write(&page, html).unwrap();
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser_check.py");
    let out = Command::new(python())
        .arg(driver)
        .arg(&page)
        .arg(dir.join("screenshot.png"))
        .output()
        .expect("the Python interpreter runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tests/browser_check.py failed ({}):\n{stderr}", out.status);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("the driver printed no JSON ({e}):\n{stderr}"))
}

/// RGB pixels of a PNG and its width.
fn pixels(path: &Path) -> (Vec<[u8; 3]>, usize) {
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("the screenshot exists"));
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    let rgb = buf[..info.buffer_size()].chunks_exact(channels).map(|p| [p[0], p[1], p[2]]).collect();
    (rgb, info.width as usize)
}

/// `rgb(209, 73, 91)` as bytes.
fn css_rgb(colour: &Value) -> [u8; 3] {
    let text = colour.as_str().unwrap_or_else(|| panic!("not a colour: {colour}"));
    let inner = text.strip_prefix("rgb(").and_then(|t| t.strip_suffix(')')).unwrap_or_else(|| panic!("{text}"));
    let parts: Vec<u8> = inner.split(',').map(|p| p.trim().parse().unwrap()).collect();
    parts.try_into().unwrap_or_else(|_| panic!("{text}"))
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.to_string()).collect()
}

const CREATE_DIFF: &str = r#"--- a/backend/app/hoc/api/cus/audit/ingest.py
+++ b/backend/app/hoc/api/cus/audit/ingest.py
@@ -30,9 +30,8 @@ async def ingest_events(
     db_session: AsyncSession = Depends(get_async_session_dep),
 ):
     """Insert a batch of events; e.g. ``await db_session.commit()`` once at the end."""
-    accepted = 0
-    for ev in events:
-        db_session.add(AuditEvent(tenant_id=tenant_id, kind=ev.kind, message=ev.message[:MAX_MESSAGE]))
-        accepted += 1
-    await db_session.commit()
-    return {"accepted": accepted}
+    result = await registry.execute(
+        "audit.ingest_events",
+        OperationContext(session=db_session, tenant_id=tenant_id, params={"events": events}),
+    )
+    return result
--- /dev/null
+++ b/backend/app/hoc/cus/audit/L6_drivers/ingest_driver.py
@@ -0,0 +1,9 @@
+"""L6 driver for audit ingestion: database access only, with the session it is given."""
+
+
+async def ingest_events(session, tenant_id, events):
+    accepted = 0
+    for ev in events:
+        session.add(AuditEvent(tenant_id=tenant_id, kind=ev.kind, message=ev.message[:MAX_MESSAGE]))
+        accepted += 1
+    return {"accepted": accepted}
"#;

const FLUSH_DIFF: &str = r#"--- a/backend/app/hoc/cus/billing/L6_drivers/invoice_driver.py
+++ b/backend/app/hoc/cus/billing/L6_drivers/invoice_driver.py
@@ -14,6 +14,6 @@ async def mark_paid(session, invoice_id):
     invoice = await session.get(Invoice, invoice_id)
     if invoice is None or invoice.amount < 0 and invoice.status != "void":
         return None
     invoice.status = "paid"
-    await session.commit()
+    await session.flush()
     return invoice
"#;

/// A migration as `strata migrate` would describe it, with text that must not become markup.
fn evidence() -> Evidence {
    let manual = |rule: &str, location: &str, reason: &str| ManualSite {
        rule: rule.into(),
        location: location.into(),
        reason: reason.into(),
    };
    Evidence {
        base: Revision { name: "main".into(), commit: "3f9c2a1d5e7b8c0a4f6e2d1c9b8a7f6e5d4c3b2a".into() },
        head: Some(Revision {
            name: "strata/migrate".into(),
            commit: "8e1d4c7b0a9f2e5d3c6b1a0f9e8d7c6b5a4f3e2d".into(),
        }),
        rules: vec![
            RuleRow { rule: "l2-db-execute".into(), before: 29, after: 3 },
            RuleRow { rule: "l2-transaction".into(), before: 11, after: 0 },
            RuleRow { rule: "l6-transaction".into(), before: 8, after: 2 },
            RuleRow { rule: "imports-l2".into(), before: 0, after: 0 },
        ],
        files: vec![
            FileTouched {
                path: "backend/app/hoc/api/cus/audit/ingest.py".into(),
                status: FileStatus::Modified,
                added_lines: 5,
                removed_lines: 6,
            },
            FileTouched {
                path: "backend/app/hoc/cus/audit/L6_drivers/ingest_driver.py".into(),
                status: FileStatus::Added,
                added_lines: 9,
                removed_lines: 0,
            },
            FileTouched {
                path: "backend/app/hoc/cus/billing/L6_drivers/invoice_driver.py".into(),
                status: FileStatus::Modified,
                added_lines: 1,
                removed_lines: 1,
            },
        ],
        change_sets: vec![
            ChangeSetEvidence {
                id: 1,
                rule: "l2-db-execute".into(),
                applicability: "safe".into(),
                location: "backend/app/hoc/api/cus/audit/ingest.py:35:9".into(),
                description: "move the database work of `ingest_events` into an L6 driver <script>alert(1)</script>"
                    .into(),
                also_fixes: vec!["l2-transaction backend/app/hoc/api/cus/audit/ingest.py:37:11".into()],
                follow_ups: vec!["register `audit.ingest_events` in register_all_handlers".into()],
                diff: CREATE_DIFF.into(),
                verification: Some("verified".into()),
            },
            ChangeSetEvidence {
                id: 2,
                rule: "l6-transaction".into(),
                applicability: "safe".into(),
                location: "backend/app/hoc/cus/billing/L6_drivers/invoice_driver.py:18:11".into(),
                description: "turn `session.commit()` into `session.flush()`: the L4 handler commits".into(),
                also_fixes: vec![],
                follow_ups: vec![],
                diff: FLUSH_DIFF.into(),
                verification: None,
            },
        ],
        manual: vec![
            manual("l2-db-execute", "backend/app/hoc/api/cus/billing/statements.py:41:15", "SQL built at run time"),
            manual("l2-db-execute", "backend/app/hoc/api/cus/billing/invoices.py:77:9", "SQL built at run time"),
            manual(
                "l6-transaction",
                "backend/app/hoc/cus/orders/L6_drivers/sync.py:12:5",
                "commit in a loop & <retry>",
            ),
        ],
        exceptions: vec![ExceptionRow {
            rule: "l6-transaction".into(),
            path: "backend/app/hoc/cus/legacy/**".into(),
            owner: "@payments-team".into(),
            reason: "batch importer commits per chunk".into(),
            expires: Some("2027-03-31".into()),
            state: "active".into(),
            matched: 2,
        }],
        commands: vec!["strata migrate --base main".into(), "strata check --statistics".into()],
        verification: Some("pytest: 128 passed".into()),
    }
}

#[test]
fn the_report_renders_in_chromium_self_contained_and_to_scale() {
    let dir = tempfile::tempdir().unwrap();
    let result = load(dir.path(), &report::html(&evidence()));

    // Nothing logged, nothing thrown, and no request but the page itself.
    assert_eq!(strings(&result["console"]), Vec::<String>::new(), "console messages");
    assert_eq!(strings(&result["page_errors"]), Vec::<String>::new(), "page errors");
    assert_eq!(strings(&result["failed_requests"]), Vec::<String>::new(), "failed requests");
    assert_eq!(result["requests"].as_array().unwrap(), &[result["url"].clone()], "requests other than the page");
    assert_eq!(result["scripts"], 0, "the page has a <script> element");
    assert_eq!(result["title"], "strata migration: 48 violations before, 5 after");

    let text = result["text"].as_str().unwrap();
    for expected in [
        "l2-db-execute",
        "l2-transaction",
        "l6-transaction",
        "imports-l2",
        // The description's markup is text, shown as written.
        "into an L6 driver <script>alert(1)</script>",
        "+        \"audit.ingest_events\",",
        "-    await db_session.commit()",
        "+    await session.flush()",
        "+++ b/backend/app/hoc/cus/audit/L6_drivers/ingest_driver.py",
        "if invoice is None or invoice.amount < 0 and invoice.status != \"void\":",
        "SQL built at run time (2)",
        "commit in a loop & <retry> (1)",
        "@payments-team",
        "2027-03-31",
        "strata migrate --base main",
        "pytest: 128 passed",
    ] {
        assert!(text.contains(expected), "the page does not show `{expected}`:\n{text}");
    }

    // Each bar is its count's share of the track, the largest count (29) filling it.
    let bars = result["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 4, "{bars:?}");
    let mut bar_area = [0.0, 0.0];
    for row in bars {
        let track = row["track"].as_f64().unwrap();
        assert!(track > 200.0, "the bar track is {track}px wide: {row}");
        for (i, which) in ["before", "after"].into_iter().enumerate() {
            let bar = &row[which];
            let expected = bar["count"].as_f64().unwrap() / 29.0 * track;
            let width = bar["width"].as_f64().unwrap();
            assert!((width - expected).abs() < 1.0, "{which} bar of {}: {width}px, expected {expected}px", row["rule"]);
            bar_area[i] += width * bar["height"].as_f64().unwrap();
        }
    }
    assert_eq!(bars[0]["before"]["width"], bars[0]["track"], "the largest count fills its track");

    let (pixels, width) = pixels(Path::new(result["screenshot"].as_str().unwrap()));
    assert_eq!(width, 1280, "the viewport's width at scale 1");
    assert!(pixels.len() / width > 800, "a full-page screenshot is taller than the viewport");
    let count = |rgb: [u8; 3]| pixels.iter().filter(|&&p| p == rgb).count();
    let not_white = pixels.iter().filter(|p| p.iter().any(|&c| c < 245)).count();
    assert!(not_white * 20 > pixels.len(), "only {not_white} of {} pixels are not white", pixels.len());
    // The bars are drawn, in their colours (the legend's swatches only add to the count).
    for (i, which) in ["before", "after"].into_iter().enumerate() {
        let colour = css_rgb(&bars[0][which]["colour"]);
        let drawn = count(colour) as f64;
        assert!(drawn >= bar_area[i] * 0.95, "{which} bars: {drawn} pixels of {colour:?}, expected {}", bar_area[i]);
    }
    // The opened diffs colour their added and removed lines.
    let lines = &result["line_colours"];
    for kind in ["add", "del"] {
        let colour = css_rgb(&lines[kind]);
        assert_ne!(colour, [255, 255, 255], "{kind} lines have no background");
        assert!(count(colour) > 5_000, "{kind} lines' colour {colour:?} is barely in the screenshot");
    }
    assert_ne!(css_rgb(&lines["add"]), css_rgb(&lines["del"]));
}

/// The check above can fail: a page that fetches a stylesheet and logs an error is caught.
#[test]
fn the_browser_check_sees_requests_and_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let page = "<!DOCTYPE html><html><head><title>t</title>\
                <link rel=\"stylesheet\" href=\"http://127.0.0.1:9/missing.css\"></head>\
                <body><p>x</p><script>console.error(\"boom\")</script></body></html>";
    let result = load(dir.path(), page);
    let console = result["console"].to_string();
    assert!(console.contains("boom"), "{console}");
    assert!(result["requests"].to_string().contains("127.0.0.1:9/missing.css"), "{}", result["requests"]);
    assert!(result["failed_requests"].to_string().contains("127.0.0.1:9"), "{}", result["failed_requests"]);
    assert_eq!(result["scripts"], 1);
}

/// `strata report --format html` on the sample backend, as a lead opens it: self-contained, silent,
/// every rule and change set on the page, and a screenshot with content.
#[test]
fn the_sample_backend_report_renders_in_chromium() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hoc_app");
    let copy = Command::new("cp").arg("-r").arg(format!("{}/.", sample.display())).arg(root).status().unwrap();
    assert!(copy.success());
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base"],
    ] {
        assert!(Command::new("git").current_dir(root).args(args).status().unwrap().success());
    }
    let page = root.join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .current_dir(root)
        .args(["report", "--format", "html", "-o"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = Command::new(env!("CARGO_BIN_EXE_strata"))
        .current_dir(root)
        .args(["report", "--format", "json"])
        .output()
        .unwrap();
    let evidence: Value = serde_json::from_slice(&json.stdout).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let result = load(dir.path(), &std::fs::read_to_string(&page).unwrap());
    assert_eq!(strings(&result["console"]), Vec::<String>::new(), "console messages");
    assert_eq!(strings(&result["page_errors"]), Vec::<String>::new(), "page errors");
    assert_eq!(result["requests"].as_array().unwrap(), &[result["url"].clone()], "requests other than the page");
    let text = result["text"].as_str().unwrap();
    for row in evidence["rules"].as_array().unwrap() {
        assert!(text.contains(row["rule"].as_str().unwrap()), "{} is not on the page", row["rule"]);
    }
    for cs in evidence["change_sets"].as_array().unwrap() {
        assert!(text.contains(cs["location"].as_str().unwrap()), "change set {} is not on the page", cs["id"]);
    }
    let (pixels, width) = pixels(Path::new(result["screenshot"].as_str().unwrap()));
    assert_eq!(width, 1280);
    let not_white = pixels.iter().filter(|p| p.iter().any(|&c| c < 245)).count();
    assert!(not_white * 20 > pixels.len(), "only {not_white} of {} pixels are not white", pixels.len());
}
