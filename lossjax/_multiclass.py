r"""Multiclass losses: categorical and sparse cross-entropy, softmax focal loss, KL divergence.

All four consume a class axis (``axis=-1`` by default, any axis allowed):
``reduction="none"`` returns one value per example, the input shape without
that axis, and ``weights``/``where`` have that per-example shape.

Numerics:

* **Log-softmax.** With :math:`a` the arg-max class, the logits are shifted to
  :math:`z' = z - z_a` and the normaliser is
  :math:`\operatorname{lse}' = \operatorname{log1p}(\sum_{k \ne a} e^{z'_k})`,
  so :math:`\log q_k = z'_k - \operatorname{lse}'`. The usual
  :math:`\log \sum_k e^{z'_k}` rounds :math:`\log(1 + 10^{-9})` to 0, so the
  cross-entropy of a confident correct prediction came out as 0 and its
  gradient :math:`q_a - 1` as 0; here both keep full relative precision. The
  shift is a differentiable gather (no ``stop_gradient``), which is what makes
  the derivative of :math:`\operatorname{lse}'` exactly the softmax.
* **Probabilities** (``from_logits=False``): :math:`\log p` is clamped at
  :math:`-100` (PyTorch's ``BCELoss`` convention) through a safe ``where``, so
  a probability of exactly 0 gives :math:`-100` with a zero gradient and a
  probability of exactly 1 gives 0 with the finite gradient 1. Probabilities
  are used as given: they are not renormalised to sum to 1 (Keras rescales
  them, PyTorch and scikit-learn do not).
* **Zero targets.** :math:`0 \cdot \log 0 = 0`, in the value and in the
  gradient. A class excluded from the softmax with a logit of :math:`-\infty`
  contributes nothing where its target is 0 (optax's
  ``safe_softmax_cross_entropy`` behaviour) instead of ``0 * inf = nan``.
* **Focal factor.** :math:`(1 - p_y)^\gamma` is :math:`\exp(\gamma\log(1-p_y))`
  with :math:`\log(1 - p_y)` from ``log1p(-p_y)`` when :math:`p_y < 1/2` and
  from a log-sum-exp over the other classes otherwise, so it stays exact
  (e.g. :math:`-2\cdot10^4` at logits :math:`\pm 10^4`) where :math:`1-p_y`
  underflows, and :math:`\gamma` can be traced, vmapped and differentiated.

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
import numbers
from typing import Any

import jax
import jax.numpy as jnp

from lossjax import _checks, _reduction
from lossjax._reduction import AxisName, mask_inputs, prepare_where, reduce_loss

# Lower clamp of log-probabilities computed from probabilities (PyTorch's BCELoss value).
_LOG_CLAMP = -100.0
_LOG_HALF = math.log(0.5)


# -- shared pieces ------------------------------------------------------------------------


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"lossjax: `{name}` must be a Python bool, got {value!r}.")


def _check_ignore_index(ignore_index: Any) -> None:
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral)
    ):
        raise TypeError(
            f"lossjax: `ignore_index` must be a Python int or None, got {ignore_index!r}."
        )


def _class_last(name: str, x: jax.Array, axis: Any) -> jax.Array:
    """Moves the class axis of ``x`` last, so that the rest is the per-example shape."""
    if x.ndim == 0:
        raise ValueError(f"lossjax: `{name}` needs a class axis, got a scalar.")
    axis = _checks.normalize_axis("axis", axis, x.ndim)
    if x.shape[axis] == 0:
        raise ValueError(
            f"lossjax: `{name}` has no classes: its shape {tuple(x.shape)} is 0 along axis {axis}."
        )
    return jnp.moveaxis(x, axis, -1)


def _class_vector(name: str, value: Any, num_classes: int, dtype: jnp.dtype) -> jax.Array:
    """A non-negative per-class vector ``[K]`` (class weights, focal alpha)."""
    vector = _checks.check_real(name, value)
    if vector.shape != (num_classes,):
        raise ValueError(
            f"lossjax: `{name}` must be a 1-D array with one entry per class: the logits have "
            f"{num_classes} classes along `axis`, got {name}.shape={tuple(vector.shape)}."
        )
    return vector.astype(dtype)


def _per_class(vector: jax.Array, ndim: int) -> jax.Array:
    """Reshapes a ``[K]`` vector to broadcast against ``[..., K]`` of rank ``ndim``."""
    return vector.reshape((1,) * (ndim - 1) + vector.shape)


def _combine_weights(weights: Any, example_weights: jax.Array) -> jax.Array:
    """The caller's ``weights`` times the per-example class weights, checked first."""
    if weights is None:
        return example_weights
    weights = _checks.check_real("weights", weights)
    _reduction._check_per_example("weights", weights, tuple(example_weights.shape))
    return weights.astype(example_weights.dtype) * example_weights


