"""Metric learning (lossjax/_metric_learning.py) against float64 NumPy references written here.

The mined triplet losses are checked against a brute force over every
(anchor, positive, negative) triplet of the batch, for each mining mode and
distance; gradients against central differences of that reference. The given
triplets are also checked against optax. The 8-device test splits the batch
with ``jax.shard_map`` and must give the single-device value and gradient.
"""

from __future__ import annotations

import functools
import itertools

import jax
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

import lossjax

MININGS = ("batch_hard", "batch_all", "semi_hard")
DISTANCES = ("euclidean", "squared_euclidean", "cosine")


# -- float64 references -----------------------------------------------------------------


def ref_p_distance(x, y, p=2.0, eps=1e-6):
    """PyTorch's pairwise_distance: ||x - y + eps||_p over the last axis."""
    return np.sum(np.abs(x - y + eps) ** p, axis=-1) ** (1.0 / p)


def ref_triplet(a, pos, neg, margin=1.0, p=2.0, eps=1e-6, swap=False):
    a, pos, neg = (np.asarray(v, np.float64) for v in (a, pos, neg))
    d_ap = ref_p_distance(a, pos, p, eps)
    d_an = ref_p_distance(a, neg, p, eps)
    if swap:
        d_an = np.minimum(d_an, ref_p_distance(pos, neg, p, eps))
    return np.maximum(margin + d_ap - d_an, 0.0)


def ref_distance_matrix(x, distance):
    x = np.asarray(x, np.float64)
    if distance == "cosine":
        norms = np.linalg.norm(x, axis=1)
        unit = x / np.where(norms > 0, norms, 1.0)[:, None]
        return 1.0 - unit @ unit.T
    squared = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    return np.sqrt(squared) if distance == "euclidean" else squared


def ref_batch_triplet(x, labels, margin, mining, distance, keep=None):
    """Per-anchor values and validity, by brute force over all triplets."""
    n = len(x)
    keep = np.ones(n, bool) if keep is None else np.asarray(keep)
    d = ref_distance_matrix(np.where(keep[:, None], x, 0.0), distance)
    values, valid = np.zeros(n), np.zeros(n, bool)
    for a in range(n):
        if not keep[a]:
            continue
        pos = [p for p in range(n) if p != a and keep[p] and labels[p] == labels[a]]
        neg = [q for q in range(n) if keep[q] and labels[q] != labels[a]]
        if not pos or not neg:
            continue
        valid[a] = True
        if mining == "batch_hard":
            values[a] = max(0.0, margin + max(d[a, pos]) - min(d[a, neg]))
        elif mining == "batch_all":
            losses = [margin + d[a, p] - d[a, q] for p, q in itertools.product(pos, neg)]
            active = [t for t in losses if t > 0]
            values[a] = np.mean(active) if active else 0.0
        else:
            total = 0.0
            for p in pos:
                farther = [d[a, q] for q in neg if d[a, q] > d[a, p]]
                chosen = min(farther) if farther else max(d[a, neg])
                total += max(0.0, margin + d[a, p] - chosen)
            values[a] = total / len(pos)
    return values, valid


def ref_batch_mean(x, labels, margin, mining, distance, keep=None):
    values, valid = ref_batch_triplet(x, labels, margin, mining, distance, keep)
    return values[valid].mean() if valid.any() else 0.0


