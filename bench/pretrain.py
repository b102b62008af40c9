"""Self-supervised pre-training: its speed, and whether it helps a classifier with few labels.

Run (long; ``nice`` it on a shared machine)::

    nice -n 5 python bench/pretrain.py speed [--size 128] [--batch 32] [--method simsiam]
    nice -n 5 python bench/pretrain.py probe --minutes 15 [--method simsiam] [--n 50]

``speed`` runs a pretrain job (``python -m trainer``, 2,000 unlabelled images of
``bench/lesion_data.py``) for a few minutes and prints the pre-training time per 1,000
images per epoch, from the job's own ``batch`` events (the first batch excluded: warm-up).

``probe`` pre-trains a resnet18 backbone on those images for ``--minutes`` (the job's
``time_budget_minutes``), then scores it against random weights on the lesion
classification set (``--n`` labelled images per class, seed 11; held-out test set of 200
per class, seed ``TEST_SEED``):

* **linear probe**: logistic regression on the frozen trunk's features (L2, standardised
  features), test AUC;
* **kNN**: each test image scored by the share of lesion images among its 10 nearest
  training images (cosine), test AUC;
* **fine-tuned**: a classification job (``python -m trainer``, resnet18 at the backbone's
  input size, the same job for both apart from ``model.backbone``) trained on the labelled
  images, its model's test AUC on the held-out set as the viewer's analysis computes it
  (``bench/held_out.py``).

Data and runs are cached under ``--work`` (default ``/tmp/medview-bench-pretrain``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads, as the trainer does
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

N_UNLABELLED, TRAIN_SEED, UNLABELLED_SEED, N_TEST = 2000, 11, 21, 200


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("speed", "probe"))
    ap.add_argument("--method", default=None, help="simsiam or byol (default: the job default)")
    ap.add_argument("--size", type=int, default=128, help="input size (default 128)")
    ap.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    ap.add_argument("--minutes", type=float, default=15.0, help="probe: pre-training budget (default 15)")
    ap.add_argument("--n", type=int, default=50, help="probe: labelled images per class (default 50)")
    ap.add_argument("--job", default="{}", help="extra pretrain job fields as JSON")
    ap.add_argument("--finetune", default="{}", help="extra classification job fields as JSON")
    ap.add_argument("--backbone", type=Path, help="probe: score this backbone folder instead of pre-training")
    ap.add_argument("--no-finetune", action="store_true", help="probe: frozen features only")
    ap.add_argument("--tag", default="", help="probe: suffix of the run's name")
    ap.add_argument("--work", type=Path, default=Path("/tmp/medview-bench-pretrain"))
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    unlabelled = _cached(args.work / f"unlabelled-{N_UNLABELLED}",
                         lambda out: _write_unlabelled(out, N_UNLABELLED, UNLABELLED_SEED))
    if args.what == "speed":
        return _speed(args, unlabelled)
    return _probe(args, unlabelled)


# ----------------------------------------------------------------------- data

def _cached(folder: Path, write) -> Path:
    if not (folder / ".done").exists():
        write(folder)
        (folder / ".done").write_text("ok")
    return folder


def _write_unlabelled(out: Path, n: int, seed: int) -> None:
    from bench.lesion_data import write_unlabelled

    write_unlabelled(out / "images", n, seed)


def _labelled(work: Path, n: int, seed: int) -> Path:
    from bench.lesion_data import write_lesion_data

    folder = _cached(work / f"lesions-n{n}-seed{seed}",
                     lambda out: write_lesion_data(out, "classification", n, seed))
    return folder / "labels.csv"


# ----------------------------------------------------------------------- running jobs

def _run_job(job: dict, path: Path, *extra: str) -> list[dict]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(job, indent=1))
    proc = subprocess.run([sys.executable, "-m", "trainer", str(path), *extra], cwd=ROOT,
                          capture_output=True, text=True)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0:
        tail = [e for e in events if e["type"] in ("failed", "log")][-3:]
        raise SystemExit(f"{path}: exit {proc.returncode}: {tail} {proc.stderr[-1500:]}")
    return events


def _pretrain_job(args, unlabelled: Path, name: str, minutes: float) -> dict:
    job = {"task": "pretrain", "name": name, "version": "1", "dataset": str(unlabelled / "images"),
           "model": {"architecture": "resnet18"}, "input": {"size": args.size},
           "batch_size": args.batch, "time_budget_minutes": minutes, "epochs": 1000}
    if args.method:
        job["method"] = args.method
    return {**job, **json.loads(args.job)}


def _images_per_s(events: list[dict]) -> float:
    """Images per second over the run's batches, from the arrival of the batch events."""
    from datetime import datetime

    batches = [e for e in events if e["type"] == "batch"]
    per_batch = batches[0]["batches"] if batches else 0
    times = [datetime.fromisoformat(e["time"]).timestamp() for e in batches]
    steps = [(e["epoch"] - 1) * per_batch + e["batch"] for e in batches]
    if len(times) < 2:
        return float("nan")
    job = next(e for e in events if e["type"] == "job_started")
    n = job["dataset"]["n_images"]
    batch = n / per_batch
    return (steps[-1] - steps[0]) * batch / (times[-1] - times[0])


def _speed(args, unlabelled: Path) -> int:
    minutes = 3.0
    for method in ([args.method] if args.method else ["simsiam", "byol"]):
        args.method = method
        run = args.work / f"speed-{method}-{args.size}"
        events = _run_job(_pretrain_job(args, unlabelled, f"speed-{method}", minutes), run / "job.json")
        rate = _images_per_s(events)
        print(f"{method}: resnet18 at {args.size} px, batch {args.batch}, {os.cpu_count()} cores: "
              f"{rate:.1f} images/s = {1000 / rate / 60:.1f} min per 1,000 images per epoch")
    return 0


