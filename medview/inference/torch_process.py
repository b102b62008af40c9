"""The inference process: where torch runs for the GUI, so the GUI process never loads it.

Started by :class:`medview.inference.engines.process_engine.InferenceProcess` with the
``spawn`` method (also from the frozen executable: ``medview/__main__.py`` calls
``freeze_support()`` first). It imports torch once, then hosts any number of models,
each built by :func:`~medview.inference.engines.create_engine` exactly as in-process
analysis builds it (the torch CUDA engine where the GPU works, else the CPU engines).

Protocol over one duplex :class:`multiprocessing.connection.Connection` (pickled
tuples between two processes of the same medview; arrays travel as numpy arrays):

* process -> app ``("ready", facts)`` once, after torch is imported; ``facts`` is
  ``{"pid", "torch", "cuda", "gpu"}`` (whether torch sees a usable CUDA GPU); or
  ``("failed", line)`` when torch cannot be imported (a bundle without it), and it exits;
* app -> process ``(op, model_id, *args)``; ``None`` to stop. Operations:
  ``("load", id, manifest, folder, options)`` -> ``("ok", info)``;
  ``("run", id, batch)`` -> ``("ok", logits)``;
  ``("gradcam", id, image, class_index)`` -> ``("ok", heat_map)``;
  ``("measure", id)`` -> ``("ok", changed, info)`` or ``("cancelled",)``: while it
  measures, a ``("cancel",)`` from the app stops it;
  ``("unload", id)`` -> ``("ok",)``;
* any operation may answer ``("error", line)`` (one line for the user), and be
  preceded by ``("notice", line)`` messages of the engine factory (e.g. the GPU ran out
  of memory and the model moved to the CPU).

``info`` is ``{"name", "device", "precision", "selection"}`` of the model's engine.
Answers hold plain Python values and numpy arrays only: unpickling a torch object (even
``torch.__version__``) would import torch into the app. A crash (a CUDA driver fault,
the OOM killer) ends the process; the app sees the pipe close and starts a new one on
the next use.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from medview.core.imports import load

TEST_CRASH_ENV = "MEDVIEW_INFERENCE_TEST_CRASH"
"""Tests only: a file path; while that file exists, the next ``run`` deletes it and aborts
the process (a crash in the middle of an analysis)."""
TEST_HANG_ENV = "MEDVIEW_INFERENCE_TEST_HANG"
"""Tests only: as :data:`TEST_CRASH_ENV`, but the run hangs (a process that stops answering)."""


class _Hosted:
    """One model in this process: its network (for Grad-CAM and measuring) and engine."""

    def __init__(self, manifest, folder: str, options: dict, notice) -> None:
        registry = load("medview.inference.registry")
        self.model = registry.LoadedModel(manifest, None, Path(folder))
        self.options = dict(options)
        self.notice = notice
        self.engine = self._create(self.model.network(), self.options.pop("measure", False))

    def _create(self, module, measure: bool, cancelled=None):
        factory = load("medview.inference.engines.factory")
        cache_dir = self.options.get("cache_dir")
        return factory.create_engine(
            module, self.model.input_shape, task=self.model.manifest.task,
            model_key=self.model.key, device=self.options["device"],
            engine=self.options["engine"], precision=self.options["precision"],
            cache_dir=Path(cache_dir) if cache_dir else None, on_notice=self.notice,
            measure=measure, cancelled=cancelled)

    def info(self) -> dict:
        sel = getattr(self.engine, "selection", None) or {}
        return {"name": self.engine.name, "device": self.engine.device,
                "precision": self.engine.precision, "selection": dict(sel)}

    def measure(self, cancelled) -> bool:
        """Measure the engines on a copy of the network and switch to the winner."""
        import copy

        if (getattr(self.engine, "selection", None) or {}).get("source") != "default":
            return False
        new = self._create(copy.deepcopy(self.model.network()), True, cancelled)
        old, self.engine = self.engine, new
        old.close()
        return True

    def gradcam(self, image, class_index: int):
        return load("medview.inference.gradcam").heat_map(self.model.network(), image, class_index)


def serve(conn) -> None:
    """The process's main loop (the target of the app's ``Process``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the app's to handle; it stops us
    try:
        torch = load("torch")
    except Exception as exc:  # noqa: BLE001 - a bundle without torch, a broken install
        conn.send(("failed", f"torch cannot be loaded ({_reason(exc)})"))
        return
    cuda = bool(torch.cuda.is_available())
    conn.send(("ready", {"pid": os.getpid(), "torch": str(torch.__version__), "cuda": cuda,
                         "gpu": torch.cuda.get_device_name(0) if cuda else ""}))
    models: dict[int, _Hosted] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the app went away
            break
        if msg is None:
            break
        if msg[0] == "cancel":  # came after the measurement it meant had finished
            continue
        conn.send(_answer(conn, models, msg))
    for hosted in models.values():
        hosted.engine.close()


def _answer(conn, models: dict, msg: tuple) -> tuple:
    op, model_id, *args = msg
    selection = load("medview.inference.engines.selection")
    try:
        if op == "load":
            manifest, folder, options = args
            models[model_id] = _Hosted(manifest, folder, options,
                                       lambda line: conn.send(("notice", line)))
            return ("ok", models[model_id].info())
        if op == "unload":
            hosted = models.pop(model_id, None)
            if hosted is not None:
                hosted.engine.close()
            return ("ok",)
        hosted = models[model_id]
        if op == "run":
            _crash_if_asked()
            return ("ok", hosted.engine.run(args[0]))
        if op == "gradcam":
            return ("ok", hosted.gradcam(*args))
        if op == "measure":
            changed = hosted.measure(lambda: _cancel_arrived(conn))
            return ("ok", changed, hosted.info())
        return ("error", f"the inference process has no operation {op!r}")
    except selection.MeasureCancelled:
        return ("cancelled",)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the app's one line
        return ("error", _reason(exc))


def _crash_if_asked() -> None:
    """Tests' hooks: the file named by :data:`TEST_CRASH_ENV` (:data:`TEST_HANG_ENV`) makes
    the next run abort the process (hang it)."""
    path = os.environ.get(TEST_CRASH_ENV)
    if path and os.path.exists(path):
        os.remove(path)
        os.abort()
    path = os.environ.get(TEST_HANG_ENV)
    if path and os.path.exists(path):
        os.remove(path)
        threading.Event().wait()


def _cancel_arrived(conn) -> bool:
    """While measuring, the only message the app sends is ``("cancel",)``."""
    if conn.poll():
        conn.recv()
        return True
    return False


def _reason(exc: BaseException) -> str:
    from medview.core.errors import MedviewError, one_line

    if isinstance(exc, MedviewError):
        return exc.message
    return f"{type(exc).__name__}: {one_line(exc)}"
