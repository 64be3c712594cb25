"""Specification of the reduction contract shared by every lossjax loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lossjax import reduce_loss


def _np_reduce(values, weights, where, reduction):
    values = np.asarray(values, np.float64)
    w = np.ones_like(values) if weights is None else np.broadcast_to(weights, values.shape)
    m = np.ones(values.shape, bool) if where is None else np.broadcast_to(where, values.shape)
    contrib = np.where(m, w * np.where(m, values, 0.0), 0.0)
    if reduction == "none":
        return contrib
    if reduction == "sum":
        return contrib.sum()
    den = np.where(m, w, 0.0).sum()
    return contrib.sum() / den if den != 0 else 0.0


VALUES = np.array([[0.5, 2.0, 3.0], [1.5, 0.25, 4.0]], np.float32)
WEIGHTS = np.array([[1.0, 0.0, 2.0], [3.0, 0.5, 1.0]], np.float32)
WHERE = np.array([[True, True, False], [True, False, True]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("use_weights", [False, True])
@pytest.mark.parametrize("use_where", [False, True])
def test_matches_weighted_mean_definition(reduction, use_weights, use_where):
    weights = WEIGHTS if use_weights else None
    where = WHERE if use_where else None
    got = reduce_loss(jnp.asarray(VALUES), reduction=reduction, weights=weights, where=where)
    np.testing.assert_allclose(got, _np_reduce(VALUES, weights, where, reduction), rtol=1e-6)


def test_mean_without_weights_is_mean_over_kept_entries():
    got = reduce_loss(jnp.asarray(VALUES), where=WHERE)
    np.testing.assert_allclose(got, VALUES[WHERE].mean(), rtol=1e-6)


def test_size_one_axes_broadcast():
    per_row = np.array([[2.0], [1.0]], np.float32)
    got = reduce_loss(jnp.asarray(VALUES), weights=per_row)
    want = (VALUES * per_row).sum() / (per_row.sum() * 3)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_removed_entries_contribute_nothing_even_when_nan(reduction):
    values = jnp.asarray(VALUES).at[0, 2].set(jnp.nan).at[1, 1].set(jnp.inf)
    weights = jnp.asarray(WEIGHTS).at[0, 2].set(jnp.nan)

    def f(v):
        out = reduce_loss(v, reduction=reduction, weights=weights, where=WHERE)
        return jnp.sum(out)

    value, grad = jax.value_and_grad(f)(values)
    assert np.isfinite(value)
    clean = np.where(WHERE, VALUES, 0.0)
    np.testing.assert_allclose(
        value, np.sum(_np_reduce(clean, np.where(WHERE, WEIGHTS, 0.0), WHERE, reduction)), rtol=1e-6
    )
    assert np.all(np.asarray(grad)[~WHERE] == 0.0)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("use_weights", [False, True])
def test_all_masked_mean_is_zero_with_zero_gradient(use_weights):
    weights = WEIGHTS if use_weights else None
    where = np.zeros_like(WHERE)
    f = lambda v: reduce_loss(v, weights=weights, where=where)  # noqa: E731
    value, grad = jax.value_and_grad(f)(jnp.asarray(VALUES))
    assert value == 0.0
    np.testing.assert_array_equal(grad, np.zeros_like(VALUES))


def test_zero_total_weight_mean_is_zero():
    value, grad = jax.value_and_grad(lambda v: reduce_loss(v, weights=jnp.zeros(3)))(jnp.ones(3))
    assert value == 0.0 and np.all(grad == 0.0)


def test_gradient_of_weighted_mean():
    grad = jax.grad(lambda v: reduce_loss(v, weights=WEIGHTS, where=WHERE))(jnp.asarray(VALUES))
    kept = np.where(WHERE, WEIGHTS, 0.0)
    np.testing.assert_allclose(grad, kept / kept.sum(), rtol=1e-6)


def test_output_dtype_follows_values():
    assert (
        reduce_loss(jnp.ones(3, jnp.float32), weights=jnp.ones(3, jnp.bfloat16)).dtype
        == jnp.float32
    )


# Subnormal values are excluded, and values near the smallest normal number get an absolute
# tolerance: XLA on CPU flushes subnormal intermediates (w * v) to zero.
@given(
    values=st.lists(st.floats(0, 1e6, width=32, allow_subnormal=False), min_size=1, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_property_mean_is_convex_combination(values, seed):
    rng = np.random.default_rng(seed)
    v = np.asarray(values, np.float32)
    w = rng.uniform(0, 3, v.shape).astype(np.float32)
    m = rng.uniform(size=v.shape) < 0.7
    got = float(reduce_loss(jnp.asarray(v), weights=w, where=m))
    want = _np_reduce(v, w, m, "mean")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-30)
    if np.any(m & (w > 0)):
        kept = v[m & (w > 0)]
        assert kept.min() * (1 - 1e-6) - 1e-30 <= got <= kept.max() * (1 + 1e-6) + 1e-30


# -- errors ------------------------------------------------------------------------


def test_unknown_reduction_is_an_error():
    with pytest.raises(
        ValueError, match=r"`reduction` must be one of 'mean', 'sum', 'none', 'count'; got 'avg'"
    ):
        reduce_loss(jnp.ones(3), reduction="avg")


def test_weights_of_lower_rank_are_not_silently_right_aligned():
    with pytest.raises(
        ValueError, match=r"`weights` .* per-example loss shape \(2, 3\).*weights.shape=\(3,\)"
    ):
        reduce_loss(jnp.ones((2, 3)), weights=jnp.ones(3))


def test_column_weights_against_vector_values_is_an_error():
    with pytest.raises(ValueError, match=r"weights.shape=\(4, 1\)"):
        reduce_loss(jnp.ones(4), weights=jnp.ones((4, 1)))


def test_where_must_be_boolean():
    with pytest.raises(TypeError, match=r"`where` must be a boolean mask"):
        reduce_loss(jnp.ones(3), where=jnp.ones(3))


def test_where_shape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"`where` .*\(3,\).*where.shape=\(2,\)"):
        reduce_loss(jnp.ones(3), where=jnp.ones(2, bool))


def test_integer_values_are_an_error():
    with pytest.raises(TypeError, match=r"`values` must be a floating-point array"):
        reduce_loss(jnp.ones(3, jnp.int32))
