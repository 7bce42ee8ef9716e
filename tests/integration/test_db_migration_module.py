"""db_migration run as ansible runs it on a host, against a real PostgreSQL (Debian's binaries, a throwaway
cluster): expand migrations applied once each, a migration that breaks the live release's
queries rolled back whole, a lock held by another session ending in a clear timeout, and
contract migrations held until the rollback window of the release carrying them closes."""
import subprocess
import threading
import time

import pytest
from conftest import release_artifact
from lb_harness import run_module
from postgres_harness import PSQL, Postgres

LIVE_QUERIES = b"SELECT id, item, quantity FROM orders LIMIT 1;\nINSERT INTO orders (item, quantity) VALUES ('probe', 1);\n"


@pytest.fixture
def database():
    postgres = Postgres()
    postgres.psql("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL, legacy_code text);"
                  "INSERT INTO orders (item, quantity) VALUES ('tea', 2)")
    yield postgres
    postgres.stop()


def release(tmp_path, version, migrations):
    members = {f"migrations/{name}": sql.encode() for name, sql in migrations.items()}
    members["migrations/queries.sql"] = LIVE_QUERIES
    return str(release_artifact(tmp_path / f"svc-{version}.tar.gz", version, members))


def migrate(database, artifact, version, phase="expand", **extra):
    return run_module("db_migration", {"release_artifact": artifact, "release": version, "phase": phase,
                                       "conninfo": database.conninfo, "live_queries": LIVE_QUERIES.decode(), **extra})


def test_a_compatible_expand_runs_once_and_leaves_the_live_queries_nothing(database, tmp_path):
    artifact = release(tmp_path, "1.1.0", {"0001_add_note.expand.sql": "ALTER TABLE orders ADD COLUMN note text;"})
    checked = run_module("db_migration", {"release_artifact": artifact, "release": "1.1.0", "phase": "expand",
                                          "conninfo": database.conninfo}, check=True)
    assert checked["changed"] is True and checked["planned"] == ["0001_add_note.expand"], checked
    assert "note" not in database.psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'")
    first = migrate(database, artifact, "1.1.0")
    assert first.get("failed") is not True and first["applied"] == ["0001_add_note.expand"], first
    assert database.psql("SELECT count(*) FROM orders").strip() == "1"  # the live queries' INSERT was rolled back
    assert database.psql("SELECT id || ' ' || release FROM tracegate_migrations").strip() == "0001_add_note.expand 1.1.0"
    again = migrate(database, artifact, "1.1.0")
    assert again["changed"] is False and again["already_applied"] == ["0001_add_note.expand"], again


def test_an_expand_that_breaks_the_live_release_is_rolled_back_whole(database, tmp_path):
    artifact = release(tmp_path, "1.2.0", {"0001_add_note.expand.sql": "ALTER TABLE orders ADD COLUMN note text;",
                                           "0002_drop_quantity.expand.sql": "ALTER TABLE orders DROP COLUMN quantity;"})
    result = migrate(database, artifact, "1.2.0")
    assert result["failed"] is True and result["applied"] == ["0001_add_note.expand"], result
    assert result["failed_migration"] == "0002_drop_quantity.expand"
    assert "the live release's queries fail on the migrated schema" in result["msg"]
    assert 'column "quantity" does not exist' in result["msg"], result["msg"]
    columns = database.psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'")
    assert "quantity" in columns and "note" in columns
    assert database.psql("SELECT id FROM tracegate_migrations").split() == ["0001_add_note.expand"]


def test_a_lock_held_elsewhere_ends_in_a_lock_timeout_and_nothing_applied(database, tmp_path):
    artifact = release(tmp_path, "1.3.0", {"0001_add_note.expand.sql": "ALTER TABLE orders ADD COLUMN note text;"})
    holder = subprocess.Popen([PSQL, "--no-psqlrc", "-q", "--dbname", database.conninfo], stdin=subprocess.PIPE, text=True)
    try:
        holder.stdin.write("BEGIN; LOCK TABLE orders IN ACCESS SHARE MODE; SELECT pg_sleep(30);\n")
        holder.stdin.flush()
        deadline = time.monotonic() + 10
        while "AccessShareLock" not in database.psql("SELECT mode FROM pg_locks WHERE relation = 'orders'::regclass"):
            assert time.monotonic() < deadline, "the other session never took its lock"
            time.sleep(0.05)
        result = migrate(database, artifact, "1.3.0", lock_timeout="500ms", lock_retries=1)
    finally:
        holder.kill()
        holder.wait()
    assert result["failed"] is True and result["applied"] == [], result
    assert "waited more than lock_timeout 500ms on each of 2 tries for a lock" in result["msg"], result["msg"]
    assert "LOCATION" not in result["msg"], result["msg"]


