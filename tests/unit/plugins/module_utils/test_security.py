import pytest
from ansible_collections.tracegate.bluegreen.plugins.module_utils import security

POLICY = {"required_headers": {"X-Content-Type-Options": "nosniff", "Cache-Control": ".*no-store.*"},
          "forbidden_paths": ["/admin", "/debug/pprof"],
          "allowed_ports": ["tcp/0.0.0.0:8080", "tcp/127.0.0.1:*"],
          "secret_files": ["/etc/shop/*.env", "/etc/shop/*.key"]}
CLEAN = {
    "responses": {"http://lb-1/api/quote": {
        "status": 200, "headers": {"x-content-type-options": "nosniff", "Cache-Control": "private, no-store"}}},
    "public_paths": {"http://lb-1/admin": 404, "http://lb-1/debug/pprof": 403},
    "hosts": {"green-1": {"ports": ["tcp/0.0.0.0:8080", "tcp/127.0.0.1:4318"],
                          "modes": {"/etc/shop/app.env": "0640 root:shop", "/etc/shop/motd": "0644 root:root"}}},
    "vulnerabilities": [],
}


def observed(**changes):
    return {**CLEAN, **changes}


def test_a_clean_idle_color_passes_every_check():
    judged = security.judge(POLICY, CLEAN)
    assert judged["verdict"] == "pass"
    assert [c["check"] for c in judged["checks"]] == ["answers", "required_headers", "forbidden_paths", "listening_ports",
                                                      "secret_files", "vulnerabilities"]


@pytest.mark.parametrize("changes, named", [
    ({"responses": {"http://lb-1/api/quote": {"status": 200, "headers": {"Cache-Control": "no-store"}}}},
     "http://lb-1/api/quote: header X-Content-Type-Options missing"),
    ({"responses": {"http://lb-1/api/quote": {
        "status": 200, "headers": {"X-Content-Type-Options": "nosniff", "Cache-Control": "max-age=60"}}}},
     "header Cache-Control: 'max-age=60' does not match"),
    ({"public_paths": {"http://lb-1/admin": 200}}, "http://lb-1/admin: answered 200; an admin or debug path must be refused"),
    ({"hosts": {"green-2": {"ports": ["tcp/0.0.0.0:5005"]}}}, "green-2: tcp/0.0.0.0:5005 listens, not in allowed_ports"),
    ({"hosts": {"green-2": {"modes": {"/etc/shop/jwt.key": "0644 root:shop"}}}},
     "green-2: /etc/shop/jwt.key is 0644 root:shop: others may read or write it"),
    ({"hosts": {"green-2": {"modes": {"/etc/shop/app.env": "0660 root:shop"}}}}, "its group may write it"),
    ({"vulnerabilities": [{"package": "requests", "version": "2.31.0", "id": "GHSA-9wx4-h78v-vm56",
                           "aliases": ["CVE-2024-35195"], "fixed": ["2.32.0"]}]},
     "requests 2.31.0: GHSA-9wx4-h78v-vm56 (CVE-2024-35195), fixed in 2.32.0"),
])
def test_each_failure_is_named(changes, named):
    judged = security.judge(POLICY, observed(**changes))
    assert judged["verdict"] == "fail" and any(named in reason for reason in judged["reasons"]), judged["reasons"]


@pytest.mark.parametrize("policy, named", [
    ("strict", "policy: not a mapping"),
    ({"required_headers": ["X-Frame-Options"]}, "policy.required_headers: a mapping"),
    ({"required_headers": {"X-Frame-Options": "("}}, "policy.required_headers.X-Frame-Options"),
    ({"allowed_ports": "tcp/*"}, "policy.allowed_ports: a list of strings"),
])
def test_a_bad_policy_is_named(policy, named):
    with pytest.raises(security.PolicyError, match=named):
        security.judge(policy, CLEAN)


class FakeSite:
    """Answers by (path, whether the preview header is sent); a missing entry refuses the connection."""

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def get(self, url, headers):
        path = "/" + url.split("/", 3)[3]
        self.asked.append((url, dict(headers)))
        key = (path, bool(headers))
        if key not in self.answers:
            raise ConnectionRefusedError("connection refused")
        return self.answers[key]


