"""The anonymiser's PS3.15 Table E.1-1 against an independent copy of the standard's table.

The copy is the one the dicom-anonymizer package (Kitware, BSD-3-Clause) ships,
scraped from the standard's HTML (``dicomfields_2026c``). Every row must be ours
too, with the same action code; then every attribute of the table, and every other
attribute of pydicom's dictionary, goes through the anonymiser and what happened to
it (removed, emptied, dummy, new UID, kept) must be one of the actions its row allows.
Where the result deliberately differs, ``DELIBERATE`` names the attribute and why.
"""

from __future__ import annotations

import warnings

import pytest
from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as standard
from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from medview.core import anonymize as anon

CODES = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
         "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D",
         "X_Z_U_STAR_TAGS": "X/Z/U*"}

# What we do that the row's code does not allow, and why; by keyword or VR rule.
DELIBERATE = {
    # D on a sequence: a dummy item could only restate what was removed, so the
    # sequence is emptied (zero items), which keeps the attribute for Type 1/2 IODs.
    "sequence D -> Z": lambda kw, vr, code, got: vr == "SQ" and "D" in code and got == "Z",
    # D on a UID: the dummy is a new UID, the same for the same original in the whole
    # run, so references between the anonymised files stay valid.
    "UID D -> U": lambda kw, vr, code, got: vr == "UI" and "D" in code and got == "U",
    # Patient's Name (Z): the user's pseudonym ("ANONYMOUS" by default) is written
    # instead of an empty name, so the files of a run still show whose they are.
    "pseudonym": lambda kw, vr, code, got: kw == "PatientName" and got == "D",
    # Not in the table, yet identifying: dates and person names by VR (PS3.15 E.3.6
    # speaks of dates by VR, not by list); instance UIDs (they link to the original);
    # the file meta AE titles and private information (cf. Station AE Title, private
    # attributes). Sequences not in the table are kept and each item is cleaned by the
    # same rules (U*: their UIDs replaced).
    "outside the table": lambda kw, vr, code, got: code == "K" and (
        (vr in ("DA", "DT", "PN") and got == "D")
        or (vr == "UI" and got == "U")
        or (vr == "SQ" and got == "U*")
        or (kw in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                   "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID",
                   "PrivateInformation") and got == "X")),
    # The record of the de-identification itself, which PS3.15 E.1.1 requires.
    "de-identification record": lambda kw, vr, code, got: code == "K" and got == "D" and kw in (
        "PatientIdentityRemoved", "DeidentificationMethod",
        "LongitudinalTemporalInformationModified"),
}

ITEM_UID = "1.2.3.999.2"  # an instance UID inside each sequence's item
TEXT = "ORIGINAL"
VALUES = {"DA": "20200102", "DT": "20200102030405", "TM": "030405", "PN": "Doe^Jane",
          "UI": "1.2.3.999.1", "AS": "042Y", "DS": "1.5", "IS": "7", "AT": 0x00100010,
          "UR": "http://example.org/x", "FL": 1.5, "FD": 1.5, "OF": b"\0\0\xc0?",
          "OD": b"\0" * 6 + b"\xf8?"}
NUMBERS = {"US", "SS", "UL", "SL", "UV", "SV"}
BINARY = {"OB", "OW", "OL", "OV", "UN"}


def standard_table() -> tuple[dict[Tag, str], list[tuple[int, int, int, int]]]:
    """The copy's rows by tag, and its masked rows (repeating groups) apart."""
    rows, masked = {}, []
    for name, code in CODES.items():
        for row in getattr(standard, name):
            if len(row) == 4:
                masked.append(row)
            else:
                assert Tag(*row) not in rows, f"{Tag(*row)} twice in the copy"
                rows[Tag(*row)] = code
    return rows, masked


def test_every_row_is_the_standards():
    rows, _ = standard_table()
    ours = anon.BASIC_PROFILE
    missing = {str(t): c for t, c in rows.items() if t not in ours}
    extra = {str(t): c for t, c in ours.items() if t not in rows}
    different = {str(t): (ours[t], c) for t, c in rows.items() if t in ours and ours[t] != c}
    assert (missing, extra, different) == ({}, {}, {})
    assert len(ours) == len(rows) == 652


