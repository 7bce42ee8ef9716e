# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Values both load-balancer modules read from a task's arguments, read the same way."""

from __future__ import annotations

import math
import re

MAX_WEIGHT = 256
# Longer than any timeout or drain a cutover waits for, and short enough for every clock
# and socket call to take.
MAX_SECONDS = 86400


def weights(field, values, error):
    """{key: weight} of the mapping `values`, each from 0 to MAX_WEIGHT: an int, or a string
    of ASCII digits as `-e` and templating give it (digits of other scripts, '٣' or '²', are
    refused although str.isdigit() calls them digits); otherwise `error` naming `field` and
    the key."""
    checked = {}
    for key, value in (values or {}).items():
        number = value
        if isinstance(value, str) and re.fullmatch(r"[0-9]{1,10}", value.strip(" \t")):
            number = int(value.strip(" \t"))
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= MAX_WEIGHT:
            raise error(f"{field}: the weight of {shown(key)} must be a whole number from 0 to {MAX_WEIGHT} "
                        f"in ASCII digits, got {shown(value)}")
        checked[key] = number
    return checked


def seconds(field, value, error, allow_zero=False):
    """`value` as a finite number of seconds above 0 (or from 0, with `allow_zero`) up to
    MAX_SECONDS; otherwise `error` naming `field`."""
    if (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and (0 < value or allow_zero and value == 0) and value <= MAX_SECONDS):
        return float(value)
    wanted = f"from 0 to {MAX_SECONDS}" if allow_zero else f"above 0 and at most {MAX_SECONDS}"
    raise error(f"{field} must be a number of seconds {wanted}, got {shown(value)}")


def shown(value, limit=60):
    """A value of the caller's for a message: quoted, escaped, and never huge."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
