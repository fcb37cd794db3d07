"""The grouped MLP with batch statistics (PointNet++ training): against plain autograd, and gradcheck."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mer_viewer.core.ml.models import layers, pointnet2
from mer_viewer.core.ml.models.pointnet2 import PointNet2
from mer_viewer.core.ml.ops import index_points

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few groups, the last one short, so every pass really goes by chunks."""
    monkeypatch.setattr(layers, "GROUP_CHUNK_ELEMENTS", 3 * 4 * 8)


class Level(nn.Module):
    """The first layer's BatchNorm and the later layers of a GroupMLP, run either way."""

    def __init__(self, widths, seed=0, dtype=torch.float64):
        super().__init__()
        torch.manual_seed(seed)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(c) for c in widths)
        for norm in self.norms:
            nn.init.uniform_(norm.weight, -1.5, 1.5)  # negative scales: max by the min row
            nn.init.uniform_(norm.bias, -0.3, 0.3)
        self.to(dtype)

    def forward(self, per_point, minus_centre, idx, compute_dtype=None):
        return layers.grouped_batch_norm_mlp(per_point, minus_centre, idx, self.linears,
                                             self.norms, compute_dtype)

    def plain(self, per_point, minus_centre, idx):
        """The textbook order: gather every row, then Linear → BatchNorm → ReLU, then max."""
        h = index_points(per_point, idx) + minus_centre.unsqueeze(2)
        lead = h.shape[:-1]
        h = F.relu(self.norms[0](h.reshape(-1, h.shape[-1])))
        for linear, norm in zip(self.linears, self.norms[1:]):
            h = F.relu(norm(linear(h)))
        return h.reshape(*lead, -1).max(2).values


