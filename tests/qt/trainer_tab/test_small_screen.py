"""The Trainer's job page at 1366 × 768 inside the real main window, with the viewer's panels open."""

from __future__ import annotations

from tests.helpers.qt import main_window
from tests.helpers.trainer_tab import EventWriter, binary_report, fake_job, wait_listed, write_json
from tests.helpers.trainer_tab import REPORT_LABELS as Y, REPORT_SCORES as S

LONG_VERSION = "2026-12-02.1444"


def _finished_job(qtbot, tab, demo):
    from trainer import events as ev
    from trainer import jobs

    info = fake_job(demo, "running", name="chest-lesion-finetune")
    job = dict(info.job, version=LONG_VERSION)
    write_json(info.folder / "job.json", job)
    write_json(info.folder / "model" / "evaluation.json", binary_report(Y, S, threshold=0.45))
    wait_listed(qtbot, tab, 1)
    tab.select_job(info.id)
    w = EventWriter(jobs.get(info.id))
    w.write(ev.Evaluation(job=info.id, report=str(info.folder / "model" / "evaluation.json"),
                          metrics={"accuracy": 0.8}))
    w.write(ev.Finished(job=info.id, model=str(info.folder / "model"), best_metric=0.8,
                        metric_name="auc"))
    qtbot.waitUntil(lambda: tab.job_page.evaluation.threshold == 0.45, timeout=15000)
    return info


def _painted_region(w):
    """What of ``w`` is on screen (a scroll area's own region is covered by its viewport)."""
    return (w.viewport() if hasattr(w, "viewport") else w).visibleRegion()


def _fully_shown(w) -> bool:
    return w.isVisible() and w.visibleRegion().boundingRect().size() == w.size()


def test_evaluation_page_usable_at_1366x768_with_panels_open(qtbot, settings, demo):
    with main_window(qtbot, settings, (1366, 768)) as win:
        win.tags_dock.show()
        assert win.browser_dock.isVisible()
        win.open_trainer()
        qtbot.waitUntil(lambda: win.trainer_tab.tab is not None, timeout=10000)
        tab = win.trainer_tab.tab
        _finished_job(qtbot, tab, demo)
        page, ev = tab.job_page, tab.job_page.evaluation
        qtbot.wait(50)
        # nothing demands more width than the window gives the tab
        assert tab.minimumSizeHint().width() <= tab.width()
        # putting the model to work: whole fields and buttons
        assert page.version_edit.text() == LONG_VERSION
        fm = page.version_edit.fontMetrics()
        assert page.version_edit.width() >= fm.horizontalAdvance(LONG_VERSION) + 8
        for w in (page.name_edit, page.version_edit, page.register_button, page.export_button):
            assert _fully_shown(w), w
        # the evaluation is in front and nothing in it is cut sideways: it scrolls down
        assert page.side.currentWidget() is page.eval_scroll and _fully_shown(page.side)
        scroll = page.eval_scroll
        room = scroll.viewport().width()
        for w in (ev.headline, ev.cm_plot, ev.roc_plot, ev.picker, ev.slider, ev.reset_button,
                  ev.table):
            assert w.width() > 0 and w.height() > 0, w
            left = w.mapTo(scroll.widget(), w.rect().topLeft()).x()
            assert 0 <= left and left + w.width() <= room, (w, left, w.width(), room)
            scroll.ensureWidgetVisible(w)
            assert not _painted_region(w).isEmpty(), w  # reachable by scrolling down
        header = ev.table.horizontalHeader()
        for c in range(ev.table.columnCount()):  # headers and values whole
            assert header.sectionSize(c) >= ev.table.sizeHintForColumn(c)
            assert header.sectionSize(c) >= header.sectionSizeHint(c)
        # every column can be scrolled into view
        bar = ev.table.horizontalScrollBar()
        assert header.length() <= ev.table.viewport().width() + bar.maximum()
        # the charts are one tab away
        assert page.side.indexOf(page.content) >= 0


def test_wide_page_keeps_charts_beside_the_evaluation(qtbot, tab, demo):
    _finished_job(qtbot, tab, demo)  # the tab alone at 1400 × 900
    page = tab.job_page
    assert not page.narrow and page.splitter.indexOf(page.content) == 0
    assert page.charts.isVisible() and page.evaluation.isVisible()
    assert page.evaluation.plot_columns == 2


def test_trainer_pane_sizes_are_remembered(qtbot, settings):
    from tests.helpers.trainer_tab import make_tab

    first = make_tab(qtbot, settings)
    qtbot.waitUntil(lambda: first.sizes_restored)
    first.splitter.setSizes([410, first.splitter.width() - 410])
    left = first.splitter.sizes()[0]
    first.shutdown()
    second = make_tab(qtbot, settings)
    try:
        qtbot.waitUntil(lambda: second.sizes_restored)
        assert second.splitter.sizes()[0] == left
    finally:
        second.shutdown()


def test_new_job_page_needs_no_sideways_scrolling_at_1366x768(qtbot, settings, demo):
    from tests.helpers.trainer_tab import wait_dataset

    with main_window(qtbot, settings, (1366, 768)) as win:
        win.tags_dock.show()
        win.open_trainer()
        qtbot.waitUntil(lambda: win.trainer_tab.tab is not None, timeout=10000)
        tab = win.trainer_tab.tab
        tab.show_new_job()
        page = tab.dataset_page
        page.set_path(demo / "classification")
        wait_dataset(qtbot, page)
        qtbot.waitUntil(lambda: page.thumb_scroll.isVisible(), timeout=5000)
        qtbot.wait(50)
        # thumbnails and long paths do not widen the page: it only scrolls down
        assert tab.new_scroll.horizontalScrollBar().maximum() == 0
        assert tab.new_scroll.widget().minimumSizeHint().width() <= tab.new_scroll.viewport().width()
        assert page.path_label.toolTip() == str(demo / "classification")
