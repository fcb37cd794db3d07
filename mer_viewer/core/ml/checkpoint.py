"""Checkpoints: atomic save, safe load (``weights_only=True``), every field checked, model rebuild.

A checkpoint stores a SHA-256 of its weights (:func:`weights_digest`), checked
at load: damaged weights are refused, never used. Checkpoints written before
the digest existed (no ``weights_sha256`` key) still load, with a warning
logged, and ``Checkpoint.verified`` False; re-save one with
``save_checkpoint`` (or :func:`add_weights_digest`) to protect it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import logging
import os
import pickle
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mer_viewer.core.atomic import atomic_path
from mer_viewer.core.errors import CheckpointError, MerError
from mer_viewer.core.fields import shown

MAGIC_KEY = "mer_viewer_checkpoint"
MAGIC_VALUE = 1
FORMAT_VERSION = 1
DIGEST_KEY = "weights_sha256"
_REQUIRED = ("format_version", "model_name", "model_options", "num_classes", "in_channels",
             "class_names", "config", "preprocessing", "epoch", "model_state")
log = logging.getLogger(__name__)


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


def weights_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a state dict in a canonical form: for every entry in name order, its
    name, dtype, shape and raw bytes in C order. The same weights give the same digest
    whichever file (or device, or zip layout) held them."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        value = state[name]
        digest.update(str(name).encode() + b"\0")
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"{t.dtype}{tuple(t.shape)}\0".encode())
            # an ndarray is a buffer; numpy declares __buffer__ only for Python >= 3.12
            digest.update(t.reshape(-1).view(torch.uint8).numpy())  # type: ignore[arg-type]
        else:  # e.g. a module's _extra_state
            digest.update(f"{type(value).__name__}:{value!r}\0".encode())
    return digest.hexdigest()


def check_class_names(names: Any) -> str | None:
    """What is wrong with a list of class names (None: nothing)."""
    if not isinstance(names, (list, tuple)) or not names:
        return f"class_names must be a list of names, got {shown(names)}"
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        return f"class_names must be non-empty text, got {shown(bad[0])}"
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        return f"class_names repeat {', '.join(repeated)}"
    if len(names) < 2:
        return f"class_names must name at least 2 classes, got {shown(list(names))}"
    return None


def save_checkpoint(path: Path | str, model, optimizer, config: Any, class_names: Sequence[str],
                    preprocessing: Mapping[str, Any] | None, epoch: int,
                    extra: Mapping[str, Any] | None = None, *, model_name: str | None = None,
                    model_options: Mapping[str, Any] | None = None,
                    in_channels: int = 6) -> Path:
    """Write a checkpoint atomically; loadable with ``torch.load(path, weights_only=True)``.

    ``config``: a TrainConfig or dict; ``model_name``/``model_options`` default to
    its ``model``/``model_options``. ``optimizer`` may be None (inference-only
    file). ``extra``: anything plain, tensors allowed (e.g. scheduler state,
    history). Tensors are stored on the CPU, with the SHA-256 of the weights.
    What :func:`load_checkpoint` would refuse (class names that are not unique
    text, a ``preprocessing`` that ``Preprocessing.from_dict`` rejects) raises
    TypeError or ValueError here and writes nothing.
    """
    from mer_viewer.core.ml.items import Preprocessing

    config_d = plain(config, where="config")
    if not isinstance(config_d, dict):
        raise TypeError("config must be a dataclass or a mapping")
    name = model_name if model_name is not None else config_d.get("model")
    if not name:
        raise TypeError("model_name missing and config has no 'model'")
    options = model_options if model_options is not None else config_d.get("model_options", {})
    names = list(class_names)
    problem = check_class_names(names)
    if problem:
        raise ValueError(problem)
    preprocessing_d = plain(preprocessing or {}, where="preprocessing")
    Preprocessing.from_dict(preprocessing_d)
    state = _to_cpu(dict(model.state_dict()))
    payload = {
        MAGIC_KEY: MAGIC_VALUE,
        "format_version": FORMAT_VERSION,
        "model_name": str(name),
        "model_options": plain(options or {}, where="model_options"),
        "num_classes": len(names),
        "in_channels": int(in_channels),
        "class_names": names,
        "config": config_d,
        "preprocessing": preprocessing_d,
        "epoch": int(epoch),
        "model_state": state,
        DIGEST_KEY: weights_digest(state),
        "optimizer_state": _to_cpu(optimizer.state_dict()) if optimizer is not None else None,
        "extra": plain(extra, tensors=True, where="extra") if extra is not None else None,
    }
    return atomic_torch_save(payload, path)


def add_weights_digest(path: Path | str) -> Path:
    """Store the weights' SHA-256 in a checkpoint written before it had one (same weights,
    same predictions); the file is replaced atomically."""
    import torch

    path = Path(path)
    load_checkpoint(path)  # a readable, valid checkpoint (with or without a digest)
    data = torch.load(path, map_location="cpu", weights_only=True)
    data[DIGEST_KEY] = weights_digest(data["model_state"])
    return atomic_torch_save(data, path)


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint; tensors on the CPU. ``build_model()`` gives the network in eval mode.

    ``verified``: the weights matched the SHA-256 stored with them (False: an older
    checkpoint without one).
    """

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
    verified: bool = False

    def build_model(self, device: Any = "cpu"):
        """The network with these weights, on ``device``, in eval mode."""
        try:
            model = build_network(self.model_name, self.num_classes, self.in_channels,
                                  self.model_options)
        except MerError as exc:
            raise CheckpointError(self.path, str(exc)) from None
        try:
            model.load_state_dict(self.model_state)
        except RuntimeError as exc:
            raise CheckpointError(self.path, f"weights do not fit model {self.model_name!r}: "
                                  f"{str(exc).splitlines()[0]}") from None
        return model.to(device).eval()


