"""Re-windowing speed: medview's FrameRenderer against pydicom's reference functions.

Run: .venv/bin/python bench/pixels.py [--decode-only]

For each real frame (a 512x512 CT and a ~2k x 2k CR radiograph from pydicom-data)
it times one re-window -- a new window every iteration, median over N after a
warm-up -- for:

* medview: ``FrameRenderer.render(window)`` (the renderer is built once per
  frame, as the viewer does; its one-off setup time is printed separately);
* pydicom: ``apply_voi_lut`` on the cached ``apply_modality_lut`` output, scaled
  from pydicom's output range to uint8 and inverted for MONOCHROME1 -- the same
  8-bit picture (checked: max difference printed, must be <= 1). A second pydicom
  figure re-runs ``apply_modality_lut`` every time as well.

Then decoding: for a compressed 512x512 CT and a ~2k x 2k JPEG 2000 radiograph it
times one frame decoded through the decoder-process pool (``decode_frame``, the
app's path: worker process, shared-memory return) beside the same decode in this
process (``decode_frame_in_process``), in rounds of back-to-back decodes each way
(as the viewer decodes a series) once the pool's worker is warm: best and median
round, and CPU time (app + worker, Linux). Target: the pool's best round is at
most 15 % above in-process.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from copy import deepcopy
from pathlib import Path

import numpy as np
from pydicom.pixels import apply_modality_lut, apply_voi_lut

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medview.core.io.dicom import (decode_frame, decode_frame_in_process,  # noqa: E402
                                   read_header)
from medview.core.pixels import FrameRenderer, Window, display_params  # noqa: E402
from tests.helpers.datafiles import find  # noqa: E402

# (label, file, iterations, target ms per re-window)
CASES = (
    ("CT 512x512 (693_UNCR.dcm, int16, rescaled)", "693_UNCR.dcm", 300, 2.0),
    ("CR radiograph (RG1_UNCR.dcm, MONOCHROME1)", "RG1_UNCR.dcm", 40, 20.0),
)
WARMUP = 5

# (label, file, iterations, overhead target or None) for decoding through the pool vs
# in process; the small MR shows the fixed per-frame cost (pipe round trip), untargeted
DECODE_CASES = (
    ("CT 512x512 JPEG 2000 lossless (693_J2KR.dcm)", "693_J2KR.dcm", 50, 0.15),
    ("CR 1955x1841 JPEG 2000 lossless (RG1_J2KR.dcm)", "RG1_J2KR.dcm", 10, 0.15),
    ("MR 64x64 JPEG-LS lossless (MR_small_jpeg_ls_lossless.dcm)",
     "MR_small_jpeg_ls_lossless.dcm", 200, None),
)
DECODE_ROUNDS = 5


def windows(center: float, width: float, n: int) -> list[Window]:
    """n distinct windows sweeping around a starting one, as a mouse drag would."""
    return [Window(center + (i % 50) * width / 100.0, width * (0.5 + (i % 7) / 7.0))
            for i in range(n)]


def pydicom_uint8(modality: np.ndarray, ds, window: Window, invert: bool) -> np.ndarray:
    """pydicom's windowing, mapped from its output range to 0..255 like a display would."""
    ds.WindowCenter, ds.WindowWidth = window.center, window.width
    y = apply_voi_lut(modality, ds)
    y_min, y_max = _pydicom_output_range(ds)
    y = (y - y_min) * (255.0 / (y_max - y_min))
    if invert:
        y = 255.0 - y
    return np.floor(y + 0.5).astype(np.uint8)


def _pydicom_output_range(ds) -> tuple[float, float]:
    # the range pydicom.pixels.processing.apply_windowing maps onto
    bits = int(ds.BitsStored)
    signed = bool(ds.PixelRepresentation)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return lo * slope + intercept, hi * slope + intercept


