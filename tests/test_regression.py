"""Specification of the regression losses: squared, absolute, Huber, log-cosh."""

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

RNG = np.random.default_rng(0)
PRED = RNG.normal(size=(6, 5)).astype(np.float32) * 3
TARG = RNG.normal(size=(6, 5)).astype(np.float32)
ERR64 = PRED.astype(np.float64) - TARG.astype(np.float64)


# -- float64 references written here ------------------------------------------------


def np_huber(e, delta):
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e**2, delta * (a - 0.5 * delta))


def np_log_cosh(e):
    # log cosh e = |e| + log1p(exp(-2|e|)) - log 2, with the series below 1e-4
    # where the float64 form itself cancels.
    a = np.abs(np.asarray(e, np.float64))
    big = a + np.log1p(np.exp(-2 * a)) - np.log(2.0)
    small = a**2 / 2 - a**4 / 12
    return np.where(a < 1e-4, small, big)


REFERENCES = {
    "mean_squared_error": (lossjax.mean_squared_error, lambda e: e**2, lambda e: 2 * e),
    "mean_absolute_error": (lossjax.mean_absolute_error, np.abs, np.sign),
    "huber_loss": (lossjax.huber_loss, lambda e: np_huber(e, 1.0), lambda e: np.clip(e, -1, 1)),
    "log_cosh_loss": (lossjax.log_cosh_loss, np_log_cosh, np.tanh),
}


@pytest.mark.parametrize("name", REFERENCES)
def test_elementwise_values_and_gradients_match_float64_reference(name):
    loss, ref, dref = REFERENCES[name]
    values = jax.jit(lambda p, t: loss(p, t, reduction="none"))(PRED, TARG)
    assert values.shape == PRED.shape and values.dtype == jnp.float32
    np.testing.assert_allclose(values, ref(ERR64), rtol=1e-6)
    grad = jax.grad(lambda p: loss(p, TARG, reduction="sum"))(PRED)
    np.testing.assert_allclose(grad, dref(ERR64), rtol=1e-5, atol=1e-7)


def test_match_scikit_learn_metrics():
    w = RNG.uniform(0.1, 2.0, size=PRED.shape[0]).astype(np.float32)
    p, t = PRED[:, 0], TARG[:, 0]
    np.testing.assert_allclose(
        lossjax.mean_squared_error(p, t, weights=w),
        sklearn.metrics.mean_squared_error(t, p, sample_weight=w),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        lossjax.mean_absolute_error(p, t, weights=w),
        sklearn.metrics.mean_absolute_error(t, p, sample_weight=w),
        rtol=1e-6,
    )


def test_match_optax():
    np.testing.assert_allclose(
        lossjax.mean_squared_error(PRED, TARG, reduction="none"),
        optax.losses.squared_error(PRED, TARG),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        lossjax.huber_loss(PRED, TARG, delta=0.7, reduction="none"),
        optax.losses.huber_loss(PRED, TARG, delta=0.7),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        lossjax.log_cosh_loss(PRED, TARG, reduction="none"),
        optax.losses.log_cosh(PRED, TARG),
        rtol=1e-5,
    )


@pytest.mark.parametrize("delta", [0.05, 0.5, 1.0, 3.0])
def test_huber_regimes_and_gradient_is_clipped_error(delta):
    e = np.array([-10.0, -delta, -0.3 * delta, 0.0, 0.3 * delta, delta, 10.0], np.float32)
    values = lossjax.huber_loss(e, np.zeros_like(e), delta=delta, reduction="none")
    np.testing.assert_allclose(values, np_huber(e.astype(np.float64), delta), rtol=1e-6)
    grad = jax.grad(
        lambda p: lossjax.huber_loss(p, np.zeros_like(e), delta=delta, reduction="sum")
    )(e)
    np.testing.assert_allclose(grad, np.clip(e, -delta, delta), rtol=1e-6)


def test_huber_delta_is_differentiable_and_vmappable():
    deltas = jnp.array([0.1, 0.5, 1.0, 2.0])
    swept = jax.vmap(lambda d: lossjax.huber_loss(PRED, TARG, delta=d))(deltas)
    loop = [lossjax.huber_loss(PRED, TARG, delta=float(d)) for d in deltas]
    np.testing.assert_allclose(swept, loop, rtol=1e-6)
    # d/d delta of delta(|e| - delta/2) is |e| - delta on the linear part, 0 on the quadratic one.
    g = jax.grad(lambda d: lossjax.huber_loss(PRED, TARG, delta=d, reduction="sum"))(0.5)
    a = np.abs(ERR64)
    np.testing.assert_allclose(g, np.sum(np.where(a > 0.5, a - 0.5, 0.0)), rtol=1e-5)


ERRORS = np.array(
    [
        1e-8,
        -3e-8,
        1e-6,
        1e-4,
        3e-3,
        0.1,
        0.5,
        0.999,
        1.0,
        1.001,
        2.0,
        10.0,
        44.0,
        90.0,
        1e3,
        1e8,
        1e20,
        1e30,
    ],
    np.float32,
)


