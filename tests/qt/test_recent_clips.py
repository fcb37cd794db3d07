"""One memory of recent clips for the window, one threading mechanism (JobRunner, with its
background lanes) for all background work, and a window that shows clips with a cache it
cannot write."""

from __future__ import annotations

import ast
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from mer_viewer.core.flow import pair_flow
from mer_viewer.core.pipeline import CloudParams, SamplingParams, align_pair, cloud_from_pair
from mer_viewer.qt.infra.memo import RecentClips
from mer_viewer.qt.infra.state import view_key
from mer_viewer.qt.infra.workers import JobRunner, Lane
from tests.gl.synthetic import grid_cloud
from tests.gui_helpers import JobWatch, clip_spec, make_window, open_and_wait, wait_settled

QT = Path(__file__).resolve().parents[2] / "mer_viewer" / "qt"


# --- the memory ------------------------------------------------------------------------------

def test_each_kind_keeps_the_most_recent_clips_only():
    recent = RecentClips(clips=3, frames=4)
    clouds = [replace(grid_cloud(n_side=4), sample_id=f"c{i}") for i in range(5)]
    for i, cloud in enumerate(clouds):
        recent.keep_clip(("key", i), cloud, f"pair {i}")
    recent.clip(("key", 2))  # used: now the most recent
    recent.keep_clip(("key", 5), clouds[0], "pair 5")
    assert [i for i in range(6) if recent.clip(("key", i)) is not None] == [2, 4, 5]
    assert recent.clip(("key", 2)) == {"cloud": clouds[2], "pair": "pair 2"}


def test_a_flow_or_sampling_is_found_only_with_its_own_pair_or_cloud():
    recent = RecentClips()
    cloud = grid_cloud(n_side=4)
    samplings = {"left": SamplingParams(8), "right": SamplingParams(8, "random")}
    result = (cloud, {s: cloud.resample(p) for s, p in samplings.items()}, np.zeros((16, 3)))
    recent.keep_sampling(samplings, result)
    assert recent.sampling(cloud, dict(reversed(samplings.items()))) is result  # by view
    assert recent.sampling(replace(cloud), samplings) is None  # same clip, another cloud
    assert recent.sampling(cloud, {**samplings, "right": SamplingParams(9)}) is None

    class Pair:
        sample_id = "c"

    pair, other, flow = Pair(), Pair(), object()
    recent.keep_flow(pair, "dis", flow)
    assert recent.flow(pair, "dis") is flow
    assert recent.flow(other, "dis") is None and recent.flow(pair, "tvl1") is None
    recent.clear()
    assert recent.flow(pair, "dis") is None and recent.sampling(cloud, samplings) is None


# --- background lanes -----------------------------------------------------------------------

def test_a_lane_works_one_item_at_a_time_and_the_latest_request_wins(qtbot):
    jobs = JobRunner()
    started = []
    jobs.started.connect(lambda name, _label: started.append(name))
    done, active, most = [], [0], [0]
    gate = threading.Event()

    def work(item):
        active[0] += 1
        most[0] = max(most[0], active[0])
        gate.wait(5)
        time.sleep(0.01)
        done.append(item)
        active[0] -= 1

    lane = Lane(jobs, "frames", work, latest_only=True)
    for item in range(6):
        lane.put(item)
        time.sleep(0.02)  # item 0 is being worked on; 1-5 each replace the one waiting
    assert not lane.idle and not jobs.busy and jobs.names() == []  # no job to the user
    gate.set()
    qtbot.waitUntil(lambda: lane.idle, timeout=5000)
    assert done == [0, 5] and most[0] == 1 and started == []
    lane.put(6)  # a new run once the last has ended
    qtbot.waitUntil(lambda: done == [0, 5, 6] and lane.idle, timeout=5000)
    assert jobs.wait_all(3)


def test_a_lane_in_order_and_a_bug_in_it_reaches_the_user(qtbot):
    jobs = JobRunner()
    failed, done = [], []
    jobs.failed.connect(lambda name, text: failed.append((name, text)))

    def work(item):
        if item == "bad":
            raise RuntimeError("boom in a lane")
        done.append(item)

    lane = Lane(jobs, "read ahead", work)
    for item in ("a", "b", "bad", "c"):
        lane.put(item)
    qtbot.waitUntil(lambda: bool(failed), timeout=5000)
    # in order up to the bug ("c" may already be done when the message arrives)
    assert done[:2] == ["a", "b"] and "boom in a lane" in failed[0][1]
    lane.put("d")  # the lane goes on after a failure
    qtbot.waitUntil(lambda: done == ["a", "b", "c", "d"] and lane.idle, timeout=5000)
    jobs.cancel_all()
    assert jobs.wait_all(3)


