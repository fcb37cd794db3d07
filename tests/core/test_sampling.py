"""Sampling against naive references: sorted() with the tie rule, and a plain FPS loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mer_viewer.core.sampling import (
    SAMPLE_METHODS,
    farthest_point_sampling,
    sample_indices,
    top_n,
)


def naive_top_n(keys, n):
    return sorted(range(len(keys)), key=lambda i: (-keys[i], i))[:n]


def naive_fps(points, n, start):
    """O(n · M · n) reference: the point whose nearest chosen point is farthest; lowest index on ties."""
    points = [tuple(float(c) for c in p) for p in points]
    chosen = [start]
    while len(chosen) < min(n, len(points)):
        best, best_distance = None, -1.0
        for i, p in enumerate(points):
            nearest = min(
                (p[0] - points[j][0]) * (p[0] - points[j][0])
                + (p[1] - points[j][1]) * (p[1] - points[j][1])
                + (p[2] - points[j][2]) * (p[2] - points[j][2])
                for j in chosen
            )
            if nearest > best_distance:
                best, best_distance = i, nearest
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("m, n", [(5000, 64), (300, 200), (50, 50)])
def test_sort_matches_sorted_with_tie_rule(m, n):
    keys = np.random.default_rng(m).integers(0, 40, m) / 8.0  # many ties
    result = sample_indices(keys, n, "sort")
    assert result.padded == 0 and result.indices.dtype == np.int64
    assert result.indices.tolist() == naive_top_n(keys.tolist(), n)


@settings(max_examples=80, deadline=None)
@given(
    keys=st.lists(st.integers(-3, 3).map(float), min_size=1, max_size=120),
    n=st.integers(1, 40),
)
def test_top_n_property(keys, n):
    assert top_n(np.array(keys), n).tolist() == naive_top_n(keys, n)


def test_random_is_seeded_and_without_replacement():
    keys = np.zeros(1000)
    first = sample_indices(keys, 300, "random", seed=3).indices
    np.testing.assert_array_equal(first, sample_indices(keys, 300, "random", seed=3).indices)
    assert not np.array_equal(first, sample_indices(keys, 300, "random", seed=4).indices)
    assert len(set(first.tolist())) == 300 and first.min() >= 0 and first.max() < 1000


@pytest.mark.parametrize("start", [0, 17, 199])
def test_fps_matches_naive_loop(start):
    points = np.random.default_rng(start).normal(size=(200, 3))
    expected = naive_fps(points, 40, start)
    assert farthest_point_sampling(points, 40, start).tolist() == expected


def test_fps_ties_take_the_lowest_index():
    grid = np.stack(np.meshgrid(*[np.arange(4.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    assert farthest_point_sampling(grid, 20, start=5).tolist() == naive_fps(grid, 20, 5)


def test_fps_through_sample_indices_is_seeded():
    points = np.random.default_rng(9).uniform(size=(150, 3))
    keys = np.zeros(150)
    result = sample_indices(keys, 30, "fps", seed=2, points=points)
    again = sample_indices(keys, 30, "fps", seed=2, points=points)
    np.testing.assert_array_equal(result.indices, again.indices)
    assert result.indices.tolist() == naive_fps(points, 30, int(result.indices[0]))


@pytest.mark.parametrize("method", SAMPLE_METHODS)
def test_too_few_candidates_are_padded_and_reported(method):
    keys = np.array([0.5, 2.0, 1.0, 3.0, 0.1])
    points = np.random.default_rng(0).normal(size=(5, 3))
    result = sample_indices(keys, 12, method, seed=1, points=points)
    assert result.padded == 7 and result.indices.shape == (12,)
    assert sorted(result.indices[:5].tolist()) == [0, 1, 2, 3, 4]
    assert set(result.indices[5:].tolist()) <= {0, 1, 2, 3, 4}
    if method == "sort":
        assert result.indices[:5].tolist() == [3, 1, 2, 0, 4]
    again = sample_indices(keys, 12, method, seed=1, points=points)
    np.testing.assert_array_equal(result.indices, again.indices)
    other = sample_indices(keys, 12, method, seed=2, points=points)
    assert len(set(result.indices[5:].tolist())) > 1
    assert not np.array_equal(result.indices[5:], other.indices[5:])


def test_bad_requests_are_rejected():
    with pytest.raises(ValueError, match="sampling"):
        sample_indices(np.ones(3), 2, "best")
    with pytest.raises(ValueError, match="no candidate"):
        sample_indices(np.ones(0), 2, "sort")
    with pytest.raises(ValueError, match="fps"):
        sample_indices(np.ones(3), 2, "fps")
    with pytest.raises(ValueError, match="finite"):
        sample_indices(np.array([1.0, np.nan]), 1, "sort")
