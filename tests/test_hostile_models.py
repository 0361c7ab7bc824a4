"""Hostile models and metadata against ``predict`` and ``shapes``: one line, exit 2, bounded memory.

The corpus (tests/hostile_corpus.py) is built at test time. Every case must end
in exactly one clear message with exit code 2: no traceback, no RuntimeWarning,
valid JSON on every line of stdout, and, for the cases that used to exhaust
memory, a peak well under an address-space limit the process runs under.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest

from lenet_gui import cli
from lenet_gui.core import budget, model_check, onnx_io, safe_run
from lenet_gui.core.drawing import Drawing, save_drawing
from lenet_gui.core.errors import ModelError
from lenet_gui.core.session import ModelSession
from tests.helpers import tiny_classifier
from tests.hostile_corpus import CASES

ONE = Drawing(280, 280, [[(140, 40), (140, 240)]])
REPO = Path(__file__).resolve().parents[1]
MIB = 1024**2


def _no_constants(name):
    raise AssertionError(f"{name} in JSON output")


def strict_json(line: str):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    return json.loads(line, parse_constant=_no_constants)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    drawing = root / "one.strokes.json"
    save_drawing(ONE, drawing)
    paths = {}
    for name, (build, _) in CASES.items():
        folder = root / name
        folder.mkdir()
        paths[name] = build(folder)
    return drawing, paths


def test_the_corpus_is_small_on_disk(corpus):
    _, paths = corpus
    assert max(p.stat().st_size for p in paths.values()) < 64 * 1024


@pytest.mark.parametrize("case", list(CASES))
def test_predict_gives_one_line_and_exit_2(case, corpus, capsys):
    drawing, paths = corpus
    fragment = CASES[case][1]
    code = cli.main(["predict", "--json", "--timeout", "1", "--model", str(paths[case]), str(drawing)])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lenet-gui: ") and fragment in lines[0], err
    assert "Traceback" not in err and "Warning" not in err
    records = [strict_json(line) for line in out.splitlines()]
    assert len(records) == 1 and records[0]["file"] == str(drawing)
    assert records[0]["digit"] is None and records[0]["probabilities"] is None and fragment in records[0]["error"]


@pytest.mark.parametrize("case", list(CASES))
def test_shapes_never_fails_with_a_traceback(case, corpus, capsys):
    """The arithmetic runs nothing: it shows even hostile models, or says in one line why not."""
    _, paths = corpus
    code = cli.main(["shapes", "--json", str(paths[case])])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 0:
        # Nothing on stderr, but the one line saying how a model without input metadata is fed.
        lines = err.strip().splitlines()
        assert isinstance(strict_json(out), list)
        assert lines == [] or (len(lines) == 1 and "stored in this model" in lines[0]), err
    else:
        assert code == cli.EXIT_USAGE and len(err.strip().splitlines()) == 1 and out == ""


# --- memory and stderr, in a real process under an address-space limit -----------------------

LIMIT_AS = 1536 * MIB  # 1.5 GiB: a single tensor of any of the memory cases is larger
RUNNER = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from lenet_gui import cli
    if __name__ == "__main__":
        try:
            code = cli.main(sys.argv[1:])
        finally:
            # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (pytest) across exec.
            with open("/proc/self/status") as status:
                hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
            peak = max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            with open({report!r}, "w") as f:
                json.dump({{"peak_kib": peak}}, f)
        sys.exit(code)
""")
MEMORY_CASES = ["constant_of_shape_huge", "constant_of_shape_from_data", "tile_huge", "tile_from_data",
                "input_20000x20000", "input_size_20000", "digit_box_1e9", "nan_weights", "loop_10e12_trips"]


@pytest.mark.parametrize("case", MEMORY_CASES)
def test_memory_cases_stay_small_in_a_limited_process(case, corpus, tmp_path):
    drawing, paths = corpus
    report = tmp_path / "peak.json"
    script = tmp_path / "run.py"
    script.write_text(RUNNER.format(limit=LIMIT_AS, report=str(report)))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, str(script), "predict", "--json", "--timeout", "1", "--model",
                           str(paths[case]), str(drawing)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == cli.EXIT_USAGE, done.stderr
    assert CASES[case][1] in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and "RuntimeWarning" not in done.stderr
    assert [strict_json(line)["error"] for line in done.stdout.splitlines()]
    peak_mib = json.loads(report.read_text())["peak_kib"] / 1024
    # The interpreter with numpy, onnx and onnxruntime is ~70 MiB; the tensors refused are 1.5–13 GiB.
    assert peak_mib < 250, f"peak {peak_mib:.0f} MiB"  # measured: 69–84 MiB


