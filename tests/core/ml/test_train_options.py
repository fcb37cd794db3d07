"""One list of training options: `mer train` and `mer experiment` flags made from it, every
TrainConfig field in it, the documented flags and defaults unchanged, bounds checked."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict

import pytest

from mer_viewer.cli import EXPERIMENT_VARIES, build_parser, main
from mer_viewer.core.errors import MerError
from mer_viewer.core.ml.config import TRAIN_OPTIONS, TrainConfig, config_from_options
from mer_viewer.core.pipeline import SamplingParams
from mer_viewer.core.progress import Progress

from .option_values import ALL_CHANGED, SOME_CHANGED, argv, expected, option_names, run_cli_train

# The flags the README documents for `mer train` before the options had one list.
DOCUMENTED = ["--model", "--classes", "--protocol", "--epochs", "--points", "--sampling",
              "--rank", "--seed", "--device", "--augment", "--class-weights",
              "--motion-encoding", "--test-time-flip", "--no-test-time-flip", "--bf16",
              "--no-bf16", "--inner-val", "--final-model", "--resume", "--workers", "--json"]


def _group_dests(command: str) -> set[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    group = next(g for g in sub._action_groups if g.title == "training options")
    return {a.dest for a in group._group_actions}


def test_every_config_field_is_an_option_and_the_flags_are_made_from_them():
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"model_options"}
    assert option_names() == fields | {"rank"}
    assert len(TRAIN_OPTIONS) == len(option_names())  # each once
    assert set(ALL_CHANGED) == set(SOME_CHANGED) == option_names()
    assert _group_dests("train") == option_names()
    assert _group_dests("experiment") == option_names() - set(EXPERIMENT_VARIES)
    flags = {s for a in build_parser()._actions if a.dest == "command"
             for s in a.choices["train"]._option_string_actions}
    assert set(DOCUMENTED) <= flags


def test_no_flags_train_with_the_documented_defaults(monkeypatch, demo_corpus, tmp_path):
    code, config, preprocessing, _ = run_cli_train(monkeypatch, demo_corpus, tmp_path / "r", [])
    assert code == 0
    assert config == TrainConfig()
    assert (config.model, config.classes, config.protocol, config.points, config.sampling,
            config.seed, config.device, config.final_model, config.class_weights,
            config.augment) == ("pointnet", "3", "loso", 2048, "sort", 0, "auto", False, "balanced",
                                ("rotate", "scale", "jitter", "flip"))
    assert preprocessing["sampling"] == asdict(SamplingParams(2048, "sort", "color_l2", 0))


@pytest.mark.parametrize("values", [ALL_CHANGED, SOME_CHANGED], ids=["all", "some"])
def test_flags_reach_the_config_and_the_sampling(monkeypatch, demo_corpus, tmp_path, values):
    code, config, preprocessing, _ = run_cli_train(monkeypatch, demo_corpus, tmp_path / "r",
                                                   argv(values))
    want_config, want_sampling = expected(values)
    assert code == 0 and config == want_config
    assert preprocessing["sampling"] == asdict(want_sampling)


def test_augment_flag_alone_is_no_augmentation(monkeypatch, demo_corpus, tmp_path):
    _, config, _, _ = run_cli_train(monkeypatch, demo_corpus, tmp_path / "r", ["--augment"])
    assert config.augment == ()


@pytest.mark.parametrize("flags, problem", [
    (["--lr", "0"], "lr must be > 0, not 0.0"),
    (["--batch-size", "1"], "batch_size must be ≥ 2, not 1"),
    (["--inner-val", "1"], "inner_val must be in (0, 1) or None, not 1.0"),
    (["--seed", "-1"], "seed must be ≥ 0, not -1"),
    (["--lr-gamma", "1.5"], "lr_gamma must be in (0, 1], not 1.5"),
    (["--scale-range", "1"], "scale_range must be in [0, 1), not 1.0"),
])
def test_out_of_range_flags_are_one_line_before_any_preprocessing(
        monkeypatch, capsys, demo_corpus, tmp_path, flags, problem):
    code, config, _, built = run_cli_train(monkeypatch, demo_corpus, tmp_path / "r", flags)
    err = capsys.readouterr().err
    assert code == 1 and config is None and not built
    assert err == f"mer train: error: invalid training configuration: {problem}\n"


def test_bounds_are_checked_by_the_config_itself():
    for option in TRAIN_OPTIONS:
        if option.low is None or option.name == "rank":
            continue
        outside = option.low - (0 if option.low_open else 1)
        with pytest.raises(MerError, match=option.name):
            TrainConfig(**{option.name: option.kind(outside)})
        if not option.low_open:
            TrainConfig(**{option.name: option.kind(option.low)})  # the bound is allowed
    assert config_from_options({"lr_step": None, "inner_val": None}) == TrainConfig()


def test_experiment_base_config_takes_the_training_flags(monkeypatch, demo_corpus, tmp_path,
                                                         capsys):
    import mer_viewer.core.ml.experiment as experiment

    seen = {}

    def fake_experiment(dataset, out, settings, seeds, task, base, cloud, workers, cluster):
        seen.update(task=task, base=base, seeds=seeds)
        yield Progress(1, 1, "done", [])

    monkeypatch.setattr(experiment, "run_experiment", fake_experiment)
    assert main(["experiment", str(demo_corpus), "--out", str(tmp_path / "e"), "--seeds", "2",
                 "--classes", "4", "--epochs", "3", "--lr", "0.01", "--no-test-time-flip",
                 "--class-weights", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert seen["base"] == TrainConfig(classes="4", epochs=3, lr=0.01, test_time_flip=False,
                                       class_weights="none")
    assert seen["task"] == "4" and seen["seeds"] == (0, 1)
    assert main(["experiment", str(demo_corpus), "--out", str(tmp_path / "e"), "--json"]) == 0
    assert seen["base"] == TrainConfig() and seen["task"] == "3"
    with pytest.raises(SystemExit):  # the experiment varies these itself
        build_parser().parse_args(["experiment", "R", "--out", "o", "--sampling", "random"])
