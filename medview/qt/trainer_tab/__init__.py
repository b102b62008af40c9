"""The Trainer tab: fine-tune a model on the clinic's labelled cases, watch it learn,
judge it on held-out cases, and put it to work in the viewer.

Importing this package is light (PySide6 only): :class:`LazyTrainerTab` is what the
main window adds, and it builds the real tab (:class:`.tab.TrainerTab`, which imports
pyqtgraph and the trainer's torch-free modules) the first time it is shown. Nothing
in this package imports torch: training runs in a subprocess (:mod:`trainer.jobs`).

Modules: :mod:`.tab` (composer), :mod:`.dataset_page`, :mod:`.setup_form`,
:mod:`.search_options`, :mod:`.job_list`, :mod:`.job_page`, :mod:`.charts`,
:mod:`.search_view`, :mod:`.trials_model`, :mod:`.event_tail` (progress: :mod:`medview.app.job_progress`),
:mod:`.evaluation_view`, :mod:`.log_view`; pre-training and backbones:
:mod:`.pretrain_form`, :mod:`.backbone_view`, :mod:`.start_from`, :mod:`.time_budget`
(which backbones fit a job: :mod:`medview.app.backbone_offer`, no Qt).
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from medview.core.imports import load

__all__ = ["LazyTrainerTab"]


class LazyTrainerTab(QWidget):
    """Placeholder that becomes the Trainer tab on first show.

    Parameters
    ----------
    settings : Settings, optional
    models_changed : callable, optional
        Called after the tab registered a model (e.g. the AI panel's ``refresh_models``).
    """

    def __init__(self, settings=None, models_changed=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TrainerTabHost")
        self._settings = settings
        self._models_changed = models_changed
        self.tab = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def ensure(self):
        """Build the real tab now (if not yet) and return it."""
        if self.tab is None:
            TrainerTab = load("medview.qt.trainer_tab.tab").TrainerTab

            self.tab = TrainerTab(self._settings, self._models_changed, self)
            self._layout.addWidget(self.tab)
        return self.tab

    def showEvent(self, event) -> None:
        self.ensure()
        super().showEvent(event)

    def shutdown(self) -> None:
        """Stop the tab's timers (running training jobs are not touched)."""
        if self.tab is not None:
            self.tab.shutdown()
