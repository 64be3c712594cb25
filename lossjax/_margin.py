r"""Margin losses: squared hinge, perceptron, sparsemax, multiclass hinge, Fenchel-Young.

The binary losses are elementwise (``reduction="none"`` returns the shape of the
first argument) and go through the elementwise front (:func:`prepare_pair`);
their labels are mapped to signs :math:`y' = +1` if :math:`y > 0`, else
:math:`-1` (:func:`lossjax._numerics.label_signs`, shared with
:func:`lossjax.hinge_loss`), so labels in :math:`\{0, 1\}` and in
:math:`\{-1, +1\}` are both accepted as they are.

The multiclass losses take scores ``[..., K]`` with the class axis last and
integer labels ``[...]``; ``reduction="none"`` returns one value per example.
Their front is :func:`prepare_class_labels`: examples removed by ``where`` and
examples whose label is outside ``[0, K)`` contribute exactly nothing, to the
value and to the gradient, whatever their scores hold (NaN included), and
are left out of the mean's denominator.

Numerics:

* **Differences first.** The multiclass losses need only the differences
  :math:`s_k - s_y`, which are formed before any maximum or sum, so that the
  losses are exact for scores of any size (``±1e4`` included); optax's
  multiclass hinge :math:`\max_k (s_k + 1 - \delta_{ky}) - s_y` adds the
  margin to the large scores first, which rounds it away at :math:`10^8`.
* **Sparsemax.** The projection onto the simplex sorts the scores shifted by
  their maximum (an exact shift: the projection is shift invariant). The loss
  is :math:`\sum_k p_k (s_k - s_y) + \tfrac12 \sum_k p_k (1 - p_k)` with
  :math:`p = \operatorname{sparsemax}(s)`: no cancellation, 0 exactly when
  :math:`p` is the one-hot of the label. Its gradient is
  :math:`\operatorname{sparsemax}(s) - \operatorname{onehot}(y)` exactly (a
  ``custom_jvp``; differentiating through the sort would add rounding), and
  its Hessian is the Jacobian of the sparsemax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import (
    AxisName,
    Reduction,
    class_vector,
    combine_weights,
    prepare_class_labels,
    prepare_class_targets,
    prepare_pair,
    reduce_loss,
)
from lossjax._registry import (
    ANSWER,
    CLASS_WEIGHTS,
    Recommendation,
    choice,
    real,
    register,
)

HINGE_KINDS = ("crammer_singer", "weston_watkins")
HINGE_POWERS = (1, 2)


# What `suggest(..., margin=True)` says of both perceptron losses.
NO_MARGIN = Recommendation(
    "no margin at all: zero once the label scores highest, so the boundary may end "
    "anywhere; prefer the hinge for a max-margin classifier",
    when=("margin",),
)


# -- reference formulas -------------------------------------------------------------------


def _label_differences(scores: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(d, others)``: ``d_k = s_k - s_y`` and the mask of the classes other than the label."""
    classes = jax.lax.broadcasted_iota(labels.dtype, scores.shape, scores.ndim - 1)
    s_y = jnp.take_along_axis(scores, labels[..., None], axis=-1)
    return scores - s_y, labels[..., None] != classes


def _crammer_singer(scores: jax.Array, labels: jax.Array, margin: jax.Array) -> jax.Array:
    """``max(0, m + max_{k != y} (s_k - s_y))``; 0 with a single class."""
    d, others = _label_differences(scores, labels)
    worst = jnp.max(jnp.where(others, d, -jnp.inf), axis=-1)
    return jax.nn.relu(margin + worst)


def _weston_watkins(scores: jax.Array, labels: jax.Array, margin: jax.Array, p: int) -> jax.Array:
    """``sum_{k != y} max(0, m + s_k - s_y)^p / K`` (PyTorch's ``MultiMarginLoss``)."""
    d, others = _label_differences(scores, labels)
    terms = jax.nn.relu(margin + d)
    if p == 2:
        terms = jnp.square(terms)
    terms = jnp.where(others, terms, jnp.zeros((), terms.dtype))
    return jnp.sum(terms, axis=-1) / scores.shape[-1]