def central_differences(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def _cosines(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def ref_cosine_embedding(a, b, y, margin=0.0):
    c = _cosines(a, b)
    return np.where(np.asarray(y) > 0, 1.0 - c, np.maximum(c - margin, 0.0))


def ref_margin_ranking(x1, x2, y, margin=0.0):
    sign = np.where(np.asarray(y) > 0, 1.0, -1.0)
    return np.maximum(margin - sign * (np.float64(x1) - np.float64(x2)), 0.0)


def ref_hinge_embedding(x, y, margin=1.0):
    x = np.asarray(x, np.float64)
    return np.where(np.asarray(y) > 0, x, np.maximum(margin - x, 0.0))


def _jit_grad(fn, argnums=0, **options):
    """jit(value_and_grad) of ``fn`` with ``options`` bound: one compilation per test rather
    than one per operation (eager autodiff compiles every operation on its own)."""
    return jax.jit(jax.value_and_grad(functools.partial(fn, **options), argnums=argnums))


# -- data ----------------------------------------------------------------------------------


def _batch(seed=0, n=8, dim=3, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    labels = rng.integers(0, classes, size=n).astype(np.int32)
    labels[:classes] = np.arange(classes)  # every class occurs
    labels[-1] = 0  # class 0 at least twice
    return x, labels


def _triplet_batch(seed=0, n=5, dim=4):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=(n, dim)).astype(np.float32) for _ in range(3))


# -- triplet_margin_loss -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"swap": True}, {"p": 1.0}, {"p": 3.0, "epsilon": 0.0}, {"margin": 0.0, "p": 1.5}],
    ids=["default", "swap", "p1", "p3_eps0", "margin0_p1.5"],
)
def test_triplet_margin_loss_matches_float64_reference(kwargs):
    a, pos, neg = _triplet_batch()
    got = lossjax.triplet_margin_loss(a, pos, neg, reduction="none", **kwargs)
    ref_kwargs = {"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False}
    ref_kwargs.update({("eps" if k == "epsilon" else k): v for k, v in kwargs.items()})
    want = ref_triplet(a, pos, neg, **ref_kwargs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    mean = lossjax.triplet_margin_loss(a, pos, neg, **kwargs)
    np.testing.assert_allclose(mean, want.mean(), rtol=1e-5)


@pytest.mark.parametrize("p", [2.0, 3.0])
def test_triplet_margin_loss_gradient_matches_finite_differences(p, x64):
    a, pos, neg = (v.astype(np.float64) for v in _triplet_batch(1))
    _, grads = _jit_grad(lossjax.triplet_margin_loss, (0, 1, 2), p=p, swap=True, margin=2.0)(
        a, pos, neg
    )
    args = [a, pos, neg]
    for i, got in enumerate(grads):

        def f(v, i=i):
            full = list(args)
            full[i] = v
            return ref_triplet(*full, margin=2.0, p=p, swap=True).mean()

        np.testing.assert_allclose(got, central_differences(f, args[i]), rtol=1e-5, atol=1e-8)


def test_triplet_margin_loss_equals_optax_without_epsilon_and_is_close_with_it():
    a, pos, neg = _triplet_batch(2)
    ours = lossjax.triplet_margin_loss(a, pos, neg, epsilon=0.0, reduction="none")
    theirs = optax.losses.triplet_margin_loss(a, pos, neg, eps=0.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    # The defaults put epsilon in different places (per coordinate here, under the root
    # in optax): both are O(1e-6) away from the exact distance.
    ours = lossjax.triplet_margin_loss(a, pos, neg, reduction="none")
    np.testing.assert_allclose(ours, optax.losses.triplet_margin_loss(a, pos, neg), atol=1e-5)


def test_triplet_margin_loss_at_anchor_equal_positive_has_a_finite_gradient():
    a, _, neg = _triplet_batch(3)
    loss = _jit_grad(lossjax.triplet_margin_loss, (0, 1, 2), margin=10.0)
    for epsilon in (0.0, 1e-6):
        _, grads = loss(a, a, neg, epsilon=epsilon)
        assert all(np.all(np.isfinite(g)) for g in grads)
    # With epsilon=0 the positive distance is exactly 0 and has the zero subgradient.
    np.testing.assert_array_equal(loss(a, a, neg, epsilon=0.0)[1][1], np.zeros_like(a))


def test_triplet_margin_loss_near_the_float32_limit_is_finite():
    """Distances of 4.3e38 (beyond float32) whose difference fits."""
    a = np.array([[3e38, 3e38, 0.0]], np.float32)
    pos = np.array([[-1e37, 0.0, 0.0]], np.float32)
    neg = np.array([[0.0, 0.0, 1e30]], np.float32)
    value, grads = _jit_grad(lossjax.triplet_margin_loss, (0, 1, 2), epsilon=0.0)(a, pos, neg)
    exact = ref_triplet(a, pos, neg, eps=0.0)[0]
    np.testing.assert_allclose(value, exact, rtol=1e-5)  # about 7.1e36
    for g, want in zip(grads, _triplet_unit_gradients(a, pos, neg), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7)


def _triplet_unit_gradients(a, pos, neg):
    """The gradient of d(a, p) - d(a, n): unit vectors, in float64."""
    a, pos, neg = (np.asarray(v, np.float64) for v in (a, pos, neg))
    u_p = (a - pos) / np.linalg.norm(a - pos, axis=-1, keepdims=True)
    u_n = (a - neg) / np.linalg.norm(a - neg, axis=-1, keepdims=True)
    return u_p - u_n, -u_p, u_n


def test_triplet_margin_loss_gradient_is_a_unit_vector_at_every_scale():
    """A close positive next to a far negative: the scaled norm's own derivative would be
    2**127 / |u| before the scale cancels it."""
    a = np.array([[0.0, 0.0], [1.0, 1.0]], np.float32)
    pos = np.array([[1e-3, 0.0], [1.0, 1.0 + 1e-3]], np.float32)
    neg = np.array([[1e38, 0.0], [1e30, 0.0]], np.float32)
    _, grads = _jit_grad(
        lossjax.triplet_margin_loss, (0, 1, 2), epsilon=0.0, margin=2e38, reduction="sum"
    )(a, pos, neg)
    for g, want in zip(grads, _triplet_unit_gradients(a, pos, neg), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7)


def test_triplet_margin_loss_traced_hyperparameters_are_differentiable():
    a, pos, neg = _triplet_batch(4)

    def loss(margin, p):
        return lossjax.triplet_margin_loss(a, pos, neg, margin=margin, p=p)

    _, (g_margin, g_p) = _jit_grad(loss, (0, 1))(1.0, 2.5)
    want = ref_triplet(a, pos, neg, margin=1.0, p=2.5)
    np.testing.assert_allclose(g_margin, np.mean(want > 0), rtol=1e-6)
    fd = (
        ref_triplet(a, pos, neg, p=2.5 + 1e-5).mean()
        - ref_triplet(a, pos, neg, p=2.5 - 1e-5).mean()
    ) / 2e-5
    np.testing.assert_allclose(g_p, fd, rtol=1e-3, atol=1e-5)


# -- batch_triplet_loss -------------------------------------------------------------------


# One jitted function for the batch tests (one compilation per option set, one shape).
@functools.partial(jax.jit, static_argnames=("mining", "distance"))
def _batch_results(x, labels, where, weights, *, margin=1.0, mining, distance):
    """Per-anchor values, mean, sum, count and the gradient of the mean."""

    def loss(v, reduction="mean"):
        return lossjax.batch_triplet_loss(
            v,
            labels,
            margin=margin,
            mining=mining,
            distance=distance,
            where=where,
            weights=weights,
            reduction=reduction,
        )

    value, grad = jax.value_and_grad(loss)(x)
    return loss(x, "none"), value, loss(x, "sum"), loss(x, "count"), grad


N = 8


def _everything(x, labels, *, where=None, weights=None, **kwargs):
    where = np.ones(N, bool) if where is None else where
    weights = np.ones(N, x.dtype) if weights is None else weights
    return _batch_results(x, labels, where, weights, **kwargs)


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("mining", MININGS)
def test_batch_triplet_loss_matches_brute_force_in_value_and_gradient(mining, distance, x64):
    x, labels = _batch(seed=MININGS.index(mining) + 3 * DISTANCES.index(distance))
    labels[2] = 7  # a singleton: no positive, contributes nothing
    x = x.astype(np.float64)
    margin = 0.5 if distance == "cosine" else 1.0
    values, valid = ref_batch_triplet(x, labels, margin, mining, distance)
    assert not valid[2] and valid.sum() >= 5
    none, mean, total, count, grad = _everything(
        x, labels, margin=margin, mining=mining, distance=distance
    )
    np.testing.assert_allclose(none, values, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean, values[valid].mean(), rtol=1e-10)
    np.testing.assert_allclose(total, values.sum(), rtol=1e-10)
    assert count == valid.sum()
    want = central_differences(
        lambda v: ref_batch_mean(v, labels, margin, mining, distance), x, eps=1e-7
    )
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-7)


def test_batch_triplet_loss_in_float32_matches_the_reference():
    x, labels = _batch(seed=30)
    for mining in MININGS:
        values, valid = ref_batch_triplet(x, labels, 1.0, mining, "euclidean")
        none, mean, *_ = _everything(x, labels, mining=mining, distance="euclidean")
        np.testing.assert_allclose(none, values, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(mean, values[valid].mean(), rtol=1e-5)


@pytest.mark.parametrize("mining", MININGS)
def test_batch_triplet_loss_where_removes_examples_and_their_nan(mining):
    x, labels = _batch(seed=20)
    keep = np.array([True, True, False, True, True, True, False, True])
    poisoned = x.copy()
    poisoned[2], poisoned[6] = np.nan, np.inf
    _, value, _, count, grad = _everything(
        poisoned, labels, where=keep, mining=mining, distance="euclidean"
    )
    want, valid = ref_batch_triplet(x, labels, 1.0, mining, "euclidean", keep)
    np.testing.assert_allclose(value, want[valid].mean(), rtol=1e-5)
    assert count == valid.sum()
    assert np.all(np.isfinite(grad)) and np.all(grad[~keep] == 0)
    # The same as the batch without the removed examples.
    clean = x.copy()
    clean[~keep] = 0.0
    _, clean_value, _, _, clean_grad = _everything(
        clean, labels, where=keep, mining=mining, distance="euclidean"
    )
    np.testing.assert_array_equal(value, clean_value)
    np.testing.assert_array_equal(grad, clean_grad)
    sub = jax.jit(functools.partial(lossjax.batch_triplet_loss, mining=mining))(
        x[keep], labels[keep]
    )
    np.testing.assert_allclose(value, sub, rtol=1e-6)


def test_batch_triplet_loss_weights_weigh_anchors_and_skip_invalid_ones():
    x, labels = _batch(seed=21)
    labels[1] = 9  # a singleton
    values, valid = ref_batch_triplet(x, labels, 1.0, "batch_hard", "euclidean")
    w = np.linspace(0.5, 2.0, N).astype(np.float32)
    _, got, total, count, _ = _everything(
        x, labels, weights=w, mining="batch_hard", distance="euclidean"
    )
    kept_w = w * valid
    np.testing.assert_allclose(got, (kept_w * values).sum() / kept_w.sum(), rtol=1e-5)
    np.testing.assert_allclose(total, (kept_w * values).sum(), rtol=1e-5)
    np.testing.assert_allclose(count, kept_w.sum(), rtol=1e-6)


@pytest.mark.parametrize("mining", MININGS)
def test_batch_triplet_loss_without_any_triplet_is_zero_with_zero_gradient(mining):
    x, _ = _batch(seed=22)
    for labels in (np.zeros(N, np.int32), np.arange(N, dtype=np.int32)):
        _, value, _, count, grad = _everything(x, labels, mining=mining, distance="euclidean")
        assert value == 0.0 and count == 0.0
        np.testing.assert_array_equal(grad, np.zeros_like(x))


@pytest.mark.parametrize("mining", MININGS)
@pytest.mark.parametrize("distance", ("euclidean", "squared_euclidean"))
def test_batch_triplet_loss_identical_embeddings_have_finite_gradients(mining, distance):
    x, labels = _batch(seed=23)
    x[1] = x[0] = x[4]  # identical embeddings, of the same class and of others
    labels[1] = labels[0]
    _, value, _, _, grad = _everything(x, labels, mining=mining, distance=distance)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, ref_batch_mean(x, labels, 1.0, mining, distance), rtol=1e-5)


@pytest.mark.parametrize("mining", MININGS)
def test_batch_triplet_loss_near_the_float32_limit(mining):
    """Distances up to 4.3e38: each anchor's value is finite where the exact one fits
    and inf beyond; the mean fits although one value does not, and so does the gradient."""
    x = np.array(
        [[3.17, -9.1e29, -1.06e30], [-1.72e38, -3.06e38, -2.4e38], [-2.19, -1.04e38, -2.62],
         [3.9e-31, 5.87e18, -1.08e-30]] * 2,
        np.float32,
    )  # fmt: skip
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0], np.int32)
    exact, _ = ref_batch_triplet(x, labels, 2.0, mining, "euclidean")
    got, value, _, _, grad = _everything(x, labels, margin=2.0, mining=mining, distance="euclidean")
    fits = exact < 3.4e38
    assert fits.all() == (mining == "semi_hard")  # the others: values beyond float32
    assert np.all(np.isinf(got[~fits]))
    # (float32 resolves distances of 1e38 to about 1e31.)
    np.testing.assert_allclose(got[fits], exact[fits], rtol=1e-5, atol=1e32)
    np.testing.assert_allclose(value, exact.mean(), rtol=1e-5)
    assert np.all(np.isfinite(grad)) and np.max(np.abs(grad)) < 2.0


