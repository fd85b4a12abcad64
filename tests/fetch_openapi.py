"""Fetch, verify and cache the OpenAPI description tests/openapi.lock pins.

Run by scripts/test before `cargo test`, so that the tests only read the cached file: the npm
package's tarball and the description extracted from it go to .cache/openapi/VERSION/. The
tarball comes through npm, the npm registry's own client (`npm pack`, as npm is configured here);
the rest is Python's standard library. A cached tarball is checked against the pinned integrity on
every run, and fetched again when it is missing or different. Any failure (no npm, the network,
the integrity, a file missing from the tarball) exits non-zero with the reason.
"""

import base64
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def read_lock():
    lock = {}
    for line in (ROOT / "tests/openapi.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            lock[key] = value.strip()
    return lock


def integrity(data):
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def write_atomically(path, data):
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        tmp.write(data)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)


def npm_pack(spec):
    """The bytes of the tarball `npm pack SPEC` fetches."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"fetch_openapi: npm is needed to fetch {spec} for tests/forge.rs; install Node.js and npm")
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run(
            [npm, "pack", spec, "--pack-destination", tmp, "--loglevel=error"], capture_output=True, text=True
        )
        tarballs = list(pathlib.Path(tmp).glob("*.tgz"))
        if run.returncode != 0 or len(tarballs) != 1:
            raise SystemExit(f"fetch_openapi: `npm pack {spec}` failed (exit {run.returncode}):\n{run.stderr}")
        return tarballs[0].read_bytes()


def main():
    lock = read_lock()
    spec = f"{lock['package']}@{lock['version']}"
    cache = ROOT / ".cache/openapi" / lock["version"]
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / "package.tgz"
    described = cache / lock["file"].rsplit("/", 1)[-1]
    data = tarball.read_bytes() if tarball.exists() else b""
    if integrity(data) != lock["integrity"]:
        print(f"fetch_openapi: fetching {spec}", file=sys.stderr)
        data = npm_pack(spec)
        if integrity(data) != lock["integrity"]:
            raise SystemExit(
                f"fetch_openapi: {spec} has integrity {integrity(data)}, tests/openapi.lock pins {lock['integrity']}"
            )
        write_atomically(tarball, data)
        described.unlink(missing_ok=True)
    if not described.exists():
        with tarfile.open(tarball) as archive:
            member = archive.extractfile(f"package/{lock['file']}")
            if member is None:
                raise SystemExit(f"fetch_openapi: {tarball} has no package/{lock['file']}")
            write_atomically(described, member.read())


if __name__ == "__main__":
    main()
