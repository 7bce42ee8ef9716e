import pytest
from ansible_collections.tracegate.bluegreen.plugins.filter.nginx_upstream_problems import nginx_upstream_problems
from ansible_collections.tracegate.bluegreen.plugins.module_utils.nginx_upstream import default_generation_url, upstream_name_for


@pytest.mark.parametrize("service, upstream", [
    ("bgdemo", "bluegreen_bgdemo"),
    ("checkout-api", "bluegreen_checkout_api"),
    ("billing.v2", "bluegreen_billing_v2"),
    ("if", "bluegreen_if"),
    ("server", "bluegreen_server"),
])
def test_every_service_name_gives_an_upstream_the_module_takes(service, upstream):
    assert upstream_name_for(service) == upstream
    assert nginx_upstream_problems(upstream) == []


def test_the_longest_service_name_still_gives_a_valid_upstream():
    assert nginx_upstream_problems(upstream_name_for("a" * 128)) == []


def test_the_generation_is_read_on_the_control_port():
    assert default_generation_url("bluegreen_shop") == "http://127.0.0.1:18079/.bluegreen/generation/bluegreen_shop"
    assert default_generation_url("bluegreen_shop", 9001) == "http://127.0.0.1:9001/.bluegreen/generation/bluegreen_shop"
