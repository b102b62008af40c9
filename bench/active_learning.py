"""Labels needed to reach a target AUC when the next images to label are the model's most
uncertain (medview's "Next Most Useful Case") versus random order.

A simulated labeller: start from a small random seed set (half each class), train, rank
the unlabelled pool, label the next batch (the true label is revealed), train again, and
so on; after every round the model's ROC AUC is measured on a fixed test set. Orders
compared: ``random``, ``entropy`` and ``flips`` — the two measures of
:mod:`medview.labels.uncertainty`, computed by its own :func:`~medview.labels.uncertainty.score`
on the model's probabilities (and on those of the left–right flipped image).

Data: medview's synthetic chest radiographs (:func:`medview.demo.synth.chest_phantom_case`,
the demo data's phantom: every image its own patient, anatomy, exposure and noise), half
with one round lesion of 6–24 mm radius, at ``--size`` pixels. Chosen over
``bench/lesion_data.py`` (real backgrounds) because medview's own trainer stays near chance
on that set at a few hundred images, so no ordering could show a saving there.

Model (a documented proxy): a full ``python -m trainer`` job per round — recipe, speed
measurement, preparation, start check, test report — takes minutes on a 2-core PC, and
the bench needs ~100 rounds. So each round trains a small CNN (3 conv blocks with batch norm,
global max pooling, linear) from random weights in this process for ``--steps`` batches
with Adam, flips as augmentation, the same for every order. The figures compare orderings,
not medview's trainer.

Run::

    python bench/active_learning.py                    # ~10 min on a busy 2-core PC
    python bench/active_learning.py --seeds 1 --rounds 6   # a quick look

The README's figures: seeds 0–1 and 2–3 in two processes, then both logs tabulated::

    python bench/active_learning.py > a.txt & python bench/active_learning.py --first-seed 2 > b.txt
    python bench/active_learning.py --from-logs a.txt b.txt
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Waiting OpenMP threads sleep: spinning ones slow training many times over on a shared PC.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from medview.labels.uncertainty import score  # noqa: E402
from trainer.metrics import roc_auc  # noqa: E402

ORDERS = ("random", "entropy", "flips")
_RADIUS_MM = (12.0, 36.0)
_DRAWN = 4  # images are drawn at 4 × the size and averaged down (less aliasing, less noise)


def make_images(n: int, size: int, seed: int, cache: Path | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` phantom radiographs (float32, each normalised to mean 0, std 1) and labels
    (1 = lesion), half each; kept in ``cache`` (drawing them takes most of a short run)."""
    from medview.demo import synth

    stored = cache / f"phantoms-{n}-{size}-{seed}.npz" if cache else None
    if stored is not None and stored.is_file():
        with np.load(stored) as data:
            return data["images"], data["labels"]
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    images = np.empty((n, 1, size, size), np.float32)
    for i, y in enumerate(labels):
        case = synth.chest_phantom_case(size * _DRAWN, rng=np.random.default_rng([seed, i]),
                                        lesions=int(y), lesion_radius_mm=_RADIUS_MM)
        x = case.image.astype(np.float32).reshape(size, _DRAWN, size, _DRAWN).mean(axis=(1, 3))
        images[i, 0] = (x - x.mean()) / (x.std() + 1e-6)
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.savez(stored, images=images, labels=labels.astype(np.int64))
    return images, labels.astype(np.int64)


def _network(torch):
    nn = torch.nn

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.MaxPool2d(2))

    # global max pooling: "is there a lesion anywhere" (average pooling learnt far slower)
    return nn.Sequential(block(1, 16), block(16, 32), block(32, 64),
                         nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 2))


