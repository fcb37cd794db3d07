"""Colour modes of the 3D views: motionless points are black in every motion mode."""

from __future__ import annotations

import numpy as np
import pytest

from mer_viewer.core.dataset import Dataset
from mer_viewer.core.pipeline import CloudParams, motion_cloud
from mer_viewer.qt.views.cloud_colors import point_colors


@pytest.fixture(scope="module")
def cloud(demo_corpus):
    return motion_cloud(Dataset.open(demo_corpus).samples[0], CloudParams(), sampling=None)


@pytest.mark.parametrize("mode", ["r", "theta", "phi"])
def test_motionless_points_are_black(cloud, mode):
    floor_m = CloudParams().motion.noise_floor_mm * 1e-3
    still = cloud.motion[:, 0] < floor_m  # the definition (SPEC §1 step 7), not the colours
    assert 0.05 < still.mean() < 0.95  # both kinds of point are there to check
    motion = point_colors(cloud, "motion")
    np.testing.assert_array_equal(motion[still, 1:], 0)  # the motion mode's black points
    colors = point_colors(cloud, mode)
    np.testing.assert_array_equal(colors[still], 0)
    # every moving point keeps its colour-map colour; none of them turns black
    assert (colors[~still].max(axis=1) > 0).mean() > 0.99


def test_saliency_of_a_few_network_points_spans_the_color_map(cloud):
    """The classifier scores only its N input points (2048 of ~87k face points on the demo
    clips), and max-pooling leaves most of those at 0 (on spNO.2/b with the bundled 4-class
    model the median is 0 and under 1 % of the face is above it). The colour scale comes
    from the points above 0: the most salient are bright, the middle ones in between, the
    rest black. (Scaled over the whole face, its 99th percentile was 0: all black.)"""
    rng = np.random.default_rng(0)
    k = len(cloud)
    scored = rng.choice(k, size=max(k // 40, 50), replace=False)  # 2.5 % of the points
    saliency = np.zeros(k)
    saliency[scored] = rng.uniform(0.01, 1.0, size=len(scored))
    saliency[scored[: len(scored) * 7 // 10]] = 0.0  # no gradient reaches 70 % of them
    scored = scored[len(scored) * 7 // 10:]
    colors = point_colors(cloud, "saliency", saliency)
    brightness = colors.sum(axis=1)
    unscored = np.setdiff1d(np.arange(k), scored)
    assert (brightness[unscored] == brightness.min()).all()  # the map's low end
    order = scored[np.argsort(saliency[scored])]
    top, middle = order[-len(order) // 20:], order[len(order) // 2]
    assert brightness[top].min() > 2.0  # near the bright (yellow) end of inferno
    assert brightness.min() < brightness[middle] < brightness[top].min()
