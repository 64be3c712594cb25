"""NT-Xent, SigLIP, margin softmax and circle loss against float64 NumPy references and optax.

The references below are written from the papers' formulas, loop by loop, in
float64; gradients are compared with float64 central differences of those
references. The 8-device tests compare ``axis_name`` runs with the
single-device batch.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

import lossjax

# -- float64 references ----------------------------------------------------------------


def _unit(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _softplus(x):
    return np.logaddexp(0.0, x)


def ntxent_ref(x, labels, temperature):
    """Per-anchor mean over positives of -log(e^s_ip / (e^s_ip + sum_neg e^s_in)); NaN if none."""
    z = _unit(x)
    s = z @ z.T / temperature
    n = len(labels)
    out = np.full(n, np.nan)
    for i in range(n):
        negatives = [s[i, k] for k in range(n) if labels[k] != labels[i]]
        terms = []
        for p in range(n):
            if p != i and labels[p] == labels[i]:
                terms.append(-(s[i, p] - np.log(np.exp(s[i, p]) + np.sum(np.exp(negatives)))))
        if terms:
            out[i] = np.mean(terms)
    return out


def siglip_ref(a, b, temperature, bias):
    za, zb = _unit(a), _unit(b)
    n = len(za)
    out = np.zeros(n)
    for i in range(n):
        for j in range(n):
            z = 1.0 if i == j else -1.0
            logit = za[i] @ zb[j] / temperature + bias
            out[i] += -np.log(1.0 / (1.0 + np.exp(-z * logit)))
    return out


def margin_target_ref(c, m1, m2, m3):
    phi = m1 * math.acos(min(max(c, -1.0), 1.0)) + m2
    k = math.floor(phi / math.pi)
    return (-1.0) ** k * math.cos(phi) - 2 * k - m3


def margin_softmax_ref(cosines, labels, scale, m1=1.0, m2=0.5, m3=0.0):
    cosines = np.asarray(cosines, np.float64)
    out = []
    for row, y in zip(cosines, labels, strict=True):
        logits = scale * np.clip(row, -1, 1)
        logits[y] = scale * margin_target_ref(row[y], m1, m2, m3)
        out.append(np.log(np.sum(np.exp(logits - logits.max()))) + logits.max() - logits[y])
    return np.array(out)


def circle_ref(x, labels, gamma, margin):
    z = _unit(x)
    n = len(labels)
    out = np.full(n, np.nan)
    for i in range(n):
        pos, neg = [], []
        for j in range(n):
            s = z[i] @ z[j]
            d = max(1.0 - s, 0.0)
            if labels[j] == labels[i] and j != i:
                pos.append(-gamma * max(margin + d, 0.0) * (margin - d))
            elif labels[j] != labels[i]:
                neg.append(gamma * max(1.0 + margin - d, 0.0) * (1.0 - margin - d))
        if pos and neg:
            out[i] = _softplus(np.logaddexp.reduce(pos) + np.logaddexp.reduce(neg))
    return out


def _numeric_grad(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        g[idx] = (f(x + step) - f(x - step)) / (2 * eps)
    return g


def _nanmean(v):
    return float(np.nanmean(v))


RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 4)).astype(np.float32)
LABELS = np.array([0, 1, 0, 2, 1, 0], np.int32)  # anchor 3 has no positive

# -- NT-Xent ---------------------------------------------------------------------------


def test_ntxent_values_match_the_float64_reference():
    got = lossjax.ntxent_loss(X, LABELS, temperature=0.3, reduction="none")
    want = ntxent_ref(X, LABELS, 0.3)
    np.testing.assert_allclose(got, np.nan_to_num(want), rtol=1e-5, atol=1e-6)
    assert float(got[3]) == 0.0  # no positive: no value
    np.testing.assert_allclose(
        lossjax.ntxent_loss(X, LABELS, temperature=0.3), _nanmean(want), rtol=1e-5
    )


def test_ntxent_gradient_matches_float64_differences():
    grad = jax.grad(lambda x: lossjax.ntxent_loss(x, LABELS, temperature=0.3))(X)
    want = _numeric_grad(lambda x: _nanmean(ntxent_ref(x, LABELS, 0.3)), X)
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-5)


def test_ntxent_equals_optax_for_two_views_values_and_gradients():
    x = RNG.normal(size=(8, 5)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    for temperature in (0.07, 0.5):
        ours = jax.value_and_grad(
            lambda e, t=temperature: lossjax.ntxent_loss(e, labels, temperature=t)
        )
        theirs = jax.value_and_grad(lambda e, t=temperature: optax.losses.ntxent(e, labels, t))
        (v1, g1), (v2, g2) = ours(x), theirs(x)
        np.testing.assert_allclose(v1, v2, rtol=1e-5)
        np.testing.assert_allclose(g1, g2, rtol=1e-4, atol=1e-6)


def test_ntxent_weighted_by_positive_counts_equals_optax_for_uneven_groups():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    x = RNG.normal(size=(9, 3)).astype(np.float32)
    counts = np.array([np.sum(labels == y) - 1 for y in labels], np.float32)
    ours = jax.value_and_grad(
        lambda e: lossjax.ntxent_loss(e, labels, temperature=0.2, weights=counts)
    )(x)
    theirs = jax.value_and_grad(lambda e: optax.losses.ntxent(e, jnp.asarray(labels), 0.2))(x)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-4, atol=1e-6)


def test_ntxent_temperature_is_traceable_and_differentiable():
    f = lambda t: lossjax.ntxent_loss(X, LABELS, temperature=t)  # noqa: E731
    got = jax.jit(jax.grad(f))(0.3)
    want = (
        _nanmean(ntxent_ref(X, LABELS, 0.3 + 1e-6)) - _nanmean(ntxent_ref(X, LABELS, 0.3 - 1e-6))
    ) / 2e-6
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_ntxent_where_removes_the_embedding_as_anchor_and_candidate():
    where = np.array([True, True, False, True, True, True])
    keep = np.flatnonzero(where)
    got = lossjax.ntxent_loss(X, LABELS, temperature=0.3, where=where, reduction="none")
    want = ntxent_ref(X[keep], LABELS[keep], 0.3)
    np.testing.assert_allclose(np.asarray(got)[keep], np.nan_to_num(want), rtol=1e-5, atol=1e-6)
    poisoned = X.copy()
    poisoned[2] = np.nan
    g = jax.grad(lambda x: lossjax.ntxent_loss(x, LABELS, temperature=0.3, where=where))(poisoned)
    assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[2] == 0)


def test_ntxent_without_any_positive_is_zero_with_zero_gradient():
    labels = np.arange(6, dtype=np.int32)
    value, grad = jax.value_and_grad(lambda x: lossjax.ntxent_loss(x, labels))(X)
    assert value == 0.0 and np.all(np.asarray(grad) == 0)


# -- SigLIP ----------------------------------------------------------------------------

A = RNG.normal(size=(5, 4)).astype(np.float32)
BB = RNG.normal(size=(5, 4)).astype(np.float32)


def test_siglip_values_match_the_paper_and_mean_is_its_normalisation():
    got = lossjax.sigmoid_contrastive_loss(A, BB, temperature=0.1, bias=-10.0, reduction="none")
    want = siglip_ref(A, BB, 0.1, -10.0)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # The paper: -1/|B| sum_i sum_j log sigmoid(z_ij logit_ij).
    np.testing.assert_allclose(
        lossjax.sigmoid_contrastive_loss(A, BB), want.sum() / len(A), rtol=1e-5
    )


def test_siglip_gradients_in_embeddings_temperature_and_bias():
    def f(a, b, t, bias):
        return lossjax.sigmoid_contrastive_loss(a, b, temperature=t, bias=bias)

    ga, gb, gt, gbias = jax.jit(jax.grad(f, argnums=(0, 1, 2, 3)))(A, BB, 0.5, -2.0)
    ref = lambda a, b, t, bias: siglip_ref(a, b, t, bias).mean()  # noqa: E731
    np.testing.assert_allclose(
        ga, _numeric_grad(lambda a: ref(a, BB, 0.5, -2.0), A), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        gb, _numeric_grad(lambda b: ref(A, b, 0.5, -2.0), BB), rtol=1e-4, atol=1e-6
    )
    dt = (ref(A, BB, 0.5 + 1e-6, -2.0) - ref(A, BB, 0.5 - 1e-6, -2.0)) / 2e-6
    db = (ref(A, BB, 0.5, -2.0 + 1e-6) - ref(A, BB, 0.5, -2.0 - 1e-6)) / 2e-6
    np.testing.assert_allclose([gt, gbias], [dt, db], rtol=1e-4)


def test_siglip_learnt_log_scale_convention():
    """The paper's t = exp(t') is temperature = exp(-t')."""
    t_prime = math.log(10.0)
    got = lossjax.sigmoid_contrastive_loss(A, BB, temperature=jnp.exp(-t_prime), bias=-10.0)
    np.testing.assert_allclose(got, siglip_ref(A, BB, 0.1, -10.0).mean(), rtol=1e-5)


def test_siglip_without_normalisation_uses_the_raw_dot_product():
    za, zb = _unit(A).astype(np.float32), _unit(BB).astype(np.float32)
    np.testing.assert_allclose(
        lossjax.sigmoid_contrastive_loss(za, zb, normalize=False, reduction="none"),
        siglip_ref(A, BB, 0.1, -10.0),
        rtol=1e-5,
    )


def test_siglip_where_removes_the_pair_from_rows_and_columns():
    where = np.array([True, False, True, True, False])
    keep = np.flatnonzero(where)
    got = lossjax.sigmoid_contrastive_loss(A, BB, where=where, reduction="none")
    np.testing.assert_allclose(
        np.asarray(got)[keep], siglip_ref(A[keep], BB[keep], 0.1, -10.0), rtol=1e-5
    )


# -- margin softmax --------------------------------------------------------------------

COS = RNG.uniform(-0.99, 0.99, size=(6, 5)).astype(np.float32)
Y = np.array([0, 3, 4, 1, 1, 2], np.int32)
MARGINS = [
    {},  # ArcFace
    {"angular_margin": 0.0, "additive_margin": 0.35},  # CosFace
    {"angular_margin": 0.0, "multiplicative_margin": 4.0},  # SphereFace
    {"angular_margin": 0.3, "additive_margin": 0.2, "multiplicative_margin": 1.5},
    {"angular_margin": 0.0},  # the plain normalised softmax
]


def _ref_kwargs(kw):
    return {
        "m1": kw.get("multiplicative_margin", 1.0),
        "m2": kw.get("angular_margin", 0.5),
        "m3": kw.get("additive_margin", 0.0),
    }


@pytest.mark.parametrize(
    "kw", MARGINS, ids=["arcface", "cosface", "sphereface", "combined", "plain"]
)
def test_margin_softmax_values_and_gradients_match_float64(kw):
    scale = 8.0
    got = lossjax.margin_softmax_loss(COS, Y, scale=scale, reduction="none", **kw)
    want = margin_softmax_ref(COS, Y, scale, **_ref_kwargs(kw))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda c: lossjax.margin_softmax_loss(c, Y, scale=scale, **kw))(COS)
    num = _numeric_grad(lambda c: margin_softmax_ref(c, Y, scale, **_ref_kwargs(kw)).mean(), COS)
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-5)


