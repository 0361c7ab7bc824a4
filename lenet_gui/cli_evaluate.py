"""``lenet-gui evaluate``: how the model does on a labelled set, as a table (or JSON, or a PNG).

    lenet-gui evaluate SOURCE... [--model M] [--json] [--png OUT] [--limit N]

Never imports Qt. Several sources give one column each, so a class's own
drawings sit beside pendigits and MNIST in the same table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EXIT_USAGE = 2
EPILOG = """A collection folder holds numbered .strokes.json drawings and labels.csv
(file,label,writer); see the README, "Your class's digits".

examples:
  lenet-gui evaluate my-class/
  lenet-gui evaluate my-class/ pendigits-orig.tes mnist/ --limit 2000
  lenet-gui evaluate my-class/ --json > report.json
  lenet-gui evaluate my-class/ --png confusion.png"""


def register(sub, spec_options) -> None:
    """Add the ``evaluate`` subparser to ``sub`` (the ``lenet-gui`` subparsers)."""
    e = sub.add_parser(
        "evaluate",
        help="accuracy, per-class, confusion matrix and worst mistakes on a labelled set",
        description="Evaluate the model on collection folders, pendigits .tra/.tes files or MNIST idx files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="a collection folder (with labels.csv), a pendigits .tra/.tes file (.gz too), "
                        "or MNIST idx files (a folder, or the images or labels file)")
    e.add_argument("--model", dest="evaluate_model", metavar="MODEL", help="ONNX model (default: the shipped LeNet-5)")
    e.add_argument("--provider", dest="evaluate_provider", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where inference runs (default: auto)")
    e.add_argument("--json", action="store_true",
                   help="print the numbers as JSON: one object, or {\"sources\": [...]} for several sources")
    e.add_argument("--png", metavar="OUT.png",
                   help="write the confusion matrix as a PNG (several sources: OUT-1.png, OUT-2.png, ...)")
    e.add_argument("--limit", type=int, metavar="N", help="use at most the first N digits of each source")
    e.add_argument("--worst", type=int, default=12, metavar="K",
                   help="how many of the most confident mistakes to list (default: 12)")
    spec_options(e)


def _error(message: str) -> None:
    print(f"lenet-gui: {message}", file=sys.stderr)


class _ProgressBar:
    """One line on stderr, redrawn in place; only when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r{self.label[:30]:<30} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\r" + " " * (width + 45) + "\r")
        sys.stderr.flush()


def _percent(n: int, correct: int) -> str:
    return "–" if n == 0 else f"{100.0 * correct / n:.1f} %"


def _table(rows: list[list[str]]) -> str:
    """Aligned text: the first column left, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_summary(reports) -> str:
    header = [""] + [r.source.name for r in reports]
    rows = [header,
            ["digits evaluated"] + [str(r.n) for r in reports],
            ["accuracy"] + [_percent(r.n, r.correct) for r in reports],
            ["skipped"] + [str(len(r.skipped)) for r in reports]]
    classes = reports[0].classes
    for c in classes:
        row = [f"class {c}"]
        for r in reports:
            n, k = r.per_class().get(c, (0, 0))
            row.append(f"{_percent(n, k)} of {n}" if n else "–")
        rows.append(row)
    text = _table(rows)
    if any(r.cancelled for r in reports):
        text += "\n(interrupted: the figures cover the digits done so far)"
    return text


def format_details(report) -> str:
    classes = report.classes
    parts = [f"Confusion matrix of {report.source.name} (rows: true label, columns: predicted)"]
    rows = [["true \\ predicted"] + classes]
    for i, c in enumerate(classes):
        rows.append([c] + [str(int(v)) if v else "·" for v in report.confusion[i]])
    parts.append(_table(rows))
    writers = report.per_writer()
    if writers:
        parts.append("")
        parts.append(f"Per writer ({report.source.name})")
        parts.append(_table([["writer", "digits", "accuracy"]]
                            + [[w or "(no name)", str(n), _percent(n, k)] for w, (n, k) in writers.items()]))
    if report.worst:
        parts.append("")
        parts.append(f"Most confident mistakes ({report.source.name})")
        parts.append(_table([["file", "label", "read as", "confidence"]]
                            + [[m.sample.name, classes[m.sample.label], classes[m.predicted],
                                f"{m.confidence * 100:.1f} %"] for m in report.worst]))
    return "\n".join(parts)


def _png_paths(out: str, count: int) -> list[Path]:
    path = Path(out)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, count + 1)]


def run(args, overrides) -> int:
    """The subcommand; ``overrides`` turns the parsed args into input-spec overrides."""
    from lenet_gui.core.confusion_png import write_png
    from lenet_gui.core.errors import LenetGuiError
    from lenet_gui.core.evaluate import evaluate, open_source
    from lenet_gui.core.session import ModelSession

    if args.limit is not None and args.limit < 1:
        _error("--limit must be a positive number of digits")
        return EXIT_USAGE
    try:
        session = ModelSession(args.evaluate_model, provider=args.evaluate_provider,
                               spec_overrides=overrides(args), threads=None)
    except LenetGuiError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if session.warning:
        _error(session.warning)

    unusable = 0
    reports = []
    for path in args.sources:
        try:
            source = open_source(path, list(session.labels), args.limit)
        except LenetGuiError as exc:
            _error(str(exc))
            unusable += 1
            continue
        report = evaluate(session, source, progress=_ProgressBar(source.name), worst_count=max(0, args.worst))
        for problem in report.skipped:
            _error(problem.message)
        if report.n == 0:
            _error(f"{path}: no digit could be evaluated ({len(report.skipped)} skipped)")
            unusable += 1
            continue
        reports.append(report)
    if not reports:
        return EXIT_USAGE

    if args.png:
        for report, target in zip(reports, _png_paths(args.png, len(reports))):
            try:
                write_png(report.confusion, report.classes, target, title=f"{report.source.name} · "
                          f"{_percent(report.n, report.correct)} of {report.n}")
            except (OSError, ValueError) as exc:
                _error(f"{target}: cannot write the PNG ({getattr(exc, 'strerror', None) or exc})")
                return EXIT_USAGE
    if args.json:
        data = reports[0].to_json() if len(reports) == 1 else {"sources": [r.to_json() for r in reports]}
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        print(format_summary(reports))
        for report in reports:
            print()
            print(format_details(report))
    sys.stdout.flush()
    return EXIT_USAGE if unusable else 0
