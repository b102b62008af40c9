"""The training core: the optimisation state of a run and its epoch loop, with backbone
freezing, early stopping, the time budget and the resume checkpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainer import events as ev
from trainer.errors import JobCancelled
from trainer.evaluate import finite_or_none, positive_index, val_metrics
from trainer.monitor import choose_monitor, format_metric, improved, kept_weights
from trainer.optim import make_criterion, make_optimizer, make_scheduler, set_planned_epochs, step_scheduler
from trainer.resume import restore, save_best, save_last
from trainer.steps import mean_loss, train_epoch, validate

__all__ = ["Training", "Pace", "CHECKPOINT_INTERVAL_S"]

#: ``last.pt`` (weights and optimiser state, ~135 MB for ResNet-18) is written after the
#: first and the last epoch, after a new best one, and otherwise when this many seconds
#: have passed since the previous write: on small data an epoch takes a few seconds, and
#: writing it every time would cost a tenth of the budget.
CHECKPOINT_INTERVAL_S = 30.0


@dataclass
class Pace:
    """How one training fits the run's time budget.

    Attributes
    ----------
    budget : trainer.budget.Budget
    end_s : float or None
        Budget seconds (elapsed since the run began) by which this training must end;
        None: no limit.
    adaptive : bool
        The epochs were planned from the budget: re-plan them with the measured epoch
        times (the cosine schedule stretches or shrinks with them).
    max_epochs : int
        Most epochs a re-plan may reach.
    offset : int
        Epochs of an earlier training of the same run (events number epochs on).
    after_s : float
        Seconds the run needs after this training (another training, the end), for the ETA.
    """

    budget: Any
    end_s: float | None = None
    adaptive: bool = False
    max_epochs: int = 10000
    offset: int = 0
    after_s: float = 0.0


class Training:
    """Everything that changes while a job trains, and :meth:`fit`, which changes it.

    Parameters
    ----------
    job : Job
    job_id : str
    dataset : LabelledDataset
    net : trainer.network.Network
    data : trainer.preparation.Prepared
    ckpt_dir : Path
        The run folder's ``checkpoints/``.
    dist : trainer.distributed.Dist
    sink : EventSink
    token : CancelToken
    device : torch.device
    checkpoint : dict, optional
        A resume state (:func:`trainer.resume.find_checkpoint`) to continue from.
    pace : Pace, optional
        The time budget of this training (default: none).
    """

    def __init__(self, job, job_id: str, dataset, net, data, ckpt_dir: Path, dist, sink, token, device,
                 checkpoint: dict | None = None, pace: Pace | None = None) -> None:
        from trainer.budget import Budget

        self.job, self.job_id, self.dataset, self.task = job, job_id, dataset, dataset.task
        self.pace = pace or Pace(Budget(None))
        self.epochs = job.epochs  # planned; a budget may re-plan it
        self.net, self.manifest, self.module, self.backbone = net, net.manifest, net.module, net.backbone
        self.sources, self.sizes, self.loader_workers = data.sources, data.sizes, data.loader_workers
        self.ckpt_dir, self.dist, self.sink, self.token, self.device = ckpt_dir, dist, sink, token, device
        self.history: list[dict[str, Any]] = []
        self.pos = positive_index(dataset.classes, job.positive_class) if self.task == "classification" else None
        self.criterion = make_criterion(job, dataset, data.parts["train"], data.sources["train"],
                                        len(self.manifest.classes), device)
        self.train_module, self.train_criterion, aux_params = self.module, self.criterion, []
        self.aux_model = self._aux_model(data)
        if self.aux_model is not None:
            from trainer.aux_mask import AuxLoss, OwnMapModel

            self.train_module = self.aux_model
            self.train_criterion = AuxLoss(self.criterion, job.mask_weight,
                                           own_map=isinstance(self.aux_model, OwnMapModel)).to(device)
            aux_params = list(self.aux_model.aux.parameters())
        self.optimizer = make_optimizer(job, net.backbone_params, net.head_params + aux_params, net.pretrained)
        self.monitor, self.mode = choose_monitor(job, dataset, self.pos, data.parts["val"], sink)
        self.scheduler = make_scheduler(job, self.optimizer, self.mode)
        self.per_rank_batch = max(1, job.batch_size // dist.world)
        self.train_items = self._train_items(data)
        self.best: dict[str, Any] = {"metric": None, "epoch": 0, "val_loss": None}
        self.bad_epochs, self.start_epoch, self.skip_batches = 0, 1, 0
        self.partial = (0.0, 0)
        self.frozen: bool | None = None
        self.stopped_early = False
        self.epoch_times: list[float] = []
        self.saved_at = 0.0  # time.monotonic() of the last write of last.pt
        self.recipe = None  # trainer.recipe.Recipe, for the report and the card
        self.start_check: dict[str, Any] | None = None  # set on the kept side of a start check
        if checkpoint is not None:
            restore(self, checkpoint)

    def _aux_model(self, data):
        """The classifier with its mask output when the data set has lesion masks, else None."""
        from trainer.aux_mask import AuxModel, OwnMapModel, feature_layer, uses_masks

        if not uses_masks(self.job, self.dataset):
            return None
        known = int(data.sources["train"].has_mask.sum()) if getattr(data.sources["train"], "has_mask", None) \
            is not None else self.dataset.summary.n_masks
        if hasattr(self.module, "forward_maps") and self.pos is not None:
            self.sink.log("info", f"{known} training images have lesion masks: they supervise the map the "
                                  f"classifier pools (weight {self.job.mask_weight:g})")
            return OwnMapModel(self.module, self.pos).to(self.device)
        c, h, w = self.manifest.input_shape
        try:
            layer, channels = feature_layer(self.module, c, (h, w))
        except ValueError as err:
            self.sink.log("warning", f"the lesion masks are not used: {err}")
            return None
        self.sink.log("info", f"{known} training images have lesion masks: the classifier also learns to "
                              f"mark lesions on its feature map '{layer}' (weight {self.job.mask_weight:g}; "
                              "this extra output is not part of the saved model)")
        return AuxModel(self.module, layer, channels).to(self.device)

    def _train_items(self, data):
        from trainer.aux_mask import empty_is_background
        from trainer.data.inputs import TrainItems

        empty = empty_is_background(self.dataset, self.pos) if self.aux_model is not None else None
        return TrainItems(data.sources["train"], self.job.augment, self.manifest, self.job.seed, self.task, empty,
                          patch=self.job.patch_size or 0)

    @property
    def num_classes(self) -> int:
        """Classes of the data set (background included for segmentation)."""
        return len(self.dataset.classes)

    def stop_requested(self) -> bool:
        """A cancel was asked for, on any process (a collective: every process must ask)."""
        return self.dist.any(self.token.requested())

    def fit(self) -> None:
        """Train from :attr:`start_epoch` to the job's last epoch, or until early stopping.

        Raises
        ------
        JobCancelled
            After saving ``last.pt``, when a cancel was asked.
        JobFailed
            When training diverges or a checkpoint cannot be written.
        """
        from trainer.data.inputs import epoch_batches, make_loader

        job = self.job
        off = self.pace.offset
        if self.start_epoch > self.epochs:
            self.sink.log("info", "training had already reached its last epoch")
        epoch, mark = self.start_epoch, time.monotonic()
        while epoch <= self.epochs:
            if self.stop_requested():
                save_last(self, epoch - 1, 0, announce=True)
                raise JobCancelled
            self._set_frozen(epoch <= job.freeze_epochs and self.backbone is not None)
            self.sink.emit(ev.EpochStarted(job=self.job_id, epoch=epoch + off, epochs=self.epochs + off))
            self.train_module.train()
            if self.frozen:
                self.backbone.eval()  # BatchNorm statistics of a frozen backbone stay as they are
            batches = epoch_batches(len(self.train_items), self.per_rank_batch, job.seed, epoch,
                                    self.dist.rank, self.dist.world)
            skip = self.skip_batches if epoch == self.start_epoch else 0
            loss_sum, seen = self.partial if skip else (0.0, 0)
            self.train_items.epoch = epoch
            loader = make_loader(self.train_items, batches[skip:], self.loader_workers)
            loss_sum, seen, stopped_at = train_epoch(
                self.model, loader, self.optimizer, self.train_criterion, self.device, epoch=epoch + off,
                n_batches=len(batches), skip=skip, loss_sum=loss_sum, seen=seen, lr=job.lr, sink=self.sink,
                job_id=self.job_id, world=self.dist.world, stop_requested=self.stop_requested)
            if stopped_at:
                save_last(self, epoch, stopped_at, loss_sum, seen, announce=True)
                raise JobCancelled
            self.skip_batches = 0
            train_loss = mean_loss(loss_sum, seen, self.dist)
            val = validate(self.module, self.sources["val"], self.criterion, self.task, self.num_classes,
                           self.per_rank_batch * 2, self.device, self.loader_workers, self.dist)
            metrics = val_metrics(val, self.task, self.pos)
            value = val.loss if self.monitor == "val_loss" else metrics.get(self.monitor)
            step_scheduler(self.scheduler, value)
            lr = max(g["lr"] for g in self.optimizer.param_groups)
            self.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": finite_or_none(val.loss),
                                 "metrics": metrics, "lr": lr, "frozen": bool(self.frozen)})
            better = improved(value, val.loss, self.best, self.mode, job.min_delta)
            self.bad_epochs = 0 if better else self.bad_epochs + 1
            if better or job.final_weights == "last":  # self.best: the epoch whose weights are kept
                self.best = {"metric": finite_or_none(value), "epoch": epoch,
                             "val_loss": finite_or_none(val.loss)}
                save_best(self, epoch)
            stop = bool(job.early_stopping and self.bad_epochs >= job.early_stopping and epoch < self.epochs)
            now = time.monotonic()  # from the previous epoch's end: its checkpoint write counts too
            self.epoch_times.append(now - mark)
            mark = now
            out_of_time = not stop and epoch < self.epochs and self._replan(epoch)
            self.stopped_early = stop or out_of_time
            if better or epoch in (self.start_epoch, self.epochs) or self.stopped_early \
                    or time.monotonic() - self.saved_at >= CHECKPOINT_INTERVAL_S:
                save_last(self, epoch, 0)
                self.saved_at = time.monotonic()
            self.sink.emit(ev.EpochEnd(job=self.job_id, epoch=epoch + off, epochs=self.epochs + off,
                                       train_loss=train_loss, val_loss=finite_or_none(val.loss), metrics=metrics,
                                       lr=lr, eta_s=self._eta(epoch, stop)))
            if stop:
                self.sink.log("info", f"stopping early: validation {self.monitor} has not improved for "
                                      f"{self.bad_epochs} epochs (best {format_metric(self.best['metric'])} at "
                                      f"epoch {self.best['epoch']})")
                break
            if out_of_time:
                self.sink.log("info", f"time budget: stopping after epoch {epoch} ({self.pace.budget.describe()} "
                                      f"spent); {kept_weights(job.final_weights, self.best, self.monitor)} "
                                      "are kept")
                break
            epoch += 1

    def _epoch_s(self) -> float:
        """Seconds an epoch takes, from the last three."""
        return float(np.mean(self.epoch_times[-3:]))

    def _replan(self, epoch: int) -> bool:
        """Fit the remaining epochs into the budget after ``epoch``; True when none fits.

        Planned epochs shrink as soon as they no longer fit and grow (up to the recipe's
        cap) when more than 10 % more would; the cosine schedule follows.
        """
        end = self.pace.end_s
        if end is None:
            return False
        left = end - self.pace.budget.elapsed()
        # every process takes the main one's decision (their clocks differ a little)
        fit = self.dist.broadcast(epoch + int(max(0.0, left) // self._epoch_s()))
        if fit <= epoch:
            self.epochs = epoch
            return True
        if not self.pace.adaptive:
            return False
        fit = min(fit, self.pace.max_epochs)
        if fit < self.epochs or fit > math.ceil(self.epochs * 1.1):
            if abs(fit - self.epochs) >= max(2, 0.1 * self.epochs):  # small corrections go unsaid
                self.sink.log("info", f"time budget: {fit} epochs fit (planned {self.epochs}; epochs take "
                                      f"~{self._epoch_s():.1f} s)")
            self.epochs = fit
            set_planned_epochs(self.scheduler, fit)
        return False

    def _eta(self, epoch: int, stop: bool) -> float:
        """Seconds until the run ends: this training's epochs (within its share of the
        budget) and what follows it."""
        if stop or epoch >= self.epochs:
            return self.pace.after_s
        mine = self._epoch_s() * (self.epochs - epoch)
        if self.pace.end_s is not None:
            mine = min(mine, max(0.0, self.pace.end_s - self.pace.budget.elapsed()))
        return mine + self.pace.after_s

    def _set_frozen(self, frozen: bool) -> None:
        if frozen == self.frozen:
            return
        for p in self.net.backbone_params:
            p.requires_grad_(not frozen)
        self.frozen = frozen
        if self.dist.enabled:  # DDP registers the parameters that need gradients when it wraps
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.dist.local_rank] if self.device.type == "cuda" else None
            self.model = DDP(self.train_module, device_ids=ids)
        else:
            self.model = self.train_module
        if frozen and self.backbone is not None:
            self.sink.log("info", "backbone frozen: only the head learns")
        elif self.frozen is not None and self.history:
            self.sink.log("info", "backbone unfrozen: the whole network learns")
