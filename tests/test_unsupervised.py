"""Specification of the unsupervised losses: k-means, reconstruction, contrastive, InfoNCE."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.sharding import AxisType
from jax.sharding import PartitionSpec as P
from jax.test_util import check_grads
from sklearn.cluster import KMeans

import lossjax
from lossjax import _unsupervised

RNG = np.random.default_rng(0)


# -- float64 references written here ------------------------------------------------


def np_kmeans(x, c):
    x, c = np.asarray(x, np.float64), np.asarray(c, np.float64)
    return ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1).min(1)


def np_reconstruction(r, x, kind):
    r, x = np.asarray(r, np.float64), np.asarray(x, np.float64)
    if kind == "mse":
        e = (r - x) ** 2
    elif kind == "mae":
        e = np.abs(r - x)
    else:  # -x log sigmoid(r) - (1 - x) log(1 - sigmoid(r))
        e = x * np.logaddexp(0.0, -r) + (1 - x) * np.logaddexp(0.0, r)
    return e.reshape(e.shape[0], -1).mean(1)


def np_contrastive(a, b, s, margin):
    a, b, s = (np.asarray(v, np.float64) for v in (a, b, s))
    d = np.sqrt(((a - b) ** 2).sum(-1))
    return s * d**2 + (1 - s) * np.maximum(margin - d, 0) ** 2


def np_info_nce(q, k, tau, *, symmetric=False, normalize=True):
    q, k = np.asarray(q, np.float64), np.asarray(k, np.float64)
    if normalize:
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        k = k / np.linalg.norm(k, axis=1, keepdims=True)
    logits = q @ k.T / tau

    def ce(m):
        mx = m.max(1, keepdims=True)
        return (mx[:, 0] + np.log(np.exp(m - mx).sum(1))) - np.diag(m)

    return 0.5 * (ce(logits) + ce(logits.T)) if symmetric else ce(logits)


def np_simclr_ntxent(q, k, tau):
    """SimCLR's NT-Xent on two views: every other embedding is a negative."""
    z = np.concatenate([q, k]).astype(np.float64)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    sim = z @ z.T / tau
    n = len(q)
    np.fill_diagonal(sim, -np.inf)
    pos = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    lse = np.log(np.exp(sim).sum(1))
    return np.mean(lse - sim[np.arange(2 * n), pos])


def central_difference(f, x, h=1e-6):
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# -- k-means --------------------------------------------------------------------------

X_BLOBS = np.concatenate(
    [RNG.normal(loc=m, scale=0.6, size=(40, 3)) for m in ([0, 0, 0], [4, 4, 0], [0, 5, 5])]
).astype(np.float32)


def test_kmeans_sum_is_sklearn_inertia():
    km = KMeans(n_clusters=3, n_init=1, random_state=0).fit(X_BLOBS)
    centers = km.cluster_centers_.astype(np.float32)
    loss = jax.jit(lambda x, c: lossjax.kmeans_loss(x, c, reduction="sum"))(X_BLOBS, centers)
    assert loss.dtype == jnp.float32
    np.testing.assert_allclose(loss, km.inertia_, rtol=1e-5)
    w = RNG.uniform(0.5, 2.0, size=len(X_BLOBS))
    kmw = KMeans(n_clusters=3, n_init=1, random_state=0).fit(X_BLOBS, sample_weight=w)
    np.testing.assert_allclose(
        lossjax.kmeans_loss(
            X_BLOBS, kmw.cluster_centers_.astype(np.float32), weights=w, reduction="sum"
        ),
        kmw.inertia_,
        rtol=1e-5,
    )


