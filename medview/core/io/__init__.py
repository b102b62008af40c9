"""Readers: one module per source kind (DICOM file, plain image, folder, DICOMDIR)."""
