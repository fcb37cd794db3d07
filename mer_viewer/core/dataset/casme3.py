"""CAS(ME)³ samples from the annotation sheet and the frame folders, every skipped row explained."""

from __future__ import annotations

import csv
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import DatasetError, FrameError, SampleNotFoundError, os_reason
from .edits import EditStore, apply_edit, row_identity
from .exceptions import FrameExceptions, load_exceptions
from .frames import ClipFrames
from .labels import (
    TASKS,
    Task,
    class_names,
    label_for,
    normalise_emotion,
    normalise_objective,
    parse_au,
)
from .layout import FolderProblem, Layout
from .sheets import SPECS, SheetKind, SheetRow, find_sheet, frame_number, read_sheet

#: File in the dataset root listing samples to leave out (subject, clip, onset, reason).
EXCLUSIONS_FILE = "mer_exclusions.csv"


@dataclass(frozen=True)
class Sample:
    """One annotated expression: where its frames are and what it is.

    Frame numbers are the dataset's own (start at 1); ``offset == 0`` means
    the offset is unknown. ``apex_estimated`` is set when the sheet has no
    apex (Part C), where the middle frame of onset..offset is used.
    """

    subject: str
    clip: str
    onset: int
    apex: int
    offset: int
    emotion: str | None
    objective_class: str | None
    au: tuple[str, ...]
    frames: ClipFrames = field(compare=False, repr=False)
    source: SheetKind = "me"
    apex_estimated: bool = False
    excel_row: int = 0
    key: str = ""  # the row's original <subject>_<clip>_<onset>: where its edits are kept
    edited: bool = False
    notes: str | None = None
    #: e.g. "apex frame 1294 of bad quality (image_with_bad_quality_partA.txt)"
    warnings: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """Unique id ``<subject>_<clip>_<onset>`` (a video can hold several samples)."""
        return f"{self.subject}_{self.clip}_{self.onset}"

    def label(self, task: Task) -> str | None:
        """Class of this sample for ``task``, or None when the task leaves it out."""
        return label_for(self.emotion, self.objective_class, task)

    @property
    def frame_range(self) -> list[int]:
        """Available frame numbers from onset to offset (to the last frame if offset unknown)."""
        last = self.offset if self.offset > 0 else max(self.frames.numbers, default=self.apex)
        return [n for n in self.frames.numbers if self.onset <= n <= last]

    def as_json(self) -> dict:
        return {
            "subject": self.subject,
            "clip": self.clip,
            "onset": self.onset,
            "apex": self.apex,
            "offset": self.offset,
            "emotion": self.emotion,
            "objective_class": self.objective_class,
            "au": list(self.au),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Skipped:
    """A sheet row that is not loaded, with every reason found."""

    subject: str
    clip: str
    reason: str
    onset: int | None = None
    excel_row: int = 0
    sheet: str = ""
    key: str = ""
    edited: bool = False
    apex: int | None = None  # the sheet's (or edit's) frames, where they are numbers
    offset: int | None = None

    def as_json(self) -> dict:
        return {"subject": self.subject, "clip": self.clip, "onset": self.onset,
                "row": self.excel_row, "reason": self.reason}


@dataclass(frozen=True)
class Exclusion:
    """A user's decision to leave samples out (e.g. a hand occludes the face)."""

    subject: str
    clip: str
    onset: int | None  # None: every sample of the clip
    reason: str

    def matches(self, subject: str, clip: str, onset: int) -> bool:
        return (
            self.subject.lower() == subject.lower()
            and self.clip.lower() == clip.lower()
            and (self.onset is None or self.onset == onset)
        )


def read_exclusions(path: Path) -> list[Exclusion]:
    """Read an exclusion list: CSV with columns ``subject, clip, onset, reason``.

    ``onset`` may be empty (the whole clip). Raises DatasetError naming the file.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
            if not {"subject", "clip"} <= fields:
                raise DatasetError(f"{path}: exclusion list needs columns subject, clip[, onset, reason]")
            out = []
            for line, row in enumerate(reader, start=2):
                row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
                onset = row.get("onset") or None
                try:
                    onset_value = frame_number(onset, "onset") if onset else None
                except ValueError as exc:
                    raise DatasetError(f"{path}:{line}: {exc}") from None
                out.append(Exclusion(row["subject"], row["clip"], onset_value,
                                     row.get("reason") or "excluded by the user"))
            return out
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read exclusion list ({exc.strerror})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a CSV exclusion list ({exc})") from exc


class Dataset:
    """A CAS(ME)³ root: the loadable samples and the rows skipped with their reasons.

    Opening reads the sheet and checks that the onset and apex frames exist;
    the frames themselves are read lazily through ``Sample.frames``.
    """

    def __init__(self, root: Path, sheet: Path, samples: list[Sample], skipped: list[Skipped],
                 kind: SheetKind, layouts: list[str], edits: EditStore | None = None,
                 warnings: Iterable[str] = (), layout: Layout | None = None,
                 exceptions: FrameExceptions = FrameExceptions()):
        self.root = root
        self.edits = edits
        self.sheet = sheet
        self.samples = tuple(samples)
        self.skipped = tuple(skipped)
        self.kind = kind
        self.layouts = layouts
        #: ``<path>: <reason>`` of entries under the root that could not be examined (a link
        #: loop, no permission) and that no skipped row names: they may hide samples
        self.warnings = tuple(warnings)
        self.layout = layout
        #: the dataset's damaged / bad-quality frame lists (``exception/``)
        self.exceptions = exceptions

    @classmethod
    def open(
        cls,
        root: Path | str,
        kind: SheetKind = "me",
        exclusions: Path | str | Iterable[Exclusion] | None = None,
        sheet: Path | str | None = None,
        edits: EditStore | Literal["auto"] | None = "auto",
    ) -> Dataset:
        """Open a dataset root.

        ``exclusions``: a CSV path or Exclusion values; by default
        ``<root>/mer_exclusions.csv`` is used when it exists. ``sheet`` overrides
        the annotation file found by name. ``edits``: the user's corrections
        (``"auto"``: the root's sidecar file; None: the sheet as it is).
        """
        root = Path(root).expanduser()
        try:
            is_dir = stat.S_ISDIR(root.stat().st_mode)
        except (FileNotFoundError, NotADirectoryError):
            raise DatasetError(f"{root}: dataset folder does not exist") from None
        except OSError as exc:  # a link loop, no permission to look
            raise DatasetError(f"{root}: {os_reason(exc)}") from None
        if not is_dir:
            raise DatasetError(f"{root}: not a folder")
        sheet_path = Path(sheet) if sheet is not None else find_sheet(root, kind)
        if sheet_path is None:
            raise DatasetError(
                f"{root}: no annotation sheet found (expected a file like {SPECS[kind].pattern})"
            )
        if exclusions is None:
            default = root / EXCLUSIONS_FILE
            excluded = read_exclusions(default) if default.is_file() else []
        elif isinstance(exclusions, (str, Path)):
            excluded = read_exclusions(Path(exclusions))
        else:
            excluded = list(exclusions)
        if edits == "auto":
            edits = EditStore.load(root)
        rows = read_sheet(sheet_path, kind)
        layout = Layout.scan(root)
        exceptions = load_exceptions(root)
        samples: list[Sample] = []
        skipped: list[Skipped] = []
        for row in rows:
            result = _sample_from_row(row, kind, layout, excluded, sheet_path.name, edits,
                                      exceptions)
            if isinstance(result, Sample):
                samples.append(result)
            else:
                skipped.append(result)
        _check_duplicates(samples, skipped)
        return cls(root, sheet_path, samples, skipped, kind, layout.kinds, edits,
                   [*layout.warnings, *exceptions.warnings], layout, exceptions)

    def find(self, subject: str, clip: str) -> Sample:
        """The sample of ``subject`` and ``clip`` (``a``, or ``a_1234`` when a clip has several)."""
        matches = [s for s in self.samples if s.subject.lower() == subject.lower()
                   and (s.clip.lower() == clip.lower() or s.id.lower() == f"{subject}_{clip}".lower())]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            skipped = [s for s in self.skipped if s.subject.lower() == subject.lower()
                       and s.clip.lower() == clip.split("_")[0].lower()]
            why = f" (skipped: {skipped[0].reason})" if skipped else ""
            raise SampleNotFoundError(f"{self.root}: no sample {subject} {clip}{why}")
        ids = ", ".join(s.id.split("_", 1)[1] for s in matches)
        raise SampleNotFoundError(
            f"{self.root}: {subject} clip {clip} holds {len(matches)} samples; name one of {ids}"
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per class for every task, in class order (classes with 0 samples included)."""
        out: dict[str, dict[str, int]] = {}
        for task in TASKS:
            tally = Counter(s.label(task) for s in self.samples)
            out[task] = {name: tally.get(name, 0) for name in class_names(task)}
        return out

    def subjects(self) -> list[str]:
        """Subjects with at least one sample, in sheet order."""
        return list(dict.fromkeys(s.subject for s in self.samples))

    def as_json(self) -> dict:
        return {
            "root": str(self.root),
            "sheet": str(self.sheet),
            "samples": [s.as_json() for s in self.samples],
            "skipped": [s.as_json() for s in self.skipped],
            "warnings": list(self.warnings),
            "counts": self.counts(),
        }


def frame_order_problems(onset: int, apex: int, offset: int) -> list[str]:
    """Why onset, apex and offset (0 = unknown) cannot make a sample; empty when they can."""
    problems = []
    if onset == 0 or apex == 0:
        problems.append("frame 0 (frame numbers start at 1)")
    if onset == apex:
        problems.append("onset equals apex")
    elif apex < onset:
        problems.append("apex before onset")
    if offset > 0 and apex > offset:
        problems.append("apex after offset")
    return problems


def _sample_from_row(row: SheetRow, kind: SheetKind, layout: Layout,
                     exclusions: list[Exclusion], sheet_name: str,
                     edits: EditStore | None = None,
                     exceptions: FrameExceptions = FrameExceptions()) -> Sample | Skipped:
    """Build a Sample from a sheet row (with the user's edit applied), or a Skipped with
    every reason it cannot be used."""
    v = row.values
    subject, clip, key = row_identity(row, kind)
    edit = edits.get(key) if edits is not None else None
    if edit is not None:
        v = apply_edit(v, edit)

    def skip(reasons: list[str], onset: int | None = None) -> Skipped:
        return Skipped(subject, clip, "; ".join(reasons), onset, row.excel_row, sheet_name,
                       key, edit is not None, numbers.get("apex"), numbers.get("offset"))

    problems: list[str] = []
    if not subject or not clip:
        problems.append("subject or clip name is empty")
    numbers: dict[str, int] = {}
    for column in ("onset", "apex", "offset") if kind != "c" else ("onset", "offset"):
        try:
            numbers[column] = frame_number(v.get(column), column)
        except ValueError as exc:
            if column == "offset" and v.get(column) is None:
                numbers[column] = 0  # an empty offset is an unknown offset
            else:
                problems.append(str(exc))
    estimated = kind == "c"
    if estimated and "onset" in numbers and numbers.get("offset", 0) > 0:
        numbers["apex"] = (numbers["onset"] + numbers["offset"]) // 2
    elif estimated and "onset" in numbers:
        problems.append("no offset to estimate the apex from")
    emotion = normalise_emotion(v.get("emotion"))
    if emotion is None and kind != "mae":  # macro sheets: only objective classes are reliable
        problems.append(f"unknown emotion {v.get('emotion')!r}")
    objective = normalise_objective(v.get("objective"))
    try:
        au = parse_au(v.get("au"))
    except ValueError as exc:
        problems.append(str(exc))
        au = ()
    if problems:
        return skip(problems, numbers.get("onset"))

    onset, apex, offset = numbers["onset"], numbers["apex"], numbers["offset"]
    reasons = frame_order_problems(onset, apex, offset)
    damaged, frame_warnings = exceptions.row_problems(
        subject, clip, {"onset": onset, "apex": apex} if apex != onset else {"onset": onset})
    reasons += damaged
    if edit is not None and edit.exclude:
        reasons.append(f"excluded: {edit.exclude_reason or 'by the user'}")
    elif edit is None or edit.exclude is None:
        for exclusion in exclusions:
            if exclusion.matches(subject, clip, onset):
                reasons.append(f"excluded: {exclusion.reason}")
                break
    try:
        frames = layout.frames_for(subject, clip, onset)
        absent = [p for n in sorted({onset, apex} - {0}) for p in frames.missing(n)]
    except (FolderProblem, FrameError) as exc:  # no folder, a link loop, no permission
        reasons.append(str(exc))
    else:
        if absent:
            reasons.append("missing frames: " + ", ".join(str(p) for p in absent))
    if reasons:
        return skip(reasons, onset)
    return Sample(
        subject=subject, clip=clip, onset=onset, apex=apex, offset=offset,
        emotion=emotion, objective_class=objective, au=au, frames=frames,
        source=kind, apex_estimated=estimated, excel_row=row.excel_row,
        key=key, edited=edit is not None, notes=edit.notes if edit is not None else None,
        warnings=tuple(frame_warnings),
    )


def _check_duplicates(samples: list[Sample], skipped: list[Skipped]) -> None:
    """Rows naming the same subject, clip and onset twice: keep the first, skip the rest."""
    seen: set[str] = set()
    kept = []
    for sample in samples:
        key = sample.id.lower()
        if key in seen:
            skipped.append(Skipped(sample.subject, sample.clip, "duplicate of an earlier row",
                                   sample.onset, sample.excel_row, key=sample.key,
                                   edited=sample.edited))
        else:
            seen.add(key)
            kept.append(sample)
    samples[:] = kept
