"""Helpers of the AI panel tests: open files, run an analysis, read rendered pixels."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tests.helpers.qt import grab_array, wait_loaded, wait_shown  # noqa: F401


def damaged_rle(folder: Path) -> Path:
    """A real file that opens but cannot be decoded: pydicom's CT_small.dcm as RLE Lossless
    whose one fragment has a corrupt RLE header (the header and fragments read fine)."""
    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.uid import RLELossless

    from tests.helpers.datafiles import find

    ds = pydicom.dcmread(find("CT_small.dcm"))
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.PixelData = encapsulate([b"\x05\x00\x00\x00" + b"\x00" * 60 + b"\x01\x02" * 200])
    ds["PixelData"].VR = "OB"
    ds.SeriesInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["medview-damaged-rle"])
    path = folder / "damaged_rle.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def open_and_show(qtbot, win, paths, n_series: int = 1):
    win.open_paths([str(p) for p in paths])
    wait_loaded(qtbot, win, n_series)
    vp = win.grid.active
    wait_shown(qtbot, vp)
    return vp


def select_model(panel, name: str) -> None:
    if not panel.picker.select(name):
        panel.refresh_models()  # installed after the window was made (the watcher is slower)
    assert panel.picker.select(name), f"{name} not in the model list"


def wait_idle(qtbot, panel, timeout: int = 60000) -> None:
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=timeout)


def analyze(qtbot, panel, timeout: int = 60000):
    """Click Analyse and wait until the result is delivered; returns the request."""
    from PySide6.QtCore import Qt

    done = []
    panel.service.finished.connect(lambda r, a: done.append((r, a)))
    qtbot.mouseClick(panel.analyze_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(done) or panel.state == "idle", timeout=timeout)
    assert done, f"no result; status: {panel.status_label.full_text()}"
    return done[-1]


def image_point(vp, rc) -> tuple[int, int]:
    """Device pixel (x, y) in the viewport grab of image pixel ``rc`` = (row, col)."""
    p = vp.rc_to_widget(rc)
    dpr = vp.devicePixelRatioF()
    return int(round(p.x() * dpr)), int(round(p.y() * dpr))


def magenta_score(arr: np.ndarray) -> np.ndarray:
    """How much a pixel leans to the mask colour (#ff4fd8: red and blue over green)."""
    a = arr.astype(np.int32)
    return (a[..., 0] + a[..., 2]) // 2 - a[..., 1]


class EventLoopProbe:
    """A QTimer ticking every ``interval_ms``; ``max_gap_ms`` is the longest time between
    two ticks: how long the GUI thread was unable to run a slot."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.ticks.append(time.perf_counter())

    @property
    def max_gap_ms(self) -> float:
        t = np.asarray(self.ticks)
        return float(np.diff(t).max() * 1000.0) if len(t) > 1 else 0.0
