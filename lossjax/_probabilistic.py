r"""Probabilistic regression losses: negative log-likelihoods and deviances.

The predictions are the parameters of a distribution of the target rather
than the target itself: a Poisson rate (or its log), a Gaussian mean and
variance, or the mean of a Tweedie distribution. Each loss is elementwise
(``reduction="none"`` returns the predictions' shape) and follows the same
path as the other regression losses: an input front (:func:`prepare_pair`),
a reference formula, and :func:`reduce_loss`. Inputs outside a
distribution's support (a negative rate, a non-positive Gamma mean) are the
caller's responsibility: they give inf or NaN, where PyTorch gives the same
and scikit-learn raises, since values cannot be checked while tracing.
"""

from __future__ import annotations

import math
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
    flag,
    real,
    register,
)


def _stirling(targets: jax.Array, scale: jax.Array) -> jax.Array:
    """``(y log y - y + log(2 pi y) / 2) / scale`` where ``y > 1``, else 0 (PyTorch's ``full``
    term, divided by ``scale``: ``y log y`` alone overflows for ``y`` near the float32 maximum)."""
    above = targets > 1
    y = jnp.where(above, targets, jnp.ones((), targets.dtype))  # the unused branch stays finite
    log_y = jnp.log(y)
    term = y / scale * (log_y - 1.0) + 0.5 * (log_y + math.log(2.0 * math.pi)) / scale
    return jnp.where(above, term, jnp.zeros((), targets.dtype))


