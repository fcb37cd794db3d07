"""Choose N of M motion points: top-N by rank key, uniform random, or farthest point sampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

SampleMethod = Literal["sort", "random", "fps"]
SAMPLE_METHODS: tuple[SampleMethod, ...] = get_args(SampleMethod)

# Below this ratio M / N a full sort is as fast as partitioning first.
_PARTITION_RATIO = 4


def as_sample_method(name: str) -> SampleMethod:
    """``name`` as a SampleMethod; ValueError naming the methods if it is none (a checked
    config's ``sampling`` always is one)."""
    for method in SAMPLE_METHODS:
        if method == name:
            return method
    raise ValueError(f"unknown sampling {name!r}; expected one of {SAMPLE_METHODS}")


@dataclass(frozen=True, eq=False)
class SampleResult:
    """Chosen rows: ``indices`` (n,) int64 into the M candidates; the last ``padded`` repeat earlier ones."""

    indices: np.ndarray
    padded: int


def top_n(keys: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest keys, largest first, ties by lower index: ``(M,) -> (min(n, M),) int64``."""
    keys = np.asarray(keys, dtype=np.float64).reshape(-1)
    n = min(int(n), keys.size)
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    candidates = np.arange(keys.size)
    if keys.size > _PARTITION_RATIO * n:
        # Everything at least as large as the n-th largest key, ties included,
        # so the exact tie rule below still sees every tied index.
        threshold = keys[np.argpartition(keys, keys.size - n)[keys.size - n]]
        candidates = np.flatnonzero(keys >= threshold)
    # Candidates are in ascending index order; a stable sort keeps it among ties.
    order = np.argsort(-keys[candidates], kind="stable")[:n]
    return candidates[order].astype(np.int64)


def farthest_point_sampling(points: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Farthest point sampling: ``(M, 3), n -> (min(n, M),) int64`` beginning at ``start``.

    Each step takes the point farthest (squared Euclidean) from those chosen,
    the lowest index among ties. O(n · M) time, O(M) memory.
    """
    points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    count = min(int(n), len(points))
    chosen = np.empty(max(count, 0), dtype=np.int64)
    if count <= 0:
        return chosen
    columns = [np.ascontiguousarray(points[:, axis]) for axis in range(points.shape[1])]
    nearest = np.full(len(points), np.inf)
    current = int(start)
    for step in range(count):
        chosen[step] = current
        distance = np.zeros(len(points))
        for column in columns:
            difference = column - column[current]
            distance += difference * difference
        np.minimum(nearest, distance, out=nearest)
        current = int(np.argmax(nearest))
    return chosen


def sample_indices(
    keys: np.ndarray,
    n: int,
    method: SampleMethod = "sort",
    seed: int = 0,
    points: np.ndarray | None = None,
) -> SampleResult:
    """Choose n of M candidates: ``keys (M,), n -> SampleResult`` (indices (n,) int64).

    ``sort``: top-n by key, descending, ties by lower index (keys must be
    finite). ``random``: uniform without replacement, ``seed``-ed. ``fps``:
    farthest point sampling on ``points`` (M, 3) from a ``seed``-ed start.
    With M < n all candidates are taken and n − M of them repeated (chosen
    with the seeded generator); ``padded`` says how many.
    """
    if method not in SAMPLE_METHODS:
        raise ValueError(f"sampling must be one of {SAMPLE_METHODS}, got {method!r}")
    keys = np.asarray(keys, dtype=np.float64).reshape(-1)
    total = keys.size
    if n < 1:
        raise ValueError(f"number of points must be positive, got {n}")
    if total == 0:
        raise ValueError("no candidate points to sample from")
    rng = np.random.default_rng(seed)
    if method == "sort":
        if not np.isfinite(keys).all():
            raise ValueError("sort keys must be finite")
        chosen = top_n(keys, n)
    elif method == "random":
        chosen = rng.choice(total, size=min(n, total), replace=False).astype(np.int64)
    else:
        if points is None or len(points) != total:
            raise ValueError("fps needs points with one row per key")
        chosen = farthest_point_sampling(points, n, start=int(rng.integers(total)))
    padded = n - chosen.size
    if padded > 0:
        chosen = np.concatenate([chosen, rng.choice(total, size=padded, replace=True)])
    return SampleResult(indices=chosen.astype(np.int64), padded=int(padded))
