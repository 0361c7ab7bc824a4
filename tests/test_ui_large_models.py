"""A large model in the window: pictures only in the rows in view, filled as they come into view."""

import numpy as np

from lenet_gui.ui import layer_panel as layer_panel_module
from lenet_gui.ui.kernel_dialog import KernelDialog
from tests.helpers import BIG_HWIO, big_weight_classifier, deep_classifier


def _open_deep(make_window, tmp_path, qtbot, channels=8):
    path = deep_classifier(tmp_path / "deep.onnx", blocks=20, size=64, channels=channels)  # 48 rows
    window = make_window(str(path))
    qtbot.waitUntil(lambda: window.session is not None and window.session.path == path, timeout=20000)
    qtbot.waitUntil(lambda: len(window.layer_panel.rows()) > 40, timeout=20000)
    return window


def _filled(row) -> bool:
    return row.maps is not None and row.maps.values() is not None


def test_only_the_rows_in_view_hold_pictures(make_window, draw, tmp_path, qtbot):
    window = _open_deep(make_window, tmp_path, qtbot)
    panel = window.layer_panel
    rows = panel.rows()
    assert len(rows) > layer_panel_module.ALL_ROWS_UP_TO
    draw(window.canvas, [(60, 40), (200, 40), (120, 250)])
    window.flush()
    activations = window.last_result.activations
    panel.set_all_expanded(True)
    panel.scroll.verticalScrollBar().setValue(0)
    window.flush()
    draw(window.canvas, [(60, 40), (200, 40), (120, 250)])
    window.flush()
    activations = window.last_result.activations
    in_view = panel.rows_in_view()
    assert 0 < len(in_view) < len(rows) // 2
    window.layer_panel.repaint()
    for row in rows:
        assert _filled(row) == (row in in_view), row.layer.display_name
        if row.maps is not None and row not in in_view:
            assert not row.maps.holds_pictures()  # no pixel buffers for rows out of view
        if row in in_view:
            assert row.maps.values() is activations[row.layer.output]
    last = rows[-2]  # Softmax's input: the class scores, at the bottom
    assert not _filled(last)
    panel.scroll.verticalScrollBar().setValue(panel.scroll.verticalScrollBar().maximum())
    assert _filled(last) and last.maps.values() is activations[last.layer.output]
    assert _filled(rows[1])  # the top rows keep their pictures until the next result...
    draw(window.canvas, [(60, 150), (200, 150)])
    window.flush()
    assert not _filled(rows[1]) and _filled(last)  # ...which gives them to the rows now in view
    assert not rows[1].maps.holds_pictures()
    np.testing.assert_array_equal(last.maps.values(), window.last_result.activations[last.layer.output])


