"""graph.analyze against onnxruntime: the shapes it computes without running a
model must be the shapes onnxruntime's CPU provider actually produces, for every
intermediate tensor of random Conv / ConvTranspose / pooling chains.

Validity is decided here by independent rules (a window must fit in the padded
input, pooling pads must be smaller than the kernel, …), not by the code under
test: valid chains must match onnxruntime exactly, invalid layers must raise
ShapeError. Two configurations the ONNX spec defines but onnxruntime will not
run (Conv with SAME padding and a dilation; SAME pooling whose padding would
be negative) are left out of both.
"""

from __future__ import annotations

import math
import random

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core.errors import ShapeError
from lenet_gui.core.graph import analyze

OPSET = 19  # AveragePool has dilations from opset 19, LpPool from 18
IR_VERSION = 9
OPS = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"]
MAX_SIZE = 40  # keep tensors small so each onnxruntime run is quick


# ---------------------------------------------------------------------------
# drawing configurations


class RandomDraw:
    """The draw interface over random.Random, for the fixed-seed loop."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def int(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def choice(self, options):
        return self.rng.choice(options)


class HypothesisDraw:
    """The same interface over hypothesis's interactive data.draw."""

    def __init__(self, data):
        self.data = data

    def int(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))

    def choice(self, options):
        return self.data.draw(st.sampled_from(options))


def effective(k: int, d: int) -> int:
    return d * (k - 1) + 1


def pool_same_pads(n: int, k: int, s: int, mode: str) -> tuple[int, int]:
    """onnxruntime's SAME padding for pooling (undilated kernel, C++ truncation)."""
    total = (math.ceil(n / s) - 1) * s + k - n
    head = int(total / 2) if mode == "SAME_UPPER" else int((total + 1) / 2)
    return head, total - head


def axis_is_valid(op: str, n: int, cfg: dict, axis: int) -> bool:
    """Whether onnxruntime can run this layer along one axis and give ≥ 1 output."""
    k, s, d = cfg["kernel"][axis], cfg["stride"][axis], cfg["dilation"][axis]
    pb, pe = cfg["pads"][axis], cfg["pads"][axis + 2]
    mode = cfg["auto_pad"]
    if op == "ConvTranspose":
        a = cfg["output_padding"][axis]
        if a >= s:
            return False
        natural = (n - 1) * s + effective(k, d) + a
        if cfg.get("output_shape"):
            return 1 <= cfg["output_shape"][axis] <= (n - 1) * s + effective(k, d) + s - 1
        if mode in ("SAME_UPPER", "SAME_LOWER", "VALID"):
            return True
        return natural - pb - pe >= 1
    if op == "Conv":
        if mode in ("SAME_UPPER", "SAME_LOWER"):
            return d == 1  # onnxruntime refuses SAME with dilation for Conv
        if mode == "VALID":
            pb = pe = 0
        return effective(k, d) <= n + pb + pe
    # pooling
    if mode == "NOTSET":
        if pb >= k or pe >= k:
            return False
    elif mode == "VALID":
        pb = pe = 0
    else:
        pb, pe = pool_same_pads(n, k, s, mode)
        if pb < 0 or pe < 0:
            return False  # crops; onnxruntime's MaxPool refuses it, so leave it out
    return effective(k, d) <= n + pb + pe


def draw_layer(draw, op: str, height: int, width: int, last: bool = True) -> dict:
    """A random configuration of op for an input of height × width (maybe invalid).

    ConvTranspose's output_shape is only drawn for the last layer of a chain:
    when it crops a lot, ONNX shape inference (1.23) drops the spatial axes of
    that tensor, and onnxruntime then refuses to load a model where another
    layer follows it.
    """
    auto_pad = draw.choice(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])
    cfg = {"auto_pad": auto_pad, "kernel": [], "stride": [], "dilation": [], "pads": [0, 0, 0, 0]}
    for axis, n in enumerate((height, width)):
        cfg["kernel"].append(draw.int(1, min(7, n + 2)))
        cfg["stride"].append(draw.int(1, 3))
        cfg["dilation"].append(draw.choice([1, 1, 2, 3]))
        cfg["pads"][axis] = draw.int(0, 3)
        cfg["pads"][axis + 2] = draw.int(0, 3)
    if op in ("MaxPool", "AveragePool", "LpPool"):
        cfg["ceil_mode"] = draw.int(0, 1)
    if op == "AveragePool":
        cfg["count_include_pad"] = draw.int(0, 1)
    if op in ("Conv", "ConvTranspose"):
        cfg["channels"] = draw.int(1, 3)
    if op == "ConvTranspose":
        cfg["output_padding"] = [draw.int(0, s - 1) for s in cfg["stride"]]
        if last and draw.int(0, 9) == 0:
            cfg["output_shape"] = [draw.int(1, 3 * n + 8) for n in (height, width)]
    return cfg


