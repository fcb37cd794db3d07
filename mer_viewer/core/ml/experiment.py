"""The paper's ablation design on any dataset: sampling × N × model, LOSO, several seeds."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..atomic import write_bytes_atomic
from ..dataset import Dataset
from ..dataset.labels import Task
from ..pipeline import CloudParams, SamplingParams
from ..progress import Progress
from ..sampling import SampleMethod
from .config import TrainConfig
from .items import ItemsResult, Preprocessing, build_items
from .train import run_training


@dataclass(frozen=True)
class Setting:
    """One row of the ablation table."""

    model: str = "pointnet2"
    sampling: SampleMethod = "sort"
    points: int = 2048

    @property
    def name(self) -> str:
        return f"{self.model}-{self.sampling}-{self.points}"


def paper_settings(ablated: str = "pointnet2") -> tuple[Setting, ...]:
    """The paper's rows (Tables II, III): sort vs random at 2048 and sort at 1024/4096
    for the ``ablated`` model (PointNet++ in the paper), then the other models at sort 2048."""
    rows = [Setting(ablated, "sort", 2048), Setting(ablated, "random", 2048),
            Setting(ablated, "sort", 1024), Setting(ablated, "sort", 4096)]
    rows += [Setting(m, "sort", 2048) for m in ("pointnet2", "pointnet", "dgcnn") if m != ablated]
    return tuple(rows)


PAPER_SETTINGS = paper_settings()


@dataclass(frozen=True)
class RunScore:
    setting: Setting
    seed: int
    uf1: float
    uar: float


def run_experiment(dataset: Dataset, out: Path, settings: Sequence[Setting] = PAPER_SETTINGS,
                   seeds: Sequence[int] = (0, 1, 2), task: Task = "3",
                   base: TrainConfig = TrainConfig(), cloud: CloudParams = CloudParams(),
                   workers: int | None = None, cluster=None) -> Iterator[Progress]:
    """Train every setting with every seed under LOSO into ``out/<setting>/seed<k>``.

    Yields Progress per training step; the last record's result is the list of
    RunScore. ``out/results.md`` and ``out/results.json`` hold the table.
    ``cluster`` (a ``RayOptions``): every fold of every setting and seed is one Ray task
    (the clouds are computed there too), all submitted at once.
    """
    out = Path(out)
    if cluster is not None:
        yield from _experiment_on_ray(dataset, out, settings, seeds, task, base, cloud, cluster)
        return
    total = len(settings) * len(seeds)
    scores: list[RunScore] = []
    done = 0
    for setting in settings:
        for seed in seeds:
            sampling = SamplingParams(setting.points, setting.sampling, seed=seed)
            preprocessing = Preprocessing(cloud, sampling)
            built: ItemsResult | None = None
            for record in build_items(dataset, task, preprocessing, workers):
                built = record.result
            assert built is not None, "build_items ends with its ItemsResult"
            config = replace(base, model=setting.model, classes=task, protocol="loso",
                             points=setting.points, sampling=setting.sampling, seed=seed)
            run_dir = out / setting.name / f"seed{seed}"
            for record in run_training(config, built.items, run_dir,
                                       preprocessing=preprocessing.to_dict()):
                yield Progress(done, total, f"{setting.name} seed {seed}: {record.message}")
            metrics = json.loads((run_dir / "metrics.json").read_text())
            scores.append(RunScore(setting, seed, metrics["uf1"], metrics["uar"]))
            done += 1
            _write_results(out, scores, task)
    yield Progress(total, total, "experiment done", scores)


def _runs(settings: Sequence[Setting], seeds: Sequence[int], task: Task, base: TrainConfig,
          cloud: CloudParams) -> list[tuple[Setting, int, TrainConfig, Preprocessing]]:
    """Every (setting, seed) of the experiment with its TrainConfig and preprocessing."""
    runs = []
    for setting in settings:
        for seed in seeds:
            config = replace(base, model=setting.model, classes=task, protocol="loso",
                             points=setting.points, sampling=setting.sampling, seed=seed)
            runs.append((setting, seed, config, Preprocessing(
                cloud, SamplingParams(setting.points, setting.sampling, seed=seed))))
    return runs


def _experiment_on_ray(dataset: Dataset, out: Path, settings: Sequence[Setting],
                       seeds: Sequence[int], task: Task, base: TrainConfig, cloud: CloudParams,
                       cluster) -> Iterator[Progress]:
    """``run_experiment`` with every fold of every run a Ray task (``ray_training``)."""
    from ..cluster import map_on_ray
    from .ray_training import RunEvent, train_runs
    from .train import plan_run

    planned, runs, names = _runs(settings, seeds, task, base, cloud), [], []
    pool = map_on_ray(cluster)  # the clouds: computed once per clip, in the shared cache
    for k, (setting, seed, config, preprocessing) in enumerate(planned):
        built = None
        for record in build_items(dataset, task, preprocessing, pool=pool):
            built = record.result
            yield Progress(0, 0, f"{setting.name} seed {seed}: {record.message}")
        assert built is not None, "build_items ends with its ItemsResult"
        runs.append(plan_run(config, built.items, out / setting.name / f"seed{seed}",
                             preprocessing.to_dict(), on_ray=True))
        names.append(f"{setting.name} seed {seed}: ")
    scores: dict[int, RunScore] = {}
    for record in train_runs(runs, cluster, names=names):
        event = record.result
        if isinstance(event, RunEvent) and event.update.phase == "done":
            setting, seed = planned[event.run][:2]
            metrics = event.update.metrics
            assert metrics is not None, "a finished run has its metrics"
            scores[event.run] = RunScore(setting, seed, metrics.uf1, metrics.uar)
            _write_results(out, [scores[k] for k in sorted(scores)], task)
        yield Progress(record.step, record.total, record.message)
    ordered = [scores[k] for k in sorted(scores)]
    yield Progress(len(runs), len(runs), "experiment done", ordered)


def markdown_table(scores: Sequence[RunScore], task: Task) -> str:
    """The paper's format: one row per setting, UF1 and UAR in % as mean ± std over seeds."""
    lines = [f"| model | sampling | N | UF1 % ({task}-class, LOSO) | UAR % | seeds |",
             "|---|---|---|---|---|---|"]
    for setting in dict.fromkeys(s.setting for s in scores):
        rows = [s for s in scores if s.setting == setting]
        uf1 = 100 * np.array([s.uf1 for s in rows])
        uar = 100 * np.array([s.uar for s in rows])
        lines.append(f"| {setting.model} | {setting.sampling} | {setting.points} | "
                     f"{uf1.mean():.2f} ± {uf1.std():.2f} | {uar.mean():.2f} ± {uar.std():.2f} | "
                     f"{len(rows)} |")
    return "\n".join(lines) + "\n"


def _write_results(out: Path, scores: Sequence[RunScore], task: Task) -> None:
    write_bytes_atomic(out / "results.md", markdown_table(scores, task).encode())
    payload = [{**asdict(s.setting), "seed": s.seed, "uf1": s.uf1, "uar": s.uar} for s in scores]
    write_bytes_atomic(out / "results.json", (json.dumps(payload, indent=2) + "\n").encode())
