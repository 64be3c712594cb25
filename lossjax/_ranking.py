r"""Learning to rank: listwise, pairwise and pointwise losses, lambda weights and metrics.

Every function takes ``scores`` and graded relevance ``labels`` of shape
``(..., list_size)``: one list per leading index, its items along the last
axis. Names and per-list semantics are those of rax 0.4.0 (Jagerman et al.,
"Rax: Composable Learning-to-Rank using JAX", KDD 2022): applied to one list,
each loss and metric gives the value that rax's function of the same name
gives with its default ``reduce_fn=jnp.mean`` on that list.

Two kinds of masks and weights, one of each per item and per list:

* ``item_mask`` (rax's ``where``): which items exist; padding is ``False``.
  ``item_weights`` (rax's ``weights``): a weight per item, applied as rax does.
* ``where`` and ``weights``: per list, the reduction contract of every
  lossjax loss (:func:`lossjax.reduce_loss`) over the per-list values.

Each function follows one path: :func:`_prepare_lists` (checks at trace time,
compute dtype, removed items replaced by harmless values so that NaN behind a
mask reaches neither the value nor the gradient), a per-list formula, then
:func:`reduce_loss` over the lists. A list without any valid item is left
out of the mean (as in rax); a list without a relevant item gives 0 for the
listwise and pairwise losses and the metrics, with a zero gradient, never NaN.

The pairwise and pointwise losses average over the valid pairs (items) of
each list, then the reduction averages over lists, so that every list counts
the same. rax's ``reduce_fn=jnp.mean`` on a batch pools the pairs of all lists
instead; passing the number of valid pairs per list as ``weights`` gives that
pooled mean exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks
from lossjax._numerics import safe_divide, sigmoid_cross_entropy
from lossjax._reduction import AxisName, Reduction, mask_inputs, prepare_where, reduce_loss
from lossjax._registry import (
    Hyperparameter,
    Recommendation,
    flag,
    function,
    integer,
    real,
    register,
)

# Hyperparameters that every ranking loss shares, declared once.
ITEM_MASK = Hyperparameter(
    "item_mask",
    "mask",
    "False marks an item that does not exist (padding); broadcast to the scores",
    optional=True,
)
ITEM_WEIGHTS = real(
    "item_weights",
    "a non-negative weight per item, broadcast to the scores",
    lower=0.0,
    optional=True,
    scalar=False,
)
LAMBDAWEIGHT_FN = function(
    "lambdaweight_fn",
    "pair weights fn(scores, labels, *, item_mask, item_weights) -> [..., L, L]",
)
TOPN = integer("topn", "only the top n ranked items count (None: all)", lower=1, optional=True)
TEMPERATURE = real(
    "temperature", "sigmoid temperature of the approximate ranks", lower=0.0, lower_open=True
)


# -- the list front ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Lists:
    """Checked lists: removed items hold score 0, label 0 and item weight 0."""

    scores: jax.Array  # [..., L], compute dtype
    labels: jax.Array  # [..., L], compute dtype
    valid: jax.Array  # [..., L] bool: item_mask and the list's `where`
    item_weights: jax.Array | None  # [..., L] or None
    kept: jax.Array | None  # [...] bool: lists with a valid item (None: all lists)


def _check_items(name: str, x: jax.Array, shape: tuple[int, ...]) -> None:
    """A per-item array is a scalar or has the scores' rank with sizes 1 or equal."""
    if x.ndim == 0:
        return
    if x.ndim != len(shape) or any(s not in (1, t) for s, t in zip(x.shape, shape, strict=True)):
        raise ValueError(
            f"lossjax: `{name}` must be a scalar or broadcastable to the scores' shape "
            f"{tuple(shape)} with the same rank (size-1 axes broadcast), got "
            f"{name}.shape={tuple(x.shape)}."
        )


def _prepare_lists(
    scores: Any,
    labels: Any,
    item_mask: Any = None,
    item_weights: Any = None,
    where: Any = None,
) -> _Lists:
    scores = _checks.check_floating("scores", scores)
    labels = _checks.check_real("labels", labels)
    _checks.check_same_shape("scores", scores, "labels", labels)
    if scores.ndim == 0 or scores.shape[-1] == 0:
        raise ValueError(
            "lossjax: `scores` must hold lists along its last axis, shape (..., list_size) "
            f"with list_size >= 1, got shape {tuple(scores.shape)}."
        )
    shape = tuple(scores.shape)
    dtype = _checks.compute_dtype(scores, labels)
    valid = None
    if item_mask is not None:
        item_mask = _checks.as_array("item_mask", item_mask)
        if item_mask.dtype != jnp.bool_:
            raise TypeError(
                f"lossjax: `item_mask` must be a boolean mask, got "
                f"{item_mask.dtype}{list(item_mask.shape)}. Use `item_weights` for real weights."
            )
        _check_items("item_mask", item_mask, shape)
        valid = jnp.broadcast_to(item_mask, shape)
    where = prepare_where(where, shape[:-1])
    if where is not None:
        per_item = jnp.broadcast_to(where[..., None], shape)
        valid = per_item if valid is None else valid & per_item
    if item_weights is not None:
        item_weights = _checks.check_real("item_weights", item_weights)
        _check_items("item_weights", item_weights, shape)
        item_weights = jnp.broadcast_to(item_weights.astype(dtype), shape)
        _checks.check_non_negative("item_weights", item_weights, valid)
        item_weights = mask_inputs(valid, item_weights, 0.0)
    scores = mask_inputs(valid, scores.astype(dtype), 0.0)
    labels = mask_inputs(valid, labels.astype(dtype), 0.0)
    kept = None if valid is None else jnp.any(valid, axis=-1)
    if valid is None:
        valid = jnp.ones(shape, bool)
    return _Lists(scores, labels, valid, item_weights, kept)


def _reduce(
    values: jax.Array,
    lists: _Lists,
    reduction: Any,
    weights: Any,
    axis_name: Any,
) -> jax.Array:
    """The reduction contract over lists; lists without a valid item are left out."""
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=lists.kept, axis_name=axis_name
    )


# -- shared formulas ---------------------------------------------------------------------------


def _list_mean(
    values: jax.Array, kept: jax.Array, list_axes: int, factors: tuple[jax.Array, ...] = ()
) -> jax.Array:
    """Each list's mean of ``values * factors`` over its ``kept`` entries (the last
    ``list_axes`` axes); 0 for a list without a kept entry.

    The contract's mean (:func:`reduce_loss`) of each list: its sum does not overflow
    where the mean fits. The factors (item and lambda weights, which can exceed 1)
    multiply the values after an exact scaling by :math:`2^{-k}`, :math:`2^k` at least the
    number of entries, undone on the mean: no product of non-negative terms overflows
    where the mean fits.
    """
    size = math.prod(values.shape[values.ndim - list_axes :])
    scale = 2.0 ** -math.ceil(math.log2(max(size, 1)))
    if factors:
        values = values * scale
        for factor in factors:
            values = values * factor
    flat = (-1, size)
    means = jax.vmap(lambda v, k: reduce_loss(v, where=k))(
        values.reshape(flat), jnp.broadcast_to(kept, values.shape).reshape(flat)
    )
    means = means.reshape(values.shape[: values.ndim - list_axes])
    return means / scale if factors else means


