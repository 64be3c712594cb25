"""Specification of lossjax.linear_cross_entropy, the fused large-vocabulary cross-entropy.

The fused loss must equal the naive loss on ``hidden @ weight`` (a float64
reference written here with ``jax.nn.log_softmax``, and lossjax's own
``sparse_categorical_cross_entropy``) in value and in both gradients, for every
option and for vocabulary sizes that are not multiples of the block size.
(Its memory use, read from the compiled program, is checked by
``benchmarks/``: it is a property of the compiler, not of the loss.)
"""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

import lossjax

RTOL = 1e-5

# (V, block_size): remainder block, many full blocks, size-1 blocks, one block
# wider than V, exact multiple.
SIZES = [(1000, 256), (37, 1), (50, 64), (96, 32)]

OPTIONS = {
    "plain": {},
    "ignore_index": {"ignore_index": -100},
    "label_smoothing": {"label_smoothing": 0.2},
    "z_loss": {"z_loss": 1e-2},
    "logit_soft_cap": {"logit_soft_cap": 2.5},
    "weights": {"weights": True},
    "where": {"where": True},
    "everything": {
        "ignore_index": -100,
        "label_smoothing": 0.1,
        "z_loss": 1e-3,
        "logit_soft_cap": 4.0,
        "weights": True,
        "where": True,
    },
}


# -- reference -----------------------------------------------------------------------


def reference_per_token(hidden, weight, labels, *, label_smoothing=0.0, z_loss=0.0, cap=None):
    """Naive per-token loss: full logits, jax.nn.log_softmax, gather."""
    logits = hidden @ weight
    if cap is not None:
        logits = cap * jnp.tanh(logits / cap)
    log_probs = jax.nn.log_softmax(logits, axis=1)
    lse = jax.nn.logsumexp(logits, axis=1)
    nll = -jnp.take_along_axis(log_probs, labels[:, None], axis=1)[:, 0]
    smooth = -jnp.mean(log_probs, axis=1)
    return (1 - label_smoothing) * nll + label_smoothing * smooth + z_loss * lse**2


def reference_loss(hidden, weight, labels, *, options, weights, where, reduction):
    """The reduced naive loss, with ignore_index and where turned into a mask."""
    kept = np.ones(labels.shape, bool)
    if options.get("ignore_index") is not None:
        kept &= np.asarray(labels) != options["ignore_index"]
    if options.get("where"):
        kept &= np.asarray(where)
    safe_labels = jnp.where(kept, labels, 0)
    values = reference_per_token(
        hidden,
        weight,
        safe_labels,
        label_smoothing=options.get("label_smoothing", 0.0),
        z_loss=options.get("z_loss", 0.0),
        cap=options.get("logit_soft_cap"),
    )
    w = jnp.asarray(kept, values.dtype)
    if options.get("weights"):
        w = w * weights
    values = jnp.where(kept, values, 0.0) * w
    if reduction == "none":
        return values
    if reduction == "sum":
        return jnp.sum(values)
    return jnp.sum(values) / jnp.sum(w)


def fused_loss(hidden, weight, labels, *, options, weights, where, reduction, block_size):
    kwargs = {k: v for k, v in options.items() if k not in ("weights", "where")}
    return lossjax.linear_cross_entropy(
        hidden,
        weight,
        labels,
        block_size=block_size,
        reduction=reduction,
        weights=weights if options.get("weights") else None,
        where=where if options.get("where") else None,
        **kwargs,
    )


