"""Measuring: every section of ``run.py``, each returning plain data for the results JSON.

Nothing here writes the report (that is ``bench_report.py``, from the JSON), and
nothing here imports matplotlib.

Timing rule, for every section: each function is compiled ahead of time
(``jax.jit(f).lower(*args).compile()``), called ``warmup`` times, then timed in
``repeats`` rounds in which the contenders take turns in an order that rotates
each round, so that drift of a shared machine hits all of them alike. Each timed
sample is ``inner`` back-to-back calls ended by one ``jax.block_until_ready``,
divided by ``inner`` (``torch.cuda.synchronize`` for PyTorch on a GPU). Results are
medians in milliseconds. Before timing, the contenders' values (and gradients)
are compared; a mismatch is recorded as a warning, never an error.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import bench_cases as bc
import jax
import jax.numpy as jnp
import numpy as np
import optax

import lossjax
from lossjax import _kernels

# -- profiles ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Size:
    """One benchmarked shape and how many timed rounds it gets."""

    shape: tuple[int, int]
    repeats: int


@dataclasses.dataclass(frozen=True)
class LceSize:
    """One linear_cross_entropy size: hidden N×D, weight D×V."""

    n: int
    d: int
    v: int
    repeats: int
    memory_goal: float | None  # fused/naive temporary bytes, at most; None: no goal here


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    elementwise: tuple[Size, ...]
    multiclass: tuple[Size, ...]
    compile_elementwise: tuple[int, int]  # shape whose compile time is measured
    compile_multiclass: tuple[int, int]
    compile_repeats: int
    per_example: tuple[int, int]  # examples, features
    per_example_repeats: int
    linear_ce: tuple[LceSize, ...]
    linear_ce_warmup: int
    warmup: int = 2  # calls after compiling, before timing
    inner: int = 1  # back-to-back calls per timed sample


# Elementwise sizes: 64K, 1M and 16M elements as rows of 1024.
_ELEMENTWISE_FULL = ((64, 1024), (1024, 1024), (16384, 1024))
_MULTICLASS_FULL = ((8192, 1000), (4096, 32000), (1024, 128000))

PROFILES = {
    "quick": Profile(
        name="quick",
        # One size per family: the time goes to compiling, not to running.
        elementwise=(Size((256, 512), 3),),
        multiclass=(Size((128, 1000), 3),),
        compile_elementwise=(256, 512),
        compile_multiclass=(128, 1000),
        compile_repeats=1,
        per_example=(256, 32),
        per_example_repeats=3,
        linear_ce=(LceSize(256, 64, 2048, 3, None), LceSize(256, 64, 8192, 3, None)),
        linear_ce_warmup=1,
        warmup=1,
    ),
    # 2 CPU cores: about 25 minutes. Fewer rounds where one call takes long.
    "cpu": Profile(
        name="cpu",
        elementwise=(
            Size(_ELEMENTWISE_FULL[0], 30),
            Size(_ELEMENTWISE_FULL[1], 20),
            Size(_ELEMENTWISE_FULL[2], 7),
        ),
        multiclass=(
            Size(_MULTICLASS_FULL[0], 15),
            Size(_MULTICLASS_FULL[1], 5),
            Size(_MULTICLASS_FULL[2], 5),
        ),
        compile_elementwise=(1024, 1024),
        compile_multiclass=(8192, 1000),
        compile_repeats=5,
        per_example=(4096, 256),
        per_example_repeats=20,
        linear_ce=(
            LceSize(8192, 1024, 32000, 3, 1 / 10),
            LceSize(8192, 1024, 128000, 2, 1 / 30),
        ),
        # One call at V=128000 takes about 40 s here (the first about 3x longer): one
        # warm-up call and 2 timed rounds.
        linear_ce_warmup=1,
    ),
    # One H100/H200: within 5 minutes; most of it is compiling.
    "gpu": Profile(
        name="gpu",
        elementwise=tuple(Size(s, 20) for s in _ELEMENTWISE_FULL),
        multiclass=tuple(Size(s, 20) for s in _MULTICLASS_FULL),
        compile_elementwise=(1024, 1024),
        compile_multiclass=(8192, 1000),
        compile_repeats=3,
        per_example=(4096, 256),
        per_example_repeats=20,
        linear_ce=(
            LceSize(8192, 1024, 32000, 10, 1 / 10),
            LceSize(8192, 1024, 128000, 10, 1 / 30),
        ),
        linear_ce_warmup=2,
        inner=10,
    ),
}


def override(profile: Profile, repeats: int | None, inner: int | None) -> Profile:
    """The profile with every repeat count set to ``repeats`` and/or ``inner`` replaced."""
    if repeats is not None:
        profile = dataclasses.replace(
            profile,
            elementwise=tuple(dataclasses.replace(s, repeats=repeats) for s in profile.elementwise),
            multiclass=tuple(dataclasses.replace(s, repeats=repeats) for s in profile.multiclass),
            compile_repeats=repeats,
            per_example_repeats=repeats,
            linear_ce=tuple(dataclasses.replace(s, repeats=repeats) for s in profile.linear_ce),
        )
    if inner is not None:
        profile = dataclasses.replace(profile, inner=inner)
    return profile


# -- timing -----------------------------------------------------------------------------------


def interleaved_ms(calls: dict[str, Callable[[], Any]], repeats: int, inner: int) -> dict:
    """Median milliseconds per call of each contender, taking turns in a rotating order.

    Each entry of ``calls`` runs its function ``inner`` times and waits for it.
    """
    names = list(calls)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            calls[name]()
            samples[name].append(time.perf_counter() - start)
    return {n: statistics.median(s) * 1e3 / inner for n, s in samples.items()}


def jax_call(fn: Callable, args: tuple, inner: int) -> Callable[[], Any]:
    def call():
        for _ in range(inner - 1):
            fn(*args)
        return jax.block_until_ready(fn(*args))

    return call


def compile_ahead(fn: Callable, args: Iterable) -> Any:
    """``jax.jit(fn)`` lowered and compiled for ``args`` (arrays or ShapeDtypeStructs)."""
    return jax.jit(fn).lower(*args).compile()


def warm(fn: Callable, args: tuple, times: int) -> Any:
    out = None
    for _ in range(max(times, 1)):
        out = jax.block_until_ready(fn(*args))
    return out


def fresh(fn: Callable) -> Callable:
    """A new function object around ``fn``, so that JAX traces it anew."""
    return lambda *args: fn(*args)


@jax.jit
def _agreement(a, b, rtol, atol_scale):
    """(all finite and |a − b| ≤ atol + rtol·|b| everywhere, max |a − b|), atol from b's scale."""
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    atol = atol_scale * jnp.max(jnp.abs(b), initial=0.0) + 1e-30
    diff = jnp.abs(a - b)
    finite = jnp.all(jnp.isfinite(a)) & jnp.all(jnp.isfinite(b))
    return finite & jnp.all(diff <= atol + rtol * jnp.abs(b)), jnp.max(diff, initial=0.0)


