"""Judge benchmarks.

P4: trace_health's analysis of a window of 100,000 spans as the real Jaeger answers it
    (recorded from the real Jaeger v2 on loopback, see real_jaeger_answers.py), along the
    module's own path (decode, parse into spans, samples, judge) against a bare json.loads
    of the same answers; for api_v3 (the default) and the v1 API.
    Goal: ratio <= 2.
P6: seeded synthetic runs of the judge with its default thresholds: the A/A false-fail rate
    (both colors from one distribution) and the detection rate of a doubled error rate and
    of a 50 % slower p95, at stated sample sizes. Goal: false fail <= 1 %, detection >= 95 %.
P7: the gate's watch (gate.watch, fake clock) over seeded synthetic request streams, each
    look judging the sliding window a fake backend cuts from the stream (so consecutive looks
    see overlapping windows, as in the lab), for a short bake (8 s, a look every 4 s, hold
    12 s) and a long one (120 s, every 5 s, hold 60 s); the old rule (a tenth of alpha at
    each look before the end of the bake, the full alpha at its end and at each look of the
    hold) measured in the same run on the same streams. Goals: A/A false fail over all the
    looks of a watch <= 1 %; a clear regression caught at the first look in >= 95 % of
    watches; a modest one detected by the end of the bake in >= 95 %. With --p7-compare,
    also the power family f(tau) = tau ** rho (rho 1, 2 and 0.5) in place of the chosen plan,
    and two regressions at the edge of what the bake's last window shows.

--only P7 (repeatable) runs only the sections named; P7 alone needs no trace backend.
"""

import argparse
import io
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "benchmarks"))

# pylint: disable=wrong-import-position
from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis, gate  # noqa: E402
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


class FakeClock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class RequestStream:
    """A fake trace backend over a synthetic request stream: Poisson arrivals per color,
    lognormal latencies (sigma 0.5) and independent errors; each search answers the requests
    of its color whose start lies in the window. Blue has served since a window before the
    step, green since the step."""

    def __init__(self, rng, started, until, window, traffic):
        self.colors = {}
        for color, begin in (("blue", started - window), ("green", started)):
            per_second, error_rate, median_ms = traffic[color]
            count = rng.poisson(per_second * (until - begin))
            starts = numpy.sort(rng.uniform(begin, until, count))
            latencies = rng.lognormal(0.0, 0.5, count) * median_ms
            errors = numpy.concatenate([[0], numpy.cumsum(rng.random(count) < error_rate)])
            self.colors[color] = (starts, latencies, errors)

    def sample(self, query):
        starts, latencies, errors = self.colors[query.color]
        first, end = numpy.searchsorted(starts, [query.start, query.end])
        return ColorSample(query.color, requests=int(end - first), errors=int(errors[end] - errors[first]),
                           latencies_ms=latencies[first:end].tolist())


def old_watch(backend, settings, bake, interval, hold, clock, sleep):
    """gate.watch as it was before alpha spending: a tenth of alpha at each look before the
    end of the bake, the full alpha at its end and at every look of the hold."""
    alpha = settings.thresholds["alpha"]
    started = clock()
    bake_end = started + bake
    hold_end = bake_end + hold
    next_look = min(started + interval, bake_end)
    settled = {}
    alphas = []
    while True:
        sleep(max(0.0, next_look - clock()))
        now = clock()
        interim = now < bake_end
        alphas.append(alpha * 0.1 if interim else alpha)
        judged = gate.look(backend, settings, now, settled=settled, alpha=alphas[-1])
        verdict = judged["verdict"]
        if verdict == "fail" or (not interim and (verdict == "pass" or now >= hold_end)):
            return verdict, alphas, now - started
        next_look = now + interval
        if interim and next_look > bake_end:
            next_look = bake_end


