"""A training smoke test: one epoch on 2,000 images, exported, run by onnxruntime."""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

if os.environ.get("LENET_GUI_REQUIRE_TRAIN") == "1":
    # `make test` installs the train extra and sets this: there, a missing torch
    # is a broken set-up and fails the run instead of quietly skipping training.
    import torch  # noqa: F401
else:
    pytest.importorskip("torch", reason="training needs the train extra (pip install -e '.[train]')")

from lenet_gui.train.train import main as train_main  # noqa: E402


def test_one_epoch_exports_a_working_model(data_dir, tmp_path, capsys):
    out = tmp_path / "smoke.onnx"
    mini = data_dir / "mnist-mini"
    code = train_main([
        "--mnist", str(mini), "--checksums", str(mini / "SHA256SUMS"),
        "--pendigits", str(data_dir / "pendigits-heldout.tra.gz"), "--held-out-writers", "5",
        "--pen-variants", "1", "--epochs", "1", "--out", str(out),
    ])
    log = capsys.readouterr().out
    assert code == 0
    assert "MNIST: 2000 training, 1000 test images" in log
    assert "epoch  1/1" in log and "pendigits, 5 held-out writers" in log

    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["input_size"] == "32x32" and meta["polarity"] == "white_on_black"
    acc = float(meta["mnist_test_accuracy"])
    assert 0.5 < acc <= 1.0  # one epoch on 2,000 images learns something, not everything
    held_out = json.loads(meta["pendigits_held_out_writers"])
    assert len(held_out) == 5 and set(held_out) <= {4, 7, 12, 20, 22, 25, 26, 27, 29, 30}

    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {"input": np.zeros((2, 1, 32, 32), np.float32)})
    assert [o.name for o in sess.get_outputs()] == ["logits", "c1", "s2", "c3", "s4", "c5", "f6"]
    assert outs[0].shape == (2, 10) and outs[1].shape == (2, 6, 28, 28)
    report = json.loads((tmp_path / "smoke.training.json").read_text())
    assert report["epochs"] == 1 and report["mnist_test_accuracy"] == pytest.approx(acc)


def test_bad_mnist_folder_is_one_line(tmp_path, capsys):
    assert train_main(["--mnist", str(tmp_path), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and err.count("\n") == 1
