"""One 3D point-cloud viewport (pyqtgraph.opengl): highlighted samples, picking, linked camera."""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6 import QtCore, QtGui, QtWidgets

#: Points not sampled are drawn from a fixed subset of at most this many (software GL budget).
MAX_CONTEXT_POINTS = 40_000
ON_TOP = {GL.GL_DEPTH_TEST: False, GL.GL_BLEND: True,
          "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)}
FRONT = dict(elevation=0.0, azimuth=-90.0)


def prepare_gl() -> None:
    """Call before the QApplication exists. Offscreen Qt has no usable GL: there the X
    display is hidden from Qt (its GLX path crashes QOpenGLWidget) and the 3D views stay
    empty instead of crashing."""
    import os

    if QtCore.QCoreApplication.instance() is None and os.environ.get(
            "QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        os.environ.pop("DISPLAY", None)


class ScatterItem(gl.GLScatterPlotItem):
    """GLScatterPlotItem with one shader program per GL context.

    pyqtgraph keeps a single program for the class: a second viewport then draws
    with a program of another context (stale uniforms, or an invalid program once
    the first viewport is gone), so linked views showed an old camera.
    """

    _programs: dict = {}

    def getShaderProgram(self):  # noqa: N802 - pyqtgraph's name
        context = QtGui.QOpenGLContext.currentContext()
        program = ScatterItem._programs.get(context)
        if program is None:
            saved = gl.GLScatterPlotItem._shaderProgram
            gl.GLScatterPlotItem._shaderProgram = None
            try:
                program = gl.GLScatterPlotItem.getShaderProgram()
            finally:
                gl.GLScatterPlotItem._shaderProgram = saved
            ScatterItem._programs[context] = program
            context.aboutToBeDestroyed.connect(
                lambda c=context: ScatterItem._programs.pop(c, None))
        return program


class CloudView(gl.GLViewWidget):
    """Context points (dimmed, small), highlighted points (full colour) and a picked marker.

    Coordinates are display millimetres (see ``core.geometry.display_points``).
    ``pointHovered(i)``/``pointClicked(i)`` give indexes into the array of
    ``set_cloud`` (-1: nothing there); ``cameraChanged`` fires on any camera move.
    """

    pointHovered = QtCore.Signal(int)
    pointClicked = QtCore.Signal(int)
    cameraChanged = QtCore.Signal()

    def __init__(self, title: str = "", parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.setBackgroundColor((18, 18, 22))
        self.setMinimumSize(160, 160)
        self.setMouseTracking(True)
        self.context_item = ScatterItem(pxMode=True)
        self.context_item.setGLOptions("opaque")
        self.highlight_item = ScatterItem(pxMode=True)
        self.highlight_item.setGLOptions("opaque")
        self.marker_item = ScatterItem(pxMode=True, size=16.0, color=(1.0, 0.9, 0.0, 1.0))
        self.marker_item.setGLOptions(ON_TOP)
        self.marker_item.setVisible(False)
        for item in (self.context_item, self.highlight_item, self.marker_item):
            self.addItem(item)
        self.points = np.zeros((0, 3), np.float32)
        self.point_size = 3.0
        self._context_idx = np.zeros(0, np.int64)
        self._highlight_idx = np.zeros(0, np.int64)
        self._press: QtCore.QPointF | None = None
        self._syncing = False
        self._extent = 100.0
        from .view_overlays import ViewOverlays

        self.overlays = ViewOverlays(self)  # axes gizmo and scale bar, over the points
        self.reset_camera()

    # --- content -----------------------------------------------------------------------------
    def set_cloud(self, points_mm: np.ndarray, colors: np.ndarray,
                  highlighted: np.ndarray | None, context_colors: np.ndarray | None,
                  reset: bool = False) -> None:
        """Show ``points_mm`` (K, 3): ``highlighted`` indexes in ``colors`` (K, 3) at full
        size; the other points (or none when ``context_colors`` is None) in ``context_colors``."""
        self.points = np.asarray(points_mm, dtype=np.float32)
        k = len(self.points)
        hl = np.unique(highlighted) if highlighted is not None else np.arange(k)
        self._highlight_idx = hl
        if context_colors is not None and highlighted is not None:
            rest = np.setdiff1d(np.arange(k), hl, assume_unique=True)
            if len(rest) > MAX_CONTEXT_POINTS:
                rng = np.random.default_rng(0)
                rest = np.sort(rng.choice(rest, MAX_CONTEXT_POINTS, replace=False))
            self._context_idx = rest
            self.context_item.setData(pos=self.points[rest], color=_rgba(context_colors[rest]),
                                 size=max(1.0, self.point_size - 1.0))
            self.context_item.setVisible(True)
        else:
            self._context_idx = np.zeros(0, np.int64)
            self.context_item.setVisible(False)
        self.highlight_item.setData(pos=self.points[hl], color=_rgba(colors[hl]),
                               size=self.point_size + (1.0 if context_colors is not None else 0))
        if k:
            # per column: np.ptp(axis=0) strides over (K, 3) and is ~30× slower
            self._extent = max(float(np.ptp(self.points[:, i])) for i in range(3)) or 100.0
        if reset:
            self.reset_camera()
        self.update()

    def set_point_size(self, size: float) -> None:
        self.point_size = float(size)
        if len(self._context_idx):
            self.context_item.setData(size=max(1.0, self.point_size - 1.0))
        self.highlight_item.setData(size=self.point_size + (1.0 if len(self._context_idx) else 0))
        self.update()

    def set_marker(self, index: int | None) -> None:
        if index is None or not 0 <= index < len(self.points):
            self.marker_item.setVisible(False)
        else:
            self.marker_item.setData(pos=self.points[index:index + 1])
            self.marker_item.setVisible(True)
        self.update()

    def clear_cloud(self) -> None:
        self.points = np.zeros((0, 3), np.float32)
        self._context_idx = self._highlight_idx = np.zeros(0, np.int64)
        for item in (self.context_item, self.highlight_item):
            item.setData(pos=np.zeros((0, 3), np.float32))
        self.marker_item.setVisible(False)
        self.update()

    @property
    def highlighted(self) -> np.ndarray:
        return self._highlight_idx

    # --- camera ------------------------------------------------------------------------------
    def reset_camera(self) -> None:
        """Look at the face from the sensor's side, the whole cloud in view."""
        self.setCameraPosition(pos=QtGui.QVector3D(0, 0, 0), distance=self._extent * 1.4, **FRONT)

    def camera(self) -> dict:
        o = self.opts
        return {"center": QtGui.QVector3D(o["center"]), "distance": o["distance"],
                "fov": o["fov"], "elevation": o["elevation"], "azimuth": o["azimuth"]}

    def set_camera(self, camera: dict) -> None:
        """Adopt another view's camera without echoing ``cameraChanged`` back."""
        self._syncing = True
        try:
            self.opts.update({k: (QtGui.QVector3D(v) if k == "center" else v)
                              for k, v in camera.items()})
            self.update()
        finally:
            self._syncing = False

    @property
    def show_overlays(self) -> bool:
        return self.overlays.enabled

    @show_overlays.setter
    def show_overlays(self, on: bool) -> None:
        self.overlays.set_enabled(on)

    def update(self) -> None:  # noqa: D102 - the overlays follow every repaint of the view
        super().update()
        if hasattr(self, "overlays"):
            self.overlays.refresh()

    def resizeEvent(self, ev):  # noqa: N802
        super().resizeEvent(ev)
        self.overlays.place()

    def _moved(self) -> None:
        if not self._syncing:
            self.cameraChanged.emit()

    def setCameraPosition(self, *args, **kwargs):  # noqa: N802 - Qt naming
        super().setCameraPosition(*args, **kwargs)
        self._moved()

    def orbit(self, azim, elev):
        super().orbit(azim, elev)
        self._moved()

    def pan(self, dx, dy, dz, relative="global"):
        super().pan(dx, dy, dz, relative)
        self._moved()

    def wheelEvent(self, ev):  # noqa: N802
        super().wheelEvent(ev)
        self._moved()

    # --- picking -----------------------------------------------------------------------------
    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K, 3) display coordinates -> ((K, 2) widget pixels, (K,) depth in [-1, 1])."""
        w, h = max(1, self.width()), max(1, self.height())
        vp = (0, 0, w, h)
        m = self.projectionMatrix(vp, vp) * self.viewMatrix()
        mat = np.array(m.data(), dtype=np.float64).reshape(4, 4).T
        hom = np.c_[points.astype(np.float64), np.ones(len(points))] @ mat.T
        wcl = np.where(np.abs(hom[:, 3]) < 1e-12, 1e-12, hom[:, 3])
        ndc = hom[:, :3] / wcl[:, None]
        xy = np.stack([(ndc[:, 0] + 1) * 0.5 * w, (1 - ndc[:, 1]) * 0.5 * h], axis=1)
        depth = np.where(hom[:, 3] > 0, ndc[:, 2], np.inf)
        return xy, depth

    def point_at(self, x: float, y: float, radius: float = 6.0) -> int:
        """Index of the nearest-to-camera shown point within ``radius`` px of (x, y), or -1."""
        shown = np.concatenate([self._highlight_idx, self._context_idx])
        if shown.size == 0:
            return -1
        xy, depth = self.project(self.points[shown])
        d2 = ((xy - (x, y)) ** 2).sum(axis=1)
        near = np.nonzero(d2 <= radius * radius)[0]
        if near.size == 0:
            return -1
        # the front-most among the near ones; among ties the closest to the cursor
        front = near[np.lexsort((d2[near], np.round(depth[near], 4)))][0]
        return int(shown[front])

    def screen_pos(self, index: int) -> tuple[float, float]:
        xy, _ = self.project(self.points[index:index + 1])
        return float(xy[0, 0]), float(xy[0, 1])

    def mousePressEvent(self, ev):  # noqa: N802
        self._press = ev.position()
        super().mousePressEvent(ev)

    def mouseReleaseEvent(self, ev):  # noqa: N802
        if self._press is not None and ev.button() == QtCore.Qt.MouseButton.LeftButton:
            if (ev.position() - self._press).manhattanLength() < 4:
                self.pointClicked.emit(self.point_at(ev.position().x(), ev.position().y()))
        self._press = None
        super().mouseReleaseEvent(ev)

    def mouseMoveEvent(self, ev):  # noqa: N802
        if ev.buttons() == QtCore.Qt.MouseButton.NoButton:
            self.pointHovered.emit(self.point_at(ev.position().x(), ev.position().y()))
            return
        super().mouseMoveEvent(ev)

    def paint_overlays(self, p: QtGui.QPainter, rect: QtCore.QRectF, scale: float = 1.0) -> None:
        """Axes gizmo and scale bar of the current camera into ``rect`` of any painter."""
        from .view_overlays import paint_overlays

        paint_overlays(p, rect, self.opts, self.viewMatrix(), scale)

    def render_image(self, width: int, height: int, point_scale: float = 1.0) -> QtGui.QImage:
        """The view as shown (same camera, same content) rendered offscreen at ``width`` ×
        ``height`` px, points ``point_scale`` times their on-screen size (so a 2× image
        looks like the view). Raises RuntimeError when the view has no GL context yet."""
        if not self.isValid():  # never shown: QOpenGLWidget made no context
            raise RuntimeError("the 3D view has not been shown yet (no OpenGL context)")
        sizes = [(item, item.size) for item in
                 (self.context_item, self.highlight_item, self.marker_item)]
        try:
            for item, size in sizes:
                item.setData(size=size * point_scale)
            # tiles of at most 2048 px; the padding keeps points cut by a tile edge whole
            bgra = self.renderToArray((width, height), textureSize=2048, padding=128)
        finally:
            for item, size in sizes:
                item.setData(size=size)
            self.doneCurrent()
            self.update()
        image = QtGui.QImage(np.ascontiguousarray(bgra).data, width, height, width * 4,
                             QtGui.QImage.Format.Format_RGB32)
        return image.copy()  # owns its pixels (the array goes away)

    def grab_rgb(self) -> np.ndarray:
        """The rendered viewport as (h, w, 3) uint8 (for tests and screenshots)."""
        image = self.grabFramebuffer().convertToFormat(QtGui.QImage.Format.Format_RGB888)
        ptr = image.constBits()
        arr = np.frombuffer(ptr, np.uint8, count=image.sizeInBytes())
        arr = arr.reshape(image.height(), image.bytesPerLine())[:, :image.width() * 3]
        return arr.reshape(image.height(), image.width(), 3).copy()


def _rgba(colors: np.ndarray) -> np.ndarray:
    out = np.ones((len(colors), 4), dtype=np.float32)
    out[:, :3] = colors[:, :3]
    return out


class CameraLink(QtCore.QObject):
    """Keeps the cameras of several views equal while ``enabled``: moving one moves all."""

    def __init__(self, views: list[CloudView], parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.views = list(views)
        self.enabled = True
        for view in self.views:
            view.cameraChanged.connect(lambda v=view: self._follow(v))

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if enabled and self.views:
            self._follow(self.views[0])

    def _follow(self, source: CloudView) -> None:
        if not self.enabled:
            return
        camera = source.camera()
        for view in self.views:
            if view is not source:
                view.set_camera(camera)
