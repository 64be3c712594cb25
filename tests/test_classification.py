"""Specification of the binary classification losses (lossjax/_classification.py).

binary_cross_entropy, hinge_loss and focal_loss are elementwise losses on
logits (or probabilities / raw scores) and 0/1 or soft labels. Every value is
checked against a float64 reference written here (or scikit-learn / optax),
every gradient against its analytic float64 form, including at logits ±1e3
and ±1e4, where naive formulas overflow or return NaN.
"""

from __future__ import annotations

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads
from scipy.special import expit, log_expit
from sklearn.metrics import hinge_loss as sk_hinge_loss
from sklearn.metrics import log_loss as sk_log_loss

import lossjax

GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)

# Logits from the far tails to 0, as float32 numbers (references use the same values).
EXTREME = np.array(
    [-1e4, -1e3, -100.0, -30.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0, 30.0, 100.0, 1e3, 1e4],
    np.float32,
)
RNG = np.random.default_rng(0)


def _tile(z, y):
    """All pairs of logits ``z`` and labels ``y`` as two flat arrays of equal length."""
    zz, yy = np.meshgrid(z, y, indexing="ij")
    return zz.ravel(), yy.ravel()


HARD_Z, HARD_Y = _tile(EXTREME, np.array([0.0, 1.0], np.float32))
SOFT_Z, SOFT_Y = _tile(EXTREME, np.array([0.0, 0.1, 0.5, 0.9, 1.0], np.float32))
SMOOTH_Z = RNG.normal(scale=3.0, size=12).astype(np.float32)
SMOOTH_Y = RNG.uniform(0.05, 0.95, size=12).astype(np.float32)


# -- float64 references ------------------------------------------------------------


def ref_bce(z, y, pos_weight=1.0):
    """Sigmoid cross-entropy, float64: pw*y*softplus(-z) + (1-y)*softplus(z)."""
    z, y = np.float64(z), np.float64(y)
    return pos_weight * y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)


def ref_bce_grad(z, y, pos_weight=1.0):
    """d/dz of ref_bce, float64, written so that it is accurate in both tails."""
    z, y = np.float64(z), np.float64(y)
    return (1.0 - y) * expit(z) - pos_weight * y * expit(-z)


def ref_bce_probabilities(p, y):
    """PyTorch BCELoss: -(y max(log p, -100) + (1-y) max(log(1-p), -100)), float64."""
    p, y = np.float64(p), np.float64(y)
    with np.errstate(divide="ignore"):
        return -(y * np.maximum(np.log(p), -100.0) + (1 - y) * np.maximum(np.log1p(-p), -100.0))


def ref_focal_parts(z, y):
    """(CE, log(1 - p_t), rho = p(1-p)/(1-p_t)), float64, in the log domain."""
    z, y = np.float64(z), np.float64(y)
    log_p, log_1mp = log_expit(z), log_expit(-z)
    ce = -(y * log_p + (1.0 - y) * log_1mp)
    with np.errstate(divide="ignore"):
        log_q = np.logaddexp(np.log(y) + log_1mp, np.log1p(-y) + log_p)
    return ce, log_q, np.exp(log_p + log_1mp - log_q)


def ref_focal(z, y, gamma, alpha=None):
    ce, log_q, _ = ref_focal_parts(z, y)
    loss = np.exp(gamma * log_q) * ce
    if alpha is not None:
        loss = (alpha * np.float64(y) + (1 - alpha) * (1 - np.float64(y))) * loss
    return loss


def ref_focal_grad(z, y, gamma, alpha=None):
    """dL/dz = (1-p_t)^g [g (1-2y) rho CE + p - y] (times alpha_t)."""
    ce, log_q, rho = ref_focal_parts(z, y)
    y64 = np.float64(y)
    grad = np.exp(gamma * log_q) * (gamma * (1 - 2 * y64) * rho * ce + ref_bce_grad(z, y))
    if alpha is not None:
        grad = (alpha * y64 + (1 - alpha) * (1 - y64)) * grad
    return grad


def ref_focal_label_grad(z, y, gamma):
    """dL/dy = (1-p_t)^g [g (1-2p) CE / (1-p_t) - z] (moderate logits only)."""
    ce, log_q, _ = ref_focal_parts(z, y)
    z64 = np.float64(z)
    return np.exp(gamma * log_q) * (gamma * (1 - 2 * expit(z64)) * ce / np.exp(log_q) - z64)


def ref_focal_definition(z, y, gamma):
    """Focal loss straight from Lin et al.'s definition, in extended precision."""
    z, y = np.longdouble(z), np.longdouble(y)
    p = 1 / (1 + np.exp(-z))
    p_t = y * p + (1 - y) * (1 - p)
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return np.float64((1 - p_t) ** np.longdouble(gamma) * ce)


