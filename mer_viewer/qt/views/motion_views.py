"""Onset→apex motion in 2D: optical flow (HSV, colour wheel) and the cloud's r over RGB."""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

from ...core.face import Box
from ...core.flow import DEFAULT_FLOW, FLOW_METHODS, FlowField, color_wheel
from ...core.pipeline import MotionCloud
from .image_view import ImagePanel, fix_bar_width, qimage_from_rgb

HEAT_MAP = "inferno"
HEAT_LEVELS = (0.0, 1.0)  # r (mm) of the colour bar before any cloud


class FlowView(ImagePanel):
    """Optical flow between the aligned onset and apex crops, placed on the face box."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("Optical flow", parent)
        self.method_box = QtWidgets.QComboBox()
        self.method_box.addItems(FLOW_METHODS)
        self.method_box.setCurrentText(DEFAULT_FLOW)
        self.method_box.setToolTip("optical flow method (on the aligned onset/apex crops)")
        self.wheel = QtWidgets.QLabel()
        self.wheel.setPixmap(QtGui.QPixmap.fromImage(qimage_from_rgb(color_wheel(30))))
        self.wheel.setToolTip("colour = direction of the flow (y down), brightness = length; "
                              "black = no motion")
        # room for "max 00.00 px" whatever the text (the panel never resizes with it)
        self.detail.setMinimumWidth(self.detail.fontMetrics().horizontalAdvance("max 00.00 px"))
        self.header.addWidget(self.wheel)
        self.header.addWidget(self.method_box)
        self._flow: np.ndarray | None = None
        self._box: Box | None = None

    @property
    def method(self) -> str:
        return self.method_box.currentText()

    def set_flow(self, flow: FlowField | None, box: Box | None,
                 frame_shape: tuple[int, int] | None = None) -> None:
        """Show ``flow`` (its colour coding, computed once with it) on the face ``box``."""
        self._flow = flow.flow if flow is not None else None
        self._box = box
        if flow is None or box is None:
            self.image.clear()
            self.detail.setText("")
            return
        self.image.setImage(flow.rgb, autoLevels=False, levels=(0, 255))
        self.image.setRect(box.x0, box.y0, box.width, box.height)
        self.set_frame_shape(frame_shape)
        self.detail.setText(f"max {flow.max_px:.2f} px")  # the method is in the box
        self.detail.setToolTip(f"full brightness at {flow.scale_px:.2f} px (99th percentile "
                               "of the lengths; the few longer vectors are clipped)")

    def show_failure(self, message: str) -> None:
        """The flow could not be computed: say so beside the title (the image stays empty)."""
        self.set_flow(None, None)
        self.detail.setText(f"(failed: {message})")

    def clear(self) -> None:
        super().clear()
        self._flow = self._box = None
        self.detail.setText("")

    def describe(self, u: int, v: int) -> str:
        text = super().describe(u, v)
        f, b = self._flow, self._box
        if f is not None and b is not None and b.x0 <= u < b.x1 and b.y0 <= v < b.y1:
            dx, dy = f[v - b.y0, u - b.x0]
            text += f"   flow ({dx:+.2f}, {dy:+.2f}) px"
        return text


def motion_map_mm(cloud: MotionCloud) -> np.ndarray:
    """(h, w) float32 r in mm over the cloud's box; NaN where no point was kept."""
    box = cloud.box
    out = np.full((box.height, box.width), np.nan, dtype=np.float32)
    out[cloud.pixels[:, 1] - box.y0, cloud.pixels[:, 0] - box.x0] = cloud.motion[:, 0] * 1e3
    return out


class HeatmapView(ImagePanel):
    """The cloud's motion amplitude r (mm) as a heat map over the grey frame."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("Motion heat map", parent)
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(5)
        self.heat.setOpacity(0.75)
        self.view.addItem(self.heat)
        self.bar = pg.ColorBarItem(values=HEAT_LEVELS, colorMap=pg.colormap.get(HEAT_MAP),
                                   label="r (mm)", width=14, interactive=True)
        self.bar.setImageItem(self.heat)
        fix_bar_width(self.bar, "0.000")
        self.layout_widget.addItem(self.bar, row=0, col=1)
        self.opacity = QtWidgets.QSlider()
        self.opacity.setOrientation(pg.QtCore.Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(75)
        self.opacity.setMaximumWidth(90)
        self.opacity.setToolTip("heat map opacity")
        self.opacity.valueChanged.connect(lambda v: self.heat.setOpacity(v / 100))
        self.header.addWidget(self.opacity)
        self._map: np.ndarray | None = None
        self._box: Box | None = None

    def set_frame(self, rgb: np.ndarray | None) -> None:
        self.show_notice(None)
        if rgb is None:
            self.image.clear()
            return
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # 0.1 of the time of a float mean
        self.image.setImage(grey, autoLevels=False, levels=(0, 255))
        self.set_frame_shape(rgb.shape[:2])

    def set_cloud(self, cloud: MotionCloud | None) -> None:
        if cloud is None:
            self._map = self._box = None
            self.heat.clear()
            self.bar.setLevels(HEAT_LEVELS)  # not the previous clip's r scale
            return
        self._map, self._box = motion_map_mm(cloud), cloud.box
        top = float(cloud.provenance.get("r_reference_m") or 0) * 1e3
        if not top > 0:
            finite = self._map[np.isfinite(self._map)]
            top = float(np.percentile(finite, 99)) if finite.size else 1.0
        self.heat.setImage(self._map, autoLevels=False)
        self.heat.setRect(cloud.box.x0, cloud.box.y0, cloud.box.width, cloud.box.height)
        self.bar.setLevels((0.0, max(top, 1e-3)))

    def describe(self, u: int, v: int) -> str:
        text = super().describe(u, v)
        m, b = self._map, self._box
        if m is not None and b is not None and b.x0 <= u < b.x1 and b.y0 <= v < b.y1:
            r = m[v - b.y0, u - b.x0]
            text += f"   r = {r:.2f} mm" if np.isfinite(r) else "   no face point"
        return text
