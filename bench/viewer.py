"""Viewer benchmarks, printed in one run against their targets and named peers.

    python bench/viewer.py [--slices 300] [--repeat 3]

1. Start-up: launch to a shown, painted main window, in a fresh interpreter,
   against ``import torch`` alone in a fresh interpreter (target ratio <= 0.33).
2. W/L re-render of the viewport for a 512² and a 2048² image (targets 2 ms /
   20 ms): the 8-bit buffer alone (core ``FrameRenderer`` into the viewport's
   buffer) and the whole repaint as during a right-drag.
3. Time to first image vs time to full decode of a 300-slice CT series (target:
   the first image before 10 % of the series has decoded).
4. Scroll frames per second through the decoded series.
5. DICOM Tags panel on an enhanced multi-frame header of 16,001 elements: time to
   build the tree and to filter it (target <= 3 s each; the unit test checks only
   that it builds and filters right).
6. MPR re-slice of a 512×512×300 int16 CT volume (0.7 mm pixels, 1 mm slices):
   coronal, sagittal, oblique (coronal turned 30° about z and 15° about x) and a
   10 mm MIP slab, each alone and with the 8-bit render, against a plain numpy
   trilinear reslice of the same plane (target <= 30 ms per plane update).
   ``--mpr-only`` runs this section alone (no Qt).

Runs offscreen unless a display is set (``xvfb-run python bench/viewer.py``
gives a real X server). Uses no network; the series is written to a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_STARTUP_CHILD = r"""
import sys, time
t0 = time.perf_counter()
from medview.qt.app import create_app, create_window
from medview.qt.settings import Settings
app = create_app()
win = create_window([], settings=Settings(sys.argv[1]))   # shows it; samples open after

def painted():
    heavy = [m for m in ("torch", "pydicom", "cv2") if m in sys.modules]
    print("SHOWN", time.perf_counter() - t0, ",".join(heavy) or "-", flush=True)
    app.quit()

win.after_first_paint(painted, fallback_ms=30000)  # runs right after the first paint
app.exec()
"""

_TORCH_CHILD = r"""
import time
t0 = time.perf_counter()
import torch
print("TORCH", time.perf_counter() - t0, flush=True)
"""


def _wall(args: list[str], marker: str, env: dict) -> tuple[float, str] | None:
    """Wall time from launching the interpreter to the child's marker line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)
    line = ""
    for line in proc.stdout:
        if line.startswith(marker):
            break
    elapsed = time.perf_counter() - t0
    proc.communicate(timeout=120)
    if not line.startswith(marker):
        return None
    return elapsed, line.strip()


def bench_startup(repeat: int) -> None:
    print("\n== 1. Start-up to a shown window vs `import torch` (fresh interpreters)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        ini = str(Path(tmp) / "bench.ini")
        shown = []
        for _ in range(repeat):
            r = _wall([sys.executable, "-c", _STARTUP_CHILD, ini], "SHOWN", env)
            if r is None:
                print("   start-up child failed")
                return
            shown.append(r[0])
            heavy = r[1].split()[-1]
        torch_times = []
        for _ in range(repeat):
            r = _wall([sys.executable, "-c", _TORCH_CHILD], "TORCH", env)
            if r is None:
                break
            torch_times.append(r[0])
    s = statistics.median(shown)
    print(f"   medview window shown & painted: {s * 1000:7.0f} ms (median of {repeat}; "
          f"heavy modules loaded by then: {heavy})")
    if not torch_times:
        print("   import torch: FAILED (torch not installed?) -- ratio skipped")
        return
    t = statistics.median(torch_times)
    ratio = s / t
    print(f"   python -c 'import torch':       {t * 1000:7.0f} ms (median of {len(torch_times)})")
    print(f"   ratio start-up / torch import:  {ratio:7.2f}   target <= 0.33   "
          f"{'OK' if ratio <= 0.33 else 'MISSED'}")


# ----------------------------------------------------------------------------- W/L


def _write_image(path: Path, size: int, ct: bool) -> Path:
    """A smooth synthetic greyscale DICOM image (CT in HU, or a 12-bit radiograph)."""
    import numpy as np
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(size)
    y, x = np.mgrid[0:size, 0:size] / size
    body = ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.16).astype(float)
    img = body * (1000 + 300 * np.sin(12 * x) * np.cos(9 * y)) + rng.normal(0, 20, (size, size))
    stored = np.clip(img, 0, 4095).astype(np.uint16)
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2" if ct else "1.2.840.10008.5.1.4.1.1.1.1"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "CT" if ct else "DX"
    ds.PatientName, ds.PatientID = "BENCH^WL", "BENCH"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing = [0.5, 0.5] if ct else [0.15, 0.15]
    if ct:
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.WindowCenter, ds.WindowWidth = (40, 400) if ct else (1000, 2000)
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _expose(widget) -> None:
    """Show ``widget`` and wait until its window is exposed, so repaint() paints."""
    from PySide6.QtWidgets import QApplication

    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline:
        QApplication.processEvents()
        handle = widget.windowHandle()
        if handle is not None and handle.isExposed():
            return
        time.sleep(0.01)


