"""Specification of distillation_loss: forward KL (Hinton), reverse KL, generalised JSD (GKD).

References are float64 NumPy formulas written here from the papers; TRL's
``generalized_jsd_loss`` (GKDTrainer) is written out in NumPy too (TRL itself
is not a test dependency). The transformation and contract checks run over the
catalogue (tests/losses_catalogue.py).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special

from lossjax._distillation import distillation_loss

RNG = np.random.default_rng(0)


def np_log_softmax(x):
    return scipy.special.log_softmax(np.asarray(x, np.float64), axis=-1)


def np_kl(log_p, log_q):
    p = np.exp(log_p)
    kept = p > 0
    terms = p * (np.where(kept, log_p, 0.0) - np.where(kept, log_q, 0.0))
    return np.sum(np.where(kept, terms, 0.0), axis=-1)


def np_distillation(s, t, temperature=1.0, kind="forward_kl", beta=0.5, top_k=None):
    """The papers' formulas, times T^2 for every kind."""
    s, t = np.asarray(s, np.float64) / temperature, np.asarray(t, np.float64) / temperature
    if top_k is None:
        log_p, log_q = np_log_softmax(t), np_log_softmax(s)
    else:
        index = np.argsort(-t, axis=-1, kind="stable")[..., :top_k]
        log_p = np_log_softmax(np.take_along_axis(t, index, -1))
        if kind == "forward_kl":
            log_q = np.take_along_axis(np_log_softmax(s), index, -1)
        else:
            log_q = np_log_softmax(np.take_along_axis(s, index, -1))
    if kind == "forward_kl":
        value = np_kl(log_p, log_q)
    elif kind == "reverse_kl":
        value = np_kl(log_q, log_p)
    else:
        log_m = np.logaddexp(np.log(beta) + log_p, np.log(1 - beta) + log_q)
        value = beta * np_kl(log_p, log_m) + (1 - beta) * np_kl(log_q, log_m)
    return temperature**2 * value


def trl_generalized_jsd(student_logits, teacher_logits, beta, temperature):
    """TRL GKDTrainer.generalized_jsd_loss (reduction="none", summed over the vocabulary).

    torch's kl_div(input, target, log_target=True) is target * (target_log - input).
    """
    s = np_log_softmax(np.asarray(student_logits, np.float64) / temperature)
    t = np_log_softmax(np.asarray(teacher_logits, np.float64) / temperature)

    def kl_div(inp, target):
        return np.exp(target) * (target - inp)

    if beta == 0:
        jsd = kl_div(s, t)
    elif beta == 1:
        jsd = kl_div(t, s)
    else:
        mixture = scipy.special.logsumexp(
            np.stack([s + np.log(1 - beta), t + np.log(beta)]), axis=0
        )
        jsd = beta * kl_div(mixture, t) + (1 - beta) * kl_div(mixture, s)
    return jsd.sum(-1)


S = RNG.normal(size=(3, 4, 7)).astype(np.float32) * 2
T = RNG.normal(size=(3, 4, 7)).astype(np.float32) * 2


@pytest.mark.parametrize("kind", ["forward_kl", "reverse_kl", "jsd"])
@pytest.mark.parametrize("top_k", [None, 3])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_values_match_the_float64_reference(kind, top_k, temperature):
    got = distillation_loss(
        S, T, kind=kind, top_k=top_k, temperature=temperature, beta=0.3, reduction="none"
    )
    want = np_distillation(S, T, temperature, kind, 0.3, top_k)
    assert got.shape == (3, 4) and got.dtype == jnp.float32
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    assert np.all(np.asarray(got) >= 0)


