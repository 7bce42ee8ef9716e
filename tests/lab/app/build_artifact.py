"""Builds the demo app's release artifact: bgdemo-<version>.tar.gz and its .sha256.

The artifact holds the app source, a VERSION file and every wheel it needs for the lab
hosts' Python 3.11, because pip cannot reach a package index from inside the containers.
The tarball is byte-for-byte reproducible (sorted entries, fixed mtimes and owners, gzip
without a timestamp), so rebuilding a version gives the same checksum and a provisioning
run stays idempotent.

`--defect` builds a release with a built-in fault (a higher error rate, tracing switched off,
added latency) that no configuration of the host can mend: what a real bad release is like.

Prints one JSON line: {"version", "path", "sha256", "built"}.
"""
import argparse
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_PLATFORM_ARGS = [
    "--python-version", "3.11", "--only-binary=:all:",
    "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
    "--platform", "manylinux_2_28_x86_64", "--platform", "any",
]
VERSION_PATTERN = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([.-][0-9A-Za-z.]+)?$")


def download_wheels(requirements, cache):
    """Fills the wheel cache once per set of requirements; a stamp records which set it holds."""
    stamp = cache / ".requirements.sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob("*.whl"):
        old.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache), "-r", str(requirements)]
        + TARGET_PLATFORM_ARGS,
        check=True,
    )
    stamp.write_text(wanted + "\n")


def _add(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def artifact_bytes(version, wheels, defects=None):
    members = {"VERSION": (version + "\n").encode(), "requirements.txt": (HERE / "requirements.txt").read_bytes()}
    if defects:
        members["DEFECTS"] = (json.dumps(defects, sort_keys=True) + "\n").encode()
    for source in sorted((HERE / "bgdemo").glob("*.py")):
        members[f"bgdemo/{source.name}"] = source.read_bytes()
    for wheel in sorted(wheels.glob("*.whl")):
        members[f"wheels/{wheel.name}"] = wheel.read_bytes()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            _add(tar, f"bgdemo-{version}/{name}", members[name])
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--wheel-cache", type=Path, default=None)
    parser.add_argument("--defect", action="append", default=[], metavar="NAME=VALUE",
                        help="build a deliberately broken release for the demo and tests: error_rate=0.3, tracing=off, "
                             "added_latency_ms=200")
    args = parser.parse_args(argv)
    if not VERSION_PATTERN.match(args.version):
        parser.error(f"--version {args.version!r} is not a release version like 1.2.3")
    defects = {}
    for item in args.defect:
        name, _sep, value = item.partition("=")
        if name not in ("error_rate", "tracing", "added_latency_ms") or not value:
            parser.error(f"--defect {item!r}: expected error_rate=<fraction>, tracing=off or added_latency_ms=<ms>")
        defects[name] = value
    wheels = args.wheel_cache or args.out / "wheels"
    download_wheels(HERE / "requirements.txt", wheels)
    data = artifact_bytes(args.version, wheels, defects)
    digest = hashlib.sha256(data).hexdigest()
    path = args.out / f"bgdemo-{args.version}.tar.gz"
    built = not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest
    if built:
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    (args.out / f"{path.name}.sha256").write_text(f"{digest}  {path.name}\n")
    print(json.dumps({"version": args.version, "path": str(path), "sha256": digest, "built": built}))


if __name__ == "__main__":
    main()
