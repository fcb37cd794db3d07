"""The current frame as RGB and as depth (colour map with legend, invalid pixels in magenta)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from ...core.face import Box
from .image_view import ImagePanel, fix_bar_width

INVALID_RGBA = (255, 0, 255, 255)
#: Colour table of the invalid-depth mask (0 = valid: transparent, 1 = invalid).
_INVALID_LUT = np.array([(0, 0, 0, 0), INVALID_RGBA], dtype=np.uint8)
DEPTH_MAPS = ("turbo", "viridis", "CET-L1")


class RgbView(ImagePanel):
    """The colour frame of the current clip."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("RGB", parent)
        self._rgb: np.ndarray | None = None

    def set_frame(self, rgb: np.ndarray | None) -> None:
        self._rgb = rgb
        self.show_notice(None)
        if rgb is None:
            self.image.clear()
            return
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        self.set_frame_shape(rgb.shape[:2])

    def clear(self) -> None:
        super().clear()
        self._rgb = None

    def describe(self, u: int, v: int) -> str:
        text = super().describe(u, v)
        if self._rgb is not None and 0 <= v < self._rgb.shape[0] and 0 <= u < self._rgb.shape[1]:
            r, g, b = self._rgb[v, u]
            text += f"   RGB ({r}, {g}, {b})"
        return text


def depth_levels(depth_mm: np.ndarray, box: Box | None = None) -> tuple[float, float]:
    """Colour range in mm: 2nd–98th percentile of valid depth in the face box (or frame)."""
    region = depth_mm[box.slices] if box is not None else depth_mm
    valid = region[region > 0]
    if valid.size < 16:
        valid = depth_mm[depth_mm > 0]
    if valid.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(valid, [2, 98])
    return float(lo), float(max(hi, lo + 1.0))


class DepthView(ImagePanel):
    """Depth in mm through a colour map, a colour bar, and magenta where depth is 0 (invalid)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("Depth", parent)
        self.cmap_box = QtWidgets.QComboBox()
        self.cmap_box.addItems(DEPTH_MAPS)
        self.cmap_box.setToolTip("colour map of the depth")
        self.header.addWidget(QtWidgets.QLabel("<span style='color:#f0f'>■</span> no depth"))
        self.header.addWidget(self.cmap_box)
        self.invalid = pg.ImageItem(axisOrder="row-major")
        self.invalid.setZValue(5)
        self.view.addItem(self.invalid)
        self.bar = pg.ColorBarItem(values=(500, 800), colorMap=pg.colormap.get(DEPTH_MAPS[0]),
                                   label="depth (mm)", width=14, interactive=True)
        self.bar.setImageItem(self.image)
        fix_bar_width(self.bar, "00000")
        self.layout_widget.addItem(self.bar, row=0, col=1)
        self.cmap_box.currentTextChanged.connect(
            lambda name: self.bar.setColorMap(pg.colormap.get(name)))
        self._depth: np.ndarray | None = None
        self._box: Box | None = None
        self._auto_levels = True

    def set_box(self, box: Box | None) -> None:
        super().set_box(box)
        if box != self._box:
            self._box = box
            self._auto_levels = True
            if self._depth is not None:  # only the colour range follows the face box
                self.bar.setLevels(depth_levels(self._depth, box))
                self._auto_levels = False

    def set_frame(self, depth_mm: np.ndarray | None) -> None:
        self._depth = depth_mm
        self.show_notice(None)
        if depth_mm is None:
            self.image.clear()
            self.invalid.clear()
            return
        invalid = depth_mm == 0
        if depth_mm.dtype == np.uint16:
            # Integer mm through pyqtgraph's lookup table (~30× faster than floats with NaN);
            # 0 gets the lowest colour, but the opaque invalid mask covers exactly those pixels.
            shown = depth_mm
        else:
            shown = depth_mm.astype(np.float32)
            shown[invalid] = np.nan
        levels = depth_levels(depth_mm, self._box) if self._auto_levels else self.bar.levels()
        self._auto_levels = False
        self.image.setImage(shown, autoLevels=False)
        self.bar.setLevels(levels)
        # 0/1 through a 2-entry colour table: no (H, W, 4) array to fill per frame
        self.invalid.setImage(invalid.view(np.uint8), autoLevels=False, levels=(0, 1),
                              lut=_INVALID_LUT)
        self.set_frame_shape(depth_mm.shape)

    def clear(self) -> None:
        super().clear()
        self.invalid.clear()
        self._depth = None  # a new face box must not pick colour levels from the old frame

    def new_clip(self) -> None:
        """The next frame picks its own colour range (a new face depth)."""
        self._auto_levels = True

    def describe(self, u: int, v: int) -> str:
        text = super().describe(u, v)
        d = self._depth
        if d is not None and 0 <= v < d.shape[0] and 0 <= u < d.shape[1]:
            text += f"   depth {d[v, u]} mm" if d[v, u] else "   no depth (0)"
        return text
