"""DGCNN classification (Wang et al. 2019): EdgeConv layers on a kNN graph rebuilt in feature space."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import index_points, knn
from .layers import (
    SharedMLP,
    activate,
    classifier_head,
    encode_motion,
    encoded_channels,
    folded,
    uses_batch_stats,
)

NEGATIVE_SLOPE = 0.2
# Gathered edge features per chunk of points in eval (see pointnet2.CHUNK_BYTES).
CHUNK_BYTES = 16 << 20


class EdgeConv(nn.Module):
    """``x (B, N, C), neighbours (B, N, k) -> (B, N, C_out)``: max over j of act(BN(W·[x_j − x_i, x_i])).

    ``W·[x_j − x_i, x_i] = W₁·x_j + (W₂ − W₁)·x_i``: both terms are computed
    once per point and the first is gathered, so the (B, N, k, 2C) edge
    features are never built. In eval, BatchNorm folds into W and, the
    activation being increasing, the max is taken before bias and activation.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.linear = nn.Linear(2 * in_channels, out_channels, bias=False)
        self.norm = nn.BatchNorm1d(out_channels)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        # eval: BatchNorm folded into (weight, bias); training: batch statistics, no bias
        fold = None if uses_batch_stats(self.norm) else folded(self.linear, self.norm)
        weight = self.linear.weight if fold is None else fold[0]
        neighbour_part, centre_part = weight[:, :self.in_channels], weight[:, self.in_channels:]
        from_neighbour = F.linear(x, neighbour_part)
        from_centre = F.linear(x, centre_part - neighbour_part)
        if fold is not None:
            # Gather and pool a chunk of points at a time: bounded, recycled buffers.
            batch, count, k = neighbours.shape
            step = max(1, CHUNK_BYTES // (batch * k * from_neighbour.shape[-1]
                                          * from_neighbour.element_size()))
            pooled = torch.cat([index_points(from_neighbour, neighbours[:, lo:lo + step]).amax(2)
                                for lo in range(0, count, step)], 1)
            return activate(pooled.add_(from_centre).add_(fold[1]), NEGATIVE_SLOPE)
        edges = index_points(from_neighbour, neighbours)  # (B, N, k, C_out)
        edges = edges.add_(from_centre.unsqueeze(2))
        shape = edges.shape
        edges = activate(self.norm(edges.reshape(-1, shape[-1])), NEGATIVE_SLOPE)
        return edges.reshape(shape).max(2).values


class DGCNN(nn.Module):
    """DGCNN classifier: ``(B, N, in_channels) -> logits (B, num_classes)``.

    EdgeConv 64, 64, 128, 256, each on the k nearest neighbours (self
    included) in the space of its own input: xyz for the first layer (so
    neighbourhoods are spatial, not mixed with the motion features), the
    previous layer's features after that. Concatenated layer outputs → 1024
    per point → max and mean pool → head 512, 256 with BatchNorm, leaky ReLU
    (0.2) and dropout (0.5, the paper's). ``motion_encoding``: how the motion
    channels reach the first EdgeConv (see :func:`~.layers.encode_motion`).
    """

    def __init__(self, num_classes: int, in_channels: int = 6, k: int = 20,
                 channels: Sequence[int] = (64, 64, 128, 256), embedding: int = 1024,
                 dropout: float = 0.5, motion_encoding: str = "color"):
        super().__init__()
        if in_channels < 3:
            raise ValueError(f"in_channels must be at least 3 (xyz), got {in_channels}")
        self.in_channels = in_channels
        self.k = k
        self.motion_encoding = motion_encoding
        widths = [encoded_channels(in_channels, motion_encoding), *channels]
        self.edge_convs = nn.ModuleList(EdgeConv(a, b) for a, b in zip(widths, widths[1:]))
        self.embed = SharedMLP(sum(channels), (embedding,), negative_slope=NEGATIVE_SLOPE,
                               bias=False)
        self.head = classifier_head(2 * embedding, num_classes, dropout=dropout,
                                    negative_slope=NEGATIVE_SLOPE, bias=False)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(f"expected (B, N, {self.in_channels}) points, got {tuple(points.shape)}")
        k = min(self.k, points.shape[1])
        x = encode_motion(points, self.motion_encoding)
        space = points[..., :3]
        outputs = []
        for conv in self.edge_convs:
            x = conv(x, knn(space, k))  # indices only: no gradient flows through the graph
            outputs.append(x)
            space = x
        x = self.embed(torch.cat(outputs, -1))
        return self.head(torch.cat([x.max(1).values, x.mean(1)], -1))
