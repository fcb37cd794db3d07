"""The synthetic demo corpus (`mer demo`): layout, sheet, determinism, faces, depth and truth."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mer_viewer.core.dataset import Dataset
from mer_viewer.core.dataset.demo import (
    DEMO_MAE_SHEET_NAME,
    DEMO_SHEET_NAME,
    EXCLUSIONS_NAME,
    SHEET_COLUMNS,
    TRUTH_DIR,
    build_demo,
)
from mer_viewer.core.dataset.demo_aus import EMOTION_AU_CHOICES, objective_class
from mer_viewer.core.dataset.demo_plan import ANOMALY_KINDS, plan_corpus
from mer_viewer.core.dataset.demo_scene import CX, CY, FX, FY
from mer_viewer.core.dataset.labels import normalise_emotion, parse_au
from mer_viewer.core.progress import Progress

SMALL = dict(subjects=3, clips_per_subject=3, seed=0)


def _build(out: Path, **kwargs) -> list[Progress]:
    return list(build_demo(out, **kwargs))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "corpus"
    progress = _build(out, workers=2, **SMALL)
    assert progress[-1].result == out and progress[-1].step == progress[-1].total
    assert [p.step for p in progress] == list(range(1, len(progress) + 1))
    return out


@pytest.fixture(scope="module")
def rows(corpus) -> list[dict]:
    """demo_truth/samples.csv: every sheet row with its anomaly kind and true frames."""
    with open(corpus / TRUTH_DIR / "samples.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _rows_of(rows, kinds=("normal",), sheet="me") -> list[dict]:
    return [r for r in rows if r["kind"] in kinds and r["sheet"] == sheet]


def _frame_paths(corpus: Path, row: dict, frame: int) -> tuple[Path, Path]:
    clip_dir = corpus / row["subject"] / row["clip_folder"]
    depth_dir = clip_dir if row["depth_beside_colour"] == "1" else clip_dir / "depth"
    return clip_dir / "color" / f"{frame}.jpg", depth_dir / f"{frame}.png"


def _read_pair(corpus, row, frame):
    color_path, depth_path = _frame_paths(corpus, row, frame)
    return cv2.imread(str(color_path), cv2.IMREAD_COLOR), cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)


def _truth(corpus, row) -> dict:
    with np.load(corpus / TRUTH_DIR / row["truth_file"]) as data:
        return {k: data[k] for k in data.files}


# --- layout and sheet ---------------------------------------------------------------


def test_layout_follows_part_a(corpus, rows):
    assert sorted(p.name for p in corpus.iterdir()) == sorted(
        [DEMO_SHEET_NAME, DEMO_MAE_SHEET_NAME, EXCLUSIONS_NAME, TRUTH_DIR]
        + sorted({r["subject"] for r in rows}))
    for row in _rows_of(rows, ANOMALY_KINDS + ("normal",)) + _rows_of(rows, sheet="mae"):
        if row["kind"] == "missing_clip":
            assert not (corpus / row["subject"] / row["clip"]).exists()
            assert not (corpus / row["subject"] / row["clip"].upper()).exists()
            continue
        color, depth = _read_pair(corpus, row, int(row["true_onset"]))
        assert color.shape == (720, 1280, 3)
        assert depth.dtype == np.uint16 and depth.shape == (720, 1280)
    names = [p.stem for p in corpus.glob("spNO.*/*/color/*.jpg")]
    assert all(n.isdigit() and not n.startswith("0") for n in names)  # 1-based, not zero-padded
    assert any(r["clip_folder"] != r["clip"] for r in rows)  # "E" on disk, "e" in the sheet
    beside = {r["subject"] for r in rows if r["depth_beside_colour"] == "1"}
    assert len(beside) == 1 and list(corpus.glob(f"{beside.pop()}/*/[0-9]*.png"))
    clips = [(r["subject"], r["clip"]) for r in rows if r["kind"] == "normal"]
    assert len(clips) > len(set(clips))  # two samples in one clip folder


def test_sheet_has_the_real_columns_and_values(corpus, rows):
    sheet = pd.read_excel(corpus / DEMO_SHEET_NAME, sheet_name="label")
    assert tuple(sheet.columns) == SHEET_COLUMNS
    assert len(sheet) == len([r for r in rows if r["sheet"] == "me"])
    assert sheet["Subject"].str.fullmatch(r"spNO\.\d+").all()
    assert sheet["Filename"].str.fullmatch(r"[a-m]").all()
    for column in ("Onset", "Apex", "Offset"):
        assert pd.api.types.is_integer_dtype(sheet[column])
    for au, objective, emotion in zip(sheet["AU"], sheet["Objective class"], sheet["emotion"]):
        assert parse_au(au) and objective_class(au) == objective
        assert normalise_emotion(emotion) is not None


def test_sheet_anomalies_are_present(corpus, rows):
    sheet = pd.read_excel(corpus / DEMO_SHEET_NAME, sheet_name="label")
    onset, apex, offset = sheet["Onset"], sheet["Apex"], sheet["Offset"]
    assert (onset == apex).any()
    assert ((apex < onset) & (onset > 0)).any()
    assert ((offset > 0) & (apex > offset)).any()
    assert (offset == 0).any()
    assert (onset == 0).any()
    kinds = {r["kind"] for r in rows}
    assert set(ANOMALY_KINDS) <= kinds
    for row in _rows_of(rows, ("missing_apex_frame",)):
        color, depth = _frame_paths(corpus, row, int(row["apex"]))
        assert not color.exists() and not depth.exists()
        assert _frame_paths(corpus, row, int(row["onset"]))[0].exists()
    for row in _rows_of(rows, ("offset_zero", "onset_equals_apex", "apex_after_offset")):
        assert _frame_paths(corpus, row, int(row["apex"]))[0].exists()


def test_exclusions_list_the_occluded_rows(corpus, rows):
    exclusions = pd.read_csv(corpus / EXCLUSIONS_NAME)
    assert list(exclusions.columns) == ["subject", "clip", "onset", "reason"]
    occluded = {(r["subject"], r["clip"], int(r["onset"])) for r in rows if r["kind"] == "hand_occlusion"}
    assert len(occluded) == 2
    assert set(zip(exclusions["subject"], exclusions["clip"], exclusions["onset"])) == occluded
    assert (exclusions["reason"] == "hand occlusion").all()


def test_plan_of_the_default_corpus():
    everything = plan_corpus(12, 8, seed=0)
    specs = [s for s in everything if s.sheet == "me"]
    macro = [s for s in everything if s.sheet == "mae"]
    assert everything == specs + macro and len(macro) == 24
    assert {s.objective_class for s in macro} == {"I", "II", "III", "IV", "V", "VI", "VII"}
    for s in macro:  # letters of their own, never shared with a micro-expression
        assert not any(m.subject == s.subject and m.clip == s.clip for m in specs)
    numbers = sorted({int(s.subject[5:]) for s in specs})
    assert len(numbers) == 12 and numbers[0] == 1 and numbers[-1] > 12  # not contiguous
    for number in numbers:
        normal = {s.emotion.lower() for s in specs if s.subject == f"spNO.{number}" and s.kind == "normal"}
        assert normal == set(EMOTION_AU_CHOICES)  # every class of the 3-, 4- and 7-class tasks
    assert any(s.emotion == "Others" for s in specs)
    kinds = [s.kind for s in specs]
    assert all(2 <= kinds.count(kind) <= 3 for kind in ANOMALY_KINDS if kind != "missing_clip")
    assert len(specs) == 96 + sum(kind != "normal" for kind in kinds)


def test_macro_expression_sheet_is_read_by_the_loader(corpus, rows):
    sheet = pd.read_excel(corpus / DEMO_MAE_SHEET_NAME, sheet_name="label")
    assert tuple(sheet.columns) == SHEET_COLUMNS
    macro = _rows_of(rows, sheet="mae")
    assert len(sheet) == len(macro) == 2 * SMALL["subjects"]
    assert {"happiness", "sadness"} <= set(sheet["emotion"])  # the MaE sheet's spellings
    dataset = Dataset.open(corpus, kind="mae")
    assert not dataset.skipped and len(dataset.samples) == len(macro)
    assert sorted(s.objective_class for s in dataset.samples) == \
        sorted(r["objective_class"] for r in macro) == sorted(["I", "II", "IV", "V", "III", "VI"])
    for sample, row in zip(sorted(dataset.samples, key=lambda s: s.id),
                           sorted(macro, key=lambda r: f"{r['subject']}_{r['clip']}_{r['onset']}")):
        assert sample.objective_class == objective_class(row["au"])
        assert sample.source == "mae" and sample.offset - sample.onset >= 5
    micro = {s.id for s in Dataset.open(corpus).samples}
    assert not micro & {s.id for s in dataset.samples}


def test_macro_expressions_move_2_to_6_mm_where_the_action_units_are(corpus, rows):
    for row in _rows_of(rows, sheet="mae"):
        truth = _truth(corpus, row)
        magnitude = np.linalg.norm(truth["displacement_mm"].astype(np.float32), axis=-1)
        assert 2.0 - 5e-3 <= magnitude.max() <= 6.0 + 5e-3 and str(truth["sheet"]) == "mae"
        landmarks = truth["landmarks_onset_px"] - truth["box_xyxy"][:2]
        ys = np.nonzero(truth["moving"])[0]
        if normalise_emotion(row["emotion"]) == "happy":
            assert (ys > landmarks[17:27, 1].min()).all()  # never the brows
        color, depth = _read_pair(corpus, row, int(row["true_apex"]))
        assert color is not None and depth is not None


def test_bad_arguments_are_refused(tmp_path):
    from mer_viewer.core.errors import MerError

    with pytest.raises(MerError):
        next(build_demo(tmp_path / "x", subjects=0))
    real = tmp_path / "casme3"  # a real copy has the same sheet name: never replaced
    real.mkdir()
    (real / DEMO_SHEET_NAME).write_bytes(b"precious")
    with pytest.raises(MerError):
        next(build_demo(real, subjects=1, clips_per_subject=1))
    assert (real / DEMO_SHEET_NAME).read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["casme3"]


# --- determinism --------------------------------------------------------------------


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_whatever_the_workers(corpus, tmp_path):
    _build(tmp_path / "again", workers=1, **SMALL)
    first, second = _all_bytes(corpus), _all_bytes(tmp_path / "again")
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    assert not list(tmp_path.glob(".again*"))  # no staging folder left


def test_another_seed_gives_another_corpus(tmp_path):
    _build(tmp_path / "a", subjects=1, clips_per_subject=1, seed=0, workers=1)
    _build(tmp_path / "b", subjects=1, clips_per_subject=1, seed=1, workers=1)
    a, b = _all_bytes(tmp_path / "a"), _all_bytes(tmp_path / "b")
    assert a[DEMO_SHEET_NAME] != b[DEMO_SHEET_NAME]
    common = [name for name in a.keys() & b.keys() if name.endswith((".jpg", ".png"))]
    assert all(a[name] != b[name] for name in common)


def test_macro_expressions_leave_the_micro_ones_as_they_were(tmp_path):
    _build(tmp_path / "a", subjects=1, clips_per_subject=1, seed=0, workers=1)
    _build(tmp_path / "none", subjects=1, clips_per_subject=1, seed=0, workers=1,
           macro_per_subject=0)
    a, none = _all_bytes(tmp_path / "a"), _all_bytes(tmp_path / "none")
    assert DEMO_MAE_SHEET_NAME in a and DEMO_MAE_SHEET_NAME not in none
    assert len(a) > len(none)
    changed = [name for name in none if a[name] != none[name]]
    assert changed == [f"{TRUTH_DIR}/samples.csv"]  # the table lists the macro rows too


# --- faces, depth, truth ------------------------------------------------------------


def test_dlib_finds_the_face_and_68_landmarks(corpus):
    import dlib

    models = importlib.util.find_spec("face_recognition_models").submodule_search_locations[0]
    predictor = dlib.shape_predictor(f"{models}/models/shape_predictor_68_face_landmarks.dat")
    detector = dlib.get_frontal_face_detector()
    frames = sorted(corpus.glob("spNO.*/*/color/*.jpg"))
    found = 0
    for path in frames:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        faces = detector(grey, 0)
        if not faces:
            continue
        face = max(faces, key=lambda r: r.area())
        points = np.array([(p.x, p.y) for p in predictor(grey, face).parts()])
        margin = 0.25 * face.width()
        inside = ((points[:, 0] > face.left() - margin) & (points[:, 0] < face.right() + margin)
                  & (points[:, 1] > face.top() - margin) & (points[:, 1] < face.bottom() + margin))
        found += len(points) == 68 and inside.all() and 200 <= face.width() <= 340
    assert found / len(frames) >= 0.95, f"{found}/{len(frames)} frames with a face"


def test_depth_is_a_face_at_arms_length_with_holes_on_silhouettes(corpus, rows):
    on_silhouette = elsewhere = 0
    for row in _rows_of(rows):
        truth = _truth(corpus, row)
        _, depth = _read_pair(corpus, row, int(row["true_onset"]))
        x0, y0, x1, y1 = truth["box_xyxy"]
        face = depth[y0:y1, x0:x1]
        assert 600 <= np.median(face[face > 0]) <= 800
        # the head: valid pixels, closed and filled; holes are the invalid pixels inside it
        valid = (depth > 0).astype(np.uint8)
        head = cv2.morphologyEx(valid, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
        cv2.floodFill(head, None, (0, 0), 2)
        head = head != 2
        holes = head & (depth == 0)
        # silhouette: a band inside the outline, or a depth step (jaw line, nose) nearby
        band = head & ~cv2.erode(head.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
        near_max = cv2.dilate(np.where(valid, depth, 0).astype(np.float32), np.ones((9, 9)))
        near_min = cv2.erode(np.where(valid, depth, 65535).astype(np.float32), np.ones((9, 9)))
        silhouette = band | (near_max - near_min > 12)
        assert holes.sum() > 1000
        on_silhouette += (holes & silhouette).sum()
        elsewhere += (holes & ~silhouette).sum()
        assert (holes & ~silhouette)[y0:y1, x0:x1].mean() < 0.01  # the face itself is nearly whole
    assert on_silhouette > 5 * elsewhere


def test_moving_regions_are_where_the_action_units_are(corpus, rows):
    for row in _rows_of(rows):
        truth = _truth(corpus, row)
        moving, field = truth["moving"], truth["displacement_mm"].astype(np.float32)
        magnitude = np.linalg.norm(field, axis=-1)
        assert moving.any() and 0.3 <= magnitude.max() <= 2.0 + 1e-3
        assert np.array_equal(moving, magnitude >= 0.2)
        landmarks = truth["landmarks_onset_px"] - truth["box_xyxy"][:2]
        ys = np.nonzero(moving)[0]
        eye_line = landmarks[36:48, 1].max()  # lowest eyelid point
        nose_tip = landmarks[30, 1]
        mouth_top = landmarks[48:60, 1].min()
        numbers = {int("".join(c for c in au if c.isdigit())) for au in truth["aus"]}
        emotion = str(truth["emotion"]).lower()
        if emotion == "happy":  # cheeks and lip corners, the lower lids (AU6), never the brows
            assert (ys > eye_line - 6).mean() > 0.8
            assert (ys > landmarks[17:27, 1].min()).all()
        if emotion == "surprise":  # brows / lids and the jaw, not the cheeks
            assert ((ys < (eye_line + nose_tip) / 2) | (ys > mouth_top)).mean() > 0.95
            if 26 in numbers:
                assert (ys > landmarks[57, 1]).any()
            if numbers & {1, 2}:
                assert (ys < landmarks[17:27, 1].max()).any()
        if numbers <= {12, 14, 15, 20, 23, 24, 28, 10, 17}:  # lower face only
            assert (ys > nose_tip - 10).mean() > 0.95


def _smooth_depth(depth: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Gaussian smoothing normalised by the valid mask (0 stays invalid)."""
    valid = (depth > 0).astype(np.float32)
    num = cv2.GaussianBlur(depth.astype(np.float32), (0, 0), sigma)
    den = cv2.GaussianBlur(valid, (0, 0), sigma)
    return np.where((den > 0.9) & (valid > 0), num / np.maximum(den, 1e-6), 0)


