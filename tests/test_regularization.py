"""Specification of lossjax regularization: penalties, `regularized`, optax transforms, masks.

Conventions under test (see lossjax/_regularization.py):
    l1_penalty = sum |w|,  l2_penalty = sum w**2 (no 1/2),
    elastic_net_penalty = r * sum |w| + (1 - r) * sum w**2,
    add_l1 adds lam * sign(w) (sign(0) = 0), add_l2 adds 2 * lam * w,
    proximal_l1(tau): params + updates == soft_threshold(params + raw_update, tau).

Mappings to scikit-learn used below (n examples, MSE = (1/n) * ||y - Xw||^2):
    Lasso minimises (1/(2n)) ||y - Xw||^2 + alpha ||w||_1 = (1/2) [MSE + 2 alpha ||w||_1],
        so MSE + lam * l1_penalty  <->  Lasso(alpha = lam / 2).
    Ridge minimises ||y - Xw||^2 + alpha ||w||^2 = n [MSE + (alpha / n) ||w||^2],
        so MSE + lam * l2_penalty  <->  Ridge(alpha = n * lam).
"""

from __future__ import annotations

import functools
import subprocess
import sys

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import optax
import pytest
from flax import nnx
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import Lasso, Ridge

import lossjax
from lossjax import masks

# ----------------------------------------------------------------------------- references


def ref_l1(leaves):
    return float(sum(np.sum(np.abs(np.asarray(x, np.float64))) for x in leaves))


def ref_l2(leaves):
    return float(sum(np.sum(np.square(np.asarray(x, np.float64))) for x in leaves))


def ref_soft_threshold(x, t):
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def nested_params(dtype=jnp.float32):
    rng = np.random.default_rng(0)

    def a(*shape):
        return jnp.asarray(rng.normal(size=shape), dtype)

    return {
        "dense": {"kernel": a(3, 4), "bias": a(4)},
        "blocks": [a(2, 2), (a(5), a(2, 3, 2))],
        "scalar": a(),
    }


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.linear1 = nnx.Linear(3, 8, rngs=rngs)
        self.norm = nnx.LayerNorm(8, rngs=rngs)
        self.linear2 = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.linear2(jax.nn.tanh(self.norm(self.linear1(x))))


# ----------------------------------------------------------------------------- penalties


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_penalties_on_nested_pytree(dtype, x64):
    params = nested_params(dtype)
    leaves = jax.tree.leaves(params)
    l1 = lossjax.l1_penalty(params)
    l2 = lossjax.l2_penalty(params)
    en = lossjax.elastic_net_penalty(params, l1_ratio=0.3)
    assert l1.dtype == dtype and l2.dtype == dtype and en.dtype == dtype
    rtol = 1e-6 if dtype == jnp.float32 else 1e-12
    np.testing.assert_allclose(l1, ref_l1(leaves), rtol=rtol)
    np.testing.assert_allclose(l2, ref_l2(leaves), rtol=rtol)
    np.testing.assert_allclose(en, 0.3 * ref_l1(leaves) + 0.7 * ref_l2(leaves), rtol=rtol)


