"""Corner overlays: patient, study, series, slice n/N, W/L, zoom, calibration."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

from medview.qt import theme


@dataclass
class CornerText:
    top_left: list[str]
    top_right: list[str]
    bottom_left: list[str]
    bottom_right: list[str]


def corner_text(series, frame, index: int, window, zoom: float, extra_bl: list[str],
                anonymous: bool = False) -> CornerText:
    """The four corners for ``frame`` (index ``index`` of ``series``).

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
        br.append(frame.spacing.label)
        lossy = frame.get("LossyImageCompression")
        if str(lossy) == "01":
            br.append("LOSSY COMPRESSED")
    return CornerText([s for s in tl if s], tr, bl, br)


class CornerCache:
    """Overlay text rendered once into transparent images, keyed by content.

    While the user drags W/L only one line changes; the rest are blitted,
    which is several times cheaper than laying out and drawing text again.
    """

    def __init__(self, limit: int = 64) -> None:
        self._images: dict[tuple, QImage] = {}
        self._limit = limit

    def block(self, lines: tuple[str, ...], dims: tuple[bool, ...], font: QFont,
              dpr: float) -> QImage:
        key = (lines, dims, font.key(), dpr)
        img = self._images.get(key)
        if img is None:
            if len(self._images) >= self._limit:
                self._images.pop(next(iter(self._images)))
            img = self._images[key] = _render_block(lines, dims, font, dpr)
        return img


def _render_block(lines: tuple[str, ...], dims: tuple[bool, ...], font: QFont,
                  dpr: float) -> QImage:
    fm = QFontMetricsF(font)
    w = max((fm.horizontalAdvance(s) for s in lines), default=0) + 2
    h = fm.height() * len(lines) + 2
    img = QImage(max(1, math.ceil(w * dpr)), max(1, math.ceil(h * dpr)),
                 QImage.Format.Format_ARGB32_Premultiplied)
    img.setDevicePixelRatio(dpr)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setFont(font)
    for i, (line, dim) in enumerate(zip(lines, dims)):
        y = fm.ascent() + i * fm.height()
        p.setPen(QColor(theme.OVERLAY_SHADOW))
        p.drawText(QPointF(1, y + 1), line)
        p.setPen(QColor(theme.OVERLAY_DIM if dim else theme.OVERLAY_TEXT))
        p.drawText(QPointF(0, y), line)
    p.end()
    return img


def draw_corners(p: QPainter, rect: QRectF, text: CornerText,
                 cache: CornerCache | None = None) -> None:
    """Draw the four corners; the top corners' first line bright, the rest dimmer."""
    font = QFont(p.font())
    font.setPointSizeF(max(8.5, font.pointSizeF()))
    dev = p.device()
    dpr = dev.devicePixelRatioF() if dev is not None else 1.0
    cache = cache if cache is not None else CornerCache()
    lh = QFontMetricsF(font).height()
    m = 6.0
    for lines, left, top in ((text.top_left, True, True), (text.top_right, False, True),
                             (text.bottom_left, True, False), (text.bottom_right, False, False)):
        n = len(lines)
        dims = tuple(top and i > 0 for i in range(n))
        if not n:
            continue
        if left:  # one block
            img = cache.block(tuple(lines), dims, font, dpr)
            y = rect.top() + m if top else rect.bottom() - m - n * lh - 2
            p.drawImage(QPointF(rect.left() + m, y), img)
            continue
        for i, line in enumerate(lines):  # right-aligned: a block per line
            img = cache.block((line,), (dims[i],), font, dpr)
            x = rect.right() - m - img.deviceIndependentSize().width()
            y = rect.top() + m + i * lh if top else rect.bottom() - m - (n - i) * lh - 2
            p.drawImage(QPointF(x, y), img)


def draw_centre_message(p: QPainter, rect: QRectF, text: str, colour: str = theme.TEXT_DIM) -> None:
    p.save()
    p.setPen(QColor(colour))
    p.drawText(rect.adjusted(20, 20, -20, -20),
               Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
    p.restore()


def _format_date(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}" if len(da) == 8 and da.isdigit() else da