def _masked_logsumexp(x: jax.Array, mask: jax.Array) -> jax.Array:
    """``log sum_{mask} exp(x)`` over the last axis; finite, with finite derivatives, everywhere.

    The shift by the (constant) maximum keeps ``exp`` from overflowing; removed
    entries never reach ``exp`` (so no ``0 * inf`` in a derivative), and a set
    with no entry gives ``log 1 + shift`` instead of ``-inf``: its value is never used.
    """
    top = jnp.max(jnp.where(mask, x, -jnp.inf), axis=-1, keepdims=True)
    shift = jax.lax.stop_gradient(jnp.where(jnp.isfinite(top), top, 0.0))
    exps = jnp.where(mask, jnp.exp(jnp.where(mask, x - shift, 0.0)), 0.0)
    total = jnp.sum(exps, axis=-1, keepdims=True)
    return jnp.squeeze(shift + jnp.log(jnp.where(total > 0, total, 1.0)), -1)


def _masked_log_softmax(scores: jax.Array, valid: jax.Array) -> jax.Array:
    """``log softmax`` over the valid items of each list (finite, unused, at the others)."""
    return scores - _masked_logsumexp(scores, valid)[..., None]


def _rows(x: jax.Array) -> jax.Array:
    """``[..., L] -> [..., L, L]`` with ``x[..., j]`` in every row ``i``."""
    return jnp.broadcast_to(x[..., None, :], (*x.shape, x.shape[-1]))


def _pairs_and(a: jax.Array) -> jax.Array:
    return a[..., :, None] & a[..., None, :]


def _gain(labels: jax.Array) -> jax.Array:
    """rax's default gain ``2^y - 1``."""
    return jnp.exp2(labels) - 1.0


def _discount(ranks: jax.Array) -> jax.Array:
    """rax's default discount ``1 / log2(1 + rank)``."""
    return 1.0 / jnp.log2(ranks + 1.0)


def _sort_order(keys: jax.Array, valid: jax.Array) -> jax.Array:
    """Indices that sort each list: valid items first, ``keys`` descending, ties by position."""
    position = jax.lax.broadcasted_iota(jnp.int32, keys.shape, keys.ndim - 1)
    invalid = jnp.logical_not(valid).astype(jnp.int32)
    *_, order = jax.lax.sort((invalid, -keys, position), dimension=keys.ndim - 1, num_keys=2)
    return order


def _ranks(keys: jax.Array, valid: jax.Array) -> jax.Array:
    """1-based ranks by ``keys`` descending (rax's ``utils.ranks``); removed items rank last.

    Piecewise constant: no gradient flows through a rank.
    """
    order = _sort_order(jax.lax.stop_gradient(keys), valid)
    return (jnp.argsort(order, axis=-1) + 1).astype(keys.dtype)


def _approx_ranks(scores: jax.Array, valid: jax.Array, temperature: jax.Array) -> jax.Array:
    r"""Qin et al.'s smooth ranks :math:`1 + \sum_{j \ne i} \sigma((s_j - s_i) / T)` over valid items."""
    pairs = _pairs_and(valid)
    pairs = pairs & ~jnp.broadcast_to(jnp.eye(scores.shape[-1], dtype=bool), pairs.shape)
    steps = jax.nn.sigmoid((scores[..., None, :] - scores[..., :, None]) / temperature)
    return 1.0 + jnp.sum(jnp.where(pairs, steps, 0.0), axis=-1)


def _approx_cutoff(
    ranks: jax.Array, valid: jax.Array, topn: int | None, temperature: jax.Array
) -> jax.Array:
    """rax's ``approx_cutoff`` of ``-ranks``: a sigmoid step halfway between the n-th and
    (n+1)-th item (a constant threshold), 1 for every item of a list of at most n items.

    The n-th and (n+1)-th are found among the valid items only (rax's ``approx_t12n``
    lets removed items compete as rank-1 items there; the two agree without a mask).
    """
    if topn is None:
        return valid.astype(ranks.dtype)
    a = -ranks
    exact = _ranks(a, valid)
    at_edge = valid & ((exact == topn) | (exact == topn + 1))
    threshold = jax.lax.stop_gradient(
        jnp.sum(jnp.where(at_edge, a, 0.0), axis=-1, keepdims=True) / 2.0
    )
    steps = jax.nn.sigmoid((a - threshold) / temperature)
    short = jnp.sum(valid, axis=-1, keepdims=True) <= topn
    return jnp.where(valid, jnp.where(short, 1.0, steps), 0.0)


def _retrieved(scores: jax.Array, ranks: jax.Array, valid: jax.Array, topn: int | None):
    """rax's retrieved items: valid, a score other than -inf, and ranked within ``topn``."""
    retrieved = valid & ~jnp.isneginf(scores)
    if topn is not None:
        retrieved = retrieved & (ranks <= topn)
    return retrieved.astype(scores.dtype)


def _dcg(
    lists: _Lists, ranks: jax.Array, retrieved: jax.Array, gains: jax.Array | None = None
) -> jax.Array:
    if gains is None:
        gains = _weighted_gains(lists)
    return jnp.sum(retrieved * gains * _discount(ranks), axis=-1)


def _weighted_gains(lists: _Lists) -> jax.Array:
    gains = _gain(lists.labels)
    return gains if lists.item_weights is None else gains * lists.item_weights


def _ideal_dcg(lists: _Lists, topn: int | None) -> jax.Array:
    """The DCG of the best ordering (items sorted by their weighted gains); 1 where it is 0."""
    gains = _weighted_gains(lists)
    ranks = _ranks(gains, lists.valid)
    ideal = _dcg(lists, ranks, _retrieved(gains, ranks, lists.valid, topn), gains)
    return jnp.where(ideal == 0.0, 1.0, ideal)


def _check_topn(topn: Any) -> None:
    TOPN.check(topn)


def _hyperparameter(value: Any, lists: _Lists) -> jax.Array:
    return _checks.hyperparameter(value, lists.scores.dtype)


# -- listwise losses ---------------------------------------------------------------------------


