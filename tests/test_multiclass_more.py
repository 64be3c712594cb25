"""Specification of the Poly-1 and generalized cross-entropies, the convex KL divergence,
``class_mask`` (optax's per-class ``where``), tuple class axes and the focal loss on
target distributions."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special

import lossjax

RNG = np.random.default_rng(1)
N, K = 6, 5
LOGITS = (RNG.normal(size=(N, K)) * 3).astype(np.float32)
PROBS = RNG.dirichlet(np.ones(K), size=N).astype(np.float32)
LABELS = np.array([0, 1, 2, 3, 4, 1], np.int32)
ONE_HOT = np.eye(K, dtype=np.float32)[LABELS]
# Per-example class masks: row 2 keeps only class 2, row 4 keeps nothing, row 5's
# label (1) is masked out.
MASK = np.array(
    [
        [1, 1, 1, 1, 1],
        [1, 1, 0, 1, 1],
        [0, 0, 1, 0, 0],
        [1, 0, 1, 1, 0],
        [0, 0, 0, 0, 0],
        [1, 0, 1, 1, 1],
    ],
    bool,
)
# +-1e4 logits and 1 - p of the top class down to 2e-9.
EXTREME = np.array(
    [
        [1e4, -1e4, 0.0, 5.0],
        [1e4, 1e4 - 20.0, -1e4, 1e4 - 30.0],
        [-1e4, -1e4, -1e4, -1e4],
        [1e4, 1e4, -1e4, 0.0],
        [3.0, -6.0, 1.5, 12.0],
        [-1e4, 1e4, 1e4 - 1.0, -3.0],
    ],
    np.float32,
)
EXTREME_LABELS = np.array([0, 2, 2, 1, 3, 0], np.int32)


# -- float64 references written here --------------------------------------------------------


def f64(x):
    return np.asarray(x, np.float64)


def np_log_softmax(z, mask=None):
    z = f64(z)
    if mask is not None:
        z = np.where(mask, z, -np.inf)
    return scipy.special.log_softmax(z, axis=-1)


def np_log1m_softmax(z):
    """log(1 - q_k) for every k in log space: logsumexp_{j != k} z_j - logsumexp z."""
    z = f64(z)
    k = z.shape[-1]
    others = np.where(np.eye(k, dtype=bool), -np.inf, z[..., None, :])
    return scipy.special.logsumexp(others, axis=-1) - scipy.special.logsumexp(z, -1)[..., None]


def ref_poly(z, t, eps, smoothing=0.0):
    t = f64(t) * (1 - smoothing) + smoothing / t.shape[-1]
    log_q = np_log_softmax(z)
    return -(t * log_q).sum(-1) + eps * (t * -np.expm1(log_q)).sum(-1)


def ref_poly_grad(z, t, eps):
    """d/dz: q sum(t) - t - eps (t q - q sum_k t_k q_k)."""
    t = f64(t)
    q = np.exp(np_log_softmax(z))
    tq = t * q
    return q * t.sum(-1, keepdims=True) - t - eps * (tq - q * tq.sum(-1, keepdims=True))


def ref_gce(z, y, q):
    log_p = np.take_along_axis(np_log_softmax(z), y[:, None], -1)[:, 0]
    return -np.expm1(q * log_p) / q


def ref_convex_kl(log_p, t):
    log_p, t = f64(log_p), f64(t)
    present = t > 0
    kl = np.where(present, t * (np.log(np.where(present, t, 1)) - log_p), 0.0)
    return (kl - t + np.exp(log_p)).sum(-1)


def ref_focal_dense(z, t, gamma, alpha=1.0, smoothing=0.0):
    t = f64(t) * (1 - smoothing) + smoothing / t.shape[-1]
    log_q = np_log_softmax(z)
    terms = np.where(t > 0, t * log_q, 0.0)
    return -(f64(alpha) * np.exp(gamma * np_log1m_softmax(z)) * terms).sum(-1)


def optax_convex_kl(log_p, t, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return optax.losses.convex_kl_divergence(log_p, t, **kw)


# -- Poly-1 cross-entropy --------------------------------------------------------------------


@pytest.mark.parametrize(
    "eps, expected",
    [
        (2, [0.4823, 1.2567]),
        (0, [0.1698, 0.8247]),
        (-0.5, [0.0917, 0.7168]),
        (5.45, [1.0211, 2.0018]),
    ],
)
def test_poly_on_optax_test_cases(eps, expected):
    z = np.array([[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]], np.float32)
    t = np.array([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]], np.float32)
    got = lossjax.poly_cross_entropy(z, t, epsilon=eps, reduction="none")
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(
        got, optax.losses.poly_loss_cross_entropy(z, t, epsilon=eps), rtol=1e-6
    )
    # The optax scalar case: targets not one-hot, one example.
    z1 = np.array([0.14, 1.456, 2.356, -0.124, -2.47], np.float32)
    t1 = np.array([0.1, 0.15, 0.2, 0.25, 0.3], np.float32)
    np.testing.assert_allclose(
        lossjax.poly_cross_entropy(z1, t1, epsilon=eps),
        optax.losses.poly_loss_cross_entropy(z1, t1, epsilon=eps),
        rtol=1e-6,
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_poly_values_and_gradients_match_float64_reference_and_optax(smoothing):
    eps = 1.5
    got = lossjax.poly_cross_entropy(
        LOGITS, PROBS, epsilon=eps, label_smoothing=smoothing, reduction="none"
    )
    np.testing.assert_allclose(got, ref_poly(LOGITS, PROBS, eps, smoothing), rtol=1e-6)
    smoothed = optax.losses.smooth_labels(PROBS, smoothing)
    np.testing.assert_allclose(
        got, optax.losses.poly_loss_cross_entropy(LOGITS, smoothed, epsilon=eps), rtol=1e-5
    )
    grad = jax.grad(
        lambda z: lossjax.poly_cross_entropy(
            z, PROBS, epsilon=eps, label_smoothing=smoothing, reduction="sum"
        )
    )(LOGITS)
    t = f64(PROBS) * (1 - smoothing) + smoothing / K
    np.testing.assert_allclose(grad, ref_poly_grad(LOGITS, t, eps), rtol=1e-5, atol=1e-6)
    # epsilon = 0 is the categorical cross-entropy.
    np.testing.assert_allclose(
        lossjax.poly_cross_entropy(LOGITS, PROBS, epsilon=0.0, label_smoothing=smoothing),
        lossjax.categorical_cross_entropy(LOGITS, PROBS, label_smoothing=smoothing),
        rtol=1e-6,
    )


def test_poly_at_extreme_logits_is_exact():
    t = np.eye(4, dtype=np.float32)[EXTREME_LABELS]
    got = lossjax.poly_cross_entropy(EXTREME, t, epsilon=2.0, reduction="none")
    np.testing.assert_allclose(got, ref_poly(EXTREME, t, 2.0), rtol=1e-6, atol=1e-30)
    grad = jax.grad(lambda z: lossjax.poly_cross_entropy(z, t, epsilon=2.0, reduction="sum"))(
        EXTREME
    )
    np.testing.assert_allclose(grad, ref_poly_grad(EXTREME, t, 2.0), rtol=1e-5, atol=1e-30)


def test_poly_float64(x64):
    z, t = f64(LOGITS), f64(PROBS)
    got = lossjax.poly_cross_entropy(z, t, epsilon=-1.0, reduction="none")
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, ref_poly(z, t, -1.0), rtol=1e-12)
    grad = jax.grad(lambda z: lossjax.poly_cross_entropy(z, t, epsilon=-1.0, reduction="sum"))(z)
    np.testing.assert_allclose(grad, ref_poly_grad(z, t, -1.0), rtol=1e-10, atol=1e-14)


# -- generalized cross-entropy ---------------------------------------------------------------


@pytest.mark.parametrize("q", [1.0, 0.7, 0.1])
def test_gce_values_and_gradients_match_float64_reference(q):
    got = lossjax.generalized_cross_entropy(LOGITS, LABELS, q=q, reduction="none")
    np.testing.assert_allclose(got, ref_gce(LOGITS, LABELS, q), rtol=1e-5)
    grad = jax.grad(lambda z: lossjax.generalized_cross_entropy(z, LABELS, q=q, reduction="sum"))(
        LOGITS
    )
    # d/dz (1 - p^q)/q = p^q (softmax - e_y).
    log_q = np_log_softmax(LOGITS)
    p_q = np.exp(q * log_q[np.arange(N), LABELS])
    expected = p_q[:, None] * (np.exp(log_q) - np.eye(K)[LABELS])
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def test_gce_small_q_tends_to_cross_entropy_and_q_one_is_one_minus_p():
    ce = lossjax.sparse_categorical_cross_entropy(LOGITS, LABELS, reduction="none")
    small = lossjax.generalized_cross_entropy(LOGITS, LABELS, q=1e-4, reduction="none")
    # (1 - e^{-q x}) / q = x (1 - q x / 2 + ...): relative gap q x / 2.
    np.testing.assert_allclose(small, ce, rtol=1e-3)
    assert np.all(small <= ce)
    p_y = np.exp(np_log_softmax(LOGITS)[np.arange(N), LABELS])
    np.testing.assert_allclose(
        lossjax.generalized_cross_entropy(LOGITS, LABELS, q=1.0, reduction="none"),
        1 - p_y,
        rtol=1e-5,
    )


def test_gce_at_extreme_logits_is_exact():
    for q in (0.7, 1e-3):
        got = lossjax.generalized_cross_entropy(EXTREME, EXTREME_LABELS, q=q, reduction="none")
        np.testing.assert_allclose(got, ref_gce(EXTREME, EXTREME_LABELS, q), rtol=1e-5, atol=1e-30)
        grad = jax.grad(
            lambda z, q=q: lossjax.generalized_cross_entropy(
                z, EXTREME_LABELS, q=q, reduction="sum"
            )
        )(EXTREME)
        assert np.isfinite(grad).all()


def test_gce_float64(x64):
    z = f64(LOGITS)
    got = lossjax.generalized_cross_entropy(z, LABELS, q=0.3, reduction="none")
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, ref_gce(z, LABELS, 0.3), rtol=1e-12)


# -- convex (generalized) KL divergence ------------------------------------------------------


def test_convex_kl_on_optax_test_cases():
    log_ps = np.array(
        [
            [-2.9957, -3.5066, -3.9120, -1.2040, -0.6931, -2.3026],
            [-1.6094, -1.6094, -1.6094, -2.3026, -1.8971, -1.8971],
        ],
        np.float32,
    )
    qs = np.array([[0.2, 0.2, 0.2, 0.1, 0.15, 0.15], [0.05, 0.03, 0.02, 0.3, 0.5, 0.0]], np.float32)
    got = lossjax.convex_kl_divergence(log_ps, qs, reduction="none")
    np.testing.assert_allclose(got, [0.88757247, 0.859308], atol=1e-4)
    np.testing.assert_allclose(got, optax_convex_kl(log_ps, qs), rtol=1e-6)


def test_convex_kl_values_and_gradients_match_float64_reference():
    log_p = (RNG.normal(size=(N, K)) * 2).astype(np.float32)
    t = RNG.uniform(0.0, 2.0, size=(N, K)).astype(np.float32)
    t[1, 2] = t[3, 0] = 0.0
    got = lossjax.convex_kl_divergence(log_p, t, reduction="none")
    np.testing.assert_allclose(got, ref_convex_kl(log_p, t), rtol=1e-5)
    np.testing.assert_allclose(got, optax_convex_kl(log_p, t), rtol=1e-5)
    grad_p, grad_t = jax.grad(
        lambda a, b: lossjax.convex_kl_divergence(a, b, reduction="sum"), argnums=(0, 1)
    )(log_p, t)
    np.testing.assert_allclose(grad_p, np.exp(f64(log_p)) - f64(t), rtol=1e-5, atol=1e-7)
    present = t > 0
    expected_t = np.where(present, np.log(np.where(present, f64(t), 1)) - log_p, 0.0)
    np.testing.assert_allclose(grad_t, expected_t, rtol=1e-5, atol=1e-6)
    # Zero when p = t; KL when both are distributions.
    np.testing.assert_allclose(
        lossjax.convex_kl_divergence(np.log(PROBS), PROBS, reduction="none"), 0.0, atol=1e-6
    )
    np.testing.assert_allclose(
        lossjax.convex_kl_divergence(jax.nn.log_softmax(LOGITS), PROBS, reduction="none"),
        lossjax.kl_divergence(LOGITS, PROBS, reduction="none"),
        rtol=1e-5,
        atol=1e-6,
    )


def test_convex_kl_where_and_axis():
    log_p = np.log(PROBS * 2).T.copy()
    t = PROBS.T.copy()
    log_p[:, 2] = np.nan
    where = np.arange(N) != 2
    got = lossjax.convex_kl_divergence(log_p, t, axis=0, where=where, reduction="none")
    expected = np.where(where, ref_convex_kl(log_p.T, t.T), 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    grad = jax.grad(lambda a: lossjax.convex_kl_divergence(a, t, axis=0, where=where))(log_p)
    assert np.isfinite(grad).all() and (grad[:, 2] == 0).all()
    # log p = -inf (p = 0) with t = 0 adds nothing and has a finite gradient.
    a = np.array([[-np.inf, 0.0]], np.float32)
    b = np.array([[0.0, 1.0]], np.float32)
    assert lossjax.convex_kl_divergence(a, b) == 0.0
    assert np.isfinite(jax.grad(lambda a: lossjax.convex_kl_divergence(a, b))(a)).all()


# -- class_mask: optax's per-class `where` ---------------------------------------------------


def test_class_mask_equals_optax_where_for_dense_losses():
    got = lossjax.categorical_cross_entropy(LOGITS, PROBS, class_mask=MASK, reduction="none")
    np.testing.assert_allclose(
        got, optax.losses.softmax_cross_entropy(LOGITS, PROBS, where=MASK), rtol=1e-5, atol=1e-6
    )
    assert got[4] == 0.0  # no kept class: removed (optax: 0)
    log_q = jax.nn.log_softmax(LOGITS, where=MASK)
    np.testing.assert_allclose(
        lossjax.kl_divergence(LOGITS, PROBS, class_mask=MASK, reduction="none"),
        optax.losses.kl_divergence(log_q, PROBS, where=MASK),
        rtol=1e-5,
        atol=1e-6,
    )
    # The mean leaves out the example with no kept class.
    np.testing.assert_allclose(
        lossjax.categorical_cross_entropy(LOGITS, PROBS, class_mask=MASK),
        got.sum() / (N - 1),
        rtol=1e-6,
    )


def test_class_mask_equals_optax_where_for_integer_labels():
    mask = MASK.copy()
    mask[4] = [1, 1, 0, 0, 1]  # (optax's gradient is NaN for a row with no kept class)
    labels = np.array([0, 1, 2, 3, 0, 4], np.int32)  # every label on a kept class
    got = lossjax.sparse_categorical_cross_entropy(
        LOGITS, labels, class_mask=mask, reduction="none"
    )
    expected = optax.losses.softmax_cross_entropy_with_integer_labels(LOGITS, labels, where=mask)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda z: lossjax.sparse_categorical_cross_entropy(z, labels, class_mask=mask))(
        LOGITS
    )
    optax_grad = jax.grad(
        lambda z: optax.losses.softmax_cross_entropy_with_integer_labels(
            z, labels, where=mask
        ).mean()
    )(LOGITS)
    np.testing.assert_allclose(grad, optax_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("size", [5, 10])
def test_class_mask_is_the_loss_on_the_kept_classes(size):
    """optax's own mask test: the masked loss equals the loss on the kept classes alone."""
    rng = np.random.default_rng(size)
    z = rng.normal(size=size).astype(np.float32)
    t = rng.dirichlet(np.ones(size)).astype(np.float32)
    m = rng.permutation(np.arange(size) % 2 == 0)
    y = int(np.flatnonzero(m)[-1])
    for loss, target, kept_target, kw in (
        (lossjax.categorical_cross_entropy, t, t[m], {"label_smoothing": 0.2}),
        (lossjax.kl_divergence, t, t[m], {}),
        (lossjax.categorical_focal_loss, t, t[m], {"label_smoothing": 0.1, "alpha": 0.5}),
        (lossjax.sparse_categorical_cross_entropy, y, int(m[:y].sum()), {"label_smoothing": 0.3}),
        (lossjax.categorical_focal_loss, y, int(m[:y].sum()), {"gamma": 1.5}),
    ):
        np.testing.assert_allclose(
            loss(z, target, class_mask=m, **kw), loss(z[m], kept_target, **kw), rtol=1e-5
        )
    np.testing.assert_allclose(
        lossjax.categorical_cross_entropy(z, t, class_mask=m),
        optax.losses.softmax_cross_entropy(z, t, where=m),
        rtol=1e-5,
    )


