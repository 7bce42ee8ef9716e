#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: trace_probe
short_description: Prove a color is traced before it gets traffic
version_added: 0.1.0
description:
  - Sends O(count) requests to the idle color, directly or through a load balancer's
    preview route, each with a fresh W3C C(traceparent) (sampled), then polls the trace
    backend until every trace id is found with a server span of O(service) carrying the
    expected C(deployment.color) and C(service.version).
  - Fails by O(deadline) naming every missing trace id and every attribute that was wrong.
    A color whose tracing is not configured never passes.
  - In two tasks, so that the traces arrive while other work runs (the cutover sends the
    probes, runs its other gates and its load test, then looks the probes up); the first
    with O(wait=false) sends the probes and returns them in RV(probes) without looking them
    up; the second gets them as O(sent) and only looks them up, sending nothing.
author: tracegate.bluegreen developers (@tracegate)
extends_documentation_fragment:
  - tracegate.bluegreen.trace_backend
attributes:
  check_mode:
    support: none
    description: The probes are real requests.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  idempotent:
    support: full
    description: Changes nothing; C(changed) is always false.
options:
  urls:
    description:
      - URLs the probes are sent to, in turn; http:// or https:// only, any other scheme fails
        the task before a probe is sent.
      - Credentials in a URL (C(user:password@)) are used, and shown as C(***) in RV(probes)
        and every message.
      - Required unless O(sent) is given.
    type: list
    elements: str
  sent:
    description:
      - The probes an earlier task of this module sent with O(wait=false) (its RV(probes));
        looked up in the backend, no new probe is sent. O(urls), O(count) and the headers
        are not used.
      - Each needs its C(trace_id) (32 lower-case hex digits) and C(status) (null when the
        request got no answer); a probe that got no answer fails the task as it would have.
    type: list
    elements: dict
  wait:
    description:
      - V(false) sends the probes and returns them in RV(probes) at once, without looking
        them up and without failing; look them up with a later task given them as O(sent).
    type: bool
    default: true
  headers:
    description:
      - Secret headers sent with every probe, for example an authorization the service asks for.
      - Never logged; their values are hidden wherever they appear in the result (a value
        V(green) would hide the color in every message too, so name the load balancer's
        preview header in O(routing_headers) instead).
    type: dict
    default: {}
  routing_headers:
    description:
      - Headers that are no secret and choose where the load balancers send a probe, for
        example their preview header with the color to probe. Sent with every probe, shown as
        they are.
      - A header named in both O(headers) and O(routing_headers) fails the task.
    type: dict
    default: {}
  count:
    description: Number of probes.
    type: int
    default: 10
  service:
    description: Expected C(service.name), compared without case (Zipkin keeps service names lowercased).
    type: str
    required: true
  color:
    description: Expected C(deployment.color).
    type: str
    required: true
    choices: [blue, green]
  version:
    description: Expected C(service.version); unset, any.
    type: str
  deadline:
    description: Seconds to wait for every trace to show up in the backend.
    type: float
    default: 30
  poll_interval:
    description:
      - Longest pause in seconds between rounds of look-ups. The first pause is a quarter of a
        second (at most this) and each next one is half as long again, up to this.
    type: float
    default: 2
seealso:
  - module: tracegate.bluegreen.trace_health
"""

EXAMPLES = r"""
- name: Green must be traced before it takes traffic
  tracegate.bluegreen.trace_probe:
    backend: jaeger
    url: http://jaeger-query:16686
    urls: ["http://lb1:80/api/quote"]
    routing_headers:
      X-Bluegreen-Preview: green
    service: checkout
    color: green
    version: "2.4.1"
  delegate_to: localhost

- name: Send the probes now, look them up after the load test (the traces arrive meanwhile)
  tracegate.bluegreen.trace_probe:
    backend: jaeger
    url: http://jaeger-query:16686
    urls: ["http://lb1:80/api/quote"]
    routing_headers:
      X-Bluegreen-Preview: green
    service: checkout
    color: green
    wait: false
  delegate_to: localhost
  register: probes_sent

- name: Look the probes up
  tracegate.bluegreen.trace_probe:
    backend: jaeger
    url: http://jaeger-query:16686
    sent: "{{ probes_sent.probes }}"
    service: checkout
    color: green
  delegate_to: localhost
"""

RETURN = r"""
probes:
  description: Every probe with its trace id, URL (without credentials), HTTP status, the color and version that answered, and what was wrong.
  returned: always
  type: list
  elements: dict
missing:
  description: Trace ids the backend never showed with a server span of the service (none looked up with O(wait=false)).
  returned: always
  type: list
  elements: str