def assert_close(actual, desired, rtol=1e-6, atol=0.0, **kwargs):
    # atol ~ float32 subnormals, which XLA on CPU may flush to zero.
    np.testing.assert_allclose(
        np.float64(actual), desired, rtol=rtol, atol=max(atol, 1e-37), **kwargs
    )


@functools.cache
def _jitted(loss, options):
    return jax.jit(lambda *args: loss(*args, **dict(options)))


def call(loss, *args, **kwargs):
    """``loss(*args, **kwargs)`` under ``jax.jit`` (options are trace-time constants)."""
    try:
        jitted = _jitted(loss, tuple(sorted(kwargs.items())))
    except TypeError:  # an array option: not hashable
        jitted = jax.jit(lambda *a: loss(*a, **kwargs))
    return jitted(*args)


def none(loss, *args, **kwargs):
    return call(loss, *args, reduction="none", **kwargs)


def grad_of(loss, argnum=0, **kwargs):
    return jax.jit(jax.grad(lambda *a: loss(*a, reduction="sum", **kwargs), argnums=argnum))


# -- binary_cross_entropy ------------------------------------------------------------


def test_bce_matches_float64_reference_everywhere():
    for z, y in ((HARD_Z, HARD_Y), (SOFT_Z, SOFT_Y)):
        assert_close(none(lossjax.binary_cross_entropy, z, y), ref_bce(z, y))


def test_bce_float64_under_x64(x64):
    out = none(lossjax.binary_cross_entropy, np.float64(SOFT_Z), np.float64(SOFT_Y))
    assert out.dtype == jnp.float64
    np.testing.assert_allclose(out, ref_bce(SOFT_Z, SOFT_Y), rtol=1e-13, atol=1e-300)


# For soft labels p - y cancels where p ~ y: an ill-conditioned difference (in y),
# so there the gradient is good to an absolute float32 ulp of p, not relatively.
SOFT_GRAD_ATOL = 1e-7


def test_bce_gradient_matches_analytic_at_extreme_logits():
    grad = grad_of(lossjax.binary_cross_entropy)
    assert_close(grad(HARD_Z, HARD_Y), ref_bce_grad(HARD_Z, HARD_Y), rtol=1e-5)
    assert_close(grad(SOFT_Z, SOFT_Y), ref_bce_grad(SOFT_Z, SOFT_Y), rtol=1e-5, atol=SOFT_GRAD_ATOL)


def test_bce_integer_and_bool_labels_are_cast():
    z = SMOOTH_Z
    y = (SMOOTH_Y > 0.5).astype(np.int32)
    expected = none(lossjax.binary_cross_entropy, z, y.astype(np.float32))
    np.testing.assert_array_equal(none(lossjax.binary_cross_entropy, z, y), expected)
    np.testing.assert_array_equal(none(lossjax.binary_cross_entropy, z, y.astype(bool)), expected)


def test_bce_matches_sklearn_log_loss():
    y = (SMOOTH_Y > 0.5).astype(np.float64)
    assert_close(call(lossjax.binary_cross_entropy, SMOOTH_Z, y), sk_log_loss(y, expit(SMOOTH_Z)))
    p = expit(SMOOTH_Z).astype(np.float32)
    assert_close(
        call(lossjax.binary_cross_entropy, p, y, from_logits=False),
        sk_log_loss(y, np.float64(p)),
    )


def test_bce_matches_optax():
    for z, y in ((HARD_Z, HARD_Y), (SOFT_Z, SOFT_Y)):
        assert_close(
            none(lossjax.binary_cross_entropy, z, y),
            np.float64(call(optax.losses.sigmoid_binary_cross_entropy, z, y)),
            rtol=1e-6,
            atol=1e-6,
        )


def test_bce_label_smoothing_follows_pytorch_keras_convention():
    eps = 0.2
    smoothed = np.float64(SOFT_Y) * (1 - eps) + eps / 2
    out = none(lossjax.binary_cross_entropy, SOFT_Z, SOFT_Y, label_smoothing=eps)
    assert_close(out, ref_bce(SOFT_Z, smoothed))
    # label_smoothing=1 turns every label into 1/2.
    out = none(lossjax.binary_cross_entropy, SOFT_Z, SOFT_Y, label_smoothing=1.0)
    assert_close(out, ref_bce(SOFT_Z, 0.5))


def test_bce_pos_weight_scalar_and_per_class():
    z = SMOOTH_Z.reshape(4, 3)
    y = SMOOTH_Y.reshape(4, 3)
    out = none(lossjax.binary_cross_entropy, z, y, pos_weight=3.0)
    assert_close(out, ref_bce(z, y, 3.0))
    pos_weight = np.array([0.5, 1.0, 4.0], np.float32)
    out = none(lossjax.binary_cross_entropy, z, y, pos_weight=pos_weight)
    assert_close(out, ref_bce(z, y, np.float64(pos_weight)))
    grad = grad_of(lossjax.binary_cross_entropy, pos_weight=pos_weight)(z, y)
    assert_close(grad, ref_bce_grad(z, y, np.float64(pos_weight)), rtol=1e-5)