def test_forward_kl_equals_optax_times_t_squared():
    temperature = 3.0
    log_q = jax.nn.log_softmax(S / temperature)
    log_p = jax.nn.log_softmax(T / temperature)
    want = temperature**2 * optax.losses.kl_divergence_with_log_targets(log_q, log_p)
    got = distillation_loss(S, T, temperature=temperature, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_jsd_is_trls_generalized_jsd_times_t_squared(beta):
    temperature = 2.0
    got = distillation_loss(S, T, kind="jsd", beta=beta, temperature=temperature, reduction="none")
    want = temperature**2 * trl_generalized_jsd(S, T, beta, temperature)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    # TRL's beta = 0 and beta = 1 are the forward and reverse KL.
    for trl_beta, kind in ((0, "forward_kl"), (1, "reverse_kl")):
        np.testing.assert_allclose(
            distillation_loss(S, T, kind=kind, temperature=temperature, reduction="none"),
            temperature**2 * trl_generalized_jsd(S, T, trl_beta, temperature),
            rtol=2e-5,
            atol=1e-6,
        )


def test_jsd_is_bounded_by_the_binary_entropy_of_beta():
    s = np.array([[50.0, -50.0, 0.0]], np.float32)
    t = np.array([[-50.0, 50.0, 0.0]], np.float32)
    beta = 0.3
    got = float(distillation_loss(s, t, kind="jsd", beta=beta))
    entropy = -beta * np.log(beta) - (1 - beta) * np.log(1 - beta)
    assert got <= entropy + 1e-6 and got > 0.99 * entropy


def test_forward_kl_gradient_is_t_times_q_minus_p():
    """d/ds [T^2 KL(p || q)] = T (q - p) per token (Hinton et al., section 2)."""
    temperature = 2.0
    grad = jax.grad(lambda s: distillation_loss(s, T, temperature=temperature, reduction="sum"))(S)
    q = scipy.special.softmax(S.astype(np.float64) / temperature, axis=-1)
    p = scipy.special.softmax(T.astype(np.float64) / temperature, axis=-1)
    np.testing.assert_allclose(grad, temperature * (q - p), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["forward_kl", "reverse_kl", "jsd"])
def test_stable_for_large_logit_ranges(kind):
    """Logits spread over 1e4: the value equals the float64 reference and the gradient is finite."""
    s = (RNG.normal(size=(4, 6)) * 1e4).astype(np.float32)
    t = s + RNG.normal(size=(4, 6)).astype(np.float32)
    got = distillation_loss(s, t, kind=kind, reduction="none")
    np.testing.assert_allclose(got, np_distillation(s, t, kind=kind), rtol=1e-3, atol=1e-5)
    grad = jax.grad(lambda x: distillation_loss(x, t, kind=kind))(s)
    assert np.all(np.isfinite(grad))


def test_a_teacher_logit_of_minus_inf_adds_nothing():
    s = np.array([[1.0, 2.0, 0.5]], np.float32)
    t = np.array([[0.0, -np.inf, 1.0]], np.float32)
    for kind in ("forward_kl", "jsd"):
        value, grad = jax.value_and_grad(lambda x, kind=kind: distillation_loss(x, t, kind=kind))(s)
        np.testing.assert_allclose(value, np_distillation(s, t, kind=kind)[0], rtol=1e-5)
        assert np.all(np.isfinite(grad))


def test_identical_distributions_give_zero():
    for kind in ("forward_kl", "reverse_kl", "jsd"):
        got = distillation_loss(S, S + 3.0, kind=kind, temperature=1.7, reduction="none")
        np.testing.assert_allclose(got, 0.0, atol=1e-5)


def test_top_k_forward_kl_penalises_student_mass_outside_the_teachers_top_k():
    t = np.array([[3.0, 2.0, -5.0, -5.0]], np.float32)
    on_support = np.array([[3.0, 2.0, -30.0, -30.0]], np.float32)
    elsewhere = np.array([[3.0, 2.0, 4.0, 4.0]], np.float32)
    assert float(distillation_loss(on_support, t, top_k=2)) < 1e-6
    assert float(distillation_loss(elsewhere, t, top_k=2)) > 1.0
    # reverse KL and JSD compare the renormalised distributions on the k tokens.
    assert float(distillation_loss(elsewhere, t, top_k=2, kind="reverse_kl")) < 1e-6


def test_where_masks_tokens_and_mean_is_over_kept_tokens():
    where = np.array([[True, True, False, False]] * 3)
    bad_s = S.copy()
    bad_s[:, 2:] = np.nan
    got = distillation_loss(bad_s, T, where=where)
    want = np_distillation(S, T)[:, :2].mean()
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`student_logits` and `teacher_logits`"):
        distillation_loss(S, T[..., :5])
    with pytest.raises(ValueError, match="`top_k`"):
        distillation_loss(S, T, top_k=8)
    with pytest.raises(ValueError, match="`top_k`"):
        distillation_loss(S, T, top_k=0)
    with pytest.raises(ValueError, match="`beta`"):
        distillation_loss(S, T, kind="jsd", beta=1.0)
    with pytest.raises(ValueError, match="`temperature`"):
        distillation_loss(S, T, temperature=0.0)
    with pytest.raises(ValueError, match="`kind`"):
        distillation_loss(S, T, kind="kl")
    with pytest.raises(TypeError, match="`teacher_logits`"):
        distillation_loss(S, np.zeros((3, 4, 7), np.int32))


def test_traced_temperature_and_beta_are_differentiable():
    def f(temperature, beta):
        return distillation_loss(S, T, kind="jsd", temperature=temperature, beta=beta)

    grads = jax.grad(f, argnums=(0, 1))(2.0, 0.4)
    eps = 1e-3
    numeric = (f(2.0 + eps, 0.4) - f(2.0 - eps, 0.4)) / (2 * eps)
    np.testing.assert_allclose(grads[0], numeric, rtol=1e-2)


def test_a_student_distilled_from_a_teacher_approaches_it():
    """End to end: a linear student trained on the distillation loss alone."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    teacher = x @ rng.normal(size=(5, 6)).astype(np.float32)
    params = jnp.zeros((5, 6))
    optimizer = optax.adam(0.1)
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(
            lambda w: distillation_loss(x @ w, teacher, temperature=2.0)
        )(params)
        updates, state = optimizer.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    first = None
    for _ in range(150):
        params, state, loss = step(params, state)
        first = loss if first is None else first
    final = distillation_loss(x @ params, teacher, temperature=2.0)
    assert final < 0.02 * first
    agree = np.mean(np.argmax(x @ params, -1) == np.argmax(teacher, -1))
    assert agree > 0.9
