# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the load balancer's watchdog does with a cutover whose controller went quiet.

A cutover writes its state on every load balancer before each traffic change, with a
`deadline` (seconds since the epoch) by which it will write again: the bake, the hold, one
interval and a margin from now. Ansible has nothing that outlives the run, so a watchdog on
the load balancer reads that state: when the deadline has passed while the run's new color
still has traffic, it returns all traffic to the color the run started from, and marks the
state so that the run, should it only have been slow, stops instead of going on, and the
next run knows what happened. It never sends traffic toward a new color, and it leaves
rollback runs alone (they move traffic toward a color that was already proven).

Plain Python without Ansible: the watchdog imports it on the load balancer host.
"""

from __future__ import annotations

import glob
import os

from . import deployment_lock, haproxy_runtime, lb_input, nginx_upstream

WATCHED_PHASES = ("shifting", "watching")
RESTORED_PHASE = "watchdog_restored"


class WatchdogError(ValueError):
    pass


def step_deadline(now, bake, hold, interval, margin):
    """The deadline a run announces with a traffic change: its longest bake (every look of the
    bake and of the hold) plus the margin the user sets."""
    for name, value in (("bake", bake), ("hold", hold), ("interval", interval), ("margin", margin)):
        if value is None or float(value) < 0:
            raise WatchdogError(f"{name}: {value!r} must be a number of seconds, at least 0")
    return round(float(now) + float(bake) + float(hold) + float(interval) + float(margin), 3)


def overdue(state, now):
    """Why the run that wrote `state` is overdue, or None while it is on time or nothing is
    watched (no run shifting, a rollback run, a state without a deadline)."""
    if not isinstance(state, dict) or state.get("phase") not in WATCHED_PHASES:
        return None
    if state.get("operation", "cutover") != "cutover" or state.get("deadline") is None:
        return None
    try:
        deadline = float(state["deadline"])
    except (TypeError, ValueError):
        raise WatchdogError(f"deadline: {state['deadline']!r} is not a number of seconds") from None
    if now <= deadline:
        return None
    return (f"run {state.get('run_id', '?')} wrote nothing for {now - deadline:.1f} s past its deadline "
            f"in phase {state['phase']} at {state.get('share', '?')} % to {state.get('to_color', '?')}")


def restore_to(state, split):
    """The color all traffic goes back to, or None when the run's new color has none already.
    `split` is {color: percent} as the load balancer serves it."""
    origin, new = state.get("from_color"), state.get("to_color")
    if origin not in ("blue", "green") or new not in ("blue", "green") or origin == new:
        raise WatchdogError(f"the state names no valid colors (from_color {origin!r}, to_color {new!r}): nothing is moved")
    return origin if float(split.get(new, 0) or 0) > 0 else None


def restored_state(state, reason, acted_at, split_before, split_after, host):
    """The state the watchdog leaves: the run's own, marked, so that the run stops and the next
    run can record the intervention with the dead run's id."""
    record = {key: value for key, value in state.items() if key != "deadline"}
    record.update(phase=RESTORED_PHASE, share=0, live=state["from_color"], watchdog={
        "acted_at": acted_at, "reason": reason, "run_id": state.get("run_id"), "interrupted_phase": state.get("phase"),
        "split_before": split_before, "split_after": split_after, "host": host})
    return record


def refuses_write(current, record):
    """Why a run may not write `record` over `current`, or None. A run the watchdog stopped
    may only end itself (a state that is not shifting or watching) or be taken over by the
    next run: it never moves traffic again on the strength of its old plan."""
    if not isinstance(current, dict) or current.get("phase") != RESTORED_PHASE:
        return None
    if not current.get("run_id") or record.get("run_id") != current.get("run_id") or record.get("phase") not in WATCHED_PHASES:
        return None
    acted = current.get("watchdog") or {}
    return (f"the watchdog on {acted.get('host', 'this load balancer')} returned all traffic to {current.get('from_color')} "
            f"at {acted.get('acted_at', '?')} ({acted.get('reason', 'deadline passed')}): this run stops")


class HAProxySplit:
    """One HAProxy backend, through the Runtime API code haproxy_backend uses."""

    def __init__(self, socket="/run/haproxy/admin.sock", backend="app", state_file="/var/lib/haproxy/server-state", timeout=5.0):
        self.switch = haproxy_runtime.BackendSwitch(socket, [backend], timeout)
        self.backend, self.state_file = backend, state_file

    def read(self):
        """({color: percent}, stale): HAProxy serves what it reports, so never stale."""
        before, _after, _changed = self.switch.run(wait_healthy=False)
        return haproxy_runtime.traffic_split(before.values()).get(self.backend, {}).get("colors", {}), False

    def restore(self, color):
        """All traffic to `color`, verified, or reverted and raised (BackendSwitch's rule)."""
        weights = {color: 100, other_color(color): 0}
        _before, after, _changed = self.switch.run(weights=weights, state_file=self.state_file or None)
        return haproxy_runtime.traffic_split(after.values()).get(self.backend, {}).get("colors", {})


