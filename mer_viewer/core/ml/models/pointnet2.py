"""PointNet++ classification (Qi et al. 2017): single-scale (SSG, the paper's) or multi-scale (MSG)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import ball_query, farthest_point_sample, full_precision, index_points, random_start
from .layers import (
    SharedMLP,
    activate,
    classifier_head,
    encode_motion,
    encoded_channels,
    folded,
    grouped_batch_norm_mlp,
    uses_batch_stats,
)

# (npoint, radii, nsamples, mlps) per set-abstraction level; npoint None = group all.
SSG_LEVELS = (
    (512, (0.2,), (32,), ((64, 64, 128),)),
    (128, (0.4,), (64,), ((128, 128, 256),)),
    (None, (), (), ((256, 512, 1024),)),
)
MSG_LEVELS = (
    (512, (0.1, 0.2, 0.4), (16, 32, 128), ((32, 32, 64), (64, 64, 128), (64, 96, 128))),
    (128, (0.2, 0.4, 0.8), (32, 64, 128), ((64, 64, 128), (128, 128, 256), (128, 128, 256))),
    (None, (), (), ((256, 512, 1024),)),
)
VARIANTS = {"ssg": SSG_LEVELS, "msg": MSG_LEVELS}
# Activations per chunk of centres in eval: below glibc's 32 MiB mmap ceiling, so reused.
CHUNK_BYTES = 16 << 20


class GroupMLP(nn.Module):
    """A PointNet per local group: shared MLP over ``[xyz − centre, features]``, max over the group.

    The first layer is linear in its input, so ``W·[x_j − c, f_j] + b`` is
    computed as ``(W·[x_j, f_j] + b) − W_xyz·c``: once per point and once per
    centre, then gathered, instead of once per (centre, neighbour) pair. The
    grouped ``(B, S, K, 3 + D)`` input is never built.

    With running statistics (eval) the centres go through in chunks of about
    ``CHUNK_BYTES`` of activations: peak memory no longer grows with B × S,
    and buffers this small are recycled by the C allocator instead of being
    mapped and faulted in afresh for every layer. With batch statistics
    (training) the groups go through :func:`~.layers.grouped_batch_norm_mlp`,
    chunked as well: of the ``(B·S·K, C)`` activations only the middle layer's
    is kept for backward, which recomputes the others.
    """

    def __init__(self, in_channels: int, channels: Sequence[int]):
        super().__init__()
        self.mlp = SharedMLP(in_channels, channels)

    def _first_layer(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        linear, norm = self.mlp.linear_layers[0], self.mlp.norm_layers[0]
        if uses_batch_stats(norm):
            return linear.weight, linear.bias
        return folded(linear, norm)

    def _folded_later(self) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        """Per layer after the first: its BatchNorm-folded (weight, bias), or None under batch statistics."""
        return [None if uses_batch_stats(norm) else folded(linear, norm)
                for linear, norm in zip(self.mlp.linear_layers[1:], self.mlp.norm_layers[1:])]

    def _pooled(self, h: torch.Tensor, dim: int, folded_later=None) -> torch.Tensor:
        """From the first layer's pre-activation ``h (..., C0)``: remaining layers, then max over ``dim``."""
        lead = h.shape[:-1]
        h = h.reshape(-1, h.shape[-1])
        norm = self.mlp.norm_layers[0]
        h = activate(norm(h) if uses_batch_stats(norm) else h, 0.0)
        if folded_later is None:
            folded_later = self._folded_later()
        later = list(zip(self.mlp.linear_layers[1:], self.mlp.norm_layers[1:], folded_later))
        for i, (linear, norm, fold) in enumerate(later):
            if fold is None:
                h = activate(norm(linear(h)), 0.0)
            elif i == len(later) - 1:
                # max_k relu(z_k + b) = relu(max_k z_k + b): bias and ReLU on the pooled tensor only.
                # Not in place: amax's backward needs its own output (saliency, training).
                pooled = F.linear(h, fold[0]).reshape(*lead, -1).amax(dim)
                return activate(pooled + fold[1], 0.0)
            else:
                h = activate(F.linear(h, *fold), 0.0)
        return h.reshape(*lead, h.shape[-1]).max(dim).values

    def _first_linear(self, xyz: torch.Tensor, features: torch.Tensor | None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """(``W·[x, f] + b`` per point, W), in full precision even under autocast: the centre
        is subtracted from it afterwards, a difference of nearby values that bfloat16 would blur."""
        weight, bias = self._first_layer()
        inputs = xyz if features is None else torch.cat([xyz, full_precision(features)], -1)
        with torch.autocast(xyz.device.type, enabled=False):
            return F.linear(inputs, weight, bias), weight

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None,
                centres: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """``xyz (B, N, 3), features (B, N, D) | None, centres (B, S, 3), idx (B, S, K) -> (B, S, C)``."""
        per_point, weight = self._first_linear(xyz, features)
        # Negated here, on (B, S, C0), so the backward of the broadcast add is a plain sum.
        device = xyz.device.type
        with torch.autocast(device, enabled=False):
            minus_centre = F.linear(centres, weight[:, :3]).neg_()
        if all(uses_batch_stats(norm) for norm in self.mlp.norm_layers):
            low = per_point.dtype == torch.float32 and torch.is_autocast_enabled(device)
            return grouped_batch_norm_mlp(per_point, minus_centre, idx, self.mlp.linear_layers[1:],
                                          self.mlp.norm_layers,
                                          torch.get_autocast_dtype(device) if low else None)
        minus_centre = minus_centre.unsqueeze(2)
        if any(uses_batch_stats(norm) for norm in self.mlp.norm_layers):
            # Some layers with batch statistics, some without: every group at once.
            grouped = index_points(per_point, idx).add_(minus_centre)
            return self._pooled(grouped, 2)
        batch, total, size = idx.shape
        widest = max(linear.out_features for linear in self.mlp.linear_layers)
        step = max(1, CHUNK_BYTES // (batch * size * widest * per_point.element_size()))
        folded_later = self._folded_later()
        out = per_point.new_empty(batch, total, self.mlp.out_channels)
        for lo in range(0, total, step):
            hi = min(total, lo + step)
            grouped = index_points(per_point, idx[:, lo:hi]).add_(minus_centre[:, lo:hi])
            out[:, lo:hi] = self._pooled(grouped, 2, folded_later)
        return out

    def forward_all(self, xyz: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        """One group of all points, xyz not centred (as in the reference): ``-> (B, C)``."""
        return self._pooled(self._first_linear(xyz, features)[0], 1)


class SetAbstraction(nn.Module):
    """Sample centres by FPS, group neighbours by ball query at each radius, one GroupMLP per radius."""

    def __init__(self, npoint: int | None, radii: Sequence[float], nsamples: Sequence[int],
                 in_channels: int, mlps: Sequence[Sequence[int]]):
        super().__init__()
        self.npoint = npoint
        self.radii = tuple(radii)
        self.nsamples = tuple(nsamples)
        self.branches = nn.ModuleList(GroupMLP(in_channels + 3, mlp) for mlp in mlps)
        self.out_channels = sum(mlp[-1] for mlp in mlps)

    @property
    def branch_mlps(self) -> Sequence[GroupMLP]:
        """``branches``, typed (nn.ModuleList is not generic)."""
        return cast(Sequence[GroupMLP], self.branches)

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None, random: bool = False,
                generator: torch.Generator | None = None):
        """``xyz (B, N, 3), features (B, N, D) -> centres (B, S, 3), features (B, S, C)``.

        FPS starts at point 0, or with ``random`` at a point drawn from
        ``generator`` (torch's default generator of the device when None).
        """
        if self.npoint is None:
            return None, self.branch_mlps[0].forward_all(xyz, features)
        start = random_start(xyz, generator) if random else None
        centre_idx = farthest_point_sample(xyz, self.npoint, start=start)
        centres = index_points(xyz, centre_idx)
        out = [branch(xyz, features, centres, ball_query(radius, nsample, xyz, centres))
               for radius, nsample, branch in zip(self.radii, self.nsamples, self.branches)]
        return centres, out[0] if len(out) == 1 else torch.cat(out, -1)


class PointNet2(nn.Module):
    """PointNet++ classifier: ``(B, N, in_channels) -> logits (B, num_classes)``.

    Channels 0–2 are xyz; the rest are per-point features that enter the first
    level beside the centred xyz. ``deterministic``: True starts farthest
    point sampling at point 0 every time, False at a random point (from
    ``generator`` if set, else torch's global RNG), None (default) random
    while training and fixed in eval, so classifying a clip twice gives the
    same answer. ``motion_encoding``: how the motion channels reach the first
    level (see :func:`~.layers.encode_motion`); ``color`` is the paper's.
    """

    def __init__(self, num_classes: int, in_channels: int = 6, variant: str = "ssg",
                 dropout: float = 0.4, deterministic: bool | None = None,
                 generator: torch.Generator | None = None, motion_encoding: str = "color"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown PointNet++ variant {variant!r}; choose from {sorted(VARIANTS)}")
        if in_channels < 3:
            raise ValueError(f"in_channels must be at least 3 (xyz), got {in_channels}")
        self.variant = variant
        self.in_channels = in_channels
        self.deterministic = deterministic
        self.generator = generator
        self.motion_encoding = motion_encoding
        levels = []
        width = encoded_channels(in_channels, motion_encoding) - 3
        for npoint, radii, nsamples, mlps in VARIANTS[variant]:
            level = SetAbstraction(npoint, radii, nsamples, width, mlps)
            levels.append(level)
            width = level.out_channels
        self.levels = nn.ModuleList(levels)
        self.head = classifier_head(width, num_classes, dropout=dropout)

    def fixed_start(self) -> bool:
        """Whether this forward starts farthest point sampling at point 0 (see ``deterministic``)."""
        return (not self.training) if self.deterministic is None else self.deterministic

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(f"expected (B, N, {self.in_channels}) points, got {tuple(points.shape)}")
        points = encode_motion(points, self.motion_encoding)
        xyz = points[..., :3].contiguous()
        features = points[..., 3:] if self.in_channels > 3 else None
        random = not self.fixed_start()
        for level in self.levels:
            xyz, features = level(xyz, features, random, self.generator)
        return self.head(features)