@pytest.mark.parametrize("path", ["direct", "expansion"])
def test_kmeans_values_exact_near_centroids_far_from_origin(path, monkeypatch):
    # Points 1e-3 away from centroids at 1e3: ||x||^2 - 2x.c + ||c||^2 has no correct digit in
    # float32 here, the difference form is exact to rounding.
    if path == "expansion":
        monkeypatch.setattr(_unsupervised, "_DIRECT_ASSIGNMENT_MAX_ELEMENTS", 0)
    c = np.array([[1000.0, 1000.0], [1000.0, -1000.0], [-1000.0, 0.0]], np.float32)
    x = (c[RNG.integers(0, 3, size=20)] + RNG.normal(size=(20, 2)) * 1e-3).astype(np.float32)
    values = lossjax.kmeans_loss(x, c, reduction="none")
    np.testing.assert_allclose(values, np_kmeans(x, c), rtol=1e-6)
    assert np.all(np.asarray(values) >= 0)
    np.testing.assert_allclose(
        lossjax.kmeans_loss(X_BLOBS, X_BLOBS[:5], reduction="none"),
        np_kmeans(X_BLOBS, X_BLOBS[:5]),
        rtol=1e-6,
        atol=1e-12,
    )


@pytest.mark.usefixtures("x64")
def test_kmeans_gradient_is_the_lloyd_gradient():
    x, c = X_BLOBS.astype(np.float64), X_BLOBS[[0, 50, 100]].astype(np.float64) + 0.3
    assign = ((x[:, None] - c[None]) ** 2).sum(-1).argmin(1)
    gx, gc = jax.grad(lambda x, c: lossjax.kmeans_loss(x, c, reduction="sum"), (0, 1))(x, c)
    for k in range(3):
        members = x[assign == k]
        np.testing.assert_allclose(gc[k], 2 * len(members) * (c[k] - members.mean(0)), rtol=1e-12)
    np.testing.assert_allclose(gx, 2 * (x - c[assign]), rtol=1e-12)
    gmean = jax.grad(lambda c: lossjax.kmeans_loss(x, c))(c)
    np.testing.assert_allclose(gmean, gc / len(x), rtol=1e-12)


def test_kmeans_ties_go_to_the_lowest_index():
    x = jnp.array([[0.0, 0.0], [0.0, 3.0]])
    c = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0]])
    g = jax.grad(lambda c: lossjax.kmeans_loss(x, c, reduction="sum"))(c)
    np.testing.assert_array_equal(g, [[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])


def test_kmeans_errors_name_the_arguments():
    c = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match=r"`points` must have rank 2"):
        lossjax.kmeans_loss(jnp.zeros(3), c)
    with pytest.raises(ValueError, match=r"`centroids` must have rank 2"):
        lossjax.kmeans_loss(jnp.zeros((4, 3)), jnp.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=r"points.shape=\(4, 2\).*centroids.shape=\(2, 3\)"):
        lossjax.kmeans_loss(jnp.zeros((4, 2)), c)
    with pytest.raises(ValueError, match="`centroids` must hold at least one"):
        lossjax.kmeans_loss(jnp.zeros((4, 3)), jnp.zeros((0, 3)))
    with pytest.raises(TypeError, match="`centroids` must be a floating"):
        lossjax.kmeans_loss(jnp.zeros((4, 3)), jnp.zeros((2, 3), jnp.int32))


# -- reconstruction ---------------------------------------------------------------------

RECON = (RNG.normal(size=(5, 3, 4)) * 3).astype(np.float32)
TARGET01 = RNG.uniform(size=(5, 3, 4)).astype(np.float32)


@pytest.mark.parametrize("kind", ["mse", "mae", "bce"])
def test_reconstruction_values_and_gradients(kind):
    values = jax.jit(lambda r, x: lossjax.reconstruction_loss(r, x, kind=kind, reduction="none"))(
        RECON, TARGET01
    )
    assert values.shape == (5,) and values.dtype == jnp.float32
    np.testing.assert_allclose(values, np_reconstruction(RECON, TARGET01, kind), rtol=1e-6)
    r64, x64 = RECON.astype(np.float64), TARGET01.astype(np.float64)
    de = {"mse": 2 * (r64 - x64), "mae": np.sign(r64 - x64), "bce": 1 / (1 + np.exp(-r64)) - x64}
    grad = jax.grad(lambda r: lossjax.reconstruction_loss(r, TARGET01, kind=kind))(RECON)
    np.testing.assert_allclose(grad, de[kind] / RECON[0].size / len(RECON), rtol=1e-5, atol=1e-9)