def test_repeating_group_rows_are_removed():
    # curve data (50xx,xxxx), overlay data (60xx,3000) and comments (60xx,4000)
    _, masked = standard_table()
    assert sorted(masked) == [(0x5000, 0x0000, 0xFF00, 0x0000),
                              (0x6000, 0x3000, 0xFF00, 0xFFFF), (0x6000, 0x4000, 0xFF00, 0xFFFF)]
    for group in range(0x5000, 0x5020, 2):
        for element in (0x0000, 0x0005, 0x3000):
            assert anon._always_removed(Tag(group, element))
    for group in range(0x6000, 0x6020, 2):
        assert anon._always_removed(Tag(group, 0x3000)) and anon._always_removed(Tag(group, 0x4000))


def element_vr(tag: Tag) -> str:
    entry = DicomDictionary.get(tag)
    return entry[0].split(" or ")[0] if entry else "UN"  # newer than pydicom: read as UN


def original_value(vr: str):
    if vr == "SQ":
        item = Dataset()
        item.ReferencedSOPInstanceUID = ITEM_UID
        item.CodeMeaning = TEXT
        return Sequence([item])
    if vr in VALUES:
        return VALUES[vr]
    if vr in NUMBERS:
        return 3
    if vr in BINARY:
        return b"\x01\x02"
    return TEXT  # AE CS LO LT SH ST UC UT


def anonymised(tags: list[Tag]) -> tuple[dict[Tag, object], Dataset]:
    """One dataset holding every tag, de-identified; the original values by tag."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    originals = {}
    for tag in tags:
        vr = element_vr(tag)
        originals[tag] = original_value(vr)
        (ds.file_meta if tag.group == 2 else ds).add_new(tag, vr, originals[tag])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anon.Anonymizer().anonymize(ds)
    return originals, ds


def what_happened(ds: Dataset, tag: Tag, before) -> str:
    """X removed, Z emptied, D dummy, U new UID, K kept, U* kept with its UIDs replaced."""
    where = ds.file_meta if tag.group == 2 else ds
    if tag not in where:
        return "X"
    elem = where[tag]
    if elem.VR == "SQ":
        if len(elem.value) == 0:
            return "Z"
        item = elem.value[0]
        assert item.CodeMeaning == TEXT  # items are cleaned, not replaced
        return "U*" if item.ReferencedSOPInstanceUID != ITEM_UID else "K"
    if elem.value in (None, "", b"") or elem.is_empty:
        return "Z"
    if elem.value == before:
        return "K"
    return "U" if elem.VR == "UI" else "D"


def allowed(keyword: str, vr: str, code: str, got: str) -> str | None:
    """Why ``got`` is right for a row of ``code`` (None when it is not)."""
    if got in code.split("/"):
        return "the row's action"
    return next((why for why, rule in DELIBERATE.items() if rule(keyword, vr, code, got)), None)


def check(tags: list[Tag], code_of) -> set[str]:
    originals, ds = anonymised(tags)
    wrong, reasons = {}, set()
    for tag in tags:
        keyword = DicomDictionary.get(tag, ("", "", "", "", ""))[4]
        vr, code = element_vr(tag), code_of(tag)
        got = what_happened(ds, tag, originals[tag])
        why = allowed(keyword, vr, code, got)
        if why is None:
            wrong[f"{tag} {keyword} {vr}"] = f"row {code}, done {got}"
        reasons.add(why)
    assert wrong == {}
    return reasons


def test_every_row_is_done_as_the_standard_allows():
    rows, _ = standard_table()
    reasons = check(sorted(rows), rows.__getitem__)
    # each deliberate difference of a row is really used (no stale excuses)
    assert reasons == {"the row's action", "sequence D -> Z", "UID D -> U", "pseudonym"}


@pytest.mark.parametrize("retired", [False, True])
def test_attributes_outside_the_table_are_kept_unless_listed(retired):
    rows, _ = standard_table()
    tags = [Tag(t) for t, entry in DicomDictionary.items()
            if Tag(t) not in rows and (entry[3] == "Retired") == retired
            and Tag(t).group not in (0x0000, 0x7FE0, 0xFFFE) and entry[0] not in ("NONE", "")]
    assert len(tags) > (250 if retired else 3000)
    reasons = check(tags, lambda tag: "K")
    assert reasons == ({"the row's action", "outside the table"} if retired else
                       {"the row's action", "outside the table", "de-identification record"})
