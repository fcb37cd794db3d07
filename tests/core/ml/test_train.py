"""Honest training: run directory, pooled metrics, folds, stop and resume, settings."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, recall_score

from mer_viewer.core.atomic import temp_name
from mer_viewer.core.errors import MerError
from mer_viewer.core.ml.checkpoint import load_checkpoint
from mer_viewer.core.ml.config import TrainConfig, resolve_device
from mer_viewer.core.ml.data import augment
from mer_viewer.core.ml.protocol import plan_folds
from mer_viewer.core.ml.train import run_training

from .conftest import CLASSES_3, make_items

FAST = dict(epochs=2, batch_size=4, points=32)


def _run(config, items, out, **kw):
    return list(run_training(config, items, out, **kw))


def test_run_directory_and_pooled_metrics(tmp_path, fake_models):
    items = make_items(unlabelled=1)
    config = TrainConfig(**FAST)
    records = _run(config, items, tmp_path, preprocessing={"cloud": {"align": "ecc"}})
    steps = [r.step for r in records]
    assert steps == sorted(steps) and records[-1].step == records[-1].total
    assert records[-1].result.phase == "done"
    assert {r.result.phase for r in records} == {"start", "step", "epoch", "fold", "done"}

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    preds = pd.read_csv(tmp_path / "predictions.csv")
    assert list(preds.columns) == ["subject", "clip", "fold", "true", "pred",
                                   "p_negative", "p_positive", "p_surprise"]
    assert len(preds) == metrics["n_samples"] == 24 and metrics["dropped"] == 4
    kw = dict(labels=list(CLASSES_3), average="macro", zero_division=0)
    assert metrics["uf1"] == pytest.approx(f1_score(preds.true, preds.pred, **kw))
    assert metrics["uar"] == pytest.approx(recall_score(preds.true, preds.pred, **kw))
    assert metrics["classes"] == list(CLASSES_3) and metrics["task"] == "3"
    assert metrics["protocol"] == "loso" and len(metrics["confusion"]) == 3
    np.testing.assert_allclose(preds[[f"p_{c}" for c in CLASSES_3]].sum(axis=1), 1, atol=1e-5)
    assert (preds[[f"p_{c}" for c in CLASSES_3]].to_numpy().argmax(1)
            == preds.pred.map(CLASSES_3.index)).all()

    folds = json.loads((tmp_path / "folds.json").read_text())
    assert len(folds) == 4
    for f in folds:
        assert not set(f["test"]) & set(f["train"])
        assert set(preds[preds.fold == f["fold"]].subject) == set(f["test"])
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert TrainConfig.from_dict(cfg) == config and cfg["preprocessing"] == {"cloud": {"align": "ecc"}}
    for name in ("confusion.png", "curves.png"):
        img = cv2.imread(str(tmp_path / name))
        assert img is not None and img.std() > 10  # something is drawn
    for k in range(4):
        ck = load_checkpoint(tmp_path / "checkpoints" / f"fold_{k}.pt")
        assert ck.extra["complete"] and ck.optimizer_state is None
        assert ck.class_names == CLASSES_3 and ck.preprocessing == {"cloud": {"align": "ecc"}}
    assert not (tmp_path / "model.pt").exists()
    assert "UF1" in (tmp_path / "report.md").read_text()


def _stop_after(config, items, out, n):
    gen = run_training(config, items, out)
    for _ in range(n):
        last = next(gen).result
    gen.close()
    return last.phase, last.fold, last.epoch


# 18 training samples a fold, batches of 4: 5 steps an epoch. Stop mid-epoch before any
# checkpoint, mid-epoch after one, and after the last epoch's checkpoint but before testing.
@pytest.mark.parametrize("stop_after, where", [(4, ("step", 0, 1)), (10, ("step", 0, 2)),
                                               (26, ("epoch", 1, 2))])
def test_close_then_resume_matches_uninterrupted(tmp_path, fake_models, stop_after, where):
    items = make_items()
    config = TrainConfig(**FAST, augment=("rotate", "scale", "jitter"))
    _run(config, items, tmp_path / "a")
    assert _stop_after(config, items, tmp_path / "b", stop_after) == where
    assert not (tmp_path / "b" / "metrics.json").exists()
    assert not list((tmp_path / "b").rglob(".tmp-*"))
    records = _run(config, items, tmp_path / "b", resume=True)
    assert records[-1].step == records[-1].total
    a = (tmp_path / "a" / "predictions.csv").read_text()
    assert (tmp_path / "b" / "predictions.csv").read_text() == a
    ma = json.loads((tmp_path / "a" / "metrics.json").read_text())
    mb = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert ma == mb


def test_cancel_event_then_resume(tmp_path, fake_models):
    items = make_items()
    config = TrainConfig(**FAST)
    _run(config, items, tmp_path / "a")
    cancel = threading.Event()
    records = []
    for r in run_training(config, items, tmp_path / "b", cancel=cancel):
        records.append(r)
        if r.result.phase == "step" and r.result.fold == 2:
            cancel.set()
    assert records[-1].result.phase == "cancelled"
    assert not (tmp_path / "b" / "metrics.json").exists()
    resumed = _run(config, items, tmp_path / "b", resume=True)
    assert [r.result.resumed for r in resumed if r.result.phase == "fold"] == \
        [True, True, False, False]
    assert (tmp_path / "b" / "predictions.csv").read_text() == \
        (tmp_path / "a" / "predictions.csv").read_text()


def test_stale_checkpoint_temps_of_a_killed_run_are_removed_on_resume(tmp_path, fake_models):
    """A run killed while saving a checkpoint leaves checkpoints/.tmp-*.pt (up to the size of
    a checkpoint); resuming removes those, and only those, and ends as an uninterrupted run."""
    items = make_items()
    config = TrainConfig(**FAST)
    _run(config, items, tmp_path / "a")
    run = tmp_path / "b"
    _stop_after(config, items, run, 10)
    ckpts = run / "checkpoints"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a dead writer's pid
    killed = ckpts / temp_name(ckpts / "fold_0.pt", pid=child.pid)
    killed.write_bytes((ckpts / "fold_0.pt").read_bytes()[:1000])  # torn mid-save
    older = ckpts / ".tmp-q8x_2kdz.pt"  # the mkstemp name of earlier versions
    older.write_bytes(b"PK\x03\x04")
    result = run / temp_name(run / "metrics.json", pid=child.pid)
    result.write_text("{")
    keep = [ckpts / "notes.txt", run / ".tmp-notes.txt", run / "my.tmp-x.pt"]
    for p in keep:
        p.write_text("mine")
    records = _run(config, items, run, resume=True)
    assert records[-1].result.phase == "done"
    assert not killed.exists() and not older.exists() and not result.exists()
    assert all(p.read_text() == "mine" for p in keep)
    assert (run / "predictions.csv").read_text() == \
        (tmp_path / "a" / "predictions.csv").read_text()
    # a new run into a folder with such leftovers removes them too
    killed.write_bytes(b"PK")
    _stop_after(config, items, run, 1)
    assert not killed.exists()


def test_a_single_class_is_refused(tmp_path, fake_models):
    items = make_items(labels_for=lambda s, j: "negative")
    with pytest.raises(MerError, match="every labelled sample is negative"):
        _run(TrainConfig(**FAST), items, tmp_path)


def test_resume_refuses_other_settings(tmp_path, fake_models):
    items = make_items()
    _stop_after(TrainConfig(**FAST), items, tmp_path, 5)
    with pytest.raises(MerError, match="cannot resume.*lr"):
        next(run_training(TrainConfig(**FAST, lr=0.01), items, tmp_path, resume=True))


def test_a_run_made_before_a_setting_existed_resumes(tmp_path, fake_models):
    import json

    items = make_items()
    config = TrainConfig(**FAST)
    _stop_after(config, items, tmp_path, 5)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["sampler"]  # written before --sampler existed: it shuffled
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert _run(config, items, tmp_path, resume=True)[-1].result.phase == "done"
    with pytest.raises(MerError, match="cannot resume.*sampler"):
        _stop_after(config, items, tmp_path / "b", 5)
        saved = json.loads((tmp_path / "b" / "config.json").read_text())
        del saved["sampler"]
        (tmp_path / "b" / "config.json").write_text(json.dumps(saved))
        next(run_training(TrainConfig(**FAST, sampler="balanced"), items, tmp_path / "b",
                          resume=True))


def test_holdout_inner_val_and_final_model(tmp_path, fake_models):
    items = make_items(n_subjects=5, per_subject=4)
    config = TrainConfig(**FAST, protocol="holdout", holdout_fraction=0.4, inner_val=0.34,
                         final_model=True)
    records = _run(config, items, tmp_path)
    (fold,) = json.loads((tmp_path / "folds.json").read_text())
    assert len(fold["test"]) == 2 and len(fold["train"]) == 3
    assert not set(fold["test"]) & set(fold["train"])
    assert fold["inner_val"] and set(fold["inner_val"]) < set(fold["train"])
    epochs = [r.result for r in records if r.result.phase == "epoch" and not r.result.final_model]
    assert all(e.val_uf1 is not None for e in epochs)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_samples"] == 8 and metrics["final_model"] == "model.pt"
    assert 1 <= metrics["per_fold"][0]["tested_epoch"] <= 2
    ck = load_checkpoint(tmp_path / "model.pt")
    assert ck.class_names == CLASSES_3 and ck.extra["train"] == sorted(set(i.subject for i in items))
    assert not (tmp_path / "checkpoints" / "final.pt").exists()
    assert ck.build_model() is not None


def test_test_subject_with_unseen_class_is_still_evaluated(tmp_path, fake_models):
    # spNO.1 is the only subject with "surprise"; its LOSO fold never saw that class.
    items = make_items(n_subjects=3, per_subject=4,
                       labels_for=lambda s, j: "surprise" if s == 0 else CLASSES_3[j % 2])
    _run(TrainConfig(**FAST), items, tmp_path)
    preds = pd.read_csv(tmp_path / "predictions.csv")
    assert (preds[preds.subject == "spNO.1"].true == "surprise").sum() == 4
    assert len(preds) == 12


def test_absent_class_left_out_of_the_run(tmp_path, fake_models):
    items = make_items(n_subjects=2, per_subject=4,
                       labels_for=lambda s, j: ("negative", "positive")[j % 2])
    _run(TrainConfig(**FAST), items, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["classes"] == ["negative", "positive"]
    assert metrics["absent_classes"] == ["surprise"]


def test_bf16_autocast_runs(tmp_path, fake_models):
    items = make_items(n_subjects=2, per_subject=4)
    records = _run(TrainConfig(epochs=1, batch_size=4, bf16=True), items, tmp_path)
    preds = records[-1].result.predictions
    assert len(preds) == 8 and all(np.isfinite(p.probabilities).all() for p in preds)


def test_unknown_model_is_a_user_error(tmp_path, fake_models):
    with pytest.raises(MerError, match="cannot build model 'resnet'"):
        _run(TrainConfig(**FAST, model="resnet"), make_items(n_subjects=2), tmp_path)


def test_config_defaults_and_validation():
    c = TrainConfig()
    assert (c.model, c.classes, c.protocol, c.lr, c.weight_decay, c.batch_size, c.points,
            c.sampling, c.seed, c.device, c.epochs) == ("pointnet", "3", "loso", 1e-3, 1e-4, 24,
                                                        2048, "sort", 0, "auto", 40)
    assert c.augment == ("rotate", "scale", "jitter", "flip") and c.precise_bn
    assert c.motion_encoding == "vector" and c.test_time_flip
    assert c.network_options == {"motion_encoding": "vector"}
    assert TrainConfig(model_options={"k": 10}).network_options == {"motion_encoding": "vector",
                                                                      "k": 10}
    assert c.effective_lr_step == 8 and TrainConfig(epochs=100).effective_lr_step == 20
    assert TrainConfig(epochs=12).effective_lr_step == 2
    assert TrainConfig(epochs=300).effective_lr_step == 20
    assert TrainConfig(classes=7).classes == "7"
    for bad in (dict(classes="5"), dict(protocol="kfold"), dict(augment=("mirror",)),
                dict(inner_val=1.5), dict(batch_size=1), dict(device="tpu"),
                dict(motion_encoding="polar")):
        with pytest.raises(MerError):
            TrainConfig(**bad)


def test_resolve_device():
    import torch

    assert resolve_device("auto").type in {"cuda", "mps", "cpu"}
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(MerError, match="cuda"):
            resolve_device("cuda")


def test_augment_moves_only_xyz():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 10, 6)).astype(np.float32)
    y = augment(x, ("rotate",), np.random.default_rng(1), rotate_deg=10, scale_range=0.1,
                jitter_std=0.01)
    np.testing.assert_array_equal(y[..., 3:], x[..., 3:])
    np.testing.assert_allclose(y[..., 1], x[..., 1], atol=1e-6)  # about the vertical axis
    np.testing.assert_allclose(np.linalg.norm(y[..., :3], axis=2),
                               np.linalg.norm(x[..., :3], axis=2), rtol=1e-5)
    assert not np.allclose(y, x)


def test_flip_mirrors_the_face_and_its_motion():
    """A flipped sample equals the features computed from the mirrored motion (−Δx, Δy, Δz)
    at the mirrored points (−x, y, z), against core.motion as the reference."""
    from mer_viewer.core.motion import normalise, spherical

    rng = np.random.default_rng(3)
    delta = rng.normal(0, 1e-3, size=(500, 3))
    delta[:50] *= 1e-3  # below the 0.3 mm noise floor: black
    xyz = rng.uniform(-1, 1, size=(500, 3))

    def features(xyz, delta):
        r, theta, phi = spherical(delta)
        return np.concatenate([xyz, normalise(r, theta, phi, 2e-3)], 1).astype(np.float32)

    x = np.stack([features(xyz, delta)] * 16)
    mirror = np.array([-1.0, 1.0, 1.0])
    expected = features(xyz * mirror, delta * mirror)
    y = augment(x, ("flip",), np.random.default_rng(0), rotate_deg=0, scale_range=0,
                jitter_std=0)
    flipped = y[:, 0, 0] == -x[:, 0, 0]
    assert 0 < flipped.sum() < 16
    for sample in y[flipped]:
        np.testing.assert_allclose(sample, expected, atol=2e-6)
    np.testing.assert_array_equal(y[~flipped], x[~flipped])
    assert (y[flipped][:, :50, 4:] == 0).all()  # black stays black


def test_loso_plan_never_tests_a_training_subject():
    folds = plan_folds([f"spNO.{k}" for k in (10, 2, 1, 2)], "loso", 0, inner_val=0.5)
    assert [f.test for f in folds] == [("spNO.1",), ("spNO.2",), ("spNO.10",)]
    for f in folds:
        assert f.test[0] not in f.train and f.test[0] not in f.inner_val
        assert set(f.inner_val) < set(f.train) and f.fit


def test_precise_bn_statistics_are_the_training_batches_average():
    """Running mean = mean of the BN input over the rows; running var = mean of the
    batches' unbiased variances (equal batches); dropout is off and the model ends in eval."""
    import torch

    from mer_viewer.core.ml.train import recompute_bn_statistics

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.9),
                                torch.nn.BatchNorm1d(4))
    model.train()
    model(torch.randn(8, 3) * 5 + 3)  # stale statistics from "training"
    x = np.random.default_rng(1).normal(2.0, 3.0, (48, 3)).astype(np.float32)
    idx = np.arange(48)
    recompute_bn_statistics(model, x, idx, 24, dict(device_type="cpu", enabled=False))
    assert not model.training and model[2].momentum == 0.1
    with torch.no_grad():
        h = model[0](torch.from_numpy(x)).numpy()  # no dropout in the reference either
    order = np.random.default_rng(0).permutation(idx)
    batches = [h[order[:24]], h[order[24:]]]
    np.testing.assert_allclose(model[2].running_mean.numpy(), h.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model[2].running_var.numpy(),
                               np.mean([b.var(0, ddof=1) for b in batches], 0), rtol=1e-4)


