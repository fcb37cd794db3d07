"""Annotation sheets with bad cells: every row is loaded or skipped with a reason; only typed
errors (MerError) ever leave the loader; ``mer info`` never shows a traceback."""

from __future__ import annotations

import datetime
import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset, casme3
from mer_viewer.core.dataset.sheets import MAX_FRAME, SPECS, SheetRow, frame_number
from mer_viewer.core.errors import MerError

from .casme_fixture import HEADERS, ROWS, SHEET, build_root, write_sheet

REAL_ROWS = [row for row, _ in ROWS]


@pytest.mark.parametrize("value, number", [
    (12, 12), (12.0, 12), ("12", 12), (" 7 ", 7), ("12.0", 12), (0, 0), (MAX_FRAME, MAX_FRAME),
])
def test_frame_numbers_as_spreadsheets_store_them(value, number):
    assert frame_number(value, "onset") == number


@pytest.mark.parametrize("value", [
    1e300, "9" * 300, "9" * 5000, 10 ** 400, MAX_FRAME + 1, 12.5, "12.5", math.nan, math.inf,
    -math.inf, -1, "-3", True, False, "abc", "", "١٢", "1_000", datetime.datetime(2024, 1, 2),
])
def test_bad_frame_numbers_are_value_errors_naming_column_and_value(value):
    with pytest.raises(ValueError) as info:
        frame_number(value, "apex")
    message = str(info.value)
    assert message.startswith("apex ") and len(message) < 100 and "\n" not in message


@pytest.mark.parametrize("cell", [1e300, "9" * 300, 12.5, -4, True, "nan", "inf", 2e7])
def test_a_bad_frame_number_skips_only_its_row(tmp_path, capsys, cell):
    root = build_root(tmp_path / "casme3")
    rows = [list(row) for row in REAL_ROWS]
    rows[6][3] = cell  # the apex of spNO.2 j 1, an "ok" row (Excel row 8)
    write_sheet(root / SHEET, rows)
    ds = Dataset.open(root)
    skipped = next(s for s in ds.skipped if s.excel_row == 8)
    assert skipped.reason.startswith("apex ") and len(skipped.reason) < 100
    assert {s.id for s in ds.samples} == {"spNO.1_a_2", "spNO.1_a_4", "spNO.5_c_3"}
    assert main(["info", str(root), "--json"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert {s["row"] for s in json.loads(captured.out)["skipped"]} >= {8}


# --- fuzzing: real rows with mutated cells ----------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
#: what a spreadsheet cell can hold after pandas reads it, and what typing errors put there
SHEET_CELLS = st.one_of(
    st.none(),
    st.integers(-10, 30),
    st.integers(-(10 ** 18), 10 ** 18),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e300, -1e300, 1e16, 12.5, 0.0, -0.0, MAX_FRAME, MAX_FRAME + 1]),
    st.booleans(),
    _TEXT,
    st.text("0123456789", min_size=1, max_size=400),
    st.sampled_from(["spNO.1", "spNO.9", "a", "J", "L2+L1", "R14", "T28+14", "AU12", "II",
                     "Others", "joy", "  ", "1e300", "nan", "inf", "-1", "12.5", "..", "/",
                     "spNO.1/../spNO.2", "a" * 300, "ﬁ", "spNO.１"]),
    st.datetimes(min_value=datetime.datetime(1900, 3, 1), max_value=datetime.datetime(2100, 1, 1)),
)


#: frame-number cells: near the fixture's frames, or huge (a file name too long for the OS)
FRAME_CELLS = st.one_of(
    st.integers(0, 12),
    st.sampled_from([1e300, "9" * 300, "1" + "0" * 299, 2e7, 1e16, -1, 12.5, "1e300"]),
    st.integers(10 ** 250, 10 ** 300).map(float),
)


@st.composite
def mutated_sheets(draw, cells=SHEET_CELLS):
    """The fixture's real rows, some removed or duplicated, 1-8 cells replaced (frame numbers
    half of the time: they are what reaches the file system)."""
    rows = [list(row) for row in draw(st.lists(st.sampled_from(REAL_ROWS), min_size=1,
                                               max_size=len(REAL_ROWS) + 3))]
    for _ in range(draw(st.integers(1, 8))):
        row = draw(st.integers(0, len(rows) - 1))
        column = draw(st.one_of(st.sampled_from([2, 3, 4]), st.integers(0, len(HEADERS) - 1)))
        rows[row][column] = draw(st.one_of(FRAME_CELLS, cells) if column in (2, 3, 4) else cells)
    return rows


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory) -> Path:
    return build_root(tmp_path_factory.mktemp("fuzz") / "casme3")


def _check_loaded(ds: Dataset, n_rows: int) -> None:
    assert len(ds.samples) + len(ds.skipped) <= n_rows  # all-empty rows are not rows
    assert all(s.reason for s in ds.skipped)
    for sample in ds.samples:
        assert 1 <= sample.onset < sample.apex <= MAX_FRAME
        assert 0 <= sample.offset <= MAX_FRAME
        assert sample.frames.color_path(sample.onset).is_file()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=mutated_sheets())
def test_fuzzed_sheet_loads_or_skips_rows_never_crashes(fuzz_root, rows):
    write_sheet(fuzz_root / SHEET, rows)
    ds = None
    try:
        ds = Dataset.open(fuzz_root)
    except MerError:
        pass  # a typed error is a valid answer; it must also be what mer info shows
    else:
        _check_loaded(ds, len(rows))
    # mer info answers on one line or with its report, never a traceback
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["info", str(fuzz_root), "--json"])
    assert "Traceback" not in err.getvalue()
    if ds is not None:
        assert code == 0 and len(json.loads(out.getvalue())["samples"]) == len(ds.samples)
    else:
        assert code == 1 and err.getvalue().count("\n") == 1


#: beyond what a spreadsheet holds: what a hand-made workbook or another reader may give
PYTHON_CELLS = st.one_of(
    SHEET_CELLS,
    st.integers(-(10 ** 4000), 10 ** 4000),
    st.text(max_size=60),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.fractions(),
    st.decimals(allow_nan=True),
    st.complex_numbers(),
)


@settings(max_examples=300, deadline=None)
@given(rows=mutated_sheets(PYTHON_CELLS))
def test_fuzzed_rows_through_the_row_parser(fuzz_root, rows):
    """Cells of any Python type, straight to the loader (read_sheet returns them)."""
    columns = list(SPECS["me"].columns)  # canonical names, in the sheet's order
    sheet_rows = [SheetRow(dict(zip(columns, row)), excel_row=i + 2) for i, row in enumerate(rows)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(casme3, "read_sheet", lambda path, kind: sheet_rows)
        try:
            ds = Dataset.open(fuzz_root)
        except MerError:
            return
    _check_loaded(ds, len(rows))