def test_penalties_with_tree_mask_prefix_mask_and_callable_mask(x64):
    params = nested_params(jnp.float64)
    p = params
    # Full-structure tree mask.
    tree_mask = {
        "dense": {"kernel": True, "bias": False},
        "blocks": [False, (True, True)],
        "scalar": False,
    }
    chosen = [p["dense"]["kernel"], p["blocks"][1][0], p["blocks"][1][1]]
    np.testing.assert_allclose(lossjax.l1_penalty(p, mask=tree_mask), ref_l1(chosen), rtol=1e-12)
    np.testing.assert_allclose(lossjax.l2_penalty(p, mask=tree_mask), ref_l2(chosen), rtol=1e-12)
    # Prefix mask: one flag covers a whole subtree.
    prefix = {"dense": False, "blocks": True, "scalar": True}
    chosen = [p["blocks"][0], p["blocks"][1][0], p["blocks"][1][1], p["scalar"]]
    np.testing.assert_allclose(lossjax.l1_penalty(p, mask=prefix), ref_l1(chosen), rtol=1e-12)
    # Callable masks: by rank.
    rank2 = [p["dense"]["kernel"], p["blocks"][0], p["blocks"][1][1]]
    np.testing.assert_allclose(
        lossjax.l2_penalty(p, mask=masks.exclude_biases_and_norms), ref_l2(rank2), rtol=1e-12
    )
    np.testing.assert_allclose(
        lossjax.elastic_net_penalty(p, l1_ratio=0.25, mask=masks.exclude_biases_and_norms),
        0.25 * ref_l1(rank2) + 0.75 * ref_l2(rank2),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        lossjax.l1_penalty(p, mask=masks.only_rank_at_least(3)),
        ref_l1([p["blocks"][1][1]]),
        rtol=1e-12,
    )
    # Everything masked out: exactly 0.
    assert float(lossjax.l1_penalty(p, mask=False)) == 0.0


def test_penalties_on_flax_nnx_state(x64):
    model = MLP(nnx.Rngs(0))
    # Non-trivial vectors (LayerNorm starts at scale 1, biases start at 0).
    model.linear1.bias[...] = jnp.linspace(-1.0, 2.0, 8, dtype=jnp.float32)
    model.norm.scale[...] = jnp.linspace(0.5, -0.5, 8, dtype=jnp.float32)
    state = nnx.state(model, nnx.Param)
    kernels = [model.linear1.kernel[...], model.linear2.kernel[...]]
    vectors = [
        model.linear1.bias[...],
        model.norm.scale[...],
        model.norm.bias[...],
        model.linear2.bias[...],
    ]
    np.testing.assert_allclose(lossjax.l2_penalty(state), ref_l2(kernels + vectors), rtol=1e-6)
    np.testing.assert_allclose(lossjax.l1_penalty(state), ref_l1(kernels + vectors), rtol=1e-6)
    np.testing.assert_allclose(
        lossjax.l1_penalty(state, mask=masks.exclude_biases_and_norms), ref_l1(kernels), rtol=1e-6
    )
    # A tree mask built over the State itself.
    tree_mask = jax.tree.map(lambda x: x.shape == (3, 8), state)
    np.testing.assert_allclose(
        lossjax.l2_penalty(state, mask=tree_mask), ref_l2(kernels[:1]), rtol=1e-6
    )


def test_penalty_dtypes_and_skipped_integer_leaves(x64):
    bf = {"w": jnp.array([1.5, -2.0], jnp.bfloat16), "h": jnp.array([0.5], jnp.float16)}
    assert lossjax.l1_penalty(bf).dtype == jnp.float32
    np.testing.assert_allclose(lossjax.l1_penalty(bf), 4.0)
    # Integer / bool / key leaves (counters, RNG keys) are skipped, not summed.
    params = {
        "w": jnp.array([1.0, -2.0]),
        "step": jnp.array(7),
        "flag": jnp.array(True),
        "key": jax.random.key(0),
    }
    np.testing.assert_allclose(lossjax.l1_penalty(params), 3.0)
    np.testing.assert_allclose(lossjax.l2_penalty(params), 5.0)
    # Empty trees give a float32 zero.
    empty = lossjax.l2_penalty({})
    assert empty.dtype == jnp.float32 and float(empty) == 0.0
    with pytest.raises(TypeError, match="complex"):
        lossjax.l1_penalty({"z": jnp.array([1j])})


