"""model_check's limits on both sides of each bound, every message in full.

No model is loaded and nothing opens a window: these are in mutmut's test selection.
(tests/test_hostile_models.py drives the same checks through the command line.)
"""

from __future__ import annotations

import pytest

from lenet_gui.core import model_check
from lenet_gui.core.errors import ModelError
from lenet_gui.core.model_check import (check_classes, check_metadata, check_overrides, check_spec,
                                        parse_input_size, parse_labels, read_number)
from lenet_gui.core.preprocess import InputSpec


def refused(call, *args) -> str:
    with pytest.raises(ModelError) as info:
        call(*args)
    return str(info.value)


# --- numbers in the metadata --------------------------------------------------------------


def test_a_number_is_read_and_an_absent_one_is_none():
    assert read_number({"digit_box": " 1e3 "}, "digit_box", "m.onnx") == 1000.0
    assert read_number({"digit_field": "20"}, "digit_box", "m.onnx") is None


def test_what_is_not_a_number_is_quoted():
    assert refused(read_number, {"k": "wide"}, "k", "m.onnx") == (
        "m.onnx: the metadata entry k is 'wide', which is not a number")


def test_a_long_value_is_cut_to_40_characters_in_the_message():
    forty, forty_one = "w" * 40, "w" * 41
    assert refused(read_number, {"k": forty}, "k", "m.onnx") == (
        f"m.onnx: the metadata entry k is '{forty}', which is not a number")
    assert refused(read_number, {"k": forty_one}, "k", "m.onnx") == (
        f"m.onnx: the metadata entry k is '{'w' * 37}…', which is not a number")


@pytest.mark.parametrize("raw, shown", [("inf", "inf"), (" -inf ", "-inf"), (" nan", "nan")])
def test_a_number_must_be_finite(raw, shown):
    assert refused(read_number, {"k": raw}, "k", "m.onnx") == (
        f"m.onnx: the metadata entry k is {shown}; it must be a finite number")


@pytest.mark.parametrize("key", ["digit_box", "digit_field"])
@pytest.mark.parametrize("value", ["1", "2048", "28.0"])
def test_pixel_counts_within_bounds_pass(key, value):
    check_metadata({key: value}, "m.onnx")


@pytest.mark.parametrize("key", ["digit_box", "digit_field"])
@pytest.mark.parametrize("value, shown", [("0", "0"), ("2049", "2049"), ("20.5", "20.5"), ("-3", "-3"),
                                          ("2048.5", "2048.5")])
def test_pixel_counts_out_of_bounds_are_named(key, value, shown):
    assert refused(check_metadata, {key: value}, "m.onnx") == (
        f"m.onnx: the metadata entry {key} is {shown}; it must be a whole number of pixels from 1 to 2048")


@pytest.mark.parametrize("key", ["digit_box", "digit_field", "normalize_std", "normalize_mean", "pixel_scale"])
def test_every_numeric_entry_must_be_a_number(key):
    assert refused(check_metadata, {key: "x"}, "m.onnx") == (
        f"m.onnx: the metadata entry {key} is 'x', which is not a number")


@pytest.mark.parametrize("meta", [
    {"normalize_std": "0.001"}, {"normalize_std": "1e6"}, {"normalize_mean": "-1e6"},
    {"normalize_mean": "1e6"}, {"normalize_mean": "0"}, {"pixel_scale": "0.001"}, {"pixel_scale": "1000000"},
    {}, {"other": "anything"},
])
def test_normalisation_on_its_bounds_passes(meta):
    check_metadata(meta, "m.onnx")


@pytest.mark.parametrize("key, value, rule", [
    ("normalize_std", "0.000999", "0.000999; it must be a positive number from 0.001 to 1e+06"),
    ("normalize_std", "1000001", "1e+06; it must be a positive number from 0.001 to 1e+06"),
    ("normalize_std", "-1", "-1; it must be a positive number from 0.001 to 1e+06"),
    ("normalize_mean", "-1000010", "-1.00001e+06; it must be a number from -1e+06 to 1e+06"),
    ("normalize_mean", "1000010", "1.00001e+06; it must be a number from -1e+06 to 1e+06"),
    ("pixel_scale", "0.000999", "0.000999; it must be a positive number from 0.001 to 1e+06"),
    ("pixel_scale", "1000010", "1.00001e+06; it must be a positive number from 0.001 to 1e+06"),
])
def test_normalisation_past_its_bounds_is_named(key, value, rule):
    assert refused(check_metadata, {key: value}, "m.onnx") == f"m.onnx: the metadata entry {key} is {rule}"


