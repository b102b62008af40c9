"""What the four corners of a viewport say: patient, study, series, laterality of a
radiograph, image n/N, W/L, zoom, calibration, the pixel under the pointer. No Qt (the
widget draws the lines)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from medview.core.probe import nearest_pixel
from medview.core.imports import load
from medview.view.frames import decoded
from medview.view.orientation import laterality


KEY_IMAGE_TEXT = "★ Key image"


@dataclass
class CornerText:
    top_left: list[str]
    top_right: list[str]
    bottom_left: list[str]
    bottom_right: list[str]


#: Between the words of a line: where a long line breaks first (then at spaces).
SEPARATOR = " · "
ELLIPSIS = "…"


def fit_beside(lines: list[str], beside: list[float], room: float,
               measure: Callable[[str], float], from_top: bool) -> list[tuple[str, int]]:
    """A left corner's lines wrapped so that none runs into the right corner's line on
    its row (a long AI caption under "Zoom 205 %" would otherwise overprint it).

    Lines break after a ``·`` where they can, else at spaces; a word wider than the
    whole row is cut with an ellipsis. A row with too little room beside the right
    corner stays empty, so every word is kept (a caption's warning included).

    Parameters
    ----------
    lines : list of str
        The left corner's lines, top to bottom.
    beside : list of float
        Widths of the right corner's lines on each row, counted from the edge both
        corners sit at (from the top for top corners, else from the bottom).
    room : float
        Width both corners share: the viewport's less its margins and the gap kept
        between the corners.
    measure : callable
        Width of a string in the font drawn.
    from_top : bool

    Returns
    -------
    list of (str, int)
        The rows top to bottom, each with the index in ``lines`` it comes from.
    """
    def room_at(row: int) -> float:
        return room - beside[row] if row < len(beside) else room

    narrowest = min((room_at(r) for r in range(len(beside))), default=room)
    least = measure("MMMM")  # narrower than this, a row beside the right corner is left empty
    rows: list[tuple[str, int]] = []
    order = range(len(lines)) if from_top else range(len(lines) - 1, -1, -1)
    for index in order:
        tokens = _tokens(lines[index], narrowest, measure)
        if not from_top:
            tokens.reverse()
        while tokens:
            width = room_at(len(rows))
            if width < least and len(rows) < len(beside):
                rows.append(("", index))
                continue
            take = _fitting(tokens, width, measure, from_top)
            piece, tokens = tokens[:take], tokens[take:]
            text = " ".join(piece if from_top else reversed(piece))
            rows.append((_elide(text, width, measure), index))
    return rows if from_top else rows[::-1]


def _tokens(line: str, narrowest: float, measure: Callable[[str], float]) -> list[str]:
    """``line`` in the pieces it may break into, joined by spaces: its ``·``-separated
    parts (each but the last ending in `` ·``), a part wider than ``narrowest`` split
    into words."""
    parts = line.split(SEPARATOR)
    tokens: list[str] = []
    for i, part in enumerate(parts):
        part = part + (SEPARATOR.rstrip() if i < len(parts) - 1 else "")
        tokens.extend(part.split() if measure(part) > narrowest else [part])
    return tokens or [""]


def _fitting(tokens: list[str], width: float, measure: Callable[[str], float], forward: bool) -> int:
    """How many of ``tokens`` (in reading order when ``forward``, else reversed) fit in
    ``width``; at least one."""
    for take in range(len(tokens), 1, -1):
        piece = tokens[:take] if forward else tokens[:take][::-1]
        if measure(" ".join(piece)) <= width:
            return take
    return 1


def _elide(text: str, width: float, measure: Callable[[str], float]) -> str:
    """``text`` cut to ``width`` with an ellipsis (as it is when it fits)."""
    if measure(text) <= width:
        return text
    while text and measure(text + ELLIPSIS) > width:
        text = text[:-1]
    return text + ELLIPSIS


def corner_text(series, frame, index: int, window, zoom: float, extra_bl: list[str],
                anonymous: bool = False, spacing=None) -> CornerText:
    """The four corners for ``frame`` (index ``index`` of ``series``); ``spacing``: the
    one measurements use when it is not the frame's own (a user calibration).

    ``anonymous`` leaves out what identifies the patient (name, ID, birth date, sex,
    study date, accession number) and the free-text study and series descriptions
    (which, like folder names for plain images, can carry a name), e.g. for a picture
    that leaves the study's folder.
    """
    tl: list[str] = []
    tr: list[str] = []
    study = series.study
    patient = study.patient if study is not None and not anonymous else None
    if patient is not None:
        tl.append(patient.name or "(no name)")
        ident = [patient.id and f"ID {patient.id}", _format_date(patient.birth_date),
                 patient.sex]
        tl.append("  ".join(x for x in ident if x))
    if study is not None and not anonymous:
        line = " ".join(x for x in (_format_date(study.date), study.description) if x)
        if line:
            tr.append(line)
        if study.accession:
            tr.append(f"Acc {study.accession}")
    tr.append(" ".join(x for x in (f"#{series.number}" if series.number is not None else "",
                                   series.modality, "" if anonymous else series.description)
                       if x))
    side = laterality(frame, series.modality)
    if side:
        tr.append(side)
    inst = frame.instance_number if frame is not None else None
    bl = [f"Im {index + 1}/{len(series.frames)}" + (f"  (#{inst})" if inst is not None else "")]
    if frame is not None:
        loc = frame.get("SliceLocation")
        thick = frame.get("SliceThickness")
        parts = []
        if loc is not None:
            try:
                parts.append(f"Loc {float(loc):.1f} mm")
            except (TypeError, ValueError):
                pass
        if thick is not None:
            try:
                parts.append(f"Thk {float(thick):.1f} mm")
            except (TypeError, ValueError):
                pass
        if parts:
            bl.append("  ".join(parts))
    bl.extend(extra_bl)
    br = []
    if window is not None:
        name = f" {window.name}" if getattr(window, "name", "") else ""
        br.append(f"W {window.width:.0f}  L {window.center:.0f}{name}")
    br.append(f"Zoom {zoom * 100:.0f}%")
    if frame is not None:
        br.append((spacing or frame.spacing).label)
        lossy = frame.get("LossyImageCompression")
        if str(lossy) == "01":
            br.append("LOSSY COMPRESSED")
    return CornerText([s for s in tl if s], tr, bl, br)


def view_corner_text(model, anonymous: bool = False, captions: bool = True) -> CornerText:
    """The corners of ``model`` (a :class:`~medview.view.model.ViewModel` showing a frame)
    as its viewport shows them: with the pixel readout, "Inverted", and the captions of
    the image overlays on screen when ``captions``."""
    text = corner_text(model.series, model.frame, model.index, model.current_window(),
                       model.zoom_percent(), [model.readout] if model.readout else [],
                       anonymous, model.spacing())
    caption = getattr(model.frames, "caption", None)
    if caption is not None:  # a reformatted plane: its name, number, position, slab
        text.bottom_left[:1] = caption(model.index)
    if model.invert:
        text.bottom_right.insert(0, "Inverted")
    if model.is_key_image:
        text.top_right.append(KEY_IMAGE_TEXT)
    if captions:
        text.bottom_left[:0] = model.overlay_captions()
    return text


def readout_text(frame, rc: tuple[float, float], suv=None) -> str:
    """``X col  Y row`` of the pixel at ``rc`` and its value when decoded; "" outside.
    ``suv``: the frame's :class:`~medview.core.suv.SuvScale`, to add the SUV (PET)."""
    pix = nearest_pixel(frame.shape, rc)
    if pix is None:
        return ""
    text = f"X {pix[1]}  Y {pix[0]}"
    stored = decoded(frame)
    if stored is not None:
        text += "  " + pixel_value_text(stored, frame.params, pix)
        factor = getattr(suv, "factor", None)
        if factor is not None and np.ndim(stored[pix]) == 0:
            value = load("medview.core.pixels").modality_values(
                np.asarray([stored[pix]]), frame.params)[0]
            text += f"  SUVbw {float(value) * factor:.2f}"
    return text


def pixel_value_text(stored: np.ndarray, params, pix: tuple[int, int]) -> str:
    """Readout text: the stored value and, when it differs, the modality value with units."""
    r, c = pix
    v = stored[r, c]
    if np.ndim(v) > 0:  # colour
        return "RGB " + " ".join(str(int(x)) for x in np.ravel(v)[:3])
    if params.is_colour:  # palette index
        return f"index {int(v)}"
    sv = int(v) if stored.dtype.kind in "uib" else float(v)
    try:
        mv = float(load("medview.core.pixels").modality_values(np.asarray([v]), params)[0])
    except Exception:  # noqa: BLE001 - a value the LUT cannot map: the stored one alone
        return f"SV {sv}"
    units = params.units
    if units or mv != float(sv):
        mv_text = f"{mv:.0f}" if abs(mv - round(mv)) < 1e-6 else f"{mv:.2f}"
        return f"SV {sv} = {mv_text} {units}".rstrip()
    return f"SV {sv}"


def _format_date(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}" if len(da) == 8 and da.isdigit() else da
