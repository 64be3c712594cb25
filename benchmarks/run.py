"""lossjax vs optax (and PyTorch, when installed) vs the memory floor: speed of every shared loss.

For each loss that lossjax shares with optax (plus mean absolute error and
categorical focal loss, which optax lacks), one process measures

* the jitted forward time (mean reduction, a scalar) and the jitted
  ``jax.value_and_grad`` time (with respect to the predictions / logits) of
  lossjax, of optax and of the *floor*;
* the compile time (``lower`` + ``compile`` wall time) of each lossjax function;
* PyTorch's forward and forward+backward time, when ``import torch`` works.

Floors (the cost of touching the data once, which no loss can beat):

* elementwise losses (regression and binary, 4M float32 elements, 4096x1024):
  a jitted ``a - b`` over the same two arrays (reads 2, writes 1). The same
  floor is used for the forward and for the value+grad columns: a fused
  value+grad reads the two inputs once and writes the gradient once.
* multiclass losses (8192x1000 and 4096x32000): a jitted ``x * 2.0`` over the
  logits (reads N*K, writes N*K), the read+write floor of the logits.

Timing: each function is compiled and run twice (warm-up), then ``--repeats``
rounds time one call of every library in turn (the order rotates each round,
so drift of a shared machine hits all of them alike), each call ended by
``jax.block_until_ready`` (``torch.cuda.synchronize`` for PyTorch on a GPU);
the tables give medians in milliseconds. On a GPU one call of a 4M-element loss takes
about as long as launching it, so there each timed sample is ``--inner`` (default 10)
back-to-back calls ended by one ``block_until_ready``, divided by ``--inner``
(the kernels' throughput rather than the launch latency); on a CPU ``--inner``
is 1 by default. Before timing, the lossjax, optax and
PyTorch values (and the lossjax and optax gradients) are compared, so a row
never compares different losses; a mismatch prints a warning. On Linux the
script re-executes itself once with the allocator and OpenMP settings of
``STEADY_ENV`` (below), which take page faults and spinning threads out of the
timings; ``LOSSJAX_BENCH_STEADY=0`` runs it without them.

Usage::

    python benchmarks/run.py                      # full sizes, writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick --out-dir /tmp/bench
    python benchmarks/run.py --only huber,sparse_ce --repeats 50
    python benchmarks/run.py --no-torch --results RESULTS-gpu.md

No timing is asserted anywhere: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lossjax

HERE = Path(__file__).resolve().parent

FULL_ELEMENTWISE = (4096, 1024)
FULL_MULTICLASS = ((8192, 1000), (4096, 32000))
QUICK_ELEMENTWISE = (256, 512)
QUICK_MULTICLASS = ((256, 100), (128, 1000))

LIBRARIES = ("lossjax", "optax", "floor", "torch")

# Process settings for steadier timings on Linux, applied by re-executing this
# script once at start (glibc reads them when the process starts):
# * allocations up to 32 MiB come from the heap and freed memory is kept, so a
#   call's fresh output buffer is not page-faulted in again on every call (the
#   first runs of this benchmark spent more system than user time doing that);
# * OpenMP threads (PyTorch's) sleep when idle rather than spin, so they do not
#   take the cores from the JAX call timed after them.
# Every library in the process runs under the same settings. LOSSJAX_BENCH_STEADY=0
# turns this off.
STEADY_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(16 * 2**30),
    "MALLOC_TOP_PAD_": str(512 * 2**20),
    "OMP_WAIT_POLICY": "PASSIVE",
}


def _reexec_with_steady_env() -> None:
    if os.environ.get("LOSSJAX_BENCH_STEADY") == "0" or not sys.platform.startswith("linux"):
        return
    missing = {k: v for k, v in STEADY_ENV.items() if k not in os.environ}
    if missing:
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **missing})


def _steady_settings() -> str:
    active = [f"`{k}={os.environ[k]}`" for k in STEADY_ENV if k in os.environ]
    return ", ".join(active) if active else "none"


# -- inputs -------------------------------------------------------------------------------


def _normal(rng: np.random.Generator, shape, scale: float = 1.0) -> np.ndarray:
    x = rng.standard_normal(shape, dtype=np.float32)
    if scale != 1.0:
        x *= np.float32(scale)
    return x


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax in place (float32): strictly positive target distributions."""
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def make_regression(rng, shape):
    return _normal(rng, shape), _normal(rng, shape)