def test_log_cosh_accurate_from_1e_minus_8_to_1e30():
    e = np.concatenate([ERRORS, -ERRORS])
    expected = np_log_cosh(e.astype(np.float64))
    values = lossjax.log_cosh_loss(e, np.zeros_like(e), reduction="none")
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    # The reduced losses evaluate another (select-free) form: just as exact.
    each = jax.vmap(lambda x: lossjax.log_cosh_loss(x, jnp.float32(0.0), reduction="sum"))(e)
    np.testing.assert_allclose(each, expected, rtol=1e-6)
    # Densely where the large-error form cancels most (just above |e| = 0.5).
    e = np.linspace(0.3, 3.0, 20001, dtype=np.float32)
    expected = np_log_cosh(e.astype(np.float64))
    for where in (None, np.ones_like(e, bool)):
        values = lossjax.log_cosh_loss(e, np.zeros_like(e), reduction="none", where=where)
        np.testing.assert_allclose(values, expected, rtol=1e-6)
    each = jax.vmap(lambda x: lossjax.log_cosh_loss(x, jnp.float32(0.0), reduction="sum"))(e)
    np.testing.assert_allclose(each, expected, rtol=1e-6)
    grad = jax.vmap(jax.grad(lambda x: lossjax.log_cosh_loss(x, jnp.float32(0.0))))(e)
    np.testing.assert_allclose(grad, np.tanh(e.astype(np.float64)), rtol=1e-6)


def test_log_cosh_forward_mode_and_hessian():
    e = jnp.asarray(ERRORS[:12])
    zeros = jnp.zeros_like(e)
    _, tangent = jax.jvp(
        lambda p: lossjax.log_cosh_loss(p, zeros, reduction="none"), (e,), (jnp.ones_like(e),)
    )
    np.testing.assert_allclose(tangent, np.tanh(ERRORS[:12].astype(np.float64)), rtol=1e-6)
    hess = jax.hessian(lambda p: lossjax.log_cosh_loss(p, zeros, reduction="sum"))(e)
    np.testing.assert_allclose(
        np.diag(hess), 1 / np.cosh(ERRORS[:12].astype(np.float64)) ** 2, rtol=1e-5, atol=1e-7
    )
    check_grads(
        lambda p: lossjax.log_cosh_loss(p, zeros[:6]), (e[5:11],), order=2, modes=["fwd", "rev"]
    )


def test_log_cosh_at_zero_and_around_the_series_switch():
    # Exact at 0 (value, slope 0, curvature 1) and on both sides of |e| = 0.5,
    # where the value switches from the series to the log1p form.
    half = np.float32(0.5)
    e = np.array([0.0, np.nextafter(half, 0), half, np.nextafter(half, 1), 0.25, 0.75], np.float32)
    values = lossjax.log_cosh_loss(e, np.zeros_like(e), reduction="none")
    np.testing.assert_allclose(values, np_log_cosh(e.astype(np.float64)), rtol=3e-7)
    assert values[0] == 0.0
    hess = jax.hessian(lambda p: lossjax.log_cosh_loss(p, jnp.zeros(3), reduction="sum"))(
        jnp.zeros(3)
    )
    np.testing.assert_allclose(hess, np.eye(3), atol=1e-7)


@pytest.mark.parametrize("name", REFERENCES)
def test_gradient_with_respect_to_targets_is_minus_the_slope(name):
    loss, _, dref = REFERENCES[name]
    grad_p, grad_t = jax.grad(lambda p, t: loss(p, t, reduction="sum"), (0, 1))(PRED, TARG)
    np.testing.assert_allclose(grad_t, -dref(ERR64), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(grad_t, -grad_p)
    # The targets alone (the predictions constant) take the same rule.
    only_t = jax.grad(lambda t: loss(PRED, t, reduction="sum"))(TARG)
    np.testing.assert_array_equal(only_t, grad_t)


def test_log_cosh_in_float64(x64):
    e = np.array([1e-12, 1e-5, 0.5, 3.0, 800.0], np.float64)
    values = lossjax.log_cosh_loss(e, np.zeros_like(e), reduction="none")
    assert values.dtype == jnp.float64
    np.testing.assert_allclose(values, np_log_cosh(e), rtol=1e-13)


@pytest.mark.parametrize("name", REFERENCES)
@given(
    data=st.lists(st.floats(-1e30, 1e30, width=64).map(np.float32), min_size=1, max_size=8),
    dtype=st.sampled_from([jnp.float16, jnp.bfloat16, jnp.float32]),
)
def test_property_finite_values_and_gradients(name, data, dtype):
    loss = REFERENCES[name][0]
    # The gradient comes back in the input dtype: keep 2e representable, and
    # for the squared error keep e**2 finite in float32.
    limit = float(jnp.finfo(dtype).max) / 4
    if name == "mean_squared_error":
        limit = min(limit, 1e18)
    x = jnp.clip(jnp.asarray(data, jnp.float32), -limit, limit).astype(dtype)
    value, grad = jax.value_and_grad(lambda p: loss(p, jnp.zeros_like(p)))(x)
    assert np.isfinite(value) and np.all(np.isfinite(np.asarray(grad, np.float32)))


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("name", REFERENCES)
def test_column_against_vector_is_an_error_naming_both_shapes(name):
    loss = REFERENCES[name][0]
    with pytest.raises(ValueError, match=r"predictions.shape=\(4, 1\) and targets.shape=\(4,\)"):
        loss(jnp.ones((4, 1)), jnp.ones(4))


@pytest.mark.parametrize("name", REFERENCES)
def test_integer_predictions_are_an_error(name):
    with pytest.raises(TypeError, match=r"`predictions` must be a floating-point array"):
        REFERENCES[name][0](jnp.ones(3, jnp.int32), jnp.ones(3))


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan")])
def test_huber_delta_must_be_positive(delta):
    with pytest.raises(ValueError, match=r"`delta` must be > 0.0, got"):
        lossjax.huber_loss(jnp.ones(3), jnp.ones(3), delta=delta)


def test_unknown_reduction_names_the_value():
    with pytest.raises(ValueError, match=r"`reduction` must be one of .*got 'batchmean'"):
        lossjax.mean_squared_error(jnp.ones(3), jnp.ones(3), reduction="batchmean")
