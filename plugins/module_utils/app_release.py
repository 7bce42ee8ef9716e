# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One release of a Python service on a host: the artifact checked, unpacked into its own
directory, its virtualenv built, and the `current` link moved to it only once it is complete.

A release directory is one this module made when it holds its marker (written first, into
the directory it has just created); only such a directory is ever wiped or pruned. It is
complete when its stamp exists too (written last); an incomplete one (an interrupted install)
is wiped and built again, never linked. The artifact is a .tar.gz with one top directory; its
members are checked before anything is written (no absolute paths, no `..`, no links, devices
or other special files, nothing where the module writes itself), because the hosts' Python
(3.11.2 on Debian 12) has no tarfile extraction filters. Runs on the managed host: standard
library only.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import zlib

STAMP = os.path.join(".venv", ".requirements-installed")
# A release without a virtualenv (a binary, a start command) is complete once unpacked.
UNPACKED = ".app_release-unpacked"
MARKER = ".app_release"
# What the module writes into a release itself: an artifact that ships any of it could mark
# its release complete (the stamp) without its requirements ever installed, or made here.
OWN_NAMES = (".venv", MARKER, UNPACKED)
# What reading a damaged .tar.gz raises besides tarfile's own errors (a truncated gzip stream
# ends in EOFError, a corrupt one in zlib.error).
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error)


class ReleaseError(Exception):
    pass


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def holds(path, sha256):
    """Whether `path` is a readable file with that checksum."""
    try:
        return os.path.isfile(path) and sha256_of(path) == sha256
    except OSError:
        return False


def check_version(path, version):
    """Raises ReleaseError unless the VERSION file of the artifact at `path` holds `version`."""
    inside = version_in(path)
    if inside != version:
        raise ReleaseError(f"version: the artifact's VERSION is {inside}, but {version} was requested")


def check_artifact(path, sha256, version, field="artifact"):
    """Raises ReleaseError (naming `field`) unless the artifact at `path` has that checksum
    and its VERSION file holds `version`."""
    found = sha256_of(path)
    if found != sha256:
        raise ReleaseError(f"{field}: {path} has sha256 {found}, expected {sha256}")
    check_version(path, version)


def members_of(archive):
    """(member, path below the top directory) for every member; raises ReleaseError naming
    the first member that could write outside the release or is not a plain file or directory."""
    tops = set()
    members = []
    for member in archive.getmembers():
        name = member.name
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if name.startswith("/") or ".." in parts or not parts:
            raise ReleaseError(f"artifact member {name!r} points outside the release")
        if not (member.isfile() or member.isdir()):
            raise ReleaseError(f"artifact member {name!r} is a link or special file; a release holds plain files only")
        if len(parts) > 1 and parts[1] in OWN_NAMES:
            raise ReleaseError(f"artifact member {name!r} is where app_release writes itself "
                               f"({', '.join(OWN_NAMES)}); an artifact must not ship it")
        tops.add(parts[0])
        if len(parts) > 1:
            members.append((member, os.path.join(*parts[1:])))
    if len(tops) != 1:
        raise ReleaseError(f"the artifact must have one top directory, it has {sorted(tops) or 'none'}")
    return members


def version_in(artifact):
    """The artifact's VERSION file, read without unpacking anything; every member is checked
    on the way (members_of)."""
    try:
        with tarfile.open(artifact, "r:gz") as archive:
            for member, relative in members_of(archive):
                if relative == "VERSION" and member.isfile():
                    content = archive.extractfile(member).read()
                    try:
                        return content.decode("utf-8").strip()
                    except UnicodeDecodeError:
                        raise ReleaseError(f"the artifact's VERSION is not UTF-8 text: {content[:40]!r}") from None
    except ARCHIVE_ERRORS as exc:
        raise ReleaseError(f"the artifact is not a readable .tar.gz: {exc}") from None
    raise ReleaseError("the artifact has no VERSION file in its top directory")


