"""The motion curve of the selected row under the scrubber: depth and flow against the onset,
the onset/apex/offset marks, the suggested apex, and "use suggested apex" as an undoable edit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...core.dataset import Sample, Skipped
from ...core.dataset.edits import SampleEdit
from ...core.jobs import curve_key, spot_job
from ..infra.memo import Memo
from ..infra.scene_activation import ignore_window_activation, repaint_changes_at_once
from ..infra.session import DatasetSession
from ..infra.state import ViewerState
from ..infra.workers import JobRunner

DEPTH_PEN = pg.mkPen((70, 160, 255), width=2)
FLOW_PEN = pg.mkPen((255, 170, 40), width=2)
MARK_COLORS = {"onset": (170, 170, 170), "apex": (235, 70, 70), "offset": (170, 170, 170)}
SUGGESTED_PEN = pg.mkPen((80, 220, 120), width=2, style=QtCore.Qt.PenStyle.DashLine)


def spottable(row) -> bool:
    """A sample, or a skipped row whose onset equals its apex (the case spotting is for)."""
    return isinstance(row, Sample) or (isinstance(row, Skipped) and row.onset is not None
                                       and "onset equals apex" in row.reason)


class MotionCurvePanel(QtWidgets.QWidget):
    """Depth (mm, left axis) and flow (px, right axis) of every frame against the onset.

    The curve is computed on demand ("Spot apex", S; a few seconds of CPU, so never by
    itself on a clip switch). Clicking the plot moves to that frame.
    """

    JOB = "spot"

    def __init__(self, state: ViewerState, jobs: JobRunner, session: DatasetSession,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state, self.jobs, self.session = state, jobs, session
        self.curve = None  # the MotionCurve shown
        self._curves = Memo(32)  # row key -> MotionCurve of this dataset
        self.plot = pg.PlotWidget(background=None)
        ignore_window_activation(self.plot)
        repaint_changes_at_once(self.plot)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setFixedHeight(120)
        item = self.plot.getPlotItem()
        item.setLabel("left", "depth mm")  # no SI prefixes: "300 mmm" would be 0.3 mm
        item.showAxis("right")
        item.setLabel("right", "flow px")
        for side, width in (("left", 46), ("right", 40)):
            item.getAxis(side).setWidth(width)
            item.getAxis(side).enableAutoSIPrefix(False)
        self.flow_box = pg.ViewBox(enableMouse=False)
        item.scene().addItem(self.flow_box)
        item.getAxis("right").linkToView(self.flow_box)
        self.flow_box.setXLink(item)
        item.vb.sigResized.connect(self._sync_boxes)
        self.depth_line = item.plot([], [], pen=DEPTH_PEN, symbol="o", symbolSize=5,
                                    symbolBrush=DEPTH_PEN.color(), name="depth")
        self.flow_line = pg.PlotDataItem([], [], pen=FLOW_PEN, symbol="t", symbolSize=5,
                                         symbolBrush=FLOW_PEN.color())
        self.flow_box.addItem(self.flow_line)
        self.marks = {name: pg.InfiniteLine(angle=90, pen=pg.mkPen(color, width=1.5))
                      for name, color in MARK_COLORS.items()}
        self.suggested = pg.InfiniteLine(angle=90, pen=SUGGESTED_PEN)
        self.current = pg.InfiniteLine(angle=90, pen=pg.mkPen((230, 230, 230, 120), width=1))
        for line in (*self.marks.values(), self.suggested, self.current):
            line.hide()
            item.addItem(line, ignoreBounds=True)
        item.scene().sigMouseClicked.connect(self._on_click)

        self.spot_button = QtWidgets.QPushButton("Spot apex")
        self.spot_button.setToolTip("compute the motion of every frame against the onset "
                                    "(depth and DIS flow) and suggest the apex")
        self.use_button = QtWidgets.QPushButton("Use suggested apex")
        self.use_button.setToolTip("set this row's apex to the suggested frame (an undoable "
                                   "annotation edit; a skipped onset = apex row becomes a sample)")
        self.summary = QtWidgets.QLabel("")
        self.summary.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        legend = QtWidgets.QLabel(
            "<span style='color:#46a0ff'>● depth</span> "
            "<span style='color:#ffaa28'>▲ flow</span> "
            "<span style='color:#50dc78'>┆ suggested</span> "
            "<span style='color:#eb4646'>│ apex</span>")
        legend.setWordWrap(True)
        legend.setToolTip("99th percentile over the face of |ΔP| (mm) and of the DIS flow "
                          "length (px) against the onset; dashed: the suggested apex")
        side = QtWidgets.QVBoxLayout()
        side.addWidget(self.spot_button)
        side.addWidget(self.use_button)
        side.addWidget(legend)
        side.addWidget(self.summary)
        side.addStretch(1)
        side_widget = QtWidgets.QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(215)
        self.summary.setWordWrap(True)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(2, 0, 2, 0)
        lay.addWidget(self.plot, 1)
        lay.addWidget(side_widget)

        self.spot_button.clicked.connect(self.spot)
        self.use_button.clicked.connect(self.use_suggested_apex)
        state.rowChanged.connect(self._on_row)
        state.datasetChanged.connect(self._on_dataset)
        state.frameChanged.connect(self._on_frame)
        jobs.partial.connect(self._on_result)
        jobs.failed.connect(self._on_failed)
        self._dataset_root = None
        self._on_row(None)

    # --- state -> view ------------------------------------------------------------------------
    def _on_dataset(self, dataset) -> None:
        root = dataset.root if dataset is not None else None
        if root != self._dataset_root:  # another dataset; a reopen with edits keeps the curves
            self._curves = Memo(32)
            self._dataset_root = root

    def _on_row(self, row) -> None:
        self.jobs.cancel(self.JOB)
        curve = self._curves.get(curve_key(row)) if row is not None else None
        self._show(curve)
        self.spot_button.setEnabled(spottable(row) and curve is None)

    def _marks_of(self, row) -> dict[str, int]:
        if row is None:
            return {}
        values = {"onset": row.onset, "apex": getattr(row, "apex", None),
                  "offset": getattr(row, "offset", None)}
        return {k: v for k, v in values.items() if v}

    def _show(self, curve) -> None:
        self.curve = curve
        row = self.state.row
        if curve is None:
            self.depth_line.setData([], [])
            self.flow_line.setData([], [])
            self.suggested.hide()
            self.summary.setText("" if row is None or not spottable(row)
                                 else "no curve yet: Spot apex")
        else:
            self.depth_line.setData(curve.frames, curve.depth_mm)
            flow = np.nan_to_num(curve.flow_px)
            self.flow_line.setData(curve.frames, flow)
            self.flow_box.setYRange(0, max(float(flow.max()), 1e-3) * 1.1, padding=0)
            self.plot.getPlotItem().vb.setYRange(0, max(float(curve.depth_mm.max()), 1e-3) * 1.1,
                                                  padding=0)
            self.plot.setXRange(curve.frames[0] - 0.5, curve.frames[-1] + 0.5, padding=0)
            self.suggested.setValue(curve.apex)
            self.suggested.show()
            flow_note = f", flow peaks at {curve.flow_apex}" if curve.flow_apex else ""
            self.summary.setText(f"suggested apex <b>{curve.apex}</b> (annotated "
                                 f"{curve.annotated_apex}), confidence {curve.confidence:.2f}"
                                 f"{flow_note}")
        marks = self._marks_of(row)
        for name, line in self.marks.items():
            if name in marks:
                line.setValue(marks[name])
                line.show()
            else:
                line.hide()
        self._on_frame(self.state.frame)
        self._update_use_button()

    def _update_use_button(self) -> None:
        row, curve = self.state.row, self.curve
        usable = (row is not None and curve is not None and self.session.store is not None
                  and curve.apex != self._marks_of(row).get("apex"))
        self.use_button.setEnabled(usable)
        self.use_button.setText(f"Use suggested apex {curve.apex}" if curve is not None
                                else "Use suggested apex")

    def _on_frame(self, frame: int) -> None:
        if frame and self.curve is not None:
            self.current.setValue(frame)
            self.current.show()
        else:
            self.current.hide()

    def _sync_boxes(self) -> None:
        vb = self.plot.getPlotItem().vb
        self.flow_box.setGeometry(vb.sceneBoundingRect())
        self.flow_box.linkedViewChanged(vb, self.flow_box.XAxis)

    def _on_click(self, event) -> None:
        if self.curve is None:
            return
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = vb.mapSceneToView(event.scenePos()).x()
        frames = self.curve.frames
        self.state.set_frame(int(frames[np.argmin(np.abs(frames - x))]))

    # --- jobs ---------------------------------------------------------------------------------
    def spot(self) -> None:
        """Compute the selected row's motion curve in the background."""
        row, dataset = self.state.row, self.state.dataset
        if row is None or dataset is None or not spottable(row):
            return
        self.summary.setText("computing the motion curve…")
        self.spot_button.setEnabled(False)
        self.jobs.start(self.JOB, spot_job(dataset, row, self.state.cloud_params),
                        f"motion curve of {row.subject} {row.clip}")

    def _on_result(self, name: str, result) -> None:
        if name != self.JOB or result is None:
            return
        key, curve = result
        self._curves.put(key, curve)
        row = self.state.row
        if row is not None and curve_key(row) == key:
            self._show(curve)

    def _on_failed(self, name: str, _message: str) -> None:
        if name == self.JOB:
            self.summary.setText("the motion curve failed (see the message)")
            self.spot_button.setEnabled(spottable(self.state.row))

    def use_suggested_apex(self) -> None:
        """Set the row's apex to the suggested one: an undoable edit in the annotation sidecar
        (saved with the others); the sheet's value clears the edit's apex."""
        row, curve = self.state.row, self.curve
        if row is None or curve is None or self.session.store is None:
            return
        sheet_apex = self.session.sheet_values(row.key).get("apex")
        current = self.session.edit_of(row.key) or SampleEdit()
        apex = None if str(sheet_apex) == str(curve.apex) else curve.apex
        self.session.set_edit(row.key, replace(current, apex=apex),
                              f"suggested apex {curve.apex} of {row.key}")
