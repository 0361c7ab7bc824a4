"""load_model's answer to each way a model file can be bad, each message in full, on small
files made here (no subprocess, no window): the mutation run selects this file."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import onnx_io
from lenet_gui.core.errors import ModelError
from tests.helpers import tiny_classifier


def refusal(path, **kwargs) -> str:
    with pytest.raises(ModelError) as caught:
        onnx_io.load_model(path, **kwargs)
    return str(caught.value)


def test_a_model_with_its_weights_inside_loads_without_reading_external_data(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(onnx, "load_external_data_for_model", lambda *a: loads.append(a))
    model = onnx_io.load_model(tiny_classifier(tmp_path / "m.onnx"))
    assert [n.op_type for n in model.graph.node][:2] == ["Conv", "Relu"] and loads == []


def test_external_weights_are_read_from_the_models_folder(tmp_path, monkeypatch):
    path = tiny_classifier(tmp_path / "ext.onnx", external=True)
    loads = []
    real = onnx.load_external_data_for_model
    monkeypatch.setattr(onnx, "load_external_data_for_model", lambda m, d: loads.append(d) or real(m, d))
    model = onnx_io.load_model(str(path))
    assert loads == [str(tmp_path)]
    assert all(t.data_location == TensorProto.DEFAULT for t in model.graph.initializer)


def test_the_memory_limit_is_the_files_size_at_most(tmp_path):
    path = tiny_classifier(tmp_path / "m.onnx")
    size = path.stat().st_size
    assert onnx_io.load_model(path, max_bytes=size).graph.node
    assert refusal(path, max_bytes=size - 1) == (
        f"Model file m.onnx is {size} bytes, more than the memory limit of {size - 1} bytes "
        "(--memory-limit sets the limit)")
    # External weights count against the same limit: 4,000 bytes of them in a file of a few hundred.
    weights = numpy_helper.from_array(np.zeros(1000, np.float32), "w")
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1000])], [weights])
    ext = tmp_path / "ext.onnx"
    onnx.save_model(helper.make_model(graph), str(ext), save_as_external_data=True, location="ext.bin",
                    size_threshold=0)
    assert ext.stat().st_size < 1000
    assert onnx_io.load_model(ext, max_bytes=4000).graph.initializer[0].raw_data == bytes(4000)
    assert refusal(ext, max_bytes=3999) == \
        "ext.onnx: its external weights are more than the memory limit of 3,999 bytes (--memory-limit sets the limit)"


def test_a_missing_or_empty_file(tmp_path):
    assert refusal(tmp_path / "none.onnx") == f"Model file not found: {tmp_path / 'none.onnx'}"
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert refusal(tmp_path / "empty.onnx") == f"Model file is empty: {tmp_path / 'empty.onnx'}"


def test_a_file_of_another_format_is_corrupt(tmp_path):
    (tmp_path / "picture.onnx").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert refusal(tmp_path / "picture.onnx") == \
        "picture.onnx is not a valid ONNX model (the file is corrupt or of another format)"


def _save(path, graph) -> str:
    onnx.save_model(helper.make_model(graph), str(path))
    return path


def test_a_model_without_nodes_and_outputs_holds_no_graph(tmp_path):
    empty = _save(tmp_path / "e.onnx", helper.make_graph([], "g", [], []))
    assert refusal(empty) == "e.onnx is not a valid ONNX model (it holds no graph)"
    # Nodes or outputs alone are a graph.
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    assert onnx_io.load_model(_save(tmp_path / "o.onnx", helper.make_graph([], "g", [out], [out])))
    node = helper.make_node("Identity", ["x"], ["y"])
    assert onnx_io.load_model(_save(tmp_path / "n.onnx", helper.make_graph([node], "g", [], [])))


def _raising(monkeypatch, exc):
    def load(*args, **kwargs):
        raise exc

    monkeypatch.setattr(onnx, "load", load)


def test_onnx_errors_become_one_sentence(tmp_path, monkeypatch):
    path = tiny_classifier(tmp_path / "m.onnx")
    _raising(monkeypatch, FileNotFoundError(2, "No such file", "w.bin"))
    assert refusal(path) == "Model m.onnx refers to an external weight file that is missing: w.bin"
    _raising(monkeypatch, FileNotFoundError("w.bin is gone"))
    assert refusal(path) == "Model m.onnx refers to an external weight file that is missing: w.bin is gone"
    _raising(monkeypatch, onnx.checker.ValidationError(
        "Data of TensorProto ( tensor name: w) should be stored in /models/w.bin, but it doesn't exist or is "
        "not accessible."))
    assert refusal(path) == "Model m.onnx keeps its weights in an external file that is missing: /models/w.bin"
    _raising(monkeypatch, onnx.checker.ValidationError("\n  Field 'type' of 'value_info' is required\nmore\n"))
    assert refusal(path) == "m.onnx is not a valid ONNX model (Field 'type' of 'value_info' is required)"
    _raising(monkeypatch, PermissionError(13, "Permission denied"))
    assert refusal(path) == f"Cannot read model file {path}: permission denied"
    _raising(monkeypatch, ModelError("already a sentence"))
    assert refusal(path) == "already a sentence"
    _raising(monkeypatch, RecursionError("deep"))
    assert refusal(path) == "m.onnx is not a valid ONNX model (the file is corrupt or of another format)"


def test_the_first_line_of_an_error_is_at_most_160_characters():
    assert onnx_io._first_line(ValueError("  first\nsecond")) == "first"
    assert onnx_io._first_line(ValueError("x" * 161)) == "x" * 160
    assert onnx_io._first_line(ValueError("x" * 160)) == "x" * 160
    assert onnx_io._first_line(ValueError(" \n ")) == "ValueError"


def test_external_locations_are_checked_before_onnx_reads_any(tmp_path):
    # The weights sit one folder up; onnx would refuse them too, in its own words.
    (tmp_path / "inner").mkdir()
    path = tiny_classifier(tmp_path / "inner" / "ext.onnx", external=True)
    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../ext.onnx.data"
    onnx.save_model(model, str(path))
    (tmp_path / "inner" / "ext.onnx.data").rename(tmp_path / "ext.onnx.data")
    assert refusal(path) == \
        "ext.onnx: the weights of 'w' are to be read from '../ext.onnx.data', outside the model's folder; refused"


def test_weights_that_vanish_after_the_check_are_named_by_their_whole_path(tmp_path, monkeypatch):
    # The file goes between the app's check and onnx's read: onnx's own message names it
    # ("… should be stored in PATH, but it is not regular file."), here in a folder whose
    # name holds those very words.
    folder = tmp_path / "should be stored in"
    folder.mkdir()
    path = tiny_classifier(folder / "ext.onnx", external=True)
    (folder / "ext.onnx.data").unlink()
    monkeypatch.setattr(onnx_io, "check_external_data", lambda *args: True)
    assert refusal(path) == \
        f"Model ext.onnx keeps its weights in an external file that is missing: {folder / 'ext.onnx.data'}"
