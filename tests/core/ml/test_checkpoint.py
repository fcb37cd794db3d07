"""Checkpoints: atomic, weights_only-loadable, clear errors; predict and saliency."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mer_viewer.core.errors import CheckpointError, MerError
from mer_viewer.core.ml.checkpoint import load_checkpoint, save_checkpoint
from mer_viewer.core.ml.config import TrainConfig
from mer_viewer.core.ml.inference import predict, saliency

from .conftest import TinyNet

CLASSES = ("negative", "positive", "surprise")
PREPROCESSING = {"cloud": {"align": "ecc", "denoise_sigma_px": 3.0}}


@pytest.fixture
def saved(tmp_path, fake_models):
    torch.manual_seed(0)
    model = TinyNet(3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 16, 6)).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "ck" / "a.pt", model, opt, TrainConfig(), CLASSES,
                           PREPROCESSING, 7,
                           {"history": {"loss": [1.0, 0.5]}, "t": torch.ones(2)})
    return path, model


def test_roundtrip_and_weights_only(saved):
    path, model = saved
    raw = torch.load(path, weights_only=True)
    assert raw["mer_viewer_checkpoint"] == 1 and raw["format_version"] == 1
    ck = load_checkpoint(path)
    assert ck.model_name == TrainConfig().model and ck.num_classes == 3 and ck.in_channels == 6
    assert ck.class_names == CLASSES and ck.epoch == 7
    assert TrainConfig.from_dict(ck.config) == TrainConfig()
    assert ck.preprocessing == PREPROCESSING
    assert ck.optimizer_state["state"] and ck.extra["history"]["loss"] == [1.0, 0.5]
    rebuilt = ck.build_model()
    assert not rebuilt.training
    x = torch.randn(2, 16, 6)
    model.eval()
    assert torch.equal(rebuilt(x), model(x))
    assert [p.name for p in path.parent.iterdir()] == ["a.pt"]  # no temp file left


def test_unsavable_config_raises_and_writes_nothing(tmp_path, fake_models):
    with pytest.raises(TypeError, match="object"):
        save_checkpoint(tmp_path / "b.pt", TinyNet(3), None, {"model": "pointnet", "x": object()},
                        CLASSES, {}, 0)
    assert not list(tmp_path.iterdir())


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file") as e:
        load_checkpoint(tmp_path / "nope.pt")
    assert "nope.pt" in str(e.value) and isinstance(e.value, MerError)


def test_not_a_torch_file(tmp_path):
    p = tmp_path / "notes.pt"
    p.write_text("hello, not a checkpoint\n")
    with pytest.raises(CheckpointError, match="not a PyTorch file") as e:
        load_checkpoint(p)
    assert "notes.pt" in str(e.value)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(empty)


def test_truncated_file(saved, tmp_path):
    path, _ = saved
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated") as e:
        load_checkpoint(cut)
    assert "cut.pt" in str(e.value)


def test_plain_state_dict_is_not_ours(tmp_path):
    p = tmp_path / "weights.pt"
    torch.save(TinyNet(3).state_dict(), p)
    with pytest.raises(CheckpointError, match="not a mer_viewer checkpoint.*state_dict"):
        load_checkpoint(p)
    t = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), t)
    with pytest.raises(CheckpointError, match="not a mer_viewer checkpoint"):
        load_checkpoint(t)


def test_pickled_objects_are_refused(tmp_path):
    p = tmp_path / "module.pt"
    torch.save(nn.Linear(2, 2), p)  # a whole module: needs weights_only=False
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(p)


def test_newer_format_and_missing_keys(saved, tmp_path):
    path, _ = saved
    raw = torch.load(path, weights_only=True)
    raw["format_version"] = 99
    torch.save(raw, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(tmp_path / "new.pt")
    del raw["model_state"]
    raw["format_version"] = 1
    torch.save(raw, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "broken.pt")


def test_weights_that_do_not_fit(saved, tmp_path, fake_models):
    path, _ = saved
    raw = torch.load(path, weights_only=True)
    raw["num_classes"] = 4  # and names to match: only the network's 3 outputs disagree
    raw["class_names"] = ["negative", "others", "positive", "surprise"]
    raw["config"]["classes"] = "4"
    torch.save(raw, tmp_path / "four.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "four.pt")


def test_predict_shapes(saved):
    path, model = saved
    ck = load_checkpoint(path)
    x = np.random.default_rng(0).normal(size=(5, 16, 6)).astype(np.float32)
    probs = predict(ck, x)
    assert probs.shape == (5, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    single = predict(ck, x[0])
    assert single.shape == (3,)
    np.testing.assert_allclose(single, probs[0], atol=1e-6)
    model.train()
    predict(model, x)
    assert model.training  # mode restored


class _Toy(nn.Module):
    """Logit 0 grows with every point's r̂ above 0.5; the still points cannot move it."""

    def __init__(self):
        super().__init__()
        self.point = nn.Linear(6, 1)
        self.head = nn.Linear(1, 2)
        self.drop = nn.Dropout(0.5)
        with torch.no_grad():
            self.point.weight.zero_()
            self.point.weight[0, 3] = 1.0
            self.point.bias.fill_(-0.5)
            self.head.weight.copy_(torch.tensor([[2.0], [-1.0]]))
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(self.drop(torch.relu(self.point(x)).sum(dim=1)))


def test_saliency_marks_driving_points():
    rng = np.random.default_rng(1)
    feats = rng.uniform(0, 0.2, size=(64, 6)).astype(np.float32)
    moving = np.array([3, 17, 40, 41, 60])
    feats[moving, 3] = rng.uniform(0.8, 1.0, size=moving.size)
    model = _Toy().train()
    s = saliency(model, feats, target_class=0)
    assert s.shape == (64,) and s.dtype == np.float32
    still = np.setdiff1d(np.arange(64), moving)
    assert s[moving].min() > s[still].max()
    np.testing.assert_allclose(s[moving], 2.0, rtol=1e-6)  # eval mode: no dropout scaling
    assert model.training and all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError):
        saliency(model, feats, target_class=2)


def test_saliency_of_a_trained_like_network(saved):
    _, model = saved
    feats = np.random.default_rng(2).normal(size=(16, 6)).astype(np.float32)
    s = saliency(model, feats, 1)
    assert s.shape == (16,) and np.isfinite(s).all() and (s >= 0).all()