# --- external data: refused before any file is read -----------------------------------------


@pytest.mark.parametrize("case", ["external_parent", "external_absolute", "external_symlink"])
def test_external_data_outside_the_folder_is_never_read(case, corpus, monkeypatch):
    _, paths = corpus
    reads = []
    real = onnx.load_external_data_for_model
    monkeypatch.setattr(onnx, "load_external_data_for_model", lambda *a, **k: reads.append(a) or real(*a, **k))
    with pytest.raises(ModelError, match="refused|absolute path"):
        onnx_io.load_model(paths[case])
    assert reads == []


def test_external_data_inside_the_folder_is_read(tmp_path, monkeypatch):
    reads = []
    real = onnx.load_external_data_for_model
    monkeypatch.setattr(onnx, "load_external_data_for_model", lambda *a, **k: reads.append(a) or real(*a, **k))
    model = onnx_io.load_model(tiny_classifier(tmp_path / "ext.onnx", external=True))
    assert len(reads) == 1 and model.graph.initializer[0].data_location == onnx.TensorProto.DEFAULT


@pytest.mark.parametrize("case", ["external_parent", "external_absolute", "external_symlink"])
def test_the_pinned_onnx_and_onnxruntime_refuse_them_too(case, corpus):
    """The versions pyproject.toml pins have the upstream path checks."""
    import onnxruntime as ort

    _, paths = corpus
    with pytest.raises(Exception):
        onnx.load(str(paths[case]))
    with pytest.raises(Exception):
        ort.InferenceSession(str(paths[case]), providers=["CPUExecutionProvider"])


def test_external_data_beyond_the_end_of_its_file(tmp_path):
    path = tiny_classifier(tmp_path / "ext.onnx", external=True)
    model = onnx.load(str(path), load_external_data=False)
    entry = next(e for e in model.graph.initializer[0].external_data if e.key == "length")
    entry.value = str(10**9)
    onnx.save_model(model, str(path))
    with pytest.raises(ModelError, match="beyond the end of ext.onnx.data"):
        onnx_io.load_model(path)


def test_hard_linked_weights_are_refused(tmp_path):
    path = tiny_classifier(tmp_path / "ext.onnx", external=True)
    os.link(tmp_path / "ext.onnx.data", tmp_path / "elsewhere.bin")
    with pytest.raises(ModelError, match="several hard links"):
        onnx_io.load_model(path)


# --- the pieces ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw, classes, expected", [
    ('["a", "b"]', 2, ["a", "b"]),
    ("[0, 1, 2]", 3, ["0", "1", "2"]),
    ("x, y", 2, ["x", "y"]),
    ("", 2, None),
    (None, 10, None),
])
def test_labels_that_are_fine(raw, classes, expected):
    assert model_check.parse_labels(raw, classes, "m.onnx") == expected


@pytest.mark.parametrize("raw, fragment", [
    ('[["a"], "b"]', "flat list"),
    ('{"0": "a"}', "not a JSON object"),
    ('["a", ', "not valid JSON"),
    ('[null, "b"]', "text labels; it holds null"),
    ('[true, "b"]', "text labels; it holds true"),
    ('["a", "b", "c"]', "3 labels but the model outputs 2 classes"),
    ('["' + "x" * 300 + '", "b"]', "300 characters long"),
    ("[" * 100000, "flat list"),
])
def test_labels_that_are_refused(raw, fragment):
    with pytest.raises(ModelError, match=fragment.replace("[", r"\[")):
        model_check.parse_labels(raw, 2, "m.onnx")


def test_nesting_is_counted_outside_strings_only():
    assert model_check.parse_labels('["[[", "]]"]', 2, "m.onnx") == ["[[", "]]"]
    assert model_check.parse_labels('["a\\"[", "b"]', 2, "m.onnx") == ['a"[', "b"]


@pytest.mark.parametrize("meta", [
    {"digit_box": "20", "digit_field": "28", "input_size": "32x32"},
    {"normalize_std": "0.3081", "normalize_mean": "-0.5", "pixel_scale": "255"},
    {"digit_box": "2048", "input_size": "2048x1"},
])
def test_sane_metadata_passes(meta):
    model_check.check_metadata(meta, "m.onnx")


