"""Calibration's rules one at a time, with numpy stand-ins for a model where one is needed:
which choices are open, the candidates, the clock and digit budget, scoring, the cache.
No Qt, no subprocess, no timing (the clock is a fake): the mutation run selects this file.
The whole path with real models, the command line and the window is tests/test_calibrate.py."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from lenet_gui.core import calibrate as cal
from lenet_gui.core import preprocess
from lenet_gui.core.preprocess import InputSpec
from lenet_gui.core.session import ModelSession
from tests.convention_models import convention_model
from tests.helpers import tiny_classifier


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("LENET_GUI_CACHE_DIR", str(folder))
    return folder


def _session(path):
    return ModelSession(path, provider="cpu")


def test_stated_keys_decide_what_is_free():
    assert cal.needs_calibration({})
    assert not cal.needs_calibration({"pixel_scale": "1", "polarity": "white_on_black", "digit_box": "20"})
    assert cal.needs_calibration({"pixel_scale": "1", "polarity": "white_on_black"})  # geometry open
    assert cal._free_choices({"normalize_std": "0.3"}) == {"polarity", "geometry"}
    # The person's overrides count as stated.
    meta = cal.stated({}, {"mean": 0.5, "std": None, "invert": True})
    assert meta == {"normalize_mean": "0.5", "polarity": "True"}
    assert cal._free_choices(meta) == {"geometry"}


def test_models_whose_classes_are_not_the_ten_digits_are_not_calibrated(tmp_path):
    session = _session(tiny_classifier(tmp_path / "three.onnx", classes=3))
    assert cal.apply_to_session(session) is None
    assert cal.class_digits(["0", "1", "2"]) is None
    assert cal.class_digits([str(i) for i in range(9)] + ["cat"]) is None
    assert cal.class_digits([str(9 - i) for i in range(10)]).tolist() == list(range(9, -1, -1))


def test_class_order_is_honoured(tmp_path):
    """Labels in another order map class index → digit before scoring."""
    calls = []

    def predict(batch):
        calls.append(len(batch))
        # A perfect reader whose classes are listed 9..0.
        return np.eye(10)[9 - truth[: len(batch)]] if len(batch) == len(truth) else np.full((len(batch), 10), 0.1)

    ref = cal.load_reference()
    truth = ref.labels[cal._spread(ref.labels, 60)]
    spec = InputSpec(height=28, width=28, mean=0.0, std=1.0)
    result = cal.calibrate(spec, {}, predict, [str(9 - i) for i in range(10)],
                           reference=cal.Reference(ref.images[cal._spread(ref.labels, 60)], truth))
    assert result.accuracy == 1.0


def test_the_cache_key_covers_the_stated_metadata_and_the_input():
    spec = InputSpec(height=28, width=28)
    a = cal._cache_key("d", spec, {})
    assert a != cal._cache_key("d", spec, {"polarity": "black_on_white"})
    assert a != cal._cache_key("d", InputSpec(height=32, width=32), {})
    assert a != cal._cache_key("e", spec, {})
    assert a == cal._cache_key("d", spec, {"model": "ignored"})
    assert a.startswith(f"v{cal.CALIBRATION_VERSION}:")


def test_a_cut_reference_set_stays_balanced():
    labels = cal.load_reference().labels
    for count in (50, 73, 300):
        chosen = cal._spread(labels, count)
        assert len(chosen) == len(set(chosen.tolist())) == count
        per_class = np.bincount(labels[chosen], minlength=10)
        assert per_class.max() - per_class.min() <= 1


def test_the_reference_digits_are_thirty_of_each_and_not_the_test_samples():
    ref = cal.load_reference()
    assert ref.images.shape == (300, 28, 28) and ref.images.dtype == np.float32
    assert 0.0 <= ref.images.min() and ref.images.max() == 1.0
    assert np.bincount(ref.labels).tolist() == [30] * 10


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("invert", [False, True])
def test_the_batched_normalisation_is_the_apps_own(channels_last, invert):
    spec = InputSpec(height=30, width=30, channels=3, channels_last=channels_last)
    cand = cal.Candidate(cal.Normalisation("", 255.0, 0.5, 0.25), invert, 24, 17)
    ref = cal.load_reference()
    views = cal._views(ref.images[:4], spec, 24, 17)
    batch = cal._normalise(views, spec, cand)
    target = spec.with_overrides(**cand.overrides())
    for i in range(4):
        field = preprocess.image_to_field(ref.images[i], 24, 17)
        one = preprocess.prepare_field(field, target).tensor
        np.testing.assert_allclose(batch[i : i + 1], one, rtol=1e-6, atol=1e-6)


def test_geometry_candidates_scale_with_the_input():
    assert cal.geometries(28) == [(28, 20), (24, 17)]
    assert cal.geometries(32) == [(32, 23), (28, 20)]
    assert cal.geometries(224) == [(224, 160), (196, 140)]
    assert cal.geometries(1) == [(1, 1)]


def test_a_model_that_fails_on_the_reference_digits_is_left_to_fail_on_the_drawing(tmp_path):
    from lenet_gui.core.errors import ModelError

    def broken(batch):
        raise ModelError("node 'dense' (MatMul) failed")

    path = convention_model(tmp_path / "m.onnx")
    assert cal.calibrate_model(path, InputSpec(), {}, broken, [str(i) for i in range(10)]) is None


def test_a_model_that_answers_only_nan_gets_no_calibration_line():
    ref = cal.load_reference()
    nan = lambda batch: np.full((len(batch), 10), np.nan)  # noqa: E731
    assert cal.calibrate(InputSpec(), {}, nan, [str(i) for i in range(10)], reference=ref) is None
    # NaN for some digits only: those count as not read.
    half = lambda batch: np.where(np.arange(len(batch))[:, None] % 2 == 0, np.nan, np.eye(10)[np.zeros(len(batch), int)])  # noqa: E731
    result = cal.calibrate(InputSpec(), {}, half, [str(i) for i in range(10)], reference=ref)
    assert result is not None and result.accuracy < 0.1


# --- stand-ins ------------------------------------------------------------------------------

DIGITS = [str(i) for i in range(10)]


def five_of_each() -> cal.Reference:
    """50 reference digits, the first five of each class, in class order (0 0 0 0 0 1 …)."""
    ref = cal.load_reference()
    order = np.concatenate([np.flatnonzero(ref.labels == c)[:5] for c in range(10)])
    return cal.Reference(ref.images[order], ref.labels[order])


def fake_clock(monkeypatch, elapsed: float = 0.0) -> None:
    """The timed probe run takes ``elapsed`` seconds (from 100 s, so a sign slip shows)."""
    ticks = iter([100.0, 100.0 + elapsed])
    monkeypatch.setattr(cal, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))


class Scripted:
    """A model that reads the first ``reads[k]`` digits of the k-th candidate's batch right
    (and the rest as the next digit); the two timing runs before the candidates get 0.1 everywhere.
    Its truth is the reference's labels in order, which is the order calibrate runs them in
    when the whole reference is used."""

    def __init__(self, truth, reads):
        self.truth, self.reads, self.batches = np.asarray(truth), list(reads), []

    def __call__(self, batch):
        self.batches.append(batch)
        k, n = len(self.batches) - 3, len(batch)
        if k < 0:
            return np.full((n, 10), 0.1, np.float32)
        answer = np.where(np.arange(n) < self.reads[k], self.truth[:n], (self.truth[:n] + 1) % 10)
        return np.eye(10, dtype=np.float32)[answer]


def expected_tensor(image, spec, cand) -> np.ndarray:
    """One digit as the app feeds it, worked out through preprocess alone."""
    field = preprocess.image_to_field(image, cand.field, cand.box)
    return preprocess.prepare_field(field, spec.with_overrides(**cand.overrides())).tensor


# Metadata that leaves one choice open.
ONLY_POLARITY = {"pixel_scale": "1", "digit_box": "20"}  # 2 candidates
ONLY_NORMALISATION = {"polarity": "white_on_black", "digit_box": "20"}  # 4 candidates


# --- geometry candidates ----------------------------------------------------------------------


def test_geometries_add_the_apps_default_only_where_it_is_new_and_fits():
    # 30: 30·20/28 = 21.4 → 21; 30·28/32 = 26.25 → 26, 26·20/28 = 18.6 → 19; the default
    # 28 in 20 is neither and fits in 30, so it is tried last.
    assert cal.geometries(30) == [(30, 21), (26, 19), (28, 20)]
    # 29: 20.7 → 21; 25.4 → 25, 17.9 → 18; the default fits (28 ≤ 29).
    assert cal.geometries(29) == [(29, 21), (25, 18), (28, 20)]
    # 20: 14.3 → 14; 17.5 → 18 (half to even), 12.9 → 13; the default field 28 does not fit in 20.
    assert cal.geometries(20) == [(20, 14), (18, 13)]
    # 64: 45.7 → 46; 56, 40; the default for 64 is 64·28/32 = 56 in 64·20/32 = 40: the padded one.
    assert cal.geometries(64) == [(64, 46), (56, 40)]


# --- candidates and their words ---------------------------------------------------------------


def test_candidates_are_every_open_combination_in_order():
    spec = InputSpec(height=28, width=32, mean=0.2, std=0.7, pixel_max=2.0, invert=True, field=22, box=15)
    every = cal.candidates(spec, {})
    # Geometry outermost (of the smaller side, 28), then polarity, then normalisation.
    assert [(c.field, c.box, c.invert, c.normalisation) for c in every] == [
        (f, b, inv, n) for (f, b) in [(28, 20), (24, 17)] for inv in (False, True) for n in cal.NORMALISATIONS]
    # What is stated keeps the spec's own value.
    fixed = cal.candidates(spec, {"normalize_mean": "0.2", "polarity": "black_on_white", "digit_field": "22"})
    assert fixed == [cal.Candidate(cal.Normalisation("the normalisation given", 2.0, 0.2, 0.7), True, 22, 15)]
    assert [(c.invert, c.normalisation.text) for c in cal.candidates(spec, ONLY_POLARITY)] == \
        [(False, "the normalisation given"), (True, "the normalisation given")]


def test_a_candidate_in_words_and_as_overrides():
    z = cal.NORMALISATIONS[1]
    cand = cal.Candidate(z, True, 28, 20)
    assert cand.overrides() == {"pixel_max": 1.0, "mean": 0.1307, "std": 0.3081, "invert": True,
                                "field": 28, "box": 20}
    assert cand.describe(32) == "(x − 0.1307)/0.3081, dark on white, digit 20 px in 28 of 32"
    assert cand.describe(28) == "(x − 0.1307)/0.3081, dark on white, digit 20 px in 28"
    assert cal.Candidate(cal.NORMALISATIONS[3], False, 24, 17).describe(28) == \
        "x in 0..255, white on black, digit 17 px in 24 of 28"


def test_missing_choices_in_words():
    assert cal._missing_words([]) == "input convention"
    assert cal._missing_words(["geometry"]) == "digit size"
    # Always in the order normalisation, polarity, digit size, whatever the order given.
    assert cal._missing_words(["geometry", "polarity"]) == "polarity or digit size"
    assert cal._missing_words(["geometry", "normalisation", "polarity"]) == \
        "normalisation, polarity or digit size"
    assert cal.missing_choices({}) == ("normalisation", "polarity", "geometry")
    assert cal.missing_choices({"digit_field": "28"}) == ("normalisation", "polarity")
    assert cal.missing_choices({"pixel_scale": "1", "polarity": "x", "digit_box": "20"}) == ()


@pytest.mark.parametrize("key, closes", [(k, "normalisation") for k in cal.NORMALISATION_KEYS]
                         + [(k, "polarity") for k in cal.POLARITY_KEYS]
                         + [(k, "geometry") for k in cal.GEOMETRY_KEYS])
def test_each_stated_key_closes_its_choice(key, closes):
    assert cal._free_choices({key: "1"}) == {"normalisation", "polarity", "geometry"} - {closes}
    assert cal.needs_calibration({key: "1"})


def test_the_persons_overrides_count_as_stated_but_metadata_wins():
    meta = {"polarity": "white_on_black"}
    out = cal.stated(meta, {"pixel_max": 255.0, "mean": 0.5, "std": 0.25, "invert": True, "field": 24, "box": 17,
                            "height": 32})
    assert out == {"polarity": "white_on_black", "pixel_scale": "255.0", "normalize_mean": "0.5",
                   "normalize_std": "0.25", "digit_field": "24", "digit_box": "17"}
    assert meta == {"polarity": "white_on_black"}  # a copy
    assert cal.stated(meta, None) == meta and cal.stated(meta, None) is not meta
    assert cal.stated({}, {"invert": False}) == {"polarity": "False"}  # False is a value, None is not


def test_class_digits_accepts_the_ten_digits_in_any_order_and_nothing_else():
    assert cal.class_digits([f" {d} " for d in "3141592607"]) is None  # duplicates
    assert cal.class_digits([" 3", "1", "4 ", "0", "5", "9", "2", "6", "8", "7"]).tolist() == \
        [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    assert cal.class_digits(DIGITS + ["10"]) is None
    assert cal.class_digits([str(i) for i in range(1, 11)]) is None
    assert cal.class_digits(DIGITS[:9] + ["nine"]) is None


# --- the result and its message -----------------------------------------------------------------


def _result(**changes) -> cal.Calibration:
    base = dict(overrides={"mean": 0.5}, description="(x − 0.5)/0.5, white on black, digit 20 px in 28",
                accuracy=0.9567, digits=300, missing=("normalisation", "polarity"))
    return cal.Calibration(**{**base, **changes})


def test_the_chance_limit_is_a_fifth_of_the_digits_read():
    assert _result(accuracy=0.2).looks_like_digits
    assert not _result(accuracy=0.19).looks_like_digits
    assert _result(accuracy=float("nan"), note="too slow").looks_like_digits


def test_the_three_messages_in_full():
    assert _result().message() == ("no normalisation or polarity stored in this model; (x − 0.5)/0.5, white on black, "
                                   "digit 20 px in 28 reads 96 % of reference digits, used")
    assert _result(accuracy=0.125, missing=("geometry",), description="the defaults").message() == (
        "no digit size stored in this model, and no convention reads more than 12 % of the reference digits: "
        "this does not look like a digit classifier for this input (the defaults used)")
    assert _result(note="the model takes 125 ms per digit, too slow to try 2 conventions").message() == (
        "no normalisation or polarity stored in this model; the model takes 125 ms per digit, too slow to try "
        "2 conventions, so the defaults are used (--mean, --std, --pixel-scale and --polarity choose others)")


def test_a_result_survives_json_and_comes_back_cached():
    tried = [{"description": "a", "accuracy": 0.5, "overrides": {"invert": True}}]
    result = _result(tried=tried, note="n")
    data = result.to_json()
    assert data == {"overrides": {"mean": 0.5}, "description": result.description, "accuracy": 0.9567,
                    "digits": 300, "tried": tried, "missing": ["normalisation", "polarity"], "note": "n"}
    assert data["tried"][0] is not tried[0]
    again = cal.Calibration.from_json(json.loads(json.dumps(data)))
    assert again == cal.Calibration(**{**vars(result), "cached": True})
    # The oldest entries have no tried, missing or note; values are read as their types.
    old = cal.Calibration.from_json({"overrides": {}, "description": 7, "accuracy": "0.25", "digits": "50",
                                     "tried": [{"description": 1, "accuracy": "1", "overrides": {}}]})
    assert (old.description, old.accuracy, old.digits, old.missing, old.note, old.cached) == \
        ("7", 0.25, 50, (), "", True)
    assert old.tried == [{"description": "1", "accuracy": 1.0, "overrides": {}}]
    assert cal.Calibration.from_json({"overrides": {}, "description": "", "accuracy": 0, "digits": 0}).tried == []


# --- the reference digits -----------------------------------------------------------------------


def test_a_reference_file_of_bytes_is_read_as_0_to_1(tmp_path):
    path = tmp_path / "ref.npz"
    images = np.zeros((2, 28, 28), np.uint8)
    images[0, 3, 4], images[1, 5, 6] = 255, 51
    np.savez(path, images=images, labels=np.array([7, 2], np.uint8))
    ref = cal.load_reference(path)
    assert ref.images.dtype == np.float32 and ref.labels.dtype == np.int64
    assert ref.images[0, 3, 4] == 1.0 and ref.images[1, 5, 6] == np.float32(0.2) and ref.images.sum() == np.float32(1.2)
    assert ref.labels.tolist() == [7, 2]
    assert len(cal.load_reference(str(path)).labels) == 2 and len(cal.load_reference().labels) == 300


def test_spread_takes_the_classes_in_turn():
    labels = np.array([0, 0, 0, 1, 1, 2])
    # Rounds: (0, 3, 5), (1, 4), (2); the first four, sorted.
    assert cal._spread(labels, 4).tolist() == [0, 1, 3, 5]
    assert cal._spread(labels, 6).tolist() == [0, 1, 2, 3, 4, 5]
    assert cal._spread(labels, 9).tolist() == [0, 1, 2, 3, 4, 5]
    # Indices even when there are none (an empty float array cannot index the images).
    assert cal._spread(labels, 0).dtype == np.int64 and cal._spread(labels, 0).tolist() == []
    assert cal._spread(np.array([4, 9, 4]), 2).tolist() == [0, 1]


def test_a_blank_reference_image_keeps_its_place_as_a_blank_view():
    ref = five_of_each()
    images = np.stack([ref.images[0], np.zeros((28, 28), np.float32), ref.images[7]])
    spec = InputSpec(height=32, width=30, field=20, box=12)  # the spec's own geometry is not the candidate's
    views = cal._views(images, spec, 24, 17)
    assert views.shape == (3, 32, 30) and not views[1].any()
    for i in (0, 2):
        field = preprocess.image_to_field(images[i], 24, 17)
        np.testing.assert_array_equal(views[i], preprocess.field_to_view(field, spec))


def test_the_batch_is_float32_and_contiguous():
    spec = InputSpec(height=28, width=28, channels=2, channels_last=True)
    batch = cal._normalise(np.full((3, 28, 28), 0.25, np.float64), spec,
                           cal.Candidate(cal.Normalisation("", 255.0, 0.5, 0.25), True, 28, 20))
    assert batch.dtype == np.float32 and batch.flags.c_contiguous and batch.shape == (3, 28, 28, 2)
    assert np.all(batch == np.float32((0.75 * 255.0 - 0.5) / 0.25))


# --- calibrate: the clock and how many digits ----------------------------------------------------


def test_the_probe_runs_ten_spread_digits_of_the_first_candidate_twice(monkeypatch):
    fake_clock(monkeypatch)
    ref = five_of_each()
    spec = InputSpec(height=28, width=28)
    model = Scripted(ref.labels, [50] * 8)
    cal.calibrate(spec, {"digit_box": "20"}, model, DIGITS, reference=ref)
    first = cal.candidates(spec, {"digit_box": "20"})[0]  # x in 0..1, white on black, 28 in 20
    probe, again = model.batches[:2]
    assert probe.shape == (10, 1, 28, 28) and np.array_equal(probe, again)
    for i in range(10):  # the first of each class: 0, 5, 10, …
        np.testing.assert_allclose(probe[i : i + 1], expected_tensor(ref.images[5 * i], spec, first), atol=1e-6)


def test_a_reference_of_fewer_than_ten_digits_is_probed_whole(monkeypatch):
    fake_clock(monkeypatch)
    ref = five_of_each()
    small = cal.Reference(ref.images[:6], ref.labels[:6])
    model = Scripted(small.labels, [6, 6])
    result = cal.calibrate(InputSpec(height=28, width=28), ONLY_POLARITY, model, DIGITS, reference=small)
    assert [len(b) for b in model.batches] == [6, 6, 6, 6] and result.digits == 6


def _timed(monkeypatch, elapsed, budget, reference=None):
    """Calibrate the 2 polarity candidates with a probe run of ``elapsed`` s for its 10 digits."""
    fake_clock(monkeypatch, elapsed)
    ref = reference or cal.load_reference()
    model = Scripted(ref.labels, [0, 0])
    return cal.calibrate(InputSpec(height=28, width=28), ONLY_POLARITY, model, DIGITS, reference=ref,
                         time_budget=budget), model


def test_the_budget_buys_digits_for_every_candidate(monkeypatch):
    # 0.625 s for 10 digits is 1/16 s a digit, 1/8 s for both candidates: a budget of
    # 51/8 s buys 51 digits, 49/8 s only 49, which is raised to MIN_DIGITS (50).
    result, model = _timed(monkeypatch, 0.625, 51 / 8)
    assert result.digits == 51 and [len(b) for b in model.batches] == [10, 10, 51, 51]
    # The 51 are taken from the classes in turn: six zeros, five of every other digit.
    assert np.bincount(model.truth[cal._spread(model.truth, 51)], minlength=10).tolist() == [6] + [5] * 9
    assert _timed(monkeypatch, 0.625, 49 / 8)[0].digits == 50
    assert _timed(monkeypatch, 0.625, 50 / 8)[0].digits == 50
    # More than the reference holds: all 300.
    assert _timed(monkeypatch, 0.625, 301 / 8)[0].digits == 300


def test_an_instant_probe_affords_every_digit(monkeypatch):
    # A probe timed at 0 s is not a division by zero: every digit is affordable.
    result, model = _timed(monkeypatch, 0.0, 1e-6)
    assert result.digits == 300 and not result.note


def test_too_slow_is_under_a_tenth_of_the_minimum(monkeypatch):
    # 1.25 s for 10 digits: 0.125 s a digit, 0.25 s for both candidates. A budget of
    # 1.25 s buys 5 digits, MIN_DIGITS / SLOW_FACTOR: calibrated, with 50.
    result, model = _timed(monkeypatch, 1.25, 1.25)
    assert result.digits == 50 and not result.note and len(model.batches) == 4
    # 1 s buys 4: not calibrated, and only the probe was run.
    result, model = _timed(monkeypatch, 1.25, 1.0)
    assert len(model.batches) == 2
    assert result.overrides == {} and result.description == "the defaults" and result.digits == 0
    assert np.isnan(result.accuracy) and result.tried == [] and result.missing == ("polarity",)
    assert result.note == "the model takes 125 ms per digit, too slow to try 2 conventions"
    assert _timed(monkeypatch, 10.0, 1.0)[0].note == "the model takes 1000 ms per digit, too slow to try 2 conventions"


# --- calibrate: scoring ----------------------------------------------------------------------------


def _scored(monkeypatch, reads, meta=ONLY_NORMALISATION, spec=None, labels=DIGITS, model=None):
    fake_clock(monkeypatch)
    ref = five_of_each()
    model = model or Scripted(ref.labels, reads)
    spec = spec or InputSpec(height=28, width=32)
    return cal.calibrate(spec, meta, model, labels, reference=ref), model


def test_the_most_digits_read_wins_and_every_candidate_is_reported(monkeypatch):
    result, model = _scored(monkeypatch, [30, 45, 10, 44])
    assert result.overrides == {"pixel_max": 1.0, "mean": 0.1307, "std": 0.3081, "invert": False,
                                "field": 28, "box": 20}
    assert result.description == "(x − 0.1307)/0.3081, white on black, digit 20 px in 28"  # side 28 of 28×32
    assert (result.accuracy, result.digits, result.missing, result.note) == (0.9, 50, ("normalisation",), "")
    assert [(t["description"], t["accuracy"]) for t in result.tried] == [
        ("x in 0..1, white on black, digit 20 px in 28", 0.6),
        ("(x − 0.1307)/0.3081, white on black, digit 20 px in 28", 0.9),
        ("(x − 0.5)/0.5, white on black, digit 20 px in 28", 0.2),
        ("x in 0..255, white on black, digit 20 px in 28", 0.88)]
    assert result.tried[3]["overrides"]["pixel_max"] == 255.0
    # Each candidate's batch is the reference in its own convention.
    spec = InputSpec(height=28, width=32)
    for cand, batch in zip(cal.candidates(spec, ONLY_NORMALISATION), model.batches[2:]):
        assert batch.shape == (50, 1, 28, 32)
        np.testing.assert_allclose(batch[7:8], expected_tensor(five_of_each().images[7], spec, cand), atol=1e-5)


def test_a_tie_keeps_the_earlier_candidate(monkeypatch):
    result, _ = _scored(monkeypatch, [20, 40, 40, 40])
    assert result.overrides["mean"] == 0.1307 and result.accuracy == 0.8


def test_a_fifth_of_the_digits_is_enough_and_less_is_chance(monkeypatch):
    result, _ = _scored(monkeypatch, [0, 10, 3, 0])  # 10 of 50 = CHANCE_LIMIT
    assert result.looks_like_digits and result.overrides["mean"] == 0.1307 and result.accuracy == 0.2
    result, _ = _scored(monkeypatch, [0, 9, 3, 0])
    assert not result.looks_like_digits
    assert (result.overrides, result.description, result.accuracy, result.digits) == ({}, "the defaults", 0.18, 50)
    assert len(result.tried) == 4 and result.tried[1]["accuracy"] == 0.18 and result.missing == ("normalisation",)
    assert result.tried[1]["description"] == "(x − 0.1307)/0.3081, white on black, digit 20 px in 28"


def test_class_indices_are_mapped_to_digits(monkeypatch):
    # Classes listed 9..0: a model answering class 9 − d means digit d.
    ref = five_of_each()

    def reversed_reader(batch):
        return np.eye(10)[9 - ref.labels[: len(batch)]]

    result, _ = _scored(monkeypatch, None, labels=[str(9 - i) for i in range(10)], model=reversed_reader)
    assert result.accuracy == 1.0


def test_a_reading_with_any_nan_or_inf_is_not_a_reading(monkeypatch):
    ref = five_of_each()
    calls = []

    def reader(batch):
        calls.append(1)
        probs = np.eye(10)[ref.labels[: len(batch)]]
        probs[:5, 9] = np.nan  # the right class is still the largest finite value
        probs[5:8, 9] = np.inf
        if len(calls) == 4:  # the second candidate: nothing finite at all
            probs[:] = np.nan
        return probs

    result, _ = _scored(monkeypatch, None, model=reader)
    assert [t["accuracy"] for t in result.tried] == [0.84, 0.0, 0.84, 0.84]


def test_only_nan_everywhere_gives_no_result_but_one_finite_reading_does(monkeypatch):
    ref = five_of_each()
    calls = []

    def reader(batch):
        calls.append(1)
        probs = np.full((len(batch), 10), np.nan)
        if len(calls) == 6:  # the last candidate reads one digit right
            probs[0] = np.eye(10)[ref.labels[0]]
        return probs

    result, _ = _scored(monkeypatch, None, model=reader)
    assert result is not None and [t["accuracy"] for t in result.tried] == [0.0, 0.0, 0.0, 0.02]
    calls.clear()
    assert _scored(monkeypatch, None, model=lambda b: np.full((len(b), 10), np.nan))[0] is None
    # A finite reading of an earlier candidate counts, whatever the later ones answer.

    def first_only(batch):
        calls.append(1)
        probs = np.full((len(batch), 10), np.nan)
        if len(calls) == 3:  # the first candidate
            probs[:] = np.eye(10)[ref.labels[: len(batch)]]
        return probs

    calls.clear()
    result, _ = _scored(monkeypatch, None, model=first_only)
    assert [t["accuracy"] for t in result.tried] == [1.0, 0.0, 0.0, 0.0]


def test_nothing_to_choose_or_no_digit_classes_runs_nothing(monkeypatch):
    model = Scripted(np.zeros(50, int), [])
    everything = {"pixel_scale": "1", "polarity": "white_on_black", "digit_field": "28"}
    assert cal.calibrate(InputSpec(), everything, model, DIGITS, reference=five_of_each()) is None
    assert cal.calibrate(InputSpec(), {}, model, DIGITS[:9], reference=five_of_each()) is None
    assert model.batches == []


def test_without_a_reference_the_shipped_one_is_used(monkeypatch):
    fake_clock(monkeypatch)
    result = cal.calibrate(InputSpec(height=28, width=28), ONLY_POLARITY, lambda b: np.full((len(b), 10), 0.1),
                           DIGITS)
    assert result.digits == 300 and result.accuracy == 0.1  # class 0 for all: the 30 zeros


# --- the cache ---------------------------------------------------------------------------------


def test_the_cache_folder_on_each_platform(monkeypatch, tmp_path):
    monkeypatch.setenv("LENET_GUI_CACHE_DIR", str(tmp_path / "mine"))
    assert cal.cache_dir() == tmp_path / "mine"
    assert cal._cache_file() == tmp_path / "mine" / "calibration.json"
    monkeypatch.setenv("LENET_GUI_CACHE_DIR", "")  # empty is not set
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("LOCALAPPDATA", raising=False)

    def on(platform):
        monkeypatch.setattr(cal, "sys", SimpleNamespace(platform=platform))
        return cal.cache_dir()

    home = tmp_path / "home"
    assert on("linux") == home / ".cache" / "lenet-gui"
    assert on("darwin") == home / "Library" / "Caches" / "lenet-gui"
    assert on("win32") == home / "AppData" / "Local" / "lenet-gui"
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert on("win32") == tmp_path / "local" / "lenet-gui"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert on("linux") == tmp_path / "xdg" / "lenet-gui"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert on("linux") == home / ".cache" / "lenet-gui"


def test_the_digest_is_the_files_sha256_over_several_blocks(tmp_path):
    import hashlib

    data = bytes(range(256)) * (5 * 4096 + 3)  # 5 MiB and a bit: more than one 1 MiB block
    (tmp_path / "m.onnx").write_bytes(data)
    assert cal.model_digest(tmp_path / "m.onnx") == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert cal.model_digest(str(tmp_path / "empty")) == hashlib.sha256(b"").hexdigest()


def test_the_cache_key_in_full():
    spec = InputSpec(height=28, width=30, channels=3, channels_last=True)
    meta = {"model": "m", "digit_box": "20", "polarity": "x", "normalize_std": "0.3"}
    # Only the convention keys, sorted by name.
    assert cal._cache_key("abc", spec, meta) == \
        'v1:abc:28x30x3L:{"digit_box": "20", "normalize_std": "0.3", "polarity": "x"}'
    assert cal._cache_key("abc", InputSpec(height=32, width=32), {}) == "v1:abc:32x32x1:{}"
    for key in cal.NORMALISATION_KEYS + cal.POLARITY_KEYS + cal.GEOMETRY_KEYS:
        assert f'"{key}": "v"' in cal._cache_key("abc", spec, {key: "v"})


def test_store_then_cached_keeps_every_entry(cache_folder, monkeypatch):
    nested = cache_folder / "a" / "b"  # folders that do not exist yet
    monkeypatch.setenv("LENET_GUI_CACHE_DIR", str(nested))
    spec = InputSpec(height=28, width=28)
    first, second = _result(), _result(accuracy=0.5, digits=50)
    assert cal.cached("d1", spec, {}) is None
    cal.store("d1", spec, {}, first)
    cal.store("d2", spec, {}, second)
    assert sorted(p.name for p in nested.iterdir()) == ["calibration.json"]
    assert cal.cached("d1", spec, {}) == cal.Calibration(**{**vars(first), "cached": True})
    assert cal.cached("d2", spec, {}).accuracy == 0.5
    assert cal.cached("d2", spec, {"polarity": "x"}) is None
    data = json.loads((nested / "calibration.json").read_text(encoding="utf-8"))
    assert sorted(data) == [cal._cache_key("d1", spec, {}), cal._cache_key("d2", spec, {})]


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", '"a string"', "\udcff"])
def test_a_missing_damaged_or_foreign_cache_reads_as_empty(cache_folder, text):
    assert cal._read_cache() == {}  # no folder yet
    cache_folder.mkdir()
    (cache_folder / "calibration.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert cal._read_cache() == {}
    assert cal.cached("d", InputSpec(), {}) is None


def test_a_cache_written_elsewhere_in_utf8_is_read(cache_folder):
    cache_folder.mkdir()
    entry = _result().to_json()
    key = cal._cache_key("d", InputSpec(), {})
    (cache_folder / "calibration.json").write_text(json.dumps({key: entry}, ensure_ascii=False), encoding="utf-8")
    assert cal.cached("d", InputSpec(), {}).description == "(x − 0.5)/0.5, white on black, digit 20 px in 28"


@pytest.mark.parametrize("entry", ["text", {}, {"overrides": "bad", "description": "", "accuracy": 0, "digits": 0},
                                   {"overrides": {}, "description": "", "accuracy": None, "digits": 0},
                                   {"overrides": {}, "description": "", "accuracy": "high", "digits": 0}])
def test_a_broken_entry_is_a_miss(cache_folder, entry):
    cache_folder.mkdir()
    key = cal._cache_key("d", InputSpec(), {})
    (cache_folder / "calibration.json").write_text(json.dumps({key: entry}))
    assert cal.cached("d", InputSpec(), {}) is None


def test_an_unwritable_cache_is_only_not_kept(tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    monkeypatch.setenv("LENET_GUI_CACHE_DIR", str(blocked / "sub"))
    cal.store("d", InputSpec(), {}, _result())  # no exception
    assert cal.cached("d", InputSpec(), {}) is None


# --- calibrate_model and the session -----------------------------------------------------------------


def _model_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"weights")
    return path


def test_calibrate_model_asks_the_cache_first_and_fills_it(tmp_path, monkeypatch, cache_folder):
    fake_clock(monkeypatch)
    path, spec = _model_file(tmp_path), InputSpec(height=28, width=28)
    runs = []

    def model(batch):
        runs.append(len(batch))
        return np.full((len(batch), 10), 0.1)

    first = cal.calibrate_model(path, spec, ONLY_POLARITY, model, DIGITS)
    assert runs == [10, 10, 300, 300] and not first.cached
    assert cal.cached(cal.model_digest(path), spec, ONLY_POLARITY) == cal.Calibration(**{**vars(first), "cached": True})
    again = cal.calibrate_model(path, spec, ONLY_POLARITY, model, DIGITS)
    assert again.cached and len(runs) == 4
    # Without the cache: run again, and nothing new is kept.
    fake_clock(monkeypatch)
    (cache_folder / "calibration.json").unlink()
    fresh = cal.calibrate_model(path, spec, ONLY_POLARITY, model, DIGITS, use_cache=False)
    assert not fresh.cached and len(runs) == 8 and not (cache_folder / "calibration.json").exists()


def test_calibrate_model_with_a_cache_hit_but_use_cache_off_runs(tmp_path, monkeypatch):
    path, spec = _model_file(tmp_path), InputSpec(height=28, width=28)
    cal.store(cal.model_digest(path), spec, ONLY_POLARITY, _result())
    fake_clock(monkeypatch)
    result = cal.calibrate_model(path, spec, ONLY_POLARITY, lambda b: np.full((len(b), 10), 0.1), DIGITS,
                                 use_cache=False)
    assert not result.cached and result.digits == 300


def test_calibrate_model_reads_no_file_when_there_is_nothing_to_choose(tmp_path):
    absent = tmp_path / "absent.onnx"  # the digest would fail: it must not be taken
    everything = {"pixel_scale": "1", "polarity": "white_on_black", "digit_box": "20"}
    assert cal.calibrate_model(absent, InputSpec(), everything, None, DIGITS) is None
    assert cal.calibrate_model(absent, InputSpec(), {}, None, ["cat", "dog"]) is None


def test_a_model_answering_only_nan_leaves_nothing_in_the_cache(tmp_path, monkeypatch, cache_folder):
    fake_clock(monkeypatch)
    nan = lambda batch: np.full((len(batch), 10), np.nan)  # noqa: E731
    assert cal.calibrate_model(_model_file(tmp_path), InputSpec(), ONLY_POLARITY, nan, DIGITS) is None
    assert not (cache_folder / "calibration.json").exists()


def test_a_model_error_is_left_to_the_run_but_a_bug_is_not_hidden(tmp_path, monkeypatch):
    from lenet_gui.core.errors import ShapeError

    def shape_error(batch):
        raise ShapeError("input 1 has the wrong shape")

    def bug(batch):
        raise ZeroDivisionError("a bug")

    fake_clock(monkeypatch)
    assert cal.calibrate_model(_model_file(tmp_path), InputSpec(), {}, shape_error, DIGITS) is None
    with pytest.raises(ZeroDivisionError):
        cal.calibrate_model(_model_file(tmp_path), InputSpec(), {}, bug, DIGITS)


def _fake_session(path, meta, spec, model):
    return SimpleNamespace(path=path, meta=meta, spec=spec, labels=DIGITS, predict_batch=model)


def test_apply_to_session_sets_the_winner_and_keeps_the_spec_before(tmp_path, monkeypatch, cache_folder):
    fake_clock(monkeypatch)
    ref = cal.load_reference()
    spec = InputSpec(height=28, width=28, pixel_max=1.0, mean=0.0, std=1.0)

    def dark_reader(batch):  # reads only dark digits on white: a white corner
        right = batch[:, 0, 0, 0] > 0.5
        return np.eye(10)[np.where(right, ref.labels[: len(batch)], (ref.labels[: len(batch)] + 1) % 10)]

    session = _fake_session(_model_file(tmp_path), ONLY_POLARITY, spec, dark_reader)
    result = cal.apply_to_session(session, use_cache=False)
    assert session.calibration is result and session.uncalibrated_spec is spec
    assert session.spec == spec.with_overrides(invert=True) and result.accuracy == 1.0
    assert not (cache_folder / "calibration.json").exists()
    # The person's override states the polarity: nothing is left to choose.
    session = _fake_session(_model_file(tmp_path), ONLY_POLARITY, spec, dark_reader)
    assert cal.apply_to_session(session, {"invert": False}) is None
    assert session.spec is spec and session.calibration is None and session.uncalibrated_spec is spec


def test_apply_to_session_uses_the_cache_by_default(tmp_path, monkeypatch, cache_folder):
    fake_clock(monkeypatch)
    session = _fake_session(_model_file(tmp_path), ONLY_POLARITY, InputSpec(height=28, width=28),
                            lambda b: np.full((len(b), 10), 0.1))
    result = cal.apply_to_session(session)
    assert (cache_folder / "calibration.json").exists() and not result.cached
    assert result.overrides == {} and session.spec == InputSpec(height=28, width=28)
