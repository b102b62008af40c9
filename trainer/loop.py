"""The training run: data → split → model → epochs → best checkpoint → test report → model folder.

:func:`run_job` is what ``python -m trainer JOB.json`` and ``medview train JOB.json`` call.
It reports every step as events (:mod:`trainer.events`) on stdout and appends them to
``events.jsonl`` in the run folder, keeps ``state.json`` there up to date, and returns
an exit status:

=====  ==================================================================
0      finished: ``model/`` holds the trained model, ready to register
1      failed: the ``failed`` event says why (bad data, disk full, …)
2      the job file is invalid (a ``failed`` event names the field)
3      cancelled: a checkpoint was saved, ``--resume`` continues
4      finished, but ``--register`` could not install the model
=====  ==================================================================

Run folder layout::

    job.resolved.json        the job with every default filled in
    split.json               which files (and patients) are train / val / test
    state.json               queued | running | finished | failed | cancelled, pid, times
    events.jsonl             every event of every attempt, appended
    checkpoints/last.pt      resume state (torch.load(weights_only=True) opens it)
    checkpoints/best.safetensors   weights of the best validation epoch so far
    model/                   model.json + weights.safetensors + card.md +
                             evaluation.json + charts (*.png), written at the end
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import traceback
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np

from trainer import events as ev
from trainer.cancel import CANCEL_FILE, CancelToken
from trainer.checkpoints import (BEST_NAME, CHECKPOINT_FORMAT, LAST_NAME, WriteError,
                                 describe_os_error, load_checkpoint, save_checkpoint, write_json,
                                 write_text)
from trainer.config import Job

__all__ = ["EXIT_FINISHED", "EXIT_FAILED", "EXIT_INVALID", "EXIT_CANCELLED", "EXIT_REGISTER_FAILED",
           "JobFailed", "EventSink", "run_job", "backbone_and_head"]

EXIT_FINISHED, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELLED, EXIT_REGISTER_FAILED = 0, 1, 2, 3, 4
SPLIT_NAME, RESOLVED_NAME, EVENTS_NAME, MODEL_DIR, CHECKPOINT_DIR = (
    "split.json", "job.resolved.json", "events.jsonl", "model", "checkpoints")
_BATCH_EVENT_INTERVAL_S = 0.5


class JobFailed(Exception):
    """The job cannot go on; ``reason`` is one line for a person."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason, self.detail = reason, detail
        super().__init__(reason)


class _Cancelled(Exception):
    pass


