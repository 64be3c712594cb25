"""Unsupervised and self-supervised losses: k-means, reconstruction, contrastive, InfoNCE.

Numerics choices:

* **k-means distances.** The expansion :math:`\\|x\\|^2 - 2x\\cdot c + \\|c\\|^2`
  is a matrix product and therefore fast, but it cancels catastrophically for
  points close to a centroid (and it can even come out negative). lossjax uses
  it, if at all, only to *choose* the nearest centroid: the returned value is
  always recomputed as :math:`\\sum_d (x_d - c_d)^2` from the difference to the
  chosen centroid, so it is exact to rounding, never negative, and its
  gradient is exactly the k-means gradient. For small problems
  (``N * K * D <= 2**22``) the choice itself uses the direct differences too;
  for larger ones it uses the expansion after subtracting the centroids' mean,
  so that the rounding error scales with the spread of the data rather than
  with its distance from the origin. A near-tie decided by rounding picks a
  centroid whose distance equals the minimum to within that rounding.
* **Norms at zero.** :math:`\\|a - b\\|` has no derivative at :math:`a = b`,
  and autodiff through ``sqrt`` gives ``0 * inf = nan`` there. The contrastive
  loss computes the distance with a safe square root (the unused branch of
  the ``where`` sees 1, not 0), so the gradient at :math:`a = b` is exactly 0
  for similar and dissimilar pairs. Cosine normalisation in InfoNCE divides by
  a norm computed after an exact scaling by the power of two of the largest
  entry (so it neither overflows nor underflows), floored at :math:`\\sqrt{\\text{tiny}}` of the input dtype
  (1e-19 in float32, 2**-7 in float16) so that its gradient, which grows like
  :math:`1/\\lVert x \\rVert`, stays finite, and maps the zero vector to itself.
* **Binary cross-entropy reconstruction** is the sigmoid cross-entropy of
  :func:`lossjax.binary_cross_entropy` (the shared formula, not the public
  function: one validation, one reduction), :math:`(1-y)\\,\\mathrm{softplus}(z) + y\\,\\mathrm{softplus}(-z)`:
  it equals :math:`\\mathrm{softplus}(z) - yz` but adds two non-negative terms
  instead of subtracting nearly equal ones (``softplus(20) - 20`` is 0 in
  float32; the true value is 2.1e-9).
* **InfoNCE** is evaluated as :math:`\\log(1 + \\sum_{j \\ne i} e^{l_{ij} - l_{ii}})`
  rather than :math:`\\mathrm{logsumexp}_j\\, l_{ij} - l_{ii}`: when the positive
  dominates, the loss is tiny and the difference would keep only a few ulp
  of :math:`l_{ii}` (relative error 0.1 at a loss of 1e-6 in float32).
* **Matrix products** (InfoNCE logits, the k-means expansion) are requested
  at ``Precision.HIGHEST``, so that TPUs and GPUs do not silently use bfloat16
  or TF32 passes for a loss.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import (
    AxisName,
    Reduction,
    gather_batch,
    mask_inputs,
    prepare_pair,
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
# Above this many elements of the [N, K, D] difference tensor, k-means assigns
# points with the (centred) matrix-product expansion instead.
_DIRECT_ASSIGNMENT_MAX_ELEMENTS = 2**22
_RECONSTRUCTION_KINDS = ("mse", "mae", "bce")


# --------------------------------------------------------------------------- k-means


@register(
    task="unsupervised",
    input_kind="points",
    summary="Squared distance of each point to its nearest centroid (k-means inertia).",
    aliases=(
        "kmeans",
        "k_means",
        "inertia",
    ),
    default=True,
    recommendations=(
        Recommendation("clustering: k-means inertia, differentiable in points and centroids"),
    ),
)
def kmeans_loss(
    points: ArrayLike,
    centroids: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""k-means objective: squared Euclidean distance from each point to its nearest centroid.

    .. math::

        l_i = \min_k \lVert x_i - c_k \rVert_2^2

    With ``reduction="sum"`` this is scikit-learn's ``KMeans.inertia_`` (with
    ``weights`` as its ``sample_weight``). The gradient with respect to the
    centroids is the usual k-means gradient: for ``reduction="sum"``,
    :math:`\partial/\partial c_k = 2\,n_k\,(c_k - \bar x_k)` with :math:`n_k`
    points assigned to :math:`c_k` and :math:`\bar x_k` their mean, so a
    gradient step of size :math:`1/(2 n_k)` is a Lloyd update. The assignment
    itself carries no gradient. A point at exactly equal distance from several
    centroids is assigned to the one with the lowest index. Distances are
    computed from the differences, not from the cancelling expansion (see the
    module docstring).

    Args:
        points: ``[N, D]`` data points (floating, or integer cast to float).
        centroids: ``[K, D]`` floating centroids, ``K >= 1``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[N]``).
        weights: optional per-point weights, a scalar or ``[N]``.
        where: optional boolean ``[N]`` mask; ``False`` points contribute nothing.
        axis_name: mapped axis name(s) when ``points`` is sharded over devices
            (centroids replicated) for the global mean or sum.

    Returns:
        The reduced loss (float32 at least), or the ``[N]`` per-point distances.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> x = jnp.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0]])
        >>> c = jnp.array([[0.5, 0.0], [10.0, 11.0]])
        >>> lossjax.kmeans_loss(x, c, reduction="none")
        Array([0.25, 0.25, 1.  ], dtype=float32)

    References:
        Lloyd, "Least squares quantization in PCM", 1982;
        scikit-learn ``sklearn.cluster.KMeans`` (``inertia_``).
    """
    _checks.check_reduction(reduction)
    points = _checks.check_real("points", points)
    centroids = _checks.check_floating("centroids", centroids)
    _checks.check_rank("points", points, 2)
    _checks.check_rank("centroids", centroids, 2)
    if points.shape[1] != centroids.shape[1]:
        raise ValueError(
            "lossjax: `points` and `centroids` must have the same feature size D, got "
            f"points.shape={tuple(points.shape)} and centroids.shape={tuple(centroids.shape)}."
        )
    if centroids.shape[0] == 0:
        raise ValueError("lossjax: `centroids` must hold at least one centroid, got shape (0, D).")
    dtype = _checks.compute_dtype(points, centroids)
    points, centroids = points.astype(dtype), centroids.astype(dtype)
    where = prepare_where(where, (points.shape[0],))
    points = mask_inputs(where, points, 0.0, axis=1)

    num_points, dim = points.shape
    num_centroids = centroids.shape[0]
    x, c = jax.lax.stop_gradient(points), jax.lax.stop_gradient(centroids)
    if num_points * num_centroids * dim <= _DIRECT_ASSIGNMENT_MAX_ELEMENTS:
        scores = jnp.sum(jnp.square(x[:, None, :] - c[None, :, :]), axis=-1)
    else:
        # ||x - c||^2 - ||x - s||^2 in a frame centred on the centroids' mean s.
        shift = jnp.mean(c, axis=0, keepdims=True)
        x, c = x - shift, c - shift
        cross = jnp.matmul(x, c.T, precision=_HIGHEST)
        scores = jnp.sum(jnp.square(c), axis=1)[None, :] - 2.0 * cross
    assignment = jnp.argmin(scores, axis=1)  # lowest index on exact ties
    nearest = jnp.take(centroids, assignment, axis=0)
    values = jnp.sum(jnp.square(points - nearest), axis=1)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# ---------------------------------------------------------------------- reconstruction


