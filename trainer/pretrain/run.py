"""A pretrain run: images → self-supervised epochs → ``backbone/`` in the run folder.

:func:`pretrain` is what :func:`trainer.loop.run_job` calls for a job with ``"task":
"pretrain"``; the loop around it (events on stdout and in ``events.jsonl``,
``state.json``, cancel by file or signal, exit statuses, ``--register``) is the
training jobs' own. The run folder::

    job.resolved.json  state.json  events.jsonl
    checkpoints/last.pt   resume state (torch.load(weights_only=True) opens it)
    backbone/             backbone.json + weights.safetensors + card.md, written at the end

``last.pt`` is saved after every epoch, every :data:`SAVE_EVERY_S` seconds within a long
epoch (an archive of many thousand images), and when a cancel stops the run; ``--resume``
goes on from the same batch. A run with ``time_budget_minutes`` anneals its learning rate
to the end of the budget and stops there (:mod:`trainer.pretrain.schedule`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medview.core.errors import one_line
from trainer import events as ev
from trainer.checkpoints import CHECKPOINT_FORMAT, LAST_NAME, save_checkpoint, write_json
from trainer.errors import JobCancelled, JobFailed, write_or_fail
from trainer.evaluate import finite_or_none
from trainer.pretrain.register import RESULT_DIR
from trainer.pretrain.schedule import learning_rate, progress, target_momentum
from trainer.pretrain.ssl import METHOD_DEFAULTS, build_ssl, trunk_state
from trainer.pretrain.views import ViewSpec, random_view
from trainer.resume import resume_point

__all__ = ["pretrain", "Pretraining", "ViewPairs", "Result", "backbone_manifest", "view_manifest",
           "autocast_dtype", "write_result",
           "RESULT_DIR", "SAVE_EVERY_S"]

#: Longest time between two resume states within an epoch.
SAVE_EVERY_S = 600.0
#: Kept from a time budget for writing the backbone at the end.
RESERVE_S = 5.0


@dataclass
class Result:
    """The end of a run: the backbone folder and the last epoch's mean loss."""

    folder: Path
    loss: float | None


def backbone_manifest(job):
    """A manifest carrying the backbone's input, preprocessing and normalisation.

    These are the trainer's defaults, which a job starting from the backbone takes
    unless it sets its own. Only what :func:`medview.inference.preprocess.preprocess`
    reads matters here; the rest is filler a manifest requires.
    """
    from medview.inference.backbones import DEFAULT_PREPROCESSING, default_normalisation
    from medview.inference.manifest import parse_manifest

    return parse_manifest({
        "name": job.name, "version": job.version, "task": "classification",
        "architecture": {"name": job.architecture}, "classes": ["a", "b"],
        "input": {"size": list(job.input_size), "channels": 1},
        "normalisation": default_normalisation(1), "preprocessing": DEFAULT_PREPROCESSING,
        "card": {"intended_use": "backbone", "training_data": "unlabelled", "date": "2000-01-01"},
    })


def view_manifest(job):
    """The backbone's manifest at the size of the views pre-training compares."""
    from dataclasses import replace

    manifest = backbone_manifest(job)
    return replace(manifest, input=replace(manifest.input, size=(job.view_size, job.view_size)))


def autocast_dtype(precision: str, device):
    """The mixed-precision type to compute in, or None for float32.

    ``auto``: bfloat16 on a GPU that has it, and on a CPU with native bfloat16 arithmetic
    (AVX512-BF16 or AMX: it then takes about 0.6 of float32's time); float32 elsewhere,
    where bfloat16 would be emulated and slower.
    """
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    native = any(getattr(torch.cpu, name, lambda: False)()
                 for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return torch.bfloat16 if native else None


class ViewPairs:
    """Map-style dataset of two random views of each cached image (set :attr:`epoch`).

    Randomness follows ``(seed, epoch, image)``: a resumed epoch sees the same views.
    """

    def __init__(self, archive, manifest, spec: ViewSpec, seed: int) -> None:
        self.archive, self.manifest, self.spec, self.seed = archive, manifest, spec, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.archive)

    def __getitem__(self, i: int):
        rng = np.random.default_rng([self.seed, self.epoch, int(i), 2])
        values, invert = self.archive.values[i], bool(self.archive.invert[i])
        return (random_view(values, invert, self.manifest, self.spec, rng),
                random_view(values, invert, self.manifest, self.spec, rng))


