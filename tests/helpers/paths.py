"""Folders of the repository the tests read."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The demo models medview ships (``models/``).
SHIPPED = ROOT / "models"
#: The bundled sample study's chest radiograph.
SAMPLE_XRAY = ROOT / "resources" / "samples" / "chest_xray" / "chest_pa.dcm"
