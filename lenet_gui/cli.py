"""The ``lenet-gui`` command: the window by default, and ``shapes`` / ``predict``.

    lenet-gui [--model M] [--provider auto|cpu|cuda] [--open FILE] [--screenshot OUT.png]
    lenet-gui shapes [MODEL] [--json]
    lenet-gui predict [--model M] [--provider P] [--json] FILE...
    lenet-gui explain FILE --layer NAME [--unit 0,12,14] | --evidence [--class 7]  [--json]
    lenet-gui evaluate SOURCE... [--model M] [--json] [--png OUT] [--limit N]

``shapes`` and ``predict`` never import Qt: they work on a server with no display.
Every error a user can cause is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import warnings

from lenet_gui import __version__
from lenet_gui.core.errors import LenetGuiError

EXIT_USAGE = 2


def _spec_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input overrides (for models without metadata)")
    g.add_argument("--mean", type=float, metavar="M",
                   help="subtract M from every pixel (after --pixel-scale), e.g. 0.1307 for MNIST")
    g.add_argument("--std", type=float, metavar="S", help="then divide by S, e.g. 0.3081 for MNIST")
    g.add_argument("--pixel-scale", type=float, dest="pixel_max", metavar="MAX",
                   help="the value full ink has before normalisation: 1 or 255")
    g.add_argument(
        "--no-calibrate", action="store_true",
        help="for a model without input metadata, use the defaults instead of trying the common "
        "conventions on reference digits",
    )
    g.add_argument(
        "--polarity",
        choices=["white_on_black", "black_on_white"],
        help="ink colour the model was trained on (default: from the model's metadata, else white_on_black)",
    )


def _limit_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    from lenet_gui.core.budget import DEFAULT_LIMIT, format_size, parse_size
    from lenet_gui.core.safe_run import DEFAULT_TIMEOUT_S

    def size(text: str) -> int:
        try:
            return parse_size(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 < value < 1e6:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
        return value

    # The window's defaults come from its settings (model/timeout, model/memory_limit).
    window = bool(prefix)
    g = p.add_argument_group("limits (a model file is untrusted input)")
    g.add_argument("--timeout", type=seconds, default=None if window else DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   dest=f"{prefix}timeout",
                   help=f"stop a model that runs longer than this per {'input' if window else 'file'} "
                        f"(default {DEFAULT_TIMEOUT_S:g})")
    g.add_argument("--memory-limit", type=size, default=None if window else DEFAULT_LIMIT, metavar="SIZE",
                   dest=f"{prefix}memory_limit",
                   help=f"refuse a model that needs more memory than this, e.g. 512M or 2GiB "
                        f"(default {format_size(DEFAULT_LIMIT)})")


def _overrides(args) -> dict:
    over = {"mean": args.mean, "std": args.std, "pixel_max": args.pixel_max}
    if args.polarity:
        over["invert"] = args.polarity == "black_on_white"
    return over


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lenet-gui",
        description=_wrap("Draw a digit and watch a LeNet-5 read it, layer by layer. Without a command, opens the window."),
        epilog=_examples(
            "lenet-gui                                         # open the window",
            "lenet-gui --open digit.strokes.json               # open the window with a drawing",
            "lenet-gui --screenshot window.png --open digit.png  # the window as a PNG, no display needed",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"lenet-gui {__version__}",
                   help="print the version and exit")
    p.add_argument("--model", metavar="MODEL.onnx", help="ONNX model to open (default: the shipped LeNet-5)")
    p.add_argument("--provider", choices=["auto", "cpu", "cuda"], default=None,
                   help="where inference runs: auto (CUDA when available), cpu or cuda (default: the last choice)")
    p.add_argument("--open", dest="open_file", metavar="FILE",
                   help="open an image (PNG, JPEG, …) or a .strokes.json drawing")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="render the window offscreen into this PNG and exit (no display needed)")
    sub = p.add_subparsers(dest="command",
                           title="commands (no display needed)", description="lenet-gui COMMAND --help tells more")
    _limit_options(p, prefix="window_")

    s = sub.add_parser(
        "shapes", help="every layer's output shape, worked out as a hand calculation",
        description=_wrap("Every layer's output shape, worked out with the convolution-arithmetic formulas of "
                          'Dumoulin and Visin, "A guide to convolution arithmetic for deep learning" (2016).'),
        epilog=_examples("lenet-gui shapes", "lenet-gui shapes my_model.onnx --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("model", nargs="?", metavar="MODEL.onnx", help="ONNX model (default: the shipped LeNet-5)")
    s.add_argument("--json", action="store_true",
                   help="print one JSON list, an object per ONNX node (indexes counted from 0)")
    s.add_argument(
        "--no-calibrate", action="store_true",
        help="for a model without input metadata, do not try the common input conventions on reference digits",
    )

    r = sub.add_parser(
        "predict", help="predict the digit in images or .strokes.json drawings",
        description=_wrap("Predict the digit in images or .strokes.json drawings, one line per file. "
                          "A file that cannot be read is one line on stderr; the others are still predicted."),
        epilog=_examples("lenet-gui predict --example 7 --example 4-or-9",
                         "lenet-gui predict --json drawings/*.strokes.json scans/*.png"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("files", nargs="*", metavar="FILE", help="images (PNG, JPEG, …) or .strokes.json drawings")
    r.add_argument("--example", action="append", default=[], metavar="NAME",
                   help="a drawing shipped with lenet-gui: 0 … 9, or a confusion such as 1-or-7, 4-or-9, "
                        "3-or-5 (may be given more than once)")
    r.add_argument("--model", dest="predict_model", metavar="MODEL.onnx",
                   help="ONNX model (default: the shipped LeNet-5)")
    r.add_argument("--provider", dest="predict_provider", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where inference runs: auto (CUDA when available, the default), cpu or cuda")
    r.add_argument("--json", action="store_true",
                   help='print one JSON object per line: {"file", "digit", "probabilities"}')
    _limit_options(r)
    _spec_options(r)
    from lenet_gui.cli_explain import add_explain_parser

    add_explain_parser(sub)
    from lenet_gui import cli_evaluate  # `lenet-gui evaluate`: its own module

    cli_evaluate.register(sub, _spec_options)
    return p


def _wrap(text: str) -> str:
    return textwrap.fill(text, 78)


def _examples(*lines: str) -> str:
    """An argparse epilog: example command lines."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def error(message: str) -> None:
    print(f"lenet-gui: {message}", file=sys.stderr)


