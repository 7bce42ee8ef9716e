"""color_results: the per-host input of the gates that compare the colors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tracegate.bluegreen.plugins.filter.color_results import color_results

HOSTVARS = {
    "blue-1": {"bluegreen_fingerprint": {"fingerprint": {"units": 1}, "changed": False}},
    "blue-2": {"bluegreen_fingerprint": {"msg": "Permission denied", "failed": True}},
    "green-1": {"bluegreen_fingerprint": {"fingerprint": {"units": 2}}},
    "green-2": {"other": 1},
}


def test_every_host_is_listed_with_its_color_value_and_error():
    assert color_results(HOSTVARS, ["blue-1", "blue-2"], ["green-1", "green-2", "green-3"],
                         "bluegreen_fingerprint", "fingerprint") == {
        "blue-1": {"color": "blue", "fingerprint": {"units": 1}, "error": "not read"},
        "blue-2": {"color": "blue", "fingerprint": None, "error": "Permission denied"},
        "green-1": {"color": "green", "fingerprint": {"units": 2}, "error": "not read"},
        "green-2": {"color": "green", "fingerprint": None, "error": "not read"},
        "green-3": {"color": "green", "fingerprint": None, "error": "not read"},
    }


def test_the_missing_error_is_the_callers():
    found = color_results({"b": {"probes": "not a dict"}}, ["b"], [], "probes", "probes", "not probed")
    assert found == {"b": {"color": "blue", "probes": None, "error": "not probed"}}


def test_hosts_that_are_not_a_list_are_named():
    with pytest.raises(AnsibleFilterError, match="green must be a list of hosts, got str"):
        color_results(HOSTVARS, ["blue-1"], "green-1", "bluegreen_fingerprint", "fingerprint")


def test_the_play_hostvars_of_this_ansible_core(tmp_path):
    """What a play passes is the core's own hostvars, not a dict: read through it on the
    running ansible-core (the matrix runs this under every supported one)."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {
        "bluegreen_blue": {"hosts": {"b1": {"ansible_connection": "local", "answer": "{{ word }}-two", "word": "forty"}}},
        "bluegreen_green": {"hosts": {"g1": {"ansible_connection": "local"}}}}}}), encoding="utf-8")
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "hosts": "all", "gather_facts": False,
        "tasks": [
            {"ansible.builtin.set_fact": {"probe_result": {"probes": "{{ answer }}"}}, "when": "answer is defined"},
            {"ansible.builtin.copy": {
                "content": "{{ hostvars | tracegate.bluegreen.color_results(groups['bluegreen_blue'], groups['bluegreen_green'],"
                           " 'probe_result', 'probes', 'not probed') | to_json(sort_keys=true) }}",
                "dest": str(tmp_path / "rendered.json"), "mode": "0600"},
             "delegate_to": "localhost", "run_once": True},
        ]}]), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="0")
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads((tmp_path / "rendered.json").read_text(encoding="utf-8")) == {
        "b1": {"color": "blue", "probes": "forty-two", "error": "not probed"},
        "g1": {"color": "green", "probes": None, "error": "not probed"}}
