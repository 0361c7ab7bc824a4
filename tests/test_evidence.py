"""Occlusion evidence: exact on a model with a known answer, one batched run, and not decoration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import evidence as evidence_module
from lenet_gui.core import preprocess
from lenet_gui.core.explain import (
    ExplainError, background_tensor, evidence, evidence_all, logits_only, occlusion_grid,
)
from lenet_gui.core.session import ModelSession
from lenet_gui.train import pendigits
from tests.explain_models import nhwc_model

DIGITS = pendigits.load(Path(__file__).parent / "data" / "pendigits-heldout.tra.gz")
# Top-evidence versus random regions: measured 91 of the first 100 pen digits and a mean probability
# drop of 0.63 (top) against 0.12 (random square on the ink), 8×8 squares, LeNet-5.
REGION = 8
MIN_WINS = 80
MIN_DROP_RATIO = 3.0


class CountingRuns:
    """Wraps an onnxruntime session and counts its runs."""

    def __init__(self, inner):
        self.inner, self.runs = inner, 0

    def run(self, *args, **kwargs):
        self.runs += 1
        return self.inner.run(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def lenet():
    return ModelSession()


def _linear_model(path, metadata):
    """8×8 input → 3 scores, linear: class 0 reads the top-left 2×2 pixels, the others are constant."""
    w = np.zeros((64, 3), np.float32)
    for y, x in ((0, 0), (0, 1), (1, 0), (1, 1)):
        w[y * 8 + x, 0] = 1.5
    g = helper.make_graph(
        [helper.make_node("Flatten", ["image"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["scores"])],
        "linear", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])], [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    for k, v in metadata.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save_model(m, str(path))
    return ModelSession(path)


def _reference_map(session, x, class_index, patch, stride):
    """Evidence the slow way: one run per blanked square, then per-pixel averages with loops."""
    h, w = session.spec.height, session.spec.width
    blank = preprocess.view_to_tensor(np.zeros((h, w), np.float32), session.spec)
    base = session.predict_batch(x)[0, class_index]
    ys = sorted(set(range(0, h - patch + 1, stride)) | {h - patch})
    xs = sorted(set(range(0, w - patch + 1, stride)) | {w - patch})
    total, count = np.zeros((h, w)), np.zeros((h, w))
    for y in ys:
        for x0 in xs:
            t = x.copy()
            if session.spec.channels_last:
                t[0, y:y + patch, x0:x0 + patch, :] = blank[0, y:y + patch, x0:x0 + patch, :]
            else:
                t[0, :, y:y + patch, x0:x0 + patch] = blank[0, :, y:y + patch, x0:x0 + patch]
            drop = base - session.predict_batch(t)[0, class_index]
            total[y:y + patch, x0:x0 + patch] += drop
            count[y:y + patch, x0:x0 + patch] += 1
    return total / count


def test_background_is_blank_paper_for_the_model(tmp_path, lenet):
    assert np.allclose(background_tensor(lenet.spec), -0.1307 / 0.3081)
    session = _linear_model(tmp_path / "m.onnx", {"polarity": "black_on_white", "normalize_mean": "0.5",
                                                 "normalize_std": "0.25"})
    assert np.allclose(background_tensor(session.spec), (1.0 - 0.5) / 0.25)


@pytest.mark.parametrize("patch,stride", [(2, 1), (3, 2), (4, 4)])
def test_map_equals_the_slow_reference_on_a_linear_model(tmp_path, patch, stride):
    session = _linear_model(tmp_path / "m.onnx", {"polarity": "black_on_white", "normalize_mean": "0.5",
                                                 "normalize_std": "0.25"})
    x = np.random.default_rng(0).normal(size=(1, 1, 8, 8)).astype(np.float32)
    for c in range(3):
        ev = evidence(session, x, c, patch=patch, stride=stride)
        np.testing.assert_allclose(ev.map, _reference_map(session, x, c, patch, stride), atol=1e-6)
        assert ev.probability == pytest.approx(float(session.predict_batch(x)[0, c]), abs=1e-6)
    ev = evidence(session, x, 0, patch=2, stride=1)
    # Class 0 reads only the top-left 2×2 pixels: squares elsewhere change nothing.
    assert np.all(ev.map[3:, :] == 0) and np.all(ev.map[:, 3:] == 0) and np.any(ev.map[:2, :2] != 0)


def test_evidence_on_channels_last_input_matches_the_reference(tmp_path):
    session = ModelSession(nhwc_model(tmp_path / "nhwc.onnx"))
    x = session.predict_drawing(DIGITS[9].drawing()).prepared.tensor
    assert x.shape == (1, 28, 28, 1)
    ev = evidence(session, x, 3, patch=5, stride=3)
    np.testing.assert_allclose(ev.map, _reference_map(session, x, 3, 5, 3), atol=1e-6)


def test_one_batched_run_for_one_class_and_for_all(lenet):
    x = lenet.predict_drawing(DIGITS[0].drawing()).prepared.tensor
    runner = logits_only(lenet)
    runner.session = counting = CountingRuns(runner.session)
    lenet.session = app = CountingRuns(lenet.session)
    try:
        one = evidence(lenet, x)
        assert counting.runs == 1
        every = evidence_all(lenet, x)
        assert counting.runs == 2 and app.runs == 0
    finally:
        runner.session = counting.inner
        lenet.session = app.inner
    assert [e.class_index for e in every] == list(range(10))
    assert [e.label for e in every] == lenet.labels
    np.testing.assert_allclose(every[one.class_index].map, one.map, atol=1e-7)
    assert one.class_index == lenet.predict_drawing(DIGITS[0].drawing()).digit
    probs = [e.probability for e in every]
    assert sum(probs) == pytest.approx(1.0, abs=1e-5)


def test_logits_only_runner_gives_the_sessions_probabilities(lenet, tmp_path):
    batch = np.stack([lenet.predict_drawing(d.drawing()).prepared.tensor[0] for d in DIGITS[:20]])
    np.testing.assert_allclose(logits_only(lenet).probabilities(batch), lenet.predict_batch(batch), atol=1e-6)
    from tests.helpers import tiny_classifier

    for kwargs in ({"softmax": True}, {"batch": 4}):  # probabilities as output; a fixed batch size
        session = ModelSession(tiny_classifier(tmp_path / f"t{len(kwargs)}{list(kwargs)[0]}.onnx", **kwargs))
        x = np.random.default_rng(0).normal(size=(3,) + session.spec.tensor_shape()[1:]).astype(np.float32)
        np.testing.assert_allclose(logits_only(session).probabilities(x), session.predict_batch(x), atol=1e-6)


def test_every_pixel_is_covered_and_squares_reach_the_far_edge():
    positions, cover = occlusion_grid(32, 32, 5, 3)
    assert (27, 27) in positions and (0, 0) in positions
    assert np.allclose(cover.sum(axis=1), 1.0)
    assert cover.shape == (32 * 32, len(positions))


def test_json_shape(lenet):
    x = lenet.predict_drawing(DIGITS[1].drawing()).prepared.tensor
    data = evidence(lenet, x, 4).to_json()
    assert data["class"] == 4 and data["label"] == "4" and len(data["map"]) == 32 and len(data["map"][0]) == 32


def test_bad_settings_are_one_clear_error(lenet):
    x = lenet.predict_drawing(DIGITS[2].drawing()).prepared.tensor
    with pytest.raises(ExplainError, match="classes 0–9"):
        evidence(lenet, x, 10)
    with pytest.raises(ExplainError, match="does not fit"):
        evidence(lenet, x, patch=33)
    with pytest.raises(ExplainError, match="at least 1"):
        evidence(lenet, x, patch=4, stride=0)


def _square_sums(image: np.ndarray, size: int) -> np.ndarray:
    c = np.pad(image, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]


def test_blanking_the_top_evidence_region_hurts_more_than_a_random_one(lenet):
    """On 100 pen digits: blank the 8×8 square with the most evidence, or a random 8×8 square that
    touches the ink; the first must lower the predicted class's probability more on most digits."""
    rng = np.random.default_rng(0)
    background = background_tensor(lenet.spec)
    wins, top_drops, random_drops = 0, [], []
    for digit in DIGITS[:100]:
        prepared = lenet.predict_drawing(digit.drawing()).prepared
        x = prepared.tensor
        ev = evidence(lenet, x)
        ty, tx = np.unravel_index(np.argmax(_square_sums(ev.map, REGION)), (33 - REGION, 33 - REGION))
        inked = np.argwhere(_square_sums(prepared.network_view, REGION) > 0.5)
        ry, rx = inked[rng.integers(len(inked))]

        def blanked(y, x0):
            t = x.copy()
            t[0, :, y:y + REGION, x0:x0 + REGION] = background[:, y:y + REGION, x0:x0 + REGION]
            return t

        p = lenet.predict_batch(np.concatenate([x, blanked(ty, tx), blanked(ry, rx)]))[:, ev.class_index]
        top, rand = p[0] - p[1], p[0] - p[2]
        wins += top > rand
        top_drops.append(top)
        random_drops.append(rand)
    assert wins >= MIN_WINS, f"top evidence beat a random region on only {wins} of 100 digits"
    assert np.mean(top_drops) >= MIN_DROP_RATIO * np.mean(random_drops)


