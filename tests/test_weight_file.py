"""Large weights left in the model file: found at the right bytes, read back exactly, never stale."""

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import graph
from lenet_gui.core.errors import ModelError
from lenet_gui.core.explain import Explainer
from lenet_gui.core.session import ModelSession
from lenet_gui.core.weight_file import KEEP_FLOATS_UP_TO, WeightFile, external_spans, raw_data_spans
from tests.helpers import BIG_HWIO, EDGE, FC, SMALL, big_weight_classifier

RNG = np.random.default_rng(8)


@pytest.fixture
def model_file(tmp_path):
    return big_weight_classifier(tmp_path / "big.onnx")


def _logits(model_or_path, x):
    source = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    s = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return s.run(["scores"], {"image": x})[0]


def test_spans_point_at_each_initializers_bytes(model_file):
    spans = raw_data_spans(model_file)
    data = model_file.read_bytes()
    assert set(spans) == {"small", "big_hwio", "fc", "edge"}
    for name, array in (("small", SMALL), ("big_hwio", BIG_HWIO), ("fc", FC), ("edge", EDGE)):
        offset, length = spans[name]
        assert length == array.nbytes
        assert data[offset:offset + length] == array.tobytes()


def test_only_large_float_weights_leave_memory_and_read_back_exactly(model_file):
    model = onnx.load(str(model_file))
    size = model.ByteSize()
    assert EDGE.size == KEEP_FLOATS_UP_TO and BIG_HWIO.size > KEEP_FLOATS_UP_TO
    small_model, weights = WeightFile.offload(model, model_file)
    tensors = {t.name: t for t in small_model.graph.initializer}
    assert weights.offloaded == 1 and weights.holds(tensors["big_hwio"])
    assert tensors["big_hwio"].data_location == TensorProto.EXTERNAL and not tensors["big_hwio"].raw_data
    for name in ("small", "fc", "edge"):  # the edge tensor is exactly at the limit: kept
        assert tensors[name].data_location == TensorProto.DEFAULT and not weights.holds(tensors[name])
    np.testing.assert_array_equal(weights.array(tensors["big_hwio"]), BIG_HWIO)
    np.testing.assert_array_equal(weights.array(tensors["edge"]), EDGE)
    # Reading does not put the weights back into the model.
    assert not tensors["big_hwio"].raw_data
    assert small_model.ByteSize() < size - BIG_HWIO.nbytes + 1024


def test_restored_model_runs_as_the_file_does(model_file):
    model = onnx.load(str(model_file))
    small_model, weights = WeightFile.offload(model, model_file)
    x = RNG.normal(size=(1, 1, 12, 12)).astype(np.float32)
    restored = weights.restored(small_model)
    np.testing.assert_array_equal(_logits(restored, x), _logits(str(model_file), x))
    assert small_model.graph.initializer[1].data_location == TensorProto.EXTERNAL  # the copy, not the original


def test_a_changed_file_is_never_read_at_the_old_offsets(model_file):
    small_model, weights = WeightFile.offload(onnx.load(str(model_file)), model_file)
    big = next(t for t in small_model.graph.initializer if t.name == "big_hwio")
    st = os.stat(model_file)
    os.utime(model_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ModelError, match="changed on disk since it was opened"):
        weights.array(big)
    model_file.unlink()
    with pytest.raises(ModelError, match="can no longer be read"):
        weights.array(big)


def test_bytes_that_differ_from_the_file_stay_in_memory(model_file):
    model = onnx.load(str(model_file))
    edited = BIG_HWIO.copy()
    edited[0, 0, 0, 0] += 1
    big = next(t for t in model.graph.initializer if t.name == "big_hwio")
    big.raw_data = edited.tobytes()
    small_model, weights = WeightFile.offload(model, model_file)
    assert weights.offloaded == 0
    kept = next(t for t in small_model.graph.initializer if t.name == "big_hwio")
    np.testing.assert_array_equal(numpy_helper.to_array(kept), edited)


def test_a_file_that_is_not_plain_protobuf_keeps_everything_in_memory(model_file, tmp_path):
    model = onnx.load(str(model_file))
    model_file.write_bytes(b"\x3a\xff\xff\xff\xff\x0f")  # a graph field longer than the file
    small_model, weights = WeightFile.offload(model, model_file)
    assert weights.offloaded == 0 and small_model is model
    with pytest.raises((ValueError, IndexError)):
        raw_data_spans(model_file)


