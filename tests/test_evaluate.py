"""`lenet-gui evaluate` and the core behind it: numbers checked against `predict --json`."""

import csv
import gzip
import io
import json
import subprocess
import sys
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image

from lenet_gui import cli, cli_evaluate
from lenet_gui.core import datasets
from lenet_gui.core.collection import CollectionWriter
from lenet_gui.core.confusion_png import RIGHT, WRONG, cell_colours, geometry, render
from lenet_gui.core.drawing import Drawing, save_drawing
from lenet_gui.core.evaluate import EvaluationError, evaluate, open_source
from lenet_gui.core.session import ModelSession
from tests.helpers import tiny_classifier

DIGITS = [str(d) for d in range(10)]
WRITERS = ["Ana", "Bo", "Zoë, 4b"]


@pytest.fixture(scope="module")
def pen_digits(data_dir):
    return datasets.load_pendigits(data_dir / "pendigits-heldout.tra.gz")


@pytest.fixture(scope="module")
def session():
    return ModelSession()


@pytest.fixture
def class_folder(tmp_path, pen_digits):
    """120 pen digits saved through CollectionWriter; every 7th has a wrong label, so mistakes are certain."""
    folder = tmp_path / "our class"
    writer = CollectionWriter(folder)
    for i, d in enumerate(pen_digits[:120]):
        label = (d.label + 1) % 10 if i % 7 == 3 else d.label
        writer.save(d.drawing(), str(label), WRITERS[i % 3])
    return folder


