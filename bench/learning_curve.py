"""Learning curve: held-out test AUC and Dice versus labelled images per class (issue 13).

Run::

    nice -n 5 .venv/bin/python bench/learning_curve.py                  # everything (hours)
    nice -n 5 .venv/bin/python bench/learning_curve.py --sizes 50,100 --tasks classification \\
        --budget-minutes 5 --work /tmp/lcurve --json lcurve.json

Data (``bench/lesion_data.py``): real radiograph, MR and CT backgrounds from pydicom-data
with synthetic round lesions, never seen by medview. For ``n`` labelled images per class
the trainer gets ``n`` lesion and ``n`` normal images (segmentation: ``n`` with one or
two lesions, ``n`` without) and splits them itself; every row is scored on one fixed
held-out set (``--test-per-class`` per class, seed ``lesion_data.TEST_SEED``) that no run
sees. The sets of different sizes are nested (the first images are the same).

Rows, each trained for the same wall-clock budget (``--budget-minutes``):

(a) ``plain``: a textbook PyTorch loop from random init (``bench/plain_loop.py``);
(b) ``random``: medview (``python -m trainer JOB`` in a subprocess, default preset) from
    random init, ResNet-18 (FPN with a ResNet-18 encoder for segmentation);
(b2) ``auto``: the same with ``"architecture": "auto"``, the Trainer tab's default: the
    recipe chooses the network from the data (when the masks show small findings
    ``lesion_map`` to classify, :mod:`medview.inference.lesion_map`, and ``lesion_unet``
    trained on patches to segment, :mod:`medview.inference.lesion_unet`);
(c) ``pretrain``: medview starting from a backbone pre-trained self-supervised by a
    ``"task": "pretrain"`` job on ``--unlabelled`` unlabelled images of the same kind
    (run once, ``--pretrain-minutes``, registered with ``--register``, used as
    ``"model": {..., "backbone": NAME}``);
(d) ``import``: medview starting from a torchvision-layout ``.pth`` state dict imported
    with ``medview models import-backbone`` and used as ``"backbone"`` (where that
    command is missing: through the job's ``weights`` field). ``--import-weights FILE``
    names it (e.g. the official ImageNet ResNet-18); by default one is made here: a
    ``pretrain`` job on images of another kind (ultrasound, nuclear medicine, CT; no
    radiographs), its trunk saved with ``torch.save(state_dict)``.

A medview row is timed from the subprocess start to its end (data discovery, training,
test report, model folder) and the held-out scoring is not counted. When the trainer
knows ``time_budget_minutes`` the job gets it; otherwise the job gets an epoch count
estimated from the plain loop's speed, and the table says so. Rows that need a feature
the trainer does not have yet (``pretrain`` task, ``backbone`` field) print ``n/a`` with
the reason.

Everything generated (data, runs, backbones: ``MEDVIEW_USER_DIR`` points into it) lives
under ``--work`` (default: a new temporary folder), so a rerun with the same ``--work``
reuses the data and the pre-trained backbones and only repeats the training runs.
``--json OUT`` writes every figure. The targets of the issue are printed with pass/fail.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the trainer sets it
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import lesion_data  # noqa: E402

ROWS = ("plain", "random", "auto", "pretrain", "import")
TASKS = ("classification", "segmentation")
METRIC = {"classification": "auc", "segmentation": "dice"}
PRETRAIN_NAME, OTHER_NAME, IMPORTED_NAME = "lc-pretrain-same", "lc-pretrain-other", "lc-imported"
#: Issue 13's targets: at ~100 images per class within 10 minutes; pre-training gain at 50.
TARGETS = {"classification": 0.90, "segmentation": 0.80}
PRETRAIN_GAIN, TARGET_N, GAIN_N, TARGET_MINUTES = 0.10, 100, 50, 10.0
# Images per second assumed for the epoch estimate when the plain row did not run.
_FALLBACK_RATE = {"classification": 10.0, "segmentation": 4.0}


@dataclass
class Cell:
    """One training run and its held-out figures."""

    task: str
    row: str
    n: int
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    epochs: float | None = None
    note: str = ""

    @property
    def value(self) -> float | None:
        return self.metrics.get(METRIC[self.task])


# -- data ----------------------------------------------------------------------------------


class Data:
    """Generated data sets under ``root``, each written once (a ``.done`` file marks it)."""

    def __init__(self, root: Path, size: int, test_per_class: int, seed: int) -> None:
        self.root, self.size, self.test_per_class, self.seed = root, size, test_per_class, seed

    def _once(self, name: str, make) -> Path:
        folder = self.root / name
        if not (folder / ".done").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            make(folder)
            (folder / ".done").write_text("ok\n")
        return folder

    @staticmethod
    def _target(folder: Path, task: str) -> Path:
        return folder / "labels.csv" if task == "classification" else folder

    def train(self, task: str, n: int) -> Path:
        folder = self._once(f"{task}-{n}-seed{self.seed}-{self.size}px", lambda f: lesion_data.write_lesion_data(
            f, task, n, self.seed, self.size))
        return self._target(folder, task)

    def test(self, task: str) -> Path:
        seed, n = lesion_data.TEST_SEED, self.test_per_class
        folder = self._once(f"{task}-test-{n}-seed{seed}-{self.size}px", lambda f: lesion_data.write_lesion_data(
            f, task, n, seed, self.size))
        return self._target(folder, task)

    def unlabelled(self, n: int, kind: str) -> Path:
        seed = self.seed + 1000  # never a labelled or the test seed
        return self._once(f"unlabelled-{kind}-{n}-seed{seed}-{self.size}px",
                          lambda f: lesion_data.write_unlabelled(f, n, seed, self.size, kind=kind))


# -- what the trainer can do ---------------------------------------------------------------


def trainer_features(work: Path) -> dict[str, bool]:
    """Which issue-13 job fields this checkout's trainer accepts."""
    from trainer.config import JobError, parse_job

    probe = work / "probe"
    if not any(probe.glob("*.dcm")):
        lesion_data.write_unlabelled(probe, 1, seed=0, size=64)  # a data set to validate against

    def accepts(job: dict) -> bool:
        try:
            parse_job(job, base_dir=probe)
            return True
        except JobError:
            return False
        except Exception:  # noqa: BLE001 - a half-built feature counts as missing
            return False

    base = {"dataset": str(probe), "model": {"architecture": "resnet18"}}
    try:
        import medview.inference.backbones  # noqa: F401
        backbones = True
    except ImportError:
        backbones = False
    return {"time_budget": accepts({**base, "time_budget_minutes": 1}),
            "pretrain": accepts({**base, "task": "pretrain"}),
            "backbones": backbones}


