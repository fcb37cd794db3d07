"""Damaged or inconsistent checkpoints are refused with one line naming the file, never used.

Each case damages a real saved checkpoint (a PointNet, untrained) the way a disk,
a copy or a hand edit would, then checks ``load_checkpoint`` and ``mer classify``.
"""

from __future__ import annotations

import builtins
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.errors import CheckpointError
from mer_viewer.core.ml import classify as classify_module
from mer_viewer.core.ml.checkpoint import (
    DIGEST_KEY,
    add_weights_digest,
    load_checkpoint,
    save_checkpoint,
    weights_digest,
)
from mer_viewer.core.ml.config import TrainConfig
from mer_viewer.core.ml.inference import PredictionError, predict
from mer_viewer.core.ml.items import Preprocessing
from mer_viewer.core.ml.models import build
from mer_viewer.core.pipeline import SamplingParams

CLASSES = ("negative", "positive", "surprise")


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck") / "good.pt"
    return save_checkpoint(path, build("pointnet", 3), None, TrainConfig(points=256), CLASSES,
                           Preprocessing(sampling=SamplingParams(points=256)).to_dict(), 5)


def _raw(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _largest_weight(raw: dict) -> tuple[str, torch.Tensor]:
    return max(((k, v) for k, v in raw["model_state"].items() if v.is_floating_point()),
               key=lambda kv: kv[1].numel())


def flip_64_bytes(src: Path, dst: Path) -> str:
    """Invert 64 bytes in the middle of the largest weight tensor's stored bytes (the zip
    member holds them uncompressed; the zip stays readable). Returns the tensor's name."""
    name, tensor = _largest_weight(_raw(src))
    data = bytearray(src.read_bytes())
    stored = tensor.numpy().tobytes()
    at = data.find(stored)
    assert at >= 0 and data.find(stored, at + 1) < 0
    middle = at + len(stored) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    dst.write_bytes(bytes(data))
    return name


def _rewritten(src: Path, dst: Path, change, *, update_digest: bool = False) -> Path:
    raw = _raw(src)
    change(raw)
    if update_digest:
        raw[DIGEST_KEY] = weights_digest(raw["model_state"])
    torch.save(raw, dst)
    return dst


def _set_nan(raw: dict) -> None:
    name, tensor = _largest_weight(raw)
    tensor.view(-1)[7] = float("nan")


def test_flipped_weight_bytes_are_refused(good, tmp_path):
    bad = tmp_path / "flipped.pt"
    name = flip_64_bytes(good, bad)
    # torch itself reads the damaged weights without a word (no CRC check): the reason
    # a checksum of our own is needed
    assert not torch.equal(_raw(bad)["model_state"][name], _raw(good)["model_state"][name])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(bad)
    assert str(e.value) == f"{bad}: weights do not match their checksum (file damaged?)"


def test_saved_digest_is_the_canonical_one(good):
    raw = _raw(good)
    assert raw[DIGEST_KEY] == weights_digest(raw["model_state"])
    # an independent reference: SHA-256 over name, dtype, shape and bytes in name order
    import hashlib

    h = hashlib.sha256()
    for name in sorted(raw["model_state"]):
        t = raw["model_state"][name]
        h.update(name.encode() + b"\0" + f"{t.dtype}{tuple(t.shape)}\0".encode())
        h.update(t.numpy().tobytes())
    assert raw[DIGEST_KEY] == h.hexdigest()
    assert load_checkpoint(good).verified


@pytest.mark.parametrize("update_digest", [False, True])
def test_nan_weights_are_refused(good, tmp_path, update_digest):
    bad = _rewritten(good, tmp_path / "nan.pt", _set_nan, update_digest=update_digest)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(bad)
    expected = "NaN or infinite" if update_digest else "do not match their checksum"
    assert expected in str(e.value) and str(bad) in str(e.value)


def _field(key, value):
    def change(raw):
        raw[key] = value
    return change


def _config(key, value):
    def change(raw):
        raw["config"][key] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_field("class_names", ["negative", "positive"]),
     "num_classes is 3 but there are 2 class_names"),
    (lambda raw: raw.update(class_names=["negative", "positive"], num_classes=2),
     "weights do not fit"),
    (_field("num_classes", "three"), 'num_classes must be a whole number ≥ 2, got "three"'),
    (_field("num_classes", 1), "num_classes must be a whole number ≥ 2, got 1"),
    (_field("class_names", ["negative", "negative", "surprise"]), "class_names repeat negative"),
    (_field("class_names", ["negative", "", "surprise"]), "non-empty text"),
    (_field("class_names", "negative positive surprise"), "class_names must be a list"),
    (_field("class_names", ["negative", "happy", "surprise"]),
     "class_names happy are not classes of the 3-class task"),
    (_field("model_name", "resnet"), "unknown model 'resnet'"),
    (_field("model_name", 3), "model_name must be"),
    (_field("in_channels", "6"), 'in_channels must be a whole number ≥ 3, got "6"'),
    (_field("epoch", -1), "epoch must be a whole number ≥ 0"),
    (_field("epoch", 2.5), "epoch must be a whole number ≥ 0"),
    (_field("format_version", "1"), "format_version must be"),
    (_field("model_options", ["vector"]), "model_options must be a mapping"),
    (_field("config", "pointnet"), "config must be a mapping"),
    (_config("epochs", "40"), 'config.epochs must be a whole number, got "40"'),
    (_config("test_time_flip", "false"), 'config.test_time_flip must be true or false'),
    (_config("lr", float("nan")), "config.lr must be a finite number"),
    (_config("classes", "five"), "config: invalid training configuration: classes must be"),
    (_field("preprocessing", {"sampling": {"points": "many"}}),
     'preprocessing.sampling.points must be a whole number, got "many"'),
    (_field("preprocessing", {"cloud": {"align": "sideways"}}),
     "preprocessing.cloud.align must be one of"),
    (_field("preprocessing", {"cloud": {"motion": {"spike_mm": -1.0}}}),
     "preprocessing.cloud: spike_mm must be positive"),
    (_field("preprocessing", {"points": 2048}), "preprocessing has unknown field(s) points"),
    (_field("preprocessing", ["cloud"]), "preprocessing must be a mapping"),
    (_field("optimizer_state", [1, 2]), "optimizer_state must be a mapping or null"),
])
def test_inconsistent_fields_are_refused(good, tmp_path, change, message):
    bad = _rewritten(good, tmp_path / "bad.pt", change)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(bad)
    assert str(e.value).startswith(f"{bad}: ") and message in str(e.value)
    assert "\n" not in str(e.value)


