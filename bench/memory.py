"""Memory and time of analysis without torch: ``medview analyze`` and the GUI, side by side.

    python bench/memory.py [--runs 3] [--gui-only]

Each row is a fresh process with its own empty user and cache folders (the engine choice
is measured by a first, untimed run, so the timed runs use a cached engine, as every run
after the first does on a user's PC). Peak RSS is the process's own high-water mark
(VmHWM; ``ru_maxrss`` where there is no ``/proc``: on Linux that one also holds the
parent's peak at the fork); the decoder worker that ``medview`` starts for DICOM files
and the inference process are separate processes and printed apart (their VmHWM). Wall
time is of the whole process; its CPU time (user + system) is what an idle machine's wall
time approaches. Rows:

* ``medview analyze`` with each shipped model on the sample radiograph: the model's ONNX
  graph in ONNX Runtime / OpenVINO, torch never imported;
* peer ``medview analyze --engine torch``: the torch network, as every analysis ran before
  graphs (``import torch`` alone is its floor);
* ``import torch`` alone, and ``import numpy, onnxruntime`` alone;
* the GUI (offscreen window, default settings: the frame cache sized from this machine's
  RAM) with a shipped model loaded and, open and every slice decoded, the sample CT
  (40 slices of 256²), then a 300-slice CT of 512² (a synthetic chest CT written for the
  run, uncompressed); and the 300-slice CT with the model run by torch, which the GUI
  leaves to the inference process (its RSS printed apart) as it does on a CUDA GPU.

Targets (issue 18): ``medview analyze`` <= 300 MB peak RSS and <= 2 s for one image with
a cached engine; the GUI with a 300-slice CT open and a model loaded <= 600 MB. On a
machine shared with other programs the wall times stretch with its load (printed); RSS
does not.
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
XRAY = ROOT / "resources" / "samples" / "chest_xray" / "chest_pa.dcm"
CT = ROOT / "resources" / "samples" / "ct_chest"
MODELS = ("demo-lesion-classifier", "demo-lesion-segmenter")
ANALYZE_MB, ANALYZE_S, GUI_MB = 300.0, 2.0, 600.0
BIG_CT_SLICES, BIG_CT_SIZE = 300, 512


def _report(**extra) -> None:
    """A child's last line on stderr: its own peak RSS, the peak RSS of its live child
    processes (the DICOM decoder worker), in MB, its CPU seconds, and whether torch was
    imported."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        rss = _peak_mb(os.getpid())
    except OSError:
        rss = usage.ru_maxrss / 1024
    print(json.dumps({"rss_mb": rss, "children_mb": _children_peak_mb(),
                      "cpu_s": usage.ru_utime + usage.ru_stime, "torch": "torch" in sys.modules,
                      **extra}), file=sys.stderr, flush=True)


def _children_peak_mb() -> float:
    """Sum of the peak RSS (VmHWM) of this process's children still running (Linux)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != os.getpid():
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def _analyze_child(argv: list[str]) -> int:
    from medview.cli import main as medview

    code = medview(argv)
    _report()
    return code


def _gui_child(model: str, engine: str, ct: str) -> None:
    """The window with the CT folder ``ct`` open, every slice decoded, and ``model`` loaded
    on ``engine``; reports RSS, then quits."""
    from PySide6.QtWidgets import QApplication

    from medview.analysis.pool_jobs import ModelId
    from medview.core.pixel_cache import PIXELS
    from medview.inference.engines.process_engine import shared_process
    from medview.inference.registry import Registry
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings

    app = QApplication.instance() or QApplication([])
    win = MainWindow(settings=Settings(Path(os.environ["MEDVIEW_USER_DIR"]) / "medview.ini"))
    win.resize(1400, 900)
    win.show()

    def wait(cond, timeout: float = 300.0) -> None:
        end = time.perf_counter() + timeout
        while not cond() and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)

    win.open_paths([ct], remember=False)
    wait(lambda: not win.is_loading and win.library.series())
    wait(lambda: win.grid.active.model.frame is not None)
    frames = [f for s in win.library.series() for f in s.frames]
    wait(lambda: all(f.is_decoded for f in frames) or PIXELS.nbytes > 0.55 * PIXELS.max_bytes)
    wait(lambda: win.loader.pending == 0 and not win.workers.busy)  # e.g. the MPR volume
    service = win.analysis.service
    service.options["engine"] = engine
    entry = Registry().find(model)
    service.load_model(entry)
    wait(lambda: service.model_state(ModelId.of(entry)) in ("ready", "failed"))
    pid = shared_process().pid
    _report(frames=len(frames), decoded=sum(f.is_decoded for f in frames),
            cache_mb=PIXELS.nbytes / 2**20, budget_mb=PIXELS.max_bytes / 2**20,
            state=service.model_state(ModelId.of(entry)),
            engine=service.model_info(ModelId.of(entry)).get("describe", ""),
            worker_mb=_peak_mb(pid) if pid else 0.0)
    win.close()
    service.pool.waitForDone(30000)


def _peak_mb(pid: int) -> float:
    """VmHWM of process ``pid`` in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _write_big_ct(folder: Path) -> Path:
    """A synthetic chest CT of :data:`BIG_CT_SLICES` slices of :data:`BIG_CT_SIZE`² (a quarter
    of them distinct, each written four times: the phantom is slow to make)."""
    import numpy as np

    from medview.demo.synth import ct_phantom_volume, ct_voxel_size, write_ct_series

    distinct = BIG_CT_SLICES // 4
    volume = np.repeat(ct_phantom_volume(distinct, BIG_CT_SIZE, rng=0), 4, axis=0)
    pixel, thickness = ct_voxel_size(BIG_CT_SLICES, BIG_CT_SIZE)
    write_ct_series(volume, folder, spacing=(pixel, pixel), thickness=thickness, compress=None,
                    uid_seed="medview-bench-memory")
    return folder


