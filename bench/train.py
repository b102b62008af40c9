"""Training speed: medview's trainer against a plain PyTorch loop, same model, batch and data.

Run: .venv/bin/python bench/train.py [--data DEMO_DIR] [--batches N]

Model ResNet-18 (3 channels, 2 classes, random init), batch 16, input 224×224, AdamW,
on ``medview demo-data`` radiographs (generated into a temporary folder unless
``--data`` names one). Two settings:

* **full** fine-tune: every layer learns;
* **frozen** backbone: only the final layer learns, the backbone runs in eval mode.

"trainer" is the real thing: ``trainer.loop.run_job`` on a job file (events, augmentation,
checkpoints and all), its throughput taken from the arrival times of its ``batch``
events over the epoch (the first batch excluded as warm-up, as for the plain loop).
"plain" is the textbook loop over the same preprocessed images already in memory as
tensors (no augmentation, no events). Target: trainer / plain ≥ 0.9.

It also measures the data side: the one-off preparation (decode + shared preprocessing)
with 0 and 2 worker processes, an epoch's augmentation from the in-memory cache, and
lazy reading (no cache) with 0 and 2 DataLoader workers, to show where workers help.

Both loops run in this process with the same thread settings (``OMP_WAIT_POLICY=PASSIVE``,
as the trainer sets it; see ``trainer.cli.quiet_threads``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads, as the trainer does
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

BATCH, SIZE = 16, 224


class _Clock(io.StringIO):
    """An event stream that notes when each batch event arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[float, dict]] = []

    def write(self, text: str) -> int:
        now = time.perf_counter()
        for line in text.splitlines():
            if line.strip():
                e = json.loads(line)
                if e["type"] == "batch":
                    self.batches.append((now, e))
                elif e["type"] == "failed":
                    raise SystemExit(f"trainer failed: {e['reason']}")
        return len(text)


def trainer_rate(data: Path, work: Path, frozen: bool, n_train: int) -> float:
    from trainer.config import load_job
    from trainer.loop import run_job

    job = {"name": "bench", "version": "1", "dataset": str(data / "labels.csv"),
           "model": {"architecture": "resnet18"}, "input": {"size": SIZE, "channels": 3},
           "epochs": 1, "freeze_epochs": 1 if frozen else 0, "batch_size": BATCH, "seed": 0,
           "split": {"val": 0.1, "test": 0.1, "seed": 0}, "workers": 0}
    folder = work / ("frozen" if frozen else "full")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(json.dumps(job))
    clock = _Clock()
    code = run_job(load_job(folder / "job.json"), folder, stream=clock)
    if code != 0:
        raise SystemExit(f"trainer exit status {code}")
    (t0, first), (t1, last) = clock.batches[0], clock.batches[-1]
    images = _images_between(first["batch"], last["batch"], n_train)
    return images / (t1 - t0)


def _images_between(b0: int, b1: int, n: int) -> int:
    """Images in batches b0+1 … b1 of an epoch of n images (a last batch of one joins its neighbour)."""
    sizes = [min(BATCH, n - i) for i in range(0, n, BATCH)]
    if len(sizes) > 1 and sizes[-1] == 1:
        sizes[-2] += sizes.pop()
    return sum(sizes[b0:b1])


def plain_rate(images: np.ndarray, labels: np.ndarray, frozen: bool, n_batches: int) -> float:
    from medview.inference.architectures import build

    torch.manual_seed(0)
    model = build("resnet18", 3, 2)
    model.train()
    if frozen:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("fc."))
        for name, m in model.named_children():
            if name != "fc":
                m.eval()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
    order = np.random.default_rng(0).permutation(len(images))
    times = []
    for b in range(n_batches):
        idx = torch.from_numpy(order[(b * BATCH) % len(order):][:BATCH])
        x, y = x_all[idx], y_all[idx]
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        times.append((time.perf_counter(), len(x)))
    (t0, _), (t1, _) = times[0], times[-1]
    return sum(n for _, n in times[1:]) / (t1 - t0)