# -- medview runs --------------------------------------------------------------------------


def model_spec(task: str, start: tuple[str, str] | None = None, auto: bool = False) -> dict:
    """The job's ``model`` field: ResNet-18, or FPN with a ResNet-18 encoder, plus a start;
    with ``auto``, the recipe's choice."""
    if auto:
        return {"architecture": "auto"}
    spec = ({"architecture": "resnet18"} if task == "classification"
            else {"architecture": "fpn", "arguments": {"encoder_name": "resnet18"}})
    if start is not None:
        spec[start[0]] = start[1]
    return spec


def run_trainer(job: dict, run_dir: Path, timeout_s: float, register: bool = False) -> tuple[float, list[dict], str]:
    """``python -m trainer`` on ``job`` in a subprocess: (seconds, events, failure reason or "")."""
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    (run_dir / "job.json").write_text(json.dumps(job, indent=1))
    cmd = [sys.executable, "-m", "trainer", str(run_dir / "job.json"), "--output", str(run_dir)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd + (["--register"] if register else []), cwd=run_dir, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout_s)
        code, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        code, stderr = -1, f"killed after {timeout_s:.0f} s"
    seconds = time.perf_counter() - start
    events_file = run_dir / "events.jsonl"
    events = [json.loads(line) for line in events_file.read_text().splitlines()
              if line.strip()] if events_file.is_file() else []
    failed = [e.get("reason", "") for e in events if e.get("type") == "failed"]
    reason = "" if code == 0 else (failed[0] if failed else f"exit {code}: {stderr.strip()[-300:]}")
    return seconds, events, reason


def budget_fields(features: dict, budget_min: float, task: str, n: int, rate: float | None) -> tuple[dict, str]:
    """``time_budget_minutes``, or else an epoch count expected to fit, with a note."""
    if features["time_budget"]:
        return {"time_budget_minutes": budget_min}, ""
    rate = rate or _FALLBACK_RATE[task]
    # ~1.3 passes over all 2n images per epoch (train, validation, augmentation overhead)
    epochs = int(max(2, min(200, budget_min * 60 * rate / (1.3 * 2 * n))))
    return {"epochs": epochs}, f"epochs={epochs}"


