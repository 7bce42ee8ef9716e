"""Judge benchmarks.

P4: trace_health's analysis of 100,000 spans from Jaeger v1 answers, one per color, along
    the module's own path (decode, parse into spans, samples, judge) against a bare
    json.loads of the same payloads.
    Goal: ratio <= 2.
P6: seeded synthetic runs of the judge with its default thresholds: the A/A false-fail rate
    (both colors from one distribution) and the detection rate of a doubled error rate and
    of a 50 % slower p95, at stated sample sizes. Goal: false fail <= 1 %, detection >= 95 %.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))

# pylint: disable=wrong-import-position
from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis  # noqa: E402
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.http import HttpClient  # noqa: E402
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.jaeger import JaegerV1  # noqa: E402
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import ColorSample, TraceQuery  # noqa: E402


def jaeger_payload(spans, color, seed=7):
    """A Jaeger v1 search answer for one color: traces of one server span each."""
    rng = random.Random(seed)
    traces = []
    for index in range(spans):
        trace_id = f"{rng.getrandbits(128):032x}"
        error = rng.random() < 0.01
        tags = [{"key": "span.kind", "type": "string", "value": "server"},
                {"key": "http.request.method", "type": "string", "value": "GET"},
                {"key": "http.response.status_code", "type": "int64", "value": 500 if error else 200}]
        if error:
            tags.append({"key": "error", "type": "bool", "value": True})
        traces.append({
            "traceID": trace_id, "warnings": None,
            "spans": [{"traceID": trace_id, "spanID": f"{rng.getrandbits(64):016x}", "flags": 1,
                       "operationName": "GET /api/quote", "references": [], "startTime": 1764072000000000 + index,
                       "duration": int(rng.lognormvariate(3, 0.4) * 1000), "tags": tags, "logs": [],
                       "processID": "p1", "warnings": None}],
            "processes": {"p1": {"serviceName": "bgdemo", "tags": [
                {"key": "service.version", "type": "string", "value": "1.0.0"},
                {"key": "deployment.color", "type": "string", "value": color}]}},
        })
    return json.dumps({"data": traces, "total": 0, "limit": 0, "offset": 0, "errors": None}).encode()


def best_of(runs, work):
    times = []
    for _attempt in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


class Answer:
    """A recorded HTTP answer: json() decodes it, as requests does."""

    status_code = 200

    def __init__(self, body):
        self.body = body

    def json(self):
        return json.loads(self.body)


class RecordedJaeger:
    """Stands in for the HTTP session, answering each color's search with its payload."""

    def __init__(self, payloads):
        self.payloads = payloads
        self.headers = {}

    def get(self, url, params=None, timeout=None):
        return Answer(self.payloads[json.loads(params["tags"])["deployment.color"]])


def analyse(payloads):
    """What trace_health does: one search per color, parse, sample, judge."""
    backend = JaegerV1(HttpClient("http://jaeger:16686", session=RecordedJaeger(payloads), retries=0))
    samples = {color: backend.sample(TraceQuery("bgdemo", 1764071000, 1764073000, color=color, limit=10**6))
               for color in ("blue", "green")}
    return analysis.judge(samples["blue"], samples["green"])


def p4(spans, runs):
    payloads = {"blue": jaeger_payload(spans // 2, "blue", seed=1), "green": jaeger_payload(spans - spans // 2, "green", seed=2)}
    baseline = best_of(runs, lambda: [json.loads(p) for p in payloads.values()])
    ours = best_of(runs, lambda: analyse(payloads))
    verdict = analyse(payloads)["verdict"]
    size = sum(len(p) for p in payloads.values())
    print(f"P4: {spans} spans in two Jaeger v1 answers (one per color), {size / 1e6:.1f} MB of JSON (best of {runs})")
    print(f"    json.loads {baseline:.3f} s   trace_health analysis {ours:.3f} s   ratio {ours / baseline:.2f} (goal <= 2)"
          f"   verdict {verdict}")
    return ours / baseline


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
    p4(args.spans, args.runs)
    print()
    p6(args.p6_runs)


if __name__ == "__main__":
    main()
