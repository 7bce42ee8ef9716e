# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The security gate's judgement of what was observed on the idle color before any user
traffic: response headers, admin and debug paths through the public route, listening
sockets, modes of secret files, what the app's TLS listeners accept (tls_probe, read on the
hosts), the user's commands run on the hosts, and vulnerable packages (osv findings). Each check gives its
own line; one failing check fails the gate. What is observed is gathered elsewhere (the
hosts' fingerprints, HTTP requests through the load balancers); this module only judges,
so that every rule is tested on its own."""

from __future__ import annotations

import fnmatch
import re


class PolicyError(ValueError):
    """A policy that cannot be applied, naming the field."""


TLS_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Suites without authentication, without encryption, or on broken primitives (OpenSSL names).
FORBIDDEN_CIPHERS = ("*NULL*", "ADH-*", "AECDH-*", "*anon*", "*RC4*", "*DES*", "*EXP*", "*MD5*")


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


def _expression(value, field):
    """An optional regular expression a user gave, or PolicyError naming the field."""
    if value is not None:
        try:
            re.compile(str(value))
        except re.error as exc:
            raise PolicyError(f"{field}: {exc}") from exc
    return value


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
        contains = _expression(item.get("contains"), f"url_checks[{index}].contains")
        checks.append({"path": item["path"], "status": status, "contains": contains})
    return checks


def command_checks_of(items):
    """The user's commands ([{name, argv, rc, stdout}]) made whole, the bad field named. A
    command runs on every idle host as a list of arguments, never through a shell."""
    if not isinstance(items, list):
        raise PolicyError("command_checks: a list of {name, argv, rc, stdout}")
    checks, names = [], set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise PolicyError(f"command_checks[{index}]: a mapping with name and argv")
        unknown = sorted(set(item) - {"name", "argv", "rc", "stdout"})
        if unknown:
            raise PolicyError(f"command_checks[{index}]: unknown field {unknown[0]} (known: name, argv, rc, stdout)")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or name in names:
            raise PolicyError(f"command_checks[{index}].name: a name of its own, got {name!r}")
        names.add(name)
        argv = item.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(arg, str) for arg in argv):
            raise PolicyError(f"command_checks[{index}].argv: a non-empty list of strings (the command and its arguments)")
        rc = item.get("rc", 0)
        if not isinstance(rc, int) or isinstance(rc, bool):
            raise PolicyError(f"command_checks[{index}].rc: an exit code, got {rc!r}")
        stdout = _expression(item.get("stdout"), f"command_checks[{index}].stdout")
        checks.append({"name": name, "argv": argv, "rc": rc, "stdout": stdout})
    return checks


def command_outcome(entry):
    """(name, rc, stdout, why) of one command's result: {name, rc, stdout, error}, or what a
    registered loop of ansible.builtin.command holds ({item: {name}, rc, stdout, stderr, msg})."""
    name = entry["item"].get("name") if isinstance(entry.get("item"), dict) else entry.get("name")
    why = entry.get("error") or (entry.get("stderr") or "").strip()[:200] or entry.get("msg") or (
        "skipped" if entry.get("skipped") else "")
    return name, entry.get("rc"), entry.get("stdout"), why


def command_failures(checks, results):
    """Why the user's commands failed on the hosts. results: {host: [result of each command]
    (see command_outcome) or None (the host ran none)}. A check that did not run on a host fails."""
    if not results:
        return ["no idle host ran the commands"]
    failures = []
    for host, ran in sorted(results.items()):
        by_name = {outcome[0]: outcome for outcome in (command_outcome(entry) for entry in ran or [] if isinstance(entry, dict))}
        for check in checks:
            _name, rc, stdout, why = by_name.get(check["name"], (None, None, None, "did not run"))
            if rc is None:
                failures.append(f"{host}: {check['name']}: could not run ({why or 'no exit code'})")
            elif rc != check["rc"]:
                failures.append(f"{host}: {check['name']}: exited {rc}, expected {check['rc']}" + (f" ({why})" if why else ""))
            elif check["stdout"] is not None and re.search(check["stdout"], stdout or "") is None:
                failures.append(f"{host}: {check['name']}: the output does not contain {check['stdout']!r}")
    return failures


def tls_policy_of(policy):
    """(lowest accepted protocol, forbidden cipher patterns) from policy.tls."""
    tls = policy.get("tls") or {}
    if not isinstance(tls, dict):
        raise PolicyError("policy.tls: a mapping with min_version and forbidden_ciphers")
    lowest = tls.get("min_version") or "TLSv1.2"
    if lowest not in TLS_PROTOCOLS:
        raise PolicyError(f"policy.tls.min_version: one of {', '.join(TLS_PROTOCOLS)}, got {lowest!r}")
    forbidden = tls.get("forbidden_ciphers")
    if forbidden is None:
        forbidden = list(FORBIDDEN_CIPHERS)
    if not isinstance(forbidden, list) or not all(isinstance(item, str) for item in forbidden):
        raise PolicyError("policy.tls.forbidden_ciphers: a list of fnmatch patterns of OpenSSL cipher names")
    return lowest, forbidden


def tls_failures(host, tls, lowest, forbidden):
    """Why one host's TLS listeners (its fingerprint's `tls` section: "<endpoint>/<setting>")
    break the policy. A listener that could not be asked, or that completes no handshake, fails."""
    failures = []
    endpoints = sorted({key.rsplit("/", 1)[0] for key in tls})
    too_old = TLS_PROTOCOLS[:TLS_PROTOCOLS.index(lowest)]
    for endpoint in endpoints:
        setting = {key.rsplit("/", 1)[1]: value for key, value in tls.items() if key.rsplit("/", 1)[0] == endpoint}
        if setting.get("error"):
            failures.append(f"{host}: {endpoint}: no TLS answer ({setting['error']})")
            continue
        if "accepted" not in [setting.get(protocol) for protocol in TLS_PROTOCOLS]:
            failures.append(f"{host}: {endpoint}: completes no TLS handshake; is it a TLS listener?")
            continue
        for protocol in too_old:
            if setting.get(protocol) == "accepted":
                failures.append(f"{host}: {endpoint}: accepts {protocol}, below min_version {lowest}")
            elif setting.get(protocol) != "refused":
                # The host's OpenSSL could not offer it: whether the listener accepts it is unknown.
                failures.append(f"{host}: {endpoint}: cannot tell whether it accepts {protocol} (not tested)")
        weak = [cipher for cipher in setting.get("ciphers") or []
                if any(fnmatch.fnmatchcase(cipher, pattern) for pattern in forbidden)]
        if weak:
            failures.append(f"{host}: {endpoint}: accepts forbidden cipher suites {', '.join(weak)}")
    return failures


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
    [fnmatch], secret_files: [fnmatch], tls: {min_version, forbidden_ciphers}}. observed:
    {responses: {url: {status, headers}}, public_paths: {url: status}, hosts: {host: {ports:
    [...], modes: {path: "0640 root:x"}, tls: {"<endpoint>/<setting>": value}}}, commands:
    {checks: [...], results: {host: [...]}}, vulnerabilities: [osv findings]}. Returns
    {verdict, reasons, checks}."""
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

    listeners = {host: seen["tls"] for host, seen in sorted((observed.get("hosts") or {}).items()) if seen.get("tls")}
    if listeners:
        lowest, forbidden = tls_policy_of(policy)
        _check(checks, "tls", [failure for host, tls in listeners.items()
                               for failure in tls_failures(host, tls, lowest, forbidden)],
               f"every TLS listener refuses protocols below {lowest} and forbidden cipher suites")

    commands = observed.get("commands")
    if commands:
        _check(checks, "commands", command_failures(commands["checks"], commands["results"]),
               f"{len(commands['checks'])} commands answered as expected on {len(commands['results'])} hosts")

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
