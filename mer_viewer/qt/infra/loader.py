"""Background loading for the views: frames (latest request wins) and the current clip's cloud."""

from __future__ import annotations

import traceback
from collections.abc import Callable

from PySide6 import QtCore

from ...core.dataset import Sample
from ...core.errors import MerError
from ...core.jobs import SLOW_SAMPLINGS, cloud_job
from ...core.pipeline import SamplingParams
from .memo import RecentClips
from .state import ViewerState, view_key
from .workers import JobRunner, Lane, describe_error


class FrameLoader(QtCore.QObject):
    """Decodes colour + depth frames in one background lane of the job runner; a newer
    request replaces an older one still waiting, so scrubbing and playback never queue up
    behind the disk. Decoded frames are kept in the window's memory of recent clips."""

    JOB = "frames"
    frameReady = QtCore.Signal(str, int, object, object)  # sample id, frame, rgb, depth
    frameFailed = QtCore.Signal(str, int, str)  # sample id, frame, one-line message

    def __init__(self, jobs: JobRunner, recent: RecentClips,
                 parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.recent = recent
        self._lane = Lane(jobs, self.JOB, self._decode, latest_only=True)

    def request(self, sample: Sample, number: int) -> None:
        hit = self.recent.frame(sample, number)
        if hit is not None:
            self._lane.clear()  # an older request must not overwrite this frame
            self.frameReady.emit(sample.id, number, *hit)
            return
        self._lane.put((sample, number))

    @property
    def idle(self) -> bool:
        return self._lane.idle

    def shutdown(self) -> None:
        self._lane.clear()  # the job runner stops the frame being read

    def _decode(self, job: tuple[Sample, int]) -> None:
        """One frame, in the lane's thread: kept, then announced (or its failure)."""
        sample, number = job
        try:
            rgb = sample.frames.color(number)
            depth = sample.frames.depth(number)
        except Exception as exc:  # noqa: BLE001 - reported for its frame; the loader goes on
            if not isinstance(exc, (MerError, OSError)):
                traceback.print_exc()  # a bug, not a bad file: keep the details
            self.frameFailed.emit(sample.id, number,
                                  f"frame {number} of {sample.id}: {describe_error(exc)}")
            return
        self.recent.keep_frame(sample, number, rgb, depth)
        self.frameReady.emit(sample.id, number, rgb, depth)


class CloudLoader(QtCore.QObject):
    """Recomputes the cloud when the clip or the cloud parameters change (job ``cloud``).

    The clouds and aligned pairs of recent clips stay in ``recent``: a revisit shows them
    without a job (face detection alone takes a few hundred ms). Create it after the
    views, so that on a new clip they have cleared themselves before it shows those.
    """

    JOB = "cloud"

    def __init__(self, state: ViewerState, jobs: JobRunner, recent: RecentClips,
                 parent: QtCore.QObject | None = None,
                 samplings: Callable[[], dict[str, SamplingParams]] | None = None):
        """``samplings()``: the 3D views' samplings, made in the job when they are quick
        (sort, random) so the GUI thread only draws the new cloud."""
        super().__init__(parent)
        self.state, self.jobs, self.recent = state, jobs, recent
        self.samplings = samplings
        state.sampleChanged.connect(self.reload)
        state.cloudParamsChanged.connect(self.reload)
        jobs.partial.connect(self._on_partial)
        self._sample_id = ""
        self._key: tuple | None = None
        self._found: dict = {}

    def reload(self, *_args) -> None:
        sample = self.state.sample
        if sample is None:
            self.jobs.cancel(self.JOB)
            return
        self._sample_id = sample.id
        self._key = (view_key(sample), self.state.cloud_params)
        self._found = {}
        hit = self.recent.clip(self._key)
        if hit is not None:
            self.jobs.cancel(self.JOB)
            self.state.set_result(sample.id, cloud=hit["cloud"], pair=hit["pair"])
            return
        samplings = self.samplings() if self.samplings is not None else None
        if samplings and any(p.method in SLOW_SAMPLINGS for p in samplings.values()):
            samplings = None  # fps: the 3D panel's own job, with progress
        self.jobs.start(self.JOB, cloud_job(sample, self.state.cloud_params,
                                            self.state.flow_method, samplings=samplings),
                        f"motion cloud of {sample.id}")

    def _on_partial(self, name: str, result: object) -> None:
        if name != self.JOB or not isinstance(result, tuple):
            return
        kind, value = result
        if kind == "sampled":
            self.recent.keep_sampling(*value)
            return
        if kind == "cached":
            self.state.set_result(self._sample_id, **value)
            found = {k: v for k, v in value.items() if k != "flow"}
        elif kind == "cloud":
            self.state.set_result(self._sample_id, cloud=value)
            found = {kind: value}
        elif kind == "pair":
            self.state.set_result(self._sample_id, pair=value)
            found = {kind: value}
        else:
            return
        self._found.update(found)
        if self._key is not None and len(self._found) == 2:
            self.recent.keep_clip(self._key, self._found["cloud"], self._found["pair"])
