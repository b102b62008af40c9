"""Helpers for the GUI tests: waiting for loads/decodes, grabbing rendered pixels."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# Files of pydicom-data the tests drop on the window:
CT_FILES = ("693_UNCI.dcm", "693_UNCR.dcm", "693_J2KR.dcm")  # one CT series, 3 × 512², 0.478516 mm
MR_MULTIFRAME = "emri_small.dcm"                              # 60 frames of 64², uncalibrated
CT_SPACING_MM = 0.478516

# ----------------------------------------------------------------- helpers


def write_broken_last_frames(src, dst) -> None:
    """``src`` re-encoded as RLE with the RLE data of its last 40 % of frames cut short.

    The header and the item structure are intact, so the file passes the
    header-time checks (a truncated file no longer does) and its first frames
    show; the last frames fail when decoded.
    """
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(src)
    n = int(ds.get("NumberOfFrames", 1) or 1)
    ds.compress(pydicom.uid.RLELossless)
    frames = list(generate_frames(ds.PixelData, number_of_frames=n))
    for i in range(n * 6 // 10, n):
        frames[i] = frames[i][:64] + b"\x80" * 4  # RLE header, then almost no data
    ds.PixelData = encapsulate(frames)
    ds.save_as(dst)


def wait_loaded(qtbot, win, n_series: int = 1, timeout: int = 15000) -> None:
    qtbot.waitUntil(lambda: not win.is_loading and len(win.library.series()) >= n_series,
                    timeout=timeout)


def wait_shown(qtbot, vp, timeout: int = 15000) -> None:
    """Until the viewport's current frame is decoded and rendered."""
    qtbot.waitUntil(lambda: vp.model.is_current_decoded(), timeout=timeout)
    vp.repaint()


def show_series(qtbot, win, predicate, vp=None):
    series = next(s for s in win.library.series() if predicate(s))
    win.grid.show_series(series, vp)
    vp = vp or win.grid.active
    wait_shown(qtbot, vp)
    return series


def grab_array(widget) -> np.ndarray:
    """What ``widget`` paints, as an (H, W, 3) uint8 array (device pixels)."""
    from PySide6.QtGui import QImage

    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    arr = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return arr[:, : 3 * w].reshape(h, w, 3).copy()


def centre_mean(arr: np.ndarray, frac: float = 0.25) -> float:
    h, w = arr.shape[:2]
    dh, dw = int(h * frac), int(w * frac)
    return float(arr[h // 2 - dh: h // 2 + dh, w // 2 - dw: w // 2 + dw].mean())


def send_drop(target, mime, pos=None):
    """A real drag-enter then drop of ``mime`` on ``target``; returns the drop event.

    Qt delivers a drop only to the widget that accepted the drag-enter, as in
    a real drag, so both are sent.
    """
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    pos = pos or QPointF(target.width() / 2, target.height() / 2)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():  # PySide marks the QPoint overload, Qt's only one, deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos.toPoint(), *args)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted(), f"{type(target).__name__} refused the drag"
    drop = QDropEvent(pos, *args)
    QApplication.sendEvent(target, drop)
    return drop


def url_mime(paths):
    from PySide6.QtCore import QMimeData, QUrl

    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return md


def make_ct_series(folder, n: int, source) -> list:
    """``n`` copies of a real CT file as one series: new SOP UIDs, positions 1 mm apart."""
    import pydicom
    from pydicom.uid import generate_uid

    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(source)
    series_uid = generate_uid()
    paths = []
    for i in range(n):
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0.0, 0.0, -float(i)]
        ds.SliceLocation = -float(i)
        path = folder / f"IM{i:04d}.dcm"
        ds.save_as(path)
        paths.append(path)
    return paths


@contextmanager
def main_window(qtbot, settings, size: tuple[int, int] = (1200, 800)) -> Iterator[object]:
    """A shown, exposed :class:`~medview.qt.main_window.MainWindow`; on exit it is closed
    and its background work (AI analyses, frame loads, decodes) waited for."""
    from medview.qt.main_window import MainWindow

    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    try:
        yield win
    finally:
        win.close()
        win.analysis.service.pool.waitForDone(10000)
        win.loader.cancel_all()
        win.loader.wait(5000)
        win.workers.pool.waitForDone(5000)


def soft_edge_on(img) -> float:
    """Pixels of partial coverage per fully covered pixel in an opaque ``QImage``: how far
    each pixel is from the background colour (the corner's) stands for its coverage."""
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB32)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    arr = arr[:, : 4 * img.width()].reshape(img.height(), img.width(), 4)[..., :3].astype(int)
    d = np.abs(arr - arr[0, 0]).max(axis=2)
    top = d.max()
    return float(((d > 0.1 * top) & (d < 0.9 * top)).sum() / max(1, (d >= 0.9 * top).sum()))
