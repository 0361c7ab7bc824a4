"""``lenet-gui evaluate`` against ``lenet-gui predict`` on the same drawings.

Evaluation of a collection goes through ``predict_files``; what it adds (reading
and checking labels.csv, counting, sorting the mistakes) must stay small. Both
are timed in turn on one folder, so the load of a shared machine hits them alike,
and judged as a ratio.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import workload
from benchmarks.bench_core import run_measured
from benchmarks.timing import Row, judge

RATIO_TARGET = 1.15  # evaluate's time / predict's time on the same drawings
N = 2000


def _collection(folder: Path, n: int) -> list[str]:
    from lenet_gui.core.collection import CollectionWriter

    writer = CollectionWriter(folder)
    return [str(writer.save(drawing, str(label), f"writer {i % 7}")) for i, (label, drawing) in
            enumerate(workload.drawings(n))]


def bench_in_process(folder: Path, files: list[str], runs: int) -> Row:
    from lenet_gui.core.batch import predict_files
    from lenet_gui.core.evaluate import evaluate, open_source
    from lenet_gui.core.session import ModelSession

    session = ModelSession(provider="cpu", threads=None)
    ratios, rates = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        list(predict_files(session, files))
        t_predict = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = evaluate(session, open_source(folder, list(session.labels)))
        t_evaluate = time.perf_counter() - t0
        ratios.append(t_evaluate / t_predict)
        rates.append(len(files) / t_evaluate)
    med = float(np.median(ratios))
    return Row(
        f"evaluate a {len(files)}-drawing folder / predict_files on its files, in process",
        "×",
        ratios,
        target=f"≤ {RATIO_TARGET:.2f}×",
        status=judge(med <= RATIO_TARGET),
        note=f"session ready; evaluate {np.median(rates):,.0f} drawings/s; {report.accuracy:.1%} right, "
        f"{len(report.skipped)} skipped",
    )


def bench_cli(folder: Path, files: list[str], runs: int) -> Row:
    script = Path(sys.executable).with_name("lenet-gui")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "lenet_gui"]
    ratios, seconds = [], []
    for _ in range(runs):
        predict = run_measured([*launcher, "predict", "--json", *files])
        evaluate = run_measured([*launcher, "evaluate", str(folder), "--json"])
        if predict.code != 0 or evaluate.code != 0:
            raise RuntimeError(f"predict exited with {predict.code}, evaluate with {evaluate.code}")
        ratios.append(evaluate.seconds / predict.seconds)
        seconds.append((predict.seconds, evaluate.seconds))
    p, e = np.median([s[0] for s in seconds]), np.median([s[1] for s in seconds])
    return Row(
        f"lenet-gui evaluate FOLDER / lenet-gui predict --json FILES, {len(files)} drawings",
        "×",
        ratios,
        target=f"≤ {RATIO_TARGET:.2f}×",
        status=judge(float(np.median(ratios)) <= RATIO_TARGET),
        note=f"whole commands, start-up included, run in turn: predict {p:.2f} s, evaluate {e:.2f} s (medians)",
    )


def run(quick: bool) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lenet-bench-eval-") as tmp:
        folder = Path(tmp) / "class"
        files = _collection(folder, 500 if quick else N)
        return [bench_in_process(folder, files, 1 if quick else 5), bench_cli(folder, files, 1 if quick else 5)]
