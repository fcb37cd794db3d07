"""Locate a sample's frame folders in either CAS(ME)³ packaging.

Layout "subject": ``<root>/<Subject>/<Clip>/color/<n>.jpg`` with depth in
``<Clip>/depth/<n>.png`` or beside the colour folder as ``<Clip>/<n>.png``.
Layout "clip": ``.../Part_A_ME_clip/frame/<Subject>_<Clip>_<Onset>/<n>.jpg``
with ``.../depth/<Subject>_<Clip>_<Onset>/<n>.png``, possibly nested twice.
Folder names match the sheet case-insensitively (``J`` vs ``j``).
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from .frames import ClipFrames

_CLIP_FOLDER = re.compile(r"^(?P<subject>.+)_(?P<clip>[^_]+)_(?P<onset>\d+)$")
_FRAME_DIR_NAMES = {"frame", "frames", "color", "colour", "rgb"}
_SEARCH_DEPTH = 4


def _listdirs(folder: Path) -> dict[str, Path]:
    """Sub-folders of ``folder`` keyed by lower-case name."""
    try:
        with os.scandir(folder) as entries:
            return {e.name.lower(): Path(e.path) for e in entries if e.is_dir()}
    except OSError:
        return {}


@dataclass
class Layout:
    """Index of the clip folders under a dataset root (built once, looked up per row)."""

    root: Path
    subjects: dict[str, Path]
    clip_folders: dict[tuple[str, str, int], Path]  # (subject, clip, onset) -> frame folder

    @classmethod
    def scan(cls, root: Path) -> "Layout":
        return cls(root, _listdirs(root), _scan_clip_layout(root))

    @property
    def kinds(self) -> list[str]:
        """Which layouts were found: ``subject`` and/or ``clip``."""
        kinds = []
        if any(name.startswith("spno") for name in self.subjects):
            kinds.append("subject")
        if self.clip_folders:
            kinds.append("clip")
        return kinds

    def frames_for(self, subject: str, clip: str, onset: int) -> ClipFrames | None:
        """The frame folders of a sample, or None when no folder exists for it."""
        key = (subject.lower(), clip.lower(), onset)
        folder = self.clip_folders.get(key)
        if folder is not None:
            return ClipFrames(folder, _clip_layout_depth(folder))
        subject_dir = self.subjects.get(subject.lower())
        if subject_dir is None:
            return None
        clip_dir = _listdirs(subject_dir).get(clip.lower())
        if clip_dir is None:
            return None
        inner = _listdirs(clip_dir)
        color_dir = next((inner[n] for n in ("color", "colour", "rgb") if n in inner), clip_dir)
        depth_dir = inner.get("depth")
        if depth_dir is None and color_dir != clip_dir:
            depth_dir = clip_dir  # depth kept beside the colour folder
        return ClipFrames(color_dir, depth_dir)


def _scan_clip_layout(root: Path) -> dict[tuple[str, str, int], Path]:
    """Find ``frame/<Subject>_<Clip>_<Onset>`` folders at most a few levels below ``root``."""
    found: dict[tuple[str, str, int], Path] = {}
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    while queue:
        folder, depth = queue.popleft()
        for name, path in _listdirs(folder).items():
            if name.startswith("spno") and depth == 0 and "_" not in name:
                continue  # a subject folder of the other layout: never walk its frames
            if name in _FRAME_DIR_NAMES:
                clips = 0
                for clip_name, clip_path in _listdirs(path).items():
                    match = _CLIP_FOLDER.match(clip_name)
                    if match:
                        key = (match["subject"], match["clip"], int(match["onset"]))
                        found.setdefault(key, clip_path)
                        clips += 1
                if clips:
                    continue
            if depth + 1 < _SEARCH_DEPTH and not _CLIP_FOLDER.match(name) and name != "depth":
                queue.append((path, depth + 1))
    return found


def _clip_layout_depth(frame_folder: Path) -> Path | None:
    """Depth folder of a clip-layout sample: ``../../depth/<same name>`` or inside it."""
    name = frame_folder.name
    parent = frame_folder.parent.parent
    for candidate in (parent / "depth" / name, frame_folder / "depth"):
        if candidate.is_dir():
            return candidate
    siblings = _listdirs(parent)
    if "depth" in siblings:
        match = _listdirs(siblings["depth"]).get(name.lower())
        if match is not None:
            return match
    return frame_folder  # depth PNGs beside the colour JPEGs
