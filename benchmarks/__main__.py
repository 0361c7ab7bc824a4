"""``python -m benchmarks [--quick] [--only core|ui|models] [--write docs/benchmarks.md]``."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def versions() -> str:
    import numpy
    import onnxruntime

    parts = [f"onnxruntime {onnxruntime.__version__}", f"numpy {numpy.__version__}"]
    try:
        import PySide6

        parts.insert(1, f"PySide6 {PySide6.__version__}")
    except ImportError:
        parts.insert(1, "PySide6 not installed")
    try:
        from importlib.metadata import version

        parts.append(f"torch {version('torch')}")
    except Exception:
        parts.append("no torch")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run, not for the doc")
    p.add_argument("--only", choices=["core", "ui", "models"], help="run one group")
    p.add_argument("--write", metavar="MD", type=Path, help="also write the table into this Markdown file")
    args = p.parse_args(argv)

    from benchmarks import report
    from benchmarks.timing import calibration_ms, cpu_snapshot, load_average, others_share
    from lenet_gui.platform_info import describe_machine

    started = datetime.datetime.now(datetime.timezone.utc)
    preamble = [
        f"Measured {started:%Y-%m-%d %H:%M} UTC with "
        + ("`python -m benchmarks --quick` (a smoke run: too few repetitions to compare)." if args.quick
           else "`python -m benchmarks` (what `make bench` runs)."),
        "",
        f"- Machine: {describe_machine()}",
        f"- Versions: {versions()}; Qt platform `{os.environ.get('QT_QPA_PLATFORM')}`",
        f"- Load average at the start: {load_average()}; calibration loop {calibration_ms():.0f} ms "
        "(a fixed pure-Python loop: lower is a faster machine)",
    ]
    print("\n".join(preamble), flush=True)
    cpu_before = cpu_snapshot()

    rows = []
    if args.only in (None, "core"):
        from benchmarks import bench_core

        rows += bench_core.run(args.quick)
        from benchmarks import bench_evaluate  # evaluate against predict on one folder

        rows += bench_evaluate.run(args.quick)
    if args.only in (None, "ui"):
        try:
            from benchmarks import bench_ui
        except ImportError as exc:  # no PySide6: the core numbers still stand
            print(f"UI benchmarks skipped: {exc}", file=sys.stderr)
        else:
            rows += bench_ui.run(args.quick)
    if args.only in (None, "models"):
        try:
            from benchmarks import bench_models
        except ImportError as exc:
            print(f"Big-model benchmarks skipped: {exc}", file=sys.stderr)
        else:
            rows += bench_models.run(args.quick)
    preamble.append(
        f"- Load average at the end: {load_average()}; other processes used "
        f"{others_share(cpu_before, cpu_snapshot()):.0%} of the machine's CPU time during the run; "
        f"calibration loop {calibration_ms():.0f} ms"
    )
    print(preamble[-1])
    print()
    print(report.text_table(rows))
    if args.write:
        report.write_doc(args.write, report.markdown(rows, preamble))
        print(f"\nwritten to {args.write}")
    # A miss is a finding, not a failure of the run: the table says which.
    return 0


if __name__ == "__main__":
    sys.exit(main())
