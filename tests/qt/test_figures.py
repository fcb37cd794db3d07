"""Figure export: confusion matrices and curves as PNG at the chosen DPI or as SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
from PySide6 import QtGui

from mer_viewer.qt.panels.run_views import CurvesView
from mer_viewer.qt.views.figures import CONFUSION_IN, CURVES_IN, export_confusion, export_curves

CLASSES = ("negative", "positive", "surprise")
CONFUSION = [[5, 1, 0], [2, 3, 1], [0, 0, 6]]


def _pixels(path) -> np.ndarray:
    image = QtGui.QImage(str(path)).convertToFormat(QtGui.QImage.Format.Format_RGB888)
    arr = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return arr.reshape(image.height(), image.bytesPerLine())[:, :image.width() * 3] \
        .reshape(image.height(), image.width(), 3).copy()  # the image goes away


def test_confusion_png_has_the_size_of_its_dpi_and_shades_the_diagonal(qtbot, tmp_path):
    for dpi in (150, 300):
        path = export_confusion(tmp_path / f"c{dpi}.png", CLASSES, CONFUSION, "run", dpi)
        image = QtGui.QImage(str(path))
        assert (image.width(), image.height()) == (round(CONFUSION_IN[0] * dpi),
                                                   round(CONFUSION_IN[1] * dpi))
        assert abs(image.dotsPerMeterX() * 0.0254 - dpi) < 1
    # the same figure at twice the DPI: the same picture, twice the pixels
    small, large = _pixels(tmp_path / "c150.png"), _pixels(tmp_path / "c300.png")
    assert abs(small.mean() - large.mean()) < 4
    # a white page; the full-row cell (surprise → surprise, 6 of 6) in the darkest shade
    assert (large > 250).all(axis=2).mean() > 0.3
    dark = (large[..., 0] < 60) & (large[..., 1] < 90) & (large[..., 2] > 150)
    ys, xs = np.nonzero(dark)
    assert dark.sum() > 1000 and xs.mean() > large.shape[1] * 0.6 and ys.mean() > \
        large.shape[0] * 0.6  # bottom right: the last row and column


def test_confusion_svg_is_vector_with_the_class_names(qtbot, tmp_path):
    path = export_confusion(tmp_path / "c.svg", CLASSES, CONFUSION, "my run", 300)
    root = ET.parse(path).getroot()
    text = "".join(root.itertext())
    assert all(c in text for c in CLASSES) and "my run" in text and "predicted" in text
    width = root.get("width", "")
    assert width.endswith("mm") and abs(float(width[:-2]) - CONFUSION_IN[0] * 25.4) < 0.5


def test_curves_export_draws_the_curves(qtbot, tmp_path):
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show_history([{"loss": [1.2, 0.9, 0.7, 0.5], "train_uf1": [0.2, 0.4, 0.5, 0.7]}])
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    png = export_curves(tmp_path / "curves.png", view, 100)
    pixels = _pixels(png)
    assert pixels.shape[:2] == (round(CURVES_IN[1] * 100), round(CURVES_IN[0] * 100))
    # the loss pen (orange) is on the page
    orange = (pixels[..., 0] > 200) & (pixels[..., 1] > 90) & (pixels[..., 1] < 150) \
        & (pixels[..., 2] < 100)
    assert orange.sum() > 50
    assert (pixels > 245).all(axis=2).mean() > 0.5  # printed on white
    svg = export_curves(tmp_path / "curves.svg", view, 300)
    assert "path" in svg.read_text() or "polyline" in svg.read_text()
