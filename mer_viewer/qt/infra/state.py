"""The viewer's shared state: dataset, current clip and frame, cloud, parameters, picked point."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6 import QtCore

from ...core.dataset import Dataset, Sample, Skipped
from ...core.flow import DEFAULT_FLOW, FlowField
from ...core.pipeline import AlignedPair, CloudParams, MotionCloud, SamplingParams


def view_key(sample: Sample | None) -> tuple | None:
    """What decides the frames and the cloud shown for a sample."""
    if sample is None:
        return None
    return (str(sample.frames.color_dir), sample.subject, sample.clip, sample.onset, sample.apex)


@dataclass(frozen=True)
class PickedPoint:
    """A kept face point of the current cloud, as shown to the user (SPEC §1 units)."""

    index: int
    u: int
    v: int
    r_mm: float
    theta_deg: float
    phi_deg: float
    color: tuple[float, float, float]

    def describe(self) -> str:
        r, t, p = self.color
        return (f"pixel (u, v) = ({self.u}, {self.v})   r = {self.r_mm:.2f} mm   "
                f"θ = {self.theta_deg:+.0f}°   φ = {self.phi_deg:+.0f}°   "
                f"(r̂, θ̂, φ̂) = ({r:.2f}, {t:.2f}, {p:.2f})")


class ViewerState(QtCore.QObject):
    """What every view shows; widgets read it and change it only through these setters.

    Signals carry the new value. ``cloud`` is the unsampled MotionCloud of the
    current sample for ``cloud_params``; ``pair`` its aligned onset/apex crops;
    ``flow`` the pair's optical flow by ``flow_method`` when it came with the pair
    (from the disk cache), else None until the flow view has computed it.
    """

    datasetChanged = QtCore.Signal(object)
    rowChanged = QtCore.Signal(object)       # the selected Sample or Skipped row (or None)
    sampleChanged = QtCore.Signal(object)    # a different clip or onset/apex: views reload
    sampleEdited = QtCore.Signal(object)     # same clip, other labels/offset/notes
    frameChanged = QtCore.Signal(int)
    cloudParamsChanged = QtCore.Signal(object)
    flowMethodChanged = QtCore.Signal(str)
    samplingChanged = QtCore.Signal(object)
    cloudChanged = QtCore.Signal(object)
    pairChanged = QtCore.Signal(object)
    pickChanged = QtCore.Signal(object)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.sample: Sample | None = None
        self.row: Sample | Skipped | None = None
        self.frame: int = 0
        self.cloud_params = CloudParams()
        self.sampling = SamplingParams()
        self.cloud: MotionCloud | None = None
        self.pair: AlignedPair | None = None
        self.flow_method = DEFAULT_FLOW
        self.flow: FlowField | None = None
        self.picked: PickedPoint | None = None
        self._pixel_index: np.ndarray | None = None

    # --- dataset and clip -------------------------------------------------------------------
    def set_dataset(self, dataset: Dataset | None) -> None:
        """A newly opened dataset: nothing selected."""
        self.dataset = dataset
        self.datasetChanged.emit(dataset)
        self.set_row(None)

    def replace_dataset(self, dataset: Dataset) -> None:
        """The same dataset reopened (edits applied): keep the selected row by its key."""
        key = self.row.key if self.row is not None else None
        self.dataset = dataset
        self.datasetChanged.emit(dataset)
        row = None
        if key is not None:
            row = next((r for r in (*dataset.samples, *dataset.skipped) if r.key == key), None)
        self.set_row(row)

    @property
    def root(self) -> Path | None:
        return self.dataset.root if self.dataset is not None else None

    def set_row(self, row: Sample | Skipped | None) -> None:
        """Select a sheet row: a loadable sample is shown, a skipped row only annotated."""
        self.row = row
        self.rowChanged.emit(row)
        self.set_sample(row if isinstance(row, Sample) else None, _from_row=True)

    def set_sample(self, sample: Sample | None, force: bool = False,
                   _from_row: bool = False) -> None:
        """Make ``sample`` current; the views reload only when its clip, onset or apex change."""
        if not _from_row and sample is not self.row:
            self.row = sample
            self.rowChanged.emit(sample)
        old = self.sample
        if not force and view_key(old) == view_key(sample):
            self.sample = sample
            if sample != old:
                self.sampleEdited.emit(sample)
            return
        self.sample = sample
        self._set_cloud(None)
        self.pair = self.flow = None
        self.pairChanged.emit(None)
        self.sampleChanged.emit(sample)
        self.set_frame(sample.onset if sample is not None else 0, force=True)

    def frames(self) -> list[int]:
        """Frame numbers of the current clip shown by the scrubber (all frames of the folder)."""
        return self.sample.frames.numbers if self.sample is not None else []

    def set_frame(self, number: int, force: bool = False) -> None:
        frames = self.frames()
        if frames:
            number = min(frames, key=lambda n: abs(n - number))
        if number != self.frame or force:
            self.frame = number
            self.frameChanged.emit(number)

    def step_frame(self, delta: int) -> None:
        frames = self.frames()
        if not frames:
            return
        i = frames.index(self.frame) if self.frame in frames else 0
        self.set_frame(frames[max(0, min(len(frames) - 1, i + delta))])

    # --- cloud ------------------------------------------------------------------------------
    def set_cloud_params(self, params: CloudParams) -> None:
        if params != self.cloud_params:
            self.cloud_params = params
            self.cloudParamsChanged.emit(params)

    def set_flow_method(self, method: str) -> None:
        if method != self.flow_method:
            self.flow_method = method
            self.flowMethodChanged.emit(method)

    def set_sampling(self, sampling: SamplingParams) -> None:
        if sampling != self.sampling:
            self.sampling = sampling
            self.samplingChanged.emit(sampling)

    def set_result(self, sample_id: str, cloud: MotionCloud | None = None,
                   pair: AlignedPair | None = None, flow: FlowField | None = None) -> None:
        """A cloud, aligned pair or the pair's flow arrived (computed or from the cache);
        ignored if the clip changed meanwhile. A flow counts only with its pair."""
        if self.sample is None or sample_id != self.sample.id:
            return
        if pair is not None:
            self.pair = pair
            self.flow = flow  # before the signal: the flow view looks for it
            self.pairChanged.emit(pair)
        if cloud is not None:
            self._set_cloud(cloud)

    def _set_cloud(self, cloud: MotionCloud | None) -> None:
        self.cloud = cloud
        self._pixel_index = None
        if cloud is not None:
            box = cloud.box
            index = np.full((box.height, box.width), -1, dtype=np.int64)
            index[cloud.pixels[:, 1] - box.y0, cloud.pixels[:, 0] - box.x0] = np.arange(len(cloud))
            self._pixel_index = index
        self.picked = None
        self.cloudChanged.emit(cloud)
        self.pickChanged.emit(None)

    # --- 2D ↔ 3D picking ---------------------------------------------------------------------
    def point(self, index: int | None) -> PickedPoint | None:
        """Kept point ``index`` of the current cloud as shown to the user (None: no such point)."""
        cloud = self.cloud
        if cloud is None or index is None or not 0 <= index < len(cloud):
            return None
        r, theta, phi = (float(x) for x in cloud.motion[index])
        u, v = (int(x) for x in cloud.pixels[index])
        return PickedPoint(int(index), u, v, r * 1e3, float(np.degrees(theta)),
                           float(np.degrees(phi)), tuple(float(c) for c in cloud.colors[index]))

    def pick_point(self, index: int | None) -> None:
        """Select kept point ``index`` of the cloud (None clears the selection)."""
        picked = self.point(index)
        if picked != self.picked:
            self.picked = picked
            self.pickChanged.emit(picked)

    def point_at_pixel(self, u: float, v: float, radius: int = 3) -> int | None:
        """Index of the kept point at full-frame pixel (u, v), or the nearest within ``radius``."""
        index, cloud = self._pixel_index, self.cloud
        if index is None or cloud is None:
            return None
        col, row = int(round(u)) - cloud.box.x0, int(round(v)) - cloud.box.y0
        h, w = index.shape
        r0, r1 = max(0, row - radius), min(h, row + radius + 1)
        c0, c1 = max(0, col - radius), min(w, col + radius + 1)
        if r0 >= r1 or c0 >= c1:
            return None
        window = index[r0:r1, c0:c1]
        rows, cols = np.nonzero(window >= 0)
        if rows.size == 0:
            return None
        best = np.argmin((rows + r0 - row) ** 2 + (cols + c0 - col) ** 2)
        return int(window[rows[best], cols[best]])

    def pick_pixel(self, u: float, v: float) -> bool:
        """Select the point under full-frame pixel (u, v); False when no face point is there."""
        index = self.point_at_pixel(u, v)
        self.pick_point(index)
        return index is not None
