"""Training items from a dataset: every labelled sample's cached motion cloud, sampled to N × 6."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..cache import cached_cloud, preprocess
from ..dataset import Dataset, Sample
from ..dataset.labels import Task
from ..fields import FieldTypeError, check_fields
from ..pipeline import CloudParams, SamplingParams
from ..progress import Progress
from .data import TrainItem


@dataclass(frozen=True)
class Preprocessing:
    """How a clip becomes network input; stored in every run and checkpoint so that
    classifying a clip reproduces what the model was trained on."""

    cloud: CloudParams = CloudParams()
    sampling: SamplingParams = SamplingParams()

    def to_dict(self) -> dict:
        return {"cloud": self.cloud.as_dict(), "sampling": asdict(self.sampling)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "preprocessing") -> Preprocessing:
        """Inverse of :meth:`to_dict` (missing fields take their defaults); ValueError naming
        the field (``preprocessing.sampling.points must be ...``) for a value of the wrong
        type or range and for an unknown field."""
        check_fields(cls, data, where)
        sampling = data.get("sampling", {})
        problems = []
        if sampling.get("points", 1) < 1:
            problems.append(f"{where}.sampling.points must be at least 1")
        cloud = data.get("cloud", {})
        if cloud.get("denoise_sigma_px", 0) < 0 or cloud.get("margin", 0) < 0:
            problems.append(f"{where}.cloud.denoise_sigma_px and margin must be ≥ 0")
        if problems:
            raise FieldTypeError("; ".join(problems))
        try:
            return cls(CloudParams.from_dict(cloud), SamplingParams(**sampling))
        except (TypeError, ValueError) as exc:  # MotionParams and Intrinsics check their ranges
            raise FieldTypeError(f"{where}.cloud: {exc}") from None


@dataclass(frozen=True)
class ItemsResult:
    """The items built and the samples that could not be used, with their errors."""

    items: list[TrainItem]
    failed: list[tuple[str, str]]


def sample_features(sample: Sample, preprocessing: Preprocessing, cache_root: Path | None = None):
    """(N, 6) float32 network input of one sample (its cloud from the cache when valid)."""
    return cached_cloud(sample, preprocessing.cloud, preprocessing.sampling,
                        root=cache_root).network_input


def build_items(dataset: Dataset | Sequence[Dataset], task: Task,
                preprocessing: Preprocessing = Preprocessing(), workers: int | None = None,
                cache_root: Path | None = None, pool=None) -> Iterator[Progress]:
    """Yield Progress while filling the cache; the last record's result is an ItemsResult.

    ``dataset``: one dataset, or several (the ME and the MaE sheet of one root for
    the ``transfer`` protocol); each item's ``source`` is its sheet, and the ids of
    items from another sheet than the ME one are prefixed with it (``mae:spNO.1_a_12``),
    so a macro- and a micro-expression starting on the same frame stay apart.
    ``pool``: where the clouds are computed (``preprocess``'s; default ``workers`` processes).
    Samples outside the task (e.g. ``others`` for 3 classes) are left out; a
    sample whose cloud fails is reported in ``failed`` and left out.
    """
    datasets = [dataset] if isinstance(dataset, Dataset) else list(dataset)
    chosen = [[s for s in d.samples if s.label(task) is not None] for d in datasets]
    total = sum(len(samples) for samples in chosen)
    failed: list[tuple[str, str]] = []
    items = []
    done = 0
    for samples in chosen:
        bad: dict[str, str] = {}
        for record in preprocess(samples, preprocessing.cloud, workers, cache_root, pool=pool):
            if isinstance(record.result, list):
                bad = {o.sample_id: o.error for o in record.result if not o.ok}
            else:
                yield Progress(done + record.step, total, f"preprocessing {record.message}")
        done += len(samples)
        for sample in samples:
            item_id = item_sample_id(sample)
            if sample.id in bad:
                failed.append((item_id, bad[sample.id]))
                continue
            items.append(TrainItem(sample_id=item_id, subject=sample.subject, clip=sample.id,
                                   label=sample.label(task),
                                   features=sample_features(sample, preprocessing, cache_root),
                                   source=sample.source))
    yield Progress(total, total, "items ready", ItemsResult(items, failed))


def item_sample_id(sample: Sample) -> str:
    """The id of a sample's TrainItem: ``spNO.1_a_12`` (ME sheet), ``mae:spNO.1_a_12`` (others)."""
    return sample.id if sample.source == "me" else f"{sample.source}:{sample.id}"


def macro_dataset(dataset: Dataset) -> Dataset:
    """The macro-expression (MaE) sheet's samples of ``dataset``'s root, with its edits: the
    training side of the transfer protocol. DatasetError naming the root without one."""
    from ..dataset.sheets import SPECS, find_sheet
    from ..errors import DatasetError

    if find_sheet(dataset.root, "mae") is None:
        raise DatasetError(f"{dataset.root}: the transfer protocol needs the macro-expression "
                           f"sheet ({SPECS['mae'].pattern}), and there is none")
    return Dataset.open(dataset.root, kind="mae", edits=dataset.edits)
