"""Finding how a model without input metadata wants its digits, by trying.

Third-party MNIST models differ in what they were trained on: pixels 0..1 or
0..255, ``(x − 0.1307)/0.3081`` or ``(x − 0.5)/0.5``, white ink on black or
black on white, the digit filling the input or padded like LeNet-5's 28 in 32.
When a model's ``metadata_props`` do not say, every combination is run on a
small labelled reference set shipped with the package (300 MNIST test digits,
``lenet_gui/resources/mnist-reference.npz``), each as one batched run, and the
combination that reads the most of them wins. What the metadata does say is
kept: calibration only chooses what is missing.

The digits go through the same image path as a file the person opens
(``image_to_field`` → ``prepare_field``), so the winner is what the app will
really feed. Results are cached per model file (by SHA-256), so opening the
same model again costs nothing. No Qt, no onnx: any ``predict(batch) →
probabilities`` callable will do.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from lenet_gui.core import preprocess
from lenet_gui.core.errors import LenetGuiError
from lenet_gui.core.preprocess import InputSpec

# Bump when the candidates, the reference set or the image path change in a way
# that could change a model's winner: older cache entries are then ignored.
CALIBRATION_VERSION = 1
REFERENCE_FILE = "mnist-reference.npz"
# Below this share of reference digits read right, a model does not look like a
# digit classifier for this input (chance is 10 %).
CHANCE_LIMIT = 0.2
# Calibration of a large model is cut to this many seconds by using fewer digits,
# but never fewer than MIN_DIGITS.
TIME_BUDGET_S = 3.0
MIN_DIGITS = 50
# A model so slow that MIN_DIGITS per candidate would take this many budgets is not calibrated.
SLOW_FACTOR = 10

# The metadata keys each choice stands for.
NORMALISATION_KEYS = ("pixel_scale", "normalize_mean", "normalize_std")
POLARITY_KEYS = ("polarity",)
GEOMETRY_KEYS = ("digit_box", "digit_field")


@dataclass(frozen=True)
class Normalisation:
    text: str  # as a student writes it, for messages
    pixel_max: float
    mean: float
    std: float


NORMALISATIONS = (
    Normalisation("x in 0..1", 1.0, 0.0, 1.0),
    Normalisation("(x − 0.1307)/0.3081", 1.0, 0.1307, 0.3081),
    Normalisation("(x − 0.5)/0.5", 1.0, 0.5, 0.5),
    Normalisation("x in 0..255", 255.0, 0.0, 1.0),
)
POLARITIES = (False, True)  # invert: False = white digit on black


def geometries(side: int) -> list[tuple[int, int]]:
    """(field, box) candidates for an input side: the digit filling it as in MNIST's 20 of 28,
    padded inside it as LeNet-5's 28 in 32, and the app's default for a model that does not say
    (``preprocess.default_geometry``) where its field fits the side and it is not one of those."""
    full = (side, max(1, round(side * preprocess.MNIST_BOX / preprocess.MNIST_FIELD)))
    inner = max(1, round(side * preprocess.MNIST_FIELD / 32))
    padded = (inner, max(1, round(inner * preprocess.MNIST_BOX / preprocess.MNIST_FIELD)))
    shapes = [full] if padded == full else [full, padded]
    default = preprocess.default_geometry(side, side)
    if default not in shapes and default[0] <= side:
        shapes.append(default)
    return shapes


@dataclass(frozen=True)
class Candidate:
    normalisation: Normalisation
    invert: bool
    field: int
    box: int

    def overrides(self) -> dict:
        n = self.normalisation
        return {"pixel_max": n.pixel_max, "mean": n.mean, "std": n.std, "invert": self.invert,
                "field": self.field, "box": self.box}

    def describe(self, side: int) -> str:
        polarity = "dark on white" if self.invert else "white on black"
        where = f"{self.field} of {side}" if self.field != side else f"{side}"
        return f"{self.normalisation.text}, {polarity}, digit {self.box} px in {where}"


@dataclass
class Calibration:
    """What calibration chose for one model, and how well each choice read the digits."""

    overrides: dict  # InputSpec.with_overrides(**overrides) gives the spec to use
    description: str  # the winner in words
    accuracy: float  # the winner's share of reference digits read right
    digits: int  # how many reference digits were run
    tried: list[dict] = field(default_factory=list)  # every candidate: description, accuracy, overrides
    missing: tuple[str, ...] = ()  # the choices the metadata left open: normalisation, polarity, geometry
    cached: bool = False
    note: str = ""  # set when calibration could not be done (too slow), saying why

    @property
    def looks_like_digits(self) -> bool:
        return bool(self.note) or self.accuracy >= CHANCE_LIMIT

    def message(self) -> str:
        """One line for the person: what was missing, what was chosen, how well it reads."""
        missing = _missing_words(self.missing)
        if self.note:
            return (f"no {missing} stored in this model; {self.note}, so the defaults are used "
                    "(--mean, --std, --pixel-scale and --polarity choose others)")
        if not self.looks_like_digits:
            return (
                f"no {missing} stored in this model, and no convention reads more than "
                f"{_percent(self.accuracy)} of the reference digits: this does not look like a digit "
                f"classifier for this input ({self.description} used)"
            )
        return f"no {missing} stored in this model; {self.description} reads {_percent(self.accuracy)} of reference digits, used"

    def to_json(self) -> dict:
        return {
            "overrides": self.overrides, "description": self.description, "accuracy": self.accuracy,
            "digits": self.digits, "tried": [dict(t) for t in self.tried], "missing": list(self.missing),
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Calibration":
        return cls(
            overrides=dict(data["overrides"]), description=str(data["description"]),
            accuracy=float(data["accuracy"]), digits=int(data["digits"]),
            tried=[{"description": str(t["description"]), "accuracy": float(t["accuracy"]),
                    "overrides": dict(t["overrides"])} for t in data.get("tried", [])],
            missing=tuple(str(k) for k in data.get("missing", [])), cached=True, note=str(data.get("note", "")),
        )


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


_CHOICE_WORDS = {"normalisation": "normalisation", "polarity": "polarity", "geometry": "digit size"}


def _missing_words(missing: Iterable[str]) -> str:
    words = [_CHOICE_WORDS[c] for c in _CHOICE_WORDS if c in set(missing)]
    if not words:
        return "input convention"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def missing_choices(meta: dict[str, str]) -> tuple[str, ...]:
    """The choices ("normalisation", "polarity", "geometry") a model's metadata leaves open."""
    free = _free_choices(meta)
    return tuple(c for c in _CHOICE_WORDS if c in free)


