"""The shipped demo models carry nothing specific to the machine that trained them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[1] / "models"
TEXT_FILES = sorted(p for p in MODELS.glob("*/*") if p.suffix in (".json", ".md"))
# An absolute path of a build machine: /tmp/…, /home/…, /root/…, C:\… or C:/…
MACHINE_PATH = re.compile(r"(?<![\w<])(/tmp/|/home/|/root/|[A-Za-z]:[\\/])")


def test_models_folder_ships_text_files():
    assert TEXT_FILES, "models/ holds no model.json / card.md"


@pytest.mark.parametrize("path", TEXT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_build_machine_paths(path):
    hits = [line.strip()[:120] for line in path.read_text(encoding="utf-8").splitlines()
            if MACHINE_PATH.search(line)]
    assert not hits, hits[:3]
