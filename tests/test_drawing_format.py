"""The .strokes.json format to the letter: every check on both sides, every message whole."""

import json
import math
import os

import pytest

from lenet_gui.core import drawing as D
from lenet_gui.core.drawing import Drawing
from lenet_gui.core.errors import DrawingError


def load(text, source="d.strokes.json"):
    return Drawing.from_json(text, source=source)


def error(text, source="d.strokes.json") -> str:
    with pytest.raises(DrawingError) as caught:
        load(text, source)
    return str(caught.value)


def doc(**fields) -> str:
    data = {"version": 1, "width": 280, "height": 200, "strokes": []}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...})


# --- the pen and the drawing itself -----------------------------------------------------


@pytest.mark.parametrize(("w", "h", "pen"), [(280, 280, 280 / 18), (360, 180, 10.0), (10, 400, 1.0), (18, 18, 1.0),
                                             (17, 100, 1.0)])
def test_default_pen_is_an_eighteenth_of_the_shorter_side_and_at_least_one(w, h, pen):
    assert D.default_pen_width(w, h) == pytest.approx(pen)


def test_effective_pen_width_counts_and_copies():
    d = Drawing(360, 180, [[(1, 2), (3, 4)], [], [(5, 6)]])
    assert d.effective_pen_width == pytest.approx(10.0)
    assert Drawing(360, 180, [], pen_width=3.5).effective_pen_width == 3.5
    assert d.point_count() == 3 and not d.is_empty()
    assert Drawing(280, 280, [[], []]).is_empty() and Drawing().is_empty()
    assert (Drawing().width, Drawing().height, Drawing().strokes, Drawing().pen_width) == (280.0, 280.0, [], None)
    twin = d.copy()
    assert twin == d and twin.strokes is not d.strokes and twin.strokes[0] is not d.strokes[0]
    twin.strokes[0].append((7, 8))
    assert d.point_count() == 3  # the copy is deep enough to edit
    assert Drawing(1, 2, [], 4).copy().pen_width == 4


def test_json_is_compact_and_numbers_plain():
    d = Drawing(280.0, 200.5, [[(1.0, 2.123456), (3.5, -4.0)]], pen_width=12.0)
    assert d.to_json() == ('{"version":1,"width":280,"height":200.5,'
                           '"strokes":[[[1,2.123],[3.5,-4]]],"pen_width":12}')
    assert isinstance(d.to_dict()["width"], int)


@pytest.mark.parametrize(("value", "plain"), [
    (3.0, 3), (-2.0, -2), (2.0004, 2.0), (2.0006, 2.001), (0.5, 0.5),
    (2.0 ** 53, 2.0 ** 53), (2.0 ** 53 - 1, 2 ** 53 - 1), (-(2.0 ** 53), -(2.0 ** 53)),
])
def test_plain_numbers(value, plain):
    out = D._plain_number(value)
    assert out == plain and type(out) is type(plain)


# --- reading: structure --------------------------------------------------------------------


def test_a_valid_file_reads_back_exactly():
    d = load(doc(strokes=[[[1, 2.5], [3, 4]], [], [[5, 6]]], pen_width=7))
    assert d == Drawing(280.0, 200.0, [[(1.0, 2.5), (3.0, 4.0)], [], [(5.0, 6.0)]], 7.0)
    assert all(type(v) is float for s in d.strokes for p in s for v in p)
    assert type(d.width) is float and type(d.pen_width) is float
    assert load(json.dumps({"width": 3, "height": 4, "strokes": []})).width == 3.0  # version may be left out


@pytest.mark.parametrize(("value", "words"), [
    ([], "a list"), ("x", "a string"), (True, "a boolean"), (None, "null"), (3, "a number"), (2.5, "a number"),
])
def test_not_an_object(value, words):
    assert error(json.dumps(value)) == f"d.strokes.json: expected a JSON object with 'strokes', found {words}"


