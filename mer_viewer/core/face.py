"""Face detection (dlib), crop box, apex→onset alignment (landmarks + ECC) and warping."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import cv2
import numpy as np

from mer_viewer.core.errors import FaceNotFoundError, FrameError, MerError

AlignMethod = Literal["ecc", "landmarks", "none"]
ALIGN_METHODS: tuple[AlignMethod, ...] = ("ecc", "landmarks", "none")

#: dlib 68-point indices that barely move in facial expressions: eye corners and nose bridge.
STABLE_LANDMARKS = (36, 39, 42, 45, 27, 28, 29, 30)

_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
_models_lock = threading.Lock()
_models_cache: tuple[Any, Any] | None = None  # dlib's detector and predictor (untyped)
#: The helper process of ``warm_up`` (with the pid that started it: a forked child must not
#: use its parent's) and the future that completes once it has loaded the models.
_helper: tuple[int, ProcessPoolExecutor, Future] | None = None


class Box(NamedTuple):
    """Half-open pixel box ``[x0, x1) × [y0, y1)`` in full-frame coordinates."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def slices(self) -> tuple[slice, slice]:
        """``frame[box.slices]`` crops a (H, W, ...) array."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


#: dlib's face rectangle: (left, top, right, bottom) full-frame px, right and bottom inclusive.
Rect = tuple[int, int, int, int]


@dataclass(frozen=True, eq=False)
class FaceDetection:
    """Where the face is: crop box, landmarks ((68, 2) float32 px, None for depth) and method.

    ``rect`` is the detector's rectangle the landmarks were fitted in (None for depth):
    :func:`follow_landmarks` fits the other frames of the clip in it.
    """

    box: Box
    landmarks: np.ndarray | None
    method: Literal["dlib", "depth"]
    rect: Rect | None = None


@dataclass(frozen=True, eq=False)
class Alignment:
    """Rigid apex↔onset registration.

    ``matrix`` (2×3 float64) maps an onset full-frame pixel ``(u, v, 1)`` to the
    apex full-frame pixel showing the same face point; ``warp_rgb``/``warp_depth``
    sample the apex there, so the warped apex lies on the onset pixel grid.
    ``method`` is what produced the matrix, ``requested`` what was asked for;
    they differ after a fallback, whose reason is in ``fallback_reason``.
    ``shift_px`` is the displacement the matrix applies at the box centre.
    """

    matrix: np.ndarray
    method: AlignMethod
    requested: AlignMethod
    converged: bool
    shift_px: float
    ecc_score: float | None = None
    fallback_reason: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready provenance record (the matrix as nested lists)."""
        return {"method": self.method, "requested": self.requested, "converged": self.converged,
                "shift_px": self.shift_px, "ecc_score": self.ecc_score,
                "fallback_reason": self.fallback_reason, "matrix": self.matrix.tolist()}


def predictor_path() -> Path:
    """Path of dlib's 68-landmark model shipped by ``face_recognition_models`` (not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MerError("face_recognition_models is not installed (it ships the dlib landmark model)")
    path = Path(spec.submodule_search_locations[0]) / "models" / _PREDICTOR_FILE
    if not path.is_file():
        raise MerError(f"{path}: dlib landmark model missing")
    return path


def _models() -> tuple[Any, Any]:
    """The HOG face detector and the shape predictor, loaded once per process."""
    global _models_cache
    with _models_lock:
        if _models_cache is None:
            import dlib  # heavy; only the face step needs it

            _models_cache = (dlib.get_frontal_face_detector(),
                             dlib.shape_predictor(str(predictor_path())))
        return _models_cache


def _models_loaded() -> bool:
    """In the helper process, after its initializer: the models are there."""
    return _models_cache is not None


#: Niceness added to the helper process: it never takes a core from the GUI thread (or the
#: GL threads drawing for it) while both want one; idle, it runs at full speed.
HELPER_NICE = 5


def _start_helper() -> None:
    """The helper process's initializer: a lower priority, then the models."""
    try:
        os.nice(HELPER_NICE)
    except OSError:  # not allowed here: it runs at the usual priority
        pass
    _models()


