"""PS3.15 basic-profile de-identification, checked on real files."""

from __future__ import annotations

import hashlib
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from medview.core import anonymize as anon
from medview.core.anonymize import Anonymizer, anonymize_path
from tests.helpers.datafiles import find

# A spread of real objects: plain and enhanced CT/MR, CR, US, NM, SR, SEG, RT,
# ECG; implicit, big-endian, deflated, JPEG 2000; private tags, overlays, refs.
REAL_FILES = [
    "CT_small.dcm", "MR_small_bigendian.dcm", "eCT_Supplemental.dcm", "emri_small.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm", "6154", "US1_J2KR.dcm", "JPEG2000.dcm",
    "test-SR.dcm", "liver.dcm", "rtplan.dcm", "waveform_ecg.dcm", "image_dfl.dcm",
    "nested_priv_SQ.dcm", "explicit_VR-UN.dcm", "color3d_jpeg_baseline.dcm",
    "rtstruct.dcm",  # no preamble or file meta (ACR-NEMA style)
]
# Keywords of UIDs that name a kind of thing (class, syntax, coding scheme)
# rather than an instance; they must survive.
KIND_UID_WORDS = ("ClassUID", "TransferSyntaxUID", "CodingSchemeUID", "ContextUID",
                  "MappingResourceUID")