def medview_cell(task: str, row: str, n: int, train: Path, test: Path, start, work: Path,
                 features: dict, budget_min: float, rate: float | None, seed: int | None = None) -> Cell:
    """Train one medview row in a subprocess and score it on the held-out set; ``seed``
    (of the labelled set) names its run folder, so runs on other sets in one ``--work``
    are kept."""
    from bench.held_out import score_model

    cell = Cell(task, row, n)
    extra, cell.note = budget_fields(features, budget_min, task, n, rate)
    dataset = (str(train) if task == "classification"
               else {"path": str(train), "class_names": ["background", lesion_data.CLASSES[0]]})
    job = {"name": f"lc-{task[:3]}-{row}-{n}", "version": "1", "task": task, "dataset": dataset,
           "model": model_spec(task, start, auto=row == "auto"), "seed": 0, **extra}
    run_dir = work / "runs" / (f"{task}-{row}-{n}" + (f"-seed{seed}" if seed is not None else ""))
    cell.seconds, events, reason = run_trainer(job, run_dir, timeout_s=budget_min * 180 + 300)
    cell.epochs = sum(1 for e in events if e.get("type") == "epoch_end")
    if reason:
        cell.note = f"failed: {reason}"
        return cell
    cell.metrics = score_model(run_dir / "model", test, task)
    return cell


def plain_cell(task: str, n: int, train: Path, test: Path, budget_min: float) -> tuple[Cell, float]:
    """The textbook loop for one size: (cell, its training images per second)."""
    from bench import plain_loop

    read = plain_loop.read_classification if task == "classification" else plain_loop.read_segmentation
    result = plain_loop.train_plain(task, read(train), read(test), budget_min * 60)
    return Cell(task, "plain", n, result.metrics, result.seconds, round(result.epochs, 1)), result.images_per_s


# -- starting points -----------------------------------------------------------------------


def pretrained_backbone(name: str, unlabelled: Path, work: Path, minutes: float) -> tuple[str | None, str]:
    """Pre-train and register backbone ``name`` once: (name or None, note)."""
    from medview.inference import backbones

    try:
        backbones.find_backbone(name)
        return name, "registered earlier in --work"
    except Exception:  # noqa: BLE001 - not there yet
        pass
    job = {"name": name, "version": "1", "task": "pretrain", "dataset": str(unlabelled),
           "model": {"architecture": "resnet18"}, "time_budget_minutes": minutes, "seed": 0}
    seconds, _, reason = run_trainer(job, work / "runs" / f"pretrain-{name}", minutes * 180 + 600, register=True)
    if reason:
        return None, f"pre-training failed: {reason}"
    return name, f"pre-trained in {seconds / 60:.1f} min"


def exported_backbone(name: str, target: Path) -> Path:
    """Backbone ``name``'s trunk as a torchvision-layout ``.pth`` (``torch.save(state_dict)``)."""
    import torch

    from medview.inference import backbones

    _, state = backbones.read_backbone(backbones.find_backbone(name))
    torch.save({k: v.contiguous() for k, v in state.items()}, target)
    return target


# -- the whole curve -----------------------------------------------------------------------


def run_curve(args, work: Path) -> tuple[list[Cell], dict[str, str], dict]:
    data = Data(work / "data", args.image_size, args.test_per_class, args.seed)
    features = trainer_features(work)
    labels = row_labels(args)
    starts: dict[str, tuple[str, str] | None] = {"random": None, "auto": None}
    if "pretrain" in args.rows:
        starts["pretrain"], labels["pretrain"] = _pretrain_start(args, data, work, features, labels["pretrain"])
    if "import" in args.rows:
        starts["import"], labels["import"] = _import_start(args, data, work, features, labels["import"])
    cells: list[Cell] = []
    for task in args.tasks:
        test, rate = data.test(task), None
        for n in args.sizes:
            train = data.train(task, n)
            for row in args.rows:
                if row == "plain":
                    cell, rate = plain_cell(task, n, train, test, args.budget_minutes)
                elif starts.get(row, ()) is None and row not in ("random", "auto"):
                    cell = Cell(task, row, n, note="n/a")
                else:
                    cell = medview_cell(task, row, n, train, test, starts[row], work, features,
                                        args.budget_minutes, rate, args.seed)
                cells.append(cell)
                print(f"  {task} {row:8s} {n:4d}/class: {_fmt(cell)}  {cell.seconds or 0:.0f} s "
                      f"{cell.note}", flush=True)
    return cells, labels, features


