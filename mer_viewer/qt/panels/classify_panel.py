"""Classification panel: one click (or C) classifies the clip; probabilities, label, saliency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...core.jobs import classify_job
from ...core.ml.classify import Classification
from ..infra.scene_activation import ignore_window_activation
from ..infra.state import ViewerState
from ..infra.workers import JobRunner
from ..views.elided import ElidedLabel

BUNDLED = {"bundled 3-class": "3", "bundled 4-class": "4"}
BAR = (90, 140, 220)
BAR_PREDICTED = (240, 170, 40)
TRUE_PEN = pg.mkPen((80, 230, 120), width=3)


class ProbabilityChart(pg.PlotWidget):
    """Bars of the class probabilities; the predicted bar in orange, the annotated class
    outlined in green."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setBackground(None)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setYRange(0, 1)
        self.getPlotItem().setMenuEnabled(False)
        self.setMinimumHeight(100)  # 4 bars read well; at 1366×768 the 3D views need the rest
        self.bars: pg.BarGraphItem | None = None
        self.values: dict[str, float] = {}

    def set_probabilities(self, probabilities: dict[str, float], predicted: str | None,
                          true: str | None) -> None:
        self.clear()
        self.values = dict(probabilities)
        names = list(probabilities)
        if not names:
            return
        x = np.arange(len(names))
        brushes = [pg.mkBrush(BAR_PREDICTED if n == predicted else BAR) for n in names]
        pens = [TRUE_PEN if n == true else pg.mkPen(None) for n in names]
        self.bars = pg.BarGraphItem(x=x, height=[probabilities[n] for n in names], width=0.7,
                                    brushes=brushes, pens=pens)
        self.addItem(self.bars)
        self.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
        self.setXRange(-0.6, len(names) - 0.4)
        self.setYRange(0, 1)


class ClassifyPanel(QtWidgets.QWidget):
    """Classify the current clip with the bundled or a chosen checkpoint (job ``classify``)."""

    JOB = "classify"

    def __init__(self, state: ViewerState, jobs: JobRunner, cloud_panel,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state, self.jobs, self.cloud_panel = state, jobs, cloud_panel
        self.model_box = QtWidgets.QComboBox()
        for name in BUNDLED:
            self.model_box.addItem(name, None)
        self.model_box.setToolTip("bundled PointNet++ or a checkpoint of your own run")
        self.choose = QtWidgets.QToolButton(text="…")
        self.choose.setToolTip("choose a checkpoint file (.pt)")
        self.button = QtWidgets.QPushButton("Classify clip (C)")
        self.saliency_check = QtWidgets.QCheckBox("colour the cloud by saliency")
        # verdict and checkpoint on lines of fixed height: a result arriving never moves the
        # docks (which would also make the 3D views reallocate and repaint at once)
        # (one line each, never wider than the dock: clipped there, whole in the tool tip)
        self.result_label = QtWidgets.QLabel()
        self.result_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                        QtWidgets.QSizePolicy.Policy.Fixed)
        self.result_label.setFixedHeight(self.result_label.fontMetrics().lineSpacing() + 4)
        self._say("no classification yet")
        self.checkpoint_label = ElidedLabel("")
        self.checkpoint_label.setEnabled(False)  # greyed: a detail under the verdict
        self.chart = ProbabilityChart()
        ignore_window_activation(self.chart)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.model_box, 1)
        top.addWidget(self.choose)
        top.addWidget(self.button)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.result_label)
        lay.addWidget(self.checkpoint_label)
        lay.addWidget(self.chart, 1)
        lay.addWidget(self.saliency_check)
        self.result: Classification | None = None
        self.button.clicked.connect(self.classify)
        self.choose.clicked.connect(self._ask_checkpoint)
        self.saliency_check.toggled.connect(lambda _on: self._apply_saliency())
        jobs.partial.connect(self._on_result)
        state.sampleChanged.connect(self._on_sample)
        state.cloudChanged.connect(lambda _c: self._apply_saliency())

    # --- checkpoint --------------------------------------------------------------------------------
    def checkpoint(self) -> tuple[Path | None, str]:
        """(chosen checkpoint path or None for a bundled one, bundled task)."""
        data = self.model_box.currentData()
        return (Path(data) if data else None), BUNDLED.get(self.model_box.currentText(), "3")

    def add_checkpoint(self, path: Path) -> None:
        index = self.model_box.findData(str(path))
        if index < 0:
            # a fold's checkpoint is named by its run too: every run has a fold_0.pt
            label = f"{path.parent.parent.name}/{path.name}" \
                if path.parent.name == "checkpoints" else path.name
            self.model_box.addItem(label, str(path))
            index = self.model_box.count() - 1
            self.model_box.setItemData(index, str(path), QtCore.Qt.ItemDataRole.ToolTipRole)
        self.model_box.setCurrentIndex(index)

    def _ask_checkpoint(self) -> None:
        name, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Choose a checkpoint", "",
                                                        "PyTorch checkpoints (*.pt)")
        if name:
            self.add_checkpoint(Path(name))

    # --- classify ----------------------------------------------------------------------------------
    def classify(self) -> None:
        sample = self.state.sample
        if sample is None:
            self._say("select a loadable clip first")
            return
        path, task = self.checkpoint()
        self.result = None  # what arrives next is shown in full, even if it equals this one
        self._say(f"classifying {sample.id}…")
        self.jobs.start(self.JOB, classify_job(sample, path, task), f"classifying {sample.id}")

    def _on_sample(self, _sample) -> None:
        self.jobs.cancel(self.JOB)
        self.result = None
        self.chart.set_probabilities({}, None, None)
        self._say("press C to classify this clip")
        self.checkpoint_label.setText("")
        self.cloud_panel.set_saliency("", None)

    def _say(self, text: str) -> None:
        self.result_label.setText(text)
        self.result_label.setToolTip(text)

    def _on_result(self, name: str, result) -> None:
        if name != self.JOB or not isinstance(result, Classification):
            return
        if self.state.sample is None or result.sample_id != self.state.sample.id:
            return
        shown = self.result
        self.result = result
        if (shown is not None and shown.sample_id == result.sample_id
                and shown.probabilities == result.probabilities):
            self._apply_saliency()  # the same classification, now with its saliency
            return
        true = result.true or "not in this task"
        verdict = ""
        if result.true is not None:
            verdict = "  ✓ correct" if result.true == result.predicted else "  ✗ wrong"
        self._say(
            f"predicted <b>{result.predicted}</b> ({result.probabilities[result.predicted]:.0%})"
            f" · annotated <b>{true}</b>{verdict}")
        self.checkpoint_label.setText(f"model: {result.checkpoint.name}")
        self.chart.set_probabilities(result.probabilities, result.predicted, result.true)
        self._apply_saliency()

    def _apply_saliency(self) -> None:
        """Saliency of the network's points spread onto the shown cloud by pixel."""
        cloud, result = self.state.cloud, self.result
        if not self.saliency_check.isChecked() or cloud is None or result is None:
            if self.cloud_panel.saliency is not None:
                self.cloud_panel.set_saliency("", None)
            return
        if result.saliency is None:
            return  # the probabilities came first; the saliency follows
        per_point = np.zeros(len(cloud), dtype=np.float32)
        for (u, v), s in zip(result.pixels, result.saliency):
            index = self.state.point_at_pixel(u, v, radius=1)
            if index is not None:
                per_point[index] = max(per_point[index], s)
        self.cloud_panel.set_saliency(cloud.sample_id, per_point)
