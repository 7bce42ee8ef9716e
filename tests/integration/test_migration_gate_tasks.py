"""The migration gate's task file (migrate_expand.yml) run by ansible-playbook as the cutover
runs it, against a REAL PostgreSQL (postgres_harness): the live release's queries are read
from the first live host's /opt/<service>/current/migrations/queries.sql, and queries that
cannot be read must fail the gate with nothing migrated, never let the migrations run
unchecked, unless bluegreen_database.live_queries_required is false (a live release from
before the database, which ships no queries.sql)."""
import uuid
from pathlib import Path

import pytest
from conftest import release_artifact
from lb_harness import AppServer, run_lb_play
from postgres_harness import Postgres

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "playbooks" / "tasks"
LIVE_QUERIES = b"SELECT id, item, quantity FROM orders LIMIT 1;\nINSERT INTO orders (item, quantity) VALUES ('probe', 1);\n"
ADD_NOTE = {"0001_add_note.expand.sql": "ALTER TABLE orders ADD COLUMN note text;"}
# Not additive: the live release reads quantity (tests/lab/migrations/breaks-live).
DROP_QUANTITY = {"0001_drop_orders_quantity.expand.sql": "ALTER TABLE orders DROP COLUMN quantity;"}


@pytest.fixture
def database():
    postgres = Postgres()
    postgres.psql("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);"
                  "INSERT INTO orders (item, quantity) VALUES ('tea', 2)")
    yield postgres
    postgres.stop()


@pytest.fixture
def live_color():
    """The load balancer's public route the smoke test asks (the live color answers 200)."""
    server = AppServer("live")
    yield server
    server.stop()


@pytest.fixture
def service():
    """A service name of the test's own: nothing is installed under /opt/<service>, the default
    place of the live release's queries."""
    return f"bg-migration-gate-{uuid.uuid4().hex[:10]}"


def columns(database):
    return database.psql("SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'").split()


def ledger(database):
    if database.psql("SELECT to_regclass('tracegate_migrations') IS NOT NULL").strip() != "t":
        return []
    return database.psql("SELECT id FROM tracegate_migrations ORDER BY id").split()


def run_migration_gate(tmp_path, database, live_color, service, migrations, live_host_vars=None, **settings):
    """migrate_expand.yml on a load balancer play of one local host, with the run's settings as
    preflight.yml gathers them and a live host that is this machine; returns (exit code,
    output, the db_migration gate's audit record or None)."""
    audit_log = tmp_path / "run.jsonl"
    run = {"service": service, "run_id": "migration-gate-test", "audit_log": str(audit_log), "audit_fail_closed": True,
           "operation": "cutover", "probe_path": "/healthz"}
    artifact = release_artifact(tmp_path / "svc-2.0.0.tar.gz", "2.0.0",
                                {f"migrations/{name}": sql.encode() for name, sql in migrations.items()})
    hosts = {"bluegreen_lb": {"lb-1": {"bluegreen_lb_url": f"http://127.0.0.1:{live_color.port}/"}},
             "bluegreen_blue": {"blue-1": live_host_vars or {}}, "bluegreen_green": {"green-1": {}}}
    tasks = [{"ansible.builtin.set_fact": {"bluegreen_plan": {"from_color": "blue", "to_color": "green"},
                                           "bluegreen_release": {"artifact": str(artifact), "version": "2.0.0"}}},
             {"ansible.builtin.import_tasks": str(TASKS / "migrate_expand.yml")}]
    database_settings = {"conninfo": database.conninfo, "lock_timeout": "2s", **settings}
    code, output, records = run_lb_play(tmp_path, run, tasks, hosts, {"vars": {"bluegreen_database": database_settings}})
    gates = [record for record in records if record["type"] == "gate_result" and record.get("gate") == "db_migration"]
    assert len(gates) <= 1, gates
    return code, output, gates[0] if gates else None


# "fasle": a typo of the opt-out is not the opt-out (`| bool` would read it as false).
@pytest.mark.parametrize("settings", [{}, {"live_queries_required": "fasle"}], ids=["default", "typo"])
def test_live_queries_that_cannot_be_read_fail_the_gate_and_migrate_nothing(tmp_path, database, live_color, service,
                                                                            settings):
    code, output, gate = run_migration_gate(tmp_path, database, live_color, service, DROP_QUANTITY, **settings)
    assert code != 0, output
    assert gate is not None, output
    assert gate["verdict"] == "fail" and gate["live_queries_checked"] is False and gate["applied"] == [], gate
    reason = " ".join(gate["reasons"])
    path = f"/opt/{service}/current/migrations/queries.sql"
    # slurp's own message ("File not found" or "file not found", by ansible-core version).
    assert f"the live release's queries {path} could not be read on blue-1 (file not found: {path})" in reason.lower(), reason
    assert "nothing was migrated" in reason and "bluegreen_database.live_queries_required to false" in reason, reason
    assert "db_migration: the live release's queries" in output, output
    # The database as it was: the column the live release reads, no ledger; no smoke test either.
    assert "quantity" in columns(database) and ledger(database) == []
    assert live_color.requests == 0


def test_without_live_queries_required_the_migrations_run_with_the_smoke_test_alone(tmp_path, database, live_color,
                                                                                    service):
    code, output, gate = run_migration_gate(tmp_path, database, live_color, service, ADD_NOTE,
                                            live_queries_required=False)
    assert code == 0, output
    assert gate["verdict"] == "pass" and gate["live_queries_checked"] is False, gate
    assert gate["applied"] == ["0001_add_note.expand"], gate
    assert "live_queries_required: false" in gate["reasons"][0], gate
    assert "note" in columns(database) and ledger(database) == ["0001_add_note.expand"]
    assert live_color.requests == 1


def test_the_live_queries_are_read_where_app_env_base_dir_put_the_live_release(tmp_path, database, live_color, service):
    base = tmp_path / "srv" / service
    (base / "current" / "migrations").mkdir(parents=True)
    (base / "current" / "migrations" / "queries.sql").write_bytes(LIVE_QUERIES)
    code, output, gate = run_migration_gate(tmp_path, database, live_color, service, DROP_QUANTITY,
                                            live_host_vars={"app_env_base_dir": str(base)})
    assert code != 0, output
    assert gate["live_queries_checked"] is True and gate["applied"] == [], gate
    assert "the live release's queries fail on the migrated schema" in " ".join(gate["reasons"]), gate