def _files_in(artifact, read):
    """(every file's path below the top directory, {path: bytes} of those `read(path)`
    keeps), without unpacking the release; every member is checked on the way (members_of)."""
    names, contents = [], {}
    try:
        with tarfile.open(artifact, "r:gz") as archive:
            for member, relative in members_of(archive):
                if member.isfile():
                    names.append(relative)
                    if read(relative):
                        contents[relative] = archive.extractfile(member).read()
    except (*ARCHIVE_ERRORS, OSError) as exc:
        raise ReleaseError(f"the artifact {artifact} is not a readable .tar.gz: {exc}") from None
    return names, contents


def python_packages_in(artifact):
    """(wheel file names, requirements.txt text) of a release, read without unpacking it:
    what the security gate matches against advisories."""
    names, contents = _files_in(artifact, lambda path: path == "requirements.txt")
    wheels = sorted(os.path.basename(name) for name in names if name.endswith(".whl"))
    return wheels, contents.get("requirements.txt", b"").decode("utf-8", errors="replace")


def migrations_in(artifact):
    """({file name: SQL} of the release's migrations/*.sql but queries.sql, the text of
    migrations/queries.sql or None), read without unpacking the release."""
    _names, contents = _files_in(artifact, lambda path: os.path.dirname(path) == "migrations" and path.endswith(".sql"))
    try:
        texts = {os.path.basename(path): data.decode("utf-8") for path, data in contents.items()}
    except UnicodeDecodeError as exc:
        raise ReleaseError(f"the artifact {artifact} has a migration that is not UTF-8 text: {exc}") from None
    return {name: text for name, text in texts.items() if name != "queries.sql"}, texts.get("queries.sql")


def unpack(artifact, release_dir):
    """Unpacks below the artifact's top directory into `release_dir` (which must not exist),
    marked as made here before anything else is written into it."""
    os.makedirs(release_dir, mode=0o755)
    with open(os.path.join(release_dir, MARKER), "w", encoding="utf-8") as marker:
        marker.write("made by tracegate.bluegreen.app_release; removed by it when incomplete or beyond keep\n")
    with tarfile.open(artifact, "r:gz") as archive:
        for member, relative in members_of(archive):
            target = os.path.join(release_dir, relative)
            if member.isdir():
                os.makedirs(target, mode=0o755, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            with archive.extractfile(member) as source, open(target, "wb") as destination:
                shutil.copyfileobj(source, destination)
            os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)


def made_here(path, marker=MARKER):
    """Whether `path` is a directory this module made (not a link to one): it holds `marker`."""
    return not os.path.islink(path) and os.path.isfile(os.path.join(path, marker))


def is_release(path):
    """Whether `path` is a release directory this module made."""
    return made_here(path)


def is_complete(release_dir, virtualenv=True):
    return is_release(release_dir) and os.path.exists(os.path.join(release_dir, STAMP if virtualenv else UNPACKED))


def finish_unpacked(release_dir):
    """Marks a release without a virtualenv complete."""
    with open(os.path.join(release_dir, UNPACKED), "w", encoding="utf-8"):
        pass


# Where distributions keep the pip wheel that ensurepip installs (Debian and Ubuntu move it
# out of the standard library).
WHEEL_DIRS = ("/usr/share/python-wheels",)


def bundled_pip_wheel(search=None):
    """The newest pip wheel ensurepip would install, or None. pip runs from its wheel, so a
    release's virtualenv is built without pip in it: ~2 s less per build, and no installer
    left beside the service."""
    if search is None:
        import ensurepip  # pylint: disable=import-outside-toplevel

        search = WHEEL_DIRS + (os.path.join(os.path.dirname(ensurepip.__file__), "_bundled"),)
    wheels = []
    for directory in search:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        wheels += [os.path.join(directory, name) for name in names if name.startswith("pip-") and name.endswith(".whl")]
    return max(wheels, key=lambda path: [int(part) if part.isdigit() else 0
                                         for part in os.path.basename(path)[4:].split("-")[0].split(".")], default=None)


