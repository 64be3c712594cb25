"""lossjax.ranking against rax 0.4.0, optax and float64 NumPy references.

Each loss and metric is compared list by list with rax's function of the same
name (rax's default ``reduce_fn=jnp.mean`` on one list, or ``reduce_fn=None``
where rax gives per-list values), on random lists with padding, ties, item
weights, lists without a relevant item and lists without any valid item; a
few are also written out in float64 NumPy. The approximate metrics are
compared with a float64 NumPy transcription of Qin et al.'s formulas and with
rax's own rank and cutoff helpers (rax 0.4.0's ``approx_t12n`` itself calls
``jax.util.wraps``, which this JAX no longer has). The transformation,
sharding and registry checks run over tests/losses_catalogue.py.
"""

import doctest
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lossjax
import lossjax.ranking as ranking

rax = pytest.importorskip("rax")
from rax._src import utils as rax_utils  # noqa: E402  (the helpers behind approx_t12n)

N, L = 7, 6  # lists, items per list

LISTWISE = ["softmax_loss", "poly1_softmax_loss", "unique_softmax_loss", "listmle_loss"]
PAIRWISE = [
    "pairwise_hinge_loss",
    "pairwise_logistic_loss",
    "pairwise_soft_zero_one_loss",
    "pairwise_mse_loss",
    "pairwise_qr_loss",
]
POINTWISE = ["pointwise_mse_loss", "pointwise_sigmoid_loss"]
METRICS = ["dcg_metric", "ndcg_metric", "mrr_metric", "ap_metric", "precision_metric"]
METRICS += ["recall_metric"]
# rax's per-item `weights`, our `item_weights` (listmle and the metrics other than DCG lack them).
HAS_ITEM_WEIGHTS = {*LISTWISE, *PAIRWISE, *POINTWISE, "dcg_metric", "ndcg_metric"} - {
    "listmle_loss"
}


def _lists(seed=0, n=N, size=L):
    """Random scores, graded labels with ties, padding, item weights. List 0 has no
    relevant item, list 1 no valid item, list 2 every label equal (no valid pair)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, size)).astype(np.float32)
    labels = rng.integers(0, 3, size=(n, size)).astype(np.float32)
    mask = rng.uniform(size=(n, size)) < 0.8
    mask[:, 0] = True
    labels[0] = 0.0
    mask[1] = False
    labels[2] = 1.0
    weights = rng.uniform(0.2, 2.0, size=(n, size)).astype(np.float32)
    return scores, labels, mask, weights


def _ours(name, scores, labels, mask, weights, **kw):
    if weights is not None:
        kw["item_weights"] = weights
    return getattr(ranking, name)(scores, labels, item_mask=mask, reduction="none", **kw)


def _rax_per_list(name, scores, labels, mask, weights, **kw):
    """rax on each list alone, with its default mean (vmapped over the lists)."""
    fn = functools.partial(getattr(rax, name), **kw)
    if weights is None:
        return np.array(jax.vmap(lambda s, y, m: fn(s, y, where=m))(scores, labels, mask))
    return np.array(
        jax.vmap(lambda s, y, m, w: fn(s, y, where=m, weights=w))(scores, labels, mask, weights)
    )


# -- every loss and metric equals rax, list by list ---------------------------------------------


@pytest.mark.parametrize("name", LISTWISE + PAIRWISE + POINTWISE + METRICS)
def test_equals_rax_list_by_list(name):
    """With item weights where rax has them (test_options_equal_rax runs without)."""
    scores, labels, mask, weights = _lists(seed=1)
    weights = weights if name in HAS_ITEM_WEIGHTS else None
    got = np.asarray(_ours(name, scores, labels, mask, weights))
    want = _rax_per_list(name, scores, labels, mask, weights)
    want[1] = 0.0  # no valid item: rax gives NaN or 0, lossjax 0 (and leaves the list out)
    if name == "poly1_softmax_loss":
        # No relevant item: rax's constant epsilon (1 - 1/n), lossjax 0 (zero gradient in both).
        n_valid = mask[0].sum()
        np.testing.assert_allclose(want[0], 1.0 - 1.0 / n_valid, rtol=1e-6)
        want[0] = 0.0
    if name == "listmle_loss":  # No relevant item: rax's likelihood of the positions, lossjax 0.
        want[0] = 0.0
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", LISTWISE[:2] + METRICS)
def test_batched_mean_equals_rax_mean(name):
    """rax reduces listwise values and metrics over the lists with a valid item; so does
    lossjax's mean (the list without a valid item is left out of both)."""
    scores, labels, mask, _ = _lists(seed=2)
    scores, labels = scores[2:], labels[2:]  # rax's poly1 differs on lists without relevance
    mask = mask[2:]
    mask[1] = False
    got = getattr(ranking, name)(scores, labels, item_mask=mask)
    want = getattr(rax, name)(jnp.asarray(scores), jnp.asarray(labels), where=mask)
    np.testing.assert_allclose(got, want, rtol=2e-6)