def test_external_data_stays_in_its_own_file(tmp_path):
    path = big_weight_classifier(tmp_path / "ext.onnx", external=True)
    spans = external_spans(onnx.load(str(path), load_external_data=False), tmp_path)
    assert {s.path.name for s in spans.values()} == {"ext.onnx.data"}
    session = ModelSession(path, provider="cpu")
    big = next(t for t in session.model.graph.initializer if t.name == "big_hwio")
    assert session.weights.holds(big) and session.weights.offloaded == 1
    np.testing.assert_array_equal(session.weights.array(big), BIG_HWIO)


def test_session_explains_and_scores_with_weights_left_in_the_file(model_file):
    session = ModelSession(model_file, provider="cpu")
    assert session.weights.offloaded == 1
    assert not any(t.raw_data for t in session.model.graph.initializer if t.name == "big_hwio")
    x = RNG.normal(size=(1, 1, 12, 12)).astype(np.float32)
    result = session.run(x)
    np.testing.assert_allclose(result.logits, _logits(str(model_file), x)[0], rtol=1e-6)
    # The second, class-scores-only session is built from the restored graph.
    scores = session._scores_session(wait=True)
    assert scores is not session.session
    np.testing.assert_array_equal(scores.run(["scores"], {"image": x})[0], _logits(str(model_file), x))
    # A unit of conv2 explained from the folded, file-read kernel: its sum is onnxruntime's value.
    explainer = Explainer(session.model, graph.analyze(session.model), session.weights)
    layer = next(layer for layer in explainer.layers if layer.op == "Conv" and layer.output == "c2")
    e = explainer.explain(result, layer.name, (5, 4, 7))
    assert e.explained and e.agrees
    assert e.runtime_value == pytest.approx(float(result.activations["c2"][5, 4, 7]))
    c1 = result.activations["c1"]
    padded = np.pad(c1, ((0, 0), (4, 4), (4, 4)))
    by_hand = float((padded[:, 4:13, 7:16] * BIG_HWIO.transpose(3, 2, 0, 1)[5]).sum())
    assert e.value == pytest.approx(by_hand, rel=1e-4)
    # Without the weight file the kernel cannot be read: that unit is not explained.
    blind = Explainer(session.model, graph.analyze(session.model))
    assert not blind.explain(result, layer.name, (5, 4, 7)).explained


def _wide_model(path, channels):
    """224×224×3 → 1×1 conv to ``channels`` maps → pool → 10 scores: ``channels``·200 KB per run."""
    w = RNG.normal(size=(channels, 3, 1, 1)).astype(np.float32)
    fc = RNG.normal(size=(channels, 10)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["image", "w"], ["c"]), helper.make_node("GlobalAveragePool", ["c"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("MatMul", ["f", "fc"], ["scores"])]
    g = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 224, 224])],
                          [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 10])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(fc, "fc")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save_model(model, str(path))
    return path


def test_the_arena_is_off_only_for_runs_over_the_limit(tmp_path):
    # 40 maps of 224×224 floats: 8.0 MB for the conv, 8.6 MB per run with the input: over 8 MiB.
    large = ModelSession(_wide_model(tmp_path / "large.onnx", 40), provider="cpu")
    assert large.large_runs and not large._options.enable_cpu_mem_arena
    # 36 maps: 7.2 MB for the conv, 7.8 MB per run: under.
    small = ModelSession(_wide_model(tmp_path / "small.onnx", 36), provider="cpu")
    assert not small.large_runs and small._options.enable_cpu_mem_arena
    x = RNG.normal(size=(1, 3, 224, 224)).astype(np.float32)
    np.testing.assert_allclose(large.run(x).logits, _logits(str(tmp_path / "large.onnx"), x)[0], rtol=1e-5)


def test_a_cpu_session_drops_its_copy_of_the_file():
    lenet = ModelSession(provider="cpu")
    assert lenet.session._model_bytes is None  # a CPU session never re-creates itself
    assert lenet.weights.offloaded == 0  # LeNet-5's largest weight, 48,000 values, stays in memory


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_a_file_changed_anywhere_before_offloading_never_gives_wrong_weights(edits, cut, tmp_path_factory):
    """The file is edited after it was read (bytes flipped, or cut short): whatever is left in the
    file reads back exactly as it was in memory, and nothing else is left there."""
    path = big_weight_classifier(tmp_path_factory.mktemp("edited") / "big.onnx")
    model = onnx.load(str(path))
    data = bytearray(path.read_bytes())
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    path.write_bytes(bytes(data))
    small_model, weights = WeightFile.offload(model, path)
    big = next(t for t in small_model.graph.initializer if t.name == "big_hwio")
    if weights.holds(big):
        np.testing.assert_array_equal(weights.array(big), BIG_HWIO)
    else:
        np.testing.assert_array_equal(numpy_helper.to_array(big), BIG_HWIO)


