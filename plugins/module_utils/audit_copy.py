# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The copy of a run's audit log on an audit host: append-only.

The controller sends its whole log; the copy takes the lines it does not have yet. A copy
that is not a prefix of the controller's log (a line differs, or it holds more) means one
of the two was altered: that is reported, never repaired, and nothing is appended, so the
copy keeps the evidence. Only the standard library is needed on the audit host.
"""

from __future__ import annotations

import os


class CopyDiverged(Exception):
    pass


def read_copy(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8").splitlines()
    except FileNotFoundError:
        return []


def first_difference(copy, lines):
    """Index of the first line where the copy is not a prefix of `lines`, or None."""
    for number, line in enumerate(copy):
        if number >= len(lines) or line != lines[number]:
            return number
    return None


def plan_append(path, lines):
    """(lines held, lines to append); raises CopyDiverged naming the first differing record."""
    copy = read_copy(path)
    differs = first_difference(copy, lines)
    if differs is not None:
        if differs >= len(lines):
            raise CopyDiverged(f"{path} holds {len(copy)} records, more than the controller's {len(lines)}: "
                               "the controller's log lost records, or the copy was written by someone else")
        raise CopyDiverged(f"{path} differs from the controller's log at record {differs} (seq {differs}): "
                           "one of them was altered; the copy is left as it is")
    return len(copy), lines[len(copy):]


def append_lines(path, new_lines, mode=0o640):
    """Appends (O_APPEND, fsynced) to the copy, creating it and its directory when missing."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o750, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    with os.fdopen(descriptor, "ab") as handle:
        handle.write("".join(line + "\n" for line in new_lines).encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
