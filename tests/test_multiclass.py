"""Specification of the multiclass losses: categorical and sparse cross-entropy,
softmax focal loss and KL divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special
import sklearn.metrics
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads

import lossjax

RNG = np.random.default_rng(0)
N, K = 6, 5
LOGITS = (RNG.normal(size=(N, K)) * 3).astype(np.float32)
PROBS = RNG.dirichlet(np.ones(K), size=N).astype(np.float32)
LABELS = RNG.integers(0, K, size=N).astype(np.int32)
ONE_HOT = np.eye(K, dtype=np.float32)[LABELS]
CLASS_WEIGHTS = np.array([0.5, 2.0, 1.0, 3.0, 0.25], np.float32)
WEIGHTS = RNG.uniform(0.2, 2.0, size=N).astype(np.float32)
# Confident rows (1 - p of the top class down to 1e-9, 0 and 1 - 1e-4) and
# +-1e4 rows, all with the label on the top class or far from it.
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
EXTREME_LABELS_TOP = np.array([0, 0, 2, 1, 3, 1], np.int32)
EXTREME_LABELS_FAR = np.array([1, 2, 0, 2, 1, 0], np.int32)


# -- float64 references written here --------------------------------------------------------


def f64(x):
    return np.asarray(x, np.float64)


def np_log_softmax(z):
    return scipy.special.log_softmax(f64(z), axis=-1)


def np_softmax(z):
    return scipy.special.softmax(f64(z), axis=-1)


def ref_cce_parts(log_q, t, eps=0.0, cw=None):
    """Per-example numerator -sum_k w_k t'_k log q_k and weight c_i = sum_k w_k t_k."""
    t = f64(t)
    k = t.shape[-1]
    w = np.ones(k) if cw is None else f64(cw)
    smoothed = t * (1 - eps) + eps / k
    numerator = -(w * smoothed * log_q).sum(-1)
    weight = np.ones(t.shape[:-1]) if cw is None else (w * t).sum(-1)
    return numerator, weight


def ref_mean(numerator, weight):
    return numerator.sum() / weight.sum()


def ref_log1m_softmax(z, y):
    """log(1 - softmax(z)_y) in float64, in log space: exact when 1 - p underflows."""
    z = f64(z)
    others = np.where(np.eye(z.shape[-1], dtype=bool)[y], -np.inf, z)
    return scipy.special.logsumexp(others, axis=-1) - scipy.special.logsumexp(z, axis=-1)


def ref_focal(z, y, gamma, alpha=None):
    log_p = np.take_along_axis(np_log_softmax(z), y[:, None], -1)[:, 0]
    a = 1.0 if alpha is None else (f64(alpha)[y] if np.ndim(alpha) else alpha)
    return -a * np.exp(gamma * ref_log1m_softmax(z, y)) * log_p


def ref_focal_grad(z, y, gamma, alpha=None):
    """d/dz of the focal loss: alpha [gamma (1-p)^(gamma-1) p log p - (1-p)^gamma] (e_y - q)."""
    q = np_softmax(z)
    one_hot = np.eye(z.shape[-1])[y]
    log_p = np.take_along_axis(np_log_softmax(z), y[:, None], -1)[:, 0]
    log1m = ref_log1m_softmax(z, y)
    one_minus = np.exp(log1m)
    # (1-p)^(gamma-1) log p = (1-p)^gamma * log p / (1-p); log p / (1-p) -> -1 as p -> 1.
    ratio = np.where(one_minus > 0, log_p / np.where(one_minus > 0, one_minus, 1), -1.0)
    scale = gamma * np.exp(log_p) * np.exp(gamma * log1m) * ratio - np.exp(gamma * log1m)
    a = 1.0 if alpha is None else (f64(alpha)[y] if np.ndim(alpha) else alpha)
    # e_y - q with the e_y entry as the sum of the other q's (no cancellation).
    diff = one_hot - q
    diff[np.arange(len(y)), y] = np.where(one_hot.astype(bool), 0.0, q).sum(-1)
    return (a * scale)[:, None] * diff


def ref_softmax_minus_one_hot(z, y):
    q = np_softmax(z)
    grad = q.copy()
    grad[np.arange(len(y)), y] = -(q.sum(-1) - q[np.arange(len(y)), y])
    return grad


def torch_style_sparse_mean(z, y, w, *, ignore_index, eps):
    """PyTorch's CrossEntropyLoss(weight=w, ignore_index, label_smoothing) mean, written out:
    (1 - eps) * sum w_y nll / sum w_y + eps / K * sum_i sum_k w_k (-log q_ik) / sum w_y."""
    keep = y != ignore_index
    log_q = np_log_softmax(z)[keep]
    yk = y[keep]
    w = f64(w)
    denominator = w[yk].sum()
    nll = -(w[yk] * log_q[np.arange(len(yk)), yk]).sum() / denominator
    smooth = -(w * log_q).sum() / denominator
    return (1 - eps) * nll + eps / z.shape[-1] * smooth


def torch_style_probability_mean(z, t, w, *, eps):
    """PyTorch's CrossEntropyLoss(weight=w) mean for probability targets: divides by N."""
    numerator, _ = ref_cce_parts(np_log_softmax(z), t, eps, w)
    return numerator.sum() / len(z)


