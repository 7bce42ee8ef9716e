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