def test_plain_margin_softmax_is_the_scaled_cross_entropy_of_optax():
    got = lossjax.margin_softmax_loss(COS, Y, scale=8.0, angular_margin=0.0, reduction="none")
    want = optax.losses.softmax_cross_entropy_with_integer_labels(8.0 * jnp.asarray(COS), Y)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_arcface_past_pi_keeps_decreasing_continuously():
    """Convention for theta + m2 > pi: psi continues cos monotonically (SphereFace's rule)."""
    from lossjax._contrastive import _margin_target

    c = jnp.linspace(-1.0, 1.0, 2001)
    t = np.asarray(_margin_target(c, 1.0, 0.5, 0.0), np.float64)
    assert np.all(np.diff(t) > 0)  # increasing in c = decreasing in theta
    assert np.max(np.abs(np.diff(t))) < 0.1  # no jump (InsightFace's fallback jumps by 0.24)
    # Value at theta = pi: psi(pi + 0.5) = cos(0.5) - 2.
    np.testing.assert_allclose(t[0], math.cos(0.5) - 2.0, rtol=1e-6)
    np.testing.assert_allclose(
        float(_margin_target(jnp.float32(-0.95), 1.0, 0.5, 0.0)),
        margin_target_ref(-0.95, 1.0, 0.5, 0.0),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "kw", MARGINS, ids=["arcface", "cosface", "sphereface", "combined", "plain"]
)
def test_margin_softmax_gradient_at_cosines_of_exactly_plus_minus_one_is_finite(kw):
    cos = np.array([[1.0, -1.0, 0.2], [-1.0, 1.0, 0.0], [1.0, 0.5, -1.0]], np.float32)
    y = np.array([0, 0, 2], np.int32)
    value, grad = jax.value_and_grad(lambda c: lossjax.margin_softmax_loss(c, y, **kw))(cos)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(
        value, margin_softmax_ref(cos, y, 64.0, **_ref_kwargs(kw)).mean(), rtol=1e-5
    )
    # Hessian too (second derivative of arccos is infinite at the endpoints as well).
    hess = jax.hessian(lambda c: lossjax.margin_softmax_loss(c, y, scale=4.0, **kw))(cos)
    assert np.all(np.isfinite(hess))


