"""Honest subject-wise training (LOSO / hold-out / macro→micro transfer) as a generator.

One code path for the CLI and the GUI: ``run_training`` yields ``Progress``
records whose ``result`` is a :class:`TrainUpdate`. Stop it by closing the
generator or by setting ``cancel`` (checked before every optimizer step); every
file it writes is replaced atomically, so a stopped run can be resumed with
``resume=True`` and ends with the same predictions as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mer_viewer.core.atomic import legacy_temp, remove_stale_temps
from mer_viewer.core.dataset.labels import as_task, class_names
from mer_viewer.core.errors import MerError
from mer_viewer.core.ml import report
from mer_viewer.core.ml.checkpoint import build_network, load_checkpoint, save_checkpoint
from mer_viewer.core.ml.config import TrainConfig, resolve_device
from mer_viewer.core.ml.data import (
    StackedItems,
    TrainItem,
    augment,
    balanced_batch_indices,
    batch_indices,
    eval_batches,
    n_batches,
    stack_items,
)
from mer_viewer.core.ml.inference import predict
from mer_viewer.core.ml.metrics import evaluate
from mer_viewer.core.ml.protocol import Fold, plan_folds, seed_for
from mer_viewer.core.ml.results import FoldOutcome, Prediction, TrainUpdate, write_run_results
from mer_viewer.core.ml.runtime import keep_freed_memory, native_bf16
from mer_viewer.core.progress import Progress

__all__ = ["TrainConfig", "TrainItem", "TrainUpdate", "Prediction", "Cancel", "run_training",
           "resolve_device", "RUN_FILES"]

# Files of a run directory (SPEC §6) that a fresh run replaces.
RUN_FILES = ("metrics.json", "predictions.csv", "folds.json", "config.json", "history.json",
             "confusion.png", "curves.png", "report.md", "model.pt")
_INIT, _EPOCH = 11, 12  # seed streams
# Keys of config.json that may differ when resuming (they do not change the numbers).
_RESUME_FREE = {"device", "runtime"}
#: settings added after runs were made, with the value that gives those runs' behaviour
_ADDED_SETTINGS = {"sampler": "shuffle"}


class Cancel(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class _Run:
    """Mutable state shared by the folds of one run."""

    config: TrainConfig
    data: StackedItems
    folds: list[Fold]
    out: Path
    device: Any
    run_info: dict
    resume: bool
    cancel: Cancel | None
    bf16: bool | None = False  # None on a Ray driver: each task resolves its own
    ray_node: str | None = None  # the Ray node's id in a Ray task
    done: int = 0
    total: int = 0

    def progress(self, message: str, update: TrainUpdate) -> Progress:
        return Progress(self.done, self.total, message, update)

    def steps(self, fold: Fold) -> int:
        """Optimizer steps of one epoch of ``fold`` (batches of its training rows)."""
        return n_batches(len(self.indices(fold.fit, fold.train_source)), self.config.batch_size)

    def indices(self, subjects: Sequence[str], source: str | None = None) -> np.ndarray:
        """Rows of ``subjects`` (only those from sheet ``source`` unless it is None)."""
        chosen = np.isin(self.data.subjects, list(subjects))
        if source is not None:
            chosen &= self.data.sources == source
        return np.flatnonzero(chosen)


@contextlib.contextmanager
def _deterministic():
    import torch

    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _seed_everything(seed: int) -> np.random.Generator:
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def remove_stale_run_temps(out: Path) -> list[Path]:
    """Remove the temporary files a killed run left in ``out`` and ``out/checkpoints``
    (a checkpoint or result being written when the process died); returns them."""
    suffixes = tuple({Path(name).suffix for name in RUN_FILES})
    removed = remove_stale_temps(out, legacy=lambda p: legacy_temp(p, suffixes))
    return removed + remove_stale_temps(out / "checkpoints",
                                        legacy=lambda p: legacy_temp(p, (".pt",)))


def _prepare_out_dir(out: Path, run_info: dict, folds: list[Fold], resume: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_run_temps(out)
    config_path = out / "config.json"
    if resume and config_path.exists():
        import json

        old = {**_ADDED_SETTINGS, **json.loads(config_path.read_text())}
        diff = sorted(k for k in set(old) | set(run_info)
                      if k not in _RESUME_FREE and old.get(k) != run_info.get(k))
        if diff:
            raise MerError(f"{config_path}: cannot resume, the run was made with other "
                           f"settings or data ({', '.join(diff)})")
    if not resume:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        ckpts = out / "checkpoints"
        if ckpts.is_dir():
            for p in list(ckpts.glob("fold_*.pt")) + list(ckpts.glob("final.pt")):
                p.unlink()
    report.write_json(config_path, run_info)
    report.write_json(out / "folds.json", [f.to_dict() for f in folds])


def prepare_run_dir(run: _Run) -> None:
    """Create ``run.out`` with ``config.json`` and ``folds.json``; without ``run.resume``
    the result files of an earlier run there are removed (MerError when resuming a run made
    with other settings or data)."""
    _prepare_out_dir(run.out, run.run_info, run.folds, run.resume)


def run_training(config: TrainConfig, items: Sequence[TrainItem], out_dir: Path | str, *,
                 preprocessing: Mapping[str, Any] | None = None, resume: bool = False,
                 cancel: Cancel | None = None, cluster: Any = None) -> Iterator[Progress]:
    """Train and test every fold, pool the test predictions and write the run directory.

    Items whose label is None are dropped (counted in ``metrics.json``). The
    run's classes are the task's classes present in the items. With the
    ``transfer`` protocol the folds train on the items of ``source`` ``mae``
    (macro-expressions) and test on those of ``source`` ``me``. Writes (SPEC §6)
    ``config.json`` and ``folds.json`` first, ``checkpoints/fold_<k>.pt`` after
    every epoch (with optimizer state until the fold is done, then the tested
    weights and the fold's predictions only), and at the end ``metrics.json``,
    ``predictions.csv``, ``history.json``, ``confusion.png``, ``curves.png``,
    ``report.md`` and, with ``config.final_model``, ``model.pt``. Without
    ``resume`` those files of an earlier run in ``out_dir`` are replaced; with
    it, finished folds are read back and an unfinished one continues from its
    last epoch (MerError if the settings or data differ).

    ``cluster`` (a ``RayOptions``): every fold is a Ray task running the same
    :func:`_train_fold` (``mer_viewer.core.ml.ray_training``); the folds' records
    arrive as they are made, finished folds are written here as they finish.
    """
    out = Path(out_dir)
    if cluster is not None:
        from mer_viewer.core.ml.ray_training import train_on_ray

        yield from train_on_ray(plan_run(config, items, out, preprocessing, resume, cancel,
                                         on_ray=True), cluster, cancel)
        return
    run = _plan_run(config, items, out, preprocessing, resume, cancel)
    folds, data = run.folds, run.data
    everyone = final_fold(run)
    fold_steps = sum(run.steps(f) for f in folds)
    run.total = fold_steps * config.epochs
    if config.final_model:
        run.total += run.steps(everyone) * config.epochs
    _prepare_out_dir(out, run.run_info, folds, resume)
    yield run.progress(f"{len(folds)} fold(s), {len(data.y)} samples ({data.dropped} without a "
                       "label dropped)", TrainUpdate("start", 0, len(folds)))
    outcomes: list[FoldOutcome] = []
    with _deterministic():
        for fold in folds:
            path = out / "checkpoints" / f"fold_{fold.index}.pt"
            outcome = yield from _train_fold(run, fold, path, path, config.epochs)
            if outcome is None:
                return
            outcomes.append(outcome)
        final = None
        if config.final_model:
            final = yield from _train_final_model(run, everyone, outcomes, fold_steps)
            if final is None:
                return
    metrics = write_run_results(out, config, folds, data, outcomes, final is not None)
    preds = tuple(p for o in outcomes for p in o.predictions)
    yield run.progress(f"UF1 {metrics.uf1 * 100:.2f}%  UAR {metrics.uar * 100:.2f}%",
                       TrainUpdate("done", len(folds), len(folds), predictions=preds,
                                   metrics=metrics))


def final_fold(run: _Run) -> Fold:
    """The final model's fold: every subject, the folds' training samples (all, or the
    macro ones), no test subject."""
    return Fold(len(run.folds), (), tuple(sorted(set(run.data.subjects))),
                train_source=run.folds[0].train_source)


def _runtime(config: TrainConfig) -> tuple[Any, bool]:
    """The device of ``config`` here, and whether the training steps autocast to bf16."""
    device = resolve_device(config.device)
    return device, native_bf16(device) if config.bf16 is None else bool(config.bf16)


def plan_run(config: TrainConfig, items: Sequence[TrainItem], out: Path,
             preprocessing: Mapping[str, Any] | None = None, resume: bool = False,
             cancel: Cancel | None = None, on_ray: bool = False) -> _Run:
    """The run of ``items`` into ``out``: :func:`_plan_run`, or with ``on_ray`` without a
    device (each Ray task resolves ``config.device`` where it runs)."""
    return _plan_run(config, items, Path(out), preprocessing, resume, cancel, on_ray)


def _plan_run(config: TrainConfig, items: Sequence[TrainItem], out: Path,
              preprocessing: Mapping[str, Any] | None, resume: bool,
              cancel: Cancel | None, on_ray: bool = False) -> _Run:
    """Stack the items, plan the folds, pick the device; MerError when a fold cannot train."""
    keep_freed_memory()
    data = stack_items(items, class_names(as_task(config.classes)))
    folds = plan_folds(data.subjects, config.protocol, config.seed,
                       holdout_fraction=config.holdout_fraction, inner_val=config.inner_val,
                       sources=data.sources)
    run_info = {**config.to_dict(), "preprocessing": dict(preprocessing or {}),
                "data": {"n_samples": int(len(data.y)), "dropped": data.dropped,
                         "classes": list(data.classes), "fingerprint": data.fingerprint()}}
    if on_ray:  # the driver of a cluster may have no GPU: the tasks resolve the device
        device, bf16 = None, config.bf16
        run_info["runtime"] = {"device": config.device, "bf16": bf16, "ray": True}
    else:
        device, bf16 = _runtime(config)
        run_info["runtime"] = {"device": str(device), "bf16": bf16}
    run = _Run(config, data, folds, out, device, run_info, resume, cancel, bf16=bf16)
    for f in folds:
        if run.steps(f) == 0:
            raise MerError(f"fold {f.index} (test {', '.join(f.test)}): fewer than 2 "
                           "training samples")
    return run


def _train_final_model(run: _Run, everyone: Fold, outcomes: Sequence[FoldOutcome],
                       fold_steps: int):
    """Train ``model.pt`` on every subject: the folds' epochs, or with inner validation the
    median of the epochs the folds chose. Returns its FoldOutcome, or None if cancelled."""
    config = run.config
    epochs = final_epochs(config, outcomes)
    if config.inner_val:
        run.total = fold_steps * config.epochs + run.steps(everyone) * epochs
    return (yield from _train_fold(run, everyone, run.out / "checkpoints" / "final.pt",
                                   run.out / "model.pt", epochs))


def final_epochs(config: TrainConfig, outcomes: Sequence[FoldOutcome]) -> int:
    """Epochs of the final model: the folds', or with inner validation the median of the
    epochs the folds chose."""
    if config.inner_val:
        return max(1, int(round(np.median([o.best_epoch for o in outcomes]))))
    return config.epochs


def _empty_history() -> dict:
    return {"loss": [], "train_accuracy": [], "train_uf1": [], "val_uf1": []}


@dataclass
class _FoldState:
    """One fold's (or the final model's) training, handed between the steps of
    :func:`_train_fold`. ``info`` identifies the fold in its checkpoints (checked on
    resume); ``start`` is the first epoch to train; ``best`` the (val UF1, epoch,
    weights) of the best inner-validation epoch so far."""

    fold: Fold
    n_folds: int
    n_epochs: int
    fit_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    n_steps: int
    info: dict
    model: Any
    opt: Any
    sched: Any
    history: dict = field(default_factory=_empty_history)
    start: int = 0
    best: tuple | None = None

    @property
    def final(self) -> bool:
        """The model trained on all subjects (a fold without test subjects)."""
        return not self.fold.test

    @property
    def who(self) -> str:
        if self.final:
            return "final model (all subjects)"
        return f"fold {self.fold.index + 1}/{self.n_folds} ({', '.join(self.fold.test)})"

    def update(self, phase: str, **fields: Any) -> TrainUpdate:
        return TrainUpdate(phase, self.fold.index, self.n_folds, final_model=self.final,
                           **fields)


def _train_fold(run: _Run, fold: Fold, work_path: Path, done_path: Path, n_epochs: int):
    """Train one fold (or the final model) for ``n_epochs`` and test it, continuing from its
    checkpoints with ``run.resume``: ``work_path`` holds the unfinished fold after every
    epoch, ``done_path`` the tested weights and predictions. Yields progress records;
    returns the FoldOutcome, or None if cancelled."""
    state = _start_fold(run, fold, n_epochs)
    if run.resume:
        outcome = yield from _resume_fold(run, state, work_path, done_path)
        if outcome is not None:
            return outcome
    autocast, evaluation = _autocast_options(run)
    weights = _loss_weights(run, state)
    for epoch in range(state.start, n_epochs):
        running = yield from _train_epoch(run, state, epoch, autocast, weights)
        if running is None:
            return None
        mean_loss, train = running
        state.sched.step()
        state.history["loss"].append(mean_loss)
        state.history["train_accuracy"].append(train.accuracy)
        state.history["train_uf1"].append(train.uf1)
        val_uf1 = _validate(run, state, epoch, evaluation)
        _save_unfinished(run, state, work_path, epoch + 1)
        yield run.progress(
            f"{state.who} epoch {epoch + 1}/{n_epochs} loss {mean_loss:.4f} train UF1 "
            f"{train.uf1 * 100:.1f}%" + (f" val UF1 {val_uf1 * 100:.1f}%" if val_uf1 is not None
                                         else ""),
            state.update("epoch", epoch=epoch + 1, n_epochs=n_epochs, step=state.n_steps,
                         n_steps=state.n_steps, loss=mean_loss, train_accuracy=train.accuracy,
                         train_uf1=train.uf1, val_uf1=val_uf1))
    best_epoch, predictions = _test_fold(run, state, evaluation)
    return (yield from _finish_fold(run, state, best_epoch, predictions, work_path, done_path))


def _start_fold(run: _Run, fold: Fold, n_epochs: int) -> _FoldState:
    """The fold's rows, and its network, optimizer and schedule seeded for the fold."""
    import torch

    cfg, data = run.config, run.data
    info = _fold_info(run, fold)
    _seed_everything(seed_for(cfg.seed, _INIT, fold.index))
    model = build_network(cfg.model, len(data.classes), data.x.shape[2], cfg.network_options)
    model = model.to(run.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.effective_lr_step,
                                            gamma=cfg.lr_gamma)
    return _FoldState(fold, len(run.folds), n_epochs,
                      fit_idx=run.indices(fold.fit, fold.train_source),
                      val_idx=run.indices(fold.inner_val, fold.train_source),
                      test_idx=run.indices(fold.test, fold.test_source),
                      n_steps=run.steps(fold), info=info, model=model, opt=opt, sched=sched)


