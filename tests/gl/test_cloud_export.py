"""3D export: both viewports offscreen at the size asked, aligned, titled, legend below."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtCore

from mer_viewer.qt.infra.state import ViewerState
from mer_viewer.qt.infra.workers import JobRunner
from mer_viewer.qt.panels.cloud_panel import CloudPanel
from mer_viewer.qt.views import cloud_export
from mer_viewer.qt.views.cloud_colors import colormap_colors
from tests.gl.synthetic import grid_cloud

VIEW_BACKGROUND = (18, 18, 22)


def _panel(qtbot, mode: str = "motion") -> CloudPanel:
    state, jobs = ViewerState(), JobRunner()
    panel = CloudPanel(state, jobs)
    qtbot.addWidget(panel)
    panel.resize(900, 640)
    panel.show()
    qtbot.waitExposed(panel)
    c = panel.controls
    c.points.setCurrentIndex(c.points.findData(1024))
    c.show_mode.setCurrentIndex(c.show_mode.findData("sampled"))
    c.size.setValue(4)
    c.set_color_mode(mode)
    state._set_cloud(grid_cloud())
    qtbot.waitUntil(lambda: panel.ready, timeout=10_000)
    qtbot.wait(100)
    return panel


def _near(pixels: np.ndarray, rgb, tol: int = 24) -> np.ndarray:
    return (np.abs(pixels.astype(int) - np.array(rgb)) <= tol).all(axis=-1)


def test_export_at_the_size_asked_aligned_with_titles_and_legend(qtbot, tmp_path):
    panel = _panel(qtbot)
    views, titles = panel._export_parts()
    size = QtCore.QSize(1500, 900)
    written = panel.save_screenshot(tmp_path / "clouds", size)
    assert written == tmp_path / "clouds.png"
    image = np.asarray(Image.open(written).convert("RGB"))
    assert image.shape == (900, 1500, 3)

    _, layout = cloud_export.render(views, titles, panel.legend, size, panel.font())
    left, right = layout.views
    assert left.height() == right.height() and left.width() == right.width()
    assert left.top() == right.top()  # halves aligned: one header height above both
    assert layout.titles[0].height() == layout.titles[1].height()
    halves = [image[r.top():r.bottom() + 1, r.left():r.right() + 1] for r in (left, right)]
    for half in halves:
        background = _near(half, VIEW_BACKGROUND, tol=6)
        assert 0.3 < background.mean() < 0.98  # the view's background with points on it
        assert _near(half, (255, 0, 0), tol=40).sum() > 500  # the moving half: pure red
    # sort keeps only the moving (red) half; random draws from both: the halves differ
    assert (np.abs(halves[0].astype(int) - halves[1].astype(int)).sum(axis=-1) > 60).mean() > 0.02
    assert _near(halves[1], (0, 0, 0), tol=12).sum() > _near(halves[0], (0, 0, 0), tol=12).sum()
    # the title strip holds text (dark on the white background), nothing of the views
    header = image[layout.titles[0].top():layout.titles[0].bottom() + 1,
                   layout.titles[0].left():layout.titles[0].right() + 1]
    assert (header.sum(axis=-1) < 200).sum() > 50 and _near(header, (255, 255, 255), 4).mean() > 0.6
    # the legend strip below: the r̂, θ̂, φ̂ ramps end in pure red, green and blue
    strip = image[layout.legend.top():layout.legend.bottom() + 1,
                  layout.legend.left():layout.legend.right() + 1]
    for rgb in ((250, 0, 0), (0, 250, 0), (0, 0, 250)):
        assert _near(strip, rgb, tol=20).sum() > 20, rgb
    assert layout.legend.bottom() < 900 and layout.legend.top() > left.bottom()


def test_a_color_map_legend_is_exported_with_its_colors(qtbot, tmp_path):
    panel = _panel(qtbot, mode="r")
    size = QtCore.QSize(1200, 700)
    image = np.asarray(Image.open(panel.save_screenshot(tmp_path / "r.jpg", size))
                       .convert("RGB"))
    assert image.shape == (700, 1200, 3)
    views, titles = panel._export_parts()
    _, layout = cloud_export.render(views, titles, panel.legend, size, panel.font())
    strip = image[layout.legend.top():layout.legend.bottom() + 1,
                  layout.legend.left():layout.legend.right() + 1]
    from mer_viewer.qt.views.cloud_colors import COLOR_MODES

    ends = colormap_colors(np.array([0.02, 0.98]), COLOR_MODES["r"][1])
    for rgb in (ends * 255).round().astype(int):
        assert _near(strip, rgb, tol=30).sum() > 10, rgb  # jpeg: a looser match


def test_an_export_without_room_for_the_views_is_an_error_not_a_file(qtbot, tmp_path):
    panel = _panel(qtbot)
    # wide, so text and legend are scaled up, and too flat for them and the views
    with pytest.raises(ValueError, match="larger image"):
        panel.save_screenshot(tmp_path / "tiny.png", QtCore.QSize(2400, 150))
    assert not (tmp_path / "tiny.png").exists()