# Virtualenvs shared by the releases whose install would be the same, below the releases'
# directory (hidden: never counted as a release), each named by shared_virtualenv_key() and
# marked as made here before anything is written into it.
SHARED_DIR = ".virtualenvs"
SHARED_MARKER = ".app_release-virtualenv"
# pip options that take nothing from outside the release: an install with only these and
# --find-links into the release is decided by the release's own files and the interpreter.
SELF_CONTAINED_OPTIONS = ("--no-index", "--no-deps", "--require-hashes", "--only-binary=:all:", "--prefer-binary")
FIND_LINKS = ("--find-links", "-f")


def _find_links_in_release(pip_args):
    """The release-relative --find-links directories of `pip_args` (the release's path as
    {release_dir}), or None when an install with them could read anything from
    outside the release (an index, a path elsewhere, an option this does not know)."""
    if "--no-index" not in pip_args:
        return None
    found = []
    args = iter(pip_args)
    for arg in args:
        if arg in FIND_LINKS:
            arg = "--find-links=" + next(args, "")
        if arg.startswith("--find-links="):
            value = arg.split("=", 1)[1]
            relative = value[len("{release_dir}/"):] if value.startswith("{release_dir}/") else ""
            if not relative or ".." in relative.split("/"):
                return None
            found.append(relative)
        elif arg not in SELF_CONTAINED_OPTIONS:
            return None
    return found


def _named_requirements_only(text):
    """Whether every line of requirements.txt names a package (with versions, extras, markers
    or hashes): no path, URL, direct reference or included file, which the key could not cover."""
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line[0] in "-./~" or "/" in line or "@" in line or "\\" in line:
            return False
    return True


def shared_virtualenv_key(release_dir, python, pip_args, pip_wheel):
    """The SHA-256 naming the virtualenv this release's install would build, or None when it
    cannot be shared: the interpreter it runs on, the pip that installs, pip's arguments,
    requirements.txt and every file of the --find-links directories in the release. Shared
    only when that is all the install reads (pip_args with --no-index, links into the release,
    requirements that name packages)."""
    # The release's own path differs from release to release: named by its placeholder.
    pip_args = [re.sub(re.escape(release_dir.rstrip("/")) + r"(?=/|$)", "{release_dir}", arg) for arg in pip_args]
    links = _find_links_in_release(pip_args)
    try:
        with open(os.path.join(release_dir, "requirements.txt"), "rb") as handle:
            requirements = handle.read()
    except OSError:
        return None
    if links is None or not _named_requirements_only(requirements.decode("utf-8", errors="replace")):
        return None
    digest = hashlib.sha256()
    for label, value in (("python", os.path.realpath(python)), ("pip", os.path.basename(pip_wheel or "own pip")),
                         ("pip_args", "\0".join(pip_args)), ("requirements", hashlib.sha256(requirements).hexdigest())):
        digest.update(f"{label}={value}\n".encode())
    for link in sorted(set(links)):
        top = os.path.join(release_dir, link)
        for parent, _dirs, names in sorted(os.walk(top)):
            for name in sorted(names):
                path = os.path.join(parent, name)
                digest.update(f"file={os.path.relpath(path, release_dir)} {sha256_of(path)}\n".encode())
    return digest.hexdigest()


def _fill_virtualenv(venv, python, pip_args, requirements, run, pip_wheel):
    """Creates the virtualenv `venv` and installs `requirements` into it; its stamp last."""
    if pip_wheel:
        create = [python, "-m", "venv", "--without-pip", venv]
        pip = [os.path.join(venv, "bin", "python"), os.path.join(pip_wheel, "pip")]
    else:
        create = [python, "-m", "venv", venv]
        pip = [os.path.join(venv, "bin", "pip")]
    for step, argv in (
        ("creating the virtualenv", create),
        ("installing the requirements", pip + ["install", "--quiet", "--disable-pip-version-check",
                                               *pip_args, "-r", requirements]),
    ):
        rc, out, err = run(argv)
        if rc != 0:
            raise ReleaseError(f"{step} in {venv} failed (rc {rc}): {(err or out).strip()[-2000:]}")
    with open(os.path.join(venv, os.path.basename(STAMP)), "w", encoding="utf-8"):
        pass