def _safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator``, and 0 (with zero gradients) where the denominator is 0."""
    nonzero = denominator != 0
    safe = jnp.where(nonzero, denominator, jnp.ones((), denominator.dtype))
    return jnp.where(nonzero, numerator / safe, jnp.zeros((), numerator.dtype))


def _safe_log(p: jax.Array) -> jax.Array:
    """``log p`` clamped at -100; ``p <= 0`` gives -100 with a zero gradient."""
    positive = p > 0
    safe = jnp.where(positive, p, jnp.ones((), p.dtype))
    clamp = jnp.asarray(_LOG_CLAMP, p.dtype)
    return jnp.where(positive, jnp.maximum(jnp.log(safe), clamp), clamp)


def _safe_log1m(p: jax.Array) -> jax.Array:
    """``log(1 - p)`` clamped at -100; ``p >= 1`` gives -100 with a zero gradient."""
    below_one = p < 1
    safe = jnp.where(below_one, p, jnp.zeros((), p.dtype))
    clamp = jnp.asarray(_LOG_CLAMP, p.dtype)
    return jnp.where(below_one, jnp.maximum(jnp.log1p(-safe), clamp), clamp)


def _log_softmax_parts(logits: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns ``(shifted, lse)`` with ``log_softmax(logits) = shifted - lse[..., None]``.

    ``shifted = logits - logits[argmax]`` (<= 0, exactly 0 at the arg-max) and
    ``lse = log1p(sum of exp(shifted) over the other classes)`` (>= 0). The
    log1p keeps the small part that ``log(1 + small)`` would round away.
    """
    top = jnp.argmax(logits, axis=-1, keepdims=True)
    is_top = jax.lax.broadcasted_iota(top.dtype, logits.shape, logits.ndim - 1) == top
    zero = jnp.zeros((), logits.dtype)
    # The arg-max entry is a constant 0, not `z_a - z_a`: its gradient would be
    # `+1 - 1` added to the small derivative of the rest, and lose it.
    shifted = jnp.where(is_top, zero, logits - jnp.take_along_axis(logits, top, axis=-1))
    rest = jnp.sum(jnp.where(is_top, zero, jnp.exp(shifted)), axis=-1)
    return shifted, jnp.log1p(rest)


def _neg_log_probs(x: jax.Array, from_logits: bool) -> jax.Array:
    """``-log q`` over the class axis (last), all entries >= 0."""
    if not from_logits:
        return -_safe_log(x)
    shifted, lse = _log_softmax_parts(x)
    return lse[..., None] - shifted


def _drop_excluded(neg_log_q: jax.Array, targets: jax.Array, from_logits: bool) -> jax.Array:
    """Zeroes ``-log q = inf`` (a -inf logit) where the target is 0, so 0 * inf is not nan."""
    if not from_logits:  # clamped at 100, always finite
        return neg_log_q
    excluded = (targets == 0) & jnp.isinf(neg_log_q)
    return jnp.where(excluded, jnp.zeros((), neg_log_q.dtype), neg_log_q)


def _smoothing_is_zero(label_smoothing: Any) -> bool:
    return _checks.is_static(label_smoothing) and float(label_smoothing) == 0.0


