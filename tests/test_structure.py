"""Folding of constants and blocks of layers (lenet_gui.core.structure), on exporter-shaped models.

Every expected value is worked out by hand from the models in tests/exporter_models.py.
"""

from __future__ import annotations

import json

from lenet_gui.core import graph
from lenet_gui.core import structure as st
from lenet_gui.core.onnx_io import default_model_path, load_model
from tests import exporter_models as em


def _analyse(model, **kwargs):
    layers = graph.analyze(model)
    return layers, st.analyze_structure(layers, st.graph_input_shapes(model), **kwargs)


def _tree(items, layers):
    """The block tree as nested (name, shapes, params, contents) with layer names for loose layers."""
    out = []
    for item in items:
        if isinstance(item, st.Block):
            out.append((item.name, st.shape_words(item.input_shape), st.shape_words(item.output_shape), item.params,
                        _tree(item.items, layers)))
        else:
            out.append(layers[item].name)
    return out


def test_scope_of_strips_the_op_and_reads_both_exporters():
    assert st.scope_of("/layer1/layer1.0/conv1/Conv") == ("layer1", "layer1.0", "conv1")
    assert st.scope_of("sequential/conv2d/Conv2D") == ("sequential", "conv2d")
    assert st.scope_of("/Flatten") == ()
    assert st.scope_of("c1.conv") == ()
    assert st.scope_of("") == ()


def test_identity_chain_and_constant_shape_are_folded_into_their_readers():
    layers, found = _analyse(em.small_resnet())
    # 0 → 1 → conv 5 (through the chain), 13 → Reshape 14.
    assert found.folded_into == {0: 5, 1: 5, 13: 14}
    assert found.folded == {5: [0, 1], 14: [13]}
    assert found.shown == [i for i in range(16) if i not in (0, 1, 13)]
    assert st.folded_text({l.index: l for l in layers}, found.folded[5]) == "folded: 2 constants (Identity)"
    assert st.folded_text({l.index: l for l in layers}, found.folded[14]) == "folded: 1 constant (Constant)"


def test_shared_initializer_is_counted_once_on_its_first_reader():
    layers, found = _analyse(em.small_resnet())
    by_name = {layer.name: layer for layer in layers}
    assert by_name["/layer1/layer1.0/conv1/Conv"].params == 576  # read through the Identity chain
    assert by_name["/layer1/layer1.0/conv2/Conv"].params == 0  # the same tensor, read directly
    assert sum(layer.params for layer in layers) == 224 + 576 + 576 + 90
    # Folded constants carry no parameters of their own: the blocks add up to the model.
    assert all(layers[i].params == 0 for i in found.folded_into)


def test_scoped_blocks_nest_and_single_layer_scopes_stand_alone():
    layers, found = _analyse(em.small_resnet())
    assert found.grouping == st.BY_SCOPE
    assert _tree(found.items, layers) == [
        "/conv1/Conv", "/relu/Relu", "/maxpool/MaxPool",
        ("layer1", "8×8×8", "8×8×8", 1152, [
            ("layer1.0", "8×8×8", "8×8×8", 576, [
                "/layer1/layer1.0/conv1/Conv", "/layer1/layer1.0/relu/Relu", "/layer1/layer1.0/conv2/Conv",
                "/layer1/layer1.0/Add", "/layer1/layer1.0/relu_1/Relu"]),
            ("layer1.1", "8×8×8", "8×8×8", 576, ["/layer1/layer1.1/conv1/Conv", "/layer1/layer1.1/Add"]),
        ]),
        "/avgpool/GlobalAveragePool", "/Reshape", "/fc/Gemm",
    ]
    assert [b.path for b in found.blocks()] == ["layer1", "layer1/layer1.0", "layer1/layer1.1"]
    assert [b.depth for b in found.blocks()] == [0, 1, 1]
    assert found.block_of(7).path == "layer1/layer1.0"
    assert found.block_of(0).path == "layer1/layer1.0"  # a folded constant is where its layer is
    assert found.block_of(2) is None
    assert [b.path for b in found.ancestors(10)] == ["layer1", "layer1/layer1.1"]


def test_concat_branches_are_blocks_of_their_module():
    layers, found = _analyse(em.inception_branches())
    assert found.folded_into == {6: 7}
    assert _tree(found.items, layers) == [
        ("Mixed", "1×8×8", "9×8×8", 44, [
            ("branch1", "1×8×8", "4×8×8", 8, ["/Mixed/branch1/conv/Conv", "/Mixed/branch1/Relu"]),
            ("branch2", "1×8×8", "4×8×8", 36, ["/Mixed/branch2/conv/Conv", "/Mixed/branch2/Relu"]),
            "/Mixed/branch3/MaxPool", "/Mixed/Concat"]),
        "/Reshape", "/fc/Gemm",
    ]
    assert sum(layer.params for layer in layers) == 8 + 36 + 2880


