"""Annotation corrections kept in a sidecar JSON file beside the sheet, never in the sheet itself.

The sidecar ``<root>/mer_annotations.json`` maps a row key (the row's original
``<subject>_<clip>_<onset>``) to the fields the user changed. When the root is
not writable the sidecar lives in the user data folder, keyed by the root's
path. Writes are atomic (temp file + ``os.replace``, the file's mode kept);
temporary files a killed writer left behind are removed on the next load or
save. Every value is type-checked on load: a sidecar that cannot be read
raises :class:`SidecarError` naming the file and the field, and
:func:`set_aside` renames it (never deletes it) so the dataset can be opened
without it. Two editors of one dataset do not overwrite each other: a save
merges the rows someone else changed since the store was loaded, and refuses
(:class:`EditConflictError`) when both changed the same row.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..atomic import atomic_path, legacy_temp, remove_stale_temps
from ..errors import DatasetError, FileError
from ..fields import FieldTypeError, check_fields, shown
from ..paths import data_dir
from .sheets import SheetRow, frame_number, read_sheet, subject_name

SIDECAR_NAME = "mer_annotations.json"
FORMAT = "mer_viewer.annotations"
VERSION = 1
MAX_FRAME = 10_000_000
_SAVE_ATTEMPTS = 5


class SidecarError(FileError, DatasetError):
    """The annotation sidecar cannot be read, or holds a value of the wrong type."""


class EditConflictError(FileError, DatasetError):
    """Someone else saved the sidecar since it was loaded, changing rows this store changed too.

    Nothing was written; ``keys`` are the rows both changed.
    """

    def __init__(self, path: Path | str, keys: list[str]):
        self.keys = tuple(keys)
        shown_keys = ", ".join(self.keys[:5]) + (f" and {len(self.keys) - 5} more"
                                                 if len(self.keys) > 5 else "")
        super().__init__(path, f"changed by someone else since it was loaded, in the same "
                               f"row(s) as these unsaved edits: {shown_keys}; nothing was saved "
                               f"(reopen the dataset to see their edits, then redo yours)")


@dataclass(frozen=True)
class SampleEdit:
    """Fields a user changed for one row; None = as in the sheet."""

    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    emotion: str | None = None
    au: str | None = None  # as typed, e.g. "L2+L1"; parsed like the sheet's AU column
    objective_class: str | None = None
    exclude: bool | None = None
    exclude_reason: str | None = None
    notes: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def merged(self, newer: SampleEdit) -> SampleEdit:
        """This edit with the non-None fields of ``newer`` on top."""
        return replace(self, **{k: v for k, v in asdict(newer).items() if v is not None})

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: object, where: str) -> SampleEdit:
        """An edit from its JSON object; FieldTypeError naming ``where.<field>`` for an unknown
        field or a value of the wrong type (``"false"`` is not false) or range."""
        checked = check_fields(cls, data, where)
        for name in ("onset", "apex", "offset"):
            value = checked.get(name)
            if value is not None and not 0 <= value <= MAX_FRAME:
                raise FieldTypeError(f"{where}.{name} must be a frame number from 0 to "
                                     f"{MAX_FRAME}, got {shown(value)}")
        return cls(**checked)


def row_key(subject: str, clip: str, onset: object, kind: str = "me") -> str:
    """Key of a sheet row: its original ``<subject>_<clip>_<onset>``, prefixed by the sheet
    kind for the macro and Part C sheets (``mae:...``, ``c:...``)."""
    key = f"{subject}_{clip}_{onset}"
    return key if kind == "me" else f"{kind}:{key}"


def row_identity(row: SheetRow, kind: str = "me") -> tuple[str, str, str]:
    """(subject, clip, row key) of a sheet row as the sheet spells them, before any edit."""
    values = row.values
    subject = subject_name(values.get("subject") or "")
    clip = str(values.get("clip") or "").strip()
    if clip.endswith(".0") and clip[:-2].isdigit():
        clip = clip[:-2]
    try:
        onset: object = frame_number(values.get("onset"), "onset")
    except ValueError:
        onset = values.get("onset")
    return subject, clip, row_key(subject, clip, onset, kind)


def sidecar_path(root: Path) -> Path:
    """Beside the sheet when the root is writable, else in the user data folder."""
    root = Path(root).resolve()
    if os.access(root, os.W_OK):
        return root / SIDECAR_NAME
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:12]
    return data_dir() / "annotations" / f"{root.name}-{digest}.json"


def _no_repeats(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise FieldTypeError(f"{shown(repeated[0])} appears more than once in one object")
    return dict(pairs)


def parse_sidecar(raw: bytes, path: Path) -> dict[str, SampleEdit]:
    """The edits of a sidecar's bytes; SidecarError naming ``path`` and what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_repeats)
    except UnicodeDecodeError as exc:
        raise SidecarError(path, f"unreadable annotation sidecar (not UTF-8 text: {exc.reason} "
                                 f"at byte {exc.start})") from None
    except FieldTypeError as exc:
        raise SidecarError(path, f"unreadable annotation sidecar ({exc})") from None
    except ValueError as exc:
        raise SidecarError(path, f"unreadable annotation sidecar (not valid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SidecarError(path, "not a mer_viewer annotation file")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SidecarError(path, f"version must be a whole number from 1 to {VERSION}, "
                                 f"got {shown(version)}")
    if version > VERSION:
        raise SidecarError(path, f"written by a newer mer_viewer (version {version})")
    entries = data.get("edits", {})
    if not isinstance(entries, dict):
        raise SidecarError(path, f"edits must map row keys to edits, got {shown(entries)}")
    edits = {}
    for key, value in entries.items():
        if not key.strip():
            raise SidecarError(path, "edits has an empty row key")
        try:
            edits[key] = SampleEdit.from_json(value, f"edits.{key}")
        except FieldTypeError as exc:
            raise SidecarError(path, str(exc)) from None
    return edits