def test_a_file_replaced_by_one_of_the_same_size_and_time_is_noticed(model_file, tmp_path):
    small_model, weights = WeightFile.offload(onnx.load(str(model_file)), model_file)
    big = next(t for t in small_model.graph.initializer if t.name == "big_hwio")
    st = os.stat(model_file)
    # Retrained and exported again: the same architecture, so the same size; the same mtime too.
    other = tmp_path / "other.onnx"
    data = bytearray(model_file.read_bytes())
    offset, length = raw_data_spans(model_file)["big_hwio"]
    data[offset:offset + length] = (BIG_HWIO + 1).tobytes()
    other.write_bytes(bytes(data))
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, model_file)
    assert os.stat(model_file).st_size == st.st_size and os.stat(model_file).st_mtime_ns == st.st_mtime_ns
    with pytest.raises(ModelError, match="changed on disk since it was opened"):
        weights.array(big)


# --- the wire format, by hand ---------------------------------------------------------------------

def test_fields_skips_every_fixed_width_and_varint_field_and_yields_the_length_delimited_ones():
    from lenet_gui.core.weight_file import _fields

    message = bytes([
        0x08, 0x96, 0x01,  # field 1, varint 150
        0x11, *range(8),  # field 2, fixed64
        0x1D, 1, 2, 3, 4,  # field 3, fixed32
        0x22, 3, 7, 8, 9,  # field 4, 3 bytes
        0x2A, 0,  # field 5, empty
    ])
    # 3 + 9 + 5 bytes before field 4's key and length: its payload is bytes 19..21.
    assert list(_fields(message, 0, len(message))) == [(4, 19, 22), (5, 24, 24)]
    with pytest.raises(ValueError, match="^field runs past its message$"):
        list(_fields(message[:-3], 0, len(message) - 3))  # field 4 cut short
    with pytest.raises(ValueError, match="^field runs past its message$"):
        list(_fields(bytes([0x1D, 1, 2]), 0, 3))  # a fixed32 cut short
    with pytest.raises(ValueError, match="^unexpected wire type 3$"):
        list(_fields(bytes([0x0B, 0]), 0, 2))  # a group start


def test_a_varint_takes_at_most_ten_bytes():
    from lenet_gui.core.weight_file import _varint

    assert _varint(bytes([0x96, 0x01]), 0) == (150, 2)
    assert _varint(bytes([0xFF] * 9 + [0x01]), 0) == (2**64 - 1, 10)
    with pytest.raises(ValueError, match="^varint too long$"):
        _varint(bytes([0xFF] * 10 + [0x01]), 0)


def _saved(path, initializers, producer="a test"):
    g = helper.make_graph([helper.make_node("Identity", ["image"], ["out"])], "g",
                          [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])], initializers)
    model = helper.make_model(g, producer_name=producer, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(path))
    return path


def test_spans_are_found_past_other_fields_and_tensors_without_raw_data(tmp_path):
    big = BIG_HWIO.reshape(-1)
    listed = helper.make_tensor("listed", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])  # float_data, no raw_data
    path = _saved(tmp_path / "m.onnx", [listed, numpy_helper.from_array(big, "big")])
    assert set(raw_data_spans(path)) == {"big"}
    small_model, weights = WeightFile.offload(onnx.load(str(path)), path)
    assert weights.offloaded == 1
    np.testing.assert_array_equal(weights.array(small_model.graph.initializer[1]), big)


def test_two_initializers_of_one_name_are_both_kept_in_memory(tmp_path):
    first, second = BIG_HWIO.reshape(-1), BIG_HWIO.reshape(-1) + 1
    path = _saved(tmp_path / "m.onnx", [numpy_helper.from_array(first, "w"), numpy_helper.from_array(second, "w"),
                                        numpy_helper.from_array(first * 2, "w"), numpy_helper.from_array(first, "v")])
    assert set(raw_data_spans(path)) == {"v"}
    small_model, weights = WeightFile.offload(onnx.load(str(path)), path)
    values = [weights.array(t) for t in small_model.graph.initializer]
    for got, want in zip(values, (first, second, first * 2, first)):
        np.testing.assert_array_equal(got, want)
    assert [t.data_location for t in small_model.graph.initializer] == [TensorProto.DEFAULT] * 3 + [TensorProto.EXTERNAL]


