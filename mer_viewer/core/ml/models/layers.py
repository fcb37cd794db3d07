"""Channels-last building blocks: per-point Linear → BatchNorm → activation, and the classifier head.

Per-point layers run as one matrix product on a ``(rows, C)`` view instead of
1×1 convolutions over ``(B, C, K, S)``. In eval mode BatchNorm is folded into
the Linear weights, saving a pass over the (large) activations. In training,
:func:`grouped_batch_norm_mlp` runs PointNet++'s grouped layers with batch
statistics by chunks of rows and recomputes them for backward.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from mer_viewer.core.ml.config import MOTION_ENCODINGS


def folded(linear: nn.Linear, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``norm(linear(x))`` with running statistics: one affine map."""
    mean, var = norm.running_mean, norm.running_var
    if mean is None or var is None:
        raise ValueError("a BatchNorm without running statistics cannot be folded")
    scale = norm.weight * torch.rsqrt(var + norm.eps)
    bias = -mean if linear.bias is None else linear.bias - mean
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

    # nn.ModuleList is not generic: to a type checker its items are any Module
    @property
    def linear_layers(self) -> Sequence[nn.Linear]:
        """``linears``, typed."""
        return cast(Sequence[nn.Linear], self.linears)

    @property
    def norm_layers(self) -> Sequence[nn.BatchNorm1d]:
        """``norms``, typed."""
        return cast(Sequence[nn.BatchNorm1d], self.norms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        for linear, norm in zip(self.linear_layers, self.norm_layers):
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


# Rows × widest channels of one chunk in the batch-statistics grouped MLP: 4 MiB in float32,
# so each chunk's temporaries stay in the C allocator's heap (peak memory steady from run to
# run) and the least CPU time. Larger chunks mean fewer parallel regions, which only pays
# where torch's threads compete with other processes for the cores.
GROUP_CHUNK_ELEMENTS = 1 << 20


def grouped_batch_norm_mlp(per_point: torch.Tensor, minus_centre: torch.Tensor, idx: torch.Tensor,
                           linears: Sequence[nn.Linear], norms: Sequence[nn.BatchNorm1d],
                           compute_dtype: torch.dtype | None = None) -> torch.Tensor:
    """A shared MLP with batch statistics over every (centre, neighbour) row, max over each group.

    ``per_point (B, N, C0)``: the first layer's pre-activation ``W·[x, f] + b`` per
    point; ``minus_centre (B, S, C0)``: ``−W_xyz·c`` per centre; ``idx (B, S, K)``:
    the neighbours. Row ``(b, s, k)`` is ``per_point[b, idx[b, s, k]] +
    minus_centre[b, s]``, then ``norms[0]`` → ReLU, then ``linears[i]`` →
    ``norms[i + 1]`` → ReLU; ``-> (B, S, C_last)``, the max over k.

    Values, gradients and running-statistics updates are those of the modules
    run under autograd, but no ``(B·S·K, C)`` activation is kept per layer: rows
    go through in chunks, only the middle layers' pre-activations are kept whole,
    and backward recomputes the rest (one product more, the last layer's). The
    last layer is never stored at all: BatchNorm → ReLU is monotone per channel,
    so the group's max (or, under a negative scale, its min) pre-activation and
    its row are found while that layer's statistics are gathered.
    ``compute_dtype``: of the later layers' products (bfloat16 under autocast);
    the first layer's rows stay in ``per_point``'s dtype.
    """
    params: list[torch.Tensor] = [norm.weight for norm in norms]
    params += [norm.bias for norm in norms]
    params += [linear.weight for linear in linears] + [linear.bias for linear in linears]
    return _GroupedBatchNormMLP.apply(per_point, minus_centre, idx, list(norms),
                                      compute_dtype or per_point.dtype, *params)


class _GroupedBatchNormMLP(torch.autograd.Function):
    """The autograd function behind :func:`grouped_batch_norm_mlp`."""

    @staticmethod
    def forward(ctx, per_point, minus_centre, idx, norms, compute_dtype, *params):
        depth = len(norms) - 1
        gammas, betas = params[:depth + 1], params[depth + 1:2 * depth + 2]
        level = _Level(per_point, minus_centre, idx, compute_dtype,
                       params[2 * depth + 2:3 * depth + 2], params[3 * depth + 2:])
        with torch.no_grad(), torch.autocast(per_point.device.type, enabled=False):
            for i in range(depth + 1):
                if i == depth:
                    # The row where BatchNorm → ReLU is largest: the max of z, or its min under γ < 0.
                    negative = gammas[i] < 0
                    mixed = bool(negative.any())
                    best_parts: list[torch.Tensor] = []
                    best_row: list[torch.Tensor] = []
                elif i > 0:
                    kept = level.empty(i)
                moments = _Moments()
                for lo, hi in level.chunks():
                    z = level.pre_activation(i, lo, hi)
                    moments.add(z.to(level.stat_dtype))
                    if i == depth:
                        value, row = z.view(hi - lo, level.size, -1).max(1)
                        if mixed:
                            low, low_row = z.view(hi - lo, level.size, -1).min(1)
                            value = torch.where(negative, low, value)
                            row = torch.where(negative, low_row, row)
                        best_parts.append(value)
                        best_row.append(row.to(torch.uint8 if level.size <= 256 else torch.long))
                    elif i > 0:
                        kept[lo * level.size:hi * level.size] = z
                if 0 < i < depth:
                    level.kept[i] = kept
                mean, var = moments.mean_var()
                _update_running_stats(norms[i], mean, var, moments.count)
                level.set_norm(i, mean, var, gammas[i], betas[i], norms[i].eps)
            best = torch.cat(best_parts).to(level.stat_dtype)
            out = torch.addcmul(level.shifts[depth], best, level.scales[depth]).relu_()
            out = out.to(level.dtype(depth))
        ctx.level, ctx.best_row = level, torch.cat(best_row)
        ctx.xhat_top, ctx.positive = level.xhat(depth, best), out > 0
        ctx.save_for_backward(per_point, minus_centre, *params)
        return out.view(*idx.shape[:2], -1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        per_point, minus_centre, *params = ctx.saved_tensors
        level = ctx.level
        depth = level.depth
        gammas = params[:depth + 1]
        grad_gammas: list[torch.Tensor] = []  # from the last layer down: reversed at the end
        grad_betas: list[torch.Tensor] = []
        grad_weights = [torch.zeros_like(w) for w in level.weights]
        grad_biases = [None if b is None else torch.zeros_like(b) for b in level.biases]
        grad_table = level.table.new_zeros(level.table.shape, dtype=level.stat_dtype)
        grad_centre = level.centre.new_empty(level.centre.shape, dtype=level.stat_dtype)
        # dy of the last layer: nonzero only on each group's max row, where the ReLU passed.
        sparse = grad_out.reshape(level.groups, -1).to(level.stat_dtype) * ctx.positive
        sums = sparse.sum(0), (sparse * ctx.xhat_top).sum(0)
        dy_all: torch.Tensor | None = None
        with torch.no_grad(), torch.autocast(per_point.device.type, enabled=False):
            for i in range(depth, -1, -1):
                grad_betas.append(sums[0])
                grad_gammas.append(sums[1])
                # BatchNorm backward with batch statistics, A = γ/σ:
                # dz = A·dy − A·mean(dy) − A·mean(dy·x̂)·x̂, the means over all rows.
                scale = gammas[i] * level.invstds[i]
                offset, slope = -scale * sums[0] / level.rows, -scale * sums[1] / level.rows
                if i > 0:
                    dy_below = level.dy_buffer(i - 1, dy_all)
                    sums = 0, 0
                    weight = level.cast[i - 1][0]
                for lo, hi in level.chunks():
                    rows = slice(lo * level.size, hi * level.size)
                    if i > 0:
                        a, xhat_below = level.activation(i - 1, lo, hi, with_xhat=True)
                        z = level.linear(i, a) if i == depth else level.pre_activation(i, lo, hi)
                    else:
                        z = level.pre_activation(i, lo, hi)
                    dz = level.xhat(i, z).mul_(slope).add_(offset)
                    if i == depth:
                        dz.view(hi - lo, level.size, -1).scatter_add_(
                            1, ctx.best_row[lo:hi].long().unsqueeze(1),
                            (sparse[lo:hi] * scale).unsqueeze(1))
                    else:
                        assert dy_all is not None  # layer i + 1's, one round before
                        dz.addcmul_(dy_all[rows], scale)
                    if i == 0:
                        grad_table.index_add_(0, level.flat[lo:hi].reshape(-1), dz)
                        grad_centre[lo:hi] = dz.view(hi - lo, level.size, -1).sum(1)
                        continue
                    dz_low = dz.to(level.compute_dtype)
                    grad_weights[i - 1] += (dz_low.t() @ a).to(grad_weights[i - 1].dtype)
                    grad_bias = grad_biases[i - 1]
                    if grad_bias is not None:
                        grad_bias += dz.sum(0).to(grad_bias.dtype)
                    dy = (dz_low @ weight).mul_(a > 0)
                    dy_below[rows] = dy
                    dy = dy.to(level.stat_dtype)
                    sums = sums[0] + dy.sum(0), sums[1] + xhat_below.mul_(dy).sum(0)
                dy_all = dy_below if i > 0 else None
                # Not needed below; a second backward (retain_graph) recomputes it.
                level.kept[i] = None
        grads = [g.to(p.dtype) for g, p in zip(grad_gammas[::-1] + grad_betas[::-1], params)]
        return (grad_table.view(per_point.shape).to(per_point.dtype),
                grad_centre.view(minus_centre.shape).to(minus_centre.dtype), None, None, None,
                *grads, *grad_weights, *grad_biases)


class _Moments:
    """Per-channel mean and biased variance of rows seen a chunk at a time (Chan et al.)."""

    def __init__(self):
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    def add(self, rows: torch.Tensor) -> None:
        # Two passes over the chunk: 20 times faster than var_mean over dim 0 on CPU.
        count = rows.shape[0]
        mean = rows.sum(0) / count
        m2 = (rows - mean).square_().sum(0)
        if self.mean is None or self.m2 is None:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.count * count / total)
        self.count = total

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and biased variance of the rows added."""
        if self.mean is None or self.m2 is None:
            raise ValueError("no rows were added")
        return self.mean, self.m2 / self.count


def _update_running_stats(norm: nn.BatchNorm1d, mean: torch.Tensor, var: torch.Tensor,
                          count: int) -> None:
    """What ``norm``'s training forward does to its buffers, for a batch of ``count`` rows."""
    running_mean, running_var = norm.running_mean, norm.running_var
    if not norm.training or running_mean is None or running_var is None:
        return
    momentum = norm.momentum
    if norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        if momentum is None:
            momentum = 1.0 / float(norm.num_batches_tracked)
    if momentum is None:
        raise ValueError("a BatchNorm with momentum None must track its number of batches")
    unbiased = var * (count / max(count - 1, 1))
    running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
    running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)