def test_a_prefix_every_layer_shares_is_no_block_and_chains_merge():
    layers = graph.analyze(em.big_resnet(stages=1, blocks=1))
    for layer in layers:  # everything under one more module, as a wrapped model exports
        if layer.name.startswith("/"):
            layer.name = "/model/body" + layer.name
    found = st.analyze_structure(layers)
    assert [b.path for b in found.blocks()] == ["layer1/layer1.0"]  # "model/body" dropped, layer1 merged
    assert found.blocks()[0].name == "layer1/layer1.0"
    assert found.blocks()[0].input_shape == [1, 4, 14, 14]  # the stem pool: 28 / 2


def test_stages_between_pooling_layers_without_scopes():
    layers, found = _analyse(em.plain_stack())
    assert found.grouping == st.BY_POOLING
    assert found.folded == {}
    assert _tree(found.items, layers) == [
        ("stage 1", "1×32×32", "4×16×16", 36 + 144 + 144, [l.name for l in layers[0:7]]),
        ("stage 2", "4×16×16", "4×8×8", 3 * 144, [l.name for l in layers[7:14]]),
        ("stage 3", "4×8×8", "4×4×4", 3 * 144, [l.name for l in layers[14:21]]),
        ("stage 4", "4×4×4", "10", 4 * 4 * 4 * 10, ["flatten", "fc"]),
    ]


def test_no_blocks_without_pooling_or_for_a_short_model():
    layers, found = _analyse(em.plain_stack(pool=False))
    assert found.grouping == "" and found.blocks() == [] and found.items == list(range(20))
    # A short model is not split: 23 rows with a threshold of 23 stay flat, with 22 they are staged.
    assert _analyse(em.plain_stack(), stage_min_rows=23)[1].grouping == ""
    assert _analyse(em.plain_stack(), stage_min_rows=22)[1].grouping == st.BY_POOLING


def test_lenet5_stays_a_flat_list():
    model = load_model(default_model_path())
    layers, found = _analyse(model)
    assert found.grouping == "" and found.blocks() == []
    assert found.folded == {} and found.shown == list(range(12))
    assert not found.collapsed_by_default()


def test_a_large_model_is_collapsed_by_default():
    layers, found = _analyse(em.big_resnet())
    assert len(layers) == 79 and len(found.shown) == 66 and len(found.folded_into) == 13
    assert found.collapsed_by_default()
    assert [b.path for b in found.blocks()][:3] == ["layer1", "layer1/layer1.0", "layer1/layer1.1"]
    assert len(found.blocks()) == 4 + 12
    assert not _analyse(em.small_resnet())[1].collapsed_by_default()
    top = [b for b in found.blocks() if b.depth == 0]
    assert sum(b.params for b in top) == sum(l.params for l in layers) - 36 - 50  # all but the stem conv and fc


def test_a_large_model_opens_the_levels_that_fit():
    assert _analyse(em.big_resnet())[1].open_at_first() == {"layer1", "layer2", "layer3", "layer4"}
    small = _analyse(em.small_resnet())[1]
    assert small.open_at_first() == {"layer1", "layer1/layer1.0", "layer1/layer1.1"}  # 13 rows: all open
    # 47 rows in 6 stages: 6 lines closed, 6 + 47 open; nothing opens.
    long = _analyse(em.plain_stack(stages=5, convs=4))[1]
    assert len(long.shown) == 47 and len(long.blocks()) == 6 and long.open_at_first() == set()


def test_block_heading_words():
    layers, found = _analyse(em.small_resnet())
    assert st.block_heading(found.blocks()[2]) == "layer1.1 · 8×8×8 → 8×8×8 · 576 params · 2 layers"
    assert st.block_heading(found.blocks()[0]) == "layer1 · 8×8×8 → 8×8×8 · 1,152 params · 7 layers"


def test_shapes_cli_indents_rows_under_blocks_and_tells_the_json(tmp_path, capsys):
    from lenet_gui import cli

    path = tmp_path / "resnet.onnx"
    em.small_resnet(path)
    assert cli.main(["shapes", str(path)]) == 0
    text = capsys.readouterr().out
    assert "Rows grouped by module scope" in text
    assert "    [layer1 · 8×8×8 → 8×8×8 · 1,152 params · 7 layers]" in text
    assert "      [layer1.0 · 8×8×8 → 8×8×8 · 576 params · 5 layers]" in text
    assert " 6      /layer1/layer1.0/conv1/Conv " in text
    assert "folded: 2 constants (Identity)" in text
    assert "3 nodes preparing weights or shapes not shown (each folded into the layer that reads it)" in text
    assert cli.main(["shapes", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["block"], r["folded"], r["folded_into"]) for r in rows[:3]] == [
        ("layer1/layer1.0", [], 5), ("layer1/layer1.0", [], 5), (None, [], None)]
    assert rows[5]["folded"] == [0, 1] and rows[14]["folded"] == [13] and rows[14]["block"] is None


