"""Train the two shipped demo models with medview's own trainer, reproducibly.

Recipe (everything seeded; the same command writes the same data and trains the same jobs):

1. ``medview demo-data WORK/data --n 150 --size 256 --seed 0 --masks`` — synthetic chest
   radiographs (300 classification images of 110 synthetic patients, with the lesion masks
   of the lesion images; 150 segmentation images with masks);
2. ``python -m trainer WORK/<name>.json`` for each job below (the jobs are written to WORK
   so they can be read and rerun as they are);
3. the finished ``WORK/<name>/model`` folders are copied to ``models/<name>/`` and loaded
   back through the registry as a check;
4. their int8 graphs are made on the same data (``scripts/quantize_demo_models.py``); sizes
   must stay within :data:`SIZE_LIMIT_MB` together.

The models are demos: trained and tested on synthetic data only, and their cards say so.
Their metrics are those of each job's held-out test split (patients never seen in
training), as the trainer reports them.

Usage::

    python scripts/train_demo_models.py [--work /tmp/medview-demo-models] [--only classifier|segmenter]

Each training takes a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
DATA_N, DATA_SIZE, DATA_SEED = 150, 256, 0
#: weights (what training starts from), ONNX graphs (what analysis runs, without torch) and
#: int8 graphs (a quarter of the float32 size: 11 + 3 MB)
SIZE_LIMIT_MB = 75.0

INTENDED = ("DEMO, synthetic data, not for clinical use. Shows how medview's AI analysis works on "
            "synthetic chest radiographs made by 'medview demo-data'.")
LIMITS = ("Synthetic phantoms with round lesions only; meaningless on real radiographs. Do not use for any "
          "decision about a patient.")

# What the demo models are for (checked before every analysis; manifest 'intended_input').
INTENDED_INPUT = {"description": "chest radiographs", "modalities": ["DX", "CR"], "body_parts": ["CHEST"],
                  "views": ["PA", "AP"], "photometric": ["MONOCHROME1", "MONOCHROME2"],
                  "image_size": [64, 4096], "non_dicom": True, "unknown_body_part": False}

JOBS = {
    "classifier": {
        "name": "demo-lesion-classifier", "version": "2.0.0",
        "dataset": "data/labels.csv",
        # A lesion map (issue 13): one lesion score per 8-pixel cell, the image's score its
        # strongest cell, and the data set's lesion masks (demo-data --masks) teach every
        # cell; so its heat map is the map it decides from. ~0.1 M parameters.
        "model": {"architecture": "lesion_map"},
        "input": {"size": [192, 192], "channels": 1},
        "preprocessing": {"window": "auto", "resize": "letterbox", "clahe": {"clip_limit": 2.0, "tile_grid": [8, 8]}},
        "preset": "advanced", "epochs": 60, "freeze_epochs": 0, "batch_size": 16,
        "optimizer": "adamw", "lr": 0.003, "weight_decay": 0.0001, "scheduler": "cosine", "warmup_epochs": 3,
        "early_stopping": 0, "positive_class": "lesion",
        "augment": {"flip": True, "rotate": 8, "scale": 0.08, "brightness": 0.05, "contrast": 0.1},
        "split": {"val": 0.15, "test": 0.2, "seed": 0}, "seed": 0,
        "card": {"demo": True, "intended_use": INTENDED, "limitations": LIMITS, "authors": "medview project"},
        "intended_input": INTENDED_INPUT,
    },
    "segmenter": {
        "name": "demo-lesion-segmenter", "version": "2.0.0",
        "dataset": {"path": "data/segmentation", "class_names": ["background", "lesion"]},
        # The recipe's network for small findings (issue 13): a small U-Net on local
        # contrast (~0.2 M parameters), trained on 128-px patches half of them over a
        # lesion, in every orientation, keeping the last epoch; it outlines the mean of the
        # image's mirror images.
        "model": {"architecture": "lesion_unet", "arguments": {"test_time_flips": True}},
        "input": {"size": [256, 256], "channels": 1}, "patch_size": 128,
        "preset": "advanced", "epochs": 150, "freeze_epochs": 0, "batch_size": 16,
        "optimizer": "adamw", "lr": 0.003, "weight_decay": 0.0001, "scheduler": "cosine", "warmup_epochs": 5,
        "early_stopping": 0, "final_weights": "last",
        "augment": {"flip": True, "vflip": True, "rotate": 180, "scale": 0.15, "brightness": 0.15,
                    "contrast": 0.15},
        "split": {"val": 0.15, "test": 0.2, "seed": 0}, "seed": 0,
        "card": {"demo": True, "intended_use": INTENDED, "limitations": LIMITS, "authors": "medview project"},
        "intended_input": INTENDED_INPUT,
    },
}
# The shipped card and report name the data by its recipe, not by this machine's work folder.
DATA_LABEL = f"<medview demo-data DIR --n {DATA_N} --size {DATA_SIZE} --seed {DATA_SEED} --masks>"
TEXT_FILES = ("model.json", "card.md", "evaluation.json")
SHIPPED_FILES = ("model.json", "weights.safetensors", "model.onnx", "card.md", "evaluation.json", "training_curves.png",
                 "confusion_matrix.png", "roc.png", "examples.png", "reference.safetensors", "reliability.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/medview-demo-models"),
                        help="folder for the data and the runs (default /tmp/medview-demo-models)")
    parser.add_argument("--only", choices=sorted(JOBS), help="train one of the two")
    parser.add_argument("--no-install", action="store_true", help="train but do not copy into models/")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    if not (data / "labels.csv").exists():
        _run(demo_data_command(data))
    for key in ([args.only] if args.only else list(JOBS)):
        job = JOBS[key]
        job_file = work / f"{job['name']}.json"
        job_file.write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
        run_dir = work / job["name"]
        shutil.rmtree(run_dir, ignore_errors=True)
        t0 = time.monotonic()
        code = _train(job_file, run_dir / "stdout.jsonl")
        print(f"{job['name']}: trainer exited {code} after {time.monotonic() - t0:.0f} s", flush=True)
        if code != 0:
            return code
        if not args.no_install:
            _install(run_dir / "model", MODELS / job["name"], data)
    if not args.no_install:  # new weights: their int8 graphs are made again
        _run([sys.executable, str(ROOT / "scripts" / "quantize_demo_models.py"), "--work", str(work)]
             + (["--only", args.only] if args.only else []))
    _check_sizes()
    return 0


def demo_data_command(data: Path) -> list[str]:
    """The command that writes the demo models' data into ``data``."""
    return [sys.executable, "-m", "medview", "demo-data", str(data), "--n", str(DATA_N),
            "--size", str(DATA_SIZE), "--seed", str(DATA_SEED), "--masks"]