def test_margin_softmax_margins_and_scale_are_traceable_and_differentiable():
    f = lambda m: lossjax.margin_softmax_loss(COS, Y, scale=8.0, angular_margin=m)  # noqa: E731
    got = jax.jit(jax.grad(f))(0.3)
    ref = lambda m: margin_softmax_ref(COS, Y, 8.0, m2=m).mean()  # noqa: E731
    np.testing.assert_allclose(got, (ref(0.3 + 1e-6) - ref(0.3 - 1e-6)) / 2e-6, rtol=1e-4)


def test_margin_softmax_labels_out_of_range_are_removed_and_masked_nan_is_harmless():
    y = Y.copy()
    y[1] = 7
    got = lossjax.margin_softmax_loss(COS, y, reduction="none")
    assert float(got[1]) == 0.0
    poisoned = COS.copy()
    poisoned[2] = np.nan
    where = np.arange(6) != 2
    value, grad = jax.value_and_grad(lambda c: lossjax.margin_softmax_loss(c, Y, where=where))(
        poisoned
    )
    keep = np.flatnonzero(where)
    np.testing.assert_allclose(
        value, margin_softmax_ref(COS[keep], Y[keep], 64.0).mean(), rtol=1e-5
    )
    assert np.all(np.isfinite(grad)) and np.all(np.asarray(grad)[2] == 0)