@register(
    task="regression",
    input_kind="predictions",
    summary="Poisson negative log-likelihood of counts, from log-rates (default) or rates.",
    aliases=(
        "poisson",
        "poisson_nll",
    ),
    hyperparameters=(
        flag("log_input", "predictions are log-rates (True) or rates (False)"),
        flag("full", "add the Stirling term of log(y!) where y > 1"),
        real("epsilon", "offset inside log(rate) when log_input=False", lower=0.0, lower_open=True),
    ),
    recommendations=(
        Recommendation(
            "count targets: Poisson log-likelihood, the natural loss for counts; predict log-rates "
            "(log_input=True), so rates stay positive without a clamp",
            {"log_input": True},
            when=("count_data",),
            score=ANSWER,
        ),
        Recommendation(
            "count targets: Poisson log-likelihood of predicted log-rates", unless=("count_data",)
        ),
    ),
)
def poisson_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    log_input: bool = True,
    full: bool = False,
    epsilon: ArrayLike = 1e-8,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Poisson negative log-likelihood of counts, PyTorch's ``PoissonNLLLoss``.

    With the predicted rate :math:`\lambda` and the count :math:`y`, up to the
    constant :math:`\log y!`:

    .. math::

        l = \lambda - y \log\lambda =
            \begin{cases} e^{\hat y} - y\,\hat y & \texttt{log\_input=True}
               \ (\hat y = \log\lambda) \\
            \hat y - y \log(\hat y + \epsilon) & \texttt{log\_input=False}
               \ (\hat y = \lambda) \end{cases}

    With ``full=True`` the Stirling approximation of :math:`\log y!`,
    :math:`y \log y - y + \tfrac12 \log(2\pi y)`, is added where :math:`y > 1`
    (only there, as PyTorch does: the approximation is poor below). The sum
    is formed divided by :math:`s = \max(y, 1)`, as
    :math:`s\,(\lambda/s - (y/s) \log\lambda + \ldots)`, so that no term
    overflows where the loss fits (:math:`y \log\lambda` alone does for counts
    near the float32 maximum).

    Conventions: this is PyTorch's ``PoissonNLLLoss(log_input, full, eps)``
    exactly. Keras's ``Poisson`` is :math:`\lambda - y \log(\lambda + 10^{-7})`:
    ``keras_poisson == poisson_loss(p, t, log_input=False, epsilon=1e-7)``
    (Keras averages over the last axis first, the same mean for unweighted
    inputs). scikit-learn's ``mean_poisson_deviance`` is the deviance,
    ``tweedie_deviance(power=1)``: twice this loss (``log_input=False``,
    ``epsilon=0``) minus its value at :math:`\lambda = y`. With
    ``log_input=True`` (the default, and the better choice for training) the
    loss is finite for any log-rate whose exponential is finite; with
    ``log_input=False`` the rates must be non-negative (NaN below
    :math:`-\epsilon`, as in PyTorch).

    Args:
        predictions: floating array of log-rates (``log_input=True``) or rates.
        targets: array of (non-negative) counts with exactly the shape of
            ``predictions``.
        log_input: whether ``predictions`` are log-rates (a Python bool).
        full: add the Stirling term of :math:`\log y!` (a Python bool).
        epsilon: positive offset inside the log when ``log_input=False``; a
            Python number or a (traced) scalar array.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> log_rate, counts = jnp.array([0.0, 1.0]), jnp.array([1.0, 3.0])
        >>> lossjax.poisson_loss(log_rate, counts, reduction="none")
        Array([ 1.        , -0.28171825], dtype=float32)
        >>> lossjax.poisson_loss(log_rate, counts, full=True, reduction="none")
        Array([1.       , 1.4823633], dtype=float32)

    References:
        PyTorch ``torch.nn.PoissonNLLLoss``; Keras ``keras.losses.Poisson``.
    """
    _checks.check_reduction(reduction)
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where, fill_a=1.0
    )
    # Summed divided by s = max(y, 1), then multiplied back: y log(rate) and y log y reach
    # 3e40 for counts near the float32 maximum, and their difference would be inf - inf.
    # The loss does not depend on s, so s is held constant in the derivative.
    scale = jax.lax.stop_gradient(jnp.maximum(targets, 1.0))
    if log_input:
        values = jnp.exp(predictions - jnp.log(scale)) - targets / scale * predictions
    else:
        epsilon = _checks.hyperparameter(epsilon, predictions.dtype)
        values = predictions / scale - targets / scale * jnp.log(predictions + epsilon)
    if full:
        values = values + _stirling(targets, scale)
    values = scale * values
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def _prepare_variances(means: jax.Array, variances: Any) -> jax.Array:
    variances = _checks.check_real("variances", variances)
    shape = tuple(means.shape)
    same_rank = variances.ndim == means.ndim and all(
        v in (1, m) for v, m in zip(variances.shape, shape, strict=True)
    )
    if not (same_rank or variances.ndim == 0):
        hint = (
            " Add the last axis explicitly, `variances[..., None]` (PyTorch adds it silently)."
            if tuple(variances.shape) == shape[:-1] and shape
            else ""
        )
        raise ValueError(
            f"lossjax: `variances` must have the shape of `means`, or the same rank with size-1 "
            f"axes (such as a trailing axis of size 1, one variance per vector), or be a "
            f"scalar; got "
            f"variances.shape={tuple(variances.shape)} and means.shape={shape}.{hint}"
        )
    return variances


@register(
    task="regression",
    input_kind="predictions",
    summary="Gaussian negative log-likelihood with predicted means and variances.",
    aliases=(
        "gaussian_nll",
        "heteroscedastic",
    ),
    hyperparameters=(
        flag("full", "add the constant log(2 pi) / 2"),
        real("epsilon", "floor of the variances", lower=0.0, lower_open=True),
    ),
    recommendations=(
        Recommendation(
            "heteroscedastic noise: Gaussian log-likelihood with a predicted variance per target, "
            "learns where the noise is large; needs a second, positive output (e.g. softplus): "
            "loss(means, targets, variances)",
            when=("heteroscedastic",),
            score=ANSWER,
            answers={"intervals": ANSWER - 2.0},
        ),
        Recommendation(
            "intervals from a predicted variance: mean +- 1.28 sigma is an 80% interval under "
            "Gaussian noise; needs a second, positive output: loss(means, targets, variances)",
            when=("intervals",),
            unless=("heteroscedastic",),
            score=ANSWER - 2.0,
        ),
        Recommendation(
            "the model also predicts a variance per target (heteroscedastic noise): Gaussian "
            "log-likelihood",
            unless=("heteroscedastic", "intervals"),
        ),
    ),
)
def gaussian_nll_loss(
    means: ArrayLike,
    targets: ArrayLike,
    variances: ArrayLike,
    *,
    full: bool = False,
    epsilon: ArrayLike = 1e-6,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Gaussian negative log-likelihood with predicted variances, PyTorch's ``GaussianNLLLoss``.

    With the predicted mean :math:`\mu`, variance :math:`\sigma^2` and target :math:`y`:

    .. math::

        l = \tfrac12 \left(\log \max(\sigma^2, \epsilon)
            + \frac{(\mu - y)^2}{\max(\sigma^2, \epsilon)}\right)
            \ \left[+ \tfrac12 \log 2\pi \ \text{if full}\right]

    This is PyTorch's ``GaussianNLLLoss(full, eps)``, including its gradient:
    PyTorch clamps the variances at ``epsilon`` without recording the clamp
    (``torch.no_grad``), so below ``epsilon`` the derivative with respect to
    :math:`\sigma^2` is the one at :math:`\sigma^2 = \epsilon`, passed on
    unchanged (a straight-through clamp), not 0. The same here (the clamp is a
    ``stop_gradient`` of the correction). PyTorch raises for negative
    variances; here they are clamped like any value below ``epsilon``. Keras
    and optax have no such loss. The quotient is computed as
    :math:`((\mu - y)/\sigma^2) \cdot (\mu - y)/2`, which overflows only where
    the loss does (the square :math:`(\mu - y)^2` alone overflows first).

    ``variances`` has the shape of ``means``, or the same rank with size-1 axes
    (``[..., 1]``: one variance per vector, as PyTorch allows), or is a scalar
    (PyTorch's float ``var``). PyTorch also adds a missing last axis silently;
    here that is an error: write ``variances[..., None]``.
    ``reduction="none"`` returns the shape of ``means``.

    Args:
        means: floating array of predicted means.
        targets: array of targets with exactly the shape of ``means``.
        variances: predicted (positive) variances: the shape of ``means``, the
            same rank with size-1 axes, or a scalar.
        full: add the constant :math:`\tfrac12\log 2\pi` (a Python bool).
        epsilon: positive floor of the variances; a Python number or a
            (traced) scalar array.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.gaussian_nll_loss(jnp.array([0.0, 1.0]), jnp.array([1.0, 1.0]),
        ...                           jnp.array([1.0, 4.0]), reduction="none")
        Array([0.5      , 0.6931472], dtype=float32)

    References:
        Nix and Weigend, "Estimating the mean and variance of the target
        probability distribution", ICNN 1994; PyTorch ``torch.nn.GaussianNLLLoss``.
    """
    _checks.check_reduction(reduction)
    means = _checks.check_floating("means", means)
    targets = _checks.check_real("targets", targets)
    _checks.check_same_shape("means", means, "targets", targets)
    variances = _prepare_variances(means, variances)
    dtype = _checks.compute_dtype(means, targets, variances)
    shape = tuple(means.shape)
    means, targets = means.astype(dtype), targets.astype(dtype)
    variances = jnp.broadcast_to(variances.astype(dtype), shape)
    where = prepare_where(where, shape)
    means = mask_inputs(where, means, 0.0)
    targets = mask_inputs(where, targets, 0.0)
    variances = mask_inputs(where, variances, 1.0)
    epsilon = _checks.hyperparameter(epsilon, dtype)
    # max(var, eps) in the value; the identity in the derivative (PyTorch's no_grad clamp).
    clamped = variances - jax.lax.stop_gradient(variances)
    clamped = clamped + jax.lax.stop_gradient(jnp.maximum(variances, epsilon))
    # (mu - y)^2 / (2 var) as ((mu - y) / var) ((mu - y) / 2): the square (mu - y)^2 alone
    # overflows wherever |mu - y| > 1.8e19, although the loss fits for a large variance.
    error = means - targets
    values = 0.5 * jnp.log(clamped) + error / clamped * (0.5 * error)
    if full:
        values = values + 0.5 * math.log(2.0 * math.pi)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def _tweedie(mu: jax.Array, y: jax.Array, power: float) -> jax.Array:
    """scikit-learn's unit deviances, with the logs and powers of ``y = 0`` kept finite."""
    zero = jnp.zeros((), y.dtype)
    positive = y > 0
    safe_y = jnp.where(positive, y, jnp.ones((), y.dtype))
    if power == 0.0:
        return jnp.square(y - mu)
    if power == 1.0:
        # 2 (y log(y / mu) - y + mu), with 0 log 0 = 0.
        y_log = jnp.where(positive, y * (jnp.log(safe_y) - jnp.log(mu)), zero)
        return 2.0 * (y_log - y + mu)
    if power == 2.0:
        return 2.0 * (jnp.log(mu) - jnp.log(y) + y / mu - 1.0)
    one_p, two_p = 1.0 - power, 2.0 - power
    if power < 2.0:  # p < 0 (scikit-learn takes max(y, 0)) or 1 < p < 2 (y >= 0)
        y_term = jnp.where(positive, jnp.power(safe_y, two_p), zero)
    else:  # p > 2: y > 0
        y_term = jnp.power(y, two_p)
    # mu^k as exp(k log mu): its derivative k mu^k / mu is then formed from mu^k, in range
    # where the deviance is, whereas k mu^(k - 1) overflows for a tiny mu (and p > 1).
    log_mu = jnp.log(mu)
    return 2.0 * (
        y_term / (one_p * two_p)
        - y * jnp.exp(one_p * log_mu) / one_p
        + jnp.exp(two_p * log_mu) / two_p
    )


