"""Publication figures: confusion matrices and training curves as PNG (at a chosen DPI) or SVG."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

FORMATS = "PNG (*.png);;SVG (*.svg)"
INK = QtGui.QColor(20, 20, 20)
#: Figure sizes in inches (what a journal column holds).
CONFUSION_IN = (3.5, 3.6)
CURVES_IN = (7.0, 4.2)

Painter = Callable[[QtGui.QPainter, QtCore.QRectF], None]


def write_figure(path: Path | str, size_in: tuple[float, float], dpi: int,
                 paint: Painter, unit_dpi: float = 72.0) -> Path:
    """Paint a figure of ``size_in`` inches into ``path``: SVG (vector, that size) or PNG
    at ``dpi`` (white background). The painter works in points (1/72 in), so text
    and lines keep their size whatever the DPI. OSError when the file cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        path = path.with_name(path.name + ".png")
    w_px, h_px = round(size_in[0] * dpi), round(size_in[1] * dpi)
    points = QtCore.QRectF(0, 0, size_in[0] * unit_dpi, size_in[1] * unit_dpi)
    # the device counts ``unit_dpi`` dots per inch while painted (72: a font's points are
    # the painter's units), whatever the DPI; a PNG is then scaled up and says its true DPI
    per_meter_72 = round(unit_dpi / 0.0254)
    if path.suffix.lower() == ".svg":
        device = QtSvg.QSvgGenerator()
        device.setFileName(str(path))
        device.setSize(points.size().toSize())
        device.setViewBox(points)
        device.setResolution(round(unit_dpi))
        device.setTitle(path.stem)
        scale = 1.0
    else:
        device = QtGui.QImage(w_px, h_px, QtGui.QImage.Format.Format_ARGB32)
        device.setDotsPerMeterX(per_meter_72)
        device.setDotsPerMeterY(per_meter_72)
        device.fill(QtGui.QColor("white"))
        scale = dpi / unit_dpi
    p = QtGui.QPainter(device)
    try:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        p.scale(scale, scale)
        paint(p, points)
    finally:
        p.end()
    if isinstance(device, QtGui.QImage):
        device.setDotsPerMeterX(round(dpi / 0.0254))
        device.setDotsPerMeterY(round(dpi / 0.0254))
    if isinstance(device, QtGui.QImage):
        writer = QtGui.QImageWriter(str(path))
        if not writer.write(device):
            raise OSError(f"{path}: could not write the image ({writer.errorString()})")
    elif not path.is_file():
        raise OSError(f"{path}: could not write the SVG file")
    return path


def _font(points: float, bold: bool = False) -> QtGui.QFont:
    font = QtGui.QFont("DejaVu Sans")
    font.setPointSizeF(points)
    font.setBold(bold)
    return font


def paint_confusion(p: QtGui.QPainter, rect: QtCore.QRectF, classes: Sequence[str],
                    confusion, title: str = "") -> None:
    """Counts and row percentages, cells shaded by their share of the row (rows: annotated)."""
    conf = np.asarray(confusion, dtype=float).reshape(len(classes), len(classes))
    share = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    p.setPen(INK)
    p.setFont(_font(8, True))
    p.drawText(QtCore.QRectF(rect.left(), rect.top(), rect.width(), 14),
               QtCore.Qt.AlignmentFlag.AlignCenter, title)
    left, top = rect.left() + 58, rect.top() + 32
    cell = min((rect.right() - left - 4) / n, (rect.bottom() - top - 24) / n)
    p.setFont(_font(6.5))
    for j, name in enumerate(classes):
        p.drawText(QtCore.QRectF(left + j * cell, top - 14, cell, 12),
                   QtCore.Qt.AlignmentFlag.AlignCenter, name)
    for i, name in enumerate(classes):
        p.drawText(QtCore.QRectF(rect.left(), top + i * cell, 54, cell),
                   QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter,
                   name)
        for j in range(n):
            f = share[i, j]
            box = QtCore.QRectF(left + j * cell, top + i * cell, cell, cell)
            p.fillRect(box, QtGui.QColor.fromRgbF(1 - 0.88 * f, 1 - 0.78 * f, 1 - 0.29 * f))
            p.setPen(QtGui.QPen(QtGui.QColor(190, 190, 190), 0.5))
            p.drawRect(box)
            p.setPen(QtGui.QColor("white") if f > 0.55 else INK)
            p.setFont(_font(8, True))
            p.drawText(box.adjusted(0, 0, 0, -cell * 0.3), QtCore.Qt.AlignmentFlag.AlignCenter,
                       str(int(conf[i, j])))
            p.setFont(_font(6))
            p.drawText(box.adjusted(0, cell * 0.35, 0, 0), QtCore.Qt.AlignmentFlag.AlignCenter,
                       f"{100 * f:.0f}%")
            p.setFont(_font(6.5))
            p.setPen(INK)
    p.setFont(_font(7))
    p.drawText(QtCore.QRectF(left, top + n * cell + 2, n * cell, 14),
               QtCore.Qt.AlignmentFlag.AlignCenter, "predicted")
    p.save()
    p.translate(rect.left() + 6, top + n * cell / 2)
    p.rotate(-90)
    p.drawText(QtCore.QRectF(-40, -6, 80, 12), QtCore.Qt.AlignmentFlag.AlignCenter, "annotated")
    p.restore()


