"""Views of a training run: curves per fold, confusion matrix, per-class table, run window."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..infra.scene_activation import ignore_window_activation
from .result_tables import fill_confusion

LOSS_PEN = pg.mkPen((230, 120, 60), width=1)
TRAIN_PEN = pg.mkPen((90, 160, 240), width=2)
VAL_PEN = pg.mkPen((80, 220, 120), width=2)
FOLD_PEN = pg.mkPen((150, 150, 150), style=QtCore.Qt.PenStyle.DashLine)
FOLD_LABEL_PX = 70  # room a fold label needs on the axis; closer labels are thinned
MIN_MARKED_WIDTH_PX = 300  # a plot not laid out yet is taken to be this wide


@dataclass
class FoldCurves:
    """One fold's values in order: loss (per step live, per epoch from a history) and UF1
    per epoch."""

    label: str
    loss: list[float] = field(default_factory=list)
    train_uf1: list[float] = field(default_factory=list)
    val_uf1: list[float] = field(default_factory=list)


def _segments(folds: list[FoldCurves], values: str, first_x: int) -> tuple[np.ndarray,
                                                                            np.ndarray, list]:
    """The folds' ``values`` one after the other on one x axis, a NaN point between two
    folds (so no line joins one fold's end to the next one's start); also each fold's
    first x, for its mark."""
    xs, ys, starts = [], [], []
    x = first_x
    for fold in folds:
        y = np.asarray(getattr(fold, values), dtype=float)
        starts.append(x)
        if xs:
            xs.append([x - 0.5])
            ys.append([np.nan])
        xs.append(np.arange(x, x + len(y), dtype=float))
        ys.append(y)
        x += len(y)
    if not xs:
        return np.zeros(0), np.zeros(0), []
    return np.concatenate(xs), np.concatenate(ys), starts


class CurvesView(QtWidgets.QWidget):
    """Training loss and UF1 per epoch, fold after fold: each fold its own piece of curve
    (a break between folds, never a line joining them), each fold's start marked with a
    dashed line and its label. Redrawn at most five times a second."""

    def __init__(self, compact: bool = False, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.compact = compact
        self.loss_plot = pg.PlotWidget()
        self.uf1_plot = pg.PlotWidget(title="UF1 per epoch (train blue, inner-val green)")
        self.uf1_plot.setYRange(0, 1)
        self.uf1_plot.setLabel("bottom", "epoch, fold after fold")
        self._marked: dict[int, list] = {}  # id(plot) -> the fold labels it shows
        self._starts: dict[int, tuple] = {}  # id(plot) -> what _mark drew last
        self._bounds: dict[int, pg.PlotCurveItem] = {}  # id(plot) -> its fold start lines
        for plot in (self.loss_plot, self.uf1_plot):
            ignore_window_activation(plot)
            plot.setMinimumHeight(70 if compact else 160)
            plot.showGrid(x=True, y=True, alpha=0.2)
            self._bounds[id(plot)] = pg.PlotCurveItem(pen=FOLD_PEN)
            plot.addItem(self._bounds[id(plot)], ignoreBounds=True)
            top = plot.getAxis("top")  # the fold labels (see _mark)
            top.setStyle(tickLength=0)
            top.setTextPen(pg.mkPen((190, 190, 190)))
            plot.hideAxis("top")
        self.uf1_plot.setVisible(not compact)  # compact: the loss only (the run window has both)
        self.loss_curve = self.loss_plot.plot(pen=LOSS_PEN)
        self.train_curve = self.uf1_plot.plot(pen=TRAIN_PEN, symbol="o", symbolSize=4)
        self.val_curve = self.uf1_plot.plot(pen=VAL_PEN, symbol="o", symbolSize=4)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.loss_plot)
        lay.addWidget(self.uf1_plot)
        self._timer = QtCore.QTimer(self, interval=200, singleShot=True)
        self._timer.timeout.connect(self._redraw)
        self.clear()

    @property
    def loss(self) -> list[float]:
        """Every loss value so far, fold after fold."""
        return [v for fold in self.folds for v in fold.loss]

    def clear(self) -> None:
        self.folds: list[FoldCurves] = []
        self._fold_of: dict[int, FoldCurves] = {}
        self.loss_curve.setSymbol(None)  # live: a point per optimizer step, a line
        if self.compact:
            self.loss_plot.setLabel("left", "loss")
        else:
            self.loss_plot.setTitle("training loss (per step)")
            self.loss_plot.setLabel("bottom", "optimizer step, fold after fold")
        self._redraw()

    def _fold(self, index: int, n_folds: int, final: bool) -> FoldCurves:
        fold = self._fold_of.get(index)
        if fold is None:
            label = "all subjects" if final else f"fold {index + 1}/{n_folds}"
            fold = self._fold_of[index] = FoldCurves(label)
            self.folds.append(fold)
        return fold

    def add(self, update) -> None:
        """Take one TrainUpdate of the running training."""
        phase = getattr(update, "phase", None)
        if phase not in ("step", "epoch"):
            return
        fold = self._fold(update.fold, update.n_folds, bool(getattr(update, "final_model", False)))
        if phase == "step" and update.loss is not None:
            fold.loss.append(float(update.loss))
        elif phase == "epoch":
            fold.train_uf1.append(np.nan if update.train_uf1 is None else update.train_uf1)
            fold.val_uf1.append(np.nan if update.val_uf1 is None else update.val_uf1)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Draw at once what came since the last redraw (a run ended: its last steps show
        now, not a throttle interval later)."""
        if self._timer.isActive():
            self._timer.stop()
            self._redraw()

    def show_history(self, history: list[dict], labels: list[str] | None = None) -> None:
        """A finished run's per-epoch history (``history.json``: one dict per fold);
        ``labels`` name the folds (default ``fold i/n``)."""
        self.clear()
        for i, entry in enumerate(history):
            label = labels[i] if labels and i < len(labels) else f"fold {i + 1}/{len(history)}"
            fold = FoldCurves(label)
            fold.loss = [float(v) for v in entry.get("loss", [])]
            fold.train_uf1 = [np.nan if v is None else v for v in entry.get("train_uf1", [])]
            val = [np.nan if v is None else v for v in entry.get("val_uf1", [])]
            fold.val_uf1 = val + [np.nan] * (len(fold.train_uf1) - len(val))
            self.folds.append(fold)
        self.loss_plot.setTitle("training loss (per epoch)")
        self.loss_plot.setLabel("bottom", "epoch, fold after fold")
        self.loss_curve.setSymbol("o")  # a fold of one epoch is one point: seen only so
        self.loss_curve.setSymbolSize(4)
        self.loss_curve.setSymbolBrush(LOSS_PEN.color())
        self.loss_curve.setSymbolPen(LOSS_PEN)
        self._redraw()

    def _redraw(self) -> None:
        x, y, starts = _segments(self.folds, "loss", 1)
        self.loss_curve.setData(x, y, connect="finite")
        finite = y[np.isfinite(y)]
        self._mark(self.loss_plot, starts, "loss",
                   (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0))
        x, y, starts = _segments(self.folds, "train_uf1", 1)
        self.train_curve.setData(x, y, connect="finite")
        x, y, _ = _segments(self.folds, "val_uf1", 1)
        if not np.isfinite(y).any():  # no inner validation: nothing to draw
            x, y = np.zeros(0), np.zeros(0)
        self.val_curve.setData(x, y, connect="finite")
        self._mark(self.uf1_plot, starts, "train_uf1", (0.0, 1.0))

    def _mark(self, plot: pg.PlotWidget, starts: list[int], values: str,
              span: tuple[float, float]) -> None:
        """A dashed line where each fold after the first starts, across ``span`` of y, and
        each fold's label above the middle of its piece (the ticks of the plot's top axis):
        two items whatever the number of folds. (One line item per fold with its label
        took ~7 ms each and was set up again at every live redraw; the real LOSO has 94
        folds.) Labels that would not fit beside each other are thinned to every k-th
        fold; the axis is touched only when the labels change."""
        self._starts[id(plot)] = (starts, values, span)
        folds = self.folds if len(self.folds) >= 2 else []
        bounds = np.repeat([x - 0.5 for x in starts[1:len(folds)]], 2)
        self._bounds[id(plot)].setData(bounds, np.tile(span, len(bounds) // 2),
                                       connect="pairs")
        centers = [start + max(len(getattr(fold, values)) - 1, 0) / 2
                   for fold, start in zip(folds, starts)]
        width = max(plot.width(), MIN_MARKED_WIDTH_PX)
        every = max(1, math.ceil(len(centers) * FOLD_LABEL_PX / width))
        ticks = [(x, fold.label) for i, (x, fold) in enumerate(zip(centers, folds))
                 if i % every == 0]
        if self._marked.get(id(plot)) == ticks:
            return
        self._marked[id(plot)] = ticks
        if not ticks:
            plot.hideAxis("top")
            return
        plot.getAxis("top").setTicks([ticks, []])
        plot.showAxis("top")

    def fold_marks(self, plot: pg.PlotWidget) -> tuple[list[float], list[tuple[float, str]]]:
        """The x of the fold starts marked on ``plot`` and the (x, label) of the fold labels
        shown (the middle of each labelled fold's piece)."""
        bounds = self._bounds[id(plot)].xData
        return ([] if bounds is None else [float(x) for x in bounds[::2]],
                list(self._marked.get(id(plot), [])))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        for plot in (self.loss_plot, self.uf1_plot):  # room for more (or fewer) labels
            if id(plot) in self._starts:
                self._mark(plot, *self._starts[id(plot)])


class ResultsView(QtWidgets.QWidget):
    """UF1/UAR of the pooled predictions, the confusion matrix (rows = true) and per-class scores."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.summary = QtWidgets.QLabel("no results yet")
        self.summary.setWordWrap(True)
        self.confusion = QtWidgets.QTableWidget()
        self.per_class = QtWidgets.QTableWidget()
        for table in (self.confusion, self.per_class):
            table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
            table.horizontalHeader().setSectionResizeMode(
                QtWidgets.QHeaderView.ResizeMode.Stretch)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.summary)
        lay.addWidget(QtWidgets.QLabel("confusion matrix (rows: annotated, columns: predicted)"))
        lay.addWidget(self.confusion, 1)
        lay.addWidget(self.per_class, 1)

    def clear(self) -> None:
        self.summary.setText("no results yet")
        self.confusion.clear()
        self.confusion.setRowCount(0)
        self.per_class.clear()
        self.per_class.setRowCount(0)

    def show_metrics(self, metrics, run_dir: Path | None = None) -> None:
        self.show_metrics_dict(metrics.to_dict(), run_dir)

    def show_metrics_dict(self, m: dict, run_dir: Path | None = None) -> None:
        classes = list(m["classes"])
        where = f"<br><small>{run_dir}</small>" if run_dir else ""
        self.summary.setText(f"<b>UF1 {m['uf1']:.2%}</b> · <b>UAR {m['uar']:.2%}</b> · "
                             f"accuracy {m.get('accuracy', float('nan')):.2%} "
                             f"({m.get('n_samples', '?')} test predictions pooled){where}")
        fill_confusion(self.confusion, classes, m["confusion"])
        columns = ("precision", "recall", "f1", "support")
        self.per_class.setRowCount(len(classes))
        self.per_class.setColumnCount(len(columns))
        self.per_class.setHorizontalHeaderLabels(list(columns))
        self.per_class.setVerticalHeaderLabels(classes)
        for i, name in enumerate(classes):
            scores = m["per_class"].get(name, {})
            for j, col in enumerate(columns):
                value = scores.get(col, "")
                text = f"{value:.3f}" if isinstance(value, float) else str(value)
                self.per_class.setItem(i, j, QtWidgets.QTableWidgetItem(text))
        self.per_class.resizeColumnsToContents()


class RunWindow(QtWidgets.QWidget):
    """A finished run at a usable size, in its own (non-modal) window: the pooled metrics,
    the confusion matrix and per-class scores beside the loss and UF1 curves of every fold."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent, QtCore.Qt.WindowType.Window)
        self.setWindowTitle("Training run")
        self.results = ResultsView()
        self.curves = CurvesView()
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.results)
        split.addWidget(self.curves)
        split.setSizes([420, 620])
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split)
        self.resize(1100, 640)
        self._shown_run = 0

    def start_live(self, run_dir: Path | None) -> None:
        """A run starts: its curves arrive live (``curves.add``), its results when it ends."""
        self._shown_run += 1  # a staged show_run still under way is dropped
        self.setWindowTitle(f"Training run — {run_dir} (running)")
        self.results.clear()
        self.curves.clear()

    def show_run(self, metrics: dict, history: list[dict], run_dir: Path,
                 fold_labels: list[str] | None = None, staged: bool = False) -> None:
        """Fill the window with a run's files and bring it up. ``staged`` (a run that just
        ended): the metrics now; the curves, the window's first show and its activation each
        in a later turn of the event loop. Each step costs tens of ms with software GL (the
        first paint of the plots; activation repaints the main window's dock titles, and
        every main-window repaint composes the whole window through GL): done at once they
        kept the GUI thread busy ~200 ms."""
        self._shown_run += 1
        self.setWindowTitle(f"Training run — {run_dir}")
        self.results.show_metrics_dict(metrics, run_dir)
        if not staged:
            self.curves.show_history(history, fold_labels)
            self.show()
            self.raise_()
            self.activateWindow()
            return
        shown = self._shown_run
        steps = [lambda: self.curves.show_history(history, fold_labels),
                 lambda: (self.show(), self.raise_()),
                 self.activateWindow]

        def next_step() -> None:
            if shown != self._shown_run:  # overtaken by another run (or a live one)
                return
            steps.pop(0)()
            if steps:
                QtCore.QTimer.singleShot(0, self, next_step)

        QtCore.QTimer.singleShot(0, self, next_step)