def row_labels(args) -> dict[str, str]:
    """Each row's title (before the colon, shown in the table) and how it started."""
    return {"plain": "(a) plain PyTorch loop, random init: bench/plain_loop.py",
            "random": "(b) medview, random init, resnet18: default preset",
            "auto": "(b2) medview, random init, auto: the recipe's network (small findings in the masks: lesion_map "
                    "to classify, lesion_unet on patches to segment)",
            "pretrain": f"(c) medview, pre-trained, same kind: self-supervised on {args.unlabelled} "
                        f"unlabelled images, {args.pretrain_minutes:g} min budget",
            "import": "(d) medview, imported backbone"}


def _pretrain_start(args, data: Data, work: Path, features: dict, label: str):
    if not (features["pretrain"] and features["backbones"]):
        return None, f"{label}; n/a, this trainer has no pretrain task / backbones yet"
    name, note = pretrained_backbone(backbone_name(PRETRAIN_NAME, args), data.unlabelled(args.unlabelled, "same"),
                                     work, args.pretrain_minutes)
    return (("backbone", name) if name else None), f"{label}; {note}"


def backbone_name(stem: str, args) -> str:
    """A name that changes with the pre-training settings, so --work never reuses a stale one."""
    return f"{stem}-{args.unlabelled}-{args.pretrain_minutes:g}min-{args.image_size}px-seed{args.seed}"


def _import_start(args, data: Data, work: Path, features: dict, label: str):
    if args.import_weights:
        path = Path(args.import_weights).resolve()
        made = f"{path.name} (given with --import-weights)"
    elif not (features["pretrain"] and features["backbones"]):
        return None, f"{label}; n/a, needs --import-weights FILE (no pretrain task here to make one)"
    else:
        name, note = pretrained_backbone(backbone_name(OTHER_NAME, args), data.unlabelled(args.unlabelled, "other"),
                                         work, args.pretrain_minutes)
        if name is None:
            return None, f"{label}; n/a, {note}"
        path = exported_backbone(name, work / "other-kind-resnet18.pth")
        made = (f"made here: self-supervised on {args.unlabelled} ultrasound/NM/CT images (no "
                f"radiographs), saved as a torchvision-layout .pth; {note}")
    start, how = imported_start(path, work)
    return start, f"{label}: {made}; {how}"


def imported_start(path: Path, work: Path) -> tuple[tuple[str, str], str]:
    """Import ``path`` as a backbone named after its content (``medview models
    import-backbone``), else fall back to the job's ``weights`` field (older trainers)."""
    name = f"{IMPORTED_NAME}-{hashlib.sha256(path.read_bytes()).hexdigest()[:10]}"
    try:
        from medview.inference import backbones

        backbones.find_backbone(name)
        return ("backbone", name), f"imported earlier in --work as {name}"
    except Exception:  # noqa: BLE001 - no backbones module, or not imported yet
        pass
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "medview", "models", "import-backbone", str(path),
                           "--name", name, "--architecture", "resnet18", "--register"],
                          cwd=work, env=env, capture_output=True, text=True)
    if proc.returncode == 0:
        return ("backbone", name), f"imported with 'medview models import-backbone' as {name}"
    return ("weights", str(path)), "loaded through the job's 'weights' field (no import-backbone command)"


# -- report --------------------------------------------------------------------------------


def _fmt(cell: Cell) -> str:
    if cell.value is None:
        return "n/a" if cell.note == "n/a" or not cell.note.startswith("failed") else "failed"
    if cell.task == "classification":
        return f"{cell.value:.3f} ({cell.metrics.get('accuracy', float('nan')):.2f})"
    return f"{cell.value:.3f}"


def table(cells: list[Cell], labels: dict[str, str], args) -> str:
    lines = []
    for task in args.tasks:
        what = "test AUC (accuracy)" if task == "classification" else "test Dice (pooled)"
        lines.append(f"\n{task}: {what} on {2 * args.test_per_class} held-out images; "
                     f"budget {args.budget_minutes:g} min per run")
        head = f"{'':48s}" + "".join(f"{f'{n}/class':>16s}" for n in args.sizes) + f"{'max time':>10s}"
        lines.append(head)
        for row in args.rows:
            mine = [c for c in cells if c.task == task and c.row == row]
            secs = [c.seconds for c in mine if c.seconds]
            lines.append(f"{labels[row].split(':')[0][:47]:48s}" + "".join(f"{_fmt(c):>16s}" for c in mine)
                         + (f"{max(secs) / 60:>8.1f} m" if secs else f"{'':>10s}"))
        notes = sorted({f"{c.row} {c.n}/class: {c.note}" for c in cells if c.task == task and c.note
                        and c.note != "n/a"})
        lines += [f"  note: {n}" for n in notes]
    lines.append("")
    lines += [f"  {labels[row]}" for row in args.rows]
    return "\n".join(lines)