def bench_window_level(tmp: Path, repeat: int) -> None:
    from medview.core import pixels
    from medview.core.io.folder import load_paths
    from medview.qt.viewer.viewport import Viewport
    from medview.qt.workers import FrameLoader
    from medview.view.model import ViewModel

    print("\n== 2. Window/level re-render of the viewport (1000×800 logical px)")
    loader = FrameLoader()
    for size, target in ((512, 2.0), (2048, 20.0)):
        path = _write_image(tmp / f"wl{size}.dcm", size, ct=size == 512)
        series = load_paths([path]).series()[0]
        vp = Viewport(loader, ViewModel())
        vp.resize(1000, 800)
        vp.show()
        _expose(vp)
        vp.model.set_series(series)
        series.frames[0].stored()
        vp.repaint()
        base = vp.model.current_window()
        count = vp.render_count
        n = 60
        buf_ms, paint_ms = [], []
        vp._interacting = True  # as during a right-drag: fast path, smooth pass after release
        step = vp._proxy_step()
        if step > 1:
            zoom = vp.model.zoom_percent() * 100
            print(f"   {size}² shown at {zoom:.0f} %: while dragging 1 pixel "
                  f"in {step}×{step} is rendered (the screen shows no more); full quality on release")
        for i in range(n):
            w = pixels.Window(base.center + (i % 20) * 3, base.width + (i % 7) * 5)
            t0 = time.perf_counter()
            vp.model.set_window(w)
            vp.render_image()          # the buffer
            t1 = time.perf_counter()
            vp.model.set_window(pixels.Window(w.center + 1, w.width))
            vp.repaint()               # buffer + paint, what one drag step costs
            t2 = time.perf_counter()
            buf_ms.append((t1 - t0) * 1000)
            paint_ms.append((t2 - t1) * 1000)
        vp._interacting = False
        t0 = time.perf_counter()
        for _ in range(10):
            vp.model.set_window(pixels.Window(base.center, base.width + 1))
            vp.repaint()
            vp.model.set_window(base)
            vp.repaint()
        smooth = (time.perf_counter() - t0) * 1000 / 20
        assert vp.render_count >= count + 2 * n + 20, "repaint() did not paint"
        b, p = statistics.median(buf_ms), statistics.median(paint_ms)
        print(f"   {size}²: full-resolution 8-bit buffer {b:6.2f} ms; whole repaint per drag step "
              f"{p:6.2f} ms (target {target:g} ms: {'OK' if p <= target else 'MISSED'}); "
              f"smooth repaint after release {smooth:6.2f} ms")
        vp.close()
        vp.deleteLater()


# ----------------------------------------------------------------------------- series


def _write_series(folder: Path, n: int) -> Path:
    """``n`` 512² CT slices: copies of a real CT file (pydicom-data) with new UIDs and
    positions, else synthetic ones."""
    import pydicom
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    source = None
    try:
        import data_store  # pydicom-data

        candidate = Path(data_store.__file__).parent / "data" / "693_UNCI.dcm"
        source = candidate if candidate.is_file() else None
    except ImportError:
        pass
    if source is None:
        source = _write_image(folder.parent / "seed.dcm", 512, ct=True)
    ds = pydicom.dcmread(source)
    uid = generate_uid()
    for i in range(n):
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = uid
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0.0, 0.0, -float(i)]
        ds.SliceLocation = -float(i)
        ds.save_as(folder / f"IM{i:04d}.dcm")
    return folder


