"""The 3D views as one image: both viewports offscreen at a chosen size, titled, legend below."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from .cloud_view import CloudView
from .legend import ColorLegend

#: Spacing around and between the parts, in on-screen pixels (scaled with the image).
MARGIN_PX = 6
GAP_PX = 4
BACKGROUND = QtGui.QColor(255, 255, 255)
TEXT = QtGui.QColor(20, 20, 20)
FORMATS = "PNG (*.png);;JPEG (*.jpg *.jpeg);;TIFF (*.tif *.tiff)"
SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
MAX_SIDE_PX = 16384


@dataclass(frozen=True)
class ExportLayout:
    """Where the parts of an exported image lie (image pixels): one header row with a
    title per view, the two views (equal size), the legend strip across the bottom.
    ``scale``: image pixels per on-screen pixel (fonts, spacing and points grow by it)."""

    size: QtCore.QSize
    scale: float
    titles: tuple[QtCore.QRect, QtCore.QRect]
    views: tuple[QtCore.QRect, QtCore.QRect]
    legend: QtCore.QRect


def _title_document(html: str, width_logical: float, font: QtGui.QFont) -> QtGui.QTextDocument:
    doc = QtGui.QTextDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    doc.setDefaultStyleSheet(f"body {{ color: {TEXT.name()}; }}")
    doc.setHtml(f"<body>{html}</body>")
    doc.setTextWidth(max(1.0, width_logical))
    return doc


def layout_for(size: QtCore.QSize, screen_width: int, titles: tuple[str, str],
               legend: ColorLegend, font: QtGui.QFont) -> ExportLayout:
    """Share ``size`` out. ``screen_width``: the width of the same composition on screen
    (both views, the gap and the margins), which sets the scale of text and points."""
    w, h = size.width(), size.height()
    scale = w / max(1, screen_width)
    margin, gap = round(MARGIN_PX * scale), max(1, round(GAP_PX * scale))
    view_w = (w - 2 * margin - gap) // 2
    header = math.ceil(max(_title_document(t, view_w / scale, font).size().height()
                           for t in titles) * scale)
    legend_h = math.ceil(legend.height_for((w - 2 * margin) / scale) * scale)
    view_h = h - 2 * margin - header - legend_h - 2 * gap
    if view_w < 16 or view_h < 16:
        raise ValueError(f"{w}×{h} px leaves no room for the views under the titles and "
                         "over the legend; choose a larger image")
    top = margin + header + gap
    left = QtCore.QRect(margin, top, view_w, view_h)
    right = QtCore.QRect(margin + view_w + gap, top, view_w, view_h)
    return ExportLayout(size, scale,
                        (QtCore.QRect(margin, margin, view_w, header),
                         QtCore.QRect(right.x(), margin, view_w, header)),
                        (left, right),
                        QtCore.QRect(margin, top + view_h + gap, w - 2 * margin, legend_h))


def screen_size(views: tuple[CloudView, CloudView], titles: tuple[str, str],
                legend: ColorLegend, font: QtGui.QFont) -> QtCore.QSize:
    """The size of the composition at on-screen scale: views as large as shown."""
    view_w = max(v.width() for v in views)
    view_h = max(v.height() for v in views)
    width = 2 * view_w + GAP_PX + 2 * MARGIN_PX
    header = math.ceil(max(_title_document(t, view_w, font).size().height() for t in titles))
    height = (2 * MARGIN_PX + header + view_h + 2 * GAP_PX
              + math.ceil(legend.height_for(width - 2 * MARGIN_PX)))
    return QtCore.QSize(width, height)


def render(views: tuple[CloudView, CloudView], titles: tuple[str, str], legend: ColorLegend,
           size: QtCore.QSize, font: QtGui.QFont | None = None
           ) -> tuple[QtGui.QImage, ExportLayout]:
    """Both views with their current cameras, side by side at equal size, each under its
    title (rich text), with its axes gizmo and scale bar, the legend of the current colour
    mode below: an image of ``size``."""
    font = QtGui.QFont(font or legend.font())
    on_screen = screen_size(views, titles, legend, font)
    layout = layout_for(size, on_screen.width(), titles, legend, font)
    image = QtGui.QImage(size, QtGui.QImage.Format.Format_RGB32)
    image.fill(BACKGROUND)
    rendered = [view.render_image(rect.width(), rect.height(), layout.scale)
                for view, rect in zip(views, layout.views)]
    p = QtGui.QPainter(image)
    try:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        for view, picture, rect in zip(views, rendered, layout.views):
            p.drawImage(rect.topLeft(), picture)
            if view.show_overlays and len(view.points):  # the scale bar at the image's scale
                view.paint_overlays(p, QtCore.QRectF(rect), layout.scale)
        for text, rect in zip(titles, layout.titles):
            p.save()
            p.translate(rect.topLeft())
            p.scale(layout.scale, layout.scale)
            _title_document(text, rect.width() / layout.scale, font).drawContents(p)
            p.restore()
        p.save()
        p.translate(layout.legend.topLeft())
        p.scale(layout.scale, layout.scale)
        p.setFont(font)
        legend.paint(p, layout.legend.width() / layout.scale, TEXT)
        p.restore()
    finally:
        p.end()
    return image, layout


def save(image: QtGui.QImage, path: Path) -> Path:
    """Write ``image`` (format by suffix; none or an unknown one: PNG); OSError on failure."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        path = path.with_name(path.name + ".png")
    writer = QtGui.QImageWriter(str(path))
    if not writer.write(image):
        raise OSError(f"{path}: could not write the image ({writer.errorString()})")
    return path


