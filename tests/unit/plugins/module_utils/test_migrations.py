import pytest
from ansible_collections.tracegate.bluegreen.plugins.module_utils import migrations

DAY = 86400.0
R2 = ["0001_orders.expand.sql", "0002_orders_email.expand.sql", "0003_drop_legacy_name.contract.sql"]


def test_names_in_order_and_bad_names_refused():
    read = migrations.read_names(list(reversed(R2)))
    assert [m["id"] for m in read] == ["0001_orders.expand", "0002_orders_email.expand", "0003_drop_legacy_name.contract"]
    with pytest.raises(migrations.MigrationError, match="migrations/0004-drop.sql: not"):
        migrations.read_names(R2 + ["0004-drop.sql"])
    with pytest.raises(migrations.MigrationError, match="number 0002 is used twice"):
        migrations.read_names(R2 + ["0002_other.expand.sql"])


def test_in_the_cutover_that_brings_a_contract_migration_only_the_expand_ones_run():
    planned = migrations.plan(migrations.read_names(R2), {"0001_orders.expand": {}}, now=10 * DAY,
                              live_release_ids=["0001_orders.expand"], live_since=0.0)
    assert planned["applied"] == ["0001_orders.expand"] and planned["expand"] == ["0002_orders_email.expand"]
    assert planned["contract"] == [] and planned["waiting"][0]["id"] == "0003_drop_legacy_name.contract"
    assert "does not carry it yet" in planned["waiting"][0]["reason"]


def test_a_contract_migration_waits_for_the_rollback_window_of_the_release_that_carries_it():
    read = migrations.read_names(R2)
    ledger = {"0001_orders.expand": {}, "0002_orders_email.expand": {}}
    ids = [m["id"] for m in read]
    early = migrations.plan(read, ledger, now=5 * DAY + 3600, live_release_ids=ids, live_since=5 * DAY)
    assert early["contract"] == [] and early["waiting"][0]["until"] == 6 * DAY
    late = migrations.plan(read, ledger, now=6 * DAY, live_release_ids=ids, live_since=5 * DAY)
    assert late["contract"] == ["0003_drop_legacy_name.contract"] and late["waiting"] == []


def test_a_later_migration_waits_behind_a_waiting_contract_one():
    read = migrations.read_names(R2 + ["0004_invoices.expand.sql"])
    planned = migrations.plan(read, {}, now=0.0)
    assert planned["expand"] == ["0001_orders.expand", "0002_orders_email.expand"]
    assert [w["id"] for w in planned["waiting"]] == ["0003_drop_legacy_name.contract", "0004_invoices.expand"]