def _sparsemax(scores: jax.Array) -> jax.Array:
    """The Euclidean projection of ``scores`` onto the simplex, along the last axis.

    Sorted decreasingly, ``z_(1) >= ... >= z_(K)``, the support is the longest
    prefix with ``1 + k z_(k) > sum_{j <= k} z_(j)`` and ``tau`` the threshold
    ``(sum_{j <= k*} z_(j) - 1) / k*``; then ``p = max(z - tau, 0)``.
    """
    # The projection is shift invariant: subtracting the (constant) maximum is exact
    # and keeps the cumulative sums of large scores small.
    z = scores - jax.lax.stop_gradient(jnp.max(scores, axis=-1, keepdims=True))
    ordered = -jnp.sort(-z, axis=-1)
    cumulative = jnp.cumsum(ordered, axis=-1)
    k = jax.lax.broadcasted_iota(z.dtype, z.shape, z.ndim - 1) + 1
    support = jnp.sum(1 + k * ordered > cumulative, axis=-1, keepdims=True)  # >= 1
    tau = (jnp.take_along_axis(cumulative, support - 1, axis=-1) - 1) / support.astype(z.dtype)
    return jax.nn.relu(z - tau)


def _sparsemax_loss_and_probabilities(
    scores: jax.Array, labels: jax.Array
) -> tuple[jax.Array, jax.Array]:
    p = _sparsemax(scores)
    d, _ = _label_differences(scores, labels)
    # Outside the support p_k = 0 and s_k may be -inf: the term is 0, not 0 * inf.
    d = jnp.where(p > 0, d, jnp.zeros((), d.dtype))
    value = jnp.sum(p * d, axis=-1) + 0.5 * jnp.sum(p * (1 - p), axis=-1)
    return value, p


