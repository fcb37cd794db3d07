"""Views of a training run: live loss and UF1 curves, confusion matrix and per-class table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

LOSS_PEN = pg.mkPen((230, 120, 60), width=1)
TRAIN_PEN = pg.mkPen((90, 160, 240), width=2)
VAL_PEN = pg.mkPen((80, 220, 120), width=2)


class CurvesView(QtWidgets.QWidget):
    """Loss per optimizer step and UF1 per epoch across folds (fold starts as dashed lines);
    redrawn at most five times a second."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.loss_plot = pg.PlotWidget(title="training loss (per step)")
        self.uf1_plot = pg.PlotWidget(title="UF1 per epoch (train blue, inner-val green)")
        self.uf1_plot.setYRange(0, 1)
        for plot in (self.loss_plot, self.uf1_plot):
            plot.setMinimumHeight(110)
            plot.showGrid(x=True, y=True, alpha=0.2)
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

    def clear(self) -> None:
        self.loss: list[float] = []
        self.train_uf1: list[float] = []
        self.val_uf1: list[float] = []
        self._fold_marks: list[pg.InfiniteLine] = []
        for plot in (self.loss_plot, self.uf1_plot):
            for item in list(plot.items()):
                if isinstance(item, pg.InfiniteLine):
                    plot.removeItem(item)
        self._last_fold = None
        self._redraw()

    def add(self, update) -> None:
        """Take one TrainUpdate of the running training."""
        phase = getattr(update, "phase", None)
        if phase in ("step", "epoch") and update.fold != self._last_fold:
            self._last_fold = update.fold
            if self.loss:
                line = pg.InfiniteLine(len(self.loss), pen=pg.mkPen((150, 150, 150),
                                                                    style=QtCore.Qt.PenStyle.DashLine))
                self.loss_plot.addItem(line)
        if phase == "step" and update.loss is not None:
            self.loss.append(float(update.loss))
        elif phase == "epoch":
            self.train_uf1.append(np.nan if update.train_uf1 is None else update.train_uf1)
            self.val_uf1.append(np.nan if update.val_uf1 is None else update.val_uf1)
        if not self._timer.isActive():
            self._timer.start()

    def show_history(self, history: list[dict]) -> None:
        """A finished run's per-epoch history (one dict per fold)."""
        self.clear()
        for fold in history:
            self.loss += [float(v) for v in fold.get("loss", [])]
            self.train_uf1 += [np.nan if v is None else v for v in fold.get("train_uf1", [])]
            self.val_uf1 += [np.nan if v is None else v for v in fold.get("val_uf1", [])]
        self.loss_plot.setTitle("training loss (per epoch)")
        self._redraw()

    def _redraw(self) -> None:
        self.loss_curve.setData(np.arange(len(self.loss)), np.asarray(self.loss, float))
        x = np.arange(1, len(self.train_uf1) + 1)
        self.train_curve.setData(x, np.asarray(self.train_uf1, float), connect="finite")
        self.val_curve.setData(x, np.asarray(self.val_uf1, float), connect="finite")


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
        conf = np.asarray(m["confusion"], dtype=int)
        self.confusion.setRowCount(len(classes))
        self.confusion.setColumnCount(len(classes))
        self.confusion.setHorizontalHeaderLabels(classes)
        self.confusion.setVerticalHeaderLabels(classes)
        row_sums = np.maximum(conf.sum(axis=1, keepdims=True), 1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                item = QtWidgets.QTableWidgetItem(str(conf[i, j]))
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                share = conf[i, j] / row_sums[i, 0]
                item.setBackground(QtGui.QColor.fromRgbF(0.15, 0.35 + 0.5 * share,
                                                         0.25 + 0.6 * share, 0.35 + 0.6 * share))
                self.confusion.setItem(i, j, item)
        self.confusion.resizeColumnsToContents()
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
