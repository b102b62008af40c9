"""A labelled data set: found on disk, decoded, described and split (no torch to import it).

Modules
-------
datasets
    Find labelled images (folder-per-class, CSV, image + mask pairs) and summarise them.
discovery
    The job's data set: discovered as the job names it, its warnings logged.
images
    Decode a sample's pixels: image → modality values, mask → class numbers.
inputs
    Samples → network inputs: the shared preprocessing, augmentation, batches.
fingerprint
    What the recipe needs to know about the images (counts, sizes, modality, objects).
splits
    Stratified, patient-aware train/validation/test splits and k-fold cross-validation.
"""