def test_bce_pos_weight_at_extreme_logits():
    out = none(lossjax.binary_cross_entropy, HARD_Z, HARD_Y, pos_weight=2.5)
    assert_close(out, ref_bce(HARD_Z, HARD_Y, 2.5))
    grad = grad_of(lossjax.binary_cross_entropy, pos_weight=2.5)(HARD_Z, HARD_Y)
    assert_close(grad, ref_bce_grad(HARD_Z, HARD_Y, 2.5), rtol=1e-5)


def test_bce_probabilities_follow_pytorch_bceloss_with_exact_zero_and_one():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.999, 1e-30], np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.2, 1.0], np.float32)
    out = none(lossjax.binary_cross_entropy, p, y, from_logits=False)
    assert_close(out, ref_bce_probabilities(p, y), rtol=1e-6)
    np.testing.assert_array_equal(out[:4], [100.0, 100.0, 0.0, 0.0])
    grad = grad_of(lossjax.binary_cross_entropy, from_logits=False)(p, y)
    assert np.all(np.isfinite(grad))
    # Where a log is floored its gradient is 0; elsewhere it is -y/p + (1-y)/(1-p).
    p64, y64 = np.float64(p), np.float64(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = -y64 / p64 + (1 - y64) / (1 - p64)
    expected[:4] = [0.0, 0.0, 1.0, -1.0]
    assert_close(grad, expected, rtol=1e-5)


def test_bce_probabilities_with_pos_weight_and_smoothing(x64):
    p = np.float64(expit(SMOOTH_Z))
    y = np.float64(SMOOTH_Y)
    out = none(
        lossjax.binary_cross_entropy, p, y, from_logits=False, pos_weight=2.0, label_smoothing=0.1
    )
    y_s = y * 0.9 + 0.05
    expected = -(2.0 * y_s * np.log(p) + (1 - y_s) * np.log1p(-p))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_bce_hessian_is_exact_at_zero_logit():
    # sigma'(0) = 1/4: autodiff through |z| or max(z, 0) would give 0 here.
    hess = jax.jit(
        jax.hessian(lambda z: lossjax.binary_cross_entropy(z, jnp.ones(3), reduction="sum"))
    )
    np.testing.assert_allclose(np.diag(hess(jnp.zeros(3))), 0.25, rtol=1e-7)


def test_bce_check_grads(x64):
    z, y = np.float64(SMOOTH_Z), np.float64(SMOOTH_Y)
    f = functools.partial(lossjax.binary_cross_entropy, reduction="sum")
    check_grads(
        lambda z, y, pw, ls: f(z, y, pos_weight=pw, label_smoothing=ls),
        (z, y, 2.0, 0.3),
        order=2,
        modes=("fwd", "rev"),
    )


def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_bce_hyperparameter_gradients_match_finite_differences(x64):
    z, y = np.float64(SMOOTH_Z), np.float64(SMOOTH_Y)
    for name, value in (("pos_weight", 1.7), ("label_smoothing", 0.3)):

        @jax.jit
        def f(v, name=name):
            return lossjax.binary_cross_entropy(z, y, **{name: v})

        np.testing.assert_allclose(
            jax.grad(f)(value), central_difference(f, value), rtol=1e-6, err_msg=name
        )
    # Analytic: d/d(pos_weight) mean = mean(y softplus(-z)).
    g = jax.jit(jax.grad(lambda pw: lossjax.binary_cross_entropy(z, y, pos_weight=pw)))(1.0)
    np.testing.assert_allclose(g, np.mean(y * np.logaddexp(0, -z)), rtol=1e-12)


def test_bce_traced_hyperparameters_under_jit():
    @jax.jit
    def f(z, y, pos_weight, eps):
        return lossjax.binary_cross_entropy(
            z, y, pos_weight=pos_weight, label_smoothing=eps, reduction="none"
        )

    y_s = np.float64(SMOOTH_Y) * 0.9 + 0.05
    assert_close(f(SMOOTH_Z, SMOOTH_Y, 2.0, 0.1), ref_bce(SMOOTH_Z, y_s, 2.0))


# -- hinge_loss --------------------------------------------------------------------


@pytest.mark.parametrize("label_dtype", [np.int32, np.float32, bool])
def test_hinge_matches_sklearn_for_zero_one_labels(label_dtype):
    y = (SMOOTH_Y > 0.5).astype(label_dtype)
    expected = sk_hinge_loss(np.int32(y), np.float64(SMOOTH_Z))
    assert_close(call(lossjax.hinge_loss, SMOOTH_Z, y), expected)


def test_hinge_accepts_plus_minus_one_labels_and_matches_optax():
    signs = np.where(SMOOTH_Y > 0.5, 1.0, -1.0).astype(np.float32)
    zero_one = (signs > 0).astype(np.float32)
    out = none(lossjax.hinge_loss, SMOOTH_Z, signs)
    np.testing.assert_array_equal(out, none(lossjax.hinge_loss, SMOOTH_Z, zero_one))
    assert_close(out, np.maximum(0.0, 1.0 - np.float64(signs) * SMOOTH_Z))
    assert_close(out, np.float64(call(optax.losses.hinge_loss, SMOOTH_Z, signs)))
    assert_close(call(lossjax.hinge_loss, SMOOTH_Z, signs), sk_hinge_loss(signs, SMOOTH_Z))


def test_hinge_label_mapping_is_positive_versus_rest():
    # y > 0 -> +1, y <= 0 -> -1, decided without inspecting values in Python.
    y = np.array([1.0, 0.0, -1.0, 0.5, 2.0, -0.5], np.float32)
    s = np.full(6, 0.25, np.float32)
    np.testing.assert_allclose(none(lossjax.hinge_loss, s, y), [0.75, 1.25, 1.25, 0.75, 0.75, 1.25])


def test_hinge_margin_and_gradients():
    s = np.array([-2.0, 0.0, 0.5, 1.0, 3.0, -0.5], np.float32)
    y = np.array([1, 1, 1, 1, 1, 0])
    out = none(lossjax.hinge_loss, s, y, margin=2.0)
    np.testing.assert_allclose(out, [4.0, 2.0, 1.5, 1.0, 0.0, 1.5])
    # d/ds = -y' where the margin is violated, 0 beyond it and at the kink (y's == m).
    grad = grad_of(lossjax.hinge_loss)(s, y)
    np.testing.assert_array_equal(grad, [-1.0, -1.0, -1.0, 0.0, 0.0, 1.0])
    # d/d margin of the sum = number of active entries; traced margin under jit.
    g = jax.jit(jax.grad(lambda m: lossjax.hinge_loss(s, y, margin=m, reduction="sum")))(2.0)
    np.testing.assert_allclose(g, 5.0)
    assert_close(call(lossjax.hinge_loss, s, y, margin=0.0), np.mean([2.0, 0, 0, 0, 0, 0.0]))


# -- focal_loss ----------------------------------------------------------------------


@pytest.mark.parametrize("gamma", GAMMAS)
def test_focal_matches_float64_reference_everywhere(gamma):
    for z, y in ((HARD_Z, HARD_Y), (SOFT_Z, SOFT_Y)):
        out = none(lossjax.focal_loss, z, y, gamma=gamma)
        assert_close(out, ref_focal(z, y, gamma), err_msg=f"gamma={gamma}")
    out = none(lossjax.focal_loss, HARD_Z, HARD_Y.astype(np.int32), gamma=gamma)
    assert_close(out, ref_focal(HARD_Z, HARD_Y, gamma))


def test_focal_matches_its_definition_in_extended_precision():
    z = np.array([-6.0, -2.0, -0.5, 0.0, 0.7, 3.0, 8.0], np.float32)
    for y in (np.zeros(7, np.float32), np.ones(7, np.float32), np.full(7, 0.3, np.float32)):
        for gamma in GAMMAS:
            out = none(lossjax.focal_loss, z, y, gamma=gamma)
            assert_close(out, ref_focal_definition(z, y, gamma))


def test_focal_with_gamma_zero_is_exactly_bce():
    for z, y in ((HARD_Z, HARD_Y), (HARD_Z, HARD_Y.astype(np.int32)), (SOFT_Z, SOFT_Y)):
        for reduction in ("none", "mean"):
            np.testing.assert_array_equal(
                call(lossjax.focal_loss, z, y, gamma=0.0, reduction=reduction),
                call(lossjax.binary_cross_entropy, z, y, reduction=reduction),
            )
    np.testing.assert_array_equal(
        grad_of(lossjax.focal_loss, gamma=0.0)(SOFT_Z, SOFT_Y),
        grad_of(lossjax.binary_cross_entropy)(SOFT_Z, SOFT_Y),
    )


def test_focal_matches_optax_sigmoid_focal_loss():
    z, y = SMOOTH_Z, (SMOOTH_Y > 0.5).astype(np.float32)
    for gamma in GAMMAS:
        for alpha in (None, 0.25):
            assert_close(
                none(lossjax.focal_loss, z, y, gamma=gamma, alpha=alpha),
                np.float64(call(optax.losses.sigmoid_focal_loss, z, y, alpha=alpha, gamma=gamma)),
                rtol=2e-6,  # optax forms (1 - p_t) by subtraction
            )


@pytest.mark.parametrize("gamma", GAMMAS)
def test_focal_gradient_matches_analytic_at_extreme_logits(gamma):
    for z, y, atol in ((HARD_Z, HARD_Y, 0.0), (SOFT_Z, SOFT_Y, SOFT_GRAD_ATOL)):
        grad = grad_of(lossjax.focal_loss, gamma=gamma)(z, y)
        assert_close(grad, ref_focal_grad(z, y, gamma), rtol=1e-5, atol=atol)
    grad = grad_of(lossjax.focal_loss, gamma=gamma, alpha=0.25)(HARD_Z, HARD_Y)
    assert_close(grad, ref_focal_grad(HARD_Z, HARD_Y, gamma, 0.25), rtol=1e-5)


def test_focal_alpha_weights_positives_and_negatives():
    for gamma in (0.0, 2.0):
        out = none(lossjax.focal_loss, SOFT_Z, SOFT_Y, gamma=gamma, alpha=0.25)
        assert_close(out, ref_focal(SOFT_Z, SOFT_Y, gamma, alpha=0.25))


def test_focal_integer_labels_take_the_same_values_as_float_labels():
    y_int = HARD_Y.astype(np.int32)
    for gamma in (0.5, 2.0):
        np.testing.assert_array_equal(
            none(lossjax.focal_loss, HARD_Z, y_int, gamma=gamma),
            none(lossjax.focal_loss, HARD_Z, HARD_Y, gamma=gamma),
        )
        np.testing.assert_array_equal(
            grad_of(lossjax.focal_loss, gamma=gamma)(HARD_Z, y_int),
            grad_of(lossjax.focal_loss, gamma=gamma)(HARD_Z, HARD_Y),
        )


@pytest.mark.parametrize("gamma", (0.5, 2.0))
def test_focal_label_gradient_matches_analytic(gamma):
    z = np.array([-8.0, -2.0, -0.3, 0.0, 0.4, 3.0, 9.0, 20.0], np.float32)
    for y in (np.full(8, 0.3, np.float32), np.ones(8, np.float32), np.zeros(8, np.float32)):
        grad = grad_of(lossjax.focal_loss, argnum=1, gamma=gamma)(z, y)
        # atol: at z = 0 the exact gradient is 0, a sum of O(1) terms.
        assert_close(grad, ref_focal_label_grad(z, y, gamma), rtol=1e-5, atol=1e-7)
    # Still finite at the extremes, for hard and soft labels.
    for z, y in ((HARD_Z, HARD_Y), (SOFT_Z, SOFT_Y)):
        assert np.all(np.isfinite(grad_of(lossjax.focal_loss, argnum=1, gamma=gamma)(z, y)))


def test_focal_forward_mode_and_hessian_use_the_custom_rule():
    z = jnp.asarray(HARD_Z)
    y = jnp.asarray(HARD_Y)

    def f(z, gamma):
        return lossjax.focal_loss(z, y, gamma=gamma, reduction="sum")

    jvp = jax.jit(lambda z, t, g: jax.jvp(lambda z: f(z, g), (z,), (t,)))
    grad = jax.jit(jax.grad(f))
    hessian = jax.jit(jax.hessian(f))
    z64, y64 = np.float64(HARD_Z), np.float64(HARD_Y)
    for gamma in GAMMAS:
        tangent = jnp.asarray(RNG.normal(size=z.shape), jnp.float32)
        value, directional = jvp(z, tangent, gamma)
        np.testing.assert_allclose(value, call(f, z, gamma), rtol=1e-6)
        np.testing.assert_allclose(directional, jnp.vdot(grad(z, gamma), tangent), rtol=1e-5)
        hess = hessian(z, gamma)
        assert np.all(np.isfinite(hess)), gamma
        # Second derivative vs a central difference of the float64 analytic gradient.
        h = 1e-4
        fd = (ref_focal_grad(z64 + h, y64, gamma) - ref_focal_grad(z64 - h, y64, gamma)) / (2 * h)
        np.testing.assert_allclose(np.diag(hess), fd, rtol=1e-4, atol=1e-6)


def test_focal_check_grads(x64):
    z, y = np.float64(SMOOTH_Z), np.float64(SMOOTH_Y)
    f = functools.partial(lossjax.focal_loss, reduction="sum")
    # Logits, labels, gamma, alpha and label smoothing together, forward and reverse.
    check_grads(
        lambda z, y, g, a, ls: f(z, y, gamma=g, alpha=a, label_smoothing=ls),
        (z, y, 1.5, 0.3, 0.2),
        order=2,
        modes=("fwd", "rev"),
    )
    check_grads(lambda z, y: f(z, y, gamma=0.5), (z, y), order=2, modes=("fwd", "rev"))
    # Integer labels take the static hard-label path; the logits rule is the same.
    y_int = (SMOOTH_Y > 0.5).astype(np.int32)
    check_grads(lambda z: f(z, y_int, gamma=2.0), (z,), order=2, modes=("fwd", "rev"))


def test_focal_hyperparameter_gradients_match_finite_differences(x64):
    z, y = np.float64(SMOOTH_Z), np.float64(SMOOTH_Y)
    base = {"gamma": 2.0, "alpha": 0.3, "label_smoothing": 0.1}
    for name in base:
        for value in (base[name], 0.7):

            @jax.jit
            def f(v, name=name):
                return lossjax.focal_loss(z, y, **{**base, name: v})

            np.testing.assert_allclose(
                jax.grad(f)(value), central_difference(f, value), rtol=1e-6, err_msg=name
            )
    # Analytic d/d gamma at gamma = 0: mean(log(1 - p_t) * CE).
    ce, log_q, _ = ref_focal_parts(z, y)
    g = jax.jit(jax.grad(lambda g: lossjax.focal_loss(z, y, gamma=g)))(0.0)
    np.testing.assert_allclose(g, np.mean(log_q * ce), rtol=1e-12)


def test_focal_gamma_gradient_at_extreme_logits():
    grad = jax.jit(
        jax.grad(lambda g: lossjax.focal_loss(SOFT_Z, SOFT_Y, gamma=g, reduction="sum"))
    )(2.0)
    ce, log_q, _ = ref_focal_parts(SOFT_Z, SOFT_Y)
    np.testing.assert_allclose(grad, np.sum(log_q * np.exp(2.0 * log_q) * ce), rtol=1e-5)


def test_focal_vmap_over_gamma_equals_python_loop():
    gammas = jnp.asarray(GAMMAS, jnp.float32)
    swept = jax.jit(jax.vmap(lambda g: lossjax.focal_loss(SOFT_Z, SOFT_Y, gamma=g, alpha=0.25)))(
        gammas
    )
    looped = [call(lossjax.focal_loss, SOFT_Z, SOFT_Y, gamma=g, alpha=0.25) for g in GAMMAS]
    np.testing.assert_allclose(swept, looped, rtol=1e-6)
    grad = jax.jit(jax.grad(lambda g: lossjax.focal_loss(SMOOTH_Z, SMOOTH_Y, gamma=g)))
    swept = jax.vmap(grad)(gammas)
    np.testing.assert_allclose(swept, [grad(g) for g in GAMMAS], rtol=1e-6)


def test_focal_from_probabilities_reuses_the_logits_path():
    p = np.float32(expit(SMOOTH_Z))
    logits = np.log(np.float64(p)) - np.log1p(-np.float64(p))
    out = none(lossjax.focal_loss, p, SMOOTH_Y, gamma=2.0, from_logits=False)
    assert_close(out, ref_focal(logits, SMOOTH_Y, 2.0), rtol=1e-5)
    # Exact 0 and 1 become logits -100 and +100 (each log floored at -100).
    p = np.array([0.0, 1.0, 0.0, 1.0], np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    out = none(lossjax.focal_loss, p, y, gamma=2.0, from_logits=False)
    assert_close(out, ref_focal(np.array([-100.0, 100.0, -100.0, 100.0]), y, 2.0))
    grad = grad_of(lossjax.focal_loss, gamma=2.0, from_logits=False)(p, y)
    assert np.all(np.isfinite(grad))


# -- shared contract: dtypes, masks, shapes, errors ---------------------------------


LOSSES = {
    "bce": lossjax.binary_cross_entropy,
    "bce_probabilities": functools.partial(lossjax.binary_cross_entropy, from_logits=False),
    "hinge": lossjax.hinge_loss,
    "focal": lossjax.focal_loss,
    "focal_probabilities": functools.partial(lossjax.focal_loss, from_logits=False),
}


@pytest.mark.parametrize("name", LOSSES)
def test_reduction_none_keeps_shape_and_weights_follow_the_contract(name):
    loss = LOSSES[name]
    x = np.float32(expit(SMOOTH_Z)) if "probabilities" in name else SMOOTH_Z
    x, y = x.reshape(3, 4), SMOOTH_Y.reshape(3, 4)
    values = none(loss, x, y)
    assert values.shape == (3, 4)
    w = np.arange(4, dtype=np.float32).reshape(1, 4)
    expected = np.sum(np.float64(values) * w) / (3 * np.sum(w))
    np.testing.assert_allclose(call(loss, x, y, weights=w), expected, rtol=1e-6)
    np.testing.assert_allclose(
        call(loss, x, y, reduction="sum"), np.sum(np.float64(values)), rtol=1e-6
    )


def test_errors_name_the_argument():
    z, y = SMOOTH_Z, SMOOTH_Y
    cases = [
        (lossjax.binary_cross_entropy, {"label_smoothing": 1.5}, "label_smoothing"),
        (lossjax.binary_cross_entropy, {"label_smoothing": -0.1}, "label_smoothing"),
        (lossjax.binary_cross_entropy, {"pos_weight": -1.0}, "pos_weight"),
        (lossjax.binary_cross_entropy, {"pos_weight": np.array([1.0, -2.0, 1.0])}, "pos_weight"),
        (lossjax.binary_cross_entropy, {"pos_weight": np.ones(5)}, "pos_weight"),
        (lossjax.binary_cross_entropy, {"reduction": "avg"}, "reduction"),
        (lossjax.hinge_loss, {"margin": -1.0}, "margin"),
        (lossjax.hinge_loss, {"reduction": "max"}, "reduction"),
        (lossjax.focal_loss, {"gamma": -0.5}, "gamma"),
        (lossjax.focal_loss, {"alpha": 1.2}, "alpha"),
        (lossjax.focal_loss, {"alpha": -0.2}, "alpha"),
        (lossjax.focal_loss, {"label_smoothing": 2.0}, "label_smoothing"),
        (lossjax.focal_loss, {"reduction": None}, "reduction"),
    ]
    for loss, kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            loss(z, y, **kwargs)
    for loss in (lossjax.binary_cross_entropy, lossjax.hinge_loss, lossjax.focal_loss):
        first = "scores" if loss is lossjax.hinge_loss else "logits"
        with pytest.raises(ValueError, match=rf"{first}.*labels.*\(12,\).*\(12, 1\)"):
            loss(z, y[:, None])
        with pytest.raises(TypeError, match=first):
            loss(np.arange(12), y)
        with pytest.raises(TypeError, match="labels"):
            loss(z, y.astype(np.complex64))
    with pytest.raises(TypeError, match="from_logits"):
        lossjax.binary_cross_entropy(z, y, from_logits="no")
    with pytest.raises(TypeError, match="from_logits"):
        lossjax.focal_loss(z, y, from_logits=None)


FLOAT_DTYPES = [jnp.float16, jnp.bfloat16, jnp.float32]
extreme_logits = st.lists(
    st.one_of(
        st.floats(-1e4, 1e4, width=16),
        st.sampled_from([-1e4, -1e3, -88.0, -30.0, 0.0, 30.0, 88.0, 1e3, 1e4]),
    ),
    min_size=8,
    max_size=8,
)
labels_strategy = st.lists(
    st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0, width=16)),
    min_size=8,
    max_size=8,
)


