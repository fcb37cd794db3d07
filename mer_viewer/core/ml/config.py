"""TrainConfig (the paper's defaults, every choice a field), the training options that
``mer train``, ``mer experiment`` and the Train panel make from it, and device resolution."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mer_viewer.core.errors import MerError
from mer_viewer.core.ml.models import MODEL_NAMES
from mer_viewer.core.motion import RANK_KEYS

if TYPE_CHECKING:
    from mer_viewer.core.pipeline import SamplingParams

TASKS = ("3", "4", "7", "objective")
PROTOCOLS = ("loso", "holdout", "transfer")
SAMPLINGS = ("sort", "random", "fps")
AUGMENTATIONS = ("rotate", "scale", "jitter", "flip")
CLASS_WEIGHTS = ("balanced", "none")
SAMPLERS = ("shuffle", "balanced")
MOTION_ENCODINGS = ("color", "vector")
DEVICES = ("auto", "cpu", "cuda", "mps")

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
    - ``class_weights``: ``balanced`` (the default) weighs the loss of each class by
      n / (K · n_c), counted on the samples that update the weights (the fold's
      training subjects only); ``none`` is the plain cross-entropy. CAS(ME)³ is
      unbalanced (3 classes after skipping: negative 438, surprise 183, positive 49
      of 670), and UF1 and UAR weigh every class equally. Measured on a demo corpus
      with those proportions (``mer demo --labels casme3``, 16 subjects, LOSO,
      3 classes; README "Training defaults, and why"): without weights no positive
      clip was ever recognised.
    - ``sampler``: ``shuffle`` takes every training sample once an epoch, in a seeded
      order; ``balanced`` draws as many, with replacement, each draw of a class
      chosen uniformly, so every class is seen equally often (rare samples repeat).
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
    class_weights: str = "balanced"
    sampler: str = "shuffle"
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
        if self.sampler not in SAMPLERS:
            problems.append(f"sampler must be one of {SAMPLERS}, not {self.sampler!r}")
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
        problems += [problem for option in TRAIN_OPTIONS if option.name != "rank"
                     for problem in [option.range_problem(getattr(self, option.name))] if problem]
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
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; keys that are not fields (e.g. ``preprocessing``) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


_SAME = object()  # TrainOption.panel_default: the panel starts at TrainConfig's default


@dataclass(frozen=True)
class TrainOption:
    """One training option, from which ``mer train`` (and ``mer experiment``) make a flag
    (``--lr-step`` for ``lr_step``) and the Train panel a field (``label``, ``help`` as tip).

    ``name``: a TrainConfig field, or ``rank`` (the sort key of the sampling, not part of
    the config). ``kind``: ``int``, ``float``, ``str`` or ``bool``. ``choices``: the
    values allowed (``many``: a subset of them, as a tuple). ``none``: what None means
    where it is allowed (``auto``, ``off``). ``low``/``high``: bounds that TrainConfig
    checks (``low_open``/``high_open``: the bound itself excluded). ``presets``: values
    the panel offers (others may be typed). ``advanced``: in the panel's collapsed group.
    ``panel_default``: where the panel starts, if not at TrainConfig's default.
    """

    name: str
    kind: type
    label: str
    help: str
    choices: tuple = ()
    many: bool = False
    none: str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    presets: tuple = ()
    advanced: bool = False
    metavar: str | None = None
    panel_default: Any = _SAME

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def default(self) -> Any:
        """TrainConfig's default (``rank``: ``color_l2``, the sampling's)."""
        if self.name == "rank":
            return "color_l2"
        return TrainConfig.__dataclass_fields__[self.name].default

    @property
    def start(self) -> Any:
        """The panel's first value."""
        return self.default if self.panel_default is _SAME else self.panel_default

    def text(self, value: Any) -> str:
        """``value`` as the help and the panel write it (None: ``none``, True: on)."""
        if value is None:
            return self.none or "none"
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, tuple):
            return " ".join(value) or "none"
        return str(value)

    def range_problem(self, value: Any) -> str | None:
        """Why ``value`` is out of ``low``..``high`` (None when it is within, or None and
        None is allowed)."""
        if value is None or (self.low is None and self.high is None):
            return None
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open
                                           else value > self.high)
        if not (below or above):
            return None
        if self.high is None:
            bound = f"{'>' if self.low_open else '≥'} {self.low:g}"
        elif self.low is None:
            bound = f"{'<' if self.high_open else '≤'} {self.high:g}"
        else:
            bound = (f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                     f"{')' if self.high_open else ']'}")
        return f"{self.name} must be {bound}{' or None' if self.none else ''}, not {value}"


def _advanced(name: str, kind: type, label: str, help: str, **spec: Any) -> TrainOption:
    return TrainOption(name, kind, label, help, advanced=True, **spec)