def _follow_truth(truth: dict, onset_depth: np.ndarray, field_scale: float = 1.0):
    """Move the onset surface points of the moving region as the truth says.

    Returns ``(u, v, qu, qv, z)``: onset pixels (N,), where they land in the apex
    (float32 (N,)), and their depth there (mm, (N,)) — AU field × ``field_scale``
    first, then the rigid head motion.
    """
    x0, y0 = truth["box_xyxy"][:2]
    field = truth["displacement_mm"].astype(np.float64) * field_scale
    v, u = np.nonzero(truth["moving"] & (onset_depth[y0:, x0:][:field.shape[0], :field.shape[1]] > 0))
    shift = field[v, u]
    u, v = u + x0, v + y0
    z = onset_depth[v, u].astype(np.float64)
    points = np.column_stack([(u - CX) * z / FX, (v - CY) * z / FY, z]) + shift
    moved = points @ truth["rigid"][:, :3].T + truth["rigid"][:, 3]
    qu = (FX * moved[:, 0] / moved[:, 2] + CX).astype(np.float32)
    qv = (FY * moved[:, 1] / moved[:, 2] + CY).astype(np.float32)
    return u, v, qu, qv, moved[:, 2]


def _sample_at(image: np.ndarray, qu, qv) -> np.ndarray:
    """Bilinear values of ``image`` at the points (qu, qv) (cv2.remap maps stay under 32k wide)."""
    n = len(qu)
    pad = -n % 1024
    grid_u = np.pad(qu, (0, pad)).reshape(-1, 1024)
    grid_v = np.pad(qv, (0, pad)).reshape(-1, 1024)
    return cv2.remap(image, grid_u, grid_v, cv2.INTER_LINEAR).reshape(-1)[:n]