def draw_valid_chain(draw, channels: int, height: int, width: int, length: int) -> list[tuple[str, dict]]:
    """Up to ``length`` layers, each valid for the size the layers before it produce.

    The sizes between layers come from analyze itself; were one wrong, the
    comparison with onnxruntime would fail at that layer anyway.
    """
    chain: list[tuple[str, dict]] = []
    size = (height, width)
    for position in range(length):
        op = draw.choice(OPS)
        for _attempt in range(20):
            cfg = draw_layer(draw, op, *size, last=position == length - 1)
            if all(axis_is_valid(op, n, cfg, axis) for axis, n in enumerate(size)):
                break
        else:
            break  # nothing valid drawn for this size: the chain ends here
        chain.append((op, cfg))
        shape = analyze(build_model(chain, channels, height, width))[-1].output_shape
        size = (shape[2], shape[3])
        if max(size) > MAX_SIZE:
            break
    return chain


# ---------------------------------------------------------------------------
# building and running


def build_model(chain: list[tuple[str, dict]], channels: int, height: int, width: int):
    """The chain as an ONNX model whose every node output is a graph output."""
    rng = np.random.default_rng(0)
    nodes, initializers, outputs = [], [], []
    current, current_channels = "x", channels
    for index, (op, cfg) in enumerate(chain):
        name = f"layer{index}"
        attrs = {"kernel_shape": cfg["kernel"], "strides": cfg["stride"], "auto_pad": cfg["auto_pad"],
                 "dilations": cfg["dilation"]}
        if cfg["auto_pad"] == "NOTSET":
            attrs["pads"] = cfg["pads"]
        inputs = [current]
        if op in ("Conv", "ConvTranspose"):
            out_channels = cfg["channels"]
            if op == "Conv":
                weight_shape = [out_channels, current_channels, *cfg["kernel"]]
            else:
                weight_shape = [current_channels, out_channels, *cfg["kernel"]]
                attrs["output_padding"] = cfg["output_padding"]
                if cfg.get("output_shape"):
                    attrs["output_shape"] = cfg["output_shape"]
            weight = rng.standard_normal(weight_shape).astype(np.float32)
            bias = rng.standard_normal([out_channels]).astype(np.float32)
            initializers += [numpy_helper.from_array(weight, f"{name}_w"), numpy_helper.from_array(bias, f"{name}_b")]
            inputs += [f"{name}_w", f"{name}_b"]
            current_channels = out_channels
        else:
            attrs["ceil_mode"] = cfg["ceil_mode"]
            if op == "AveragePool":
                attrs["count_include_pad"] = cfg["count_include_pad"]
        output = f"{name}_out"
        nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        outputs.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, None))
        current = output
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, height, width])],
        outputs, initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def run_onnxruntime(model, channels: int, height: int, width: int) -> dict[str, tuple[int, ...]]:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    image = np.random.default_rng(1).standard_normal((1, channels, height, width)).astype(np.float32)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, (a.shape for a in session.run(names, {"x": image}))))


def check_chain_matches_onnxruntime(draw) -> int:
    """Draw a valid chain and compare every intermediate shape; returns its length."""
    channels, height, width = draw.int(1, 2), draw.int(1, 24), draw.int(1, 24)
    chain = draw_valid_chain(draw, channels, height, width, draw.int(1, 3))
    if not chain:
        return 0
    model = build_model(chain, channels, height, width)
    layers = analyze(model)
    actual = run_onnxruntime(model, channels, height, width)
    assert len(layers) == len(chain)
    for layer in layers:
        assert tuple(layer.output_shape) == actual[layer.output], (
            f"{layer.display_name} {layer.op} {layer.hyper}: computed {layer.output_shape}, "
            f"onnxruntime {list(actual[layer.output])}; chain {chain} on 1×{channels}×{height}×{width}")
    return len(chain)


