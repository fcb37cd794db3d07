"""Face detection, crop box, depth fallback, apex→onset alignment and warping."""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import pytest

from mer_viewer.core import face
from mer_viewer.core.errors import FaceNotFoundError, FrameError, MerError

# skimage's astronaut: dlib finds the face at about x 179..272, y 83..178 of 512².
SCALE = 2.9  # landmark box ≈ 93 px wide in the photo -> ≈ 270 px, a CAS(ME)³-sized face
ORIGIN = (13, 52)  # canvas (0, 0) in the upscaled photo: face near the canvas centre


def _astronaut_canvas() -> np.ndarray:
    """(720, 1280, 3) uint8: the astronaut upscaled so the face is ≈ 270 px wide."""
    from skimage import data

    big = cv2.resize(data.astronaut(), None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    x0, y0 = ORIGIN
    return np.ascontiguousarray(big[y0:y0 + 720, x0:x0 + 1280])


@pytest.fixture(scope="module")
def onset() -> np.ndarray:
    return _astronaut_canvas()


@pytest.fixture(scope="module")
def onset_landmarks(onset) -> np.ndarray:
    return face.detect_landmarks(onset, "astronaut canvas")


def _moved(image: np.ndarray, matrix: np.ndarray, gain: float = 1.15, offset: float = 8.0):
    """The image seen after a rigid head motion (onset px -> apex px) and a lighting change."""
    height, width = image.shape[:2]
    apex = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
    return np.clip(apex.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _motion(box: face.Box, angle_deg: float, shift: tuple[float, float]) -> np.ndarray:
    centre = ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, angle_deg, 1.0)
    matrix[:, 2] += shift
    return matrix


def _max_box_error(estimate: np.ndarray, truth: np.ndarray, box: face.Box) -> float:
    """Largest displacement difference over the box (an affine difference peaks at a corner)."""
    corners = np.array([[x, y, 1.0] for x in (box.x0, box.x1) for y in (box.y0, box.y1)])
    return float(np.hypot(*(corners @ estimate.T - corners @ truth.T).T).max())


def test_landmarks_found_on_a_1280x720_frame(onset, onset_landmarks):
    from skimage import data

    assert onset_landmarks.shape == (68, 2) and onset_landmarks.dtype == np.float32
    assert 240 <= np.ptp(onset_landmarks[:, 0]) <= 300  # face ≈ 270 px wide
    # Independent truth: landmarks found on the original photo, mapped into the canvas.
    photo = face.detect_landmarks(data.astronaut(), detect_scale=1.0)
    expected = (photo + 0.5) * SCALE - 0.5 - np.array(ORIGIN)
    error = np.hypot(*(onset_landmarks - expected).T)
    assert np.median(error) < 4.0 and error.max() < 12.0
    # Anatomy: right eye (36..41) left of left eye (42..47) in the image, chin (8) below nose (30).
    assert onset_landmarks[36:42, 0].mean() < onset_landmarks[42:48, 0].mean()
    assert onset_landmarks[8, 1] > onset_landmarks[30, 1] > onset_landmarks[27, 1]


def test_half_scale_detection_gives_full_scale_landmarks(onset, onset_landmarks):
    full = face.detect_landmarks(onset, detect_scale=1.0)
    error = np.abs(full - onset_landmarks)  # the detector box only seeds the predictor
    assert np.median(error) <= 1.5 and error.max() <= 6.0


@pytest.mark.parametrize("image", [np.zeros((720, 1280, 3), np.uint8),
                                   np.random.default_rng(0).integers(0, 256, (720, 1280, 3),
                                                                     dtype=np.uint8)],
                         ids=["blank", "noise"])
def test_no_face_raises_naming_the_source(image):
    with pytest.raises(FaceNotFoundError, match=r"spNO\.1/a/color/12\.jpg"):
        face.detect_landmarks(image, "spNO.1/a/color/12.jpg")
    assert issubclass(FaceNotFoundError, MerError)


def test_wrong_frame_type_is_a_frame_error():
    with pytest.raises(FrameError, match="x.png"):
        face.detect_landmarks(np.zeros((720, 1280), np.uint16), "x.png")


def test_crop_box_margin_forehead_and_clipping():
    points = np.array([[100, 200], [300, 200], [100, 400], [300, 400]], np.float32)
    assert face.crop_box(points, (720, 1280), margin=0.1, forehead=0.0) == (80, 180, 321, 421)
    # The forehead raises only the top edge, by forehead × height (200 px).
    assert face.crop_box(points, (720, 1280), margin=0.1, forehead=0.25) == (80, 130, 321, 421)
    assert face.crop_box(points - 150, (200, 160), margin=0.1) == (0, 0, 160, 200)
    box = face.crop_box(points, (720, 1280))
    assert box.slices == (slice(box.y0, box.y1), slice(box.x0, box.x1))


def _synthetic_head_depth(rng) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """(720, 1280) uint16 depth: wall, shoulders, neck, a real-sized head, a spike, 5 % holes."""
    depth = np.full((720, 1280), 1400.0)
    depth[600:, 330:950] = 820.0  # shoulders: 200+ mm behind the nose, outside the band
    depth[520:, 585:695] = 690.0  # neck: inside the band, must not stretch the box down
    ys, xs = np.mgrid[0:720, 0:1280]
    a, b, cx, cy = 150.0, 220.0, 640.0, 330.0  # ≈ 0.15 × 0.22 m at 0.64 m
    r2 = ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2
    head = r2 < 1
    depth[head] = 660.0 - 60.0 * np.sqrt(1.0 - r2[head])
    depth[100:108, 100:108] = 300.0  # a flying-pixel spike nearer than the face
    depth[rng.random(depth.shape) < 0.05] = 0
    truth = (int(cx - a), int(cy - b), int(cx + a) + 1, int(cy + b) + 1)
    return depth.astype(np.uint16), truth


def test_face_box_from_depth_contains_the_head():
    depth, (hx0, hy0, hx1, hy1) = _synthetic_head_depth(np.random.default_rng(3))
    box = face.face_box_from_depth(depth, "synthetic")
    assert box.x0 <= hx0 + 2 and box.y0 <= hy0 + 2 and box.x1 >= hx1 - 2 and box.y1 >= hy1 - 2
    assert box.width <= 1.3 * (hx1 - hx0) and box.height <= 1.3 * (hy1 - hy0)


def test_find_face_uses_depth_only_when_asked():
    depth, _ = _synthetic_head_depth(np.random.default_rng(4))
    blank = np.zeros((720, 1280, 3), np.uint8)
    with pytest.raises(FaceNotFoundError, match="clip-a onset"):
        face.find_face(blank, depth, "clip-a onset")
    found = face.find_face(blank, depth, "clip-a onset", depth_fallback=True)
    assert found.method == "depth" and found.landmarks is None and found.box.width > 0


def test_find_face_with_dlib(onset, onset_landmarks):
    found = face.find_face(onset)
    assert found.method == "dlib" and found.box == face.crop_box(onset_landmarks, onset.shape)


@pytest.mark.parametrize("angle_deg, shift", [(0.15, (0.6, -0.4)), (-0.3, (1.3, 0.7))])
def test_ecc_recovers_subpixel_motion_despite_lighting(onset, onset_landmarks, angle_deg, shift):
    box = face.crop_box(onset_landmarks, onset.shape)
    truth = _motion(box, angle_deg, shift)
    apex = _moved(onset, truth)
    apex_landmarks = face.detect_landmarks(apex, "apex")
    errors = {}
    for method in face.ALIGN_METHODS:
        alignment = face.align(onset, apex, onset_landmarks, apex_landmarks, box, method)
        assert alignment.method == method and alignment.requested == method
        errors[method] = _max_box_error(alignment.matrix, truth, box)
    print(f"\nmax error over the face box, rotation {angle_deg}°, shift {shift} px: "
          + ", ".join(f"{m} {e:.3f} px" for m, e in errors.items()))
    assert errors["ecc"] <= 0.1
    assert errors["landmarks"] > 3 * errors["ecc"]


def test_none_is_the_identity(onset, onset_landmarks):
    box = face.crop_box(onset_landmarks, onset.shape)
    alignment = face.align(onset, onset, onset_landmarks, onset_landmarks + 1, box, "none")
    np.testing.assert_array_equal(alignment.matrix, np.eye(2, 3))
    assert alignment.shift_px == 0.0 and alignment.converged


def test_ecc_without_landmarks_starts_from_identity(onset, onset_landmarks):
    box = face.crop_box(onset_landmarks, onset.shape)
    truth = _motion(box, 0.1, (0.8, 0.3))
    alignment = face.align(onset, _moved(onset, truth), None, None, box, "ecc")
    assert alignment.method == "ecc" and _max_box_error(alignment.matrix, truth, box) <= 0.1
    fallback = face.align(onset, onset, None, None, box, "landmarks")
    assert fallback.method == "none" and fallback.fallback_reason


def test_ecc_failure_falls_back_to_landmarks(onset, onset_landmarks):
    box = face.crop_box(onset_landmarks, onset.shape)
    noise = np.random.default_rng(1).integers(0, 256, onset.shape, dtype=np.uint8)
    alignment = face.align(onset, noise, onset_landmarks, onset_landmarks + 0.5, box, "ecc")
    assert alignment.requested == "ecc" and alignment.method == "landmarks"
    assert not alignment.converged and "ECC" in alignment.fallback_reason
    np.testing.assert_allclose(alignment.matrix, [[1, 0, 0.5], [0, 1, 0.5]], atol=1e-6)


def _alignment(matrix) -> face.Alignment:
    return face.Alignment(np.asarray(matrix, float), "ecc", "ecc", True, 0.0)


def _naive_warp_depth(depth: np.ndarray, matrix: np.ndarray, box: face.Box) -> np.ndarray:
    """Per-pixel reference: bilinear where every neighbour with weight > 1e-6 is valid."""
    height, width = depth.shape
    out = np.zeros((box.height, box.width), np.float32)
    for row, v in enumerate(range(box.y0, box.y1)):
        for col, u in enumerate(range(box.x0, box.x1)):
            x = matrix[0, 0] * u + matrix[0, 1] * v + matrix[0, 2]
            y = matrix[1, 0] * u + matrix[1, 1] * v + matrix[1, 2]
            if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
                continue
            i, j = math.floor(y), math.floor(x)
            fy, fx = y - i, x - j
            total = weights = 0.0
            valid = True
            for di, dj, w in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)),
                              (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
                if w <= 1e-6:
                    continue
                value = float(depth[i + di, j + dj])
                valid &= value > 0
                total += w * value
                weights += w
            if valid:
                out[row, col] = total / weights
    return out


def test_warp_depth_matches_naive_reference_and_never_blends_holes():
    rng = np.random.default_rng(7)
    ys, xs = np.mgrid[0:60, 0:80]
    depth = (600 + 0.8 * xs + 0.3 * ys + 5 * np.sin(xs / 6.0)).astype(np.uint16)
    depth[rng.random(depth.shape) < 0.08] = 0
    depth[20:26, 30:37] = 0
    box = face.Box(5, 4, 75, 56)
    matrix = cv2.getRotationMatrix2D((40, 30), 1.5, 1.0)
    matrix[:, 2] += (0.37, -0.61)
    warped = face.warp_depth(depth, _alignment(matrix), box)
    reference = _naive_warp_depth(depth, matrix, box)
    assert warped.dtype == np.float32 and warped.shape == (box.height, box.width)
    np.testing.assert_allclose(warped, reference, atol=1e-3)
    assert (warped == 0).sum() > 0.2 * warped.size  # holes grow by a pixel, as they must
    assert warped[warped > 0].min() >= 599  # nothing dragged towards 0 mm


def _previous_warp_depth(depth_mm: np.ndarray, matrix: np.ndarray, box: face.Box) -> np.ndarray:
    """``warp_depth`` as it was before it read the neighbours from the flat frame."""
    height, width = depth_mm.shape
    depth = depth_mm.astype(np.float64)
    u, v = np.meshgrid(np.arange(box.x0, box.x1, dtype=np.float64),
                       np.arange(box.y0, box.y1, dtype=np.float64))
    xs = matrix[0, 0] * u + matrix[0, 1] * v + matrix[0, 2]
    ys = matrix[1, 0] * u + matrix[1, 1] * v + matrix[1, 2]
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    xf, yf = np.floor(xs), np.floor(ys)
    fx, fy = xs - xf, ys - yf
    xi = np.clip(xf, 0, width - 1).astype(np.intp)
    yi = np.clip(yf, 0, height - 1).astype(np.intp)
    xj, yj = np.minimum(xi + 1, width - 1), np.minimum(yi + 1, height - 1)
    corners = ((yi, xi), (yi, xj), (yj, xi), (yj, xj))
    weights = ((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy)
    total, weight_sum, ok = np.zeros(xs.shape), np.zeros(xs.shape), inside.copy()
    for corner, weight in zip(corners, weights):
        used = weight > 1e-6
        value = depth[corner]
        ok &= ~used | (value > 0)
        total += np.where(used, weight * value, 0.0)
        weight_sum += np.where(used, weight, 0.0)
    out = np.zeros(xs.shape, dtype=np.float32)
    out[ok] = (total[ok] / weight_sum[ok]).astype(np.float32)
    return out


def test_warp_depth_equals_the_previous_implementation_on_demo_frames(demo_corpus):
    from mer_viewer.core.dataset import Dataset

    rng = np.random.default_rng(5)
    for sample in Dataset.open(demo_corpus).samples:
        depth = sample.frames.depth(sample.apex)
        height, width = depth.shape
        box = face.find_face(sample.frames.color(sample.onset)).box
        edge = face.Box(0, 0, 120, 90)  # samples beyond the frame's edge
        for angle, shift in ((0.0, (2.0, -1.0)), (rng.uniform(-1, 1), rng.uniform(-2, 2, 2)),
                             (rng.uniform(-1, 1), rng.uniform(-2, 2, 2)), (0.5, (-3.3, -2.6))):
            matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
            matrix[:, 2] += shift
            for where in (box, edge):
                np.testing.assert_array_equal(face.warp_depth(depth, _alignment(matrix), where),
                                              _previous_warp_depth(depth, matrix, where))


def test_warp_depth_identity_and_integer_shift_are_exact():
    rng = np.random.default_rng(8)
    depth = rng.integers(500, 900, (40, 50)).astype(np.uint16)
    depth[rng.random(depth.shape) < 0.1] = 0
    box = face.Box(10, 8, 40, 30)
    np.testing.assert_array_equal(face.warp_depth(depth, _alignment(np.eye(2, 3)), box),
                                  depth[box.slices])
    shifted = face.warp_depth(depth, _alignment([[1, 0, 3], [0, 1, -2]]), box)
    np.testing.assert_array_equal(shifted, depth[6:28, 13:43])


def _bilinear_warp_rgb(rgb: np.ndarray, matrix: np.ndarray, box: face.Box) -> np.ndarray:
    """Reference: exact bilinear sampling in float at M·(u, v, 1), positions clamped to the
    frame (the numpy ``warp_rgb`` before it used OpenCV)."""
    height, width = rgb.shape[:2]
    v, u = np.mgrid[box.y0:box.y1, box.x0:box.x1].astype(np.float64)
    xs = np.clip(matrix[0, 0] * u + matrix[0, 1] * v + matrix[0, 2], 0, width - 1)
    ys = np.clip(matrix[1, 0] * u + matrix[1, 1] * v + matrix[1, 2], 0, height - 1)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (xs - x0)[..., None], (ys - y0)[..., None]
    src = rgb.astype(np.float64)
    out = ((1 - fx) * (1 - fy) * src[y0, x0] + fx * (1 - fy) * src[y0, x1]
           + (1 - fx) * fy * src[y1, x0] + fx * fy * src[y1, x1])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def test_warp_rgb_matches_exact_bilinear_and_integer_shift(onset, onset_landmarks):
    box = face.crop_box(onset_landmarks, onset.shape)
    shifted = face.warp_rgb(onset, _alignment([[1, 0, 4], [0, 1, -3]]), box)
    np.testing.assert_array_equal(shifted, onset[box.y0 - 3:box.y1 - 3, box.x0 + 4:box.x1 + 4])
    for angle, shift in ((0.4, (0.3, 0.45)), (-0.8, (0.77, -0.31)), (1.0, (-1.13, 0.5))):
        matrix = _motion(box, angle, shift)
        warped = face.warp_rgb(onset, _alignment(matrix), box)
        assert warped.shape == (box.height, box.width, 3) and warped.dtype == np.uint8
        difference = np.abs(warped.astype(int) - _bilinear_warp_rgb(onset, matrix, box))
        assert difference.max() <= 1  # OpenCV rounds sample positions to 1/32 px


def test_warp_rgb_replicates_the_frame_edge():
    rgb = np.random.default_rng(3).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    box = face.Box(0, 0, 60, 40)
    matrix = np.array([[1.0, 0, -2.5], [0, 1.0, 1.0]])  # samples left of the frame
    warped = face.warp_rgb(rgb, _alignment(matrix), box)
    np.testing.assert_array_equal(warped[:, :2], _bilinear_warp_rgb(rgb, matrix, box)[:, :2])
    assert np.abs(warped.astype(int) - _bilinear_warp_rgb(rgb, matrix, box)).max() <= 1


def test_alignment_provenance_is_json_ready(onset, onset_landmarks):
    import json

    box = face.crop_box(onset_landmarks, onset.shape)
    record = face.align(onset, onset, onset_landmarks, onset_landmarks, box, "ecc").as_dict()
    assert json.loads(json.dumps(record))["method"] == "ecc"
    assert np.allclose(record["matrix"], np.eye(2, 3), atol=1e-3)


def test_warm_up_helper_gives_the_same_landmarks_and_loads_nothing_here(onset, onset_landmarks,
                                                                        monkeypatch):
    """After ``warm_up`` the models live in a helper process: detection there equals
    detection here, and this process never loads them (which would hold the GIL ~1–2 s)."""
    monkeypatch.setattr(face, "_models_cache", None)  # as in a process that never detected
    monkeypatch.setattr(face, "_helper", None)
    ready = face.warm_up()
    try:
        assert face.warm_up() is ready  # idempotent: one helper
        assert ready.result(timeout=120) and face.models_ready()
        # it yields the cores to this process (a GUI thread, the GL threads) when both want one
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert [os.getpriority(os.PRIO_PROCESS, p.pid) for p in face._helper[1]._processes.values()
                ] == [min(19, mine + face.HELPER_NICE)]
        np.testing.assert_array_equal(face.detect_landmarks(onset, "canvas"), onset_landmarks)
        with pytest.raises(FaceNotFoundError, match="blank.jpg"):
            face.detect_landmarks(np.zeros((720, 1280, 3), np.uint8), "blank.jpg")
        assert face._models_cache is None
    finally:
        face._drop_helper()


def test_a_dead_helper_falls_back_to_this_process(onset, onset_landmarks, monkeypatch):
    monkeypatch.setattr(face, "_helper", None)
    face.warm_up().result(timeout=120)
    pool = face._helper[1]
    for process in list(pool._processes.values()):
        process.kill()
        process.join()
    np.testing.assert_array_equal(face.detect_landmarks(onset), onset_landmarks)
    assert face._helper is None and face._models_cache is not None


def test_follow_landmarks_fits_in_the_onset_rectangle_as_detection_would(demo_corpus):
    """On the demo's apex frames the landmarks fitted in the onset's rectangle are those of a
    fresh detection, to a few px (the detector usually gives the very same rectangle)."""
    from mer_viewer.core.dataset import Dataset

    for sample in Dataset.open(demo_corpus).samples:
        frames = sample.frames
        onset = face.find_face(frames.color(sample.onset))
        apex = frames.color(sample.apex)
        assert onset.rect is not None
        followed = face.follow_landmarks(apex, onset, "apex")
        detected = face.detect_landmarks(apex, "apex")
        assert face.plausible_follow(onset.landmarks, face._fit(apex, onset.rect), onset.rect)
        assert np.linalg.norm(followed - detected, axis=1).max() <= 4.0
        assert np.linalg.norm(followed - detected, axis=1).mean() <= 1.0


def test_follow_landmarks_detects_again_when_the_fit_is_implausible(onset):
    found = face.find_face(onset)
    left, top, right, bottom = found.rect
    width = right - left + 1
    centre = ((left + right) / 2, (top + bottom) / 2)
    moved = np.ascontiguousarray(np.roll(onset, int(0.15 * width), axis=1))  # the head moved
    closer = cv2.warpAffine(onset, cv2.getRotationMatrix2D(centre, 0.0, 1.2), (1280, 720))
    for image in (moved, closer):
        fitted = face._fit(image, found.rect)
        assert not face.plausible_follow(found.landmarks, fitted, found.rect)
        np.testing.assert_array_equal(face.follow_landmarks(image, found),
                                      face.detect_landmarks(image))
    blank = np.zeros_like(onset)
    assert not face.plausible_follow(found.landmarks, face._fit(blank, found.rect), found.rect)
    with pytest.raises(FaceNotFoundError, match="blank.jpg"):
        face.follow_landmarks(blank, found, "blank.jpg")
    # a face found from depth has no rectangle: detection
    from_depth = face.FaceDetection(found.box, None, "depth")
    np.testing.assert_array_equal(face.follow_landmarks(onset, from_depth),
                                  face.detect_landmarks(onset))


def test_follow_landmarks_follows_a_turned_head(onset):
    """A head turned in the image plane stays in the rectangle: the fit follows it, as
    detection would."""
    found = face.find_face(onset)
    turned = cv2.warpAffine(onset, cv2.getRotationMatrix2D((640, 360), 10, 1.0), (1280, 720))
    assert face.plausible_follow(found.landmarks, face._fit(turned, found.rect), found.rect)
    difference = np.linalg.norm(face.follow_landmarks(turned, found)
                                - face.detect_landmarks(turned), axis=1)
    assert difference.max() <= 5.0 and difference.mean() <= 1.5
