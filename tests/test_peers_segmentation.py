"""Segmentation losses against Keras and a PyTorch autograd transcription (optional peers).

Skipped when Keras or PyTorch is absent. Run locally with
``KERAS_BACKEND=jax PYTHONPATH=/path/to/torch python -m pytest tests/test_peers_segmentation.py``.
PyTorch and torchvision have no Dice or Lovász loss; the PyTorch part checks the
Lovász gradients against PyTorch's autograd of the algorithm of Berman et al.
(sort, cumulative sums), written here from the paper.
"""

import os

import jax
import numpy as np
import pytest

import lossjax

RNG = np.random.default_rng(2018)
B, H, W = 3, 4, 5


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("Keras is configured for another backend")
    return keras


def _binary():
    p = RNG.uniform(0.01, 0.99, size=(B, H, W, 1)).astype(np.float32)
    t = (RNG.uniform(size=(B, H, W, 1)) < 0.4).astype(np.float32)
    return p, t


def test_keras_dice_per_image_is_dice_without_smoothing():
    keras = _keras()
    p, t = _binary()
    want = keras.losses.Dice(axis=(1, 2, 3), reduction=None)(t, p)
    got = lossjax.dice_loss(p, t, from_logits=False, smooth=0.0, reduction="none")
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5)


def test_keras_dice_pools_the_channels_of_multichannel_inputs():
    keras = _keras()
    p = RNG.uniform(0.01, 0.99, size=(B, H, W, 3)).astype(np.float32)
    t = (RNG.uniform(size=(B, H, W, 3)) < 0.4).astype(np.float32)
    want = keras.losses.Dice(axis=(1, 2, 3), reduction=None)(t, p)
    # One binary channel holding every (pixel, class) entry of the image.
    pooled = lossjax.dice_loss(
        p.reshape(B, -1, 1), t.reshape(B, -1, 1), from_logits=False, smooth=0.0, reduction="none"
    )
    np.testing.assert_allclose(pooled, np.asarray(want), rtol=1e-5)


@pytest.mark.parametrize("alpha, beta", [(0.3, 0.7), (0.7, 0.3), (0.5, 0.5)])
def test_keras_tversky_swaps_alpha_and_beta(alpha, beta):
    keras = _keras()
    p, t = _binary()
    want = keras.losses.Tversky(alpha=alpha, beta=beta, axis=(1, 2, 3), reduction=None)(t, p)
    got = lossjax.tversky_loss(
        p, t, from_logits=False, alpha=beta, beta=alpha, smooth=0.0, reduction="none"
    )
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5)


def _torch():
    return pytest.importorskip("torch")


def _torch_lovasz(torch, errors, foreground):
    """Lovász extension of the Jaccard loss at ``errors`` (1-D), Berman et al. Alg. 1."""
    sorted_errors, order = torch.sort(errors, descending=True)
    fg = foreground[order].double()
    total = fg.sum()
    jaccard = 1.0 - (total - fg.cumsum(0)) / (total + (1.0 - fg).cumsum(0))
    increments = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return (sorted_errors * increments).sum()


def test_lovasz_hinge_value_and_gradient_match_torch_autograd():
    torch = _torch()
    z = RNG.normal(size=(B, H, W)) * 2
    y = RNG.integers(0, 2, size=(B, H, W))
    zt = torch.tensor(z, requires_grad=True)
    yt = torch.tensor(y)
    losses = []
    for zi, yi in zip(zt, yt, strict=True):
        signs = 2.0 * yi.reshape(-1).double() - 1.0
        errors = torch.relu(1.0 - zi.reshape(-1) * signs)
        losses.append(_torch_lovasz(torch, errors, yi.reshape(-1)))
    want = torch.stack(losses).mean()
    want.backward()

    value, grad = jax.value_and_grad(lossjax.lovasz_hinge_loss)(z.astype(np.float32), y)
    np.testing.assert_allclose(value, want.item(), rtol=1e-5)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("classes", ["present", "all"])
def test_lovasz_softmax_value_and_gradient_match_torch_autograd(classes):
    torch = _torch()
    k = 4
    z = RNG.normal(size=(B, H, W, k)) * 2
    y = RNG.integers(0, k - 1, size=(B, H, W))  # class k - 1 absent everywhere
    zt = torch.tensor(z, requires_grad=True)
    yt = torch.tensor(y)
    losses = []
    for zi, yi in zip(zt, yt, strict=True):
        p = torch.softmax(zi.reshape(-1, k), dim=-1)
        labels = yi.reshape(-1)
        per_class = []
        for c in range(k):
            fg = labels == c
            if classes == "present" and not bool(fg.any()):
                continue
            per_class.append(_torch_lovasz(torch, (fg.double() - p[:, c]).abs(), fg))
        losses.append(torch.stack(per_class).mean())
    want = torch.stack(losses).mean()
    want.backward()

    f = lambda z: lossjax.lovasz_softmax_loss(z, y.astype(np.int32), classes=classes)  # noqa: E731
    value, grad = jax.value_and_grad(f)(z.astype(np.float32))
    np.testing.assert_allclose(value, want.item(), rtol=1e-5)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-4, atol=1e-6)
