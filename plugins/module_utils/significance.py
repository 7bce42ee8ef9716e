# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The judges' statistics in the standard library: Fisher's exact test and the Mann-Whitney U
test, both one-sided ("the new color is worse"), and the percentile of a sample. They give
the p-values SciPy's `fisher_exact` and `mannwhitneyu` give with their defaults (exact
distribution for small samples without ties, else the normal approximation with tie and
continuity correction) and NumPy's default (linear) percentile; tests/unit checks them
against both. Importing SciPy took 1.7 s of CPU on the lab's controller, paid by every gate
module run (a cutover runs about ten), and put NumPy and SciPy into every execution
environment."""

from __future__ import annotations

import math


def _log_comb(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_greater(table):
    """One-sided p-value of Fisher's exact test on the 2x2 `table` [[a, b], [c, d]]: the
    probability, with the margins fixed, of a top-left count of `a` or more."""
    (a, b), (c, d) = table
    if min(a, b, c, d) < 0:
        raise ValueError(f"a contingency table holds counts, got {table}")
    if 0 in (a + b, c + d, a + c, b + d):
        return 1.0
    row, total, column = a + b, a + b + c + d, a + c
    whole = _log_comb(total, column)
    # Log space: the counts of a gate reach the hundred thousands, their binomials overflow floats.
    terms = [_log_comb(row, k) + _log_comb(total - row, column - k) - whole for k in range(a, min(row, column) + 1)]
    peak = max(terms)
    return min(1.0, math.exp(peak) * math.fsum(math.exp(term - peak) for term in terms))


def _ranks(values):
    """Average ranks (1-based, ties sharing the mean of their places) and the sizes of the ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


def _u_counts(m, n):
    """How many of the C(m+n, m) orderings of two samples (sizes m, n) give each U from 0 to
    m*n: the coefficients of the Gaussian binomial coefficient [m+n choose m]."""
    counts = [1] + [0] * (m * n)
    for i in range(1, m + 1):
        # Times (1 - q^(n+i)), then divided by (1 - q^i); both exact in integers.
        for u in range(m * n, n + i - 1, -1):
            counts[u] -= counts[u - n - i]
        for u in range(i, m * n + 1):
            counts[u] += counts[u - i]
    return counts


def mann_whitney_greater(x, y):
    """One-sided p-value of the Mann-Whitney U test that `x` tends to be larger than `y`."""
    n1, n2 = len(x), len(y)
    if not n1 or not n2:
        raise ValueError("the Mann-Whitney test needs two samples that are not empty")
    ranks, ties = _ranks(list(x) + list(y))
    u = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    if (n1 > 8 and n2 > 8) or max(ties) > 1:
        n = n1 + n2
        spread = math.sqrt(n1 * n2 / 12 * ((n + 1) - sum(t ** 3 - t for t in ties) / (n * (n - 1))))
        if spread == 0:
            return 1.0
        # The continuity correction moves U half a step towards the mean.
        z = (u - n1 * n2 / 2 - 0.5) / spread
        return min(1.0, max(0.0, 0.5 * math.erfc(z / math.sqrt(2))))
    counts = _u_counts(min(n1, n2), max(n1, n2))
    return min(1.0, sum(counts[round(u):]) / math.comb(n1 + n2, n1))


def percentile(values, q):
    """The `q`th percentile (0-100) of `values`, interpolated linearly between the two
    nearest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
