"""Checked mode (issue 12, item 3): value checks on request, under jax.jit, vmap and grad too.

Every value class raises its ``lossjax:`` message under ``lossjax.checked``
with traced inputs; outside it the same traced inputs are never inspected
(zero cost: the program has no check) and give the formula's value.
"""

from __future__ import annotations

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.special import log_softmax

import lossjax
from lossjax import _checks
from lossjax._checked import checked

X = jnp.array([2.0, -1.0, 0.5])
LOGITS = jnp.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
ONE_HOT = jnp.eye(3)[jnp.array([0, 2])]
HIDDEN, WEIGHT = jnp.ones((3, 2)), jnp.arange(10.0).reshape(2, 5) / 10


def _inject_l2(strength):
    tx = optax.inject_hyperparams(lossjax.add_l2)(strength=0.1)
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    state.hyperparams["strength"] = strength
    return tx.update({"w": jnp.zeros(2)}, state, params)[0]["w"]


# (function of traced arrays, bad arguments, good arguments, message). One per value class.
CASES = {
    # labels
    "binary labels": (
        lossjax.binary_cross_entropy,
        (X, jnp.array([1.0, -1.0, 0.0])),
        (X, jnp.array([1.0, 0.0, 0.0])),
        r"`labels` must be 0/1 or soft labels in \[0, 1\], got -1",
    ),
    "focal labels": (
        lossjax.focal_loss,
        (X, jnp.array([1.0, 0.0, 2.0])),
        (X, jnp.array([1.0, 0.0, 1.0])),
        r"`labels` must be 0/1 or soft labels in \[0, 1\], got 2",
    ),
    "sparse labels": (
        lossjax.sparse_categorical_cross_entropy,
        (LOGITS, jnp.array([0, 3])),
        (LOGITS, jnp.array([0, 2])),
        r"`labels` must be class indices in \[0, 3\), got 3",
    ),
    "sparse labels, ignore_index": (
        lambda z, y: lossjax.sparse_categorical_cross_entropy(z, y, ignore_index=-100),
        (LOGITS, jnp.array([-1, -100])),
        (LOGITS, jnp.array([1, -100])),
        r"`labels` must be class indices in \[0, 3\) or ignore_index=-100, got -1",
    ),
    "generalized CE labels": (
        lossjax.generalized_cross_entropy,
        (LOGITS, jnp.array([0, 7])),
        (LOGITS, jnp.array([0, 1])),
        r"`labels` must be class indices in \[0, 3\), got 7",
    ),
    "categorical focal labels": (
        lossjax.categorical_focal_loss,
        (LOGITS, jnp.array([-2, 0])),
        (LOGITS, jnp.array([2, 0])),
        r"`labels` must be class indices in \[0, 3\), got -2",
    ),
    "linear CE labels": (
        lossjax.linear_cross_entropy,
        (HIDDEN, WEIGHT, jnp.array([0, 7, -3])),
        (HIDDEN, WEIGHT, jnp.array([0, 4, 3])),
        r"`labels` must be class indices in \[0, 5\), got 7",
    ),
    # probabilities with from_logits=False
    "BCE probabilities": (
        lambda p, y: lossjax.binary_cross_entropy(p, y, from_logits=False),
        (X, jnp.array([1.0, 0.0, 0.0])),
        (X / 4 + 0.5, jnp.array([1.0, 0.0, 0.0])),
        r"`logits` must be probabilities in \[0, 1\] with from_logits=False, got 2",
    ),
    "categorical probabilities": (
        lambda p, t: lossjax.categorical_cross_entropy(p, t, from_logits=False),
        (LOGITS, ONE_HOT),
        (jax.nn.softmax(LOGITS), ONE_HOT),
        r"`logits` must be probabilities in \[0, 1\] with from_logits=False, got 2",
    ),
    # targets that are distributions
    "negative targets": (
        lossjax.categorical_cross_entropy,
        (LOGITS, jnp.array([[1.5, -0.5, 0.0], [0.0, 0.0, 1.0]])),
        (LOGITS, ONE_HOT),
        r"`targets` must be non-negative probabilities, got -0.5",
    ),
    "non-normalised targets": (
        lossjax.categorical_cross_entropy,
        (LOGITS, jnp.array([[0.5, 0.25, 0.0], [0.0, 0.0, 1.0]])),
        (LOGITS, jnp.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])),
        r"`targets` must sum to 1 over the class axis \(target distributions\), got a sum of 0.75",
    ),
    "KL targets": (
        lossjax.kl_divergence,
        (LOGITS, 2 * ONE_HOT),
        (LOGITS, ONE_HOT),
        r"`targets` must sum to 1 .* got a sum of 2",
    ),
    "KL log-targets": (
        lambda z, t: lossjax.kl_divergence(z, t, log_targets=True),
        (LOGITS, jnp.zeros((2, 3))),
        (LOGITS, jnp.log(jnp.full((2, 3), 1 / 3))),
        r"exp\(`targets`\) .* must sum to 1 .* got a sum of 3",
    ),
    "poly targets": (
        lossjax.poly_cross_entropy,
        (LOGITS, 0.5 * ONE_HOT),
        (LOGITS, ONE_HOT),
        r"`targets` must sum to 1 .* got a sum of 0.5",
    ),
    "categorical focal targets": (
        lossjax.categorical_focal_loss,
        (LOGITS, 3 * ONE_HOT),
        (LOGITS, ONE_HOT),
        r"`labels` must sum to 1 .* got a sum of 3",
    ),
    # non-negative weights
    "negative weights": (
        lambda p, w: lossjax.mean_squared_error(p, jnp.zeros(3), weights=w),
        (X, jnp.array([2.0, -1.0, 0.0])),
        (X, jnp.array([2.0, 1.0, 0.0])),
        r"`weights` must be non-negative, got -1",
    ),
    # traced hyperparameter ranges
    "Huber delta": (
        lambda d: lossjax.huber_loss(X, jnp.zeros(3), delta=d),
        (jnp.asarray(-1.0),),
        (jnp.asarray(1.0),),
        r"`delta` must be > 0.0, got -1",
    ),
    "pos_weight": (
        lambda w: lossjax.binary_cross_entropy(X, jnp.array([1.0, 0.0, 1.0]), pos_weight=w),
        (jnp.asarray(-2.0),),
        (jnp.asarray(2.0),),
        r"`pos_weight` must be >= 0.0, got -2",
    ),
    "focal alpha": (
        lambda a: lossjax.focal_loss(X, jnp.array([1.0, 0.0, 1.0]), alpha=a),
        (jnp.asarray(1.5),),
        (jnp.asarray(0.25),),
        r"`alpha` must be in \[0.0, 1.0\], got 1.5",
    ),
    "focal gamma": (
        lambda g: lossjax.focal_loss(X, jnp.array([1.0, 0.0, 1.0]), gamma=g),
        (jnp.asarray(-0.5),),
        (jnp.asarray(0.5),),
        r"`gamma` must be >= 0.0, got -0.5",
    ),
    "temperature": (
        lambda t: lossjax.info_nce_loss(jnp.eye(3), jnp.eye(3), temperature=t),
        (jnp.asarray(-0.1),),
        (jnp.asarray(0.1),),
        r"`temperature` must be > 0.0, got -0.1",
    ),
    "z_loss": (
        lambda z: lossjax.linear_cross_entropy(HIDDEN, WEIGHT, jnp.array([0, 1, 2]), z_loss=z),
        (jnp.asarray(-1e-4),),
        (jnp.asarray(1e-4),),
        r"`z_loss` must be >= 0.0, got -0.0001",
    ),
    "label_smoothing": (
        lambda e: lossjax.sparse_categorical_cross_entropy(
            LOGITS, jnp.array([0, 1]), label_smoothing=e
        ),
        (jnp.asarray(1.5),),
        (jnp.asarray(0.1),),
        r"`label_smoothing` must be in \[0.0, 1.0\], got 1.5",
    ),
    "regularized strength": (
        lambda lam: lossjax.regularized(lambda p: jnp.sum(p["w"]), l2=lam)({"w": X}),
        (jnp.asarray(-0.1),),
        (jnp.asarray(0.1),),
        r"`l2` must be >= 0.0, got -0.1",
    ),
    "add_l2 through inject_hyperparams": (
        _inject_l2,
        (jnp.asarray(-0.1),),
        (jnp.asarray(0.1),),
        r"`strength` must be >= 0.0, got -0.1",
    ),
    "soft_threshold": (
        lambda t: lossjax.soft_threshold(X, t),
        (jnp.asarray(-0.5),),
        (jnp.asarray(0.5),),
        r"`threshold` must be >= 0.0, got -0.5",
    ),
}


