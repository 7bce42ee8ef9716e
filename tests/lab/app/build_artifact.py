"""Builds the demo app's release artifact: bgdemo-<version>.tar.gz and its .sha256.

The artifact holds the app source, a VERSION file and every wheel it needs for the lab
hosts' Python 3.11, because pip cannot reach a package index from inside the containers.
The tarball is byte-for-byte reproducible (sorted entries, fixed mtimes and owners, gzip
without a timestamp), so rebuilding a version gives the same checksum and a provisioning
run stays idempotent.

`--defect NAME=VALUE` (repeatable; defects combine) builds a release with a built-in fault that
no configuration of the host can mend: what a real bad release is like. The DEFECTS file it
writes beside VERSION is read by bgdemo/settings.py, whose docstring says what each does:

  error_rate=<fraction>                 every business route fails at that rate
  added_latency_ms=<ms>                 every business request is slower by <ms>
  tracing=off                           no traces at all
  latency_under_load_ms=<ms>            <ms> more above a request rate: slow only under load ...
  load_threshold_rps=<req/s>            ... above that rate per process (default 40)
  failing_route=<path>                  one business route (/api/quote, /api/basket) fails ...
  failing_route_error_rate=<fraction>   ... at that rate (default 1.0)
  dependency_latency_ms=<ms>            the calls to the dependency are slower by <ms>

An unknown name or a bad value is refused here, before anything is built.

`--pin NAME==VERSION` (repeatable) builds a release whose requirements pin another version of
one of its packages, with that version's wheel: what a release that brings back a vulnerable
library is like (the lab's advisories name requests 2.31.0).

`--migrations DIR` ships the migrations in DIR (tests/lab/migrations/*) with the release,
beside its queries (migrations/queries.sql).

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
# The app checks its DEFECTS file with the same code when it starts, so a release built here
# never fails to start over a defect value.
sys.path.insert(0, str(HERE))
from bgdemo.settings import defect_forms  # noqa: E402  pylint: disable=wrong-import-position
from bgdemo.settings import parse_defects as check_defects  # noqa: E402  pylint: disable=wrong-import-position

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


def pinned_requirements(pins):
    """requirements.txt with each of `pins` ("name==version") in place of its line; refuses a
    package the release does not have."""
    lines = (HERE / "requirements.txt").read_text().splitlines()
    names = {line.split("==")[0].lower(): index for index, line in enumerate(lines) if "==" in line}
    for pin in pins:
        name, separator, pinned = pin.partition("==")
        if not separator or not pinned or name.lower() not in names:
            raise ValueError(f"--pin {pin!r}: expected NAME==VERSION for one of {', '.join(sorted(names))}")
        lines[names[name.lower()]] = f"{name}=={pinned}"
    return "\n".join(lines) + "\n"


def artifact_bytes(version, wheels, defects=None, requirements=None, migrations=None):
    members = {"VERSION": (version + "\n").encode(),
               "requirements.txt": requirements.encode() if requirements else (HERE / "requirements.txt").read_bytes()}
    if defects:
        members["DEFECTS"] = (json.dumps(defects, sort_keys=True) + "\n").encode()
    for source in sorted((HERE / "bgdemo").glob("*.py")):
        members[f"bgdemo/{source.name}"] = source.read_bytes()
    # The release's queries, and the migrations it carries (a directory of the lab's, e.g.
    # tests/lab/migrations/compatible), under migrations/.
    for source in sorted((HERE / "migrations").glob("*.sql")) + sorted(Path(migrations).glob("*.sql") if migrations else []):
        members[f"migrations/{source.name}"] = source.read_bytes()
    for wheel in sorted(wheels.glob("*.whl")):
        members[f"wheels/{wheel.name}"] = wheel.read_bytes()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            _add(tar, f"bgdemo-{version}/{name}", members[name])
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def parse_defects(items):
    """["NAME=VALUE", ...] from the command line -> the DEFECTS mapping, every value as given.
    Raises ValueError naming the item and what was expected."""
    defects = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not value:
            raise ValueError(f"--defect {item!r} is not NAME=VALUE; expected one of {defect_forms()}")
        if name in defects:
            raise ValueError(f"--defect {item!r}: {name} was already given as {defects[name]!r}")
        defects[name] = value
    check_defects(defects)  # its SettingsError is a ValueError naming the defect and the value
    return defects


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--wheel-cache", type=Path, default=None)
    parser.add_argument("--wheels-only", action="store_true",
                        help="only fill --wheel-cache (the lab's Tempo stand-in installs from it too)")
    parser.add_argument("--migrations", type=Path, metavar="DIR",
                        help="ship the migrations (<NNNN>_<name>.<expand|contract>.sql) of DIR with the release")
    parser.add_argument("--pin", action="append", default=[], metavar="NAME==VERSION",
                        help="pin another version of one of the release's packages (repeatable)")
    parser.add_argument("--defect", action="append", default=[], metavar="NAME=VALUE",
                        help=f"build a deliberately broken release for the demo, tests and benchmarks (repeatable, defects "
                             f"combine): {defect_forms()}")
    args = parser.parse_args(argv)
    if args.wheels_only:
        if not args.wheel_cache:
            parser.error("--wheels-only needs --wheel-cache")
        download_wheels(HERE / "requirements.txt", args.wheel_cache)
        print(args.wheel_cache)
        return
    if not args.version or not args.out:
        parser.error("--version and --out are required to build a release")
    if not VERSION_PATTERN.match(args.version):
        parser.error(f"--version {args.version!r} is not a release version like 1.2.3")
    try:
        defects = parse_defects(args.defect)
    except ValueError as exc:
        parser.error(str(exc))
    wheels = args.wheel_cache or args.out / "wheels"
    requirements = None
    if args.pin:
        try:
            requirements = pinned_requirements(args.pin)
        except ValueError as exc:
            parser.error(str(exc))
        # The pinned set has a wheel cache of its own, so that the usual one stays whole.
        pinned = wheels.parent / f"{wheels.name}-{hashlib.sha256(requirements.encode()).hexdigest()[:12]}"
        pinned.mkdir(parents=True, exist_ok=True)
        (pinned / "requirements.txt").write_text(requirements)
        download_wheels(pinned / "requirements.txt", pinned)
        wheels = pinned
    else:
        download_wheels(HERE / "requirements.txt", wheels)
    if args.migrations and not args.migrations.is_dir():
        parser.error(f"--migrations {args.migrations}: not a directory")
    data = artifact_bytes(args.version, wheels, defects, requirements, args.migrations)
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
