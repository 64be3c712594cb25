"""Regression losses: squared, absolute, Huber and log-cosh error.

All four are elementwise: ``reduction="none"`` returns the predictions' shape.

Derivative rule for log-cosh: :func:`log_cosh_loss` goes through a private
function with a ``jax.custom_jvp`` rule, ``d/de log cosh(e) = tanh(e)``. A
``custom_jvp`` (rather than ``custom_vjp``) is used because JAX derives
reverse mode from it by transposition, so ``jax.grad``, ``jax.jvp``,
``jax.hessian`` and Hessian-vector products all work, while a bare
``custom_vjp`` makes forward mode raise. The rule is needed because the
stable value uses two branches (a series below ``|e| = 0.5``, a log1p form
above), and autodiff through the unused branch would give ``inf * 0 = nan``
for huge errors; the rule also lets the value and the derivative share one
``expm1`` per element, so value and gradient together cost one ``expm1``, one
``log1p`` and one division per element.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from lossjax import _checks
from lossjax._reduction import AxisName, prepare_pair, reduce_loss

_LOG2 = math.log(2.0)


def mean_squared_error(
    predictions: Any,
    targets: Any,
    *,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Squared error :math:`l_i = (\hat y_i - y_i)^2`, reduced by :func:`reduce_loss`.

    Args:
        predictions: floating array of predictions, any shape.
        targets: array of targets with exactly the shape of ``predictions``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean under
            ``shard_map``/``pmap``.

    Returns:
        The reduced loss (float32 at least), or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.mean_squared_error(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0]))
        Array(2., dtype=float32)

    References:
        scikit-learn ``sklearn.metrics.mean_squared_error``.
    """
    _checks.check_reduction(reduction)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where
    )
    values = jnp.square(predictions - targets)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def mean_absolute_error(
    predictions: Any,
    targets: Any,
    *,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Absolute error :math:`l_i = |\hat y_i - y_i|`, reduced by :func:`reduce_loss`.

    The (sub)gradient at a zero error is 0.

    Args:
        predictions: floating array of predictions, any shape.
        targets: array of targets with exactly the shape of ``predictions``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.mean_absolute_error(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0]))
        Array(1., dtype=float32)

    References:
        scikit-learn ``sklearn.metrics.mean_absolute_error``.
    """
    _checks.check_reduction(reduction)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where
    )
    values = jnp.abs(predictions - targets)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def huber_loss(
    predictions: Any,
    targets: Any,
    *,
    delta: Any = 1.0,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Huber loss: quadratic for small errors, linear for large ones.

    With :math:`e = \hat y - y`:

    .. math::

        l(e) = \begin{cases} \tfrac12 e^2 & |e| \le \delta \\
               \delta\,(|e| - \tfrac12\delta) & |e| > \delta \end{cases}

    computed as :math:`a\,(|e| - a/2)` with :math:`a = \min(|e|, \delta)`, one
    expression without branches whose gradient is :math:`\mathrm{clip}(e, -\delta, \delta)`.
    This is the convention of optax and PyTorch's ``HuberLoss`` (Keras's ``Huber``
    is the same); PyTorch's ``SmoothL1Loss`` is this divided by ``delta``.

    Args:
        predictions: floating array of predictions, any shape.
        targets: array of targets with exactly the shape of ``predictions``.
        delta: positive threshold between the two regimes; a Python number or a
            (traced, differentiable) scalar array.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.huber_loss(jnp.array([0.5, 3.0]), jnp.zeros(2), delta=1.0, reduction="none")
        Array([0.125, 2.5  ], dtype=float32)

    References:
        Huber, "Robust Estimation of a Location Parameter", 1964.
    """
    _checks.check_reduction(reduction)
    _checks.check_hyperparameter("delta", delta, lower=0.0, lower_open=True)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where
    )
    delta = _checks.hyperparameter(delta, predictions.dtype)
    values = _huber(predictions - targets, delta)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@jax.custom_jvp
def _huber(error: jax.Array, delta: jax.Array) -> jax.Array:
    quadratic = jnp.minimum(jnp.abs(error), delta)
    return quadratic * (jnp.abs(error) - 0.5 * quadratic)


