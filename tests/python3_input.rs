//! Detection follows Python 3, not the parser's leniency: files Python 3.12 would reject (Python 2
//! syntax, bytes that are not UTF-8 source) are skipped and listed with the reason, and a call is
//! matched however its code is split over lines.

mod common;

use std::process::Command;

use common::*;

const L6: &str = "backend/app/hoc/cus/shop/L6_drivers";

/// Python-2-only (or otherwise invalid Python 3) files, each with a commit so that the literal
/// prefilter lets it through to the parser, and what the skip reason must say.
const REJECTED: &[(&str, &str, &str)] = &[
    (
        "print_stmt",
        "def save(session):\n    session.commit()\n    print 'saved'\n",
        "Python 2 print statement at line 3, column 5: Python 3 rejects it (call print(...))",
    ),
    (
        "exec_stmt",
        "def save(session, code):\n    exec code\n    session.commit()\n",
        "Python 2 exec statement at line 2",
    ),
    (
        "except_comma",
        "def save(session):\n    try:\n        session.commit()\n    except ValueError, e:\n        raise\n",
        "Python 2 `except E, name:` at line 4",
    ),
    (
        "octal",
        "import os\n\n\ndef save(session, p):\n    os.chmod(p, 0755)\n    session.commit()\n",
        "Python 2 octal literal `0755` at line 5, column 17: Python 3 rejects it (write `0o755`)",
    ),
    ("long", "def save(session):\n    session.commit()\n    return 10L\n", "Python 2 long integer `10L`"),
    (
        "ur_prefix",
        "def save(session):\n    session.commit()\n    return ur'x'\n",
        "Python 2 string prefix `ur` at line 3",
    ),
    ("diamond", "def save(session, a, b):\n    if a <> b:\n        session.commit()\n", "Python 2 comparison `<>`"),
    ("backtick", "def save(session, a):\n    session.commit()\n    return `a`\n", "Python 2 backtick repr"),
    (
        "raise_comma",
        "def save(session):\n    session.commit()\n    raise ValueError, 'no'\n",
        "Python 2 `raise E, value`",
    ),
    ("tuple_param", "def save(session, (a, b)):\n    session.commit()\n", "Python 2 tuple parameter at line 1"),
    ("tabs", "def save(session):\n\tif session:\n        session.commit()\n", "mixes tabs and spaces"),
    ("async_name", "def save(session):\n    async = True\n    session.commit()\n", "`async` used as a name"),
    (
        "kw_order",
        "def save(session, a=1, b):\n    session.commit()\n",
        "a parameter without a default after one with a default",
    ),
    ("arg_order", "def save(session):\n    session.commit(x=1, 2)\n", "a positional argument after a keyword argument"),
];

/// Python 3 files that use the same words: not skipped.
const ACCEPTED: &[(&str, &str)] = &[
    ("print_call", "def save(session):\n    session.commit()\n    print('saved')\n"),
    ("print_shift", "import sys\n\n\ndef save(session):\n    session.commit()\n    print >> sys.stderr, 'x'\n"),
    ("exec_call", "def save(session, code, ns):\n    exec(code) in ns\n    session.commit()\n"),
    (
        "octal_py3",
        "import os\n\n\ndef save(session, p):\n    os.chmod(p, 0o755)\n    session.commit()\n    return 00, 0777j\n",
    ),
    ("prefixes", "def save(session):\n    session.commit()\n    return rb'x', Rb'y', u'z', f'{session!r}'\n"),
    ("tabs_ok", "def save(session):\n\tif session:\n\t\tsession.commit()\n"),
    (
        "async_ok",
        "async def save(session):\n    await session.commit()\n    return [x async for x in session.stream()]\n",
    ),
];

