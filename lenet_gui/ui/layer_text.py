"""Words for the layer panel: names, operations, hyper-parameters, shape checks.

No Qt here. The names come from the model's metadata where it has them
(the shipped LeNet-5 describes c1, s2, c3, s4, c5 and f6), from the node
names otherwise.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # graph imports onnx, which the window loads after its first paint
    from lenet_gui.core.graph import Layer

TIMES = "×"


@functools.cache
def _tables() -> dict:
    """Titles, formula lines, main rows and sign behaviour, from the op registry.

    Looked up on first use: the registry reads onnx's schemas, and the window
    imports onnx only after its first paint.
    """
    from lenet_gui.core import ops

    return {
        "OP_TITLES": ops.titles(),
        # What an element-wise op does to each value, for the one-line rows.
        "ELEMENTWISE_FORMULAS": ops.elementwise_formulas(),
        # Ops whose rows get the full treatment (hyper-parameters, formula, parameters).
        "MAIN_OPS": ops.main_ops(),
        # Outputs that cannot be negative when their input cannot; used to pick colour maps.
        "_NON_NEGATIVE_OPS": ops.ops_with_sign(ops.SIGN_NON_NEGATIVE),
        "_KEEPS_SIGN_OPS": ops.ops_with_sign(ops.SIGN_KEEPS),
    }


def __getattr__(name: str):
    # layer_text.OP_TITLES and friends, computed on first access.
    if name in ("OP_TITLES", "ELEMENTWISE_FORMULAS", "MAIN_OPS", "_NON_NEGATIVE_OPS", "_KEEPS_SIGN_OPS"):
        return _tables()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def shape_text(shape) -> str:
    if shape is None:
        return "?"
    return TIMES.join(str(int(d)) for d in shape) if len(shape) else "scalar"


def op_title(op: str) -> str:
    return _tables()["OP_TITLES"].get(op, op)


def is_compact(layer: Layer) -> bool:
    """Rows without hyper-parameters or weights read better as one line."""
    return layer.op not in _tables()["MAIN_OPS"] and layer.params == 0


def _described(meta: dict) -> dict[str, str]:
    try:
        data = json.loads(meta.get("activations", "") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _tag_from_description(tensor: str, description: str) -> str:
    head = description.split(":", 1)[0].strip()
    return head if ":" in description and 0 < len(head) <= 12 else tensor.upper()


def _tag_from_node_name(name: str, op: str) -> str | None:
    """'/c1/Conv' or 'c1.conv' → 'C1', 'output.gemm' → 'Output'; None for names that only repeat the op.

    A deeper module scope names the innermost module ('/layer1/layer1.0/conv1/Conv' → 'Conv1'): the
    blocks around the row already say the outer ones.
    """
    scope = [p for p in name.split("/") if p][:-1]
    if len(scope) >= 2:
        part = scope[-1]
        if part.lower().startswith(op.lower()):
            return None
        return part.upper() if len(part) <= 3 else part[:1].upper() + part[1:]
    parts = [p for p in re.split(r"[/\\.:]", name) if p]
    if len(parts) < 2:
        return None
    part = parts[0]
    if part.lower().startswith(op.lower()):
        return None
    return part.upper() if len(part) <= 3 else part[:1].upper() + part[1:]


@dataclass(frozen=True)
class LayerName:
    tag: str | None  # "C1", "Output", or None
    description: str  # from the metadata, or ""
    before: str = ""  # the description is that of the next layer, this op (e.g. "ReLU"), applied after this one

    def title(self, layer: Layer) -> str:
        if self.tag:
            return f"{self.tag} · {op_title(layer.op)}"
        return f"{op_title(layer.op)} #{layer.index + 1}"



def row_description(name: LayerName, kind: str = "maps") -> str:
    """What a row's pictures are, from the model's description of its stage.

    A convolution whose ReLU has a row of its own shows the values before the
    ReLU, so "…, ReLU" is taken off its description and it says so instead.
    """
    text = name.description.split(":", 1)[-1].strip()
    if not name.before:
        return text
    suffix = f", {name.before}".lower()
    if text.lower().endswith(suffix):
        text = text[: -len(suffix)]
    what = "maps" if kind == "maps" else "values"
    return f"{text}; these are the {what} before the {name.before}, which the next row applies"

def layer_names(layers: list[Layer], meta: dict) -> dict[int, LayerName]:
    """A name for every layer, keyed by layer index.

    A node whose output the metadata describes takes that name (ReLU → "C1");
    the convolution feeding it takes the same one, so "C1 · Convolution" and
    "C1 · ReLU" read as one stage of the network.
    """
    described = _described(meta)
    readers: dict[str, list[Layer]] = {}
    for layer in layers:
        for name in layer.inputs:
            readers.setdefault(name, []).append(layer)
    names: dict[int, LayerName] = {}
    for layer in layers:
        if layer.output in described:
            desc = described[layer.output]
            names[layer.index] = LayerName(_tag_from_description(layer.output, desc), desc)
            continue
        next_layers = readers.get(layer.output, [])
        if len(next_layers) == 1 and next_layers[0].op in _tables()["ELEMENTWISE_FORMULAS"] and next_layers[0].output in described:
            tensor = next_layers[0].output
            desc = described[tensor]
            names[layer.index] = LayerName(_tag_from_description(tensor, desc), desc, op_title(next_layers[0].op))
            continue
        names[layer.index] = LayerName(_tag_from_node_name(layer.name, layer.op), "")
    return names


def _pair(values) -> str:
    values = list(values)
    return TIMES.join(str(v) for v in values) if len(set(values)) > 1 else str(values[0])


def hyper_text(layer: Layer) -> str:
    """'kernel 5×5 · stride 1 · padding 0 · dilation 1' and friends."""
    hyper = layer.hyper or {}
    parts = []
    if "kernel" in hyper:
        parts.append(f"kernel {TIMES.join(str(k) for k in hyper['kernel'])}")
    if "stride" in hyper:
        parts.append(f"stride {_pair(hyper['stride'])}")
    if "pads" in hyper:
        pads = list(hyper["pads"])
        half = len(pads) // 2
        begins, ends = pads[:half], pads[half:]
        if len(set(pads)) <= 1:
            parts.append(f"padding {pads[0] if pads else 0}")
        elif begins == ends:
            parts.append(f"padding {_pair(begins)}")
        else:
            parts.append(f"padding {'+'.join(map(str, begins))} before, {'+'.join(map(str, ends))} after")
    auto_pad = hyper.get("auto_pad")
    if auto_pad and auto_pad != "NOTSET":
        parts.append(f"auto_pad {auto_pad}")
    if "dilation" in hyper:
        parts.append(f"dilation {_pair(hyper['dilation'])}")
    if hyper.get("group", 1) not in (1, None):
        parts.append(f"groups {hyper['group']}")
    if hyper.get("ceil_mode"):
        parts.append("ceil mode")
    return " · ".join(parts)


def params_text(layer: Layer) -> str:
    if not layer.params:
        return ""
    working = f" ({layer.params_formula.rsplit('=', 1)[0].strip()})" if layer.params_formula else ""
    return f"{layer.params:,} parameters{working}"


def receptive_text(layer: Layer, input_size: tuple[int, int] | None) -> str:
    """What one unit of the layer looks at on the input image."""
    rf = layer.rf
    if rf is None or len(rf.size) != 2:
        return ""
    if input_size and rf.size[0] >= input_size[0] and rf.size[1] >= input_size[1]:
        # Clipped as the shapes table clips it: no unit sees more than the whole input.
        text = f"each unit sees the whole {input_size[0]}{TIMES}{input_size[1]} input"
        if tuple(rf.size) != tuple(input_size):
            text += f" (its field counting padding is {rf.size[0]}{TIMES}{rf.size[1]})"
        return text
    jump = f", {_pair(rf.jump)} px apart" if max(rf.jump) > 1 else ""
    return f"each unit sees {rf.size[0]}{TIMES}{rf.size[1]} input pixels{jump}"


def may_be_negative(layers: list[Layer]) -> dict[int, bool]:
    """Per layer: can its output be negative? (picks a diverging or a plain colour map)."""
    by_output = {layer.output: layer for layer in layers}
    signed: dict[int, bool] = {}
    for layer in layers:
        if layer.op in _tables()["_NON_NEGATIVE_OPS"]:
            signed[layer.index] = False
        elif layer.op in _tables()["_KEEPS_SIGN_OPS"] and layer.inputs and layer.inputs[0] in by_output:
            signed[layer.index] = signed.get(by_output[layer.inputs[0]].index, True)
        else:
            signed[layer.index] = True
    return signed


@dataclass(frozen=True)
class ShapeCheck:
    # "ok", "mismatch", "runtime" (the shape is onnxruntime's own), "none" (nothing to compare yet),
    # "absent" (no activation)
    status: str
    text: str  # the mark itself
    detail: str  # a sentence for the tooltip


def check_shape(layer: Layer, runtime_shape) -> ShapeCheck:
    """Does the worked-out shape equal what onnxruntime returned for this layer?"""
    computed = None if layer.output_shape is None else list(layer.output_shape[1:])
    if runtime_shape is None:
        if layer.constant:
            return ShapeCheck("absent", "", "Computed from the weights alone; onnxruntime returns no activation for it.")
        return ShapeCheck("none", "", "")
    runtime = [int(d) for d in runtime_shape]
    if layer.shape_source == "onnxruntime" and computed == runtime:
        return ShapeCheck(
            "runtime", "onnxruntime's shape",
            f"No formula here gives this layer's shape; {shape_text(runtime)} is the shape onnxruntime returned.",
        )
    if computed is None:
        return ShapeCheck(
            "mismatch", f"? ≠ {shape_text(runtime)}",
            f"The shape could not be worked out here; onnxruntime returned {shape_text(runtime)}.",
        )
    if computed == runtime:
        return ShapeCheck(
            "ok", "✓",
            f"The worked-out shape {shape_text(computed)} equals the shape of the activation onnxruntime returned.",
        )
    return ShapeCheck(
        "mismatch", f"✗ {shape_text(computed)} ≠ {shape_text(runtime)}",
        f"Worked out {shape_text(computed)}, but onnxruntime returned {shape_text(runtime)}.",
    )


# Counting: people count from 1, numpy from 0. Everything a person reads counts from 1
# ("map 2 of 6", "node 4", "row 3") and gives the 0-based numpy index beside it where
# one could be looked up; JSON output keeps numpy's 0-based indexes.


def counted(what: str, index: int, total: int) -> str:
    """'map 2 of 6 (index 1)' for the map numpy calls 1."""
    return f"{what} {index + 1} of {total} (index {index})"


def unit_text(kind: str, channel: int, count: int, row: int = 0, col: int = 0) -> str:
    """A unit of a layer, counted from 1, with its numpy index: 'map 2 of 6, row 4, column 6 (index [1, 3, 5])'."""
    if kind == "maps":
        return f"map {channel + 1} of {count}, row {row + 1}, column {col + 1} (index [{channel}, {row}, {col}])"
    return counted("unit", channel, count)


def box_text(box: tuple[int, int, int, int], height: int, width: int) -> str:
    """The input pixels a receptive field covers, counted from 1, clipped to the image and saying so."""
    y0, x0, y1, x1 = box
    cy0, cx0 = max(y0, 0), max(x0, 0)
    cy1, cx1 = min(y1, height), min(x1, width)
    text = f"sees input rows {cy0 + 1}–{cy1}, columns {cx0 + 1}–{cx1} ({cy1 - cy0}{TIMES}{cx1 - cx0})"
    if (cy0, cx0, cy1, cx1) != (y0, x0, y1, x1):
        text += f"; its {y1 - y0}{TIMES}{x1 - x0} field reaches into the padding"
    return text
