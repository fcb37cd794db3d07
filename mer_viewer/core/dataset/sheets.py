"""Find and read the annotation sheets (ME, macro-expression, Part C) of a CAS(ME)³ root."""

from __future__ import annotations

import fnmatch
import math
import numbers
import os
import re
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import AnnotationError, DatasetError, os_reason

SheetKind = Literal["me", "mae", "c"]


@dataclass(frozen=True)
class SheetSpec:
    """Where a kind of sheet is found and which columns it must have."""

    kind: SheetKind
    pattern: str  # matched case-insensitively against file names
    preferred_sheet: str
    #: canonical column -> accepted normalised header names (lower case, no whitespace)
    columns: dict[str, tuple[str, ...]]
    optional: tuple[str, ...] = ()


_ME_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("subject",),
    "clip": ("filename",),
    "onset": ("onset",),
    "apex": ("apex",),
    "offset": ("offset",),
    "au": ("au",),
    "objective": ("objectiveclass",),
    "emotion": ("emotion",),
}

SPECS: dict[SheetKind, SheetSpec] = {
    "me": SheetSpec("me", "cas(me)3_part_a_me_label_jpgindex*.xls*", "label", _ME_COLUMNS),
    "mae": SheetSpec(
        "mae", "cas(me)3_part_a_mae_label_jpgindex*.xls*", "label", _ME_COLUMNS,
        optional=("emotion", "au"),
    ),
    "c": SheetSpec(
        "c", "cas(me)3_part_c_me*.xls*", "mockcrimeme",
        {
            "subject": ("sub", "subject"),
            "clip": ("count", "filename"),
            "onset": ("onset",),
            "offset": ("offset",),
            "au": ("au",),
            "emotion": ("emotion",),
        },
    ),
}


def normalise_header(name: object) -> str:
    """``' Objective  class '`` → ``'objectiveclass'``: headers match ignoring case and spaces."""
    return re.sub(r"\s+", "", str(name)).lower()


def find_sheet(root: Path, kind: SheetKind = "me") -> Path | None:
    """The annotation sheet of ``kind`` in ``root`` or one folder below it, or None.

    Several matches (``..._v2.xlsx`` and an older ``....xls``): the last by
    name wins, so the highest version is used. Folders two levels down are
    clip folders and never searched.
    """
    spec = SPECS[kind]
    found: list[Path] = []
    folders = [root]
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if not entry.name.startswith(".") and _is_dir(entry):
                    folders.append(Path(entry.path))
    except OSError as exc:
        raise DatasetError(f"{root}: cannot list the dataset folder ({os_reason(exc)})") from exc
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not name.startswith("~$") and fnmatch.fnmatch(name.lower(), spec.pattern):
                found.append(folder / name)
    if not found:
        return None
    # Shallowest folder first, then the highest name (``_v2`` after ``_v1``).
    return max(found, key=lambda p: (-len(p.relative_to(root).parts), p.name.lower()))


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a link loop: one bad entry does not hide the sheet (the layout reports it)
        return False


@dataclass(frozen=True)
class SheetRow:
    """One annotation row: canonical column -> raw cell value, plus the Excel row number."""

    values: dict[str, object]
    excel_row: int


def read_sheet(path: Path, kind: SheetKind = "me") -> list[SheetRow]:
    """Read an annotation sheet into rows keyed by canonical column names.

    Raises AnnotationError (naming the file) when the file cannot be read or
    a required column is missing.
    """
    import pandas as pd  # heavy: imported only when a sheet is read

    spec = SPECS[kind]
    try:
        book = pd.read_excel(path, sheet_name=None, header=0, dtype=object)
    except ImportError as exc:
        raise AnnotationError(f"{path}: cannot read this spreadsheet format ({exc})") from exc
    except Exception as exc:  # openpyxl/xlrd/zipfile raise many types for a broken file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AnnotationError(f"{path}: unreadable annotation sheet ({reason})") from exc
    if not book:
        raise AnnotationError(f"{path}: the workbook has no sheets")
    by_name = {normalise_header(name): frame for name, frame in book.items()}
    table = by_name.get(spec.preferred_sheet, next(iter(book.values())))

    header = {normalise_header(c): c for c in table.columns}
    mapping: dict[str, Hashable] = {}  # canonical column -> the sheet's column label
    missing = []
    for canonical, aliases in spec.columns.items():
        column = next((header[a] for a in aliases if a in header), None)
        if column is None:
            if canonical not in spec.optional:
                missing.append(aliases[0])
            continue
        mapping[canonical] = column
    if missing:
        raise AnnotationError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(str(c) for c in table.columns)})"
        )
    rows = []
    for index, record in enumerate(table.itertuples(index=False, name=None)):
        cells: dict[Hashable, object] = dict(zip(table.columns, record))
        values = {canonical: _clean(cells[column]) for canonical, column in mapping.items()}
        if all(v is None for v in values.values()):
            continue  # trailing empty rows
        rows.append(SheetRow(values, excel_row=index + 2))
    return rows


def _clean(value: object) -> object:
    """Empty cells (NaN, '') become None; strings are stripped."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


#: The largest frame number accepted (a clip of 10⁷ frames is 3.8 days at 30 fps); larger
#: values are typing errors (``1e300``), and as file names they would fail every command.
MAX_FRAME = 10_000_000


def frame_number(value: object, column: str) -> int:
    """A sheet cell as a frame number 0..MAX_FRAME (``12``, ``12.0``, ``'12'``).

    0 is returned as it is: onset or apex 0 is reported by the loader, offset 0
    means unknown. Raises ValueError naming ``column`` and the (shortened) value
    for anything else: text, fractions, NaN, infinities, negative or huge numbers,
    booleans and dates.
    """
    if value is None:
        raise ValueError(f"{column} is empty")
    number = _whole_number(value)
    if number is None:
        raise ValueError(f"{column} {_shorten(value)} is not a frame number")
    if not 0 <= number <= MAX_FRAME:
        raise ValueError(f"{column} {_shorten(value)} is out of range (0 to {MAX_FRAME})")
    return number


def _whole_number(value: object) -> int | None:
    """The integer a cell holds (``12``, ``12.0``, ``' 12 '``, ``'1e3'``), or None."""
    if isinstance(value, (bool, np.bool_)):
        return None  # a TRUE/FALSE cell is not a frame number, although bool is an int
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or "_" in text:  # int() also takes '١٢' and '1_000'
            return None
        try:
            return int(text)
        except ValueError:
            pass  # '12.0', '1e3', or not a number at all: float() decides
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


def _shorten(value: object, limit: int = 24) -> str:
    """``repr(value)``, cut to about ``limit`` characters for a one-line message."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits has no repr
        return f"<a {value.bit_length()}-bit integer>" if isinstance(value, int) else "<value>"
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[:limit - 1]}…{size}"


def subject_name(value: object) -> str:
    """``1`` or ``'1'`` -> ``'spNO.1'``; names already spelled out are kept."""
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return f"spNO.{text}" if text.isdigit() else text
