"""box_iou_loss against torchvision and ctc_loss against PyTorch (skipped when absent).

Run locally with torch and torchvision on the path, e.g. ``PYTHONPATH=/tmp/torchlib``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lossjax

torch = pytest.importorskip("torch")


def _pairs(rng, n):
    corner, size = rng.uniform(0, 5, (n, 2)), rng.uniform(0.2, 4, (n, 2))
    tcorner, tsize = rng.uniform(0, 5, (n, 2)), rng.uniform(0.2, 4, (n, 2))
    boxes = np.concatenate([corner, corner + size], 1)
    targets = np.concatenate([tcorner, tcorner + tsize], 1)
    # Degenerate and special pairs: identical, disjoint, inside, zero width/height.
    boxes[:5] = [[1, 1, 3, 2], [0, 0, 1, 1], [0, 0, 4, 4], [3, 0, 3, 2], [0.5, 3, 2.5, 3]]
    targets[:5] = [[1, 1, 3, 2], [2, 3, 4, 5], [1, 1, 2, 3], [0, 0, 2, 2], [0, 0, 2, 2]]
    return boxes.astype(np.float32), targets.astype(np.float32)


@pytest.mark.parametrize("kind", ["giou", "diou", "ciou"])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_box_iou_loss_equals_torchvision(kind, reduction):
    ops = pytest.importorskip("torchvision.ops")
    theirs_fn = {
        "giou": ops.generalized_box_iou_loss,
        "diou": ops.distance_box_iou_loss,
        "ciou": ops.complete_box_iou_loss,
    }[kind]
    boxes, targets = _pairs(np.random.default_rng(0), 16)
    b = torch.tensor(boxes, requires_grad=True)
    t = torch.tensor(targets, requires_grad=True)
    theirs = theirs_fn(b, t, reduction=reduction)
    theirs.sum().backward()

    def ours(x, y):
        return lossjax.box_iou_loss(x, y, kind=kind, reduction=reduction)

    value = ours(boxes, targets)
    np.testing.assert_allclose(value, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    gb, gt = jax.grad(lambda x, y: jnp.sum(ours(x, y)), argnums=(0, 1))(boxes, targets)
    assert np.all(np.isfinite(gb)) and np.all(np.isfinite(gt))
    # torchvision's CIoU gradient is NaN at a zero height (d/dh arctan(w/h) as inf/inf);
    # lossjax gives the one-sided limit there (tests/test_detection.py).
    rows = np.isfinite(b.grad.numpy()).all(1) & np.isfinite(t.grad.numpy()).all(1)
    assert kind == "ciou" or rows.all()
    np.testing.assert_allclose(gb[rows], b.grad.numpy()[rows], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gt[rows], t.grad.numpy()[rows], rtol=1e-4, atol=1e-6)


def test_box_iou_loss_epsilon_equals_torchvision_giou_and_diou():
    ops = pytest.importorskip("torchvision.ops")
    boxes, targets = _pairs(np.random.default_rng(1), 8)
    for kind, fn in (("giou", ops.generalized_box_iou_loss), ("diou", ops.distance_box_iou_loss)):
        theirs = fn(torch.tensor(boxes), torch.tensor(targets), eps=0.3).numpy()
        ours = lossjax.box_iou_loss(boxes, targets, kind=kind, epsilon=0.3, reduction="none")
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def _ctc_batch(rng):
    batch, frames, vocabulary, max_labels = 6, 12, 5, 4
    logits = (rng.normal(size=(batch, frames, vocabulary)) * 2).astype(np.float32)
    labels = rng.integers(1, vocabulary, size=(batch, max_labels)).astype(np.int64)
    labels[0, 1] = labels[0, 0]
    label_lengths = np.array([4, 2, 1, 3, 4, 2])
    frame_counts = np.array([12, 7, 3, 12, 2, 9])  # sequence 4: 4 labels in 2 frames
    label_paddings = (np.arange(max_labels) >= label_lengths[:, None]).astype(np.float32)
    logit_paddings = (np.arange(frames) >= frame_counts[:, None]).astype(np.float32)
    return logits, labels, logit_paddings, label_paddings, frame_counts, label_lengths


def _torch_ctc(logits, labels, frame_counts, label_lengths, **kwargs):
    z = torch.tensor(logits, requires_grad=True)
    log_probs = torch.log_softmax(z, dim=-1).transpose(0, 1)  # (T, B, V)
    loss = torch.nn.functional.ctc_loss(
        log_probs,
        torch.tensor(labels),
        torch.tensor(frame_counts),
        torch.tensor(label_lengths),
        **kwargs,
    )
    return z, loss


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_equals_pytorch_per_sequence(zero_infinity):
    logits, labels, logit_paddings, label_paddings, frame_counts, label_lengths = _ctc_batch(
        np.random.default_rng(2)
    )
    z, theirs = _torch_ctc(
        logits, labels, frame_counts, label_lengths, reduction="none", zero_infinity=zero_infinity
    )

    def ours(x):
        return lossjax.ctc_loss(
            x,
            labels.astype(np.int32),
            logit_paddings=logit_paddings,
            label_paddings=label_paddings,
            zero_infinity=zero_infinity,
            reduction="none",
        )

    value = ours(logits)
    np.testing.assert_allclose(value, theirs.detach().numpy(), rtol=1e-5)
    assert (value[4] == 0) if zero_infinity else (value[4] == np.inf)
    if zero_infinity:  # (PyTorch's gradient of an inf loss is not meaningful)
        theirs.sum().backward()
        grad = jax.grad(lambda x: jnp.sum(ours(x)))(logits)
        np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_ctc_loss_pytorch_mean_is_a_weighted_sum():
    """PyTorch's reduction="mean": each value divided by its label length, then the mean."""
    logits, labels, logit_paddings, label_paddings, frame_counts, label_lengths = _ctc_batch(
        np.random.default_rng(3)
    )
    keep = np.arange(6) != 4  # drop the impossible sequence
    z, theirs = _torch_ctc(
        logits[keep], labels[keep], frame_counts[keep], label_lengths[keep], reduction="mean"
    )
    theirs.backward()

    def ours(x):
        per_sequence = lossjax.ctc_loss(
            x,
            labels[keep].astype(np.int32),
            logit_paddings=logit_paddings[keep],
            label_paddings=label_paddings[keep],
            weights=1.0 / label_lengths[keep],
            reduction="sum",
        )
        return per_sequence / keep.sum()

    np.testing.assert_allclose(ours(logits[keep]), theirs.item(), rtol=1e-5)
    grad = jax.grad(ours)(logits[keep])
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-4, atol=1e-7)
