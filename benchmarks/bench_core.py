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

# Targets, as ratios to one plain onnxruntime inference measured in the same run (issue 10).
PREPROCESS_RATIO_TARGET = 3.0
INFERENCE_RATIO_TARGET = 1.3
PREDICT_CLI_RATIO_TARGET = 6.0  # per drawing, start-up included
PREDICT_IN_PROCESS_RATIO_TARGET = 3.0
MEMORY_TARGET_MB = 200.0

# The plain inference of this run, in µs (median): set by bench_inference, read by the rows after it.
BASELINE: dict[str, float] = {}


def _plain_session():
    import onnxruntime as ort

    from lenet_gui.core.runtime import default_model_path

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    plain = ort.InferenceSession(str(default_model_path()), opts, providers=["CPUExecutionProvider"])
    x = np.zeros((1, 1, 32, 32), np.float32)
    name = plain.get_inputs()[0].name
    return lambda: plain.run(["logits"], {name: x})


def baseline_us(reps: int = 3000) -> float:
    """The plain inference's median in µs: this run's, or measured now (``--only ui``)."""
    if "plain_us" not in BASELINE:
        BASELINE["plain_us"] = float(np.median(us(measure(_plain_session(), reps))))
    return BASELINE["plain_us"]


def bench_preprocess(reps: int) -> list[Row]:
    """prepare_drawing (the shipped OpenCV renderer) in turns with a plain inference, then
    every candidate renderer the same way, with its difference from the numpy renderer's
    fields (``tests/data/reference-fields.npz``) and whether the model reads the same digits."""
    from benchmarks import renderers
    from lenet_gui.core import preprocess
    from lenet_gui.core.runtime import LightSession

    pool = [d for _, d in workload.drawings(min(reps, 500))]
    points = np.mean([d.point_count() for d in pool])
    plain = _plain_session()
    it = iter(range(1 << 30))
    got = measure_interleaved({"plain": plain, "prep": lambda: preprocess.prepare_drawing(pool[next(it) % len(pool)])},
                              reps)
    base = float(np.median(got["plain"]))
    ratio = float(np.median(got["prep"])) / base
    rows = [
        Row(
            "preprocess one drawing (prepare_drawing, OpenCV)",
            "µs",
            us(got["prep"]),
            target=f"≤ {PREPROCESS_RATIO_TARGET:g}× plain",
            status=judge(ratio <= PREPROCESS_RATIO_TARGET),
            note=f"{len(pool)} pen digits, {points:.0f} points each on average; {ratio:.2f}× a plain inference "
            f"measured in turns with it ({base * 1e6:.1f} µs)",
            extra={"ratio_median": ratio},
        )
    ]
    # The candidates: strokes → field only (render_strokes), in turns with a plain inference.
    cases = renderers.reference_cases()
    session = LightSession(threads=1)
    reference_digits = session.predict_batch(np.stack([preprocess.prepare_field(f).tensor[0] for _, f in cases])).argmax(1)
    found, skipped = renderers.available()
    few = max(50, reps // 10)
    for name, draw in found.items():
        it2 = iter(range(1 << 30))
        timed = measure_interleaved(
            {"plain": plain, "render": lambda: renderers.render_with(draw, pool[next(it2) % len(pool)].strokes)}, few,
            warmup=5,
        )
        r = float(np.median(timed["render"])) / float(np.median(timed["plain"]))
        mean, worst_mean, worst_pixel = renderers.fidelity(draw, cases)
        fields = [renderers.render_with(draw, strokes) for strokes, _ in cases]
        digits = session.predict_batch(np.stack([preprocess.prepare_field(f).tensor[0] for f in fields])).argmax(1)
        same = float((digits == reference_digits).mean())
        rows.append(
            Row(
                f"render strokes: {name}",
                "µs",
                us(timed["render"]),
                note=f"{r:.2f}× plain; vs the numpy renderer's fields: mean |Δ| {mean:.4f} (worst drawing "
                f"{worst_mean:.4f}), worst pixel {worst_pixel:.2f}; same digit on {same:.1%} of {len(cases)}",
                extra={"ratio_median": r, "mean": mean, "worst_pixel": worst_pixel, "same_digit": same},
            )
        )
    for name, why in skipped.items():
        print(f"renderer skipped: {name}: {why}", file=sys.stderr)
        rows.append(Row(f"render strokes: {name}", "µs", [], note=f"skipped: {why}"))
    return rows


def _torch_lenet(model_path: Path):
    """LeNet-5 in PyTorch eager mode with the shipped weights, or None without torch."""
    try:
        import onnx
        import torch
        from onnx import numpy_helper

        from lenet_gui.train.model import LeNet5
    except ImportError as exc:
        print(f"PyTorch row skipped: {exc} (pip install -e '.[train]' adds torch)", file=sys.stderr)
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
        # What a user would write: a forward hook on every layer keeps its output.
        captured = {}
        for name, module in net.named_children():
            module.register_forward_hook(lambda _m, _i, out, name=name: captured.__setitem__(name, out))

        def torch_run():
            with torch.no_grad():
                net(tx)
            return captured

    got = measure_interleaved(fns, reps)
    if torch_net is not None:
        # Apart, after the onnxruntime calls: taken in turns with them, PyTorch slowed whichever
        # call came after it by up to 2× (its thread pool and caches).
        got["torch"] = measure(torch_run, max(500, reps // 5))
    base_med = float(np.median(got["plain"]))
    BASELINE["plain_us"] = base_med * 1e6
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
            status=judge(app_med <= INFERENCE_RATIO_TARGET),
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
                "inference, PyTorch eager with hooks, every activation",
                "µs",
                us(got["torch"]),
                note=f"torch {torch_net[1].__version__}, 1 thread, no_grad, a forward hook on every layer, measured "
                f"after the onnxruntime calls (in turns it slowed them): "
                f"{t_med:.2f}× plain (p95 {t_p95:.2f}×)",
                extra={"ratio_median": t_med, "ratio_p95": t_p95},
            )
        )
    return rows


def bench_predict_in_process(n: int, runs: int, folder: Path) -> list[Row]:
    """predict_files with a ready light session (no start-up), per drawing, as a ratio to
    one plain inference; and one file read and prepared in one process."""
    from lenet_gui.core import batch
    from lenet_gui.core.runtime import LightSession

    files = sorted(folder.glob("*.strokes.json"))[:n]
    session = LightSession()
    per_drawing = []
    for _ in range(runs):
        t0 = time.perf_counter()
        results = list(batch.predict_files(session, files))
        per_drawing.append((time.perf_counter() - t0) / len(files) * 1e6)
    right = sum(r.digit == int(Path(r.file).name.split("_")[1][0]) for r in results)
    names = [str(f) for f in files[:500]]
    one = []
    for name in names:
        t0 = time.perf_counter()
        batch.prepare_file(name, session.spec)
        one.append(time.perf_counter() - t0)
    read_us = float(np.median(one)) * 1e6
    ratio = float(np.median(per_drawing)) / baseline_us()
    cores = len(os.sched_getaffinity(0))
    return [
        Row(
            f"predict_files over {len(files)} drawings, in process, per drawing",
            "µs",
            per_drawing,
            target=f"≤ {PREDICT_IN_PROCESS_RATIO_TARGET:g}× plain",
            status=judge(ratio <= PREDICT_IN_PROCESS_RATIO_TARGET),
            note=f"{ratio:.2f}× plain; light session ready; this process and {min(cores, 4) - 1} forked worker(s) "
            f"each read, prepare and predict a share in batches; {right / len(files):.1%} right. One file read "
            f"and prepared: {read_us:.0f} µs (median, one process)",
            extra={"ratio_median": ratio, "read_us": read_us},
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
    per_drawing = [m.seconds / len(files) * 1e6 for m in got]
    ratio = float(np.median(per_drawing)) / baseline_us()
    cpu_us = float(np.median([m.cpu_seconds for m in got])) / len(files) * 1e6
    tree = max(m.peak_tree_mb for m in memory)
    single = max(m.peak_one_mb for m in memory)
    return [
        Row(
            f"lenet-gui predict --json, {len(files)} drawings, per drawing",
            "µs",
            per_drawing,
            target=f"≤ {PREDICT_CLI_RATIO_TARGET:g}× plain",
            status=judge(ratio <= PREDICT_CLI_RATIO_TARGET),
            note=f"{ratio:.2f}× plain; whole command in a subprocess, start-up included "
            f"({len(files) / (np.median(per_drawing) * len(files) / 1e6):,.0f} drawings/s); {len(lines)} lines, "
            f"{right / max(1, len(lines)):.1%} right; {cpu_us:.0f} µs of CPU per drawing (all processes)",
            extra={"ratio_median": ratio, "cpu_us_per_drawing": cpu_us},
        ),
        Row(
            "lenet-gui predict, peak memory: Pss of all its processes",
            "MB",
            [m.peak_tree_mb for m in memory],
            target=f"≤ {MEMORY_TARGET_MB:.0f} MB",
            status=judge(tree <= MEMORY_TARGET_MB),
            note="Pss summed over the command and its workers, shared pages counted once, sampled every 20 ms "
            "in separate runs",
        ),
        Row(
            "lenet-gui predict, peak memory: largest single process",
            "MB",
            [m.peak_one_mb for m in memory],
            target=f"≤ {MEMORY_TARGET_MB:.0f} MB",
            status=judge(single <= MEMORY_TARGET_MB),
            note="VmHWM, the kernel's own peak, of the command and of each worker",
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
