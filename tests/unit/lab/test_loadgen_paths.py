"""The load generator's paths: one from the url as before, or several by weight, each counted."""
import collections
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loadgen import LoadGenerator, path_weights
from tour import LabLoad


@pytest.fixture
def server():
    """A loopback server that answers every path 200 (/fail 500) and counts the paths it served."""
    served = collections.Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # pylint: disable=invalid-name
            with lock:
                served[self.path] += 1
            self.send_response(500 if self.path == "/fail" else 200)
            self.send_header("X-App-Color", "blue")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


def test_the_url_path_alone_is_the_load_as_before(server):
    url, served = server
    report = LoadGenerator(url + "/api/quote", keepalive_clients=2, new_connection_clients=1, max_requests=30).start().wait()
    assert (report["requests"], report["ok"], report["by_color"]) == (30, 30, {"blue": 30})
    assert report["by_route"] == {"/api/quote": {"requests": 30, "ok": 30, "non_2xx": 0, "errors": 0}}
    assert served == {"/api/quote": 30}


def test_paths_share_the_load_by_weight(server):
    url, served = server
    load = LoadGenerator(url, keepalive_clients=3, new_connection_clients=1, max_requests=800,
                         paths={"/api/quote": 3, "/api/basket": 1, "/fail": 1}, seed=7)
    report = load.start().wait()
    by_route = report["by_route"]
    assert report["requests"] == 800 == sum(route["requests"] for route in by_route.values())
    assert {path: route["requests"] for path, route in by_route.items()} == dict(served)
    assert (by_route["/fail"]["non_2xx"], by_route["/fail"]["ok"], report["non_2xx"]) == (served["/fail"], 0, served["/fail"])
    # Expected 480, 160 and 160; each bound is more than six standard deviations away.
    assert 400 < served["/api/quote"] < 560 and 100 < served["/api/basket"] < 220 and 100 < served["/fail"] < 220, served


def test_one_seed_gives_the_same_mix(server):
    url, unused_served = server

    def mix():
        report = LoadGenerator(url, keepalive_clients=3, new_connection_clients=2, max_requests=200,
                               paths={"/a": 2, "/b": 1}, seed=11).start().wait()
        return {path: route["requests"] for path, route in report["by_route"].items()}

    assert mix() == mix()


def run_to_the_end(load, requests):
    """Leaves the LabLoad running until it has its `requests` answers (leaving it stops it)."""
    deadline = time.monotonic() + 20
    with load:
        while sum(load.totals_now().values()) < requests:
            assert time.monotonic() < deadline, load.totals_now()
            time.sleep(0.02)
    return load


def test_lab_load_takes_a_path_or_weighted_paths(server):
    url, served = server
    load = run_to_the_end(LabLoad([url], keepalive_clients=1, new_connection_clients=1, max_requests=40, rate=None), 40)
    assert served == {"/api/quote": 40} and load.totals()["by_route"]["/api/quote"]["ok"] == 40
    served.clear()
    load = run_to_the_end(LabLoad([url, url + "/"], paths={"/api/quote": 1, "/api/basket": 1}, max_requests=100, rate=None), 200)
    totals = load.totals()
    assert totals["requests"] == 200 and sum(route["requests"] for route in totals["by_route"].values()) == 200
    assert {path: route["requests"] for path, route in totals["by_route"].items()} == dict(served)
    assert set(served) == {"/api/quote", "/api/basket"}
    with pytest.raises(ValueError, match="not both"):
        LabLoad([url], path="/api/quote", paths={"/api/basket": 1})


@pytest.mark.parametrize(
    "url_path, paths, message",
    [
        ("/api/quote", {"/api/basket": 1}, "not both"),
        ("", {}, "empty"),
        ("", {"api/quote": 1}, "does not start with /"),
        ("", {"/api/quote": 0}, "weight 0"),
        ("", {"/api/quote": float("nan")}, "weight nan"),
        ("", {"/api/quote": "3"}, "weight '3'"),
    ],
)
def test_bad_paths_are_refused(url_path, paths, message):
    with pytest.raises(ValueError, match=message):
        path_weights(url_path, paths)


def test_paths_of_equal_weight():
    assert path_weights("/", ["/a", "/b"]) == {"/a": 1.0, "/b": 1.0}
    assert path_weights("", "/a") == {"/a": 1.0}
