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


def test_ctrl_c_exits_130_with_whole_files_and_resume_gives_the_same_predictions(
        demo_corpus, tmp_path, capsys):
    """Ctrl-C (SIGINT) in the middle of `mer train`: exit 130, one line, no temporary or torn
    file (every checkpoint loads and matches its checksum); `--resume` then ends with the
    predictions of an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from mer_viewer.core.ml.checkpoint import load_checkpoint

    args = ["train", str(demo_corpus), "--model", "pointnet", "--epochs", "20", "--points",
            "256", "--workers", "1", "--augment"]
    whole = tmp_path / "whole"
    assert main(args + ["--out", str(whole)]) == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for attempt in range(3):  # on a busy machine the run may end before the signal lands
        run = tmp_path / f"run{attempt}"
        child = subprocess.Popen([sys.executable, "-m", "mer_viewer.cli", *args, "--out",
                                  str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env)
        deadline = time.monotonic() + 300
        while not (run / "checkpoints" / "fold_0.pt").exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
        if not (child.returncode == 0 and (run / "metrics.json").exists()):
            break
    assert child.returncode == 130
    assert err.decode().strip().splitlines()[-1] == "mer train: interrupted"
    assert not (run / "metrics.json").exists()
    assert not [p for p in run.rglob("*") if p.name.startswith(".tmp-")]
    checkpoints = list((run / "checkpoints").glob("*.pt"))
    assert checkpoints and all(load_checkpoint(p).verified for p in checkpoints)
    capsys.readouterr()
    assert main(args + ["--out", str(run), "--resume"]) == 0
    assert (run / "predictions.csv").read_text() == (whole / "predictions.csv").read_text()
