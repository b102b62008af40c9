"""DICOM SEGs in an opened folder: read with highdicom into masks over the frames they
reference, not shown as series; a damaged SEG is one line naming it and the images load."""

from __future__ import annotations

import numpy as np
import pydicom

from medview.analysis.seg_layers import frame_layer
from medview.core.io.folder import load_paths
from medview.core.io.seg import read_seg
from tests.helpers.pacs import make_study
from tests.helpers.seg_files import write_test_seg


def test_a_folder_with_a_seg_gives_its_mask_over_the_referenced_frame(tmp_path):
    images = make_study(tmp_path / "study", n=4)
    mask = write_test_seg(images[2], tmp_path / "study" / "seg.dcm")
    library = load_paths([tmp_path / "study"])
    assert len(library.frames()) == 4 and not library.skipped  # the SEG is not a series
    (seg,) = library.segmentations
    assert [(s.number, s.label) for s in seg.segments] == [(1, "lesion"), (2, "organ")]
    assert seg.series_description == "AI lesion-demo 0.1"
    target = pydicom.dcmread(images[2]).SOPInstanceUID
    for frame in library.frames():
        on_target = frame.header.SOPInstanceUID == target
        got = seg.mask_for(frame)
        assert (got is not None) == on_target
        if on_target:
            assert np.array_equal(got, mask)
            layer = frame_layer([seg], frame)
            assert layer.shape == mask.shape + (4,)
            assert (layer[..., 3] > 0).sum() == (mask > 0).sum()
            only_organ = frame_layer([seg], frame, hidden={(seg.sop_instance_uid, 1)})
            assert np.array_equal(only_organ[..., 3] > 0, mask == 2)
        else:
            assert frame_layer([seg], frame) is None


def test_a_damaged_seg_is_one_line_naming_it_and_the_images_load(tmp_path):
    images = make_study(tmp_path / "study", n=2)
    seg_path = tmp_path / "study" / "seg.dcm"
    write_test_seg(images[0], seg_path)
    ds = pydicom.dcmread(seg_path)
    del ds.SegmentSequence  # highdicom cannot take it apart any more
    ds.save_as(seg_path)
    library = load_paths([tmp_path / "study"])
    assert len(library.frames()) == 2 and library.segmentations == []
    ((path, reason),) = library.skipped
    assert path == seg_path and reason.startswith("DICOM SEG not readable (")
    assert "\n" not in reason


def test_a_seg_of_another_tool_reads_with_its_recommended_colours(tmp_path):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    images = make_study(tmp_path / "study", n=1)
    source = pydicom.dcmread(images[0])
    mask = np.zeros((1, source.Rows, source.Columns), bool)
    mask[0, 10:20, 30:40] = True
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="Liver",
        segmented_property_category=codes.SCT.Organ, segmented_property_type=codes.SCT.Liver,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        display_color=hd.color.CIELabColor.from_rgb(255, 0, 0))
    seg = hd.seg.Segmentation(
        source_images=[source], pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL,
        segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=2,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="other",
        manufacturer_model_name="other", software_versions="1", device_serial_number="1")
    seg.save_as(tmp_path / "other.dcm")
    read = read_seg(tmp_path / "other.dcm")
    assert read.segments[0].label == "Liver" and read.segments[0].colour == "#ff0000"
    assert np.array_equal(read.masks[(source.SOPInstanceUID, 0)], mask[0].astype(np.uint8))
