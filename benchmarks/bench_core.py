"""Benchmarks without Qt: preprocessing, inference, and ``lenet-gui predict``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import workload
from benchmarks.timing import INFO, Row, judge, measure, measure_interleaved, ms, us

INFERENCE_RATIO_TARGET = 1.25
PREDICT_TARGET = 2000.0  # drawings per second
MEMORY_TARGET_MB = 200.0


def bench_preprocess(reps: int) -> list[Row]:
    from lenet_gui.core import preprocess

    pool = [d for _, d in workload.drawings(min(reps, 500))]
    points = np.mean([d.point_count() for d in pool])
    it = iter(range(1 << 30))
    samples = measure(lambda: preprocess.prepare_drawing(pool[next(it) % len(pool)]), reps)
    return [
        Row(
            "preprocess one drawing (prepare_drawing)",
            "ms",
            ms(samples),
            note=f"{len(pool)} pen digits, {points:.0f} points each on average",
        )
    ]


def _torch_lenet(model_path: Path):
    """LeNet-5 in PyTorch eager mode with the shipped weights, or None without torch."""
    try:
        import onnx
        import torch
        from onnx import numpy_helper

        from lenet_gui.train.model import LeNet5
    except ImportError:
        return None
    torch.set_num_threads(1)  # the app's onnxruntime session uses one thread too
    net = LeNet5().eval()
    weights = {
        t.name.removeprefix("net."): torch.from_numpy(numpy_helper.to_array(t).copy())
        for t in onnx.load(str(model_path)).graph.initializer
    }
    net.load_state_dict(weights)
    return net, torch


def bench_inference(reps: int) -> list[Row]:
    """ModelSession.run (every activation, the app's call) next to a plain
    onnxruntime session fetching only the logits, and the same net in torch."""
    import onnxruntime as ort

    from lenet_gui.core import preprocess
    from lenet_gui.core.onnx_io import default_model_path
    from lenet_gui.core.session import ModelSession

    path = default_model_path()
    app_session = ModelSession(path, provider="cpu", threads=1)
    prepared = preprocess.prepare_drawing(workload.drawings(1)[0][1], app_session.spec)
    x = prepared.tensor
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    plain = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    input_name = plain.get_inputs()[0].name
    fns = {
        "app": lambda: app_session.run(x, prepared),
        "ort_all": lambda: app_session.session.run(None, {input_name: x}),
        "plain": lambda: plain.run(["logits"], {input_name: x}),
    }
    torch_net = _torch_lenet(path)
    if torch_net is not None:
        net, torch = torch_net
        tx = torch.from_numpy(x)

        def torch_run():
            with torch.no_grad():
                return net.features(tx)

        fns["torch"] = torch_run
    got = measure_interleaved(fns, reps)
    base_med = float(np.median(got["plain"]))
    base_p95 = float(np.percentile(got["plain"], 95))

    def ratio(name):
        return float(np.median(got[name])) / base_med, float(np.percentile(got[name], 95)) / base_p95

    app_med, app_p95 = ratio("app")
    raw_med, raw_p95 = ratio("ort_all")
    outputs = len(app_session.session.get_outputs())
    rows = [
        Row("inference, plain onnxruntime, logits only", "µs", us(got["plain"]), note="1 thread, baseline of the ratios"),
        Row(
            "inference, ModelSession.run, every activation",
            "µs",
            us(got["app"]),
            target=f"≤ {INFERENCE_RATIO_TARGET}× plain",
            status=judge(app_med <= INFERENCE_RATIO_TARGET and app_p95 <= INFERENCE_RATIO_TARGET),
            note=f"{app_med:.2f}× plain at the median, {app_p95:.2f}× at p95",
            extra={"ratio_median": app_med, "ratio_p95": app_p95},
        ),
        Row(
            "inference, the app's onnxruntime call alone",
            "µs",
            us(got["ort_all"]),
            note=f"session.run of all {outputs} outputs without Result building: {raw_med:.2f}× plain (p95 {raw_p95:.2f}×)",
            extra={"ratio_median": raw_med, "ratio_p95": raw_p95},
        ),
    ]
    if "torch" in got:
        t_med, t_p95 = ratio("torch")
        rows.append(
            Row(
                "inference, PyTorch eager, every activation",
                "µs",
                us(got["torch"]),
                note=f"torch {torch_net[1].__version__}, 1 thread, no_grad: {t_med:.2f}× plain (p95 {t_p95:.2f}×)",
                extra={"ratio_median": t_med, "ratio_p95": t_p95},
            )
        )
    return rows


def bench_predict_in_process(n: int, runs: int, folder: Path) -> list[Row]:
    """predict_files with a ready session (no start-up), and what batch's own drawing
    reader saves per file."""
    from lenet_gui.core import batch
    from lenet_gui.core.session import ModelSession

    files = sorted(folder.glob("*.strokes.json"))[:n]
    session = ModelSession(provider="cpu", threads=None)
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        results = list(batch.predict_files(session, files))
        rates.append(len(files) / (time.perf_counter() - t0))
    right = sum(r.digit == int(Path(r.file).name.split("_")[1][0]) for r in results)
    # One file read and prepared, in one process: the per-file cost the workers pay.
    names = [str(f) for f in files[:500]]
    spec = session.spec
    one = []
    for name in names:
        t0 = time.perf_counter()
        batch.prepare_file(name, spec)
        one.append(time.perf_counter() - t0)
    read_ms = float(np.median(one)) * 1e3
    return [
        Row(
            f"predict_files over {len(files)} drawings, in process",
            "drawings/s",
            rates,
            higher_is_better=True,
            note=f"session ready, files read and prepared in worker processes, run in batches; "
            f"{right / len(files):.1%} right. One file read and prepared: {read_ms:.2f} ms (median, one process)",
            extra={"read_ms": read_ms},
        )
    ]


def _tree(pid: int) -> dict[int, tuple[float, float]]:
    """{pid: (Pss, VmHWM)} in MB for a process and all its descendants.

    Pss shares each page among the processes mapping it, so the sum over forked
    workers is the memory the command really holds."""
    found, stack = {}, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as fh:
                hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
            with open(f"/proc/{p}/smaps_rollup", encoding="ascii") as fh:
                pss = next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
            found[p] = (pss / 1024.0, hwm / 1024.0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError, StopIteration):
            continue
    return found


@dataclass
class Measured:
    code: int
    seconds: float  # wall clock, from before the fork to the child reaped
    cpu_seconds: float  # user + system of the child and of the workers it reaped
    peak_one_mb: float  # the largest single process's VmHWM
    peak_tree_mb: float  # the most Pss the whole process tree held at once
    stdout: str


def run_measured(cmd: list[str], env: dict | None = None, sample_memory: bool = False) -> Measured:
    """Run a command; with ``sample_memory``, read its memory from /proc every 20 ms.

    Sampling slows the command (reading smaps_rollup takes each process's memory-map
    lock: +15-25 % on ``predict``), so timed runs leave it off. Peaks come from /proc,
    not from ``wait4``'s ru_maxrss: Linux counts in that the memory of this (large)
    benchmark process, forked before the exec.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        peak_tree, peak_one = [0.0], {}
        done = threading.Event()

        def sample():
            while not done.wait(0.02):
                tree = _tree(proc.pid)
                peak_tree[0] = max(peak_tree[0], sum(pss for pss, _ in tree.values()))
                for p, (_, hwm) in tree.items():
                    peak_one[p] = max(peak_one.get(p, 0.0), hwm)  # VmHWM: the kernel's own peak

        sampler = threading.Thread(target=sample, daemon=True)
        if sample_memory:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        if sample_memory:
            sampler.join()
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.stderr.write(errors[-2000:])
    return Measured(
        proc.returncode,
        seconds,
        usage.ru_utime + usage.ru_stime,
        max(peak_one.values(), default=float("nan")),
        peak_tree[0],
        text,
    )


def bench_predict_cli(n: int, runs: int, folder: Path) -> list[Row]:
    """``lenet-gui predict --json`` as a user runs it: start-up included."""
    files = [str(p) for p in sorted(folder.glob("*.strokes.json"))[:n]]
    script = Path(sys.executable).with_name("lenet-gui")  # the installed command, as a user runs it
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "lenet_gui"]
    cmd = [*launcher, "predict", "--json", *files]
    got, memory = [], []
    for i in range(runs + 2):
        # Alternate: timed runs alone, memory runs sampled (every third run).
        sampled = i % 3 == 2
        m = run_measured(cmd, sample_memory=sampled)
        if m.code != 0:
            raise RuntimeError(f"lenet-gui predict exited with {m.code}")
        (memory if sampled else got).append(m)
    lines = [json.loads(line) for line in got[-1].stdout.splitlines()]
    right = sum(r["digit"] == int(Path(r["file"]).name.split("_")[1][0]) for r in lines)
    rates = [len(files) / m.seconds for m in got]
    cpu_ms = float(np.median([m.cpu_seconds for m in got])) / len(files) * 1e3
    cores = len(os.sched_getaffinity(0))
    return [
        Row(
            f"lenet-gui predict --json, {len(files)} drawings",
            "drawings/s",
            rates,
            target=f"≥ {PREDICT_TARGET:.0f}/s",
            status=judge(float(np.median(rates)) >= PREDICT_TARGET),
            higher_is_better=True,
            note=f"whole command in a subprocess, start-up included; {len(lines)} lines, {right / max(1, len(lines)):.1%} right; "
            f"{cpu_ms:.2f} ms of CPU per drawing (all processes), so at best {cores / cpu_ms * 1e3:,.0f}/s "
            f"on {cores} idle cores",
            extra={"cpu_ms_per_drawing": cpu_ms},
        ),
        Row(
            "lenet-gui predict, peak memory (Pss of all its processes)",
            "MB",
            [m.peak_tree_mb for m in memory],
            target=f"≤ {MEMORY_TARGET_MB:.0f} MB",
            status=judge(max(m.peak_tree_mb for m in memory) <= MEMORY_TARGET_MB),
            note="Pss summed over the command and its preprocessing workers, shared pages counted once (judged), "
            f"sampled every 20 ms in separate runs; the largest single process peaked at "
            f"{max(m.peak_one_mb for m in memory):.0f} MB (VmHWM)",
        ),
    ]


def python_startup(runs: int) -> list[float]:
    """Seconds for ``python -c pass``: the floor under every subprocess timing."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        out.append(time.perf_counter() - t0)
    return out


def run(quick: bool) -> list[Row]:
    rows = []
    rows += bench_preprocess(300 if quick else 2000)
    rows += bench_inference(500 if quick else 5000)
    n = 3000
    with tempfile.TemporaryDirectory(prefix="lenet-bench-") as tmp:
        folder = Path(tmp)
        workload.write_drawing_files(folder, n)
        rows += bench_predict_in_process(n, 1 if quick else 3, folder)
        rows += bench_predict_cli(n, 1 if quick else 5, folder)
    from benchmarks import bench_explain

    rows += bench_explain.run(quick)
    startup = python_startup(3 if quick else 10)
    rows.append(Row("python -c pass (interpreter start, for reference)", "ms", ms(startup), status=INFO))
    return rows
