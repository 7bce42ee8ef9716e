import pytest
from ansible_collections.tracegate.bluegreen.plugins.module_utils import drift


def host(color, **sections):
    base = {"packages": {"openssl": "3.0.15-1~deb12u1"}, "units": {"shop.service/ProtectSystem": "strict"},
            "modes": {"/etc/shop/app.env": "0640 root:shop"}, "files": {"/etc/shop/app.env": "abc"},
            "artifact": {"sha256": "1" * 64}}
    for section, entries in sections.items():
        base[section] = dict(base.get(section, {}), **entries)
    return {"color": color, "fingerprint": base}


def test_identical_colors_pass_and_the_new_artifact_is_not_drift():
    result = drift.compare({"blue-1": host("blue"), "green-1": host("green", artifact={"sha256": "2" * 64})})
    assert result["verdict"] == "pass" and result["differences"] == [], result


def test_a_security_setting_changed_on_one_green_host_fails_naming_key_host_and_both_values():
    hosts = {"blue-1": host("blue"), "blue-2": host("blue"), "green-1": host("green"),
             "green-2": host("green", units={"shop.service/ProtectSystem": "false"})}
    result = drift.compare(hosts)
    assert result["verdict"] == "fail"
    (difference,) = result["differences"]
    assert difference["key"] == "units/shop.service/ProtectSystem" and difference["class"] == "security"
    assert difference["scope"] == "within green" and difference["values"] == {"green-1": "strict", "green-2": "false"}
    assert "green-2='false'" in result["reasons"][0]


def test_a_package_difference_between_colors_is_reported_without_failing_by_default():
    result = drift.compare({"blue-1": host("blue"), "green-1": host("green", packages={"openssl": "3.0.16-1~deb12u1"})})
    assert result["verdict"] == "pass"
    assert [(d["key"], d["class"], d["scope"]) for d in result["differences"]] == [("packages/openssl", "package", "colors")]
    assert drift.compare({"blue-1": host("blue"), "green-1": host("green", packages={"openssl": "x"})},
                         fail_on=("security", "package"))["verdict"] == "fail"


def test_a_key_only_one_color_has_is_drift_with_the_other_side_absent():
    result = drift.compare({"blue-1": host("blue"), "green-1": host("green", ports={"tcp/9090": "shop"})})
    assert result["verdict"] == "fail"
    assert result["differences"][0]["values"] == {"blue-1": None, "green-1": "shop"}


def test_the_color_and_the_host_name_in_a_value_are_not_drift():
    blue = host("blue", units={"shop.service/Environment": "BLUEGREEN_COLOR=blue HOST=blue-1"})
    green = host("green", units={"shop.service/Environment": "BLUEGREEN_COLOR=green HOST=green-7"})
    assert drift.compare({"blue-1": blue, "green-7": green})["verdict"] == "pass"


def test_a_file_differing_only_by_color_and_host_has_the_same_neutral_digest():
    assert drift.neutral_digest(b"color=blue\nhost=blue-1\n", "blue-1", "blue") == \
        drift.neutral_digest(b"color=green\nhost=green-1\n", "green-1", "green")
    assert drift.neutral_digest(b"tls=off\n", "blue-1", "blue") != drift.neutral_digest(b"tls=on\n", "green-1", "green")


def test_the_allow_list_and_user_marked_security_keys():
    hosts = {"blue-1": host("blue", files={"/etc/shop/motd": "a", "/etc/shop/jwt.pem": "k1"}),
             "green-1": host("green", files={"/etc/shop/motd": "b", "/etc/shop/jwt.pem": "k2"})}
    result = drift.compare(hosts, allow=["files//etc/shop/motd"], security_keys=["files//etc/shop/*.pem"])
    assert [(d["key"], d["class"]) for d in result["differences"]] == [("files//etc/shop/jwt.pem", "security")]
    assert result["verdict"] == "fail"


@pytest.mark.parametrize("hosts, named", [
    ({}, "no host"),
    ({"blue-1": host("blue")}, "no green host"),
    ({"blue-1": host("blue"), "g": {"color": "purple", "fingerprint": {}}}, "fingerprints.g.color"),
    ({"blue-1": host("blue"), "g": {"color": "green", "fingerprint": {"secrets": {}}}}, "fingerprints.g.secrets: unknown section"),
    ({"blue-1": host("blue"), "g": {"color": "green", "fingerprint": {"files": ["a"]}}}, "fingerprints.g.files: not a mapping"),
])
def test_bad_input_is_refused_naming_the_field(hosts, named):
    with pytest.raises(drift.DriftError, match=named):
        drift.compare(hosts)


def test_a_host_without_a_fingerprint_fails_the_gate_naming_it():
    unread = {"color": "green", "fingerprint": None, "error": "Failed to connect to the host"}
    result = drift.compare({"blue-1": host("blue"), "green-1": unread})
    assert result["verdict"] == "fail" and result["keys_compared"] == 0
    assert result["reasons"] == ["green-1 (green): no fingerprint: Failed to connect to the host"]
