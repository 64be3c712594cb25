"""Kernel: an elementwise loss whose value and derivative share nothing (XLA:CPU).

On XLA:CPU a jitted ``value_and_grad`` of an elementwise loss takes two passes
over its inputs, because no CPU fusion yields a reduction and an elementwise
array together: the sum of the values, and the gradient. XLA does not
recompute an intermediate that both passes use (``|e|``, a broadcast ``delta``):
it writes it to memory and reads it back. Computing the value from inputs
passed through an optimization barrier, and the derivative from the
originals, makes the two passes independent, so no full-size temporary is
written. Other backends fuse the two passes themselves; the dispatcher uses
this kernel only on the CPU, where it was measured.

The mathematics is the reference's: ``value(e, *params)`` is the reference
formula of the error ``e = p - t``, and ``slope``/``param_slope`` are its
derivatives, given by the topic module beside the reference.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero


def split_passes(
    value: Callable[..., jax.Array],
    slope: Callable[..., jax.Array],
    param_slope: Callable[..., jax.Array] | None = None,
) -> Callable[..., jax.Array]:
    """``f(p, t, *params) = value(p - t, *params)`` with the derivative from ``slope``.

    ``slope(e, *params)`` is dl/de and ``param_slope(e, *params)`` dl/d(param)
    for the one hyperparameter, if any.
    """

    @jax.custom_jvp
    def loss(predictions, targets, *params):
        predictions, targets, *params = jax.lax.optimization_barrier(
            (predictions, targets, *params)
        )
        return value(predictions - targets, *params)

    def loss_jvp(primals, tangents):
        predictions, targets, *params = primals
        predictions_dot, targets_dot, *params_dot = tangents
        out = loss(*primals)
        error = predictions - targets
        tangent = jnp.zeros_like(out)
        # Symbolic zeros: a constant target or hyperparameter adds no work.
        if not isinstance(predictions_dot, SymbolicZero):
            tangent = tangent + slope(error, *params) * predictions_dot
        if not isinstance(targets_dot, SymbolicZero):
            tangent = tangent - slope(error, *params) * targets_dot
        for param_dot in params_dot:
            if not isinstance(param_dot, SymbolicZero):
                assert param_slope is not None
                tangent = tangent + param_slope(error, *params) * param_dot
        return out, tangent

    loss.defjvp(loss_jvp, symbolic_zeros=True)
    return loss
