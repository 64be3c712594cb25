r"""Objectives of generative models: the VAE's KL term, GAN losses and penalties, diffusion.

* :func:`gaussian_kl_divergence`: KL between diagonal Gaussians, one value per
  example (the latent axis is summed).
* :func:`gan_generator_loss`, :func:`gan_discriminator_loss`: the five usual
  GAN objectives on the discriminator's logits (critic scores for
  ``"wasserstein"``), one value per example.
* :func:`gradient_penalty`: WGAN-GP and R1 penalties, one value per example,
  through a critic function.
* :func:`diffusion_loss`: per-example squared error with the SNR weightings of
  the epsilon, v and x0 parameterisations.

Each goes through :func:`reduce_loss`, so ``where`` and ``weights`` act on examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import (
    AxisName,
    Reduction,
    mask_inputs,
    prepare_pair,
    prepare_where,
    reduce_loss,
)
from lossjax._registry import Recommendation, choice, function, real, register

GAN_KINDS = ("non_saturating", "minimax", "hinge", "least_squares", "wasserstein")
PENALTY_KINDS = ("wgan_gp", "r1")
PREDICTIONS = ("epsilon", "v", "x0")
WEIGHTINGS = ("none", "min_snr", "snr", "truncated_snr")


def _rows(x: jax.Array, ndim: int) -> jax.Array:
    """A per-example array ``[N...]`` with size-1 axes appended up to rank ``ndim``."""
    return x.reshape(x.shape + (1,) * (ndim - x.ndim))


def _mask_rows(where: jax.Array | None, x: jax.Array, fill: float) -> jax.Array:
    """``x`` with the examples that ``where`` removes replaced by ``fill`` (any trailing axes)."""
    if where is None:
        return x
    return jnp.where(_rows(where, x.ndim), x, jnp.asarray(fill, x.dtype))


# -- the VAE term ---------------------------------------------------------------------------


def _exp_minus_one_minus(d: jax.Array) -> jax.Array:
    """``e^d - 1 - d``, to a few ulp for every ``d``.

    ``expm1(d) - d`` cancels for small ``|d|`` (both terms are about ``d``, the
    result about ``d^2 / 2``), so below ``|d| = 0.1`` the Taylor series is used,
    evaluated on a clipped ``d`` so that the unused branch stays finite.
    """
    small = jnp.abs(d) < 0.1
    ds = jnp.where(small, d, jnp.zeros((), d.dtype))
    series = jnp.zeros_like(ds)
    for c in (1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 1.0 / 2.0):
        series = series * ds + c
    return jnp.where(small, series * jnp.square(ds), jnp.expm1(d) - d)


def _gaussian_kl(
    means: jax.Array,
    log_variances: jax.Array,
    prior_means: jax.Array,
    prior_log_variances: jax.Array,
) -> jax.Array:
    """``sum_d KL(N(mu, e^lv) || N(mu_p, e^lv_p))`` over the last axis.

    Written with ``d = lv - lv_p`` as ``(e^d - 1 - d) / 2 + (mu - mu_p)^2 e^{-lv_p} / 2``,
    where ``e^d - 1 - d`` is exact near the prior (``d -> 0``) and about
    ``-d`` (finite) for very negative log-variances. Each term is halved before the
    sum, which then overflows only where the divergence does.
    """
    d = log_variances - prior_log_variances
    terms = 0.5 * _exp_minus_one_minus(d) + 0.5 * jnp.square(means - prior_means) * jnp.exp(
        -prior_log_variances
    )
    return jnp.sum(terms, axis=-1)


def _prior(name: str, value: ArrayLike, shape: tuple[int, ...], dtype: jnp.dtype) -> jax.Array:
    """A prior parameter broadcast explicitly to the means' shape (NumPy rules)."""
    array = _checks.hyperparameter(value, dtype)
    try:
        return jnp.broadcast_to(array, shape)
    except ValueError as e:
        raise ValueError(
            f"lossjax: `{name}` must be a scalar or broadcastable to the shape of `means` "
            f"{shape}, got {name}.shape={tuple(array.shape)}."
        ) from e


