"""Emotion names, class mappings (7-, 4-, 3-class, objective) and AU strings."""

from __future__ import annotations

import re
import reprlib
from typing import Literal

Task = Literal["7", "4", "3", "objective"]
TASKS: tuple[Task, ...] = ("7", "4", "3", "objective")

#: The seven CAS(ME)³ emotions in the order used for 7-class labels.
EMOTIONS_7 = ("anger", "disgust", "fear", "happy", "others", "sad", "surprise")
CLASSES_4 = ("negative", "positive", "surprise", "others")
CLASSES_3 = ("negative", "positive", "surprise")
OBJECTIVE_CLASSES = ("I", "II", "III", "IV", "V", "VI", "VII")

# Spellings met in the ME, MaE and Part C sheets, mapped to the 7-class names.
_EMOTION_ALIASES = {
    "anger": "anger", "angry": "anger",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear",
    "happy": "happy", "happiness": "happy",
    "others": "others", "other": "others",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
}
_TO_4 = {
    "anger": "negative", "disgust": "negative", "fear": "negative", "sad": "negative",
    "happy": "positive", "surprise": "surprise", "others": "others",
}
_ROMAN = {r: r for r in OBJECTIVE_CLASSES} | {str(i + 1): r for i, r in enumerate(OBJECTIVE_CLASSES)}

_AU_TOKEN = re.compile(r"^([LRTB]?)([0-9]{1,3})([A-E]?)$")  # FACS AU numbers are < 100


def normalise_emotion(raw: object) -> str | None:
    """Return the 7-class emotion for a sheet value (``'Others'`` → ``'others'``), or None."""
    if raw is None:
        return None
    key = str(raw).strip().lower()
    return _EMOTION_ALIASES.get(key)


def normalise_objective(raw: object) -> str | None:
    """Return the objective class as a roman numeral I..VII, or None if absent/unknown."""
    if raw is None:
        return None
    text = str(raw).strip().upper()
    if text.endswith(".0"):  # a number read from a spreadsheet as float
        text = text[:-2]
    return _ROMAN.get(text)


def label_for(emotion: str | None, objective: str | None, task: Task) -> str | None:
    """Class name of a sample for ``task``; None when the sample is not part of that task."""
    if task == "objective":
        return objective
    if emotion is None:
        return None
    if task == "7":
        return emotion
    if task == "4":
        return _TO_4[emotion]
    if task == "3":
        four = _TO_4[emotion]
        return None if four == "others" else four
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def as_task(name: object) -> Task:
    """``name`` (``3``, ``"3"``, ``"objective"``) as a Task; ValueError naming the tasks if it
    is none (a checked config's ``classes`` always is one)."""
    for task in TASKS:
        if task == str(name):
            return task
    raise ValueError(f"unknown task {name!r}; expected one of {TASKS}")


def class_names(task: Task) -> tuple[str, ...]:
    """The ordered class names of a task."""
    return {"7": EMOTIONS_7, "4": CLASSES_4, "3": CLASSES_3, "objective": OBJECTIVE_CLASSES}[task]


def parse_au(raw: object) -> tuple[str, ...]:
    """Parse an AU string such as ``'L2+L1'``, ``'T28+14'`` or ``4`` into ``('L2', 'L1')``.

    Side prefixes (L/R/T/B) and intensity suffixes are kept; numbers read by a
    spreadsheet as floats (``4.0``) become ``'4'``. Separators ``+``, ``,`` and
    whitespace are accepted. Raises ValueError on a token that is not an AU.
    """
    if raw is None:
        return ()
    if isinstance(raw, float):
        if raw != raw:  # NaN: an empty cell
            return ()
        if raw.is_integer():
            raw = int(raw)
    text = str(raw).strip().upper()
    if not text or text in {"NAN", "NONE", "/", "-"}:
        return ()
    tokens = [t for t in re.split(r"[+,\s]+", text) if t]
    out = []
    for token in tokens:
        if token.endswith(".0"):
            token = token[:-2]
        match = _AU_TOKEN.match(token.replace("AU", ""))
        if not match:
            raise ValueError(f"not an action unit: {reprlib.repr(token)} in {reprlib.repr(raw)}")
        side, number, intensity = match.groups()
        out.append(f"{side}{int(number)}{intensity}")
    return tuple(out)


def au_numbers(aus: tuple[str, ...]) -> tuple[int, ...]:
    """AU numbers without side prefixes or intensity: ``('L2', 'R12B') -> (2, 12)``."""
    return tuple(int(re.sub(r"\D", "", au)) for au in aus)
