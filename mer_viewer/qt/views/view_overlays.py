"""What a 3D view draws over its points: an axes gizmo (camera-frame axes) and a scale bar."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

#: Display axes (see ``cloud_colors.display_points``) named by the camera-frame axis they show.
AXES = (((1, 0, 0), "X", QtGui.QColor(235, 95, 80)),
        ((0, 1, 0), "Z", QtGui.QColor(90, 150, 245)),
        ((0, 0, 1), "−Y", QtGui.QColor(110, 210, 110)))
SCALE_BAR_PX = 90  # the longest a bar may be, on screen


def mm_per_pixel(opts: dict, width_px: float) -> float:
    """Millimetres that one pixel spans at the camera's centre of rotation, for an image
    ``width_px`` wide (pyqtgraph's field of view is horizontal, display units are mm)."""
    return opts["distance"] * 2 * math.tan(math.radians(opts["fov"]) / 2) / max(1.0, width_px)


def nice_length(limit_mm: float) -> float:
    """The longest of 1, 2, 5 × 10^k mm not above ``limit_mm``."""
    if limit_mm <= 0 or not math.isfinite(limit_mm):
        return 0.0
    k = math.floor(math.log10(limit_mm))
    for m in (5, 2, 1):
        if m * 10 ** k <= limit_mm:
            return m * 10 ** k
    return 10 ** k


def scale_bar(opts: dict, width_px: float, scale: float = 1.0) -> tuple[float, float]:
    """(length in mm, length in image pixels) of the bar for an image ``width_px`` wide whose
    on-screen parts are ``scale`` times larger."""
    per_px = mm_per_pixel(opts, width_px)
    length = nice_length(SCALE_BAR_PX * scale * per_px)
    return length, (length / per_px if per_px > 0 else 0.0)


def _label(mm: float) -> str:
    return f"{mm:g} mm" if mm >= 1 else f"{mm * 1000:g} µm"


def paint_scale_bar(p: QtGui.QPainter, rect: QtCore.QRectF, opts: dict, scale: float = 1.0,
                    color: QtGui.QColor = QtGui.QColor(235, 235, 235)) -> float:
    """A bar of a round length in the bottom-right corner of ``rect``; returns the length (mm)."""
    length, px = scale_bar(opts, rect.width(), scale)
    if px < 4:
        return 0.0
    margin = 10 * scale
    y = rect.bottom() - margin
    x1 = rect.right() - margin
    x0 = x1 - px
    p.save()
    p.setPen(QtGui.QPen(color, 2 * scale))
    p.drawLine(QtCore.QPointF(x0, y), QtCore.QPointF(x1, y))
    p.drawLine(QtCore.QPointF(x0, y - 4 * scale), QtCore.QPointF(x0, y + 1))
    p.drawLine(QtCore.QPointF(x1, y - 4 * scale), QtCore.QPointF(x1, y + 1))
    font = QtGui.QFont(p.font())
    font.setPixelSize(max(6, round(11 * scale)))
    p.setFont(font)
    p.drawText(QtCore.QRectF(x0 - 40 * scale, y - 20 * scale, px + 80 * scale, 14 * scale),
               QtCore.Qt.AlignmentFlag.AlignCenter, _label(length))
    p.restore()
    return length


def paint_axes_gizmo(p: QtGui.QPainter, rect: QtCore.QRectF, view_matrix: QtGui.QMatrix4x4,
                     scale: float = 1.0) -> None:
    """The display axes as the camera sees them, from a point in the bottom-left corner;
    the axis pointing toward the viewer is drawn last (on top)."""
    size = 26 * scale
    origin = QtCore.QPointF(rect.left() + 14 * scale + size, rect.bottom() - 14 * scale - size)
    ends = []
    for axis, name, color in AXES:
        v = view_matrix.mapVector(QtGui.QVector3D(*axis))  # eye space: x right, y up
        ends.append((v.z(), QtCore.QPointF(origin.x() + size * v.x(),
                                           origin.y() - size * v.y()), name, color))
    font = QtGui.QFont(p.font())
    font.setPixelSize(max(6, round(10 * scale)))
    font.setBold(True)
    p.save()
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    p.setFont(font)
    for _z, end, name, color in sorted(ends, key=lambda e: e[0]):
        p.setPen(QtGui.QPen(color, 2 * scale))
        p.drawLine(origin, end)
        direction = end - origin
        length = math.hypot(direction.x(), direction.y()) or 1.0
        label = end + direction * (8 * scale / length)
        p.drawText(QtCore.QRectF(label.x() - 10 * scale, label.y() - 7 * scale, 20 * scale,
                                 14 * scale), QtCore.Qt.AlignmentFlag.AlignCenter, name)
    p.restore()


def paint_overlays(p: QtGui.QPainter, rect: QtCore.QRectF, opts: dict,
                   view_matrix: QtGui.QMatrix4x4, scale: float = 1.0) -> None:
    paint_axes_gizmo(p, rect, view_matrix, scale)
    paint_scale_bar(p, rect, opts, scale)


class _Corner(QtWidgets.QWidget):
    """A small transparent child of the 3D view in one corner (the GL picture shows through;
    Qt composes it over the view on screen and in window grabs)."""

    def __init__(self, view, kind: str):
        super().__init__(view)
        self.view, self.kind = view, kind
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TranslucentBackground)

    def paintEvent(self, _event) -> None:  # noqa: N802
        view = self.view
        p = QtGui.QPainter(self)
        try:
            p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
            # the whole view's rect, moved so that this corner's part lands here
            rect = QtCore.QRectF(-self.x(), -self.y(), view.width(), view.height())
            if self.kind == "gizmo":
                paint_axes_gizmo(p, rect, view.viewMatrix())
            else:
                paint_scale_bar(p, rect, view.opts)
        finally:
            p.end()


class ViewOverlays:
    """The axes gizmo (bottom left) and scale bar (bottom right) of one CloudView."""

    GIZMO = QtCore.QSize(92, 92)
    BAR = QtCore.QSize(SCALE_BAR_PX + 90, 44)

    def __init__(self, view):
        self.view = view
        self.enabled = True
        self.corners = (_Corner(view, "gizmo"), _Corner(view, "bar"))
        self.place()

    def place(self) -> None:
        w, h = self.view.width(), self.view.height()
        gizmo, bar = self.corners
        gizmo.setGeometry(0, h - self.GIZMO.height(), self.GIZMO.width(), self.GIZMO.height())
        bar.setGeometry(w - self.BAR.width(), h - self.BAR.height(), self.BAR.width(),
                        self.BAR.height())
        self.refresh()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self.refresh()

    def refresh(self) -> None:
        shown = self.enabled and len(self.view.points) > 0
        for corner in self.corners:
            corner.setVisible(shown)
            if shown:
                corner.update()