def test_a_weight_kept_in_memory_does_not_stop_the_next_from_leaving(tmp_path):
    first, second = BIG_HWIO.reshape(-1), BIG_HWIO.reshape(-1) * 3
    path = _saved(tmp_path / "m.onnx", [numpy_helper.from_array(first, "a"), numpy_helper.from_array(second, "b")])
    model = onnx.load(str(path))
    model.graph.initializer[0].raw_data = (first + 1).tobytes()  # not what the file holds: stays
    small_model, weights = WeightFile.offload(model, path)
    a, b = small_model.graph.initializer
    assert a.data_location == TensorProto.DEFAULT and b.data_location == TensorProto.EXTERNAL
    np.testing.assert_array_equal(weights.array(b), second)


def test_a_weight_left_in_the_file_is_valid_onnx_external_data(model_file):
    small_model, weights = WeightFile.offload(onnx.load(str(model_file)), model_file)
    big = next(t for t in small_model.graph.initializer if t.name == "big_hwio")
    copy = TensorProto()
    copy.CopyFrom(big)
    # onnx's own reader finds the same values in the file, from the entries alone.
    np.testing.assert_array_equal(numpy_helper.to_array(copy, base_dir=str(model_file.parent)), BIG_HWIO)


def test_reading_a_weight_that_was_never_loaded_or_whose_file_went_says_so(model_file):
    small_model, weights = WeightFile.offload(onnx.load(str(model_file)), model_file)
    big = next(t for t in small_model.graph.initializer if t.name == "big_hwio")
    with pytest.raises(ModelError, match="^the values of big_hwio are not loaded$"):
        WeightFile().array(big)
    model_file.unlink()
    with pytest.raises(ModelError, match=r"^big\.onnx can no longer be read \(No such file or directory\): reopen"):
        weights.array(big)


def test_external_spans_read_offsets_lengths_and_skip_what_cannot_be_used(tmp_path):
    data = tmp_path / "w.bin"
    data.write_bytes(bytes(64))
    def external(name, **info):
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[4])
        t.data_location = TensorProto.EXTERNAL
        for k, v in info.items():
            t.external_data.add(key=k, value=v)
        return t
    inside = numpy_helper.from_array(np.zeros(4, np.float32), "inside")
    tensors = [inside, external("no_length", location="w.bin"), external("missing", location="gone.bin", length="16"),
               external("first", location="w.bin", length="16"),
               external("later", location="w.bin", offset="32", length="16")]
    g = helper.make_graph([], "g", [], [], tensors)
    spans = external_spans(helper.make_model(g), tmp_path)
    assert set(spans) == {"first", "later"}
    assert (spans["first"].offset, spans["first"].length) == (0, 16)  # no offset given: from the start
    assert (spans["later"].offset, spans["later"].length) == (32, 16)
    assert spans["later"].path == data


def test_inferred_types_type_what_reads_a_large_weight_and_survive_a_shape_error(model_file):
    from lenet_gui.core.weight_file import inferred_types

    model = onnx.load(str(model_file))
    types = inferred_types(model)
    assert types["big"] == TensorProto.FLOAT  # the Transpose of the large, shape-only weight
    assert types["c2"] == TensorProto.FLOAT and types["edge_sum"] == TensorProto.FLOAT
    # A side branch whose shapes do not broadcast (12 against 5): strict inference gives up on
    # the whole graph; the rest is still typed.
    model.graph.initializer.append(numpy_helper.from_array(np.ones(5, np.float32), "five"))
    model.graph.node.insert(0, helper.make_node("Add", ["image", "five"], ["odd"]))
    types = inferred_types(model)
    assert types["big"] == TensorProto.FLOAT and types["c1"] == TensorProto.FLOAT


def test_a_name_that_is_not_utf8_keeps_every_weight_in_memory(model_file):
    model = onnx.load(str(model_file))
    data = model_file.read_bytes()
    # The name "edge" as stored (field 8, length 4), its first byte made invalid UTF-8.
    at = data.index(b"\x42\x04edge")
    model_file.write_bytes(data[:at + 2] + b"\xff" + data[at + 3:])
    with pytest.raises(ValueError):
        raw_data_spans(model_file)
    small_model, weights = WeightFile.offload(model, model_file)
    assert weights.offloaded == 0 and small_model is model
