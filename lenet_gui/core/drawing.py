"""A drawing as strokes, and its file format ``.strokes.json``.

The format, version 1::

    {"version": 1, "width": W, "height": H,
     "strokes": [[[x, y], ...], ...], "pen_width": P}

``width``/``height`` are the canvas size in logical pixels, x grows to the right
and y downwards. ``pen_width`` is optional; without it the app's own pen for that
canvas size is meant (``default_pen_width``). The CLI and the canvas both read and
write drawings through this module.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from lenet_gui.core.errors import DrawingError

FORMAT_VERSION = 1
SUFFIX = ".strokes.json"
# A guard against files that would take minutes to parse into Python lists.
MAX_FILE_BYTES = 64 * 1024 * 1024

Point = tuple[float, float]
Stroke = list[Point]


def default_pen_width(width: float, height: float) -> float:
    """The app's pen for a canvas of this size: about 1/18 of its shorter side.

    On a 280 px canvas that is about 16 px, close to the stroke width of an MNIST
    digit scaled up to the same box.
    """
    return max(1.0, min(width, height) / 18.0)


@dataclass
class Drawing:
    """Strokes on a canvas of ``width`` × ``height`` logical pixels."""

    width: float = 280.0
    height: float = 280.0
    strokes: list[Stroke] = field(default_factory=list)
    pen_width: float | None = None

    @property
    def effective_pen_width(self) -> float:
        return self.pen_width if self.pen_width is not None else default_pen_width(self.width, self.height)

    def is_empty(self) -> bool:
        return not any(self.strokes)

    def point_count(self) -> int:
        return sum(len(s) for s in self.strokes)

    def copy(self) -> "Drawing":
        return Drawing(self.width, self.height, [list(s) for s in self.strokes], self.pen_width)

    # --- serialisation -------------------------------------------------------
    def to_dict(self) -> dict:
        data = {
            "version": FORMAT_VERSION,
            "width": _plain_number(self.width),
            "height": _plain_number(self.height),
            "strokes": [[[_plain_number(x), _plain_number(y)] for x, y in s] for s in self.strokes],
        }
        if self.pen_width is not None:
            data["pen_width"] = _plain_number(self.pen_width)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: object, source: str = "drawing") -> "Drawing":
        """Validate a parsed ``.strokes.json`` object; DrawingError says what is wrong."""
        if not isinstance(data, dict):
            raise DrawingError(f"{source}: expected a JSON object with 'strokes', found {_json_type(data)}")
        version = data.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise DrawingError(f"{source}: unsupported drawing format version {version!r} (this app reads version 1)")
        width = _positive_number(data.get("width"), "width", source)
        height = _positive_number(data.get("height"), "height", source)
        pen = data.get("pen_width")
        pen_width = None if pen is None else _positive_number(pen, "pen_width", source)
        raw_strokes = data.get("strokes")
        if not isinstance(raw_strokes, list):
            raise DrawingError(f"{source}: 'strokes' must be a list of strokes, found {_json_type(raw_strokes)}")
        strokes: list[Stroke] = []
        for i, raw in enumerate(raw_strokes):
            stroke = _fast_stroke(raw)
            if stroke is None:
                stroke = _checked_stroke(raw, i, source)
            strokes.append(stroke)
        return cls(width, height, strokes, pen_width)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "drawing") -> "Drawing":
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DrawingError(f"{source}: not valid JSON ({_short(exc)})") from exc
        except RecursionError as exc:
            raise DrawingError(f"{source}: JSON nested too deeply") from exc
        return cls.from_dict(data, source)


_NUMBER_TYPES = {int, float}  # exact types: JSON true/false arrive as bool and are refused


def _fast_stroke(raw: object) -> Stroke | None:
    """A well-formed stroke, checked a whole stroke at a time (in C, via map/set).

    Returns None when anything is off; ``_checked_stroke`` then finds and words
    the problem. Mouse-drawn files have hundreds of points: this keeps reading
    thousands of them fast.
    """
    if type(raw) is not list:
        return None
    if not raw:
        return []
    if not set(map(type, raw)) <= {list} or set(map(len, raw)) != {2}:
        return None
    flat = list(chain.from_iterable(raw))
    if not set(map(type, flat)) <= _NUMBER_TYPES:
        return None
    try:
        values = [float(v) for v in flat]
    except OverflowError:  # an integer beyond float range
        return None
    if not all(map(math.isfinite, values)):
        return None
    return list(zip(values[0::2], values[1::2]))


def _checked_stroke(raw: object, i: int, source: str) -> Stroke:
    if not isinstance(raw, list):
        raise DrawingError(f"{source}: stroke {i} must be a list of [x, y] points, found {_json_type(raw)}")
    stroke: Stroke = []
    for j, point in enumerate(raw):
        if not isinstance(point, (list, tuple)) or len(point) != 2 or not all(_is_number(v) for v in point):
            raise DrawingError(f"{source}: point {j} of stroke {i} must be [x, y] with two numbers, found {point!r:.60}")
        try:
            x, y = float(point[0]), float(point[1])
        except OverflowError:
            x = y = math.inf
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DrawingError(f"{source}: point {j} of stroke {i} is not a finite number")
        stroke.append((x, y))
    return stroke


def load_drawing(path: str | os.PathLike) -> Drawing:
    """Read a ``.strokes.json`` file; any problem is a DrawingError with one line."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DrawingError(f"{path.name}: drawing file is too large ({size // 1_000_000} MB)")
        raw = path.read_bytes()
    except DrawingError:
        raise
    except FileNotFoundError as exc:
        raise DrawingError(f"Drawing file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise DrawingError(f"{path} is a folder, not a drawing file") from exc
    except OSError as exc:
        raise DrawingError(f"Cannot read drawing file {path}: {exc.strerror or exc}") from exc
    return Drawing.from_json(raw, source=path.name)


def save_drawing(drawing: Drawing, path: str | os.PathLike) -> None:
    """Write atomically: a crash while saving never leaves half a file behind."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(drawing.to_json(), encoding="utf-8")
    os.replace(tmp, path)


def is_drawing_file(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(SUFFIX) or str(path).lower().endswith(".json")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positive_number(v: object, name: str, source: str) -> float:
    try:
        ok = _is_number(v) and math.isfinite(float(v)) and v > 0
    except OverflowError:  # an integer beyond float range
        ok = False
    if not ok:
        raise DrawingError(f"{source}: '{name}' must be a positive number, found {v!r:.40}")
    return float(v)


def _plain_number(v: float) -> float | int:
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 2**53 else round(v, 3)


def _json_type(v: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number"
    )


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120]
