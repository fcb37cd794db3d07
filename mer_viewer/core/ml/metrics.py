"""UF1, UAR, accuracy, per-class figures and the confusion matrix of pooled predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Scores of pooled predictions over ``classes`` (fractions in [0, 1], not %).

    ``confusion[i][j]`` counts samples of true class ``classes[i]`` predicted as
    ``classes[j]`` (rows = true). ``per_class[c]`` holds ``precision``,
    ``recall``, ``f1`` (floats) and ``support`` (int, samples of c in y_true).
    """

    uf1: float
    uar: float
    accuracy: float
    per_class: dict[str, dict[str, float | int]]
    confusion: list[list[int]]
    classes: tuple[str, ...]

    @property
    def n_samples(self) -> int:
        return int(sum(sum(row) for row in self.confusion))

    def to_dict(self) -> dict:
        """JSON-ready dict (``classes`` as a list)."""
        return {
            "uf1": self.uf1, "uar": self.uar, "accuracy": self.accuracy,
            "per_class": {c: dict(v) for c, v in self.per_class.items()},
            "confusion": [list(row) for row in self.confusion],
            "classes": list(self.classes),
        }


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str],
                     classes: Sequence[str]) -> np.ndarray:
    """Counts ``(C, C) int64``, rows = true class, columns = predicted class.

    Raises ValueError on a label outside ``classes`` (a silent drop would hide a bug).
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels, y_pred {len(y_pred)}")
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError(f"duplicate class names in {list(classes)}")
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        try:
            counts[index[t], index[p]] += 1
        except KeyError as exc:
            raise ValueError(f"label {exc.args[0]!r} is not one of {list(classes)}") from None
    return counts


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's ``zero_division=0``)."""
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def evaluate(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> Metrics:
    """Score pooled predictions on their confusion matrix.

    UF1 = mean over ``classes`` of 2TP / (2TP + FP + FN); UAR = mean over
    ``classes`` of TP / N_c. Every class in ``classes`` enters both means, also
    one absent from ``y_true``: its recall is 0 and its F1 is 0 (0/0 counts as
    0), exactly as ``sklearn.metrics.f1_score`` / ``recall_score`` with
    ``average="macro", labels=classes, zero_division=0``. So pass only the
    classes that the run can contain; the trainer passes the task's classes
    present in the data.
    """
    classes = tuple(str(c) for c in classes)
    if not classes:
        raise ValueError("evaluate needs at least one class")
    cm = confusion_matrix(y_true, y_pred, classes)
    tp = np.diag(cm)
    support = cm.sum(axis=1)          # N_c = TP + FN
    predicted = cm.sum(axis=0)        # TP + FP
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)  # 2TP + FP + FN
    total = int(cm.sum())
    per_class = {
        c: {"precision": float(precision[i]), "recall": float(recall[i]),
            "f1": float(f1[i]), "support": int(support[i])}
        for i, c in enumerate(classes)
    }
    return Metrics(
        uf1=float(f1.mean()),
        uar=float(recall.mean()),
        accuracy=float(tp.sum() / total) if total else 0.0,
        per_class=per_class,
        confusion=cm.tolist(),
        classes=classes,
    )
