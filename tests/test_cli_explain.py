"""``lenet-gui explain``: one unit's working and the evidence map, as text and JSON, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lenet_gui import cli
from lenet_gui.core.drawing import load_drawing
from lenet_gui.core.session import ModelSession

SEVEN = Path(__file__).parent.parent / "docs" / "seven.strokes.json"


@pytest.fixture(scope="module")
def run7():
    session = ModelSession()
    return session, session.predict_drawing(load_drawing(SEVEN))


def explain(capsys, *args):
    code = cli.main(["explain", str(SEVEN), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_unit_json_is_the_explanation_with_onnxruntimes_value(capsys, run7):
    _, result = run7
    code, out, err = explain(capsys, "--layer", "c1.conv", "--unit", "0,12,14", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["layer"] == "c1.conv" and data["unit"] == [0, 12, 14] and data["counted_from"] == 0
    assert data["agrees"] is True and data["explained"] is True
    assert data["runtime_value"] == pytest.approx(float(result.activations["/c1/Conv_output_0"][0, 12, 14]), rel=1e-6)
    assert data["value"] == pytest.approx(data["runtime_value"], rel=1e-4, abs=1e-4)
    assert len(data["terms"]) == 25 and {"weight", "value", "product", "source_layer", "source_unit"} <= set(
        data["terms"][0])
    assert data["input_box"] == [12, 14, 5, 5]
    patch = np.array(data["grids"][0][0]["values"])
    np.testing.assert_allclose(patch, result.prepared.tensor[0, 0, 12:17, 14:19], rtol=1e-6)
    assert data["prediction"]["label"] == "7"


def test_unit_text_reads_like_a_hand_calculation(capsys):
    code, out, _ = explain(capsys, "--layer", "c3.conv", "--unit", "5,3,6")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "c3.conv (Conv), unit [5, 3, 6]  (channel, row, column, counted from 0)"
    assert "input channel 0 of 6" in out and "kernel 5, channel 0" in out and "products" in out
    assert "sum of 150 products" in out and "+ bias" in out and "then c3.relu applies ReLU" in out
    assert lines[-1].startswith("onnxruntime: ") and "✓ agrees" in lines[-1]


def test_dense_text_lists_top_contributions_with_their_sources(capsys):
    code, out, _ = explain(capsys, "--layer", "f6.gemm", "--unit", "3")
    assert code == 0
    assert "the 12 largest products w · x, by size:" in out
    assert out.count("c5.relu[") == 12 and "the other 108 products sum to" in out and "✓ agrees" in out


def test_short_layer_name_and_default_unit(capsys, run7):
    _, result = run7
    code, out, err = explain(capsys, "--layer", "c5", "--json")
    data = json.loads(out)
    assert code == 0 and data["layer"] == "c5.conv"
    assert tuple(data["unit"]) == np.unravel_index(np.argmax(result.activations["/c5/Conv_output_0"]), (120, 1, 1))
    assert "c5.conv" in err and "largest value" in err


def test_evidence_json_and_class_by_label(capsys, run7):
    session, result = run7
    code, out, _ = explain(capsys, "--evidence", "--json")
    data = json.loads(out)
    assert code == 0 and data["class"] == result.digit == 7 and data["label"] == "7"
    assert np.array(data["map"]).shape == (32, 32) and data["patch"] == 4 and data["stride"] == 2
    code, out, _ = explain(capsys, "--evidence", "--class", "1", "--patch", "6", "--stride", "3", "--json")
    data = json.loads(out)
    assert code == 0 and data["class"] == 1 and data["patch"] == 6
    assert data["probability"] == pytest.approx(float(result.probabilities[1]), abs=1e-6)


def test_evidence_text_has_heat_map_and_numbers(capsys):
    code, out, _ = explain(capsys, "--evidence")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("evidence for class 7 (label 7), probability")
    border = lines.index("+" + "-" * 64 + "+")
    assert lines[border + 33] == lines[border] and all(len(x) == 66 for x in lines[border:border + 34])
    assert "@" in out and "mean drop in percentage points per 4×4 block" in out
    assert "strongest evidence at row" in lines[-1]


@pytest.mark.parametrize("args,fragment", [
    (["--layer", "c9"], "no layer named 'c9'; the layers are: c1.conv, c1.relu"),
    (["--layer", "c1.conv", "--unit", "6,0,0"], "in the ranges 0–5, 0–27, 0–27"),
    (["--layer", "c1.conv", "--unit", "0,12"], "give 3 numbers counted from 0"),
    (["--layer", "c1.conv", "--unit", "a,b"], "not a list of whole numbers"),
    (["--evidence", "--class", "x"], "there is no class 'x'"),
    (["--evidence", "--patch", "0"], "at least 1 pixel"),
    ([], "needs --layer NAME"),
])
def test_errors_are_one_line_and_exit_2(capsys, args, fragment):
    code, out, err = explain(capsys, *args)
    assert code == 2 and out == ""
    assert fragment in err and err.count("\n") == 1 and err.startswith("lenet-gui: ")


def test_unreadable_and_empty_files(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(blank)
    for path, fragment in ((bad, "bad.png"), (blank, "no ink"), (tmp_path / "missing.png", "not found")):
        code = cli.main(["explain", str(path), "--evidence"])
        _, err = capsys.readouterr()
        assert code == 2 and fragment in err and err.count("\n") == 1


def test_help_says_units_count_from_zero():
    out = subprocess.run([sys.executable, "-m", "lenet_gui", "explain", "--help"], capture_output=True, text=True,
                         timeout=120).stdout
    assert "counted from 0" in " ".join(out.split()) and "--evidence" in out and "--layer" in out


def test_probabilities_pseudo_layer(capsys, run7):
    _, result = run7
    code, out, _ = explain(capsys, "--layer", "probabilities", "--unit", "3", "--json")
    data = json.loads(out)
    assert code == 0 and data["layer"] == "probabilities" and data["agrees"] is True
    assert data["value"] == pytest.approx(float(result.probabilities[3]), rel=1e-5)
    code, out, _ = explain(capsys, "--layer", "probabilities")
    assert code == 0 and "unit [7]" in out.splitlines()[0] and "probability = " in out
    code, _, err = explain(capsys, "--layer", "probabilities", "--unit", "10")
    assert code == 2 and "classes 0–9" in err


def test_image_file_and_another_model(tmp_path, capsys):
    from tests.explain_models import features_model

    img = tmp_path / "one.png"
    canvas = np.full((120, 120), 255, np.uint8)
    canvas[15:105, 57:63] = 0
    Image.fromarray(canvas).save(img)
    model = features_model(tmp_path / "features.onnx")
    code = cli.main(["explain", str(img), "--model", str(model), "--layer", "bn1", "--unit", "2,5,7", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["layer"] == "bn1" and data["op"] == "BatchNormalization" and data["agrees"] is True
    assert [s["text"].split(" ")[0] for s in data["steps"]][:2] == ["x", "x"]
    code = cli.main(["explain", str(img), "--model", str(model), "--layer", "softmax", "--unit", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "probability = " in out and "✓ agrees" in out