def test_batch_triplet_loss_semi_hard_rule():
    """One anchor, positive at distance 1; negatives at 0.5, 1.2, 3: semi-hard picks 1.2.
    Without a farther negative it picks the farthest (TensorFlow Addons' rule)."""
    x = np.array([[0.0], [1.0], [0.5], [1.2], [3.0]], np.float32)
    labels = np.array([0, 0, 1, 1, 1], np.int32)
    loss = jax.jit(
        functools.partial(lossjax.batch_triplet_loss, mining="semi_hard", reduction="none")
    )
    for positive, want in ((1.0, 1.0 + 1.0 - 1.2), (5.0, 1.0 + 5.0 - 3.0)):
        x[1] = positive
        np.testing.assert_allclose(loss(x, labels)[0], want, rtol=1e-6)


def test_batch_triplet_loss_presets_and_suggestion():
    assert lossjax.get("batch_all").hyperparameters == {"mining": "batch_all"}
    assert lossjax.get("semi_hard").hyperparameters == {"mining": "semi_hard"}
    calls = [s.call for s in lossjax.suggest("embedding")]
    assert "batch_triplet_loss(mining='batch_hard', margin=0.3)" in calls
    assert calls[0] == "info_nce_loss(temperature=0.1)"  # the task's default stays first
    assert not any(
        lossjax.info(n).default
        for n in (
            "batch_triplet_loss",
            "triplet_margin_loss",
            "cosine_embedding_loss",
            "margin_ranking_loss",
            "hinge_embedding_loss",
        )
    )


