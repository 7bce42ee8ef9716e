"""The playbooks' preflight (playbooks/tasks/preflight.yml) run by ansible-playbook on the
controller as every playbook's first play runs it: a time, count or rate that is not a plain
number, or a load test rate of 0, stops the run naming the setting, before anything is asked
of a host."""
import json
import subprocess
from pathlib import Path

from lb_harness import ANSIBLE_PLAYBOOK

ROOT = Path(__file__).resolve().parents[2]
# The step after the settings' checks: a run without a signing key stops there, which shows
# that every check before it passed.
PASSED_THE_SETTINGS = "set bluegreen_audit_signing_key"


def preflight(tmp_path, **settings):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"children": {
        "bluegreen_lb": {"hosts": {"lb-1": {}}}, "bluegreen_blue": {"hosts": {"blue-1": {}}},
        "bluegreen_green": {"hosts": {"green-1": {}}}}}}), encoding="utf-8")
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"bluegreen_operation": "rollback", "bluegreen_service": "bgdemo", "bluegreen_change_ticket": "CHG-1"},
        "tasks": [{"ansible.builtin.import_tasks": str(ROOT / "playbooks" / "tasks" / "preflight.yml")}],
    }]), encoding="utf-8")
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook), "-e", json.dumps(settings)],
                            capture_output=True, text=True, check=False, timeout=120)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


# One run: the check names every setting that is not a plain number at once.
NOT_NUMBERS = {"bluegreen_load_test_seconds": "30s", "bluegreen_bake_seconds": -5, "bluegreen_load_test_rate": "50/s",
               "bluegreen_hold_seconds": "３０"}


def test_settings_that_are_not_plain_numbers_are_refused_naming_each(tmp_path):
    code, output = preflight(tmp_path, **NOT_NUMBERS)
    assert code != 0 and "must be a plain number at least 0" in output, output
    named = output.split("must be a plain number", maxsplit=1)[0]
    assert all(setting in named for setting in NOT_NUMBERS), output
    assert PASSED_THE_SETTINGS not in output, output


def test_a_load_test_rate_of_0_is_refused_naming_the_way_to_turn_the_load_test_off(tmp_path):
    code, output = preflight(tmp_path, bluegreen_load_test_rate=0)
    assert code != 0 and "bluegreen_load_test_rate (0) must be above 0 requests per second" in output, output
    assert "bluegreen_load_test_seconds: 0" in output, output


def test_plain_numbers_pass_the_settings_checks(tmp_path):
    code, output = preflight(tmp_path, bluegreen_load_test_rate=12.5, bluegreen_bake_seconds="30")
    assert code != 0 and PASSED_THE_SETTINGS in output, output