def compare(
    label: str, a, b, *, rtol: float, atol_scale: float, warnings: list[str], what: str
) -> None:
    """Appends a warning unless the pytrees ``a`` and ``b`` agree (see :func:`_agreement`)."""
    for i, (x, y) in enumerate(zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)):
        ok, diff = _agreement(x, y, rtol, atol_scale)
        if not bool(ok):
            part = f" (leaf {i})" if i else ""
            warnings.append(f"{what}: {label}{part} differs (max abs diff {float(diff):.3g})")


def _scalar_check(label, a, b, warnings, what, rtol=2e-4, atol=1e-6):
    a, b = float(a), float(b)
    if not (np.isfinite(a) and np.isfinite(b) and abs(a - b) <= atol + rtol * abs(b)):
        warnings.append(f"{what}: {label} {a!r} vs {b!r}")


# -- PyTorch ----------------------------------------------------------------------------------


class TorchRunner:
    """PyTorch forward and forward+backward calls for the speed section."""

    def __init__(self, device: str):
        import torch

        self.torch = torch
        self.device = device
        self.losses = bc.torch_losses()
        if device == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)

    def tensor(self, a: np.ndarray):
        if a.dtype.kind == "i":
            a = a.astype(np.int64)
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    def _sync(self) -> None:
        if self.device != "cpu":
            self.torch.cuda.synchronize()

    def calls(self, key: str, x, y, mask, inner: int):
        per_element = self.losses[key]

        def loss(a):
            return bc.torch_reduce(per_element(a, y), mask)

        def forward():
            with self.torch.no_grad():
                for _ in range(inner):
                    out = loss(x)
            self._sync()
            return out

        leaf = x.detach().clone().requires_grad_(True)

        def forward_backward():
            for _ in range(inner):
                leaf.grad = None
                out = loss(leaf)
                out.backward()
            self._sync()
            return out

        return forward, forward_backward