def test_optax_per_logit_mask_case():
    ys = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]], np.float32)
    ts = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
    mask = np.array([[1, 0, 0], [0, 0, 0]], bool)
    np.testing.assert_array_equal(
        lossjax.categorical_cross_entropy(ys, ts, class_mask=mask, reduction="none"),
        optax.losses.softmax_cross_entropy(ys, ts, where=mask),
    )
    # The label of row 0 is masked out: one-hot mass dropped, 0 (optax's integer
    # version returns logsumexp over the kept classes - z_y = 9 there).
    np.testing.assert_array_equal(
        lossjax.sparse_categorical_cross_entropy(
            ys, np.array([1, 0]), class_mask=mask, reduction="none"
        ),
        [0.0, 0.0],
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_masked_out_classes_never_leak_nan_or_inf(bad):
    z = LOGITS.copy()
    z[~MASK] = bad
    clean = np.where(MASK, LOGITS, -1e30).astype(np.float32)
    labels = LABELS
    losses = [
        lambda z: lossjax.categorical_cross_entropy(z, PROBS, class_mask=MASK, label_smoothing=0.1),
        lambda z: lossjax.sparse_categorical_cross_entropy(
            z, labels, class_mask=MASK, label_smoothing=0.1, class_weights=np.arange(1.0, 6.0)
        ),
        lambda z: lossjax.categorical_focal_loss(z, labels, class_mask=MASK, gamma=0.5),
        lambda z: lossjax.categorical_focal_loss(z, PROBS, class_mask=MASK, label_smoothing=0.1),
        lambda z: lossjax.kl_divergence(z, PROBS, class_mask=MASK),
    ]
    for loss in losses:
        value, grad = jax.value_and_grad(loss)(z)
        assert np.isfinite(value) and np.isfinite(grad).all()
        assert (grad[~MASK] == 0).all()
        np.testing.assert_allclose(value, loss(clean), rtol=1e-6)
    # Probabilities: NaN in a removed class is dropped too.
    p = PROBS.copy()
    p[~MASK] = np.nan
    value, grad = jax.value_and_grad(
        lambda p: lossjax.kl_divergence(p, PROBS, from_logits=False, class_mask=MASK)
    )(p)
    assert np.isfinite(value) and np.isfinite(grad).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "options",
    [{}, {"label_smoothing": 0.2}, {"class_weights": np.arange(1.0, 6.0), "label_smoothing": 0.1}],
    ids=lambda o: "-".join(o) or "plain",
)
def test_sparse_equals_categorical_on_one_hot_with_class_mask(options, reduction):
    """Labels on removed classes included (row 5): the one-hot mass is dropped in both."""

    def both(z):
        kw = dict(options, class_mask=MASK, reduction=reduction)
        return (
            lossjax.sparse_categorical_cross_entropy(z, LABELS, **kw),
            lossjax.categorical_cross_entropy(z, ONE_HOT, **kw),
        )

    sparse, dense = both(LOGITS)
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-7)
    g_sparse, g_dense = jax.jacobian(lambda z: [jnp.sum(v) for v in both(z)])(LOGITS)
    np.testing.assert_allclose(g_sparse, g_dense, rtol=1e-5, atol=1e-7)
    focal = lossjax.categorical_focal_loss(
        LOGITS, LABELS, gamma=0.0, class_mask=MASK, reduction=reduction
    )
    if not options:
        np.testing.assert_allclose(focal, sparse, rtol=1e-6, atol=1e-7)


