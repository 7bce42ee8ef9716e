"""Cutover benchmarks on the lab (make lab-up), under bounded load through both load balancers.

P3: a release with an error-rate fault is cut over with a 5 s analysis interval; the time
    from the fault's first effect (the first error answer of the new color seen by the load
    clients) to all traffic back on the live color (the last answer of the new color they
    see). Goal: <= 10 s.
P5: a healthy cutover in 4 steps (5/25/50/100) on both load balancers; wall time minus the
    configured bake and watch times. Goal: <= 30 s. The time the deployment of the release
    to the idle color took is printed beside it (from the audit log). Measured twice: with
    the deployment in the cutover, and with the release deployed ahead (deploy.yml, then
    the cutover with bluegreen_deploy=false), as a change window would hold it. Then, in the
    same lab under the same load, the baseline (baseline_cutover.yml, a bare hand-written
    playbook: the same release and weight steps, a pause as long as the bake after each, no
    gates, audit or lock): its wall time minus its pauses. Printed: both and their ratio,
    ours (with the deployment) to the baseline's; goal <= 1.0x, as seconds differ twofold
    between machines. The collection's rollback playbook then returns the traffic to the
    color our cutover made live, so that its state file and the load balancers agree again.

The inventory is the `make lab-up` lab's (podman connection) or the molecule cutover
scenario's (SSH; MOLECULE_EPHEMERAL_DIRECTORY set as molecule sets it): that one has no
audit key of its own (a throwaway key pair is made) and a lab database, whose gates need
the scenario's settings. `make bench-cutover` runs it on both, one lab after the other.

Usage: python3 benchmarks/bench_cutover.py [--inventory .lab/inventory.yml] [--only p5|p3]
"""

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from tour import SCENARIO_GATES, LabLoad, build_release, keypair, run_playbook  # noqa: E402  pylint: disable=wrong-import-position

BAKE, WATCH, INTERVAL = 10, 10, 5
# The load test before traffic as the molecule scenarios run it (tour.SCENARIO_TIMING): 6 s of
# load, the live rate read from 15 s of traces. Its defaults (30 s, 60 s) took 78 s of the
# first P5 over SSH. Its seconds are not subtracted: P5 counts every gate.
TIMING = {"bluegreen_bake_seconds": BAKE, "bluegreen_watch_seconds": WATCH, "bluegreen_analysis_interval": INTERVAL,
          "bluegreen_hold_seconds": 20, "bluegreen_analysis_window": 30, "bluegreen_probe_deadline": 15,
          "bluegreen_load_test_seconds": 6, "bluegreen_load_test_rate_window": 15}
STEPS = [5, 25, 50, 100]
CONFIGURED = BAKE * (len(STEPS) - 1) + WATCH
BASELINE = ROOT / "benchmarks" / "baseline_cutover.yml"


class Lab:
    """What the benchmark needs to know of the lab behind an inventory: the load balancers'
    published URLs, how Ansible reaches the hosts, and the extra vars its playbooks need."""

    def __init__(self, inventory, audit_dir):
        listed = json.loads(subprocess.run(["ansible-inventory", "-i", str(inventory), "--list"], check=True,
                                           capture_output=True, text=True, cwd=ROOT).stdout)
        hostvars = listed["_meta"]["hostvars"]
        balancers = listed["bluegreen_lb"]["hosts"]
        self.inventory = inventory
        self.urls = [hostvars[host]["bluegreen_lb_url"] for host in balancers]
        self.connection = "SSH" if hostvars[balancers[0]].get("ansible_connection") == "ssh" else "podman"
        self.extra_vars = {}
        if "bluegreen_audit_dir" not in hostvars[balancers[0]]:
            self.extra_vars.update(bluegreen_audit_dir=str(audit_dir),
                                   bluegreen_audit_signing_key=str(keypair(audit_dir, "signing")))
        if "lab_database" in listed:
            self.extra_vars.update(SCENARIO_GATES)

    def settings(self, **extra):
        return dict(TIMING, **self.extra_vars, **extra)


def other(color):
    return "green" if color == "blue" else "blue"


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