# --- the window -------------------------------------------------------------------------------

def test_the_window_has_one_memory_that_every_view_fills(qtbot, demo_copy, tmp_path):
    window = make_window(qtbot, tmp_path, flow="dis")
    window.prefetch.enabled = False  # only what the views themselves keep
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    state, recent = window.state, window.recent
    sample, frame, cloud, pair = state.sample, state.frame, state.cloud, state.pair
    samplings = window.cloud_panel.samplings()
    window.browser.step(1)
    wait_settled(qtbot, window)
    assert state.sample is not sample
    rgb, depth = recent.frame(sample, frame)
    assert np.array_equal(depth, sample.frames.depth(frame))
    assert recent.clip((view_key(sample), state.cloud_params))["cloud"] is cloud
    assert recent.flow(pair, "dis") is not None
    assert recent.sampling(cloud, samplings)[0] is cloud
    for part in (window.views2d, window.cloud_panel, window.cloud_loader, window.prefetch):
        assert part.recent is recent


def test_clips_show_with_a_cache_that_cannot_be_written(qtbot, demo_copy, tmp_path, monkeypatch):
    """The loaders, the flow view and reading ahead with the cache folder through a file:
    the clip shows what the pipeline makes, no error reaches the user, nothing is read
    ahead (nothing is cached), and the next clip shows too."""
    blocker = tmp_path / "xdg-cache"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    window = make_window(qtbot, tmp_path, flow="dis")
    watch = JobWatch(window.jobs)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    state = window.state
    expected_pair = align_pair(state.sample, CloudParams())
    expected = cloud_from_pair(expected_pair, CloudParams(), sampling=None)
    assert np.array_equal(state.cloud.points_m, expected.points_m)
    assert np.array_equal(state.cloud.colors, expected.colors)
    assert np.array_equal(window.views2d.flow._flow, pair_flow(expected_pair, "dis").flow)
    window.prefetch.start()
    qtbot.waitUntil(lambda: window.prefetch.idle, timeout=20_000)
    for sample in window.browser.neighbours():
        assert window.recent.clip((view_key(sample), state.cloud_params)) is None
    window.browser.step(1)
    wait_settled(qtbot, window)
    assert state.cloud is not None and state.cloud.sample_id == state.sample.id
    assert watch.failures() == []
    assert [text for kind, text in window.messages.history if kind == "error"] == []
    assert [p for p in tmp_path.rglob("*.npz") if "demo" not in p.relative_to(tmp_path).parts] == []


# --- what keeps it so ---------------------------------------------------------------------------

def _modules():
    for path in sorted(QT.rglob("*.py")):
        yield path.name, ast.parse(path.read_text())


def test_background_work_runs_only_through_the_job_runner():
    """No thread pool or thread of its own in any Qt module but workers.py."""
    found = []
    for name, tree in _modules():
        if name == "workers.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("concurrent.futures",):
                found.append((name, node.lineno, node.module))
            if isinstance(node, ast.Attribute) and node.attr in ("Thread", "QThreadPool",
                                                                 "ThreadPoolExecutor"):
                found.append((name, node.lineno, node.attr))
            if isinstance(node, ast.Import) and any(a.name == "concurrent.futures"
                                                    for a in node.names):
                found.append((name, node.lineno, "concurrent.futures"))
    assert found == []


def test_jobs_live_in_core_and_the_window_uses_public_members_only():
    """No Qt module defines a job (a generator function); the main window and reading ahead
    touch no other object's private members."""
    jobs, private = [], []
    for name, tree in _modules():
        for node in tree.body:
            if (isinstance(node, ast.FunctionDef) and name != "workers.py"
                    and any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node))):
                jobs.append((name, node.name))
        if name in ("main_window.py", "prefetch.py"):
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                        and not node.attr.startswith("__")
                        and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
                    private.append((name, node.lineno, ast.unparse(node)))
    assert jobs == [] and private == []