def test_class_mask_broadcasting_rule():
    k_mask = np.array([True, False, True, True, True])
    full = np.broadcast_to(k_mask, (N, K))
    for mask in (k_mask, k_mask[None]):
        np.testing.assert_array_equal(
            lossjax.categorical_cross_entropy(LOGITS, PROBS, class_mask=mask, reduction="none"),
            lossjax.categorical_cross_entropy(LOGITS, PROBS, class_mask=full, reduction="none"),
        )
    # Another class axis: the mask broadcasts against the logits as given.
    np.testing.assert_allclose(
        lossjax.sparse_categorical_cross_entropy(
            LOGITS.T, LABELS, axis=0, class_mask=k_mask[:, None], reduction="none"
        ),
        lossjax.sparse_categorical_cross_entropy(
            LOGITS, LABELS, class_mask=k_mask, reduction="none"
        ),
        rtol=1e-6,
    )
    # A per-example [N, 1] mask keeps or removes whole examples.
    rows = (np.arange(N) % 2 == 0)[:, None]
    np.testing.assert_allclose(
        lossjax.kl_divergence(LOGITS, PROBS, class_mask=rows, reduction="none"),
        np.where(rows[:, 0], lossjax.kl_divergence(LOGITS, PROBS, reduction="none"), 0.0),
        rtol=1e-6,
    )


