# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drift between the colors: fingerprints of every host of both colors compared key by key.

A fingerprint is what one host reports, by section:
  packages   {name: version}                     installed OS packages
  artifact   {"sha256": ...}                     the release the host runs
  files      {path: sha256}                      rendered configuration files
  modes      {path: "0640 root:shop"}            modes and owners of configuration and key files
  ports      {"tcp/8080": process}               listening sockets
  sysctls    {name: value}
  units      {"shop.service/ProtectSystem": value}  systemd settings of the service's units
  tracing    {"fingerprint": ...}                the tracing_agent role's fingerprint
  tls        {setting: value}                    what the app's listener negotiates
Values are compared after the host's own name and color are replaced by placeholders, so that
"color=blue" on a blue host equals "color=green" on a green one. Keys matching an allow-list
pattern (fnmatch, on "section/key") are not compared.

Every difference is classified: security (modes, ports, sysctls, units, tls, and any key the
user marks as security), package, config (files, tracing) or other. Two hosts of one color
that differ are drift as well: a color must be one configuration."""

from __future__ import annotations

import fnmatch
import hashlib

SECTIONS = ("packages", "artifact", "files", "modes", "ports", "sysctls", "units", "tracing", "tls")
SECURITY_SECTIONS = frozenset(("modes", "ports", "sysctls", "units", "tls"))
CLASS_OF_SECTION = {"packages": "package", "artifact": "package", "files": "config", "tracing": "config"}
# Differences expected between colors in any cutover: the new release.
DEFAULT_ALLOW = ("artifact/*",)
ABSENT = None
COLORS = ("blue", "green")


class DriftError(Exception):
    """Bad input, naming the field."""


def _flatten(host, fingerprint):
    if not isinstance(fingerprint, dict):
        raise DriftError(f"fingerprints.{host}: not a mapping of sections")
    flat = {}
    for section, entries in fingerprint.items():
        if section not in SECTIONS:
            raise DriftError(f"fingerprints.{host}.{section}: unknown section (known: {', '.join(SECTIONS)})")
        if not isinstance(entries, dict):
            raise DriftError(f"fingerprints.{host}.{section}: not a mapping")
        for key, value in entries.items():
            flat[f"{section}/{key}"] = value
    return flat


def _neutral(value, host, color):
    """The value with the host's own name and color replaced, so that blue and green compare."""
    if isinstance(value, str):
        return value.replace(host, "<host>").replace(color, "<color>")
    if isinstance(value, list):
        return [_neutral(item, host, color) for item in value]
    if isinstance(value, dict):
        return {key: _neutral(item, host, color) for key, item in value.items()}
    return value


def neutral_digest(content, host, color):
    """sha256 of a file's bytes with the host's name and color replaced: what a host reports
    under `files`, so that a file differing only by them compares equal."""
    text = content.replace(host.encode(), b"<host>").replace(color.encode(), b"<color>")
    return hashlib.sha256(text).hexdigest()


def classify(key, security_keys=()):
    section = key.split("/", 1)[0]
    if section in SECURITY_SECTIONS or any(fnmatch.fnmatchcase(key, pattern) for pattern in security_keys):
        return "security"
    return CLASS_OF_SECTION.get(section, "other")


def compare(hosts, allow=(), security_keys=(), fail_on=("security",)):
    """hosts: {host: {"color": "blue"|"green", "fingerprint": {section: {key: value}}}}; a
    host whose fingerprint is None (with `error`, why) fails the comparison unread.
    Returns {"verdict": "pass"|"fail", "differences": [...], "reasons": [...]}; each
    difference names its key, class, scope ("colors" or "within <color>") and every host's
    value (None: the host does not have it)."""
    if not isinstance(hosts, dict) or not hosts:
        raise DriftError("fingerprints: no host to compare")
    by_color = {color: [] for color in COLORS}
    flat = {}
    unread = []
    for host, entry in sorted(hosts.items()):
        color = (entry or {}).get("color") if isinstance(entry, dict) else None
        if color not in COLORS:
            raise DriftError(f"fingerprints.{host}.color: {color!r} is neither blue nor green")
        if entry.get("fingerprint") is None:
            unread.append(f"{host} ({color}): no fingerprint: {entry.get('error') or 'the host did not answer'}")
            continue
        by_color[color].append(host)
        flat[host] = {key: _neutral(value, host, color)
                      for key, value in _flatten(host, entry.get("fingerprint") or {}).items()}
    if unread:
        # Drift that cannot be read is not absent: the gate fails closed.
        return {"verdict": "fail", "differences": [], "reasons": unread,
                "hosts": {color: by_color[color] for color in COLORS}, "keys_compared": 0}
    for color in COLORS:
        if not by_color[color]:
            raise DriftError(f"fingerprints: no {color} host")
    allowed = tuple(DEFAULT_ALLOW) + tuple(allow)
    keys = sorted({key for values in flat.values() for key in values})
    keys = [key for key in keys if not any(fnmatch.fnmatchcase(key, pattern) for pattern in allowed)]

    differences = []
    for key in keys:
        values = {host: flat[host].get(key, ABSENT) for host in flat}
        within = [color for color in COLORS if len({_hashable(values[h]) for h in by_color[color]}) > 1]
        for color in within:
            differences.append({"key": key, "class": classify(key, security_keys), "scope": f"within {color}",
                                "values": {h: values[h] for h in by_color[color]}})
        if not within and _hashable(values[by_color["blue"][0]]) != _hashable(values[by_color["green"][0]]):
            differences.append({"key": key, "class": classify(key, security_keys), "scope": "colors",
                                "values": values})
    failing = [d for d in differences if d["class"] in fail_on or d["scope"] != "colors"]
    reasons = [_reason(d) for d in failing] or [f"{len(flat)} hosts, {len(keys)} keys compared: no failing drift"
                                                + (f" ({len(differences)} difference(s) reported)" if differences else "")]
    return {"verdict": "fail" if failing else "pass", "differences": differences, "reasons": reasons,
            "hosts": {color: by_color[color] for color in COLORS}, "keys_compared": len(keys)}


def _hashable(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _reason(difference):
    shown = ", ".join(f"{host}={value!r}" for host, value in sorted(difference["values"].items()))
    return f"{difference['class']} drift {difference['scope']}: {difference['key']}: {shown}"