def test_shapes_cli_keeps_lenet5_flat(capsys):
    from lenet_gui import cli

    assert cli.main(["shapes"]) == 0
    text = capsys.readouterr().out
    assert "grouped" not in text and "folded" not in text
    assert " 1  c1.conv " in text


# ---------------------------------------------------------------------------
# tiny graphs written out by hand: every block and fold below is worked out from the rows given


def _row(index, name, op, inputs, output, shape=None, constant=False, params=0, outputs=(), shapes=()):
    return graph.Layer(index, name, op, list(inputs), output, shape, "", params=params, constant=constant,
                       outputs=list(outputs), output_shapes=list(shapes))


def test_a_constant_feeding_a_constant_and_an_image_layer_folds_into_the_first_reader():
    # 0 → a → 1 → b; 2 reads a and b (a constant); row 3 reads b, row 4 reads c. From 0 the walk
    # meets 1 and 2 (both constants) and then, through b, row 3 after 2 (seen already).
    layers = [_row(0, "k0", "Constant", [], "a", constant=True),
              _row(1, "k1", "Identity", ["a"], "b", constant=True),
              _row(2, "k2", "Add", ["a", "b"], "c", constant=True),
              _row(3, "m3", "Mul", ["x", "b"], "d", [1, 4]),
              _row(4, "m4", "Mul", ["d", "c"], "e", [1, 4])]
    assert st.fold_constants(layers) == {0: 3, 1: 3, 2: 4}


def test_a_constant_nothing_reads_is_not_folded_and_a_second_output_is_followed():
    layers = [_row(0, "split", "Split", ["w"], "w0", constant=True, outputs=["w0", "w1"]),
              _row(1, "mul", "Mul", ["x", "w1"], "y", [1, 4]),
              _row(2, "spare", "Constant", [], "unused", constant=True)]
    assert st.fold_constants(layers) == {0: 1}
    found = st.analyze_structure(layers)
    assert found.shown == [1, 2] and found.folded == {1: [0]} and found.folded_into == {0: 1}


def test_folded_text_names_each_op_once_in_order():
    rows = {0: _row(0, "", "Identity", [], "a"), 1: _row(1, "", "Constant", [], "b"),
            2: _row(2, "", "Identity", [], "c")}
    assert st.folded_text(rows, [0, 1, 2]) == "folded: 3 constants (Identity, Constant)"
    assert st.folded_text(rows, [1]) == "folded: 1 constant (Constant)"
    assert st.folded_text(rows, []) == ""


def _chain(n, pools=(), name=lambda i: f"op{i}"):
    """n rows, each reading the one before (row 0 reads "x"); the rows in ``pools`` are MaxPools."""
    return [_row(i, name(i), "MaxPool" if i in pools else "Relu", ["x" if i == 0 else f"t{i - 1}"], f"t{i}",
                 [1, 2, 8 - i % 8]) for i in range(n)]


def test_one_pooling_layer_gives_two_stages_and_a_one_layer_stage_says_so():
    found = st.analyze_structure(_chain(6, pools={4}), {"x": [1, 2, 9]}, stage_min_rows=5)
    assert found.grouping == st.BY_POOLING
    assert [(b.name, b.path, b.layers) for b in found.blocks()] == [("stage 1", "stage 1", [0, 1, 2, 3, 4]),
                                                                   ("stage 2", "stage 2", [5])]
    assert st.block_heading(found.blocks()[1]) == "stage 2 · 2×4 → 2×3 · 0 params · 1 layer"
    assert st.block_heading(found.blocks()[0]) == "stage 1 · 2×9 → 2×4 · 0 params · 5 layers"
    # A pool as the last row leaves one stage: no blocks.
    assert st.analyze_structure(_chain(6, pools={5}), stage_min_rows=5).grouping == ""


def test_a_block_reads_the_second_output_of_a_layer_before_it():
    layers = [_row(0, "/split/Split", "Split", ["x"], "s0", [1, 2], outputs=["s0", "s1"], shapes=[[1, 2], [1, 3]]),
              _row(1, "/blk/a/Relu", "Relu", ["s1"], "r", [1, 3]),
              _row(2, "/blk/b/Relu", "Relu", ["r"], "q", [1, 3]),
              _row(3, "/out/Add", "Add", ["s0", "q"], "y", [1, 3])]
    (block,) = st.analyze_structure(layers, {"x": [1, 5]}).blocks()
    assert block.path == "blk" and block.input_shape == [1, 3] and block.output_shape == [1, 3]


