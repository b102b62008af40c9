"""Does a job with only ``dataset`` and ``model`` learn? The recipe's defaults on the lesion
benchmark data (``bench/lesion_data.py``: real pydicom-data backgrounds, synthetic lesions).

One training run through ``python -m trainer`` (the job gives the data set, the model and,
optionally, the time budget; everything else is the recipe's), then the trained model on a
held-out test set of the same kind (seed ``TEST_SEED``), which the run never saw, scored as
the viewer runs it (``bench/held_out.py``)::

    nice -n 5 python bench/recipe.py --task classification --n 100 --budget 10
    nice -n 5 python bench/recipe.py --task segmentation --n 100 --budget 10
    nice -n 5 python bench/recipe.py --task classification --no-masks   # without the mask column

Prints the recipe the run chose, the epochs it ran, its wall time and the held-out test
AUC (classification) or pooled Dice (segmentation). Data are cached under ``--work``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = {"classification": {"architecture": "resnet18"},
          "segmentation": {"architecture": "fpn", "arguments": {"encoder_name": "resnet18"}}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=sorted(MODELS), default="classification")
    ap.add_argument("--n", type=int, default=100, help="labelled images per class (default 100)")
    ap.add_argument("--n-test", type=int, default=100, help="held-out images per class (default 100)")
    ap.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the training data (default 1)")
    ap.add_argument("--budget", type=float, default=10.0, help="time_budget_minutes (default 10)")
    ap.add_argument("--no-masks", action="store_true", help="classification: drop the CSV's mask column")
    ap.add_argument("--job", default="{}", help="extra job fields as JSON (they win over the recipe)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/medview-bench-recipe"))
    args = ap.parse_args(argv)
    from bench.held_out import score_model
    from bench.lesion_data import TEST_SEED, write_lesion_data

    data = _cached(args.work / f"{args.task}-n{args.n}-s{args.size}-seed{args.seed}",
                   lambda out: write_lesion_data(out, args.task, args.n, args.seed, size=args.size))
    test = _cached(args.work / f"{args.task}-n{args.n_test}-s{args.size}-test",
                   lambda out: write_lesion_data(out, args.task, args.n_test, TEST_SEED, size=args.size))
    dataset = data / "labels.csv" if args.task == "classification" else data
    if args.no_masks:
        dataset = _without_masks(dataset)
    run = args.work / f"run-{args.task}-n{args.n}{'-nomask' if args.no_masks else ''}"
    job = {"dataset": str(dataset), "model": MODELS[args.task], "time_budget_minutes": args.budget,
           "output": str(run), **json.loads(args.job)}
    run = Path(job["output"])
    if args.task == "segmentation":
        job["dataset"] = {"path": str(dataset), "class_names": ["background", "lesion"]}
    run.mkdir(parents=True, exist_ok=True)
    (run.parent / f"{run.name}.json").write_text(json.dumps(job, indent=1))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "trainer", str(run.parent / f"{run.name}.json")],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        return 1
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    recipe = next(e["message"] for e in events if e["type"] == "log" and e["message"].startswith("recipe:"))
    ends = [e for e in events if e["type"] == "epoch_end"]
    in_run = next(e["metrics"] for e in events if e["type"] == "evaluation")
    held_out = score_model(run / "model", test if args.task == "segmentation" else test / "labels.csv", args.task)
    print(recipe)
    for e in events:
        if e["type"] == "log" and ("start check" in e["message"] or "time budget" in e["message"]
                                   or "lesion masks" in e["message"]):
            print(" ", e["message"])
    print(f"{args.task}: {args.n} labelled images per class, budget {args.budget:g} min, "
          f"{len(ends)} epochs in {wall / 60:.1f} min (wall, trainer process)")
    key = "auc" if args.task == "classification" else "dice"
    print(f"in-run test split ({in_run.get(key) and 'n=' + str(_n_test(run))}): {key} {in_run.get(key):.3f}")
    print(f"held-out test set ({2 * args.n_test} images, seed TEST_SEED): " +
          ", ".join(f"{k} {v:.3f}" for k, v in held_out.items()))
    return 0


def _cached(folder: Path, write) -> Path:
    done = folder / ".done"
    if not done.exists():
        write(folder)
        done.write_text("ok")
    return folder


def _without_masks(csv_path: Path) -> Path:
    out = csv_path.with_name("labels-nomask.csv")
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["path", "label", "patient_id"])
        w.writerows([(r["path"], r["label"], r["patient_id"]) for r in rows])
    return out


def _n_test(run: Path) -> int:
    return json.loads((run / "model" / "evaluation.json").read_text()).get("n_test", 0)


if __name__ == "__main__":
    raise SystemExit(main())
