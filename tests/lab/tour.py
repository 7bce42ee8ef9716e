"""Runs the cutover playbooks against the lab under bounded live load: the `make demo` tour,
and the helpers the cutover scenario and `make bench-cutover` share.

Releases are built by build_artifact.py, optionally with a built-in defect; the playbooks
run as a user would run them (`ansible-playbook`), their progress lines are echoed, and the
load clients count every response through both load balancers.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from loadgen import LoadGenerator  # noqa: E402

MSG_LINE = re.compile(r'^\s*"msg": "(.*)",?$')
FAILED_LINE = re.compile(r"^fatal: \[[^\]]+\]: FAILED! => (\{.*\})$")


def build_release(version, defects=(), cache=ROOT / ".cache", pins=(), migrations=None):
    """Builds bgdemo-<version> (with `defects`, e.g. ["error_rate=0.3"], `pins`, e.g.
    ["requests==2.31.0"], and the migrations of a directory of tests/lab/migrations) and
    returns the bluegreen_release mapping."""
    command = [sys.executable, str(HERE / "app" / "build_artifact.py"), "--version", version,
               "--out", str(cache / "artifacts"), "--wheel-cache", str(cache / "wheels")]
    for defect in defects:
        command += ["--defect", defect]
    for pin in pins:
        command += ["--pin", pin]
    if migrations:
        command += ["--migrations", str(HERE / "migrations" / migrations)]
    built = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    return {"version": built["version"], "artifact": built["path"], "sha256": built["sha256"]}


def build_service_release(service, version, defects=(), cache=ROOT / ".cache"):
    """Builds <service>-<version> of one of the lab's services that ship their own build.sh
    (goshop, the Go service; jshop, the Java service), with `defects` (e.g.
    ["error_rate=0.3"]), and returns the bluegreen_release mapping."""
    command = [str(HERE / service / "build.sh"), "--version", version, "--out", str(cache / "artifacts")]
    for defect in defects:
        command += ["--defect", defect]
    built = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    return {"version": built["version"], "artifact": built["path"], "sha256": built["sha256"]}


def run_playbook(playbook, inventory, extra_vars, echo=True, log=None, start_new_session=False, on_start=None):
    """Runs a collection playbook (by its short name) or a playbook file (a path ending in
    .yml) against one inventory or several; echoes its progress lines (the `msg` of debug
    tasks). Returns (exit code, every msg line, seconds)."""
    inventories = [inventory] if isinstance(inventory, (str, Path)) else list(inventory or [])
    target = str(playbook) if str(playbook).endswith((".yml", ".yaml")) else f"tracegate.bluegreen.{playbook}"
    command = ["ansible-playbook"] + [arg for path in inventories for arg in ("-i", str(path))] + [
        target, "-e", json.dumps(extra_vars)]
    started = time.monotonic()
    # One JSON line per debug message makes the progress lines easy to pick out.
    env = dict(os.environ, ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACKS_ENABLED="tracegate.bluegreen.audit_trail")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                               start_new_session=start_new_session, env=env)
    if on_start:
        on_start(process)
    lines = []
    for line in process.stdout:
        if log:
            log.write(line)
        match = MSG_LINE.match(line)
        failed = FAILED_LINE.match(line.rstrip("\n"))
        if match:
            text = json.loads(f'"{match.group(1)}"')
        elif failed:
            try:
                text = "failed: " + str(json.loads(failed.group(1)).get("msg", ""))
            except ValueError:
                continue
        else:
            continue
        if text not in lines:
            lines.append(text)
            if echo and not failed:
                print(f"    {text}", flush=True)
    return process.wait(), lines, time.monotonic() - started


class LabLoad:
    """Bounded keep-alive and new-connection load through every load balancer of the lab, to
    one path (`path`, by default /api/quote) or to several by weight
    (`paths={"/api/quote": 3, "/api/basket": 1}`, see loadgen), not both. `max_requests` and
    `rate` are per load balancer, over all paths."""

    def __init__(self, urls, path=None, keepalive_clients=2, new_connection_clients=1, max_seconds=600,
                 max_requests=200000, rate=80, paths=None):
        if path is not None and paths is not None:
            raise ValueError(f"LabLoad takes path ({path!r}) or paths ({paths!r}), not both")
        if paths is None:
            paths = [path or "/api/quote"]
        self.generators = {url: LoadGenerator(url.rstrip("/"), keepalive_clients=keepalive_clients,
                                              new_connection_clients=new_connection_clients, max_requests=max_requests,
                                              max_seconds=max_seconds, rate=rate, paths=paths) for url in urls}

    def __enter__(self):
        for generator in self.generators.values():
            generator.start()
        return self

    def __exit__(self, *exc):
        self.reports = {url: generator.stop() for url, generator in self.generators.items()}

    def totals_now(self):
        """Responses per color so far, while the load runs."""
        colors = {}
        for generator in self.generators.values():
            for color, count in generator.snapshot()[1].items():
                colors[color] = colors.get(color, 0) + count
        return colors

    def totals(self):
        """Responses over every load balancer: in all, per color and per path (by_route)."""
        totals = {"requests": 0, "ok": 0, "non_2xx": 0, "errors": 0, "by_color": {}, "by_route": {}}
        for report in self.reports.values():
            for key in ("requests", "ok", "non_2xx", "errors"):
                totals[key] += report[key]
            for color, count in report["by_color"].items():
                totals["by_color"][color] = totals["by_color"].get(color, 0) + count
            for route, counts in report["by_route"].items():
                route_totals = totals["by_route"].setdefault(route, dict.fromkeys(counts, 0))
                for key, count in counts.items():
                    route_totals[key] += count
        return totals


def run_logged_playbook(playbook, inventory, extra_vars, log_dir, **kwargs):
    """run_playbook with the run's whole output kept in log_dir and its tail added to the
    returned lines, for a failing check to show."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"{playbook}-{time.time():.3f}.log"
    with open(path, "w", encoding="utf-8") as log:
        code, lines, seconds = run_playbook(playbook, inventory, extra_vars, log=log, **kwargs)
    lines.append(f"(whole output in {path}): " + path.read_text(encoding="utf-8")[-3000:])
    return code, lines, seconds


