"""Fast point-cloud ops against the naive reference (yanx27's PointNet++ utilities, DGCNN's knn)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mer_viewer.core.ml import ops

from . import naive_pointnet2 as naive


def cloud(batch, count, seed, dims=3, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, count, dims, generator=generator, dtype=dtype) * 2 - 1)


def naive_knn(x, k):
    """DGCNN's knn (WangYueFt/dgcnn), channels-first as there: full N × N table, top-k largest."""
    x = x.transpose(1, 2)
    inner = -2 * torch.matmul(x.transpose(2, 1), x)
    xx = torch.sum(x ** 2, dim=1, keepdim=True)
    pairwise_distance = -xx - inner - xx.transpose(2, 1)
    return pairwise_distance.topk(k=k, dim=-1)[1]


# --- farthest point sampling -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(3))
def test_fps_matches_reference_from_the_same_start(seed, dtype):
    xyz = cloud(4, 700, seed, dtype=dtype)
    start = torch.randint(700, (4,), generator=torch.Generator().manual_seed(seed))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # the reference allocates its distances in the default dtype
    try:
        expected = naive.farthest_point_sample(xyz, 256, start)
    finally:
        torch.set_default_dtype(previous)
    assert torch.equal(ops.farthest_point_sample(xyz, 256, start=start), expected)


def test_fps_on_a_grid_breaks_ties_like_the_reference():
    # Many exactly equal distances: the lowest index must win, as in torch.max.
    axis = torch.arange(8, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(1, -1, 3)
    grid = grid.repeat(2, 1, 1)
    start = torch.tensor([0, 100])
    expected = naive.farthest_point_sample(grid, 100, start)
    assert torch.equal(ops.farthest_point_sample(grid, 100, start=start), expected)


def test_fps_picks_distinct_points_then_repeats_when_asked_for_more_than_n():
    xyz = cloud(2, 50, 1)
    idx = ops.farthest_point_sample(xyz, 80)
    assert idx.shape == (2, 80) and idx.dtype == torch.long
    for row in idx:
        assert len(set(row[:50].tolist())) == 50
    assert torch.equal(idx, naive.farthest_point_sample(xyz, 80, torch.zeros(2, dtype=torch.long)))


def test_fps_start_defaults_to_zero_and_random_start_follows_the_generator():
    xyz = cloud(3, 300, 2)
    assert torch.equal(ops.farthest_point_sample(xyz, 10)[:, 0], torch.zeros(3, dtype=torch.long))
    first = ops.farthest_point_sample(xyz, 10, generator=torch.Generator().manual_seed(7))
    again = ops.farthest_point_sample(xyz, 10, generator=torch.Generator().manual_seed(7))
    other = ops.farthest_point_sample(xyz, 10, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_fps_picks_the_farthest_point_each_step():
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0.1, 0, 0], [0, 3, 0], [0, 0, -2]]])
    assert ops.farthest_point_sample(xyz, 4).tolist() == [[0, 3, 4, 1]]


# --- ball query ---------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 3), count=st.integers(1, 300), centres=st.integers(1, 80),
       nsample=st.integers(1, 40), radius=st.floats(0.05, 1.5), seed=st.integers(0, 2**31 - 1),
       chunk_pairs=st.sampled_from([1, 97, 5000, ops.CHUNK_PAIRS]))
def test_ball_query_matches_the_sorting_reference(batch, count, centres, nsample, radius, seed,
                                                  chunk_pairs):
    nsample = min(nsample, count)  # the reference cannot take more than N
    xyz = cloud(batch, count, seed)
    # Centres are cloud points (as FPS gives), so each has at least itself in range.
    pick = torch.randint(count, (batch, centres), generator=torch.Generator().manual_seed(seed))
    new_xyz = ops.index_points(xyz, pick)
    expected = naive.query_ball_point(radius, nsample, xyz, new_xyz)
    got = ops.ball_query(radius, nsample, xyz, new_xyz, chunk_pairs=chunk_pairs)
    assert torch.equal(got, expected)


