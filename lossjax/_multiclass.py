r"""Multiclass losses: cross-entropies, softmax focal, Poly-1, generalized CE, KL divergences.

All of them consume a class axis (``axis=-1`` by default, any axis allowed):
``reduction="none"`` returns one value per example, the input shape without
that axis, and ``weights``/``where`` have that per-example shape. Each follows
one path: the class-axis front (:func:`prepare_class_targets` or
:func:`prepare_class_labels`), a reference formula, and :func:`reduce_loss`.

``class_mask`` (on the cross-entropies, the focal loss and the KL divergence)
removes classes from the softmax, per example or for all: optax's per-class
``where``. ``where`` stays the per-example mask of the reduction contract.

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

import math
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import (
    AxisName,
    Normalize,
    Reduction,
    class_vector,
    combine_weights,
    prepare_class_labels,
    prepare_class_targets,
    reduce_loss,
)
from lossjax._registry import (
    CALIBRATION_NOTE,
    CLASS_AXES,
    CLASS_AXIS,
    CLASS_MASK,
    CLASS_WEIGHTS,
    FOCAL_GAMMA,
    FROM_LOGITS,
    IGNORE_INDEX,
    LABEL_SMOOTHING,
    LOGIT_SOFT_CAP,
    Z_LOSS,
    Recommendation,
    flag,
    real,
    register,
)

# -- reference formulas -------------------------------------------------------------------


def _per_class(vector: jax.Array, ndim: int) -> jax.Array:
    """A ``[K]`` vector shaped to broadcast against ``[..., K]`` of rank ``ndim``."""
    return vector.reshape((1,) * (ndim - 1) + vector.shape)


def _label_log_odds(logits: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(a, z_y)``: the log-odds against the label ``a = log sum_{k != y} e^{z_k - z_y}``.

    ``a = (m - z_y) + log sum_{k != y} e^{z_k - m}`` with ``m`` the largest
    other logit: exact to rounding for logits of any size, and no difference
    of two logits is formed beyond ``m - z_y`` (inf only where ``a`` is).
    """
    classes = jax.lax.broadcasted_iota(labels.dtype, logits.shape, logits.ndim - 1)
    # Classes excluded with a -inf logit are left out too (their term is 0,
    # and a log-sum-exp over nothing but -inf has a NaN gradient).
    others = (labels[..., None] != classes) & (logits > -jnp.inf)
    z_y = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
    # Shifted by the largest other logit m, held constant (a does not depend on it):
    # z_k - m <= 0, whereas z_k - z_y overflows for logits of opposite signs near the
    # float32 maximum, and the log-sum-exp of an inf has a NaN gradient.
    m = jax.lax.stop_gradient(jnp.max(jnp.where(others, logits, -jnp.inf), axis=-1))
    m = jnp.where(m > -jnp.inf, m, jnp.zeros((), m.dtype))
    # With no other class the log-sum-exp is -inf and a = -inf: p_y = 1.
    others_lse = jax.nn.logsumexp(logits - m[..., None], axis=-1, where=others)
    return (m - z_y) + others_lse, z_y


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
    neg_log_q: jax.Array, class_weights: jax.Array | None, kept: jax.Array | None = None
) -> jax.Array:
    """``sum_k v_k (-log q_k)`` over the kept classes, for class weights ``v`` (all 1 without them).

    Every term is non-negative, so the sum is never ``inf - inf``.
    """
    num_classes = neg_log_q.shape[-1]
    v = jnp.ones((num_classes,), neg_log_q.dtype) if class_weights is None else class_weights
    v = _per_class(v, neg_log_q.ndim)
    if kept is not None:  # select, never multiply: a removed class's -log q is inf
        v = jnp.where(kept, v, jnp.zeros((), v.dtype))
        neg_log_q = jnp.where(kept, neg_log_q, jnp.zeros((), neg_log_q.dtype))
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


def _log1m_softmax(logits: jax.Array, log_q: jax.Array) -> jax.Array:
    """``log(1 - q_k)`` for every class, exact where ``1 - q_top`` rounds to 0.

    Below the top class ``q_k < 1/2`` and ``log1p(-q_k)`` is exact; at the top
    class ``1 - q_top`` is the sum of the other ``q_j``, a log-sum-exp of their
    (exact) ``log q_j`` that neither rounds nor underflows.
    """
    _, _, others = _top_class(logits)
    rest = others & (log_q > -jnp.inf)
    has_rest = jnp.any(rest, axis=-1, keepdims=True)  # False: q_top = 1, log(1 - q_top) = -inf
    safe = jnp.where(rest, log_q, jnp.zeros((), log_q.dtype))
    log_rest = jax.nn.logsumexp(safe, axis=-1, keepdims=True, where=rest | ~has_rest)
    log_rest = jnp.where(has_rest, log_rest, -jnp.inf)
    # q_k = 0 (log q_k = -inf, a logit far below the top) has log(1 - q_k) = 0 and slope 0:
    # taken as a constant there, so that an infinite cotangent meets no 0 * inf.
    below = jnp.log1p(-jnp.exp(jnp.where(rest, log_q, -jnp.inf)))
    return jnp.where(others, below, log_rest)


# -- class masks and several class axes -------------------------------------------------


