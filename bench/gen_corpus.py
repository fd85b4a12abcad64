#!/usr/bin/env python3
"""Generate a synthetic HOC-layout corpus for bench/run.sh.

Usage: gen_corpus.py SAMPLE_BACKEND OUT_DIR TARGET_FILES

OUT_DIR/backend starts as a copy of the sample app's backend (tests and caches excluded). Then,
until the corpus holds at least TARGET_FILES Python files, one replica domain dNNNN is added:
  - backend/app/hoc/api/cus/dNNNN/            every L2 router of every sample domain
  - backend/app/hoc/cus/dNNNN/L5_engines/     every sample L5 engine
  - backend/app/hoc/cus/dNNNN/L6_drivers/     every sample L6 driver
with imports of the sample domains (`app.hoc.cus.<domain>.`) renamed to `app.hoc.cus.dNNNN.`.
Every replica therefore carries the same violations as the sample app, in new files and modules.
Prints the number of Python files and replicas.
"""

import re
import shutil
import sys
from pathlib import Path


def main() -> int:
    sample, out, target = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    backend = out / "backend"
    shutil.copytree(sample, backend, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.db"))

    api_cus = sample / "app/hoc/api/cus"
    cus = sample / "app/hoc/cus"
    domains = sorted(p.name for p in cus.iterdir() if p.is_dir() and p.name != "hoc_spine")
    rename = re.compile(r"\bapp\.hoc\.cus\.(%s)\." % "|".join(map(re.escape, domains)))

    # (relative destination inside the replica, source text); files with the same name across
    # sample domains are only package markers (__init__.py), so merging domains loses nothing.
    template: dict[str, str] = {}
    for f in sorted(api_cus.glob("*/*.py")):
        template[f"api/{f.name}"] = f.read_text()
    for layer in ("L5_engines", "L6_drivers"):
        for f in sorted(cus.glob(f"*/{layer}/*.py")):
            template[f"{layer}/{f.name}"] = f.read_text()
    template["__init__.py"] = ""

    count = sum(1 for _ in backend.rglob("*.py"))
    replicas = 0
    while count < target:
        replicas += 1
        name = f"d{replicas:04d}"
        for rel, text in template.items():
            kind, _, fname = rel.rpartition("/")
            if kind == "api":
                dest = backend / "app/hoc/api/cus" / name / fname
            elif kind:
                dest = backend / "app/hoc/cus" / name / kind / fname
            else:
                dest = backend / "app/hoc/cus" / name / fname
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(rename.sub(f"app.hoc.cus.{name}.", text))
            count += 1
    print(f"{count} {replicas}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
