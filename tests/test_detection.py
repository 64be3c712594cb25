"""box_iou_loss against float64 NumPy references written here (values and gradients),
at degenerate boxes, at extreme scales, and its errors. torchvision: test_peers_detection_ctc.py.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lossjax

KINDS = ("iou", "giou", "diou", "ciou")
EPS = 1e-7


def _angle(w, h):
    """arctan(w / h), with arctan(+-inf) = +-pi/2 at h = 0 and 0 for a zero-size box."""
    if h == 0:
        return 0.0 if w == 0 else math.copysign(math.pi / 2, w)
    return math.atan(w / h)


def reference(box, target, kind, eps=EPS, alpha=None):
    """One box pair, float64, straight from the papers with torchvision's epsilons.

    ``alpha``: CIoU's trade-off weight, or None to compute it from the boxes.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    a1, b1, a2, b2 = (float(v) for v in target)
    iw, ih = min(x2, a2) - max(x1, a1), min(y2, b2) - max(y1, b1)
    inter = iw * ih if iw > 0 and ih > 0 else 0.0
    union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
    iou = inter / (union + eps)
    if kind == "iou":
        return 1 - iou
    cw, ch = max(x2, a2) - min(x1, a1), max(y2, b2) - min(y1, b1)
    if kind == "giou":
        return 1 - iou + (cw * ch - union) / (cw * ch + eps)
    rho2 = ((x1 + x2) / 2 - (a1 + a2) / 2) ** 2 + ((y1 + y2) / 2 - (b1 + b2) / 2) ** 2
    diou = 1 - iou + rho2 / (cw**2 + ch**2 + eps)
    if kind == "diou":
        return diou
    v = 4 / math.pi**2 * (_angle(a2 - a1, b2 - b1) - _angle(x2 - x1, y2 - y1)) ** 2
    if alpha is None:
        alpha = v / (1 - iou + v + eps)
    return diou + alpha * v


def reference_gradient(box, target, kind, h=1e-6):
    """Central differences of the reference in both boxes (CIoU: alpha held constant)."""
    alpha = None
    if kind == "ciou":  # alpha at the point itself, as torchvision's no_grad
        base = reference(box, target, "diou")
        full = reference(box, target, "ciou")
        v_alpha = full - base  # alpha * v
        x1, y1, x2, y2 = box
        a1, b1, a2, b2 = target
        v = 4 / math.pi**2 * (_angle(a2 - a1, b2 - b1) - _angle(x2 - x1, y2 - y1)) ** 2
        alpha = 0.0 if v == 0 else v_alpha / v
    grads = []
    for which in range(2):
        g = np.zeros(4)
        for k in range(4):
            pair = [np.array(box, np.float64), np.array(target, np.float64)]
            up, down = [p.copy() for p in pair], [p.copy() for p in pair]
            up[which][k] += h
            down[which][k] -= h
            g[k] = (reference(*up, kind, alpha=alpha) - reference(*down, kind, alpha=alpha)) / (
                2 * h
            )
        grads.append(g)
    return grads


def _random_pairs(rng, n):
    corner, size = rng.uniform(0, 5, (n, 2)), rng.uniform(0.2, 4, (n, 2))
    tcorner, tsize = rng.uniform(0, 5, (n, 2)), rng.uniform(0.2, 4, (n, 2))
    return np.concatenate([corner, corner + size], 1), np.concatenate([tcorner, tcorner + tsize], 1)


DEGENERATE = {
    "identical": ([1, 1, 3, 2], [1, 1, 3, 2]),
    "disjoint": ([0, 0, 1, 1], [2, 3, 4, 5]),
    "inside": ([0, 0, 4, 4], [1, 1, 2, 3]),
    "touching": ([0, 0, 1, 1], [1, 0, 2, 1]),
    "zero_width": ([1, 1, 1, 3], [0, 0, 2, 2]),
    "zero_height": ([0, 1, 2, 1], [0, 0, 2, 2]),
    "point": ([1, 1, 1, 1], [0, 0, 2, 2]),
    "two_points": ([1, 1, 1, 1], [1, 1, 1, 1]),
    "point_and_segment": ([1, 1, 1, 1], [1, 0, 1, 2]),
}


