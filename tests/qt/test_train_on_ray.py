"""The Train panel's cluster address: every fold a Ray task, followed by the same progress."""

from __future__ import annotations

import json

import pytest

from tests.gui_helpers import clip_spec, make_window, open_and_wait

pytest.importorskip("torch")


def test_training_on_a_local_ray_follows_its_progress(qtbot, ray_local, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    panel = window.train_panel
    panel.model.setCurrentText("pointnet")
    panel.epochs.setValue(1)
    panel.points.setCurrentText("1024")
    panel.device.setCurrentText("cpu")
    panel.protocol.setCurrentText("loso")
    panel.cluster.setText("local")
    out = tmp_path / "run"
    panel.out.setText(str(out))
    updates = []  # every TrainUpdate, in order (progress records are throttled)
    window.jobs.partial.connect(lambda name, result: name == panel.JOB
                                and updates.append(result))
    panel.start()
    assert not panel.start_button.isEnabled() and panel.cancel_button.isEnabled(), \
        (panel.status.text(), window.messages.history)
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=180_000)
    assert (out / "metrics.json").is_file(), panel.status.text()
    folds = json.loads((out / "folds.json").read_text())
    phases = [(u.phase, u.fold) for u in updates if hasattr(u, "phase")]
    for k in range(len(folds) + 1):  # every fold (and the final model): steps, then its end
        assert ("step", k) in phases and ("fold", k) in phases
        assert phases.index(("step", k)) < phases.index(("fold", k))
    assert phases[-1] == ("done", len(folds))
    # one bar over every task, in optimizer steps: full at the end
    assert panel.progress.maximum() > 0 and panel.progress.value() == panel.progress.maximum()
    # the live curves got every fold's steps (and the final model's), apart
    assert len(panel.curves.folds) == len(folds) + 1
    assert all(fold.loss for fold in panel.curves.folds)
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"UF1 {metrics['uf1']:.2%}" in panel.results.summary.text()
