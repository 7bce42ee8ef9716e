"""Every network call of the load-balancer clients ends by its deadline, however slowly the
peer answers: a peer that sends one byte at a time, never completing an answer, costs one
timeout, not one timeout per byte."""
import socket
import threading
import time

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import haproxy_runtime as hr
from ansible_collections.tracegate.bluegreen.plugins.module_utils import server_check
from trickling_peer import TricklingPeer


def ends_within(seconds, call):
    """Runs `call` in a thread; returns what it returned or raised, or fails when it is still
    running after `seconds`."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except Exception as exc:  # pylint: disable=broad-exception-caught
            outcome["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds}s"
    outcome["elapsed"] = time.monotonic() - started
    return outcome


@pytest.fixture
def runtime_api_trickle(tmp_path):
    peer = TricklingPeer(socket.AF_UNIX, str(tmp_path / "trickle.sock"))
    yield peer
    peer.close()


def test_a_runtime_api_that_never_finishes_its_prompt_fails_at_the_deadline(runtime_api_trickle):
    outcome = ends_within(5, lambda: hr.RuntimeSession(runtime_api_trickle.address, timeout=0.5).__enter__())
    assert isinstance(outcome.get("error"), hr.RuntimeApiError), outcome
    assert "no complete answer within 0.5s" in str(outcome["error"])


def test_a_runtime_api_that_never_finishes_an_answer_fails_the_command_at_the_deadline(tmp_path):
    peer = TricklingPeer(socket.AF_UNIX, str(tmp_path / "prompt.sock"), first=b"\n> ")
    try:
        session = hr.RuntimeSession(peer.address, timeout=0.5).__enter__()
        outcome = ends_within(5, lambda: session.command("show servers state app"))
        session.close()
    finally:
        peer.close()
    assert isinstance(outcome.get("error"), hr.RuntimeApiError), outcome
    assert "during 'show servers state app': no complete answer within 0.5s" in str(outcome["error"])


def test_a_runtime_api_answer_larger_than_any_haproxy_sends_is_refused(tmp_path):
    class Flood(TricklingPeer):
        """Answers `prompt`, then the next command with a mebibyte more than the limit at full
        speed, then waits."""

        def _trickle(self, connection):
            with connection:
                try:
                    connection.recv(100)
                    connection.sendall(b"\n> ")
                    connection.recv(100)
                    for _chunk in range(hr.MAX_ANSWER_BYTES // 65536 + 16):
                        connection.sendall(b"x" * 65536)
                    self.stopped.wait()
                except OSError:
                    pass

    peer = Flood(socket.AF_UNIX, str(tmp_path / "flood.sock"))
    try:
        with hr.RuntimeSession(peer.address, timeout=30) as session:
            outcome = ends_within(30, lambda: session.command("show stat"))
    finally:
        peer.close()
    assert isinstance(outcome.get("error"), hr.RuntimeApiError), outcome
    assert "answer to 'show stat' is larger than" in str(outcome["error"])


def test_a_health_check_of_a_server_that_trickles_ends_at_the_deadline():
    peer = TricklingPeer(socket.AF_INET, ("127.0.0.1", 0), first=b"HTTP/1.1 200")
    try:
        outcome = ends_within(5, lambda: server_check.ask(f"127.0.0.1:{peer.address[1]}", "/healthz", timeout=0.5))
    finally:
        peer.close()
    assert outcome["elapsed"] < 2
    assert "no answer within 0.5s" in outcome["value"]


def test_all_servers_asked_at_once_cost_one_deadline():
    peer = TricklingPeer(socket.AF_INET, ("127.0.0.1", 0))
    try:
        servers = {f"green_{n}": f"127.0.0.1:{peer.address[1]}" for n in range(4)}
        outcome = ends_within(5, lambda: server_check.unanswering(servers, "/healthz", timeout=0.5))
    finally:
        peer.close()
    assert set(outcome["value"]) == set(servers) and outcome["elapsed"] < 2


def test_a_server_whose_question_never_returns_costs_one_deadline():
    """A name the resolver takes long over (getaddrinfo has no timeout) is not waited for."""
    never = threading.Event()

    def ask_one(address, path, timeout):
        if address == "slow-dns:80":
            never.wait(30)
        return None

    outcome = ends_within(5, lambda: server_check.unanswering({"a": "up:80", "b": "slow-dns:80"}, timeout=0.5, ask_one=ask_one))
    never.set()
    assert outcome["value"] == {"b": "slow-dns:80: no answer within 0.5s"} and outcome["elapsed"] < 2
