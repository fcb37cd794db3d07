"""Error hierarchy whose messages name the file and what is wrong with it."""

from __future__ import annotations

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


def describe_error(exc: BaseException) -> str:
    """One line for the user: our errors as they are, an ``OSError`` as ``PATH: reason``,
    anything else (a bug) as ``Type: message``."""
    if isinstance(exc, MerError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        if exc.filename2 is not None:
            where = f"{where} → {exc.filename2}"
        return f"{where}: {exc.strerror}" if where else exc.strerror
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