def _run(args: list[str], tmp: Path) -> tuple[dict, float, str]:
    env = dict(os.environ, MEDVIEW_USER_DIR=str(tmp / "user"), XDG_CACHE_HOME=str(tmp / "cache"),
               QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MEDVIEW_MODELS_DIR", None)  # the shipped models
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    seconds = time.perf_counter() - t0
    for line in reversed(p.stderr.splitlines()):
        if line.startswith("{"):
            return json.loads(line), seconds, p.stdout
    raise SystemExit(f"{' '.join(args[:4])}: {p.stderr.strip()[-600:]}")


def _analyze_row(model: str, engine: str, runs: int) -> str:
    with tempfile.TemporaryDirectory(prefix="medview-mem-") as tmp:
        cmd = [__file__, "--child", "analyze", "--model", model, "--engine", engine, str(XRAY)]
        _run(cmd, Path(tmp))  # measures the engines once; later runs read the choice
        results = [_run(cmd, Path(tmp)) for _ in range(runs)]
    rss = max(r[0]["rss_mb"] for r in results)
    kids = max(r[0]["children_mb"] for r in results)
    times = [r[1] for r in results]
    cpu = min(r[0]["cpu_s"] for r in results)
    engine_used = json.loads(results[0][2].splitlines()[-1])["engine"]
    torch = "torch loaded" if results[0][0]["torch"] else "no torch"
    return (f"{rss:6.0f} MB (+ decoder worker {kids:4.0f} MB)  {min(times):5.2f} s best, "
            f"{statistics.median(times):5.2f} s median, CPU {cpu:5.2f} s   {engine_used}, "
            f"{torch}"), rss, min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each analyze row")
    ap.add_argument("--gui-child", nargs=3, metavar=("MODEL", "ENGINE", "CT"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--gui-only", action="store_true", help="only the GUI rows (and imports)")
    ap.add_argument("--import-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.gui_child:
        _gui_child(*args.gui_child)
        return
    if args.import_child:
        exec(args.import_child)  # noqa: S102 - "import torch" and the like, from main()
        _report()
        return
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"peak RSS and time, fresh processes; {os.cpu_count()} CPUs, load {load:.1f} "
          "(shared machine: times stretch with the load, RSS does not)\n")
    worst_rss = worst_s = 0.0
    for model in () if args.gui_only else MODELS:
        text, rss, sec = _analyze_row(model, "auto", args.runs)
        worst_rss, worst_s = max(worst_rss, rss), max(worst_s, sec)
        print(f"medview analyze {model:<24} {text}")
        text, peer_rss, peer_s = _analyze_row(model, "torch", args.runs)
        print(f"  peer --engine torch {'':<20} {text}")
        print(f"  ratio medview/peer: RSS {rss / peer_rss:.2f}, time {sec / peer_s:.2f}")
    with tempfile.TemporaryDirectory(prefix="medview-mem-") as tmp:
        for label, code in (("import torch alone", "import torch"),
                            ("import numpy, onnxruntime alone", "import numpy, onnxruntime")):
            info, seconds, _ = _run([__file__, "--import-child", code], Path(tmp))
            print(f"{label:<40} {info['rss_mb']:6.0f} MB  {seconds:5.2f} s")
        big_ct = _write_big_ct(Path(tmp) / "ct300")
        gui = {}
        for key, label, engine, ct in (
                ("sample", "GUI, sample CT (40 slices) + model", "auto", CT),
                ("big", f"GUI, {BIG_CT_SLICES}-slice CT + model", "auto", big_ct),
                ("torch", f"GUI, {BIG_CT_SLICES}-slice CT + torch", "torch", big_ct)):
            info, seconds, _ = _run([__file__, "--gui-child", MODELS[0], engine, str(ct)],
                                    Path(tmp))
            gui[key] = info
            worker = (f", inference process {info['worker_mb']:4.0f} MB"
                      if info["worker_mb"] else "")
            print(f"{label:<40} {info['rss_mb']:6.0f} MB (+ decoder workers "
                  f"{info['children_mb'] - info['worker_mb']:4.0f} MB{worker})  "
                  f"{info['decoded']}/{info['frames']} slices decoded, frame cache "
                  f"{info['cache_mb']:.0f} of {info['budget_mb']:.0f} MB; model "
                  f"{info['state']} on {info['engine']}; "
                  f"{'torch loaded' if info['torch'] else 'no torch'}")
    if not args.gui_only:
        print(f"\nmedview analyze: worst peak RSS {worst_rss:.0f} MB (target <= {ANALYZE_MB:.0f}: "
              f"{'OK' if worst_rss <= ANALYZE_MB else 'OVER'}), worst best-of-{args.runs} time "
              f"{worst_s:.2f} s (target <= {ANALYZE_S:.0f}: {'OK' if worst_s <= ANALYZE_S else 'OVER'})")
    big = gui["big"]["rss_mb"]
    print(f"GUI with the {BIG_CT_SLICES}-slice CT and a model: {big:.0f} MB (target <= "
          f"{GUI_MB:.0f}: {'OK' if big <= GUI_MB else 'OVER'}); with the model in torch "
          f"{gui['torch']['rss_mb']:.0f} MB + inference process {gui['torch']['worker_mb']:.0f} MB")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:2] == ["--child"]:  # medview's own arguments follow: not for argparse
        sys.exit(_analyze_child(sys.argv[2:]))
    main()