def test_penalty_gradients(x64):
    w = jnp.array([-1.5, 0.0, 2.0, -0.0])
    # sign(0) = 0 subgradient, not jnp.abs's 1.
    np.testing.assert_array_equal(jax.grad(lossjax.l1_penalty)(w), [-1.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(jax.grad(lossjax.l2_penalty)(w), 2 * w)
    np.testing.assert_allclose(
        jax.grad(functools.partial(lossjax.elastic_net_penalty, l1_ratio=0.4))(w),
        0.4 * np.sign(w) + 1.2 * w,
    )
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    g = jax.grad(lambda p: lossjax.l2_penalty(p, mask=masks.exclude_biases_and_norms))(params)
    np.testing.assert_array_equal(g["b"], 0.0)
    np.testing.assert_array_equal(g["w"], 2.0)
    tree = {"a": [jnp.array([0.5, -1.0]), (jnp.ones((2, 2)),)], "b": jnp.array(3.0)}
    jax.test_util.check_grads(lossjax.l2_penalty, (tree,), order=2)
    smooth_away_from_zero = {"a": jnp.array([0.5, -1.0, 2.0])}
    jax.test_util.check_grads(lossjax.l1_penalty, (smooth_away_from_zero,), order=2)


def test_penalties_under_jit_and_vmap_over_l1_ratio():
    params = nested_params()
    jitted = jax.jit(functools.partial(lossjax.l1_penalty, mask=masks.exclude_biases_and_norms))
    np.testing.assert_allclose(
        jitted(params), lossjax.l1_penalty(params, mask=masks.exclude_biases_and_norms)
    )
    ratios = jnp.array([0.0, 0.5, 1.0])
    swept = jax.vmap(lambda r: lossjax.elastic_net_penalty(params, l1_ratio=r))(ratios)
    l1, l2 = lossjax.l1_penalty(params), lossjax.l2_penalty(params)
    np.testing.assert_allclose(swept, [l2, 0.5 * (l1 + l2), l1], rtol=1e-6)


_value_and_grads = jax.jit(
    lambda w: [
        jax.value_and_grad(fn)(w) for fn in (lossjax.l1_penalty, lossjax.elastic_net_penalty)
    ]
)


@given(st.data(), st.sampled_from([jnp.float16, jnp.bfloat16, jnp.float32]))
def test_penalty_finite_and_float32_property(data, dtype):
    # Up to 1e18 the squares (and the sum of 6 of them) stay inside the float32 range:
    # low-precision parameters are accumulated in float32, not in their own dtype.
    big = min(float(jnp.finfo(dtype).max), 1e18)
    values = data.draw(
        st.lists(st.floats(-big, big, allow_nan=False), min_size=6, max_size=6), label="values"
    )
    w = jnp.asarray(np.asarray(values, np.float64)).astype(dtype)
    for value, grad in _value_and_grads(w):
        assert value.dtype == jnp.float32
        assert np.isfinite(float(value))
        assert np.all(np.isfinite(np.asarray(grad, np.float32)))
    np.testing.assert_allclose(
        lossjax.l1_penalty(w), ref_l1([np.asarray(w, np.float32)]), rtol=1e-6
    )


# ----------------------------------------------------------------------------- regularized


def linear_loss(params, x, y):
    return lossjax.mean_squared_error(x @ params["w"] + params["b"], y)


def linear_data(n=16, d=3, seed=1):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(n, d)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(n,)), jnp.float32)
    params = {"w": jnp.asarray(rng.normal(size=(d,)), jnp.float32), "b": jnp.array(0.3)}
    return params, x, y


def test_regularized_value_grad_jit_and_wraps():
    params, x, y = linear_data()
    reg = lossjax.regularized(linear_loss, l1=0.1, l2=0.2)
    expected = (
        linear_loss(params, x, y)
        + 0.1 * lossjax.l1_penalty(params)
        + 0.2 * lossjax.l2_penalty(params)
    )
    np.testing.assert_allclose(reg(params, x, y), expected, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(reg)(params, x, y), expected, rtol=1e-6)
    g = jax.grad(reg)(params, x, y)
    g0 = jax.grad(linear_loss)(params, x, y)
    np.testing.assert_allclose(
        g["w"], g0["w"] + 0.1 * np.sign(params["w"]) + 0.4 * params["w"], rtol=1e-5
    )
    assert reg.__name__ == "linear_loss" and reg.__wrapped__ is linear_loss
    # Keyword arguments are passed through.
    np.testing.assert_allclose(reg(params, x=x, y=y), expected, rtol=1e-6)
    # Zero strengths: exactly the loss.
    assert float(lossjax.regularized(linear_loss)(params, x, y)) == float(linear_loss(params, x, y))


