"""``predict`` with the mirror image: one forward pass of clouds and mirrors equals two."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mer_viewer.core.ml.data import mirrored
from mer_viewer.core.ml.inference import predict

from .test_models import VARIANTS, clouds
from .test_saliency import trained_like

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name, options", VARIANTS, ids=lambda v: str(v))
def test_mirror_averaging_equals_separate_passes(name, options):
    model = trained_like(name, options)
    x = clouds(3, 256, seed=1).numpy()
    with torch.no_grad():  # the reference: each cloud alone, then its mirror image alone
        alone = [torch.softmax(model(torch.from_numpy(v[None])), dim=1)[0].numpy()
                 for v in np.concatenate([x, mirrored(x)])]
    expected = (np.stack(alone[:3]) + np.stack(alone[3:])) / 2
    np.testing.assert_allclose(predict(model, x, mirror=True), expected, atol=2e-5)
    np.testing.assert_allclose(predict(model, x[0], mirror=True), expected[0], atol=2e-5)
    np.testing.assert_allclose(predict(model, x, mirror=False), np.stack(alone[:3]), atol=2e-5)
