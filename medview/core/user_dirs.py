"""Where medview keeps per-user files: models, backbones, jobs, saved readings,
hanging protocols (data), and remakeable caches. No Qt, no torch.

The data folder is ``platformdirs.user_data_dir("medview")``, or ``MEDVIEW_USER_DIR``
when set (tests, site installs); core modules (saved readings, hanging protocols) and
the AI registry alike take it from here.
"""

from __future__ import annotations

import os
from pathlib import Path

from medview.core.imports import load


def user_data_dir() -> Path:
    """medview's per-user data folder (``MEDVIEW_USER_DIR`` overrides it)."""
    override = os.environ.get("MEDVIEW_USER_DIR")
    if override:
        return Path(override)
    return Path(load("platformdirs").user_data_dir("medview", appauthor=False))


def user_cache_dir() -> Path:
    """medview's per-user cache folder: ``platformdirs.user_cache_dir("medview")``
    (engine choices, ONNX exports, load times; all can be remade)."""
    return Path(load("platformdirs").user_cache_dir("medview", appauthor=False))
