"""The new multiclass options against Keras 3 (JAX backend) and PyTorch, where installed."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import numpy as np
import pytest
import scipy.special

import lossjax

RNG = np.random.default_rng(7)
N, K = 6, 5
# Moderate logits: Keras clips probabilities to [1e-7, 1 - 1e-7].
LOGITS = (RNG.normal(size=(N, K)) * 1.5).astype(np.float32)
PROBS = RNG.dirichlet(np.ones(K), size=N).astype(np.float32)
LABELS = RNG.integers(0, K, size=N).astype(np.int32)
SOFTMAX = scipy.special.softmax(np.float64(LOGITS), axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras is not on the JAX backend")
    return keras


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("q", [0.7, 0.2, 0.99])  # Keras refuses q = 1
def test_generalized_cross_entropy_matches_keras(keras, q):
    ours = lossjax.generalized_cross_entropy(LOGITS, LABELS, q=q, reduction="none")
    theirs = keras.losses.categorical_generalized_cross_entropy(LABELS, SOFTMAX, q=q)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=2e-5, atol=1e-6)
    # The class (mean over the batch) equals our default mean.
    mean = keras.losses.CategoricalGeneralizedCrossEntropy(q=q)(LABELS, SOFTMAX)
    np.testing.assert_allclose(
        lossjax.generalized_cross_entropy(LOGITS, LABELS, q=q), float(mean), rtol=2e-5
    )


@pytest.mark.parametrize("alpha", [0.25, [0.1, 0.2, 0.3, 0.4, 0.5]])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@jax.numpy_rank_promotion("allow")  # Keras broadcasts a [K] alpha against [N, K]
def test_categorical_focal_matches_keras_on_distributions(keras, alpha, smoothing):
    loss = keras.losses.CategoricalFocalCrossentropy(
        alpha=alpha, gamma=1.5, from_logits=True, label_smoothing=smoothing
    )
    ours = lossjax.categorical_focal_loss(
        LOGITS, PROBS, gamma=1.5, alpha=np.asarray(alpha), label_smoothing=smoothing
    )
    np.testing.assert_allclose(ours, float(loss(PROBS, LOGITS)), rtol=2e-5)
    per_example = keras.losses.categorical_focal_crossentropy(
        PROBS, SOFTMAX, alpha=alpha, gamma=1.5, label_smoothing=smoothing
    )
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(
            SOFTMAX,
            PROBS,
            gamma=1.5,
            alpha=np.asarray(alpha),
            from_logits=False,
            label_smoothing=smoothing,
            reduction="none",
        ),
        np.asarray(per_example),
        rtol=2e-5,
    )
    # Integer labels: Keras on the one-hot.
    one_hot = np.eye(K, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(
        lossjax.categorical_focal_loss(
            LOGITS, LABELS, gamma=1.5, alpha=np.asarray(alpha), label_smoothing=smoothing
        ),
        float(loss(one_hot, LOGITS)),
        rtol=2e-5,
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_poly_and_dense_focal_reduce_to_pytorch_cross_entropy(torch, smoothing):
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(LOGITS), torch.tensor(PROBS), label_smoothing=smoothing, reduction="none"
    ).numpy()
    for ours in (
        lossjax.poly_cross_entropy(
            LOGITS, PROBS, epsilon=0.0, label_smoothing=smoothing, reduction="none"
        ),
        lossjax.categorical_focal_loss(
            LOGITS, PROBS, gamma=0.0, label_smoothing=smoothing, reduction="none"
        ),
    ):
        np.testing.assert_allclose(ours, expected, rtol=1e-5)
    # Poly-1 is PyTorch's cross-entropy plus epsilon * sum_k t'_k (1 - q_k).
    t = torch.tensor(PROBS) * (1 - smoothing) + smoothing / K
    poly = expected + 2.0 * (t * (1 - torch.softmax(torch.tensor(LOGITS), -1))).sum(-1).numpy()
    np.testing.assert_allclose(
        lossjax.poly_cross_entropy(
            LOGITS, PROBS, epsilon=2.0, label_smoothing=smoothing, reduction="none"
        ),
        poly,
        rtol=1e-5,
    )


def test_class_mask_matches_pytorch_on_the_kept_classes(torch):
    mask = np.array([True, False, True, True, False])
    labels = np.array([0, 2, 3, 0, 2, 3], np.int32)
    kept_labels = np.cumsum(mask)[labels] - 1
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(LOGITS[:, mask]), torch.tensor(kept_labels), label_smoothing=0.1
    ).item()
    np.testing.assert_allclose(
        lossjax.sparse_categorical_cross_entropy(
            LOGITS, labels, class_mask=mask, label_smoothing=0.1
        ),
        expected,
        rtol=1e-5,
    )
