"""Trace-time argument checks and dtype handling shared by every loss.

Everything here runs while JAX traces a function: it looks only at shapes,
dtypes and Python values, so it costs nothing at run time and fails the same
way on CPU, GPU and TPU. Messages always name the argument and show what was
received, because a loss that silently broadcasts ``(N, 1)`` against ``(N,)``
trains a wrong model without ever raising.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None:
        return f"{type(x).__name__} {x!r}"
    return f"{dtype}{list(shape)}"


def as_array(name: str, x: Any) -> jax.Array:
    """Converts ``x`` to a JAX array, with an error naming ``name`` on failure."""
    if x is None:
        raise TypeError(f"lossjax: `{name}` is required, got None.")
    try:
        return jnp.asarray(x)
    except TypeError as e:
        raise TypeError(f"lossjax: `{name}` must be an array, got {type(x).__name__}.") from e


def check_floating(name: str, x: Any) -> jax.Array:
    """Returns ``x`` as an array; raises TypeError unless its dtype is floating."""
    x = as_array(name, x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"lossjax: `{name}` must be a floating-point array, got {_describe(x)}. "
            f"Cast it first, e.g. `{name}.astype(jnp.float32)`."
        )
    return x


def check_real(name: str, x: Any) -> jax.Array:
    """Returns ``x`` as an array; accepts float, integer and bool (not complex)."""
    x = as_array(name, x)
    if not (
        jnp.issubdtype(x.dtype, jnp.floating)
        or jnp.issubdtype(x.dtype, jnp.integer)
        or x.dtype == jnp.bool_
    ):
        raise TypeError(f"lossjax: `{name}` must be a real array, got {_describe(x)}.")
    return x


def check_integer(name: str, x: Any) -> jax.Array:
    """Returns ``x`` as an array; raises TypeError unless its dtype is integer."""
    x = as_array(name, x)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(
            f"lossjax: `{name}` must be an integer array of class indices, got {_describe(x)}. "
            "For probability or one-hot targets use categorical_cross_entropy."
        )
    return x


def check_same_shape(name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
    """Raises ValueError unless ``a`` and ``b`` have exactly the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"lossjax: `{name_a}` and `{name_b}` must have the same shape, got "
            f"{name_a}.shape={tuple(a.shape)} and {name_b}.shape={tuple(b.shape)}. "
            "lossjax never broadcasts them silently; reshape one explicitly "
            "(a (N, 1) against (N,) mismatch is the usual cause)."
        )


def check_rank(name: str, x: jax.Array, rank: int | Sequence[int]) -> None:
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    if x.ndim not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ValueError(
            f"lossjax: `{name}` must have rank {want}, got shape {tuple(x.shape)} (rank {x.ndim})."
        )


def normalize_axis(name: str, axis: int, ndim: int) -> int:
    """Returns ``axis`` as a non-negative index into an array of rank ``ndim``."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"lossjax: `{name}` must be a Python int, got {axis!r}.")
    if not -ndim <= axis < ndim:
        raise ValueError(f"lossjax: `{name}`={axis} is out of range for an array of rank {ndim}.")
    return int(axis) % ndim


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(
            f"lossjax: `{name}` must be one of {', '.join(repr(c) for c in choices)}; got {value!r}."
        )


def check_flag(name: str, value: Any) -> None:
    """Raises TypeError unless ``value`` is a Python or NumPy bool (it selects a formula at trace time)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"lossjax: `{name}` must be a Python bool, got {value!r}. It selects the formula "
            "at trace time and cannot be a traced value."
        )


def check_ignore_index(ignore_index: Any) -> None:
    """Raises TypeError unless ``ignore_index`` is None or a Python int (a bool is not)."""
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral)
    ):
        raise TypeError(
            f"lossjax: `ignore_index` must be a Python int or None, got {ignore_index!r}."
        )


def check_reduction(reduction: Any) -> None:
    check_choice("reduction", reduction, REDUCTIONS)


def is_static(value: Any) -> bool:
    """True when ``value`` is known while tracing (a Python or NumPy number/array)."""
    return not isinstance(value, jax.core.Tracer)


def check_hyperparameter(
    name: str,
    value: Any,
    *,
    lower: float | None = None,
    upper: float | None = None,
    lower_open: bool = False,
    upper_open: bool = False,
) -> None:
    """Range-checks a hyperparameter when its value is known at trace time.

    Traced hyperparameters (inside ``jax.jit`` or ``jax.vmap``, or under
    ``jax.grad`` with respect to the hyperparameter) cannot be inspected without
    ``checkify`` and are passed through unchecked.
    """
    if value is None or not is_static(value):
        return
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"lossjax: `{name}` must be a real number, got {value!r}.")
    bad = np.zeros(arr.shape, dtype=bool)
    if lower is not None:
        bad |= arr <= lower if lower_open else arr < lower
    if upper is not None:
        bad |= arr >= upper if upper_open else arr > upper
    bad |= np.isnan(arr)
    if bad.any():
        lo = "" if lower is None else f"{'(' if lower_open else '['}{lower}"
        hi = "" if upper is None else f"{upper}{')' if upper_open else ']'}"
        if lower is not None and upper is not None:
            want = f"in {lo}, {hi}"
        elif lower is not None:
            want = f"{'>' if lower_open else '>='} {lower}"
        elif upper is not None:
            want = f"{'<' if upper_open else '<='} {upper}"
        else:
            want = "a real number, not NaN"
        shown = value if arr.ndim == 0 else arr[bad].tolist()
        raise ValueError(f"lossjax: `{name}` must be {want}, got {shown!r}.")


def compute_dtype(*arrays: Any) -> jnp.dtype:
    """The dtype a loss computes in: the inputs' float type, at least float32.

    bfloat16 and float16 inputs are upcast so that logs, exps and the reduction
    are not quantised; float64 stays float64 when x64 is enabled.
    """
    dtype = jnp.dtype(jnp.float32)
    for a in arrays:
        if a is not None and jnp.issubdtype(jnp.result_type(a), jnp.floating):
            dtype = jnp.promote_types(dtype, jnp.result_type(a))
    return dtype


def hyperparameter(value: Any, dtype: jnp.dtype) -> jax.Array:
    """A (possibly traced) hyperparameter as an array of the compute dtype."""
    return jnp.asarray(value).astype(dtype)
