"""Issue 11, scope 4 (GUI side): folder loads stay useful.

Good files appear as soon as they are read, not after the slowest file; the notice of
skipped files names each one with its reason in plain words.
"""

from __future__ import annotations

import re
import shutil
import struct
import threading
from pathlib import Path

from tests.helpers.qt import CT_FILES, MR_MULTIFRAME, wait_loaded

RAW_EXCEPTION = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|\berror:|Traceback")


def test_good_files_show_before_the_slowest_file_is_read(qtbot, window, ct_folder,
                                                         monkeypatch):
    """One file of the folder takes long to read (a slow share; a damaged file that
    takes long to refuse): the others are shown meanwhile."""
    from medview.core.io import dicom
    from tests.helpers.datafiles import find

    shutil.copy(find(MR_MULTIFRAME), ct_folder / "zz_slow.dcm")  # read last (sorted)
    release = threading.Event()
    real = dicom.read_header

    def read_header(path, *args, **kwargs):
        if Path(path).name == "zz_slow.dcm":
            release.wait(60)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(dicom, "read_header", read_header)
    try:
        window.open_paths([str(ct_folder)])
        vp = window.grid.active
        qtbot.waitUntil(lambda: len(window.library.frames()) == 3 and vp.model.series is not None,
                        timeout=30000)
        assert window.is_loading  # the slow file is still being read ...
        assert {f.path.name for f in vp.model.series.frames} == set(CT_FILES)  # ... CT on screen
        qtbot.waitUntil(vp.model.is_current_decoded, timeout=30000)
    finally:
        release.set()
    wait_loaded(qtbot, window, n_series=2)
    assert len(window.library.frames()) == 3 + 10
    series = vp.model.series
    assert series is not None and series.frames[0].path.name in CT_FILES  # not yanked


def test_skipped_notice_names_each_file_with_a_plain_reason(qtbot, window, drop_folder,
                                                           monkeypatch):
    from medview.core.io import dicom

    real = dicom.read_header
    odd = drop_folder / "ct" / "odd_reader_fault.dcm"
    shutil.copy(drop_folder / "ct" / CT_FILES[0], odd)

    def read_header(path, *args, **kwargs):
        if Path(path) == odd:  # what pydicom raises on some short elements
            raise struct.error("unpack requires a buffer of 4 bytes")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(dicom, "read_header", read_header)
    window.open_paths([str(drop_folder)])
    qtbot.waitUntil(lambda: not window.is_loading, timeout=60000)
    notice = window.last_notice
    assert notice is not None and not notice.isModal()
    lines = dict(line.split("\t") for line in notice.report_text().splitlines()[1:])
    names = {Path(p).name: reason for p, reason in lines.items()}
    assert {"notes.txt", "report.pdf", "truncated_header.dcm", odd.name} <= set(names)
    for name, reason in names.items():
        assert reason and not RAW_EXCEPTION.search(reason), f"{name}: {reason}"
    assert "unpack requires a buffer of 4 bytes" in names[odd.name]
