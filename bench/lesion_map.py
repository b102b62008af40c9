"""Issue 13 probe: what a small lesion map learns from ~100 labelled cases per class, with masks.

    python bench/lesion_map.py [--per-class 100] [--minutes 5] [--size 192]

Same images as ``bench/learning_curve.py`` (``bench/lesion_data.py``: real radiograph, MR
and CT backgrounds, synthetic round lesions; held-out set of ``TEST_SEED``), made in memory.
Two runs of the trainer's ``lesion_map`` network (a 5x5 stride-2 stem, six 3x3 conv + BN +
ReLU layers, two 2x2 max pools: a lesion score every 8 pixels, ~0.09 M weights), after its
fixed local-contrast step (each pixel minus the mean of its 31x31 neighbourhood), from random
initialisation, AdamW (lr 3e-3, cosine decay over the budget), batch 16, rotations, flips
and gain/offset jitter, for the same wall-clock budget:

* **dense masks**: every map cell is trained with binary cross-entropy against "a lesion
  pixel lies in this 8x8 cell" (the mask, max-pooled; positives weighted 20x);
* **image labels only**: the same network, the image's score = the max of its map,
  trained with the image's label (multiple-instance learning, no masks).

Each image's score is the max of its map; the held-out AUC is printed as training goes and
at the end, beside the figures medview's trainer reached on this data (``REFERENCE``, from
``bench/recipe.py`` runs recorded in issue 13's notes). This probe led to the trainer's
``lesion_map`` architecture (:mod:`medview.inference.lesion_map`, the same network), which
the recipe builds for ``"architecture": "auto"`` when masks show small findings; measure
that through the trainer with ``bench/learning_curve.py --rows plain,auto`` or
``bench/recipe.py --job '{"model": {"architecture": "auto"}}'``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench import lesion_data  # noqa: E402
from medview.inference.lesion_map import LesionMapNet  # noqa: E402
from trainer.metrics import roc_auc  # noqa: E402

#: held-out AUC of medview's trainer on this data at 100 per class (issue 13 notes, bench/recipe.py)
REFERENCE = {"medview default recipe, 10 min": 0.526, "medview top-k map head, 10 min": 0.555}
LR = 3e-3
POS_WEIGHT = 20.0


def make_set(seed: int, per_class: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images N×1×S×S in 0..1, masks N×1×S×S of 0/1, labels N) for ``per_class`` each."""
    images, masks, labels = [], [], []
    for i in range(2 * per_class):
        rng = np.random.default_rng([seed, 1, i])  # as lesion_data.write_lesion_data
        lesions = 0 if i % 2 else 1
        image, mask, _ = lesion_data.make_image(rng, size, lesions)
        images.append(image.astype(np.float32))
        masks.append((mask > 0).astype(np.float32))
        labels.append(lesions)
    return np.stack(images)[:, None], np.stack(masks)[:, None], np.array(labels)


def _net() -> LesionMapNet:
    """The trainer's lesion map, class 0 = lesion (class 1, normal, is the background)."""
    return LesionMapNet(1, 2, background_class=1)


def _lesion_map(net: LesionMapNet, x: torch.Tensor) -> torch.Tensor:
    """The lesion class's map (N, 1, h, w)."""
    return net.forward_maps(x)[1][:, :1]


def _augment(x: torch.Tensor, m: torch.Tensor, rng: np.random.Generator):
    k = int(rng.integers(4))
    x, m = torch.rot90(x, k, (2, 3)), torch.rot90(m, k, (2, 3))
    if rng.random() < 0.5:
        x, m = x.flip(3), m.flip(3)
    n = x.shape[0]
    gain = torch.from_numpy(rng.uniform(0.8, 1.25, (n, 1, 1, 1)).astype(np.float32))
    offset = torch.from_numpy(rng.uniform(-0.1, 0.1, (n, 1, 1, 1)).astype(np.float32))
    return x * gain + offset, m


def held_out_auc(net: LesionMapNet, images: np.ndarray, labels: np.ndarray) -> float:
    """AUC of each image's max map logit."""
    net.eval()
    with torch.no_grad():
        scores = torch.cat([_lesion_map(net, torch.from_numpy(images[i:i + 50])).amax((1, 2, 3))
                            for i in range(0, len(images), 50)])
    net.train()
    return roc_auc(labels, scores.numpy())


def train(mode: str, train_set, test_set, minutes: float, seed: int) -> tuple[float, int, list]:
    """Train one network for ``minutes``; (final held-out AUC, epochs, [(s, AUC), ...])."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images, masks, labels = (torch.from_numpy(a) for a in train_set)
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), LR, weight_decay=1e-4)
    pos_weight = torch.tensor(POS_WEIGHT)
    t0, epochs, trace, budget = time.perf_counter(), 0, [], minutes * 60
    while time.perf_counter() - t0 < budget:
        order = torch.from_numpy(rng.permutation(len(images)))
        for b in range(0, len(order), 16):
            done = min(1.0, (time.perf_counter() - t0) / budget)
            for group in opt.param_groups:  # cosine decay over the wall-clock budget
                group["lr"] = LR * 0.5 * (1 + math.cos(math.pi * done))
            idx = order[b:b + 16]
            x, m = _augment(images[idx], masks[idx], rng)
            out = _lesion_map(net, x)
            if mode == "dense masks":
                target = F.adaptive_max_pool2d(m, out.shape[-2:])
                loss = F.binary_cross_entropy_with_logits(out, target, pos_weight=pos_weight)
            else:
                loss = F.binary_cross_entropy_with_logits(out.amax((1, 2, 3)), labels[idx].float())
            opt.zero_grad()
            loss.backward()
            opt.step()
        epochs += 1
        if epochs % 10 == 0:
            trace.append((time.perf_counter() - t0, held_out_auc(net, test_set[0], test_set[2])))
    return held_out_auc(net, test_set[0], test_set[2]), epochs, trace


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=100, help="labelled images per class")
    ap.add_argument("--test-per-class", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=5.0, help="training budget per run")
    ap.add_argument("--size", type=int, default=192, help="image side in pixels")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.seed == lesion_data.TEST_SEED:
        ap.error("that seed makes the held-out set")
    train_set = make_set(args.seed, args.per_class, args.size)
    test_set = make_set(lesion_data.TEST_SEED, args.test_per_class, args.size)
    print(f"lesion map, {args.per_class} labelled images per class, {args.size} px, "
          f"{args.minutes:g} min per run, {torch.get_num_threads()} threads; held-out "
          f"{2 * args.test_per_class} images")
    results = {}
    for mode in ("dense masks", "image labels only"):
        auc, epochs, trace = train(mode, train_set, test_set, args.minutes, args.seed)
        results[mode] = auc
        steps = " ".join(f"{s:.0f}s:{a:.3f}" for s, a in trace)
        print(f"  {mode:<18} held-out AUC {auc:.3f} after {epochs} epochs  (trace {steps})",
              flush=True)
    for name, auc in REFERENCE.items():
        print(f"  {name:<34} {auc:.3f} (recorded)")
    best_ref = max(REFERENCE.values())
    print(f"dense-mask lesion map vs medview's best recorded: {results['dense masks']:.3f} vs "
          f"{best_ref:.3f} (+{results['dense masks'] - best_ref:.3f}); issue 13's target >= 0.90")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
