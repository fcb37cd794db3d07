"""Which emotions the demo corpus draws: one of each per subject, or CAS(ME)³'s real proportions.

``even`` (the default) gives every subject each of the seven emotions once (see
:func:`.demo_plan.subject_emotions`). ``casme3`` gives the usable rows of the
micro-expression sheet the class balance of the real Part A v2 sheet after its
unusable rows are skipped (:data:`CASME3_COUNTS`): the 4-class shares (negative,
surprise, others, positive) are apportioned by largest remainder, then the negative
share among its four emotions the same way. Every count of the 7-, 4- and 3-class
tasks is then within one sample of its exact share, whatever the corpus size (a
plain largest-remainder split of the seven can miss a 3-class share by more).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

LABEL_MODES = ("even", "casme3")

#: 7-class counts of the real CAS(ME)³ Part A v2 micro-expression sheet, usable rows only.
CASME3_COUNTS = {"disgust": 245, "surprise": 183, "others": 133, "fear": 82, "sad": 56,
                 "anger": 55, "happy": 49}
_NEGATIVE = ("disgust", "fear", "sad", "anger")  # in CASME3_COUNTS' order


def largest_remainder(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Split ``total`` into whole counts proportional to ``weights`` (Hamilton's method:
    floors of the exact shares, then one more to the largest remainders; ties go to the
    key listed first)."""
    keys = list(weights)
    shares = np.array([weights[k] for k in keys], dtype=float)
    shares = shares * total / shares.sum()
    counts = np.floor(shares).astype(int)
    remainders = shares - counts
    for i in sorted(range(len(keys)), key=lambda i: -remainders[i])[:total - counts.sum()]:
        counts[i] += 1
    return {k: int(c) for k, c in zip(keys, counts)}


def casme3_counts(total: int) -> dict[str, int]:
    """7-class counts of ``total`` usable samples in CAS(ME)³'s proportions (see module)."""
    real = CASME3_COUNTS
    four = largest_remainder({"negative": sum(real[e] for e in _NEGATIVE),
                              "surprise": real["surprise"], "others": real["others"],
                              "positive": real["happy"]}, total)
    negative = largest_remainder({e: real[e] for e in _NEGATIVE}, four["negative"])
    counts = {**negative, "surprise": four["surprise"], "others": four["others"],
              "happy": four["positive"]}
    return {e: counts[e] for e in real}


def deal_emotions(slots: Mapping[int, int], rng: np.random.Generator) -> dict[int, list[str]]:
    """Emotions for ``slots`` (subject -> number of usable rows) in CAS(ME)³'s proportions.

    The emotions, rarest first, are dealt one per subject in turn (subjects in a seeded
    order, a subject whose rows are all dealt is passed over), so every subject gets
    about its share of each class and a rare class falls on as many subjects as it has
    samples; the subjects with more rows take the last, most frequent emotion.
    """
    order = [int(n) for n in rng.permutation(list(slots))]
    wanted = dict(slots)
    dealt: dict[int, list[str]] = {n: [] for n in slots}
    turn = 0
    for emotion, count in reversed(casme3_counts(sum(slots.values())).items()):
        for _ in range(count):
            while len(dealt[order[turn % len(order)]]) == wanted[order[turn % len(order)]]:
                turn += 1
            dealt[order[turn % len(order)]].append(emotion)
            turn += 1
    return dealt


def relabel(samples: dict[int, list[tuple[str, str]]], usable_kinds: Sequence[str],
            rng: np.random.Generator) -> dict[int, list[tuple[str, str]]]:
    """``samples`` (subject -> [(kind, emotion)]) with the emotions of the rows whose kind
    the loader keeps dealt in CAS(ME)³'s proportions (:func:`deal_emotions`); the other
    rows keep theirs."""
    usable = {n: [i for i, (kind, _) in enumerate(rows) if kind in usable_kinds]
              for n, rows in samples.items()}
    dealt = deal_emotions({n: len(rows) for n, rows in usable.items()}, rng)
    out = {n: list(rows) for n, rows in samples.items()}
    for n, indices in usable.items():
        for i, emotion in zip(indices, dealt[n]):
            out[n][i] = (out[n][i][0], emotion)
    return out