wrong:
  description: Trace ids found with wrong attributes, and what was wrong.
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.tracegate.bluegreen.plugins.module_utils import http_answer
from ansible_collections.tracegate.bluegreen.plugins.module_utils.probe import send_probes, sent_probes, unfit_url, wait_for_traces
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.backends import (
    BACKEND_ARGUMENT_SPEC,
    backend_from_params,
    deprecated_backend,
)
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.http import requests
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.userinfo import userinfo_secrets
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import BackendError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            BACKEND_ARGUMENT_SPEC,
            urls={"type": "list", "elements": "str"},
            sent={"type": "list", "elements": "dict"},
            wait={"type": "bool", "default": True},
            headers={"type": "dict", "default": {}, "no_log": True},
            routing_headers={"type": "dict", "default": {}},
            count={"type": "int", "default": 10},
            service={"type": "str", "required": True},
            color={"type": "str", "required": True, "choices": ["blue", "green"]},
            version={"type": "str"},
            deadline={"type": "float", "default": 30.0},
            poll_interval={"type": "float", "default": 2.0},
        ),
        mutually_exclusive=[("urls", "sent")],
        required_one_of=[("urls", "sent")],
    )
    if requests is None:
        module.fail_json(msg=missing_required_lib("requests"))
    p = module.params
    for url in [p["url"], *(p["urls"] or [])]:
        module.no_log_values.update(userinfo_secrets(url))
    if deprecated_backend(p):
        module.deprecate(deprecated_backend(p), version="1.0.0", collection_name="tracegate.bluegreen")
    if p["backend"] in ("prometheus", "prometheus_red"):
        module.fail_json(msg="backend: metrics hold no traces; probe a trace backend (jaeger, tempo, zipkin)")
    if p["sent"] is not None and not p["wait"]:
        module.fail_json(msg="wait: false sends probes, sent looks up probes already sent; give one of them")
    if p["sent"] is None and (p["count"] < 1 or not p["urls"]):
        module.fail_json(msg="count must be at least 1 and urls must not be empty")
    if p["sent"] is None and unfit_url(p["urls"]):
        module.fail_json(msg=unfit_url(p["urls"]))
    both = sorted({name.lower() for name in p["headers"]} & {name.lower() for name in p["routing_headers"]})
    if both:
        module.fail_json(msg=f"routing_headers: {', '.join(both)} also named in headers; name each header once")

    def send(url, headers):
        # An error answer is still an answer: the probe asks whether it was traced, not
        # whether it succeeded (the health gates judge that).
        status, answer_headers, _body = http_answer.answer(url, p["request_timeout"], p["validate_certs"], headers)
        return status, {k.lower(): v for k, v in answer_headers.items()}

    try:
        backend = backend_from_params(p)
    except BackendError as exc:
        module.fail_json(msg=str(exc))
    if p["sent"] is not None:
        try:
            probes = sent_probes(p["sent"])
        except ValueError as exc:
            module.fail_json(msg=str(exc))
    else:
        probes = send_probes(send, p["urls"], p["count"], {**p["routing_headers"], **p["headers"]})
        if not p["wait"]:
            module.exit_json(changed=False, probes=probes, missing=[], wrong={})
    outcome = wait_for_traces(backend, probes, p["service"], p["color"], p["version"],
                              time.monotonic() + p["deadline"], min(0.25, p["poll_interval"]),
                              p["poll_interval"])
    for probe in probes:
        probe["problem"] = outcome.get(probe["trace_id"])
    unanswered = sorted(t for t, problem in outcome.items() if problem and problem.startswith("the request"))
    missing = sorted(t for t, problem in outcome.items() if problem and problem.startswith(("no server span", "not found", "backend error")))
    wrong = {t: problem for t, problem in outcome.items() if problem and t not in missing and t not in unanswered}
    result = {"changed": False, "probes": probes, "missing": missing + unanswered, "wrong": wrong}
    if missing or wrong or unanswered:
        parts = []
        if unanswered:
            parts.append(f"{len(unanswered)} of {len(probes)} probes got no answer: "
                         + "; ".join(f"{t}: {outcome[t]}" for t in unanswered))
        if missing:
            parts.append(f"{len(missing)} of {len(probes)} probe traces not found in {p['backend']} within {p['deadline']:g}s: "
                         + ", ".join(missing))
        if wrong:
            parts.append("; ".join(f"{t}: {problem}" for t, problem in sorted(wrong.items())))
        module.fail_json(msg=f"{p['color']} is not traced as expected: " + " | ".join(parts), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