def train(images: np.ndarray, labels: np.ndarray, steps: int, seed: int):
    """The proxy model trained on ``images`` for ``steps`` random batches of 16 (every
    other one flipped): the same number of updates however many labels there are."""
    import torch

    torch.manual_seed(seed)
    net = _network(torch)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for step in range(steps):
        idx = torch.randint(0, len(x), (16,), generator=gen)
        xb = x[idx].flip(-1) if step % 2 else x[idx]
        loss = torch.nn.functional.cross_entropy(net(xb), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def probabilities(net, images: np.ndarray, flipped: bool = False) -> np.ndarray:
    """(n, 2) softmax of the model on ``images`` (flipped left–right if asked)."""
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(images)
        if flipped:
            x = x.flip(-1)
        return torch.cat([net(x[i:i + 256]).softmax(1) for i in range(0, len(x), 256)]).numpy()


def next_batch(order: str, net, pool: np.ndarray, candidates: np.ndarray, batch: int,
               rng: np.random.Generator) -> np.ndarray:
    """Indices (into ``pool``) of the next ``batch`` images to label under ``order``."""
    if order == "random":
        return rng.choice(candidates, size=min(batch, len(candidates)), replace=False)
    p = probabilities(net, pool[candidates])
    variants = [p]
    if order == "flips":
        variants.append(probabilities(net, pool[candidates], flipped=True))
    # the app's measure, per image: (K,) probabilities of each variant
    scores = np.array([score([v[i] for v in variants], order) for i in range(len(candidates))])
    return candidates[np.argsort(-scores, kind="stable")[:batch]]


def run_order(order: str, pool, pool_y, test, test_y, args, seed: int) -> list[tuple[int, float]]:
    """(labels, test AUC) after each round of one simulated labeller."""
    rng = np.random.default_rng([seed, 7])
    first = np.concatenate([rng.choice(np.flatnonzero(pool_y == c), args.seed_set // 2,
                                       replace=False) for c in (0, 1)])
    labelled = np.zeros(len(pool), bool)
    labelled[first] = True
    curve = []
    for r in range(args.rounds + 1):
        net = train(pool[labelled], pool_y[labelled], args.steps, seed * 1000 + r)
        auc = roc_auc(test_y, probabilities(net, test)[:, 1])
        curve.append((int(labelled.sum()), float(auc)))
        print(f"  seed {seed} {order}: {curve[-1][0]} labels, test AUC {auc:.3f}", flush=True)
        if r == args.rounds:
            break
        picked = next_batch(order, net, pool, np.flatnonzero(~labelled), args.batch, rng)
        labelled[picked] = True
    return curve


def labels_to(curve: list[tuple[int, float]], target: float) -> int | None:
    """Labels at the first round reaching ``target`` AUC (None: never)."""
    return next((n for n, auc in curve if auc >= target), None)


def _table(curves: dict, target: float) -> None:
    """Labels to reach ``target`` per order and seed, their mean, and the saving vs random."""
    print(f"\nlabels to reach test AUC {target}")
    print(f"{'order':10s} {'per seed':24s} {'mean':>6s} {'saving vs random':>18s}")
    base = None
    for order, runs in curves.items():
        needed = [labels_to(c, target) for c in runs]
        mean = float(np.mean(needed)) if None not in needed else None
        if order == "random":
            base = mean
        saving = "" if order == "random" or mean is None or base is None else \
            f"{base - mean:+.0f} ({(base - mean) / base:+.0%})"
        cells = ", ".join(str(n) if n is not None else "never" for n in needed)
        print(f"{order:10s} {cells:24s} {'never' if mean is None else f'{mean:.0f}':>6s} "
              f"{saving:>18s}")


def _overall(curves: dict) -> None:
    """Mean test AUC over every round (the area under the learning curve, less noisy than
    the first round past a target) and at the last round."""
    print("\nmean test AUC over the rounds / at the last round: " + ", ".join(
        f"{o} {np.mean([[a for _, a in c] for c in runs]):.3f} / "
        f"{np.mean([c[-1][1] for c in runs]):.3f}" for o, runs in curves.items()))


def _read_logs(paths: list[Path]) -> dict:
    """Curves from the ``seed S ORDER n:auc …`` lines of earlier runs (each seed once)."""
    curves: dict[str, dict[str, list]] = {o: {} for o in ORDERS}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) > 3 and parts[0] == "seed" and parts[2] in ORDERS:
                curves[parts[2]][parts[1]] = [(int(n), float(a)) for n, a in
                                              (p.split(":") for p in parts[3:])]
    return {o: list(runs.values()) for o, runs in curves.items() if runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=int, default=400, help="unlabelled pool (default 400)")
    parser.add_argument("--test", type=int, default=300, help="test images (default 300)")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    parser.add_argument("--orders", default=",".join(ORDERS),
                        help=f"orders to run (default {','.join(ORDERS)})")
    parser.add_argument("--seed-set", type=int, default=20, help="labels to start with (default 20)")
    parser.add_argument("--batch", type=int, default=10, help="labels per round (default 10)")
    parser.add_argument("--rounds", type=int, default=12, help="rounds after the seed set (default 12)")
    parser.add_argument("--steps", type=int, default=400,
                        help="training steps (batches of 16) per round (default 400)")
    parser.add_argument("--seeds", type=int, default=2, help="repetitions (default 2)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seed of the first repetition (to run more in another process)")
    parser.add_argument("--from-logs", nargs="+", type=Path, metavar="LOG",
                        help="print the tables of earlier runs' output instead of running")
    parser.add_argument("--targets", default="0.85,0.88,0.9",
                        help="target test AUCs (default 0.85,0.88,0.9)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/medview-bench-active"),
                        help="where the drawn images are kept between runs")
    args = parser.parse_args()
    if args.from_logs:
        curves = _read_logs(args.from_logs)
        for target in (float(t) for t in args.targets.split(",")):
            _table(curves, target)
        _overall(curves)
        return 0
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    test, test_y = make_images(args.test, args.size, 900_001, args.cache)
    orders = [o for o in ORDERS if o in args.orders.split(",")]
    curves: dict[str, list[list[tuple[int, float]]]] = {o: [] for o in orders}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        pool, pool_y = make_images(args.pool, args.size, seed, args.cache)
        for order in orders:
            curves[order].append(run_order(order, pool, pool_y, test, test_y, args, seed))
            print(f"seed {seed} {order:8s} " + " ".join(f"{n}:{a:.3f}" for n, a in curves[order][-1]),
                  flush=True)
    print(f"\n{args.seeds} seeds, pool {args.pool}, seed set {args.seed_set}, batch {args.batch}, "
          f"{args.steps} steps a round, {args.size} px ({time.perf_counter() - t0:.0f} s)")
    for target in (float(t) for t in args.targets.split(",")):
        _table(curves, target)
    _overall(curves)
    return 0


if __name__ == "__main__":
    sys.exit(main())