def p5(lab, version, ahead=False):
    """Our cutover of a new release; returns (seconds beyond bake and watch, the color it made live)."""
    release = build_release(version)
    settings = lab.settings(bluegreen_release=release)
    if ahead:
        code, lines, _seconds = run_playbook("deploy", lab.inventory, settings, echo=False)
        if code != 0:
            raise SystemExit("P5: deploy.yml failed:\n" + "\n".join(lines))
        settings["bluegreen_deploy"] = False
    with LabLoad(lab.urls, rate=60) as load:
        code, lines, seconds = run_playbook("cutover", lab.inventory, settings, echo=False)
    if code != 0:
        raise SystemExit("P5: the healthy cutover failed:\n" + "\n".join(lines))
    records = audit_records(lines)
    first_change = next(r for r in records if r["type"] == "traffic_change")
    deploy = stamp(first_change["ts"]) - stamp(records[0]["ts"])
    totals = load.totals()
    shift = stamp(records[-1]["ts"]) - stamp(first_change["ts"]) - CONFIGURED
    label = "P5 (release deployed ahead)" if ahead else "P5"
    print(f"{label} cutover wall {seconds:.1f} s - configured bake and watch {CONFIGURED} s = {seconds - CONFIGURED:.1f} s "
          f"(goal <= 30 s); of it, preflight + {'version check' if ahead else 'deployment'} + idle gates {deploy:.1f} s, and from the first traffic "
          f"change to the seal {shift:.1f} s beyond bake and watch; "
          f"requests {totals['requests']}, failed {totals['errors'] + totals['non_2xx']}", flush=True)
    return seconds - CONFIGURED, new_color(lines)


def p5_baseline(lab, version, live):
    """The bare playbook's cutover of a new release from `live` to the other color, then our
    rollback back to `live`; returns its seconds beyond its pauses."""
    release = build_release(version)
    to_color = other(live)
    settings = {"baseline_to_color": to_color, "bluegreen_release": release, "baseline_steps": STEPS,
                "baseline_bake_seconds": BAKE, "baseline_watch_seconds": WATCH}
    with LabLoad(lab.urls, rate=60) as load:
        code, lines, seconds = run_playbook(BASELINE, lab.inventory, settings, echo=False)
    if code != 0:
        raise SystemExit("P5: the baseline playbook failed:\n" + "\n".join(lines))
    totals = load.totals()
    print(f"P5 baseline ({BASELINE.name}) wall {seconds:.1f} s - pauses {CONFIGURED} s = {seconds - CONFIGURED:.1f} s; "
          f"requests {totals['requests']}, failed {totals['errors'] + totals['non_2xx']}", flush=True)
    # The baseline writes no cutover state: our rollback moves the traffic back and records
    # it, so the state file and the load balancers agree for the next run.
    code, lines, _seconds = run_playbook("rollback", lab.inventory, lab.settings(bluegreen_rollback_to=live), echo=False)
    if code != 0:
        raise SystemExit(f"P5: the rollback to {live} after the baseline failed:\n" + "\n".join(lines))
    return seconds - CONFIGURED


def p3(lab, version):
    release = build_release(version, ["error_rate=0.3"])
    with LabLoad(lab.urls, rate=60) as load:
        # P3 measures the rollback under user traffic: the load test, which stops this release
        # before any, is off.
        code, lines, _seconds = run_playbook("cutover", lab.inventory, lab.settings(bluegreen_release=release,
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
          f"error answers of the faulty release {totals['non_2xx']}", flush=True)
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default=str(ROOT / ".lab" / "inventory.yml"),
                        help="the make lab-up lab's (default) or the molecule cutover scenario's inventory")
    parser.add_argument("--only", choices=["p5", "p3"], help="run one benchmark only")
    args = parser.parse_args()
    suffix = datetime.datetime.now(datetime.timezone.utc).strftime("%H%M%S")
    with tempfile.TemporaryDirectory(prefix="bench-cutover-audit-") as audit_dir:
        lab = Lab(args.inventory, audit_dir)
        print(f"lab: {args.inventory} over {lab.connection}; load balancers {', '.join(lab.urls)}", flush=True)
        # Every goal is judged after every line is printed: a missed one must not hide the rest.
        missed = []
        if args.only in (None, "p5"):
            overhead, _live = p5(lab, f"2.0.0-bench{suffix}")
            _overhead_ahead, live = p5(lab, f"2.0.1-bench{suffix}", ahead=True)
            baseline = p5_baseline(lab, f"2.0.2-bench{suffix}", live)
            ratio = overhead / baseline
            print(f"P5 ratio over {lab.connection}: ours {overhead:.1f} s beyond bake and watch / baseline {baseline:.1f} s "
                  f"beyond its pauses = {ratio:.2f}x (goal <= 1.0x)", flush=True)
            missed += [f"P5 {overhead:.1f} s > 30 s"] * (overhead > 30) + [f"P5 ratio {ratio:.2f}x > 1.0x"] * (ratio > 1.0)
        if args.only in (None, "p3"):
            elapsed = p3(lab, f"2.1.0-bench{suffix}")
            missed += [f"P3 {elapsed:.1f} s > 10 s"] * (elapsed > 10)
    if missed:
        print("goals missed: " + "; ".join(missed))
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
