"""Legends of the 3D colours: the (r̂, θ̂, φ̂) channels explained, or one channel's colour bar."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .cloud_colors import COLOR_MODES, colormap_colors

NO_MOTION = "black = no motion (r below the 0.3 mm noise floor)"
#: modes whose colours paint motionless points black
BLACK_STILL = ("motion", "r", "theta", "phi")
# (channel, what the colour means, low end, high end)
_CHANNELS = (
    ("R = r̂", "motion amplitude ‖ΔP‖", "0", "P99"),
    ("G = θ̂", "direction in the image plane", "−180°", "+180°"),
    ("B = φ̂", "elevation toward/away from camera", "−90°", "+90°"),
)


def _gradient(colors: np.ndarray) -> QtGui.QLinearGradient:
    grad = QtGui.QLinearGradient(0, 0, 1, 0)
    grad.setCoordinateMode(QtGui.QGradient.CoordinateMode.ObjectBoundingMode)
    for i, c in enumerate(colors):
        grad.setColorAt(i / max(1, len(colors) - 1),
                        QtGui.QColor.fromRgbF(float(c[0]), float(c[1]), float(c[2])))
    return grad


class ColorLegend(QtWidgets.QWidget):
    """Explains the colours of the 3D views for the current mode; ``r_max_mm`` labels P99."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.mode = "motion"
        self.r_max_mm: float | None = None
        # the height of the tallest legend (motion: three channels and black), whatever the
        # mode: switching modes must not move the 3D views
        self.setFixedHeight(4 * self._row_height() + 4)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Fixed)

    def set_mode(self, mode: str, r_max_mm: float | None = None) -> None:
        self.mode, self.r_max_mm = mode, r_max_mm
        self.setToolTip(self.text())
        self.update()

    def text(self) -> str:
        """The legend as plain text (tool tip, accessibility, tests)."""
        if self.mode == "motion":
            p99 = f"{self.r_max_mm:.2f} mm" if self.r_max_mm else "P99(r)"
            lines = [f"{a}: {b} ({lo} … {hi.replace('P99', p99)})" for a, b, lo, hi in _CHANNELS]
            return "\n".join(lines + [NO_MOTION])
        if self.mode == "rgb":
            return "onset frame colours of the face points"
        if self.mode in BLACK_STILL:
            return f"{COLOR_MODES[self.mode][0]}\n{NO_MOTION}"
        return COLOR_MODES[self.mode][0]

    def _rows(self) -> list[tuple[str, str, QtGui.QLinearGradient, str, str]]:
        ramp = np.linspace(0, 1, 32)
        if self.mode == "motion":
            rows = []
            for i, (name, what, lo, hi) in enumerate(_CHANNELS):
                c = np.zeros((32, 3))
                c[:, i] = ramp
                if hi == "P99" and self.r_max_mm:
                    hi = f"{self.r_max_mm:.2f} mm"
                rows.append((name, what, _gradient(c), lo, hi))
            return rows
        if self.mode in ("r", "theta", "phi"):
            i = {"r": 0, "theta": 1, "phi": 2}[self.mode]
            name, what, lo, hi = _CHANNELS[i]
            if hi == "P99" and self.r_max_mm:
                hi = f"{self.r_max_mm:.2f} mm"
            colors = colormap_colors(ramp, COLOR_MODES[self.mode][1])
            return [(name, what, _gradient(colors), lo, hi)]
        if self.mode == "saliency":
            colors = colormap_colors(ramp, COLOR_MODES["saliency"][1])
            return [("saliency", "gradient of the predicted class", _gradient(colors), "low", "high")]
        return []

    def paintEvent(self, _event) -> None:
        p = QtGui.QPainter(self)
        text_col = self.palette().color(QtGui.QPalette.ColorRole.WindowText)
        self.paint(p, self.width(), text_col)
        p.end()

    def height_for(self, width: float) -> float:
        """The height ``paint`` needs at ``width`` (logical pixels, this widget's font)."""
        image = QtGui.QImage(1, 1, QtGui.QImage.Format.Format_RGB32)
        p = QtGui.QPainter(image)
        p.setFont(self.font())
        height = self.paint(p, width, QtGui.QColor(0, 0, 0), measure_only=True)
        p.end()
        return height

    def paint(self, p: QtGui.QPainter, width: float, text_col: QtGui.QColor,
              measure_only: bool = False) -> float:
        """Draw the legend from (0, 0) at ``width`` with ``p`` (a widget or an exported
        image); returns the height used."""
        fm = p.fontMetrics()
        rows = self._rows()
        h = max(14, fm.height() + 2)
        if not rows:
            if not measure_only:
                p.setPen(text_col)
                p.drawText(QtCore.QRectF(4, 0, width - 8, h + 4),
                           QtCore.Qt.AlignmentFlag.AlignVCenter, self.text())
            return h + 4
        y = 2
        name_w = max(fm.horizontalAdvance(r[0]) for r in rows) + 8
        bar_w = max(60, int(width * 0.35))
        for name, what, grad, lo, hi in rows:
            if not measure_only:
                p.setPen(text_col)
                p.drawText(QtCore.QRectF(4, y, name_w, h), QtCore.Qt.AlignmentFlag.AlignVCenter,
                           name)
                x = 4 + name_w + fm.horizontalAdvance(lo) + 4
                p.drawText(QtCore.QRectF(4 + name_w, y, x, h),
                           QtCore.Qt.AlignmentFlag.AlignVCenter, lo)
                p.fillRect(QtCore.QRectF(x, y + 3, bar_w, h - 6), QtGui.QBrush(grad))
                p.drawText(QtCore.QRectF(x + bar_w + 4, y, width, h),
                           QtCore.Qt.AlignmentFlag.AlignVCenter, f"{hi}   {what}")
            y += h
        if self.mode in BLACK_STILL:
            if not measure_only:
                p.drawText(QtCore.QRectF(4, y, width, h), QtCore.Qt.AlignmentFlag.AlignVCenter,
                           NO_MOTION)
            y += h
        return y + 2

    def _row_height(self) -> int:
        return max(14, self.fontMetrics().height() + 2)