def needs_calibration(meta: dict[str, str]) -> bool:
    """Metadata, when present, always wins: calibrate only when a whole choice is unstated.

    A model that states any of its normalisation keys has its normalisation fixed
    (the rest take their documented defaults), and likewise for polarity and geometry.
    """
    return bool(_free_choices(meta))


def _free_choices(meta: dict[str, str]) -> set[str]:
    free = set()
    if not any(k in meta for k in NORMALISATION_KEYS):
        free.add("normalisation")
    if not any(k in meta for k in POLARITY_KEYS):
        free.add("polarity")
    if not any(k in meta for k in GEOMETRY_KEYS):
        free.add("geometry")
    return free


# --- the reference digits --------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    images: np.ndarray  # (n, 28, 28) float32, white ink on black, 0..1
    labels: np.ndarray  # (n,) int


def load_reference(path: str | os.PathLike | None = None) -> Reference:
    source = Path(path) if path else Path(str(resources.files("lenet_gui.resources") / REFERENCE_FILE))
    with np.load(source) as data:
        images = data["images"].astype(np.float32) / 255.0
        labels = data["labels"].astype(np.int64)
    return Reference(images, labels)


def _spread(labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of ``count`` digits taken round-robin over the classes, so a cut set stays balanced."""
    by_class = [list(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    order = [i for group in itertools.zip_longest(*by_class) for i in group if i is not None]
    return np.array(sorted(order[:count]), dtype=np.int64)


# --- calibration -----------------------------------------------------------------------


def class_digits(labels: list[str]) -> np.ndarray | None:
    """For each class index, the digit it stands for; None if the classes are not the ten digits."""
    if len(labels) != 10:
        return None
    try:
        digits = [int(str(label).strip()) for label in labels]
    except ValueError:
        return None
    return np.array(digits) if sorted(digits) == list(range(10)) else None


def candidates(spec: InputSpec, meta: dict[str, str]) -> list[Candidate]:
    """Every combination of the choices the metadata leaves open; fixed ones keep the spec's value."""
    free = _free_choices(meta)
    side = min(spec.height, spec.width)
    norms = NORMALISATIONS if "normalisation" in free else (
        Normalisation("the normalisation given", spec.pixel_max, spec.mean, spec.std),)
    polarities = POLARITIES if "polarity" in free else (spec.invert,)
    shapes = geometries(side) if "geometry" in free else [(spec.field, spec.box)]
    return [Candidate(n, inv, f, b) for (f, b) in shapes for inv in polarities for n in norms]


def calibrate(
    spec: InputSpec,
    meta: dict[str, str],
    predict: Callable[[np.ndarray], np.ndarray],
    labels: list[str],
    reference: Reference | None = None,
    time_budget: float = TIME_BUDGET_S,
) -> Calibration | None:
    """Run every open convention on the reference digits; None when there is nothing to choose
    or the model's classes are not the ten digits (then accuracy cannot be measured)."""
    if not needs_calibration(meta):
        return None
    digit_of_class = class_digits(labels)
    if digit_of_class is None:
        return None
    reference = reference or load_reference()
    todo = candidates(spec, meta)
    images, truth = reference.images, reference.labels

    # Time one small run, then use as many digits as the budget allows for all candidates.
    probe = _spread(truth, min(10, len(truth)))
    first = todo[0]
    probe_batch = _normalise(_views(images[probe], spec, first.field, first.box), spec, first)
    predict(probe_batch)  # the first run of a session pays for its allocations: not timed
    started = time.perf_counter()
    predict(probe_batch)
    per_digit = (time.perf_counter() - started) / len(probe)
    affordable = int(time_budget / max(per_digit * len(todo), 1e-9))
    if affordable < MIN_DIGITS / SLOW_FACTOR:
        # Even the smallest useful run would take many times the budget: say so, keep the defaults.
        return Calibration(overrides={}, description="the defaults", accuracy=float("nan"), digits=0,
                           missing=missing_choices(meta),
                           note=f"the model takes {per_digit * 1000:.0f} ms per digit, too slow to try "
                                f"{len(todo)} conventions")
    chosen = _spread(truth, min(len(truth), max(MIN_DIGITS, affordable)))
    images, truth = images[chosen], truth[chosen]

    views: dict[tuple[int, int], np.ndarray] = {}
    scored: list[tuple[Candidate, float]] = []
    answered = False
    for cand in todo:
        if (cand.field, cand.box) not in views:
            views[cand.field, cand.box] = _views(images, spec, cand.field, cand.box)
        probs = np.asarray(predict(_normalise(views[cand.field, cand.box], spec, cand)), dtype=np.float64)
        finite = np.isfinite(probs).all(axis=1)
        # A digit the model answers with NaN or inf is a digit it did not read.
        predicted = np.where(finite, digit_of_class[np.nan_to_num(probs, nan=-np.inf).argmax(axis=1)], -1)
        scored.append((cand, float((predicted == truth).mean())))
        answered |= bool(finite.any())
    if not answered:
        return None  # NaN for every digit: the run itself reports that, in its own words
    # The most accurate wins; ties keep the earlier, more common convention
    # (a ReLU network often reads as many digits at 0..1 as at 0..255).
    best, accuracy = max(scored, key=lambda s: s[1])
    side = min(spec.height, spec.width)
    if accuracy < CHANCE_LIMIT:
        # Nothing reads the digits: a winner among chance-level scores would be noise.
        return Calibration(
            overrides={}, description="the defaults", accuracy=accuracy, digits=len(truth),
            tried=_tried(scored, side), missing=missing_choices(meta),
        )
    return Calibration(
        overrides=best.overrides(), description=best.describe(side), accuracy=accuracy,
        digits=len(truth), tried=_tried(scored, side), missing=missing_choices(meta),
    )


def _tried(scored: list[tuple[Candidate, float]], side: int) -> list[dict]:
    return [{"description": c.describe(side), "accuracy": a, "overrides": c.overrides()} for c, a in scored]


def _views(images: np.ndarray, spec: InputSpec, field: int, box: int) -> np.ndarray:
    """Reference digits through the app's own image path (ink box, centre of mass, padding)."""
    geometry = spec.with_overrides(field=field, box=box)
    views = []
    for image in images:
        field_img = preprocess.image_to_field(image, field, box)
        if field_img is None:  # cannot happen for MNIST digits; keeps the batch aligned
            field_img = np.zeros((field, field), np.float32)
        views.append(preprocess.field_to_view(field_img, geometry))
    return np.stack(views)


def _normalise(views: np.ndarray, spec: InputSpec, cand: Candidate) -> np.ndarray:
    """``preprocess.view_to_tensor`` for a whole batch of views."""
    n = cand.normalisation
    x = 1.0 - views if cand.invert else views
    x = (x.astype(np.float32) * np.float32(n.pixel_max) - np.float32(n.mean)) / np.float32(n.std)
    if spec.channels_last:
        t = np.repeat(x[:, :, :, None], spec.channels, axis=3)
    else:
        t = np.repeat(x[:, None, :, :], spec.channels, axis=1)
    return np.ascontiguousarray(t, dtype=np.float32)


# --- the cache ---------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where calibration results are kept: LENET_GUI_CACHE_DIR, else the platform's cache folder."""
    if os.environ.get("LENET_GUI_CACHE_DIR"):
        return Path(os.environ["LENET_GUI_CACHE_DIR"])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lenet-gui"


def model_digest(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cache_key(digest: str, spec: InputSpec, meta: dict[str, str]) -> str:
    # The spec and the stated metadata are part of the key: the same file with
    # other overrides is another question.
    fixed = {k: meta[k] for k in NORMALISATION_KEYS + POLARITY_KEYS + GEOMETRY_KEYS if k in meta}
    shape = f"{spec.height}x{spec.width}x{spec.channels}{'L' if spec.channels_last else ''}"
    return f"v{CALIBRATION_VERSION}:{digest}:{shape}:{json.dumps(fixed, sort_keys=True)}"


def _cache_file() -> Path:
    return cache_dir() / "calibration.json"


def _read_cache() -> dict:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # a missing or damaged cache is only a slower start


def cached(digest: str, spec: InputSpec, meta: dict[str, str]) -> Calibration | None:
    entry = _read_cache().get(_cache_key(digest, spec, meta))
    if not isinstance(entry, dict):
        return None
    try:
        return Calibration.from_json(entry)
    except (KeyError, TypeError, ValueError):
        return None


def store(digest: str, spec: InputSpec, meta: dict[str, str], result: Calibration) -> None:
    data = _read_cache()
    data[_cache_key(digest, spec, meta)] = result.to_json()
    target = _cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only home only means calibrating again next time


def calibrate_model(
    path: str | os.PathLike,
    spec: InputSpec,
    meta: dict[str, str],
    predict: Callable[[np.ndarray], np.ndarray],
    labels: list[str],
    use_cache: bool = True,
) -> Calibration | None:
    """``calibrate`` with the per-file cache in front of it."""
    if not needs_calibration(meta) or class_digits(labels) is None:
        return None
    digest = model_digest(path)
    if use_cache:
        hit = cached(digest, spec, meta)
        if hit is not None:
            return hit
    try:
        result = calibrate(spec, meta, predict, labels)
    except LenetGuiError:
        # A model that cannot run the reference digits fails the same way on the person's
        # input, where the message belongs; calibration has nothing to add.
        return None
    if result is not None and use_cache:
        store(digest, spec, meta, result)
    return result


# Which spec fields stand for which metadata keys, so the person's own overrides
# (command line or window) count as stated, like metadata.
_OVERRIDE_KEYS = {"pixel_max": "pixel_scale", "mean": "normalize_mean", "std": "normalize_std",
                  "invert": "polarity", "field": "digit_field", "box": "digit_box"}


def stated(meta: dict[str, str], overrides: dict | None) -> dict[str, str]:
    """The metadata with the person's overrides added as if the model had stated them."""
    out = dict(meta)
    for key, value in (overrides or {}).items():
        if value is not None and key in _OVERRIDE_KEYS:
            out.setdefault(_OVERRIDE_KEYS[key], str(value))
    return out


def apply_to_session(session, overrides: dict | None = None, use_cache: bool = True) -> Calibration | None:
    """Calibrate ``session.spec`` in place where neither metadata nor ``overrides`` say it all.

    ``session`` needs ``path``, ``meta``, ``spec``, ``labels`` and ``predict_batch``;
    its spec must already include the overrides. Sets ``session.calibration``.
    """
    meta = stated(session.meta, overrides)
    result = calibrate_model(session.path, session.spec, meta, session.predict_batch, session.labels, use_cache)
    session.uncalibrated_spec = session.spec
    if result is not None:
        session.spec = session.spec.with_overrides(**result.overrides)
    session.calibration = result
    return result
