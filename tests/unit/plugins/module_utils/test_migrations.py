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


def test_the_script_checks_the_live_queries_in_a_savepoint_it_rolls_back_before_the_ledger_line():
    migration = migrations.read_names(["0002_add_note.expand.sql"])[0]
    text = migrations.script(migration, "ALTER TABLE orders ADD COLUMN note text;", "1.2.0-o'neil", "SELECT quantity FROM orders")
    parts = ("CREATE TABLE IF NOT EXISTS tracegate_migrations", "ADD COLUMN note text;", "SAVEPOINT bluegreen_live_release;",
             "SELECT quantity FROM orders;", "ROLLBACK TO SAVEPOINT bluegreen_live_release;", "INSERT INTO tracegate_migrations")
    order = [text.index(part) for part in parts]
    assert order == sorted(order)
    assert "'1.2.0-o''neil'" in text and "'0002_add_note.expand'" in text
    assert "SAVEPOINT" not in migrations.script(migration, "SELECT 1", "1.2.0")


@pytest.mark.parametrize("out, err, says", [
    ("bluegreen-migration-part:ledger\nbluegreen-migration-part:migration\nbluegreen-migration-part:live-queries\n",
     'ERROR:  column "quantity" does not exist', "the live release's queries fail on the migrated schema"),
    ("bluegreen-migration-part:migration\n", "ERROR:  canceling statement due to lock timeout", "waited more than lock_timeout 5s"),
    ("bluegreen-migration-part:migration\n", "ERROR:  canceling statement due to statement timeout",
     "ran longer than statement_timeout 5min"),
    ("bluegreen-migration-part:migration\n", 'ERROR:  syntax error at or near "ALTR"', "failed in its migration part"),
    ("", "psql: error: connection to server failed", "psql could not run"),
])
def test_a_failure_says_which_part_stopped_and_what_to_do(out, err, says):
    migration = migrations.read_names(["0002_add_note.expand.sql"])[0]
    reason = migrations.failure(migration, out, err, "5s", "5min")
    assert reason.startswith("migration 0002_add_note.expand: ") and says in reason and err.split("  ")[-1] in reason


LOCK_TIMEOUT = ("psql:<stdin>:4: ERROR:  55P03: canceling statement due to lock timeout\n"
                "LOCATION:  ProcessInterrupts, postgres.c:3315\n")


@pytest.mark.parametrize("err, code", [
    (LOCK_TIMEOUT, "55P03"),
    ("psql:<stdin>:4: FEHLER:  57014: storniere Anfrage wegen Zeitüberschreitung der Anweisung\n", "57014"),
    ("psql:<stdin>:3: ERROR:  canceling statement due to lock timeout\n", None),
    ("psql: error: connection to server on socket failed\n", None),
])
def test_the_sqlstate_is_read_from_psql_whatever_the_language(err, code):
    assert migrations.sqlstate(err) == code


def test_a_lock_timeout_in_any_language_is_named_without_the_servers_source_location():
    migration = migrations.read_names(["0002_add_note.expand.sql"])[0]
    reason = migrations.failure(migration, "bluegreen-migration-part:migration\n",
                                "psql:<stdin>:4: ERREUR:  55P03: annulation de la requête à cause du délai\n"
                                "LOCATION:  ProcessInterrupts, postgres.c:3315\n", "500ms", "5min", tries=3)
    assert "waited more than lock_timeout 500ms on each of 3 tries for a lock" in reason, reason
    assert "LOCATION" not in reason and "postgres.c" not in reason


def scripted_psql(*answers):
    """A run_script that gives `answers` ((rc, stdout, stderr)) in turn and counts its calls."""
    calls = []

    def run_script(text):
        calls.append(text)
        return answers[min(len(calls), len(answers)) - 1]
    return run_script, calls


DONE = (0, "bluegreen-migration-part:migration\nbluegreen-migration-part:done\n", "")
LOCKED = (3, "bluegreen-migration-part:migration\n", LOCK_TIMEOUT)


def test_a_migration_that_timed_out_on_a_lock_runs_again_after_growing_pauses():
    listed = migrations.read_names(["0001_a.expand.sql", "0002_b.expand.sql"])
    sources = {"0001_a.expand.sql": "SELECT 1", "0002_b.expand.sql": "SELECT 2"}
    run_script, calls = scripted_psql(LOCKED, LOCKED, DONE)
    pauses = []
    outcome = migrations.apply(listed, sources, ["0001_a.expand", "0002_b.expand"], "1.0.0", run_script, lock_retries=3,
                               pause=pauses.append)
    assert outcome == {"applied": ["0001_a.expand", "0002_b.expand"], "lock_retries": {"0001_a.expand": 2}, "failed": None}
    assert len(calls) == 4 and pauses == [1, 2]


def test_lock_retries_end_in_the_lock_timeout_and_other_errors_are_not_retried():
    listed = migrations.read_names(["0001_a.expand.sql"])
    sources = {"0001_a.expand.sql": "SELECT 1"}
    run_script, calls = scripted_psql(LOCKED)
    pauses = []
    outcome = migrations.apply(listed, sources, ["0001_a.expand"], "1.0.0", run_script, lock_timeout="500ms",
                               lock_retries=5, pause=pauses.append)
    assert outcome["applied"] == [] and len(calls) == 6 and pauses == [1, 2, 4, 8, 8], (outcome, pauses)
    assert "waited more than lock_timeout 500ms on each of 6 tries" in outcome["failed"]["reason"], outcome
    broken = (3, "bluegreen-migration-part:migration\n", 'psql:<stdin>:4: ERROR:  42601: syntax error at or near "ALTR"\n')
    run_script, calls = scripted_psql(broken)
    outcome = migrations.apply(listed, sources, ["0001_a.expand"], "1.0.0", run_script, lock_retries=5, pause=pauses.append)
    assert len(calls) == 1 and "failed in its migration part" in outcome["failed"]["reason"], outcome


def test_the_ledger_and_the_timeouts_are_read_and_checked():
    assert migrations.parse_ledger("0001_a.expand\texpand\n\n0002_b.contract\tcontract\n") == {
        "0001_a.expand": {"phase": "expand"}, "0002_b.contract": {"phase": "contract"}}
    assert migrations.timeouts_env("500ms", "10min") == {"PGOPTIONS": "-c lock_timeout=500ms -c statement_timeout=10min"}
    with pytest.raises(migrations.MigrationError, match="statement_timeout: '1 hour'"):
        migrations.timeouts_env("5s", "1 hour")
    with pytest.raises(migrations.MigrationError, match="ledger_table: 'Ledger'"):
        migrations.ledger_query("Ledger")