def _softmax_values(lists: _Lists) -> jax.Array:
    labels = lists.labels if lists.item_weights is None else lists.labels * lists.item_weights
    log_p = _masked_log_softmax(lists.scores, lists.valid)
    return -jnp.sum(jnp.where(lists.valid, labels * log_p, 0.0), axis=-1)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Softmax cross-entropy of the list's scores against its labels (ListNet-style).",
    aliases=("listnet", "softmax_ranking"),
    default=True,
    hyperparameters=(ITEM_MASK, ITEM_WEIGHTS),
    recommendations=(
        Recommendation(
            "the listwise default: simple, convex in the scores, and a bound on NDCG and MRR "
            "(Bruch et al. 2019)"
        ),
    ),
)
def softmax_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Listwise softmax cross-entropy (rax ``softmax_loss``).

    Per list, over its valid items, with item weights :math:`w_i` (1 by default):

    .. math::

        \ell(s, y) = -\sum_i w_i y_i \log \frac{e^{s_i}}{\sum_j e^{s_j}}

    The labels are not normalised (rax's default ``label_fn``): a label of 2
    counts twice. A list without a relevant item gives 0.

    Args:
        scores: floating array ``[..., list_size]``, the score of each item.
        labels: real array of the same shape, the graded relevance of each item.
        item_mask: optional boolean array broadcastable to the scores; ``False``
            marks an item that does not exist (padding).
        item_weights: optional non-negative weights per item (rax's ``weights``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights, a scalar or ``[...]``.
        where: optional boolean per-list mask ``[...]``; removed lists contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.softmax_loss(jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
        Array(1.4076059, dtype=float32)

    References:
        Cao et al., "Learning to Rank: From Pairwise Approach to Listwise Approach"
        (ListNet), ICML 2007; rax ``rax.softmax_loss``.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    return _reduce(_softmax_values(lists), lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Softmax loss plus epsilon (1 - p_t), the Poly-1 correction (Leng et al. 2022).",
    aliases=("poly1_softmax",),
    hyperparameters=(
        real("epsilon", "coefficient of (1 - p_t); 0 gives the softmax loss", lower=-1.0),
        ITEM_MASK,
        ITEM_WEIGHTS,
    ),
    recommendations=(
        Recommendation(
            "the softmax loss with a tunable push on the target's probability mass",
            {"epsilon": 1.0},
        ),
    ),
)
def poly1_softmax_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    epsilon: ArrayLike = 1.0,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Poly-1 softmax loss (rax ``poly1_softmax_loss``).

    .. math::

        \ell(s, y) = \mathrm{softmax\_loss}(s, y) + \epsilon\,(1 - p_t), \qquad
        p_t = \sum_i \frac{w_i y_i}{\sum_j w_j y_j} \frac{e^{s_i}}{\sum_j e^{s_j}}

    over the valid items. A list without a relevant item gives 0 (rax gives the
    constant :math:`\epsilon (1 - 1/n)` there, from uniform label
    probabilities, with a zero gradient as here).

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape (graded relevance).
        epsilon: weight of the polynomial term (>= -1); traceable.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0])
        >>> ranking.poly1_softmax_loss(s, y, epsilon=0.5)
        Array(1.7852416, dtype=float32)

    References:
        Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification
        Loss Functions", ICLR 2022; rax ``rax.poly1_softmax_loss``.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    epsilon = _hyperparameter(epsilon, lists)
    labels_w = lists.labels if lists.item_weights is None else lists.labels * lists.item_weights
    total = jnp.sum(labels_w, axis=-1, keepdims=True)
    target = safe_divide(labels_w, jnp.broadcast_to(total, labels_w.shape))
    p = jnp.exp(_masked_log_softmax(lists.scores, lists.valid))
    p_t = jnp.sum(jnp.where(lists.valid, target * p, 0.0), axis=-1)
    p_t = jnp.where(jnp.squeeze(total, -1) == 0, 1.0, p_t)
    values = _softmax_values(lists) + epsilon * (1.0 - p_t)
    return _reduce(values, lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Softmax of each item against the less relevant items only (Zhu & Klabjan 2020).",
    aliases=("unique_softmax",),
    hyperparameters=(ITEM_MASK, ITEM_WEIGHTS),
    recommendations=(
        Recommendation("a softmax loss that does not push relevant items against each other"),
    ),
)
def unique_softmax_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Unique softmax loss (rax ``unique_softmax_loss``, gain :math:`2^y - 1`).

    .. math::

        \ell(s, y) = -\sum_i w_i (2^{y_i} - 1)
            \log \frac{e^{s_i}}{e^{s_i} + \sum_{j: y_j < y_i} e^{s_j}}

    over the valid items :math:`i, j`. A list without a relevant item gives 0.

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape (graded relevance).
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([0.0, 1.0, 2.0]), jnp.array([2.0, 1.0, 0.0])
        >>> ranking.unique_softmax_loss(s, y)
        Array(8.536079, dtype=float32)

    References:
        Zhu and Klabjan, "Listwise Learning to Rank by Exploring Unique Ratings",
        WSDM 2020; rax ``rax.unique_softmax_loss``.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    y, v = lists.labels, lists.valid
    below = (y[..., None, :] < y[..., :, None]) & v[..., None, :]  # [i, j]: y_j < y_i
    own = jnp.broadcast_to(jnp.eye(y.shape[-1], dtype=bool), below.shape)
    log_p = lists.scores - _masked_logsumexp(_rows(lists.scores), below | own)
    gains = _weighted_gains(lists)
    values = -jnp.sum(jnp.where(v, gains * log_p, 0.0), axis=-1)
    return _reduce(values, lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Plackett-Luce likelihood of the label order (ListMLE, Xia et al. 2008).",
    aliases=("listmle",),
    hyperparameters=(ITEM_MASK,),
    recommendations=(
        Recommendation(
            "the likelihood of the whole permutation: for complete orderings rather than "
            "graded labels (ties keep their position order)"
        ),
    ),
)
def listmle_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""ListMLE loss (rax ``listmle_loss``): the Plackett-Luce negative log-likelihood.

    With the valid items ordered by decreasing label, :math:`\pi(1), \pi(2), \ldots`
    (ties in their order of appearance, as rax without a ``key``):

    .. math::

        \ell(s, y) = -\sum_k \log \frac{e^{s_{\pi(k)}}}{\sum_{m \ge k} e^{s_{\pi(m)}}}

    The order is found by sorting the labels (no gradient); the scores are
    differentiated through a gather. A list without a relevant item (no label
    above 0) gives 0: its order would be the items' positions only (rax gives
    the likelihood of that order).

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape (the order to learn).
        item_mask: optional boolean array; ``False`` marks padding.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.listmle_loss(jnp.array([0.0, 1.0, 2.0]), jnp.array([2.0, 1.0, 0.0]))
        Array(3.7208674, dtype=float32)

    References:
        Xia et al., "Listwise Approach to Learning to Rank: Theory and Algorithm",
        ICML 2008; rax ``rax.listmle_loss``.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, None, where)
    order = _sort_order(lists.labels, lists.valid)
    s = jnp.take_along_axis(lists.scores, order, axis=-1)
    v = jnp.take_along_axis(lists.valid, order, axis=-1)
    size = s.shape[-1]
    later = jnp.arange(size)[None, :] >= jnp.arange(size)[:, None]  # [k, m]: m >= k
    later = jnp.broadcast_to(later, (*s.shape, size))
    log_p = s - _masked_logsumexp(_rows(s), later & v[..., None, :])
    values = -jnp.sum(jnp.where(v, log_p, 0.0), axis=-1)
    # Without a relevant item the order is only the items' positions: no information.
    values = jnp.where(jnp.any(lists.valid & (lists.labels > 0), axis=-1), values, 0.0)
    return _reduce(values, lists, reduction, weights, axis_name)