def test_class_mask_errors_name_it_and_both_shapes():
    losses = [
        (lossjax.categorical_cross_entropy, PROBS),
        (lossjax.sparse_categorical_cross_entropy, LABELS),
        (lossjax.categorical_focal_loss, LABELS),
        (lossjax.kl_divergence, PROBS),
    ]
    for loss, target in losses:
        with pytest.raises(
            ValueError, match=r"`class_mask`.*\(6, 5\).*class_mask.shape=\(4,\).*logits.shape"
        ):
            loss(LOGITS, target, class_mask=np.ones(4, bool))
        with pytest.raises(ValueError, match=r"class_mask.shape=\(5, 6\)"):
            loss(LOGITS, target, class_mask=np.ones((5, 6), bool))
        with pytest.raises(TypeError, match="`class_mask` must be a boolean array"):
            loss(LOGITS, target, class_mask=np.ones(K, np.float32))
    with pytest.raises(TypeError, match="`class_mask` must be a boolean array"):
        lossjax.get("cce", class_mask=np.ones(K))
    bound = lossjax.get("cce", class_mask=np.arange(K) != 0)
    np.testing.assert_allclose(
        bound(LOGITS, PROBS),
        lossjax.categorical_cross_entropy(LOGITS, PROBS, class_mask=np.arange(K) != 0),
    )


