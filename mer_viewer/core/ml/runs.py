"""Finished runs read back: a run folder, a `mer experiment` folder or a batch CSV, and comparisons.

Qt-free: the results browser shows these tables; tests check them against the files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FileError
from .batch import BATCH_COLUMNS
from .metrics import evaluate

#: Columns of ``RunResults.predictions`` before the per-class probabilities ``p_<class>``.
PREDICTION_COLUMNS = ("sample", "subject", "fold", "true", "pred", "correct", "confidence")
#: config.json keys that do not change what a setting is (seeds of one setting differ only here).
_NOT_SETTING = {"seed", "device", "runtime", "bf16", "final_model"}


@dataclass(frozen=True, eq=False)
class RunResults:
    """One set of pooled test predictions with what made them.

    ``kind``: ``run`` (a `mer train` folder) or ``batch`` (a `mer classify --all` CSV).
    ``predictions``: one row per sample, columns PREDICTION_COLUMNS then ``p_<class>``
    (``true`` is None for a sample outside the task, ``fold`` -1 in a batch).
    """

    path: Path
    kind: str
    classes: tuple[str, ...]
    predictions: pd.DataFrame
    metrics: dict
    config: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    folds: list = field(default_factory=list)
    checkpoint: Path | None = None  # the batch's checkpoint (runs: one per fold)

    @property
    def name(self) -> str:
        """``pointnet sort 2048 seed 0`` (a batch: its file name)."""
        c = self.config
        if self.kind != "run" or not c:
            return self.path.name
        return f"{c.get('model', '?')} {c.get('sampling', '?')} {c.get('points', '?')} " \
               f"seed {c.get('seed', '?')}"

    @property
    def setting(self) -> str:
        """What the run is apart from its seed (runs of one setting differ only in seeds)."""
        if self.kind != "run":
            return self.name
        c = self.config
        return f"{c.get('model', '?')} {c.get('sampling', '?')} {c.get('points', '?')}"

    def setting_key(self) -> str:
        config = {k: v for k, v in self.config.items() if k not in _NOT_SETTING}
        pre = json.loads(json.dumps(config.get("preprocessing", {})))
        pre.get("sampling", {}).pop("seed", None)
        config["preprocessing"] = pre
        # the data's fingerprint hashes the sampled points, which random sampling draws by seed
        config["data"] = {k: v for k, v in (config.get("data") or {}).items()
                          if k != "fingerprint"}
        return json.dumps(config, sort_keys=True) if self.kind == "run" else str(self.path)

    def checkpoint_for(self, sample_id: str) -> Path | None:
        """The checkpoint that made this sample's prediction: its fold's (trained without
        the sample's subject) in a run, the batch's checkpoint in a batch; None if gone."""
        if self.kind == "batch":
            return self.checkpoint if self.checkpoint and self.checkpoint.is_file() else None
        rows = self.predictions[self.predictions["sample"] == sample_id]
        if rows.empty:
            return None
        path = self.path / "checkpoints" / f"fold_{int(rows['fold'].iloc[0])}.pt"
        return path if path.is_file() else None


def _read_json(path: Path, default=None):
    if not path.is_file():
        if default is not None:
            return default
        raise FileError(path, "missing (not a finished run?)")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FileError(path, f"unreadable ({exc})") from None


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"subject": str, "clip": str, "label": str, "true": str,
                                        "pred": str, "predicted": str},
                           keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise FileError(path, f"unreadable CSV ({exc})") from None


def _finish(table: pd.DataFrame, classes: Sequence[str], path: Path) -> pd.DataFrame:
    probs = [f"p_{c}" for c in classes]
    missing = [c for c in ("sample", "subject", "fold", "true", "pred", *probs)
               if c not in table.columns]
    if missing:
        raise FileError(path, f"no column {', '.join(missing)}")
    table = table.copy()
    table["true"] = table["true"].where(table["true"] != "", None)
    table["correct"] = table["true"] == table["pred"]
    values = table[probs].to_numpy(dtype=float) if probs else np.zeros((len(table), 0))
    pred_index = [list(classes).index(p) if p in classes else -1 for p in table["pred"]]
    table["confidence"] = [values[i, k] if k >= 0 else np.nan for i, k in enumerate(pred_index)]
    return table[list(PREDICTION_COLUMNS) + probs].reset_index(drop=True)


def load_run(folder: Path | str) -> RunResults:
    """A finished `mer train` folder (``metrics.json`` marks it finished); FileError naming
    the file that is missing or unreadable."""
    folder = Path(folder)
    metrics = _read_json(folder / "metrics.json")
    try:
        classes = tuple(str(c) for c in metrics["classes"])
    except (KeyError, TypeError):
        raise FileError(folder / "metrics.json", "no list of classes") from None
    raw = _read_csv(folder / "predictions.csv").rename(columns={"clip": "sample"})
    table = _finish(raw, classes, folder / "predictions.csv")
    return RunResults(folder, "run", classes, table, metrics,
                      _read_json(folder / "config.json", {}),
                      _read_json(folder / "history.json", []),
                      _read_json(folder / "folds.json", []))


def load_batch(path: Path | str, checkpoint: Path | str | None = None) -> RunResults:
    """A `mer classify --all` CSV; metrics over its labelled rows. ``checkpoint``: the one
    that made it (default: the one its ``.csv.json`` names, if unchanged; else None, with
    why in ``config["checkpoint_note"]``). ``config``: the ``.csv.json``."""
    from .batch import recorded_checkpoint

    path = Path(path)
    raw = _read_csv(path)
    missing = [c for c in BATCH_COLUMNS if c not in raw.columns]
    if missing:
        raise FileError(path, f"not a batch classification CSV (no column {', '.join(missing)})")
    classes = tuple(c for c in raw.columns if c not in BATCH_COLUMNS)
    table = raw.rename(columns={"label": "true", "predicted": "pred",
                                **{c: f"p_{c}" for c in classes}})
    table["sample"] = [f"{s}_{c}_{o}" for s, c, o in zip(raw["subject"], raw["clip"],
                                                         raw["onset"])]
    table["fold"] = -1
    table = _finish(table, classes, path)
    labelled = table[table["true"].notna()]
    metrics = evaluate(list(labelled["true"]), list(labelled["pred"]), classes).to_dict()
    metrics["n_samples"] = int(len(labelled))
    recorded, config, why = recorded_checkpoint(path)  # config: what made the CSV
    if checkpoint is None:
        checkpoint = recorded
        if recorded is None:
            config = {**config, "checkpoint_note": why + "; clicks use the panel's model"}
    return RunResults(path, "batch", classes, table, metrics, config,
                      checkpoint=Path(checkpoint) if checkpoint else None)


@dataclass(frozen=True, eq=False)
class Experiment:
    """A `mer experiment` folder: its ``results.json`` rows and their run folders."""

    path: Path
    rows: tuple[dict, ...]

    def run_dirs(self) -> list[Path]:
        return [self.path / f"{r['model']}-{r['sampling']}-{r['points']}" / f"seed{r['seed']}"
                for r in self.rows]

    def runs(self) -> list[RunResults]:
        return [load_run(d) for d in self.run_dirs()]


def load_experiment(folder: Path | str) -> Experiment:
    folder = Path(folder)
    rows = _read_json(folder / "results.json")
    if not isinstance(rows, list) or not all(
            isinstance(r, dict) and {"model", "sampling", "points", "seed"} <= set(r)
            for r in rows):
        raise FileError(folder / "results.json", "not the results of `mer experiment`")
    return Experiment(folder, tuple(rows))


def open_results(path: Path | str) -> RunResults | Experiment:
    """Whatever ``path`` is: a run folder, an experiment folder or a batch CSV."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileError(path, "no such file or folder")
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return load_batch(path)
        raise FileError(path, "not a run folder, an experiment folder or a batch CSV")
    if (path / "results.json").is_file():
        return load_experiment(path)
    if not (path / "metrics.json").is_file():
        raise FileError(path, "not a finished run (no metrics.json) nor an experiment "
                              "(no results.json)")
    return load_run(path)


# --- comparison ------------------------------------------------------------------------------

def metrics_table(runs: Sequence[RunResults]) -> pd.DataFrame:
    """One row per run: name, setting, seed, UF1, UAR, accuracy, n and F1 per class."""
    rows = []
    for run in runs:
        m = run.metrics
        row = {"run": run.name, "setting": run.setting, "seed": run.config.get("seed"),
               "uf1": m.get("uf1"), "uar": m.get("uar"), "accuracy": m.get("accuracy"),
               "n": m.get("n_samples")}
        for c, scores in (m.get("per_class") or {}).items():
            row[f"f1 {c}"] = scores.get("f1")
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table(runs: Sequence[RunResults]) -> pd.DataFrame:
    """One row per setting (runs that differ only in their seed): UF1 and UAR mean and
    standard deviation over the seeds (ddof 0, as ``results.md``), and the seeds."""
    groups: dict[str, list[RunResults]] = {}
    for run in runs:
        groups.setdefault(run.setting_key(), []).append(run)
    names = [g[0].setting for g in groups.values()]
    rows = []
    for group, name in zip(groups.values(), names):
        uf1 = np.array([r.metrics["uf1"] for r in group], float)
        uar = np.array([r.metrics["uar"] for r in group], float)
        label = name if names.count(name) == 1 else f"{name} ({group[0].path.parent.name})"
        rows.append({"setting": label, "uf1_mean": uf1.mean(), "uf1_std": uf1.std(),
                     "uar_mean": uar.mean(), "uar_std": uar.std(), "runs": len(group),
                     "seeds": ", ".join(str(r.config.get("seed", "?")) for r in group)})
    return pd.DataFrame(rows)


def disagreement(a: RunResults, b: RunResults) -> pd.DataFrame:
    """The samples both runs predicted but differently: sample, subject, true, ``pred_a``,
    ``pred_b``, ``correct_a``, ``correct_b`` (in ``a``'s order)."""
    left = a.predictions[["sample", "subject", "true", "pred"]]
    right = b.predictions[["sample", "pred"]]
    both = left.merge(right, on="sample", suffixes=("_a", "_b"))
    diff = both[both["pred_a"] != both["pred_b"]].copy()
    diff["correct_a"] = diff["true"] == diff["pred_a"]
    diff["correct_b"] = diff["true"] == diff["pred_b"]
    return diff.reset_index(drop=True)


def filter_predictions(table: pd.DataFrame, wrong_only: bool = False, true: str = "",
                       predicted: str = "", subject: str = "") -> pd.DataFrame:
    """Rows of a predictions table: wrong ones only, of one annotated / predicted class,
    of one subject (empty: any)."""
    keep = np.ones(len(table), bool)
    if wrong_only:
        keep &= table["true"].notna().to_numpy() & ~table["correct"].to_numpy(bool)
    if true:
        keep &= (table["true"] == true).to_numpy()
    if predicted:
        keep &= (table["pred"] == predicted).to_numpy()
    if subject:
        keep &= (table["subject"] == subject).to_numpy()
    return table[keep]
