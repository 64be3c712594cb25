"""Token-level losses: per-token, per-sequence and packed normalisation, exact accumulation.

Specification of ``reduce_loss(..., normalize_by=, segment_ids=)``, ``reduction="count"``
and ``lossjax.sum_and_count`` against float64 NumPy references written here; the
gradient-accumulation exactness (uneven padding, k micro-batches, one device and 8
devices); sparse cross-entropy's ``z_loss``/``logit_soft_cap``; the sequence
log-probabilities (plain and fused).
"""

from __future__ import annotations

import doctest
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

import lossjax
from lossjax import _sequence
from lossjax._reduction import reduce_loss

# Not yet re-exported by lossjax/__init__.py when this file was written.
sequence_log_probs = getattr(lossjax, "sequence_log_probs", _sequence.sequence_log_probs)
linear_sequence_log_probs = getattr(
    lossjax, "linear_sequence_log_probs", _sequence.linear_sequence_log_probs
)
sum_and_count = getattr(lossjax, "sum_and_count", _sequence.sum_and_count)

N_DEVICES = 8


# -- float64 references ------------------------------------------------------------------


def ref_reduce(
    values, weights=None, where=None, segment_ids=None, normalize_by="tokens", reduction="mean"
):
    """The reduction, written with loops over sequences, in float64."""
    v = np.asarray(values, np.float64)
    w = np.ones_like(v) if weights is None else np.broadcast_to(weights, v.shape).astype(float)
    m = np.ones(v.shape, bool) if where is None else np.broadcast_to(where, v.shape).copy()
    if segment_ids is not None:
        m &= np.asarray(segment_ids) != 0
    w = np.where(m, w, 0.0)
    v = np.where(m, v, 0.0)
    if normalize_by == "tokens":
        if reduction == "none":
            return v * w
        if reduction == "sum":
            return (v * w).sum()
        if reduction == "count":
            return w.sum()
        return (v * w).sum() / w.sum() if w.sum() != 0 else 0.0
    length = v.shape[-1]
    rows_v, rows_w = v.reshape(-1, length), w.reshape(-1, length)
    rows_s = (
        np.ones_like(rows_v, int)
        if segment_ids is None
        else np.asarray(segment_ids).reshape(-1, length)
    )
    means, shares = [], np.zeros_like(rows_v)
    for r in range(rows_v.shape[0]):
        for sid in np.unique(rows_s[r]):
            tokens = rows_s[r] == sid
            den = rows_w[r, tokens].sum()
            if den == 0:
                continue
            means.append((rows_v[r, tokens] * rows_w[r, tokens]).sum() / den)
            shares[r, tokens] = rows_v[r, tokens] * rows_w[r, tokens] / den
    if reduction == "none":
        return shares.reshape(v.shape)
    if reduction == "sum":
        return float(np.sum(means))
    if reduction == "count":
        return float(len(means))
    return float(np.mean(means)) if means else 0.0


def ref_mean_gradient(weights, where, segment_ids, normalize_by, shape):
    """d mean / d values: w_t / sum(w) for tokens, w_t / (den_s * S) for sequences."""
    w = np.ones(shape) if weights is None else np.broadcast_to(weights, shape).astype(float)
    m = np.ones(shape, bool) if where is None else np.broadcast_to(where, shape).copy()
    if segment_ids is not None:
        m &= np.asarray(segment_ids) != 0
    w = np.where(m, w, 0.0)
    if normalize_by == "tokens":
        return w / w.sum()
    seg = np.ones(shape, int) if segment_ids is None else np.asarray(segment_ids)
    rows_w, rows_s = w.reshape(-1, shape[-1]), seg.reshape(-1, shape[-1])
    grad = np.zeros_like(rows_w)
    count = 0
    for r in range(rows_w.shape[0]):
        for sid in np.unique(rows_s[r]):
            tokens = rows_s[r] == sid
            den = rows_w[r, tokens].sum()
            if den > 0:
                grad[r, tokens] = rows_w[r, tokens] / den
                count += 1
    return (grad / count).reshape(shape)


def _softmax64(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _lse64(z):
    z = np.asarray(z, np.float64)
    m = z.max(-1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(-1, keepdims=True)))[..., 0]


