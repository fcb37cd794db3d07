"""`mer train` and `mer classify` end to end on the tiny demo corpus (a real PointNet, 1 epoch)."""

from __future__ import annotations

import json

import pandas as pd
from sklearn.metrics import f1_score, recall_score

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset


def test_train_then_classify(demo_corpus, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", str(demo_corpus), "--out", str(run), "--model", "pointnet",
                 "--classes", "3", "--epochs", "1", "--points", "256", "--final-model",
                 "--workers", "1", "--motion-encoding", "color", "--no-test-time-flip",
                 "--json"])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    predictions = pd.read_csv(run / "predictions.csv")
    classes = metrics["classes"]
    assert metrics["uf1"] == f1_score(predictions["true"], predictions["pred"], labels=classes,
                                      average="macro", zero_division=0)
    assert metrics["uar"] == recall_score(predictions["true"], predictions["pred"], labels=classes,
                                          average="macro", zero_division=0)
    folds = json.loads((run / "folds.json").read_text())
    for fold in folds:
        assert not set(fold["test"]) & set(fold["train"])
    assert {s for f in folds for s in f["test"]} == set(predictions["subject"])
    config = json.loads((run / "config.json").read_text())
    assert config["preprocessing"]["sampling"]["points"] == 256
    assert config["motion_encoding"] == "color" and config["test_time_flip"] is False

    sample = Dataset.open(demo_corpus).samples[0]
    clip = sample.id.split("_", 1)[1]
    assert main(["classify", str(run / "model.pt"), str(demo_corpus), sample.subject, clip,
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"predicted", "probabilities", "true"}
    assert set(result["probabilities"]) == set(classes)
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-5
    assert result["predicted"] == max(result["probabilities"], key=result["probabilities"].get)
    assert result["true"] == sample.label("3")


def test_classify_rejects_a_file_that_is_not_a_checkpoint(demo_corpus, tmp_path, capsys):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a checkpoint")
    sample = Dataset.open(demo_corpus).samples[0]
    code = main(["classify", str(bogus), str(demo_corpus), sample.subject,
                 sample.id.split("_", 1)[1]])
    err = capsys.readouterr().err
    assert code == 1 and "model.pt" in err and err.count("\n") == 1