def ref_kl(log_q, t):
    t = f64(t)
    present = t > 0
    log_t = np.log(np.where(present, t, 1))
    return np.where(present, t * (log_t - np.where(present, log_q, 0)), 0.0).sum(-1)


# -- categorical cross-entropy ---------------------------------------------------------------


def test_categorical_values_and_gradients_match_float64_reference():
    values = jax.jit(lambda z, t: lossjax.categorical_cross_entropy(z, t, reduction="none"))(
        LOGITS, PROBS
    )
    assert values.shape == (N,) and values.dtype == jnp.float32
    numerator, _ = ref_cce_parts(np_log_softmax(LOGITS), PROBS)
    np.testing.assert_allclose(values, numerator, rtol=1e-6)

    def total(z, t):
        return lossjax.categorical_cross_entropy(z, t, reduction="sum")

    grad_z, grad_t = jax.grad(total, argnums=(0, 1))(LOGITS, PROBS)
    t = f64(PROBS)
    np.testing.assert_allclose(
        grad_z, np_softmax(LOGITS) * t.sum(-1, keepdims=True) - t, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(grad_t, -np_log_softmax(LOGITS), rtol=1e-5)


def test_categorical_matches_optax_and_scikit_learn():
    np.testing.assert_allclose(
        lossjax.categorical_cross_entropy(LOGITS, PROBS, reduction="none"),
        optax.losses.softmax_cross_entropy(LOGITS, PROBS),
        rtol=1e-6,
    )
    # Probabilities in, scikit-learn's (weighted) log-loss out.
    q = np_softmax(LOGITS).astype(np.float32)
    q64 = f64(q) / f64(q).sum(-1, keepdims=True)  # sum exactly 1 for scikit-learn
    for w in (None, WEIGHTS):
        np.testing.assert_allclose(
            lossjax.categorical_cross_entropy(q, ONE_HOT, from_logits=False, weights=w),
            sklearn.metrics.log_loss(LABELS, q64, labels=range(K), sample_weight=w),
            rtol=1e-6,
        )


def test_probabilities_at_exactly_zero_and_one_are_finite_and_clamped():
    q = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [1e-45, 1.0, 0.0]], np.float32)
    t = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], np.float32)

    def f(q, t):
        return lossjax.categorical_cross_entropy(q, t, from_logits=False, reduction="none")

    values = f(q, t)
    # log 0 is clamped at -100 (PyTorch's BCELoss value), 0 * log 0 = 0.
    np.testing.assert_allclose(values, [100.0, np.log(2.0), 50.0], rtol=1e-6)
    grad_q, grad_t = jax.grad(lambda q, t: f(q, t).sum(), argnums=(0, 1))(q, t)
    assert np.isfinite(grad_q).all() and np.isfinite(grad_t).all()
    # Zero gradient where the log is clamped, -t/q elsewhere (-0 at q = 1, t = 0).
    np.testing.assert_allclose(grad_q, [[0, 0, 0], [0, -2, 0], [0, -0.5, 0]], rtol=1e-6)
    np.testing.assert_allclose(grad_t, [[100, 0, 100], [np.log(2), np.log(2), 100], [100, 0, 100]])


def test_excluded_classes_with_minus_inf_logits_match_optax_safe_cross_entropy():
    z = np.array([[1.0, -np.inf, 0.5], [-np.inf, 2.0, -np.inf]], np.float32)
    t = np.array([[0.3, 0.0, 0.7], [0.0, 1.0, 0.0]], np.float32)
    values = lossjax.categorical_cross_entropy(z, t, reduction="none")
    np.testing.assert_allclose(values, optax.losses.safe_softmax_cross_entropy(z, t), rtol=1e-6)
    sparse = lossjax.sparse_categorical_cross_entropy(z, np.array([2, 1]), reduction="none")
    np.testing.assert_allclose(sparse, -np_log_softmax(z)[[0, 1], [2, 1]], rtol=1e-6)
    for grad in (
        jax.grad(lambda z: lossjax.categorical_cross_entropy(z, t))(z),
        jax.grad(lambda t: lossjax.categorical_cross_entropy(z, t))(t),
        jax.grad(lambda z: lossjax.sparse_categorical_cross_entropy(z, np.array([2, 1])))(z),
    ):
        assert np.isfinite(grad).all()
    # With label smoothing the excluded class gets target mass: the loss is +inf.
    assert np.isinf(lossjax.categorical_cross_entropy(z, t, label_smoothing=0.1))


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_label_smoothing_mixes_targets_with_uniform(eps):
    got = lossjax.categorical_cross_entropy(LOGITS, PROBS, label_smoothing=eps, reduction="none")
    smoothed = f64(PROBS) * (1 - eps) + eps / K
    np.testing.assert_allclose(got, -(smoothed * np_log_softmax(LOGITS)).sum(-1), rtol=1e-6)
    # optax's smooth_labels is the same convention.
    np.testing.assert_allclose(
        got,
        optax.losses.softmax_cross_entropy(LOGITS, optax.losses.smooth_labels(PROBS, eps)),
        rtol=1e-6,
    )
    grad = jax.grad(lambda z: lossjax.categorical_cross_entropy(z, PROBS, label_smoothing=eps))(
        LOGITS
    )
    np.testing.assert_allclose(grad, (np_softmax(LOGITS) - smoothed) / N, rtol=1e-5, atol=1e-8)