def test_regularized_with_mask_and_has_aux():
    params, x, y = linear_data()

    def loss_with_aux(p, x, y):
        pred = x @ p["w"] + p["b"]
        return lossjax.mean_squared_error(pred, y), {"pred": pred}

    reg = lossjax.regularized(loss_with_aux, l2=0.5, mask={"w": True, "b": False}, has_aux=True)
    (value, aux), grads = jax.value_and_grad(reg, has_aux=True)(params, x, y)
    (value0, aux0), grads0 = jax.value_and_grad(loss_with_aux, has_aux=True)(params, x, y)
    np.testing.assert_allclose(value, value0 + 0.5 * ref_l2([params["w"]]), rtol=1e-6)
    np.testing.assert_array_equal(aux["pred"], aux0["pred"])
    np.testing.assert_array_equal(grads["b"], grads0["b"])  # bias unregularized
    np.testing.assert_allclose(grads["w"], grads0["w"] + params["w"], rtol=1e-6)
    with pytest.raises(TypeError, match="has_aux"):
        lossjax.regularized(linear_loss, l2=0.1, has_aux=True)(params, x, y)


def test_regularized_traced_strength_is_differentiable_and_vmappable():
    params, x, y = linear_data()
    lams = jnp.array([0.0, 0.1, 1.0])
    values = jax.vmap(lambda lam: lossjax.regularized(linear_loss, l2=lam)(params, x, y))(lams)
    base, pen = linear_loss(params, x, y), lossjax.l2_penalty(params)
    np.testing.assert_allclose(values, base + lams * pen, rtol=1e-6)
    dlam = jax.grad(lambda lam: lossjax.regularized(linear_loss, l1=lam)(params, x, y))(0.3)
    np.testing.assert_allclose(dlam, lossjax.l1_penalty(params), rtol=1e-6)


# ----------------------------------------------------------------------------- transforms


def run_chain(tx, loss, params, data, steps):
    @jax.jit
    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss)(params, *data)
        updates, state = tx.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
    return params


def run_sgd_on(loss_at_step, params, data, lr, steps):
    """Plain gradient descent on a loss that may depend on the step (for schedules)."""

    def step(params, t):
        grads = jax.grad(loss_at_step)(params, t, *data)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), None

    params, _ = jax.lax.scan(step, params, jnp.arange(steps))
    return params


def assert_trees_close(a, b, atol):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(u, v, rtol=0, atol=atol)


