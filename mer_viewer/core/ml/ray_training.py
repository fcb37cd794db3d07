"""Training runs on Ray: every fold (of every run of an experiment) is one task running the
in-process fold code (``train.train_fold_alone``); finished folds are written to their run
directory as they arrive, a run's results once its folds (and final model) are in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mer_viewer.core.atomic import write_bytes_atomic
from mer_viewer.core.cluster import FINISHED, RayOptions, Tasks
from mer_viewer.core.ml.protocol import Fold
from mer_viewer.core.ml.results import FoldOutcome, TrainUpdate, write_run_results
from mer_viewer.core.ml.train import (
    Cancel,
    FoldDone,
    FoldJob,
    final_epochs,
    final_fold,
    finished_fold,
    prepare_run_dir,
    train_fold_alone,
)
from mer_viewer.core.progress import Progress


@dataclass(frozen=True)
class RunEvent:
    """Result of the records of :func:`train_runs`: a TrainUpdate of run ``run``."""

    run: int
    update: TrainUpdate


@dataclass(eq=False)
class _Slot:
    """One task: a fold (or the final model) of run ``run``, its checkpoints in the run
    directory (``work``: unfinished, ``done``: finished) and its state for the bar."""

    run: int
    fold: Fold
    n_epochs: int
    n_steps: int
    work: Path
    done: Path
    status: str = "queued"  # waiting (the final model) | queued | running | done
    steps: int = 0  # optimizer steps done, for the bar

    @property
    def final(self) -> bool:
        return not self.fold.test

    @property
    def total(self) -> int:
        return self.n_epochs * self.n_steps


class _Board:
    """The tasks' states, with running sums (a real ablation has some 1,700 tasks and a
    record per optimizer step): the bar and the one-line status of every record."""

    def __init__(self):
        self.slots: list[_Slot] = []
        self.counts: Counter = Counter()
        self.steps = self.total = 0

    def add(self, slot: _Slot) -> _Slot:
        self.slots.append(slot)
        self.counts[slot.status] += 1
        self.steps += slot.steps
        self.total += slot.total
        return slot

    def set(self, slot: _Slot, status: str | None = None, steps: int | None = None,
            n_epochs: int | None = None) -> None:
        self.total -= slot.total
        self.steps -= slot.steps
        self.counts[slot.status] -= 1
        slot.status = status or slot.status
        slot.n_epochs = slot.n_epochs if n_epochs is None else n_epochs
        slot.steps = slot.total if slot.status == "done" else (
            slot.steps if steps is None else steps)
        self.counts[slot.status] += 1
        self.steps += slot.steps
        self.total += slot.total

    def record(self, message: str, result=None) -> Progress:
        c = self.counts
        status = f"{c['done']}/{len(self.slots)} done, {c['running']} running, " \
                 f"{c['queued']} queued"
        return Progress(self.steps, self.total,
                        f"{message} · {status}" if message else status, result)


def train_on_ray(run, options: RayOptions, cancel: Cancel | None = None) -> Iterator[Progress]:
    """``run_training`` on Ray: :func:`train_runs` of one run, each record's result its
    TrainUpdate (as in-process)."""
    for record in train_runs([run], options, cancel):
        update = record.result.update if isinstance(record.result, RunEvent) else record.result
        yield replace(record, result=update)


def train_runs(runs: Sequence, options: RayOptions, cancel: Cancel | None = None,
               names: Sequence[str] | None = None) -> Iterator[Progress]:
    """Train every fold of ``runs`` (planned with ``train.plan_run(on_ray=True)``) as Ray
    tasks and write each run directory as in-process training does.

    Each run's stacked input goes into the object store once and is shared by its folds.
    With ``resume`` finished folds are read back and never submitted; an unfinished fold's
    checkpoint travels with its task, which continues it. One bar over all tasks (in
    optimizer steps), each record saying what every task is doing. A user error in a task
    stops everything with that error; ``cancel`` (or closing the generator, Ctrl-C)
    cancels the tasks.
    """
    names = list(names) if names is not None else ["" for _ in runs]
    outcomes: list[dict[int, FoldOutcome]] = [{} for _ in runs]
    finals: list[FoldOutcome | None] = [None for _ in runs]
    board = _Board()
    record = board.record
    finals_of: dict[int, _Slot] = {}
    for i, run in enumerate(runs):
        prepare_run_dir(run)
        for fold in run.folds:
            path = run.out / "checkpoints" / f"fold_{fold.index}.pt"
            slot = board.add(_Slot(i, fold, run.config.epochs, run.steps(fold), path, path))
            found = finished_fold(run, fold, path) if run.resume else None
            if found is not None:
                outcomes[i][fold.index] = found
                board.set(slot, "done")
        if run.config.final_model:  # its epochs are known once the folds are done
            everyone = final_fold(run)
            finals_of[i] = board.add(_Slot(i, everyone, run.config.epochs, run.steps(everyone),
                                           run.out / "checkpoints" / "final.pt",
                                           run.out / "model.pt", status="waiting"))
    read_back = board.counts["done"]

    with Tasks(options, cancel) as tasks:
        data_refs: dict[int, object] = {}

        def submit(slot: _Slot) -> None:
            run = runs[slot.run]
            if slot.run not in data_refs:
                data_refs[slot.run] = tasks.put(run.data)
            unfinished = slot.work.read_bytes() if run.resume and slot.work.exists() else None
            job = FoldJob(run.config, tuple(run.folds), run.run_info, slot.fold, slot.n_epochs,
                          unfinished, options.threads)
            board.set(slot, "queued")
            tasks.submit(slot, _who(names[slot.run], slot, len(run.folds)), train_fold_alone,
                         job, data_refs[slot.run])

        def finish(i: int) -> Iterator[Progress]:
            """Submit run ``i``'s final model once its folds are done, or write its results."""
            run = runs[i]
            if len(outcomes[i]) < len(run.folds):
                return
            folds_in_order = [outcomes[i][f.index] for f in run.folds]
            final = finals_of.get(i)
            if final is not None and finals[i] is None:
                if final.status == "waiting":
                    board.set(final, n_epochs=final_epochs(run.config, folds_in_order))
                    found = finished_fold(run, final.fold, final.done) if run.resume else None
                    if found is None:
                        submit(final)
                        return
                    finals[i] = found
                    board.set(final, "done")
                else:
                    return
            metrics = write_run_results(run.out, run.config, run.folds, run.data,
                                        folds_in_order, final is not None)
            preds = tuple(p for o in folds_in_order for p in o.predictions)
            yield record(f"{names[i]}UF1 {metrics.uf1 * 100:.2f}%  UAR {metrics.uar * 100:.2f}%",
                         RunEvent(i, TrainUpdate("done", len(run.folds), len(run.folds),
                                                 predictions=preds, metrics=metrics)))

        for slot in board.slots:
            if slot.status == "queued":
                submit(slot)
        for i, run in enumerate(runs):
            yield record(f"{names[i]}{len(run.folds)} fold(s), {len(run.data.y)} samples "
                         f"({run.data.dropped} without a label dropped)",
                         RunEvent(i, TrainUpdate("start", 0, len(run.folds))))
        yield record(f"{tasks.pending} task(s) on Ray ({options.address}), "
                     f"{read_back} read back from the run folder(s)")
        for i in range(len(runs)):
            yield from finish(i)
        for key, value in tasks.events():
            assert isinstance(key, _Slot), key
            slot = key
            run = runs[slot.run]
            who = _who(names[slot.run], slot, len(run.folds))
            if isinstance(value, FoldDone):
                board.set(slot, "done")
                slot.done.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(slot.done, value.checkpoint)
                if slot.work != slot.done:
                    slot.work.unlink(missing_ok=True)
                if slot.final:
                    finals[slot.run] = value.outcome
                else:
                    outcomes[slot.run][slot.fold.index] = value.outcome
                yield record(f"{who} done on {value.device}")
                yield from finish(slot.run)
            elif isinstance(value, Progress):
                update = value.result
                steps = None
                if isinstance(update, TrainUpdate) and update.phase in ("step", "epoch"):
                    steps = (update.epoch - (update.phase == "step")) * slot.n_steps \
                        + (update.step if update.phase == "step" else 0)
                board.set(slot, "running", steps)
                if update is None:  # the task started
                    yield record(f"{who} {value.message}")
                else:
                    yield record(f"{names[slot.run]}{value.message}", RunEvent(slot.run, update))
            elif value is FINISHED and slot.status != "done":
                from mer_viewer.core.errors import MerError

                raise MerError(f"{who}: the task ended without a result")
        if cancel is not None and cancel.is_set():
            yield record("cancelled", RunEvent(0, TrainUpdate("cancelled", 0, 0)))


def _who(name: str, slot: _Slot, n_folds: int) -> str:
    if slot.final:
        return f"{name}final model"
    return f"{name}fold {slot.fold.index + 1}/{n_folds} ({', '.join(slot.fold.test)})"