def bench_series(tmp: Path, n: int) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from medview.core.io.folder import load_paths
    from medview.qt.viewer.viewport import Viewport
    from medview.qt.workers import FrameLoader
    from medview.view.model import ViewModel

    app = QApplication.instance()
    print(f"\n== 3. First image vs full decode of a {n}-slice 512² CT series")
    folder = _write_series(tmp / f"ct{n}", n)
    t0 = time.perf_counter()
    series = load_paths([folder]).series()[0]
    t_headers = time.perf_counter() - t0
    assert len(series.frames) == n, len(series.frames)
    loader = FrameLoader()
    decoded_at = {}

    def on_decoded(key):  # runs in the decoding thread: exact counts
        decoded_at[key] = time.perf_counter()

    loader.decoded.connect(on_decoded, Qt.ConnectionType.DirectConnection)
    vp = Viewport(loader, ViewModel())
    vp.resize(1000, 800)
    vp.show()
    _expose(vp)
    first_key = series.frames[0].key
    t0 = time.perf_counter()
    vp.model.set_series(series)
    first_painted = None
    while len(decoded_at) < n and time.perf_counter() - t0 < 300:
        app.processEvents()
        if first_painted is None and vp.model.is_current_decoded():
            vp.repaint()
            first_painted = time.perf_counter()
        time.sleep(0.0005)
    t_full = time.perf_counter()
    t_first_decoded = decoded_at[first_key]
    done_before_first = sum(t < t_first_decoded for t in decoded_at.values())
    frac = (done_before_first + 1) / n
    print(f"   headers of {n} files read in {t_headers * 1000:.0f} ms "
          f"({loader.pool.maxThreadCount()} decode threads)")
    print(f"   first image decoded {(t_first_decoded - t0) * 1000:7.1f} ms, on screen "
          f"{(first_painted - t0) * 1000:7.1f} ms; full series decoded {(t_full - t0) * 1000:7.0f} ms")
    print(f"   slices decoded when the first image was ready: {done_before_first + 1}/{n} "
          f"= {frac * 100:.1f} %   target < 10 %   {'OK' if frac < 0.10 else 'MISSED'}")

    print("\n== 4. Scrolling through the decoded series (one repaint per step)")
    for label, interacting in (("while scrolling (fast path)", True),
                               ("smooth (idle quality)", False)):
        vp.model.set_index(0)
        vp._interacting = interacting
        count = vp.render_count
        t0 = time.perf_counter()
        for i in range(1, n):
            vp.model.set_index(i)
            vp.repaint()
        fps = (n - 1) / (time.perf_counter() - t0)
        assert vp.render_count - count == n - 1, "repaint() did not paint every step"
        print(f"   {label:30s} {fps:7.0f} frames/s")
    vp._interacting = False
    vp.close()
    loader.wait(2000)


def bench_tag_browser(frames: int = 2000) -> None:
    """Section 5: build and filter the Tags panel for ``frames`` × 8 per-frame elements."""
    from PySide6.QtWidgets import QApplication
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    from medview.qt.widgets.tag_browser import TagBrowser

    items = []
    for i in range(frames):  # as tests/qt/widgets/test_tag_browser.py builds it
        pos, content, voi, frame = Dataset(), Dataset(), Dataset(), Dataset()
        pos.ImagePositionPatient = [0, 0, i * 0.5]
        content.InStackPositionNumber, content.StackID = i + 1, "1"
        voi.WindowCenter, voi.WindowWidth = 40, 400
        frame.PlanePositionSequence = Sequence([pos])
        frame.FrameContentSequence = Sequence([content])
        frame.FrameVOILUTSequence = Sequence([voi])
        items.append(frame)
    ds = Dataset()
    ds.PerFrameFunctionalGroupsSequence = Sequence(items)
    browser = TagBrowser()
    browser.resize(600, 800)
    browser.show()
    t0 = time.perf_counter()
    browser.set_dataset(ds)
    QApplication.processEvents()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    browser.model.set_filter(["instackpositionnumber"])
    QApplication.processEvents()
    filt = time.perf_counter() - t0
    print(f"\n== 5. DICOM Tags panel, {browser.element_count:,} elements")
    for name, sec in (("build the tree", build), ("filter it", filt)):
        print(f"   {name:15s} {sec * 1000:7.0f} ms   target <= 3000 ms   ratio {sec / 3.0:.2f}")
    browser.close()


# ----------------------------------------------------------------------------- MPR