@pytest.fixture(scope="module")
def value_and_grad():
    fn = jax.jit(
        jax.vmap(
            jax.value_and_grad(
                lambda b, t, kind: lossjax.box_iou_loss(b, t, kind=kind, reduction="sum"),
                argnums=(0, 1),
            ),
            in_axes=(0, 0, None),
        ),
        static_argnums=2,
    )
    return fn


@pytest.mark.parametrize("kind", KINDS)
def test_values_match_the_float64_reference(kind):
    boxes, targets = _random_pairs(np.random.default_rng(0), 24)
    boxes[0] = targets[0]  # identical boxes
    got = lossjax.box_iou_loss(
        jnp.asarray(boxes, jnp.float32),
        jnp.asarray(targets, jnp.float32),
        kind=kind,
        reduction="none",
    )
    want = [reference(b, t, kind) for b, t in zip(boxes, targets, strict=True)]
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    assert got.dtype == jnp.float32


@pytest.mark.parametrize("kind", KINDS)
def test_float64_values_and_gradients_match_the_reference(kind, x64, value_and_grad):
    boxes, targets = _random_pairs(np.random.default_rng(1), 8)
    values, (gb, gt) = value_and_grad(boxes[:, None], targets[:, None], kind)
    for i, (b, t) in enumerate(zip(boxes, targets, strict=True)):
        np.testing.assert_allclose(values[i], reference(b, t, kind), rtol=1e-12)
        want_b, want_t = reference_gradient(b, t, kind)
        np.testing.assert_allclose(gb[i, 0], want_b, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gt[i, 0], want_t, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_degenerate_boxes_give_finite_values_and_gradients(kind, value_and_grad):
    boxes = np.array([b for b, _ in DEGENERATE.values()], np.float32)
    targets = np.array([t for _, t in DEGENERATE.values()], np.float32)
    values, (gb, gt) = value_and_grad(boxes[:, None], targets[:, None], kind)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(gb)) and np.all(np.isfinite(gt))
    want = [reference(b, t, kind) for b, t in zip(boxes, targets, strict=True)]
    np.testing.assert_allclose(values, want, rtol=1e-6, atol=1e-6)
    names = list(DEGENERATE)
    identical = names.index("identical")
    np.testing.assert_allclose(values[identical], 0.0, atol=1e-6)
    # Disjoint boxes: 1 - IoU is flat (1, zero gradient), GIoU/DIoU/CIoU still pull.
    disjoint = names.index("disjoint")
    np.testing.assert_allclose(values[disjoint], want[disjoint], rtol=1e-6)
    if kind == "iou":
        np.testing.assert_array_equal(gb[disjoint], 0.0)
    else:
        assert np.any(gb[disjoint] != 0)
    # Two identical points: every term is 0/eps, the gradient finite (checked above).
    np.testing.assert_allclose(values[names.index("two_points")], 1.0, atol=1e-6)


def test_gradients_at_degenerate_boxes_match_finite_differences_in_float64(x64, value_and_grad):
    """Zero-width and zero-height boxes away from any kink (no touching edges)."""
    pairs = {
        "inside": DEGENERATE["inside"],
        "disjoint": DEGENERATE["disjoint"],
        "segment_beside": ([3, 0, 3, 2], [0, 0, 2, 2]),  # zero width, no overlap
        "segment_above": ([0, 3, 2, 3], [0, 0, 2, 2]),  # zero height, no overlap
    }
    for name, (box, target) in pairs.items():
        for kind in ("iou", "giou", "diou"):
            _, (gb, gt) = value_and_grad(
                np.array([[box]], np.float64), np.array([[target]], np.float64), kind
            )
            want_b, want_t = reference_gradient(box, target, kind)
            np.testing.assert_allclose(gb[0, 0], want_b, rtol=1e-5, atol=1e-7, err_msg=name)
            np.testing.assert_allclose(gt[0, 0], want_t, rtol=1e-5, atol=1e-7, err_msg=name)