def _calibrate(session, args) -> None:
    """Models without input metadata: find their convention on reference digits, and say so once."""
    if args.no_calibrate:
        return
    from lenet_gui.core.calibrate import apply_to_session

    result = apply_to_session(session, _overrides(args) if hasattr(args, "mean") else None)
    if result is not None:
        error(result.message())


def _shapes_calibration(model, args) -> None:
    """``shapes`` tells, once on stderr, how a model without input metadata will be fed."""
    from lenet_gui.core.calibrate import needs_calibration

    if args.no_calibrate or not needs_calibration({p.key: p.value for p in model.metadata_props}):
        return
    from lenet_gui.core.session import ModelSession

    try:
        session = ModelSession(args.model, provider="cpu")
    except LenetGuiError:
        return  # shapes is the arithmetic: a model that cannot run is predict's to report
    _calibrate(session, args)


def _runtime_shapes(args, layers) -> None:
    """Layers no formula here gives: run the model once and show onnxruntime's shapes for them."""
    import numpy as np

    from lenet_gui.core import graph, preprocess
    from lenet_gui.core.session import ModelSession

    if all(layer.constant or layer.shape_source == graph.SHAPE_FORMULA for layer in layers):
        return
    try:
        session = ModelSession(args.model, provider="cpu")
        spec = session.spec
        blank = preprocess.view_to_tensor(np.zeros((spec.height, spec.width), np.float32), spec)
        activations = session.run(blank).activations
    except Exception:  # a model that cannot run keeps its "shape unknown" rows, which say why
        return
    graph.adopt_runtime_shapes(layers, {name: value.shape for name, value in activations.items()},
                               spec.batch or 1)


def cmd_shapes(args) -> int:
    from lenet_gui.core import graph, structure
    from lenet_gui.core.onnx_io import default_model_path, load_model

    try:
        model = load_model(args.model or default_model_path())
        layers = graph.analyze(model)
    except LenetGuiError as exc:
        error(str(exc))
        return EXIT_USAGE
    _shapes_calibration(model, args)
    _runtime_shapes(args, layers)
    found = structure.analyze_structure(layers, structure.graph_input_shapes(model))
    if args.json:
        rows = graph.layers_to_json(layers)
        extra = structure.structure_json(layers, found)
        for row in rows:
            row.update(extra[row["index"]])
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    else:
        print(graph.format_table(layers, found))
    return 0


