import json

import pytest

from lenet_gui.core.drawing import Drawing, default_pen_width, load_drawing, save_drawing
from lenet_gui.core.errors import DrawingError


def test_round_trip_keeps_every_point(tmp_path):
    d = Drawing(320, 240, [[(1.5, 2.25), (3, 4)], [(10, 10)]], pen_width=12)
    path = tmp_path / "d.strokes.json"
    save_drawing(d, path)
    back = load_drawing(path)
    assert back == d
    data = json.loads(path.read_text())
    assert data == {"version": 1, "width": 320, "height": 240, "strokes": [[[1.5, 2.25], [3, 4]], [[10, 10]]], "pen_width": 12}


def test_pen_width_is_optional_and_defaults_to_the_apps_pen():
    d = Drawing.from_json('{"version": 1, "width": 280, "height": 280, "strokes": []}')
    assert d.pen_width is None
    assert d.effective_pen_width == pytest.approx(default_pen_width(280, 280))
    assert "pen_width" not in d.to_dict()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"version": 2, "width": 1, "height": 1, "strokes": []}', "version 2"),
        ('{"version": 1, "width": -3, "height": 1, "strokes": []}', "'width' must be a positive number"),
        ('{"version": 1, "width": "wide", "height": 1, "strokes": []}', "'width'"),
        ('{"version": 1, "width": 10, "height": 10}', "'strokes' must be a list"),
        ('{"version": 1, "width": 10, "height": 10, "strokes": {}}', "'strokes' must be a list"),
        ('{"version": 1, "width": 10, "height": 10, "strokes": [5]}', "stroke 0"),
        ('{"version": 1, "width": 10, "height": 10, "strokes": [[[1]]]}', "point 0 of stroke 0"),
        ('{"version": 1, "width": 10, "height": 10, "strokes": [[[1, "a"]]]}', "point 0 of stroke 0"),
        ('{"version": 1, "width": 10, "height": 10, "strokes": [[[1, true]]]}', "point 0 of stroke 0"),
        ('{"version": 1, "width": 10, "height": 10, "strokes": [[[1, 1e999]]]}', "not a finite number"),
        ('{"version": 1, "width": 10, "height": 10, "strokes": [], "pen_width": 0}', "pen_width"),
        ("[" * 100000, "JSON"),
    ],
)
def test_malformed_drawings_give_one_clear_line(text, fragment):
    with pytest.raises(DrawingError) as err:
        Drawing.from_json(text, source="x.strokes.json")
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message and message.startswith("x.strokes.json")


def test_unreadable_files(tmp_path):
    with pytest.raises(DrawingError, match="not found"):
        load_drawing(tmp_path / "missing.strokes.json")
    with pytest.raises(DrawingError, match="folder"):
        load_drawing(tmp_path)
    binary = tmp_path / "bin.strokes.json"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(DrawingError, match="not valid JSON"):
        load_drawing(binary)
