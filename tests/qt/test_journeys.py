"""User journeys through the real main window, with the bundled models and the demo corpus.

Each test drives the window as a user does (menus, keys, clicks) and fails when any job
it started neither finishes nor errors within its time.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from mer_viewer.core.dataset import Dataset, Skipped
from mer_viewer.core.dataset.edits import SIDECAR_NAME
from tests.gui_helpers import JobWatch, make_window, open_and_wait, press, wait_settled
from tests.gui_helpers import select_row as _select

torch = pytest.importorskip("torch")


def _errors(window) -> list[str]:
    return [text for kind, text in window.messages.history if kind == "error"]


def _action(window, name: str) -> QtGui.QAction:
    action = window.findChild(QtGui.QAction, name)
    assert action is not None, name
    return action


def _open_with_menu(qtbot, window, root, monkeypatch) -> None:
    """File → Open dataset folder…, answering the folder dialog with ``root``."""
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory",
                        lambda *a, **k: str(root))
    _action(window, "open").trigger()
    qtbot.waitUntil(lambda: window.state.dataset is not None
                    and window.state.dataset.root == root, timeout=60_000)


@pytest.mark.parametrize("task", ["3", "4"])
def test_open_select_and_press_c_with_the_bundled_model(qtbot, demo_corpus, tmp_path,
                                                        monkeypatch, task):
    from mer_viewer.core.ml.classify import bundled_checkpoint, classify

    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    _open_with_menu(qtbot, window, demo_corpus, monkeypatch)
    wait_settled(qtbot, window)
    sample = next(s for s in window.state.dataset.samples if s.label(task))
    _select(qtbot, window, sample)
    wait_settled(qtbot, window)
    panel = window.classify_panel
    panel.model_box.setCurrentText(f"bundled {task}-class")
    docks = {name: dock.geometry() for name, dock in window.docks.items() if dock.isVisible()}
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_C)
    assert window.jobs.is_running(panel.JOB) or panel.result is not None
    watch.assert_all_end(qtbot, timeout_s=120)
    assert watch.outcome(panel.JOB) == "done", watch.ended
    result = panel.result
    expected = classify(sample, bundled_checkpoint(task))  # the core, independently
    assert result.probabilities == expected.probabilities
    assert result.predicted == expected.predicted and result.true == sample.label(task)
    assert panel.chart.values == result.probabilities
    assert f"predicted <b>{result.predicted}</b>" in panel.result_label.text()
    assert panel.checkpoint_label.text() == f"model: {bundled_checkpoint(task).name}"
    # the result takes lines kept for it: no dock moves (the 3D views would reallocate)
    qtbot.wait(50)
    assert {n: d.geometry() for n, d in window.docks.items() if d.isVisible()} == docks
    # saliency: computed for the network's 2048 points and shown on the cloud
    panel.saliency_check.setChecked(True)
    cp = window.cloud_panel
    assert result.saliency.shape == (2048,) and np.isfinite(result.saliency).all()
    assert cp.controls.color_mode == "saliency"
    assert cp.saliency is not None and (cp.saliency > 0).sum() > 100
    assert not watch.failures() and not _errors(window)


def test_train_cancel_train_again_and_see_the_results(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    open_and_wait(qtbot, window, demo_corpus)
    panel = window.train_panel
    window.docks["train"].raise_()
    panel.model.setCurrentText("pointnet")
    panel.points.setCurrentText("1024")
    panel.device.setCurrentText("cpu")
    out = tmp_path / "run"
    panel.out.setText(str(out))

    panel.epochs.setValue(60)
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.curves.loss) >= 1, timeout=120_000)
    qtbot.mouseClick(panel.cancel_button, QtCore.Qt.MouseButton.LeftButton)
    watch.assert_all_end(qtbot, timeout_s=60)
    assert watch.outcome(panel.JOB) == "cancelled"
    assert "cancelled" in panel.status.text() and panel.start_button.isEnabled()
    assert window.jobs.wait_all(60)

    panel.epochs.setValue(2)
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    watch.assert_all_end(qtbot, timeout_s=300)
    assert watch.outcome(panel.JOB) == "done", watch.ended
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"UF1 {metrics['uf1']:.2%}" in panel.results.summary.text()
    assert panel.results.confusion.rowCount() == len(metrics["classes"])
    qtbot.waitUntil(panel.results.isVisible)  # the results are shown, not only stored
    assert window.classify_panel.checkpoint()[0] == out / "model.pt"
    assert not watch.failures()


def test_edit_apex_save_reopen_and_undo(qtbot, demo_copy, tmp_path):
    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    sample = Dataset.open(demo_copy).samples[0]
    open_and_wait(qtbot, window, demo_copy, f"{sample.subject}/{sample.clip}_{sample.onset}")
    spin = window.annotation.frames["apex"]
    new_apex = sample.apex + 1
    assert sample.onset < new_apex <= (sample.offset or new_apex)
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(new_apex))
    qtbot.keyClick(spin, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.state.sample is not None
                    and window.state.sample.apex == new_apex, timeout=10_000)
    wait_settled(qtbot, window)
    assert window.session.dirty and "*" in window.windowTitle()
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_S,
          QtCore.Qt.KeyboardModifier.ControlModifier)
    assert not window.session.dirty
    saved = json.loads((demo_copy / SIDECAR_NAME).read_text())
    assert saved["edits"][sample.key]["apex"] == new_apex
    watch.assert_all_end(qtbot)
    window.close()

    again = make_window(qtbot, tmp_path / "again")
    watch = JobWatch(again.jobs)
    open_and_wait(qtbot, again, demo_copy, f"{sample.subject}/{sample.clip}_{sample.onset}")
    assert again.state.sample.apex == new_apex and again.state.sample.edited
    assert again.annotation.frames["apex"].value() == new_apex
    # Undo of a reopened dataset has nothing to undo; Revert row is the user's way back
    qtbot.mouseClick(again.annotation.revert_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: again.state.sample.apex == sample.apex, timeout=10_000)
    press(qtbot, again.browser.tree, QtCore.Qt.Key.Key_Z,
          QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: again.state.sample.apex == new_apex, timeout=10_000)
    assert again.annotation.frames["apex"].value() == new_apex
    watch.assert_all_end(qtbot)
    assert not watch.failures()


def test_a_skipped_row_is_shown_with_its_reason_and_cannot_be_classified(qtbot, demo_corpus,
                                                                        tmp_path):
    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    open_and_wait(qtbot, window, demo_corpus)
    skipped = next(r for r in window.state.dataset.skipped if isinstance(r, Skipped))
    _select(qtbot, window, skipped)
    wait_settled(qtbot, window)
    assert window.state.sample is None and window.state.cloud is None
    assert skipped.reason in window.annotation.heading.text()
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_C)
    assert "select a loadable clip" in window.classify_panel.result_label.text()
    assert not window.jobs.is_running(window.classify_panel.JOB)
    # back to a sample: everything loads again
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.state.sample is not None, timeout=5000)
    wait_settled(qtbot, window)
    watch.assert_all_end(qtbot)
    assert not watch.failures()


def test_opening_a_folder_that_is_not_a_dataset(qtbot, demo_corpus, tmp_path, monkeypatch):
    folder = tmp_path / "holiday photos"
    folder.mkdir()
    (folder / "beach.jpg").write_bytes(b"\xff\xd8 not really")
    (folder / "notes.txt").write_text("hello")
    window = make_window(qtbot, tmp_path / "settings")
    watch = JobWatch(window.jobs)
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory",
                        lambda *a, **k: str(folder))
    _action(window, "open").trigger()
    watch.assert_all_end(qtbot)
    assert [how for _, how in watch.ended] and watch.failures(), watch.ended
    assert window.state.dataset is None
    errors = _errors(window)
    assert errors and str(folder) in errors[-1]
    # the window still works: the demo opens after that
    _open_with_menu(qtbot, window, demo_corpus, monkeypatch)
    wait_settled(qtbot, window)
    assert window.state.sample is not None
    watch.assert_all_end(qtbot)


def _boom(kind: str):
    def fail(*_args, **_kwargs):
        # a RuntimeError, as torch raises them: superqt once took it for a deleted worker
        raise RuntimeError(f"boom in {kind}")
    return fail


def _boom_job(kind: str):
    def job(*_args, **_kwargs):
        from mer_viewer.core.progress import Progress

        yield Progress(0, 1, "starting")
        raise RuntimeError(f"boom in {kind}")
    return job


# job -> (what to break, how the user starts it)
FAILING_JOBS = {
    "open": ("mer_viewer.qt.infra.session.Dataset.open", None),
    "demo": ("mer_viewer.core.dataset.demo.build_demo", None),
    "cloud": ("mer_viewer.core.cache.align_pair", None),
    "flow": ("mer_viewer.core.cache.cached_flow", None),
    "classify": ("mer_viewer.core.ml.classify.classify", "classify"),
    "train": ("mer_viewer.core.ml.train.run_training", "train"),
    "export": ("mer_viewer.core.dataset.edits.export_merged", "export"),
}


@pytest.mark.parametrize("kind", list(FAILING_JOBS))
def test_a_failing_job_ends_with_a_red_message(qtbot, demo_copy, tmp_path, monkeypatch, kind):
    target, action = FAILING_JOBS[kind]
    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    if kind in ("open", "cloud", "flow"):
        monkeypatch.setattr(target, _boom(kind))
    if kind == "demo":
        monkeypatch.setattr(target, _boom_job(kind))  # a generator, like build_demo
        window.session.open_demo(tmp_path / "new demo")
    else:
        window.open_dataset(demo_copy)
    watch.assert_all_end(qtbot, timeout_s=120)
    if action is not None:
        wait_settled(qtbot, window)
        monkeypatch.setattr(target, _boom(kind))
        if action == "classify":
            press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_C)
        elif action == "train":
            panel = window.train_panel
            panel.model.setCurrentText("pointnet")
            panel.out.setText(str(tmp_path / "run"))
            qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
        else:
            window.session.export(tmp_path / "merged.xlsx")
        watch.assert_all_end(qtbot, timeout_s=120)
    assert any(f"boom in {kind}" in how for _, how in watch.failures()), watch.ended
    errors = _errors(window)
    assert errors and f"boom in {kind}" in errors[-1]
    assert window.messages.isVisible() and f"boom in {kind}" in window.messages.current
    assert not window.jobs.busy and window.jobs.wait_all(30)
    if kind == "train":
        assert window.train_panel.start_button.isEnabled()
        assert "failed" in window.train_panel.status.text()


def _truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # what a copy interrupted half-way leaves


def test_a_clip_with_a_truncated_apex_jpeg_and_depth_png(qtbot, demo_copy, tmp_path):
    dataset = Dataset.open(demo_copy)
    sample = dataset.samples[0]
    numbers = sample.frames.numbers
    bad_depth = next(n for n in numbers[1:-1] if n not in (sample.onset, sample.apex))
    apex_jpeg = sample.frames.color_path(sample.apex)
    _truncate(apex_jpeg)  # OpenCV decodes half a JPEG without an error: it must be caught
    _truncate(sample.frames.depth_path(bad_depth))
    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    window.open_dataset(demo_copy, f"{sample.subject}/{sample.clip}_{sample.onset}")
    watch.assert_all_end(qtbot, timeout_s=120)
    wait_settled(qtbot, window)
    # the motion cloud needs the apex: its job fails naming the file and what is wrong
    assert watch.outcome("cloud").startswith("failed"), watch.ended
    assert str(apex_jpeg) in watch.outcome("cloud") and "truncated" in watch.outcome("cloud")
    assert any(str(apex_jpeg) in text for text in _errors(window))
    assert window.state.cloud is None

    # playback runs past the unreadable frames to the last one
    state, scrubber = window.state, window.views2d.scrubber
    state.set_frame(numbers[0])
    wait_settled(qtbot, window)
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_Space)
    assert scrubber.playing
    qtbot.waitUntil(lambda: not scrubber.playing, timeout=30_000)
    assert state.frame == numbers[-1]
    assert any(f"frame {bad_depth} of {sample.id}" in text for text in _errors(window))

    # C says why, and ends
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_C)
    watch.assert_all_end(qtbot, timeout_s=120)
    assert watch.outcome(window.classify_panel.JOB).startswith("failed")
    assert str(apex_jpeg) in watch.outcome(window.classify_panel.JOB)

    # the next clip is whole again: frames, cloud, nothing left of the broken one
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.state.sample is not None
                    and window.state.sample.key != sample.key, timeout=5000)
    wait_settled(qtbot, window)
    watch.assert_all_end(qtbot, timeout_s=120)
    assert window.state.cloud is not None and window.views2d.rgb.has_image
    assert window.cloud_panel.ready
    image = window.grab().toImage()
    assert image.width() > 0 and image.save(str(tmp_path / "after.png"))
