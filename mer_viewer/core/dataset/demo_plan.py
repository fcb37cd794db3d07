"""Plan of the demo corpus: subjects, their looks, and every sheet row with its frames.

Two sheets: the micro-expressions (ME sheet, with anomalous rows) and, after
them, a few clean macro-expressions per subject (MaE sheet): the same AU fields,
2–6 mm at the peak instead of 0.3–2 mm, over longer spans. Deterministic in ``seed``. Subject looks and sample seeds come from
``np.random.SeedSequence`` keyed by (seed, purpose, subject, clip, onset), so a
subject's look does not depend on how many subjects there are and a sample
renders the same in any worker; the row layout (anomalies, clip letters, frame
numbers) comes from one plan stream keyed by the seed. The macro rows come from
a stream of their own, drawn after the micro rows, so adding them left every
micro-expression sample (and its frames) exactly as it was.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .demo_aus import EMOTION_AU_CHOICES, objective_class
from .demo_head import SubjectLook, head_geometry
from .demo_labels import LABEL_MODES, relabel
from .demo_render import SampleSpec
from .demo_scene import FX, HEIGHT, WIDTH

CLIP_LETTERS = "abcdefghijklm"
NEGATIVE = ("disgust", "sad", "anger", "fear")

#: Anomalous rows added for a 12-subject corpus (scaled with the subject count, at
#: least one each; always two occluded samples), as met in the real sheet.
ANOMALY_COUNTS_12 = {
    "onset_equals_apex": 3,
    "apex_before_onset": 2,
    "apex_after_offset": 2,
    "offset_zero": 3,
    "onset_zero": 2,
    "missing_clip": 1,
    "missing_apex_frame": 2,
    "hand_occlusion": 2,
}
ANOMALY_KINDS = tuple(ANOMALY_COUNTS_12)

_PLAN, _LOOK, _SAMPLE, _MACRO, _LABELS = 1, 2, 3, 4, 5  # SeedSequence purposes
#: Anomalous rows the loader keeps (an unknown offset); the others are skipped.
USABLE_KINDS = ("normal", "offset_zero")

#: Emotions of the macro-expressions, dealt in turn over the subjects: their AUs
#: give the objective classes I, II, IV, V, III, VI, VII, so a corpus of 4 subjects
#: or more has every objective class among its macro-expressions.
MACRO_EMOTIONS = ("happy", "surprise", "disgust", "sad", "anger", "fear", "others")
#: How the real MaE sheet spells the emotions that differ from the ME sheet.
MACRO_SPELLING = {"happy": "happiness", "sad": "sadness"}
#: Frames from onset to offset of a macro-expression, minus one (6–7 frames; the
#: micro-expressions have 5–11). Real ones last 0.5–4 s; the demo keeps
#: them short so that the default corpus stays about 100 MB (7–9 frames: 107 MB).
MACRO_SPANS = (5, 5, 6)
#: Frames from onset to offset of a micro-expression, minus one: 5–11 frames (real ones
#: last up to 0.5 s, 15 frames at 30 fps; the demo keeps them shorter to stay small),
#: with the apex anywhere strictly between onset and offset, so that the apex has to
#: be found. Six choices, drawn as before: every other row of the plan is unchanged.
MICRO_SPANS = (4, 5, 5, 6, 8, 10)


def _rng(*words: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))


def subject_numbers(subjects: int, seed: int) -> list[int]:
    """Sorted, non-contiguous subject numbers starting at 1 (``spNO.1``, ``spNO.2``, ``spNO.5``...)."""
    rng = _rng(seed, _PLAN, 0)
    pool = np.arange(2, int(subjects * 1.35) + 3)
    return [1] + sorted(int(n) for n in rng.choice(pool, subjects - 1, replace=False))


def subject_look(number: int, seed: int) -> SubjectLook:
    """Appearance and placement of subject ``number`` (face box about 240–300 px wide)."""
    rng = _rng(seed, _LOOK, number)
    size, aspect = rng.uniform(0.95, 1.03), rng.uniform(0.93, 1.07)
    distance = rng.uniform(640.0, 710.0)
    look = SubjectLook(
        number=number, mirror=bool(rng.random() < 0.5),
        color_gain_rgb=(rng.uniform(0.92, 1.08), rng.uniform(0.9, 1.04), rng.uniform(0.86, 1.04)),
        gamma=rng.uniform(0.85, 1.3), size=size, aspect=aspect,
        head_depth_mm=rng.uniform(78.0, 95.0), relief_scale=rng.uniform(0.85, 1.15),
        nose_scale=rng.uniform(0.85, 1.15), distance_mm=distance, centre_px=(0.0, 0.0),
        expressiveness=rng.uniform(0.75, 1.3), background_seed=int(rng.integers(2**31)),
    )
    # Keep the whole head (hair included) and the chin inside the frame.
    geo = head_geometry(look)
    px_per_mm = FX / (distance - 12.0)
    top = -geo.row_y_mm[geo.head_half_width_mm > 0].min() * px_per_mm
    chin = (geo.landmarks_mm[8, 1] + 30.0) * px_per_mm
    half_width = np.abs(geo.head_centre_mm).max() + geo.head_half_width_mm.max()
    v_lo, v_hi = top + 14, max(top + 14, HEIGHT - chin - 14)
    u_margin = half_width * px_per_mm + 14
    centre = (rng.uniform(u_margin, WIDTH - u_margin), rng.uniform(v_lo, min(v_hi, v_lo + 70)))
    return replace(look, centre_px=(float(centre[0]), float(centre[1])))


def subject_emotions(index: int, clips: int) -> list[str]:
    """Emotions of one subject's normal samples: every class of the 3-, 4- and 7-class tasks
    as far as ``clips`` allows (positive, surprise and a negative come first)."""
    negative = NEGATIVE[index % 4:] + NEGATIVE[:index % 4]
    order = ["happy", "surprise", negative[0], "others", *negative[1:]]
    extras = ("happy", "surprise", "disgust")
    return [order[i] if i < len(order) else extras[(index + i) % 3] for i in range(clips)]


def _anomaly_counts(subjects: int) -> dict[str, int]:
    return {kind: 2 if kind == "hand_occlusion" else max(1, round(n * subjects / 12))
            for kind, n in ANOMALY_COUNTS_12.items()}


def plan_corpus(subjects: int, clips_per_subject: int, seed: int,
                macro_per_subject: int = 2, labels: str = "even") -> list[SampleSpec]:
    """Every row of both sheets as a :class:`SampleSpec` (``sheet`` "me" or "mae"), each
    sheet's rows sorted like the real sheet, the micro-expressions first.

    ``labels``: ``even`` (each subject shows each emotion once) or ``casme3`` (the
    usable micro-expression rows in the real sheet's proportions, see
    :mod:`.demo_labels`); the AUs follow the emotion either way."""
    if labels not in LABEL_MODES:
        raise ValueError(f"labels must be one of {LABEL_MODES}, not {labels!r}")
    rng = _rng(seed, _PLAN, 1)
    numbers = subject_numbers(subjects, seed)
    looks = {n: subject_look(n, seed) for n in numbers}

    # (kind, emotion) per subject: the normal samples, then anomalies dealt round-robin.
    samples: dict[int, list[tuple[str, str]]] = {
        n: [("normal", e) for e in subject_emotions(i, clips_per_subject)]
        for i, n in enumerate(numbers)}
    dealer = list(rng.permutation(numbers))
    emotions = sorted(EMOTION_AU_CHOICES)
    turn = 0
    for kind, count in _anomaly_counts(subjects).items():
        for _ in range(count):
            emotion = emotions[rng.integers(len(emotions))]
            samples[int(dealer[turn % len(dealer)])].append((kind, emotion))
            turn += 1
    if labels == "casme3":  # its own stream: the plan's draws are the same as with even
        samples = relabel(samples, USABLE_KINDS, _rng(seed, _LABELS, 0))

    beside_subject = int(rng.choice(numbers))
    upper_case_subjects = set(int(n) for n in rng.choice(numbers, min(2, subjects), replace=False))
    sharing_subjects = set(int(n) for n in rng.choice(numbers, min(2, subjects), replace=False))
    others_capitalised = 0
    specs: list[SampleSpec] = []
    clips_of: dict[int, dict[str, tuple[str, int]]] = {}  # letter -> (folder, next free frame)
    for number in numbers:
        subject = f"spNO.{number}"
        order = [samples[number][i] for i in rng.permutation(len(samples[number]))]
        # rows that need a clip of their own (frames from 1; no folder) take letters first
        order.sort(key=lambda item: item[0] not in ("onset_zero", "missing_clip"))
        letters = _assign_letters(order, number in sharing_subjects)
        normal_letters = [letter for (kind, _), letter in zip(order, letters) if kind == "normal"]
        upper_letter = normal_letters[-1] if number in upper_case_subjects and normal_letters else None
        next_onset: dict[str, int] = {}
        for (kind, emotion), letter in zip(order, letters):
            span = int(rng.choice(MICRO_SPANS))
            onset = 1 if kind == "onset_zero" else next_onset.get(letter, int(rng.integers(20, 400)))
            apex = onset + 1 + int(rng.uniform(0.0, 1.0) * (span - 1))  # anywhere inside
            offset = onset + span
            next_onset[letter] = offset + int(rng.integers(15, 120))
            au = str(rng.choice(EMOTION_AU_CHOICES[emotion]))
            spelled = emotion
            if emotion == "others" and others_capitalised < 3 and rng.random() < 0.5:
                spelled, others_capitalised = "Others", others_capitalised + 1
            sheet = _sheet_numbers(kind, onset, apex, offset)
            specs.append(SampleSpec(
                subject=subject, clip=letter,
                clip_folder=letter.upper() if letter == upper_letter else letter,
                depth_beside_color=number == beside_subject, emotion=spelled, au=au,
                objective_class=objective_class(au), kind=kind,
                onset=sheet[0], apex=sheet[1], offset=sheet[2],
                true_onset=onset, true_apex=apex, true_offset=offset,
                skip_frames=(apex,) if kind == "missing_apex_frame" else (),
                occluded=kind == "hand_occlusion",
                seed_words=(seed, _SAMPLE, number, ord(letter), sheet[0]),
                look=looks[number],
            ))
        clips_of[number] = {}
        for (kind, _), letter in zip(order, letters):  # a clip with an anomaly is not shared
            shareable = kind == "normal" and clips_of[number].get(letter, ("", 0))[1] != -1
            clips_of[number][letter] = (letter.upper() if letter == upper_letter else letter,
                                        next_onset[letter] if shareable else -1)
    specs.sort(key=lambda s: (int(s.subject[5:]), s.clip, s.onset))
    macro = _plan_macro(numbers, looks, clips_of, beside_subject, macro_per_subject, seed)
    return specs + macro


def _plan_macro(numbers: list[int], looks: dict, clips_of: dict[int, dict[str, tuple[str, int]]],
                beside_subject: int, per_subject: int, seed: int) -> list[SampleSpec]:
    """The MaE sheet's rows: ``per_subject`` macro-expressions per subject, each in a clip
    letter of its own while the subject has free letters, else after the last sample
    of one of its micro-expression clips (one video, two onsets).

    ``clips_of``: per subject, the letters used by the micro rows -> (folder name,
    next free frame, or -1 when the clip holds an anomalous row and is not shared).
    """
    rng = _rng(seed, _PLAN, 2)
    specs: list[SampleSpec] = []
    turn = 0
    for number in numbers:
        used = dict(clips_of.get(number, {}))
        shareable = [letter for letter, (_, free) in used.items() if free > 0]
        for j in range(per_subject):
            emotion = MACRO_EMOTIONS[turn % len(MACRO_EMOTIONS)]
            turn += 1
            span = int(rng.choice(MACRO_SPANS))
            free_letters = [c for c in CLIP_LETTERS if c not in used]
            if free_letters:
                letter = free_letters[0]
                folder, onset = letter, int(rng.integers(20, 400))
            elif shareable:
                letter = shareable[j % len(shareable)]
                folder, onset = used[letter]
            else:
                continue  # every clip holds an anomalous row: no room for this subject
            apex = int(np.clip(onset + round(span * rng.uniform(0.3, 0.5)), onset + 2,
                               onset + span - 2))
            offset = onset + span
            used[letter] = (folder, offset + int(rng.integers(15, 120)))
            if letter not in shareable:
                shareable.append(letter)
            au = str(rng.choice(EMOTION_AU_CHOICES[emotion]))
            specs.append(SampleSpec(
                subject=f"spNO.{number}", clip=letter, clip_folder=folder,
                depth_beside_color=number == beside_subject,
                emotion=MACRO_SPELLING.get(emotion, emotion), au=au,
                objective_class=objective_class(au), kind="normal",
                onset=onset, apex=apex, offset=offset,
                true_onset=onset, true_apex=apex, true_offset=offset,
                skip_frames=(), occluded=False,
                seed_words=(seed, _MACRO, number, ord(letter), onset),
                look=looks[number], sheet="mae",
            ))
    specs.sort(key=lambda s: (int(s.subject[5:]), s.clip, s.onset))
    return specs


def _assign_letters(order: list[tuple[str, str]], share_one_clip: bool) -> list[str]:
    """Clip letters a, b, c... in order; with ``share_one_clip`` the second normal sample
    goes into the first one's clip (one video, two onsets). More samples than letters
    share clips too."""
    letters: list[str] = []
    normal_letters: list[str] = []
    for kind, _ in order:
        if kind == "normal" and share_one_clip and len(normal_letters) == 1:
            letter = normal_letters[0]
        elif len(set(letters)) < len(CLIP_LETTERS):
            letter = CLIP_LETTERS[len(set(letters))]
        else:  # out of letters: share a normal sample's clip
            letter = normal_letters[len(letters) % len(normal_letters)]
        letters.append(letter)
        if kind == "normal":
            normal_letters.append(letter)
    return letters


def _sheet_numbers(kind: str, onset: int, apex: int, offset: int) -> tuple[int, int, int]:
    """(onset, apex, offset) as the sheet states them for a sample of ``kind``."""
    if kind == "onset_equals_apex":
        return onset, onset, offset
    if kind == "apex_before_onset":
        return apex, onset, offset
    if kind == "apex_after_offset":
        return onset, apex, apex - 1
    if kind == "offset_zero":
        return onset, apex, 0
    if kind == "onset_zero":
        return 0, apex, offset
    return onset, apex, offset
