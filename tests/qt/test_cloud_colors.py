"""Colour modes of the 3D views: motionless points are black in every motion mode."""

from __future__ import annotations

import numpy as np
import pytest

from mer_viewer.core.dataset import Dataset
from mer_viewer.core.pipeline import CloudParams, motion_cloud
from mer_viewer.qt.cloud_colors import point_colors


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