# ---------------------------------------------------------------------------
# the tests


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_chains_match_onnxruntime(data):
    check_chain_matches_onnxruntime(HypothesisDraw(data))


def test_fixed_seed_chains_match_onnxruntime():
    lengths = [check_chain_matches_onnxruntime(RandomDraw(seed)) for seed in range(150)]
    # The loop must really exercise chains, not skip them all.
    assert sum(1 for n in lengths if n >= 1) >= 140
    assert sum(1 for n in lengths if n >= 2) >= 60


def test_ceil_mode_window_in_right_padding_is_dropped_like_onnxruntime():
    # n=5, k=2, s=2, pads 1+1: ⌈(5 + 2 − 2)/2⌉ + 1 = 4 by the formula, but the
    # 4th window would start at padded index 6, inside the right padding.
    cfg = {"kernel": [2, 2], "stride": [2, 2], "dilation": [1, 1], "pads": [1, 1, 1, 1],
           "auto_pad": "NOTSET", "ceil_mode": 1}
    for op in ("MaxPool", "AveragePool"):
        extra = {"count_include_pad": 0} if op == "AveragePool" else {}
        model = build_model([(op, {**cfg, **extra})], 1, 5, 5)
        layer = analyze(model)[0]
        assert layer.output_shape == [1, 1, 3, 3]
        assert run_onnxruntime(model, 1, 5, 5)["layer0_out"] == (1, 1, 3, 3)
        assert "drops" in layer.formula


INVALID_KINDS = ["kernel_too_big", "pool_pad_not_smaller", "output_padding_too_big", "transpose_crops_all"]


def draw_invalid_layer(draw, kind: str, height: int, width: int) -> tuple[str, dict]:
    if kind == "kernel_too_big":
        op = draw.choice(["Conv", "MaxPool", "AveragePool", "LpPool"])
        cfg = draw_layer(draw, op, height, width)
        cfg["auto_pad"] = "NOTSET"
        d = cfg["dilation"][0]
        pb = pe = 0
        cfg["pads"][0] = cfg["pads"][2] = 0
        # Smallest kernel whose dilated window is wider than the padded height.
        cfg["kernel"][0] = (height + pb + pe) // d + 1 + draw.int(0, 2)
        while effective(cfg["kernel"][0], d) <= height:
            cfg["kernel"][0] += 1
        return op, cfg
    if kind == "pool_pad_not_smaller":
        op = draw.choice(["MaxPool", "AveragePool"])
        cfg = draw_layer(draw, op, height, width)
        cfg["auto_pad"] = "NOTSET"
        cfg["kernel"][1] = draw.int(1, 3)
        cfg["pads"][draw.choice([1, 3])] = cfg["kernel"][1] + draw.int(0, 2)
        return op, cfg
    cfg = draw_layer(draw, "ConvTranspose", height, width)
    cfg["auto_pad"] = "NOTSET"
    cfg.pop("output_shape", None)
    if kind == "output_padding_too_big":
        cfg["output_padding"][0] = cfg["stride"][0] + draw.int(0, 2)
    else:  # padding larger than everything the layer makes
        natural = ((width - 1) * cfg["stride"][1] + effective(cfg["kernel"][1], cfg["dilation"][1])
                   + cfg["output_padding"][1])
        cfg["pads"][1] = natural // 2
        cfg["pads"][3] = natural - natural // 2 + draw.int(0, 2)
    return "ConvTranspose", cfg


def check_invalid_layer_raises(draw) -> None:
    height, width = draw.int(1, 12), draw.int(1, 12)
    op, cfg = draw_invalid_layer(draw, draw.choice(INVALID_KINDS), height, width)
    assert not all(axis_is_valid(op, n, cfg, axis) for axis, n in enumerate((height, width)))
    model = build_model([(op, cfg)], 1, height, width)
    with pytest.raises(ShapeError) as caught:
        analyze(model)
    message = str(caught.value)
    assert "layer0" in message and op in message
    assert "\n" not in message
    assert any(ch.isdigit() for ch in message)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_invalid_layers_raise_shape_error(data):
    check_invalid_layer_raises(HypothesisDraw(data))


def test_invalid_layers_raise_shape_error_fixed_seed():
    for seed in range(60):
        check_invalid_layer_raises(RandomDraw(1000 + seed))
