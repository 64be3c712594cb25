"""Steering XLA's fusion of a value and its hand-written derivative.

On XLA:CPU a jitted ``value_and_grad`` of an elementwise loss takes at least
two passes over its inputs, because no fusion there yields a reduction and an
elementwise array together: the sum of the values, and the gradient. The
lowest traffic is then to read the inputs in each pass and share nothing:
XLA does not recompute an intermediate used by both passes (nor a broadcast
constant they both use), it writes it to memory and reads it back. So the
losses compute their values from inputs and constants passed through
:func:`apart`, and their ``custom_jvp`` rules compute the derivative from the
originals. Other platforms fuse the two passes themselves, and there
:func:`apart` is the identity.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def _barrier(*arrays: Any) -> tuple[Any, ...]:
    return jax.lax.optimization_barrier(arrays)


def _unchanged(*arrays: Any) -> tuple[Any, ...]:
    return arrays


def apart(*arrays: Any) -> tuple[Any, ...]:
    """``arrays`` unchanged; on CPU behind an optimization barrier.

    The platform is read while tracing (the default backend), not with
    ``lax.platform_dependent``: its two branches would disagree on which values
    vary across devices inside ``shard_map`` (the barrier marks its outputs as
    varying). The barrier only steers fusion, so a program traced for the CPU
    and run elsewhere is still correct.
    """
    return _barrier(*arrays) if jax.default_backend() == "cpu" else _unchanged(*arrays)


def values_in_loop(reduction: str, where: Any) -> bool:
    """Whether XLA:CPU computes a loss's values in an elementwise loop.

    With ``reduction="none"`` the values are the output, and with a ``where``
    mask they pass through a select, which the reduction fusion cannot take:
    either way an elementwise loop writes them. Otherwise they go straight into
    the reduction fusion. The two favour different forms of ``log1p`` and
    ``expm1`` (see :func:`log1p_series`).
    """
    return reduction == "none" or where is not None


def constants(dtype: Any, *values: float) -> tuple[jax.Array, ...]:
    """Scalar constants of ``dtype``, to pass through :func:`apart` with the inputs."""
    return tuple(jnp.asarray(v, dtype) for v in values)


# log1p(x) = 2 atanh(u / 2) with u = x / (1 + x / 2), and |u| <= 2/3 for x in
# [-1/2, 1]: the odd Taylor series of atanh in powers of u^2, to (u/2)^15
# (truncation below 2e-9 relative).
_ATANH_SERIES = tuple(1.0 / ((2 * k + 1) * 4.0**k) for k in range(8))


def log1p_series(x: jax.Array) -> jax.Array:
    """``log1p(x)`` for ``x`` in [-1/2, 1], to float32 accuracy, from one division and a polynomial.

    For values computed in an elementwise loop: XLA:CPU's loop ``log1p`` costs
    several ``exp``, this about one. (Inside a reduction fusion ``jnp.log1p`` is
    the faster one.) float64 keeps ``jnp.log1p``.
    """
    if jnp.finfo(x.dtype).bits > 32:
        return jnp.log1p(x)
    # u = x * (1 / ...), not x / (...): XLA:CPU does not fuse an expensive
    # producer (a division) into a consumer that multiplies it by itself.
    u = x * (1.0 / (1.0 + 0.5 * x))
    u2 = u * u
    series = jnp.asarray(_ATANH_SERIES[-1], x.dtype)
    for c in _ATANH_SERIES[-2::-1]:
        series = series * u2 + c
    return u * series
