"""Subject-wise folds (LOSO, hold-out) and inner validation splits of training subjects."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from mer_viewer.core.errors import MerError


@dataclass(frozen=True)
class Fold:
    """Subjects of one fold. ``inner_val`` ⊂ ``train``; ``test`` is disjoint from both."""

    index: int
    test: tuple[str, ...]
    train: tuple[str, ...]
    inner_val: tuple[str, ...] = ()

    @property
    def fit(self) -> tuple[str, ...]:
        """Subjects whose samples update the weights (``train`` minus ``inner_val``)."""
        return tuple(s for s in self.train if s not in self.inner_val)

    def to_dict(self) -> dict:
        d = {"fold": self.index, "test": list(self.test), "train": list(self.train)}
        if self.inner_val:
            d["inner_val"] = list(self.inner_val)
        return d


def natural_key(text: str) -> tuple:
    """Sort key for ``spNO.2`` before ``spNO.10``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))


def seed_for(*parts: int) -> int:
    """A 32-bit seed derived from a run seed and indices (fold, epoch, ...), stable across runs."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def inner_split(train: Iterable[str], fraction: float, seed: int) -> tuple[str, ...]:
    """A seeded ``fraction`` (at least one, never all) of the training subjects."""
    train = sorted(train, key=natural_key)
    if len(train) < 2:
        raise MerError("inner validation needs at least 2 training subjects per fold, "
                       f"got {len(train)}")
    n = min(len(train) - 1, max(1, round(fraction * len(train))))
    chosen = np.random.default_rng(seed).choice(len(train), size=n, replace=False)
    return tuple(sorted((train[i] for i in chosen), key=natural_key))


# Stream ids keeping the seeded choices of different purposes independent.
_HOLDOUT_STREAM = 1
_INNER_STREAM = 2


def plan_folds(subjects: Iterable[str], protocol: str, seed: int, *,
               holdout_fraction: float = 0.2, inner_val: float | None = None) -> list[Fold]:
    """Folds over the distinct ``subjects``.

    ``loso``: one fold per subject, in natural order. ``holdout``: one fold testing a
    seeded ``holdout_fraction`` of the subjects (at least one, never all).
    """
    names = sorted(set(subjects), key=natural_key)
    if len(names) < 2:
        raise MerError(f"{protocol} needs samples of at least 2 subjects, got {len(names)}")
    if protocol == "loso":
        splits = [((s,), tuple(t for t in names if t != s)) for s in names]
    elif protocol == "holdout":
        n_test = min(len(names) - 1, max(1, round(holdout_fraction * len(names))))
        rng = np.random.default_rng(seed_for(seed, _HOLDOUT_STREAM))
        test = set(names[i] for i in rng.choice(len(names), size=n_test, replace=False))
        splits = [(tuple(s for s in names if s in test), tuple(s for s in names if s not in test))]
    else:
        raise MerError(f"unknown protocol {protocol!r}; expected loso or holdout")
    folds = []
    for k, (test, train) in enumerate(splits):
        val = inner_split(train, inner_val, seed_for(seed, _INNER_STREAM, k)) if inner_val else ()
        folds.append(Fold(index=k, test=test, train=train, inner_val=val))
    return folds
