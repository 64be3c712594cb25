"""Specification of the generative objectives: Gaussian KL (VAE), GAN losses, gradient
penalties and the diffusion loss, against float64 NumPy references written here."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lossjax._generative import (
    diffusion_loss,
    gan_discriminator_loss,
    gan_generator_loss,
    gaussian_kl_divergence,
    gradient_penalty,
)

RNG = np.random.default_rng(0)


def np_softplus(x):
    return np.logaddexp(0.0, np.asarray(x, np.float64))


# -- Gaussian KL ----------------------------------------------------------------------------


def np_gaussian_kl(mu, lv, mu_p, lv_p):
    """KL(N(mu, s2) || N(mu_p, s2_p)) = log(s_p/s) + (s2 + (mu - mu_p)^2) / (2 s2_p) - 1/2."""
    mu, lv, mu_p, lv_p = (np.asarray(a, np.float64) for a in (mu, lv, mu_p, lv_p))
    s2, s2_p = np.exp(lv), np.exp(lv_p)
    terms = 0.5 * (lv_p - lv) + (s2 + (mu - mu_p) ** 2) / (2 * s2_p) - 0.5
    return terms.sum(-1)


MU = RNG.normal(size=(5, 3)).astype(np.float32)
LV = RNG.normal(size=(5, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "mu_p, lv_p", [(0.0, 0.0), (0.5, -1.0), (np.array([0.1, 0.2, -0.3]), np.array([1.0, 0.0, 2.0]))]
)
def test_gaussian_kl_matches_the_closed_form(mu_p, lv_p):
    got = gaussian_kl_divergence(
        MU, LV, prior_means=mu_p, prior_log_variances=lv_p, reduction="none"
    )
    want = np_gaussian_kl(MU, LV, np.broadcast_to(mu_p, MU.shape), np.broadcast_to(lv_p, MU.shape))
    assert got.shape == (5,)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_gaussian_kl_standard_prior_is_the_vae_term():
    want = -0.5 * np.sum(1 + np.float64(LV) - np.float64(MU) ** 2 - np.exp(np.float64(LV)), -1)
    np.testing.assert_allclose(gaussian_kl_divergence(MU, LV, reduction="none"), want, rtol=1e-5)


def test_gaussian_kl_is_exact_near_the_prior_and_finite_far_below_it():
    lv = np.array([[1e-4, -1e-4], [-1e4, -50.0]], np.float32)
    mu = np.zeros((2, 2), np.float32)
    got = gaussian_kl_divergence(mu, lv, reduction="none")
    d = np.float64(lv)
    want = 0.5 * (np.expm1(d) - d).sum(-1)  # the float64 reference, without cancellation
    np.testing.assert_allclose(got, want, rtol=1e-5)
    grad = jax.grad(lambda v: gaussian_kl_divergence(mu, v))(lv)
    assert np.all(np.isfinite(grad))
    # d/dv of (e^v - 1 - v)/2 is (e^v - 1)/2, per example mean: divide by 2 examples.
    np.testing.assert_allclose(grad, np.expm1(d) / 4, rtol=1e-4, atol=1e-9)


def test_gaussian_kl_errors_name_the_argument():
    with pytest.raises(ValueError, match="`means` and `log_variances`"):
        gaussian_kl_divergence(MU, LV[:, :2])
    with pytest.raises(ValueError, match="`prior_means`"):
        gaussian_kl_divergence(MU, LV, prior_means=np.zeros(4))


# -- GAN objectives -------------------------------------------------------------------------

KINDS = ["non_saturating", "minimax", "hinge", "least_squares", "wasserstein"]
REAL = (RNG.normal(size=(4, 3)) * 3).astype(np.float32)
FAKE = (RNG.normal(size=(4, 3)) * 3).astype(np.float32)


def np_generator(f, kind):
    f = np.float64(f)
    d = 1 / (1 + np.exp(-f))
    return {
        "non_saturating": -np.log(d),
        "minimax": np.log(1 - d),
        "hinge": -f,
        "least_squares": 0.5 * (f - 1) ** 2,
        "wasserstein": -f,
    }[kind]


def np_discriminator(r, f, kind):
    r, f = np.float64(r), np.float64(f)
    dr, df = 1 / (1 + np.exp(-r)), 1 / (1 + np.exp(-f))
    return {
        "non_saturating": -np.log(dr) - np.log(1 - df),
        "minimax": -np.log(dr) - np.log(1 - df),
        "hinge": np.maximum(0, 1 - r) + np.maximum(0, 1 + f),
        "least_squares": 0.5 * (r - 1) ** 2 + 0.5 * f**2,
        "wasserstein": f - r,
    }[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_gan_losses_match_the_papers(kind):
    got = gan_generator_loss(FAKE, kind=kind, reduction="none")
    np.testing.assert_allclose(got, np_generator(FAKE, kind), rtol=1e-5, atol=1e-6)
    got = gan_discriminator_loss(REAL, FAKE, kind=kind, reduction="none")
    np.testing.assert_allclose(got, np_discriminator(REAL, FAKE, kind), rtol=1e-5, atol=1e-6)


def test_gan_losses_equal_optax_where_it_has_them():
    bce = optax.losses.sigmoid_binary_cross_entropy
    np.testing.assert_allclose(
        gan_discriminator_loss(REAL, FAKE, reduction="none"),
        bce(REAL, jnp.ones_like(REAL)) + bce(FAKE, jnp.zeros_like(FAKE)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        gan_generator_loss(FAKE, reduction="none"), bce(FAKE, jnp.ones_like(FAKE)), rtol=1e-6
    )
    # optax's hinge loss max(0, 1 - y s) with y = +1 on real and -1 on fake.
    np.testing.assert_allclose(
        gan_discriminator_loss(REAL, FAKE, kind="hinge", reduction="none"),
        optax.losses.hinge_loss(REAL, jnp.ones_like(REAL))
        + optax.losses.hinge_loss(FAKE, -jnp.ones_like(FAKE)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_gan_cross_entropies_are_exact_at_extreme_logits(kind):
    f = np.array([-1e4, -30.0, 30.0, 1e4], np.float32)
    got = gan_generator_loss(f, kind=kind, reduction="none")
    want = np_softplus(-f) if kind == "non_saturating" else -np_softplus(f)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    got = gan_discriminator_loss(-f, f, kind=kind, reduction="none")
    np.testing.assert_allclose(got, np_softplus(f) + np_softplus(f), rtol=1e-6)
    assert np.all(np.isfinite(jax.grad(lambda x: gan_generator_loss(x, kind=kind))(f)))


def test_the_generator_gradients_show_why_non_saturating_is_used():
    """At a confident discriminator (f = -10) minimax's gradient vanishes, non-saturating's does not."""
    f = jnp.array([-10.0])
    minimax = jax.grad(lambda x: gan_generator_loss(x, kind="minimax"))(f)
    non_saturating = jax.grad(lambda x: gan_generator_loss(x))(f)
    np.testing.assert_allclose(minimax, [-1 / (1 + np.exp(10.0))], rtol=1e-5)
    np.testing.assert_allclose(non_saturating, [-1 / (1 + np.exp(-10.0))], rtol=1e-5)


def test_gan_errors_name_the_argument():
    with pytest.raises(ValueError, match="`real_logits` and `fake_logits`"):
        gan_discriminator_loss(REAL, FAKE[:2])
    with pytest.raises(ValueError, match="`kind`"):
        gan_generator_loss(FAKE, kind="relativistic")


# -- gradient penalties ---------------------------------------------------------------------

D, H = 3, 5
W1 = RNG.normal(size=(D, H)).astype(np.float32)
W2 = RNG.normal(size=H).astype(np.float32)


def critic(x):
    return jnp.tanh(x @ W1) @ W2


def np_critic_gradient(x):
    """d/dx tanh(x W1) W2 = (W2 (1 - tanh^2(x W1))) W1^T, per example, in float64."""
    x = np.float64(x)
    hidden = np.tanh(x @ np.float64(W1))
    return (np.float64(W2) * (1 - hidden**2)) @ np.float64(W1).T


X_REAL = RNG.normal(size=(6, D)).astype(np.float32)
X_FAKE = RNG.normal(size=(6, D)).astype(np.float32)


def test_r1_is_the_squared_gradient_norm_at_the_real_data():
    got = gradient_penalty(X_REAL, critic_fn=critic, kind="r1", reduction="none")
    want = np.sum(np_critic_gradient(X_REAL) ** 2, -1)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_wgan_gp_interpolates_with_one_uniform_weight_per_example():
    key = jax.random.key(3)
    got = gradient_penalty(X_REAL, X_FAKE, key, critic_fn=critic, reduction="none")
    epsilon = np.float64(jax.random.uniform(key, (6,), jnp.float32))[:, None]
    x_hat = epsilon * X_REAL + (1 - epsilon) * X_FAKE
    want = (np.linalg.norm(np_critic_gradient(x_hat), axis=-1) - 1) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_penalty_is_differentiable_in_the_critic_parameters():
    """The penalty enters the critic's loss: its gradient in the parameters is second order."""

    def penalty(w2):
        return gradient_penalty(
            X_REAL, critic_fn=lambda x: jnp.tanh(x @ W1) @ w2, kind="r1", reduction="sum"
        )

    # sum_i ||g_i||^2 with g_i = A_i w2 is quadratic in w2: gradient 2 sum_i A_i^T A_i w2.
    hidden = np.tanh(np.float64(X_REAL) @ np.float64(W1))
    a = (1 - hidden**2)[:, None, :] * np.float64(W1)[None]  # [N, D, H]
    want = 2 * np.einsum("ndh,ndk,k->h", a, a, np.float64(W2))
    np.testing.assert_allclose(jax.grad(penalty)(jnp.asarray(W2)), want, rtol=1e-4)