def test_traced_label_smoothing_is_a_vmappable_sweep():
    eps = jnp.array([0.0, 0.05, 0.3])
    sweep = jax.vmap(
        lambda e: lossjax.sparse_categorical_cross_entropy(LOGITS, LABELS, label_smoothing=e)
    )(eps)
    loop = [
        lossjax.sparse_categorical_cross_entropy(LOGITS, LABELS, label_smoothing=float(e))
        for e in eps
    ]
    np.testing.assert_allclose(sweep, loop, rtol=1e-6)
    # d/d eps of the mean: mean over examples of (mean_k(-log q_k) - (-log q_y)).
    log_q = np_log_softmax(LOGITS)
    expected = (-log_q.mean(-1) + log_q[np.arange(N), LABELS]).mean()
    d_eps = jax.grad(
        lambda e: lossjax.sparse_categorical_cross_entropy(LOGITS, LABELS, label_smoothing=e)
    )(0.1)
    np.testing.assert_allclose(d_eps, expected, rtol=1e-5)


# -- class weights: one-hot agreement and the denominators -----------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_weighted_categorical_matches_reference(reduction):
    eps = 0.1
    got = lossjax.categorical_cross_entropy(
        LOGITS, PROBS, class_weights=CLASS_WEIGHTS, label_smoothing=eps, reduction=reduction
    )
    numerator, weight = ref_cce_parts(np_log_softmax(LOGITS), PROBS, eps, CLASS_WEIGHTS)
    expected = {"mean": ref_mean(numerator, weight), "sum": numerator.sum(), "none": numerator}
    np.testing.assert_allclose(got, expected[reduction], rtol=1e-6)


def test_class_weights_compared_with_pytorch_conventions():
    eps, ignore = 0.2, -100
    labels = LABELS.copy()
    labels[[1, 4]] = ignore
    # Class indices: exactly PyTorch's mean (class weights and ignore_index in
    # the numerator and the denominator, smoothing term divided by sum w_y too).
    got = lossjax.sparse_categorical_cross_entropy(
        LOGITS, labels, class_weights=CLASS_WEIGHTS, ignore_index=ignore, label_smoothing=eps
    )
    expected = torch_style_sparse_mean(LOGITS, labels, CLASS_WEIGHTS, ignore_index=ignore, eps=eps)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # Probability targets: PyTorch divides by N; lossjax's sum divided by N is that.
    total = lossjax.categorical_cross_entropy(
        LOGITS, PROBS, class_weights=CLASS_WEIGHTS, label_smoothing=eps, reduction="sum"
    )
    np.testing.assert_allclose(
        total / N,
        torch_style_probability_mean(LOGITS, PROBS, CLASS_WEIGHTS, eps=eps),
        rtol=1e-6,
    )
    # Unit class weights on normalised targets are the unweighted loss.
    np.testing.assert_allclose(
        lossjax.categorical_cross_entropy(LOGITS, PROBS, class_weights=np.ones(K)),
        lossjax.categorical_cross_entropy(LOGITS, PROBS),
        rtol=1e-6,
    )


def test_zero_class_weight_examples_contribute_nothing():
    w = CLASS_WEIGHTS.copy()
    w[LABELS[0]] = 0.0
    got = lossjax.sparse_categorical_cross_entropy(
        LOGITS, LABELS, class_weights=w, label_smoothing=0.1, reduction="none"
    )
    assert got[0] == 0.0
    grad = jax.grad(
        lambda z: lossjax.sparse_categorical_cross_entropy(
            z, LABELS, class_weights=w, label_smoothing=0.1
        )
    )(LOGITS)
    assert np.isfinite(grad).all() and (grad[0] == 0).all()


OPTIONS = [
    {},
    {"label_smoothing": 0.15},
    {"class_weights": CLASS_WEIGHTS},
    {"class_weights": CLASS_WEIGHTS, "label_smoothing": 0.3, "weights": WEIGHTS},
    {"from_logits": False},
    {"from_logits": False, "label_smoothing": 0.2, "class_weights": CLASS_WEIGHTS},
    {"where": np.arange(N) % 3 != 0, "class_weights": CLASS_WEIGHTS},
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o) or "plain")
def test_sparse_equals_categorical_on_one_hot(options, reduction):
    x = PROBS if options.get("from_logits") is False else LOGITS

    def both(x):
        kw = dict(options, reduction=reduction)
        return (
            lossjax.sparse_categorical_cross_entropy(x, LABELS, **kw),
            lossjax.categorical_cross_entropy(x, ONE_HOT, **kw),
        )

    sparse, dense = both(x)
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-7)
    g_sparse, g_dense = jax.jacobian(lambda x: [jnp.sum(v) for v in both(x)])(x)
    np.testing.assert_allclose(g_sparse, g_dense, rtol=1e-5, atol=1e-7)


# -- sparse categorical cross-entropy --------------------------------------------------------


def test_sparse_values_and_gradients_match_float64_reference_and_optax():
    values = jax.jit(lambda z, y: lossjax.sparse_categorical_cross_entropy(z, y, reduction="none"))(
        LOGITS, LABELS
    )
    expected = -np_log_softmax(LOGITS)[np.arange(N), LABELS]
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    np.testing.assert_allclose(
        values, optax.losses.softmax_cross_entropy_with_integer_labels(LOGITS, LABELS), rtol=1e-6
    )
    grad = jax.grad(lambda z: lossjax.sparse_categorical_cross_entropy(z, LABELS))(LOGITS)
    np.testing.assert_allclose(
        grad, ref_softmax_minus_one_hot(LOGITS, LABELS) / N, rtol=1e-5, atol=1e-9
    )


