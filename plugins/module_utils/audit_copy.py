# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The copy of a run's audit log on an audit host: append-only.

The controller sends its whole log; the copy takes the lines it does not have yet. A copy
that is not a prefix of the controller's log (a line differs, or it holds more) means one
of the two was altered: that is reported, never repaired, and nothing is appended, so the
copy keeps the evidence. Lines to append must continue the hash chain (each record's `prev`
is the SHA-256 of the line before it), so lines split or altered on the way are refused
before anything is written, and the copy is read back after writing. Only the standard
library is needed on the audit host.
"""

from __future__ import annotations

import hashlib
import json
import os

GENESIS = "0" * 64


class CopyRefused(Exception):
    pass


class CopyDiverged(CopyRefused):
    pass


def split_log(text):
    """The lines of a log, split at line feeds only: RFC 8785 writes U+2028, U+2029 and U+0085
    as they are inside strings, and str.splitlines() would break a record at each."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def read_copy(path):
    try:
        with open(path, "rb") as handle:
            return split_log(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return []


def first_difference(copy, lines):
    """Index of the first line where the copy is not a prefix of `lines`, or None."""
    for number, line in enumerate(copy):
        if number >= len(lines) or line != lines[number]:
            return number
    return None


def first_unchained(lines, start):
    """Index of the first of lines[start:] that is not a JSON record whose `prev` is the
    SHA-256 of the line before it (64 zeros for the first line), or None."""
    for number in range(start, len(lines)):
        expected = hashlib.sha256(lines[number - 1].encode("utf-8")).hexdigest() if number else GENESIS
        try:
            record = json.loads(lines[number])
        except (ValueError, RecursionError):
            return number
        if not isinstance(record, dict) or record.get("prev") != expected:
            return number
    return None


def plan_append(path, lines):
    """(lines held, lines to append); raises CopyDiverged naming the first differing record,
    CopyRefused naming the first line to append that does not continue the chain."""
    copy = read_copy(path)
    differs = first_difference(copy, lines)
    if differs is not None:
        if differs >= len(lines):
            raise CopyDiverged(f"{path} holds {len(copy)} records, more than the controller's {len(lines)}: "
                               "the controller's log lost records, or the copy was written by someone else")
        raise CopyDiverged(f"{path} differs from the controller's log at record {differs} (seq {differs}): "
                           "one of them was altered; the copy is left as it is")
    unchained = first_unchained(lines, len(copy))
    if unchained is not None:
        raise CopyRefused(f"line {unchained} of the controller's log is not a record that follows line {unchained - 1} "
                          "(its prev is not that line's SHA-256): the log was split at something other than "
                          "line feeds, or altered; nothing is appended")
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


def check_copy(path, lines):
    """Reads the copy back; it must hold exactly `lines`, or CopyRefused names where not."""
    copy = read_copy(path)
    if copy != lines:
        differs = first_difference(copy, lines)
        where = f"record {differs}" if differs is not None else f"its end (it holds {len(copy)} of {len(lines)} records)"
        raise CopyRefused(f"{path} does not read back as the controller's log at {where} after appending")
