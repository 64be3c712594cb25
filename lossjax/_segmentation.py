"""Segmentation losses: Dice, generalised Dice, Tversky, focal Tversky and Lovász.

Every loss here gives **one value per image**: the spatial axes (and the
classes) are reduced inside the image, and the reduction contract then runs
over the images of the batch (``weights``, ``where``, ``axis_name`` index
images). Inputs are channels-last, ``(batch, *spatial, classes)``, with an
``axis`` option for the class axis; a binary task has one channel. The overlap
losses take targets of the predictions' shape (one-hot masks or probabilities)
or an integer class map without the class axis.

Numerics choices:

* **Counts from probabilities.** With per-pixel probabilities :math:`p` and
  targets :math:`t`, the soft counts of a class are
  :math:`TP = \\sum p t`, :math:`FP = \\sum p (1 - t)`,
  :math:`FN = \\sum (1 - p) t`, each a sum of non-negative terms (never a
  difference such as :math:`\\sum p - TP`, which can round below zero).
  For the sigmoid, :math:`1 - p` is computed as :math:`\\sigma(-z)`, exact
  where :math:`p` rounds to 1.
* **Empty masks.** The Tversky index :math:`(TP + s)/(TP + \\alpha FP + \\beta FN + s)`
  is 0/0 only when nothing is predicted and nothing is present (with
  ``smooth=0`` and probabilities exactly 0): it is then defined as 1 (a
  perfect, empty prediction: loss 0) with a zero gradient, never NaN.
* **Focal exponent.** :math:`(1 - TI)^\\gamma` with :math:`\\gamma < 1` has an
  infinite derivative at :math:`TI = 1`; there (a perfect prediction, the
  minimum of the loss) the derivative is taken as 0.
* **Lovász.** The loss is the Lovász extension of the Jaccard loss evaluated at
  the vector of pixel errors (Berman et al. 2018): the errors are sorted in
  decreasing order (the order carries no gradient: the loss is piecewise
  linear in the errors) and dotted with the increments of the Jaccard loss
  along the sorted prefix. The running counts are integer cumulative sums, so
  they stay exact beyond the 2**24 pixels where float32 counts would round.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import (
    AxisName,
    Reduction,
    class_last,
    class_vector,
    mask_inputs,
    prepare_where,
    reduce_loss,
)
from lossjax._registry import (
    CLASS_AXIS,
    CLASS_WEIGHTS,
    FROM_LOGITS,
    Recommendation,
    choice,
    real,
    register,
)

ACTIVATION = choice(
    "activation",
    "with from_logits: 'softmax' over the classes, or 'sigmoid' per channel",
    ("softmax", "sigmoid"),
)
SMOOTH = real("smooth", "s added to the overlap and to the denominator", lower=0.0)
ALPHA = real("alpha", "weight of the false positives (Salehi et al. 2017)", lower=0.0)
BETA = real("beta", "weight of the false negatives (Salehi et al. 2017)", lower=0.0)


# -- the front: images with a class axis, and their targets ----------------------------------


def _images(name: str, x: jax.Array, axis: int) -> jax.Array:
    """``x`` as ``(batch, *spatial, classes)``; the class axis cannot be the batch axis."""
    if x.ndim < 2:
        raise ValueError(
            f"lossjax: `{name}` must be (batch, *spatial, classes) with a class axis (one "
            f"channel for a binary task), got shape {tuple(x.shape)}."
        )
    if _checks.normalize_axis("axis", axis, x.ndim) == 0:
        raise ValueError(
            f"lossjax: `axis`={axis} is the batch axis of `{name}` {tuple(x.shape)}; the "
            "class axis must be another one (channels-last: axis=-1)."
        )
    return class_last(name, x, axis)


def _prepare(
    predictions: Any,
    targets: Any,
    where: Any,
    axis: int,
    *,
    from_logits: bool,
    activation: str,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array | None]:
    """The overlap losses' front: ``(p, 1 - p, t, where)``, each ``[batch, pixels, classes]``.

    ``targets`` of the predictions' shape are masks or probabilities in [0, 1];
    integer (or bool) targets with the predictions' shape without the class
    axis are a class map (one-hot encoded; with one channel, 1 is the
    foreground). Removed images get predictions 0 and targets 0.
    """
    predictions = _checks.check_floating("predictions", predictions)
    targets = _checks.check_real("targets", targets)
    moved = _images("predictions", predictions, axis)
    num_classes = moved.shape[-1]
    if from_logits and activation == "softmax" and num_classes == 1:
        raise ValueError(
            "lossjax: `activation`='softmax' over a single channel is always 1; a binary "
            "task with one channel needs activation='sigmoid' (or two channels with softmax)."
        )
    is_map = not jnp.issubdtype(targets.dtype, jnp.floating) and tuple(targets.shape) == tuple(
        moved.shape[:-1]
    )
    if not is_map and tuple(targets.shape) != tuple(predictions.shape):
        raise ValueError(
            "lossjax: `targets` must have the shape of `predictions` "
            f"{tuple(predictions.shape)} (masks or probabilities), or be an integer class map "
            f"of shape {tuple(moved.shape[:-1])} (without the class axis, axis={axis}); got "
            f"targets.shape={tuple(targets.shape)}."
        )
    dtype = _checks.compute_dtype(moved, targets)
    batch = moved.shape[0]
    where = prepare_where(where, (batch,))
    moved = mask_inputs(where, moved.astype(dtype), 0.0)
    if is_map:
        labels = targets.astype(jnp.int32)
        labels = mask_inputs(where, labels, 0)
        # Out-of-range classes one-hot to nothing; checked mode raises.
        _checks.check_class_labels("targets", labels, max(num_classes, 2))
        if num_classes == 1:
            t = (labels == 1).astype(dtype)[..., None]
        else:
            t = jax.nn.one_hot(labels, num_classes, dtype=dtype)
    else:
        t = mask_inputs(where, class_last("targets", targets, axis).astype(dtype), 0.0)
        _checks.check_unit_interval("targets", t, "masks or probabilities in [0, 1]")
    moved = moved.reshape(batch, -1, num_classes)
    t = t.reshape(batch, -1, num_classes)
    if not from_logits:
        _checks.check_probabilities("predictions", moved)
        return moved, 1.0 - moved, t, where
    if activation == "sigmoid":
        return jax.nn.sigmoid(moved), jax.nn.sigmoid(-moved), t, where
    p = jax.nn.softmax(moved, axis=-1)
    return p, 1.0 - p, t, where


def _counts(p: jax.Array, q: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Soft ``TP, FP, FN`` per image and class, ``[batch, classes]``."""
    return jnp.sum(p * t, axis=1), jnp.sum(p * (1.0 - t), axis=1), jnp.sum(q * t, axis=1)


