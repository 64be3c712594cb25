"""Bad input never yields a plausible wrong number (issue 12, items 1, 3 and 4), default mode.

* Malformed inputs of every class (pytrees, ragged lists, None, non-scalar or
  non-numeric hyperparameters, non-bool flags, non-callables, non-numeric
  parameter leaves, an unbound ``axis_name``) raise errors that name the
  argument, not NumPy's or JAX's own.
* The clear mistakes (binary labels or probabilities outside [0, 1], negative
  weights or target probabilities) raise for concrete inputs outside jit.
* ``linear_cross_entropy`` removes labels outside [0, V) like the sparse losses.

Value checks of traced inputs, on request, are in tests/test_checked_mode.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_softmax

import lossjax
from lossjax import _checks

P = jnp.array([0.5, 1.0, 2.0, 3.0])
Y = jnp.zeros(4)
LOGITS = jnp.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])


def _softplus(x):
    return np.logaddexp(0.0, x)


# -- negative weights -------------------------------------------------------------


@pytest.mark.parametrize(
    ("predictions", "targets", "weights"),
    [
        ([0.5, 1.0, 2.0, 3.0], [0.0] * 4, [1.0, -1.0, 1.0, -1.0]),  # the mean would be exactly 0
        ([1.0, 1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [2.0, -1.0, 0.0, 0.0]),  # an MSE of -2
    ],
)
def test_negative_weights_raise(predictions, targets, weights):
    with pytest.raises(ValueError, match=r"lossjax: `weights` must be non-negative, got -1"):
        lossjax.mean_squared_error(jnp.array(predictions), jnp.array(targets), weights=weights)
    with pytest.raises(ValueError, match="`weights` must be non-negative"):
        lossjax.reduce_loss(jnp.array(predictions), weights=jnp.array(weights), reduction="sum")


def test_negative_weights_raise_through_class_weighted_losses():
    with pytest.raises(ValueError, match="`weights` must be non-negative"):
        lossjax.sparse_categorical_cross_entropy(
            LOGITS, jnp.array([0, 2]), class_weights=jnp.ones(3), weights=jnp.array([1.0, -1.0])
        )


def test_weights_removed_by_where_are_not_checked():
    """A removed entry may hold anything, a negative or NaN weight included."""
    w = jnp.array([1.0, -5.0, np.nan, 2.0])
    keep = jnp.array([True, False, False, True])
    p = np.array([0.5, 1.0, 2.0, 3.0])
    expected = (1.0 * 0.25 + 2.0 * 9.0) / 3.0
    np.testing.assert_allclose(
        lossjax.mean_squared_error(jnp.asarray(p), Y, weights=w, where=keep), expected, rtol=1e-6
    )


def test_traced_weights_are_not_inspected_in_the_default_mode():
    """Zero cost under jit: the weighted mean is computed as written (Σwl / Σw)."""
    p, w = np.array([1.0, 1.0, 0.0, 0.0]), np.array([2.0, -1.0, 0.5, 0.5])
    out = jax.jit(lambda w: lossjax.mean_squared_error(jnp.asarray(p), Y, weights=w))(w)
    np.testing.assert_allclose(out, np.sum(w * p**2) / np.sum(w), rtol=1e-6)


# -- binary labels and probabilities -----------------------------------------------

BINARY = [lossjax.binary_cross_entropy, lossjax.focal_loss]


@pytest.mark.parametrize("loss", BINARY, ids=lambda f: f.__name__)
def test_plus_minus_one_labels_raise(loss):
    with pytest.raises(
        ValueError, match=r"`labels` must be 0/1 or soft labels in \[0, 1\], got -1"
    ):
        loss(jnp.array([1.0, -1.0]), jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"`labels` .* got 2"):
        loss(jnp.array([1.0, -1.0]), jnp.array([2, 0]))


@pytest.mark.parametrize("loss", BINARY, ids=lambda f: f.__name__)
def test_logits_passed_as_probabilities_raise(loss):
    with pytest.raises(ValueError, match=r"`logits` must be probabilities in \[0, 1\] with "):
        loss(jnp.array([2.0, -1.0]), jnp.array([1.0, 0.0]), from_logits=False)


def test_out_of_range_entries_behind_where_do_not_raise():
    logits = jnp.array([2.0, -1.0, 0.3])
    labels = jnp.array([1.0, -1.0, 0.0])
    keep = jnp.array([True, False, True])
    z, y = np.array([2.0, 0.3]), np.array([1.0, 0.0])
    expected = np.mean(y * _softplus(-z) + (1 - y) * _softplus(z))
    out = lossjax.binary_cross_entropy(logits, labels, where=keep)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    probs = jnp.array([0.9, 7.0, 0.2])
    p = np.array([0.9, 0.2])
    expected = np.mean(-(y * np.log(p) + (1 - y) * np.log1p(-p)))
    out = lossjax.binary_cross_entropy(probs, labels, from_logits=False, where=keep)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_valid_soft_labels_and_probabilities_pass():
    p, y = np.array([0.0, 0.25, 1.0]), np.array([0.0, 0.5, 1.0])
    out = lossjax.binary_cross_entropy(jnp.asarray(p), jnp.asarray(y), from_logits=False)
    terms = -(y * np.maximum(np.log(np.maximum(p, 1e-300)), -100))
    terms -= (1 - y) * np.maximum(np.log(np.maximum(1 - p, 1e-300)), -100)
    np.testing.assert_allclose(out, terms.mean(), rtol=1e-6)


# -- class-axis inputs ---------------------------------------------------------------

PROBS = jnp.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])


@pytest.mark.parametrize(
    "call",
    [
        lambda: lossjax.categorical_cross_entropy(LOGITS, PROBS, from_logits=False),
        lambda: lossjax.sparse_categorical_cross_entropy(
            LOGITS, jnp.array([0, 1]), from_logits=False
        ),
        lambda: lossjax.kl_divergence(LOGITS, PROBS, from_logits=False),
        lambda: lossjax.categorical_focal_loss(LOGITS, jnp.array([0, 1]), from_logits=False),
    ],
    ids=["categorical", "sparse", "kl", "focal"],
)
def test_multiclass_logits_passed_as_probabilities_raise(call):
    with pytest.raises(ValueError, match=r"`logits` must be probabilities in \[0, 1\]"):
        call()


NEGATIVE_TARGETS = jnp.array([[-1.0, 2.0, 0.0], [0.5, 0.5, 0.0]])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: lossjax.categorical_cross_entropy(LOGITS, NEGATIVE_TARGETS), "targets"),
        (lambda: lossjax.kl_divergence(LOGITS, NEGATIVE_TARGETS), "targets"),
        (lambda: lossjax.poly_cross_entropy(LOGITS, NEGATIVE_TARGETS), "targets"),
        (lambda: lossjax.categorical_focal_loss(LOGITS, NEGATIVE_TARGETS), "labels"),
        (lambda: lossjax.convex_kl_divergence(LOGITS, NEGATIVE_TARGETS), "targets"),
    ],
    ids=["categorical", "kl", "poly", "focal", "convex_kl"],
)
def test_negative_targets_raise(call, name):
    with pytest.raises(ValueError, match=rf"`{name}` must be non-negative.*got -1"):
        call()


def test_negative_targets_of_removed_examples_do_not_raise():
    keep = jnp.array([False, True])
    out = lossjax.categorical_cross_entropy(LOGITS, NEGATIVE_TARGETS, where=keep)
    expected = -np.sum(np.array([0.5, 0.5, 0.0]) * log_softmax(np.asarray(LOGITS[1], float)))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_integer_labels_to_categorical_cross_entropy_point_to_the_sparse_loss():
    with pytest.raises(ValueError, match="sparse_categorical_cross_entropy") as info:
        lossjax.categorical_cross_entropy(LOGITS, jnp.array([0, 2]))
    assert "look like class indices" in str(info.value)
    assert "(N, 1)" not in str(info.value)


def test_sparse_losses_still_remove_out_of_range_labels_by_default():
    """Documented behaviour: removed like ignore_index (checked mode raises instead)."""
    labels = jnp.array([0, 5])
    expected = -log_softmax(np.asarray(LOGITS[0], float))[0]
    np.testing.assert_allclose(
        lossjax.sparse_categorical_cross_entropy(LOGITS, labels), expected, rtol=1e-6
    )


# -- linear_cross_entropy: labels outside [0, V) -----------------------------------------


def _linear_ce_reference(hidden, weight, labels):
    logits = np.asarray(hidden, float) @ np.asarray(weight, float)
    vocab = logits.shape[1]
    kept = (labels >= 0) & (labels < vocab)
    log_q = log_softmax(logits, axis=1)
    per_token = np.where(kept, -log_q[np.arange(len(labels)), np.clip(labels, 0, vocab - 1)], 0)
    return per_token, kept


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_linear_cross_entropy_removes_labels_outside_the_vocabulary(jit):
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(5, 3)).astype(np.float32)
    weight = rng.normal(size=(3, 7)).astype(np.float32)
    labels = np.array([0, 7, -3, 6, 100])
    per_token, kept = _linear_ce_reference(hidden, weight, labels)
    loss = lossjax.linear_cross_entropy
    loss = jax.jit(loss, static_argnames=("block_size", "reduction")) if jit else loss
    none = loss(hidden, weight, labels, block_size=4, reduction="none")
    np.testing.assert_allclose(none, per_token, rtol=1e-5, atol=1e-6)
    mean = loss(hidden, weight, labels, block_size=4)
    np.testing.assert_allclose(mean, per_token[kept].mean(), rtol=1e-5)
    grad = jax.grad(lambda h: loss(h, weight, labels, block_size=4))(hidden)
    np.testing.assert_array_equal(grad[~kept], 0.0)
    assert np.all(np.any(grad[kept] != 0, axis=1))


# -- errors that name the argument ---------------------------------------------------------

_ERRORS = {
    "dict predictions": (
        lambda: lossjax.mean_squared_error({"a": P}, {"a": Y}),
        TypeError,
        r"`predictions` must be an array, got a pytree \(dict",
    ),
    "dict labels": (
        lambda: lossjax.binary_cross_entropy(P, {"y": Y}),
        TypeError,
        r"`labels` must be an array, got a pytree",
    ),
    "ragged predictions": (
        lambda: lossjax.mean_squared_error([[1.0, 2.0], [1.0]], [[1.0, 2.0], [1.0]]),
        ValueError,
        r"`predictions` must be a rectangular array, got a ragged nested list",
    ),
    "ragged where": (
        lambda: lossjax.mean_squared_error(P, Y, where=[[True], [True, False]]),
        ValueError,
        r"`where` must be a rectangular array",
    ),
    "ragged weights": (
        lambda: lossjax.mean_squared_error(P, Y, weights=[[1.0], [1.0, 2.0]]),
        ValueError,
        r"`weights` must be a rectangular array",
    ),
    "string targets": (
        lambda: lossjax.mean_squared_error(P, "abc"),
        TypeError,
        r"`targets` must be a numeric array, got 'abc'",
    ),
    "None targets": (
        lambda: lossjax.huber_loss(P, None),
        TypeError,
        r"`targets` is required, got None",
    ),
    "list delta": (
        lambda: lossjax.huber_loss(P, Y, delta=[1, 2]),
        TypeError,
        r"`delta` must be a scalar",
    ),
    "array gamma": (
        lambda: lossjax.focal_loss(P, Y, gamma=jnp.array([1.0, 2.0])),
        TypeError,
        r"`gamma` must be a scalar",
    ),
    "string delta": (
        lambda: lossjax.huber_loss(P, Y, delta="abc"),
        TypeError,
        r"`delta` must be a .*number",
    ),
    "symmetric='no'": (
        lambda: lossjax.info_nce_loss(jnp.eye(3), jnp.eye(3), symmetric="no"),
        TypeError,
        r"`symmetric` must be a Python bool, got 'no'",
    ),
    "from_logits='yes'": (
        lambda: lossjax.binary_cross_entropy(P, Y, from_logits="yes"),
        TypeError,
        r"`from_logits` must be a Python bool",
    ),
    "log_targets=1": (
        lambda: lossjax.kl_divergence(LOGITS, PROBS, log_targets=1),
        TypeError,
        r"`log_targets` must be a Python bool",
    ),
    "regularized(3)": (
        lambda: lossjax.regularized(3, l2=0.1),
        TypeError,
        r"`loss_fn` must be a callable, got int 3",
    ),
    "string parameter leaf": (
        lambda: lossjax.l2_penalty({"w": "abc"}),
        TypeError,
        r"`params` must be a pytree of numeric arrays, got a leaf of type str: 'abc'",
    ),
    "string parameter leaves": (
        lambda: lossjax.l1_penalty({"w": ["a", "b"]}),
        TypeError,
        r"`params` must be a pytree of numeric arrays",
    ),
    "object parameter leaf": (
        lambda: lossjax.add_l2(0.1).update(
            {"w": object()}, lossjax.add_l2(0.1).init({}), {"w": object()}
        ),
        TypeError,
        r"`params` must be a pytree of numeric arrays, got a leaf of type object",
    ),
    "negative threshold": (
        lambda: lossjax.soft_threshold(jnp.array([1.0, -2.0]), -0.5),
        ValueError,
        r"`threshold` must be >= 0.0, got -0.5",
    ),
    "unbound axis_name": (
        lambda: lossjax.mean_squared_error(P, Y, axis_name="batch"),
        NameError,
        r"`axis_name`='batch' is not bound.*`jax.shard_map`.*`jax.pmap`",
    ),
    "unbound axis_name under jit": (
        lambda: jax.jit(lambda p: lossjax.binary_cross_entropy(p, Y, axis_name="data"))(P),
        NameError,
        r"`axis_name`='data' is not bound",
    ),
}


@pytest.mark.parametrize(("call", "error", "message"), _ERRORS.values(), ids=_ERRORS.keys())
def test_errors_name_the_argument(call, error, message):
    with pytest.raises(error, match=r"^lossjax: .*" + message):
        call()


def test_bound_axis_names_pass():
    out = jax.vmap(lambda p: lossjax.mean_squared_error(p, Y, axis_name="b"), axis_name="b")(
        jnp.stack([P, 2 * P])
    )
    expected = np.mean(np.concatenate([np.asarray(P) ** 2, (2 * np.asarray(P)) ** 2]))
    np.testing.assert_allclose(out, [expected, expected], rtol=1e-6)


def test_soft_threshold_shrinks_towards_zero():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    expected = np.sign(x) * np.maximum(np.abs(x) - 1.0, 0.0)
    np.testing.assert_array_equal(lossjax.soft_threshold(jnp.asarray(x), 1.0), expected)


# -- check_hyperparameter, the helper every loss (and the registry) calls -----------------


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("abc", TypeError, r"`h` must be a real number, got 'abc'"),
        ({"a": 1}, TypeError, r"`h` must be a real number"),
        (["a", "b"], TypeError, r"`h` must be a real number"),
        ([[1.0], [1.0, 2.0]], TypeError, r"`h` must be a real number"),
        (True, TypeError, r"`h` must be a real number"),
        ([1.0, 2.0], TypeError, r"`h` must be a scalar \(a number or a 0-d array\), got shape"),
        (np.ones((2, 1)), TypeError, r"`h` must be a scalar"),
        (-1.0, ValueError, r"`h` must be >= 0.0, got -1.0"),
        (float("nan"), ValueError, r"`h` must be >= 0.0, got nan"),
    ],
)
def test_check_hyperparameter_names_the_argument(value, error, message):
    with pytest.raises(error, match="^lossjax: " + message):
        _checks.check_hyperparameter("h", value, lower=0.0, scalar=True)


def test_check_hyperparameter_shape_and_type_are_checked_when_traced():
    with pytest.raises(TypeError, match="`h` must be a scalar"):
        jax.jit(lambda v: _checks.check_hyperparameter("h", v, scalar=True))(jnp.ones(2))
    # The range of a traced value is not inspected outside checked mode.
    jax.jit(lambda v: _checks.check_hyperparameter("h", v, lower=0.0, scalar=True))(-1.0)


def test_check_hyperparameter_accepts_arrays_without_scalar():
    _checks.check_hyperparameter("h", [0.1, 0.5, 0.9], lower=0.0, upper=1.0)
    with pytest.raises(ValueError, match=r"`h` must be in \[0.0, 1.0\], got \[1.5\]"):
        _checks.check_hyperparameter("h", [0.1, 1.5], lower=0.0, upper=1.0)
