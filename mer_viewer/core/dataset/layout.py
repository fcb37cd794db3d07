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
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DatasetError, os_reason
from .frames import ClipFrames

_CLIP_FOLDER = re.compile(r"^(?P<subject>.+)_(?P<clip>[^_]+)_(?P<onset>\d+)$")
_FRAME_DIR_NAMES = {"frame", "frames", "color", "colour", "rgb"}
_SEARCH_DEPTH = 4


class FolderProblem(DatasetError):
    """The frames of a sample cannot be found; the message is the reason the row is skipped
    (``no folder for spNO.1/a``, ``<path>: permission denied``, ``<path>: symbolic link loop``)."""


def _is_dir(entry: os.DirEntry, problems: dict[Path, str]) -> bool:
    try:
        return entry.is_dir()
    except OSError as exc:  # a link loop or a link into a folder we may not enter
        problems[Path(entry.path)] = os_reason(exc)
        return False


@dataclass
class Layout:
    """Index of the clip folders under a dataset root (built once, looked up per row).

    ``problems``: every entry met that could not be examined or listed (a link
    loop, no permission), path -> reason; one bad entry hides only itself.
    """

    root: Path
    subjects: dict[str, Path]
    clip_folders: dict[tuple[str, str, int], Path]  # (subject, clip, onset) -> frame folder
    problems: dict[Path, str] = field(default_factory=dict)
    #: problems that are a skipped row's reason (the rest are warnings)
    reported: set[Path] = field(default_factory=set)

    @classmethod
    def scan(cls, root: Path) -> Layout:
        problems: dict[Path, str] = {}
        subjects = _listdirs(root, problems)
        if root in problems:
            raise DatasetError(f"{root}: cannot list the dataset folder ({problems[root]})")
        return cls(root, subjects, _scan_clip_layout(root, problems), problems)

    @property
    def kinds(self) -> list[str]:
        """Which layouts were found: ``subject`` and/or ``clip``."""
        kinds = []
        if any(name.startswith("spno") for name in self.subjects):
            kinds.append("subject")
        if self.clip_folders:
            kinds.append("clip")
        return kinds

    @property
    def warnings(self) -> list[str]:
        """``<path>: <reason>`` of the problem entries that no skipped row names."""
        return [f"{path}: {why}" for path, why in sorted(self.problems.items())
                if path not in self.reported]

    def frames_for(self, subject: str, clip: str, onset: int) -> ClipFrames:
        """The frame folders of a sample; FolderProblem says why there are none."""
        key = (subject.lower(), clip.lower(), onset)
        folder = self.clip_folders.get(key)
        if folder is not None:
            return ClipFrames(folder, _clip_layout_depth(folder, self.problems))
        subject_dir = self._child(self.subjects, self.root, subject, f"{subject}/{clip}")
        clip_dir = self._child(self._list(subject_dir), subject_dir, clip, f"{subject}/{clip}")
        inner = self._list(clip_dir)
        color_dir = next((inner[n] for n in ("color", "colour", "rgb") if n in inner), clip_dir)
        depth_dir = inner.get("depth")
        if depth_dir is None and color_dir != clip_dir:
            depth_dir = clip_dir  # depth kept beside the colour folder
        return ClipFrames(color_dir, depth_dir)

    def _list(self, folder: Path) -> dict[str, Path]:
        listing = _listdirs(folder, self.problems)
        if folder in self.problems:
            self.reported.add(folder)
            raise FolderProblem(f"{folder}: {self.problems[folder]}")
        return listing

    def _child(self, dirs: dict[str, Path], parent: Path, name: str, what: str) -> Path:
        found = dirs.get(name.lower())
        if found is not None:
            return found
        broken = next((p for p in self.problems
                       if p.parent == parent and p.name.lower() == name.lower()), None)
        if broken is not None:
            self.reported.add(broken)
            raise FolderProblem(f"{broken}: {self.problems[broken]}")
        raise FolderProblem(f"missing frames: no folder for {what}")


def _listdirs(folder: Path, problems: dict[Path, str]) -> dict[str, Path]:
    """Sub-folders of ``folder`` keyed by lower-case name. An entry that cannot be examined
    is left out and recorded in ``problems``; so is a folder that cannot be listed."""
    dirs: dict[str, Path] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if _is_dir(entry, problems):
                    dirs[entry.name.lower()] = Path(entry.path)
    except OSError as exc:
        problems[Path(folder)] = os_reason(exc)
    return dirs


def _scan_clip_layout(root: Path, problems: dict[Path, str]) -> dict[tuple[str, str, int], Path]:
    """Find ``frame/<Subject>_<Clip>_<Onset>`` folders at most a few levels below ``root``."""
    found: dict[tuple[str, str, int], Path] = {}
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    seen: set[tuple[int, int]] = set()  # (device, inode): a link to a parent is walked once
    while queue:
        folder, depth = queue.popleft()
        try:
            info = os.stat(folder)
        except OSError as exc:
            problems[folder] = os_reason(exc)
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        for name, path in _listdirs(folder, problems).items():
            if name.startswith("spno") and depth == 0 and "_" not in name:
                continue  # a subject folder of the other layout: never walk its frames
            if name in _FRAME_DIR_NAMES:
                clips = 0
                for clip_name, clip_path in _listdirs(path, problems).items():
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


def _clip_layout_depth(frame_folder: Path, problems: dict[Path, str]) -> Path | None:
    """Depth folder of a clip-layout sample: ``../../depth/<same name>`` or inside it."""
    name = frame_folder.name
    parent = frame_folder.parent.parent
    for candidate in (parent / "depth" / name, frame_folder / "depth"):
        try:
            if candidate.is_dir():
                return candidate
        except OSError as exc:  # no permission to look: say so, then try the others
            problems[candidate] = os_reason(exc)
    siblings = _listdirs(parent, problems)
    if "depth" in siblings:
        match = _listdirs(siblings["depth"], problems).get(name.lower())
        if match is not None:
            return match
    return frame_folder  # depth PNGs beside the colour JPEGs