def test_tested_models_carry_precise_statistics(tmp_path, fake_models):
    """The fold checkpoints (what was tested) and model.pt hold the statistics of their
    training rows: recomputing them changes nothing. Without precise_bn they are stale."""
    from mer_viewer.core.ml.data import stack_items
    from mer_viewer.core.ml.train import recompute_bn_statistics

    items = make_items(n_subjects=3, per_subject=8)
    data = stack_items(items, CLASSES_3)
    off = dict(device_type="cpu", enabled=False)
    for precise in (True, False):
        out = tmp_path / str(precise)
        _run(TrainConfig(epochs=2, batch_size=8, points=32, precise_bn=precise, bf16=False,
                         final_model=True), items, out)
        assert json.loads((out / "config.json").read_text())["precise_bn"] is precise
        folds = json.loads((out / "folds.json").read_text())
        for path, train in [(out / "checkpoints" / "fold_0.pt", folds[0]["train"]),
                            (out / "model.pt", sorted(set(data.subjects)))]:
            model = load_checkpoint(path).build_model()
            stored = model.bn.running_mean.clone()
            recompute_bn_statistics(model, data.x, np.flatnonzero(np.isin(data.subjects, train)),
                                    8, off)
            same = np.allclose(stored.numpy(), model.bn.running_mean.numpy(), atol=1e-6)
            assert same is precise, (path.name, precise)


