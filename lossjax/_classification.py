r"""Binary classification losses: sigmoid cross-entropy, hinge and focal loss.

All three are elementwise (``reduction="none"`` returns the shape of the first
argument) and follow one path: the elementwise front (:func:`prepare_pair`),
a reference formula, and :func:`reduce_loss`. Labels are real arrays (float,
integer or bool are cast); for the cross-entropy losses they are
probabilities of the positive class in :math:`[0, 1]`.

Numerics:

* Cross-entropy from logits is :math:`y\,\mathrm{softplus}(-z) + (1 - y)\,
  \mathrm{softplus}(z)` (:func:`lossjax._numerics.sigmoid_cross_entropy`): two
  non-negative terms that never overflow, exact at any logit, with the exact
  gradient :math:`(1-y)\sigma(z) - y\sigma(-z)` and second derivative.
* Probabilities (``from_logits=False``) follow PyTorch's ``BCELoss``: each log
  is floored at -100, so a probability of exactly 0 or 1 gives a finite value
  and a finite (zero) gradient.
* Focal loss needs :math:`1 - p_t`, which is never formed by subtraction:
  :math:`1 - p_t = y\,\sigma(-z) + (1 - y)\,\sigma(z)`, a sum of
  non-negative terms that keeps its relative precision where :math:`p_t`
  rounds to 1 (a confident, correct prediction: the examples focal loss
  down-weights).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import AxisName, Reduction, prepare_pair, reduce_loss
from lossjax._registry import (
    ANSWER,
    CALIBRATION_NOTE,
    FOCAL_GAMMA,
    FROM_LOGITS,
    LABEL_SMOOTHING,
    FromPositiveRate,
    Recommendation,
    real,
    register,
)


def _bce(
    logits: jax.Array,
    labels: jax.Array,
    pos_weight: jax.Array | None,
    label_smoothing: jax.Array | None,
) -> jax.Array:
    labels = _numerics.smooth_binary_labels(labels, label_smoothing)
    if pos_weight is None:
        return _numerics.sigmoid_cross_entropy(logits, labels)
    # The positive term weighted: w+ y softplus(-z) + (1 - y) softplus(z).
    return pos_weight * labels * jax.nn.softplus(-logits) + (1.0 - labels) * jax.nn.softplus(logits)


def _bce_probabilities(
    probabilities: jax.Array,
    labels: jax.Array,
    pos_weight: jax.Array | None,
    label_smoothing: jax.Array | None,
) -> jax.Array:
    labels = _numerics.smooth_binary_labels(labels, label_smoothing)
    positive = -labels * _numerics.floored_log(probabilities)
    if pos_weight is not None:
        positive = pos_weight * positive
    return positive - (1.0 - labels) * _numerics.floored_log1m(probabilities)


def _hinge(scores: jax.Array, labels: jax.Array, margin: jax.Array) -> jax.Array:
    # Labels {0, 1} or {-1, +1}: positive means +1. relu has the subgradient 0 at the kink.
    signs = _numerics.label_signs(labels, scores.dtype)
    return jax.nn.relu(margin - signs * scores)


def _power(base: jax.Array, exponent: jax.Array) -> jax.Array:
    """``base ** exponent`` for ``base >= 0``, with finite derivatives where ``base == 0``.

    ``base`` is 0 only where a sigmoid has underflowed (``|z|`` beyond about
    88 in float32); there the derivative of ``base`` itself is 0, and the
    power's derivatives (``inf`` for exponents below 1, ``0 * log 0`` in the
    exponent) are taken as 0.
    """
    positive = base > 0
    power = jnp.power(jnp.where(positive, base, 1.0), exponent)
    return jnp.where(positive, power, jnp.where(exponent == 0, 1.0, 0.0).astype(base.dtype))


def _focal(
    logits: jax.Array,
    labels: jax.Array,
    gamma: jax.Array,
    alpha: jax.Array | None,
    label_smoothing: jax.Array | None,
) -> jax.Array:
    y = _numerics.smooth_binary_labels(labels, label_smoothing)
    # 1 - p_t = y sigmoid(-z) + (1 - y) sigmoid(z): no cancellation (module docstring).
    one_minus_pt = y * jax.nn.sigmoid(-logits) + (1.0 - y) * jax.nn.sigmoid(logits)
    values = _power(one_minus_pt, gamma) * _numerics.sigmoid_cross_entropy(logits, y)
    if alpha is not None:
        values = (alpha * y + (1.0 - alpha) * (1.0 - y)) * values
    return values


# -- argument handling -----------------------------------------------------------


def _smoothing(label_smoothing: Any, dtype: Any) -> jax.Array | None:
    """The label smoothing as an array, or None for a static 0."""
    if _numerics.is_static_zero(label_smoothing):
        return None
    return _checks.hyperparameter(label_smoothing, dtype)


def _pos_weight_array(pos_weight: Any, logits: jax.Array) -> jax.Array | None:
    if pos_weight is None:
        return None
    pos_weight = _checks.check_real("pos_weight", pos_weight)
    shape = tuple(logits.shape)
    try:
        ok = np.broadcast_shapes(tuple(pos_weight.shape), shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"lossjax: `pos_weight` must be a scalar or broadcastable to the shape of "
            f"`logits` {shape} (e.g. one weight per class, shape {shape[-1:]}), got "
            f"pos_weight.shape={tuple(pos_weight.shape)}."
        )
    return jnp.broadcast_to(pos_weight.astype(logits.dtype), shape)


# -- public losses ---------------------------------------------------------------


@register(
    task="binary",
    input_kind="from_logits",
    summary="Bernoulli log loss: a proper scoring rule, so sigmoid(logits) are calibrated.",
    aliases=(
        "bce",
        "log_loss",
        "logistic",
    ),
    default=True,
    calibrated_probabilities=True,
    handles_imbalance=True,
    hyperparameters=(
        FROM_LOGITS,
        LABEL_SMOOTHING,
        real(
            "pos_weight",
            "weight of the positive term (n_neg / n_pos for imbalance)",
            lower=0.0,
            optional=True,
            scalar=False,
        ),
    ),
    recommendations=(
        Recommendation(
            "weighted cross-entropy: pos_weight = n_negative / n_positive makes the rare class "
            "count as much as the common one: the highest minority recall, at some precision",
            {"pos_weight": FromPositiveRate(lambda rate: round((1.0 - rate) / rate, 2))},
            when=("imbalanced",),
            notes={"calibrated": "; it shifts the probabilities, so recalibrate after"},
            handles_imbalance=True,
            calibrated=False,
        ),
        Recommendation(
            "the default for binary labels: proper scoring rule: sigmoid(logits) are calibrated "
            "probabilities",
            unless=("imbalanced",),
        ),
        Recommendation(
            "proper scoring rule: sigmoid(logits) are calibrated probabilities; for the rare "
            "class, choose the decision threshold on validation data",
            when=("imbalanced",),
        ),
    ),
)
def binary_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    from_logits: bool = True,
    label_smoothing: ArrayLike = 0.0,
    pos_weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary (sigmoid) cross-entropy, elementwise, for hard or soft labels.

    With :math:`p = \sigma(z)` (or the given probability when
    ``from_logits=False``), smoothed labels :math:`y' = y(1 - \varepsilon) +
    \varepsilon/2` and positive weight :math:`w_+`:

    .. math::

        l = -\,w_+\, y' \log p \;-\; (1 - y') \log(1 - p).

    From logits this is evaluated as :math:`w_+ y'\,\mathrm{softplus}(-z) +
    (1-y')\,\mathrm{softplus}(z)`, exact and finite for any logit (``±1e4``
    included), with gradient :math:`(1-y')\sigma(z) - w_+ y'\sigma(-z)`. From
    probabilities each log is floored at -100 (PyTorch ``BCELoss``'s convention),
    so probabilities of exactly 0 or 1 give a finite value (at most 100) and a
    finite gradient (0 where the floor is active).

    Args:
        logits: floating array of logits, any shape; probabilities in
            :math:`[0, 1]` when ``from_logits=False``.
        labels: labels with exactly the shape of ``logits``: 0/1 (float,
            integer or bool) or soft labels in :math:`[0, 1]`.
        from_logits: whether the first argument holds logits (default) or
            probabilities.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; labels become
            :math:`y(1-\varepsilon) + \varepsilon/2` (PyTorch/Keras convention).
            A Python number or a (traced, differentiable) scalar.
        pos_weight: optional non-negative weight of the positive term, a scalar
            or an array broadcastable (NumPy rules) to the shape of ``logits``,
            e.g. one per class ``[num_classes]``; may be traced. As in PyTorch's
            ``BCEWithLogitsLoss(pos_weight=...)``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean under
            ``shard_map``/``pmap``.

    Returns:
        The reduced loss (float32 at least), or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([2.0, -1.0, 1e4])
        >>> lossjax.binary_cross_entropy(logits, jnp.array([1, 0, 0]), reduction="none")
        Array([1.269280e-01, 3.132617e-01, 1.000000e+04], dtype=float32)
        >>> probs = jnp.array([0.9, 0.0])
        >>> lossjax.binary_cross_entropy(probs, jnp.array([1.0, 1.0]), from_logits=False,
        ...                              reduction="none")
        Array([  0.10536055, 100.        ], dtype=float32)

    References:
        PyTorch ``torch.nn.BCEWithLogitsLoss`` / ``torch.nn.BCELoss``;
        scikit-learn ``sklearn.metrics.log_loss``.
    """
    _checks.check_reduction(reduction)
    logits, labels, where = prepare_pair(
        "logits", logits, "labels", labels, where, fill_a=0.0 if from_logits else 0.5
    )
    _checks.check_binary_inputs("logits", logits, labels, from_logits=from_logits)
    eps = _smoothing(label_smoothing, logits.dtype)
    pos_weight = _pos_weight_array(pos_weight, logits)
    formula = _bce if from_logits else _bce_probabilities
    values = formula(logits, labels, pos_weight, eps)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="binary",
    input_kind="scores",
    summary="Max-margin (SVM) loss: zero beyond the margin; scores are not probabilities.",
    aliases=(
        "hinge",
        "svm",
    ),
    margin_based=True,
    hyperparameters=(real("margin", "required margin y * score", lower=0.0),),
    recommendations=(
        Recommendation(
            "max-margin classifier (linear SVM): zero beyond the margin, only examples inside it "
            "count; scores, not probabilities",
            when=("margin",),
            score=ANSWER,
        ),
        Recommendation(
            "not calibrated: scores are margins, not probabilities (needs Platt scaling)",
            when=("calibrated",),
        ),
        Recommendation(
            "max-margin (SVM): sparse gradients, only examples inside the margin count",
            unless=("margin", "calibrated"),
        ),
    ),
)
def hinge_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary hinge loss :math:`l = \max(0, m - y' s)`, elementwise.

    The labels are mapped to signs by :math:`y' = +1` if :math:`y > 0` and
    :math:`y' = -1` otherwise, so labels in :math:`\{0, 1\}` (float, integer or
    bool) and in :math:`\{-1, +1\}` are both accepted as they are. The
    (sub)gradient at the kink :math:`y's = m` is 0, as for ``jax.nn.relu``.
    With ``margin=1`` and the mean this is ``sklearn.metrics.hinge_loss``.

    Args:
        scores: floating array of decision values (raw scores), any shape.
        labels: labels with exactly the shape of ``scores``, in
            :math:`\{0, 1\}` or :math:`\{-1, +1\}`.
        margin: non-negative margin :math:`m`; a Python number or a (traced,
            differentiable) scalar.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> scores = jnp.array([2.0, 0.5, 0.3])
        >>> lossjax.hinge_loss(scores, jnp.array([1, 1, 0]), reduction="none")
        Array([0. , 0.5, 1.3], dtype=float32)

    References:
        scikit-learn ``sklearn.metrics.hinge_loss``; Cortes and Vapnik,
        "Support-Vector Networks", 1995.
    """
    _checks.check_reduction(reduction)
    scores, labels, where = prepare_pair("scores", scores, "labels", labels, where)
    margin = _checks.hyperparameter(margin, scores.dtype)
    values = _hinge(scores, labels, margin)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="binary",
    input_kind="from_logits",
    summary="Cross-entropy scaled by (1 - p_t)^gamma: easy examples count less; for imbalance.",
    aliases=(
        "focal",
        "binary_focal",
        "sigmoid_focal",
    ),
    handles_imbalance=True,
    hyperparameters=(
        FOCAL_GAMMA,
        real(
            "alpha",
            "weight of the positive class",
            lower=0.0,
            upper=1.0,
            optional=True,
            scalar=False,
        ),
        FROM_LOGITS,
        LABEL_SMOOTHING,
    ),
    recommendations=(
        # gamma alone leaves the decision threshold of a well-specified model where
        # cross-entropy puts it (`python -m lossjax compare --task binary` shows it);
        # alpha, the weight of the positive class, is what favours the rare class.
        Recommendation(
            "gamma=2 down-weights the many easy examples, alpha=0.75 weights the rare positive "
            "class up: often a better precision/recall balance than pos_weight",
            {"gamma": 2.0, "alpha": 0.75},
            when=("imbalanced",),
            unless=("negatives_rare",),
            notes=CALIBRATION_NOTE,
            handles_imbalance=True,
        ),
        Recommendation(
            "gamma=2 down-weights the many easy examples, alpha=0.25 weights the rare negative "
            "class up: often a better precision/recall balance than pos_weight",
            {"gamma": 2.0, "alpha": 0.25},
            when=("negatives_rare",),
            notes=CALIBRATION_NOTE,
            handles_imbalance=True,
        ),
        Recommendation(
            "down-weights easy examples so that the hard ones drive training",
            {"gamma": 2.0},
            unless=("imbalanced",),
            notes=CALIBRATION_NOTE,
        ),
    ),
)
def focal_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    gamma: ArrayLike = 2.0,
    alpha: ArrayLike | None = None,
    from_logits: bool = True,
    label_smoothing: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary (sigmoid) focal loss of Lin et al., elementwise.

    With :math:`p = \sigma(z)`, :math:`p_t = y p + (1 - y)(1 - p)`, the
    cross-entropy :math:`\mathrm{CE} = -y \log p - (1 - y)\log(1 - p)` and
    :math:`\alpha_t = \alpha y + (1 - \alpha)(1 - y)` (1 when ``alpha`` is None):

    .. math::

        l = \alpha_t\,(1 - p_t)^{\gamma}\,\mathrm{CE}.

    For hard labels this is :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`.
    :math:`1 - p_t` is computed as :math:`y\,\sigma(-z) + (1 - y)\,\sigma(z)`,
    a sum of non-negative terms (never :math:`1 - p_t` by subtraction), so the
    loss and its gradient are accurate at any logit (``±1e3`` included) and
    for every :math:`\gamma \ge 0`; with ``gamma=0, alpha=None`` the result
    equals :func:`binary_cross_entropy`. ``jax.grad``, ``jax.jvp`` and
    ``jax.hessian`` all work, with respect to the logits, the labels,
    ``gamma`` and ``alpha``.

    Args:
        logits: floating array of logits, any shape; probabilities in
            :math:`[0, 1]` when ``from_logits=False`` (converted to logits
            :math:`\log p - \log(1 - p)` with each log floored at -100).
        labels: labels with exactly the shape of ``logits``: 0/1 (float,
            integer or bool) or soft labels in :math:`[0, 1]`.
        gamma: focusing parameter :math:`\gamma \ge 0`; a Python number or a
            (traced, differentiable, vmappable) scalar.
        alpha: optional weight :math:`\alpha \in [0, 1]` of the positive class.
        from_logits: whether the first argument holds logits (default) or
            probabilities.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; labels become
            :math:`y(1-\varepsilon) + \varepsilon/2` before everything else.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([2.0, -1.0, -1e3])
        >>> lossjax.focal_loss(logits, jnp.array([1, 0, 1]), gamma=2.0, reduction="none")
        Array([1.8035626e-03, 2.2658059e-02, 1.0000000e+03], dtype=float32)

    References:
        Lin, Goyal, Girshick, He and Dollár, "Focal Loss for Dense Object
        Detection", 2017 (https://arxiv.org/abs/1708.02002).
    """
    _checks.check_reduction(reduction)
    logits, labels, where = prepare_pair(
        "logits", logits, "labels", labels, where, fill_a=0.0 if from_logits else 0.5
    )
    _checks.check_binary_inputs("logits", logits, labels, from_logits=from_logits)
    if not from_logits:
        logits = _numerics.probabilities_to_logits(logits)
    gamma = _checks.hyperparameter(gamma, logits.dtype)
    if alpha is not None:
        alpha = _checks.hyperparameter(alpha, logits.dtype)
    eps = _smoothing(label_smoothing, logits.dtype)
    values = _focal(logits, labels, gamma, alpha, eps)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
