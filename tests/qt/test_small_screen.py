"""Every page usable at 1366 × 768 (a common clinic monitor) with the panels open."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.helpers.qt import main_window
from tests.helpers.qt import wait_loaded, wait_shown

SMALL = (1366, 768)


@pytest.fixture
def small(qtbot, settings):
    with main_window(qtbot, settings, SMALL) as win:
        yield win


def test_tags_panel_shows_tag_name_vr_and_value(qtbot, small, ct_folder):
    from medview.qt.widgets.tag_browser import COL_VALUE, COL_VR

    win = small
    win.open_paths([str(ct_folder)])
    wait_loaded(qtbot, win)
    wait_shown(qtbot, win.grid.active)
    assert win.analysis_dock.isVisible()  # the AI panel is open too
    win.tags_dock.toggleViewAction().trigger()  # View ▸ Panels ▸ DICOM Tags
    qtbot.waitUntil(lambda: win.tag_browser is not None
                    and win.tag_browser.element_count > 10, timeout=5000)
    qtbot.waitUntil(lambda: not win.tags_dock.visibleRegion().isEmpty(), timeout=3000)
    view = win.tag_browser.view
    qtbot.waitUntil(lambda: view.viewport().width() > 400, timeout=3000)  # widened on first show
    rows = view.viewport().height() // view.sizeHintForRow(0)
    assert rows >= 20, rows  # not "two rows high"
    header, x = view.header(), view.fontMetrics().horizontalAdvance("x")
    value_left = header.sectionViewportPosition(COL_VALUE)
    assert header.sectionViewportPosition(COL_VR) >= 0
    # the Value column starts on screen and has room for ~20 characters
    assert value_left + 20 * x <= view.viewport().width(), (value_left, view.viewport().width())
    assert header.sectionSize(COL_VALUE) >= 20 * x
    # made narrow, the panel gives Name less room, not Value
    win.resizeDocks([win.tags_dock], [340], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: view.viewport().width() < 340, timeout=3000)
    assert header.sectionViewportPosition(COL_VALUE) + 12 * x <= view.viewport().width()


def test_panel_sizes_are_remembered_across_restarts(qtbot, settings, ct_folder):
    with main_window(qtbot, settings, SMALL) as win:
        win.tags_dock.toggleViewAction().trigger()
        qtbot.waitUntil(lambda: win.tag_browser is not None, timeout=5000)
        win.resizeDocks([win.tags_dock, win.browser_dock], [380, 240], Qt.Orientation.Horizontal)
        qtbot.waitUntil(lambda: abs(win.tags_dock.width() - 380) <= 2, timeout=3000)
        sizes = (win.tags_dock.width(), win.browser_dock.width())
    with main_window(qtbot, settings, SMALL) as win:  # the next start: same panels, same sizes
        assert win.tags_dock.isVisible()
        qtbot.waitUntil(lambda: win.tag_browser is not None, timeout=5000)
        qtbot.wait(50)
        assert abs(win.tags_dock.width() - sizes[0]) <= 2  # not widened again
        assert abs(win.browser_dock.width() - sizes[1]) <= 2


def _tags_tabbed_with_ai(qtbot, win) -> bool:
    win.tags_dock.show()
    qtbot.wait(10)
    return win.tags_dock in win.tabifiedDockWidgets(win.analysis_dock)


def test_a_layout_saved_by_an_older_version_does_not_bring_back_the_cramped_tags(
        qtbot, settings):
    with main_window(qtbot, settings, SMALL) as win:
        assert _tags_tabbed_with_ai(qtbot, win)
        win.removeDockWidget(win.tags_dock)  # stacked under the AI panel, as the old release had it
        win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, win.tags_dock)
        assert not _tags_tabbed_with_ai(qtbot, win)
        old = win.saveState(1)  # the arrangement (and version) the old release saved
    settings.qsettings.setValue("window_MainWindow/state", old)
    settings.sync()
    with main_window(qtbot, settings, SMALL) as win:
        assert _tags_tabbed_with_ai(qtbot, win)