def _depth_errors(apex_depth: np.ndarray, qu, qv, z) -> np.ndarray:
    """|apex depth at (qu, qv) − z| where all four neighbours are valid."""
    apex_depth = apex_depth.astype(np.float32)
    seen = _sample_at(apex_depth, qu, qv)
    valid = _sample_at((apex_depth > 0).astype(np.float32), qu, qv)
    return np.abs(seen - z)[valid > 0.999]


def test_noise_free_render_matches_truth_exactly(tmp_path, monkeypatch):
    """Without the sensor model (depth in 0.1 mm) the apex is the onset moved by the truth."""
    from mer_viewer.core.dataset import demo_render

    monkeypatch.setattr(demo_render, "sensor_depth",
                        lambda depth, rng: np.where(depth > 0, np.rint(depth * 10), 0).astype(np.uint16))
    demo_render.set_texture(demo_render.load_texture())
    for spec in [s for s in plan_corpus(2, 7, seed=3) if s.kind == "normal"][:3]:
        demo_render.render_sample(spec, tmp_path)
        row = {"subject": spec.subject, "clip_folder": spec.clip_folder,
               "depth_beside_colour": str(int(spec.depth_beside_color))}
        truth = _truth(tmp_path, {"truth_file": f"{spec.subject}_{spec.clip}_{spec.onset}.npz"})
        onset = _read_pair(tmp_path, row, spec.true_onset)[1] / 10.0
        apex = _read_pair(tmp_path, row, spec.true_apex)[1] / 10.0
        with_field = _depth_errors(apex, *_follow_truth(truth, onset)[2:])
        without = _depth_errors(apex, *_follow_truth(truth, onset, 0.0)[2:])
        assert np.median(with_field) < 0.06, spec.au  # 0.1 mm quantisation, interpolation
        assert np.median(with_field) < 0.5 * np.median(without), spec.au