# -- pairwise losses ---------------------------------------------------------------------------


def _pairwise_values(
    lists: _Lists,
    pair_loss: Callable[[jax.Array, jax.Array], jax.Array],
    lambdaweight_fn: Callable[..., Any] | None,
    *,
    all_pairs: bool = False,
    scale: float = 1.0,
) -> jax.Array:
    """The mean over the valid pairs of each list of ``w_i * lambda_ij * loss(s_i - s_j, y_i - y_j)``.

    Valid pairs: both items valid and ``y_i > y_j`` (every pair with ``all_pairs``).
    A list without a valid pair gives 0. With ``scale`` (a power of two, exact) the
    loss receives the differences of the scaled scores and labels, ``s_i c - s_j c``.
    """
    s, y, v = lists.scores, lists.labels, lists.valid
    score_diff = s[..., :, None] * scale - s[..., None, :] * scale
    label_diff = y[..., :, None] * scale - y[..., None, :] * scale
    pairs = _pairs_and(v)
    if not all_pairs:
        pairs = pairs & (label_diff > 0)
    losses = pair_loss(score_diff, label_diff)
    factors = []
    if lists.item_weights is not None:
        factors.append(lists.item_weights[..., :, None])
    if lambdaweight_fn is not None:
        lambdas = jnp.asarray(lambdaweight_fn(s, y, item_mask=v, item_weights=lists.item_weights))
        if lambdas.shape != losses.shape:
            raise ValueError(
                f"lossjax: `lambdaweight_fn` must return one weight per pair, shape "
                f"{tuple(losses.shape)}, got shape {tuple(lambdas.shape)}."
            )
        factors.append(lambdas.astype(losses.dtype))
    return _list_mean(losses, pairs, 2, tuple(factors))


_PAIRWISE_OPTIONS = (ITEM_MASK, ITEM_WEIGHTS, LAMBDAWEIGHT_FN)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Hinge on the score difference of every pair with y_i > y_j (RankSVM).",
    aliases=("pairwise_hinge", "ranksvm"),
    margin_based=True,
    hyperparameters=(real("margin", "required score difference", lower=0.0), *_PAIRWISE_OPTIONS),
    recommendations=(
        Recommendation("a max-margin pairwise ranker: zero loss once pairs are separated"),
    ),
)
def pairwise_hinge_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    lambdaweight_fn: Callable[..., Any] | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pairwise hinge loss (rax ``pairwise_hinge_loss``; rax's margin is 1).

    Per list, the mean over the valid pairs :math:`P = \{(i, j): y_i > y_j\}`:

    .. math::

        \ell(s, y) = \frac{1}{|P|} \sum_{(i, j) \in P}
            w_i \lambda_{ij} \max(0, m - (s_i - s_j))

    with item weights :math:`w` and lambda weights :math:`\lambda` (1 by default).

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape (graded relevance).
        margin: the score difference required of each pair (>= 0); traceable.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item (weight the pair by its
            more relevant item, as rax).
        lambdaweight_fn: optional pair weights, e.g. :func:`dcg_lambdaweight`
            (``functools.partial`` binds its options).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([2.0, 1.0, 0.0]), jnp.array([0.0, 1.0, 0.0])
        >>> ranking.pairwise_hinge_loss(s, y)
        Array(1., dtype=float32)

    References:
        Herbrich et al., "Large Margin Rank Boundaries for Ordinal Regression", 2000;
        Joachims, "Optimizing Search Engines using Clickthrough Data", KDD 2002.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    margin = _hyperparameter(margin, lists)
    values = _pairwise_values(lists, lambda d, _: jax.nn.relu(margin - d), lambdaweight_fn)
    return _reduce(values, lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Logistic loss of the score difference of every pair with y_i > y_j (RankNet).",
    aliases=("pairwise_logistic", "ranknet"),
    hyperparameters=_PAIRWISE_OPTIONS,
    recommendations=(
        Recommendation(
            "for pairwise preference data (clicks over skips): RankNet's smooth pairwise loss; "
            "lambdaweight_fn=ranking.dcg_lambdaweight makes it LambdaRank"
        ),
    ),
)
def pairwise_logistic_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    lambdaweight_fn: Callable[..., Any] | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pairwise logistic loss (rax ``pairwise_logistic_loss``; RankNet).

    .. math::

        \ell(s, y) = \frac{1}{|P|} \sum_{(i, j) \in P}
            w_i \lambda_{ij} \log(1 + e^{-(s_i - s_j)}),
        \qquad P = \{(i, j): y_i > y_j\}

    computed as ``softplus(-(s_i - s_j))``, exact for any difference.

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape (graded relevance).
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item.
        lambdaweight_fn: optional pair weights (:func:`dcg_lambdaweight` gives LambdaRank).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([2.0, 1.0, 0.0]), jnp.array([0.0, 1.0, 0.0])
        >>> ranking.pairwise_logistic_loss(s, y)
        Array(0.81326175, dtype=float32)

    References:
        Burges et al., "Learning to Rank using Gradient Descent" (RankNet), ICML 2005.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    values = _pairwise_values(lists, lambda d, _: jax.nn.softplus(-d), lambdaweight_fn)
    return _reduce(values, lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Sigmoid of minus the score difference of every pair with y_i > y_j.",
    aliases=("pairwise_soft_zero_one",),
    hyperparameters=_PAIRWISE_OPTIONS,
    recommendations=(
        Recommendation(
            "a smooth count of misordered pairs: bounded, so noisy pairs cannot dominate"
        ),
    ),
)
def pairwise_soft_zero_one_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    lambdaweight_fn: Callable[..., Any] | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pairwise soft zero-one loss (rax ``pairwise_soft_zero_one_loss``).

    .. math::

        \ell(s, y) = \frac{1}{|P|} \sum_{(i, j) \in P} w_i \lambda_{ij}\,
            \sigma(-(s_i - s_j)), \qquad P = \{(i, j): y_i > y_j\}

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape (graded relevance).
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item.
        lambdaweight_fn: optional pair weights.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([2.0, 1.0, 0.0]), jnp.array([0.0, 1.0, 0.0])
        >>> ranking.pairwise_soft_zero_one_loss(s, y)
        Array(0.5, dtype=float32)

    References:
        rax ``rax.pairwise_soft_zero_one_loss`` (a sigmoid relaxation of the
        number of misordered pairs).
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    values = _pairwise_values(lists, lambda d, _: jax.nn.sigmoid(-d), lambdaweight_fn)
    return _reduce(values, lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Squared error between score differences and label differences, over all pairs.",
    aliases=("pairwise_mse",),
    hyperparameters=_PAIRWISE_OPTIONS,
    recommendations=(
        Recommendation("regresses score gaps on label gaps: for labels on an interval scale"),
    ),
)
def pairwise_mse_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    lambdaweight_fn: Callable[..., Any] | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pairwise mean squared error (rax ``pairwise_mse_loss``).

    Per list, the mean over every ordered pair of valid items (:math:`i = j` included, as rax):

    .. math::

        \ell(s, y) = \frac{1}{n^2} \sum_{i, j} w_i \lambda_{ij}
            \big((y_i - y_j) - (s_i - s_j)\big)^2

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item.
        lambdaweight_fn: optional pair weights.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.pairwise_mse_loss(jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0]))
        Array(4.5, dtype=float32)

    References:
        rax ``rax.pairwise_mse_loss``.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    # 16 ((d - e) / 4)^2, on the quarters d/4 and e/4 (exact): where scores of opposite
    # signs put d beyond the float range, the derivative 2 (d - e) of each pair still fits
    # (summed over pairs, infinities of both signs would give NaN).
    values = _pairwise_values(
        lists, lambda d, e: 16.0 * jnp.square(d - e), lambdaweight_fn, all_pairs=True, scale=0.25
    )
    return _reduce(values, lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Pinball loss of score differences against label differences, pairs with y_i > y_j.",
    aliases=("pairwise_qr", "pairwise_quantile"),
    hyperparameters=(
        real("tau", "quantile level", lower=0.0, upper=1.0, lower_open=True),
        flag("squared", "square each of the two hinge terms"),
        *_PAIRWISE_OPTIONS,
    ),
    recommendations=(
        Recommendation(
            "quantile regression of score gaps on label gaps; tau = 0.5 is the median",
            {"tau": 0.5},
        ),
    ),
)
def pairwise_qr_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    tau: ArrayLike = 0.5,
    squared: bool = False,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    lambdaweight_fn: Callable[..., Any] | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pairwise quantile regression loss (rax ``pairwise_qr_loss``).

    With :math:`d_{ij} = s_i - s_j` and :math:`e_{ij} = y_i - y_j`, over the
    valid pairs :math:`P = \{(i, j): y_i > y_j\}`:

    .. math::

        \ell(s, y) = \frac{1}{|P|} \sum_{(i, j) \in P} w_i \lambda_{ij}
            \big(\tau \max(0, e_{ij} - d_{ij}) + (1 - \tau) \max(0, d_{ij} - e_{ij})\big)

    With ``squared`` each ``max`` is squared.

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape.
        tau: quantile level in (0, 1]; traceable.
        squared: square the two hinge terms.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item.
        lambdaweight_fn: optional pair weights.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.pairwise_qr_loss(jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0]), tau=0.25)
        Array(0.75, dtype=float32)

    References:
        Koenker and Bassett, "Regression Quantiles", 1978; rax ``rax.pairwise_qr_loss``.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    tau = _hyperparameter(tau, lists)

    # The pinball loss is homogeneous: it is evaluated on the quarters d/4 and e/4, whose
    # difference always fits, so that no intermediate overflows where tau (e - d) fits.
    def quantile(d: jax.Array, e: jax.Array) -> jax.Array:
        under, over = jax.nn.relu(e - d), jax.nn.relu(d - e)
        if squared:
            under, over = jnp.square(under), jnp.square(over)
        return (16.0 if squared else 4.0) * (tau * under + (1.0 - tau) * over)

    values = _pairwise_values(lists, quantile, lambdaweight_fn, scale=0.25)
    return _reduce(values, lists, reduction, weights, axis_name)


