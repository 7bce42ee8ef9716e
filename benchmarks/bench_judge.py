"""Judge benchmarks.

P4: trace_health's analysis of a window of 100,000 spans as the real Jaeger answers it
    (recorded from the real Jaeger v2 on loopback, see real_jaeger_answers.py), along the
    module's own path (decode, parse into spans, samples, judge) against a bare json.loads
    of the same answers; for api_v3 (the default) and the v1 API.
    Goal: ratio <= 2.
P6: seeded synthetic runs of the judge with its default thresholds: the A/A false-fail rate
    (both colors from one distribution) and the detection rate of a doubled error rate and
    of a 50 % slower p95, at stated sample sizes. Goal: false fail <= 1 %, detection >= 95 %.
"""

import argparse
import io
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "benchmarks"))

# pylint: disable=wrong-import-position
from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis  # noqa: E402
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.http import HttpClient  # noqa: E402
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.jaeger import JaegerV1, JaegerV3  # noqa: E402
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import ColorSample, TraceQuery  # noqa: E402
from real_jaeger_answers import record  # noqa: E402


def best_of(runs, work):
    times = []
    for _attempt in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


class Answer:
    """A recorded HTTP answer, read as a stream as the client reads requests' answers."""

    status_code = 200
    headers = {}

    def __init__(self, body):
        self.raw = io.BytesIO(body.encode() if isinstance(body, str) else body)

    def close(self):
        pass


class RecordedJaeger:
    """Stands in for the HTTP session, answering each color's search with what the real Jaeger
    answered: api_v3 one answer for both (it filters no attributes before 2.19), v1 one per
    color (filtered by the color tag)."""

    def __init__(self, answers):
        self.answers = answers
        self.headers = {}

    def get(self, url, params=None, timeout=None):
        if url.endswith("/api/v3/traces"):
            return Answer(self.answers["v3"])
        return Answer(self.answers["v1"][json.loads(params["tags"])["deployment.color"]])


CLIENTS = {"api_v3": JaegerV3, "v1": JaegerV1}


def analyse(api, answers, window):
    """What trace_health does: one search per color, parse, sample, judge."""
    backend = CLIENTS[api](HttpClient("http://jaeger:16686", session=RecordedJaeger(answers), retries=0))
    samples = {color: backend.sample(TraceQuery("bgdemo", *window, color=color, limit=10**6))
               for color in ("blue", "green")}
    return analysis.judge(samples["blue"], samples["green"])


def answered(api, answers):
    """The bodies one analysis decodes: a search per color."""
    if api == "api_v3":
        return [answers["v3"], answers["v3"]]
    return [answers["v1"]["blue"], answers["v1"]["green"]]


def p4(spans, runs):
    window_start = time.time() - 600
    window = (window_start, window_start + 300)
    with tempfile.TemporaryDirectory() as workdir:
        answers = record(spans, workdir, *window)
    ratios = []
    for api in CLIENTS:
        bodies = answered(api, answers)
        baseline = best_of(runs, lambda: [json.loads(body) for body in bodies])
        ours = best_of(runs, lambda: analyse(api, answers, window))
        result = analyse(api, answers, window)
        requests = result["colors"]["blue"]["requests"] + result["colors"]["green"]["requests"]
        print(f"P4 ({api}): {spans} spans recorded from the real Jaeger, two searches, "
              f"{sum(len(b) for b in bodies) / 1e6:.1f} MB of JSON (best of {runs})")
        print(f"    json.loads {baseline:.3f} s   trace_health analysis {ours:.3f} s   ratio {ours / baseline:.2f} (goal <= 2)"
              f"   verdict {result['verdict']}, {requests} requests judged")
        ratios.append(ours / baseline)
    return max(ratios)


def synthetic(rng, requests, error_rate, median_ms):
    latencies = [rng.lognormvariate(0, 0.5) * median_ms for _index in range(requests)]
    errors = sum(rng.random() < error_rate for _index in range(requests))
    return ColorSample("x", requests=requests, errors=errors, latencies_ms=latencies)


def rate(runs, seed, make_blue, make_green):
    rng = random.Random(seed)
    failed = sum(analysis.judge(make_blue(rng), make_green(rng))["verdict"] == "fail" for _run in range(runs))
    return failed / runs


def p6(runs):
    cases = [
        ("A/A, 1 % errors, 20 ms median", 2000, lambda r: synthetic(r, 2000, 0.01, 20), lambda r: synthetic(r, 2000, 0.01, 20),
         "false fail", lambda x: x <= 0.01),
        ("A/A, small sample", 200, lambda r: synthetic(r, 200, 0.01, 20), lambda r: synthetic(r, 200, 0.01, 20),
         "false fail", lambda x: x <= 0.01),
        ("error rate 1 % -> 2 %", 8000, lambda r: synthetic(r, 8000, 0.01, 20), lambda r: synthetic(r, 8000, 0.02, 20),
         "detected", lambda x: x >= 0.95),
        ("p95 +50 %", 500, lambda r: synthetic(r, 500, 0.0, 20), lambda r: synthetic(r, 500, 0.0, 30),
         "detected", lambda x: x >= 0.95),
    ]
    print(f"P6: judge with default thresholds {json.dumps({k: v for k, v in analysis.DEFAULT_THRESHOLDS.items() if v is not None})}, "
          f"{runs} seeded runs per case")
    print(f"    {'case':<32} {'requests/color':>15} {'measure':>11} {'rate':>7}  goal")
    ok = True
    for seed, (name, requests, blue, green, measure, goal) in enumerate(cases):
        value = rate(runs, seed, blue, green)
        met = goal(value)
        ok &= met
        print(f"    {name:<32} {requests:>15} {measure:>11} {value:>7.1%}  {'met' if met else 'MISSED'}")
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--p6-runs", type=int, default=400)
    args = parser.parse_args(argv)
    p4_met = p4(args.spans, args.runs) <= 2
    print()
    p6_met = p6(args.p6_runs)
    return 0 if p4_met and p6_met else 1


if __name__ == "__main__":
    sys.exit(main())