def torch_device(choice: str) -> str | None:
    """The PyTorch device to use, or None (with a message) when PyTorch cannot run."""
    try:
        import torch
    except ImportError:
        print("torch not installed: no PyTorch column")
        return None
    if choice == "auto":
        on_gpu = jax.default_backend() == "gpu"
        choice = "cuda" if on_gpu and torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        print("torch has no CUDA device: no PyTorch column")
        return None
    return choice


# -- section 1: forward and value+grad against optax ---------------------------------------------


class Inputs:
    """Device (and, for PyTorch, host) inputs of one shape, made once per kind."""

    def __init__(self, shape: tuple[int, int], keep_host: bool):
        self.shape = shape
        self.keep_host = keep_host
        self._data: dict[str, tuple] = {}
        self._masks: dict[str, tuple] = {}

    def get(self, kind: str):
        """(x, y, x_host, y_host); the host arrays are None unless kept for PyTorch."""
        if kind not in self._data:
            x, y = bc.make_inputs(kind, self.shape)
            dx, dy = jax.device_put(x), jax.device_put(y)
            host = (x, y) if self.keep_host else (None, None)
            self._data[kind] = (dx, dy, *host)
        return self._data[kind]

    def mask(self, case: bc.LossCase):
        if case.family not in self._masks:
            m = bc.make_mask(case, self.shape)
            self._masks[case.family] = (jax.device_put(m), m if self.keep_host else None)
        return self._masks[case.family]


def speed_case(
    case: bc.LossCase,
    size: Size,
    inputs: Inputs,
    masked: bool,
    profile: Profile,
    torch_runner: TorchRunner | None,
) -> dict:
    """Forward and value+grad of lossjax, optax (when shared), the floor and PyTorch."""
    x, y, x_host, y_host = inputs.get(case.inputs)
    mask, mask_host = inputs.mask(case) if masked else (None, None)
    args = (x, y) if mask is None else (x, y, mask)
    warnings: list[str] = []
    libs = ["lossjax", "optax"] if case.shared else ["lossjax"]

    fwd = {lib: compile_ahead(case.loss(lib), args) for lib in libs}
    vg = {lib: compile_ahead(jax.value_and_grad(case.loss(lib)), args) for lib in libs}
    # One floor for both tables, timed in the rounds of each.
    fwd["floor"] = vg["floor"] = compile_ahead(bc.floor_of(case), args)
    out_fwd = {k: warm(f, args, profile.warmup) for k, f in fwd.items()}
    out_vg = {k: warm(f, args, profile.warmup) for k, f in vg.items()}

    lj_value = float(out_fwd["lossjax"])
    if not np.isfinite(lj_value):
        warnings.append(f"lossjax value is not finite ({lj_value})")
    if case.shared:
        _scalar_check("lossjax vs optax", out_fwd["lossjax"], out_fwd["optax"], warnings, "value")
        (v1, g1), (v2, g2) = out_vg["lossjax"], out_vg["optax"]
        _scalar_check("lossjax vs optax", v1, v2, warnings, "value_and_grad value")
        compare(
            "lossjax vs optax",
            g1,
            g2,
            rtol=1e-3,
            atol_scale=1e-5,
            warnings=warnings,
            what="gradient",
        )
    del out_fwd, out_vg

    inner = profile.inner
    calls_fwd = {k: jax_call(f, args, inner) for k, f in fwd.items()}
    calls_vg = {k: jax_call(f, args, inner) for k, f in vg.items()}
    if torch_runner is not None and case.key in torch_runner.losses:
        tx, ty = torch_runner.tensor(x_host), torch_runner.tensor(y_host)
        tm = torch_runner.tensor(mask_host) if masked else None
        t_fwd, t_vg = torch_runner.calls(case.key, tx, ty, tm, inner)
        for _ in range(max(profile.warmup, 1)):
            t_value = float(t_fwd())
            t_vg()
        _scalar_check("PyTorch vs lossjax", t_value, lj_value, warnings, "value")
        calls_fwd["torch"], calls_vg["torch"] = t_fwd, t_vg

    return {
        "case": case.key,
        "title": case.title,
        "family": case.family,
        "shared": case.shared,
        "shape": list(size.shape),
        "where": masked,
        "repeats": size.repeats,
        "fwd": interleaved_ms(calls_fwd, size.repeats, inner),
        "vg": interleaved_ms(calls_vg, size.repeats, inner),
        "warnings": warnings,
    }


