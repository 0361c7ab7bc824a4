"""Inference: providers, predictions, activations, and models as exporters write them."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from lenet_gui.core import session as S
from lenet_gui.core.drawing import Drawing
from lenet_gui.core.errors import ModelError
from tests.helpers import tiny_classifier

LINE = Drawing(280, 280, [[(140, 40), (140, 240)]])


@pytest.fixture(scope="module")
def lenet():
    return S.ModelSession()


def test_shipped_model_gives_prediction_and_every_activation(lenet):
    result = lenet.predict_drawing(LINE)
    assert result.probabilities.shape == (10,)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.digit == int(np.argmax(result.probabilities))
    shapes = {k: v.shape for k, v in result.activations.items()}
    for name, shape in {"c1": (6, 28, 28), "s2": (6, 14, 14), "c3": (16, 10, 10), "s4": (16, 5, 5),
                        "c5": (120, 1, 1), "f6": (84,)}.items():
        assert shapes[name] == shape
    assert lenet.provider == "CPU"
    assert lenet.labels == [str(i) for i in range(10)]


def test_spec_comes_from_metadata(lenet):
    spec = lenet.spec
    assert (spec.height, spec.width, spec.channels) == (32, 32, 1)
    assert spec.mean == pytest.approx(0.1307) and spec.std == pytest.approx(0.3081)
    assert not spec.invert and not spec.channels_last


def test_empty_drawing_is_no_prediction(lenet):
    assert lenet.predict_drawing(Drawing()) is None


def test_cuda_request_without_cuda_falls_back_with_a_message(monkeypatch):
    monkeypatch.setattr(S.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    s = S.ModelSession(provider="cuda")
    assert s.provider == "CPU"
    assert "CUDA is not available" in s.warning
    assert s.predict_drawing(LINE) is not None
    info = S.provider_info()
    assert not info["cuda"].available and "onnxruntime-gpu" in info["cuda"].reason
    auto = S.ModelSession(provider="auto")
    assert auto.provider == "CPU" and auto.warning is None


def test_cuda_that_fails_to_start_falls_back(monkeypatch):
    """onnxruntime-gpu installed but CUDA libraries missing: session creation fails."""
    real = S.ort.InferenceSession

    def fake(payload, opts, providers):
        if "CUDAExecutionProvider" in providers:
            raise RuntimeError("libcudnn.so.9: cannot open shared object file")
        return real(payload, opts, providers=providers)

    monkeypatch.setattr(S.ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(S.ort, "InferenceSession", fake)
    s = S.ModelSession(provider="cuda")
    assert s.provider == "CPU" and "libcudnn" in s.warning


def test_unknown_provider():
    with pytest.raises(S.ProviderError):
        S.ModelSession(provider="tpu")


def test_channels_last_three_channels_fixed_batch(tmp_path):
    path = tiny_classifier(tmp_path / "m.onnx", channels_last=True, channels=3, batch=4, size=24)
    s = S.ModelSession(path)
    assert s.spec.channels_last and s.spec.channels == 3 and s.spec.batch == 4
    assert (s.spec.height, s.spec.width) == (24, 24)
    r = s.predict_drawing(LINE)
    assert r.probabilities.shape == (10,)
    assert "conv" in r.activations and r.activations["conv"].shape == (4, 24, 24)
    many = np.repeat(r.prepared.tensor, 9, axis=0)
    probs = s.predict_batch(many)
    assert probs.shape == (9, 10) and np.allclose(probs, probs[0], atol=1e-6)


def test_softmax_output_is_not_softmaxed_twice(tmp_path):
    plain = S.ModelSession(tiny_classifier(tmp_path / "a.onnx"))
    soft = S.ModelSession(tiny_classifier(tmp_path / "b.onnx", softmax=True))
    assert np.allclose(plain.predict_drawing(LINE).probabilities, soft.predict_drawing(LINE).probabilities, atol=1e-5)


def test_metadata_labels_and_polarity(tmp_path):
    meta = {"class_labels": '["a","b","c"]', "polarity": "black_on_white", "normalize_mean": "0.5"}
    s = S.ModelSession(tiny_classifier(tmp_path / "m.onnx", classes=3, metadata=meta))
    assert s.labels == ["a", "b", "c"] and s.spec.invert and s.spec.mean == 0.5
    assert s.predict_drawing(LINE).label in ("a", "b", "c")


def test_overrides_beat_metadata(tmp_path):
    s = S.ModelSession(tiny_classifier(tmp_path / "m.onnx"), spec_overrides={"mean": 0.2, "std": None})
    assert s.spec.mean == 0.2 and s.spec.std == 1.0


def test_external_weights_next_to_the_model(tmp_path):
    path = tiny_classifier(tmp_path / "ext.onnx", external=True)
    assert (tmp_path / "ext.onnx.data").exists()
    assert S.ModelSession(path).predict_drawing(LINE) is not None
    (tmp_path / "ext.onnx.data").unlink()
    with pytest.raises(ModelError, match="external"):
        S.ModelSession(path)


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"\x08\x07garbage" * 10, "not a valid ONNX model"),
    (bytes(range(256)) * 4, "not a valid ONNX model"),
])
def test_corrupt_model_files(tmp_path, content, fragment):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError) as err:
        S.ModelSession(path)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_truncated_model(tmp_path):
    from lenet_gui.core.onnx_io import default_model_path

    path = tmp_path / "cut.onnx"
    path.write_bytes(default_model_path().read_bytes()[:5000])
    with pytest.raises(ModelError):
        S.ModelSession(path)


def test_model_that_is_not_an_image_classifier(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])],
        "adder",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3]), helper.make_tensor_value_info("b", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [3])],
    )
    path = tmp_path / "adder.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(ModelError, match="not an image classifier"):
        S.ModelSession(path)


def test_missing_model():
    with pytest.raises(ModelError, match="not found"):
        S.ModelSession("/nonexistent/model.onnx")


def test_exporter_style_graph_runs_with_every_activation(tmp_path):
    from tests.helpers import exporter_style_classifier

    s = S.ModelSession(exporter_style_classifier(tmp_path / "keras.onnx"))
    assert s.spec.channels_last and s.spec.batch == 1 and (s.spec.height, s.spec.width) == (28, 28)
    r = s.predict_drawing(LINE)
    assert r.probabilities.shape == (10,)
    # Image-dependent tensors only, in execution order; weight transposes are not activations.
    assert s.activation_names == ["nchw", "conv", "biased", "relu", "pooled", "flat", "scores"]
    assert r.activations["pooled"].shape == (5, 14, 14)
    assert "kernel_oihw" not in r.activations and "dense_w" not in r.activations


def test_class_scores_only_runs_give_the_same_prediction(tmp_path):
    session = S.ModelSession(provider="cpu")
    x = np.random.default_rng(0).random((1, 1, 32, 32), dtype=np.float32)
    full = session.run(x)
    light = session.run(x, outputs=())
    some = session.run(x, outputs=["c1", "f6"])
    assert not full.partial and light.partial and some.partial
    assert light.activations == {} and sorted(some.activations) == ["c1", "f6"]
    np.testing.assert_array_equal(light.logits, full.logits)
    np.testing.assert_array_equal(some.activations["c1"], full.activations["c1"])
    np.testing.assert_array_equal(some.activations["f6"], full.activations["f6"])
    assert light.digit == full.digit
    assert session.run(x, outputs=["no such tensor"]).activations == {}


def test_a_slow_full_run_gets_a_class_scores_session_over_the_files_own_graph(monkeypatch):
    session = S.ModelSession(provider="cpu")
    x = np.random.default_rng(1).random((1, 1, 32, 32), dtype=np.float32)
    full = session.run(x)
    session.run(x, outputs=())
    assert session._class_session is None  # LeNet-5's full run is quick: one session
    assert not session.prepare_class_scores() and session._class_session_thread is None
    monkeypatch.setattr(S, "SCORES_SESSION_ABOVE_S", -1.0)
    assert session.prepare_class_scores()  # now the full run counts as slow: it opens on a thread
    light = session.run(x, outputs=())  # the full session answers until it is ready
    scores = session._scores_session(wait=True)
    assert scores is not None and scores is not session.session
    own = [o.name for o in onnx.load(str(session.path)).graph.output]
    assert [o.name for o in scores.get_outputs()] == own  # the file's outputs, nothing exposed
    assert len(session.session.get_outputs()) > len(own)  # the full session still has every activation
    np.testing.assert_allclose(light.logits, full.logits, rtol=1e-5, atol=1e-6)
    assert light.digit == full.digit and light.activations == {}
    assert session.run(x, outputs=()).logits is not None and session._class_session is scores  # opened once