def _fold_info(run: _Run, fold: Fold) -> dict:
    """What identifies ``fold`` in its checkpoints (checked on resume)."""
    return {"fold": fold.index, "test": list(fold.test), "train": list(fold.train),
            "inner_val": list(fold.inner_val),
            "fingerprint": run.run_info["data"]["fingerprint"]}


def _checkpoint_of(run: _Run, fold: Fold, path: Path):
    """The checkpoint at ``path``, checked to belong to ``fold`` of this run (MerError if made
    with other settings, folds or data)."""
    ck = load_checkpoint(path)
    extra = ck.extra or {}
    info = _fold_info(run, fold)
    same_config = {k: v for k, v in ck.config.items() if k not in _RESUME_FREE} == \
        {k: v for k, v in run.config.to_dict().items() if k not in _RESUME_FREE}
    if {k: extra.get(k) for k in info} != info or not same_config:
        raise MerError(f"{path}: cannot resume, it was made with other settings, "
                       "folds or data")
    return ck


def finished_fold(run: _Run, fold: Fold, path: Path) -> FoldOutcome | None:
    """The FoldOutcome kept in ``path`` when it holds ``fold`` finished (its tested weights
    and predictions), else None; MerError when it belongs to other settings or data."""
    if not path.exists():
        return None
    extra = _checkpoint_of(run, fold, path).extra or {}
    return _outcome(extra) if extra.get("complete") else None