def speed_section(
    cases: list[bc.LossCase], profile: Profile, torch_runner: TorchRunner | None, log
) -> list[dict]:
    rows = []
    for family, sizes in (
        (bc.ELEMENTWISE, profile.elementwise),
        (bc.MULTICLASS, profile.multiclass),
    ):
        chosen = [c for c in cases if c.family == family]
        if not chosen:
            continue
        for size in sizes:
            # Cases of one input kind in a row, so that each kind is made once per shape.
            inputs = Inputs(size.shape, keep_host=torch_runner is not None)
            for case in sorted(chosen, key=lambda c: c.inputs):
                for masked in (False, True):
                    label = f"{case.key} {size.shape[0]}x{size.shape[1]}" + (
                        " where" if masked else ""
                    )
                    row = _guarded(
                        log, label, speed_case, case, size, inputs, masked, profile, torch_runner
                    )
                    if row is not None:
                        rows.append(row)
                        log(_speed_line(row))
            del inputs
    return rows


def _speed_line(row: dict) -> str:
    lj, ox = row["vg"]["lossjax"], row["vg"].get("optax")
    text = f"    value+grad lossjax {lj:.3f} ms"
    if ox is not None:
        text += f", optax {ox:.3f} ms ({lj / ox:.2f}×)"
    return text + "".join(f"\n    WARNING: {w}" for w in row["warnings"])


def _guarded(log, label: str, fn: Callable, *args):
    """Runs one measurement; an exception is logged and the row skipped, not raised."""
    start = time.perf_counter()
    try:
        result = fn(*args)
        log(f"  {label} ({time.perf_counter() - start:.1f} s)")
        return result
    except Exception as error:  # a broken loss must not stop the other measurements
        import traceback

        log(f"  {label}: ERROR {type(error).__name__}: {error}")
        traceback.print_exc()
        return None


# -- section 2: compile time ------------------------------------------------------------------


def _structs(case: bc.LossCase, shape: tuple[int, int]):
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    if case.inputs == "sparse":
        return x, jax.ShapeDtypeStruct(shape[:1], jnp.int32)
    return x, x


def compile_case(case: bc.LossCase, shape, repeats: int) -> dict:
    """Wall time of ``jax.jit(f).lower(...).compile()`` of fresh functions, lossjax and optax
    taking turns; the first compile of each is kept apart (the one a user waits for)."""
    structs = _structs(case, shape)
    row = {"case": case.key, "title": case.title, "shape": list(shape), "repeats": repeats}
    for what in ("fwd", "vg"):
        samples: dict[str, list[float]] = {"lossjax": [], "optax": []}
        for r in range(repeats):
            order = ["lossjax", "optax"] if r % 2 == 0 else ["optax", "lossjax"]
            for lib in order:
                fn = fresh(case.loss(lib))
                if what == "vg":
                    fn = jax.value_and_grad(fn)
                start = time.perf_counter()
                compile_ahead(fn, structs)
                samples[lib].append((time.perf_counter() - start) * 1e3)
        row[what] = {
            lib: {"median": statistics.median(s), "first": s[0]} for lib, s in samples.items()
        }
    return row


def compile_section(cases: list[bc.LossCase], profile: Profile, log) -> list[dict]:
    # One unrelated compile first: the process's one-time costs go to neither library.
    compile_ahead(lambda a: jnp.sum(jnp.tanh(a)), (jnp.ones(8),))
    rows = []
    for case in cases:
        if not case.shared:
            continue
        shape = (
            profile.compile_elementwise
            if case.family == bc.ELEMENTWISE
            else profile.compile_multiclass
        )
        row = _guarded(
            log, f"compile {case.key}", compile_case, case, shape, profile.compile_repeats
        )
        if row is not None:
            rows.append(row)
            lj, ox = row["vg"]["lossjax"]["median"], row["vg"]["optax"]["median"]
            log(f"    value+grad compile lossjax {lj:.0f} ms, optax {ox:.0f} ms")
    return rows