# ----------------------------------------------------------------------- probing

def _probe(args, unlabelled: Path) -> int:
    from bench.lesion_data import TEST_SEED

    train = _labelled(args.work, args.n, TRAIN_SEED)
    test = _labelled(args.work, N_TEST, TEST_SEED)
    if args.backbone:
        folder = args.backbone
    else:
        name = f"probe-{args.method or 'default'}-{args.size}-{args.minutes:g}min{args.tag}"
        run = args.work / name
        t0 = time.perf_counter()
        events = _run_job(_pretrain_job(args, unlabelled, name, args.minutes), run / "job.json")
        ends = [e for e in events if e["type"] == "epoch_end"]
        print(f"pre-trained {name}: {len(ends)} epochs in {(time.perf_counter() - t0) / 60:.1f} min, "
              f"final loss {ends[-1]['train_loss']:.4f}, spread {ends[-1]['metrics'].get('spread')}")
        folder = run / "backbone"
    from medview.inference.backbones import read_backbone

    info, state = read_backbone(folder)
    for label, weights, seeds in (("random", None, (0, 1, 2)), ("pre-trained", state, (0,))):
        probes = []
        for seed in seeds:
            x_train, y_train = _features(train, weights, info, seed)
            x_test, y_test = _features(test, weights, info, seed)
            probes.append((_linear_auc(x_train, y_train, x_test, y_test), _knn_auc(x_train, y_train, x_test, y_test)))
        lin, knn = np.mean(probes, axis=0)
        print(f"{label:12s} linear probe AUC {lin:.3f}   kNN AUC {knn:.3f}"
              + (f"   (mean of {len(seeds)} random initialisations)" if len(seeds) > 1 else ""), flush=True)
    if args.no_finetune:
        return 0
    for label, backbone in (("random", None), ("pre-trained", folder)):
        auc = _finetune(args, train, test, info, backbone, label)
        print(f"{label:12s} fine-tuned test AUC {auc:.3f} ({args.n} labelled images per class)")
    return 0


def _features(labels_csv: Path, state: dict | None, info, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Trunk features (frozen, eval mode) of every image, prepared as a job would."""
    import torch

    torch.manual_seed(seed)
    from trainer.data.inputs import read_sample
    from trainer.data.datasets import discover
    from trainer.pretrain.run import backbone_manifest
    from trainer.pretrain.job import parse_pretrain_job
    from trainer.pretrain.ssl import build_trunk

    trunk, _ = build_trunk(info.architecture)
    if state is not None:
        missing, unexpected = trunk.load_state_dict(state, strict=False)
        assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), missing
    trunk.eval()
    job = parse_pretrain_job({"task": "pretrain", "dataset": "x", "model": {"architecture": info.architecture},
                              "input": {"size": list(info.input_size)}})
    manifest = backbone_manifest(job)
    ds = discover(labels_csv)
    xs, ys = [], []
    with torch.inference_mode():
        for s in ds.samples:
            image, target = read_sample(s, "classification", manifest)
            xs.append(trunk(torch.from_numpy(image)[None])[0].numpy())
            ys.append(int(ds.classes[target] == "lesion"))
    return np.array(xs), np.array(ys)


def _linear_auc(x_train, y_train, x_test, y_test, weight_decay: float = 1e-2) -> float:
    import torch

    from trainer.metrics import roc_auc

    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    xt = torch.tensor((x_train - mean) / std, dtype=torch.float32)
    yt = torch.tensor(y_train, dtype=torch.float32)
    w = torch.zeros(xt.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + weight_decay * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    scores = (torch.tensor((x_test - mean) / std, dtype=torch.float32) @ w + b).detach().numpy()
    return roc_auc(y_test, scores)


def _knn_auc(x_train, y_train, x_test, y_test, k: int = 10) -> float:
    from trainer.metrics import roc_auc

    a = x_train / (np.linalg.norm(x_train, axis=1, keepdims=True) + 1e-9)
    b = x_test / (np.linalg.norm(x_test, axis=1, keepdims=True) + 1e-9)
    nearest = np.argsort(-(b @ a.T), axis=1)[:, :k]
    return roc_auc(y_test, y_train[nearest].mean(1))


def _finetune(args, train: Path, test: Path, info, backbone: Path | None, label: str) -> float:
    """Test AUC of a classification job trained on ``train``, from the backbone or random."""
    env_user = args.work / f"user-{label}"
    os.environ["MEDVIEW_USER_DIR"] = str(env_user)
    model = {"architecture": info.architecture}
    if backbone is not None:
        from medview.inference.backbones import register_backbone

        try:
            register_backbone(backbone, replace_existing=True)
        except Exception as err:  # noqa: BLE001 - a bench: say it and stop
            raise SystemExit(f"cannot register {backbone}: {err}") from None
        model["backbone"] = info.name
    # the random row depends on the input size only: one run serves every backbone
    stem = info.name if backbone is not None else f"{info.input_size[0]}px"
    run = args.work / f"finetune-{label}-{stem}-n{args.n}"
    if backbone is None and (run / "model" / "model.json").exists() and args.finetune == "{}":
        from bench.held_out import score_model

        return score_model(run / "model", test, "classification")["auc"]
    job = {"name": f"ft-{label}", "version": "1", "dataset": str(train), "model": model,
           "input": {"size": list(info.input_size), "channels": 1}, "split": {"val": 0.2, "test": 0.0},
           "output": str(run), **json.loads(args.finetune)}
    _run_job(job, run.parent / f"{run.name}.json")
    from bench.held_out import score_model

    return score_model(run / "model", test, "classification")["auc"]


if __name__ == "__main__":
    sys.exit(main())
