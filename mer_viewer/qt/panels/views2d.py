"""The aligned 2D views (RGB, depth, flow, heat map) with their scrubber, linked pan and zoom."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ...core.jobs import flow_job
from ..infra.loader import FrameLoader
from ..infra.memo import RecentClips
from ..infra.state import ViewerState
from ..infra.workers import JobRunner
from ..views.frame_views import DepthView, RgbView
from ..views.image_view import ImagePanel, ViewLink
from ..views.motion_views import FlowView, HeatmapView
from ..views.scrubber import FrameScrubber


class Views2DPanel(QtWidgets.QWidget):
    """Four linked image panels over the scrubber; follows the state, marks the picked pixel.

    Frames and flows of recent clips are kept in ``recent`` (the window's memory; a panel
    of its own when none is given)."""

    FLOW_JOB = "flow"
    frameReady = QtCore.Signal(str, int, object, object)  # the loader's, after the views' slots
    frameFailed = QtCore.Signal(str, int, str)  # sample id, frame, one-line message

    def __init__(self, state: ViewerState, jobs: JobRunner, recent: RecentClips | None = None,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.recent = recent if recent is not None else RecentClips()
        self.loader = FrameLoader(jobs, self.recent, self)
        self.rgb, self.depth = RgbView(), DepthView()
        self.flow, self.heat = FlowView(), HeatmapView()
        self.panels: list[ImagePanel] = [self.rgb, self.depth, self.flow, self.heat]
        self.link = ViewLink(self.panels, self)
        self.link.manual.connect(lambda: setattr(self, "_auto_range", False))
        self._auto_range = True
        self.scrubber = FrameScrubber()
        self.box_check = QtWidgets.QCheckBox("crop box", checked=True)
        self.landmark_check = QtWidgets.QCheckBox("landmarks", checked=True)
        self.fit_button = QtWidgets.QToolButton(text="Fit")
        self.fit_button.setToolTip("show the whole frame")
        self.face_button = QtWidgets.QToolButton(text="Face")
        self.face_button.setToolTip("zoom to the face box")

        grid = QtWidgets.QGridLayout()
        grid.setSpacing(4)
        for i, panel in enumerate(self.panels):
            grid.addWidget(panel, i // 2, i % 2)
        tools = QtWidgets.QHBoxLayout()
        tools.addWidget(QtWidgets.QLabel("Overlays:"))
        tools.addWidget(self.box_check)
        tools.addWidget(self.landmark_check)
        tools.addStretch(1)
        tools.addWidget(self.face_button)
        tools.addWidget(self.fit_button)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(tools)
        lay.addLayout(grid, 1)
        lay.addWidget(self.scrubber)

        state.sampleChanged.connect(self._on_sample)
        state.frameChanged.connect(self._on_frame)
        state.pairChanged.connect(self._on_pair)
        state.cloudChanged.connect(self._on_cloud)
        state.pickChanged.connect(self._on_pick)
        self.loader.frameReady.connect(self._on_frame_ready)
        self.loader.frameFailed.connect(self._on_frame_failed)
        self.loader.frameReady.connect(self.frameReady)
        self.loader.frameFailed.connect(self.frameFailed)
        self.scrubber.frameRequested.connect(state.set_frame)
        self.scrubber.stepRequested.connect(self._on_step)
        self.flow.method_box.currentTextChanged.connect(state.set_flow_method)
        state.set_flow_method(self.flow.method)
        state.flowMethodChanged.connect(lambda _m: self._start_flow())
        jobs.partial.connect(self._on_job_result)
        jobs.failed.connect(self._on_job_failed)
        for panel in self.panels:
            panel.pixelClicked.connect(state.pick_pixel)
        self.box_check.toggled.connect(self._apply_overlays)
        self.landmark_check.toggled.connect(self._apply_overlays)
        self.fit_button.clicked.connect(self.fit_frame)
        self.face_button.clicked.connect(self.fit_face)
        self._shown: tuple[str, int] | None = None
        self._flow_key: tuple[str, str] | None = None

    # --- readiness (for --screenshot and tests) -------------------------------------------------
    @property
    def frame_shown(self) -> bool:
        """Whether the views show the state's current frame (or, when it cannot be read,
        the notice that says so)."""
        s = self.state.sample
        return s is None or self._shown == (s.id, self.state.frame)

    @property
    def flow_shown(self) -> bool:
        """Whether the flow view shows the current pair's flow (or that it failed)."""
        s = self.state.sample
        return s is None or self._flow_key == (s.id, self.flow.method)

    # --- state → views ------------------------------------------------------------------------
    def _on_sample(self, sample) -> None:
        self._shown = None
        self._flow_key = None
        for panel in self.panels:
            panel.clear()
        self.depth.new_clip()
        self._auto_range = True
        if sample is None:
            self.scrubber.set_clip([])
            self.jobs.cancel(self.FLOW_JOB)
            return
        self.scrubber.set_clip(sample.frames.numbers, sample.onset, sample.apex, sample.offset)

    def update_markers(self) -> None:
        """Show the current sample's (possibly edited) onset/apex/offset on the scrubber."""
        s = self.state.sample
        if s is not None:
            self.scrubber.set_markers(s.onset, s.apex, s.offset)

    def _on_frame(self, number: int) -> None:
        self.scrubber.set_frame(number)
        if self.state.sample is not None:
            self.loader.request(self.state.sample, number)

    def _on_step(self, delta: int) -> None:
        if self.scrubber.playing and not self.frame_shown:
            return  # playback waits for the disk rather than skipping every frame
        self.state.step_frame(delta)

    def _on_frame_ready(self, sample_id: str, number: int, rgb, depth) -> None:
        s = self.state.sample
        if s is None or s.id != sample_id or number != self.state.frame:
            return  # a late answer to an older request
        self.rgb.set_frame(rgb)
        self.depth.set_frame(depth)
        self.heat.set_frame(rgb)
        if self._shown is None and self._auto_range:
            self._fit_auto()
        self._shown = (sample_id, number)

    def _on_frame_failed(self, sample_id: str, number: int, message: str) -> None:
        """A frame that cannot be read: no image (never the previous frame under this
        number), a notice in its place; it counts as shown, so playback goes on."""
        s = self.state.sample
        if s is None or s.id != sample_id or number != self.state.frame:
            return
        for panel in (self.rgb, self.depth, self.heat):
            panel.set_frame(None)
        for panel in (self.rgb, self.depth):
            panel.show_notice(f"frame {number} cannot be read")
        self.rgb.readout.setText(message)
        self._shown = (sample_id, number)

    def _on_pair(self, pair) -> None:
        box = pair.box if pair is not None else None
        for panel in self.panels:
            panel.set_box(box)
            panel.set_landmarks(pair.landmarks if pair is not None else None)
        self._apply_overlays()
        if pair is not None:
            self.flow.set_frame_shape(pair.frame_shape)
            if self._auto_range:
                self._fit_auto()
            self._start_flow()

    def _on_cloud(self, cloud) -> None:
        self.heat.set_cloud(cloud)
        if cloud is not None and self.state.pair is None:
            for panel in self.panels:
                panel.set_box(cloud.box)

    def _on_pick(self, picked) -> None:
        uv = (picked.u, picked.v) if picked is not None else None
        for panel in self.panels:
            panel.set_marker(uv)

    def _apply_overlays(self) -> None:
        for panel in self.panels:
            panel.show_overlays(self.box_check.isChecked(), self.landmark_check.isChecked())

    # --- flow ----------------------------------------------------------------------------------
    def _start_flow(self) -> None:
        pair = self.state.pair
        if pair is None:
            return
        self._flow_key = None
        method = self.flow.method
        flow = self.recent.flow(pair, method)
        if flow is None and self.state.flow is not None and self.state.flow.method == method:
            flow = self.state.flow  # came from the disk cache with the pair
            self.recent.keep_flow(pair, method, flow)
        if flow is None:
            self.flow.set_flow(None, None)
            self.jobs.start(self.FLOW_JOB, flow_job(self.state.sample, self.state.cloud_params,
                                                    pair, method),
                            f"{method} flow of {pair.sample_id}")
            return
        self.jobs.cancel(self.FLOW_JOB)
        self._show_flow(pair, method, flow)

    def _on_job_failed(self, name: str, message: str) -> None:
        pair = self.state.pair
        if name != self.FLOW_JOB or pair is None:
            return
        self.flow.show_failure(message)
        self._flow_key = (pair.sample_id, self.flow.method)

    def _on_job_result(self, name: str, result) -> None:
        if name != self.FLOW_JOB or self.state.pair is None:
            return
        sample_id, method, flow = result
        if sample_id != self.state.pair.sample_id or method != self.flow.method:
            return
        self.recent.keep_flow(self.state.pair, method, flow)
        self._show_flow(self.state.pair, method, flow)

    def _show_flow(self, pair, method: str, flow) -> None:
        self.flow.set_flow(flow, pair.box, pair.frame_shape)
        self._flow_key = (pair.sample_id, method)

    # --- view range ------------------------------------------------------------------------------
    def _fit_auto(self) -> None:
        """Until the user pans or zooms: the face when it is known, else the frame."""
        if not self.fit_face():
            self.fit_frame()
        self._auto_range = True

    # --- settings ------------------------------------------------------------------------------
    @property
    def flow_method(self) -> str:
        """The optical flow method the flow view shows."""
        return self.flow.method

    def set_flow_method(self, method: str) -> None:
        """Show the flow by ``method`` (one of the flow view's methods; others are ignored)."""
        self.flow.method_box.setCurrentText(method)

    def toggle_playing(self) -> None:
        self.scrubber.toggle_playing()

    def fit_frame(self) -> None:
        shape = self.rgb.frame_shape
        if shape is not None:
            self.link.show_rect(QtCore.QRectF(0, 0, shape[1], shape[0]))

    def fit_face(self) -> bool:
        box = self.state.pair.box if self.state.pair is not None else (
            self.state.cloud.box if self.state.cloud is not None else None)
        if box is None:
            return False
        self.link.show_rect(QtCore.QRectF(box.x0, box.y0, box.width, box.height), padding=0.05)
        return True

    def shutdown(self) -> None:
        self.scrubber.set_playing(False)
        self.loader.shutdown()
