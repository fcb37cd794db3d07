"""Runs read back for the results browser: predictions, per-sample checkpoints, comparisons."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from mer_viewer.core.errors import FileError
from mer_viewer.core.ml.batch import BatchResult, BatchRow, write_batch_csv
from mer_viewer.core.ml.config import TrainConfig
from mer_viewer.core.ml.experiment import RunScore, Setting, markdown_table
from mer_viewer.core.ml.runs import (
    disagreement,
    filter_predictions,
    load_run,
    metrics_table,
    open_results,
    summary_table,
)
from mer_viewer.core.ml.train import run_training

from .conftest import make_items, tiny_build

FAST = dict(epochs=2, batch_size=4, points=32)


def _train(out: Path, **config) -> Path:
    # build_items names each item's clip by its sample id (unique), as here
    items = [replace(i, clip=i.sample_id) for i in make_items()]
    for _ in run_training(TrainConfig(**{**FAST, **config}), items, out):
        pass
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two settings (labelled sort and random) with two seeds each, tiny network (trained
    once for the module; tests that change a run copy it first)."""
    import sys
    import types

    import torch

    import mer_viewer.core.ml as ml

    module = types.ModuleType("mer_viewer.core.ml.models")
    module.build = tiny_build
    root = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setitem(sys.modules, "mer_viewer.core.ml.models", module)
            mp.setattr(ml, "models", module, raising=False)
            return {(s, seed): _train(root / s / f"seed{seed}", sampling=s, seed=seed)
                    for s in ("sort", "random") for seed in (0, 1)}
    finally:
        torch.set_num_threads(threads)


def _csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_reads_back_as_its_files_say(runs):
    folder = runs["sort", 0]
    run = load_run(folder)
    rows = _csv_rows(folder / "predictions.csv")
    table = run.predictions
    assert list(table["sample"]) == [r["clip"] for r in rows]
    assert list(table["pred"]) == [r["pred"] for r in rows]
    for c in run.classes:
        assert np.allclose(table[f"p_{c}"], [float(r[f"p_{c}"]) for r in rows])
    assert list(table["correct"]) == [r["true"] == r["pred"] for r in rows]
    # the metrics shown are the pooled ones of these predictions (sklearn as reference)
    assert run.metrics["uf1"] == pytest.approx(f1_score(table["true"], table["pred"],
                                                        labels=list(run.classes),
                                                        average="macro", zero_division=0))
    assert run.name == "pointnet sort 32 seed 0" and run.setting == "pointnet sort 32"
    # every prediction leads to the checkpoint of the fold that tested it (never trained on it)
    folds = json.loads((folder / "folds.json").read_text())
    for r in rows:
        path = run.checkpoint_for(r["clip"])
        assert path == folder / "checkpoints" / f"fold_{r['fold']}.pt" and path.is_file()
        assert r["subject"] in folds[int(r["fold"])]["test"]
        assert r["subject"] not in folds[int(r["fold"])]["train"]


def test_filters(runs):
    table = load_run(runs["sort", 0]).predictions
    wrong = filter_predictions(table, wrong_only=True)
    assert len(wrong) == sum(t != p for t, p in zip(table["true"], table["pred"]))
    assert (wrong["true"] != wrong["pred"]).all()
    one = filter_predictions(table, true="positive", subject="spNO.2")
    assert set(one["true"]) <= {"positive"} and set(one["subject"]) <= {"spNO.2"}
    assert len(one) == sum((t == "positive") and (s == "spNO.2")
                           for t, s in zip(table["true"], table["subject"]))


def test_summary_over_seeds_matches_the_experiment_table(runs):
    loaded = [load_run(p) for p in runs.values()]
    summary = summary_table(loaded)
    assert list(summary["runs"]) == [2, 2] and list(summary["seeds"]) == ["0, 1", "0, 1"]
    scores = [RunScore(Setting("pointnet", s, 32), seed, r.metrics["uf1"], r.metrics["uar"])
              for (s, seed), r in zip(runs, loaded)]
    table = markdown_table(scores, "3")  # `mer experiment`'s own table, the reference
    for _, row in summary.iterrows():
        sampling = row["setting"].split()[1]
        assert (f"| {sampling} | 32 | {100 * row['uf1_mean']:.2f} ± {100 * row['uf1_std']:.2f} "
                f"| {100 * row['uar_mean']:.2f} ± {100 * row['uar_std']:.2f} | 2 |") in table
    per_run = metrics_table(loaded)
    assert list(per_run["uf1"]) == [r.metrics["uf1"] for r in loaded]


