"""The one reduction contract that every lossjax loss goes through.

Every loss computes per-example values and hands them to :func:`reduce_loss`
together with the caller's ``reduction``, ``weights``, ``where`` and
``axis_name``. No loss re-implements weighting, masking or the global mean.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks

AxisName = Hashable | Sequence[Hashable]
# The reductions every loss offers (the contract): a mean, a sum, per-example values, or
# the mean's denominator (so that mean == sum / count, for exact gradient accumulation).
Reduction = Literal["mean", "sum", "none", "count"]
# How token-level values are averaged: over all kept tokens, or per sequence first.
Normalize = Literal["tokens", "sequences"]
NORMALIZATIONS = ("tokens", "sequences")


def _check_per_example(name: str, x: jax.Array, shape: tuple[int, ...]) -> None:
    """Weights/masks are a scalar or of the per-example rank with sizes that divide it.

    Right-aligned NumPy broadcasting of a lower-rank array is refused on purpose:
    a ``(N,)`` weight against ``(N, D)`` values would silently weight the ``D``
    axis. Size-1 axes of the same rank broadcast as usual.
    """
    if x.ndim == 0:
        return
    ok = x.ndim == len(shape) and all(s in (1, t) for s, t in zip(x.shape, shape, strict=True))
    if not ok:
        raise ValueError(
            f"lossjax: `{name}` must be a scalar or broadcastable to the per-example loss "
            f"shape {tuple(shape)} with the same rank (size-1 axes broadcast), got "
            f"{name}.shape={tuple(x.shape)}. Add the missing axes explicitly, e.g. "
            f"`{name}[..., None]`."
        )


def prepare_where(where: Any, shape: tuple[int, ...]) -> jax.Array | None:
    """Validates a ``where`` mask and broadcasts it to the per-example ``shape``."""
    if where is None:
        return None
    where = _checks.as_array("where", where)
    if where.dtype != jnp.bool_:
        raise TypeError(
            f"lossjax: `where` must be a boolean mask, got {where.dtype}{list(where.shape)}. "
            "Use `weights` for real-valued weights."
        )
    _check_per_example("where", where, shape)
    return jnp.broadcast_to(where, shape)


def mask_inputs(
    where: jax.Array | None, x: jax.Array, fill: Any, *, axis: int | None = None
) -> jax.Array:
    """Replaces the entries of ``x`` that ``where`` removes by a harmless ``fill``.

    This is what keeps masked entries from leaking NaN: if a removed entry holds
    NaN or inf, computing the loss on it and multiplying by zero afterwards
    would still give ``0 * nan = nan`` in the value or the gradient. Replacing
    the input first makes both the value and the gradient exactly zero there.

    ``where`` has the per-example shape; ``axis`` is the position of an extra
    class/feature axis that ``x`` has and ``where`` lacks. Without ``axis``, the
    axes of ``x`` beyond those of ``where`` (an image's pixels and classes) are
    the example's own: the mask covers them whole.
    """
    if where is None:
        return x
    if axis is None:
        mask = where.reshape(where.shape + (1,) * (x.ndim - where.ndim))
    else:
        mask = jnp.expand_dims(where, axis)
    return jnp.where(mask, x, jnp.asarray(fill, dtype=x.dtype))


def reduce_loss(
    values: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
    normalize_by: Normalize = "tokens",
    segment_ids: ArrayLike | None = None,
) -> jax.Array:
    r"""Reduces per-example loss values: the contract shared by every lossjax loss.

    With per-example losses :math:`l_i`, weights :math:`w_i` (1 when not given)
    and a mask :math:`m_i` (``where``; 1 when not given):

    .. math::

        \text{mean} = \frac{\sum_i m_i w_i l_i}{\sum_i m_i w_i}, \qquad
        \text{sum} = \sum_i m_i w_i l_i, \qquad
        \text{none}_i = m_i w_i l_i .

    * Entries removed by ``where`` contribute exactly nothing, to the value and
      to the gradient, even when the loss or the weight there is NaN or inf.
    * When nothing is kept (or the kept weights sum to 0) the mean is 0 with a
      zero gradient, never NaN.
    * With ``axis_name`` (names bound by ``jax.shard_map`` or ``jax.pmap``) the
      numerator and the denominator are summed over devices separately, so the
      result is the exact global mean of the whole batch, and so is its
      gradient. A mean of per-device means (``pmean``) is wrong as soon as the
      devices keep different numbers or weights of examples.

    Comparison with other libraries: this is PyTorch's ``CrossEntropyLoss``
    convention (class weights and ``ignore_index`` enter the numerator and the
    denominator), applied uniformly to every loss and every kind of weight.
    Keras's ``sum_over_batch_size`` divides the weighted sum by the number of
    entries instead of the sum of weights, and optax returns unreduced values.
    Under ``jax.jit`` with sharded inputs (GSPMD) no ``axis_name`` is needed:
    the sums are already global.

    **Token-level values** (shape ``[..., T]``, the last axis the sequence):

    * ``normalize_by="tokens"`` (default): the mean above, over every kept token
      of the batch: long sequences weigh more.
    * ``normalize_by="sequences"``: each sequence's weighted mean over its kept
      tokens, :math:`\bar l_s = \sum_{t \in s} m_t w_t l_t / \sum_{t \in s} m_t w_t`,
      then the plain mean over the :math:`S` sequences that keep some weight
      (a sequence without any contributes nothing): ``"sum"`` is
      :math:`\sum_s \bar l_s`, ``"none"`` each token's share
      :math:`m_t w_t l_t / \sum_{t' \in s} m_{t'} w_{t'}` (summing to
      :math:`\bar l_s`). Every leading axis indexes sequences. Sequences have
      no weights of their own: ``weights`` weigh tokens within a sequence.
    * ``segment_ids`` (integers of the shape of ``values``; t5x's packing
      convention): 0 is padding and is removed; each other id of a row is one
      packed sequence, which ``normalize_by="sequences"`` averages separately
      (with ``"tokens"`` the ids only remove the padding). Ids need be neither
      contiguous nor ordered: the sequences of a row are found by sorting its
      ids, :math:`O(T \log T)` time and :math:`O(\text{batch} \cdot T)`
      memory, never a ``[T, T]`` comparison. A sequence is never split across
      devices: with ``axis_name`` shard the batch axis, not ``T``.

    **Exact gradient accumulation.** ``reduction="count"`` is the mean's
    denominator for the same arguments: :math:`\sum m_i w_i` for tokens, the
    number :math:`S` of kept sequences for ``normalize_by="sequences"`` (global
    with ``axis_name``), so that ``mean == sum / count``. Over micro-batches
    :math:`k`, :math:`\sum_k \text{sum}_k / \sum_k \text{count}_k` is the
    full batch's mean, whatever padding each micro-batch holds, and so is its
    gradient (a mean of micro-batch means is not). See
    :func:`lossjax.sum_and_count`.

    Args:
        values: per-example loss values, a floating array of any shape.
        reduction: ``"mean"`` (default), ``"sum"``, ``"none"`` or ``"count"``.
        weights: optional non-negative weights, a scalar or an array with the
            rank of ``values`` whose axes are 1 or equal to those of ``values``.
        where: optional boolean mask of the same form; ``False`` removes an entry.
        axis_name: optional mapped axis name (or tuple of names) to reduce over.
        normalize_by: ``"tokens"`` (default) or ``"sequences"``: average over all
            kept entries, or per sequence (the last axis) first.
        segment_ids: optional integer array of the shape of ``values``: 0 is
            padding, the other ids of a row are packed sequences.

    Returns:
        A scalar for ``"mean"``, ``"sum"`` and ``"count"``, an array shaped
        like ``values`` for ``"none"`` (removed entries are 0; ``axis_name`` is
        not used).

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import reduce_loss
        >>> l = jnp.array([1.0, 2.0, 30.0])
        >>> reduce_loss(l, weights=jnp.array([1.0, 3.0, 0.0]))
        Array(1.75, dtype=float32)
        >>> reduce_loss(l, where=jnp.array([True, True, False]), reduction="sum")
        Array(3., dtype=float32)
        >>> tokens = jnp.array([[1.0, 2.0, 3.0, 4.0], [10.0, 0.0, 0.0, 0.0]])
        >>> kept = jnp.array([[True, True, True, True], [True, False, False, False]])
        >>> reduce_loss(tokens, where=kept)  # (1 + 2 + 3 + 4 + 10) / 5
        Array(4., dtype=float32)
        >>> reduce_loss(tokens, where=kept, normalize_by="sequences")  # (2.5 + 10) / 2
        Array(6.25, dtype=float32)
        >>> packed = jnp.array([[1, 1, 2, 2], [1, 0, 0, 0]])  # three sequences
        >>> reduce_loss(tokens, segment_ids=packed, normalize_by="sequences")  # (1.5 + 3.5 + 10) / 3
        Array(5., dtype=float32)
        >>> reduce_loss(tokens, segment_ids=packed, normalize_by="sequences", reduction="count")
        Array(3., dtype=float32)
    """
    _checks.check_reduction(reduction)
    _checks.check_choice("normalize_by", normalize_by, NORMALIZATIONS)
    _checks.check_axis_name(axis_name)
    values = _checks.check_floating("values", values)
    shape = tuple(values.shape)
    if normalize_by == "sequences" and values.ndim == 0:
        raise ValueError(
            "lossjax: `normalize_by='sequences'` needs per-token values with a sequence axis "
            "(the last one), got a scalar: the loss has no token axis to average over."
        )
    where = prepare_where(where, shape)
    segments = _prepare_segment_ids(segment_ids, shape)
    if segments is not None:
        where = segments != 0 if where is None else where & (segments != 0)
    if weights is not None:
        weights = _checks.check_real("weights", weights)
        _check_per_example("weights", weights, shape)
        weights = jnp.broadcast_to(weights.astype(values.dtype), shape)
        # Negative weights make any mean meaningless (Σw can be 0 or flip signs).
        _checks.check_non_negative("weights", weights, where)
    if where is not None:
        # Select, never multiply: 0 * nan would leak through.
        values = jnp.where(where, values, jnp.zeros((), values.dtype))
        if weights is not None:
            weights = jnp.where(where, weights, jnp.zeros((), values.dtype))

    if normalize_by == "sequences":
        return _reduce_sequences(values, weights, where, segments, reduction, axis_name)
    weighted = values if weights is None else values * weights
    if reduction == "none":
        return weighted
    if reduction == "sum":
        total = jnp.sum(weighted)
        return total if axis_name is None else jax.lax.psum(total, axis_name)

    # The sum of finite values can overflow although their mean fits (2e38 + 2e38 in
    # float32). Numerator and denominator are scaled by 2**-k with 2**k >= the number
    # of entries, so every partial sum stays below the largest |value| (for weights
    # <= 1), and no digit changes: a power of two is exact while the scaled values
    # stay normal. (k stops at half the exponent range: float16's is narrow.)
    if weights is not None:
        denominator = jnp.sum(weights)
    elif where is not None:
        denominator = jnp.sum(where, dtype=values.dtype)
    else:
        denominator = jnp.asarray(values.size, values.dtype)
    if axis_name is not None:
        denominator = jax.lax.psum(denominator, axis_name)
    if reduction == "count":
        return denominator
    k = _scale_exponent(values.size, axis_name, values.dtype)
    scaled = values * (2.0**-k)
    numerator = jnp.sum(scaled if weights is None else scaled * weights)
    if axis_name is not None:
        numerator = jax.lax.psum(numerator, axis_name)
    nonzero = denominator != 0
    # Double `where`: the division never sees 0, so its gradient is never NaN.
    safe = jnp.where(nonzero, denominator * (2.0**-k), jnp.ones((), values.dtype))
    return jnp.where(nonzero, numerator / safe, jnp.zeros((), values.dtype))


def _scale_exponent(size: int, axis_name: AxisName | None, dtype: Any) -> int:
    """``k`` with ``2**k >=`` the number of summed entries (all devices), capped for float16."""
    count = size * (1 if axis_name is None else jax.lax.psum(1, axis_name))
    return min(math.ceil(math.log2(max(count, 1))), -jnp.finfo(dtype).minexp // 2)


def _prepare_segment_ids(segment_ids: Any, shape: tuple[int, ...]) -> jax.Array | None:
    """Checks packed-sequence ids: integers of exactly the per-token shape."""
    if segment_ids is None:
        return None
    segments = _checks.as_array("segment_ids", segment_ids)
    if not jnp.issubdtype(segments.dtype, jnp.integer):
        raise TypeError(
            f"lossjax: `segment_ids` must be an integer array (0 = padding, one id per packed "
            f"sequence), got {segments.dtype}{list(segments.shape)}."
        )
    if tuple(segments.shape) != shape:
        raise ValueError(
            f"lossjax: `segment_ids` must have the per-token loss shape {shape}, got "
            f"segment_ids.shape={tuple(segments.shape)}."
        )
    return segments


def _sequence_index(segments: jax.Array | None, rows: int, length: int) -> tuple[jax.Array, int]:
    """The sequence of every token, ``[rows * length]`` indices into ``num_sequences``.

    Without ids each row is one sequence. With ids, each (row, id) pair is one:
    a stable sort of the row's ids numbers its distinct ids 0, 1, ... (a rank
    that a ``[T, T]`` comparison would also give, in O(T^2) memory), and row
    ``r``'s sequences are ``r * length + rank``: at most ``length`` per row.
    """
    row = jnp.arange(rows, dtype=jnp.int32)[:, None]
    if segments is None:
        return jnp.broadcast_to(row, (rows, length)).reshape(-1), rows
    ids = segments.reshape(rows, length)
    order = jnp.argsort(ids, axis=-1, stable=True)
    ordered = jnp.take_along_axis(ids, order, axis=-1)
    starts = jnp.concatenate(
        [jnp.zeros((rows, 1), jnp.int32), (ordered[:, 1:] != ordered[:, :-1]).astype(jnp.int32)],
        axis=-1,
    )
    rank = jnp.zeros((rows, length), jnp.int32).at[row, order].set(jnp.cumsum(starts, axis=-1))
    return (row * length + rank).reshape(-1), rows * length


def _reduce_sequences(
    values: jax.Array,
    weights: jax.Array | None,
    where: jax.Array | None,
    segments: jax.Array | None,
    reduction: str,
    axis_name: AxisName | None,
) -> jax.Array:
    """``normalize_by="sequences"``: per-sequence weighted means, then their mean over sequences.

    ``values`` and ``weights`` are already zero where ``where`` removes a token.
    """
    dtype, shape = values.dtype, values.shape
    length = shape[-1]
    rows = values.size // length if length else 0
    if weights is None:
        weights = jnp.ones(shape, dtype) if where is None else where.astype(dtype)
    index, num_sequences = _sequence_index(segments, rows, length)
    # As for the token mean: numerators scaled by 2**-k (exact) so that no partial sum
    # overflows where the mean fits.
    k = _scale_exponent(length, None, dtype)
    numerator = jax.ops.segment_sum(
        (values * (2.0**-k) * weights).reshape(-1), index, num_segments=num_sequences
    )
    denominator = jax.ops.segment_sum(weights.reshape(-1), index, num_segments=num_sequences)
    kept = denominator != 0
    # Double `where`: the division never sees 0, so its gradient is never NaN.
    safe = jnp.where(kept, denominator * (2.0**-k), jnp.ones((), dtype))
    if reduction == "none":
        share = (values * (2.0**-k) * weights).reshape(-1) / safe[index]
        return jnp.where(kept[index], share, jnp.zeros((), dtype)).reshape(shape)
    count = jnp.sum(kept, dtype=dtype)
    if axis_name is not None:
        count = jax.lax.psum(count, axis_name)
    if reduction == "count":
        return count
    means = jnp.where(kept, numerator / safe, jnp.zeros((), dtype))
    if reduction == "sum":
        total = jnp.sum(means)
        return total if axis_name is None else jax.lax.psum(total, axis_name)
    j = _scale_exponent(num_sequences, axis_name, dtype)
    total = jnp.sum(means * (2.0**-j))
    if axis_name is not None:
        total = jax.lax.psum(total, axis_name)
    nonzero = count != 0
    safe_count = jnp.where(nonzero, count * (2.0**-j), jnp.ones((), dtype))
    return jnp.where(nonzero, total / safe_count, jnp.zeros((), dtype))


def gather_batch(x: jax.Array, axis_name: AxisName | None) -> jax.Array:
    """The global batch: ``x`` of every device along ``axis_name``, concatenated on axis 0.

    For losses whose examples meet other examples (in-batch negatives, mined
    triplets): each device keeps its own anchors and sees every candidate. ``x``
    itself without ``axis_name``.
    """
    if axis_name is None:
        return x
    return jax.lax.all_gather(x, axis_name, axis=0, tiled=True)


def prepare_pair(
    name_a: str,
    a: Any,
    name_b: str,
    b: Any,
    where: Any,
    *,
    fill_a: float = 0.0,
    fill_b: float = 0.0,
    b_may_be_integer: bool = True,
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """The common front of the elementwise losses (regression and binary).

    Checks that ``a`` is floating and ``b`` real (integer or bool labels are
    allowed when ``b_may_be_integer``), that both have the same shape, casts
    both to the compute dtype (at least float32) and replaces the entries that
    ``where`` removes by ``fill_a``/``fill_b`` (see :func:`mask_inputs`).

    Returns ``(a, b, where)`` with ``where`` broadcast to the shape, or None.
    """
    a = _checks.check_floating(name_a, a)
    b = _checks.check_real(name_b, b) if b_may_be_integer else _checks.check_floating(name_b, b)
    _checks.check_same_shape(name_a, a, name_b, b)
    dtype = _checks.compute_dtype(a, b)
    a, b = a.astype(dtype), b.astype(dtype)
    where = prepare_where(where, tuple(a.shape))
    return mask_inputs(where, a, fill_a), mask_inputs(where, b, fill_b), where


# -- the class-axis front: logits with a class axis, and targets or labels ------------------


def class_last(name: str, x: jax.Array, axis: Any) -> jax.Array:
    """Moves the class axis of ``x`` last, so that the rest is the per-example shape."""
    if x.ndim == 0:
        raise ValueError(f"lossjax: `{name}` needs a class axis, got a scalar.")
    axis = _checks.normalize_axis("axis", axis, x.ndim)
    if x.shape[axis] == 0:
        raise ValueError(
            f"lossjax: `{name}` has no classes: its shape {tuple(x.shape)} is 0 along axis {axis}."
        )
    return jnp.moveaxis(x, axis, -1)


def class_vector(name: str, value: Any, num_classes: int, dtype: Any) -> jax.Array:
    """A per-class vector ``[K]`` (class weights, focal alpha), checked against the logits."""
    vector = _checks.check_real(name, value)
    if vector.shape != (num_classes,):
        raise ValueError(
            f"lossjax: `{name}` must be a 1-D array with one entry per class: the logits have "
            f"{num_classes} classes along `axis`, got {name}.shape={tuple(vector.shape)}."
        )
    return vector.astype(dtype)


def combine_weights(weights: Any, example_weights: jax.Array) -> jax.Array:
    """The caller's ``weights`` (checked) times per-example weights such as class weights."""
    if weights is None:
        return example_weights
    weights = _checks.check_real("weights", weights)
    _check_per_example("weights", weights, tuple(example_weights.shape))
    return weights.astype(example_weights.dtype) * example_weights