def prepared(data: Path, workers: int):
    from medview.inference.manifest import parse_manifest
    from trainer.data.inputs import prepare
    from trainer.data.datasets import discover

    ds = discover(data / "labels.csv")
    manifest = parse_manifest({
        "name": "bench", "version": "1", "task": "classification", "architecture": {"name": "resnet18"},
        "classes": ds.classes, "input": {"size": [SIZE, SIZE], "channels": 3},
        "normalisation": {"mean": [0.5] * 3, "std": [0.25] * 3},
        "card": {"intended_use": "bench", "training_data": "bench", "date": "2025-01-01"}})
    t0 = time.perf_counter()
    source, skipped = prepare(ds.samples, range(len(ds.samples)), "classification", manifest, workers=workers)
    return source, time.perf_counter() - t0, ds, manifest


def data_rates(source, ds, manifest) -> dict[str, float]:
    from trainer.config import AugmentSpec
    from trainer.data.inputs import LazySource, TrainItems, epoch_batches, make_loader

    out = {}
    items = TrainItems(source, AugmentSpec(), manifest, seed=0, task="classification")
    t0 = time.perf_counter()
    n = sum(len(b[0]) for b in make_loader(items, epoch_batches(len(source), BATCH, 0, 1), 0))
    out["cache + augmentation, main process"] = n / (time.perf_counter() - t0)
    lazy = TrainItems(LazySource(ds.samples, range(len(ds.samples)), "classification", manifest, False),
                      AugmentSpec(), manifest, seed=0, task="classification")
    for workers in (0, 2):
        batches = epoch_batches(min(96, len(ds.samples)), BATCH, 0, 1)
        t0 = time.perf_counter()
        n = sum(len(b[0]) for b in make_loader(lazy, batches, workers))
        out[f"no cache: read + preprocess + augment, {workers} workers"] = n / (time.perf_counter() - t0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="an existing 'medview demo-data' folder")
    parser.add_argument("--n", type=int, default=100, help="images per class to generate (default 100)")
    args = parser.parse_args()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        tmp = Path(tmp)
        data = args.data
        if data is None:
            data = tmp / "data"
            subprocess.run([sys.executable, "-m", "medview", "demo-data", str(data), "--n", str(args.n),
                            "--size", "256", "--seed", "0"], check=True, capture_output=True)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; ResNet-18 batch {BATCH} at {SIZE}×{SIZE}, "
              "3 channels")
        source0, t_prep0, ds, manifest = prepared(data, 0)
        source2, t_prep2, _, _ = prepared(data, 2)
        assert np.array_equal(source0.images, source2.images)  # workers change nothing but the time
        n = len(source0)
        print(f"\ndata: {n} images from {data}")
        print(f"  one-off preparation (decode + preprocess): {n / t_prep0:7.1f} img/s with 0 workers, "
              f"{n / t_prep2:7.1f} img/s with 2 workers")
        for what, rate in data_rates(source0, ds, manifest).items():
            print(f"  {what}: {rate:7.1f} img/s")
        labels = np.array([s.label for s in ds.samples], np.int64)[source0.indices]
        n_train = len(json.loads(json.dumps(_train_size(ds))))
        rows = []
        for frozen in (False, True):
            name = "frozen backbone" if frozen else "full fine-tune"
            plain = plain_rate(source0.images, labels, frozen, n_batches=max(4, n_train // BATCH))
            trainer = trainer_rate(data, tmp / "runs", frozen, n_train)
            rows.append((name, trainer, plain))
        print(f"\n{'setting':<18} {'trainer img/s':>14} {'plain img/s':>12} {'ratio':>7}")
        for name, trainer, plain in rows:
            print(f"{name:<18} {trainer:14.1f} {plain:12.1f} {trainer / plain:7.2f}")
        print(f"\ntarget ratio >= 0.90; total bench time {time.perf_counter() - t_start:.0f} s")
    return 0


def _train_size(ds) -> list[int]:
    from trainer.data.splits import stratified_split

    split = stratified_split(ds.strata(), ds.groups(), val_fraction=0.1, test_fraction=0.1, seed=0)
    return split.train.tolist()


if __name__ == "__main__":
    sys.exit(main())
