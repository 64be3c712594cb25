"""Metric-learning losses against PyTorch (optional: skipped when torch is absent).

Values with ``reduction="none"`` and ``"mean"`` and gradients, against
``torch.nn.functional`` in float64. Keras has none of these losses; optax's
``triplet_margin_loss`` is compared in tests/test_metric_learning.py.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import lossjax

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _t(x):
    return torch.tensor(np.asarray(x, np.float64), requires_grad=True)


def _value_and_grads(loss, *arrays):
    """PyTorch's value and the gradients of its sum in every floating input."""
    tensors = [_t(a) if np.asarray(a).dtype.kind == "f" else torch.tensor(a) for a in arrays]
    value = loss(*tensors)
    value.sum().backward()
    grads = [t.grad.numpy() for t in tensors if t.grad is not None]
    return value.detach().numpy(), grads


def _rng(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"swap": True},
        {"p": 1.0, "margin": 0.5},
        {"p": 3.0, "epsilon": 1e-3},
        {"margin": 2.0, "epsilon": 0.0},
    ],
    ids=["default", "swap", "p1", "p3_eps", "margin2_eps0"],
)
def test_triplet_margin_loss_matches_torch(kwargs):
    a, pos, neg = _rng(0).normal(size=(3, 6, 4)).astype(np.float32)
    torch_kwargs = {("eps" if k == "epsilon" else k): v for k, v in kwargs.items()}
    for reduction in ("none", "mean"):
        want, grads = _value_and_grads(
            lambda x, y, z, r=reduction: F.triplet_margin_loss(
                x, y, z, reduction=r, **torch_kwargs
            ),
            a,
            pos,
            neg,
        )
        got = lossjax.triplet_margin_loss(a, pos, neg, reduction=reduction, **kwargs)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    got_grads = jax.grad(lossjax.triplet_margin_loss, argnums=(0, 1, 2))(a, pos, neg, **kwargs)
    for got, want in zip(got_grads, grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("margin", [0.0, 0.4, -0.3])
def test_cosine_embedding_loss_matches_torch(margin):
    rng = _rng(1)
    a, b = rng.normal(size=(2, 7, 5)).astype(np.float32)
    y = np.where(rng.uniform(size=7) < 0.5, -1, 1).astype(np.int64)
    y[:2] = [1, -1]
    for reduction in ("none", "mean"):
        want, grads = _value_and_grads(
            lambda x, z, t, r=reduction: F.cosine_embedding_loss(
                x, z, t, margin=margin, reduction=r
            ),
            a,
            b,
            y,
        )
        got = lossjax.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    got_grads = jax.grad(lossjax.cosine_embedding_loss, argnums=(0, 1))(a, b, y, margin=margin)
    for got, want in zip(got_grads, grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_margin_ranking_loss_matches_torch():
    rng = _rng(2)
    x1, x2 = rng.normal(size=(2, 9)).astype(np.float32)
    y = np.where(rng.uniform(size=9) < 0.5, -1.0, 1.0)
    for margin in (0.0, 0.5):
        for reduction in ("none", "mean"):
            want, grads = _value_and_grads(
                lambda s, t, u, r=reduction, m=margin: F.margin_ranking_loss(
                    s, t, u.detach(), margin=m, reduction=r
                ),
                x1,
                x2,
                y,
            )
            got = lossjax.margin_ranking_loss(x1, x2, y, margin=margin, reduction=reduction)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        got_grads = jax.grad(lossjax.margin_ranking_loss, argnums=(0, 1))(x1, x2, y, margin=margin)
        for got, want in zip(got_grads, grads[:2], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_hinge_embedding_loss_matches_torch():
    rng = _rng(3)
    d = rng.uniform(0.0, 2.5, size=(3, 4)).astype(np.float32)
    y = np.where(rng.uniform(size=(3, 4)) < 0.5, -1.0, 1.0)
    for margin in (1.0, 2.0):
        for reduction in ("none", "mean"):
            want, grads = _value_and_grads(
                lambda x, t, r=reduction, m=margin: F.hinge_embedding_loss(
                    x, t.detach(), margin=m, reduction=r
                ),
                d,
                y,
            )
            got = lossjax.hinge_embedding_loss(d, y, margin=margin, reduction=reduction)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        got = jax.grad(lossjax.hinge_embedding_loss)(d, y, margin=margin)
        np.testing.assert_allclose(got, grads[0], rtol=1e-6)