def test_a_block_input_is_the_image_tensor_its_first_layer_reads_not_a_weight():
    layers = [_row(0, "/blk/Mul", "Mul", ["w", "x"], "m", [1, 4], params=4),
              _row(1, "/blk/Relu", "Relu", ["m"], "y", [1, 4]),
              _row(2, "/head/Relu", "Relu", ["y"], "z", [1, 4])]
    assert st.analyze_structure(layers, {"x": [1, 4]}).blocks()[0].input_shape == [1, 4]
    # A graph input of unknown shape (not in input_shapes): the block's input is not known.
    assert st.analyze_structure(layers).blocks()[0].input_shape is None


def test_a_block_counts_the_parameters_of_its_folded_constants():
    layers = [_row(0, "/w/Identity", "Identity", ["w"], "w1", constant=True, params=7),
              _row(1, "/blk/Mul", "Mul", ["x", "w1"], "m", [1, 4], params=4),
              _row(2, "/blk/Relu", "Relu", ["m"], "y", [1, 4], params=2),
              _row(3, "/head/Relu", "Relu", ["y"], "z", [1, 4])]
    found = st.analyze_structure(layers)
    assert found.folded == {1: [0]} and [b.params for b in found.blocks()] == [4 + 7 + 2]


def test_the_innermost_of_three_nested_blocks_holds_a_layer():
    names = ["/a/b/c/Relu", "/a/b/c/Relu_1", "/a/b/Relu", "/a/Relu", "/Relu"]
    found = st.analyze_structure(_chain(5, name=lambda i: names[i]))
    assert [(b.path, b.depth) for b in found.blocks()] == [("a", 0), ("a/b", 1), ("a/b/c", 2)]
    assert found.block_of(0).path == "a/b/c" and found.block_of(2).path == "a/b" and found.block_of(4) is None


def _structure(rows, items):
    return st.Structure(list(range(rows)), {}, {}, items, st.BY_SCOPE)


def test_collapsed_only_above_forty_rows():
    assert not _structure(40, list(range(40))).collapsed_by_default()
    assert _structure(41, list(range(41))).collapsed_by_default()


def _opening(a2_rows):
    """A (8 rows, A1, A2) and B (12 rows) at the top; A1 holds 7 rows and A1a (20 rows); A2 ``a2_rows`` rows."""
    rows = iter(range(1000))
    take = lambda n: [next(rows) for _ in range(n)]  # noqa: E731
    a1a = st.Block("A1a", "A/A1/A1a", take(20))
    a1 = st.Block("A1", "A/A1", [a1a] + take(7))
    a2 = st.Block("A2", "A/A2", take(a2_rows))
    a = st.Block("A", "A", [a1, a2] + take(8))
    b = st.Block("B", "B", take(12))
    return _structure(next(rows), [a, b])


def test_a_level_opens_when_the_lines_reach_forty_exactly():
    # Top: 2 lines; A and B open: + 10 + 12 = 24; A1 and A2 open: + 8 + 8 = 40, which fits;
    # A1a would add 20.
    assert _opening(8).open_at_first() == {"A", "B", "A/A1", "A/A2"}
    # One row more in A2: 41 lines, so only the top level opens.
    assert _opening(9).open_at_first() == {"A", "B"}


def test_graph_input_shapes_give_an_open_batch_axis_the_batch_and_leave_out_other_open_axes():
    from onnx import TensorProto, helper

    inputs = [helper.make_tensor_value_info("w", TensorProto.FLOAT, [3]),
              helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28]),
              helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, "H"]),
              helper.make_tensor_value_info("z", TensorProto.FLOAT, [0, 5])]
    g = helper.make_graph([], "inputs", inputs, [], [helper.make_tensor("w", TensorProto.FLOAT, [3], [1, 2, 3])])
    model = helper.make_model(g)
    assert st.graph_input_shapes(model) == {"x": [1, 1, 28, 28], "z": [1, 5]}
    assert st.graph_input_shapes(model, batch=3) == {"x": [3, 1, 28, 28], "z": [3, 5]}


def test_shape_words_drop_the_batch_axis_only():
    assert st.shape_words(None) == "?"
    assert st.shape_words([1, 64, 7, 7]) == "64×7×7"
    assert st.shape_words([1, 10]) == "10"
    assert st.shape_words([10]) == "10"
    assert st.shape_words([]) == "scalar" and st.shape_words([1]) == "1"