@pytest.mark.parametrize(("fn", "bad", "good", "message"), CASES.values(), ids=CASES.keys())
def test_checked_mode_raises_under_jit(fn, bad, good, message):
    jitted = jax.jit(fn)
    with pytest.raises(ValueError, match=r"^lossjax: " + message):
        checked(jitted)(*bad)
    # Checks off: the traced values are not inspected, and the call returns.
    jax.block_until_ready(jitted(*bad))
    # Good values: the same result with and without checks.
    np.testing.assert_allclose(checked(jitted)(*good), jitted(*good), rtol=1e-6)
    assert not _checks.checks_enabled()


VMAP_GRAD_CASES = ["binary labels", "sparse labels", "non-normalised targets", "Huber delta"]


@pytest.mark.parametrize("name", VMAP_GRAD_CASES)
def test_checked_mode_raises_under_vmap_and_grad(name):
    fn, bad, _, message = CASES[name]
    stacked = [jnp.stack([a, a]) for a in bad]
    with pytest.raises(ValueError, match=r"^lossjax: " + message):
        checked(jax.vmap(fn))(*stacked)
    with pytest.raises(ValueError, match=r"^lossjax: " + message):
        checked(jax.jit(jax.vmap(fn)))(*stacked)
    with pytest.raises(ValueError, match=r"^lossjax: " + message):  # the first argument is floating
        checked(jax.jit(jax.grad(fn)))(*bad)