@functools.cache
def _value_and_grads(name, gamma):
    loss = LOSSES[name]
    kwargs = {"gamma": gamma} if "focal" in name else {}
    return jax.jit(jax.value_and_grad(lambda z, y: loss(z, y, **kwargs), argnums=(0, 1)))


def _assert_finite_everywhere(z, y, dtype):
    z = jnp.asarray(np.asarray(z, np.float32), dtype)
    y = jnp.asarray(np.asarray(y, np.float32), dtype)
    for name in ("bce", "hinge", "focal"):
        for gamma in (0.5, 2.0) if name == "focal" else (None,):
            value, (gz, gy) = _value_and_grads(name, gamma)(z, y)
            assert np.isfinite(value), (name, gamma)
            assert np.all(np.isfinite(gz)) and np.all(np.isfinite(gy)), (name, gamma)


@given(extreme_logits, labels_strategy, st.sampled_from(FLOAT_DTYPES))
def test_property_finite_values_and_gradients(z, y, dtype):
    _assert_finite_everywhere(z, y, dtype)


@given(extreme_logits, labels_strategy)
def test_property_finite_values_and_gradients_float64(z, y):
    with jax.enable_x64(True):
        _assert_finite_everywhere(np.float64(z), np.float64(y), jnp.float64)


@given(
    st.lists(st.floats(0.0, 1.0, width=32), min_size=8, max_size=8),
    st.lists(st.sampled_from([0.0, 1.0]), min_size=8, max_size=8),
)
def test_property_probabilities_give_finite_values_and_gradients(p, y):
    p = np.asarray(p, np.float32)
    p[:2] = [0.0, 1.0]
    y = np.asarray(y, np.float32)
    for name in ("bce_probabilities", "focal_probabilities"):
        value, (gp, _) = _value_and_grads(name, 2.0)(p, y)
        assert np.isfinite(value) and np.all(np.isfinite(gp)), name


