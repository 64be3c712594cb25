r"""Regression losses: squared, absolute, Huber, log-cosh, smooth L1, squared
logarithmic, absolute percentage, quantile (pinball) error, and cosine distance.

All but the cosine distance are elementwise (``reduction="none"`` returns the
predictions' shape; the quantile loss with several levels keeps its level
axis); the cosine distance consumes its vector axis. Each follows one path: an
input front (:func:`prepare_pair` for the elementwise ones), a reference
formula of the error :math:`e = \hat y - y`, and :func:`reduce_loss`.
The formulas are differentiated by JAX; none needs a hand-written rule.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks
from lossjax._reduction import (
    AxisName,
    Reduction,
    mask_inputs,
    prepare_pair,
    prepare_where,
    reduce_loss,
)
from lossjax._registry import (
    ANSWER,
    Recommendation,
    integer,
    real,
    register,
)


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
    ``min(|e|, 1/2)^2``, so the unused branch and its derivative stay finite.
    """
    abs_error = jnp.abs(error)
    z = jnp.square(jnp.minimum(abs_error, 0.5))  # clipped first: 2e overflows for |e| > 1.7e38
    series = jnp.zeros_like(z)
    for c in reversed(_LOG_COSH_SERIES):
        series = series * z + c
    far = abs_error + jnp.log1p(0.5 * jnp.expm1(-2.0 * abs_error))
    return jnp.where(abs_error < 0.5, series * z, far)