@register(
    task="generative",
    input_kind="predictions",
    summary="KL divergence between diagonal Gaussians: the regulariser of a VAE's encoder.",
    aliases=("gaussian_kl", "vae_kl", "kl_normal"),
    hyperparameters=(
        real("prior_means", "means of the prior Gaussian", scalar=False),
        real("prior_log_variances", "log-variances of the prior Gaussian", scalar=False),
    ),
    recommendations=(
        Recommendation(
            "the VAE's KL term: add it to the reconstruction loss (multiply by beta for a "
            "beta-VAE); the standard normal prior by default",
        ),
    ),
)
def gaussian_kl_divergence(
    means: ArrayLike,
    log_variances: ArrayLike,
    *,
    prior_means: ArrayLike = 0.0,
    prior_log_variances: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""KL divergence from a diagonal Gaussian posterior to a diagonal Gaussian prior.

    For :math:`q = \mathcal N(\mu, \operatorname{diag} e^{v})` and the prior
    :math:`p = \mathcal N(\mu_p, \operatorname{diag} e^{v_p})`, summed over
    the latent (last) axis, one value per example:

    .. math::

        \mathrm{KL}(q\,\|\,p) = \frac12 \sum_d \Big( e^{v_d - v_{p,d}} - 1 - (v_d - v_{p,d})
        + \frac{(\mu_d - \mu_{p,d})^2}{e^{v_{p,d}}} \Big)

    With the default standard normal prior this is the VAE term of Kingma &
    Welling, :math:`-\frac12\sum_d(1 + v_d - \mu_d^2 - e^{v_d})`. The term
    :math:`e^{\delta} - 1 - \delta` (:math:`\delta = v - v_p`) is computed by
    its Taylor series for :math:`|\delta| < 0.1` and as
    :math:`\operatorname{expm1}(\delta) - \delta` beyond: exact for
    log-variances near the prior's, where the textbook form cancels, and
    finite for very negative ones (:math:`v = -10^4` gives about
    :math:`5000` per dimension, not inf).

    Args:
        means: ``[..., D]`` floating means :math:`\mu` of the posterior.
        log_variances: ``[..., D]`` floating log-variances :math:`v`, the same shape.
        prior_means: :math:`\mu_p`, a scalar or an array broadcastable to
            ``means.shape`` (default 0); may be traced.
        prior_log_variances: :math:`v_p`, likewise (default 0, unit variance).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[...]``).
        weights: optional per-example weights.
        where: optional boolean per-example mask ``[...]``.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced divergence (float32 at least), or the per-example values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> means = jnp.array([[0.0, 0.0], [1.0, -1.0]])
        >>> log_variances = jnp.array([[0.0, 0.0], [0.0, jnp.log(4.0)]])
        >>> lossjax.gaussian_kl_divergence(means, log_variances, reduction="none")
        Array([0.       , 1.8068528], dtype=float32)

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014
        (https://arxiv.org/abs/1312.6114), appendix B.
    """
    _checks.check_reduction(reduction)
    means, log_variances, _ = prepare_pair("means", means, "log_variances", log_variances, None)
    if means.ndim == 0:
        raise ValueError(
            "lossjax: `means` needs a latent axis (the last one), got a scalar. Pass shape (..., D)."
        )
    shape, dtype = tuple(means.shape), means.dtype
    where = prepare_where(where, shape[:-1])
    means = mask_inputs(where, means, 0.0, axis=-1)
    log_variances = mask_inputs(where, log_variances, 0.0, axis=-1)
    prior_means = mask_inputs(where, _prior("prior_means", prior_means, shape, dtype), 0.0, axis=-1)
    prior_log_variances = mask_inputs(
        where, _prior("prior_log_variances", prior_log_variances, shape, dtype), 0.0, axis=-1
    )
    values = _gaussian_kl(means, log_variances, prior_means, prior_log_variances)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# -- GAN objectives ---------------------------------------------------------------------------


def _generator(fake: jax.Array, kind: str) -> jax.Array:
    if kind == "non_saturating":
        return jax.nn.softplus(-fake)  # -log D(G(z))
    if kind == "minimax":
        return -jax.nn.softplus(fake)  # log(1 - D(G(z)))
    if kind == "least_squares":
        return 0.5 * jnp.square(fake - 1.0)
    return -fake  # hinge and wasserstein


def _discriminator(real: jax.Array, fake: jax.Array, kind: str) -> jax.Array:
    if kind in ("non_saturating", "minimax"):
        # -log D(x) - log(1 - D(G(z))), a binary cross-entropy on each side.
        return _numerics.sigmoid_cross_entropy(real, jnp.ones_like(real)) + (
            _numerics.sigmoid_cross_entropy(fake, jnp.zeros_like(fake))
        )
    if kind == "hinge":
        return jax.nn.relu(1.0 - real) + jax.nn.relu(1.0 + fake)
    if kind == "least_squares":
        return 0.5 * jnp.square(real - 1.0) + 0.5 * jnp.square(fake)
    return fake - real  # wasserstein


@register(
    task="generative",
    input_kind="logits",
    summary="GAN generator objective on the discriminator's logits of generated samples.",
    aliases=("gan_generator", "generator_loss"),
    hyperparameters=(choice("kind", "the GAN objective", GAN_KINDS),),
    recommendations=(
        Recommendation(
            "GAN generator: non-saturating (Goodfellow et al.) by default; use the same kind "
            "as gan_discriminator_loss",
            {"kind": "non_saturating"},
        ),
    ),
)
def gan_generator_loss(
    fake_logits: ArrayLike,
    *,
    kind: str = "non_saturating",
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""The generator's GAN objective, from the discriminator's logits of generated samples.

    With :math:`f = D(G(z))` the discriminator's logit (critic score) of a
    generated sample and :math:`\sigma` the sigmoid, per example:

    .. math::

        \text{non\_saturating}: -\log\sigma(f), \quad
        \text{minimax}: \log(1 - \sigma(f)), \quad
        \text{hinge}, \text{wasserstein}: -f, \quad
        \text{least\_squares}: \tfrac12 (f - 1)^2

    ``"minimax"`` is the original zero-sum objective (its gradient vanishes
    when the discriminator wins early); ``"non_saturating"`` is the variant
    Goodfellow et al. recommend; hinge (Lim & Ye 2017, Miyato et al. 2018) and
    Wasserstein (Arjovsky et al. 2017) generators both minimise :math:`-f`;
    least squares is LSGAN's with targets :math:`a = 0, b = c = 1` (Mao et al.
    2017). Log-sigmoids are softplus terms, exact for any logit.

    Args:
        fake_logits: floating logits of generated samples, any shape (one per example).
        kind: ``"non_saturating"`` (default), ``"minimax"``, ``"hinge"``,
            ``"least_squares"`` or ``"wasserstein"``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights of the shape of ``fake_logits`` (or a scalar).
        where: optional boolean mask of that shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> fake = jnp.array([-2.0, 0.0, 3.0])
        >>> lossjax.gan_generator_loss(fake, reduction="none")
        Array([2.126928  , 0.6931472 , 0.04858735], dtype=float32)
        >>> lossjax.gan_generator_loss(fake, kind="least_squares", reduction="none")
        Array([4.5, 0.5, 2. ], dtype=float32)

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014
        (https://arxiv.org/abs/1406.2661); Mao et al., "Least Squares GANs",
        ICCV 2017 (https://arxiv.org/abs/1611.04076); Lim & Ye, "Geometric GAN",
        2017 (https://arxiv.org/abs/1705.02894); Arjovsky, Chintala & Bottou,
        "Wasserstein GAN", ICML 2017 (https://arxiv.org/abs/1701.07875).
    """
    _checks.check_reduction(reduction)
    fake = _checks.check_floating("fake_logits", fake_logits)
    fake = fake.astype(_checks.compute_dtype(fake))
    where = prepare_where(where, tuple(fake.shape))
    fake = mask_inputs(where, fake, 0.0)
    values = _generator(fake, kind)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


@register(
    task="generative",
    input_kind="logits",
    summary="GAN discriminator (critic) objective on the logits of real and generated samples.",
    aliases=("gan_discriminator", "discriminator_loss", "critic_loss"),
    hyperparameters=(choice("kind", "the GAN objective", GAN_KINDS),),
    recommendations=(
        Recommendation(
            "GAN discriminator: cross-entropy (non_saturating) by default, hinge for "
            "spectrally normalised nets, wasserstein with gradient_penalty",
            {"kind": "non_saturating"},
        ),
    ),
)
def gan_discriminator_loss(
    real_logits: ArrayLike,
    fake_logits: ArrayLike,
    *,
    kind: str = "non_saturating",
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""The discriminator's (critic's) GAN objective on real and generated samples.

    With :math:`r = D(x)` for a real sample and :math:`f = D(G(z))` for a
    generated one, one value per (real, generated) pair:

    .. math::

        \text{non\_saturating}, \text{minimax}: -\log\sigma(r) - \log(1 - \sigma(f)), \quad
        \text{hinge}: \max(0, 1 - r) + \max(0, 1 + f),

        \text{least\_squares}: \tfrac12 (r - 1)^2 + \tfrac12 f^2, \quad
        \text{wasserstein}: f - r

    The non-saturating and minimax games differ only for the generator: the
    discriminator minimises the binary cross-entropy in both (the real side
    equals optax's ``sigmoid_binary_cross_entropy(r, 1)``). The mean over pairs
    is the sum of the means over real and over generated samples, the usual
    two-term objective; ``real_logits`` and ``fake_logits`` must therefore have
    the same shape (equal batches). The Wasserstein critic needs a Lipschitz
    constraint, e.g. :func:`gradient_penalty`.

    Args:
        real_logits: floating logits of real samples, any shape.
        fake_logits: floating logits of generated samples, the same shape.
        kind: ``"non_saturating"`` (default), ``"minimax"``, ``"hinge"``,
            ``"least_squares"`` or ``"wasserstein"``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights of the shape of the logits (or a scalar).
        where: optional boolean mask of that shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-pair values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> real, fake = jnp.array([2.0, 0.0]), jnp.array([-1.0, 0.5])
        >>> lossjax.gan_discriminator_loss(real, fake, reduction="none")
        Array([0.4401897, 1.6672242], dtype=float32)
        >>> lossjax.gan_discriminator_loss(real, fake, kind="hinge", reduction="none")
        Array([0. , 2.5], dtype=float32)

    References:
        Goodfellow et al. 2014 (https://arxiv.org/abs/1406.2661); Mao et al.
        2017 (https://arxiv.org/abs/1611.04076); Lim & Ye 2017
        (https://arxiv.org/abs/1705.02894); Arjovsky et al. 2017
        (https://arxiv.org/abs/1701.07875).
    """
    _checks.check_reduction(reduction)
    real, fake, where = prepare_pair(
        "real_logits", real_logits, "fake_logits", fake_logits, where, b_may_be_integer=False
    )
    values = _discriminator(real, fake, kind)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# -- gradient penalties ---------------------------------------------------------------------


def _input_gradients(critic_fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """The gradient of each example's critic score with respect to that example.

    One backward pass of ``sum_i D(x)_i``: for a critic that treats examples
    independently, row ``i`` of the result is ``grad D(x_i)``.
    """
    scores, pullback = jax.vjp(critic_fn, x)
    n = x.shape[0]
    if getattr(scores, "shape", None) not in ((n,), (n, 1)):
        raise ValueError(
            f"lossjax: `critic_fn` must return one score per example, shape ({n},) or ({n}, 1) "
            f"for inputs of shape {tuple(x.shape)}; got {getattr(scores, 'shape', scores)!r}."
        )
    (gradients,) = pullback(jnp.ones_like(scores))
    return gradients


def _scaled_norm(g: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(||g||, g / ||g||)`` over every axis but the first; ``(0, 0)`` for a zero row.

    Computed from ``u = g / 2^e``, ``2^e`` just above the row's largest entry (held
    constant, and exact), so that ``||u||`` lies in ``[1/2, sqrt(size)]``: no square
    overflows or underflows where the norm fits.
    """
    axes = tuple(range(1, g.ndim))
    _, e = jnp.frexp(jax.lax.stop_gradient(jnp.max(jnp.abs(g), axis=axes, keepdims=True)))
    u = jnp.ldexp(g, -e)
    length = jnp.sqrt(jnp.sum(jnp.square(u), axis=axes, keepdims=True))
    positive = length > 0
    unit = jnp.where(positive, u / jnp.where(positive, length, 1.0), jnp.zeros((), g.dtype))
    return jnp.ldexp(length, e).reshape(g.shape[:1]), unit


@jax.custom_jvp
def _wgan_gp_penalty(g: jax.Array) -> jax.Array:
    """``(||g|| - 1)^2`` per row of the critic's input gradients ``g``."""
    return jnp.square(_scaled_norm(g)[0] - 1.0)


@_wgan_gp_penalty.defjvp
def _wgan_gp_penalty_jvp(primals, tangents):
    # d penalty = <2 (g - g / ||g||), dg>, 0 at g = 0 (where sqrt has no derivative). The
    # chain rule through the scaled norm would multiply by 2^e and then by 2^-e,
    # overflowing where the derivative fits.
    (g,), (g_dot,) = primals, tangents
    norm, unit = _scaled_norm(g)
    slope = 2.0 * (g - unit)
    return jnp.square(norm - 1.0), jnp.sum(slope * g_dot, axis=tuple(range(1, g.ndim)))


@register(
    task="generative",
    input_kind="samples",
    summary="WGAN-GP or R1 gradient penalty of a critic, one value per example.",
    aliases=("gp",),
    presets={"wgan_gp": {"kind": "wgan_gp"}, "r1_penalty": {"kind": "r1"}},
    hyperparameters=(
        function("critic_fn", "the critic: a batch [N, ...] to scores [N]", optional=False),
        choice("kind", "which penalty", PENALTY_KINDS),
    ),
    recommendations=(
        Recommendation(
            "WGAN-GP: keeps a Wasserstein critic 1-Lipschitz; add 10 times its mean to the "
            "critic loss",
            {"kind": "wgan_gp"},
        ),
        Recommendation(
            "R1: penalises the critic's gradient on real data; stabilises non-saturating GANs "
            "(add gamma/2 times its mean)",
            {"kind": "r1"},
            score=-0.5,
        ),
    ),
)
def gradient_penalty(
    real: ArrayLike,
    fake: ArrayLike | None = None,
    key: ArrayLike | None = None,
    *,
    critic_fn: Callable[[jax.Array], jax.Array],
    kind: str = "wgan_gp",
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Gradient penalty of a GAN critic, one value per example.

    .. math::

        \text{wgan\_gp}: \big(\lVert \nabla_{\hat x} D(\hat x) \rVert_2 - 1\big)^2,
        \quad \hat x = \epsilon x + (1 - \epsilon)\tilde x,\; \epsilon \sim U[0, 1];
        \qquad
        \text{r1}: \lVert \nabla_x D(x) \rVert_2^2

    ``"wgan_gp"`` (Gulrajani et al. 2017) interpolates each real sample
    :math:`x` with the generated sample :math:`\tilde x` of the same row, with
    one :math:`\epsilon` per example drawn from ``key``; ``"r1"`` (Mescheder et
    al. 2018) is evaluated on the real data (``fake`` and ``key`` are not
    used). Neither includes its coefficient: add :math:`\lambda = 10` times
    the WGAN-GP mean, or :math:`\gamma/2` times the R1 mean, to the critic's
    loss. The norm is over every axis but the first, and its derivative at a
    zero gradient is 0, not NaN.

    The penalty is a function of the critic's parameters through
    ``critic_fn``, usually a closure: ``critic_fn=lambda x: model(x)`` inside
    the function you differentiate. The per-example gradients come from one
    backward pass of :math:`\sum_i D(x)_i`, so the critic must treat examples
    independently (no batch normalisation; layer norm and spectral
    normalisation are fine). ``lossjax.get("gradient_penalty",
    critic_fn=critic)`` binds a critic once.

    Args:
        real: ``[N, ...]`` floating real samples, examples on the first axis.
        fake: ``[N, ...]`` generated samples, the same shape (``"wgan_gp"``).
        key: a ``jax.random`` key for the interpolation weights (``"wgan_gp"``).
        critic_fn: the critic, a function from a batch ``[N, ...]`` to one
            score per example, shape ``[N]`` or ``[N, 1]``.
        kind: ``"wgan_gp"`` (default) or ``"r1"``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[N]``).
        weights: optional per-example weights ``[N]``.
        where: optional boolean per-example mask ``[N]``; removed examples
            are replaced before the critic sees them.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced penalty (float32 at least), or the per-example values.

    Raises:
        TypeError: ``"wgan_gp"`` without ``fake`` or ``key``.
        ValueError: a critic that does not return one score per example.

    Example:
        >>> import jax, jax.numpy as jnp, lossjax
        >>> critic = lambda x: x @ jnp.array([3.0, 4.0])  # gradient norm 5 everywhere
        >>> real, fake = jnp.ones((2, 2)), jnp.zeros((2, 2))
        >>> lossjax.gradient_penalty(real, fake, jax.random.key(0), critic_fn=critic)
        Array(16., dtype=float32)
        >>> lossjax.gradient_penalty(real, critic_fn=critic, kind="r1")
        Array(25., dtype=float32)

    References:
        Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017
        (https://arxiv.org/abs/1704.00028); Mescheder, Geiger & Nowozin,
        "Which Training Methods for GANs do actually Converge?", ICML 2018
        (https://arxiv.org/abs/1801.04406).
    """
    _checks.check_reduction(reduction)
    real = _checks.check_floating("real", real)
    if real.ndim == 0:
        raise ValueError(
            "lossjax: `real` needs an example axis (the first one), got a scalar. "
            "Pass shape (N, ...)."
        )
    dtype = _checks.compute_dtype(real)
    where = prepare_where(where, tuple(real.shape[:1]))
    x = _mask_rows(where, real.astype(dtype), 0.0)
    if kind == "wgan_gp":
        if fake is None or key is None:
            missing = "fake" if fake is None else "key"
            raise TypeError(
                f"lossjax: kind='wgan_gp' interpolates real and generated samples and needs "
                f"`{missing}`, got None (kind='r1' uses the real samples only)."
            )
        fake = _checks.check_floating("fake", fake)
        _checks.check_same_shape("real", real, "fake", fake)
        dtype = _checks.compute_dtype(real, fake)
        x = x.astype(dtype)
        fake = _mask_rows(where, fake.astype(dtype), 0.0)
        epsilon = jax.random.uniform(key, real.shape[:1], dtype)
        epsilon = _rows(epsilon, real.ndim)
        x = epsilon * x + (1.0 - epsilon) * fake
    gradients = _input_gradients(critic_fn, x).astype(dtype)
    if kind == "r1":
        values = jnp.sum(jnp.square(gradients), axis=tuple(range(1, gradients.ndim)))
    else:
        values = _wgan_gp_penalty(gradients)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


# -- diffusion ------------------------------------------------------------------------------


def _snr_weight(snr: jax.Array, prediction: str, weighting: str, gamma: jax.Array) -> jax.Array:
    """The weight of the squared error in the model's own parameterisation.

    Each weighting is a weight :math:`w_{x_0}` on the x0-space error; the
    epsilon error is SNR times it and the v error (SNR + 1) times it, so the
    weight divides by those factors. Written without 0/0 at SNR = 0.
    """
    if weighting == "none":
        return jnp.ones_like(snr)
    if prediction == "epsilon":  # w_x0 / SNR
        if weighting == "snr":
            return jnp.ones_like(snr)
        if weighting == "min_snr":
            return jnp.minimum(1.0, gamma / snr)
        return jnp.maximum(1.0, 1.0 / snr)
    if weighting == "snr":
        w_x0 = snr
    elif weighting == "min_snr":
        w_x0 = jnp.minimum(snr, gamma)
    else:
        w_x0 = jnp.maximum(snr, 1.0)
    return w_x0 if prediction == "x0" else w_x0 / (snr + 1.0)


@register(
    task="generative",
    input_kind="predictions",
    summary="Diffusion training loss: per-example MSE with min-SNR and other SNR weightings.",
    aliases=("diffusion", "denoising_loss"),
    presets={"min_snr": {"weighting": "min_snr"}},
    default=True,
    hyperparameters=(
        choice("prediction", "what the model predicts", PREDICTIONS),
        choice("weighting", "the weight as a function of the SNR", WEIGHTINGS),
        real("gamma", "the min-SNR clip (weighting='min_snr')", lower=0.0, lower_open=True),
    ),
    recommendations=(
        Recommendation(
            "diffusion models: min-SNR-5 weighting converges faster than the plain epsilon "
            "loss (Hang et al. 2023)",
            {"weighting": "min_snr", "gamma": 5.0},
        ),
        Recommendation(
            "the plain epsilon-prediction loss of DDPM (Ho et al. 2020)",
            {"prediction": "epsilon", "weighting": "none"},
            score=-0.5,
        ),
    ),
)
def diffusion_loss(
    model_output: ArrayLike,
    target: ArrayLike,
    snr: ArrayLike,
    *,
    prediction: str = "epsilon",
    weighting: str = "none",
    gamma: ArrayLike = 5.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Weighted squared error of a diffusion model, one value per example.

    With the noisy sample :math:`x_t = \alpha_t x_0 + \sigma_t \epsilon`,
    :math:`\mathrm{SNR} = \alpha_t^2 / \sigma_t^2`, and the model predicting
    :math:`\epsilon`, :math:`v = \alpha_t\epsilon - \sigma_t x_0` or
    :math:`x_0` (``prediction``), the loss per example is

    .. math::

        l = w(\mathrm{SNR}) \cdot \operatorname{mean}\big((\hat y - y)^2\big)

    with the mean over every axis of an example. The weightings are defined on
    the :math:`x_0` error, :math:`w_{x_0} \in \{1` (none, in the model's own
    parameterisation), :math:`\mathrm{SNR}` (snr), :math:`\min(\mathrm{SNR}, \gamma)`
    (min_snr), :math:`\max(\mathrm{SNR}, 1)` (truncated_snr)\}, and converted to
    the model's parameterisation. Since
    :math:`\hat x_0 - x_0 = -(\hat\epsilon - \epsilon)/\sqrt{\mathrm{SNR}}`,
    :math:`\lVert\hat\epsilon - \epsilon\rVert^2 = \mathrm{SNR}\,\lVert\hat x_0 - x_0\rVert^2`;
    and for a variance-preserving process (:math:`\alpha_t^2 + \sigma_t^2 = 1`)
    :math:`\hat x_0 - x_0 = -\sigma_t(\hat v - v)`, so
    :math:`\lVert\hat v - v\rVert^2 = (\mathrm{SNR} + 1)\,\lVert\hat x_0 - x_0\rVert^2`.
    The weight of the model's error is therefore :math:`w_{x_0}` divided by
    that factor:

    ============== ================= ======================= ============
    weighting      epsilon           v                       x0
    ============== ================= ======================= ============
    none           1                 1                       1
    snr            1                 SNR / (SNR + 1)         SNR
    min_snr        min(SNR, γ) / SNR min(SNR, γ) / (SNR + 1) min(SNR, γ)
    truncated_snr  max(SNR, 1) / SNR max(SNR, 1) / (SNR + 1) max(SNR, 1)
    ============== ================= ======================= ============

    Min-SNR-:math:`\gamma` is Hang et al. (2023); the SNR weighting makes every
    parameterisation the :math:`\epsilon` loss of Ho et al. (2020); truncated
    SNR is Salimans & Ho (2022). For :math:`\epsilon` the weights are computed
    as :math:`\min(1, \gamma/\mathrm{SNR})` and :math:`\max(1, 1/\mathrm{SNR})`,
    without 0/0.

    Args:
        model_output: ``[N, ...]`` floating predictions :math:`\hat y`.
        target: ``[N, ...]`` the regression target :math:`y` of the
            parameterisation (:math:`\epsilon`, :math:`v` or :math:`x_0`), the same shape.
        snr: ``[N]`` non-negative signal-to-noise ratio of each example's
            noise level (more generally: a prefix of ``model_output.shape``, the
            per-example shape; the error is averaged over the remaining axes).
        prediction: ``"epsilon"`` (default), ``"v"`` or ``"x0"``.
        weighting: ``"none"`` (default), ``"min_snr"``, ``"snr"`` or ``"truncated_snr"``.
        gamma: :math:`\gamma > 0` of ``"min_snr"`` (default 5).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights.
        where: optional boolean per-example mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> out, target = jnp.ones((2, 3)), jnp.zeros((2, 3))
        >>> snr = jnp.array([0.5, 20.0])
        >>> lossjax.diffusion_loss(out, target, snr, weighting="min_snr", reduction="none")
        Array([1.  , 0.25], dtype=float32)

    References:
        Hang et al., "Efficient Diffusion Training via Min-SNR Weighting
        Strategy", ICCV 2023 (https://arxiv.org/abs/2303.09556); Ho, Jain &
        Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020
        (https://arxiv.org/abs/2006.11239); Salimans & Ho, "Progressive
        Distillation for Fast Sampling of Diffusion Models", ICLR 2022
        (https://arxiv.org/abs/2202.00512).
    """
    _checks.check_reduction(reduction)
    model_output, target, _ = prepare_pair(
        "model_output", model_output, "target", target, None, b_may_be_integer=False
    )
    snr = _checks.check_real("snr", snr)
    shape = tuple(snr.shape)
    if snr.ndim == 0 or tuple(model_output.shape[: snr.ndim]) != shape:
        raise ValueError(
            "lossjax: `snr` must hold one value per example, a shape that is a leading part "
            f"of model_output.shape={tuple(model_output.shape)} (usually (N,)); got "
            f"snr.shape={shape}."
        )
    dtype = model_output.dtype
    where = prepare_where(where, shape)
    model_output = _mask_rows(where, model_output, 0.0)
    target = _mask_rows(where, target, 0.0)
    snr = mask_inputs(where, snr.astype(dtype), 1.0)
    _checks.check_non_negative("snr", snr)
    # Each example's mean over its F features of w e^2, as ((w e) 2^-k) e with 2^k >= F
    # (exact), the contract's mean (reduce_loss), then 2^k: the weight applies before the
    # square and the scaling before the sum, so nothing overflows where the value fits.
    weight = _snr_weight(snr, prediction, weighting, _checks.hyperparameter(gamma, dtype))
    error = model_output - target
    features = math.prod(error.shape[snr.ndim :])
    scale = 2.0 ** math.ceil(math.log2(max(features, 1)))
    terms = (_rows(weight, error.ndim) * error / scale) * error
    values = jax.vmap(reduce_loss)(terms.reshape(weight.size, features)).reshape(shape) * scale
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
