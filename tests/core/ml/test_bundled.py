"""The bundled checkpoints load with weights_only, carry their weights' SHA-256, and classify a
demo clip in one call."""

from __future__ import annotations

import json

import pytest
import torch

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.ml.checkpoint import DIGEST_KEY, load_checkpoint, weights_digest
from mer_viewer.core.ml.classify import bundled_checkpoint


def test_bundled_checkpoint_records_its_preprocessing():
    checkpoint = load_checkpoint(bundled_checkpoint("3"))
    assert checkpoint.model_name == "pointnet2"
    assert checkpoint.class_names == ("negative", "positive", "surprise")
    cloud = checkpoint.preprocessing["cloud"]
    assert cloud["align"] == "ecc" and cloud["denoise_sigma_px"] == 3.0
    assert checkpoint.preprocessing["sampling"] == {"points": 2048, "method": "sort",
                                                    "rank": "color_l2", "seed": 0}
    # trained with the defaults: the vector encoding, classified with its mirror image
    from mer_viewer.core.ml.inference import uses_test_time_flip

    assert checkpoint.build_model().motion_encoding == "vector"
    assert uses_test_time_flip(checkpoint)


def test_classify_without_checkpoint_uses_the_bundled_one(demo_corpus, capsys):
    sample = next(s for s in Dataset.open(demo_corpus).samples if s.label("3"))
    assert main(["classify", str(demo_corpus), sample.subject, sample.id.split("_", 1)[1],
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["probabilities"]) == {"negative", "positive", "surprise"}
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-5
    assert result["true"] == sample.label("3")


def test_bundled_4class_checkpoint():
    checkpoint = load_checkpoint(bundled_checkpoint("4"))
    assert checkpoint.model_name == "pointnet2"
    assert set(checkpoint.class_names) == {"negative", "others", "positive", "surprise"}
    assert checkpoint.preprocessing["sampling"]["method"] == "sort"
    assert checkpoint.config["classes"] == "4" and checkpoint.config["final_model"]


@pytest.mark.parametrize("task", ["3", "4"])
def test_bundled_checkpoints_carry_a_valid_weights_checksum(task):
    path = bundled_checkpoint(task)
    raw = torch.load(path, weights_only=True)
    assert len(raw[DIGEST_KEY]) == 64 and raw[DIGEST_KEY] == weights_digest(raw["model_state"])
    assert load_checkpoint(path).verified