# -- section 3: per-example gradients ---------------------------------------------------------

# model key: (title, outputs, lossjax loss of one example, optax loss of one example)
PER_EXAMPLE_MODELS = {
    "sparse_ce": (
        "linear {d}→10, sparse CE",
        10,
        lambda z, y: lossjax.sparse_categorical_cross_entropy(z, y),
        lambda z, y: optax.losses.softmax_cross_entropy_with_integer_labels(z, y),
    ),
    "squared_error": (
        "linear {d}→1, squared error",
        1,
        lambda z, y: lossjax.mean_squared_error(z, y),
        lambda z, y: jnp.mean(optax.losses.squared_error(z, y)),
    ),
    "bce": (
        "linear {d}→1, sigmoid BCE",
        1,
        lambda z, y: lossjax.binary_cross_entropy(z, y),
        lambda z, y: jnp.mean(optax.losses.sigmoid_binary_cross_entropy(z, y)),
    ),
}


def per_example_case(key: str, n: int, d: int, profile: Profile) -> dict:
    """``jax.vmap(jax.grad(loss_of_params))`` over ``n`` examples of a linear layer."""
    title, outputs, lossjax_loss, optax_loss = PER_EXAMPLE_MODELS[key]
    rng = np.random.default_rng(0)
    features = jnp.asarray(rng.standard_normal((n, d), dtype=np.float32))
    params = {
        "w": jnp.asarray(rng.standard_normal((d, outputs), dtype=np.float32) / np.sqrt(d)),
        "b": jnp.zeros((outputs,), jnp.float32),
    }
    if key == "sparse_ce":
        targets = jnp.asarray(rng.integers(0, outputs, size=n).astype(np.int32))
    elif key == "bce":
        targets = jnp.asarray((rng.random((n, 1)) < 0.5).astype(np.float32))
    else:
        targets = jnp.asarray(rng.standard_normal((n, 1), dtype=np.float32))
    args = (params, features, targets)

    def per_example_grads(loss):
        def loss_of_params(p, x, y):  # one example: x (d,), y () or (1,)
            return loss(x @ p["w"] + p["b"], y)

        return jax.vmap(jax.grad(loss_of_params), in_axes=(None, 0, 0))

    fns = {
        "lossjax": compile_ahead(per_example_grads(lossjax_loss), args),
        "optax": compile_ahead(per_example_grads(optax_loss), args),
    }
    outs = {k: warm(f, args, profile.warmup) for k, f in fns.items()}
    warnings: list[str] = []
    compare(
        "lossjax vs optax",
        outs["lossjax"],
        outs["optax"],
        rtol=1e-4,
        atol_scale=1e-6,
        warnings=warnings,
        what="per-example gradients",
    )
    del outs
    calls = {k: jax_call(f, args, profile.inner) for k, f in fns.items()}
    return {
        "model": key,
        "title": title.format(d=d),
        "examples": n,
        "features": d,
        "repeats": profile.per_example_repeats,
        "ms": interleaved_ms(calls, profile.per_example_repeats, profile.inner),
        "warnings": warnings,
    }


def per_example_section(keys: list[str], profile: Profile, log) -> list[dict]:
    n, d = profile.per_example
    rows = []
    for key in keys:
        row = _guarded(log, f"per-example {key}", per_example_case, key, n, d, profile)
        if row is not None:
            rows.append(row)
            lj, ox = row["ms"]["lossjax"], row["ms"]["optax"]
            log(f"    lossjax {lj:.3f} ms, optax {ox:.3f} ms ({lj / ox:.2f}×)")
    return rows


# -- section 4: linear_cross_entropy ----------------------------------------------------------


def naive_linear_ce(hidden, weight, labels):
    return lossjax.sparse_categorical_cross_entropy(hidden @ weight, labels)


def fused_linear_ce(block_size: int | None = None):
    kwargs = {} if block_size is None else {"block_size": block_size}

    def loss(hidden, weight, labels):
        return lossjax.linear_cross_entropy(hidden, weight, labels, **kwargs)

    return loss