def pretrain(job, run_dir: Path, job_id: str, dist, sink, token, device, resume: bool) -> Result | None:
    """Run a pretrain job to its end; the main process writes and returns the backbone.

    Raises
    ------
    JobCancelled
        After saving ``last.pt``, when a cancel was asked.
    JobFailed
        For unusable data, a diverging loss or a checkpoint that does not fit.
    """
    from trainer.job_common import CHECKPOINT_DIR, RESOLVED_NAME, SPLIT_NAME
    from trainer.pretrain.archive import read_archive
    from trainer.resume import find_checkpoint

    started = time.monotonic() - _process_age()
    torch.manual_seed(job.seed)
    if dist.main:
        write_or_fail(run_dir / RESOLVED_NAME, lambda p: write_json(p, job.to_dict()))
    ckpt_dir = run_dir / CHECKPOINT_DIR
    checkpoint = find_checkpoint(run_dir, ckpt_dir, run_dir / SPLIT_NAME, resume, dist, sink)
    archive = read_archive(job, sink, token, dist)
    if len(archive) < 2:
        raise JobFailed("pre-training needs at least 2 readable images (views are compared "
                        "within a batch)")
    sink.emit(ev.JobStarted(job=job_id, task="pretrain", model=job.label, dataset=archive.summary,
                            split={"train": len(archive)},
                            device=str(device) + (f" ×{dist.world}" if dist.enabled else "")))
    run = Pretraining(job, job_id, archive, device, dist, sink, token, ckpt_dir, checkpoint, started)
    run.fit()
    dist.barrier()
    if not dist.main:
        return None
    return Result(write_result(run, run_dir / RESULT_DIR), run.final_loss)


def _process_age(limit: float = 60.0) -> float:
    """Seconds since this trainer process started: starting Python and torch count against
    a time budget. A process older than ``limit`` ran other things first (a test, a
    script calling :func:`trainer.loop.run_job`): the budget then starts now."""
    import os

    import psutil

    try:
        age = time.time() - psutil.Process(os.getpid()).create_time()
    except (psutil.Error, OSError):
        return 0.0
    return age if 0.0 <= age <= limit else 0.0


