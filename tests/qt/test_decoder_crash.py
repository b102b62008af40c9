"""A file whose codec aborts the process costs one decoder worker, not the viewer (issue 11)."""

from __future__ import annotations

import shutil

from tests.helpers.datafiles import find
from tests.helpers.qt import wait_loaded, wait_shown


def test_viewer_survives_a_crashing_decoder_and_shows_the_good_files(qtbot, window, tmp_path):
    folder = tmp_path / "cd"
    folder.mkdir()
    # SC_rgb_jpeg_dcmtk.dcm with 52 bytes at 1754 zeroed: it passes the header checks,
    # and GDCM's JPEG codec aborts any process that decodes it
    data = find("SC_rgb_jpeg_dcmtk.dcm").read_bytes()
    bad = folder / "crash.dcm"
    bad.write_bytes(data[:1754] + bytes(52) + data[1754 + 52:])
    shutil.copy(find("MR_small_jpeg_ls_lossless.dcm"), folder / "mr_jls.dcm")
    shutil.copy(find("693_J2KR.dcm"), folder / "ct_j2k.dcm")
    window.open_paths([folder])
    wait_loaded(qtbot, window, n_series=3)
    by_file = {s.frames[0].path.name: s for s in window.library.series()}
    vp = window.grid.active

    window.grid.show_series(by_file["crash.dcm"], vp)
    frame = by_file["crash.dcm"].frames[0]
    qtbot.waitUntil(lambda: window.loader.error_for(frame) is not None, timeout=30000)
    assert window.loader.error_for(frame) == \
        "the JPEG baseline decoder crashed on this file's pixel data"
    vp.repaint()  # the error state paints
    window.grab().save(str(tmp_path.parent / "decoder_crash_window.png"))

    for name in ("mr_jls.dcm", "ct_j2k.dcm"):  # the same codecs still decode afterwards
        window.grid.show_series(by_file[name], vp)
        wait_shown(qtbot, vp, timeout=30000)
        assert vp.render_image() is not None
    window.grab().save(str(tmp_path.parent / "decoder_crash_then_good.png"))
