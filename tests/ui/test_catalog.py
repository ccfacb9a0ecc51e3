"""The catalog shows every manifest in backends/ and narrows it by search and filters."""

from __future__ import annotations

import pytest
from PySide6 import QtWidgets

from app.ui.catalog_widget import CatalogWidget
from backends.sdk.catalog import load_catalog

pytestmark = pytest.mark.ui


@pytest.fixture
def catalog_widget(qtbot):
    widget = CatalogWidget(load_catalog())
    qtbot.addWidget(widget)
    widget.show()
    return widget


def card_texts(widget: CatalogWidget, name: str) -> list[str]:
    row = widget.visible_names().index(name)
    card = widget.list.itemWidget(widget.list.item(row))
    return [label.text() for label in card.findChildren(QtWidgets.QLabel)]


def test_every_model_has_a_card_with_badges_gpu_and_parameters(catalog_widget):
    assert set(catalog_widget.visible_names()) == set(load_catalog())
    texts = card_texts(catalog_widget, "sklearn_text_classifier")
    assert "Scikit-learn text classifier" in texts
    assert {"pre-annotation", "training", "text", "CPU only"} <= set(texts)
    assert "4 optional parameters" in texts
    assert "interactive" in card_texts(catalog_widget, "interactive_substring_matching")


def test_search_and_filters_narrow_the_list(qtbot, catalog_widget):
    catalog_widget.search_edit.setText("substring")
    assert catalog_widget.visible_names() == ["interactive_substring_matching"]
    catalog_widget.search_edit.clear()
    catalog_widget.capability_combo.setCurrentText("Training")
    trainable = sorted(n for n, m in load_catalog().items() if "training" in m.capabilities)
    assert "sklearn_text_classifier" in trainable
    assert sorted(catalog_widget.visible_names()) == trainable
    catalog_widget.capability_combo.setCurrentIndex(0)
    catalog_widget.data_type_combo.setCurrentText("Audio")
    assert catalog_widget.visible_names() == []
    qtbot.waitUntil(catalog_widget.empty_label.isVisible, timeout=1000)


def test_choosing_a_card_announces_the_model(qtbot, catalog_widget):
    with qtbot.waitSignal(catalog_widget.model_selected) as chosen:
        catalog_widget.select("interactive_substring_matching")
    assert chosen.args == ["interactive_substring_matching"]
