"""Running an untrusted model: bounded in time and memory, every failure one sentence.

- ``describe_failure`` turns whatever onnxruntime, numpy or onnx raised into a
  sentence naming the op and node when onnxruntime says which.
- ``run`` runs a session with a time limit (onnxruntime's terminate flag, which
  it checks between nodes and inside Loop bodies, set by one watchdog thread)
  and can be cancelled from another thread.
- ``WorkerSession`` is an onnxruntime session in a child process whose address
  space is limited to the memory budget. Models whose tensor sizes are only
  known at run time go there: a run that grows past the budget, crashes or
  hangs ends the child, never the app.
- ``nonfinite_message`` says when a result holds NaN or infinity.
"""

from __future__ import annotations

import math
import multiprocessing
import re
import threading
import time
from dataclasses import dataclass

import numpy as np

from lenet_gui.core.budget import format_size
from lenet_gui.core.errors import ModelError

DEFAULT_TIMEOUT_S = 10.0
#: Address space the worker needs beyond the budget: its interpreter and
#: onnxruntime's code, thread stacks and allocator slack.
WORKER_OVERHEAD = 768 * 1024**2
WORKER_START_TIMEOUT_S = 60.0

_RUNNING = re.compile(r"running (\w+) node\. Name:'([^']*)' Status Message: (.*)", re.S)
_NODE_OP = re.compile(r"Node \(([^)]*)\) Op \((\w+)\)\s*(.*)", re.S)
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")


class RunTimeout(ModelError):
    """A run took longer than its time limit and was stopped."""


class RunCancelled(ModelError):
    """A run was stopped on request (the window's Cancel)."""


_SOURCE_LINE = re.compile(r"^\S+\.(?:cc|cpp|h):\d+ (?:[^()]*\([^()]*\)(?: const)? )?")
_OUT_OF_MEMORY = ("Failed to allocate", "bad_alloc", "bad allocation", "exceeds the supported maximum")


def _clean(text: str) -> str:
    """onnxruntime's text without its error-code prefix, source file and C++ signature."""
    text = _ORT_PREFIX.sub("", text.strip())
    text = text.split("\n")[0].strip()
    text = _SOURCE_LINE.sub("", text).strip()
    if any(marker in text for marker in _OUT_OF_MEMORY):
        return "it needs more memory than the limit allows"
    return text[:200] + ("…" if len(text) > 200 else "")


def describe_failure(exc: BaseException) -> str:
    """What failed, for people: ``node 'mm' (MatMul): Incompatible dimensions …``."""
    if isinstance(exc, MemoryError):
        return "there is not enough memory for it"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply to read"
    text = str(exc)
    match = _RUNNING.search(text)
    if match:
        op, node, why = match.groups()
        where = f"node '{node}' ({op})" if node else f"a {op} node"
        return f"{where} failed: {_clean(why) or 'no reason given'}"
    match = _NODE_OP.search(text)
    if match:
        node, op, why = match.groups()
        where = f"node '{node}' ({op})" if node else f"a {op} node"
        return f"{where}: {_clean(why) or 'no reason given'}"
    return _clean(text) or type(exc).__name__


def nonfinite_message(values: np.ndarray) -> str | None:
    """``"the model returned NaN for this input"`` (or infinity), None when all is finite."""
    values = np.asarray(values)
    if values.size == 0:
        return "the model returned no class scores for this input"
    if values.size <= 4096 and math.isfinite(sum(values.ravel().tolist())):
        return None  # on the per-frame path: a Python sum of ten numbers is several times faster than numpy
    with np.errstate(all="ignore"):
        if np.isnan(values).any():
            return "the model returned NaN for this input"
        if not np.isfinite(values).all():
            return "the model returned infinity for this input"
    return None


def run(session, names, feeds: dict, timeout: float | None, what: str, options=None) -> list[np.ndarray]:
    """``session.run`` within ``timeout`` seconds; any failure is a ModelError about ``what``.

    ``options``: the caller's onnxruntime RunOptions, so that it can cancel the run from
    another thread (``options.terminate = True``; a WorkerSession is cancelled by ``cancel()``).
    A cancelled run raises RunCancelled.
    """
    if isinstance(session, WorkerSession):
        return session.run(names, feeds, timeout=timeout, what=what)
    import onnxruntime as ort

    options = options if options is not None else ort.RunOptions()
    options.log_severity_level = 4  # the failure becomes our message; onnxruntime's log would repeat it
    token = _WATCHDOG.arm(options, timeout) if timeout else None
    try:  # onnxruntime raises or returns NaN; it emits no Python warnings to silence here
        return session.run(names, feeds, options)
    except Exception as exc:
        if options.terminate and token is not None and _WATCHDOG.expired(token):
            raise RunTimeout(_timeout_message(what, timeout)) from None
        if options.terminate:
            raise RunCancelled(f"{what}: the run was cancelled") from None
        raise ModelError(f"{what} failed to run: {describe_failure(exc)}") from None
    finally:
        if token is not None:
            _WATCHDOG.disarm(token)


