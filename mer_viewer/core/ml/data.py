"""Training items, their stacking into arrays, seeded batches and augmentation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from mer_viewer.core.errors import MerError


@dataclass(frozen=True)
class TrainItem:
    """One sample handed to the trainer.

    ``features``: (N, C) float32 network input (C = 6: xyz ⊕ r̂θ̂φ̂, SPEC §1 step 9),
    already sampled to N points. ``label``: class name for the task, or None
    when the sample is not part of the task (it is then dropped and counted).
    ``source``: the sheet it comes from (``me`` micro-, ``mae`` macro-expressions);
    only the ``transfer`` protocol tells them apart.
    """

    sample_id: str
    subject: str
    clip: str
    label: str | None
    features: np.ndarray
    source: str = "me"


@dataclass(frozen=True)
class StackedItems:
    """The training items of a task stacked into arrays (every fold's train and test rows).

    ``x``: (S, N, C) float32; ``y``: (S,) int64 indices into ``classes``;
    ``subjects``/``clips``/``sample_ids``/``sources``: (S,) str arrays; ``dropped``: how
    many items had no label for the task; ``absent_classes``: task classes with no sample.
    """

    x: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    clips: np.ndarray
    sample_ids: np.ndarray
    classes: tuple[str, ...]
    dropped: int
    absent_classes: tuple[str, ...]
    sources: np.ndarray | None = None  # None: every sample from the ME sheet

    def fingerprint(self) -> str:
        """SHA-1 of ids, labels, sources and features: a resumed run must see the same data."""
        h = hashlib.sha1()
        h.update("\n".join(f"{s}|{c}" for s, c in zip(self.sample_ids, self.y)).encode())
        if self.sources is not None and (self.sources != "me").any():  # ME only: as before
            h.update("\n".join(self.sources).encode())
        h.update(np.ascontiguousarray(self.x).tobytes())
        return h.hexdigest()


def stack_items(items: Sequence[TrainItem], task_classes: Sequence[str]) -> StackedItems:
    """Drop unlabelled items, check shapes and labels, and stack the rest.

    The run's classes are the task's classes that occur in the data, in task
    order: a class with no sample at all would only add a 0 to every mean.
    """
    kept = [it for it in items if it.label is not None]
    labels = [it.label for it in items if it.label is not None]
    dropped = len(items) - len(kept)
    if not kept:
        raise MerError(f"no sample has a label for this task ({dropped} dropped)")
    unknown = sorted(set(labels) - set(task_classes))
    if unknown:
        raise MerError(f"labels {unknown} are not classes of the task {list(task_classes)}")
    ids = [it.sample_id for it in kept]
    if len(set(ids)) != len(ids):
        raise MerError("sample ids are not unique")
    shape = np.shape(kept[0].features)
    if len(shape) != 2:
        raise MerError(f"{kept[0].sample_id}: features must be (N, C), got shape {shape}")
    for it in kept:
        if np.shape(it.features) != shape:
            raise MerError(f"{it.sample_id}: features have shape {np.shape(it.features)}, "
                           f"expected {shape} like the others (sample every clip to the same N)")
    x = np.stack([np.asarray(it.features, dtype=np.float32) for it in kept])
    if not np.isfinite(x).all():
        bad = [kept[i].sample_id for i in np.flatnonzero(~np.isfinite(x).all(axis=(1, 2)))]
        raise MerError(f"non-finite features in {bad[:5]}")
    present = set(labels)
    classes = tuple(c for c in task_classes if c in present)
    if len(classes) < 2:
        raise MerError(f"every labelled sample is {classes[0]}: a classifier needs at least "
                       "2 classes")
    index = {c: i for i, c in enumerate(classes)}
    return StackedItems(
        x=x,
        y=np.array([index[label] for label in labels], dtype=np.int64),
        subjects=np.array([it.subject for it in kept], dtype=object),
        clips=np.array([it.clip for it in kept], dtype=object),
        sample_ids=np.array(ids, dtype=object),
        classes=classes,
        dropped=dropped,
        absent_classes=tuple(c for c in task_classes if c not in present),
        sources=np.array([it.source for it in kept], dtype=object),
    )


def batch_indices(indices: np.ndarray, batch_size: int, rng: np.random.Generator
                  ) -> list[np.ndarray]:
    """Shuffled batches of ``indices``; a last batch of one sample is dropped (batch norm)."""
    order = rng.permutation(indices)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if batches and len(batches[-1]) < 2:
        batches.pop()
    return batches


def balanced_batch_indices(indices: np.ndarray, labels: np.ndarray, batch_size: int,
                           rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of as many draws as ``indices`` has rows, each draw a class present among
    them (equally likely) and then one of its rows, with replacement: every class is seen
    as often, a rare one's rows repeated (torch's ``WeightedRandomSampler`` with weights
    1 / n_c). ``labels``: the class of each row of ``indices``. Batched as
    :func:`batch_indices` does, so an epoch has the same number of steps."""
    indices, labels = np.asarray(indices), np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    p = 1.0 / (len(classes) * counts[np.searchsorted(classes, labels)])
    order = rng.choice(indices, size=len(indices), replace=True, p=p / p.sum())
    return batch_indices(order, batch_size, rng)


def n_batches(n: int, batch_size: int) -> int:
    """How many batches :func:`batch_indices` makes of n samples."""
    full, rest = divmod(n, batch_size)
    return full + (1 if rest >= 2 else 0)


def eval_batches(indices: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Batches in order, nothing dropped (eval mode needs no batch statistics)."""
    for i in range(0, len(indices), batch_size):
        yield indices[i:i + batch_size]


def augment(x: np.ndarray, options: Sequence[str], rng: np.random.Generator, *,
            rotate_deg: float, scale_range: float, jitter_std: float) -> np.ndarray:
    """Augment a batch ``(B, N, C) float32`` (a copy).

    ``rotate``: about the vertical camera axis y; ``scale``: one factor per
    sample; ``jitter``: per point, clipped to ±3σ; these move xyz only, the
    motion colours stay as measured. ``flip``: half the samples mirrored left
    to right, the face and its motion: x → −x and, for points that moved (not
    black), θ̂ becomes the direction of (−Δx, Δy) (r̂ and φ̂ do not change).
    A face is nearly symmetric, so this is another plausible face with the
    mirrored expression (an AU12 on the right becomes one on the left).
    """
    if not options:
        return x
    x = x.copy()
    xyz = x[..., :3]
    b = x.shape[0]
    if "rotate" in options:
        a = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg, size=b))
        c, s = np.cos(a), np.sin(a)
        rot = np.zeros((b, 3, 3), dtype=np.float64)
        rot[:, 0, 0], rot[:, 0, 2] = c, s
        rot[:, 1, 1] = 1.0
        rot[:, 2, 0], rot[:, 2, 2] = -s, c
        xyz[:] = np.einsum("bij,bnj->bni", rot, xyz).astype(np.float32)
    if "scale" in options:
        xyz *= rng.uniform(1 - scale_range, 1 + scale_range, size=(b, 1, 1)).astype(np.float32)
    if "jitter" in options:
        noise = rng.normal(0.0, jitter_std, size=xyz.shape)
        xyz += np.clip(noise, -3 * jitter_std, 3 * jitter_std).astype(np.float32)
    if "flip" in options:
        flip = np.flatnonzero(rng.random(b) < 0.5)
        x[flip] = mirrored(x[flip])
    return x


def mirrored(x: np.ndarray) -> np.ndarray:
    """Network input ``(..., N, C)`` of the mirror-image face (a copy): x → −x and, with
    the motion colour channels (C ≥ 6), θ̂ of (Δx, Δy) → θ̂ of (−Δx, Δy)."""
    out = np.array(x, dtype=np.float32, copy=True)
    out[..., 0] *= -1
    if out.shape[-1] >= 6:
        out[..., 4] = mirrored_theta_hat(out[..., 4], out[..., 5])
    return out


def mirrored_theta_hat(theta_hat: np.ndarray, phi_hat: np.ndarray) -> np.ndarray:
    """θ̂ of the motion mirrored left to right, (Δx, Δy) → (−Δx, Δy); black points
    (θ̂ = φ̂ = 0: below the noise floor) stay black."""
    theta = 2 * np.pi * theta_hat.astype(np.float64) - np.pi
    mirrored = np.where(theta >= 0, np.pi - theta, -np.pi - theta)
    out = ((mirrored + np.pi) / (2 * np.pi)).astype(theta_hat.dtype)
    return np.where((theta_hat == 0) & (phi_hat == 0), theta_hat, out)