def _blank_paper_model(tmp_path):
    return _linear_model(tmp_path / "m.onnx", {"polarity": "black_on_white", "normalize_mean": "0.5",
                                              "normalize_std": "0.25"})


def test_whole_numbers_of_at_least_one_pixel_and_squares_up_to_the_input_are_accepted(tmp_path):
    session = _blank_paper_model(tmp_path)
    x = np.random.default_rng(1).normal(size=(1, 1, 8, 8)).astype(np.float32)
    ev = evidence(session, x, 0, patch=1, stride=1)  # the smallest square and step
    np.testing.assert_allclose(ev.map, _reference_map(session, x, 0, 1, 1), atol=1e-6)
    assert (ev.patch, ev.stride) == (1, 1)
    ev = evidence(session, x, 0, patch=8, stride=3)  # one square covering the whole 8×8 input
    np.testing.assert_allclose(ev.map, _reference_map(session, x, 0, 8, 3), atol=1e-6)
    assert (ev.patch, ev.stride) == (8, 3) and len(np.unique(ev.map)) == 1
    assert [(e.patch, e.stride) for e in evidence_all(session, x, patch=3, stride=2)] == [(3, 2)] * 3
    with pytest.raises(ExplainError, match="does not fit the 8×8 input"):
        evidence(session, x, 0, patch=9)


