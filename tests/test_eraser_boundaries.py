"""The vector eraser on its edges: the eraser's region is closed (a point exactly
r away is erased), a touch is not a cut, and cut pieces keep the stroke's own points."""

import pytest

from lenet_gui.core.eraser import _subtract, erase, segment_capsule_interval


@pytest.mark.parametrize("dot", [(45.0, 50.0), (55.0, 50.0), (50.0, 45.0), (50.0, 55.0)])
def test_a_dot_exactly_on_the_edge_of_the_eraser_is_erased(dot):
    # Each of these dots lies on one side of the eraser's bounding box, too.
    assert erase([[dot]], [(50.0, 50.0)], 5.0) == []


@pytest.mark.parametrize("dot", [(44.9, 50.0), (55.1, 50.0), (50.0, 44.9), (50.0, 55.1), (46.4, 46.4)])
def test_a_dot_just_outside_is_kept_as_the_same_object(dot):
    stroke = [dot]
    out = erase([stroke], [(50.0, 50.0)], 5.0)
    assert len(out) == 1 and out[0] is stroke


def test_no_path_or_no_radius_erases_nothing_and_drops_empty_strokes():
    a, b = [(50.0, 50.0)], [(0.0, 0.0), (100.0, 0.0)]
    for path, radius in (([], 5.0), ([(50.0, 50.0)], 0.0), ([(50.0, 50.0)], -1.0)):
        out = erase([a, [], b], path, radius)
        assert len(out) == 2 and out[0] is a and out[1] is b


def test_a_stroke_after_an_untouched_one_is_still_cut():
    far, near, after = [(0.0, 80.0), (10.0, 80.0)], [(0.0, 0.0), (100.0, 0.0)], [(200.0, 200.0), (210.0, 200.0)]
    out = erase([far, near, after], [(50.0, -10.0), (50.0, 10.0)], 5.0)
    assert out[0] is far and out[-1] is after
    assert [len(p) for p in out] == [2, 2, 2, 2]
    assert out[1] == [(0.0, 0.0), (45.0, 0.0)] and out[2][1] == (100.0, 0.0)
    assert out[2][0] == pytest.approx((55.0, 0.0))


def test_a_stroke_along_the_eraser_edge_is_erased_on_both_sides():
    # The capsule around (0, 0)→(100, 0) with r = 5 includes the lines y = ±5.
    for y in (5.0, -5.0):
        assert erase([[(20.0, y), (80.0, y)]], [(0.0, 0.0), (100.0, 0.0)], 5.0) == []
    outside = [(20.0, 5.01), (80.0, 5.01)]
    assert erase([outside], [(0.0, 0.0), (100.0, 0.0)], 5.0)[0] is outside


def test_a_stroke_that_only_touches_the_eraser_is_not_cut():
    tangent = [(0.0, 5.0), (100.0, 5.0)]  # touches the dab at (50, 5)
    out = erase([tangent], [(50.0, 0.0)], 5.0)
    assert len(out) == 1 and out[0] is tangent
    assert segment_capsule_interval((0.0, 5.0), (100.0, 5.0), (50.0, 0.0), (50.0, 0.0), 5.0) is None


def test_a_tiny_segment_inside_the_eraser_goes():
    # Too short to count as a piece on its own, but wholly under the eraser.
    assert erase([[(-0.005, 4.0), (0.005, 4.0)]], [(0.0, 0.0)], 5.0) == []


def test_pieces_end_exactly_on_the_strokes_own_points():
    # 0.2 + (0.9 − 0.2) is 0.9000000000000001 in floating point: the kept end is the point itself.
    out = erase([[(0.2, 0.0), (0.9, 0.0)]], [(0.2, 0.0)], 0.05, min_piece=0.0)
    assert len(out) == 1 and out[0][-1] == (0.9, 0.0)


def test_empty_strokes_are_dropped_and_the_rest_still_erased():
    out = erase([[], [(0.0, 0.0), (100.0, 0.0)], [], [(50.0, 0.0)]], [(50.0, 0.0)], 5.0)
    assert len(out) == 2 and out[0][0] == (0.0, 0.0) and out[1][0] == pytest.approx((55.0, 0.0))


