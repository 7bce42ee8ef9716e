"""drift_fingerprint read on this machine (real dpkg, /proc, files) and drift_check judging
fingerprints, both run as ansible runs a module on a host."""
import pytest
from lb_harness import run_module


def test_a_fingerprint_of_this_machine_and_two_colors_built_from_it(tmp_path):
    config = tmp_path / "etc-shop"
    config.mkdir()
    (config / "app.env").write_text("BLUEGREEN_COLOR=blue\nMODE=fast\n")
    args = {"service": "shop", "color": "blue", "files": [str(config / "app.env")], "units": []}
    result = run_module("drift_fingerprint", args)
    assert result.get("failed") is not True and result["changed"] is False, result
    found = result["fingerprint"]
    assert "dpkg" in found["packages"] and found["files"][str(config / "app.env")]
    assert found["modes"][str(config / "app.env")].split()[0] in ("0644", "0664", "0640")
    assert set(found["sysctls"]) >= {"net.ipv4.ip_forward"}

    # green: the same machine, its file differing only by the color, then by a setting too.
    (config / "app.env").write_text("BLUEGREEN_COLOR=green\nMODE=fast\n")
    green = run_module("drift_fingerprint", dict(args, color="green"))["fingerprint"]
    hosts = {"blue-1": {"color": "blue", "fingerprint": found}, "green-1": {"color": "green", "fingerprint": green}}
    # The tests running beside this one open and close loopback listeners between the two
    # reads of this machine: its sockets are not the subject here.
    compared = {"fingerprints": hosts, "fail_on": ["security", "config"], "allow": ["ports/*"]}
    judged = run_module("drift_check", compared)
    assert judged["verdict"] == "pass", judged["reasons"]
    (config / "app.env").write_text("BLUEGREEN_COLOR=green\nMODE=debug\n")
    green = run_module("drift_fingerprint", dict(args, color="green"))["fingerprint"]
    hosts["green-1"]["fingerprint"] = green
    judged = run_module("drift_check", compared)
    assert judged["verdict"] == "fail" and f"files/{config / 'app.env'}" in judged["reasons"][0], judged


def test_drift_check_names_a_bad_fingerprint():
    fingerprints = {"b": {"color": "blue", "fingerprint": {}}, "g": {"color": "teal", "fingerprint": {}}}
    result = run_module("drift_check", {"fingerprints": fingerprints})
    assert result["failed"] is True and "fingerprints.g.color" in result["msg"], result


@pytest.mark.parametrize("service", ["a;b", "a\nb", "../../etc/x", "Ünïcode", "x" * 5000])
def test_a_service_name_that_is_not_one_is_refused_naming_the_field(service):
    result = run_module("drift_fingerprint", {"service": service, "color": "blue", "packages": False, "units": []})
    assert result.get("failed") and result["msg"].startswith("service: ") and "is not a service name" in result["msg"], result
    assert "fingerprint" not in result