@pytest.mark.parametrize("name", ["binary labels", "negative weights", "sparse labels"])
def test_checked_mode_raises_eagerly(name):
    fn, bad, good, message = CASES[name]
    with pytest.raises(ValueError, match=r"^lossjax: " + message):
        checked(fn)(*bad)
    np.testing.assert_allclose(checked(fn)(*good), fn(*good), rtol=1e-6)


def test_checked_values_equal_an_independent_reference():
    z, y = np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 0.0])
    expected = np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    out = checked(jax.jit(lossjax.binary_cross_entropy))(jnp.asarray(z), jnp.asarray(y))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    logits = np.asarray(LOGITS, float)
    expected = -np.mean(log_softmax(logits, axis=1)[[0, 1], [0, 2]])
    out = checked(jax.jit(lossjax.sparse_categorical_cross_entropy))(LOGITS, jnp.array([0, 2]))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_checks_off_give_the_formula_value_deterministically():
    """±1 labels under jit without checks: exactly what the BCE formula gives (-0.187)."""
    z, y = np.array([2.0, -1.0]), np.array([1.0, -1.0])
    expected = np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    f = jax.jit(lossjax.binary_cross_entropy)
    first, second = f(jnp.asarray(z), jnp.asarray(y)), f(jnp.asarray(z), jnp.asarray(y))
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    assert first == second


def _primitives(jaxpr):
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for sub in jax.core.subjaxprs(eqn.params) if hasattr(jax.core, "subjaxprs") else ():
            names |= _primitives(sub)
    return names