def test_a_segment_erased_from_a_vertex_on_the_edge_keeps_the_piece_before_it():
    # The vertex (10, 0) is exactly on the dab's edge: the first segment is untouched,
    # the second wholly erased, and the first survives as a piece of its own.
    assert erase([[(0.0, 0.0), (10.0, 0.0), (20.0, 0.0)]], [(15.0, 0.0)], 5.0) == [[(0.0, 0.0), (10.0, 0.0)]]


def test_a_segment_starting_on_the_edge_and_cut_again_further_on():
    # The first segment goes (its end on the edge of the first capsule); the second
    # starts there untouched and crosses the eraser's last capsule at y ∈ [16, 24].
    out = erase([[(0.0, 0.0), (10.0, 0.0), (10.0, 30.0)]],
                [(2.0, 0.0), (6.0, 0.0), (0.0, 20.0), (20.0, 20.0)], 4.0)
    assert out == [[(10.0, 0.0), (10.0, 16.0)], [(10.0, 24.0), (10.0, 30.0)]]


def test_a_cut_ending_exactly_on_a_corner_leaves_the_next_segment_whole():
    # The capsule (2, 0)→(6, 0), r = 4, covers x ∈ [−2, 10] on y = 0: the first
    # segment goes entirely, and the corner (10, 0) lies on the eraser's edge.
    out = erase([[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]], [(2.0, 0.0), (6.0, 0.0)], 4.0)
    assert out == [[(10.0, 0.0), (10.0, 10.0)]]


def test_pieces_shorter_than_the_minimum_are_dropped_at_the_limit():
    # Cut at x ∈ [1, 9]: pieces of length 1 on both sides.
    stroke = [(0.0, 0.0), (10.0, 0.0)]
    assert len(erase([stroke], [(5.0, 0.0)], 4.0, min_piece=1.0)) == 2  # exactly the minimum: kept
    assert erase([stroke], [(5.0, 0.0)], 4.0, min_piece=1.0001) == []


def test_a_piece_of_one_point_is_never_kept():
    # The eraser covers the whole segment except its very end, which it touches.
    out = erase([[(0.0, 0.0), (10.0, 0.0)]], [(0.0, 0.0), (5.0, 0.0)], 5.0, min_piece=0.0)
    assert out == []


def test_subtract_intervals():
    assert _subtract([]) == [(0.0, 1.0)]
    assert _subtract([(0.2, 0.4), (0.6, 0.7)]) == [(0.0, 0.2), (0.4, 0.6), (0.7, 1.0)]
    assert _subtract([(0.5, 0.8), (0.0, 0.3)]) == [(0.3, 0.5), (0.8, 1.0)]  # order does not matter
    assert _subtract([(0.0, 1.0), (0.2, 0.3)]) == []
    assert _subtract([(0.2, 0.5), (0.3, 0.4)]) == [(0.0, 0.2), (0.5, 1.0)]  # nested
    assert _subtract([(0.1, 0.3), (0.3, 0.6)]) == [(0.0, 0.1), (0.6, 1.0)]  # touching


def test_the_capsule_interval_is_clipped_to_the_segment():
    assert segment_capsule_interval((0.0, 0.0), (10.0, 0.0), (5.0, 0.0), (5.0, 0.0), 2.0) == (0.3, 0.7)
    assert segment_capsule_interval((0.0, 0.0), (10.0, 0.0), (0.0, 0.0), (0.0, 0.0), 2.0) == (0.0, 0.2)
    assert segment_capsule_interval((0.0, 0.0), (10.0, 0.0), (10.0, 0.0), (20.0, 0.0), 2.0) == (0.8, 1.0)
    assert segment_capsule_interval((0.0, 0.0), (10.0, 0.0), (-5.0, 1.0), (15.0, 1.0), 2.0) == (0.0, 1.0)
    assert segment_capsule_interval((0.0, 0.0), (10.0, 0.0), (5.0, 3.0), (5.0, 3.0), 2.0) is None
