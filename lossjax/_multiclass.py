r"""Multiclass losses: categorical and sparse cross-entropy, softmax focal loss, KL divergence.

All four consume a class axis (``axis=-1`` by default, any axis allowed):
``reduction="none"`` returns one value per example, the input shape without
that axis, and ``weights``/``where`` have that per-example shape. Each follows
one path: the class-axis front (:func:`prepare_class_targets` or
:func:`prepare_class_labels`), a reference formula, and :func:`reduce_loss`.

Numerics:

* **Labels: log-odds.** The label losses work with the log-odds against the
  label, :math:`a = \log\sum_{k \ne y} e^{z_k} - z_y` (a log-sum-exp that
  leaves the label's term out rather than subtracting it). Then
  :math:`-\log p_y = \operatorname{softplus}(a)` and
  :math:`\log(1 - p_y) = -\operatorname{softplus}(-a)`, both exact for any
  :math:`a`: the cross-entropy of a confident, correct prediction keeps its
  relative precision (where :math:`\log(1 + 10^{-9})` would round to 0), and
  so does its gradient :math:`-(1 - p_y) = -\sigma(a)`. No one-hot is formed.
* **Target distributions: log-softmax.** :math:`-\sum_k t_k \log q_k` with
  :math:`\log q = z - \operatorname{logsumexp}(z)`.
* **Zero targets.** :math:`0 \cdot \log 0 = 0`, in the value and in the
  gradient (:func:`lossjax._numerics.x_log_y`): a class excluded from the
  softmax with a logit of :math:`-\infty` contributes nothing where its target
  is 0 (optax's ``safe_softmax_cross_entropy`` behaviour).
* **Probabilities** (``from_logits=False``): :math:`\log p` is floored at
  :math:`-100` (PyTorch's ``BCELoss`` convention), so a probability of
  exactly 0 gives :math:`-100` with a zero gradient. Probabilities are used as
  given: they are not renormalised to sum to 1 (Keras rescales them, PyTorch
  and scikit-learn do not).

Class weights (``class_weights`` of the two cross-entropies) follow PyTorch's
class-index convention: an example counts with weight
:math:`c_i = \sum_k w_k y_{ik}` (:math:`w_{y_i}` for a label or a one-hot
target) in the numerator and in the denominator of the mean, so
``sparse_categorical_cross_entropy(z, y, class_weights=w)`` equals
``categorical_cross_entropy(z, one_hot(y), class_weights=w)`` for every
reduction.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lossjax import _checks, _numerics
from lossjax._reduction import (
    AxisName,
    class_vector,
    combine_weights,
    prepare_class_labels,
    prepare_class_targets,
    reduce_loss,
)

# -- reference formulas -------------------------------------------------------------------


def _per_class(vector: jax.Array, ndim: int) -> jax.Array:
    """A ``[K]`` vector shaped to broadcast against ``[..., K]`` of rank ``ndim``."""
    return vector.reshape((1,) * (ndim - 1) + vector.shape)


def _label_log_odds(logits: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(a, z_y)``: the log-odds against the label ``a = log sum_{k != y} e^{z_k - z_y}``.

    The differences ``z_k - z_y`` are taken before the log-sum-exp, so that
    ``a`` is exact for logits of any size (``-1e4 + log 3`` would round).
    """
    classes = jax.lax.broadcasted_iota(labels.dtype, logits.shape, logits.ndim - 1)
    # Classes excluded with a -inf logit are left out too (their term is 0,
    # and a log-sum-exp over nothing but -inf has a NaN gradient).
    others = (labels[..., None] != classes) & (logits > -jnp.inf)
    z_y = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
    # With no other class the log-sum-exp is -inf and a = -inf: p_y = 1.
    return jax.nn.logsumexp(logits - z_y[..., None], axis=-1, where=others), z_y