# -- pointwise losses --------------------------------------------------------------------------


def _pointwise_values(lists: _Lists, item_losses: jax.Array) -> jax.Array:
    """The mean over the valid items of each list of ``w_i * loss_i`` (0 without one)."""
    factors = () if lists.item_weights is None else (lists.item_weights,)
    return _list_mean(item_losses, lists.valid, 1, factors)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Squared error of each item's score against its label (pointwise regression).",
    aliases=("pointwise_mse",),
    hyperparameters=(ITEM_MASK, ITEM_WEIGHTS),
    recommendations=(
        Recommendation("pointwise regression of the labels: a baseline, blind to the order"),
    ),
)
def pointwise_mse_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pointwise squared error (rax ``pointwise_mse_loss``).

    Per list, the mean over its :math:`n` valid items:

    .. math::

        \ell(s, y) = \frac{1}{n} \sum_i w_i (y_i - s_i)^2

    Every item carries information here, so a list without a relevant item
    still gives a loss (it pulls the scores towards 0).

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.pointwise_mse_loss(jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0]))
        Array(2.5, dtype=float32)

    References:
        rax ``rax.pointwise_mse_loss``.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    values = _pointwise_values(lists, jnp.square(lists.scores - lists.labels))
    return _reduce(values, lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Sigmoid cross-entropy of each item's score against its label clipped to [0, 1].",
    aliases=("pointwise_sigmoid",),
    calibrated_probabilities=True,
    hyperparameters=(ITEM_MASK, ITEM_WEIGHTS),
    recommendations=(
        Recommendation(
            "for binary relevance such as clicks: the scores become calibrated click "
            "probabilities (sigmoid), not only an order"
        ),
    ),
)
def pointwise_sigmoid_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pointwise sigmoid cross-entropy (rax ``pointwise_sigmoid_loss``).

    With the labels clipped to :math:`[0, 1]`, per list the mean over its
    :math:`n` valid items:

    .. math::

        \ell(s, y) = \frac{1}{n} \sum_i w_i \big(-y_i \log \sigma(s_i)
            - (1 - y_i) \log(1 - \sigma(s_i))\big)

    computed from the logits with two softplus terms (exact for any score).

    Args:
        scores: floating array ``[..., list_size]`` (logits).
        labels: real array of the same shape; clipped to [0, 1].
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.pointwise_sigmoid_loss(jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0]))
        Array(1.4100376, dtype=float32)

    References:
        rax ``rax.pointwise_sigmoid_loss``.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    labels01 = jnp.clip(lists.labels, 0.0, 1.0)
    values = _pointwise_values(lists, sigmoid_cross_entropy(lists.scores, labels01))
    return _reduce(values, lists, reduction, weights, axis_name)


# -- approximate metrics as losses (Qin et al. 2010) --------------------------------------------


