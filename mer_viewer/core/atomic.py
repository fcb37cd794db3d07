"""Atomic file writes: a temporary file beside the target, fsync, ``os.replace``, fsync the folder.

Temporary files are named ``.tmp-<target name>.<host>.<pid>.<random><suffix>``,
so the ones a killed writer leaves behind can be recognised as ours, as
belonging to one target, and as stale (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".tmp-"
#: A temporary file untouched for this long is stale whoever wrote it (a live writer keeps
#: writing to it; every atomic write here takes seconds at most).
STALE_AFTER_S = 15 * 60
_TARGET_CHARS = 100  # of the target's name in a temporary name (NAME_MAX is 255)
HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_TEMP_NAME = re.compile(r"^\.tmp-(?P<target>.+)\.(?P<host>[0-9a-f]{6})\.(?P<pid>\d+)\."
                        r"(?P<token>[0-9a-f]{8})(?P<suffix>(\.[^.]*)?)$")


def temp_name(target: Path, pid: int | None = None, host: str = HOST_TAG) -> str:
    """A fresh temporary name for ``target`` (same suffix, so format-by-extension writers work)."""
    return (f"{TEMP_PREFIX}{target.name[:_TARGET_CHARS]}.{host}.{os.getpid() if pid is None else pid}"
            f".{secrets.token_hex(4)}{target.suffix}")


def _create_temp(target: Path) -> Path:
    """Create an empty temporary file beside ``target`` with the permissions ``open()`` gives a
    new file (0666 less the umask), not ``mkstemp``'s 0600."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = target.with_name(temp_name(target))
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:  # 2^32 tokens: only a collision, try another
            continue
        return tmp


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; skipped where folders cannot be opened or
    synced, e.g. on Windows and some network file systems)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path | str,
                precondition: Callable[[], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds its content is flushed
    to disk, given the mode ``path`` had (a new file: the umask default) and moved onto
    ``path``, and the folder is synced. On any error the temporary file is removed and
    ``path`` keeps its old content. ``precondition`` is called last before the move; what
    it raises cancels the write (e.g. ``path`` changed since it was read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            pass
        else:
            os.chmod(tmp, mode)
        if precondition is not None:
            precondition()
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path | str, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


_LEGACY_NAME = re.compile(r"^\.tmp-[a-z0-9_]{8}(?P<suffix>\.[^.]+)?$")  # mkstemp's, before


def legacy_temp(path: Path, suffixes: tuple[str, ...]) -> bool:
    """Whether ``path`` is named like the temporary files of older versions
    (``.tmp-XXXXXXXX<suffix>``, from ``mkstemp``) with one of ``suffixes``."""
    match = _LEGACY_NAME.match(path.name)
    return match is not None and (match["suffix"] or "") in suffixes


def _pid_running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (True where that cannot be told)."""
    if os.name != "posix":
        return True  # os.kill would terminate it on Windows: rely on the age alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process
        return True
    return True


def is_stale(tmp: Path, now: float | None = None) -> bool:
    """Whether a temporary file of ours was left behind: its writer (this machine, its pid)
    is gone, or nobody has written to it for :data:`STALE_AFTER_S`."""
    match = _TEMP_NAME.match(tmp.name)
    if match is None:
        return False
    if match["host"] == HOST_TAG and not _pid_running(int(match["pid"])):
        return True
    try:
        age = (time.time() if now is None else now) - tmp.stat().st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S


def remove_stale_temps(folder: Path | str, target: str | None = None,
                       legacy: Callable[[Path], bool] | None = None) -> list[Path]:
    """Remove the stale temporary files (:func:`is_stale`) of ``target`` (a file name in
    ``folder``; None: of every target) left in ``folder`` by killed writers; returns them.

    ``legacy``: also remove the ``.tmp-*`` files for which it returns True among those not
    named the current way (older versions used ``mkstemp``'s ``.tmp-XXXXXXXX<suffix>``).
    Nothing else is touched; a file that cannot be removed is left where it is.
    """
    folder = Path(folder)
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]
    except OSError:
        return []
    removed = []
    for tmp in candidates:
        match = _TEMP_NAME.match(tmp.name)
        if match is not None:
            ours = target is None or (match["target"] == target[:_TARGET_CHARS]
                                      and match["suffix"] == Path(target).suffix)
            stale = ours and is_stale(tmp)
        else:
            stale = legacy is not None and _is_file(tmp) and legacy(tmp)
        if stale:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                continue
            removed.append(tmp)
    return removed


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False