def read(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pydicom.dcmread(path)
        except pydicom.errors.InvalidDicomError:  # headerless: written as it came
            return pydicom.dcmread(path, force=True)


def elements(ds: Dataset):
    """Every element of the file meta and the dataset, sequences included."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        yield from meta.iterall()
    yield from ds.iterall()


def values_of(elem) -> list[str]:
    if elem.VR == "SQ" or elem.value is None or isinstance(elem.value, bytes):
        return []
    vals = elem.value if isinstance(elem.value, (list, pydicom.multival.MultiValue)) \
        else [elem.value]
    return [str(v) for v in vals if str(v)]


def identity_of(ds: Dataset) -> dict[str, set[str]]:
    """What must not survive: names, IDs, dates and instance UIDs."""
    found: dict[str, set[str]] = {"name": set(), "id": set(), "date": set(), "uid": set()}
    kinds: set[str] = set()
    for e in elements(ds):
        vals = values_of(e)
        if e.keyword in ("PatientName", "OtherPatientNames"):
            found["name"] |= {v for v in vals if any(c.isalpha() for c in v)}
        elif e.keyword in ("PatientID", "OtherPatientIDs"):
            found["id"] |= set(vals)
        elif e.VR in ("DA", "DT"):
            found["date"] |= set(vals)
        elif e.VR == "UI" and any(w in e.keyword for w in KIND_UID_WORDS):
            kinds |= set(vals)
        elif e.VR == "UI":
            found["uid"] |= {v for v in vals if not v.startswith("1.2.840.10008.")}
    # e.g. dcmtk's implementation UID doubles as Instance Creator UID: as the
    # ImplementationClassUID it names software, not the patient, and stays
    found["uid"] -= kinds
    return found


def assert_no_identity(before: dict[str, set[str]], ds: Dataset, raw: bytes | None = None):
    for e in elements(ds):
        assert not e.tag.is_private, f"private {e.tag} kept"
        for v in values_of(e):
            assert v not in before["uid"], f"original UID kept in {e.keyword}"
            assert v not in before["id"], f"original patient ID kept in {e.keyword}"
            assert v not in before["date"], f"original date kept in {e.keyword}"
            assert not any(n in v for n in before["name"]), f"name kept in {e.keyword}"
    if raw is not None:  # nothing hides in the header bytes either (e.g. undecoded values)
        if "PixelData" in ds:
            raw = raw.replace(ds.PixelData, b"")
        for text in before["name"] | {i for i in before["id"] if len(i) > 4}:
            assert text.encode() not in raw, f"{text!r} still in the written file"
        for uid in before["uid"]:  # whole UIDs only: a root may prefix new UIDs
            pattern = rb"(?<![0-9.])" + re.escape(uid.encode()) + rb"(?![0-9.])"
            assert not re.search(pattern, raw), f"UID {uid} still in the written file"


# --------------------------------------------------------------------------- the table


# The table, row by row against an independent copy: tests/core/test_anonymize_table.py


# --------------------------------------------------------------------------- one dataset


@pytest.mark.parametrize("name", REAL_FILES)
def test_real_file_keeps_no_identity_and_same_pixels(name, tmp_path):
    src = find(name)
    original = read(src)
    before = identity_of(original)
    report = anonymize_path(src, tmp_path / "out.dcm")
    assert report.skipped == [] and report.written == [tmp_path / "out.dcm"]
    out = read(tmp_path / "out.dcm")
    assert_no_identity(before, out, (tmp_path / "out.dcm").read_bytes())
    syntax = original.file_meta.get("TransferSyntaxUID")
    assert out.file_meta.get("TransferSyntaxUID") == syntax
    for kw in ("PixelData", "WaveformSequence"):
        assert (kw in out) == (kw in original)
    if "PixelData" in original:
        assert out.PixelData == original.PixelData  # byte-identical
    if "SOPInstanceUID" in original:
        same = original.file_meta.get("MediaStorageSOPInstanceUID") == original.SOPInstanceUID
        assert (out.file_meta.get("MediaStorageSOPInstanceUID") == out.SOPInstanceUID) == same
        assert out.SOPClassUID == original.SOPClassUID
    # identity removed only where the file rules out identity in its pixels
    ruled_out = "PixelData" not in original or original.get("BurnedInAnnotation") == "NO"
    assert out.PatientIdentityRemoved == ("YES" if ruled_out else "NO")
    assert report.warnings == ([] if ruled_out else [
        f"{src}: burned-in annotation not ruled out (Burned In Annotation is absent): "
        "PatientIdentityRemoved left NO"])


@pytest.mark.parametrize("name", ["CT_small.dcm", "US1_J2KR.dcm", "MR_small_bigendian.dcm",
                                  "JPEG2000.dcm"])
def test_output_still_decodes_to_the_same_image(name, tmp_path):
    anonymize_path(find(name), tmp_path / "out.dcm")
    np.testing.assert_array_equal(read(tmp_path / "out.dcm").pixel_array,
                                  read(find(name)).pixel_array)


def test_patient_module_replaced_and_deidentification_recorded():
    ds = read(find("CT_small.dcm"))
    a = Anonymizer(patient_name="STUDY^042")
    assert len(a.anonymize(ds)) == 1  # no Burned In Annotation: identity in pixels possible
    assert ds.PatientName == "STUDY^042"
    assert ds.PatientID.startswith("ANON") and len(ds.PatientID) == 16
    assert ds.PatientBirthDate == "" and "PatientAge" not in ds  # Z and X
    assert ds.StudyDate == "" and ds.AccessionNumber == ""  # Z
    assert ds.LongitudinalTemporalInformationModified == "REMOVED"
    code = ds.DeidentificationMethodCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    assert anon.DEIDENTIFICATION_METHOD in ds.DeidentificationMethod


def test_previous_deidentification_record_is_kept():
    ds = read(find("emri_small.dcm"))  # already carries a DeidentificationMethod
    earlier = ds.DeidentificationMethod
    Anonymizer().anonymize(ds)
    methods = list(ds.DeidentificationMethod)
    assert methods[0] == earlier and methods[-1] == anon.DEIDENTIFICATION_METHOD
    Anonymizer().anonymize(ds)  # twice: no duplicate entries
    assert len(ds.DeidentificationMethodCodeSequence) == 1
    assert list(ds.DeidentificationMethod) == methods


def test_given_patient_id_and_dummy_values_by_vr():
    ds = read(find("CT_small.dcm"))
    ds.SeriesDate, ds.InstitutionName = "20240101", "St Elsewhere"  # X/D, X/Z/D → D
    ds.AcquisitionDate = "20240101"  # X/Z → Z
    ds.ReferencedStudySequence = Sequence([Dataset()])  # X/Z on a sequence → empty
    ds.PhysiciansOfRecord = "Dr^Who"  # X
    Anonymizer(patient_id="P-7").anonymize(ds)
    assert ds.PatientID == "P-7"
    assert ds.SeriesDate == "19000101" and ds.InstitutionName == "ANONYMIZED"
    assert ds.AcquisitionDate == "" and len(ds.ReferencedStudySequence) == 0
    assert "PhysiciansOfRecord" not in ds


def test_nested_dates_names_and_uids_are_cleaned():
    ds = read(find("CT_small.dcm"))
    item = Dataset()
    item.SeriesInstanceUID = generate_uid()  # kept sequence: UIDs inside are replaced
    item.ContentCreatorName = "Smith^Jane"  # Z/D inside a sequence
    item.Date = "20200105"  # D inside a sequence
    item.Modality = "CT"  # nothing identifying: kept
    ds.ReferencedSeriesSequence = Sequence([item])
    ds.SeriesDate = "20200106"  # X/D
    ds.InstanceCreationDate = "20200107"  # X/D
    ds.RequestingPhysician = "Who^Doctor"  # X
    ds.ImageComments = "called Jane"  # X
    before = identity_of(ds)
    Anonymizer().anonymize(ds)
    assert_no_identity(before, ds)
    kept = ds.ReferencedSeriesSequence[0]
    assert kept.Modality == "CT" and kept.Date == "19000101"
    assert "RequestingPhysician" not in ds and "ImageComments" not in ds
    assert not any("Jane" in v for e in elements(ds) for v in values_of(e))


def test_dates_and_names_the_table_does_not_list_are_replaced():
    # none of these is in Table E.1-1; dates and names identify all the same
    ds = read(find("CT_small.dcm"))
    ds.StudyUpdateDateTime = "20210304101500"  # DT
    ds.SecondaryReviewDate = "20210305"  # DA
    ds.SecondaryReviewerName = "Reviewer^Rita"  # PN
    ds.EvaluatorName = ["Eval^One", "Eval^Two"]  # multi-valued PN
    for kw in ("StudyUpdateDateTime", "SecondaryReviewDate", "SecondaryReviewerName"):
        assert pydicom.tag.Tag(kw) not in anon.BASIC_PROFILE
    Anonymizer().anonymize(ds)
    assert ds.StudyUpdateDateTime == "19000101000000"
    assert ds.SecondaryReviewDate == "19000101"
    assert ds.SecondaryReviewerName == "ANONYMIZED" and ds.EvaluatorName == "ANONYMIZED"


def test_nested_patient_id_gets_its_own_pseudonym():
    a = Anonymizer()
    ds = read(find("CT_small.dcm"))
    source = Dataset()
    source.PatientID = "OTHER-123"
    ds.SourcePatientGroupIdentificationSequence = Sequence([source])
    a.anonymize(ds)
    other = read(find("MR_small.dcm"))
    other.PatientID = "OTHER-123"
    a.anonymize(other)
    nested = ds.SourcePatientGroupIdentificationSequence[0].PatientID
    assert nested == other.PatientID != ds.PatientID


def test_private_tags_curves_and_overlays_removed():
    ds = read(find("MR-SIEMENS-DICOM-WithOverlays.dcm"))
    assert any(e.tag.is_private for e in ds.iterall())
    assert any(0x6000 <= e.tag.group <= 0x601E for e in ds)
    ds.add_new(0x50000010, "US", 2)  # a retired curve group
    Anonymizer().anonymize(ds)
    assert not any(e.tag.is_private for e in elements(ds))
    assert not any(0x5000 <= e.tag.group <= 0x601E for e in ds)


def test_attributes_newer_than_pydicoms_dictionary_removed(tmp_path):
    # Name to Use (0010,0012) and Pronoun Comment (0010,0016), rows of the 2026
    # table; read from an implicit VR file they are UN of unknown tags
    ds = read(find("CT_small.dcm"))
    ds.add_new(0x00100012, "UN", b"Jane ")
    ds.add_new(0x00100016, "UN", b"she/her ")
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(tmp_path / "in.dcm")
    anonymize_path(tmp_path / "in.dcm", tmp_path / "out.dcm")
    raw = (tmp_path / "out.dcm").read_bytes()
    assert b"Jane" not in raw and b"she/her" not in raw
    assert 0x00100012 not in read(tmp_path / "out.dcm")


def test_nested_private_sequences_removed():
    ds = read(find("nested_priv_SQ.dcm"))
    assert any(e.tag.is_private for e in ds.iterall())
    Anonymizer().anonymize(ds)
    assert not any(e.tag.is_private for e in ds.iterall())


def test_identity_removed_only_when_the_pixels_are_ruled_out():
    ds = read(find("emri_small.dcm"))
    assert Anonymizer().anonymize(ds) == []  # BurnedInAnnotation NO
    assert ds.PatientIdentityRemoved == "YES"
    ds = read(find("emri_small.dcm"))
    ds.BurnedInAnnotation = "YES"
    found = Anonymizer().anonymize(ds)
    assert len(found) == 1 and found[0].startswith("Burned In Annotation is YES")
    assert found[0].endswith(": PatientIdentityRemoved left NO")
    assert ds.PatientIdentityRemoved == "NO"
    assert ds.BurnedInAnnotation == "YES"  # the flag itself is kept: it is still true
    ds = read(find("17106"))  # claims identity removed; says nothing of burned-in text
    assert ds.PatientIdentityRemoved == "YES" and "BurnedInAnnotation" not in ds
    assert Anonymizer().anonymize(ds) == ["burned-in annotation not ruled out (Burned In "
                                          "Annotation is absent): PatientIdentityRemoved left NO"]
    assert ds.PatientIdentityRemoved == "NO"
    ds = read(find("eCT_Supplemental.dcm"))  # NO, but the face may be recognisable
    ds.RecognizableVisualFeatures = "YES"
    assert Anonymizer().anonymize(ds)[0].startswith("Recognizable Visual Features is YES")
    assert ds.PatientIdentityRemoved == "NO"
    for name in ("test-SR.dcm", "rtplan.dcm"):  # no pixel data: nothing to rule out
        ds = read(find(name))
        assert Anonymizer().anonymize(ds) == [] and ds.PatientIdentityRemoved == "YES"


# --------------------------------------------------------------------------- UIDs


def test_uids_consistent_within_a_run_and_unlinkable_across_runs():
    a, b = Anonymizer(), Anonymizer()
    ds1, ds2, ds3 = (read(find("CT_small.dcm")) for _ in range(3))
    original = ds1.StudyInstanceUID
    a.anonymize(ds1)
    a.anonymize(ds2)
    b.anonymize(ds3)
    assert ds1.StudyInstanceUID == ds2.StudyInstanceUID != original
    assert ds1.FrameOfReferenceUID == ds2.FrameOfReferenceUID
    assert ds3.StudyInstanceUID not in (ds1.StudyInstanceUID, original)
    assert ds1.PatientID == ds2.PatientID != ds3.PatientID
    # not the plain (dictionary-reversible) hash of the original
    assert ds1.StudyInstanceUID != generate_uid(entropy_srcs=[original])
    assert ds1.StudyInstanceUID != generate_uid(prefix=None, entropy_srcs=[original])
    assert a.uid_map[original] == ds1.StudyInstanceUID
    assert pydicom.uid.UID(ds1.StudyInstanceUID).is_valid


def test_same_secret_continues_a_run():
    ds1, ds2 = read(find("MR_small.dcm")), read(find("MR_small.dcm"))
    Anonymizer(secret="kept-safe").anonymize(ds1)
    Anonymizer(secret="kept-safe").anonymize(ds2)
    assert ds1.SOPInstanceUID == ds2.SOPInstanceUID and ds1.PatientID == ds2.PatientID


def test_well_known_uids_are_kept():
    ds = read(find("liver.dcm"))  # SEG: references, coding schemes, SOP classes
    classes = sorted(str(e.value) for e in ds.iterall() if e.keyword.endswith("SOPClassUID"))
    Anonymizer().anonymize(ds)
    after = sorted(str(e.value) for e in ds.iterall() if e.keyword.endswith("SOPClassUID"))
    assert after == classes
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


# --------------------------------------------------------------------------- folders


def make_series(tmp: Path) -> list[Path]:
    """One real CT series (4 files) plus a 3-file series made from CT_small that
    references its own slices, and a second patient."""
    src = tmp / "src"
    (src / "ct2").mkdir(parents=True)
    (src / "small" / "deeper").mkdir(parents=True)
    paths = []
    for name in ("17106", "17136", "17166", "17196"):
        paths.append(shutil.copy(find(name), src / "ct2" / f"{name}.dcm"))
    base = read(find("CT_small.dcm"))
    uids = [generate_uid() for _ in range(3)]
    for i, uid in enumerate(uids):
        ds = read(find("CT_small.dcm"))
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.InstanceNumber = i + 1
        ref = Dataset()
        ref.ReferencedSOPClassUID = base.SOPClassUID
        ref.ReferencedSOPInstanceUID = uids[(i + 1) % 3]
        ds.ReferencedImageSequence = Sequence([ref])
        out = src / "small" / ("deeper" if i == 2 else "") / f"slice{i}.dcm"
        ds.save_as(out, enforce_file_format=True)
        paths.append(out)
    return [Path(p) for p in paths]


def test_folder_run_keeps_study_series_and_references_consistent(tmp_path):
    make_series(tmp_path)
    src, dst = tmp_path / "src", tmp_path / "out"
    originals = {p: read(p) for p in sorted(src.rglob("*.dcm"))}
    report = anonymize_path(src, dst)
    assert report.skipped == [] and len(report.written) == 7
    outs = {p: read(dst / p.relative_to(src)) for p in originals}  # tree mirrored
    for group in ("ct2", "small"):
        pairs = [(originals[p], outs[p]) for p in originals if group in p.parts]
        for kw in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "PatientID"):
            assert len({getattr(o, kw) for _, o in pairs}) == 1, kw
            assert getattr(pairs[0][1], kw) != getattr(pairs[0][0], kw), kw
        sops = [o.SOPInstanceUID for _, o in pairs]
        assert len(set(sops)) == len(pairs)
        assert all(o.file_meta.MediaStorageSOPInstanceUID == o.SOPInstanceUID for _, o in pairs)
    # references still point at the right (renamed) sibling slice
    small = [outs[p] for p in originals if "small" in p.parts]
    new_by_old = {originals[p].SOPInstanceUID: outs[p].SOPInstanceUID for p in originals}
    for p in originals:
        if "small" in p.parts:
            old_ref = originals[p].ReferencedImageSequence[0].ReferencedSOPInstanceUID
            new_ref = outs[p].ReferencedImageSequence[0].ReferencedSOPInstanceUID
            assert new_ref == new_by_old[old_ref]
    # two original patients → two generated IDs
    assert outs[next(iter(originals))].PatientID != small[0].PatientID
    for p, o in outs.items():
        assert_no_identity(identity_of(originals[p]), o)


def test_folder_with_junk_reports_it_and_continues(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    shutil.copy(find("CT_small.dcm"), src / "a.dcm")
    shutil.copy(find("MR_small.dcm"), src / "sub" / "b.dcm")
    (src / "notes.txt").write_text("not an image\n")
    (src / "sub" / "empty.dcm").write_bytes(b"")
    shutil.copy(find("DICOMDIR"), src / "DICOMDIR")
    report = anonymize_path(src, dst)
    assert sorted(p.name for p in report.written) == ["a.dcm", "b.dcm"]
    reasons = {p.name: r for p, r in report.skipped}
    assert set(reasons) == {"notes.txt", "empty.dcm", "DICOMDIR"}
    assert all(r and "\n" not in r for r in reasons.values())
    assert "not a DICOM file" in reasons["notes.txt"]
    assert "DICOMDIR" in reasons["DICOMDIR"]
    assert not (dst / "notes.txt").exists()
    assert sorted(p.name for p in dst.rglob("*")) == ["a.dcm", "b.dcm", "sub"]  # no temp files


def test_warnings_name_the_file(tmp_path):
    ds = read(find("emri_small.dcm"))
    ds.BurnedInAnnotation = "YES"
    src = tmp_path / "src"
    src.mkdir()
    ds.save_as(src / "burned.dcm", enforce_file_format=True)
    shutil.copy(find("emri_small.dcm"), src / "clean.dcm")  # Burned In Annotation NO
    shutil.copy(find("CT_small.dcm"), src / "unknown.dcm")  # no Burned In Annotation
    report = anonymize_path(src, tmp_path / "out")
    assert len(report.warnings) == 2 and "\n" not in "".join(report.warnings)
    burned, unknown = report.warnings
    assert burned.startswith(f"{src / 'burned.dcm'}: Burned In Annotation is YES")
    assert unknown.startswith(f"{src / 'unknown.dcm'}: burned-in annotation not ruled out")
    assert all(w.endswith("PatientIdentityRemoved left NO") for w in report.warnings)


def test_sources_are_never_modified_or_overwritten(tmp_path):
    make_series(tmp_path)
    src = tmp_path / "src"
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.rglob("*.dcm")}
    with pytest.raises(ValueError, match="source"):
        anonymize_path(src, src)
    one = next(iter(digest))
    with pytest.raises(ValueError, match="overwrite"):
        anonymize_path(one, one)
    report = anonymize_path(src, src / "anon")  # output inside the source: not re-read
    assert len(report.written) == len(digest)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in digest} == digest
    again = anonymize_path(src, src / "anon")
    assert len(again.written) == len(digest)  # the earlier output is not an input


def test_single_file_into_existing_folder(tmp_path):
    report = anonymize_path(find("CT_small.dcm"), tmp_path)
    assert report.written == [tmp_path / "CT_small.dcm"]


def test_missing_source_raises(tmp_path):
    with pytest.raises(anon.ReadError, match="not found"):
        anonymize_path(tmp_path / "nope", tmp_path / "out")


def test_failed_write_leaves_no_partial_output(tmp_path, monkeypatch):
    def broken_save(self, fh, **kwargs):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Dataset, "save_as", broken_save)
    report = anonymize_path(find("CT_small.dcm"), tmp_path / "out.dcm")
    assert report.written == []
    assert len(report.skipped) == 1 and "disk full" in report.skipped[0][1]
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_replaced_atomically(tmp_path):
    target = tmp_path / "out.dcm"
    target.write_bytes(b"old")
    report = anonymize_path(find("CT_small.dcm"), target)
    assert report.written == [target] and read(target).PatientName == "ANONYMOUS"
    assert sorted(tmp_path.iterdir()) == [target]


