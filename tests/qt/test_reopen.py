"""Opening files that are already open says so, and brings them on screen."""

from __future__ import annotations

from tests.helpers.qt import CT_FILES, wait_loaded, wait_shown


def _reopen(qtbot, window, paths) -> None:
    window.open_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: not window.is_loading, timeout=15000)


def test_reopening_says_already_open_and_shows_the_series(qtbot, window, ct_folder, mr_file):
    window.open_paths([str(ct_folder), str(mr_file)])
    wait_loaded(qtbot, window, 2)
    ct = next(s for s in window.library.series() if s.modality == "CT")
    mr = next(s for s in window.library.series() if s.modality == "MR")
    window.grid.show_series(mr)
    window.browser.select_series(mr.id)
    n_series = len(window.library.series())

    _reopen(qtbot, window, [ct_folder])
    assert len(window.library.series()) == n_series and len(ct.frames) == len(CT_FILES)
    text = window._status_label.text()
    assert text == f"{len(CT_FILES)} images already open; nothing new", text
    assert "Opened" not in text
    # what the user asked for is brought to the front: on screen and selected
    assert window.grid.active.model.series is ct
    assert window.browser.current_series() is ct
    wait_shown(qtbot, window.grid.active)


def test_reopening_with_junk_notice_does_not_count_old_images(qtbot, window, drop_folder):
    window.open_paths([str(drop_folder)])
    wait_loaded(qtbot, window, 2)
    n_images = len(window.library.frames())
    window.last_notice.close()

    _reopen(qtbot, window, [drop_folder])
    assert len(window.library.frames()) == n_images
    summary = window.last_notice.summary_label.text()
    assert summary.startswith(f"{n_images} images already open; nothing new; skipped"), summary
    assert "Opened" not in window.last_notice.report_text()


def test_summary_texts():
    from medview.qt.main_window import open_status
    from medview.qt.widgets.notice import summary_text

    assert open_status(0, 0, 3) == "3 images already open; nothing new"
    assert open_status(1, 4, 0) == "Opened 1 series, 4 images"
    assert open_status(0, 2, 3) == "Added 2 images to open series (3 already open)"
    assert open_status(0, 0, 0) == "Nothing new to show"
    assert summary_text(2, 0, 1) == "1 image already open; nothing new; skipped 2 files."
    assert summary_text(2, 5, 1) == "Opened 5 images (1 already open); skipped 2 files."