@pytest.mark.parametrize("patch, stride", [(0, 1), (2, 0), (True, 2), (2, True), (2.5, 1), (2, 1.5), (-1, 2)])
def test_squares_and_steps_that_are_not_whole_positive_numbers_are_refused(tmp_path, patch, stride):
    session = _blank_paper_model(tmp_path)
    with pytest.raises(ExplainError, match=r"whole numbers of at least 1 pixel \(got "):
        evidence(session, np.zeros((1, 1, 8, 8), np.float32), 0, patch=patch, stride=stride)


def test_an_image_without_its_batch_axis_gives_the_same_map(tmp_path):
    session = _blank_paper_model(tmp_path)
    x = np.random.default_rng(2).normal(size=(1, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(evidence(session, x[0], 0, patch=2, stride=2).map,
                                  evidence(session, x, 0, patch=2, stride=2).map)


def test_the_occluded_batch_is_the_image_then_one_blanked_copy_per_square():
    image = np.ones((1, 4, 4), np.float32)
    background = np.full((1, 4, 4), -2.0, np.float32)
    batch = evidence_module.occluded_batch(image, background, [(0, 0), (2, 1)], 2, channels_last=False)
    assert batch.dtype == np.float32 and batch.shape == (3, 1, 4, 4)  # float32: what onnxruntime takes
    assert np.all(batch[0] == 1)
    assert np.all(batch[1, 0, :2, :2] == -2) and (batch[1] == -2).sum() == 4
    assert np.all(batch[2, 0, 2:, 1:3] == -2) and (batch[2] == -2).sum() == 4
    last = evidence_module.occluded_batch(np.ones((4, 4, 2), np.float32), np.zeros((4, 4, 2), np.float32),
                                          [(1, 2)], 2, channels_last=True)
    assert np.all(last[1, 1:3, 2:4, :] == 0) and (last[1] == 0).sum() == 8 and np.all(last[0] == 1)


def test_the_logits_only_copy_runs_with_the_apps_threads(lenet):
    app = lenet.session.get_session_options()
    copy = evidence_module.LogitsOnly(lenet).session.get_session_options()  # a new copy, not the cached one
    assert copy.intra_op_num_threads == app.intra_op_num_threads == 1  # ModelSession's default: one thread
    assert copy.inter_op_num_threads == app.inter_op_num_threads


def test_without_its_own_copy_the_runner_uses_the_apps_session(lenet, monkeypatch):
    import onnxruntime

    def refuse(*args, **kwargs):
        raise RuntimeError("no session today")

    batch = np.stack([lenet.predict_drawing(d.drawing()).prepared.tensor[0] for d in DIGITS[:3]])
    expected = lenet.predict_batch(batch)
    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    runner = evidence_module.LogitsOnly(lenet)
    assert runner.session is None
    np.testing.assert_allclose(runner.probabilities(batch), expected, atol=1e-7)


def test_the_runners_softmax_takes_any_float_batch_and_does_not_overflow(tmp_path):
    session = _blank_paper_model(tmp_path)  # class 0 is 1.5 × the top-left 2×2 pixels, classes 1 and 2 are 0
    x = np.zeros((3, 1, 8, 8))  # float64: the runner casts it
    x[0, 0, :2, :2] = 200.0  # logits (1200, 0, 0): exp(1200) alone would overflow
    x[1, 0, :2, :2] = -1.0  # (−6, 0, 0), next to a row of huge logits
    x[2, 0, :2, :2] = 1.0  # (6, 0, 0)
    p = logits_only(session).probabilities(x)
    e6 = math.exp(6.0)
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / (1 + 2 * e6), e6 / (1 + 2 * e6), e6 / (1 + 2 * e6)],
                                   [e6 / (e6 + 2), 1 / (e6 + 2), 1 / (e6 + 2)]], rtol=1e-6, atol=1e-12)
