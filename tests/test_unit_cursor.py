"""Stepping order of the unit inspector, and where strokes land on the network input (no Qt)."""

import numpy as np
import pytest

from lenet_gui.core import placement, preprocess, unit_cursor
from lenet_gui.core.drawing import Drawing

SEVEN = [[(72, 66), (140, 58), (206, 62), (170, 120), (150, 170), (132, 228)], [(118, 146), (184, 144)]]


def test_steps_go_row_major_like_a_sliding_kernel():
    shape = (2, 3, 4)
    order = [(0, 0, 0)]
    while len(order) < 24:
        order.append(unit_cursor.step(shape, order[-1]))
    assert order == [tuple(int(i) for i in np.unravel_index(k, shape)) for k in range(24)]
    assert unit_cursor.step(shape, (1, 2, 3)) == (1, 2, 3)  # the last unit stays
    assert unit_cursor.step(shape, (0, 0, 0), -1) == (0, 0, 0)
    assert unit_cursor.step(shape, (0, 1, 0), -1) == (0, 0, 3)
    assert unit_cursor.step((84,), (10,), 5) == (15,)


def test_play_scopes_end_at_the_row_or_the_map():
    shape = (6, 14, 14)
    assert unit_cursor.scope_end(shape, (1, 3, 13), "row")
    assert not unit_cursor.scope_end(shape, (1, 3, 13), "map")
    assert unit_cursor.scope_end(shape, (1, 13, 13), "map")
    assert not unit_cursor.scope_end(shape, (1, 13, 12), "map")
    assert unit_cursor.scope_start(shape, (1, 3, 9), "row") == (1, 3, 0)
    assert unit_cursor.scope_start(shape, (1, 3, 9), "map") == (1, 0, 0)
    assert unit_cursor.scope_end((10,), (9,), "map") and not unit_cursor.scope_end((10,), (8,), "row")


@pytest.mark.parametrize("shape, kind, cell, unit", [
    ((6, 28, 28), "maps", (3, 4, 5), (3, 4, 5)),
    ((28, 28), "maps", (0, 4, 5), (4, 5)),
    ((120, 1, 1), "strip", (17, 0, 0), (17, 0, 0)),
    ((84,), "strip", (40, 0, 0), (40,)),
])
def test_heatmap_cells_and_units_convert_both_ways(shape, kind, cell, unit):
    assert unit_cursor.from_tile(shape, kind, *cell) == unit
    assert unit_cursor.to_tile(shape, kind, unit) == cell


def test_units_are_described_in_words():
    assert unit_cursor.describe((16, 10, 10), (2, 3, 4)) == "map 2, row 3, column 4"
    assert unit_cursor.describe((120, 1, 1), (7, 0, 0)) == "unit 7"
    assert unit_cursor.describe((84,), (12,)) == "unit 12"
    assert unit_cursor.clamp_unit((6, 5, 5), (9, -1, 2)) == (5, 0, 2)


def test_the_placement_puts_every_stroke_point_on_its_ink():
    spec = preprocess.LENET5_SPEC
    place = placement.stroke_placement(SEVEN, spec)
    view = preprocess.prepare_drawing(Drawing(280, 280, SEVEN, 12), spec).network_view
    for stroke in SEVEN:
        for x, y in stroke:
            vx, vy = place.to_view(x, y)
            assert view[int(vy), int(vx)] > 0.5, (x, y, vx, vy)
    # The ink's bounding box is scaled into the MNIST 20×20 box (centre lines: 20 − stroke thickness).
    xs = [p[0] for s in SEVEN for p in s]
    ys = [p[1] for s in SEVEN for p in s]
    extent = max(max(xs) - min(xs), max(ys) - min(ys))
    assert place.scale * extent == pytest.approx(spec.box - preprocess.STROKE_THICKNESS)
    # And back: the whole network input as a canvas rectangle, then a point round trip.
    left, top, width, height = place.box_to_canvas((0, 0, 32, 32))
    assert width == pytest.approx(32 / place.scale) and height == pytest.approx(width)
    assert place.to_canvas(*place.to_view(123.0, 45.0)) == pytest.approx((123.0, 45.0))


def test_no_placement_without_ink_or_for_a_single_dot():
    assert placement.stroke_placement([]) is None
    assert placement.stroke_placement([[(10.0, 10.0), (10.0, 10.0)]]) is None


