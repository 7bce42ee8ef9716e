from ansible_collections.tracegate.bluegreen.plugins.filter.nginx_upstream_problems import nginx_upstream_problems


def test_the_role_defaults_have_no_problem():
    assert nginx_upstream_problems("bluegreen_app", "max_fails=1 fail_timeout=5s") == []


def test_a_keyword_upstream_name_is_named():
    (problem,) = nginx_upstream_problems("Server", "max_fails=1 fail_timeout=5s")
    assert "upstream" in problem and "keyword" in problem


def test_a_bad_fail_timeout_is_named_with_the_syntax_nginx_reads():
    (problem,) = nginx_upstream_problems("bluegreen_app", "max_fails=1 fail_timeout=500ms")
    assert "fail_timeout=500ms" in problem and "no ms" in problem


def test_both_problems_are_reported_at_once():
    assert len(nginx_upstream_problems("http", "max_fails=-1 fail_timeout=5s")) == 2


def test_an_injected_parameter_is_refused():
    (problem,) = nginx_upstream_problems("bluegreen_app", "max_fails=1; } server { listen 81; return 200 x; #")
    assert problem.startswith("server_params:")