@jax.custom_jvp
def _sparsemax_loss(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """``Omega*(s) - s_y`` for the Gini negentropy ``Omega``: the sparsemax loss."""
    return _sparsemax_loss_and_probabilities(scores, labels)[0]


@_sparsemax_loss.defjvp
def _sparsemax_loss_jvp(primals, tangents):
    # d loss = <sparsemax(s) - onehot(y), ds> exactly; labels are integers (no tangent).
    # The tangent stays a differentiable function of s: its derivative, the Hessian,
    # is the Jacobian of the sparsemax.
    scores, labels = primals
    scores_dot, _ = tangents
    value, p = _sparsemax_loss_and_probabilities(scores, labels)
    classes = jax.lax.broadcasted_iota(labels.dtype, scores.shape, scores.ndim - 1)
    onehot = (labels[..., None] == classes).astype(scores.dtype)
    return value, jnp.sum((p - onehot) * scores_dot, axis=-1)


# -- binary losses --------------------------------------------------------------------------


@register(
    task="binary",
    input_kind="scores",
    summary="Squared max-margin loss max(0, m - y * score)^2: differentiable, penalises violations more.",
    aliases=(
        "squared_hinge",
        "l2_hinge",
    ),
    margin_based=True,
    hyperparameters=(real("margin", "required margin y * score", lower=0.0),),
    recommendations=(
        Recommendation(
            "max-margin classifier with a smooth loss: squared hinge (L2-SVM) is differentiable and "
            "penalises margin violations more",
            {"margin": 1.0},
            when=("margin",),
            score=ANSWER,
        ),
    ),
)
def squared_hinge_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Squared hinge loss :math:`l = \max(0, m - y' s)^2`, elementwise.

    .. math::

        l = \max(0,\; m - y' s)^2, \qquad
        y' = \begin{cases} +1 & y > 0 \\ -1 & \text{otherwise} \end{cases}

    The labels are mapped to signs exactly as in :func:`lossjax.hinge_loss`, so
    labels in :math:`\{0, 1\}` (float, integer or bool) and in
    :math:`\{-1, +1\}` are both accepted as they are. Unlike the hinge, the
    loss is differentiable everywhere (gradient :math:`-2 y' \max(0, m - y's)`).

    Compared with other libraries: with ``margin=1`` this is Keras's
    ``SquaredHinge``. Keras maps the labels :math:`\{0, 1\}` to
    :math:`\{-1, +1\}` only when every label of the batch is 0 or 1, and
    otherwise uses the labels as given; here :math:`y' = \pm 1` always
    (``keras.losses.SquaredHinge()(y, s) == squared_hinge_loss(s, y)`` for
    labels in :math:`\{0, 1\}` or :math:`\{-1, +1\}`). scikit-learn's
    ``LinearSVC(loss="squared_hinge")`` trains with this loss (``margin=1``).

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
        The reduced loss (float32 at least), or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> scores = jnp.array([2.0, 0.5, 0.3])
        >>> lossjax.squared_hinge_loss(scores, jnp.array([1, 1, 0]), reduction="none")
        Array([0.       , 0.25     , 1.6899998], dtype=float32)

    References:
        Keras ``keras.losses.SquaredHinge``; scikit-learn
        ``sklearn.svm.LinearSVC``; Cortes and Vapnik, "Support-Vector
        Networks", 1995.
    """
    _checks.check_reduction(reduction)
    scores, labels, where = prepare_pair("scores", scores, "labels", labels, where)
    margin = _checks.hyperparameter(margin, scores.dtype)
    values = jnp.square(jax.nn.relu(margin - _numerics.label_signs(labels, scores.dtype) * scores))
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="binary",
    input_kind="scores",
    summary="max(0, -y * score): zero once the sign is right; the perceptron's update rule.",
    aliases=("perceptron",),
    margin_based=True,
    recommendations=(NO_MARGIN,),
)
def perceptron_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary perceptron loss :math:`l = \max(0, -y' s)`, elementwise.

    .. math::

        l = \max(0,\; -y' s), \qquad
        y' = \begin{cases} +1 & y > 0 \\ -1 & \text{otherwise} \end{cases}

    The hinge loss with margin 0: zero as soon as the sign of the score is
    right, so its (sub)gradient :math:`-y'` on a misclassified example is the
    perceptron's update. The (sub)gradient at :math:`s = 0` is 0.

    Compared with other libraries: this is optax's ``perceptron_loss``, which
    expects labels in :math:`\{-1, +1\}`; labels in :math:`\{0, 1\}` are
    accepted here too (:math:`y' = +1` if :math:`y > 0`), while optax would
    give a zero loss for every label 0 (``optax.losses.perceptron_loss(s, 2 * y - 1)``
    converts).

    Args:
        scores: floating array of decision values (raw scores), any shape.
        labels: labels with exactly the shape of ``scores``, in
            :math:`\{0, 1\}` or :math:`\{-1, +1\}`.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> scores = jnp.array([2.0, -0.5, 0.3])
        >>> lossjax.perceptron_loss(scores, jnp.array([1, 1, -1]), reduction="none")
        Array([0. , 0.5, 0.3], dtype=float32)

    References:
        Rosenblatt, "The Perceptron: a Probabilistic Model for Information
        Storage and Organization in the Brain", 1958; optax
        ``optax.losses.perceptron_loss``.
    """
    _checks.check_reduction(reduction)
    scores, labels, where = prepare_pair("scores", scores, "labels", labels, where)
    values = jax.nn.relu(-_numerics.label_signs(labels, scores.dtype) * scores)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="binary",
    input_kind="logits",
    summary="Fenchel-Young loss of the sparse sigmoid: zero once y * logit >= 1, linear far from it.",
    aliases=(
        "sparsemax",
        "binary_sparsemax",
    ),
    margin_based=True,
    recommendations=(
        Recommendation(
            "margin with sparse probabilities: sparsemax is zero beyond a margin of 1 like the "
            "hinge, yet gives probabilities, exactly 0 or 1 beyond the margin",
            when=("margin",),
            score=ANSWER - 2.0,
        ),
    ),
)
def sparsemax_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary sparsemax loss: the Fenchel-Young loss of the sparse sigmoid, elementwise.

    With signs :math:`y' = +1` if :math:`y > 0` and :math:`-1` otherwise, and
    :math:`x = -y' z`:

    .. math::

        l = \operatorname{sparse\_plus}(x) =
        \begin{cases} 0 & x \le -1 \\ \tfrac14 (x + 1)^2 & -1 < x < 1 \\
        x & x \ge 1 \end{cases}

    The loss is 0 exactly when the sparse sigmoid
    :math:`\operatorname{clip}((z + 1)/2, 0, 1)` equals the label (a margin
    :math:`y'z \ge 1`), linear for badly misclassified examples (like the
    hinge), and differentiable everywhere, with gradient
    :math:`-y' \operatorname{clip}((x + 1)/2, 0, 1)`. It equals
    :func:`multiclass_sparsemax_loss` on the two scores :math:`(z, 0)` with
    label 0 for a positive example and 1 for a negative one.

    Compared with other libraries: for labels in :math:`\{0, 1\}` this is
    optax's ``sparsemax_loss``. optax counts any nonzero label as positive, so
    a label -1 is positive there and negative here
    (``optax.losses.sparsemax_loss(z, y > 0)`` agrees for every label).

    Args:
        logits: floating array of logits, any shape.
        labels: labels with exactly the shape of ``logits``, in
            :math:`\{0, 1\}` or :math:`\{-1, +1\}`.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([2.0, 0.0, 0.5, -1e4])
        >>> lossjax.sparsemax_loss(logits, jnp.array([1, 1, 0, 1]), reduction="none")
        Array([0.000e+00, 2.500e-01, 5.625e-01, 1.000e+04], dtype=float32)

    References:
        Martins and Astudillo, "From Softmax to Sparsemax: A Sparse Model of
        Attention and Multi-Label Classification", 2016
        (https://arxiv.org/abs/1602.02068); Blondel, Martins and Niculae,
        "Learning with Fenchel-Young Losses", 2020, Sec. 4.4
        (https://arxiv.org/abs/1901.02324); optax ``optax.losses.sparsemax_loss``.
    """
    _checks.check_reduction(reduction)
    logits, labels, where = prepare_pair("logits", logits, "labels", labels, where)
    margins = -_numerics.label_signs(labels, logits.dtype) * logits
    # sparse_plus: 0 below -1, (x + 1)^2 / 4 up to 1, x above. The quadratic sees x
    # clipped to [-1, 1]: the derivative of (x + 1)^2 overflows for |x| > 1.7e38.
    quadratic = 0.25 * jnp.square(jnp.clip(margins, -1.0, 1.0) + 1.0)
    values = jnp.where(margins < 1, quadratic, margins)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# -- multiclass losses ------------------------------------------------------------------------


@register(
    task="multiclass",
    input_kind="scores",
    summary="max_k s_k - s_y: zero once the label scores highest; the multiclass perceptron.",
    aliases=("multiclass_perceptron",),
    margin_based=True,
    recommendations=(NO_MARGIN,),
)
def multiclass_perceptron_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Multiclass perceptron loss :math:`l = \max_k s_k - s_y`, one value per example.

    .. math::

        l = \max_k s_k - s_y = \max\bigl(0,\; \max_{k \ne y} (s_k - s_y)\bigr),

    computed in the second form (differences first, exact for scores of any
    size). Zero when the label's score is the largest; otherwise its gradient
    is the perceptron's update :math:`e_{\hat k} - e_y` for the top class
    :math:`\hat k` (shared equally among tied top classes). This is
    :func:`multiclass_hinge_loss` with ``margin=0``.

    Compared with other libraries: equals optax's
    ``multiclass_perceptron_loss`` (which returns the per-example values:
    ``reduction="none"``) for labels in ``[0, K)``; a label outside that range
    removes the example here (optax's one-hot of it is all zeros, giving
    :math:`\max_k s_k`).

    Args:
        scores: floating array ``[..., K]`` of scores, the class axis last.
        labels: integer array of class indices with the shape of ``scores``
            without its last axis.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to ``labels.shape``.
        where: optional boolean mask of ``labels``' shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses
        (0 for removed examples).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> scores = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
        >>> lossjax.multiclass_perceptron_loss(scores, jnp.array([0, 2]), reduction="none")
        Array([0. , 2.5], dtype=float32)

    References:
        Collins, "Discriminative Training Methods for Hidden Markov Models:
        Theory and Experiments with Perceptron Algorithms", EMNLP 2002; optax
        ``optax.losses.multiclass_perceptron_loss``.
    """
    _checks.check_reduction(reduction)
    scores, labels, keep = prepare_class_labels(
        scores, labels, where, -1, None, logits_fill=0.0, name="scores"
    )
    values = _crammer_singer(scores, labels, jnp.zeros((), scores.dtype))
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


@register(
    task="multiclass",
    input_kind="logits",
    summary="Fenchel-Young loss of sparsemax: sparse probabilities, zero beyond a margin of 1.",
    aliases=("multiclass_sparsemax",),
    margin_based=True,
    recommendations=(
        Recommendation(
            "margin with sparse probabilities: sparsemax is zero beyond a margin of 1 like the "
            "hinge, yet gives probabilities, exactly 0 for the clearly wrong classes",
            when=("margin",),
            score=ANSWER - 2.0,
        ),
    ),
)
def multiclass_sparsemax_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Multiclass sparsemax loss (Martins and Astudillo), one value per example.

    With :math:`p = \operatorname{sparsemax}(z) = \arg\min_{q \in \Delta}
    \lVert q - z \rVert^2` (the Euclidean projection onto the simplex, which
    can put exactly zero probability on classes):

    .. math::

        l = \sum_k p_k\,(z_k - z_y) + \tfrac12 \sum_k p_k (1 - p_k)
          = \tfrac12 \sum_{k \in S} (z_k^2 - \tau^2) + \tfrac12 - z_y,

    where :math:`S` is the support of :math:`p` and :math:`\tau` its
    threshold. This is the Fenchel-Young loss of the Gini negentropy: it is
    zero exactly when :math:`p` is the one-hot of the label (a margin
    :math:`z_y - z_k \ge 1` for all :math:`k \ne y`), non-negative and convex,
    with gradient :math:`\operatorname{sparsemax}(z) - \operatorname{onehot}(y)`
    (exact, not differentiated through the sort) and Hessian the Jacobian of
    the sparsemax. Scores of :math:`-\infty` exclude a class.

    Compared with other libraries: equals optax's ``multiclass_sparsemax_loss``
    (which returns the per-example values: ``reduction="none"``; it takes a
    batch ``[N, K]`` only) for labels in ``[0, K)``; a label outside that
    range removes the example here.

    Args:
        logits: floating array ``[..., K]`` of scores, the class axis last.
        labels: integer array of class indices with the shape of ``logits``
            without its last axis.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to ``labels.shape``.
        where: optional boolean mask of ``labels``' shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses
        (0 for removed examples).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 0.9, 0.0]])
        >>> lossjax.multiclass_sparsemax_loss(logits, jnp.array([0, 2]), reduction="none")
        Array([0.  , 0.99], dtype=float32)

    References:
        Martins and Astudillo, "From Softmax to Sparsemax: A Sparse Model of
        Attention and Multi-Label Classification", 2016
        (https://arxiv.org/abs/1602.02068); optax
        ``optax.losses.multiclass_sparsemax_loss``.
    """
    _checks.check_reduction(reduction)
    logits, labels, keep = prepare_class_labels(logits, labels, where, -1, None, logits_fill=0.0)
    values = _sparsemax_loss(logits, labels)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


@register(
    task="multiclass",
    input_kind="scores",
    summary="Multiclass SVM loss (Crammer-Singer or Weston-Watkins): zero beyond the margin.",
    aliases=(
        "multiclass_hinge",
        "categorical_hinge",
        "multi_margin",
    ),
    margin_based=True,
    handles_imbalance=True,
    hyperparameters=(
        real("margin", "required margin s_y - s_k", lower=0.0),
        choice(
            "kind",
            "most violating class or sum over classes (PyTorch MultiMarginLoss)",
            ("crammer_singer", "weston_watkins"),
        ),
        choice("p", "power of each hinge term (2: squared hinge)", (1, 2)),
        CLASS_WEIGHTS,
    ),
    recommendations=(
        Recommendation(
            "max-margin multiclass classifier (Crammer-Singer SVM): zero once the label beats every "
            "other class by the margin; scores, not probabilities",
            {"margin": 1.0},
            when=("margin",),
            score=ANSWER,
        ),
        Recommendation(
            "max-margin with a smooth loss: squared multiclass hinge, differentiable, penalises "
            "margin violations more",
            {"p": 2},
            when=("margin",),
            score=ANSWER - 1.0,
        ),
        Recommendation(
            "weighted multiclass hinge: class_weights = inverse class frequencies (a [K] array) "
            "make rare classes count as much as common ones",
            when=("margin", "imbalanced"),
            score=ANSWER,
            requires=("class_weights",),
            handles_imbalance=True,
        ),
    ),
)
def multiclass_hinge_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    kind: str = "crammer_singer",
    p: int = 1,
    class_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Multiclass hinge loss, Crammer-Singer or Weston-Watkins, one value per example.

    With margin :math:`m`, power :math:`p` and :math:`K` classes:

    .. math::

        l^{\text{CS}} = \max\bigl(0,\; m + \max_{k \ne y} (s_k - s_y)\bigr)^p,
        \qquad
        l^{\text{WW}} = \frac1K \sum_{k \ne y} \max(0,\; m + s_k - s_y)^p .

    ``kind="crammer_singer"`` (default) penalises the most violating class
    only; ``kind="weston_watkins"`` sums over every class inside the margin
    and divides by the number of classes :math:`K`, as PyTorch's
    ``MultiMarginLoss`` does (multiply by :math:`K` for the textbook sum).
    Differences :math:`s_k - s_y` are formed first, so the loss is exact for
    scores of any size. With ``class_weights`` :math:`w`, an example counts
    with weight :math:`w_{y}` in the numerator and the denominator of the mean
    (the convention of :func:`lossjax.sparse_categorical_cross_entropy`).

    Compared with other libraries:

    * optax ``multiclass_hinge_loss`` is ``kind="crammer_singer"`` with
      ``margin=1, p=1`` and ``reduction="none"``.
    * PyTorch ``MultiMarginLoss(p, margin, weight)`` is
      ``kind="weston_watkins"``; ``"none"`` and ``"sum"`` agree with it, also
      with ``weight=class_weights``. With class weights PyTorch's mean divides
      by the number of examples :math:`N` rather than :math:`\sum_i w_{y_i}`:
      use ``reduction="sum"`` and divide by :math:`N` to reproduce it.
    * Keras ``CategoricalHinge`` (one-hot targets) computes
      :math:`\max(0, 1 + \max(0, \max_{k \ne y} s_k) - s_y)`: the label's own
      entry of :math:`(1 - t) s` is 0 and enters the maximum, so it differs
      from Crammer-Singer when every other score is negative. Appending a
      class of score 0 reproduces it:
      ``multiclass_hinge_loss(jnp.concatenate([s, jnp.zeros_like(s[..., :1])], -1), y)``.

    Labels outside ``[0, K)`` remove their example.

    Args:
        scores: floating array ``[..., K]`` of scores, the class axis last.
        labels: integer array of class indices with the shape of ``scores``
            without its last axis.
        margin: non-negative margin :math:`m`; a Python number or a (traced,
            differentiable) scalar.
        kind: ``"crammer_singer"`` (default) or ``"weston_watkins"``; static.
        p: the power, the Python int 1 (default) or 2 (squared hinge); static.
        class_weights: optional non-negative ``[K]`` array of class weights.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to ``labels.shape``.
        where: optional boolean mask of ``labels``' shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses
        (0 for removed examples; times :math:`w_y` with class weights).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> scores = jnp.array([[2.0, 1.5, 0.1], [0.5, 2.5, 0.0]])
        >>> labels = jnp.array([0, 2])
        >>> lossjax.multiclass_hinge_loss(scores, labels, reduction="none")
        Array([0.5, 3.5], dtype=float32)
        >>> lossjax.multiclass_hinge_loss(scores, labels, kind="weston_watkins",
        ...                               reduction="none")
        Array([0.16666667, 1.6666667 ], dtype=float32)

    References:
        Crammer and Singer, "On the Algorithmic Implementation of Multiclass
        Kernel-based Vector Machines", JMLR 2001; Weston and Watkins, "Support
        Vector Machines for Multi-Class Pattern Recognition", ESANN 1999;
        PyTorch ``torch.nn.MultiMarginLoss``; optax
        ``optax.losses.multiclass_hinge_loss``; Keras
        ``keras.losses.CategoricalHinge``.
    """
    _checks.check_reduction(reduction)
    scores, labels, keep = prepare_class_labels(
        scores, labels, where, -1, None, logits_fill=0.0, name="scores"
    )
    dtype = scores.dtype
    margin = _checks.hyperparameter(margin, dtype)
    if kind == "crammer_singer":
        values = _crammer_singer(scores, labels, margin)
        if p == 2:
            values = jnp.square(values)
    else:
        values = _weston_watkins(scores, labels, margin, p)
    if class_weights is not None:
        cw = class_vector("class_weights", class_weights, scores.shape[-1], dtype)
        weights = combine_weights(weights, cw[labels])
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


# -- Fenchel-Young losses ----------------------------------------------------------------------


def make_fenchel_young_loss(max_fn: Callable[[jax.Array], jax.Array]) -> Callable[..., jax.Array]:
    r"""Builds the Fenchel-Young loss of a max function (Blondel, Martins and Niculae).

    For a convex "max function" :math:`\Omega^*` (a regularised maximum, the
    conjugate of a regulariser :math:`\Omega`), the loss of scores :math:`s`
    against targets :math:`t` is

    .. math::

        l(s, t) = \Omega^*(s) - \langle s, t \rangle,
        \qquad \nabla_s\, l = \nabla \Omega^*(s) - t .

    ``max_fn = jax.nn.logsumexp`` gives the softmax cross-entropy (for targets
    summing to 1); a hard ``jnp.max`` gives the multiclass perceptron loss on
    one-hot targets. Blondel et al. add :math:`\Omega(t)`, a constant in
    :math:`s` (with logsumexp, the targets' negative entropy, which turns the
    cross-entropy into the KL divergence); optax and lossjax leave it out (it
    is 0 for one-hot targets with logsumexp and with the sparsemax's max
    function). The gradient is whatever JAX
    differentiates ``max_fn`` to (``jax.grad(max_fn)``, the regularised
    argmax). A target of 0 against a score of :math:`-\infty` adds 0, in the
    value and the gradient.

    The returned function ``loss(scores, targets, *, reduction="mean",
    weights=None, where=None, axis_name=None)`` takes scores and targets of
    the same shape ``[..., K]`` with the class axis last; ``max_fn`` is applied
    to each 1-D vector ``[K]`` (``jnp.vectorize``), giving one value per
    example over the leading axes, which goes through the reduction contract
    (:func:`lossjax.reduce_loss`). Examples removed by ``where`` contribute
    nothing, whatever their scores hold.

    Compared with optax: ``optax.losses.make_fenchel_young_loss`` returns a
    function whose values are per example, unreduced (``reduction="none"``
    here), and that forwards extra positional and keyword arguments to
    ``max_fn``; here bind them beforehand (``functools.partial(max_fn, ...)``),
    since the keywords are the reduction contract's.

    Args:
        max_fn: a function of a 1-D score vector ``[K]`` returning a scalar,
            convex, e.g. ``jax.nn.logsumexp``; JAX-differentiable.

    Returns:
        The loss function ``loss(scores, targets, *, reduction, weights, where,
        axis_name)``: a scalar for ``"mean"`` and ``"sum"`` (float32 at least),
        the per-example values ``scores.shape[:-1]`` for ``"none"``.

    Example:
        >>> import jax, jax.numpy as jnp, lossjax
        >>> loss = lossjax.make_fenchel_young_loss(jax.nn.logsumexp)
        >>> scores = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
        >>> targets = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        >>> loss(scores, targets, reduction="none")
        Array([0.41702986, 0.19673419], dtype=float32)

    References:
        Blondel, Martins and Niculae, "Learning with Fenchel-Young Losses",
        JMLR 2020 (https://arxiv.org/abs/1901.02324); optax
        ``optax.losses.make_fenchel_young_loss``.
    """
    if not callable(max_fn):
        raise TypeError(
            f"lossjax: `max_fn` must be a function of a score vector, got {type(max_fn).__name__}."
        )
    per_example = jnp.vectorize(max_fn, signature="(n)->()")

    def fenchel_young_loss(
        scores: Any,
        targets: Any,
        *,
        reduction: Reduction = "mean",
        weights: ArrayLike | None = None,
        where: ArrayLike | None = None,
        axis_name: AxisName | None = None,
    ) -> jax.Array:
        r"""A Fenchel-Young loss :math:`\Omega^*(s) - \langle s, t \rangle` per example.

        Built by :func:`lossjax.make_fenchel_young_loss`; see there.
        """
        _checks.check_reduction(reduction)
        scores, targets, where = prepare_class_targets(scores, targets, where, -1, name="scores")
        maxima = jnp.asarray(per_example(scores)).astype(scores.dtype)
        values = maxima - jnp.sum(_numerics.x_log_y(targets, scores), axis=-1)
        return reduce_loss(
            values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
        )

    fenchel_young_loss.max_fn = max_fn  # type: ignore[attr-defined]
    return fenchel_young_loss
