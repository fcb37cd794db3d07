"""Frame files of one clip: index them by frame number and read colour and depth lazily."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import FrameError

COLOR_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DEPTH_SUFFIXES = (".png", ".tif", ".tiff")


def index_frames(folder: Path | None, suffixes: tuple[str, ...]) -> dict[int, Path]:
    """Map frame number -> file for files named ``<n>.<suffix>`` (``0001.jpg`` is frame 1)."""
    if folder is None:
        return {}
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    frames: dict[int, Path] = {}
    for name in names:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in suffixes and stem.isdigit():
            frames.setdefault(int(stem), folder / name)
    return frames


def find_frame(folder: Path | None, number: int, suffixes: tuple[str, ...]) -> Path | None:
    """The file of frame ``number`` in ``folder`` (unpadded name first), or None."""
    if folder is None:
        return None
    for suffix in suffixes:
        candidate = folder / f"{number}{suffix}"
        if candidate.is_file():
            return candidate
    # Zero-padded copies exist: fall back to a directory listing.
    return index_frames(folder, suffixes).get(number)


def read_color(path: Path) -> np.ndarray:
    """Read a colour frame: ``path -> (H, W, 3) uint8`` RGB."""
    import cv2

    if not Path(path).is_file():
        raise FrameError(path, "colour frame file does not exist")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError(path, "unreadable colour frame")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_depth(path: Path, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a depth frame: ``path -> (H, W) uint16`` millimetres, 0 = invalid.

    Raises FrameError when the file is missing, not a single-channel 16-bit
    image, or not ``expected_shape`` (the colour frame's height and width).
    """
    import cv2

    if not Path(path).is_file():
        raise FrameError(path, "depth frame file does not exist")
    depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise FrameError(path, "unreadable depth frame")
    if depth.ndim != 2:
        raise FrameError(path, f"depth must be single-channel, found {depth.shape[2]} channels")
    if depth.dtype != np.uint16:
        raise FrameError(path, f"depth must be 16-bit (millimetres), found {depth.dtype}")
    if expected_shape is not None and depth.shape != tuple(expected_shape):
        raise FrameError(
            path,
            f"depth is {depth.shape[1]}x{depth.shape[0]} but the colour frame is "
            f"{expected_shape[1]}x{expected_shape[0]}",
        )
    return depth


@dataclass(frozen=True)
class ClipFrames:
    """The colour and depth folders of one clip; files are indexed and read on demand."""

    color_dir: Path
    depth_dir: Path | None
    _cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    @cached_property
    def color_files(self) -> dict[int, Path]:
        return index_frames(self.color_dir, COLOR_SUFFIXES)

    @cached_property
    def depth_files(self) -> dict[int, Path]:
        return index_frames(self.depth_dir, DEPTH_SUFFIXES)

    @property
    def numbers(self) -> list[int]:
        """Frame numbers that have both a colour and a depth file, ascending."""
        return sorted(self.color_files.keys() & self.depth_files.keys())

    def color_path(self, number: int) -> Path:
        path = self.color_files.get(number)
        if path is None:
            raise FrameError(self.color_dir / f"{number}.jpg", "colour frame file does not exist")
        return path

    def depth_path(self, number: int) -> Path:
        path = self.depth_files.get(number)
        if path is None:
            folder = self.depth_dir or self.color_dir
            raise FrameError(folder / f"{number}.png", "depth frame file does not exist")
        return path

    def has(self, number: int) -> bool:
        """Whether frame ``number`` exists in colour and depth (cheap: no full listing)."""
        return (
            find_frame(self.color_dir, number, COLOR_SUFFIXES) is not None
            and find_frame(self.depth_dir, number, DEPTH_SUFFIXES) is not None
        )

    def missing(self, number: int) -> list[Path]:
        """Paths expected for frame ``number`` that are absent."""
        out = []
        if find_frame(self.color_dir, number, COLOR_SUFFIXES) is None:
            out.append(self.color_dir / f"{number}.jpg")
        if find_frame(self.depth_dir, number, DEPTH_SUFFIXES) is None:
            out.append((self.depth_dir or self.color_dir) / f"{number}.png")
        return out

    def color(self, number: int) -> np.ndarray:
        """Colour frame ``number`` as (H, W, 3) uint8 RGB."""
        return read_color(self.color_path(number))

    def depth(self, number: int) -> np.ndarray:
        """Depth frame ``number`` as (H, W) uint16 mm, checked against the colour frame size."""
        return read_depth(self.depth_path(number), self.color_shape(number))

    def color_shape(self, number: int) -> tuple[int, int]:
        """(H, W) of colour frame ``number``, read from the file header only."""
        shape = self._cache.get(("shape", number))
        if shape is None:
            shape = _image_shape(self.color_path(number))
            self._cache[("shape", number)] = shape
        return shape


def _image_shape(path: Path) -> tuple[int, int]:
    """(H, W) of an image file without decoding all of it where the format allows."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
    except Exception as exc:  # PIL raises several types for broken files
        raise FrameError(path, f"unreadable image ({exc})") from exc
    return height, width
