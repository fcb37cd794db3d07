"""Aligned 2D views: linked pan and zoom, overlays, pixel ↔ point picking, frame stepping."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui_helpers import (
    clip_spec,
    gl_unavailable_reason,
    make_window,
    open_and_wait,
    wait_settled,
)


def _centre_and_scale(panel):
    rect = panel.view.viewRect()
    return rect.center().x(), rect.center().y(), rect.width() / panel.view.width()


def test_linked_pan_zoom_and_overlays(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    v = window.views2d
    pair = window.state.pair
    assert pair is not None and v.rgb.box_shown
    box = pair.box
    assert v.rgb.box_item.rect() == QtCore.QRectF(box.x0, box.y0, box.width, box.height)
    assert len(v.depth.landmark_item.data) == 68
    # the first view of a clip fits the face in every panel, all with one centre and scale
    for panel in v.panels:
        rect = panel.view.viewRect()
        assert rect.contains(QtCore.QRectF(box.x0 + 2, box.y0 + 2, box.width - 4, box.height - 4))
    ref = _centre_and_scale(v.panels[0])
    for panel in v.panels[1:]:
        np.testing.assert_allclose(_centre_and_scale(panel), ref, rtol=0.02, atol=1.0)

    # a user zoom and pan in the depth view moves every view the same way
    v.depth.view.scaleBy((0.5, 0.5))
    v.depth.view.translateBy((40, -25))
    v.depth.view.sigRangeChangedManually.emit([True, True])
    moved = _centre_and_scale(v.depth)
    assert abs(moved[2] - ref[2]) > 0.2 * ref[2]
    for panel in v.panels:
        np.testing.assert_allclose(_centre_and_scale(panel), moved, rtol=0.02, atol=1.0)

    v.landmark_check.setChecked(False)
    assert not any(p.landmark_item.isVisible() for p in v.panels)


def test_pixel_click_marks_point_and_frames_step(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    state, v = window.state, window.views2d
    cloud = state.cloud
    i = len(cloud) // 2
    u, v_ = (int(x) for x in cloud.pixels[i])
    v.heat.click_pixel(u + 0.4, v_ + 0.6)
    assert state.picked is not None and state.picked.index == i
    assert (state.picked.u, state.picked.v) == (u, v_)
    np.testing.assert_allclose(state.picked.r_mm, cloud.motion[i, 0] * 1e3, rtol=1e-5)
    for panel in v.panels:
        assert panel.marker == (u, v_)
    assert f"({u}, {v_})" in window.cloud_panel.info.text()
    v.rgb.click_pixel(2, 2)  # background: no face point there
    assert state.picked is None and v.rgb.marker is None

    first = state.frame
    state.step_frame(1)
    wait_settled(qtbot, window)
    assert state.frame == first + 1 and v.frame_shown
    assert v.scrubber.track.frame == first + 1


def test_cloud_export_and_sampling_controls(qtbot, demo_corpus, tmp_path):
    import open3d as o3d

    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    panel, cloud = window.cloud_panel, window.state.cloud
    c = panel.controls
    c.points.setCurrentIndex(c.points.findData(4096))
    c.right.setCurrentIndex(c.right.findData("fps"))
    wait_settled(qtbot, window)
    assert panel.sampled["left"].sampling.points == 4096
    assert panel.sampled["right"].sampling.method == "fps"
    assert "4096 by FPS" in panel.titles["right"].text()

    panel.export("left", tmp_path / "left.ply")
    ply = o3d.io.read_point_cloud(str(tmp_path / "left.ply"))
    assert len(ply.points) == 4096
    np.testing.assert_allclose(np.asarray(ply.colors),
                               cloud.colors[panel.sampled["left"].sampled], atol=1 / 255)  # PLY: 8-bit colours
    panel.export("right", tmp_path / "right.npz")
    with np.load(tmp_path / "right.npz") as data:
        assert data["input"].shape == (4096, 6)
    panel.export("all", tmp_path / "all.ply")
    assert len(o3d.io.read_point_cloud(str(tmp_path / "all.ply")).points) == len(cloud)
    # without OpenGL (offscreen Qt) the 3D export says so instead of saving empty views
    # (tests/gl/test_cloud_export.py checks the pixels of a real one)
    if gl_unavailable_reason() is None:
        assert panel.save_screenshot(tmp_path / "clouds.png").stat().st_size > 0
    else:
        with pytest.raises(RuntimeError, match="OpenGL"):
            panel.save_screenshot(tmp_path / "clouds.png")
        assert not (tmp_path / "clouds.png").exists()

    # a cloud parameter (denoising) recomputes the cloud in the background
    c.denoise.setValue(0.0)
    c._cloud_changed()
    assert window.state.cloud_params.denoise_sigma_px == 0.0
    wait_settled(qtbot, window)
    assert window.state.cloud is not cloud
    assert window.state.cloud.provenance["params"]["denoise_sigma_px"] == 0.0


def test_hover_describes_a_point_but_the_click_pins_the_pick(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    state, panel, views = window.state, window.cloud_panel, window.views2d
    cloud, view = state.cloud, panel.views["left"]
    i, j = len(cloud) // 3, 2 * len(cloud) // 3
    pinned, other = tuple(int(x) for x in cloud.pixels[i]), tuple(int(x) for x in cloud.pixels[j])
    assert pinned != other

    view.pointClicked.emit(i)
    assert state.picked.index == i and "picked" in panel.info.text()
    view.pointHovered.emit(j)  # the mouse moves over another point
    assert state.picked.index == i
    assert all(p.marker == pinned for p in views.panels)  # the 2D marker stays on the pick
    assert f"({other[0]}, {other[1]})" in panel.info.text()  # the hovered point is described
    view.pointHovered.emit(-1)  # ... until the mouse leaves it
    assert f"({pinned[0]}, {pinned[1]})" in panel.info.text()
    view.pointHovered.emit(j)
    QtCore.QCoreApplication.sendEvent(view, QtCore.QEvent(QtCore.QEvent.Type.Leave))
    assert f"({pinned[0]}, {pinned[1]})" in panel.info.text()

    view.pointClicked.emit(-1)  # a click on empty space clears the pin
    assert state.picked is None and all(p.marker is None for p in views.panels)
    view.pointHovered.emit(j)
    assert state.picked is None and f"({other[0]}, {other[1]})" in panel.info.text()
