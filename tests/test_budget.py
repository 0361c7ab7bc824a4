"""budget's sums and limits on graphs built by hand, each footprint added up by hand below.

No model runs here and nothing opens a window: these are in mutmut's test selection.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import budget
from lenet_gui.core.budget import Footprint, Tensor
from lenet_gui.core.errors import ModelError

MIB = 1024**2


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "hand", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def three_layers(named=True):
    """X float 1×1×5×5 → Conv (W 2×1×3×3, B 2) → C float 1×2×3×3 → Cast → D double 1×2×3×3
    → MaxPool 2×2 → P double 1×2×2×2.

    Weights: (18 + 2) floats = 80 bytes. Tensors: X 25×4 = 100, C 18×4 = 72, D 18×8 = 144,
    P 8×8 = 64. Total 80 + 100 + 72 + 144 + 64 = 460; the largest is D.
    """
    name = (lambda n: n) if named else (lambda n: "")
    inits = [numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "W"),
             numpy_helper.from_array(np.zeros(2, np.float32), "B")]
    nodes = [helper.make_node("Conv", ["X", "W", "B"], ["C"], name=name("conv")),
             helper.make_node("Cast", ["C"], ["D"], to=TensorProto.DOUBLE, name=name("cast")),
             helper.make_node("MaxPool", ["D"], ["P"], kernel_shape=[2, 2], name=name("pool"))]
    model = _model(nodes, [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 1, 5, 5])],
                   [helper.make_tensor_value_info("P", TensorProto.DOUBLE, ["N", 2, 2, 2])], inits)
    onnx.checker.check_model(model)
    return model


def test_the_footprint_of_three_layers_added_up_by_hand():
    fp = budget.footprint(three_layers())
    assert (fp.total, fp.weights, fp.per_image) == (460, 80, 380)
    assert fp.largest == Tensor("D", [1, 2, 3, 3], 144, "Cast 'cast'")
    assert fp.runtime_sized == []


def test_unnamed_nodes_are_counted_from_one_as_the_layer_list_shows_them():
    fp = budget.footprint(three_layers(named=False))
    assert fp.largest.node == "Cast #2" and fp.total == 460


def test_the_image_shape_sizes_the_run_and_the_model_is_left_as_it_was():
    model = three_layers()
    before = model.SerializeToString()
    fp = budget.footprint(model, "X", (3, 1, 5, 5))
    # Three images: 80 + 3 × (100 + 72 + 144 + 64) = 1,220.
    assert (fp.total, fp.weights) == (1220, 80)
    assert fp.largest == Tensor("D", [3, 2, 3, 3], 432, "Cast 'cast'")
    assert model.SerializeToString() == before  # the open batch axis "N" is back


def test_an_image_shape_needs_the_input_it_belongs_to():
    model = three_layers()
    one = budget.footprint(model)
    for fp in (budget.footprint(model, "X"), budget.footprint(model, None, (3, 1, 5, 5))):
        assert (fp.total, fp.largest) == (one.total, one.largest)


def test_types_onnx_could_not_infer_count_as_float32():
    model = three_layers()
    # C and D untyped count 4 bytes an element; P keeps the double the graph output declares.
    assert budget.footprint(model, inferred={}).total == 80 + 100 + 72 + 72 + 64
    assert budget.footprint(model, inferred={"D": 0}).total == 80 + 100 + 72 + 72 + 64
    assert budget.footprint(model, inferred={"C": TensorProto.INT8, "D": TensorProto.DOUBLE}).total == \
        80 + 100 + 18 + 144 + 64


def test_the_graph_output_type_wins_over_the_inferred_one():
    model = three_layers()
    assert budget.footprint(model, inferred={"C": TensorProto.FLOAT, "D": TensorProto.DOUBLE,
                                             "P": TensorProto.FLOAT}).total == 460


def unreadable_graph():
    """A graph the shape engine refuses (a height left open), with odd inputs beside the image.

    Weights: W 2×3×3×3 floats = 216 bytes. Inputs: X 1×1×5×h floats, the open h counted as 1:
    20 bytes; Y int8 with a zero axis counted as 1 and 70: 70 bytes; W listed as an input too
    is a weight, counted once; U has no element type and is not counted. Total 216 + 20 + 70 = 306.
    """
    inits = [numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "W")]
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 5, "h"]),
              helper.make_tensor_value_info("Y", TensorProto.INT8, [0, 70]),
              helper.make_tensor_value_info("W", TensorProto.FLOAT, [2, 3, 3, 3]),
              helper.make_tensor_value_info("U", TensorProto.UNDEFINED, [1000])]
    return _model([helper.make_node("Conv", ["X", "W"], ["C"])], inputs,
                  [helper.make_tensor_value_info("C", TensorProto.FLOAT, None)], inits)


def test_a_graph_the_shape_engine_cannot_follow_counts_its_inputs_and_weights():
    fp = budget.footprint(unreadable_graph())
    assert (fp.total, fp.weights) == (306, 216)
    assert fp.largest == Tensor("Y", [1, 70], 70, "the input")
    assert fp.runtime_sized == ["the whole graph (its shapes cannot be worked out without running it)"]


def test_a_size_only_known_at_run_time_marks_the_node():
    """Tile's repeats come from the image's values. Weights: shp, one int64 = 8 bytes; X one float
    4, r and rep one int64 each 8 + 8; t unknown, not counted. Total 8 + 4 + 8 + 8 = 28."""
    nodes = [helper.make_node("Cast", ["X"], ["r"], to=TensorProto.INT64),
             helper.make_node("Reshape", ["r", "shp"], ["rep"]),
             helper.make_node("Tile", ["X", "rep"], ["t"], name="grow")]
    model = _model(nodes, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
                   [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)],
                   [numpy_helper.from_array(np.array([1], np.int64), "shp")])
    fp = budget.footprint(model)
    assert (fp.total, fp.weights, fp.runtime_sized) == (28, 8, ["Tile 'grow'"])
    assert fp.largest == Tensor("r", [1], 8, "Cast #1")


def test_an_output_left_unnamed_is_no_tensor_and_the_next_one_still_counts():
    """Split's first half unnamed: X 1×1×2×2 floats 16 bytes, b 1×1×2×1 8. Total 24."""
    nodes = [helper.make_node("Split", ["X"], ["", "b"], axis=3, num_outputs=2)]
    model = _model(nodes, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 2, 2])],
                   [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 1, 2, 1])])
    model.opset_import[0].version = 18
    fp = budget.footprint(model)
    assert (fp.total, fp.runtime_sized) == (24, [])