@pytest.mark.parametrize("name", PAIRWISE + POINTWISE)
def test_pooled_rax_mean_is_the_mean_weighted_by_the_number_of_pairs(name):
    """rax's batched mean pools pairs (items) over lists; lossjax averages per list, and
    the number of valid pairs (items) as list weights gives rax's pooled mean exactly."""
    scores, labels, mask, _ = _lists(seed=3)
    diff = labels[:, :, None] - labels[:, None, :]
    pairs = mask[:, :, None] & mask[:, None, :]
    if name in POINTWISE:
        counts = mask.sum(-1)
    elif name == "pairwise_mse_loss":
        counts = pairs.sum((-2, -1))
    else:
        counts = (pairs & (diff > 0)).sum((-2, -1))
    fn = getattr(ranking, name)
    got = fn(scores, labels, item_mask=mask, weights=counts.astype(np.float32))
    want = getattr(rax, name)(jnp.asarray(scores), jnp.asarray(labels), where=mask)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    np.testing.assert_allclose(
        fn(scores, labels, item_mask=mask, reduction="sum"),
        np.sum(_rax_per_list(name, scores, labels, mask, None)[mask.any(-1)]),
        rtol=2e-6,
    )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("pairwise_hinge_loss", {}),
        ("pairwise_qr_loss", {"tau": 0.3}),
        ("pairwise_qr_loss", {"tau": 0.8, "squared": True}),
        ("ndcg_metric", {"topn": 3}),
        ("dcg_metric", {"topn": 2}),
        ("mrr_metric", {"topn": 2}),
        ("ap_metric", {"topn": 3}),
        ("precision_metric", {"topn": 3}),
        ("recall_metric", {"topn": 1}),
    ],
)
def test_options_equal_rax(name, kwargs):
    scores, labels, mask, _ = _lists(seed=4)
    got = _ours(name, scores, labels, mask, None, **kwargs)
    want = _rax_per_list(name, scores, labels, mask, None, **kwargs)
    want[1] = 0.0
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_hinge_margin_is_rax_hinge_of_shifted_scores():
    """margin m on scores s equals rax's (margin 1) on s / m, times m."""
    scores, labels, mask, _ = _lists(seed=5)
    got = _ours("pairwise_hinge_loss", scores, labels, mask, None, margin=2.5)
    want = 2.5 * _rax_per_list("pairwise_hinge_loss", scores / 2.5, labels, mask, None)
    want[1] = 0.0
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


# -- lambda weights ------------------------------------------------------------------------------

LAMBDAWEIGHTS = [
    ("labeldiff_lambdaweight", {}),
    ("dcg_lambdaweight", {}),
    ("dcg_lambdaweight", {"topn": 3, "normalize": True}),
    ("dcg2_lambdaweight", {}),
    ("dcg2_lambdaweight", {"topn": 2}),
    ("dcg2_lambdaweight", {"normalize": True, "light_discount": True}),
]