@pytest.mark.parametrize("key, value, fragment", [
    ("digit_box", "2049", "digit_box is 2049"),
    ("digit_box", "0", "digit_box is 0"),
    ("digit_field", "20.5", "digit_field is 20.5; it must be a whole number"),
    ("digit_field", "wide", "digit_field is 'wide', which is not a number"),
    ("input_size", "0x28", "each side must be from 1 to 2048"),
    ("input_size", "28x28x3", "it must look like 32x32"),
    ("normalize_std", "-1", "normalize_std is -1"),
    ("normalize_std", "0.0009", "normalize_std is 0.0009"),
    ("normalize_mean", "2e6", "normalize_mean is 2e+06"),
    ("pixel_scale", "0", "pixel_scale is 0"),
    ("pixel_scale", "2e6", "pixel_scale is 2e+06"),
])
def test_bad_metadata_is_named(key, value, fragment):
    with pytest.raises(ModelError, match=fragment.replace("+", r"\+")):
        model_check.check_metadata({key: value}, "m.onnx")


@pytest.mark.parametrize("option, value", [("mean", float("nan")), ("std", 0.0), ("std", float("inf")),
                                           ("pixel_max", 1e-30)])
def test_command_line_overrides_are_checked_too(option, value, tmp_path, capsys):
    flag = {"mean": "--mean", "std": "--std", "pixel_max": "--pixel-scale"}[option]
    drawing = tmp_path / "one.strokes.json"
    save_drawing(ONE, drawing)
    code = cli.main(["predict", flag, str(value), str(drawing)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and err.startswith(f"lenet-gui: {flag} is ") and "Traceback" not in err


def test_a_fixed_batch_of_a_million_is_refused(tmp_path):
    with pytest.raises(ModelError, match="fixed batch size of 1000000"):
        ModelSession(tiny_classifier(tmp_path / "b.onnx", batch=1_000_000, size=4))


@pytest.mark.parametrize("text, size", [("1GiB", 1024**3), ("512M", 512 * MIB), ("2GB", 2 * 10**9),
                                        ("100000000", 10**8), ("1.5 gib", 1536 * MIB)])
def test_memory_sizes(text, size):
    assert budget.parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "1 parsec", "1K", "-5G", ""])
def test_memory_sizes_refused(text):
    with pytest.raises(ValueError):
        budget.parse_size(text)


def test_format_size():
    assert [budget.format_size(s) for s in (512, 2048, 3 * MIB, 1536 * MIB, 200 * 1024**3)] == [
        "512 bytes", "2.0 KiB", "3.0 MiB", "1.5 GiB", "200 GiB"]


def test_footprint_of_the_shipped_model_counts_every_tensor():
    model = onnx_io.load_model(onnx_io.default_model_path())
    fp = budget.footprint(model)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    assert fp.weights == params * 4 and fp.runtime_sized == []
    # LeNet-5's first activation, 6×28×28 floats, is its largest tensor.
    assert fp.largest.shape == [1, 6, 28, 28] and fp.largest.bytes == 6 * 28 * 28 * 4
    assert fp.weights + 6 * 28 * 28 * 4 < fp.total < fp.weights + 20_000 * 4


def test_a_small_memory_limit_refuses_the_shipped_model_and_names_the_tensor():
    fp = budget.footprint(onnx_io.load_model(onnx_io.default_model_path()))
    budget.check(fp, fp.total, "lenet5.onnx")  # exactly enough is enough
    with pytest.raises(ModelError, match=r"lenet5.onnx is too large to run: one run needs .* KiB \(the largest "
                                         r"tensor, '.+' 1×6×28×28, needs 18.4 KiB\), more than the memory limit"):
        budget.check(fp, fp.total - 1, "lenet5.onnx")
    with pytest.raises(ModelError, match="alone needs 18.4 KiB"):
        budget.check(fp, 10_000, "lenet5.onnx")


def test_batches_are_split_to_fit_the_limit():
    fp = budget.Footprint(total=10 * MIB + 1000, weights=10 * MIB, largest=None)
    assert budget.max_batch(fp, 10 * MIB + 50_000, 1024) == 50
    assert budget.max_batch(fp, 10 * MIB, 1024) == 1  # always at least one image
    assert budget.max_batch(fp, 10**12, 1024) == 1024


def test_predict_batch_chunks_within_the_memory_limit(tmp_path, monkeypatch):
    session = ModelSession(tiny_classifier(tmp_path / "m.onnx"))
    sizes = []
    real = safe_run.run
    monkeypatch.setattr(safe_run, "run", lambda s, n, feeds, *a: sizes.append(len(next(iter(feeds.values()))))
                        or real(s, n, feeds, *a))
    session.memory_limit = session.footprint.weights + session.footprint.per_image * 7
    probs = session.predict_batch(np.zeros((20, 1, 28, 28), np.float32))
    assert sizes == [7, 7, 6] and probs.shape == (20, 10)


