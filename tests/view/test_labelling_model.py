"""The viewer's labelling state without Qt: labels by number, advancing to the next unlabelled
image, wrapping around, messages for numbers beyond the classes."""

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
