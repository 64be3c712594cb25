r"""Regression losses: squared, absolute, Huber and log-cosh error.

All four are elementwise: ``reduction="none"`` returns the predictions' shape.

Derivative rules. Each loss goes through one private function of the
predictions and targets (``_squared``, ``_absolute``, ``_huber``,
``_log_cosh``) with a ``jax.custom_jvp`` rule that gives the derivative of
:math:`l(e)`, :math:`e = \hat y - y`, directly: :math:`2e`,
:math:`\operatorname{sign}(e)`, :math:`\operatorname{clip}(e, -\delta, \delta)`
and :math:`\tanh(e)`. A ``custom_jvp`` (rather than ``custom_vjp``) because
JAX derives reverse mode from it by transposition, so ``jax.grad``,
``jax.jvp``, ``jax.hessian`` and Hessian-vector products all work (the rules
are plain differentiable expressions). For log-cosh the rule is needed for
correctness: the stable value is a blend of two formulas, and autodiff through
the unused one would give ``inf * 0 = nan`` for huge errors.

Speed. The values are computed from inputs passed through
:func:`lossjax._fusion.apart` (an optimization barrier on CPU) and the
derivatives from the originals, so that a jitted ``value_and_grad`` compiles
to two passes that share nothing: the sum of the values, which reads the
predictions and targets, and the gradient, which reads them again and writes
one array. Values are written without ``select``, ``compare`` or ``clamp``,
which XLA:CPU's reduction fusion cannot take (each would cost a full-size
array written and read back).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from lossjax import _checks, _fusion
from lossjax._reduction import AxisName, prepare_pair, reduce_loss


def _error_loss(value_of_error, slope_of_error, param_slope=None):
    r"""A custom-JVP loss ``f(p, t, *params) = value(p - t, *params)``.

    ``slope_of_error(e, *params)`` is :math:`\partial l / \partial e` and
    ``param_slope(e, *params)`` the derivative with respect to the one
    hyperparameter, if any. The value is computed on the other side of
    :func:`_fusion.apart` from the derivatives (module docstring).
    """

    @jax.custom_jvp
    def loss(predictions, targets, *params):
        predictions, targets, *params = _fusion.apart(predictions, targets, *params)
        return value_of_error(predictions - targets, *params)

    def loss_jvp(primals, tangents):
        predictions, targets, *params = primals
        predictions_dot, targets_dot, *params_dot = tangents
        value = loss(*primals)
        error = predictions - targets
        tangent = jnp.zeros_like(value)
        if not isinstance(predictions_dot, SymbolicZero):
            error_dot = predictions_dot
            if not isinstance(targets_dot, SymbolicZero):
                error_dot = predictions_dot - targets_dot
            tangent = tangent + slope_of_error(error, *params) * error_dot
        elif not isinstance(targets_dot, SymbolicZero):
            tangent = tangent - slope_of_error(error, *params) * targets_dot
        for param_dot in params_dot:
            if not isinstance(param_dot, SymbolicZero):
                tangent = tangent + param_slope(error, *params) * param_dot
        return value, tangent

    # Symbolic zeros: a constant target or hyperparameter adds no work.
    loss.defjvp(loss_jvp, symbolic_zeros=True)
    return loss


_squared = _error_loss(jnp.square, lambda e: e + e)
_absolute = _error_loss(jnp.abs, jnp.sign)


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
    values = _squared(predictions, targets)
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
    values = _absolute(predictions, targets)
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
    values = _huber(predictions, targets, delta)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def _huber_value(error: jax.Array, delta: jax.Array) -> jax.Array:
    quadratic = jnp.minimum(jnp.abs(error), delta)
    return quadratic * (jnp.abs(error) - 0.5 * quadratic)


def _huber_delta_slope(error: jax.Array, delta: jax.Array) -> jax.Array:
    return jnp.abs(error) - jnp.minimum(jnp.abs(error), delta)


# d/de = clip(e, -delta, delta), d/d delta = |e| - min(|e|, delta).
_huber = _error_loss(_huber_value, lambda e, delta: jnp.clip(e, -delta, delta), _huber_delta_slope)


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


def _log_cosh_series(error: jax.Array) -> jax.Array:
    """The Taylor series of log cosh(e) on ``min(e**2, 1/4)`` (finite for every e)."""
    z = jnp.minimum(error * error, _LOG_COSH_SMALL**2)
    series = jnp.asarray(_LOG_COSH_SERIES[-1], error.dtype)
    for c in _LOG_COSH_SERIES[-2::-1]:
        series = series * z + c
    return series * z


def _log_cosh_value(error: jax.Array) -> jax.Array:
    """log cosh(e) to a few ulp for any e, without a select.

    Above ``|e| = 0.5`` it is ``|e| + log1p(expm1(-2|e|) / 2)``, exact and
    unable to overflow; below, where that form cancels, the Taylor series in
    ``e**2`` (a polynomial). Both are evaluated everywhere (the series on
    ``min(e**2, 1/4)``, so that it stays finite) and blended with a 0/1 step
    made of products and min/max, which the reduction fusion takes: exact,
    since one of the two terms is multiplied by 0 and the other by 1.
    """
    big = float(jnp.finfo(error.dtype).max)
    abs_error = jnp.abs(error)
    large = abs_error + jnp.log1p(0.5 * jnp.expm1(-(abs_error + abs_error)))
    # 1 below |e| = 0.5 (where 0.5 - |e| >= 2**-25, so that times big it is >= 1),
    # else 0. The second product keeps XLA from turning min(max(.)) into a clamp,
    # which the reduction fusion does not take.
    small_step = jnp.minimum(jnp.maximum((_LOG_COSH_SMALL - abs_error) * big, 0.0) * big, 1.0)
    return _log_cosh_series(error) * small_step + large * (1.0 - small_step)


def _log_cosh_value_in_loop(error: jax.Array) -> jax.Array:
    """log cosh(e) for values written by an elementwise loop (``reduction="none"``
    or a ``where`` mask), where XLA:CPU's ``expm1`` and ``log1p`` are slow: one
    ``exp`` and :func:`_fusion.log1p_series` (exact enough above ``|e| = 0.5``,
    where ``exp(-2|e|) - 1`` does not cancel), and a select. Within 1e-6 of
    :func:`_log_cosh_value`.
    """
    abs_error = jnp.abs(error)
    large = abs_error + _fusion.log1p_series(0.5 * (jnp.exp(-(abs_error + abs_error)) - 1.0))
    return jnp.where(abs_error < _LOG_COSH_SMALL, _log_cosh_series(error), large)


# d/de log cosh(e) = tanh(e) (XLA's tanh is accurate to a few ulp).
_log_cosh = _error_loss(_log_cosh_value, jnp.tanh)
_log_cosh_in_loop = _error_loss(_log_cosh_value_in_loop, jnp.tanh)


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
    in_loop = _fusion.values_in_loop(reduction, where)
    values = (_log_cosh_in_loop if in_loop else _log_cosh)(predictions, targets)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
