"""Training items from a dataset: every labelled sample's cached motion cloud, sampled to N × 6."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from ..cache import cached_cloud, preprocess
from ..dataset import Dataset, Sample
from ..dataset.labels import Task
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
    def from_dict(cls, data: dict) -> "Preprocessing":
        return cls(CloudParams.from_dict(data.get("cloud", {})),
                   SamplingParams(**data.get("sampling", {})))


@dataclass(frozen=True)
class ItemsResult:
    """The items built and the samples that could not be used, with their errors."""

    items: list[TrainItem]
    failed: list[tuple[str, str]]


def sample_features(sample: Sample, preprocessing: Preprocessing, cache_root: Path | None = None):
    """(N, 6) float32 network input of one sample (its cloud from the cache when valid)."""
    return cached_cloud(sample, preprocessing.cloud, preprocessing.sampling,
                        root=cache_root).network_input


def build_items(dataset: Dataset, task: Task, preprocessing: Preprocessing = Preprocessing(),
                workers: int | None = None, cache_root: Path | None = None
                ) -> Iterator[Progress]:
    """Yield Progress while filling the cache; the last record's result is an ItemsResult.

    Samples outside the task (e.g. ``others`` for 3 classes) are left out; a
    sample whose cloud fails is reported in ``failed`` and left out.
    """
    samples = [s for s in dataset.samples if s.label(task) is not None]
    failed: list[tuple[str, str]] = []
    for record in preprocess(samples, preprocessing.cloud, workers, cache_root):
        if isinstance(record.result, list):
            failed = [(o.sample_id, o.error) for o in record.result if not o.ok]
        else:
            yield Progress(record.step, record.total, f"preprocessing {record.message}")
    bad = {sample_id for sample_id, _ in failed}
    items = []
    for sample in samples:
        if sample.id in bad:
            continue
        items.append(TrainItem(sample_id=sample.id, subject=sample.subject, clip=sample.id,
                               label=sample.label(task),
                               features=sample_features(sample, preprocessing, cache_root)))
    yield Progress(len(samples), len(samples), "items ready", ItemsResult(items, failed))