def test_ciou_aspect_angle_gradient_at_zero_height_is_the_one_sided_limit(x64):
    """arctan(w/h) jumps at h = 0 (h < 0 is not a box); its derivative from h > 0 is
    -w / (w^2 + h^2) -> -1/w, and that is the gradient at the segment."""
    box = np.array([0.5, 3.0, 2.5, 3.0])  # zero height, above the target: no overlap
    target = np.array([0.0, 0.0, 2.0, 2.0])
    g = jax.grad(lambda b: lossjax.box_iou_loss(b[None], target[None], kind="ciou"))(box)
    held, _ = reference_gradient(box, target, "ciou")  # (central differences)
    one_sided = np.zeros(4)
    for k, direction in enumerate((-1.0, -1.0, 1.0, 1.0)):  # widen the box
        step = np.eye(4)[k] * direction * 1e-7
        v = 4 / math.pi**2 * (_angle(2.0, 2.0) - _angle(2.0, 0.0)) ** 2
        alpha = (reference(box, target, "ciou") - reference(box, target, "diou")) / v
        one_sided[k] = (
            reference(box + step, target, "ciou", alpha=alpha)
            - reference(box, target, "ciou", alpha=alpha)
        ) / (direction * 1e-7)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, one_sided, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(g)[[0, 2]], held[[0, 2]], rtol=1e-5)  # x: smooth


def test_ciou_gradient_is_torchvisions_with_alpha_constant(x64):
    """Not the derivative of the value through alpha: that one differs."""
    box = jnp.array([[0.0, 0.0, 3.0, 1.0]])
    target = jnp.array([[0.5, 0.2, 2.0, 2.5]])
    g = jax.grad(lambda b: lossjax.box_iou_loss(b, target, kind="ciou"))(box)
    held, _ = reference_gradient(np.asarray(box[0]), np.asarray(target[0]), "ciou")
    np.testing.assert_allclose(g[0], held, rtol=1e-6)
    full = np.zeros(4)
    for k in range(4):
        step = np.eye(4)[k] * 1e-6
        full[k] = (
            reference(np.asarray(box[0]) + step, target[0], "ciou")
            - reference(np.asarray(box[0]) - step, target[0], "ciou")
        ) / 2e-6
    assert np.max(np.abs(full - held)) > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_huge_and_tiny_coordinates_keep_the_scale_free_value(kind):
    """The loss is scale-free: boxes scaled by 2**100 or 2**-100 give the same value, and
    finite gradients (areas would overflow or underflow float32 without the rescaling)."""
    boxes, targets = _random_pairs(np.random.default_rng(2), 6)
    boxes, targets = boxes.astype(np.float32), targets.astype(np.float32)
    base = lossjax.box_iou_loss(boxes, targets, kind=kind, reduction="none")
    for power in (100.0, 64.0):
        scale = np.float32(2.0**power)
        big = lossjax.box_iou_loss(boxes * scale, targets * scale, kind=kind, reduction="none")
        # epsilon is an area: negligible either way.
        np.testing.assert_allclose(big, base, rtol=1e-5, atol=1e-6)
        grads = jax.grad(lambda b, s=scale: lossjax.box_iou_loss(b, targets * s, kind=kind))(
            boxes * scale
        )
        assert np.all(np.isfinite(grads))
        np.testing.assert_allclose(
            grads * scale,
            jax.grad(lambda b: lossjax.box_iou_loss(b, targets, kind=kind))(boxes),
            rtol=1e-4,
            atol=1e-6,
        )
    tiny = lossjax.box_iou_loss(boxes * 2.0**-40, targets * 2.0**-40, kind=kind, reduction="none")
    # Areas of 1e-24 against epsilon 1e-7: IoU is ~0 (as in torchvision), finite.
    want = [
        reference(b * 2.0**-40, t * 2.0**-40, kind) for b, t in zip(boxes, targets, strict=True)
    ]
    np.testing.assert_allclose(tiny, want, rtol=1e-5, atol=1e-6)