@pytest.mark.parametrize("labels", [EXTREME_LABELS_TOP, EXTREME_LABELS_FAR], ids=["top", "far"])
def test_cross_entropy_at_extreme_logits_is_exact(labels):
    """Logits +-1e4 and 1 - p = 2e-9: full relative precision in values and gradients
    (the usual log-sum-exp rounds log(1 + 2e-9) to 0 and its gradient q - 1 to 0)."""
    expected = -np_log_softmax(EXTREME)[np.arange(len(labels)), labels]
    for loss, t in (
        (lossjax.sparse_categorical_cross_entropy, labels),
        (lossjax.categorical_cross_entropy, np.eye(4, dtype=np.float32)[labels]),
    ):
        values = loss(EXTREME, t, reduction="none")
        np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-30)
        grad = jax.grad(lambda z, loss=loss, t=t: loss(z, t, reduction="sum"))(EXTREME)
        np.testing.assert_allclose(
            grad, ref_softmax_minus_one_hot(EXTREME, labels), rtol=1e-5, atol=1e-30
        )
    if labels is EXTREME_LABELS_TOP:
        assert 1e-9 < float(values[1]) < 3e-9  # optax gives 0 here


def test_ignore_index_and_out_of_range_labels_are_removed_even_with_nan_logits():
    labels = np.array([0, -100, 3, 5, -1, 4], np.int32)  # K = 5: 5 and -1 are out of range
    z = LOGITS.copy()
    z[1] = np.nan
    z[3] = np.inf
    z[4] = np.nan
    kept = np.array([True, False, True, False, False, True])
    for kw in ({}, {"class_weights": CLASS_WEIGHTS, "label_smoothing": 0.1}):
        got = lossjax.sparse_categorical_cross_entropy(z, labels, ignore_index=-100, **kw)
        expected = lossjax.sparse_categorical_cross_entropy(LOGITS[kept], labels[kept], **kw)
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        none = lossjax.sparse_categorical_cross_entropy(
            z, labels, ignore_index=-100, reduction="none", **kw
        )
        assert (none[~kept] == 0).all()
        grad = jax.grad(
            lambda z, kw=kw: lossjax.sparse_categorical_cross_entropy(
                z, labels, ignore_index=-100, **kw
            )
        )(z)
        assert np.isfinite(grad).all() and (grad[~kept] == 0).all()
    # ignore_index may be a valid class: that class's examples are removed.
    np.testing.assert_allclose(
        lossjax.sparse_categorical_cross_entropy(LOGITS, LABELS, ignore_index=int(LABELS[0])),
        lossjax.sparse_categorical_cross_entropy(LOGITS, LABELS, where=LABELS != LABELS[0]),
        rtol=1e-6,
    )
    # Small unsigned label dtypes accept a negative ignore_index.
    np.testing.assert_allclose(
        lossjax.sparse_categorical_cross_entropy(
            LOGITS, LABELS.astype(np.uint8), ignore_index=-100
        ),
        lossjax.sparse_categorical_cross_entropy(LOGITS, LABELS),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "loss, second",
    [
        (lossjax.categorical_cross_entropy, PROBS),
        (lossjax.kl_divergence, PROBS),
        (lossjax.sparse_categorical_cross_entropy, LABELS),
        (lossjax.categorical_focal_loss, LABELS),
    ],
    ids=["categorical", "kl", "sparse", "focal"],
)
def test_class_axis_can_be_any_axis(loss, second):
    # [N, K] -> [2, K, 3] with the class axis in the middle.
    z = LOGITS.reshape(2, 3, K).transpose(0, 2, 1)
    s = second.reshape(2, 3, K).transpose(0, 2, 1) if second.ndim == 2 else second.reshape(2, 3)
    got = loss(z, s, axis=1, reduction="none")
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, loss(LOGITS, second, reduction="none").reshape(2, 3), rtol=1e-6)
    np.testing.assert_allclose(loss(z, s, axis=-2), loss(LOGITS, second), rtol=1e-6)


GAMMAS = [0.0, 0.5, 1.0, 2.0, 5.0]


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize(
    "alpha",
    [None, 0.25, np.array([0.1, 0.9, 0.5, 0.3, 1.0], np.float32)],
    ids=["none", "scalar", "vector"],
)
def test_focal_values_and_gradients_match_float64_reference(gamma, alpha):
    values = lossjax.categorical_focal_loss(
        LOGITS, LABELS, gamma=gamma, alpha=alpha, reduction="none"
    )
    np.testing.assert_allclose(values, ref_focal(LOGITS, LABELS, gamma, alpha), rtol=1e-6)
    grad = jax.grad(
        lambda z: lossjax.categorical_focal_loss(
            z, LABELS, gamma=gamma, alpha=alpha, reduction="sum"
        )
    )(LOGITS)
    np.testing.assert_allclose(
        grad, ref_focal_grad(LOGITS, LABELS, gamma, alpha), rtol=1e-5, atol=1e-7
    )


