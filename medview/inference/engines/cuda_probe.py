"""Whether torch can use a CUDA GPU here, asked without importing torch in this process.

An NVIDIA GPU on the machine (:func:`~medview.inference.engines.base.gpu_present`, from
the driver's files) does not mean torch can use it: a CPU-only torch, a driver older than
torch's CUDA, or ``CUDA_VISIBLE_DEVICES=""``. Only torch can tell, and importing it costs
~650 MB and seconds, so the inference process (:mod:`.process_engine`) asks it once and
the answer is kept in ``cuda.json`` in the user cache folder under a key of what can change
it (torch's build, the driver's version, ``CUDA_VISIBLE_DEVICES``). Without a GPU, or
without torch (the viewer-only bundle), nothing is started at all.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from .base import EngineError, available_engines, gpu_present

log = logging.getLogger(__name__)

CACHE_NAME = "cuda.json"
_lock = threading.Lock()
_answers: dict[str, bool] = {}


def cuda_usable(cache_dir: Path | None = None) -> bool:
    """True when torch here runs on a CUDA GPU; asked in the inference process, cached.

    Parameters
    ----------
    cache_dir : pathlib.Path, optional
        Folder of ``cuda.json`` (default: the user cache folder).
    """
    if not gpu_present() or "torch" not in available_engines():
        return False
    key = probe_key()
    with _lock:
        if key in _answers:
            return _answers[key]
        path = _cache_path(cache_dir)
        stored = _read(path)
        if key not in stored:
            answer = _ask_torch()
            if answer is None:
                return False  # not stored: the next session asks again
            stored[key] = answer
            _write(path, stored)
        _answers[key] = bool(stored[key])
        return _answers[key]


def probe_key() -> str:
    """What the answer depends on: torch's build, the GPU driver, the visible devices."""
    return " | ".join((available_engines().get("torch", "no torch"), _driver_version(),
                       os.environ.get("CUDA_VISIBLE_DEVICES", "*")))


def _driver_version() -> str:
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8", errors="replace") as fh:
            return fh.readline().strip()
    except OSError:
        return "driver ?"


def _ask_torch() -> bool | None:
    from .process_engine import shared_process

    process = shared_process()
    try:
        answer = bool(process.start().get("cuda"))
    except EngineError as exc:
        log.warning("cannot ask torch whether CUDA works: %s", exc.message)
        return None
    if not answer:
        process.stop_if_idle()  # torch will run here only if chosen by name
    return answer


def _cache_path(cache_dir: Path | None) -> Path:
    if cache_dir is None:
        from .selection import default_cache_dir

        cache_dir = default_cache_dir()
    return Path(cache_dir) / CACHE_NAME


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, bool)} if isinstance(data, dict) else {}


def _write(path: Path, data: dict) -> None:
    from medview.core.atomic import write_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(data, indent=1))
    except OSError as exc:
        log.info("cannot keep the CUDA answer in %s: %s", path, exc)
