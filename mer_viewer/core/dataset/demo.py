"""``mer demo``: write the synthetic demo corpus in the exact CAS(ME)³ Part A layout.

Layout written under ``out`` (SPEC §4, §5)::

    spNO.<k>/<Clip>/color/<n>.jpg       1280×720 RGB (JPEG quality 85)
    spNO.<k>/<Clip>/depth/<n>.png       uint16 mm, 0 = invalid, registered to RGB
    spNO.<k>/<Clip>/<n>.png             (one subject keeps depth beside color/)
    cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   sheet "label", the real columns
    cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx   macro-expressions, same columns
    mer_exclusions.csv                  subject,clip,onset,reason (hand occlusion)
    demo_truth/<subject>_<clip>_<onset>.npz     ground truth per sample
    demo_truth/samples.csv              every row of both sheets (column ``sheet``: me or
                                        mae) with its anomaly kind and true frames

Macro-expressions (``macro_per_subject``, 2 by default) have clip letters of their
own after the micro-expressions' (or share a clip when a subject has run out of
letters), the same AU fields 2–6 mm strong and 6–7 frames; the micro-expression
samples are the same, byte for byte, whatever ``macro_per_subject``.

The corpus is built in a temporary folder next to ``out`` and renamed at the end,
the sheet last, so a cancelled or failed build never leaves a half-written corpus.
Identical arguments give byte-identical files whatever the number of workers.

See :mod:`.demo_head` (3D head), :mod:`.demo_aus` (action units),
:mod:`.demo_render` (frames, sensor model, truth) and :mod:`.demo_plan` (rows).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import multiprocessing
import os
import re
import shutil
import zipfile
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from pathlib import Path

from ..errors import DatasetError, MerError
from ..progress import Progress
from .demo_labels import LABEL_MODES
from .demo_plan import ANOMALY_KINDS, CLIP_LETTERS, plan_corpus
from .demo_render import ZIP_DATE, SampleSpec, init_worker, load_texture, render_sample, set_texture

DEMO_SHEET_NAME = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
DEMO_MAE_SHEET_NAME = "cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx"
SHEET_COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion")
EXCLUSIONS_NAME = "mer_exclusions.csv"
TRUTH_DIR = "demo_truth"
__all__ = ["build_demo", "DEMO_SHEET_NAME", "DEMO_MAE_SHEET_NAME", "SHEET_COLUMNS", "EXCLUSIONS_NAME", "TRUTH_DIR",
           "ANOMALY_KINDS"]

_FIXED_TIME = dt.datetime(2024, 1, 1)


def build_demo(out: Path, subjects: int = 12, clips_per_subject: int = 8, seed: int = 0,
               workers: int | None = None, macro_per_subject: int = 2,
               labels: str = "even") -> Iterator[Progress]:
    """Write the demo corpus to `out`, yielding one Progress per rendered clip (and a final one).

    ``clips_per_subject`` micro-expressions (ME sheet) and ``macro_per_subject``
    macro-expressions (MaE sheet; 0: no MaE sheet) per subject.

    ``workers=None`` uses every CPU (a process pool); ``workers=1`` renders in this
    process. An existing ``out`` is replaced only if it is empty or a demo corpus.
    ``labels``: ``even`` (each subject shows each emotion once) or ``casme3`` (the real
    sheet's class balance, see :mod:`.demo_labels`).
    The final Progress carries ``result=out``.
    """
    out = Path(out).expanduser().absolute()
    if not 1 <= subjects <= 500:
        raise MerError(f"the number of subjects must be between 1 and 500, got {subjects}")
    if not 1 <= clips_per_subject <= len(CLIP_LETTERS):
        raise MerError(f"clips per subject must be between 1 and {len(CLIP_LETTERS)}, "
                       f"got {clips_per_subject}")
    if not 0 <= macro_per_subject <= len(CLIP_LETTERS):
        raise MerError(f"macro-expressions per subject must be between 0 and "
                       f"{len(CLIP_LETTERS)}, got {macro_per_subject}")
    if labels not in LABEL_MODES:
        raise MerError(f"labels must be one of {', '.join(LABEL_MODES)}, not {labels!r}")
    _check_replaceable(out)
    specs = plan_corpus(subjects, clips_per_subject, seed, macro_per_subject, labels)
    to_render = [s for s in specs if s.kind != "missing_clip"]
    total = len(to_render) + 1
    workers = max(1, min(workers or os.cpu_count() or 1, len(to_render)))

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        with closing(_render_all(to_render, staging, workers)) as rendered:  # stops the pool
            for step, label in enumerate(rendered, start=1):
                yield Progress(step, total, f"rendered {label}")
        _write_truth_table(specs, staging / TRUTH_DIR / "samples.csv")
        _write_exclusions(specs, staging / EXCLUSIONS_NAME)
        macro = [s for s in specs if s.sheet == "mae"]
        if macro:
            _write_sheet(macro, staging / DEMO_MAE_SHEET_NAME)
        _write_sheet([s for s in specs if s.sheet == "me"],
                     staging / DEMO_SHEET_NAME)  # last: the corpus is complete
        _replace(staging, out)
        yield Progress(total, total, f"demo corpus written to {out}", result=out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _render_all(specs: list[SampleSpec], staging: Path, workers: int
                ) -> Generator[str, None, None]:
    """Render every spec; yield each one's label as it finishes (order varies, bytes don't)."""
    if workers == 1:
        set_texture(load_texture())
        for spec in specs:
            yield render_sample(spec, staging)
        return
    # spawn: safe from a GUI thread (no fork of a threaded Qt process) and the same everywhere.
    # Workers load the texture themselves: a large start-up message can block the launch.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker)
    try:
        futures = [pool.submit(render_sample, spec, staging) for spec in specs]
        for future in as_completed(futures):
            yield future.result()
    except BrokenProcessPool as error:
        raise MerError("demo worker processes failed to start; a script that calls build_demo "
                       "must guard its entry point with `if __name__ == '__main__':`") from error
    finally:  # also on cancel (GeneratorExit) or error: drop what has not started
        pool.shutdown(wait=True, cancel_futures=True)


def _is_demo_corpus(folder: Path) -> bool:
    # the sheet alone would match a real CAS(ME)³ copy: never replace one of those
    return (folder / DEMO_SHEET_NAME).is_file() and (folder / TRUTH_DIR / "samples.csv").is_file()


def _check_replaceable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out}: exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not _is_demo_corpus(out):
        raise DatasetError(f"{out}: folder is not empty and holds no demo corpus; "
                           "choose an empty or new output folder")


def _replace(staging: Path, out: Path) -> None:
    _check_replaceable(out)
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def _sheet_au(au: str) -> str | int:
    return int(au) if au.isdigit() else au  # single AUs are numbers in the real sheet


def _write_sheet(specs: list[SampleSpec], path: Path) -> None:
    """The annotation workbook, sheet ``label``, with constant timestamps inside and out."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.worksheets[0]  # a new workbook holds one sheet, the active one
    sheet.title = "label"
    sheet.append(list(SHEET_COLUMNS))
    for s in specs:
        sheet.append([s.subject, s.clip, s.onset, s.apex, s.offset, _sheet_au(s.au),
                      s.objective_class, s.emotion])
    workbook.properties.creator = "mer_viewer demo"
    workbook.properties.created = workbook.properties.modified = _FIXED_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_with_fixed_timestamps(buffer.getvalue()))


