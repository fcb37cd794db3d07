"""Run-directory files: JSON and CSV written atomically, confusion and curve PNGs, a markdown summary."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mer_viewer.core.atomic import write_bytes_atomic
from mer_viewer.core.ml.metrics import Metrics

_FONT = cv2.FONT_HERSHEY_SIMPLEX
# Distinct BGR colours for per-fold curves (cycled).
_PALETTE = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
            (75, 86, 140), (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23)]


def write_atomic(path: Path | str, data: bytes) -> Path:
    """Write bytes to a temporary file beside ``path`` and ``os.replace`` it there."""
    return write_bytes_atomic(path, data)


def write_json(path: Path | str, obj: Any) -> Path:
    return write_atomic(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())


def write_predictions_csv(path: Path | str, rows: Sequence[Mapping[str, Any]],
                          classes: Sequence[str]) -> Path:
    """Columns ``subject, clip, fold, true, pred, p_<class>...``; ``rows`` carry ``probabilities``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["subject", "clip", "fold", "true", "pred"] + [f"p_{c}" for c in classes])
    for r in rows:
        w.writerow([r["subject"], r["clip"], r["fold"], r["true"], r["pred"]]
                   + [f"{float(p):.6f}" for p in r["probabilities"]])
    return write_atomic(path, buf.getvalue().encode())


def _encode_png(path: Path | str, image: np.ndarray) -> Path:
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError(f"{path}: PNG encoding failed")
    return write_atomic(path, png.tobytes())


def _text(img, text, org, scale=0.45, color=(0, 0, 0), thickness=1, center=False):
    (w, h), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    x, y = org
    if center:
        x, y = int(x - w / 2), int(y + h / 2)
    cv2.putText(img, text, (int(x), int(y)), _FONT, scale, color, thickness, cv2.LINE_AA)


def _fit(text: str, width: int, scale: float) -> str:
    while text and cv2.getTextSize(text, _FONT, scale, 1)[0][0] > width:
        text = text[:-1]
    return text


def draw_confusion(metrics: Metrics, title: str = "") -> np.ndarray:
    """BGR image of the confusion matrix: counts and row percentages, shaded by row share."""
    classes = metrics.classes
    cm = np.asarray(metrics.confusion, dtype=np.int64).reshape(len(classes), len(classes))
    cell, left, top = 84, 130, 90
    size = len(classes) * cell
    img = np.full((top + size + 50, left + size + 20, 3), 255, np.uint8)
    head = title or "confusion (rows = true)"
    _text(img, head, (10, 24), 0.55)
    _text(img, f"UF1 {metrics.uf1 * 100:.2f}%  UAR {metrics.uar * 100:.2f}%  "
               f"acc {metrics.accuracy * 100:.2f}%  n={metrics.n_samples}", (10, 48), 0.5)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    for i in range(len(classes)):
        for j in range(len(classes)):
            f = share[i, j]
            color = (int(255 - 75 * f), int(255 - 200 * f), int(255 - 225 * f))
            x0, y0 = left + j * cell, top + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), color, -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (200, 200, 200), 1)
            ink = (255, 255, 255) if f > 0.55 else (0, 0, 0)
            _text(img, str(cm[i, j]), (x0 + cell / 2, y0 + cell / 2 - 10), 0.55, ink, 1, True)
            _text(img, f"{f * 100:.0f}%", (x0 + cell / 2, y0 + cell / 2 + 14), 0.4, ink, 1, True)
        _text(img, _fit(classes[i], left - 14, 0.45), (8, top + i * cell + cell / 2 + 5))
    for j, c in enumerate(classes):
        _text(img, _fit(c, cell - 4, 0.42), (left + j * cell + cell / 2, top - 14), 0.42,
              center=True)
    _text(img, "predicted", (left + size / 2, top + size + 24), 0.5, center=True)
    _text(img, "true", (8, top - 14), 0.5)
    return img


def write_confusion_png(path: Path | str, metrics: Metrics, title: str = "") -> Path:
    return _encode_png(path, draw_confusion(metrics, title))


