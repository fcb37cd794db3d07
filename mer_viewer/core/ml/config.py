"""TrainConfig (the paper's defaults, every choice a field) and device resolution."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mer_viewer.core.errors import MerError

TASKS = ("3", "4", "7", "objective")
PROTOCOLS = ("loso", "holdout", "transfer")
SAMPLINGS = ("sort", "random", "fps")
AUGMENTATIONS = ("rotate", "scale", "jitter", "flip")
CLASS_WEIGHTS = ("balanced", "none")
MOTION_ENCODINGS = ("color", "vector")

# The official code's schedule: StepLR every 20 of 100 epochs, gamma 0.7.
PAPER_EPOCHS = 100
PAPER_LR_STEP = 20


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Defaults follow the paper (SPEC §1 step 11) except where said.

    - ``model``: ``pointnet`` by default, not the paper's ``pointnet2``. On 2 CPU
      cores a PointNet++ step (24 × 2048, bf16) takes ~0.6 s and a PointNet step
      ~0.2 s, so a 10-minute LOSO run on the demo corpus (12 folds) affords
      PointNet++ ~12 epochs and PointNet ~40. Measured on the demo corpus
      (4 subject-wise folds, 3 classes): PointNet++ 12 epochs UF1 0.69, 24
      epochs 0.69, PointNet 12 epochs 0.74 (before positive always had AU6);
      now PointNet 40 epochs 0.88, 60 epochs 0.89. PointNet++ is one flag
      away (``--model pointnet2``) and the bundled checkpoints use it.
    - ``epochs``: 40, not the official code's 100, for the same reason. Raise it
      on real data and GPUs.
    - ``augment``: rotate, scale and jitter by default, as the paper's official
      code does (it is built on the common PointNet++ training script), and flip
      (mirrored faces; see ``data.augment``). Measured on the demo corpus
      (PointNet, 4 subject-wise folds): 60 epochs UF1 0.82 without augmentation,
      0.84 with the first three; 40 epochs 0.88 without flip, 0.89 with it.
    - ``lr_step``: StepLR step in epochs; None scales the official 20-of-100 to
      ``max(1, round(20 · min(epochs, 100) / 100))`` so a short run decays as
      the long one does (40 epochs → every 8 epochs, γ 0.7).
    - ``classes``: the task, ``3 | 4 | 7 | objective``.
    - ``protocol``: ``loso`` (one fold per subject) or ``holdout`` (one seeded
      split of subjects, ``holdout_fraction`` of them tested) or ``transfer``
      (macro→micro, objective classes only: per subject with micro-expressions,
      train on the other subjects' macro-expressions, test on its micro ones).
    - ``inner_val``: None trains each fold for exactly ``epochs`` and tests the
      last epoch. A fraction in (0, 1) holds out that share of the fold's
      TRAINING subjects (seeded) and tests the epoch with the best inner-val
      UF1; the test subjects are never part of any choice.
    - ``points`` / ``sampling``: recorded for provenance; the features handed to
      the trainer must already be sampled that way.
    - ``augment``: any of ``rotate`` (about the vertical camera axis y, up to
      ``rotate_deg``; only xyz turns, the motion colours stay as measured),
      ``scale`` (xyz × U(1 ± scale_range)) and ``jitter`` (xyz + N(0, jitter_std)
      clipped to ±3σ, in normalised units).
    - ``bf16``: autocast to bfloat16 on the device (CPU included). None (the
      default) uses it where the device multiplies bf16 matrices natively (CUDA
      with bf16, CPUs with AVX512-BF16 or AMX), about 1.7× faster per PointNet++
      step on such a CPU; neighbour search and the centred first layer stay
      float32 either way. Training steps only: evaluation (BatchNorm
      statistics, validation, test) runs in float32, so the tested
      predictions are what ``mer classify`` gives for the same checkpoint. The choice made is recorded in ``config.json``
      (``runtime``).
    - ``class_weights``: ``balanced`` weighs the loss of each class by
      n / (K · n_c), counted on the samples that update the weights (the fold's
      training subjects only); ``none`` is the plain cross-entropy. CAS(ME)³ is
      unbalanced (3 classes: negative 457, surprise 187, positive 55 of 670), and
      UF1 and UAR weigh every class equally.
    - ``precise_bn``: before a model is evaluated (inner validation, test, the
      final model), its BatchNorm statistics are recomputed over the fold's
      training samples with the weights it has then, in eval behaviour
      otherwise (no dropout, fixed FPS start). The running averages kept during
      training lag behind the weights; after a few dozen steps (a short run on
      a small corpus) they can differ so much that the model which fits its
      training data in train mode predicts one class in eval mode.
    - ``motion_encoding``: how the network's first layer sees the motion colour
      (the input stays N × 6, SPEC §1 step 9). ``vector`` (the default) turns
      (r̂, θ̂, φ̂) into r̂ and the unit motion direction; ``color`` feeds θ̂ and φ̂
      as they are, the paper's way. θ̂ is an angle cut at ±π: motion to the left
      reads 0 or 1 depending on the sign of its vertical part, which on the left
      half of a face is the lip corners' outward motion (AU12 up, AU20 level,
      AU15 down). Measured on the demo corpus (PointNet, defaults otherwise,
      LOSO, 3 classes, seed 0): UF1 0.863 ``color``, 0.897 ``vector``; all
      three R6+R12 clips were missed with ``color``.
    - ``test_time_flip``: classify each clip and its mirror image (the ``flip``
      augmentation's) and average the two probability vectors. The sorted
      points of a clip depend on the direction of motion (the rank key is
      ‖(r̂, θ̂, φ̂)‖), so a clip and its mirror are two views of the same
      expression. Recorded in checkpoints; ``mer classify`` does the same.
      Measured as above with ``vector``: UF1 0.897 without, 0.923 with.
    - ``final_model``: after the folds, also train one model on all subjects
      (same epochs; with ``inner_val``, the median of the folds' chosen epochs)
      and save it as ``model.pt`` — the checkpoint for ``mer classify``.
    """

    model: str = "pointnet"
    classes: str = "3"
    protocol: str = "loso"
    epochs: int = 40
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 24
    lr_step: int | None = None
    lr_gamma: float = 0.7
    points: int = 2048
    sampling: str = "sort"
    seed: int = 0
    device: str = "auto"
    augment: tuple[str, ...] = AUGMENTATIONS
    rotate_deg: float = 10.0
    scale_range: float = 0.1
    jitter_std: float = 0.005
    bf16: bool | None = None
    holdout_fraction: float = 0.2
    inner_val: float | None = None
    final_model: bool = False
    class_weights: str = "none"
    precise_bn: bool = True
    motion_encoding: str = "vector"
    test_time_flip: bool = True
    model_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", str(self.classes))
        object.__setattr__(self, "augment", tuple(self.augment))
        object.__setattr__(self, "model_options", dict(self.model_options))
        problems = []
        if self.classes not in TASKS:
            problems.append(f"classes must be one of {TASKS}, not {self.classes!r}")
        if self.class_weights not in CLASS_WEIGHTS:
            problems.append(f"class_weights must be one of {CLASS_WEIGHTS}, "
                            f"not {self.class_weights!r}")
        if self.motion_encoding not in MOTION_ENCODINGS:
            problems.append(f"motion_encoding must be one of {MOTION_ENCODINGS}, "
                            f"not {self.motion_encoding!r}")
        if self.protocol not in PROTOCOLS:
            problems.append(f"protocol must be one of {PROTOCOLS}, not {self.protocol!r}")
        if self.protocol == "transfer" and self.classes != "objective":
            problems.append("the transfer protocol needs classes 'objective' (the only labels "
                            f"the macro-expression sheet has reliably), not {self.classes!r}")
        if self.sampling not in SAMPLINGS:
            problems.append(f"sampling must be one of {SAMPLINGS}, not {self.sampling!r}")
        unknown = [a for a in self.augment if a not in AUGMENTATIONS]
        if unknown:
            problems.append(f"augment options must be among {AUGMENTATIONS}, not {unknown}")
        if self.epochs < 1:
            problems.append(f"epochs must be ≥ 1, not {self.epochs}")
        if self.batch_size < 2:
            problems.append(f"batch_size must be ≥ 2 (batch norm), not {self.batch_size}")
        if self.points < 1:
            problems.append(f"points must be ≥ 1, not {self.points}")
        if self.lr_step is not None and self.lr_step < 1:
            problems.append(f"lr_step must be ≥ 1 or None, not {self.lr_step}")
        if not 0.0 < self.holdout_fraction < 1.0:
            problems.append(f"holdout_fraction must be in (0, 1), not {self.holdout_fraction}")
        if self.inner_val is not None and not 0.0 < self.inner_val < 1.0:
            problems.append(f"inner_val must be None or in (0, 1), not {self.inner_val}")
        if self.device.split(":")[0] not in ("auto", "cpu", "cuda", "mps"):
            problems.append(f"device must be auto, cpu, cuda[:k] or mps, not {self.device!r}")
        if problems:
            raise MerError("invalid training configuration: " + "; ".join(problems))

    @property
    def effective_lr_step(self) -> int:
        """StepLR step in epochs (``lr_step`` or the official schedule scaled to ``epochs``)."""
        if self.lr_step is not None:
            return self.lr_step
        return max(1, round(PAPER_LR_STEP * min(self.epochs, PAPER_EPOCHS) / PAPER_EPOCHS))

    @property
    def network_options(self) -> dict[str, Any]:
        """Constructor options of the network: ``motion_encoding``, then ``model_options``."""
        return {"motion_encoding": self.motion_encoding, **self.model_options}

    def to_dict(self) -> dict[str, Any]:
        """JSON- and checkpoint-safe dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["augment"] = list(self.augment)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; keys that are not fields (e.g. ``preprocessing``) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def resolve_device(name: str = "auto"):
    """``auto`` → cuda, then mps, then cpu; an explicit device must be available (else MerError)."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise MerError("device 'cuda' asked for, but this PyTorch build sees no CUDA GPU")
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise MerError("device 'mps' asked for, but Apple MPS is not available here")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise MerError(f"unknown device {name!r}: {exc}") from None
