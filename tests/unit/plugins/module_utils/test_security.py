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