def _class_mask(class_mask: Any, logits: jax.Array, axis: int) -> jax.Array | None:
    """``class_mask`` broadcast to the logits' shape as given, then with the class axis last.

    ``logits`` has its class axis last already (``axis`` is where it was).
    """
    if class_mask is None:
        return None
    mask = _checks.as_array("class_mask", class_mask)
    if mask.dtype != jnp.bool_:
        raise TypeError(
            f"lossjax: `class_mask` must be a boolean array (True keeps a class), got "
            f"{mask.dtype}{list(mask.shape)}."
        )
    axis = axis % logits.ndim
    shape = logits.shape[:-1]
    shape = (*shape[:axis], logits.shape[-1], *shape[axis:])
    fits = mask.ndim <= len(shape) and all(
        m in (1, s) for m, s in zip(mask.shape[::-1], shape[::-1], strict=False)
    )
    if not fits:
        raise ValueError(
            f"lossjax: `class_mask` must broadcast to the logits' shape {shape} (NumPy rules, "
            f"against the logits as given), got class_mask.shape={tuple(mask.shape)} and "
            f"logits.shape={shape}. A [K] mask applies to every example when the class axis "
            "is last; otherwise give it the logits' rank, e.g. [K, 1] for axis=0."
        )
    return jnp.moveaxis(jnp.broadcast_to(mask, shape), axis, -1)


def _mask_classes(
    mask: jax.Array | None,
    logits: jax.Array,
    where: jax.Array | None,
    *,
    from_logits: bool,
) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
    """Removes the classes ``mask`` leaves out: logit ``-inf`` (probability 0).

    The replacement selects, so NaN or inf in a removed class reaches neither
    the value nor the gradient. An example with no kept class is removed
    (folded into ``where``). Returns ``(logits, mask, where)``; the returned
    mask keeps every class of the removed examples (see :func:`_mask_targets`).
    """
    if mask is None:
        return logits, None, where
    kept_any = jnp.any(mask, axis=-1, keepdims=True)
    logits = jnp.where(mask, logits, -jnp.inf if from_logits else 0.0)
    logits = jnp.where(kept_any, logits, jnp.zeros((), logits.dtype))
    where = kept_any[..., 0] if where is None else where & kept_any[..., 0]
    return logits, mask | ~kept_any, where


def _mask_targets(mask: jax.Array | None, targets: jax.Array, fill: float = 0.0) -> jax.Array:
    """The targets of the classes ``mask`` leaves out replaced by ``fill`` (a select)."""
    if mask is None:
        return targets
    return jnp.where(mask, targets, jnp.asarray(fill, targets.dtype))


def _num_kept(mask: jax.Array | None, num_classes: int, dtype: Any, keepdims: bool = True) -> Any:
    """The number of kept classes per example (``[..., 1]`` with ``keepdims``), or ``K``."""
    if mask is None:
        return num_classes
    return jnp.sum(mask, axis=-1, keepdims=keepdims, dtype=dtype)


def _several_class_axes(
    logits: Any, labels: Any, class_mask: Any, axes: tuple[Any, ...]
) -> tuple[jax.Array, Any, Any, int]:
    """A tuple ``axis``: the class axes (and the class mask's) flattened last; ``axis=-1``."""
    logits = _checks.check_floating("logits", logits)
    labels = _checks.check_integer("labels", labels)
    flat = _flatten_class_axes(logits, axes)
    if tuple(labels.shape) != flat.shape[:-1]:
        raise ValueError(
            f"lossjax: `labels` must have the shape of `logits` without the class axes "
            f"{axes}, {flat.shape[:-1]}; got labels.shape={tuple(labels.shape)} and "
            f"logits.shape={tuple(logits.shape)}."
        )
    mask = _class_mask(class_mask, logits, -1)  # broadcast to the logits as given
    if mask is not None:
        class_mask = _flatten_class_axes(mask, axes)
    return flat, labels, class_mask, -1


def _label_on_kept_class(
    labels: jax.Array, mask: jax.Array | None
) -> tuple[jax.Array, jax.Array | None]:
    """``(labels, label_kept)``: a label on a removed class is replaced by a kept one.

    Its own term is then dropped (``label_kept`` False), as a one-hot target's
    mass on a removed class is; the stand-in keeps every formula finite.
    """
    if mask is None:
        return labels, None
    label_kept = jnp.take_along_axis(mask, labels[..., None], axis=-1)[..., 0]
    stand_in = jnp.argmax(mask, axis=-1).astype(labels.dtype)
    return jnp.where(label_kept, labels, stand_in), label_kept


def _flatten_class_axes(x: jax.Array, axes: tuple[Any, ...]) -> jax.Array:
    """Moves the class ``axes`` last in the order given and flattens them (optax's rule)."""
    if not axes:
        raise ValueError("lossjax: `axis` must be an int or a non-empty tuple of ints, got ().")
    axes = tuple(_checks.normalize_axis("axis", a, x.ndim) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"lossjax: `axis` repeats an axis: {axes}.")
    batch = tuple(d for d in range(x.ndim) if d not in axes)
    x = jnp.transpose(x, batch + axes)
    n = len(batch)
    return x.reshape((*x.shape[:n], math.prod(x.shape[n:])))


# -- losses -----------------------------------------------------------------------------


