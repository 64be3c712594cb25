"""Circle loss against Keras ``keras.losses.Circle`` (optional: skipped without Keras).

Run locally with ``KERAS_BACKEND=jax``. PyTorch and torchvision have none of
this module's losses built in (ArcFace, SigLIP and NT-Xent live in third-party
packages); NT-Xent is compared with optax in tests/test_contrastive.py.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

import jax  # noqa: E402

import lossjax  # noqa: E402


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("gamma, margin", [(80.0, 0.4), (16.0, 0.25)])
def test_circle_equals_keras_per_anchor_and_gradient(gamma, margin):
    rng = np.random.default_rng(0)
    x = _unit(rng.normal(size=(10, 6)))
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 3, 3], np.int32)
    want = keras.losses.circle(labels, x, gamma=gamma, margin=margin)
    got = lossjax.circle_loss(x, labels, gamma=gamma, margin=margin, reduction="none")
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)
    keras_mean = lambda e: keras.losses.Circle(gamma=gamma, margin=margin)(labels, e)  # noqa: E731
    ours = lambda e: lossjax.circle_loss(e, labels, gamma=gamma, margin=margin, normalize=False)  # noqa: E731
    np.testing.assert_allclose(ours(x), keras_mean(x), rtol=1e-5)
    np.testing.assert_allclose(jax.grad(ours)(x), jax.grad(keras_mean)(x), rtol=1e-4, atol=1e-6)
