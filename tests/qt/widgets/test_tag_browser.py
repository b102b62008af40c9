"""TagBrowser on real DICOM files, driven with real key and mouse events."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from medview.qt.widgets.tag_browser import (
    COL_NAME,
    COL_TAG,
    COL_VALUE,
    COL_VR,
    TagBrowser,
    build_tree,
    normalise_query,
)
from tests.helpers.datafiles import all_real_files, find


def rows(tb: TagBrowser, parent: QModelIndex = QModelIndex(), depth: int = 0):
    """(depth, [tag, name, VR, value], index) of every row that passes the filter."""
    model = tb.model
    out = []
    for r in range(model.rowCount(parent)):
        ix = model.index(r, 0, parent)
        cells = [model.index(r, c, parent).data() for c in range(4)]
        out.append((depth, cells, ix))
        out += rows(tb, ix, depth + 1)
    return out


def find_row(tb: TagBrowser, tag: str, value: str | None = None) -> QModelIndex:
    for _, cells, ix in rows(tb):
        if cells[COL_TAG] == tag and (value is None or cells[COL_VALUE] == value):
            return ix
    raise AssertionError(f"no row {tag} {value or ''}")


def click_row(qtbot, tb: TagBrowser, ix: QModelIndex, modifier=Qt.KeyboardModifier.NoModifier):
    tb.view.scrollTo(ix)
    rect = tb.view.visualRect(ix)
    assert rect.isValid(), "row is not shown (parent collapsed?)"
    qtbot.mouseClick(tb.view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


@pytest.fixture
def browser(qtbot):
    tb = TagBrowser()
    qtbot.addWidget(tb)
    tb.resize(900, 600)
    tb.show()
    qtbot.waitExposed(tb)
    return tb


def test_every_element_of_ct_small_is_listed(browser):
    ds = pydicom.dcmread(find("CT_small.dcm"))
    browser.set_dataset(ds, "CT_small.dcm")
    expected = len(list(ds.iterall())) + len(ds.file_meta)
    elements = [c for _, c, _ in rows(browser) if not c[COL_TAG].startswith("Item")]
    assert browser.element_count == expected == len(elements)
    assert browser.title_label.text() == f"CT_small.dcm · {expected} elements"

    name = find_row(browser, "(0010,0010)")
    assert name.siblingAtColumn(COL_NAME).data() == "Patient's Name"
    assert name.siblingAtColumn(COL_NAME).data(Qt.ItemDataRole.ToolTipRole) == "PatientName"
    assert name.siblingAtColumn(COL_VR).data() == "PN"
    assert name.siblingAtColumn(COL_VALUE).data() == "CompressedSamples^CT1"
    # binary data is summarised, short binary shown as hex
    pixels = find_row(browser, "(7FE0,0010)")
    assert pixels.siblingAtColumn(COL_VALUE).data() == "<OW, 32768 bytes>"
    version = find_row(browser, "(0002,0001)")
    assert version.siblingAtColumn(COL_VALUE).data() == "00 01"
    # a registered UID shows its name
    ts = find_row(browser, "(0002,0010)")
    assert ts.siblingAtColumn(COL_VALUE).data() == "1.2.840.10008.1.2.1 (Explicit VR Little Endian)"


def test_private_tags_show_their_creator(browser):
    browser.set_dataset(pydicom.dcmread(find("CT_small.dcm")))
    creator = find_row(browser, "(0009,0010)")
    assert creator.siblingAtColumn(COL_NAME).data() == "Private Creator"
    assert creator.siblingAtColumn(COL_VALUE).data() == "GEMS_IDEN_01"
    suite = find_row(browser, "(0009,1002)").siblingAtColumn(COL_NAME)
    assert suite.data() == "Suite id (GEMS_IDEN_01)"
    assert suite.data(Qt.ItemDataRole.FontRole).italic()


def test_sequences_expand_to_items_and_nested_elements(qtbot, browser):
    browser.set_dataset(pydicom.dcmread(find("rtplan.dcm")), "rtplan.dcm")
    fg = find_row(browser, "(300A,0070)")
    assert fg.siblingAtColumn(COL_VR).data() == "SQ"
    assert fg.siblingAtColumn(COL_VALUE).data() == "1 item"
    assert not browser.view.isExpanded(fg)
    item = browser.model.index(0, 0, fg)
    assert item.data() == "Item 1"
    assert item.siblingAtColumn(COL_VALUE).data() == "5 elements"
    beams = find_row(browser, "(300C,0004)")
    assert beams.parent() == item
    point = browser.model.index(0, 0, browser.model.index(0, 0, beams))
    assert point.data() == "(300A,0082)"
    assert point.siblingAtColumn(COL_VALUE).data() == (
        "239.531250000000\\239.531250000000\\-751.87000000000"
    )
    # a double click on the sequence row expands it, as in any tree
    click_row(qtbot, browser, fg)
    qtbot.mouseDClick(
        browser.view.viewport(), Qt.MouseButton.LeftButton,
        pos=browser.view.visualRect(fg).center(),
    )
    assert browser.view.isExpanded(fg)


def _type_filter(qtbot, tb: TagBrowser, text: str) -> None:
    tb.filter_edit.clear()
    qtbot.keyClicks(tb.filter_edit, text)


@pytest.mark.parametrize(
    "query",
    ["CodeMeaning", "code meaning", "Iodine", "0008,0104", "(0008,0104)", "00080104"],
)
def test_filter_finds_nested_elements_and_expands_their_parents(qtbot, browser, query):
    browser.set_dataset(pydicom.dcmread(find("eCT_Supplemental.dcm")))
    _type_filter(qtbot, browser, query)
    shown = rows(browser)
    iodine = [ix for _, cells, ix in shown if cells[COL_VALUE] == "Iodine"]
    assert len(iodine) == 1
    ix = iodine[0]
    assert ix.data() == "(0008,0104)"
    # parents are kept and expanded: Item 1 of (0018,9338) in Item 1 of (0018,0012)
    chain = []
    p = ix.parent()
    while p.isValid():
        chain.append(p.data())
        assert browser.view.isExpanded(p)
        p = p.parent()
    assert chain == ["Item 1", "(0018,9338)", "Item 1", "(0018,0012)"]
    assert browser.view.visualRect(ix).isValid()
    # nothing unrelated at top level
    top = {cells[COL_TAG] for depth, cells, _ in shown if depth == 0}
    assert "(0010,0010)" not in top
    assert "(0018,0012)" in top


def test_filter_by_value_and_clear(qtbot, browser):
    ds = pydicom.dcmread(find("CT_small.dcm"))
    browser.set_dataset(ds, "CT_small.dcm")
    total = len(rows(browser))
    _type_filter(qtbot, browser, "compressedsamples")
    shown = rows(browser)
    assert [c[COL_TAG] for _, c, _ in shown] == ["(0010,0010)"]
    assert browser.title_label.text().endswith("· 1 match")
    _type_filter(qtbot, browser, "no-such-thing")
    assert rows(browser) == []
    assert browser.title_label.text().endswith("· no match")
    # the clear button / deleting the text shows everything again, collapsed
    qtbot.keyClick(browser.filter_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(browser.filter_edit, Qt.Key.Key_Delete)
    assert browser.filter_edit.text() == ""
    assert len(rows(browser)) == total


def test_down_goes_from_filter_to_tree_and_escape_clears(qtbot, browser, clipboard):
    browser.set_dataset(pydicom.dcmread(find("CT_small.dcm")))
    browser.filter_edit.setFocus()
    qtbot.keyClicks(browser.filter_edit, "modality")
    qtbot.keyClick(browser.filter_edit, Qt.Key.Key_Down)
    assert browser.view.hasFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == "(0008,0060)\tModality\tCS\tCT"
    browser.filter_edit.setFocus()
    qtbot.keyClick(browser.filter_edit, Qt.Key.Key_Escape)
    assert browser.filter_edit.text() == ""
    assert browser.model.filter_terms == []


def test_filter_matching_a_sequence_shows_its_content(qtbot, browser):
    browser.set_dataset(pydicom.dcmread(find("rtplan.dcm")))
    _type_filter(qtbot, browser, "Referenced Beam Sequence")
    tags = [c[COL_TAG] for _, c, _ in rows(browser)]
    assert tags[:3] == ["(300A,0070)", "Item 1", "(300C,0004)"]
    assert "(300A,0084)" in tags  # Beam Dose, inside the matching sequence


def test_filter_is_kept_when_the_dataset_changes(qtbot, browser):
    browser.set_dataset(pydicom.dcmread(find("CT_small.dcm")))
    _type_filter(qtbot, browser, "Modality")
    browser.set_dataset(pydicom.dcmread(find("MR_small.dcm")), "MR_small.dcm")
    shown = [c for _, c, _ in rows(browser)]
    assert ["(0008,0060)", "Modality", "CS", "MR"] in shown
    assert all("modality" in (c[COL_NAME] + c[COL_VALUE]).lower() for c in shown)


def test_ctrl_c_copies_selected_rows_as_tab_separated_text(qtbot, browser, clipboard):
    browser.set_dataset(pydicom.dcmread(find("CT_small.dcm")))
    click_row(qtbot, browser, find_row(browser, "(0010,0010)"))
    click_row(qtbot, browser, find_row(browser, "(0010,0020)"), Qt.KeyboardModifier.ShiftModifier)
    qtbot.keySequence(browser.view, QKeySequence(QKeySequence.StandardKey.Copy))
    assert clipboard.text() == (
        "(0010,0010)\tPatient's Name\tPN\tCompressedSamples^CT1\n"
        "(0010,0020)\tPatient ID\tLO\t1CT1"
    )


def test_copy_of_nested_rows_marks_the_level(qtbot, browser, clipboard):
    browser.set_dataset(pydicom.dcmread(find("eCT_Supplemental.dcm")))
    _type_filter(qtbot, browser, "Iodine")
    iodine = find_row(browser, "(0008,0104)", "Iodine")
    click_row(qtbot, browser, iodine)
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == ">>(0008,0104)\tCode Meaning\tLO\tIodine"


def test_ctrl_c_wins_over_a_window_copy_shortcut(qtbot, clipboard):
    window = QMainWindow()
    qtbot.addWidget(window)
    window_copy = QAction("Copy image", window)
    window_copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
    window.addAction(window_copy)
    fired = []
    window_copy.triggered.connect(lambda: fired.append(True))
    tb = TagBrowser()
    window.setCentralWidget(tb)
    window.show()
    qtbot.waitExposed(window)
    tb.set_dataset(pydicom.dcmread(find("CT_small.dcm")))
    click_row(qtbot, tb, find_row(tb, "(0008,0060)"))
    qtbot.keyClick(tb.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == "(0008,0060)\tModality\tCS\tCT"
    assert not fired


def test_context_menu_copy_value(qtbot, browser, clipboard):
    browser.set_dataset(pydicom.dcmread(find("CT_small.dcm")))
    click_row(qtbot, browser, find_row(browser, "(0008,0018)"))
    menu = browser.context_menu()
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert list(actions) == ["Copy", "Copy value", "Expand all", "Collapse all"]
    actions["Copy value"].trigger()
    assert clipboard.text() == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    actions["Copy"].trigger()
    assert clipboard.text().startswith("(0008,0018)\tSOP Instance UID\tUI\t1.3.6.1.4.1.5962")


def test_deferred_values_are_not_read(browser):
    ds = pydicom.dcmread(find("CT_small.dcm"), defer_size=1024)
    browser.set_dataset(ds)
    pixels = find_row(browser, "(7FE0,0010)")
    assert pixels.siblingAtColumn(COL_VALUE).data() == "<OW, 32768 bytes, not loaded>"
    assert ds.get_item(0x7FE00010, keep_deferred=True).value is None  # still deferred


def test_long_values_are_cut_but_copied_whole(browser):
    ds = Dataset()
    ds.ImageComments = "x" * 1000
    ds.add_new(0x00091010, "UN", b"\x01" * 4096)
    browser.set_dataset(ds)
    comments = find_row(browser, "(0020,4000)").siblingAtColumn(COL_VALUE)
    assert comments.data().endswith("… (1000 chars)")
    assert len(comments.data()) < 200
    assert browser.model.node(comments).value == "x" * 1000
    assert find_row(browser, "(0009,1010)").siblingAtColumn(COL_VALUE).data() == (
        "<UN, 4096 bytes>"
    )


def test_none_empties_the_tree(browser):
    browser.set_dataset(pydicom.dcmread(find("CT_small.dcm")))
    browser.set_dataset(None)
    assert rows(browser) == []
    assert browser.title_label.text() == "No image selected"


def test_thousands_of_elements_build_and_filter(qtbot, browser):
    # How fast: bench/viewer.py section 5 (a unit test asserts no wall-clock bound).
    ds = Dataset()
    frames = []
    for i in range(2000):  # an enhanced multi-frame header: 8 elements per frame
        frame = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [0, 0, i * 0.5]
        frame.PlanePositionSequence = Sequence([pos])
        content = Dataset()
        content.InStackPositionNumber = i + 1
        content.StackID = "1"
        frame.FrameContentSequence = Sequence([content])
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = 40, 400
        frame.FrameVOILUTSequence = Sequence([voi])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    browser.set_dataset(ds)
    assert browser.element_count == 16_001
    qtbot.keyClicks(browser.filter_edit, "InStackPositionNumber")
    qtbot.waitUntil(lambda: browser.model.match_count == 2000, timeout=30000)
    qtbot.keyClick(browser.filter_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(browser.filter_edit, "1999")
    qtbot.waitUntil(lambda: browser.model.match_count == 1, timeout=30000)
    (ix,) = [ix for _, c, ix in rows(browser) if c[COL_VALUE] == "1999"]
    assert ix.data() == "(0020,9057)"


def test_normalise_query():
    assert normalise_query("(0010,0010)") == ["0010,0010"]
    assert normalise_query("0010 0010") == ["0010,0010"]
    assert normalise_query("00100010") == ["00100010"]  # matched as written, like a date
    assert normalise_query(" Patient  Name ") == ["patient", "name"]


def test_every_real_file_builds(recwarn):
    built = 0
    for path in all_real_files():
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception:
            continue  # not DICOM at all: not this widget's business
        root, count = build_tree(ds)
        assert count >= len(root.children)
        built += 1
    assert built > 150


def test_the_panel_shows_each_value_as_medview_info_prints_it(browser):
    from medview.core.tags import tag_rows

    ds = pydicom.dcmread(find("eCT_Supplemental.dcm"), stop_before_pixels=True)
    ds.add_new(0x00291010, "OB", bytes(range(40)))  # long binary: summarised alike
    ds.ImageComments = "two\nlines"
    browser.set_dataset(ds, "eCT")
    shown = {c[COL_TAG]: c[COL_VALUE] for d, c, _ in rows(browser) if d == 0}
    printed = {r.tag: r.value for r in tag_rows(ds) if r.vr != "SQ"}
    assert printed["(0029,1010)"] == "<OB, 40 bytes>" and printed["(0020,4000)"] == "two lines"
    for tag, value in printed.items():
        uid_note = shown[tag].removeprefix(value)  # the panel adds a UID's registered name
        assert shown[tag] == value or uid_note.startswith(" ("), tag
