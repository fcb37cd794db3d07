"""One read-through for a clip's products (``cache.ClipProducts``), and the viewer's jobs that go
through it: the same results as the pipeline, computed once, and a cache that cannot be
written costs time, never the result."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mer_viewer.core import cache, cache_files
from mer_viewer.core.cache import ClipProducts, cached_cloud, cached_pair
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.flow import pair_flow
from mer_viewer.core.jobs import cloud_job, flow_job, read_ahead
from mer_viewer.core.pipeline import CloudParams, SamplingParams, align_pair, cloud_from_pair
from tests.core.test_cache_optional import _break_cache, _cache_warnings

SAMPLINGS = {"left": SamplingParams(256), "right": SamplingParams(256, "random")}


@pytest.fixture(scope="module")
def sample(demo_corpus):
    return Dataset.open(demo_corpus).samples[0]


@pytest.fixture(scope="module")
def reference(sample):
    """Pair, cloud and DIS flow made by the pipeline itself, no cache involved."""
    pair = align_pair(sample, CloudParams())
    return pair, cloud_from_pair(pair, CloudParams(), sampling=None), pair_flow(pair, "dis")


def _count_calls(monkeypatch, *names) -> dict[str, int]:
    calls = {name: 0 for name in names}
    for name in names:
        original = getattr(cache, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(cache, name, counted)
    return calls


def _same_pair(a, b) -> bool:
    return a.box == b.box and all(np.array_equal(getattr(a, n), getattr(b, n)) for n in
                                  ("onset_rgb", "apex_rgb", "onset_depth_mm", "apex_depth_mm"))


def _same_cloud(a, b) -> bool:
    return all(np.array_equal(getattr(a, n), getattr(b, n))
               for n in ("points_m", "colors", "motion", "pixels"))


def test_computes_each_product_once_and_reads_it_back(sample, reference, tmp_path, monkeypatch):
    root = tmp_path / "clouds"
    calls = _count_calls(monkeypatch, "align_pair", "cloud_from_pair", "pair_flow")
    clip = ClipProducts(sample, root=root)
    assert clip.cached("dis") == {}
    cloud, flow = clip.cloud(), clip.flow("dis")
    assert clip.pair() is clip.pair() and clip.cloud() is cloud
    assert calls == {"align_pair": 1, "cloud_from_pair": 1, "pair_flow": 1}  # pair made once
    pair_ref, cloud_ref, flow_ref = reference
    assert _same_pair(clip.pair(), pair_ref) and _same_cloud(cloud, cloud_ref)
    assert np.array_equal(flow.flow, flow_ref.flow)
    again = ClipProducts(sample, root=root)
    found = again.cached("dis")
    assert set(found) == {"cloud", "pair", "flow"}
    assert _same_cloud(again.cloud(), cloud_ref) and np.array_equal(again.flow("dis").flow,
                                                                   flow_ref.flow)
    assert calls == {"align_pair": 1, "cloud_from_pair": 1, "pair_flow": 1}  # nothing again
    assert ClipProducts(sample, root=root).cached("tvl1").keys() == {"cloud", "pair"}


def test_without_the_cache_nothing_is_read_or_written(sample, reference, tmp_path, monkeypatch):
    root = tmp_path / "clouds"
    cached_pair(sample, root=root)
    calls = _count_calls(monkeypatch, "align_pair")
    clip = ClipProducts(sample, root=root, use_cache=False)
    assert clip.cached("dis") == {}
    assert _same_cloud(clip.cloud(), reference[1])
    assert calls["align_pair"] == 1  # the cached pair was not used
    assert [p.name.endswith(".pair.npz") for p in root.iterdir()] == [True]


def test_a_known_pair_is_used_as_it_is(sample, reference, tmp_path, monkeypatch):
    calls = _count_calls(monkeypatch, "align_pair")
    clip = ClipProducts(sample, root=tmp_path / "clouds", pair=reference[0])
    assert clip.pair() is reference[0] and calls["align_pair"] == 0
    assert np.array_equal(clip.flow("dis").flow, reference[2].flow)


def test_cloud_job_yields_the_cache_first_then_what_it_computes(sample, reference,
                                                                monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    results = [r.result for r in cloud_job(sample, CloudParams(), "dis") if r.result is not None]
    assert [kind for kind, _ in results] == ["pair", "cloud"]
    assert _same_pair(results[0][1], reference[0]) and _same_cloud(results[1][1], reference[1])
    flow = list(flow_job(sample, CloudParams(), results[0][1], "dis"))[-1].result[2]
    assert np.array_equal(flow.flow, reference[2].flow)
    calls = _count_calls(monkeypatch, "align_pair", "cloud_from_pair")
    [(kind, found)] = [r.result for r in cloud_job(sample, CloudParams(), "dis") if r.result]
    assert kind == "cached" and set(found) == {"cloud", "pair", "flow"}
    assert _same_cloud(found["cloud"], reference[1])
    assert np.array_equal(found["flow"].flow, reference[2].flow)
    assert calls == {"align_pair": 0, "cloud_from_pair": 0}


@pytest.mark.parametrize("how, reason", [("through_a_file", "is a file, not a folder"),
                                         ("read_only", "read-only file system"),
                                         ("full", "no space left on the device")])
def test_viewer_jobs_with_a_cache_that_cannot_be_written(sample, reference, tmp_path,
                                                         monkeypatch, how, reason):
    """The 3D panel's cloud job and the flow view's job: results of a working cache, one
    warning; reading ahead finds nothing and computes nothing."""
    root = _break_cache(how, tmp_path, monkeypatch)
    monkeypatch.setattr(cache_files, "cache_dir", lambda: root.parent)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = dict(r.result for r in cloud_job(sample, CloudParams(), "dis")
                       if r.result is not None)
        flow = list(flow_job(sample, CloudParams(), results["pair"], "dis"))[-1].result[2]
    assert _same_pair(results["pair"], reference[0]) and _same_cloud(results["cloud"],
                                                                     reference[1])
    assert np.array_equal(flow.flow, reference[2].flow)
    (message,) = _cache_warnings(caught)
    assert str(root) in message and reason in message
    assert not list(tmp_path.rglob("*.npz"))
    monkeypatch.setattr(cache, "align_pair", lambda *_a: pytest.fail("read ahead computed"))
    assert read_ahead(sample, sample.onset, CloudParams(), "dis", SAMPLINGS) is None


def test_read_ahead_gives_what_showing_the_clip_needs(sample, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert read_ahead(sample, sample.onset, CloudParams(), "dis", SAMPLINGS) is None  # not cached
    cached_cloud(sample, sampling=None)
    monkeypatch.setattr(cache, "align_pair", lambda *_a: pytest.fail("read ahead computed"))
    got = read_ahead(sample, sample.onset, CloudParams(), "dis", SAMPLINGS)
    assert got["flow"] is None  # no DIS flow cached: the flow view computes it
    assert _same_pair(got["pair"], reference[0]) and _same_cloud(got["cloud"], reference[1])
    rgb, depth = got["frame"]
    assert np.array_equal(rgb, sample.frames.color(sample.onset))
    assert np.array_equal(depth, sample.frames.depth(sample.onset))
    cloud, sampled, points_mm = got["sampled"]
    assert cloud is got["cloud"] and points_mm.shape == (len(cloud), 3)
    for side, params in SAMPLINGS.items():
        assert np.array_equal(sampled[side].sampled, got["cloud"].resample(params).sampled)