def _log_cosh(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return _log_cosh_of_error(predictions - targets)


@register(
    task="regression",
    input_kind="predictions",
    summary="Squared error: fits the conditional mean; the default, but outliers dominate it.",
    aliases=(
        "mse",
        "squared_error",
    ),
    default=True,
    recommendations=(
        Recommendation(
            "the default: efficient for Gaussian-like noise, smooth, fits the conditional mean",
            unless=("outliers",),
        ),
        Recommendation(
            "not robust: each gross outlier pulls the fit with a gradient proportional to its size",
            when=("outliers",),
            score=-1.0,
        ),
    ),
)
def mean_squared_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
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


@register(
    task="regression",
    input_kind="predictions",
    summary="Absolute error: fits the conditional median; the most robust, constant-size gradient.",
    aliases=(
        "mae",
        "absolute_error",
    ),
    robust_to_outliers=True,
    recommendations=(
        Recommendation(
            "fits the median, the most robust to outliers; its gradient does not shrink near the "
            "optimum, so decay the learning rate"
        ),
    ),
)
def mean_absolute_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
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


@register(
    task="regression",
    input_kind="predictions",
    summary="Quadratic below delta, linear above: MSE near zero, MAE's robustness for gross errors.",
    aliases=("huber",),
    robust_to_outliers=True,
    hyperparameters=(
        real("delta", "error size where quadratic turns linear", lower=0.0, lower_open=True),
    ),
    recommendations=(
        Recommendation(
            "quadratic near zero and linear for gross errors: robust yet efficient; set delta to "
            "about the typical error of clean data",
            {"delta": 1.0},
            answers={"outliers": 0.5},
        ),
    ),
)
def huber_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    delta: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
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
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where
    )
    delta = _checks.hyperparameter(delta, predictions.dtype)
    values = _huber(predictions, targets, delta)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="regression",
    input_kind="predictions",
    summary="log cosh of the error: a smooth Huber with delta about 1, twice differentiable.",
    aliases=(
        "logcosh",
        "log_cosh",
    ),
    robust_to_outliers=True,
    recommendations=(
        Recommendation(
            "a smooth Huber (twice differentiable, no threshold to choose); robust for errors well "
            "above 1, so scale the targets"
        ),
    ),
)
def log_cosh_loss(
    predictions: ArrayLike,
    targets: ArrayLike | None = None,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
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
        targets: array of targets with exactly the shape of ``predictions``, or
            None (the default, as in optax's ``log_cosh``): zeros, so that
            ``predictions`` holds the errors.
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
    if targets is None:
        predictions = _checks.check_floating("predictions", predictions)
        targets = jnp.zeros_like(predictions)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where
    )
    values = _log_cosh(predictions, targets)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# -- more elementwise and per-vector errors ---------------------------------------------------

# scikit-learn's floor of |y| in mean_absolute_percentage_error: np.finfo(np.float64).eps.
_FLOAT64_EPS = 2.220446049250313e-16


def _smooth_l1(predictions: jax.Array, targets: jax.Array, beta: jax.Array) -> jax.Array:
    # PyTorch's two branches, selected with a double `where`: the quadratic branch
    # never divides by beta = 0 (no |e| < 0), so beta = 0 is |e| exactly, with the
    # gradient sign(e) and d/d beta = -1/2 (that of the linear branch). A zero
    # error takes the quadratic branch for every beta (l = 0, all derivatives 0).
    error = predictions - targets
    abs_error = jnp.abs(error)
    below = abs_error < beta
    safe_beta = jnp.where(below, beta, jnp.ones((), beta.dtype))
    # The unused branch sees 0, not e: 2e (its derivative) overflows for |e| > 1.7e38.
    quadratic = 0.5 * jnp.square(jnp.where(below, error, 0.0)) / safe_beta
    return jnp.where(below | (error == 0), quadratic, abs_error - 0.5 * beta)


@register(
    task="regression",
    input_kind="predictions",
    summary="PyTorch's smooth L1: Huber divided by beta, so the linear part has slope 1.",
    aliases=(
        "smooth_l1",
        "smoothl1",
    ),
    robust_to_outliers=True,
    hyperparameters=(real("beta", "error size where quadratic turns linear (0: MAE)", lower=0.0),),
    recommendations=(
        Recommendation(
            "Huber divided by beta (PyTorch's SmoothL1Loss, box regression): slope 1 for gross "
            "errors whatever beta; beta=0 is MAE",
            {"beta": 1.0},
        ),
    ),
)
def smooth_l1_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    beta: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Smooth L1 loss (PyTorch's ``SmoothL1Loss``): quadratic below ``beta``, absolute above.

    With :math:`e = \hat y - y`:

    .. math::

        l(e) = \begin{cases} \tfrac12 e^2 / \beta & |e| < \beta \\
               |e| - \tfrac12 \beta & |e| \ge \beta \end{cases}

    This is :func:`huber_loss` with ``delta = beta`` divided by ``beta``
    (``smooth_l1_loss(p, t, beta=b) == huber_loss(p, t, delta=b) / b``): the
    slope of the linear part is 1 whatever ``beta``, whereas Huber's is
    ``delta``. ``beta = 0`` is the absolute error exactly (PyTorch's
    convention), with no division by zero in the value or the gradient; its
    gradient is :math:`\mathrm{clip}(e / \beta, -1, 1)`. Keras and optax have
    no smooth L1; their Huber is the ``huber_loss`` above.

    Args:
        predictions: floating array of predictions, any shape.
        targets: array of targets with exactly the shape of ``predictions``.
        beta: non-negative threshold between the two regimes (0: absolute
            error); a Python number or a (traced, differentiable) scalar array.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.smooth_l1_loss(jnp.array([0.5, 3.0]), jnp.zeros(2), beta=2.0, reduction="none")
        Array([0.0625, 2.    ], dtype=float32)

    References:
        Girshick, "Fast R-CNN", 2015 (https://arxiv.org/abs/1504.08083);
        PyTorch ``torch.nn.SmoothL1Loss``.
    """
    _checks.check_reduction(reduction)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where
    )
    beta = _checks.hyperparameter(beta, predictions.dtype)
    values = _smooth_l1(predictions, targets, beta)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def _log1p_clipped(x: jax.Array) -> jax.Array:
    # log(1 + max(x, 0)); the select (not jnp.maximum) keeps the slope 1 at x = 0.
    return jnp.log1p(jnp.where(x < 0, jnp.zeros((), x.dtype), x))


@register(
    task="regression",
    input_kind="predictions",
    summary="Squared error of log(1 + y): relative errors of non-negative targets (counts, prices).",
    aliases=(
        "msle",
        "squared_log_error",
    ),
    recommendations=(
        Recommendation(
            "non-negative targets spanning orders of magnitude (counts, prices): squared error of "
            "log(1 + y), i.e. relative errors",
            unless=("skewed_positive",),
        ),
        Recommendation(
            "positive, right-skewed targets (prices): squared error of log(1 + y) scores relative "
            "errors, so the few large targets do not dominate",
            when=("skewed_positive",),
            score=ANSWER,
        ),
    ),
)
def mean_squared_logarithmic_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Squared logarithmic error :math:`l_i = (\log(1 + \hat y_i) - \log(1 + y_i))^2`.

    For non-negative targets such as counts or prices, where relative errors
    matter: it penalises under-prediction more than over-prediction. Each
    input is first clipped at 0:

    .. math::

        l_i = \left(\operatorname{log1p}(\max(\hat y_i, 0))
              - \operatorname{log1p}(\max(y_i, 0))\right)^2 .

    On non-negative inputs this is scikit-learn's ``mean_squared_log_error``
    and Keras's ``MeanSquaredLogarithmicError``. Below 0 the convention
    differs: Keras clips both inputs at its epsilon ``1e-7`` (not at 0, a
    difference of at most ``1e-7`` in each log), and so do we (at 0), so a
    negative value counts as 0 with a zero gradient and the loss is never NaN;
    scikit-learn uses the values in :math:`(-1, 0)` as they are and raises at
    :math:`\le -1`. The slope at exactly 0 is that of the non-negative side.

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
        >>> lossjax.mean_squared_logarithmic_error(jnp.array([1.0, 3.0]), jnp.array([0.0, 3.0]))
        Array(0.2402265, dtype=float32)

    References:
        scikit-learn ``sklearn.metrics.mean_squared_log_error``;
        Keras ``keras.losses.MeanSquaredLogarithmicError``.
    """
    _checks.check_reduction(reduction)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where
    )
    values = jnp.square(_log1p_clipped(predictions) - _log1p_clipped(targets))
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="regression",
    input_kind="predictions",
    summary="|error| / |target| as a fraction (Keras: x100); for targets away from zero.",
    aliases=(
        "mape",
        "percentage_error",
    ),
    hyperparameters=(
        real("epsilon", "floor of |target| in the denominator", lower=0.0, lower_open=True),
    ),
    recommendations=(
        Recommendation(
            "relative error as a fraction, when targets stay well away from zero",
            unless=("skewed_positive",),
        ),
        Recommendation(
            "positive, skewed targets judged by relative error: |error| / target as a fraction; "
            "targets must stay well away from zero",
            when=("skewed_positive",),
            score=ANSWER - 1.0,
        ),
    ),
)
def mean_absolute_percentage_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = _FLOAT64_EPS,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Absolute percentage error as a fraction, :math:`l_i = |\hat y_i - y_i| / \max(|y_i|, \epsilon)`.

    .. math::

        l_i = \frac{|\hat y_i - y_i|}{\max(|y_i|, \epsilon)}

    A fraction, as scikit-learn's ``mean_absolute_percentage_error`` returns it
    (0.1 is 10%), with scikit-learn's default ``epsilon``, the float64 machine
    epsilon :math:`2.2 \cdot 10^{-16}`. Keras's ``MeanAbsolutePercentageError``
    multiplies by 100 and floors :math:`|y|` at ``1e-7``:
    ``keras_mape == 100 * mean_absolute_percentage_error(p, t, epsilon=1e-7)``.
    A target of 0 gives :math:`|\hat y| / \epsilon`, a huge but finite loss
    (the metric is meant for targets away from 0).

    Args:
        predictions: floating array of predictions, any shape.
        targets: array of targets with exactly the shape of ``predictions``.
        epsilon: positive floor of :math:`|y|` in the denominator; a Python
            number or a (traced) scalar array.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (a fraction, not a percentage), or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.mean_absolute_percentage_error(jnp.array([110.0, 4.5]), jnp.array([100.0, 5.0]))
        Array(0.1, dtype=float32)

    References:
        scikit-learn ``sklearn.metrics.mean_absolute_percentage_error``;
        Keras ``keras.losses.MeanAbsolutePercentageError``.
    """
    _checks.check_reduction(reduction)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where, fill_b=1.0
    )
    epsilon = _checks.hyperparameter(epsilon, predictions.dtype)
    # max(|y|, eps) as a `where`: its derivative selects, where `maximum` multiplies a
    # possibly infinite cotangent by 0.
    abs_targets = jnp.abs(targets)
    floored = jnp.where(abs_targets > epsilon, abs_targets, epsilon)
    values = jnp.abs(predictions - targets) / floored
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def _pinball(error: jax.Array, quantile: jax.Array) -> jax.Array:
    # max(q d, (q - 1) d) with d = y - y_hat: at d = 0 jnp.maximum splits the tie,
    # so the (sub)gradient there is the middle of [-q, 1 - q], as for |e| (0 at q = 1/2).
    return jnp.maximum(quantile * error, (quantile - 1.0) * error)


def _prepare_quantile_inputs(
    predictions: Any, targets: Any, where: Any, quantile: Any
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array | None]:
    """The front of ``quantile_loss``: a scalar level, or a 1-D array of levels on a trailing axis."""
    levels = _checks.check_real("quantile", quantile)
    if levels.ndim == 0:
        predictions, targets, where = prepare_pair(
            "predictions", predictions, "targets", targets, where
        )
        return predictions, targets, _checks.hyperparameter(levels, predictions.dtype), where
    if levels.ndim != 1 or levels.shape[0] == 0:
        raise ValueError(
            f"lossjax: `quantile` must be a scalar or a non-empty 1-D array of levels, got "
            f"quantile.shape={tuple(levels.shape)}."
        )
    predictions = _checks.check_floating("predictions", predictions)
    targets = _checks.check_real("targets", targets)
    expected = (*targets.shape, levels.shape[0])
    if tuple(predictions.shape) != expected:
        raise ValueError(
            f"lossjax: with {levels.shape[0]} quantile levels, `predictions` must have the shape "
            f"of `targets` plus a trailing axis of {levels.shape[0]} (one prediction per level), "
            f"{expected}; got predictions.shape={tuple(predictions.shape)} and "
            f"targets.shape={tuple(targets.shape)}."
        )
    dtype = _checks.compute_dtype(predictions, targets)
    predictions, targets = predictions.astype(dtype), targets.astype(dtype)
    where = prepare_where(where, tuple(predictions.shape))
    predictions = mask_inputs(where, predictions, 0.0)
    if where is not None:  # a target is removed once every level of its example is
        targets = mask_inputs(jnp.any(where, axis=-1), targets, 0.0)
    # The levels on the trailing axis, with the rank of the predictions (no rank promotion).
    levels = levels.astype(dtype).reshape((1,) * (predictions.ndim - 1) + levels.shape)
    return predictions, targets[..., None], levels, where


@register(
    task="regression",
    input_kind="predictions",
    summary="Pinball loss: fits a conditional quantile (one or several levels at once).",
    aliases=(
        "quantile",
        "pinball",
        "pinball_loss",
    ),
    robust_to_outliers=True,
    hyperparameters=(
        real(
            "quantile",
            "level(s) of the fitted quantile, scalar or [Q]",
            lower=0.0,
            upper=1.0,
            lower_open=True,
            upper_open=True,
            scalar=False,
        ),
    ),
    recommendations=(
        Recommendation(
            "prediction intervals: pinball loss at levels 0.1, 0.5, 0.9 fits the median and an 80% "
            "interval at once (predictions get a trailing axis of 3)",
            {"quantile": [0.1, 0.5, 0.9]},
            when=("intervals",),
            score=ANSWER,
        ),
        Recommendation(
            "heteroscedastic noise without a Gaussian assumption: quantiles at 0.1, 0.5, 0.9 give "
            "an interval whose width follows the noise (predictions get a trailing axis of 3)",
            {"quantile": [0.1, 0.5, 0.9]},
            when=("heteroscedastic",),
            unless=("intervals",),
            score=ANSWER - 1.0,
        ),
        Recommendation(
            "pinball loss: quantile=0.5 fits the median (robust, half the MAE); other levels give "
            "prediction intervals, a [Q] array of levels fits several at once",
            {"quantile": 0.5},
            unless=("intervals", "heteroscedastic"),
        ),
    ),
)
def quantile_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    quantile: ArrayLike = 0.5,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Quantile (pinball) loss: its minimiser is the ``quantile``-th conditional quantile.

    With :math:`d = y - \hat y` and the level :math:`q \in (0, 1)`:

    .. math::

        l(d) = \max(q\,d,\ (q - 1)\,d) = \begin{cases} q\,d & d \ge 0 \\
               (q - 1)\,d & d < 0 \end{cases}

    Under-prediction costs :math:`q` per unit, over-prediction :math:`1 - q`;
    ``quantile = 0.5`` is half the absolute error. With the default
    ``reduction="mean"`` this is scikit-learn's
    ``mean_pinball_loss(y, y_hat, alpha=quantile)``. At :math:`d = 0` the
    (sub)gradient is the middle of the subdifferential, :math:`1/2 - q` with
    respect to :math:`\hat y` (0 for the median, as for the absolute error).

    Several levels at once: ``quantile`` a 1-D array of :math:`Q` levels, and
    ``predictions`` with the shape of ``targets`` plus a trailing axis of size
    :math:`Q` (prediction ``[..., k]`` is for level ``quantile[k]``). The
    per-example shape is then that of ``predictions``: ``reduction="none"``
    returns one loss per example and level, ``weights`` and ``where`` have the
    rank of ``predictions`` (``w[..., None]`` weights whole examples), and the
    mean is the average over examples and levels, i.e. the mean over levels of
    scikit-learn's per-level value.

    Args:
        predictions: floating array of predicted quantiles, the shape of
            ``targets`` (one level) or with a trailing axis of size :math:`Q`.
        targets: array of targets.
        quantile: level(s) strictly inside (0, 1): a scalar (a Python number
            or a traced, differentiable array) or a 1-D array of :math:`Q` levels.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the per-example shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the losses with the shape of ``predictions``.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.quantile_loss(jnp.array([1.0, 3.0]), jnp.array([2.0, 2.0]), quantile=0.9,
        ...                       reduction="none")
        Array([0.9       , 0.10000002], dtype=float32)
        >>> lossjax.quantile_loss(jnp.array([[1.0, 2.0, 3.0]]), jnp.array([2.0]),
        ...                       quantile=jnp.array([0.1, 0.5, 0.9]), reduction="none")
        Array([[0.1       , 0.        , 0.10000002]], dtype=float32)

    References:
        Koenker and Bassett, "Regression Quantiles", Econometrica, 1978;
        scikit-learn ``sklearn.metrics.mean_pinball_loss``.
    """
    _checks.check_reduction(reduction)
    predictions, targets, quantile, where = _prepare_quantile_inputs(
        predictions, targets, where, quantile
    )
    values = _pinball(targets - predictions, quantile)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def _scaled(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(x / s, 1 / s)`` with ``s`` a power of two near ``max |x|`` over the last axis.

    The scaled entries are below 4 in absolute value, so their squared norm
    cannot overflow even near the float maximum. ``s`` is a power of two with a
    normal reciprocal (XLA may turn a division into a multiplication by the
    reciprocal, which must not flush to zero), so the scaling is exact. The
    cosine is invariant under the scale, so ``s`` is held constant
    (``stop_gradient``) without changing any derivative. A zero vector gets ``s = 1``.
    """
    biggest = jax.lax.stop_gradient(jnp.max(jnp.abs(x), axis=-1, keepdims=True))
    _, exponent = jnp.frexp(biggest)  # biggest < 2**exponent
    min_exponent = int(jnp.finfo(x.dtype).minexp)  # 2**k and 2**-k are normal for |k| <= this
    exponent = jnp.clip(exponent, min_exponent, -min_exponent)
    inverse = jnp.ldexp(jnp.ones((), x.dtype), -exponent)
    return x * inverse, inverse


def _safe_norm(x: jax.Array) -> jax.Array:
    """The Euclidean norm over the last axis; 0 with a zero (not NaN) gradient at 0."""
    squared = jnp.sum(jnp.square(x), axis=-1, keepdims=True)
    positive = squared > 0
    root = jnp.sqrt(jnp.where(positive, squared, jnp.ones((), x.dtype)))
    return jnp.where(positive, root, jnp.zeros((), x.dtype))


def _unit(x: jax.Array, floor: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``u = x / max(|x|, floor)`` and ``1 - |u|^2``, which is exactly 0 unless clamped.

    A zero vector with a zero floor gives ``u = 0`` and ``1``, with finite gradients.
    """
    norm = _safe_norm(x)
    clamped_norm = jnp.maximum(norm, floor)
    positive = clamped_norm > 0
    safe = jnp.where(positive, clamped_norm, jnp.ones((), x.dtype))
    clamped = (norm < floor) | ~positive
    ratio = jnp.where(positive, norm / safe, jnp.zeros((), x.dtype))
    deficit = jnp.where(clamped, (1.0 - ratio) * (1.0 + ratio), jnp.zeros((), x.dtype))
    return x / safe, deficit[..., 0]


def _cosine_distance(a: jax.Array, b: jax.Array, epsilon: jax.Array) -> jax.Array:
    # 1 - <u, v> with u = a / max(|a|, sqrt eps), v likewise, computed as
    # (|u - v|^2 + (1 - |u|^2) + (1 - |v|^2)) / 2: no cancellation against 1, so the
    # distance keeps a relative accuracy of about eps / angle between nearly parallel vectors.
    # With a = s_a a': max(|a|, sqrt eps) / s_a = max(|a'|, sqrt(eps) / s_a).
    a, inverse_a = _scaled(a)
    b, inverse_b = _scaled(b)
    root_eps = jnp.sqrt(epsilon)
    u, deficit_u = _unit(a, root_eps * inverse_a)
    v, deficit_v = _unit(b, root_eps * inverse_b)
    return 0.5 * (jnp.sum(jnp.square(u - v), axis=-1) + deficit_u + deficit_v)


@register(
    task="regression",
    input_kind="predictions",
    summary="1 - cosine similarity of predicted and target vectors: direction, not length.",
    aliases=("cosine_dist",),
    hyperparameters=(
        integer("axis", "the vector axis"),
        real("epsilon", "floor of the squared norms (optax's convention)", lower=0.0),
    ),
    recommendations=(Recommendation("vector targets whose direction matters, not their length"),),
)
def cosine_distance(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    epsilon: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Cosine distance :math:`1 - \cos(\hat y, y)` between vectors along ``axis``.

    .. math::

        l = 1 - \frac{\langle \hat y, y \rangle}
            {\max(\|\hat y\|, \sqrt{\epsilon})\,\max(\|y\|, \sqrt{\epsilon})}

    with the sums over ``axis``, which is consumed: ``reduction="none"``
    returns the shape of ``predictions`` without ``axis``. This is optax's
    ``cosine_distance`` with the same ``epsilon`` (optax clips the *squared*
    norms at ``epsilon``, hence :math:`\sqrt\epsilon` here). Keras's
    ``CosineSimilarity`` loss returns :math:`-\cos` (in :math:`[-1, 1]`):
    ``keras_loss == cosine_distance(p, t) - 1``; PyTorch's
    ``CosineEmbeddingLoss`` with target 1 is this distance (up to its own epsilon).

    A zero vector has cosine 0 with anything (Keras's convention), so with
    ``epsilon = 0`` the distance is 1 and its gradient is finite (0), where
    optax returns NaN. The norms are computed after scaling each vector by a
    power of two near its largest absolute entry, so entries near the float32
    maximum (``3e38``) do not overflow. With the unit vectors
    :math:`u, v` the distance is evaluated as :math:`\|u - v\|^2 / 2` (plus
    :math:`(1 - \|u\|^2)/2` for a vector clamped by ``epsilon``): between
    nearly parallel vectors, at an angle :math:`\theta`, its relative error is
    about :math:`\varepsilon/\theta`, where :math:`1 - \cos` returns 0 below
    :math:`\theta \approx 3 \cdot 10^{-4}` in float32.

    Args:
        predictions: floating array of predicted vectors.
        targets: array of target vectors with exactly the shape of ``predictions``.
        axis: the vector axis (a Python int), summed over.
        epsilon: non-negative floor of the squared norms (optax's convention);
            a Python number or a (traced) scalar array.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per vector).
        weights: optional weights, a scalar or broadcastable to the per-vector shape.
        where: optional boolean mask of the per-vector shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one distance per vector (``axis`` removed).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> p = jnp.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
        >>> lossjax.cosine_distance(p, jnp.array([[0.0, 2.0]] * 3), reduction="none")
        Array([1.        , 0.29289323, 1.        ], dtype=float32)

    References:
        optax ``optax.losses.cosine_distance``; Keras
        ``keras.losses.CosineSimilarity``.
    """
    _checks.check_reduction(reduction)
    predictions = _checks.check_floating("predictions", predictions)
    targets = _checks.check_real("targets", targets)
    _checks.check_same_shape("predictions", predictions, "targets", targets)
    if predictions.ndim == 0:
        raise ValueError("lossjax: `predictions` must have a vector axis, got a scalar.")
    moved_axis = _checks.normalize_axis("axis", axis, predictions.ndim)
    if predictions.shape[moved_axis] == 0:
        raise ValueError(
            f"lossjax: `predictions` has no entries along axis {axis}: "
            f"predictions.shape={tuple(predictions.shape)}."
        )
    dtype = _checks.compute_dtype(predictions, targets)
    predictions = jnp.moveaxis(predictions, moved_axis, -1).astype(dtype)
    targets = jnp.moveaxis(targets, moved_axis, -1).astype(dtype)
    where = prepare_where(where, tuple(predictions.shape[:-1]))
    predictions = mask_inputs(where, predictions, 1.0, axis=-1)
    targets = mask_inputs(where, targets, 1.0, axis=-1)
    epsilon = _checks.hyperparameter(epsilon, dtype)
    values = _cosine_distance(predictions, targets, epsilon)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