@register(
    task="multiclass",
    input_kind="from_logits",
    summary="Softmax cross-entropy on one-hot or soft target distributions, with label smoothing.",
    aliases=(
        "cce",
        "cross_entropy",
        "softmax_cross_entropy",
    ),
    calibrated_probabilities=True,
    handles_imbalance=True,
    hyperparameters=(
        FROM_LOGITS,
        LABEL_SMOOTHING,
        CLASS_WEIGHTS,
        CLASS_MASK,
        CLASS_AXIS,
    ),
    recommendations=(
        Recommendation(
            "one-hot or soft targets; label smoothing 0.1 regularises over-confident large models",
            {"label_smoothing": 0.1},
        ),
    ),
)
def categorical_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    from_logits: bool = True,
    label_smoothing: ArrayLike = 0.0,
    class_weights: ArrayLike | None = None,
    class_mask: ArrayLike | None = None,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
    normalize_by: Normalize = "tokens",
    segment_ids: ArrayLike | None = None,
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

    ``class_mask`` removes classes from the softmax, optax's per-class
    ``where``: the loss equals the loss on the kept classes alone, and
    ``optax.losses.softmax_cross_entropy(z, t, where=class_mask)``. Target
    mass on a removed class is dropped (as optax does); label smoothing
    spreads :math:`\varepsilon` over the :math:`K'` kept classes
    (:math:`\varepsilon / K'` each); an example with no kept class is
    removed like ``where=False`` (optax returns 0 for it). A removed class's
    logit may be NaN or inf: it reaches neither the value nor the gradient.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            in ``[0, 1]`` when ``from_logits=False``.
        targets: target probabilities (or one-hot vectors), non-negative, with
            the shape of ``logits``.
        from_logits: whether ``logits`` are logits (default) or probabilities;
            the log of probabilities is clamped at -100 (module docstring).
        label_smoothing: :math:`\varepsilon \in [0, 1]`; may be traced.
        class_weights: optional non-negative ``[K]`` array of class weights.
        class_mask: optional boolean array broadcastable (NumPy rules) to
            ``logits.shape`` as given; False removes a class from the softmax.
            A ``[K]`` mask applies to every example when ``axis=-1``.
        axis: the class axis of ``logits`` and ``targets``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``logits.shape`` without ``axis``).
        where: optional boolean per-example mask; ``False`` removes an example,
            whatever its logits and targets hold (NaN included).
        axis_name: mapped axis name(s) for an exact global mean.
        normalize_by: ``"tokens"`` (default) or ``"sequences"``: the mean over all
            kept tokens, or per sequence (the last per-example axis) first
            (see :func:`lossjax.reduce_loss`).
        segment_ids: optional integer per-example ids of packed sequences,
            0 = padding.

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
    logits, targets, where = prepare_class_targets(logits, targets, where, axis, target_fill=0.0)
    _checks.check_target_distributions("targets", targets, where)
    mask = _class_mask(class_mask, logits, axis)
    targets = _mask_targets(mask, targets)
    logits, mask, where = _mask_classes(mask, logits, where, from_logits=from_logits)
    _checks.check_probabilities("logits", logits, from_logits=from_logits)
    dtype, num_classes = logits.dtype, logits.shape[-1]
    smoothed = targets
    if not _numerics.is_static_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        smoothed = targets * (1 - eps) + eps / _num_kept(mask, num_classes, dtype)
        smoothed = smoothed if mask is None else jnp.where(mask, smoothed, 0.0)
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
        values,
        reduction=reduction,
        weights=weights,
        where=where,
        axis_name=axis_name,
        normalize_by=normalize_by,
        segment_ids=segment_ids,
    )