def test_epsilon_is_an_area_added_as_torchvision_does():
    box, target = np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.5, 0.0, 1.5, 1.0])
    for kind in KINDS:
        got = lossjax.box_iou_loss(box[None], target[None], kind=kind, epsilon=0.25)
        np.testing.assert_allclose(got, reference(box, target, kind, eps=0.25), rtol=1e-6)
    # A traced epsilon is differentiable.
    g = jax.grad(lambda e: lossjax.box_iou_loss(box[None], target[None], epsilon=e))(0.25)
    assert np.isfinite(g) and g != 0


def test_batch_axes_reduction_and_weights():
    boxes, targets = _random_pairs(np.random.default_rng(3), 6)
    b, t = boxes.reshape(2, 3, 4), targets.reshape(2, 3, 4)
    none = lossjax.box_iou_loss(b, t, reduction="none")
    assert none.shape == (2, 3)
    want = np.array([reference(x, y, "giou") for x, y in zip(boxes, targets, strict=True)])
    np.testing.assert_allclose(none.reshape(-1), want, rtol=1e-6)
    w = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(
        lossjax.box_iou_loss(b, t, weights=w), (w.reshape(-1) * want).sum() / w.sum(), rtol=1e-6
    )
    np.testing.assert_allclose(
        lossjax.box_iou_loss(b, t.astype(np.int32)),  # integer targets are cast
        lossjax.box_iou_loss(b, t.astype(np.int32).astype(np.float32)),
    )


def test_bad_inputs_raise_naming_the_argument():
    box = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"`boxes` must be \[\.\.\., 4\].*\(3, 5\)"):
        lossjax.box_iou_loss(jnp.zeros((3, 5)), jnp.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"`boxes`.*`target_boxes`"):
        lossjax.box_iou_loss(box, jnp.zeros((2, 4)))
    with pytest.raises(TypeError, match="`boxes`"):
        lossjax.box_iou_loss(jnp.zeros((3, 4), jnp.int32), box)
    with pytest.raises(ValueError, match="`kind`"):
        lossjax.box_iou_loss(box, box, kind="eiou")
    with pytest.raises(ValueError, match="`epsilon`"):
        lossjax.box_iou_loss(box, box, epsilon=0.0)
    with pytest.raises(ValueError, match="`where`"):
        lossjax.box_iou_loss(box, box, where=jnp.ones((3, 4), bool))


def test_malformed_boxes_raise_in_checked_mode_only():
    box = jnp.array([[2.0, 0.0, 1.0, 1.0]])  # x2 < x1
    good = jnp.array([[0.0, 0.0, 1.0, 1.0]])
    assert np.isfinite(lossjax.box_iou_loss(box, good))  # the formula's value, unchecked
    with pytest.raises(ValueError, match=r"`boxes` must have x1 <= x2.*-1"):
        lossjax.checked(jax.jit(lossjax.box_iou_loss))(box, good)
    with pytest.raises(ValueError, match=r"`target_boxes` must have x1 <= x2"):
        lossjax.checked(lossjax.box_iou_loss)(good, box)
    # A removed box is not checked.
    lossjax.checked(lossjax.box_iou_loss)(box, good, where=jnp.array([False]))


def test_registry_and_suggest():
    assert lossjax.info("giou_loss").name == "box_iou_loss"
    assert lossjax.get("complete_box_iou_loss").keywords == {"kind": "ciou"}
    assert lossjax.info("box_iou").input_kind == "boxes"
    suggestions = lossjax.suggest("detection")
    assert suggestions[0].call == "box_iou_loss(kind='giou')"
    assert {s.hyperparameters.get("kind") for s in suggestions if s.name == "box_iou_loss"} >= {
        "giou",
        "diou",
        "ciou",
        "iou",
    }
    assert lossjax.available("detection")[0] == "box_iou_loss"