@pytest.mark.parametrize("name, kwargs", LAMBDAWEIGHTS)
def test_lambdaweights_equal_rax_on_valid_pairs(name, kwargs):
    scores, labels, mask, weights = _lists(seed=6)
    got = getattr(ranking, name)(scores, labels, item_mask=mask, item_weights=weights, **kwargs)
    want = getattr(rax, name)(
        jnp.asarray(scores), jnp.asarray(labels), where=mask, weights=jnp.asarray(weights), **kwargs
    ).reshape(N, L, L)
    valid = mask[:, :, None] & mask[:, None, :]
    np.testing.assert_allclose(np.where(valid, got, 0), np.where(valid, want, 0), rtol=2e-6)
    assert np.all(np.asarray(got)[~valid] == 0)


@pytest.mark.parametrize("loss", ["pairwise_logistic_loss", "pairwise_hinge_loss"])
@pytest.mark.parametrize("name, kwargs", LAMBDAWEIGHTS[:3])
def test_pairwise_losses_with_lambdaweights_equal_rax(loss, name, kwargs):
    scores, labels, mask, weights = _lists(seed=7)
    ours = functools.partial(getattr(ranking, name), **kwargs)
    theirs = functools.partial(getattr(rax, name), **kwargs)
    got = _ours(loss, scores, labels, mask, weights, lambdaweight_fn=ours)
    want = _rax_per_list(loss, scores, labels, mask, weights, lambdaweight_fn=theirs)
    want[1] = 0.0
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


# -- gradients equal rax's -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [*LISTWISE, "pairwise_logistic_loss", "pairwise_qr_loss", "pointwise_sigmoid_loss"]
)
def test_gradient_equals_rax(name):
    """The gradient of the sum over lists of the per-list values, lists with a valid item."""
    scores, labels, mask, weights = _lists(seed=8)
    keep = mask.any(-1)
    keep[0] &= name not in ("poly1_softmax_loss", "listmle_loss")
    scores, labels, mask, weights = scores[keep], labels[keep], mask[keep], weights[keep]
    w = weights if name in HAS_ITEM_WEIGHTS else None
    extra = {} if w is None else {"item_weights": w}
    got = jax.jit(
        jax.grad(
            lambda s: getattr(ranking, name)(s, labels, item_mask=mask, reduction="sum", **extra)
        )
    )(jnp.asarray(scores))

    def rax_sum(s):
        return jnp.sum(jnp.asarray(_rax_per_list_traced(name, s, labels, mask, w)))

    want = jax.jit(jax.grad(rax_sum))(jnp.asarray(scores))
    np.testing.assert_allclose(got, np.where(mask, want, 0.0), rtol=2e-5, atol=1e-6)


def _rax_per_list_traced(name, scores, labels, mask, weights):
    fn = getattr(rax, name)
    if weights is None:
        return jax.vmap(lambda s, y, m: fn(s, y, where=m))(scores, labels, mask)
    return jax.vmap(lambda s, y, m, w: fn(s, y, where=m, weights=w))(scores, labels, mask, weights)


# -- float64 NumPy references ----------------------------------------------------------------------


def _np_ranks(scores, valid):
    """1-based ranks by decreasing score among the valid items, ties by position."""
    order = sorted(range(len(scores)), key=lambda i: (not valid[i], -scores[i], i))
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def _np_softmax_loss(s, y, v):
    s, y = s[v], y[v]
    log_p = s - (np.max(s) + np.log(np.sum(np.exp(s - np.max(s)))))
    return -np.sum(y * log_p)


def _np_listmle(s, y, v):
    if not np.any(y[v] > 0):
        return 0.0  # no relevant item: no order to learn
    idx = [i for i in sorted(range(len(s)), key=lambda i: (-y[i], i)) if v[i]]
    t = s[idx]
    return -sum(t[k] - np.log(np.sum(np.exp(t[k:]))) for k in range(len(t)))


def _np_pairwise_logistic(s, y, v):
    terms = [
        np.log1p(np.exp(-(s[i] - s[j])))
        for i in range(len(s))
        for j in range(len(s))
        if v[i] and v[j] and y[i] > y[j]
    ]
    return np.mean(terms) if terms else 0.0