def make_binary(rng, shape):
    """Logits spread over both signs and several units, labels in {0, 1}."""
    return _normal(rng, shape, 3.0), (rng.random(shape) < 0.5).astype(np.float32)


def make_signed(rng, shape):
    """Scores and labels in {-1, +1} (optax's hinge convention; lossjax accepts it too)."""
    return _normal(rng, shape), np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def make_dense(rng, shape):
    """Logits and strictly positive target distributions along the last axis."""
    return _normal(rng, shape, 2.0), _softmax_rows(_normal(rng, shape))


def make_sparse(rng, shape):
    """Logits and int32 labels in [0, K)."""
    n, k = shape
    return _normal(rng, shape, 2.0), rng.integers(0, k, size=n).astype(np.int32)


# -- PyTorch formulations (written with torch ops where torch has no function) -------------


def _torch_losses() -> dict[str, Callable]:
    import torch
    import torch.nn.functional as F

    log2 = math.log(2.0)

    def log_cosh(x, y):
        e = x - y
        # Stable log cosh(e) = e + softplus(-2e) - log 2 (no overflow of cosh).
        return (e + F.softplus(-2.0 * e) - log2).mean()

    def hinge(x, t):
        return torch.clamp(1.0 - t * x, min=0.0).mean()

    def sigmoid_focal(gamma):
        # As torchvision.ops.sigmoid_focal_loss (alpha disabled), written with torch ops.
        def loss(x, y):
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
            p_t = p * y + (1.0 - p) * (1.0 - y)
            return (ce * (1.0 - p_t) ** gamma).mean()

        return loss

    def categorical_focal(gamma):
        def loss(x, labels):
            log_p = F.log_softmax(x, dim=-1).gather(-1, labels[:, None]).squeeze(-1)
            return (-((1.0 - log_p.exp()) ** gamma) * log_p).mean()

        return loss

    return {
        "squared_error": F.mse_loss,
        "absolute_error": F.l1_loss,
        "huber": lambda x, y: F.huber_loss(x, y, delta=1.0),
        "log_cosh": log_cosh,
        "bce": F.binary_cross_entropy_with_logits,
        "hinge": hinge,
        "focal_g2": sigmoid_focal(2.0),
        "focal_g0.5": sigmoid_focal(0.5),
        "softmax_ce": F.cross_entropy,
        "sparse_ce": F.cross_entropy,
        "kl": lambda x, t: F.kl_div(F.log_softmax(x, dim=-1), t, reduction="batchmean"),
        "categorical_focal": categorical_focal(2.0),
    }


# -- the cases -------------------------------------------------------------------------------


@dataclasses.dataclass
class Spec:
    key: str  # name for --only
    title: str  # row label
    family: str  # "elementwise" or "multiclass"
    make: Callable
    lossjax_name: str
    lossjax_call: Callable  # (fn, x, y) -> scalar
    optax_call: Callable | None  # (x, y) -> scalar
    floor_goal: float
    goal_name: str


def _lj(**kwargs):
    return lambda fn, x, y: fn(x, y, **kwargs)