N_DEVICES, PER_DEVICE = 8, 3


def _global_batch():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N_DEVICES * PER_DEVICE, 3)).astype(np.float32)
    labels = rng.integers(0, 4, size=N_DEVICES * PER_DEVICE).astype(np.int32)
    labels[5] = 11  # a singleton
    keep = np.ones(N_DEVICES * PER_DEVICE, bool)
    keep[[1, 2, 4, 13, 22]] = False  # uneven: device 0 keeps one example
    weights = rng.uniform(0.2, 2.0, size=N_DEVICES * PER_DEVICE).astype(np.float32)
    return x, labels, keep, weights


@pytest.mark.multi_device
@pytest.mark.parametrize("mining", MININGS)
def test_batch_triplet_loss_on_8_devices_equals_the_single_device_batch(mining):
    x, labels, keep, weights = _global_batch()
    mesh = jax.make_mesh((N_DEVICES,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    kwargs = {"mining": mining, "distance": "euclidean"}

    def single(v):
        return lossjax.batch_triplet_loss(v, labels, where=keep, weights=weights, **kwargs)

    def sharded(v):
        def local(v, y, m, w):
            return lossjax.batch_triplet_loss(v, y, where=m, weights=w, axis_name="data", **kwargs)

        return jax.shard_map(local, mesh=mesh, in_specs=(P("data"),) * 4, out_specs=P())(
            v, labels, keep, weights
        )

    want_value, want_grad = jax.jit(jax.value_and_grad(single))(x)
    got_value, got_grad = jax.jit(jax.value_and_grad(sharded))(x)
    np.testing.assert_allclose(got_value, want_value, rtol=1e-6)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5, atol=1e-7)
    # And both are the brute-force reference on the whole batch.
    values, valid = ref_batch_triplet(x, labels, 1.0, mining, "euclidean", keep)
    w = weights * valid
    np.testing.assert_allclose(want_value, (w * values).sum() / w.sum(), rtol=1e-5)


# -- PyTorch's pairwise losses ------------------------------------------------------------


def _pairs(seed=0, n=6, dim=3):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, n, dim)).astype(np.float32)
    signs = np.where(rng.uniform(size=n) < 0.5, -1, 1).astype(np.int32)
    signs[:2] = [1, -1]
    return a, b, signs


