"""The dataset's own exception lists: damaged and poor-quality frames of CAS(ME)³ Part A.

Distributed in an ``exception/`` folder (or at the root)::

    error_info_damaged_image_partA.txt   spNO.3 J 498.jpg  the image cannot open
    image_with_bad_quality_partA.txt     /any/absolute/path/spNO.138/a/color/1294.jpg

A frame is identified by (subject, clip, frame number), subject and clip
compared ignoring case (the lists write ``J`` where the folder is ``j``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DatasetError, os_reason

DAMAGED_FILE = "error_info_damaged_image_partA.txt"
BAD_QUALITY_FILE = "image_with_bad_quality_partA.txt"
EXCEPTION_DIR = "exception"

FrameKey = tuple[str, str, int]  # (subject lower-case, clip lower-case, frame number)

# "spNO.3 J 498.jpg  the image cannot open": subject, clip, frame file, then a free reason
_DAMAGED_LINE = re.compile(r"^\s*(spNO\.\d+)\s+([A-Za-z0-9]+)\s+(\d+)\.(?:jpg|png)\b\s*(.*)$",
                           re.IGNORECASE)
# ".../spNO.138/a/color/1294.jpg" (any prefix, depth folders too, / or \)
_PATH_LINE = re.compile(r"(spNO\.\d+)[/\\]([A-Za-z0-9]+)[/\\](?:[^/\\]+[/\\])?(\d+)\.(?:jpg|png)\s*$",
                        re.IGNORECASE)


def frame_key(subject: str, clip: str, number: int) -> FrameKey:
    return subject.lower(), clip.lower(), int(number)


@dataclass(frozen=True)
class FrameExceptions:
    """Damaged frames (with their reason) and poor-quality frames of a dataset."""

    damaged: dict[FrameKey, str] = field(default_factory=dict)
    bad_quality: frozenset[FrameKey] = frozenset()
    files: tuple[Path, ...] = ()
    #: ``<file>:<line>: <problem>`` of lines that name no frame (the rest are used)
    warnings: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.damaged or self.bad_quality)

    def damaged_reason(self, subject: str, clip: str, number: int) -> str | None:
        return self.damaged.get(frame_key(subject, clip, number))

    def is_bad_quality(self, subject: str, clip: str, number: int) -> bool:
        return frame_key(subject, clip, number) in self.bad_quality

    def row_problems(self, subject: str, clip: str, frames: dict[str, int]) -> tuple[list[str], list[str]]:
        """(reasons to skip, warnings) for a row whose ``frames`` are {"onset": n, "apex": m}."""
        skip, warn = [], []
        for name, number in frames.items():
            reason = self.damaged_reason(subject, clip, number)
            if reason is not None:
                skip.append(f"{name} frame {number} damaged ({DAMAGED_FILE}: {reason})")
            elif self.is_bad_quality(subject, clip, number):
                warn.append(f"{name} frame {number} of bad quality ({BAD_QUALITY_FILE})")
        return skip, warn


def find_exception_file(root: Path, name: str) -> Path | None:
    """``root/exception/<name>`` or ``root/<name>`` (exact name first, then ignoring case)."""
    for folder in (root / EXCEPTION_DIR, root):
        if (folder / name).is_file():
            return folder / name
    for folder in (root / EXCEPTION_DIR, root):
        try:
            for entry in folder.iterdir():
                if entry.name.lower() == name.lower() and entry.is_file():
                    return entry
        except OSError:
            continue
    return None


def _lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read exception list ({os_reason(exc)})") from None
    for encoding in ("utf-8-sig", "gb18030", "latin-1"):  # the lists come from a Chinese lab
        try:
            return raw.decode(encoding).splitlines()
        except UnicodeDecodeError:
            continue
    return []  # latin-1 decodes anything; unreachable


def parse_damaged(path: Path, problems: list[str]) -> dict[FrameKey, str]:
    """``spNO.3 J 498.jpg  the image cannot open`` lines (or frame paths) -> {frame: reason};
    a line that names no frame is added to ``problems``."""
    out: dict[FrameKey, str] = {}
    for line_no, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        match = _DAMAGED_LINE.match(line)
        if match:
            subject, clip, number, reason = match.groups()
            out[frame_key(subject, clip, int(number))] = reason.strip() or "damaged"
            continue
        match = _PATH_LINE.search(line.strip())
        if match:
            out[frame_key(match.group(1), match.group(2), int(match.group(3)))] = "damaged"
            continue
        problems.append(f"{path}:{line_no}: not a damaged-frame line (expected like "
                        f"'spNO.3 J 498.jpg  the image cannot open'): {line.strip()[:60]!r}")
    return out


def parse_bad_quality(path: Path, problems: list[str]) -> frozenset[FrameKey]:
    """Absolute frame paths ending in ``spNO.138/a/color/1294.jpg`` -> the frames; a line
    that names no frame is added to ``problems``."""
    out: set[FrameKey] = set()
    for line_no, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        match = _PATH_LINE.search(line.strip()) or _DAMAGED_LINE.match(line)
        if not match:
            problems.append(f"{path}:{line_no}: not a frame path (expected one ending in "
                            f"'spNO.138/a/color/1294.jpg'): {line.strip()[:60]!r}")
            continue
        out.add(frame_key(match.group(1), match.group(2), int(match.group(3))))
    return frozenset(out)


def load_exceptions(root: Path) -> FrameExceptions:
    """The exception lists found under ``root`` (none: an empty FrameExceptions).

    A list that cannot be read raises DatasetError naming it; lines that name no
    frame become warnings and the rest of the list is used."""
    damaged_path = find_exception_file(root, DAMAGED_FILE)
    quality_path = find_exception_file(root, BAD_QUALITY_FILE)
    problems: list[str] = []
    return FrameExceptions(
        damaged=parse_damaged(damaged_path, problems) if damaged_path else {},
        bad_quality=parse_bad_quality(quality_path, problems) if quality_path else frozenset(),
        files=tuple(p for p in (damaged_path, quality_path) if p is not None),
        warnings=tuple(problems),
    )