SPECS = [
    Spec(
        "squared_error",
        "squared error",
        "elementwise",
        make_regression,
        "mean_squared_error",
        _lj(),
        lambda x, y: jnp.mean(optax.losses.squared_error(x, y)),
        2.0,
        "squared/absolute/Huber/hinge",
    ),
    Spec(
        "absolute_error",
        "absolute error",
        "elementwise",
        make_regression,
        "mean_absolute_error",
        _lj(),
        None,  # optax has no absolute error
        2.0,
        "squared/absolute/Huber/hinge",
    ),
    Spec(
        "huber",
        "Huber (delta=1)",
        "elementwise",
        make_regression,
        "huber_loss",
        _lj(delta=1.0),
        lambda x, y: jnp.mean(optax.losses.huber_loss(x, y, delta=1.0)),
        2.0,
        "squared/absolute/Huber/hinge",
    ),
    Spec(
        "log_cosh",
        "log-cosh",
        "elementwise",
        make_regression,
        "log_cosh_loss",
        _lj(),
        lambda x, y: jnp.mean(optax.losses.log_cosh(x, y)),
        5.0,
        "BCE and log-cosh",
    ),
    Spec(
        "bce",
        "sigmoid BCE",
        "elementwise",
        make_binary,
        "binary_cross_entropy",
        _lj(),
        lambda x, y: jnp.mean(optax.losses.sigmoid_binary_cross_entropy(x, y)),
        5.0,
        "BCE and log-cosh",
    ),
    Spec(
        "hinge",
        "hinge (labels ±1)",
        "elementwise",
        make_signed,
        "hinge_loss",
        _lj(margin=1.0),
        lambda x, t: jnp.mean(optax.losses.hinge_loss(x, t)),
        2.0,
        "squared/absolute/Huber/hinge",
    ),
    Spec(
        "focal_g2",
        "sigmoid focal (gamma=2)",
        "elementwise",
        make_binary,
        "focal_loss",
        _lj(gamma=2.0),
        lambda x, y: jnp.mean(optax.losses.sigmoid_focal_loss(x, y, gamma=2.0)),
        10.0,
        "focal, any gamma",
    ),
    Spec(
        "focal_g0.5",
        "sigmoid focal (gamma=0.5)",
        "elementwise",
        make_binary,
        "focal_loss",
        _lj(gamma=0.5),
        lambda x, y: jnp.mean(optax.losses.sigmoid_focal_loss(x, y, gamma=0.5)),
        10.0,
        "focal, any gamma",
    ),
    Spec(
        "softmax_ce",
        "softmax CE",
        "multiclass",
        make_dense,
        "categorical_cross_entropy",
        _lj(),
        lambda x, t: jnp.mean(optax.losses.softmax_cross_entropy(x, t)),
        2.5,
        "multiclass",
    ),
    Spec(
        "sparse_ce",
        "sparse CE",
        "multiclass",
        make_sparse,
        "sparse_categorical_cross_entropy",
        _lj(),
        lambda x, labels: jnp.mean(
            optax.losses.softmax_cross_entropy_with_integer_labels(x, labels)
        ),
        2.5,
        "multiclass",
    ),
    Spec(
        "kl",
        "KL divergence",
        "multiclass",
        make_dense,
        "kl_divergence",
        _lj(),
        # optax takes log-predictions: feed it log_softmax of the same logits.
        lambda x, t: jnp.mean(optax.losses.kl_divergence(jax.nn.log_softmax(x, axis=-1), t)),
        2.5,
        "multiclass",
    ),
    Spec(
        "categorical_focal",
        "categorical focal (gamma=2)",
        "multiclass",
        make_sparse,
        "categorical_focal_loss",
        _lj(gamma=2.0),
        None,  # optax has no softmax focal loss
        10.0,
        "focal, any gamma",
    ),
]


def elementwise_floor(a, b):
    return a - b


def multiclass_floor(x, _labels_or_targets):
    return x * 2.0


def exp_pass(x, _labels_or_targets):
    """One ``exp`` per logit, summed per row: reads N×K once, writes N.

    Not a floor of memory traffic but of arithmetic: every softmax loss
    evaluates at least one exponential per logit, and on some machines that
    alone costs more than the read+write floor.
    """
    return jnp.sum(jnp.exp(x), axis=-1)


# -- timing --------------------------------------------------------------------------------


