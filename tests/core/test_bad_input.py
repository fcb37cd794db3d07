"""Damaged frame files and dataset folders: a typed error or a skipped row naming the file,
never a silently wrong image, never one bad entry hiding its neighbours."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from mer_viewer.cli import main
from mer_viewer.core.dataset import ClipFrames, Dataset, read_color
from mer_viewer.core.dataset.frames import incomplete_image
from mer_viewer.core.errors import DatasetError, FrameError
from mer_viewer.core.ml.items import build_items

from .casme_fixture import build_root


def _color(height=48, width=64) -> np.ndarray:
    """A BGR image with structure (a JPEG of noise would be unrealistically large)."""
    y, x = np.mgrid[:height, :width]
    return np.dstack([(x * 4) % 256, (y * 5) % 256, ((x + y) * 3) % 256]).astype(np.uint8)


def _depth(height=48, width=64) -> np.ndarray:
    y, x = np.mgrid[:height, :width]
    depth = (600 + 3 * x + 2 * y).astype(np.uint16)
    depth[0, 0] = 0
    return depth


def _clip(tmp_path: Path) -> ClipFrames:
    """Frames 1 and 2 of a clip: colour JPEG and 16-bit depth PNG."""
    color, depth = tmp_path / "color", tmp_path / "depth"
    color.mkdir()
    depth.mkdir()
    for n in (1, 2):
        cv2.imwrite(str(color / f"{n}.jpg"), _color())
        cv2.imwrite(str(depth / f"{n}.png"), _depth())
    return ClipFrames(color, depth)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    elif how == "empty":
        path.write_bytes(b"")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how, problem", [
    ("half", "truncated"), ("garbage", "does not decode"), ("empty", r"empty \(0 bytes\)"),
])
@pytest.mark.parametrize("kind", ["color", "depth"])
def test_damaged_frame_files_are_frame_errors_naming_the_file(tmp_path, kind, how, problem):
    frames = _clip(tmp_path)
    path = frames.color_path(1) if kind == "color" else frames.depth_path(1)
    _damage(path, how)
    read = frames.color if kind == "color" else frames.depth
    with pytest.raises(FrameError, match=problem) as info:
        read(1)
    assert info.value.path == path and str(path) in str(info.value)
    # the undamaged frame still reads as OpenCV decodes it
    if kind == "color":
        reference = cv2.cvtColor(cv2.imread(str(frames.color_path(2))), cv2.COLOR_BGR2RGB)
        assert np.array_equal(frames.color(2), reference)
    else:
        assert np.array_equal(frames.depth(2), _depth())


def test_whole_files_with_zero_padding_still_read(tmp_path):
    # some copies pad files with zero bytes after the end marker: that is not truncation
    frames = _clip(tmp_path)
    expected_rgb, expected_depth = frames.color(1), frames.depth(1)
    for path in (frames.color_path(1), frames.depth_path(1)):
        path.write_bytes(path.read_bytes() + bytes(512))
    assert np.array_equal(frames.color(1), expected_rgb)
    assert np.array_equal(frames.depth(1), expected_depth)


@pytest.mark.parametrize("suffix, params", [
    (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]), (".png", []), (".bmp", []),
])
def test_every_cut_of_a_frame_file_is_an_error(tmp_path, suffix, params):
    ok, encoded = cv2.imencode(suffix, _color(), params)
    data = encoded.tobytes()
    assert ok and incomplete_image(data) is None
    path = tmp_path / f"1{suffix}"
    for cut in range(1, len(data), max(1, len(data) // 97)):
        path.write_bytes(data[:cut])
        with pytest.raises(FrameError, match="truncated|does not decode"):
            read_color(path)


def _photo(height=240, width=320) -> np.ndarray:
    """A BGR image with smooth structure and some texture, like a face frame."""
    y, x = np.mgrid[:height, :width]
    base = np.dstack([128 + 100 * np.sin(x / 17.0), 128 + 90 * np.cos(y / 23.0),
                      128 + 80 * np.sin((x + y) / 31.0)])
    noise = np.random.default_rng(1).normal(0, 6, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def test_a_jpeg_damaged_inside_is_an_error_though_opencv_decodes_it(tmp_path):
    # bytes changed in the middle of the entropy-coded data, the end marker intact: libjpeg
    # paints the damage grey or smears it and only warns on stderr; OpenCV returns the image
    ok, encoded = cv2.imencode(".jpg", _photo(), [cv2.IMWRITE_JPEG_QUALITY, 90])
    data = bytearray(encoded.tobytes())
    rng = np.random.default_rng(0)
    path = tmp_path / "7.jpg"
    for trial in range(10):
        damaged = bytearray(data)
        for at in rng.integers(len(data) // 4, 3 * len(data) // 4, 16):
            damaged[at] = int(rng.integers(0, 256))
        path.write_bytes(bytes(damaged))
        assert incomplete_image(bytes(damaged)) is None  # not cut short: whole to the eye
        assert cv2.imdecode(np.frombuffer(bytes(damaged), np.uint8), cv2.IMREAD_COLOR) is not None
        with pytest.raises(FrameError, match="colour frame is corrupt: ") as info:
            read_color(path)
        assert info.value.path == path


@pytest.mark.parametrize("params, gray", [
    ([cv2.IMWRITE_JPEG_QUALITY, 95], False),
    ([cv2.IMWRITE_JPEG_QUALITY, 75, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
      cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444], False),
    ([cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_PROGRESSIVE, 1], False),
    ([cv2.IMWRITE_JPEG_QUALITY, 90], True),
])
def test_whole_jpegs_read_as_opencv_decodes_them(tmp_path, params, gray):
    image = _photo()
    if gray:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    path = tmp_path / "1.jpg"
    assert cv2.imwrite(str(path), image, params)
    reference = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(read_color(path), reference)


def test_a_cmyk_jpeg_is_decoded_by_opencv(tmp_path):
    from PIL import Image

    path = tmp_path / "1.jpg"
    Image.fromarray(_photo()[..., ::-1].copy()).convert("CMYK").save(path, quality=95)
    reference = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(read_color(path), reference)


def test_the_demo_frames_read_as_opencv_decodes_them(demo_corpus):
    sample = Dataset.open(demo_corpus).samples[0]
    for number in (sample.onset, sample.apex):
        path = sample.frames.color_path(number)
        reference = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert np.array_equal(read_color(path), reference)


def test_a_frame_that_is_a_link_loop_or_a_folder_names_the_problem(tmp_path):
    frames = _clip(tmp_path)
    loop = frames.color_dir / "3.jpg"
    loop.symlink_to(loop.name)
    frames.depth_path(2).unlink()
    frames.depth_path(2).mkdir()
    with pytest.raises(FrameError, match="symbolic link loop"):
        frames.color(3)
    with pytest.raises(FrameError, match="folder, not a file"):
        frames.depth(2)


# --- through the commands ------------------------------------------------------------------

def _one_line_error(capsys, *names) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for name in names:
        assert name in err, err
    return err


@pytest.mark.parametrize("kind, how, problem", [
    ("color", "half", "truncated"), ("depth", "half", "truncated"),
    ("color", "empty", "empty (0 bytes)"), ("depth", "garbage", "does not decode"),
])
def test_mer_cloud_names_a_damaged_frame(demo_copy, tmp_path, capsys, kind, how, problem):
    sample = Dataset.open(demo_copy).samples[0]
    frames = sample.frames
    # the apex: half an onset frame fails face detection anyway, half an apex went unnoticed
    path = frames.color_path(sample.apex) if kind == "color" else frames.depth_path(sample.apex)
    _damage(path, how)
    out = tmp_path / "x.npz"
    code = main(["cloud", str(demo_copy), sample.subject, sample.id.split("_", 1)[1],
                 "--out", str(out), "--no-cache"])
    err = _one_line_error(capsys, f"{path}: ", problem)
    assert code == 1 and err.startswith("mer cloud: error: ") and not out.exists()


def test_preprocess_and_training_items_report_a_truncated_frame(demo_copy, capsys):
    samples = Dataset.open(demo_copy).samples
    broken = samples[0]
    path = broken.frames.color_path(broken.apex)
    _damage(path, "half")
    code = main(["preprocess", str(demo_copy), "--workers", "1", "--flow", "none", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [f["sample"] for f in report["failed"]] == [broken.id]
    assert str(path) in report["failed"][0]["error"] and "truncated" in report["failed"][0]["error"]
    assert report["done"] == len(samples) - 1
    # the training set leaves it out, naming the file (the others come from the cache now)
    built = None
    for record in build_items(Dataset.open(demo_copy), "7", workers=1):
        built = record.result
    assert [sample_id for sample_id, _ in built.failed] == [broken.id]
    assert str(path) in built.failed[0][1]
    assert {item.clip for item in built.items} == {s.id for s in samples[1:]
                                                  if s.label("7") is not None}


# --- link loops and permissions in the dataset folders ---------------------------------------

@pytest.fixture()
def root(tmp_path):
    return build_root(tmp_path / "casme3")


def _loaded(root) -> set[str]:
    return {s.id for s in Dataset.open(root).samples}


@pytest.mark.parametrize("where", ["", "spNO.1", "spNO.1/A", "Part_A_ME_clip/Part_A_ME_clip/frame"])
def test_a_link_loop_hides_only_itself(root, where, capsys):
    expected = _loaded(root)
    folder = root / where
    (folder / "loop").symlink_to("loop")
    (folder / "up").symlink_to("..")  # a link to the parent folder: a cycle for a walker
    ds = Dataset.open(root)
    assert {s.id for s in ds.samples} == expected
    sample = ds.find("spNO.1", "a_2")
    assert sample.frames.color_dir == root / "spNO.1" / "A" / "color"
    assert sample.frames.color(2).shape == (24, 32, 3)
    assert ds.warnings == (f"{folder / 'loop'}: symbolic link loop",)
    assert main(["info", str(root), "--json"]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_a_clip_folder_or_frame_that_is_a_link_loop_skips_only_its_rows(root, capsys):
    clip = root / "spNO.1" / "A"
    clip.rename(root / "spNO.1" / "A-old")
    clip.symlink_to("A")  # spNO.1/A -> itself
    frame = root / "spNO.2" / "J" / "color" / "4.jpg"  # the apex of spNO.2 j 1
    frame.unlink()
    frame.symlink_to("4.jpg")
    assert main(["info", str(root), "--json"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    data = json.loads(captured.out)
    reasons = {(s["subject"], s["clip"], s["onset"]): s["reason"] for s in data["skipped"]}
    assert reasons[("spNO.1", "a", 2)] == f"{clip}: symbolic link loop"
    assert reasons[("spNO.1", "a", 4)] == f"{clip}: symbolic link loop"
    assert reasons[("spNO.2", "j", 1)] == f"{frame}: symbolic link loop"
    assert {(s["subject"], s["clip"]) for s in data["samples"]} == {("spNO.5", "c")}
    assert data["warnings"] == []  # the loops are the rows' reasons


def test_the_root_itself_a_link_loop_is_one_error(tmp_path, capsys):
    loop = tmp_path / "casme3"
    loop.symlink_to("casme3")
    assert main(["info", str(loop)]) == 1
    err = _one_line_error(capsys, str(loop), "symbolic link loop")
    assert "does not exist" not in err


def _deny(monkeypatch, denied: Path) -> None:
    """Listing ``denied`` fails with EACCES, as for a folder without read permission."""
    real = os.scandir

    def scandir(path="."):
        if Path(os.fsdecode(path)) == denied:
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


@pytest.mark.parametrize("denied", ["spNO.1", "spNO.1/A"])
def test_an_unreadable_folder_is_reported_as_permission_denied(root, monkeypatch, denied):
    _deny(monkeypatch, root / denied)
    ds = Dataset.open(root)
    reasons = {(s.subject, s.clip, s.onset): s.reason for s in ds.skipped}
    assert reasons[("spNO.1", "a", 2)] == f"{root / denied}: permission denied"
    assert not any("no folder for spNO.1" in r for r in reasons.values())
    assert {s.id for s in ds.samples} == {"spNO.2_j_1", "spNO.5_c_3"}


def test_an_unreadable_folder_that_no_row_names_is_a_warning(root, monkeypatch):
    (root / "notes").mkdir()
    _deny(monkeypatch, root / "notes")
    ds = Dataset.open(root)
    assert len(ds.samples) == 4 and ds.warnings == (f"{root / 'notes'}: permission denied",)


def test_an_unreadable_dataset_folder_is_one_error(root, monkeypatch):
    _deny(monkeypatch, root)
    with pytest.raises(DatasetError, match="permission denied"):
        Dataset.open(root)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads folders whatever their permissions")
def test_chmod_000_subject_folder(root):
    folder = root / "spNO.1"
    folder.chmod(0)
    try:
        ds = Dataset.open(root)
    finally:
        folder.chmod(0o755)
    reasons = {(s.subject, s.clip, s.onset): s.reason for s in ds.skipped}
    assert reasons[("spNO.1", "a", 2)] == f"{folder}: permission denied"
