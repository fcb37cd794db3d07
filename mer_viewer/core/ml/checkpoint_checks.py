"""What a loaded checkpoint must satisfy before it is used: field types and ranges, the weights'
SHA-256, finite weights. Each check returns the problem in a few words, or None."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mer_viewer.core.errors import MerError
from mer_viewer.core.fields import FieldTypeError, check_fields, shown


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain_mapping(value: Any, field: str) -> str | None:
    if not isinstance(value, Mapping):
        return f"{field} must be a mapping, got {shown(value)}"
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        return f"{field} has a key that is not text: {shown(bad[0])}"
    return None


def check_metadata(data: Mapping[str, Any]) -> str | None:
    """Types and ranges of every field but the weights (``format_version`` ≤ current is
    checked by the caller)."""
    from mer_viewer.core.ml.checkpoint import check_class_names

    version = data["format_version"]
    if not _is_int(version) or version < 1:
        return f"format_version must be a whole number ≥ 1, got {shown(version)}"
    name = data["model_name"]
    if not isinstance(name, str) or not name:
        return f"model_name must be a model's name, got {shown(name)}"
    for field in ("model_options", "config"):
        problem = _plain_mapping(data[field], field)
        if problem:
            return problem
    n = data["num_classes"]
    if not _is_int(n) or n < 2:
        return f"num_classes must be a whole number ≥ 2, got {shown(n)}"
    names = data["class_names"]
    problem = check_class_names(names)
    if problem:
        return problem
    if len(names) != n:
        return f"num_classes is {n} but there are {len(names)} class_names ({', '.join(names)})"
    channels = data["in_channels"]
    if not _is_int(channels) or channels < 3:
        return f"in_channels must be a whole number ≥ 3, got {shown(channels)}"
    epoch = data["epoch"]
    if not _is_int(epoch) or epoch < 0:
        return f"epoch must be a whole number ≥ 0, got {shown(epoch)}"
    for field in ("optimizer_state", "extra"):
        if data.get(field) is not None and not isinstance(data[field], Mapping):
            return f"{field} must be a mapping or null, got {shown(data[field])}"
    return check_config(data["config"], names) or check_preprocessing(data["preprocessing"])


def check_config(config: Mapping[str, Any], names: list[str]) -> str | None:
    """``config``: TrainConfig's fields with their types and ranges (keys it does not know are
    kept: they come from other versions); the class names are classes of its task."""
    from mer_viewer.core.dataset.labels import as_task, class_names
    from mer_viewer.core.ml.config import TrainConfig

    try:
        check_fields(TrainConfig, config, "config", unknown="ignore")
        TrainConfig.from_dict(config)
    except FieldTypeError as exc:
        return str(exc)
    except MerError as exc:
        return f"config: {exc}"
    task = as_task(config.get("classes", "3"))  # from_dict checked it is one
    foreign = [c for c in names if c not in class_names(task)]
    if foreign:
        return f"class_names {', '.join(foreign)} are not classes of the {task}-class task (config)"
    return None


def check_preprocessing(preprocessing: Any) -> str | None:
    from mer_viewer.core.ml.items import Preprocessing

    try:
        Preprocessing.from_dict(preprocessing)
    except ValueError as exc:
        return str(exc)
    return None


def check_weights(state: Any, stored_digest: Any) -> str | None:
    """The state dict holds tensors under text names, matching their SHA-256 when one is
    stored, and every floating-point value is finite."""
    import torch

    from mer_viewer.core.ml.checkpoint import weights_digest

    problem = _plain_mapping(state, "model_state")
    if problem:
        return problem
    if stored_digest is not None:
        if not isinstance(stored_digest, str) or weights_digest(state) != stored_digest:
            return "weights do not match their checksum (file damaged?)"
    for name, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            t = value.detach().cpu()
            values = t.numpy() if t.dtype != torch.bfloat16 else t.float().numpy()
            if not np.isfinite(values).all():  # numpy: torch's threads cost more than the check
                return f"weights hold NaN or infinite values ({name})"
    return None