@register(
    task="unsupervised",
    input_kind="predictions",
    summary="Per-example reconstruction error of an autoencoder, averaged over features.",
    aliases=(
        "reconstruction",
        "autoencoder",
    ),
    hyperparameters=(choice("kind", "error per feature", ("mse", "mae", "bce")),),
    recommendations=(
        Recommendation(
            "reconstruction with robust per-feature absolute error",
            {"kind": "mae"},
            when=("outliers",),
            robust=True,
        ),
        Recommendation("autoencoders: squared error per example, averaged over features"),
        Recommendation(
            "autoencoders for data in [0, 1] (e.g. pixels): Bernoulli log-likelihood",
            {"kind": "bce"},
        ),
    ),
)
def reconstruction_loss(
    reconstructions: ArrayLike,
    inputs: ArrayLike,
    *,
    kind: str = "mse",
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Autoencoder reconstruction error, one value per example.

    Axis 0 is the batch axis; each example's value is the mean over all its
    other axes (a rank-1 input holds one scalar per example):

    .. math::

        l_i = \frac{1}{M} \sum_{m} e(r_{im}, x_{im}), \qquad
        e = \begin{cases}
            (r - x)^2 & \texttt{"mse"} \\
            |r - x| & \texttt{"mae"} \\
            (1-x)\,\mathrm{softplus}(r) + x\,\mathrm{softplus}(-r) & \texttt{"bce"}
        \end{cases}

    For ``"bce"`` the reconstructions are **logits** of the inputs, which are
    targets in :math:`[0, 1]` (pixel intensities, binarised or not); the
    expression equals :math:`-x\log\sigma(r) - (1-x)\log(1-\sigma(r))` and is
    computed without cancellation for logits of any size. It is 0 only for
    binary targets; for a grey value :math:`x` its minimum is the entropy of
    :math:`x`. Values are per-pixel means, so for a VAE's summed likelihood
    multiply by the number of pixels.

    Args:
        reconstructions: ``[B, ...]`` floating reconstructions (logits for ``"bce"``).
        inputs: ``[B, ...]`` inputs, the same shape (integer or bool accepted).
        kind: ``"mse"`` (default), ``"mae"`` or ``"bce"``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[B]``).
        weights: optional per-example weights, a scalar or ``[B]``.
        where: optional boolean ``[B]`` mask; ``False`` examples contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the ``[B]`` per-example values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> r = jnp.array([[0.0, 1.0], [2.0, 2.0]])
        >>> x = jnp.array([[0.0, 0.0], [1.0, 1.0]])
        >>> lossjax.reconstruction_loss(r, x, reduction="none")
        Array([0.5, 1. ], dtype=float32)
        >>> lossjax.reconstruction_loss(r, x, kind="bce", reduction="none")
        Array([1.0032045, 0.126928 ], dtype=float32)

    References:
        Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with
        Neural Networks", Science 2006; Kingma & Welling, "Auto-Encoding
        Variational Bayes", 2014 (https://arxiv.org/abs/1312.6114).
    """
    _checks.check_reduction(reduction)
    reconstructions = _checks.check_floating("reconstructions", reconstructions)
    if reconstructions.ndim < 1:
        raise ValueError(
            "lossjax: `reconstructions` must have rank >= 1 (axis 0 is the batch axis), "
            f"got shape {tuple(reconstructions.shape)}."
        )
    batch_shape = (reconstructions.shape[0],)
    where = prepare_where(where, batch_shape)
    full_where = None
    if where is not None:
        per_example = where.reshape(batch_shape + (1,) * (reconstructions.ndim - 1))
        full_where = jnp.broadcast_to(per_example, reconstructions.shape)
    reconstructions, inputs, _ = prepare_pair(
        "reconstructions", reconstructions, "inputs", inputs, full_where
    )

    if kind == "mse":
        errors = jnp.square(reconstructions - inputs)
    elif kind == "mae":
        errors = jnp.abs(reconstructions - inputs)
    else:
        errors = _numerics.sigmoid_cross_entropy(reconstructions, inputs)
    # The mean over the features is the contract's mean of each example's errors: its sum
    # does not overflow where the mean fits (jnp.mean's does).
    per_feature = errors.reshape(errors.shape[0], math.prod(errors.shape[1:]))
    values = jax.vmap(reduce_loss)(per_feature)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# ------------------------------------------------------------------------- contrastive


@register(
    task="embedding",
    input_kind="embeddings",
    summary="Pulls similar pairs together, pushes dissimilar pairs beyond a margin (siamese nets).",
    aliases=(
        "contrastive",
        "siamese",
    ),
    margin_based=True,
    hyperparameters=(
        real("margin", "distance dissimilar pairs are pushed to", lower=0.0, scalar=False),
    ),
    recommendations=(
        Recommendation("labelled similar/dissimilar pairs (siamese networks)", {"margin": 1.0}),
    ),
)
def contrastive_loss(
    embeddings_a: ArrayLike,
    embeddings_b: ArrayLike,
    similar: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pairwise contrastive loss of Hadsell, Chopra & LeCun (2006), one value per pair.

    With :math:`d = \lVert a - b \rVert_2` over the last axis and
    :math:`s \in \{0, 1\}` (1 for a similar pair):

    .. math::

        l = s\, d^2 + (1 - s) \max(0, m - d)^2

    Similar pairs are pulled together, dissimilar pairs pushed apart until
    they are at least the margin :math:`m` apart.

    Convention: ``similar=1`` marks a *similar* pair and there is no factor
    :math:`\tfrac12`. The paper writes :math:`Y = 0` for similar pairs and
    halves both terms, i.e. the paper's loss is half of ours with
    ``similar = 1 - Y``. TensorFlow Addons' ``tfa.losses.contrastive_loss``
    has our convention but takes the distance :math:`d` as its input.
    PyTorch has no such loss built in; its ``HingeEmbeddingLoss`` is an
    unsquared relative (labels :math:`\pm 1`, :math:`\max(0, m - x)` on a
    given distance :math:`x`).

    The distance has no derivative at :math:`a = b`; the gradient there is 0
    (for similar pairs that is exact, for dissimilar ones it is the
    subgradient of the norm at 0), never NaN.

    Args:
        embeddings_a: ``[..., D]`` floating embeddings.
        embeddings_b: ``[..., D]`` floating embeddings, the same shape.
        similar: ``[...]`` per-pair labels (bool, integer or float in
            :math:`[0, 1]`), the shape of ``embeddings_a`` without its last axis.
        margin: non-negative margin :math:`m`; a Python number or a (traced,
            differentiable) array.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[...]``).
        weights: optional per-pair weights, a scalar or of the per-pair shape.
        where: optional boolean per-pair mask; ``False`` pairs contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-pair values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> a = jnp.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
        >>> b = jnp.array([[3.0, 4.0], [0.3, 0.4], [3.0, 4.0]])
        >>> lossjax.contrastive_loss(a, b, jnp.array([1, 0, 0]), reduction="none")
        Array([25.  ,  0.25,  0.  ], dtype=float32)

    References:
        Hadsell, Chopra & LeCun, "Dimensionality Reduction by Learning an
        Invariant Mapping", CVPR 2006
        (http://yann.lecun.com/exdb/publis/pdf/hadsell-chopra-lecun-06.pdf).
    """
    _checks.check_reduction(reduction)
    embeddings_a = _checks.check_floating("embeddings_a", embeddings_a)
    embeddings_b = _checks.check_floating("embeddings_b", embeddings_b)
    similar = _checks.check_real("similar", similar)
    _checks.check_same_shape("embeddings_a", embeddings_a, "embeddings_b", embeddings_b)
    if embeddings_a.ndim < 1:
        raise ValueError(
            "lossjax: `embeddings_a` must have rank >= 1 (the last axis holds the features), "
            f"got shape {tuple(embeddings_a.shape)}."
        )
    pair_shape = tuple(embeddings_a.shape[:-1])
    if tuple(similar.shape) != pair_shape:
        raise ValueError(
            "lossjax: `similar` must have the per-pair shape (that of `embeddings_a` without "
            f"its last axis), got similar.shape={tuple(similar.shape)} and "
            f"embeddings_a.shape={tuple(embeddings_a.shape)} (expected {pair_shape})."
        )
    dtype = _checks.compute_dtype(embeddings_a, embeddings_b)
    a, b, similar = embeddings_a.astype(dtype), embeddings_b.astype(dtype), similar.astype(dtype)
    where = prepare_where(where, pair_shape)
    a = mask_inputs(where, a, 0.0, axis=-1)
    b = mask_inputs(where, b, 0.0, axis=-1)
    similar = mask_inputs(where, similar, 1.0)
    margin = _checks.hyperparameter(margin, dtype)

    # Halves: a - b of two finite vectors can overflow, a/2 - b/2 cannot. d^2 then
    # overflows only where the loss does, and d -> inf leaves the hinge exactly 0.
    half_squared = jnp.sum(jnp.square(0.5 * a - 0.5 * b), axis=-1)
    hinge = jnp.maximum(margin - 2.0 * _numerics.safe_sqrt(half_squared), 0.0)
    # A dissimilar pair (s = 0) takes no d^2: 0 * inf would be NaN in value and gradient.
    pull = jnp.where(similar > 0, 4.0 * half_squared, 0.0)
    values = similar * pull + (1.0 - similar) * jnp.square(hinge)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# ---------------------------------------------------------------------------- InfoNCE