class Pretraining:
    """The state of a pretrain run and :meth:`fit`, which advances it.

    Parameters
    ----------
    job : PretrainJob
    job_id : str
    archive : trainer.pretrain.archive.Archive
    device : torch.device
    dist : trainer.distributed.Dist
    sink : EventSink
    token : CancelToken
    ckpt_dir : Path
    checkpoint : dict or None
        A resume state to continue from.
    started : float
        ``time.monotonic()`` when the attempt's process began (starting it and reading
        the images count against the time budget).
    """

    def __init__(self, job, job_id: str, archive, device, dist, sink, token, ckpt_dir: Path,
                 checkpoint: dict | None, started: float) -> None:
        from trainer.data.inputs import epoch_batches

        self.job, self.job_id, self.archive, self.device = job, job_id, archive, device
        self.dist, self.sink, self.token, self.ckpt_dir = dist, sink, token, ckpt_dir
        self.net = build_ssl(job.architecture, job.method, len(archive)).to(device)
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.model = DDP(self.net, device_ids=[dist.local_rank] if device.type == "cuda" else None)
        else:
            self.model = self.net
        defaults = METHOD_DEFAULTS[job.method]
        self.base_lr = job.lr or defaults["lr"] * job.batch_size / 256
        self.tau = defaults.get("tau", 1.0)
        self.optimizer = torch.optim.SGD([p for p in self.net.parameters() if p.requires_grad],
                                         lr=self.base_lr, momentum=0.9,
                                         weight_decay=defaults["weight_decay"])
        self.per_rank_batch = max(2, job.batch_size // dist.world)
        self.batches_per_epoch = len(epoch_batches(len(archive), self.per_rank_batch, job.seed, 1,
                                                   dist.rank, dist.world))
        self.total_steps = job.epochs * self.batches_per_epoch
        self.budget_s = None
        if job.time_budget_minutes:
            self.budget_s = max(1.0, job.time_budget_minutes * 60 - (time.monotonic() - started) - RESERVE_S)
        self.items = ViewPairs(archive, view_manifest(job), ViewSpec(crop_scale=job.view_scale), job.seed)
        self.autocast = autocast_dtype(job.precision, device)
        if self.autocast is not None:
            sink.log("info", f"computing in {str(self.autocast).removeprefix('torch.')} (mixed precision)")
        self.workers = job.workers if job.workers is not None else (2 if device.type == "cuda" else 0)
        self.history: list[dict[str, Any]] = []
        self.step, self.elapsed_s, self.start_epoch, self.skip = 0, 0.0, 1, 0
        self.partial = (0.0, 0)
        self.finished = False
        if checkpoint is not None:
            self._restore(checkpoint)

    # ------------------------------------------------------------------ state

    @property
    def final_loss(self) -> float | None:
        """Mean loss of the last epoch (None before one ended)."""
        return self.history[-1]["train_loss"] if self.history else None

    @property
    def progress(self) -> float:
        return progress(self.step, self.total_steps, self.elapsed_s, self.budget_s)

    def planned_epochs(self, epoch: int) -> int:
        """Epochs the run will reach: the job's, or fewer when the time budget ends it first."""
        if not self.budget_s or not self.step:
            return self.job.epochs
        per_epoch = self.elapsed_s / self.step * self.batches_per_epoch
        return max(epoch, min(self.job.epochs, math.ceil(self.budget_s / per_epoch)))

    def eta_s(self) -> float:
        if not self.step:
            return float("nan")
        by_steps = (self.total_steps - self.step) * self.elapsed_s / self.step
        return max(0.0, min(by_steps, self.budget_s - self.elapsed_s) if self.budget_s else by_steps)

    def stop_requested(self) -> bool:
        """A cancel was asked for, on any process (a collective)."""
        return self.dist.any(self.token.requested())

    # ------------------------------------------------------------------ the loop

    def fit(self) -> None:
        """Train from the saved position to the last epoch or the end of the time budget.

        Raises
        ------
        JobCancelled
            After saving ``last.pt``, when a cancel was asked.
        JobFailed
            When the loss diverges or a checkpoint cannot be written.
        """
        if self.finished or self.start_epoch > self.job.epochs:
            self.sink.log("info", "pre-training had already reached its end")
            return
        for epoch in range(self.start_epoch, self.job.epochs + 1):
            if self.stop_requested():
                self.save(epoch - 1, 0, announce=True)
                raise JobCancelled
            self._epoch(epoch)
            if self.finished:
                break

    def _epoch(self, epoch: int) -> None:
        from trainer.data.inputs import epoch_batches, make_loader
        from trainer.steps import BATCH_EVENT_INTERVAL_S, mean_loss

        job = self.job
        self.sink.emit(ev.EpochStarted(job=self.job_id, epoch=epoch, epochs=self.planned_epochs(epoch)))
        batches = epoch_batches(len(self.archive), self.per_rank_batch, job.seed, epoch, self.dist.rank,
                                self.dist.world)
        skip = self.skip if epoch == self.start_epoch else 0
        loss_sum, seen = self.partial if skip else (0.0, 0)
        self.items.epoch = epoch
        self.net.train()
        loader = make_loader(self.items, batches[skip:], self.workers)
        last_emit = last_save = prev = time.monotonic()
        last_seen, bad, spreads, stopped_at = seen, 0, [], 0
        for b, batch in enumerate(loader, start=skip + 1):
            p = self.progress
            lr = learning_rate(self.base_lr, p, self.total_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x1, x2 = batch[0].to(self.device, non_blocking=True), batch[1].to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
                loss = self.model(x1, x2)
            value = float(loss.detach())
            if not math.isfinite(value):
                bad += 1
                if bad >= 3:
                    raise JobFailed(f"pre-training diverged: the loss is not a number; lower lr (now {lr:g})")
                self.optimizer.zero_grad(set_to_none=True)
            else:
                bad = 0
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.net.update_target(target_momentum(self.tau, p))
                loss_sum += value * len(x1)
                spreads.append(self.net.spread)
            seen += len(x1)
            self.step += 1
            now = time.monotonic()
            self.elapsed_s += now - prev
            prev = now
            if now - last_emit >= BATCH_EVENT_INTERVAL_S or b == len(batches) or b == skip + 1:
                rate = (seen - last_seen) * self.dist.world / (now - last_emit) if now > last_emit else None
                self.sink.emit(ev.Batch(job=self.job_id, epoch=epoch, batch=b, batches=len(batches),
                                        loss=value, images_per_s=rate))
                last_emit, last_seen = now, seen
            if self.stop_requested():
                if b < len(batches):
                    self.save(epoch, b, loss_sum, seen, announce=True)
                    raise JobCancelled
                break
            if self.dist.any(self.progress >= 1.0) and b < len(batches):
                stopped_at = b
                break
            if now - last_save >= SAVE_EVERY_S and b < len(batches):
                self.save(epoch, b, loss_sum, seen)
                last_save = now
        self.skip = 0
        self._end_epoch(epoch, mean_loss(loss_sum, seen, self.dist), spreads, stopped_at)

    def _end_epoch(self, epoch: int, train_loss: float | None, spreads: list[float], stopped_at: int) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        spread = finite_or_none(float(np.nanmean(spreads))) if spreads else None
        self.history.append({"epoch": epoch, "train_loss": train_loss, "spread": spread, "lr": lr,
                             "elapsed_s": round(self.elapsed_s, 1), "partial": bool(stopped_at)})
        self.finished = self.progress >= 1.0 or epoch >= self.job.epochs
        if stopped_at or (self.finished and epoch < self.job.epochs):
            self.sink.log("info", f"time budget reached in epoch {epoch} after {self.elapsed_s / 60:.1f} "
                                  "minutes of training; writing the backbone")
        self.save(epoch, 0)
        self.sink.emit(ev.EpochEnd(job=self.job_id, epoch=epoch, epochs=epoch if self.finished else
                                   self.planned_epochs(epoch), train_loss=train_loss, val_loss=None,
                                   metrics={"spread": spread}, lr=lr,
                                   eta_s=0.0 if self.finished else self.eta_s()))
        if spread is not None and spread < 0.1:
            self.sink.log("warning", f"the representations are collapsing (spread {spread:.3f}, healthy "
                                     "≈ 1): lower lr or try the other method")

    # ------------------------------------------------------------------ checkpoints

    def save(self, epoch: int, batch: int, loss_sum: float = 0.0, seen: int = 0,
             announce: bool = False) -> None:
        """Write ``last.pt`` after ``batch`` of ``epoch`` (0: the whole epoch); main process only."""
        if not self.dist.main or (epoch < 1 and not batch):
            return
        state = {
            "format": CHECKPOINT_FORMAT, "task": "pretrain", "job": self.job_id,
            "architecture": self.job.architecture, "method": self.job.method,
            "input": list(self.job.input_size), "epoch": epoch, "batch": batch, "epochs": self.job.epochs,
            "world": self.dist.world, "batch_size": self.per_rank_batch, "loss_sum": float(loss_sum),
            "seen": int(seen), "step": self.step, "elapsed_s": float(self.elapsed_s),
            "finished": bool(self.finished and not batch),
            "model": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict(), "history": list(self.history),
            "torch_rng": torch.get_rng_state(),
        }
        path = self.ckpt_dir / LAST_NAME
        write_or_fail(path, lambda p: save_checkpoint(p, state))
        if announce:
            self.sink.emit(ev.CheckpointSaved(job=self.job_id, path=str(path), epoch=epoch, metric=None,
                                              metric_name=None))

    def _restore(self, state: dict) -> None:
        mine = {"task": "pretrain", "architecture": self.job.architecture, "method": self.job.method,
                "input": list(self.job.input_size)}
        for key, value in mine.items():
            if state.get(key) != value:
                raise JobFailed(f"cannot resume: the checkpoint was made for another job ({key} "
                                f"{state.get(key)!r} vs {value!r}); start a new job")
        try:
            self.net.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise JobFailed(f"cannot resume: the checkpoint does not fit this job ({one_line(err, 200)})") from None
        self.history = list(state.get("history", []))
        self.step, self.elapsed_s = int(state.get("step", 0)), float(state.get("elapsed_s", 0.0))
        self.finished = bool(state.get("finished"))
        self.start_epoch, self.skip, self.partial = resume_point(
            state, self.dist.world, self.per_rank_batch, self.sink)


# ----------------------------------------------------------------------- the result

def write_result(run: Pretraining, folder: Path) -> Path:
    """Write the trunk as a backbone folder (weights, ``backbone.json``, card)."""
    from dataclasses import asdict

    from medview.inference.backbones import BackboneInfo, write_backbone

    job, summary = run.job, run.archive.summary
    manifest = backbone_manifest(job)
    epochs = run.history[-1]["epoch"] if run.history else 0
    loss = run.final_loss
    info = BackboneInfo(
        name=job.name, version=job.version, architecture=job.architecture, channels=1,
        input_size=tuple(job.input_size), preprocessing=_preprocessing_json(manifest),
        normalisation={k: list(v) for k, v in asdict(manifest.normalisation).items()},
        source=(f"self-supervised pre-training ({job.method}, {epochs} epochs, final loss "
                f"{'n/a' if loss is None else f'{loss:.4f}'}) on {summary['n_images']} unlabelled images "
                f"of {summary['n_studies']} studies"),
        method=job.method, images=int(summary["n_images"]), studies=int(summary["n_studies"]),
        duration_s=round(run.elapsed_s + summary["prepare_s"], 1),
        created=datetime.now(UTC).isoformat(timespec="seconds"), datasets=list(job.dataset))
    write_or_fail(folder, lambda _: write_backbone(folder, trunk_state(run.net.trunk, job.architecture), info))
    return folder


def _preprocessing_json(manifest) -> dict:
    """The manifest's preprocessing as a job writes it."""
    return manifest.to_dict()["preprocessing"]