def verdicts(cells: list[Cell], args) -> tuple[list[str], dict]:
    """Gains and the issue's targets, as lines and as data."""
    def get(task, row, n):
        return next((c for c in cells if (c.task, c.row, c.n) == (task, row, n)), None)

    def near(target):
        return min(args.sizes, key=lambda n: abs(n - target))

    lines, out = ["Gains and targets (issue 13):"], {"gains": [], "targets": []}
    for task in args.tasks:
        m, n_t, n_g = METRIC[task], near(TARGET_N), near(GAIN_N)
        r, p = get(task, "random", n_g), get(task, "pretrain", n_g)
        if r and p and r.value is not None and p.value is not None:
            gain = p.value - r.value
            ok = task != "classification" or gain >= PRETRAIN_GAIN
            lines.append(f"  {task} @{n_g}/class: pretrain - random = {gain:+.3f} {m}"
                         + (f"  (target >= +{PRETRAIN_GAIN:.2f}: {'PASS' if ok else 'FAIL'})"
                            if task == "classification" else ""))
            out["gains"].append({"task": task, "n": n_g, "pretrain_minus_random": gain})
        plain = get(task, "plain", n_t)
        for row in args.rows:
            c = get(task, row, n_t)
            if row == "plain" or c is None or c.value is None:
                continue
            vs = c.value - plain.value if plain and plain.value is not None else None
            in_time = c.seconds is not None and c.seconds <= TARGET_MINUTES * 60 * 1.05
            ok = c.value >= TARGETS[task] and in_time and (vs is None or vs > 0)
            lines.append(f"  {task} {row} @{n_t}/class: {m} {c.value:.3f} (target >= {TARGETS[task]:.2f}), "
                         f"{c.seconds / 60:.1f} min (<= {TARGET_MINUTES:g}), "
                         + (f"vs plain {vs:+.3f}" if vs is not None else "no plain row")
                         + f": {'PASS' if ok else 'FAIL'}")
            out["targets"].append({"task": task, "row": row, "n": n_t, "value": c.value,
                                   "minutes": c.seconds / 60, "vs_plain": vs, "pass": ok})
    return lines, out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="20,50,100,200", help="labelled images per class (comma-separated)")
    p.add_argument("--tasks", default="classification,segmentation")
    p.add_argument("--rows", default=",".join(ROWS), help=f"any of {','.join(ROWS)}")
    p.add_argument("--budget-minutes", type=float, default=10.0, help="wall-clock budget of every run")
    p.add_argument("--no-pretrain", action="store_true", help="skip row (c)")
    p.add_argument("--import-weights", metavar="FILE", help="torchvision-layout .pth/.safetensors for row (d)")
    p.add_argument("--unlabelled", type=int, default=2000, help="unlabelled images for pre-training")
    p.add_argument("--pretrain-minutes", type=float, default=30.0, help="budget of each pre-training job")
    p.add_argument("--test-per-class", type=int, default=100)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=1, help="seed of the labelled sets (never TEST_SEED)")
    p.add_argument("--work", help="folder for data, runs and backbones (reused by reruns)")
    p.add_argument("--json", metavar="OUT", help="write every figure to this JSON file")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.tasks = [t for t in args.tasks.split(",") if t]
    args.rows = [r for r in args.rows.split(",") if r and not (r == "pretrain" and args.no_pretrain)]
    bad = [t for t in args.tasks if t not in TASKS] + [r for r in args.rows if r not in ROWS]
    if bad:
        p.error(f"unknown task or row: {', '.join(bad)}")
    if args.seed == lesion_data.TEST_SEED:
        p.error("--seed must differ from the test seed")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(args.work).resolve() if args.work else Path(tempfile.mkdtemp(prefix="medview-lcurve-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["MEDVIEW_USER_DIR"] = str(work / "user")  # backbones and models stay in --work
    print(f"work folder: {work}", flush=True)
    cells, labels, features = run_curve(args, work)
    print(table(cells, labels, args))
    lines, figures = verdicts(cells, args)
    print("\n" + "\n".join(lines))
    if args.json:
        payload = {"args": {k: v for k, v in vars(args).items()}, "features": features,
                   "rows": labels, "cells": [asdict(c) for c in cells], **figures}
        Path(args.json).write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