def make_problem(n, d, v, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    hidden = (scale * rng.normal(size=(n, d))).astype(np.float32)
    weight = rng.normal(size=(d, v)).astype(np.float32) / np.sqrt(d)
    labels = rng.integers(0, v, size=n).astype(np.int32)
    labels[[1, n - 2]] = -100  # ignored when ignore_index=-100
    weights = rng.uniform(0.1, 2.0, size=n).astype(np.float32)
    where = rng.uniform(size=n) > 0.3
    where[0] = True
    cotangent = rng.normal(size=n).astype(np.float32)
    return hidden, weight, labels, weights, where, cotangent


def assert_close(actual, expected, rtol=RTOL):
    """Relative agreement, with an absolute floor scaled to the array's largest entry."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale + 1e-30)


def value_and_grads(fn, hidden, weight):
    return jax.jit(jax.value_and_grad(fn, argnums=(0, 1)))(hidden, weight)


def check_against_reference(v, block_size, options, reduction, seed=0):
    n, d = 11, 6
    hidden, weight, labels, weights, where, cotangent = make_problem(n, d, v, seed)
    if not options.get("ignore_index"):
        labels = np.where(labels < 0, 3 % v, labels).astype(np.int32)
    common = {"options": options, "weights": weights, "where": where, "reduction": reduction}

    def fused(h, w):
        out = fused_loss(h, w, labels, block_size=block_size, **common)
        return jnp.sum(cotangent * out) if reduction == "none" else out

    value, (d_hidden, d_weight) = value_and_grads(fused, hidden, weight)
    assert value.dtype == jnp.float32 and d_hidden.dtype == jnp.float32

    with jax.enable_x64(True):

        def reference(h, w):
            out = reference_loss(h, w, labels, **common)
            return jnp.sum(cotangent.astype(np.float64) * out) if reduction == "none" else out

        ref_value, (ref_hidden, ref_weight) = value_and_grads(
            reference, hidden.astype(np.float64), weight.astype(np.float64)
        )
        ref_value, ref_hidden, ref_weight = map(np.asarray, (ref_value, ref_hidden, ref_weight))

    np.testing.assert_allclose(value, ref_value, rtol=RTOL)
    assert_close(d_hidden, ref_hidden)
    assert_close(d_weight, ref_weight)
    return d_hidden


# -- equality with the naive loss ---------------------------------------------------


# Every option on the size with a remainder block; the other sizes with no option
# and with all of them at once.
CASES = [(1000, 256, option) for option in OPTIONS] + [
    (v, b, option) for v, b in SIZES[1:] for option in ("plain", "everything")
]


@pytest.mark.parametrize(
    ("v", "block_size", "option"), CASES, ids=[f"V{v}-b{b}-{o}" for v, b, o in CASES]
)
def test_matches_naive_reference_with_nonuniform_cotangent(v, block_size, option):
    """reduction='none' and the gradient of sum(c * losses) for a random c."""
    check_against_reference(v, block_size, OPTIONS[option], "none")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("option", ["plain", "ignore_index", "weights", "everything"])
def test_matches_naive_reference_reduced(reduction, option):
    check_against_reference(1000, 256, OPTIONS[option], reduction, seed=1)


def test_removed_tokens_get_exactly_zero_gradient():
    """ignore_index and where rows: zero hidden gradient, even with NaN in the row."""
    hidden, weight, labels, _, where, _ = make_problem(11, 6, 100, seed=2)
    hidden[~where] = np.nan
    ignored = labels == -100
    hidden[ignored] = np.inf

    def loss(h, w):
        return lossjax.linear_cross_entropy(
            h, w, labels, block_size=32, ignore_index=-100, where=where, label_smoothing=0.1
        )

    value, (d_hidden, d_weight) = value_and_grads(loss, hidden, weight)
    removed = ~where | ignored
    assert np.isfinite(value) and np.all(np.isfinite(d_weight))
    assert np.all(np.asarray(d_hidden)[removed] == 0.0)
    assert np.all(np.isfinite(np.asarray(d_hidden)[~removed]))
    # The same as dropping those rows altogether.
    keep = ~removed
    expected = lossjax.linear_cross_entropy(
        hidden[keep], weight, labels[keep], block_size=32, label_smoothing=0.1
    )
    np.testing.assert_allclose(value, expected, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_ignored_batch_is_zero_without_nan(reduction):
    hidden, weight, _, _, _, _ = make_problem(8, 6, 50, seed=3)
    labels = np.full(8, -1, np.int32)

    def loss(h, w):
        out = lossjax.linear_cross_entropy(
            h, w, labels, block_size=16, ignore_index=-1, reduction=reduction
        )
        return jnp.sum(out)

    value, (d_hidden, d_weight) = value_and_grads(loss, hidden, weight)
    assert value == 0.0
    assert np.all(np.asarray(d_hidden) == 0.0) and np.all(np.asarray(d_weight) == 0.0)


def test_matches_lossjax_sparse_categorical_cross_entropy():
    """Against the library's own naive loss on the materialised logits."""
    hidden, weight, labels, weights, where, cotangent = make_problem(11, 6, 1000, seed=4)

    cases = [
        {"reduction": "mean"},
        {"reduction": "sum", "ignore_index": -100},
        {"reduction": "mean", "label_smoothing": 0.3, "ignore_index": -100, "weights": weights},
        {"reduction": "none", "where": where, "ignore_index": -100, "label_smoothing": 0.1},
    ]
    for kwargs in cases:
        labels_used = labels if "ignore_index" in kwargs else np.maximum(labels, 0)

        def fused(h, w, kwargs=kwargs, labels_used=labels_used):
            out = lossjax.linear_cross_entropy(h, w, labels_used, block_size=256, **kwargs)
            return jnp.sum(cotangent * out) if kwargs["reduction"] == "none" else out

        def naive(h, w, kwargs=kwargs, labels_used=labels_used):
            out = lossjax.sparse_categorical_cross_entropy(h @ w, labels_used, **kwargs)
            return jnp.sum(cotangent * out) if kwargs["reduction"] == "none" else out

        value, (d_hidden, d_weight) = value_and_grads(fused, hidden, weight)
        ref_value, (ref_hidden, ref_weight) = value_and_grads(naive, hidden, weight)
        np.testing.assert_allclose(value, ref_value, rtol=RTOL)
        assert_close(d_hidden, ref_hidden)
        assert_close(d_weight, ref_weight)


def test_hyperparameter_gradients_match_reference():
    """label_smoothing, z_loss and logit_soft_cap may be traced and differentiated."""
    hidden, weight, labels, _, _, cotangent = make_problem(9, 5, 70, seed=5)
    labels = np.maximum(labels, 0)

    def fused(eps, z, cap):
        out = lossjax.linear_cross_entropy(
            hidden,
            weight,
            labels,
            block_size=16,
            label_smoothing=eps,
            z_loss=z,
            logit_soft_cap=cap,
            reduction="none",
        )
        return jnp.sum(cotangent * out)

    grads = jax.jit(jax.grad(fused, argnums=(0, 1, 2)))(0.2, 0.01, 1.5)
    with jax.enable_x64(True):

        def reference(eps, z, cap):
            out = reference_per_token(
                hidden.astype(np.float64),
                weight.astype(np.float64),
                jnp.asarray(labels),
                label_smoothing=eps,
                z_loss=z,
                cap=cap,
            )
            return jnp.sum(cotangent.astype(np.float64) * out)

        ref = jax.jit(jax.grad(reference, argnums=(0, 1, 2)))(0.2, 0.01, 1.5)
        ref = [float(r) for r in ref]
    for g, r in zip(grads, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=RTOL)


def test_check_grads_reverse_mode(x64):
    hidden, weight, labels, _, _, _ = make_problem(5, 4, 23, seed=6)
    labels = np.maximum(labels, 0)

    def loss(h, w):
        return lossjax.linear_cross_entropy(
            h, w, labels, block_size=7, label_smoothing=0.1, z_loss=0.01, logit_soft_cap=3.0
        )

    check_grads(
        jax.jit(loss),
        (hidden.astype(np.float64), weight.astype(np.float64)),
        order=1,
        modes=["rev"],
    )


def test_float64_stays_float64(x64):
    hidden, weight, labels, _, _, _ = make_problem(7, 4, 30, seed=7)
    labels = np.maximum(labels, 0)
    h, w = hidden.astype(np.float64), weight.astype(np.float64)
    out = lossjax.linear_cross_entropy(h, w, labels, block_size=8, reduction="none")
    assert out.dtype == jnp.float64
    ref = reference_per_token(h, w, jnp.asarray(labels))
    np.testing.assert_allclose(out, ref, rtol=1e-12)


# -- transformations ----------------------------------------------------------------


def test_vmap_over_batches_matches_loop():
    hidden, weight, labels, _, _, _ = make_problem(12, 5, 40, seed=8)
    labels = np.maximum(labels, 0)
    hs, ys = hidden.reshape(3, 4, 5), labels.reshape(3, 4)

    def loss(h, w, y):
        return lossjax.linear_cross_entropy(h, w, y, block_size=16, z_loss=1e-3)

    step = jax.value_and_grad(loss, argnums=(0, 1))
    values, (d_hidden, d_weight) = jax.jit(jax.vmap(step, (0, None, 0)))(hs, weight, ys)
    for i in range(3):
        value, (dh, dw) = jax.jit(step)(hs[i], weight, ys[i])
        np.testing.assert_allclose(values[i], value, rtol=1e-6)
        assert_close(d_hidden[i], dh, rtol=1e-6)
        assert_close(d_weight[i], dw, rtol=1e-6)


def test_vmap_over_a_hyperparameter_sweep():
    hidden, weight, labels, _, _, _ = make_problem(6, 4, 20, seed=9)
    labels = np.maximum(labels, 0)

    def loss(z):
        return lossjax.linear_cross_entropy(hidden, weight, labels, block_size=8, z_loss=z)

    sweep = jnp.array([0.0, 0.01, 0.1])
    values = jax.jit(jax.vmap(loss))(sweep)
    expected = [jax.jit(loss)(z) for z in sweep]
    np.testing.assert_allclose(values, expected, rtol=1e-6)


@pytest.mark.multi_device
def test_shard_map_with_axis_name_equals_single_device():
    """8 devices with different masks and weights: the exact global mean and gradients."""
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    n_dev = jax.device_count()
    hidden, weight, labels, weights, _, _ = make_problem(2 * n_dev, 5, 37, seed=11)
    where = np.arange(2 * n_dev) % 3 != 0  # devices keep 1 or 2 tokens, some none
    where[:2] = False
    mesh = jax.make_mesh((n_dev,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    kwargs = {"block_size": 8, "ignore_index": -100, "label_smoothing": 0.1, "z_loss": 1e-3}

    def single(h, w):
        return lossjax.linear_cross_entropy(h, w, labels, weights=weights, where=where, **kwargs)

    def local(h, w, y, c, m):
        return lossjax.linear_cross_entropy(h, w, y, weights=c, where=m, axis_name="data", **kwargs)

    def sharded(h, w):
        specs = (P("data"), P(), P("data"), P("data"), P("data"))
        return jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=P())(
            h, w, labels, weights, where
        )

    value, (d_hidden, d_weight) = value_and_grads(single, hidden, weight)
    got, (got_hidden, got_weight) = value_and_grads(sharded, hidden, weight)
    np.testing.assert_allclose(got, value, rtol=1e-6)
    assert_close(got_hidden, d_hidden, rtol=1e-6)
    assert_close(got_weight, d_weight, rtol=1e-6)

    # Plain jit over sharded inputs needs no axis_name.
    placed = jax.device_put(hidden, NamedSharding(mesh, P("data")))
    got, (got_hidden, got_weight) = value_and_grads(single, placed, weight)
    np.testing.assert_allclose(got, value, rtol=1e-6)
    assert_close(got_hidden, d_hidden, rtol=1e-6)
    assert_close(got_weight, d_weight, rtol=1e-6)


# -- low precision ------------------------------------------------------------------


def test_bfloat16_with_logits_near_1e3_within_one_percent_of_float32():
    rng = np.random.default_rng(10)
    n, d, v = 16, 32, 300
    hidden = jnp.asarray(rng.normal(size=(n, d)) * 30.0, jnp.bfloat16)
    weight = jnp.asarray(rng.normal(size=(d, v)) * 30.0 / np.sqrt(d), jnp.bfloat16)
    labels = rng.integers(0, v, size=n).astype(np.int32)
    logits = np.asarray(hidden, np.float32) @ np.asarray(weight, np.float32)
    assert 300 < np.max(np.abs(logits)) < 1e4  # logits of order 1e3

    def loss(h, w):
        return lossjax.linear_cross_entropy(h, w, labels, block_size=64, label_smoothing=0.1)

    value, (d_hidden, d_weight) = value_and_grads(loss, hidden, weight)
    assert value.dtype == jnp.float32
    assert d_hidden.dtype == jnp.bfloat16 and d_weight.dtype == jnp.bfloat16
    h32, w32 = hidden.astype(jnp.float32), weight.astype(jnp.float32)
    ref_value, (ref_hidden, ref_weight) = value_and_grads(loss, h32, w32)
    np.testing.assert_allclose(value, ref_value, rtol=1e-2)
    assert_close(d_hidden, ref_hidden, rtol=1e-2)
    assert_close(d_weight, ref_weight, rtol=1e-2)


@settings(max_examples=8, deadline=None)
@given(
    dtype=st.sampled_from([jnp.float16, jnp.bfloat16, jnp.float32]),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 100.0]),
    block_size=st.integers(1, 40),
    seed=st.integers(0, 1000),
)
def test_finite_values_and_gradients_at_extreme_logits(dtype, scale, block_size, seed):
    hidden, weight, labels, _, _, _ = make_problem(6, 8, 33, seed=seed, scale=scale)
    h, w = jnp.asarray(hidden, dtype), jnp.asarray(weight * scale, dtype)

    def loss(h, w):
        return lossjax.linear_cross_entropy(
            h, w, labels, block_size=block_size, ignore_index=-100, z_loss=1e-4
        )

    value, (d_hidden, d_weight) = value_and_grads(loss, h, w)
    assert np.isfinite(value)
    assert np.all(np.isfinite(np.asarray(d_weight, np.float32)))
    assert np.all(np.isfinite(np.asarray(d_hidden, np.float32)))