@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5])
def test_cosine_embedding_loss_matches_reference_for_every_label_convention(margin):
    a, b, signs = _pairs()
    want = ref_cosine_embedding(a, b, signs, margin)
    for labels in (signs, (signs > 0).astype(np.int32), signs > 0, signs.astype(np.float32)):
        got = lossjax.cosine_embedding_loss(a, b, labels, margin=margin, reduction="none")
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        lossjax.cosine_embedding_loss(a, b, signs, margin=margin), want.mean(), rtol=1e-5
    )


def test_cosine_embedding_loss_gradient_and_scale_invariance(x64):
    a, b, signs = (v.astype(np.float64) if v.dtype == np.float32 else v for v in _pairs(1))
    _, (ga, gb) = _jit_grad(lossjax.cosine_embedding_loss, (0, 1), margin=0.1)(a, b, signs)
    for got, i in ((ga, 0), (gb, 1)):

        def f(v, i=i):
            args = [a, b]
            args[i] = v
            return ref_cosine_embedding(*args, signs, 0.1).mean()

        np.testing.assert_allclose(got, central_differences(f, [a, b][i]), rtol=1e-5, atol=1e-8)
    big = lossjax.cosine_embedding_loss(a * 1e150, b * 1e-100, signs, reduction="none")
    np.testing.assert_allclose(
        big, lossjax.cosine_embedding_loss(a, b, signs, reduction="none"), rtol=1e-12
    )


