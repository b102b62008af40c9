"""Keep the inference libraries off the network: switch off their telemetry before import.

Two of the engines phone home unless told not to, and both decide when they are
*imported*, so this must run before ``import onnxruntime`` / ``import openvino``:

* **ONNX Runtime** (1.29 and later, Linux/macOS) creates a Microsoft 1DS telemetry
  uploader when the library loads: it writes a device id and an event queue under
  ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and uploads a ``ProcessInfo`` event
  (and later session events) to ``mobile.events.data.microsoft.com``. The documented
  opt-out is the environment variable ``ORT_DISABLE_TELEMETRY=1``, read when the library
  loads; with it nothing is created or sent. (On Windows ORT logs ETW events instead;
  :func:`onnxruntime.disable_telemetry_events` is called as well.)
* **OpenVINO**'s Python package imports its model-conversion tools on ``import
  openvino``; with the ``openvino-telemetry`` package installed they send a Google
  Analytics event (from a child process on Linux) and write ``~/intel/openvino_ga_cid``.
  Putting ``None`` in ``sys.modules["openvino_telemetry"]`` makes that package look
  absent, and OpenVINO falls back to its own no-op stub.

``import medview`` calls :func:`disable_telemetry`, and
the engine modules call it again before importing their library. Code that imports
``onnxruntime`` or ``openvino`` *before* medview's engines gets the libraries' defaults,
so the application's entry point should call this first thing.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

_warned: set[str] = set()


def disable_telemetry() -> None:
    """Switch off ONNX Runtime's and OpenVINO's telemetry (idempotent; cheap).

    Sets ``ORT_DISABLE_TELEMETRY=1`` in the process environment (inherited by child
    processes too) and blocks the ``openvino_telemetry`` package. Logs a warning, once,
    for a library that was already imported without these settings.
    """
    if "onnxruntime" in sys.modules and os.environ.get("ORT_DISABLE_TELEMETRY") != "1":
        _warn_once("onnxruntime", "ONNX Runtime was imported before medview disabled its telemetry "
                                  "(set ORT_DISABLE_TELEMETRY=1 before importing it)")
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # blocks the import
    elif sys.modules["openvino_telemetry"] is not None:
        _warn_once("openvino_telemetry", "openvino_telemetry is already loaded; OpenVINO may send telemetry")


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("%s", message)