def run_main(capsys, *args):
    code = cli.main(["evaluate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def predicted_by_predict(capsys, files):
    assert cli.main(["predict", "--json", *files]) == 0
    return {r["file"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}


def test_confusion_and_the_rest_match_predict_json(class_folder, capsys):
    code, out, err = run_main(capsys, str(class_folder), "--json", "--worst", "5")
    assert code == 0 and err == ""
    report = json.loads(out)

    with open(class_folder / "labels.csv", newline="", encoding="utf-8") as fh:
        labelled = list(csv.DictReader(fh))
    files = [str(class_folder / row["file"]) for row in labelled]
    predicted = predicted_by_predict(capsys, files)
    confusion = np.zeros((10, 10), int)
    writers = defaultdict(Counter)
    wrong = []
    for row, path in zip(labelled, files):
        guess = predicted[path]["digit"]
        confusion[int(row["label"]), guess] += 1
        writers[row["writer"]]["n"] += 1
        writers[row["writer"]]["correct"] += guess == int(row["label"])
        if guess != int(row["label"]):
            wrong.append((max(predicted[path]["probabilities"]), path, int(row["label"]), guess))

    assert report["confusion"] == confusion.tolist()
    assert np.trace(confusion) < 110 and confusion.sum() == 120  # the planted mistakes are there
    assert report["n"] == 120 and report["correct"] == int(np.trace(confusion))
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 120, abs=1e-6)
    for d in DIGITS:
        i = int(d)
        assert report["per_class"][d]["n"] == confusion[i].sum()
        assert report["per_class"][d]["correct"] == confusion[i, i]
    assert {w: (v["n"], v["correct"]) for w, v in report["per_writer"].items()} == {
        w: (c["n"], c["correct"]) for w, c in writers.items()}
    wrong.sort(reverse=True)
    assert [(w["file"], w["label"], w["predicted"]) for w in report["worst"]] == [(p, t, g) for _, p, t, g in wrong[:5]]
    assert [w["confidence"] for w in report["worst"]] == pytest.approx([c for c, *_ in wrong[:5]], abs=2e-6)
    assert report["skipped"] == {"count": 0, "files": []}


def test_json_schema(class_folder, capsys):
    code, out, _ = run_main(capsys, str(class_folder), "--json")
    report = json.loads(out)
    assert code == 0
    assert {"accuracy", "n", "per_class", "confusion", "per_writer", "worst", "skipped"} <= set(report)
    assert isinstance(report["accuracy"], float) and 0 <= report["accuracy"] <= 1
    assert isinstance(report["n"], int)
    assert list(report["per_class"]) == DIGITS
    assert all(set(v) == {"n", "correct", "accuracy"} for v in report["per_class"].values())
    assert len(report["confusion"]) == 10 and all(len(r) == 10 and all(isinstance(c, int) for c in r)
                                                  for r in report["confusion"])
    assert sorted(report["per_writer"]) == sorted(WRITERS)
    assert 0 < len(report["worst"]) <= 12
    for w in report["worst"]:
        assert {"file", "label", "predicted", "confidence"} <= set(w)
        assert isinstance(w["label"], int) and isinstance(w["predicted"], int) and w["label"] != w["predicted"]
        assert 0 < w["confidence"] <= 1
    confidences = [w["confidence"] for w in report["worst"]]
    assert confidences == sorted(confidences, reverse=True)
    assert set(report["skipped"]) == {"count", "files"}


def test_text_table_puts_sources_side_by_side(class_folder, data_dir, capsys):
    code, out, err = run_main(capsys, str(class_folder), str(data_dir / "pendigits-heldout.tra.gz"),
                              str(data_dir / "mnist-mini"), "--limit", "100")
    assert code == 0
    lines = out.splitlines()
    header = lines[0]
    assert header.split() == ["our", "class", "pendigits-heldout.tra.gz", "t10k-images-idx3-ubyte.gz"]
    evaluated = lines[1].split()
    assert evaluated == ["digits", "evaluated", "100", "100", "100"]  # --limit applies to each source
    width = len(header)
    for line in lines[1:14]:  # the summary table: one width, right-aligned columns
        assert len(line) == width, line
    assert lines[2].startswith("accuracy") and lines[2].count("%") == 3
    assert [line.split()[:2] for line in lines[4:14]] == [["class", d] for d in DIGITS]
    assert "Confusion matrix of our class" in out and "Per writer (our class)" in out
    assert "Most confident mistakes (our class)" in out
    assert "Per writer (t10k" not in out  # MNIST names no writers


def test_malformed_folder_evaluates_the_rest_with_one_message_per_file(tmp_path, pen_digits, capsys):
    folder = tmp_path / "messy"
    writer = CollectionWriter(folder)
    good = [writer.save(d.drawing(), str(d.label), "Ana") for d in pen_digits[:6]]
    (folder / "00003.strokes.json").write_text("{not json")
    save_drawing(Drawing(), folder / "empty.strokes.json")
    save_drawing(pen_digits[7].drawing(), folder / "stray.strokes.json")
    with open(folder / "labels.csv", "a", encoding="utf-8") as fh:
        fh.write("empty.strokes.json,4,Ana\n00001.strokes.json,5,Ana\nnope.strokes.json,2,Ana\n"
                 f"{good[1].name},x,Ana\n")
    code, out, err = run_main(capsys, str(folder), "--json")
    report = json.loads(out)
    lines = err.splitlines()
    named = ["00003.strokes.json", "empty.strokes.json", "stray.strokes.json", "00001.strokes.json",
             "nope.strokes.json", "00002.strokes.json"]
    assert code == 0
    assert len(lines) == len(named) == report["skipped"]["count"]
    for name in named:
        assert sum(name in line for line in lines) == 1, (name, lines)
    assert any("00003.strokes.json" in line and "JSON" in line for line in lines)
    assert any("empty.strokes.json" in line and "no ink" in line for line in lines)
    assert any("'x'" in line and "not one of the model's classes" in line for line in lines)
    # 6 saved; 00003 unreadable, 00001 labelled twice (kept out), 00002's duplicate row only skipped.
    assert report["n"] == 4
    assert sorted(f["file"] for f in report["skipped"]["files"]) == sorted(str(folder / name) for name in named)


def test_text_output_shows_the_skipped_count(tmp_path, pen_digits, capsys):
    folder = tmp_path / "f"
    writer = CollectionWriter(folder)
    for d in pen_digits[:3]:
        writer.save(d.drawing(), str(d.label), "Ana")
    (folder / "00002.strokes.json").write_text("[]")
    code, out, err = run_main(capsys, str(folder))
    assert code == 0 and err.count("\n") == 1 and "00002.strokes.json" in err
    skipped = next(line for line in out.splitlines() if line.startswith("skipped"))
    assert skipped.split() == ["skipped", "1"]


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.mkdir(), "no labels.csv"),
        (lambda p: None, "not found"),
        (lambda p: p.write_text("hello"), "not a collection folder"),
    ],
    ids=["no-labels", "missing", "unknown-file"],
)
def test_unusable_input_is_one_line_and_exit_2(tmp_path, capsys, make, words):
    target = tmp_path / "thing"
    make(target)
    code, out, err = run_main(capsys, str(target))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and words in err and str(target) in err


def test_a_limit_below_one_is_refused(class_folder, capsys):
    code, out, err = run_main(capsys, str(class_folder), "--limit", "0")
    assert code == 2 and out == "" and err.count("\n") == 1 and "--limit" in err


def test_one_unusable_source_does_not_stop_the_others(class_folder, tmp_path, capsys):
    code, out, err = run_main(capsys, str(tmp_path / "nope"), str(class_folder), "--json")
    assert code == 2 and "nope" in err and err.count("\n") == 1
    assert json.loads(out)["n"] == 120