P7_WINDOW = 60.0
P7_BAKES = {"short": (8.0, 4.0, 12.0), "long": (120.0, 5.0, 60.0)}
# Requests per second: a 25 % step (green 10/s, blue 30/s), and a 5 % step of 12 requests per
# second, whose green seldom reaches min_requests in a window, so almost every watch holds.
P7_TRAFFIC = {"25 %": (30.0, 10.0), "thin 5 %": (11.4, 0.6)}
P7_HEALTHY = (0.01, 20.0)
# The spending functions --p7-compare measures against the chosen one.
P7_POWERS = {"f=tau": 1.0, "f=tau^2": 2.0, "f=sqrt(tau)": 0.5}


def p7_watch(task):
    """One seeded watch under one rule: (verdict, level of each look, seconds to the verdict)."""
    rule, bake_name, traffic_name, green, seed = task
    bake, interval, hold = P7_BAKES[bake_name]
    blue_rate, green_rate = P7_TRAFFIC[traffic_name]
    started = 1.7e9
    rng = numpy.random.default_rng(seed)
    stream = RequestStream(rng, started, started + bake + hold + interval + 1, P7_WINDOW,
                           {"blue": (blue_rate, *P7_HEALTHY), "green": (green_rate, *green)})
    clock = FakeClock(started)
    settings = gate.GateSettings("bgdemo", "blue", "green", P7_WINDOW, since=started)
    if rule == "old":
        return old_watch(stream, settings, bake, interval, hold, clock.time, clock.sleep)
    chosen = gate.spending
    if rule != "new":  # a power family f(tau) = tau ** rho, for comparison
        gate.spending = lambda tau, tau_bake, interim: tau ** P7_POWERS[rule]
    try:
        result = gate.watch(stream, settings, bake=bake, interval=interval, hold=hold, clock=clock.time, sleep=clock.sleep)
    finally:
        gate.spending = chosen
    return result["verdict"], [entry["alpha"] for entry in result["looks"]], result["decided_at"] - started


def upper_bound(failed, runs):
    """One-sided 95 % upper confidence bound of a rate (Clopper-Pearson)."""
    return 1.0 if failed >= runs else float(stats.beta.ppf(0.95, failed + 1, runs - failed))


