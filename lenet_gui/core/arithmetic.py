"""Convolution arithmetic along one spatial axis, with the working shown.

Every function here takes plain integers and returns both the answer and the
hand calculation a student would write down, using ``·`` for multiplication,
``−`` for minus and ``⌊ ⌋`` / ``⌈ ⌉`` when a division does not come out even::

    >>> conv_output_size(32, 5).formula
    '(32 + 2·0 − 5)/1 + 1 = 28'

Symbols: ``n`` input size, ``k`` kernel, ``s`` stride, ``p`` padding on each
side (``pb``/``pe`` when the two sides differ), ``d`` dilation; a dilated
kernel covers ``d·(k − 1) + 1`` input pixels.

Where ONNX's written spec and onnxruntime disagree, these functions produce
what onnxruntime produces (the app runs its models with onnxruntime):

* pooling with ``ceil_mode=1`` drops a last window that would *start* in the
  right padding (the PyTorch rule). ONNX shape inference before opset 22 keeps
  it: n=5, k=2, s=2, pads 1+1 gives ⌈(5 + 2 − 2)/2⌉ + 1 = 4 by the formula,
  but onnxruntime's output has 3, because window 4 would start at padded
  index 6, which lies in the right padding;
* pooling with ``auto_pad`` SAME_* computes the padding from the undilated
  kernel, so a dilated SAME pool can come out smaller than ⌈n/s⌉;
* pooling refuses a padding as large as the kernel on either side;
* ConvTranspose needs output_padding < stride (the spec also allows
  < dilation), and accepts an ``output_shape`` up to s − 1 pixels beyond the
  natural size.

* a pooling window larger than the padded input is allowed: the numerator
  n + pb + pe − k_eff is then negative, and onnxruntime's integer division
  rounds it toward zero (C truncation), not down. −d/s with 0 < d < s gives
  1 output where the textbook ⌊ ⌋ gives none; 0 outputs (an empty tensor) are
  given as such; only a negative size is refused, as onnxruntime refuses it.
  (For a negative numerator, truncation and ⌈ ⌉ agree, so ceil_mode changes
  nothing there.) A Conv with such a window is refused, as onnxruntime refuses
  it: its division is the same, but it will not make an output of size 0 or 1
  from a window that does not fit.

One case goes the other way: a Conv with SAME padding and a dilation gets the
spec's ⌈n/s⌉ (onnxruntime refuses to run it; the result's note says so).

ShapeError (from lenet_gui.core.errors) is raised for impossible
configurations, naming the numbers; graph.py adds the layer's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from lenet_gui.core.errors import ShapeError

AUTO_PAD_MODES = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")

#: The pooling convention the formulas of pool_output_size are written in.
POOL_CONVENTION_PER_SIDE = "per-side padding p: o = (n + 2·p − k)/s + 1"
#: The convention of Dumoulin and Visin, "A guide to convolution arithmetic for deep
#: learning" (2016), which writes p for the TOTAL padding.
POOL_CONVENTION_TOTAL = "total padding p: o = (n − k + p + s)/s"

MUL = "·"
MINUS = "−"


@dataclass(frozen=True)
class AxisResult:
    """Output size along one axis plus the working that leads to it."""

    size: int
    formula: str
    pad_begin: int  # padding actually applied before the data (after auto_pad)
    pad_end: int  # padding actually applied after the data
    kernel_eff: int  # pixels one (dilated) kernel window covers
    convention: str | None = None  # for pooling: which textbook formula is shown
    note: str | None = None  # anything surprising, e.g. a dropped ceil-mode window


# ---------------------------------------------------------------------------
# small helpers


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Input pixels covered by one window of a dilated kernel: d·(k − 1) + 1."""
    return dilation * (kernel - 1) + 1


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _check_positive(n: int, kernel: int, stride: int, dilation: int = 1) -> None:
    for label, value in (("input size", n), ("kernel", kernel), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ShapeError(f"{label} must be at least 1, got {value}")


def _check_pads(pad_begin: int, pad_end: int) -> None:
    if pad_begin < 0 or pad_end < 0:
        raise ShapeError(f"padding cannot be negative, got {pad_begin} before and {pad_end} after")


def _check_auto_pad(auto_pad: str) -> str:
    auto_pad = (auto_pad or "NOTSET").upper()
    if auto_pad not in AUTO_PAD_MODES:
        raise ShapeError(f"unknown auto_pad {auto_pad!r} (expected one of {', '.join(AUTO_PAD_MODES)})")
    return auto_pad


def _num(value: int) -> str:
    """A number for a formula: negatives in brackets with a real minus sign."""
    return f"({MINUS}{-value})" if value < 0 else str(value)


def _pads_text(pad_begin: int, pad_end: int) -> str:
    """'2·p' for symmetric padding, 'pb + pe' otherwise (the ' + ' is the caller's)."""
    if pad_begin == pad_end:
        return f"2{MUL}{_num(pad_begin)}"
    return f"{_num(pad_begin)} + {_num(pad_end)}"


def _kernel_prefix(kernel: int, dilation: int) -> str:
    """Working for a dilated kernel, shown before the main formula."""
    if dilation == 1:
        return ""
    return f"dilated kernel {dilation}{MUL}({kernel} {MINUS} 1) + 1 = {effective_kernel(kernel, dilation)}; "


def _auto_pad_prefix(auto_pad: str, pad_begin: int, pad_end: int) -> str:
    if auto_pad == "NOTSET":
        return ""
    if auto_pad == "VALID":
        return "VALID (no padding): "
    return f"{auto_pad} pads {_num(pad_begin)} + {_num(pad_end)}: "


def _sliding_formula(n: int, pad_begin: int, pad_end: int, kernel_eff: int, stride: int,
                     ceil_mode: bool) -> tuple[int, str]:
    """Windows of kernel_eff pixels, stride apart, over n + padding pixels.

    Returns (number of windows, '(n + 2·p − k)/s + 1' written out, without '= o').
    """
    numerator = n + pad_begin + pad_end - kernel_eff
    inner = f"({n} + {_pads_text(pad_begin, pad_end)} {MINUS} {kernel_eff})/{stride}"
    if numerator % stride == 0:
        return numerator // stride + 1, f"{inner} + 1"
    if ceil_mode:
        return _ceil_div(numerator, stride) + 1, f"⌈{inner}⌉ + 1"
    return numerator // stride + 1, f"⌊{inner}⌋ + 1"


def _window_words(kernel: int, dilation: int) -> str:
    return f"kernel {kernel}" if dilation == 1 else f"dilated kernel {effective_kernel(kernel, dilation)} (k={kernel}, d={dilation})"


def _check_kernel_fits(n: int, pad_begin: int, pad_end: int, kernel: int, dilation: int) -> None:
    padded = n + pad_begin + pad_end
    if effective_kernel(kernel, dilation) > padded:
        raise ShapeError(
            f"{_window_words(kernel, dilation)} is larger than the padded input {padded} "
            f"({n} + {_num(pad_begin)} + {_num(pad_end)}); onnxruntime refuses such a Conv too"
        )


def _pool_windows_past_input(n: int, pad_begin: int, pad_end: int, kernel: int, dilation: int, stride: int,
                             ceil_mode: bool) -> tuple[int, str, str]:
    """A pooling window larger than the padded input, counted as onnxruntime counts it.

    The numerator n + pb + pe − k_eff is negative; onnxruntime's integer
    division rounds it toward zero, which for a negative number is the ceiling
    (so ceil_mode makes no difference). Returns (size, working without '= o',
    a one-line note).
    """
    kernel_eff = effective_kernel(kernel, dilation)
    padded = n + pad_begin + pad_end
    numerator = padded - kernel_eff
    quotient = _ceil_div(numerator, stride)
    size = quotient + 1
    inner = f"({n} + {_pads_text(pad_begin, pad_end)} {MINUS} {kernel_eff})/{stride}"
    if numerator % stride == 0:
        working = f"{inner} + 1 = {_num(quotient)} + 1"
    elif ceil_mode:
        working = f"⌈{inner}⌉ + 1 = ⌈{_num(numerator)}/{stride}⌉ + 1 = {_num(quotient)} + 1"
    else:
        working = f"trunc({inner}) + 1 = trunc({_num(numerator)}/{stride}) + 1 = {_num(quotient)} + 1"
    wider = f"the {kernel_eff}-pixel window is wider than the padded input ({padded})"
    if size < 0:
        raise ShapeError(
            f"{_window_words(kernel, dilation)} is larger than the padded input {padded} "
            f"({n} + {_num(pad_begin)} + {_num(pad_end)}) and the output size comes out negative ({size}); "
            "onnxruntime refuses it too")
    if size == 0:
        note = f"{wider}: onnxruntime gives an empty output (size 0)"
    elif ceil_mode:
        note = f"{wider}, which the textbook formula does not allow; onnxruntime still gives 1 output"
    else:
        note = (f"onnxruntime rounds {MINUS}{-numerator}/{stride} toward zero, so this axis has 1 output "
                "where the textbook ⌊ ⌋ gives none")
    return size, working, note


# ---------------------------------------------------------------------------
# convolution


def resolve_conv_pads(n: int, kernel: int, stride: int = 1, dilation: int = 1,
                      auto_pad: str = "NOTSET", pad_begin: int = 0, pad_end: int = 0) -> tuple[int, int]:
    """Padding a Conv really applies on each side of one axis.

    SAME_* pads just enough for ⌈n/s⌉ outputs (never a negative amount);
    SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
    """
    auto_pad = _check_auto_pad(auto_pad)
    if auto_pad == "NOTSET":
        return pad_begin, pad_end
    if auto_pad == "VALID":
        return 0, 0
    target = _ceil_div(n, stride)
    total = max(0, (target - 1) * stride + effective_kernel(kernel, dilation) - n)
    small, large = total // 2, total - total // 2
    return (small, large) if auto_pad == "SAME_UPPER" else (large, small)


def conv_output_size(n: int, kernel: int, stride: int = 1, pad_begin: int = 0, pad_end: int = 0,
                     dilation: int = 1, auto_pad: str = "NOTSET") -> AxisResult:
    """Output size of a convolution along one axis: ⌊(n + pb + pe − d·(k−1) − 1)/s⌋ + 1.

    SAME_* with a dilation other than 1 follows the ONNX spec (⌈n/s⌉ outputs);
    onnxruntime refuses to run that combination, which the note says.
    """
    _check_positive(n, kernel, stride, dilation)
    _check_pads(pad_begin, pad_end)
    auto_pad = _check_auto_pad(auto_pad)
    pad_begin, pad_end = resolve_conv_pads(n, kernel, stride, dilation, auto_pad, pad_begin, pad_end)
    _check_kernel_fits(n, pad_begin, pad_end, kernel, dilation)
    kernel_eff = effective_kernel(kernel, dilation)
    size, working = _sliding_formula(n, pad_begin, pad_end, kernel_eff, stride, ceil_mode=False)
    formula = f"{_auto_pad_prefix(auto_pad, pad_begin, pad_end)}{_kernel_prefix(kernel, dilation)}{working} = {size}"
    note = None
    if auto_pad.startswith("SAME") and dilation != 1:
        note = "onnxruntime cannot run a Conv with SAME padding and a dilation; this is the ONNX spec's size"
    return AxisResult(size, formula, pad_begin, pad_end, kernel_eff, note=note)


# ---------------------------------------------------------------------------
# transposed convolution


def conv_transpose_output_size(n: int, kernel: int, stride: int = 1, pad_begin: int = 0, pad_end: int = 0,
                               dilation: int = 1, output_padding: int = 0, auto_pad: str = "NOTSET",
                               output_size: int | None = None) -> AxisResult:
    """Output size of a transposed convolution: (n − 1)·s + d·(k − 1) + 1 − pb − pe + a.

    ``a`` is ONNX's output_padding (extra pixels at the end); onnxruntime
    requires a < s (the spec also allows a < d). ``output_size`` is ONNX's
    ``output_shape`` attribute: the size is then given and the padding is worked
    out from it (onnxruntime accepts up to s − 1 pixels beyond the natural size).
    SAME_* crops the natural size down to n·s.
    """
    _check_positive(n, kernel, stride, dilation)
    _check_pads(pad_begin, pad_end)
    auto_pad = _check_auto_pad(auto_pad)
    if output_padding < 0 or output_padding >= stride:
        raise ShapeError(f"output_padding {output_padding} must be at least 0 and smaller than the stride {stride}")
    kernel_eff = effective_kernel(kernel, dilation)
    natural = (n - 1) * stride + kernel_eff + output_padding
    extra = f" + {output_padding}" if output_padding else ""
    spread = f"{_kernel_prefix(kernel, dilation)}({n} {MINUS} 1){MUL}{stride} + {kernel_eff}{extra}"

    if output_size is not None:
        # onnxruntime accepts any size a stride-s convolution would map back onto
        # n pixels: up to s − 1 pixels beyond (n − 1)·s + k_eff.
        largest = (n - 1) * stride + kernel_eff + stride - 1
        if not 1 <= output_size <= largest:
            raise ShapeError(f"output_shape asks for size {output_size}, but this layer can make 1 to {largest}")
        total = max(0, natural - output_size)
        if output_size == natural:
            working = spread
        elif total:
            working = f"{spread} {MINUS} {total}"
        else:
            working = f"{spread} + {output_size - natural}"
        formula = f"output_shape {output_size}: {working} = {output_size}"
        size = output_size
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        total = max(0, natural - n * stride)
        size = natural - total
        formula = f"{auto_pad} ({n}{MUL}{stride} = {n * stride}): {spread} {MINUS} {total} = {size}"
    else:
        total = None
    if total is not None:
        # The odd pixel comes off the end for SAME_UPPER and off the start otherwise
        # (the spec; onnxruntime since 1.13/1.14, which had them the other way before).
        big, small = total - total // 2, total // 2
        pad_begin, pad_end = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
        return AxisResult(size, formula, pad_begin, pad_end, kernel_eff)

    if auto_pad == "VALID":
        pad_begin = pad_end = 0
    size = natural - pad_begin - pad_end
    if pad_begin == pad_end:
        crop = f"{MINUS} 2{MUL}{pad_begin}"
    else:
        crop = f"{MINUS} {pad_begin} {MINUS} {pad_end}"
    formula = f"{_auto_pad_prefix(auto_pad, 0, 0)}{spread} {crop} = {size}"
    if size < 1:
        raise ShapeError(
            f"padding {pad_begin} + {pad_end} removes everything: the transposed convolution would give {size} pixels"
        )
    return AxisResult(size, formula, pad_begin, pad_end, kernel_eff)


# ---------------------------------------------------------------------------
# pooling


def resolve_pool_pads(n: int, kernel: int, stride: int = 1, auto_pad: str = "NOTSET",
                      pad_begin: int = 0, pad_end: int = 0) -> tuple[int, int]:
    """Padding a pooling layer really applies, computed as onnxruntime does.

    onnxruntime's SAME_* padding for pooling uses the *undilated* kernel, and is
    negative (a crop) when the kernel is smaller than the stride.
    """
    auto_pad = _check_auto_pad(auto_pad)
    if auto_pad == "NOTSET":
        return pad_begin, pad_end
    if auto_pad == "VALID":
        return 0, 0
    target = _ceil_div(n, stride)
    total = (target - 1) * stride + kernel - n
    # int(x / 2) truncates towards zero like onnxruntime's C++ division, which
    # matters for the negative totals.
    head = int(total / 2) if auto_pad == "SAME_UPPER" else int((total + 1) / 2)
    return head, total - head


def pool_output_size(n: int, kernel: int, stride: int = 1, pad_begin: int = 0, pad_end: int = 0,
                     dilation: int = 1, ceil_mode: bool = False, auto_pad: str = "NOTSET") -> AxisResult:
    """Output size of MaxPool/AveragePool/LpPool along one axis, as onnxruntime computes it.

    The formula shown uses the per-side convention (n + 2·p − k)/s + 1 (see
    ``POOL_CONVENTION_PER_SIDE``). With ceil_mode, a last window that would start
    in the right padding is dropped (onnxruntime and PyTorch; ONNX shape
    inference before opset 22 keeps it).

    A window larger than the padded input is counted as onnxruntime counts it,
    with its division rounded toward zero: n=7, k=5, d=2, s=3 gives
    trunc((7 − 9)/3) + 1 = 1 where the textbook ⌊ ⌋ gives 0; the note says
    why. A size of 0 is returned as such (onnxruntime makes an empty tensor);
    a negative one raises ShapeError.
    """
    _check_positive(n, kernel, stride, dilation)
    _check_pads(pad_begin, pad_end)
    auto_pad = _check_auto_pad(auto_pad)
    if auto_pad == "NOTSET" and (pad_begin >= kernel or pad_end >= kernel):
        # onnxruntime refuses such pools at load time; a window made only of
        # padding has no input value to take.
        raise ShapeError(
            f"pooling padding {pad_begin} + {pad_end} must be smaller than the kernel {kernel} on each side")
    pad_begin, pad_end = resolve_pool_pads(n, kernel, stride, auto_pad, pad_begin, pad_end)
    kernel_eff = effective_kernel(kernel, dilation)
    prefix = f"{_auto_pad_prefix(auto_pad, pad_begin, pad_end)}{_kernel_prefix(kernel, dilation)}"
    if kernel_eff > n + pad_begin + pad_end:
        # No ceil-mode window to drop here: the one window starts at the input's first pixel or before.
        size, working, past = _pool_windows_past_input(n, pad_begin, pad_end, kernel, dilation, stride, ceil_mode)
        return AxisResult(size, f"{prefix}{working} = {size}", pad_begin, pad_end, kernel_eff,
                          POOL_CONVENTION_PER_SIDE, past)
    size, working = _sliding_formula(n, pad_begin, pad_end, kernel_eff, stride, ceil_mode)
    note = None
    if pad_begin < 0 or pad_end < 0:
        note = "SAME with a kernel smaller than the stride crops the input (negative padding)"
    if ceil_mode and (size - 1) * stride >= n + pad_begin:
        size -= 1
        working = f"{working} {MINUS} 1"
        note = "the last window would start in the right padding, so onnxruntime drops it"
    if size < 1:
        raise ShapeError(f"pooling would give {size} outputs from an input of {n}")
    formula = f"{prefix}{working} = {size}"
    if note:
        formula += f" ({note})"
    return AxisResult(size, formula, pad_begin, pad_end, kernel_eff, POOL_CONVENTION_PER_SIDE, note)


def pool_output_size_total_padding(n: int, kernel: int, stride: int, total_pad: int = 0,
                                   ceil_mode: bool = False) -> AxisResult:
    """Dumoulin and Visin's (2016) pooling formula, (n − k + p + s)/s, where p is the TOTAL padding.

    Algebraically the same as (n + p − k)/s + 1, so it agrees with
    pool_output_size whenever pb + pe = p (e.g. symmetric pads, p = 2·pad).
    ceil_mode here is the bare ceiling, without onnxruntime's dropped window.
    """
    _check_positive(n, kernel, stride)
    if total_pad < 0:
        raise ShapeError(f"padding cannot be negative, got {total_pad}")
    if kernel > n + total_pad:
        raise ShapeError(f"kernel {kernel} is larger than the padded input {n + total_pad} ({n} + {total_pad})")
    numerator = n - kernel + total_pad + stride
    inner = f"({n} {MINUS} {kernel} + {total_pad} + {stride})/{stride}"
    if numerator % stride == 0:
        size, working = numerator // stride, inner
    elif ceil_mode:
        size, working = _ceil_div(numerator, stride), f"⌈{inner}⌉"
    else:
        size, working = numerator // stride, f"⌊{inner}⌋"
    head = total_pad // 2
    return AxisResult(size, f"{working} = {size}", head, total_pad - head, kernel, POOL_CONVENTION_TOTAL)


# ---------------------------------------------------------------------------
# receptive field


@dataclass(frozen=True)
class ReceptiveField:
    """Which input pixels one unit of a layer sees, per spatial axis (y, x, ...).

    ``size`` r: pixels one unit sees; ``jump`` j: input pixels between two
    neighbouring units; ``start``: input coordinate of the first pixel seen by
    unit 0 (negative when it reaches into the padding). Unit i on an axis sees
    input pixels start + i·j up to (but excluding) start + i·j + r.
    """

    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[int, ...]

    @property
    def centre(self) -> tuple[float, ...]:
        """Input coordinate of the centre of unit 0's field."""
        return tuple(b + (r - 1) / 2 for b, r in zip(self.start, self.size))


def input_receptive_field(ndim: int = 2) -> ReceptiveField:
    """The receptive field of the input image itself: every pixel sees itself."""
    return ReceptiveField((1,) * ndim, (1,) * ndim, (0,) * ndim)


def receptive_field_step(size: int, jump: int, start: int, kernel: int, stride: int = 1,
                         pad_begin: int = 0, dilation: int = 1) -> tuple[int, int, int]:
    """One sliding-window layer on one axis: r_out = r_in + (k_eff − 1)·j_in, j_out = j_in·s.

    The first window begins pad_begin units before unit 0 of the layer input.
    """
    kernel_eff = effective_kernel(kernel, dilation)
    return size + (kernel_eff - 1) * jump, jump * stride, start - pad_begin * jump


def propagate_receptive_field(rf: ReceptiveField, kernels: Sequence[int], strides: Sequence[int],
                              pads_begin: Sequence[int], dilations: Sequence[int] | None = None) -> ReceptiveField:
    """Receptive field after a Conv/pooling layer with the given per-axis settings."""
    dilations = dilations or [1] * len(kernels)
    steps = [receptive_field_step(r, j, b, k, s, p, d)
             for r, j, b, k, s, p, d in zip(rf.size, rf.jump, rf.start, kernels, strides, pads_begin, dilations)]
    return ReceptiveField(tuple(x[0] for x in steps), tuple(x[1] for x in steps), tuple(x[2] for x in steps))


def receptive_box(layer_rf_info, i: int, j: int) -> tuple[int, int, int, int]:
    """Input region seen by unit (row i, column j): (y0, x0, y1, x1), ends excluded.

    ``layer_rf_info`` is a ReceptiveField with two axes or anything carrying one
    in ``.rf`` (a graph.Layer). The box may reach outside the image (padding);
    see clip_box.
    """
    rf = getattr(layer_rf_info, "rf", layer_rf_info)
    if not isinstance(rf, ReceptiveField):
        raise ShapeError("this layer has no receptive field on the input image")
    if len(rf.size) != 2:
        raise ShapeError(f"receptive_box needs two spatial axes, this layer has {len(rf.size)}")
    y0 = rf.start[0] + i * rf.jump[0]
    x0 = rf.start[1] + j * rf.jump[1]
    return y0, x0, y0 + rf.size[0], x0 + rf.size[1]


def clip_box(box: tuple[int, int, int, int], height: int, width: int) -> tuple[int, int, int, int]:
    """The part of (y0, x0, y1, x1) that lies on a height × width image (may be empty)."""
    y0, x0, y1, x1 = box
    y0, y1 = min(max(y0, 0), height), min(max(y1, 0), height)
    x0, x1 = min(max(x0, 0), width), min(max(x1, 0), width)
    return y0, x0, y1, x1