def _nce_direction(
    anchors: jax.Array,
    candidates: jax.Array,
    keep: jax.Array | None,
    positive: jax.Array,
    temperature: jax.Array,
) -> jax.Array:
    """Per-anchor ``logsumexp_j(l_ij) - l_i,positive_i`` with logits ``anchor . candidate / T``.

    Computed as ``log(1 + sum_{j != positive} exp(l_ij - l_i,positive))``: when
    the positive dominates, the loss is tiny and ``logsumexp - l_ii`` would
    cancel to a few ulp of ``l_ii`` (relative error 0.1 at a loss of 1e-6).
    """
    logits = jnp.matmul(anchors, candidates.T, precision=_HIGHEST) / temperature
    positive_logit = jnp.take_along_axis(logits, positive[:, None], axis=1)
    is_negative = jnp.arange(candidates.shape[0])[None, :] != positive[:, None]
    if keep is not None:
        is_negative = is_negative & keep[None, :]  # removed examples are no negatives
    margins = jnp.where(is_negative, logits - positive_logit, -jnp.inf)
    # The result does not depend on the shift, so it carries no gradient; the
    # shift is >= 0 and finite even for a row without negatives (loss 0 there).
    shift = jax.lax.stop_gradient(jnp.max(margins, axis=1, initial=0.0))
    total = jnp.sum(jnp.exp(margins - shift[:, None]), axis=1)
    # shift == 0: log1p keeps tiny losses exact; shift > 0: total >= 1, no cancellation.
    # Both branches are finite everywhere, so the `where` is safe to differentiate.
    return jnp.where(shift > 0, shift + jnp.log(jnp.exp(-shift) + total), jnp.log1p(total))