def _run(cmd: list[str]) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def _train(job_file: Path, log: Path) -> int:
    """Run the trainer, keep every event in ``log`` and print the epoch summaries."""
    cmd = [sys.executable, "-m", "trainer", str(job_file)]
    print("$", " ".join(cmd), flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        for line in proc.stdout:
            out.write(line)
            event = json.loads(line)
            kind = event["type"]
            if kind == "epoch_end":
                metrics = " ".join(f"{k} {v:.3f}" for k, v in event["metrics"].items() if v is not None)
                print(f"  epoch {event['epoch']}/{event['epochs']}: train loss {event['train_loss']:.4f} "
                      f"val loss {event['val_loss']:.4f} {metrics}", flush=True)
            elif kind in ("log", "failed", "evaluation", "finished", "job_started"):
                text = {k: v for k, v in event.items() if k not in ("v", "time", "job", "dataset")}
                print("  " + json.dumps(text)[:400], flush=True)
        return proc.wait()


def _install(model_dir: Path, target: Path, data: Path) -> None:
    from medview.inference.registry import SHIPPED, Registry, add_graph

    check = model_dir.parent / "shipped-check"
    staging = check / target.name
    shutil.rmtree(check, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in SHIPPED_FILES:
        if (model_dir / name).exists():
            shutil.copy2(model_dir / name, staging / name)
    relabel_data_paths(staging, data)
    # The copy must load through the registry exactly as medview will load it; its ONNX
    # graph (what analysis runs, without torch) is made and checked against it.
    registry = Registry([(check, SHIPPED)])
    entry = add_graph(registry.find(json.loads((staging / "model.json").read_text())["name"]))
    loaded = registry.load(entry.name)
    print(f"  {loaded.key} loads ({sum(p.numel() for p in loaded.module.parameters())} parameters); "
          f"graph {entry.graph_path.stat().st_size / 1e6:.1f} MB")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(staging, target)
    shutil.rmtree(check, ignore_errors=True)


def relabel_data_paths(folder: Path, data: Path) -> None:
    """Replace the absolute path of the demo data folder in the text files by its recipe."""
    prefixes = (str(data), data.as_posix(), json.dumps(str(data))[1:-1])
    for name in TEXT_FILES:
        path = folder / name
        if path.exists():
            text = path.read_text(encoding="utf-8")
            for prefix in prefixes:
                text = text.replace(prefix, DATA_LABEL)
            path.write_text(text, encoding="utf-8")


def _check_sizes() -> None:
    total = 0
    for job in JOBS.values():
        folder = MODELS / job["name"]
        if folder.is_dir():
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            total += size
            print(f"{folder}: {size / 1e6:.1f} MB")
    print(f"total {total / 1e6:.1f} MB (limit {SIZE_LIMIT_MB:.0f} MB)")
    if total / 1e6 > SIZE_LIMIT_MB:
        raise SystemExit("the demo models exceed the size limit")


if __name__ == "__main__":
    sys.exit(main())
