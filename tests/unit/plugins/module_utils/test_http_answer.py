"""http_answer against a real HTTP server on 127.0.0.1 (a thread of this test): error statuses
are answers, redirects are followed only when asked, the body is capped, and no answer at all
is an OSError. The status prober of timed probes answers the same way."""
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import http_answer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        status, location = {"/ok": (200, None), "/broken": (503, None), "/moved": (302, "/ok")}[self.path]
        body = f"{self.path} answered {status}; {self.headers.get('X-Color', 'no color')}".encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("X-Served-By", "test")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_with_its_headers_and_a_capped_body(base):
    status, headers, body = http_answer.answer(base + "/ok", 5, True, {"X-Color": "green"}, max_body=1000)
    assert (status, headers["X-Served-By"], body) == (200, "test", b"/ok answered 200; green")
    assert http_answer.answer(base + "/ok", 5, True, max_body=6)[2] == b"/ok an"
    assert http_answer.answer(base + "/ok", 5, True)[2] == b""


def test_an_error_status_is_an_answer(base):
    status, headers, body = http_answer.answer(base + "/broken", 5, True, max_body=1000)
    assert (status, headers["X-Served-By"], body) == (503, "test", b"/broken answered 503; no color")


def test_a_redirect_is_followed_only_when_asked(base):
    assert http_answer.answer(base + "/moved", 5, True, follow_redirects="none")[0] == 302
    assert http_answer.answer(base + "/moved", 5, True)[0] == 200


def test_no_answer_is_an_os_error():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(OSError):
        http_answer.answer(f"http://127.0.0.1:{port}/ok", 5, True)


def test_the_status_prober_answers_statuses_without_following_redirects(base):
    status = http_answer.status_prober(5, True)
    assert [status(base + path) for path in ("/ok", "/broken", "/moved", "/ok")] == [200, 503, 302, 200]


def test_the_status_prober_raises_an_os_error_without_an_answer():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(OSError):
        http_answer.status_prober(5, True)(f"http://127.0.0.1:{port}/ok")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        # A peer that accepts and never answers: the timeout, an OSError too.
        with pytest.raises(OSError):
            http_answer.status_prober(0.5, True)(f"http://127.0.0.1:{silent.getsockname()[1]}/ok")


def test_the_status_prober_raises_an_os_error_on_an_answer_that_is_not_http():
    with socket.socket() as peer:
        peer.bind(("127.0.0.1", 0))
        peer.listen()

        def garbage():
            connection, _address = peer.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"SSH-2.0-not-http\r\n")

        thread = threading.Thread(target=garbage, daemon=True)
        thread.start()
        with pytest.raises(OSError):
            http_answer.status_prober(5, True)(f"http://127.0.0.1:{peer.getsockname()[1]}/ok")
        thread.join(timeout=5)
