"""Run views: folds are separate pieces of the curves, never joined as if they were epochs."""

from __future__ import annotations

import numpy as np

from mer_viewer.qt.panels.run_views import CurvesView, RunWindow


def _pieces(x: np.ndarray, y: np.ndarray) -> list[list[float]]:
    """The runs of finite points between NaN breaks, as lists of y."""
    out, current = [], []
    for value in y:
        if np.isfinite(value):
            current.append(float(value))
        elif current:
            out.append(current)
            current = []
    return out + ([current] if current else [])


HISTORY = [{"loss": [1.2, 0.9, 0.7], "train_accuracy": [0.3, 0.5, 0.6],
            "train_uf1": [0.2, 0.4, 0.5], "val_uf1": [0.3, 0.35, 0.45]},
           {"loss": [1.1, 0.8, 0.6], "train_accuracy": [0.3, 0.5, 0.7],
            "train_uf1": [0.25, 0.45, 0.6], "val_uf1": [0.2, 0.3, 0.5]}]


def test_a_two_fold_history_is_two_pieces_with_fold_marks(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    view.show_history(HISTORY)
    for curve, key in ((view.loss_curve, "loss"), (view.train_curve, "train_uf1"),
                       (view.val_curve, "val_uf1")):
        x, y = curve.xData, curve.yData
        assert _pieces(x, y) == [HISTORY[0][key], HISTORY[1][key]]
        assert np.all(np.diff(x) > 0)  # one time axis, fold after fold
    # the drawn line breaks at non-finite points (pyqtgraph's connect="finite")
    assert view.loss_curve.opts["connect"] == "finite"
    assert view.loss_curve.opts["symbol"] == "o"  # a fold of one epoch is a point, still seen
    for plot in (view.loss_plot, view.uf1_plot):  # where fold 2 starts; each fold labelled
        assert view.fold_marks(plot) == ([3.5], [(2.0, "fold 1/2"), (5.0, "fold 2/2")])
        assert plot.getAxis("top").isVisible()


def test_ninety_four_folds_are_marked_by_one_item_with_labels_that_fit(qtbot):
    # the real CAS(ME)³ LOSO: a line item per fold took ~7 ms each, redone at every redraw
    history = [{"loss": [1.0, 0.8], "train_uf1": [0.3, 0.5], "val_uf1": []}] * 94
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    items_before = len(view.loss_plot.items())
    view.show_history(history, [f"spNO.{i}" for i in range(94)])
    assert len(view.loss_plot.items()) == items_before  # no item per fold
    bounds, labels = view.fold_marks(view.loss_plot)
    assert bounds == [0.5 + 2 * i for i in range(1, 94)]
    assert labels[0] == (1.5, "spNO.0") and 5 <= len(labels) < 94
    # at most one label per 70 px of the plot: they never overlap
    assert len(labels) <= view.loss_plot.width() / 70 + 1
    view.resize(1800, 500)  # more room: more labels
    qtbot.waitUntil(lambda: len(view.fold_marks(view.loss_plot)[1]) > len(labels), timeout=3000)


def test_live_updates_of_two_folds_stay_apart(qtbot):
    from mer_viewer.core.ml.results import TrainUpdate

    view = CurvesView(compact=True)
    qtbot.addWidget(view)
    for fold, losses in ((0, [2.0, 1.5, 1.0]), (1, [2.2, 1.4])):
        for step, loss in enumerate(losses, start=1):
            view.add(TrainUpdate("step", fold, 2, 1, 1, step, len(losses), loss))
        view.add(TrainUpdate("epoch", fold, 2, 1, 1, len(losses), len(losses), losses[-1],
                             0.5, 0.4 + fold / 10, None))
    view._redraw()
    assert _pieces(view.loss_curve.xData, view.loss_curve.yData) == [[2.0, 1.5, 1.0], [2.2, 1.4]]
    assert _pieces(view.train_curve.xData, view.train_curve.yData) == [[0.4], [0.5]]
    assert view.loss == [2.0, 1.5, 1.0, 2.2, 1.4]


def test_run_window_shows_metrics_and_curves(qtbot, tmp_path):
    metrics = {"uf1": 0.5, "uar": 0.6, "accuracy": 0.55, "n_samples": 4,
               "classes": ["negative", "positive", "surprise"],
               "confusion": [[1, 0, 0], [0, 1, 1], [0, 0, 1]],
               "per_class": {"negative": {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                          "support": 1}}}
    window = RunWindow()
    qtbot.addWidget(window)
    window.show_run(metrics, HISTORY, tmp_path)
    assert window.isVisible() and str(tmp_path) in window.windowTitle()
    assert "UF1 50.00%" in window.results.summary.text()
    assert window.curves.loss == HISTORY[0]["loss"] + HISTORY[1]["loss"]


def test_run_window_staged_show(qtbot, tmp_path):
    """A run that just ended comes up over a few event-loop turns (metrics first), with
    the same content as at once; a run started meanwhile drops the rest."""
    metrics = {"uf1": 0.5, "uar": 0.6, "accuracy": 0.55, "n_samples": 4,
               "classes": ["negative", "positive", "surprise"],
               "confusion": [[1, 0, 0], [0, 1, 1], [0, 0, 1]], "per_class": {}}
    window = RunWindow()
    qtbot.addWidget(window)
    window.show_run(metrics, HISTORY, tmp_path, staged=True)
    assert "UF1 50.00%" in window.results.summary.text() and not window.isVisible()
    qtbot.waitUntil(window.isVisible)
    assert window.curves.loss == HISTORY[0]["loss"] + HISTORY[1]["loss"]
    assert str(tmp_path) in window.windowTitle()
    window.close()

    window.show_run(metrics, HISTORY, tmp_path, staged=True)
    window.start_live(tmp_path / "next")  # a new run before the window came up
    qtbot.wait(100)
    assert not window.isVisible() and window.curves.loss == []


def test_live_steps_are_drawn_throttled_and_all_of_them_at_flush(qtbot):
    # live updates redraw at most every 200 ms; a run that ends flushes at once, so its
    # last fold is on the curve when the panel says it is done (CI saw it missing)
    from types import SimpleNamespace

    view = CurvesView()
    qtbot.addWidget(view)
    for fold, losses in enumerate(([1.0, 0.8], [0.9, 0.7], [0.6, 0.5])):
        for loss in losses:
            view.add(SimpleNamespace(phase="step", fold=fold, n_folds=2, final_model=fold == 2,
                                     loss=loss))
    assert view.loss_curve.yData is None or len(view.loss_curve.yData) == 0  # not drawn yet
    view.flush()
    assert _pieces(view.loss_curve.xData, view.loss_curve.yData) == [[1.0, 0.8], [0.9, 0.7],
                                                                      [0.6, 0.5]]
    assert not view._timer.isActive()
    view.flush()  # nothing pending: no redraw, no error