def test_checkpoint_without_digest_loads_with_a_warning_and_can_be_sealed(good, tmp_path,
                                                                         caplog):
    old = _rewritten(good, tmp_path / "old.pt", lambda raw: raw.pop(DIGEST_KEY))
    with caplog.at_level(logging.WARNING, logger="mer_viewer.core.ml.checkpoint"):
        ck = load_checkpoint(old)
    assert not ck.verified and "no weights checksum" in caplog.text and str(old) in caplog.text
    weights = ck.model_state
    add_weights_digest(old)
    sealed = load_checkpoint(old)
    assert sealed.verified
    assert all(torch.equal(weights[k], sealed.model_state[k]) for k in weights)


def test_saving_what_loading_would_refuse_raises_and_writes_nothing(tmp_path):
    net = build("pointnet", 3)
    for names, preprocessing in ((("a", "a", "b"), {}), (("a", ""), {}), (("a",), {}),
                                 (CLASSES, {"cloud": {"align": 1}})):
        with pytest.raises(ValueError):
            save_checkpoint(tmp_path / "x.pt", net, None, TrainConfig(), names, preprocessing, 0)
    assert not list(tmp_path.iterdir())


class _RunsCode:
    """Unpickling this would call Path.touch(marker): what a malicious checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _unreadable_files(good: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, expected words of the error)"""
    marker = tmp / "pwned"
    folder = tmp / "folder.pt"
    folder.mkdir()
    empty = tmp / "empty.pt"
    empty.write_bytes(b"")
    cut = tmp / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    noise = tmp / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    zipped = tmp / "evil_zip.pt"
    torch.save({"mer_viewer_checkpoint": 1, "payload": _RunsCode(marker)}, zipped)
    legacy = tmp / "evil_pickle.pt"
    legacy.write_bytes(pickle.dumps(_RunsCode(marker)))
    flipped = tmp / "flipped.pt"
    flip_64_bytes(good, flipped)
    return {
        "directory": (folder, "is a directory"),
        "empty": (empty, "empty file"),
        "truncated": (cut, "truncated or corrupt"),
        "random bytes": (noise, "not a PyTorch file"),
        "malicious zip": (zipped, "cannot be loaded safely"),
        "malicious pickle": (legacy, "cannot be loaded safely"),
        "flipped bytes": (flipped, "checksum"),
        "nan": (_rewritten(good, tmp / "nan.pt", _set_nan, update_digest=True), "NaN"),
        "short names": (_rewritten(good, tmp / "short.pt", _field("class_names", ["a", "b"])),
                        "class_names"),
        "three": (_rewritten(good, tmp / "three.pt", _field("num_classes", "three")),
                  "num_classes"),
        "preprocessing": (_rewritten(good, tmp / "pre.pt", _field(
            "preprocessing", {"sampling": {"method": "all"}})), "preprocessing.sampling.method"),
    }


