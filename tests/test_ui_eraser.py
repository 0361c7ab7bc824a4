"""The vector eraser (lenet_gui.core.eraser): exact cuts, nothing else touched."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from lenet_gui.core.eraser import erase, segment_capsule_interval


def _distance_to_segment(p, a, b):
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


def _distance_to_path(p, path):
    if len(path) == 1:
        return math.dist(p, path[0])
    return min(_distance_to_segment(p, a, b) for a, b in zip(path, path[1:]))


def test_a_crossing_splits_the_stroke_at_the_eraser_edge():
    pieces = erase([[(0.0, 0.0), (100.0, 0.0)]], [(50.0, -20.0), (50.0, 20.0)], 5.0)
    assert len(pieces) == 2
    (a0, a1), (b0, b1) = pieces
    assert a0 == (0.0, 0.0) and b1 == (100.0, 0.0)
    assert math.isclose(a1[0], 45.0) and math.isclose(b0[0], 55.0)


def test_strokes_away_from_the_eraser_come_back_unchanged():
    far = [(0.0, 50.0), (10.0, 52.0), (20.0, 50.0)]
    pieces = erase([far, [(0.0, 0.0), (100.0, 0.0)]], [(50.0, -5.0), (50.0, 5.0)], 3.0)
    assert pieces[0] == far


def test_erasing_along_a_stroke_keeps_its_ends():
    stroke = [(float(x), 0.0) for x in range(0, 101, 10)]
    pieces = erase([stroke], [(30.0, 0.0), (70.0, 0.0)], 5.0)
    assert [p[0] for p in pieces] == [(0.0, 0.0), (75.0, 0.0)]
    assert [p[-1] for p in pieces] == [(25.0, 0.0), (100.0, 0.0)]


def test_a_dot_is_removed_only_when_covered():
    assert erase([[(10.0, 10.0)]], [(12.0, 10.0)], 3.0) == []
    assert erase([[(10.0, 10.0)]], [(20.0, 10.0)], 3.0) == [[(10.0, 10.0)]]


def test_the_whole_stroke_under_the_eraser_goes():
    assert erase([[(0.0, 0.0), (4.0, 0.0)]], [(2.0, 0.0)], 10.0) == []


def test_capsule_interval_of_a_parallel_segment():
    assert segment_capsule_interval((0, 1), (10, 1), (2, 0), (4, 0), 2.0) is not None
    assert segment_capsule_interval((0, 5), (10, 5), (2, 0), (4, 0), 2.0) is None


coordinate = st.floats(min_value=-50, max_value=150, allow_nan=False)
point = st.tuples(coordinate, coordinate)


@settings(max_examples=150, deadline=None)
@given(
    strokes=st.lists(st.lists(point, min_size=1, max_size=8), min_size=1, max_size=4),
    path=st.lists(point, min_size=1, max_size=4),
    radius=st.floats(min_value=0.5, max_value=30),
)
def test_nothing_left_under_the_eraser_and_nothing_lost_outside(strokes, path, radius):
    pieces = erase(strokes, path, radius, min_piece=0.0)
    # Nothing that is left lies inside the eraser (up to rounding).
    for piece in pieces:
        for a, b in zip(piece, piece[1:]) if len(piece) > 1 else [(piece[0], piece[0])]:
            for t in (0.0, 0.25, 0.5, 0.75, 1.0):
                p = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
                assert _distance_to_path(p, path) >= radius - 1e-6
    # Every original point clearly outside the eraser is still part of the drawing.
    for stroke in strokes:
        for p in stroke:
            if _distance_to_path(p, path) > radius + 1e-6:
                kept = [q for piece in pieces for q in (piece if len(piece) == 1 else [])]
                near = min(
                    [math.dist(p, q) for q in kept]
                    + [_distance_to_segment(p, a, b) for piece in pieces for a, b in zip(piece, piece[1:])]
                )
                assert near < 1e-6