@pytest.mark.parametrize("version", [2, 0, "1", True, 1.5])
def test_versions_other_than_1(version):
    assert error(doc(version=version)) == (
        f"d.strokes.json: unsupported drawing format version {version!r} (this app reads version 1)")


def test_messages_without_a_source_name_the_drawing():
    with pytest.raises(DrawingError) as caught:
        Drawing.from_json("[]")
    assert str(caught.value) == "drawing: expected a JSON object with 'strokes', found a list"
    with pytest.raises(DrawingError) as caught:
        Drawing.from_dict({"width": 0})
    assert str(caught.value) == "drawing: 'width' must be a positive number, found 0"


def test_version_1_as_a_float_is_version_1():
    assert load(doc(version=1.0)).width == 280.0


@pytest.mark.parametrize("name", ["width", "height", "pen_width"])
@pytest.mark.parametrize("bad", [0, -1, "10", True, None, float("inf"), [], 10 ** 400])
def test_sizes_must_be_positive_numbers(name, bad):
    if name == "pen_width" and bad is None:
        return  # no pen is the app's pen
    text = doc(**{name: 1}).replace(f'"{name}": 1', f'"{name}": {json.dumps(bad) if bad != float("inf") else "1e999"}')
    if bad == 10 ** 400:
        text = doc(**{name: 1}).replace(f'"{name}": 1', f'"{name}": 1{"0" * 400}')
    message = error(text)
    assert message.startswith(f"d.strokes.json: '{name}' must be a positive number, found ")


def test_the_smallest_positive_size_is_fine_and_the_message_is_short():
    assert load(doc(width=1e-300)).width == 1e-300
    message = error(doc(width="x" * 100))
    assert message == f"d.strokes.json: 'width' must be a positive number, found {'x' * 100!r:.40}"
    assert len(message) < 100


@pytest.mark.parametrize(("strokes", "words"), [(None, "null"), ("a", "a string"), ({}, "an object"), (3, "a number")])
def test_strokes_must_be_a_list(strokes, words):
    assert error(doc(strokes=strokes)) == f"d.strokes.json: 'strokes' must be a list of strokes, found {words}"
    assert error(doc(strokes=...)) == "d.strokes.json: 'strokes' must be a list of strokes, found null"


@pytest.mark.parametrize(("stroke", "words"), [(5, "a number"), ("ab", "a string"), ({"x": 1}, "an object"),
                                               (None, "null"), (False, "a boolean")])
def test_each_stroke_must_be_a_list(stroke, words):
    assert error(doc(strokes=[[[1, 1]], stroke])) == (
        f"d.strokes.json: stroke 1 must be a list of [x, y] points, found {words}")


@pytest.mark.parametrize("point", [[1], [1, 2, 3], [1, "2"], [True, 2], [1, None], "12", 7, {"x": 1, "y": 2}])
def test_each_point_must_be_two_numbers(point):
    message = error(doc(strokes=[[[0, 0], [1, 1]], [[2, 2], [3, 3], point]]))
    assert message == f"d.strokes.json: point 2 of stroke 1 must be [x, y] with two numbers, found {point!r:.60}"


def test_a_long_bad_point_is_cut_short_in_the_message():
    point = ["x" * 200, 1]
    assert error(doc(strokes=[[point]])).endswith(f"found {point!r:.60}")