def linear_ce_case(
    size: LceSize, warmup: int, block_sizes: tuple[int | None, ...] = (None,)
) -> dict:
    """Compiled temporaries (forward; value+grad) and value+grad time, w.r.t. the hidden
    states and the weight, of the naive ``h @ W`` + sparse CE and the fused loss."""
    n, d, v = size.n, size.d, size.v
    rng = np.random.default_rng(0)
    hidden = jax.device_put(rng.standard_normal((n, d), dtype=np.float32) / np.float32(np.sqrt(d)))
    weight = jax.device_put(rng.standard_normal((d, v), dtype=np.float32))
    labels = jax.device_put(rng.integers(0, v, size=n).astype(np.int32))
    args = (hidden, weight, labels)

    contenders = {"naive": naive_linear_ce}
    for b in block_sizes:
        contenders["fused" if b is None else f"fused b={b}"] = fused_linear_ce(b)
    temp: dict[str, dict[str, int]] = {}
    steps = {}
    for name, loss in contenders.items():
        forward = compile_ahead(loss, args)
        steps[name] = compile_ahead(jax.value_and_grad(loss, argnums=(0, 1)), args)
        temp[name] = {
            "fwd": int(forward.memory_analysis().temp_size_in_bytes),
            "vg": int(steps[name].memory_analysis().temp_size_in_bytes),
        }
        del forward
    warnings: list[str] = []
    reference = None
    for name, step in steps.items():
        out = warm(step, args, warmup)
        if reference is None:
            reference = out
        else:
            _scalar_check(f"{name} vs naive", out[0], reference[0], warnings, "value", rtol=1e-4)
            compare(
                f"{name} vs naive",
                out[1],
                reference[1],
                rtol=1e-3,
                atol_scale=1e-4,
                warnings=warnings,
                what="gradient",
            )
        del out
    del reference
    calls = {k: jax_call(f, args, 1) for k, f in steps.items()}
    return {
        "n": n,
        "d": d,
        "v": v,
        "repeats": size.repeats,
        "warmup": warmup,
        "memory_goal": size.memory_goal,
        "block_size": lossjax.linear_cross_entropy.__kwdefaults__.get("block_size"),
        "temp_bytes": temp,
        "ms": interleaved_ms(calls, size.repeats, 1),
        "warnings": warnings,
    }


def linear_ce_section(profile: Profile, log) -> list[dict]:
    rows = []
    for size in profile.linear_ce:
        label = f"linear_cross_entropy N={size.n} D={size.d} V={size.v}"
        row = _guarded(log, label, linear_ce_case, size, profile.linear_ce_warmup)
        if row is not None:
            rows.append(row)
            t, ms = row["temp_bytes"], row["ms"]
            log(
                f"    temp fused/naive {t['fused']['vg'] / max(t['naive']['vg'], 1):.3f}, "
                f"time fused/naive {ms['fused'] / ms['naive']:.2f}"
            )
    return rows


# -- section 5: kernel modes ------------------------------------------------------------------


_METADATA = re.compile(r',? metadata=\{(?:[^{}"]|"[^"]*")*\}')
_NAME = re.compile(r"%[\w.\-]+|(?<=[(,] )[A-Za-z_][\w.\-]*(?=: )|(?<=\()[A-Za-z_][\w.\-]*(?=: )")


def program_text(compiled) -> str:
    """The optimised HLO of ``compiled`` without what differs between two traces of the
    same computation: the module line, the source-location tables, op metadata, and the
    names of instructions and computations (renumbered in order of appearance)."""
    text = compiled.as_text() or ""
    first = [i for i in (text.find("\n%"), text.find("\nENTRY")) if i >= 0]
    body = _METADATA.sub("", text[min(first) :] if first else text)
    names: dict[str, str] = {}
    return _NAME.sub(lambda m: names.setdefault(m.group(0), f"%n{len(names)}"), body)