def _np_ndcg(s, y, v, topn=None):
    r = _np_ranks(s, v)
    g = 2.0**y - 1.0
    cut = v & (r <= (topn or len(s)))
    dcg = np.sum(np.where(cut, g / np.log2(1 + r), 0.0))
    ri = _np_ranks(g, v)
    cut_i = v & (ri <= (topn or len(s)))
    ideal = np.sum(np.where(cut_i, g / np.log2(1 + ri), 0.0))
    return dcg / (ideal if ideal else 1.0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_approx_ranks(s, v, t):
    n = len(s)
    return np.array(
        [
            1.0 + sum(_sigmoid((s[j] - s[i]) / t) for j in range(n) if j != i and v[j])
            for i in range(n)
        ]
    )


def _np_approx_cutoff(r, v, n, t):
    """Qin et al.'s smooth top-n indicator as rax builds it: a sigmoid step in -rank
    halfway between the n-th and (n+1)-th items (by approximate rank)."""
    if n is None or v.sum() <= n:
        return v.astype(float)
    a = -r
    exact = _np_ranks(a, v)
    threshold = (a[exact == n][0] + a[exact == n + 1][0]) / 2.0
    return np.where(v, _sigmoid((a - threshold) / t), 0.0)


def _np_approx_ndcg(s, y, v, t, topn=None):
    r = _np_approx_ranks(s, v, t)
    c = _np_approx_cutoff(r, v, topn, t)
    g = 2.0**y - 1.0
    dcg = np.sum(np.where(v, c * g / np.log2(1 + r), 0.0))
    ri = _np_ranks(g, v)
    ideal = np.sum(np.where(v & (ri <= (topn or len(s))), g / np.log2(1 + ri), 0.0))
    return dcg / (ideal if ideal else 1.0)


def _np_approx_mrr(s, y, v, t, topn=None):
    r = _np_approx_ranks(s, v, t)
    c = _np_approx_cutoff(r, v, topn, t)
    return max([0.0] + [c[i] / r[i] for i in range(len(s)) if v[i] and y[i] >= 1])


def _per_list(ref, scores, labels, mask, **kw):
    s, y = scores.astype(np.float64), labels.astype(np.float64)
    return np.array(
        [ref(s[b], y[b], mask[b], **kw) if mask[b].any() else 0.0 for b in range(len(s))]
    )


@pytest.mark.parametrize(
    "name, ref, kw",
    [
        ("softmax_loss", _np_softmax_loss, {}),
        ("listmle_loss", _np_listmle, {}),
        ("pairwise_logistic_loss", _np_pairwise_logistic, {}),
        ("ndcg_metric", _np_ndcg, {}),
        ("ndcg_metric", _np_ndcg, {"topn": 2}),
    ],
)
def test_equals_float64_numpy_reference(name, ref, kw):
    scores, labels, mask, _ = _lists(seed=9)
    got = getattr(ranking, name)(scores, labels, item_mask=mask, reduction="none", **kw)
    np.testing.assert_allclose(
        got, _per_list(ref, scores, labels, mask, **kw), rtol=2e-6, atol=1e-6
    )


def test_softmax_loss_equals_optax_ranking_softmax_loss():
    scores, labels, mask, weights = _lists(seed=10)
    got = ranking.softmax_loss(scores, labels, item_mask=mask, item_weights=weights)
    want = optax.losses.ranking_softmax_loss(
        jnp.asarray(scores), jnp.asarray(labels), where=mask, weights=jnp.asarray(weights)
    )
    np.testing.assert_allclose(got, want, rtol=2e-6)


@pytest.mark.parametrize("temperature", [1.0, 0.3])
@pytest.mark.parametrize("topn", [None, 2, 4])
@pytest.mark.parametrize("masked", [False, True])
def test_approx_metrics_equal_qin_et_al_in_float64(temperature, topn, masked):
    scores, labels, mask, _ = _lists(seed=11)
    scores = 3.0 * scores
    if not masked:
        mask = np.ones_like(mask)
    for name, ref in (("approx_ndcg_loss", _np_approx_ndcg), ("approx_mrr_loss", _np_approx_mrr)):
        got = getattr(ranking, name)(
            scores, labels, item_mask=mask, temperature=temperature, topn=topn, reduction="none"
        )
        want = -_per_list(ref, scores, labels, mask, t=temperature, topn=topn)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("temperature, topn", [(1.0, None), (0.5, 3)])
def test_approx_metrics_equal_rax_approx_helpers(temperature, topn):
    """What rax's approx_t12n(metric) computes: the metric with rax's approx_ranks and
    approx_cutoff (sigmoid of x / temperature), negated; values and gradients."""
    scores, labels, _, _ = _lists(seed=12)
    scores, labels = jnp.asarray(scores), jnp.asarray(labels)
    step = lambda x: jax.nn.sigmoid(x / temperature)  # noqa: E731
    approx = {
        "rank_fn": functools.partial(rax_utils.approx_ranks, step_fn=step),
        "cutoff_fn": functools.partial(rax_utils.approx_cutoff, step_fn=step),
    }
    for ours, metric in (
        (ranking.approx_ndcg_loss, rax.ndcg_metric),
        (ranking.approx_mrr_loss, rax.mrr_metric),
    ):

        def theirs(s, metric=metric):
            return -metric(s, labels, topn=topn, reduce_fn=jnp.sum, **approx)

        def mine(s, ours=ours):
            return ours(s, labels, temperature=temperature, topn=topn, reduction="sum")

        got = jax.jit(jax.value_and_grad(mine))(scores)
        want = jax.jit(jax.value_and_grad(theirs))(scores)
        np.testing.assert_allclose(got[0], want[0], rtol=2e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=2e-5, atol=1e-7)


# -- lists without relevance or without items: 0, never NaN ---------------------------------------

ALL_LOSSES = LISTWISE + PAIRWISE + POINTWISE + ["approx_ndcg_loss", "approx_mrr_loss"]


@pytest.mark.parametrize("name", ALL_LOSSES + METRICS)
def test_empty_lists_and_nan_behind_item_mask_give_zero_and_finite_gradients(name):
    scores, labels, mask, _ = _lists(seed=13, n=3)
    scores[~mask] = np.nan
    labels[~mask] = np.inf
    fn = getattr(ranking, name)

    @jax.jit
    def values_and_grad(s):
        values, vjp = jax.vjp(
            lambda s: fn(s, jnp.asarray(labels), item_mask=mask, reduction="none"), s
        )
        return values, vjp(jnp.ones(3))[0]

    values, grad = values_and_grad(jnp.asarray(scores))
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grad))
    assert values[1] == 0.0  # no valid item
    np.testing.assert_array_equal(np.asarray(grad)[~mask], 0.0)
    np.testing.assert_array_equal(np.asarray(grad)[1], 0.0)
    if name not in [*POINTWISE, "pairwise_mse_loss"]:  # every item is a target there
        assert values[0] == 0.0  # no relevant item
        np.testing.assert_array_equal(np.asarray(grad)[0], 0.0)
    # The mean leaves out the list without a valid item.
    mean = fn(jnp.asarray(scores), jnp.asarray(labels), item_mask=mask)
    np.testing.assert_allclose(mean, (values[0] + values[2]) / 2, rtol=1e-6)
    # Everything masked: 0, never NaN.
    assert fn(jnp.asarray(scores), jnp.asarray(labels), item_mask=np.zeros_like(mask)) == 0.0