def test_showing_a_layer_fills_its_row_and_an_export_fills_every_row(make_window, draw, tmp_path, qtbot):
    window = _open_deep(make_window, tmp_path, qtbot)
    panel = window.layer_panel
    rows = panel.rows()
    draw(window.canvas, [(60, 40), (200, 40), (120, 250)])
    window.flush()
    target = rows[len(rows) * 2 // 3]
    assert not _filled(target)
    panel.show_layer(target.layer)
    assert _filled(target)
    image = panel.render_image()
    assert not image.isNull()
    assert all(_filled(row) for row in rows if row.maps is not None)


def test_lenet_rows_all_hold_pictures_even_out_of_view(make_window, draw):
    window = make_window()
    window.resize(1000, 500)  # a short panel: most rows out of view
    window.layer_panel.scroll.verticalScrollBar().setValue(0)
    draw(window.canvas, [(60, 40), (200, 40), (120, 250)])
    window.flush()
    rows = window.layer_panel.rows()
    assert len(window.layer_panel.rows_in_view(margin=0)) < len(rows)
    assert all(_filled(row) for row in rows if row.maps is not None)


def test_rows_in_a_closed_block_hold_no_pictures_until_it_opens(make_window, draw, tmp_path, qtbot):
    window = _open_deep(make_window, tmp_path, qtbot)
    panel = window.layer_panel
    panel.set_all_expanded(False)
    draw(window.canvas, [(60, 40), (200, 40), (120, 250)])
    window.flush()
    hidden = [row for row in panel.rows() if not row.isVisibleTo(panel.content)]
    assert hidden and not any(_filled(row) for row in hidden)
    first = hidden[0]
    panel.expand_to(first.layer)
    assert first in panel.rows_in_view() and _filled(first)
    block = next(view for view in panel._blocks.values() if view.isVisibleTo(panel.content) and not view.is_expanded())
    inside = [row for row in panel.rows() if block.isAncestorOf(row)]
    assert inside and not any(_filled(row) for row in inside)
    panel.scroll.ensureWidgetVisible(block)
    block.set_expanded(True)  # as a click on its header does
    qtbot.waitUntil(lambda: _filled(inside[0]), timeout=3000)


def test_a_released_mosaic_is_made_again_with_the_same_pixels():
    from lenet_gui.ui.mosaic import Geometry, Mosaic

    geometry = Geometry(3, 4, 5, 3, 1, 1, 0, 0)
    values = np.arange(60, dtype=np.float32).reshape(3, 4, 5) - 20
    table = np.arange(256, dtype=np.uint32) | 0xFF000000
    mosaic = Mosaic(geometry)
    assert not mosaic.holds_buffers  # nothing until it is filled
    mosaic.set_colors(table)
    assert not mosaic.holds_buffers  # colours alone make no buffers
    mosaic.fill(values, signed=True)
    first = mosaic.pixels.copy()
    mosaic.drop_work_buffers()
    mosaic.set_colors(table[::-1].copy())  # no levels kept: the pixels stay until the next fill
    np.testing.assert_array_equal(mosaic.pixels, first)
    mosaic.set_colors(table)
    mosaic.release()
    assert not mosaic.holds_buffers
    mosaic.fill(values, signed=True)
    np.testing.assert_array_equal(mosaic.pixels, first)


def test_large_pictures_keep_only_what_is_shown(make_window, draw, tmp_path, qtbot):
    from lenet_gui.ui import mosaic

    window = _open_deep(make_window, tmp_path, qtbot, channels=24)  # 24×64×64 values in the first layers
    draw(window.canvas, [(60, 40), (200, 40), (120, 250)])
    window.flush()
    # The overview holds each map at most at the size it is drawn (a few times fewer pixels).
    canvas = window.overview.canvas
    reduced = 0
    for i, pictures in canvas._pictures.items():
        column = canvas.plan.columns[i]
        if column.kind != "maps":
            continue
        shown_h, shown_w = column.tile_px
        assert pictures.tile_h < 2 * shown_h and pictures.tile_w < 2 * shown_w
        assert pictures.mosaic.values == column.count * pictures.tile_h * pictures.tile_w
        reduced += pictures.tile_h < column.tile_h
    assert reduced
    # The panel's large rows keep their pixels but not the buffers that filling them takes.
    window.layer_panel.set_all_expanded(True)
    window.layer_panel.scroll.verticalScrollBar().setValue(0)
    window.flush()
    panel = window.layer_panel

    def pictures_in_view():
        rows = [row for row in panel.rows_in_view() if row.maps is not None]
        for row in rows:
            row.maps.set_fixed_scale(None)  # quantised by the row itself (not with the other rows)
        panel.repaint()
        return [row.maps.mosaic() for row in rows if row.maps.holds_pictures()]

    big = [m for m in pictures_in_view() if m.values > mosaic.KEEP_WORK_BUFFERS_UP_TO]
    assert big and all(m._levels is None and m._pixels is not None for m in big)
    bar = panel.scroll.verticalScrollBar()
    bar.setValue(bar.maximum())  # the last stages: 24×16×16 values a layer
    window.flush()
    small = [m for m in pictures_in_view() if m.values <= mosaic.KEEP_WORK_BUFFERS_UP_TO]
    assert small and all(m._levels is not None for m in small)


def test_a_kernel_left_in_the_file_is_read_for_its_view_and_a_changed_file_is_said(make_window, tmp_path, qtbot):
    path = big_weight_classifier(tmp_path / "big.onnx", transposed=False)
    window = make_window(str(path))
    qtbot.waitUntil(lambda: window.session is not None and window.session.path == path, timeout=20000)
    assert window.session.weights.offloaded == 1
    conv2 = next(layer for layer in window.layers if layer.op == "Conv" and layer.output == "c2")
    dialog = window.show_kernels(conv2)
    assert isinstance(dialog, KernelDialog)
    np.testing.assert_array_equal(dialog.weights, BIG_HWIO.transpose(3, 2, 0, 1))
    dialog.close()
    path.write_bytes(path.read_bytes() + b"\0")  # re-exported meanwhile: another size
    assert window.show_kernels(conv2) is None
    assert "big.onnx changed on disk since it was opened" in window.last_message
    assert window.statusBar().currentMessage() == window.last_message


def test_only_small_layers_are_quantised_together_a_large_one_fills_itself_the_same(qapp):
    from lenet_gui.ui import mosaic
    from lenet_gui.ui.feature_maps import ActivationMaps, FillTogether

    rng = np.random.default_rng(3)
    small = [ActivationMaps((2, 8, 8)), ActivationMaps((3, 6, 6))]
    large = ActivationMaps((2, 200, 200))  # 80,000 values
    assert large.mosaic().values > mosaic.KEEP_WORK_BUFFERS_UP_TO >= max(w.mosaic().values for w in small)
    for widget in (*small, large):
        widget.resize(900, 400)
        widget.set_values(rng.random(widget.shape, dtype=np.float32))
    FillTogether().fill([*small, large])
    assert all(w._levels is not None for w in small)  # the batch's levels, coloured when painted
    assert large._levels is None and large._stale  # left to fill itself when it paints
    large.grab()
    reference = mosaic.Mosaic(large.mosaic().geometry)
    reference.set_colors(large.mosaic().lut)
    reference.fill(large.values(), signed=False)
    np.testing.assert_array_equal(large.mosaic().pixels, reference.pixels)