# -- several class axes (optax's tuple `axis`) ------------------------------------------------


@pytest.mark.parametrize("axis", [(1, 3), (3, 2), (2, 3), (-3, -1)])
def test_tuple_axis_matches_optax(axis):
    rng = np.random.default_rng(3)
    shape = (2, 3, 4, 5)
    z = rng.normal(size=shape).astype(np.float32)
    batch = tuple(d for d in range(4) if d not in [a % 4 for a in axis])
    num = int(np.prod([shape[a] for a in axis]))
    y = rng.integers(0, num, size=[shape[d] for d in batch]).astype(np.int32)
    got = lossjax.sparse_categorical_cross_entropy(z, y, axis=axis, reduction="none")
    expected = optax.losses.softmax_cross_entropy_with_integer_labels(z, y, axis=axis)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    grad = jax.grad(lambda z: lossjax.sparse_categorical_cross_entropy(z, y, axis=axis))(z)
    optax_grad = jax.grad(
        lambda z: optax.losses.softmax_cross_entropy_with_integer_labels(z, y, axis=axis).mean()
    )(z)
    np.testing.assert_allclose(grad, optax_grad, rtol=1e-5, atol=1e-8)
    # A class mask of the logits' shape goes with them (optax's where).
    mask = rng.uniform(size=shape) < 0.7
    flat_mask = np.moveaxis(mask, [a % 4 for a in axis], range(-len(axis), 0)).reshape(
        (*expected.shape, -1)
    )
    y = np.argmax(flat_mask, axis=-1).astype(np.int32)  # a kept class
    np.testing.assert_allclose(
        lossjax.sparse_categorical_cross_entropy(
            z, y, axis=axis, class_mask=mask, reduction="none"
        ),
        optax.losses.softmax_cross_entropy_with_integer_labels(z, y, axis=axis, where=mask),
        rtol=1e-5,
    )


