"""preview_load against real HTTP servers on loopback: the schedule holds, answers are
counted by kind, and a slow server makes requests late instead of lowering the load."""
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from lb_harness import QuietHTTPServer, run_module

from ansible_collections.tracegate.bluegreen.plugins.module_utils import preview_load


def server(delay=0.0, status=200):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            seen.append(self.headers.get("X-Bluegreen-Preview"))
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/api/quote", seen


def test_the_load_keeps_its_schedule_and_its_routing_header():
    httpd, url, seen = server()
    try:
        result = run_module("preview_load", {"urls": [url], "routing_headers": {"X-Bluegreen-Preview": "green"},
                                             "rate": 50, "duration": 2})
    finally:
        httpd.shutdown()
    assert result.get("failed") is not True, result
    assert (result["sent"], result["not_sent"], result["ok"], result["errors"], result["late"]) == (100, 0, 100, 0, 0), result
    assert set(seen) == {"green"} and len(seen) == 100
    assert 1.9 <= result["ended_at"] - result["started_at"] <= 4.0, result


def test_a_slow_server_makes_requests_late_and_the_load_still_ends_with_its_duration():
    httpd, url, _seen = server(delay=0.3)
    try:
        result = preview_load.run([url], rate=40, duration=1.5, clients=2, timeout=2.0)
    finally:
        httpd.shutdown()
    assert result["sent"] + result["not_sent"] == 60 and result["not_sent"] > 40 and result["late"] > 0, result
    assert result["ok"] == result["sent"] and result["latency_ms"]["p50"] >= 300
    assert result["ended_at"] - result["started_at"] < 1.5 + 0.3 + 0.5, result


def test_no_answer_is_an_error_and_the_load_still_stops():
    result = preview_load.run(["http://127.0.0.1:9/api/quote"], rate=20, duration=0.5)
    assert (result["sent"], result["errors"], result["ok"]) == (10, 10, 0) and result["error_samples"], result


@pytest.mark.parametrize("args, named", [
    ({"rate": 0}, "rate: 0.0 requests per second"),
    ({"rate": 5000}, "rate: 5000.0"),
    ({"duration": 3600}, "duration: 3600.0 s"),
    ({"urls": ["ftp://x/"]}, "urls[0]"),
    ({"clients": 0}, "clients: 0"),
])
def test_bad_input_is_named(args, named):
    result = run_module("preview_load", {"urls": ["http://127.0.0.1:9/"], "rate": 10, "duration": 1, **args})
    assert result["failed"] is True and named in result["msg"], result