def kernel_case(
    kernel_name: str,
    case: bc.LossCase,
    size: Size,
    inputs: Inputs,
    masked: bool,
    inner: int,
    warmup: int,
) -> dict:
    """Forward and value+grad of one loss with its kernel ("auto") and without ("reference").

    The mode is read while tracing: each mode gets fresh functions, traced and compiled
    inside its ``lossjax.kernels(mode)`` block.
    """
    x, y, _, _ = inputs.get(case.inputs)
    mask = inputs.mask(case)[0] if masked else None
    args = (x, y) if mask is None else (x, y, mask)
    compiled: dict[str, dict[str, Any]] = {"fwd": {}, "vg": {}}
    for mode, label in (("auto", "kernel"), ("reference", "reference")):
        with lossjax.kernels(mode):
            compiled["fwd"][label] = compile_ahead(fresh(case.lossjax_loss), args)
            vg = jax.value_and_grad(fresh(case.lossjax_loss))
            compiled["vg"][label] = compile_ahead(vg, args)
    warnings: list[str] = []
    row: dict[str, Any] = {
        "kernel": kernel_name,
        "case": case.key,
        "title": case.title,
        "shape": list(size.shape),
        "where": masked,
        "repeats": size.repeats,
        "same_program": {},
        "warnings": warnings,
    }
    for what, fns in compiled.items():
        row["same_program"][what] = program_text(fns["kernel"]) == program_text(fns["reference"])
        outs = {k: warm(f, args, warmup) for k, f in fns.items()}
        if what == "fwd":
            _scalar_check(
                "kernel vs reference", outs["kernel"], outs["reference"], warnings, "value"
            )
        else:
            compare(
                "kernel vs reference",
                outs["kernel"][1],
                outs["reference"][1],
                rtol=1e-4,
                atol_scale=1e-6,
                warnings=warnings,
                what="gradient",
            )
        del outs
        calls = {k: jax_call(f, args, inner) for k, f in fns.items()}
        row[what] = interleaved_ms(calls, size.repeats, inner)
    return row


def kernels_section(cases: list[bc.LossCase], profile: Profile, log) -> dict:
    registered = _kernels.registered()
    result: dict[str, Any] = {
        "registered": {name: list(k.backends) for name, k in registered.items()},
        "backend": jax.default_backend(),
        "rows": [],
        "unmatched": [],
    }
    if not registered:
        log("  no kernel registered")
        return result
    for name in sorted(registered):
        matching = [c for c in bc.CASES if c.lossjax_name == name]
        if not matching:
            result["unmatched"].append(name)
            log(f"  kernel {name}: no benchmark case calls lossjax.{name}")
            continue
        if result["backend"] not in registered[name].backends:
            log(
                f"  kernel {name}: not used on {result['backend']} (backends "
                f"{', '.join(registered[name].backends)}): not timed"
            )
            continue
        for case in (c for c in matching if c in cases):
            sizes = profile.elementwise if case.family == bc.ELEMENTWISE else profile.multiclass
            for size in sizes:
                inputs = Inputs(size.shape, keep_host=False)
                for masked in (False, True):
                    label = f"kernel {name}: {case.key} {size.shape[0]}x{size.shape[1]}" + (
                        " where" if masked else ""
                    )
                    row = _guarded(
                        log,
                        label,
                        kernel_case,
                        name,
                        case,
                        size,
                        inputs,
                        masked,
                        profile.inner,
                        profile.warmup,
                    )
                    if row is not None:
                        result["rows"].append(row)
                        k, r = row["vg"]["kernel"], row["vg"]["reference"]
                        log(
                            f"    value+grad kernel {k:.3f} ms, reference {r:.3f} ms "
                            f"(reference/kernel {r / k:.2f}×)"
                        )
                del inputs
    return result


# -- the machine ------------------------------------------------------------------------------


def _cpu_model() -> str:
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
        return getattr(__import__(module), "__version__", "?")
    except Exception:
        return "not installed"


def machine(torch_dev: str | None, steady: str) -> dict[str, str]:
    dev = jax.devices()[0]
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    info = {
        "Date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        "Processor": f"{_cpu_model()} ({platform.machine()}), {cores} cores ({usable} usable)",
        "Memory": _memory(),
        "OS": platform.platform(),
        "JAX device": f"{dev.platform} / {dev.device_kind} ({jax.device_count()} device(s))",
        "Versions": (
            f"Python {platform.python_version()}, jax {jax.__version__}, "
            f"jaxlib {_version('jaxlib')}, optax {optax.__version__}, numpy {np.__version__}, "
            f"lossjax {lossjax.__version__}, torch {_version('torch') if torch_dev else 'not used'}"
        ),
        "lossjax kernel mode": lossjax.get_kernels(),
        "Process settings": steady,
    }
    if torch_dev:
        info["PyTorch device"] = torch_dev
    if os.environ.get("XLA_FLAGS"):
        info["XLA_FLAGS"] = f"`{os.environ['XLA_FLAGS']}`"
    return info