def prepare_class_targets(
    logits: Any,
    targets: Any,
    where: Any,
    axis: Any,
    *,
    targets_floating: bool = False,
    target_fill: float = 0.0,
    name: str = "logits",
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """The front of the losses of logits against target distributions of the same shape.

    Checks both, moves the class axis last, casts to the compute dtype and
    replaces the examples that ``where`` removes (logits by 0, targets by
    ``target_fill``). Returns ``(logits, targets, where)``. ``name`` is the
    first argument's name in error messages (``scores``, ``log_predictions``).
    """
    logits = _checks.check_floating(name, logits)
    check = _checks.check_floating if targets_floating else _checks.check_real
    targets = check("targets", targets)
    if jnp.issubdtype(targets.dtype, jnp.integer) and targets.ndim == logits.ndim - 1:
        raise ValueError(
            f"lossjax: `targets` must be probabilities with the shape of `{name}` "
            f"{tuple(logits.shape)}, got integer targets of shape {tuple(targets.shape)}: "
            "these look like class indices. Use sparse_categorical_cross_entropy for integer "
            "labels, or pass `jax.nn.one_hot(targets, num_classes)`."
        )
    _checks.check_same_shape(name, logits, "targets", targets)
    dtype = _checks.compute_dtype(logits, targets)
    logits = class_last(name, logits, axis).astype(dtype)
    targets = class_last("targets", targets, axis).astype(dtype)
    where = prepare_where(where, tuple(logits.shape[:-1]))
    logits = mask_inputs(where, logits, 0.0, axis=-1)
    targets = mask_inputs(where, targets, target_fill, axis=-1)
    return logits, targets, where


def prepare_class_labels(
    logits: Any,
    labels: Any,
    where: Any,
    axis: Any,
    ignore_index: Any,
    *,
    logits_fill: float,
    name: str = "logits",
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The front of the losses of logits against integer class labels.

    Returns the logits (class axis last, compute dtype), the labels and the
    mask of kept examples: ``where``, a label in ``[0, K)`` and not
    ``ignore_index``. Removed examples get label 0 and logits ``logits_fill``,
    so that whatever they held (NaN included) reaches neither the value nor
    the gradient. ``name`` is the first argument's name in error messages.
    """
    _checks.check_ignore_index(ignore_index)
    logits = _checks.check_floating(name, logits)
    labels = _checks.check_integer("labels", labels)
    moved = class_last(name, logits, axis)
    shape = tuple(moved.shape[:-1])
    if tuple(labels.shape) != shape:
        raise ValueError(
            f"lossjax: `labels` must have the shape of `{name}` without the class axis, "
            f"{shape}; got labels.shape={tuple(labels.shape)} and "
            f"{name}.shape={tuple(logits.shape)} (axis={axis})."
        )
    # Compare in at least int32, so that small and unsigned label dtypes accept
    # any ignore_index (such as -100) without overflow.
    labels = labels.astype(jnp.int64 if labels.dtype.itemsize == 8 else jnp.int32)
    keep = (labels >= 0) & (labels < moved.shape[-1])
    if ignore_index is not None:
        keep = keep & (labels != ignore_index)
    where = prepare_where(where, shape)
    # Out-of-range labels are removed (they cannot raise under jit); checked mode raises.
    _checks.check_class_labels("labels", labels, moved.shape[-1], ignore_index, where)
    if where is not None:
        keep = keep & where
    moved = moved.astype(_checks.compute_dtype(moved))
    moved = mask_inputs(keep, moved, logits_fill, axis=-1)
    labels = jnp.where(keep, labels, jnp.zeros((), labels.dtype))
    return moved, labels, keep