@jax.jit
def _focal_extreme(z, labels, gamma):
    """Per-example values, gradient and Hessian of the summed loss, for one gamma."""

    def total(z):
        return lossjax.categorical_focal_loss(z, labels, gamma=gamma, reduction="sum")

    values = lossjax.categorical_focal_loss(z, labels, gamma=gamma, reduction="none")
    return values, jax.grad(total)(z), jax.hessian(total)(z)


@pytest.mark.parametrize("labels", [EXTREME_LABELS_TOP, EXTREME_LABELS_FAR], ids=["top", "far"])
def test_focal_at_extreme_logits_is_finite_and_exact(labels):
    for gamma in GAMMAS:
        values, grad, hessian = _focal_extreme(EXTREME, labels, gamma)
        np.testing.assert_allclose(values, ref_focal(EXTREME, labels, gamma), rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(
            grad, ref_focal_grad(EXTREME, labels, gamma), rtol=1e-5, atol=1e-30
        )
        assert np.isfinite(hessian).all()


def test_focal_with_gamma_zero_is_sparse_cross_entropy():
    kw = {"ignore_index": 1, "weights": WEIGHTS}
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(LOGITS, LABELS, gamma=0.0, **kw),
        lossjax.sparse_categorical_cross_entropy(LOGITS, LABELS, **kw),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(PROBS, LABELS, gamma=0.0, from_logits=False),
        lossjax.sparse_categorical_cross_entropy(PROBS, LABELS, from_logits=False),
        rtol=1e-6,
    )


def test_focal_on_probabilities_matches_reference_and_is_finite_at_zero_and_one():
    gamma = 2.0
    p_y = f64(PROBS)[np.arange(N), LABELS]
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(
            PROBS, LABELS, gamma=gamma, from_logits=False, reduction="none"
        ),
        -((1 - p_y) ** gamma) * np.log(p_y),
        rtol=1e-6,
    )
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], np.float32)
    for g in (0.0, 0.5, 2.0):

        def f(q, g=g):
            return lossjax.categorical_focal_loss(
                q, np.array([0, 0, 1]), gamma=g, from_logits=False
            )

        assert np.isfinite(f(q)) and np.isfinite(jax.grad(f)(q)).all()


def test_focal_gamma_is_a_differentiable_vmappable_sweep():
    gammas = jnp.array([0.0, 0.5, 1.0, 2.0, 5.0])
    sweep = jax.vmap(lambda g: lossjax.categorical_focal_loss(LOGITS, LABELS, gamma=g))(gammas)
    expected = [ref_focal(LOGITS, LABELS, float(g)).mean() for g in gammas]
    np.testing.assert_allclose(sweep, expected, rtol=1e-6)
    # d/d gamma of -(1-p)^gamma log p is -log(1-p) (1-p)^gamma log p.
    log_p = np_log_softmax(LOGITS)[np.arange(N), LABELS]
    log1m = ref_log1m_softmax(LOGITS, LABELS)
    d_gamma = jax.vmap(jax.grad(lambda g: lossjax.categorical_focal_loss(LOGITS, LABELS, gamma=g)))(
        gammas
    )
    expected = [(-log1m * np.exp(float(g) * log1m) * log_p).mean() for g in gammas]
    np.testing.assert_allclose(d_gamma, expected, rtol=1e-5)


def test_focal_hessian_matches_differences_of_the_analytic_gradient():
    z = LOGITS[:2]
    y = LABELS[:2]
    hessian = jax.jit(
        jax.hessian(lambda z: lossjax.categorical_focal_loss(z, y, gamma=1.5, reduction="sum"))
    )(z)
    h = 1e-6
    expected = np.zeros((2, K, 2, K))
    for i in range(2):
        for k in range(K):
            step = np.zeros((2, K))
            step[i, k] = h
            expected[:, :, i, k] = (
                ref_focal_grad(f64(z) + step, y, 1.5) - ref_focal_grad(f64(z) - step, y, 1.5)
            ) / (2 * h)
    np.testing.assert_allclose(hessian, expected, rtol=1e-4, atol=1e-6)


# -- KL divergence ---------------------------------------------------------------------------


def test_kl_matches_float64_reference_and_optax():
    log_q = jax.nn.log_softmax(LOGITS)
    values = lossjax.kl_divergence(LOGITS, PROBS, reduction="none")
    np.testing.assert_allclose(values, ref_kl(np_log_softmax(LOGITS), PROBS), rtol=1e-5)
    np.testing.assert_allclose(values, optax.losses.kl_divergence(log_q, PROBS), rtol=1e-5)
    log_t = np.log(PROBS)
    np.testing.assert_allclose(
        lossjax.kl_divergence(LOGITS, log_t, log_targets=True, reduction="none"),
        optax.losses.kl_divergence_with_log_targets(log_q, log_t),
        rtol=1e-5,
    )
    q = np_softmax(LOGITS).astype(np.float32)
    np.testing.assert_allclose(
        lossjax.kl_divergence(q, PROBS, from_logits=False, reduction="none"),
        ref_kl(np.log(f64(q)), PROBS),
        rtol=1e-5,
    )
    # KL = cross-entropy - entropy.
    entropy = -(f64(PROBS) * np.log(f64(PROBS))).sum(-1)
    np.testing.assert_allclose(
        values,
        lossjax.categorical_cross_entropy(LOGITS, PROBS, reduction="none") - entropy,
        rtol=1e-5,
    )