def interleaved_medians(
    calls: dict[str, Callable[[], Any]], repeats: int, inner: int = 1
) -> dict[str, float]:
    """Median milliseconds per call, the libraries taking turns in a rotating order.

    Each call runs its function ``inner`` times (see ``--inner``).
    """
    names = list(calls)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            call = calls[name]
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return {n: statistics.median(s) * 1e3 / inner for n, s in samples.items()}


def _jax_call(fn, args, inner: int = 1):
    def call():
        for _ in range(inner - 1):
            fn(*args)
        return jax.block_until_ready(fn(*args))

    return call


def _compile_ms(fn, args) -> float:
    start = time.perf_counter()
    jax.jit(fn).lower(*args).compile()
    return (time.perf_counter() - start) * 1e3


def _agree(a, b, *, rtol: float, atol: float) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.allclose(a, b, rtol, atol))


class Torch:
    """PyTorch timing helper (CPU or CUDA), or None-like when torch is unavailable."""

    def __init__(self, device: str):
        import torch

        self.torch = torch
        self.device = device
        self.losses = _torch_losses()
        if device == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)

    def tensors(self, x: np.ndarray, y: np.ndarray):
        t = self.torch
        y = y.astype(np.int64) if y.dtype.kind == "i" else y
        return t.from_numpy(x).to(self.device), t.from_numpy(y).to(self.device)

    def sync(self):
        if self.device != "cpu":
            self.torch.cuda.synchronize()

    def forward(self, fn, x, y, inner: int = 1):
        def call():
            with self.torch.no_grad():
                for _ in range(inner):
                    out = fn(x, y)
            self.sync()
            return out

        return call

    def forward_backward(self, fn, x, y, inner: int = 1):
        x = x.detach().clone().requires_grad_(True)

        def call():
            for _ in range(inner):
                x.grad = None
                out = fn(x, y)
                out.backward()
            self.sync()
            return out

        return call


@dataclasses.dataclass
class Row:
    spec: Spec
    shape: tuple[int, int]
    fwd: dict[str, float]
    vg: dict[str, float]
    compile_fwd: float
    compile_vg: float
    warnings: list[str]

    @property
    def label(self) -> str:
        return f"{self.spec.title} {self.shape[0]}×{self.shape[1]}"


