#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: trace_health
short_description: Judge the candidate color against the baseline from their traces
version_added: 0.1.0
description:
  - Fetches the spans (or span metrics) of a service for a time window, per color, from
    Jaeger, Tempo, Zipkin or Prometheus, and returns per color the request count, error
    rate, p50/p95/p99 latency and per-operation and per-dependency breakdowns.
  - Returns a verdict V(pass), V(fail) or V(inconclusive) with every check, its numbers,
    and every query that was made.
  - A regression fails only when it is statistically significant (one-sided Fisher's exact
    test on errors, Mann-Whitney U on latencies, at O(thresholds.alpha)) and larger than the
    practical margin (O(thresholds.max_error_rate_delta), O(thresholds.max_p95_ratio)).
    Absolute SLOs (O(thresholds.max_error_rate), O(thresholds.max_p95_ms)) fail on their own.
  - Below O(thresholds.min_requests) the verdict is V(inconclusive), never a silent pass
    and never a false fail.
  - A backend that cannot be reached, answers an error or answers something unreadable
    gives V(fail) with the reason. The gate fails closed.
  - With O(candidate_traffic_share), the blind-spot check fails a candidate that has far
    fewer traced requests than the share of traffic the load balancers send it.
  - The task itself fails only on bad input; the verdict is for the playbook to act on.
author: tracegate.bluegreen developers (@tracegate)
extends_documentation_fragment:
  - tracegate.bluegreen.trace_backend
attributes:
  check_mode:
    support: full
    description: Only reads; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  idempotent:
    support: full
    description: Never changes anything.
options:
  service:
    description: C(service.name) of the service to judge.
    type: str
    required: true
  baseline_color:
    description: The color that serves now.
    type: str
    default: blue
    choices: [blue, green]
  candidate_color:
    description: The color being judged.
    type: str
    default: green
    choices: [blue, green]
  window:
    description: Length of the window in seconds, ending at O(end).
    type: float
    default: 60
  end:
    description: End of the window, epoch seconds. Defaults to now.
    type: float
  limit:
    description: Traces per search; a full answer is searched again in halves of the window.
    type: int
    default: 1000
  exclude_operations:
    description:
      - Server span names that are not user traffic, left out of every count (health checks,
        metrics scrapes), for example V(GET /healthz).
    type: list
    elements: str
    default: []
  thresholds:
    description: Overrides of the judge's thresholds.
    type: dict
    suboptions:
      min_requests:
        description: Requests the candidate must have served (and the baseline, for the comparisons).
        type: int
        default: 50
      alpha:
        description:
          - Significance level of each one-sided test. The error and latency tests share a
            1 % false-fail budget, hence 0.005 each.
        type: float
        default: 0.005
      max_error_rate:
        description: Absolute SLO on the candidate's error rate (fraction). Unset, no SLO.
        type: float
      max_p95_ms:
        description: Absolute SLO on the candidate's p95 latency. Unset, no SLO.
        type: float
      max_error_rate_delta:
        description: Largest tolerated increase of the error rate over the baseline's (fraction).
        type: float
        default: 0.005
      max_p95_ratio:
        description: Largest tolerated ratio of candidate p95 to baseline p95.
        type: float
        default: 1.2
      share_tolerance:
        description: Fraction below O(candidate_traffic_share) the traced share may fall before the blind-spot check fails.
        type: float
        default: 0.5
  candidate_traffic_share:
    description: Percent of load-balancer traffic sent to the candidate in the window; enables the blind-spot check.
    type: float
requirements:
  - scipy and numpy (on the controller)
seealso:
  - module: tracegate.bluegreen.trace_probe
"""

EXAMPLES = r"""
- name: Judge green against blue over the last two minutes
  tracegate.bluegreen.trace_health:
    backend: tempo
    url: https://tempo.internal:3200
    tenant: payments
    bearer_token: "{{ tempo_token }}"
    service: checkout
    window: 120
    candidate_traffic_share: 25
    thresholds:
      max_error_rate: 0.02
      max_p95_ms: 400
  delegate_to: localhost
  register: health

- name: Roll back on a failed verdict
  ansible.builtin.fail:
    msg: "{{ health.reasons | join('; ') }}"
  when: health.verdict == 'fail'
"""

RETURN = r"""
verdict:
  description: V(pass), V(fail) or V(inconclusive).
  returned: always
  type: str
  sample: fail
reasons:
  description: Why, one line per check that did not pass (or every check when all passed).
  returned: always
  type: list
  elements: str
  sample: ["green error rate 0.0412 vs blue 0.0051 (difference +0.0361, margin 0.005, Fisher p=1.2e-09, alpha 0.01)"]
checks:
  description: Every check with its outcome, reason and numbers.
  returned: always
  type: list
  elements: dict
colors:
  description: Per color, requests, errors, error_rate, p50_ms, p95_ms, p99_ms, operations and dependencies.
  returned: when the backend answered
  type: dict
queries:
  description: Every request made to the backend (URL, parameters, HTTP status), for the evidence.
  returned: always
  type: list
  elements: dict
window:
  description: The window judged, epoch seconds.
  returned: always
  type: dict
  sample: {"start": 1764072000.0, "end": 1764072060.0}
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.backends import (
    BACKEND_ARGUMENT_SPEC,
    backend_from_params,
)
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.http import requests
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import BackendError, TraceQuery

# The judge's defaults are the one source of these values.
THRESHOLD_OPTIONS = {
    key: {"type": "int" if key == "min_requests" else "float", "default": default}
    for key, default in analysis.DEFAULT_THRESHOLDS.items()
}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            BACKEND_ARGUMENT_SPEC,
            service={"type": "str", "required": True},
            baseline_color={"type": "str", "default": "blue", "choices": ["blue", "green"]},
            candidate_color={"type": "str", "default": "green", "choices": ["blue", "green"]},
            window={"type": "float", "default": 60.0},
            end={"type": "float"},
            limit={"type": "int", "default": 1000},
            exclude_operations={"type": "list", "elements": "str", "default": []},
            thresholds={"type": "dict", "options": THRESHOLD_OPTIONS},
            candidate_traffic_share={"type": "float"},
        ),
        supports_check_mode=True,
    )
    if requests is None:
        module.fail_json(msg=missing_required_lib("requests"))
    if analysis.stats is None:
        module.fail_json(msg=missing_required_lib("scipy"))
    p = module.params
    if p["baseline_color"] == p["candidate_color"]:
        module.fail_json(msg="baseline_color and candidate_color must differ")
    if p["window"] <= 0:
        module.fail_json(msg=f"window must be positive, got {p['window']}")
    if p["candidate_traffic_share"] is not None and not 0 <= p["candidate_traffic_share"] <= 100:
        module.fail_json(msg=f"candidate_traffic_share must be a percentage, got {p['candidate_traffic_share']}")
    thresholds = {k: v for k, v in (p["thresholds"] or {}).items() if v is not None}
    try:
        analysis.check_thresholds(thresholds)
    except analysis.AnalysisError as exc:
        module.fail_json(msg=str(exc))

    end = p["end"] if p["end"] is not None else time.time()
    start = end - p["window"]
    result = {"changed": False, "window": {"start": start, "end": end}}
    backend = None
    try:
        backend = backend_from_params(p)
        samples = {}
        for color in (p["baseline_color"], p["candidate_color"]):
            samples[color] = backend.sample(TraceQuery(p["service"], start, end, color=color, limit=p["limit"],
                                                       exclude_operations=p["exclude_operations"]))
    except BackendError as exc:
        reason = f"{p['backend']} at {p['url']}: {exc}"
        module.exit_json(verdict="fail", reasons=[reason],
                         checks=[{"check": "backend", "outcome": "fail", "reason": reason}],
                         queries=backend.queries_made() if backend else [], **result)
    try:
        judged = analysis.judge(samples[p["baseline_color"]], samples[p["candidate_color"]], thresholds,
                                green_traffic_share=p["candidate_traffic_share"])
    except (analysis.AnalysisError, ValueError) as exc:
        module.fail_json(msg=f"analysis failed: {exc}", exception=traceback.format_exc(), **result)
    colors = {p["baseline_color"]: judged["colors"]["blue"], p["candidate_color"]: judged["colors"]["green"]}
    module.exit_json(verdict=judged["verdict"], reasons=_named(judged["reasons"], p), checks=judged["checks"],
                     colors=colors, thresholds=judged["thresholds"], queries=backend.queries_made(), **result)


def _named(reasons, p):
    """The judge speaks of blue (baseline) and green (candidate); say the real colors."""
    if p["baseline_color"] == "blue":
        return reasons
    swap = {"blue": "green", "green": "blue"}
    return [" ".join(swap.get(word, word) for word in reason.split(" ")) for reason in reasons]


if __name__ == "__main__":
    main()
