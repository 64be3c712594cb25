r"""Detection: IoU-based bounding-box regression losses (IoU, GIoU, DIoU, CIoU).

Boxes are corner coordinates :math:`(x_1, y_1, x_2, y_2)` with
:math:`x_1 \le x_2` and :math:`y_1 \le y_2`, the last axis of the inputs.

Numerics choices:

* **Where epsilon enters** is torchvision's (``generalized_box_iou_loss``,
  ``distance_box_iou_loss``, ``complete_box_iou_loss``): added to the union,
  to the enclosing box's area, to its squared diagonal and to CIoU's
  :math:`\alpha` denominator. So zero-area boxes (points, segments, two
  identical degenerate boxes) give finite values and gradients.
* **Scale.** Every term is a ratio of areas or of squared lengths, so the loss
  does not change when all coordinates of a pair (and :math:`\epsilon` where
  it is added to an area) are scaled together. Each pair is scaled by the
  exact power of two (held constant for differentiation) that brings its
  largest coordinate to at most 1, so that areas, squared diagonals and the
  derivatives of their ratios neither overflow nor underflow float32 (a
  gradient through :math:`1/c^2` with :math:`c^2 \approx 2^{120}` would be
  flushed to 0); :math:`\epsilon` is scaled with the areas and kept at least
  the smallest normal number. Scaling by a power of two is exact, so ordinary
  boxes give torchvision's numbers. CIoU's :math:`\alpha` adds
  :math:`\epsilon` to a pure number and uses it unscaled.
* **Ratios** are differentiated as :math:`(dn - r\,dd)/d` from the ratio
  :math:`r = n/d` itself, not as :math:`dn/d - n\,dd/d^2`, whose :math:`d^2`
  underflows for a tiny box next to a large one (and gives ``0 * inf``).
* **Aspect-ratio angle** (CIoU): :math:`\arctan(w/h)` is computed as
  :math:`\operatorname{atan2}` of :math:`(w, h)` scaled by a power of two to
  at most 1 (the angle does not depend on the scale), so a zero height gives
  :math:`\pi/2` instead of a division by zero, a zero-size box gives 0 with a
  zero gradient instead of NaN, and tiny or huge sides neither underflow nor
  overflow in the derivative :math:`h / (w^2 + h^2)`.
* **Corner order.** A box with :math:`x_2 < x_1` (or :math:`y_2 < y_1`) is
  read with the two swapped, so every box has non-negative sides, the union
  is at least the intersection and every ratio stays in :math:`[0, 1]`.
* **Intersection.** Overlaps are kept only where strictly positive (as
  torchvision's mask), so touching boxes have a zero intersection and a zero
  intersection gradient.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import AxisName, Reduction, mask_inputs, prepare_where, reduce_loss
from lossjax._registry import Recommendation, choice, real, register

KINDS = ("iou", "giou", "diou", "ciou")


def _power_of_two_scale(magnitude: jax.Array, *, enlarge: bool) -> jax.Array:
    """``2**-e``, constant for differentiation, that brings ``magnitude`` to at most 1.

    Without ``enlarge``, ``e >= 0``: small magnitudes stay as they are.
    """
    exponent = _numerics.power_of_two_exponent(magnitude)
    if not enlarge:
        exponent = jnp.maximum(exponent, 0)
    return jnp.ldexp(jnp.ones((), magnitude.dtype), -exponent)


def _aspect_angle(width: jax.Array, height: jax.Array) -> jax.Array:
    r"""``arctan(width / height)`` for any sides, finitely differentiable everywhere.

    Equal to ``arctan(w / h)`` for ``h != 0`` (``atan2`` of ``(w s, h s)`` with
    ``s`` the sign of ``h``), :math:`\pm\pi/2` for ``h = 0``, and 0 with a zero
    gradient for ``w = h = 0``. The sides are first scaled by a power of two
    to at most 1, so ``w^2 + h^2`` in the derivative neither underflows nor
    overflows.
    """
    sign = jnp.where(height < 0, -1.0, 1.0).astype(height.dtype)
    width, height = width * sign, height * sign
    scale = _power_of_two_scale(jnp.maximum(jnp.abs(width), jnp.abs(height)), enlarge=True)
    width, height = width * scale, height * scale
    zero = (width == 0) & (height == 0)
    # Double `where`: atan2's derivative at (0, 0) is 0/0; the unused branch sees (0, 1).
    angle = jnp.arctan2(jnp.where(zero, 0.0, width), jnp.where(zero, 1.0, height))
    return jnp.where(zero, jnp.zeros((), angle.dtype), angle)


@jax.custom_jvp
def _ratio(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator`` whose derivative is formed from the ratio itself."""
    return numerator / denominator


@_ratio.defjvp
def _ratio_jvp(
    primals: tuple[jax.Array, jax.Array], tangents: tuple[jax.Array, jax.Array]
) -> tuple[jax.Array, jax.Array]:
    # (dn - r dd) / d: autodiff's dn / d - n dd / d**2 squares a denominator that may be
    # 1e-24 (a tiny box next to a huge one), which underflows to 0 and gives 0 * inf = NaN.
    numerator, denominator = primals
    d_numerator, d_denominator = tangents
    ratio = _ratio(numerator, denominator)
    return ratio, (d_numerator - ratio * d_denominator) / denominator