def keypair(directory, name):
    """An Ed25519 key pair made with openssl: <name>.key (mode 0600) and <name>.pub."""
    key = Path(directory) / f"{name}.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    key.chmod(0o600)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(Path(directory) / f"{name}.pub")], check=True)
    return key


def verified_records(log, public_key):
    """The records of a run's audit log once tools/audit_verify.py has verified it whole;
    AssertionError with the verifier's words when it does not."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "audit_verify.py"), str(log), "--public-key",
                             str(public_key)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    # Records end in a line feed only: splitlines() would also break at U+2028 inside a record.
    return [json.loads(line) for line in Path(log).read_text(encoding="utf-8").split("\n") if line]


def served_colors(urls, requests_per_lb=60):
    """What answers new requests through each load balancer now: LabLoad totals per URL."""
    colors = {}
    for url in urls:
        with LabLoad([url], keepalive_clients=1, new_connection_clients=1, max_requests=requests_per_lb, rate=None) as load:
            pass
        colors[url] = load.totals()
    return colors


def render_report(log, public_key):
    """Verifies a run's audit log and renders its evidence report with the audit_report
    playbook; returns the playbook's summary line."""
    # No inventory: the implicit localhost runs the module with the controller's Python.
    extra_vars = {"bluegreen_audit_log": str(Path(log).resolve()), "bluegreen_audit_public_key": str(Path(public_key).resolve())}
    code, lines, _seconds = run_playbook("audit_report", None, extra_vars, echo=False)
    summary = next((line for line in lines if line.startswith("run sealed")), "; ".join(lines[-2:]))
    return f"{Path(log).name}: {summary}" if code == 0 else f"{Path(log).name}: REPORT FAILED: {summary}"


def lab_urls(inventory):
    text = Path(inventory).read_text(encoding="utf-8")
    return re.findall(r'bluegreen_lb_url: "([^"]+)"', text)


def live_color(urls):
    """The color that answers new requests through every load balancer, or what each says."""
    seen = {url: sorted(totals["by_color"]) for url, totals in served_colors(urls, 20).items()}
    colors = {tuple(colors) for colors in seen.values()}
    return colors.pop()[0] if len(colors) == 1 and len(next(iter(colors))) == 1 else f"split {seen}"


