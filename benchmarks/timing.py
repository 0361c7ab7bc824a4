"""Timing helpers and the result row every benchmark reports."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

PASS, MISS, INFO = "PASS", "MISS", "—"


@dataclass
class Row:
    """One line of the results table.

    ``samples`` are in ``unit``. For throughput rows the samples are drawings/s,
    so their "p95" is the slow end: the 5th percentile of throughput (see
    ``higher_is_better``).
    """

    name: str
    unit: str
    samples: list[float]
    target: str = ""
    status: str = INFO
    note: str = ""
    higher_is_better: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def reps(self) -> int:
        return len(self.samples)

    def pct(self, q: float) -> float:
        """The q-th percentile, counted from the good end (p95 = the bad tail)."""
        if not self.samples:
            return float("nan")
        q = 100 - q if self.higher_is_better else q
        return float(np.percentile(self.samples, q))

    @property
    def median(self) -> float:
        return self.pct(50)

    @property
    def p95(self) -> float:
        return self.pct(95)


def judge(ok: bool) -> str:
    return PASS if ok else MISS


def measure(fn: Callable[[], object], reps: int, warmup: int = 20) -> list[float]:
    """Seconds per call of ``fn``, one sample per call."""
    for _ in range(warmup):
        fn()
    gc.collect()
    out = []
    clock = time.perf_counter
    for _ in range(reps):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def measure_interleaved(fns: dict[str, Callable[[], object]], reps: int, warmup: int = 50) -> dict[str, list[float]]:
    """Seconds per call of each function, taken in turn so that noise from other
    processes on a shared machine hits them all alike (ratios stay fair)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    gc.collect()
    out: dict[str, list[float]] = {name: [] for name in fns}
    items = list(fns.items())
    clock = time.perf_counter
    for i in range(reps):
        # Rotate the order too: the first call after another one's caches is not always the same one.
        for name, fn in items[i % len(items):] + items[: i % len(items)]:
            t0 = clock()
            fn()
            out[name].append(clock() - t0)
    return out


def ms(seconds: list[float]) -> list[float]:
    return [s * 1e3 for s in seconds]


def us(seconds: list[float]) -> list[float]:
    return [s * 1e6 for s in seconds]


def rss_mb(pid: int | str = "self", key: str = "VmRSS") -> float:
    """Resident memory from /proc (VmRSS now, or VmHWM: the peak), in MB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"{one:.2f} {five:.2f} {fifteen:.2f}"
    except OSError:
        return "?"


def cpu_snapshot() -> tuple[float, float, float]:
    """(busy CPU-seconds of the whole machine, elapsed CPU-seconds of all cores,
    CPU-seconds used by this process and its reaped children), from /proc/stat."""
    import resource

    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    return (sum(values) - idle) / tick, sum(values) / tick, own


def others_share(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    """The share of the machine's CPU that other processes used between two snapshots."""
    busy, total, own = (a - b for a, b in zip(after, before))
    return max(0.0, busy - own) / total if total > 0 else float("nan")


def calibration_ms() -> float:
    """A fixed pure-Python loop, best of three: how fast this machine is right now.

    Shared virtual machines change speed over the day; runs whose calibration
    differs are not comparable number for number."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        best = min(best, time.perf_counter() - t0)
    return best * 1e3