def _read(path: Path) -> bytes | None:
    """The sidecar's bytes, None when there is none; SidecarError when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SidecarError(path, f"unreadable annotation sidecar ({exc.strerror or exc})") from None


def _digest(raw: bytes | None) -> str | None:
    return None if raw is None else hashlib.sha256(raw).hexdigest()


def _legacy_sidecar_temp(tmp: Path) -> bool:
    """A temporary sidecar of an older version (``.tmp-XXXXXXXX.json``) untouched for a while:
    empty (killed before writing) or starting like a sidecar."""
    from ..atomic import STALE_AFTER_S

    if not legacy_temp(tmp, (".json",)):
        return False
    try:
        if time.time() - tmp.stat().st_mtime <= STALE_AFTER_S:
            return False
        with open(tmp, "rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    return not head or head.replace(b" ", b"").replace(b"\n", b"").startswith(
        b'{"format":"' + FORMAT.encode() + b'"')


def remove_stale_sidecar_temps(path: Path) -> list[Path]:
    """Remove the temporary files of sidecar ``path`` that killed writers left beside it."""
    return remove_stale_temps(path.parent, path.name, legacy=_legacy_sidecar_temp)


def set_aside(path: Path | str) -> Path:
    """Rename an unreadable sidecar to ``<name>.unreadable-YYYYmmdd-HHMMSS`` (never deleted,
    never over another file) so the dataset opens without it; returns the new path."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.unreadable-{stamp}")
    n = 1
    while os.path.lexists(target):
        target = path.with_name(f"{path.name}.unreadable-{stamp}-{n}")
        n += 1
    try:
        os.rename(path, target)
    except OSError as exc:
        raise SidecarError(path, f"cannot be set aside ({exc.strerror or exc})") from None
    return target


def merge_edits(base: dict[str, SampleEdit], ours: dict[str, SampleEdit],
                theirs: dict[str, SampleEdit]) -> tuple[dict[str, SampleEdit], list[str]]:
    """Three-way merge by row: ``theirs`` with the rows ``ours`` changed from ``base`` on top.
    Returns (merged, rows both changed differently); with conflicts ``merged`` is not to be
    written."""
    merged = dict(theirs)
    conflicts = []
    for key in sorted(set(base) | set(ours)):
        mine, was = ours.get(key), base.get(key)
        if mine == was:
            continue
        other = theirs.get(key)
        if other != was and other != mine:
            conflicts.append(key)
        elif mine is None:
            merged.pop(key, None)
        else:
            merged[key] = mine
    return merged, conflicts