def test_weights_and_no_tensor_at_all():
    weights = [numpy_helper.from_array(np.ones(3, np.float32), "W")]
    fp = budget.footprint(_model([], [], [], weights))
    assert (fp.total, fp.weights, fp.largest, fp.runtime_sized) == (12, 12, None, [])
    with pytest.raises(ModelError, match="^e.onnx is too large to run: one run needs 12 bytes, more than"):
        budget.check(fp, 11, "e.onnx")
    # A node reading a tensor nothing makes: the shape engine gives up, and there is no input either.
    model = _model([helper.make_node("Relu", ["missing"], ["r"])], [],
                   [helper.make_tensor_value_info("r", TensorProto.FLOAT, None)], weights)
    fp = budget.footprint(model)
    assert (fp.total, fp.weights, fp.largest) == (12, 12, None)
    assert fp.runtime_sized == ["the whole graph (its shapes cannot be worked out without running it)"]


def test_element_sizes():
    assert [budget._itemsize(t) for t in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT8,
                                          TensorProto.BOOL, TensorProto.FLOAT16, TensorProto.INT64)] == [
        4, 8, 1, 1, 2, 8]
    assert budget._itemsize(TensorProto.UNDEFINED) == 8  # unknown: a pointer
    assert budget._itemsize(TensorProto.STRING) == 8


def _fp(total, weights, largest_bytes, name="big"):
    return Footprint(total, weights, Tensor(name, [2, 3], largest_bytes, "Conv 'c'"))


def test_a_limit_exactly_met_is_enough_and_one_byte_less_is_not():
    fp = _fp(3 * MIB, MIB, 512 * 1024)
    budget.check(fp, 3 * MIB, "m.onnx")
    with pytest.raises(ModelError) as info:
        budget.check(fp, 3 * MIB - 1, "m.onnx")
    assert str(info.value) == (
        "m.onnx is too large to run: one run needs 3.0 MiB (the largest tensor, 'big' 2×3, needs 512 KiB), "
        "more than the memory limit of 3.0 MiB (--memory-limit sets the limit)")