def _ratio_or_one(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator``; 1 with zero gradients where the denominator is 0 (0/0)."""
    nonzero = denominator > 0
    safe = jnp.where(nonzero, denominator, jnp.ones((), denominator.dtype))
    return jnp.where(nonzero, numerator / safe, jnp.ones((), numerator.dtype))


def _tversky_index(
    tp: jax.Array, fp: jax.Array, fn: jax.Array, alpha: Any, beta: Any, smooth: Any
) -> jax.Array:
    return _ratio_or_one(tp + smooth, tp + alpha * fp + beta * fn + smooth)


def _class_mean(values: jax.Array, class_weights: Any) -> jax.Array:
    """``sum_c w_c l_c / sum_c w_c`` per image (the plain mean without weights)."""
    if class_weights is None:
        return jnp.mean(values, axis=-1)
    w = class_vector("class_weights", class_weights, values.shape[-1], values.dtype)
    return _numerics.safe_divide(jnp.sum(w[None, :] * values, axis=-1), jnp.sum(w))


# -- Dice and Tversky -------------------------------------------------------------------------


@register(
    task="segmentation",
    input_kind="from_logits",
    summary="Soft Dice loss per image: 1 - Dice overlap, averaged over the classes.",
    aliases=("dice", "soft_dice", "dice_coefficient_loss"),
    default=True,
    handles_imbalance=True,
    hyperparameters=(FROM_LOGITS, ACTIVATION, SMOOTH, CLASS_WEIGHTS, CLASS_AXIS),
    recommendations=(
        Recommendation(
            "the usual segmentation loss: overlap per image, insensitive to how much background "
            "there is; often added to a pixel-wise cross-entropy for stable early training"
        ),
    ),
)
def dice_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    from_logits: bool = True,
    activation: str = "softmax",
    smooth: ArrayLike = 1.0,
    class_weights: ArrayLike | None = None,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Soft Dice loss per image (Milletari et al. 2016), averaged over the classes.

    With soft counts over the pixels of one image, for class :math:`c`,
    :math:`TP_c = \sum_i p_{ic} t_{ic}`, :math:`FP_c = \sum_i p_{ic}(1 - t_{ic})`,
    :math:`FN_c = \sum_i (1 - p_{ic}) t_{ic}`:

    .. math::

        l = \frac{\sum_c w_c \left(1 - D_c\right)}{\sum_c w_c}, \qquad
        D_c = \frac{TP_c + s}{TP_c + \tfrac12 FP_c + \tfrac12 FN_c + s}
            = \frac{2\,TP_c + 2s}{\sum_i p_{ic} + \sum_i t_{ic} + 2s}

    (:math:`w_c = 1` without ``class_weights``). This is
    :func:`lossjax.tversky_loss` with :math:`\alpha = \beta = 1/2`. A class
    absent from an image and not predicted there has :math:`D_c = 1` (with
    ``smooth=0`` too: 0/0 is defined as 1, never NaN).

    Conventions: equal to optax ``dice_loss`` (its ``smooth`` is this ``smooth``;
    optax's ``class_weights`` multiply before a plain mean, so optax's value is
    this one times :math:`\sum_c w_c / K`; its ``ignore_background=True`` is
    ``class_weights=[0, 1, ..., 1]`` here). In the :math:`2\,TP` form used by
    MONAI (``smooth_nr = smooth_dr``) and segmentation_models_pytorch, their
    smoothing is ``2 * smooth``. Keras ``Dice`` has no smoothing (an epsilon of
    1e-7 in the denominator) and, with ``axis=(1, 2, 3)``, pools the classes
    into one overlap: on one channel it is ``dice_loss(p, t,
    from_logits=False, smooth=0.0)``.

    Args:
        predictions: ``(batch, *spatial, classes)`` logits (or probabilities
            with ``from_logits=False``); the class axis is ``axis``. A binary task
            has one channel (``activation="sigmoid"``).
        targets: masks or probabilities of the predictions' shape, or an integer
            class map of shape ``(batch, *spatial)`` (one-hot encoded; with one
            channel, 1 is the foreground).
        from_logits: whether ``predictions`` are logits (default) or probabilities.
        activation: with ``from_logits=True``, ``"softmax"`` (default) over the
            class axis (multiclass) or ``"sigmoid"`` per channel (binary, or
            multi-label channels).
        smooth: :math:`s \ge 0`, added to the overlap and to the denominator.
        class_weights: optional non-negative ``[K]`` weights of the classes'
            losses in each image's weighted mean.
        axis: the class axis (default ``-1``, channels-last).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per image).
        weights: optional per-image weights, a scalar or ``[batch]``.
        where: optional boolean ``[batch]`` mask of the images to keep.
        axis_name: mapped axis name(s) when the images are sharded over devices.

    Returns:
        The reduced loss (float32 at least), or the ``[batch]`` per-image losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> p = jnp.array([[[0.9], [0.8], [0.1], [0.0]]])  # one image, 4 pixels, 1 channel
        >>> t = jnp.array([[[1.0], [1.0], [0.0], [0.0]]])
        >>> lossjax.dice_loss(p, t, from_logits=False, smooth=0.0)
        Array(0.10526311, dtype=float32)

    References:
        Milletari, Navab and Ahmadi, "V-Net: Fully convolutional neural networks
        for volumetric medical image segmentation", 3DV 2016.
    """
    p, q, t, where = _prepare(
        predictions, targets, where, axis, from_logits=from_logits, activation=activation
    )
    tp, fp, fn = _counts(p, q, t)
    s = _checks.hyperparameter(smooth, p.dtype)
    values = _class_mean(1.0 - _tversky_index(tp, fp, fn, 0.5, 0.5, s), class_weights)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="segmentation",
    input_kind="from_logits",
    summary="Tversky loss per image: Dice with separate weights of false positives and negatives.",
    aliases=("tversky",),
    handles_imbalance=True,
    hyperparameters=(FROM_LOGITS, ACTIVATION, ALPHA, BETA, SMOOTH, CLASS_WEIGHTS, CLASS_AXIS),
    recommendations=(
        Recommendation(
            "small foreground: beta > alpha penalises missed foreground (false negatives) more "
            "than false alarms, trading precision for recall (Salehi et al. 2017)",
            {"alpha": 0.3, "beta": 0.7},
            when=("imbalanced",),
            handles_imbalance=True,
            score=1.0,
        ),
        Recommendation(
            "Dice with a tunable trade-off: alpha weighs false positives, beta false negatives"
        ),
    ),
)
def tversky_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    from_logits: bool = True,
    activation: str = "softmax",
    alpha: ArrayLike = 0.5,
    beta: ArrayLike = 0.5,
    smooth: ArrayLike = 1.0,
    class_weights: ArrayLike | None = None,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Tversky loss per image (Salehi et al. 2017), averaged over the classes.

    With the soft counts of :func:`lossjax.dice_loss`:

    .. math::

        l = \frac{\sum_c w_c \left(1 - TI_c\right)}{\sum_c w_c}, \qquad
        TI_c = \frac{TP_c + s}{TP_c + \alpha\, FP_c + \beta\, FN_c + s}

    :math:`\alpha` weighs the false positives and :math:`\beta` the false
    negatives, as in Salehi et al. and optax ``dice_loss(alpha=, beta=)``;
    :math:`\alpha = \beta = 1/2` is the Dice loss, :math:`\alpha = \beta = 1`
    the Jaccard (IoU) loss. ``alpha`` and ``beta`` may be traced (swept with
    ``jax.vmap``, differentiated).

    Conventions: Keras ``Tversky(alpha=a, beta=b)`` multiplies the false
    *negatives* by ``a`` and the false positives by ``b`` (its code, despite its
    docstring), with no smoothing: it equals ``tversky_loss(p, t,
    from_logits=False, alpha=b, beta=a, smooth=0.0)`` on one channel (up to its
    1e-7 epsilon). Abraham and Khan (2019) also put their :math:`\alpha = 0.7`
    on the false negatives: ``alpha=0.3, beta=0.7`` here.

    Args:
        predictions: ``(batch, *spatial, classes)`` logits (or probabilities
            with ``from_logits=False``); the class axis is ``axis``. A binary task
            has one channel (``activation="sigmoid"``).
        targets: masks or probabilities of the predictions' shape, or an integer
            class map of shape ``(batch, *spatial)`` (one-hot encoded; with one
            channel, 1 is the foreground).
        from_logits: whether ``predictions`` are logits (default) or probabilities.
        activation: with ``from_logits=True``, ``"softmax"`` (default) over the
            class axis or ``"sigmoid"`` per channel.
        alpha: :math:`\alpha \ge 0`, the weight of the false positives.
        beta: :math:`\beta \ge 0`, the weight of the false negatives.
        smooth: :math:`s \ge 0`, added to the overlap and to the denominator.
        class_weights: optional non-negative ``[K]`` weights of the classes.
        axis: the class axis (default ``-1``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per image).
        weights: optional per-image weights, a scalar or ``[batch]``.
        where: optional boolean ``[batch]`` mask of the images to keep.
        axis_name: mapped axis name(s) when the images are sharded over devices.

    Returns:
        The reduced loss (float32 at least), or the ``[batch]`` per-image losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> p = jnp.array([[[0.9], [0.8], [0.1], [0.0]]])
        >>> t = jnp.array([[[1.0], [1.0], [0.0], [0.0]]])
        >>> lossjax.tversky_loss(p, t, from_logits=False, alpha=0.3, beta=0.7, smooth=0.0)
        Array(0.12371135, dtype=float32)

    References:
        Salehi, Erdogmus and Gholipour, "Tversky loss function for image
        segmentation using 3D fully convolutional deep networks", MLMI 2017.
    """
    p, q, t, where = _prepare(
        predictions, targets, where, axis, from_logits=from_logits, activation=activation
    )
    tp, fp, fn = _counts(p, q, t)
    dtype = p.dtype
    a, b, s = (_checks.hyperparameter(v, dtype) for v in (alpha, beta, smooth))
    values = _class_mean(1.0 - _tversky_index(tp, fp, fn, a, b, s), class_weights)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="segmentation",
    input_kind="from_logits",
    summary="Focal Tversky loss per image: (1 - Tversky index)^gamma, averaged over the classes.",
    aliases=("focal_tversky",),
    handles_imbalance=True,
    hyperparameters=(
        FROM_LOGITS,
        ACTIVATION,
        ALPHA,
        BETA,
        real("gamma", "exponent of 1 - TI (the paper's 1/gamma)", lower=0.0, lower_open=True),
        SMOOTH,
        CLASS_WEIGHTS,
        CLASS_AXIS,
    ),
    recommendations=(
        Recommendation(
            "small structures: the Tversky loss with false negatives weighed more, and "
            "gamma < 1 keeps a strong gradient on images that are already mostly right "
            "(Abraham and Khan 2019)",
            {"alpha": 0.3, "beta": 0.7, "gamma": 0.75},
            when=("imbalanced",),
            handles_imbalance=True,
            score=0.5,
        ),
    ),
)
def focal_tversky_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    from_logits: bool = True,
    activation: str = "softmax",
    alpha: ArrayLike = 0.5,
    beta: ArrayLike = 0.5,
    gamma: ArrayLike = 0.75,
    smooth: ArrayLike = 1.0,
    class_weights: ArrayLike | None = None,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Focal Tversky loss per image (Abraham and Khan 2019), averaged over the classes.

    With the Tversky index :math:`TI_c` of :func:`lossjax.tversky_loss`:

    .. math::

        l = \frac{\sum_c w_c \left(1 - TI_c\right)^{\gamma}}{\sum_c w_c}

    ``gamma`` is the exponent itself. The paper writes :math:`(1 - TI)^{1/\gamma}`
    with :math:`\gamma \in [1, 3]` and recommends :math:`\gamma = 4/3`, which
    is the default exponent 0.75 here; it also sums over the classes where this
    averages, and puts its :math:`\alpha = 0.7` on the false negatives (here
    ``alpha=0.3, beta=0.7``). With ``gamma=1`` this is the Tversky loss. Below
    1, the exponent enlarges the gradient of images that are nearly right; at a
    perfect prediction (:math:`TI_c = 1`), where the derivative of the power is
    infinite, the gradient is taken as 0.

    Args:
        predictions: ``(batch, *spatial, classes)`` logits (or probabilities
            with ``from_logits=False``); the class axis is ``axis``. A binary task
            has one channel (``activation="sigmoid"``).
        targets: masks or probabilities of the predictions' shape, or an integer
            class map of shape ``(batch, *spatial)`` (one-hot encoded; with one
            channel, 1 is the foreground).
        from_logits: whether ``predictions`` are logits (default) or probabilities.
        activation: with ``from_logits=True``, ``"softmax"`` (default) over the
            class axis or ``"sigmoid"`` per channel.
        alpha: :math:`\alpha \ge 0`, the weight of the false positives.
        beta: :math:`\beta \ge 0`, the weight of the false negatives.
        gamma: :math:`\gamma > 0`, the exponent (default 0.75).
        smooth: :math:`s \ge 0`, added to the overlap and to the denominator.
        class_weights: optional non-negative ``[K]`` weights of the classes.
        axis: the class axis (default ``-1``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per image).
        weights: optional per-image weights, a scalar or ``[batch]``.
        where: optional boolean ``[batch]`` mask of the images to keep.
        axis_name: mapped axis name(s) when the images are sharded over devices.

    Returns:
        The reduced loss (float32 at least), or the ``[batch]`` per-image losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> p = jnp.array([[[0.9], [0.8], [0.1], [0.0]]])
        >>> t = jnp.array([[[1.0], [1.0], [0.0], [0.0]]])
        >>> lossjax.focal_tversky_loss(p, t, from_logits=False, smooth=0.0, gamma=0.5)
        Array(0.32444277, dtype=float32)

    References:
        Abraham and Khan, "A novel focal Tversky loss function with improved
        attention U-Net for lesion segmentation", ISBI 2019.
    """
    p, q, t, where = _prepare(
        predictions, targets, where, axis, from_logits=from_logits, activation=activation
    )
    tp, fp, fn = _counts(p, q, t)
    dtype = p.dtype
    a, b, g, s = (_checks.hyperparameter(v, dtype) for v in (alpha, beta, gamma, smooth))
    base = jnp.maximum(1.0 - _tversky_index(tp, fp, fn, a, b, s), 0.0)
    values = _class_mean(_numerics.safe_power(base, g), class_weights)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def _generalized_dice_weights(t_sum: jax.Array) -> jax.Array:
    """Sudre's ``1 / T_c**2`` per image, normalised to sum to K, ``[batch, classes]``.

    A class absent from the image gets the largest weight of the present ones
    (MONAI's rule), so that predicting it is still penalised; an image without
    any target gets equal weights. Computed as ``(T_min / T_c)**2`` so that no
    weight overflows, whatever the counts.
    """
    present = t_sum > 0
    big = jnp.asarray(jnp.finfo(t_sum.dtype).max, t_sum.dtype)
    smallest = jnp.min(jnp.where(present, t_sum, big), axis=-1, keepdims=True)
    safe = jnp.where(present, t_sum, jnp.ones((), t_sum.dtype))
    raw = jnp.where(present, jnp.square(smallest / safe), 1.0)
    return raw * (t_sum.shape[-1] / jnp.sum(raw, axis=-1, keepdims=True))