def p7(runs, jobs, compare=False):
    """Returns whether every goal was met."""
    cases = [
        # (name, bake, traffic, green (error rate, median ms), watches, measure)
        ("A/A", "short", "25 %", P7_HEALTHY, 15 * runs, "false fail"),
        ("A/A", "long", "25 %", P7_HEALTHY, 3 * runs, "false fail"),
        ("A/A, thin: watches hold", "long", "thin 5 %", P7_HEALTHY, runs, "false fail"),
        ("errors 1 % -> 30 %", "short", "25 %", (0.30, 20.0), 2 * runs, "first look"),
        ("p95 doubled", "short", "25 %", (0.01, 40.0), 2 * runs, "first look"),
        ("errors 1 % -> 20 %", "short", "25 %", (0.20, 20.0), 2 * runs, "by bake end"),
        ("p95 +50 %", "short", "25 %", (0.01, 30.0), 2 * runs, "by bake end"),
        ("errors 1 % -> 30 %", "long", "25 %", (0.30, 20.0), 2 * runs, "first look"),
        ("p95 doubled", "long", "25 %", (0.01, 40.0), 2 * runs, "first look"),
        ("errors 1 % -> 4 %", "long", "25 %", (0.04, 20.0), 2 * runs, "by bake end"),
        ("p95 +30 %", "long", "25 %", (0.01, 26.0), 2 * runs, "by bake end"),
    ]
    if compare:
        # Regressions at the edge of what the bake's last window shows, where the plans differ
        # most; no goal.
        cases += [("errors 1 % -> 12 % (edge)", "short", "25 %", (0.12, 20.0), 2 * runs, "by bake end"),
                  ("errors 1 % -> 3 % (edge)", "long", "25 %", (0.03, 20.0), 2 * runs, "by bake end")]
    goals = {"false fail": lambda x: x <= 0.01, "first look": lambda x: x >= 0.95, "by bake end": lambda x: x >= 0.95}
    alpha = analysis.DEFAULT_THRESHOLDS["alpha"]
    print(f"P7: gate.watch over seeded synthetic request streams, {P7_WINDOW:g} s windows since the step, "
          f"alpha {alpha} per test; bakes (bake, interval, hold): "
          + ", ".join(f"{name} {bake:g}/{interval:g}/{hold:g} s" for name, (bake, interval, hold) in P7_BAKES.items()))
    print(f"    traffic requests/s (blue, green): {json.dumps(P7_TRAFFIC)}; healthy: 1 % errors, 20 ms median; "
          "fail at look: the median look of the fails, old rule and new")
    print(f"    {'case':<26} {'bake':<6} {'traffic':<9} {'watches':>7} {'measure':>12} {'old rule':>9} {'new rule':>9} "
          f"{'new/old':>7} {'fail at look':>14} {'max looks':>9} {'max alpha/watch old, new':>24}  goal")
    ok = True
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        for number, (name, bake_name, traffic_name, green, watches, measure) in enumerate(cases):
            bake = P7_BAKES[bake_name][0]
            rates, looks, spent, caught = {}, {}, {}, {}
            for rule in ("old", "new", *(P7_POWERS if compare else ())):
                tasks = [(rule, bake_name, traffic_name, green, (7, number, seed)) for seed in range(watches)]
                results = list(pool.map(p7_watch, tasks, chunksize=max(1, watches // (8 * jobs))))
                failed = [result for result in results if result[0] == "fail"]
                if measure == "first look":
                    hits = sum(len(alphas) == 1 for _verdict, alphas, _after in failed)
                elif measure == "by bake end":
                    hits = sum(after <= bake for _verdict, alphas, after in failed)
                else:
                    hits = len(failed)
                rates[rule] = hits / watches
                caught[rule] = numpy.median([len(alphas) for _verdict, alphas, _after in failed]) if failed else None
                looks[rule] = max(len(alphas) for _verdict, alphas, _after in results)
                spent[rule] = max(sum(alphas) for _verdict, alphas, _after in results)
            edge = name.endswith("(edge)")
            met = edge or goals[measure](rates["new"])
            ok &= met
            ratio = f"{rates['new'] / rates['old']:.2f}" if rates["old"] else "-"
            at = "-" if measure == "false fail" else ", ".join("-" if caught[rule] is None else f"{caught[rule]:g}" for rule in ("old", "new"))
            bound = f" (95 % bound {upper_bound(round(rates['new'] * watches), watches):.1%})" if measure == "false fail" else ""
            print(f"    {name:<26} {bake_name:<6} {traffic_name:<9} {watches:>7} {measure:>12} {rates['old']:>9.1%} {rates['new']:>9.1%} "
                  f"{ratio:>7} {at:>14} {looks['new']:>9} {spent['old']:>11.4f} {spent['new']:>12.4f}  "
                  f"{'-' if edge else 'met' if met else 'MISSED'}{bound}")
            if compare:
                print(f"    {'':<26} {'':<6} {'':<9} {'':>7} {'':>12} " + "   ".join(f"{rule} {rates[rule]:.1%}" for rule in P7_POWERS))
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--p6-runs", type=int, default=400)
    parser.add_argument("--p7-runs", type=int, default=100,
                        help="P7 scale: watches per case are 15 times this for the short A/A, 3 times for the long, 2 for regressions")
    parser.add_argument("--p7-compare", action="store_true",
                        help="P7 also measures the power family f(tau) = tau ** rho for rho 1, 2 and 0.5, and two regressions at the edge")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for P7")
    parser.add_argument("--only", action="append", choices=("P4", "P6", "P7"),
                        help="run only this section (may be given more than once); default: all")
    args = parser.parse_args(argv)
    sections = {"P4": lambda: p4(args.spans, args.runs) <= 2, "P6": lambda: p6(args.p6_runs),
                "P7": lambda: p7(args.p7_runs, args.jobs, args.p7_compare)}
    met = True
    for number, name in enumerate(name for name in sections if not args.only or name in args.only):
        if number:
            print()
        met &= sections[name]()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