def _predict_session(args):
    """The session ``predict`` runs on.

    The shipped LeNet-5 is trusted: onnxruntime alone (``LightSession``: no onnx
    import, no graph analysis). Any other model file is untrusted input: its
    metadata, memory footprint and run time are checked (``ModelSession``).
    """
    from lenet_gui.core.runtime import default_model_path  # no onnx import

    shipped = args.predict_model is None or _same_file(args.predict_model, default_model_path())
    if shipped:
        from lenet_gui.core import model_check
        from lenet_gui.core.runtime import LightSession  # onnxruntime alone

        over = _overrides(args)
        model_check.check_overrides(over)  # --mean, --std, --pixel-scale: the same ranges as metadata
        return LightSession(args.predict_model, provider=args.predict_provider, spec_overrides=over, threads=None)
    from lenet_gui.core.session import ModelSession

    return ModelSession(args.predict_model, provider=args.predict_provider, spec_overrides=_overrides(args),
                        threads=None, memory_limit=args.memory_limit, timeout=args.timeout)


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def cmd_predict(args) -> int:
    from lenet_gui.core.examples import example_path

    files = list(args.files)
    shown = {}  # file → what the text output calls it
    try:
        for name in args.example:
            path = str(example_path(name))
            files.append(path)
            shown[path] = f"example {name}"
    except LenetGuiError as exc:
        error(str(exc))
        return EXIT_USAGE
    if not files:
        error("predict needs a FILE or an --example NAME (see lenet-gui predict --help)")
        return EXIT_USAGE

    try:
        session = _predict_session(args)
    except LenetGuiError as exc:
        error(str(exc))
        if args.json:  # a line for every file, so a script reading the output accounts for each
            for name in files:
                _print_json({"file": name, "digit": None, "probabilities": None, "error": str(exc)})
        return EXIT_USAGE
    if session.warning:
        error(session.warning)
    _calibrate(session, args)
    return _print_predictions(session, _predictions(session, files), args, shown)


def _print_predictions(session, items, args, shown: dict | None = None) -> int:
    shown = shown or {}
    failed = 0
    for item in items:
        if item.error:
            failed += 1
            error(item.error)
            if args.json:
                _print_json({"file": item.file, "digit": None, "probabilities": None, "error": item.error})
            continue
        if args.json:
            probs = None if item.probabilities is None else [round(float(p), 6) for p in item.probabilities]
            label = None if item.digit is None else session.labels[item.digit]
            digit = int(label) if label is not None and label.isdigit() else label
            _print_json({"file": item.file, "digit": digit, "probabilities": probs})
        elif item.digit is None:
            print(f"{shown.get(item.file, item.file)}: no ink (nothing to predict)")
        else:
            p = item.probabilities[item.digit] * 100
            print(f"{shown.get(item.file, item.file)}: {session.labels[item.digit]}  ({p:.1f} %)")
    sys.stdout.flush()
    return EXIT_USAGE if failed else 0


def _print_json(record: dict) -> None:
    # allow_nan=False: a NaN that slipped through must fail here, not print invalid JSON.
    print(json.dumps(record, allow_nan=False), flush=False)


def _predictions(session, files):
    """predict_files, where a failure of the model's run fails the files of that run, not the command."""
    from lenet_gui.core.batch import FilePrediction, predict_files

    done = 0
    try:
        for item in predict_files(session, files):
            done += 1
            yield item
    except LenetGuiError as exc:
        for name in files[done:]:
            yield FilePrediction(str(name), error=f"{name}: {exc}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("shapes", "predict"):
        warnings.simplefilter("ignore", RuntimeWarning)  # numbers that go wrong are reported as messages
    try:
        if args.command == "shapes":
            return cmd_shapes(args)
        if args.command == "predict":
            return cmd_predict(args)
        if args.command == "explain":
            from lenet_gui.cli_explain import cmd_explain

            return cmd_explain(args)
        if args.command == "evaluate":
            from lenet_gui import cli_evaluate

            return cli_evaluate.run(args, _overrides)
        from lenet_gui.ui.app import run_app
        from lenet_gui.ui.settings import MEMORY_LIMIT_ENV, TIMEOUT_ENV

        # For this run only: the settings read these before their stored values.
        if args.window_memory_limit:
            os.environ[MEMORY_LIMIT_ENV] = str(args.window_memory_limit)
        if args.window_timeout:
            os.environ[TIMEOUT_ENV] = str(args.window_timeout)

        return run_app(
            model=args.model,
            provider=args.provider,
            open_file=args.open_file,
            screenshot=args.screenshot,
        )
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lenet-gui predict ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (Exception, RecursionError) as exc:  # never a traceback in a user's face
        if args.command not in ("shapes", "predict"):
            raise
        from lenet_gui.core.safe_run import describe_failure

        model = (args.model if args.command == "shapes" else args.predict_model) or "the shipped model"
        error(f"{args.command} failed on {os.path.basename(model)}: {describe_failure(exc)}")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
