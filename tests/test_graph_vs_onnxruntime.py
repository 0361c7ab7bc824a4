"""graph.analyze against onnxruntime: the shapes it computes without running a
model must be the shapes onnxruntime's CPU provider actually produces, for every
intermediate tensor of random 1-D, 2-D and 3-D Conv / ConvTranspose / pooling
chains.

Validity is decided here by independent rules (a Conv window must fit in the
padded input, pooling pads must be smaller than the kernel, a pooling size
worked out with C's truncating division must not be negative, …), not by the
code under test: valid chains must match onnxruntime exactly, invalid layers
must raise ShapeError. Pooling windows wider than the padded input are drawn
on purpose (onnxruntime gives them 1 output, or an empty one). One
configuration the ONNX spec defines but onnxruntime will not run (Conv with
SAME padding and a dilation, for which the app shows the spec's size) is left
out of both. test_every_setting_combination_matches_onnxruntime uses
onnxruntime itself as the oracle, over every combination of the settings.
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

# The layers onnxruntime refuses here are refused on purpose: not worth a log line each.
ort.set_default_logger_severity(4)


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


def pool_size_as_onnxruntime(n: int, k: int, s: int, d: int, pb: int, pe: int, ceil_mode: int) -> int:
    """onnxruntime's pooling size: C's integer division (toward zero), ceil mode in floats."""
    numerator = n + pb + pe - effective(k, d)
    if not ceil_mode:
        return int(numerator / s) + 1
    size = math.ceil(numerator / s) + 1
    return size - 1 if (size - 1) * s >= n + pb else size


def axis_is_valid(op: str, n: int, cfg: dict, axis: int) -> bool:
    """Whether onnxruntime can run this layer along one axis (pooling: ≥ 0 outputs; the rest ≥ 1)."""
    if n < 1:
        return False  # onnxruntime runs no Conv or pooling on an empty input
    k, s, d = cfg["kernel"][axis], cfg["stride"][axis], cfg["dilation"][axis]
    rank = len(cfg["kernel"])
    pb, pe = cfg["pads"][axis], cfg["pads"][axis + rank]
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
    return pool_size_as_onnxruntime(n, k, s, d, pb, pe, cfg["ceil_mode"]) >= 0


def layer_is_valid(op: str, size: tuple[int, ...], cfg: dict) -> bool:
    """Every axis valid, and what onnxruntime checks across axes."""
    if not all(axis_is_valid(op, n, cfg, axis) for axis, n in enumerate(size)):
        return False
    if op == "MaxPool" and cfg["auto_pad"] in ("SAME_UPPER", "SAME_LOWER") and set(cfg["dilation"]) == {1}:
        # Its fast path (no dilation) refuses a negative SAME padding; the others crop.
        pads = [pool_same_pads(n, k, s, cfg["auto_pad"]) for n, k, s in zip(size, cfg["kernel"], cfg["stride"])]
        return min(min(p) for p in pads) >= 0
    return True

def draw_layer(draw, op: str, size: tuple[int, ...], last: bool = True) -> dict:
    """A random configuration of op for an input of spatial size ``size`` (maybe invalid).

    ConvTranspose's output_shape is only drawn for the last layer of a chain:
    when it crops a lot, ONNX shape inference (1.23) drops the spatial axes of
    that tensor, and onnxruntime then refuses to load a model where another
    layer follows it.
    """
    auto_pad = draw.choice(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])
    rank = len(size)
    cfg = {"auto_pad": auto_pad, "kernel": [], "stride": [], "dilation": [], "pads": [0] * (2 * rank)}
    for axis, n in enumerate(size):
        # Up to n + 4 pixels: pooling windows wider than the padded input are drawn too.
        cfg["kernel"].append(draw.int(1, min(7, n + 4)))
        cfg["stride"].append(draw.int(1, 3))
        cfg["dilation"].append(draw.choice([1, 1, 2, 3]))
        cfg["pads"][axis] = draw.int(0, 3)
        cfg["pads"][axis + rank] = draw.int(0, 3)
    if op in ("MaxPool", "AveragePool", "LpPool"):
        cfg["ceil_mode"] = draw.int(0, 1)
    if op == "AveragePool":
        cfg["count_include_pad"] = draw.int(0, 1)
    if op in ("Conv", "ConvTranspose"):
        cfg["channels"] = draw.int(1, 3)
    if op == "ConvTranspose":
        cfg["output_padding"] = [draw.int(0, s - 1) for s in cfg["stride"]]
        if last and draw.int(0, 9) == 0:
            cfg["output_shape"] = [draw.int(1, 3 * n + 8) for n in size]
    return cfg


def draw_valid_chain(draw, channels: int, size: tuple[int, ...], length: int) -> list[tuple[str, dict]]:
    """Up to ``length`` layers, each valid for the size the layers before it produce.

    The sizes between layers come from analyze itself; were one wrong, the
    comparison with onnxruntime would fail at that layer anyway.
    """
    chain: list[tuple[str, dict]] = []
    start = size
    for position in range(length):
        op = draw.choice(OPS)
        for _attempt in range(20):
            cfg = draw_layer(draw, op, size, last=position == length - 1)
            if layer_is_valid(op, size, cfg):
                break
        else:
            break  # nothing valid drawn for this size: the chain ends here
        chain.append((op, cfg))
        shape = analyze(build_model(chain, channels, start))[-1].output_shape
        size = tuple(shape[2:])
        if max(size) > MAX_SIZE or math.prod(size) > MAX_SIZE ** 2 or min(size) == 0:
            break  # an empty output ends the chain: onnxruntime runs nothing on it
    return chain


# ---------------------------------------------------------------------------
# building and running


def build_model(chain: list[tuple[str, dict]], channels: int, size: tuple[int, ...]):
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
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, *size])],
        outputs, initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def run_onnxruntime(model, channels: int, size: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    options = ort.SessionOptions()
    options.log_severity_level = 4  # refusals are expected here; the exception says why
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    image = np.random.default_rng(1).standard_normal((1, channels, *size)).astype(np.float32)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, (a.shape for a in session.run(names, {"x": image}))))


PAST_INPUT_NOTES = ("toward zero", "window is wider than the padded input")


def check_chain_matches_onnxruntime(draw) -> tuple[int, int, int]:
    """Draw a valid chain and compare every intermediate shape.

    Returns its length, its number of spatial axes and how many of its layers
    have a window wider than the padded input.
    """
    channels, rank = draw.int(1, 2), draw.choice([1, 2, 2, 3])
    size = tuple(draw.int(1, {1: 40, 2: 24, 3: 8}[rank]) for _ in range(rank))
    chain = draw_valid_chain(draw, channels, size, draw.int(1, 3))
    if not chain:
        return 0, rank, 0
    model = build_model(chain, channels, size)
    layers = analyze(model)
    actual = run_onnxruntime(model, channels, size)
    assert len(layers) == len(chain)
    for layer in layers:
        assert tuple(layer.output_shape) == actual[layer.output], (
            f"{layer.display_name} {layer.op} {layer.hyper}: computed {layer.output_shape}, "
            f"onnxruntime {list(actual[layer.output])}; chain {chain} on 1×{channels}×{size}")
    return len(chain), rank, sum(1 for layer in layers if any(n in layer.note for n in PAST_INPUT_NOTES))


# ---------------------------------------------------------------------------
# the tests


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_chains_match_onnxruntime(data):
    check_chain_matches_onnxruntime(HypothesisDraw(data))


def test_fixed_seed_chains_match_onnxruntime():
    drawn = [check_chain_matches_onnxruntime(RandomDraw(seed)) for seed in range(150)]
    lengths = [n for n, _, _ in drawn]
    # The loop must really exercise chains, not skip them all, in every number of axes,
    # and reach windows wider than the padded input.
    assert sum(1 for n in lengths if n >= 1) >= 140
    assert sum(1 for n in lengths if n >= 2) >= 60
    for rank in (1, 2, 3):
        assert sum(1 for n, r, _ in drawn if r == rank and n >= 1) >= 20
    assert sum(past for _, _, past in drawn) >= 25  # 39 when written


# Every combination of the settings, each on sizes where the window fits, fits
# exactly, is wider than the padded input by less than a stride, and by more.
COMBINATION_SIZES = [(5, 3), (3, 3), (1, 3), (2, 5), (6, 7)]  # (n, k)


def combinations():
    for op in ("MaxPool", "AveragePool", "LpPool", "Conv"):
        pooling = op != "Conv"
        for auto_pad in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
            for ceil_mode in ((0, 1) if pooling else (0,)):
                for include in ((0, 1) if op == "AveragePool" else (0,)):
                    for dilation in (1, 2):
                        for stride in (1, 3):
                            for pads in ((0, 0), (1, 1), (1, 2), (2, 0)):
                                if auto_pad != "NOTSET" and pads != (0, 0):
                                    continue  # pads are ignored with auto_pad
                                yield op, auto_pad, ceil_mode, include, dilation, stride, pads


def test_every_setting_combination_matches_onnxruntime():
    """onnxruntime is the oracle: where it runs, the same shape; where it refuses, a ShapeError."""
    compared = refused = past = 0
    for index, (op, auto_pad, ceil_mode, include, d, s, (pb, pe)) in enumerate(combinations()):
        for n, k in COMBINATION_SIZES:
            rank = 1 + (index + n) % 3  # 1-D, 2-D and 3-D in turn
            size = (n,) + (4,) * (rank - 1)
            cfg = {"auto_pad": auto_pad, "kernel": [k] + [2] * (rank - 1), "stride": [s] + [1] * (rank - 1),
                   "dilation": [d] + [1] * (rank - 1), "pads": [pb] + [0] * (rank - 1) + [pe] + [1] * (rank - 1),
                   "ceil_mode": ceil_mode, "count_include_pad": include, "channels": 1}
            model = build_model([(op, cfg)], 1, size)
            try:
                actual = run_onnxruntime(model, 1, size)["layer0_out"]
            except Exception:
                actual = None
            if actual is None and op == "Conv" and auto_pad != "NOTSET" and auto_pad != "VALID" and d > 1:
                # SAME with a dilation: the app shows the spec's size and says onnxruntime cannot run it.
                assert "onnxruntime cannot run a Conv with SAME padding and a dilation" in analyze(model)[0].note
                continue
            label = f"{op} {cfg} on {size}"
            if actual is None:
                with pytest.raises(ShapeError):
                    analyze(model)
                assert not layer_is_valid(op, size, cfg), label
                refused += 1
                continue
            layer = analyze(model)[0]
            assert tuple(layer.output_shape) == actual, f"{label}: {layer.output_shape} ≠ onnxruntime {actual}"
            assert layer_is_valid(op, size, cfg), label  # the generator's oracle agrees
            compared += 1
            past += any(note in layer.note for note in PAST_INPUT_NOTES)
    assert compared >= 900 and refused >= 250 and past >= 250  # 966, 274 and 288 when written


def test_ceil_mode_window_in_right_padding_is_dropped_like_onnxruntime():
    # n=5, k=2, s=2, pads 1+1: ⌈(5 + 2 − 2)/2⌉ + 1 = 4 by the formula, but the
    # 4th window would start at padded index 6, inside the right padding.
    cfg = {"kernel": [2, 2], "stride": [2, 2], "dilation": [1, 1], "pads": [1, 1, 1, 1],
           "auto_pad": "NOTSET", "ceil_mode": 1}
    for op in ("MaxPool", "AveragePool"):
        extra = {"count_include_pad": 0} if op == "AveragePool" else {}
        model = build_model([(op, {**cfg, **extra})], 1, (5, 5))
        layer = analyze(model)[0]
        assert layer.output_shape == [1, 1, 3, 3]
        assert run_onnxruntime(model, 1, (5, 5))["layer0_out"] == (1, 1, 3, 3)
        assert "drops" in layer.formula


INVALID_KINDS = ["kernel_too_big", "pool_size_negative", "pool_pad_not_smaller", "maxpool_same_crop",
                 "output_padding_too_big", "transpose_crops_all"]


def draw_invalid_layer(draw, kind: str, size: tuple[int, ...]) -> tuple[str, dict]:
    rank = len(size)
    if kind in ("kernel_too_big", "pool_size_negative"):
        # A Conv refuses any window wider than the padded input; pooling only one
        # so much wider that the size comes out negative: numerator ≤ −2·s.
        op = "Conv" if kind == "kernel_too_big" else draw.choice(["MaxPool", "AveragePool", "LpPool"])
        cfg = draw_layer(draw, op, size)
        cfg["auto_pad"] = "NOTSET"
        cfg["pads"][0] = cfg["pads"][rank] = 0
        d, s = cfg["dilation"][0], cfg["stride"][0]
        widest = size[0] + (2 * s if op != "Conv" else 1)
        cfg["kernel"][0] = 1 + draw.int(0, 2)
        while effective(cfg["kernel"][0], d) < widest:
            cfg["kernel"][0] += 1
        return op, cfg
    if kind == "pool_pad_not_smaller":
        op = draw.choice(["MaxPool", "AveragePool"])
        cfg = draw_layer(draw, op, size)
        cfg["auto_pad"] = "NOTSET"
        axis = rank - 1
        cfg["kernel"][axis] = draw.int(1, 3)
        cfg["pads"][draw.choice([axis, axis + rank])] = cfg["kernel"][axis] + draw.int(0, 2)
        return op, cfg
    if kind == "maxpool_same_crop":
        # A kernel smaller than a stride that does not divide n: SAME pads −1 or less.
        cfg = draw_layer(draw, "MaxPool", size)
        cfg["auto_pad"] = draw.choice(["SAME_UPPER", "SAME_LOWER"])
        cfg["dilation"] = [1] * rank
        cfg["kernel"][0], cfg["stride"][0] = 1, 3
        return "MaxPool", cfg
    cfg = draw_layer(draw, "ConvTranspose", size)
    cfg["auto_pad"] = "NOTSET"
    cfg.pop("output_shape", None)
    axis = rank - 1
    if kind == "output_padding_too_big":
        cfg["output_padding"][0] = cfg["stride"][0] + draw.int(0, 2)
    else:  # padding larger than everything the layer makes
        natural = ((size[axis] - 1) * cfg["stride"][axis] + effective(cfg["kernel"][axis], cfg["dilation"][axis])
                   + cfg["output_padding"][axis])
        cfg["pads"][axis] = natural // 2
        cfg["pads"][axis + rank] = natural - natural // 2 + draw.int(0, 2)
    return "ConvTranspose", cfg


def check_invalid_layer_raises(draw) -> None:
    rank = draw.choice([1, 2, 3])
    kind = draw.choice(INVALID_KINDS)
    size = tuple(draw.int(1, 12) for _ in range(rank))
    if kind == "maxpool_same_crop":
        size = (draw.choice([2, 5, 8, 11]),) + size[1:]  # n = 2 mod 3: SAME pads −1
    op, cfg = draw_invalid_layer(draw, kind, size)
    assert not layer_is_valid(op, size, cfg)
    model = build_model([(op, cfg)], 1, size)
    with pytest.raises(ShapeError) as caught:
        analyze(model)
    message = str(caught.value)
    assert "layer0" in message and op in message
    assert "\n" not in message
    assert any(ch.isdigit() for ch in message)
    with pytest.raises(Exception):  # onnxruntime refuses it too
        run_onnxruntime(model, 1, size)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_invalid_layers_raise_shape_error(data):
    check_invalid_layer_raises(HypothesisDraw(data))


def test_invalid_layers_raise_shape_error_fixed_seed():
    for seed in range(60):
        check_invalid_layer_raises(RandomDraw(1000 + seed))