def test_balanced_class_weights():
    """n / (K · n_c): every class contributes equally to the loss; absent classes weigh 0."""
    from mer_viewer.core.ml.train import balanced_weights

    w = balanced_weights(np.array([0, 0, 0, 1, 2, 2]), 4)
    np.testing.assert_allclose(w, [6 / 9, 6 / 3, 6 / 6, 0], rtol=1e-6)
    counts = np.array([3, 1, 2])
    assert np.allclose(w[:3] * counts, (w[:3] * counts)[0])


def test_class_weights_option(tmp_path, fake_models):
    items = make_items(n_subjects=2, per_subject=6)
    assert TrainConfig().class_weights == "balanced"
    _run(TrainConfig(**FAST, class_weights="none"), items, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["class_weights"] == "none"
    with pytest.raises(MerError, match="class_weights"):
        TrainConfig(class_weights="inverse")


def test_bf16_default_follows_the_device(tmp_path, fake_models):
    from mer_viewer.core.ml.runtime import native_bf16

    items = make_items(n_subjects=2, per_subject=4)
    for bf16, expected in ((None, native_bf16("cpu")), (False, False), (True, True)):
        out = tmp_path / str(bf16)
        _run(TrainConfig(**FAST, bf16=bf16, device="cpu"), items, out)
        assert json.loads((out / "config.json").read_text())["runtime"] == \
            {"device": "cpu", "bf16": expected}


def test_keep_freed_memory_is_idempotent():
    import sys

    from mer_viewer.core.ml.runtime import keep_freed_memory

    assert keep_freed_memory() is keep_freed_memory()
    assert keep_freed_memory() == sys.platform.startswith("linux")


def test_test_time_flip_predictions_are_mirror_invariant(tmp_path, fake_models):
    """With ``test_time_flip`` a clip and its mirror image get the same probabilities (the
    mean over both views), in training's evaluation and in ``predict``; without, they differ."""
    import torch

    from mer_viewer.core.ml.data import mirrored, stack_items
    from mer_viewer.core.ml.inference import predict, uses_test_time_flip
    from mer_viewer.core.ml.train import _predict

    items = make_items(n_subjects=2, per_subject=6)
    data = stack_items(items, CLASSES_3)
    # trained in bf16, evaluated in float32: the stored predictions are float32 predict()'s
    _run(TrainConfig(**FAST, bf16=True), items, tmp_path)
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "fold_0.pt")
    assert uses_test_time_flip(checkpoint)
    model = checkpoint.build_model()
    off = dict(device_type="cpu", enabled=False)
    idx = np.arange(len(data.y))
    flipped = mirrored(data.x)
    _, both = _predict(model, data.x, idx, 5, off, mirror=True)
    _, both_of_mirror = _predict(model, flipped, idx, 5, off, mirror=True)
    np.testing.assert_allclose(both, both_of_mirror, atol=1e-5)
    np.testing.assert_allclose(predict(model, data.x, mirror=True), both, atol=1e-6)
    _, one = _predict(model, data.x, idx, 5, off)
    _, one_of_mirror = _predict(model, flipped, idx, 5, off)
    assert not np.allclose(one, one_of_mirror, atol=1e-3)
    np.testing.assert_allclose(both, (one + one_of_mirror) / 2, atol=1e-6)
    # the tested fold's predictions are the mirrored average
    test = np.flatnonzero(data.subjects == "spNO.1")
    preds = pd.read_csv(tmp_path / "predictions.csv")
    preds = preds[preds.subject == "spNO.1"].set_index("clip")
    stored = preds.loc[list(data.clips[test]), [f"p_{c}" for c in CLASSES_3]].to_numpy()
    np.testing.assert_allclose(stored, both[test], atol=1e-5)
    # a checkpoint from before the option (no key) is classified as it was trained
    old = dict(checkpoint.config)
    old.pop("test_time_flip")
    from dataclasses import replace
    assert not uses_test_time_flip(replace(checkpoint, config=old))
    assert torch.is_tensor(next(iter(checkpoint.model_state.values())))