def _mpr_volume(slices: int):
    """A 512×512×``slices`` int16 CT-like volume (body ellipsoid, bright vessels, noise),
    0.7 mm pixels and 1 mm slices, built in memory."""
    import numpy as np

    from medview.core import pixels
    from medview.core.volume import Volume

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:512, 0:512] / 512.0 - 0.5
    data = np.empty((slices, 512, 512), np.int16)
    for k in range(slices):
        z = k / max(slices - 1, 1) - 0.5
        body = (x / 0.42) ** 2 + (y / 0.32) ** 2 + (z / 0.7) ** 2 < 1
        vessel = (x - 0.1 * np.sin(6 * z)) ** 2 + (y + 0.05) ** 2 < 0.0008
        data[k] = 24 + body * 1040 + vessel * 300  # stored = HU + 1024: air, soft tissue, contrast
    data += rng.integers(-20, 21, data.shape, dtype=np.int16)
    params = pixels.DisplayParams("MONOCHROME2", 1, 16, True, 1.0, -1024.0, units="HU",
                                  windows=(pixels.Window(40, 400),))
    axes = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    return Volume(data, params, (-179.0, -179.0, -150.0), axes, (1.0, 0.7, 0.7), (), "CT")


def _numpy_reslice(vol, plane):
    """The peer: plain numpy trilinear sampling of every pixel of ``plane`` (8 gathers a
    pixel), thick slabs as the maximum of parallel planes one finest spacing apart.
    Returns the pixels and where the plane is a voxel or more inside the block."""
    import numpy as np

    step = float(min(vol.spacing))
    reach = int(plane.slab_mm / 2 / step + 1e-6)
    rows, cols = np.mgrid[0:plane.pixels.shape[0], 0:plane.pixels.shape[1]]
    s, p = plane.spacing_mm, plane.plane
    points = (p.origin + cols[..., None] * s * p.row_cosine
              + rows[..., None] * s * p.col_cosine).astype(np.float32)
    flat, (_, n_i, n_j) = vol.data.reshape(-1), vol.shape
    best = None
    last = np.array(vol.shape) - 1
    for n in range(-reach, reach + 1):
        kij = vol.patient_to_voxel(points + n * step * plane.normal).astype(np.float32)
        inside = np.all((kij >= 0) & (kij <= last), axis=-1)
        if n == 0:
            interior = np.all((kij >= 1) & (kij <= last - 1), axis=-1)
        kij = np.clip(kij, 0, np.array(vol.shape) - 1.001)
        lower = kij.astype(np.intp)
        w = kij - lower
        base = (lower[..., 0] * n_i + lower[..., 1]) * n_j + lower[..., 2]
        value = 0.0
        for dk, di, dj in np.ndindex(2, 2, 2):
            weight = ((w[..., 0] if dk else 1 - w[..., 0]) * (w[..., 1] if di else 1 - w[..., 1])
                      * (w[..., 2] if dj else 1 - w[..., 2]))
            value = value + weight * flat.take(base + (dk * n_i + di) * n_j + dj)
        layer = np.where(inside, value, vol.fill)
        best = layer if best is None else np.maximum(best, layer)
    return np.rint(best).astype(vol.data.dtype), interior


