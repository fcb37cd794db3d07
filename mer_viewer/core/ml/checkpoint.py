"""Checkpoints: atomic save, safe load (``weights_only=True``), clear errors, model rebuild."""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mer_viewer.core.atomic import atomic_path
from mer_viewer.core.errors import CheckpointError, MerError

MAGIC_KEY = "mer_viewer_checkpoint"
MAGIC_VALUE = 1
FORMAT_VERSION = 1
_REQUIRED = ("format_version", "model_name", "model_options", "num_classes", "in_channels",
             "class_names", "config", "preprocessing", "epoch", "model_state")


def build_network(name: str, num_classes: int, in_channels: int = 6,
                  options: Mapping[str, Any] | None = None):
    """``mer_viewer.core.ml.models.build`` looked up at call time (tests may substitute it).

    An unknown model name or option (ValueError, KeyError, TypeError from ``build``) is a MerError.
    """
    models = importlib.import_module("mer_viewer.core.ml.models")
    try:
        return models.build(name, num_classes, in_channels=in_channels, **dict(options or {}))
    except (ValueError, KeyError, TypeError) as exc:
        raise MerError(f"cannot build model {name!r}: {exc}") from None


def plain(value: Any, *, tensors: bool = False, where: str = "value") -> Any:
    """``value`` as dicts, lists, str, int, float, bool and None (and tensors if allowed).

    Dataclasses become dicts, tuples lists, paths strings, numpy scalars and
    arrays Python numbers and lists; anything else raises TypeError, at save
    time rather than when ``torch.load(weights_only=True)`` refuses it.
    """
    import torch

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where}: key {k!r} is not a str or int")
            out[k] = plain(v, tensors=tensors, where=f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [plain(v, tensors=tensors, where=f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if tensors and isinstance(value, torch.Tensor):
        return value.detach().cpu()
    raise TypeError(f"{where}: {type(value).__name__} cannot be stored in a checkpoint")


def _to_cpu(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj


def atomic_torch_save(obj: Any, path: Path | str) -> Path:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace``."""
    import torch

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def save_checkpoint(path: Path | str, model, optimizer, config: Any, class_names: Sequence[str],
                    preprocessing: Mapping[str, Any] | None, epoch: int,
                    extra: Mapping[str, Any] | None = None, *, model_name: str | None = None,
                    model_options: Mapping[str, Any] | None = None,
                    in_channels: int = 6) -> Path:
    """Write a checkpoint atomically; loadable with ``torch.load(path, weights_only=True)``.

    ``config``: a TrainConfig or dict; ``model_name``/``model_options`` default to
    its ``model``/``model_options``. ``optimizer`` may be None (inference-only
    file). ``extra``: anything plain, tensors allowed (e.g. scheduler state,
    history). Tensors are stored on the CPU.
    """
    config_d = plain(config, where="config")
    if not isinstance(config_d, dict):
        raise TypeError("config must be a dataclass or a mapping")
    name = model_name if model_name is not None else config_d.get("model")
    if not name:
        raise TypeError("model_name missing and config has no 'model'")
    options = model_options if model_options is not None else config_d.get("model_options", {})
    payload = {
        MAGIC_KEY: MAGIC_VALUE,
        "format_version": FORMAT_VERSION,
        "model_name": str(name),
        "model_options": plain(options or {}, where="model_options"),
        "num_classes": len(class_names),
        "in_channels": int(in_channels),
        "class_names": [str(c) for c in class_names],
        "config": config_d,
        "preprocessing": plain(preprocessing or {}, where="preprocessing"),
        "epoch": int(epoch),
        "model_state": _to_cpu(dict(model.state_dict())),
        "optimizer_state": _to_cpu(optimizer.state_dict()) if optimizer is not None else None,
        "extra": plain(extra, tensors=True, where="extra") if extra is not None else None,
    }
    return atomic_torch_save(payload, path)


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint; tensors on the CPU. ``build_model()`` gives the network in eval mode."""

    path: Path
    model_name: str
    model_options: dict[str, Any]
    num_classes: int
    in_channels: int
    class_names: tuple[str, ...]
    config: dict[str, Any]
    preprocessing: dict[str, Any]
    epoch: int
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None

    def build_model(self, device: Any = "cpu"):
        """The network with these weights, on ``device``, in eval mode."""
        model = build_network(self.model_name, self.num_classes, self.in_channels,
                              self.model_options)
        try:
            model.load_state_dict(self.model_state)
        except RuntimeError as exc:
            raise CheckpointError(self.path, f"weights do not fit model {self.model_name!r}: "
                                  f"{str(exc).splitlines()[0]}") from None
        return model.to(device).eval()


def _why_unreadable(path: Path, exc: Exception) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        return "empty file, not a checkpoint"
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
        return ("holds objects that cannot be loaded safely (weights_only=True); "
                "not a mer_viewer checkpoint")
    if head == b"PK\x03\x04":
        if not zipfile.is_zipfile(path):
            return "truncated or corrupt PyTorch file"
        return f"corrupt PyTorch file ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    return "not a PyTorch file"


def load_checkpoint(path: Path | str, map_location: Any = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; CheckpointError if it is not one."""
    import torch

    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(path, "is a directory, not a checkpoint file")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise CheckpointError(path, _why_unreadable(path, exc)) from None
    if not isinstance(data, dict) or data.get(MAGIC_KEY) != MAGIC_VALUE:
        kind = "a plain state_dict?" if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(path, f"a PyTorch file but not a mer_viewer checkpoint ({kind})")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise CheckpointError(path, f"corrupt mer_viewer checkpoint: missing {missing}")
    if int(data["format_version"]) > FORMAT_VERSION:
        raise CheckpointError(path, f"written by a newer mer_viewer (format "
                              f"{data['format_version']} > {FORMAT_VERSION}); upgrade to read it")
    return Checkpoint(
        path=path,
        model_name=str(data["model_name"]),
        model_options=dict(data["model_options"]),
        num_classes=int(data["num_classes"]),
        in_channels=int(data["in_channels"]),
        class_names=tuple(data["class_names"]),
        config=dict(data["config"]),
        preprocessing=dict(data["preprocessing"]),
        epoch=int(data["epoch"]),
        model_state=dict(data["model_state"]),
        optimizer_state=data.get("optimizer_state"),
        extra=data.get("extra"),
    )