def test_disagreement_lists_exactly_the_samples_predicted_differently(runs):
    a, b = load_run(runs["sort", 0]), load_run(runs["random", 1])
    diff = disagreement(a, b)
    rows_a = {r["clip"]: r for r in _csv_rows(runs["sort", 0] / "predictions.csv")}
    rows_b = {r["clip"]: r for r in _csv_rows(runs["random", 1] / "predictions.csv")}
    expected = [k for k in rows_a if k in rows_b and rows_a[k]["pred"] != rows_b[k]["pred"]]
    assert expected, "the two runs should disagree somewhere"
    assert list(diff["sample"]) == expected
    for _, row in diff.iterrows():
        assert row["pred_a"] == rows_a[row["sample"]]["pred"]
        assert row["pred_b"] == rows_b[row["sample"]]["pred"]
        assert row["correct_a"] == (row["true"] == row["pred_a"])


def test_a_batch_csv_reads_back_with_metrics_of_its_labelled_rows(tmp_path):
    classes = ("negative", "positive", "surprise")
    probs = [(0.7, 0.2, 0.1), (0.1, 0.8, 0.1), (0.3, 0.3, 0.4), (0.2, 0.5, 0.3)]
    labels = ["negative", "surprise", None, "positive"]
    rows = tuple(BatchRow(f"spNO.1_{c}_{i}", "spNO.1", c, i, lab, classes[int(np.argmax(p))],
                          dict(zip(classes, p)))
                 for i, (c, lab, p) in enumerate(zip("abcd", labels, probs)))
    checkpoint = tmp_path / "m.pt"
    checkpoint.write_bytes(b"weights")
    path = write_batch_csv(tmp_path / "b.csv", BatchResult(checkpoint, classes, "3", rows,
                                                          (("spNO.2_e_1", "frame 5 broken"),)))
    run = open_results(path)
    assert run.kind == "batch" and run.classes == classes
    assert list(run.predictions["sample"]) == [r.sample_id for r in rows]
    assert run.predictions["true"].isna().tolist() == [False, False, True, False]
    truth = [lab for lab in labels if lab]
    preds = [r.predicted for r in rows if r.label]
    assert run.metrics["uar"] == pytest.approx(recall_score(truth, preds, labels=list(classes),
                                                            average="macro", zero_division=0))
    assert run.metrics["n_samples"] == 3
    assert len(filter_predictions(run.predictions, wrong_only=True)) == 1

    # what made it is kept beside it: a click reproduces a row with that checkpoint
    assert run.checkpoint == checkpoint.resolve()
    assert run.checkpoint_for(rows[0].sample_id) == checkpoint.resolve()
    assert run.config["classes"] == list(classes) and run.config["task"] == "3"
    assert run.config["failed"] == [{"sample": "spNO.2_e_1", "error": "frame 5 broken"}]
    checkpoint.write_bytes(b"other weights")  # retrained in place: not the model of the CSV
    run = open_results(path)
    assert run.checkpoint is None and run.checkpoint_for(rows[0].sample_id) is None
    assert "changed since it made the CSV" in run.config["checkpoint_note"]
    (tmp_path / "b.csv.json").unlink()
    run = open_results(path)
    assert run.checkpoint is None and "b.csv.json is missing" in run.config["checkpoint_note"]


def test_what_is_not_a_run_is_a_one_line_error_naming_the_file(tmp_path, runs):
    with pytest.raises(FileError, match="not a finished run"):
        open_results(tmp_path)
    broken = Path(shutil.copytree(runs["sort", 1], tmp_path / "copy"))
    (broken / "predictions.csv").unlink()
    with pytest.raises(FileError, match="predictions.csv"):
        open_results(broken)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(FileError, match="other.csv: not a batch classification CSV"):
        open_results(other)