# -- circle ----------------------------------------------------------------------------


def test_circle_values_and_gradients_match_float64():
    got = lossjax.circle_loss(X, LABELS, gamma=8.0, margin=0.25, reduction="none")
    want = circle_ref(X, LABELS, 8.0, 0.25)
    np.testing.assert_allclose(got, np.nan_to_num(want), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        lossjax.circle_loss(X, LABELS, gamma=8.0, margin=0.25), _nanmean(want), rtol=1e-5
    )
    grad = jax.grad(lambda x: lossjax.circle_loss(x, LABELS, gamma=8.0, margin=0.25))(X)
    num = _numeric_grad(lambda x: _nanmean(circle_ref(x, LABELS, 8.0, 0.25)), X)
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-5)


def test_circle_defaults_are_kerass_and_stay_finite():
    value, grad = jax.value_and_grad(lambda x: lossjax.circle_loss(x, LABELS))(X)
    np.testing.assert_allclose(value, _nanmean(circle_ref(X, LABELS, 80.0, 0.4)), rtol=1e-5)
    assert np.all(np.isfinite(grad))


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: lossjax.ntxent_loss(X, LABELS[:5]), ValueError, "`labels`"),
        (lambda: lossjax.ntxent_loss(X, LABELS.astype(np.float32)), TypeError, "`labels`"),
        (lambda: lossjax.ntxent_loss(X[0], LABELS[:1]), ValueError, "`embeddings`"),
        (lambda: lossjax.ntxent_loss(X, LABELS, temperature=0.0), ValueError, "`temperature`"),
        (lambda: lossjax.circle_loss(X.astype(np.int32), LABELS), TypeError, "`embeddings`"),
        (lambda: lossjax.circle_loss(X, LABELS, gamma=-1.0), ValueError, "`gamma`"),
        (lambda: lossjax.sigmoid_contrastive_loss(A, BB[:4]), ValueError, "`embeddings_a`"),
        (
            lambda: lossjax.sigmoid_contrastive_loss(A, BB, temperature=-1.0),
            ValueError,
            "`temperature`",
        ),
        (lambda: lossjax.sigmoid_contrastive_loss(A, BB, bias=[1.0, 2.0]), TypeError, "`bias`"),
        (lambda: lossjax.sigmoid_contrastive_loss(A, BB, normalize=1), TypeError, "`normalize`"),
        (lambda: lossjax.margin_softmax_loss(COS, Y[:3]), ValueError, "`labels`"),
        (lambda: lossjax.margin_softmax_loss(COS, Y.astype(np.float32)), TypeError, "`labels`"),
        (
            lambda: lossjax.margin_softmax_loss(COS, Y, multiplicative_margin=0.5),
            ValueError,
            "`multiplicative_margin`",
        ),
        (
            lambda: lossjax.margin_softmax_loss(COS, Y, angular_margin=-0.1),
            ValueError,
            "`angular_margin`",
        ),
        (lambda: lossjax.margin_softmax_loss(COS, Y, scale=0.0), ValueError, "`scale`"),
        (lambda: lossjax.ntxent_loss(X, LABELS, where=np.ones(6)), TypeError, "`where`"),
        (lambda: lossjax.ntxent_loss(X, LABELS, axis_name="batch"), NameError, "`axis_name`"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(call, error, match):
    with pytest.raises(error, match=f"^lossjax: .*{match}"):
        call()


def test_suggest_embedding_lists_the_new_losses():
    names = [s.name for s in lossjax.suggest("embedding")]
    assert {"ntxent_loss", "sigmoid_contrastive_loss", "margin_softmax_loss", "circle_loss"} <= set(
        names
    )
    assert lossjax.get("cosface").keywords == {"angular_margin": 0.0, "additive_margin": 0.35}
    assert lossjax.info("siglip").name == "sigmoid_contrastive_loss"


# -- 8 devices -------------------------------------------------------------------------


def _mesh():
    if jax.device_count() < 8:
        pytest.skip("needs 8 devices")
    return jax.make_mesh((8,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))


@pytest.mark.multi_device
def test_siglip_ring_on_8_devices_equals_the_single_device_batch():
    mesh = _mesh()
    rng = np.random.default_rng(3)
    a, b = (jnp.asarray(rng.normal(size=(24, 4)), jnp.float32) for _ in range(2))
    where = jnp.asarray(rng.uniform(size=24) < 0.8)
    weights = jnp.asarray(rng.uniform(0.5, 2.0, size=24), jnp.float32)

    def single(a, b, t, bias):
        return lossjax.sigmoid_contrastive_loss(
            a, b, temperature=t, bias=bias, where=where, weights=weights
        )

    def sharded(a, b, t, bias):
        def local(a, b, t, bias, m, w):
            return lossjax.sigmoid_contrastive_loss(
                a, b, temperature=t, bias=bias, where=m, weights=w, axis_name="data"
            )

        spec = P("data")
        return jax.shard_map(
            local, mesh=mesh, in_specs=(spec, spec, P(), P(), spec, spec), out_specs=P()
        )(a, b, t, bias, where, weights)

    args = (a, b, jnp.float32(0.3), jnp.float32(-2.0))
    want = jax.value_and_grad(single, argnums=(0, 1, 2, 3))(*args)
    got = jax.jit(jax.value_and_grad(sharded, argnums=(0, 1, 2, 3)))(*args)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6)


@pytest.mark.multi_device
@pytest.mark.parametrize("name", ["ntxent_loss", "circle_loss"])
def test_global_candidates_on_8_devices_equal_the_single_device_batch(name):
    mesh = _mesh()
    fn = getattr(lossjax, name)
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(32, 4)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 5, size=32), jnp.int32)
    where = jnp.asarray(rng.uniform(size=32) < 0.85)
    kw = {"temperature": 0.4} if name == "ntxent_loss" else {"gamma": 6.0, "margin": 0.3}

    def single(x):
        return fn(x, labels, where=where, **kw)

    def sharded(x):
        local = lambda x, y, m: fn(x, y, where=m, axis_name="data", **kw)  # noqa: E731
        return jax.shard_map(local, mesh=mesh, in_specs=(P("data"),) * 3, out_specs=P())(
            x, labels, where
        )

    want = jax.value_and_grad(single)(x)
    got = jax.jit(jax.value_and_grad(sharded))(x)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-7)
