"""Running a model with onnxruntime: provider choice, predictions, every activation.

``ModelSession`` loads any ONNX image classifier with one image input (N×C×H×W
or N×H×W×C) and a float class output. What the input wants (size, layout,
normalisation, polarity, labels) comes from the graph and ``metadata_props``;
models without metadata get the documented defaults of ``spec_from_model``.

Every intermediate result that depends on the image is made a graph output, so
one run returns the prediction and all activations, keyed by tensor name. That
stops onnxruntime fusing layers (a Conv's output is wanted on its own) and keeps
every intermediate alive, so a large model's run costs two to three times the
plain one. ``run(outputs=())``, for the class scores alone, uses a second
session over the file's own graph when the full run is slower than
``SCORES_SESSION_ABOVE_S``: it costs about twice the weights in memory
(ResNet-18: 90 MB), worth it only where the prediction would otherwise come fewer than ten times a second.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from lenet_gui.core import budget, memory, model_check, ops, preprocess, safe_run
from lenet_gui.core.drawing import Drawing
from lenet_gui.core.errors import ModelError, ProviderError
from lenet_gui.core.graph import topological_order
from lenet_gui.core.onnx_io import default_model_path, load_model
from lenet_gui.core.preprocess import InputSpec
from lenet_gui.core.runtime import spec_from_meta
from lenet_gui.core.weight_file import WeightFile, inferred_types

PROVIDERS = ("auto", "cpu", "cuda")
ORT_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
DISPLAY_NAMES = {"CPUExecutionProvider": "CPU", "CUDAExecutionProvider": "CUDA"}
# Ops whose outputs are bookkeeping, not activations worth drawing.
NOT_ACTIVATIONS = ops.not_activations()  # Constant, Shape, Size, ConstantOfShape, Range

# The most activation memory one batched run may take (see predict_batch).
BATCH_BYTES = 64 * 2**20
# A full run slower than this: class-scores-only runs get a session of their own (see above).
SCORES_SESSION_ABOVE_S = 0.1
# Above this much activation memory per run, onnxruntime's CPU arena is off: the arena keeps
# the largest run's buffers for the session's life (ResNet-18: 50 MB beyond the result the
# window holds), and a model this large spends its time in the kernels, not in malloc. The
# window gives the freed pages back after each full result (MainWindow._show_result).
ARENA_UP_TO_BYTES = 8 * 2**20

ort.set_default_logger_severity(4)  # onnxruntime's own log is not for end users; failures become messages


@dataclass
class ProviderInfo:
    key: str  # "cpu" | "cuda"
    available: bool
    reason: str = ""  # why not, when it is not


def provider_info() -> dict[str, ProviderInfo]:
    """Which providers this onnxruntime build offers, and why one is missing."""
    offered = set(ort.get_available_providers())
    cuda = ProviderInfo("cuda", ORT_NAMES["cuda"] in offered)
    if not cuda.available:
        cuda.reason = (
            "this onnxruntime has no CUDA provider; install onnxruntime-gpu instead of "
            "onnxruntime (see the README) on a machine with an NVIDIA GPU"
        )
    return {"cpu": ProviderInfo("cpu", True), "cuda": cuda}


@dataclass
class Result:
    """One image through the network."""

    digit: int  # index of the most probable class
    label: str  # its label (the digit itself for LeNet-5)
    probabilities: np.ndarray  # (classes,) summing to 1
    logits: np.ndarray
    activations: dict[str, np.ndarray]  # tensor name → array without the batch axis
    seconds: float  # time in onnxruntime
    prepared: preprocess.Prepared | None = None
    # Only some activations were fetched (``run(outputs=...)``): views of the others keep what they show.
    partial: bool = False

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _dims(value_info) -> list:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in shape.dim]


def spec_from_model(model: onnx.ModelProto, image_input) -> InputSpec:
    """The input spec from the graph and metadata.

    Defaults, for models without metadata: values 0..1 (ink 1, background 0), no
    normalisation (mean 0, std 1), white digit on black, the MNIST 20/28 geometry.
    Channels-last is assumed when the last axis has 1, 3 or 4 entries and the
    second does not. Height and width that the graph leaves open default to
    ``input_size`` from the metadata, else 28×28.
    """
    meta = {p.key: p.value for p in model.metadata_props}
    return spec_from_meta(meta, _dims(image_input), _model_label(model))


def _model_label(model) -> str:
    return model.graph.name or "the model"


class ModelSession:
    """An onnxruntime session over one model, with its input spec and labels."""

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        provider: str = "auto",
        spec_overrides: dict | None = None,
        threads: int | None = 1,
        memory_limit: int | None = None,
        timeout: float | None = safe_run.DEFAULT_TIMEOUT_S,
    ) -> None:
        self.path = Path(path) if path is not None else default_model_path()
        if provider not in PROVIDERS:
            raise ProviderError(f"Unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
        self.provider_requested = provider
        # An untrusted file: sizes, metadata and memory are checked before onnxruntime sees it.
        self.memory_limit = memory_limit or budget.DEFAULT_LIMIT
        self.timeout = timeout
        self._timed = True  # see run()
        self._class_session = None  # see _scores_session()
        self._class_session_thread: threading.Thread | None = None
        self._class_session_ready = threading.Event()
        self._full_seconds = 0.0  # of the last full run
        self._class_session_lock = threading.Lock()
        external: dict = {}
        self.model = load_model(self.path, max_bytes=self.memory_limit, external=external)
        self.meta = {p.key: p.value for p in self.model.metadata_props}
        model_check.check_metadata(self.meta, self.path.name)
        self._find_io()
        model_check.check_overrides(spec_overrides or {})
        self.spec = spec_from_model(self.model, self.image_input).with_overrides(**(spec_overrides or {}))
        inferred = inferred_types(self.model)  # once: the footprint and the activations both need it
        self.footprint = budget.footprint(self.model, self.image_input.name, self.spec.tensor_shape(self.spec.batch or 1),
                                          inferred)
        budget.check(self.footprint, self.memory_limit, self.path.name)
        model_check.check_spec(self.spec, self.path.name)
        self._own_outputs = len(self.model.graph.output)  # the file's own; the rest are added below
        self.activation_names = self._expose_activations(inferred)
        self.warning: str | None = None
        self.session = self._create_session(provider, threads)
        # onnxruntime has its own copy now: ``model`` goes back to the file's own graph, the one the
        # window analyses, explains and takes kernels from (no second copy of the weights for that).
        del self.model.graph.output[self._own_outputs:]
        # ... and its large weights stay in the file until a kernel view or an explanation asks.
        self.model, self.weights = WeightFile.offload(self.model, self.path, external)
        self._find_io()  # the inputs and outputs of the new, smaller model: the old one goes
        self.labels = self._labels()
        memory.release_free_memory()  # the serialised copies and the analysis' temporaries

    # --- graph --------------------------------------------------------------------
    def _find_io(self) -> None:
        graph = self.model.graph
        initialisers = {t.name for t in graph.initializer}
        inputs = [i for i in graph.input if i.name not in initialisers]
        images = [i for i in inputs if len(i.type.tensor_type.shape.dim) == 4]
        name = self.path.name
        if len(inputs) != 1 or not images:
            shapes = ", ".join(f"{i.name} {_dims(i)}" for i in inputs) or "none"
            raise ModelError(
                f"{name} is not an image classifier: it needs one image input of shape N×C×H×W or N×H×W×C "
                f"(its inputs: {shapes})"
            )
        self.image_input = images[0]
        if self.image_input.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise ModelError(f"{name}: the image input must be float32")
        preferred = self.meta.get("logits_output")
        outputs = [o for o in graph.output if o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT]
        classes = [o for o in outputs if len(o.type.tensor_type.shape.dim) == 2]
        chosen = [o for o in classes if o.name == preferred] or classes
        if not chosen:
            raise ModelError(
                f"{name} is not an image classifier: it has no float output of shape N×classes "
                f"(its outputs: {', '.join(f'{o.name} {_dims(o)}' for o in graph.output)})"
            )
        self.class_output = chosen[0]
        producer = {o: n for n in graph.node for o in n.output}.get(self.class_output.name)
        self.outputs_are_probabilities = producer is not None and producer.op_type == "Softmax"

    def _expose_activations(self, inferred: dict[str, int]) -> list[str]:
        """Make every image-dependent float tensor a graph output; returns their names in order.

        ``inferred``: element types by tensor name (``weight_file.inferred_types``)."""
        graph = self.model.graph
        types = dict(inferred)
        for o in graph.output:
            types[o.name] = o.type.tensor_type.elem_type
        depends = {self.image_input.name}
        existing = {o.name for o in graph.output}
        names = []
        for node in topological_order(graph):
            if not any(i in depends for i in node.input):
                continue
            depends.update(node.output)
            if node.op_type in NOT_ACTIVATIONS:
                continue
            for out in node.output[:1]:
                if not out or types.get(out, onnx.TensorProto.FLOAT) != onnx.TensorProto.FLOAT:
                    continue
                names.append(out)
                if out not in existing:
                    graph.output.append(onnx.helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None))
                    existing.add(out)
        return names

    def _labels(self) -> list[str]:
        classes = self.session.get_outputs()[self._class_index].shape[1]
        classes = classes if isinstance(classes, int) else None
        model_check.check_classes(classes, self.path.name)
        labels = model_check.parse_labels(self.meta.get("class_labels"), classes, self.path.name)
        return labels or [str(i) for i in range(classes or 10)]

    # --- session ------------------------------------------------------------------
    def _create_session(self, provider: str, threads: int | None) -> ort.InferenceSession:
        info = provider_info()
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4
        if self.large_runs:
            opts.enable_cpu_mem_arena = False
        wanted = ["cuda", "cpu"] if provider in ("auto", "cuda") else ["cpu"]
        if provider == "cuda" and not info["cuda"].available:
            self.warning = f"CUDA is not available ({info['cuda'].reason}); running on the CPU"
        if provider == "auto" and not info["cuda"].available:
            wanted = ["cpu"]
        payload = self.model.SerializeToString()
        self._options = opts
        try:
            session = self._open(payload, opts, [ORT_NAMES[p] for p in wanted if info[p].available])
        except ModelError:
            raise
        except Exception as exc:  # a CUDA provider that fails to start: fall back
            if "cuda" not in wanted:
                raise ModelError(f"{self.path.name}: onnxruntime cannot run this model "
                                 f"({safe_run.describe_failure(exc)})") from None
            self.warning = f"CUDA could not start ({_first_line(exc)}); running on the CPU"
            try:
                session = self._open(payload, opts, [ORT_NAMES["cpu"]])
            except ModelError:
                raise
            except Exception as exc2:
                raise ModelError(f"{self.path.name}: onnxruntime cannot run this model ({_first_line(exc2)})") from exc2
        if provider == "cuda" and ORT_NAMES["cuda"] not in session.get_providers() and self.warning is None:
            self.warning = "CUDA could not be used for this model; running on the CPU"
        names = [o.name for o in session.get_outputs()]
        self._class_index = names.index(self.class_output.name)
        self._input_name = session.get_inputs()[0].name
        # Worked out once: run() is on the per-frame path while the pen moves.
        self._output_names = names
        self._activation_slots = [(n, names.index(n)) for n in self.activation_names if n in names]
        return session

    def _open(self, payload: bytes, opts, providers: list[str]):
        """In this process when every size is known; else in a memory-limited worker."""
        if self.footprint.runtime_sized:
            # On the CPU: CUDA reserves more address space than the worker's limit allows.
            return safe_run.WorkerSession(payload, [ORT_NAMES["cpu"]], opts.intra_op_num_threads, self.memory_limit,
                                          self.path.name)
        session = ort.InferenceSession(payload, opts, providers=providers)
        if session.get_providers() == [ORT_NAMES["cpu"]]:
            # onnxruntime's Python class keeps the serialised model (the weights again) only to
            # re-create a CUDA session on the CPU after a failed run; a CPU session never does.
            session._model_bytes = None
        return session

    @property
    def large_runs(self) -> bool:
        """A run's activations are large (over ARENA_UP_TO_BYTES): memory is given back after each."""
        return self.footprint.per_image > ARENA_UP_TO_BYTES

    @property
    def provider(self) -> str:
        """The provider actually running: "CUDA" or "CPU"."""
        return DISPLAY_NAMES.get(self.session.get_providers()[0], self.session.get_providers()[0])

    # --- running ------------------------------------------------------------------
    def _fit_batch(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """Models exported with a fixed batch size get exactly that many images."""
        fixed = self.spec.batch
        n = len(x)
        if fixed is None or fixed == n:
            return x, n
        if n < fixed:
            return np.concatenate([x, np.repeat(x[-1:], fixed - n, axis=0)]), n
        raise ValueError("batch larger than the model's fixed batch size")

    def run(self, tensor: np.ndarray, prepared: preprocess.Prepared | None = None, run_options=None,
            outputs=None) -> Result:
        """One image (a 1-item batch) → prediction, probabilities and every activation.

        ``outputs`` (tensor names) fetches only those activations besides the class scores; ``()``
        fetches the class scores alone, which for a large model costs a fraction of the whole run
        (onnxruntime frees each intermediate as soon as its consumers are done). ``run_options``
        (onnxruntime's RunOptions) lets another thread stop the run."""
        x = tensor
        if type(x) is not np.ndarray or x.dtype != np.float32 or (self.spec.batch or 1) != len(x):
            x, _ = self._fit_batch(np.asarray(tensor, dtype=np.float32))
        session = self.session
        if outputs is None:
            names, class_index, slots = self._output_names, self._class_index, self._activation_slots
        else:
            names, slots = self._fetch_plan(outputs)
            class_index = 0
            if not slots and self._full_seconds > SCORES_SESSION_ABOVE_S:
                session = self._scores_session()
        started = time.perf_counter()
        timeout = self.timeout if self._timed else None
        values = safe_run.run(session, names, {self._input_name: x}, timeout, self.path.name, run_options)
        seconds = time.perf_counter() - started
        if outputs is None:
            self._full_seconds = seconds
        # Fixed shapes and no control flow: every input costs the same, so a model far within its
        # time limit once stays within it, and the per-frame path skips the watchdog from then on.
        if timeout and not self.footprint.runtime_sized and seconds < timeout / 100:
            self._timed = False
        logits = values[class_index][0]
        probs, digit = self._probabilities(logits)
        problem = safe_run.nonfinite_message(probs)
        if problem:
            raise ModelError(f"{self.path.name}: {problem}")
        if outputs is None and self._slots_checked is False:  # once: drop outputs without a batch axis
            slots = self._activation_slots = [(n, i) for n, i in slots if values[i].ndim >= 1]
            self._slots_checked = True
        # Views of the batch's first item: no copies (each run returns new arrays).
        if outputs is None:
            activations = {name: values[i][0] for name, i in slots}
        else:
            activations = {name: values[i][0] for name, i in slots if values[i].ndim >= 1}
        return Result(digit, self.labels[digit], probs, logits, activations, seconds, prepared,
                      partial=outputs is not None)

    def _scores_session(self, wait: bool = False):
        """A session over the file's own graph (no activations exposed): the class scores at full speed.

        Opened on a thread of its own, by ``prepare_class_scores`` (the window, once a model is open)
        or on the first class-scores run: building it takes the GIL for a while (DenseNet-121:
        50 ms), which in the first pen stroke held the window up. Until it is ready, and should
        it fail to open, the full session answers. ``wait``: block until it is ready (tests)."""
        self._start_scores_session()
        if wait:
            self._class_session_ready.wait()
        return self._class_session or self.session

    def prepare_class_scores(self) -> bool:
        """Start opening the class-scores session now if the last full run says it will be wanted."""
        if self._full_seconds > SCORES_SESSION_ABOVE_S:
            self._start_scores_session()
            return True
        return False

    def _start_scores_session(self) -> None:
        with self._class_session_lock:
            if self._class_session_thread is not None:
                return
            self._class_session_thread = threading.Thread(target=self._open_scores_session, daemon=True,
                                                          name="scores-session")
        self._class_session_thread.start()

    def _open_scores_session(self) -> None:
        try:
            # The file's own graph (see __init__), with the weights left in the file put back.
            payload = self.weights.restored(self.model).SerializeToString()
            self._class_session = self._open(payload, self._options, self.session.get_providers())
        except Exception:  # the full session can do it, only slower
            self._class_session = self.session
        finally:
            self._class_session_ready.set()

    def _fetch_plan(self, outputs) -> tuple[list[str], list[tuple[str, int]]]:
        """The class scores and the wanted activations, in that order, and each activation's place."""
        wanted = set(outputs)
        names = [self.class_output.name]
        names += [n for n, _ in self._activation_slots if n in wanted and n != names[0]]
        return names, [(n, i) for i, n in enumerate(names) if n in wanted]

    _slots_checked = False

    def _probabilities(self, logits: np.ndarray) -> tuple[np.ndarray, int]:
        # Ten numbers: plain Python beats numpy's per-call overhead several times over.
        values = logits.tolist()
        if self.outputs_are_probabilities:
            weights = values
        else:
            top = max(values)
            weights = [math.exp(v - top) for v in values]
        total = sum(weights) or 1.0
        probs = [w / total for w in weights]
        return np.array(probs, dtype=np.float32), probs.index(max(probs))

    def predict_batch(self, tensors: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """Many images → probabilities (N × classes); only the class output is fetched."""
        out_name = self.class_output.name
        fixed = self.spec.batch
        # At most BATCH_BYTES of activations a run: onnxruntime's arena keeps its largest run's memory
        # for the session's life (ResNet-18 at 45 images a run: 1 GB resident for good).
        step = fixed or min(budget.max_batch(self.footprint, self.memory_limit, chunk),
                            max(1, BATCH_BYTES // max(1, self.footprint.per_image)))
        results = []
        for i in range(0, len(tensors), step):
            x, n = self._fit_batch(np.ascontiguousarray(tensors[i : i + step], dtype=np.float32))
            timeout = self.timeout * n if self.timeout else None  # the limit is per image
            options = None
            if n > 1 and self.footprint.per_image * n > BATCH_BYTES // 4 and not isinstance(self.session, safe_run.WorkerSession):
                # A batch far larger than one image's run: the arena gives its extra memory back afterwards.
                options = ort.RunOptions()
                options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
            logits = safe_run.run(self.session, [out_name], {self._input_name: x}, timeout, self.path.name,
                                  options)[0][:n]
            results.append(logits)
        if step > 1 and self.footprint.per_image * step > BATCH_BYTES // 4:
            memory.release_free_memory()
        logits = np.concatenate(results) if results else np.zeros((0, len(self.labels)), np.float32)
        with np.errstate(all="ignore"):  # NaN rows are reported per file by the caller
            if self.outputs_are_probabilities:
                return logits / logits.sum(axis=1, keepdims=True)
            return softmax(logits, axis=1)

    def predict_drawing(self, drawing: Drawing) -> Result | None:
        prepared = preprocess.prepare_drawing(drawing, self.spec)
        return None if prepared is None else self.run(prepared.tensor, prepared)

    def predict_image(self, path) -> Result | None:
        prepared = preprocess.prepare_image(path, self.spec)
        return None if prepared is None else self.run(prepared.tensor, prepared)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0]
    return text[:160] if text else type(exc).__name__
