"""`mer classify --all`: every sample, the same probabilities as `mer classify` of one clip."""

from __future__ import annotations

import csv
import json

import pytest

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset
from tests.gui_helpers import damage_frames

pytest.importorskip("torch")


def _one_clip(capsys, root, sample, checkpoint=()):
    clip = sample.id.split("_", 1)[1]
    assert main(["classify", *checkpoint, str(root), sample.subject, clip, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_classify_all_equals_classifying_each_clip(demo_corpus, tmp_path, capsys):
    out = tmp_path / "all.csv"
    assert main(["classify", str(demo_corpus), "--all", "--out", str(out), "--workers", "1",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    samples = Dataset.open(demo_corpus).samples
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    classes = summary["classes"]
    from mer_viewer.core.ml.classify import bundled_checkpoint

    about = json.loads((tmp_path / "all.csv.json").read_text())  # what made the CSV
    assert about["checkpoint"] == str(bundled_checkpoint("3").resolve())
    assert about["classes"] == classes and about["failed"] == []
    assert list(rows[0]) == ["subject", "clip", "onset", "label", "predicted", *classes]
    assert [(r["subject"], r["clip"], int(r["onset"])) for r in rows] == \
        [(s.subject, s.clip, s.onset) for s in samples]  # every sample, none left out
    assert summary["failed"] == [] and len(summary["samples"]) == len(samples)
    for sample, row, listed in zip(samples, rows, summary["samples"]):
        single = _one_clip(capsys, demo_corpus, sample)
        assert {c: float(row[c]) for c in classes} == single["probabilities"]  # exactly
        assert listed["probabilities"] == single["probabilities"]
        assert row["predicted"] == single["predicted"]
        assert (row["label"] or None) == single["true"] == sample.label("3")


def test_classify_all_reports_a_broken_clip_and_goes_on(demo_copy, tmp_path, capsys):
    samples = Dataset.open(demo_copy).samples
    broken = samples[1]
    damage_frames(broken, color=(broken.apex,))
    out = tmp_path / "all.csv"
    assert main(["classify", str(demo_copy), "--all", "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert f"skipping {broken.id}" in captured.err and str(out) in captured.out
    with out.open(newline="") as f:
        clips = [(r["subject"], r["clip"], int(r["onset"])) for r in csv.DictReader(f)]
    assert clips == [(s.subject, s.clip, s.onset) for s in samples if s is not broken]


@pytest.mark.parametrize("args, problem", [
    (["--all"], "--all needs --out"),
    (["SUBJ", "CLIP", "--all", "--out", "x.csv"], "expected [CHECKPOINT] ROOT with --all"),
])
def test_classify_all_usage_errors(demo_corpus, capsys, args, problem):
    assert main(["classify", str(demo_corpus), *args]) == 2
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1
