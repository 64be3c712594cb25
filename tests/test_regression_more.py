"""Specification of smooth L1, squared logarithmic, absolute percentage and quantile
error, the cosine distance, and log-cosh without targets."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sklearn.metrics
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads

import lossjax

RNG = np.random.default_rng(1)
PRED = (RNG.normal(size=(6, 5)) * 3).astype(np.float32)
TARG = RNG.normal(size=(6, 5)).astype(np.float32)
ERR64 = PRED.astype(np.float64) - TARG.astype(np.float64)
POS_PRED = RNG.uniform(0.0, 5.0, size=(6, 5)).astype(np.float32)
POS_TARG = RNG.uniform(0.0, 5.0, size=(6, 5)).astype(np.float32)


def _sum_grad(loss, **kwargs):
    """jit(grad) of the summed loss with respect to both inputs."""
    return jax.jit(jax.grad(lambda p, t: loss(p, t, reduction="sum", **kwargs), (0, 1)))


# -- float64 references written here ------------------------------------------------


def np_smooth_l1(e, beta):
    a = np.abs(e)
    if beta == 0:
        return a
    return np.where(a < beta, 0.5 * e**2 / beta, a - 0.5 * beta)


def np_msle(p, t):
    return (np.log1p(np.maximum(p, 0)) - np.log1p(np.maximum(t, 0))) ** 2


FLOAT64_EPS = np.finfo(np.float64).eps


def np_mape(p, t, eps=FLOAT64_EPS):
    return np.abs(p - t) / np.maximum(np.abs(t), eps)


def np_pinball(p, t, q):
    d = t - p
    return np.where(d >= 0, q * d, (q - 1) * d)


def np_cosine_distance(p, t, axis=-1, eps=0.0):
    p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
    pn = np.sqrt(np.maximum(np.sum(p * p, axis), eps))
    tn = np.sqrt(np.maximum(np.sum(t * t, axis), eps))
    dot = np.sum(p * t, axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(pn * tn > 0, dot / (pn * tn), 0.0)
    return 1 - cos


# -- smooth L1 ----------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.1, 1.0, 3.0])
def test_smooth_l1_values_and_gradient_match_float64_reference(beta):
    values = lossjax.smooth_l1_loss(PRED, TARG, beta=beta, reduction="none")
    np.testing.assert_allclose(values, np_smooth_l1(ERR64, beta), rtol=1e-6)
    grad_p, grad_t = _sum_grad(lossjax.smooth_l1_loss, beta=beta)(PRED, TARG)
    slope = np.sign(ERR64) if beta == 0 else np.clip(ERR64 / beta, -1, 1)
    np.testing.assert_allclose(grad_p, slope, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(grad_t, -grad_p)


def test_smooth_l1_is_huber_over_beta_and_beta_zero_is_mae_exactly():
    for beta in (0.25, 1.0, 2.5):
        np.testing.assert_allclose(
            lossjax.smooth_l1_loss(PRED, TARG, beta=beta),
            lossjax.huber_loss(PRED, TARG, delta=beta) / beta,
            rtol=1e-6,
        )
    np.testing.assert_array_equal(
        lossjax.smooth_l1_loss(PRED, TARG, beta=0.0, reduction="none"),
        lossjax.mean_absolute_error(PRED, TARG, reduction="none"),
    )
    # beta = 0: finite gradient everywhere, 0 at a zero error, and d/d beta = -1/2.
    e = jnp.array([-2.0, 0.0, 3.0])
    g = jax.grad(lambda p: lossjax.smooth_l1_loss(p, jnp.zeros(3), beta=0.0, reduction="sum"))(e)
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])
    g_beta = jax.grad(lambda b: lossjax.smooth_l1_loss(e, jnp.zeros(3), beta=b, reduction="sum"))
    np.testing.assert_allclose(g_beta(0.0), -1.0)  # -1/2 for each of the two nonzero errors
    # Inside: d/d beta of e^2 / (2 beta) is -e^2 / (2 beta^2).
    np.testing.assert_allclose(g_beta(4.0), -(4 + 9) / 32, rtol=1e-6)


def test_smooth_l1_beta_is_traceable_and_vmappable():
    betas = jnp.array([0.0, 0.5, 1.0, 2.0])
    swept = jax.vmap(lambda b: lossjax.smooth_l1_loss(PRED, TARG, beta=b))(betas)
    loop = [lossjax.smooth_l1_loss(PRED, TARG, beta=float(b)) for b in betas]
    np.testing.assert_allclose(swept, loop, rtol=1e-6)


@pytest.mark.parametrize("beta", [-1.0, float("nan")])
def test_smooth_l1_beta_must_be_non_negative(beta):
    with pytest.raises(ValueError, match=r"`beta` must be >= 0.0, got"):
        lossjax.smooth_l1_loss(PRED, TARG, beta=beta)


# -- squared logarithmic error --------------------------------------------------------


def test_msle_matches_scikit_learn_and_reference():
    w = RNG.uniform(0.1, 2.0, size=6).astype(np.float32)
    p, t = POS_PRED[:, 0], POS_TARG[:, 0]
    np.testing.assert_allclose(
        lossjax.mean_squared_logarithmic_error(p, t, weights=w),
        sklearn.metrics.mean_squared_log_error(t, p, sample_weight=w),
        rtol=1e-6,
    )
    values = lossjax.mean_squared_logarithmic_error(POS_PRED, POS_TARG, reduction="none")
    np.testing.assert_allclose(
        values, np_msle(POS_PRED.astype(np.float64), POS_TARG.astype(np.float64)), rtol=1e-5
    )
    grad_p, grad_t = _sum_grad(lossjax.mean_squared_logarithmic_error)(POS_PRED, POS_TARG)
    lp, lt = np.log1p(POS_PRED.astype(np.float64)), np.log1p(POS_TARG.astype(np.float64))
    np.testing.assert_allclose(grad_p, 2 * (lp - lt) / (1 + POS_PRED), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_t, -2 * (lp - lt) / (1 + POS_TARG), rtol=1e-5, atol=1e-7)


def test_msle_clips_negative_inputs_at_zero_with_zero_gradient():
    p = jnp.array([-0.5, -1.0, -5.0, -1e30, 0.0, 1.0])
    t = jnp.array([1.0, 1.0, 1.0, 0.0, 1.0, -3.0])
    values = lossjax.mean_squared_logarithmic_error(p, t, reduction="none")
    expected = np_msle(np.asarray(p, np.float64), np.asarray(t, np.float64))
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    grad_p, grad_t = _sum_grad(lossjax.mean_squared_logarithmic_error)(p, t)
    assert np.all(np.isfinite(grad_p)) and np.all(np.isfinite(grad_t))
    np.testing.assert_array_equal(grad_p[:4], 0.0)
    np.testing.assert_array_equal(grad_t[5], 0.0)
    # At exactly 0 the slope is that of the non-negative side: 2 (0 - log 2) / 1.
    np.testing.assert_allclose(grad_p[4], -2 * np.log(2.0), rtol=1e-6)


def test_msle_large_values_and_float64(x64):
    p = np.array([1e30, 3e38, 1e-30, 0.0], np.float64)
    t = np.array([1e29, 1.0, 0.0, 1e300], np.float64)
    values = lossjax.mean_squared_logarithmic_error(p, t, reduction="none")
    assert values.dtype == jnp.float64
    np.testing.assert_allclose(values, np_msle(p, t), rtol=1e-13, atol=1e-300)
    values32 = lossjax.mean_squared_logarithmic_error(
        p[:3].astype(np.float32), t[:3].astype(np.float32), reduction="none"
    )
    assert values32.dtype == jnp.float32
    np.testing.assert_allclose(values32, np_msle(p[:3], t[:3]), rtol=1e-5, atol=1e-37)


# -- absolute percentage error -------------------------------------------------------


def test_mape_matches_scikit_learn_as_a_fraction():
    w = RNG.uniform(0.1, 2.0, size=6).astype(np.float32)
    p, t = PRED[:, 0], TARG[:, 0]
    np.testing.assert_allclose(
        lossjax.mean_absolute_percentage_error(p, t, weights=w),
        sklearn.metrics.mean_absolute_percentage_error(t, p, sample_weight=w),
        rtol=1e-6,
    )
    # A zero target: scikit-learn's float64-eps floor, finite in float32 too.
    p, t = np.array([1.0, 2.0, 0.0], np.float32), np.array([0.0, 1.0, 0.0], np.float32)
    np.testing.assert_allclose(
        lossjax.mean_absolute_percentage_error(p, t),
        sklearn.metrics.mean_absolute_percentage_error(t, p),
        rtol=1e-6,
    )


def test_mape_values_gradients_and_epsilon():
    values = lossjax.mean_absolute_percentage_error(PRED, TARG, reduction="none")
    np.testing.assert_allclose(
        values, np_mape(PRED.astype(np.float64), TARG.astype(np.float64)), rtol=1e-6
    )
    grad_p, grad_t = _sum_grad(lossjax.mean_absolute_percentage_error)(PRED, TARG)
    t64 = TARG.astype(np.float64)
    np.testing.assert_allclose(grad_p, np.sign(ERR64) / np.abs(t64), rtol=1e-5)
    # d/dt |p - t| / |t| = -sign(e)/|t| - |e| sign(t) / t^2
    want_t = -np.sign(ERR64) / np.abs(t64) - np.abs(ERR64) * np.sign(t64) / t64**2
    np.testing.assert_allclose(grad_t, want_t, rtol=1e-5)
    # Keras's epsilon 1e-7 floors small targets.
    values = lossjax.mean_absolute_percentage_error(
        jnp.array([1.0, 1.0]), jnp.array([1e-9, -2.0]), epsilon=1e-7, reduction="none"
    )
    np.testing.assert_allclose(values, [(1 - 1e-9) / 1e-7, 1.5], rtol=1e-6)
    swept = jax.vmap(lambda e: lossjax.mean_absolute_percentage_error(PRED, TARG * 0, epsilon=e))(
        jnp.array([0.5, 2.0])
    )
    np.testing.assert_allclose(swept, np.abs(PRED).mean() / np.array([0.5, 2.0]), rtol=1e-6)


@pytest.mark.parametrize("epsilon", [0.0, -1e-7])
def test_mape_epsilon_must_be_positive(epsilon):
    with pytest.raises(ValueError, match=r"`epsilon` must be > 0.0, got"):
        lossjax.mean_absolute_percentage_error(PRED, TARG, epsilon=epsilon)


# -- quantile (pinball) loss --------------------------------------------------------------


@pytest.mark.parametrize("q", [0.05, 0.3, 0.5, 0.9, 0.999])
def test_quantile_matches_scikit_learn_and_reference(q):
    w = RNG.uniform(0.1, 2.0, size=6).astype(np.float32)
    p, t = PRED[:, 0], TARG[:, 0]
    np.testing.assert_allclose(
        lossjax.quantile_loss(p, t, quantile=q, weights=w),
        sklearn.metrics.mean_pinball_loss(t, p, alpha=q, sample_weight=w),
        rtol=1e-6,
    )
    values = lossjax.quantile_loss(PRED, TARG, quantile=q, reduction="none")
    q32 = float(np.float32(q))  # 1 - q is exact in float32, q itself is rounded
    np.testing.assert_allclose(
        values, np_pinball(PRED.astype(np.float64), TARG.astype(np.float64), q32), rtol=1e-6
    )
    grad_p, grad_t = _sum_grad(lossjax.quantile_loss, quantile=q)(PRED, TARG)
    np.testing.assert_allclose(grad_p, np.where(ERR64 < 0, -q32, 1 - q32), rtol=1e-6)
    np.testing.assert_array_equal(grad_t, -grad_p)


def test_quantile_half_is_half_the_absolute_error_and_zero_error_gradient_is_the_midpoint():
    np.testing.assert_allclose(
        lossjax.quantile_loss(PRED, TARG), 0.5 * lossjax.mean_absolute_error(PRED, TARG), rtol=1e-6
    )
    g = jax.grad(lambda p: lossjax.quantile_loss(p, jnp.zeros(3), quantile=0.9, reduction="sum"))
    np.testing.assert_allclose(g(jnp.zeros(3)), [-0.4] * 3, rtol=1e-6)


def test_quantile_several_levels_on_a_trailing_axis():
    levels = np.array([0.1, 0.5, 0.9], np.float32)
    preds = PRED[..., None] + np.array([-1.0, 0.0, 1.0], np.float32)
    values = lossjax.quantile_loss(preds, TARG, quantile=levels, reduction="none")
    assert values.shape == preds.shape
    for k, q in enumerate(levels):
        np.testing.assert_allclose(
            values[..., k], lossjax.quantile_loss(preds[..., k], TARG, quantile=q, reduction="none")
        )
    per_level = [
        sklearn.metrics.mean_pinball_loss(TARG.ravel(), preds[..., k].ravel(), alpha=q)
        for k, q in enumerate(levels)
    ]
    np.testing.assert_allclose(
        lossjax.quantile_loss(preds, TARG, quantile=levels), np.mean(per_level), rtol=1e-6
    )
    # Per-example weights need the level axis: w[..., None].
    w = RNG.uniform(0.1, 2.0, size=TARG.shape).astype(np.float32)
    got = lossjax.quantile_loss(preds, TARG, quantile=levels, weights=w[..., None])
    np.testing.assert_allclose(got, np.sum(w[..., None] * values) / (3 * w.sum()), rtol=1e-5)
    # where over examples: a NaN target behind the mask contributes nothing.
    bad_t = TARG.copy()
    bad_t[0, 0] = np.nan
    keep = np.ones(preds.shape, bool)
    keep[0, 0, :] = False
    f = jax.value_and_grad(
        lambda p, t: lossjax.quantile_loss(p, t, quantile=levels, where=keep), (0, 1)
    )
    value, (gp, gt) = f(preds, bad_t)
    assert np.isfinite(value) and np.all(np.isfinite(gp)) and np.all(np.isfinite(gt))
    assert gt[0, 0] == 0 and np.all(gp[0, 0] == 0)


def test_quantile_is_traceable_and_vmappable():
    qs = jnp.array([0.1, 0.5, 0.9])
    swept = jax.vmap(lambda q: lossjax.quantile_loss(PRED, TARG, quantile=q))(qs)
    loop = [lossjax.quantile_loss(PRED, TARG, quantile=float(q)) for q in qs]
    np.testing.assert_allclose(swept, loop, rtol=1e-6)
    g = jax.grad(lambda q: lossjax.quantile_loss(PRED, TARG, quantile=q, reduction="sum"))(0.3)
    np.testing.assert_allclose(g, np.sum(-ERR64), rtol=1e-5)  # d/dq of q d - min(d, 0) = d


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, [0.5, 1.0]])
def test_quantile_levels_must_be_strictly_inside_0_1(q):
    with pytest.raises(ValueError, match=r"`quantile` must be in \(0.0, 1.0\), got"):
        lossjax.quantile_loss(PRED, TARG, quantile=q)


def test_quantile_shape_errors_name_the_shapes():
    with pytest.raises(
        ValueError, match=r"trailing axis of 3.*\(6, 5, 3\).*predictions.shape=\(6, 5\)"
    ):
        lossjax.quantile_loss(PRED, TARG, quantile=[0.1, 0.5, 0.9])
    with pytest.raises(
        ValueError, match=r"predictions.shape=\(6, 5, 2\) and targets.shape=\(6, 5\)"
    ):
        lossjax.quantile_loss(np.zeros((6, 5, 2), np.float32), TARG, quantile=[0.1, 0.5, 0.9])
    with pytest.raises(
        ValueError, match=r"`quantile` must be a scalar or a non-empty 1-D.*\(2, 1\)"
    ):
        lossjax.quantile_loss(PRED, TARG, quantile=np.full((2, 1), 0.5))
    with pytest.raises(ValueError, match=r"predictions.shape=\(6, 5\) and targets.shape=\(5,\)"):
        lossjax.quantile_loss(PRED, TARG[0])


# -- cosine distance ------------------------------------------------------------------------

VP = RNG.normal(size=(4, 3, 6)).astype(np.float32)
VT = RNG.normal(size=(4, 3, 6)).astype(np.float32)


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("epsilon", [0.0, 1e-3, 4.0])
def test_cosine_distance_matches_optax_and_reference(axis, epsilon):
    values = lossjax.cosine_distance(VP, VT, axis=axis, epsilon=epsilon, reduction="none")
    np.testing.assert_allclose(
        values, np_cosine_distance(VP, VT, axis, epsilon), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        values, optax.losses.cosine_distance(VP, VT, axis=axis, epsilon=epsilon), atol=1e-6
    )
    # Gradients against optax's (autodiff of its plain formula, fine away from 0).
    ours = jax.grad(
        lambda p, t: lossjax.cosine_distance(p, t, axis=axis, epsilon=epsilon, reduction="sum"),
        (0, 1),
    )(VP, VT)
    theirs = jax.grad(
        lambda p, t: optax.losses.cosine_distance(p, t, axis=axis, epsilon=epsilon).sum(), (0, 1)
    )(VP, VT)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_cosine_distance_gradient_is_the_analytic_one_in_float64(x64):
    p, t = VP.astype(np.float64)[0], VT.astype(np.float64)[0]
    g = jax.grad(lambda x: lossjax.cosine_distance(x, t, reduction="sum"))(p)
    pn = np.linalg.norm(p, axis=-1, keepdims=True)
    tn = np.linalg.norm(t, axis=-1, keepdims=True)
    cos = np.sum(p * t, -1, keepdims=True) / (pn * tn)
    np.testing.assert_allclose(g, -(t / (pn * tn) - cos * p / pn**2), rtol=1e-12)
    # (Second order in float64: the catalogue's check_grads in test_transformations.py.)
    check_grads(jax.jit(lambda x: lossjax.cosine_distance(x, t)), (p,), order=1, modes=["rev"])


def test_cosine_distance_zero_vectors_give_one_and_finite_gradients():
    p = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    t = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    values = lossjax.cosine_distance(p, t, reduction="none")
    np.testing.assert_allclose(values, [1.0, 1.0, 1.0], rtol=1e-6)
    for eps in (0.0, 1e-8):
        grads = jax.jit(
            jax.grad(lambda a, b, eps=eps: lossjax.cosine_distance(a, b, epsilon=eps), (0, 1))
        )(p, t)
        assert all(np.all(np.isfinite(g)) for g in grads)
    # With epsilon > 0 a zero prediction moves towards the target: -t / (sqrt(eps) |t|).
    g = jax.grad(lambda a: lossjax.cosine_distance(a, t[:1], epsilon=1e-4, reduction="sum"))(p[:1])
    np.testing.assert_allclose(g, [[-100.0, 0.0, 0.0]], rtol=1e-5)
    hess = jax.jit(jax.hessian(lambda a: lossjax.cosine_distance(a, t, reduction="sum")))(p)
    assert np.all(np.isfinite(hess))


def test_cosine_distance_keeps_its_relative_accuracy_between_nearly_parallel_vectors():
    t = np.array([[1.0, 2.0, 3.0]] * 4, np.float32)
    p = t + np.array([[1e-3, 0, 0], [0, 1e-4, 0], [0, 0, -2e-4], [3e-3, -2e-3, 1e-3]], np.float32)
    values = lossjax.cosine_distance(p, t, reduction="none")
    expected = np_cosine_distance(p.astype(np.float64), t.astype(np.float64))
    # (1 - cos in float32 gives 0 or noise here: every expected distance is below 1e-6.)
    assert np.all((expected > 0) & (expected < 1e-6))
    np.testing.assert_allclose(values, expected, rtol=2e-2)
    np.testing.assert_array_equal(lossjax.cosine_distance(t, t, reduction="none"), 0.0)


def test_cosine_distance_does_not_overflow_or_underflow():
    big = np.array([[3e38, -3e38, 1e38], [1e-30, 2e-30, -1e-30], [3e38, 0.0, 0.0]], np.float32)
    t = np.array([[1.0, -1.0, 0.5], [1.0, 2.0, -1.0], [1e-30, 1e-30, 0.0]], np.float32)
    values = lossjax.cosine_distance(big, t, reduction="none")
    np.testing.assert_allclose(values, np_cosine_distance(big, t), rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda x: lossjax.cosine_distance(x, t, reduction="sum"))(big)
    assert np.all(np.isfinite(grad))


def test_cosine_distance_float64_and_low_precision(x64):
    values = lossjax.cosine_distance(VP.astype(np.float64), VT.astype(np.float64), reduction="none")
    assert values.dtype == jnp.float64
    np.testing.assert_allclose(values, np_cosine_distance(VP, VT), rtol=1e-12, atol=1e-14)
    low = lossjax.cosine_distance(VP.astype(jnp.bfloat16), VT.astype(jnp.bfloat16))
    assert low.dtype == jnp.float32


def test_cosine_distance_masks_and_weights_are_per_vector():
    keep = np.array([[True, False, True]] * 4)
    bad = VP.copy()
    bad[:, 1] = np.nan
    value, grad = jax.value_and_grad(lambda p: lossjax.cosine_distance(p, VT, where=keep))(bad)
    np.testing.assert_allclose(value, np_cosine_distance(VP, VT)[keep].mean(), rtol=1e-5)
    assert np.all(np.isfinite(grad)) and np.all(grad[:, 1] == 0)
    with pytest.raises(ValueError, match=r"`where` must be a scalar or broadcastable.*\(4, 3\)"):
        lossjax.cosine_distance(VP, VT, where=np.ones((4, 3, 6), bool))


def test_cosine_distance_errors():
    with pytest.raises(
        ValueError, match=r"predictions.shape=\(4, 3, 6\) and targets.shape=\(4, 3\)"
    ):
        lossjax.cosine_distance(VP, VT[..., 0])
    with pytest.raises(ValueError, match=r"`axis`=3 is out of range"):
        lossjax.cosine_distance(VP, VT, axis=3)
    with pytest.raises(TypeError, match=r"`axis` must be a Python int"):
        lossjax.cosine_distance(VP, VT, axis=(0, 1))
    with pytest.raises(ValueError, match=r"`predictions` must have a vector axis"):
        lossjax.cosine_distance(jnp.float32(1.0), jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"`epsilon` must be >= 0.0, got -1.0"):
        lossjax.cosine_distance(VP, VT, epsilon=-1.0)


# -- log-cosh with targets None (optax's convention) -------------------------------------------


def test_log_cosh_without_targets_is_log_cosh_of_the_predictions():
    np.testing.assert_array_equal(
        lossjax.log_cosh_loss(PRED, reduction="none"),
        lossjax.log_cosh_loss(PRED, np.zeros_like(PRED), reduction="none"),
    )
    np.testing.assert_allclose(
        lossjax.log_cosh_loss(PRED, reduction="none"),
        optax.losses.log_cosh(PRED),  # (optax's formula cancels for small errors)
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        jax.grad(lambda p: lossjax.log_cosh_loss(p, reduction="sum"))(PRED),
        np.tanh(PRED.astype(np.float64)),
        rtol=1e-6,
    )
    with pytest.raises(TypeError, match=r"`predictions` must be a floating-point array"):
        lossjax.log_cosh_loss(np.ones(3, np.int32))


# -- properties and common errors ------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, kwargs",
    [
        (lossjax.smooth_l1_loss, {"beta": 0.0}),
        (lossjax.smooth_l1_loss, {"beta": 1.0}),
        (lossjax.mean_squared_logarithmic_error, {}),
        (lossjax.mean_absolute_percentage_error, {"epsilon": 1.0}),
        (lossjax.quantile_loss, {"quantile": 0.9}),
    ],
    ids=["smooth_l1_0", "smooth_l1_1", "msle", "mape", "quantile"],
)
@given(
    data=st.lists(st.floats(-1e30, 1e30, width=64).map(np.float32), min_size=2, max_size=8),
    dtype=st.sampled_from([jnp.float16, jnp.bfloat16, jnp.float32]),
)
def test_property_finite_values_and_gradients(loss, kwargs, data, dtype):
    # The gradient comes back in the input dtype: keep it representable there.
    limit = min(float(jnp.finfo(dtype).max) / 4, 1e30)
    x = jnp.clip(jnp.asarray(data, jnp.float32), -limit, limit).astype(dtype)
    p, t = x[: len(data) // 2], x[len(data) // 2 : 2 * (len(data) // 2)]
    value, grads = jax.value_and_grad(lambda a, b: loss(a, b, **kwargs), (0, 1))(p, t)
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(np.asarray(g, np.float32))) for g in grads)


ELEMENTWISE = [
    lossjax.smooth_l1_loss,
    lossjax.mean_squared_logarithmic_error,
    lossjax.mean_absolute_percentage_error,
    lossjax.quantile_loss,
]


@pytest.mark.parametrize("loss", ELEMENTWISE, ids=lambda f: f.__name__)
def test_column_against_vector_and_integer_predictions_are_errors(loss):
    with pytest.raises(ValueError, match=r"predictions.shape=\(4, 1\) and targets.shape=\(4,\)"):
        loss(jnp.ones((4, 1)), jnp.ones(4))
    with pytest.raises(TypeError, match=r"`predictions` must be a floating-point array"):
        loss(jnp.ones(3, jnp.int32), jnp.ones(3))
    with pytest.raises(ValueError, match=r"`reduction` must be one of"):
        loss(jnp.ones(3), jnp.ones(3), reduction="batchmean")
