import pytest
from ansible_collections.tracegate.bluegreen.plugins.module_utils import tls_probe


@pytest.mark.parametrize("item, endpoint", [
    (8443, ("127.0.0.1", 8443)),
    ("8443", ("127.0.0.1", 8443)),
    ("10.0.0.5:443", ("10.0.0.5", 443)),
    ("[::1]:8443", ("::1", 8443)),
    ("app.internal:8443", ("app.internal", 8443)),
])
def test_an_endpoint_is_a_port_or_an_address_and_port(item, endpoint):
    assert tls_probe.endpoint_of(item) == endpoint


@pytest.mark.parametrize("item", ["", "https", "8443x", "0", "70000", ":8443", "10.0.0.5:", "[::1]8443", "a b:443",
                                  "\uff18\uff14\uff14\uff13", "h\u00f6st:443", "a;b:443", "app\n:443", "9" * 5000,
                                  "a" * 300 + ":443"])
def test_a_bad_endpoint_names_its_index(item):
    with pytest.raises(tls_probe.TlsProbeError, match=r"tls_endpoints\[2\]"):
        tls_probe.endpoint_of(item, 2)


def test_an_endpoint_is_named_the_same_way_in_every_fingerprint():
    assert tls_probe.label_of("127.0.0.1", 8443) == "127.0.0.1:8443"
    assert tls_probe.label_of("::1", 8443) == "[::1]:8443"
