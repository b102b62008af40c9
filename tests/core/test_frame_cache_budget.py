"""The decoded-frame cache's budget follows the machine's RAM, unless the user sets one."""

from __future__ import annotations

import ctypes
import sys

import pytest

from medview.core import pixel_cache
from medview.core.pixel_cache import MB, PixelCache, budget_bytes, default_budget_bytes
from medview.core.ram import MEMORYSTATUSEX, total_ram_bytes

GB = 1024 * MB


@pytest.mark.parametrize(("ram", "budget"), [
    (2 * GB, 256 * MB),     # the floor
    (4 * GB, 256 * MB),
    (6 * GB, 384 * MB),
    (8 * GB, 512 * MB),
    (16 * GB, 1024 * MB),
    (32 * GB, 2048 * MB),
    (128 * GB, 2048 * MB),  # the ceiling
])
def test_the_budget_is_a_share_of_ram_within_a_floor_and_a_ceiling(ram, budget):
    assert default_budget_bytes(ram) == budget


def test_unknown_ram_gets_an_8_gb_pc_budget(monkeypatch):
    monkeypatch.setattr(pixel_cache, "total_ram_bytes", lambda: None)
    assert default_budget_bytes() == pixel_cache.UNKNOWN_RAM_BYTES == 512 * MB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/meminfo is Linux's")
def test_total_ram_is_the_kernels_figure():
    with open("/proc/meminfo", encoding="ascii") as fh:
        kib = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal:"))
    assert total_ram_bytes() == kib * 1024
    assert PixelCache().max_bytes == default_budget_bytes(kib * 1024)


def test_windows_memory_structure_has_the_documented_size():
    # GlobalMemoryStatusEx fails unless dwLength is sizeof(MEMORYSTATUSEX) = 64 bytes
    assert ctypes.sizeof(MEMORYSTATUSEX) == 64
    assert MEMORYSTATUSEX.ullTotalPhys.offset == 8


@pytest.mark.parametrize(("setting", "budget"), [(0, None), (10, None), (64, 64 * MB),
                                                 (3000, 3000 * MB)])
def test_a_setting_of_64_mb_or_more_overrides_the_default(setting, budget, monkeypatch):
    monkeypatch.setattr(pixel_cache, "total_ram_bytes", lambda: 8 * GB)
    assert budget_bytes(setting) == (budget or 512 * MB)