@pytest.mark.parametrize(
    ("make_tx", "penalty"),
    [
        (lambda: lossjax.add_l2(0.05), lambda p, t: 0.05 * lossjax.l2_penalty(p)),
        (lambda: lossjax.add_l1(0.02), lambda p, t: 0.02 * lossjax.l1_penalty(p)),
        (
            lambda: lossjax.add_elastic_net(0.05, l1_ratio=0.3),
            lambda p, t: 0.05 * lossjax.elastic_net_penalty(p, l1_ratio=0.3),
        ),
        (
            lambda: lossjax.add_l2(0.05, mask=masks.exclude_biases_and_norms),
            lambda p, t: 0.05 * lossjax.l2_penalty(p, mask=masks.exclude_biases_and_norms),
        ),
        (
            lambda: lossjax.add_l2(optax.linear_schedule(0.0, 0.2, 50)),
            lambda p, t: optax.linear_schedule(0.0, 0.2, 50)(t) * lossjax.l2_penalty(p),
        ),
        (
            lambda: lossjax.add_l1(optax.exponential_decay(0.05, 10, 0.5)),
            lambda p, t: optax.exponential_decay(0.05, 10, 0.5)(t) * lossjax.l1_penalty(p),
        ),
    ],
    ids=["l2", "l1", "elastic_net", "l2_masked", "l2_schedule", "l1_schedule"],
)
def test_transform_before_sgd_equals_sgd_on_penalised_loss(make_tx, penalty):
    # Parameters start (and stay) far from 0 so that sign(w) never changes: the
    # L1 subgradient is then the gradient and both routes take the same steps.
    params = {"w": jnp.array([1.0, -2.0, 1.5]), "b": jnp.array(1.0)}
    _, x, noise = linear_data()
    y = x @ params["w"] + params["b"] + 0.1 * noise
    lr, steps = 0.05, 100
    via_transform = run_chain(
        optax.chain(make_tx(), optax.sgd(lr)), linear_loss, params, (x, y), steps
    )
    via_loss = run_sgd_on(
        lambda p, t, x, y: linear_loss(p, x, y) + penalty(p, t), params, (x, y), lr, steps
    )
    for leaf in jax.tree.leaves(via_transform):
        assert np.all(np.abs(leaf) > 0.05)  # really stayed away from 0
    assert_trees_close(via_transform, via_loss, atol=1e-6)


def test_regularized_with_sgd_equals_add_l2_chain():
    params, x, y = linear_data()
    lr, lam = 0.05, 0.1
    a = run_chain(optax.chain(lossjax.add_l2(lam), optax.sgd(lr)), linear_loss, params, (x, y), 100)
    b = run_chain(optax.sgd(lr), lossjax.regularized(linear_loss, l2=lam), params, (x, y), 100)
    assert_trees_close(a, b, atol=1e-6)
    # add_l2(lam) is optax.add_decayed_weights(2 * lam) (penalty convention: no 1/2).
    c = run_chain(
        optax.chain(optax.add_decayed_weights(2 * lam), optax.sgd(lr)),
        linear_loss,
        params,
        (x, y),
        100,
    )
    assert_trees_close(a, c, atol=1e-6)


def test_transform_updates_dtype_jit_and_passthrough():
    params = {
        "w": jnp.array([1.0, -1.0], jnp.bfloat16),
        "step": jnp.array(3),
        "v": jnp.array([0.0, 2.0]),
    }
    updates = {"w": jnp.ones(2, jnp.bfloat16), "step": jnp.zeros((), jnp.int32), "v": jnp.ones(2)}
    for tx in (
        lossjax.add_l1(0.5),
        lossjax.add_l2(0.5),
        lossjax.add_elastic_net(0.5, l1_ratio=0.5),
        lossjax.proximal_l1(0.5),
    ):
        new, state = jax.jit(tx.update)(updates, tx.init(params), params)
        assert new["w"].dtype == jnp.bfloat16 and new["v"].dtype == jnp.float32
        assert new["step"] is not None and int(new["step"]) == 0  # integer leaf untouched
        assert int(state.count) == 1
    new, _ = lossjax.add_l1(0.5).update(updates, lossjax.add_l1(0.5).init(params), params)
    np.testing.assert_array_equal(new["v"], [1.0, 1.5])  # sign(0) = 0


def test_schedule_uses_step_count_under_jit():
    schedule = optax.piecewise_constant_schedule(1.0, {2: 0.0})  # 1, 1, 0, 0, ...
    tx = lossjax.add_l2(schedule)
    params = {"w": jnp.array([1.0])}
    state = tx.init(params)
    update = jax.jit(tx.update)
    added = []
    for _ in range(4):
        u, state = update({"w": jnp.zeros(1)}, state, params)
        added.append(float(u["w"][0]))
    assert added == [2.0, 2.0, 0.0, 0.0]


