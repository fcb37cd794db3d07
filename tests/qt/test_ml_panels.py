"""Classification and training panels: background jobs, results shown, errors as messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6 import QtGui

from tests.gui_helpers import clip_spec, make_window, open_and_wait, wait_settled

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """An untrained PointNet with the default preprocessing at N = 1024 (3 classes)."""
    from mer_viewer.core.ml.checkpoint import build_network, save_checkpoint
    from mer_viewer.core.ml.config import TrainConfig
    from mer_viewer.core.ml.items import Preprocessing
    from mer_viewer.core.pipeline import SamplingParams

    torch.manual_seed(0)
    config = TrainConfig(model="pointnet", classes="3", points=1024)
    model = build_network("pointnet", 3, 6, {})
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, None, config, ("negative", "positive", "surprise"),
                    Preprocessing(sampling=SamplingParams(1024)).to_dict(), epoch=1)
    return path


def test_classify_shows_probabilities_and_saliency(qtbot, demo_corpus, tmp_path, tiny_checkpoint):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    panel = window.classify_panel
    panel.add_checkpoint(tiny_checkpoint)
    panel.saliency_check.setChecked(True)
    window.findChild(QtGui.QAction, "classify").trigger()  # the action of the C shortcut
    # the probabilities are shown first, then the same result with its saliency
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    first = panel.result
    assert panel.chart.values == first.probabilities
    qtbot.waitUntil(lambda: panel.result.saliency is not None, timeout=60_000)
    result = panel.result
    assert result.probabilities == first.probabilities
    assert set(result.probabilities) == {"negative", "positive", "surprise"}
    assert abs(sum(result.probabilities.values()) - 1) < 1e-4
    assert result.predicted == max(result.probabilities, key=result.probabilities.get)
    assert result.true == window.state.sample.label("3")
    assert panel.chart.values == result.probabilities
    assert f"annotated <b>{result.true}" in panel.result_label.text()
    assert len(result.saliency) == 1024
    cp = window.cloud_panel
    assert cp.controls.color_mode == "saliency" and cp.saliency is not None
    # the network's salient points are found on the shown cloud by their pixels
    # (PointNet's max-pool leaves most points with zero gradient)
    salient = int((result.saliency > 0).sum())
    assert salient > 0 and (cp.saliency > 0).sum() >= 0.9 * salient
    panel.saliency_check.setChecked(False)
    assert cp.controls.color_mode == "motion"


def test_bad_checkpoint_is_a_message(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    window.classify_panel.add_checkpoint(bad)
    window.classify_panel.classify()
    qtbot.waitUntil(lambda: "broken.pt" in window.messages.current, timeout=30_000)
    assert "checkpoint" in window.messages.current
    assert window.classify_panel.result is None and not window.jobs.busy


def test_training_runs_with_live_curves_and_results(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    panel = window.train_panel
    panel.model.setCurrentText("pointnet")
    panel.epochs.setValue(2)
    panel.points.setCurrentText("1024")
    panel.device.setCurrentText("cpu")
    panel.protocol.setCurrentText("loso")
    out = tmp_path / "run"
    panel.out.setText(str(out))
    checkpoints = []
    panel.checkpointReady.connect(checkpoints.append)
    panel.start()
    assert not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=180_000)
    assert (out / "metrics.json").is_file(), panel.status.text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert panel.curves.loss and all(np.isfinite(panel.curves.loss))
    # LOSO over 2 subjects and the final model: three folds, drawn as three pieces
    folds = json.loads((out / "folds.json").read_text())
    y = panel.curves.loss_curve.yData
    assert len(panel.curves.folds) == len(folds) + 1 >= 3
    assert np.isnan(y).sum() == len(panel.curves.folds) - 1
    # on finish the run opens in its own window (over a few event-loop turns), at a usable size
    run_window = panel.run_window
    qtbot.waitUntil(run_window.isVisible)
    assert run_window.width() >= 800
    assert f"UF1 {metrics['uf1']:.2%}" in run_window.results.summary.text()
    confusion = run_window.results.confusion
    assert [confusion.horizontalHeaderItem(i).text() for i in range(confusion.columnCount())] \
        == metrics["classes"]
    assert panel.results.confusion.rowCount() == len(metrics["classes"])
    total = sum(int(panel.results.confusion.item(i, j).text())
                for i in range(len(metrics["classes"])) for j in range(len(metrics["classes"])))
    assert total == metrics["n_samples"]
    assert f"UF1 {metrics['uf1']:.2%}" in panel.results.summary.text()
    assert checkpoints == [out / "model.pt"]  # offered to the classification panel
    assert window.classify_panel.checkpoint()[0] == out / "model.pt"

    run_window.close()
    panel.results.clear()
    assert panel.open_run(out) and panel.results.confusion.rowCount() == len(metrics["classes"])
    assert run_window.isVisible()
    y = run_window.curves.loss_curve.yData
    history = json.loads((out / "history.json").read_text())
    assert np.isfinite(y).sum() == sum(len(h["loss"]) for h in history)
    assert np.isnan(y).sum() == len(history) - 1  # the folds of history.json stay apart


def test_training_cancel_keeps_gui_responsive(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    panel = window.train_panel
    panel.model.setCurrentText("pointnet")
    panel.epochs.setValue(50)
    panel.points.setCurrentText("1024")
    panel.out.setText(str(tmp_path / "run"))
    panel.start()
    qtbot.waitUntil(lambda: len(panel.curves.loss) >= 1, timeout=120_000)
    panel.cancel()
    assert panel.start_button.isEnabled() and "cancelled" in panel.status.text()
    before = window.state.frame
    window.state.step_frame(1)  # the GUI still works while the worker unwinds
    assert window.state.frame == before + 1
    assert window.jobs.wait_all(60)
    assert not (tmp_path / "run" / "metrics.json").exists()
    wait_settled(qtbot, window)
