"""Frame files of one clip: index them by frame number and read colour and depth lazily."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import FrameError, os_reason

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
        if suffix.lower() in suffixes and stem.isascii() and stem.isdigit():
            frames.setdefault(int(stem), folder / name)
    return frames


def find_frame(folder: Path | None, number: int, suffixes: tuple[str, ...]) -> Path | None:
    """The file of frame ``number`` in ``folder`` (unpadded name first), or None.

    Raises FrameError when a frame file is there but cannot be examined (a
    symbolic link loop, no permission), so that it is not reported as missing.
    """
    if folder is None:
        return None
    for suffix in suffixes:
        candidate = folder / f"{number}{suffix}"
        try:
            if stat.S_ISREG(os.stat(candidate).st_mode):
                return candidate
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise FrameError(candidate, os_reason(exc)) from None
    # Zero-padded copies exist: fall back to a directory listing.
    return index_frames(folder, suffixes).get(number)


def read_color(path: Path) -> np.ndarray:
    """Read a colour frame: ``path -> (H, W, 3) uint8`` RGB.

    Raises FrameError naming the file when it is missing, unreadable, truncated
    or does not decode.
    """
    import cv2

    data = _read(path, "colour")
    if data.startswith(_JPEG_START):
        image = _decode_jpeg(path, data)
        if image is not None:
            return image
    image = _decode(path, data, "colour", cv2.IMREAD_COLOR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_depth(path: Path, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a depth frame: ``path -> (H, W) uint16`` millimetres, 0 = invalid.

    Raises FrameError when the file is missing, truncated, does not decode, is
    not a single-channel 16-bit image, or not ``expected_shape`` (the colour
    frame's height and width).
    """
    import cv2

    depth = _decode(path, _read(path, "depth"), "depth", cv2.IMREAD_UNCHANGED)
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


def _read(path: Path, kind: str) -> bytes:
    """The bytes of an image file that looks whole, else FrameError: truncated files are
    refused (libjpeg returns half a JPEG with a grey bottom and only a warning on stderr)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FrameError(path, f"{kind} frame file does not exist") from None
    except IsADirectoryError:
        raise FrameError(path, f"{kind} frame is a folder, not a file") from None
    except OSError as exc:
        raise FrameError(path, f"cannot read the {kind} frame ({os_reason(exc)})") from None
    if not data:
        raise FrameError(path, f"{kind} frame file is empty (0 bytes)")
    problem = incomplete_image(data)
    if problem is not None:
        raise FrameError(path, f"{kind} frame is {problem}")
    return data


def _decode_jpeg(path: Path, data: bytes) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB of a JPEG by libjpeg-turbo (simplejpeg), strictly: data that
    libjpeg decodes only with a warning ("Corrupt JPEG data: …", a damaged stretch
    painted grey or smeared, which OpenCV returns as if whole) is a FrameError naming it.
    None for a JPEG it does not support (CMYK, say): OpenCV decodes those."""
    import simplejpeg

    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except ValueError as strict_error:
        try:
            simplejpeg.decode_jpeg(data, colorspace="RGB", strict=False)
        except ValueError:
            return None
        reason = str(strict_error).strip().splitlines()[0] if str(strict_error).strip() else ""
        raise FrameError(path, f"colour frame is corrupt: {reason or 'libjpeg warned'} "
                               "(it decodes only with damage)") from None


def _decode(path: Path, data: bytes, kind: str, flags: int) -> np.ndarray:
    """Decode an image file's bytes by OpenCV, or FrameError."""
    import cv2

    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        image = None
    if image is None:
        raise FrameError(path, f"{kind} frame does not decode (corrupt or not an image)")
    return image


_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def incomplete_image(data: bytes) -> str | None:
    """Why an encoded JPEG, PNG or BMP is cut short, or None when it looks whole.

    A JPEG must end in its end-of-image marker and a PNG in its IEND chunk
    (trailing zero bytes, which some copies pad with, are allowed); a BMP must
    be as long as its header says. Other formats are left to the decoder.
    """
    if data.startswith(_JPEG_START):
        if not data.rstrip(b"\0").endswith(_JPEG_END):
            return f"truncated: the JPEG has no end-of-image marker ({len(data)} bytes)"
    elif data.startswith(_PNG_START):
        if not data.rstrip(b"\0").endswith(_PNG_END):
            return f"truncated: the PNG has no IEND chunk ({len(data)} bytes)"
    elif data.startswith(b"BM"):
        declared = int.from_bytes(data[2:6], "little") if len(data) >= 6 else 6
        if len(data) < declared:
            return f"truncated: the BMP holds {len(data)} of its {declared} bytes"
    return None


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
        try:
            return not self.missing(number)
        except FrameError:  # there, but a link loop or unreadable
            return False

    def missing(self, number: int) -> list[Path]:
        """Paths expected for frame ``number`` that are absent (FrameError: one is there but
        cannot be examined)."""
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
    except FileNotFoundError:
        raise FrameError(path, "colour frame file does not exist") from None
    except OSError as exc:
        if exc.errno is not None:  # the file system's error, not the image's
            raise FrameError(path, f"cannot read the colour frame ({os_reason(exc)})") from None
        raise FrameError(path, f"unreadable image ({exc})") from exc
    except Exception as exc:  # PIL raises several types for broken files
        raise FrameError(path, f"unreadable image ({exc})") from exc
    return height, width
