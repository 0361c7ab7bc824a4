"""Drawing one Explanation: padding, the winner, the verdict; on hand-made objects (drawing only)."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from lenet_gui.core.explanation import Explanation, Grid, Step, Term
from lenet_gui.ui import theme
from lenet_gui.ui.explanation_grids import cell_text
from lenet_gui.ui.explanation_view import ExplanationView


@pytest.fixture
def view(qtbot):
    from lenet_gui.ui.app import create_application

    create_application()
    widget = ExplanationView()
    widget.resize(560, 500)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _conv_explanation(value=1.25, runtime=1.25):
    patch = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 3.0, 4.0]])
    pad = np.zeros((3, 3), bool)
    pad[0, :] = pad[:, 0] = True
    kernel = np.array([[1.0, -1.0, 0.5], [0.25, -0.5, 1.0], [2.0, -2.0, 1.0]])
    return Explanation(
        "conv", "Conv", (0, 0, 0), value=value, runtime_value=runtime, kind="conv",
        rows=[[Grid("input channel 0 of 1", patch, pad), Grid("kernel 0", kernel, signed=True),
               Grid("products", patch * kernel, signed=True)]],
        steps=[Step("sum of 9 products = 1.2500", 1.25), Step("total = 1.2500", 1.25)],
    )


def _pixel(widget, point):
    image = widget.grab().toImage()
    ratio = image.devicePixelRatio()
    return image.pixelColor(int(point.x() * ratio), int(point.y() * ratio))


def test_cells_are_short_numbers():
    assert [cell_text(v) for v in (0.0, 0.004, 0.53, -0.53, 1.234, -12.6, 250.0, 12345.0)] == \
        ["0", "0", ".53", "−.53", "1.2", "−13", "250", "1e4"]
    assert [cell_text(v, wide=True) for v in (0.004, 0.8725, 2.3521, -2.3312)] == ["0.004".lstrip("0"), ".873", "2.35", "−2.33"]


def test_padding_cells_are_drawn_as_padding_not_as_values(view):
    view.show_explanation(_conv_explanation())
    QApplication.processEvents()
    grids = view.grids
    assert grids.isVisible() and grids.cell_size() >= 24
    pad_color = _pixel(grids, grids.cell_center(0, 0, 0, 0))
    assert abs(pad_color.red() - pad_color.blue()) < 20 and abs(pad_color.red() - pad_color.green()) < 20  # grey
    value_zero = theme.ramp_colors(False, theme.is_dark(grids.palette()), 3)[0]  # what a 0 would be drawn as
    assert abs(pad_color.lightness() - value_zero.lightness()) > 60  # hatched padding, not a dark "0"
    assert "padding" in grids.tooltip_text(grids.cell_center(0, 0, 0, 1))
    assert "padding" not in grids.tooltip_text(grids.cell_center(0, 0, 1, 1))
    # Products are coloured by sign (sampled below the number): the largest positive warm, the most negative cool.
    warm = _pixel(grids, grids.cell_center(0, 2, 2, 2) + QPointF(0, 8))
    cool = _pixel(grids, grids.cell_center(0, 2, 2, 1) + QPointF(0, 8))
    assert warm.red() > warm.blue() + 40 and cool.blue() > cool.red() + 40


def test_the_verdict_is_a_check_or_a_red_cross(view):
    palette = view.palette()
    view.show_explanation(_conv_explanation())
    assert "✓" in view.verdict.text() and theme.ok_color(palette).name() in view.verdict.text()
    view.show_explanation(_conv_explanation(value=1.25, runtime=1.5))
    text = view.verdict.text()
    assert "✗" in text and "✓" not in text and theme.bad_color(palette).name() in text
    assert "1.250000" in text and "1.500000" in text


def test_an_unexplained_unit_says_why_in_one_line(view):
    view.show_explanation(Explanation("x", "Einsum", (0,), explained=False, reason="Einsum is not explained yet"))
    assert "Einsum is not explained yet" in view.verdict.text()
    assert not view.grids.isVisible() and not view.steps.isVisible()


def test_the_max_pool_winner_is_outlined(view):
    window = np.array([[0.5, 2.0], [1.0, -1.0]])
    view.show_explanation(Explanation("pool", "MaxPool", (0, 0, 0), value=2.0, runtime_value=2.0, kind="pool",
                                      rows=[[Grid("window", window, highlight=(0, 1))]]))
    QApplication.processEvents()
    grids = view.grids
    rect = grids.grid_rect(0, 0)
    cell = grids.cell_size()
    outline = theme.highlight_outline(grids.palette())
    edge = _pixel(grids, QPointF(rect.x() + cell + 2, rect.y() + cell / 2))
    assert (edge.red(), edge.green(), edge.blue()) == (outline.red(), outline.green(), outline.blue())
    assert "the largest" in grids.tooltip_text(grids.cell_center(0, 0, 0, 1))


def test_dense_terms_beyond_the_top_ones_are_summed(view):
    terms = [Term(0.1 * (20 - k), 1.0, "f6.relu", (k,)) for k in range(20)]
    view.show_explanation(Explanation("out", "Gemm", (3,), value=0.0, runtime_value=0.0, kind="dense", terms=terms))
    assert len(view.listed_terms()) == 12
    rest = sum(t.product for t in terms[12:])
    assert f"8 smaller terms add up to {rest:.4f}" in view.terms.text()
    seen = []
    view.sourceClicked.connect(lambda layer, unit: seen.append((layer, unit)))
    assert view.activate_term(2) and seen == [("f6.relu", (2,))]
    assert not view.activate_term(12)


def test_the_evidence_image_is_warm_for_support_and_blue_against():
    from lenet_gui.ui import evidence_overlay

    values = np.zeros((4, 4))
    values[0, 0], values[3, 3], values[1, 2] = 0.2, -0.1, 0.02
    image = evidence_overlay.evidence_image(values)
    supports, opposes, none = image.pixelColor(0, 0), image.pixelColor(3, 3), image.pixelColor(1, 0)  # (x, y)
    assert supports.alpha() == evidence_overlay.MAX_ALPHA and supports.red() > supports.blue() + 100
    assert 0 < opposes.alpha() < supports.alpha() and opposes.blue() > opposes.red() + 100
    assert none.alpha() == 0
    assert 0 < image.pixelColor(2, 1).alpha() < opposes.alpha()  # weak evidence shows, faintly
    assert evidence_overlay.evidence_image(np.full((2, 2), np.nan)).pixelColor(0, 0).alpha() == 0


def test_the_network_input_draws_the_patch_and_the_evidence(qtbot):
    from lenet_gui.ui import evidence_overlay
    from lenet_gui.ui.app import create_application
    from lenet_gui.ui.network_input import NetworkInputView

    create_application()
    view = NetworkInputView()
    qtbot.addWidget(view)
    view.resize(320, 320)
    view.show()
    qtbot.waitExposed(view)
    area = view.image_rect()
    cell = area.width() / 32
    view.set_view(np.zeros((32, 32), np.float32))
    evidence = np.zeros((32, 32))
    evidence[16:20, 8:12] = 0.3
    view.set_evidence(evidence, "Evidence for 7 (93 %)")
    view.set_patch((4, 20, 9, 25))
    assert view.evidence_title() == "Evidence for 7 (93 %)" and view.patch() == (4, 20, 9, 25)
    image = view.grab().toImage()
    ratio = image.devicePixelRatio()

    def at(x, y):
        return image.pixelColor(int((area.x() + (x + 0.5) * cell) * ratio), int((area.y() + (y + 0.5) * cell) * ratio))

    warm = at(10, 18)
    assert warm.red() > 150 and warm.blue() < 80  # orange over the black background
    plain = at(2, 18)
    assert plain.red() < 20 and plain.green() < 20
    edge = image.pixelColor(int((area.x() + 20 * cell) * ratio), int((area.y() + 6.5 * cell) * ratio))
    assert edge == evidence_overlay.patch_color(view.palette())
    view.set_evidence(None)
    assert view.evidence_title() is None