# --- input_size ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, sides", [("32x32", (32, 32)), ("28X20", (28, 20)), ("28×20", (28, 20)),
                                         ("1x2048", (1, 2048)), ("2048x1", (2048, 1)), ("1e1x8.0", (10, 8))])
def test_input_sizes(text, sides):
    got = parse_input_size(text, "m.onnx")
    assert got == sides and all(type(s) is int for s in got)


@pytest.mark.parametrize("text", ["28", "28x28x3", "axb", "28.5x28", "28x28.5", "infx28", "28xnan", "x", ""])
def test_input_sizes_that_do_not_look_like_one(text):
    assert refused(parse_input_size, text, "m.onnx") == (
        f"m.onnx: the metadata entry input_size is {text!r}; it must look like 32x32")


@pytest.mark.parametrize("text", ["0x28", "28x0", "2049x28", "28x2049", "-4x4"])
def test_input_sides_out_of_bounds(text):
    assert refused(parse_input_size, text, "m.onnx") == (
        f"m.onnx: the metadata entry input_size is {text!r}; each side must be from 1 to 2048 pixels")


def test_the_metadata_check_reads_input_size_too():
    check_metadata({"input_size": "2048x2048"}, "m.onnx")
    assert refused(check_metadata, {"input_size": "28x2049"}, "m.onnx") == (
        "m.onnx: the metadata entry input_size is '28x2049'; each side must be from 1 to 2048 pixels")


# --- the input the app builds -------------------------------------------------------------


@pytest.mark.parametrize("spec", [InputSpec(height=1, width=1), InputSpec(height=2048, width=2048),
                                  InputSpec(batch=1), InputSpec(batch=4096), InputSpec(batch=None)])
def test_specs_within_bounds(spec):
    check_spec(spec, "m.onnx")


@pytest.mark.parametrize("spec, what", [
    (InputSpec(height=0), "a height of 0 pixels"), (InputSpec(height=2049), "a height of 2049 pixels"),
    (InputSpec(width=0), "a width of 0 pixels"), (InputSpec(width=2049), "a width of 2049 pixels"),
])
def test_sides_out_of_bounds(spec, what):
    assert refused(check_spec, spec, "m.onnx") == f"m.onnx: the model's input has {what}; at most 2048 are supported"


@pytest.mark.parametrize("batch", [0, 4097])
def test_fixed_batches_out_of_bounds(batch):
    assert refused(check_spec, InputSpec(batch=batch), "m.onnx") == (
        f"m.onnx: the model's input has a fixed batch size of {batch}; at most 4096 are supported")


def test_the_message_says_where_the_size_came_from():
    assert refused(check_spec, InputSpec(width=4000), "m.onnx", "input_size in the metadata") == (
        "m.onnx: input_size in the metadata has a width of 4000 pixels; at most 2048 are supported")


# --- command-line overrides ---------------------------------------------------------------


@pytest.mark.parametrize("overrides", [
    {}, {"mean": None, "std": None, "pixel_max": None}, {"mean": -1e6}, {"mean": 1e6},
    {"std": 1e-3}, {"std": 1e6}, {"pixel_max": 1e-3}, {"pixel_max": 1e6}, {"other": float("nan")},
])
def test_overrides_within_bounds(overrides):
    check_overrides(overrides)


@pytest.mark.parametrize("overrides, message", [
    ({"mean": float("nan")}, "--mean is nan; it must be a finite number from -1e+06 to 1e+06"),
    ({"mean": -1.00001e6}, "--mean is -1.00001e+06; it must be a finite number from -1e+06 to 1e+06"),
    ({"mean": 1.00001e6}, "--mean is 1.00001e+06; it must be a finite number from -1e+06 to 1e+06"),
    ({"std": 0.000999}, "--std is 0.000999; it must be a finite number from 0.001 to 1e+06"),
    ({"std": 1.00001e6}, "--std is 1.00001e+06; it must be a finite number from 0.001 to 1e+06"),
    ({"std": float("inf")}, "--std is inf; it must be a finite number from 0.001 to 1e+06"),
    ({"pixel_max": 0.000999}, "--pixel-scale is 0.000999; it must be a finite number from 0.001 to 1e+06"),
    ({"pixel_max": 1.00001e6}, "--pixel-scale is 1.00001e+06; it must be a finite number from 0.001 to 1e+06"),
    ({"mean": 0.0, "pixel_max": -1.0}, "--pixel-scale is -1; it must be a finite number from 0.001 to 1e+06"),
])
def test_overrides_past_their_bounds(overrides, message):
    assert refused(check_overrides, overrides) == message


