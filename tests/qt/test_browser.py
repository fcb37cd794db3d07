"""Dataset browser: every row visible with its status, class filter, search, navigation."""

from __future__ import annotations

from mer_viewer.core.dataset import Dataset, Sample, Skipped
from mer_viewer.qt.browser import COLUMNS, DatasetBrowser


def _rows(browser: DatasetBrowser):
    return [browser.row_at(i) for i in browser.visible_rows()]


def _status_texts(browser: DatasetBrowser) -> list[str]:
    col = COLUMNS.index("status")
    return [i.siblingAtColumn(col).data() for i in browser.visible_rows()]


def test_every_row_shown_skipped_with_reason(qtbot, demo_corpus):
    dataset = Dataset.open(demo_corpus)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    rows = _rows(browser)
    assert len(rows) == len(dataset.samples) + len(dataset.skipped)
    statuses = _status_texts(browser)
    for row, status in zip(rows, statuses):
        if isinstance(row, Skipped):
            assert status == f"skipped: {row.reason}"
        else:
            assert status == "ok"
    assert any("onset equals apex" in s for s in statuses)
    assert any("excluded: hand occlusion" in s for s in statuses)


def test_class_filter_and_search(qtbot, demo_corpus):
    dataset = Dataset.open(demo_corpus)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    browser.set_class_filter("4", "surprise")
    rows = _rows(browser)
    assert rows and all(isinstance(r, Sample) and r.label("4") == "surprise" for r in rows)
    assert len(rows) == dataset.counts()["4"]["surprise"]

    browser.set_class_filter("4", "")
    browser.status_box.setCurrentIndex(browser.status_box.findData("skipped"))
    assert all(isinstance(r, Skipped) for r in _rows(browser))
    browser.status_box.setCurrentIndex(browser.status_box.findData("all"))

    browser.search.setText("OCCLUSION")
    rows = _rows(browser)
    assert rows and all("occlusion" in r.reason for r in rows)
    browser.search.setText("spNO.3")
    assert {r.subject for r in _rows(browser)} == {"spNO.3"}
    browser.search.setText("no such thing")
    assert _rows(browser) == []
    assert "0 shown" in browser.summary.text()


def test_step_moves_between_samples_and_emits(qtbot, demo_corpus):
    dataset = Dataset.open(demo_corpus)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    seen = []
    browser.rowSelected.connect(seen.append)
    browser.step(1)
    browser.step(1)
    samples = [r for r in _rows(browser) if isinstance(r, Sample)]
    assert [s.key for s in seen] == [samples[0].key, samples[1].key]
    browser.step(-1)
    assert seen[-1].key == samples[0].key
    # selecting from code (the state driving the tree) does not echo
    assert browser.select_key(samples[2].key)
    assert len(seen) == 3
    assert browser.current_row().key == samples[2].key