def _prepare_sparse(
    logits: Any, labels: Any, axis: Any, where: Any, ignore_index: Any
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The common front of the two label losses.

    Returns the logits (class axis last, compute dtype, removed examples
    replaced by zeros), the labels (removed ones replaced by 0) and the mask
    of kept examples: ``where`` and a label in ``[0, K)`` that is not
    ``ignore_index``.
    """
    _check_ignore_index(ignore_index)
    logits = _checks.check_floating("logits", logits)
    labels = _checks.check_integer("labels", labels)
    moved = _class_last("logits", logits, axis)
    shape = tuple(moved.shape[:-1])
    if tuple(labels.shape) != shape:
        raise ValueError(
            f"lossjax: `labels` must have the shape of `logits` without the class axis, "
            f"{shape}; got labels.shape={tuple(labels.shape)} and "
            f"logits.shape={tuple(logits.shape)} (axis={axis})."
        )
    # Compare in at least int32, so that small and unsigned label dtypes accept
    # any ignore_index (such as -100) without overflow.
    labels = labels.astype(jnp.int64 if labels.dtype.itemsize == 8 else jnp.int32)
    num_classes = moved.shape[-1]
    keep = (labels >= 0) & (labels < num_classes)
    if ignore_index is not None:
        keep = keep & (labels != ignore_index)
    where = prepare_where(where, shape)
    if where is not None:
        keep = keep & where
    moved = mask_inputs(keep, moved.astype(_checks.compute_dtype(moved)), 0.0, axis=-1)
    labels = jnp.where(keep, labels, jnp.zeros((), labels.dtype))
    return moved, labels, keep


def _gather(x: jax.Array, labels: jax.Array) -> jax.Array:
    """``x[..., labels]`` per example (``x`` is ``[..., K]``, ``labels`` is ``[...]``)."""
    return jnp.take_along_axis(x, labels[..., None], axis=-1)[..., 0]


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
    _check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("label_smoothing", label_smoothing, lower=0.0, upper=1.0)
    _checks.check_hyperparameter("class_weights", class_weights, lower=0.0)
    logits = _checks.check_floating("logits", logits)
    targets = _checks.check_real("targets", targets)
    _checks.check_same_shape("logits", logits, "targets", targets)
    dtype = _checks.compute_dtype(logits, targets)
    logits = _class_last("logits", logits, axis).astype(dtype)
    targets = _class_last("targets", targets, axis).astype(dtype)
    num_classes = logits.shape[-1]
    where = prepare_where(where, tuple(logits.shape[:-1]))
    logits = mask_inputs(where, logits, 0.0, axis=-1)
    targets = mask_inputs(where, targets, 0.0, axis=-1)

    smoothed = targets
    if not _smoothing_is_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        smoothed = targets * (1 - eps) + eps / num_classes
    neg_log_q = _drop_excluded(_neg_log_probs(logits, from_logits), smoothed, from_logits)
    if class_weights is None:
        values = jnp.sum(smoothed * neg_log_q, axis=-1)
    else:
        w = _class_vector("class_weights", class_weights, num_classes, dtype)
        w = _per_class(w, logits.ndim)
        example_weights = jnp.sum(w * targets, axis=-1)
        values = _safe_divide(jnp.sum(w * smoothed * neg_log_q, axis=-1), example_weights)
        weights = _combine_weights(weights, example_weights)
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
    _check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("label_smoothing", label_smoothing, lower=0.0, upper=1.0)
    _checks.check_hyperparameter("class_weights", class_weights, lower=0.0)
    logits, labels, keep = _prepare_sparse(logits, labels, axis, where, ignore_index)
    dtype, num_classes = logits.dtype, logits.shape[-1]
    cw = cw_y = None
    if class_weights is not None:
        cw = _class_vector("class_weights", class_weights, num_classes, dtype)
        cw_y = cw[labels]

    neg_log_q = _neg_log_probs(logits, from_logits)
    nll = _gather(neg_log_q, labels)
    values = nll
    if not _smoothing_is_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        if cw is None:
            smooth = jnp.mean(neg_log_q, axis=-1)
        else:
            smooth = _safe_divide(jnp.mean(_per_class(cw, logits.ndim) * neg_log_q, axis=-1), cw_y)
        # `where`, not a product: with an excluded class (-inf logit) the
        # smoothing term is inf, and a traced eps = 0 must still give 0, not nan.
        smooth = jnp.where(eps == 0, jnp.zeros((), dtype), eps * smooth)
        values = (1 - eps) * nll + smooth
    if cw_y is not None:
        weights = _combine_weights(weights, cw_y)
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
    _check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("gamma", gamma, lower=0.0)
    _checks.check_hyperparameter("alpha", alpha, lower=0.0, upper=1.0)
    logits, labels, keep = _prepare_sparse(logits, labels, axis, where, ignore_index)
    dtype, num_classes = logits.dtype, logits.shape[-1]
    if num_classes < 2:
        raise ValueError(
            f"lossjax: categorical_focal_loss needs at least 2 classes, got logits with "
            f"{num_classes} along `axis`."
        )
    gamma = _checks.hyperparameter(gamma, dtype)

    if from_logits:
        shifted, lse = _log_softmax_parts(logits)
        shifted_y = _gather(shifted, labels)
        nll = lse - shifted_y
        # log(1 - p_y): log1p(-p_y) is exact while p_y < 1/2; from there on,
        # log-sum-exp over the other classes (exact however small 1 - p_y is).
        small = -nll < _LOG_HALF
        p_small = jnp.where(small, jnp.exp(-nll), jnp.zeros((), dtype))
        is_y = jax.lax.broadcasted_iota(labels.dtype, logits.shape, logits.ndim - 1)
        is_y = is_y == labels[..., None]
        others = jnp.where(is_y, -jnp.inf, shifted)
        top_other = jax.lax.stop_gradient(jnp.max(others, axis=-1))
        # All other logits -inf (p_y = 1 exactly): log(1 - p_y) = -inf, taken
        # as the most negative finite number so the gradients stay finite.
        has_other = jnp.isfinite(top_other)
        top_other = jnp.where(has_other, top_other, jnp.zeros((), dtype))
        sum_other = jnp.sum(jnp.exp(others - top_other[..., None]), axis=-1)
        sum_other = jnp.where(has_other, sum_other, jnp.ones((), dtype))
        log1m_large = jnp.where(
            has_other, top_other + jnp.log(sum_other) - lse, jnp.finfo(dtype).min
        )
        log1m = jnp.where(small, jnp.log1p(-p_small), log1m_large)
    else:
        p_y = _gather(logits, labels)
        nll = -_safe_log(p_y)
        log1m = _safe_log1m(p_y)
    values = jnp.exp(gamma * log1m) * nll
    if alpha is not None:
        alpha = _checks.as_array("alpha", alpha)
        if alpha.ndim == 0:
            values = alpha.astype(dtype) * values
        else:
            values = _class_vector("alpha", alpha, num_classes, dtype)[labels] * values
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
        Array([0.6931472 , 0.10464965], dtype=float32)

    References:
        Kullback and Leibler, "On Information and Sufficiency", 1951; PyTorch
        ``torch.nn.KLDivLoss`` (``log_target``), optax ``kl_divergence``.
    """
    _checks.check_reduction(reduction)
    _check_flag("from_logits", from_logits)
    _check_flag("log_targets", log_targets)
    logits = _checks.check_floating("logits", logits)
    targets = (_checks.check_floating if log_targets else _checks.check_real)("targets", targets)
    _checks.check_same_shape("logits", logits, "targets", targets)
    dtype = _checks.compute_dtype(logits, targets)
    logits = _class_last("logits", logits, axis).astype(dtype)
    targets = _class_last("targets", targets, axis).astype(dtype)
    where = prepare_where(where, tuple(logits.shape[:-1]))
    logits = mask_inputs(where, logits, 0.0, axis=-1)
    targets = mask_inputs(where, targets, -jnp.inf if log_targets else 0.0, axis=-1)

    neg_log_q = _neg_log_probs(logits, from_logits)
    # Double `where`: at a zero target both the selected and the unused branch
    # are finite, so neither the value nor any gradient sees 0 * log 0.
    if log_targets:
        present = targets > -jnp.inf
        log_t = jnp.where(present, targets, jnp.zeros((), dtype))
        t = jnp.exp(log_t)
    else:
        present = targets > 0
        t = jnp.where(present, targets, jnp.ones((), dtype))
        log_t = jnp.log(t)
    neg_log_q = jnp.where(present, neg_log_q, jnp.zeros((), dtype))
    terms = jnp.where(present, t * (log_t + neg_log_q), jnp.zeros((), dtype))
    values = jnp.sum(terms, axis=-1)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