def _corners(boxes: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``x1, y1, x2, y2`` with each pair in order: a box with ``x2 < x1`` is read with them swapped.

    (A ``where``, not ``min``/``max``: at ``x1 == x2`` the gradient stays torchvision's.)
    """
    x1, y1, x2, y2 = jnp.moveaxis(boxes, -1, 0)
    x_ordered, y_ordered = x1 <= x2, y1 <= y2
    return (
        jnp.where(x_ordered, x1, x2),
        jnp.where(y_ordered, y1, y2),
        jnp.where(x_ordered, x2, x1),
        jnp.where(y_ordered, y2, y1),
    )


def _box_iou_values(
    boxes: jax.Array, targets: jax.Array, epsilon: jax.Array, kind: str
) -> jax.Array:
    """Per-box losses of ``[..., 4]`` boxes against ``[..., 4]`` targets (torchvision's terms)."""
    largest = jnp.maximum(jnp.max(jnp.abs(boxes), axis=-1), jnp.max(jnp.abs(targets), axis=-1))
    scale = _power_of_two_scale(largest, enlarge=False)
    # epsilon is an area here: scaled with the boxes, and kept a normal number.
    eps = jnp.maximum(epsilon * jnp.square(scale), jnp.finfo(boxes.dtype).tiny)
    x1, y1, x2, y2 = _corners(boxes * scale[..., None])
    x1g, y1g, x2g, y2g = _corners(targets * scale[..., None])

    overlap_w = jnp.minimum(x2, x2g) - jnp.maximum(x1, x1g)
    overlap_h = jnp.minimum(y2, y2g) - jnp.maximum(y1, y1g)
    overlaps = (overlap_w > 0) & (overlap_h > 0)
    intersection = jnp.where(overlaps, overlap_w * overlap_h, 0.0)
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intersection
    iou = _ratio(intersection, union + eps)
    if kind == "iou":
        return 1.0 - iou

    # The smallest enclosing box.
    enclosing_w = jnp.maximum(x2, x2g) - jnp.minimum(x1, x1g)
    enclosing_h = jnp.maximum(y2, y2g) - jnp.minimum(y1, y1g)
    if kind == "giou":
        area = enclosing_w * enclosing_h
        return 1.0 - iou + _ratio(area - union, area + eps)

    diagonal_squared = jnp.square(enclosing_w) + jnp.square(enclosing_h) + eps
    centre_distance_squared = jnp.square((x1 + x2 - x1g - x2g) / 2) + jnp.square(
        (y1 + y2 - y1g - y2g) / 2
    )
    diou = 1.0 - iou + _ratio(centre_distance_squared, diagonal_squared)
    if kind == "diou":
        return diou
    angle_difference = _aspect_angle(x2g - x1g, y2g - y1g) - _aspect_angle(x2 - x1, y2 - y1)
    v = (4.0 / math.pi**2) * jnp.square(angle_difference)
    # A trade-off weight, not differentiated (Zheng et al.; torchvision's torch.no_grad()).
    alpha = jax.lax.stop_gradient(v / (1.0 - iou + v + epsilon))
    return diou + alpha * v


@register(
    task="detection",
    input_kind="boxes",
    summary="IoU-based box regression loss: 1 - IoU, GIoU, DIoU or CIoU per box (torchvision).",
    aliases=("box_iou", "bbox_iou"),
    presets={
        "iou_box_loss": {"kind": "iou"},
        "giou_loss": {"kind": "giou"},
        "generalized_box_iou_loss": {"kind": "giou"},
        "diou_loss": {"kind": "diou"},
        "distance_box_iou_loss": {"kind": "diou"},
        "ciou_loss": {"kind": "ciou"},
        "complete_box_iou_loss": {"kind": "ciou"},
    },
    hyperparameters=(
        choice("kind", "the IoU variant", KINDS),
        real(
            "epsilon",
            "added to the union, the enclosing area and diagonal (zero-area boxes)",
            lower=0.0,
            lower_open=True,
        ),
    ),
    recommendations=(
        Recommendation(
            "bounding-box regression: GIoU keeps a gradient for boxes that do not overlap "
            "(torchvision generalized_box_iou_loss)",
            {"kind": "giou"},
            score=1.0,
        ),
        Recommendation(
            "faster box regression convergence: CIoU adds the centre distance and the aspect "
            "ratio (YOLO-style detectors)",
            {"kind": "ciou"},
            score=0.5,
        ),
        Recommendation(
            "box regression with a centre-distance penalty: DIoU (also for DIoU-NMS)",
            {"kind": "diou"},
        ),
        Recommendation(
            "plain 1 - IoU: no gradient once boxes stop overlapping; prefer GIoU",
            {"kind": "iou"},
            score=-1.0,
        ),
    ),
    default=True,
)
def box_iou_loss(
    boxes: ArrayLike,
    target_boxes: ArrayLike,
    *,
    kind: str = "giou",
    epsilon: ArrayLike = 1e-7,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""IoU-based loss of predicted boxes against target boxes, one value per box.

    With intersection :math:`I`, union :math:`U`, the smallest enclosing box
    :math:`C` (area :math:`|C|`, squared diagonal :math:`c^2`), the squared
    distance :math:`\rho^2` between the boxes' centres and the aspect ratios
    :math:`w/h`:

    .. math::

        \mathrm{IoU} = \frac{I}{U + \epsilon}, \qquad
        l_{\mathrm{iou}} = 1 - \mathrm{IoU}, \qquad
        l_{\mathrm{giou}} = 1 - \mathrm{IoU} + \frac{|C| - U}{|C| + \epsilon},

        l_{\mathrm{diou}} = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon}, \qquad
        l_{\mathrm{ciou}} = l_{\mathrm{diou}} + \alpha v, \quad
        v = \frac{4}{\pi^2}\Big(\arctan\frac{w_t}{h_t} - \arctan\frac{w}{h}\Big)^2, \quad
        \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon} .

    The values equal torchvision's ``generalized_box_iou_loss``,
    ``distance_box_iou_loss`` and ``complete_box_iou_loss`` with
    ``reduction="none"`` (torchvision has no plain IoU loss; ``"iou"`` is
    :math:`1 - \mathrm{IoU}`). As in torchvision (and the CIoU paper),
    :math:`\alpha` is a weight held constant for differentiation, so the CIoU
    gradient is torchvision's, not the derivative of the value through
    :math:`\alpha`. The losses are symmetric in the two boxes. Zero-area
    boxes give finite values and gradients (see the module docstring); a
    box of zero width and height has aspect angle 0 (torchvision: NaN).
    Differences from torchvision: its ``complete_box_iou_loss`` applies its
    ``eps`` to :math:`\alpha` only (the IoU and DIoU terms keep 1e-7), lossjax
    applies ``epsilon`` everywhere (equal at the default); ``reduction``
    defaults to ``"mean"`` here (torchvision: ``"none"``).

    Boxes should satisfy :math:`x_1 \le x_2`, :math:`y_1 \le y_2`. A box that
    does not is read with the offending coordinates swapped (torchvision
    computes negative widths there, which can make the loss negative or
    unbounded); under :func:`lossjax.checked` such a box raises, since it
    usually means another box format (``(x, y, w, h)``, ``(cx, cy, w, h)``).

    Args:
        boxes: ``[..., 4]`` floating predicted boxes :math:`(x_1, y_1, x_2, y_2)`.
        target_boxes: ``[..., 4]`` target boxes, the same shape (integers accepted).
        kind: ``"giou"`` (default), ``"iou"``, ``"diou"`` or ``"ciou"``.
        epsilon: :math:`\epsilon > 0`, in squared coordinate units (torchvision's
            ``eps``; at least the smallest normal float where it is added to an
            area); a Python number or a traced array.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[...]``).
        weights: optional per-box weights, a scalar or of the per-box shape.
        where: optional boolean per-box mask; ``False`` boxes contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the ``[...]`` per-box values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> boxes = jnp.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
        >>> targets = jnp.array([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0]])
        >>> lossjax.box_iou_loss(boxes, targets, reduction="none")  # GIoU
        Array([1.0793651, 1.3333334], dtype=float32)
        >>> lossjax.box_iou_loss(boxes, targets, kind="iou", reduction="none")
        Array([0.85714287, 1.        ], dtype=float32)

    References:
        Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019
        (https://arxiv.org/abs/1902.09630); Zheng et al., "Distance-IoU Loss:
        Faster and Better Learning for Bounding Box Regression", AAAI 2020
        (https://arxiv.org/abs/1911.08287).
    """
    _checks.check_reduction(reduction)
    boxes = _checks.check_floating("boxes", boxes)
    target_boxes = _checks.check_real("target_boxes", target_boxes)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(
            "lossjax: `boxes` must be [..., 4] (x1, y1, x2, y2 on the last axis), got "
            f"boxes.shape={tuple(boxes.shape)}."
        )
    _checks.check_same_shape("boxes", boxes, "target_boxes", target_boxes)
    dtype = _checks.compute_dtype(boxes, target_boxes)
    boxes, target_boxes = boxes.astype(dtype), target_boxes.astype(dtype)
    where = prepare_where(where, tuple(boxes.shape[:-1]))
    # Removed boxes become the point (0, 0): a finite value with finite gradients.
    boxes = mask_inputs(where, boxes, 0.0, axis=-1)
    target_boxes = mask_inputs(where, target_boxes, 0.0, axis=-1)
    for name, x in (("boxes", boxes), ("target_boxes", target_boxes)):
        _checks.check_values(
            f"lossjax: `{name}` must have x1 <= x2 and y1 <= y2 (corners x1, y1, x2, y2); "
            "a box has x2 - x1 or y2 - y1 = {:.7g}.",
            lambda xp, b: ((b[..., 2:] - b[..., :2]) < 0, b[..., 2:] - b[..., :2]),
            x,
        )
    eps = _checks.hyperparameter(epsilon, dtype)
    values = _box_iou_values(boxes, target_boxes, eps, kind)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
