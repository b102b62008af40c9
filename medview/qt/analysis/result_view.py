"""How one analysis reads in the panel: decision, probabilities, areas, provenance.

- classification: the decision, then one bar per class (probability, the class's
  decision threshold as a tick, the decided class highlighted) and, with a heat map,
  its legend, named for what it is (Grad-CAM, or the decision map of a model that
  scores an image by its own class map);
- segmentation: what was found, then per class its colour, area (mm² when the image
  is calibrated, px² otherwise, with the spacing source) and series volume;
- always: model name and version, engine, precision, device and time taken, and the
  model card's intended use at full size (a screening aid is not a diagnosis);
- in the warning colour, when it applies: a run outside the model's declared input
  ("Run anyway") and an image unlike the model's training images;
- an image outside the declared input that was not run: why, in words, and "Run anyway".

Wording is that of decision support: "Model output" and a score with its threshold,
never "Found" or a bold diagnosis.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from medview.qt import theme
from medview.analysis.measure import VolumeEstimate, format_area, format_volume

ROW_HEIGHT = 22
#: The heat-map legend's tooltip, by ``Analysis.heatmap_method``.
HEATMAP_TIPS = {"Grad-CAM": "Grad-CAM: where the evidence for the class lies, reconstructed from the "
                            "network's last feature maps",
                "decision map": "Decision map: the model's score for the class in each part of the image; "
                                "the image's score is its strongest part"}


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
    from medview.analysis.overlays import jet

    strip = jet(width)
    img = QImage(width, height, QImage.Format.Format_RGB32)
    for x in range(width):
        r, g, b = (int(v) for v in strip[x])
        for y in range(height):
            img.setPixel(x, y, QColor(r, g, b).rgb())
    return QPixmap.fromImage(img)


class ResultView(QWidget):
    """The panel's result area; :meth:`show_analysis`, :meth:`show_refusal` or
    :meth:`show_message`. ``runAnyway`` is emitted by the refusal's button."""

    runAnyway = Signal()

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
        self.areas = QLabel(self)
        self.areas.setTextFormat(Qt.TextFormat.RichText)
        self.areas.setWordWrap(True)
        self.provenance = theme.note_label(parent=self)
        self.provenance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning = QLabel(self)
        self.warning.setObjectName("AiWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {theme.WARNING};")
        self.run_anyway = QPushButton("Run anyway", self)
        self.run_anyway.setToolTip("Analyse this image although the model was not made for it; "
                                   "the result is marked and the audit log records it")
        self.run_anyway.clicked.connect(self.runAnyway)
        # The intended use at full size, as the text it is (not a footnote).
        self.card = QLabel(self)
        self.card.setObjectName("AiIntendedUse")
        self.card.setWordWrap(True)
        for w in (self.headline, self.warning, self.run_anyway, self.bars, self.legend,
                  self.legend_bar, self.areas, self.provenance, self.card):
            lay.addWidget(w)
        self.analysis = None
        self.show_message("")

    # ------------------------------------------------------------------ content

    def show_message(self, text: str) -> None:
        """No result: a one-line explanation (or nothing)."""
        self.analysis = None
        self.headline.setText(text)
        self.headline.setVisible(bool(text))
        for w in (self.warning, self.run_anyway, self.bars, self.legend, self.legend_bar,
                  self.areas, self.provenance, self.card):
            w.hide()

    def show_refusal(self, scope, manifest) -> None:
        """An image outside the model's declared input, not analysed: why, and "Run anyway"."""
        self.show_message("Not analysed: outside this model's intended input")
        self.warning.setText(scope.message)
        self.warning.show()
        self.run_anyway.show()
        self._show_card(manifest)

    def show_analysis(self, analysis, manifest=None, colours: dict[int, str] | None = None,
                      volume: VolumeEstimate | None = None, heatmap_shown: bool = False
                      ) -> None:
        """Show ``analysis`` (a :class:`~medview.analysis.pool_jobs.Analysis`).

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
        self.run_anyway.hide()
        warnings = caution_lines(r)
        self.warning.setText("\n".join(warnings))
        self.warning.setVisible(bool(warnings))
        self._show_card(manifest)

    def _show_card(self, manifest) -> None:
        self.card.setText(intended_text(manifest))
        self.card.setVisible(bool(self.card.text()))

    def _classification(self, analysis, manifest, heatmap_shown: bool) -> None:
        r = analysis.result
        self.headline.setText(classification_headline(r, manifest))
        rows = []
        for name, prob in r.probabilities.items():
            rows.append(BarRow(name, float(prob), _threshold(manifest, name),
                               decided=name == r.label))
        self.bars.set_rows(rows)
        self.bars.show()
        self.areas.hide()
        has_cam = analysis.heatmap is not None
        method = analysis.heatmap_method
        self.legend.setText(f"{method[:1].upper()}{method[1:]} for <b>{html.escape(analysis.heatmap_class or '')}"
                            "</b>: weak → strong" if has_cam else "")
        self.legend_bar.setToolTip(HEATMAP_TIPS.get(method, "") + " (blue weak, red strong); it does not say why")
        self.legend.setVisible(has_cam)
        self.legend_bar.setVisible(has_cam and heatmap_shown)

    def _segmentation(self, r, colours: dict[int, str], volume: VolumeEstimate | None) -> None:
        found = [n for n, m in r.areas.items() if m.value > 0]
        self.headline.setText("Model output: " + (", ".join(found) + " segmented" if found
                                                  else "nothing segmented"))
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


def classification_headline(r, manifest) -> str:
    """``Model output: lesion 44 % (threshold 40 %)``: a score and its threshold, never a
    diagnosis."""
    if not r.label:
        return "Model output: no class above its threshold"
    threshold = _threshold(manifest, r.label)
    score = f"{r.probabilities[r.label]:.0%}"
    return (f"Model output: {r.label} {score}"
            + (f" (threshold {threshold:.0%})" if threshold is not None else ""))


def caution_lines(r) -> list[str]:
    """What must be read with the output: a run outside the declared input, an image
    unlike the training images."""
    lines = []
    if not r.scope.inside:
        lines.append("Run anyway, outside this model's intended input: " + r.scope.message)
    f = r.familiarity
    if f is not None and f.unlike_training:
        lines.append(f"This image is unlike the images the model was trained on (score "
                     f"{f.score:.3g}; above {f.threshold:.3g} is unlike): the output may "
                     "mean nothing here.")
    return lines


def intended_text(manifest) -> str:
    """The model card's intended use and the declared input, in full."""
    if manifest is None:
        return ""
    use = manifest.card.intended_use
    intended = manifest.intended_input
    declared = (f"Intended input: {intended.describe()}." if intended is not None
                else "This model declares no intended input: it runs on any image, unchecked.")
    return f"{use}\n{declared}" if use else declared


