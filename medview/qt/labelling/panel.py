"""The Labels dock: project, progress, the image's label, class buttons and navigation.

It renders :class:`~medview.view.labelling.LabellingModel` and forwards clicks to the
controller's actions; it keeps no state of its own.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout,
                               QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from medview.qt.labelling.mask_box import MaskToolsBox
from medview.view.labelling import LabellingModel


class LabelPanel(QWidget):
    """Shows a labelling project's state; its buttons trigger the controller's actions.

    Parameters
    ----------
    model : LabellingModel
    actions : LabellingController
        ``open``, ``classes`` (one per key 1–9), ``skip``, ``next``, ``previous``,
        ``train``, ``useful.next``, ``retrained.action``, and for masks ``brush``,
        ``eraser``, ``undo``, ``redo`` and ``mask`` (the other mask tools).
    """

    def __init__(self, model: LabellingModel, actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.actions = actions
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        self.image = QLabel()
        self.image.setWordWrap(True)
        self.buttons_box = QGridLayout()
        self.class_buttons: list[QPushButton] = []
        self.skip_button = _button(actions.skip)
        self.previous_button = _button(actions.previous, "◀ Previous unlabelled")
        self.next_button = _button(actions.next, "Next unlabelled ▶")
        self.advance = QCheckBox("After labelling, go to the next")
        self.advance.setToolTip("After labelling an image, show the next unlabelled one")
        self.advance.setChecked(model.advance)
        self.advance.toggled.connect(lambda on: setattr(model, "advance", on))
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.open_button = _button(actions.open, "Open Labelling Project…")
        self.train_button = _button(actions.train, "Train on These Labels…")
        self.useful_button = _button(actions.useful.next, "Next most useful ▶")
        self.compare_button = _button(actions.retrained.action, "Compare Retrained Model…")
        self.filter = QComboBox()
        self.filter.setToolTip("Which series the Studies browser lists")
        for key, text in model.FILTERS.items():
            self.filter.addItem(text, key)
        self.filter.currentIndexChanged.connect(
            lambda i: model.set_filter(self.filter.itemData(i)))
        self.paint_box = QWidget()
        paint = QGridLayout(self.paint_box)
        paint.setContentsMargins(0, 0, 0, 0)
        self.radius = QDoubleSpinBox(minimum=0.5, maximum=200.0, singleStep=1.0, suffix=" px",
                                     value=model.radius, decimals=1)
        self.radius.setToolTip("Brush and eraser radius in image pixels")
        self.radius.valueChanged.connect(model.set_radius)
        for i, act in enumerate((actions.brush, actions.eraser, actions.undo, actions.redo)):
            paint.addWidget(_button(act, act.text().replace("Mask ", "").replace("&", "")),
                            i // 2, i % 2)
        paint.addWidget(QLabel("Brush radius"), 2, 0)
        paint.addWidget(self.radius, 2, 1)
        self.tools = MaskToolsBox(model, actions.mask, _button)
        paint.addWidget(self.tools, 3, 0, 1, 2)

        nav = QHBoxLayout()
        nav.addWidget(self.previous_button)
        nav.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        for w in (self.title, self.bar, self.counts, self.image):
            layout.addWidget(w)
        layout.addLayout(self.buttons_box)
        layout.addWidget(self.paint_box)
        layout.addWidget(self.skip_button)
        layout.addLayout(nav)
        layout.addWidget(self.advance)
        layout.addWidget(self.useful_button)
        layout.addWidget(self.filter)
        layout.addWidget(self.train_button)
        layout.addWidget(self.compare_button)
        layout.addWidget(self.message)
        layout.addWidget(self.open_button)
        layout.addStretch(1)

        model.events.project.connect(self._project_changed)
        model.events.current.connect(self._show_current)
        model.events.labels.connect(self._labels_changed)
        model.events.mask.connect(self._show_current)  # the segment the brush paints
        model.events.message.connect(self.message.setText)
        self._project_changed()

    def _project_changed(self) -> None:
        for b in self.class_buttons:
            self.buttons_box.removeWidget(b)
            b.deleteLater()
        names = self.model.class_names
        self.class_buttons = [_button(act, f"{n}  {name}")
                              for n, (act, name) in enumerate(zip(self.actions.classes, names), 1)]
        for i, b in enumerate(self.class_buttons):
            self.buttons_box.addWidget(b, i // 3, i % 3)
        on = self.model.labeller is not None
        for w in (self.bar, self.counts, self.image, self.skip_button, self.previous_button,
                  self.next_button, self.advance, self.train_button, self.filter,
                  self.useful_button, self.compare_button):
            w.setVisible(on)
        self.paint_box.setVisible(self.model.segmenting)
        self.open_button.setVisible(not on)
        if on:
            project = self.model.labeller.project
            self.title.setText(f"<b>{project.name}</b> — {project.task}<br>"
                               f"labels in {project.label_dir}")
        else:
            self.title.setText("No labelling project is open. A project names its classes, the "
                               "studies to label and the folder for the labels "
                               "('medview labels new').")
            self.message.clear()
        self._labels_changed()

    def _labels_changed(self) -> None:
        done = self.model.progress()
        if done is not None:
            self.bar.setRange(0, max(1, done.total))
            self.bar.setValue(done.labelled + done.skipped)
            pending = f"; {self.model.pending} not saved yet" if self.model.pending else ""
            self.counts.setText(done.summary() + pending)
        self._show_current()

    def _show_current(self) -> None:
        image = self.model.current
        if self.model.labeller is None:
            return
        if image is None:
            self.image.setText("The image on screen is not part of this project.")
            return
        label = self.model.label_of(image) or "not labelled"
        brush = (f"<br>the brush paints {self.model.segment} "
                 f"{self.model.class_names[self.model.segment - 1]}" if self.model.segmenting
                 else "")
        self.image.setText(f"{image.path.name}" + (f" [frame {image.frame + 1}]" if image.frame
                                                   else "") + f": <b>{label}</b>" + brush)


def _button(action, text: str | None = None) -> QPushButton:
    """A push button that triggers ``action`` and follows its enabled (and checked) state."""
    button = QPushButton(text or action.text().replace("&", ""))
    button.setToolTip(action.toolTip())
    button.setEnabled(action.isEnabled())
    button.setCheckable(action.isCheckable())
    button.setChecked(action.isChecked())
    # a click on a tool already chosen keeps it chosen: the button shows the action's state
    button.clicked.connect(
        lambda _=False: (action.trigger(), button.setChecked(action.isChecked())))
    action.enabledChanged.connect(button.setEnabled)
    action.toggled.connect(button.setChecked)
    return button
