"""Classify many clips with one checkpoint: the same probabilities as one clip, rows for a CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_bytes_atomic
from ..dataset import Sample
from ..errors import MerError
from ..progress import Progress

#: Leading columns of a batch CSV; one column per class (named by the class) follows.
BATCH_COLUMNS = ("subject", "clip", "onset", "label", "predicted")


@dataclass(frozen=True)
class BatchRow:
    """One classified sample; ``probabilities`` in the checkpoint's class order."""

    sample_id: str
    subject: str
    clip: str
    onset: int
    label: str | None
    predicted: str
    probabilities: dict[str, float]

    def as_json(self) -> dict:
        return {"sample": self.sample_id, "subject": self.subject, "clip": self.clip,
                "onset": self.onset, "label": self.label, "predicted": self.predicted,
                "probabilities": self.probabilities}


@dataclass(frozen=True)
class BatchResult:
    """Every sample classified (in the order given) and those that failed, with why."""

    checkpoint: Path
    classes: tuple[str, ...]
    task: str
    rows: tuple[BatchRow, ...]
    failed: tuple[tuple[str, str], ...] = field(default=())

    def as_json(self) -> dict:
        return {"checkpoint": str(self.checkpoint), "task": self.task,
                "classes": list(self.classes), "samples": [r.as_json() for r in self.rows],
                "failed": [{"sample": s, "error": e} for s, e in self.failed]}


def classify_samples(samples: Sequence[Sample], checkpoint_path: Path | None = None,
                     workers: int | None = None, cache_root: Path | None = None,
                     cancel=None) -> Iterator[Progress]:
    """Classify ``samples`` with a checkpoint (the bundled 3-class model by default).

    First the motion clouds are cached in parallel (``workers`` processes) with the
    checkpoint's preprocessing, then every sample goes through :func:`classify.classify`,
    the one-clip path, so each row holds exactly the probabilities ``mer classify``
    gives for that clip. A sample that fails is listed in ``failed`` and never stops
    the batch; a broken checkpoint does (CheckpointError). ``cancel`` (an Event) is
    checked between samples. The last record's result is a :class:`BatchResult`.
    """
    from ..cache import preprocess
    from .classify import bundled_checkpoint, classify, load_for_inference, task_of
    from .items import Preprocessing

    path = Path(checkpoint_path) if checkpoint_path is not None else bundled_checkpoint("3")
    samples = list(samples)
    total = 2 * len(samples)
    yield Progress(0, total, f"loading {path.name}")
    checkpoint, _model = load_for_inference(path)
    preprocessing = Preprocessing.from_dict(checkpoint.preprocessing)
    failed: dict[str, str] = {}
    for record in preprocess(samples, preprocessing.cloud, workers, cache_root, flow=None):
        if isinstance(record.result, list):
            failed = {o.sample_id: o.error for o in record.result if not o.ok}
        else:
            yield Progress(record.step, total, f"preparing clouds {record.message}")
        if cancel is not None and cancel.is_set():
            return
    rows: list[BatchRow] = []
    for k, sample in enumerate(samples):
        if cancel is not None and cancel.is_set():
            return
        if sample.id not in failed:
            try:
                result = classify(sample, path, cache_root)
            except MerError as exc:  # this clip's frames or cloud; the checkpoint loaded above
                failed[sample.id] = str(exc)
            else:
                rows.append(BatchRow(sample.id, sample.subject, sample.clip, sample.onset,
                                     result.true, result.predicted, result.probabilities))
        yield Progress(len(samples) + k + 1, total, sample.id)
    failures = tuple((s.id, failed[s.id]) for s in samples if s.id in failed)
    yield Progress(total, total, f"{len(rows)} clips classified",
                   BatchResult(checkpoint.path, tuple(checkpoint.class_names),
                               task_of(checkpoint), tuple(rows), failures))


def batch_csv(result: BatchResult) -> str:
    """``subject, clip, onset, label, predicted`` and one probability column per class."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(BATCH_COLUMNS) + list(result.classes))
    for r in result.rows:
        w.writerow([r.subject, r.clip, r.onset, r.label or "", r.predicted]
                   + [repr(float(r.probabilities[c])) for c in result.classes])
    return buf.getvalue()


def about_path(csv_path: Path | str) -> Path:
    """Where a batch CSV's description is kept: ``<name>.csv.json`` beside it."""
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.name + ".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_batch_csv(path: Path | str, result: BatchResult) -> Path:
    """Write :func:`batch_csv` atomically to ``path``, and beside it (:func:`about_path`)
    what made it: the checkpoint (absolute path and SHA-256), its task and classes, and the
    clips that failed with why, so that opening the CSV later reproduces its rows."""
    from ... import __version__

    path = Path(path)
    checkpoint = Path(result.checkpoint).resolve()
    about = {"checkpoint": str(checkpoint), "checkpoint_sha256": file_sha256(checkpoint),
             "task": result.task, "classes": list(result.classes),
             "failed": [{"sample": s, "error": e} for s, e in result.failed],
             "mer_viewer": __version__}
    written = write_bytes_atomic(path, batch_csv(result).encode())
    write_bytes_atomic(about_path(path), (json.dumps(about, indent=1) + "\n").encode())
    return written


def recorded_checkpoint(csv_path: Path | str) -> tuple[Path | None, dict, str]:
    """What a batch CSV's description says (:func:`write_batch_csv`; {} when there is none)
    and the checkpoint that made the CSV if that file is still there unchanged:
    (path or None, description, why not)."""
    about = about_path(csv_path)
    if not about.is_file():
        return None, {}, f"{about.name} is missing: the checkpoint that made it is unknown"
    try:
        data = json.loads(about.read_text())
        path, digest = Path(data["checkpoint"]), str(data["checkpoint_sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, {}, f"{about}: unreadable ({exc})"
    if not path.is_file():
        return None, data, f"{path}: the checkpoint that made it is gone"
    try:
        if file_sha256(path) != digest:
            return None, data, f"{path}: changed since it made the CSV"
    except OSError as exc:
        return None, data, f"{path}: unreadable ({exc})"
    return path, data, ""
