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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mer_viewer.core.atomic import legacy_temp, remove_stale_temps
from mer_viewer.core.dataset.labels import class_names
from mer_viewer.core.errors import MerError
from mer_viewer.core.ml import report
from mer_viewer.core.ml.checkpoint import build_network, load_checkpoint, save_checkpoint
from mer_viewer.core.ml.config import TrainConfig, resolve_device
from mer_viewer.core.ml.data import (StackedItems, TrainItem, augment, batch_indices,
                                     eval_batches, n_batches, stack_items)
from mer_viewer.core.ml.inference import predict
from mer_viewer.core.ml.metrics import evaluate
from mer_viewer.core.ml.protocol import Fold, plan_folds, seed_for
from mer_viewer.core.ml.runtime import keep_freed_memory, native_bf16
from mer_viewer.core.ml.results import FoldOutcome, Prediction, TrainUpdate, write_run_results
from mer_viewer.core.progress import Progress

__all__ = ["TrainConfig", "TrainItem", "TrainUpdate", "Prediction", "Cancel", "run_training",
           "resolve_device", "RUN_FILES"]

# Files of a run directory (SPEC §6) that a fresh run replaces.
RUN_FILES = ("metrics.json", "predictions.csv", "folds.json", "config.json", "history.json",
             "confusion.png", "curves.png", "report.md", "model.pt")
_INIT, _EPOCH = 11, 12  # seed streams
# Keys of config.json that may differ when resuming (they do not change the numbers).
_RESUME_FREE = {"device", "runtime"}


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
    bf16: bool = False
    done: int = 0
    total: int = 0

    def progress(self, message: str, update: TrainUpdate) -> Progress:
        return Progress(self.done, self.total, message, update)

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

        old = json.loads(config_path.read_text())
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