def _outcome(extra: dict) -> FoldOutcome:
    """The FoldOutcome kept in a finished fold's checkpoint (its ``extra``)."""
    preds = tuple(Prediction(**{**p, "probabilities": tuple(p["probabilities"])})
                  for p in extra.get("predictions", []))
    return FoldOutcome(extra["history"], preds, int(extra["best_epoch"]),
                       extra.get("host", ""), extra.get("ray_node"))


def _resume_fold(run: _Run, state: _FoldState, work_path: Path, done_path: Path):
    """Read the fold's checkpoint back (MerError if made with other settings, folds or data).
    A finished fold yields one record and returns its FoldOutcome; an unfinished one loads
    its weights, optimizer, schedule and history into ``state`` and returns None."""
    for path in dict.fromkeys([done_path, work_path]):
        if not path.exists():
            continue
        ck = _checkpoint_of(run, state.fold, path)
        extra = ck.extra or {}
        if extra.get("complete"):
            outcome = _outcome(extra)
            run.done += state.n_steps * len(outcome.history["loss"])
            yield run.progress(f"{state.who}: read back from {path.name}",
                               state.update("fold", test_subjects=state.fold.test,
                                            predictions=outcome.predictions, resumed=True))
            return outcome
        state.model.load_state_dict(ck.model_state)
        state.opt.load_state_dict(ck.optimizer_state)
        state.sched.load_state_dict(extra["scheduler"])
        state.history, state.start = extra["history"], ck.epoch
        if extra.get("best_state") is not None:
            state.best = (extra["best_uf1"], extra["best_epoch"], extra["best_state"])
        run.done += state.n_steps * state.start
        return None
    return None


