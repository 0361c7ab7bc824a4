"""A corpus of hostile ONNX models and metadata, built with onnx.helper at test time.

Each case is a small file on disk (a few KiB) that would, without the app's
checks, exhaust memory, hang, print a traceback or print NaN. ``CASES`` maps a
case name to (builder, expected message fragment); a builder takes a folder and
returns the model's path.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.helpers import tiny_classifier

OPSET = [helper.make_opsetid("", 17)]


def _save(nodes, inits, path, *, in_shape=("N", 1, 28, 28), out_shape=("N", 10), metadata=None, name="hostile"):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, list(out_shape))],
        inits,
    )
    model = helper.make_model(graph, opset_imports=OPSET)
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save_model(model, str(path))
    return path


def _head(source: str, features: int = 784):
    """Flatten ``source`` and map it to 10 scores: the classifier every case ends in."""
    w = np.full((features, 10), 0.01, np.float32)
    w[:, 1] = 0.02
    nodes = [helper.make_node("Flatten", [source], ["flat"]), helper.make_node("MatMul", ["flat", "fc"], ["scores"],
                                                                              name="head")]
    return nodes, [numpy_helper.from_array(w, "fc")]


def _plus_sum_of(big: str):
    """image + ReduceSum(big): the big tensor feeds the result, so nothing prunes it."""
    return [helper.make_node("ReduceSum", [big], ["total"], keepdims=0),
            helper.make_node("Add", ["image", "total"], ["mixed"])]


def _ink_scaled(scale: float, out: str):
    """An int64 scalar computed from the image: 0 for a blank input, ``scale`` for full ink."""
    return [helper.make_node("ReduceMax", ["image"], ["ink"], keepdims=0),
            helper.make_node("Mul", ["ink", "scale"], ["scaled"]),
            helper.make_node("Cast", ["scaled"], [out], to=TensorProto.INT64)], \
        [numpy_helper.from_array(np.array(scale, np.float32), "scale")]


# --- memory -------------------------------------------------------------------------


def constant_of_shape_huge(folder):
    shape = numpy_helper.from_array(np.array([1, 60000, 60000], np.int64), "huge_shape")
    nodes = [helper.make_node("ConstantOfShape", ["huge_shape"], ["filled"], name="fill",
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))]
    head, inits = _head("mixed")
    return _save(nodes + _plus_sum_of("filled") + head, [shape] + inits, folder / "const_of_shape.onnx")


def constant_of_shape_from_data(folder):
    """Its size comes from the ink: nothing for a blank image, 3.6 GB for a drawing."""
    calc, inits = _ink_scaled(30000.0, "side")
    nodes = calc + [
        helper.make_node("Unsqueeze", ["side", "axes0"], ["side1"]),
        helper.make_node("Concat", ["side1", "side1"], ["dims"], axis=0),
        helper.make_node("ConstantOfShape", ["dims"], ["filled"], name="grow",
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
    ]
    head, head_inits = _head("mixed")
    inits += [numpy_helper.from_array(np.array([0], np.int64), "axes0")]
    return _save(nodes + _plus_sum_of("filled") + head, inits + head_inits, folder / "const_of_shape_data.onnx")


def tile_huge(folder):
    repeats = numpy_helper.from_array(np.array([1, 1, 2000, 2000], np.int64), "repeats")
    nodes = [helper.make_node("Tile", ["image", "repeats"], ["tiled"], name="tile")]
    head, inits = _head("mixed")
    return _save(nodes + _plus_sum_of("tiled") + head, [repeats] + inits, folder / "tile.onnx")


def tile_from_data(folder):
    calc, inits = _ink_scaled(1000.0, "times")
    nodes = calc + [
        helper.make_node("Unsqueeze", ["times", "axes0"], ["times1"]),
        helper.make_node("Concat", ["ones2", "times1", "times1"], ["repeats"], axis=0),
        helper.make_node("Tile", ["image", "repeats"], ["tiled"], name="tile_ink"),
    ]
    inits += [numpy_helper.from_array(np.array([0], np.int64), "axes0"),
              numpy_helper.from_array(np.array([1, 1], np.int64), "ones2")]
    head, head_inits = _head("mixed")
    return _save(nodes + _plus_sum_of("tiled") + head, inits + head_inits, folder / "tile_data.onnx")


def range_to(limit, name):
    def build(folder):
        inits = [numpy_helper.from_array(np.array(0, np.float32), "start"),
                 numpy_helper.from_array(np.array(limit, np.float32), "limit"),
                 numpy_helper.from_array(np.array(1, np.float32), "delta")]
        head, head_inits = _head("mixed")
        nodes = [helper.make_node("Range", ["start", "limit", "delta"], ["numbers"], name="count")]
        return _save(nodes + _plus_sum_of("numbers") + head, inits + head_inits, folder / f"{name}.onnx")
    return build


def resize_huge(folder):
    scales = numpy_helper.from_array(np.array([1, 1, 1e4, 1e4], np.float32), "scales")
    nodes = [helper.make_node("Resize", ["image", "", "scales"], ["big"], name="zoom", mode="nearest")]
    head, inits = _head("mixed")
    return _save(nodes + _plus_sum_of("big") + head, [scales] + inits, folder / "resize.onnx")


def input_20000(folder):
    nodes = [helper.make_node("GlobalAveragePool", ["image"], ["pooled"])]
    head, inits = _head("pooled", features=1)
    return _save(nodes + head, inits, folder / "input_20000.onnx", in_shape=(1, 1, 20000, 20000))


def with_metadata(name, **metadata):
    def build(folder):
        return tiny_classifier(folder / f"{name}.onnx", metadata=metadata)
    return build


def dynamic_input_size(text):
    def build(folder):
        nodes = [helper.make_node("GlobalAveragePool", ["image"], ["pooled"])]
        head, inits = _head("pooled", features=1)
        return _save(nodes + head, inits, folder / "input_size.onnx", in_shape=("N", 1, "H", "W"),
                     metadata={"input_size": text})
    return build


# --- failures at run time -----------------------------------------------------------


def matmul_fails_at_run_time(folder):
    """The flattened image has 784 features, the weights expect 700; the graph hides it."""
    calc, inits = _ink_scaled(0.0, "zero")
    nodes = calc + [
        helper.make_node("Add", ["zero", "flat_shape"], ["shape"]),
        helper.make_node("Reshape", ["image", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc"], ["scores"], name="dense"),
    ]
    inits += [numpy_helper.from_array(np.array([1, -1], np.int64), "flat_shape"),
              numpy_helper.from_array(np.zeros((700, 10), np.float32), "fc")]
    return _save(nodes, inits, folder / "matmul.onnx")


def reshape_fails_at_run_time(folder):
    calc, inits = _ink_scaled(0.0, "zero")
    nodes = calc + [
        helper.make_node("Add", ["zero", "bad_shape"], ["shape"]),
        helper.make_node("Reshape", ["image", "shape"], ["reshaped"], name="squash"),
        helper.make_node("MatMul", ["reshaped", "fc"], ["scores"]),
    ]
    inits += [numpy_helper.from_array(np.array([1, 13], np.int64), "bad_shape"),
              numpy_helper.from_array(np.zeros((13, 10), np.float32), "fc")]
    return _save(nodes, inits, folder / "reshape.onnx")


def zero_classes(folder):
    return tiny_classifier(folder / "zero_classes.onnx", classes=0)


def nested_labels(folder):
    return tiny_classifier(folder / "nested.onnx", metadata={"class_labels": "[" * 5000 + "]" * 5000})


def weights(value, name):
    def build(folder):
        path = tiny_classifier(folder / f"{name}.onnx")
        model = onnx.load(str(path))
        w = model.graph.initializer[0]
        array = numpy_helper.to_array(w).copy()
        array.flat[0] = value
        w.CopyFrom(numpy_helper.from_array(array, w.name))
        onnx.save_model(model, str(path))
        return path
    return build


def nan_for_ink(folder):
    """Finite scores for a blank image, NaN once there is ink: log(0.5 − ink)."""
    nodes = [helper.make_node("ReduceMax", ["image"], ["ink"], keepdims=0),
             helper.make_node("Sub", ["half", "ink"], ["room"]),
             helper.make_node("Log", ["room"], ["shift"]),
             helper.make_node("Flatten", ["image"], ["flat"]),
             helper.make_node("MatMul", ["flat", "fc"], ["raw"]),
             helper.make_node("Add", ["raw", "shift"], ["scores"])]
    inits = [numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.full((784, 10), 0.01, np.float32), "fc")]
    return _save(nodes, inits, folder / "nan_for_ink.onnx")


def _loop_body():
    return helper.make_graph(
        [helper.make_node("Add", ["v", "one"], ["v2"]), helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v2", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((1,), np.float32), "one")],
    )


def loop_forever(folder):
    """A Loop that adds 1 to the image 10¹² times."""
    nodes = [helper.make_node("Loop", ["trips", "", "image"], ["looped"], name="spin", body=_loop_body())]
    head, inits = _head("looped")
    inits.append(numpy_helper.from_array(np.array(10**12, np.int64), "trips"))
    return _save(nodes + head, inits, folder / "loop.onnx")


def loop_trips_from_ink(folder):
    """No trips for a blank image, 10¹² once there is ink: fast when opened, endless when drawn on."""
    calc, inits = _ink_scaled(1e12, "trips")
    nodes = calc + [helper.make_node("Loop", ["trips", "", "image"], ["looped"], name="spin_ink", body=_loop_body())]
    head, head_inits = _head("looped")
    return _save(nodes + head, inits + head_inits, folder / "loop_ink.onnx")


# --- external data ------------------------------------------------------------------


def external(kind):
    """Weights stored in a file outside the model's folder: by ../, absolute path or symlink."""
    def build(folder):
        inner = folder / "models"
        inner.mkdir(exist_ok=True)
        path = tiny_classifier(inner / f"external_{kind}.onnx", external=True)
        data = inner / (path.name + ".data")
        secret = folder / "secret.bin"
        os.replace(data, secret)  # the weight bytes now live outside the model's folder
        if kind == "parent":
            location = "../secret.bin"
        elif kind == "absolute":
            location = str(secret.resolve())
        else:
            os.symlink(secret, inner / "link.bin")
            location = "link.bin"
        model = onnx.load(str(path), load_external_data=False)
        for tensor in model.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save_model(model, str(path))
        return path
    return build