# -- the fast compiled form (issue 5): same values, fewer passes -------------------


def test_focal_static_and_traced_gamma_agree():
    traced_value = jax.jit(
        lambda z, y, g: lossjax.focal_loss(z, y, gamma=g, alpha=0.25, reduction="none")
    )
    traced_grad = jax.jit(
        jax.grad(lambda z, y, g: lossjax.focal_loss(z, y, gamma=g, alpha=0.25, reduction="sum"))
    )
    for gamma in (0.5, 1.0, 2.0, 3.0):
        for z, y, atol in ((HARD_Z, HARD_Y, 1e-37), (SOFT_Z, SOFT_Y, SOFT_GRAD_ATOL)):
            static = none(lossjax.focal_loss, z, y, gamma=gamma, alpha=0.25)
            np.testing.assert_allclose(static, traced_value(z, y, gamma), rtol=1e-6, atol=1e-37)
            static_grad = grad_of(lossjax.focal_loss, gamma=gamma, alpha=0.25)(z, y)
            np.testing.assert_allclose(
                static_grad, traced_grad(z, y, gamma), rtol=1e-5, atol=atol, err_msg=str(gamma)
            )


def test_label_smoothing_and_pos_weight_gradients_at_extreme_logits():
    # Both are applied inside the custom derivative rules; check them in float32.
    eps, pw = 0.2, 2.5
    # The labels as smoothed in float32 (the loss's input, rounded once).
    eps32 = np.float32(eps)
    smoothed = np.float64(HARD_Y * (np.float32(1) - eps32) + np.float32(0.5) * eps32)
    grad = grad_of(lossjax.binary_cross_entropy, label_smoothing=eps, pos_weight=pw)
    assert_close(grad(HARD_Z, HARD_Y), ref_bce_grad(HARD_Z, smoothed, pw), rtol=1e-5)
    for gamma in (0.5, 2.0):
        out = none(lossjax.focal_loss, HARD_Z, HARD_Y, gamma=gamma, label_smoothing=eps)
        assert_close(out, ref_focal(HARD_Z, smoothed, gamma))
        grad = grad_of(lossjax.focal_loss, gamma=gamma, label_smoothing=eps)(HARD_Z, HARD_Y)
        # Smoothed labels are soft: p - y may cancel (see SOFT_GRAD_ATOL).
        assert_close(grad, ref_focal_grad(HARD_Z, smoothed, gamma), rtol=1e-5, atol=1e-7)