#[test]
fn files_python_3_rejects_are_skipped_with_the_reason() {
    let dir = init_project();
    for (name, code, _) in REJECTED {
        write(dir.path(), &format!("{L6}/{name}.py"), code);
    }
    for (name, code) in ACCEPTED {
        write(dir.path(), &format!("{L6}/{name}.py"), code);
    }
    let (code, stdout, stderr) = run(dir.path(), &["check", "--format", "json", "--select", "l6-transaction"]);
    assert_eq!(code, 1, "{stderr}");
    let v = json(&stdout);
    let skipped: Vec<(&str, &str)> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    for (name, _, reason) in REJECTED {
        let path = format!("{L6}/{name}.py");
        let found =
            skipped.iter().find(|(p, _)| *p == path).unwrap_or_else(|| panic!("{path} not skipped: {skipped:?}"));
        assert!(found.1.contains(reason), "{path}: `{}` lacks `{reason}`", found.1);
        assert!(found.1.contains("Python 3 rejects it"), "{}", found.1);
        assert!(stderr.contains(&format!("warning: skipped {path}: ")), "{stderr}");
    }
    assert_eq!(skipped.len(), REJECTED.len(), "{skipped:?}");
    // Every accepted file is analysed: one violation each.
    let paths: Vec<&str> = v["violations"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    for (name, _) in ACCEPTED {
        assert!(paths.contains(&format!("{L6}/{name}.py").as_str()), "{name} not analysed: {paths:?}");
    }
    // Text output lists them too.
    let (_, _, text) = run(dir.path(), &["check", "--color", "never", "--select", "l6-transaction"]);
    assert!(
        text.contains(&format!("warning: skipped {L6}/print_stmt.py: Python 2 print statement at line 3")),
        "{text}"
    );
}

/// The skip decisions are Python's own: the interpreter the tests use rejects every file listed
/// as rejected and compiles every accepted one.
#[test]
fn python_itself_agrees_with_every_decision() {
    let check = "import ast, sys\nfor path in sys.argv[1:]:\n    try:\n        ast.parse(open(path, 'rb').read())\n        print('ok', path)\n    except SyntaxError:\n        print('rejected', path)\n";
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["-c".to_string(), check.to_string()];
    for (name, code, _) in REJECTED {
        write(dir.path(), &format!("{name}.py"), code);
        args.push(dir.path().join(format!("{name}.py")).display().to_string());
    }
    for (name, code) in ACCEPTED {
        write(dir.path(), &format!("{name}.py"), code);
        args.push(dir.path().join(format!("{name}.py")).display().to_string());
    }
    let out = Command::new(python()).args(&args).output().unwrap();
    let verdicts = String::from_utf8_lossy(&out.stdout);
    for (name, _, _) in REJECTED {
        assert!(
            verdicts.contains(&format!("rejected {}", dir.path().join(format!("{name}.py")).display())),
            "{name}: {verdicts}"
        );
    }
    for (name, _) in ACCEPTED {
        assert!(
            verdicts.contains(&format!("ok {}", dir.path().join(format!("{name}.py")).display())),
            "{name}: {verdicts}"
        );
    }
}

#[test]
fn files_that_are_not_utf8_are_listed_as_skipped_even_unparsed() {
    let dir = init_project();
    let source = "def save(session):\n    session.commit()\n";
    let utf16le: Vec<u8> = source.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = source.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let with_bom = [&[0xff, 0xfe][..], &utf16le].concat();
    let latin1 = b"# -*- coding: latin-1 -*-\ndef save(session):\n    session.commit()  # caf\xe9\n".to_vec();
    let files: &[(&str, Vec<u8>, &str)] = &[
        // The literal prefilter finds no `commit` in these bytes: they used to vanish unlisted.
        ("utf16_bom", with_bom, "UTF-16 (BOM FF FE): strata and Python 3 read UTF-8 source only"),
        ("utf16le", utf16le, "UTF-16LE without a BOM"),
        ("utf16be", utf16be, "UTF-16BE without a BOM"),
        ("nul", b"x = 1\n\x00\n".to_vec(), "a NUL byte at line 2"),
        ("latin1", latin1, "encoded as latin-1 (coding declaration on line 1): strata reads UTF-8 source only"),
        ("broken", b"x = 'caf\xe9'\n".to_vec(), "not valid UTF-8 (byte 8, line 1) and no coding declaration"),
    ];
    for (name, bytes, _) in files {
        write(dir.path(), &format!("{L6}/{name}.py"), bytes);
    }
    write(dir.path(), &format!("{L6}/plain.py"), "x = 1\n");
    let (code, stdout, stderr) = run(dir.path(), &["check", "--format", "json", "--statistics"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let v = json(&stdout);
    let skipped = v["skipped"].as_array().unwrap();
    for (name, _, reason) in files {
        let path = format!("{L6}/{name}.py");
        let entry = skipped.iter().find(|s| s["path"] == path).unwrap_or_else(|| panic!("{path} not listed: {v}"));
        assert!(entry["reason"].as_str().unwrap().contains(reason), "{path}: {}", entry["reason"]);
    }
    assert_eq!(skipped.len(), files.len(), "{v}");
    assert_eq!(v["summary"]["skipped"], files.len());
}

const SPLIT_DRIVER: &str = r#"class ItemDriver:
    def __init__(self, session):
        self._session = session

    async def save(self, item):
        self._session.add(item)
        await self._session \
            .commit()


def save(session, item):
    session.add(item)
    session \
        .commit()


async def undo(session):
    (await session
        .rollback())
"#;

#[test]
fn calls_split_over_lines_are_found_in_drivers() {
    let dir = init_project();
    let driver = format!("{L6}/items_driver.py");
    write(dir.path(), &driver, SPLIT_DRIVER);
    let (code, stdout, stderr) = run(dir.path(), &["check", "--format", "json", "--select", "l6-transaction"]);
    assert_eq!(code, 1, "{stderr}");
    let v = json(&stdout);
    let found: Vec<(u64, &str)> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["start"]["line"].as_u64().unwrap(), f["message"].as_str().unwrap()))
        .collect();
    assert_eq!(found.len(), 3, "{found:?}");
    // The receiver is seen as one name, so its constraint (`self._session`, `session`) holds and
    // messages show it on one line.
    assert_eq!(found[0].0, 7);
    assert!(found[0].1.starts_with("`self._session.commit()` in L6 driver"), "{found:?}");
    assert_eq!(found[1].0, 13);
    assert!(found[1].1.starts_with("`session.commit()` in L6 driver"), "{found:?}");
    assert_eq!(found[2].0, 18);
    assert!(found[2].1.starts_with("`session.rollback()` in L6 driver"), "{found:?}");

    // Their fix (unsafe here: no caller commits) still leaves valid Python.
    let (code, _, summary) = run(dir.path(), &["fix", "--allow-dirty", "--unsafe", "--select", "l6-transaction"]);
    assert_eq!(code, 0, "{summary}");
    assert!(summary.contains("Fixed 3 violations in 1 file"), "{summary}");
    let fixed = read(dir.path(), &driver);
    assert!(!fixed.contains("commit") && !fixed.contains("rollback"), "{fixed}");
    let out = Command::new(python())
        .args(["-m", "py_compile", &dir.path().join(&driver).display().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{fixed}", String::from_utf8_lossy(&out.stderr));
}

const ROUTER: &str = "backend/app/hoc/api/cus/shop/items.py";
const SPLIT_ROUTER: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_session
from app.models import Item

router = APIRouter()


@router.post("/items")
async def create_item(name: str, session: AsyncSession = Depends(get_session)):
    item = Item(name=name)
    session.add(item)
    await session \
        .commit()
    return {"name": name}


@router.delete("/items")
async def drop_items(session: AsyncSession = Depends(get_session)):
    try:
        await session.execute(Item.__table__.delete())
    except Exception:
        (await session
            .rollback())
        raise
    await session.commit()
    return {"ok": True}
"#;

#[test]
fn calls_split_over_lines_are_found_and_extracted_in_routers() {
    let dir = init_project();
    write_registry_scaffold(dir.path());
    write(dir.path(), ROUTER, SPLIT_ROUTER);
    git_commit_all(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["check", "--format", "json", "--select", "l2-transaction"]);
    assert_eq!(code, 1, "{stderr}");
    let v = json(&stdout);
    let lines: Vec<u64> =
        v["violations"].as_array().unwrap().iter().map(|f| f["start"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![14, 24, 27], "{}", v["violations"]);
    assert!(v["violations"][1]["message"].as_str().unwrap().starts_with("`session.rollback()` in L2 module"), "{v}");

    let (code, stdout, stderr) = run(dir.path(), &["fix", "--color", "never"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (_, stdout, _) = run(dir.path(), &["check", "--format", "json", "--select", "l2-transaction,l2-db-execute"]);
    assert_eq!(json(&stdout)["summary"]["violations"], 0, "{stdout}");
    let router = read(dir.path(), ROUTER);
    assert!(!router.contains("commit") && !router.contains("rollback"), "{router}");
    let files: Vec<String> = tree_bytes(dir.path())
        .keys()
        .filter(|p| p.ends_with(".py"))
        .map(|p| dir.path().join(p).display().to_string())
        .collect();
    let out = Command::new(python()).arg("-m").arg("py_compile").args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
