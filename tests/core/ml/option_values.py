"""Training option values for the CLI and Train panel tests, and the TrainConfig and sampling
that `mer train` builds from them (its preprocessing and training replaced by recorders)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from mer_viewer.core.ml.config import TRAIN_OPTIONS, TrainConfig
from mer_viewer.core.pipeline import SamplingParams
from mer_viewer.core.progress import Progress

# Every option away from its default (transfer: needs objective classes and the MaE sheet).
ALL_CHANGED = dict(
    model="dgcnn", classes="objective", protocol="transfer", epochs=7, points=1024,
    sampling="random", device="cpu", seed=5, final_model=True, motion_encoding="color",
    class_weights="none", sampler="balanced", test_time_flip=False, inner_val=0.25, holdout_fraction=0.3,
    rank="amplitude", bf16=False, precise_bn=False, augment=("scale", "flip"), lr=0.002,
    weight_decay=0.0, batch_size=8, lr_step=5, lr_gamma=0.5, rotate_deg=5.0, scale_range=0.2,
    jitter_std=0.01)
# Another set: the None choices (auto, off), no augmentation, the panel's final model off.
SOME_CHANGED = dict(
    model="pointnet2", classes="4", protocol="holdout", epochs=3, points=3000, sampling="fps",
    device="auto", seed=0, final_model=False, motion_encoding="vector", class_weights="balanced",
    sampler="shuffle", test_time_flip=True, inner_val=None, holdout_fraction=0.5, rank="color_l2", bf16=True,
    precise_bn=True, augment=(), lr=0.0005, weight_decay=0.001, batch_size=2, lr_step=None,
    lr_gamma=1.0, rotate_deg=0.0, scale_range=0.0, jitter_std=0.0)


def expected(values: dict) -> tuple[TrainConfig, SamplingParams]:
    """The TrainConfig and sampling of ``values``, written out field by field."""
    fields = {k: v for k, v in values.items() if k != "rank" and v is not None}
    config = TrainConfig(**fields)
    return config, SamplingParams(config.points, config.sampling, values["rank"], config.seed)


def argv(values: dict) -> list[str]:
    """``mer train`` flags for ``values`` (None: the flag left out)."""
    out: list[str] = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            out += [flag, *value]
        else:
            out += [flag, str(value)]
    return out


def run_cli_train(monkeypatch, root: Path, out: Path, flags: list[str]):
    """Run ``mer train ROOT --out OUT FLAGS`` with preprocessing and training recorded, not
    done; returns (exit code, the TrainConfig and Preprocessing it trained with, or None)."""
    import mer_viewer.core.ml.items as items
    import mer_viewer.core.ml.train as train
    from mer_viewer.cli import main

    seen = {}

    def fake_build(datasets, task, preprocessing, workers=None, cache_root=None, pool=None):
        seen["built"] = True
        yield Progress(1, 1, "", SimpleNamespace(items=[], failed=[]))

    def fake_run(config, items_, out_dir, preprocessing=None, resume=False, cancel=None,
                 cluster=None):
        seen["config"], seen["preprocessing"] = config, preprocessing
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "metrics.json").write_text(json.dumps({"uf1": 0.5, "uar": 0.5}))
        yield Progress(1, 1, "done")

    monkeypatch.setattr(items, "build_items", fake_build)
    monkeypatch.setattr(train, "run_training", fake_run)
    code = main(["train", str(root), "--out", str(out), *flags])
    return code, seen.get("config"), seen.get("preprocessing"), "built" in seen


def option_names() -> set[str]:
    return {o.name for o in TRAIN_OPTIONS}
