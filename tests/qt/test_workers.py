"""Decoding off the GUI thread: priorities, progress, errors; generic workers."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt

from medview.qt.workers import P_CURRENT, FrameLoader, Workers
from tests.helpers.datafiles import PYDICOM_DATA_DIR
from tests.helpers.qt import make_ct_series, wait_loaded, wait_shown, write_broken_last_frames


@pytest.fixture
def ct_series(tmp_path):
    if PYDICOM_DATA_DIR is None:
        pytest.skip("pydicom-data is not installed")
    from medview.core.io.folder import load_paths
    from medview.core.pixel_cache import PixelCache

    make_ct_series(tmp_path / "ct40", 40, PYDICOM_DATA_DIR / "693_UNCI.dcm")
    lib = load_paths([tmp_path / "ct40"])
    series = lib.series()[0]
    cache = PixelCache()  # a private cache: nothing decoded by other tests
    for f in series.frames:
        f.cache = cache
    return series


def test_current_slice_jumps_the_prefetch_queue(qtbot, ct_series):
    loader = FrameLoader(threads=1)
    order = []
    loader.decoded.connect(order.append)
    # Hold the only pool thread until everything is queued, so that the order in which jobs
    # leave the queue depends on their priorities alone, not on how fast this thread runs.
    gate = threading.Event()
    loader.pool.start(gate.wait)
    loader.prefetch(ct_series)               # 40 frames queued in slice order
    loader.request(ct_series.frames[35], P_CURRENT)  # the user scrolls to slice 35
    gate.set()
    qtbot.waitUntil(lambda: len(order) == 40, timeout=20000)
    keys = [f.key for f in ct_series.frames]
    assert order[0] == keys[35]
    assert order[1:] == [k for k in keys if k != keys[35]]  # then the prefetch, in slice order
    assert loader.progress_of(ct_series) == (40, 40)
    loader.wait(2000)


def test_first_image_shows_before_the_series_is_decoded(qtbot, window, ct_series):
    vp = window.grid.active
    first_shown_with_pending = []

    def on_decoded(key):
        if key == ct_series.frames[0].key:
            first_shown_with_pending.append(sum(not f.is_decoded for f in ct_series.frames))

    # direct: counted in the decoding thread at the moment frame 0 is ready
    window.loader.decoded.connect(on_decoded, Qt.ConnectionType.DirectConnection)
    vp.model.set_series(ct_series)
    wait_shown(qtbot, vp)
    qtbot.waitUntil(lambda: bool(first_shown_with_pending), timeout=5000)
    assert first_shown_with_pending and first_shown_with_pending[0] >= 30
    progress = []
    window.loader.series_progress.connect(lambda sid, d, t: progress.append((d, t)))
    qtbot.waitUntil(lambda: window.loader.progress_of(ct_series) == (40, 40), timeout=20000)


def test_scroll_to_undecoded_slice_shows_decoding_then_image(qtbot, window, ct_series):
    vp = window.grid.active
    window.loader.pool.setMaxThreadCount(1)
    vp.model.set_series(ct_series)
    vp.model.set_index(39)  # far from anything decoded yet
    qtbot.waitUntil(lambda: vp.model.is_current_decoded(), timeout=20000)
    vp.repaint()
    assert vp.render_image() is not None


def test_failed_frame_reports_reason(qtbot, tmp_path):
    from medview.core.io.folder import load_paths

    bad = tmp_path / "cut.dcm"
    write_broken_last_frames(PYDICOM_DATA_DIR / "emri_small.dcm", bad)
    frame = load_paths([bad]).series()[0].frames[-1]
    loader = FrameLoader(threads=1)
    failures = []
    loader.failed.connect(lambda key, reason: failures.append(reason))
    loader.request(frame)
    qtbot.waitUntil(lambda: bool(failures), timeout=10000)
    assert "cannot decode pixel data" in failures[0]
    assert loader.error_for(frame) == failures[0]
    assert loader.request(frame) is False and loader.pending == 0  # not retried


def test_generator_worker_progress_cancel_and_error(qtbot):
    workers = Workers()
    progress, results, errors = [], [], []

    def count(n):
        yield from range(n)
        return "done"

    finished = []
    workers.start(count, 5, on_progress=progress.append, on_return=results.append,
                  on_finished=lambda: finished.append(1))
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=5000)
    assert progress == [0, 1, 2, 3, 4] and results == ["done"]

    def endless():
        while True:
            time.sleep(0.005)
            yield 1

    w = workers.start(endless, on_finished=lambda: finished.append(2))
    qtbot.wait(30)
    w.cancel()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=5000)

    def boom():
        raise ValueError("bad input")

    workers.start(boom, on_error=errors.append, on_finished=lambda: finished.append(3))
    qtbot.waitUntil(lambda: len(finished) == 3, timeout=5000)
    assert isinstance(errors[0], ValueError)
    qtbot.waitUntil(lambda: not workers.busy, timeout=2000)


def test_browser_gets_thumbnails_and_progress(qtbot, window, tmp_path):
    make_ct_series(tmp_path / "ct8", 8, PYDICOM_DATA_DIR / "693_UNCI.dcm")
    window.open_paths([str(tmp_path / "ct8")])
    wait_loaded(qtbot, window)
    series = window.library.series()[0]
    # the timeouts only catch a hang: decoding 8 CT slices took 0.7 s alone and over 10 s
    # once in a loaded CI run
    qtbot.waitUntil(lambda: window.browser.has_thumbnail(series.id), timeout=60000)
    from medview.qt.browser.series_browser import PROGRESS_ROLE

    # the tree may be rebuilt meanwhile (set_library keeps progress and thumbnails, not the
    # items): ask for the series' item each time, never hold on to one
    qtbot.waitUntil(lambda: window.browser.item_for(series.id).data(0, PROGRESS_ROLE) == (8, 8), timeout=60000)
    assert not window.browser.item_for(series.id).icon(0).isNull()


def test_a_decode_finishing_after_the_window_closed_is_dropped_quietly(qtbot):
    """A pool thread still decoding while the app quits must not print a traceback."""
    import shiboken6
    from PySide6.QtCore import QObject, Signal

    from medview.qt.workers import _emit

    class Signals(QObject):
        decoded = Signal(object)

    signals = Signals()
    bound = signals.decoded
    shiboken6.delete(signals)
    with pytest.raises(RuntimeError):
        bound.emit("key")  # what killed the pool thread's run()
    _emit(bound, "key")  # dropped
