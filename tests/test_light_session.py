"""The light onnxruntime-only session that `predict` uses, against ModelSession."""

import json
import subprocess
import sys

import numpy as np
import pytest

from lenet_gui.core import preprocess
from lenet_gui.core.drawing import Drawing, save_drawing
from lenet_gui.core.errors import ModelError
from lenet_gui.core.runtime import LightSession
from lenet_gui.core.session import ModelSession
from tests.helpers import tiny_classifier


def batch_of_digits(n=40):
    rng = np.random.default_rng(5)
    tensors = []
    for _ in range(n):
        walk = np.cumsum(rng.normal(0, 12, (30, 2)), axis=0) + 140
        tensors.append(preprocess.prepare_drawing(Drawing(280, 280, [walk.tolist()])).tensor[0])
    return np.stack(tensors)


def test_same_probabilities_spec_and_labels_as_model_session():
    light, full = LightSession(), ModelSession(provider="cpu")
    x = batch_of_digits()
    assert np.abs(light.predict_batch(x) - full.predict_batch(x)).max() < 1e-6
    assert light.spec == full.spec and light.labels == full.labels and light.meta == full.meta
    one = full.run(x[:1])
    assert np.abs(light.predict_batch(x[:1])[0] - one.probabilities).max() < 1e-6


@pytest.mark.parametrize("kind", ["softmax", "nhwc rgb fixed batch", "metadata", "external data"])
def test_other_models_read_like_model_session(tmp_path, kind):
    options = {
        "softmax": dict(softmax=True),
        "nhwc rgb fixed batch": dict(channels_last=True, channels=3, batch=2, size=20),
        "metadata": dict(metadata={"class_labels": json.dumps(list("abcdefghij")), "polarity": "black_on_white",
                                   "normalize_mean": "0.5", "normalize_std": "0.25", "input_size": "24x24"}),
        "external data": dict(external=True),
    }[kind]
    path = tiny_classifier(tmp_path / "m.onnx", **options)
    light, full = LightSession(path), ModelSession(path, provider="cpu")
    assert light.spec == full.spec and light.labels == full.labels
    x = np.random.default_rng(0).normal(size=(3, *full.spec.tensor_shape(1)[1:])).astype(np.float32)
    assert np.abs(light.predict_batch(x) - full.predict_batch(x)).max() < 1e-6


def test_bad_files_are_model_errors(tmp_path):
    for name, content in [("empty.onnx", b""), ("text.onnx", b"not a model\n" * 20)]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelError, match=name.split(".")[0]):
            LightSession(tmp_path / name)
    with pytest.raises(ModelError, match="not found"):
        LightSession(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="folder"):
        LightSession(tmp_path)


def test_predict_imports_neither_onnx_nor_qt_nor_the_graph_engine(tmp_path):
    path = tmp_path / "one.strokes.json"
    save_drawing(Drawing(280, 280, [[(140, 40), (140, 240)]]), path)
    code = (
        "import sys; from lenet_gui import cli; "
        f"code = cli.main(['predict', '--json', {str(path)!r}]); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'PySide6', 'shiboken6', 'torch') "
        "or m in ('lenet_gui.core.graph', 'lenet_gui.core.session', 'lenet_gui.core.onnx_io')); "
        "assert code == 0 and not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["digit"] == 1


def test_a_model_failing_at_run_time_is_one_line_in_predict(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    from lenet_gui import cli

    # Valid to load; the Reshape to 7 values fails only when onnxruntime runs it.
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["image", "shape"], ["logits"])], "breaks_at_run_time",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 7])],
        [helper.make_tensor("shape", TensorProto.INT64, [2], [1, 7])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "breaks.onnx"
    onnx.save(model, str(path))
    drawing = tmp_path / "one.strokes.json"
    save_drawing(Drawing(280, 280, [[(140, 40), (140, 240)]]), drawing)
    assert cli.main(["predict", "--model", str(path), str(drawing)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "breaks.onnx" in err and "Traceback" not in err