def _with_fixed_timestamps(xlsx: bytes) -> bytes:
    """Rewrite an xlsx (a zip) with constant entry dates and document dates."""
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, \
            zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":  # openpyxl stamps "now" at save time
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                              rb"\g<1>" + stamp.encode() + rb"\g<3>", data)
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, data)
    return result.getvalue()


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _write_exclusions(specs: list[SampleSpec], path: Path) -> None:
    _write_csv(path, ["subject", "clip", "onset", "reason"],
               [[s.subject, s.clip, s.onset, "hand occlusion"] for s in specs if s.occluded])


def _write_truth_table(specs: list[SampleSpec], path: Path) -> None:
    _write_csv(path, ["subject", "clip", "clip_folder", "onset", "apex", "offset", "true_onset",
                      "true_apex", "true_offset", "kind", "emotion", "au", "objective_class",
                      "depth_beside_colour", "truth_file", "sheet"],
               [[s.subject, s.clip, s.clip_folder, s.onset, s.apex, s.offset, s.true_onset,
                 s.true_apex, s.true_offset, s.kind, s.emotion, s.au, s.objective_class,
                 int(s.depth_beside_color),
                 "" if s.kind == "missing_clip" else f"{s.subject}_{s.clip}_{s.onset}.npz",
                 s.sheet]
                for s in specs])