# The molecule scenarios' cutovers. Two steps (the default has four): each case needs a
# share of the users on both colors and then all of them, and every step less is a bake and
# its tasks less per cutover. The hold is only waited while a look is inconclusive: at 60
# requests a second per load balancer, the 25 % step brings the new color the judge's 50
# requests (min_requests) in about 2 s; a 5 % step took 17 s, and longer than bake and hold
# on a loaded machine. The live rate the load test copies is read from 15 s of traces, not a
# minute (15 s less per cutover).
# What the gates of the molecule cutover scenario's lab need for bgdemo: its security gate
# matches the release's packages against the lab's advisories and runs a command on the idle
# hosts; its migration gate runs the release's migrations on the lab's PostgreSQL from the
# controller (through the published port) and smoke-tests its orders.
SCENARIO_GATES = {"bluegreen_security_advisories": str(HERE / "advisories"),
                  "bluegreen_security_policy": {"forbidden_paths": ["/admin", "/debug/vars"]},
                  "bluegreen_security_command_checks": [{"name": "the service runs as its own user",
                                                         "argv": ["systemctl", "show", "-p", "User", "--value", "bgdemo.service"],
                                                         "stdout": "^bgdemo$"}],
                  "bluegreen_database": {"conninfo": "host=127.0.0.1 port=25432 dbname=bgdemo user=bgdemo",
                                         "password": "bgdemo-lab-only", "smoke_paths": ["/api/orders"]}}

SCENARIO_TIMING = {"bluegreen_bake_seconds": 8, "bluegreen_analysis_interval": 4, "bluegreen_hold_seconds": 20,
                   "bluegreen_watch_seconds": 8, "bluegreen_analysis_window": 30, "bluegreen_probe_deadline": 15,
                   "bluegreen_steps": [25, 100], "bluegreen_load_test_seconds": 6,
                   "bluegreen_load_test_rate_window": 15}

TIMING = {"bluegreen_bake_seconds": 10, "bluegreen_analysis_interval": 5, "bluegreen_hold_seconds": 20,
          "bluegreen_watch_seconds": 15, "bluegreen_analysis_window": 30, "bluegreen_load_test_seconds": 8}


def tour(inventory):
    urls = lab_urls(inventory)
    cases = [
        ("healthy release", "1.1.0", [], [], "succeeded"),
        # Users' baskets fail; the load test before traffic asks quotes only, so its users see it.
        ("basket endpoint fails (users only)", "1.2.0-faulty", ["failing_route=/api/basket"], [], "rolled back"),
        ("tracing switched off", "1.3.0-untraced", ["tracing=off"], [], "stopped before traffic"),
        ("vulnerable package (requests 2.31.0)", "1.4.0-vulnerable", [], ["requests==2.31.0"], "stopped before traffic"),
    ]
    rows = []
    for title, version, defects, pins, expected in cases:
        print(f"\n== Cutover of {version}: {title}; expected: {expected}", flush=True)
        release = build_release(version, defects, pins=pins)
        with LabLoad(urls, paths={"/api/quote": 3, "/api/basket": 1}) as load:
            extra_vars = dict(TIMING, bluegreen_release=release, bluegreen_change_ticket="CHG-DEMO",
                              bluegreen_security_advisories=str(HERE / "advisories"))
            code, _lines, seconds = run_playbook("cutover", inventory, extra_vars)
        totals = load.totals()
        rows.append((version, title, "ok" if code == 0 else f"exit {code}", live_color(urls), totals, seconds))
    print("\n== Summary (load through HAProxy and NGINX during each run)")
    print(f"{'release':<16} {'case':<42} {'playbook':<9} {'live after':<10} {'requests':>8} {'LB failed':>9} "
          f"{'app 5xx':>7} {'blue':>6} {'green':>6} {'seconds':>7}")
    for version, title, status, live, totals, seconds in rows:
        print(f"{version:<16} {title:<42} {status:<9} {str(live):<10} {totals['requests']:>8} {totals['errors']:>9} "
              f"{totals['non_2xx']:>7} {totals['by_color'].get('blue', 0):>6} {totals['by_color'].get('green', 0):>6} "
              f"{seconds:>7.0f}")
    audit_dir = Path(inventory).parent / "audit"
    print(f"\nAudit logs and evidence reports in {audit_dir}:")
    for log in sorted(audit_dir.glob("*.jsonl"), key=os.path.getmtime)[-len(cases):]:
        print("  " + render_report(log, audit_dir / "signing.pub"))
    failed = [row for row, case in zip(rows, cases) if (row[2] == "ok") != (case[-1] == "succeeded")]
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default=str(ROOT / ".lab" / "inventory.yml"))
    args = parser.parse_args()
    sys.exit(tour(args.inventory))


if __name__ == "__main__":
    main()
