"""Disk cache of a clip's cloud, aligned pair and optical flow: hits, invalidation, damage."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mer_viewer.cli import main
from mer_viewer.core import cache
from mer_viewer.core.cache import (
    cached_cloud,
    cached_flow,
    cached_pair,
    clip_files,
    load_cloud,
    load_flow,
    load_pair,
    preprocess,
)
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.flow import flow_to_rgb, magnitude, optical_flow
from mer_viewer.core.pipeline import CloudParams, motion_cloud


@pytest.fixture
def sample(demo_copy):
    return Dataset.open(demo_copy).samples[0]


def _forbid(monkeypatch, *names):
    """Make the named computations of the cache module fail if they are called."""
    def fail(*_a, **_k):
        raise AssertionError("computed although cached")

    for name in names:
        monkeypatch.setattr(cache, name, fail)


def test_pair_round_trip_equals_the_computed_pair(sample, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    pair = cached_pair(sample, root=root)
    _forbid(monkeypatch, "align_pair")
    again = cached_pair(sample, root=root)
    assert again is not pair and again.box == pair.box and again.sample_id == pair.sample_id
    for name in ("onset_rgb", "apex_rgb", "onset_depth_mm", "apex_depth_mm", "landmarks"):
        a, b = getattr(pair, name), getattr(again, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert again.alignment.as_dict() == pair.alignment.as_dict()
    assert again.face_method == pair.face_method and again.frame_shape == pair.frame_shape
    # a cloud made from the cached pair is the cloud of the pipeline
    fresh = motion_cloud(sample, sampling=None)
    cloud = cached_cloud(sample, root=root, sampling=None)
    assert np.array_equal(cloud.points_m, fresh.points_m)
    assert np.array_equal(cloud.colors, fresh.colors)


def test_flow_cached_with_what_the_view_draws(sample, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    pair = cached_pair(sample, root=root)
    flow = cached_flow(sample, method="dis", root=root)
    expected = optical_flow(pair.onset_rgb, pair.apex_rgb, "dis")
    assert flow.method == "dis" and np.array_equal(flow.flow, expected)
    scale = float(np.percentile(magnitude(expected), 99))  # the view's full brightness
    assert np.array_equal(flow.rgb, flow_to_rgb(expected, max_magnitude=scale))
    assert flow.max_px == pytest.approx(float(magnitude(expected).max()))
    _forbid(monkeypatch, "align_pair", "pair_flow")
    again = cached_flow(sample, method="dis", root=root)
    assert np.array_equal(again.flow, flow.flow) and np.array_equal(again.rgb, flow.rgb)
    files = clip_files(sample, CloudParams(), root)
    assert files.flow("dis").is_file() and not files.flow("farneback").exists()


def test_entries_follow_parameters_and_source_files(sample, tmp_path):
    root = tmp_path / "cache"
    params = CloudParams()
    cached_cloud(sample, params, root=root)
    cached_flow(sample, params, "dis", root=root)
    files = clip_files(sample, params, root)
    assert load_cloud(files.cloud) and load_pair(files.pair) and load_flow(files.flow("dis"))
    other = clip_files(sample, CloudParams(align="none"), root)
    assert {other.cloud, other.pair, other.flow("dis")}.isdisjoint(
        {files.cloud, files.pair, files.flow("dis")})
    assert files.flow("dis") != files.flow("tvl1")
    color = sample.frames.color_path(sample.apex)
    stat = color.stat()
    os.utime(color, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = clip_files(sample, params, root)
    assert changed.pair != files.pair and not changed.pair.exists()
    assert not changed.flow("dis").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong_shape"])
def test_damaged_entries_are_recomputed(sample, tmp_path, damage):
    root = tmp_path / "cache"
    params = CloudParams()
    cached_cloud(sample, params, root=root)
    cached_flow(sample, params, "dis", root=root)
    files = clip_files(sample, params, root)
    for path in (files.cloud, files.pair, files.flow("dis")):
        data = path.read_bytes()
        if damage == "garbage":
            path.write_bytes(b"not a numpy file at all")
        elif damage == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif damage == "empty":
            path.write_bytes(b"")
        else:  # a readable file whose arrays do not fit together
            with np.load(path) as content:
                arrays = dict(content)
            for name in ("apex_rgb", "rgb", "centre"):
                if name in arrays:
                    arrays[name] = arrays[name][:3]
            if "flow" in arrays:  # one component (its colour coding is no longer stored)
                arrays["flow"] = arrays["flow"][..., 0]
            with open(path, "wb") as handle:
                np.savez(handle, **arrays)
    assert load_pair(files.pair) is None and load_flow(files.flow("dis")) is None
    pair = cached_pair(sample, params, root=root)
    flow = cached_flow(sample, params, "dis", root=root)
    cloud = cached_cloud(sample, params, root=root)
    assert pair.apex_rgb.shape[:2] == (pair.box.height, pair.box.width)
    assert flow.flow.shape[:2] == pair.apex_rgb.shape[:2] and len(cloud) > 1000
    assert load_pair(files.pair) is not None and load_flow(files.flow("dis")) is not None


def test_preprocess_fills_pair_and_flow_and_survives_a_failed_flow(demo_copy, tmp_path,
                                                                   monkeypatch):
    samples = Dataset.open(demo_copy).samples[:3]
    root = tmp_path / "cache"
    real = cache.pair_flow

    def flaky(pair, method):
        if pair.sample_id == samples[1].id:
            raise RuntimeError("flow exploded")
        return real(pair, method)

    monkeypatch.setattr(cache, "pair_flow", flaky)
    outcomes = list(preprocess(samples, workers=1, root=root, flow="dis"))[-1].result
    assert [o.ok for o in outcomes] == [True, True, True]
    assert [bool(o.flow_error) for o in outcomes] == [False, True, False]
    assert "flow exploded" in outcomes[1].flow_error
    for s in samples:
        files = clip_files(s, CloudParams(), root)
        assert files.cloud.is_file() and files.pair.is_file()
        assert files.flow("dis").is_file() == (s is not samples[1])
    monkeypatch.setattr(cache, "pair_flow", real)
    again = list(preprocess(samples, workers=1, root=root, flow="dis"))[-1].result
    assert [o.cached for o in again] == [True, False, True] and all(o.ok for o in again)
    # training's preprocessing caches no flow
    plain = list(preprocess(samples[:1], workers=1, root=tmp_path / "plain"))[-1].result
    files = clip_files(samples[0], CloudParams(), tmp_path / "plain")
    assert plain[0].ok and files.pair.is_file() and not list(files.stem.parent.glob("*flow*"))


def test_preprocess_cli_caches_the_flow_for_the_viewer(demo_copy, capsys):
    from mer_viewer.core.paths import cache_dir

    code = main(["preprocess", str(demo_copy), "--workers", "2", "--flow", "dis", "--json"])
    report = json.loads(capsys.readouterr().out)
    samples = Dataset.open(demo_copy).samples
    assert code == 0 and report["failed"] == [] and report["flow_failed"] == []
    assert report["flow"] == "dis" and report["done"] == len(samples)
    for s in samples:
        files = clip_files(s, CloudParams(), cache_dir() / "clouds")
        assert load_flow(files.flow("dis")) is not None and load_pair(files.pair) is not None
    assert main(["preprocess", str(demo_copy), "--flow", "dis", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["from_cache"] == len(samples)


def test_preprocess_starts_no_pool_for_cached_clips(demo_copy, tmp_path, monkeypatch):
    """A process pool is only started for clips missing from the cache (forking the GUI's
    process, with torch loaded, held the GIL long enough to freeze it)."""
    samples = Dataset.open(demo_copy).samples[:2]
    root = tmp_path / "cache"
    list(preprocess(samples, workers=1, root=root))
    monkeypatch.setattr(cache, "ProcessPoolExecutor", None)  # any pool: a TypeError
    outcomes = list(preprocess(samples, workers=2, root=root))[-1].result
    assert sorted(o.sample_id for o in outcomes) == sorted(s.id for s in samples)
    assert all(o.ok and o.cached for o in outcomes)


def test_files_leave_out_what_is_rebuilt_and_version_1_files_still_load(sample, tmp_path):
    """Cloud files hold no pixel coordinates and flow files no colour coding (both are made
    again exactly on load); files written with them (pipeline version 1) load the same."""
    from mer_viewer.core.cache_files import _meta

    root = tmp_path / "cache"
    cloud = cached_cloud(sample, root=root, sampling=None)
    flow = cached_flow(sample, method="dis", root=root)
    files = clip_files(sample, CloudParams(), root)
    with np.load(files.cloud) as data:
        assert "pixels" not in data.files
    with np.load(files.flow("dis")) as data:
        assert "rgb" not in data.files
    loaded = load_cloud(files.cloud)
    assert np.array_equal(loaded.pixels, cloud.pixels) and loaded.pixels.dtype == np.int32
    assert np.array_equal(load_flow(files.flow("dis")).rgb, flow.rgb)

    # written as version 1 wrote them: every array, compressed or not, pixels and rgb included
    old_cloud = tmp_path / "old.npz"
    arrays = {name: getattr(cloud, name) for name in
              ("points_m", "rgb", "delta_m", "motion", "colors", "pixels", "kept", "centre")}
    np.savez(old_cloud, box=np.asarray(cloud.box, dtype=np.int64), scale=np.float64(cloud.scale),
             meta=_meta({"sample_id": cloud.sample_id, "provenance": cloud.provenance}), **arrays)
    old = load_cloud(old_cloud)
    assert old is not None and old.box == cloud.box and old.scale == cloud.scale
    for name, value in arrays.items():
        assert np.array_equal(getattr(old, name), value), name
    old_flow = tmp_path / "old.flow-dis.npz"
    np.savez_compressed(old_flow, flow=flow.flow, rgb=flow.rgb, max_px=np.float64(flow.max_px),
                        meta=_meta({"method": "dis"}))
    again = load_flow(old_flow)
    assert np.array_equal(again.flow, flow.flow) and np.array_equal(again.rgb, flow.rgb)
    # a version 1 cloud whose pixels do not match its mask is damaged: computed again
    arrays["pixels"] = arrays["pixels"] + 1
    np.savez(old_cloud, box=np.asarray(cloud.box, dtype=np.int64), scale=np.float64(cloud.scale),
             meta=_meta({"sample_id": cloud.sample_id, "provenance": cloud.provenance}), **arrays)
    assert load_cloud(old_cloud) is None
