"""Macro→micro transfer (paper Table IV): fold plan, a tiny run end to end, the CLI's errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.errors import MerError
from mer_viewer.core.ml import train as train_module
from mer_viewer.core.ml.config import TrainConfig
from mer_viewer.core.ml.data import TrainItem, stack_items
from mer_viewer.core.ml.protocol import plan_folds
from mer_viewer.core.ml.train import run_training

from .conftest import make_items

OBJECTIVE = ("I", "II", "III", "IV", "V", "VI", "VII")
FAST = dict(epochs=2, batch_size=4, points=32, classes="objective", protocol="transfer")


def _label(s, j):
    return OBJECTIVE[(s + j) % 3]  # three objective classes, learnable from location


def _transfer_items(n_micro=4, n_macro=5):
    """Subjects 1..4 with micro-expressions, 1..5 with macro-expressions (subject 5: macro only)."""
    micro = make_items(n_micro, 4, classes=OBJECTIVE, labels_for=_label, seed=1)
    macro = [TrainItem(f"mae:{it.sample_id}", it.subject, it.clip, it.label, it.features * 1.5,
                       source="mae")
             for it in make_items(n_macro, 5, classes=OBJECTIVE, labels_for=_label, seed=2)]
    return micro + macro


def test_transfer_plan_never_tests_macro_nor_trains_on_the_test_subject():
    subjects = ["spNO.1", "spNO.2", "spNO.10", "spNO.2", "spNO.1", "spNO.7", "spNO.10"]
    sources = ["me", "me", "me", "mae", "mae", "mae", "mae"]
    folds = plan_folds(subjects, "transfer", 0, sources=sources, inner_val=0.5)
    assert [f.test for f in folds] == [("spNO.1",), ("spNO.2",), ("spNO.10",)]  # ME subjects
    for f in folds:
        assert f.test[0] not in f.train and set(f.inner_val) <= set(f.train)
        assert set(f.train) <= {"spNO.1", "spNO.2", "spNO.7", "spNO.10"} - set(f.test)
        assert (f.train_source, f.test_source) == ("mae", "me")
        assert f.to_dict()["train_source"] == "mae" and f.to_dict()["test_source"] == "me"
    assert folds[0].train == ("spNO.2", "spNO.7", "spNO.10")
    with pytest.raises(MerError, match="macro-expression"):
        plan_folds(subjects[:3], "transfer", 0, sources=sources[:3])
    with pytest.raises(MerError, match="micro-expression"):
        plan_folds(subjects[3:], "transfer", 0, sources=sources[3:])
    with pytest.raises(MerError, match="no other subject"):
        plan_folds(["spNO.1", "spNO.1"], "transfer", 0, sources=["me", "mae"])


def test_training_rows_are_macro_of_other_subjects_and_test_rows_micro(tmp_path, fake_models,
                                                                       monkeypatch):
    items = _transfer_items()
    data = stack_items(items, OBJECTIVE)
    trained_on: list[set] = []
    real_batches = train_module.batch_indices

    def recording(indices, batch_size, rng):
        trained_on.append({(data.subjects[i], data.sources[i]) for i in indices})
        return real_batches(indices, batch_size, rng)

    monkeypatch.setattr(train_module, "batch_indices", recording)
    records = list(run_training(TrainConfig(**{**FAST, "epochs": 1}), items, tmp_path))
    folds = json.loads((tmp_path / "folds.json").read_text())
    assert len(folds) == len(trained_on) == 4  # one epoch a fold
    for fold, rows in zip(folds, trained_on):
        assert {source for _, source in rows} == {"mae"}
        assert {subject for subject, _ in rows} == set(fold["train"])
        assert fold["test"][0] not in fold["train"]
    predictions = [p for r in records if r.result.phase == "done" for p in r.result.predictions]
    micro_ids = {it.sample_id for it in items if it.source == "me"}
    assert {p.sample_id for p in predictions} == micro_ids  # every ME sample, no macro one
    assert all(folds[p.fold]["test"] == [p.subject] for p in predictions)


def test_tiny_transfer_run_end_to_end_with_resume(tmp_path, fake_models):
    items = _transfer_items()
    config = TrainConfig(**FAST, final_model=True)
    records = list(run_training(config, items, tmp_path / "a"))
    assert records[-1].step == records[-1].total and records[-1].result.phase == "done"
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    preds = pd.read_csv(tmp_path / "a" / "predictions.csv")
    assert metrics["protocol"] == "transfer" and metrics["task"] == "objective"
    assert metrics["n_samples"] == len(preds) == 16 and metrics["n_folds"] == 4
    assert metrics["classes"] == ["I", "II", "III"]
    assert set(zip(preds["subject"], preds["clip"])) == \
        {(it.subject, it.clip) for it in items if it.source == "me"}
    folds = json.loads((tmp_path / "a" / "folds.json").read_text())
    assert all(f["train_source"] == "mae" and f["test_source"] == "me" for f in folds)
    assert (tmp_path / "a" / "model.pt").exists()

    # stopped in the third fold, then resumed: the same predictions
    gen = run_training(config, items, tmp_path / "b")
    for record in gen:
        if record.result.phase == "step" and record.result.fold == 2:
            break
    gen.close()
    resumed = list(run_training(config, items, tmp_path / "b", resume=True))
    assert [r.result.resumed for r in resumed if r.result.phase == "fold"] == \
        [True, True, False, False, False]
    assert (tmp_path / "b" / "predictions.csv").read_text() == \
        (tmp_path / "a" / "predictions.csv").read_text()


def test_transfer_needs_objective_classes_and_both_sheets(tmp_path, fake_models):
    with pytest.raises(MerError, match="objective"):
        TrainConfig(protocol="transfer", classes="3")
    micro_only = [it for it in _transfer_items() if it.source == "me"]
    with pytest.raises(MerError, match="macro-expression"):
        next(run_training(TrainConfig(**FAST), micro_only, tmp_path))


def test_fingerprint_tells_the_sheets_apart():
    items = _transfer_items(2, 2)
    flipped = [TrainItem(it.sample_id, it.subject, it.clip, it.label, it.features,
                         "me" if it.source == "mae" else "mae") for it in items]
    assert stack_items(items, OBJECTIVE).fingerprint() != stack_items(flipped, OBJECTIVE).fingerprint()
    micro = [it for it in items if it.source == "me"]
    assert np.array_equal(stack_items(micro, OBJECTIVE).sources, ["me"] * len(micro))


def test_cli_errors_are_one_line(demo_corpus, tmp_path, capsys):
    code = main(["train", str(demo_corpus), "--out", str(tmp_path / "r"),
                 "--protocol", "transfer", "--classes", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "--classes objective" in err and err.count("\n") == 1
    empty = tmp_path / "no_macro"
    empty.mkdir()
    code = main(["train", str(empty), "--out", str(tmp_path / "r"),
                 "--protocol", "transfer", "--classes", "objective"])
    err = capsys.readouterr().err
    assert code == 2 and "macro-expression sheet" in err and err.count("\n") == 1


def test_cli_transfer_on_the_demo_corpus(demo_corpus, tmp_path, capsys, fake_models):
    run = tmp_path / "run"
    code = main(["train", str(demo_corpus), "--out", str(run), "--protocol", "transfer",
                 "--classes", "objective", "--epochs", "1", "--points", "64", "--workers", "1",
                 "--json"])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["protocol"] == "transfer"
    folds = json.loads((run / "folds.json").read_text())
    subjects = sorted({f["test"][0] for f in folds})
    assert len(folds) == 2 and all(f["train"] == [s for s in subjects if s != f["test"][0]]
                                   for f in folds)
    predictions = pd.read_csv(run / "predictions.csv")
    micro = {s.id for s in Dataset.open(demo_corpus).samples if s.label("objective")}
    assert metrics["n_samples"] == len(predictions) == len(micro)
    assert set(predictions["clip"]) == micro  # the micro-expressions, each tested once
