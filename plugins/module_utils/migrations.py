# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which of a release's data migrations may run now, under expand/contract.

A release carries its migrations as files `migrations/<NNNN>_<name>.<phase>.sql`, phase
`expand` (additive: the old color keeps working on the new schema) or `contract` (removes
what only the old release used). While a cutover can still be rolled back, the old release
may serve again, so a contract migration must wait: it may run only in a run that starts
after the rollback window of the cutover that made its release live has closed. Expand
migrations run in the cutover, before any traffic moves; the live color's smoke test after
them decides whether the cutover goes on.

The ledger is what the database says it has applied ({id: {"phase", "applied_at"}}, read
from its own table in the same transaction as each migration), so a migration applied by a
run that was killed is never applied twice and one that failed is not marked."""

from __future__ import annotations

import re
import time

MIGRATION_FILE = re.compile(r"^(?P<number>[0-9]{4})_(?P<name>[a-z0-9_]{1,64})\.(?P<phase>expand|contract)\.sql$")


class MigrationError(ValueError):
    """A release's migrations that cannot be applied in order, naming the file."""


def read_names(file_names):
    """[{id, number, name, phase, file}] of a release's migrations, in order; a file in
    migrations/ that is not named as one is refused, naming it, so that a typo never skips a
    migration silently."""
    migrations = []
    for file_name in sorted(file_names):
        match = MIGRATION_FILE.match(file_name)
        if not match:
            raise MigrationError(f"migrations/{file_name}: not <NNNN>_<name>.<expand|contract>.sql")
        migrations.append({"id": f"{match['number']}_{match['name']}.{match['phase']}", "number": int(match["number"]),
                           "name": match["name"], "phase": match["phase"], "file": file_name})
    numbers = [m["number"] for m in migrations]
    if len(numbers) != len(set(numbers)):
        duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
        raise MigrationError(f"migrations: number {duplicated[0]:04d} is used twice")
    return migrations


def plan(migrations, ledger, now, live_release_ids=(), live_since=None, rollback_window=86400.0):
    """What this run does with `migrations` (read_names), given `ledger` ({id: {...}}), the
    migration ids the live release carries (`live_release_ids`) and when it went live
    (`live_since`, epoch seconds; None: unknown). A contract migration may run only once a
    release that carries it has been live for the whole rollback window: in the cutover of the
    release that brings it, the live (old) release still needs what it removes.
    Returns {"expand": [ids to run before traffic], "contract": [ids allowed now],
    "waiting": [{"id", "until", "reason"}], "applied": [ids]}. A migration after a waiting
    one waits too: migrations apply in their order."""
    result = {"expand": [], "contract": [], "waiting": [], "applied": []}
    waiting = False
    live_ids = set(live_release_ids)
    for migration in migrations:
        if migration["id"] in ledger:
            result["applied"].append(migration["id"])
            continue
        if waiting:
            result["waiting"].append({"id": migration["id"], "until": None, "reason": "after an earlier waiting migration"})
            continue
        if migration["phase"] == "expand":
            result["expand"].append(migration["id"])
            continue
        if migration["id"] not in live_ids or live_since is None:
            waiting = True
            result["waiting"].append({"id": migration["id"], "until": None,
                                      "reason": "the live release does not carry it yet: it runs once a release that does "
                                                "has been live for the rollback window"})
        elif now < live_since + rollback_window:
            waiting = True
            result["waiting"].append({"id": migration["id"], "until": live_since + rollback_window,
                                      "reason": "the rollback window of the live release is still open"})
        else:
            result["contract"].append(migration["id"])
    return result


# --- running them with psql ---------------------------------------------------------------
# Each migration runs in one transaction of its own, through psql (no database driver on the
# host that runs it): the migration, then the live release's queries in a savepoint that is
# rolled back (they must still work on the new schema, and leave nothing), then its line in
# the ledger. Any error rolls the whole transaction back: the database is left as the
# migration's own transaction left it.

LEDGER = "tracegate_migrations"
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# VERBOSITY=verbose puts the SQLSTATE in every error line: which error it was, whatever the
# server's lc_messages (only a superuser may set that for a session).
PSQL_ARGS = ["--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--set", "VERBOSITY=verbose", "--single-transaction",
             "--file", "-"]
MARK = "bluegreen-migration-part:"
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
# libpq writes "<severity>:  <SQLSTATE>: <message>" (two spaces; the severity in the server's
# language), after psql's own "psql:<stdin>:<line>: " when it reads a script.
SQLSTATE = re.compile(r"\w+:  ([0-9A-Z]{5}): ")
# The pause before the n-th retry of a migration that timed out waiting for a lock: room for
# the sessions that queued behind its lock request to be served before it queues again.
LOCK_RETRY_PAUSES = (1, 2, 4, 8)


def _literal(text):
    return "'" + str(text).replace("'", "''") + "'"


def check_identifier(name, field):
    if not IDENTIFIER.match(name or ""):
        raise MigrationError(f"{field}: {name!r} is not a plain lower-case SQL name")
    return name


def ledger_query(table=LEDGER):
    """The SELECT that lists what the ledger holds (one id, tab, phase per line), or nothing
    when the ledger does not exist yet."""
    check_identifier(table, "ledger_table")
    return f"SELECT id || E'\\t' || phase FROM {table} ORDER BY id"