def _why_unreadable(path: Path, head: bytes, exc: Exception) -> str:
    """Why ``torch.load`` failed on a file that starts with ``head``, in a few words."""
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or exc})"
    pickled = head[:1] == b"\x80" or head == b"PK\x03\x04"  # a pickle, or torch's zip of one
    if pickled and isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
        return ("holds objects that cannot be loaded safely (weights_only=True); "
                "not a mer_viewer checkpoint")
    if head == b"PK\x03\x04":
        try:
            whole = zipfile.is_zipfile(path)
        except OSError:
            whole = False
        if not whole:
            return "truncated or corrupt PyTorch file"
        return f"corrupt PyTorch file ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    return "not a PyTorch file"


def load_checkpoint(path: Path | str, map_location: Any = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; CheckpointError (one line naming
    the file) if it is not one, cannot be read, or holds damaged or inconsistent values."""
    import torch

    path = Path(path)
    try:
        if os.path.isdir(path):  # False, not an error, where it cannot be told
            raise IsADirectoryError
        with open(path, "rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        raise CheckpointError(path, "no such checkpoint file") from None
    except IsADirectoryError:
        raise CheckpointError(path, "is a directory, not a checkpoint file") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise CheckpointError(path, "empty file, not a checkpoint")
    try:
        with warnings.catch_warnings():  # torch's notes on odd files: the error below says it
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, OSError, ...
        raise CheckpointError(path, _why_unreadable(path, head, exc)) from None
    if not isinstance(data, dict) or data.get(MAGIC_KEY) != MAGIC_VALUE:
        kind = "a plain state_dict?" if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(path, f"a PyTorch file but not a mer_viewer checkpoint ({kind})")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise CheckpointError(path, f"corrupt mer_viewer checkpoint: missing {missing}")
    version = data["format_version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CheckpointError(path, f"written by a newer mer_viewer (format {version} > "
                              f"{FORMAT_VERSION}); upgrade to read it")
    from mer_viewer.core.ml.checkpoint_checks import check_metadata, check_weights

    problem = (check_metadata(data)
               or check_weights(data["model_state"], data.get(DIGEST_KEY)))
    if problem:
        raise CheckpointError(path, problem)
    verified = data.get(DIGEST_KEY) is not None
    if not verified:
        log.warning("%s: no weights checksum (saved by an older mer_viewer): damage to its "
                    "weights cannot be detected", path)
    checkpoint = Checkpoint(
        path=path,
        model_name=data["model_name"],
        model_options=dict(data["model_options"]),
        num_classes=data["num_classes"],
        in_channels=data["in_channels"],
        class_names=tuple(data["class_names"]),
        config=dict(data["config"]),
        preprocessing=dict(data["preprocessing"]),
        epoch=data["epoch"],
        model_state=dict(data["model_state"]),
        optimizer_state=data.get("optimizer_state"),
        extra=data.get("extra"),
        verified=verified,
    )
    checkpoint.build_model()  # the model exists and its weights fit it (num_classes outputs)
    return checkpoint
