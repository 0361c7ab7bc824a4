"""The layer panel's blocks and folded constants, on exporter-shaped models (tests/exporter_models.py)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest

from lenet_gui.core import graph, structure
from lenet_gui.core.onnx_io import default_model_path, load_model
from lenet_gui.ui.layer_panel import LayerPanel
from tests import exporter_models as em


def _panel(qtbot, model, height=900):
    from lenet_gui.ui.app import create_application

    create_application()
    layers = graph.analyze(model)
    panel = LayerPanel()
    qtbot.addWidget(panel)
    panel.resize(700, height)
    panel.set_layers(layers, {}, "test", (28, 28), set(), structure.graph_input_shapes(model))
    panel.show()
    qtbot.waitExposed(panel)
    return panel, layers


def _on_screen(panel, widget) -> bool:
    viewport = panel.scroll.viewport()
    top = widget.mapTo(viewport, QPoint(0, 0))
    return widget.isVisibleTo(panel) and viewport.rect().intersects(QRect(top, widget.size()))


def test_a_large_model_opens_with_its_residual_blocks_closed(qtbot):
    panel, layers = _panel(qtbot, em.big_resnet())
    blocks = panel.blocks()
    assert len(panel.rows()) == 66  # 79 nodes, 13 of them constants folded into their layers
    assert len(blocks) == 16
    # 66 rows do not fit 40 lines: the stages open (6 rows + 4 headers + 12 headers), the residual blocks not.
    assert {path for path, view in blocks.items() if view.is_expanded()} == {"layer1", "layer2", "layer3", "layer4"}
    visible = [row.layer.index for row in panel.rows() if row.isVisibleTo(panel)]
    assert visible == [0, 1, 2, 75, 77, 78]  # the stem and the head
    assert all(blocks[f"layer{s}/layer{s}.{b}"].header.isVisibleTo(panel) for s in (1, 2, 3, 4) for b in (0, 1, 2))
    assert blocks["layer1"].header.arrow.text() == "▾" and blocks["layer1/layer1.0"].header.arrow.text() == "▸"
    assert "66 layers" in panel.summary.text() and "13 constants folded" in panel.summary.text()
    assert "grouped by module scope into 16 blocks (the inner ones closed" in panel.summary.text()


def test_clicking_a_header_opens_or_closes_that_block_only(qtbot):
    panel, layers = _panel(qtbot, em.big_resnet())
    blocks = panel.blocks()
    assert not any(row.isVisibleTo(panel) for row in panel.rows() if 21 <= row.layer.index <= 38)
    QTest.mouseClick(blocks["layer2/layer2.0"].header, Qt.MouseButton.LeftButton)
    assert blocks["layer2/layer2.0"].is_expanded() and blocks["layer2/layer2.0"].header.arrow.text() == "▾"
    opened = [row.layer.index for row in panel.rows() if 21 <= row.layer.index <= 38 and row.isVisibleTo(panel)]
    assert opened == [22, 23, 24, 25, 26]  # layer2.0's five layers; 21 is its Identity, folded
    assert not blocks["layer2/layer2.1"].is_expanded()
    QTest.mouseClick(blocks["layer2"].header, Qt.MouseButton.LeftButton)
    assert not blocks["layer2"].is_expanded() and blocks["layer2"].header.arrow.text() == "▸"
    assert not panel.row_for(layers[22]).isVisibleTo(panel)
    assert not blocks["layer2/layer2.0"].header.isVisibleTo(panel)
    QTest.mouseClick(blocks["layer2"].header, Qt.MouseButton.LeftButton)
    assert panel.row_for(layers[22]).isVisibleTo(panel)  # layer2.0 was left open inside
    blocks["layer1/layer1.1"].header.setFocus()
    QTest.keyClick(blocks["layer1/layer1.1"].header, Qt.Key.Key_Space)
    assert blocks["layer1/layer1.1"].is_expanded()


def test_folded_constants_are_a_line_on_their_layer(qtbot):
    panel, layers = _panel(qtbot, em.small_resnet())
    assert len(panel.rows()) == 13
    assert panel.row_for(layers[0]) is None and panel.row_for(layers[13]) is None  # Identity, Constant
    conv = panel.row_for(layers[5])
    assert conv.folded_label is not None and conv.folded_label.text() == "folded: 2 constants (Identity)"
    assert panel.row_for(layers[14]).folded_label.text() == "folded: 1 constant (Constant)"
    assert panel.row_for(layers[7]).folded_label is None
    # A small model: its blocks open, every row on the page.
    assert all(view.is_expanded() for view in panel.blocks().values())
    assert all(row.isVisibleTo(panel) for row in panel.rows())
    assert [row.layer.index for row in panel.rows()] == [i for i in range(16) if i not in (0, 1, 13)]


def test_showing_a_layer_opens_its_blocks_and_scrolls_to_it(qtbot):
    panel, layers = _panel(qtbot, em.big_resnet(), height=500)
    target = layers[64]  # /layer4/layer4.1/conv1/Conv
    row = panel.row_for(target)
    assert not row.isVisibleTo(panel)
    assert panel.show_layer(target) is row
    assert panel.blocks()["layer4"].is_expanded() and panel.blocks()["layer4/layer4.1"].is_expanded()
    assert not panel.blocks()["layer4/layer4.0"].is_expanded()
    assert _on_screen(panel, row) and row.is_marked()
    # A folded constant shows the row it went into.
    assert panel.show_layer(layers[45]) is panel.row_for(layers[46])
    assert panel.blocks()["layer3/layer3.1"].is_expanded() and _on_screen(panel, panel.row_for(layers[46]))


def test_lenet5_has_no_blocks(qtbot):
    panel, layers = _panel(qtbot, load_model(default_model_path()))
    assert panel.blocks() == {} and len(panel.rows()) == 12
    assert panel.summary.text().startswith("12 nodes in execution order")
    assert all(row.folded_label is None for row in panel.rows())


def test_the_overview_opens_the_block_of_the_layer_it_selects(make_window, tmp_path):
    path = tmp_path / "big.onnx"
    em.big_resnet(path=path)
    window = make_window(str(path))
    panel = window.layer_panel
    panel.blocks()["layer3"].set_expanded(False)
    assert len(panel.rows()) == 66 and not panel.blocks()["layer3/layer3.2"].is_expanded()
    layer = next(l for l in window.layers if l.name == "/layer3/layer3.2/conv2/Conv")
    window._overview_selected(layer, -1)
    assert panel.blocks()["layer3"].is_expanded() and panel.blocks()["layer3/layer3.2"].is_expanded()
    assert _on_screen(panel, panel.row_for(layer))


def test_the_inspector_opens_the_block_of_the_unit_it_shows(make_window, tmp_path):
    path = tmp_path / "big.onnx"
    em.big_resnet(path=path)
    window = make_window(str(path))
    panel = window.layer_panel
    layer = next(l for l in window.layers if l.name == "/layer2/layer2.1/conv2/Conv")
    panel.blocks()["layer2"].set_expanded(False)
    assert not panel.blocks()["layer2/layer2.1"].is_expanded()
    assert window.explain.select_from_panel(layer, 1, 3, 4)
    assert panel.blocks()["layer2"].is_expanded() and panel.blocks()["layer2/layer2.1"].is_expanded()
    assert _on_screen(panel, panel.row_for(layer).maps)


def test_a_closed_blocks_rows_are_made_when_it_first_opens_and_get_what_the_others_got(qtbot):
    import numpy as np

    panel, layers = _panel(qtbot, em.big_resnet())
    made = {row.layer.index for row in panel.made_rows()}
    assert made == {0, 1, 2, 75, 77, 78}  # the stem and the head: every residual block is closed
    by_index = {layer.index: layer for layer in layers}
    shapes = {layer.output: tuple(layer.output_shape[1:]) for layer in layers if layer.output_shape}
    panel.set_runtime_shapes(shapes)
    panel.set_class_labels(by_index[24].output, [str(k) for k in range(by_index[24].output_shape[1])])
    activations = {layer.output: np.ones(layer.output_shape[1:], np.float32) for layer in layers
                   if layer.output_shape and not layer.constant}

    class FakeResult:
        pass

    result = FakeResult()
    result.activations = activations
    panel.show_result(result)
    QTest.mouseClick(panel.blocks()["layer2/layer2.0"].header, Qt.MouseButton.LeftButton)
    new = [row for row in panel.made_rows() if row.layer.index not in made]
    assert sorted(row.layer.index for row in new) == [22, 23, 24, 25, 26]
    assert [row.layer.index for row in panel.made_rows()] == sorted(row.layer.index for row in panel.made_rows())
    row = panel.row_for(by_index[24])
    assert "✓" in row.mark.text()  # the runtime shape given before the row existed
    assert row._labels is not None  # the class labels given before the row existed
    panel.scroll.ensureWidgetVisible(row)
    qtbot.waitUntil(lambda: row.maps is not None and row.maps.values() is not None)
    np.testing.assert_array_equal(row.maps.values(), activations[row.layer.output])


def test_asking_for_a_row_in_a_closed_block_makes_it_without_opening_the_block(qtbot):
    panel, layers = _panel(qtbot, em.big_resnet())
    blocks = panel.blocks()
    assert not any(row.layer.index == 60 for row in panel.made_rows())
    row = panel.row_for(layers[60])
    assert row is not None and row.layer.index == 60 and not row.isVisibleTo(panel)
    holders = [path for path, view in panel.blocks().items() if view.populated and not view.is_expanded()]
    assert holders  # its block made its rows, still closed
    assert not blocks["layer1/layer1.0"].populated  # other closed blocks did not
    assert len(panel.rows()) == 66  # and asking for every row makes them all
    assert all(view.populated for view in panel.blocks().values())


def _nested_model():
    """/features/block{b}/layer{l}/{conv,relu}: blocks three deep, 96 rows, as DenseNet's scopes nest."""
    import numpy as np
    from onnx import helper

    rng = np.random.default_rng(5)
    nodes, inits, x = [], [], "input"
    for b in range(8):
        for l in range(6):
            scope, w = f"/features/block{b}/layer{l}", f"w{b}{l}"
            inits.append(em._weight(rng, w, 2, 1 if x == "input" else 2, 3, 3))
            nodes += [helper.make_node("Conv", [x, w], [f"{scope}/c"], name=f"{scope}/conv/Conv",
                                       kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                      helper.make_node("Relu", [f"{scope}/c"], [f"{scope}/r"], name=f"{scope}/relu/Relu")]
            x = f"{scope}/r"
    nodes.append(helper.make_node("ReduceMean", [x], ["output"], name="/head/ReduceMean", axes=[2, 3], keepdims=0))
    return em._save(nodes, inits, "nested", [1, 1, 8, 8], [1, 2])


def test_asking_for_every_row_makes_those_of_blocks_inside_closed_blocks_too(qtbot):
    panel, layers = _panel(qtbot, _nested_model())
    # 97 rows: "features" opens on its eight blocks, closed; their layers' blocks are not made yet.
    assert [row.layer.index for row in panel.made_rows()] == [96]
    assert set(panel.blocks()) == {"features"} | {f"features/block{b}" for b in range(8)}
    rows = panel.rows()
    assert [row.layer.index for row in rows] == [layer.index for layer in layers]  # all 97, in order
    assert all(view.populated for view in panel.blocks().values())
    assert {path.count("/") for path in panel.blocks()} == {0, 1, 2}  # features, its blocks, their layers
