"""Channels-last building blocks: per-point Linear → BatchNorm → activation, and the classifier head.

Per-point layers run as one matrix product on a ``(rows, C)`` view instead of
1×1 convolutions over ``(B, C, K, S)``. In eval mode BatchNorm is folded into
the Linear weights, saving a pass over the (large) activations.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mer_viewer.core.ml.config import MOTION_ENCODINGS


def folded(linear: nn.Linear, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``norm(linear(x))`` with running statistics: one affine map."""
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    bias = -norm.running_mean if linear.bias is None else linear.bias - norm.running_mean
    return linear.weight * scale.unsqueeze(1), bias * scale + norm.bias


def uses_batch_stats(norm: nn.BatchNorm1d) -> bool:
    """Whether ``norm`` normalises by the batch (training, or no running statistics kept)."""
    return norm.training or norm.running_mean is None


def activate(x: torch.Tensor, negative_slope: float) -> torch.Tensor:
    """ReLU (slope 0) or leaky ReLU, in place: every caller owns ``x``."""
    if negative_slope:
        return F.leaky_relu_(x, negative_slope)
    return F.relu_(x)


def linear_bn_act(x: torch.Tensor, linear: nn.Linear, norm: nn.BatchNorm1d,
                  negative_slope: float = 0.0) -> torch.Tensor:
    """``act(norm(linear(x)))`` for ``x (rows, C_in) -> (rows, C_out)``, BatchNorm folded in eval."""
    if uses_batch_stats(norm):
        return activate(norm(linear(x)), negative_slope)
    weight, bias = folded(linear, norm)
    return activate(F.linear(x, weight, bias), negative_slope)


class SharedMLP(nn.Module):
    """The same Linear → BatchNorm → ReLU stack on every point: ``(..., C_in) -> (..., C_out)``."""

    def __init__(self, in_channels: int, channels: Sequence[int], negative_slope: float = 0.0,
                 bias: bool = True):
        super().__init__()
        widths = [in_channels, *channels]
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(widths, widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in channels)
        self.negative_slope = negative_slope
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        for linear, norm in zip(self.linears, self.norms):
            x = linear_bn_act(x, linear, norm, self.negative_slope)
        return x.reshape(*lead, x.shape[-1])


def classifier_head(in_channels: int, num_classes: int, hidden: Sequence[int] = (512, 256),
                    dropout: float = 0.4, negative_slope: float = 0.0,
                    bias: bool = True) -> nn.Sequential:
    """Global feature → logits: Linear → BatchNorm → activation → Dropout per hidden width, then Linear.

    ``bias`` applies to the first hidden Linear only (DGCNN has none there).
    """
    layers: list[nn.Module] = []
    width = in_channels
    for i, out in enumerate(hidden):
        layers += [
            nn.Linear(width, out, bias=bias or i > 0),
            nn.BatchNorm1d(out),
            nn.LeakyReLU(negative_slope) if negative_slope else nn.ReLU(),
            nn.Dropout(dropout),
        ]
        width = out
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)




def encoded_channels(in_channels: int, encoding: str) -> int:
    """Channels after :func:`encode_motion`: one more for ``vector`` (xyz, r̂, unit direction)."""
    if encoding not in MOTION_ENCODINGS:
        raise ValueError(f"motion_encoding must be one of {', '.join(MOTION_ENCODINGS)}, "
                         f"got {encoding!r}")
    if encoding == "vector" and in_channels < 6:
        raise ValueError(f"motion_encoding 'vector' needs the 6 channels xyz ⊕ r̂θ̂φ̂, got {in_channels}")
    return in_channels + 1 if encoding == "vector" else in_channels


def encode_motion(points: torch.Tensor, encoding: str) -> torch.Tensor:
    """The network input as the first layer sees it: ``(..., 6) -> (..., 6 | 7)``.

    ``color``: unchanged, xyz ⊕ (r̂, θ̂, φ̂), the paper's input. ``vector``:
    xyz ⊕ r̂ ⊕ the unit motion direction (cos φ cos θ, cos φ sin θ, sin φ),
    zero for black points (θ̂ = φ̂ = 0, below the noise floor). θ̂ is an
    angle: leftward motion is θ̂ ≈ 0 or θ̂ ≈ 1 depending on the sign of its
    vertical part, a jump a first layer cannot undo, and on the left half of
    a face it falls on outward mouth-corner motion (AU12 against AU20).
    The direction vector is continuous everywhere.
    """
    if encoding == "color":
        return points
    theta = points[..., 4:5] * (2 * torch.pi) - torch.pi
    phi = points[..., 5:6] * torch.pi - torch.pi / 2
    moving = ((points[..., 4:5] != 0) | (points[..., 5:6] != 0)).to(points.dtype)
    flat = torch.cos(phi) * moving
    direction = torch.cat([flat * torch.cos(theta), flat * torch.sin(theta),
                           torch.sin(phi) * moving], -1)
    return torch.cat([points[..., :4], direction, points[..., 6:]], -1)