def test_a_folder_whose_drawings_all_fail_is_unusable(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.strokes.json").write_text("nope")
    (folder / "labels.csv").write_text("file,label,writer\na.strokes.json,1,Ana\n")
    code, out, err = run_main(capsys, str(folder))
    assert code == 2 and out == "" and "a.strokes.json" in err and "no digit could be evaluated" in err


def test_labels_outside_another_models_classes(tmp_path, capsys, pen_digits):
    model = tiny_classifier(tmp_path / "three.onnx", classes=3)
    folder = tmp_path / "f"
    writer = CollectionWriter(folder)
    for label in ("0", "2", "7"):
        writer.save(pen_digits[0].drawing(), label, "Ana")
    code, out, err = run_main(capsys, str(folder), "--model", str(model), "--json")
    report = json.loads(out)
    assert code == 0 and report["n"] == 2 and len(report["confusion"]) == 3
    assert err.count("\n") == 1 and "00003.strokes.json" in err and "classes 0–2" in err


def test_png_has_the_matrix_with_counts_and_a_distinct_diagonal(class_folder, capsys, tmp_path):
    out_png = tmp_path / "cm.png"
    code, out, _ = run_main(capsys, str(class_folder), "--png", str(out_png), "--json")
    assert code == 0
    confusion = np.array(json.loads(out)["confusion"])
    image = np.asarray(Image.open(out_png).convert("RGB")).astype(int)
    g = geometry(10)
    top = g["top"] + 24  # the title line
    totals = confusion.sum(axis=1)
    for i in range(10):
        for j in range(10):
            x, y = g["left"] + j * g["cell"] + 5, top + i * g["cell"] + 5  # inside the cell, off the text
            expected, _ = cell_colours(int(confusion[i, j]), int(totals[i]), i == j)
            assert tuple(image[y, x]) == expected, (i, j)
    # The diagonal is green, mistakes red: the two hues never meet.
    diag = cell_colours(10, 10, True)[0]
    off = cell_colours(1, 10, False)[0]
    assert diag[1] > diag[0] and off[0] > off[1]
    assert cell_colours(5, 10, True)[0] != cell_colours(5, 10, False)[0]
    assert RIGHT != WRONG


def test_counts_are_written_in_the_cells():
    confusion = np.zeros((10, 10), int)
    confusion[3, 3] = 7
    blank = np.asarray(render(np.zeros((10, 10), int), DIGITS).convert("L")).astype(int)
    with_count = np.asarray(render(confusion, DIGITS).convert("L")).astype(int)
    g = geometry(10)
    cell = lambda img, i, j: img[g["top"] + i * g["cell"] + 10: g["top"] + (i + 1) * g["cell"] - 10,
                                 g["left"] + j * g["cell"] + 10: g["left"] + (j + 1) * g["cell"] - 10]
    text = cell(with_count, 3, 3)
    assert text.max() - text.min() > 100  # white digits on the strong green
    assert (cell(blank, 5, 5) == cell(with_count, 5, 5)).all()


def test_png_errors_are_one_line(class_folder, tmp_path, capsys):
    code, _, err = run_main(capsys, str(class_folder), "--png", str(tmp_path / "no" / "such" / "cm.png"))
    assert code == 2 and err.count("\n") == 1 and "cm.png" in err


# --- readers ------------------------------------------------------------------------------------


def test_pendigits_orig_reader_on_the_sample(data_dir, pen_digits):
    assert len(pen_digits) == 2498
    assert {d.writer for d in pen_digits} == {4, 7, 12, 20, 22, 25, 26, 27, 29, 30}
    assert Counter(d.label for d in pen_digits)[0] == 260
    first = pen_digits[0]
    assert first.label == 8 and first.writer == 12
    assert first.strokes[0][0] == (267.0, 500 - 333.0)  # tablet y points up, screen y down


def test_pendigits_resampled_form(tmp_path, session):
    lines = "47,100,27,81,57,37,26,0,0,23,56,53,100,90,40,98,8\n0,89,27,100,42,75,29,45,15,15,37,0,69,2,100,6,2\n"
    path = tmp_path / "pendigits.tes"
    path.write_text(lines)
    digits = datasets.load_pendigits(path)
    assert [d.label for d in digits] == [8, 2]
    assert digits[0].strokes == [[(47.0, 0.0), (27.0, 19.0), (57.0, 63.0), (26.0, 100.0), (0.0, 77.0),
                                  (56.0, 47.0), (100.0, 10.0), (40.0, 2.0)]]
    gz = tmp_path / "pendigits.tes.gz"
    gz.write_bytes(gzip.compress(lines.encode()))
    source = open_source(gz, session.labels)
    assert source.kind == "pendigits" and [s.label for s in source.samples] == [8, 2]
    assert evaluate(session, source).n == 2
    (tmp_path / "bad.tra").write_text("1,2,3\n")
    with pytest.raises(EvaluationError, match="bad.tra line 1"):
        open_source(tmp_path / "bad.tra", session.labels)


def test_pendigits_evaluation_matches_the_training_evaluation(data_dir, session, pen_digits):
    from lenet_gui.train.evaluate import pendigits_accuracy

    source = open_source(data_dir / "pendigits-heldout.tra.gz", session.labels, limit=300)
    report = evaluate(session, source)
    reference = pendigits_accuracy(session.path, pen_digits[:300])
    assert report.n == reference["count"] == 300
    assert report.accuracy == pytest.approx(reference["accuracy"], abs=1e-9)
    assert {int(w): k / n for w, (n, k) in report.per_writer().items()} == pytest.approx(reference["per_writer"])


def test_mnist_reader_folder_either_file_and_raw(data_dir, tmp_path, session):
    folder = data_dir / "mnist-mini"
    images, labels, name = datasets.load_mnist(folder)
    assert images.shape == (1000, 28, 28) and name == "t10k-images-idx3-ubyte.gz"
    by_labels = datasets.load_mnist(folder / "t10k-labels-idx1-ubyte.gz")
    assert (by_labels[1] == labels).all()
    raw = tmp_path / "raw"
    raw.mkdir()
    for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / n).write_bytes(gzip.decompress((folder / f"{n}.gz").read_bytes()))
    train_images, train_labels, train_name = datasets.load_mnist(raw / "train-images-idx3-ubyte")
    assert train_images.shape == (2000, 28, 28) and train_name == "train-images-idx3-ubyte"
    source = open_source(raw, session.labels, limit=200)  # a folder with only the training pair
    assert source.kind == "mnist" and len(source.samples) == 200