def test_a_tensor_alone_over_the_limit_is_named_with_its_maker():
    fp = _fp(2 * MIB, 0, 2 * MIB)
    budget.check(fp, 2 * MIB, "m.onnx")  # the largest tensor exactly fits
    with pytest.raises(ModelError) as info:
        budget.check(fp, 2 * MIB - 1, "m.onnx")
    assert str(info.value) == (
        "m.onnx is too large to run: its tensor 'big' (2×3, made by Conv 'c') alone needs 2.0 MiB, "
        "more than the memory limit of 2.0 MiB (--memory-limit sets the limit)")


def test_weights_alone_over_the_limit_are_refused_without_a_tensor_to_name():
    fp = Footprint(total=5 * MIB, weights=5 * MIB, largest=None)
    budget.check(fp, 5 * MIB, "w.onnx")
    with pytest.raises(ModelError) as info:
        budget.check(fp, 4 * MIB, "w.onnx")
    assert str(info.value) == ("w.onnx is too large to run: one run needs 5.0 MiB, more than the memory limit "
                               "of 4.0 MiB (--memory-limit sets the limit)")


def test_the_largest_batch_that_fits():
    fp = Footprint(total=1030, weights=1000, largest=None)  # 30 bytes an image
    assert fp.per_image == 30
    assert budget.max_batch(fp, 1090, 10) == 3  # exactly three images' worth
    assert budget.max_batch(fp, 1089, 10) == 2  # one byte short of the third
    assert budget.max_batch(fp, 1090, 2) == 2  # no more than asked for
    assert budget.max_batch(fp, 1029, 10) == 1  # always at least one
    assert budget.max_batch(fp, 500, 10) == 1


def test_a_footprint_of_weights_only_still_adds_one_byte_an_image():
    assert Footprint(total=1000, weights=1000, largest=None).per_image == 1
    assert Footprint(total=1002, weights=1000, largest=None).per_image == 2


@pytest.mark.parametrize("text, size", [
    ("16777216", 16 * MIB), ("16M", 16 * MIB), ("16 MiB", 16 * MIB), ("16m", 16 * MIB),
    ("17mb", 17 * 10**6), ("20000k", 20000 * 1024), ("20000KB", 20000 * 1000), ("20000KiB", 20000 * 1024),
    ("1g", 1024**3), ("1GiB", 1024**3), ("2GB", 2 * 10**9), ("  1.5 gib  ", 1536 * MIB),
    ("17000000b", 17000000), (".5G", 512 * MIB), ("1e9", 10**9), ("1e9B", 10**9), (16 * MIB, 16 * MIB),
])
def test_memory_sizes(text, size):
    assert budget.parse_size(text) == size
    assert isinstance(budget.parse_size(text), int)


@pytest.mark.parametrize("text", ["lots", "1 parsec", "-5G", "", "1.5.5G", "1 G B", "1E9", "G", "1x9"])
def test_what_is_not_a_memory_size(text):
    with pytest.raises(ValueError) as info:
        budget.parse_size(text)
    assert str(info.value) == f"{text!r} is not a memory size (examples: 512M, 1GiB, 2GB)"


@pytest.mark.parametrize("text", ["16777215", "1K", "15.99M", "0"])
def test_memory_limits_under_16_mib(text):
    with pytest.raises(ValueError) as info:
        budget.parse_size(text)
    assert str(info.value) == f"{text!r} is too small a memory limit; give at least 16.0 MiB"


def test_a_memory_size_too_large_for_a_float_is_not_a_size():
    with pytest.raises(ValueError, match="'1e999G' is not a memory size"):
        budget.parse_size("1e999G")


@pytest.mark.parametrize("size, text", [
    (0, "0 bytes"), (1023, "1023 bytes"), (1023.9, "1023 bytes"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (99.94 * 1024, "99.9 KiB"), (100 * 1024, "100 KiB"), (1023 * 1024, "1,023 KiB"), (MIB, "1.0 MiB"),
    (1024**3, "1.0 GiB"), (200 * 1024**3, "200 GiB"), (1024**4, "1.0 TiB"), (1500 * 1024**4, "1,500 TiB"),
])
def test_format_size(size, text):
    assert budget.format_size(size) == text


def test_an_unknown_output_does_not_hide_the_known_one_after_it():
    """An op of another domain: ONNX gives b's shape (a graph output), not a's.
    X 1×4 floats 16 bytes, b 1×4 floats 16; a is sized at run time. Total 32."""
    nodes = [helper.make_node("Mystery", ["X"], ["a", "b"], domain="com.example", name="odd")]
    model = _model(nodes, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
                   [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    fp = budget.footprint(model)
    assert (fp.total, fp.runtime_sized) == (32, ["Mystery 'odd'"])