#: name → (builder, fragment of the one-line message)
CASES = {
    "constant_of_shape_huge": (constant_of_shape_huge, "'filled' (1×60000×60000, made by ConstantOfShape 'fill') alone needs 13.4 GiB"),
    "constant_of_shape_from_data": (constant_of_shape_from_data, "node 'grow' (ConstantOfShape) failed: it needs more memory than the limit allows"),
    "tile_huge": (tile_huge, "'tiled' (1×1×56000×56000, made by Tile 'tile') alone needs 11.7 GiB"),
    "tile_from_data": (tile_from_data, "node 'tile_ink' (Tile) failed: it needs more memory than the limit allows"),
    "range_1e12": (range_to(1e12, "range_huge"), "'numbers' (999999995904, made by Range 'count') alone needs 3.6 TiB"),
    "range_to_nan": (range_to(np.nan, "range_nan"), "node 'count' (Range) failed: Range: the computed number of elements is not a finite value"),
    "resize_scales_1e4": (resize_huge, "'big' (1×1×280000×280000, made by Resize 'zoom') alone needs 292 GiB"),
    "input_20000x20000": (input_20000, "'image' (1×1×20000×20000, made by the input) alone needs 1.5 GiB"),
    "input_size_20000": (dynamic_input_size("20000x20000"), "input_size is '20000x20000'; each side must be from 1 to 2048"),
    "input_size_garbage": (dynamic_input_size("big"), "input_size is 'big'; it must look like 32x32"),
    "digit_box_1e9": (with_metadata("box", digit_box="1e9"), "digit_box is 1e+09; it must be a whole number of pixels"),
    "digit_box_inf": (with_metadata("box_inf", digit_box="inf"), "digit_box is inf; it must be a finite number"),
    "digit_box_nan": (with_metadata("box_nan", digit_box="nan"), "digit_box is nan; it must be a finite number"),
    "digit_field_inf": (with_metadata("field_inf", digit_field="inf"), "digit_field is inf; it must be a finite number"),
    "digit_field_nan": (with_metadata("field_nan", digit_field="NaN"), "digit_field is NaN; it must be a finite number"),
    "matmul_at_run_time": (matmul_fails_at_run_time, "node 'dense' (MatMul) failed"),
    "reshape_at_run_time": (reshape_fails_at_run_time, "node 'squash' (Reshape) failed"),
    "zero_classes": (zero_classes, "the class output has 0 classes"),
    "labels_nested_5000_deep": (nested_labels, "class_labels must be a flat list of labels"),
    "nan_weights": (weights(np.nan, "nan_w"), "the model returned NaN for this input"),
    "inf_weights": (weights(np.inf, "inf_w"), "the model returned NaN for this input"),
    "nan_only_with_ink": (nan_for_ink, "the model returned NaN for this input"),
    "normalize_mean_nan": (with_metadata("mean_nan", normalize_mean="nan"), "normalize_mean is nan; it must be a finite"),
    "normalize_mean_inf": (with_metadata("mean_inf", normalize_mean="inf"), "normalize_mean is inf; it must be a finite"),
    "normalize_std_nan": (with_metadata("std_nan", normalize_std="nan"), "normalize_std is nan; it must be a finite"),
    "normalize_std_inf": (with_metadata("std_inf", normalize_std="-inf"), "normalize_std is -inf; it must be a finite"),
    "normalize_std_1e-30": (with_metadata("std_tiny", normalize_std="1e-30"), "normalize_std is 1e-30; it must be a positive number from 0.001"),
    "normalize_std_0": (with_metadata("std_zero", normalize_std="0"), "normalize_std is 0; it must be a positive number"),
    "pixel_scale_nan": (with_metadata("scale_nan", pixel_scale="nan"), "pixel_scale is nan; it must be a finite"),
    "pixel_scale_inf": (with_metadata("scale_inf", pixel_scale="inf"), "pixel_scale is inf; it must be a finite"),
    "pixel_scale_1e-30": (with_metadata("scale_tiny", pixel_scale="1e-30"), "pixel_scale is 1e-30; it must be a positive number"),
    "external_parent": (external("parent"), "'../secret.bin', outside the model's folder; refused"),
    "external_absolute": (external("absolute"), "an absolute path; external weights must be in the model's folder"),
    "external_symlink": (external("symlink"), "'link.bin', which leads outside the model's folder (a symbolic link)"),
    "loop_10e12_trips": (loop_forever, "took longer than 1 s for one input and was stopped"),
    "loop_trips_from_ink": (loop_trips_from_ink, "loop_ink.onnx took longer than 1 s for one input and was stopped"),
}

#: Where the window says it differently: it works out the layer table (graph.analyze) before
#: the first run, and the arithmetic stops at a Range to NaN first.
WINDOW_FRAGMENTS = {"range_to_nan": "range_nan.onnx cannot be run"}
#: Cases whose failure shows only when there is ink (a blank image runs fine).
NEEDS_INK = {"constant_of_shape_from_data", "tile_from_data", "nan_only_with_ink", "loop_trips_from_ink"}
