"""Measurements and key images as DICOM SR, written and read with highdicom.

- :mod:`.measurement_report`: annotations -> Comprehensive 3D SR, TID 1500;
- :mod:`.key_objects`: key images -> Key Object Selection document (TID 2010);
- :mod:`.read`: either document -> measurements / key images (:class:`.read.Document`);
- :mod:`.concepts`: the codes (SNOMED CT, DCM, UCUM, and medview's calibration codes);
- :mod:`.documents`: what both writers share (references, evidence, observer, file).

highdicom (and through it pydicom) is imported when a document is written or read,
never when this package is.
"""
