"""The AI status line describes the image on screen, never the previous one (issue 10, 2).

A result or an error is about one image (and model): after switching image the line
about the old one goes (and comes back with it); an error is never shown over another
image, nor over the Trainer tab. Real files: pydicom's MR and CT test files, and an
RLE-compressed copy of CT_small.dcm whose compressed data is damaged (its header and
fragments read, so it opens; decoding fails).
"""

from __future__ import annotations

import pytest

from tests.helpers.datafiles import find
from tests.helpers.qt import wait_loaded
from tests.helpers.qt_analysis import analyze, damaged_rle, select_model, wait_shown


def show(qtbot, win, name):
    """Show the series of the file called ``name`` in the active viewport."""
    series = next(s for s in win.library.series() if s.frames[0].path.name == name)
    win.grid.show_series(series)
    vp = win.grid.active
    qtbot.waitUntil(lambda: vp.model.frame is not None and vp.model.frame.path.name == name,
                    timeout=15000)
    return vp


def status(panel) -> str:
    return panel.status_label.full_text()


def is_red(panel) -> bool:
    from medview.qt import theme

    return theme.ERROR.lower() in panel.status_label.styleSheet().lower()


@pytest.fixture
def opened(qtbot, window, installed, engines, tmp_path):
    files = [find("MR2_UNCR.dcm"), find("CT_small.dcm"), damaged_rle(tmp_path)]
    window.open_paths([str(p) for p in files])
    wait_loaded(qtbot, window, n_series=3)
    select_model(window.analysis, "chest-demo")
    return window


def test_a_result_stays_with_its_image(qtbot, opened):
    win, panel = opened, opened.analysis
    vp = show(qtbot, win, "MR2_UNCR.dcm")
    wait_shown(qtbot, vp)
    analyze(qtbot, panel)
    assert status(panel).startswith("MR2_UNCR.dcm: ")

    show(qtbot, win, "CT_small.dcm")  # another image: nothing about MR2 any more
    assert "MR2_UNCR" not in status(panel)
    assert "Not analysed" in panel.result_view.headline.text()

    show(qtbot, win, "MR2_UNCR.dcm")  # back: its result and its line
    assert status(panel).startswith("MR2_UNCR.dcm: ")
    assert "Not analysed" not in panel.result_view.headline.text()


def test_an_error_is_shown_for_its_image_only_and_not_over_the_trainer(qtbot, opened):
    win, panel = opened, opened.analysis
    show(qtbot, win, "damaged_rle.dcm")
    failed = []
    panel.service.failed.connect(lambda r, m: failed.append(m))
    panel.analyze()
    qtbot.waitUntil(lambda: bool(failed), timeout=30000)
    assert status(panel).startswith("damaged_rle.dcm: ") and is_red(panel)

    show(qtbot, win, "CT_small.dcm")
    assert "damaged_rle" not in status(panel) and not is_red(panel)

    show(qtbot, win, "damaged_rle.dcm")  # the error comes back with its image
    assert status(panel).startswith("damaged_rle.dcm: ") and is_red(panel)
    assert panel.result_view.headline.text() == "Analysis failed"

    win.open_trainer()  # another page: the line about an image goes
    qtbot.waitUntil(lambda: win.tabs.currentWidget() is win.trainer_tab)
    assert "damaged_rle" not in status(panel) and not is_red(panel)
    assert not panel.result_box.isVisible()  # nor its result

    win.tabs.setCurrentWidget(win.grid)  # back to the viewer, the same image: it is back
    assert status(panel).startswith("damaged_rle.dcm: ") and is_red(panel)
    assert panel.result_box.isVisible() and panel.result_view.headline.text() == "Analysis failed"
