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


def _url_check_failure(check):
    """Why a user's check of a URL failed, or None."""
    if check.get("error"):
        return f"{check['url']}: no answer ({check['error']})"
    if check["status"] != check["expected_status"]:
        return f"{check['url']}: answered {check['status']}, expected {check['expected_status']}"
    if check.get("contains") and not check.get("matched"):
        return f"{check['url']}: the answer does not contain {check['contains']!r}"
    return None


def url_checks_of(items):
    """The user's checks ([{path, status, contains}]) made whole, the bad field named."""
    if not isinstance(items, list):
        raise PolicyError("url_checks: a list of {path, status, contains}")
    checks = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"].startswith("/"):
            raise PolicyError(f"url_checks[{index}].path: a URL path starting with /")
        unknown = sorted(set(item) - {"path", "status", "contains"})
        if unknown:
            raise PolicyError(f"url_checks[{index}]: unknown field {unknown[0]} (known: path, status, contains)")
        status = item.get("status", 200)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise PolicyError(f"url_checks[{index}].status: an HTTP status, got {status!r}")
        contains = item.get("contains")
        if contains is not None:
            try:
                re.compile(str(contains))
            except re.error as exc:
                raise PolicyError(f"url_checks[{index}].contains: {exc}") from exc
        checks.append({"path": item["path"], "status": status, "contains": contains})
    return checks


def observe(get, lb_urls, routing_headers, probe_path, forbidden_paths, url_checks):
    """What the gate judges over HTTP. `get(url, headers)` returns (status, headers, body
    text) or raises OSError. Through each load balancer: the probe path on the idle color
    (the preview route: its headers), every forbidden path on the public route and on the
    preview route (what the idle color will answer once it is public), and the user's checks
    on the idle color."""
    observed = {"responses": {}, "public_paths": {}, "url_checks": []}
    for base in (url.rstrip("/") for url in lb_urls):
        try:
            status, headers, _body = get(base + probe_path, routing_headers)
            observed["responses"][base + probe_path] = {"status": status, "headers": headers}
        except OSError as exc:
            observed["responses"][base + probe_path] = {"status": None, "headers": {}, "error": str(exc)}
        for path in forbidden_paths:
            for label, headers in (("public", {}), ("idle color", routing_headers)):
                try:
                    answered = get(base + path, headers)[0]
                except OSError as exc:
                    answered = str(exc) or type(exc).__name__
                observed["public_paths"][f"{base}{path} ({label})"] = answered
        for check in url_checks:
            url = base + check["path"]
            entry = {"url": url, "expected_status": check["status"], "contains": check["contains"]}
            try:
                status, _headers, body = get(url, routing_headers)
                entry.update(status=status, matched=bool(check["contains"]) and re.search(check["contains"], body) is not None)
            except OSError as exc:
                entry.update(status=None, error=str(exc) or type(exc).__name__)
            observed["url_checks"].append(entry)
    return observed


def judge(policy, observed):
    """policy: {required_headers: {name: regex}, forbidden_paths: [path], allowed_ports:
    [fnmatch], secret_files: [fnmatch]}. observed: {responses: {url: {status, headers}},
    public_paths: {url: status}, hosts: {host: {ports: [...], modes: {path: "0640 root:x"}}},
    vulnerabilities: [osv findings]}. Returns {verdict, reasons, checks}."""
    if not isinstance(policy, dict):
        raise PolicyError("policy: not a mapping")
    checks = []

    responses = observed.get("responses") or {}
    if responses:
        # A load balancer that does not answer is not known to be safe, whatever the policy asks.
        _check(checks, "answers", [f"{url}: no answer ({response.get('error', 'unknown error')})"
                                   for url, response in sorted(responses.items()) if response.get("status") is None],
               f"{len(responses)} load balancers answered on the idle color")

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
            if response.get("status") is None:
                continue  # the answers check names it
            headers = {key.lower(): value for key, value in (response.get("headers") or {}).items()}
            value = headers.get(name.lower())
            if value is None:
                failures.append(f"{url}: header {name} missing")
            elif not pattern.fullmatch(value):
                failures.append(f"{url}: header {name}: {value!r} does not match {expression!r}")
    if required:
        _check(checks, "required_headers", failures, f"{len(required)} required headers present on every answer")

    forbidden = _patterns(policy, "forbidden_paths")
    reachable = []
    for url, status in sorted((observed.get("public_paths") or {}).items()):
        # A path that could not be asked is not known to be refused: the gate fails closed.
        if not isinstance(status, int):
            reachable.append(f"{url}: no answer ({status}); cannot tell that it is refused")
        elif status < 400:
            reachable.append(f"{url}: answered {status}; an admin or debug path must be refused")
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

    url_checks = observed.get("url_checks") or []
    if url_checks:
        _check(checks, "url_checks", [_url_check_failure(c) for c in url_checks if _url_check_failure(c)],
               f"{len(url_checks)} checks of the service answered as expected")

    findings = observed.get("vulnerabilities")
    if findings is not None:
        _check(checks, "vulnerabilities",
               [f"{f['package']} {f['version']}: {f['id']}" + (f" ({', '.join(f['aliases'])})" if f.get("aliases") else "")
                + (f", fixed in {', '.join(f['fixed'])}" if f.get("fixed") else "") for f in findings],
               "no package of the release is named by an advisory")

    failing = [c["reason"] for c in checks if c["outcome"] == "fail"]
    return {"verdict": "fail" if failing else "pass", "reasons": failing or [c["reason"] for c in checks], "checks": checks}