def _panel(series: Sequence[Sequence[float]], mean_color, title: str, y_max: float | None,
           extra: Sequence[Sequence[float]] = (), width=520, height=380) -> np.ndarray:
    """One line chart: thin per-fold lines, a bold mean; ``extra`` adds a red bold mean."""
    img = np.full((height, width, 3), 255, np.uint8)
    l, r, t, b = 56, 16, 36, 40
    pw, ph = width - l - r, height - t - b
    n_x = max([len(s) for s in list(series) + list(extra)] + [1])
    values = [v for s in list(series) + list(extra) for v in s if np.isfinite(v)]
    top_v = y_max if y_max is not None else (max(values) * 1.05 if values else 1.0)
    top_v = top_v if top_v > 0 else 1.0

    def xy(i, v):
        x = l + (pw * i / (n_x - 1) if n_x > 1 else pw / 2)
        return int(round(x)), int(round(t + ph * (1 - min(max(v / top_v, 0), 1))))

    _text(img, title, (l, 22), 0.55)
    cv2.rectangle(img, (l, t), (l + pw, t + ph), (0, 0, 0), 1)
    for k in range(5):
        v = top_v * k / 4
        y = xy(0, v)[1]
        cv2.line(img, (l, y), (l + pw, y), (230, 230, 230), 1)
        _text(img, f"{v:.2f}", (4, y + 4), 0.38)
    for i in sorted({0, n_x - 1, (n_x - 1) // 2}):
        x = xy(i, 0)[0]
        _text(img, str(i + 1), (x, t + ph + 16), 0.38, center=True)
    _text(img, "epoch", (l + pw / 2, height - 8), 0.42, center=True)

    def polyline(s, color, thick):
        pts = [xy(i, v) for i, v in enumerate(s) if np.isfinite(v)]
        if len(pts) == 1:
            cv2.circle(img, pts[0], thick + 1, color, -1)
        elif pts:
            cv2.polylines(img, [np.array(pts, np.int32)], False, color, thick, cv2.LINE_AA)

    for k, s in enumerate(series):
        polyline(s, _PALETTE[k % len(_PALETTE)], 1)
    for group, color in ((series, mean_color), (extra, (40, 39, 214))):
        if group:
            n = max(len(s) for s in group)
            mean = [np.mean([s[i] for s in group if len(s) > i]) for i in range(n)]
            polyline(mean, color, 3)
    return img


def draw_curves(histories: Sequence[Mapping[str, Sequence[float]]]) -> np.ndarray:
    """BGR image: training loss and running train UF1 per epoch, one thin line per fold.

    Bold black: mean over folds; bold red: mean inner-validation UF1 when present.
    """
    losses = [h["loss"] for h in histories if h.get("loss")]
    uf1s = [h["train_uf1"] for h in histories if h.get("train_uf1")]
    vals = [h["val_uf1"] for h in histories if h.get("val_uf1")]
    left = _panel(losses, (0, 0, 0), "training loss", None)
    right = _panel(uf1s, (0, 0, 0), "train UF1 (running)" + (", red: inner-val UF1" if vals
                                                              else ""), 1.0, vals)
    img = np.concatenate([left, right], axis=1)
    _text(img, f"{len(histories)} fold(s); thin: one fold, bold: mean", (10, img.shape[0] - 4),
          0.38, (90, 90, 90))
    return img


def write_curves_png(path: Path | str, histories: Sequence[Mapping[str, Sequence[float]]]) -> Path:
    return _encode_png(path, draw_curves(histories))


def markdown_summary(metrics: Metrics, header: Mapping[str, Any]) -> str:
    """A short human-readable report (percentages, per-class table, confusion)."""
    lines = ["# Training run", ""]
    lines += [f"- {k}: {v}" for k, v in header.items()]
    lines += ["", f"**UF1 {metrics.uf1 * 100:.2f} %, UAR {metrics.uar * 100:.2f} %**, "
                  f"accuracy {metrics.accuracy * 100:.2f} % (pooled over folds, "
                  f"{metrics.n_samples} samples)", "",
              "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for c, v in metrics.per_class.items():
        lines.append(f"| {c} | {v['precision'] * 100:.1f} | {v['recall'] * 100:.1f} | "
                     f"{v['f1'] * 100:.1f} | {v['support']} |")
    lines += ["", "Confusion (rows = true, columns = predicted):", "",
              "| true \\ pred | " + " | ".join(metrics.classes) + " |",
              "|---|" + "---|" * len(metrics.classes)]
    for c, row in zip(metrics.classes, metrics.confusion):
        lines.append(f"| {c} | " + " | ".join(str(n) for n in row) + " |")
    return "\n".join(lines) + "\n"
