import json

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import fingerprint

# Real output of this machine's tools (Debian 12).
DPKG = "haproxy 2.6.12-1+deb12u4 ii \nopenssl 3.0.19-1~deb12u2 ii \nnginx 1.22.1-9+deb12u2 rc \n"
PROC_NET_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23516140 1 00000000d9438eab 100 0 0 10 0
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1475 1 00000000d69629cc 100 0 0 10 0
   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1476 1 00000000d69629cc 100 0 0 10 0
"""
# The lines as /proc/net/tcp6 has them, split only to fit this file.
PROC_NET_TCP6 = (
    '  sl  local_address                         remote_address              '
    '          st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
    '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 000'
    '00000:00000000 00:00000000 00000000   997        0 31337 1 0000000000000000 100 0 0 10 0\n'
    '   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 000'
    '00000:00000000 00:00000000 00000000     0        0 31338 1 0000000000000000 100 0 0 10 0\n'
)


def test_dpkg_installed_packages_only():
    assert fingerprint.parse_dpkg(DPKG) == {"haproxy": "2.6.12-1+deb12u4", "openssl": "3.0.19-1~deb12u2"}


def test_listening_sockets_with_their_address_and_no_established_connection():
    assert fingerprint.parse_proc_net_tcp(PROC_NET_TCP) == ["tcp/0.0.0.0:2024", "tcp/127.0.0.1:9090"]
    assert fingerprint.parse_proc_net_tcp(PROC_NET_TCP6, ipv6=True) == ["tcp/[::1]:22", "tcp/[::]:8080"]


def test_systemctl_show():
    assert fingerprint.parse_systemctl_show("User=shop\nProtectSystem=strict\nNoNewPrivileges=yes\n") == {
        "User": "shop", "ProtectSystem": "strict", "NoNewPrivileges": "yes"}


def test_mode_and_digest_of_a_file(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("BLUEGREEN_COLOR=green\n")
    path.chmod(0o640)
    assert fingerprint.mode_of(str(path)).startswith("0640 ")
    assert fingerprint.mode_of(str(tmp_path / "missing")) is None
    assert fingerprint.file_digest(str(path), "green-1", "green") == \
        fingerprint.drift.neutral_digest(b"BLUEGREEN_COLOR=blue\n", "blue-1", "blue")


def test_sysctl(tmp_path):
    (tmp_path / "net" / "ipv4").mkdir(parents=True)
    (tmp_path / "net" / "ipv4" / "ip_forward").write_text("0\n")
    assert fingerprint.read_sysctl("net.ipv4.ip_forward", root=str(tmp_path)) == "0"
    assert fingerprint.read_sysctl("net.ipv4.nothing", root=str(tmp_path)) is None


def write_fact(directory, name, fingerprint_value):
    (directory / name).write_text(json.dumps({"color": "blue", "collector": False, "fingerprint": fingerprint_value}),
                                  encoding="utf-8")


def test_services_sharing_a_host_each_read_their_own_tracing_fact(tmp_path):
    write_fact(tmp_path, "tracing_agent_bgdemo.fact", "a" * 64)
    write_fact(tmp_path, "tracing_agent_bgdemo-admin.fact", "b" * 64)
    assert fingerprint.tracing_fingerprint("bgdemo", str(tmp_path)) == {"fingerprint": "a" * 64}
    assert fingerprint.tracing_fingerprint("bgdemo-admin", str(tmp_path)) == {"fingerprint": "b" * 64}


def test_a_host_provisioned_before_facts_per_service_is_read_from_its_one_fact_until_provisioned_again(tmp_path):
    write_fact(tmp_path, "tracing_agent.fact", "c" * 64)
    assert fingerprint.tracing_fingerprint("bgdemo", str(tmp_path)) == {"fingerprint": "c" * 64}
    write_fact(tmp_path, "tracing_agent_bgdemo.fact", "d" * 64)
    assert fingerprint.tracing_fingerprint("bgdemo", str(tmp_path)) == {"fingerprint": "d" * 64}


def test_no_tracing_fact_is_an_empty_section_and_a_broken_one_is_named(tmp_path):
    assert fingerprint.tracing_fingerprint("bgdemo", str(tmp_path)) == {}
    (tmp_path / "tracing_agent_bgdemo.fact").write_text("{not json", encoding="utf-8")
    with pytest.raises(fingerprint.FingerprintError, match=r"the tracing fact .*tracing_agent_bgdemo\.fact cannot be read"):
        fingerprint.tracing_fingerprint("bgdemo", str(tmp_path))