# --- class labels -------------------------------------------------------------------------


@pytest.mark.parametrize("text, depth", [
    ("[1]", 1), ("[]", 1), ("[[1]]", 2), ("[{}]", 2), ("{[]}", 2), ("[][]", 1), ("[[]][[[]]]", 3),
    ('"[["', 0), ("X[", 1), ("X", 0), ('["[[", 1]', 1), ('["a\\"[", 1]', 1), ('["\\\\", [1]]', 2), ('["\\\\"]', 1), ("abc", 0),
])
def test_nesting_depth_skips_strings(text, depth):
    assert model_check._nesting_depth(text, 10) == depth


def test_nesting_depth_stops_just_past_the_limit():
    assert model_check._nesting_depth("[" * 100 + "]" * 100, 2) == 3
    assert model_check._nesting_depth("[[]]", 2) == 2


@pytest.mark.parametrize("raw, classes, labels", [
    (None, 10, None), ("", 2, None), ("  \n ", 2, None),
    ('["a", "b"]', 2, ["a", "b"]), ('  ["a", "b"]  ', None, ["a", "b"]), ("[0, 1.5, -2]", 3, ["0", "1.5", "-2"]),
    (" a , b ,c", 3, ["a", "b", "c"]), ("zero", 1, ["zero"]), ("a,,b", None, ["a", "", "b"]),
    ('["' + "x" * 200 + '"]', 1, ["x" * 200]), ("[]", None, []),
])
def test_labels_that_are_read(raw, classes, labels):
    assert parse_labels(raw, classes, "m.onnx") == labels


@pytest.mark.parametrize("raw, message", [
    ('[["a"], "b"]', "class_labels must be a flat list of labels, not a nested one"),
    ('{"0": ["a"]}', "class_labels must be a flat list of labels, not a nested one"),
    ('{"0": "a", "1": "b"}', "class_labels must be a list of labels, not a JSON object"),
    ('["a", ', 'class_labels is not valid JSON (expected a list like ["0", "1"])'),
    ("{", 'class_labels is not valid JSON (expected a list like ["0", "1"])'),
    ('[null, "b"]', "class_labels must hold text labels; it holds null"),
    ('["a", false]', "class_labels must hold text labels; it holds false"),
    ('[true, 1]', "class_labels must hold text labels; it holds true"),
    ('["a", NaN]', "class_labels holds nan, which is not a label"),
    ('[Infinity, "b"]', "class_labels holds inf, which is not a label"),
    ('["' + "x" * 201 + '", "b"]', "a class label is 201 characters long; at most 200"),
    ("b, " + "y" * 1500, "a class label is 1,500 characters long; at most 200"),
    ('["a", "b", "c"]', "class_labels has 3 labels but the model outputs 2 classes"),
    ("a", "class_labels has 1 labels but the model outputs 2 classes"),
])
def test_labels_that_are_refused(raw, message):
    assert refused(parse_labels, raw, 2, "m.onnx") == f"m.onnx: {message}"


def test_the_label_text_read_at_all_is_bounded():
    at_most = "a," * 500_000  # exactly 1,000,000 characters: read
    assert len(parse_labels(at_most, None, "m.onnx")) == 500_001
    assert refused(parse_labels, at_most + "a", None, "m.onnx") == (
        "m.onnx: class_labels is 1,000,001 characters long; at most 1,000,000 are read")


# --- the class count ----------------------------------------------------------------------


@pytest.mark.parametrize("classes", [None, 1, 10, 100_000])
def test_class_counts_that_pass(classes):
    check_classes(classes, "m.onnx")


@pytest.mark.parametrize("classes, message", [
    (0, "the class output has 0 classes; a classifier needs at least one"),
    (-3, "the class output has -3 classes; a classifier needs at least one"),
    (100_001, "the class output has 100,001 classes; at most 100,000 are supported"),
])
def test_class_counts_that_are_refused(classes, message):
    assert refused(check_classes, classes, "m.onnx") == f"m.onnx: {message}"
