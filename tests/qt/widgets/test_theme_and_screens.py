"""The dark theme's colours, high-DPI set-up, and screenshots of the widgets in it.

The screenshots land in ``/tmp/medview_widgets`` (``MEDVIEW_SCREENSHOT_DIR``) so
a person can look at them; the tests check the pixels they can.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydicom
from PySide6.QtGui import QColor, QImage, QPalette

from medview.qt import theme
from medview.qt.widgets.notice import show_skipped
from medview.qt.widgets.shortcuts_dialog import ShortcutsDialog
from medview.qt.widgets.tag_browser import TagBrowser
from tests.helpers.datafiles import find


def luminance(c: QColor) -> float:
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_palette_is_dark_with_readable_text(dark_theme):
    pal = dark_theme.palette()
    role = QPalette.ColorRole
    sheet = dark_theme.styleSheet()
    dark_theme.setStyleSheet("")  # a style sheet wraps the style in QStyleSheetStyle
    assert dark_theme.style().name().lower() == "fusion"
    dark_theme.setStyleSheet(sheet)
    assert pal.color(role.Window).lightness() < 50
    assert contrast(pal.color(role.WindowText), pal.color(role.Window)) >= 7
    assert contrast(pal.color(role.Text), pal.color(role.Base)) >= 7
    assert contrast(pal.color(role.HighlightedText), pal.color(role.Highlight)) >= 4.5
    disabled = pal.color(QPalette.ColorGroup.Disabled, role.Text)
    assert disabled != pal.color(role.Text)
    assert theme.ACCENT in dark_theme.styleSheet()
    assert QColor(theme.VIEWPORT_BG).lightness() < 10
    for name in ("OVERLAY_TEXT", "MEASURE", "ROI", "REFERENCE_LINE", "AI_OVERLAY"):
        assert QColor(getattr(theme, name)).isValid(), name


def test_configure_high_dpi_before_the_application(qapp):
    theme.configure_high_dpi()  # with an application already there: a harmless no-op
    code = (
        "import os; os.environ['QT_QPA_PLATFORM']='offscreen'\n"
        "from medview.qt.theme import configure_high_dpi\n"
        "configure_high_dpi()\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from PySide6.QtCore import Qt\n"
        "app = QApplication([])\n"
        "print(QApplication.highDpiScaleFactorRoundingPolicy().name)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "PassThrough"


def _dark_fraction(img: QImage, step: int = 4) -> float:
    dark = total = 0
    for y in range(0, img.height(), step):
        for x in range(0, img.width(), step):
            total += 1
            dark += QColor(img.pixel(x, y)).lightness() < 60
    return dark / total


def _bright_pixels(img: QImage, step: int = 2) -> int:
    return sum(
        QColor(img.pixel(x, y)).lightness() > 150
        for y in range(0, img.height(), step)
        for x in range(0, img.width(), step)
    )


def test_tag_browser_screenshot(qtbot, dark_theme, screenshot_dir):
    tb = TagBrowser()
    qtbot.addWidget(tb)
    tb.resize(900, 560)
    tb.show()
    qtbot.waitExposed(tb)
    tb.set_dataset(pydicom.dcmread(find("eCT_Supplemental.dcm")), "eCT_Supplemental.dcm")
    qtbot.keyClicks(tb.filter_edit, "code")
    agent_item = tb.model.index(0, 0, tb.model.index(0, 0))
    tb.view.setFocus()
    tb.view.setCurrentIndex(tb.model.index(1, 0, agent_item))  # Code Meaning: Iohexol
    assert tb.view.selectionModel().selectedRows()[0].siblingAtColumn(3).data() == "Iohexol"
    path = screenshot_dir / "tag_browser_dark.png"
    img = tb.grab().toImage()
    assert img.save(str(path))
    assert _dark_fraction(img) > 0.8  # a dark widget
    assert _bright_pixels(img) > 500  # with readable text on it

    tb.filter_edit.clear()
    tb.set_dataset(pydicom.dcmread(find("CT_small.dcm")), "CT_small.dcm")
    assert tb.grab().save(str(screenshot_dir / "tag_browser_ct_small_dark.png"))


def test_notice_screenshot(qtbot, dark_theme, screenshot_dir):
    skipped = [
        (Path("/media/usb/STUDY/README.TXT"), "not a DICOM or image file"),
        (Path("/media/usb/STUDY/IM000123"), "truncated: pixel data ends early"),
        (Path("/media/usb/STUDY/DICOMDIR.BAK"), "not a DICOM or image file"),
    ]
    notice = show_skipped(None, skipped, 12)
    qtbot.addWidget(notice)
    qtbot.waitExposed(notice)
    assert notice.grab().save(str(screenshot_dir / "notice_dark.png"))
    notice.set_details_visible(True)
    qtbot.wait(10)
    img = notice.grab().toImage()
    assert img.save(str(screenshot_dir / "notice_expanded_dark.png"))
    assert _dark_fraction(img) > 0.7
    notice.close()


def test_shortcuts_dialog_screenshot(qtbot, dark_theme, screenshot_dir):
    dlg = ShortcutsDialog(
        [
            ("File", "Open", "Ctrl+O"),
            ("File", "Open folder", "Ctrl+Shift+O"),
            ("View", "Zoom in", "Ctrl++"),
            ("View", "Fit to window", "F"),
            ("Viewer", "Invert", "I"),
            ("Viewer", "Next image", "Page Down, Down"),
        ],
        extra=[("Window/level", "Right-drag"), ("Pan", "Middle-drag"), ("Zoom", "Wheel")],
    )
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    assert dlg.grab().save(str(screenshot_dir / "shortcuts_dark.png"))
