r"""Regression losses: squared, absolute, Huber and log-cosh error.

All four are elementwise (``reduction="none"`` returns the predictions' shape)
and follow one path: the elementwise front (:func:`prepare_pair`), a
reference formula of the error :math:`e = \hat y - y`, and :func:`reduce_loss`.
The formulas are differentiated by JAX; none needs a hand-written rule.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lossjax import _checks
from lossjax._reduction import AxisName, prepare_pair, reduce_loss


def _squared(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return jnp.square(predictions - targets)


def _absolute(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    # jnp.abs has the subgradient 0 at 0.
    return jnp.abs(predictions - targets)


def _huber_of_error(error: jax.Array, delta: jax.Array) -> jax.Array:
    # a (|e| - a/2) with a = min(|e|, delta): e^2/2 inside, delta (|e| - delta/2)
    # outside, one expression whose derivative is clip(e, -delta, delta).
    a = jnp.minimum(jnp.abs(error), delta)
    return a * (jnp.abs(error) - 0.5 * a)


def _huber(predictions: jax.Array, targets: jax.Array, delta: jax.Array) -> jax.Array:
    return _huber_of_error(predictions - targets, delta)


# Taylor coefficients of log cosh(e) in powers of z = e^2 (the integral of
# tanh's series): 1e-8 relative accuracy up to |e| = 0.5.
_LOG_COSH_SERIES = (
    1.0 / 2.0,
    -1.0 / 12.0,
    1.0 / 45.0,
    -17.0 / 2520.0,
    62.0 / 28350.0,
    -1382.0 / 1871100.0,
    21844.0 / 85135050.0,
)


def _log_cosh_of_error(error: jax.Array) -> jax.Array:
    """log cosh(e) to a few ulp for every float e.

    From ``|e| = 0.5`` up, ``cosh e = e^|e| (1 + e^{-2|e|}) / 2`` gives
    ``|e| + log1p(expm1(-2|e|) / 2)``, which cannot overflow; below, where that
    form cancels, the Taylor series in ``e^2``. The series is evaluated on
    ``min(e^2, 1/4)``, so the unused branch and its derivative stay finite.
    """
    abs_error = jnp.abs(error)
    z = jnp.minimum(jnp.square(error), 0.25)
    series = jnp.zeros_like(z)
    for c in reversed(_LOG_COSH_SERIES):
        series = series * z + c
    far = abs_error + jnp.log1p(0.5 * jnp.expm1(-2.0 * abs_error))
    return jnp.where(abs_error < 0.5, series * z, far)


def _log_cosh(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return _log_cosh_of_error(predictions - targets)


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
    ``1e-4`` and ``inf`` past about ``45``): below ``|e| = 0.5`` it is the
    Taylor series in :math:`e^2`, above
    :math:`|e| + \operatorname{log1p}(\operatorname{expm1}(-2|e|)/2)`; its
    derivative is :math:`\tanh(e)`.

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
    values = _log_cosh(predictions, targets)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