def test_motion_encoding_is_recorded_and_rebuilt(tmp_path, fake_models):
    items = make_items(n_subjects=2, per_subject=4)
    for encoding in ("vector", "color"):
        out = tmp_path / encoding
        _run(TrainConfig(**FAST, motion_encoding=encoding), items, out)
        checkpoint = load_checkpoint(out / "checkpoints" / "fold_0.pt")
        assert checkpoint.model_options["motion_encoding"] == encoding
        assert checkpoint.build_model().motion_encoding == encoding
        assert json.loads((out / "config.json").read_text())["motion_encoding"] == encoding


def test_balanced_sampler_draws_every_class_equally_often():
    """Rows of classes 60 : 25 : 5 (a fixed seed, 200 epochs): each class a third of the
    draws (χ² against uniform), each row of a class equally often; the shuffle takes each
    row once an epoch. Both make the same batches per epoch."""
    from scipy.stats import chisquare

    from mer_viewer.core.ml.data import balanced_batch_indices, batch_indices, n_batches

    labels = np.repeat([0, 1, 2], [60, 25, 5])
    rows = np.arange(100, 190)  # rows of a fold: not 0..n-1
    rng = np.random.default_rng(7)
    drawn = []
    for _ in range(200):
        batches = balanced_batch_indices(rows, labels, 24, rng)
        assert len(batches) == n_batches(90, 24) and all(2 <= len(b) <= 24 for b in batches)
        drawn.append(np.concatenate(batches))
    drawn = np.concatenate(drawn)
    assert set(drawn) <= set(rows)
    per_class = np.bincount(labels[drawn - 100], minlength=3)
    assert chisquare(per_class).pvalue > 0.01 and abs(per_class / per_class.sum() - 1 / 3).max() < 0.01
    rare = np.bincount(drawn[labels[drawn - 100] == 2] - 185, minlength=5)
    assert chisquare(rare).pvalue > 0.01  # within a class: uniform over its rows
    once = np.concatenate(batch_indices(rows, 24, rng))
    assert sorted(once) == list(rows)