def test_cosine_embedding_loss_of_a_zero_vector_is_finite():
    a = np.zeros((2, 3), np.float32)
    b = np.ones((2, 3), np.float32)
    value, grads = _jit_grad(lossjax.cosine_embedding_loss, (0, 1))(a, b, np.array([1, -1]))
    np.testing.assert_allclose(value, 0.5)  # cos = 0: 1 for the similar pair, 0 for the other
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_margin_ranking_loss_matches_reference_and_gradient():
    rng = np.random.default_rng(2)
    x1, x2 = rng.normal(size=(2, 7)).astype(np.float32)
    y = np.where(rng.uniform(size=7) < 0.5, -1.0, 1.0).astype(np.float32)
    for labels in (y, y > 0, (y > 0).astype(np.int32)):
        got = lossjax.margin_ranking_loss(x1, x2, labels, margin=0.3, reduction="none")
        np.testing.assert_allclose(got, ref_margin_ranking(x1, x2, y, 0.3), rtol=1e-6)
    _, (g1, g2) = _jit_grad(lossjax.margin_ranking_loss, (0, 1), margin=0.3)(x1, x2, y)
    active = ref_margin_ranking(x1, x2, y, 0.3) > 0
    np.testing.assert_allclose(g1, -y * active / 7, rtol=1e-6)
    np.testing.assert_allclose(g2, y * active / 7, rtol=1e-6)
    # The one-line equivalent named in the docstring.
    np.testing.assert_allclose(
        lossjax.margin_ranking_loss(x1, x2, y, margin=0.3),
        lossjax.hinge_loss(x1 - x2, y, margin=0.3),
        rtol=1e-6,
    )