class _Level:
    """One grouped MLP's inputs, batch statistics and kept layers; its rows a chunk at a time.

    Layer 0's rows are gathered afresh whenever needed; layers 1 … depth − 1 are
    kept whole (``kept``) once computed; the last is recomputed from the one below.
    """

    def __init__(self, per_point, minus_centre, idx, compute_dtype, weights, biases):
        batch, count, channels = per_point.shape
        self.groups, self.size = idx.shape[0] * idx.shape[1], idx.shape[2]
        self.rows = self.groups * self.size
        self.table = per_point.reshape(batch * count, channels)
        self.centre = minus_centre.reshape(self.groups, channels)
        offsets = torch.arange(0, batch * count, count, device=idx.device).view(batch, 1, 1)
        self.flat = (idx + offsets).reshape(self.groups, self.size)
        self.depth = len(weights)
        self.compute_dtype = compute_dtype
        self.stat_dtype = torch.promote_types(per_point.dtype, torch.float32)
        self.weights, self.biases = weights, biases
        self.cast = [(w.to(compute_dtype), None if b is None else b.to(compute_dtype))
                     for w, b in zip(weights, biases)]
        self.widths = [channels] + [w.shape[0] for w in weights]
        self.step = max(1, GROUP_CHUNK_ELEMENTS // (self.size * max(self.widths)))
        layers = self.depth + 1
        self.kept: list[torch.Tensor | None] = [None] * layers
        # per layer, filled in order by set_norm
        self.means: list[torch.Tensor] = []
        self.invstds: list[torch.Tensor] = []
        self.scales: list[torch.Tensor] = []
        self.shifts: list[torch.Tensor] = []

    def dtype(self, i: int) -> torch.dtype:
        """Of layer ``i``'s pre-activation."""
        return self.table.dtype if i == 0 else self.compute_dtype

    def empty(self, i: int) -> torch.Tensor:
        """Room for all rows of layer ``i`` (i ≥ 1)."""
        return self.table.new_empty(self.rows, self.widths[i], dtype=self.compute_dtype)

    def dy_buffer(self, i: int, above: torch.Tensor | None) -> torch.Tensor:
        """Room for layer ``i``'s dy: in ``above`` (layer i + 1's) when that is large enough,
        since each chunk of ``above`` is read before the (no later) rows written over it."""
        width = self.widths[i]
        if above is None or above.shape[1] < width:
            return self.empty(i)
        return above.view(-1)[:self.rows * width].view(self.rows, width)

    def chunks(self):
        """``(lo, hi)``: ranges of groups, each a chunk of rows."""
        for lo in range(0, self.groups, self.step):
            yield lo, min(self.groups, lo + self.step)

    def set_norm(self, i: int, mean, var, gamma, beta, eps: float) -> None:
        """Layer ``i``'s batch statistics, and BatchNorm as ``z·scale + shift`` (PyTorch's order);
        layer by layer from the first."""
        if i != len(self.means):
            raise ValueError(f"layer {i}'s statistics set after {len(self.means)} layers'")
        invstd = torch.rsqrt(var + eps)
        scale = gamma * invstd
        self.means.append(mean)
        self.invstds.append(invstd)
        self.scales.append(scale)
        self.shifts.append(beta - mean * scale)

    def xhat(self, i: int, z: torch.Tensor) -> torch.Tensor:
        """Normalised ``z`` of layer ``i``, in the statistics dtype."""
        return (z.to(self.stat_dtype) - self.means[i]).mul_(self.invstds[i])

    def linear(self, i: int, a: torch.Tensor) -> torch.Tensor:
        """Layer ``i``'s pre-activation from layer ``i − 1``'s activation ``a``."""
        return F.linear(a, *self.cast[i - 1])

    def pre_activation(self, i: int, lo: int, hi: int) -> torch.Tensor:
        """Layer ``i``'s pre-activation rows of groups ``lo:hi``: ``(rows, C_i)``."""
        if i == 0:
            z = self.table.index_select(0, self.flat[lo:hi].reshape(-1))
            z = z.view(hi - lo, self.size, -1).add_(self.centre[lo:hi].unsqueeze(1))
            return z.view(-1, self.widths[0])
        kept = self.kept[i]
        if kept is not None:
            return kept[lo * self.size:hi * self.size]
        return self.linear(i, self.activation(i - 1, lo, hi)[0])

    def activation(self, i: int, lo: int, hi: int, with_xhat: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Layer ``i``'s output rows (compute dtype) and, if asked, their x̂ (statistics dtype)."""
        z = self.pre_activation(i, lo, hi).to(self.stat_dtype)
        a = torch.addcmul(self.shifts[i], z, self.scales[i]).relu_()
        return a.to(self.compute_dtype), self.xhat(i, z) if with_xhat else None