@register(
    task="embedding",
    input_kind="embeddings",
    summary="Cross-entropy over in-batch negatives of scaled cosine similarities (NT-Xent, CLIP).",
    aliases=(
        "infonce",
        "info_nce",
    ),
    presets={"clip": {"symmetric": True}},
    default=True,
    hyperparameters=(
        real("temperature", "softmax temperature of the similarities", lower=0.0, lower_open=True),
        flag("symmetric", "average both directions (CLIP)"),
        flag("normalize", "L2-normalise the embeddings first (cosine similarity)"),
    ),
    recommendations=(
        Recommendation(
            "self-supervised or paired data: every other example in the batch is a negative; "
            "scales with batch size (SimCLR; symmetric=True is CLIP's loss)",
            {"temperature": 0.1},
        ),
    ),
)
def info_nce_loss(
    queries: ArrayLike,
    keys: ArrayLike,
    *,
    temperature: ArrayLike = 0.1,
    symmetric: bool = False,
    normalize: bool = True,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""InfoNCE / NT-Xent with in-batch negatives; with ``symmetric=True``, CLIP's loss.

    Row :math:`i` of ``keys`` is the positive of row :math:`i` of ``queries``
    and every other key in the batch is a negative. With logits
    :math:`l_{ij} = \hat q_i \cdot \hat k_j / \tau` (:math:`\hat v = v / \lVert v \rVert`
    when ``normalize``, else :math:`v`):

    .. math::

        l^{q\to k}_i = \log \sum_j e^{l_{ij}} - l_{ii}, \qquad
        l^{\mathrm{sym}}_i = \tfrac12 \Big( l^{q\to k}_i
            + \log \sum_j e^{l_{ji}} - l_{ii} \Big)

    i.e. the cross-entropy of classifying the positive key among all keys
    (and, symmetrically, the positive query among all queries).

    ``normalize=True`` (the default) is the cosine similarity used by
    SimCLR, MoCo and CLIP; turn it off for embeddings that are already
    normalised or for a plain dot-product critic (CPC). The norm is floored
    at the square root of the smallest normal number of the input dtype
    (about 1e-19 for float32 and bfloat16, 2**-7 for float16), so the zero
    vector stays zero and the gradient stays finite in the input dtype. The temperature may be a
    traced array and is differentiable (CLIP learns it as :math:`e^{t}`,
    starting from 0.07); the default 0.1 is SimCLR's large-batch setting.

    Difference from optax's ``ntxent`` (SimCLR's NT-Xent): optax takes one
    batch of embeddings with group labels and uses *all other* embeddings as
    negatives, including the other augmentations of the same view, so for
    two views :math:`[q; k]` an anchor :math:`q_i` also has the
    :math:`q_j, j \ne i` as negatives; it also averages over all positive
    pairs. Here the negatives of :math:`q_i` are only the keys
    :math:`k_j, j \ne i` (CLIP, MoCo, CPC), and the symmetric version is
    CLIP's average of the two cross-entropies.

    ``where`` removes examples entirely: a removed example contributes no
    loss *and* is not a negative for the others (use it for padding).
    ``weights`` only weights the per-query losses; an example of weight 0
    is still a negative.

    Distributed (``axis_name``, inside ``jax.shard_map`` or ``jax.pmap`` with
    the batch split over the named axis or axes): the keys (and, for
    ``symmetric``, the queries) and the ``where`` mask are all-gathered, so
    each local query sees the whole global batch as negatives, exactly as on
    one device; local query :math:`i` on device :math:`p` has its positive at
    global row :math:`p \cdot n + i` (``n`` the local batch, equal on every
    device). Gradients flow back through the gather, and the mean is the
    global one, so value and gradient equal those of the single-device loss
    on the concatenated batch. ``axis_name`` may be one name or a tuple of
    names; for a tuple, the device order is that of
    ``jax.lax.axis_index(axis_name)``, which is how ``jax.shard_map`` splits a
    batch axis over ``P(("a", "b"))``. Under plain ``jax.jit`` with a sharded
    batch (no ``shard_map``) no ``axis_name`` is needed.

    Args:
        queries: ``[N, D]`` floating query embeddings.
        keys: ``[N, D]`` floating key embeddings, the same shape.
        temperature: positive temperature :math:`\tau`, a Python number or a
            (traced, differentiable) scalar.
        symmetric: also classify each query among the queries for its key
            (CLIP), averaging the two losses per pair.
        normalize: cosine-normalise queries and keys first (default True).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[N]``).
        weights: optional per-pair weights, a scalar or ``[N]``.
        where: optional boolean ``[N]`` mask; ``False`` pairs contribute
            nothing and are no negatives.
        axis_name: mapped axis name (or tuple of names) over which the batch
            is split; enables the global negatives and the global mean.

    Returns:
        The reduced loss (float32 at least), or the ``[N]`` per-pair values
        (the local ones under ``axis_name``).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> q = jnp.array([[1.0, 0.0], [0.0, 1.0]])
        >>> k = jnp.array([[2.0, 0.0], [0.0, 3.0]])
        >>> lossjax.info_nce_loss(q, k, temperature=1.0, reduction="none")
        Array([0.3132617, 0.3132617], dtype=float32)

    References:
        van den Oord, Li & Vinyals, "Representation Learning with Contrastive
        Predictive Coding", 2018 (https://arxiv.org/abs/1807.03748);
        Chen et al., "A Simple Framework for Contrastive Learning of Visual
        Representations", 2020 (https://arxiv.org/abs/2002.05709);
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021 (https://arxiv.org/abs/2103.00020).
    """
    _checks.check_reduction(reduction)
    _checks.check_axis_name(axis_name)  # before the all-gathers name it
    queries = _checks.check_floating("queries", queries)
    keys = _checks.check_floating("keys", keys)
    _checks.check_rank("queries", queries, 2)
    _checks.check_rank("keys", keys, 2)
    _checks.check_same_shape("queries", queries, "keys", keys)
    query_dtype, key_dtype = queries.dtype, keys.dtype
    dtype = _checks.compute_dtype(queries, keys)
    queries, keys = queries.astype(dtype), keys.astype(dtype)
    local_batch = queries.shape[0]
    where = prepare_where(where, (local_batch,))
    queries = mask_inputs(where, queries, 0.0, axis=1)
    keys = mask_inputs(where, keys, 0.0, axis=1)
    temperature = _checks.hyperparameter(temperature, dtype)
    if normalize:
        queries = _numerics.safe_normalize(queries, _numerics.norm_floor(query_dtype))
        keys = _numerics.safe_normalize(keys, _numerics.norm_floor(key_dtype))

    offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * local_batch
    positive = offset + jnp.arange(local_batch)
    # all_gather of a bool array is not supported everywhere; gather it as int8.
    keep = None if where is None else gather_batch(where.astype(jnp.int8), axis_name) > 0
    values = _nce_direction(queries, gather_batch(keys, axis_name), keep, positive, temperature)
    if symmetric:
        backward = _nce_direction(
            keys, gather_batch(queries, axis_name), keep, positive, temperature
        )
        values = 0.5 * (values + backward)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