def median_ms(fn, args_list) -> float:
    for args in args_list[:WARMUP]:
        fn(*args)
    times = []
    for args in args_list:
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bench_case(label: str, name: str, n: int, target_ms: float) -> bool:
    path = find(name)
    header = read_header(path)
    stored = decode_frame(path)
    params = display_params(header)
    start = params.windows[0] if params.windows else Window(40, 400)
    wins = windows(start.center, start.width, n)

    t0 = time.perf_counter()
    renderer = FrameRenderer(stored, params)
    setup_ms = (time.perf_counter() - t0) * 1e3
    ours_ms = median_ms(lambda w: renderer.render(w), [(w,) for w in wins])
    buf = np.empty(stored.shape, np.uint8)
    ours_out_ms = median_ms(lambda w: renderer.render(w, out=buf), [(w,) for w in wins])

    ds = deepcopy(header)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        modality = apply_modality_lut(stored, ds)
        ref_ms = median_ms(lambda w: pydicom_uint8(modality, ds, w, params.invert),
                           [(w,) for w in wins])
        ref_full_ms = median_ms(
            lambda w: pydicom_uint8(apply_modality_lut(stored, ds), ds, w, params.invert),
            [(w,) for w in wins])
        diffs = [int(np.abs(renderer.render(w).astype(int)
                            - pydicom_uint8(modality, ds, w, params.invert).astype(int)).max())
                 for w in wins[:10]]

    rows, cols = stored.shape
    print(f"\n{label}: {rows}x{cols} {stored.dtype}, {n} windows")
    print(f"  medview FrameRenderer setup (once per frame) : {setup_ms:8.2f} ms")
    print(f"  medview render(window)                       : {ours_ms:8.3f} ms")
    print(f"  medview render(window, out=preallocated)     : {ours_out_ms:8.3f} ms")
    print(f"  pydicom apply_voi_lut (modality cached)      : {ref_ms:8.3f} ms"
          f"   ratio pydicom/medview = {ref_ms / ours_ms:6.1f}x")
    print(f"  pydicom apply_modality_lut + apply_voi_lut   : {ref_full_ms:8.3f} ms"
          f"   ratio pydicom/medview = {ref_full_ms / ours_ms:6.1f}x")
    print(f"  same picture: max |medview - pydicom| over 10 windows = {max(diffs)} grey level(s)")
    ok_target = ours_ms <= target_ms
    ok_faster = ours_ms < ref_ms
    ok_same = max(diffs) <= 1
    print(f"  target <= {target_ms:g} ms per re-window: {'PASS' if ok_target else 'FAIL'}; "
          f"faster than pydicom: {'PASS' if ok_faster else 'FAIL'}; "
          f"same output (+-1): {'PASS' if ok_same else 'FAIL'}")
    return ok_target and ok_faster and ok_same


def _workers_cpu_s() -> float | None:
    """CPU seconds used so far by the pool's idle workers (Linux /proc; None elsewhere)."""
    from medview.core.io import decode_pool

    total = 0.0
    for pid in decode_pool.pool().pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def bench_decode(label: str, name: str, n: int, target: float | None) -> bool:
    path = find(name)
    header = read_header(path)
    pooled = decode_frame(path, 0, header)  # starts the pool's worker (not timed)
    same = np.array_equal(pooled, decode_frame_in_process(path, 0, header))
    ways = {"in-process": decode_frame_in_process, "pool": decode_frame}
    per_frame: dict[str, list[float]] = {w: [] for w in ways}
    cpu = dict.fromkeys(ways, 0.0)
    workers_before = _workers_cpu_s()
    block = max(1, n // DECODE_ROUNDS)
    for _ in range(DECODE_ROUNDS):  # blocks of each in turn: drift in load hits both
        for way, decode in ways.items():
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(block):  # back to back, as the viewer decodes a series
                decode(path, 0, header)
            per_frame[way].append((time.perf_counter() - t0) / block)
            cpu[way] += time.process_time() - c0
    workers_after = _workers_cpu_s()
    rows, cols = pooled.shape[:2]
    print(f"\n{label}: {rows}x{cols} {pooled.dtype}, {DECODE_ROUNDS} rounds of {block} "
          "decodes each way")
    # the best round is the figure least disturbed by other processes (as timeit advises);
    # the median shows what a busy machine adds (each pool call waits for a core twice)
    for stat in (min, statistics.median):
        local_ms, pool_ms = stat(per_frame["in-process"]) * 1e3, stat(per_frame["pool"]) * 1e3
        overhead = pool_ms / local_ms - 1.0
        kind = "best  " if stat is min else "median"
        print(f"  {kind} in-process {local_ms:8.2f} ms, pool {pool_ms:8.2f} ms per frame"
              f"   ratio pool/in-process = {pool_ms / local_ms:5.2f}x ({overhead:+.1%}, "
              f"{pool_ms - local_ms:+.2f} ms)")
        if stat is min:
            best_overhead = overhead
    if workers_before is not None and workers_after is not None:
        # CPU time depends little on how busy the machine is; wall time does
        frames = DECODE_ROUNDS * block
        cpu_local = cpu["in-process"] / frames * 1e3
        cpu_pool = (cpu["pool"] + workers_after - workers_before) / frames * 1e3
        print(f"  CPU per frame: in-process {cpu_local:.2f} ms, pool (app + worker) "
              f"{cpu_pool:.2f} ms   ratio = {cpu_pool / cpu_local:5.2f}x")
    fast = target is None or best_overhead <= target
    verdict = "no target (fixed cost)" if target is None else \
        f"target overhead (best round) <= {target:.0%}: {'PASS' if fast else 'FAIL'}"
    print(f"  {verdict}; same pixels: {'PASS' if same else 'FAIL'}")
    return fast and same


def main() -> int:
    print("medview pixel pipeline: per re-window time, median after warm-up")
    print(f"numpy {np.__version__}; a new window every iteration")
    results = [] if "--decode-only" in sys.argv else [bench_case(*case) for case in CASES]
    print("\nDecoding compressed frames: through the decoder-process pool vs in process")
    results += [bench_decode(*case) for case in DECODE_CASES]
    print("\nOVERALL:", "PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
