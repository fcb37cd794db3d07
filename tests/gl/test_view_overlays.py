"""Axes gizmo and scale bar: the bar's length is what the camera shows, in the view and in
the exported image."""

from __future__ import annotations

import numpy as np
from PySide6 import QtGui

from mer_viewer.core.geometry import display_points
from mer_viewer.qt.views.cloud_view import CloudView
from mer_viewer.qt.views.view_overlays import AXES, nice_length, scale_bar
from tests.gl.synthetic import grid_cloud
from tests.gl.test_cloud_export import _panel


def _view(qtbot, size=(420, 360)) -> CloudView:
    cloud = grid_cloud()
    view = CloudView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    view.set_cloud(display_points(cloud.points_m, cloud.centre), cloud.colors, None, None,
                   reset=True)
    return view


def _grab(qtbot, view) -> np.ndarray:
    """The view as the window shows it (the GL picture with the widgets over it)."""
    view.update()
    qtbot.wait(50)
    image = view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    arr = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return arr.reshape(image.height(), image.bytesPerLine())[:, :image.width() * 3].reshape(
        image.height(), image.width(), 3).astype(int)


def _near(img, rgb, tol=30):
    return (np.abs(img - np.array(rgb)) <= tol).all(axis=-1)


def test_nice_lengths():
    assert [nice_length(x) for x in (0.9, 1, 3.7, 9.99, 10, 27, 64)] == \
        [0.5, 1, 2, 5, 10, 20, 50]


def test_the_bar_spans_its_length_as_the_camera_projects_it(qtbot):
    view = _view(qtbot)
    for distance in (150.0, 420.0):  # zoomed in and out
        view.opts["distance"] = distance
        length, px = scale_bar(view.opts, view.width())
        # reference: two points `length` mm apart across the screen at the centre of rotation,
        # projected by the view's own matrices
        right = view.viewMatrix().inverted()[0].mapVector(QtGui.QVector3D(1, 0, 0))
        c = view.opts["center"]
        ends = np.array([[c.x() - s * right.x() * length / 2, c.y() - s * right.y() * length / 2,
                          c.z() - s * right.z() * length / 2] for s in (1, -1)])
        xy, _ = view.project(ends)
        assert abs(np.linalg.norm(xy[1] - xy[0]) - px) < 0.01 * px
        assert 35 <= px <= 90  # a readable bar whatever the zoom


def test_gizmo_and_bar_are_drawn_and_can_be_turned_off(qtbot):
    view = _view(qtbot)
    on = _grab(qtbot, view)
    h, w, _ = on.shape
    corner_bl, corner_br = on[h - 80:, :80], on[h - 40:, w - 120:]
    for _axis, _name, color in AXES:
        assert _near(corner_bl, color.getRgb()[:3]).sum() > 10
    assert _near(corner_br, (235, 235, 235)).sum() > 40  # the bar and its label
    view.show_overlays = False
    off = _grab(qtbot, view)
    assert _near(off[h - 40:, w - 120:], (235, 235, 235)).sum() == 0
    for _axis, _name, color in AXES:
        assert _near(off[h - 80:, :80], color.getRgb()[:3]).sum() == 0


def test_the_export_has_a_scale_bar_at_its_own_scale(qtbot, tmp_path):
    from mer_viewer.qt.views import cloud_export

    panel = _panel(qtbot)
    views, titles = panel._export_parts()
    for factor in (1, 2):
        on_screen = cloud_export.screen_size(views, titles, panel.legend,
                                             QtGui.QFont(panel.legend.font()))
        size = on_screen * factor
        image, layout = cloud_export.render(views, titles, panel.legend, size)
        rect = layout.views[0]
        length, px = scale_bar(views[0].opts, rect.width(), layout.scale)
        _, px_screen = scale_bar(views[0].opts, views[0].width())
        assert abs(px - factor * px_screen) <= 0.02 * px  # the same bar, scaled with the image
        rgb = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
        arr = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes()).reshape(
            rgb.height(), rgb.bytesPerLine())[:, :rgb.width() * 3].reshape(
            rgb.height(), rgb.width(), 3).astype(int)
        bar_row = rect.bottom() - round(10 * layout.scale)
        strip = arr[bar_row - 1:bar_row + 2, rect.left():rect.right()]
        bright = _near(strip, (235, 235, 235), tol=25).any(axis=0)
        xs = np.nonzero(bright)[0]
        assert xs.size and abs((xs.max() - xs.min()) - px) <= 3 + 0.02 * px
