"""``--ray``: folds, experiment runs and clips as Ray tasks on one local Ray (2 CPUs) shared
by these tests; the in-process run of the same seed is the reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer_viewer.cli import main
from mer_viewer.core.errors import MerError
from mer_viewer.core.ml.checkpoint import load_checkpoint
from mer_viewer.core.ml.config import TrainConfig
from mer_viewer.core.ml.train import run_training

from .conftest import make_items

# a real PointNet on tiny clouds; the final model too (a task after the folds)
CONFIG = TrainConfig(model="pointnet", epochs=2, batch_size=4, points=32, device="cpu",
                     final_model=True)


def _items():
    return make_items(n_subjects=3, per_subject=4, n_points=32)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The in-process run (one torch thread, as each one-CPU task has)."""
    import torch

    out = tmp_path_factory.mktemp("in-process")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in run_training(CONFIG, _items(), out):
            pass
    finally:
        torch.set_num_threads(threads)
    return out


def _same_run(a: Path, b: Path) -> None:
    pa, pb = pd.read_csv(a / "predictions.csv"), pd.read_csv(b / "predictions.csv")
    assert list(pa.columns) == list(pb.columns)
    assert (pa[["subject", "clip", "fold", "true", "pred"]]
            == pb[["subject", "clip", "fold", "true", "pred"]]).all().all()
    probs = [c for c in pa.columns if c.startswith("p_")]
    np.testing.assert_allclose(pa[probs].to_numpy(), pb[probs].to_numpy(), rtol=0, atol=1e-6)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert ma["uf1"] == pytest.approx(mb["uf1"], abs=1e-9)
    where = ("ray_node",)  # where each fold ran: a Ray node's id, or None in-process
    assert [{k: v for k, v in f.items() if k not in where} for f in ma["per_fold"]] == \
        [{k: v for k, v in f.items() if k not in where} for f in mb["per_fold"]]


def test_folds_on_ray_give_the_in_process_predictions(ray_local, reference, tmp_path):
    out = tmp_path / "ray"
    records = list(run_training(CONFIG, _items(), out, cluster=ray_local))
    _same_run(reference, out)
    # the same weights, fold by fold and for the final model
    for name in ("checkpoints/fold_0.pt", "checkpoints/fold_2.pt", "model.pt"):
        here, there = load_checkpoint(reference / name), load_checkpoint(out / name)
        for key, value in here.model_state.items():
            np.testing.assert_allclose(value.numpy(), there.model_state[key].numpy(), atol=1e-6)
    assert json.loads((out / "history.json").read_text()) == \
        json.loads((reference / "history.json").read_text())
    # one bar over all tasks: it ends full, each fold said where it started and ended
    assert records[-1].step == records[-1].total > 0 and records[-1].result.phase == "done"
    messages = "\n".join(r.message for r in records)
    for who in ("fold 1/3 (spNO.1)", "fold 3/3 (spNO.3)", "final model"):
        assert f"{who} started on" in messages and f"{who} done on cpu" in messages
    assert "4/4 done, 0 running, 0 queued" in records[-1].message
    steps = [r.result for r in records if getattr(r.result, "phase", "") == "step"]
    assert {u.fold for u in steps} == {0, 1, 2, 3}  # the curves get every fold's steps


def test_resume_on_ray_never_recomputes_a_finished_fold(ray_local, reference, tmp_path):
    out = tmp_path / "ray"
    job = run_training(CONFIG, _items(), out, cluster=ray_local)
    for record in job:
        if " done on " in record.message:  # the first finished fold
            break
    job.close()  # as Ctrl-C does: the other tasks are cancelled
    finished = [p for p in (out / "checkpoints").glob("fold_*.pt")
                if load_checkpoint(p).extra["complete"]]
    assert len(finished) == 1 and not (out / "metrics.json").exists()
    kept = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in finished}
    k = int(finished[0].stem.split("_")[1])

    records = list(run_training(CONFIG, _items(), out, resume=True, cluster=ray_local))
    messages = "\n".join(r.message for r in records)
    assert "1 read back from the run folder" in messages
    assert f"fold {k + 1}/3 (spNO.{k + 1}) started" not in messages  # not submitted
    assert "fold" in messages and " started on " in messages  # the others were
    for p, (data, mtime) in kept.items():
        assert p.read_bytes() == data and p.stat().st_mtime_ns == mtime
    _same_run(reference, out)


def test_cancel_cancels_the_running_tasks(ray_local, tmp_path):
    import ray

    cancel = threading.Event()
    config = TrainConfig(model="pointnet", epochs=5000, batch_size=4, points=32, device="cpu")
    started = 0
    records = []
    for record in run_training(config, _items(), tmp_path / "run", cancel=cancel,
                               cluster=ray_local):
        records.append(record)
        started += " started on " in record.message
        if started == 2:
            cancel.set()
    assert getattr(records[-1].result, "phase", "") == "cancelled"
    assert not (tmp_path / "run" / "metrics.json").exists()
    deadline = time.monotonic() + 30  # hours of epochs left: only a cancel frees the CPUs
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2


