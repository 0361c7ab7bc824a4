"""The shipped model: what it is, what it says about itself, and how well it reads digits."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from lenet_gui.core.onnx_io import default_model_path
from lenet_gui.core.session import ModelSession
from lenet_gui.train import mnist, pendigits
from lenet_gui.train.evaluate import onnx_accuracy, pendigits_accuracy


@pytest.fixture(scope="module")
def model():
    return onnx.load(str(default_model_path()))


def test_one_file_checker_clean_opset_and_dynamic_batch(model):
    onnx.checker.check_model(model, full_check=True)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value


def test_outputs_are_logits_and_every_layer(model):
    sess = ort.InferenceSession(str(default_model_path()), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert names == ["logits", "c1", "s2", "c3", "s4", "c5", "f6"]
    outs = sess.run(None, {"input": np.zeros((3, 1, 32, 32), np.float32)})
    shapes = [o.shape for o in outs]
    assert shapes == [(3, 10), (3, 6, 28, 28), (3, 6, 14, 14), (3, 16, 10, 10), (3, 16, 5, 5), (3, 120, 1, 1), (3, 84)]


def test_metadata_tells_an_app_how_to_feed_it(model):
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["input_size"] == "32x32"
    assert meta["polarity"] == "white_on_black"
    assert float(meta["normalize_mean"]) == pytest.approx(0.1307)
    assert float(meta["normalize_std"]) == pytest.approx(0.3081)
    assert json.loads(meta["class_labels"]) == [str(i) for i in range(10)]
    assert len(meta["training_data_sha256"]) == 64
    assert float(meta["mnist_test_accuracy"]) >= 0.993
    assert float(meta["pendigits_held_out_accuracy"]) >= 0.97
    assert set(json.loads(meta["activations"])) == {"c1", "s2", "c3", "s4", "c5", "f6"}


def test_lenet5_geometry_and_parameter_count(model):
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    # C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + output 850 (C3 fully connected)
    assert params == 61_706


def test_accuracy_on_1000_mnist_test_images(data_dir):
    folder = data_dir / "mnist-mini"
    data = mnist.load(folder, checksums=mnist.read_sha256sums(folder / "SHA256SUMS"))
    acc = onnx_accuracy(default_model_path(), data.test_images, data.test_labels)
    # The shipped model: 99.44 % on all 10,000, 99.0 % on these first 1,000 (the
    # first half of the test set is the harder one for it: 99.24 % against 99.64 %).
    # A model much below the 99.3 % bar misses more than 15 of them.
    assert acc >= 0.985, acc


def test_accuracy_on_pen_writers_never_seen_in_training(data_dir):
    digits = pendigits.load(data_dir / "pendigits-heldout.tra.gz")
    assert len(digits) == 2498 and len({d.writer for d in digits}) == 10
    report = pendigits_accuracy(default_model_path(), digits)
    assert report["accuracy"] >= 0.993, report  # the bar of issue 10; 99.40 % through the OpenCV renderer
    assert report["worst_writer_accuracy"] >= 0.95, report


def test_app_path_agrees_with_the_evaluation_path(data_dir):
    """The figures above are measured through the same preprocessing the app uses."""
    digits = pendigits.load(data_dir / "pendigits-heldout.tra.gz")[:40]
    session = ModelSession()
    app = [session.predict_drawing(d.drawing()).digit for d in digits]
    labels = [d.label for d in digits]
    assert np.mean(np.array(app) == np.array(labels)) >= 0.95
