"""Point-cloud classifiers by name: ``build(name, num_classes)`` -> module, (B, N, C) -> logits (B, K).

Importing this package does not import torch; ``build`` does.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

# name -> (module, class)
_REGISTRY = {
    "pointnet2": ("pointnet2", "PointNet2"),
    "pointnet": ("pointnet", "PointNet"),
    "dgcnn": ("dgcnn", "DGCNN"),
}
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def build(name: str, num_classes: int, in_channels: int = 6, **options: Any) -> nn.Module:
    """A fresh classifier: ``(B, N, in_channels)`` floats, xyz first -> ``(B, num_classes)`` logits.

    ``options`` go to the model's constructor, e.g. ``variant="msg"`` or
    ``deterministic=True`` for ``pointnet2``, ``feature_transform=True`` for
    ``pointnet``, ``k=10`` for ``dgcnn``; ``dropout`` for all.
    """
    try:
        module_name, class_name = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}") from None
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    cls = getattr(import_module(f"{__name__}.{module_name}"), class_name)
    return cls(num_classes, in_channels=in_channels, **options)
