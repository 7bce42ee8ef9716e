"""The judge in the lab (`make bench-judge-lab`): real cutovers under the bounded lab load and a
bounded background CPU load (stress-ng, time-limited), judged by the real Jaeger.

Runs cutovers of a release identical to the live one and of faulty releases of four kinds:
  error rate +2 points        every request of the release fails with probability 0.02
  p95 +50 % under load only   each request waits 15 ms more while its host serves over 40 req/s:
                              only at full load (the watch), never at the steps' lighter loads
  one endpoint failing        GET /api/basket answers 500, GET /api/quote is healthy
  dependency slow from new    the release's calls to its dependency take longer
and prints: false rollbacks of the identical release (goal 0), faulty releases stopped (goal
>= 95 %), and the median and worst seconds from the first request the faulty release served
to its last (all traffic back; goal at the median <= one analysis interval + 2 s).
Exits 1 when a goal is missed. Needs the lab (make lab-up); sends traffic only to the lab's
load balancers on 127.0.0.1, with bounded request counts and durations.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lab"))

# pylint: disable=wrong-import-position
from tour import LabLoad, build_release, lab_urls, live_color, run_playbook  # noqa: E402

# Short bakes and three steps so that 40 cutovers fit in about 40 minutes; the judge's
# thresholds are its defaults. The load test before traffic is off: this measures the
# judge of the steps and the watch under user traffic.
TIMING = {"bluegreen_bake_seconds": 8, "bluegreen_analysis_interval": 4, "bluegreen_hold_seconds": 12,
          "bluegreen_watch_seconds": 8, "bluegreen_analysis_window": 30, "bluegreen_probe_deadline": 15,
          "bluegreen_steps": [5, 50, 100], "bluegreen_load_test_seconds": 0}
PATHS = {"/api/quote": 3, "/api/basket": 1}
FAULTS = {
    "error rate +2 points": ["error_rate=0.02"],
    # Each host carries ~60 req/s after the switch, ~30 at the 50 % step: the delay starts
    # between the two. A delay per request in flight never showed: at this load a request
    # rarely meets another.
    "p95 +50 % under load only": ["latency_under_load_ms=15", "load_threshold_rps=40"],
    "one endpoint failing": ["failing_route=/api/basket"],
    "dependency slow from new": ["dependency_latency_ms=15"],
}


def other(color):
    return "green" if color == "blue" else "blue"


def outcome_of(code, lines):
    if code == 0:
        return "succeeded"
    for line in reversed(lines):
        if "rolled_back" in line or "rolled back" in line:
            return "rolled back"
        if "stopped_before_traffic" in line:
            return "stopped before traffic"
    return f"failed (exit {code})"


def exposure(load, color):
    """Seconds from the first answer of `color` to its last, through every load balancer."""
    first = [at for report in load.reports.values() for key, at in report["first_seen"].items() if key.startswith(color + "/")]
    last = [at for report in load.reports.values() for key, at in report["last_seen"].items() if key.startswith(color + "/")]
    return (max(last) - min(first)) if first and last else 0.0


def cutover(inventory, urls, release, rate):
    live = live_color(urls)
    if live not in ("blue", "green"):
        raise SystemExit(f"the lab is not settled on one color ({live}): run the rollback playbook first")
    with LabLoad(urls, paths=PATHS, rate=rate) as load:
        extra_vars = dict(TIMING, bluegreen_release=release, bluegreen_change_ticket="CHG-BENCH")
        code, lines, seconds = run_playbook("cutover", inventory, extra_vars, echo=False)
    verdicts = [line for line in lines if line.startswith(("step", "watch", "trace_probe"))]
    return {"outcome": outcome_of(code, lines), "seconds": seconds, "new": other(live), "exposure": exposure(load, other(live)),
            "last_gate": verdicts[-1] if verdicts else (lines[-1] if lines else "")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default=str(ROOT / ".lab" / "inventory.yml"))
    parser.add_argument("--identical", type=int, default=20, help="cutovers of the identical release")
    parser.add_argument("--per-fault", type=int, default=5, help="cutovers of each faulty kind")
    parser.add_argument("--stress-cpus", type=int, default=2, help="stress-ng CPU workers beside the lab (0: none)")
    parser.add_argument("--rate", type=float, default=60, help="requests per second through each load balancer")
    args = parser.parse_args()

    urls = lab_urls(args.inventory)
    # The commit judged with, taken before the first cutover.
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True,
                            check=False).stdout.strip()
    healthy = build_release("2.0.0")
    faulty = {kind: build_release(f"2.0.{index + 1}-faulty", defects) for index, (kind, defects) in enumerate(FAULTS.items())}
    # Interleaved, so that the identical release meets the same lab (and the same leftovers
    # of faulty runs) as the faulty ones.
    plan = []
    for round_index in range(max(args.identical, args.per_fault)):
        if round_index < args.identical:
            plan.append(("identical", healthy))
        if round_index < args.per_fault:
            plan += [(kind, faulty[kind]) for kind in FAULTS]

    stress = None
    if args.stress_cpus:
        if not shutil.which("stress-ng"):
            raise SystemExit("stress-ng is not installed (make host-packages installs it)")
        # Bounded by its own timeout as well: it never outlives the benchmark by more than that.
        stress = subprocess.Popen(["stress-ng", "--cpu", str(args.stress_cpus), "--timeout", f"{len(plan) * 180}s", "--quiet"])
    results = []
    started = time.monotonic()
    try:
        for index, (kind, release) in enumerate(plan, 1):
            result = cutover(args.inventory, urls, release, args.rate)
            result["kind"] = kind
            results.append(result)
            print(f"{index:>3}/{len(plan)} {kind:<26} {result['outcome']:<22} {result['seconds']:>5.0f} s  "
                  f"new color served {result['exposure']:>5.1f} s | {result['last_gate']}", flush=True)
    finally:
        if stress:
            stress.terminate()
            stress.wait(timeout=30)

    identical = [r for r in results if r["kind"] == "identical"]
    faulty_runs = [r for r in results if r["kind"] != "identical"]
    false_rollbacks = sum(1 for r in identical if r["outcome"] != "succeeded")
    stopped = sum(1 for r in faulty_runs if r["outcome"] != "succeeded")
    exposures = sorted(r["exposure"] for r in faulty_runs if r["outcome"] != "succeeded")
    interval = TIMING["bluegreen_analysis_interval"]
    print(f"\nJudge in the lab ({commit or 'no git'}): {len(results)} cutovers in {(time.monotonic() - started) / 60:.1f} min, "
          f"stress-ng --cpu {args.stress_cpus}, {args.rate:g} req/s per load balancer")
    print(f"  false rollbacks of the identical release: {false_rollbacks} of {len(identical)} (goal 0)")
    share = 100.0 * stopped / len(faulty_runs) if faulty_runs else 100.0
    print(f"  faulty releases stopped: {stopped} of {len(faulty_runs)} ({share:.0f} %, goal >= 95 %)")
    for kind in FAULTS:
        runs = [r for r in faulty_runs if r["kind"] == kind]
        if runs:
            served = ", ".join(f"{r['exposure']:.1f}" for r in runs)
            print(f"    {kind:<26} stopped {sum(1 for r in runs if r['outcome'] != 'succeeded')} of {len(runs)}, "
                  f"new color served {served} s")
    median = statistics.median(exposures) if exposures else 0.0
    print(f"  first faulty request to all traffic back: median {median:.1f} s, worst {max(exposures, default=0.0):.1f} s "
          f"(goal at the median <= {interval + 2:g} s)")
    missed = false_rollbacks > 0 or share < 95 or median > interval + 2
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