def test_observe_asks_each_load_balancer_publicly_and_through_the_preview_route():
    site = FakeSite({("/api/quote", True): (200, {"x-content-type-options": "nosniff"}, "{}"),
                     ("/admin", False): (404, {}, ""), ("/admin", True): (200, {}, "admin"),
                     ("/healthz", True): (200, {}, "ok green")})
    checks = security.url_checks_of([{"path": "/healthz", "contains": "green"}])
    observed = security.observe(site.get, ["http://lb-1/", "http://lb-2"], {"X-Bluegreen-Preview": "green"}, "/api/quote",
                                ["/admin"], checks)
    assert observed["public_paths"] == {"http://lb-1/admin (public)": 404, "http://lb-1/admin (idle color)": 200,
                                        "http://lb-2/admin (public)": 404, "http://lb-2/admin (idle color)": 200}
    assert [c["matched"] for c in observed["url_checks"]] == [True, True]
    judged = security.judge({"forbidden_paths": ["/admin"], "required_headers": {"X-Content-Type-Options": "nosniff"}},
                            observed)
    assert judged["verdict"] == "fail"
    assert judged["reasons"] == ["http://lb-1/admin (idle color): answered 200; an admin or debug path must be refused",
                                 "http://lb-2/admin (idle color): answered 200; an admin or debug path must be refused"]


def test_what_could_not_be_asked_fails_closed():
    site = FakeSite({})
    observed = security.observe(site.get, ["http://lb-1"], {"X-Bluegreen-Preview": "green"}, "/api/quote", ["/admin"],
                                security.url_checks_of([{"path": "/healthz"}]))
    judged = security.judge({"forbidden_paths": ["/admin"], "required_headers": {"X-Frame-Options": "DENY"}}, observed)
    assert judged["verdict"] == "fail"
    assert len(judged["reasons"]) == 4 and all("no answer (connection refused)" in r for r in judged["reasons"])


@pytest.mark.parametrize("items, named", [
    ({"path": "/x"}, "url_checks: a list"),
    ([{"path": "healthz"}], r"url_checks\[0\].path"),
    ([{"path": "/x", "status": "200"}], r"url_checks\[0\].status"),
    ([{"path": "/x", "contains": "("}], r"url_checks\[0\].contains"),
    ([{"path": "/x", "expect": 200}], r"url_checks\[0\]: unknown field expect"),
])
def test_a_bad_url_check_is_named(items, named):
    with pytest.raises(security.PolicyError, match=named):
        security.url_checks_of(items)


def test_a_load_balancer_that_does_not_answer_fails_even_without_a_policy():
    site = FakeSite({})
    judged = security.judge({}, security.observe(site.get, ["http://lb-1"], {}, "/api/quote", [], []))
    assert judged["verdict"] == "fail" and judged["reasons"] == ["http://lb-1/api/quote: no answer (connection refused)"]


# What tls_probe read from nginx 1.22 on this machine kind (ssl_protocols TLSv1.2 TLSv1.3).
STRICT_TLS = {"127.0.0.1:8443/TLSv1": "refused", "127.0.0.1:8443/TLSv1.1": "refused",
              "127.0.0.1:8443/TLSv1.2": "accepted", "127.0.0.1:8443/TLSv1.3": "accepted",
              "127.0.0.1:8443/negotiated": "TLSv1.3 TLS_AES_256_GCM_SHA384",
              "127.0.0.1:8443/ciphers": ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]}


def tls_judged(tls, policy=None):
    return security.judge(dict(POLICY, **(policy or {})), observed(hosts={"green-1": {"tls": tls}}))


def test_a_listener_refusing_old_versions_and_weak_suites_passes():
    judged = tls_judged(STRICT_TLS)
    assert judged["verdict"] == "pass"
    assert any(c["check"] == "tls" and c["outcome"] == "pass" for c in judged["checks"])


@pytest.mark.parametrize("changes, policy, named", [
    ({"127.0.0.1:8443/TLSv1.1": "accepted"}, None, "green-1: 127.0.0.1:8443: accepts TLSv1.1, below min_version TLSv1.2"),
    ({"127.0.0.1:8443/TLSv1": "untested"}, None, "cannot tell whether it accepts TLSv1 (not tested)"),
    ({}, {"tls": {"min_version": "TLSv1.3"}}, "green-1: 127.0.0.1:8443: accepts TLSv1.2, below min_version TLSv1.3"),
    ({"127.0.0.1:8443/ciphers": ["AECDH-AES128-SHA", "ECDHE-RSA-AES128-GCM-SHA256", "NULL-SHA"]}, None,
     "accepts forbidden cipher suites AECDH-AES128-SHA, NULL-SHA"),
    ({"127.0.0.1:8443/ciphers": ["ECDHE-RSA-AES128-SHA"]}, {"tls": {"forbidden_ciphers": ["*-SHA"]}},
     "accepts forbidden cipher suites ECDHE-RSA-AES128-SHA"),
])
def test_a_listener_breaking_the_tls_policy_is_named(changes, policy, named):
    judged = tls_judged(dict(STRICT_TLS, **changes), policy)
    assert judged["verdict"] == "fail"
    assert any(named in reason for reason in judged["reasons"]), judged["reasons"]


