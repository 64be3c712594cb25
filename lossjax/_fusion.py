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


def constants(dtype: Any, *values: float) -> tuple[jax.Array, ...]:
    """Scalar constants of ``dtype``, to pass through :func:`apart` with the inputs."""
    return tuple(jnp.asarray(v, dtype) for v in values)
