"""Where the time goes in each benchmark that misses its target: cProfile summaries.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.profiles [preprocess] [inference]
        [end-to-end] [predict] [cold-start] [--top N]

Each scenario is the benchmark's own workload run under cProfile; the output is
the time per area (a source file, or onnxruntime / Qt for their native calls)
and the functions with the most time of their own. Profiling adds overhead to
every Python call, so shares are telling and absolute times are inflated.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent


def _area(filename: str, name: str) -> str:
    """A short name for where a function lives."""
    if filename == "~":  # a built-in: name it by what it belongs to
        if "onnxruntime" in name:
            return "onnxruntime (native)"
        if "PySide6" in name or "Qt" in name or name.startswith("<method 'draw") or "processEvents" in name:
            return "Qt (native)"
        if "numpy" in name or "ufunc" in name or name.startswith("<method 'take'"):
            return "numpy (native)"
        return "other built-ins"
    if "site-packages/" in filename:  # a library: its name is enough
        return filename.split("site-packages/", 1)[1].split("/", 1)[0] + " (Python)"
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def summarise(profile: cProfile.Profile, calls: int, top: int, unit: str = "call") -> str:
    stats = pstats.Stats(profile)
    total = sum(v[2] for v in stats.stats.values())
    by_area: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
        by_area[_area(filename, name)] += tt
        label = name if filename == "~" else f"{_area(filename, name)}:{line}({name})"
        rows.append((tt, ct, nc, label))
    out = [f"total {total * 1e3 / calls:.3f} ms per {unit} under the profiler ({calls} {unit}s)", "", "by area (own time):"]
    for area, tt in sorted(by_area.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {tt / total:6.1%}  {tt * 1e3 / calls:8.3f} ms  {area}")
    out += ["", "functions (own time, cumulative, calls per " + unit + "):"]
    for tt, ct, nc, label in sorted(rows, reverse=True)[:top]:
        out.append(f"  {tt / total:6.1%}  own {tt * 1e3 / calls:7.3f} ms  cum {ct * 1e3 / calls:7.3f} ms  "
                   f"{nc / calls:7.1f}×  {label}")
    return "\n".join(out)


def profile(fn, *args):
    p = cProfile.Profile()
    p.enable()
    try:
        fn(*args)
    finally:
        p.disable()
    return p


def scenario_preprocess(top: int) -> str:
    from benchmarks import workload
    from lenet_gui.core import preprocess

    pool = [d for _, d in workload.drawings(500)]
    for d in pool[:20]:
        preprocess.prepare_drawing(d)
    return summarise(profile(lambda: [preprocess.prepare_drawing(d) for d in pool]), len(pool), top, "drawing")


def scenario_inference(top: int) -> str:
    from benchmarks import workload
    from lenet_gui.core import preprocess
    from lenet_gui.core.session import ModelSession

    session = ModelSession(provider="cpu", threads=1)
    prepared = preprocess.prepare_drawing(workload.drawings(1)[0][1], session.spec)
    n = 5000
    for _ in range(200):
        session.run(prepared.tensor, prepared)
    return summarise(profile(lambda: [session.run(prepared.tensor, prepared) for _ in range(n)]), n, top, "run")


def scenario_end_to_end(top: int) -> str:
    from benchmarks import bench_ui

    app, window = bench_ui._window()
    bench_ui.bench_end_to_end(window, 2)  # warm-up
    moves = []
    p = profile(lambda: moves.append(bench_ui.bench_end_to_end(window, 5)[0].reps))
    window.close()
    return summarise(p, moves[0], top, "move")


def scenario_predict(top: int) -> str:
    import tempfile

    from benchmarks import workload
    from lenet_gui.core.batch import predict_files
    from lenet_gui.core.runtime import LightSession

    with tempfile.TemporaryDirectory() as tmp:
        files = workload.write_drawing_files(Path(tmp), 1000)
        session = LightSession()  # what `lenet-gui predict` uses
        # One process, so the profiler sees the preprocessing the workers would do.
        p = profile(lambda: list(predict_files(session, files, workers=1)))
    return summarise(p, len(files), top, "file")


def scenario_cold_start(top: int) -> str:
    """Import times (python -X importtime) and the window's construction under cProfile."""
    code = (
        "import cProfile, pstats, sys\n"
        "from lenet_gui.ui.app import create_application\n"
        "app = create_application()\n"
        "from lenet_gui.ui.main_window import MainWindow\n"
        "from lenet_gui.ui.settings import AppSettings\n"
        "p = cProfile.Profile(); p.enable(); w = MainWindow(settings=AppSettings(persistent=False), restore=False)\n"
        "w.show(); [app.processEvents() for _ in range(3)]; p.disable()\n"
        f"pstats.Stats(p, stream=sys.stdout).sort_stats('cumulative').print_stats({top})\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", "import lenet_gui.ui.main_window"], env=env, check=True)  # bytecode cache
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    by_package: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if m:  # own time of each module, summed per top-level package
            by_package[m.group(3).split(".")[0]] += int(m.group(1)) / 1e3
    total = sum(by_package.values())
    out = [f"imports: {total:.0f} ms in all; own time summed by package:"]
    out += [f"  {t:7.1f} ms  {name}" for name, t in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]]
    out += ["", "MainWindow() + show + first paint, cumulative:", done.stdout.strip()]
    return "\n".join(out)


SCENARIOS = {
    "preprocess": scenario_preprocess,
    "inference": scenario_inference,
    "end-to-end": scenario_end_to_end,
    "predict": scenario_predict,
    "cold-start": scenario_cold_start,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profiles", description=__doc__.split("\n\n")[0])
    p.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], help="default: all")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    for name in args.scenarios or SCENARIOS:
        print(f"=== {name} " + "=" * (70 - len(name)), flush=True)
        print(SCENARIOS[name](args.top), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
