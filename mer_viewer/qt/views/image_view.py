"""One 2D image panel in full-frame pixel coordinates, with crop box, landmarks and a marker."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ...core.face import Box
from ..infra.scene_activation import ignore_window_activation, repaint_changes_at_once
from .elided import ElidedLabel

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

BOX_PEN = pg.mkPen((80, 255, 120), width=2, cosmetic=True)
MARKER_PEN = pg.mkPen((255, 230, 0), width=2, cosmetic=True)


class ImagePanel(QtWidgets.QWidget):
    """A titled, zoomable image in full-frame pixels (u right, v down) plus overlays.

    Subclasses fill ``self.image`` and may add items to ``self.view`` or a colour bar to
    ``self.layout_widget``; ``describe(u, v)`` gives the readout under the mouse.
    ``pixelClicked(u, v)`` reports a left click that was not a drag.
    """

    pixelClicked = QtCore.Signal(float, float)
    pixelHovered = QtCore.Signal(float, float)

    def __init__(self, title: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(title.replace(" ", "_").lower())
        self.title = QtWidgets.QLabel(f"<b>{title}</b>")
        self.header = QtWidgets.QHBoxLayout()
        self.header.setContentsMargins(4, 0, 4, 0)
        self.header.addWidget(self.title)
        # what is shown, beside the title: takes the free room, elided, never resizes the panel
        self.detail = ElidedLabel()
        self.header.addWidget(self.detail, 1)
        self.readout = ElidedLabel(" ")
        self.readout.setStyleSheet("color: palette(mid);")
        self.layout_widget = pg.GraphicsLayoutWidget()
        ignore_window_activation(self.layout_widget)
        self.layout_widget.setBackground((25, 25, 25))
        self.layout_widget.ci.setContentsMargins(0, 0, 0, 0)
        self.view = self.layout_widget.addViewBox(row=0, col=0, lockAspect=True, invertY=True,
                                                  enableMenu=False)
        self.view.disableAutoRange()  # the panel decides (fit frame / face, linked views)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.box_item = BoxItem()
        self.box_item.setPen(BOX_PEN)
        self.box_item.setZValue(20)
        self.view.addItem(self.box_item)
        self.landmark_item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(0, 220, 255))
        self.landmark_item.setZValue(21)
        self.view.addItem(self.landmark_item)
        self.marker_item = pg.ScatterPlotItem(size=18, pen=MARKER_PEN, brush=None, symbol="o")
        self.marker_item.setZValue(30)
        self.view.addItem(self.marker_item)
        # what stands in for a frame that cannot be read (the image is cleared)
        self.notice = pg.TextItem(color=(255, 200, 200), fill=(60, 20, 20, 220),
                                  anchor=(0.5, 0.5))
        self.notice.setZValue(40)
        self.notice.setVisible(False)
        self.view.addItem(self.notice)
        self._frame_shape: tuple[int, int] | None = None
        self._press_pos: QtCore.QPointF | None = None

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        lay.addLayout(self.header)
        lay.addWidget(self.layout_widget, 1)
        lay.addWidget(self.readout)
        repaint_changes_at_once(self.layout_widget)
        self.layout_widget.scene().sigMouseMoved.connect(self._on_move)
        self.layout_widget.scene().sigMouseClicked.connect(self._on_click)

    # --- content ------------------------------------------------------------------------------
    def set_frame_shape(self, shape: tuple[int, int] | None) -> None:
        """Remember the frame size (limits of ``Fit``)."""
        if shape is not None:
            self._frame_shape = tuple(shape)

    @property
    def frame_shape(self) -> tuple[int, int] | None:
        """(height, width) of the full frame in pixels, once known."""
        return self._frame_shape

    def set_box(self, box: Box | None) -> None:
        rect = QtCore.QRectF() if box is None else QtCore.QRectF(box.x0, box.y0, box.width,
                                                                  box.height)
        self.box_item.setRect(rect)

    @property
    def box_shown(self) -> bool:
        """Whether the crop box is drawn (a face box is known and the overlay is on)."""
        return not self.box_item.rect().isEmpty() and self.box_item.opacity() > 0

    def set_landmarks(self, landmarks: np.ndarray | None) -> None:
        if landmarks is None or len(landmarks) == 0:
            self.landmark_item.clear()
        else:
            self.landmark_item.setData(pos=np.asarray(landmarks, dtype=float) + 0.5)

    def set_marker(self, uv: tuple[float, float] | None) -> None:
        if uv is None:
            self.marker_item.clear()
        else:
            self.marker_item.setData(pos=[(uv[0] + 0.5, uv[1] + 0.5)])

    @property
    def marker(self) -> tuple[float, float] | None:
        data = self.marker_item.getData()
        if data is None or len(data[0]) == 0:
            return None
        return float(data[0][0]) - 0.5, float(data[1][0]) - 0.5

    def show_overlays(self, box: bool, landmarks: bool) -> None:
        self.box_item.setOpacity(1.0 if box else 0.0)
        self.landmark_item.setVisible(landmarks)

    def clear(self) -> None:
        """Nothing of the previous clip: image, overlays, notice, readout."""
        self.image.clear()
        self.set_box(None)
        self.set_landmarks(None)
        self.set_marker(None)
        self.show_notice(None)
        self.readout.setText(" ")

    def show_notice(self, text: str | None) -> None:
        """A short text in the middle of the panel (None hides it)."""
        if text is None:
            self.notice.setVisible(False)
            return
        self.notice.setText(text)
        self.notice.setPos(self.view.viewRect().center())
        self.notice.setVisible(True)

    @property
    def notice_text(self) -> str:
        return self.notice.textItem.toPlainText() if self.notice.isVisible() else ""

    @property
    def has_image(self) -> bool:
        return self.image.image is not None

    def describe(self, u: int, v: int) -> str:
        """Text shown under the image for full-frame pixel (u, v); subclasses add values."""
        return f"(u, v) = ({u}, {v})"

    def visible_range(self) -> QtCore.QRectF:
        return self.view.viewRect()

    # --- mouse --------------------------------------------------------------------------------
    def _scene_to_pixel(self, scene_pos: QtCore.QPointF) -> tuple[float, float] | None:
        if not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.view.mapSceneToView(scene_pos)
        return p.x(), p.y()

    def _on_move(self, scene_pos: QtCore.QPointF) -> None:
        uv = self._scene_to_pixel(scene_pos)
        if uv is None:
            return
        u, v = int(np.floor(uv[0])), int(np.floor(uv[1]))
        self.readout.setText(self.describe(u, v))
        self.pixelHovered.emit(uv[0], uv[1])

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or event.double():
            return
        uv = self._scene_to_pixel(event.scenePos())
        if uv is not None:
            self.click_pixel(uv[0], uv[1])

    def click_pixel(self, u: float, v: float) -> None:
        """What a left click at full-frame (u, v) does (also called by tests)."""
        self.pixelClicked.emit(float(np.floor(u)), float(np.floor(v)))


class BoxItem(QtWidgets.QGraphicsRectItem):
    """The face crop box; an empty rectangle draws nothing.

    The box is never hidden (``hide()``, or opacity 0) on a clip switch: an item made
    invisible and visible again while the window held its paints (paint_hold.py) was
    repainted by Qt a second time, 30-60 ms after the first, along with everything
    under it: a second full paint of the flow, depth and heat-map panels.
    """

    def paint(self, painter, option, widget=None) -> None:
        if not self.rect().isEmpty():
            super().paint(painter, option, widget)


def fix_bar_width(bar: pg.ColorBarItem, widest: str) -> None:
    """Reserve room for tick labels as wide as ``widest`` on a colour bar's axis: left to
    itself the axis resizes to its labels while painting, and new levels (a new clip)
    moved every linked panel and painted them all a second time."""
    width = QtGui.QFontMetrics(QtGui.QFont()).horizontalAdvance(widest)
    bar.axis.setStyle(autoExpandTextSpace=False, tickTextWidth=width)


class ViewLink(QtCore.QObject):
    """Pan and zoom shared by panels of different sizes: one centre and one scale
    (image pixels per screen pixel) for all, applied to each panel's own size.

    Only user pans/zooms and resizes move it (never the programmatic range changes
    it causes itself, which with locked aspect ratios would feed back and grow).
    ``manual`` fires on a user pan/zoom.
    """

    manual = QtCore.Signal()

    def __init__(self, panels: list[ImagePanel], parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.panels = list(panels)
        self.centre = QtCore.QPointF(640, 360)
        self.scale = 1.0  # image pixels per screen pixel
        self._applying = False
        for panel in self.panels:
            panel.view.sigRangeChangedManually.connect(lambda *_a, p=panel: self._user(p))
            panel.view.sigResized.connect(lambda *_a, p=panel: self._apply(p))

    def _user(self, source: ImagePanel) -> None:
        if self._applying:
            return
        rect = source.view.viewRect()
        self.centre = rect.center()
        self.scale = rect.width() / max(1.0, source.view.width())
        for panel in self.panels:
            if panel is not source:
                self._apply(panel)
        self.manual.emit()

    def _apply(self, panel: ImagePanel) -> None:
        w = panel.view.width() * self.scale
        h = panel.view.height() * self.scale
        if w <= 0 or h <= 0:
            return
        self._applying = True
        try:
            panel.view.setRange(QtCore.QRectF(self.centre.x() - w / 2, self.centre.y() - h / 2,
                                              w, h), padding=0.0)
        finally:
            self._applying = False

    def show_rect(self, rect: QtCore.QRectF, padding: float = 0.0) -> None:
        """Centre on ``rect`` at the scale where it fits every panel."""
        self.centre = rect.center()
        self.scale = max(max(rect.width() / max(1.0, p.view.width()),
                             rect.height() / max(1.0, p.view.height())) for p in self.panels)
        self.scale *= 1 + 2 * padding
        for panel in self.panels:
            self._apply(panel)
            # pyqtgraph would update the view transform while painting, which marks the
            # items dirty again: a second paint of every panel (~50 ms under llvmpipe)
            panel.view.prepareForPaint()

    def view_rect(self) -> QtCore.QRectF:
        """What the first panel shows (image pixels)."""
        return self.panels[0].view.viewRect()


def qimage_from_rgb(rgb: np.ndarray) -> QtGui.QImage:
    """(h, w, 3) uint8 -> QImage (copied, so the array may go away)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
