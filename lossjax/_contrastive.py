"""Contrastive embedding losses and margin softmax: NT-Xent, SigLIP, ArcFace/CosFace/SphereFace, circle.

Numerics choices:

* **One log-sum-exp per anchor.** Every loss here is a softplus of a
  log-sum-exp over a masked set of candidates, :math:`\\log(1 + \\sum_n e^{x_n - x_p})
  = \\mathrm{softplus}(\\mathrm{LSE}_n x_n - x_p)`. The log-sum-exp is shifted by its
  masked maximum (held constant for differentiation: the result does not depend
  on it) and an empty set gives 0 with a zero gradient, never ``log 0``. The
  softplus keeps a tiny loss exact where ``LSE - x_p`` would be rounded to a
  few ulp of :math:`x_p` by a plain ``logsumexp(...) - x_p``.
* **Normalisation** uses the same scaled, floored L2 normalisation as
  :func:`lossjax.info_nce_loss` (finite gradient at the zero vector, no overflow
  for entries near the float32 maximum).
* **Angles at** :math:`\\cos\\theta = \\pm 1`. :math:`d\\arccos c / dc = -1/\\sqrt{1-c^2}`
  is infinite at :math:`c = \\pm 1`. The margin enters the target logit as
  :math:`c + (\\psi(\\theta) - \\cos\\theta)`; the bracket is computed from
  :math:`\\theta = \\arccos c` for :math:`|c| < 1` and from the constant
  :math:`\\theta \\in \\{0, \\pi\\}` at :math:`|c| = 1` exactly (double ``where``, so
  ``arccos`` never sees the endpoint). The value is exact everywhere, the
  gradient is the exact one for :math:`|c| < 1` (at most about
  :math:`3 \\cdot 10^3` in float32 next to the endpoint) and, at the endpoint, that
  of :math:`c` alone. Without an angular margin the bracket is exactly 0, so
  CosFace and the plain scaled softmax take no ``arccos`` rounding at all.
* **Distributed SigLIP** never holds the global :math:`N \\times N` logits: the
  ``embeddings_b`` blocks travel round a ring of ``ppermute`` steps (see
  :func:`sigmoid_contrastive_loss`).
* **Matrix products** are requested at ``Precision.HIGHEST``.
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
    prepare_class_labels,
    prepare_where,
    reduce_loss,
)
from lossjax._registry import Recommendation, flag, real, register

_HIGHEST = jax.lax.Precision.HIGHEST


# ------------------------------------------------------------------------ shared formulas


def _masked_logsumexp(x: jax.Array, mask: jax.Array, axis: int = -1) -> tuple[jax.Array, jax.Array]:
    """``(log sum_{mask} exp(x), any(mask))`` along ``axis``; 0 (zero gradient) where empty."""
    nonempty = jnp.any(mask, axis=axis)
    x = jnp.where(mask, x, -jnp.inf)
    shift = jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    shift = jnp.where(jnp.isfinite(shift), shift, jnp.zeros((), x.dtype))
    total = jnp.sum(jnp.exp(x - shift), axis=axis)
    # An empty set sums to 0: the log sees 1 instead, so neither value nor gradient is inf.
    lse = jnp.log(jnp.where(nonempty, total, 1.0)) + jnp.squeeze(shift, axis)
    return jnp.where(nonempty, lse, 0.0), nonempty


def _normalize(x: jax.Array, input_dtype: jnp.dtype) -> jax.Array:
    return _numerics.safe_normalize(x, _numerics.norm_floor(input_dtype))


def _embeddings_and_labels(
    embeddings: ArrayLike, labels: ArrayLike
) -> tuple[jax.Array, jax.Array, jnp.dtype]:
    """The front of the group-label losses: ``[N, D]`` floating embeddings, ``[N]`` int labels."""
    embeddings = _checks.check_floating("embeddings", embeddings)
    labels = _checks.check_integer("labels", labels)
    _checks.check_rank("embeddings", embeddings, 2)
    if tuple(labels.shape) != (embeddings.shape[0],):
        raise ValueError(
            "lossjax: `labels` must hold one group label per embedding, shape "
            f"({embeddings.shape[0]},); got labels.shape={tuple(labels.shape)} and "
            f"embeddings.shape={tuple(embeddings.shape)}."
        )
    input_dtype = embeddings.dtype
    return embeddings.astype(_checks.compute_dtype(embeddings)), labels, input_dtype


def _pair_masks(
    labels: jax.Array, where: jax.Array | None, axis_name: AxisName | None
) -> tuple[jax.Array, jax.Array]:
    """``(positive, negative)`` ``[n, N]`` masks of local anchors against all candidates.

    A positive has the anchor's label and is not the anchor itself; a negative
    has another label; a candidate removed by ``where`` is neither.
    """
    local = labels.shape[0]
    offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * local
    all_labels = gather_batch(labels, axis_name)
    same = labels[:, None] == all_labels[None, :]
    own = (offset + jnp.arange(local))[:, None] == jnp.arange(all_labels.shape[0])[None, :]
    positive, negative = same & ~own, ~same
    if where is not None:
        # all_gather of a bool array is not supported everywhere; gather it as int8.
        kept = (gather_batch(where.astype(jnp.int8), axis_name) > 0)[None, :]
        positive, negative = positive & kept, negative & kept
    return positive, negative


# ------------------------------------------------------------------------------ NT-Xent


@register(
    task="embedding",
    input_kind="embeddings",
    summary="NT-Xent over group labels: each positive against every other-label embedding.",
    aliases=("ntxent", "nt_xent", "simclr", "nt_xent_loss"),
    hyperparameters=(
        real("temperature", "softmax temperature of the cosines", lower=0.0, lower_open=True),
    ),
    recommendations=(
        Recommendation(
            "SimCLR-style self-supervised views (or supervised groups) in one batch: each "
            "embedding against all embeddings of other groups (optax ntxent)",
            {"temperature": 0.1},
        ),
    ),
)
def ntxent_loss(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    temperature: ArrayLike = 0.07,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""NT-Xent (normalised temperature-scaled cross-entropy) with group labels, as optax ``ntxent``.

    With cosine logits :math:`s_{ij} = \hat x_i \cdot \hat x_j / \tau`, the
    positives :math:`P(i)` of anchor :math:`i` (same label, :math:`j \ne i`) and its
    negatives :math:`N(i)` (another label):

    .. math::

        l_i = \frac{1}{|P(i)|} \sum_{p \in P(i)}
            -\log \frac{e^{s_{ip}}}{e^{s_{ip}} + \sum_{n \in N(i)} e^{s_{in}}}

    Each positive pair is one softmax over that positive and all negatives (the
    other positives are left out of its denominator). An anchor without a
    positive has no value: it is removed from the reduction (and is still a
    negative for the others).

    Convention and conversion: optax ``ntxent`` returns the mean over all
    positive *pairs*; here the per-anchor value is the mean over its
    positives and the reduction averages anchors. They are equal when every
    anchor has as many positives (two views per example: one each); in
    general ``ntxent_loss(x, y, weights=num_positives)`` with
    ``num_positives[i] = sum(y == y[i]) - 1`` is optax's value. optax floors
    the squared norm at the float32 epsilon; here the norm is floored at
    :math:`\sqrt{\text{tiny}}` (see :func:`lossjax.info_nce_loss`), which only
    matters for embeddings of norm below :math:`3 \cdot 10^{-4}`.
    pytorch-metric-learning's ``NTXentLoss`` averages pairs like optax.
    :func:`lossjax.info_nce_loss` is the two-tensor form (queries against
    keys only, CLIP and MoCo).

    ``where`` removes an embedding entirely: no value, and neither a positive
    nor a negative of the others. ``weights`` weigh the anchors only.

    Distributed (``axis_name``, inside ``jax.shard_map`` or ``jax.pmap`` with
    the batch split over the named axis or axes, equal local batches): the
    embeddings, labels and ``where`` are all-gathered, so each local anchor
    sees the whole global batch as candidates, and the value and gradient are
    those of the single-device loss on the concatenated batch (memory: the
    local ``[n, N]`` logits).

    Args:
        embeddings: ``[N, D]`` floating embeddings (L2-normalised inside).
        labels: ``[N]`` integer group labels; equal labels are positives
            (``[0, 0, 1, 1]`` for two views of two images).
        temperature: positive temperature :math:`\tau`, a Python number or a
            (traced, differentiable) scalar; default 0.07 as optax.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[N]``).
        weights: optional per-anchor weights, a scalar or ``[N]``.
        where: optional boolean ``[N]`` mask; ``False`` embeddings take no part.
        axis_name: mapped axis name (or tuple of names) over which the batch
            is split; enables the global candidates and the global mean.

    Returns:
        The reduced loss (float32 at least), or the ``[N]`` per-anchor values
        (0 for an anchor without a positive; the local ones under ``axis_name``).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> x = jnp.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])
        >>> lossjax.ntxent_loss(x, jnp.array([0, 0, 1, 1]), temperature=1.0, reduction="none")
        Array([0.55169046, 0.9135144 , 0.9135144 , 0.55169046], dtype=float32)

    References:
        Chen et al., "A Simple Framework for Contrastive Learning of Visual
        Representations", ICML 2020 (https://arxiv.org/abs/2002.05709);
        optax ``optax.losses.ntxent``.
    """
    _checks.check_reduction(reduction)
    _checks.check_axis_name(axis_name)  # before the all-gathers name it
    x, labels, input_dtype = _embeddings_and_labels(embeddings, labels)
    where = prepare_where(where, (x.shape[0],))
    x = mask_inputs(where, x, 0.0, axis=1)
    temperature = _checks.hyperparameter(temperature, x.dtype)
    x = _normalize(x, input_dtype)

    logits = jnp.matmul(x, gather_batch(x, axis_name).T, precision=_HIGHEST) / temperature
    positive, negative = _pair_masks(labels, where, axis_name)
    lse_negatives, has_negative = _masked_logsumexp(logits, negative)
    # -log(e^s_ip / (e^s_ip + sum_n e^s_in)) = softplus(LSE_n s_in - s_ip); 0 without negatives.
    pairs = jnp.where(has_negative[:, None], jax.nn.softplus(lse_negatives[:, None] - logits), 0.0)
    count = jnp.sum(positive, axis=1)
    total = jnp.sum(jnp.where(positive, pairs, 0.0), axis=1)
    has_positive = count > 0
    values = total / jnp.maximum(count, 1).astype(x.dtype)
    keep = has_positive if where is None else has_positive & where
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


