"""``lenet-gui explain``: how one unit was computed, or what in the drawing drove the answer. No Qt.

    lenet-gui explain FILE --layer c3.conv --unit 5,3,6 [--json] [--model M]
    lenet-gui explain FILE --evidence [--class 7] [--json]

Units are counted from 0, as in numpy, without the batch axis (a Conv unit is
channel,row,column). Every error a user can cause is one line on stderr and
exit code 2.
"""

from __future__ import annotations

import json
import re
import sys

import numpy as np

from lenet_gui.core.errors import LenetGuiError

EXIT_USAGE = 2

UNIT_HELP = (
    "the unit: its index in the layer's output without the batch axis, comma-separated and counted from 0 "
    "as in numpy (a Conv or pool unit is channel,row,column, e.g. 0,12,14; a Gemm unit is one number); "
    "default: the unit with the largest value"
)


def add_explain_parser(sub) -> None:
    import argparse

    from lenet_gui.cli import _examples, _spec_options, _wrap

    e = sub.add_parser(
        "explain",
        help="write out how one unit was computed, or which part of the drawing drove the answer",
        description=_wrap(
            "Run FILE (an image or .strokes.json drawing) through the model and write out one unit's "
            "computation with this run's numbers, checked against onnxruntime (--layer/--unit), or the "
            "occlusion evidence map for a class (--evidence). Units are counted from 0, as in numpy."
        ),
        epilog=_examples(
            "lenet-gui explain docs/seven.strokes.json --layer c3 --unit 5,3,6",
            "lenet-gui explain docs/seven.strokes.json --layer f6 --json",
            "lenet-gui explain docs/seven.strokes.json --evidence --class 1",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("file", metavar="FILE", help="an image or .strokes.json drawing")
    e.add_argument("--model", dest="explain_model", metavar="MODEL.onnx",
                   help="ONNX model (default: the shipped LeNet-5)")
    e.add_argument("--provider", dest="explain_provider", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where inference runs: auto (CUDA when available, the default), cpu or cuda")
    e.add_argument("--layer", metavar="LAYER",
                   help="a layer name as `lenet-gui shapes --json` prints it (e.g. c3.conv; "
                        "c3 alone means the first layer named c3.*), or 'probabilities' for how a "
                        "probability bar comes from the logits")
    e.add_argument("--unit", metavar="C,ROW,COL", help=UNIT_HELP)
    e.add_argument("--evidence", action="store_true", help="print the occlusion evidence map instead")
    e.add_argument("--class", dest="class_name", metavar="CLASS",
                   help="with --evidence: the class, as its label or its index from 0 (default: the predicted one)")
    e.add_argument("--patch", type=int, default=4, metavar="PIXELS",
                   help="with --evidence: side of the blanked square in pixels (default 4)")
    e.add_argument("--stride", type=int, default=2, metavar="PIXELS",
                   help="with --evidence: pixels between blanked squares (default 2)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    _spec_options(e)


def _error(message: str) -> int:
    print(f"lenet-gui: {message}", file=sys.stderr)
    return EXIT_USAGE


def _prepare(path: str, spec):
    from lenet_gui.core import preprocess
    from lenet_gui.core.drawing import is_drawing_file, load_drawing

    if is_drawing_file(path):
        return preprocess.prepare_drawing(load_drawing(path), spec)
    return preprocess.prepare_image(path, spec)


def parse_unit(text: str) -> tuple[int, ...]:
    parts = [p for p in re.split(r"[\s,;]+", text.strip().strip("()[]")) if p]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise LenetGuiError(f"--unit {text!r} is not a list of whole numbers such as 0,12,14") from None


def resolve_layer(explainer, name: str) -> tuple[str, str]:
    """(layer name, note): exact names first, then "c3" for the first layer named "c3.…"."""
    from lenet_gui.core.explain import layer_id

    try:
        return layer_id(explainer.layer(name)), ""
    except LenetGuiError:
        pass
    group = [layer_id(layer) for layer in explainer.layers if layer_id(layer).startswith(name + ".")]
    if group:
        return group[0], f"{name} has {len(group)} layers ({', '.join(group)}); explaining {group[0]}"
    explainer.layer(name)  # raises with the list of names
    raise AssertionError("unreachable")


def _axes_text(layer, shape) -> str:
    spatial = {2: "position", 3: "row, column", 4: "depth, row, column"}.get(len(shape))
    if layer.op in ("Conv", "MaxPool", "AveragePool", "LpPool") and spatial:
        return f"channel, {spatial}, counted from 0"
    return "counted from 0"


def _grid_json(grid) -> dict:
    return {
        "title": grid.title,
        "values": np.asarray(grid.values, dtype=float).tolist(),
        "padding": None if grid.padding is None else np.asarray(grid.padding, dtype=bool).tolist(),
        "highlight": None if grid.highlight is None else list(grid.highlight),
        "signed": grid.signed,
    }


def cmd_explain(args) -> int:
    from lenet_gui.cli import _overrides
    from lenet_gui.core import explain, graph
    from lenet_gui.core.explain_text import format_evidence, format_explanation
    from lenet_gui.core.session import ModelSession

    if not args.evidence and not args.layer:
        return _error("explain needs --layer NAME (and --unit) for one unit, or --evidence for the evidence map")
    try:
        session = ModelSession(args.explain_model, provider=args.explain_provider,
                               spec_overrides=_overrides(args), threads=None)
        if session.warning:
            _error(session.warning)
        try:
            prepared = _prepare(args.file, session.spec)
        except LenetGuiError:
            raise
        except Exception as exc:  # an unreadable file is the user's, not a crash
            raise LenetGuiError(f"{args.file}: cannot be read ({type(exc).__name__}: {exc})") from None
        if prepared is None:
            raise LenetGuiError(f"{args.file} holds no ink: there is nothing to explain")
        result = session.run(prepared.tensor, prepared)
        if args.evidence:
            return _evidence(args, session, result, explain, format_evidence)
        explainer = explain.Explainer(session.model, graph.analyze(session.model), session.weights)
        if args.layer == explain.PROBABILITIES and args.layer not in {explain.layer_id(x) for x in explainer.layers}:
            return _probability(args, explainer, result, format_explanation)
        name, note = resolve_layer(explainer, args.layer)
        layer = explainer.layer(name)
        output = result.activations.get(layer.output)
        if output is None:
            raise LenetGuiError(f"{name} has no output in this run to explain")
        if args.unit is None:
            unit = tuple(int(i) for i in np.unravel_index(int(np.argmax(output)), output.shape))
            note = (note + "; " if note else "") + f"no --unit given: the unit with the largest value, {list(unit)}"
        else:
            unit = parse_unit(args.unit)
        e = explainer.explain(result, name, unit)
    except LenetGuiError as exc:
        return _error(str(exc))
    if note:
        _error(note)
    if args.json:
        data = e.to_json()
        data.update({
            "kind": e.kind,
            "counted_from": 0,
            "window": e.window,
            "input_box": None if e.input_box is None else list(e.input_box),
            "grids": [[_grid_json(g) for g in row] for row in e.rows],
            "prediction": {"class": result.digit, "label": result.label, "probability": result.confidence},
        })
        print(json.dumps(data, ensure_ascii=False, default=_plain))
    else:
        print(format_explanation(e, _axes_text(layer, output.shape)))
    return 0


def _probability(args, explainer, result, format_explanation) -> int:
    try:
        unit = parse_unit(args.unit) if args.unit is not None else (result.digit,)
        if len(unit) != 1:
            raise LenetGuiError("--unit for probabilities is one class index, counted from 0")
        e = explainer.explain_probability(result, unit[0])
    except LenetGuiError as exc:
        return _error(str(exc))
    if args.json:
        print(json.dumps(e.to_json(), ensure_ascii=False))
    else:
        print(format_explanation(e, "class, counted from 0"))
    return 0


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


def _evidence(args, session, result, explain, format_evidence) -> int:
    class_index = None
    if args.class_name is not None:
        wanted = args.class_name.strip()
        if wanted in session.labels:
            class_index = session.labels.index(wanted)
        elif wanted.lstrip("-").isdigit() and 0 <= int(wanted) < len(session.labels):
            class_index = int(wanted)
        else:
            raise LenetGuiError(f"there is no class {wanted!r}: give a label ({', '.join(session.labels)}) "
                                f"or an index from 0 to {len(session.labels) - 1}")
    ev = explain.evidence(session, result.prepared.tensor, class_index, patch=args.patch, stride=args.stride)
    if args.json:
        data = ev.to_json()
        data["prediction"] = {"class": result.digit, "label": result.label, "probability": result.confidence}
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(format_evidence(ev))
    return 0