def _packed_case(seed=0, shape=(2, 3, 9)):
    """Values, weights, a padding mask and packed segment ids (non-contiguous ids too)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape).astype(np.float32) * 3
    weights = rng.uniform(0.2, 2.0, size=shape).astype(np.float32)
    where = rng.uniform(size=shape) < 0.8
    segments = np.zeros(shape, np.int32)
    flat = segments.reshape(-1, shape[-1])
    for r in range(flat.shape[0]):
        cuts = np.sort(rng.choice(np.arange(1, shape[-1]), size=2, replace=False))
        ids = np.concatenate(
            [np.full(cuts[0], 3), np.full(cuts[1] - cuts[0], 1), np.zeros(shape[-1] - cuts[1], int)]
        )
        flat[r] = ids
    flat[0, -1] = 3  # an id that comes back after another one: still the same sequence
    flat[1] = 0  # a row of padding only
    return values, weights, where, segments


# -- reduce_loss: the normalisations --------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "count"])
@pytest.mark.parametrize("normalize_by", ["tokens", "sequences"])
@pytest.mark.parametrize("packed", [False, True], ids=["rows", "packed"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_reduce_loss_matches_float64_reference(reduction, normalize_by, packed, weighted):
    values, weights, where, segments = _packed_case()
    kwargs = dict(
        weights=weights if weighted else None,
        where=where,
        segment_ids=segments if packed else None,
        normalize_by=normalize_by,
        reduction=reduction,
    )
    got = reduce_loss(jnp.asarray(values), **kwargs)
    want = ref_reduce(values, **kwargs)
    np.testing.assert_allclose(np.asarray(got), want, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("normalize_by", ["tokens", "sequences"])
@pytest.mark.parametrize("packed", [False, True], ids=["rows", "packed"])
def test_mean_gradient_matches_reference(normalize_by, packed):
    values, weights, where, segments = _packed_case(1)
    seg = segments if packed else None
    grad = jax.grad(
        lambda v: reduce_loss(
            v, weights=weights, where=where, segment_ids=seg, normalize_by=normalize_by
        )
    )(jnp.asarray(values))
    want = ref_mean_gradient(weights, where, seg, normalize_by, values.shape)
    np.testing.assert_allclose(grad, want, rtol=2e-6, atol=1e-8)


@pytest.mark.parametrize("normalize_by", ["tokens", "sequences"])
@pytest.mark.parametrize("packed", [False, True], ids=["rows", "packed"])
def test_mean_is_sum_over_count_and_none_sums_to_sum(normalize_by, packed):
    values, weights, where, segments = _packed_case(2)
    kw = dict(
        weights=weights,
        where=where,
        normalize_by=normalize_by,
        segment_ids=segments if packed else None,
    )
    v = jnp.asarray(values)
    mean, total, count = (reduce_loss(v, reduction=r, **kw) for r in ("mean", "sum", "count"))
    np.testing.assert_allclose(mean, total / count, rtol=1e-6)
    np.testing.assert_allclose(jnp.sum(reduce_loss(v, reduction="none", **kw)), total, rtol=1e-5)


def test_sequences_differ_from_tokens_and_rows_are_sequences():
    # Sequence 1: four tokens of loss 1; sequence 2: one token of loss 10.
    v = jnp.array([[1.0, 1.0, 1.0, 1.0], [10.0, 0.0, 0.0, 0.0]])
    kept = jnp.array([[True] * 4, [True, False, False, False]])
    assert float(reduce_loss(v, where=kept)) == pytest.approx(14 / 5)
    assert float(reduce_loss(v, where=kept, normalize_by="sequences")) == pytest.approx(5.5)
    # Leading axes are all batch: a [2, 1, 4] array has the same two sequences.
    got = reduce_loss(v[:, None], where=kept[:, None], normalize_by="sequences")
    assert float(got) == pytest.approx(5.5)


def test_segment_ids_act_as_a_padding_mask_for_tokens():
    values, _, _, segments = _packed_case(3)
    got = reduce_loss(jnp.asarray(values), segment_ids=segments)
    np.testing.assert_allclose(got, values[segments != 0].astype(np.float64).mean(), rtol=1e-6)


def test_sequences_without_kept_tokens_count_nothing_and_nan_behind_where_is_harmless():
    v = jnp.array([[1.0, jnp.nan, 3.0], [jnp.inf, jnp.nan, 2.0]])
    where = jnp.array([[True, False, True], [False, False, False]])
    for reduction in ("mean", "sum", "count"):
        value, grad = jax.value_and_grad(
            lambda x, r=reduction: reduce_loss(
                x, where=where, normalize_by="sequences", reduction=r
            )
        )(v)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert float(reduce_loss(v, where=where, normalize_by="sequences", reduction="count")) == 1.0
    nothing = jnp.zeros((2, 3), bool)
    value, grad = jax.value_and_grad(
        lambda x: reduce_loss(x, where=nothing, normalize_by="sequences")
    )(v)
    assert float(value) == 0.0 and not np.any(grad)


def test_jit_and_vmap():
    values, weights, where, segments = _packed_case(4)
    f = jax.jit(
        lambda v: reduce_loss(
            v, weights=weights, where=where, segment_ids=segments, normalize_by="sequences"
        )
    )
    np.testing.assert_allclose(
        f(jnp.asarray(values)),
        ref_reduce(values, weights, where, segments, "sequences"),
        rtol=2e-6,
    )
    per_row = jax.vmap(
        lambda v, s: reduce_loss(v, segment_ids=s, normalize_by="sequences", reduction="sum")
    )(jnp.asarray(values[0]), jnp.asarray(segments[0]))
    want = [
        ref_reduce(
            values[0, i], segment_ids=segments[0, i], normalize_by="sequences", reduction="sum"
        )
        for i in range(values.shape[1])
    ]
    np.testing.assert_allclose(per_row, want, rtol=2e-6, atol=1e-6)


# -- count and sum_and_count for every kind of loss ---------------------------------------------


def _some_losses():
    rng = np.random.default_rng(5)
    logits = jnp.asarray(rng.normal(size=(3, 5, 7)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 7, size=(3, 5)))
    mask = jnp.asarray(rng.uniform(size=(3, 5)) < 0.7)
    weights = jnp.asarray(rng.uniform(0.5, 2.0, size=(3, 5)), jnp.float32)
    hidden = jnp.asarray(rng.normal(size=(15, 4)), jnp.float32)
    proj = jnp.asarray(rng.normal(size=(4, 7)), jnp.float32)
    x = jnp.asarray(rng.normal(size=(3, 5)), jnp.float32)
    return (
        [
            (
                lossjax.sparse_categorical_cross_entropy,
                (logits, labels),
                dict(class_weights=jnp.arange(1.0, 8.0)),
            ),
            (lossjax.categorical_cross_entropy, (logits, jax.nn.softmax(2 * logits)), {}),
            (lossjax.categorical_focal_loss, (logits, labels), {}),
            (lossjax.kl_divergence, (logits, jax.nn.softmax(logits[::-1])), {}),
            (lossjax.distillation_loss, (logits, 2 * logits), dict(kind="jsd")),
            (lossjax.linear_cross_entropy, (hidden, proj, labels.reshape(-1)), dict(block_size=3)),
            (lossjax.mean_squared_error, (x, x[::-1]), {}),
            (lossjax.binary_cross_entropy, (x, (x > 0).astype(jnp.float32)), {}),
        ],
        mask,
        weights,
    )


@pytest.mark.parametrize("normalize_by", ["tokens", "sequences"])
def test_count_and_sum_and_count_for_several_losses(normalize_by):
    losses, mask, weights = _some_losses()
    for fn, args, kwargs in losses:
        m, w = mask, weights
        if fn is lossjax.linear_cross_entropy:
            m, w = mask.reshape(-1), weights.reshape(-1)
        if normalize_by == "sequences" and fn in (
            lossjax.mean_squared_error,
            lossjax.binary_cross_entropy,
        ):
            continue  # elementwise losses take no `normalize_by`
        if normalize_by == "sequences":
            kwargs = {**kwargs, "normalize_by": normalize_by}
        total, count = sum_and_count(fn, *args, where=m, weights=w, **kwargs)
        mean = fn(*args, where=m, weights=w, **kwargs)
        np.testing.assert_allclose(mean, total / count, rtol=2e-6, err_msg=fn.__name__)
        np.testing.assert_allclose(
            count, fn(*args, where=m, weights=w, reduction="count", **kwargs)
        )


@pytest.mark.parametrize(
    "name",
    [
        "sparse_categorical_cross_entropy",
        "categorical_cross_entropy",
        "categorical_focal_loss",
        "kl_divergence",
        "distillation_loss",
    ],
)
def test_token_level_losses_pass_normalize_and_segment_ids_to_reduce_loss(name):
    losses, _, _ = _some_losses()
    fn, args, kwargs = next(item for item in losses if item[0].__name__ == name)
    # Class weights are token weights: "none" returns w * l, the per-sequence mean divides by w.
    kwargs = {k: v for k, v in kwargs.items() if k != "class_weights"}
    _, _, _, segments = _packed_case(6, shape=(3, 5))
    per_token = fn(*args, reduction="none", **kwargs)
    for reduction in ("mean", "sum", "count", "none"):
        got = fn(
            *args, normalize_by="sequences", segment_ids=segments, reduction=reduction, **kwargs
        )
        want = reduce_loss(
            per_token, normalize_by="sequences", segment_ids=segments, reduction=reduction
        )
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_linear_cross_entropy_takes_packed_sequences():
    losses, _, _ = _some_losses()
    fn, args, kwargs = next(item for item in losses if item[0] is lossjax.linear_cross_entropy)
    segments = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 0, 0, 4, 4, 4], np.int32)
    got = fn(*args, normalize_by="sequences", segment_ids=segments, **kwargs)
    per_token = np.asarray(fn(*args, reduction="none", **kwargs), np.float64)
    want = np.mean([per_token[segments == s].mean() for s in (1, 2, 3, 4)])
    np.testing.assert_allclose(got, want, rtol=2e-6)


# -- exact gradient accumulation ----------------------------------------------------------------

VOCAB, DIM, LENGTH, BATCH = 11, 4, 6, 32


def _lm_problem():
    """A tiny causal token model and a batch with very uneven padding."""
    rng = np.random.default_rng(11)
    params = {
        "embed": jnp.asarray(rng.normal(size=(VOCAB, DIM)), jnp.float32),
        "out": jnp.asarray(rng.normal(size=(DIM, VOCAB)), jnp.float32),
    }
    tokens = jnp.asarray(rng.integers(0, VOCAB, size=(BATCH, LENGTH + 1)))
    # Lengths 1 or LENGTH in runs, so micro-batches hold very different token counts.
    lengths = np.where((np.arange(BATCH) // 4) % 3 == 0, LENGTH, 1)
    lengths[5] = 3
    mask = jnp.asarray(np.arange(LENGTH)[None, :] < lengths[:, None])
    return params, tokens, mask


def _lm_loss(params, tokens, mask, *, normalize_by, reduction="mean", axis_name=None):
    logits = jnp.tanh(params["embed"][tokens[:, :-1]]) @ params["out"]
    return lossjax.sparse_categorical_cross_entropy(
        logits,
        tokens[:, 1:],
        where=mask,
        normalize_by=normalize_by,
        reduction=reduction,
        axis_name=axis_name,
    )


def _accumulate(grad_sum_and_count, params, tokens, mask, k):
    """The hand-written loop: sum the micro-batches' gradients of `sum` and their counts."""
    grads, count = jax.tree.map(jnp.zeros_like, params), 0.0
    for tok, m in zip(jnp.split(tokens, k), jnp.split(mask, k), strict=True):
        g, c = grad_sum_and_count(params, tok, m)
        grads, count = jax.tree.map(jnp.add, grads, g), count + c
    return jax.tree.map(lambda g: g / count, grads)