@register(
    task="multiclass",
    input_kind="from_logits",
    summary="Softmax cross-entropy on integer labels; calibrated, with class weights and ignore_index.",
    aliases=(
        "sparse_cce",
        "scce",
        "sparse_cross_entropy",
        "nll",
    ),
    default=True,
    calibrated_probabilities=True,
    handles_imbalance=True,
    hyperparameters=(
        FROM_LOGITS,
        LABEL_SMOOTHING,
        CLASS_WEIGHTS,
        CLASS_MASK,
        IGNORE_INDEX,
        Z_LOSS,
        LOGIT_SOFT_CAP,
        CLASS_AXES,
    ),
    recommendations=(
        Recommendation(
            "weighted cross-entropy: class_weights = inverse class frequencies (a [K] array) make "
            "rare classes count as much as common ones",
            when=("imbalanced",),
            notes={"calibrated": "; shifts the probabilities, recalibrate after"},
            requires=("class_weights",),
            handles_imbalance=True,
            calibrated=False,
        ),
        Recommendation(
            "the default for integer labels: calibrated softmax probabilities",
            notes={"large_vocab": "; materialises [N, K] logits and their gradient"},
        ),
        Recommendation(
            "next-token prediction: the mean over all kept tokens; normalize_by='sequences' "
            "makes every sequence count once, segment_ids handles packed sequences",
            tasks=("sequence",),
            score=1.0,
        ),
        Recommendation(
            "large models: PaLM's z-loss (1e-4 lse^2) keeps the softmax normaliser near 1 "
            "and training stable in low precision",
            {"z_loss": 1e-4},
            tasks=("sequence",),
        ),
        Recommendation(
            "label smoothing 0.1 regularises over-confident large models",
            {"label_smoothing": 0.1},
            tasks=("sequence",),
        ),
    ),
    also_for=("sequence",),
)
def sparse_categorical_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    from_logits: bool = True,
    label_smoothing: ArrayLike = 0.0,
    class_weights: ArrayLike | None = None,
    class_mask: ArrayLike | None = None,
    ignore_index: int | None = None,
    z_loss: ArrayLike = 0.0,
    logit_soft_cap: ArrayLike | None = None,
    axis: int | tuple[int, ...] = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
    normalize_by: Normalize = "tokens",
    segment_ids: ArrayLike | None = None,
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
    than gathering an arbitrary logit; under :func:`lossjax.checked` a
    malformed label is an error.

    ``class_mask`` removes classes from the softmax as in
    :func:`categorical_cross_entropy` (optax's per-class ``where``). A label
    on a removed class counts like its one-hot target there, whose mass is
    dropped: it contributes 0 (plus the label-smoothing term), so this loss
    still equals :func:`categorical_cross_entropy` on ``one_hot(labels)``.
    (optax's ``softmax_cross_entropy_with_integer_labels`` returns
    :math:`\operatorname{logsumexp}_{\text{kept}}(z) - z_y` there, not a
    log-probability, and the dense optax loss drops the mass as here.)

    Language-model options, as in :func:`linear_cross_entropy` (which equals
    this loss on ``hidden @ weight``): ``z_loss`` :math:`\zeta` adds PaLM's
    :math:`\zeta\,\mathrm{lse}_i^2`, :math:`\mathrm{lse}_i =
    \log\sum_k e^{z_{ik}}` over the kept classes, to each kept example's loss
    (weighted like it), and ``logit_soft_cap`` :math:`c` replaces every logit
    by :math:`c \tanh(z / c)` (Gemma 2) before everything else; a logit of
    :math:`-\infty` (an excluded class) stays :math:`-\infty`. Both act on
    logits: ``from_logits=False`` refuses them.

    A tuple ``axis`` takes several class axes, as optax does: they are moved
    last in the order given and flattened, ``labels`` has the shape of
    ``logits`` without them, and a label is the flat (row-major) index into
    them, e.g. ``jnp.ravel_multi_index((i, j), (K1, K2))`` for ``axis=(1, 2)``.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            when ``from_logits=False``.
        labels: integer array of class indices with the shape of ``logits``
            without ``axis``.
        from_logits: whether ``logits`` are logits (default) or probabilities;
            the log of probabilities is clamped at -100.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; may be traced.
        class_weights: optional non-negative ``[K]`` array of class weights
            (``K`` the product of the class axes' sizes).
        class_mask: optional boolean array broadcastable (NumPy rules) to
            ``logits.shape`` as given; False removes a class from the softmax.
        ignore_index: optional label value whose examples are removed
            (PyTorch's default is -100; here the default is None).
        z_loss: non-negative coefficient :math:`\zeta` of
            :math:`\mathrm{lse}^2`; a Python number or a traced scalar.
        logit_soft_cap: ``None`` (default) or a positive cap :math:`c`; a
            Python number or a traced scalar.
        axis: the class axis of ``logits``, or a tuple of class axes.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to ``labels.shape``.
        where: optional boolean mask of ``labels``' shape.
        axis_name: mapped axis name(s) for an exact global mean.
        normalize_by: ``"tokens"`` (default) or ``"sequences"``: the mean over all
            kept tokens, or per sequence (the last per-example axis) first
            (see :func:`lossjax.reduce_loss`).
        segment_ids: optional integer per-example ids of packed sequences,
            0 = padding.

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
        ``softmax_cross_entropy_with_integer_labels`` (tuple ``axis``, ``where``).
    """

    _checks.check_reduction(reduction)
    has_z_loss = not _numerics.is_static_zero(z_loss)
    if not from_logits and (has_z_loss or logit_soft_cap is not None):
        raise ValueError(
            "lossjax: `z_loss` and `logit_soft_cap` act on logits; sparse_categorical_cross_"
            "entropy got from_logits=False (probabilities). Pass logits, or leave them unset."
        )
    if isinstance(axis, tuple):
        logits, labels, class_mask, axis = _several_class_axes(logits, labels, class_mask, axis)
    keep: jax.Array | None
    logits, labels, keep = prepare_class_labels(
        logits, labels, where, axis, ignore_index, logits_fill=0.0 if from_logits else 1.0
    )
    dtype, num_classes = logits.dtype, logits.shape[-1]
    mask = _class_mask(class_mask, logits, axis)
    logits, mask, keep = _mask_classes(mask, logits, keep, from_logits=from_logits)
    _checks.check_probabilities("logits", logits, from_logits=from_logits)
    if logit_soft_cap is not None:
        cap = _checks.hyperparameter(logit_soft_cap, dtype)
        # An excluded class (-inf) stays excluded; the select keeps tanh away from it.
        finite = logits > -jnp.inf
        capped = cap * jnp.tanh(jnp.where(finite, logits, jnp.zeros((), dtype)) / cap)
        logits = jnp.where(finite, capped, -jnp.inf)
    labels, label_kept = _label_on_kept_class(labels, mask)
    cw = cw_y = None
    if class_weights is not None:
        cw = class_vector("class_weights", class_weights, num_classes, dtype)
        cw_y = cw[labels] if label_kept is None else jnp.where(label_kept, cw[labels], 0.0)
        weights = combine_weights(weights, cw_y)

    if from_logits:
        a, z_y = _label_log_odds(logits, labels)
        nll, neg_log_q = jax.nn.softplus(a), None
    else:
        neg_log_q = -_numerics.floored_log(logits)
        nll = jnp.take_along_axis(neg_log_q, labels[..., None], axis=-1)[..., 0]
    values = nll if label_kept is None else jnp.where(label_kept, nll, 0.0)
    if not _numerics.is_static_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        if neg_log_q is None:
            neg_log_q = -_log_softmax(logits)
        # Each -log q_k is divided by the number of classes before the sum, whose
        # mean can fit where the sum would overflow.
        neg_log_q = neg_log_q / _num_kept(mask, num_classes, dtype)
        total = _label_smoothing_term(neg_log_q, cw, mask)
        smooth = total if cw_y is None else _numerics.safe_divide(total, cw_y)
        # `where`, not a product: with an excluded class (-inf logit) the
        # smoothing term is inf, and a traced eps = 0 must still give 0, not nan.
        values = (1 - eps) * values + jnp.where(eps == 0, jnp.zeros((), dtype), eps * smooth)
    if has_z_loss:
        # lse = z_y - log q_y, from the label's log-odds: no second log-sum-exp.
        values = values + _checks.hyperparameter(z_loss, dtype) * jnp.square(z_y + nll)
    return reduce_loss(
        values,
        reduction=reduction,
        weights=weights,
        where=keep,
        axis_name=axis_name,
        normalize_by=normalize_by,
        segment_ids=segment_ids,
    )


@register(
    task="multiclass",
    input_kind="from_logits",
    summary="Softmax focal loss on labels or distributions: down-weights easy examples.",
    aliases=(
        "categorical_focal",
        "multiclass_focal",
        "softmax_focal",
    ),
    handles_imbalance=True,
    hyperparameters=(
        FOCAL_GAMMA,
        real(
            "alpha",
            "balance factor, scalar or [K]",
            lower=0.0,
            upper=1.0,
            optional=True,
            scalar=False,
        ),
        FROM_LOGITS,
        LABEL_SMOOTHING,
        CLASS_MASK,
        IGNORE_INDEX,
        CLASS_AXIS,
    ),
    recommendations=(
        Recommendation(
            "down-weights easy examples so that rare classes drive training; a [K] alpha weights "
            "the rare classes up",
            {"gamma": 2.0},
            notes=CALIBRATION_NOTE,
            handles_imbalance=True,
        ),
    ),
)
def categorical_focal_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    gamma: ArrayLike = 2.0,
    alpha: ArrayLike | None = None,
    from_logits: bool = True,
    label_smoothing: ArrayLike = 0.0,
    class_mask: ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
    normalize_by: Normalize = "tokens",
    segment_ids: ArrayLike | None = None,
) -> jax.Array:
    r"""Softmax focal loss: cross-entropy scaled down on easy examples.

    With :math:`q = \operatorname{softmax}(z)` (or the given probabilities),
    targets :math:`t` (``one_hot(labels)`` for integer labels), smoothed as
    :math:`t' = (1 - \varepsilon)\,t + \varepsilon / K`:

    .. math::

        l_i = -\sum_k \alpha_k\,(1 - q_{ik})^\gamma\, t'_{ik} \log q_{ik}
        \;=\; -\alpha_{y_i}\,(1 - q_{i y_i})^\gamma \log q_{i y_i}
        \quad \text{(integer labels, } \varepsilon = 0\text{)} .

    ``labels`` are integer class indices, or target distributions: a float
    array of the logits' shape (Keras's ``CategoricalFocalCrossentropy``
    takes those). With ``gamma=0`` and ``alpha=None`` this is
    :func:`sparse_categorical_cross_entropy` (:func:`categorical_cross_entropy`
    for distributions). Label smoothing with integer labels uses the
    distribution formula (a one-hot is formed).

    Compared with Keras: the same formula, ``alpha`` (a scalar or ``[K]``)
    multiplying each class's term, and the same smoothing; Keras's default
    ``alpha=0.25`` is ``alpha=0.25`` here (the default ``None`` is 1). Keras
    clips probabilities to :math:`[10^{-7}, 1 - 10^{-7}]` and renormalises
    given probabilities; here logits are exact and probabilities are used as
    given (logs clamped at -100). The binary :func:`focal_loss`'s ``alpha``
    weighs positives by :math:`\alpha` and negatives by :math:`1 - \alpha`;
    this one is one weight per class, so the binary convention is
    ``alpha=[1 - a, a]`` on two classes. ``alpha`` multiplies the loss values
    only (it is not in the mean's denominator, as in Keras); for weights that
    also normalise the mean use ``weights`` or
    :func:`sparse_categorical_cross_entropy`'s ``class_weights``.

    The factor is computed in log space (module docstring), so values and
    gradients stay finite and accurate for logits of any size and any
    :math:`\gamma \ge 0`, including :math:`\gamma < 1` where
    :math:`(1-q)^\gamma` has an infinite slope at :math:`q = 1`. Removed
    examples (``where``, ``ignore_index``, labels outside ``[0, K)``)
    contribute nothing. ``class_mask`` removes classes from the softmax as
    in :func:`sparse_categorical_cross_entropy` (a target on a removed class
    is dropped).

    Args:
        logits: floating array ``[..., K, ...]`` of logits (``K >= 2``), or of
            probabilities when ``from_logits=False``.
        labels: integer array of class indices with the shape of ``logits``
            without ``axis``, or non-negative target probabilities (floating,
            with the shape of ``logits``).
        gamma: focusing parameter :math:`\gamma \ge 0`; may be traced
            (differentiable, vmappable).
        alpha: optional balance factor: a scalar or a ``[K]`` array of values
            in ``[0, 1]``; may be traced.
        from_logits: whether ``logits`` are logits (default) or probabilities
            (logs clamped at -100).
        label_smoothing: :math:`\varepsilon \in [0, 1]`; may be traced.
        class_mask: optional boolean array broadcastable (NumPy rules) to
            ``logits.shape`` as given; False removes a class from the softmax.
        ignore_index: optional label value whose examples are removed
            (integer labels only).
        axis: the class axis of ``logits``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``logits.shape`` without ``axis``).
        where: optional boolean per-example mask.
        axis_name: mapped axis name(s) for an exact global mean.
        normalize_by: ``"tokens"`` (default) or ``"sequences"``: the mean over all
            kept tokens, or per sequence (the last per-example axis) first
            (see :func:`lossjax.reduce_loss`).
        segment_ids: optional integer per-example ids of packed sequences,
            0 = padding.

    Returns:
        The reduced loss (float32 at least), or the per-example losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
        >>> lossjax.categorical_focal_loss(logits, jnp.array([0, 2]), gamma=2.0,
        ...                                reduction="none")
        Array([0.04849235, 2.3453376 ], dtype=float32)
        >>> targets = jnp.array([[0.9, 0.1, 0.0], [0.0, 0.2, 0.8]])
        >>> lossjax.categorical_focal_loss(logits, targets, label_smoothing=0.1,
        ...                                alpha=0.25, reduction="none")
        Array([0.05098868, 0.4565022 ], dtype=float32)

    References:
        Lin et al., "Focal Loss for Dense Object Detection", 2017
        (https://arxiv.org/abs/1708.02002); Keras
        ``keras.losses.CategoricalFocalCrossentropy``.
    """

    _checks.check_reduction(reduction)
    dense = _are_distributions(logits, labels)
    if dense:
        if ignore_index is not None:
            raise ValueError(
                "lossjax: `ignore_index` applies to integer labels; categorical_focal_loss got "
                "target distributions (a float array of the logits' shape). Use `where`."
            )
        logits, targets, keep = prepare_class_targets(logits, labels, where, axis)
        _checks.check_target_distributions("labels", targets, keep)
    else:
        logits, int_labels, keep = prepare_class_labels(
            logits, labels, where, axis, ignore_index, logits_fill=0.0 if from_logits else 1.0
        )
    dtype, num_classes = logits.dtype, logits.shape[-1]
    if num_classes < 2:
        raise ValueError(
            f"lossjax: categorical_focal_loss needs at least 2 classes, got logits with "
            f"{num_classes} along `axis`."
        )
    mask = _class_mask(class_mask, logits, axis)
    if dense:
        targets = _mask_targets(mask, targets)
    logits, mask, keep = _mask_classes(mask, logits, keep, from_logits=from_logits)
    _checks.check_probabilities("logits", logits, from_logits=from_logits)
    gamma = _checks.hyperparameter(gamma, dtype)
    alpha = None if alpha is None else _focal_alpha(alpha, num_classes, dtype)
    if not dense and _numerics.is_static_zero(label_smoothing):
        values = _focal_on_labels(logits, int_labels, mask, gamma, alpha, from_logits)
    else:
        if not dense:  # label smoothing on labels: the distribution formula on the one-hot
            targets = _mask_targets(mask, jax.nn.one_hot(int_labels, num_classes, dtype=dtype))
        if not _numerics.is_static_zero(label_smoothing):
            eps = _checks.hyperparameter(label_smoothing, dtype)
            targets = targets * (1 - eps) + eps / _num_kept(mask, num_classes, dtype)
            targets = _mask_targets(mask, targets)
        values = _focal_on_targets(logits, targets, gamma, alpha, from_logits)
    return reduce_loss(
        values,
        reduction=reduction,
        weights=weights,
        where=keep,
        axis_name=axis_name,
        normalize_by=normalize_by,
        segment_ids=segment_ids,
    )


def _focal_on_labels(
    logits: jax.Array,
    labels: jax.Array,
    mask: jax.Array | None,
    gamma: jax.Array,
    alpha: jax.Array | None,
    from_logits: bool,
) -> jax.Array:
    """``-alpha_y (1 - p_y)^gamma log p_y``, in log space from the label's log-odds."""
    labels, label_kept = _label_on_kept_class(labels, mask)
    if from_logits:
        # -log p_y = softplus(a) and log(1 - p_y) = -softplus(-a), exact for any a.
        a, _ = _label_log_odds(logits, labels)
        # At a = inf (a margin beyond float32) log(1 - p_y) is exactly 0; written as 0 there,
        # so that the product rule's nll * slope = inf * 0 stays out of the gradient.
        finite = a < jnp.inf
        log1m = jnp.where(finite, -jax.nn.softplus(-jnp.where(finite, a, 0.0)), 0.0)
        nll = jax.nn.softplus(a)
    else:
        p_y = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
        nll, log1m = -_numerics.floored_log(p_y), _numerics.floored_log1m(p_y)
    # Where p_y = 1 exactly (every other logit -inf), log(1 - p_y) = -inf is
    # taken as the most negative float, so that gamma = 0 gives exp(0) = 1.
    values = jnp.exp(gamma * jnp.maximum(log1m, jnp.finfo(nll.dtype).min)) * nll
    if alpha is not None:
        values = (alpha if alpha.ndim == 0 else alpha[labels]) * values
    return values if label_kept is None else jnp.where(label_kept, values, 0.0)


def _focal_on_targets(
    logits: jax.Array,
    targets: jax.Array,
    gamma: jax.Array,
    alpha: jax.Array | None,
    from_logits: bool,
) -> jax.Array:
    """``-sum_k alpha_k (1 - q_k)^gamma t_k log q_k``, with exact ``log(1 - q_k)``."""
    log_q = _log_probabilities(logits, from_logits)
    if from_logits:
        log1m = _log1m_softmax(logits, log_q)
    else:
        log1m = _numerics.floored_log1m(logits)
    factor = jnp.exp(gamma * jnp.maximum(log1m, jnp.finfo(log_q.dtype).min))
    if alpha is not None:
        factor = (alpha if alpha.ndim == 0 else _per_class(alpha, factor.ndim)) * factor
    return -jnp.sum(factor * _numerics.x_log_y(targets, log_q), axis=-1)


def _are_distributions(logits: Any, labels: Any) -> bool:
    """Whether focal ``labels`` are target distributions: floating, with the logits' shape."""
    labels = _checks.as_array("labels", labels)
    if not jnp.issubdtype(labels.dtype, jnp.floating):
        return False
    if tuple(labels.shape) != tuple(jnp.shape(logits)):
        raise TypeError(
            f"lossjax: `labels` must be an integer array of class indices, or target "
            f"probabilities with the shape of `logits` {tuple(jnp.shape(logits))}; got "
            f"{labels.dtype}{list(labels.shape)}."
        )
    return True


def _focal_alpha(alpha: Any, num_classes: int, dtype: Any) -> jax.Array:
    """The focal balance factor, checked: a scalar or one value per class ``[K]``."""
    alpha = _checks.check_real("alpha", alpha)
    if alpha.ndim == 0:
        return alpha.astype(dtype)
    return class_vector("alpha", alpha, num_classes, dtype)


@register(
    task="multiclass",
    input_kind="from_logits",
    summary="KL(targets || predictions) for target distributions, e.g. knowledge distillation.",
    aliases=(
        "kl",
        "kld",
        "kl_div",
    ),
    hyperparameters=(
        FROM_LOGITS,
        flag("log_targets", "targets are given as log-probabilities"),
        CLASS_MASK,
        CLASS_AXIS,
    ),
    recommendations=(
        Recommendation(
            "when the targets are distributions, e.g. a teacher's softened probabilities in "
            "knowledge distillation"
        ),
    ),
)
def kl_divergence(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    from_logits: bool = True,
    log_targets: bool = False,
    class_mask: ArrayLike | None = None,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
    normalize_by: Normalize = "tokens",
    segment_ids: ArrayLike | None = None,
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

    ``class_mask`` removes classes from the softmax (and their target terms):
    the divergence equals the one on the kept classes alone, and optax's
    ``kl_divergence(jax.nn.log_softmax(z, where=m), t, where=m)``. From
    probabilities the removed classes' terms are dropped (nothing is
    renormalised). A removed class's logit may be NaN or inf.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            :math:`q` when ``from_logits=False`` (logs clamped at -100).
        targets: non-negative target probabilities, or their logs when
            ``log_targets=True``, with the shape of ``logits``.
        from_logits: whether ``logits`` are logits (default) or probabilities.
        log_targets: whether ``targets`` are log-probabilities.
        class_mask: optional boolean array broadcastable (NumPy rules) to
            ``logits.shape`` as given; False removes a class.
        axis: the class axis.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``logits.shape`` without ``axis``).
        where: optional boolean per-example mask.
        axis_name: mapped axis name(s) for an exact global mean.
        normalize_by: ``"tokens"`` (default) or ``"sequences"``: the mean over all
            kept tokens, or per sequence (the last per-example axis) first
            (see :func:`lossjax.reduce_loss`).
        segment_ids: optional integer per-example ids of packed sequences,
            0 = padding.

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
    logits, targets, where = prepare_class_targets(
        logits,
        targets,
        where,
        axis,
        targets_floating=log_targets,
        target_fill=-jnp.inf if log_targets else 0.0,
    )
    _checks.check_target_distributions("targets", targets, where, log=log_targets)
    mask = _class_mask(class_mask, logits, axis)
    targets = _mask_targets(mask, targets, -jnp.inf if log_targets else 0.0)
    logits, mask, where = _mask_classes(mask, logits, where, from_logits=from_logits)
    _checks.check_probabilities("logits", logits, from_logits=from_logits)
    if log_targets:
        # A log-target of -inf is a zero target.
        log_t, t = targets, jnp.exp(targets)
    else:
        t = targets
        log_t = jnp.log(jnp.where(t > 0, t, jnp.ones((), t.dtype)))
    values = _kl(_log_probabilities(logits, from_logits), t, log_t)
    return reduce_loss(
        values,
        reduction=reduction,
        weights=weights,
        where=where,
        axis_name=axis_name,
        normalize_by=normalize_by,
        segment_ids=segment_ids,
    )


@register(
    task="multiclass",
    input_kind="logits",
    summary="Poly-1: cross-entropy + epsilon (1 - p_t); epsilon tunes the push on confident classes.",
    aliases=(
        "poly1",
        "poly_loss",
        "poly1_cross_entropy",
    ),
    hyperparameters=(
        real("epsilon", "coefficient of (1 - p_t); 0 gives cross-entropy"),
        LABEL_SMOOTHING,
        CLASS_AXIS,
    ),
)
def poly_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = 2.0,
    label_smoothing: ArrayLike = 0.0,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Poly-1 loss: cross-entropy plus :math:`\epsilon` times the first polynomial term.

    With :math:`q = \operatorname{softmax}(z)` and targets smoothed as in
    :func:`categorical_cross_entropy`, :math:`t' = (1 - \varepsilon_s)\,t +
    \varepsilon_s / K`:

    .. math::

        l_i = -\sum_k t'_{ik} \log q_{ik} + \epsilon \sum_k t'_{ik}\,(1 - q_{ik}) .

    For targets summing to 1 the second term is :math:`\epsilon\,(1 - \sum_k
    t'_k q_k)`, the paper's :math:`\epsilon (1 - P_t)`. This is optax's
    ``poly_loss_cross_entropy(z, t, epsilon=e)`` (which has no label
    smoothing: pass it ``optax.losses.smooth_labels(t, s)``, the same
    mixing). ``epsilon=0`` is :func:`categorical_cross_entropy`;
    :math:`\epsilon \ge -1` keeps the loss non-negative for normalised
    targets (the paper uses 2 for ImageNet, -1 for detection).
    :math:`1 - q_k` is formed as ``-expm1(log q_k)`` from the exact
    log-softmax, so it keeps its relative precision when :math:`q_k \to 1`.

    Args:
        logits: floating array ``[..., K, ...]`` of logits.
        targets: non-negative target probabilities (or one-hot vectors) with
            the shape of ``logits``.
        epsilon: coefficient :math:`\epsilon` of :math:`(1 - P_t)`, any real
            number; may be traced.
        label_smoothing: :math:`\varepsilon_s \in [0, 1]`; may be traced.
        axis: the class axis of ``logits`` and ``targets``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``logits.shape`` without ``axis``).
        where: optional boolean per-example mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]])
        >>> targets = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]])
        >>> lossjax.poly_cross_entropy(logits, targets, epsilon=2.0, reduction="none")
        Array([0.48225647, 1.2567036 ], dtype=float32)

    References:
        Leng et al., "PolyLoss: A Polynomial Expansion Perspective of
        Classification Loss Functions", 2022 (https://arxiv.org/abs/2204.12511);
        optax ``poly_loss_cross_entropy``.
    """

    _checks.check_reduction(reduction)
    logits, targets, where = prepare_class_targets(logits, targets, where, axis, target_fill=0.0)
    _checks.check_target_distributions("targets", targets, where)
    dtype, num_classes = logits.dtype, logits.shape[-1]
    if not _numerics.is_static_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        targets = targets * (1 - eps) + eps / num_classes
    log_q = _log_softmax(logits)
    one_minus_q = -jnp.expm1(log_q)
    values = _cross_entropy(log_q, targets)
    values = values + _checks.hyperparameter(epsilon, dtype) * jnp.sum(
        targets * one_minus_q, axis=-1
    )
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="multiclass",
    input_kind="logits",
    summary="(1 - p_y^q) / q on integer labels: robust to noisy labels (q -> 0: cross-entropy).",
    aliases=(
        "gce",
        "generalized_ce",
    ),
    hyperparameters=(
        real("q", "exponent: near 0 cross-entropy, 1 MAE", lower=0.0, upper=1.0, lower_open=True),
        CLASS_AXIS,
    ),
)
def generalized_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    q: ArrayLike = 0.7,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Generalized cross-entropy: a noise-robust loss between cross-entropy and MAE.

    With :math:`p_y = \operatorname{softmax}(z)_y` for the integer label :math:`y`:

    .. math::

        l_i = \frac{1 - p_{i y_i}^{\,q}}{q}, \qquad 0 < q \le 1 .

    :math:`q = 1` is :math:`1 - p_y` (the mean absolute error of the
    softmax against the one-hot, up to a factor 2); as :math:`q \to 0` it
    tends to the cross-entropy :math:`-\log p_y`
    (:func:`sparse_categorical_cross_entropy`). :math:`p_y^q =
    \exp(-q\operatorname{softplus}(a))` is formed from the log-odds against
    the label (module docstring) and :math:`1 - p_y^q` as an ``expm1``: exact
    and finite for logits of any size and any :math:`q`, the small ones
    included, where :math:`(1 - p^q)/q` would cancel.

    Compared with Keras's ``CategoricalGeneralizedCrossEntropy(q=q)``: the
    same formula and integer labels, but Keras takes probabilities; pass it
    ``softmax(logits)``. Out-of-range labels remove their example, as in
    :func:`sparse_categorical_cross_entropy`.

    Args:
        logits: floating array ``[..., K, ...]`` of logits.
        labels: integer array of class indices with the shape of ``logits``
            without ``axis``.
        q: exponent :math:`q \in (0, 1]`; may be traced.
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
        >>> lossjax.generalized_cross_entropy(logits, jnp.array([0, 2]), q=0.7,
        ...                                   reduction="none")
        Array([0.36167493, 1.2122607 ], dtype=float32)

    References:
        Zhang and Sabuncu, "Generalized Cross Entropy Loss for Training Deep
        Neural Networks with Noisy Labels", 2018 (https://arxiv.org/abs/1805.07836);
        Keras ``keras.losses.CategoricalGeneralizedCrossEntropy``.
    """

    _checks.check_reduction(reduction)
    logits, labels, keep = prepare_class_labels(logits, labels, where, axis, None, logits_fill=0.0)
    q = _checks.hyperparameter(q, logits.dtype)
    a, _ = _label_log_odds(logits, labels)
    values = -jnp.expm1(-q * jax.nn.softplus(a)) / q
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


