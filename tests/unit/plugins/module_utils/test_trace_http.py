"""The trace clients' HTTP against a real HTTP server on 127.0.0.1 (a thread of this test): an
answer that trickles in is given up at its deadline, one larger than max_answer_bytes is not
read on, and credentials in the URL are used but never shown. Every test is bounded in time:
the client runs in a thread that must end well within the test's own limit."""
import gzip
import os
import subprocess
import sys
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces import model, userinfo
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.backends import (
    BACKEND_ARGUMENT_SPEC,
    backend_from_params,
)

MIB = 1024 * 1024
# How long a test waits for the client before it counts the client as stuck.
CLIENT_LIMIT_SECONDS = 15


class Backend:
    """A server whose handler is `answer(handler)`; `stop` ends answers still being sent."""

    def __init__(self, answer):
        self.stop = threading.Event()
        self.sent = 0
        self.requests = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                backend.requests.append((self.path, dict(self.headers)))
                try:
                    answer(self, backend)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on the answer, as it should

            def send(self, data):
                self.wfile.write(data)
                self.wfile.flush()
                backend.sent += len(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    started = []

    def start(answer):
        started.append(Backend(answer))
        return started[-1]

    yield start
    for backend in started:
        backend.close()


def params_with(**overrides):
    params = {key: spec.get("default") for key, spec in BACKEND_ARGUMENT_SPEC.items()}
    params.update(retries=0, **overrides)
    return params


def outcome_within(call, limit=CLIENT_LIMIT_SECONDS):
    """(result or exception, seconds) of `call` run in a thread; fails when it is still running after `limit`."""
    box = {}

    def run():
        started = time.monotonic()
        try:
            box["outcome"] = call()
        except Exception as exc:  # pylint: disable=broad-except  # the outcome under test
            box["outcome"] = exc
        box["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"the client was still waiting after {limit} s"
    return box["outcome"], box["seconds"]


def trickle(handler, backend):
    """Announces 1000 bytes and sends one every 0.2 s: every read gets something in time."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.send(b"[")
    while not backend.stop.wait(0.2):
        handler.send(b" ")


def test_an_answer_that_trickles_in_is_given_up_at_its_deadline(serve):
    backend = serve(trickle)
    zipkin = backend_from_params(params_with(backend="zipkin", url=backend.url, request_timeout=1.0))
    error, seconds = outcome_within(lambda: zipkin.trace("abc"))
    assert isinstance(error, model.BackendError), error
    assert f"Zipkin at {backend.url}/api/v2/trace/abc did not finish its answer within 3 s" in str(error)
    assert "request_timeout" in str(error)
    # Three times request_timeout, and at most one more wait for a read.
    assert 3 <= seconds < 4.5
    assert len(backend.requests) == 1, "a deadline is not retried"


def endless(announce):
    """An answer of 64 MiB of JSON, announced with its Content-Length or sent chunked."""

    def answer(handler, backend):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if announce:
            handler.send_header("Content-Length", str(64 * MIB))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        piece = b'{"pad": "' + b"x" * (64 * 1024 - 20) + b'"},'
        while backend.sent < 64 * MIB and not backend.stop.is_set():
            handler.send(piece if announce else b"%x\r\n%s\r\n" % (len(piece), piece))

    return answer


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "chunked"])
def test_an_answer_above_max_answer_bytes_is_refused_without_reading_it_whole(serve, announce):
    backend = serve(endless(announce))
    zipkin = backend_from_params(params_with(backend="zipkin", url=backend.url, max_answer_bytes=MIB))
    error, _seconds = outcome_within(lambda: zipkin.trace("abc"))
    assert isinstance(error, model.BackendError), error
    assert f"Zipkin at {backend.url}/api/v2/trace/abc: the answer is larger than max_answer_bytes, 1048576 bytes" in str(error)
    assert ("announced 67108864" in str(error)) is announce
    # The socket buffers hold a few MiB; the rest of the 64 MiB was never sent.
    assert backend.sent < 16 * MIB


def test_a_gzipped_answer_is_read_and_its_cap_counts_what_it_unpacks_to(serve):
    spans = [{"traceId": "ab" * 16, "id": "cd" * 8, "name": "GET /", "kind": "SERVER", "timestamp": 1764072000000000,
              "duration": 1000, "localEndpoint": {"serviceName": "bgdemo"}, "tags": {"x": "y" * 1000}}] * 2000
    body = json.dumps(spans).encode()

    def gzipped(handler, _backend):
        packed = gzip.compress(body)
        handler.send_response(200)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(packed)))
        handler.end_headers()
        handler.send(packed)

    backend = serve(gzipped)
    assert len(backend_from_params(params_with(backend="zipkin", url=backend.url)).trace("abc")) == 2000
    capped = backend_from_params(params_with(backend="zipkin", url=backend.url, max_answer_bytes=len(body) - 1))
    with pytest.raises(model.BackendError, match="larger than max_answer_bytes"):
        capped.trace("abc")


def test_credentials_in_the_url_are_sent_but_never_shown(serve):
    def empty(handler, _backend):
        handler.send_response(200)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.send(b"[]")

    backend = serve(empty)
    url = backend.url.replace("http://", "http://gate:s3cret@")
    zipkin = backend_from_params(params_with(backend="zipkin", url=url))
    assert zipkin.trace("abc") == []
    assert backend.requests[0][1]["Authorization"] == "Basic Z2F0ZTpzM2NyZXQ="
    assert zipkin.queries_made()[0]["url"] == backend.url.replace("http://", "http://***@") + "/api/v2/trace/abc"

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = backend_from_params(params_with(backend="zipkin", url=f"http://gate:s3cret@127.0.0.1:{port}"))
    with pytest.raises(model.BackendError) as raised:
        unreachable.trace("abc")
    assert "s3cret" not in str(raised.value) and f"http://***@127.0.0.1:{port}/api/v2/trace/abc" in str(raised.value)
    assert all("s3cret" not in query["url"] for query in unreachable.queries_made())
    with pytest.raises(model.BackendError) as raised:
        backend_from_params(params_with(backend="zipkin", url="ftp://gate:s3cret@backend"))
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("text, shown", [
    ("http://user:pw@host:1/x", "http://***@host:1/x"),
    ("cannot reach https://tok@host/a?b=c@d and http://u:p@ss@h/", "cannot reach https://***@host/a?b=c@d and http://***@h/"),
    ("http://host/path@x", "http://host/path@x"),
    ("no url here", "no url here"),
])
def test_userinfo_is_cut_from_every_url_in_a_text(text, shown):
    assert userinfo.without_userinfo(text) == shown


@pytest.mark.parametrize("url, secrets", [
    ("http://user:pw@host/", ["pw"]), ("https://token@host", ["token"]), ("http://host/", []), ("http://:pw@h", ["pw"]),
])
def test_the_secret_of_a_urls_userinfo_is_its_password_or_its_token(url, secrets):
    assert userinfo.userinfo_secrets(url) == secrets


def test_the_gates_that_ask_no_trace_backend_do_not_load_its_http_client():
    # dependency_parity and security_check show URLs (probe.unfit_url) without asking a trace
    # backend: importing requests would cost every run of them a third of a second.
    shown = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "from ansible_collections.tracegate.bluegreen.plugins.module_utils import parity, probe\n"
        "print(sorted(name for name in ('requests', 'urllib3') if name in sys.modules))\n")],
        capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert shown.stdout.strip() == "[]", shown.stdout
