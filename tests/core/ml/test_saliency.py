"""Saliency (‖∂ logit / ∂ point‖) works on every model in eval mode, with checked gradients."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from mer_viewer.core.ml.inference import saliency
from mer_viewer.core.ml.models import build

from .test_models import VARIANTS, clouds

pytestmark = pytest.mark.usefixtures("one_thread")


def trained_like(name: str, options: dict, seed: int = 0) -> torch.nn.Module:
    """A model in eval mode whose BatchNorm layers hold non-trivial running statistics, as
    a trained one does (so eval-mode BatchNorm folding is on the gradient's path)."""
    torch.manual_seed(seed)
    model = build(name, 3, **options)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def gradient64(model: torch.nn.Module, points: torch.Tensor, target: int) -> torch.Tensor:
    """∂ logit[target] / ∂ points of a float64 copy of ``model``: (N, C)."""
    model64 = copy.deepcopy(model).double().eval()
    x = points.double()[None].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model64(x)[0, target], x)
    return grad[0]


@pytest.mark.parametrize(("name", "options"), VARIANTS)
def test_saliency_is_the_norm_of_a_finite_difference_checked_gradient(name, options):
    model = trained_like(name, options)
    points = clouds(1, 256, 7)[0]
    target = 1
    grad = gradient64(model, points, target)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # The float64 gradient agrees with central differences along random directions. A
    # step can move a point across a neighbour-search boundary (DGCNN's kNN in feature
    # space, ball queries), where the network is not differentiable: a direction passes
    # when the difference quotient agrees at one of two step sizes.
    model64 = copy.deepcopy(model).double().eval()
    generator = torch.Generator().manual_seed(3)
    x64 = points.double()
    for _ in range(4):
        direction = torch.randn(points.shape, generator=generator, dtype=torch.float64)
        analytic = float((grad * direction).sum())
        numeric = []
        for eps in (1e-6, 1e-7):
            with torch.no_grad():
                up = model64((x64 + eps * direction)[None])[0, target]
                down = model64((x64 - eps * direction)[None])[0, target]
            numeric.append(float((up - down) / (2 * eps)))
        assert any(n == pytest.approx(analytic, rel=1e-4, abs=1e-7) for n in numeric), (
            numeric, analytic)
    # saliency() (float32, through the numpy API) is the per-point norm of that gradient.
    was_training = model.training
    s = saliency(model, points.numpy(), target)
    expected = grad.norm(dim=1).numpy()
    assert s.shape == (256,) and s.dtype == np.float32 and np.isfinite(s).all()
    np.testing.assert_allclose(s, expected, rtol=2e-3, atol=1e-5 * expected.max())
    assert model.training == was_training
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(("name", "options"), VARIANTS)
def test_saliency_leaves_a_training_model_training(name, options):
    model = trained_like(name, options).train()
    s = saliency(model, clouds(1, 200, 1)[0].numpy(), 0)
    assert model.training and np.isfinite(s).all() and s.max() > 0


@pytest.mark.parametrize("task", ["3", "4"])
def test_bundled_models_explain_a_demo_clip(demo_corpus, task):
    """What pressing C does: the bundled PointNet++ classifies a clip with its saliency."""
    from mer_viewer.core.dataset import Dataset
    from mer_viewer.core.ml.classify import bundled_checkpoint, classify

    sample = Dataset.open(demo_corpus).samples[0]
    plain = classify(sample, bundled_checkpoint(task))
    explained = classify(sample, bundled_checkpoint(task), explain=True)
    assert explained.probabilities == plain.probabilities
    assert explained.predicted == plain.predicted
    assert explained.saliency.shape == (2048,) and explained.pixels.shape == (2048, 2)
    assert np.isfinite(explained.saliency).all() and explained.saliency.max() > 0