def _autocast_options(run: _Run) -> tuple[dict, dict]:
    """``torch.autocast`` options of the training steps (bf16 where chosen) and of the
    evaluation (float32)."""
    import torch

    autocast = dict(device_type=run.device.type, dtype=torch.bfloat16, enabled=run.bf16)
    # Evaluation (BatchNorm statistics, validation, test) in float32: a few forward passes,
    # and the tested predictions are then exactly what `mer classify` gives for the
    # checkpoint (bf16 flipped near-ties between classes).
    return autocast, dict(autocast, enabled=False)


def _loss_weights(run: _Run, state: _FoldState):
    """Per-class loss weights on the device (``class_weights`` balanced), or None."""
    import torch

    if run.config.class_weights != "balanced":
        return None
    weights = balanced_weights(run.data.y[state.fit_idx], len(run.data.classes))
    return torch.from_numpy(weights).to(run.device)


def _train_epoch(run: _Run, state: _FoldState, epoch: int, autocast: dict, weights):
    """One epoch of seeded, augmented batches, a progress record after every optimizer step.
    Returns (mean loss, the epoch's running Metrics), or None when cancelled (checked
    before every step; a ``cancelled`` record is yielded then)."""
    cfg, data, classes = run.config, run.data, run.data.classes
    rng = _seed_everything(seed_for(cfg.seed, _EPOCH, state.fold.index, epoch))
    state.model.train()
    if cfg.sampler == "balanced":
        batches = balanced_batch_indices(state.fit_idx, data.y[state.fit_idx], cfg.batch_size,
                                         rng)
    else:
        batches = batch_indices(state.fit_idx, cfg.batch_size, rng)
    loss_sum, seen, trues, predicted = 0.0, 0, [], []
    for s, b in enumerate(batches):
        if run.cancel is not None and run.cancel.is_set():
            yield run.progress("cancelled", state.update(
                "cancelled", epoch=epoch + 1, n_epochs=state.n_epochs, step=s,
                n_steps=state.n_steps))
            return None
        loss_value, batch_predicted = _optimizer_step(run, state, b, rng, autocast, weights)
        loss_sum += loss_value * len(b)
        seen += len(b)
        trues += [classes[i] for i in data.y[b]]
        predicted += [classes[i] for i in batch_predicted]
        running = evaluate(trues, predicted, classes)
        run.done += 1
        yield run.progress(
            f"{state.who} epoch {epoch + 1}/{state.n_epochs} step {s + 1}/{state.n_steps} "
            f"loss {loss_value:.4f}",
            state.update("step", epoch=epoch + 1, n_epochs=state.n_epochs, step=s + 1,
                         n_steps=state.n_steps, loss=loss_value,
                         train_accuracy=running.accuracy, train_uf1=running.uf1))
    return loss_sum / max(seen, 1), running