@pytest.mark.parametrize("name", ["softmax_loss", "listmle_loss", "approx_ndcg_loss"])
def test_extreme_scores_stay_finite(name):
    scores = jnp.array([[1e4, -1e4, 0.0, 3e4]])
    labels = jnp.array([[0.0, 2.0, 1.0, 0.0]])
    value, grad = jax.value_and_grad(lambda s: getattr(ranking, name)(s, labels))(scores)
    assert np.isfinite(value) and np.all(np.isfinite(grad))


# -- traceable hyperparameters, options, errors -------------------------------------------------


@pytest.mark.parametrize(
    "name, key, values",
    [
        ("poly1_softmax_loss", "epsilon", [0.0, 1.0, 2.5]),
        ("pairwise_hinge_loss", "margin", [0.5, 1.0, 2.0]),
        ("pairwise_qr_loss", "tau", [0.2, 0.5, 1.0]),
        ("approx_ndcg_loss", "temperature", [0.1, 1.0, 3.0]),
    ],
)
def test_hyperparameters_are_traceable(name, key, values):
    scores, labels, mask, _ = _lists(seed=14)
    fn = getattr(ranking, name)
    swept = jax.jit(jax.vmap(lambda h: fn(scores, labels, item_mask=mask, **{key: h})))(
        jnp.asarray(values)
    )
    want = [fn(scores, labels, item_mask=mask, **{key: v}) for v in values]
    np.testing.assert_allclose(swept, want, rtol=1e-6)
    assert np.isfinite(jax.grad(lambda h: fn(scores, labels, **{key: h}))(values[1]))