def test_optax_ravel_multi_index_example():
    shape = (1, 2, 3, 4)
    z = jnp.arange(np.prod(shape), dtype=jnp.float32).reshape(shape)
    y = jnp.ravel_multi_index((jnp.array([[1, 2]]), jnp.array([[1, 3]])), shape[2:])
    np.testing.assert_allclose(
        lossjax.sparse_categorical_cross_entropy(z, y, axis=(2, 3), reduction="none"),
        [[6.4587, 0.4587]],
        atol=1e-4,
    )


def test_tuple_axis_errors():
    z = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"`labels`.*\(2,\).*labels.shape=\(3,\)"):
        lossjax.sparse_categorical_cross_entropy(z, np.zeros(3, np.int32), axis=(1, 2))
    with pytest.raises(ValueError, match="`axis` repeats"):
        lossjax.sparse_categorical_cross_entropy(z, np.zeros(2, np.int32), axis=(1, -2))
    with pytest.raises(ValueError, match="`axis` must be an int or a non-empty tuple"):
        lossjax.sparse_categorical_cross_entropy(z, np.zeros((2, 3, 4), np.int32), axis=())
    with pytest.raises(ValueError, match="`axis`=3 is out of range"):
        lossjax.sparse_categorical_cross_entropy(z, np.zeros(2, np.int32), axis=(1, 3))
    with pytest.raises(TypeError, match="`axis` must be an int or a tuple of ints"):
        lossjax.get("scce", axis=(1, 2.0))


