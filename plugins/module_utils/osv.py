# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A release's Python packages checked against vulnerability advisories in the OSV format
(https://ossf.github.io/osv-schema/): a file or a directory of them, as the user keeps it.

An advisory affects a package version when the version is listed in an `affected` entry's
`versions`, or falls in one of its ECOSYSTEM ranges: from an `introduced` event up to (not
including) the next `fixed` or `limit`, or up to and including a `last_affected`. Versions
compare as PEP 440 versions; names as PEP 503 normalises them. SEMVER and GIT ranges are not
PyPI's and are not read."""

from __future__ import annotations

import json
import os
import re

try:
    from packaging.version import InvalidVersion, Version
except ImportError:  # pragma: no cover - ansible-core requires packaging on the controller
    Version = None
    InvalidVersion = ValueError

ECOSYSTEM = "PyPI"
WHEEL_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[0-9][^-]*)-.+\.whl$")
PIN = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*(?P<version>[^\s;#]+)")


class OsvError(Exception):
    """An advisory source that cannot be read, naming it."""


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(text):
    if Version is None:
        raise OsvError("the Python library packaging is needed to compare versions")
    try:
        return Version(text)
    except InvalidVersion:
        return None


def load(path):
    """Every advisory in `path`, a JSON file or a directory of them (sorted by name)."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, name) for name in os.listdir(path) if name.endswith(".json"))
    elif os.path.isfile(path):
        files = [path]
    else:
        raise OsvError(f"advisories: {path} is neither a file nor a directory")
    advisories = []
    for name in files:
        try:
            with open(name, encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, ValueError) as exc:
            raise OsvError(f"advisories: {name} is not readable OSV JSON: {exc}") from exc
        for advisory in document if isinstance(document, list) else [document]:
            if not isinstance(advisory, dict) or not isinstance(advisory.get("id"), str):
                raise OsvError(f"advisories: {name} holds an entry without an id")
            advisories.append(advisory)
    return advisories


def packages_of_release(file_names=(), requirements_text=""):
    """{normalised name: version} from a release's wheel file names and `name==version` pins."""
    packages = {}
    for file_name in file_names:
        match = WHEEL_NAME.match(os.path.basename(file_name))
        if match:
            packages[normalise(match.group("name"))] = match.group("version")
    for line in requirements_text.splitlines():
        match = PIN.match(line)
        if match:
            packages[normalise(match.group("name"))] = match.group("version")
    return packages


def _in_range(version, events):
    """Whether `version` falls in an OSV range given by its ordered events."""
    affected = False
    for event in events:
        if "introduced" in event:
            start = event["introduced"]
            if start == "0" or (_version(start) is not None and version >= _version(start)):
                affected = True
        elif "fixed" in event and _version(event["fixed"]) is not None and version >= _version(event["fixed"]):
            affected = False
        elif "limit" in event and _version(event["limit"]) is not None and version >= _version(event["limit"]):
            affected = False
        elif "last_affected" in event and _version(event["last_affected"]) is not None \
                and version > _version(event["last_affected"]):
            affected = False
    return affected


def findings(packages, advisories):
    """[{id, aliases, summary, package, version, fixed}] for every advisory that affects a
    package of `packages` ({name: version}), sorted by package and id."""
    found = []
    for advisory in advisories:
        for affected in advisory.get("affected") or []:
            package = affected.get("package") or {}
            if package.get("ecosystem") != ECOSYSTEM:
                continue
            name = normalise(str(package.get("name", "")))
            if name not in packages:
                continue
            text = packages[name]
            version = _version(text)
            hit = text in (affected.get("versions") or [])
            fixed = []
            for range_ in affected.get("ranges") or []:
                if range_.get("type") != "ECOSYSTEM":
                    continue
                events = range_.get("events") or []
                fixed += [event["fixed"] for event in events if "fixed" in event]
                if version is not None and _in_range(version, events):
                    hit = True
            if hit:
                found.append({"id": advisory["id"], "aliases": advisory.get("aliases") or [],
                              "summary": advisory.get("summary", ""), "package": name, "version": text,
                              "fixed": sorted(set(fixed))})
    return sorted(found, key=lambda f: (f["package"], f["id"]))