_APPROX_OPTIONS = (TEMPERATURE, TOPN, ITEM_MASK, ITEM_WEIGHTS)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Minus a smooth NDCG: ranks as sums of sigmoids (ApproxNDCG, Qin et al. 2010).",
    aliases=("approx_ndcg", "approxndcg"),
    hyperparameters=_APPROX_OPTIONS,
    recommendations=(
        Recommendation(
            "optimises NDCG directly through smooth ranks; lower the temperature for a "
            "closer, steeper approximation",
            {"temperature": 1.0},
        ),
    ),
)
def approx_ndcg_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    temperature: ArrayLike = 1.0,
    topn: int | None = None,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Approximate NDCG loss, :math:`-\mathrm{ApproxNDCG}` (rax ``approx_t12n(ndcg_metric)``).

    The rank of each valid item is replaced by the smooth

    .. math::

        \hat r_i = 1 + \sum_{j \ne i} \sigma\Big(\frac{s_j - s_i}{T}\Big), \qquad
        \ell(s, y) = -\frac{1}{\mathrm{IDCG}} \sum_i c_i
            \frac{w_i (2^{y_i} - 1)}{\log_2(1 + \hat r_i)}

    where :math:`\mathrm{IDCG}` is the exact DCG of the ideal order (1 if 0) and
    :math:`c_i` is 1 without ``topn``; with ``topn`` it is the smooth indicator
    :math:`\sigma((t - \hat r_i)/T)` with :math:`t` halfway between the
    ``topn``-th and the next approximate rank (1 for lists of at most ``topn``
    items). The threshold is found among the valid items (rax lets removed
    items compete there; the two agree without ``item_mask``) and, as in rax,
    is held constant in the gradient: with ``topn`` the gradient is that of
    the smooth metric at a fixed threshold, not the derivative of the value
    where the n-th item changes. A list without a relevant item gives 0.

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape (graded relevance).
        temperature: the sigmoid's temperature :math:`T` (> 0); traceable.
        topn: optional Python int >= 1: NDCG@n.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item (scale the gains).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (between -1 and 0 per list), or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([0.0, 1.0, 3.0, 2.0]), jnp.array([0.0, 0.0, 1.0, 2.0])
        >>> ranking.approx_ndcg_loss(s, y)
        Array(-0.71789175, dtype=float32)

    References:
        Qin, Liu and Li, "A General Approximation Framework for Direct Optimization of
        Information Retrieval Measures", Information Retrieval 13, 2010.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    temperature = _hyperparameter(temperature, lists)
    ranks = _approx_ranks(lists.scores, lists.valid, temperature)
    cutoff = _approx_cutoff(ranks, lists.valid, topn, temperature)
    retrieved = _retrieved(lists.scores, ranks, lists.valid, None) * cutoff
    values = -_dcg(lists, ranks, retrieved) / _ideal_dcg(lists, topn)
    return _reduce(values, lists, reduction, weights, axis_name)


@register(
    task="ranking",
    input_kind="scores",
    namespace="ranking",
    summary="Minus a smooth reciprocal rank of the first relevant item (approximate MRR).",
    aliases=("approx_mrr",),
    hyperparameters=(TEMPERATURE, TOPN, ITEM_MASK),
    recommendations=(
        Recommendation(
            "optimises MRR directly (one relevant item per query, e.g. question answering)"
        ),
    ),
)
def approx_mrr_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    temperature: ArrayLike = 1.0,
    topn: int | None = None,
    item_mask: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Approximate MRR loss, :math:`-\mathrm{ApproxMRR}` (rax ``approx_t12n(mrr_metric)``).

    With the smooth ranks :math:`\hat r_i` and cutoff :math:`c_i` of
    :func:`approx_ndcg_loss` and the relevant items :math:`y_i \ge 1`:

    .. math::

        \ell(s, y) = -\max_{i: y_i \ge 1} \frac{c_i}{\hat r_i}

    (0 for a list without a relevant item).

    Args:
        scores: floating array ``[..., list_size]``.
        labels: real array of the same shape; relevant means ``>= 1``.
        temperature: the sigmoid's temperature (> 0); traceable.
        topn: optional Python int >= 1: MRR@n.
        item_mask: optional boolean array; ``False`` marks padding.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per list).
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (between -1 and 0 per list), or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([0.0, 1.0, 3.0, 2.0]), jnp.array([0.0, 0.0, 1.0, 2.0])
        >>> ranking.approx_mrr_loss(s, y)
        Array(-0.6965873, dtype=float32)

    References:
        Qin, Liu and Li, "A General Approximation Framework for Direct Optimization of
        Information Retrieval Measures", Information Retrieval 13, 2010.
    """
    _checks.check_reduction(reduction)
    lists = _prepare_lists(scores, labels, item_mask, None, where)
    temperature = _hyperparameter(temperature, lists)
    ranks = _approx_ranks(lists.scores, lists.valid, temperature)
    cutoff = _approx_cutoff(ranks, lists.valid, topn, temperature)
    retrieved = _retrieved(lists.scores, ranks, lists.valid, None) * cutoff
    values = -_reciprocal_rank(lists, ranks, retrieved)
    return _reduce(values, lists, reduction, weights, axis_name)


def _reciprocal_rank(lists: _Lists, ranks: jax.Array, retrieved: jax.Array) -> jax.Array:
    relevant = (lists.labels >= 1).astype(ranks.dtype)
    return jnp.max(jnp.where(lists.valid, relevant * retrieved / ranks, 0.0), axis=-1)


# -- lambda weights ----------------------------------------------------------------------------


def _lambdaweight_lists(
    scores: Any, labels: Any, item_mask: Any, item_weights: Any
) -> tuple[_Lists, int]:
    lists = _prepare_lists(scores, labels, item_mask, item_weights)
    return lists, lists.scores.shape[-1]


def labeldiff_lambdaweight(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
) -> jax.Array:
    r"""Pair weights :math:`\lambda_{ij} = |y_i - y_j|` (rax ``labeldiff_lambdaweight``).

    Pass as ``lambdaweight_fn=`` to a pairwise loss. Pairs with a removed item get 0.

    Args:
        scores: floating array ``[..., list_size]`` (unused, for the common interface).
        labels: real array of the same shape.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: unused (the common interface).

    Returns:
        The pair weights, ``[..., list_size, list_size]``.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.labeldiff_lambdaweight(jnp.zeros(3), jnp.array([2.0, 0.0, 1.0]))[0]
        Array([0., 2., 1.], dtype=float32)

    References:
        rax ``rax.labeldiff_lambdaweight``.
    """
    lists, _ = _lambdaweight_lists(scores, labels, item_mask, item_weights)
    y = lists.labels
    return jnp.where(_pairs_and(lists.valid), jnp.abs(y[..., :, None] - y[..., None, :]), 0.0)


def _dcg_gains(lists: _Lists, topn: int | None, normalize: bool) -> jax.Array:
    gains = _weighted_gains(lists)
    if normalize:
        gains = gains / _ideal_dcg(lists, topn)[..., None]
    return gains


def dcg_lambdaweight(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    topn: int | None = None,
    normalize: bool = False,
) -> jax.Array:
    r"""LambdaRank's pair weights: the DCG change of swapping two items (rax ``dcg_lambdaweight``).

    With the items' current ranks :math:`r` (by score), gains :math:`G = w (2^y - 1)`
    and discounts :math:`D(r) = 1/\log_2(1 + r)` (0 beyond ``topn``):

    .. math::

        \lambda_{ij} = L\,|G_i - G_j|\,|D(r_i) - D(r_j)|

    for valid pairs (:math:`L` the list size, as rax), 0 otherwise; with
    ``normalize`` the gains are divided by the ideal DCG (NDCG changes).
    Bind the options with ``functools.partial(dcg_lambdaweight, topn=10)``.

    Args:
        scores: floating array ``[..., list_size]`` (sets the ranks; no gradient).
        labels: real array of the same shape (graded relevance).
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item (scale the gains).
        topn: optional Python int >= 1: discounts beyond it are 0.
        normalize: divide the gains by the ideal DCG.

    Returns:
        The pair weights, ``[..., list_size, list_size]``.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> w = ranking.dcg_lambdaweight(jnp.array([2.0, 1.0]), jnp.array([0.0, 1.0]))
        >>> w[0, 1]
        Array(0.73814..., dtype=float32)

    References:
        Burges, "From RankNet to LambdaRank to LambdaMART: An Overview", MSR-TR-2010-82;
        rax ``rax.dcg_lambdaweight``.
    """
    _check_topn(topn)
    _checks.check_flag("normalize", normalize)
    lists, size = _lambdaweight_lists(scores, labels, item_mask, item_weights)
    ranks = _ranks(lists.scores, lists.valid)
    gains = _dcg_gains(lists, topn, normalize)
    discounts = _discount(ranks)
    if topn is not None:
        discounts = jnp.where(ranks <= topn, discounts, 0.0)
    weights = (
        jnp.abs(gains[..., :, None] - gains[..., None, :])
        * jnp.abs(discounts[..., :, None] - discounts[..., None, :])
        * size
    )
    return jnp.where(_pairs_and(lists.valid), weights, 0.0)


def dcg2_lambdaweight(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    topn: int | None = None,
    normalize: bool = False,
    light_discount: bool = False,
) -> jax.Array:
    r"""LambdaLoss's NDCG-Loss2 pair weights (rax ``dcg2_lambdaweight``).

    With :math:`\delta_{ij} = |r_i - r_j|` of the current ranks, gains
    :math:`G = w (2^y - 1)` and :math:`D(r) = 1/\log_2(1 + r)`:

    .. math::

        \lambda_{ij} = L\,|G_i - G_j|\,\big|D(\delta_{ij}) - D(\delta_{ij} + 1)\big|

    (:math:`|D(\delta_{ij})|` with ``light_discount``; 0 for :math:`\delta = 0`), and
    with ``topn`` each pair whose larger rank exceeds it is multiplied by
    :math:`1 / (1 - D(\max(r_i, r_j)))`. ``normalize`` divides the gains by the
    ideal DCG.

    Args:
        scores: floating array ``[..., list_size]`` (sets the ranks; no gradient).
        labels: real array of the same shape (graded relevance).
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item (scale the gains).
        topn: optional Python int >= 1.
        normalize: divide the gains by the ideal DCG.
        light_discount: use :math:`D(\delta)` instead of its difference.

    Returns:
        The pair weights, ``[..., list_size, list_size]``.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> w = ranking.dcg2_lambdaweight(jnp.array([2.0, 1.0]), jnp.array([0.0, 1.0]))
        >>> w[0, 1]
        Array(0.73814..., dtype=float32)

    References:
        Wang et al., "The LambdaLoss Framework for Ranking Metric Optimization",
        CIKM 2018; rax ``rax.dcg2_lambdaweight``.
    """
    _check_topn(topn)
    _checks.check_flag("normalize", normalize)
    _checks.check_flag("light_discount", light_discount)
    lists, size = _lambdaweight_lists(scores, labels, item_mask, item_weights)
    ranks = _ranks(lists.scores, lists.valid)
    gains = _dcg_gains(lists, topn, normalize)
    gaps = jnp.abs(ranks[..., :, None] - ranks[..., None, :])
    safe_gaps = jnp.where(gaps != 0, gaps, 1.0)  # D(0) is infinite; those pairs get 0
    if light_discount:
        discounts = jnp.abs(_discount(safe_gaps))
    else:
        discounts = jnp.abs(_discount(safe_gaps) - _discount(safe_gaps + 1.0))
    discounts = jnp.where(gaps != 0, discounts, 0.0)
    if topn is not None:
        larger = jnp.maximum(ranks[..., :, None], ranks[..., None, :])
        beyond = larger > topn
        # Beyond topn the larger rank is >= 2, so 1 - D(rank) > 0.
        safe_larger = jnp.where(beyond, larger, 2.0)
        discounts = discounts * jnp.where(beyond, 1.0 / (1.0 - _discount(safe_larger)), 1.0)
    weights = jnp.abs(gains[..., :, None] - gains[..., None, :]) * discounts * size
    return jnp.where(_pairs_and(lists.valid), weights, 0.0)


# -- metrics -----------------------------------------------------------------------------------


def _metric_lists(
    scores: Any, labels: Any, item_mask: Any, item_weights: Any, where: Any, topn: Any
) -> tuple[_Lists, jax.Array, jax.Array]:
    """The checked lists, the exact ranks and rax's retrieved items (valid, in the top n)."""
    _check_topn(topn)
    lists = _prepare_lists(scores, labels, item_mask, item_weights, where)
    ranks = _ranks(lists.scores, lists.valid)
    return lists, ranks, _retrieved(lists.scores, ranks, lists.valid, topn)


