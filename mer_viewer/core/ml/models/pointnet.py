"""PointNet classification (Qi et al. 2017): shared per-point MLP, global max pool, MLP head.

The input (3×3) and feature (64×64) transform nets are optional and off by
default. Our clouds are already canonical (faces aligned to the onset frame,
centred and scaled, step 9 of the spec), so a learned rotation has nothing to
undo and could only blur where on the face the motion is; the feature
transform also needs its orthogonality penalty in the loss
(``regularization_loss()``, weight 0.001 in the paper), which a plain
cross-entropy loop would omit.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import SharedMLP, classifier_head, encode_motion, encoded_channels

# The paper's weight of the feature-transform orthogonality penalty.
TRANSFORM_PENALTY = 1e-3


class TNet(nn.Module):
    """Predicts a k × k transform from points ``(B, N, C) -> (B, k, k)``, starting as the identity."""

    def __init__(self, in_channels: int, k: int):
        super().__init__()
        self.k = k
        self.mlp = SharedMLP(in_channels, (64, 128, 1024))
        self.head = classifier_head(1024, k * k, dropout=0.0)
        # Start at the identity: a zero last layer, the identity added in forward.
        last = self.head[-1]
        assert isinstance(last, nn.Linear)  # classifier_head ends with the output Linear
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.mlp(x).max(1).values).view(-1, self.k, self.k)
        return out + torch.eye(self.k, dtype=out.dtype, device=out.device)


class PointNet(nn.Module):
    """PointNet classifier: ``(B, N, in_channels) -> logits (B, num_classes)``.

    Shared MLP 64, 64 | 64, 128, 1024 (the feature transform, when on, sits
    at the bar), max pool, head 512, 256 with BatchNorm, ReLU, dropout.
    ``motion_encoding``: how the motion channels reach the first layer (see
    :func:`~.layers.encode_motion`); ``color`` is the paper's.
    """

    def __init__(self, num_classes: int, in_channels: int = 6, dropout: float = 0.4,
                 input_transform: bool = False, feature_transform: bool = False,
                 motion_encoding: str = "color"):
        super().__init__()
        if in_channels < 3:
            raise ValueError(f"in_channels must be at least 3 (xyz), got {in_channels}")
        self.in_channels = in_channels
        self.motion_encoding = motion_encoding
        self.input_transform = TNet(3, 3) if input_transform else None
        self.feature_transform = TNet(64, 64) if feature_transform else None
        self.local = SharedMLP(encoded_channels(in_channels, motion_encoding), (64, 64))
        self.global_ = SharedMLP(64, (64, 128, 1024))
        self.head = classifier_head(1024, num_classes, dropout=dropout)
        self._last_feature_transform: torch.Tensor | None = None

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(f"expected (B, N, {self.in_channels}) points, got {tuple(points.shape)}")
        if self.input_transform is not None:
            xyz = points[..., :3] @ self.input_transform(points[..., :3])
            points = torch.cat([xyz, points[..., 3:]], -1)
        x = self.local(encode_motion(points, self.motion_encoding))
        if self.feature_transform is not None:
            transform = self.feature_transform(x)
            x = x @ transform
            self._last_feature_transform = transform
        return self.head(self.global_(x).max(1).values)

    def regularization_loss(self) -> torch.Tensor:
        """``0.001 · ‖I − A Aᵀ‖²`` for the last forward's feature transform A (zero without one)."""
        transform = self._last_feature_transform
        if transform is None:
            return torch.zeros(())
        eye = torch.eye(transform.shape[-1], dtype=transform.dtype, device=transform.device)
        residual = eye - transform @ transform.transpose(1, 2)
        return TRANSFORM_PENALTY * residual.square().sum((1, 2)).mean()
