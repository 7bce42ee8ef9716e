"""trace_health and trace_probe through ansible, on what a task hands them: credentials in URLs
and headers never come back in a result (invocation included), and trace_probe sends probes
over http:// and https:// only. Nothing listens on the ports asked: every call fails fast."""
import json
import socket
import threading

import pytest
from conftest import free_port
from lb_harness import run_task

SECRETS = ("s3cret-of-the-backend", "s3cret-of-the-app", "s3cret-of-a-header")


@pytest.fixture(autouse=True)
def invocation_in_results(monkeypatch):
    """The module's arguments come back in its result, where a leak would show first."""
    monkeypatch.setenv("ANSIBLE_INJECT_INVOCATION", "1")


def test_trace_health_shows_no_credentials_of_its_url():
    port = free_port()
    result = run_task("trace_health", {"backend": "jaeger", "url": f"http://gate:{SECRETS[0]}@127.0.0.1:{port}",
                                       "retries": 0, "service": "checkout"})
    assert result["verdict"] == "fail", result
    assert f"Jaeger (api_v3) at http://***@127.0.0.1:{port}/api/v3/traces" in result["reasons"][0]
    assert result["queries"][0]["url"] == f"http://***@127.0.0.1:{port}/api/v3/traces"
    assert "invocation" in result
    assert SECRETS[0] not in json.dumps(result)


def test_trace_probe_shows_no_credentials_of_its_urls_or_headers():
    app, backend = free_port(), free_port()
    result = run_task("trace_probe", {
        "backend": "jaeger", "url": f"http://gate:{SECRETS[0]}@127.0.0.1:{backend}", "retries": 0,
        "urls": [f"http://probe:{SECRETS[1]}@127.0.0.1:{app}/api/quote"], "headers": {"Authorization": SECRETS[2]},
        "count": 1, "deadline": 0.5, "service": "checkout", "color": "green"})
    assert result["failed"] and "1 of 1 probes got no answer" in result["msg"], result
    assert result["probes"][0]["url"] == f"http://***@127.0.0.1:{app}/api/quote"
    assert "invocation" in result
    assert not [secret for secret in SECRETS if secret in json.dumps(result)]


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://probe:s3cret@127.0.0.1/x", "http:///no-host",
                                 "http://127.0.0.1:99999/"])
def test_trace_probe_sends_nothing_but_http_and_https(url):
    result = run_task("trace_probe", {"backend": "jaeger", "url": f"http://127.0.0.1:{free_port()}", "retries": 0,
                                      "urls": ["http://127.0.0.1/", url], "count": 1, "deadline": 0.5,
                                      "service": "checkout", "color": "green"})
    assert result["failed"] and "probes" not in result, result
    shown = url.replace("probe:s3cret@", "***@")
    assert result["msg"] == f"urls[1]: {shown!r} is not an http:// or https:// URL naming a host"


@pytest.mark.parametrize("args, named", [
    ({"sent": [{"trace_id": "0af7651916cd43dd8448eb211c80319c", "status": 200}], "urls": ["http://127.0.0.1/"]},
     "mutually exclusive: urls|sent"),
    ({"sent": [{"trace_id": "0AF7651916CD43DD8448EB211C80319C", "status": 200}]}, "sent[0].trace_id: '0AF7"),
    ({"sent": [{"trace_id": "0af7651916cd43dd8448eb211c80319c", "status": "200"}]}, "sent[0].status: '200'"),
    ({"sent": [{"trace_id": "0af7651916cd43dd8448eb211c80319c", "status": 200}], "wait": False}, "wait: false sends probes"),
    ({}, "one of the following is required: urls, sent"),
])
def test_trace_probe_names_a_bad_look_up_of_probes_sent_earlier(args, named):
    result = run_task("trace_probe", {"backend": "jaeger", "url": f"http://127.0.0.1:{free_port()}", "retries": 0,
                                      "deadline": 0.5, "service": "checkout", "color": "green", **args})
    assert result["failed"] and named in result["msg"], result


def test_a_probe_answered_with_something_that_is_not_http_is_a_probe_without_answer():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def answer_garbage():
            connection, _address = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")

        threading.Thread(target=answer_garbage, daemon=True).start()
        result = run_task("trace_probe", {
            "backend": "jaeger", "url": f"http://127.0.0.1:{free_port()}", "retries": 0,
            "urls": [f"http://127.0.0.1:{listener.getsockname()[1]}/"], "count": 1, "deadline": 0.5,
            "service": "checkout", "color": "green"})
    # A crash would end the task with the traceback's message and no probes.
    assert "1 of 1 probes got no answer" in result["msg"], result["msg"]
    assert result["probes"][0]["status"] is None and result["probes"][0]["error"]


def test_trace_probe_routing_headers_reach_the_app_and_are_shown_as_they_are():
    """A preview header's value is the color: hidden as a secret it would blank every color
    in the result and in the audit evidence taken from it."""
    seen = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def answer():
            connection, _address = listener.accept()
            with connection:
                seen.append(connection.recv(65536).decode("latin-1"))
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        server = threading.Thread(target=answer, daemon=True)
        server.start()
        result = run_task("trace_probe", {
            "backend": "jaeger", "url": f"http://127.0.0.1:{free_port()}", "retries": 0,
            "urls": [f"http://127.0.0.1:{listener.getsockname()[1]}/api/quote"],
            "routing_headers": {"X-Bluegreen-Preview": "green"}, "count": 1, "deadline": 0.5,
            "service": "checkout", "color": "green"})
        server.join(timeout=10)
    assert "x-bluegreen-preview: green" in seen[0].lower()
    assert result["failed"] and "********" not in json.dumps(result), result
    assert result["invocation"]["module_args"]["routing_headers"] == {"X-Bluegreen-Preview": "green"}


def test_trace_probe_refuses_a_header_named_as_secret_and_as_routing():
    result = run_task("trace_probe", {
        "backend": "jaeger", "url": f"http://127.0.0.1:{free_port()}", "retries": 0, "urls": ["http://127.0.0.1/"],
        "headers": {"X-Bluegreen-Preview": "s3cret"}, "routing_headers": {"x-bluegreen-preview": "green"},
        "count": 1, "service": "checkout", "color": "green"})
    assert result["failed"] and result["msg"].startswith("routing_headers: x-bluegreen-preview also named in headers")


@pytest.mark.parametrize("args, named", [
    ({"baseline_hosts": 0, "candidate_hosts": 2}, "baseline_hosts must be at least 1, got 0"),
    ({"baseline_hosts": 2, "candidate_hosts": -1}, "candidate_hosts must be at least 1, got -1"),
    ({"thresholds": {"max_load_ratio": 0.5}}, "thresholds.max_load_ratio: 0.5 must be at least 1"),
])
def test_trace_health_names_a_bad_host_count_or_load_ratio(args, named):
    result = run_task("trace_health", {"backend": "jaeger", "url": f"http://127.0.0.1:{free_port()}", "retries": 0,
                                       "service": "checkout", **args})
    assert result.get("failed") and named in result["msg"], result
