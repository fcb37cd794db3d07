"""Classify one clip with a checkpoint (the bundled one by default), reproducing its preprocessing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..cache import cached_cloud
from ..dataset import Sample
from ..dataset.labels import Task, as_task
from ..errors import CheckpointError, PipelineError
from .items import Preprocessing

BUNDLED = {"3": "pointnet2_3class.pt", "4": "pointnet2_4class.pt"}


def bundled_checkpoint(task: str = "3") -> Path:
    """Path of the bundled PointNet++ checkpoint for a task (3 or 4 classes), shipped as
    package data (``mer_viewer/resources/models``)."""
    from ...resources import models_dir

    if task not in BUNDLED:
        raise CheckpointError(models_dir(), f"no bundled model for task {task!r} (have {sorted(BUNDLED)})")
    path = models_dir() / BUNDLED[task]
    if not path.is_file():
        raise CheckpointError(path, "bundled checkpoint is missing from this installation")
    return path


@dataclass(frozen=True, eq=False)
class Classification:
    """A clip's predicted class, the probability of every class and its annotated class.

    With ``explain``: ``pixels`` (N, 2) full-frame (u, v) of the network's points and
    ``saliency`` (N,) ‖∂ logit / ∂ input‖ of the predicted class at each of them.
    """

    sample_id: str
    predicted: str
    probabilities: dict[str, float]
    true: str | None
    checkpoint: Path
    pixels: np.ndarray | None = None
    saliency: np.ndarray | None = None

    def as_json(self) -> dict:
        return {"predicted": self.predicted, "probabilities": self.probabilities,
                "true": self.true}


@lru_cache(maxsize=4)
def _loaded(path: str, mtime_ns: int):
    """(checkpoint, model) for a file, reused while the file is unchanged."""
    from .checkpoint import load_checkpoint

    checkpoint = load_checkpoint(path)
    return checkpoint, checkpoint.build_model("cpu")


def load_for_inference(path: Path | None = None):
    """(Checkpoint, model in eval mode) of ``path`` or the bundled 3-class model."""
    path = Path(path) if path is not None else bundled_checkpoint("3")
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0  # load_checkpoint reports the missing file
    return _loaded(str(path), mtime)


def task_of(checkpoint) -> Task:
    return as_task(checkpoint.config.get("classes", "3"))  # load_checkpoint checked it


def classify(sample: Sample, checkpoint_path: Path | None = None,
             cache_root: Path | None = None, explain: bool = False) -> Classification:
    """Predicted class and probabilities of ``sample`` (bundled 3-class model by default),
    its input made exactly as the checkpoint's training data was; ``explain`` adds the
    per-point saliency of the predicted class (see ``explain_classification``)."""
    from .inference import PredictionError, predict, uses_test_time_flip

    checkpoint, model = load_for_inference(checkpoint_path)
    cloud = _input_cloud(sample, checkpoint, cache_root)
    try:
        probabilities = predict(model, cloud.network_input, mirror=uses_test_time_flip(checkpoint))
    except PredictionError as exc:
        raise CheckpointError(checkpoint.path, f"{sample.id}: {exc}") from None
    names = list(checkpoint.class_names)
    if len(probabilities) != len(names):  # load_checkpoint checked it; never zip a class away
        raise CheckpointError(checkpoint.path, f"the network has {len(probabilities)} outputs "
                              f"for {len(names)} class names")
    best = int(np.argmax(probabilities))
    result = Classification(
        sample_id=sample.id,
        predicted=names[best],
        probabilities={name: float(p) for name, p in zip(names, probabilities)},
        true=sample.label(task_of(checkpoint)),
        checkpoint=checkpoint.path,
    )
    return explain_classification(sample, result, cache_root) if explain else result


def explain_classification(sample: Sample, result: Classification,
                           cache_root: Path | None = None) -> Classification:
    """``result`` (of ``classify``) with ``pixels`` and ``saliency`` of its predicted class:
    a backward pass as long as the prediction, so a GUI shows the probabilities first."""
    from .inference import saliency

    checkpoint, model = load_for_inference(result.checkpoint)
    cloud = _input_cloud(sample, checkpoint, cache_root)
    best = list(checkpoint.class_names).index(result.predicted)
    return replace(result, pixels=cloud.pixels[cloud.sampled],
                   saliency=saliency(model, cloud.network_input, best))


def _input_cloud(sample: Sample, checkpoint, cache_root: Path | None):
    preprocessing = Preprocessing.from_dict(checkpoint.preprocessing)
    cloud = cached_cloud(sample, preprocessing.cloud, preprocessing.sampling, root=cache_root)
    if not np.isfinite(cloud.network_input).all():
        raise PipelineError(f"{sample.id}: the motion cloud holds NaN or infinite values")
    return cloud