# The one list of training options: `mer train` makes its flags from it, `mer experiment` the
# flags of what it does not vary, the Train panel its fields, in this order.
TRAIN_OPTIONS: tuple[TrainOption, ...] = (
    TrainOption("model", str, "model", "network; pointnet is ~4× faster per epoch on a CPU "
                "than the paper's pointnet2", choices=MODEL_NAMES),
    TrainOption("classes", str, "classes", "the task's classes", choices=TASKS),
    TrainOption("protocol", str, "protocol", "loso, holdout (one seeded split of subjects), "
                "or transfer: train on the other subjects' macro-expressions (MaE sheet), "
                "test on each subject's micro-expressions (needs classes objective)",
                choices=PROTOCOLS),
    TrainOption("epochs", int, "epochs", "epochs per fold", low=1, metavar="E"),
    TrainOption("points", int, "N", "N points per clip", low=1, presets=(1024, 2048, 4096),
                metavar="N"),
    TrainOption("sampling", str, "sampling", "how the N points are chosen", choices=SAMPLINGS),
    TrainOption("device", str, "device", "auto: cuda, then mps, then cpu", choices=DEVICES),
    TrainOption("seed", int, "seed", "seeds the folds, the sampling and the training", low=0,
                metavar="S"),
    # the GUI offers the run's model.pt to the classification panel
    TrainOption("final_model", bool, "final model", "also train model.pt on every subject "
                "(for classification)", panel_default=True),
    _advanced("motion_encoding", str, "motion", "how the first layer sees (r̂, θ̂, φ̂): vector "
              "(r̂ and the unit motion direction, continuous) or color (θ̂ and φ̂ as they are, "
              "the paper's)", choices=MOTION_ENCODINGS),
    _advanced("class_weights", str, "class weights", "balanced: weigh each class's loss by "
              "n / (K · n_c) of the training samples", choices=CLASS_WEIGHTS),
    _advanced("sampler", str, "sampler", "balanced: draw each class equally often (with "
              "replacement) instead of every sample once an epoch", choices=SAMPLERS),
    _advanced("test_time_flip", bool, "test-time flip", "average each test clip's "
              "probabilities with its mirror image's"),
    _advanced("inner_val", float, "inner val", "choose the epoch on this fraction of the "
              "TRAINING subjects (off: fixed epochs)", none="off", low=0, high=1,
              low_open=True, high_open=True, metavar="FRACTION"),
    _advanced("holdout_fraction", float, "hold-out", "share of the subjects tested by the "
              "holdout protocol", low=0, high=1, low_open=True, high_open=True,
              metavar="FRACTION"),
    _advanced("rank", str, "rank", "sort key of the sort sampling: color_l2 ‖(r̂, θ̂, φ̂)‖ "
              "or the amplitude r", choices=RANK_KEYS),
    _advanced("bf16", bool, "bf16", "bfloat16 autocast of the training steps (auto: where "
              "the device computes bf16 natively)", none="auto"),
    _advanced("precise_bn", bool, "precise BN", "recompute the BatchNorm statistics on the "
              "training samples before a model is evaluated"),
    _advanced("augment", str, "augment", "training augmentations (the flag alone: none)",
              choices=AUGMENTATIONS, many=True),
    _advanced("lr", float, "lr", "Adam learning rate", low=0, low_open=True, metavar="LR"),
    _advanced("weight_decay", float, "decay", "Adam weight decay", low=0, metavar="WD"),
    _advanced("batch_size", int, "batch", "clips per batch (at least 2: batch norm)", low=2,
              metavar="B"),
    _advanced("lr_step", int, "lr step", "StepLR step in epochs (auto: the official 20 of "
              "100 scaled to the epochs)", none="auto", low=1, metavar="E"),
    _advanced("lr_gamma", float, "lr γ", "StepLR factor", low=0, high=1, low_open=True,
              metavar="GAMMA"),
    _advanced("rotate_deg", float, "rotate °", "rotate augmentation: up to this many degrees "
              "about the vertical axis", low=0, high=180, metavar="DEG"),
    _advanced("scale_range", float, "scale ±", "scale augmentation: xyz × U(1 ± this)",
              low=0, high=1, high_open=True, metavar="R"),
    _advanced("jitter_std", float, "jitter σ", "jitter augmentation: σ of the noise per point "
              "(normalised units)", low=0, metavar="SIGMA"),
)


def config_from_options(values: Mapping[str, Any]) -> TrainConfig:
    """The TrainConfig of training option values by name; a missing or None value keeps
    the field's default (``rank`` is the sampling's, see :func:`sampling_for`)."""
    return TrainConfig(**{o.name: values[o.name] for o in TRAIN_OPTIONS
                          if o.name != "rank" and values.get(o.name) is not None})


def sampling_for(config: TrainConfig, values: Mapping[str, Any]) -> SamplingParams:
    """How the clips are sampled for ``config``: its N, method and seed, ``rank`` of
    ``values`` (default ``color_l2``)."""
    from mer_viewer.core.pipeline import SamplingParams
    from mer_viewer.core.sampling import as_sample_method

    return SamplingParams(config.points, as_sample_method(config.sampling),
                          values.get("rank") or "color_l2", config.seed)


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