def _optimizer_step(run: _Run, state: _FoldState, batch: np.ndarray,
                    rng: np.random.Generator, autocast: dict, weights) -> tuple[float, list]:
    """Augment rows ``batch``, one forward/backward pass and Adam step; returns the batch's
    loss and its predicted class indices."""
    import torch
    import torch.nn.functional as F

    cfg, data = run.config, run.data
    xb = augment(data.x[batch], cfg.augment, rng, rotate_deg=cfg.rotate_deg,
                 scale_range=cfg.scale_range, jitter_std=cfg.jitter_std)
    xb_t = torch.from_numpy(xb).to(run.device)
    yb = torch.from_numpy(data.y[batch]).to(run.device)
    with torch.autocast(**autocast):
        logits = state.model(xb_t)
    loss = F.cross_entropy(logits.float(), yb, weight=weights)
    state.opt.zero_grad(set_to_none=True)
    loss.backward()
    state.opt.step()
    return loss.item(), logits.argmax(1).tolist()


def _validate(run: _Run, state: _FoldState, epoch: int, evaluation: dict) -> float | None:
    """Inner-validation UF1 after ``epoch`` (0-based), kept in the history and, when the
    best so far, with its weights in ``state.best``; None without inner validation."""
    cfg, data, classes = run.config, run.data, run.data.classes
    if not len(state.val_idx):
        return None
    if cfg.precise_bn:
        recompute_bn_statistics(state.model, data.x, state.fit_idx, cfg.batch_size, evaluation)
    _, val_pred = _predict(state.model, data.x, state.val_idx, cfg.batch_size, evaluation,
                           cfg.test_time_flip)
    val_uf1 = evaluate([classes[i] for i in data.y[state.val_idx]],
                       [classes[i] for i in val_pred.argmax(1)], classes).uf1
    state.history["val_uf1"].append(val_uf1)
    if state.best is None or val_uf1 > state.best[0]:  # ties keep the earlier epoch
        state.best = (val_uf1, epoch + 1, {k: v.detach().cpu().clone()
                                           for k, v in state.model.state_dict().items()})
    return val_uf1