def test_kl_at_zero_targets_has_finite_exact_gradients():
    t = PROBS.copy()
    t[:, 0] = 0.0
    t[2] = [0, 0, 1, 0, 0]
    t = t / t.sum(-1, keepdims=True)
    z = LOGITS.copy()
    z[3, 0] = -np.inf  # an excluded class where the target is 0

    def total(z, t):
        return lossjax.kl_divergence(z, t, reduction="sum")

    log_q = np_log_softmax(z)
    np.testing.assert_allclose(total(z, t), ref_kl(log_q, t).sum(), rtol=1e-6)
    grad_z, grad_t = jax.grad(total, argnums=(0, 1))(z, t)
    t64 = f64(t)
    np.testing.assert_allclose(
        grad_z, np_softmax(z) * t64.sum(-1, keepdims=True) - t64, rtol=1e-5, atol=1e-7
    )
    # d/dt = log t + 1 - log q where t > 0; the -inf at t = 0 is returned as 0.
    present = t64 > 0
    expected_t = np.where(
        present, np.log(np.where(present, t64, 1)) + 1 - np.where(present, log_q, 0), 0
    )
    np.testing.assert_allclose(grad_t, expected_t, rtol=1e-5, atol=1e-7)
    # optax's kl_divergence gives NaN gradients here.
    assert np.isnan(
        jax.grad(lambda t: optax.losses.kl_divergence(jax.nn.log_softmax(LOGITS), t).sum())(t)
    ).any()
    # Log targets: log t = -inf is a zero target, with the exact gradient 0.
    with np.errstate(divide="ignore"):
        log_t = np.log(t)
    grad_z, grad_lt = jax.grad(
        lambda z, lt: lossjax.kl_divergence(z, lt, log_targets=True, reduction="sum"),
        argnums=(0, 1),
    )(z, log_t)
    np.testing.assert_allclose(
        grad_lt,
        t64 * (np.log(np.where(present, t64, 1)) + 1 - np.where(present, log_q, 0)),
        rtol=1e-5,
        atol=1e-7,
    )
    assert np.isfinite(grad_z).all()


def test_kl_at_extreme_logits():
    t = np.full((len(EXTREME), 4), 0.25, np.float32)
    t[:, 1] = 0.0
    t[:, 0] = 0.5
    np.testing.assert_allclose(
        lossjax.kl_divergence(EXTREME, t, reduction="none"),
        ref_kl(np_log_softmax(EXTREME), t),
        rtol=1e-6,
    )
    grad = jax.grad(lambda z: lossjax.kl_divergence(z, t, reduction="sum"))(EXTREME)
    np.testing.assert_allclose(grad, np_softmax(EXTREME) - t, rtol=1e-5, atol=1e-30)


# -- transformations -------------------------------------------------------------------------


def test_check_grads_order_two(x64):
    """Options the catalogue-wide check in test_transformations.py does not exercise,
    summed into one function so that it compiles once. Forward mode to second order
    here; reverse mode is checked against analytic gradients above and by the
    Hessian (forward-over-reverse) tests."""
    z, t, y = f64(LOGITS[:3, :4]) / 3, f64(PROBS[:3, :4]), LABELS[:3] % 4
    cw = f64(CLASS_WEIGHTS[:4])

    def f(z, t, gamma):
        return (
            lossjax.categorical_cross_entropy(z, t, label_smoothing=0.1, class_weights=cw)
            + lossjax.kl_divergence(z, jnp.log(t), log_targets=True)
            + lossjax.kl_divergence(t[::-1], t, from_logits=False)
            + lossjax.sparse_categorical_cross_entropy(z, y, label_smoothing=0.2, class_weights=cw)
            + lossjax.categorical_focal_loss(z, y, gamma=gamma, alpha=0.25)
        )

    check_grads(jax.jit(f), (z, t, 1.5), order=2, modes=("fwd",), eps=1e-6, atol=1e-5, rtol=1e-5)


# -- errors ----------------------------------------------------------------------------------