def test_checks_off_add_nothing_to_the_program():
    fn = lambda y, w: lossjax.binary_cross_entropy(X, y, weights=w)  # noqa: E731
    args = (jnp.array([1.0, 0.0, 0.0]), jnp.ones(3))
    off = jax.make_jaxpr(fn)(*args)
    with _checks.enable_checks():
        on = jax.make_jaxpr(fn)(*args)
    assert "check" not in _primitives(off.jaxpr)
    assert "check" in _primitives(on.jaxpr)
    assert str(jax.make_jaxpr(fn)(*args)) == str(off)  # the flag is restored


def test_a_jitted_function_is_retraced_with_checks_and_its_unchecked_trace_kept():
    traces = []

    @jax.jit
    def loss(logits, labels):
        traces.append(_checks.checks_enabled())
        return lossjax.binary_cross_entropy(logits, labels)

    bad = jnp.array([1.0, -1.0, 0.0])
    unchecked = loss(X, bad)
    assert traces == [False]
    with pytest.raises(ValueError, match="`labels` must be 0/1"):
        checked(loss)(X, bad)
    assert traces == [False, True]  # traced again, with the checks
    assert loss(X, bad) == unchecked  # the unchecked program, reused
    with pytest.raises(ValueError, match="`labels` must be 0/1"):
        checked(loss)(X, bad)
    assert traces == [False, True]  # the checked program, reused


def test_entries_removed_by_where_are_not_checked():
    labels = jnp.array([1.0, -1.0, 0.0])
    keep = jnp.array([True, False, True])
    f = checked(jax.jit(lambda y, m: lossjax.binary_cross_entropy(X, y, where=m)))
    z, y = np.array([2.0, 0.5]), np.array([1.0, 0.0])
    expected = np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    np.testing.assert_allclose(f(labels, keep), expected, rtol=1e-6)
    targets = jnp.array([[0.2, 0.2, 0.2], [0.0, 0.0, 1.0]])
    g = checked(jax.jit(lambda t, m: lossjax.categorical_cross_entropy(LOGITS, t, where=m)))
    expected = -log_softmax(np.asarray(LOGITS[1], float))[2]
    np.testing.assert_allclose(g(targets, jnp.array([False, True])), expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"got a sum of 0\.6"):
        g(targets, jnp.array([True, True]))
    labels = jnp.array([0, 99])
    h = checked(jax.jit(lambda y, m: lossjax.sparse_categorical_cross_entropy(LOGITS, y, where=m)))
    expected = -log_softmax(np.asarray(LOGITS[0], float))[0]
    np.testing.assert_allclose(h(labels, jnp.array([True, False])), expected, rtol=1e-6)


def test_checked_must_be_outermost():
    with pytest.raises(TypeError, match=r"^lossjax: `checked` must be the outermost"):
        jax.jit(checked(lossjax.binary_cross_entropy))(X, jnp.array([1.0, 0.0, 0.0]))


def test_nested_checked_and_keyword_arguments():
    inner = checked(lossjax.binary_cross_entropy)
    outer = checked(jax.jit(lambda y: inner(X, labels=y, reduction="sum")))
    with pytest.raises(ValueError, match="`labels` must be 0/1"):
        outer(jnp.array([1.0, 3.0, 0.0]))
    z, y = np.asarray(X, float), np.array([1.0, 0.0, 0.0])
    expected = np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    np.testing.assert_allclose(outer(jnp.asarray(y)), expected, rtol=1e-6)


def test_checked_refuses_a_non_callable():
    with pytest.raises(TypeError, match=r"^lossjax: `fn` must be a callable"):
        checked(3)


def test_concrete_values_inside_checked_raise_at_trace_time():
    """A closed-over constant is concrete: checked while tracing, with the same message."""
    weights = np.array([1.0, -1.0, 1.0])
    f = checked(jax.jit(lambda p: lossjax.mean_squared_error(p, jnp.zeros(3), weights=weights)))
    with pytest.raises(ValueError, match="`weights` must be non-negative, got -1"):
        f(X)


def test_docstring_example_runs(monkeypatch):
    monkeypatch.setattr(lossjax, "checked", checked, raising=False)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for test in finder.find(checked, "checked", globs={}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