@pytest.mark.parametrize("text, expected", [
    ("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running MatMul node. "
     "Name:'fc1' Status Message: matmul_helper.h:59 Compute MatMul dimension mismatch",
     "node 'fc1' (MatMul) failed: Compute MatMul dimension mismatch"),
    ("[ONNXRuntimeError] : 1 : FAIL : Node (mm) Op (MatMul) [ShapeInferenceError] Incompatible dimensions",
     "node 'mm' (MatMul): [ShapeInferenceError] Incompatible dimensions"),
    ("Non-zero status code returned while running Tile node. Name:'' Status Message: /src/x/bfc_arena.cc:360 "
     "void* A::B(size_t, bool) Failed to allocate memory for requested buffer of size 99",
     "a Tile node failed: it needs more memory than the limit allows"),
    ("something odd\nsecond line", "something odd"),
])
def test_onnxruntime_failures_become_sentences(text, expected):
    assert safe_run.describe_failure(RuntimeError(text)) == expected


def test_memory_and_recursion_errors_become_sentences():
    assert safe_run.describe_failure(MemoryError()) == "there is not enough memory for it"
    assert safe_run.describe_failure(RecursionError()) == "it is nested too deeply to read"


@pytest.mark.parametrize("values, expected", [
    ([0.1, 0.9], None),
    ([np.nan, 1.0], "the model returned NaN for this input"),
    ([np.inf, 1.0], "the model returned infinity for this input"),
    ([], "the model returned no class scores for this input"),
])
def test_nonfinite_results(values, expected):
    assert safe_run.nonfinite_message(np.array(values, np.float32)) == expected


def test_a_runtime_sized_model_runs_in_a_worker_and_a_normal_one_does_not(corpus, tmp_path):
    _, paths = corpus
    plain = ModelSession(tiny_classifier(tmp_path / "m.onnx"))
    assert not isinstance(plain.session, safe_run.WorkerSession)
    guarded = ModelSession(paths["constant_of_shape_from_data"])
    try:
        assert isinstance(guarded.session, safe_run.WorkerSession)
        assert "ConstantOfShape 'grow'" in guarded.footprint.runtime_sized
        blank = guarded.run(np.zeros((1, 1, 28, 28), np.float32))  # no ink: a 0×0 tensor, fine
        assert blank.probabilities.shape == (10,)
        with pytest.raises(ModelError, match="needs more memory than the limit allows"):
            guarded.run(np.ones((1, 1, 28, 28), np.float32))
        again = guarded.run(np.zeros((1, 1, 28, 28), np.float32))  # the worker survived, or came back
        assert np.allclose(again.probabilities, blank.probabilities)
        # The 3.6 GB tensor was refused by the worker's address-space limit, not half-built.
        assert 0 < guarded.session.peak_kib * 1024 < budget.DEFAULT_LIMIT
    finally:
        guarded.session.close()


def test_a_worker_that_runs_too_long_is_stopped_and_replaced(corpus):
    _, paths = corpus
    session = ModelSession(paths["loop_10e12_trips"], timeout=0.5)
    try:
        first = session.session._process
        with pytest.raises(safe_run.RunTimeout, match="longer than 0.5 s"):
            session.run(np.zeros((1, 1, 28, 28), np.float32))
        assert not first.is_alive()
    finally:
        session.session.close()


def test_an_in_process_run_is_stopped_by_its_time_limit(corpus, monkeypatch):
    """The terminate flag: a static model past its time limit in this process."""
    _, paths = corpus
    real = budget.footprint
    monkeypatch.setattr(budget, "footprint", lambda *a: dataclasses.replace(real(*a), runtime_sized=[]))  # run it here
    session = ModelSession(paths["loop_10e12_trips"], timeout=0.3)
    assert not isinstance(session.session, safe_run.WorkerSession)
    with pytest.raises(safe_run.RunTimeout, match="longer than 0.3 s"):
        session.run(np.zeros((1, 1, 28, 28), np.float32))


def test_an_input_side_past_the_limit_is_refused_even_when_it_fits_in_memory(tmp_path):
    path = tiny_classifier(tmp_path / "wide.onnx", size=model_check.MAX_SIDE + 1)
    with pytest.raises(ModelError, match=f"has a height of {model_check.MAX_SIDE + 1} pixels; at most 2048"):
        ModelSession(path)