def run_training(config: TrainConfig, items: Sequence[TrainItem], out_dir: Path | str, *,
                 preprocessing: Mapping[str, Any] | None = None, resume: bool = False,
                 cancel: Cancel | None = None) -> Iterator[Progress]:
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
    """
    out = Path(out_dir)
    keep_freed_memory()
    data = stack_items(items, class_names(config.classes))
    folds = plan_folds(data.subjects, config.protocol, config.seed,
                       holdout_fraction=config.holdout_fraction, inner_val=config.inner_val,
                       sources=data.sources)
    run_info = {**config.to_dict(), "preprocessing": dict(preprocessing or {}),
                "data": {"n_samples": int(len(data.y)), "dropped": data.dropped,
                         "classes": list(data.classes), "fingerprint": data.fingerprint()}}
    device = resolve_device(config.device)
    bf16 = native_bf16(device) if config.bf16 is None else bool(config.bf16)
    run_info["runtime"] = {"device": str(device), "bf16": bf16}
    run = _Run(config, data, folds, out, device, run_info, resume, cancel, bf16=bf16)
    for f in folds:
        if n_batches(len(run.indices(f.fit, f.train_source)), config.batch_size) == 0:
            raise MerError(f"fold {f.index} (test {', '.join(f.test)}): fewer than 2 "
                           "training samples")
    fold_steps = sum(n_batches(len(run.indices(f.fit, f.train_source)), config.batch_size)
                     for f in folds)
    # the final model: every subject, the folds' training samples (all, or the macro ones)
    everyone = Fold(len(folds), (), tuple(sorted(set(data.subjects))),
                    train_source=folds[0].train_source)
    final_steps = n_batches(len(run.indices(everyone.fit, everyone.train_source)),
                            config.batch_size)
    run.total = fold_steps * config.epochs
    if config.final_model:
        run.total += final_steps * config.epochs
    _prepare_out_dir(out, run_info, folds, resume)
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
            epochs = config.epochs
            if config.inner_val:
                epochs = max(1, int(round(np.median([o.best_epoch for o in outcomes]))))
                run.total = fold_steps * config.epochs + final_steps * epochs
            final = yield from _train_fold(run, everyone, out / "checkpoints" / "final.pt",
                                           out / "model.pt", epochs)
            if final is None:
                return
    metrics = write_run_results(out, config, folds, data, outcomes, final is not None)
    preds = tuple(p for o in outcomes for p in o.predictions)
    yield run.progress(f"UF1 {metrics.uf1 * 100:.2f}%  UAR {metrics.uar * 100:.2f}%",
                       TrainUpdate("done", len(folds), len(folds), predictions=preds,
                                   metrics=metrics))


def _empty_history() -> dict:
    return {"loss": [], "train_accuracy": [], "train_uf1": [], "val_uf1": []}


def _train_fold(run: _Run, fold: Fold, work_path: Path, done_path: Path, n_epochs: int):
    """Train one fold (or the final model) with resume; returns an FoldOutcome, or None if cancelled."""
    import torch
    import torch.nn.functional as F

    cfg, data = run.config, run.data
    final = not fold.test
    fit_idx = run.indices(fold.fit, fold.train_source)
    val_idx = run.indices(fold.inner_val, fold.train_source)
    test_idx = run.indices(fold.test, fold.test_source)
    n_steps = n_batches(len(fit_idx), cfg.batch_size)
    n_folds = len(run.folds)
    who = "final model (all subjects)" if final else \
        f"fold {fold.index + 1}/{n_folds} ({', '.join(fold.test)})"
    fold_info = {"fold": fold.index, "test": list(fold.test), "train": list(fold.train),
                 "inner_val": list(fold.inner_val), "fingerprint": run.run_info["data"]["fingerprint"]}

    _seed_everything(seed_for(cfg.seed, _INIT, fold.index))
    model = build_network(cfg.model, len(data.classes), data.x.shape[2], cfg.network_options)
    model = model.to(run.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.effective_lr_step,
                                            gamma=cfg.lr_gamma)
    history, start, best = _empty_history(), 0, None  # best: (val_uf1, epoch, state)

    if run.resume:
        for path in dict.fromkeys([done_path, work_path]):
            if not path.exists():
                continue
            ck = load_checkpoint(path)
            extra = ck.extra or {}
            same_config = {k: v for k, v in ck.config.items() if k not in _RESUME_FREE} == \
                {k: v for k, v in cfg.to_dict().items() if k not in _RESUME_FREE}
            if {k: extra.get(k) for k in fold_info} != fold_info or not same_config:
                raise MerError(f"{path}: cannot resume, it was made with other settings, "
                               "folds or data")
            if extra.get("complete"):
                preds = tuple(Prediction(**{**p, "probabilities": tuple(p["probabilities"])})
                              for p in extra.get("predictions", []))
                run.done += n_steps * len(extra["history"]["loss"])
                yield run.progress(f"{who}: read back from {path.name}",
                                   TrainUpdate("fold", fold.index, n_folds,
                                               test_subjects=fold.test, predictions=preds,
                                               final_model=final, resumed=True))
                return FoldOutcome(extra["history"], preds, int(extra["best_epoch"]))
            model.load_state_dict(ck.model_state)
            opt.load_state_dict(ck.optimizer_state)
            sched.load_state_dict(extra["scheduler"])
            history, start = extra["history"], ck.epoch
            if extra.get("best_state") is not None:
                best = (extra["best_uf1"], extra["best_epoch"], extra["best_state"])
            run.done += n_steps * start
            break

    autocast = dict(device_type=run.device.type, dtype=torch.bfloat16, enabled=run.bf16)
    # Evaluation (BatchNorm statistics, validation, test) in float32: a few forward passes,
    # and the tested predictions are then exactly what `mer classify` gives for the
    # checkpoint (bf16 flipped near-ties between classes).
    evaluation = dict(autocast, enabled=False)
    classes = data.classes
    weights = None
    if cfg.class_weights == "balanced":
        weights = torch.from_numpy(balanced_weights(data.y[fit_idx], len(classes))).to(run.device)
    for epoch in range(start, n_epochs):
        rng = _seed_everything(seed_for(cfg.seed, _EPOCH, fold.index, epoch))
        model.train()
        batches = batch_indices(fit_idx, cfg.batch_size, rng)
        loss_sum, seen, trues, preds_ = 0.0, 0, [], []
        for s, b in enumerate(batches):
            if run.cancel is not None and run.cancel.is_set():
                yield run.progress("cancelled", TrainUpdate("cancelled", fold.index, n_folds,
                                                            epoch + 1, n_epochs, s, n_steps,
                                                            final_model=final))
                return None
            xb = augment(data.x[b], cfg.augment, rng, rotate_deg=cfg.rotate_deg,
                         scale_range=cfg.scale_range, jitter_std=cfg.jitter_std)
            xb_t = torch.from_numpy(xb).to(run.device)
            yb = torch.from_numpy(data.y[b]).to(run.device)
            with torch.autocast(**autocast):
                logits = model(xb_t)
            loss = F.cross_entropy(logits.float(), yb, weight=weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_value = loss.item()
            loss_sum += loss_value * len(b)
            seen += len(b)
            trues += [classes[i] for i in data.y[b]]
            preds_ += [classes[i] for i in logits.argmax(1).tolist()]
            running = evaluate(trues, preds_, classes)
            run.done += 1
            yield run.progress(
                f"{who} epoch {epoch + 1}/{n_epochs} step {s + 1}/{n_steps} loss {loss_value:.4f}",
                TrainUpdate("step", fold.index, n_folds, epoch + 1, n_epochs, s + 1, n_steps,
                            loss_value, running.accuracy, running.uf1, final_model=final))
        sched.step()
        history["loss"].append(loss_sum / max(seen, 1))
        history["train_accuracy"].append(running.accuracy)
        history["train_uf1"].append(running.uf1)
        val_uf1 = None
        if len(val_idx):
            if cfg.precise_bn:
                recompute_bn_statistics(model, data.x, fit_idx, cfg.batch_size, evaluation)
            _, val_pred = _predict(model, data.x, val_idx, cfg.batch_size, evaluation,
                                   cfg.test_time_flip)
            val_uf1 = evaluate([classes[i] for i in data.y[val_idx]],
                               [classes[i] for i in val_pred.argmax(1)], classes).uf1
            history["val_uf1"].append(val_uf1)
            if best is None or val_uf1 > best[0]:  # ties keep the earlier epoch
                best = (val_uf1, epoch + 1, {k: v.detach().cpu().clone()
                                             for k, v in model.state_dict().items()})
        extra = {**fold_info, "complete": False, "history": history,
                 "scheduler": sched.state_dict(),
                 "best_uf1": best[0] if best else None, "best_epoch": best[1] if best else None,
                 "best_state": best[2] if best else None}
        save_checkpoint(work_path, model, opt, cfg, classes, run.run_info["preprocessing"],
                        epoch + 1, extra, model_options=cfg.network_options,
                        in_channels=data.x.shape[2])
        yield run.progress(
            f"{who} epoch {epoch + 1}/{n_epochs} loss {history['loss'][-1]:.4f} train UF1 "
            f"{running.uf1 * 100:.1f}%" + (f" val UF1 {val_uf1 * 100:.1f}%" if val_uf1 is not None
                                           else ""),
            TrainUpdate("epoch", fold.index, n_folds, epoch + 1, n_epochs, n_steps, n_steps,
                        history["loss"][-1], running.accuracy, running.uf1, val_uf1,
                        final_model=final))

    best_epoch = n_epochs
    if best is not None:
        model.load_state_dict(best[2])  # its statistics were made precise before validation
        best_epoch = int(best[1])
    elif cfg.precise_bn:
        recompute_bn_statistics(model, data.x, fit_idx, cfg.batch_size, evaluation)
    predictions: tuple[Prediction, ...] = ()
    if len(test_idx):
        _, probs = _predict(model, data.x, test_idx, cfg.batch_size, evaluation,
                            cfg.test_time_flip)
        predictions = tuple(
            Prediction(str(data.sample_ids[i]), str(data.subjects[i]), str(data.clips[i]),
                       fold.index, classes[data.y[i]], classes[int(p.argmax())],
                       tuple(float(v) for v in p))
            for i, p in zip(test_idx, probs))
    extra = {**fold_info, "complete": True, "history": history, "best_epoch": best_epoch,
             "predictions": [p.__dict__ for p in predictions]}
    save_checkpoint(done_path, model, None, cfg, classes, run.run_info["preprocessing"],
                    best_epoch, extra, model_options=cfg.network_options,
                    in_channels=data.x.shape[2])
    if work_path != done_path:
        work_path.unlink(missing_ok=True)
    yield run.progress(f"{who} done", TrainUpdate("fold", fold.index, n_folds, best_epoch,
                                                  n_epochs, test_subjects=fold.test,
                                                  predictions=predictions, final_model=final))
    return FoldOutcome(history, predictions, best_epoch)


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