class EventSink:
    """Emits events on a stream (stdout) and appends them to ``events.jsonl``.

    Only the main process of a distributed job emits (``enabled``). A reader that went
    away (closed pipe) does not stop the job: the file still gets every event.
    """

    def __init__(self, job_id: str, events_file: Path | None, stream: IO[str] | None = None,
                 enabled: bool = True) -> None:
        self.job_id, self.events_file, self.enabled = job_id, events_file, enabled
        self.stream = stream
        self._stream_ok = True
        self._file_ok = True

    def emit(self, event: ev.Event) -> None:
        if not self.enabled:
            return
        line = event.to_json() + "\n"
        if self._stream_ok:
            try:
                out = self.stream if self.stream is not None else sys.stdout
                out.write(line)
                out.flush()
            except (BrokenPipeError, ValueError, OSError):
                self._stream_ok = False
        if self.events_file is not None and self._file_ok:
            try:
                with open(self.events_file, "a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError as err:
                self._file_ok = False  # disk full: the stream still carries the events
                print(f"trainer: cannot append to {self.events_file}: {err}", file=sys.stderr)

    def log(self, level: str, message: str) -> None:
        self.emit(ev.Log(job=self.job_id, level=level, message=message))


def run_job(job: Job, run_dir: str | Path, *, resume: bool = False, register: bool = False,
            stream: IO[str] | None = None, job_id: str | None = None,
            split: dict[str, list[int]] | None = None) -> int:
    """Run a training job to its end (see the module docstring for exit statuses).

    Parameters
    ----------
    job : Job
        From :func:`trainer.config.load_job`.
    run_dir : str or Path
        The run folder (created if needed).
    resume : bool
        Continue from ``checkpoints/last.pt`` when there is one (also ``"resume": true``
        in the job).
    register : bool
        Install the trained model in the user registry at the end.
    stream : text stream, optional
        Where events go besides ``events.jsonl`` (default ``sys.stdout``).
    job_id : str, optional
        Default: the job's ``id``, else the run folder's name.
    split : dict, optional
        Explicit parts ``{"train": [...], "val": [...], "test": [...]}`` (indices into the
        discovered samples) instead of the job's ``split`` fractions; used by k-fold
        search (``trainer/search.py``). A resumed run still reads its saved ``split.json``.
    """
    from trainer import jobs

    run_dir = Path(run_dir).resolve()
    job_id = job_id or job.id or run_dir.name
    sink = EventSink(job_id, None, stream)
    token = CancelToken(run_dir / CANCEL_FILE)
    dist = None
    run = None
    try:
        import torch

        from trainer import distributed

        device = _device(job.device)
        dist = distributed.setup(device.type == "cuda")
        if dist.enabled and device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
        sink.enabled = dist.main
        if dist.main:
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
                sink.events_file = run_dir / EVENTS_NAME
                jobs.write_state(run_dir, "running", pid=os.getpid(), reason=None)
            except OSError as err:
                raise JobFailed(describe_os_error(err, run_dir)) from None
        dist.barrier()
        token.install()
        if dist.main:
            token.clear_file()
        dist.barrier()
        run = _Run(job, run_dir, job_id, dist, sink, token, device, split=split)
        run.execute(resume or job.resume)
    except _Cancelled:
        _end(sink, dist, run_dir, "cancelled", reason=f"cancelled ({token.reason})")
        sink.emit(ev.Cancelled(job=job_id))
        return _close(dist, token, EXIT_CANCELLED)
    except KeyboardInterrupt:
        sink.log("warning", "stopped at once (second interrupt); the last saved checkpoint is kept")
        _end(sink, dist, run_dir, "cancelled", reason="interrupted")
        sink.emit(ev.Cancelled(job=job_id))
        return _close(dist, token, EXIT_CANCELLED)
    except JobFailed as err:
        return _close(dist, token, _fail(sink, dist, run_dir, job_id, err.reason, err.detail))
    except WriteError as err:
        return _close(dist, token, _fail(sink, dist, run_dir, job_id, str(err.strerror or err), None))
    except OSError as err:
        where = getattr(err, "filename", None) or run_dir
        return _close(dist, token, _fail(sink, dist, run_dir, job_id, describe_os_error(err, where),
                                         traceback.format_exc()))
    except MemoryError:
        return _close(dist, token, _fail(
            sink, dist, run_dir, job_id, "out of memory: lower batch_size or input size, or set "
            "\"cache\": false", traceback.format_exc()))
    except Exception as err:  # a bug or an unforeseen library error: still a clean event
        reason = f"internal error: {type(err).__name__}: {' '.join(str(err).split())[:300]}"
        return _close(dist, token, _fail(sink, dist, run_dir, job_id, reason, traceback.format_exc()))
    code = EXIT_FINISHED
    if register and dist.main:
        code = run.register()
    return _close(dist, token, code)


def _fail(sink: EventSink, dist, run_dir: Path, job_id: str, reason: str, detail: str | None) -> int:
    _end(sink, dist, run_dir, "failed", reason=reason)
    sink.emit(ev.Failed(job=job_id, reason=reason, detail=detail))
    return EXIT_FAILED


def _end(sink: EventSink, dist, run_dir: Path, state: str, reason: str | None) -> None:
    from trainer import jobs

    if dist is not None and not dist.main:
        return
    try:
        jobs.write_state(run_dir, state, reason=reason, ended=True)
    except OSError as err:
        sink.log("error", describe_os_error(err, run_dir / "state.json"))


def _close(dist, token: CancelToken, code: int) -> int:
    token.uninstall()
    if dist is not None:
        try:
            dist.close()
        except Exception:
            pass
    return code


def _device(choice: str):
    import torch

    if choice == "cuda":
        if not torch.cuda.is_available():
            raise JobFailed("device 'cuda' was asked for but no CUDA GPU is available; use \"auto\" "
                            "or \"cpu\"")
        return torch.device("cuda")
    if choice == "auto" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def backbone_and_head(module) -> tuple[Any, list, list]:
    """(backbone module or None, backbone parameters, head parameters) of a network.

    smp networks: the ``encoder`` is the backbone, decoder and segmentation head learn
    from the start. torchvision classifiers: the final ``fc``/``classifier`` is the
    head, everything else the backbone.
    """
    if hasattr(module, "encoder"):
        backbone = module.encoder
    else:
        head_name = next((n for n in ("fc", "classifier", "head", "heads") if hasattr(module, n)), None)
        if head_name is None:
            return None, [], list(module.parameters())
        head = getattr(module, head_name)
        head_ids = {id(p) for p in head.parameters()}
        back = [p for p in module.parameters() if id(p) not in head_ids]
        return _Others(module, head_name), back, list(head.parameters())
    back_ids = {id(p) for p in backbone.parameters()}
    return backbone, list(backbone.parameters()), [p for p in module.parameters() if id(p) not in back_ids]


class _Others:
    """The modules of a torchvision classifier other than its head (to put them in eval mode)."""

    def __init__(self, module, head_name: str) -> None:
        self.children = [m for n, m in module.named_children() if n != head_name]

    def eval(self) -> None:
        for m in self.children:
            m.eval()


# ----------------------------------------------------------------------- the run

class _Run:
    """One execution of a job (see :func:`run_job`)."""

    def __init__(self, job: Job, run_dir: Path, job_id: str, dist, sink: EventSink,
                 token: CancelToken, device, split: dict[str, list[int]] | None = None) -> None:
        self.job, self.run_dir, self.job_id = job, run_dir, job_id
        self.given_split = split
        self.dist, self.sink, self.token, self.device = dist, sink, token, device
        self.ckpt_dir = run_dir / CHECKPOINT_DIR
        self.history: list[dict[str, Any]] = []
        self.parent = ""
        self.started = time.monotonic()

    # -- the steps ----------------------------------------------------------------

    def execute(self, resume: bool) -> None:
        import torch

        torch.manual_seed(self.job.seed)
        if self.dist.main:
            self._write(self.run_dir / RESOLVED_NAME, lambda p: write_json(p, self.job.to_dict()))
        checkpoint = self._checkpoint_to_resume(resume)
        self._discover()
        self._split(from_file=checkpoint is not None)
        self._build_model()
        self._prepare()
        self.sink.emit(ev.JobStarted(job=self.job_id, task=self.task, model=self.job.model.label,
                                     dataset=self.dataset.summary.to_dict(), split=self.sizes,
                                     device=str(self.device) + (f" ×{self.dist.world}" if self.dist.enabled else "")))
        self._setup_training(checkpoint)
        self._fit()
        self.dist.barrier()
        if self.dist.main:
            self._finish()

    def _checkpoint_to_resume(self, resume: bool) -> dict | None:
        last = self.ckpt_dir / LAST_NAME
        if not resume:
            if last.exists():
                self.sink.log("warning", f"{self.run_dir} holds a checkpoint of an earlier run; starting "
                                         "afresh (use --resume to continue it instead)")
                if self.dist.main:
                    (self.run_dir / SPLIT_NAME).unlink(missing_ok=True)
            return None
        if not last.exists():
            self.sink.log("info", "no checkpoint to resume from; starting from the beginning")
            return None
        try:
            state = load_checkpoint(last)
        except Exception as err:
            raise JobFailed(f"cannot resume: {last} is not a usable checkpoint ({_one_line(err)}); "
                            "start the job afresh") from None
        where = f"epoch {state['epoch']}" + (f", batch {state['batch']}" if state.get("batch") else "")
        self.sink.log("info", f"resuming from {last} ({where})")
        return state

    def _discover(self) -> None:
        from trainer.datasets import DatasetError, discover, discover_segmentation

        spec = self.job.dataset
        try:
            if spec.class_names is not None:
                path = Path(spec.path)
                if not ((path / "images").is_dir() and (path / "masks").is_dir()):
                    raise JobFailed(f"dataset.class_names is for segmentation, but {path} has no "
                                    "images/ and masks/ folders")
                ds = discover_segmentation(path, class_names=list(spec.class_names),
                                           check_pixels=spec.check_pixels)
            else:
                ds = discover(spec.path, check_pixels=spec.check_pixels)
        except DatasetError as err:
            raise JobFailed(str(err) + _empty_folders_hint(Path(spec.path))) from None
        if self.job.task and ds.task != self.job.task:
            raise JobFailed(f"the job's task is {self.job.task} but {spec.path} is laid out for "
                            f"{ds.task} (see trainer/JOBS.md for the layouts)")
        self.dataset, self.task = ds, ds.task
        for warning in ds.summary.warnings:
            self.sink.log("warning", warning)
        if ds.summary.skipped:
            self.sink.log("warning", _skipped_message(ds.summary.skipped, "not used"))
        if self.task == "classification" and self.job.positive_class is not None \
                and self.job.positive_class not in ds.classes:
            raise JobFailed(f"positive_class '{self.job.positive_class}' is not one of the classes "
                            f"({', '.join(ds.classes)})")

    def _split(self, from_file: bool) -> None:
        from trainer.splits import SplitError, stratified_split

        ds = self.dataset
        keys = [_sample_key(s) for s in ds.samples]
        split_path = self.run_dir / SPLIT_NAME
        parts = None
        if from_file and split_path.exists():
            parts = self._read_split(split_path, keys)
        if parts is None and self.given_split is not None:
            parts = {k: [int(i) for i in self.given_split.get(k, [])] for k in ("train", "val", "test")}
            if self.dist.main:
                self._write(split_path, lambda p: write_json(p, self._split_json(parts)))
        if parts is None:
            try:
                s = stratified_split(ds.strata(), ds.groups(), val_fraction=self.job.split.val,
                                     test_fraction=self.job.split.test, seed=self.job.split.seed)
            except SplitError as err:
                raise JobFailed(f"cannot split {ds.summary.source}: {err}") from None
            parts = {"train": s.train.tolist(), "val": s.val.tolist(), "test": s.test.tolist()}
            parts = self.dist.broadcast(parts)
            if self.dist.main:
                self._write(split_path, lambda p: write_json(p, self._split_json(parts)))
        self.parts = {k: np.asarray(v, np.int64) for k, v in parts.items()}

    def _split_json(self, parts: dict[str, list[int]]) -> dict:
        ds = self.dataset
        return {"format": 1, "dataset": ds.summary.source, "task": ds.task, "classes": ds.classes,
                "seed": self.job.split.seed, "fractions": {"val": self.job.split.val, "test": self.job.split.test},
                "parts": {name: [{"file": str(_sample_path(ds.samples[i])), "frame": getattr(ds.samples[i], "frame", 0),
                                  "group": ds.samples[i].group, "stratum": int(ds.samples[i].stratum)}
                                 for i in idx] for name, idx in parts.items()}}

    def _read_split(self, path: Path, keys: list[tuple[str, int]]) -> dict[str, list[int]]:
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            where = {k: i for i, k in enumerate(keys)}
            parts, missing = {}, []
            for name in ("train", "val", "test"):
                parts[name] = []
                for item in saved["parts"][name]:
                    key = (str(Path(item["file"]).resolve()), int(item.get("frame", 0)))
                    if key in where:
                        parts[name].append(where[key])
                    else:
                        missing.append(item["file"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise JobFailed(f"cannot resume: {path} is unreadable ({_one_line(err)})") from None
        if missing:
            raise JobFailed(f"cannot resume: the data set changed since the job started; {len(missing)} "
                            f"file(s) of the saved split are gone (e.g. {missing[0]}); start a new job")
        new = len(keys) - sum(len(v) for v in parts.values())
        if new:
            self.sink.log("warning", f"{new} image(s) added to the data set since the job started are "
                                     "not used by this resumed run")
        return parts

    # -- model ---------------------------------------------------------------------

    def _build_model(self) -> None:
        from medview.inference.manifest import ManifestError, ModelError, parse_manifest
        from medview.inference.registry import build_module

        ds, job = self.dataset, self.job
        self.binary_seg = self.task == "segmentation" and len(ds.classes) == 2
        out_classes = [ds.classes[1]] if self.binary_seg else list(ds.classes)
        init_state, init_source = None, None
        if job.model.base:
            base, state, init_source = self._base_model()
            if base.task != self.task:
                raise JobFailed(f"model.base '{base.name}' is a {base.task} model but the data set is "
                                f"for {self.task}")
            data = base.to_dict()
            data.update(name=job.name, version=job.version, classes=out_classes, thresholds={},
                        weights={"file": "weights.safetensors"})
            data["output"] = {"activation": "sigmoid" if self.binary_seg else "softmax"}
            init_state = state
        else:
            size = job.input_size or ((224, 224) if self.task == "classification" else (256, 256))
            channels = job.channels or 1
            data = {
                "name": job.name, "version": job.version, "task": self.task,
                "architecture": {"name": job.model.architecture, "arguments": dict(job.model.arguments)},
                "classes": out_classes, "input": {"size": list(size), "channels": channels},
                "normalisation": job.normalisation or {"mean": [0.5] * channels, "std": [0.25] * channels},
                "preprocessing": job.preprocessing or {"window": "auto", "resize": "letterbox"},
                "output": {"activation": "sigmoid" if self.binary_seg else "softmax"},
            }
            if job.model.weights:
                init_state, init_source = self._user_weights(job.model.weights), Path(job.model.weights).name
        data["card"] = {"intended_use": job.card.intended_use, "training_data": "(filled in at the end)",
                        "date": date.today().isoformat()}
        try:
            self.manifest = parse_manifest(data, fallback_name=job.name)
            self.module = build_module(self.manifest)
        except ManifestError as err:
            raise JobFailed(f"job field '{_job_field(err.field)}': {err.reason}") from None
        except ModelError as err:
            raise JobFailed(str(err)) from None
        self.parent = (f"fine-tuned from {init_source}" if init_source else
                       f"trained from random initialisation ({self.manifest.architecture.name})")
        self.pretrained = init_state is not None
        if init_state is not None:
            self._load_initial(init_state, init_source)
        elif job.freeze_epochs:
            self.sink.log("warning", f"the backbone is frozen for {job.freeze_epochs} epoch(s) but starts "
                                     "from random weights, so only the head learns then; start from a "
                                     "trained model (model.base) or set freeze_epochs to 0")
        self.module.to(self.device)
        _faster_batchnorm(self.module)
        self.backbone, self.backbone_params, self.head_params = backbone_and_head(self.module)

    def _base_model(self):
        from medview.inference.manifest import ModelError
        from medview.inference.registry import Registry

        spec = self.job.model
        try:
            loaded = Registry().load(spec.base, spec.base_version)
        except ModelError as err:
            raise JobFailed(f"job field 'model': {err}") from None
        m = loaded.manifest
        sha = f", weights {m.weights.sha256[:12]}" if m.weights.sha256 else ""
        return m, loaded.module.state_dict(), f"{m.name} {m.version}{sha}"

    def _user_weights(self, path: str) -> dict:
        from medview.inference.manifest import ModelError
        from medview.inference import weights

        p = Path(path)
        try:
            if p.suffix.lower() == ".safetensors":
                return weights.read_safetensors(p, self.job.name)
            return weights.read_legacy_pth(p, self.job.name)
        except ModelError as err:
            raise JobFailed(f"job field 'model.weights': {err}") from None

    def _load_initial(self, state: dict, source: str) -> None:
        own = self.module.state_dict()
        fits = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
        if not fits:
            raise JobFailed(f"the starting weights ({source}) do not fit {self.manifest.architecture.name}: "
                            "no tensor has a matching name and shape")
        fresh = [k for k in own if k not in fits]
        self.module.load_state_dict(fits, strict=False)
        if fresh:
            self.sink.log("info", f"{len(fits)} tensors from {source}; {len(fresh)} start fresh (new head "
                                  f"for {len(self.manifest.classes)} output(s), e.g. '{fresh[0]}')")
        else:
            self.sink.log("info", f"all {len(fits)} tensors loaded from {source}")

    # -- data ----------------------------------------------------------------------

    def _prepare(self) -> None:
        from trainer.data import LazySource, cache_bytes, memory_budget, prepare

        ds = self.dataset
        order = np.concatenate([self.parts["train"], self.parts["val"], self.parts["test"]])
        need = cache_bytes(len(order), self.manifest, self.task)
        cache = self.job.cache if self.job.cache is not None else need <= memory_budget()
        cores = os.cpu_count() or 1
        self.loader_workers = 0
        if cache:
            workers = self.job.workers if self.job.workers is not None else (
                min(2, cores) if len(order) >= 32 and not self.dist.enabled else 0)
            self.sink.log("info", f"preparing {len(order)} images once (decode + preprocessing, "
                                  f"{need / 2**20:.0f} MiB in memory, {workers or 'no'} worker processes)")
            marks = {max(1, len(order) * k // 4) for k in (1, 2, 3)}

            def progress(done: int, total: int) -> None:
                if done in marks:
                    self.sink.log("info", f"prepared {done}/{total} images")
                if self.token.requested():
                    raise _Cancelled

            t0 = time.perf_counter()
            source, skipped = prepare(ds.samples, order, self.task, self.manifest,
                                      binary_mask=self.binary_seg, workers=workers, progress=progress)
            self.sink.log("info", f"prepared {len(source)} images in {time.perf_counter() - t0:.1f} s")
            if skipped:
                self.sink.log("warning", _skipped_message(skipped, "could not be decoded; left out"))
            kept = set(source.indices.tolist())
            self.parts = {k: np.array([i for i in v if i in kept], np.int64) for k, v in self.parts.items()}
            row = {int(i): r for r, i in enumerate(source.indices.tolist())}
            from trainer.data import CachedSource
            self.sources = {k: CachedSource(source.images[[row[i] for i in v.tolist()]] if len(v) else
                                            source.images[:0],
                                            source.targets[[row[i] for i in v.tolist()]] if len(v) else
                                            source.targets[:0], v)
                            for k, v in self.parts.items()}
            del source
        else:
            self.loader_workers = self.job.workers if self.job.workers is not None else min(2, cores)
            self.sink.log("info", f"{len(order)} images would need {need / 2**30:.1f} GiB in memory; "
                                  f"reading them every epoch with {self.loader_workers} worker processes")
            self.sources = {k: LazySource(ds.samples, v, self.task, self.manifest, self.binary_seg)
                            for k, v in self.parts.items()}
        self.sizes = {k: int(len(v)) for k, v in self.parts.items()}
        self._check_parts()

    def _check_parts(self) -> None:
        ds = self.dataset
        if self.sizes["train"] == 0:
            raise JobFailed("no readable images are left for training")
        if self.sizes["val"] == 0:
            raise JobFailed("the validation set is empty (too few patients or readable images); add "
                            "images or raise split.val")
        if self.task == "classification":
            labels = {k: self._labels(k) for k in self.parts}
            present = np.unique(labels["train"])
            if len(present) < 2:
                only = ds.classes[int(present[0])] if len(present) else "none"
                raise JobFailed(f"the training set holds only one class ('{only}'); classification "
                                "needs images of at least two classes")
            for part in ("val", "test"):
                missing = [c for i, c in enumerate(ds.classes) if self.sizes[part] and i not in labels[part]]
                if missing:
                    self.sink.log("warning", f"the {part} set has no '{missing[0]}' images"
                                  + ("; its AUC and the threshold cannot be judged" if part == "val" else
                                     "; the test report cannot measure it"))
        if self.sizes["test"] == 0:
            self.sink.log("warning", "the test set is empty (split.test is 0 or too few patients): the "
                                     "model will not be evaluated on held-out data")

    def _labels(self, part: str) -> np.ndarray:
        return np.array([self.dataset.samples[i].label for i in self.parts[part]], np.int64)

    # -- training ------------------------------------------------------------------

    def _setup_training(self, checkpoint: dict | None) -> None:
        import torch

        from trainer.data import TrainItems
        from trainer.losses import make_loss

        job, ds = self.job, self.dataset
        self.pos = None
        if self.task == "classification":
            from trainer.evaluate import positive_index

            self.pos = positive_index(ds.classes, job.positive_class)
        weights = self._class_weights()
        self.criterion = make_loss(self.task, len(self.manifest.classes), weights).to(self.device)
        factor = job.backbone_lr_factor if job.backbone_lr_factor is not None else (
            0.1 if self.pretrained else 1.0)
        groups = [g for g in ({"params": self.backbone_params, "lr": job.lr * factor},
                              {"params": self.head_params, "lr": job.lr}) if g["params"]]
        if job.optimizer == "adam":
            self.optimizer = torch.optim.Adam(groups, lr=job.lr, weight_decay=job.weight_decay)
        elif job.optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(groups, lr=job.lr, weight_decay=job.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(groups, lr=job.lr, momentum=job.momentum,
                                             weight_decay=job.weight_decay, nesterov=job.momentum > 0)
        self.monitor, self.mode = self._monitor()
        if job.scheduler == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=job.epochs,
                                                                        eta_min=job.lr * 0.01)
        elif job.scheduler == "step":
            self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, job.step_size, job.gamma)
        elif job.scheduler == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode=self.mode, factor=job.gamma, patience=job.plateau_patience)
        else:
            self.scheduler = None
        self.per_rank_batch = max(1, job.batch_size // self.dist.world)
        self.train_items = TrainItems(self.sources["train"], job.augment, self.manifest, job.seed, self.task)
        self.best = {"metric": None, "epoch": 0, "val_loss": None}
        self.bad_epochs, self.start_epoch, self.skip_batches = 0, 1, 0
        self.partial = (0.0, 0)
        self.frozen = None
        self.stopped_early = False
        if checkpoint is not None:
            self._restore(checkpoint)

    def _class_weights(self) -> list[float] | None:
        job = self.job
        k = len(self.dataset.classes)
        if isinstance(job.class_weights, tuple):
            if len(job.class_weights) != k:
                raise JobFailed(f"job field 'class_weights': {len(job.class_weights)} numbers for {k} classes "
                                f"({', '.join(self.dataset.classes)})")
            return list(job.class_weights)
        if job.class_weights == "none":
            return None
        from trainer.losses import balanced_weights

        if self.task == "classification":
            counts = np.bincount(self._labels("train"), minlength=k)
            return balanced_weights(counts)
        targets = self.sources["train"].targets if hasattr(self.sources["train"], "targets") else None
        if targets is None:
            return None
        counts = np.bincount(targets.reshape(-1), minlength=k)[:k]
        w = np.asarray(balanced_weights(counts))
        # Lesions cover a few % of pixels: full balancing would flood the image with false
        # positives, so the ratio of weights is capped at 10 (Dice already balances).
        floor = w[w > 0].min() if (w > 0).any() else 1.0
        return [float(min(v, 10 * floor)) for v in w]

    def _monitor(self) -> tuple[str, str]:
        name = self.job.monitor
        if name == "auto":
            name = "dice" if self.task == "segmentation" else ("auc" if self.pos is not None else "balanced_accuracy")
        if self.task == "segmentation" and name not in ("dice", "iou", "val_loss"):
            raise JobFailed(f"job field 'monitor': '{name}' is a classification metric; use dice, iou or val_loss")
        if self.task == "classification" and name in ("dice", "iou"):
            raise JobFailed(f"job field 'monitor': '{name}' is a segmentation metric")
        if name == "auc" and self.task == "classification":
            val = set(self._labels("val").tolist())
            if len(val) < len(self.dataset.classes):
                self.sink.log("warning", "the validation set lacks a class, so AUC is undefined; the best "
                                         "epoch is chosen by validation loss instead")
                name = "val_loss"
        return name, ("min" if name == "val_loss" else "max")

    def _restore(self, state: dict) -> None:
        import torch

        saved = json.loads(state.get("manifest", "{}"))
        mine = json.loads(json.dumps(self.manifest.to_dict()))
        for key in ("task", "architecture", "classes", "input"):
            if saved.get(key) != mine.get(key):
                raise JobFailed(f"cannot resume: the checkpoint was made for another model ({key} differs: "
                                f"{json.dumps(saved.get(key))} vs {json.dumps(mine.get(key))}); start a new job")
        try:
            self.module.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler"):
                self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise JobFailed(f"cannot resume: the checkpoint does not fit this job ({_one_line(err)})") from None
        self.history = list(state.get("history", []))
        self.best = dict(state.get("best", self.best))
        self.bad_epochs = int(state.get("bad_epochs", 0))
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        epoch, batch = int(state["epoch"]), int(state.get("batch", 0))
        same_layout = (state.get("world") == self.dist.world and state.get("batch_size") == self.per_rank_batch)
        if batch and same_layout:
            self.start_epoch, self.skip_batches = epoch, batch
            self.partial = (float(state.get("loss_sum", 0.0)), int(state.get("seen", 0)))
        elif batch:
            self.sink.log("info", f"epoch {epoch} restarts from its first batch (the process layout changed)")
            self.start_epoch = epoch
        else:
            self.start_epoch = epoch + 1
        if state.get("stopped_early"):
            self.stopped_early = True
            self.start_epoch = self.job.epochs + 1  # early stopping ended the training: only the end remains

    def _set_frozen(self, frozen: bool) -> None:
        if frozen == self.frozen:
            return
        for p in self.backbone_params:
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

    def _fit(self) -> None:
        from trainer.data import epoch_batches, make_loader

        job = self.job
        epoch_times: list[float] = []
        if self.start_epoch > job.epochs:
            self.sink.log("info", "training had already reached its last epoch")
        for epoch in range(self.start_epoch, job.epochs + 1):
            if self._stop_requested():
                self._save_last(epoch - 1, 0, announce=True)
                raise _Cancelled
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
            last_emit, last_seen, bad_losses = time.monotonic(), seen, 0
            for b, batch in enumerate(loader, start=skip + 1):
                value = None
                if batch is not None:
                    x, y = batch[0].to(self.device, non_blocking=True), batch[1].to(self.device, non_blocking=True)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss = self.criterion(self.model(x), y)
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        bad_losses += 1
                        if bad_losses >= 3:
                            raise JobFailed("training diverged: the loss is not a number; lower lr "
                                            f"(now {job.lr:g}) or check the labels")
                    else:
                        bad_losses = 0
                        loss.backward()
                        self.optimizer.step()
                        loss_sum += value * len(x)
                    seen += len(x)
                now = time.monotonic()
                if now - last_emit >= _BATCH_EVENT_INTERVAL_S or b == len(batches) or b == skip + 1:
                    rate = (seen - last_seen) * self.dist.world / (now - last_emit) if now > last_emit else None
                    self.sink.emit(ev.Batch(job=self.job_id, epoch=epoch, batch=b, batches=len(batches),
                                            loss=value, images_per_s=rate))
                    last_emit, last_seen = now, seen
                if self._stop_requested():
                    if b < len(batches):
                        self._save_last(epoch, b, loss_sum, seen, announce=True)
                        raise _Cancelled
                    break
            self.skip_batches = 0
            train_loss = self._mean_loss(loss_sum, seen)
            val = self._validate()
            metrics = self._val_metrics(val)
            value = val.loss if self.monitor == "val_loss" else metrics.get(self.monitor)
            self._step_scheduler(value)
            lr = max(g["lr"] for g in self.optimizer.param_groups)
            self.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": _finite(val.loss),
                                 "metrics": metrics, "lr": lr, "frozen": bool(self.frozen)})
            improved = self._improved(value, val.loss)
            if improved:
                self.best = {"metric": _finite(value), "epoch": epoch, "val_loss": _finite(val.loss)}
                self.bad_epochs = 0
                self._save_best(epoch)
            else:
                self.bad_epochs += 1
            stop = bool(job.early_stopping and self.bad_epochs >= job.early_stopping and epoch < job.epochs)
            self.stopped_early = stop
            self._save_last(epoch, 0)
            epoch_times.append(time.monotonic() - t_epoch)
            eta = 0.0 if stop else float(np.mean(epoch_times[-3:])) * (job.epochs - epoch)
            self.sink.emit(ev.EpochEnd(job=self.job_id, epoch=epoch, epochs=job.epochs, train_loss=train_loss,
                                       val_loss=_finite(val.loss), metrics=metrics, lr=lr, eta_s=eta))
            if stop:
                self.sink.log("info", f"stopping early: validation {self.monitor} has not improved for "
                                      f"{self.bad_epochs} epochs (best {_fmt(self.best['metric'])} at epoch "
                                      f"{self.best['epoch']})")
                break

    def _stop_requested(self) -> bool:
        return self.dist.any(self.token.requested())

    def _mean_loss(self, loss_sum: float, seen: int) -> float | None:
        parts = self.dist.gather((loss_sum, seen))
        total, n = sum(p[0] for p in parts), sum(p[1] for p in parts)
        return _finite(total / n) if n else None

    def _validate(self):
        from trainer.evaluate import merge_outputs, run_model

        positions = list(range(len(self.sources["val"])))[self.dist.rank::self.dist.world]
        out = run_model(self.module, self.sources["val"], positions, self.criterion, self.task,
                        self._num_classes(), self.per_rank_batch * 2, self.device, self.loader_workers)
        return merge_outputs(self.dist.gather(out))

    def _num_classes(self) -> int:
        return len(self.dataset.classes)

    def _val_metrics(self, out) -> dict[str, float | None]:
        from trainer.evaluate import val_metrics

        return val_metrics(out, self.task, self.pos)

    def _step_scheduler(self, value) -> None:
        if self.scheduler is None:
            return
        import torch

        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if value is not None and math.isfinite(value):
                self.scheduler.step(value)
        else:
            self.scheduler.step()

    def _improved(self, value, val_loss) -> bool:
        best = self.best["metric"]
        if value is None or not math.isfinite(value):
            return False
        if best is None:
            return True
        delta = self.job.min_delta
        better = value > best + delta if self.mode == "max" else value < best - delta
        if better:
            return True
        tie = abs(value - best) <= max(delta, 1e-12)
        return bool(tie and val_loss is not None and self.best.get("val_loss") is not None
                    and val_loss < self.best["val_loss"])

    # -- checkpoints ---------------------------------------------------------------

    def _write(self, path: Path, write) -> None:
        try:
            write(path)
        except WriteError as err:
            raise JobFailed(err.strerror or str(err)) from None
        except OSError as err:
            raise JobFailed(describe_os_error(err, path)) from None

    def _save_best(self, epoch: int) -> None:
        if not self.dist.main:
            return
        from medview.inference.weights import write_safetensors

        path = self.ckpt_dir / BEST_NAME
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self._write(path, lambda p: write_safetensors(self.module.state_dict(), p,
                                                      {"medview.job": self.job_id, "epoch": str(epoch)}))
        self.sink.emit(ev.CheckpointSaved(job=self.job_id, path=str(path), epoch=epoch,
                                          metric=self.best["metric"], metric_name=self.monitor))

    def _save_last(self, epoch: int, batch: int, loss_sum: float = 0.0, seen: int = 0,
                   announce: bool = False) -> None:
        import torch

        if not self.dist.main or epoch < 1 and not batch:
            return
        state = {
            "format": CHECKPOINT_FORMAT, "job": self.job_id, "epoch": epoch, "batch": batch,
            "epochs": self.job.epochs, "world": self.dist.world, "batch_size": self.per_rank_batch,
            "loss_sum": float(loss_sum), "seen": int(seen),
            "model": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "best": dict(self.best), "bad_epochs": self.bad_epochs, "history": list(self.history),
            "torch_rng": torch.get_rng_state(), "manifest": json.dumps(self.manifest.to_dict()),
            "stopped_early": bool(self.stopped_early),
        }
        path = self.ckpt_dir / LAST_NAME
        self._write(path, lambda p: save_checkpoint(p, state))
        if announce:
            self.sink.emit(ev.CheckpointSaved(job=self.job_id, path=str(path), epoch=epoch, metric=None,
                                              metric_name=None))

    # -- the end -------------------------------------------------------------------

    def _finish(self) -> None:
        import torch

        from medview.inference.weights import read_safetensors
        from trainer import evaluate as E

        best_path = self.ckpt_dir / BEST_NAME
        if self.best["epoch"] and best_path.exists():
            self.module.load_state_dict(read_safetensors(best_path, self.job.name))
            self.sink.log("info", f"final model: the weights of epoch {self.best['epoch']} (best validation "
                                  f"{self.monitor} {_fmt(self.best['metric'])})")
        else:
            self.sink.log("warning", f"validation {self.monitor} was never measurable; the final model is the "
                                     "last epoch's")
        if self.job.weights_precision == "float16":
            # Stored in half precision: round now, so the threshold and the test report are
            # those of the weights that will actually be shipped.
            with torch.no_grad():
                for t in self.module.state_dict().values():
                    if t.is_floating_point():
                        t.copy_(t.half().float())
            self.sink.log("info", "weights rounded to float16 for storage; the evaluation below uses them")
        self.module.eval()
        thresholds, threshold, info = {}, 0.5, {}
        if self.task == "classification" and self.pos is not None:
            val = E.run_model(self.module, self.sources["val"], list(range(len(self.sources["val"]))),
                              self.criterion, self.task, self._num_classes(), self.per_rank_batch * 2,
                              self.device, self.loader_workers)
            threshold, info = E.choose_threshold(val, self.pos, self.job.threshold)
            if "note" in info:
                self.sink.log("warning", info["note"])
            thresholds = {self.dataset.classes[self.pos]: threshold}
        report = self._test_report(threshold, info)
        self.manifest = replace(self.manifest, thresholds=thresholds)
        model_dir = self._write_model(report)
        if report is not None:
            self.sink.emit(ev.Evaluation(job=self.job_id, report=str(model_dir / "evaluation.json"),
                                         metrics=E.headline(report)))
        self.sink.emit(ev.Finished(job=self.job_id, model=str(model_dir), best_metric=self.best["metric"],
                                   metric_name=self.monitor))
        _end(self.sink, self.dist, self.run_dir, "finished", reason=None)
        torch.set_grad_enabled(True)

    def _test_report(self, threshold: float, info: dict) -> dict | None:
        from trainer import evaluate as E

        ds = self.dataset
        src = self.sources["test"]
        report: dict[str, Any] = {
            "format": 1, "job": self.job_id, "model": self.manifest.name, "version": self.manifest.version,
            "task": self.task, "classes": list(ds.classes), "date": date.today().isoformat(),
            "dataset": {"source": ds.summary.source, "files_relative_to": str(
                            Path(ds.summary.source) if Path(ds.summary.source).is_dir()
                            else Path(ds.summary.source).parent), "n_samples": ds.summary.n_samples,
                        "n_patients": ds.summary.n_patients, "counts": ds.summary.counts},
            "split": {**self.sizes, "by": "patient", "seed": self.job.split.seed, "file": SPLIT_NAME},
            "best_epoch": self.best["epoch"], "monitor": self.monitor, "best_validation": self.best["metric"],
            "history": self.history, "parent": self.parent,
        }
        if len(src) == 0:
            report["metrics"] = {}
            report["notes"] = ["no test set: the model was not evaluated on held-out images"]
            self._report = report
            return None
        out = E.run_model(self.module, src, list(range(len(src))), self.criterion, self.task,
                          self._num_classes(), self.per_rank_batch * 2, self.device, self.loader_workers)
        source = Path(ds.summary.source)
        files = E.files_of(ds.samples, src.indices, source if source.is_dir() else source.parent)
        if self.task == "classification":
            report.update(E.classification_report(out, list(ds.classes), self.pos, threshold, info, files))
        else:
            report.update(E.segmentation_report(out, list(ds.classes), files))
        report["n_test"] = out.n
        report["test_loss"] = _finite(out.loss)
        notes = report.setdefault("notes", [])
        if out.n < 50:
            notes.append(f"the test set has only {out.n} images: treat every number here as rough "
                         "(see the 95% intervals)")
        notes.append("threshold and best epoch were chosen on the validation set; the test set was "
                      "used for nothing but this report")
        self._report = report
        self._test_out = out
        return report

    def _write_model(self, report: dict | None) -> Path:
        from medview.inference.manifest import WeightsSpec, write_manifest
        from medview.inference.weights import write_safetensors
        from trainer.register import card_text

        report = report if report is not None else self._report
        card = self._card(report)
        staging = self.run_dir / ".model-new"
        shutil.rmtree(staging, ignore_errors=True)
        target = self.run_dir / MODEL_DIR

        def write_all(_):
            staging.mkdir(parents=True)
            state = self.module.state_dict()
            if self.job.weights_precision == "float16":
                state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
            digest = write_safetensors(state, staging / "weights.safetensors",
                                       {"medview.model": f"{self.manifest.name}@{self.manifest.version}"})
            self.manifest = replace(self.manifest, card=card, weights=WeightsSpec("weights.safetensors", digest))
            write_manifest(self.manifest, staging / "model.json")
            report["charts"] = self._charts(staging, report)
            write_json(staging / "evaluation.json", _json_safe(report))
            write_text(staging / "card.md", card_text(self.manifest, report, self.job))
            old = self.run_dir / ".model-old"
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)

        try:
            self._write(target, write_all)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _charts(self, folder: Path, report: dict) -> dict[str, str]:
        from trainer import charts

        made = {}
        made["curves"] = charts.curves_png(self.history, None if self.monitor == "val_loss" else self.monitor,
                                           folder / "training_curves.png",
                                           f"{self.manifest.name}: training").name
        if "confusion_matrix" in report:
            sub = report.get("decision_rule", "")
            made["confusion_matrix"] = charts.confusion_png(report["confusion_matrix"], report["classes"],
                                                            folder / "confusion_matrix.png",
                                                            subtitle=_clip(sub, 70)).name
        if report.get("roc"):
            m = report["metrics"]
            point = (1 - m["specificity"], m["sensitivity"]) if m.get("specificity") is not None \
                and m.get("sensitivity") is not None else None
            made["roc"] = charts.roc_png([(report["positive_class"], report["roc"]["fpr"], report["roc"]["tpr"],
                                           m.get("auc"))], folder / "roc.png", point,
                                         f"threshold {m['threshold']:.3g}").name
        elif report.get("roc_one_vs_rest"):
            curves = [(n, c["fpr"], c["tpr"], c["auc"]) for n, c in report["roc_one_vs_rest"].items() if c]
            if curves:
                made["roc"] = charts.roc_png(curves, folder / "roc.png", title="ROC, one class vs the rest (test)").name
        if self.task == "segmentation" and len(self.sources["test"]):
            made["examples"] = self._examples(folder / "examples.png").name
        return made

    def _examples(self, path: Path) -> Path:
        import torch

        from trainer import charts

        src = self.sources["test"]
        picks = list(range(min(8, len(src))))
        images, truths, preds, captions = [], [], [], []
        with torch.inference_mode():
            for i in picks:
                image, target = src.get(i)
                out = self.module(torch.from_numpy(image[None]).to(self.device))[0]
                pred = (torch.sigmoid(out[0]) >= 0.5) if out.shape[0] == 1 else out.argmax(0) > 0
                images.append(image[0])
                truths.append(np.asarray(target))
                preds.append(pred.cpu().numpy().astype(np.uint8))
                captions.append(Path(str(_sample_path(self.dataset.samples[int(src.indices[i])]))).name)
        return charts.examples_png(images, truths, preds, captions, path)

    def _card(self, report: dict):
        from medview.inference.manifest import ModelCard

        job, s = self.job, self.dataset.summary
        counts = ", ".join(f"{k} {v}" for k, v in s.counts.items())
        training = (f"{s.n_samples} images ({counts}) of {s.n_patients} patients"
                    f"{f' and {s.n_without_patient_id} images without patient ID' if s.n_without_patient_id else ''}"
                    f" from {s.source}; split by patient (seed {job.split.seed}): train {self.sizes['train']}, "
                    f"validation {self.sizes['val']}, test {self.sizes['test']}. {self.parent[0].upper()}"
                    f"{self.parent[1:]}; {len(self.history)} epoch(s), best at epoch {self.best['epoch']} "
                    f"(validation {self.monitor} {_fmt(self.best['metric'])}); preset '{job.preset}'.")
        metrics = {f"test_{k}": float(v) for k, v in (report.get("metrics") or {}).items()
                   if isinstance(v, (int, float)) and v is not None and math.isfinite(v)}
        if report.get("n_test"):
            metrics["test_images"] = float(report["n_test"])
        limitations = [job.card.limitations] if job.card.limitations else []
        intended = job.card.intended_use
        if job.card.demo:
            demo = "DEMO, synthetic data, not for clinical use."
            if "not for clinical use" not in intended.lower():
                intended = f"{demo} {intended}"
            limitations.append("Trained and tested on synthetic images only (medview demo-data); it knows "
                               "nothing about real patients.")
        if report.get("n_test", 0) and report["n_test"] < 50:
            limitations.append(f"Tested on only {report['n_test']} images; the numbers are rough.")
        if not report.get("n_test"):
            limitations.append("Not evaluated on a held-out test set.")
        return ModelCard(intended_use=intended, training_data=training, date=date.today().isoformat(),
                         metrics=metrics, limitations=" ".join(limitations), authors=job.card.authors)

    def register(self) -> int:
        from trainer.register import RegistrationError, register

        try:
            entry = register(self.run_dir)
        except RegistrationError as err:
            self.sink.log("error", f"the model was trained but not registered: {err}")
            return EXIT_REGISTER_FAILED
        self.sink.log("info", f"registered as '{entry.name}' version {entry.version} in {entry.path}; "
                              f"use it with: medview analyze --model {entry.name} FILES")
        return EXIT_FINISHED


# ----------------------------------------------------------------------- helpers

def _sample_path(sample) -> Path:
    return getattr(sample, "path", None) or sample.image


def _sample_key(sample) -> tuple[str, int]:
    return (str(Path(_sample_path(sample)).resolve()), int(getattr(sample, "frame", 0)))


#: Least momentum of BatchNorm running statistics while training (see _faster_batchnorm).
MIN_BN_MOMENTUM = 0.1


def _faster_batchnorm(module) -> None:
    """Let BatchNorm running statistics follow the data at momentum 0.1 or more.

    torchvision's MobileNetV3 and EfficientNet use 0.01, tuned for ImageNet's million
    images; on a clinic's few hundred images (a few dozen steps per epoch) their running
    statistics would hardly move, and the network would validate and serve with
    statistics of nothing (constant outputs). Only the training-time update speed
    changes; the saved weights and the architecture stay as they are.
    """
    from torch import nn

    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.momentum is not None \
                and m.momentum < MIN_BN_MOMENTUM:
            m.momentum = MIN_BN_MOMENTUM


def _job_field(manifest_field: str) -> str:
    """The job field behind a manifest field (the trainer writes the manifest from the job)."""
    if manifest_field.startswith("architecture.arguments"):
        return "model.arguments" + manifest_field[len("architecture.arguments"):]
    if manifest_field == "architecture.name":
        return "model.architecture"
    return manifest_field


def _empty_folders_hint(root: Path) -> str:
    """For a data set that failed: name the class folders that hold no file at all."""
    try:
        if not root.is_dir() or (root / "images").is_dir():
            return ""
        empty = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                       and not any(p.is_file() for p in d.rglob("*")))
    except OSError:
        return ""
    return f" (empty class folder: {', '.join(empty)})" if empty else ""


def _skipped_message(skipped, what: str, limit: int = 10) -> str:
    items = "; ".join(f"{p}: {r}" for p, r in list(skipped)[:limit])
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return f"{len(skipped)} file(s) {what}: {items}{more}"


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:200]


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj
