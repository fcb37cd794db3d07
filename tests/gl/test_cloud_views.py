"""3D viewports checked on rendered pixels: colours, highlighted samples, linked cameras, picking."""

from __future__ import annotations

import gc
import sys
from dataclasses import replace

import numpy as np
import pytest
from PySide6 import QtWidgets

from mer_viewer.core.geometry import display_points
from mer_viewer.core.pipeline import SamplingParams
from mer_viewer.qt.infra.state import ViewerState
from mer_viewer.qt.infra.workers import JobRunner
from mer_viewer.qt.panels.cloud_panel import CloudPanel
from mer_viewer.qt.views.cloud_view import CameraLink, CloudView
from tests.gl.synthetic import grid_cloud


def _render(qtbot, view) -> np.ndarray:
    view.update()
    qtbot.wait(50)
    return view.grab_rgb().astype(int)


def _is(img, rgb, tol=40):
    return (np.abs(img - np.array(rgb)) <= tol).all(axis=-1)


def _show(qtbot, widget, size=(400, 400)):
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)


def test_known_colors_render(qtbot):
    cloud = grid_cloud()
    view = CloudView()
    _show(qtbot, view)
    pts = display_points(cloud.points_m, cloud.centre)
    view.point_size = 4
    view.set_cloud(pts, cloud.colors, None, None, reset=True)
    img = _render(qtbot, view)
    red = _is(img, (255, 0, 0))
    assert red.sum() > 2000  # the moving half is drawn in its r̂ colour (pure red)
    ys, xs = np.nonzero(red)
    assert xs.mean() < img.shape[1] / 2  # ... on the left, as u grows to the right
    background = _is(img, (18, 18, 22), tol=6)
    assert background.sum() > 0.3 * red.size
    # nothing but background, red and near-black was drawn
    dark = img.sum(axis=-1) < 60
    assert (red | background | dark).mean() > 0.97

    green = np.zeros_like(cloud.colors)
    green[:, 1] = 1.0
    view.set_cloud(pts, green, None, None)
    img = _render(qtbot, view)
    assert _is(img, (0, 255, 0)).sum() > 4000 and _is(img, (255, 0, 0)).sum() == 0


def test_sort_and_random_highlight_different_points(qtbot):
    state, jobs = ViewerState(), JobRunner()
    panel = CloudPanel(state, jobs)
    _show(qtbot, panel, (900, 600))
    c = panel.controls
    c.points.setCurrentIndex(c.points.findData(1024))
    c.show_mode.setCurrentIndex(c.show_mode.findData("sampled"))
    c.size.setValue(5)
    cloud = grid_cloud()
    state._set_cloud(cloud)
    qtbot.waitUntil(lambda: panel.ready, timeout=10_000)
    left, right = panel.views["left"], panel.views["right"]
    expected_sort = cloud.resample(SamplingParams(1024, "sort")).sampled
    np.testing.assert_array_equal(np.sort(left.highlighted), np.sort(expected_sort))
    assert len(np.intersect1d(left.highlighted, right.highlighted)) < 0.8 * 1024
    # sort keeps the red (moving) half only; random draws from both halves
    assert (cloud.colors[left.highlighted, 0] == 1.0).all()
    assert (cloud.colors[right.highlighted, 0] < 0.1).sum() > 300
    a, b = _render(qtbot, left), _render(qtbot, right)
    assert _is(a, (255, 0, 0)).sum() > 1500 and _is(b, (255, 0, 0)).sum() > 300
    assert np.abs(a - b).sum(axis=-1).astype(bool).mean() > 0.02  # the views differ
    assert "sort" in panel.titles["left"].text() and "random" in panel.titles["right"].text()


def test_linked_cameras_move_together(qtbot):
    cloud = grid_cloud()
    pts = display_points(cloud.points_m, cloud.centre)
    holder = QtWidgets.QWidget()  # side by side in one window, as in the panel
    lay = QtWidgets.QHBoxLayout(holder)
    a, b = CloudView(), CloudView()
    lay.addWidget(a)
    lay.addWidget(b)
    _show(qtbot, holder, (640, 320))
    for view in (a, b):
        view.set_cloud(pts, cloud.colors, None, None, reset=True)
    link = CameraLink([a, b])
    before_b = _render(qtbot, b)
    a.orbit(40, 25)
    assert b.camera()["azimuth"] == a.camera()["azimuth"]
    assert b.camera()["elevation"] == a.camera()["elevation"]
    after_b = _render(qtbot, b)
    assert np.abs(after_b - before_b).sum(axis=-1).astype(bool).mean() > 0.02
    np.testing.assert_array_equal(_render(qtbot, a), after_b)  # same data, same camera
    link.set_enabled(False)
    b.orbit(-30, 0)
    assert a.camera()["azimuth"] != b.camera()["azimuth"]


def test_picking_a_point_marks_its_pixel(qtbot):
    state, jobs = ViewerState(), JobRunner()
    panel = CloudPanel(state, jobs)
    _show(qtbot, panel, (900, 600))
    cloud = grid_cloud()
    state._set_cloud(cloud)
    qtbot.waitUntil(lambda: panel.ready, timeout=10_000)
    view = panel.views["left"]
    _render(qtbot, view)
    i = int(np.nonzero((cloud.pixels[:, 0] == 610) & (cloud.pixels[:, 1] == 330))[0][0])
    x, y = view.screen_pos(i)
    assert 0 < x < view.width() and 0 < y < view.height()
    picked = view.point_at(x, y)
    assert picked >= 0 and np.abs(cloud.pixels[picked] - cloud.pixels[i]).max() <= 1
    view.pointClicked.emit(picked)
    assert state.picked is not None and (state.picked.u, state.picked.v) == tuple(
        cloud.pixels[picked])
    assert f"({state.picked.u}, {state.picked.v})" in panel.info.text()
    img = _render(qtbot, view)
    yy, xx = int(round(y)), int(round(x))
    patch = img[max(0, yy - 3):yy + 4, max(0, xx - 3):xx + 4]
    assert _is(patch, (255, 230, 0), tol=50).any()  # the yellow marker is drawn there
    # and a 2D pixel selects the point at that pixel
    assert state.pick_pixel(625, 340)
    assert tuple(cloud.pixels[state.picked.index]) == (625, 340)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(row for row in status if row.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_memory_stays_flat_over_150_clouds(qtbot):
    """A session shows one clip after another: the panel keeps its recent clips' samplings
    (12) and the views' GL buffers are replaced, never piled up. 40k points a cloud: a
    leak of one cloud per switch would be ~2.4 MB each, ~290 MB over the last 120."""
    state, jobs = ViewerState(), JobRunner()
    panel = CloudPanel(state, jobs)
    _show(qtbot, panel, (900, 600))
    rss = []
    for i in range(150):
        cloud = replace(grid_cloud(n_side=200, seed=i), sample_id=f"clip{i}")
        state._set_cloud(cloud)
        qtbot.waitUntil(lambda: panel.ready, timeout=10_000)
        panel.views["left"].update()
        panel.views["right"].update()
        qtbot.wait(5)
        if i in (29, 149):
            gc.collect()
            rss.append(_rss_mb())
    assert rss[1] - rss[0] < 60, f"RSS grew {rss[1] - rss[0]:.0f} MB over 120 clouds"
    assert jobs.wait_all()