class ExportDialog(QtWidgets.QDialog):
    """Asks for the image size (default twice the on-screen size, proportions kept)."""

    def __init__(self, on_screen: QtCore.QSize, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Save the 3D views")
        self.on_screen = on_screen
        self.width_box = QtWidgets.QSpinBox(minimum=200, maximum=MAX_SIDE_PX, suffix=" px")
        self.height_box = QtWidgets.QSpinBox(minimum=120, maximum=MAX_SIDE_PX, suffix=" px")
        self.keep = QtWidgets.QCheckBox("keep the on-screen proportions", checked=True)
        self.presets = QtWidgets.QComboBox()
        for factor in (1, 2, 3, 4):
            self.presets.addItem(f"{factor}× the screen", factor)
        self.presets.setCurrentIndex(1)
        form = QtWidgets.QFormLayout()
        form.addRow("size", self.presets)
        form.addRow("width", self.width_box)
        form.addRow("height", self.height_box)
        form.addRow("", self.keep)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(QtWidgets.QLabel("Both views as shown, aligned, with their titles and "
                                       "the colour legend."))
        lay.addLayout(form)
        lay.addWidget(buttons)
        self.presets.currentIndexChanged.connect(lambda _i: self._preset())
        self.width_box.valueChanged.connect(lambda v: self._follow(v, True))
        self.height_box.valueChanged.connect(lambda v: self._follow(v, False))
        self._syncing = False
        self._preset()

    def size_px(self) -> QtCore.QSize:
        return QtCore.QSize(self.width_box.value(), self.height_box.value())

    def _preset(self) -> None:
        factor = self.presets.currentData()
        self._syncing = True
        self.width_box.setValue(self.on_screen.width() * factor)
        self.height_box.setValue(self.on_screen.height() * factor)
        self._syncing = False

    def _follow(self, value: int, changed_width: bool) -> None:
        if self._syncing or not self.keep.isChecked():
            return
        self._syncing = True
        ratio = self.on_screen.height() / max(1, self.on_screen.width())
        if changed_width:
            self.height_box.setValue(round(value * ratio))
        else:
            self.width_box.setValue(round(value / ratio))
        self._syncing = False
