"""Subject-wise folds (LOSO, hold-out, macro→micro transfer) and inner validation splits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from mer_viewer.core.errors import MerError


@dataclass(frozen=True)
class Fold:
    """Subjects of one fold. ``inner_val`` ⊂ ``train``; ``test`` is disjoint from both.

    ``train_source`` / ``test_source``: which samples of those subjects are used
    (a sheet kind, ``me`` or ``mae``, as in ``TrainItem.source``); None: all of them.
    """

    index: int
    test: tuple[str, ...]
    train: tuple[str, ...]
    inner_val: tuple[str, ...] = ()
    train_source: str | None = None
    test_source: str | None = None

    @property
    def fit(self) -> tuple[str, ...]:
        """Subjects whose samples update the weights (``train`` minus ``inner_val``)."""
        return tuple(s for s in self.train if s not in self.inner_val)

    def to_dict(self) -> dict:
        d = {"fold": self.index, "test": list(self.test), "train": list(self.train)}
        if self.inner_val:
            d["inner_val"] = list(self.inner_val)
        if self.train_source is not None:
            d["train_source"] = self.train_source
        if self.test_source is not None:
            d["test_source"] = self.test_source
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


#: Sources of the ``transfer`` protocol: train on macro-, test on micro-expressions.
TRANSFER_SOURCES = ("mae", "me")


def plan_folds(subjects: Iterable[str], protocol: str, seed: int, *,
               holdout_fraction: float = 0.2, inner_val: float | None = None,
               sources: Iterable[str] | None = None) -> list[Fold]:
    """Folds over the distinct ``subjects`` (one entry per sample).

    ``loso``: one fold per subject, in natural order. ``holdout``: one fold testing a
    seeded ``holdout_fraction`` of the subjects (at least one, never all).
    ``transfer`` (paper Table IV, macro→micro): ``sources`` gives each sample's sheet
    (``me``/``mae``, parallel to ``subjects``); one fold per subject with
    micro-expressions, testing that subject's micro-expressions and training on the
    macro-expressions of every OTHER subject. Stricter than the paper, which trains
    on the macro-expressions of all subjects (the test subject's included).
    """
    subjects = list(subjects)
    if protocol == "transfer":
        return _transfer_folds(subjects, sources, seed, inner_val)
    names = sorted(set(subjects), key=natural_key)
    if len(names) < 2:
        raise MerError(f"{protocol} needs samples of at least 2 subjects, got {len(names)}")
    splits: list[tuple[tuple[str, ...], tuple[str, ...]]]
    if protocol == "loso":
        splits = [((s,), tuple(t for t in names if t != s)) for s in names]
    elif protocol == "holdout":
        n_test = min(len(names) - 1, max(1, round(holdout_fraction * len(names))))
        rng = np.random.default_rng(seed_for(seed, _HOLDOUT_STREAM))
        tested = set(names[i] for i in rng.choice(len(names), size=n_test, replace=False))
        splits = [(tuple(s for s in names if s in tested),
                   tuple(s for s in names if s not in tested))]
    else:
        raise MerError(f"unknown protocol {protocol!r}; expected loso, holdout or transfer")
    folds = []
    for k, (test, train) in enumerate(splits):
        val = inner_split(train, inner_val, seed_for(seed, _INNER_STREAM, k)) if inner_val else ()
        folds.append(Fold(index=k, test=test, train=train, inner_val=val))
    return folds


def _transfer_folds(subjects: list[str], sources: Iterable[str] | None, seed: int,
                    inner_val: float | None) -> list[Fold]:
    train_source, test_source = TRANSFER_SOURCES
    sources = list(sources) if sources is not None else []
    if len(sources) != len(subjects):
        raise MerError("the transfer protocol needs the sheet (me or mae) of every sample")
    macro = sorted({s for s, src in zip(subjects, sources) if src == train_source}, key=natural_key)
    micro = sorted({s for s, src in zip(subjects, sources) if src == test_source}, key=natural_key)
    if not macro:
        raise MerError("the transfer protocol needs macro-expression samples (MaE sheet) "
                       "to train on; none were given")
    if not micro:
        raise MerError("the transfer protocol needs micro-expression samples (ME sheet) "
                       "to test on; none were given")
    folds = []
    for k, test in enumerate(micro):
        train = tuple(s for s in macro if s != test)
        if not train:
            raise MerError(f"transfer fold {k} (test {test}): no other subject has "
                           "macro-expressions to train on")
        val = inner_split(train, inner_val, seed_for(seed, _INNER_STREAM, k)) if inner_val else ()
        folds.append(Fold(k, (test,), train, val, train_source, test_source))
    return folds
