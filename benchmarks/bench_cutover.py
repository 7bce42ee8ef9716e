"""Cutover benchmarks on the lab (make lab-up), under bounded load through both load balancers.

P3: a release with an error-rate fault is cut over with a 5 s analysis interval; the time
    from the fault's first effect (the first error answer of the new color seen by the load
    clients) to all traffic back on the live color (the last answer of the new color they
    see). Goal: <= 10 s.
P5: a healthy cutover in 4 steps (5/25/50/100) on both load balancers; wall time minus the
    configured bake and watch times. Goal: <= 30 s. The time the deployment of the release
    to the idle color took is printed beside it (from the audit log). Measured twice: with
    the deployment in the cutover, and with the release deployed ahead (deploy.yml, then
    the cutover with bluegreen_deploy=false), as a change window would hold it.

Usage: python3 benchmarks/bench_cutover.py [--inventory .lab/inventory.yml]
"""

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from tour import LabLoad, build_release, lab_urls, run_playbook  # noqa: E402  pylint: disable=wrong-import-position

BAKE, WATCH, INTERVAL = 10, 10, 5
TIMING = {"bluegreen_bake_seconds": BAKE, "bluegreen_watch_seconds": WATCH, "bluegreen_analysis_interval": INTERVAL,
          "bluegreen_hold_seconds": 20, "bluegreen_analysis_window": 30, "bluegreen_probe_deadline": 15}
STEPS = [5, 25, 50, 100]


def new_color(lines):
    for line in lines:
        match = re.search(r"deploying \S+ to (blue|green)", line)
        if match:
            return match.group(1)
    raise SystemExit("the cutover did not say which color it deploys to:\n" + "\n".join(lines))


def stamp(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def audit_records(lines):
    for line in lines:
        match = re.search(r"audit log (\S+\.jsonl)", line)
        if match:
            return [json.loads(text) for text in Path(match.group(1)).read_text(encoding="utf-8").splitlines()]
    return []


def p5(inventory, version, ahead=False):
    release = build_release(version)
    settings = dict(TIMING, bluegreen_release=release)
    if ahead:
        code, lines, _seconds = run_playbook("deploy", inventory, settings, echo=False)
        if code != 0:
            raise SystemExit("P5: deploy.yml failed:\n" + "\n".join(lines))
        settings["bluegreen_deploy"] = False
    with LabLoad(lab_urls(inventory), rate=60) as load:
        code, lines, seconds = run_playbook("cutover", inventory, settings, echo=False)
    if code != 0:
        raise SystemExit("P5: the healthy cutover failed:\n" + "\n".join(lines))
    configured = BAKE * (len(STEPS) - 1) + WATCH
    records = audit_records(lines)
    first_change = next(r for r in records if r["type"] == "traffic_change")
    deploy = stamp(first_change["ts"]) - stamp(records[0]["ts"])
    totals = load.totals()
    shift = stamp(records[-1]["ts"]) - stamp(first_change["ts"]) - configured
    label = "P5 (release deployed ahead)" if ahead else "P5"
    print(f"{label} cutover wall {seconds:.1f} s - configured bake and watch {configured} s = {seconds - configured:.1f} s "
          f"(goal <= 30 s); of it, preflight + {'version check' if ahead else 'deployment'} + idle gates {deploy:.1f} s, and from the first traffic "
          f"change to the seal {shift:.1f} s beyond bake and watch; "
          f"requests {totals['requests']}, failed {totals['errors'] + totals['non_2xx']}")
    return seconds - configured


def p3(inventory, version):
    release = build_release(version, ["error_rate=0.3"])
    with LabLoad(lab_urls(inventory), rate=60) as load:
        # P3 measures the rollback under user traffic: the load test, which stops this release
        # before any, is off.
        code, lines, _seconds = run_playbook("cutover", inventory, dict(TIMING, bluegreen_release=release,
                                                                        bluegreen_load_test_seconds=0), echo=False)
    if code == 0:
        raise SystemExit("P3: the faulty release was not rolled back:\n" + "\n".join(lines))
    color = new_color(lines)
    first_error = min(r["first_seen"].get(f"{color}/non_2xx", float("inf")) for r in load.reports.values())
    last_answer = max(max(r["last_seen"].get(f"{color}/{bucket}", 0) for bucket in ("ok", "non_2xx"))
                      for r in load.reports.values())
    totals = load.totals()
    elapsed = last_answer - first_error
    print(f"P3 fault's first effect to all traffic on the live color: {elapsed:.1f} s (goal <= 10 s, interval "
          f"{INTERVAL} s); requests {totals['requests']}, failed by the load balancers {totals['errors']}, "
          f"error answers of the faulty release {totals['non_2xx']}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default=str(ROOT / ".lab" / "inventory.yml"))
    args = parser.parse_args()
    suffix = datetime.datetime.now(datetime.timezone.utc).strftime("%H%M%S")
    overhead = p5(args.inventory, f"2.0.0-bench{suffix}")
    p5(args.inventory, f"2.0.1-bench{suffix}", ahead=True)
    elapsed = p3(args.inventory, f"2.1.0-bench{suffix}")
    sys.exit(0 if overhead <= 30 and elapsed <= 10 else 1)


if __name__ == "__main__":
    main()
