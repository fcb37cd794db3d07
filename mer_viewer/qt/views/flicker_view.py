"""Onset ↔ apex on the aligned face crop: flicker between them, or their difference."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..infra.scene_activation import ignore_window_activation
from ..infra.state import ViewerState
from .elided import ElidedLabel

MODES = ("flicker RGB", "flicker depth", "difference depth", "difference RGB")
#: Flicker period: the eye sees a sub-millimetre change best at a few alternations a second.
FLICKER_MS = 400
#: Colour range of the depth difference, mm (blue: toward the camera, red: away).
DIFFERENCE_MM = 1.0
#: Gain of the RGB difference, so a change of 1/16 of the range is white.
RGB_GAIN = 16.0


def depth_difference(pair) -> np.ndarray:
    """(h, w) float32 apex − onset depth in mm of an aligned pair, NaN where either is invalid."""
    valid = (pair.onset_depth_mm > 0) & (pair.apex_depth_mm > 0)
    out = np.full(pair.onset_depth_mm.shape, np.nan, dtype=np.float32)
    out[valid] = pair.apex_depth_mm[valid] - pair.onset_depth_mm[valid]
    return out


def rgb_difference(pair) -> np.ndarray:
    """(h, w) uint8 |apex − onset| of the grey crops, times ``RGB_GAIN``."""
    def grey(rgb: np.ndarray) -> np.ndarray:
        return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)

    change = np.abs(grey(pair.apex_rgb) - grey(pair.onset_rgb)) * RGB_GAIN
    return np.clip(change, 0, 255).astype(np.uint8)


class OnsetApexView(QtWidgets.QWidget):
    """The current clip's aligned pair (the cloud's own crop and alignment): flicker between
    onset and apex, or show apex − onset in depth (mm) or brightness."""

    def __init__(self, state: ViewerState, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.pair = None
        self.showing_apex = False
        self.seen = False  # its dock's tab is shown (a tabbed dock stays "visible" off-screen)
        self.mode_box = QtWidgets.QComboBox()
        self.mode_box.addItems(MODES)
        self.caption = ElidedLabel("no aligned pair yet")  # never widens the dock
        self.graphics = pg.GraphicsLayoutWidget()
        ignore_window_activation(self.graphics)
        self.graphics.setBackground((25, 25, 25))
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.timer = QtCore.QTimer(self, interval=FLICKER_MS)
        self.timer.timeout.connect(self._flip)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.mode_box)
        top.addWidget(self.caption, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.graphics, 1)
        self.mode_box.currentTextChanged.connect(lambda _m: self.refresh())
        state.pairChanged.connect(self.set_pair)
        self._color_map = pg.colormap.get("CET-D1")

    @property
    def mode(self) -> str:
        return self.mode_box.currentText()

    def set_pair(self, pair) -> None:
        self.pair = pair
        self.refresh(fit=True)

    def refresh(self, fit: bool = False) -> None:
        """Show the pair in the chosen mode; flicker runs only while it is seen."""
        pair = self.pair
        flicker = self.mode.startswith("flicker")
        if pair is None:
            self.timer.stop()
            self.image.clear()
            self.caption.setText("no aligned pair yet (select a sample)")
            return
        if flicker and self.seen:
            self.timer.start()
        else:
            self.timer.stop()
        self.showing_apex = False
        self._draw()
        if fit:
            self.view.autoRange(padding=0.02)

    def _draw(self) -> None:
        pair, mode = self.pair, self.mode
        if mode == "flicker RGB":
            rgb = pair.apex_rgb if self.showing_apex else pair.onset_rgb
            self.image.setImage(rgb, autoLevels=False, levels=(0, 255), lut=None)
            which = "apex" if self.showing_apex else "onset"
            self.caption.setText(f"{which} (aligned to the onset, {FLICKER_MS} ms each)")
        elif mode == "flicker depth":
            depth = pair.apex_depth_mm if self.showing_apex else pair.onset_depth_mm
            valid = pair.onset_depth_mm[pair.onset_depth_mm > 0]
            lo, hi = (np.percentile(valid, [2, 98]) if valid.size else (0.0, 1.0))
            self.image.setImage(np.where(depth > 0, depth, np.nan), autoLevels=False,
                                levels=(float(lo), float(hi)),
                                lut=pg.colormap.get("turbo").getLookupTable(nPts=256))
            which = "apex" if self.showing_apex else "onset"
            self.caption.setText(f"{which} depth (denoised, aligned)")
        elif mode == "difference depth":
            self.image.setImage(depth_difference(pair), autoLevels=False,
                                levels=(-DIFFERENCE_MM, DIFFERENCE_MM),
                                lut=self._color_map.getLookupTable(nPts=256))
            self.caption.setText(f"apex − onset depth, ±{DIFFERENCE_MM:g} mm "
                                 "(blue nearer, red farther)")
        else:
            self.image.setImage(rgb_difference(pair), autoLevels=False, levels=(0, 255), lut=None)
            self.caption.setText(f"|apex − onset| brightness × {RGB_GAIN:g}")

    def _flip(self) -> None:
        if self.pair is None or not self.mode.startswith("flicker") or not self.seen:
            self.timer.stop()
            return
        self.showing_apex = not self.showing_apex
        self._draw()

    def set_seen(self, seen: bool) -> None:
        """Connected to the dock's ``visibilityChanged``: flicker only while on screen."""
        self.seen = seen
        self.refresh()