class EditStore:
    """The user's corrections of one dataset root, loaded from and saved to its sidecar.

    It remembers what it loaded (the edits and the file's SHA-256), so that a save can
    tell whether someone else wrote the sidecar in the meantime.
    """

    def __init__(self, path: Path, edits: dict[str, SampleEdit] | None = None):
        self.path = Path(path)
        self._edits: dict[str, SampleEdit] = dict(edits or {})
        self._base: dict[str, SampleEdit] = {}  # what the file held when loaded / last saved
        self._base_digest: str | None = None  # None: there was no file
        self.merged_keys: tuple[str, ...] = ()  # rows the last save took from another writer

    @classmethod
    def load(cls, root: Path, path: Path | None = None) -> EditStore:
        """Read the sidecar of ``root`` (empty store when there is none yet); SidecarError
        when it cannot be read or holds a value of the wrong type."""
        path = Path(path) if path is not None else sidecar_path(root)
        remove_stale_sidecar_temps(path)
        raw = _read(path)
        store = cls(path, parse_sidecar(raw, path) if raw is not None else {})
        store._base, store._base_digest = dict(store._edits), _digest(raw)
        return store

    def copy(self) -> EditStore:
        """An independent store with the same edits and the same idea of what was loaded."""
        other = EditStore(self.path, self._edits)
        other._base, other._base_digest = dict(self._base), self._base_digest
        return other

    def __len__(self) -> int:
        return len(self._edits)

    def __contains__(self, key: str) -> bool:
        return key in self._edits

    def keys(self) -> list[str]:
        return list(self._edits)

    def get(self, key: str) -> SampleEdit | None:
        return self._edits.get(key)

    def set(self, key: str, edit: SampleEdit) -> None:
        """Replace the edit of ``key`` (an empty edit removes it)."""
        if edit.is_empty():
            self._edits.pop(key, None)
        else:
            self._edits[key] = edit

    def remove(self, key: str) -> None:
        self._edits.pop(key, None)

    def save(self) -> Path:
        """Write the sidecar atomically; returns its path.

        When the file changed on disk since it was loaded (another editor saved), their
        rows are merged with ours (``merged_keys`` lists the rows taken from them) unless
        both changed the same row: then EditConflictError, and the file is left as it is.
        """
        remove_stale_sidecar_temps(self.path)
        for _ in range(_SAVE_ATTEMPTS):
            raw = _read(self.path)
            digest = _digest(raw)
            edits = self._edits
            merged_keys: tuple[str, ...] = ()
            if digest != self._base_digest:
                theirs = parse_sidecar(raw, self.path) if raw is not None else {}
                edits, conflicts = merge_edits(self._base, self._edits, theirs)
                if conflicts:
                    raise EditConflictError(self.path, conflicts)
                merged_keys = tuple(sorted(k for k in set(theirs) | set(self._base)
                                           if theirs.get(k) != self._base.get(k)))
            payload = {"format": FORMAT, "version": VERSION,
                       "edits": {k: e.as_json() for k, e in sorted(edits.items())}}
            def unchanged() -> None:  # right before the rename: has someone saved meanwhile?
                if _digest(_read(self.path)) != digest:
                    raise _ChangedMeanwhile

            try:
                with atomic_path(self.path, precondition=unchanged) as tmp:
                    with open(tmp, "w", encoding="utf-8") as handle:
                        json.dump(payload, handle, indent=2, ensure_ascii=False)
                    written = tmp.read_bytes()
            except _ChangedMeanwhile:
                continue  # merge with what they wrote
            self._edits, self._base = dict(edits), dict(edits)
            self._base_digest, self.merged_keys = _digest(written), merged_keys
            return self.path
        raise SidecarError(self.path, "keeps being changed by someone else; nothing was saved")


class _ChangedMeanwhile(Exception):
    pass


def apply_edit(values: dict[str, object], edit: SampleEdit) -> dict[str, object]:
    """Sheet row values (canonical columns) with the edit's fields on top."""
    out = dict(values)
    for column, name in (("onset", "onset"), ("apex", "apex"), ("offset", "offset"),
                         ("emotion", "emotion"), ("au", "au"), ("objective", "objective_class")):
        value = getattr(edit, name)
        if value is not None:
            out[column] = value
    return out


def export_merged(dataset, path: Path) -> Path:
    """Write the sheet with the user's edits applied to ``path`` (.xlsx or .csv).

    Columns: the sheet's own (``Subject, Filename, Onset, Apex, Offset, AU,
    Objective class, emotion``) plus ``edited``, ``excluded``, ``exclude_reason``,
    ``notes`` and ``status`` (``ok`` or the reason the row is skipped).
    """
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise DatasetError(f"{path}: export as .xlsx or .csv")
    status = {s.key: "ok" for s in dataset.samples}
    status.update({s.key: s.reason for s in dataset.skipped if s.key not in status})
    records = []
    for row in read_sheet(dataset.sheet, dataset.kind):
        key = row_identity(row, dataset.kind)[2]
        edit = dataset.edits.get(key) if dataset.edits is not None else None
        values = apply_edit(row.values, edit) if edit is not None else row.values
        records.append({
            "Subject": values.get("subject"), "Filename": values.get("clip"),
            "Onset": values.get("onset"), "Apex": values.get("apex"),
            "Offset": values.get("offset"), "AU": values.get("au"),
            "Objective class": values.get("objective"), "emotion": values.get("emotion"),
            "edited": edit is not None,
            "excluded": bool(edit.exclude) if edit is not None and edit.exclude is not None else False,
            "exclude_reason": edit.exclude_reason if edit is not None else None,
            "notes": edit.notes if edit is not None else None,
            "status": status.get(key, ""),
        })
    frame = pd.DataFrame.from_records(records)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_excel(tmp, sheet_name="label", index=False)
    return path
