#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: db_migration
short_description: Run a release's expand or contract migrations on PostgreSQL under expand/contract
version_added: 0.1.0
description:
  - Reads the release's migrations (C(migrations/<NNNN>_<name>.<expand|contract>.sql) in
    its artifact, without unpacking it) and the database's ledger (O(ledger_table)), and
    runs, in order, those of O(phase) that may run now; each in one transaction of its own
    through C(psql), with its line in the ledger in the same transaction, so that a
    migration is never applied twice and one that failed is not marked.
  - With O(live_queries) (the live release's own queries, its C(migrations/queries.sql)),
    each expand migration's transaction runs them after the migration in a savepoint that
    is rolled back; a migration that would break the live color (say, drops a column it
    reads) is rolled back whole and the task fails naming the query's error.
  - A contract migration runs only once a release that carries it has been live for the
    rollback window (O(live_release_ids), O(live_since), O(rollback_window)); until then it
    is returned in RV(waiting) with the time it may run, and nothing fails.
  - Every session waits at most O(lock_timeout) for a lock and runs at most
    O(statement_timeout); either ends the migration rolled back with a message that says so.
    A migration that timed out waiting for a lock runs again, up to O(lock_retries) times,
    after pauses of 1, 2, 4 and then 8 seconds. While a migration waits for its lock (most
    schema changes need an exclusive one), every later query on that table queues behind it,
    the live release's too; a short O(lock_timeout) with retries keeps the live color's
    queries from stalling longer than that, where one long wait would stall them all.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Reads the ledger and returns what would run; runs nothing.
  diff_mode:
    support: none
    description: RV(planned) lists what would run.
  idempotent:
    support: full
    description: What the ledger holds is not run again.
options:
  release_artifact:
    description: The release's C(.tar.gz), on the host the module runs on.
    type: path
    required: true
  release:
    description: The release's version, recorded in the ledger with each migration.
    type: str
    required: true
  phase:
    description: Which migrations to run.
    type: str
    required: true
    choices: [expand, contract]
  conninfo:
    description: The libpq connection string or URI of the database (for example C(host=db port=5432 dbname=shop user=migrator)).
    type: str
    required: true
  password:
    description: The password, if the connection needs one (passed to psql in its environment, never on its command line).
    type: str
  live_queries:
    description: The live release's queries (SQL), checked inside each expand migration's transaction.
    type: str
  live_release_ids:
    description: The migration ids the live release carries (for contract migrations).
    type: list
    elements: str
    default: []
  release_is_live:
    description: The release is the live one (since O(live_since)); its own migrations are the live release's.
    type: bool
    default: false
  live_since:
    description: When the live release went live, epoch seconds (for contract migrations).
    type: float
  rollback_window:
    description: Seconds a release stays live before what only the previous release used may be removed.
    type: float
    default: 86400
  ledger_table:
    description: The table that records the applied migrations (created by the first migration).
    type: str
    default: tracegate_migrations
  lock_timeout:
    description:
      - How long a migration may wait for a lock (PostgreSQL duration), on each try.
      - Keep it well under the live release's own query timeouts, which its queries queued
        behind the migration's lock request count against.
    type: str
    default: 1s
  lock_retries:
    description: How many times a migration that timed out waiting for a lock runs again (rolled back whole each time, nothing of it stays).
    type: int
    default: 4
  statement_timeout:
    description: How long one statement may run (PostgreSQL duration).
    type: str
    default: 5min
  psql:
    description: The psql program.
    type: path
    default: psql
requirements:
  - psql (PostgreSQL's client) on the host the module runs on
seealso:
  - module: tracegate.bluegreen.app_release
"""

EXAMPLES = r"""
- name: Run the release's expand migrations, checked against the live release's queries
  tracegate.bluegreen.db_migration:
    release_artifact: /srv/releases/shop-2.4.1.tar.gz
    release: 2.4.1
    phase: expand
    conninfo: "host=db.internal dbname=shop user=shop_migrator"
    password: "{{ vault_shop_migrator_password }}"
    live_queries: "{{ live_queries.content | b64decode }}"
  delegate_to: localhost
  register: migration
"""

RETURN = r"""
applied:
  description: The migrations this task applied, in order.
  type: list
  elements: str
  returned: always
planned:
  description: The migrations of O(phase) that may run now (in check mode, what would run).
  type: list
  elements: str
  returned: success
waiting:
  description: Contract migrations that may not run yet, each with C(until) (epoch seconds, when known), C(reason) and C(says) (a line for people).
  type: list
  elements: dict
  returned: success
already_applied:
  description: The release's migrations the ledger already holds.
  type: list
  elements: str
  returned: success
lock_retries:
  description: The applied migrations that had to run again after a lock timeout, each with how many times.
  type: dict
  returned: success
  sample: {"0002_add_note.expand": 1}
failed_migration:
  description: The migration that failed and was rolled back (the task fails, the reason in C(msg)).
  type: str
  returned: failure
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import app_release, migrations


def main():
    module = AnsibleModule(
        argument_spec={
            "release_artifact": {"type": "path", "required": True},
            "release": {"type": "str", "required": True},
            "phase": {"type": "str", "required": True, "choices": ["expand", "contract"]},
            "conninfo": {"type": "str", "required": True},
            "password": {"type": "str", "no_log": True},
            "live_queries": {"type": "str"},
            "live_release_ids": {"type": "list", "elements": "str", "default": []},
            "release_is_live": {"type": "bool", "default": False},
            "live_since": {"type": "float"},
            "rollback_window": {"type": "float", "default": 86400.0},
            "ledger_table": {"type": "str", "default": migrations.LEDGER},
            "lock_timeout": {"type": "str", "default": "1s"},
            "lock_retries": {"type": "int", "default": 4},
            "statement_timeout": {"type": "str", "default": "5min"},
            "psql": {"type": "path", "default": "psql"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["lock_retries"] < 0:
            raise migrations.MigrationError(f"lock_retries: {p['lock_retries']} is negative")
        env = migrations.timeouts_env(p["lock_timeout"], p["statement_timeout"])
        table = migrations.check_identifier(p["ledger_table"], "ledger_table")
        sources, _queries = app_release.migrations_in(p["release_artifact"])
        listed = migrations.read_names(sources)
    except (migrations.MigrationError, app_release.ReleaseError) as exc:
        module.fail_json(msg=str(exc), applied=[])
    if p["password"]:
        env["PGPASSWORD"] = p["password"]
    psql = [p["psql"], "--dbname", p["conninfo"]]

    def query(sql):
        code, out, err = module.run_command(psql + ["--no-psqlrc", "--tuples-only", "--no-align", "--command", sql],
                                            environ_update=env)
        if code != 0:
            module.fail_json(msg=f"reading the ledger {table}: {err.strip()[:600] or 'psql failed'}", applied=[])
        return out

    ledger = {}
    if query(migrations.ledger_exists_query(table)).strip() == "t":
        ledger = migrations.parse_ledger(query(migrations.ledger_query(table)))
    live_ids = p["live_release_ids"] + ([m["id"] for m in listed] if p["release_is_live"] else [])
    plan = migrations.plan(listed, ledger, time.time(), live_ids, p["live_since"], p["rollback_window"])
    planned = plan[p["phase"]]
    for waiting in plan["waiting"]:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(waiting["until"])) if waiting["until"] else None
        waiting["says"] = f"{waiting['id']} waits{' until ' + when if when else ''}: {waiting['reason']}"
    result = {"planned": planned, "waiting": plan["waiting"], "already_applied": plan["applied"]}
    if module.check_mode or not planned:
        module.exit_json(changed=bool(planned) and module.check_mode, applied=[], **result)

    def run_script(text):
        return module.run_command(psql + migrations.PSQL_ARGS, data=text, binary_data=True, environ_update=env)

    outcome = migrations.apply(listed, sources, planned, p["release"], run_script, p["live_queries"], table,
                               p["lock_timeout"], p["statement_timeout"], p["lock_retries"])
    if outcome["failed"]:
        module.fail_json(msg=outcome["failed"]["reason"], applied=outcome["applied"], changed=bool(outcome["applied"]),
                         failed_migration=outcome["failed"]["id"], lock_retries=outcome["lock_retries"], **result)
    module.exit_json(changed=True, applied=outcome["applied"], lock_retries=outcome["lock_retries"], **result)


if __name__ == "__main__":
    main()
