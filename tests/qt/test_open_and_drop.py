"""Opening studies: a real drop of a folder on the window, bad input, recent items."""

from __future__ import annotations

from tests.helpers.qt import CT_FILES, grab_array, send_drop, url_mime, wait_loaded, wait_shown


def drop_paths(target, paths):
    """Drop file/folder URLs on ``target`` as a file manager would."""
    return send_drop(target, url_mime(paths))


def test_drop_folder_opens_readable_files_and_lists_skipped(qtbot, window, drop_folder):
    vp = window.grid.active
    blank = grab_array(vp)

    drop = drop_paths(window, [drop_folder])
    assert drop.isAccepted()
    wait_loaded(qtbot, window, n_series=2)

    series = window.library.series()
    ct = next(s for s in series if s.modality == "CT")
    assert len(ct.frames) == len(CT_FILES)
    assert any(s.modality == "MR" for s in series)

    # the notice lists what was skipped, with reasons, and does not block
    skipped = {p.name: reason for p, reason in window.library.skipped}
    assert {"notes.txt", "report.pdf", "truncated_header.dcm"} <= set(skipped)
    assert all(reason for reason in skipped.values())
    notice = window.last_notice
    assert notice is not None and notice.isVisible() and not notice.isModal()
    assert "notes.txt" in notice.report_text()

    # the first series is on screen: rendered pixels differ from the empty viewport
    assert vp.model.series is not None
    wait_shown(qtbot, vp)
    shown = grab_array(vp)
    assert shown.shape == blank.shape
    assert abs(shown.astype(int) - blank.astype(int)).mean() > 5

    # browser lists patient → study → series with image counts
    item = window.browser.item_for(ct.id)
    assert item is not None and f"{len(CT_FILES)} images" in item.text(0)


def test_broken_pixels_show_reason_and_app_keeps_working(qtbot, window, drop_folder):
    drop_paths(window, [drop_folder])
    wait_loaded(qtbot, window, n_series=2)
    mr = next(s for s in window.library.series() if s.modality == "MR")
    bad = [i for i, f in enumerate(mr.frames) if f.path.name == "broken_pixels.dcm"
           and f.index == 9]
    good = [i for i, f in enumerate(mr.frames) if f.path.name != "broken_pixels.dcm"]
    assert bad and good
    vp = window.grid.active
    window.grid.show_series(mr, index=bad[0])
    qtbot.waitUntil(lambda: window.loader.error_for(mr.frames[bad[0]]) is not None, timeout=15000)
    reason = window.loader.error_for(mr.frames[bad[0]])
    assert "cannot decode pixel data" in reason
    # the viewport says why, in place of the image
    vp.repaint()
    assert centre_has_red_text(grab_array(vp))
    # a good frame of the same series still shows
    vp.model.set_index(good[0])
    wait_shown(qtbot, vp)
    assert centre_nonblack(grab_array(vp))


def centre_has_red_text(arr) -> bool:
    r, g, b = (arr[..., i].astype(int) for i in range(3))
    return bool(((r > 150) & (g < 130) & (b < 130)).any())


def centre_nonblack(arr) -> bool:
    h, w = arr.shape[:2]
    return arr[h // 4: 3 * h // 4, w // 4: 3 * w // 4].mean() > 3


def test_drop_on_viewport_and_second_drop_adds_study(qtbot, window, ct_folder, mr_file):
    drop_paths(window.grid.active, [ct_folder])  # drop anywhere: here on the viewport
    wait_loaded(qtbot, window, 1)
    drop_paths(window, [mr_file])
    wait_loaded(qtbot, window, 2)
    mods = sorted(s.modality for s in window.library.series())
    assert mods == ["CT", "MR"]
    assert len(window.library.patients) == 2  # several studies open at once
    assert window.grid.active.model.series.modality == "MR"  # shows what was just dropped


def test_recent_items_are_remembered(qtbot, window, ct_folder, settings):
    window.open_paths([str(ct_folder)])
    wait_loaded(qtbot, window)
    assert settings.recent_items()[0] == str(ct_folder)
    window._fill_recent_menu()
    texts = [a.text() for a in window.recent_menu.actions()]
    assert any(str(ct_folder) in t for t in texts)


def test_only_junk_dropped_shows_notice_and_nothing_breaks(qtbot, window, tmp_path):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.txt").write_text("hello")
    (junk / "b.dcm").write_bytes(b"\x00" * 10)
    drop_paths(window, [junk])
    qtbot.waitUntil(lambda: not window.is_loading, timeout=10000)
    assert window.library.series() == []
    assert window.last_notice is not None and window.last_notice.isVisible()
    assert len(window.last_notice.skipped) == 2


def test_close_all_forgets_studies(qtbot, window, ct_folder):
    window.open_paths([str(ct_folder)])
    wait_loaded(qtbot, window)
    wait_shown(qtbot, window.grid.active)
    window.grid.active.model.add_annotation("length", [(10, 10), (10, 50)])
    window.close_all()
    assert window.library.series() == []
    assert window.grid.active.model.series is None
    assert len(window.grid.annotations) == 0


def test_internal_error_says_what_to_do_and_logs_the_traceback(qtbot, window, ct_folder,
                                                                monkeypatch, tmp_path):
    """Issue 10: the user saw "cannot import name 'Dataset' from partially initialized
    module 'pydicom.dataset'"; a bug must read as what to do, the details in the log."""
    import medview.core.io.folder as folder
    from medview.app import internal_errors

    monkeypatch.setenv("MEDVIEW_USER_DIR", str(tmp_path / "user"))
    log_path = internal_errors.install_log_file()
    handler = internal_errors.log.handlers[-1]
    try:
        def broken(*a, **k):
            raise ImportError("cannot import name 'Dataset' from partially initialized module")

        monkeypatch.setattr(folder, "load_paths", broken)
        window.open_paths([str(ct_folder)])
        qtbot.waitUntil(lambda: not window.is_loading, timeout=10000)
        text = window.last_notice.report_text()
        assert "internal problem" in text and "restart medview" in text and str(log_path) in text
        assert "ImportError" not in text and "partially initialized" not in text
        handler.flush()
        logged = log_path.read_text()
        assert "Traceback" in logged and "partially initialized" in logged
    finally:
        internal_errors.log.removeHandler(handler)
        handler.close()


def test_unexpected_reader_error_is_a_notice_not_a_crash(qtbot, window, ct_folder, monkeypatch):
    import medview.core.io.folder as folder

    def broken(*a, **k):
        raise PermissionError("access denied")

    monkeypatch.setattr(folder, "load_paths", broken)
    window.open_paths([str(ct_folder)])
    qtbot.waitUntil(lambda: not window.is_loading, timeout=10000)
    notice = window.last_notice
    assert notice is not None and not notice.isModal()
    assert "access denied" in notice.report_text()
