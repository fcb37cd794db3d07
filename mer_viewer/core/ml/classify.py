"""Classify one clip with a checkpoint (the bundled one by default), reproducing its preprocessing."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..dataset import Sample
from ..errors import CheckpointError
from .items import Preprocessing, sample_features

#: Bundled checkpoints live in the checkout's resources/ folder (installed editable).
RESOURCES = Path(__file__).resolve().parents[3] / "resources"
BUNDLED = {"3": "pointnet2_3class.pt", "4": "pointnet2_4class.pt"}


def bundled_checkpoint(task: str = "3") -> Path:
    """Path of the bundled PointNet++ checkpoint for a task (3 or 4 classes)."""
    if task not in BUNDLED:
        raise CheckpointError(RESOURCES, f"no bundled model for task {task!r} (have {sorted(BUNDLED)})")
    path = RESOURCES / "models" / BUNDLED[task]
    if not path.is_file():
        raise CheckpointError(path, "bundled checkpoint is missing from this installation")
    return path


@dataclass(frozen=True)
class Classification:
    """A clip's predicted class, the probability of every class and its annotated class."""

    sample_id: str
    predicted: str
    probabilities: dict[str, float]
    true: str | None
    checkpoint: Path

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


def task_of(checkpoint) -> str:
    return str(checkpoint.config.get("classes", "3"))


def features_for(sample: Sample, checkpoint, cache_root: Path | None = None) -> np.ndarray:
    """(N, 6) network input of ``sample`` made exactly as the checkpoint's training data was."""
    return sample_features(sample, Preprocessing.from_dict(checkpoint.preprocessing), cache_root)


def classify(sample: Sample, checkpoint_path: Path | None = None,
             cache_root: Path | None = None) -> Classification:
    """Predicted class and probabilities of ``sample`` (bundled 3-class model by default)."""
    from .inference import predict

    checkpoint, model = load_for_inference(checkpoint_path)
    probabilities = predict(model, features_for(sample, checkpoint, cache_root))
    names = list(checkpoint.class_names)
    return Classification(
        sample_id=sample.id,
        predicted=names[int(np.argmax(probabilities))],
        probabilities={name: float(p) for name, p in zip(names, probabilities)},
        true=sample.label(task_of(checkpoint)),
        checkpoint=checkpoint.path,
    )