def bench_mpr(slices: int, repeat: int) -> None:
    import numpy as np

    from medview.core import mpr

    print(f"\n== 6. MPR re-slice of a 512×512×{slices} int16 volume "
          f"(0.7 mm pixels, 1 mm slices; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs)")
    t0 = time.perf_counter()
    vol = _mpr_volume(slices)
    print(f"   volume built in memory in {(time.perf_counter() - t0) * 1000:.0f} ms "
          f"({vol.data.nbytes / 2**20:.0f} MiB)")
    oblique = mpr.rotation_about((1, 0, 0), 15) @ mpr.rotation_about((0, 0, 1), 30)
    cases = (("coronal", dict(kind="coronal")),
             ("sagittal", dict(kind="sagittal")),
             ("oblique (30° z, 15° x)", dict(kind="coronal", rotation=oblique)),
             ("coronal MIP slab 10 mm", dict(kind="coronal", slab_mm=10.0, mode="mip")))
    n = max(repeat, 5)
    for label, case in cases:
        centre = vol.position_of(case["kind"], vol.centre, case.get("rotation"))
        steps = [centre + d for d in np.linspace(-20, 20, n)]  # a scroll: new plane each time
        slice_ms, update_ms = [], []
        for position in steps:
            t0 = time.perf_counter()
            plane = vol.plane(position_mm=position, **case)
            t1 = time.perf_counter()
            plane.renderer().render()
            t2 = time.perf_counter()
            slice_ms.append((t1 - t0) * 1000)
            update_ms.append((t2 - t0) * 1000)
        peer_ms = []
        for position in steps[:3]:
            plane = vol.plane(position_mm=position, **case)
            t0 = time.perf_counter()
            reference, interior = _numpy_reslice(vol, plane)
            peer_ms.append((time.perf_counter() - t0) * 1000)
        # a voxel inside the block (at its faces the two treat the outside differently)
        diff = np.abs(reference.astype(np.int32) - plane.pixels)[interior]
        typical = np.percentile(diff, 99.9)
        s, u, p = (statistics.median(v) for v in (slice_ms, update_ms, peer_ms))
        print(f"   {label:24s} {plane.pixels.shape[1]:4d}×{plane.pixels.shape[0]:<4d} re-slice "
              f"{s:6.1f} ms (best {min(slice_ms):5.1f}), + 8-bit render {u:6.1f} ms "
              f"(target 30 ms: {'OK' if u <= 30 else 'MISSED'}); numpy trilinear {p:7.1f} ms; "
              f"ratio {s / p:5.2f}; 99.9 % of pixels within {typical:.0f}, all within {diff.max()} "
              "stored units")


def screenshot(path: Path) -> None:
    """The README screenshot: the bundled samples, 1×2, with measurements (made by the app)."""
    from PySide6.QtWidgets import QApplication

    from medview.qt.app import create_app, sample_paths
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings

    app = create_app()
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(Settings(Path(tmp) / "shot.ini"))
        win.resize(1440, 900)
        win.show()
        win.open_paths(sample_paths(), remember=False)
        deadline = time.time() + 60
        while (win.is_loading or len(win.library.series()) < 2) and time.time() < deadline:
            app.processEvents()
            time.sleep(0.01)
        ct = next(s for s in win.library.series() if s.modality == "CT")
        dx = next(s for s in win.library.series() if s.modality != "CT")
        win.viewer_actions.layouts["1x2"].trigger()
        left, right = win.grid.viewports
        win.grid.show_series(dx, right)
        win.grid.show_series(ct, left, index=20)
        while time.time() < deadline and not (left.model.is_current_decoded()
                                              and right.model.is_current_decoded()):
            app.processEvents()
            time.sleep(0.01)
        left.repaint()
        left.model.add_annotation("length", [(106, 104), (106, 174)])      # heart, left-right
        left.model.add_annotation("ellipse", [(92, 124), (120, 154)])      # blood pool, HU stats
        right.model.add_annotation("length", [(625, 392), (625, 717)])       # heart width ...
        right.model.add_annotation("length", [(700, 112), (700, 926)])       # ... and thorax: CTR
        win.browser.select_series(ct.id)
        t = time.time()
        while time.time() - t < 20:  # thumbnails, series decoded, first smooth paint
            app.processEvents()
            time.sleep(0.01)
            if (win.loader.progress_of(ct) == (len(ct.frames), len(ct.frames))
                    and all(win.browser.has_thumbnail(s.id) for s in (ct, dx))
                    and time.time() - t > 0.5):
                break
        pos = left.rc_to_widget((150, 128))  # a pixel readout under the "cursor"
        left._update_readout(pos)
        QApplication.processEvents()
        path.parent.mkdir(parents=True, exist_ok=True)
        win.grab().save(str(path), "PNG")
        win.close()
    print(f"screenshot written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mpr-only", action="store_true", help="run only section 6 (MPR)")
    ap.add_argument("--screenshot", type=Path, metavar="PNG",
                    help="only write the README screenshot (samples + measurements) to PNG")
    args = ap.parse_args()
    if args.screenshot:
        screenshot(args.screenshot)
        return
    import platform

    print(f"medview viewer bench — {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"QPA {os.environ.get('QT_QPA_PLATFORM', 'default')}")
    if args.mpr_only:
        bench_mpr(args.slices, args.repeat)
        return
    bench_startup(args.repeat)
    from medview.qt.app import create_app

    create_app()
    with tempfile.TemporaryDirectory() as tmp:
        bench_window_level(Path(tmp), args.repeat)
        bench_series(Path(tmp), args.slices)
    bench_tag_browser()
    bench_mpr(args.slices, args.repeat)
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