def test_ball_query_covers_padding_and_truncation_at_model_size():
    xyz = cloud(2, 2048, 3) / 2  # dense: about 70 points per ball inside, 9 in a corner
    centres = ops.index_points(xyz, ops.farthest_point_sample(xyz, 512))
    expected = naive.query_ball_point(0.2, 32, xyz, centres)
    got = ops.ball_query(0.2, 32, xyz, centres, chunk_pairs=100_000)
    found = (naive.square_distance(centres, xyz) <= 0.2 ** 2).sum(-1)
    assert (found < 32).any() and (found > 32).any()  # both code paths are exercised
    assert torch.equal(got, expected)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_neighbours_are_found_in_full_precision_under_autocast(dtype):
    """Inside a low-precision autocast region (bf16 training) ball query and kNN pick the
    same neighbours as in float32: a bf16 distance would move points across the radius."""
    xyz = cloud(2, 2048, 3) / 2
    centres = ops.index_points(xyz, ops.farthest_point_sample(xyz, 256))
    expected_ball = ops.ball_query(0.2, 32, xyz, centres)
    expected_knn = ops.knn(xyz, 8, centres)
    with torch.autocast("cpu", dtype=dtype):
        assert torch.equal(ops.ball_query(0.2, 32, xyz, centres), expected_ball)
        assert torch.equal(ops.knn(xyz, 8, centres), expected_knn)
        assert torch.equal(ops.knn(xyz.to(dtype), 8, centres.to(dtype)),
                           ops.knn(xyz.to(dtype).float(), 8, centres.to(dtype).float()))
        assert ops.square_distance(centres, xyz).dtype == torch.float32


def test_ball_query_pads_beyond_n_points():
    xyz = torch.tensor([[[0.0, 0, 0], [0.1, 0, 0]]])
    assert ops.ball_query(0.5, 4, xyz, xyz).tolist() == [[[0, 1, 0, 0], [0, 1, 0, 0]]]


def test_ball_query_without_points_in_range_uses_the_nearest_point():
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0.05, 0, 0]]])
    centres = torch.tensor([[[0.9, 0, 0], [5, 5, 5], [0.0, 0, 0]]])
    idx = ops.ball_query(0.2, 3, xyz, centres)
    assert idx.tolist() == [[[1, 1, 1], [1, 1, 1], [0, 2, 0]]]


# --- kNN and gathering --------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 3), count=st.integers(2, 300), dims=st.sampled_from([3, 6, 64]),
       k=st.integers(1, 20), seed=st.integers(0, 2**31 - 1),
       chunk_pairs=st.sampled_from([1, 333, ops.CHUNK_PAIRS]))
def test_knn_matches_a_full_topk(batch, count, dims, k, seed, chunk_pairs):
    k = min(k, count)
    x = cloud(batch, count, seed, dims=dims)
    got = ops.knn(x, k, chunk_pairs=chunk_pairs)
    expected = naive_knn(x, k)
    # Chunks of other shapes may round a distance differently in its last bit, so two
    # nearly equidistant points can swap: the neighbours must be at the same distances.
    exact = torch.cdist(x.double(), x.double()).square()
    torch.testing.assert_close(exact.gather(-1, got), exact.gather(-1, expected),
                               rtol=1e-5, atol=1e-6)
    assert (got.sort(-1).values.diff(dim=-1) > 0).all()  # k distinct neighbours
    assert (got != expected).float().mean() < 0.05  # swaps are rare near-ties only


def test_knn_of_separate_queries_is_nearest_first():
    x = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [3, 0, 0], [6, 0, 0]]])
    queries = torch.tensor([[[2.9, 0, 0], [0.4, 0, 0]]])
    assert ops.knn(x, 3, queries).tolist() == [[[2, 1, 0], [0, 1, 2]]]


def test_index_points_matches_reference_and_passes_gradients():
    points = cloud(3, 40, 4, dims=5).requires_grad_()
    idx = torch.randint(40, (3, 7, 6), generator=torch.Generator().manual_seed(4))
    got = ops.index_points(points, idx)
    assert torch.equal(got, naive.index_points(points, idx))
    got.sum().backward()
    counts = torch.zeros(3, 40).scatter_add_(1, idx.reshape(3, -1), torch.ones(3, 42))
    assert torch.equal(points.grad, counts.unsqueeze(-1).expand(-1, -1, 5))
