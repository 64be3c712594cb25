"""The margin losses against PyTorch and Keras 3 (skipped where those are not installed).

PyTorch's ``MultiMarginLoss`` is ``multiclass_hinge_loss(kind="weston_watkins")``;
Keras's ``SquaredHinge``, ``Hinge`` and ``CategoricalHinge`` are
``squared_hinge_loss``, ``hinge_loss`` and the Crammer-Singer
``multiclass_hinge_loss`` (with an extra class of score 0, see its docstring).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # before Keras is imported

import jax
import numpy as np
import pytest

import lossjax

RNG = np.random.default_rng(3)
N, K = 7, 4
SCORES = (RNG.normal(size=(N, K)) * 1.5).astype(np.float32)
LABELS = RNG.integers(0, K, size=N).astype(np.int32)
CLASS_WEIGHTS = np.array([0.5, 2.0, 1.0, 3.0], np.float32)


# -- PyTorch ----------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_weston_watkins_is_pytorch_multi_margin_loss(p, margin, weighted):
    torch = pytest.importorskip("torch")
    weight = torch.tensor(CLASS_WEIGHTS) if weighted else None
    cw = CLASS_WEIGHTS if weighted else None
    x = torch.tensor(SCORES, requires_grad=True)
    target = torch.tensor(LABELS, dtype=torch.long)
    kwargs = {"kind": "weston_watkins", "p": p, "margin": margin, "class_weights": cw}
    for reduction in ("none", "sum"):
        want = torch.nn.MultiMarginLoss(p=p, margin=margin, weight=weight, reduction=reduction)(
            x, target
        )
        got = lossjax.multiclass_hinge_loss(SCORES, LABELS, reduction=reduction, **kwargs)
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-6, atol=1e-7)
    # PyTorch's mean divides by N even with class weights: our "sum" / N.
    torch_mean = torch.nn.MultiMarginLoss(p=p, margin=margin, weight=weight)(x, target)
    ours_sum = lossjax.multiclass_hinge_loss(SCORES, LABELS, reduction="sum", **kwargs)
    np.testing.assert_allclose(ours_sum / N, torch_mean.detach().numpy(), rtol=1e-6)
    if not weighted:
        ours_mean = lossjax.multiclass_hinge_loss(SCORES, LABELS, **kwargs)
        np.testing.assert_allclose(ours_mean, torch_mean.detach().numpy(), rtol=1e-6)
    # Gradients of the sum.
    torch.nn.MultiMarginLoss(p=p, margin=margin, weight=weight, reduction="sum")(
        x, target
    ).backward()
    grad = jax.grad(lambda s: lossjax.multiclass_hinge_loss(s, LABELS, reduction="sum", **kwargs))(
        SCORES
    )
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-5, atol=1e-6)


# -- Keras 3 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras was imported with another backend")
    return keras


BINARY_SCORES = (RNG.normal(size=(3, 5)) * 2).astype(np.float32)
ZERO_ONE = (RNG.uniform(size=(3, 5)) < 0.5).astype(np.float32)


@pytest.mark.parametrize("labels", [ZERO_ONE, 2 * ZERO_ONE - 1], ids=["01", "pm1"])
def test_squared_hinge_and_hinge_are_keras(keras, labels):
    want = keras.losses.SquaredHinge()(labels, BINARY_SCORES)
    got = lossjax.squared_hinge_loss(BINARY_SCORES, labels)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6)
    want = keras.losses.Hinge()(labels, BINARY_SCORES)
    np.testing.assert_allclose(
        lossjax.hinge_loss(BINARY_SCORES, labels), np.asarray(want), rtol=1e-6
    )


def test_categorical_hinge_is_keras(keras):
    onehot = np.eye(K, dtype=np.float32)[LABELS]
    want = np.asarray(keras.losses.CategoricalHinge(reduction=None)(onehot, SCORES))
    padded = np.concatenate([SCORES, np.zeros((N, 1), np.float32)], axis=-1)
    got = lossjax.multiclass_hinge_loss(padded, LABELS, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    # Where some other class scores >= 0, Keras is plain Crammer-Singer.
    shifted = SCORES + 10.0
    want = np.asarray(keras.losses.CategoricalHinge(reduction=None)(onehot, shifted))
    got = lossjax.multiclass_hinge_loss(shifted, LABELS, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