def test_hinge_embedding_loss_matches_reference_and_gradient():
    rng = np.random.default_rng(3)
    d = rng.uniform(0.0, 2.0, size=(2, 5)).astype(np.float32)
    y = np.where(rng.uniform(size=(2, 5)) < 0.5, -1, 1).astype(np.int32)
    for labels in (y, y > 0):
        got = lossjax.hinge_embedding_loss(d, labels, margin=1.5, reduction="none")
        np.testing.assert_allclose(got, ref_hinge_embedding(d, y, 1.5), rtol=1e-6)
    _, grad = _jit_grad(lossjax.hinge_embedding_loss, 0, margin=1.5, reduction="sum")(d, y)
    np.testing.assert_allclose(grad, np.where(y > 0, 1.0, -1.0 * (d < 1.5)), rtol=1e-6)


# -- bad inputs: trace-time errors naming the argument ----------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: lossjax.triplet_margin_loss(
                np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 3))
            ),
            ValueError,
            r"`anchors` and `negatives` must have the same shape",
        ),
        (
            lambda: lossjax.triplet_margin_loss(np.zeros(3), np.zeros(3), np.zeros(3), p=0.0),
            ValueError,
            r"`p` must be > 0",
        ),
        (
            lambda: lossjax.triplet_margin_loss(
                np.zeros((2, 3), np.int32), np.zeros((2, 3)), np.zeros((2, 3))
            ),
            TypeError,
            r"`anchors` must be a floating-point array",
        ),
        (
            lambda: lossjax.batch_triplet_loss(np.zeros((4, 2)), np.zeros(4, np.float32)),
            TypeError,
            r"`labels` must be an integer \(or bool\) array",
        ),
        (
            lambda: lossjax.batch_triplet_loss(np.zeros((4, 2)), np.zeros(3, np.int32)),
            ValueError,
            r"`labels` must have one label per embedding",
        ),
        (
            lambda: lossjax.batch_triplet_loss(np.zeros((4, 2, 1)), np.zeros(4, np.int32)),
            ValueError,
            r"`embeddings` must have rank 2",
        ),
        (
            lambda: lossjax.batch_triplet_loss(
                np.zeros((4, 2)), np.zeros(4, np.int32), mining="hardest"
            ),
            ValueError,
            r"`mining` must be one of",
        ),
        (
            lambda: lossjax.batch_triplet_loss(
                np.zeros((4, 2)), np.zeros(4, np.int32), distance="l1"
            ),
            ValueError,
            r"`distance` must be one of",
        ),
        (
            lambda: lossjax.batch_triplet_loss(np.zeros((4, 2)), np.zeros(4, np.int32), margin=-1),
            ValueError,
            r"`margin` must be >= 0",
        ),
        (
            lambda: lossjax.batch_triplet_loss(
                np.zeros((4, 2)), np.zeros(4, np.int32), axis_name="batch"
            ),
            NameError,
            r"`axis_name`='batch' is not bound",
        ),
        (
            lambda: lossjax.cosine_embedding_loss(np.zeros((3, 2)), np.zeros((3, 2)), np.ones(2)),
            ValueError,
            r"`similar` must have the per-pair shape",
        ),
        (
            lambda: lossjax.cosine_embedding_loss(
                np.zeros((3, 2)), np.zeros((3, 2)), np.ones(3), margin=1.5
            ),
            ValueError,
            r"`margin` must be in \[-1.0, 1.0\]",
        ),
        (
            lambda: lossjax.margin_ranking_loss(np.zeros(3), np.zeros(3), np.ones((3, 1))),
            ValueError,
            r"`scores_1` and `labels` must have the same shape",
        ),
        (
            lambda: lossjax.hinge_embedding_loss(np.zeros(3), np.ones(4)),
            ValueError,
            r"`distances` and `labels` must have the same shape",
        ),
    ],
    ids=[
        "triplet_shapes",
        "triplet_p",
        "triplet_dtype",
        "batch_float_labels",
        "batch_label_count",
        "batch_rank",
        "batch_mining",
        "batch_distance",
        "batch_margin",
        "batch_axis_name",
        "cosine_similar_shape",
        "cosine_margin",
        "ranking_labels_shape",
        "hinge_shapes",
    ],
)
def test_bad_inputs_raise_at_trace_time_naming_the_argument(call, error, match):
    with pytest.raises(error, match=r"^lossjax: .*" + match):
        call()