def ledger_exists_query(table=LEDGER):
    return f"SELECT to_regclass({_literal(check_identifier(table, 'ledger_table'))}) IS NOT NULL"


def parse_ledger(text):
    ledger = {}
    for line in text.splitlines():
        if line.strip():
            migration_id, _tab, phase = line.partition("\t")
            ledger[migration_id] = {"phase": phase}
    return ledger


def script(migration, sql, release, live_queries=None, table=LEDGER):
    """The psql script of one migration: marks (`\\echo`) name the part that was running
    when an error stopped it."""
    check_identifier(table, "ledger_table")
    lines = [
        f"\\echo {MARK}ledger",
        f"CREATE TABLE IF NOT EXISTS {table} (id text PRIMARY KEY, phase text NOT NULL, release text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now());",
        f"\\echo {MARK}migration",
        sql.rstrip().rstrip(";") + ";",
    ]
    if live_queries and live_queries.strip():
        lines += [f"\\echo {MARK}live-queries", "SAVEPOINT bluegreen_live_release;", live_queries.rstrip().rstrip(";") + ";",
                  "ROLLBACK TO SAVEPOINT bluegreen_live_release;"]
    lines += [f"\\echo {MARK}record",
              f"INSERT INTO {table} (id, phase, release) VALUES ({_literal(migration['id'])}, "
              f"{_literal(migration['phase'])}, {_literal(release)});",
              f"\\echo {MARK}done"]
    return "\n".join(lines) + "\n"


def sqlstate(stderr):
    """The SQLSTATE of the error psql reported (PSQL_ARGS asks for it), or None."""
    found = SQLSTATE.search(stderr)
    return found.group(1) if found else None


def failure(migration, stdout, stderr, lock_timeout, statement_timeout, tries=1):
    """Why psql stopped a migration's script, in words that say what to do."""
    parts = [line[len(MARK):] for line in stdout.splitlines() if line.startswith(MARK)]
    part = parts[-1] if parts else "connection"
    # The server's LOCATION lines (source file and function) say nothing to the user.
    error = " ".join(line.strip() for line in stderr.splitlines()
                     if line.strip() and not line.startswith("LOCATION:"))[:600] or "psql failed"
    code = sqlstate(stderr)
    if code == LOCK_NOT_AVAILABLE or (code is None and "lock timeout" in error):
        waits = f"on each of {tries} tries " if tries > 1 else ""
        why = (f"waited more than lock_timeout {lock_timeout} {waits}for a lock another session holds (a long "
               "transaction or a running migration); nothing was applied; run again when it is released")
    elif code == QUERY_CANCELED or (code is None and "statement timeout" in error):
        why = f"ran longer than statement_timeout {statement_timeout}; nothing was applied"
    elif part == "live-queries":
        why = "the live release's queries fail on the migrated schema, so the live color would break; nothing was applied"
    elif part == "connection":
        why = "psql could not run"
    else:
        why = f"failed in its {part} part; nothing was applied"
    return f"migration {migration['id']}: {why}: {error}"


def timeouts_env(lock_timeout, statement_timeout):
    """PGOPTIONS for every session of a run: how long a migration may wait for a lock and run."""
    for field, value in (("lock_timeout", lock_timeout), ("statement_timeout", statement_timeout)):
        if not re.match(r"^[0-9]+(ms|s|min|h)$", str(value)):
            raise MigrationError(f"{field}: {value!r} is not a duration like 5s, 500ms or 10min")
    return {"PGOPTIONS": f"-c lock_timeout={lock_timeout} -c statement_timeout={statement_timeout}"}


def apply(migrations, sources, ids, release, run_script, live_queries=None, table=LEDGER, lock_timeout="1s",
          statement_timeout="5min", lock_retries=0, pause=time.sleep):
    """Runs the migrations named in `ids` (from plan) in order, each by `run_script(text)`
    -> (rc, stdout, stderr); stops at the first that fails. `sources` maps a migration's
    file name to its SQL. A migration that timed out waiting for a lock (rolled back whole,
    so nothing of it stays) runs again up to `lock_retries` times, after
    `pause(LOCK_RETRY_PAUSES[n])`. Returns {"applied": [ids], "lock_retries": {id: retries
    it took}, "failed": None or {"id", "reason"}}."""
    by_id = {migration["id"]: migration for migration in migrations}
    applied, retried = [], {}
    for migration_id in ids:
        migration = by_id[migration_id]
        text = script(migration, sources[migration["file"]], release, live_queries, table)
        tries = 0
        while True:
            code, out, err = run_script(text)
            tries += 1
            if code == 0 and f"{MARK}done" in out:
                break
            if sqlstate(err) == LOCK_NOT_AVAILABLE and tries <= lock_retries:
                pause(LOCK_RETRY_PAUSES[min(tries, len(LOCK_RETRY_PAUSES)) - 1])
                continue
            return {"applied": applied, "lock_retries": retried,
                    "failed": {"id": migration_id,
                               "reason": failure(migration, out, err, lock_timeout, statement_timeout, tries)}}
        if tries > 1:
            retried[migration_id] = tries - 1
        applied.append(migration_id)
    return {"applied": applied, "lock_retries": retried, "failed": None}