def test_unreadable_files_are_one_line_errors(good, tmp_path):
    for name, (path, words) in _unreadable_files(good, tmp_path).items():
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(path)
        assert str(e.value).startswith(f"{path}: ") and words in str(e.value), name
    assert not (tmp_path / "pwned").exists()  # no pickled code ran


@pytest.mark.parametrize("where", ["open", "torch.load"])
def test_permission_denied_is_a_checkpoint_error(good, monkeypatch, where):
    # the tests run as root, who may read anything: simulate a file we may not read
    if where == "open":
        real_open = builtins.open

        def guarded(file, *args, **kwargs):
            if str(file) == str(good):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)
    else:
        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(good))

        monkeypatch.setattr(torch, "load", denied)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(good)
    assert str(e.value) == f"{good}: cannot be read (Permission denied)"


def test_mer_classify_exits_1_with_one_line(good, demo_corpus, tmp_path, capsys, monkeypatch):
    sample = Dataset.open(demo_corpus).samples[0]
    clip = sample.id.split("_", 1)[1]
    cases = _unreadable_files(good, tmp_path)
    for name, (path, words) in cases.items():
        code = main(["classify", str(path), str(demo_corpus), sample.subject, clip])
        err = capsys.readouterr().err
        assert code == 1, name
        assert err.count("\n") == 1 and str(path) in err and words in err, (name, err)
        assert "Traceback" not in err
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda file, *a, **k: (
        (_ for _ in ()).throw(PermissionError(13, "Permission denied", str(file)))
        if str(file) == str(good) else real_open(file, *a, **k)))
    assert main(["classify", str(good), str(demo_corpus), sample.subject, clip]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Permission denied" in err and str(good) in err


class _Overflow(torch.nn.Module):
    """Finite weights whose logits overflow to inf - inf: NaN probabilities."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([3e38, 3e38, -3e38]))

    def forward(self, x):
        return x.sum(dim=(1, 2), keepdim=False)[:, None] * self.scale * 10


def test_non_finite_probabilities_are_an_error_never_a_prediction(good, monkeypatch):
    x = np.ones((2, 16, 6), np.float32)
    with pytest.raises(PredictionError, match="non-finite probabilities for 2 of 2"):
        predict(_Overflow(), x)
    net = build("pointnet", 3)
    nan_input = x.copy()
    nan_input[1, 3, 4] = np.nan
    with pytest.raises(PredictionError, match="1 of 2 clouds.*input"):
        predict(net, nan_input)

    # classify: a checkpoint whose (finite) weights overflow is refused for that clip
    raw = _raw(good)
    head = [k for k in raw["model_state"] if k.endswith("weight")][-1]
    raw["model_state"][head].fill_(3e38)
    raw[DIGEST_KEY] = weights_digest(raw["model_state"])
    huge = good.with_name("huge.pt")
    torch.save(raw, huge)

    class Cloud:
        network_input = np.random.default_rng(0).uniform(-1, 1, (256, 6)).astype(np.float32)

    class Sample:
        id = "spNO.1_a_12"

        def label(self, task):
            return "negative"

    monkeypatch.setattr(classify_module, "cached_cloud", lambda *a, **k: Cloud())
    with pytest.raises(CheckpointError) as e:
        classify_module.classify(Sample(), huge)
    assert str(huge) in str(e.value) and "non-finite probabilities" in str(e.value)
