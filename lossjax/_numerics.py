"""One copy of each numerically delicate primitive the losses share.

Each is a short formula whose stability a reader can see; none steers a
compiler. The losses call these rather than writing their own variants.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lossjax import _checks

# PyTorch's BCELoss floors each log at -100, so that a probability of exactly
# 0 or 1 gives a finite loss (at most 100 per entry).
LOG_FLOOR = -100.0


def sigmoid_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """``-y log sigmoid(z) - (1 - y) log sigmoid(-z)`` as ``y softplus(-z) + (1 - y) softplus(z)``.

    Both softplus terms are non-negative and never overflow, so the value is
    exact for any logit (``|z| = 1e4`` included); ``jax.nn.softplus`` has the
    exact derivative ``sigmoid`` and second derivative (``1/4`` at ``z = 0``).
    """
    return labels * jax.nn.softplus(-logits) + (1.0 - labels) * jax.nn.softplus(logits)


def floored_log(x: jax.Array) -> jax.Array:
    """``max(log x, -100)``; exactly -100, with a zero (not NaN) gradient, where ``x <= 0``."""
    positive = x > 0
    log_x = jnp.log(jnp.where(positive, x, 1.0))  # the unused branch stays finite
    return jnp.where(positive, jnp.maximum(log_x, LOG_FLOOR), LOG_FLOOR)


def floored_log1m(x: jax.Array) -> jax.Array:
    """``max(log(1 - x), -100)`` without the rounding of ``1 - x``; -100 where ``x >= 1``."""
    below = x < 1
    log1m_x = jnp.log1p(-jnp.where(below, x, 0.0))
    return jnp.where(below, jnp.maximum(log1m_x, LOG_FLOOR), LOG_FLOOR)


def probabilities_to_logits(p: jax.Array) -> jax.Array:
    """``log p - log(1 - p)`` with both logs floored at -100 (so 0 -> -100 and 1 -> 100)."""
    return floored_log(p) - floored_log1m(p)


def safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator``, and 0 with zero gradients where the denominator is 0."""
    nonzero = denominator != 0
    safe = jnp.where(nonzero, denominator, jnp.ones((), denominator.dtype))
    return jnp.where(nonzero, numerator / safe, jnp.zeros((), numerator.dtype))


def x_log_y(x: jax.Array, log_y: jax.Array) -> jax.Array:
    """``x * log_y`` with ``0 * log 0 = 0``, in the value and in every gradient.

    Only the product of a zero ``x`` with ``log_y = -inf`` (an excluded class)
    is replaced; the derivative with respect to a zero ``x`` elsewhere is
    ``log_y``, as it should be. The replacement sits inside the product so
    that no cotangent ever meets ``0 * inf``.
    """
    zero_times_inf = (x == 0) & jnp.isneginf(log_y)
    return x * jnp.where(zero_times_inf, jnp.zeros((), log_y.dtype), log_y)


def is_static_zero(value: Any) -> bool:
    """True when ``value`` is known at trace time and is 0 everywhere (an unused option)."""
    return _checks.is_static(value) and bool(np.all(np.asarray(value) == 0))


def smooth_binary_labels(labels: jax.Array, label_smoothing: jax.Array | None) -> jax.Array:
    """``y (1 - eps) + eps / 2`` (PyTorch and Keras convention); ``labels`` when ``eps`` is None."""
    if label_smoothing is None:
        return labels
    return labels * (1.0 - label_smoothing) + 0.5 * label_smoothing


def label_signs(labels: jax.Array, dtype: Any) -> jax.Array:
    """Binary labels as signs in ``dtype``: +1 where ``labels > 0``, -1 elsewhere.

    Labels in {0, 1} (float, integer or bool) and in {-1, +1} are both accepted
    as they are; the binary margin losses (hinge, squared hinge, perceptron,
    sparsemax) all read their labels through this one mapping.
    """
    return jnp.where(labels > 0, 1.0, -1.0).astype(dtype)


def safe_sqrt(x: jax.Array) -> jax.Array:
    """``sqrt(x)`` for ``x >= 0`` whose derivative at 0 is 0 instead of NaN."""
    positive = x > 0
    # Double `where`: the sqrt never sees 0, so its derivative is finite.
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, jnp.ones_like(x))), 0.0)


def power_of_two_exponent(magnitude: jax.Array) -> jax.Array:
    """The ``e`` of ``magnitude = f 2**e``, ``f`` in ``[1/2, 1)`` (0 for 0), held constant.

    Clipped so that ``2**e`` and ``2**-e`` are normal numbers of the dtype.
    Multiplying by ``2**-e`` is exact, so a loss that does not depend on the
    scale of its inputs can rescale them by it to keep squares and their
    derivatives within range.
    """
    _, exponent = jnp.frexp(jax.lax.stop_gradient(magnitude))
    limit = jnp.finfo(magnitude.dtype).maxexp - 2
    return jnp.clip(exponent, -limit, limit)


def norm_floor(dtype: Any) -> float:
    """``sqrt(tiny)`` of ``dtype``: 2**-63 for float32/bfloat16, 2**-7 for float16.

    Dividing by ``max(||x||, floor)`` bounds the gradient of ``x / ||x||``
    (which grows like ``1 / ||x||``) by ``1 / floor``, about the square root of
    the largest finite number of the input's dtype, so the gradient cast back
    to that dtype stays finite; for float32 the floor is far below any real
    embedding norm.
    """
    return math.sqrt(float(jnp.finfo(dtype).tiny))


def safe_normalize(x: jax.Array, floor: float) -> jax.Array:
    """``x / max(||x||, floor)`` along the last axis, finitely differentiable everywhere.

    Computed as ``u / max(||u||, floor / 2**e)`` with ``u = x / 2**e`` and
    ``2**e`` the power of two just above the largest absolute entry
    (:func:`power_of_two_exponent`), which is exact because the result does
    not depend on it. Then ``||u||`` lies in ``[1/2, sqrt(D)]``: the squared
    norm neither overflows nor underflows, and no intermediate of the
    derivative is larger than the derivative itself (dividing by
    ``max(||x||, floor)**2`` directly would overflow near the floor). The zero
    vector maps to itself.
    """
    exponent = power_of_two_exponent(jnp.max(jnp.abs(x), axis=-1, keepdims=True, initial=0.0))
    # (Multiplying by 2**-e is exact; dividing by the maximum would flush to 0 above 2**126.)
    scale = jnp.ldexp(jnp.ones((), x.dtype), -exponent)
    x = x * scale
    norm = safe_sqrt(jnp.sum(jnp.square(x), axis=-1, keepdims=True))
    return x / jnp.maximum(norm, floor * scale)


def safe_power(x: jax.Array, exponent: Any) -> jax.Array:
    """``x ** exponent`` for ``x >= 0``: 0 with a zero derivative where ``x == 0``.

    (``0 ** p`` has an infinite derivative for ``p < 1`` and a NaN one in the exponent.)
    """
    positive = x > 0
    power = jnp.power(jnp.where(positive, x, jnp.ones_like(x)), exponent)
    return jnp.where(positive, power, jnp.zeros((), power.dtype))
