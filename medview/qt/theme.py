"""Reading-room dark theme and high-DPI set-up.

Diagnostic reading is done in dim rooms: the chrome around the images stays
dark and desaturated so that it neither dazzles nor changes how grey levels are
perceived, the image area is black, and a single muted accent marks focus,
selection and the active viewport. Body text keeps a contrast ratio above
7:1 (WCAG AAA) against the window colour, secondary text above 4.5:1 (AA).

Colours are plain ``"#rrggbb"`` strings so that the viewer can hand them to
``QColor`` or pyqtgraph alike without a QApplication existing.

Call :func:`configure_high_dpi` before the ``QApplication`` is created and
:func:`apply_dark_theme` right after.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

# --- chrome ------------------------------------------------------------------
WINDOW = "#1e1f22"  #: window and dock backgrounds
BASE = "#16171a"  #: item views, text fields
ALTERNATE_BASE = "#1b1c20"  #: alternating rows in item views
BUTTON = "#2a2c30"
BORDER = "#3a3d42"  #: frames, separators, dock title underline
DOCK_TITLE = "#26282c"
TEXT = "#d6d6d6"  #: body text, 11.3:1 on WINDOW
TEXT_DIM = "#9a9da3"  #: secondary text (labels, private tags), 6.1:1 on WINDOW
TEXT_DISABLED = "#5f6268"
ACCENT = "#4c9be8"  #: the one accent: focus rings, active viewport, links
HIGHLIGHT = "#2d5f8f"  #: selection background (white text on it is 6.7:1)
HIGHLIGHTED_TEXT = "#ffffff"
WARNING = "#e0a040"  #: skipped files, lossy-compression flags
ERROR = "#e06060"

# --- viewer ------------------------------------------------------------------
VIEWPORT_BG = "#000000"  #: behind the image; black so image borders vanish
VIEWPORT_BORDER = "#2a2c30"  #: inactive viewport frame
VIEWPORT_ACTIVE = ACCENT  #: frame of the viewport that receives keys
OVERLAY_TEXT = "#e8e8e8"  #: corner annotations (patient, W/L, zoom)
OVERLAY_SHADOW = "#000000"  #: 1 px drop shadow under overlay text
OVERLAY_DIM = "#a8a8a8"  #: secondary overlay text
MEASURE = "#ffd23f"  #: rulers, angles and their labels
ROI = "#5ad1a0"  #: ROI outlines and statistics
ROI_SELECTED = "#ff9f43"  #: the ROI being edited
CALIBRATION = "#c3a6ff"  #: the user's calibration line (never mistaken for a length)
REFERENCE_LINE = "#4cc2ff"  #: cross-reference / localizer lines
#: the line of each linked viewport, by its place in the grid (MPR: axial, coronal,
#: sagittal, oblique), and the 3-D cursor
REFERENCE_SLOTS = ("#ff6464", "#64dc78", "#4cc2ff", "#d9a0ff")
CURSOR_3D = "#ffb52e"
ORIENTATION = "#f0c674"  #: orientation markers (R, L, A, P, H, F)
AI_OVERLAY = "#ff4fd8"  #: model output contours (never mistaken for a measurement)

_STYLESHEET = f"""
QMainWindow::separator {{ background: {BORDER}; width: 3px; height: 3px; }}
QMainWindow::separator:hover {{ background: {ACCENT}; }}
QDockWidget {{ color: {TEXT}; }}
QDockWidget::title {{
    background: {DOCK_TITLE}; padding: 4px 6px; text-align: left;
    border-bottom: 1px solid {BORDER};
}}
QToolTip {{ color: {TEXT}; background: {BUTTON}; border: 1px solid {BORDER}; padding: 3px; }}
QLineEdit, QAbstractSpinBox, QComboBox {{
    border: 1px solid {BORDER}; border-radius: 3px; padding: 2px 4px; background: {BASE};
}}
QLineEdit:focus, QAbstractSpinBox:focus, QComboBox:focus, QAbstractItemView:focus {{
    border: 1px solid {ACCENT};
}}
QAbstractItemView {{ border: 1px solid {BORDER}; }}
QHeaderView::section {{
    background: {DOCK_TITLE}; color: {TEXT_DIM}; border: none;
    border-right: 1px solid {BORDER}; border-bottom: 1px solid {BORDER}; padding: 3px 4px;
}}
QTabBar::tab:selected {{ border-bottom: 2px solid {ACCENT}; }}
QStatusBar {{ color: {TEXT_DIM}; }}
"""


def configure_high_dpi() -> None:
    """Set the application attributes that only take effect before ``QApplication``.

    * Fractional scale factors (125 %, 150 %) are passed through instead of
      being rounded, so that 1 image pixel at 100 % zoom is 1 physical pixel
      and text is not blurred or oversized on clinic laptops.
    * OpenGL contexts are shared, so a viewport using ``QOpenGLWidget`` keeps
      working when its dock is floated or re-docked (a new top-level window).

    Does nothing (and warns nothing) when an application object already exists,
    since Qt would ignore the settings then.
    """
    if QCoreApplication.instance() is not None:
        return
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts, True)


def dark_palette() -> QPalette:
    """The reading-room palette: all three colour groups, disabled state greyed."""
    pal = QPalette()
    c = QColor
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: ALTERNATE_BASE,
        QPalette.ColorRole.ToolTipBase: BUTTON,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: TEXT_DISABLED,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: BUTTON,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ff5555",
        QPalette.ColorRole.Light: "#3c3f44",
        QPalette.ColorRole.Midlight: "#313338",
        QPalette.ColorRole.Mid: "#25272b",
        QPalette.ColorRole.Dark: "#121316",
        QPalette.ColorRole.Shadow: "#000000",
        QPalette.ColorRole.Highlight: HIGHLIGHT,
        QPalette.ColorRole.HighlightedText: HIGHLIGHTED_TEXT,
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.LinkVisited: "#8f7fd6",
    }
    accent_role = getattr(QPalette.ColorRole, "Accent", None)  # Qt >= 6.6
    if accent_role is not None:
        roles[accent_role] = ACCENT
    for role, colour in roles.items():
        pal.setColor(role, c(colour))
    # An unfocused window keeps a visible (if quieter) selection.
    pal.setColor(QPalette.ColorGroup.Inactive, QPalette.ColorRole.Highlight, c("#34465a"))
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.HighlightedText,
    ):
        pal.setColor(disabled, role, c(TEXT_DISABLED))
    pal.setColor(disabled, QPalette.ColorRole.Highlight, c("#2a2c30"))
    pal.setColor(disabled, QPalette.ColorRole.Base, c(WINDOW))
    return pal


def apply_dark_theme(app: QApplication) -> None:
    """Give ``app`` the Fusion style, the dark palette and the short stylesheet.

    Parameters
    ----------
    app : QApplication
        The running application; every existing and future widget is restyled.
    """
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(_STYLESHEET)


def note_label(text: str = "", parent: QWidget | None = None, *, colour: str = TEXT_DIM) -> QLabel:
    """A word-wrapped label in a secondary colour: hints, notes, warnings and errors
    beside a form (``colour`` is one of this module's colours, e.g. :data:`ERROR`)."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {colour};")
    return label
