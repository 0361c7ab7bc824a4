"""Large weights left in the model's file, read back only when a view asks for them.

Once onnxruntime holds its own copy of a model, the graph the window keeps needs its
large weights only for a kernel view, an explanation or a second session: holding them
would add the model's size to the window's memory for nothing (ResNet-18: 43 MB). Each
large float initializer is marked as external data pointing at the bytes already in the
file (found by walking the protobuf wire format), and read back from there on demand.

A file changed on disk since it was opened is never read at the old offsets: the
read says so instead, and the person reopens the model.
"""

from __future__ import annotations

import math
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from lenet_gui.core.errors import ModelError

# Float tensors of at most this many values stay in memory: the shape analysis reads their
# values (graph.READ_FLOAT_VALUES_UP_TO), and together they are small.
KEEP_FLOATS_UP_TO = 65_536
_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}

# Field numbers in onnx.proto: ModelProto.graph, GraphProto.initializer, TensorProto.name/raw_data.
_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_NAME, _TENSOR_RAW_DATA = 7, 5, 8, 9


@dataclass(frozen=True)
class _Span:
    path: Path
    offset: int
    length: int
    stamp: tuple[int, ...]  # the file's identity, size and times when it was opened


def _stamp(path: Path) -> tuple[int, ...]:
    # A re-export often has the very same size; a file replaced by another has a new inode,
    # and one written in place a new change time, even where modification times are coarse.
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _varint(buf, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf, start: int, end: int):
    """(field number, payload start, payload end) of each length-delimited field in buf[start:end]."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            yield number, pos, pos + length
            pos += length
        else:  # groups: not in onnx.proto
            raise ValueError(f"unexpected wire type {wire}")
    if pos != end:
        raise ValueError("field runs past its message")


def raw_data_spans(path: Path) -> dict[str, tuple[int, int]]:
    """Initializer name → (offset, length) of its raw_data in the file; names seen twice are left out."""
    spans: dict[str, tuple[int, int]] = {}
    seen: set[str] = set()
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for number, g0, g1 in _fields(buf, 0, len(buf)):
            if number != _MODEL_GRAPH:
                continue
            for field, t0, t1 in _fields(buf, g0, g1):
                if field != _GRAPH_INITIALIZER:
                    continue
                name, raw = None, None
                for part, p0, p1 in _fields(buf, t0, t1):
                    if part == _TENSOR_NAME:
                        name = bytes(buf[p0:p1]).decode()  # not UTF-8: ValueError, all stays in memory
                    elif part == _TENSOR_RAW_DATA:
                        raw = (p0, p1 - p0)
                if name is None or raw is None:
                    continue
                if name in seen:
                    spans.pop(name, None)
                else:
                    spans[name] = raw
                seen.add(name)
    return spans


class WeightFile:
    """Reads a model's initializers, from memory or, for those left in the file, from there."""

    def __init__(self, spans: dict[str, _Span] | None = None) -> None:
        self._spans = spans or {}

    @property
    def offloaded(self) -> int:
        """How many initializers are read from the file when asked."""
        return len(self._spans)

    def holds(self, tensor: onnx.TensorProto) -> bool:
        """Whether ``tensor``'s values were left in the file and can be read from there."""
        return tensor.name in self._spans

    @classmethod
    def offload(cls, model: onnx.ModelProto, path: Path,
                external: dict[str, _Span] | None = None) -> tuple[onnx.ModelProto, WeightFile]:
        """``model`` without its large float weights, left in ``path`` (or their external data files).

        Returns a new model: protobuf frees memory only with the whole message, so the caller
        drops ``model`` (which loses those weights too) and every part of it it still holds.
        ``external``: spans of weights that came from external data files (``external_spans``).
        A tensor whose bytes in the file differ from those in memory is kept in memory.
        """
        large = [t for t in model.graph.initializer if _is_large(t) and t.HasField("raw_data")]
        if not large:
            return model, cls()
        external = external or {}
        spans: dict[str, _Span] = {}
        try:
            own = raw_data_spans(path)
            stamp = _stamp(path)
            with open(path, "rb") as fh:
                for tensor in large:
                    raw = tensor.raw_data
                    span = external.get(tensor.name)
                    if span is None and tensor.name in own:
                        offset, length = own[tensor.name]
                        fh.seek(offset)
                        if length == len(raw) and fh.read(length) == raw:
                            span = _Span(path, offset, length, stamp)
                    if span is not None and span.length == len(raw):
                        spans[tensor.name] = span
        except (OSError, ValueError, IndexError):  # unreadable now, or not plain protobuf: all stay in memory
            return model, cls()
        if not spans:
            return model, cls()
        for tensor in large:
            span = spans.get(tensor.name)
            if span is None:
                continue
            tensor.ClearField("raw_data")
            tensor.data_location = onnx.TensorProto.EXTERNAL
            del tensor.external_data[:]
            for key, value in (("location", span.path.name), ("offset", str(span.offset)),
                               ("length", str(span.length))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
        small = onnx.ModelProto()
        small.ParseFromString(model.SerializeToString())
        return small, cls(spans)

    def array(self, tensor: onnx.TensorProto) -> np.ndarray:
        """The tensor's values. Raises ModelError when its file changed since the model was opened."""
        span = self._spans.get(tensor.name)
        if span is None:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:  # another session's, or never loaded
                raise ModelError(f"the values of {tensor.name} are not loaded")
            return numpy_helper.to_array(tensor)
        try:
            if _stamp(span.path) != span.stamp:
                raise ModelError(f"{span.path.name} changed on disk since it was opened: "
                                 f"reopen the model to see its weights")
            with open(span.path, "rb") as fh:
                fh.seek(span.offset)
                data = fh.read(span.length)
        except OSError as exc:
            raise ModelError(f"{span.path.name} can no longer be read ({exc.strerror or exc}): "
                             f"reopen the model to see its weights") from None
        copy = onnx.TensorProto()
        copy.CopyFrom(tensor)
        copy.data_location = onnx.TensorProto.DEFAULT
        del copy.external_data[:]
        copy.raw_data = data
        return numpy_helper.to_array(copy)

    def restored(self, model: onnx.ModelProto) -> onnx.ModelProto:
        """A copy of ``model`` with every weight back in it (for a second onnxruntime session)."""
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        if not self._spans:
            return copy
        for tensor in copy.graph.initializer:
            if tensor.name in self._spans:
                tensor.CopyFrom(numpy_helper.from_array(self.array(tensor), tensor.name))
        return copy


def _is_large(tensor: onnx.TensorProto) -> bool:
    return tensor.data_type in _FLOAT_TYPES and math.prod(tensor.dims) > KEEP_FLOATS_UP_TO


def inferred_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type (0: unknown) of every tensor onnx's shape inference lists; {} where it gives up.

    Inference serialises the model and parses its answer back, weights and all (ResNet-18:
    150 ms a call): it is given a copy whose large weights are shapes only, which types
    every tensor the same way (an element type never depends on a weight's values).
    """
    graph = model.graph
    copy = onnx.ModelProto()
    copy.ir_version = model.ir_version
    copy.opset_import.extend(model.opset_import)
    copy.functions.extend(model.functions)
    skeleton = copy.graph
    skeleton.name = graph.name
    for field in ("node", "input", "output", "value_info", "sparse_initializer"):
        getattr(skeleton, field).extend(getattr(graph, field))
    for tensor in graph.initializer:
        if _is_large(tensor):
            skeleton.initializer.add(name=tensor.name, dims=tensor.dims, data_type=tensor.data_type)
        else:
            skeleton.initializer.append(tensor)
    try:
        inferred = onnx.shape_inference.infer_shapes(copy, strict_mode=False)
    except Exception:  # inference gives up on some models
        return {}
    return {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}


def external_spans(model: onnx.ModelProto, base: Path) -> dict[str, _Span]:
    """Before external data is loaded: each external tensor's file, offset and length."""
    spans: dict[str, _Span] = {}
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in tensor.external_data}
        try:
            path = base / info["location"]
            offset, length = int(info.get("offset", 0)), int(info["length"])
            spans[tensor.name] = _Span(path, offset, length, _stamp(path))
        except (KeyError, ValueError, OSError):  # no length given, or unreadable: kept in memory
            continue
    return spans

