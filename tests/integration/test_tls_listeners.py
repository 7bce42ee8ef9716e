"""What a real NGINX 1.22 TLS listener on loopback accepts, read by drift_fingerprint (its
`tls_endpoints`), compared across two colors by drift_check and judged by security_check: one
listener configured as a hardened service would be, one as a legacy one."""
import socket
import subprocess

import pytest
from conftest import free_port, wait_until
from lb_harness import NGINX, run_module

HARDENED = "ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384;"
LEGACY = "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; ssl_ciphers ALL:@SECLEVEL=0;"


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def listeners(tmp_path_factory):
    """{"hardened": port, "legacy": port}: two NGINX TLS listeners with one self-signed key."""
    root = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(root / "key.pem"),
                    "-out", str(root / "cert.pem"), "-days", "2", "-subj", "/CN=shop.internal"],
                   check=True, capture_output=True)
    ports, processes = {}, []
    for name, settings in (("hardened", HARDENED), ("legacy", LEGACY)):
        ports[name] = free_port()
        conf = root / f"{name}.conf"
        conf.write_text(
            f"pid {root}/{name}.pid;\nerror_log {root}/{name}.log;\nevents {{}}\n"
            f"http {{ access_log off; client_body_temp_path {root}/{name}-body;\n"
            f"  server {{ listen 127.0.0.1:{ports[name]} ssl; ssl_certificate {root}/cert.pem;\n"
            f"    ssl_certificate_key {root}/key.pem; {settings} return 200 ok; }} }}\n")
        processes.append(subprocess.Popen([NGINX, "-e", str(root / f"{name}.log"), "-c", str(conf), "-g", "daemon off;"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for port in ports.values():
        wait_until(lambda port=port: listening(port), 10, f"nginx listening on {port}")
    yield ports
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def tls_of(port, color):
    result = run_module("drift_fingerprint", {"service": "shop", "color": color, "units": [], "packages": False,
                                              "tls_endpoints": [str(port)]})
    assert result.get("failed") is not True, result
    return result["fingerprint"]


def test_what_each_listener_accepts_is_read_from_the_host(listeners):
    hardened = tls_of(listeners["hardened"], "blue")["tls"]
    endpoint = f"127.0.0.1:{listeners['hardened']}"
    assert [hardened[f"{endpoint}/{version}"] for version in ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")] == [
        "refused", "refused", "accepted", "accepted"]
    assert hardened[f"{endpoint}/ciphers"] == ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
    assert hardened[f"{endpoint}/negotiated"].startswith("TLSv1.3 ")
    legacy = tls_of(listeners["legacy"], "green")["tls"]
    endpoint = f"127.0.0.1:{listeners['legacy']}"
    assert legacy[f"{endpoint}/TLSv1"] == "accepted" and "AECDH-AES128-SHA" in legacy[f"{endpoint}/ciphers"]


def test_the_security_gate_passes_the_hardened_listener_and_names_what_the_legacy_one_accepts(listeners):
    gate = {"lb_urls": [], "probe_path": "/", "policy": {"tls": {"min_version": "TLSv1.2"}}}
    hardened = run_module("security_check", dict(gate, hosts={"blue-1": tls_of(listeners["hardened"], "blue")}))
    assert hardened["verdict"] == "pass", hardened["reasons"]
    legacy = run_module("security_check", dict(gate, hosts={"green-1": tls_of(listeners["legacy"], "green")}))
    endpoint = f"127.0.0.1:{listeners['legacy']}"
    assert legacy["verdict"] == "fail"
    assert f"green-1: {endpoint}: accepts TLSv1, below min_version TLSv1.2" in legacy["reasons"]
    assert f"green-1: {endpoint}: accepts TLSv1.1, below min_version TLSv1.2" in legacy["reasons"]
    weak = next(reason for reason in legacy["reasons"] if "forbidden cipher suites" in reason)
    assert "AECDH-AES128-SHA" in weak and "ECDHE-RSA-AES128-GCM-SHA256" not in weak


def test_a_port_without_tls_or_without_a_listener_fails_the_gate_closed(listeners):
    plain = free_port()
    with socket.create_server(("127.0.0.1", plain)):
        # A listener that accepts and never answers a TLS hello: the handshake times out.
        result = run_module("drift_fingerprint", {"service": "shop", "color": "green", "units": [], "packages": False,
                                                  "tls_endpoints": [str(plain), str(free_port())], "tls_timeout": 1})
    gate = run_module("security_check", {"lb_urls": [], "probe_path": "/", "hosts": {"green-1": result["fingerprint"]}})
    assert gate["verdict"] == "fail"
    assert len(gate["reasons"]) == 2 and all("no TLS answer" in reason for reason in gate["reasons"]), gate["reasons"]


def test_the_drift_gate_names_a_tls_listener_that_differs_between_the_colors(listeners):
    # One host per color, the same endpoint name: the legacy listener read as if it were green's.
    blue = tls_of(listeners["hardened"], "blue")
    green = tls_of(listeners["legacy"], "green")
    green["tls"] = {key.replace(str(listeners["legacy"]), str(listeners["hardened"])): value
                    for key, value in green["tls"].items()}
    result = run_module("drift_check", {"fingerprints": {"blue-1": {"color": "blue", "fingerprint": blue},
                                                         "green-1": {"color": "green", "fingerprint": green}},
                                        "allow": ["ports/*", "sysctls/*", "files/*", "modes/*"]})
    assert result["verdict"] == "fail"
    tls_keys = {difference["key"] for difference in result["differences"] if difference["class"] == "security"}
    assert f"tls/127.0.0.1:{listeners['hardened']}/TLSv1" in tls_keys, result["reasons"]


def test_a_bad_endpoint_is_refused_naming_it():
    result = run_module("drift_fingerprint", {"service": "shop", "color": "blue", "tls_endpoints": ["8443", "https"]})
    assert result["failed"] is True and "tls_endpoints[1]" in result["msg"], result