def run_case(
    spec: Spec, shape, repeats: int, torch_helper: Torch | None, inner: int = 1
) -> Row | None:
    fn = getattr(lossjax, spec.lossjax_name, None)
    if fn is None:
        print(f"  lossjax.{spec.lossjax_name} not available: skipped")
        return None
    rng = np.random.default_rng(0)
    x_np, y_np = spec.make(rng, shape)
    args = (jax.device_put(x_np), jax.device_put(y_np))
    warnings: list[str] = []

    def lossjax_fn(x, y):
        return spec.lossjax_call(fn, x, y)

    floor = elementwise_floor if spec.family == "elementwise" else multiclass_floor
    fwd_fns = {"lossjax": lossjax_fn, "floor": floor}
    if spec.optax_call is not None:
        fwd_fns["optax"] = spec.optax_call
    vg_fns = {k: jax.value_and_grad(f) for k, f in fwd_fns.items() if k != "floor"}
    vg_fns["floor"] = floor  # same floor for value+grad (reads 2 / writes 1, or read+write)
    if spec.family == "multiclass":
        vg_fns["exp"] = exp_pass  # timed with value+grad: a reference, not a library

    # Compile time of lossjax first, before anything else traced these functions.
    compile_fwd = _compile_ms(lossjax_fn, args)
    compile_vg = _compile_ms(jax.value_and_grad(lossjax_fn), args)

    jit_fwd = {k: jax.jit(f) for k, f in fwd_fns.items()}
    jit_vg = {k: jax.jit(f) for k, f in vg_fns.items()}
    warm: dict[str, Any] = {}
    for table, tag in ((jit_fwd, "fwd"), (jit_vg, "vg")):
        for k, f in table.items():
            for _ in range(3):  # compile + 2 runs
                out = jax.block_until_ready(f(*args))
            if k not in ("floor", "exp"):
                warm[f"{k}_{tag}"] = out

    # Accuracy: the timed pair must compute the same loss.
    lj_value = float(warm["lossjax_fwd"])
    if not np.isfinite(lj_value):
        warnings.append(f"lossjax value is not finite ({lj_value})")
    if "optax_fwd" in warm:
        if not _agree(warm["lossjax_fwd"], warm["optax_fwd"], rtol=2e-4, atol=1e-6):
            warnings.append(
                f"forward values differ: lossjax {lj_value!r} vs optax {float(warm['optax_fwd'])!r}"
            )
        (v1, g1), (v2, g2) = warm["lossjax_vg"], warm["optax_vg"]
        g2_np = np.asarray(g2)
        scale = float(np.max(np.abs(g2_np))) if g2_np.size else 0.0
        if not _agree(v1, v2, rtol=2e-4, atol=1e-6):
            warnings.append(f"value_and_grad values differ: {float(v1)!r} vs {float(v2)!r}")
        if not _agree(g1, g2_np, rtol=1e-3, atol=1e-5 * scale + 1e-30):
            diff = float(np.nanmax(np.abs(np.asarray(g1, np.float64) - g2_np)))
            warnings.append(f"gradients differ from optax's (max abs diff {diff:.3g})")
    del warm

    calls_fwd = {k: _jax_call(f, args, inner) for k, f in jit_fwd.items()}
    calls_vg = {k: _jax_call(f, args, inner) for k, f in jit_vg.items()}
    if torch_helper is not None and spec.key in torch_helper.losses:
        tfn = torch_helper.losses[spec.key]
        tx, ty = torch_helper.tensors(x_np, y_np)
        t_fwd = torch_helper.forward(tfn, tx, ty, inner)
        t_fb = torch_helper.forward_backward(tfn, tx, ty, inner)
        for _ in range(2):
            t_value = float(t_fwd())
            t_fb()
        if not (
            np.isfinite(t_value) and math.isclose(t_value, lj_value, rel_tol=2e-4, abs_tol=1e-6)
        ):
            warnings.append(f"PyTorch value {t_value!r} differs from lossjax {lj_value!r}")
        calls_fwd["torch"] = t_fwd
        calls_vg["torch"] = t_fb

    fwd = interleaved_medians(calls_fwd, repeats, inner)
    vg = interleaved_medians(calls_vg, repeats, inner)
    for w in warnings:
        print(f"  WARNING ({spec.key} {shape}): {w}")
    return Row(spec, tuple(shape), fwd, vg, compile_fwd, compile_vg, warnings)


# -- reporting -----------------------------------------------------------------------------


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def timing_table(rows: list[Row], mode: str) -> str:
    torch_on = any("torch" in getattr(r, mode) for r in rows)
    head = ["loss", "lossjax ms", "optax ms", "floor ms"]
    if torch_on:
        head.append("torch ms")
    head += ["lossjax/optax", "lossjax/floor", "optax/floor"]
    if torch_on:
        head += ["torch/floor", "lossjax/torch"]
    head.append("lossjax compile ms")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        t = getattr(r, mode)
        lj, ox, fl, tc = (t.get(k) for k in LIBRARIES)
        cells = [r.label, fmt_ms(lj), fmt_ms(ox), fmt_ms(fl)]
        if torch_on:
            cells.append(fmt_ms(tc))
        cells += [fmt_ratio(ratio(lj, ox)), fmt_ratio(ratio(lj, fl)), fmt_ratio(ratio(ox, fl))]
        if torch_on:
            cells += [fmt_ratio(ratio(tc, fl)), fmt_ratio(ratio(lj, tc))]
        cells.append(fmt_ms(r.compile_fwd if mode == "fwd" else r.compile_vg))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdict(r: float | None, limit: float, strict: bool = False) -> str:
    if r is None:
        return "n/a"
    ok = r < limit if strict else r <= limit
    return f"{'met' if ok else 'NOT met'} ({r:.2f}×)"