class _Watchdog:
    """One thread that sets the terminate flag of runs past their deadline.

    A threading.Timer per run would start a thread each time: ~200 µs, more than
    a LeNet-5 inference; arming this one costs a lock and a notify.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._runs: dict[int, tuple[float, object]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None
        self._waiting_until = math.inf  # when the watcher wakes next, unless notified
        self._expired: set[int] = set()

    def arm(self, options, timeout: float) -> int:
        with self._wake:
            self._next += 1
            deadline = time.monotonic() + timeout
            self._runs[self._next] = (deadline, options)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="lenet-gui run watchdog", daemon=True)
                self._thread.start()
            if deadline < self._waiting_until:  # waking the watcher costs a thread switch: only when needed
                self._wake.notify()
            return self._next

    def disarm(self, token: int) -> None:
        with self._wake:
            self._runs.pop(token, None)
            self._expired.discard(token)

    def expired(self, token: int) -> bool:
        """Whether the watchdog, not someone else, stopped that run."""
        with self._wake:
            return token in self._expired

    def _watch(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                for token, (deadline, options) in list(self._runs.items()):
                    if deadline <= now:
                        options.terminate = True
                        del self._runs[token]
                        self._expired.add(token)
                self._waiting_until = min((deadline for deadline, _ in self._runs.values()), default=math.inf)
                self._wake.wait(None if self._waiting_until == math.inf else self._waiting_until - now)


_WATCHDOG = _Watchdog()


def _timeout_message(what: str, timeout: float) -> str:
    return f"{what} took longer than {timeout:g} s for one input and was stopped (--timeout sets the limit)"


# --- the worker process -----------------------------------------------------------


@dataclass
class _Arg:
    """What onnxruntime's NodeArg tells: enough for the session's bookkeeping."""

    name: str
    shape: list
    type: str


def _address_space() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit_memory(budget: int) -> None:
    """Cap this process's address space at what it uses now plus ``budget``."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the static checks still apply
        return
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX: glibc reserves 64 MiB per thread arena otherwise
    except Exception:
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = _address_space() + budget + WORKER_OVERHEAD
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft != resource.RLIM_INFINITY:
        wanted = min(wanted, soft)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    except (ValueError, OSError):
        pass


def _peak_kib() -> int:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except ImportError:
        return 0


def _serve(conn, payload: bytes, providers: list[str], threads: int | None, budget: int) -> None:
    """The worker's loop: build the session, then answer (names, feeds) requests."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the app, which ends us
    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    _limit_memory(budget)
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.intra_op_num_threads = threads or 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(payload, options, providers=providers)
        del payload
        describe = [[_Arg(a.name, list(a.shape), a.type) for a in args]
                    for args in (session.get_inputs(), session.get_outputs())]
        conn.send(("ready", describe[0], describe[1], session.get_providers()))
    except BaseException as exc:
        conn.send(("error", describe_failure(exc)))
        return
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            outputs = session.run(*request)
            conn.send(("ok", outputs, _peak_kib()))
        except BaseException as exc:
            try:
                conn.send(("error", describe_failure(exc), _peak_kib()))
            except BaseException:
                return


def _context():
    """Workers fork from a clean server process that has onnxruntime imported already (fast to
    start); a plain fork of the app would copy its Qt and onnxruntime threads."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["numpy", "onnxruntime", "lenet_gui.core.safe_run"])
        return context
    return multiprocessing.get_context("spawn")


class WorkerSession:
    """An onnxruntime session in a memory-limited child process, with the session's API."""

    def __init__(self, payload: bytes, providers: list[str], threads: int | None, budget: int, what: str) -> None:
        self._payload = payload
        self._providers = providers
        self._threads = threads
        self.budget = budget
        self.what = what
        self._process = None
        self._conn = None
        self._lock = threading.Lock()
        self.peak_kib = 0  # the worker's largest resident size so far, as it reports it
        self._cancelled = False
        self._start()

    def _start(self) -> None:
        context = _context()
        parent, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self._payload, self._providers, self._threads,
                                                              self.budget), daemon=True, name="lenet-gui model worker")
        self._process.start()
        child.close()
        self._conn = parent
        reply = self._receive(WORKER_START_TIMEOUT_S, starting=True)
        if reply[0] == "error":
            self.close()
            raise ModelError(f"onnxruntime cannot load {self.what}: {reply[1]}")
        _, self._inputs, self._outputs, self._active = reply

    def _receive(self, timeout: float | None, starting: bool = False):
        if not self._conn.poll(timeout):
            self.close()
            if starting:
                raise ModelError(f"onnxruntime took longer than {WORKER_START_TIMEOUT_S:g} s to load {self.what}")
            raise RunTimeout(_timeout_message(self.what, timeout))
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            self.close()
            if self._cancelled:
                raise RunCancelled(f"{self.what}: the run was cancelled") from None
            raise ModelError(
                f"{self.what} needs more memory than its limit of {format_size(self.budget)} "
                f"{'to load' if starting else 'for this input'} and was stopped (--memory-limit sets the limit)"
            ) from None

    def get_inputs(self) -> list[_Arg]:
        return self._inputs

    def get_outputs(self) -> list[_Arg]:
        return self._outputs

    def get_providers(self) -> list[str]:
        return self._active

    def run(self, names, feeds: dict, timeout: float | None = None, what: str | None = None, _options=None):
        what = what or self.what
        with self._lock:
            self._cancelled = False
            if self._process is None:  # stopped after a timeout or a crash: a fresh worker
                self._start()
            try:
                self._conn.send((names, feeds))
            except (OSError, ValueError):
                self.close()
                raise ModelError(f"{what} could not be run: its worker process has stopped") from None
            reply = self._receive(timeout)
        self.peak_kib = max(self.peak_kib, reply[2])
        if reply[0] == "error":
            raise ModelError(f"{what} failed to run: {reply[1]}")
        return reply[1]

    def cancel(self) -> None:
        """Stop a run in progress (from another thread): the worker ends; the next run starts another."""
        process = self._process
        if process is not None and process.is_alive():
            self._cancelled = True
            process.kill()

    def close(self) -> None:
        process, self._process = self._process, None
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
