"""Error hierarchy whose messages name the file and what is wrong with it."""

from __future__ import annotations

import errno
from pathlib import Path


class MerError(Exception):
    """Base class of every error a user can cause; the CLI prints it on one line."""


class DatasetError(MerError):
    """The dataset root or its layout is unusable (missing root, no sheet, ...)."""


class AnnotationError(DatasetError):
    """An annotation sheet cannot be read or lacks required columns."""


class FileError(MerError):
    """A problem with one file; the message is ``<path>: <problem>``."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class FrameError(FileError):
    """A frame file is missing, unreadable, or has the wrong type or size."""


class SampleNotFoundError(DatasetError):
    """A subject/clip asked for by the user is not in the dataset."""


class FaceNotFoundError(MerError):
    """No face was found in a frame; ``source`` names the file (or describes the frame)."""

    def __init__(self, source: Path | str | None, problem: str = "no face found"):
        self.source = str(source) if source is not None else "<frame>"
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class CheckpointError(FileError):
    """A checkpoint file is missing, unreadable, truncated, or not a mer_viewer checkpoint."""


class PipelineError(MerError):
    """A clip's frames are readable but no motion cloud can be made from them."""


class MerWarning(UserWarning):
    """Something a user should know that does not change a result; the CLI prints it on one
    line as ``mer CMD: warning: ...``."""


class CacheWarning(MerWarning):
    """The disk cache cannot be written: results are right, but computed again next time."""


_OS_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "symbolic link loop",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "read-only file system",
}


def os_reason(exc: OSError) -> str:
    """What went wrong in an OSError, in words, without the path (``'permission denied'``)."""
    reason = _OS_REASONS.get(exc.errno or 0)
    if reason is not None:
        return reason
    if exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def write_reason(path: Path | str, exc: OSError) -> str:
    """Why writing ``path`` failed, in words; a file standing where a folder of the path
    should be is named (``mkdir`` only says 'file exists')."""
    for parent in Path(path).parents:
        try:
            if parent.exists() and not parent.is_dir():
                return f"{parent} is a file, not a folder"
        except OSError:
            break
    return os_reason(exc)


def describe_error(exc: BaseException) -> str:
    """One line for the user: our errors as they are, an ``OSError`` as ``PATH: reason``,
    anything else (a bug) as ``Type: message``."""
    if isinstance(exc, MerError):
        return str(exc)
    if isinstance(exc, OSError):  # PATH: reason (SRC -> DST: reason for a rename)
        if exc.filename is None:
            return os_reason(exc)
        where = str(exc.filename)
        if exc.filename2 is not None:
            where = f"{where} -> {exc.filename2}"
        return f"{where}: {os_reason(exc)}"
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