def test_a_lock_released_between_tries_lets_the_migration_run_again_and_apply(database, tmp_path):
    artifact = release(tmp_path, "1.3.1", {"0001_add_note.expand.sql": "ALTER TABLE orders ADD COLUMN note text;"})
    holder = subprocess.Popen([PSQL, "--no-psqlrc", "-q", "--dbname", database.conninfo], stdin=subprocess.PIPE, text=True)
    outcome = {}
    try:
        holder.stdin.write("BEGIN;\nLOCK TABLE orders IN ACCESS SHARE MODE;\n")
        holder.stdin.flush()
        deadline = time.monotonic() + 10
        while "AccessShareLock" not in database.psql("SELECT mode FROM pg_locks WHERE relation = 'orders'::regclass"):
            assert time.monotonic() < deadline, "the other session never took its lock"
            time.sleep(0.05)
        migration = threading.Thread(target=lambda: outcome.update(
            result=migrate(database, artifact, "1.3.1", lock_timeout="300ms", lock_retries=4)))
        migration.start()
        # Each try is a session of its own: two sessions seen waiting for the lock are two tries.
        waiting, deadline = set(), time.monotonic() + 30
        while len(waiting) < 2:
            assert time.monotonic() < deadline and migration.is_alive(), (waiting, outcome)
            waiting |= set(database.psql("SELECT pid FROM pg_locks WHERE relation = 'orders'::regclass AND NOT granted").split())
            time.sleep(0.02)
        holder.stdin.write("COMMIT;\n")
        holder.stdin.flush()
        migration.join(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    result = outcome["result"]
    assert result.get("failed") is not True and result["applied"] == ["0001_add_note.expand"], result
    assert result["lock_retries"]["0001_add_note.expand"] >= 1, result
    assert "note" in database.psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'")


def test_a_contract_waits_for_the_rollback_window_then_runs(database, tmp_path):
    migrations = {"0001_add_note.expand.sql": "ALTER TABLE orders ADD COLUMN note text;",
                  "0002_drop_legacy.contract.sql": "ALTER TABLE orders DROP COLUMN legacy_code;"}
    artifact = release(tmp_path, "1.4.0", migrations)
    assert migrate(database, artifact, "1.4.0")["applied"] == ["0001_add_note.expand"]
    ids = ["0001_add_note.expand", "0002_drop_legacy.contract"]
    early = migrate(database, artifact, "1.4.0", "contract", live_release_ids=ids, live_since=time.time(),
                    rollback_window=3600)
    assert early["changed"] is False and early["applied"] == [], early
    assert early["waiting"][0]["id"] == "0002_drop_legacy.contract" and early["waiting"][0]["until"] > time.time()
    late = migrate(database, artifact, "1.4.0", "contract", live_release_ids=ids, live_since=time.time() - 7200,
                   rollback_window=3600)
    assert late["applied"] == ["0002_drop_legacy.contract"], late
    assert "legacy_code" not in database.psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'")


@pytest.mark.parametrize("extra, named", [
    ({"lock_timeout": "5 seconds"}, "lock_timeout: '5 seconds' is not a duration"),
    ({"lock_retries": -1}, "lock_retries: -1 is negative"),
    ({"ledger_table": "ledger; DROP TABLE orders"}, "ledger_table"),
])
def test_bad_input_is_named(database, tmp_path, extra, named):
    artifact = release(tmp_path, "1.5.0", {"0001_add_note.expand.sql": "SELECT 1;"})
    result = migrate(database, artifact, "1.5.0", **extra)
    assert result["failed"] is True and named in result["msg"], result


def test_a_badly_named_migration_is_refused_before_anything_runs(database, tmp_path):
    artifact = release(tmp_path, "1.6.0", {"1_add_note.sql": "ALTER TABLE orders ADD COLUMN note text;"})
    result = migrate(database, artifact, "1.6.0")
    assert result["failed"] is True and "migrations/1_add_note.sql: not <NNNN>_<name>" in result["msg"], result