def test_errors_name_the_argument():
    cce, scce = lossjax.categorical_cross_entropy, lossjax.sparse_categorical_cross_entropy
    focal, kl = lossjax.categorical_focal_loss, lossjax.kl_divergence
    with pytest.raises(ValueError, match=r"`label_smoothing` must be in \[0.0, 1.0\], got 1.5"):
        cce(LOGITS, PROBS, label_smoothing=1.5)
    with pytest.raises(ValueError, match="`label_smoothing`"):
        scce(LOGITS, LABELS, label_smoothing=-0.1)
    with pytest.raises(ValueError, match=r"`gamma` must be >= 0.0"):
        focal(LOGITS, LABELS, gamma=-1.0)
    with pytest.raises(ValueError, match="`alpha` must be in"):
        focal(LOGITS, LABELS, alpha=1.5)
    with pytest.raises(ValueError, match=r"`alpha`.*5 classes.*alpha.shape=\(3,\)"):
        focal(LOGITS, LABELS, alpha=np.ones(3) / 2)
    for f, s in ((cce, PROBS), (scce, LABELS)):
        with pytest.raises(
            ValueError, match=r"`class_weights`.*5 classes.*class_weights.shape=\(4,\)"
        ):
            f(LOGITS, s, class_weights=np.ones(4))
        with pytest.raises(ValueError, match=r"class_weights.shape=\(1, 5\)"):
            f(LOGITS, s, class_weights=np.ones((1, K)))
        with pytest.raises(ValueError, match=r"`class_weights` must be >= 0.0"):
            f(LOGITS, s, class_weights=-np.ones(K))
        with pytest.raises(ValueError, match=r"`weights`.*\(6,\)"):
            f(LOGITS, s, class_weights=np.ones(K), weights=np.ones((N, 1)))
        with pytest.raises(TypeError, match="`from_logits`"):
            f(LOGITS, s, from_logits=1)
    for f in (cce, kl):
        with pytest.raises(ValueError, match=r"logits.shape=\(6, 5\) and targets.shape=\(6, 4\)"):
            f(LOGITS, PROBS[:, :4])
    with pytest.raises(TypeError, match="`log_targets`"):
        kl(LOGITS, PROBS, log_targets="yes")
    for f in (scce, focal):
        with pytest.raises(
            ValueError, match=r"`labels`.*\(6,\).*labels.shape=\(6, 1\).*logits.shape=\(6, 5\)"
        ):
            f(LOGITS, LABELS[:, None])
        with pytest.raises(TypeError, match="`labels` must be an integer array"):
            f(LOGITS, LABELS.astype(np.float32))
        with pytest.raises(TypeError, match="`ignore_index` must be a Python int"):
            f(LOGITS, LABELS, ignore_index=1.0)
        with pytest.raises(TypeError, match="`logits` must be a floating-point array"):
            f(LABELS[:, None] * np.ones((1, K), np.int32), LABELS)
    with pytest.raises(ValueError, match="at least 2 classes"):
        focal(LOGITS[:, :1], np.zeros(N, np.int32))
    with pytest.raises(ValueError, match="`logits` needs a class axis"):
        cce(np.float32(1.0), np.float32(1.0))
    with pytest.raises(ValueError, match="`axis`=2 is out of range"):
        scce(LOGITS, LABELS, axis=2)
    with pytest.raises(ValueError, match="`reduction`"):
        kl(LOGITS, PROBS, reduction="batchmean")
    with pytest.raises(ValueError, match="`logits` has no classes"):
        cce(np.zeros((3, 0), np.float32), np.zeros((3, 0), np.float32))


# -- properties over extreme inputs and dtypes -----------------------------------------------

DTYPES = ["float16", "bfloat16", "float32", "float64"]
EXTREMES = [-1e4, -100.0, -20.0, -1.0, 0.0, 1e-3, 1.0, 20.0, 100.0, 1e4]


def _value_and_grads(name, z, s):
    kw = {"reduction": "mean"}
    if name == "categorical":
        return jax.value_and_grad(
            lambda z, s: lossjax.categorical_cross_entropy(z, s, label_smoothing=0.1, **kw), (0, 1)
        )(z, s)
    if name == "kl":
        return jax.value_and_grad(lambda z, s: lossjax.kl_divergence(z, s, **kw), (0, 1))(z, s)
    y = jnp.argmax(s, axis=-1)
    if name == "sparse":
        f = lambda z: lossjax.sparse_categorical_cross_entropy(  # noqa: E731
            z, y, label_smoothing=0.1, class_weights=jnp.array([1.0, 2.0, 0.5]), **kw
        )
    else:
        f = lambda z: lossjax.categorical_focal_loss(z, y, gamma=0.5, **kw)  # noqa: E731
    return jax.value_and_grad(f)(z)


_JITTED = {
    name: jax.jit(lambda z, s, name=name: _value_and_grads(name, z, s))
    for name in ("categorical", "kl", "sparse", "focal")
}


@given(
    logits=st.lists(st.sampled_from(EXTREMES), min_size=6, max_size=6),
    targets=st.lists(st.sampled_from([0.0, 0.0, 1e-4, 0.3, 1.0]), min_size=6, max_size=6),
    dtype=st.sampled_from(DTYPES),
    name=st.sampled_from(["categorical", "kl", "sparse", "focal"]),
)
def test_property_finite_values_and_gradients_at_extreme_logits(logits, targets, dtype, name):
    t = np.asarray(targets, np.float64).reshape(2, 3)
    t[:, 0] += 0.1  # at least one non-zero target per example
    t /= t.sum(-1, keepdims=True)
    with jax.enable_x64(dtype == "float64"):
        z = jnp.asarray(np.asarray(logits).reshape(2, 3), dtype)
        value, grads = _JITTED[name](z, jnp.asarray(t, dtype))
        assert value.dtype == (jnp.float64 if dtype == "float64" else jnp.float32)
        for g in jax.tree.leaves(grads):
            assert g.dtype == jnp.dtype(dtype) and np.isfinite(np.asarray(g, np.float64)).all()
    assert np.isfinite(float(value))


# -- kernel paths: fast path and its fallback, ties, excluded classes ------------------------

# Rows where a logit lies more than 88 above the label's: the label-shifted
# sum overflows there, and the batch is recomputed shifted by the row max.
FAR = np.array(
    [
        [0.0, 200.0, -5.0, 1.0],
        [3.0, -6.0, 1.5, 12.0],
        [-1e4, 1e4, 1e4 - 1.0, -3.0],
        [50.0, -50.0, 49.0, 0.0],
    ],
    np.float32,
)
FAR_LABELS = np.array([0, 3, 0, 1], np.int32)