@register(
    task="regression",
    input_kind="predictions",
    summary="Tweedie deviance of predicted means: normal, Poisson, compound Poisson-Gamma, Gamma.",
    aliases=("tweedie",),
    hyperparameters=(
        real(
            "power",
            "static Tweedie power: 0 normal, 1 Poisson, (1, 2) compound, 2 Gamma; not in (0, 1)",
            excluded=(0.0, 1.0),
            static=True,
        ),
    ),
    recommendations=(
        Recommendation(
            "count targets: power 1 is the Poisson deviance of predicted means (rates, not "
            "log-rates); same optimum as poisson_loss",
            {"power": 1.0},
            when=("count_data",),
            score=ANSWER - 1.0,
        ),
        Recommendation(
            "positive, right-skewed targets (prices, durations): power 2 is the Gamma deviance, "
            "whose error scale grows with the mean; targets must be > 0",
            {"power": 2.0},
            when=("skewed_positive",),
            score=ANSWER,
        ),
        Recommendation(
            "non-negative targets with exact zeros (claims, rainfall): compound Poisson-Gamma "
            "deviance of predicted means (power 1: Poisson, 2: Gamma)",
            {"power": 1.5},
            unless=("count_data",),
            answers={"skewed_positive": 2.0},
        ),
    ),
)
def tweedie_deviance(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    power: float = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Tweedie unit deviance of predicted means, scikit-learn's ``mean_tweedie_deviance``.

    With the predicted mean :math:`\mu` and the target :math:`y`, for a power
    :math:`p` other than 0, 1 and 2:

    .. math::

        d(y, \mu) = 2\left(\frac{\max(y, 0)^{2-p}}{(1-p)(2-p)}
            - \frac{y\,\mu^{1-p}}{1-p} + \frac{\mu^{2-p}}{2-p}\right)

    and its limits :math:`(y - \mu)^2` (:math:`p = 0`, normal),
    :math:`2(y \log(y/\mu) - y + \mu)` (:math:`p = 1`, Poisson; scikit-learn's
    ``mean_poisson_deviance``) and :math:`2(\log(\mu/y) + y/\mu - 1)`
    (:math:`p = 2`, Gamma; ``mean_gamma_deviance``). :math:`1 < p < 2` is the
    compound Poisson-Gamma (zeros and positive amounts), :math:`p = 3` the
    inverse Gaussian. The mean over examples is exactly scikit-learn's value.

    Domains (as scikit-learn's, which raises outside them; here inf or NaN
    come out): :math:`\mu > 0` for every :math:`p \ne 0`; :math:`y \ge 0` for
    :math:`1 \le p < 2`; :math:`y > 0` for :math:`p \ge 2`; any :math:`y` for
    :math:`p \le 0`. :math:`0 < p < 1` is refused (no such distribution). Near
    :math:`\mu = y` the deviance is a difference of terms of size
    :math:`y^{2-p}`, accurate to about :math:`\varepsilon\,(y/(y-\mu))^2`
    relative (as in scikit-learn); its gradient :math:`2\mu^{-p}(\mu - y)` is
    accurate. PyTorch and Keras have no Tweedie loss; PyTorch's
    ``PoissonNLLLoss(log_input=False)`` is half the Poisson deviance up to a
    term in :math:`y` only.

    Args:
        predictions: floating array of predicted means (positive unless ``power = 0``).
        targets: array of targets with exactly the shape of ``predictions``.
        power: the Tweedie power, ``<= 0`` or ``>= 1``; a static Python number,
            since it selects the formula (it cannot be traced or swept with
            ``jax.vmap``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise deviances.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> mu, y = jnp.array([1.0, 2.0]), jnp.array([0.0, 3.0])
        >>> lossjax.tweedie_deviance(mu, y, power=1, reduction="none")
        Array([2.        , 0.43279076], dtype=float32)
        >>> lossjax.tweedie_deviance(mu, y, power=1.5, reduction="none")
        Array([4.        , 0.28572893], dtype=float32)

    References:
        Jorgensen, "The Theory of Dispersion Models", 1997; scikit-learn
        ``sklearn.metrics.mean_tweedie_deviance``.
    """
    _checks.check_reduction(reduction)
    power = float(power)  # a static number, checked by the declaration
    predictions, targets, where = prepare_pair(
        "predictions", predictions, "targets", targets, where, fill_a=1.0, fill_b=1.0
    )
    values = _tweedie(predictions, targets, power)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