def inputs(widths, batch=2, count=10, centres=5, size=4, seed=1, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    per_point = torch.randn(batch, count, widths[0], generator=generator, dtype=dtype)
    minus_centre = torch.randn(batch, centres, widths[0], generator=generator, dtype=dtype)
    idx = torch.randint(count, (batch, centres, size), generator=generator)
    idx[:, :, -1] = idx[:, :, 0]  # repeated neighbours, as ball query pads its rows
    return per_point.requires_grad_(), minus_centre.requires_grad_(), idx


@pytest.mark.parametrize("widths", [(3,), (3, 4), (3, 4, 5), (3, 5, 2, 4)])
def test_values_gradients_and_running_statistics_equal_plain_autograd(widths, small_chunks):
    ours, plain = Level(widths), Level(widths)
    per_point, minus_centre, idx = inputs(widths)
    got = ours(per_point, minus_centre, idx)
    expected = plain.plain(per_point, minus_centre, idx)
    assert got.shape == expected.shape == (2, 5, widths[-1])
    assert torch.allclose(got, expected, atol=1e-12, rtol=0)
    weights = torch.randn(expected.shape, dtype=torch.float64)
    grads = torch.autograd.grad((got * weights).sum(), [per_point, minus_centre, *ours.parameters()])
    expected_grads = torch.autograd.grad((expected * weights).sum(),
                                         [per_point, minus_centre, *plain.parameters()])
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        assert torch.allclose(grad, expected_grad, atol=1e-11, rtol=1e-9)
    for mine, theirs in zip(ours.norms, plain.norms):
        assert torch.allclose(mine.running_mean, theirs.running_mean, atol=1e-14, rtol=0)
        assert torch.allclose(mine.running_var, theirs.running_var, atol=1e-14, rtol=0)
        assert mine.num_batches_tracked == theirs.num_batches_tracked == 1


def test_a_retained_graph_gives_the_same_gradients_again(small_chunks):
    level = Level((3, 4, 5, 2))
    per_point, minus_centre, idx = inputs((3, 4, 5, 2))
    loss = level(per_point, minus_centre, idx).square().sum()
    first = torch.autograd.grad(loss, [per_point, *level.parameters()], retain_graph=True)
    second = torch.autograd.grad(loss, [per_point, *level.parameters()])
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_cumulative_running_average_without_momentum():
    ours, plain = Level((3, 4)), Level((3, 4))
    for level in (ours, plain):
        for norm in level.norms:
            norm.momentum = None
    for seed in (1, 2, 3):
        per_point, minus_centre, idx = inputs((3, 4), seed=seed)
        with torch.no_grad():
            ours(per_point, minus_centre, idx)
            plain.plain(per_point, minus_centre, idx)
    for mine, theirs in zip(ours.norms, plain.norms):
        assert torch.allclose(mine.running_mean, theirs.running_mean, atol=1e-14, rtol=0)
        assert torch.allclose(mine.running_var, theirs.running_var, atol=1e-14, rtol=0)


def test_gradcheck(small_chunks):
    level = Level((3, 4, 5))
    per_point, minus_centre, idx = inputs((3, 4, 5), count=8, centres=4, size=3)
    names = [name for name, _ in level.named_parameters()]

    def run(per_point, minus_centre, *params):
        return torch.func.functional_call(level, dict(zip(names, params)),
                                          (per_point, minus_centre, idx))

    params = [p.detach().clone().requires_grad_() for p in level.parameters()]
    assert torch.autograd.gradcheck(run, (per_point, minus_centre, *params))


def test_bfloat16_autocast_is_close_to_plain_autograd():
    widths = (6, 16, 32)
    ours, plain = Level(widths, dtype=torch.float32), Level(widths, dtype=torch.float32)
    per_point, minus_centre, idx = inputs(widths, batch=3, count=40, centres=16, size=8,
                                          dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = ours(per_point, minus_centre, idx, torch.bfloat16)
        expected = plain.plain(per_point, minus_centre, idx)
    assert got.dtype == expected.dtype == torch.bfloat16
    assert torch.allclose(got.float(), expected.float(), atol=0.1, rtol=0.05)
    ours_grads = torch.autograd.grad(got.float().square().sum(), list(ours.parameters()))
    plain_grads = torch.autograd.grad(expected.float().square().sum(), list(plain.parameters()))
    for (name, param), grad, expected_grad in zip(ours.named_parameters(), ours_grads,
                                                  plain_grads):
        assert grad.dtype == param.dtype == torch.float32
        if name.startswith("linears") and name.endswith("bias"):
            continue  # ahead of a BatchNorm: zero but for rounding
        error = (grad - expected_grad).norm() / expected_grad.norm()
        assert error < 0.1, name


def plain_group_forward(self, xyz, features, centres, idx):
    """GroupMLP as the paper writes it: ``[x_j − c, f_j]`` per row, the shared MLP, the max."""
    grouped = index_points(xyz, idx) - centres.unsqueeze(2)
    if features is not None:
        grouped = torch.cat([grouped, index_points(features, idx)], -1)
    return self.mlp(grouped).max(2).values


def test_pointnet2_training_step_equals_the_plain_grouped_mlp(monkeypatch, small_chunks):
    torch.manual_seed(0)
    ours = PointNet2(4, dropout=0.0, deterministic=True).double()
    plain = PointNet2(4, dropout=0.0, deterministic=True).double()
    plain.load_state_dict(ours.state_dict())
    points = torch.rand(3, 300, 6, dtype=torch.float64)
    labels = torch.tensor([0, 3, 1])
    F.cross_entropy(ours(points), labels).backward()
    monkeypatch.setattr(pointnet2.GroupMLP, "forward", plain_group_forward)
    F.cross_entropy(plain(points), labels).backward()
    for (name, param), expected in zip(ours.named_parameters(), plain.parameters()):
        if ".linears." in name and name.endswith("bias"):
            continue  # ahead of a BatchNorm: zero but for rounding
        # As loose as against the reference (test_models): batch statistics of three clouds
        # amplify last-bit differences (ours are summed by chunks, more exactly).
        assert torch.allclose(param.grad, expected.grad, atol=1e-9, rtol=1e-7), name
    for (name, buffer), expected in zip(ours.named_buffers(), plain.buffers()):
        assert torch.allclose(buffer, expected, atol=1e-11, rtol=0), name
