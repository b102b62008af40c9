"""Demo data: synthetic phantoms, the bundled sample studies and the trainer's demo data set.

Not part of the display pipeline (:mod:`medview.core`): nothing here is needed to read or
show a study, and the core never imports it. No Qt, no torch.
"""
