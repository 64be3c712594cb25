"""Metric learning: triplets given or mined in the batch, and PyTorch's pairwise embedding losses.

Numerics choices:

* **Distances at a common scale.** A triplet loss compares two distances,
  :math:`m + d_{ap} - d_{an}`. Both can be beyond float32 (``[3e38, 3e38]``
  is :math:`4.2 \\cdot 10^{38}` from the origin) while their difference is
  small, and ``inf - inf`` is NaN. Each anchor's half-differences
  :math:`(x_a - x_j)/2` (which cannot overflow) are therefore divided by one
  power of two :math:`2^e` about their largest entry (an exact scaling, held
  constant for differentiation), the distances are compared in those units,
  and only the final margin term is multiplied back by :math:`2^{e+1}`. The
  result is inf only where the exact loss is beyond float32.
* **Derivatives in true units.** The scaled distances are held constant for
  differentiation; the derivative of each distance enters through
  ``_distance_slopes``, a zero whose derivative is that of the true distance
  (a unit vector for the Euclidean norm, computed from the scaled difference).
  Differentiating ``2**e * ||u||`` directly would meet ``2**127 / ||u||``
  before the factor ``2**-e`` cancels it, and overflow to inf or NaN where the
  gradient is a unit vector. Second derivatives follow from the rule.
* **Means of values beyond float32.** Per-anchor values of
  ``batch_triplet_loss`` can exceed float32 while their mean does not; the
  values are reduced in units of a power of two ``2**k`` (``k = 0`` unless
  some value is near the float32 limit) and the mean is scaled back.
* **Norms at zero.** :math:`\\lVert x \\rVert` has no derivative at 0 and autodiff
  through ``sqrt`` gives ``0 * inf = nan`` there. Square roots and powers are
  evaluated with a double ``where`` (the unused branch sees 1), so the gradient
  at identical embeddings is exactly 0, never NaN.
* **Cosines** divide by a norm computed after an exact power-of-two scaling,
  floored at :math:`\\sqrt{\\text{tiny}}` of the input dtype; the zero vector
  maps to itself (cosine 0), and the cosine of any two vectors does not depend
  on their scale.
* **Memory.** ``batch_triplet_loss`` forms the differences of every anchor to
  every candidate, ``[N, M, D]`` (exact; the expansion
  :math:`\\lVert a \\rVert^2 - 2 a \\cdot b + \\lVert b \\rVert^2` cancels for
  close pairs), and ``mining="batch_all"`` and ``"semi_hard"`` compare
  ``[N, M, M]`` distance pairs.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import (
    AxisName,
    Reduction,
    gather_batch,
    mask_inputs,
    prepare_where,
    reduce_loss,
)
from lossjax._registry import (
    Recommendation,
    choice,
    flag,
    real,
    register,
)

_HIGHEST = jax.lax.Precision.HIGHEST
MININGS = ("batch_hard", "batch_all", "semi_hard")
DISTANCES = ("euclidean", "squared_euclidean", "cosine")


# ------------------------------------------------------------------------ shared numerics


def _power_of_two_scale(x: jax.Array, axis: Any) -> tuple[jax.Array, jax.Array]:
    """``(2**-e, 2**e)`` with ``2**e`` just above ``max |x|`` over ``axis`` (kept dims).

    Held constant for differentiation (results do not depend on it) and kept
    within the normal range, so that both powers are normal numbers; the zero
    array gets ``e = 0``.
    """
    exponent = _numerics.power_of_two_exponent(
        jnp.max(jnp.abs(x), axis=axis, keepdims=True, initial=0.0)
    )
    one = jnp.ones((), x.dtype)
    return jnp.ldexp(one, -exponent), jnp.ldexp(one, exponent)


def _p_norm(u: jax.Array, p: jax.Array | float) -> jax.Array:
    """``(sum_k |u_k|**p)**(1/p)`` over the last axis of a scaled ``u`` (entries <= 4)."""
    if _checks.is_static(p) and float(p) == 2.0:
        return _numerics.safe_sqrt(jnp.sum(jnp.square(u), axis=-1))
    return _numerics.safe_power(jnp.sum(_numerics.safe_power(jnp.abs(u), p), axis=-1), 1.0 / p)


def _distance_gradient(halves: jax.Array, p: Any) -> tuple[float, jax.Array]:
    """Derivative of the distance ``2 ||halves||_p`` in ``halves``, as ``(factor, direction)``.

    For a p-norm the direction is computed from the difference scaled by a
    power of two, so it is bounded (the factor is 2) whatever the size of
    ``halves``, and 0 at ``halves = 0``. For ``p="squared"`` (``4 ||halves||^2``)
    it is ``halves`` with factor 8: the factor stays apart so that a zero
    cotangent never meets ``8 * halves`` beyond float32 (``0 * inf``).
    """
    if isinstance(p, str):
        return 8.0, halves
    inverse, _ = _power_of_two_scale(halves, -1)
    u = halves * inverse
    norm = _p_norm(u, p)[..., None]
    nonzero = norm > 0
    safe = jnp.where(nonzero, norm, jnp.ones_like(norm))
    if _checks.is_static(p) and float(p) == 2.0:
        direction = u / safe
    else:
        direction = jnp.sign(u) * _numerics.safe_power(jnp.abs(u) / safe, p - 1.0)
    return 2.0, jnp.where(nonzero, direction, 0.0)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _distance_slopes(halves: jax.Array, p: Any, static_p: Any) -> jax.Array:
    """Zeros ``halves.shape[:-1]`` whose derivative is that of the distances ``2 ||halves||_p``.

    A loss adds these to distances compared at a common scale and held
    constant (see the module docstring): the value is unchanged and the
    derivative is the true one, never scaled up and down. ``static_p`` is
    ``p`` when it is a Python number, ``"squared"`` for the squared Euclidean
    distance, or None for a traced ``p`` (whose own derivative enters through
    the held distances).
    """
    # (zeros_like keeps the input's device-varying type under jax.shard_map.)
    return jnp.zeros_like(halves[..., 0])


@_distance_slopes.defjvp
def _distance_slopes_jvp(
    static_p: Any, primals: tuple[jax.Array, Any], tangents: tuple[jax.Array, Any]
) -> tuple[jax.Array, jax.Array]:
    halves, p = primals
    factor, direction = _distance_gradient(halves, p if static_p is None else static_p)
    slopes = factor * jnp.sum(direction * tangents[0], axis=-1)
    return _distance_slopes(halves, p, static_p), slopes


def _check_features(name: str, x: jax.Array) -> None:
    if x.ndim < 1:
        raise ValueError(
            f"lossjax: `{name}` must have rank >= 1 (the last axis holds the features), "
            f"got shape {tuple(x.shape)}."
        )


def _check_per_pair(name: str, x: jax.Array, reference: str, shape: tuple[int, ...]) -> None:
    if tuple(x.shape) != tuple(shape[:-1]):
        raise ValueError(
            f"lossjax: `{name}` must have the per-pair shape (that of `{reference}` without its "
            f"last axis), got {name}.shape={tuple(x.shape)} and {reference}.shape={tuple(shape)} "
            f"(expected {tuple(shape[:-1])})."
        )


# --------------------------------------------------------------------- triplets given


@register(
    task="embedding",
    input_kind="embeddings",
    summary="max(0, m + d(a, p) - d(a, n)) for given (anchor, positive, negative) triplets.",
    aliases=("triplet", "triplet_margin"),
    margin_based=True,
    hyperparameters=(
        real("margin", "how much closer the positive must be than the negative", lower=0.0),
        real("p", "degree of the p-norm distance", lower=0.0, lower_open=True),
        real("epsilon", "added to each coordinate difference (PyTorch)", lower=0.0),
        flag("swap", "use d(p, n) when it is smaller than d(a, n) (distance swap)"),
    ),
    recommendations=(
        Recommendation(
            "triplets are given (anchor, positive, negative): PyTorch's TripletMarginLoss",
            {"margin": 1.0},
        ),
    ),
)
def triplet_margin_loss(
    anchors: ArrayLike,
    positives: ArrayLike,
    negatives: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    p: ArrayLike = 2.0,
    epsilon: ArrayLike = 1e-6,
    swap: bool = False,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Triplet margin loss of given triplets (PyTorch ``TripletMarginLoss``), one value per triplet.

    With the p-norm distance :math:`d(x, y) = \lVert x - y + \epsilon \rVert_p`
    over the last axis (:math:`\epsilon` added to every coordinate):

    .. math::

        l = \max\big(0,\; m + d(a, p) - d(a, n)\big)

    and with ``swap=True`` (Balntas et al.'s distance swap) :math:`d(a, n)` is
    replaced by :math:`\min(d(a, n), d(p, n))`.

    This is PyTorch's ``torch.nn.functional.triplet_margin_loss`` (same
    arguments and defaults; ``p`` may be any positive real). optax's
    ``triplet_margin_loss`` puts its ``eps`` under the root instead,
    :math:`(\sum_k (a_k - p_k)^{p} + \epsilon)^{1/p}`, and does not take the
    absolute value (so it is a norm for even ``p`` only); with
    ``epsilon=0`` and ``eps=0`` both agree for even ``p``:
    ``optax.losses.triplet_margin_loss(a, p, n, eps=0) ==
    lossjax.triplet_margin_loss(a, p, n, epsilon=0, reduction="none")``.
    The defaults differ by :math:`O(\epsilon)`.

    The gradient at :math:`a - p + \epsilon = 0` (the norm at 0) is 0, never
    NaN, also with ``epsilon=0``. Distances are compared at a common scale
    (see the module docstring), so the loss of embeddings near the float32
    limit is finite whenever the exact loss is.

    Args:
        anchors: ``[..., D]`` floating anchor embeddings.
        positives: ``[..., D]`` floating embeddings of the same identity.
        negatives: ``[..., D]`` floating embeddings of another identity.
        margin: non-negative margin :math:`m` (a number or a traced scalar).
        p: degree of the norm, :math:`p > 0` (default 2, the Euclidean distance).
        epsilon: non-negative :math:`\epsilon` added to each coordinate
            difference (default ``1e-6``, PyTorch's).
        swap: use :math:`\min(d(a, n), d(p, n))` as the negative distance.
        reduction: ``"mean"`` (default), ``"sum"``, ``"none"`` (``[...]``) or
            ``"count"``.
        weights: optional per-triplet weights, a scalar or of the per-triplet shape.
        where: optional boolean per-triplet mask; ``False`` triplets contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-triplet values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> a = jnp.array([[0.0, 0.0], [0.0, 0.0]])
        >>> p = jnp.array([[3.0, 4.0], [0.0, 1.0]])
        >>> n = jnp.array([[0.0, 5.5], [6.0, 8.0]])
        >>> lossjax.triplet_margin_loss(a, p, n, epsilon=0.0, reduction="none")
        Array([0.5, 0. ], dtype=float32)

    References:
        Schroff, Kalenichenko & Philbin, "FaceNet: A Unified Embedding for Face
        Recognition and Clustering", CVPR 2015 (https://arxiv.org/abs/1503.03832);
        Balntas, Riba, Ponsa & Mikolajczyk, "Learning local feature descriptors
        with triplets and shallow convolutional neural networks", BMVC 2016.
    """
    _checks.check_reduction(reduction)
    names = ("anchors", "positives", "negatives")
    arrays = [
        _checks.check_floating(n, x)
        for n, x in zip(names, (anchors, positives, negatives), strict=True)
    ]
    _checks.check_same_shape("anchors", arrays[0], "positives", arrays[1])
    _checks.check_same_shape("anchors", arrays[0], "negatives", arrays[2])
    _check_features("anchors", arrays[0])
    dtype = _checks.compute_dtype(*arrays)
    shape = tuple(arrays[0].shape[:-1])
    where = prepare_where(where, shape)
    a, pos, neg = (mask_inputs(where, x.astype(dtype), 0.0, axis=-1) for x in arrays)
    margin = _checks.hyperparameter(margin, dtype)
    # A Python number keeps the fast Euclidean path; a traced p stays differentiable.
    degree = float(np.asarray(p)) if _checks.is_static(p) else _checks.hyperparameter(p, dtype)
    half_epsilon = 0.5 * _checks.hyperparameter(epsilon, dtype)

    # Half-differences cannot overflow: d(x, y) = 2 ||(x - y)/2 + epsilon/2||.
    halves = [0.5 * a - 0.5 * pos + half_epsilon, 0.5 * a - 0.5 * neg + half_epsilon]
    if swap:
        halves.append(0.5 * pos - 0.5 * neg + half_epsilon)
    stacked = jnp.stack(halves)
    held = jax.lax.stop_gradient(stacked)
    inverse, scale = _power_of_two_scale(held, (0, stacked.ndim - 1))
    norms = _p_norm(held * inverse, degree)  # [2 or 3, ...], in units of 2**e
    slopes = _distance_slopes(stacked, degree, degree if isinstance(degree, float) else None)
    if swap:  # the smaller of d(a, n) and d(p, n), in value and derivative
        swapped = jax.lax.stop_gradient(norms[2] < norms[1])
        norms = jnp.stack([norms[0], jnp.where(swapped, norms[2], norms[1])])
        slopes = jnp.stack([slopes[0], jnp.where(swapped, slopes[2], slopes[1])])
    gap = (2.0 * scale[0, ..., 0]) * (norms[0] - norms[1]) + (slopes[0] - slopes[1])
    values = jnp.maximum(margin + gap, 0.0)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# ------------------------------------------------------------------ triplets mined in a batch


