"""Words a student reads: the shapes table's reference, counting from 1, receptive fields clipped and said so."""

import json

from lenet_gui import cli
from lenet_gui.core import graph
from lenet_gui.core.onnx_io import load_model
from lenet_gui.ui import layer_text
from tests.helpers import tiny_classifier


def _layers(tmp_path):
    return graph.analyze(load_model(tiny_classifier(tmp_path / "tiny.onnx")))


def test_a_field_larger_than_the_input_is_clipped_everywhere_and_explained(tmp_path):
    layers = {layer.op: layer for layer in _layers(tmp_path)}
    pool, flat = layers["GlobalAveragePool"], layers["Flatten"]
    # 3×3 convolution with padding 1 over 28 pixels, then a 28×28 window: 30 pixels counting the padding.
    assert pool.rf.size == (30, 30)
    assert pool.receptive_field == 28 and pool.receptive_field_padded == 30
    assert flat.receptive_field == 28 and flat.receptive_field_padded is None  # consistent with the layer before
    assert layers["Conv"].receptive_field_padded is None
    table = graph.format_table(list(layers.values()))
    pool_line = next(line for line in table.splitlines() if "GlobalAveragePool #3" in line)
    assert pool_line.split()[-2] == "28*"
    assert "* RF clipped to the input" in table and "#3: 30" in table
    text = layer_text.receptive_text(pool, (28, 28))
    assert text == "each unit sees the whole 28×28 input (its field counting padding is 30×30)"
    assert layer_text.receptive_text(flat, (28, 28)) == "each unit sees the whole 28×28 input"


def test_shapes_names_its_reference_and_counts_nodes_from_1(capsys):
    assert cli.main(["shapes"]) == 0
    out = capsys.readouterr().out
    assert 'Dumoulin and Visin, "A guide to convolution arithmetic for deep learning" (2016' in out
    assert "article" not in out
    rows = [line.split() for line in out.splitlines() if line[:3].strip().isdigit()]
    assert [int(r[0]) for r in rows] == list(range(1, 13))
    assert "counted from 1" in out
    assert cli.main(["shapes", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [layer["index"] for layer in data] == list(range(12))  # JSON stays 0-based, as numpy


def test_unnamed_layers_are_numbered_from_1(tmp_path):
    layers = _layers(tmp_path)
    assert layers[0].display_name == "Conv #1"
    names = layer_text.layer_names(layers, {})
    assert names[0].title(layers[0]) == "Convolution #1"