def _threshold(manifest, name: str) -> float | None:
    if manifest is None:
        return None
    if manifest.activation == "softmax" and name not in manifest.thresholds:
        return None  # the most probable class wins: no threshold of its own
    return float(manifest.threshold(name))


def provenance_text(analysis) -> str:
    """``chest-demo 1.0.0 · openvino fp32 · CPU · 42 ms`` (+ the heat map's time)."""
    r = analysis.result
    nb = "\u00a0"  # keep "49 ms" and "Grad-CAM 87 ms" on one line when wrapped
    text = (f"{r.model} {r.version} · {r.engine} {r.precision} · {r.device.upper()} · "
            f"{r.ms:.0f}{nb}ms · {r.scope.short()}")
    if analysis.heatmap is not None:
        method = analysis.heatmap_method.replace(" ", nb)
        text += f" (+{nb}{method}{nb}{analysis.ms_heatmap:.0f}{nb}ms)"
    return text


def overlay_caption(r) -> str:
    """The line drawn with an AI overlay on the image (and so in an exported PNG):
    ``AI demo-lesion-classifier 1.0.0 · torch fp32 · inside intended input``."""
    unlike = (" · UNLIKE its training images" if r.familiarity is not None
              and r.familiarity.unlike_training else "")
    return (f"AI {r.model} {r.version} · {r.engine} {r.precision} · {r.scope.short()}{unlike}"
            " · decision support only")


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