@pytest.mark.parametrize("sampler", ["shuffle", "balanced"])
def test_the_training_steps_see_what_the_sampler_draws(tmp_path, fake_models, one_thread,
                                                       monkeypatch, sampler):
    """On items of classes 8 : 3 : 1 per subject, the rows the optimizer steps train on are
    a third of each class with ``sampler=balanced`` and the items' proportions with shuffle."""
    from mer_viewer.core.ml import train as train_module

    def label(s, j):
        return CLASSES_3[0 if j < 8 else 1 if j < 11 else 2]

    items = make_items(n_subjects=3, per_subject=12, labels_for=label)
    seen: list[int] = []
    real_step = train_module._optimizer_step

    def recording(run, state, batch, rng, autocast, weights):
        seen.extend(run.data.y[batch].tolist())
        return real_step(run, state, batch, rng, autocast, weights)

    monkeypatch.setattr(train_module, "_optimizer_step", recording)
    _run(TrainConfig(**{**FAST, "epochs": 20, "batch_size": 6}, sampler=sampler,
                     protocol="holdout", holdout_fraction=0.34, precise_bn=False,
                     test_time_flip=False), items, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["sampler"] == sampler
    share = np.bincount(seen, minlength=3) / len(seen)
    expected = [1 / 3] * 3 if sampler == "balanced" else [8 / 12, 3 / 12, 1 / 12]
    assert len(seen) == 20 * 24 and np.abs(share - expected).max() < 0.06, share
    with pytest.raises(MerError, match="sampler"):
        TrainConfig(sampler="weighted")