def test_composes_with_optax_wrappers():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    zeros = jax.tree.map(jnp.zeros_like, params)
    # inject_hyperparams: the strength becomes a traced, changeable hyperparameter.
    tx = optax.inject_hyperparams(lossjax.add_l2)(strength=0.1)
    updates, state = jax.jit(tx.update)(zeros, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], 0.2)
    assert float(state.hyperparams["strength"]) == pytest.approx(0.1)
    # optax.masked with a lossjax mask gives the same as the built-in mask.
    wrapped = optax.masked(lossjax.add_l2(0.1), masks.exclude_biases_and_norms)
    builtin = lossjax.add_l2(0.1, mask=masks.exclude_biases_and_norms)
    a, _ = wrapped.update(zeros, wrapped.init(params), params)
    b, _ = builtin.update(zeros, builtin.init(params), params)
    assert_trees_close(a, b, atol=0)


# ----------------------------------------------------------------------------- proximal L1


def test_proximal_l1_is_exactly_the_prox_of_the_raw_step():
    rng = np.random.default_rng(3)
    params = {"a": jnp.asarray(rng.normal(size=(40,)), jnp.float32), "b": jnp.array([1e-8, -3.0])}
    raw = {"a": jnp.asarray(rng.normal(size=(40,)) * 0.3, jnp.float32), "b": jnp.array([0.0, 0.1])}
    tau = 0.4
    tx = lossjax.proximal_l1(tau)
    updates, _ = jax.jit(tx.update)(raw, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    for key in params:
        target = ref_soft_threshold(np.asarray(params[key]) + np.asarray(raw[key]), tau)
        np.testing.assert_allclose(new[key], target, rtol=1e-6, atol=1e-7)
        zero = target == 0
        assert zero.any()
        # Zeros are exact, not merely small.
        np.testing.assert_array_equal(np.asarray(new[key])[zero], 0.0)
    # Masked-out leaves keep the raw update bit for bit.
    masked = lossjax.proximal_l1(tau, mask={"a": False, "b": True})
    updates, _ = masked.update(raw, masked.init(params), params)
    np.testing.assert_array_equal(updates["a"], raw["a"])


@given(
    # XLA on CPU flushes subnormals to zero, so subnormal inputs are left out.
    st.lists(st.floats(-10, 10, width=32, allow_subnormal=False), min_size=1, max_size=6),
    st.floats(0, 5, width=32),
)
def test_soft_threshold_matches_reference(values, t):
    x = np.asarray(values, np.float32)
    np.testing.assert_allclose(
        lossjax.soft_threshold(jnp.asarray(x), t), ref_soft_threshold(x, t), rtol=1e-6, atol=1e-6
    )
    assert np.all((np.asarray(lossjax.soft_threshold(jnp.asarray(x), t)) == 0) == (np.abs(x) <= t))


def lasso_problem(n=200, p=50, informative=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    w_true = np.zeros(p)
    w_true[rng.choice(p, informative, replace=False)] = rng.choice([-1, 1], informative) * (
        1.0 + rng.random(informative)
    )
    y = x @ w_true + 0.1 * rng.normal(size=n)
    return x, y, w_true


def mse_of_weights(w, x, y):
    return lossjax.mean_squared_error(x @ w, y)


def ista_step_size(x):
    # The MSE gradient (2/n) X^T (Xw - y) is L-Lipschitz with L = 2 sigma_max(X)^2 / n.
    return 1.0 / (2.0 * np.linalg.norm(x, 2) ** 2 / x.shape[0])


def test_proximal_l1_after_sgd_reaches_sklearn_lasso_with_the_same_zeros(x64):
    x, y, _ = lasso_problem()
    lam = 0.1  # MSE + lam * ||w||_1  <->  Lasso(alpha = lam / 2), see the module docstring
    reference = Lasso(alpha=lam / 2, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(x, y)
    w_ref = reference.coef_
    lr = ista_step_size(x)
    tx = optax.chain(optax.sgd(lr), lossjax.proximal_l1(lr * lam))
    w0 = jnp.zeros(x.shape[1])
    w = run_chain(tx, mse_of_weights, w0, (jnp.asarray(x), jnp.asarray(y)), 3000)
    assert w.dtype == jnp.float64
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-4)
    zeros = np.asarray(w) == 0.0
    assert 5 <= np.count_nonzero(~zeros) < x.shape[1]  # a genuinely sparse solution
    np.testing.assert_array_equal(zeros, w_ref == 0.0)

    # The subgradient route minimises the same objective but reaches no exact zero.
    tx_sub = optax.chain(lossjax.add_l1(lam), optax.sgd(lr))
    w_sub = run_chain(tx_sub, mse_of_weights, w0, (jnp.asarray(x), jnp.asarray(y)), 3000)
    assert np.count_nonzero(np.asarray(w_sub) == 0.0) == 0
    # ...while its weights on the support still approach the lasso solution.
    np.testing.assert_allclose(np.asarray(w_sub)[~zeros], w_ref[~zeros], atol=0.05)


def test_regularized_l2_reaches_sklearn_ridge(x64):
    x, y, _ = lasso_problem(n=120, p=20, seed=1)
    n = x.shape[0]
    lam = 0.3  # MSE + lam * ||w||^2  <->  Ridge(alpha = n * lam)
    w_ref = Ridge(alpha=n * lam, fit_intercept=False, solver="cholesky").fit(x, y).coef_
    loss = lossjax.regularized(mse_of_weights, l2=lam)
    lr = 1.0 / (2.0 * np.linalg.norm(x, 2) ** 2 / n + 2.0 * lam)
    w = run_chain(
        optax.sgd(lr), loss, jnp.zeros(x.shape[1]), (jnp.asarray(x), jnp.asarray(y)), 2000
    )
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-4)


# ----------------------------------------------------------------------------- masks on Flax


def test_exclude_biases_and_norms_on_flax_nnx_model():
    """Biases and LayerNorm scales/offsets get exactly the plain-SGD update at every step.

    Kernels differ between a regularized and a plain run, so after the first step
    the gradients of the two runs differ everywhere; the meaningful check is per
    step: given the same gradients, the regularized chain's update of every
    rank-1 leaf is bit-for-bit the plain SGD update, while kernels get more.
    """
    model = MLP(nnx.Rngs(0))
    lr, mask = 0.1, masks.exclude_biases_and_norms
    tx = optax.chain(
        lossjax.add_l2(0.1, mask=mask),
        lossjax.add_l1(0.01, mask=mask),
        optax.sgd(lr),
        lossjax.proximal_l1(0.05, mask=mask),
    )
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    plain = optax.sgd(lr)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(32, 3)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(32, 1)), jnp.float32)

    def loss_fn(model):
        return lossjax.mean_squared_error(model(x), y)

    before_all = nnx.as_pure(nnx.state(model, nnx.Param))
    for _ in range(5):
        before = nnx.as_pure(nnx.state(model, nnx.Param))
        grads = nnx.grad(loss_fn)(model)
        plain_updates, _ = plain.update(nnx.as_pure(grads), plain.init(before), before)
        expected_plain = optax.apply_updates(before, plain_updates)
        optimizer.update(model, grads)
        after = nnx.as_pure(nnx.state(model, nnx.Param))
        for (path, a), e, b in zip(
            jax.tree_util.tree_leaves_with_path(after),
            jax.tree.leaves(expected_plain),
            jax.tree.leaves(before),
            strict=True,
        ):
            if a.ndim < 2:
                np.testing.assert_array_equal(a, e, err_msg=jax.tree_util.keystr(path))
            else:
                assert not np.array_equal(a, e), jax.tree_util.keystr(path)
                assert not np.array_equal(a, b)
    after = nnx.as_pure(nnx.state(model, nnx.Param))
    # The vectors did train, and the kernels got exact zeros from the prox.
    assert not np.array_equal(after["norm"]["scale"], before_all["norm"]["scale"])
    assert not np.array_equal(after["linear1"]["bias"], before_all["linear1"]["bias"])
    assert np.count_nonzero(np.asarray(after["linear1"]["kernel"]) == 0.0) > 0
    assert np.count_nonzero(np.asarray(after["linear1"]["bias"]) == 0.0) == 0


