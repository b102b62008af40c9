"""How long loading the AI took on this PC, to tell the user how long it will take. No Qt.

Two steps are timed (:data:`RUNTIME`: importing torch and OpenCV, once per run of the app,
or starting the inference process that imports torch;
:data:`MODEL`: reading a model's weights and building its engine) and kept in
``<user cache dir>/load_times.json``; the last time measured is the next estimate. Before
anything was measured, :data:`DEFAULTS` (a 2-core office PC) stand in. The file is small
and written atomically; an unreadable one counts as empty.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

RUNTIME, MODEL = "runtime", "model"
#: seconds, before this PC was measured (an idle 2-core PC: the torch and OpenCV import;
#: a ResNet-18 model, torchvision's import included)
DEFAULTS = {RUNTIME: 2.5, MODEL: 2.5}


class LoadTimes:
    """Estimates of the load steps, from the last times measured on this PC.

    Parameters
    ----------
    path : pathlib.Path, optional
        The JSON file; default ``load_times.json`` in the user cache folder.
    """

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from medview.inference.registry import user_cache_dir

            path = user_cache_dir() / "load_times.json"
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def estimate(self, step: str, key: str = "") -> float:
        """Seconds ``step`` (of model ``key``, for :data:`MODEL`) is expected to take."""
        value = self._read().get(f"{step}:{key}" if key else step)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
        return DEFAULTS.get(step, 1.0)

    def record(self, step: str, seconds: float, key: str = "") -> None:
        """Remember that ``step`` took ``seconds`` (best effort: a read-only folder is fine)."""
        from medview.core.atomic import write_text

        with self._lock:
            data = self._read()
            data[f"{step}:{key}" if key else step] = round(float(seconds), 3)
            try:
                write_text(self.path, json.dumps(data, indent=1, sort_keys=True))
            except OSError:
                pass


def about(seconds: float) -> str:
    """``"about 4 s"`` (whole seconds, at least 1)."""
    return f"about {max(1, round(seconds))} s"