def _save_unfinished(run: _Run, state: _FoldState, path: Path, epochs_done: int) -> None:
    """Checkpoint after an epoch: weights, optimizer, schedule, history and best epoch."""
    best = state.best
    extra = {**state.info, "complete": False, "history": state.history,
             "scheduler": state.sched.state_dict(),
             "best_uf1": best[0] if best else None, "best_epoch": best[1] if best else None,
             "best_state": best[2] if best else None}
    save_checkpoint(path, state.model, state.opt, run.config, run.data.classes,
                    run.run_info["preprocessing"], epochs_done, extra,
                    model_options=run.config.network_options, in_channels=run.data.x.shape[2])


def _test_fold(run: _Run, state: _FoldState, evaluation: dict
               ) -> tuple[int, tuple[Prediction, ...]]:
    """Load the tested weights (the best inner-val epoch's, else the last epoch's with
    precise BatchNorm statistics) and predict the test rows; returns (tested epoch,
    predictions)."""
    cfg, data, classes = run.config, run.data, run.data.classes
    best_epoch = state.n_epochs
    if state.best is not None:
        state.model.load_state_dict(state.best[2])  # made precise before validation
        best_epoch = int(state.best[1])
    elif cfg.precise_bn:
        recompute_bn_statistics(state.model, data.x, state.fit_idx, cfg.batch_size, evaluation)
    if not len(state.test_idx):
        return best_epoch, ()
    _, probs = _predict(state.model, data.x, state.test_idx, cfg.batch_size, evaluation,
                        cfg.test_time_flip)
    return best_epoch, tuple(
        Prediction(str(data.sample_ids[i]), str(data.subjects[i]), str(data.clips[i]),
                   state.fold.index, classes[data.y[i]], classes[int(p.argmax())],
                   tuple(float(v) for v in p))
        for i, p in zip(state.test_idx, probs))


