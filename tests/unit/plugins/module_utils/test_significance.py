"""The judges' statistics against SciPy and NumPy, the references they replace: the same
p-values for the same samples (small ones by the exact distribution, tied or large ones by
the normal approximation) and the same percentiles."""
import math

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ansible_collections.tracegate.bluegreen.plugins.module_utils import significance


def close(ours, reference):
    return math.isclose(ours, reference, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("table", [
    [[0, 0], [0, 0]], [[0, 10], [0, 10]], [[3, 0], [0, 3]], [[1, 99], [0, 100]], [[12, 88], [1, 99]],
    [[0, 100], [5, 95]], [[300, 99700], [180, 99820]], [[5, 20], [0, 0]], [[7, 3], [2, 8]],
])
def test_fisher_matches_scipy_on_chosen_tables(table):
    reference = stats.fisher_exact(table, alternative="greater").pvalue
    assert close(significance.fisher_exact_greater(table), reference), (table, reference)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=4, max_size=4))
def test_fisher_matches_scipy_on_any_table(counts):
    table = [counts[:2], counts[2:]]
    assert close(significance.fisher_exact_greater(table), stats.fisher_exact(table, alternative="greater").pvalue)


def test_fisher_refuses_a_negative_count():
    with pytest.raises(ValueError, match="holds counts"):
        significance.fisher_exact_greater([[1, -1], [2, 3]])


@pytest.mark.parametrize("x, y", [
    ([5.0, 6.0, 7.0], [1.0, 2.0, 3.0, 4.0]),                    # small, no ties: exact
    ([1.0, 2.0], [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]),
    ([4.0] * 8, [1.0, 2.0, 3.0]),                               # ties: approximation
    ([2.0] * 20, [2.0] * 30),                                   # all equal: no spread
    (list(range(30, 60)), list(range(0, 40))),                  # large, overlapping
    ([3.1, 3.3, 2.9, 4.0, 3.2, 3.5, 3.0, 2.8, 3.4], [3.0, 3.2, 2.7, 3.1, 2.9, 3.3, 3.6, 2.6, 3.05]),
])
def test_mann_whitney_matches_scipy_on_chosen_samples(x, y):
    reference = stats.mannwhitneyu(x, y, alternative="greater").pvalue
    assert close(significance.mann_whitney_greater(x, y), reference), (x, y, reference)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=14), st.lists(st.integers(0, 60), min_size=1, max_size=40),
       st.sampled_from([1.0, 0.37]))
def test_mann_whitney_matches_scipy_on_any_samples(x, y, scale):
    # Integers scaled: ties happen often, and values are not all whole numbers.
    x, y = [v * scale for v in x], [v * scale for v in y]
    assert close(significance.mann_whitney_greater(x, y), stats.mannwhitneyu(x, y, alternative="greater").pvalue)


def test_mann_whitney_needs_two_samples():
    with pytest.raises(ValueError, match="not empty"):
        significance.mann_whitney_greater([], [1.0])


def test_the_exact_distribution_counts_every_ordering():
    for m, n in [(1, 1), (3, 5), (8, 8), (2, 30)]:
        counts = significance._u_counts(m, n)  # pylint: disable=protected-access
        assert sum(counts) == math.comb(m + n, m) and counts == counts[::-1] and min(counts) > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=60), st.sampled_from([0, 5, 50, 90, 95, 99, 100]))
def test_percentile_matches_numpy(values, q):
    assert math.isclose(significance.percentile(values, q), float(numpy.percentile(values, q)), rel_tol=1e-12, abs_tol=1e-9)
    assert significance.percentile([], q) is None
