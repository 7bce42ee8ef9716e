# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The security gate's judgement of what was observed on the idle color before any user
traffic: response headers, admin and debug paths through the public route, listening
sockets, modes of secret files, and vulnerable packages (osv findings). Each check gives its
own line; one failing check fails the gate. What is observed is gathered elsewhere (the
hosts' fingerprints, HTTP requests through the load balancers); this module only judges,
so that every rule is tested on its own."""

from __future__ import annotations

import fnmatch
import re


class PolicyError(ValueError):
    """A policy that cannot be applied, naming the field."""


def _check(checks, name, failures, passed_reason):
    if failures:
        checks.extend({"check": name, "outcome": "fail", "reason": reason} for reason in failures)
    else:
        checks.append({"check": name, "outcome": "pass", "reason": passed_reason})


def _patterns(policy, field):
    value = policy.get(field) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(f"policy.{field}: a list of strings")
    return value


def judge(policy, observed):
    """policy: {required_headers: {name: regex}, forbidden_paths: [path], allowed_ports:
    [fnmatch], secret_files: [fnmatch]}. observed: {responses: {url: {status, headers}},
    public_paths: {url: status}, hosts: {host: {ports: [...], modes: {path: "0640 root:x"}}},
    vulnerabilities: [osv findings]}. Returns {verdict, reasons, checks}."""
    if not isinstance(policy, dict):
        raise PolicyError("policy: not a mapping")
    checks = []

    required = policy.get("required_headers") or {}
    if not isinstance(required, dict):
        raise PolicyError("policy.required_headers: a mapping of header name to a regular expression")
    failures = []
    for name, expression in sorted(required.items()):
        try:
            pattern = re.compile(str(expression))
        except re.error as exc:
            raise PolicyError(f"policy.required_headers.{name}: {exc}") from exc
        for url, response in sorted((observed.get("responses") or {}).items()):
            headers = {key.lower(): value for key, value in (response.get("headers") or {}).items()}
            value = headers.get(name.lower())
            if value is None:
                failures.append(f"{url}: header {name} missing")
            elif not pattern.fullmatch(value):
                failures.append(f"{url}: header {name}: {value!r} does not match {expression!r}")
    if required:
        _check(checks, "required_headers", failures, f"{len(required)} required headers present on every answer")

    forbidden = _patterns(policy, "forbidden_paths")
    reachable = [f"{url}: answered {status} through the public route" for url, status in
                 sorted((observed.get("public_paths") or {}).items()) if isinstance(status, int) and status < 400]
    if forbidden:
        _check(checks, "forbidden_paths", reachable, f"{len(forbidden)} admin or debug paths refused on every load balancer")

    allowed = _patterns(policy, "allowed_ports")
    secrets = _patterns(policy, "secret_files")
    port_failures, mode_failures = [], []
    for host, seen in sorted((observed.get("hosts") or {}).items()):
        for port in seen.get("ports") or []:
            if allowed and not any(fnmatch.fnmatchcase(port, pattern) for pattern in allowed):
                port_failures.append(f"{host}: {port} listens, not in allowed_ports")
        for path, mode in sorted((seen.get("modes") or {}).items()):
            if mode is None or not any(fnmatch.fnmatchcase(path, pattern) for pattern in secrets):
                continue
            permissions = int(mode.split()[0], 8)
            if permissions & 0o007:
                mode_failures.append(f"{host}: {path} is {mode}: others may read or write it")
            elif permissions & 0o020:
                mode_failures.append(f"{host}: {path} is {mode}: its group may write it")
    if allowed:
        _check(checks, "listening_ports", port_failures, "every listening socket is in allowed_ports")
    if secrets:
        _check(checks, "secret_files", mode_failures, "no secret file is open to others")

    findings = observed.get("vulnerabilities")
    if findings is not None:
        _check(checks, "vulnerabilities",
               [f"{f['package']} {f['version']}: {f['id']}" + (f" ({', '.join(f['aliases'])})" if f.get("aliases") else "")
                + (f", fixed in {', '.join(f['fixed'])}" if f.get("fixed") else "") for f in findings],
               "no package of the release is named by an advisory")

    failing = [c["reason"] for c in checks if c["outcome"] == "fail"]
    return {"verdict": "fail" if failing else "pass", "reasons": failing or [c["reason"] for c in checks], "checks": checks}
