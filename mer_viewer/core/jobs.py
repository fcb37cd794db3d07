"""The viewer's long jobs, Qt-free: each a generator of ``Progress`` that a worker thread runs.

Every job a panel starts lives here (the panels only start them and show their results);
a job's last non-None ``Progress.result`` is what it made. Heavy imports (torch, the
classifier) wait inside the jobs, so importing this module stays cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import ClipProducts
from .dataset import Dataset, Sample
from .dataset.edits import EditStore, row_identity
from .dataset.sheets import read_sheet
from .flow import DEFAULT_FLOW, FlowMethod
from .geometry import display_points
from .pipeline import AlignedPair, CloudParams, MotionCloud, SamplingParams
from .progress import Progress

if TYPE_CHECKING:  # the jobs import the ML modules when they run (torch is slow to load)
    from .ml.items import ItemsResult

# --- the current clip -----------------------------------------------------------------------

def cloud_job(sample: Sample, params: CloudParams, flow_method: FlowMethod = DEFAULT_FLOW,
              use_cache: bool = True,
              samplings: dict[str, SamplingParams] | None = None) -> Iterator[Progress]:
    """The current clip's cloud and aligned pair, from the disk cache when there, and the
    pair's flow by ``flow_method`` when that is cached too (``mer preprocess`` caches all).

    What the cache holds comes first as one ``("cached", {"cloud", "pair", "flow"})``
    result (the views then update at once); what it lacks is computed, stored and
    yielded as ``("pair", AlignedPair)`` and ``("cloud", MotionCloud)`` (the flow is the
    flow view's job). A cached cloud shows before the slower face alignment.

    With ``samplings`` (the 3D views' sort/random samplings), each cloud is first followed
    by ``("sampled", (samplings, sampling_job's result))``, yielded just before it: the
    views then find their points sampled, and the GUI thread only draws them.
    """
    clip = ClipProducts(sample, params, use_cache=use_cache)
    found = clip.cached(flow_method)
    if found:
        if "cloud" in found and samplings:
            yield Progress(1, 3, "sampled", ("sampled", (samplings, _sampled(found["cloud"],
                                                                           samplings))))
        yield Progress(1, 3, "from the cache", ("cached", found))
    if "pair" not in found:
        yield Progress(1, 3, "finding the face and aligning apex to onset")
        pair = clip.pair()
        yield Progress(2, 3, "aligned", ("pair", pair))
    if "cloud" not in found:
        cloud = clip.cloud()
        if samplings:
            yield Progress(3, 3, "sampled", ("sampled", (samplings, _sampled(cloud, samplings))))
        yield Progress(3, 3, "cloud ready", ("cloud", cloud))
    yield Progress(3, 3, "done")


def _sampled(cloud: MotionCloud, samplings: dict[str, SamplingParams]) -> tuple:
    """``sampling_job``'s result, at once."""
    return list(sampling_job(cloud, samplings))[-1].result


def flow_job(sample: Sample, params: CloudParams, pair: AlignedPair,
             method: FlowMethod) -> Iterator[Progress]:
    """Optical flow of an aligned pair (from the disk cache, else computed and stored), as a
    one-step job whose result is (sample id, method, FlowField)."""
    from .cache import cached_flow

    yield Progress(0, 1, f"{method} optical flow")
    flow = cached_flow(sample, params, method, pair=pair)
    yield Progress(1, 1, "flow ready", (pair.sample_id, method, flow))


SLOW_SAMPLINGS = ("fps",)  # seconds on a large face: a job of its own, with progress


def sampling_job(cloud: MotionCloud,
                 samplings: dict[str, SamplingParams]) -> Iterator[Progress]:
    """Resample ``cloud`` for each view (fps on a large face takes a while: a job); the
    result is ``(cloud, {side: sampled cloud}, display points in mm)``."""
    out = {}
    for i, (side, params) in enumerate(samplings.items()):
        yield Progress(i, len(samplings), f"{params.method} sampling of {params.points} points")
        out[side] = cloud.resample(params)
    points_mm = display_points(cloud.points_m, cloud.centre)
    yield Progress(len(samplings), len(samplings), "sampled", (cloud, out, points_mm))


def read_ahead(sample: Sample, frame: int, params: CloudParams, flow_method: FlowMethod,
               samplings: dict[str, SamplingParams]) -> dict | None:
    """What showing ``sample`` needs, read from the disk cache only (nothing is computed):
    ``{"cloud", "pair", "flow"}`` (flow None when not cached), ``"frame"`` (colour, depth)
    of frame ``frame`` and ``"sampled"`` (``sampling_job``'s result for ``samplings``).
    None when its cloud or pair is not cached. MerError/OSError for unreadable frames."""
    found = ClipProducts(sample, params).cached(flow_method)
    if "cloud" not in found or "pair" not in found:
        return None
    frame_images = (sample.frames.color(frame), sample.frames.depth(frame))
    sampled = _sampled(found["cloud"], samplings)
    return {"cloud": found["cloud"], "pair": found["pair"], "flow": found.get("flow"),
            "frame": frame_images, "sampled": sampled}


# --- datasets ---------------------------------------------------------------------------------

def open_job(root: Path, edits: EditStore | None = None) -> Iterator[Progress]:
    """Open ``root`` (with ``edits`` instead of the sidecar when given); also index the sheet's
    own rows by key, so rows that were skipped can be edited too."""
    yield Progress(0, 2, f"reading {root}")
    dataset = Dataset.open(root, edits=edits if edits is not None else "auto")
    rows = {row_identity(r, dataset.kind)[2]: r.values for r in read_sheet(dataset.sheet,
                                                                           dataset.kind)}
    yield Progress(2, 2, f"{len(dataset.samples)} samples", (dataset, rows))


def export_job(dataset: Dataset, path: Path) -> Iterator[Progress]:
    """Merged annotations (sheet + edits) written to ``path`` (.xlsx or .csv); result: the path."""
    from .dataset.edits import export_merged

    yield Progress(0, 1, f"writing {path}")
    yield Progress(1, 1, "written", export_merged(dataset, path))


# --- classification and training --------------------------------------------------------------

def classify_job(sample, checkpoint_path: Path | None, bundled_task: str = "3"):
    """Classify the clip (cached model, input made as in training), then explain the decision:
    the probabilities are yielded first, the result with its saliency after."""
    from .ml.classify import bundled_checkpoint, classify, explain_classification
    from .ml.runtime import freeze_heap, import_torch

    yield Progress(0, 2, "classifying")
    import_torch()  # its libraries linked without holding the GIL: the GUI keeps painting
    freeze_heap()
    result = classify(sample, checkpoint_path or bundled_checkpoint(bundled_task))
    best = result.probabilities[result.predicted]
    yield Progress(1, 2, f"{result.predicted} ({best:.0%}); saliency…", result)
    yield Progress(2, 2, f"{result.predicted} ({best:.0%})", explain_classification(sample, result))


def training_job(dataset, config, preprocessing, out: Path, cancel: threading.Event,
                 cluster=None):
    """Build the items (cache filled in parallel), then run LOSO/hold-out training; with
    ``cluster`` (a ``RayOptions``) the clips and the folds are Ray tasks there."""
    from .ml.items import build_items
    from .ml.runtime import freeze_heap, import_torch

    yield Progress(0, 0, "loading torch")
    import_torch()  # its libraries linked without holding the GIL: the GUI keeps painting
    from .ml.train import run_training

    try:  # the optimizer's first step imports it (and sympy): now, then out of the GC's sight
        import torch._dynamo  # noqa: F401
    except ImportError:
        pass
    freeze_heap()

    pool = None
    if cluster is not None:
        from .cluster import connect, map_on_ray

        yield Progress(0, 0, f"connecting to Ray ({cluster.address})")
        connect(cluster)
        pool = map_on_ray(cluster, cancel)
    built: ItemsResult | None = None
    for record in build_items(dataset, config.classes, preprocessing, pool=pool):
        if cancel.is_set():
            return
        if record.result is not None:
            built = record.result
        else:
            yield Progress(record.step, record.total, record.message)
    assert built is not None, "build_items ends with its ItemsResult"
    failed = f", {len(built.failed)} clips failed" if built.failed else ""
    yield Progress(0, 1, f"{len(built.items)} clips ready{failed}", ("items", built))
    yield from run_training(config, built.items, out, preprocessing=preprocessing.to_dict(),
                            cancel=cancel, cluster=cluster)


def with_macro_sheet(job_of: Callable[[list], Iterator[Progress]],
                     dataset) -> Iterator[Progress]:
    """Read the root's macro-expression sheet (the transfer protocol trains on it), then run
    ``job_of([dataset, macro])``; both in the job's thread."""
    from ..core.ml.items import macro_dataset

    yield Progress(0, 0, "reading the macro-expression sheet")
    yield from job_of([dataset, macro_dataset(dataset)])


def spot_job(dataset, row, params):
    """The motion curve of ``row`` (a Sample or a skipped row) as a one-step job; its result
    is (row key, MotionCurve)."""
    from .spotting import SpotTarget, motion_curve, skipped_target

    yield Progress(0, 1, f"motion curve of {row.subject} {row.clip}")
    target = SpotTarget.of_sample(row) if isinstance(row, Sample) else skipped_target(dataset, row)
    if target is None:
        from .errors import MerError

        raise MerError(f"{row.subject} {row.clip}: this row has no onset frame to start from")
    curve = motion_curve(target, params, "dis", exceptions=dataset.exceptions)
    yield Progress(1, 1, "motion curve ready", (curve_key(row), curve))


def curve_key(row) -> tuple:
    """A curve depends on the row's onset and offset (not on its apex)."""
    return row.key, row.onset, getattr(row, "offset", None)


def batch_job(samples, checkpoint: Path, out: Path, cancel: threading.Event):
    """Classify ``samples`` with ``checkpoint`` (the one-clip path for each), write the CSV;
    the last result is ``(out, BatchResult)``. Nothing is written when cancelled."""
    from .ml.batch import classify_samples, write_batch_csv
    from .ml.runtime import import_torch

    yield Progress(0, 0, "loading torch")
    import_torch()
    result = None
    for record in classify_samples(samples, checkpoint, cancel=cancel):
        if record.result is not None:
            result = record.result
        else:
            yield record
    if result is None or cancel.is_set():
        return
    write_batch_csv(out, result)
    yield Progress(1, 1, f"{len(result.rows)} clips classified -> {out}", (out, result))