def test_reconstruction_matches_optax_elementwise_losses():
    np.testing.assert_allclose(
        lossjax.reconstruction_loss(RECON, TARGET01, kind="bce", reduction="none"),
        optax.sigmoid_binary_cross_entropy(RECON, TARGET01).mean((1, 2)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        lossjax.reconstruction_loss(RECON, TARGET01, reduction="none"),
        optax.squared_error(RECON, TARGET01).mean((1, 2)),
        rtol=1e-6,
    )


def test_reconstruction_bce_at_extreme_logits():
    r = np.array([[-1e4, 1e4], [20.0, -20.0], [40.0, 0.0], [1e4, -1e4]], np.float32)
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.5], [0.0, 1.0]], np.float32)
    values = lossjax.reconstruction_loss(r, x, kind="bce", reduction="none")
    # softplus(-20) = 2.06e-9 survives: softplus(20) - 20 would be 0 in float32.
    np.testing.assert_allclose(values, np_reconstruction(r, x, "bce"), rtol=1e-6, atol=0)
    grad = jax.grad(lambda r: lossjax.reconstruction_loss(r, x, kind="bce", reduction="sum"))(r)
    # sigmoid(r) - x written without cancellation: sigmoid(40) - 1 = -4.2e-18, not 0.
    r64, x64 = r.astype(np.float64), x.astype(np.float64)
    expected = ((1 - x64) * scipy.special.expit(r64) - x64 * scipy.special.expit(-r64)) / 2
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-30)


def test_reconstruction_rank_one_is_one_scalar_per_example():
    r, x = np.array([1.0, 2.0, 3.0], np.float32), np.array([0.0, 2.0, 5.0], np.float32)
    np.testing.assert_allclose(
        lossjax.reconstruction_loss(r, x, reduction="none"), [1.0, 0.0, 4.0], rtol=1e-6
    )


def test_reconstruction_check_grads_order_two():
    r, x = RECON[:2, :2, :2].astype(np.float64), TARGET01[:2, :2, :2].astype(np.float64)
    with jax.enable_x64(True):
        for kind in ("mse", "bce"):
            f = jax.jit(lambda r, kind=kind: lossjax.reconstruction_loss(r, x, kind=kind))
            check_grads(f, (r,), order=2)


def test_reconstruction_errors_name_the_arguments():
    with pytest.raises(ValueError, match=r"`kind` must be one of .*got 'l1'"):
        lossjax.reconstruction_loss(RECON, TARGET01, kind="l1")
    with pytest.raises(ValueError, match="`reconstructions` must have rank >= 1"):
        lossjax.reconstruction_loss(jnp.float32(1.0), jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"`reconstructions` and `inputs`.*\(5, 3, 4\).*\(5, 12\)"):
        lossjax.reconstruction_loss(RECON, TARGET01.reshape(5, 12))
    with pytest.raises(ValueError, match="`where` must be a scalar or broadcastable"):
        lossjax.reconstruction_loss(RECON, TARGET01, where=np.ones((5, 3), bool))


# -- contrastive ------------------------------------------------------------------------

EMB_A = RNG.normal(size=(6, 3)).astype(np.float32)
EMB_B = (EMB_A + RNG.normal(size=(6, 3)) * 0.6).astype(np.float32)
SIMILAR = np.array([1, 0, 1, 0, 0, 1])


@pytest.mark.parametrize("similar", [SIMILAR, SIMILAR.astype(bool), SIMILAR.astype(np.float32)])
def test_contrastive_values_match_reference(similar):
    values = jax.jit(
        lambda a, b, s: lossjax.contrastive_loss(a, b, s, margin=1.5, reduction="none")
    )(EMB_A, EMB_B, similar)
    assert values.shape == (6,) and values.dtype == jnp.float32
    np.testing.assert_allclose(values, np_contrastive(EMB_A, EMB_B, SIMILAR, 1.5), rtol=1e-6)