@register(
    task="multiclass",
    input_kind="predictions",
    summary="Generalized KL for unnormalised measures from log-predictions: sum t log(t/p) - t + p.",
    aliases=(
        "generalized_kl_divergence",
        "generalized_kl",
        "convex_kl",
    ),
    hyperparameters=(CLASS_AXIS,),
)
def convex_kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Generalized KL divergence between unnormalised measures :math:`t` and :math:`p`.

    With :math:`p = \exp(\text{log\_predictions})` (not normalised):

    .. math::

        l_i = \sum_k t_{ik}\,(\log t_{ik} - \log p_{ik}) - t_{ik} + p_{ik} \;\ge 0,

    the Bregman divergence of :math:`x \log x - x`; it is
    :func:`kl_divergence` when both sum to 1, and 0 exactly when
    :math:`p = t`. :math:`0 \log 0 = 0`: a zero target contributes
    :math:`p_k`, and the derivative with respect to a zero target
    (:math:`-\infty` mathematically) is returned as 0. Each class term is
    formed divided by :math:`s = \max(t, 1)` and multiplied back, so that
    :math:`t \log t` and :math:`t \log p` (which overflow for targets near the
    float32 maximum) never meet as :math:`\infty - \infty`. This is optax's
    ``convex_kl_divergence`` (deprecated there for the same function,
    ``generalized_kl_divergence``); optax's ``where`` selects classes, here
    ``where`` is the per-example mask of the reduction contract.

    Args:
        log_predictions: floating array ``[..., K, ...]`` of :math:`\log p`
            (``-inf`` for :math:`p = 0`).
        targets: non-negative targets :math:`t` with the shape of
            ``log_predictions``.
        axis: the class axis.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``log_predictions.shape`` without ``axis``).
        where: optional boolean per-example mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced divergence (float32 at least), or the per-example values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> log_p = jnp.log(jnp.array([[0.5, 0.25, 0.5], [1.0, 2.0, 0.1]]))
        >>> t = jnp.array([[1.0, 0.0, 0.5], [1.0, 1.0, 0.0]])
        >>> lossjax.convex_kl_divergence(log_p, t, reduction="none")
        Array([0.44314718, 0.4068528 ], dtype=float32)

    References:
        Boyd and Vandenberghe, "Convex Optimization", 2004, p. 90; optax
        ``convex_kl_divergence``.
    """

    _checks.check_reduction(reduction)
    log_p, t, where = prepare_class_targets(
        log_predictions, targets, where, axis, name="log_predictions"
    )
    _checks.check_non_negative("targets", t, where)
    dtype = log_p.dtype
    log_t = jnp.log(jnp.where(t > 0, t, jnp.ones((), dtype)))
    # Each class term is formed divided by s = max(t, 1), then multiplied back: t log t and
    # t log p overflow for targets near the float32 maximum, and their difference would be
    # inf - inf. The loss does not depend on s, so s is held constant in the derivative.
    scale = jax.lax.stop_gradient(jnp.maximum(t, 1.0))
    terms = -_numerics.x_log_y(t / scale, log_p - log_t) - t / scale
    terms = jnp.where(t > 0, terms, jnp.zeros((), dtype)) + jnp.exp(log_p - jnp.log(scale))
    return reduce_loss(
        jnp.sum(scale * terms, axis=-1),
        reduction=reduction,
        weights=weights,
        where=where,
        axis_name=axis_name,
    )