# -- focal loss on target distributions -------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_dense_focal_matches_float64_reference(gamma):
    alpha = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    got = lossjax.categorical_focal_loss(
        LOGITS, PROBS, gamma=gamma, alpha=alpha, label_smoothing=0.1, reduction="none"
    )
    expected = ref_focal_dense(LOGITS, PROBS, gamma, alpha, 0.1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Probabilities in: the same formula with floored logs.
    q = np.exp(np_log_softmax(LOGITS)).astype(np.float32)
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(
            q, PROBS, gamma=gamma, from_logits=False, alpha=0.25, reduction="none"
        ),
        ref_focal_dense(LOGITS, PROBS, gamma, 0.25),
        rtol=1e-4,
    )


def test_dense_focal_on_one_hot_equals_the_label_version():
    for kw in ({"gamma": 2.0}, {"gamma": 0.5, "alpha": np.linspace(0.2, 1.0, K)}):

        def both(z, kw=kw):
            return (
                lossjax.categorical_focal_loss(z, LABELS, **kw),
                lossjax.categorical_focal_loss(z, ONE_HOT, **kw),
            )

        labels, dense = both(LOGITS)
        np.testing.assert_allclose(labels, dense, rtol=1e-6)
        g_labels, g_dense = jax.jacobian(both)(LOGITS)
        np.testing.assert_allclose(g_labels, g_dense, rtol=1e-5, atol=1e-8)
    # Label smoothing on labels is the distribution formula on the one-hot.
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(LOGITS, LABELS, label_smoothing=0.2, reduction="none"),
        ref_focal_dense(LOGITS, ONE_HOT, 2.0, 1.0, 0.2),
        rtol=1e-5,
    )
    # gamma = 0 and no alpha: the categorical cross-entropy.
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(LOGITS, PROBS, gamma=0.0, label_smoothing=0.1),
        lossjax.categorical_cross_entropy(LOGITS, PROBS, label_smoothing=0.1),
        rtol=1e-6,
    )