def test_apex_frames_show_the_true_motion(corpus, rows):
    """In the noisy corpus: the apex is the onset moved by the truth, not by less or the opposite.

    Depth (smoothed; noise ≈ the motion): pooled over the samples, points moved by the
    AU field land where the apex depth agrees, better than unmoved or oppositely moved
    points. Colour: the apex grey value where a point lands matches the onset one
    (after a gain/offset fit for the lighting change) far better with the AU field.
    """
    pooled = {1.0: [], 0.0: [], -1.0: []}
    for row in _rows_of(rows):
        truth = _truth(corpus, row)
        onset_rgb, onset_depth = _read_pair(corpus, row, int(row["true_onset"]))
        apex_rgb, apex_depth = _read_pair(corpus, row, int(row["true_apex"]))
        onset_depth, apex_depth = _smooth_depth(onset_depth), _smooth_depth(apex_depth)
        onset_grey = cv2.cvtColor(onset_rgb, cv2.COLOR_BGR2GRAY).astype(np.float32)
        apex_grey = cv2.cvtColor(apex_rgb, cv2.COLOR_BGR2GRAY).astype(np.float32)
        color_error = {}
        for scale in pooled:
            u, v, qu, qv, z = _follow_truth(truth, onset_depth, scale)
            pooled[scale].append(_depth_errors(apex_depth, qu, qv, z))
            seen = _sample_at(apex_grey, qu, qv)
            gain, offset = np.polyfit(onset_grey[v, u], seen, 1)
            color_error[scale] = np.mean(np.abs(seen - (gain * onset_grey[v, u] + offset)))
        if len(u) >= 200:
            assert color_error[1.0] < 0.8 * color_error[0.0], (row["au"], color_error)
            assert color_error[1.0] < 0.8 * color_error[-1.0], (row["au"], color_error)
    median = {scale: float(np.median(np.concatenate(errors))) for scale, errors in pooled.items()}
    assert median[1.0] < 0.3, median  # about the smoothed sensor noise
    assert median[1.0] < 0.9 * median[0.0], median
    assert median[1.0] < 0.8 * median[-1.0], median
