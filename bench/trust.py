"""Can a clinic trust the AI's output? Out-of-distribution flags and calibration, in one run.

1. **Unlike the training images** (issue 12, targets: <= 5 % of in-distribution test images
   flagged, >= 95 % of foreign images flagged). For each shipped demo model: the share of
   a fresh demo data set (a seed the models never saw) that its training-image reference
   flags, and the share of every readable image of pydicom's test files and pydicom-data
   (real CT, MR, US, CR, DX, MG, NM, XA, ... none a synthetic phantom) that it flags, with
   the real chest radiographs counted apart. The peer is main before this change: no check,
   0 % flagged.
2. **Calibration** (expected calibration error before and after temperature scaling): a
   real training job (ResNet-18, 128 px, demo data) run by the trainer as a subprocess;
   its report's validation and test ECE at T = 1 and at the fitted T.

Usage::

    .venv/bin/python bench/trust.py            # ~6 min on 2 idle cores
    .venv/bin/python bench/trust.py --no-train # part 1 only (~1 min)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from medview.demo.demo_data import write_demo_data  # noqa: E402
from medview.core.io.folder import load_paths  # noqa: E402
from medview.inference.familiarity import thumbnail  # noqa: E402
from medview.inference.manifest import read_manifest  # noqa: E402
from medview.inference.preprocess import frame_input, preprocess  # noqa: E402
from medview.inference.registry import load_reference  # noqa: E402
from tests.helpers.datafiles import all_real_files  # noqa: E402

MODELS = REPO / "models"
ID_TARGET, FOREIGN_TARGET = 0.05, 0.95


def scores(manifest, reference, frames) -> list[tuple[str, float]]:
    """(modality, score) for the first frame of each file that decodes and preprocesses."""
    out = []
    for frame in frames:
        if frame.index:
            continue
        try:
            values, context = frame_input(frame)
            image = preprocess(values, manifest, context).image
        except Exception:  # noqa: BLE001 - unreadable files are not part of the measure
            continue
        out.append((str(frame.get("Modality", "")), reference.score(thumbnail(image))))
    return out


def familiarity_table(work: Path) -> None:
    fresh = work / "fresh"
    write_demo_data(fresh, n=60, size=256, seed=11)
    # The images each model was trained on: classification images; segmentation images
    # (their masks are labels, not images).
    in_dist = {"classification": load_paths([fresh / "classification"]).frames(),
               "segmentation": load_paths([fresh / "segmentation" / "images"]).frames()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        foreign = load_paths(all_real_files()).frames()
    print("\n1. Images unlike the training images (flagged share; peer = main: no check, 0 %)")
    print(f"{'model':<26}{'in-distribution':>18}{'foreign, all':>16}{'real chest CR/DX':>19}"
          f"{'other images':>15}")
    for folder in sorted(p for p in MODELS.iterdir() if (p / "model.json").is_file()):
        manifest = read_manifest(folder)
        reference = load_reference(manifest, folder)
        if reference is None:
            print(f"{manifest.name:<26} (no reference)")
            continue
        ids = scores(manifest, reference, in_dist[manifest.task])
        fo = scores(manifest, reference, foreign)
        flag = lambda rows, t=reference.threshold: np.mean([s > t for _, s in rows]) if rows else float("nan")  # noqa: E731
        chest = [r for r in fo if r[0] in ("CR", "DX")]
        other = [r for r in fo if r[0] not in ("CR", "DX")]
        id_share, fo_share = flag(ids), flag(fo)
        print(f"{manifest.name:<26}{id_share:>12.1%} of {len(ids):<3}{fo_share:>9.1%} of {len(fo):<4}"
              f"{flag(chest):>12.1%} of {len(chest):<3}{flag(other):>8.1%} of {len(other):<4}")
        print(f"{'':<26}target <= {ID_TARGET:.0%}: {'PASS' if id_share <= ID_TARGET else 'FAIL'}"
              f"   target >= {FOREIGN_TARGET:.0%}: {'PASS' if fo_share >= FOREIGN_TARGET else 'FAIL'}")


def calibration_table(work: Path) -> None:
    data = work / "train-data"
    write_demo_data(data, n=150, size=256, seed=3)
    # The shipped demo classifier's recipe (scripts/train_demo_models.py), fewer epochs.
    job = {"name": "bench-calibration", "version": "1.0.0", "dataset": str(data / "labels.csv"),
           "model": {"architecture": "resnet18"}, "input": {"size": [128, 128], "channels": 1},
           "preprocessing": {"window": "auto", "resize": "letterbox",
                             "clahe": {"clip_limit": 2.0, "tile_grid": [8, 8]}},
           "preset": "advanced", "epochs": 15, "freeze_epochs": 0, "batch_size": 16,
           "optimizer": "adamw", "lr": 0.001, "scheduler": "cosine", "early_stopping": 8,
           "augment": {"flip": True, "rotate": 8, "scale": 0.08, "brightness": 0.05,
                       "contrast": 0.1},
           "workers": 0, "seed": 0, "split": {"val": 0.2, "test": 0.2, "seed": 0},
           "output": str(work / "run")}
    path = work / "job.json"
    path.write_text(json.dumps(job))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "trainer", str(path)], capture_output=True,
                          text=True, cwd=REPO)
    if proc.returncode:
        print(proc.stderr[-2000:])
        raise SystemExit("the training job failed")
    report = json.loads((work / "run" / "model" / "evaluation.json").read_text())
    cal = report["calibration"]
    print(f"\n2. Calibration (ResNet-18, 128 px, 300 demo images, up to 15 epochs: "
          f"{time.perf_counter() - start:.0f} s)")
    print(f"temperature {cal['temperature']:.3g} fitted on {cal['fitted_on']}"
          + (f" ({cal['note']})" if "note" in cal else ""))
    print(f"{'expected calibration error':<30}{'T = 1':>10}{'calibrated':>12}{'ratio':>8}")
    for part, block in (("validation", cal.get("validation")), ("test", cal.get("test"))):
        if block and block.get("ece_before") is not None:
            b, a = block["ece_before"], block["ece_after"]
            print(f"{part:<30}{b:>10.3f}{a:>12.3f}{(a / b if b else float('nan')):>8.2f}")
    fam = report.get("familiarity")
    if fam:
        print(f"reference of {fam['training_images']} training images flags "
              f"{fam['test_flagged']:.1%} of the test images (target <= {ID_TARGET:.0%})")
    print(f"test AUC {report['metrics'].get('auc')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-train", action="store_true", help="skip the calibration job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        familiarity_table(Path(tmp))
        if not args.no_train:
            calibration_table(Path(tmp))


if __name__ == "__main__":
    main()