def test_the_window_is_described_with_stride_and_dilation():
    text = unit_cursor.describe_window({"start": [3, 4], "kernel": [5, 5], "stride": [1, 1], "dilation": [1, 1],
                                        "pads": [0, 0, 0, 0]}, "S2")
    assert text == "Patch from S2: rows 3 to 7, columns 4 to 8 (stride 1, dilation 1)."
    text = unit_cursor.describe_window({"start": [-1, 6], "kernel": [3, 3], "stride": [2, 2], "dilation": [2, 1],
                                        "pads": [1, 1, 1, 1]})
    assert text == ("Patch from its input: rows −1 to 3 every 2, columns 6 to 8 (stride 2, dilation 2×1; "
                    "rows and columns outside it are padding).")
    assert unit_cursor.describe_window({}) == ""


def test_walking_forward_picks_the_unit_the_next_layer_makes_of_it():
    assert unit_cursor.forward_unit((6, 28, 28), (2, 5, 9), "Relu", (6, 28, 28)) == ((2, 5, 9), "the same unit")
    assert unit_cursor.forward_unit((6, 28, 28), (2, 5, 9), "MaxPool", (6, 14, 14), {"stride": [2, 2]}) == \
        ((2, 2, 4), "the window that holds it")
    assert unit_cursor.forward_unit((16, 10, 10), (3, 0, 9), "AveragePool", (16, 6, 6),
                                    {"stride": [2, 2], "pads": [1, 1, 1, 1]})[0] == (3, 0, 5)
    assert unit_cursor.forward_unit((120, 1, 1), (17, 0, 0), "Flatten", (120,)) == ((17,), "where it is copied to")
    values = np.zeros(10)
    values[7] = 4.0
    assert unit_cursor.forward_unit((84,), (3,), "Gemm", (10,), consumer_values=values) == \
        ((7,), "its strongest unit for this drawing")
    assert unit_cursor.forward_unit((84,), (3,), "Gemm", (10,)) == ((0,), "its first unit")


def test_clamping_fills_missing_axes_drops_extra_ones_and_keeps_size_one_axes_at_zero():
    assert unit_cursor.clamp_unit((6, 5, 5), (2,)) == (2, 0, 0)
    assert unit_cursor.clamp_unit((4,), (1, 2, 3)) == (1,)
    assert unit_cursor.clamp_unit((1, 3), (5, 5)) == (0, 2)  # an axis of size 1 has only unit 0
    assert unit_cursor.clamp_unit((3, 4), (3, 4)) == (2, 3)  # one past the end on both axes


def test_unit_at_counts_through_axes_of_size_one():
    # 120×1×1 (LeNet's C5): position 17 is map 17, not map 8 (17 split over axes of size 2).
    assert unit_cursor.unit_at((120, 1, 1), 17) == (17, 0, 0)
    assert unit_cursor.unit_at((3, 1), 2) == (2, 0)
    assert unit_cursor.unit_at((2, 3), 99) == (1, 2) and unit_cursor.unit_at((2, 3), -4) == (0, 0)
    assert unit_cursor.unit_at((0, 3), 5) == (0, 0)  # an empty layer: its first unit, not one past it
    assert unit_cursor.step((3, 1), (0, 0), 2) == (2, 0)


def test_units_of_other_shapes_are_described_in_words():
    assert unit_cursor.describe((28, 28), (4, 5)) == "row 4, column 5"
    assert unit_cursor.describe((1, 5), (0, 3)) == "unit 3"  # one row: a vector
    assert unit_cursor.describe((5, 1), (3, 0)) == "unit 3"
    assert unit_cursor.describe((1, 1, 6), (0, 0, 4)) == "map 0, row 0, column 4"
    assert unit_cursor.describe((2, 3, 4, 5), (1, 2, 3, 4)) == "unit (1, 2, 3, 4)"
    assert unit_cursor.describe((1, 1, 84, 1), (0, 0, 9, 0)) == "unit 9"
    # Maps whose rows or columns are 1 or 2 wide are still maps.
    assert unit_cursor.describe((3, 1, 2), (1, 0, 1)) == "map 1, row 0, column 1"
    assert unit_cursor.describe((4, 6, 1), (3, 5, 0)) == "map 3, row 5, column 0"
    assert unit_cursor.describe((2, 5), (1, 3)) == "row 1, column 3"
    assert unit_cursor.describe((5, 2), (3, 1)) == "row 3, column 1"
    # Four axes, two or more of them longer than 1: every index is written out.
    assert unit_cursor.describe((1, 2, 3, 1), (0, 1, 2, 0)) == "unit (0, 1, 2, 0)"
    assert unit_cursor.describe((2, 2, 1, 1), (1, 0, 0, 0)) == "unit (1, 0, 0, 0)"