def warm_up() -> Future:
    """Load dlib's face detector and landmark model in a helper process, started now;
    from then on ``detect_landmarks`` of this process runs there.

    Loading them here would hold the GIL for 1–2 s (dlib reads its 100 MB model in one
    C++ call): a GUI would freeze on its first uncached clip. The helper is spawned
    (never forked from a threaded process) and shared by every thread; idempotent.
    The future's result is True once the models are loaded; if the helper cannot
    start or load them, ``detect_landmarks`` loads them in this process instead (and
    reports a missing model as usual).
    """
    global _helper
    with _models_lock:
        if _helper is None or _helper[0] != os.getpid():
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_start_helper)
            _helper = (os.getpid(), pool, pool.submit(_models_loaded))
        return _helper[2]


def models_ready() -> bool:
    """Whether ``detect_landmarks`` can run without loading the models first (here or in
    the ``warm_up`` helper)."""
    helper = _helper
    if helper is not None and helper[0] == os.getpid():
        ready = helper[2]
        return ready.done() and ready.exception() is None and bool(ready.result())
    return _models_cache is not None


def _helper_pool() -> ProcessPoolExecutor | None:
    helper = _helper
    return helper[1] if helper is not None and helper[0] == os.getpid() else None


def _drop_helper() -> None:
    global _helper
    with _models_lock:
        if _helper is not None:
            _helper[1].shutdown(wait=False, cancel_futures=True)
            _helper = None


def _fit(rgb: np.ndarray, rect: Rect) -> np.ndarray:
    """(68, 2) float32 landmarks fitted by the shape predictor in ``rect``; runs in whichever
    process has the models."""
    import dlib

    shape = _models()[1](rgb, dlib.rectangle(*rect))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def _detect(rgb: np.ndarray, detect_scale: float) -> tuple[np.ndarray, Rect] | None:
    """(68, 2) float32 landmarks and rectangle of the largest face, None without a face (see
    ``detect_landmarks``); runs in whichever process has the models."""
    detector = _models()[0]
    rects, scale = [], 1.0
    if detect_scale < 1.0:
        small = cv2.resize(rgb, None, fx=detect_scale, fy=detect_scale, interpolation=cv2.INTER_AREA)
        rects, scale = detector(small, 0), detect_scale
    if len(rects) == 0:
        rects, scale = detector(rgb, 0), 1.0
    if len(rects) == 0:
        return None
    best = max(rects, key=lambda r: r.width() * r.height())
    rect = (int(round(best.left() / scale)), int(round(best.top() / scale)),
            int(round(best.right() / scale)), int(round(best.bottom() / scale)))
    return _fit(rgb, rect), rect


