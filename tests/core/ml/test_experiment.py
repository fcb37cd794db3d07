"""`mer experiment` writes the ablation table from real LOSO runs."""

from __future__ import annotations

import json

import numpy as np

from mer_viewer.cli import main


def test_experiment_table_matches_its_runs(demo_corpus, tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["experiment", str(demo_corpus), "--out", str(out), "--models", "pointnet",
                 "--points", "2048", "--seeds", "2", "--epochs", "1", "--workers", "1",
                 "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert {(s["sampling"], s["seed"]) for s in scores} == {("sort", 0), ("sort", 1)}
    for s in scores:
        run = out / f"pointnet-sort-2048/seed{s['seed']}"
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["uf1"] == s["uf1"]
        assert json.loads((run / "config.json").read_text())["protocol"] == "loso"
    table = (out / "results.md").read_text()
    uf1 = 100 * np.array([s["uf1"] for s in scores])
    assert f"| pointnet | sort | 2048 | {uf1.mean():.2f} ± {uf1.std():.2f} |" in table


def test_paper_settings_ablate_the_chosen_model():
    from mer_viewer.core.ml.experiment import PAPER_SETTINGS, Setting, paper_settings

    assert PAPER_SETTINGS[:4] == (Setting("pointnet2", "sort", 2048),
                                  Setting("pointnet2", "random", 2048),
                                  Setting("pointnet2", "sort", 1024),
                                  Setting("pointnet2", "sort", 4096))
    rows = paper_settings("pointnet")
    assert {(s.sampling, s.points) for s in rows if s.model == "pointnet"} == \
        {("sort", 2048), ("random", 2048), ("sort", 1024), ("sort", 4096)}
    assert {s.model for s in rows if (s.sampling, s.points) == ("sort", 2048)} == \
        {"pointnet", "pointnet2", "dgcnn"}
    assert len(rows) == len(set(rows)) == 6