def _die_once(marker: str) -> int:
    """Kill the worker process running this the first time (no marker yet)."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return os.getpid()


def test_a_task_whose_worker_dies_is_run_again(ray_local, tmp_path):
    from dataclasses import replace

    from mer_viewer.core.cluster import FINISHED, Tasks

    marker = tmp_path / "died"
    with Tasks(ray_local) as tasks:
        tasks.submit("t", "task t", _die_once, str(marker))
        values = [v for _k, v in tasks.events() if v is not FINISHED]
    assert marker.exists() and len(values) == 1 and values[0] != os.getpid()

    marker = tmp_path / "died again"  # no retry left: one line naming the task
    with Tasks(replace(ray_local, max_retries=0)) as tasks:
        tasks.submit("t", "fold 7", _die_once, str(marker))
        with pytest.raises(MerError, match=r"^fold 7: failed on Ray after 0 retries \("):
            list(tasks.events())
    assert marker.exists()


def test_a_user_error_in_a_fold_stops_the_run_with_that_error(ray_local, demo_corpus,
                                                             tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has the GPU the error is about")
    code = main(["train", str(demo_corpus), "--out", str(tmp_path / "run"), "--model",
                 "pointnet", "--epochs", "1", "--points", "256", "--workers", "1",
                 "--device", "cuda", "--ray", "local"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == "mer train: error: device 'cuda' asked for, but this PyTorch build " \
                      "sees no CUDA GPU"
    assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_ray_flag_without_ray_says_how_to_install(demo_corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    code = main(["train", str(demo_corpus), "--out", str(tmp_path / "run"), "--ray", "local"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0] == "mer train: error: running on a Ray cluster needs Ray, an optional " \
                     "extra: pip install mer-viewer[cluster]"
    assert not (tmp_path / "run").exists()


def test_ray_is_imported_only_for_ray():
    code = ("import sys, mer_viewer.cli, mer_viewer.core.jobs, mer_viewer.core.ml.train, "
            "mer_viewer.core.ml.experiment, mer_viewer.core.cluster, "
            "mer_viewer.core.ml.ray_training; "
            "mer_viewer.cli.build_parser().parse_args(['train', 'x', '--out', 'y']); "
            "assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_preprocess_on_ray_fills_the_cache(ray_local, demo_copy, tmp_path, capsys, monkeypatch):
    from mer_viewer.core import cache
    from mer_viewer.core.cache import clip_files, load_cloud, load_pair, preprocess
    from mer_viewer.core.dataset import Dataset
    from mer_viewer.core.paths import cache_dir
    from mer_viewer.core.pipeline import CloudParams

    monkeypatch.setattr(cache, "ProcessPoolExecutor", None)  # a pool here: a TypeError
    code = main(["preprocess", str(demo_copy), "--flow", "none", "--ray", "local", "--json"])
    report = json.loads(capsys.readouterr().out)
    samples = Dataset.open(demo_copy).samples
    assert code == 0 and report["failed"] == [] and report["done"] == len(samples)
    assert report["from_cache"] == 0
    for s in samples:
        files = clip_files(s, CloudParams(), cache_dir() / "clouds")
        assert load_pair(files.pair) is not None and load_cloud(files.cloud) is not None
    # what a task wrote is what this process computes
    here = list(preprocess(samples[:1], workers=1, root=tmp_path / "here"))[-1].result
    assert here[0].ok
    ours = load_cloud(clip_files(samples[0], CloudParams(), tmp_path / "here").cloud)
    theirs = load_cloud(clip_files(samples[0], CloudParams(), cache_dir() / "clouds").cloud)
    np.testing.assert_array_equal(ours.points_m, theirs.points_m)
    np.testing.assert_array_equal(ours.motion, theirs.motion)


def test_experiment_on_ray_gives_the_in_process_table(ray_local, demo_corpus, tmp_path,
                                                      capsys, one_thread):
    args = [str(demo_corpus), "--ablate", "pointnet", "--points", "1024", "--seeds", "2",
            "--epochs", "1", "--workers", "1", "--json"]
    assert main(["experiment", *args, "--out", str(tmp_path / "here")]) == 0
    here = json.loads(capsys.readouterr().out)
    assert main(["experiment", *args, "--out", str(tmp_path / "ray"), "--ray", "local"]) == 0
    there = json.loads(capsys.readouterr().out)
    assert [(s["model"], s["seed"]) for s in there] == [(s["model"], s["seed"]) for s in here]
    for a, b in zip(here, there):
        assert a["uf1"] == pytest.approx(b["uf1"], abs=1e-9)
        assert a["uar"] == pytest.approx(b["uar"], abs=1e-9)
    for seed in (0, 1):
        _same_run(tmp_path / "here" / "pointnet-sort-1024" / f"seed{seed}",
                  tmp_path / "ray" / "pointnet-sort-1024" / f"seed{seed}")
    assert (tmp_path / "ray" / "results.md").read_text() == \
        (tmp_path / "here" / "results.md").read_text()