def _finish_fold(run: _Run, state: _FoldState, best_epoch: int,
                 predictions: tuple[Prediction, ...], work_path: Path, done_path: Path):
    """Save the tested weights and predictions as the finished fold's checkpoint, drop the
    unfinished one, yield the ``fold`` record and return the FoldOutcome."""
    host = socket.gethostname()
    extra = {**state.info, "complete": True, "history": state.history,
             "best_epoch": best_epoch, "predictions": [p.__dict__ for p in predictions],
             "host": host, "ray_node": run.ray_node}
    save_checkpoint(done_path, state.model, None, run.config, run.data.classes,
                    run.run_info["preprocessing"], best_epoch, extra,
                    model_options=run.config.network_options, in_channels=run.data.x.shape[2])
    if work_path != done_path:
        work_path.unlink(missing_ok=True)
    yield run.progress(f"{state.who} done", state.update(
        "fold", epoch=best_epoch, n_epochs=state.n_epochs, test_subjects=state.fold.test,
        predictions=predictions))
    return FoldOutcome(state.history, predictions, best_epoch, host, run.ray_node)


@dataclass(frozen=True)
class FoldJob:
    """One fold (or the final model) of a run, to train on its own (a Ray task): the run's
    ``config``, ``folds`` and ``run_info``, the ``fold`` and its ``n_epochs``; ``unfinished``:
    the bytes of its unfinished checkpoint to continue from; ``threads``: torch threads."""

    config: TrainConfig
    folds: tuple[Fold, ...]
    run_info: dict
    fold: Fold
    n_epochs: int
    unfinished: bytes | None = None
    threads: int = 1


@dataclass(frozen=True)
class FoldDone:
    """A fold trained on its own: its outcome and its finished checkpoint's bytes (tested
    weights and predictions, what ``checkpoints/fold_<k>.pt`` holds), and where it ran."""

    outcome: FoldOutcome
    checkpoint: bytes
    device: str


def train_fold_alone(job: FoldJob, data: StackedItems) -> Iterator[Progress | FoldDone]:
    """Train one fold with the in-process code (:func:`_train_fold`, the same seeds, so the
    same predictions) in a scratch folder; yields its records, then a FoldDone."""
    import tempfile

    import torch

    from mer_viewer.core.cluster import ray_node

    torch.set_num_threads(max(1, job.threads))
    device, bf16 = _runtime(job.config)
    node = ray_node()
    yield Progress(0, 0, f"started on {socket.gethostname()} ({device})")
    with tempfile.TemporaryDirectory(prefix="mer-fold-") as tmp:
        work, done = Path(tmp) / "unfinished.pt", Path(tmp) / "finished.pt"
        if job.unfinished is not None:
            work.write_bytes(job.unfinished)
        run = _Run(job.config, data, list(job.folds), Path(tmp), device, job.run_info,
                   resume=job.unfinished is not None, cancel=None, bf16=bf16, ray_node=node)
        with _deterministic():
            outcome = yield from _train_fold(run, job.fold, work, done, job.n_epochs)
        yield FoldDone(outcome, done.read_bytes(), str(device))


def balanced_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(K,) float32 loss weights n / (K · n_c); a class without samples gets weight 0."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.astype(np.float32)


def recompute_bn_statistics(model, x: np.ndarray, idx: np.ndarray, batch_size: int,
                            autocast: dict) -> None:
    """Replace every BatchNorm's running mean and variance by their average over the
    batches of rows ``idx``, the rest of the model behaving as in eval (no dropout,
    fixed FPS start). Leaves the model in eval mode."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or len(idx) < 2:
        model.eval()
        return
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
        m.train()
    device = next(model.parameters()).device
    try:
        with torch.no_grad(), torch.autocast(**autocast):
            # shuffled like the training batches (a fixed order): batches of one subject
            # each would have too little variance
            for b in eval_batches(np.random.default_rng(0).permutation(idx), batch_size):
                if len(b) > 1:  # one sample has no variance
                    model(torch.from_numpy(x[b]).to(device))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()


def _predict(model, x: np.ndarray, idx: np.ndarray, batch_size: int, autocast: dict,
             mirror: bool = False):
    """Eval-mode logits' softmax for rows ``idx``: returns (idx, (len(idx), K) float32).
    ``mirror``: the mean of the softmax of each clip and of its mirror image."""
    import torch

    if not len(idx):
        return idx, np.zeros((0, 0), np.float32)
    with torch.autocast(**autocast):
        return idx, predict(model, x[idx], batch_size=batch_size, mirror=mirror)
