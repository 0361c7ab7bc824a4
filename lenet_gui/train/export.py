"""Export the trained LeNet-5 to one ONNX file that gives every activation.

One file (no external data), opset 17, a dynamic batch, ``onnx.checker`` clean.
Outputs: ``logits`` and the activations ``c1 s2 c3 s4 c5 f6``, so a single
onnxruntime run gives the app everything it draws. ``metadata_props`` tell any
app how to feed the model (see ``lenet_gui.core.session.spec_from_metadata``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lenet_gui.train.model import ACTIVATIONS, WithActivations

OPSET = 17
OUTPUTS = ["logits", *ACTIVATIONS]


def metadata(data_sha256: str, report: dict) -> dict[str, str]:
    meta = {
        "model": "LeNet-5 (LeCun et al. 1998 geometry), trained by lenet-gui",
        "input_size": "32x32",
        "input_layout": "NCHW",
        "input_channels": "1",
        "pixel_scale": "1.0",  # ink pixel value before normalisation (0 = background)
        "normalize_mean": "0.1307",
        "normalize_std": "0.3081",
        "polarity": "white_on_black",
        "digit_box": "20",
        "digit_field": "28",
        "preprocessing": "ink box scaled to 20x20 (aspect kept), centre of mass at the centre of 28x28, padded by 2 to 32x32; value = (pixel - mean) / std",
        "class_labels": json.dumps([str(i) for i in range(10)]),
        "logits_output": "logits",
        "activations": json.dumps(ACTIVATIONS),
        "training_data": "MNIST train (60,000 images; LeCun, Cortes, Burges; CC BY-SA 3.0)",
        "training_data_sha256": data_sha256,
    }
    for key, value in report.items():
        meta[key] = value if isinstance(value, str) else json.dumps(value)
    return meta


def export_onnx(net, out: Path, data_sha256: str, report: dict) -> None:
    import onnx
    import onnxruntime as ort
    import torch

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    net.eval()
    wrapper = WithActivations(net).eval()
    dummy = torch.zeros(1, 1, 32, 32)
    tmp = out.with_name(out.name + ".tmp")
    torch.onnx.export(
        wrapper,
        (dummy,),
        str(tmp),
        input_names=["input"],
        output_names=OUTPUTS,
        dynamic_axes={name: {0: "batch"} for name in ["input", *OUTPUTS]},
        opset_version=OPSET,
        dynamo=False,
        do_constant_folding=True,
    )
    model = onnx.load(str(tmp))
    tmp.unlink()
    name_nodes(model)
    model.doc_string = "LeNet-5 for handwritten digits; outputs logits and every layer's activation."
    model.producer_name = "lenet-gui"
    del model.metadata_props[:]
    for key, value in metadata(data_sha256, report).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(out), save_as_external_data=False)

    # onnxruntime must agree with torch on every output.
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(8, 1, 32, 32)).astype(np.float32))
    with torch.no_grad():
        expected = [t.numpy() for t in wrapper(x)]
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(OUTPUTS, {"input": x.numpy()})
    for name, e, g in zip(OUTPUTS, expected, got):
        diff = float(np.abs(e - g).max())
        if e.shape != g.shape or diff > 1e-5:
            raise RuntimeError(f"onnxruntime differs from torch on {name}: {e.shape} vs {g.shape}, max diff {diff}")


def name_nodes(model) -> None:
    """Name nodes after the paper's layers: ``c1.conv``, ``c1.relu``, ``s2.maxpool``…

    The exporter names them after module paths (``/c1/Conv``, ``/Relu_1``); a
    student reads the layer table more easily with the paper's names.
    """
    layer = ""
    for node in model.graph.node:
        parts = [p for p in node.name.split("/") if p]
        if len(parts) >= 2:
            layer = parts[0]
        op = node.op_type.lower()
        if op == "flatten":
            node.name = "flatten"
        elif layer:
            node.name = f"{layer}.{op}"
