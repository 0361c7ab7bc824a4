"""Calibration: a model without input metadata is fed the way it was trained."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lenet_gui.core import calibrate as cal
from lenet_gui.core.onnx_io import default_model_path
from lenet_gui.core.preprocess import InputSpec
from tests.convention_models import convention_model
from tests.helpers import tiny_classifier
# The cache in a temporary folder (autouse) and the CPU session, as in the fast half.
from tests.test_calibrate_rules import _session, cache_folder  # noqa: F401


def _accuracy(session, spec) -> float:
    ref = cal.load_reference()
    cand = cal.Candidate(cal.Normalisation("", spec.pixel_max, spec.mean, spec.std), spec.invert, spec.field, spec.box)
    probs = session.predict_batch(cal._normalise(cal._views(ref.images, spec, spec.field, spec.box), spec, cand))
    return float((probs.argmax(axis=1) == ref.labels).mean())


# The conventions third-party MNIST models use, as (wrapper arguments, what must be chosen,
# whether the defaults — 0..1, white on black — read clearly worse).
CONVENTIONS = {
    "symmetric": (dict(mean=0.5, std=0.5), dict(pixel_max=1.0, mean=0.5, std=0.5, invert=False), True),
    "bytes, dark on light": (dict(pixel_max=255.0, invert=True), dict(pixel_max=255.0, mean=0.0, std=1.0, invert=True),
                             True),
    "mnist z-score, 28 px, NHWC": (dict(mean=0.1307, std=0.3081, size=28, channels_last=True),
                                   dict(pixel_max=1.0, mean=0.1307, std=0.3081, invert=False), False),
    "bytes, 28 px": (dict(pixel_max=255.0, size=28), dict(pixel_max=255.0, mean=0.0, std=1.0, invert=False), True),
}


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_calibration_finds_the_convention_a_model_was_trained_with(tmp_path, name):
    kwargs, expected, defaults_fail = CONVENTIONS[name]
    session = _session(convention_model(tmp_path / "m.onnx", **kwargs))
    before = session.spec
    result = cal.apply_to_session(session)
    assert result is not None and not result.cached
    chosen = {k: getattr(session.spec, k) for k in expected}
    assert chosen == pytest.approx(expected)
    assert result.accuracy >= 0.95, result.tried
    # Every candidate was measured, and the message names the winner and its figure.
    assert len(result.tried) == 16
    assert f"reads {100 * result.accuracy:.0f} % of reference digits, used" in result.message()
    assert result.message().startswith("no normalisation, polarity or digit size stored in this model; ")
    assert session.uncalibrated_spec == before
    # The winner is never worse than the defaults it replaced, and far better where they fail.
    chosen_reads, default_reads = _accuracy(session, session.spec), _accuracy(session, before)
    assert chosen_reads >= default_reads
    if defaults_fail:
        assert chosen_reads > default_reads + 0.1


def test_defaults_that_are_right_are_kept(tmp_path):
    session = _session(convention_model(tmp_path / "m.onnx"))  # 0..1, white on black
    result = cal.apply_to_session(session)
    assert (session.spec.pixel_max, session.spec.mean, session.spec.std, session.spec.invert) == (1.0, 0.0, 1.0, False)
    assert result.accuracy >= 0.95


def test_metadata_always_wins(tmp_path):
    session = _session(default_model_path())  # states everything
    before = session.spec
    assert cal.apply_to_session(session) is None
    assert session.spec == before and session.calibration is None
    # A model that states only its polarity keeps it, and the rest is calibrated.
    path = convention_model(tmp_path / "m.onnx", pixel_max=255.0, invert=True, keep_metadata={"polarity": "white_on_black"})
    session = _session(path)
    result = cal.apply_to_session(session)
    assert session.spec.invert is False  # stated, even though it reads worse
    assert "polarity" not in result.message() and "normalisation" in result.message()
    assert len(result.tried) == 8
    assert all(t["overrides"]["invert"] is False for t in result.tried)


def test_a_model_that_reads_no_digit_keeps_the_defaults_and_says_so(tmp_path):
    session = _session(tiny_classifier(tmp_path / "random.onnx"))
    before = session.spec
    result = cal.apply_to_session(session)
    assert result is not None and not result.looks_like_digits
    assert result.overrides == {} and session.spec == before
    assert "does not look like a digit classifier" in result.message()
    assert "the defaults used" in result.message()


def test_the_cache_answers_the_second_time_without_running(tmp_path, cache_folder):
    path = convention_model(tmp_path / "m.onnx", mean=0.5, std=0.5)
    session = _session(path)
    first = cal.apply_to_session(session)
    assert (cache_folder / "calibration.json").exists()
    runs = []
    session2 = _session(path)
    original = session2.predict_batch
    session2.predict_batch = lambda batch: runs.append(1) or original(batch)
    second = cal.apply_to_session(session2)
    assert second.cached and not runs
    assert second.overrides == first.overrides and second.accuracy == first.accuracy
    assert session2.spec == session.spec
    # Another file (other weights, same shape) is another entry.
    other = convention_model(tmp_path / "o.onnx", pixel_max=255.0)
    assert not cal.apply_to_session(_session(other)).cached


def test_a_damaged_or_unwritable_cache_only_costs_time(tmp_path, cache_folder, monkeypatch):
    path = convention_model(tmp_path / "m.onnx", mean=0.5, std=0.5)
    cache_folder.mkdir()
    (cache_folder / "calibration.json").write_text("{not json")
    assert not cal.apply_to_session(_session(path)).cached
    assert cal.apply_to_session(_session(path)).cached  # rewritten whole
    data = json.loads((cache_folder / "calibration.json").read_text())
    key = next(iter(data))
    data[key] = {"overrides": "bad"}
    (cache_folder / "calibration.json").write_text(json.dumps(data))
    assert not cal.apply_to_session(_session(path)).cached
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    monkeypatch.setenv("LENET_GUI_CACHE_DIR", str(blocked / "sub"))
    assert cal.apply_to_session(_session(path)) is not None


def test_a_slow_model_runs_fewer_digits_but_never_too_few():
    ref = cal.load_reference()
    sizes = []

    def slow(batch):
        sizes.append(len(batch))
        import time
        time.sleep(0.002 * len(batch))
        return np.full((len(batch), 10), 0.1)

    result = cal.calibrate(InputSpec(height=28, width=28, mean=0, std=1), {}, slow, [str(i) for i in range(10)],
                           reference=ref, time_budget=0.5)
    assert result.digits == cal.MIN_DIGITS
    fast = cal.calibrate(InputSpec(height=28, width=28, mean=0, std=1), {}, lambda b: np.full((len(b), 10), 0.1),
                         [str(i) for i in range(10)], reference=ref, time_budget=60)
    assert fast.digits == len(ref.labels) == 300


def test_the_cli_says_it_once_on_stderr_and_obeys_overrides(tmp_path, cache_folder):
    path = convention_model(tmp_path / "m.onnx", pixel_max=255.0, invert=True)
    drawing = tmp_path / "one.strokes.json"
    drawing.write_text(json.dumps({"version": 1, "width": 280, "height": 280,
                                   "strokes": [[[140, 40], [142, 140], [140, 240]]]}))

    def cli(*args):
        env = {"LENET_GUI_CACHE_DIR": str(cache_folder), "PATH": "/usr/bin:/bin"}
        return subprocess.run([sys.executable, "-m", "lenet_gui", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    out = cli("predict", "--json", "--model", str(path), str(drawing))
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("reference digits") == 1
    assert "x in 0..255, dark on white" in out.stderr
    assert json.loads(out.stdout)["digit"] == 1
    quiet = cli("predict", "--no-calibrate", "--model", str(path), str(drawing))
    assert quiet.returncode == 0 and "reference digits" not in quiet.stderr
    stated = cli("predict", "--pixel-scale", "255", "--polarity", "black_on_white", "--model", str(path), str(drawing))
    assert "lenet-gui: no digit size stored in this model; the normalisation given, dark on white" in stated.stderr
    shapes = cli("shapes", str(path))
    assert shapes.returncode == 0 and shapes.stderr.count("reference digits") == 1
    assert "Conv" in shapes.stdout
    assert "reference digits" not in cli("shapes", str(default_model_path())).stderr


# --- the window ------------------------------------------------------------------------------


def test_the_window_calibrates_says_so_and_takes_the_persons_choice(make_window, draw, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    path = convention_model(tmp_path / "sym.onnx", mean=0.5, std=0.5)
    window = make_window(str(path))
    session = window.session
    assert session.path == path and session.calibration is not None
    assert (session.spec.mean, session.spec.std) == (0.5, 0.5)
    message = window.statusBar().currentMessage()
    assert message.startswith("sym.onnx: no normalisation, polarity or digit size stored in this model; (x − 0.5)/0.5")
    draw(window.canvas, [(140, 40), (142, 140), (140, 240)])
    window.flush()
    assert window.last_result.digit == 1

    dialog = window.show_convention_dialog()
    table = dialog.findChild(type(dialog.table), "conventionTable")
    assert table.topLevelItemCount() == 16
    first = table.topLevelItem(0)
    assert "(calibration's choice)" in first.text(0) and first.text(1).endswith("%")
    shares = [float(table.topLevelItem(i).text(1).rstrip(" %")) for i in range(16)]
    assert shares == sorted(shares, reverse=True)
    # The person picks the dark-on-white variant: the network input really changes.
    wanted = dict(session.calibration.overrides, invert=True)
    dark = next(table.topLevelItem(i) for i in range(16)
                if table.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == wanted)
    assert "dark on white" in dark.text(0) and dark.text(0).startswith("(x − 0.5)/0.5")
    table.setCurrentItem(dark)
    before = window.last_result.prepared.tensor.copy()
    dialog.apply()
    window.flush()
    assert session.spec.invert is True and (session.spec.mean, session.spec.std) == (0.5, 0.5)
    after = window.last_result.prepared.tensor
    np.testing.assert_allclose(after, -before, atol=1e-5)  # (1 − x − 0.5)/0.5 = −(x − 0.5)/0.5
    dialog.close()


def test_a_model_with_metadata_has_nothing_to_choose(window, qtbot):
    dialog = window.show_convention_dialog()
    assert "states how its input is prepared" in dialog.summary.text()
    assert not dialog.apply_button.isEnabled() and dialog.table.isHidden()
    dialog.close()


def test_a_model_too_slow_to_calibrate_keeps_the_defaults_and_says_why():
    import time

    def slow(batch):
        time.sleep(0.05 * len(batch))
        return np.full((len(batch), 10), 0.1)

    result = cal.calibrate(InputSpec(), {}, slow, [str(i) for i in range(10)], reference=cal.load_reference(),
                           time_budget=0.5)
    assert result.overrides == {} and result.digits == 0 and result.looks_like_digits
    assert "ms per digit, too slow to try 16 conventions, so the defaults are used" in result.message()
    again = cal.Calibration.from_json(result.to_json())
    assert again.note == result.note and again.message() == result.message()
