"""Results of recently shown clips kept in memory, so that going back to a clip is instant."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np

from ...core.dataset import Sample
from ...core.flow import FlowField
from ...core.pipeline import AlignedPair, MotionCloud, SamplingParams

#: Clips whose cloud, aligned pair, flow and samplings are kept (~8 MB each at 1280×720).
RECENT_CLIPS = 12
#: Decoded frames kept (~3.7 MB each at 1280×720 RGB + depth).
RECENT_FRAMES = 24


class Memo:
    """A small least-recently-used mapping (one thread, or under a lock)."""

    def __init__(self, size: int = RECENT_CLIPS):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def _frame_key(sample: Sample, number: int) -> tuple[str, int]:
    return (sample.frames.color_dir.as_posix() + sample.id, number)


class RecentClips:
    """The window's one memory of recent clips: what was shown or read ahead, by kind.

    Owned by the main window and handed to whoever reads or fills it (the loaders, the
    2D and 3D panels, reading ahead); safe from any thread. Each kind is kept for the
    ``clips`` most recently used clips (frames: the ``frames`` most recent), so memory
    stays bounded however long a session is:

    - the unsampled cloud and aligned pair, by (view key, CloudParams);
    - the flow of a pair, by (sample id, method): found only with that very pair;
    - the samplings of a cloud (``sampling_job``'s result), by (sample id, samplings):
      found only with that very cloud;
    - decoded frames (colour, depth), by (colour folder and sample id, frame number).
    """

    def __init__(self, clips: int = RECENT_CLIPS, frames: int = RECENT_FRAMES):
        self._lock = threading.Lock()
        self._clips, self._flows, self._samplings = Memo(clips), Memo(clips), Memo(clips)
        self._frames = Memo(frames)

    # --- cloud and aligned pair ------------------------------------------------------------------
    def clip(self, key: tuple) -> dict | None:
        """``{"cloud", "pair"}`` kept under ``key`` = (view key, CloudParams), or None."""
        with self._lock:
            return self._clips.get(key)

    def keep_clip(self, key: tuple, cloud: MotionCloud, pair: AlignedPair) -> None:
        with self._lock:
            self._clips.put(key, {"cloud": cloud, "pair": pair})

    # --- flow ----------------------------------------------------------------------------------
    def flow(self, pair: AlignedPair, method: str) -> FlowField | None:
        """The flow by ``method`` kept with this very ``pair``, or None."""
        with self._lock:
            known = self._flows.get((pair.sample_id, method))
        return known[1] if known is not None and known[0] is pair else None

    def keep_flow(self, pair: AlignedPair, method: str, flow: FlowField) -> None:
        with self._lock:
            self._flows.put((pair.sample_id, method), (pair, flow))

    # --- samplings -----------------------------------------------------------------------------
    @staticmethod
    def _sampling_key(sample_id: str, samplings: dict[str, SamplingParams]) -> tuple:
        return (sample_id, *sorted(samplings.items()))

    def sampling(self, cloud: MotionCloud, samplings: dict[str, SamplingParams]) -> tuple | None:
        """``sampling_job``'s result for this very ``cloud`` and ``samplings`` (by view), or None."""
        with self._lock:
            known = self._samplings.get(self._sampling_key(cloud.sample_id, samplings))
        return known if known is not None and known[0] is cloud else None

    def keep_sampling(self, samplings: dict[str, SamplingParams], result: tuple) -> None:
        """Keep ``sampling_job``'s ``result`` = (cloud, sampled by view, display points)."""
        with self._lock:
            self._samplings.put(self._sampling_key(result[0].sample_id, samplings), result)

    # --- frames --------------------------------------------------------------------------------
    def frame(self, sample: Sample, number: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(colour, depth) of frame ``number`` of ``sample``, or None."""
        with self._lock:
            return self._frames.get(_frame_key(sample, number))

    def keep_frame(self, sample: Sample, number: int, rgb: np.ndarray, depth: np.ndarray) -> None:
        with self._lock:
            self._frames.put(_frame_key(sample, number), (rgb, depth))

    def clear(self) -> None:
        """Forget everything (every kind)."""
        with self._lock:
            for memo in (self._clips, self._flows, self._samplings, self._frames):
                memo.clear()