def test_contrastive_gradient_matches_analytic():
    a, b = EMB_A.astype(np.float64), EMB_B.astype(np.float64)
    diff = a - b
    d = np.linalg.norm(diff, axis=1, keepdims=True)
    s = SIMILAR[:, None]
    expected = s * 2 * diff - (1 - s) * 2 * np.maximum(1.5 - d, 0) * diff / d
    grad = jax.grad(
        lambda a: lossjax.contrastive_loss(a, EMB_B, SIMILAR, margin=1.5, reduction="sum")
    )(EMB_A)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)
    g_margin = jax.grad(
        lambda m: lossjax.contrastive_loss(EMB_A, EMB_B, SIMILAR, margin=m, reduction="sum")
    )(1.5)
    np.testing.assert_allclose(g_margin, np.sum((1 - s) * 2 * np.maximum(1.5 - d, 0)), rtol=1e-5)


def test_contrastive_gradient_at_identical_embeddings_is_exactly_zero():
    a = np.array([[0.5, -1.0, 2.0], [0.5, -1.0, 2.0]], np.float32)
    similar = np.array([True, False])
    values = lossjax.contrastive_loss(a, a, similar, margin=2.0, reduction="none")
    np.testing.assert_array_equal(values, [0.0, 4.0])
    ga, gb = jax.grad(
        lambda a, b: lossjax.contrastive_loss(a, b, similar, margin=2.0, reduction="sum"), (0, 1)
    )(a, a)
    np.testing.assert_array_equal(ga, np.zeros_like(a))
    np.testing.assert_array_equal(gb, np.zeros_like(a))
    hess = jax.jit(
        jax.hessian(lambda a: lossjax.contrastive_loss(a, a[::-1], similar, reduction="sum"))
    )(a)
    assert np.all(np.isfinite(hess))


def test_contrastive_margin_sweep_is_one_vmap():
    margins = jnp.array([0.0, 0.5, 1.0, 3.0])
    swept = jax.vmap(lambda m: lossjax.contrastive_loss(EMB_A, EMB_B, SIMILAR, margin=m))(margins)
    expected = [np_contrastive(EMB_A, EMB_B, SIMILAR, m).mean() for m in (0.0, 0.5, 1.0, 3.0)]
    np.testing.assert_allclose(swept, expected, rtol=1e-6)


def test_contrastive_check_grads_order_two():
    with jax.enable_x64(True):
        a, b = EMB_A.astype(np.float64), EMB_B.astype(np.float64)
        f = jax.jit(lambda a, b: lossjax.contrastive_loss(a, b, SIMILAR, margin=10.0))
        check_grads(f, (a, b), order=2)


def test_contrastive_errors_name_the_arguments():
    with pytest.raises(ValueError, match=r"`margin` must be >= 0.0, got -1.0"):
        lossjax.contrastive_loss(EMB_A, EMB_B, SIMILAR, margin=-1.0)
    with pytest.raises(ValueError, match=r"`similar` must have the per-pair shape.*\(6, 1\)"):
        lossjax.contrastive_loss(EMB_A, EMB_B, SIMILAR[:, None])
    with pytest.raises(ValueError, match=r"`embeddings_a` and `embeddings_b`.*\(6, 3\).*\(6, 2\)"):
        lossjax.contrastive_loss(EMB_A, EMB_B[:, :2], SIMILAR)
    with pytest.raises(ValueError, match="`embeddings_a` must have rank >= 1"):
        lossjax.contrastive_loss(jnp.float32(1.0), jnp.float32(1.0), jnp.float32(1.0))


# -- InfoNCE ----------------------------------------------------------------------------