def test_heatmap_cells_outside_the_layer_are_clamped():
    assert unit_cursor.from_tile((6, 28, 28), "maps", 9, 30, -1) == (5, 27, 0)
    assert unit_cursor.from_tile((28, 28), "maps", 3, 30, 2) == (27, 2)
    assert unit_cursor.from_tile((84,), "maps", 90, 0, 0) == (83,)  # a vector drawn as maps is still a strip
    assert unit_cursor.from_tile((2, 3, 4), "strip", 13, 0, 0) == (1, 0, 1)
    assert unit_cursor.to_tile((6, 28, 28), "maps", (7, 3, 40)) == (5, 3, 27)
    assert unit_cursor.to_tile((28, 28), "maps", (30, 1)) == (0, 27, 1)
    assert unit_cursor.to_tile((2, 3, 4), "strip", (1, 0, 1)) == (13, 0, 0)
    assert unit_cursor.to_tile((84,), "maps", (12,)) == (12, 0, 0)
    assert unit_cursor.to_tile((2, 3), "strip", (1, 2)) == (5, 0, 0)  # a 2-D layer drawn as a strip


def test_a_window_without_stride_or_dilation_and_with_unequal_strides():
    assert unit_cursor.describe_window({"start": [0, 2], "kernel": [2, 3]}, "C1") == \
        "Patch from C1: rows 0 to 1, columns 2 to 4 (stride 1, dilation 1)."
    text = unit_cursor.describe_window({"start": [4, 0], "kernel": [2, 2], "stride": [2, 1], "dilation": [1, 3],
                                        "pads": [0, 0, 0, 1]})
    assert text == ("Patch from its input: rows 4 to 5, columns 0 to 3 every 3 (stride 2×1, dilation 1×3; "
                    "rows and columns outside it are padding).")
    for broken in ({"start": None, "kernel": [2, 2]}, {"start": [1, 2, 3], "kernel": [2, 2]},
                   {"start": [1, 2], "kernel": [2, 2], "stride": [1]}):
        assert unit_cursor.describe_window(broken) == ""


def test_walking_forward_into_a_pool_reads_stride_and_begin_pads_per_axis():
    # No settings given: stride 1, no padding, so the unit keeps its row and column.
    assert unit_cursor.forward_unit((6, 28, 28), (2, 5, 9), "MaxPool", (6, 27, 27)) == \
        ((2, 5, 9), "the window that holds it")
    # Rows pad 1 at the top, columns none: row (5 + 1) // 2 = 3, column 9 // 3 = 3.
    assert unit_cursor.forward_unit((6, 28, 28), (2, 5, 9), "MaxPool", (6, 15, 10),
                                    {"stride": [2, 3], "pads": [1, 0, 0, 0]})[0] == (2, 3, 3)
    # Columns pad 1 at the left (the second begin pad), rows none: row 5 // 2 = 2, column (8 + 1) // 3 = 3.
    assert unit_cursor.forward_unit((6, 28, 28), (2, 5, 8), "MaxPool", (6, 14, 10),
                                    {"stride": [2, 3], "pads": [0, 1, 0, 0]})[0] == (2, 2, 3)
    # A convolution is not a pool: without values it is entered at its first unit.
    assert unit_cursor.forward_unit((6, 28, 28), (2, 5, 9), "Conv", (16, 24, 24)) == ((0, 0, 0), "its first unit")
    # A Transpose keeps the size but not the order, so it is not a copy.
    assert unit_cursor.forward_unit((4, 2, 2), (1, 1, 1), "Transpose", (2, 2, 4)) == ((0, 0, 0), "its first unit")
    # A Flatten whose output has another size is not a copy; empty values give the first unit.
    assert unit_cursor.forward_unit((4, 2, 2), (1, 1, 1), "Flatten", (8,)) == ((0,), "its first unit")
    assert unit_cursor.forward_unit((84,), (3,), "Gemm", (10,), consumer_values=np.zeros(0)) == \
        ((0,), "its first unit")
    # The unit is clamped first: (9, 0, 0) of a 4×2×2 map is (3, 0, 0), flat 12 of a Reshape to 16.
    assert unit_cursor.forward_unit((4, 2, 2), (9, 0, 0), "Reshape", (16,)) == ((12,), "where it is copied to")
