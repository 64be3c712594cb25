"""Specification of the probabilistic regression losses: Poisson and Gaussian negative
log-likelihoods and the Tweedie deviance."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics
from jax.test_util import check_grads
from scipy.special import xlogy

import lossjax

RNG = np.random.default_rng(2)
N = 12
LOG_RATE = RNG.normal(size=N).astype(np.float32)
RATE = RNG.uniform(0.05, 4.0, size=N).astype(np.float32)
COUNTS = RNG.poisson(2.0, size=N).astype(np.float32)
COUNTS[:3] = [0.0, 1.0, 2.0]


# -- float64 references written here ------------------------------------------------


def np_stirling(y):
    y = np.asarray(y, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = xlogy(y, y) - y + 0.5 * np.log(2 * np.pi * y)
    return np.where(y > 1, term, 0.0)


def np_poisson(p, y, log_input=True, full=False, eps=1e-8):
    p, y = np.asarray(p, np.float64), np.asarray(y, np.float64)
    out = np.exp(p) - y * p if log_input else p - y * np.log(p + eps)
    return out + np_stirling(y) if full else out


def np_gaussian(mu, y, var, full=False, eps=1e-6):
    v = np.maximum(np.asarray(var, np.float64), eps)
    e = np.asarray(mu, np.float64) - np.asarray(y, np.float64)
    out = 0.5 * (np.log(v) + e**2 / v)
    return out + 0.5 * np.log(2 * np.pi) if full else out


def np_tweedie(mu, y, p):
    mu, y = np.asarray(mu, np.float64), np.asarray(y, np.float64)
    if p == 0:
        return (y - mu) ** 2
    if p == 1:
        return 2 * (xlogy(y, y / mu) - y + mu)
    if p == 2:
        return 2 * (np.log(mu / y) + y / mu - 1)
    return 2 * (
        np.maximum(y, 0) ** (2 - p) / ((1 - p) * (2 - p))
        - y * mu ** (1 - p) / (1 - p)
        + mu ** (2 - p) / (2 - p)
    )


# -- Poisson ----------------------------------------------------------------------------


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_values_and_gradients_match_float64_reference(log_input, full):
    p = LOG_RATE if log_input else RATE
    loss = jax.jit(
        lambda a, b: lossjax.poisson_loss(a, b, log_input=log_input, full=full, reduction="none")
    )
    values = loss(p, COUNTS)
    np.testing.assert_allclose(values, np_poisson(p, COUNTS, log_input, full), rtol=1e-5, atol=1e-6)
    grad = jax.grad(
        lambda a: lossjax.poisson_loss(a, COUNTS, log_input=log_input, full=full, reduction="sum")
    )(p)
    p64, y64 = p.astype(np.float64), COUNTS.astype(np.float64)
    want = np.exp(p64) - y64 if log_input else 1 - y64 / (p64 + 1e-8)
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-6)


def test_poisson_stirling_term_only_above_one():
    y = jnp.array([0.0, 0.5, 1.0, 1.5, 10.0, 1e6])
    extra = lossjax.poisson_loss(jnp.zeros(6), y, full=True, reduction="none")
    extra = extra - lossjax.poisson_loss(jnp.zeros(6), y, reduction="none")
    np.testing.assert_allclose(extra, np_stirling(np.asarray(y)), rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(extra)[:3] == 0)
    # Close to log(y!) for integer y (the term approximates it).
    np.testing.assert_allclose(extra[4], math.lgamma(11.0), rtol=1e-2)
    # Its derivative with respect to the targets is finite everywhere, log y + 1/(2y) above 1.
    g = jax.grad(lambda t: lossjax.poisson_loss(jnp.zeros(6), t, full=True, reduction="sum"))(y)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[4], np.log(10.0) + 0.05 - 0.0, rtol=1e-5)


def test_poisson_rates_equal_keras_formula_and_deviance_relation(x64):
    # Keras's Poisson: rate - y log(rate + 1e-7).
    rate, y = RATE.astype(np.float64), COUNTS.astype(np.float64)
    got = lossjax.poisson_loss(rate, y, log_input=False, epsilon=1e-7)
    np.testing.assert_allclose(got, np.mean(rate - y * np.log(rate + 1e-7)), rtol=1e-13)
    # scikit-learn's Poisson deviance: twice the loss minus its value at rate = y.
    tiny = 1e-300
    nll = lossjax.poisson_loss(rate, y, log_input=False, epsilon=tiny, reduction="none")
    at_y = lossjax.poisson_loss(y, y, log_input=False, epsilon=tiny, reduction="none")
    np.testing.assert_allclose(
        np.mean(2 * (nll - at_y)), sklearn.metrics.mean_poisson_deviance(y, rate), rtol=1e-12
    )
    # And log_input is the same loss of log(rate), up to epsilon.
    np.testing.assert_allclose(
        lossjax.poisson_loss(np.log(rate), y),
        lossjax.poisson_loss(rate, y, log_input=False, epsilon=tiny),
        rtol=1e-12,
    )


def test_poisson_extremes_stay_finite():
    log_rate = jnp.array([-1e4, -80.0, 0.0, 80.0, -1e30])
    y = jnp.array([0.0, 3.0, 1e6, 2.0, 0.0])
    value, grad = jax.value_and_grad(lambda a: lossjax.poisson_loss(a, y, full=True))(log_rate)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    # Zero rates with zero counts: epsilon keeps the log finite, the loss is 0.
    rate = jnp.array([0.0, 0.0, 1e-30])
    y = jnp.array([0.0, 2.0, 1.0])
    values = lossjax.poisson_loss(rate, y, log_input=False, reduction="none")
    np.testing.assert_allclose(values, np_poisson(rate, y, False), rtol=1e-6)
    grad = jax.grad(lambda a: lossjax.poisson_loss(a, y, log_input=False, reduction="sum"))(rate)
    assert np.all(np.isfinite(grad))


def test_poisson_float64_and_epsilon_is_traceable(x64):
    values = lossjax.poisson_loss(RATE.astype(np.float64), COUNTS, log_input=False, full=True)
    assert values.dtype == jnp.float64
    np.testing.assert_allclose(values, np_poisson(RATE, COUNTS, False, True).mean(), rtol=1e-13)
    eps = jnp.array([1e-8, 0.5, 2.0])
    swept = jax.vmap(lambda e: lossjax.poisson_loss(RATE, COUNTS, log_input=False, epsilon=e))(eps)
    loop = [lossjax.poisson_loss(RATE, COUNTS, log_input=False, epsilon=float(e)) for e in eps]
    np.testing.assert_allclose(swept, loop, rtol=1e-6)


def test_poisson_errors():
    with pytest.raises(TypeError, match=r"`log_input` must be a Python bool, got 1"):
        lossjax.poisson_loss(RATE, COUNTS, log_input=1)
    with pytest.raises(TypeError, match=r"`full` must be a Python bool"):
        lossjax.poisson_loss(RATE, COUNTS, full="yes")
    with pytest.raises(ValueError, match=r"`epsilon` must be > 0.0, got 0.0"):
        lossjax.poisson_loss(RATE, COUNTS, epsilon=0.0)
    with pytest.raises(ValueError, match=r"predictions.shape=\(12, 1\) and targets.shape=\(12,\)"):
        lossjax.poisson_loss(RATE[:, None], COUNTS)
    with pytest.raises(TypeError, match=r"`predictions` must be a floating-point array"):
        lossjax.poisson_loss(COUNTS.astype(np.int32), COUNTS)


# -- Gaussian NLL ------------------------------------------------------------------------

MU = RNG.normal(size=(N, 3)).astype(np.float32)
Y = RNG.normal(size=(N, 3)).astype(np.float32)
VAR = RNG.uniform(0.1, 3.0, size=(N, 3)).astype(np.float32)
VAR[0, :] = [1e-9, 0.0, -2.0]  # below epsilon: clamped


@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_values_and_gradients_match_float64_reference(full):
    values = lossjax.gaussian_nll_loss(MU, Y, VAR, full=full, reduction="none")
    np.testing.assert_allclose(values, np_gaussian(MU, Y, VAR, full), rtol=1e-5)
    grads = jax.grad(
        lambda m, t, v: lossjax.gaussian_nll_loss(m, t, v, full=full, reduction="sum"), (0, 1, 2)
    )(MU, Y, VAR)
    v = np.maximum(VAR.astype(np.float64), 1e-6)
    e = MU.astype(np.float64) - Y
    np.testing.assert_allclose(grads[0], e / v, rtol=1e-5)
    np.testing.assert_allclose(grads[1], -e / v, rtol=1e-5)
    # Straight through the clamp (PyTorch's no_grad clamp): the derivative at the
    # clamped value, also for variances below epsilon.
    np.testing.assert_allclose(grads[2], 0.5 * (1 / v - e**2 / v**2), rtol=1e-5)


def test_gaussian_nll_one_variance_per_vector_broadcasts():
    var = VAR[:, :1] + 0.5
    values = lossjax.gaussian_nll_loss(MU, Y, var, reduction="none")
    np.testing.assert_allclose(
        values, np_gaussian(MU, Y, np.broadcast_to(var, MU.shape)), rtol=1e-5
    )
    g = jax.grad(lambda v: lossjax.gaussian_nll_loss(MU, Y, v, reduction="sum"))(var)
    assert g.shape == var.shape
    e = MU.astype(np.float64) - Y
    want = np.sum(0.5 * (1 / var - e**2 / var.astype(np.float64) ** 2), axis=1, keepdims=True)
    np.testing.assert_allclose(g, want, rtol=1e-5)
    # A scalar variance (PyTorch's float var) broadcasts too.
    np.testing.assert_allclose(
        lossjax.gaussian_nll_loss(MU, Y, 2.0, reduction="none"),
        np_gaussian(MU, Y, np.full(MU.shape, 2.0)),
        rtol=1e-6,
    )


def test_gaussian_nll_shape_errors_name_both_shapes():
    with pytest.raises(
        ValueError, match=r"variances.shape=\(12,\) and means.shape=\(12, 3\).*\[\.\.\., None\]"
    ):
        lossjax.gaussian_nll_loss(MU, Y, VAR[:, 0])
    with pytest.raises(ValueError, match=r"variances.shape=\(12, 2\) and means.shape=\(12, 3\)"):
        lossjax.gaussian_nll_loss(MU, Y, VAR[:, :2])
    with pytest.raises(ValueError, match=r"means.shape=\(12, 3\) and targets.shape=\(12, 1\)"):
        lossjax.gaussian_nll_loss(MU, Y[:, :1], VAR)
    with pytest.raises(TypeError, match=r"`means` must be a floating-point array"):
        lossjax.gaussian_nll_loss(MU.astype(np.int32), Y, VAR)
    with pytest.raises(ValueError, match=r"`epsilon` must be > 0.0, got -1.0"):
        lossjax.gaussian_nll_loss(MU, Y, VAR, epsilon=-1.0)
    with pytest.raises(TypeError, match=r"`full` must be a Python bool"):
        lossjax.gaussian_nll_loss(MU, Y, VAR, full=None)


def test_gaussian_nll_float64_extremes_and_traced_epsilon(x64):
    mu = np.array([0.0, 1e150, -3.0, 0.0], np.float64)
    y = np.array([0.0, 0.0, 3.0, 1e-300], np.float64)
    var = np.array([1e-300, 1e300, 1e-3, 0.0], np.float64)
    values = lossjax.gaussian_nll_loss(mu, y, var, full=True, reduction="none")
    assert values.dtype == jnp.float64
    np.testing.assert_allclose(values, np_gaussian(mu, y, var, True), rtol=1e-13)
    check_grads(
        jax.jit(lambda m, v: lossjax.gaussian_nll_loss(m, Y.astype(np.float64), v)),
        (MU.astype(np.float64), np.abs(VAR.astype(np.float64)) + 0.5),
        order=2,
        modes=["fwd", "rev"],
    )
    eps = jnp.array([1e-6, 0.5, 2.0])
    swept = jax.vmap(lambda e: lossjax.gaussian_nll_loss(MU, Y, VAR, epsilon=e))(eps)
    for got, e in zip(swept, [1e-6, 0.5, 2.0], strict=True):
        np.testing.assert_allclose(got, np_gaussian(MU, Y, VAR, eps=e).mean(), rtol=1e-5)


def test_gaussian_nll_low_precision_and_mask():
    low = lossjax.gaussian_nll_loss(*(a.astype(jnp.bfloat16) for a in (MU, Y, VAR + 1)))
    assert low.dtype == jnp.float32
    keep = np.ones(MU.shape, bool)
    keep[1] = False
    bad = [a.copy() for a in (MU, Y, VAR)]
    for a in bad:
        a[1] = np.nan
    value, grads = jax.value_and_grad(
        lambda m, t, v: lossjax.gaussian_nll_loss(m, t, v, where=keep), (0, 1, 2)
    )(*bad)
    np.testing.assert_allclose(value, np_gaussian(MU, Y, VAR)[keep].mean(), rtol=1e-5)
    for g in grads:
        assert np.all(np.isfinite(g)) and np.all(g[1] == 0)


# -- Tweedie deviance ----------------------------------------------------------------------

MEAN = RNG.uniform(0.1, 5.0, size=N).astype(np.float32)
NONNEG = RNG.uniform(0.0, 5.0, size=N).astype(np.float32)
NONNEG[:2] = 0.0
POSITIVE = RNG.uniform(0.1, 5.0, size=N).astype(np.float32)
REAL = RNG.normal(size=N).astype(np.float32) * 2
TARGETS_FOR = {-1.0: REAL, 0.0: REAL, 1.0: NONNEG, 1.5: NONNEG, 2.0: POSITIVE, 3.0: POSITIVE}


@pytest.mark.parametrize("power", list(TARGETS_FOR))
def test_tweedie_matches_scikit_learn_reference_and_gradient(power):
    y = TARGETS_FOR[power]
    w = RNG.uniform(0.1, 2.0, size=N).astype(np.float32)
    np.testing.assert_allclose(
        lossjax.tweedie_deviance(MEAN, y, power=power, weights=w),
        sklearn.metrics.mean_tweedie_deviance(y, MEAN, power=power, sample_weight=w),
        rtol=1e-5,
    )
    values = lossjax.tweedie_deviance(MEAN, y, power=power, reduction="none")
    np.testing.assert_allclose(values, np_tweedie(MEAN, y, power), rtol=1e-4, atol=1e-5)
    grad = jax.grad(lambda m: lossjax.tweedie_deviance(m, y, power=power, reduction="sum"))(MEAN)
    m64 = MEAN.astype(np.float64)
    np.testing.assert_allclose(grad, 2 * m64**-power * (m64 - y), rtol=1e-4, atol=1e-5)


def test_tweedie_special_cases_are_the_named_deviances():
    np.testing.assert_allclose(
        lossjax.tweedie_deviance(MEAN, NONNEG, power=1),
        sklearn.metrics.mean_poisson_deviance(NONNEG, MEAN),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        lossjax.tweedie_deviance(MEAN, POSITIVE, power=2),
        sklearn.metrics.mean_gamma_deviance(POSITIVE, MEAN),
        rtol=1e-5,
    )
    np.testing.assert_array_equal(
        lossjax.tweedie_deviance(MEAN, REAL, reduction="none"),
        lossjax.mean_squared_error(MEAN, REAL, reduction="none"),
    )
    # Continuity of the general formula towards the special powers.
    for special, near in ((1.0, 1.0 + 1e-4), (2.0, 2.0 + 1e-4)):
        with jax.enable_x64(True):
            a = lossjax.tweedie_deviance(
                MEAN.astype(np.float64), POSITIVE.astype(np.float64), power=special
            )
            b = lossjax.tweedie_deviance(
                MEAN.astype(np.float64), POSITIVE.astype(np.float64), power=near
            )
        np.testing.assert_allclose(a, b, rtol=1e-3)


def test_tweedie_float64_and_zero_targets_have_finite_gradients(x64):
    for power, y in TARGETS_FOR.items():
        y64, m64 = y.astype(np.float64), MEAN.astype(np.float64)
        values = lossjax.tweedie_deviance(m64, y64, power=power, reduction="none")
        assert values.dtype == jnp.float64
        np.testing.assert_allclose(values, np_tweedie(m64, y64, power), rtol=1e-10, atol=1e-12)
    y = jnp.array([0.0, 0.0, 2.0])
    for power in (-1.0, 1.0, 1.2, 1.5, 1.9):
        grads = jax.grad(
            lambda m, t, power=power: lossjax.tweedie_deviance(m, t, power=power), (0, 1)
        )(jnp.array([0.5, 3.0, 2.0]), y)
        assert all(np.all(np.isfinite(g)) for g in grads), power


def test_tweedie_power_must_be_static_and_outside_0_1():
    with pytest.raises(ValueError, match=r"`power` must be <= 0 or >= 1.*got 0.5"):
        lossjax.tweedie_deviance(MEAN, NONNEG, power=0.5)
    with pytest.raises(ValueError, match=r"`power` must be <= 0 or >= 1.*got nan"):
        lossjax.tweedie_deviance(MEAN, NONNEG, power=float("nan"))
    with pytest.raises(TypeError, match=r"`power` must be a Python number, got a traced value"):
        jax.jit(lambda p: lossjax.tweedie_deviance(MEAN, NONNEG, power=p))(1.5)
    for bad in (True, "1", [1.0, 2.0]):
        with pytest.raises(TypeError, match=r"`power` must be a Python number"):
            lossjax.tweedie_deviance(MEAN, NONNEG, power=bad)
    with pytest.raises(TypeError, match=r"`power` cannot be None; valid values: <= 0 or >= 1"):
        lossjax.tweedie_deviance(MEAN, NONNEG, power=None)
    # NumPy scalars are static numbers.
    np.testing.assert_allclose(
        lossjax.tweedie_deviance(MEAN, NONNEG, power=np.float32(1.5)),
        lossjax.tweedie_deviance(MEAN, NONNEG, power=1.5),
    )
    with pytest.raises(ValueError, match=r"predictions.shape=\(12,\) and targets.shape=\(11,\)"):
        lossjax.tweedie_deviance(MEAN, NONNEG[:11], power=1)
