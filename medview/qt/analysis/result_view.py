"""How one analysis reads in the panel: decision, probabilities, areas, provenance.

- classification: the decision, then one bar per class (probability, the class's
  decision threshold as a tick, the decided class highlighted) and, with Grad-CAM,
  the heat-map legend;
- segmentation: what was found, then per class its colour, area (mm² when the image
  is calibrated, px² otherwise, with the spacing source) and series volume;
- always: model name and version, engine, precision, device and time taken, and the
  model card's intended use (a screening aid is not a diagnosis).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from medview.qt import theme
from medview.qt.analysis.measure import VolumeEstimate, format_area, format_volume

ROW_HEIGHT = 22


@dataclass
class BarRow:
    """One class: its probability, its threshold (None: none), whether it is the decision."""

    name: str
    probability: float
    threshold: float | None
    decided: bool = False
    colour: str | None = None


class ProbabilityBars(QWidget):
    """Per-class probability bars; the threshold is a tick across each bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[BarRow] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(160)

    def set_rows(self, rows: list[BarRow]) -> None:
        self.rows = list(rows)
        self.setFixedHeight(max(1, len(self.rows)) * ROW_HEIGHT + 4)
        self.setToolTip("\n".join(
            f"{r.name}: {r.probability:.1%}"
            + (f" (threshold {r.threshold:.0%})" if r.threshold is not None else "")
            for r in self.rows))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, max(1, len(self.rows)) * ROW_HEIGHT + 4)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fm = QFontMetricsF(self.font())
        w = self.width()
        name_w = min(w * 0.38, max((fm.horizontalAdvance(r.name) for r in self.rows),
                                   default=0) + 8)
        value_w = fm.horizontalAdvance("100.0 %") + 6
        bar_x, bar_w = name_w, max(20.0, w - name_w - value_w - 4)
        for i, r in enumerate(self.rows):
            y = 2 + i * ROW_HEIGHT
            text_rect = QRectF(0, y, name_w - 4, ROW_HEIGHT)
            font = QFont(self.font())
            font.setBold(r.decided)
            p.setFont(font)
            p.setPen(QColor(theme.TEXT if r.decided else theme.TEXT_DIM))
            p.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                       fm.elidedText(r.name, Qt.TextElideMode.ElideRight, name_w - 4))
            track = QRectF(bar_x, y + 5, bar_w, ROW_HEIGHT - 10)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(theme.BASE))
            p.drawRoundedRect(track, 2, 2)
            fill = QRectF(track.left(), track.top(),
                          track.width() * max(0.0, min(1.0, r.probability)), track.height())
            colour = QColor(r.colour or (theme.ACCENT if r.decided else "#6b7078"))
            p.setBrush(colour)
            p.drawRoundedRect(fill, 2, 2)
            if r.threshold is not None and 0.0 <= r.threshold <= 1.0:
                x = track.left() + track.width() * r.threshold
                p.setPen(QPen(QColor(theme.WARNING), 2))
                p.drawLine(int(round(x)), int(track.top() - 3), int(round(x)),
                           int(track.bottom() + 3))
            p.setPen(QColor(theme.TEXT if r.decided else theme.TEXT_DIM))
            p.drawText(QRectF(track.right() + 4, y, value_w, ROW_HEIGHT),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                       f"{r.probability * 100:.1f} %")
        p.end()


def _gradient_pixmap(width: int = 120, height: int = 8) -> QPixmap:
    from medview.qt.analysis.overlays import jet

    strip = jet(width)
    img = QImage(width, height, QImage.Format.Format_RGB32)
    for x in range(width):
        r, g, b = (int(v) for v in strip[x])
        for y in range(height):
            img.setPixel(x, y, QColor(r, g, b).rgb())
    return QPixmap.fromImage(img)


