"""Switch benchmarks.

P1: switching N servers (weights + states + verification) on one real HAProxy on loopback,
    with tracegate.bluegreen.haproxy_backend (one task) and with community.general.haproxy
    doing the same job in a loop, in the same run. Prints both task times and the ratio.
P2: bounded load through each lab load balancer's loopback port while traffic moves
    blue->green in steps (0/5/25/50/100) and back; prints every response counted.

Usage: python3 benchmarks/bench_switch.py [--p1] [--p2] [--sizes 10,50,100]
P2 needs the lab (make lab-up); `make bench-switch` brings it up.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests" / "lab"), str(ROOT / "tests" / "lab" / "app")]

from lb_harness import HAProxyUnderTest  # noqa: E402  pylint: disable=wrong-import-position
from loadgen import LoadGenerator  # noqa: E402  pylint: disable=wrong-import-position

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
STEPS = [0, 5, 25, 50, 100, 50, 25, 5, 0]


def run_playbook(plays, inventory=None, limit=None):
    """Runs a playbook, returns (wall seconds, {task name: summed duration}, json result)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump(plays, handle, sort_keys=False)
        path = handle.name
    command = [ANSIBLE_PLAYBOOK, path]
    if inventory:
        command += ["-i", inventory]
    if limit:
        command += ["--limit", limit]
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOCALHOST_WARNING": "0"}
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    os.unlink(path)
    # pause prints its own line ahead of the JSON document
    document = completed.stdout[completed.stdout.find("{\n"):]
    try:
        result = json.loads(document)
    except json.JSONDecodeError:
        raise SystemExit(f"playbook output was not JSON:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    if completed.returncode != 0:
        raise SystemExit(f"playbook failed:\n{json.dumps(result['stats'])}\n{completed.stdout[-3000:]}")
    durations = {}
    for play in result["plays"]:
        for task in play["tasks"]:
            start, end = task["task"]["duration"]["start"], task["task"]["duration"]["end"]
            seconds = _iso_seconds(end) - _iso_seconds(start)
            durations[task["task"]["name"]] = durations.get(task["task"]["name"], 0.0) + seconds
    return wall, durations, result


def _iso_seconds(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def localhost_play(tasks):
    return [{"name": "Benchmark", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]


def ours(lb, green_live):
    return {
        "name": "haproxy_backend",
        "tracegate.bluegreen.haproxy_backend": {
            "socket": lb.socket,
            "backend": "app",
            "state_file": lb.state_file,
            "weights": {"blue": 0, "green": 100} if green_live else {"blue": 100, "green": 0},
            "states": {"blue": "drain", "green": "ready"} if green_live else {"blue": "ready", "green": "drain"},
        },
    }


def theirs(lb, green_live):
    """community.general.haproxy has one server per call: enable the new color with its
    weight, drain the old one."""
    blue = [s for s in lb.apps if s.startswith("blue_")]
    green = [s for s in lb.apps if s.startswith("green_")]
    live, idle = (green, blue) if green_live else (blue, green)
    return [
        {"name": "community.general.haproxy enable", "community.general.haproxy": {
            "socket": lb.socket, "backend": "app", "host": "{{ item }}", "state": "enabled", "weight": "100"},
         "loop": live},
        {"name": "community.general.haproxy drain", "community.general.haproxy": {
            "socket": lb.socket, "backend": "app", "host": "{{ item }}", "state": "drain"},
         "loop": idle},
    ]


def expect(lb, green_live):
    """Reads HAProxy itself: the switch really happened."""
    servers = lb.servers()
    for name, (weight, flags) in servers.items():
        is_live = name.startswith("green_") == green_live
        if is_live and (flags & 0x09 or weight == 0):
            raise SystemExit(f"P1: {name} should take traffic, HAProxy says weight {weight} flags {flags}")
        if not is_live and not flags & 0x08:
            raise SystemExit(f"P1: {name} should be draining, HAProxy says flags {flags}")


def p1(sizes):
    print("P1: switch N servers (weights + states + verify), same HAProxy 2.6, same run")
    print(f"{'servers':>8} {'ours (s)':>10} {'c.g.haproxy (s)':>16} {'ratio':>7}   wall: ours / c.g.haproxy (s)")
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as workdir:
            names = [f"blue_{i}" for i in range(size // 2)] + [f"green_{i}" for i in range(size - size // 2)]
            lb = HAProxyUnderTest(workdir, names, check_inter="2s").start()
            try:
                timings = {"ours": [0.0, 0.0], "theirs": [0.0, 0.0]}
                # Two round trips each, alternating, so both meet the same HAProxy state.
                for green_live in (True, False, True, False):
                    wall, durations, _result = run_playbook(localhost_play([ours(lb, green_live)]))
                    expect(lb, green_live)
                    timings["ours"][0] += sum(durations.values())
                    timings["ours"][1] += wall
                    wall, durations, _result = run_playbook(localhost_play(theirs(lb, not green_live)))
                    timings["theirs"][0] += sum(durations.values())
                    timings["theirs"][1] += wall
                    # put it back for the next round of ours
                    run_playbook(localhost_play([ours(lb, green_live)]))
            finally:
                lb.stop()
        ratio = timings["theirs"][0] / timings["ours"][0]
        rows.append((size, timings, ratio))
        print(f"{size:>8} {timings['ours'][0] / 4:>10.3f} {timings['theirs'][0] / 4:>16.3f} {ratio:>7.1f}   "
              f"{timings['ours'][1] / 4:.2f} / {timings['theirs'][1] / 4:.2f}")
    print("(task time per switch, mean of 4; the ratio is c.g.haproxy / ours)")
    return rows


def lab_inventory():
    inventory = ROOT / ".lab" / "inventory.yml"
    if not inventory.exists():
        raise SystemExit("P2 needs the lab: run `make lab-up` (or `make bench-switch`)")
    with open(inventory, encoding="utf-8") as handle:
        return str(inventory), yaml.safe_load(handle)


def step_task(kind, green_percent):
    weights = {"blue": 100 - green_percent, "green": green_percent}
    if kind == "haproxy":
        return {"name": f"green {green_percent}%", "tracegate.bluegreen.haproxy_backend": {"backend": "app", "weights": weights}}
    return {"name": f"green {green_percent}%", "tracegate.bluegreen.nginx_upstream": {"weights": weights}}


def p2(min_requests, bake_seconds):
    inventory, data = lab_inventory()
    load_balancers = data["all"]["children"]["bluegreen_lb"]["hosts"]
    print(f"P2: load through each load balancer while green moves {'/'.join(map(str, STEPS))} %")
    print(f"{'lb':<11} {'requests':>9} {'ok':>8} {'non-2xx':>8} {'errors':>7} {'failed':>7} "
          f"{'keepalive retries':>18} {'req/s':>7}  by color")
    results = {}
    for host, spec in load_balancers.items():
        tasks = []
        for percent in STEPS:
            tasks.append(step_task(spec["lb_kind"], percent))
            tasks.append({"name": "bake", "ansible.builtin.pause": {"seconds": bake_seconds}})
        plays = [{"name": "Shift", "hosts": host, "gather_facts": False, "tasks": tasks}]
        load = LoadGenerator(f"{spec['bluegreen_lb_url']}/api/quote", keepalive_clients=6, new_connection_clients=2,
                             max_requests=10 * min_requests, max_seconds=240).start()
        run_playbook(plays, inventory=inventory, limit=host)
        deadline = time.monotonic() + 120
        while load.snapshot()[0].get("ok", 0) < min_requests and time.monotonic() < deadline:
            time.sleep(0.2)
        report = load.stop()
        results[host] = report
        print(f"{host:<11} {report['requests']:>9} {report['ok']:>8} {report['non_2xx']:>8} {report['errors']:>7} "
              f"{report['failed']:>7} {report['retried_on_closed_keepalive']:>18} "
              f"{report['requests'] / report['seconds']:>7.0f}  {report['by_color']}")
        if report["error_kinds"]:
            print(f"{'':<11} error kinds: {report['error_kinds']}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p1", action="store_true")
    parser.add_argument("--p2", action="store_true")
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--min-requests", type=int, default=20000)
    parser.add_argument("--bake", type=float, default=1.0)
    args = parser.parse_args(argv)
    run_all = not (args.p1 or args.p2)
    if args.p1 or run_all:
        p1([int(s) for s in args.sizes.split(",")])
        print()
    if args.p2 or run_all:
        p2(args.min_requests, args.bake)


if __name__ == "__main__":
    main()
