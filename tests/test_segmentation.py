"""Segmentation losses (lossjax/_segmentation.py) against float64 NumPy references and optax.

The references below are written from the papers' definitions, per image:
soft counts and the Tversky index for Dice/Tversky/focal Tversky, Sudre's
weighted ratio for the generalised Dice, and for the Lovász losses the
Jaccard loss of explicit pixel *sets* along the sorted errors (not the
cumulative-sum form the library uses). The transformations, masks, dtypes and
sharding of every loss are checked over the catalogue (tests/losses_catalogue.py).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lossjax

RNG = np.random.default_rng(14)
B, H, W, K = 3, 4, 5, 4


def _logits(*shape, scale=2.0):
    return (RNG.normal(size=shape) * scale).astype(np.float32)


def _labels(num_classes=K, shape=(B, H, W)):
    return RNG.integers(0, num_classes, size=shape).astype(np.int32)


# -- float64 references ------------------------------------------------------------------------


def _softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))


def _counts(p, t):
    """TP, FP, FN per image and class from [B, ..., K] probabilities and targets."""
    p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
    axes = tuple(range(1, p.ndim - 1))
    return (p * t).sum(axes), (p * (1 - t)).sum(axes), ((1 - p) * t).sum(axes)


def ref_tversky(p, t, alpha=0.5, beta=0.5, smooth=1.0, gamma=1.0, class_weights=None):
    tp, fp, fn = _counts(p, t)
    ti = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    per_class = (1 - ti) ** gamma
    w = np.ones(per_class.shape[-1]) if class_weights is None else np.asarray(class_weights)
    return (per_class * w).sum(-1) / w.sum()


def ref_dice_pt(p, t, smooth=1.0):
    """Dice in the 2 TP / (sum p + sum t) form, with the smoothing 2 s."""
    p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
    axes = tuple(range(1, p.ndim - 1))
    s = 2 * smooth
    return (1 - (2 * (p * t).sum(axes) + s) / (p.sum(axes) + t.sum(axes) + s)).mean(-1)


def ref_generalized_dice(p, t, smooth=1.0):
    p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
    out = []
    for pi, ti in zip(p, t, strict=True):
        pi, ti = pi.reshape(-1, pi.shape[-1]), ti.reshape(-1, ti.shape[-1])
        volume = ti.sum(0)
        w = np.where(volume > 0, 1 / np.where(volume > 0, volume, 1) ** 2, 0.0)
        w = np.where(volume > 0, w, w.max()) if (volume > 0).any() else np.ones_like(w)
        w = w * len(w) / w.sum()
        overlap = (w * (pi * ti).sum(0)).sum()
        total = (w * (pi.sum(0) + ti.sum(0))).sum() / 2
        out.append(1 - (overlap + smooth) / (total + smooth))
    return np.array(out)


def _jaccard_loss(foreground, mistakes):
    """1 - |F minus M| / |F union M| for boolean pixel sets (F foreground, M mispredicted)."""
    union = np.sum(foreground | mistakes)
    return 1.0 - np.sum(foreground & ~mistakes) / union if union else 0.0


def ref_lovasz(errors, foreground):
    """Lovász extension of the Jaccard loss: errors sorted, set function increments."""
    errors = np.asarray(errors, np.float64)
    foreground = np.asarray(foreground, bool)
    order = np.argsort(-errors, kind="stable")
    mistakes = np.zeros(errors.shape, bool)
    total, previous = 0.0, 0.0
    for i in order:
        mistakes[i] = True
        current = _jaccard_loss(foreground, mistakes)
        total += errors[i] * (current - previous)
        previous = current
    return total


def ref_lovasz_hinge(logits, labels):
    out = []
    for z, y in zip(np.asarray(logits, np.float64), np.asarray(labels), strict=True):
        z, y = z.ravel(), y.ravel()
        errors = np.maximum(0.0, 1.0 - z * (2.0 * y - 1.0))
        out.append(ref_lovasz(errors, y == 1))
    return np.array(out)


def ref_lovasz_softmax(probs, labels, classes="present"):
    out = []
    for p, y in zip(np.asarray(probs, np.float64), np.asarray(labels), strict=True):
        p, y = p.reshape(-1, p.shape[-1]), y.ravel()
        losses = []
        for c in range(p.shape[-1]):
            fg = y == c
            if classes == "present" and not fg.any():
                continue
            losses.append(ref_lovasz(np.abs(fg - p[:, c]), fg))
        out.append(np.mean(losses) if losses else 0.0)
    return np.array(out)


def _one_hot(labels, num_classes=K):
    return np.eye(num_classes, dtype=np.float32)[labels]


def _central_difference(f, x, index, eps=1e-6):
    x = np.asarray(x, np.float64)
    step = np.zeros_like(x)
    step[index] = eps
    return (f(x + step) - f(x - step)) / (2 * eps)


# -- Dice, Tversky, focal Tversky, generalised Dice ------------------------------------------


@pytest.mark.parametrize("smooth", [1.0, 0.0, 0.3])
def test_dice_matches_the_2tp_form_and_optax(smooth):
    z, y = _logits(B, H, W, K), _labels()
    t = _one_hot(y)
    got = lossjax.dice_loss(z, t, smooth=smooth, reduction="none")
    np.testing.assert_allclose(got, ref_dice_pt(_softmax(z), t, smooth), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(got, lossjax.dice_loss(z, y, smooth=smooth, reduction="none"))
    optax_values = optax.losses.dice_loss(jnp.asarray(z), jnp.asarray(t), smooth=smooth)
    np.testing.assert_allclose(got, optax_values, rtol=2e-6, atol=1e-7)
    mean = lossjax.dice_loss(z, t, smooth=smooth)
    np.testing.assert_allclose(mean, np.mean(ref_dice_pt(_softmax(z), t, smooth)), rtol=2e-6)


def test_dice_class_weights_and_optax_conversions():
    z, y = _logits(B, H, W, K), _labels()
    t = _one_hot(y)
    w = np.array([0.5, 2.0, 0.0, 1.0], np.float32)
    got = lossjax.dice_loss(z, y, class_weights=w, reduction="none")
    np.testing.assert_allclose(got, ref_tversky(_softmax(z), t, class_weights=w), rtol=2e-6)
    # optax multiplies by the weights before a plain mean over classes.
    with jax.numpy_rank_promotion("allow"):  # optax broadcasts [K] weights against [B, K]
        optax_w = optax.losses.dice_loss(
            jnp.asarray(z), jnp.asarray(t), class_weights=jnp.asarray(w)
        )
        optax_gdl = optax.losses.multiclass_generalized_dice_loss(jnp.asarray(z), jnp.asarray(t))
    np.testing.assert_allclose(got * w.sum() / K, optax_w, rtol=2e-6)
    # ignore_background=True is a zero weight on class 0.
    background = np.array([0.0, 1.0, 1.0, 1.0], np.float32)
    np.testing.assert_allclose(
        lossjax.dice_loss(z, y, class_weights=background, reduction="none"),
        optax.losses.dice_loss(jnp.asarray(z), jnp.asarray(t), ignore_background=True),
        rtol=2e-6,
    )
    # optax's generalised Dice: batch-wide inverse squared volumes normalised to sum to K,
    # then the mean of the weighted per-class Dice losses of every image.
    volume = t.reshape(-1, K).sum(0).astype(np.float64)
    batch_w = 1 / (volume**2 + 1e-7)
    batch_w = batch_w / batch_w.sum() * K
    np.testing.assert_allclose(
        lossjax.dice_loss(z, y, class_weights=batch_w.astype(np.float32)),
        optax_gdl,
        rtol=1e-5,
    )


def test_binary_dice_with_sigmoid_matches_optax_binary_dice():
    z = _logits(B, H, W, 1)
    t = (RNG.uniform(size=(B, H, W, 1)) < 0.3).astype(np.float32)
    got = lossjax.dice_loss(z, t, activation="sigmoid", reduction="none")
    np.testing.assert_allclose(got, ref_tversky(_sigmoid(z), t), rtol=2e-6)
    # An integer mask without the channel axis is the same target.
    np.testing.assert_allclose(
        got,
        lossjax.dice_loss(z, t[..., 0].astype(np.int32), activation="sigmoid", reduction="none"),
    )
    # (optax's reduction="mean" is over the classes: one value per image.)
    optax_values = optax.losses.binary_dice_loss(jnp.asarray(z), jnp.asarray(t))
    np.testing.assert_allclose(got, optax_values, rtol=2e-6)
    # Probabilities in, no activation.
    p = _sigmoid(z).astype(np.float32)
    np.testing.assert_allclose(
        lossjax.dice_loss(p, t, from_logits=False, reduction="none"), got, rtol=1e-5
    )


def test_sigmoid_on_several_channels_is_multilabel_dice():
    z = _logits(B, H, W, 3)
    t = (RNG.uniform(size=(B, H, W, 3)) < 0.5).astype(np.float32)
    got = lossjax.dice_loss(z, t, activation="sigmoid", smooth=0.5, reduction="none")
    np.testing.assert_allclose(got, ref_tversky(_sigmoid(z), t, smooth=0.5), rtol=2e-6)


@pytest.mark.parametrize("alpha, beta", [(0.3, 0.7), (0.7, 0.3), (1.0, 1.0), (0.0, 2.0)])
def test_tversky_matches_reference_and_optax_alpha_beta(alpha, beta):
    z, y = _logits(B, H, W, K), _labels()
    t = _one_hot(y)
    got = lossjax.tversky_loss(z, t, alpha=alpha, beta=beta, reduction="none")
    np.testing.assert_allclose(got, ref_tversky(_softmax(z), t, alpha, beta), rtol=2e-6)
    optax_values = optax.losses.dice_loss(jnp.asarray(z), jnp.asarray(t), alpha=alpha, beta=beta)
    np.testing.assert_allclose(got, optax_values, rtol=2e-6, atol=1e-7)


def test_tversky_alpha_weighs_false_positives():
    """A prediction with only false positives: alpha matters, beta does not."""
    p = np.zeros((1, 4, 1), np.float32)
    p[0, :2, 0] = 1.0  # pixel 0 right, pixel 1 a false positive
    t = np.zeros((1, 4, 1), np.float32)
    t[0, 0, 0] = 1.0
    kw = {"from_logits": False, "smooth": 0.0, "reduction": "none"}
    np.testing.assert_allclose(lossjax.tversky_loss(p, t, alpha=1.0, beta=0.0, **kw), [0.5])
    np.testing.assert_allclose(lossjax.tversky_loss(p, t, alpha=0.0, beta=1.0, **kw), [0.0])


def test_dice_is_tversky_at_one_half_and_jaccard_at_one():
    z, y = _logits(B, H, W, K), _labels()
    np.testing.assert_allclose(
        lossjax.dice_loss(z, y, reduction="none"),
        lossjax.tversky_loss(z, y, reduction="none"),
        rtol=1e-6,
    )
    p, t = _softmax(z), _one_hot(y).astype(np.float64)
    axes = (1, 2)
    tp = (p * t).sum(axes)
    iou = (tp + 1) / (p.sum(axes) + t.sum(axes) - tp + 1)
    np.testing.assert_allclose(
        lossjax.tversky_loss(z, y, alpha=1.0, beta=1.0, reduction="none"),
        (1 - iou).mean(-1),
        rtol=2e-6,
    )


@pytest.mark.parametrize("gamma", [0.75, 1.0, 2.0])
def test_focal_tversky_matches_reference(gamma):
    z, y = _logits(B, H, W, K), _labels()
    w = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
    got = lossjax.focal_tversky_loss(
        z, y, alpha=0.3, beta=0.7, gamma=gamma, class_weights=w, reduction="none"
    )
    want = ref_tversky(_softmax(z), _one_hot(y), 0.3, 0.7, gamma=gamma, class_weights=w)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    if gamma == 1.0:
        np.testing.assert_allclose(
            got,
            lossjax.tversky_loss(z, y, alpha=0.3, beta=0.7, class_weights=w, reduction="none"),
            rtol=1e-6,
        )


def test_focal_tversky_gradient_at_a_perfect_prediction_is_zero_not_inf():
    p = np.array([[[1.0, 0.0], [0.0, 1.0]]], np.float32)
    y = np.array([[0, 1]], np.int32)
    f = lambda p: lossjax.focal_tversky_loss(p, y, from_logits=False, smooth=0.0)  # noqa: E731
    value, grad = jax.value_and_grad(f)(p)
    assert value == 0.0
    np.testing.assert_array_equal(grad, np.zeros_like(p))


@pytest.mark.parametrize("smooth", [1.0, 0.0])
def test_generalized_dice_matches_sudre(smooth):
    z = _logits(B, H, W, K)
    y = _labels()
    y[0] = np.where(y[0] == 3, 0, y[0])  # image 0 lacks class 3: it takes the largest weight
    got = lossjax.generalized_dice_loss(z, y, smooth=smooth, reduction="none")
    want = ref_generalized_dice(_softmax(z), _one_hot(y), smooth)
    np.testing.assert_allclose(got, want, rtol=2e-6)


def test_generalized_dice_with_one_class_is_dice_and_without_targets_is_uniform():
    z = _logits(B, H, W, 1)
    t = (RNG.uniform(size=(B, H, W, 1)) < 0.3).astype(np.float32)
    kw = {"activation": "sigmoid", "reduction": "none"}
    np.testing.assert_allclose(
        lossjax.generalized_dice_loss(z, t, **kw), lossjax.dice_loss(z, t, **kw), rtol=1e-6
    )
    p = _softmax(_logits(1, H, W, K)).astype(np.float32)
    empty = np.zeros_like(p)  # no target at all: equal weights, finite
    got = lossjax.generalized_dice_loss(p, empty, from_logits=False, reduction="none")
    np.testing.assert_allclose(got, ref_generalized_dice(p, empty), rtol=1e-6)


def test_overlap_gradients_match_float64_finite_differences_of_the_reference():
    z, y = _logits(1, 3, 3, K), _labels(shape=(1, 3, 3))
    t = _one_hot(y)
    cases = [
        (lambda x: lossjax.dice_loss(x, y), lambda x: ref_dice_pt(_softmax(x), t).mean()),
        (
            lambda x: lossjax.tversky_loss(x, y, alpha=0.2, beta=0.9),
            lambda x: ref_tversky(_softmax(x), t, 0.2, 0.9).mean(),
        ),
        (
            lambda x: lossjax.focal_tversky_loss(x, y, gamma=0.75),
            lambda x: ref_tversky(_softmax(x), t, gamma=0.75).mean(),
        ),
        (
            lambda x: lossjax.generalized_dice_loss(x, y),
            lambda x: ref_generalized_dice(_softmax(x), t).mean(),
        ),
    ]
    for loss, ref in cases:
        grad = np.asarray(jax.grad(loss)(z))
        for index in [(0, 0, 0, 0), (0, 1, 2, 3), (0, 2, 1, 1)]:
            np.testing.assert_allclose(
                grad[index], _central_difference(ref, z, index), rtol=1e-3, atol=1e-6
            )


def test_hyperparameters_can_be_traced_and_differentiated():
    z, y = _logits(B, H, W, K), _labels()
    f = lambda a, b: lossjax.tversky_loss(z, y, alpha=a, beta=b)  # noqa: E731
    da = jax.grad(f)(0.3, 0.7)
    eps = 1e-3
    fd = (f(0.3 + eps, 0.7) - f(0.3 - eps, 0.7)) / (2 * eps)
    np.testing.assert_allclose(da, fd, rtol=1e-2)
    swept = jax.vmap(lambda g: lossjax.focal_tversky_loss(z, y, gamma=g))(jnp.array([0.5, 1.0]))
    np.testing.assert_allclose(swept[1], lossjax.tversky_loss(z, y), rtol=1e-6)


def test_empty_masks_give_zero_loss_and_finite_gradients():
    p = np.zeros((2, 3, 3, 1), np.float32)  # nothing predicted, nothing present
    t = np.zeros_like(p)
    for smooth in (1.0, 0.0):
        for loss in (lossjax.dice_loss, lossjax.tversky_loss, lossjax.focal_tversky_loss):
            f = lambda p, loss=loss, smooth=smooth: loss(  # noqa: E731
                p, t, from_logits=False, smooth=smooth
            )
            value, grad = jax.value_and_grad(f)(p)
            assert value == 0.0
            assert np.all(np.isfinite(grad))
    # With logits a little foreground is always predicted: finite, small.
    z = np.full((1, 3, 3, 1), -10.0, np.float32)
    value = lossjax.dice_loss(z, np.zeros_like(z), activation="sigmoid", smooth=0.0)
    assert value == 1.0  # 0 / (0 + FP): every predicted pixel is a false positive


def test_channels_first_axis_equals_channels_last():
    z, y = _logits(B, H, W, K), _labels()
    t = _one_hot(y)
    first = np.moveaxis(z, -1, 1)
    for loss in (lossjax.dice_loss, lossjax.generalized_dice_loss, lossjax.lovasz_softmax_loss):
        want = loss(z, y, reduction="none")
        np.testing.assert_allclose(loss(first, y, axis=1, reduction="none"), want, rtol=1e-6)
    np.testing.assert_allclose(
        lossjax.tversky_loss(first, np.moveaxis(t, -1, 1), axis=1, reduction="none"),
        lossjax.tversky_loss(z, t, reduction="none"),
        rtol=1e-6,
    )


def test_volumes_and_where_weights_index_images():
    z, y = _logits(B, 2, 3, 4, K), _labels(shape=(B, 2, 3, 4))  # 3-D images
    got = lossjax.dice_loss(z, y, reduction="none")
    np.testing.assert_allclose(got, ref_tversky(_softmax(z), _one_hot(y)), rtol=2e-6)
    where = np.array([True, False, True])
    poisoned = z.copy()
    poisoned[1] = np.nan
    f = lambda x: lossjax.dice_loss(x, y, where=where, weights=jnp.array([1.0, 5.0, 3.0]))  # noqa: E731
    value, grad = jax.value_and_grad(f)(poisoned)
    np.testing.assert_allclose(value, (got[0] + 3 * got[2]) / 4, rtol=1e-6)
    assert np.all(grad[1] == 0) and np.all(np.isfinite(grad))


# -- Lovász -------------------------------------------------------------------------------------


def test_lovasz_hinge_matches_the_set_reference():
    z, y = _logits(B, H, W), _labels(2)
    y[1] = 0  # an image without foreground
    y[2, 0, 0] = 1
    got = lossjax.lovasz_hinge_loss(z, y, reduction="none")
    np.testing.assert_allclose(got, ref_lovasz_hinge(z, y), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(
        lossjax.lovasz_hinge_loss(z, y.astype(np.float32), reduction="none"), got
    )
    np.testing.assert_allclose(lossjax.lovasz_hinge_loss(z, y), got.mean(), rtol=1e-6)
    # No foreground: the largest hinge error (any false positive makes the IoU 0).
    np.testing.assert_allclose(got[1], np.maximum(0, 1 + z[1]).max(), rtol=1e-6)


def test_lovasz_hinge_gradient_matches_finite_differences_of_the_reference():
    z, y = _logits(1, 3, 4), _labels(2, shape=(1, 3, 4))
    grad = np.asarray(jax.grad(lossjax.lovasz_hinge_loss)(z, y))
    for index in np.ndindex(z.shape):
        fd = _central_difference(lambda x: ref_lovasz_hinge(x, y).mean(), z, index)
        np.testing.assert_allclose(grad[index], fd, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("classes", ["present", "all"])
def test_lovasz_softmax_matches_the_set_reference(classes):
    z, y = _logits(B, H, W, K), _labels()
    y[0] = np.where(y[0] == 2, 1, y[0])  # class 2 absent from image 0
    got = lossjax.lovasz_softmax_loss(z, y, classes=classes, reduction="none")
    np.testing.assert_allclose(got, ref_lovasz_softmax(_softmax(z), y, classes), rtol=2e-6)
    p = _softmax(z).astype(np.float32)
    np.testing.assert_allclose(
        lossjax.lovasz_softmax_loss(p, y, from_logits=False, classes=classes, reduction="none"),
        ref_lovasz_softmax(p, y, classes),
        rtol=2e-6,
    )


def test_lovasz_softmax_gradient_matches_finite_differences_of_the_reference():
    z, y = _logits(1, 3, 3, 3), _labels(3, shape=(1, 3, 3))
    grad = np.asarray(jax.grad(lossjax.lovasz_softmax_loss)(z, y))
    for index in [(0, 0, 0, 0), (0, 1, 2, 1), (0, 2, 2, 2), (0, 1, 0, 0)]:
        fd = _central_difference(lambda x: ref_lovasz_softmax(_softmax(x), y).mean(), z, index)
        np.testing.assert_allclose(grad[index], fd, rtol=1e-4, atol=1e-6)


def test_lovasz_of_a_perfect_prediction_is_zero():
    y = _labels(2)
    z = np.where(y == 1, 5.0, -5.0).astype(np.float32)
    np.testing.assert_array_equal(lossjax.lovasz_hinge_loss(z, y, reduction="none"), 0.0)
    p = _one_hot(y, 2)
    np.testing.assert_array_equal(
        lossjax.lovasz_softmax_loss(p, y, from_logits=False, reduction="none"), 0.0
    )


# -- registry and bad inputs --------------------------------------------------------------------


def test_suggest_segmentation():
    plain = [s.name for s in lossjax.suggest("segmentation")]
    assert plain[0] == "dice_loss"
    assert set(plain) >= {"lovasz_softmax_loss", "lovasz_hinge_loss", "tversky_loss"}
    imbalanced = lossjax.suggest("segmentation", imbalanced=True)
    assert imbalanced[0].call == "tversky_loss(alpha=0.3, beta=0.7)"
    assert {s.name for s in imbalanced[:3]} == {
        "tversky_loss",
        "focal_tversky_loss",
        "generalized_dice_loss",
    }
    assert lossjax.get("gdl") is not None and lossjax.info("lovasz").name == "lovasz_softmax_loss"


BAD = [
    (
        lambda: lossjax.dice_loss(np.zeros((2, 3, 3, 4)), np.zeros((2, 3, 3, 3))),
        ValueError,
        r"`targets` must have the shape of `predictions` \(2, 3, 3, 4\)",
    ),
    (
        lambda: lossjax.dice_loss(np.zeros((2, 3, 3, 1)), np.zeros((2, 3, 3, 1))),
        ValueError,
        r"`activation`='softmax' over a single channel",
    ),
    (
        lambda: lossjax.dice_loss(np.zeros((2, 3, 3, 4)), np.zeros((2, 3, 3), np.int32), axis=0),
        ValueError,
        r"`axis`=0 is the batch axis of `predictions`",
    ),
    (
        lambda: lossjax.dice_loss(np.zeros(4), np.zeros(4)),
        ValueError,
        r"`predictions` must be \(batch, \*spatial, classes\)",
    ),
    (
        lambda: lossjax.dice_loss(np.zeros((2, 3, 3, 4), np.int32), np.zeros((2, 3, 3, 4))),
        TypeError,
        r"`predictions`",
    ),
    (
        lambda: lossjax.tversky_loss(
            np.full((1, 2, 2), 0.5), np.full((1, 2, 2), 1.5), from_logits=False
        ),
        ValueError,
        r"`targets` must be masks or probabilities in \[0, 1\]",
    ),
    (
        lambda: lossjax.dice_loss(np.full((1, 2, 2), 3.0), np.ones((1, 2, 2)), from_logits=False),
        ValueError,
        r"`predictions` must be probabilities in \[0, 1\]",
    ),
    (
        lambda: lossjax.dice_loss(
            np.zeros((2, 3, 3, 4)), np.zeros((2, 3, 3), np.int32), class_weights=np.ones(3)
        ),
        ValueError,
        r"`class_weights` must be a 1-D array with one entry per class",
    ),
    (
        lambda: lossjax.tversky_loss(np.zeros((2, 3, 3, 4)), np.zeros((2, 3, 3, 4)), alpha=-0.1),
        ValueError,
        r"`alpha` must be >= 0",
    ),
    (
        lambda: lossjax.focal_tversky_loss(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), gamma=0.0),
        ValueError,
        r"`gamma` must be > 0",
    ),
    (
        lambda: lossjax.lovasz_hinge_loss(np.zeros((2, 3, 3)), np.zeros((2, 3))),
        ValueError,
        r"`logits`.*`labels`",
    ),
    (
        lambda: lossjax.lovasz_hinge_loss(np.zeros((2, 3)), np.full((2, 3), 2)),
        ValueError,
        r"`labels` must be binary masks of 0 and 1, got 2",
    ),
    (
        lambda: lossjax.lovasz_hinge_loss(np.zeros(3), np.zeros(3)),
        ValueError,
        r"`logits` must be \(batch, \*spatial\)",
    ),
    (
        lambda: lossjax.lovasz_softmax_loss(np.zeros((2, 3, 3, 1)), np.zeros((2, 3, 3), np.int32)),
        ValueError,
        r"`logits` must have at least 2 classes.*lovasz_hinge_loss",
    ),
    (
        lambda: lossjax.lovasz_softmax_loss(np.zeros((2, 3, 3, 4)), np.zeros((2, 3, 4), np.int32)),
        ValueError,
        r"`labels` must have the shape of `logits` without the class axis",
    ),
    (
        lambda: lossjax.lovasz_softmax_loss(np.zeros((2, 3, 3, 4)), np.zeros((2, 3, 3))),
        TypeError,
        r"`labels`",
    ),
    (
        lambda: lossjax.lovasz_softmax_loss(
            np.zeros((2, 3, 3, 4)), np.zeros((2, 3, 3), np.int32), classes="some"
        ),
        ValueError,
        r"`classes` must be one of 'present', 'all'",
    ),
    (
        lambda: lossjax.dice_loss(
            np.zeros((2, 3, 3, 4)), np.zeros((2, 3, 3), np.int32), where=np.ones(3, bool)
        ),
        ValueError,
        r"`where`",
    ),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=range(len(BAD)))
def test_bad_inputs_raise_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_checked_mode_refuses_out_of_range_class_labels_under_jit():
    z = jnp.zeros((1, 2, 2, 3))
    y = jnp.array([[[0, 1], [2, 3]]], jnp.int32)
    checked = lossjax.checked(jax.jit(lambda z, y: lossjax.lovasz_softmax_loss(z, y)))
    with pytest.raises(Exception, match=r"`labels` must be class indices in \[0, 3\)"):
        checked(z, y)
