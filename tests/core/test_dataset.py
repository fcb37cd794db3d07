"""The CAS(ME)³ loader against a fixture with both layouts and every anomaly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset, parse_au
from mer_viewer.core.errors import AnnotationError, FrameError, SampleNotFoundError

from .casme_fixture import HEADERS, ROWS, SHEET, build_root, write_frames, write_sheet


@pytest.fixture()
def root(tmp_path):
    return build_root(tmp_path / "casme3")


def test_every_row_is_loaded_or_skipped_with_its_reason(root):
    ds = Dataset.open(root)
    assert len(ds.samples) + len(ds.skipped) == len(ROWS)
    loaded = {(s.subject, s.clip, s.onset) for s in ds.samples}
    skipped = {s.excel_row: s.reason for s in ds.skipped}
    for excel_row, (row, expected) in enumerate(ROWS, start=2):
        key = (row[0], row[1], row[2])
        if expected == "ok":
            assert key in loaded, row
        else:
            assert expected in skipped[excel_row], (row, skipped.get(excel_row))


def test_samples_carry_the_sheet_values(root):
    ds = Dataset.open(root)
    s = ds.find("spNO.1", "a_2")
    assert (s.onset, s.apex, s.offset) == (2, 5, 8)
    assert s.au == ("L2", "L1") and s.emotion == "surprise" and s.objective_class == "II"
    assert s.label("4") == "surprise" and s.label("3") == "surprise"
    others = ds.find("spNO.1", "a_4")
    assert others.emotion == "others" and others.offset == 0  # 'Others' spelling, offset unknown
    assert others.label("3") is None and others.label("4") == "others"
    assert others.frame_range == list(range(4, 11))  # unknown offset: to the last frame
    clip_layout = ds.find("spNO.5", "C")
    assert clip_layout.au == ("T28", "14") and clip_layout.label("3") == "negative"


def test_counts_per_task(root):
    counts = Dataset.open(root).counts()
    assert counts["7"] == {"anger": 0, "disgust": 0, "fear": 1, "happy": 1, "others": 1,
                           "sad": 0, "surprise": 1}
    assert counts["4"] == {"negative": 1, "positive": 1, "surprise": 1, "others": 1}
    assert counts["3"] == {"negative": 1, "positive": 1, "surprise": 1}
    assert counts["objective"]["VII"] == 2


def test_both_layouts_and_depth_locations_read_frames(root):
    ds = Dataset.open(root)
    assert ds.layouts == ["subject", "clip"]
    for subject, clip in [("spNO.1", "a_2"), ("spNO.2", "j"), ("spNO.5", "c")]:
        sample = ds.find(subject, clip)
        color = sample.frames.color(sample.apex)
        depth = sample.frames.depth(sample.apex)
        assert color.dtype == np.uint8 and color.shape == (24, 32, 3)
        assert depth.dtype == np.uint16 and depth.shape == (24, 32)
        assert depth[5, 5] == 650 + sample.apex and depth[0, 0] == 0
    j = ds.find("spNO.2", "J")  # folder J, sheet j; depth beside the colour folder
    assert j.frames.depth_dir.name == "J"


def test_clip_layout_alone(tmp_path):
    root = tmp_path / "only_clip"
    base = root / "Part_A_ME_clip"
    write_frames(base / "frame" / "spNO.7_d_10", range(10, 16), base / "depth" / "spNO.7_d_10")
    write_sheet(root / SHEET, [("spNO.7", "D", 10, 12, 15, "1+2", "II", "surprise")])
    ds = Dataset.open(root)
    assert [s.id for s in ds.samples] == ["spNO.7_D_10"] and ds.layouts == ["clip"]
    assert ds.samples[0].frames.numbers == list(range(10, 16))


def test_columns_match_ignoring_case_and_spaces(tmp_path):
    headers = [" subject", "FILENAME", "Onset ", "apex", "Offset", "au", "Objective  Class", "Emotion"]
    ds = Dataset.open(build_root(tmp_path / "r", headers=headers))
    assert len(ds.samples) == 4


def test_missing_column_is_named(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    write_sheet(root / SHEET, [("spNO.1", "a", 1, 2, 3, "4", "III")], headers=HEADERS[:-1])
    with pytest.raises(AnnotationError, match=r"v2\.xlsx: missing column\(s\) emotion"):
        Dataset.open(root)


def test_find_explains_ambiguity_and_absence(root):
    ds = Dataset.open(root)
    with pytest.raises(SampleNotFoundError, match="holds 2 samples; name one of a_2, a_4"):
        ds.find("spNO.1", "a")
    with pytest.raises(SampleNotFoundError, match="skipped: missing frames"):
        ds.find("spNO.9", "b")


def test_depth_errors_name_the_file(root):
    sample = Dataset.open(root).find("spNO.1", "a_2")
    bad8 = sample.frames.depth_path(5)
    write_frames(bad8.parent.parent / "color", [5], bad8.parent, depth_dtype=np.uint8)
    with pytest.raises(FrameError, match=r"depth/5\.png: depth must be 16-bit"):
        sample.frames.depth(5)
    write_frames(bad8.parent.parent / "color", [5], bad8.parent, depth_size=(16, 12))
    with pytest.raises(FrameError, match=r"5\.png: depth is 16x12 but the colour frame is 32x24"):
        sample.frames.depth(5)
    with pytest.raises(FrameError, match=r"color/99\.jpg: colour frame file does not exist"):
        sample.frames.color(99)


def test_exclusion_list_argument_overrides_default(root, tmp_path):
    custom = tmp_path / "ex.csv"
    custom.write_text("subject,clip,onset,reason\nspNO.5,c,,glasses\n")
    ds = Dataset.open(root, exclusions=custom)
    reasons = {(s.subject, s.clip): s.reason for s in ds.skipped}
    assert reasons[("spNO.5", "c")] == "excluded: glasses"
    assert ("spNO.2", "j") in {(s.subject, s.clip) for s in ds.samples}


def test_macro_and_part_c_sheets(root):
    write_sheet(root / "cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx",
                [("spNO.1", "a", 1, 4, 9, "6+12", "I", "happiness"),
                 ("spNO.1", "a", 2, 7, 9, "1+4", "V", "sadness")])
    mae = Dataset.open(root, kind="mae")
    assert [(s.emotion, s.objective_class) for s in mae.samples] == [("happy", "I"), ("sad", "V")]
    write_sheet(root / "CAS(ME)3_part_C_ME.xlsx",
                [("spNO.1", "a", 2, 8, "4", "anger"), ("spNO.1", "a", 3, 0, "4", "anger")],
                headers=["sub", "count", "onset", "offset", "au", "emotion"], sheet_name="mockCrimeME")
    c = Dataset.open(root, kind="c")
    assert [(s.apex, s.apex_estimated) for s in c.samples] == [(5, True)]
    assert c.skipped[0].reason == "no offset to estimate the apex from"


@pytest.mark.parametrize("raw, expected", [
    ("4", ("4",)), ("2+1", ("2", "1")), ("R14", ("R14",)), ("L2+L1", ("L2", "L1")),
    ("T28+14", ("T28", "14")), (4.0, ("4",)), (12, ("12",)), ("AU4 + AU7", ("4", "7")),
    (None, ()), (float("nan"), ()), ("b25", ("B25",)),
])
def test_parse_au(raw, expected):
    assert parse_au(raw) == expected


def test_parse_au_rejects_garbage():
    with pytest.raises(ValueError, match="not an action unit"):
        parse_au("smile")


# --- CLI ---------------------------------------------------------------------------------

def test_info_json_schema(root, capsys):
    assert main(["info", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["root"] == str(root)
    assert {tuple(sorted(s)) for s in data["samples"]} == {
        tuple(sorted(["subject", "clip", "onset", "apex", "offset", "emotion", "objective_class",
                      "au", "warnings"]))}
    assert all(s["warnings"] == [] for s in data["samples"])  # no exception lists here
    assert len(data["samples"]) == 4 and len(data["skipped"]) == len(ROWS) - 4
    assert all({"subject", "clip", "reason"} <= set(s) for s in data["skipped"])
    assert set(data["counts"]) == {"7", "4", "3", "objective"}
    assert data["samples"][0]["au"] == ["L2", "L1"]


def test_info_text_lists_skipped_reasons(root, capsys):
    assert main(["info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "samples:  4 from 3 subjects" in out
    assert "spNO.1 a onset 3: onset equals apex" in out


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nope", "dataset folder does not exist"),
    (lambda p: p, "no annotation sheet found"),
    (lambda p: (p / SHEET).write_bytes(b"not a spreadsheet") and p, "unreadable annotation sheet"),
])
def test_info_bad_roots_fail_on_one_line(tmp_path, capsys, make, message):
    root = make(tmp_path)
    assert main(["info", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_the_dataset_is_never_written(root):
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    Dataset.open(root).find("spNO.1", "a_2").frames.depth(5)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_pandas_reads_fixture_sheet(root):
    # guards the fixture itself: the loader must see the real column names
    assert list(pd.read_excel(root / SHEET, sheet_name="label").columns) == HEADERS


def test_copy_of_root_elsewhere_loads_the_same(root, tmp_path):
    copy = shutil.copytree(root, tmp_path / "elsewhere")
    assert [s.id for s in Dataset.open(copy).samples] == [s.id for s in Dataset.open(root).samples]
