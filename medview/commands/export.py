"""``medview export``: one frame, or one MPR plane of a series, to PNG through the
viewer's own display pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medview.commands.common import CliError
from medview.core import pixels
from medview.core.atomic import atomic_open
from medview.core.errors import ReadError
from medview.core.io.folder import load_paths
from medview.core.study import Frame, Series


def export_png(path: Path, out: Path, *, frame: int = 1, series: int = 1,
               window: tuple[float, float] | None = None, preset: str | None = None) -> None:
    """Render frame ``frame`` (1-based) of ``path`` to the PNG ``out``."""
    target = _select_frame(path, frame, series)
    try:
        stored = target.stored()
    except ReadError as err:
        raise CliError(str(err)) from None
    params = target.params
    chosen = _choose_window(params, str(target.get("Modality", "")), target.path, window, preset)
    out_pixels = pixels.FrameRenderer(stored, params).render(chosen)
    write_png_atomic(out_pixels, out)


def export_plane(path: Path, out: Path, *, plane: str, slice_number: int | None = None,
                 slab_mm: float = 0.0, slab_mode: str = "mip", series: int = 1,
                 window: tuple[float, float] | None = None,
                 preset: str | None = None) -> tuple[str, ...]:
    """Render an MPR plane of series ``series`` of ``path`` to the PNG ``out``.

    ``slice_number`` (1-based) counts the planes in ascending position along the
    plane normal (:meth:`Volume.positions`; for axial planes of a straight series, the
    series' own order); None takes the middle one. Returns the volume's notes (gantry
    tilt or uneven spacing corrected) for the caller to show.
    """
    from medview.core.volume import NotAVolume, Volume

    target = _select_series(path, series)
    try:
        volume = Volume.from_series(target)
    except NotAVolume as err:
        raise CliError(f"{path}: {err.reason}") from None
    except ReadError as err:
        raise CliError(str(err)) from None
    positions = volume.positions(plane)
    if slice_number is not None and not 1 <= slice_number <= len(positions):
        raise CliError(f"{path}: --slice {slice_number} out of range (1–{len(positions)})")
    position = None if slice_number is None else float(positions[slice_number - 1])
    image = volume.plane(plane, position, slab_mm=slab_mm, mode=slab_mode)
    chosen = _choose_window(image.params, volume.modality, path, window, preset)
    write_png_atomic(image.renderer().render(chosen), out)
    return volume.notes


def write_png_atomic(arr: np.ndarray, out: Path) -> None:
    """Write a uint8 grey or RGB array as PNG via a temp file and rename."""
    from PIL import Image

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise CliError(f"{out}: output must be a .png file")
    if not out.parent.exists():
        raise CliError(f"{out.parent}: folder not found")
    with atomic_open(out, "wb") as fh:
        Image.fromarray(np.ascontiguousarray(arr)).save(fh, format="PNG")


def _select_frame(path: Path, frame: int, series: int) -> Frame:
    frames = _select_series(path, series).frames
    if not 1 <= frame <= len(frames):
        raise CliError(f"{path}: --frame {frame} out of range (1–{len(frames)})")
    return frames[frame - 1]


def _select_series(path: Path, series: int) -> Series:
    if not path.exists():
        raise CliError(f"{path}: file not found")
    library = load_paths([path])
    all_series = library.series()
    if not all_series:
        reason = library.skipped[0][1] if library.skipped else "no readable images"
        where = library.skipped[0][0] if library.skipped else path
        raise CliError(f"{where}: {reason}")
    if not 1 <= series <= len(all_series):
        raise CliError(f"{path}: --series {series} out of range (1–{len(all_series)})")
    return all_series[series - 1]


def _choose_window(params: pixels.DisplayParams, modality: str, where: Path, window,
                   preset: str | None):
    if window is not None:
        center, width = window
        if width < 1:
            raise CliError(f"--window width must be at least 1 (got {width:g})")
        return pixels.Window(center, width)
    if preset is None:
        return None  # the pipeline's default: first stored window, VOI LUT, else auto
    options = pixels.presets_for(params, modality)
    for w in options:
        if w.name.lower() == preset.lower():
            return w
    names = ", ".join(w.name for w in options) or "none"
    raise CliError(f"{where}: no preset '{preset}' (available: {names})")
