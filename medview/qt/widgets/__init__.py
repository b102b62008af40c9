"""Small reusable widgets: DICOM tag browser, shortcuts dialog, skipped-files notice."""

from medview.qt.widgets.notice import SkippedNotice, show_skipped
from medview.qt.widgets.shortcuts_dialog import ShortcutsDialog
from medview.qt.widgets.tag_browser import TagBrowser

__all__ = ["ShortcutsDialog", "SkippedNotice", "TagBrowser", "show_skipped"]