@pytest.mark.parametrize("coordinate", ["1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 400])
def test_coordinates_must_be_finite(coordinate):
    text = doc(strokes=[[[1, 1], [2, 2]], [[0, 0]]]).replace("[[0, 0]]", f"[[0, {coordinate}]]")
    assert error(text) == "d.strokes.json: point 0 of stroke 1 is not a finite number"


def test_fast_and_checked_readers_agree():
    raw = [[1, 2], [3.5, -4]]
    assert D._fast_stroke(raw) == [(1.0, 2.0), (3.5, -4.0)] == D._checked_stroke(raw, 0, "x")
    assert D._fast_stroke([]) == []
    for odd in ([(1, 2)], [[1, 2], [3]], [[1, True]], [[1, "2"]], "12", [[1, 10 ** 400]], [[1, math.inf]]):
        assert D._fast_stroke(odd) is None, odd
    assert D._checked_stroke([(1, 2)], 0, "x") == [(1.0, 2.0)]  # tuples pass the careful reader


@pytest.mark.parametrize(("text", "message"), [
    ("", "d.strokes.json: not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    ("{", "d.strokes.json: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    (b"\xff\xfe\x00", "d.strokes.json: not valid JSON ("),
    ("[" * 100_000, "d.strokes.json: JSON nested too deeply"),
])
def test_json_errors(text, message):
    got = error(text)
    assert got.startswith(message) and "\n" not in got
    assert len(got) <= len("d.strokes.json: not valid JSON ()") + 120


def test_short_keeps_the_first_line_up_to_120_characters():
    assert D._short(ValueError("a\nb")) == "a"
    assert D._short(ValueError("y" * 300)) == "y" * 120


# --- files -------------------------------------------------------------------------------


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "d.strokes.json"
    path.write_text("old")
    D.save_drawing(Drawing(10, 20, [[(1, 2)]]), path)
    assert json.loads(path.read_text(encoding="utf-8"))["strokes"] == [[[1, 2]]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.strokes.json"]
    assert D.load_drawing(str(path)) == Drawing(10.0, 20.0, [[(1.0, 2.0)]])


def test_file_errors_name_the_file(tmp_path, monkeypatch):
    with pytest.raises(DrawingError) as caught:
        D.load_drawing(tmp_path / "missing.strokes.json")
    assert str(caught.value) == f"Drawing file not found: {tmp_path / 'missing.strokes.json'}"
    with pytest.raises(DrawingError) as caught:
        D.load_drawing(tmp_path)
    assert str(caught.value) == f"{tmp_path} is a folder, not a drawing file"
    bad = tmp_path / "bad.strokes.json"
    bad.write_text("[1]")
    with pytest.raises(DrawingError) as caught:
        D.load_drawing(bad)
    assert str(caught.value).startswith("bad.strokes.json: expected a JSON object")
    locked = tmp_path / "locked.strokes.json"
    locked.write_text("{}")

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(locked), "read_bytes", refuse)
    with pytest.raises(DrawingError) as caught:
        D.load_drawing(locked)
    assert str(caught.value) == f"Cannot read drawing file {locked}: Permission denied"


def test_the_size_limit_on_both_sides(tmp_path, monkeypatch):
    path = tmp_path / "big.strokes.json"
    text = doc()
    path.write_text(text)
    monkeypatch.setattr(D, "MAX_FILE_BYTES", len(text))
    assert D.load_drawing(path).width == 280.0  # exactly at the limit
    monkeypatch.setattr(D, "MAX_FILE_BYTES", len(text) - 1)
    with pytest.raises(DrawingError) as caught:
        D.load_drawing(path)
    assert str(caught.value) == "big.strokes.json: drawing file is too large (0 MB)"
    monkeypatch.setattr(D, "MAX_FILE_BYTES", 1_000)
    path.write_text(" " * (3_000_000 - len(text)) + text)  # exactly 3,000,000 bytes: "3 MB"
    assert os.path.getsize(path) == 3_000_000
    with pytest.raises(DrawingError) as caught:
        D.load_drawing(path)
    assert str(caught.value) == "big.strokes.json: drawing file is too large (3 MB)"


@pytest.mark.parametrize(("name", "is_drawing"), [
    ("a.strokes.json", True), ("A.STROKES.JSON", True), ("a.json", True), ("a.JSON", True),
    ("a.png", False), ("a.json.png", False), ("strokes", False),
])
def test_which_files_are_drawings(name, is_drawing):
    assert D.is_drawing_file(name) is is_drawing