def test_dense_focal_at_extreme_logits_is_exact_and_finite():
    t = np.full((len(EXTREME), 4), 0.25, np.float32)
    t[:, 1] = 0.0
    t[:, 0] = 0.5
    for gamma in (0.0, 0.5, 2.0):
        got = lossjax.categorical_focal_loss(EXTREME, t, gamma=gamma, reduction="none")
        np.testing.assert_allclose(got, ref_focal_dense(EXTREME, t, gamma), rtol=1e-5)
        grad = jax.grad(
            lambda z, g=gamma: lossjax.categorical_focal_loss(z, t, gamma=g, reduction="sum")
        )(EXTREME)
        assert np.isfinite(grad).all()
    # A top class with 1 - q = 2e-9 keeps its relative precision.
    z = np.array([[20.0, 0.0, 0.0]], np.float32)
    t = np.array([[1.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(z, t, gamma=1.0), ref_focal_dense(z, t, 1.0), rtol=1e-5
    )


def test_dense_focal_float64(x64):
    z, t = f64(LOGITS), f64(PROBS)
    got = lossjax.categorical_focal_loss(z, t, gamma=1.5, reduction="none")
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, ref_focal_dense(z, t, 1.5), rtol=1e-11)


def test_dense_focal_errors():
    with pytest.raises(ValueError, match="`ignore_index` applies to integer labels"):
        lossjax.categorical_focal_loss(LOGITS, PROBS, ignore_index=-100)
    with pytest.raises(TypeError, match=r"`labels` must be an integer array.*\(6, 5\)"):
        lossjax.categorical_focal_loss(LOGITS, PROBS[:, :4])
    with pytest.raises(ValueError, match=r"`label_smoothing` must be in \[0.0, 1.0\]"):
        lossjax.categorical_focal_loss(LOGITS, LABELS, label_smoothing=2.0)


def test_new_loss_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"`q` must be in \(0.0, 1.0\], got 0.0"):
        lossjax.generalized_cross_entropy(LOGITS, LABELS, q=0.0)
    with pytest.raises(ValueError, match="`q`"):
        lossjax.generalized_cross_entropy(LOGITS, LABELS, q=1.5)
    with pytest.raises(TypeError, match="`labels` must be an integer array"):
        lossjax.generalized_cross_entropy(LOGITS, PROBS)
    with pytest.raises(ValueError, match="`epsilon` must be a real number, not NaN"):
        lossjax.poly_cross_entropy(LOGITS, PROBS, epsilon=float("nan"))
    with pytest.raises(ValueError, match=r"logits.shape=\(6, 5\) and targets.shape=\(6, 4\)"):
        lossjax.poly_cross_entropy(LOGITS, PROBS[:, :4])
    with pytest.raises(
        ValueError, match=r"log_predictions.shape=\(6, 5\) and targets.shape=\(6, 4\)"
    ):
        lossjax.convex_kl_divergence(LOGITS, PROBS[:, :4])
    with pytest.raises(TypeError, match="`log_predictions` must be a floating-point array"):
        lossjax.convex_kl_divergence(LABELS[:, None], PROBS[:, :1])
