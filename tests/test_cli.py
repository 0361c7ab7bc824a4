"""The command line: predict and shapes, without Qt."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from lenet_gui import cli
from lenet_gui.core.drawing import Drawing, save_drawing
from tests.helpers import tiny_classifier

ONE = Drawing(280, 280, [[(140, 40), (140, 240)]])


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lenet_gui", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def files(tmp_path):
    one = tmp_path / "one.strokes.json"
    save_drawing(ONE, one)
    empty = tmp_path / "empty.strokes.json"
    save_drawing(Drawing(), empty)
    broken = tmp_path / "broken.strokes.json"
    broken.write_text('{"version": 1, "width": 10')
    img = tmp_path / "one.png"
    canvas = np.full((120, 120), 255, np.uint8)
    canvas[15:105, 57:63] = 0
    Image.fromarray(canvas).save(img)
    return one, empty, broken, img


def test_predict_json_lines_and_errors_do_not_stop_the_batch(files, capsys):
    one, empty, broken, img = files
    code = cli.main(["predict", "--json", str(one), str(broken), str(empty), str(img)])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 2
    assert [r["file"] for r in lines] == [str(one), str(broken), str(empty), str(img)]
    assert lines[0]["digit"] == 1 and lines[3]["digit"] == 1 and "error" not in lines[0]
    assert len(lines[0]["probabilities"]) == 10 and sum(lines[0]["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert lines[1]["digit"] is None and "broken.strokes.json" in lines[1]["error"]  # every file has a line
    assert lines[2]["digit"] is None and lines[2]["probabilities"] is None and "error" not in lines[2]
    assert err.count("\n") == 1 and "broken.strokes.json" in err and "Traceback" not in err


def test_predict_text(files, capsys):
    one, *_ = files
    assert cli.main(["predict", str(one)]) == 0
    assert capsys.readouterr().out.startswith(f"{one}: 1")


@pytest.mark.parametrize("content", [b"", b"garbage" * 50])
def test_bad_model_is_one_line_and_exit_2(files, tmp_path, content):
    model = tmp_path / "bad.onnx"
    model.write_bytes(content)
    result = run_cli("predict", "--model", str(model), str(files[0]))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "bad.onnx" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_file_and_other_models(files, tmp_path, capsys):
    model = tiny_classifier(tmp_path / "tiny.onnx", channels_last=True, channels=3, batch=2)
    code = cli.main(["predict", "--model", str(model), "--json", str(tmp_path / "nope.png"), str(files[0])])
    out, err = capsys.readouterr()
    assert code == 2 and "nope.png" in err
    missing, found = (json.loads(line) for line in out.splitlines())
    assert missing["file"] == str(tmp_path / "nope.png") and "nope.png" in missing["error"]
    assert found["file"] == str(files[0]) and found["digit"] is not None


def test_predict_many_files_in_one_batch(tmp_path, capsys):
    paths = []
    for i in range(50):
        p = tmp_path / f"d{i}.strokes.json"
        save_drawing(Drawing(280, 280, [[(140 + i % 3, 40), (140, 240)]]), p)
        paths.append(str(p))
    assert cli.main(["predict", "--json", *paths]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == paths and all(r["digit"] == 1 for r in rows)


def test_batch_with_worker_pool_matches_single_process(tmp_path):
    from lenet_gui.core.batch import predict_files
    from lenet_gui.core.session import ModelSession

    paths = []
    for i in range(30):
        p = tmp_path / f"d{i}.strokes.json"
        save_drawing(Drawing(280, 280, [[(100 + i, 40), (180, 140 + i), (100, 240)]]), p)
        paths.append(str(p))
    session = ModelSession()
    import lenet_gui.core.batch as batch

    single = list(predict_files(session, paths, workers=1))
    old = batch.POOL_THRESHOLD
    batch.POOL_THRESHOLD = 10
    try:
        pooled = list(predict_files(session, paths, workers=2))
    finally:
        batch.POOL_THRESHOLD = old
    assert [p.file for p in pooled] == paths
    assert all(np.allclose(a.probabilities, b.probabilities, atol=1e-6) for a, b in zip(single, pooled))


def test_cli_paths_do_not_import_qt(files):
    code = (
        "import sys; from lenet_gui import cli; "
        f"cli.main(['predict', {str(files[0])!r}]); cli.main(['shapes']); "
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("lenet-gui ")


def test_shapes_json_for_the_shipped_model(capsys):
    assert cli.main(["shapes", "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)
    assert [layer["op"] for layer in layers] == [
        "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Conv", "Relu", "Flatten", "Gemm", "Relu", "Gemm"
    ]
    for layer in layers:
        assert {"name", "op", "output", "output_shape", "formula", "params", "receptive_field"} <= set(layer)
    convs = [layer for layer in layers if layer["op"] in ("Conv", "MaxPool")]
    assert [c["output_shape"] for c in convs] == [[1, 6, 28, 28], [1, 6, 14, 14], [1, 16, 10, 10], [1, 16, 5, 5], [1, 120, 1, 1]]
    assert convs[0]["formula"].startswith("(32 + 2·0 − 5)/1 + 1 = 28")
    assert [c["receptive_field"] for c in convs] == [5, 6, 14, 16, 32]
    assert sum(layer["params"] for layer in layers) == 61_706
    assert layers[0]["output"] == "/c1/Conv_output_0" and layers[1]["output"] == "c1"


def test_shapes_table_is_a_hand_calculation(capsys):
    assert cli.main(["shapes"]) == 0
    out = capsys.readouterr().out
    for line in ["(32 + 2·0 − 5)/1 + 1 = 28 → 6×28×28", "(28 + 2·0 − 2)/2 + 1 = 14 → 6×14×14",
                 "(14 + 2·0 − 5)/1 + 1 = 10 → 16×10×10", "(10 + 2·0 − 2)/2 + 1 = 5 → 16×5×5"]:
        assert line in out
    assert "per-side" in out and "61,706" in out


def test_shapes_of_another_model_and_of_an_impossible_one(tmp_path, capsys):
    from onnx import TensorProto, helper, numpy_helper
    import onnx

    assert cli.main(["shapes", "--json", str(tiny_classifier(tmp_path / "t.onnx", batch=4, size=20))]) == 0
    layers = json.loads(capsys.readouterr().out)
    assert layers[0]["output_shape"] == [4, 4, 20, 20]  # the model's fixed batch size is kept

    w = numpy_helper.from_array(np.zeros((2, 1, 9, 9), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="big_conv")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w],
    )
    bad = tmp_path / "impossible.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(bad))
    assert cli.main(["shapes", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "big_conv" in err and "9" in err and "5" in err and err.count("\n") == 1


def test_shapes_of_a_pool_wider_than_its_padded_input_shows_what_onnxruntime_gives(tmp_path, capsys):
    # Height 1, pads 1 + 1, kernel 3 dilated by 2 (5 pixels), stride 3: the textbook has no
    # output row; onnxruntime rounds (1 + 2 − 5)/3 = −2/3 toward zero and gives one.
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[3, 1], strides=[3, 1],
                          pads=[1, 0, 1, 0], dilations=[2, 1])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "short.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9), str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.run(None, {"x": np.ones((1, 1, 1, 6), np.float32)})[0].shape == (1, 1, 1, 6)

    note = "onnxruntime rounds −2/3 toward zero, so this axis has 1 output where the textbook ⌊ ⌋ gives none"
    assert cli.main(["shapes", "--no-calibrate", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[1:3] == ["pool", "MaxPool"])
    assert lines[row].split()[3] == "1×1×6"
    assert lines[row + 1].strip() == ("H: dilated kernel 2·(3 − 1) + 1 = 5; trunc((1 + 2·1 − 5)/3) + 1 = "
                                      "trunc((−2)/3) + 1 = 0 + 1 = 1; W: (6 + 2·0 − 1)/1 + 1 = 6 → 1×1×6")
    assert lines[row + 2].strip() == f"note: {note}"

    assert cli.main(["shapes", "--json", "--no-calibrate", str(path)]) == 0
    (layer,) = json.loads(capsys.readouterr().out)
    assert layer["output_shape"] == [1, 1, 1, 6] and layer["note"] == note
