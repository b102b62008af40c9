"""The viewer's labelling state without Qt: labels by number, advancing to the next unlabelled
image, wrapping around, messages for numbers beyond the classes; masks interpolated between
slices and AI masks accepted by their class names."""

from __future__ import annotations

from types import SimpleNamespace

from medview.labels.images import ProjectImage, ProjectImages
from medview.labels.labelling import Labeller
from medview.labels.project import Project
from medview.view.labelling import LabellingModel


def _model(tmp_path, n: int = 4) -> tuple[LabellingModel, list[ProjectImage]]:
    studies = tmp_path / "cases"
    studies.mkdir()
    images = [ProjectImage(f"id{i}", studies / f"{i}.png") for i in range(n)]
    project = Project.create(tmp_path / "p.json", "classification", ["normal", "lesion"], [studies],
                             tmp_path / "labels")
    model = LabellingModel()
    seen: list[str] = []
    model.events.connect_all(seen.append)
    model.open(Labeller(project, ProjectImages(images)))
    assert seen == ["project"]
    return model, images


def test_a_number_labels_the_image_on_screen_and_moves_to_the_next_unlabelled(tmp_path):
    model, images = _model(tmp_path)
    model.show(images[1].path)
    assert model.current == images[1]
    assert model.assign(2) == images[2] and model.label_of(images[1]) == "lesion"
    model.show(images[3].path)
    assert model.assign(1) == images[0]  # wraps around to the first unlabelled image
    assert model.step(-1) == images[2]
    done = model.progress()
    assert (done.labelled, done.unlabelled, done.per_class) == (2, 2, {"normal": 1, "lesion": 1})


def test_without_advance_the_image_stays_and_skipping_counts(tmp_path):
    model, images = _model(tmp_path, n=2)
    model.advance = False
    model.show(images[0].path)
    assert model.skip() is None and model.state_of(images[0]) == "skipped"
    assert model.step(+1) == images[1]
    model.show(images[1].path)
    model.assign(1)
    assert model.step(+1) is None  # every image has a label


def test_numbers_beyond_the_classes_and_images_outside_the_project_only_say_so(tmp_path):
    model, images = _model(tmp_path)
    said: list[str] = []
    model.events.message.connect(said.append)
    model.show(tmp_path / "elsewhere.dcm")
    assert model.current is None and model.assign(1) is None
    model.show(images[0].path)
    assert model.assign(3) is None and model.label_of() == ""
    assert said == ["This image is not part of the labelling project",
                    "No class 3: the project's classes are 1 normal, 2 lesion"]


def test_a_whole_series_is_labelled_at_once_and_the_next_unlabelled_follows_it(tmp_path):
    model, images = _model(tmp_path, n=5)
    model.show(images[1].path)
    assert model.assign(2, images[1:4]) == images[4]
    assert [model.label_of(im) for im in images] == ["", "lesion", "lesion", "lesion", ""]
    assert model.progress().per_class == {"normal": 0, "lesion": 3}


def test_a_mask_that_no_longer_fits_its_image_is_kept_and_not_painted_over(tmp_path):
    import shutil

    import numpy as np

    from tests.helpers.datafiles import find

    studies = tmp_path / "ct"
    studies.mkdir()
    shutil.copy(find("CT_small.dcm"), studies / "ct.dcm")
    project = Project.create(tmp_path / "s.json", "segmentation", ["lesion"], [studies],
                             tmp_path / "labels")
    labeller = Labeller.open(project.path)
    (image,) = labeller.images.images
    label = labeller.set_mask(image, np.ones((128, 128), np.uint8))
    saved = labeller.mask_file(label).read_bytes()
    model = LabellingModel()
    said: list[str] = []
    model.events.message.connect(said.append)
    model.open(labeller)
    model.show(image.path, 0, shape=(64, 64))  # as if the image had been replaced
    assert model.current == image and model.edit is None
    assert "the mask is 128×128 but its image is 64×64; the mask is kept" in said[-1]
    model.press(SimpleNamespace(path=image.path, index=0, shape=(64, 64), params=SimpleNamespace(
        units="HU"), modality_values=lambda: np.zeros((64, 64))), (3.0, 3.0))
    assert labeller.mask_file(label).read_bytes() == saved


