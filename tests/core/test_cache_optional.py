"""A cache that cannot be written (read-only, full, a path through a file) costs time, never
the result: the library and the commands return what a working cache gives, and warn once."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import warnings

import numpy as np
import pytest

from mer_viewer.cli import main
from mer_viewer.core import cache, cache_files
from mer_viewer.core.cache import cached_cloud, cached_flow, cached_pair
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.errors import CacheWarning
from mer_viewer.core.pipeline import SamplingParams


def _break_cache(how: str, tmp_path, monkeypatch):
    """A cache root that cannot be written, the way ``how`` says."""
    root = tmp_path / how / "clouds"
    if how == "through_a_file":
        (tmp_path / how).write_text("a file where the cache folder should be")
    elif how == "read_only":
        @contextlib.contextmanager
        def refuse(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
            yield  # pragma: no cover

        monkeypatch.setattr(cache_files, "atomic_path", refuse)
    elif how == "full":
        def full(path, arrays):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(cache_files, "_write_npz", full)
    else:
        raise AssertionError(how)
    return root


@pytest.fixture(scope="module")
def reference(demo_corpus, tmp_path_factory):
    """A sample's cloud, pair and DIS flow made with a working cache."""
    sample = Dataset.open(demo_corpus).samples[0]
    root = tmp_path_factory.mktemp("working") / "clouds"
    return (cached_cloud(sample, root=root, sampling=SamplingParams(512)),
            cached_pair(sample, root=root), cached_flow(sample, method="dis", root=root))


def _cache_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]


@pytest.mark.parametrize("how, reason", [("through_a_file", "is a file, not a folder"),
                                         ("read_only", "read-only file system"),
                                         ("full", "no space left on the device")])
def test_library_results_equal_a_working_cache_and_warn_once(demo_corpus, reference, tmp_path,
                                                             monkeypatch, how, reason):
    sample = Dataset.open(demo_corpus).samples[0]
    root = _break_cache(how, tmp_path, monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cloud = cached_cloud(sample, root=root, sampling=SamplingParams(512))
        flow = cached_flow(sample, method="dis", root=root)
    expected_cloud, expected_pair, expected_flow = reference
    for name in ("points_m", "colors", "motion", "pixels", "sampled"):
        assert np.array_equal(getattr(cloud, name), getattr(expected_cloud, name)), name
    assert np.array_equal(flow.flow, expected_flow.flow)
    (message,) = _cache_warnings(caught)  # three entries not written, one warning
    assert str(root) in message and reason in message
    assert not list(tmp_path.rglob("*.npz"))


def test_a_damaged_entry_is_still_recomputed(demo_corpus, reference, tmp_path):
    sample = Dataset.open(demo_corpus).samples[0]
    root = tmp_path / "clouds"
    cached_pair(sample, root=root)
    entry = cache.clip_files(sample, cache.CloudParams(), root).pair
    entry.write_bytes(entry.read_bytes()[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        again = cached_pair(sample, root=root)
    assert np.array_equal(again.apex_depth_mm, reference[1].apex_depth_mm)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_real_read_only_cache_folder(demo_corpus, reference, tmp_path):
    sample = Dataset.open(demo_corpus).samples[0]
    root = tmp_path / "clouds"
    root.mkdir()
    root.chmod(0o555)
    try:
        with pytest.warns(CacheWarning, match="permission denied"):
            cloud = cached_cloud(sample, root=root, sampling=SamplingParams(512))
    finally:
        root.chmod(0o755)
    assert np.array_equal(cloud.points_m, reference[0].points_m)


# --- the commands ----------------------------------------------------------------------------

def _one_warning(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mer ") and ": warning: " in lines[0], err
    return lines[0]


def test_mer_cloud_with_a_cache_through_a_file(demo_corpus, tmp_path, monkeypatch, capsys):
    sample = Dataset.open(demo_corpus).samples[0]
    clip = sample.id.split("_", 1)[1]
    expected = tmp_path / "expected.npz"
    assert main(["cloud", str(demo_corpus), sample.subject, clip, "--out", str(expected),
                 "--no-cache"]) == 0
    capsys.readouterr()
    blocker = tmp_path / "xdg-cache"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    out = tmp_path / "x.npz"
    assert main(["cloud", str(demo_corpus), sample.subject, clip, "--out", str(out)]) == 0
    line = _one_warning(capsys.readouterr().err)
    assert line.startswith("mer cloud: warning: ") and f"{blocker} is a file" in line
    with np.load(expected) as a, np.load(out) as b:
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_mer_classify_with_a_full_cache(demo_corpus, tmp_path, monkeypatch, capsys):
    sample = next(s for s in Dataset.open(demo_corpus).samples if s.label("3"))
    args = ["classify", str(demo_corpus), sample.subject, sample.id.split("_", 1)[1], "--json"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "working"))
    assert main(args) == 0
    expected = json.loads(capsys.readouterr().out)
    _break_cache("full", tmp_path, monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "no space left" in _one_warning(captured.err)
    assert json.loads(captured.out) == expected


def test_mer_preprocess_with_a_read_only_cache(demo_copy, tmp_path, monkeypatch, capsys):
    samples = Dataset.open(demo_copy).samples
    _break_cache("read_only", tmp_path, monkeypatch)
    code = main(["preprocess", str(demo_copy), "--workers", "1", "--flow", "none", "--json"])
    captured = capsys.readouterr()
    assert "read-only file system" in _one_warning(captured.err)
    report = json.loads(captured.out)
    assert code == 0 and report["failed"] == [] and report["done"] == len(samples)
    assert sorted(o["sample"] for o in report["not_cached"]) == sorted(s.id for s in samples)