Q = RNG.normal(size=(5, 4)).astype(np.float32)
K = (Q + RNG.normal(size=(5, 4)) * 0.5).astype(np.float32)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
def test_info_nce_values_match_reference(symmetric, normalize):
    f = jax.jit(
        lambda q, k: lossjax.info_nce_loss(
            q, k, temperature=0.3, symmetric=symmetric, normalize=normalize, reduction="none"
        )
    )
    values = f(Q, K)
    assert values.shape == (5,) and values.dtype == jnp.float32
    ref = np_info_nce(Q, K, 0.3, symmetric=symmetric, normalize=normalize)
    # Losses of 1e-6 to 1e-5 are kept exact (log1p form, no cancellation against l_ii); what
    # remains is float32 rounding of logits of size ~20, which exp(l_ij - l_ii) carries over.
    np.testing.assert_allclose(values, ref, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("symmetric", [False, True])
def test_info_nce_gradients_match_finite_differences(symmetric):
    def np_loss(q, k, tau):
        return np_info_nce(q, k, tau, symmetric=symmetric).mean()

    q64, k64 = Q.astype(np.float64), K.astype(np.float64)
    with jax.enable_x64(True):
        gq, gk, gt = jax.jit(
            jax.grad(
                lambda q, k, t: lossjax.info_nce_loss(q, k, temperature=t, symmetric=symmetric),
                (0, 1, 2),
            )
        )(q64, k64, 0.3)
    np.testing.assert_allclose(
        gq, central_difference(lambda q: np_loss(q, k64, 0.3), q64), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        gk, central_difference(lambda k: np_loss(q64, k, 0.3), k64), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        gt, central_difference(lambda t: np_loss(q64, k64, t), 0.3), rtol=1e-6
    )
    gq32 = jax.jit(
        jax.grad(lambda q: lossjax.info_nce_loss(q, K, temperature=0.3, symmetric=symmetric))
    )(Q)
    np.testing.assert_allclose(gq32, gq, rtol=1e-5, atol=1e-7)


def test_info_nce_temperature_sweep_is_one_vmap():
    temps = jnp.array([0.05, 0.1, 1.0])
    swept = jax.vmap(lambda t: lossjax.info_nce_loss(Q, K, temperature=t))(temps)
    np.testing.assert_allclose(
        swept, [np_info_nce(Q, K, t).mean() for t in (0.05, 0.1, 1.0)], rtol=1e-6
    )


def test_info_nce_check_grads_order_two():
    with jax.enable_x64(True):
        q, k = Q[:3].astype(np.float64), K[:3].astype(np.float64)
        check_grads(
            jax.jit(lambda q, k, t: lossjax.info_nce_loss(q, k, temperature=t, symmetric=True)),
            (q, k, 0.5),
            order=2,
            modes=("rev",),  # forward mode is the same code; this keeps the file fast
        )


def test_info_nce_degenerate_and_extreme_embeddings():
    q = np.array([[0.0, 0.0], [1e30, -1e30], [1e-15, 2e-15], [3.0, 4.0]], np.float32)
    k = np.array([[1.0, 0.0], [1e-18, 0.0], [-1e30, 0.0], [0.0, 0.0]], np.float32)

    @jax.jit
    def values_and_grads(q, k):
        grads = jax.grad(lambda q, k: lossjax.info_nce_loss(q, k, symmetric=True), (0, 1))(q, k)
        return lossjax.info_nce_loss(q, k, reduction="none", symmetric=True), grads

    values, grads = values_and_grads(q, k)
    assert np.all(np.isfinite(values)) and all(np.all(np.isfinite(g)) for g in grads)
    # A zero vector normalises to zero; huge and tiny vectors (above the 1e-19 floor)
    # normalise like their direction.
    unit_q = np.array([[0.0, 0.0], [1.0, -1.0], [1.0, 2.0], [3.0, 4.0]])
    unit_q[1:] /= np.linalg.norm(unit_q[1:], axis=1, keepdims=True)
    unit_k = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(
        values, np_info_nce(unit_q, unit_k, 0.1, symmetric=True, normalize=False), rtol=1e-6
    )
    # The gradient of x / ||x|| grows like 1 / ||x||: for a 6e-8 float16 vector it would
    # overflow float16 without the 2**-7 norm floor.
    q16, k16 = np.array([[0.0, 6e-8], [1.0, 0.0]], np.float16), np.eye(2, dtype=np.float16)
    values16, grads16 = values_and_grads(q16, k16)
    assert values16.dtype == jnp.float32 and grads16[0].dtype == jnp.float16
    assert np.all(np.isfinite(values16)) and all(np.all(np.isfinite(g)) for g in grads16)


def test_info_nce_where_removes_examples_as_losses_and_as_negatives():
    keep = np.array([True, False, True, True, False])
    q, k = Q.copy(), K.copy()
    q[1], k[4] = np.nan, np.inf
    loss, (gq, gk) = jax.jit(
        jax.value_and_grad(
            lambda q, k: lossjax.info_nce_loss(q, k, where=keep, symmetric=True), (0, 1)
        )
    )(q, k)
    np.testing.assert_allclose(
        loss, np_info_nce(Q[keep], K[keep], 0.1, symmetric=True).mean(), rtol=1e-6
    )
    assert np.all(gq[~keep] == 0) and np.all(gk[~keep] == 0)
    assert np.all(np.isfinite(gq)) and np.all(np.isfinite(gk))
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0], np.float32)
    ref = np_info_nce(Q, K, 0.1)
    np.testing.assert_allclose(
        lossjax.info_nce_loss(Q, K, weights=w), (w * ref).sum() / w.sum(), rtol=1e-6
    )


