"""P-gates: what the gates before traffic cost.

- The drift gate on simulated hosts: drift_fingerprint on every host, then drift_check on
  the controller, through ansible-playbook with 50 forks, for 2, 10 and 50 inventory hosts.
  The hosts are simulated: every one is this machine reached with the local connection
  (its dpkg database, its /proc, a configuration directory of its own), so the figure is the
  gate's cost per host plus Ansible's, not a network's. The baseline beside it is the same
  playbook with ansible.builtin.ping in place of the gate: the cost of reaching the hosts at
  all. Goal: at 50 hosts the gate costs at most 1.5 times the ping (the gate adds at most
  half of what Ansible spends reaching the hosts). How both grow from 10 to 50 hosts is
  printed too: flat only where the cores can run the forks at once (local connections are
  CPU work on this machine; on 2 cores neither is flat).
- With --lab (the lab up, `make lab-up`): deploy.yml, then verify.yml (timed) on the lab's 4
  app hosts under a load through both load balancers, and each gate's time read from the
  JSON callback's task times. Goal: all gates before traffic within 10 s besides the load test, whose duration
  is the user's (bluegreen_load_test_seconds).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
FORKS = 50
RATIO_GOAL = 1.5
LAB_GOAL_S = 10.0

PLAYBOOK = """
- name: Fingerprint every host
  hosts: all
  gather_facts: false
  tasks:
    - name: Read the fingerprint
      {task}
      register: bluegreen_fingerprint

- name: Compare
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Compare every host's fingerprint
      tracegate.bluegreen.drift_check:
        fingerprints: >-
          {{%- set hosts = {{}} -%}}
          {{%- for host in groups['all'] -%}}
          {{%-   set _ = hosts.update({{host: {{'color': hostvars[host].color,
                  'fingerprint': hostvars[host].bluegreen_fingerprint.fingerprint | default({{}})}}}}) -%}}
          {{%- endfor -%}}
          {{{{ hosts }}}}
      when: {compare}
"""
GATE = """tracegate.bluegreen.drift_fingerprint:
        service: shop
        color: "{{ color }}"
        files: ["{{ config_dir }}/app.env"]
        units: []"""
PING = "ansible.builtin.ping:"


def inventory(workdir, hosts):
    entries = {}
    for index in range(hosts):
        config = Path(workdir) / f"host-{index}" / "etc-shop"
        config.mkdir(parents=True, exist_ok=True)
        color = "blue" if index % 2 == 0 else "green"
        (config / "app.env").write_text(f"BLUEGREEN_COLOR={color}\nMODE=fast\n")
        entries[f"sim-{index:02d}"] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                       "color": color, "config_dir": str(config)}
    path = Path(workdir) / f"inventory-{hosts}.json"
    path.write_text(json.dumps({"all": {"hosts": entries}}))
    return path


def timed_playbook(workdir, hosts, gate):
    playbook = Path(workdir) / f"{'gate' if gate else 'ping'}.yml"
    playbook.write_text(PLAYBOOK.format(task=GATE if gate else PING, compare="true" if gate else "false"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_FORKS=str(FORKS),
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_HOST_KEY_CHECKING="0")
    started = time.perf_counter()
    completed = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory(workdir, hosts)), str(playbook)], env=env,
                               capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{playbook.name} on {hosts} hosts failed:\n{completed.stdout[-3000:]}{completed.stderr[-2000:]}")
    return elapsed


def simulated():
    with tempfile.TemporaryDirectory() as workdir:
        timed_playbook(workdir, 2, True)  # warm the caches
        rows = []
        for hosts in (2, 10, 50):
            gate = min(timed_playbook(workdir, hosts, True) for _round in range(2))
            ping = min(timed_playbook(workdir, hosts, False) for _round in range(2))
            rows.append((hosts, gate, ping))
            print(f"drift gate on {hosts:>2} simulated hosts ({FORKS} forks): {gate:.2f} s, {gate / hosts * 1000:.0f} ms per host; "
                  f"ping baseline {ping:.2f} s; ratio {gate / ping:.2f}", flush=True)
    gate10, ping10 = rows[1][1:]
    gate50, ping50 = rows[2][1:]
    print(f"drift gate: from 10 to 50 hosts the gate grows {gate50 / gate10:.2f} times, the ping {ping50 / ping10:.2f} "
          f"times ({os.cpu_count()} cores); at 50 hosts the gate costs {gate50 / ping50:.2f} times the ping "
          f"(goal < {RATIO_GOAL:g})")
    return gate50 / ping50 < RATIO_GOAL


GATE_TASKS = {
    "drift": ("Read the host's fingerprint for the drift gate", "Compare blue and green"),
    "security": ("Check the idle color's security",),
    "dependencies": ("Probe the service's dependencies from the host", "Compare the colors' dependency probes"),
    "trace probe": ("Send the trace probes to the idle color", "Find the probes' traces"),
    "load test": ("Read the live color's load per host", "Load the idle color through the preview route",
                  "Judge the load from the traces"),
}


def task_seconds(result):
    """{task name: seconds it ran, summed over the times it ran}, from the JSON callback."""
    times = {}
    for play in result["plays"]:
        for task in play["tasks"]:
            duration = task["task"].get("duration") or {}
            if duration.get("start") and duration.get("end"):
                seconds = (datetime.datetime.fromisoformat(duration["end"])
                           - datetime.datetime.fromisoformat(duration["start"])).total_seconds()
                times[task["task"]["name"]] = times.get(task["task"]["name"], 0.0) + seconds
    return times


def lab():
    sys.path.insert(0, str(ROOT / "tests" / "lab"))
    from tour import TIMING, LabLoad, build_release, lab_urls  # pylint: disable=import-outside-toplevel

    inventory_path = ROOT / ".lab" / "inventory.yml"
    release = build_release("1.1.0")
    extra = dict(TIMING, bluegreen_release=release, bluegreen_change_ticket="CHG-BENCH",
                 bluegreen_security_advisories=str(ROOT / "tests" / "lab" / "advisories"))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    with LabLoad(lab_urls(inventory_path)):
        # verify judges the release the idle color runs: deploy it there first (not timed).
        for playbook in ("deploy", "verify"):
            completed = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory_path), f"tracegate.bluegreen.{playbook}",
                                        "-e", json.dumps(extra)], env=env, capture_output=True, text=True, check=False,
                                       cwd=ROOT)
            if completed.returncode != 0:
                raise SystemExit(f"{playbook} failed:\n{completed.stdout[-3000:]}")
    times = task_seconds(json.loads(completed.stdout))
    total = 0.0
    for gate, names in GATE_TASKS.items():
        seconds = sum(times.get(name, 0.0) for name in names)
        if gate != "load test":
            total += seconds
        print(f"lab gate {gate:<13} {seconds:6.2f} s")
    print(f"lab: the gates before traffic besides the load test took {total:.2f} s on 4 app hosts (goal < {LAB_GOAL_S:g} s)")
    return total < LAB_GOAL_S


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="store_true", help="also time the gates in the lab (make lab-up first)")
    args = parser.parse_args()
    ok = simulated()
    if args.lab:
        ok = lab() and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
