"""The Train panel offers every `mer train` option and builds the same TrainConfig from the same
values; the transfer protocol trains from the panel; bad numbers are a message."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from PySide6 import QtCore, QtWidgets

from mer_viewer.core.dataset import Dataset
from mer_viewer.core.dataset.sheets import find_sheet
from mer_viewer.core.ml.config import TRAIN_OPTIONS, TrainConfig
from mer_viewer.qt.panels.train_form import ChoiceSet
from tests.core.ml.option_values import (
    ALL_CHANGED,
    SOME_CHANGED,
    argv,
    expected,
    option_names,
    run_cli_train,
)
from tests.gui_helpers import JobWatch, make_window, open_and_wait

pytest.importorskip("torch")


def set_field(widget: QtWidgets.QWidget, value) -> None:
    """Set a field as a user does: pick the item, tick the box, type the number."""
    if isinstance(widget, ChoiceSet):
        for name, box in widget.boxes.items():
            box.setChecked(name in value)
    elif isinstance(widget, QtWidgets.QCheckBox):
        widget.setChecked(value)
    elif isinstance(widget, QtWidgets.QComboBox):
        text = {None: "auto", True: "on", False: "off"}.get(value, value) \
            if isinstance(value, (bool, type(None))) else str(value)
        widget.setCurrentText(text)
        assert widget.currentText() == text, f"{text!r} is not offered"
    elif isinstance(widget, QtWidgets.QSpinBox):
        widget.setValue(widget.minimum() if value is None else value)
    else:
        widget.setText("" if value is None else str(value))


def test_panel_fields_are_the_cli_options_and_build_the_same_config(
        qtbot, monkeypatch, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    panel = window.train_panel
    assert set(panel.form.fields) == option_names()
    assert all(getattr(panel, name) is field for name, field in panel.form.fields.items())
    # a fresh panel: TrainConfig's defaults, but a final model for the classification panel
    assert panel.config() == TrainConfig(final_model=True)
    for values in (ALL_CHANGED, SOME_CHANGED):
        for name, value in values.items():
            set_field(panel.form.fields[name], value)
        config = panel.config()
        sampling = panel.preprocessing(config).sampling
        assert (config, sampling) == expected(values)
        code, cli_config, cli_preprocessing, _ = run_cli_train(
            monkeypatch, demo_corpus, tmp_path / "run", argv(values))
        assert code == 0 and cli_config == config
        assert cli_preprocessing["sampling"] == asdict(sampling)


def test_advanced_options_wait_behind_a_toggle_on_the_third_row(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    form = window.train_panel.form
    advanced = [form.fields[o.name] for o in TRAIN_OPTIONS if o.advanced]
    basic = [form.fields[o.name] for o in TRAIN_OPTIONS if not o.advanced]
    assert advanced and all(w.isHidden() for w in advanced)
    assert not any(w.isHidden() for w in basic)
    grid = form.layout()
    rows = {grid.getItemPosition(grid.indexOf(w))[0] for w in basic + [form.advanced]}
    assert rows == {0, 1, 2}  # the dock is short: the live curve keeps its room
    qtbot.mouseClick(form.advanced, QtCore.Qt.MouseButton.LeftButton)
    assert not any(w.isHidden() for w in advanced)
    qtbot.mouseClick(form.advanced, QtCore.Qt.MouseButton.LeftButton)
    assert all(w.isHidden() for w in advanced)


def test_a_number_that_is_none_is_a_message_not_a_run(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus)
    panel = window.train_panel
    panel.lr.setText("fast")
    panel.start()
    assert panel.status.text() == "lr: 'fast' is not a number"
    assert panel.start_button.isEnabled() and not window.jobs.is_running(panel.JOB)
    panel.lr.setText("0")
    panel.start()
    assert "lr must be > 0" in panel.status.text() and not window.jobs.is_running(panel.JOB)


def _train_transfer(qtbot, window, out):
    panel = window.train_panel
    for name, value in dict(model="pointnet", protocol="transfer", classes="objective",
                            epochs=1, points=64, device="cpu", final_model=False).items():
        set_field(panel.form.fields[name], value)
    panel.out.setText(str(out))
    watch = JobWatch(window.jobs)
    qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    watch.assert_all_end(qtbot, timeout_s=300)
    return watch.outcome(panel.JOB)


def test_transfer_protocol_trains_from_the_panel(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus)
    out = tmp_path / "run"
    assert _train_transfer(qtbot, window, out) == "done"
    folds = json.loads((out / "folds.json").read_text())
    assert folds and all(f["train_source"] == "mae" and f["test_source"] == "me" for f in folds)
    metrics = json.loads((out / "metrics.json").read_text())
    micro = [s for s in Dataset.open(demo_corpus).samples if s.label("objective")]
    assert metrics["protocol"] == "transfer" and metrics["n_samples"] == len(micro)


def test_transfer_without_the_macro_sheet_is_a_message(qtbot, demo_copy, tmp_path):
    find_sheet(demo_copy, "mae").unlink()
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy)
    outcome = _train_transfer(qtbot, window, tmp_path / "run")
    assert outcome.startswith("failed") and "macro-expression sheet" in outcome
    qtbot.waitUntil(lambda: "macro-expression sheet" in window.messages.current, timeout=5000)
    assert str(demo_copy) in window.messages.current
    assert window.train_panel.start_button.isEnabled()
