"""security_check run as ansible runs it on a host, against a real HTTP server on loopback (a load balancer
whose preview route reaches a new color) and a real release artifact with a pinned package
named by the lab's real advisory."""
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import release_artifact
from lb_harness import QuietHTTPServer, run_module

ADVISORIES = Path(__file__).resolve().parents[1] / "lab" / "advisories"


@pytest.fixture
def site():
    """Blue answers the public route with every required header; the idle color (preview
    header) forgets X-Content-Type-Options and serves /admin."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            idle = self.headers.get("X-Bluegreen-Preview") == "green"
            status, body = {"/api/quote": (200, b"{}"), "/healthz": (200, b"ok " + (b"green" if idle else b"blue")),
                            "/admin": (200 if idle else 404, b"admin")}.get(self.path, (404, b""))
            self.send_response(status)
            if not idle:
                self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def args(site, **extra):
    return {"lb_urls": [site], "routing_headers": {"X-Bluegreen-Preview": "green"}, "probe_path": "/api/quote", **extra}


def test_a_release_pinning_a_vulnerable_package_and_an_idle_color_that_opens_admin_fail_naming_each(site, tmp_path):
    artifact = release_artifact(tmp_path / "svc-1.1.0.tar.gz", "1.1.0", {
        "requirements.txt": b"requests==2.31.0\nurllib3==2.8.0\n",
        "wheels/requests-2.31.0-py3-none-any.whl": b"PK"})
    result = run_module("security_check", args(
        site, policy={"required_headers": {"X-Content-Type-Options": "nosniff"}, "forbidden_paths": ["/admin"]},
        url_checks=[{"path": "/healthz", "contains": "green"}], release_artifact=str(artifact), advisories=str(ADVISORIES)))
    assert result.get("failed") is not True and result["changed"] is False, result
    assert result["verdict"] == "fail"
    assert sorted(result["reasons"]) == sorted([
        f"{site}/api/quote: header X-Content-Type-Options missing",
        f"{site}/admin (idle color): answered 200; an admin or debug path must be refused",
        "requests 2.31.0: GHSA-9wx4-h78v-vm56 (CVE-2024-35195), fixed in 2.32.0"])
    assert result["observed"]["public_paths"][f"{site}/admin (public)"] == 404
    assert [c["outcome"] for c in result["checks"] if c["check"] == "url_checks"] == ["pass"]


def test_a_clean_release_passes_and_an_unreachable_load_balancer_fails_closed(site, tmp_path):
    artifact = release_artifact(tmp_path / "svc-1.1.0.tar.gz", "1.1.0", {"requirements.txt": b"requests==2.34.2\n"})
    clean = run_module("security_check", args(site, policy={"forbidden_paths": ["/metrics"]},
                                              release_artifact=str(artifact), advisories=str(ADVISORIES)))
    assert clean["verdict"] == "pass", clean["reasons"]
    closed = run_module("security_check", args("http://127.0.0.1:9", policy={"forbidden_paths": ["/admin"]}))
    assert closed["verdict"] == "fail" and all("no answer" in reason for reason in closed["reasons"]), closed


@pytest.mark.parametrize("bad, named", [
    ({"probe_path": "api"}, "probe_path: a URL path starting with /"),
    ({"policy": {"forbidden_paths": ["admin"]}}, r"policy.forbidden_paths[0]: a URL path"),
    ({"lb_urls": ["ftp://lb"]}, "lb_urls[0]"),
    ({"url_checks": [{"path": "/x", "contains": "("}]}, "url_checks[0].contains"),
    ({"advisories": "/nonexistent", "release_artifact": "/nonexistent.tar.gz"}, "not a readable .tar.gz"),
])
def test_bad_input_is_named(site, bad, named):
    result = run_module("security_check", {**args(site), **bad})
    assert result["failed"] is True and named in result["msg"], result