def test_the_filter_lists_series_by_the_labels_of_their_images(tmp_path):
    model, images = _model(tmp_path, n=3)
    model.show(images[0].path)
    model.assign(1)
    done, mixed = [images[0]], images[:2]
    assert model.lists(done) and model.lists(mixed) and model.lists([])
    model.set_filter("unlabelled")
    assert not model.lists(done) and model.lists(mixed) and not model.lists([])
    model.set_filter("labelled")
    assert model.lists(done) and not model.lists(mixed) and not model.lists([])


def _saved_mask(labeller, image):
    from medview.labels.seg import read_seg

    label = labeller.store.get(image.id)
    return read_seg(labeller.mask_file(label)).labels if label is not None else None


def test_interpolation_fills_only_the_empty_slices_between_labelled_ones(tmp_path):
    import numpy as np

    from medview.view import mask_tools
    from tests.helpers.datafiles import find
    from tests.helpers.qt import make_ct_series

    make_ct_series(tmp_path / "ct", 5, find("CT_small.dcm"))
    project = Project.create(tmp_path / "s.json", "segmentation", ["lesion", "vessel"],
                             [tmp_path / "ct"], tmp_path / "labels")
    labeller = Labeller.open(project.path)
    images = sorted(labeller.images.images, key=lambda im: im.path.name)
    model = LabellingModel()
    model.open(labeller)
    rows, cols = np.mgrid[:128, :128]
    small = ((rows - 64) ** 2 + (cols - 64) ** 2 <= 25).astype(np.uint8)
    big = ((rows - 64) ** 2 + (cols - 64) ** 2 <= 225).astype(np.uint8) * 2
    for image, mask in ((images[0], small), (images[3], big)):
        model.show(image.path, 0, (128, 128))
        model.paste(mask)
    slices = [(im, (128, 128)) for im in images[:4]] + [(None, (128, 128))]
    assert model.interpolate(slices) == 0  # segment 1 on one side, 2 on the other: nothing
    assert _saved_mask(labeller, images[1]) is None
    model.show(images[3].path, 0, (128, 128))
    model.paste(big // 2)
    assert model.interpolate(slices) == 2
    assert np.array_equal(_saved_mask(labeller, images[2]),
                          mask_tools.interpolate(small, big // 2, 2 / 3))
    assert model.interpolate(slices) == 0  # the filled slices are kept


def test_an_ai_mask_becomes_the_segments_named_like_its_classes(tmp_path):
    import shutil

    import numpy as np

    from tests.helpers.datafiles import find

    (tmp_path / "ct").mkdir()
    shutil.copy(find("CT_small.dcm"), tmp_path / "ct" / "ct.dcm")
    project = Project.create(tmp_path / "s.json", "segmentation", ["lesion", "vessel"],
                             [tmp_path / "ct"], tmp_path / "labels")
    labeller = Labeller.open(project.path)
    (image,) = labeller.images.images
    model = LabellingModel()
    model.open(labeller)
    model.show(image.path, 0, (128, 128))
    kept = np.zeros((128, 128), np.uint8)
    kept[:10] = 1  # painted before; the AI gives no "lesion", so it stays
    model.paste(kept)
    ai = np.zeros((128, 128), np.uint8)
    ai[50:60, 50:60] = 1
    model.accept(ai, {1: "Vessel"})  # named like segment 2, case ignored
    saved = _saved_mask(labeller, image)
    assert (saved == 2).sum() == 100 and saved[55, 55] == 2 and np.array_equal(saved == 1, kept)
    ai[80:90, 80:90] = 2
    model.accept(ai, {1: "Vessel", 2: "calcium"})  # calcium: the segment chosen now, 1
    saved = _saved_mask(labeller, image)
    assert (saved == 1).sum() == 100 and saved[85, 85] == 1 and not saved[:10].any()
    model.undo()
    model.undo()
    assert np.array_equal(_saved_mask(labeller, image), kept)
    assert model.accept(np.zeros((4, 4), np.uint8), {1: "lesion"}) is None
    assert np.array_equal(model.edit.labels, kept)  # a mask of another size changes nothing