def test_poly1_with_epsilon_zero_is_the_softmax_loss():
    scores, labels, mask, weights = _lists(seed=15)
    kw = {"item_mask": mask, "item_weights": weights, "reduction": "none"}
    np.testing.assert_allclose(
        ranking.poly1_softmax_loss(scores, labels, epsilon=0.0, **kw),
        ranking.softmax_loss(scores, labels, **kw),
        rtol=1e-6,
    )


def test_item_mask_broadcasts_and_equals_dropping_the_items():
    scores, labels, _, _ = _lists(seed=16)
    keep = np.array([[True, True, False, True, True, False]])
    got = ranking.softmax_loss(scores, labels, item_mask=keep, reduction="none")
    want = ranking.softmax_loss(scores[:, keep[0]], labels[:, keep[0]], reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_where_and_weights_are_per_list():
    scores, labels, _, _ = _lists(seed=17)
    values = np.asarray(ranking.listmle_loss(scores, labels, reduction="none"))
    w = np.arange(1.0, N + 1.0, dtype=np.float32)
    keep = np.arange(N) % 2 == 0
    got = ranking.listmle_loss(scores, labels, weights=w, where=keep)
    np.testing.assert_allclose(got, (w * values)[keep].sum() / w[keep].sum(), rtol=1e-6)


def test_errors_name_the_argument():
    s, y = jnp.zeros((2, 3)), jnp.zeros((2, 3))
    with pytest.raises(ValueError, match="`scores` and `labels` must have the same shape"):
        ranking.softmax_loss(s, jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="`scores` must hold lists"):
        ranking.softmax_loss(jnp.zeros(()), jnp.zeros(()))
    with pytest.raises(TypeError, match="`scores` must be a floating-point array"):
        ranking.ndcg_metric(jnp.zeros((2, 3), jnp.int32), y)
    with pytest.raises(TypeError, match="`item_mask` must be a boolean"):
        ranking.softmax_loss(s, y, item_mask=jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="`item_mask` must be a scalar or broadcastable"):
        ranking.pairwise_logistic_loss(s, y, item_mask=jnp.ones(3, bool))
    with pytest.raises(ValueError, match="`item_weights` must be >= 0"):
        ranking.pointwise_mse_loss(s, y, item_weights=-jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="`where` must be a scalar or broadcastable"):
        ranking.softmax_loss(s, y, where=jnp.ones((2, 3), bool))
    with pytest.raises(TypeError, match="`lambdaweight_fn` must be a callable"):
        ranking.pairwise_hinge_loss(s, y, lambdaweight_fn="dcg")
    with pytest.raises(ValueError, match="`lambdaweight_fn` must return one weight per pair"):
        ranking.pairwise_hinge_loss(s, y, lambdaweight_fn=lambda s, y, **kw: jnp.ones(2))
    with pytest.raises(ValueError, match="`tau` must be"):
        ranking.pairwise_qr_loss(s, y, tau=0.0)
    with pytest.raises(ValueError, match="`temperature` must be"):
        ranking.approx_mrr_loss(s, y, temperature=0.0)
    for fn in (ranking.approx_ndcg_loss, ranking.ndcg_metric, ranking.dcg_lambdaweight):
        with pytest.raises(ValueError, match="`topn` must be"):
            fn(s, y, topn=0)
        with pytest.raises(TypeError, match="`topn` must be a Python int"):
            fn(s, y, topn=2.0)
    with pytest.raises(TypeError, match="`squared` must be a Python bool"):
        ranking.pairwise_qr_loss(s, y, squared=1)
    with pytest.raises(ValueError, match="`reduction`"):
        ranking.mrr_metric(s, y, reduction="average")


def test_negative_infinity_scores_are_not_retrieved_by_the_metrics():
    """rax's convention: an item scored -inf is unranked."""
    scores = np.array([[2.0, -np.inf, 1.0]], np.float32)
    labels = np.array([[0.0, 1.0, 0.0]], np.float32)
    for name in ("mrr_metric", "ndcg_metric", "recall_metric"):
        got = getattr(ranking, name)(scores, labels)
        want = getattr(rax, name)(jnp.asarray(scores), jnp.asarray(labels))
        assert got == want == 0.0


# -- registry and suggest -----------------------------------------------------------------------


def test_registry_entries_aliases_and_suggest():
    names = lossjax.available("ranking")
    assert names[0] == "ranking.softmax_loss"
    assert set(names) == {f"ranking.{n}" for n in ALL_LOSSES}
    assert lossjax.get("ranknet").func is ranking.pairwise_logistic_loss
    assert lossjax.get("ranking.listmle_loss").func is ranking.listmle_loss
    assert lossjax.info("approx_ndcg").hyperparameter("topn").valid == "None or int >= 1"
    h = lossjax.info("pairwise_hinge").hyperparameter("lambdaweight_fn")
    assert h.kind == "callable" and h.valid == "None or callable"
    with pytest.raises(TypeError, match="`lambdaweight_fn` must be a callable"):
        lossjax.get("ranksvm", lambdaweight_fn=3)
    bound = lossjax.get("ranknet", lambdaweight_fn=ranking.dcg_lambdaweight)
    s, y = jnp.array([[0.5, 1.0, -1.0]]), jnp.array([[2.0, 0.0, 1.0]])
    np.testing.assert_allclose(
        bound(s, y), ranking.pairwise_logistic_loss(s, y, lambdaweight_fn=ranking.dcg_lambdaweight)
    )
    suggestions = lossjax.suggest("ranking")
    assert suggestions[0].name == "ranking.softmax_loss"
    assert {s.name for s in suggestions} == set(names)
    for s in suggestions:
        assert s.get().info.task == "ranking"


# -- docstring examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ranking.__all__)
def test_docstring_example_runs_and_gives_a_formula(name):
    fn = getattr(ranking, name)
    doc = fn.__doc__ or ""
    assert ">>>" in doc and "Args:" in doc and "Returns:" in doc and "References:" in doc
    assert ".. math::" in doc or ":math:" in doc
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for test in doctest.DocTestFinder(recurse=False).find(fn, name, globs={}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_doc_examples_equal_rax():
    """The numbers shown in the docstrings are rax's (its own doc examples included)."""
    s, y = jnp.array([0.0, 1.0, 3.0, 2.0]), jnp.array([0.0, 0.0, 1.0, 2.0])
    assert math.isclose(float(ranking.approx_ndcg_loss(s, y)), -0.71789175, rel_tol=1e-6)
    assert math.isclose(float(ranking.approx_mrr_loss(s, y)), -0.6965873, rel_tol=1e-6)
    s2, y2 = jnp.array([2.0, 1.0, 3.0]), jnp.array([2.0, 0.0, 1.0])
    np.testing.assert_allclose(ranking.ndcg_metric(s2, y2), rax.ndcg_metric(s2, y2), rtol=1e-6)
