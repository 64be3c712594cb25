r"""Sequence-level helpers: log-probabilities of whole sequences, and exact accumulation.

* :func:`sequence_log_probs` sums the token log-probabilities
  :math:`\log p(y_t \mid \cdot)` of each sequence (optionally divided by its
  length), as the preference losses (:func:`lossjax.dpo_loss`,
  :func:`lossjax.simpo_loss`) need; :func:`linear_sequence_log_probs` does the
  same from final hidden states and the output projection without ever holding
  the ``[tokens, vocabulary]`` logits. Neither is a loss: they return one
  number per sequence and take no reduction.
* :func:`sum_and_count` returns a loss's numerator and denominator, so that
  micro-batches with different padding accumulate to exactly the full batch's
  mean (see :func:`lossjax.reduce_loss`, ``reduction="count"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks
from lossjax._linear_cross_entropy import DEFAULT_BLOCK_SIZE, linear_cross_entropy
from lossjax._multiclass import sparse_categorical_cross_entropy


def _per_sequence(log_probs: jax.Array, kept: jax.Array, average: bool) -> jax.Array:
    """Sums ``[..., T]`` token log-probabilities over ``T``; divides by the kept count if asked."""
    total = jnp.sum(log_probs, axis=-1)
    if not average:
        return total
    count = jnp.sum(kept, axis=-1, dtype=total.dtype)
    # Double `where`: a sequence without kept tokens gives 0, with a zero gradient.
    nonzero = count > 0
    return jnp.where(nonzero, total / jnp.where(nonzero, count, 1.0), jnp.zeros((), total.dtype))


def _kept_tokens(labels: jax.Array, num_classes: int, where: Any, ignore_index: Any) -> jax.Array:
    """The tokens that count: ``where``, a label in ``[0, V)`` and not ``ignore_index``."""
    kept = (labels >= 0) & (labels < num_classes)
    if ignore_index is not None:
        kept = kept & (labels != ignore_index)
    if where is not None:
        kept = kept & jnp.broadcast_to(jnp.asarray(where), labels.shape)
    return kept


def sequence_log_probs(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    where: ArrayLike | None = None,
    average: bool = False,
    ignore_index: int | None = None,
) -> jax.Array:
    r"""Log-probability of each label sequence under ``softmax(logits)``, summed over its tokens.

    With :math:`\log q_{t} = z_t - \operatorname{logsumexp}(z_t)` at token
    :math:`t` and the kept tokens :math:`m_t` (``where``, a label in
    :math:`[0, V)`, not ``ignore_index``):

    .. math::

        \log p(y) = \sum_t m_t \log q_{t, y_t}, \qquad
        \text{average:}\ \frac{\sum_t m_t \log q_{t, y_t}}{\sum_t m_t} .

    No one-hot is formed: each token's term is
    :func:`sparse_categorical_cross_entropy`'s (exact for confident
    predictions, where :math:`z_y - \operatorname{logsumexp}(z)` would round
    to 0). Removed tokens contribute exactly nothing, to the value and the
    gradient, whatever their logits hold. ``average=True`` is SimPO's length
    normalisation; a sequence without kept tokens gives 0. The logits must
    already be aligned with the labels (for a causal model, ``logits[..., :-1, :]``
    against ``tokens[..., 1:]``).

    Args:
        logits: floating ``[..., T, V]``: the vocabulary axis last, the token
            axis before it.
        labels: integer ``[..., T]`` token ids.
        where: optional boolean ``[..., T]`` mask (prompt and padding tokens
            ``False``), or a broadcastable one of the same rank.
        average: divide each sum by its number of kept tokens.
        ignore_index: optional label value whose tokens are left out.

    Returns:
        ``[...]``: one log-probability (float32 at least) per sequence.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.log(jnp.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]]))
        >>> labels = jnp.array([[0, 0, 1]])
        >>> lossjax.sequence_log_probs(logits, labels)  # log(0.5 * 0.9 * 0.8)
        Array([-1.0216513], dtype=float32)
        >>> lossjax.sequence_log_probs(logits, labels, where=jnp.array([[False, True, True]]),
        ...                            average=True)  # log(0.9 * 0.8) / 2
        Array([-0.16425203], dtype=float32)

    References:
        Rafailov et al., "Direct Preference Optimization", 2023
        (https://arxiv.org/abs/2305.18290); Meng et al., "SimPO", 2024
        (https://arxiv.org/abs/2405.14734) for the length-normalised form.
    """
    _checks.check_flag("average", average)
    logits = _checks.check_floating("logits", logits)
    labels = _checks.check_integer("labels", labels)
    if logits.ndim < 2:
        raise ValueError(
            "lossjax: `logits` must be [..., T, V] (a token axis and a vocabulary axis), got "
            f"logits.shape={tuple(logits.shape)}."
        )
    token_log_probs = -sparse_categorical_cross_entropy(
        logits, labels, where=where, ignore_index=ignore_index, reduction="none"
    )
    kept = _kept_tokens(labels, logits.shape[-1], where, ignore_index)
    return _per_sequence(token_log_probs, kept, average)


def linear_sequence_log_probs(
    hidden: ArrayLike,
    weight: ArrayLike,
    labels: ArrayLike,
    *,
    where: ArrayLike | None = None,
    average: bool = False,
    ignore_index: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> jax.Array:
    r""":func:`sequence_log_probs` of ``hidden @ weight``, without ever holding the logits.

    The same value and gradient as
    ``sequence_log_probs(hidden @ weight, labels, ...)``, computed by
    :func:`linear_cross_entropy`'s blockwise kernel: the ``[tokens, V]``
    logits are formed ``block_size`` vocabulary columns at a time, forward and
    backward, so the memory does not grow with the vocabulary (a policy and a
    reference model of a preference loss each need it). Forward-mode
    differentiation is not supported.

    Args:
        hidden: floating ``[..., T, D]`` final hidden states.
        weight: floating ``[D, V]`` output projection.
        labels: integer ``[..., T]`` token ids.
        where: optional boolean ``[..., T]`` mask (prompt and padding ``False``).
        average: divide each sum by its number of kept tokens.
        ignore_index: optional label value whose tokens are left out.
        block_size: vocabulary columns per block (see :func:`linear_cross_entropy`).

    Returns:
        ``[...]``: one log-probability (float32 at least) per sequence.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> hidden = jnp.array([[[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]])
        >>> weight = jnp.array([[1.0, -1.0, 0.0], [0.0, 1.0, 2.0]])
        >>> labels = jnp.array([[0, 2, 1]])
        >>> fused = lossjax.linear_sequence_log_probs(hidden, weight, labels, block_size=2)
        >>> fused
        Array([-2.9581432], dtype=float32)
        >>> bool(jnp.allclose(fused, lossjax.sequence_log_probs(hidden @ weight, labels)))
        True

    References:
        Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models",
        2024 (https://arxiv.org/abs/2411.09009).
    """
    _checks.check_flag("average", average)
    hidden = _checks.check_floating("hidden", hidden)
    weight = _checks.check_floating("weight", weight)
    labels = _checks.check_integer("labels", labels)
    if hidden.ndim < 2 or tuple(labels.shape) != tuple(hidden.shape[:-1]):
        raise ValueError(
            "lossjax: `hidden` must be [..., T, D] and `labels` [..., T], got "
            f"hidden.shape={tuple(hidden.shape)} and labels.shape={tuple(labels.shape)}."
        )
    shape = tuple(labels.shape)
    flat_where = None
    if where is not None:
        where = _checks.as_array("where", where)
        if where.ndim != len(shape):
            raise ValueError(
                f"lossjax: `where` must have the shape of `labels` {shape} (size-1 axes "
                f"broadcast), got where.shape={tuple(where.shape)}."
            )
        flat_where = jnp.broadcast_to(where, shape).reshape(-1)
    token_losses = linear_cross_entropy(
        hidden.reshape(-1, hidden.shape[-1]),
        weight,
        labels.reshape(-1),
        block_size=block_size,
        ignore_index=ignore_index,
        where=flat_where,
        reduction="none",
    )
    kept = _kept_tokens(labels, weight.shape[-1], where, ignore_index)
    return _per_sequence(-token_losses.reshape(shape), kept, average)


def sum_and_count(
    loss_fn: Callable[..., jax.Array], *args: Any, **kwargs: Any
) -> tuple[jax.Array, jax.Array]:
    r"""A loss's numerator and denominator: ``(loss(reduction="sum"), loss(reduction="count"))``.

    For every lossjax loss ``mean == sum / count`` (:func:`lossjax.reduce_loss`),
    with any ``weights``, ``where``, ``normalize_by`` and ``axis_name``. Summing
    both over :math:`k` micro-batches and dividing once,

    .. math::

        \frac{\sum_k \text{sum}_k}{\sum_k \text{count}_k}
        = \text{the full batch's mean}, \qquad
        \frac{\sum_k \nabla\text{sum}_k}{\sum_k \text{count}_k}
        = \text{its gradient},

    exactly, whatever the padding of each micro-batch, where the mean of the
    micro-batch means weighs a token of a sparsely filled micro-batch more.
    Under ``jax.jit`` the two calls share their work (XLA keeps one copy of
    the per-token values, and the count needs none of them).

    Args:
        loss_fn: a lossjax loss, or any function that takes ``reduction``
            (a :func:`lossjax.get` loss, a model's loss that passes it on).
        *args: its positional arguments.
        **kwargs: its keyword arguments, except ``reduction``.

    Returns:
        ``(sum, count)``, two scalars.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.zeros((2, 3, 4))
        >>> labels = jnp.array([[1, 2, 3], [0, 1, 2]])
        >>> mask = jnp.array([[True, True, True], [True, False, False]])
        >>> total, count = lossjax.sum_and_count(
        ...     lossjax.sparse_categorical_cross_entropy, logits, labels, where=mask
        ... )
        >>> count, total / count  # log 4 per token, 4 tokens
        (Array(4., dtype=float32), Array(1.3862944, dtype=float32))
    """
    if "reduction" in kwargs:
        raise TypeError(
            'lossjax: sum_and_count sets `reduction` itself ("sum", then "count"); '
            f"got reduction={kwargs['reduction']!r}."
        )
    _checks.check_callable("loss_fn", loss_fn)
    return loss_fn(*args, reduction="sum", **kwargs), loss_fn(*args, reduction="count", **kwargs)