def exp_table(rows: list[Row]) -> str:
    """The multiclass rows against one exp per logit (:func:`exp_pass`), value+grad timings."""
    head = ["loss", "floor ms", "exp pass ms", "exp pass/floor", "lossjax/exp pass"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ex = r.vg.get("exp")
        if ex is None:
            continue
        lj, fl = r.vg.get("lossjax"), r.vg.get("floor")
        cells = [
            r.label,
            fmt_ms(fl),
            fmt_ms(ex),
            fmt_ratio(ratio(ex, fl)),
            fmt_ratio(ratio(lj, ex)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def goals_section(rows: list[Row], torch_device: str | None) -> tuple[str, list[str]]:
    torch_label = f"PyTorch {torch_device}" if torch_device else "PyTorch"
    head = [
        "loss",
        "value+grad ≤ optax (≤ 1.0×)",
        "value+grad vs floor (goal)",
        f"faster than {torch_label} (lossjax/torch < 1)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    missed: list[str] = []
    for r in rows:
        lj, ox, fl, tc = (r.vg.get(k) for k in LIBRARIES)
        v_optax = _verdict(ratio(lj, ox), 1.0)
        goal = r.spec.floor_goal
        v_floor = _verdict(ratio(lj, fl), goal)
        v_floor = f"{v_floor}, goal ≤ {goal:g}× ({r.spec.goal_name})"
        v_torch = _verdict(ratio(lj, tc), 1.0, strict=True)
        if tc is None:
            v_torch = "n/a (PyTorch not run)"
        cells = [r.label, v_optax, v_floor, v_torch]
        if r.warnings:
            cells[0] += " ⚠ (values disagree, see warnings)"
        lines.append("| " + " | ".join(cells) + " |")
        if any(c.startswith("NOT") for c in (v_optax, v_floor, v_torch)) or r.warnings:
            missed.append(r.label)
    text = "\n".join(lines)
    if missed:
        text += (
            "\n\nNot met: "
            + "; ".join(missed)
            + ". The reasons are under *Goals not met, and why*."
        )
    else:
        text += "\n\nAll goals met."
    return text, missed


def _lscpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _version(module: str) -> str:
    try:
        mod = __import__(module)
        return getattr(mod, "__version__", "?")
    except Exception:
        return "not installed"


def machine_description(torch_device: str | None) -> str:
    dev = jax.devices()[0]
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    lines = [
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- Processor: {_lscpu_model()} ({platform.machine()}), {cores} cores ({usable} usable)",
        f"- Memory: {_memory()}",
        f"- OS: {platform.platform()}",
        f"- JAX device: {dev.platform} / {dev.device_kind} ({jax.device_count()} device(s))",
        f"- Versions: Python {platform.python_version()}, jax {jax.__version__}, "
        f"jaxlib {_version('jaxlib')}, optax {optax.__version__}, numpy {np.__version__}, "
        f"lossjax {lossjax.__version__}, torch {_version('torch') if torch_device else 'not used'}",
    ]
    if torch_device:
        lines.append(f"- PyTorch device: {torch_device}")
    if os.environ.get("XLA_FLAGS"):
        lines.append(f"- XLA_FLAGS: `{os.environ['XLA_FLAGS']}`")
    return "\n".join(lines)


def write_plot(rows: list[Row], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no chart")
        return False
    labels = [r.label for r in rows]
    lj = [ratio(r.vg.get("lossjax"), r.vg.get("floor")) for r in rows]
    ox = [ratio(r.vg.get("optax"), r.vg.get("floor")) for r in rows]
    goals = [r.spec.floor_goal for r in rows]
    xs = np.arange(len(rows))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(8.0, 0.9 * len(rows) + 2), 5.5))
    for offset, values, name, color in (
        (-width / 2, lj, "lossjax / floor", "#1f77b4"),
        (width / 2, ox, "optax / floor", "#ff7f0e"),
    ):
        heights = [np.nan if v is None else v for v in values]
        bars = ax.bar(xs + offset, heights, width, label=name, color=color)
        texts = ["" if v is None else f"{v:.1f}" for v in values]
        ax.bar_label(bars, labels=texts, fontsize=7, padding=1)
    for i, g in enumerate(goals):
        ax.hlines(g, i - 0.45, i + 0.45, colors="black", linestyles="--", linewidth=1.2)
    ax.plot([], [], "k--", label="goal (× floor)")
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=9)
    ax.set_ylabel("value+grad time / floor time (log scale)")
    dev = jax.devices()[0]
    ax.set_title(f"value_and_grad time relative to the memory floor ({dev.device_kind})")
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_results(rows, path: Path, plot_name: str | None, options, torch_device, sizes):
    goals, _ = goals_section(rows, torch_device)
    elem, multi = sizes
    all_warnings = [f"- {r.label}: {w}" for r in rows for w in r.warnings]
    parts = [
        "# lossjax benchmark results",
        "",
        f"Written by `python benchmarks/run.py {' '.join(sys.argv[1:])}`. "
        f"Medians of {options.repeats} interleaved runs"
        + (
            f" of {options.inner} back-to-back calls each (per-call times)"
            if options.inner > 1
            else ""
        )
        + ", float32, mean reduction; "
        f"elementwise losses at {elem[0]}×{elem[1]}, multiclass at "
        + " and ".join(f"{n}×{k}" for n, k in multi)
        + ".",
        "",
        "## Machine",
        "",
        machine_description(torch_device),
        "",
        "## How to read the tables",
        "",
        "- *floor*: elementwise losses: jitted `a - b` over the same two arrays "
        "(reads 2, writes 1); multiclass: jitted `x * 2.0` over the logits (reads N×K, "
        "writes N×K). The same floor is the reference for the forward and the "
        "value+grad columns.",
        "- *value+grad*: `jax.jit(jax.value_and_grad(loss))` w.r.t. the predictions / logits "
        "(PyTorch: forward + `backward()`).",
        "- Ratios below 1 mean the numerator is faster; *compile ms* is the `lower` + "
        "`compile` wall time of the lossjax function.",
        f"- Process settings (the same for every library; see `STEADY_ENV` in run.py): "
        f"{_steady_settings()}.",
        "",
        "## Value and gradient",
        "",
        timing_table(rows, "vg"),
        "",
        "## Forward",
        "",
        timing_table(rows, "fwd"),
        "",
    ]
    exp = exp_table(rows)
    if exp:
        parts += [
            "## Multiclass against one exp per logit",
            "",
            "*exp pass*: jitted `jnp.sum(jnp.exp(x), axis=-1)` over the logits, timed in the "
            "same rounds as the value+grad column: the arithmetic every softmax loss needs at "
            "least once per logit (lossjax's value+grad evaluates it once and keeps the result "
            "for the gradient).",
            "",
            exp,
            "",
        ]
    parts += [
        "## Goals",
        "",
        goals,
        "",
    ]
    if plot_name:
        parts += [f"![value+grad time relative to the floor]({plot_name})", ""]
    if all_warnings:
        parts += ["## Warnings", "", *all_warnings, ""]
    _write_between_markers(path, "\n".join(parts))


START, END = "<!-- run.py:start -->", "<!-- run.py:end -->"


def _write_between_markers(path: Path, body: str) -> None:
    """Replaces this script's part of the results file, keeping what others wrote around it
    (the fused cross-entropy benchmark, GPU tables, notes on missed goals)."""
    block = f"{START}\n{body}\n{END}"
    if path.exists():
        text = path.read_text()
        if START in text and END in text:
            before, rest = text.split(START, 1)
            after = rest.split(END, 1)[1]
            path.write_text(before + block + after)
            return
    path.write_text(block + "\n")


def _select(only: str | None) -> list[Spec]:
    if not only:
        return list(SPECS)
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    chosen = [s for s in SPECS if any(s.key == w or s.key.startswith(w) for w in wanted)]
    unknown = [w for w in wanted if not any(s.key == w or s.key.startswith(w) for s in SPECS)]
    if unknown:
        keys = ", ".join(s.key for s in SPECS)
        raise SystemExit(f"unknown --only name(s) {unknown}; choose from: {keys}")
    return chosen


def _torch_device(choice: str) -> str | None:
    try:
        import torch
    except ImportError:
        print("torch not installed: skipped")
        return None
    if choice == "auto":
        on_gpu = jax.devices()[0].platform == "gpu"
        choice = "cuda" if on_gpu and torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        print("torch has no CUDA device: PyTorch skipped")
        return None
    return choice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, few repeats (smoke test)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed rounds (default 20, 5 with --quick)"
    )
    parser.add_argument(
        "--inner",
        type=int,
        default=None,
        help="back-to-back calls per timed sample (default 10 on a GPU, 1 on a CPU)",
    )
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where the results and chart go")
    parser.add_argument("--results", default="RESULTS.md", help="results file name (in --out-dir)")
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    parser.add_argument(
        "--torch-device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="PyTorch device; auto: cuda when JAX runs on a GPU, else cpu",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated loss names (or prefixes): " + ", ".join(s.key for s in SPECS),
    )
    options = parser.parse_args(argv)
    if options.repeats is None:
        options.repeats = 5 if options.quick else 20
    if options.repeats < 1:
        parser.error("--repeats must be at least 1")
    if options.inner is None:
        options.inner = 10 if jax.devices()[0].platform == "gpu" else 1
    if options.inner < 1:
        parser.error("--inner must be at least 1")
    specs = _select(options.only)
    elem = QUICK_ELEMENTWISE if options.quick else FULL_ELEMENTWISE
    multi = QUICK_MULTICLASS if options.quick else FULL_MULTICLASS

    torch_device = None if options.no_torch else _torch_device(options.torch_device)
    if options.no_torch:
        print("torch: skipped (--no-torch)")
    torch_helper = Torch(torch_device) if torch_device else None

    dev = jax.devices()[0]
    print(
        f"jax {jax.__version__} on {dev.platform} ({dev.device_kind}); "
        f"{options.repeats} repeats of {options.inner} call(s)"
    )
    rows: list[Row] = []
    for spec in specs:
        shapes = [elem] if spec.family == "elementwise" else list(multi)
        for shape in shapes:
            print(f"{spec.key} {shape[0]}x{shape[1]} ...", flush=True)
            try:
                row = run_case(spec, shape, options.repeats, torch_helper, options.inner)
            except Exception:
                print(f"  ERROR in {spec.key} {shape}: skipped")
                traceback.print_exc()
                continue
            if row is not None:
                rows.append(row)
    if not rows:
        print("nothing was measured")
        return 1

    print("\nValue and gradient (median ms):\n" + timing_table(rows, "vg"))
    print("\nForward (median ms):\n" + timing_table(rows, "fwd"))
    goals, _ = goals_section(rows, torch_device)
    exp = exp_table(rows)
    if exp:
        print("\nMulticlass against one exp per logit (value+grad timings):\n" + exp)
    print("\nGoals:\n" + goals)

    options.out_dir.mkdir(parents=True, exist_ok=True)
    results = options.out_dir / options.results
    plot = results.with_suffix(".png")
    plot_name = plot.name if write_plot(rows, plot) else None
    write_results(rows, results, plot_name, options, torch_device, (elem, multi))
    print(f"\nwrote {results}" + (f" and {plot}" if plot_name else ""))
    return 0


if __name__ == "__main__":
    _reexec_with_steady_env()
    sys.exit(main())
