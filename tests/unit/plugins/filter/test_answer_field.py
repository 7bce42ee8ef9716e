"""answer_field: a service's version or color from a uri result, wherever it puts it."""
import pytest

from ansible_collections.tracegate.bluegreen.plugins.filter.answer_field import answer_field

RESULT = {"status": 200, "json": {"version": "2.0.0", "color": "green", "build": {"version": " 2.0.0\n"}},
          "x_app_version": "2.0.0", "content": "2.0.0\n"}


@pytest.mark.parametrize("source, field", [("json", "version"), ("json", "build.version"), ("header", "X-App-Version"),
                                           ("header", "x-app-version"), ("body", "")])
def test_the_value_is_read_where_the_service_puts_it(source, field):
    assert answer_field(RESULT, source, field) == "2.0.0"


@pytest.mark.parametrize("result, source, field", [
    ({"status": 200, "content": "<html>"}, "json", "version"),  # not JSON: uri sets no json
    (RESULT, "json", "missing"), (RESULT, "json", "build"), (RESULT, "json", "version.major"), (RESULT, "header", "X-Nope"),
    ({"status": -1, "msg": "Connection refused"}, "body", ""), (None, "json", "version"),
])
def test_an_answer_without_the_value_gives_an_empty_string(result, source, field):
    assert answer_field(result, source, field) == ""


def test_an_unknown_source_is_named():
    with pytest.raises(ValueError, match="source 'xml'"):
        answer_field(RESULT, "xml")
