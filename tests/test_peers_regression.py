"""The new regression losses against PyTorch and Keras 3 themselves (skipped where
they are not installed): values, and gradients where the conventions are subtle."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lossjax

RNG = np.random.default_rng(3)
PRED = (RNG.normal(size=(5, 4)) * 2).astype(np.float32)
TARG = RNG.normal(size=(5, 4)).astype(np.float32)
POS_PRED = RNG.uniform(0.0, 4.0, size=(5, 4)).astype(np.float32)
COUNTS = RNG.poisson(2.0, size=(5, 4)).astype(np.float32)
VAR = RNG.uniform(0.2, 2.0, size=(5, 4)).astype(np.float32)
VAR[0, :2] = [1e-8, 0.0]  # below epsilon: clamped


# -- PyTorch -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _t(torch, x, grad=False):
    return torch.tensor(np.asarray(x, np.float64), requires_grad=grad)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_smooth_l1_equals_torch(torch, beta):
    p = _t(torch, PRED, grad=True)
    want = torch.nn.SmoothL1Loss(beta=beta, reduction="none")(p, _t(torch, TARG))
    want.sum().backward()
    got = lossjax.smooth_l1_loss(PRED, TARG, beta=beta, reduction="none")
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-6, atol=1e-7)
    grad = jax.grad(lambda x: lossjax.smooth_l1_loss(x, TARG, beta=beta, reduction="sum"))(PRED)
    np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_equals_torch(torch, log_input, full):
    x = PRED / 2 if log_input else POS_PRED
    p = _t(torch, x, grad=True)
    loss = torch.nn.PoissonNLLLoss(log_input=log_input, full=full, eps=1e-8, reduction="none")
    want = loss(p, _t(torch, COUNTS))
    want.sum().backward()
    got = lossjax.poisson_loss(x, COUNTS, log_input=log_input, full=full, reduction="none")
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-5, atol=1e-6)
    grad = jax.grad(
        lambda a: lossjax.poisson_loss(a, COUNTS, log_input=log_input, full=full, reduction="sum")
    )(x)
    np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-5, atol=1e-6)
    # The mean is PyTorch's default reduction.
    np.testing.assert_allclose(
        lossjax.poisson_loss(x, COUNTS, log_input=log_input, full=full),
        want.detach().numpy().mean(),
        rtol=1e-5,
    )


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("trailing_one", [False, True])
def test_gaussian_nll_equals_torch_value_and_gradient(torch, full, trailing_one):
    var = VAR[:, :1] if trailing_one else VAR
    m, v = _t(torch, PRED, grad=True), _t(torch, var, grad=True)
    t = _t(torch, TARG, grad=True)
    want = torch.nn.GaussianNLLLoss(full=full, eps=1e-6, reduction="none")(m, t, v)
    want.sum().backward()
    got = lossjax.gaussian_nll_loss(PRED, TARG, var, full=full, reduction="none")
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-5)
    grads = jax.grad(
        lambda a, b, c: lossjax.gaussian_nll_loss(a, b, c, full=full, reduction="sum"), (0, 1, 2)
    )(PRED, TARG, var)
    for ours, theirs in zip(grads, (m.grad, t.grad, v.grad), strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5)


# -- Keras 3 (JAX backend) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def test_msle_equals_keras(keras):
    want = keras.losses.MeanSquaredLogarithmicError()(TARG * 0 + POS_PRED[::-1], POS_PRED)
    got = lossjax.mean_squared_logarithmic_error(POS_PRED, POS_PRED[::-1])
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Negative values: Keras clips at 1e-7, lossjax at 0: the same to about 1e-7.
    want = keras.losses.MeanSquaredLogarithmicError()(TARG, PRED)
    np.testing.assert_allclose(
        lossjax.mean_squared_logarithmic_error(PRED, TARG), want, rtol=1e-5, atol=1e-6
    )


def test_mape_equals_keras_over_100(keras):
    want = keras.losses.MeanAbsolutePercentageError()(TARG, PRED)
    got = lossjax.mean_absolute_percentage_error(PRED, TARG, epsilon=1e-7)
    np.testing.assert_allclose(100 * got, want, rtol=1e-5)


def test_poisson_rates_equal_keras(keras):
    want = keras.losses.Poisson()(COUNTS, POS_PRED)
    got = lossjax.poisson_loss(POS_PRED, COUNTS, log_input=False, epsilon=1e-7)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_cosine_distance_is_keras_cosine_similarity_plus_one(keras):
    for axis in (-1, 0):
        want = keras.losses.CosineSimilarity(axis=axis)(TARG, PRED)
        got = lossjax.cosine_distance(PRED, TARG, axis=axis)
        np.testing.assert_allclose(got - 1, want, rtol=1e-5, atol=1e-6)
    # Zero vectors: Keras gives cosine 0 (loss 0), lossjax distance 1.
    zero = jnp.zeros((2, 4))
    np.testing.assert_allclose(keras.losses.CosineSimilarity()(TARG[:2], zero), 0.0, atol=1e-7)
    np.testing.assert_allclose(lossjax.cosine_distance(zero, TARG[:2]), 1.0)


def test_log_cosh_equals_keras(keras):
    want = keras.losses.LogCosh()(TARG, PRED)
    np.testing.assert_allclose(lossjax.log_cosh_loss(PRED, TARG), want, rtol=1e-5)
    np.testing.assert_allclose(lossjax.log_cosh_loss(PRED - TARG), want, rtol=1e-5)