def test_the_memory_limit_option_is_the_limit(tmp_path, capsys):
    """A 768×768 model needs ~20 MiB: fine by default, refused under --memory-limit 16M."""
    model = tiny_classifier(tmp_path / "big.onnx", size=768)
    needs = ModelSession(model).footprint.total
    assert 16 * MIB < needs < 32 * MIB
    drawing = tmp_path / "one.strokes.json"
    save_drawing(ONE, drawing)
    assert cli.main(["predict", "--model", str(model), str(drawing)]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "--memory-limit", "16M", "--model", str(model), str(drawing)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"big.onnx is too large to run: one run needs {budget.format_size(needs)} (the largest tensor" in err
    assert "more than the memory limit of 16.0 MiB" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("args, fragment", [(["--memory-limit", "lots"], "is not a memory size"),
                                            (["--memory-limit", "1K"], "too small a memory limit"),
                                            (["--timeout", "0"], "not a number of seconds above 0"),
                                            (["--timeout", "nan"], "not a number of seconds above 0")])
def test_bad_limits_on_the_command_line(args, fragment, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["predict", *args, str(tmp_path / "x.png")])
    assert stop.value.code == cli.EXIT_USAGE and fragment in capsys.readouterr().err


def test_the_watchdog_stops_only_runs_past_their_deadline():
    import time
    from types import SimpleNamespace

    watchdog = safe_run._Watchdog()
    slow, quick, done = (SimpleNamespace(terminate=False) for _ in range(3))
    watchdog.arm(slow, 1.0)
    watchdog.arm(quick, 0.05)  # an earlier deadline than the watcher waits for: it must wake
    finished = watchdog.arm(done, 0.05)
    watchdog.disarm(finished)  # a run that ended in time is never stopped
    deadline = time.monotonic() + 5
    while not quick.terminate and time.monotonic() < deadline:
        time.sleep(0.01)
    assert quick.terminate and not slow.terminate
    while not slow.terminate and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slow.terminate and not done.terminate


def test_a_run_can_be_cancelled_from_another_thread(corpus, monkeypatch):
    """In this process through the caller's RunOptions; in a worker by cancel()."""
    import threading

    import onnxruntime as ort

    _, paths = corpus
    real = budget.footprint
    monkeypatch.setattr(budget, "footprint", lambda *a: dataclasses.replace(real(*a), runtime_sized=[]))
    here = ModelSession(paths["loop_10e12_trips"], timeout=30)
    options = ort.RunOptions()
    threading.Timer(0.2, setattr, (options, "terminate", True)).start()
    feeds = {here._input_name: np.zeros((1, 1, 28, 28), np.float32)}
    with pytest.raises(safe_run.RunCancelled, match="cancelled"):
        safe_run.run(here.session, here._output_names, feeds, 30, "loop.onnx", options)
    monkeypatch.undo()
    worker = ModelSession(paths["loop_10e12_trips"], timeout=30)
    try:
        threading.Timer(0.3, worker.session.cancel).start()
        with pytest.raises(safe_run.RunCancelled, match="cancelled"):
            worker.run(np.zeros((1, 1, 28, 28), np.float32))
    finally:
        worker.session.close()


def test_the_installed_onnx_and_onnxruntime_meet_the_pins():
    """The pins name the releases with the upstream external-data path checks."""
    import re
    import tomllib

    import onnxruntime as ort
    from packaging.version import Version

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(re.fullmatch(r"(onnx|onnxruntime)>=([\d.]+)", d).groups() for d in deps
                if re.fullmatch(r"(onnx|onnxruntime)>=([\d.]+)", d))
    assert Version(pins["onnx"]) >= Version("1.21") and Version(pins["onnxruntime"]) >= Version("1.24.3")
    assert Version(onnx.__version__) >= Version(pins["onnx"])
    assert Version(ort.__version__) >= Version(pins["onnxruntime"])


def test_only_fixed_shape_models_stop_arming_the_watchdog(corpus, tmp_path):
    _, paths = corpus
    blank = np.zeros((1, 1, 28, 28), np.float32)
    fixed = ModelSession(tiny_classifier(tmp_path / "m.onnx"))
    assert fixed._timed
    fixed.run(blank)
    assert not fixed._timed  # far within 10 s: runs of the same shapes cannot take longer
    data_sized = ModelSession(paths["loop_trips_from_ink"], timeout=1)
    try:
        data_sized.run(blank)  # fast without ink...
        assert data_sized._timed
        with pytest.raises(safe_run.RunTimeout):  # ...and still stopped with it
            data_sized.run(np.ones((1, 1, 28, 28), np.float32))
    finally:
        data_sized.session.close()
