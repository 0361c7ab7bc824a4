"""Random and hostile strokes: no crash, no hang, a sensible result or none.

Sizes stay bounded (at most a few thousand points per example, one 100,000-point
stroke per dedicated test), so a hang shows up as a test that never ends rather
than through a timing assertion.
"""

import json
import math
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lenet_gui.core import preprocess
from lenet_gui.core.drawing import Drawing, load_drawing
from lenet_gui.core.errors import DrawingError
from lenet_gui.core.session import ModelSession

FUZZ = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=1)
def session() -> ModelSession:
    # Not a fixture: hypothesis runs many examples per test function.
    return ModelSession(provider="cpu")


# --- strategies --------------------------------------------------------------------

# On the paper, a little off it, and every kind of garbage a float can be.
coordinate = st.one_of(
    st.floats(-20, 300),
    st.floats(-20, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e9, -1e9, 999_999_999.0, 1e15, -1e300, 1e308, 1e-150]),
    st.integers(-(2**63), 2**63),
)
point = st.tuples(coordinate, coordinate)
stroke = st.lists(point, max_size=40)  # includes empty and one-point strokes
strokes = st.lists(stroke, max_size=6)

# A plausible pen path: a random walk, sometimes with bad points mixed in.
walk = st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30)), min_size=1, max_size=300).map(
    lambda steps: [tuple(p) for p in (np.array([140.0, 140.0]) + np.cumsum(np.array(steps), axis=0)).tolist()]
)


def check_field(img, field=28):
    assert img is not None, "a drawing with ink gave no field"
    assert img.shape == (field, field) and img.dtype == np.float32
    assert np.isfinite(img).all()
    assert img.min() >= 0.0 and img.max() <= 1.0


def check_prepared(prepared, spec=preprocess.LENET5_SPEC):
    assert prepared is not None, "a drawing with ink gave no network input"
    check_field(prepared.field, spec.field)
    assert prepared.network_view.shape == (spec.height, spec.width)
    assert np.isfinite(prepared.network_view).all()
    assert 0.0 <= prepared.network_view.min() and prepared.network_view.max() <= 1.0
    assert prepared.tensor.shape == spec.tensor_shape(1) and prepared.tensor.dtype == np.float32
    assert np.isfinite(prepared.tensor).all()


def check_result(result):
    assert result is not None, "a drawing with ink gave no prediction"
    check_prepared(result.prepared)
    assert 0 <= result.digit < 10
    assert np.isfinite(result.probabilities).all() and math.isclose(result.probabilities.sum(), 1.0, rel_tol=1e-4)
    assert all(np.isfinite(a).all() for a in result.activations.values())


def has_usable_point(strokes_):
    return any(
        all(isinstance(v, (int, float)) and math.isfinite(v) and abs(v) < preprocess.MAX_COORDINATE for v in p)
        for s in strokes_
        for p in s
    )


# --- rendering and prediction ---------------------------------------------------------


@FUZZ
@given(strokes)
@example([])
@example([[]])
@example([[(100.0, 100.0)]])
@example([[(math.nan, 1.0), (math.inf, -math.inf)]])
@example([[(-1e9 + 1, 0.0), (1e9 - 1, 0.0)], [(0.0, 0.0)]])
def test_render_strokes_never_fails(strokes_):
    img = preprocess.render_strokes(strokes_)
    if has_usable_point(strokes_):
        check_field(img)  # any usable point is ink: at least a dot
    else:
        assert img is None  # nothing drawable is no prediction, never a made-up digit


@FUZZ
@given(strokes, st.floats(1, 5000), st.floats(1, 5000), st.none() | st.floats(0.5, 100))
def test_prepare_drawing_never_fails(strokes_, width, height, pen):
    prepared = preprocess.prepare_drawing(Drawing(width, height, strokes_, pen))
    if has_usable_point(strokes_):
        check_prepared(prepared)
    else:
        assert prepared is None


@FEW
@given(st.lists(walk, min_size=1, max_size=4), st.lists(point, max_size=5))
def test_predict_drawing_on_walks_with_garbage(walks, garbage):
    drawing = Drawing(280, 280, walks + [garbage])
    check_result(session().predict_drawing(drawing))  # the walks are real ink: never None


@FEW
@given(strokes)
def test_predict_drawing_never_fails(strokes_):
    result = session().predict_drawing(Drawing(280, 280, strokes_))
    if has_usable_point(strokes_):
        check_result(result)
    else:
        assert result is None


@pytest.mark.parametrize("other", [(1e-310, 5e-324), (1e-310, 0.0), (5e-324, 5e-324)])
def test_a_mark_too_small_to_scale(other):
    # A .strokes.json file can hold such numbers; the mark is too small to have an
    # extent, so it reads as a dot in the middle, like a single point.
    img = preprocess.render_strokes([[(0.0, 0.0), other]])
    check_field(img)
    assert np.allclose(img, preprocess.render_strokes([[(0.0, 0.0)]]))


# --- 100,000-point strokes -------------------------------------------------------------

N = 100_000


