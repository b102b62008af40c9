"""The training form's "Start from": random weights or a registered backbone that fits the
chosen network, written into the job; and the time budget field."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.helpers.trainer_tab import install_backbone, make_tab
from tests.helpers.trainer_tab import wait_dataset


def _offered(form) -> list[str]:
    return [b.name for b in form.start_from.offered()]


def _choose(qtbot, form, name: str | None) -> None:
    combo = form.start_from.combo
    i = combo.findData(name) if name else 0
    assert i >= 0, (name, [combo.itemText(j) for j in range(combo.count())])
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def test_start_from_offers_only_backbones_of_the_chosen_network(qtbot, settings, demo, isolated):
    from trainer.config import parse_job

    install_backbone(isolated, "archive-r18", "resnet18", images=2134, studies=311)
    install_backbone(isolated, "archive-mobile", "mobilenet_v3_small", images=900, studies=120)
    tab = make_tab(qtbot, settings)
    form = tab.setup_form
    tab.dataset_page.set_path(demo / "labels.csv")
    wait_dataset(qtbot, tab.dataset_page)
    qtbot.waitUntil(lambda: len(form.start_from.backbones) == 2 and form.task == "classification", timeout=10000)
    # 'auto' (the default): the recipe chooses the network, so no backbone can be offered
    assert form.model_spec() == {"architecture": "auto"} and _offered(form) == []
    # resnet18: only the resnet18 backbone; made for this network, it is the default start
    assert form.select_model({"architecture": "resnet18"})
    qtbot.waitUntil(lambda: _offered(form) == ["archive-r18"], timeout=5000)
    combo = form.start_from.combo
    assert [combo.itemText(i) for i in range(combo.count())][1] == \
        "archive-r18 1 — resnet18 pre-trained on 2,134 images (311 studies)"
    assert form.start_from.isVisible() and combo.toolTip()
    assert form.model_spec() == {"architecture": "resnet18", "backbone": "archive-r18"}
    qtbot.waitUntil(lambda: form.error is None and tab.start_button.isEnabled(), timeout=5000)
    assert parse_job(form.job_dict()).model.backbone == "archive-r18"
    # the user prefers random weights: kept
    _choose(qtbot, form, None)
    assert form.model_spec() == {"architecture": "resnet18"}
    # another network: only its own backbone
    assert form.select_model({"architecture": "mobilenet_v3_small"})
    qtbot.waitUntil(lambda: _offered(form) == ["archive-mobile"], timeout=5000)
    _choose(qtbot, form, "archive-mobile")
    job = form.job_dict()
    assert job["model"] == {"architecture": "mobilenet_v3_small", "backbone": "archive-mobile"}
    # a network no backbone fits: random weights only, and a note says how to get one
    assert form.select_model({"architecture": "densenet121"})
    qtbot.waitUntil(lambda: combo.count() == 1, timeout=5000)
    assert form.model_spec() == {"architecture": "densenet121"}
    assert form.start_from.note.isVisible() and "Pre-train a backbone" in form.start_from.note.text()
    form.grab().save(str(isolated / "start_from.png"))
    tab.shutdown()


def test_a_segmentation_network_takes_a_backbone_as_its_encoder(qtbot, settings, demo, isolated):
    from trainer.config import parse_job

    install_backbone(isolated, "archive-r18", "resnet18", images=50)
    install_backbone(isolated, "archive-mobile", "mobilenet_v3_small", images=50)  # no smp encoder
    tab = make_tab(qtbot, settings)
    form = tab.setup_form
    tab.dataset_page.set_path(demo / "segmentation")
    wait_dataset(qtbot, tab.dataset_page)
    qtbot.waitUntil(lambda: len(form.start_from.backbones) == 2 and form.task == "segmentation", timeout=10000)
    assert form.select_model({"architecture": "fpn"})
    qtbot.waitUntil(lambda: _offered(form) == ["archive-r18"], timeout=5000)
    _choose(qtbot, form, "archive-r18")
    assert form.model_spec() == {"architecture": "fpn", "arguments": {"encoder_name": "resnet18"},
                                 "backbone": "archive-r18"}
    qtbot.waitUntil(lambda: form.error is None, timeout=5000)
    model = parse_job(form.job_dict()).model
    assert (model.backbone, model.arguments) == ("archive-r18", {"encoder_name": "resnet18"})
    # Advanced names another encoder: the resnet18 backbone no longer fits
    qtbot.mouseClick(form.preset_buttons["advanced"], Qt.MouseButton.LeftButton)
    form.arguments_edit.setText('{"encoder_name": "resnet34"}')
    qtbot.waitUntil(lambda: _offered(form) == [], timeout=5000)
    assert form.job_dict()["model"] == {"architecture": "fpn", "arguments": {"encoder_name": "resnet34"}}
    form.arguments_edit.setText('{"encoder_name": "resnet18", "decoder_dropout": 0.1}')
    qtbot.waitUntil(lambda: _offered(form) == ["archive-r18"], timeout=5000)
    _choose(qtbot, form, "archive-r18")
    assert form.job_dict()["model"] == {"architecture": "fpn", "backbone": "archive-r18",
                                        "arguments": {"encoder_name": "resnet18", "decoder_dropout": 0.1}}
    tab.shutdown()


def test_time_budget_round_trips(qtbot, tab, demo):
    from trainer.config import PRESET_BUDGET_MINUTES, parse_job

    form = tab.setup_form
    tab.dataset_page.set_path(demo / "labels.csv")
    wait_dataset(qtbot, tab.dataset_page)
    qtbot.waitUntil(lambda: form.task == "classification" and form.error is None, timeout=10000)
    budget = form.time_budget
    assert budget.toolTip() and budget.spin.toolTip() == budget.toolTip()
    # left to the preset: the field is not written, and it says what the trainer will use
    assert budget.minutes() is None and "time_budget_minutes" not in form.job_dict()
    assert form.preset == "full" and PRESET_BUDGET_MINUTES["full"] == 30
    qtbot.waitUntil(lambda: budget.spin.text() == "preset: 30 min", timeout=5000)
    qtbot.mouseClick(form.preset_buttons["quick"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: budget.spin.text() == "preset: 10 min", timeout=5000)
    # typed, or one click: written into the job and read back by the trainer's parser
    budget.spin.clear()
    qtbot.keyClicks(budget.spin, "25")
    assert form.job_dict()["time_budget_minutes"] == 25
    assert parse_job(form.job_dict()).time_budget_minutes == 25
    qtbot.mouseClick(budget.buttons[480], Qt.MouseButton.LeftButton)
    assert budget.buttons[480].text() == "Overnight" and "8 h" in budget.buttons[480].toolTip()
    assert parse_job(form.job_dict()).time_budget_minutes == 480 and budget.spin.text() == "480 min"
    budget.set_minutes(None)
    assert "time_budget_minutes" not in form.job_dict()
    # Advanced sets the epochs: no budget unless one is given
    qtbot.mouseClick(form.preset_buttons["advanced"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: budget.spin.text() == "no limit", timeout=5000)
    assert parse_job(form.job_dict()).time_budget_minutes is None