class ResultView(QWidget):
    """The panel's result area; :meth:`show_analysis` or :meth:`show_message`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.headline = QLabel("", self)
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        self.headline.setObjectName("AiHeadline")
        self.bars = ProbabilityBars(self)
        self.legend = QLabel(self)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend_bar = QLabel(self)
        self.legend_bar.setPixmap(_gradient_pixmap())
        self.legend_bar.setToolTip("Grad-CAM: where the evidence for the class lies "
                                   "(blue weak, red strong); it does not say why")
        self.areas = QLabel(self)
        self.areas.setTextFormat(Qt.TextFormat.RichText)
        self.areas.setWordWrap(True)
        self.provenance = theme.note_label(parent=self)
        self.provenance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card = QLabel(self)
        self.card.setWordWrap(True)
        self.card.setStyleSheet(f"color: {theme.TEXT_DIM}; font-style: italic;")
        for w in (self.headline, self.bars, self.legend, self.legend_bar, self.areas,
                  self.provenance, self.card):
            lay.addWidget(w)
        self.analysis = None
        self.show_message("")

    # ------------------------------------------------------------------ content

    def show_message(self, text: str) -> None:
        """No result: a one-line explanation (or nothing)."""
        self.analysis = None
        self.headline.setText(text)
        self.headline.setVisible(bool(text))
        for w in (self.bars, self.legend, self.legend_bar, self.areas, self.provenance,
                  self.card):
            w.hide()

    def show_analysis(self, analysis, manifest=None, colours: dict[int, str] | None = None,
                      volume: VolumeEstimate | None = None, heatmap_shown: bool = False
                      ) -> None:
        """Show ``analysis`` (a :class:`~medview.qt.analysis.jobs.Analysis`).

        ``manifest`` gives the thresholds and the model card; ``colours`` the mask
        colours (mask value → ``#rrggbb``); ``volume`` the series volume so far.
        """
        self.analysis = analysis
        r = analysis.result
        self.headline.show()
        if r.task == "classification":
            self._classification(analysis, manifest, heatmap_shown)
        else:
            self._segmentation(r, colours or {}, volume)
        self.provenance.setText(provenance_text(analysis))
        self.provenance.show()
        use = getattr(getattr(manifest, "card", None), "intended_use", "")
        self.card.setText(use)
        self.card.setVisible(bool(use))

    def _classification(self, analysis, manifest, heatmap_shown: bool) -> None:
        r = analysis.result
        self.headline.setText(f"Prediction: {r.label}" if r.label else
                              "No class above its threshold")
        rows = []
        for name, prob in r.probabilities.items():
            rows.append(BarRow(name, float(prob), _threshold(manifest, name),
                               decided=name == r.label))
        self.bars.set_rows(rows)
        self.bars.show()
        self.areas.hide()
        has_cam = analysis.heatmap is not None
        self.legend.setText(f"Grad-CAM for <b>{html.escape(analysis.heatmap_class or '')}</b>: "
                            "weak → strong" if has_cam else "")
        self.legend.setVisible(has_cam)
        self.legend_bar.setVisible(has_cam and heatmap_shown)

    def _segmentation(self, r, colours: dict[int, str], volume: VolumeEstimate | None) -> None:
        found = [n for n, m in r.areas.items() if m.value > 0]
        self.headline.setText("Found: " + ", ".join(found) if found else "Nothing segmented")
        self.bars.hide()
        self.legend.hide()
        self.legend_bar.hide()
        by_name = {name: colours.get(v, theme.AI_OVERLAY) for v, name in r.mask_values.items()}
        lines = ["<table cellspacing='0' cellpadding='2'>"]
        for name, m in r.areas.items():
            vol = ""
            if volume is not None and name in volume.mm3:
                vol = format_volume(volume.mm3[name])
            lines.append(
                f"<tr><td><span style='color:{by_name.get(name, theme.AI_OVERLAY)}'>■</span></td>"
                f"<td>{html.escape(name)}</td><td align='right'>{format_area(m)}</td>"
                f"<td align='right'>{vol}</td></tr>")
        lines.append("</table>")
        source = next(iter(r.areas.values())).source if r.areas else ""
        notes = []
        if source and source != "uncalibrated":
            notes.append(f"Areas from {html.escape(source)}")
        elif source:
            notes.append("Image not calibrated: areas in pixels")
        if volume is not None:
            notes.append(volume_text(volume))
        lines.append(f"<div style='color:{theme.TEXT_DIM}'>{'<br>'.join(notes)}</div>")
        self.areas.setText("".join(lines))
        self.areas.show()


def _threshold(manifest, name: str) -> float | None:
    if manifest is None:
        return None
    if manifest.activation == "softmax" and name not in manifest.thresholds:
        return None  # the most probable class wins: no threshold of its own
    return float(manifest.threshold(name))


def provenance_text(analysis) -> str:
    """``chest-demo 1.0.0 · openvino fp32 · CPU · 42 ms`` (+ Grad-CAM time)."""
    r = analysis.result
    nb = "\u00a0"  # keep "49 ms" and "Grad-CAM 87 ms" on one line when wrapped
    text = (f"{r.model} {r.version} · {r.engine} {r.precision} · {r.device.upper()} · "
            f"{r.ms:.0f}{nb}ms")
    if analysis.heatmap is not None:
        text += f" (+{nb}Grad-CAM{nb}{analysis.ms_heatmap:.0f}{nb}ms)"
    return text


def volume_text(volume: VolumeEstimate) -> str:
    """One line on the series volume: complete, partial or why there is none."""
    if volume.reason:
        return f"No volume: {volume.reason}"
    sp = volume.spacing
    where = f"{sp.mm:g} mm apart ({sp.source})" if sp is not None else ""
    if volume.complete:
        return f"Volume over all {volume.slices_total} slices, {where}"
    return (f"Volume so far: {volume.slices_used} of {volume.slices_total} slices analysed "
            "— analyse the series for the whole volume")