def test_wgan_gp_at_a_zero_gradient_is_one_with_a_finite_derivative():
    flat = lambda x: 0.0 * jnp.sum(x, axis=-1)  # noqa: E731
    value, grad = jax.value_and_grad(
        lambda r: gradient_penalty(r, X_FAKE, jax.random.key(0), critic_fn=flat)
    )(X_REAL)
    assert value == 1.0 and np.all(np.isfinite(grad))


def test_penalty_errors_name_the_argument():
    with pytest.raises(TypeError, match="`key`"):
        gradient_penalty(X_REAL, X_FAKE, critic_fn=critic)
    with pytest.raises(TypeError, match="`fake`"):
        gradient_penalty(X_REAL, critic_fn=critic)
    with pytest.raises(ValueError, match="`critic_fn` must return one score per example"):
        gradient_penalty(X_REAL, critic_fn=lambda x: jnp.sum(x), kind="r1")
    with pytest.raises(TypeError, match="`critic_fn`"):
        gradient_penalty(X_REAL, critic_fn=None, kind="r1")
    with pytest.raises(ValueError, match="`real` and `fake`"):
        gradient_penalty(X_REAL, X_FAKE[:2], jax.random.key(0), critic_fn=critic)


# -- diffusion ------------------------------------------------------------------------------


