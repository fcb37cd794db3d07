"""Motion features on analytic surfaces whose true motion is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mer_viewer.core.face import Box
from mer_viewer.core.geometry import Intrinsics, backproject
from mer_viewer.core.motion import (
    MotionParams,
    compute_motion,
    face_filter,
    kabsch,
    motion_vectors,
    normalise,
    reference_amplitude,
    spherical,
    spike_filter,
)
from mer_viewer.core.pipeline import MotionCloud
from mer_viewer.core.sampling import sample_indices

MM = 1e-3
KEEP_ALL = 100.0  # face_filter_k that keeps every point of a compact surface


def tilted_plane(n=60):
    """(n*n, 3) points of z = 0.65 + 0.2 x + 0.1 y over a 16 cm square."""
    x, y = np.meshgrid(np.linspace(-0.08, 0.08, n), np.linspace(-0.08, 0.08, n))
    return np.stack([x, y, 0.65 + 0.2 * x + 0.1 * y], axis=-1).reshape(-1, 3)


def face_like(n=70):
    """(n*n, 3) points of a curved, face-sized cap (paraboloid) at 0.65 m."""
    x, y = np.meshgrid(np.linspace(-0.07, 0.07, n), np.linspace(-0.09, 0.09, n))
    z = 0.65 + 4.0 * (x**2 + 0.6 * y**2)
    return np.stack([x, y, z], axis=-1).reshape(-1, 3)


def gaussian_bump(points, centre_xy=(0.03, -0.02), sigma=0.012, amplitude=1.5 * MM):
    """Displacement (M, 3) of amplitude·exp(−d²/2σ²) along −z around centre_xy."""
    d2 = (points[:, 0] - centre_xy[0]) ** 2 + (points[:, 1] - centre_xy[1]) ** 2
    bump = np.zeros_like(points)
    bump[:, 2] = -amplitude * np.exp(-d2 / (2 * sigma**2))
    return bump


def as_cloud(result):
    """The clip's MotionCloud of a MotionResult, as ``cloud_from_pair`` makes it (what its
    rank keys and network input read; no image behind it)."""
    k = len(result)
    return MotionCloud(
        sample_id="surface", box=Box(0, 0, 1, 1), points_m=result.points.astype(np.float32),
        rgb=np.zeros((k, 3), np.uint8), delta_m=result.delta.astype(np.float32),
        motion=np.stack([result.r, result.theta, result.phi], axis=1).astype(np.float32),
        colors=result.colors, pixels=np.zeros((k, 2), np.int32), kept=result.kept,
        centre=np.asarray(result.centre, dtype=np.float64), scale=float(result.scale),
        provenance={})


def rotation_about(axis, degrees):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = math.radians(degrees)
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k


def test_translated_plane_without_offset_removal_has_uniform_motion():
    onset = tilted_plane()
    shift = np.array([0.8, -0.5, 0.6]) * MM
    result = compute_motion(onset, onset + shift, MotionParams(offset="none"))

    assert len(result) > 0.5 * len(onset)
    np.testing.assert_allclose(result.r, np.linalg.norm(shift), rtol=1e-9)
    np.testing.assert_allclose(result.theta, math.atan2(-0.5, 0.8), rtol=1e-9)
    np.testing.assert_allclose(result.phi, math.atan2(0.6, math.hypot(0.8, -0.5)), rtol=1e-9)
    expected_color = [
        1.0,
        (math.atan2(-0.5, 0.8) + math.pi) / (2 * math.pi),
        (math.atan2(0.6, math.hypot(0.8, -0.5)) + math.pi / 2) / math.pi,
    ]
    np.testing.assert_allclose(result.colors, np.broadcast_to(expected_color, (len(result), 3)), atol=1e-6)


def test_median_offset_turns_global_translation_black():
    onset = tilted_plane()
    result = compute_motion(onset, onset + np.array([2.0, 1.0, -3.0]) * MM)
    np.testing.assert_allclose(result.offset_translation, [2e-3, 1e-3, -3e-3], atol=1e-12)
    assert result.r.max() < 1e-9
    assert (result.colors[:, 1:] == 0).all()
    assert result.colors[:, 0].max() < 1e-5


def test_median_offset_removes_a_translation_but_keeps_the_bump():
    onset = face_like()
    bump = gaussian_bump(onset)
    shift = np.array([-0.4, 0.9, 1.7]) * MM
    result = compute_motion(onset, onset + bump + shift, MotionParams(face_filter_k=KEEP_ALL))
    np.testing.assert_allclose(result.delta, bump, atol=1e-9)


def test_face_filter_matches_naive_loop():
    rng = np.random.default_rng(5)
    points = np.concatenate([rng.normal([0, 0, 0.65], 0.04, (400, 3)), rng.uniform(-1, 2, (40, 3))])
    keep, centre = face_filter(points, k=1.5)

    n = len(points)
    c = [sum(p[i] for p in points) / n for i in range(3)]
    distances = [math.sqrt(sum((p[i] - c[i]) ** 2 for i in range(3))) for p in points]
    limit = 1.5 * sum(distances) / n
    np.testing.assert_allclose(centre, c, atol=1e-12)
    np.testing.assert_array_equal(keep, [d <= limit for d in distances])
    assert 0 < keep.sum() < n


def test_background_and_invalid_points_are_dropped_and_counted():
    onset = face_like(40)
    background = np.array([[0.5, 0.4, 1.8], [-0.6, 0.3, 2.0]])
    onset = np.concatenate([onset, background])
    apex = onset.copy()
    apex[3] = np.nan
    onset[7, 2] = np.nan
    result = compute_motion(onset, apex)
    assert result.dropped_invalid == 2
    assert not result.kept[[3, 7, len(onset) - 2, len(onset) - 1]].any()
    assert result.dropped_background >= 2
    assert len(result) + result.dropped_invalid + result.dropped_background == len(onset)
    np.testing.assert_array_equal(np.flatnonzero(result.kept), result.indices)


def test_spike_filter_drops_exactly_the_spiked_points():
    rng = np.random.default_rng(6)
    onset = face_like(30)
    delta = rng.uniform(-5, 5, onset.shape) * MM
    spiked = rng.choice(len(onset), 25, replace=False)
    delta[:40, 2] = rng.choice([-1, 1], 40) * 7.95 * MM  # close calls that stay
    delta[spiked, 2] = rng.choice([-1, 1], 25) * rng.uniform(8.05, 40, 25) * MM

    np.testing.assert_array_equal(np.flatnonzero(~spike_filter(delta, 8.0)), np.sort(spiked))
    result = compute_motion(onset, onset + delta, MotionParams(offset="none", face_filter_k=KEEP_ALL))
    assert result.dropped_spike == 25
    np.testing.assert_array_equal(np.setdiff1d(np.arange(len(onset)), result.indices), np.sort(spiked))


@pytest.mark.parametrize("rank", ["color_l2", "amplitude"])
@pytest.mark.parametrize("offset", ["median", "kabsch"])
def test_sort_keeps_the_bump_first(rank, offset):
    onset = face_like()
    bump = gaussian_bump(onset)
    result = compute_motion(onset, onset + bump, MotionParams(offset=offset))
    true_amplitude = np.abs(bump[result.indices, 2])

    moving = np.flatnonzero(true_amplitude >= 0.3 * MM)  # above the noise floor
    assert 50 < moving.size < 0.2 * len(result)
    key = as_cloud(result).rank_key(rank)
    chosen = sample_indices(key, moving.size, "sort").indices
    assert set(chosen) == set(moving)
    top = sample_indices(key, 100, "sort").indices
    assert set(top) == set(np.argsort(-true_amplitude, kind="stable")[:100])
    assert (result.colors[true_amplitude < 0.25 * MM, 1:] == 0).all()


def test_sort_keeps_a_depth_bump_first_through_backprojection():
    intrinsics = Intrinsics.casme3()
    rows, cols = np.mgrid[0:200, 0:160]
    onset_mm = 650.0 + 0.02 * (cols - 80) ** 2 + 0.01 * (rows - 100) ** 2
    bump_mm = 1.5 * np.exp(-((cols - 110) ** 2 + (rows - 60) ** 2) / (2 * 12.0**2))
    origin = (560, 260)
    onset = backproject(onset_mm, intrinsics, origin).reshape(-1, 3)
    apex = backproject(onset_mm - bump_mm, intrinsics, origin).reshape(-1, 3)

    result = compute_motion(onset, apex)
    # Depth moves along the pixel's ray, so the true |ΔP| is Δd·‖(X/Z, Y/Z, 1)‖.
    ray_length = np.linalg.norm(onset / onset[:, 2:], axis=1)
    true_r_mm = bump_mm.ravel() * ray_length
    moving = np.count_nonzero(true_r_mm >= 0.3)
    chosen = sample_indices(as_cloud(result).rank_key("color_l2"), moving, "sort").indices
    chosen_pixels = set(result.indices[chosen])
    # float32 round-off (~1e-4 mm) may flip pixels within a hair of the noise floor only.
    assert set(np.flatnonzero(true_r_mm >= 0.301)) <= chosen_pixels
    assert chosen_pixels <= set(np.flatnonzero(true_r_mm >= 0.299))
    assert moving > 200


def test_kabsch_removes_rigid_motion_and_keeps_the_bump():
    onset = face_like()
    bump = gaussian_bump(onset)
    rotation = rotation_about([0.3, 1.0, 0.2], 0.8)
    translation = np.array([1.2, -0.7, 2.5]) * MM
    apex = (onset + bump) @ rotation.T + translation

    still = compute_motion(onset, onset @ rotation.T + translation, MotionParams(offset="kabsch"))
    assert still.r.max() < 1e-6
    np.testing.assert_allclose(still.offset_rotation, rotation, atol=1e-9)

    result = compute_motion(onset, apex, MotionParams(offset="kabsch", face_filter_k=KEEP_ALL))
    np.testing.assert_allclose(result.r, np.abs(bump[:, 2]), atol=1e-6)
    np.testing.assert_allclose(result.offset_translation, translation, atol=1e-6)
    median = compute_motion(onset, apex, MotionParams(offset="median", face_filter_k=KEEP_ALL))
    assert np.abs(median.r - np.abs(bump[:, 2])).max() > 0.3 * MM  # rotation left behind


def test_kabsch_recovers_a_known_transform_on_random_points():
    rng = np.random.default_rng(7)
    source = rng.normal(size=(50, 3))
    rotation = rotation_about([1.0, -2.0, 0.5], 37.0)
    translation = np.array([0.3, -1.0, 2.0])
    r, t = kabsch(source, source @ rotation.T + translation)
    np.testing.assert_allclose(r, rotation, atol=1e-10)
    np.testing.assert_allclose(t, translation, atol=1e-10)
    assert np.linalg.det(kabsch(source, source * [1, 1, -1])[0]) > 0  # no reflection


def test_network_input_is_centred_and_scaled_over_all_kept_points():
    onset = face_like(40)
    result = compute_motion(onset, onset + gaussian_bump(onset))
    inputs = as_cloud(result).inputs
    xyz = inputs[:, :3].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=1).max(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(xyz * result.scale + result.centre, result.points, atol=1e-6)
    np.testing.assert_array_equal(inputs[:, 3:], result.colors)
    assert inputs.dtype == np.float32 and result.colors.dtype == np.float32


def test_motionless_points_are_black():
    r = np.array([0.0, 0.1, 0.29, 0.31, 2.0]) * MM
    colors = normalise(r, np.full(5, 2.0), np.full(5, 1.0), r_reference=2 * MM, noise_floor_mm=0.3)
    assert (colors[:3, 1:] == 0).all() and (colors[3:, 1:] > 0).all()
    assert colors[:3, 0].max() < 0.15
    assert reference_amplitude(np.zeros(10), 99.0, 0.3) == pytest.approx(0.3 * MM)


def test_motion_vectors_flags_nan_in_either_frame():
    onset = np.zeros((4, 3))
    apex = np.ones((4, 3))
    onset[1, 0] = np.nan
    apex[2, 2] = np.nan
    delta, valid = motion_vectors(onset, apex)
    np.testing.assert_array_equal(valid, [True, False, False, True])
    with pytest.raises(ValueError):
        compute_motion(np.full((3, 3), np.nan), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        MotionParams(offset="mean")


finite_mm = st.floats(-20, 20, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 40), st.just(3)), elements=finite_mm))
def test_spherical_features_reconstruct_the_vector(delta_mm):
    r, theta, phi = spherical(delta_mm * MM)
    rebuilt = np.stack(
        [r * np.cos(phi) * np.cos(theta), r * np.cos(phi) * np.sin(theta), r * np.sin(phi)], axis=1
    )
    np.testing.assert_allclose(rebuilt, delta_mm * MM, atol=1e-12)
    assert (np.abs(theta) <= np.pi).all() and (np.abs(phi) <= np.pi / 2).all()


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 40), st.just(3)), elements=finite_mm),
    st.floats(50, 100),
    st.floats(0, 1),
)
def test_normalised_colors_lie_in_unit_cube(delta_mm, percentile, floor_mm):
    r, theta, phi = spherical(delta_mm * MM)
    colors = normalise(r, theta, phi, reference_amplitude(r, percentile, floor_mm), floor_mm)
    assert ((colors >= 0) & (colors <= 1)).all()
    assert (colors[r < floor_mm * MM, 1:] == 0).all()


def test_grids_are_accepted_and_results_are_read_only():
    onset = face_like(20).reshape(20, 20, 3)
    result = compute_motion(onset, onset + 1 * MM)
    assert result.kept.shape == (400,)
    with pytest.raises(ValueError):
        result.r[0] = 1.0


def _motion_by_steps(onset, apex, params):
    """compute_motion as it was written before it worked per coordinate: the public steps
    one after the other on (M, 3) rows."""
    from mer_viewer.core.motion import remove_offset

    delta, valid = motion_vectors(onset, apex)
    onset = np.asarray(onset, dtype=np.float64).reshape(-1, 3)
    indices = np.flatnonzero(valid)
    face, centre = face_filter(onset[indices], params.face_filter_k)
    indices = indices[face]
    corrected, rotation, translation = remove_offset(onset[indices], delta[indices], params.offset)
    not_spike = spike_filter(corrected, params.spike_mm)
    indices, corrected = indices[not_spike], corrected[not_spike]
    points = onset[indices]
    r, theta, phi = spherical(corrected)
    r_reference = reference_amplitude(r, params.r_percentile, params.noise_floor_mm)
    colors = normalise(r, theta, phi, r_reference, params.noise_floor_mm).astype(np.float32)
    scale = float(np.linalg.norm(points - centre, axis=1).max())
    return dict(indices=indices, points=points, delta=corrected, r=r, theta=theta, phi=phi,
                colors=colors, centre=centre, scale=scale, r_reference=r_reference,
                offset_rotation=rotation, offset_translation=translation)


def _noisy_face_clouds(seed):
    """(h, w, 3) float32 grids like backproject's: a face cap with a bump, head motion,
    depth noise, holes (NaN), background and spikes."""
    rng = np.random.default_rng(seed)
    onset = face_like(90)
    onset[rng.random(len(onset)) < 0.05, 2] += 0.4  # background behind the face
    rotation = rotation_about((0.2, 1.0, 0.1), 0.4)
    apex = onset @ rotation.T + np.array([0.6, -0.3, 1.1]) * MM + gaussian_bump(onset)
    apex += rng.normal(0, 0.15 * MM, apex.shape)
    apex[rng.random(len(apex)) < 0.01, 2] += 20 * MM  # depth spikes
    onset[rng.random(len(onset)) < 0.1] = np.nan
    apex[rng.random(len(apex)) < 0.1] = np.nan
    return (onset.astype(np.float32).reshape(90, 90, 3), apex.astype(np.float32).reshape(90, 90, 3))


@pytest.mark.parametrize("offset", ["median", "kabsch", "none"])
@pytest.mark.parametrize("seed", [0, 1])
def test_compute_motion_equals_the_steps_one_after_the_other(offset, seed):
    onset, apex = _noisy_face_clouds(seed)
    params = MotionParams(offset=offset)
    result = compute_motion(onset, apex, params)
    reference = _motion_by_steps(onset, apex, params)
    np.testing.assert_array_equal(result.indices, reference.pop("indices"))
    for name, value in reference.items():
        np.testing.assert_allclose(getattr(result, name), value, rtol=1e-12, atol=1e-15,
                                   err_msg=name)
    assert result.points.flags.c_contiguous and result.delta.flags.c_contiguous
    assert result.dropped_invalid + result.dropped_background + result.dropped_spike + len(
        result) == 90 * 90
