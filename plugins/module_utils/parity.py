# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dependency parity: every declared dependency probed from every host of both colors at the
same time, the new color judged against the old one. An external API that answers the old
color but not the new one (a firewall rule, a missing route, a credential only the old hosts
have) is the failure this finds before any user request does.

Per dependency the probes of each color are pooled. The new color fails when its failure
rate is higher than the old color's by more than `max_failure_rate_delta` and Fisher's exact
test says so at `alpha`, or when its successful probes' median latency is above the old
color's by more than both `max_median_ratio` and `min_median_delta_ms` and Mann-Whitney's
test says so at `alpha`. Fewer than `min_probes` probes of a color make the dependency
inconclusive, never a pass. The evidence names every host with its own numbers."""

from __future__ import annotations

import statistics
import time

from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis
from ansible_collections.tracegate.bluegreen.plugins.module_utils.probe import unfit_url

DEFAULTS = {"alpha": 0.01, "max_failure_rate_delta": 0.05, "max_median_ratio": 1.5, "min_median_delta_ms": 20.0,
            "min_probes": 10}
COLORS = ("blue", "green")


class ParityError(ValueError):
    """Bad input, naming the field."""


def _probes(host, dependency, probes):
    if not isinstance(probes, list):
        raise ParityError(f"results.{host}.probes.{dependency}: not a list of probes")
    checked = []
    for index, probe in enumerate(probes):
        if not isinstance(probe, dict) or not isinstance(probe.get("ok"), bool):
            raise ParityError(f"results.{host}.probes.{dependency}[{index}]: needs ok (true or false) and ms")
        milliseconds = probe.get("ms")
        if probe["ok"] and (not isinstance(milliseconds, (int, float)) or isinstance(milliseconds, bool) or milliseconds < 0):
            raise ParityError(f"results.{host}.probes.{dependency}[{index}].ms: {milliseconds!r} is not a duration")
        checked.append((probe["ok"], float(milliseconds) if probe["ok"] else None))
    return checked


def _summary(probes):
    latencies = [ms for ok, ms in probes if ok]
    return {"probes": len(probes), "failures": sum(1 for ok, _ms in probes if not ok),
            "median_ms": round(statistics.median(latencies), 3) if latencies else None}


def compare(results, old_color, thresholds=None):
    """results: {host: {"color": "blue"|"green", "probes": {dependency: [{"ok": bool, "ms": float}]}}}.
    Returns {"verdict", "reasons", "dependencies": {dependency: {verdict, reason, colors, hosts}}}."""
    t = dict(DEFAULTS, **(thresholds or {}))
    if old_color not in COLORS:
        raise ParityError(f"old_color: {old_color!r} is neither blue nor green")
    new_color = "green" if old_color == "blue" else "blue"
    if not isinstance(results, dict) or not results:
        raise ParityError("results: no host probed")
    pooled, per_host, declared = {}, {}, set()
    for host, entry in sorted(results.items()):
        color = entry.get("color") if isinstance(entry, dict) else None
        if color not in COLORS:
            raise ParityError(f"results.{host}.color: {color!r} is neither blue nor green")
        probes = entry.get("probes")
        if not isinstance(probes, dict):
            raise ParityError(f"results.{host}.probes: not a mapping of dependency to probes")
        for dependency, listed in probes.items():
            checked = _probes(host, dependency, listed)
            declared.add(dependency)
            pooled.setdefault(dependency, {c: [] for c in COLORS})[color] += checked
            per_host.setdefault(dependency, {})[host] = dict(_summary(checked), color=color)

    judged = {}
    for dependency in sorted(declared):
        old, new = pooled[dependency][old_color], pooled[dependency][new_color]
        verdict, reason = _judge(dependency, old, new, old_color, new_color, t)
        judged[dependency] = {"verdict": verdict, "reason": reason, "hosts": per_host[dependency],
                              "colors": {old_color: _summary(old), new_color: _summary(new)}}
    verdicts = {entry["verdict"] for entry in judged.values()}
    verdict = "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"
    reasons = [entry["reason"] for entry in judged.values() if entry["verdict"] != "pass"] or \
        [entry["reason"] for entry in judged.values()]
    return {"verdict": verdict, "reasons": reasons, "dependencies": judged}


def _judge(dependency, old, new, old_color, new_color, t):
    if len(old) < t["min_probes"] or len(new) < t["min_probes"]:
        return "inconclusive", (f"{dependency}: {len(old)} {old_color} and {len(new)} {new_color} probes, "
                                f"fewer than min_probes {t['min_probes']}")
    old_failures = sum(1 for ok, _ms in old if not ok)
    new_failures = sum(1 for ok, _ms in new if not ok)
    delta = new_failures / len(new) - old_failures / len(old)
    if delta > t["max_failure_rate_delta"]:
        p = analysis.error_rate_test(old_failures, len(old), new_failures, len(new))
        if p < t["alpha"]:
            return "fail", (f"{dependency}: {new_color} failed {new_failures} of {len(new)} probes, {old_color} "
                            f"{old_failures} of {len(old)} (Fisher p={p:.3g}, alpha {t['alpha']})")
    old_ms = [ms for ok, ms in old if ok]
    new_ms = [ms for ok, ms in new if ok]
    if len(old_ms) >= t["min_probes"] and len(new_ms) >= t["min_probes"]:
        old_median, new_median = statistics.median(old_ms), statistics.median(new_ms)
        if new_median > old_median * t["max_median_ratio"] and new_median - old_median > t["min_median_delta_ms"]:
            p = analysis.latency_test(old_ms, new_ms)
            if p < t["alpha"]:
                return "fail", (f"{dependency}: {new_color} median {new_median:.1f} ms vs {old_color} "
                                f"{old_median:.1f} ms (Mann-Whitney p={p:.3g}, alpha {t['alpha']})")
    return "pass", (f"{dependency}: {new_color} {new_failures}/{len(new)} failed, {old_color} "
                    f"{old_failures}/{len(old)}; no regression beyond the margins")


def dependencies_of(items):
    """The declared dependencies ([{name, url} or {name, tcp: "host:port"}]) checked, the
    bad field named; returns them as [{name, url} | {name, host, port}]."""
    if not isinstance(items, list) or not items:
        raise ParityError("dependencies: a non-empty list of {name, url} or {name, tcp}")
    checked, names = [], set()
    for index, item in enumerate(items):
        field = f"dependencies[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ParityError(f"{field}.name: every dependency needs a name")
        if item["name"] in names:
            raise ParityError(f"{field}.name: {item['name']!r} is declared twice")
        names.add(item["name"])
        unknown = sorted(set(item) - {"name", "url", "tcp"})
        if unknown or ("url" in item) == ("tcp" in item):
            raise ParityError(f"{field}: exactly one of url and tcp besides name" + (f" (unknown: {unknown[0]})" if unknown else ""))
        if "url" in item:
            if unfit_url([str(item["url"])]):
                raise ParityError(f"{field}.url: {item['url']!r} is not an http:// or https:// URL naming a host")
            # A request line and a Host header carry ASCII only: an unencoded URL would fail
            # the same way from both colors, and the gate would call that parity.
            if not str(item["url"]).isascii():
                raise ParityError(f"{field}.url: {item['url']!r} is not ASCII: percent-encode its path and give "
                                  "an internationalised host in its xn-- form")
            checked.append({"name": item["name"], "url": item["url"]})
            continue
        host, _colon, port = str(item["tcp"]).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ParityError(f"{field}.tcp: {item['tcp']!r} is not host:port")
        checked.append({"name": item["name"], "host": host.strip("[]"), "port": int(port)})
    return checked


def probe(dependencies, count, interval, get_status, connect, clock=time.monotonic, sleep=time.sleep):
    """{name: [{"ok", "ms", "error"?}]}: `count` rounds, every dependency once a round, a
    round every `interval` seconds. `get_status(url)` returns an HTTP status (below 400 is
    an answer) or raises OSError; `connect(host, port)` opens and closes a TCP connection or
    raises OSError."""
    probes = {dependency["name"]: [] for dependency in dependencies}
    for round_index in range(count):
        started = clock()
        for dependency in dependencies:
            begun = clock()
            try:
                if "url" in dependency:
                    status = get_status(dependency["url"])
                    result = {"ok": True} if status < 400 else {"ok": False, "error": f"answered {status}"}
                else:
                    connect(dependency["host"], dependency["port"])
                    result = {"ok": True}
            except OSError as exc:
                result = {"ok": False, "error": str(exc) or type(exc).__name__}
            result["ms"] = round((clock() - begun) * 1000.0, 3)
            probes[dependency["name"]].append(result)
        if round_index < count - 1:
            sleep(max(0.0, interval - (clock() - started)))
    return probes