def test_hinge_label_mapping_holds_for_tiny_and_huge_labels():
    # Every label above 0 is the positive class, down to the smallest normal float.
    tiny = np.finfo(np.float32).tiny
    y = np.array([tiny, 1e-30, 3e38, np.inf, -np.inf, -tiny, 0.0], np.float32)
    signs = np.where(y > 0, 1.0, -1.0)
    s = np.full(7, 0.25, np.float32)
    np.testing.assert_array_equal(none(lossjax.hinge_loss, s, y), 1.0 - signs * 0.25)
    np.testing.assert_array_equal(grad_of(lossjax.hinge_loss)(s, y), -signs)


def test_hinge_value_and_gradient_agree_at_subnormal_labels():
    # Whether a subnormal label reads as positive is the backend's arithmetic
    # (XLA:CPU flushes subnormals to 0, GPUs keep them), but the value and the
    # gradient must always use the same sign.
    y = np.array([1e-45, 1e-40, -1e-45, -1e-40], np.float32)
    s = np.full(4, 0.25, np.float32)
    values = np.asarray(none(lossjax.hinge_loss, s, y))
    signs = (1.0 - values) / 0.25  # the sign the value used
    assert set(np.round(signs).tolist()) <= {-1.0, 1.0}
    np.testing.assert_array_equal(grad_of(lossjax.hinge_loss)(s, y), -np.round(signs))


def _full_size_arrays(fn, shape):
    """Names of the full-size arrays that ``fn``'s optimised CPU program writes."""
    arg = jax.ShapeDtypeStruct(shape, jnp.float32)
    text = jax.jit(fn).lower(arg, arg).compile().as_text()
    entry = text[text.index("ENTRY") :]
    dims = ",".join(map(str, shape))
    found = re.findall(rf"%(\S+) = f32\[{dims}\]\S* (\w[\w-]*)\(", entry)
    return [name for name, op in found if op not in ("parameter", "bitcast")]


FAST_CASES = {
    "bce": lambda z, y: lossjax.binary_cross_entropy(z, y),
    "bce_smoothed_weighted": lambda z, y: lossjax.binary_cross_entropy(
        z, y, label_smoothing=0.1, pos_weight=2.0
    ),
    "hinge": lambda z, y: lossjax.hinge_loss(z, y),
    "focal_2": lambda z, y: lossjax.focal_loss(z, y, gamma=2.0),
    "focal_half_alpha_smoothed": lambda z, y: lossjax.focal_loss(
        z, y, gamma=0.5, alpha=0.25, label_smoothing=0.1
    ),
}
