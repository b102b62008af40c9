"""Small reusable widgets: DICOM tag browser (:mod:`.tag_browser`, imports pydicom),
shortcuts dialog (:mod:`.shortcuts_dialog`), skipped-files notice (:mod:`.notice`).

Import the module you need: this package imports nothing, so that the light widgets
do not drag pydicom in with the tag browser.
"""
