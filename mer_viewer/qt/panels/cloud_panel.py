"""The 3D panel: two motion-cloud viewports (e.g. sort vs random) with controls and legend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from ...core.jobs import SLOW_SAMPLINGS, sampling_job
from ...core.pipeline import MotionCloud, SamplingParams
from ..infra.loader import CloudLoader
from ..infra.memo import RecentClips
from ..infra.state import ViewerState
from ..infra.workers import JobRunner, describe_error
from ..views.cloud_colors import dimmed, point_colors
from ..views.cloud_view import CameraLink, CloudView
from ..views.elided import ElidedLabel
from ..views.legend import ColorLegend
from .cloud_controls import CloudControls

SIDES = ("left", "right")
PICK_HINT = "hover or click a point; click a pixel in the 2D views"


def describe_sampling(params: SamplingParams, cloud: MotionCloud) -> str:
    how = {"sort": f"top-{params.points} by {params.rank}",
           "random": f"{params.points} uniformly at random", "fps": f"{params.points} by FPS"}
    pad = f", {cloud.padded} repeated" if cloud.padded else ""
    return f"{params.method}: {how[params.method]} of {len(cloud):,} face points{pad}"


class CloudPanel(QtWidgets.QWidget):
    """Shows the state's cloud in two linked viewports, each with its own sampling.

    The samplings of recent clips are kept in ``recent`` (the window's memory; a panel
    of its own when none is given)."""

    JOB = "sampling"
    message = QtCore.Signal(str)  # information (fades)
    error = QtCore.Signal(str)    # a failure (stays until dismissed)

    def __init__(self, state: ViewerState, jobs: JobRunner, recent: RecentClips | None = None,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.recent = recent if recent is not None else RecentClips()
        self.controls = CloudControls()
        self.views = {side: CloudView(side) for side in SIDES}
        self.titles = {side: ElidedLabel(" ", lines=2) for side in SIDES}
        self.link = CameraLink(list(self.views.values()), self)
        self.legend = ColorLegend()
        self.info = ElidedLabel(PICK_HINT, lines=2)
        self.info.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sampled: dict[str, MotionCloud] = {}
        self.saliency: np.ndarray | None = None
        self._saliency_id = ""
        self._points_mm: np.ndarray | None = None
        self._reset_next = True
        self._hovered: int | None = None  # the point under the mouse (the pick stays)
        self.failed = ""  # why the current clip has no cloud to show (its job failed)

        pair = QtWidgets.QHBoxLayout()
        pair.setSpacing(4)
        for side in SIDES:
            col = QtWidgets.QVBoxLayout()
            col.setSpacing(1)
            col.addWidget(self.titles[side])
            col.addWidget(self.views[side], 1)
            pair.addLayout(col, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.controls)
        lay.addLayout(pair, 1)
        lay.addWidget(self.legend)
        lay.addWidget(self.info)

        c = self.controls
        c.cloudParamsChanged.connect(state.set_cloud_params)
        c.samplingChanged.connect(self.resample)
        c.displayChanged.connect(self.redraw)
        c.link.toggled.connect(self.link.set_enabled)
        c.reset.clicked.connect(self.reset_views)
        c.screenshot.clicked.connect(self._ask_screenshot)
        for label, what in (("sampled points, left view…", "left"),
                            ("sampled points, right view…", "right"),
                            ("every face point…", "all")):
            c.export_menu.addAction(f"Export {label}", lambda w=what: self._ask_export(w))
        for view in self.views.values():
            view.pointHovered.connect(self._on_hover)
            view.pointClicked.connect(self._on_click)
            view.installEventFilter(self)  # the mouse leaving a view ends its hover
        state.cloudChanged.connect(self._on_cloud)
        state.pickChanged.connect(self._on_pick)
        state.sampleChanged.connect(lambda _s: self._new_clip())
        jobs.partial.connect(self._on_job_result)
        jobs.started.connect(lambda name, _label: self._on_job_started(name))
        jobs.failed.connect(self._on_job_failed)

    # --- readiness -----------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether the views show the state's cloud with the current samplings."""
        cloud = self.state.cloud
        if cloud is None:
            return self.state.sample is None
        return all(self.sampled.get(s) is not None and self.sampled[s].sampling ==
                   self.controls.sampling(s) and self.sampled[s].sample_id == cloud.sample_id
                   for s in SIDES) and self._points_mm is not None

    # --- cloud → views -----------------------------------------------------------------------------
    def _new_clip(self) -> None:
        self._reset_next = True
        self.sampled = {}  # a new dict: the old one may be in the memo
        self._points_mm = None
        self.failed = ""
        for side in SIDES:
            self.views[side].clear_cloud()
            self.titles[side].setText(" ")
        self.legend.set_mode(self.controls.color_mode, None)  # not the last clip's P99

    def _on_job_started(self, name: str) -> None:
        if name in (self.JOB, CloudLoader.JOB):
            self.failed = ""

    def _on_job_failed(self, name: str, message: str) -> None:
        """No cloud will come for this clip: the views say so (the message bar says why)."""
        if name not in (self.JOB, CloudLoader.JOB) or self.state.sample is None:
            return
        self.failed = message
        for side in SIDES:
            self.titles[side].setText(f"no cloud shown: {message}")

    def _on_cloud(self, cloud: MotionCloud | None) -> None:
        self._hovered = None  # an index into the previous cloud
        if cloud is None:
            self.jobs.cancel(self.JOB)
            return
        self.resample()

    def resample(self) -> None:
        cloud = self.state.cloud
        if cloud is None:
            return
        samplings = self.samplings()
        known = self.recent.sampling(cloud, samplings)
        if known is None:
            if any(p.method in SLOW_SAMPLINGS for p in samplings.values()):
                self.jobs.start(self.JOB, sampling_job(cloud, samplings),
                                f"sampling {cloud.sample_id}")
                return
            # sort and random take ~2 ms each: here, so the views update with the 2D ones
            known = list(sampling_job(cloud, samplings))[-1].result
            self.recent.keep_sampling(samplings, known)
        self.jobs.cancel(self.JOB)
        self._show(*known)

    def _on_job_result(self, name: str, result) -> None:
        if name != self.JOB:
            return
        cloud, sampled, points_mm = result
        if cloud is not self.state.cloud:
            return
        self.recent.keep_sampling({s: sampled[s].sampling for s in SIDES}, result)
        self._show(cloud, sampled, points_mm)

    def restore_settings(self, settings: QtCore.QSettings):
        """Take the controls' saved values; returns the cloud parameters they set."""
        self.controls.restore(settings)
        return self.controls.cloud_params()

    def save_settings(self, settings: QtCore.QSettings) -> None:
        self.controls.save(settings)

    def samplings(self) -> dict[str, SamplingParams]:
        """The sampling of each viewport, as the controls set it."""
        return {side: self.controls.sampling(side) for side in SIDES}

    def _show(self, cloud: MotionCloud, sampled: dict[str, MotionCloud],
              points_mm: np.ndarray) -> None:
        self.sampled = dict(sampled)
        self._points_mm = points_mm
        self.redraw()

    def redraw(self) -> None:
        cloud = self.state.cloud
        if cloud is None or self._points_mm is None or not self.sampled:
            return
        c = self.controls
        saliency = self.saliency if self._saliency_id == cloud.sample_id else None
        colors = point_colors(cloud, c.color_mode, saliency)
        context = None if c.show == "sampled" else dimmed(colors)
        r_ref = cloud.provenance.get("r_reference_m")
        self.legend.set_mode(c.color_mode, float(r_ref) * 1e3 if r_ref else None)
        for side in SIDES:
            view, sampled = self.views[side], self.sampled[side]
            view.point_size = float(c.size.value())
            highlighted = None if c.show == "all" else sampled.sampled
            view.set_cloud(self._points_mm, colors, highlighted,
                           None if c.show != "highlight" else context, reset=self._reset_next)
            self.titles[side].setText(describe_sampling(sampled.sampling, sampled))
        if self._reset_next:
            self._reset_next = False
            self.link.set_enabled(c.link.isChecked())
        self._on_pick(self.state.picked)

    def set_saliency(self, sample_id: str, per_point: np.ndarray | None) -> None:
        """Saliency per kept point of the current cloud (for the ``saliency`` colour mode)."""
        if per_point is None and self.saliency is None and self.controls.color_mode != "saliency":
            self._saliency_id = sample_id
            return  # nothing shown changes (every clip switch clears it): no redraw
        self.saliency, self._saliency_id = per_point, sample_id
        if per_point is not None:
            self.controls.set_color_mode("saliency")
        elif self.controls.color_mode == "saliency":
            self.controls.set_color_mode("motion")
        self.redraw()

    def reset_views(self) -> None:
        for view in self.views.values():
            view.reset_camera()

    # --- picking -------------------------------------------------------------------------------------
    def _on_hover(self, index: int) -> None:
        """The point under the mouse is described while it is there; the pick stays."""
        hovered = index if index >= 0 else None
        if hovered != self._hovered:
            self._hovered = hovered
            self._show_info()

    def _on_click(self, index: int) -> None:
        """A click picks (and pins) a point; a click on empty space clears the pick."""
        self.state.pick_point(index if index >= 0 else None)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        if event.type() == QtCore.QEvent.Type.Leave and watched in self.views.values():
            self._on_hover(-1)
        return False

    def _on_pick(self, picked) -> None:
        for view in self.views.values():
            view.set_marker(picked.index if picked is not None else None)
        self._show_info()

    def _show_info(self) -> None:
        hovered = self.state.point(self._hovered)
        picked = self.state.picked
        if hovered is not None and hovered != picked:
            self.info.setText("under the mouse: " + self._describe(hovered))
        elif picked is not None:
            self.info.setText("picked: " + self._describe(picked))
        else:
            self.info.setText(PICK_HINT)

    def _describe(self, point) -> str:
        member = []
        for side in SIDES:
            s = self.sampled.get(side)
            if s is not None:
                mark = "✓" if point.index in set(s.sampled.tolist()) else "✗"
                member.append(f"{s.sampling.method} {mark}")
        return point.describe() + ("   sampled: " + ", ".join(member) if member else "")

    # --- files ---------------------------------------------------------------------------------------
    def save_screenshot(self, path: Path, size: QtCore.QSize | None = None) -> Path:
        """Both viewports as shown (same cameras), rendered offscreen side by side at equal
        size under their titles, with the colour legend, as an image of ``size`` (default:
        twice the on-screen size). Returns the path written (``.png`` added without a known
        suffix); OSError, RuntimeError (no GL) or ValueError (too small) on failure."""
        from ..views import cloud_export

        views, titles = self._export_parts()
        size = size or cloud_export.screen_size(views, titles, self.legend, self.font()) * 2
        image, _ = cloud_export.render(views, titles, self.legend, size, self.font())
        return cloud_export.save(image, Path(path))

    def _export_parts(self):
        return (tuple(self.views[s] for s in SIDES),
                tuple(self.titles[s].text().strip() for s in SIDES))

    def export(self, what: str, path: Path) -> None:
        from ...core.export import export_cloud, write_ply

        cloud = self.state.cloud
        if cloud is None:
            raise ValueError("no cloud to export")
        if what == "all":
            if path.suffix.lower() != ".ply":
                path = path.with_suffix(".ply")
            write_ply(path, cloud.points_m, cloud.colors)
        else:
            export_cloud(self.sampled[what], path)

    def _ask_screenshot(self) -> None:
        from ..views import cloud_export

        views, titles = self._export_parts()
        dialog = cloud_export.ExportDialog(
            cloud_export.screen_size(views, titles, self.legend, self.font()), self)
        if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        name, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save the 3D views", "clouds.png",
                                                        cloud_export.FORMATS)
        if name:
            try:
                written = self.save_screenshot(Path(name), dialog.size_px())
                self.message.emit(f"saved {written}")
            except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
                self.error.emit(f"{name}: could not save the 3D views: {describe_error(exc)}")

    def _ask_export(self, what: str) -> None:
        if self.state.cloud is None:
            self.message.emit("no cloud to export yet")
            return
        default = f"{self.state.cloud.sample_id}_{what}.ply"
        name, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export point cloud", default,
                                                        "PLY (*.ply);;NumPy (*.npz)")
        if name:
            try:
                self.export(what, Path(name))
                self.message.emit(f"exported {name}")
            except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
                self.error.emit(f"{name}: export failed: {describe_error(exc)}")