def test_info_nce_differs_from_optax_ntxent_by_same_view_negatives():
    # optax's ntxent is SimCLR's NT-Xent: for two views [q; k] the other queries are negatives
    # too. Ours (CLIP/MoCo convention) only uses the keys, so the two agree only in structure.
    labels = jnp.concatenate([jnp.arange(5), jnp.arange(5)])
    optax_value = optax.ntxent(jnp.concatenate([Q, K]), labels, temperature=0.5)
    np.testing.assert_allclose(optax_value, np_simclr_ntxent(Q, K, 0.5), rtol=1e-5)
    ours = lossjax.info_nce_loss(Q, K, temperature=0.5, symmetric=True)
    assert not np.allclose(ours, optax_value, rtol=1e-3)


def test_info_nce_errors_name_the_arguments():
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match=r"`temperature` must be > 0.0"):
            lossjax.info_nce_loss(Q, K, temperature=bad)
    with pytest.raises(ValueError, match=r"`queries` must have rank 2"):
        lossjax.info_nce_loss(Q[0], K[0])
    with pytest.raises(ValueError, match=r"`queries` and `keys`.*\(5, 4\).*\(4, 4\)"):
        lossjax.info_nce_loss(Q, K[:4])
    with pytest.raises(TypeError, match="`keys` must be a floating"):
        lossjax.info_nce_loss(Q, K.astype(np.int32))


# -- distributed InfoNCE: shard_map over 8 virtual CPU devices ---------------------------

QG = RNG.normal(size=(16, 3)).astype(np.float32)
KG = (QG + RNG.normal(size=(16, 3)) * 0.7).astype(np.float32)
# Devices keep 2, 1, 0, 2, 1, 2, 2, 1 of their 2 examples.
KEEP_G = np.array([1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0], bool)