# ------------------------------------------------------------------------------ SigLIP


def _sigmoid_block(
    a: jax.Array,
    b: jax.Array,
    kept: jax.Array | None,
    diagonal: jax.Array,
    temperature: jax.Array,
    bias: jax.Array,
) -> jax.Array:
    """``sum_j softplus(-z_ij (a_i . b_j / T + bias))`` per row of ``a`` for one block of ``b``.

    ``diagonal`` says whether the block holds the rows' own positives (then
    ``z_ii = +1``); every other entry has ``z = -1``. ``-log sigmoid(t) = softplus(-t)``
    is exact for any logit.
    """
    logits = jnp.matmul(a, b.T, precision=_HIGHEST) / temperature + bias
    eye = jnp.arange(a.shape[0])[:, None] == jnp.arange(b.shape[0])[None, :]
    signs = jnp.where(eye & diagonal, 1.0, -1.0).astype(logits.dtype)
    terms = jax.nn.softplus(-signs * logits)
    if kept is not None:
        terms = jnp.where(kept[None, :], terms, 0.0)
    return jnp.sum(terms, axis=1)


@register(
    task="embedding",
    input_kind="embeddings",
    summary="SigLIP: a sigmoid per image-text pair, positives on the diagonal, no softmax.",
    aliases=("siglip", "sigmoid_contrastive"),
    hyperparameters=(
        real(
            "temperature",
            "divides the similarities (SigLIP's t is 1/T)",
            lower=0.0,
            lower_open=True,
        ),
        real("bias", "added to every logit (SigLIP's b, initialised at -10)"),
        flag("normalize", "L2-normalise the embeddings first (cosine similarity)"),
    ),
    recommendations=(
        Recommendation(
            "image-text (or any paired) pre-training with large batches: one sigmoid per pair, "
            "no global softmax; distributed by a ring exchange of blocks (SigLIP)",
            {"temperature": 0.1, "bias": -10.0},
        ),
    ),
)
def sigmoid_contrastive_loss(
    embeddings_a: ArrayLike,
    embeddings_b: ArrayLike,
    *,
    temperature: ArrayLike = 0.1,
    bias: ArrayLike = -10.0,
    normalize: bool = True,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Pairwise sigmoid loss of SigLIP (Zhai et al. 2023), one value per row of ``embeddings_a``.

    With logits :math:`l_{ij} = \hat a_i \cdot \hat b_j / \tau + b` and labels
    :math:`z_{ii} = +1`, :math:`z_{ij} = -1` for :math:`j \ne i`:

    .. math::

        l_i = -\sum_j \log \sigma\big(z_{ij}\, l_{ij}\big)
            = \sum_j \mathrm{softplus}\big(-z_{ij}\, l_{ij}\big)

    so ``reduction="mean"`` is the paper's :math:`-\frac{1}{|B|}\sum_i\sum_j
    \log\sigma(z_{ij} l_{ij})`. Row :math:`i` of ``embeddings_b`` is the positive of
    row :math:`i` of ``embeddings_a``; every other row is a negative.

    Convention: the paper multiplies the similarities by :math:`t = e^{t'}`
    (:math:`t'` learnt, initialised at :math:`\log 10`) and adds a learnt bias
    :math:`b` initialised at :math:`-10`. lossjax's ``temperature`` divides, as in
    every lossjax loss, so :math:`\tau = 1/t`: the paper's initialisation is the
    default ``temperature=0.1, bias=-10.0``, and a learnt :math:`t'` is passed as
    ``temperature=jnp.exp(-t_prime)``. Both may be traced and are
    differentiable. With ``normalize=True`` (default, as in the paper) the
    embeddings are L2-normalised here; pass ``normalize=False`` for embeddings
    that already are (or for a plain dot product).

    ``where`` removes a pair: row :math:`i` has no value and :math:`b_i` is no
    negative of the other rows. ``weights`` weigh the rows.

    Distributed (``axis_name``, inside ``jax.shard_map`` or ``jax.pmap``, the
    batch split over the named axis or axes in equal local batches of
    :math:`n`): the negatives are the global batch, but no device ever holds
    more than an :math:`n \times n` block of logits. This is the paper's chunked
    exchange: over :math:`P` steps every device adds the sigmoid terms of its
    own rows against the block of ``embeddings_b`` it holds, then passes that
    block (and its ``where``) to the next device of a ring with
    ``jax.lax.ppermute``; after :math:`P - 1` exchanges each device has seen
    every block once. Gradients flow back round the ring, so the value and the
    gradients (embeddings, ``temperature``, ``bias``) equal those of the
    single-device loss on the concatenated batch.

    Args:
        embeddings_a: ``[N, D]`` floating embeddings (images).
        embeddings_b: ``[N, D]`` floating embeddings (texts), row :math:`i` the
            positive of row :math:`i` of ``embeddings_a``.
        temperature: positive :math:`\tau` (:math:`1/t` of the paper), a Python
            number or a traced, differentiable scalar.
        bias: the logit bias :math:`b`, a Python number or a traced scalar.
        normalize: L2-normalise both embeddings first (default True).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[N]``).
        weights: optional per-row weights, a scalar or ``[N]``.
        where: optional boolean ``[N]`` mask; ``False`` pairs take no part.
        axis_name: mapped axis name (or tuple of names) over which the batch
            is split; enables the global negatives (ring exchange) and mean.

    Returns:
        The reduced loss (float32 at least), or the ``[N]`` per-row values (the
        local ones under ``axis_name``).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> a = jnp.array([[1.0, 0.0], [0.0, 1.0]])
        >>> b = jnp.array([[1.0, 0.0], [1.0, 1.0]])
        >>> lossjax.sigmoid_contrastive_loss(a, b, temperature=0.5, bias=-1.0, reduction="none")
        Array([1.2348106, 0.8205971], dtype=float32)

    References:
        Zhai, Mustafa, Kolesnikov & Beyer, "Sigmoid Loss for Language Image
        Pre-Training", ICCV 2023 (https://arxiv.org/abs/2303.15343).
    """
    _checks.check_reduction(reduction)
    _checks.check_axis_name(axis_name)  # before the ring names it
    a = _checks.check_floating("embeddings_a", embeddings_a)
    b = _checks.check_floating("embeddings_b", embeddings_b)
    _checks.check_rank("embeddings_a", a, 2)
    _checks.check_rank("embeddings_b", b, 2)
    _checks.check_same_shape("embeddings_a", a, "embeddings_b", b)
    a_dtype, b_dtype = a.dtype, b.dtype
    dtype = _checks.compute_dtype(a, b)
    a, b = a.astype(dtype), b.astype(dtype)
    where = prepare_where(where, (a.shape[0],))
    a = mask_inputs(where, a, 0.0, axis=1)
    b = mask_inputs(where, b, 0.0, axis=1)
    temperature = _checks.hyperparameter(temperature, dtype)
    bias = _checks.hyperparameter(bias, dtype)
    if normalize:
        a, b = _normalize(a, a_dtype), _normalize(b, b_dtype)

    if axis_name is None:
        values = _sigmoid_block(a, b, where, jnp.asarray(True), temperature, bias)
    else:
        size = jax.lax.psum(1, axis_name)
        me = jax.lax.axis_index(axis_name)
        ring = [(i, (i + 1) % size) for i in range(size)]
        # (The mask travels with its block, as int8: ppermute of bool is not supported everywhere.)
        kept = () if where is None else (where.astype(jnp.int8),)

        def step(k, carry):
            total, block, block_kept = carry
            # Device p receives from p - 1: after k exchanges it holds block (p - k) mod P.
            block = jax.lax.ppermute(block, axis_name, ring)
            block_kept = tuple(jax.lax.ppermute(m, axis_name, ring) for m in block_kept)
            mask = block_kept[0] > 0 if block_kept else None
            own = (me - k) % size == me
            total = total + _sigmoid_block(a, block, mask, own, temperature, bias)
            return total, block, block_kept

        first = _sigmoid_block(a, b, where, jnp.asarray(True), temperature, bias)
        values, _, _ = jax.lax.fori_loop(1, size, step, (first, b, kept))
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# ------------------------------------------------------------------------ margin softmax


def _margin_target(cosine: jax.Array, m1: jax.Array, m2: jax.Array, m3: jax.Array) -> jax.Array:
    """``psi(m1 theta + m2) - m3`` as ``c + (psi - cos theta) - m3`` (see the module docstring).

    ``psi(phi) = (-1)^k cos(phi) - 2k`` for ``phi`` in ``[k pi, (k+1) pi]``: ``cos`` on
    ``[0, pi]``, continued past ``pi`` so that it keeps decreasing (SphereFace's rule).
    """
    interior = jnp.abs(cosine) < 1
    endpoint = jnp.where(cosine > 0, 0.0, math.pi).astype(cosine.dtype)
    # Double `where`: arccos never sees +-1, where its derivative is infinite.
    theta = jnp.where(interior, jnp.arccos(jnp.where(interior, cosine, 0.0)), endpoint)
    phi = m1 * theta + m2
    k = jax.lax.stop_gradient(jnp.floor(phi / math.pi))  # piecewise constant
    sign = jnp.where(jnp.mod(k, 2.0) == 1.0, -1.0, 1.0).astype(cosine.dtype)
    psi = sign * jnp.cos(phi) - 2.0 * k
    return cosine + (psi - jnp.cos(theta)) - m3


@register(
    task="embedding",
    input_kind="cosines",
    summary="Scaled softmax of cosines with an angular/additive/multiplicative target margin.",
    aliases=("margin_softmax", "arcface", "combined_margin"),
    presets={
        "cosface": {"angular_margin": 0.0, "additive_margin": 0.35},
        "sphereface": {"angular_margin": 0.0, "multiplicative_margin": 4.0},
    },
    margin_based=True,
    hyperparameters=(
        real("scale", "s: multiplies the cosine logits", lower=0.0, lower_open=True),
        real("angular_margin", "m2 (ArcFace): added to the target angle", lower=0.0),
        real("additive_margin", "m3 (CosFace): subtracted from the target cosine", lower=0.0),
        real("multiplicative_margin", "m1 (SphereFace): multiplies the target angle", lower=1.0),
    ),
    recommendations=(
        Recommendation(
            "face recognition / closed-set identity classification with many classes: "
            "cosines to normalised class centres, angular margin (ArcFace)",
            {"scale": 64.0, "angular_margin": 0.5},
        ),
    ),
)
def margin_softmax_loss(
    cosines: ArrayLike,
    labels: ArrayLike,
    *,
    scale: ArrayLike = 64.0,
    angular_margin: ArrayLike = 0.5,
    additive_margin: ArrayLike = 0.0,
    multiplicative_margin: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Combined-margin softmax (InsightFace): ArcFace, CosFace and SphereFace in one.

    With :math:`c_k` the cosine to class :math:`k`, :math:`y` the label and
    :math:`\theta = \arccos c_y`, the target logit gets the margins
    :math:`m_1` (multiplicative), :math:`m_2` (angular) and :math:`m_3` (additive),
    the others none, and the scaled logits go through a softmax cross-entropy:

    .. math::

        l = -\log \frac{e^{s(\psi(m_1\theta + m_2) - m_3)}}
            {e^{s(\psi(m_1\theta + m_2) - m_3)} + \sum_{k \ne y} e^{s\,c_k}},
        \qquad \psi(\varphi) = (-1)^k \cos\varphi - 2k,\ \varphi \in [k\pi, (k+1)\pi]

    ArcFace is :math:`(m_1, m_2, m_3) = (1, 0.5, 0)` (the default, with
    :math:`s = 64`); CosFace :math:`(1, 0, 0.35)` (preset ``"cosface"``); SphereFace
    :math:`(4, 0, 0)` (preset ``"sphereface"``); :math:`(1, 0, 0)` is the plain
    normalised softmax. The cosines are those between L2-normalised embeddings
    and L2-normalised class weights (``x_hat @ w_hat.T``); values beyond
    :math:`\pm 1` (rounding) are clipped to :math:`\pm 1`.

    Past :math:`\pi` (:math:`m_1\theta + m_2 > \pi`, e.g. ArcFace with
    :math:`\theta > \pi - m_2`) :math:`\cos` would rise again and reward a worse
    angle; :math:`\psi` continues it decreasing and continuously, SphereFace's
    rule, and equals :math:`\cos` on :math:`[0, \pi]`. InsightFace's ArcFace
    instead uses :math:`c_y - m_2 \sin m_2` there (a jump at
    :math:`\theta = \pi - m_2`), and its ``easy_margin`` uses :math:`c_y` for
    :math:`c_y < 0`; pytorch-metric-learning's ``ArcFaceLoss`` keeps
    :math:`\cos(\theta + m_2)`. All agree for :math:`\theta \le \pi - m_2`.

    The derivative of :math:`\arccos` is infinite at :math:`c_y = \pm 1`; there
    the target logit's derivative is taken as that of :math:`c_y` (1), never
    NaN, and the value is exact (see the module docstring).

    Args:
        cosines: ``[..., K]`` floating cosines in :math:`[-1, 1]`, class axis last.
        labels: ``[...]`` integer class indices in ``[0, K)``; other values
            remove the example (checked mode raises).
        scale: positive scale :math:`s` (default 64).
        angular_margin: :math:`m_2 \ge 0` (ArcFace), default 0.5.
        additive_margin: :math:`m_3 \ge 0` (CosFace), default 0.
        multiplicative_margin: :math:`m_1 \ge 1` (SphereFace), default 1.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[...]``).
        weights: optional per-example weights, a scalar or of the shape ``[...]``.
        where: optional boolean per-example mask; ``False`` examples contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> c = jnp.array([[0.8, 0.1, -0.2], [0.3, 0.6, 0.0]])
        >>> y = jnp.array([0, 1])
        >>> lossjax.margin_softmax_loss(c, y, scale=8.0, reduction="none")
        Array([0.08450048, 1.5747659 ], dtype=float32)

    References:
        Deng, Guo, Xue & Zafeiriou, "ArcFace: Additive Angular Margin Loss for
        Deep Face Recognition", CVPR 2019 (https://arxiv.org/abs/1801.07698);
        Wang et al., "CosFace: Large Margin Cosine Loss", CVPR 2018
        (https://arxiv.org/abs/1801.09414); Liu et al., "SphereFace: Deep
        Hypersphere Embedding for Face Recognition", CVPR 2017
        (https://arxiv.org/abs/1704.08063).
    """
    _checks.check_reduction(reduction)
    cosines, labels, keep = prepare_class_labels(
        cosines, labels, where, -1, None, logits_fill=0.0, name="cosines"
    )
    dtype = cosines.dtype
    # Clip with `where` (jnp.clip would halve the gradient at exactly +-1).
    cosines = jnp.where(cosines > 1, 1.0, jnp.where(cosines < -1, -1.0, cosines)).astype(dtype)
    m1, m2, m3 = (
        _checks.hyperparameter(v, dtype)
        for v in (multiplicative_margin, angular_margin, additive_margin)
    )
    classes = jnp.arange(cosines.shape[-1]).reshape((1,) * labels.ndim + (-1,))
    is_target = classes == labels[..., None]
    target = jnp.sum(jnp.where(is_target, cosines, 0.0), axis=-1)
    scale = _checks.hyperparameter(scale, dtype)
    target_logit = scale * _margin_target(target, m1, m2, m3)
    others, _ = _masked_logsumexp(scale * cosines, ~is_target)
    values = jax.nn.softplus(others - target_logit)
    if cosines.shape[-1] == 1:  # the target alone: probability 1, loss 0
        values = jnp.zeros_like(values)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


# -------------------------------------------------------------------------------- circle


@register(
    task="embedding",
    input_kind="embeddings",
    summary="Circle loss: pair similarities re-weighted by how far each is from its optimum.",
    aliases=("circle",),
    margin_based=True,
    hyperparameters=(
        real("gamma", "scale of the similarities", lower=0.0),
        real("margin", "relaxation m: optima 1 + m and -m, decision margins 1 - m and m"),
        flag("normalize", "L2-normalise the embeddings first (cosine similarity)"),
    ),
    recommendations=(
        Recommendation(
            "pair-similarity learning with class labels in the batch (retrieval, re-id): "
            "every positive and negative pair, each weighted by its distance to the optimum",
            {"gamma": 80.0, "margin": 0.4},
        ),
    ),
)
def circle_loss(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    gamma: ArrayLike = 80.0,
    margin: ArrayLike = 0.4,
    normalize: bool = True,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Circle loss (Sun et al. 2020) over the pairs of a batch, one value per anchor; Keras ``Circle``.

    With cosine distances :math:`d_{ij} = \max(1 - \hat x_i \cdot \hat x_j, 0)`, the
    positives :math:`P(i)` (same label, :math:`j \ne i`) and negatives :math:`N(i)`:

    .. math::

        l_i = \mathrm{softplus}\Big(
            \mathrm{LSE}_{p \in P(i)}\big[-\gamma\,\alpha_p\,(m - d_{ip})\big]
            + \mathrm{LSE}_{n \in N(i)}\big[\gamma\,\alpha_n\,(1 - m - d_{in})\big]\Big)

    with :math:`\alpha_p = [m + d_{ip}]_+` and :math:`\alpha_n = [1 + m - d_{in}]_+`,
    i.e. the paper's :math:`\alpha_p = [O_p - s_p]_+`, :math:`\alpha_n = [s_n - O_n]_+`
    with optima :math:`O_p = 1 + m`, :math:`O_n = -m` and margins
    :math:`\Delta_p = 1 - m`, :math:`\Delta_n = m` on the similarities :math:`s = 1 - d`.

    This is ``keras.losses.Circle`` (defaults :math:`\gamma = 80`, :math:`m = 0.4`,
    ``remove_diagonal=True``), including its gradient, which flows through the
    weights :math:`\alpha`. The authors' code holds :math:`\alpha` constant in the
    backward pass (``detach``): the values agree, the gradients do not. Keras
    expects unit-norm inputs; ``normalize=True`` (default) normalises here,
    which changes nothing for unit-norm inputs. An anchor without a positive
    or a negative has no value and is removed from the reduction, as Keras's
    mask of the zero losses does for ``"sum_over_batch_size"``.

    ``where`` removes an embedding entirely (no value, not a candidate);
    ``weights`` weigh the anchors. With ``axis_name`` the embeddings, labels and
    ``where`` are all-gathered: candidates are the global batch, and value and
    gradient equal the single-device loss on the concatenated batch.

    Args:
        embeddings: ``[N, D]`` floating embeddings.
        labels: ``[N]`` integer class labels.
        gamma: non-negative scale :math:`\gamma` (default 80).
        margin: the relaxation :math:`m` (default 0.4).
        normalize: L2-normalise the embeddings first (default True).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[N]``).
        weights: optional per-anchor weights, a scalar or ``[N]``.
        where: optional boolean ``[N]`` mask; ``False`` embeddings take no part.
        axis_name: mapped axis name (or tuple of names) over which the batch
            is split; enables the global candidates and the global mean.

    Returns:
        The reduced loss (float32 at least), or the ``[N]`` per-anchor values
        (0 for an anchor without a positive or a negative).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> x = jnp.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])
        >>> lossjax.circle_loss(x, jnp.array([0, 0, 1, 1]), gamma=2.0, reduction="none")
        Array([0.91149884, 1.202249  , 1.202249  , 0.91149884], dtype=float32)

    References:
        Sun et al., "Circle Loss: A Unified Perspective of Pair Similarity
        Optimization", CVPR 2020 (https://arxiv.org/abs/2002.10857);
        Keras ``keras.losses.Circle``.
    """
    _checks.check_reduction(reduction)
    _checks.check_axis_name(axis_name)  # before the all-gathers name it
    x, labels, input_dtype = _embeddings_and_labels(embeddings, labels)
    where = prepare_where(where, (x.shape[0],))
    x = mask_inputs(where, x, 0.0, axis=1)
    gamma = _checks.hyperparameter(gamma, x.dtype)
    margin = _checks.hyperparameter(margin, x.dtype)
    if normalize:
        x = _normalize(x, input_dtype)

    similarity = jnp.matmul(x, gather_batch(x, axis_name).T, precision=_HIGHEST)
    distance = jnp.maximum(1.0 - similarity, 0.0)
    positive, negative = _pair_masks(labels, where, axis_name)
    alpha_p = jnp.maximum(margin + distance, 0.0)
    alpha_n = jnp.maximum(1.0 + margin - distance, 0.0)
    lse_p, has_p = _masked_logsumexp(-gamma * alpha_p * (margin - distance), positive)
    lse_n, has_n = _masked_logsumexp(gamma * alpha_n * (1.0 - margin - distance), negative)
    both = has_p & has_n
    values = jnp.where(both, jax.nn.softplus(lse_p + lse_n), 0.0)
    keep = both if where is None else both & where
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )
