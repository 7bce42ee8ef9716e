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
  - Below O(thresholds.min_requests) the verdict is V(inconclusive), never a silent pass;
    it is V(fail) there only when the exact tests already show a regression beyond the
    margin (see O(thresholds.min_requests_to_fail)).
  - With O(bake), the gate looks every O(interval) seconds and ends at the first V(fail),
    so a broken release is rolled back within seconds of its first errors.
  - A backend that cannot be reached, answers an error or answers something unreadable
    gives V(fail) with the reason, naming the backend and the URL asked; so does an answer
    that may be truncated (see O(limit)). The gate fails closed. Single spans that cannot
    be read are skipped and counted (C(skipped_spans) in RV(colors)) rather than voiding
    the answer.
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
    description: C(service.name) of the service to judge, compared without case (Zipkin keeps service names lowercased).
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
    description:
      - End of the window, epoch seconds, for one look at the past. Unset, the window ends
        now (and at every later look of O(bake) and O(hold)).
    type: float
  since:
    description:
      - Epoch seconds before which the window never starts, for example the moment the
        current traffic step began, so that an earlier step or an earlier release of the same
        color is not judged. Both colors are judged over the same window.
    type: float
  baseline_end:
    description:
      - End of the baseline's window, epoch seconds, when the baseline no longer serves
        (the watch after a full switch compares against the baseline's last minutes).
    type: float
  bake:
    description:
      - Seconds to keep judging, one look every O(interval), the first one interval in (a
        look at the first second after a traffic change judges the export delay of the
        tracing SDKs, not the release). The first V(fail) ends the task at once; otherwise
        the verdict is the one at the end of the bake.
      - The looks share O(thresholds.alpha) by an alpha-spending plan, those before the end
        of the bake 30 % of it, the first ones the most; the look at the end of the bake at
        least 60 %; the looks of O(hold) the last 10 %. Their levels add up to at most
        O(thresholds.alpha) however many looks there are, so looking often does not raise the
        false-fail rate. V(0) is a single look; without O(hold) it has the whole
        O(thresholds.alpha).
    type: float
    default: 0
  bake_from:
    description:
      - Epoch seconds the bake counts from, for example the moment the traffic change it
        follows was applied, so that the time this task took to start is part of the bake,
        not added to it. Unset, the bake counts from the start of the task.
    type: float
  interval:
    description: Seconds between looks.
    type: float
    default: 5
  hold:
    description:
      - Seconds to go on looking after the bake while the verdict is V(inconclusive). The
        verdict is V(inconclusive) if it still is then.
    type: float
    default: 0
  limit:
    description:
      - Traces per search. A full answer is searched again in halves of the window, down to
        64 slices; an answer still full there may be truncated, and the gate fails with that
        reason instead of judging it. Jaeger's answer counts as full from half of this, as a
        Cassandra storage can stop short of it with more traces to give.
      - Every span backend is cut to the window the same way, by each span's start (Tempo
        selects traces that overlap the window, Zipkin traces whose root span started in it,
        so Zipkin's searches reach back 60 s before the window), and a span answered twice
        counts once. The color is always compared on the spans, whatever the backend
        filtered.
      - Tempo returns at most 100 spans per trace and search (its default
        C(max_spans_per_span_set)); a trace that matched more is fetched whole by its id, up
        to 50 per search; beyond that the gate fails as truncated.
    type: int
    default: 5000
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
      min_requests_to_fail:
        description:
          - Below O(thresholds.min_requests) the verdict is V(inconclusive) unless, from this
            many candidate requests on, the exact tests already show a regression beyond the
            margin; then it is V(fail).
        type: int
        default: 20
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
      min_p95_delta_ms:
        description:
          - A candidate p95 that exceeds the baseline's by less than this many milliseconds is
            no regression, whatever the ratio (warm-up noise on fast services).
        type: float
        default: 5
      share_tolerance:
        description: Fraction below O(candidate_traffic_share) the traced share may fall before the blind-spot check fails.
        type: float
        default: 0.5
      max_load_ratio:
        description:
          - With O(baseline_hosts) and O(candidate_hosts), the p95 is compared only when each
            candidate host served within this factor of the requests per second of each
            baseline host (in their windows), either way. When the candidate's hosts served
            more, the latency check is V(not_compared) with both loads in its reason, as a
            slower candidate would measure its load, not the release. When they served less
            (the first steps), the medians are compared instead of the p95, with the same test
            and margins, as a lightly loaded host's tail differs from a busy one's whatever
            the release. With O(baseline_end) (the baseline from another time) the medians are
            compared too. Errors are compared whatever the load. At least 1.
        type: float
        default: 1.25
  candidate_traffic_share:
    description: Percent of load-balancer traffic sent to the candidate in the window; enables the blind-spot check.
    type: float
  export_delay:
    description:
      - Seconds after a request starts in which its spans may still be missing from the
        backend (the tracing SDK's batch delay, 5 s by default in the OpenTelemetry SDKs,
        plus the collector's). The blind-spot check counts only the requests that started
        before the last O(export_delay) seconds of the window, as each host exports on its
        own timer and a short window would show a traced candidate as blind; it is
        V(inconclusive) while that part is shorter than a second. V(0) counts the whole window.
    type: float
    default: 5.0
  baseline_hosts:
    description:
      - Number of hosts of the baseline color. With O(candidate_hosts), each color's traced
        requests per host and second are returned (C(load_per_host) in RV(colors)) and decide
        whether latencies are compared (see O(thresholds.max_load_ratio)).
    type: int
  candidate_hosts:
    description: Number of hosts of the candidate color (see O(baseline_hosts)).
    type: int
requirements:
  - requests (on the controller)
seealso:
  - module: tracegate.bluegreen.trace_probe
"""

EXAMPLES = r"""
- name: Bake a traffic step for two minutes, looking every five seconds
  tracegate.bluegreen.trace_health:
    backend: jaeger
    url: http://jaeger-query.internal:16686
    service: checkout
    window: 120
    since: "{{ shift_started_at }}"
    bake: 120
    interval: 5
    hold: 60
  register: step_gate

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
  description:
    - Per color, requests, errors, error_rate, p50_ms, p95_ms, p99_ms, operations,
      dependencies and latencies_from_histogram.
    - C(skipped_spans) counts the spans the backend answered that could not be read (no
      start time, an id that is neither hex nor base64, a field of the wrong type); they are
      left out of every number, and C(skipped_span_reasons) shows up to five of them.
    - C(backend_warnings) holds what the backend warned of with its answers (Prometheus), and
      the newest seconds of the window a Tempo 3.0 or later did not search (query_end_cutoff).
    - C(window) (C(start), C(end), epoch seconds) is the window that color's sample covers, and
      C(hosts) and C(load_per_host) (traced requests per host and second) are set with
      O(baseline_hosts) and O(candidate_hosts).
  returned: when the backend answered
  type: dict
  sample: {"green": {"requests": 1260, "errors": 24, "error_rate": 0.019048, "p50_ms": 6.0, "p95_ms": 30.0, "p99_ms": 50.0,
           "operations": {}, "dependencies": {}, "latencies_from_histogram": false, "skipped_spans": 1,
           "skipped_span_reasons": ["Jaeger (api_v3) at http://jaeger:16686/api/v3/traces span {'spanId': 'eee19b7ec3c1b176'}: no 'startTimeUnixNano'"],
           "backend_warnings": []}}
queries:
  description: Every request made to the backend (URL without credentials, parameters, HTTP status), for the evidence.
  returned: always
  type: list
  elements: dict
window:
  description: The windows of the deciding look, epoch seconds (the candidate's and the baseline's).
  returned: always
  type: dict
  sample: {"start": 1764072000.0, "end": 1764072060.0, "baseline_start": 1764072000.0, "baseline_end": 1764072060.0}
looks:
  description: Every look, with its time, verdict, reasons, per-color requests, errors, error rate and p95, and the significance level it used (C(alpha)).
  returned: always
  type: list
  elements: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis, gate
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.backends import (
    BACKEND_ARGUMENT_SPEC,
    backend_from_params,
    deprecated_backend,
)
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.http import requests
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.userinfo import userinfo_secrets
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import DEFAULT_LIMIT, BackendError

# The judge's defaults are the one source of these values.
THRESHOLD_OPTIONS = {
    key: {"type": "int" if key.startswith("min_requests") else "float", "default": default}
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
            since={"type": "float"},
            baseline_end={"type": "float"},
            bake={"type": "float", "default": 0.0},
            bake_from={"type": "float"},
            interval={"type": "float", "default": 5.0},
            hold={"type": "float", "default": 0.0},
            limit={"type": "int", "default": DEFAULT_LIMIT},
            exclude_operations={"type": "list", "elements": "str", "default": []},
            thresholds={"type": "dict", "options": THRESHOLD_OPTIONS},
            candidate_traffic_share={"type": "float"},
            export_delay={"type": "float", "default": 5.0},
            baseline_hosts={"type": "int"},
            candidate_hosts={"type": "int"},
        ),
        mutually_exclusive=[["end", "bake"], ["end", "hold"], ["end", "bake_from"]],
        supports_check_mode=True,
    )
    if requests is None:
        module.fail_json(msg=missing_required_lib("requests"))
    p = module.params
    module.no_log_values.update(userinfo_secrets(p["url"]))
    if deprecated_backend(p):
        module.deprecate(deprecated_backend(p), version="1.0.0", collection_name="tracegate.bluegreen")
    if p["baseline_color"] == p["candidate_color"]:
        module.fail_json(msg="baseline_color and candidate_color must differ")
    for name in ("window", "interval", "limit"):
        if p[name] <= 0:
            module.fail_json(msg=f"{name} must be positive, got {p[name]}")
    for name in ("bake", "hold", "export_delay"):
        if p[name] < 0:
            module.fail_json(msg=f"{name} must not be negative, got {p[name]}")
    for name in ("baseline_hosts", "candidate_hosts"):
        if p[name] is not None and p[name] < 1:
            module.fail_json(msg=f"{name} must be at least 1, got {p[name]}")
    if p["candidate_traffic_share"] is not None and not 0 <= p["candidate_traffic_share"] <= 100:
        module.fail_json(msg=f"candidate_traffic_share must be a percentage, got {p['candidate_traffic_share']}")
    try:
        settings = gate.GateSettings(
            p["service"], p["baseline_color"], p["candidate_color"], p["window"], limit=p["limit"],
            exclude_operations=p["exclude_operations"],
            thresholds={k: v for k, v in (p["thresholds"] or {}).items() if v is not None},
            candidate_traffic_share=p["candidate_traffic_share"], since=p["since"], baseline_end=p["baseline_end"],
            baseline_hosts=p["baseline_hosts"], candidate_hosts=p["candidate_hosts"], export_delay=p["export_delay"],
        )
        backend = backend_from_params(p)
    except (analysis.AnalysisError, BackendError) as exc:
        module.fail_json(msg=str(exc))

    try:
        if p["end"] is not None:
            judged = gate.look(backend, settings, p["end"])
            judged["looks"] = [gate.summary_of(judged, p["end"], False)]
        else:
            judged = gate.watch(backend, settings, bake=p["bake"], interval=p["interval"], hold=p["hold"],
                                bake_from=p["bake_from"])
    except (analysis.AnalysisError, ValueError) as exc:
        module.fail_json(msg=f"analysis failed: {exc}", exception=traceback.format_exc())
    result = {key: judged[key] for key in ("verdict", "reasons", "checks", "window", "looks") if key in judged}
    result.update(changed=False, queries=backend.queries_made())
    for key in ("colors", "thresholds"):
        if key in judged:
            result[key] = judged[key]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
