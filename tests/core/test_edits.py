"""Annotation corrections: sidecar file, applied by the loader, exported merged; the sheet untouched."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mer_viewer.core.dataset import Dataset
from mer_viewer.core.dataset import edits as edits_module
from mer_viewer.core.dataset.edits import EditStore, SampleEdit, export_merged, sidecar_path
from mer_viewer.core.errors import DatasetError

from .casme_fixture import SHEET, build_root


@pytest.fixture()
def root(tmp_path):
    return build_root(tmp_path / "casme3")


def test_correcting_a_skipped_row_makes_it_a_sample(root):
    sheet_bytes = (root / SHEET).read_bytes()
    ds = Dataset.open(root)
    row = next(s for s in ds.skipped if s.reason == "onset equals apex")
    store = EditStore.load(root)
    store.set(row.key, SampleEdit(apex=6, notes="apex checked frame by frame"))
    path = store.save()
    assert path == root / "mer_annotations.json"
    saved = json.loads(path.read_text())
    assert saved["format"] == "mer_viewer.annotations" and saved["version"] == 1
    assert saved["edits"][row.key] == {"apex": 6, "notes": "apex checked frame by frame"}

    fixed = Dataset.open(root).find("spNO.1", "a_3")
    assert fixed.apex == 6 and fixed.edited and fixed.notes == "apex checked frame by frame"
    assert (root / SHEET).read_bytes() == sheet_bytes
    assert "a_3" not in {s.id.split("_", 1)[1] for s in Dataset.open(root, edits=None).samples}


def test_edited_apex_changes_the_sample_and_exclusion_skips_it(root):
    store = EditStore.load(root)
    sample = Dataset.open(root).find("spNO.2", "j")
    store.set(sample.key, SampleEdit(apex=5, emotion="surprise", au="1+2"))
    store.save()
    edited = Dataset.open(root).find("spNO.2", "j")
    assert (edited.apex, edited.emotion, edited.au) == (5, "surprise", ("1", "2"))
    store.set(sample.key, SampleEdit(exclude=True, exclude_reason="blink"))
    store.save()
    skipped = {s.key: s for s in Dataset.open(root).skipped}
    assert skipped[sample.key].reason == "excluded: blink" and skipped[sample.key].edited


def test_edit_can_lift_a_list_exclusion(root):
    ds = Dataset.open(root)
    excluded = next(s for s in ds.skipped if s.reason.startswith("excluded: hand"))
    store = EditStore.load(root)
    store.set(excluded.key, SampleEdit(exclude=False))
    store.save()
    assert excluded.key in {s.key for s in Dataset.open(root).samples}


def test_empty_edit_removes_the_entry(root):
    store = EditStore.load(root)
    store.set("spNO.1_a_2", SampleEdit(apex=4))
    store.set("spNO.1_a_2", SampleEdit())
    assert len(store) == 0


def test_failed_save_keeps_the_previous_sidecar(root, monkeypatch):
    store = EditStore.load(root)
    store.set("spNO.1_a_2", SampleEdit(apex=4))
    store.save()
    before = (root / "mer_annotations.json").read_bytes()
    store.set("spNO.1_a_2", SampleEdit(apex=7))

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(edits_module.json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        store.save()
    assert (root / "mer_annotations.json").read_bytes() == before
    assert [p.name for p in root.glob(".tmp-*")] == []


def test_bad_sidecar_is_named(root):
    (root / "mer_annotations.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"mer_annotations\.json: unreadable annotation sidecar"):
        Dataset.open(root)
    (root / "mer_annotations.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DatasetError, match="not a mer_viewer annotation file"):
        Dataset.open(root)


def test_read_only_root_keeps_edits_in_user_data(root, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(edits_module.os, "access", lambda path, mode: False)
    path = sidecar_path(root)
    assert str(path).startswith(str(tmp_path / "data")) and path.suffix == ".json"


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_export_merged(root, tmp_path, suffix):
    store = EditStore.load(root)
    store.set("spNO.1_a_3", SampleEdit(apex=6, notes="fixed"))
    store.save()
    out = export_merged(Dataset.open(root), tmp_path / f"merged{suffix}")
    table = pd.read_excel(out, sheet_name="label") if suffix == ".xlsx" else pd.read_csv(out)
    assert list(table.columns[:8]) == ["Subject", "Filename", "Onset", "Apex", "Offset", "AU",
                                       "Objective class", "emotion"]
    row = table[(table.Filename == "a") & (table.Onset == 3)].iloc[0]
    assert row.Apex == 6 and bool(row.edited) and row.notes == "fixed" and row.status == "ok"
    assert (table.status == "apex before onset").sum() == 1