def long_strokes():
    rng = np.random.default_rng(7)
    t = np.linspace(0, 40 * math.pi, N)
    walk_ = 140 + np.cumsum(rng.normal(0, 0.7, size=(N, 2)), axis=0)
    with_nan = walk_.copy()
    with_nan[::3] = np.nan
    return {
        "random walk": walk_,
        "resting hand (one spot)": np.full((N, 2), 123.5),
        "spiral": np.stack([140 + 100 * np.cos(t) * t / t[-1], 140 + 100 * np.sin(t) * t / t[-1]], axis=1),
        # Long jumps across the page: the most pieces to rasterise.
        "zigzag": np.stack([np.where(np.arange(N) % 2, 0.0, 280.0), np.linspace(0, 280, N)], axis=1),
        "every third point NaN": with_nan,
        "a few points far away": np.concatenate([walk_[:-3], [[1e8, 1e8], [-1e8, 0.0], [0.0, 1e300]]]),
    }


@pytest.mark.parametrize("name", list(long_strokes()))
def test_100000_point_stroke(name):
    pts = long_strokes()[name]
    as_list = [tuple(p) for p in pts.tolist()]
    drawing = Drawing(280, 280, [as_list])
    result = session().predict_drawing(drawing)  # render_strokes inside; check_result checks its field
    check_result(result)  # every one of these has ink: never None
    assert drawing.point_count() == N  # the drawing itself is never trimmed


def test_100000_point_stroke_survives_the_file_format(tmp_path):
    pts = long_strokes()["random walk"]
    path = tmp_path / "long.strokes.json"
    path.write_text(json.dumps({"version": 1, "width": 280, "height": 280, "strokes": [pts.round(2).tolist()]}))
    drawing = load_drawing(path)
    assert drawing.point_count() == N
    check_result(session().predict_drawing(drawing))


# --- the file format -------------------------------------------------------------------

BASE = Drawing(280, 280, [[(60.5, 40.0), (62.0, 80.25), (64.0, 200.0)], [(100.0, 100.0)], []], 16.0).to_json()

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
# Tokens a broken writer or a hostile file could put anywhere.
nasty = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e999", "-0", "true", "null", '"x"', "[]", "{}", "[[", "]]", ",", ":", "\x00",
     "\ufeff", "\\u0000", "9" * 40, "1" + "0" * 300]
)


def mutate(text: str, data) -> str:
    """Apply a few random edits: delete, insert, replace, truncate, duplicate."""
    for _ in range(data.draw(st.integers(1, 4))):
        n = len(text)
        i = data.draw(st.integers(0, n))
        j = data.draw(st.integers(i, min(n, i + 12)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
        filler = data.draw(nasty | st.text(max_size=4))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + filler + text[i:]
        elif op == "replace":
            text = text[:i] + filler + text[j:]
        elif op == "truncate":
            text = text[:i]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


def check_loaded(drawing):
    assert drawing.width > 0 and drawing.height > 0
    assert all(math.isfinite(v) for s in drawing.strokes for p in s for v in p)
    prepared = preprocess.prepare_drawing(drawing)
    if has_usable_point(drawing.strokes):
        check_prepared(prepared)
    else:
        assert prepared is None
    # What loads also saves, to the format's precision: coordinates are written to 0.001 px.
    again = Drawing.from_json(drawing.to_json()).strokes
    assert [len(s) for s in again] == [len(s) for s in drawing.strokes]
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0005)
               for s, t in zip(again, drawing.strokes) for p, q in zip(s, t) for a, b in zip(p, q))


@FUZZ
@given(st.data())
def test_from_json_on_mutated_files(data):
    text = mutate(BASE, data)
    try:
        drawing = Drawing.from_json(text.encode("utf-8", "surrogatepass") if data.draw(st.booleans()) else text)
    except DrawingError as exc:
        assert str(exc) and "\n" not in str(exc)  # one line, fit for the status bar
        return
    check_loaded(drawing)


@FUZZ
@given(json_value)
@example({"width": 280, "height": 280, "strokes": [[[1, 2], [True, 3]]]})
@example({"width": 280, "height": 280, "strokes": [[[1, 2, 3]]]})
@example({"width": 280, "height": 280, "strokes": [[["1", 2]]]})
@example({"version": 2, "width": 280, "height": 280, "strokes": []})
def test_from_dict_on_any_json_value(value):
    try:
        drawing = Drawing.from_dict(value)
    except DrawingError:
        return
    check_loaded(drawing)


@pytest.mark.parametrize("field", ["point", "width", "pen_width"])
def test_an_integer_too_large_for_a_float_is_a_drawing_error(field):
    big = "1" + "0" * 400
    values = {"point": ("280", f"[[[{big}, 1]]]", "null"), "width": (big, "[]", "null"), "pen_width": ("280", "[]", big)}
    width, strokes_, pen = values[field]
    with pytest.raises(DrawingError):
        Drawing.from_json(f'{{"width": {width}, "height": 280, "pen_width": {pen}, "strokes": {strokes_}}}')
