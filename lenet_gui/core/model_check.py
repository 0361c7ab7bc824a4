"""Checks on what a model file says about itself, before any of it is used.

A model file is untrusted input: its ``metadata_props`` decide how large the
input image is, how the digit is scaled into it and how values are
normalised. Each value is checked against a sane range here, and a bad one is
named in the message (``digit_box is 1e+09; it must be a whole number of
pixels from 1 to 2048``), so the user knows which entry of which file is wrong.

Both the window and the command line go through these functions, by way of
``ModelSession``.
"""

from __future__ import annotations

import json
import math

from lenet_gui.core.errors import ModelError
from lenet_gui.core.preprocess import InputSpec

#: The largest input side, digit box or digit field in pixels. Real digit
#: models take 28–64 pixels; 2048 still fits in memory and prepares in about a second.
MAX_SIDE = 2048
#: The largest fixed batch size a model may ask for (each run fills it).
MAX_BATCH = 4096
#: More classes than this is not a digit (or character) classifier.
MAX_CLASSES = 100_000
MAX_LABEL_CHARS = 200
MAX_LABELS_TEXT = 1_000_000  # characters of class_labels read at all
#: Normalisation and pixel scale: outside these the input is all zeros or
#: overflows float32 in the first layer, and the model returns NaN.
STD_RANGE = (1e-3, 1e6)
MEAN_LIMIT = 1e6
PIXEL_SCALE_RANGE = (1e-3, 1e6)


def _describe(value: str) -> str:
    text = value if len(value) <= 40 else value[:37] + "…"
    return repr(text)


def read_number(meta: dict[str, str], key: str, name: str) -> float | None:
    """A finite number from the metadata, None when the key is absent."""
    if key not in meta:
        return None
    raw = meta[key]
    try:
        value = float(raw)
    except ValueError:
        raise ModelError(f"{name}: the metadata entry {key} is {_describe(raw)}, which is not a number") from None
    if not math.isfinite(value):
        raise ModelError(f"{name}: the metadata entry {key} is {raw.strip()}; it must be a finite number")
    return value


def _check_range(value: float, key: str, low: float, high: float, name: str, what: str = "") -> None:
    if not low <= value <= high:
        raise ModelError(f"{name}: the metadata entry {key} is {value:g}; "
                         f"it must be {what or 'a number'} from {low:g} to {high:g}")


def _check_pixels(value: float, key: str, name: str) -> None:
    if value != int(value) or not 1 <= value <= MAX_SIDE:
        raise ModelError(f"{name}: the metadata entry {key} is {value:g}; "
                         f"it must be a whole number of pixels from 1 to {MAX_SIDE}")


def check_metadata(meta: dict[str, str], name: str) -> None:
    """Every numeric metadata entry the app reads, checked before it is used."""
    if "input_size" in meta:
        parse_input_size(meta["input_size"], name)
    for key in ("digit_box", "digit_field"):
        value = read_number(meta, key, name)
        if value is not None:
            _check_pixels(value, key, name)
    std = read_number(meta, "normalize_std", name)
    if std is not None:
        _check_range(std, "normalize_std", *STD_RANGE, name, "a positive number")
    mean = read_number(meta, "normalize_mean", name)
    if mean is not None:
        _check_range(mean, "normalize_mean", -MEAN_LIMIT, MEAN_LIMIT, name)
    scale = read_number(meta, "pixel_scale", name)
    if scale is not None:
        _check_range(scale, "pixel_scale", *PIXEL_SCALE_RANGE, name, "a positive number")


