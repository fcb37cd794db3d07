"""Tiny stand-ins for ``mer_viewer.core.ml.models`` and synthetic items for the trainer tests."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from mer_viewer.core.ml.data import TrainItem
from mer_viewer.core.ml.models.layers import encode_motion, encoded_channels


class TinyNet(nn.Module):
    """Per-point MLP, max pool, batch norm, dropout, linear head: (B, N, C) -> (B, K)."""

    def __init__(self, num_classes: int, in_channels: int = 6, width: int = 16,
                 motion_encoding: str = "color"):
        super().__init__()
        self.motion_encoding = motion_encoding
        self.point = nn.Sequential(nn.Linear(encoded_channels(in_channels, motion_encoding), width),
                                   nn.ReLU(), nn.Linear(width, width))
        self.bn = nn.BatchNorm1d(width)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        pooled = self.point(encode_motion(x, self.motion_encoding)).max(dim=1).values
        return self.head(self.drop(torch.relu(self.bn(pooled))))


def tiny_build(name, num_classes, in_channels=6, **options):
    if name not in ("pointnet2", "pointnet", "dgcnn", "tiny"):
        raise ValueError(f"unknown model {name!r}")
    return TinyNet(num_classes, in_channels, **options)


@pytest.fixture
def fake_models(monkeypatch):
    """Make ``mer_viewer.core.ml.models.build`` the tiny network, whether or not the real one exists."""
    import mer_viewer.core.ml as ml

    module = types.ModuleType("mer_viewer.core.ml.models")
    module.build = tiny_build
    monkeypatch.setitem(sys.modules, "mer_viewer.core.ml.models", module)
    monkeypatch.setattr(ml, "models", module, raising=False)
    return module


@pytest.fixture
def one_thread():
    """One torch thread: these tests share a small machine, where idle-waiting threads cost most."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


CLASSES_3 = ("negative", "positive", "surprise")


def make_items(n_subjects=4, per_subject=6, n_points=32, seed=0, unlabelled=0,
               classes=CLASSES_3, labels_for=None):
    """Items whose class moves points in one third of the face (learnable from location)."""
    rng = np.random.default_rng(seed)
    items = []
    for s in range(n_subjects):
        subject = f"spNO.{s + 1}"
        for j in range(per_subject + unlabelled):
            label = None if j >= per_subject else (
                labels_for(s, j) if labels_for else classes[(s + j) % len(classes)])
            xyz = rng.uniform(-1, 1, size=(n_points, 3))
            colors = rng.uniform(0, 0.1, size=(n_points, 3))
            if label is not None:
                k = list(classes).index(label) if label in classes else 0
                band = (xyz[:, 0] + 1) * 1.5 // 1 == k
                colors[band, 0] += 0.8
            feats = np.concatenate([xyz, colors], axis=1).astype(np.float32)
            clip = "abcdefghijklm"[j % 13]
            items.append(TrainItem(f"{subject}/{clip}{j}", subject, clip, label, feats))
    return items
