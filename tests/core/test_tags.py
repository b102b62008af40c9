"""The one DICOM value formatter (medview.core.tags) that `medview info` and the Tags panel share."""

from __future__ import annotations

from pydicom.dataset import Dataset

from medview.core.tags import MAX_DISPLAY_CHARS, MAX_VALUES, display_text, tag_rows, value_text


def test_values_are_summarised_the_same_way_everywhere():
    ds = Dataset()
    ds.add_new(0x00020001, "OB", b"\x00\x01")
    ds.add_new(0x00291010, "OB", bytes(17))
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.add_new(0x00209057, "UL", list(range(MAX_VALUES + 1)))
    ds.add_new(0x00280009, "AT", [0x00540010])
    ds.ImageComments = "x" * 500
    rows = {r.tag: r.value for r in tag_rows(ds)}
    assert rows["(0002,0001)"] == "00 01"  # short binary as hex
    assert rows["(0029,1010)"] == "<OB, 17 bytes>"
    assert rows["(0008,0008)"] == "ORIGINAL\\PRIMARY"
    assert value_text(ds[0x00209057]).endswith(f"\\… ({MAX_VALUES + 1} values)")
    assert rows["(0028,0009)"] == "(0054,0010)"  # a tag value reads as a tag
    assert rows["(0020,4000)"] == "x" * MAX_DISPLAY_CHARS + "… (500 chars)"


def test_display_text_is_one_line():
    assert display_text("a\r\nb\tc") == "a  b c"
    assert display_text("y" * 200, limit=None) == "y" * 200
