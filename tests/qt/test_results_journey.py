"""Results browser through the real main window: a run's wrong predictions lead to their clip
with the fold's checkpoint and saliency; two runs compared; the shown clips classified."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from tests.gui_helpers import JobWatch, make_window, open_and_wait

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def two_runs(demo_corpus, tmp_path_factory):
    """Real PointNet runs (1 epoch, 256 points) on the tiny corpus: sort and random."""
    from mer_viewer.cli import main

    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for sampling in ("sort", "random"):
        out = root / sampling
        assert main(["train", str(demo_corpus), "--out", str(out), "--model", "pointnet",
                     "--epochs", "1", "--points", "256", "--sampling", sampling,
                     "--workers", "1"]) == 0
        runs[sampling] = out
    return runs


def _rows(run: Path) -> list[dict]:
    with (run / "predictions.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _open_results(qtbot, window, path: Path, monkeypatch):
    """File → Open results…, answering the folder dialog with ``path``."""
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory",
                        lambda *a, **k: str(path))
    window.findChild(QtGui.QAction, "open_results").trigger()
    results = window.results_actions.results
    qtbot.waitUntil(results.isVisible)
    return results


def _click(qtbot, view: QtWidgets.QTableView, row: int, column: int = 0) -> None:
    index = view.model().index(row, column)
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=view.visualRect(index).center())


def _classified(qtbot, window, watch):
    panel = window.classify_panel
    watch.assert_all_end(qtbot, timeout_s=120)
    assert watch.outcome(panel.JOB) == "done", watch.ended
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.saliency is not None,
                    timeout=30_000)
    return panel.result


def test_open_a_run_filter_wrong_click_one_and_see_it_classified(qtbot, demo_corpus, two_runs,
                                                                  tmp_path, monkeypatch):
    run = two_runs["sort"]
    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    open_and_wait(qtbot, window, demo_corpus)
    results = _open_results(qtbot, window, run, monkeypatch)
    rows = _rows(run)
    # the run's metrics and settings are shown, not re-entered
    metrics_text = results.run_panel.results.summary.text()
    assert "UF1" in metrics_text and str(run) in metrics_text
    assert '"sampling": "sort"' in results.run_panel.config.toPlainText()
    assert len(results.run_panel.curves.folds) == len({r["fold"] for r in rows})

    results.tabs.setCurrentWidget(results.predictions)
    table = results.predictions
    assert sorted(table.shown_samples()) == sorted(r["clip"] for r in rows)
    table.wrong_only.setChecked(True)
    wrong = [r for r in rows if r["true"] != r["pred"]]
    assert wrong, "a one-epoch run gets some clips wrong"
    assert sorted(table.shown_samples()) == sorted(r["clip"] for r in wrong)
    assert table.count.text() == f"{len(wrong)} of {len(rows)} shown"

    first = table.shown_samples()[0]
    expected = next(r for r in rows if r["clip"] == first)
    _click(qtbot, table.view, 0)
    assert window.state.sample is not None and window.state.sample.id == first
    fold_checkpoint = run / "checkpoints" / f"fold_{expected['fold']}.pt"
    assert window.classify_panel.checkpoint()[0] == fold_checkpoint
    result = _classified(qtbot, window, watch)
    assert result.sample_id == first and result.predicted == expected["pred"]
    for c, p in result.probabilities.items():  # the run's own prediction, reproduced
        assert p == pytest.approx(float(expected[f"p_{c}"]), abs=2e-6)
    cloud = window.cloud_panel
    qtbot.waitUntil(lambda: cloud.saliency is not None, timeout=30_000)
    assert cloud.controls.color_mode == "saliency" and (cloud.saliency > 0).any()
    assert not watch.failures()


def test_compare_two_runs_and_open_a_clip_they_disagree_on(qtbot, demo_corpus, two_runs,
                                                           tmp_path, monkeypatch):
    # one-epoch runs on five clips tend to agree everywhere: B is the random run with one
    # prediction changed in its file, so that there is a clip to click
    b_dir = Path(shutil.copytree(two_runs["random"], tmp_path / "random-edited"))
    b = _rows(b_dir)
    classes = [k[2:] for k in b[0] if k.startswith("p_")]
    b[-1]["pred"] = next(c for c in classes if c != b[-1]["pred"])
    with (b_dir / "predictions.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(b[0]))
        writer.writeheader()
        writer.writerows(b)
    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    open_and_wait(qtbot, window, demo_corpus)
    results = _open_results(qtbot, window, two_runs["sort"], monkeypatch)
    assert results.open_path(b_dir)
    results.tabs.setCurrentWidget(results.compare)
    compare = results.compare
    assert [r.path for r in compare.runs] == [two_runs["sort"], b_dir]
    assert compare.summary_model.rowCount() == 2  # two settings, one seed each
    assert compare.confusion_row.count() >= 2
    a = _rows(two_runs["sort"])
    pred_b = {r["clip"]: r for r in b}
    differ = [r["clip"] for r in a if r["clip"] in pred_b and r["pred"] != pred_b[r["clip"]]["pred"]]
    assert differ and sorted(compare.disagreeing_samples()) == sorted(differ)
    _click(qtbot, compare.disagree, 0, column=4)  # B's prediction
    sample = compare.disagreeing_samples()[0]
    assert window.state.sample.id == sample
    fold = pred_b[sample]["fold"]
    assert window.classify_panel.checkpoint()[0] == b_dir / "checkpoints" / f"fold_{fold}.pt"
    result = _classified(qtbot, window, watch)
    for c, p in result.probabilities.items():  # B's fold checkpoint made these
        assert p == pytest.approx(float(pred_b[sample][f"p_{c}"]), abs=2e-6)


def test_classify_the_shown_clips_from_the_gui(qtbot, demo_corpus, tmp_path, monkeypatch):
    from mer_viewer.core.ml.classify import bundled_checkpoint, classify

    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    open_and_wait(qtbot, window, demo_corpus)
    browser = window.browser
    browser.set_class_filter("3", "surprise")  # the browser's filter decides the clips
    shown = window.results_actions.shown_samples()
    assert 0 < len(shown) < len(window.state.dataset.samples)
    out = tmp_path / "shown.csv"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(out), "CSV (*.csv)"))
    window.findChild(QtGui.QAction, "classify_shown").trigger()
    watch.assert_all_end(qtbot, timeout_s=180)
    assert watch.outcome("classify shown") == "done", watch.ended
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["subject"], r["clip"], int(r["onset"])) for r in rows] == \
        [(s.subject, s.clip, s.onset) for s in shown]
    reference = classify(shown[0], bundled_checkpoint("3"))
    assert {c: float(rows[0][c]) for c in reference.probabilities} == reference.probabilities
    results = window.results_actions.results
    qtbot.waitUntil(results.isVisible)
    assert results.current_run().kind == "batch"
    assert sorted(results.predictions.shown_samples()) == sorted(s.id for s in shown)

    # cancelled at once: the job ends as cancelled and no file is written
    out.unlink()
    window.results_actions.classify_shown(out)
    window.jobs.cancel(window.results_actions.BATCH_JOB)
    watch.assert_all_end(qtbot, timeout_s=60)
    assert watch.outcome("classify shown") == "cancelled"
    assert window.jobs.wait_all(30) and not out.exists()
    assert not watch.failures()
    assert np.isfinite(list(reference.probabilities.values())).all()