def _huber_jvp(primals, tangents):
    # d/de = clip(e, -delta, delta) and d/d delta = |e| - min(|e|, delta): one
    # fused elementwise pass, where autodiff through min and abs would add
    # selects for both branches to the backward pass.
    (error, delta), (error_dot, delta_dot) = primals, tangents
    abs_error = jnp.abs(error)
    quadratic = jnp.minimum(abs_error, delta)
    value = quadratic * (abs_error - 0.5 * quadratic)
    if isinstance(error_dot, SymbolicZero):
        tangent = jnp.zeros_like(value)
    else:
        tangent = jnp.clip(error, -delta, delta) * error_dot
    if not isinstance(delta_dot, SymbolicZero):
        tangent = tangent + (abs_error - quadratic) * delta_dot
    return value, tangent


# Symbolic zeros: a constant delta adds no work to the derivative.
_huber.defjvp(_huber_jvp, symbolic_zeros=True)


# Taylor coefficients of log cosh x in powers of z = x^2 (the integral of tanh's
# series), enough for 1e-8 relative accuracy below |x| = 0.5.
_LOG_COSH_SERIES = (
    1.0 / 2.0,
    -1.0 / 12.0,
    1.0 / 45.0,
    -17.0 / 2520.0,
    62.0 / 28350.0,
    -1382.0 / 1871100.0,
    21844.0 / 85135050.0,
)
_LOG_COSH_SMALL = 0.5


def _log_cosh_and_tanh(error: jax.Array) -> tuple[jax.Array, jax.Array]:
    """log cosh(e) and tanh(e) from one expm1 and one log1p per element.

    With m = expm1(-2|e|) in (-1, 0]: log cosh e = |e| + log1p(m/2) and
    tanh|e| = -m/(2 + m). Both are exact to a few ulp and cannot overflow. The
    first loses bits to cancellation below |e| = 0.5, where the Taylor series
    (a polynomial, no transcendental) takes over; the second never cancels.
    """
    abs_error = jnp.abs(error)
    m = jnp.expm1(-2.0 * abs_error)
    large = abs_error + jnp.log1p(0.5 * m)
    z = jnp.square(error)
    series = jnp.asarray(_LOG_COSH_SERIES[-1], error.dtype)
    for c in _LOG_COSH_SERIES[-2::-1]:
        series = series * z + c
    small = series * z
    value = jnp.where(abs_error < _LOG_COSH_SMALL, small, large)
    tanh = jnp.sign(error) * (-m / (2.0 + m))
    return value, tanh


@jax.custom_jvp
def _log_cosh(error: jax.Array) -> jax.Array:
    return _log_cosh_and_tanh(error)[0]


@_log_cosh.defjvp
def _log_cosh_jvp(primals, tangents):
    (error,), (error_dot,) = primals, tangents
    value, tanh = _log_cosh_and_tanh(error)
    return value, tanh * error_dot


def log_cosh_loss(
    predictions: Any,
    targets: Any,
    *,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Log-cosh loss :math:`l(e) = \log\cosh(e)` with :math:`e = \hat y - y`.

    Behaves like :math:`e^2/2` for small errors and :math:`|e| - \log 2` for
    large ones, smooth everywhere. Accurate to a few ulp for errors from
    ``1e-30`` to ``1e30`` in float32 (optax's formula returns 0 below about
    ``1e-4`` and ``inf`` past about ``45``); the gradient ``tanh(e)`` comes
    from a hand-written ``custom_jvp`` rule, so forward and reverse mode and
    Hessians all work.

    Args:
        predictions: floating array of predictions, any shape.
        targets: array of targets with exactly the shape of ``predictions``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.log_cosh_loss(jnp.array([1e-6, 100.0]), jnp.zeros(2), reduction="none")
        Array([5.0000000e-13, 9.9306854e+01], dtype=float32)

    References:
        Chen et al., "Log Hyperbolic Cosine Loss Improves Variational
        Auto-Encoder", 2019 (https://openreview.net/forum?id=rkglvsC9Ym).
    """
    _checks.check_reduction(reduction)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where
    )
    values = _log_cosh(predictions - targets)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