def test_sparse_fallback_when_a_logit_is_far_above_the_label():
    expected = -np_log_softmax(FAR)[np.arange(len(FAR)), FAR_LABELS]

    def total(z, y):
        return lossjax.sparse_categorical_cross_entropy(z, y, reduction="sum")

    value = jax.jit(lambda z, y: lossjax.sparse_categorical_cross_entropy(z, y, reduction="none"))
    np.testing.assert_allclose(value(FAR, FAR_LABELS), expected, rtol=1e-6)
    # A batch without such a row takes the fast path: same values.
    np.testing.assert_allclose(value(FAR[1:2], FAR_LABELS[1:2]), expected[1:2], rtol=1e-6)
    v, grad = jax.jit(jax.value_and_grad(total))(FAR, FAR_LABELS)
    np.testing.assert_allclose(v, expected.sum(), rtol=1e-6)
    np.testing.assert_allclose(
        grad, ref_softmax_minus_one_hot(FAR, FAR_LABELS), rtol=1e-5, atol=1e-30
    )
    # Under vmap the two paths are selected per batch element.
    batched = jax.vmap(lambda z, y: total(z[None], y[None]))(FAR, FAR_LABELS)
    np.testing.assert_allclose(batched, expected, rtol=1e-6)
    grads = jax.vmap(jax.grad(lambda z, y: total(z[None], y[None])))(FAR, FAR_LABELS)
    np.testing.assert_allclose(
        grads, ref_softmax_minus_one_hot(FAR, FAR_LABELS), rtol=1e-5, atol=1e-30
    )


# Ties at the row maximum (the top class's 1 is not unique there).
TIES = np.array(
    [
        [3.0, 3.0, -20.0, -30.0],
        [0.0, 0.0, 0.0, 0.0],
        [5.0, 5.0, 5.0, -1e4],
        [1e4, -1e4, 1e4, 1e4 - 25.0],
    ],
    np.float32,
)
TIES_LABELS = np.array([0, 2, 1, 2], np.int32)


@pytest.mark.parametrize("targets", ["one_hot", "soft"])
def test_ties_at_the_maximum_match_reference(targets):
    t = np.eye(4, dtype=np.float32)[TIES_LABELS] if targets == "one_hot" else PROBS[:4, :4]
    t = t / t.sum(-1, keepdims=True)
    log_q, q = np_log_softmax(TIES), np_softmax(TIES)
    t64 = f64(t)
    for loss, expected in (
        (lossjax.categorical_cross_entropy, -(t64 * log_q).sum(-1)),
        (lossjax.kl_divergence, ref_kl(log_q, t)),
    ):
        np.testing.assert_allclose(loss(TIES, t, reduction="none"), expected, rtol=1e-6)
        grad = jax.grad(lambda z, loss=loss: loss(z, t, reduction="sum"))(TIES)
        np.testing.assert_allclose(
            grad, q * t64.sum(-1, keepdims=True) - t64, rtol=1e-5, atol=1e-30
        )
    if targets == "one_hot":
        sparse = lossjax.sparse_categorical_cross_entropy(TIES, TIES_LABELS, reduction="none")
        np.testing.assert_allclose(sparse, -(t64 * log_q).sum(-1), rtol=1e-6)


def test_dense_hessian_at_ties_matches_differences_of_the_analytic_gradient():
    z = TIES[:2]
    t = PROBS[:2, :4] / PROBS[:2, :4].sum(-1, keepdims=True)

    def grad_ref(z):
        q = np_softmax(z)
        return q * f64(t).sum(-1, keepdims=True) - f64(t)

    hessian = jax.jit(
        jax.hessian(lambda z: lossjax.categorical_cross_entropy(z, t, reduction="sum"))
    )(z)
    h = 1e-6
    expected = np.zeros((2, 4, 2, 4))
    for i in range(2):
        for k in range(4):
            step = np.zeros((2, 4))
            step[i, k] = h
            expected[:, :, i, k] = (grad_ref(f64(z) + step) - grad_ref(f64(z) - step)) / (2 * h)
    np.testing.assert_allclose(hessian, expected, rtol=1e-4, atol=1e-6)


def test_excluded_classes_keep_the_fast_path_results_elsewhere():
    """A -inf logit with zero target in one row (summed again without the
    term) leaves the other rows' values and all gradients unchanged."""
    z = LOGITS.copy()
    t = PROBS.copy()
    z[2, 1] = -np.inf
    t[2, 1] = 0.0
    t[2] /= t[2].sum()
    expected = -(f64(t) * np.where(t > 0, np_log_softmax(z), 0)).sum(-1)
    got = lossjax.categorical_cross_entropy(z, t, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(
        lossjax.kl_divergence(z, t, reduction="none"), ref_kl(np_log_softmax(z), t), rtol=1e-5
    )
    grad = jax.grad(lambda z: lossjax.categorical_cross_entropy(z, t, reduction="sum"))(z)
    q = np_softmax(z)
    np.testing.assert_allclose(
        grad, q * f64(t).sum(-1, keepdims=True) - f64(t), rtol=1e-5, atol=1e-7
    )
