"""Clip → MotionCloud on the demo corpus: contents, cache, export, CLI and bad inputs."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from mer_viewer.cli import main
from mer_viewer.core.cache import cache_file, cached_cloud, load_cloud, preprocess
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.errors import FaceNotFoundError, FrameError
from mer_viewer.core.pipeline import CloudParams, SamplingParams, motion_cloud


@pytest.fixture(scope="module")
def sample(demo_corpus):
    return Dataset.open(demo_corpus).samples[0]


@pytest.fixture(scope="module")
def cloud(sample):
    return motion_cloud(sample, CloudParams(), SamplingParams(points=1024))


def test_cloud_arrays_are_consistent(cloud, sample):
    k = len(cloud)
    assert k > 20000  # a ~300 px face gives tens of thousands of points
    for name, shape, dtype in [("points_m", (k, 3), np.float32), ("rgb", (k, 3), np.uint8),
                               ("delta_m", (k, 3), np.float32), ("motion", (k, 3), np.float32),
                               ("colors", (k, 3), np.float32), ("pixels", (k, 2), np.int32)]:
        array = getattr(cloud, name)
        assert array.shape == shape and array.dtype == dtype, name
    box = cloud.box
    u, v = cloud.pixels.T
    assert (u >= box.x0).all() and (u < box.x1).all() and (v >= box.y0).all() and (v < box.y1).all()
    assert cloud.kept.sum() == k and cloud.kept.shape == (box.height, box.width)
    # every point lies on its pixel's ray: re-projection gives the pixel back
    z = cloud.points_m[:, 2].astype(np.float64)
    u_back = cloud.points_m[:, 0] * 1324.65 / z + 640
    assert np.abs(u_back - u).max() < 1e-3
    assert 0.5 < np.median(z) < 0.9  # the face is 0.6–0.7 m away
    # the RGB of a point is the onset frame's colour at its pixel
    onset = sample.frames.color(sample.onset)
    assert (onset[v, u] == cloud.rgb).all()
    assert ((cloud.colors >= 0) & (cloud.colors <= 1)).all()
    r = cloud.motion[:, 0]
    assert np.allclose(r, np.linalg.norm(cloud.delta_m, axis=1), atol=1e-7)


def test_network_input_and_sampling(cloud):
    assert cloud.sampled.shape == (1024,) and cloud.padded == 0
    x = cloud.network_input
    assert x.shape == (1024, 6) and x.dtype == np.float32
    assert np.array_equal(x, cloud.inputs[cloud.sampled])
    assert np.abs(x[:, :3]).max() <= 1.0 + 1e-6  # scaled by the largest distance of ALL kept points
    key = cloud.rank_key("color_l2")
    assert key[cloud.sampled].min() >= np.sort(key)[-1024] - 1e-12  # sort keeps the top N
    random = cloud.resample(SamplingParams(points=1024, method="random", seed=3))
    assert len(set(random.sampled.tolist())) == 1024
    assert not np.array_equal(np.sort(random.sampled), np.sort(cloud.sampled))
    # the same point has the same network-input position whatever the sampling
    common = np.intersect1d(random.sampled, cloud.sampled)
    assert np.array_equal(cloud.inputs[common], random.inputs[common])


def test_padding_is_reported(cloud):
    big = cloud.resample(SamplingParams(points=len(cloud) + 10))
    assert big.padded == 10 and big.sampled.shape == (len(cloud) + 10,)


def test_provenance_records_the_choices(cloud):
    p = cloud.provenance
    assert p["params"]["align"] == "ecc" and p["params"]["denoise_sigma_px"] == 3.0
    assert p["params"]["motion"]["offset"] == "median"
    assert p["face_method"] == "dlib" and p["alignment"]["method"] in ("ecc", "landmarks")
    assert p["counts"]["kept"] == len(cloud)
    assert set(p["timings_ms"]) >= {"decode", "detect", "align", "backproject", "motion"}


def test_cache_reuses_and_invalidates(demo_copy, tmp_path):
    root = tmp_path / "cache"
    sample = Dataset.open(demo_copy).samples[0]
    params = CloudParams()
    first = cached_cloud(sample, params, root=root)
    path = cache_file(sample, params, root)
    assert path.is_file()
    again = cached_cloud(sample, params, root=root)
    assert np.array_equal(first.points_m, again.points_m) and np.array_equal(first.sampled, again.sampled)
    assert load_cloud(path) is not None
    assert cache_file(sample, CloudParams(align="none"), root) != path  # other parameters
    depth = sample.frames.depth_path(sample.apex)
    os.utime(depth, ns=(depth.stat().st_atime_ns, depth.stat().st_mtime_ns + 10**9))
    assert cache_file(sample, params, root) != path  # the source changed


def test_mer_cloud_npz_and_ply(demo_corpus, tmp_path, capsys):
    sample = Dataset.open(demo_corpus).samples[0]
    out = tmp_path / "c.npz"
    assert main(["cloud", str(demo_corpus), sample.subject, sample.id.split("_", 1)[1],
                 "--out", str(out), "--points", "512", "--sampling", "random", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["points"] == 512 and summary["params"]["align"] == "ecc"
    with np.load(out) as data:
        assert {k: data[k].shape for k in data.files} == {
            "points": (512, 3), "colors": (512, 3), "motion": (512, 3), "pixels": (512, 2),
            "input": (512, 6)}
        assert np.allclose(data["input"][:, 3:], data["colors"])
    import open3d as o3d

    ply = tmp_path / "c.ply"
    assert main(["cloud", str(demo_corpus), sample.subject, sample.id.split("_", 1)[1],
                 "--out", str(ply), "--points", "256", "--align", "none",
                 "--denoise-sigma", "0", "--offset", "kabsch"]) == 0
    read = o3d.io.read_point_cloud(str(ply))
    assert len(read.points) == 256 and read.has_colors()


def test_mer_flow_png_and_npz(demo_corpus, tmp_path):
    sample = Dataset.open(demo_corpus).samples[0]
    clip = sample.id.split("_", 1)[1]
    assert main(["flow", str(demo_corpus), sample.subject, clip, "--out",
                 str(tmp_path / "f.npz"), "--method", "dis"]) == 0
    with np.load(tmp_path / "f.npz") as data:
        x0, y0, x1, y1 = data["box"]
        assert data["flow"].shape == (y1 - y0, x1 - x0, 2)
        assert data["magnitude"].shape == data["strain"].shape == (y1 - y0, x1 - x0)
    assert main(["flow", str(demo_corpus), sample.subject, clip, "--out",
                 str(tmp_path / "f.png"), "--method", "farneback"]) == 0
    assert cv2.imread(str(tmp_path / "f.png")).shape[:2] == (y1 - y0, x1 - x0)


# --- bad inputs: a typed error naming the file, and preprocess carries on --------------------

def _break(sample, how):
    frames = sample.frames
    depth_path, color_path = frames.depth_path(sample.apex), frames.color_path(sample.onset)
    if how == "zero_depth":
        cv2.imwrite(str(depth_path), np.zeros((720, 1280), np.uint16))
        return FrameError, f"{depth_path.name}: no valid depth"
    if how == "depth_8bit":
        cv2.imwrite(str(depth_path), np.full((720, 1280), 200, np.uint8))
        return FrameError, f"{depth_path.name}: depth must be 16-bit"
    if how == "size_mismatch":
        cv2.imwrite(str(depth_path), np.full((360, 640), 650, np.uint16))
        return FrameError, "depth is 640x360 but the colour frame is 1280x720"
    if how == "missing_frame":
        depth_path.unlink()
        return FrameError, f"{depth_path.name}: depth frame file does not exist"
    if how == "no_face":
        cv2.imwrite(str(color_path), np.full((720, 1280, 3), 90, np.uint8))
        return FaceNotFoundError, f"{color_path.name}: no face found"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["zero_depth", "depth_8bit", "size_mismatch", "missing_frame",
                                 "no_face"])
def test_bad_input_is_a_typed_error_and_preprocess_carries_on(demo_copy, tmp_path, how, capsys):
    samples = Dataset.open(demo_copy).samples
    broken = samples[0]
    error, message = _break(broken, how)
    with pytest.raises(error, match=message):
        motion_cloud(broken)
    outcomes = None
    for record in preprocess(samples[:3], workers=1, root=tmp_path / "cache"):
        outcomes = record.result
    assert [o.ok for o in outcomes] == [False, True, True]
    assert message.split(":")[-1].strip() in outcomes[0].error

    code = main(["cloud", str(demo_copy), broken.subject, broken.id.split("_", 1)[1],
                 "--out", str(tmp_path / "x.npz"), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err


def test_face_from_depth_fallback(demo_copy):
    sample = Dataset.open(demo_copy).samples[0]
    _break(sample, "no_face")
    cloud = motion_cloud(sample, CloudParams(depth_fallback=True))
    assert cloud.provenance["face_method"] == "depth" and len(cloud) > 10000


def test_preprocess_cli_summarises_failures(demo_copy, capsys):
    samples = Dataset.open(demo_copy).samples
    _break(samples[0], "missing_frame")
    code = main(["preprocess", str(demo_copy), "--workers", "2", "--json"])
    report = json.loads(capsys.readouterr().out)
    # the loader already skips a sample whose apex frame is missing: nothing fails at run time
    assert code == 0 and report["failed"] == [] and report["done"] == len(samples) - 1