@pytest.mark.multi_device
@pytest.mark.parametrize("symmetric", [False, True])
def test_info_nce_shard_map_equals_single_device_on_the_global_batch(symmetric):
    mesh = jax.make_mesh((8,), ("data",), axis_types=(AxisType.Auto,))

    def local(q, k, keep, t):
        return lossjax.info_nce_loss(
            q, k, temperature=t, symmetric=symmetric, where=keep, axis_name="data"
        )

    sharded = jax.shard_map(
        local, mesh=mesh, in_specs=(P("data"), P("data"), P("data"), P()), out_specs=P()
    )

    def single(q, k, keep, t):
        return lossjax.info_nce_loss(q, k, temperature=t, symmetric=symmetric, where=keep)

    args = (QG, KG, KEEP_G, np.float32(0.2))
    value_and_grad = (0, 1, 3)
    v_s, g_s = jax.jit(jax.value_and_grad(sharded, value_and_grad))(*args)
    v_1, g_1 = jax.value_and_grad(single, value_and_grad)(*args)
    np.testing.assert_allclose(v_s, v_1, rtol=1e-6)
    np.testing.assert_allclose(
        v_1, np_info_nce(QG[KEEP_G], KG[KEEP_G], 0.2, symmetric=symmetric).mean(), rtol=1e-6
    )
    for a, b in zip(g_s, g_1, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.multi_device
def test_info_nce_shard_map_over_a_tuple_of_axis_names():
    mesh = jax.make_mesh((4, 2), ("a", "b"), axis_types=(AxisType.Auto,) * 2)
    sharded = jax.shard_map(
        lambda q, k: lossjax.info_nce_loss(
            q, k, symmetric=True, reduction="sum", axis_name=("a", "b")
        ),
        mesh=mesh,
        in_specs=(P(("a", "b")), P(("a", "b"))),
        out_specs=P(),
    )
    np.testing.assert_allclose(
        jax.jit(sharded)(QG, KG), np_info_nce(QG, KG, 0.1, symmetric=True).sum(), rtol=1e-6
    )


# -- extreme inputs ----------------------------------------------------------------------
# (NaN behind a mask, low precision and float64 are checked once for every loss in
# test_transformations.py.)

N_PROP = 4


def _call(name, x, y, **kw):
    if name == "kmeans_loss":
        return lossjax.kmeans_loss(x, y[:2], **kw)
    if name == "reconstruction_loss":
        return lossjax.reconstruction_loss(x, y, kind="bce", **kw)
    if name == "contrastive_loss":
        return lossjax.contrastive_loss(x, y, jnp.arange(N_PROP) % 2, **kw)
    return lossjax.info_nce_loss(x, y, symmetric=True, **kw)


NAMES = ["kmeans_loss", "reconstruction_loss", "contrastive_loss", "info_nce_loss"]
_VALUE_AND_GRAD = {
    n: jax.jit(jax.value_and_grad(lambda x, y, n=n: _call(n, x, y), (0, 1))) for n in NAMES
}

_extreme = st.one_of(
    st.floats(-1e3, 1e3),
    st.sampled_from([0.0, -0.0, 1e-30, -1e-30, 1e4, -1e4]),
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=12)
@given(
    data=st.lists(_extreme, min_size=2 * N_PROP * 3, max_size=2 * N_PROP * 3),
    dtype=st.sampled_from([jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64]),
)
def test_finite_values_and_gradients_at_extreme_inputs(name, data, dtype):
    """Zero, tiny and huge embeddings and points: finite values and gradients."""
    arr = np.array(data).reshape(2, N_PROP, 3)
    x, y = arr[0], arr[1]
    if name == "reconstruction_loss":
        y = np.abs(y) / (1 + np.abs(y))  # inputs in [0, 1]
    with jax.enable_x64(dtype == jnp.float64):
        x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
        value, (gx, gy) = _VALUE_AND_GRAD[name](x, y)
    assert np.isfinite(value)
    # (Cosine normalisation of a 1e-64 vector has a finite gradient of 1e64 in float64.)
    gx, gy = np.asarray(gx, np.float64), np.asarray(gy, np.float64)
    assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gy))


def test_info_nce_flags_must_be_bools():
    q = np.ones((2, 3), np.float32)
    for flag in ("symmetric", "normalize"):
        with pytest.raises(TypeError, match=rf"`{flag}` must be a Python bool, got 'no'"):
            lossjax.info_nce_loss(q, q, **{flag: "no"})
