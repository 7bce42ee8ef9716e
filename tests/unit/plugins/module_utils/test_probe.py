"""The probes one trace_probe task sent, as the next task gets them back (sent_probes)."""
import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils.probe import new_traceparent, sent_probes


def test_the_probes_a_task_returned_are_taken_back_as_they_are():
    trace_id, _traceparent = new_traceparent()
    records = [{"trace_id": trace_id, "url": "http://***@lb/api", "status": 200, "color": "green", "version": "1.2.0"},
               {"trace_id": "0af7651916cd43dd8448eb211c80319c", "url": "http://lb/api", "status": None, "error": "refused"}]
    assert sent_probes(records) == records
    assert sent_probes(records) is not records


@pytest.mark.parametrize("records, named", [
    ([], "sent: no probes"),
    (["0af7651916cd43dd8448eb211c80319c"], "sent[0]: not a probe"),
    ([{"status": 200}], "sent[0].trace_id: None"),
    ([{"trace_id": "0" * 32, "status": 200}], "sent[0].trace_id: '000"),
    ([{"trace_id": "0af7651916cd43dd8448eb211c80319", "status": 200}], "sent[0].trace_id"),
    ([{"trace_id": "0af7651916cd43dd8448eb211c80319c\n", "status": 200}], "sent[0].trace_id"),
    ([{"trace_id": "0af7651916cd43dd8448eb211c80319c", "status": 200},
      {"trace_id": "0af7651916cd43dd8448eb211c80319d"}], "sent[1].status: None is not"),
    ([{"trace_id": "0af7651916cd43dd8448eb211c80319c", "status": True}], "sent[0].status: True"),
])
def test_a_probe_that_is_not_one_is_named_before_any_look_up(records, named):
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        sent_probes(records)