def test_masks_module():
    params = {"k": jnp.ones((2, 2, 2)), "w": jnp.ones((2, 2)), "b": jnp.ones(2), "s": 1.0}
    assert masks.exclude_biases_and_norms(params) == {"k": True, "w": True, "b": False, "s": False}
    assert masks.only_rank_at_least(3)(params) == {"k": True, "w": False, "b": False, "s": False}
    assert masks.only_rank_at_least(0)(params) == dict.fromkeys(params, True)
    assert lossjax.masks is masks
    with pytest.raises(ValueError, match="`n`"):
        masks.only_rank_at_least(-1)


# ----------------------------------------------------------------------------- import cost


def test_import_lossjax_does_not_import_optax():
    """optax is imported when a transform is built, not by `import lossjax`."""
    code = "import sys, lossjax; print('optax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    code = "import sys, lossjax; lossjax.add_l2(0.1); print('optax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


# ----------------------------------------------------------------------------- errors


ALL_TRANSFORMS = [
    ("add_l1", lambda: lossjax.add_l1(0.1)),
    ("add_l2", lambda: lossjax.add_l2(0.1)),
    ("add_elastic_net", lambda: lossjax.add_elastic_net(0.1, l1_ratio=0.5)),
    ("proximal_l1", lambda: lossjax.proximal_l1(0.1)),
]


@pytest.mark.parametrize(("name", "make"), ALL_TRANSFORMS, ids=[n for n, _ in ALL_TRANSFORMS])
def test_transforms_require_params(name, make):
    tx = make()
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match=f"{name}.*`params`"):
        tx.update(params, tx.init(params))
    with pytest.raises(ValueError, match="`params`"):
        optax.chain(tx, optax.sgd(0.1)).update(params, optax.chain(tx, optax.sgd(0.1)).init(params))


