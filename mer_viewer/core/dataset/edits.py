"""Annotation corrections kept in a sidecar JSON file beside the sheet, never in the sheet itself.

The sidecar ``<root>/mer_annotations.json`` maps a row key (the row's original
``<subject>_<clip>_<onset>``) to the fields the user changed. When the root is
not writable the sidecar lives in the user data folder, keyed by the root's
path. Writes are atomic (temp file + ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..errors import DatasetError
from ..atomic import atomic_path
from ..paths import data_dir
from .sheets import SheetRow, frame_number, read_sheet, subject_name

SIDECAR_NAME = "mer_annotations.json"
FORMAT = "mer_viewer.annotations"
VERSION = 1


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

    def merged(self, newer: "SampleEdit") -> "SampleEdit":
        """This edit with the non-None fields of ``newer`` on top."""
        return replace(self, **{k: v for k, v in asdict(newer).items() if v is not None})

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict, where: str) -> "SampleEdit":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise DatasetError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**data)


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


class EditStore:
    """The user's corrections of one dataset root, loaded from and saved to its sidecar."""

    def __init__(self, path: Path, edits: dict[str, SampleEdit] | None = None):
        self.path = Path(path)
        self._edits: dict[str, SampleEdit] = dict(edits or {})

    @classmethod
    def load(cls, root: Path, path: Path | None = None) -> "EditStore":
        """Read the sidecar of ``root`` (empty store when there is none yet)."""
        path = Path(path) if path is not None else sidecar_path(root)
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: unreadable annotation sidecar ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DatasetError(f"{path}: not a mer_viewer annotation file")
        if int(data.get("version", 0)) > VERSION:
            raise DatasetError(f"{path}: written by a newer mer_viewer (version {data['version']})")
        edits = {key: SampleEdit.from_json(value, f"{path}: {key}")
                 for key, value in data.get("edits", {}).items()}
        return cls(path, edits)

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
        """Write the sidecar atomically; returns its path."""
        payload = {"format": FORMAT, "version": VERSION,
                   "edits": {k: e.as_json() for k, e in sorted(self._edits.items())}}
        with atomic_path(self.path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, ensure_ascii=False)
        return self.path


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