def build(release_dir, python, pip_args, run, pip_wheel=None, share=True):
    """The release's virtualenv with its requirements; `run(argv)` returns (rc, out, err).
    With `pip_wheel` the virtualenv gets no pip and that wheel's pip installs into it. With
    `share`, a release whose install would be the same as an earlier one's (its
    shared_virtualenv_key) links `.venv` to that one's virtualenv below SHARED_DIR instead of
    building again; returns whether it did."""
    requirements = os.path.join(release_dir, "requirements.txt")
    key = shared_virtualenv_key(release_dir, python, pip_args, pip_wheel) if share else None
    pip_args = [arg.replace("{release_dir}", release_dir) for arg in pip_args]
    if key is None:
        _fill_virtualenv(os.path.join(release_dir, ".venv"), python, pip_args, requirements, run, pip_wheel)
        return False
    shared_dir = os.path.join(os.path.dirname(release_dir), SHARED_DIR)
    shared = os.path.join(shared_dir, key)
    # Only a directory this module made is linked or replaced.
    stranger = shared_dir if os.path.islink(shared_dir) else shared
    if os.path.islink(shared_dir) or (os.path.lexists(shared) and not made_here(shared, SHARED_MARKER)):
        raise ReleaseError(f"{stranger} exists but was not made by app_release (a link, or no {SHARED_MARKER} in it); "
                           f"it is neither used nor replaced")
    reused = os.path.exists(os.path.join(shared, os.path.basename(STAMP)))
    if not reused:
        if os.path.lexists(shared):
            # Made here and never stamped: an interrupted build, built again from scratch.
            shutil.rmtree(shared)
        os.makedirs(shared, mode=0o755)
        with open(os.path.join(shared, SHARED_MARKER), "w", encoding="utf-8") as marker:
            marker.write("made by tracegate.bluegreen.app_release; removed by it when no release links to it\n")
        _fill_virtualenv(shared, python, pip_args, requirements, run, pip_wheel)
    os.symlink(shared, os.path.join(release_dir, ".venv"))
    return reused


def unused_virtualenvs(releases_dir, leaving=()):
    """Shared virtualenvs (made here) that no release but those in `leaving` links to."""
    shared_dir = os.path.join(releases_dir, SHARED_DIR)
    if not os.path.isdir(shared_dir):
        return []
    linked = set()
    for name in os.listdir(releases_dir):
        path = os.path.join(releases_dir, name)
        if is_release(path) and path not in leaving:
            linked.add(os.path.realpath(os.path.join(path, ".venv")))
    unused = []
    for name in sorted(os.listdir(shared_dir)):
        path = os.path.join(shared_dir, name)
        if made_here(path, SHARED_MARKER) and os.path.realpath(path) not in linked:
            unused.append(path)
    return unused


def link_target(link):
    try:
        return os.readlink(link)
    except (FileNotFoundError, OSError):
        return None


def point_link(link, target):
    """Moves `link` to `target` in one rename, so the service never sees it missing."""
    temporary = f"{link}.next"
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, link)


def stale_releases(releases_dir, keep, protect):
    """Release directories (made by this module) beyond the `keep` newest, never one in
    `protect`; anything else beside them is not a release and is left alone."""
    candidates = []
    for name in os.listdir(releases_dir):
        path = os.path.join(releases_dir, name)
        if is_release(path) and path not in protect:
            candidates.append((os.path.getmtime(path), path))
    candidates.sort(reverse=True)
    return [path for _mtime, path in candidates[max(0, keep - 1):]]