@pytest.mark.parametrize(
    "make",
    [
        lambda: lossjax.add_l1(-0.1),
        lambda: lossjax.add_l2(-1.0),
        lambda: lossjax.add_elastic_net(-0.5, l1_ratio=0.5),
        lambda: lossjax.proximal_l1(-1e-3),
        lambda: lossjax.add_l2(float("nan")),
    ],
)
def test_negative_strength_raises(make):
    with pytest.raises(ValueError, match="`strength`"):
        make()


def test_invalid_hyperparameters_raise():
    params = {"w": jnp.ones(2)}
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="`l1_ratio`"):
            lossjax.elastic_net_penalty(params, l1_ratio=bad)
        with pytest.raises(ValueError, match="`l1_ratio`"):
            lossjax.add_elastic_net(0.1, l1_ratio=bad)
    with pytest.raises(ValueError, match="`l1`"):
        lossjax.regularized(linear_loss, l1=-1.0)
    with pytest.raises(ValueError, match="`l2`"):
        lossjax.regularized(linear_loss, l2=-1.0)
    with pytest.raises(TypeError, match="schedule"):
        lossjax.regularized(linear_loss, l2=optax.constant_schedule(0.1))


def test_bad_masks_raise():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    with pytest.raises(ValueError, match="`mask`"):
        lossjax.l2_penalty(params, mask={"w": True})
    with pytest.raises(ValueError, match="`mask`"):
        tx = lossjax.add_l2(0.1, mask={"w": True, "c": False})
        tx.update(params, tx.init(params), params)
    with pytest.raises(TypeError, match="`mask`"):
        lossjax.l2_penalty(params, mask={"w": 1.0, "b": 0.0})
    with pytest.raises(TypeError, match=r"`mask`.*static"):
        jax.jit(lambda p, m: lossjax.l2_penalty(p, mask=m))(params, {"w": True, "b": False})
