"""The training core: the optimisation state of a run and its epoch loop, with backbone
freezing, early stopping and a checkpoint after every epoch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from trainer import events as ev
from trainer.errors import JobCancelled
from trainer.evaluate import finite_or_none, positive_index, val_metrics
from trainer.monitor import choose_monitor, format_metric, improved
from trainer.optim import make_criterion, make_optimizer, make_scheduler, step_scheduler
from trainer.resume import restore, save_best, save_last
from trainer.steps import mean_loss, train_epoch, validate

__all__ = ["Training"]


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
    """

    def __init__(self, job, job_id: str, dataset, net, data, ckpt_dir: Path, dist, sink, token, device,
                 checkpoint: dict | None = None) -> None:
        from trainer.data import TrainItems

        self.job, self.job_id, self.dataset, self.task = job, job_id, dataset, dataset.task
        self.net, self.manifest, self.module, self.backbone = net, net.manifest, net.module, net.backbone
        self.sources, self.sizes, self.loader_workers = data.sources, data.sizes, data.loader_workers
        self.ckpt_dir, self.dist, self.sink, self.token, self.device = ckpt_dir, dist, sink, token, device
        self.history: list[dict[str, Any]] = []
        self.pos = positive_index(dataset.classes, job.positive_class) if self.task == "classification" else None
        self.criterion = make_criterion(job, dataset, data.parts["train"], data.sources["train"],
                                        len(self.manifest.classes), device)
        self.optimizer = make_optimizer(job, net.backbone_params, net.head_params, net.pretrained)
        self.monitor, self.mode = choose_monitor(job, dataset, self.pos, data.parts["val"], sink)
        self.scheduler = make_scheduler(job, self.optimizer, self.mode)
        self.per_rank_batch = max(1, job.batch_size // dist.world)
        self.train_items = TrainItems(data.sources["train"], job.augment, self.manifest, job.seed, self.task)
        self.best: dict[str, Any] = {"metric": None, "epoch": 0, "val_loss": None}
        self.bad_epochs, self.start_epoch, self.skip_batches = 0, 1, 0
        self.partial = (0.0, 0)
        self.frozen: bool | None = None
        self.stopped_early = False
        if checkpoint is not None:
            restore(self, checkpoint)

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
        from trainer.data import epoch_batches, make_loader

        job = self.job
        epoch_times: list[float] = []
        if self.start_epoch > job.epochs:
            self.sink.log("info", "training had already reached its last epoch")
        for epoch in range(self.start_epoch, job.epochs + 1):
            if self.stop_requested():
                save_last(self, epoch - 1, 0, announce=True)
                raise JobCancelled
            t_epoch = time.monotonic()
            self._set_frozen(epoch <= job.freeze_epochs and self.backbone is not None)
            self.sink.emit(ev.EpochStarted(job=self.job_id, epoch=epoch, epochs=job.epochs))
            self.module.train()
            if self.frozen:
                self.backbone.eval()  # BatchNorm statistics of a frozen backbone stay as they are
            batches = epoch_batches(len(self.sources["train"]), self.per_rank_batch, job.seed, epoch,
                                    self.dist.rank, self.dist.world)
            skip = self.skip_batches if epoch == self.start_epoch else 0
            loss_sum, seen = self.partial if skip else (0.0, 0)
            self.train_items.epoch = epoch
            loader = make_loader(self.train_items, batches[skip:], self.loader_workers)
            loss_sum, seen, stopped_at = train_epoch(
                self.model, loader, self.optimizer, self.criterion, self.device, epoch=epoch,
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
            if improved(value, val.loss, self.best, self.mode, job.min_delta):
                self.best = {"metric": finite_or_none(value), "epoch": epoch,
                             "val_loss": finite_or_none(val.loss)}
                self.bad_epochs = 0
                save_best(self, epoch)
            else:
                self.bad_epochs += 1
            stop = bool(job.early_stopping and self.bad_epochs >= job.early_stopping and epoch < job.epochs)
            self.stopped_early = stop
            save_last(self, epoch, 0)
            epoch_times.append(time.monotonic() - t_epoch)
            eta = 0.0 if stop else float(np.mean(epoch_times[-3:])) * (job.epochs - epoch)
            self.sink.emit(ev.EpochEnd(job=self.job_id, epoch=epoch, epochs=job.epochs, train_loss=train_loss,
                                       val_loss=finite_or_none(val.loss), metrics=metrics, lr=lr, eta_s=eta))
            if stop:
                self.sink.log("info", f"stopping early: validation {self.monitor} has not improved for "
                                      f"{self.bad_epochs} epochs (best {format_metric(self.best['metric'])} at "
                                      f"epoch {self.best['epoch']})")
                break

    def _set_frozen(self, frozen: bool) -> None:
        if frozen == self.frozen:
            return
        for p in self.net.backbone_params:
            p.requires_grad_(not frozen)
        self.frozen = frozen
        if self.dist.enabled:  # DDP registers the parameters that need gradients when it wraps
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.dist.local_rank] if self.device.type == "cuda" else None
            self.model = DDP(self.module, device_ids=ids)
        else:
            self.model = self.module
        if frozen and self.backbone is not None:
            self.sink.log("info", "backbone frozen: only the head learns")
        elif self.frozen is not None and self.history:
            self.sink.log("info", "backbone unfrozen: the whole network learns")