def parse_input_size(text: str, name: str) -> tuple[int, int]:
    """``"32x32"`` → (32, 32), each side from 1 to MAX_SIDE."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        sides = [float(p) for p in parts]
    except ValueError:
        sides = []
    if len(sides) != 2 or not all(math.isfinite(s) and s == int(s) for s in sides):
        raise ModelError(f"{name}: the metadata entry input_size is {_describe(text)}; it must look like 32x32")
    for side in sides:
        if not 1 <= side <= MAX_SIDE:
            raise ModelError(
                f"{name}: the metadata entry input_size is {_describe(text)}; "
                f"each side must be from 1 to {MAX_SIDE} pixels"
            )
    return int(sides[0]), int(sides[1])


def check_spec(spec: InputSpec, name: str, source: str = "the model's input") -> None:
    """The input the app will build: its size and fixed batch stay within limits.

    ``source`` says where the size comes from, for the message.
    """
    for side, label in ((spec.height, "height"), (spec.width, "width")):
        if not 1 <= side <= MAX_SIDE:
            raise ModelError(f"{name}: {source} has a {label} of {side} pixels; at most {MAX_SIDE} are supported")
    if spec.batch is not None and not 1 <= spec.batch <= MAX_BATCH:
        raise ModelError(f"{name}: {source} has a fixed batch size of {spec.batch}; at most {MAX_BATCH} are supported")


def check_overrides(overrides: dict[str, float | None]) -> None:
    """Values given on the command line (``--mean``, ``--std``, ``--pixel-scale``)."""
    options = {"mean": ("--mean", -MEAN_LIMIT, MEAN_LIMIT), "std": ("--std", *STD_RANGE),
               "pixel_max": ("--pixel-scale", *PIXEL_SCALE_RANGE)}
    for key, (option, low, high) in options.items():
        value = overrides.get(key)
        if value is None:
            continue
        if not math.isfinite(value) or not low <= value <= high:
            raise ModelError(f"{option} is {value:g}; it must be a finite number from {low:g} to {high:g}")


def _nesting_depth(text: str, limit: int) -> int:
    """How deeply ``[``/``{`` nest in JSON text (strings skipped), stopping past ``limit``.

    json.loads recurses once per level and a file nested a few thousand deep
    raises RecursionError; this count runs first, in a loop.
    """
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def parse_labels(raw: str | None, classes: int | None, name: str) -> list[str] | None:
    """``class_labels`` from the metadata: a JSON list of strings, or comma-separated text.

    Returns None when there is none. A nested list, a label that is not text or
    number, or a count that does not match the model's output is an error.
    """
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_LABELS_TEXT:
        raise ModelError(f"{name}: class_labels is {len(raw):,} characters long; at most {MAX_LABELS_TEXT:,} are read")
    text = raw.strip()
    if text.startswith(("[", "{")):
        if _nesting_depth(text, 1) > 1:
            raise ModelError(f"{name}: class_labels must be a flat list of labels, not a nested one")
        try:
            items = json.loads(text)
        except ValueError:
            raise ModelError(f"{name}: class_labels is not valid JSON (expected a list like [\"0\", \"1\"])") from None
        if not isinstance(items, list):
            raise ModelError(f"{name}: class_labels must be a list of labels, not a JSON object")
        labels = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise ModelError(f"{name}: class_labels must hold text labels; it holds {json.dumps(item)[:40]}")
            if isinstance(item, float) and not math.isfinite(item):
                raise ModelError(f"{name}: class_labels holds {item}, which is not a label")
            labels.append(str(item))
    else:
        labels = [v.strip() for v in text.split(",")]
    too_long = next((label for label in labels if len(label) > MAX_LABEL_CHARS), None)
    if too_long is not None:
        raise ModelError(f"{name}: a class label is {len(too_long):,} characters long; at most {MAX_LABEL_CHARS}")
    if classes is not None and len(labels) != classes:
        raise ModelError(f"{name}: class_labels has {len(labels)} labels but the model outputs {classes} classes")
    return labels


def check_classes(classes: int | None, name: str) -> None:
    """The class output has at least one class (and not absurdly many)."""
    if classes is None:
        return
    if classes < 1:
        raise ModelError(f"{name}: the class output has {classes} classes; a classifier needs at least one")
    if classes > MAX_CLASSES:
        raise ModelError(f"{name}: the class output has {classes:,} classes; at most {MAX_CLASSES:,} are supported")