def _batch_distances(
    anchors: jax.Array, candidates: jax.Array, distance: str, floor: float
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """Distances ``[N, M]`` of each anchor to each candidate, in three parts.

    ``(held, exponents, slopes)``: the distance of anchor ``i`` to candidate
    ``j`` is ``held[i, j] * 2**exponents[i]``, with ``held`` at a per-anchor
    scale (constant for differentiation) and ``slopes`` (zeros) carrying the
    derivative (see the module docstring). The cosine distance is bounded and
    needs neither: it is differentiated directly, with exponents 0.
    """
    if distance == "cosine":
        cosines = jnp.matmul(
            _numerics.safe_normalize(anchors, floor),
            _numerics.safe_normalize(candidates, floor).T,
            precision=_HIGHEST,
        )
        return 1.0 - cosines, jnp.zeros(anchors.shape[:1], jnp.int32), None
    halves = 0.5 * anchors[:, None, :] - 0.5 * candidates[None, :, :]
    held = jax.lax.stop_gradient(halves)
    inverse, scale = _power_of_two_scale(held, (1, 2))
    squared = jnp.sum(jnp.square(held * inverse), axis=-1)
    # d = 2 ||halves|| = 2**(e + 1) ||u|| with scale = 2**e, and frexp(2**e) = (1/2, e + 1).
    exponents = jnp.frexp(scale[:, 0, 0])[1]
    if distance == "euclidean":
        return _numerics.safe_sqrt(squared), exponents, _distance_slopes(halves, 2.0, 2.0)
    return squared, 2 * exponents, _distance_slopes(halves, 2.0, "squared")


def _gather(x: jax.Array, index: jax.Array) -> jax.Array:
    """``x[i, index[i, ...]]``: the entries of each anchor's row at ``index``."""
    shape = index.shape
    flat = jnp.take_along_axis(x, index.reshape(shape[0], -1), axis=1)
    return flat.reshape(shape)


@register(
    task="embedding",
    input_kind="embeddings",
    summary="Triplet loss over triplets mined in the batch from class labels (batch-hard, ...).",
    aliases=("batch_triplet", "triplet_mining", "online_triplet"),
    presets={
        "batch_hard": {"mining": "batch_hard"},
        "batch_all": {"mining": "batch_all"},
        "semi_hard": {"mining": "semi_hard"},
        "semihard": {"mining": "semi_hard"},
    },
    margin_based=True,
    hyperparameters=(
        real("margin", "how much closer positives must be than negatives", lower=0.0),
        choice("mining", "which triplets of the batch enter the loss", MININGS),
        choice("distance", "distance between embeddings", DISTANCES),
    ),
    recommendations=(
        Recommendation(
            "class-labelled embeddings (face or person re-identification) in P x K batches: "
            "hardest positive and negative of each anchor (Hermans et al.)",
            {"mining": "batch_hard", "margin": 0.3},
        ),
        Recommendation(
            "class-labelled embeddings: FaceNet's semi-hard negatives, gentler early in training",
            {"mining": "semi_hard", "margin": 0.2},
        ),
    ),
)
def batch_triplet_loss(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    mining: str = "batch_hard",
    distance: str = "euclidean",
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Triplet loss with the triplets mined inside the batch, one value per anchor.

    Every example is an anchor :math:`a`; its positives :math:`P(a)` are the
    other examples with its label, its negatives :math:`N(a)` those with
    another label. With :math:`t(a, p, n) = m + d(a, p) - d(a, n)` and
    :math:`[x]_+ = \max(0, x)`:

    .. math::

        \text{batch\_hard:}\quad & l_a = \big[m + \max_{p \in P(a)} d(a, p)
            - \min_{n \in N(a)} d(a, n)\big]_+ \\
        \text{batch\_all:}\quad & l_a = \frac{\sum_{p, n} [t(a, p, n)]_+}
            {\lvert \{(p, n) : t(a, p, n) > 0\} \rvert} \\
        \text{semi\_hard:}\quad & l_a = \frac{1}{\lvert P(a) \rvert} \sum_{p \in P(a)}
            \big[m + d(a, p) - d(a, n^*_{ap})\big]_+

    * ``"batch_hard"`` (Hermans et al. 2017): the hardest positive and the
      hardest negative of each anchor.
    * ``"batch_all"``: the mean over the anchor's triplets with a positive
      loss (0 when it has none). The easy triplets would otherwise dilute the
      mean.
    * ``"semi_hard"`` (Schroff et al. 2015): for each positive pair, the
      closest negative that is farther than the positive,
      :math:`n^*_{ap} = \arg\min \{d(a, n) : d(a, n) > d(a, p)\}`; if no
      negative is farther, the farthest negative (TensorFlow Addons'
      ``triplet_semihard_loss`` rule). The anchor's value is the mean over its
      positive pairs.

    ``distance``: ``"euclidean"`` :math:`\lVert x - y \rVert_2` (default),
    ``"squared_euclidean"`` or ``"cosine"``, :math:`1 - \cos(x, y)`. The
    Euclidean distance of identical embeddings has gradient 0, not NaN.
    Distances are compared at a common scale (see the module docstring), so
    the loss is finite wherever the exact one fits in float32 (for squared
    distances, embeddings beyond about :math:`10^{19}` are beyond it). A tie
    for the hardest candidate goes to the lowest index, which takes the
    gradient. Memory: ``[N, M, D]`` differences to the ``M`` candidates, and
    ``[N, M, M]`` comparisons for ``"batch_all"`` and ``"semi_hard"``.

    **Anchors without a positive or without a negative** (a label that occurs
    once, a batch of one class) have no triplet: they contribute nothing,
    like a masked example. Their value is 0 and they are left out of the
    mean's denominator (``reduction="count"`` counts the anchors that have
    triplets). ``where=False`` removes an example entirely: it is neither an
    anchor nor anybody's positive or negative, and NaN in it leaks nothing.
    ``weights`` weigh the anchors only.

    Conventions of other libraries: TensorFlow Addons' ``triplet_semihard_loss``
    (``distance_metric`` ``"L2"``, ``"squared-L2"``, ``"angular"`` are our three
    distances) and the batch-all of Hermans et al. average over all positive
    *pairs* or all positive *triplets* of the batch rather than over anchors.
    That is the same mean when every anchor has as many positive pairs (as in
    the usual P x K sampling, for ``"semi_hard"``); in general pass
    ``weights`` equal to each anchor's number of pairs (or of positive
    triplets) to recover it.

    Distributed (``axis_name``, the batch split over devices inside
    ``jax.shard_map``): the embeddings, labels and ``where`` are all-gathered,
    so the positives and negatives of each local anchor are those of the
    *global* batch, each device keeps its own anchors, and the mean is the
    exact global one: value and gradient equal those of the single-device
    loss on the concatenated batch.

    Args:
        embeddings: ``[N, D]`` floating embeddings.
        labels: ``[N]`` integer (or bool) class labels; equal labels are positives.
        margin: non-negative margin :math:`m` (a number or a traced scalar).
        mining: ``"batch_hard"`` (default), ``"batch_all"`` or ``"semi_hard"``.
        distance: ``"euclidean"`` (default), ``"squared_euclidean"`` or ``"cosine"``.
        reduction: ``"mean"`` (default), ``"sum"``, ``"none"`` (``[N]``) or ``"count"``.
        weights: optional per-anchor weights, a scalar or ``[N]``.
        where: optional boolean ``[N]`` mask; ``False`` removes an example.
        axis_name: mapped axis name (or tuple of names) over which the batch is
            split: global candidates and the global mean.

    Returns:
        The reduced loss (float32 at least), or the ``[N]`` per-anchor values
        (the local ones under ``axis_name``).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> x = jnp.array([[0.0, 0.0], [0.0, 1.0], [0.0, 1.5], [0.0, 3.0]])
        >>> y = jnp.array([0, 0, 1, 1])
        >>> lossjax.batch_triplet_loss(x, y, reduction="none")
        Array([0.5, 1.5, 2. , 0.5], dtype=float32)

    References:
        Hermans, Beyer & Leibe, "In Defense of the Triplet Loss for Person
        Re-Identification", 2017 (https://arxiv.org/abs/1703.07737);
        Schroff, Kalenichenko & Philbin, "FaceNet: A Unified Embedding for Face
        Recognition and Clustering", CVPR 2015 (https://arxiv.org/abs/1503.03832).
    """
    _checks.check_reduction(reduction)
    _checks.check_axis_name(axis_name)  # before the all-gathers name it
    embeddings = _checks.check_floating("embeddings", embeddings)
    labels = _checks.check_real("labels", labels)
    if not (jnp.issubdtype(labels.dtype, jnp.integer) or labels.dtype == jnp.bool_):
        raise TypeError(
            "lossjax: `labels` must be an integer (or bool) array of class labels, got "
            f"{labels.dtype}{list(labels.shape)}."
        )
    _checks.check_rank("embeddings", embeddings, 2)
    if tuple(labels.shape) != tuple(embeddings.shape[:1]):
        raise ValueError(
            "lossjax: `labels` must have one label per embedding, shape "
            f"{tuple(embeddings.shape[:1])}; got labels.shape={tuple(labels.shape)} and "
            f"embeddings.shape={tuple(embeddings.shape)}."
        )
    input_dtype = embeddings.dtype
    dtype = _checks.compute_dtype(embeddings)
    local = embeddings.shape[0]
    where = prepare_where(where, (local,))
    x = mask_inputs(where, embeddings.astype(dtype), 0.0, axis=1)
    labels = labels.astype(jnp.int32)
    margin = _checks.hyperparameter(margin, dtype)

    candidates = gather_batch(x, axis_name)
    candidate_labels = gather_batch(labels, axis_name)
    if where is None:
        kept = jnp.ones(candidates.shape[:1], bool)
    else:  # all_gather of a bool array is not supported everywhere; gather it as int8.
        kept = gather_batch(where.astype(jnp.int8), axis_name) > 0
    offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * local
    same = labels[:, None] == candidate_labels[None, :]
    itself = (offset + jnp.arange(local))[:, None] == jnp.arange(candidates.shape[0])[None, :]
    positive = same & ~itself & kept[None, :]
    negative = ~same & kept[None, :]
    valid = jnp.any(positive, axis=1) & jnp.any(negative, axis=1)

    held, exponents, slopes = _batch_distances(
        x, candidates, distance, _numerics.norm_floor(input_dtype)
    )
    order = jax.lax.stop_gradient(held)  # the mining compares distances at the anchor's scale
    # Values are formed in units of 2**shift, with the power of two chosen so that no
    # per-anchor value, nor a sum of up to M * M terms, overflows (0 unless some value
    # is near the float32 limit). At most 2**126, so that 2**-shift and 2**shift stay
    # normal: squared distances can be beyond float32 by far, and then so is the loss.
    limit = jnp.finfo(dtype).maxexp - 2
    largest = jnp.frexp(jnp.max(order, axis=1, initial=0.0))[1] + exponents
    headroom = 2 + math.ceil(math.log2(max(candidates.shape[0], 1) ** 2 + 1))
    shift = jnp.max(largest, initial=0) + headroom - limit
    shift = jax.lax.stop_gradient(jnp.clip(shift, 0, limit))
    if axis_name is not None:
        shift = jax.lax.pmax(shift, axis_name)

    # (Powers of two multiply: jnp.ldexp's derivative at 0 is 1, not the power.)
    unit = jnp.ldexp(jnp.ones((), dtype), -shift)

    def terms(p_index: jax.Array, n_index: jax.Array) -> jax.Array:
        """``[m + d(a, p) - d(a, n)]_+ / 2**shift`` for candidate indices of each anchor."""
        gap = _gather(held, p_index) - _gather(held, n_index)
        if slopes is None:  # cosine: differentiated directly, exponents 0
            gap = gap * unit
        else:  # held distances, and the derivative through the slopes
            expand = (-1,) + (1,) * (p_index.ndim - 1)
            gap = jnp.ldexp(gap, (exponents - shift).reshape(expand))
            gap = gap + (_gather(slopes, p_index) - _gather(slopes, n_index)) * unit
        return jnp.maximum(margin * unit + gap, 0.0)

    rows, columns = order.shape
    if columns == 0:  # an empty batch: no anchor, no triplet
        values = jnp.zeros((rows,), dtype)
    elif mining == "batch_hard":
        hardest_positive = jnp.argmax(jnp.where(positive, order, -jnp.inf), axis=1)
        hardest_negative = jnp.argmin(jnp.where(negative, order, jnp.inf), axis=1)
        values = terms(hardest_positive[:, None], hardest_negative[:, None])[:, 0]
    elif mining == "batch_all":
        each = jnp.arange(columns)
        triplets = terms(  # [anchor, positive, negative]
            jnp.broadcast_to(each[None, :, None], (rows, columns, columns)),
            jnp.broadcast_to(each[None, None, :], (rows, columns, columns)),
        )
        active = positive[:, :, None] & negative[:, None, :] & (triplets > 0)
        total = jnp.sum(jnp.where(active, triplets, 0.0), axis=(1, 2))
        values = _numerics.safe_divide(total, jnp.sum(active, axis=(1, 2), dtype=dtype))
    else:  # semi_hard
        # farther[a, p, n]: negative n is farther from a than positive p.
        farther = negative[:, None, :] & (order[:, None, :] > order[:, :, None])
        closest_farther = jnp.argmin(jnp.where(farther, order[:, None, :], jnp.inf), axis=2)
        farthest = jnp.argmax(jnp.where(negative, order, -jnp.inf), axis=1)
        chosen = jnp.where(jnp.any(farther, axis=2), closest_farther, farthest[:, None])
        each = jnp.broadcast_to(jnp.arange(columns)[None, :], (rows, columns))
        pairs = jnp.where(positive, terms(each, chosen), 0.0)  # [anchor, positive]
        values = _numerics.safe_divide(
            jnp.sum(pairs, axis=1), jnp.sum(positive, axis=1, dtype=dtype)
        )
    keep = valid if where is None else valid & where
    back = jnp.ldexp(jnp.ones((), dtype), shift)  # 2**shift, finite
    if reduction == "none":  # each anchor's value (inf where it is beyond float32)
        values = values * back
    reduced = reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )
    return reduced if reduction in ("none", "count") else reduced * back


# -------------------------------------------------------------- PyTorch's pairwise losses


@register(
    task="embedding",
    input_kind="embeddings",
    summary="1 - cos for similar pairs, max(0, cos - m) for dissimilar ones (PyTorch).",
    aliases=("cosine_embedding",),
    margin_based=True,
    hyperparameters=(
        real("margin", "cosine below which dissimilar pairs cost nothing", lower=-1.0, upper=1.0),
    ),
    recommendations=(
        Recommendation(
            "labelled similar/dissimilar pairs compared by angle (PyTorch's CosineEmbeddingLoss)",
            {"margin": 0.0},
        ),
    ),
)
def cosine_embedding_loss(
    embeddings_a: ArrayLike,
    embeddings_b: ArrayLike,
    similar: ArrayLike,
    *,
    margin: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Cosine embedding loss of PyTorch's ``CosineEmbeddingLoss``, one value per pair.

    With :math:`c = \cos(a, b)` over the last axis and :math:`y = +1` for a
    similar pair, :math:`-1` for a dissimilar one:

    .. math::

        l = \begin{cases} 1 - c & y = 1 \\ \max(0,\; c - m) & y = -1 \end{cases}

    ``similar`` may hold PyTorch's :math:`\pm 1`, or 1/0, or booleans: every
    value :math:`> 0` marks a similar pair and every other value a dissimilar
    one (PyTorch gives 0 for a label 0; convert its labels as they are). The
    cosine of a zero vector is 0, as in PyTorch. PyTorch adds :math:`10^{-12}`
    to each squared norm, which shrinks the cosine of vectors of norm below
    about :math:`10^{-6}`; here the cosine does not depend on the scale of the
    vectors (down to about :math:`10^{-19}` in float32), and it stays exact for
    entries near the float32 limit.

    Args:
        embeddings_a: ``[..., D]`` floating embeddings.
        embeddings_b: ``[..., D]`` floating embeddings, the same shape.
        similar: ``[...]`` per-pair labels, the shape of ``embeddings_a`` without
            its last axis: :math:`> 0` similar, otherwise dissimilar.
        margin: :math:`m \in [-1, 1]` (default 0; PyTorch suggests 0 to 0.5).
        reduction: ``"mean"`` (default), ``"sum"``, ``"none"`` (``[...]``) or ``"count"``.
        weights: optional per-pair weights, a scalar or of the per-pair shape.
        where: optional boolean per-pair mask; ``False`` pairs contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-pair values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> a = jnp.array([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
        >>> b = jnp.array([[0.0, 2.0], [3.0, 0.0], [1.0, 0.0]])
        >>> lossjax.cosine_embedding_loss(a, b, jnp.array([1, -1, -1]), reduction="none")
        Array([1.        , 1.        , 0.70710677], dtype=float32)

    References:
        PyTorch ``torch.nn.CosineEmbeddingLoss``; Hadsell, Chopra & LeCun,
        "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006.
    """
    _checks.check_reduction(reduction)
    a = _checks.check_floating("embeddings_a", embeddings_a)
    b = _checks.check_floating("embeddings_b", embeddings_b)
    _checks.check_same_shape("embeddings_a", a, "embeddings_b", b)
    _check_features("embeddings_a", a)
    shape = tuple(a.shape[:-1])
    similar = _checks.check_real("similar", similar)
    _check_per_pair("similar", similar, "embeddings_a", tuple(a.shape))
    floor_a, floor_b = _numerics.norm_floor(a.dtype), _numerics.norm_floor(b.dtype)
    dtype = _checks.compute_dtype(a, b)
    where = prepare_where(where, shape)
    a = mask_inputs(where, a.astype(dtype), 0.0, axis=-1)
    b = mask_inputs(where, b.astype(dtype), 0.0, axis=-1)
    signs = _numerics.label_signs(mask_inputs(where, similar, 1), dtype)
    margin = _checks.hyperparameter(margin, dtype)

    cosines = jnp.sum(
        _numerics.safe_normalize(a, floor_a) * _numerics.safe_normalize(b, floor_b), axis=-1
    )
    values = jnp.where(signs > 0, 1.0 - cosines, jnp.maximum(cosines - margin, 0.0))
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="embedding",
    input_kind="scores",
    summary="max(0, m - y (x1 - x2)): x1 ranks above x2 for y = 1, below for y = -1 (PyTorch).",
    aliases=("margin_ranking",),
    margin_based=True,
    hyperparameters=(real("margin", "required score difference", lower=0.0),),
    recommendations=(
        Recommendation(
            "pairs of scores with a preferred member (PyTorch's MarginRankingLoss)",
            {"margin": 0.0},
        ),
    ),
)
def margin_ranking_loss(
    scores_1: ArrayLike,
    scores_2: ArrayLike,
    labels: ArrayLike,
    *,
    margin: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Margin ranking loss of PyTorch's ``MarginRankingLoss``, one value per pair of scores.

    .. math::

        l = \max\big(0,\; m - y\,(x_1 - x_2)\big)

    with :math:`y = +1` when :math:`x_1` should rank above :math:`x_2` and
    :math:`-1` when below. ``labels`` may hold :math:`\pm 1`, 1/0 or booleans:
    every value :math:`> 0` means "first above", every other value "second
    above" (PyTorch's label 0 gives :math:`\max(0, m)` instead). It equals
    :func:`lossjax.hinge_loss` of the score difference,
    ``hinge_loss(x1 - x2, y, margin=m)``.

    Args:
        scores_1: floating scores :math:`x_1`, any shape.
        scores_2: floating scores :math:`x_2`, the same shape.
        labels: :math:`y`, the same shape: :math:`> 0` when ``scores_1`` should rank higher.
        margin: non-negative margin :math:`m` (default 0).
        reduction: ``"mean"`` (default), ``"sum"``, ``"none"`` or ``"count"``.
        weights: optional per-pair weights, a scalar or of the shape of the scores.
        where: optional boolean per-pair mask; ``False`` pairs contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-pair values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> x1, x2 = jnp.array([2.0, 0.5, 1.0]), jnp.array([1.0, 1.0, 3.0])
        >>> lossjax.margin_ranking_loss(x1, x2, jnp.array([1, 1, -1]), margin=0.5,
        ...                             reduction="none")
        Array([0., 1., 0.], dtype=float32)

    References:
        PyTorch ``torch.nn.MarginRankingLoss``; Herbrich, Graepel & Obermayer,
        "Large Margin Rank Boundaries for Ordinal Regression", 2000.
    """
    _checks.check_reduction(reduction)
    x1 = _checks.check_floating("scores_1", scores_1)
    x2 = _checks.check_floating("scores_2", scores_2)
    _checks.check_same_shape("scores_1", x1, "scores_2", x2)
    labels = _checks.check_real("labels", labels)
    _checks.check_same_shape("scores_1", x1, "labels", labels)
    dtype = _checks.compute_dtype(x1, x2)
    where = prepare_where(where, tuple(x1.shape))
    x1 = mask_inputs(where, x1.astype(dtype), 0.0)
    x2 = mask_inputs(where, x2.astype(dtype), 0.0)
    signs = _numerics.label_signs(mask_inputs(where, labels, 1), dtype)
    margin = _checks.hyperparameter(margin, dtype)
    values = jnp.maximum(margin - signs * (x1 - x2), 0.0)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="embedding",
    input_kind="distances",
    summary="x for similar pairs, max(0, m - x) for dissimilar ones, of given distances (PyTorch).",
    aliases=("hinge_embedding",),
    margin_based=True,
    hyperparameters=(real("margin", "distance dissimilar pairs are pushed to", lower=0.0),),
    recommendations=(
        Recommendation(
            "distances of labelled similar/dissimilar pairs already computed "
            "(PyTorch's HingeEmbeddingLoss)",
            {"margin": 1.0},
        ),
    ),
)
def hinge_embedding_loss(
    distances: ArrayLike,
    labels: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Hinge embedding loss of PyTorch's ``HingeEmbeddingLoss``, one value per distance.

    .. math::

        l = \begin{cases} x & y = 1 \\ \max(0,\; m - x) & y = -1 \end{cases}

    for a distance :math:`x` (typically :math:`\lVert a - b \rVert_1` of a
    pair) and :math:`y = +1` for a similar pair. ``labels`` may hold
    :math:`\pm 1`, 1/0 or booleans: every value :math:`> 0` marks a similar
    pair and every other value a dissimilar one (PyTorch's label 0 gives
    :math:`x + \max(0, m - x)`). :func:`lossjax.contrastive_loss` is the
    squared relative that takes the embeddings themselves.

    Args:
        distances: floating distances :math:`x`, any shape.
        labels: :math:`y`, the same shape: :math:`> 0` similar, otherwise dissimilar.
        margin: non-negative margin :math:`m` (default 1).
        reduction: ``"mean"`` (default), ``"sum"``, ``"none"`` or ``"count"``.
        weights: optional per-pair weights, a scalar or of the shape of ``distances``.
        where: optional boolean per-pair mask; ``False`` pairs contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-pair values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> d = jnp.array([0.3, 0.3, 2.0])
        >>> lossjax.hinge_embedding_loss(d, jnp.array([1, -1, -1]), reduction="none")
        Array([0.3, 0.7, 0. ], dtype=float32)

    References:
        PyTorch ``torch.nn.HingeEmbeddingLoss``; Mobahi, Collobert & Weston,
        "Deep Learning from Temporal Coherence in Video", ICML 2009.
    """
    _checks.check_reduction(reduction)
    x = _checks.check_floating("distances", distances)
    labels = _checks.check_real("labels", labels)
    _checks.check_same_shape("distances", x, "labels", labels)
    dtype = _checks.compute_dtype(x)
    where = prepare_where(where, tuple(x.shape))
    x = mask_inputs(where, x.astype(dtype), 0.0)
    signs = _numerics.label_signs(mask_inputs(where, labels, 1), dtype)
    margin = _checks.hyperparameter(margin, dtype)
    values = jnp.where(signs > 0, x, jnp.maximum(margin - x, 0.0))
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
