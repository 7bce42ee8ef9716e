"""server_check: addresses parsed, every server asked at once, reasons named."""

import socket
import threading

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import server_check


@pytest.mark.parametrize("address, parsed", [
    ("green-1:8080", ("green-1", 8080)), ("[::1]:80", ("::1", 80)), ("10.0.0.5:443", ("10.0.0.5", 443)),
])
def test_addresses(address, parsed):
    assert server_check.split_address(address) == parsed


@pytest.mark.parametrize("address", ["green-1", ":8080", "green-1:http"])
def test_bad_addresses_are_a_reason_not_a_crash(address):
    assert "is not host:port" in server_check.ask(address)


def test_a_closed_port_is_named_and_the_servers_are_asked_at_once():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"  # bound, never listening: refused

    together = threading.Barrier(9, timeout=10)  # breaks unless all nine are asked at once

    def ask_together(address, path, timeout):
        together.wait()
        return None if address == "up:1" else "down"

    servers = {f"s{n}": "up:1" for n in range(8)} | {"dead": "x:2"}
    assert server_check.unanswering(servers, ask_one=ask_together) == {"dead": "x:2: down"}
    assert set(server_check.unanswering({"green/green_1": closed}, path="")) == {"green/green_1"}
    assert "nothing was changed" in server_check.refusal({"app/green_1": "x:1: refused"})
