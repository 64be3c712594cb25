"""ctc_loss against a float64 NumPy forward algorithm written here (itself checked by brute
force over every alignment), against optax (values and gradients), on impossible alignments,
long sequences and bad inputs. PyTorch and Keras: test_peers_detection_ctc.py.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lossjax


def _log_softmax(z):
    z = np.asarray(z, np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def reference(logits, labels, blank=0):
    """-log p(labels | logits) of one sequence (kept frames only), float64, in log space."""
    log_probs = _log_softmax(logits)
    labels = [int(y) for y in labels]
    extended = [blank]
    for y in labels:
        extended += [y, blank]
    if len(log_probs) == 0:
        return 0.0 if not labels else np.inf
    alpha = np.full(len(extended), -np.inf)
    alpha[0] = log_probs[0, blank]
    if labels:
        alpha[1] = log_probs[0, extended[1]]
    for frame in log_probs[1:]:
        new = np.full_like(alpha, -np.inf)
        for s, symbol in enumerate(extended):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and symbol != blank and symbol != extended[s - 2]:
                terms.append(alpha[s - 2])
            new[s] = np.logaddexp.reduce(terms) + frame[symbol]
        alpha = new
    last = alpha[-1] if not labels else np.logaddexp(alpha[-1], alpha[-2])
    return -last


def brute_force(logits, labels, blank=0):
    """-log of the sum over all V**T paths that collapse to ``labels``."""
    probs = np.exp(_log_softmax(logits))
    frames, vocabulary = probs.shape
    total = 0.0
    for path in itertools.product(range(vocabulary), repeat=frames):
        collapsed = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
        if [s for s in collapsed if s != blank] == list(labels):
            total += np.prod(probs[np.arange(frames), path])
    return -np.log(total) if total > 0 else np.inf


def _batch(rng, batch=6, frames=10, vocabulary=5, max_labels=4):
    logits = rng.normal(size=(batch, frames, vocabulary)).astype(np.float32) * 2
    labels = rng.integers(1, vocabulary, size=(batch, max_labels)).astype(np.int32)
    labels[0, 1] = labels[0, 0]  # a repeat
    label_lengths = np.array([4, 2, 0, 3, 1, 4])[:batch]
    frame_counts = np.array([10, 7, 3, 10, 1, 9])[:batch]
    label_paddings = (np.arange(max_labels) >= label_lengths[:, None]).astype(np.float32)
    logit_paddings = (np.arange(frames) >= frame_counts[:, None]).astype(np.float32)
    labels[label_paddings == 1] = rng.integers(0, vocabulary, size=int(label_paddings.sum()))
    return logits, labels, logit_paddings, label_paddings


def _reference_batch(logits, labels, logit_paddings, label_paddings, blank=0):
    return np.array(
        [
            reference(z[p == 0], y[q == 0], blank)
            for z, y, p, q in zip(logits, labels, logit_paddings, label_paddings, strict=True)
        ]
    )


@pytest.mark.parametrize("labels", [[], [1], [1, 2], [2, 2], [1, 2, 1]])
def test_the_reference_equals_the_brute_force_sum_over_alignments(labels):
    rng = np.random.default_rng(len(labels))
    logits = rng.normal(size=(5, 3))
    np.testing.assert_allclose(reference(logits, labels), brute_force(logits, labels), rtol=1e-12)
    np.testing.assert_allclose(
        reference(logits, labels, blank=2) if 2 not in labels else 0.0,
        brute_force(logits, labels, blank=2) if 2 not in labels else 0.0,
        rtol=1e-12,
    )


def test_brute_force_example_through_the_loss():
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(1, 4, 3)).astype(np.float32)
    got = lossjax.ctc_loss(logits, jnp.array([[1, 1]]), reduction="none")
    np.testing.assert_allclose(got, [brute_force(logits[0], [1, 1])], rtol=1e-6)


def test_values_match_the_float64_reference_with_paddings():
    logits, labels, logit_paddings, label_paddings = _batch(np.random.default_rng(0))
    got = lossjax.ctc_loss(
        logits,
        labels,
        logit_paddings=logit_paddings,
        label_paddings=label_paddings,
        reduction="none",
    )
    want = _reference_batch(logits, labels, logit_paddings, label_paddings)
    assert got.dtype == jnp.float32 and got.shape == (6,)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_float64_values_and_gradients_match_the_reference(x64):
    logits, labels, logit_paddings, label_paddings = _batch(np.random.default_rng(1), batch=3)
    logits = logits.astype(np.float64)

    def loss(z):
        return lossjax.ctc_loss(
            z,
            labels,
            logit_paddings=logit_paddings,
            label_paddings=label_paddings,
            reduction="sum",
        )

    value, grad = jax.value_and_grad(loss)(logits)
    want = _reference_batch(logits, labels, logit_paddings, label_paddings)
    np.testing.assert_allclose(value, want.sum(), rtol=1e-12)
    # Central differences of the NumPy reference, every logit.
    step, numeric = 1e-6, np.zeros_like(logits)
    for index in np.ndindex(*logits.shape):
        up, down = logits.copy(), logits.copy()
        up[index] += step
        down[index] -= step
        b = index[0]
        numeric[index] = (
            reference(up[b][logit_paddings[b] == 0], labels[b][label_paddings[b] == 0])
            - reference(down[b][logit_paddings[b] == 0], labels[b][label_paddings[b] == 0])
        ) / (2 * step)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    # Padded frames get exactly zero gradient.
    assert np.all(np.asarray(grad)[logit_paddings == 1] == 0)


def test_equals_optax_values_and_gradients_with_paddings():
    logits, labels, logit_paddings, label_paddings = _batch(np.random.default_rng(2))

    def ours(z):
        return lossjax.ctc_loss(
            z,
            labels,
            logit_paddings=logit_paddings,
            label_paddings=label_paddings,
            reduction="none",
        )

    def theirs(z):
        return optax.ctc_loss(z, logit_paddings, labels, label_paddings)

    np.testing.assert_allclose(ours(logits), theirs(logits), rtol=1e-5)
    weights = jnp.asarray(np.random.default_rng(3).uniform(0.5, 2.0, size=6), jnp.float32)
    g_ours = jax.grad(lambda z: jnp.sum(ours(z) * weights))(logits)
    g_theirs = jax.grad(lambda z: jnp.sum(theirs(z) * weights))(logits)
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-4, atol=1e-6)


def test_padded_frames_in_the_middle_are_skipped_as_in_optax():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 8, 4)).astype(np.float32)
    labels = np.array([[1, 3], [2, 2]], np.int32)
    paddings = np.zeros((2, 8), np.float32)
    paddings[:, [0, 3, 4]] = 1.0
    got = lossjax.ctc_loss(logits, labels, logit_paddings=paddings, reduction="none")
    np.testing.assert_allclose(
        got, optax.ctc_loss(logits, paddings, labels, np.zeros((2, 2))), rtol=1e-5
    )
    np.testing.assert_allclose(
        got, _reference_batch(logits, labels, paddings, np.zeros((2, 2))), rtol=1e-5
    )


def test_blank_id_other_than_zero():
    logits, labels, logit_paddings, label_paddings = _batch(np.random.default_rng(5))
    labels = labels - 1  # classes 0..3, blank 4
    got = lossjax.ctc_loss(
        logits,
        labels,
        logit_paddings=logit_paddings,
        label_paddings=label_paddings,
        blank_id=4,
        reduction="none",
    )
    want = _reference_batch(logits, labels, logit_paddings, label_paddings, blank=4)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    theirs = optax.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=4)
    np.testing.assert_allclose(got, theirs, rtol=1e-5)


def test_impossible_alignments_are_inf_or_zero_with_zero_gradient():
    rng = np.random.default_rng(6)
    logits = jnp.asarray(rng.normal(size=(4, 3, 4)).astype(np.float32))
    labels = jnp.array([[1, 2, 3, 1], [2, 2, 0, 0], [1, 1, 1, 0], [1, 2, 0, 0]])
    label_paddings = jnp.array([[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 1, 1.0]])
    # Too long (4 labels, 3 frames); "2 2" needs 3 frames: fits; "1 1 1" needs 5; "1 2" fits.
    possible = np.array([False, True, False, True])
    for zero_infinity in (False, True):

        def loss(z, zero_infinity=zero_infinity):
            return lossjax.ctc_loss(
                z,
                labels,
                label_paddings=label_paddings,
                zero_infinity=zero_infinity,
                reduction="none",
            )

        values = loss(logits)
        want = _reference_batch(logits, labels, np.zeros((4, 3)), label_paddings)
        np.testing.assert_array_equal(np.isinf(want), ~possible)
        np.testing.assert_allclose(values[possible], want[possible], rtol=1e-5)
        impossible_value = 0.0 if zero_infinity else np.inf
        np.testing.assert_array_equal(values[~possible], impossible_value)
        # Gradient of each sequence alone: zero for the impossible ones, never NaN.
        for b in range(4):
            g = jax.grad(lambda z, b=b: loss(z)[b])(logits)
            assert np.all(np.isfinite(g))
            if possible[b]:
                assert np.any(g[b] != 0)
            else:
                np.testing.assert_array_equal(g, 0.0)
    # The mean with an impossible sequence is inf; zero_infinity averages the rest (and 0s).
    assert lossjax.ctc_loss(logits, labels, label_paddings=label_paddings) == np.inf
    np.testing.assert_allclose(
        lossjax.ctc_loss(logits, labels, label_paddings=label_paddings, zero_infinity=True),
        want[possible].sum() / 4,
        rtol=1e-5,
    )


def test_optax_gives_a_large_finite_number_where_lossjax_gives_inf():
    logits = jnp.zeros((1, 2, 3))
    labels = jnp.array([[1, 2, 1]])
    ours = lossjax.ctc_loss(logits, labels, reduction="none")
    theirs = optax.ctc_loss(logits, jnp.zeros((1, 2)), labels, jnp.zeros((1, 3)))
    assert ours[0] == np.inf and 1e4 < theirs[0] < 1e6


def test_a_long_sequence_is_finite_and_exact():
    """2000 frames: the log-probability is about -2000 x log V; nothing underflows."""
    rng = np.random.default_rng(7)
    frames, vocabulary = 2000, 6
    logits = rng.normal(size=(1, frames, vocabulary)).astype(np.float32)
    labels = rng.integers(1, vocabulary, size=(1, 300)).astype(np.int32)
    got = jax.jit(lambda z: lossjax.ctc_loss(z, labels, reduction="none"))(logits)
    want = reference(logits[0], labels[0])
    assert np.isfinite(got[0]) and want > 1000
    np.testing.assert_allclose(got, [want], rtol=1e-5)
    g = jax.grad(lambda z: lossjax.ctc_loss(z, labels))(logits)
    assert np.all(np.isfinite(g))
    # Each frame's gradient is softmax - posterior: it sums to 0 over the vocabulary.
    np.testing.assert_allclose(np.asarray(g).sum(-1), 0.0, atol=1e-5)


def test_empty_labels_and_no_frames():
    logits = jnp.asarray(np.random.default_rng(8).normal(size=(2, 3, 4)), jnp.float32)
    labels = jnp.zeros((2, 2), jnp.int32)
    values = lossjax.ctc_loss(
        logits,
        labels,
        label_paddings=jnp.ones((2, 2)),
        logit_paddings=jnp.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]),
        reduction="none",
    )
    blanks = -np.asarray(jax.nn.log_softmax(logits)[0, :, 0]).sum()
    np.testing.assert_allclose(values, [blanks, 0.0], rtol=1e-6)  # p(empty | no frame) = 1
    assert lossjax.ctc_loss(jnp.zeros((1, 0, 3)), jnp.array([[1]]), reduction="none")[0] == np.inf


def test_scalar_and_broadcast_paddings():
    logits, labels, _, _ = _batch(np.random.default_rng(10))
    row = (np.arange(10) >= 8).astype(np.float32)[None]
    got = lossjax.ctc_loss(logits, labels, logit_paddings=row, label_paddings=0.0, reduction="none")
    full = lossjax.ctc_loss(
        logits, labels, logit_paddings=np.repeat(row, 6, axis=0), reduction="none"
    )
    np.testing.assert_array_equal(got, full)


def test_where_weights_and_pytorch_mean_convention():
    logits, labels, logit_paddings, label_paddings = _batch(np.random.default_rng(11))
    kwargs = {"logit_paddings": logit_paddings, "label_paddings": label_paddings}
    per = np.asarray(lossjax.ctc_loss(logits, labels, reduction="none", **kwargs), np.float64)
    lengths = (1 - label_paddings).sum(1)
    keep = lengths > 0
    where = jnp.asarray(keep)
    got = lossjax.ctc_loss(
        logits, labels, where=where, weights=1.0 / np.maximum(lengths, 1), **kwargs
    )
    np.testing.assert_allclose(
        got, (per[keep] / lengths[keep]).sum() / (1 / lengths[keep]).sum(), rtol=1e-6
    )
    # PyTorch's reduction="mean": the mean over sequences of value / length.
    torch_mean = (
        lossjax.ctc_loss(
            logits,
            labels,
            where=where,
            reduction="sum",
            weights=1.0 / np.maximum(lengths, 1),
            **kwargs,
        )
        / keep.sum()
    )
    np.testing.assert_allclose(torch_mean, np.mean(per[keep] / lengths[keep]), rtol=1e-6)


def test_low_precision_logits_compute_in_float32():
    logits, labels, logit_paddings, label_paddings = _batch(np.random.default_rng(12))
    kwargs = {"logit_paddings": logit_paddings, "label_paddings": label_paddings}
    low = jnp.asarray(logits, jnp.bfloat16)
    got = lossjax.ctc_loss(low, labels, reduction="none", **kwargs)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(
        got,
        lossjax.ctc_loss(low.astype(jnp.float32), labels, reduction="none", **kwargs),
        rtol=1e-6,
    )


def test_bad_inputs_raise_naming_the_argument():
    z, y = jnp.zeros((2, 5, 4)), jnp.ones((2, 3), jnp.int32)
    with pytest.raises(ValueError, match="`logits` must have rank 3"):
        lossjax.ctc_loss(jnp.zeros((5, 4)), y)
    with pytest.raises(ValueError, match="`labels` must have rank 2"):
        lossjax.ctc_loss(z, jnp.ones((2,), jnp.int32))
    with pytest.raises(ValueError, match=r"`labels` must be \[B, N\].*\(3, 3\)"):
        lossjax.ctc_loss(z, jnp.ones((3, 3), jnp.int32))
    with pytest.raises(TypeError, match="`labels`"):
        lossjax.ctc_loss(z, jnp.ones((2, 3)))
    with pytest.raises(TypeError, match="`logits`"):
        lossjax.ctc_loss(jnp.zeros((2, 5, 4), jnp.int32), y)
    with pytest.raises(ValueError, match=r"`blank_id` must be a class.*blank_id=4"):
        lossjax.ctc_loss(z, y, blank_id=4)
    with pytest.raises(ValueError, match="`blank_id`"):
        lossjax.ctc_loss(z, y, blank_id=-1)
    with pytest.raises(ValueError, match=r"`logit_paddings` must be a scalar or broadcastable"):
        lossjax.ctc_loss(z, y, logit_paddings=jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"`label_paddings` must be a scalar or broadcastable"):
        lossjax.ctc_loss(z, y, label_paddings=jnp.zeros((3,)))
    with pytest.raises(ValueError, match=r"`logit_paddings` must be in \[0.0, 1.0\]"):
        lossjax.ctc_loss(z, y, logit_paddings=np.full((2, 5), 2.0))
    with pytest.raises(TypeError, match="`zero_infinity`"):
        lossjax.ctc_loss(z, y, zero_infinity=1)


def test_bad_labels_raise_in_checked_mode():
    z = jnp.zeros((2, 5, 4))
    blank_label = jnp.array([[1, 0], [1, 2]])
    with pytest.raises(ValueError, match=r"`labels` must be classes in \[0, 4\).*got 0"):
        lossjax.checked(jax.jit(lossjax.ctc_loss))(z, blank_label)
    with pytest.raises(ValueError, match=r"`labels`.*got 7"):
        lossjax.checked(lossjax.ctc_loss)(z, jnp.array([[1, 7], [1, 2]]))
    # Padded positions may hold anything.
    lossjax.checked(lossjax.ctc_loss)(z, blank_label, label_paddings=jnp.array([[0, 1], [0, 0]]))
    # Unchecked, an out-of-range label has probability 0.
    values = lossjax.ctc_loss(z, jnp.array([[1, 7], [1, 2]]), reduction="none")
    assert values[0] == np.inf and np.isfinite(values[1])


def test_registry_and_suggest():
    assert lossjax.info("ctc").name == "ctc_loss"
    assert lossjax.info("ctc").task == "sequence" and lossjax.info("ctc").input_kind == "logits"
    assert lossjax.available("sequence")[0] == "ctc_loss"
    assert lossjax.suggest("sequence")[0].name == "ctc_loss"
