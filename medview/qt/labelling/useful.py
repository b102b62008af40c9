"""Next Most Useful Case (key U): the unlabelled image the project's model is least sure of.

The first press ranks the project's unlabelled images by the model in use
(:func:`medview.analysis.labelling.rank`, its ONNX graph in a pool thread: no torch in the
window) and shows the most uncertain; each later press shows the next one still
unlabelled. The Studies browser's "Series with the most useful images" filter lists the
series holding the first :data:`SHOWN` of them. The ranking is kept until the model in
use changes (labels do not change what the model says). The project's model in use is
asked for once (a registered model of the project's task) and kept in the project file.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

from medview.app.internal_errors import user_reason
from medview.core.imports import load
from medview.labels.files import LabelsError

__all__ = ["UsefulCases", "SHOWN"]

#: How many of the most useful images the browser filter lists the series of.
SHOWN = 20


class UsefulCases(QObject):
    """The Next Most Useful Case and Choose Model in Use actions of a labelling controller.

    Parameters
    ----------
    controller : LabellingController
        Its window, model (:class:`~medview.view.labelling.LabellingModel`), ``go_to`` and
        ``_action`` are used.
    """

    def __init__(self, controller) -> None:
        super().__init__(controller)
        self.controller = controller
        self.model = controller.model
        self.window = controller.window
        self.ranked: list | None = None  # Ranked, most uncertain first
        self._ranking = False
        self.next = controller._action(
            "Next Most &Useful Case", self.show_next, "U",
            tip="Go to the unlabelled image the project's model is least sure of (U)")
        self.choose = controller._action(
            "Choose Model in Use…", self.choose_model,
            tip="The model that ranks the unlabelled images and that a retrained model is "
                "compared with")
        self.model.events.project.connect(self._project_changed)
        self._project_changed()

    def actions(self) -> list:
        return [self.next, self.choose]

    def _project_changed(self) -> None:
        on = self.model.labeller is not None
        self.next.setEnabled(on)
        self.choose.setEnabled(on)
        self.forget()

    def forget(self) -> None:
        """Drop the ranking (the model in use changed, or the project)."""
        self.ranked = None
        self.model.set_useful(None)

    # -- the model in use

    def model_in_use(self) -> str:
        labeller = self.model.labeller
        return labeller.project.model if labeller is not None else ""

    def choose_model(self) -> bool:
        """Ask which registered model of the project's task is in use; True when chosen."""
        labeller = self.model.labeller
        if labeller is None:
            return False
        from medview.inference.registry import Registry

        names = [f"{e.name}/{e.version}" for e in Registry().available()
                 if e.manifest.task == labeller.project.task]
        if not names:
            self.model.events.message.emit(f"No registered {labeller.project.task} model: "
                                           "train one on the project's labels first")
            return False
        current = names.index(labeller.project.model) if labeller.project.model in names else 0
        name, ok = QInputDialog.getItem(self.window, "Model in Use",
                                        f"The model in use for {labeller.project.name}:",
                                        names, current, False)
        return bool(ok) and self.set_model(name)

    def set_model(self, spec: str) -> bool:
        """Make ``spec`` (``NAME/VERSION``) the project's model in use and save the project."""
        project = self.model.labeller.project
        old, project.model = project.model, spec
        try:
            project.save()
        except LabelsError as err:
            project.model = old
            self.model.events.message.emit(str(err))
            return False
        self.forget()
        self.model.events.message.emit(f"{project.name}: the model in use is {spec}")
        return True

    # -- ranking and going there

    def show_next(self) -> None:
        """Show the most uncertain unlabelled image after the one on screen (ranking first
        if needed)."""
        if self.model.labeller is None or self._ranking:
            return
        if not self.model_in_use() and not self.choose_model():
            return
        if self.ranked is None:
            self._rank()
            return
        self.controller.sync()
        for r in self.ranked:
            if r.image != self.model.current and not self.model.label_of(r.image):
                self.model.events.message.emit(
                    f"Most useful next: {r.image.path.name} (uncertainty {r.score:.2f}"
                    + (f", the model says {r.label})" if r.label else ")"))
                self.controller.go_to(r.image)
                return
        self.model.events.message.emit("Every ranked image has a label now; press U again to "
                                       "rank the rest")
        self.forget()

    def _rank(self) -> None:
        labeller = self.model.labeller
        frames = {f.key: f for f in self.window.library.frames()}
        spec = labeller.project.model
        self._ranking = True
        self.model.events.message.emit(f"Ranking the unlabelled images of {labeller.project.name}"
                                       f" by {spec}…")
        self.window.workers.start(_rank, labeller, spec, frames, on_return=self._ranked,
                                  on_error=self._failed)

    def _ranked(self, found) -> None:
        self._ranking = False
        ranked, notes = found
        if self.model.labeller is None:
            return
        self.ranked = ranked
        self.model.set_useful({r.image.id for r in ranked[:SHOWN]})
        if notes:
            self.model.events.message.emit(f"{len(notes)} image(s) not ranked: {notes[0]}")
        if ranked:
            self.show_next()
        else:
            self.model.events.message.emit("No unlabelled image to rank")

    def _failed(self, exc: BaseException) -> None:
        self._ranking = False
        self.model.events.message.emit(user_reason(exc, "ranking the unlabelled images"))


def _rank(labeller, spec: str, frames: dict):
    """Pool thread: the ranking by the model ``spec`` (its ONNX graph)."""
    models = load("medview.analysis.labelling")
    return models.rank(labeller, models.open_analyzer(models.find_model(spec)), frames=frames)