def _top_class(logits: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(m, top, others)``: the largest logit, its class index and the mask of the other classes."""
    top = jnp.argmax(logits, axis=-1, keepdims=True)
    classes = jax.lax.broadcasted_iota(top.dtype, logits.shape, logits.ndim - 1)
    return jnp.take_along_axis(logits, top, axis=-1), top, classes != top


@jax.custom_jvp
def _log_softmax(logits: jax.Array) -> jax.Array:
    """``z - logsumexp(z)``, exact where one class dominates.

    With ``m`` the largest logit (class ``top``) and ``s = sum_{k != top}
    e^{z_k - m}``, ``logsumexp(z) - m = log1p(s)``: the top class's ``-log q``
    is ``log1p(s)`` and keeps its relative precision as ``q -> 1``, where
    ``z - logsumexp(z)`` rounds it to 0.
    """
    m, _, others = _top_class(logits)
    rest = jnp.where(others, jnp.exp(logits - m), jnp.zeros((), logits.dtype))
    return logits - m - jnp.log1p(jnp.sum(rest, axis=-1, keepdims=True))


@_log_softmax.defjvp
def _log_softmax_jvp(primals, tangents):
    # d log q = dz - sum_k q_k dz_k. Written relative to the top class,
    # du_k = dz_k - dz_top (0 at the top), it is du - sum_k q_k du_k, and its
    # transpose (the gradient) gives the top class -sum_{k != top} (...)
    # directly: 1 - q_top is never formed, so q - 1 keeps its precision.
    (logits,), (logits_dot,) = primals, tangents
    log_q = _log_softmax(logits)
    _, top, others = _top_class(logits)
    top_dot = jnp.take_along_axis(logits_dot, top, axis=-1)
    du = jnp.where(others, logits_dot - top_dot, jnp.zeros((), logits_dot.dtype))
    return log_q, du - jnp.sum(jnp.exp(log_q) * du, axis=-1, keepdims=True)


def _label_smoothing_term(
    neg_log_q_y: jax.Array,
    neg_log_q: jax.Array | None,
    spread: jax.Array | None,
    class_weights: jax.Array | None,
) -> jax.Array:
    """``sum_k v_k (-log q_k)`` for class weights ``v`` (all 1 without them).

    From logits it is ``sum(v) (-log q_y) - sum_k v_k (z_k - z_y)`` (``spread``
    holds ``z_k - z_y``): exact differences for logits of any size. From
    probabilities ``neg_log_q`` holds the floored ``-log q_k``.
    """
    per_class = spread if spread is not None else neg_log_q
    num_classes = per_class.shape[-1]
    v = jnp.ones((num_classes,), neg_log_q_y.dtype) if class_weights is None else class_weights
    v = _per_class(v, per_class.ndim)
    if spread is not None:
        return jnp.sum(v) * neg_log_q_y - jnp.sum(v * spread, axis=-1)
    return jnp.sum(v * neg_log_q, axis=-1)


def _cross_entropy(log_q: jax.Array, targets: jax.Array) -> jax.Array:
    """``-sum_k t_k log q_k`` with ``0 log 0 = 0``."""
    return -jnp.sum(_numerics.x_log_y(targets, log_q), axis=-1)


def _kl(log_q: jax.Array, targets: jax.Array, log_targets: jax.Array) -> jax.Array:
    """``sum_k t_k (log t_k - log q_k)``; a zero target adds nothing, whatever ``q_k``.

    The derivative with respect to a zero target (``-inf`` mathematically) is 0.
    """
    terms = _numerics.x_log_y(targets, log_targets) - _numerics.x_log_y(targets, log_q)
    return jnp.sum(jnp.where(targets > 0, terms, jnp.zeros((), terms.dtype)), axis=-1)


def _log_probabilities(logits: jax.Array, from_logits: bool) -> jax.Array:
    return _log_softmax(logits) if from_logits else _numerics.floored_log(logits)


# -- losses -----------------------------------------------------------------------------


def categorical_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    from_logits: bool = True,
    label_smoothing: Any = 0.0,
    class_weights: Any = None,
    axis: int = -1,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Cross-entropy between target distributions and ``softmax(logits)``.

    With :math:`q = \operatorname{softmax}(z)` (or the given probabilities),
    smoothed targets :math:`y' = (1 - \varepsilon)\,y + \varepsilon / K` and
    class weights :math:`w` (all 1 when not given):

    .. math::

        l_i = -\sum_k w_k\, y'_{ik} \log q_{ik}, \qquad
        \text{mean} = \frac{\sum_i l_i}{\sum_i c_i}, \quad
        c_i = \sum_k w_k\, y_{ik} \ \ (\text{or } 1 \text{ without class weights}).

    Class weights, compared with other libraries: ``reduction="none"`` and
    ``"sum"`` agree with PyTorch's ``cross_entropy(..., weight=w)`` for class
    indices and for probability targets. The mean divides by
    :math:`\sum_i c_i` (the unsmoothed targets' class weight, :math:`w_{y_i}`
    for one-hot targets): this is PyTorch's mean for class indices, so one-hot
    targets give exactly :func:`sparse_categorical_cross_entropy`. PyTorch's
    mean for probability targets divides by :math:`N` instead (use
    ``reduction="sum"`` and divide by :math:`N` to reproduce it); Keras has no
    class weights in the loss, and ``fit(class_weight=...)`` divides
    :math:`\sum_i w_{y_i} l_i` by the batch size :math:`N` (its default
    ``sum_over_batch_size`` reduction). For targets summing to 1,
    ``class_weights=jnp.ones(K)`` gives the unweighted loss. An example whose
    :math:`c_i` is 0 contributes nothing, even with label smoothing.

    Label smoothing mixes the targets with the uniform distribution (the
    PyTorch and Keras convention), before the class weights are applied.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            in ``[0, 1]`` when ``from_logits=False``.
        targets: target probabilities (or one-hot vectors), non-negative, with
            the shape of ``logits``.
        from_logits: whether ``logits`` are logits (default) or probabilities;
            the log of probabilities is clamped at -100 (module docstring).
        label_smoothing: :math:`\varepsilon \in [0, 1]`; may be traced.
        class_weights: optional non-negative ``[K]`` array of class weights.
        axis: the class axis of ``logits`` and ``targets``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``logits.shape`` without ``axis``).
        where: optional boolean per-example mask; ``False`` removes an example,
            whatever its logits and targets hold (NaN included).
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
        >>> targets = jnp.array([[1.0, 0.0, 0.0], [0.1, 0.8, 0.1]])
        >>> lossjax.categorical_cross_entropy(logits, targets, reduction="none")
        Array([0.41703004, 0.6467341 ], dtype=float32)

    References:
        PyTorch ``torch.nn.CrossEntropyLoss``; Szegedy et al., "Rethinking the
        Inception Architecture for Computer Vision", 2016
        (https://arxiv.org/abs/1512.00567) for label smoothing.
    """

    _checks.check_reduction(reduction)
    _checks.check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("label_smoothing", label_smoothing, lower=0.0, upper=1.0)
    _checks.check_hyperparameter("class_weights", class_weights, lower=0.0)
    logits, targets, where = prepare_class_targets(logits, targets, where, axis, target_fill=0.0)
    dtype, num_classes = logits.dtype, logits.shape[-1]
    smoothed = targets
    if not _numerics.is_static_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        smoothed = targets * (1 - eps) + eps / num_classes
    if class_weights is None:
        values = _cross_entropy(_log_probabilities(logits, from_logits), smoothed)
    else:
        # Class weights enter as weighted targets, sum_k w_k t'_k (-log q_k), and
        # each example counts c_i = sum_k w_k t_k in the mean (module docstring).
        w = _per_class(
            class_vector("class_weights", class_weights, num_classes, dtype), logits.ndim
        )
        values = _cross_entropy(_log_probabilities(logits, from_logits), w * smoothed)
        example_weights = jnp.sum(w * targets, axis=-1)
        values = _numerics.safe_divide(values, example_weights)
        weights = combine_weights(weights, example_weights)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def sparse_categorical_cross_entropy(
    logits: Any,
    labels: Any,
    *,
    from_logits: bool = True,
    label_smoothing: Any = 0.0,
    class_weights: Any = None,
    ignore_index: int | None = None,
    axis: int = -1,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Cross-entropy with integer class labels, without materialising a one-hot.

    With :math:`\log q_k = z_k - \operatorname{logsumexp}(z)` (or the log of the
    given probabilities), label smoothing :math:`\varepsilon` and class
    weights :math:`w` (all 1 when not given):

    .. math::

        l_i = (1 - \varepsilon)\,(-\log q_{i y_i})
              + \frac{\varepsilon}{w_{y_i}}\,\frac1K \sum_k w_k\,(-\log q_{ik}),
        \qquad
        \text{mean} = \frac{\sum_i w_{y_i} l_i}{\sum_i w_{y_i}}

    over the kept examples. This equals :func:`categorical_cross_entropy` on
    ``one_hot(labels)`` with the same options, for every reduction, and
    PyTorch's ``cross_entropy(..., weight=w, ignore_index=..., label_smoothing=...)``
    (which divides the smoothing term by :math:`\sum_i w_{y_i}` too). An
    example whose class has weight 0 contributes nothing, even with label
    smoothing (PyTorch still adds its smoothing term to the numerator).

    Removed examples contribute exactly nothing, to the value and the gradient,
    whatever their logits hold (NaN included), and are left out of the mean's
    denominator: those with ``where`` False, those labelled ``ignore_index``,
    and those whose label is outside ``[0, K)``. Out-of-range labels cannot
    raise under ``jax.jit``; they are removed like ``ignore_index`` rather
    than gathering an arbitrary logit, so check labels beforehand if a
    malformed label should be an error.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            when ``from_logits=False``.
        labels: integer array of class indices with the shape of ``logits``
            without ``axis``.
        from_logits: whether ``logits`` are logits (default) or probabilities;
            the log of probabilities is clamped at -100.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; may be traced.
        class_weights: optional non-negative ``[K]`` array of class weights.
        ignore_index: optional label value whose examples are removed
            (PyTorch's default is -100; here the default is None).
        axis: the class axis of ``logits``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to ``labels.shape``.
        where: optional boolean mask of ``labels``' shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses
        (0 for removed examples).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0], [9.0, 9.0, 9.0]])
        >>> labels = jnp.array([0, 1, -100])
        >>> lossjax.sparse_categorical_cross_entropy(logits, labels, ignore_index=-100,
        ...                                          reduction="none")
        Array([0.41703004, 0.1967341 , 0.        ], dtype=float32)

    References:
        PyTorch ``torch.nn.CrossEntropyLoss`` (class indices, ``weight``,
        ``ignore_index``, ``label_smoothing``); optax
        ``softmax_cross_entropy_with_integer_labels``.
    """

    _checks.check_reduction(reduction)
    _checks.check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("label_smoothing", label_smoothing, lower=0.0, upper=1.0)
    _checks.check_hyperparameter("class_weights", class_weights, lower=0.0)
    logits, labels, keep = prepare_class_labels(
        logits, labels, where, axis, ignore_index, logits_fill=0.0 if from_logits else 1.0
    )
    dtype, num_classes = logits.dtype, logits.shape[-1]
    cw = cw_y = None
    if class_weights is not None:
        cw = class_vector("class_weights", class_weights, num_classes, dtype)
        cw_y = cw[labels]
        weights = combine_weights(weights, cw_y)

    if from_logits:
        a, z_y = _label_log_odds(logits, labels)
        nll, neg_log_q, spread = jax.nn.softplus(a), None, logits - z_y[..., None]
    else:
        neg_log_q = -_numerics.floored_log(logits)
        nll = jnp.take_along_axis(neg_log_q, labels[..., None], axis=-1)[..., 0]
        spread = None
    values = nll
    if not _numerics.is_static_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        total = _label_smoothing_term(nll, neg_log_q, spread, cw) / num_classes
        smooth = total if cw_y is None else _numerics.safe_divide(total, cw_y)
        # `where`, not a product: with an excluded class (-inf logit) the
        # smoothing term is inf, and a traced eps = 0 must still give 0, not nan.
        values = (1 - eps) * nll + jnp.where(eps == 0, jnp.zeros((), dtype), eps * smooth)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


def categorical_focal_loss(
    logits: Any,
    labels: Any,
    *,
    gamma: Any = 2.0,
    alpha: Any = None,
    from_logits: bool = True,
    ignore_index: int | None = None,
    axis: int = -1,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Softmax focal loss on integer labels: cross-entropy scaled down on easy examples.

    With :math:`p_y = \operatorname{softmax}(z)_y` (or the given probability of
    the labelled class):

    .. math::

        l_i = -\alpha_{y_i}\,(1 - p_{i y_i})^\gamma \log p_{i y_i} .

    With ``gamma=0`` and ``alpha=None`` this is
    :func:`sparse_categorical_cross_entropy`. ``alpha`` multiplies the loss
    values only (it is not in the mean's denominator, as in Keras's
    ``CategoricalFocalCrossentropy``); for weights that also normalise the
    mean use ``weights`` or ``sparse_categorical_cross_entropy``'s
    ``class_weights``. The factor is computed in log space (module
    docstring), so values and gradients stay finite and accurate for logits
    of any size and any :math:`\gamma \ge 0`, including :math:`\gamma < 1`
    where :math:`(1-p)^\gamma` has an infinite slope at :math:`p = 1`.
    Removed examples (``where``, ``ignore_index``, labels outside
    ``[0, K)``) contribute nothing, as in
    :func:`sparse_categorical_cross_entropy`.

    Args:
        logits: floating array ``[..., K, ...]`` of logits (``K >= 2``), or of
            probabilities when ``from_logits=False``.
        labels: integer array of class indices with the shape of ``logits``
            without ``axis``.
        gamma: focusing parameter :math:`\gamma \ge 0`; may be traced
            (differentiable, vmappable).
        alpha: optional balance factor: a scalar or a ``[K]`` array of values
            in ``[0, 1]``; may be traced.
        from_logits: whether ``logits`` are logits (default) or probabilities
            (logs clamped at -100).
        ignore_index: optional label value whose examples are removed.
        axis: the class axis of ``logits``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to ``labels.shape``.
        where: optional boolean mask of ``labels``' shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
        >>> lossjax.categorical_focal_loss(logits, jnp.array([0, 2]), gamma=2.0,
        ...                                reduction="none")
        Array([0.04849235, 2.3453376 ], dtype=float32)

    References:
        Lin et al., "Focal Loss for Dense Object Detection", 2017
        (https://arxiv.org/abs/1708.02002).
    """

    _checks.check_reduction(reduction)
    _checks.check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("gamma", gamma, lower=0.0)
    _checks.check_hyperparameter("alpha", alpha, lower=0.0, upper=1.0)
    logits, labels, keep = prepare_class_labels(
        logits, labels, where, axis, ignore_index, logits_fill=0.0 if from_logits else 1.0
    )
    dtype, num_classes = logits.dtype, logits.shape[-1]
    if num_classes < 2:
        raise ValueError(
            f"lossjax: categorical_focal_loss needs at least 2 classes, got logits with "
            f"{num_classes} along `axis`."
        )
    gamma = _checks.hyperparameter(gamma, dtype)
    if from_logits:
        # -log p_y = softplus(a) and log(1 - p_y) = -softplus(-a), exact for any a.
        a, _ = _label_log_odds(logits, labels)
        nll, log1m = jax.nn.softplus(a), -jax.nn.softplus(-a)
    else:
        p_y = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
        nll, log1m = -_numerics.floored_log(p_y), _numerics.floored_log1m(p_y)
    # Where p_y = 1 exactly (every other logit -inf), log(1 - p_y) = -inf is
    # taken as the most negative float, so that gamma = 0 gives exp(0) = 1.
    log1m = jnp.maximum(log1m, jnp.finfo(dtype).min)
    values = jnp.exp(gamma * log1m) * nll
    if alpha is not None:
        alpha = _checks.check_real("alpha", alpha)
        if alpha.ndim == 0:
            values = alpha.astype(dtype) * values
        else:
            values = class_vector("alpha", alpha, num_classes, dtype)[labels] * values
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


