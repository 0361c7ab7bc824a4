"""`lenet-gui explain`'s text and JSON, from hand-built explanations (no model, no Qt).

Every expected line is written out here from the layout rules: cells are
" 1.000 " (a space each side; "[…]" for the highlighted one, "pad" for padding),
grids side by side with three spaces between, terms in right-aligned columns.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lenet_gui.core.explain_text import GRID_GAP, format_evidence, format_explanation, format_grids, heat_map
from lenet_gui.core.explanation import Evidence, Explanation, Grid, Step, Term

KERNEL = Grid("kernel", np.array([[1.0, -0.0001], [2.5, 10.0]]), highlight=(1, 1))
# 0.0005 is the smallest value written as itself (it rounds to 0.001); −0.0001 is written 0.000.
PATCH = Grid("patch", np.array([[0.0005, -1.5], [7.0, 0.0]]), padding=np.array([[False, False], [False, True]]))


def test_a_grid_is_a_title_over_right_aligned_cells():
    # Widest cell "[10.000]" (8 characters): every cell is padded on the left to 8.
    assert format_grids([[KERNEL]]) == ["kernel", "  1.000   0.000", "  2.500 [10.000]", ""]
    assert format_grids([[Grid("v", np.array([1.0, 2.0]))]]) == ["v", " 1.000  2.000", ""]  # 1-D: one row


def test_grids_stand_side_by_side_and_shorter_ones_are_filled_with_spaces():
    assert format_grids([[PATCH, KERNEL]]) == [
        "patch" + " " * 11 + GRID_GAP + "kernel",
        "  0.001  -1.500 " + GRID_GAP + "  1.000   0.000",
        "  7.000     pad " + GRID_GAP + "  2.500 [10.000]",
        "",
    ]
    a, bb = Grid("a", np.array([[1.0]])), Grid("bb", np.array([[1.0], [2.0]]))
    assert format_grids([[a, bb], [a]]) == ["a" + " " * 9 + "bb", " 1.000" + " " * 5 + "1.000", " " * 11 + "2.000", "",
                                            "a", " 1.000", ""]


def test_a_row_of_grids_wider_than_120_characters_is_stacked():
    one = np.array([[1.0]])
    fits = format_grids([[Grid("t" * 58, one), Grid("u" * 59, one)]])  # 58 + 3 + 59 = 120
    assert fits == ["t" * 58 + GRID_GAP + "u" * 59, " 1.000" + " " * 56 + "1.000", ""]
    stacked = format_grids([[Grid("t" * 58, one), Grid("u" * 60, one)], [Grid("next", one)]])  # 121
    assert stacked == ["t" * 58, " 1.000", "", "u" * 60, " 1.000", "", "next", " 1.000", ""]  # and the next row


TERMS = [Term(0.5, -2.0, "c5.relu", (3, 0, 0)), Term(0.25, 0.0, None, (0, 1, 2), padding=True)]


def test_a_dense_unit_lists_its_products_as_a_table():
    e = Explanation("f6.gemm", "Gemm", (3,), value=-1.0, runtime_value=-1.00004, kind="dense", terms=TERMS,
                    rest=Step("the other 2 products sum to 0.1000", 0.1),
                    steps=[Step("sum of 4 products w · x = −0.9000", -0.9), Step("+ bias −0.1000 = −1.0000", -1.0)],
                    input_box=(0, 0, 32, 32))
    assert format_explanation(e, "unit").splitlines() == [
        "f6.gemm (Gemm), unit [3]  (unit)",
        "sees the network input's rows 0–31, columns 0–31",
        "",
        "the 2 largest products w · x, by size:",
        # Columns: #, weight, ×, input, =, product (right-aligned to their widest entry), then the source.
        "#  weight       input     product  from",
        "1  0.5000  ×  −2.0000  =  −1.0000  c5.relu[3, 0, 0]",
        "2  0.2500  ×        0  =        0  input[0, 1, 2] (padding)",
        "the other 2 products sum to 0.1000",
        "",
        "sum of 4 products w · x = −0.9000",
        "+ bias −0.1000 = −1.0000",
        "",
        "onnxruntime: −1.0000  ✓ agrees (within 0.0001 relative)",
    ]


def test_a_table_of_ten_or_more_terms_keeps_its_numbers_right_aligned():
    terms = [Term(1.0, float(10 - i), "c5.relu", (i, 0, 0)) for i in range(10)]
    e = Explanation("f6.gemm", "Gemm", (0,), value=55.0, runtime_value=55.0, kind="dense", terms=terms)
    lines = format_explanation(e).splitlines()
    table = lines[lines.index("the 10 largest products w · x, by size:") + 1:][:11]
    assert table[0] == " #  weight" + " " * 7 + "input" + " " * 5 + "product  from"
    assert table[1] == " 1  1.0000  ×  10.0000  =  10.0000  c5.relu[0, 0, 0]"
    assert table[10] == "10  1.0000  ×   1.0000  =   1.0000  c5.relu[9, 0, 0]"


def _conv(**changes):
    fields = dict(layer="c1.conv", op="Conv", unit=(0, 1, 2), value=7.5, runtime_value=7.5, kind="conv",
                  window={"start": [1, 2], "kernel": [5, 5], "stride": [1, 1], "dilation": [1, 1], "pads": [0] * 4},
                  rows=[[Grid("a", np.array([[1.0]]))]], terms=TERMS,
                  steps=[Step("sum of 25 products = 7.0000", 7.0), Step("+ bias 0.5000 = 7.5000", 7.5)],
                  input_box=(3, 4, 5, 6))
    fields.update(changes)
    return Explanation(**fields)


def test_a_conv_unit_says_where_its_window_is_and_what_its_input_sees():
    assert format_explanation(_conv()).splitlines() == [
        "c1.conv (Conv), unit [0, 1, 2]",
        "window: row from 1, column from 2; kernel 5×5, stride 1×1, dilation 1×1",
        "sees the network input's rows 3–7, columns 4–9",
        "",
        "a",
        " 1.000",
        "",
        # No table of terms: a conv's products are in its grids.
        "sum of 25 products = 7.0000",
        "+ bias 0.5000 = 7.5000",
        "",
        "onnxruntime: 7.5000  ✓ agrees (within 0.0001 relative)",
    ]


@pytest.mark.parametrize("kind, window, line", [
    ("pool", {"start": [4], "kernel": [3], "stride": [2], "dilation": [1], "pads": [1, 0]},
     "window: position from 4; kernel 3, stride 2, dilation 1; cells outside the input are padding"),
    ("conv", {"start": [0, -1, 2], "kernel": [1, 3, 3], "stride": [1, 2, 1], "dilation": [1, 1, 2], "pads": [0] * 6},
     "window: depth from 0, row from -1, column from 2; kernel 1×3×3, stride 1×2×1, dilation 1×1×2"),
    ("conv", {"start": [0, 0, 0, 1], "kernel": [1, 1, 1, 1], "stride": [1] * 4, "dilation": [1] * 4},
     "window: axis 0 from 0, axis 1 from 0, axis 2 from 0, axis 3 from 1; kernel 1×1×1×1, stride 1×1×1×1, "
     "dilation 1×1×1×1"),
])
def test_windows_of_one_to_four_axes_name_their_axes(kind, window, line):
    assert format_explanation(_conv(kind=kind, window=window)).splitlines()[1] == line


def test_no_window_line_without_a_window_or_for_other_kinds_and_no_box_line_without_a_box():
    lines = format_explanation(_conv(window={}, input_box=None)).splitlines()
    assert lines[:3] == ["c1.conv (Conv), unit [0, 1, 2]", "", "a"]
    lines = format_explanation(_conv(kind="elementwise", input_box=None)).splitlines()
    assert lines[:3] == ["c1.conv (Conv), unit [0, 1, 2]", "", "a"]


def test_the_last_line_compares_with_onnxruntime_or_the_probability_shown():
    assert format_explanation(_conv(value=8.0)).splitlines()[-1] == \
        "onnxruntime: 7.5000  ✗ the working gives 8.0000: they disagree (beyond 0.0001 relative)"
    assert format_explanation(_conv(runtime_value=None)).splitlines()[-1] == \
        "onnxruntime's value for this unit is not known"
    assert format_explanation(_conv(layer="probabilities", value=0.25, runtime_value=0.25,
                                    tolerance=1e-3)).splitlines()[-1] == \
        "the probability shown: 0.2500  ✓ agrees (within 0.001 relative)"
    assert format_explanation(_conv(layer="probabilities", runtime_value=None)).splitlines()[-1] == \
        "the probability shown's value for this unit is not known"


def test_a_unit_not_explained_says_why_and_still_gives_onnxruntimes_value():
    e = Explanation("c1.relu", "Relu", (0, 0, 0), runtime_value=3.0, explained=False, reason="because")
    assert format_explanation(e) == "c1.relu (Relu), unit [0, 0, 0]\nnot explained: because\nonnxruntime's value: 3.0000"
    e = Explanation("c1.relu", "Relu", (0, 0, 0), explained=False, reason="because")
    assert format_explanation(e, "channel, row, column") == \
        "c1.relu (Relu), unit [0, 0, 0]  (channel, row, column)\nnot explained: because"


def test_the_heat_map_ramps_from_nothing_to_the_most_and_marks_evidence_against():
    # Against the largest |value| 1: 0.75·9 = 6.75 rounds to 7 ('#'); −0.05 and −0.1 are too small to be
    # against (−0.1 is the edge), −0.11 is.
    assert heat_map(np.array([[0.0, 1.0, 0.75, -0.05, -0.1, -0.11]])) == [
        "+" + "-" * 12 + "+", "|  @@##    ~~|", "+" + "-" * 12 + "+"]
    # Against 4: 3/4·9 = 6.75 → '#'; −0.2 is above −0.1·4, so it is no evidence against.
    assert heat_map(np.array([[4.0, 3.0, 0.0], [0.0, -4.0, -0.2]])) == ["+------+", "|@@##  |", "|  ~~  |",
                                                                         "+------+"]
    assert heat_map(np.zeros((1, 2))) == ["+----+", "|    |", "+----+"]


def _map():
    m = np.zeros((8, 8))
    m[0, 0], m[5, 6] = -0.32, 0.16
    return m


def test_the_evidence_text_has_the_map_block_means_and_the_strongest_pixel():
    blank = "|" + " " * 16 + "|"
    assert format_evidence(Evidence(3, "three", _map(), 0.875, 4, 2)).splitlines() == [
        "evidence for class 3 (label three), probability 87.5 %:",
        "how much blanking a 4×4 square (every 2 pixels) lowers that probability,",
        "per pixel of the 8×8 network input ('@' most, '~' blanking raises it)",
        "+" + "-" * 16 + "+",
        "|~~" + " " * 14 + "|", blank, blank, blank, blank,
        "|" + " " * 12 + "==  |",  # 0.16 is half the largest |value|: 4.5 rounds to 4 ('=')
        blank, blank,
        "+" + "-" * 16 + "+",
        "",
        "mean drop in percentage points per 4×4 block (rows and columns counted from 0):",
        "      " + "      0" + "      4",
        "    0 " + "  -2.00" + "   0.00",  # −0.32 / 16 pixels = −2 points
        "    4 " + "   0.00" + "   1.00",  # 0.16 / 16 = 1 point
        "",
        "strongest evidence at row 5, column 6: blanking there lowers the probability by 16.0 points on average",
    ]


def test_evidence_blocks_follow_the_stride_or_the_size_asked_for():
    lines = format_evidence(Evidence(3, "3", _map(), 0.875, 4, 6)).splitlines()  # blocks of max(stride, 4) = 6
    assert lines[-6:-2] == [
        "mean drop in percentage points per 6×6 block (rows and columns counted from 0):",
        "      " + "      0" + "      6",
        "    0 " + "  -0.89" + "   1.33",  # −0.32 / 36 pixels; 0.16 over the 6×2 block at column 6
        "    6 " + "   0.00" + "   0.00",
    ]
    lines = format_evidence(Evidence(3, "3", _map()[:, :4], 0.5, 2, 1), block=8).splitlines()
    assert "per pixel of the 8×4 network input ('@' most, '~' blanking raises it)" in lines
    assert lines[-5:-2] == ["mean drop in percentage points per 8×8 block (rows and columns counted from 0):",
                            "      " + "      0", "    0 " + "  -1.00"]  # −0.32 / 32 pixels
    assert lines[-1].startswith("strongest evidence at row 0, column 1:")  # the first of the zeros


def test_an_explanation_as_json():
    e = Explanation("f6.gemm", "Gemm", (3,), value=1.5, runtime_value=float("nan"), kind="dense",
                    terms=[TERMS[0], Term(0.25, float("inf"), None, (0, 1, 2), padding=True)],
                    rest=Step("the other 2 products sum to 0.1000", 0.1), steps=[Step("sum", 1.4), Step("no value")])
    assert e.to_json() == {
        "layer": "f6.gemm", "op": "Gemm", "unit": [3], "explained": True, "reason": None, "value": 1.5,
        "runtime_value": None,  # NaN: JSON has none
        "agrees": False,  # a NaN from onnxruntime never agrees
        "tolerance": 1e-4,
        "terms": [
            {"weight": 0.5, "value": -2.0, "product": -1.0, "source_layer": "c5.relu", "source_unit": [3, 0, 0],
             "padding": False},
            {"weight": 0.25, "value": None, "product": None, "source_layer": None, "source_unit": [0, 1, 2],
             "padding": True},
        ],
        "rest": {"text": "the other 2 products sum to 0.1000", "value": 0.1},
        "steps": [{"text": "sum", "value": 1.4}, {"text": "no value", "value": None}],
    }
    e = Explanation("c1.relu", "Relu", (0, 1, 2), runtime_value=2.0, explained=False, reason="because")
    data = e.to_json()
    assert data["reason"] == "because" and data["rest"] is None and data["agrees"] is None
    assert data["value"] is None and data["runtime_value"] == 2.0 and data["terms"] == [] and data["steps"] == []


def test_agreement_is_relative_with_an_absolute_floor_of_the_same_size():
    def agrees(a, b, **kw):
        return Explanation("l", "Op", (0,), value=a, runtime_value=b, **kw).agrees

    assert agrees(0.0, 1e-4) and not agrees(0.0, 1.1e-4)  # near zero: the floor
    assert agrees(1000.0, 1000.1) and not agrees(1000.0, 1000.2)  # 1e-4 of 1000.1
    assert agrees(-1000.1, -1000.0) and not agrees(-1000.2, -1000.0)
    assert agrees(1.0, 1.0009, tolerance=1e-3) and not agrees(1.0, 1.0011, tolerance=1e-3)
    assert agrees(math.inf, math.inf) is False and agrees(1.0, -math.inf) is False
    assert agrees(None, 1.0) is None and agrees(1.0, None) is None
    assert Explanation("l", "Op", (0,), value=1.0, runtime_value=1.0, explained=False).agrees is None


def test_evidence_as_json():
    ev = Evidence(2, "two", np.array([[0.5, np.nan], [-0.25, 1]]), 0.75, 3, 2)
    assert ev.to_json() == {"class": 2, "label": "two", "probability": 0.75, "patch": 3, "stride": 2,
                            "map": [[0.5, None], [-0.25, 1.0]]}
    assert Evidence(0, "0", np.zeros((1, 1)), float("inf"), 1, 1).to_json()["probability"] is None