def export_confusion(path: Path | str, classes: Sequence[str], confusion, title: str = "",
                     dpi: int = 300) -> Path:
    return write_figure(path, CONFUSION_IN, dpi,
                        lambda p, r: paint_confusion(p, r.adjusted(4, 4, -4, -4), classes,
                                                     confusion, title))


def export_curves(path: Path | str, curves, dpi: int = 300) -> Path:
    """The loss and UF1 plots of a ``run_views.CurvesView``, stacked, as vector graphics
    (the plots' scenes painted, not a screenshot of them)."""
    plots = [pl for pl in (curves.loss_plot, curves.uf1_plot) if pl.isVisible()
             or not curves.isVisible()]

    def paint(p: QtGui.QPainter, rect: QtCore.QRectF) -> None:
        height = rect.height() / len(plots)
        for k, plot in enumerate(plots):
            item = plot.getPlotItem()
            source = item.sceneBoundingRect()
            target = QtCore.QRectF(rect.left(), rect.top() + k * height, rect.width(), height)
            plot.scene().render(p, target, source,
                                QtCore.Qt.AspectRatioMode.IgnoreAspectRatio)

    backgrounds = [plot.backgroundBrush() for plot in plots]
    for plot in plots:  # a white page: the plots' dark theme inverted for print
        plot.setBackground("w")
    try:
        # the plots' text was laid out for the screen: painted at the screen's DPI
        screen = QtGui.QGuiApplication.primaryScreen()
        unit_dpi = screen.logicalDotsPerInch() if screen is not None else 96.0
        return write_figure(path, CURVES_IN, dpi, paint, unit_dpi)
    finally:
        for plot, brush in zip(plots, backgrounds):
            plot.setBackgroundBrush(brush)


def ask_dpi(parent: QtWidgets.QWidget) -> int | None:
    dpi, ok = QtWidgets.QInputDialog.getInt(parent, "Resolution", "dots per inch (PNG)", 300,
                                            72, 1200, 50)
    return dpi if ok else None


def _ask(parent: QtWidgets.QWidget, title: str, name: str, export) -> Path | None:
    path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, title, name, FORMATS)
    if not path:
        return None
    dpi = ask_dpi(parent)
    if dpi is None:
        return None
    try:
        return export(Path(path), dpi)
    except OSError as exc:
        QtWidgets.QMessageBox.warning(parent, title, str(exc))
        return None


def ask_export_confusion(parent: QtWidgets.QWidget, run) -> Path | None:
    if run is None:
        return None
    m = run.metrics
    title = f"{run.name}: UF1 {m['uf1']:.1%}, UAR {m['uar']:.1%}"
    return _ask(parent, "Export the confusion matrix", "confusion.png",
                lambda path, dpi: export_confusion(path, run.classes, m["confusion"], title, dpi))


def ask_export_curves(parent: QtWidgets.QWidget, curves) -> Path | None:
    return _ask(parent, "Export the training curves", "curves.png",
                lambda path, dpi: export_curves(path, curves, dpi))
