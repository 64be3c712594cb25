"""Specification of the margin losses (lossjax/_margin.py): squared hinge, perceptron,
sparsemax (binary and multiclass), multiclass hinge and the Fenchel-Young factory.

Every value is checked against a float64 NumPy reference written here and against
optax where optax has the loss; every gradient against its analytic float64 form,
at random scores and at scores of +-1e4.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special
from jax.test_util import check_grads

import lossjax

RNG = np.random.default_rng(0)
N, K = 6, 5
SCORES = (RNG.normal(size=(N, K)) * 2).astype(np.float32)
LABELS = RNG.integers(0, K, size=N).astype(np.int32)
CLASS_WEIGHTS = np.array([0.5, 2.0, 1.0, 3.0, 0.25], np.float32)
WEIGHTS = RNG.uniform(0.2, 2.0, size=N).astype(np.float32)
# Rows at +-1e4: the label on top, far below the top, tied, and close calls.
EXTREME = np.array(
    [
        [1e4, -1e4, 0.0, 5.0],
        [1e4, 1e4 - 0.5, -1e4, 1e4 - 3.0],
        [-1e4, -1e4, -1e4, -1e4 + 0.25],
        [1e4, -1e4 + 1.0, -1e4, 0.0],
        [3.0, -6.0, 1.5, 12.0],
        [-1e4, 1e4, 1e4 - 1.0, -3.0],
    ],
    np.float32,
)
EXTREME_LABELS = np.array([0, 1, 3, 2, 1, 0], np.int32)
# Binary scores from the far tails to 0; labels 0/1.
BINARY = np.array(
    [-1e4, -1e3, -30.0, -2.0, -1.0, -0.75, -0.1, 0.0, 0.1, 0.75, 1.0, 2.0, 30.0, 1e3, 1e4],
    np.float32,
)
BZ, BY = (a.ravel() for a in np.meshgrid(BINARY, np.array([0.0, 1.0], np.float32), indexing="ij"))


def f64(x):
    return np.asarray(x, np.float64)


def assert_close(actual, desired, rtol=1e-6, atol=0.0):
    np.testing.assert_allclose(np.float64(actual), desired, rtol=rtol, atol=max(atol, 1e-37))


@functools.cache
def _jitted(loss, options):
    return jax.jit(lambda *args: loss(*args, **dict(options)))


def none(loss, *args, **kwargs):
    """``loss(*args, reduction="none", **kwargs)`` under ``jax.jit``."""
    kwargs = {**kwargs, "reduction": "none"}
    try:
        jitted = _jitted(loss, tuple(sorted(kwargs.items())))
    except TypeError:  # an array option: not hashable
        jitted = jax.jit(lambda *a: loss(*a, **kwargs))
    return jitted(*args)


def grad_of(loss, **kwargs):
    return jax.jit(jax.grad(lambda *a: loss(*a, reduction="sum", **kwargs)))


# -- float64 references written here --------------------------------------------------------


def signs(y):
    return np.where(f64(y) > 0, 1.0, -1.0)


def ref_squared_hinge(s, y, m=1.0):
    return np.maximum(0.0, m - signs(y) * f64(s)) ** 2


def ref_sparse_plus(x):
    x = f64(x)
    return np.where(x <= -1, 0.0, np.where(x >= 1, x, (x + 1) ** 2 / 4))


def ref_sparsemax(z):
    """Projection onto the simplex, row by row (Martins and Astudillo, Algorithm 1)."""
    z = f64(z)
    out = np.empty_like(z)
    for i, row in enumerate(z.reshape(-1, z.shape[-1])):
        ordered = np.sort(row)[::-1]
        cumulative = np.cumsum(ordered)
        k = np.arange(1, row.size + 1)
        k_star = k[1 + k * ordered > cumulative][-1]
        tau = (cumulative[k_star - 1] - 1) / k_star
        out.reshape(-1, z.shape[-1])[i] = np.maximum(row - tau, 0.0)
    return out


def ref_multiclass_sparsemax(z, y):
    """-z_y + 1/2 sum_{j in S} (z_j^2 - tau^2) + 1/2, written in the shifted scores."""
    z = f64(z)
    z = z - z.max(-1, keepdims=True)  # the loss is shift invariant
    p = ref_sparsemax(z)
    tau = np.max(z - p, axis=-1, where=p > 0, initial=-np.inf)  # z_j - p_j = tau on S
    quadratic = np.sum(np.where(p > 0, z**2 - tau[:, None] ** 2, 0.0), axis=-1)
    return -np.take_along_axis(z, y[:, None], -1)[:, 0] + 0.5 * quadratic + 0.5


def onehot(y, k):
    return np.eye(k)[y]


def ref_crammer_singer(s, y, m=1.0, p=1):
    s = f64(s)
    d = s - np.take_along_axis(s, y[:, None], -1)
    d = np.where(onehot(y, s.shape[-1]) > 0, -np.inf, d)
    return np.maximum(0.0, m + d.max(-1)) ** p


def ref_crammer_singer_grad(s, y, m=1.0, p=1):
    s = f64(s)
    d = s - np.take_along_axis(s, y[:, None], -1)
    d = np.where(onehot(y, s.shape[-1]) > 0, -np.inf, d)
    top = d == d.max(-1, keepdims=True)  # tied top classes share the gradient equally
    active = m + d.max(-1)
    scale = np.where(active > 0, 1.0 if p == 1 else 2 * active, 0.0)[:, None]
    return scale * (top / top.sum(-1, keepdims=True) - onehot(y, s.shape[-1]))


def ref_weston_watkins(s, y, m=1.0, p=1, w=None):
    """PyTorch MultiMarginLoss, reduction="none": sum_{k != y} w_y max(0, m - s_y + s_k)^p / K."""
    s = f64(s)
    n, k = s.shape
    out = np.zeros(n)
    for i in range(n):
        for c in range(k):
            if c != y[i]:
                out[i] += max(0.0, m - s[i, y[i]] + s[i, c]) ** p
        out[i] *= 1.0 if w is None else w[y[i]]
    return out / k


def ref_weston_watkins_grad(s, y, m=1.0, p=1):
    s = f64(s)
    n, k = s.shape
    grad = np.zeros_like(s)
    for i in range(n):
        for c in range(k):
            active = m - s[i, y[i]] + s[i, c]
            if c != y[i] and active > 0:
                g = 1.0 if p == 1 else 2 * active
                grad[i, c] += g / k
                grad[i, y[i]] -= g / k
    return grad


# -- squared_hinge_loss ---------------------------------------------------------------------


@pytest.mark.parametrize("margin", [1.0, 0.0, 2.5])
def test_squared_hinge_values_and_gradients_match_float64_reference(margin):
    out = none(lossjax.squared_hinge_loss, BZ, BY, margin=margin)
    assert_close(out, ref_squared_hinge(BZ, BY, margin))
    grad = grad_of(lossjax.squared_hinge_loss, margin=margin)(BZ, BY)
    expected = -2 * signs(BY) * np.maximum(0.0, margin - signs(BY) * f64(BZ))
    assert_close(grad, expected)


def test_squared_hinge_accepts_zero_one_and_plus_minus_one_labels_alike():
    zero_one = (RNG.uniform(size=12) < 0.5).astype(np.float32)
    s = RNG.normal(size=12).astype(np.float32)
    for y in (2 * zero_one - 1, zero_one.astype(np.int32), zero_one.astype(bool)):
        np.testing.assert_array_equal(
            none(lossjax.squared_hinge_loss, s, y), none(lossjax.squared_hinge_loss, s, zero_one)
        )
    # Squared hinge = hinge squared, through the one shared sign mapping.
    np.testing.assert_allclose(
        none(lossjax.squared_hinge_loss, s, zero_one),
        np.square(np.float64(none(lossjax.hinge_loss, s, zero_one))),
        rtol=1e-6,
    )


def test_squared_hinge_float64_and_traced_margin(x64):
    s, y = f64(BZ[2:-2]), f64(BY[2:-2])
    out = none(lossjax.squared_hinge_loss, s, y, margin=1.5)
    assert out.dtype == jnp.float64
    np.testing.assert_allclose(out, ref_squared_hinge(s, y, 1.5), rtol=1e-14)
    swept = jax.vmap(lambda m: lossjax.squared_hinge_loss(s, y, margin=m))(jnp.array([0.5, 1.5]))
    np.testing.assert_allclose(
        swept, [ref_squared_hinge(s, y, m).mean() for m in (0.5, 1.5)], rtol=1e-14
    )
    dm = jax.grad(lambda m: lossjax.squared_hinge_loss(s, y, margin=m, reduction="sum"))(1.5)
    np.testing.assert_allclose(dm, np.sum(2 * np.maximum(0.0, 1.5 - signs(y) * s)), rtol=1e-14)


# -- perceptron_loss ------------------------------------------------------------------------


def test_perceptron_matches_optax_and_reference():
    y = 2 * BY - 1
    out = none(lossjax.perceptron_loss, BZ, y)
    assert_close(out, np.maximum(0.0, -signs(y) * f64(BZ)))
    np.testing.assert_array_equal(out, optax.losses.perceptron_loss(BZ, y))
    np.testing.assert_array_equal(out, none(lossjax.perceptron_loss, BZ, BY))  # 0/1 labels
    grad = grad_of(lossjax.perceptron_loss)(BZ, y)
    np.testing.assert_array_equal(grad, np.where(-signs(y) * BZ > 0, -signs(y), 0.0))
    optax_grad = jax.grad(lambda z: optax.losses.perceptron_loss(z, y).sum())(BZ)
    nonzero = BZ != 0  # optax's subgradient at the kink differs (jnp.maximum splits it)
    np.testing.assert_array_equal(grad[nonzero], optax_grad[nonzero])
    assert np.all(grad[~nonzero] == 0)


# -- sparsemax_loss -------------------------------------------------------------------------


def test_sparsemax_matches_optax_and_reference():
    out = none(lossjax.sparsemax_loss, BZ, BY)
    assert_close(out, ref_sparse_plus(-signs(BY) * f64(BZ)))
    np.testing.assert_array_equal(out, optax.losses.sparsemax_loss(BZ, BY.astype(np.int32)))
    # Labels -1/+1: optax counts -1 as positive, lossjax as negative; y > 0 agrees.
    pm = 2 * BY - 1
    np.testing.assert_array_equal(none(lossjax.sparsemax_loss, BZ, pm), out)
    np.testing.assert_array_equal(out, optax.losses.sparsemax_loss(BZ, pm > 0))
    grad = grad_of(lossjax.sparsemax_loss)(BZ, BY)
    x = -signs(BY) * f64(BZ)
    assert_close(grad, -signs(BY) * np.clip((x + 1) / 2, 0.0, 1.0))
    optax_grad = jax.grad(lambda z: optax.losses.sparsemax_loss(z, BY.astype(np.int32)).sum())(BZ)
    np.testing.assert_array_equal(grad, optax_grad)


def test_binary_sparsemax_is_the_multiclass_loss_on_two_scores():
    z = RNG.normal(scale=1.5, size=10).astype(np.float32)
    y = (RNG.uniform(size=10) < 0.5).astype(np.int32)
    two = np.stack([z, np.zeros_like(z)], axis=-1)
    np.testing.assert_allclose(
        none(lossjax.sparsemax_loss, z, y),
        none(lossjax.multiclass_sparsemax_loss, two, 1 - y),
        rtol=1e-6,
        atol=1e-7,
    )


# -- multiclass_perceptron_loss -------------------------------------------------------------


@pytest.mark.parametrize("scores, labels", [(SCORES, LABELS), (EXTREME, EXTREME_LABELS)])
def test_multiclass_perceptron_matches_reference_and_optax(scores, labels):
    out = none(lossjax.multiclass_perceptron_loss, scores, labels)
    expected = f64(scores).max(-1) - np.take_along_axis(f64(scores), labels[:, None], -1)[:, 0]
    # Exact: one correctly rounded difference of two float32 scores.
    np.testing.assert_array_equal(out, expected.astype(np.float32))
    np.testing.assert_allclose(
        out, optax.losses.multiclass_perceptron_loss(scores, labels), rtol=1e-6
    )
    grad = grad_of(lossjax.multiclass_perceptron_loss)(scores, labels)
    assert_close(grad, ref_crammer_singer_grad(scores, labels, m=0.0))
    np.testing.assert_array_equal(
        out, none(lossjax.multiclass_hinge_loss, scores, labels, margin=0.0)
    )


def test_multiclass_perceptron_gradient_matches_optax_without_ties():
    grad = grad_of(lossjax.multiclass_perceptron_loss)(SCORES, LABELS)
    optax_grad = jax.grad(lambda s: optax.losses.multiclass_perceptron_loss(s, LABELS).sum())(
        SCORES
    )
    np.testing.assert_allclose(grad, optax_grad, atol=1e-7)


# -- multiclass_sparsemax_loss --------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.3, 2.0, 10.0])
def test_multiclass_sparsemax_values_and_gradients_match_reference_and_optax(scale):
    z = (RNG.normal(size=(8, K)) * scale).astype(np.float32)
    y = RNG.integers(0, K, size=8).astype(np.int32)
    out = none(lossjax.multiclass_sparsemax_loss, z, y)
    assert_close(out, ref_multiclass_sparsemax(z, y), rtol=2e-6, atol=1e-6)
    assert_close(out, optax.losses.multiclass_sparsemax_loss(z, y), rtol=2e-6, atol=1e-6)
    grad = grad_of(lossjax.multiclass_sparsemax_loss)(z, y)
    assert_close(grad, ref_sparsemax(z) - onehot(y, K), atol=1e-6)


def test_multiclass_sparsemax_at_extreme_scores():
    out = none(lossjax.multiclass_sparsemax_loss, EXTREME, EXTREME_LABELS)
    assert_close(out, ref_multiclass_sparsemax(EXTREME, EXTREME_LABELS), rtol=1e-6, atol=1e-6)
    assert out[0] == 0.0  # the label's score is 1e4 above the others: exactly 0
    grad = grad_of(lossjax.multiclass_sparsemax_loss)(EXTREME, EXTREME_LABELS)
    assert_close(grad, ref_sparsemax(EXTREME) - onehot(EXTREME_LABELS, 4), atol=1e-6)


def test_multiclass_sparsemax_float64_and_hessian_is_the_sparsemax_jacobian(x64):
    z, y = f64(SCORES), LABELS
    out = none(lossjax.multiclass_sparsemax_loss, z, y)
    assert out.dtype == jnp.float64
    np.testing.assert_allclose(out, ref_multiclass_sparsemax(z, y), rtol=1e-12, atol=1e-14)
    grad = grad_of(lossjax.multiclass_sparsemax_loss)(z, y)
    np.testing.assert_allclose(grad, ref_sparsemax(z) - onehot(y, K), atol=1e-14)
    row = z[0]
    hess = jax.jit(jax.hessian(lambda r: lossjax.multiclass_sparsemax_loss(r[None], y[:1])))(row)
    p = ref_sparsemax(row[None])[0]
    support = (p > 0).astype(np.float64)
    jacobian = np.diag(support) - np.outer(support, support) / support.sum()
    np.testing.assert_allclose(hess, jacobian, atol=1e-12)
    f = jax.jit(lambda s: lossjax.multiclass_sparsemax_loss(s, y[:2]))
    check_grads(f, (z[:2],), order=2, modes=["fwd", "rev"])


def test_multiclass_sparsemax_excluded_class_and_single_class():
    z = np.array([[1.0, -np.inf, 0.5], [0.2, 0.1, -np.inf]], np.float32)
    y = np.array([0, 1], np.int32)
    out = none(lossjax.multiclass_sparsemax_loss, z, y)
    finite = np.where(np.isinf(z), -1e3, z)  # an excluded class is a very low score
    assert_close(out, ref_multiclass_sparsemax(finite, y), atol=1e-7)
    grad = grad_of(lossjax.multiclass_sparsemax_loss)(z, y)
    assert np.all(np.isfinite(grad))
    assert_close(grad, ref_sparsemax(finite) - onehot(y, 3), atol=1e-7)
    single = none(lossjax.multiclass_sparsemax_loss, np.array([[3.0]], np.float32), y[:1])
    np.testing.assert_array_equal(single, [0.0])


# -- multiclass_hinge_loss ------------------------------------------------------------------


@pytest.mark.parametrize("scores, labels", [(SCORES, LABELS), (EXTREME, EXTREME_LABELS)])
def test_crammer_singer_matches_reference_and_optax(scores, labels):
    out = none(lossjax.multiclass_hinge_loss, scores, labels)
    assert_close(out, ref_crammer_singer(scores, labels))
    np.testing.assert_allclose(out, optax.losses.multiclass_hinge_loss(scores, labels), rtol=1e-6)
    grad = grad_of(lossjax.multiclass_hinge_loss)(scores, labels)
    assert_close(grad, ref_crammer_singer_grad(scores, labels))
    if scores is SCORES:
        optax_grad = jax.grad(lambda s: optax.losses.multiclass_hinge_loss(s, labels).sum())(scores)
        np.testing.assert_allclose(grad, optax_grad, atol=1e-7)


@pytest.mark.parametrize("margin", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("p", [1, 2])
def test_multiclass_hinge_margins_and_powers_match_reference(margin, p):
    cs = none(lossjax.multiclass_hinge_loss, SCORES, LABELS, margin=margin, p=p)
    assert_close(cs, ref_crammer_singer(SCORES, LABELS, margin, p), atol=1e-6)
    grad = grad_of(lossjax.multiclass_hinge_loss, margin=margin, p=p)(SCORES, LABELS)
    assert_close(grad, ref_crammer_singer_grad(SCORES, LABELS, margin, p), atol=1e-6)
    ww_kwargs = {"margin": margin, "p": p, "kind": "weston_watkins"}
    ww = none(lossjax.multiclass_hinge_loss, SCORES, LABELS, **ww_kwargs)
    assert_close(ww, ref_weston_watkins(SCORES, LABELS, margin, p), rtol=2e-6, atol=1e-6)
    grad = grad_of(lossjax.multiclass_hinge_loss, **ww_kwargs)(SCORES, LABELS)
    assert_close(grad, ref_weston_watkins_grad(SCORES, LABELS, margin, p), rtol=2e-6, atol=1e-6)


def test_weston_watkins_at_extreme_scores_is_exact():
    out = none(lossjax.multiclass_hinge_loss, EXTREME, EXTREME_LABELS, kind="weston_watkins")
    assert_close(out, ref_weston_watkins(EXTREME, EXTREME_LABELS), rtol=1e-6)
    out2 = none(lossjax.multiclass_hinge_loss, EXTREME, EXTREME_LABELS, kind="weston_watkins", p=2)
    assert_close(out2, ref_weston_watkins(EXTREME, EXTREME_LABELS, p=2), rtol=1e-6)
    grad = grad_of(lossjax.multiclass_hinge_loss, kind="weston_watkins")(EXTREME, EXTREME_LABELS)
    assert_close(grad, ref_weston_watkins_grad(EXTREME, EXTREME_LABELS), rtol=1e-6)


@pytest.mark.parametrize("kind", ["crammer_singer", "weston_watkins"])
def test_class_weights_weigh_examples_in_numerator_and_denominator(kind):
    loss = functools.partial(lossjax.multiclass_hinge_loss, kind=kind)
    plain = f64(none(loss, SCORES, LABELS))
    cw = f64(CLASS_WEIGHTS)[LABELS]
    weighted = none(loss, SCORES, LABELS, class_weights=CLASS_WEIGHTS)
    assert_close(weighted, cw * plain, rtol=1e-6)
    total = loss(SCORES, LABELS, class_weights=CLASS_WEIGHTS, weights=WEIGHTS, reduction="sum")
    assert_close(total, np.sum(WEIGHTS * cw * plain), rtol=1e-6)
    mean = loss(SCORES, LABELS, class_weights=CLASS_WEIGHTS, weights=WEIGHTS)
    assert_close(mean, np.sum(WEIGHTS * cw * plain) / np.sum(WEIGHTS * cw), rtol=1e-6)


def test_multiclass_hinge_traced_margin_is_a_vmappable_differentiable_sweep():
    margins = jnp.array([0.0, 0.5, 1.0, 2.0])
    for kind in ("crammer_singer", "weston_watkins"):
        swept = jax.vmap(
            lambda m, kind=kind: lossjax.multiclass_hinge_loss(SCORES, LABELS, margin=m, kind=kind)
        )(margins)
        ref = ref_crammer_singer if kind == "crammer_singer" else ref_weston_watkins
        assert_close(swept, [ref(SCORES, LABELS, float(m)).mean() for m in margins], rtol=2e-6)
    dm = jax.grad(lambda m: lossjax.multiclass_hinge_loss(SCORES, LABELS, margin=m))(1.0)
    assert_close(dm, np.mean(ref_crammer_singer(SCORES, LABELS, 1.0) > 0))


def test_keras_categorical_hinge_is_crammer_singer_with_an_extra_zero_class():
    """Keras's max over (1 - t) * s includes the label's 0 (module docstring)."""
    s = np.array([[-1.0, -2.0, -0.5], [2.0, 1.0, -3.0]], np.float32)
    y = np.array([0, 1], np.int32)
    t = onehot(y, 3)
    keras_formula = np.maximum(0.0, ((1 - t) * s).max(-1) - (t * s).sum(-1) + 1.0)
    padded = np.concatenate([s, np.zeros((2, 1), np.float32)], -1)
    assert_close(none(lossjax.multiclass_hinge_loss, padded, y), keras_formula)
    assert not np.allclose(none(lossjax.multiclass_hinge_loss, s, y), keras_formula)


# -- the class-axis front: masks and labels -------------------------------------------------

MULTICLASS = {
    "multiclass_perceptron": lossjax.multiclass_perceptron_loss,
    "multiclass_sparsemax": lossjax.multiclass_sparsemax_loss,
    "crammer_singer": lossjax.multiclass_hinge_loss,
    "weston_watkins": functools.partial(lossjax.multiclass_hinge_loss, kind="weston_watkins", p=2),
}
BINARY_LOSSES = {
    "squared_hinge": lossjax.squared_hinge_loss,
    "perceptron": lossjax.perceptron_loss,
    "sparsemax": lossjax.sparsemax_loss,
}


@pytest.mark.parametrize("name", MULTICLASS)
def test_out_of_range_labels_and_masked_nan_scores_contribute_nothing(name):
    loss = MULTICLASS[name]
    labels = LABELS.copy()
    labels[1], labels[4] = K, -1  # out of range: removed
    scores = SCORES.copy()
    scores[1], scores[4], scores[2] = np.nan, np.inf, np.nan
    where = np.ones(N, bool)
    where[2] = False
    keep = np.array([True, False, False, True, False, True])

    def f(s):
        return loss(s, labels, where=where)

    value, grad = jax.jit(jax.value_and_grad(f))(scores)
    clean_value, clean_grad = jax.value_and_grad(lambda s: loss(s[keep], LABELS[keep]))(SCORES)
    assert_close(value, np.float64(clean_value), rtol=1e-6)
    assert np.all(np.isfinite(grad)) and np.all(grad[~keep] == 0)
    assert_close(grad, np.float64(clean_grad), rtol=1e-6, atol=1e-7)
    values = none(loss, scores, labels, where=where)
    assert np.all(values[~keep] == 0)


@pytest.mark.parametrize("name", BINARY_LOSSES)
def test_binary_masked_nan_scores_contribute_nothing(name):
    loss = BINARY_LOSSES[name]
    s, y = BZ[:8].copy(), BY[:8].copy()
    s[3] = np.nan
    where = np.arange(8) != 3
    value, grad = jax.value_and_grad(lambda z: loss(z, y, where=where))(s)
    clean_value = loss(BZ[:8][where], y[where])
    assert_close(value, np.float64(clean_value), rtol=1e-6)
    assert np.all(np.isfinite(grad)) and grad[3] == 0


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_low_precision_inputs_compute_in_float32(dtype):
    for loss in (*MULTICLASS.values(), *BINARY_LOSSES.values()):
        multiclass = loss in MULTICLASS.values()
        x, y = (SCORES, LABELS) if multiclass else (BZ, BY)
        out = loss(jnp.asarray(x, dtype), y)
        assert out.dtype == jnp.float32
        assert np.isfinite(out)


def test_leading_axes_are_examples():
    scores = SCORES.reshape(2, 3, K)
    labels = LABELS.reshape(2, 3)
    for loss in MULTICLASS.values():
        out = none(loss, scores, labels)
        assert out.shape == (2, 3)
        np.testing.assert_allclose(out.ravel(), none(loss, SCORES, LABELS), rtol=1e-6)


# -- make_fenchel_young_loss ----------------------------------------------------------------


def test_fenchel_young_of_logsumexp_is_softmax_cross_entropy_and_matches_optax():
    loss = lossjax.make_fenchel_young_loss(jax.nn.logsumexp)
    targets = RNG.dirichlet(np.ones(K), size=N).astype(np.float32)
    out = loss(SCORES, targets, reduction="none")
    assert out.shape == (N,)
    optax_fy = optax.losses.make_fenchel_young_loss(jax.scipy.special.logsumexp)
    np.testing.assert_allclose(out, optax_fy(SCORES, targets), rtol=1e-6)
    np.testing.assert_allclose(
        out, optax.losses.softmax_cross_entropy(SCORES, targets), rtol=1e-5, atol=1e-6
    )
    expected = -np.sum(f64(targets) * scipy.special.log_softmax(f64(SCORES), axis=-1), -1)
    assert_close(out, expected, rtol=1e-5)
    grad = jax.grad(lambda s: loss(s, targets, reduction="sum"))(SCORES)
    assert_close(grad, scipy.special.softmax(f64(SCORES), axis=-1) - f64(targets), atol=1e-6)
    # The reduction contract: the mean over leading axes, weights, where.
    assert_close(loss(SCORES, targets), expected.mean(), rtol=1e-5)
    assert_close(
        loss(SCORES, targets, weights=WEIGHTS),
        np.sum(WEIGHTS * expected) / np.sum(WEIGHTS),
        rtol=1e-5,
    )
    three = loss(SCORES.reshape(2, 3, K), targets.reshape(2, 3, K), reduction="none")
    np.testing.assert_allclose(three.ravel(), out, rtol=1e-6)


def test_fenchel_young_of_max_is_the_multiclass_perceptron():
    loss = lossjax.make_fenchel_young_loss(jnp.max)
    targets = onehot(LABELS, K).astype(np.float32)
    np.testing.assert_allclose(
        loss(SCORES, targets, reduction="none"),
        none(lossjax.multiclass_perceptron_loss, SCORES, LABELS),
        rtol=1e-6,
        atol=1e-6,
    )


def test_fenchel_young_masks_nan_and_zero_targets_against_minus_inf():
    loss = lossjax.make_fenchel_young_loss(jax.nn.logsumexp)
    scores = SCORES.copy()
    scores[0, 1] = -np.inf  # excluded class, target 0
    scores[3] = np.nan  # masked example
    targets = onehot(LABELS, K).astype(np.float32)
    targets[0] = onehot(np.array([2]), K)[0]
    where = np.arange(N) != 3
    value, (gs, gt) = jax.value_and_grad(
        lambda s, t: loss(s, t, where=where, reduction="sum"), argnums=(0, 1)
    )(scores, targets)
    assert np.isfinite(value) and np.all(np.isfinite(gs)) and np.all(np.isfinite(gt))
    assert np.all(gs[3] == 0) and np.all(gt[3] == 0)
    assert gs[0, 1] == 0 and gt[0, 1] == 0


def test_fenchel_young_under_jit_vmap_and_x64(x64):
    loss = lossjax.make_fenchel_young_loss(jax.nn.logsumexp)
    targets = onehot(LABELS, K)
    out = jax.jit(loss)(f64(SCORES), targets)
    assert out.dtype == jnp.float64
    expected = -np.sum(targets * scipy.special.log_softmax(f64(SCORES), axis=-1), -1)
    np.testing.assert_allclose(out, expected.mean(), rtol=1e-13)
    per_row = jax.vmap(lambda s, t: loss(s[None], t[None]))(f64(SCORES), targets)
    np.testing.assert_allclose(per_row, expected, rtol=1e-13)


# -- errors ---------------------------------------------------------------------------------


def test_errors_name_the_argument():
    s, y = SCORES, LABELS
    cases = [
        (lossjax.multiclass_hinge_loss, {"margin": -1.0}, ValueError, "`margin`"),
        (lossjax.multiclass_hinge_loss, {"kind": "ww"}, ValueError, "`kind`"),
        (lossjax.multiclass_hinge_loss, {"p": 3}, ValueError, "`p`"),
        (lossjax.multiclass_hinge_loss, {"p": np.array([1, 2])}, TypeError, "`p`"),
        (lossjax.multiclass_hinge_loss, {"class_weights": -CLASS_WEIGHTS}, ValueError, "class_w"),
        (lossjax.multiclass_hinge_loss, {"class_weights": np.ones(3)}, ValueError, r"\(3,\)"),
        (lossjax.multiclass_perceptron_loss, {"reduction": "avg"}, ValueError, "`reduction`"),
        (lossjax.multiclass_sparsemax_loss, {"weights": np.ones(3)}, ValueError, "`weights`"),
    ]
    for loss, kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            loss(s, y, **kwargs)
    with pytest.raises(TypeError, match=r"`p`.*traced"):
        jax.jit(lambda p: lossjax.multiclass_hinge_loss(s, y, p=p))(2)
    with pytest.raises(ValueError, match=r"`labels`.*`scores`.*\(6,\).*\(6, 1\)"):
        lossjax.multiclass_hinge_loss(s, y[:, None])
    with pytest.raises(ValueError, match=r"`labels`.*`logits`"):
        lossjax.multiclass_sparsemax_loss(s, y[:3])
    with pytest.raises(TypeError, match=r"`labels`.*integer"):
        lossjax.multiclass_perceptron_loss(s, y.astype(np.float32))
    with pytest.raises(TypeError, match="`scores`"):
        lossjax.multiclass_perceptron_loss(s.astype(np.int32), y)
    with pytest.raises(ValueError, match=r"`scores`.*scalar"):
        lossjax.multiclass_hinge_loss(np.float32(1.0), np.int32(0))
    for loss in (lossjax.squared_hinge_loss, lossjax.perceptron_loss, lossjax.sparsemax_loss):
        first = "logits" if loss is lossjax.sparsemax_loss else "scores"
        with pytest.raises(ValueError, match=rf"`{first}`.*`labels`.*\(30,\).*\(30, 1\)"):
            loss(BZ, BY[:, None])
        with pytest.raises(TypeError, match=f"`{first}`"):
            loss(np.arange(4), BY[:4])
    with pytest.raises(ValueError, match="`margin`"):
        lossjax.squared_hinge_loss(BZ, BY, margin=-0.5)
    fy = lossjax.make_fenchel_young_loss(jax.nn.logsumexp)
    with pytest.raises(ValueError, match=r"`scores`.*`targets`.*same shape"):
        fy(SCORES, SCORES[:, :3])
    with pytest.raises(TypeError, match="`targets`"):
        fy(SCORES, SCORES.astype(np.complex64))
    with pytest.raises(TypeError, match="`max_fn`"):
        lossjax.make_fenchel_young_loss("logsumexp")


def test_registry_entries():
    assert lossjax.info("categorical_hinge").name == "multiclass_hinge_loss"
    assert lossjax.info("squared_hinge").task == "binary"
    assert lossjax.info("multiclass_sparsemax").input_kind == "logits"
    loss = lossjax.get("multiclass_hinge", kind="weston_watkins", p=2)
    np.testing.assert_array_equal(
        loss(SCORES, LABELS),
        lossjax.multiclass_hinge_loss(SCORES, LABELS, kind="weston_watkins", p=2),
    )
    with pytest.raises(ValueError, match="`p`"):
        lossjax.get("multiclass_hinge", p=3)
    assert "make_fenchel_young_loss" not in lossjax.available()