def np_weight(snr, prediction, weighting, gamma):
    snr = np.float64(snr)
    w_x0 = {
        "none": None,
        "snr": snr,
        "min_snr": np.minimum(snr, gamma),
        "truncated_snr": np.maximum(snr, 1.0),
    }[weighting]
    if w_x0 is None:
        return np.ones_like(snr)
    factor = {"epsilon": snr, "v": snr + 1.0, "x0": 1.0}[prediction]
    return w_x0 / factor


@pytest.mark.parametrize("prediction", ["epsilon", "v", "x0"])
@pytest.mark.parametrize("weighting", ["none", "min_snr", "snr", "truncated_snr"])
def test_diffusion_weights_are_hang_et_al(prediction, weighting):
    out = RNG.normal(size=(5, 2, 3)).astype(np.float32)
    target = RNG.normal(size=(5, 2, 3)).astype(np.float32)
    snr = np.array([0.01, 0.5, 1.0, 5.0, 100.0], np.float32)
    got = diffusion_loss(
        out, target, snr, prediction=prediction, weighting=weighting, gamma=5.0, reduction="none"
    )
    error = ((np.float64(out) - target) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(
        got, np_weight(snr, prediction, weighting, 5.0) * error, rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("weighting", ["min_snr", "snr", "truncated_snr"])
def test_every_parameterisation_gives_the_same_loss_for_the_same_denoiser(weighting):
    """The derivation in the docstring: for a variance-preserving process, one denoiser
    written as an epsilon, v or x0 prediction has the same weighted loss in each form."""
    n = 6
    x0 = RNG.normal(size=(n, 4))
    noise = RNG.normal(size=(n, 4))
    x0_hat = x0 + 0.3 * RNG.normal(size=(n, 4))
    alpha = RNG.uniform(0.05, 0.99, size=(n, 1))
    sigma = np.sqrt(1 - alpha**2)
    x_t = alpha * x0 + sigma * noise
    eps_hat = (x_t - alpha * x0_hat) / sigma
    v, v_hat = alpha * noise - sigma * x0, alpha * eps_hat - sigma * x0_hat
    snr = (alpha**2 / sigma**2)[:, 0]
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    losses = [
        diffusion_loss(
            f32(p), f32(t), f32(snr), prediction=k, weighting=weighting, reduction="none"
        )
        for p, t, k in ((eps_hat, noise, "epsilon"), (v_hat, v, "v"), (x0_hat, x0, "x0"))
    ]
    np.testing.assert_allclose(losses[0], losses[2], rtol=1e-3)
    np.testing.assert_allclose(losses[1], losses[2], rtol=1e-3)


def test_diffusion_min_snr_has_no_zero_over_zero():
    out, target = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    snr = np.array([0.0, np.inf], np.float32)
    got = diffusion_loss(out, target, snr, weighting="min_snr", reduction="none")
    np.testing.assert_allclose(got, [1.0, 0.0])


def test_diffusion_errors_name_the_argument():
    out = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="`snr`"):
        diffusion_loss(out, out, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="`snr`"):
        diffusion_loss(out, out, -np.ones(4, np.float32))
    with pytest.raises(ValueError, match="`gamma`"):
        diffusion_loss(out, out, np.ones(4, np.float32), gamma=0.0)
    with pytest.raises(ValueError, match="`prediction`"):
        diffusion_loss(out, out, np.ones(4, np.float32), prediction="score")
