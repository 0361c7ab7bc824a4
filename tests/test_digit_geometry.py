"""Where the digit goes in a model's input when the model does not say: scaled with the input's side."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lenet_gui.core import calibrate as cal
from lenet_gui.core import preprocess
from lenet_gui.core.drawing import load_drawing
from lenet_gui.core.onnx_io import default_model_path
from lenet_gui.core.preprocess import InputSpec
from lenet_gui.core.runtime import spec_from_meta
from lenet_gui.core.session import ModelSession
from tests.helpers import tiny_classifier

SEVEN = Path(__file__).parent.parent / "docs" / "seven.strokes.json"


def test_default_geometry_scales_above_lenet5s_input():
    assert preprocess.default_geometry(224, 224) == (196, 140)  # 224·28/32, 224·20/32
    assert preprocess.default_geometry(64, 64) == (56, 40)
    assert preprocess.default_geometry(33, 33) == (29, 21)  # the first side that scales: 28.9, 20.6 rounded
    assert preprocess.default_geometry(224, 160) == (140, 100)  # the shorter side counts
    for side in (1, 16, 28, 32):
        assert preprocess.default_geometry(side, side) == (28, 20)  # as MNIST; smaller inputs resize it


def test_spec_without_metadata_takes_the_default_geometry():
    spec = spec_from_meta({}, [1, 3, 224, 224], "m")
    assert (spec.field, spec.box) == (196, 140)
    assert (spec_from_meta({}, [1, 1, 28, 28], "m").field, spec_from_meta({}, [1, 1, 28, 28], "m").box) == (28, 20)
    # Metadata wins; a field given alone gets a box in MNIST's proportion of it.
    assert (spec_from_meta({"digit_field": "56"}, [1, 1, 224, 224], "m").box) == 40
    spec = spec_from_meta({"digit_field": "28", "digit_box": "20"}, [1, 1, 224, 224], "m")
    assert (spec.field, spec.box) == (28, 20)
    assert spec_from_meta({"digit_box": "100"}, [1, 1, 224, 224], "m").box == 100


def test_a_224_model_sees_the_digit_filling_its_input(tmp_path):
    session = ModelSession(tiny_classifier(tmp_path / "big.onnx", size=224), provider="cpu")
    assert (session.spec.field, session.spec.box) == (196, 140)
    prepared = preprocess.prepare_drawing(load_drawing(SEVEN), session.spec)
    assert prepared.field.shape == (196, 196) and prepared.network_view.shape == (224, 224)
    rows, cols = np.nonzero(prepared.network_view > 0.05)
    height = rows.max() - rows.min() + 1
    assert 125 <= height <= 145  # the seven is taller than wide: its height is the 140 box, give or take the soft edge
    # The field sits in the middle: a 14-pixel black margin all round (224 − 196 = 28).
    assert rows.min() >= 14 and cols.min() >= 14 and rows.max() < 210 and cols.max() < 210


def test_a_28_model_is_fed_as_before(tmp_path):
    session = ModelSession(tiny_classifier(tmp_path / "m28.onnx", size=28), provider="cpu")
    assert (session.spec.field, session.spec.box) == (28, 20)


def test_lenet5_is_fed_exactly_as_before():
    session = ModelSession(default_model_path(), provider="cpu")
    # The spec before the default geometry existed, field for field: the digit's tensor follows from it alone.
    assert session.spec == InputSpec(height=32, width=32, channels=1, channels_last=False, batch=None,
                                     pixel_max=1.0, mean=0.1307, std=0.3081, invert=False, field=28, box=20)
    drawing = load_drawing(SEVEN)
    before = preprocess.prepare_drawing(drawing, InputSpec(mean=0.1307, std=0.3081))
    assert np.array_equal(preprocess.prepare_drawing(drawing, session.spec).tensor, before.tensor)


def test_calibration_tries_the_default_geometry():
    assert cal.geometries(224) == [(224, 160), (196, 140)]  # the default is the padded one already
    assert cal.geometries(28) == [(28, 20), (24, 17)]
    assert cal.geometries(30) == [(30, 21), (26, 19), (28, 20)]  # added: 30 is fed 28/20 by default
    assert cal.geometries(16) == [(16, 11), (14, 10)]  # a 28 field does not fit in 16: not a candidate
    spec = spec_from_meta({}, [1, 1, 224, 224], "m")
    shapes = {(c.field, c.box) for c in cal.candidates(spec, {})}
    assert (spec.field, spec.box) in shapes