def kl_divergence(
    logits: Any,
    targets: Any,
    *,
    from_logits: bool = True,
    log_targets: bool = False,
    axis: int = -1,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Kullback-Leibler divergence ``KL(targets || softmax(logits))`` per example.

    .. math::

        l_i = \mathrm{KL}(t_i \,\|\, q_i) = \sum_k t_{ik}\,(\log t_{ik} - \log q_{ik}),
        \qquad q_i = \operatorname{softmax}(z_i) .

    :math:`0 \log 0 = 0` in the value and in the gradient: a zero target adds
    nothing, and the derivative with respect to a zero target (:math:`-\infty`
    mathematically) is returned as 0, while the gradient with respect to the
    logits is the exact :math:`q \sum_k t_k - t`. (optax's ``kl_divergence``
    gives NaN gradients at zero targets.) With ``log_targets=True`` a target of
    :math:`\log t = -\infty` is a zero target, with the exact gradient 0.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            :math:`q` when ``from_logits=False`` (logs clamped at -100).
        targets: non-negative target probabilities, or their logs when
            ``log_targets=True``, with the shape of ``logits``.
        from_logits: whether ``logits`` are logits (default) or probabilities.
        log_targets: whether ``targets`` are log-probabilities.
        axis: the class axis.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``logits.shape`` without ``axis``).
        where: optional boolean per-example mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced divergence (float32 at least), or the per-example values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
        >>> targets = jnp.array([[1.0, 0.0, 0.0], [0.2, 0.2, 0.6]])
        >>> lossjax.kl_divergence(logits, targets, reduction="none")
        Array([0.6931472 , 0.10464963], dtype=float32)

    References:
        Kullback and Leibler, "On Information and Sufficiency", 1951; PyTorch
        ``torch.nn.KLDivLoss`` (``log_target``), optax ``kl_divergence``.
    """

    _checks.check_reduction(reduction)
    _checks.check_flag("from_logits", from_logits)
    _checks.check_flag("log_targets", log_targets)
    logits, targets, where = prepare_class_targets(
        logits,
        targets,
        where,
        axis,
        targets_floating=log_targets,
        target_fill=-jnp.inf if log_targets else 0.0,
    )
    if log_targets:
        # A log-target of -inf is a zero target.
        log_t, t = targets, jnp.exp(targets)
    else:
        t = targets
        log_t = jnp.log(jnp.where(t > 0, t, jnp.ones((), t.dtype)))
    values = _kl(_log_probabilities(logits, from_logits), t, log_t)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
