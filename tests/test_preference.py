"""Specification of the preference losses: DPO (sigmoid/cDPO, IPO, hinge, robust), SimPO, ORPO.

Each reference is a float64 NumPy transcription of the paper's formula as TRL
writes it: ``DPOTrainer.dpo_loss`` with ``loss_type`` "sigmoid", "ipo",
"hinge", "robust"; ``CPOTrainer.cpo_loss`` with ``loss_type="simpo"``;
``ORPOTrainer.odds_ratio_loss``. (TRL itself is not a test dependency.)
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.special import expit, log_expit

from lossjax._preference import dpo_loss, dpo_rewards, orpo_loss, simpo_loss

RNG = np.random.default_rng(0)
N = 6
PC, PR, RC, RR = (RNG.normal(size=N).astype(np.float32) * 3 - 20 for _ in range(4))


def f64(*xs):
    return [np.asarray(x, np.float64) for x in xs]


def trl_dpo(pc, pr, rc, rr, beta, label_smoothing, loss_type):
    pc, pr, rc, rr = f64(pc, pr, rc, rr)
    logits = (pc - pr) - (rc - rr)
    if loss_type == "sigmoid":
        return (
            -log_expit(beta * logits) * (1 - label_smoothing)
            - log_expit(-beta * logits) * label_smoothing
        )
    if loss_type == "robust":
        return (
            -log_expit(beta * logits) * (1 - label_smoothing)
            + log_expit(-beta * logits) * label_smoothing
        ) / (1 - 2 * label_smoothing)
    if loss_type == "hinge":
        return np.maximum(0.0, 1 - beta * logits)
    return (logits - 1 / (2 * beta)) ** 2  # ipo


def trl_simpo(c, r, beta, gamma):
    c, r = f64(c, r)
    return -log_expit(beta * ((c - r) - gamma / beta))


def trl_orpo(c, r, nll, beta):
    c, r, nll = f64(c, r, nll)
    log_odds = (c - r) - (np.log1p(-np.exp(c)) - np.log1p(-np.exp(r)))
    return nll - beta * log_expit(log_odds)


@pytest.mark.parametrize(
    "kind, label_smoothing",
    [
        ("sigmoid", 0.0),
        ("sigmoid", 0.2),
        ("robust", 0.0),
        ("robust", 0.2),
        ("ipo", 0.0),
        ("hinge", 0.0),
    ],
)
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_matches_trl(kind, label_smoothing, beta):
    got = dpo_loss(
        PC, PR, RC, RR, beta=beta, label_smoothing=label_smoothing, kind=kind, reduction="none"
    )
    want = trl_dpo(PC, PR, RC, RR, beta, label_smoothing, kind)
    assert got.shape == (N,) and got.dtype == jnp.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        dpo_loss(PC, PR, RC, RR, beta=beta, label_smoothing=label_smoothing, kind=kind),
        want.mean(),
        rtol=1e-5,
    )


def test_cdpo_is_optax_binary_cross_entropy_with_smoothed_labels():
    beta, eps = 0.3, 0.1
    h = (PC - PR) - (RC - RR)
    want = optax.losses.sigmoid_binary_cross_entropy(beta * h, jnp.full(N, 1 - eps))
    got = dpo_loss(PC, PR, RC, RR, beta=beta, label_smoothing=eps, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dpo_gradient_is_the_papers():
    """d l / d log pi(y_w) = -beta sigma(-beta h) (Rafailov et al., eq. 7), and minus that for y_l."""
    beta = 0.5
    grads = jax.grad(
        lambda c, r: dpo_loss(c, r, RC, RR, beta=beta, reduction="sum"), argnums=(0, 1)
    )(PC, PR)
    h = np.float64(PC) - PR - (np.float64(RC) - RR)
    np.testing.assert_allclose(grads[0], -beta * expit(-beta * h), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[1], beta * expit(-beta * h), rtol=1e-5, atol=1e-7)


def test_dpo_is_exact_for_huge_margins():
    c = np.array([0.0, 0.0], np.float32)
    r = np.array([-1e4, 1e4], np.float32)
    z = np.zeros(2, np.float32)
    got = dpo_loss(c, r, z, z, beta=1.0, reduction="none")
    np.testing.assert_allclose(got, [0.0, 1e4], rtol=1e-6)
    grads = jax.grad(lambda x: dpo_loss(x, r, z, z))(c)
    assert np.all(np.isfinite(grads))


def test_dpo_rewards_are_trls_logged_rewards():
    beta = 0.2
    rewards = dpo_rewards(PC, PR, RC, RR, beta=beta)
    chosen = beta * (np.float64(PC) - RC)
    rejected = beta * (np.float64(PR) - RR)
    np.testing.assert_allclose(rewards.chosen, chosen, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rewards.rejected, rejected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rewards.margins, chosen - rejected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(rewards.accuracies, (chosen > rejected).astype(np.float32))
    # The DPO loss is -log sigmoid of the reward margin.
    np.testing.assert_allclose(
        dpo_loss(PC, PR, RC, RR, beta=beta, reduction="none"),
        -log_expit(chosen - rejected),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="`beta`"):
        dpo_rewards(PC, PR, RC, RR, beta=0.0)


@pytest.mark.parametrize("beta, gamma", [(2.0, 0.5), (10.0, 1.6)])
def test_simpo_matches_trl(beta, gamma):
    c, r = PC / 20, PR / 20  # mean per-token log-probabilities
    got = simpo_loss(c, r, beta=beta, gamma=gamma, reduction="none")
    np.testing.assert_allclose(got, trl_simpo(c, r, beta, gamma), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_orpo_matches_trl(beta):
    c, r = PC / 20, PR / 20
    got = orpo_loss(c, r, -c, beta=beta, reduction="none")
    np.testing.assert_allclose(got, trl_orpo(c, r, -c, beta), rtol=1e-5, atol=1e-6)


def test_orpo_is_exact_near_probability_one_and_far_below():
    """log(1 - e^l) loses every digit with log1p(-exp(l)) in float32 near l = 0."""
    c = np.array([-1e-6, -30.0, -0.5], np.float32)
    r = np.array([-2e-6, -20.0, -3.0], np.float32)
    got = orpo_loss(c, r, np.zeros(3, np.float32), beta=1.0, reduction="none")
    c64, r64 = np.float64(c), np.float64(r)
    log_odds = (c64 - r64) - (np.log(-np.expm1(c64)) - np.log(-np.expm1(r64)))
    np.testing.assert_allclose(got, -log_expit(log_odds), rtol=1e-5)
    grads = jax.grad(lambda x: orpo_loss(x, r, np.zeros(3, np.float32)))(c)
    assert np.all(np.isfinite(grads))


def test_where_removes_pairs_even_with_nan():
    where = np.array([True, False] * (N // 2))
    bad = PC.copy()
    bad[~where] = np.nan
    got = dpo_loss(bad, PR, RC, RR, where=where)
    np.testing.assert_allclose(
        got, trl_dpo(PC, PR, RC, RR, 0.1, 0.0, "sigmoid")[where].mean(), rtol=1e-5
    )
    c = PC / 20
    bad_c = c.copy()
    bad_c[~where] = np.nan
    np.testing.assert_allclose(
        orpo_loss(bad_c, PR / 20, -c, where=where),
        trl_orpo(c, PR / 20, -c, 0.1)[where].mean(),
        rtol=1e-5,
    )


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`label_smoothing`"):
        dpo_loss(PC, PR, RC, RR, kind="ipo", label_smoothing=0.1)
    with pytest.raises(ValueError, match="`label_smoothing`"):
        dpo_loss(PC, PR, RC, RR, kind="robust", label_smoothing=0.5)
    with pytest.raises(ValueError, match="`beta`"):
        dpo_loss(PC, PR, RC, RR, beta=0.0)
    with pytest.raises(ValueError, match="`kind`"):
        dpo_loss(PC, PR, RC, RR, kind="kto")
    with pytest.raises(ValueError, match="`reference_rejected_logps`"):
        dpo_loss(PC, PR, RC, RR[:3])
    with pytest.raises(ValueError, match="`chosen_logps` must be log-probabilities"):
        orpo_loss(np.full(3, 0.5, np.float32), np.full(3, -1.0, np.float32), np.zeros(3))
    with pytest.raises(ValueError, match="`gamma`"):
        simpo_loss(PC, PR, gamma=-1.0)


def test_a_dpo_step_on_a_toy_policy_prefers_the_chosen_responses():
    """End to end: a softmax policy over 5 responses per prompt, trained by DPO from a
    uniform reference, learns each prompt's preferences (reward accuracy -> 1)."""
    rng = np.random.default_rng(2)
    prompts, responses = 8, 5
    quality = rng.normal(size=(prompts, responses))
    pairs = np.array(
        [(p, a, b) for p in range(prompts) for a in range(responses) for b in range(a)]
    )
    better = quality[pairs[:, 0], pairs[:, 1]] > quality[pairs[:, 0], pairs[:, 2]]
    chosen = np.where(better, pairs[:, 1], pairs[:, 2])
    rejected = np.where(better, pairs[:, 2], pairs[:, 1])
    reference = jnp.zeros((prompts, responses))

    def logps(logits, index):
        return jax.nn.log_softmax(logits)[pairs[:, 0], index]

    def loss(logits):
        return dpo_loss(
            logps(logits, chosen),
            logps(logits, rejected),
            logps(reference, chosen),
            logps(reference, rejected),
            beta=0.5,
        )

    logits = reference
    before = float(loss(logits))
    step = jax.jit(lambda w: w - 2.0 * jax.grad(loss)(w))
    for _ in range(100):
        logits = step(logits)
    rewards = dpo_rewards(
        logps(logits, chosen),
        logps(logits, rejected),
        logps(reference, chosen),
        logps(reference, rejected),
        beta=0.5,
    )
    assert float(loss(logits)) < 0.7 * before
    assert float(jnp.mean(rewards.accuracies)) == 1.0
    # The learned ranking is the true one for every prompt.
    np.testing.assert_array_equal(np.argsort(logits, -1), np.argsort(quality, -1))