# -- argument checks ----------------------------------------------------------------


def _args(n=4, d=3, v=10):
    hidden, weight, labels, _, _, _ = make_problem(n, d, v)
    return hidden, weight, np.maximum(labels, 0)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda h, w, y: (h[0], w, y, {}), ValueError, "hidden"),
        (lambda h, w, y: (h, w[0], y, {}), ValueError, "weight"),
        (lambda h, w, y: (h, w[:2], y, {}), ValueError, r"hidden.shape=\(4, 3\).*weight.shape"),
        (lambda h, w, y: (h, w, y.astype(np.float32), {}), TypeError, "labels"),
        (lambda h, w, y: (h, w, y[:3], {}), ValueError, "labels"),
        (lambda h, w, y: (h, w, y[:, None], {}), ValueError, "labels"),
        (lambda h, w, y: (h.astype(np.int32), w, y, {}), TypeError, "hidden"),
        (lambda h, w, y: (h, w, y, {"block_size": 0}), ValueError, "block_size"),
        (lambda h, w, y: (h, w, y, {"block_size": 2.5}), TypeError, "block_size"),
        (lambda h, w, y: (h, w, y, {"block_size": True}), TypeError, "block_size"),
        (lambda h, w, y: (h, w, y, {"z_loss": -0.1}), ValueError, "z_loss"),
        (lambda h, w, y: (h, w, y, {"label_smoothing": 1.5}), ValueError, "label_smoothing"),
        (lambda h, w, y: (h, w, y, {"label_smoothing": -0.1}), ValueError, "label_smoothing"),
        (lambda h, w, y: (h, w, y, {"logit_soft_cap": 0.0}), ValueError, "logit_soft_cap"),
        (lambda h, w, y: (h, w, y, {"logit_soft_cap": -2.0}), ValueError, "logit_soft_cap"),
        (lambda h, w, y: (h, w, y, {"z_loss": np.ones(2)}), TypeError, "`z_loss` must be a scalar"),
        (lambda h, w, y: (h, w, y, {"ignore_index": 1.5}), TypeError, "ignore_index"),
        (lambda h, w, y: (h, w, y, {"reduction": "avg"}), ValueError, "reduction"),
        (lambda h, w, y: (h, w, y, {"where": np.ones(3, bool)}), ValueError, "where"),
        (lambda h, w, y: (h, w, y, {"weights": np.ones(3)}), ValueError, "weights"),
    ],
)
def test_errors_name_the_argument(change, error, match):
    hidden, weight, labels, kwargs = change(*_args())
    with pytest.raises(error, match=match):
        lossjax.linear_cross_entropy(hidden, weight, labels, **kwargs)


def test_default_block_size_handles_a_vocabulary_that_is_not_a_multiple_of_it():
    """Without block_size, a vocabulary of one full block plus a remainder (and one
    smaller than a block) gives the naive loss and gradients."""
    default = inspect.signature(lossjax.linear_cross_entropy).parameters["block_size"].default
    assert isinstance(default, int) and default > 0
    for v in (default + default // 3 + 1, max(default // 3, 1)):
        hidden, weight, labels, _, _, cotangent = make_problem(3, 4, v, seed=12)
        labels = np.maximum(labels, 0)

        def fused(h, w, labels=labels, c=cotangent):
            return jnp.sum(c * lossjax.linear_cross_entropy(h, w, labels, reduction="none"))

        def naive(h, w, labels=labels, c=cotangent):
            return jnp.sum(c * reference_per_token(h, w, labels))

        value, (d_hidden, d_weight) = value_and_grads(fused, hidden, weight)
        ref_value, (ref_hidden, ref_weight) = value_and_grads(naive, hidden, weight)
        np.testing.assert_allclose(value, ref_value, rtol=RTOL)
        assert_close(d_hidden, ref_hidden)
        assert_close(d_weight, ref_weight)
