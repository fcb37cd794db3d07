"""Records of a training run (predictions, progress payloads) and the run's result files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mer_viewer.core.ml import report
from mer_viewer.core.ml.config import TrainConfig
from mer_viewer.core.ml.data import StackedItems
from mer_viewer.core.ml.metrics import Metrics, evaluate
from mer_viewer.core.ml.protocol import Fold


@dataclass(frozen=True)
class Prediction:
    """One test sample's outcome; ``probabilities`` follow the run's class order."""

    sample_id: str
    subject: str
    clip: str
    fold: int
    true: str
    pred: str
    probabilities: tuple[float, ...]


@dataclass(frozen=True)
class TrainUpdate:
    """Payload of the progress records of :func:`run_training`.

    ``phase``: ``start`` | ``step`` (after an optimizer step; ``loss`` of the
    batch, running ``train_accuracy``/``train_uf1`` of the epoch so far) |
    ``epoch`` (epoch means, ``val_uf1`` with inner validation) | ``fold`` (the
    fold's test ``predictions``) | ``done`` (pooled ``metrics``, all
    ``predictions``) | ``cancelled``. ``fold`` is 0-based; the model trained on
    all subjects has ``fold == n_folds`` and ``final_model`` True. ``epoch`` and
    ``step`` are 1-based. ``resumed``: the fold was read back from its checkpoint.
    """

    phase: str
    fold: int
    n_folds: int
    epoch: int = 0
    n_epochs: int = 0
    step: int = 0
    n_steps: int = 0
    loss: float | None = None
    train_accuracy: float | None = None
    train_uf1: float | None = None
    val_uf1: float | None = None
    test_subjects: tuple[str, ...] = ()
    predictions: tuple[Prediction, ...] = ()
    metrics: Metrics | None = None
    final_model: bool = False
    resumed: bool = False


@dataclass(frozen=True)
class FoldOutcome:
    """What a finished fold leaves: per-epoch ``history``, test ``predictions``, tested epoch,
    and where it ran: ``host`` (the machine's name) and ``ray_node`` (the Ray node's id when it
    was a Ray task, else None)."""

    history: dict
    predictions: tuple[Prediction, ...]
    best_epoch: int
    host: str = ""
    ray_node: str | None = None


def write_run_results(out: Path, config: TrainConfig, folds: Sequence[Fold],
                      data: StackedItems, outcomes: Sequence[FoldOutcome], final: bool) -> Metrics:
    """Pool the folds' test predictions, score them and write the run's result files (SPEC §6).

    ``metrics.json`` is written last, so its presence marks a finished run.
    """
    classes = data.classes
    preds = [p for o in outcomes for p in o.predictions]
    metrics = evaluate([p.true for p in preds], [p.pred for p in preds], classes)
    per_fold = []
    for fold, o in zip(folds, outcomes):
        m = evaluate([p.true for p in o.predictions], [p.pred for p in o.predictions], classes)
        per_fold.append({"fold": fold.index, "test": list(fold.test),
                         "n": len(o.predictions), "accuracy": m.accuracy,
                         "epochs_trained": len(o.history["loss"]), "tested_epoch": o.best_epoch,
                         "host": o.host, "ray_node": o.ray_node})
    summary = {**metrics.to_dict(), "n_samples": len(preds), "task": config.classes,
               "protocol": config.protocol, "model": config.model, "sampling": config.sampling,
               "points": config.points, "n_folds": len(folds), "dropped": data.dropped,
               "absent_classes": list(data.absent_classes), "inner_val": config.inner_val,
               "final_model": "model.pt" if final else None, "per_fold": per_fold}
    report.write_json(out / "folds.json", [f.to_dict() for f in folds])
    report.write_predictions_csv(out / "predictions.csv", [p.__dict__ for p in preds], classes)
    report.write_json(out / "history.json", [o.history for o in outcomes])
    title = f"{config.model}, {config.classes}-class, {config.protocol}, {config.sampling} {config.points}"
    report.write_confusion_png(out / "confusion.png", metrics, title)
    report.write_curves_png(out / "curves.png", [o.history for o in outcomes])
    header = {"model": config.model, "task": f"{config.classes}-class", "protocol": config.protocol,
              "folds": len(folds), "epochs": config.epochs,
              "sampling": f"{config.sampling} {config.points}", "seed": config.seed,
              "dropped (no label)": data.dropped}
    report.write_atomic(out / "report.md", report.markdown_summary(metrics, header).encode())
    report.write_json(out / "metrics.json", summary)  # last: its presence marks a finished run
    return metrics
