"""The run's training fitted into its time budget.

:func:`apply_recipe` fills in what the job leaves out (:mod:`trainer.recipe`), builds
the network and, when the epochs are to be planned from a budget, measures its speed and
lowers the input size the recipe chose while fewer than ``MIN_EPOCHS`` epochs would fit.
:func:`plan_training` then gives one training its epochs and its share of the budget,
and :func:`fit_trainings` runs it — or, with the **start check**, two: the start from
trained weights, then the same network from random weights, each in half of the
training time; the better best-validation score is kept (a tie keeps the trained start).
So a fine-tune (the quick preset) never ends worse on validation than training from
scratch would have in the same time.

The second training keeps its checkpoints in ``checkpoints/scratch/``; ``--resume``
continues whichever was running.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from medview.core.errors import one_line
from trainer import recipe as R
from trainer.budget import FINISH_RESERVE_S
from trainer.epochs import Pace, Training
from trainer.errors import JobFailed
from trainer.monitor import format_metric, kept_name

__all__ = ["apply_recipe", "plan_training", "fit_trainings", "SCRATCH_DIR", "PREP_S_PER_IMAGE"]

#: Sub-folder of ``checkpoints/`` for the random-weights side of the start check.
SCRATCH_DIR = "scratch"
#: Seconds to decode and prepare one image, for planning before it is done.
PREP_S_PER_IMAGE = 0.02
#: Bytes per second a checkpoint is written at, for the first estimate of an epoch.
WRITE_BYTES_PER_S = 200e6
#: The network trains in the channels-last layout when that is at least this much faster.
CHANNELS_LAST_GAIN = 1.1


def apply_recipe(job, dataset, parts: dict, device, budget, dist, sink):
    """The job with the recipe's choices, the recipe, and the network built for it.

    Parameters
    ----------
    job : Job
        As parsed.
    dataset : LabelledDataset
    parts : dict
        Sample indices per part.
    device : torch.device
    budget : trainer.budget.Budget
    dist : trainer.distributed.Dist
    sink : EventSink

    Returns
    -------
    job : Job
        Epochs still open when they are to be planned (:func:`plan_training`).
    recipe : Recipe
    net : trainer.network.Network
    """
    from trainer.data.fingerprint import fingerprint
    from trainer.network import build_network

    fp = fingerprint(dataset)
    chosen, recipe = R.choose(job, fp, len(parts["train"]), list(dataset.classes))
    net = build_network(chosen, dataset, device, sink)
    if budget.limited and job.epochs is None:
        recipe.speed = _speed(net, chosen, device, dist, sink)
        recipe.overhead_s = _overhead(net)
        chosen, net = _fit_size(chosen, recipe, net, parts, budget, dataset, device, dist, sink)
    return chosen, recipe, net


def plan_training(parsed, job, recipe, sizes: dict, budget, *, arm: int = 0, offset: int = 0,
                  trained: bool | None = None):
    """One training's epochs and its share of the budget.

    Parameters
    ----------
    parsed : Job
        The job as parsed (which fields it left to the recipe).
    job : Job
        From :func:`apply_recipe`.
    recipe : Recipe
        Receives the choices (the first training's; the second's go to ``recipe.scratch``).
    sizes : dict
        Images per part.
    budget : Budget
    arm : int
        0 for the first training, 1 for the start check's second.
    offset : int
        Epochs already reported by an earlier training (events number on).
    trained : bool, optional
        Whether the network starts from trained weights (default: as the job says).

    Returns
    -------
    job : Job
    pace : trainer.epochs.Pace
    """
    trained = R.starts_trained(job) if trained is None else trained
    reserve = _reserve(recipe.speed, sizes)
    later = recipe.arms - arm - 1
    seconds = end_s = None
    if budget.limited:
        seconds = max(0.0, budget.left() - reserve) / (later + 1)
        end_s = budget.elapsed() + seconds
    epoch_s = (R.epoch_seconds(recipe.speed, sizes["train"], sizes["val"], recipe.overhead_s)
               if recipe.speed else None)
    target = recipe if arm == 0 else R.Recipe(recipe.fingerprint)
    job = R.plan_epochs(job, target, seconds, epoch_s, trained)
    if arm:
        recipe.scratch = target.chosen
    pace = Pace(budget, end_s, adaptive=parsed.epochs is None and budget.limited, max_epochs=R.MAX_EPOCHS,
                offset=offset, after_s=(reserve if budget.limited else 0.0) + (seconds or 0.0) * later)
    return job, pace


def fit_trainings(parsed, job, pace, recipe, run, net, data, ckpt_dir: Path, checkpoint, resume: bool,
                  on_plan=None) -> Training:
    """Train (both sides of the start check when the recipe says so); the Training to keep.

    Parameters
    ----------
    parsed, job : Job
        As parsed, and planned (:func:`plan_training`).
    pace : Pace
    recipe : Recipe
    run : dict
        ``job_id``, ``dataset``, ``dist``, ``sink``, ``token``, ``device`` of the run.
    net : trainer.network.Network
    data : trainer.preparation.Prepared
    ckpt_dir : Path
    checkpoint : dict or None
        Resume state of the first training.
    resume : bool
    on_plan : callable, optional
        Called with the second training's job once it is planned (to record it).
    """
    first = Training(job, run["job_id"], run["dataset"], net, data, ckpt_dir, run["dist"], run["sink"],
                     run["token"], run["device"], checkpoint, pace)
    first.recipe = recipe
    first.fit()
    if recipe.arms == 1:
        return first
    from trainer.network import random_network

    sink, budget = run["sink"], pace.budget
    scratch_dir = ckpt_dir / SCRATCH_DIR
    state = _scratch_checkpoint(scratch_dir, resume, run["dist"])
    if state is not None:
        budget.catch_up(float(state.get("spent_s", 0.0)))
    unplanned = replace(job, epochs=parsed.epochs, warmup_epochs=parsed.warmup_epochs,
                        freeze_epochs=parsed.freeze_epochs if parsed.freeze_epochs is not None else 0)
    job2, pace2 = plan_training(parsed, unplanned, recipe, data.sizes, budget, arm=1, offset=first.epochs,
                                trained=False)
    if on_plan is not None:
        on_plan(job2)
    sink.log("info", f"start check: now the same network from random weights, "
                     f"{job2.epochs} epoch(s) in the time left ({budget.describe()} spent), to compare "
                     f"with the trained start's {kept_name(job.final_weights)} validation {first.monitor} "
                     f"{format_metric(first.best['metric'])}")
    second = Training(job2, run["job_id"], run["dataset"], random_network(net, run["device"]), data,
                      scratch_dir, run["dist"], sink, run["token"], run["device"], state, pace2)
    second.recipe = recipe
    second.fit()
    return keep_better(first, second, sink)


def keep_better(trained: Training, scratch: Training, sink) -> Training:
    """The Training with the better validation score of its kept weights (a tie keeps
    ``trained``); the outcome is logged and recorded as ``start_check`` on it."""
    a, b = trained.best["metric"], scratch.best["metric"]
    kept_score = f"{kept_name(trained.job.final_weights)} validation {trained.monitor}"
    better = b is not None and (a is None or (b < a if trained.mode == "min" else b > a))
    kept, other = (scratch, trained) if better else (trained, scratch)
    check = {"monitor": trained.monitor, "trained_start": a, "random_start": b,
             "kept": "random_start" if better else "trained_start",
             "trained_parent": trained.net.parent}
    sink.log("info", f"start check: {kept_score} {format_metric(a)} from "
                     f"{trained.net.parent.removeprefix('fine-tuned from ')} vs {format_metric(b)} from random "
                     f"weights: keeping the {'random-weights' if better else 'trained'} start")
    if better:
        kept.net.parent += (f"; the start check preferred it to a start from "
                            f"{other.net.parent.removeprefix('fine-tuned from ')} ({kept_score} "
                            f"{format_metric(b)} vs {format_metric(a)})")
    kept.start_check = check
    return kept


def _speed(net, job, device, dist, sink) -> float:
    """Training images/s of the network (the main process's measure, for every process) in
    the faster memory layout, which the network is left in.

    Channels-last (NHWC) lets oneDNN run convolutions without reordering: measured on two
    Zen 3 cores, ``lesion_unet`` trains 1.55× faster in it. Whether it pays depends on the
    network and the device, so both layouts are measured.
    """
    import torch

    shape, batch = net.manifest.input_shape, min(job.batch_size, 8)
    usual = float(dist.broadcast(R.measure_speed(net.module, shape, batch, device)))
    net.module.to(memory_format=torch.channels_last)
    nhwc = float(dist.broadcast(R.measure_speed(net.module, shape, batch, device)))
    if nhwc >= CHANNELS_LAST_GAIN * usual:
        sink.log("info", f"memory layout: channels last, {nhwc / usual:.2f}× the training speed of the usual "
                         "layout (measured)")
        return nhwc
    net.module.to(memory_format=torch.contiguous_format)
    return usual


def _fit_size(job, recipe, net, parts: dict, budget, dataset, device, dist, sink):
    """Lower the recipe's input size while fewer than MIN_EPOCHS epochs fit the budget."""
    from trainer.network import build_network

    sizes = {k: len(v) for k, v in parts.items()}
    while True:
        seconds = (budget.left() - sum(sizes.values()) * PREP_S_PER_IMAGE - _reserve(recipe.speed, sizes)) \
            / recipe.arms
        fit = seconds / R.epoch_seconds(recipe.speed, sizes["train"], sizes["val"], recipe.overhead_s)
        size = job.input_size[0] if job.input_size else None
        if fit >= R.MIN_EPOCHS or "input_size" not in recipe.chosen or size is None or size <= R.MIN_SIZE:
            return job, net
        smaller = R.smaller_size(size)
        recipe.choose("input_size", (smaller, smaller), recipe.reasons["input_size"]
                      + f"; lowered from {size} px: only {max(0, int(fit))} epochs would fit the budget")
        job = replace(job, input=replace(job.input, size=(smaller, smaller)))
        if "patch_size" in recipe.chosen:
            job = replace(job, patch_size=recipe.choose("patch_size", *R.patch_size(recipe.fingerprint,
                                                                                     job.input_size)))
        net = build_network(job, dataset, device, sink)
        recipe.speed = _speed(net, job, device, dist, sink)


def _overhead(net) -> float:
    """Seconds per epoch for checkpoints: ``last.pt`` holds the weights and Adam's two moments."""
    params = sum(p.numel() * p.element_size() for p in net.module.parameters())
    return 4 * params / WRITE_BYTES_PER_S


def _reserve(speed: float | None, sizes: dict) -> float:
    """Seconds kept for the end of the run (calibration on validation, the test report)."""
    if not speed:
        return FINISH_RESERVE_S
    return FINISH_RESERVE_S + (2 * sizes["val"] + sizes["test"]) / (speed * R.EVAL_SPEEDUP)


def _scratch_checkpoint(folder: Path, resume: bool, dist) -> dict[str, Any] | None:
    from trainer.checkpoints import LAST_NAME, load_checkpoint

    last = folder / LAST_NAME
    if not resume:
        if dist.main:
            shutil.rmtree(folder, ignore_errors=True)
        return None
    if not last.exists():
        return None
    try:
        return load_checkpoint(last)
    except Exception as err:
        raise JobFailed(f"cannot resume: {last} is not a usable checkpoint ({one_line(err, 200)}); "
                        "start the job afresh") from None