def _check_rgb(rgb: np.ndarray, source: object) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise FrameError(str(source or "<frame>"),
                         f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    return np.ascontiguousarray(rgb)


def _with_models(function, *args):
    """``function(*args)`` in the helper process of ``warm_up`` when this process started
    one (here if it died or could not load the models), else here."""
    pool = _helper_pool()
    if pool is not None:
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool:
            _drop_helper()
    return function(*args)


def _detect_face(rgb: np.ndarray, source: Path | str | None,
                 detect_scale: float) -> tuple[np.ndarray, Rect]:
    found = _with_models(_detect, _check_rgb(rgb, source), detect_scale)
    if found is None:
        raise FaceNotFoundError(source, "no face found by the dlib HOG detector")
    return found


def detect_landmarks(rgb: np.ndarray, source: Path | str | None = None,
                     detect_scale: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (68, 2) float32 full-frame (x, y) px of the largest face.

    The HOG detector runs on a copy downscaled by ``detect_scale`` (CAS(ME)³
    faces are ~300 px wide, far above its 80 px minimum), retried at full size if
    that finds nothing; the shape predictor always runs at full resolution.
    Raises ``FaceNotFoundError`` naming ``source`` when no face is found.
    In the helper process of ``warm_up`` when this process started one.
    """
    return _detect_face(rgb, source, detect_scale)[0]


#: ``follow_landmarks`` keeps the landmarks fitted in the onset's rectangle when they moved
#: (mean over the 68) at most this fraction of the rectangle's width from the onset's...
FOLLOW_MAX_SHIFT = 0.05
#: ... their spread changed by at most this fraction, and the stable landmarks (eye corners,
#: nose) fit the onset's by a similarity to within this fraction of the width (RMS).
FOLLOW_MAX_SCALE_CHANGE = 0.05
FOLLOW_MAX_RESIDUAL = 0.01


def plausible_follow(onset_landmarks: np.ndarray, landmarks: np.ndarray, rect: Rect) -> bool:
    """Whether ``landmarks`` fitted in the onset's ``rect`` on another frame can be trusted:
    the face is where it was, as large, and its rigid part has the onset's shape."""
    if not np.isfinite(landmarks).all():
        return False
    width = float(rect[2] - rect[0] + 1)
    onset = onset_landmarks.astype(np.float64)
    other = landmarks.astype(np.float64)
    shift = float(np.linalg.norm(other.mean(axis=0) - onset.mean(axis=0)))
    spread = np.linalg.norm(other - other.mean(axis=0), axis=1).mean()
    onset_spread = np.linalg.norm(onset - onset.mean(axis=0), axis=1).mean()
    if shift > FOLLOW_MAX_SHIFT * width or onset_spread <= 0:
        return False
    if abs(spread / onset_spread - 1.0) > FOLLOW_MAX_SCALE_CHANGE:
        return False
    stable = list(STABLE_LANDMARKS)
    matrix, _ = cv2.estimateAffinePartial2D(onset[stable], other[stable])
    if matrix is None:
        return False
    fitted = onset[stable] @ matrix[:, :2].T + matrix[:, 2]
    residual = float(np.sqrt(np.mean(np.sum((fitted - other[stable]) ** 2, axis=1))))
    return residual <= FOLLOW_MAX_RESIDUAL * width


def follow_landmarks(rgb: np.ndarray, onset: FaceDetection,
                     source: Path | str | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB of another frame of the onset's clip -> (68, 2) float32 landmarks.

    A micro-expression clip barely moves the head, so the shape predictor runs in the
    rectangle the onset's face was found in (2 ms) instead of the face detector running
    again (~20 ms). When the fit is implausible (``plausible_follow``: the head moved or
    turned, or no face is there) or the onset face has no rectangle (found from depth),
    the face is detected as by ``detect_landmarks`` (which may raise FaceNotFoundError).
    """
    rgb = _check_rgb(rgb, source)
    if onset.rect is not None and onset.landmarks is not None:
        landmarks = _with_models(_fit, rgb, onset.rect)
        if plausible_follow(onset.landmarks, landmarks, onset.rect):
            return landmarks
    return detect_landmarks(rgb, source)


def crop_box(landmarks: np.ndarray, frame_shape: tuple[int, ...], margin: float = 0.10,
             forehead: float = 0.25) -> Box:
    """(68, 2) landmarks -> Box: landmark bounding box grown by ``margin`` × its size per side.

    The 68 landmarks stop at the eyebrows, so the top is raised by a further
    ``forehead`` × box height: with the defaults the box reaches 0.35 × (brow→chin)
    above the brows, about 70 % of the forehead (facial thirds), where AU1/2/4
    wrinkle the skin, stopping short of the hairline. ``forehead=0`` gives the
    paper's literal box. Clipped to ``frame_shape`` (H, W, ...).
    """
    xmin, ymin = landmarks.min(axis=0)
    xmax, ymax = landmarks.max(axis=0)
    w, h = xmax - xmin, ymax - ymin
    height, width = frame_shape[:2]
    x0 = int(np.clip(np.floor(xmin - margin * w), 0, width))
    x1 = int(np.clip(np.ceil(xmax + margin * w) + 1, 0, width))
    y0 = int(np.clip(np.floor(ymin - (margin + forehead) * h), 0, height))
    y1 = int(np.clip(np.ceil(ymax + margin * h) + 1, 0, height))
    return Box(x0, y0, x1, y1)


def face_box_from_depth(depth_mm: np.ndarray, source: Path | str | None = None,
                        relief_mm: float = 150.0, focal_px: float = 1324.65,
                        head_size_m: tuple[float, float] = (0.18, 0.25)) -> Box:
    """(H, W) depth in mm (0 = invalid) -> Box of the nearest head-sized blob.

    Pixels within ``relief_mm`` of the nearest valid depth (0.5th percentile, so
    isolated spikes are ignored) form blobs; the largest one is the head. Its box
    is limited to a head of ``head_size_m`` (width, height) metres at the blob's
    median depth, measured from the blob's top, so a neck or shoulders inside the
    depth band do not stretch it. For use only when dlib finds no face.
    """
    depth = np.asarray(depth_mm, dtype=np.float32)
    valid = depth > 0
    if valid.sum() < 100:
        raise FaceNotFoundError(source, "no valid depth to find a face in")
    nearest = float(np.percentile(depth[valid], 0.5))
    near = (valid & (depth <= nearest + relief_mm)).astype(np.uint8)
    opened = cv2.morphologyEx(near, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    if count < 2:
        raise FaceNotFoundError(source, "no near surface in the depth map")
    label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = labels == label
    z_m = float(np.median(depth[blob])) / 1000.0
    head_w, head_h = (focal_px * s / z_m for s in head_size_m)
    rows = np.flatnonzero(blob.any(axis=1))
    top = int(rows[0])
    y1 = int(min(rows[-1] + 1, top + np.ceil(head_h)))
    cols = np.flatnonzero(blob[top:y1])  # flat indices within the head rows
    xs = cols % depth.shape[1]
    centre = float(np.median(xs))
    x0 = int(max(xs.min(), np.floor(centre - head_w / 2)))
    x1 = int(min(xs.max() + 1, np.ceil(centre + head_w / 2)))
    return Box(x0, top, x1, y1)


def find_face(rgb: np.ndarray, depth_mm: np.ndarray | None = None,
              source: Path | str | None = None, margin: float = 0.10, forehead: float = 0.25,
              depth_fallback: bool = False) -> FaceDetection:
    """Landmarks and crop box by dlib; with ``depth_fallback`` a depth blob box if dlib fails."""
    try:
        landmarks, rect = _detect_face(rgb, source, 0.5)
    except FaceNotFoundError:
        if not depth_fallback or depth_mm is None:
            raise
        return FaceDetection(face_box_from_depth(depth_mm, source), None, "depth")
    return FaceDetection(crop_box(landmarks, rgb.shape, margin, forehead), landmarks, "dlib",
                         rect)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)


def _centre_shift(matrix: np.ndarray, box: Box) -> float:
    centre = np.array([(box.x0 + box.x1 - 1) / 2, (box.y0 + box.y1 - 1) / 2, 1.0])
    return float(np.hypot(*(matrix @ centre - centre[:2])))


def landmark_similarity(onset_landmarks: np.ndarray, apex_landmarks: np.ndarray) -> np.ndarray:
    """2×3 similarity (onset px -> apex px) fitted to the stable landmarks (RANSAC, 2 px)."""
    src = onset_landmarks[list(STABLE_LANDMARKS)].astype(np.float64)
    dst = apex_landmarks[list(STABLE_LANDMARKS)].astype(np.float64)
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if matrix is None:
        raise MerError("landmark similarity could not be estimated")
    return matrix


def _to_euclidean(similarity: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Drop the scale of a similarity, keeping where it maps ``anchor`` (x, y)."""
    angle = np.arctan2(similarity[1, 0], similarity[0, 0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    t = similarity[:, :2] @ anchor + similarity[:, 2] - rot @ anchor
    return np.hstack([rot, t[:, None]])


def ecc_refine(onset_rgb: np.ndarray, apex_rgb: np.ndarray, init: np.ndarray, box: Box,
               pad_px: int = 8, blur_size: int = 5, iterations: int = 100,
               eps: float = 1e-6) -> tuple[np.ndarray, float]:
    """Refine a 2×3 Euclidean onset->apex matrix with ECC on the grey face box (+``pad_px``).

    ECC's correlation is zero-mean and normalised, so a global gain/offset of
    brightness does not bias it; ``blur_size`` is its Gaussian pre-blur. Returns
    (full-frame matrix, correlation). Raises ``cv2.error`` when ECC diverges.
    """
    height, width = onset_rgb.shape[:2]
    x0, y0 = max(box.x0 - pad_px, 0), max(box.y0 - pad_px, 0)
    x1, y1 = min(box.x1 + pad_px, width), min(box.y1 + pad_px, height)
    origin = np.array([x0, y0], dtype=np.float64)
    template = _grey(onset_rgb[y0:y1, x0:x1])
    moving = _grey(apex_rgb[y0:y1, x0:x1])
    rot = init[:, :2]
    crop_init = np.hstack([rot, (init[:, 2] + rot @ origin - origin)[:, None]]).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    # OpenCV's stub wants an array for inputMask when gaussFiltSize follows; None means no mask
    score, warp = cv2.findTransformECC(template, moving, crop_init,  # type: ignore[call-overload]
                                       cv2.MOTION_EUCLIDEAN, criteria, None, blur_size)
    warp = warp.astype(np.float64)
    full = np.hstack([warp[:, :2], (warp[:, 2] - warp[:, :2] @ origin + origin)[:, None]])
    return full, float(score)


def align(onset_rgb: np.ndarray, apex_rgb: np.ndarray, onset_landmarks: np.ndarray | None,
          apex_landmarks: np.ndarray | None, box: Box, method: AlignMethod = "ecc",
          max_ecc_correction_px: float = 5.0, min_ecc_score: float = 0.3) -> Alignment:
    """Register apex to onset: ``ecc`` (landmark init + ECC), ``landmarks`` or ``none``.

    Without landmarks (depth-found face) ECC starts from the identity and
    ``landmarks`` falls back to ``none``. ECC that diverges, ends with a
    correlation below ``min_ecc_score`` or moves the box centre more than
    ``max_ecc_correction_px`` from its start falls back to the landmark (or
    identity) matrix; the reason is recorded.
    """
    if method not in ALIGN_METHODS:
        raise ValueError(f"unknown alignment {method!r}; expected one of {ALIGN_METHODS}")
    identity = np.eye(2, 3)
    have_landmarks = onset_landmarks is not None and apex_landmarks is not None

    def result(matrix, used, converged, score=None, reason=None) -> Alignment:
        matrix = np.array(matrix, dtype=np.float64)
        matrix.setflags(write=False)
        return Alignment(matrix, used, method, converged, _centre_shift(matrix, box), score, reason)

    if method == "none":
        return result(identity, "none", True)
    if onset_landmarks is not None and apex_landmarks is not None:
        similarity, start_method = landmark_similarity(onset_landmarks, apex_landmarks), "landmarks"
        anchor = onset_landmarks[list(STABLE_LANDMARKS)].mean(axis=0)
    else:
        similarity, start_method = identity, "none"
        anchor = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
    if method == "landmarks":
        reason = None if have_landmarks else "no landmarks (face found from depth)"
        return result(similarity, start_method, have_landmarks, reason=reason)
    init = _to_euclidean(similarity, np.asarray(anchor, dtype=np.float64))
    try:
        refined, score = ecc_refine(onset_rgb, apex_rgb, init, box)
    except cv2.error as exc:
        reason = f"ECC did not converge: {getattr(exc, 'err', None) or exc}"
        return result(similarity, start_method, False, reason=reason)
    change = np.vstack([refined, [0, 0, 1]]) @ np.linalg.inv(np.vstack([init, [0, 0, 1]]))
    correction = _centre_shift(change[:2], box)
    if not np.isfinite(refined).all() or correction > max_ecc_correction_px:
        reason = f"ECC moved {correction:.1f} px from its start (> {max_ecc_correction_px} px)"
        return result(similarity, start_method, False, score, reason)
    if score < min_ecc_score:
        reason = f"ECC correlation {score:.2f} below {min_ecc_score}"
        return result(similarity, start_method, False, score, reason)
    return result(refined, "ecc", True, score)


def warp_rgb(apex_rgb: np.ndarray, alignment: Alignment, box: Box) -> np.ndarray:
    """(H, W, 3) uint8 apex -> (h, w, 3) uint8 apex resampled bilinearly on the onset box grid.

    Samples outside the frame take the nearest edge pixel. OpenCV's ``warpAffine``
    (pixel centres at integer coordinates, as in ``warp_depth``) with the box origin
    folded into the matrix; it rounds each sample position to 1/32 px, so a value may
    differ from exact bilinear interpolation by one grey level (~1 ms instead of ~14).
    """
    matrix = np.array(alignment.matrix, dtype=np.float64)
    matrix[:, 2] += matrix[:, :2] @ np.array([box.x0, box.y0], dtype=np.float64)
    return cv2.warpAffine(np.ascontiguousarray(apex_rgb), matrix, (box.width, box.height),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def warp_depth(apex_depth_mm: np.ndarray, alignment: Alignment, box: Box,
               weight_eps: float = 1e-6) -> np.ndarray:
    """(H, W) depth mm (0 = invalid) -> (h, w) float32 mm on the onset box grid, 0 = invalid.

    Bilinear only where every neighbour with a weight above ``weight_eps`` is
    valid (> 0) and inside the frame; otherwise 0. Valid and invalid depth are
    never blended; an exact-integer sample (identity warp) reproduces the input.
    (Float64 throughout; the neighbours are read from the flat uint16 frame.)
    """
    height, width = apex_depth_mm.shape
    matrix = alignment.matrix
    u = np.arange(box.x0, box.x1, dtype=np.float64)
    v = np.arange(box.y0, box.y1, dtype=np.float64)[:, None]
    xs = matrix[0, 0] * u + matrix[0, 1] * v + matrix[0, 2]  # (h, w) apex x of each pixel
    ys = matrix[1, 0] * u + matrix[1, 1] * v + matrix[1, 2]
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    xf, yf = np.floor(xs), np.floor(ys)
    fx, fy = xs - xf, ys - yf
    gx, gy = 1 - fx, 1 - fy
    xi = np.clip(xf, 0, width - 1).astype(np.intp)
    yi = np.clip(yf, 0, height - 1).astype(np.intp)
    top_left = yi * width + xi
    right = (xi < width - 1).astype(np.intp)  # the far corners are clamped to the frame
    down = (yi < height - 1) * width
    flat = np.ascontiguousarray(apex_depth_mm).reshape(-1)
    total = np.zeros(xs.shape)
    weight_sum = np.zeros(xs.shape)
    ok = inside
    for offset, weight in ((0, gx * gy), (right, fx * gy), (down, gx * fy),
                           (down + right, fx * fy)):
        used = weight > weight_eps
        value = flat.take(top_left + offset)
        ok &= ~used | (value > 0)
        weight *= used  # a neighbour at (almost) no weight is left out, valid or not
        total += weight * value
        weight_sum += weight
    out = np.zeros(xs.shape, dtype=np.float32)
    out[ok] = (total[ok] / weight_sum[ok]).astype(np.float32)
    return out