class NginxSplit:
    """One NGINX upstream include, through the code nginx_upstream uses: checked by nginx -t,
    reloaded, confirmed by the generation NGINX serves, or restored and raised."""

    def __init__(self, runner, fetch, upstream="bluegreen_app", path=None, conf_path="/etc/nginx/nginx.conf",
                 nginx_binary="/usr/sbin/nginx", reload_command=None, generation_url=None, reload_timeout=10.0,
                 control_port=nginx_upstream.CONTROL_PORT):
        name = nginx_upstream.check_upstream_name(upstream)
        self.runner, self.nginx = runner, nginx_binary
        self.generation_url = nginx_upstream.default_generation_url(name, control_port) if generation_url is None else generation_url
        self.switch = nginx_upstream.UpstreamSwitch(
            name, path or f"/etc/nginx/bluegreen/upstreams/{name}.conf", runner, fetch, conf_path=conf_path, nginx=nginx_binary,
            reload_command=reload_command or ["systemctl", "reload", "nginx.service"], generation_url=self.generation_url,
            reload_timeout=reload_timeout)

    def read(self):
        """({color: percent} of the include, whether NGINX serves another generation than it)."""
        text, servers, generation = self.switch.current()
        if text is None:
            raise WatchdogError(f"{self.switch.path} does not exist: nothing to read")
        stale = bool(self.generation_url) and self.switch.fetch(self.generation_url) != generation
        return nginx_upstream.traffic_split(servers)["colors"], stale

    def restore(self, color):
        text, before, _generation = self.switch.current()
        if text is None:
            raise WatchdogError(f"{self.switch.path} does not exist: nothing to restore")
        after, content, generation = nginx_upstream.planned_include(
            self.switch.name, before, weights={color: 100, other_color(color): 0},
            server_params=nginx_upstream.server_params_in(text),
            nginx_build=lambda: nginx_upstream.nginx_build(self.runner, self.nginx))
        self.switch.apply(content, generation, text)
        return nginx_upstream.traffic_split(after)["colors"]


def other_color(color):
    return "green" if color == "blue" else "blue"


# What a state may name of its load balancer. Paths, programs and the reload command are the
# watchdog's own settings (`local`), never read from a state file: a state only says which
# backend or upstream the run moved.
STATE_TARGET_FIELDS = {"haproxy": ("backend", "socket"), "nginx": ("upstream",)}


def split_of(load_balancer, runner, fetch, local=None):
    """The split a state's `load_balancer` ({kind, haproxy: {backend, socket}, nginx:
    {upstream}}, what the run moved) names, with the watchdog's own settings `local`
    ({haproxy: {...}, nginx: {...}}: HAProxySplit's and NginxSplit's other arguments)."""
    if not isinstance(load_balancer, dict):
        raise WatchdogError(f"load_balancer: {lb_input.shown(load_balancer)} is not a mapping")
    kind = load_balancer.get("kind")
    if kind not in STATE_TARGET_FIELDS:
        raise WatchdogError(f"load_balancer.kind: {kind!r} is neither haproxy nor nginx")
    target = load_balancer.get(kind) or {}
    if not isinstance(target, dict):
        raise WatchdogError(f"load_balancer.{kind}: {lb_input.shown(target)} is not a mapping")
    for field, value in target.items():
        if field not in STATE_TARGET_FIELDS[kind]:
            raise WatchdogError(f"load_balancer.{kind}.{lb_input.shown(field)}: a state names only "
                                f"{', '.join(STATE_TARGET_FIELDS[kind])}; the rest is the watchdog's own setting")
        if not isinstance(value, str):
            raise WatchdogError(f"load_balancer.{kind}.{field}: {lb_input.shown(value)} is not a string")
    settings = dict(((local or {}).get(kind) or {}), **target)
    if kind == "haproxy":
        return HAProxySplit(**settings)
    return NginxSplit(runner, fetch, **settings)


def tick(state_dir, host, now, now_text, runner, fetch, log, splits=split_of, local=None):
    """One round over every service's state in `state_dir`: each overdue cutover's traffic goes
    back to where it started, verified, and its state is marked. A failure is logged and left
    for the next round; the state is marked only once traffic is back. `runner(argv)` gives
    (rc, stdout, stderr) and `fetch(url)` the body or None, as the NGINX switch expects;
    `local` is the watchdog's own settings of the load balancers (split_of)."""
    for path in sorted(glob.glob(os.path.join(state_dir, "*.state.json"))):
        service = os.path.basename(path)[:-len(".state.json")]
        try:
            with deployment_lock.state_lock(path):
                state = deployment_lock.read_state(path)
                reason = overdue(state, now)
                if not reason:
                    continue
                split = splits(state.get("load_balancer"), runner, fetch, local)
                served, stale = split.read()
                color = restore_to(state, served) or (state["from_color"] if stale else None)
                after = split.restore(color) if color else served
                deployment_lock.write_state(path, restored_state(state, reason, now_text, served, after, host))
                log(f"{service}: {reason}; all traffic returned to {state['from_color']} "
                    f"({served} -> {after}{', NGINX served a stale generation' if stale else ''})")
        except (WatchdogError, haproxy_runtime.RuntimeApiError, nginx_upstream.UpstreamError, ValueError, TypeError,
                KeyError, OSError) as exc:
            # The switches revert what they could not verify before they raise.
            log(f"{service}: could not act, retrying next round: {exc}")