def _relevant(lists: _Lists) -> jax.Array:
    return jnp.where(lists.valid & (lists.labels >= 1), 1.0, 0.0).astype(lists.scores.dtype)


def dcg_metric(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    topn: int | None = None,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Discounted cumulative gain (rax ``dcg_metric``).

    With the 1-based rank :math:`r_i` of each valid item by decreasing score
    (ties by position):

    .. math::

        \mathrm{DCG@n}(s, y) = \sum_{i: r_i \le n} \frac{w_i (2^{y_i} - 1)}{\log_2(1 + r_i)}

    A metric (higher is better, no gradient through the ranks).

    Args:
        scores: floating array ``[..., list_size]``; an item scored ``-inf`` is not retrieved.
        labels: real array of the same shape (graded relevance).
        topn: optional Python int >= 1: DCG@n.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item (scale the gains).
        reduction: ``"mean"`` (default) over lists, ``"sum"`` or ``"none"``.
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced metric, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.dcg_metric(jnp.array([2.0, 1.0, 3.0]), jnp.array([2.0, 0.0, 1.0]))
        Array(2.8927894, dtype=float32)

    References:
        Järvelin and Kekäläinen, "Cumulated Gain-Based Evaluation of IR Techniques",
        ACM TOIS 20(4), 2002.
    """
    _checks.check_reduction(reduction)
    lists, ranks, retrieved = _metric_lists(scores, labels, item_mask, item_weights, where, topn)
    return _reduce(_dcg(lists, ranks, retrieved), lists, reduction, weights, axis_name)


def ndcg_metric(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    topn: int | None = None,
    item_mask: ArrayLike | None = None,
    item_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Normalised discounted cumulative gain (rax ``ndcg_metric``).

    .. math::

        \mathrm{NDCG@n}(s, y) = \frac{\mathrm{DCG@n}(s, y)}{\mathrm{DCG@n}(G, y)}

    where the ideal DCG ranks the items by their gains :math:`G = w (2^y - 1)`;
    a list whose ideal DCG is 0 (no relevant item) gives 0.

    Args:
        scores: floating array ``[..., list_size]``; an item scored ``-inf`` is not retrieved.
        labels: real array of the same shape (graded relevance).
        topn: optional Python int >= 1: NDCG@n.
        item_mask: optional boolean array; ``False`` marks padding.
        item_weights: optional non-negative weights per item (scale the gains).
        reduction: ``"mean"`` (default) over lists, ``"sum"`` or ``"none"``.
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced metric, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.ndcg_metric(jnp.array([2.0, 1.0, 3.0]), jnp.array([2.0, 0.0, 1.0]))
        Array(0.79670763, dtype=float32)

    References:
        Järvelin and Kekäläinen, "Cumulated Gain-Based Evaluation of IR Techniques",
        ACM TOIS 20(4), 2002.
    """
    _checks.check_reduction(reduction)
    lists, ranks, retrieved = _metric_lists(scores, labels, item_mask, item_weights, where, topn)
    values = _dcg(lists, ranks, retrieved) / _ideal_dcg(lists, topn)
    return _reduce(values, lists, reduction, weights, axis_name)


def mrr_metric(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    topn: int | None = None,
    item_mask: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Reciprocal rank of the first relevant item (rax ``mrr_metric``); the mean is MRR.

    .. math::

        \mathrm{RR@n}(s, y) = \max_{i: y_i \ge 1,\ r_i \le n} \frac{1}{r_i}

    (0 when no relevant item is in the top n).

    Args:
        scores: floating array ``[..., list_size]``; an item scored ``-inf`` is not retrieved.
        labels: real array of the same shape; relevant means ``>= 1``.
        topn: optional Python int >= 1: MRR@n.
        item_mask: optional boolean array; ``False`` marks padding.
        reduction: ``"mean"`` (default) over lists, ``"sum"`` or ``"none"``.
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced metric, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> ranking.mrr_metric(jnp.array([2.0, 1.0, 3.0]), jnp.array([0.0, 1.0, 0.0]))
        Array(0.33333334, dtype=float32)

    References:
        Voorhees, "The TREC-8 Question Answering Track Report", TREC 1999.
    """
    _checks.check_reduction(reduction)
    lists, ranks, retrieved = _metric_lists(scores, labels, item_mask, None, where, topn)
    values = _reciprocal_rank(lists, ranks, retrieved)
    return _reduce(values, lists, reduction, weights, axis_name)


def precision_metric(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    topn: int | None = None,
    item_mask: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Precision at n (rax ``precision_metric``): the relevant fraction of the retrieved items.

    .. math::

        \mathrm{P@n}(s, y) = \frac{\#\{i: y_i \ge 1,\ r_i \le n\}}{\#\{i: r_i \le n\}}

    (the denominator counts the valid retrieved items, 1 if none).

    Args:
        scores: floating array ``[..., list_size]``; an item scored ``-inf`` is not retrieved.
        labels: real array of the same shape; relevant means ``>= 1``.
        topn: optional Python int >= 1 (None: the whole list).
        item_mask: optional boolean array; ``False`` marks padding.
        reduction: ``"mean"`` (default) over lists, ``"sum"`` or ``"none"``.
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced metric, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([2.0, 1.0, 3.0]), jnp.array([0.0, 1.0, 1.0])
        >>> ranking.precision_metric(s, y, topn=2)
        Array(0.5, dtype=float32)

    References:
        Manning, Raghavan and Schütze, "Introduction to Information Retrieval", 2008, ch. 8.
    """
    _checks.check_reduction(reduction)
    lists, _, retrieved = _metric_lists(scores, labels, item_mask, None, where, topn)
    hits = jnp.sum(retrieved * _relevant(lists), axis=-1)
    count = jnp.sum(retrieved, axis=-1)
    values = hits / jnp.where(count == 0, 1.0, count)
    return _reduce(values, lists, reduction, weights, axis_name)


def recall_metric(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    topn: int | None = None,
    item_mask: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Recall at n (rax ``recall_metric``): the retrieved fraction of the relevant items.

    .. math::

        \mathrm{R@n}(s, y) = \frac{\#\{i: y_i \ge 1,\ r_i \le n\}}{\#\{i: y_i \ge 1\}}

    (0 for a list without a relevant item).

    Args:
        scores: floating array ``[..., list_size]``; an item scored ``-inf`` is not retrieved.
        labels: real array of the same shape; relevant means ``>= 1``.
        topn: optional Python int >= 1 (None: the whole list).
        item_mask: optional boolean array; ``False`` marks padding.
        reduction: ``"mean"`` (default) over lists, ``"sum"`` or ``"none"``.
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced metric, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([2.0, 1.0, 3.0]), jnp.array([0.0, 1.0, 1.0])
        >>> ranking.recall_metric(s, y, topn=2)
        Array(0.5, dtype=float32)

    References:
        Manning, Raghavan and Schütze, "Introduction to Information Retrieval", 2008, ch. 8.
    """
    _checks.check_reduction(reduction)
    lists, _, retrieved = _metric_lists(scores, labels, item_mask, None, where, topn)
    relevant = _relevant(lists)
    hits = jnp.sum(retrieved * relevant, axis=-1)
    count = jnp.sum(relevant, axis=-1)
    values = hits / jnp.where(count == 0, 1.0, count)
    return _reduce(values, lists, reduction, weights, axis_name)


def ap_metric(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    topn: int | None = None,
    item_mask: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Average precision (rax ``ap_metric``); the mean over lists is MAP.

    .. math::

        \mathrm{AP@n}(s, y) = \frac{1}{\#\{i: y_i \ge 1\}}
            \sum_{i: y_i \ge 1,\ r_i \le n} \mathrm{P@}r_i(s, y)

    (0 for a list without a relevant item).

    Args:
        scores: floating array ``[..., list_size]``; an item scored ``-inf`` is not retrieved.
        labels: real array of the same shape; relevant means ``>= 1``.
        topn: optional Python int >= 1 (None: the whole list).
        item_mask: optional boolean array; ``False`` marks padding.
        reduction: ``"mean"`` (default) over lists, ``"sum"`` or ``"none"``.
        weights: optional per-list weights.
        where: optional boolean per-list mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced metric, or one value per list.

    Example:
        >>> import jax.numpy as jnp
        >>> from lossjax import ranking
        >>> s, y = jnp.array([2.0, 1.0, 3.0]), jnp.array([0.0, 1.0, 1.0])
        >>> ranking.ap_metric(s, y)
        Array(0.8333334, dtype=float32)

    References:
        Manning, Raghavan and Schütze, "Introduction to Information Retrieval", 2008, ch. 8.
    """
    _checks.check_reduction(reduction)
    lists, ranks, retrieved = _metric_lists(scores, labels, item_mask, None, where, topn)
    relevant = _relevant(lists)
    # precision at the rank of each relevant item i: relevant items ranked at or above it
    above = (ranks[..., None, :] <= ranks[..., :, None]).astype(ranks.dtype)
    precision = jnp.sum(above * relevant[..., None, :], axis=-1) / ranks
    total = jnp.sum(precision * relevant * retrieved, axis=-1)
    count = jnp.sum(relevant, axis=-1)
    values = total / jnp.where(count == 0, 1.0, count)
    return _reduce(values, lists, reduction, weights, axis_name)