@register(
    task="segmentation",
    input_kind="from_logits",
    summary="Generalised Dice loss per image: classes weighted by inverse squared target volume.",
    aliases=("generalised_dice", "generalized_dice", "gdl"),
    handles_imbalance=True,
    hyperparameters=(FROM_LOGITS, ACTIVATION, SMOOTH, CLASS_AXIS),
    recommendations=(
        Recommendation(
            "many classes of very different sizes: each class weighted by 1 / volume^2 in "
            "every image, so small structures count as much as large ones (Sudre et al. 2017)",
            when=("imbalanced",),
            handles_imbalance=True,
            score=0.8,
        ),
    ),
)
def generalized_dice_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    from_logits: bool = True,
    activation: str = "softmax",
    smooth: ArrayLike = 1.0,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Generalised Dice loss per image (Sudre et al. 2017).

    With the soft counts of :func:`lossjax.dice_loss` and the target volume
    :math:`T_c = \sum_i t_{ic}` of each class in the image:

    .. math::

        l = 1 - \frac{\sum_c w_c\, TP_c + s}
                     {\sum_c w_c \left(TP_c + \tfrac12 FP_c + \tfrac12 FN_c\right) + s},
        \qquad w_c \propto \frac{1}{T_c^2}, \quad \sum_c w_c = K

    For :math:`s = 0` this is Sudre's :math:`1 - 2\sum_c w_c TP_c / \sum_c w_c
    (\sum_i p_{ic} + T_c)`. A class absent from the image takes the largest
    weight of the present ones (as MONAI's ``GeneralizedDiceLoss``); an image
    without any target weighs the classes equally. The weights are normalised
    to sum to :math:`K` (the ratio does not depend on their scale, the
    smoothing does: ``smooth`` then has the scale of :func:`lossjax.dice_loss`'s,
    and with one class this *is* ``dice_loss``).

    Conventions: optax ``multiclass_generalized_dice_loss`` is a different
    quantity: its weights :math:`1/(T_c^2 + 10^{-7})` are computed over the
    whole batch and normalised to sum to :math:`K`, and it averages the
    weighted per-class Dice losses of every image; it equals
    ``dice_loss(p, t, class_weights=w).mean()`` with those batch weights
    ``w``. MONAI smooths with ``smooth_nr = smooth_dr = 1e-5`` on unnormalised
    weights.

    Args:
        predictions: ``(batch, *spatial, classes)`` logits (or probabilities
            with ``from_logits=False``); the class axis is ``axis``. A binary task
            has one channel (``activation="sigmoid"``).
        targets: masks or probabilities of the predictions' shape, or an integer
            class map of shape ``(batch, *spatial)`` (one-hot encoded; with one
            channel, 1 is the foreground).
        from_logits: whether ``predictions`` are logits (default) or probabilities.
        activation: with ``from_logits=True``, ``"softmax"`` (default) over the
            class axis or ``"sigmoid"`` per channel.
        smooth: :math:`s \ge 0`, added to the weighted overlap and denominator.
        axis: the class axis (default ``-1``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per image).
        weights: optional per-image weights, a scalar or ``[batch]``.
        where: optional boolean ``[batch]`` mask of the images to keep.
        axis_name: mapped axis name(s) when the images are sharded over devices.

    Returns:
        The reduced loss (float32 at least), or the ``[batch]`` per-image losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> p = jnp.array([[[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]])  # 3 pixels, 2 classes
        >>> labels = jnp.array([[0, 0, 1]])
        >>> lossjax.generalized_dice_loss(p, labels, from_logits=False, smooth=0.0)
        Array(0.25000006, dtype=float32)

    References:
        Sudre, Li, Vercauteren, Ourselin and Cardoso, "Generalised Dice overlap
        as a deep learning loss function for highly unbalanced segmentations",
        DLMIA 2017.
    """
    p, q, t, where = _prepare(
        predictions, targets, where, axis, from_logits=from_logits, activation=activation
    )
    tp, fp, fn = _counts(p, q, t)
    w = _generalized_dice_weights(jnp.sum(t, axis=1))
    s = _checks.hyperparameter(smooth, p.dtype)
    overlap = jnp.sum(w * tp, axis=-1)
    total = jnp.sum(w * (tp + 0.5 * fp + 0.5 * fn), axis=-1)
    values = 1.0 - _ratio_or_one(overlap + s, total + s)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# -- Lovász -----------------------------------------------------------------------------------


def _lovasz(errors: jax.Array, foreground: jax.Array) -> jax.Array:
    """The Lovász extension of the Jaccard loss at ``errors``, over the last axis.

    ``foreground`` holds 0/1 integers. Sorted by decreasing error, the
    increments of :math:`1 - |F \\setminus A_k| / |F \\cup A_k|` along the
    prefixes :math:`A_k` are the weights of the sorted errors (Berman et al.,
    Algorithm 1). The union is at least 1 from the first pixel on, so nothing
    divides by 0.
    """
    order = jnp.argsort(-jax.lax.stop_gradient(errors), axis=-1, stable=True)
    sorted_errors = jnp.take_along_axis(errors, order, axis=-1)
    fg = jnp.take_along_axis(foreground, order, axis=-1)
    gts = jnp.sum(fg, axis=-1, keepdims=True)
    intersection = (gts - jnp.cumsum(fg, axis=-1)).astype(errors.dtype)
    union = (gts + jnp.cumsum(1 - fg, axis=-1)).astype(errors.dtype)
    jaccard = 1.0 - intersection / union
    increments = jnp.diff(jaccard, axis=-1, prepend=jnp.zeros_like(jaccard[..., :1]))
    return jnp.sum(sorted_errors * increments, axis=-1)


def _check_binary_labels(labels: jax.Array) -> None:
    _checks.check_values(
        "lossjax: `labels` must be binary masks of 0 and 1, got {:.7g}.",
        lambda xp, y: ((y != 0) & (y != 1), y),
        labels,
        default=True,
    )


@register(
    task="segmentation",
    input_kind="logits",
    summary="Lovász hinge per image: a convex surrogate of the binary Jaccard (IoU) loss.",
    aliases=("lovasz_hinge",),
    margin_based=True,
    recommendations=(
        Recommendation(
            "binary masks judged by IoU: optimises the Jaccard index directly; often used to "
            "fine-tune after cross-entropy or Dice"
        ),
    ),
)
def lovasz_hinge_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary Lovász hinge loss per image (Berman et al. 2018).

    With signs :math:`y_i = 2 t_i - 1` and hinge errors
    :math:`e_i = \max(0, 1 - z_i y_i)` of the :math:`P` pixels of an image,
    sorted so that :math:`e_{\pi(1)} \ge \dots \ge e_{\pi(P)}`:

    .. math::

        l = \sum_{k=1}^{P} e_{\pi(k)} \left(J_k - J_{k-1}\right), \qquad
        J_k = 1 - \frac{|F| - |F \cap A_k|}{|F| + |A_k \setminus F|}, \quad J_0 = 0

    where :math:`F` is the set of foreground pixels and :math:`A_k` the
    :math:`k` pixels of largest error: the Lovász extension of the Jaccard
    loss :math:`1 - |F \cap \hat F| / |F \cup \hat F|` at the error vector. An
    image without foreground gets the largest error (every false positive
    makes its IoU 0). This is the authors' ``lovasz_hinge(logits, labels,
    per_image=True)`` (their reference uses ``relu``; the ``elu + 1`` found in
    some copies is a different, smoothed variant), with one value per image.
    Piecewise linear: ``jax.hessian`` is 0 almost everywhere.

    Args:
        logits: ``(batch, *spatial)`` logits; every non-batch axis is a pixel axis.
        labels: binary masks of the same shape, 0 (background) or 1 (foreground),
            of any real or bool dtype.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per image).
        weights: optional per-image weights, a scalar or ``[batch]``.
        where: optional boolean ``[batch]`` mask of the images to keep.
        axis_name: mapped axis name(s) when the images are sharded over devices.

    Returns:
        The reduced loss (float32 at least), or the ``[batch]`` per-image losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> z = jnp.array([[2.0, 0.5, -1.0, 0.2]])
        >>> y = jnp.array([[1, 1, 0, 1]])
        >>> lossjax.lovasz_hinge_loss(z, y)
        Array(0.4333333, dtype=float32)

    References:
        Berman, Rannen Triki and Blaschko, "The Lovász-Softmax loss: a tractable
        surrogate for the optimization of the intersection-over-union measure in
        neural networks", CVPR 2018.
    """
    logits = _checks.check_floating("logits", logits)
    labels = _checks.check_real("labels", labels)
    _checks.check_same_shape("logits", logits, "labels", labels)
    if logits.ndim < 2:
        raise ValueError(
            "lossjax: `logits` must be (batch, *spatial) with at least one pixel axis, got "
            f"shape {tuple(logits.shape)}."
        )
    batch = logits.shape[0]
    where = prepare_where(where, (batch,))
    logits = mask_inputs(where, logits.astype(_checks.compute_dtype(logits)), 0.0)
    labels = mask_inputs(where, labels, 0)
    _check_binary_labels(labels)
    foreground = (labels == 1).astype(jnp.int32).reshape(batch, -1)
    signs = (2 * foreground - 1).astype(logits.dtype)
    errors = jax.nn.relu(1.0 - logits.reshape(batch, -1) * signs)
    values = _lovasz(errors, foreground)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="segmentation",
    input_kind="from_logits",
    summary="Lovász-softmax per image: a convex surrogate of the mean IoU over classes.",
    aliases=("lovasz_softmax", "lovasz"),
    hyperparameters=(
        FROM_LOGITS,
        choice(
            "classes",
            "average over the classes present in each image, or over all",
            ("present", "all"),
        ),
        CLASS_AXIS,
    ),
    recommendations=(
        Recommendation(
            "multiclass segmentation judged by mean IoU: optimises the Jaccard index of each "
            "class directly; often combined with or fine-tuned after cross-entropy"
        ),
    ),
)
def lovasz_softmax_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    from_logits: bool = True,
    classes: str = "present",
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Lovász-softmax loss per image (Berman et al. 2018).

    With class probabilities :math:`p_{ic}` (the softmax of the logits) and the
    errors :math:`e_{ic} = |[y_i = c] - p_{ic}|`, each class's loss is the
    Lovász extension of its Jaccard loss (see :func:`lossjax.lovasz_hinge_loss`)
    at its error vector, and the image's loss their mean over the classes
    :math:`C`:

    .. math::

        l = \frac{1}{|C|} \sum_{c \in C} \sum_{k=1}^{P}
            e_{\pi_c(k), c} \left(J^c_k - J^c_{k-1}\right)

    ``classes="present"`` (default) averages over the classes that occur in the
    image's labels, ``"all"`` over every class. This is the authors'
    ``lovasz_softmax(probas, labels, classes=..., per_image=True)`` on
    ``softmax(logits)``, with one value per image (their function takes
    probabilities: ``from_logits=False`` here); labels out of ``[0, K)`` are
    background for every class, as in the reference (checked mode raises).

    Args:
        logits: ``(batch, *spatial, classes)`` logits (or probabilities with
            ``from_logits=False``), at least 2 classes; the class axis is ``axis``.
        labels: integer class map ``(batch, *spatial)``.
        from_logits: whether ``logits`` are logits (default) or probabilities.
        classes: ``"present"`` (default) or ``"all"``.
        axis: the class axis (default ``-1``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per image).
        weights: optional per-image weights, a scalar or ``[batch]``.
        where: optional boolean ``[batch]`` mask of the images to keep.
        axis_name: mapped axis name(s) when the images are sharded over devices.

    Returns:
        The reduced loss (float32 at least), or the ``[batch]`` per-image losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> p = jnp.array([[[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]])  # 3 pixels, 2 classes
        >>> labels = jnp.array([[0, 1, 1]])
        >>> lossjax.lovasz_softmax_loss(p, labels, from_logits=False)
        Array(0.38333333, dtype=float32)

    References:
        Berman, Rannen Triki and Blaschko, "The Lovász-Softmax loss: a tractable
        surrogate for the optimization of the intersection-over-union measure in
        neural networks", CVPR 2018.
    """
    logits = _checks.check_floating("logits", logits)
    labels = _checks.check_integer("labels", labels)
    moved = _images("logits", logits, axis)
    num_classes = moved.shape[-1]
    if num_classes < 2:
        raise ValueError(
            f"lossjax: `logits` must have at least 2 classes along axis {axis}, got shape "
            f"{tuple(logits.shape)}; use lovasz_hinge_loss for one binary channel."
        )
    if tuple(labels.shape) != tuple(moved.shape[:-1]):
        raise ValueError(
            "lossjax: `labels` must have the shape of `logits` without the class axis, "
            f"{tuple(moved.shape[:-1])}; got labels.shape={tuple(labels.shape)} and "
            f"logits.shape={tuple(logits.shape)} (axis={axis})."
        )
    batch = moved.shape[0]
    where = prepare_where(where, (batch,))
    moved = mask_inputs(where, moved.astype(_checks.compute_dtype(moved)), 0.0)
    labels = mask_inputs(where, labels.astype(jnp.int32), 0)
    _checks.check_class_labels("labels", labels, num_classes)
    moved = moved.reshape(batch, -1, num_classes)
    if from_logits:
        p = jax.nn.softmax(moved, axis=-1)
    else:
        _checks.check_probabilities("logits", moved)
        p = moved
    fg = (labels.reshape(batch, -1, 1) == jnp.arange(num_classes).reshape(1, 1, -1)).astype(
        jnp.int32
    )
    errors = jnp.abs(fg.astype(p.dtype) - p)
    per_class = _lovasz(jnp.swapaxes(errors, 1, 2), jnp.swapaxes(fg, 1, 2))  # [batch, K]
    if classes == "all":
        values = jnp.mean(per_class, axis=-1)
    else:
        present = jnp.any(fg > 0, axis=1).astype(p.dtype)
        values = _numerics.safe_divide(jnp.sum(present * per_class, axis=-1), present.sum(-1))
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
