"""The ``lenet-gui`` command: the window by default, and ``shapes`` / ``predict``.

    lenet-gui [--model M] [--provider auto|cpu|cuda] [--open FILE] [--screenshot OUT.png]
    lenet-gui shapes [MODEL] [--json]
    lenet-gui predict [--model M] [--provider P] [--json] FILE...
    lenet-gui explain FILE --layer NAME [--unit 0,12,14] | --evidence [--class 7]  [--json]

``shapes`` and ``predict`` never import Qt: they work on a server with no display.
Every error a user can cause is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from lenet_gui import __version__
from lenet_gui.core.errors import LenetGuiError

EXIT_USAGE = 2


def _spec_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input overrides (for models without metadata)")
    g.add_argument("--mean", type=float, help="normalisation mean (after pixel scaling)")
    g.add_argument("--std", type=float, help="normalisation standard deviation")
    g.add_argument("--pixel-scale", type=float, dest="pixel_max", help="value of full ink before normalisation (1 or 255)")
    g.add_argument(
        "--polarity",
        choices=["white_on_black", "black_on_white"],
        help="what the model was trained on (default from metadata, else white_on_black)",
    )


def _overrides(args) -> dict:
    over = {"mean": args.mean, "std": args.std, "pixel_max": args.pixel_max}
    if args.polarity:
        over["invert"] = args.polarity == "black_on_white"
    return over


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lenet-gui",
        description="Draw a digit and watch a LeNet-5 read it, layer by layer.",
    )
    p.add_argument("--version", action="version", version=f"lenet-gui {__version__}")
    p.add_argument("--model", help="ONNX model to open (default: the shipped LeNet-5)")
    p.add_argument("--provider", choices=["auto", "cpu", "cuda"], default=None, help="where inference runs")
    p.add_argument("--open", dest="open_file", metavar="FILE", help="open an image or .strokes.json drawing")
    p.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen into a PNG and exit")
    sub = p.add_subparsers(dest="command", metavar="{shapes,predict,explain}")

    s = sub.add_parser("shapes", help="every layer's output shape, worked out as a hand calculation")
    s.add_argument("model", nargs="?", help="ONNX model (default: the shipped LeNet-5)")
    s.add_argument("--json", action="store_true", help="one JSON list, an object per ONNX node")

    r = sub.add_parser("predict", help="predict the digit in images or .strokes.json drawings")
    r.add_argument("files", nargs="+", metavar="FILE")
    r.add_argument("--model", dest="predict_model", help="ONNX model (default: the shipped LeNet-5)")
    r.add_argument("--provider", dest="predict_provider", choices=["auto", "cpu", "cuda"], default="auto")
    r.add_argument("--json", action="store_true", help="one JSON object per line")
    _spec_options(r)
    from lenet_gui.cli_explain import add_explain_parser

    add_explain_parser(sub)
    return p


def error(message: str) -> None:
    print(f"lenet-gui: {message}", file=sys.stderr)


def cmd_shapes(args) -> int:
    from lenet_gui.core import graph
    from lenet_gui.core.onnx_io import default_model_path, load_model

    try:
        model = load_model(args.model or default_model_path())
        layers = graph.analyze(model)
    except LenetGuiError as exc:
        error(str(exc))
        return EXIT_USAGE
    if args.json:
        print(json.dumps(graph.layers_to_json(layers), indent=1, ensure_ascii=False))
    else:
        print(graph.format_table(layers))
    return 0


def cmd_predict(args) -> int:
    from lenet_gui.core.batch import predict_files
    from lenet_gui.core.session import ModelSession

    try:
        session = ModelSession(args.predict_model, provider=args.predict_provider, spec_overrides=_overrides(args), threads=None)
    except LenetGuiError as exc:
        error(str(exc))
        return EXIT_USAGE
    if session.warning:
        error(session.warning)
    failed = 0
    for item in predict_files(session, args.files):
        if item.error:
            failed += 1
            error(item.error)
            continue
        if args.json:
            probs = None if item.probabilities is None else [round(float(p), 6) for p in item.probabilities]
            label = None if item.digit is None else session.labels[item.digit]
            digit = int(label) if label is not None and label.isdigit() else label
            print(json.dumps({"file": item.file, "digit": digit, "probabilities": probs}), flush=False)
        elif item.digit is None:
            print(f"{item.file}: no ink (nothing to predict)")
        else:
            p = item.probabilities[item.digit] * 100
            print(f"{item.file}: {session.labels[item.digit]}  ({p:.1f} %)")
    sys.stdout.flush()
    return EXIT_USAGE if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "shapes":
            return cmd_shapes(args)
        if args.command == "predict":
            return cmd_predict(args)
        if args.command == "explain":
            from lenet_gui.cli_explain import cmd_explain

            return cmd_explain(args)
        from lenet_gui.ui.app import run_app

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


if __name__ == "__main__":
    sys.exit(main())