def test_a_listener_that_cannot_be_asked_or_speaks_no_tls_fails_closed():
    judged = tls_judged({"127.0.0.1:8443/error": "[Errno 111] Connection refused"})
    assert judged["reasons"] == ["green-1: 127.0.0.1:8443: no TLS answer ([Errno 111] Connection refused)"]
    plain = {f"127.0.0.1:8080/{version}": "refused" for version in security.TLS_PROTOCOLS}
    assert "completes no TLS handshake" in tls_judged(plain)["reasons"][0]


@pytest.mark.parametrize("tls, named", [
    ({"min_version": "SSLv3"}, "policy.tls.min_version"),
    ({"forbidden_ciphers": "NULL"}, "policy.tls.forbidden_ciphers"),
    ("TLSv1.2", "policy.tls:"),
])
def test_a_bad_tls_policy_names_its_field(tls, named):
    with pytest.raises(security.PolicyError, match=named):
        tls_judged(STRICT_TLS, {"tls": tls})


CORE_PATTERN = {"name": "core dumps off", "argv": ["sysctl", "-n", "kernel.core_pattern"], "stdout": r"^\|/bin/false"}
ENFORCING = {"name": "apparmor", "argv": ["aa-enabled"]}


def commands_judged(results):
    checks = security.command_checks_of([CORE_PATTERN, ENFORCING])
    return security.judge(POLICY, observed(commands={"checks": checks, "results": results}))


def registered(name, rc, stdout="", stderr=""):
    """One item of a registered loop of ansible.builtin.command."""
    return {"item": {"name": name}, "rc": rc, "stdout": stdout, "stderr": stderr, "changed": False}


def test_commands_answering_as_expected_on_every_host_pass():
    ran = [registered("core dumps off", 0, "|/bin/false"), registered("apparmor", 0, "Yes")]
    judged = commands_judged({"green-1": ran, "green-2": ran})
    assert judged["verdict"] == "pass"
    assert [c["reason"] for c in judged["checks"] if c["check"] == "commands"] == ["2 commands answered as expected on 2 hosts"]


def test_each_failing_command_is_named_with_its_host():
    judged = commands_judged({
        "green-1": [registered("core dumps off", 0, "core"), registered("apparmor", 1, "No", "disabled at boot")],
        "green-2": None,
        "green-3": [registered("core dumps off", 0, "|/bin/false"),
                    {"item": {"name": "apparmor"}, "rc": 2, "msg": "[Errno 2] No such file or directory: b'aa-enabled'"}]})
    assert judged["verdict"] == "fail"
    assert judged["reasons"] == [
        "green-1: core dumps off: the output does not contain '^\\\\|/bin/false'",
        "green-1: apparmor: exited 1, expected 0 (disabled at boot)",
        "green-2: core dumps off: could not run (did not run)",
        "green-2: apparmor: could not run (did not run)",
        "green-3: apparmor: exited 2, expected 0 ([Errno 2] No such file or directory: b'aa-enabled')"]


def test_commands_that_no_host_ran_fail_closed():
    assert commands_judged({})["reasons"] == ["no idle host ran the commands"]


@pytest.mark.parametrize("items, named", [
    ([{"argv": ["true"]}], r"command_checks\[0\].name"),
    ([CORE_PATTERN, dict(CORE_PATTERN)], r"command_checks\[1\].name"),
    ([{"name": "x", "argv": "sysctl -n kernel.core_pattern"}], r"command_checks\[0\].argv"),
    ([{"name": "x", "argv": ["true"], "rc": "0"}], r"command_checks\[0\].rc"),
    ([{"name": "x", "argv": ["true"], "stdout": "("}], r"command_checks\[0\].stdout"),
    ([{"name": "x", "argv": ["true"], "shell": "true"}], r"command_checks\[0\]: unknown field shell"),
])
def test_a_bad_command_check_names_its_field(items, named):
    with pytest.raises(security.PolicyError, match=named):
        security.command_checks_of(items)