def _assert_tree_close(got, want, rtol=2e-6, atol=2e-7):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("normalize_by", ["tokens", "sequences"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_accumulation_is_exact_on_one_device(k, normalize_by):
    params, tokens, mask = _lm_problem()
    full = jax.grad(_lm_loss)(params, tokens, mask, normalize_by=normalize_by)

    @jax.jit
    def grad_sum_and_count(p, tok, m):
        g = jax.grad(_lm_loss)(p, tok, m, normalize_by=normalize_by, reduction="sum")
        return g, _lm_loss(p, tok, m, normalize_by=normalize_by, reduction="count")

    _assert_tree_close(_accumulate(grad_sum_and_count, params, tokens, mask, k), full)
    if k > 1 and normalize_by == "tokens":  # the naive mean of micro-batch means is different
        # (per sequence it is not: every micro-batch holds as many sequences here)
        means = [
            jax.grad(_lm_loss)(params, t, m, normalize_by=normalize_by)
            for t, m in zip(jnp.split(tokens, k), jnp.split(mask, k), strict=True)
        ]
        naive = jax.tree.map(lambda *g: sum(g) / k, *means)
        assert not np.allclose(naive["out"], full["out"], rtol=1e-3)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_accumulation_with_optax_multisteps(k):
    params, tokens, mask = _lm_problem()
    full = jax.grad(_lm_loss)(params, tokens, mask, normalize_by="tokens")
    total = float(_lm_loss(params, tokens, mask, normalize_by="tokens", reduction="count"))
    # MultiSteps sums the micro-gradients with use_grad_mean=False; each is the
    # gradient of its `sum` over the whole batch's count, known up front.
    optimizer = optax.MultiSteps(optax.sgd(1.0), every_k_schedule=k, use_grad_mean=False)
    state = optimizer.init(params)
    micro_sum = functools.partial(_lm_loss, normalize_by="tokens", reduction="sum")
    micro_grad = jax.grad(lambda p, t, m: micro_sum(p, t, m) / total)
    for tok, m in zip(jnp.split(tokens, k), jnp.split(mask, k), strict=True):
        g = micro_grad(params, tok, m)
        updates, state = optimizer.update(g, state, params)
    _assert_tree_close(jax.tree.map(jnp.negative, updates), full)


@pytest.mark.multi_device
@pytest.mark.parametrize("normalize_by", ["tokens", "sequences"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_accumulation_is_exact_on_8_devices(k, normalize_by):
    params, tokens, mask = _lm_problem()
    full = jax.grad(_lm_loss)(params, tokens, mask, normalize_by=normalize_by)
    mesh = jax.make_mesh((N_DEVICES,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))

    def sharded(reduction):
        return jax.shard_map(
            lambda p, t, m: _lm_loss(
                p, t, m, normalize_by=normalize_by, reduction=reduction, axis_name="data"
            ),
            mesh=mesh,
            in_specs=(P(), P("data"), P("data")),
            out_specs=P(),
        )

    @jax.jit
    def grad_sum_and_count(p, tok, m):
        return jax.grad(sharded("sum"))(p, tok, m), sharded("count")(p, tok, m)

    _assert_tree_close(_accumulate(grad_sum_and_count, params, tokens, mask, k), full)


@pytest.mark.multi_device
@pytest.mark.parametrize("reduction", ["mean", "sum", "count"])
def test_packed_sequences_with_axis_name_equal_one_device(reduction):
    values, weights, where, segments = _packed_case(8, shape=(8, 2, 9))
    mesh = jax.make_mesh((N_DEVICES,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))

    def local(v, w, m, s):
        return reduce_loss(
            v,
            weights=w,
            where=m,
            segment_ids=s,
            normalize_by="sequences",
            reduction=reduction,
            axis_name="data",
        )

    f = jax.shard_map(local, mesh=mesh, in_specs=(P("data"),) * 4, out_specs=P())
    got, grad = jax.jit(jax.value_and_grad(f))(jnp.asarray(values), weights, where, segments)
    want, want_grad = jax.value_and_grad(
        lambda v: reduce_loss(
            v,
            weights=weights,
            where=where,
            segment_ids=segments,
            normalize_by="sequences",
            reduction=reduction,
        )
    )(jnp.asarray(values))
    np.testing.assert_allclose(got, want, rtol=2e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=2e-6, atol=1e-8)


# -- sparse cross-entropy: z_loss and the logit soft cap ----------------------------------------


def _ref_sparse_ce(z, y, z_loss=0.0, cap=None, eps=0.0):
    z = np.asarray(z, np.float64)
    if cap is not None:
        z = cap * np.tanh(z / cap)
    lse = _lse64(z)
    z_y = np.take_along_axis(z, np.asarray(y)[..., None], -1)[..., 0]
    return lse - (1 - eps) * z_y - eps * z.mean(-1) + z_loss * lse**2


def _ref_sparse_ce_grad(z, y, z_loss, cap):
    """d sum(loss) / d z for the z-loss and soft cap (no smoothing), in float64."""
    z = np.asarray(z, np.float64)
    t = np.tanh(z / cap)
    s = cap * t
    lse = _lse64(s)
    d_s = _softmax64(s) * (1 + 2 * z_loss * lse)[..., None] - np.eye(z.shape[-1])[np.asarray(y)]
    return d_s * (1 - t**2)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(z_loss=1e-3),
        dict(logit_soft_cap=3.0),
        dict(z_loss=0.2, logit_soft_cap=2.0),
        dict(z_loss=0.1, logit_soft_cap=5.0, label_smoothing=0.2),
    ],
)
def test_sparse_ce_z_loss_and_soft_cap_match_reference_and_linear_ce(kwargs):
    rng = np.random.default_rng(12)
    hidden = rng.normal(size=(10, 5)).astype(np.float32)
    weight = (3 * rng.normal(size=(5, 9))).astype(np.float32)
    labels = rng.integers(0, 9, size=10)
    logits = hidden.astype(np.float64) @ weight.astype(np.float64)
    got = lossjax.sparse_categorical_cross_entropy(
        jnp.asarray(hidden) @ jnp.asarray(weight), labels, reduction="none", **kwargs
    )
    want = _ref_sparse_ce(
        logits,
        labels,
        kwargs.get("z_loss", 0.0),
        kwargs.get("logit_soft_cap"),
        kwargs.get("label_smoothing", 0.0),
    )
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)
    fused = lossjax.linear_cross_entropy(
        hidden, weight, labels, block_size=4, reduction="none", **kwargs
    )
    np.testing.assert_allclose(got, fused, rtol=1e-5, atol=1e-5)
    g_sparse = jax.grad(
        lambda h, w: lossjax.sparse_categorical_cross_entropy(h @ w, labels, **kwargs), (0, 1)
    )
    g_fused = jax.grad(
        lambda h, w: lossjax.linear_cross_entropy(h, w, labels, block_size=4, **kwargs), (0, 1)
    )
    for a, b in zip(g_sparse(hidden, weight), g_fused(hidden, weight), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_sparse_ce_z_loss_and_soft_cap_gradient_matches_reference():
    rng = np.random.default_rng(13)
    z = (4 * rng.normal(size=(2, 3, 6))).astype(np.float32)
    y = rng.integers(0, 6, size=(2, 3))
    grad = jax.grad(
        lambda x: lossjax.sparse_categorical_cross_entropy(
            x, y, z_loss=0.3, logit_soft_cap=2.5, reduction="sum"
        )
    )(jnp.asarray(z))
    np.testing.assert_allclose(grad, _ref_sparse_ce_grad(z, y, 0.3, 2.5), rtol=2e-5, atol=1e-6)
    # Traced and differentiable: d loss / d z_loss = lse^2.
    d_zeta = jax.grad(
        lambda c: lossjax.sparse_categorical_cross_entropy(
            jnp.asarray(z), y, z_loss=c, reduction="sum"
        )
    )(0.0)
    np.testing.assert_allclose(d_zeta, np.sum(_lse64(z) ** 2), rtol=1e-5)


def test_sparse_ce_soft_cap_keeps_excluded_classes_excluded():
    z = jnp.array([[2.0, -jnp.inf, 0.5]])
    got = lossjax.sparse_categorical_cross_entropy(
        z, jnp.array([0]), logit_soft_cap=1.0, reduction="none"
    )
    np.testing.assert_allclose(got, _ref_sparse_ce(np.array([[2.0, 0.5]]), [0], cap=1.0), rtol=1e-6)
    masked = lossjax.sparse_categorical_cross_entropy(
        jnp.array([[2.0, jnp.nan, 0.5]]),
        jnp.array([0]),
        logit_soft_cap=1.0,
        z_loss=0.1,
        class_mask=jnp.array([True, False, True]),
    )
    assert np.isfinite(masked)


def test_sparse_ce_z_loss_and_soft_cap_refuse_probabilities():
    p = jnp.full((2, 3), 1 / 3)
    for kwargs in (dict(z_loss=0.1), dict(logit_soft_cap=2.0)):
        with pytest.raises(
            ValueError,
            match=r"lossjax: `z_loss` and `logit_soft_cap` act on "
            r"logits.*from_logits=False",
        ):
            lossjax.sparse_categorical_cross_entropy(
                p, jnp.array([0, 1]), from_logits=False, **kwargs
            )
    with pytest.raises(ValueError, match="z_loss"):
        lossjax.sparse_categorical_cross_entropy(p, jnp.array([0, 1]), z_loss=-1.0)
    with pytest.raises(ValueError, match="logit_soft_cap"):
        lossjax.sparse_categorical_cross_entropy(p, jnp.array([0, 1]), logit_soft_cap=0.0)


def test_registry_declares_the_new_options_once():
    from lossjax import _registry

    scce, lce = lossjax.info("scce"), lossjax.info("linear_cross_entropy")
    for name in ("z_loss", "logit_soft_cap"):  # one declaration (_registry.Z_LOSS, ...)
        assert scce.hyperparameter(name) == lce.hyperparameter(name)
    assert scce.hyperparameter("logit_soft_cap").valid == "None or > 0"
    assert {h.name for h in scce.hyperparameters}.isdisjoint(_registry.SEQUENCE_ARGUMENTS)
    bound = lossjax.get("scce", normalize_by="sequences")
    assert bound.keywords == {"normalize_by": "sequences"}
    with pytest.raises(
        ValueError, match="lossjax: `normalize_by` must be one of 'tokens', 'sequences'; got 'rows'"
    ):
        lossjax.get("scce", normalize_by="rows")
    with pytest.raises(TypeError, match="unknown hyperparameter 'segment_ids'"):
        lossjax.get("mse", segment_ids=np.ones(3, int))


# -- sequence log-probabilities ----------------------------------------------------------------


def _ref_sequence_log_probs(z, y, kept, average):
    log_q = np.log(_softmax64(z))
    y = np.where(kept, y, 0)
    picked = np.take_along_axis(log_q, y[..., None], -1)[..., 0]
    total = np.where(kept, picked, 0.0).sum(-1)
    if not average:
        return total
    n = kept.sum(-1)
    return np.where(n > 0, total / np.maximum(n, 1), 0.0)


@pytest.mark.parametrize("average", [False, True])
def test_sequence_log_probs_match_reference(average):
    rng = np.random.default_rng(14)
    z = (3 * rng.normal(size=(2, 3, 5, 7))).astype(np.float32)
    y = rng.integers(0, 7, size=(2, 3, 5))
    y[0, 0, 1] = -100
    where = rng.uniform(size=(2, 3, 5)) < 0.8
    where[1, 2] = False  # a sequence with no kept token
    kept = where & (y != -100)
    got = sequence_log_probs(z, y, where=where, average=average, ignore_index=-100)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(
        got, _ref_sequence_log_probs(z, y, kept, average), rtol=2e-6, atol=1e-6
    )
    grad = jax.grad(
        lambda x: jnp.sum(sequence_log_probs(x, y, where=where, average=average, ignore_index=-100))
    )(jnp.asarray(z))
    scale = kept / np.maximum(kept.sum(-1, keepdims=True), 1) if average else kept
    want = (np.eye(7)[np.where(kept, y, 0)] - _softmax64(z)) * scale[..., None]
    np.testing.assert_allclose(grad, want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("average", [False, True])
def test_linear_sequence_log_probs_equal_the_unfused_ones(average):
    rng = np.random.default_rng(15)
    hidden = rng.normal(size=(3, 6, 4)).astype(np.float32)
    weight = (2 * rng.normal(size=(4, 13))).astype(np.float32)
    y = rng.integers(0, 13, size=(3, 6))
    where = rng.uniform(size=(3, 6)) < 0.7

    def fused(h, w):
        return linear_sequence_log_probs(h, w, y, where=where, average=average, block_size=5)

    def plain(h, w):
        return sequence_log_probs(h @ w, y, where=where, average=average)

    np.testing.assert_allclose(fused(hidden, weight), plain(hidden, weight), rtol=2e-6, atol=2e-6)
    want = _ref_sequence_log_probs(hidden.astype(np.float64) @ weight, y, where, average)
    np.testing.assert_allclose(fused(hidden, weight), want, rtol=2e-5, atol=2e-5)
    cot = jnp.asarray(rng.normal(size=(3,)), jnp.float32)
    g_fused = jax.grad(lambda h, w: jnp.sum(cot * fused(h, w)), (0, 1))(hidden, weight)
    g_plain = jax.grad(lambda h, w: jnp.sum(cot * plain(h, w)), (0, 1))(hidden, weight)
    for a, b in zip(g_fused, g_plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_linear_sequence_log_probs_never_hold_the_logits():
    tokens, dim, vocab = 256, 8, 16384
    h = jax.ShapeDtypeStruct((2, tokens // 2, dim), jnp.float32)
    w = jax.ShapeDtypeStruct((dim, vocab), jnp.float32)
    y = jax.ShapeDtypeStruct((2, tokens // 2), jnp.int32)

    def temp_bytes(f):
        compiled = (
            jax.jit(jax.grad(lambda a, b, c: jnp.sum(f(a, b, c)), (0, 1))).lower(h, w, y).compile()
        )
        return compiled.memory_analysis().temp_size_in_bytes

    fused = temp_bytes(lambda a, b, c: linear_sequence_log_probs(a, b, c, block_size=512))
    plain = temp_bytes(lambda a, b, c: sequence_log_probs(a @ b, c))
    logits_bytes = tokens * vocab * 4
    assert fused < logits_bytes / 4 < plain


# -- errors -----------------------------------------------------------------------------------


def test_errors_name_the_argument():
    v = jnp.ones((2, 4))
    with pytest.raises(
        ValueError, match="lossjax: `normalize_by` must be one of 'tokens', 'sequences'; got 'rows'"
    ):
        reduce_loss(v, normalize_by="rows")
    with pytest.raises(
        TypeError,
        match=r"lossjax: `segment_ids` must be an integer array.*"
        r"float32\[2, 4\]",
    ):
        reduce_loss(v, segment_ids=jnp.ones((2, 4)))
    with pytest.raises(
        ValueError,
        match=r"lossjax: `segment_ids` must have the per-token loss "
        r"shape \(2, 4\), got segment_ids.shape=\(4,\)",
    ):
        reduce_loss(v, segment_ids=jnp.ones(4, jnp.int32))
    with pytest.raises(
        ValueError,
        match="lossjax: `normalize_by='sequences'` needs per-token values with a sequence axis",
    ):
        reduce_loss(jnp.ones(()), normalize_by="sequences")
    with pytest.raises(
        ValueError, match="lossjax: `reduction` must be one of 'mean', 'sum', 'none', 'count'"
    ):
        reduce_loss(v, reduction="total")
    with pytest.raises(TypeError, match="lossjax: sum_and_count sets `reduction` itself"):
        sum_and_count(lossjax.mean_squared_error, v, v, reduction="mean")
    with pytest.raises(ValueError, match=r"lossjax: `logits` must be \[..., T, V\]"):
        sequence_log_probs(jnp.ones(3), jnp.array(0))
    with pytest.raises(TypeError, match="lossjax: `average` must be a Python bool"):
        sequence_log_probs(jnp.ones((2, 3)), jnp.array([0, 1]), average=1)
    with pytest.raises(ValueError, match=r"lossjax: `hidden` must be \[..., T, D\]"):
        linear_sequence_log_probs(jnp.ones((2, 3)), jnp.ones((3, 5)), jnp.array([0, 1, 2]))


def test_docstring_examples_run(monkeypatch):
    for name in ("sequence_log_probs", "linear_sequence_log_probs", "sum_and_count"):
        monkeypatch.setattr(lossjax, name, getattr(_sequence, name), raising=False)
    for module in (_sequence,):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(reduce_loss, "reduce_loss", globs={}):
        runner.run(test)
    assert runner.failures == 0