def test_mnist_evaluation_matches_the_training_evaluation(data_dir, session):
    from lenet_gui.train.evaluate import onnx_accuracy

    images, labels, _ = datasets.load_mnist(data_dir / "mnist-mini")
    report = evaluate(session, open_source(data_dir / "mnist-mini", session.labels, limit=500))
    assert report.n == 500 and not report.source.has_writer and report.per_writer() == {}
    assert report.accuracy == pytest.approx(onnx_accuracy(session.path, images[:500], labels[:500]), abs=1e-9)
    assert report.accuracy > 0.95


def test_mnist_with_a_missing_partner_or_bad_bytes(tmp_path, session):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(EvaluationError, match="labels-idx1-ubyte: file not found"):
        open_source(tmp_path / "t10k-images-idx3-ubyte", session.labels)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x09\x01")
    with pytest.raises(EvaluationError, match="unsigned bytes"):
        open_source(tmp_path / "t10k-images-idx3-ubyte", session.labels)


def test_cancelling_keeps_what_was_done(data_dir, session):
    source = open_source(data_dir / "pendigits-heldout.tra.gz", session.labels)
    seen = []
    report = evaluate(session, source, progress=lambda d, t: seen.append((d, t)), should_stop=lambda: len(seen) > 3)
    assert report.cancelled and 0 < report.n < len(source.samples)
    assert seen[0] == (0, 2498) and all(t == 2498 for _, t in seen)
    assert report.to_json()["cancelled"] is True


# --- the terminal ---------------------------------------------------------------------------------


def test_progress_bar_only_on_a_terminal(monkeypatch):
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    bar = cli_evaluate._ProgressBar("x")
    bar(5, 10)
    assert fake.getvalue() == ""
    fake.isatty = lambda: True
    bar = cli_evaluate._ProgressBar("our class")
    bar(5, 10)
    bar(10, 10)
    text = fake.getvalue()
    assert "our class" in text and "5/10" in text and "#" * 15 in text and text.endswith("\r")


def test_help_documents_every_option():
    result = subprocess.run([sys.executable, "-m", "lenet_gui", "evaluate", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--model", "--json", "--png", "--limit", "--worst", "--provider"):
        assert option in result.stdout
    assert "examples:" in result.stdout and "lenet-gui evaluate my-class/" in result.stdout


def test_evaluate_imports_neither_qt_nor_torch(class_folder):
    code = (
        "import sys; from lenet_gui import cli; "
        f"assert cli.main(['evaluate', {str(class_folder)!r}, '--json', '--png', {str(class_folder / 'cm.png')!r}]) == 0; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'torch'))]; assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_predict_reads_a_collections_drawings(class_folder, capsys):
    files = sorted(str(p) for p in class_folder.glob("*.strokes.json"))
    assert len(predicted_by_predict(capsys, files)) == 120
