r"""Sequence: connectionist temporal classification (CTC).

Numerics choices:

* **Log space throughout.** The forward variables :math:`\alpha_t(s)` over
  the label sequence with blanks interleaved (length :math:`2N + 1`) are kept
  as logarithms and combined with a log-sum-exp of the two or three allowed
  predecessors, shifted by their maximum, so thousands of frames neither
  underflow nor lose precision (float32 or better whatever the input dtype).
* **Impossible alignments.** A state that no path reaches holds
  :math:`-\infty`. The log-sum-exp of predecessors that are all
  :math:`-\infty` is :math:`-\infty` with a zero gradient (the logarithm
  never sees 0: a double ``where``), so unreachable states never produce NaN,
  in the value or in any derivative. Whether an alignment exists at all is
  decided from the lengths (:math:`T' \ge L + \text{repeats}`), not from the
  value: such a sequence gives ``inf`` (0 with ``zero_infinity``) and a zero
  gradient, while a possible one whose probability underflows float32 (logits
  near the float32 limit) gives ``inf`` as its exact value would.
* **Memory.** The scan over time carries ``[B, 2N + 1]`` log-alphas; reverse
  mode differentiates through the scan, which stores them for every frame:
  :math:`O(T \cdot B \cdot (2N + 1))`, as do the gathered emission
  log-probabilities. No ``[B, T, N, V]`` one-hot is formed.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks
from lossjax._reduction import AxisName, Reduction, mask_inputs, prepare_where, reduce_loss
from lossjax._registry import Recommendation, flag, integer, real, register


def _log_add(*terms: jax.Array) -> jax.Array:
    """Elementwise ``log(sum(exp(terms)))``: ``-inf`` with a zero gradient when all are ``-inf``."""
    stacked = jnp.stack(terms)
    peak = jax.lax.stop_gradient(jnp.max(stacked, axis=0, keepdims=True))
    peak = jnp.where(jnp.isfinite(peak), peak, jnp.zeros((), peak.dtype))
    total = jnp.sum(jnp.exp(stacked - peak), axis=0)
    peak = peak[0]
    reached = total > 0
    # Double `where`: the log never sees 0, so its derivative is never inf (0 * inf = NaN).
    log_total = jnp.log(jnp.where(reached, total, jnp.ones((), total.dtype)))
    return jnp.where(reached, peak + log_total, -jnp.inf)


def _paddings(name: str, value: Any, shape: tuple[int, int], dtype: Any) -> jax.Array:
    """``[B, L]`` paddings (1 = padded) from a scalar or an array of that shape (size-1 axes)."""
    if value is None:
        return jnp.zeros(shape, bool)
    paddings = _checks.check_real(name, value)
    ok = paddings.ndim == 0 or (
        paddings.ndim == 2 and all(p in (1, s) for p, s in zip(paddings.shape, shape, strict=True))
    )
    if not ok:
        raise ValueError(
            f"lossjax: `{name}` must be a scalar or broadcastable to {shape} with the same rank "
            f"(size-1 axes broadcast), got {name}.shape={tuple(paddings.shape)}."
        )
    return jnp.broadcast_to(paddings.astype(dtype) > 0.5, shape)


def _ctc_log_likelihoods(
    log_probs: jax.Array,
    labels: jax.Array,
    frame_padded: jax.Array,
    label_lengths: jax.Array,
    blank_id: int,
) -> jax.Array:
    """``log p(labels | log_probs)`` per sequence by the CTC forward recursion.

    ``log_probs`` ``[B, T, V]``, ``labels`` ``[B, N]`` (positions past each length
    hold the blank), ``frame_padded`` ``[B, T]``, ``label_lengths`` ``[B]``.
    """
    batch, _, _ = log_probs.shape
    num_labels = labels.shape[1]
    blanks = jnp.full((batch, num_labels + 1), blank_id, labels.dtype)
    # The extended sequence: blank, l1, blank, l2, ..., lN, blank.
    extended = blanks.at[:, :-1].set(labels)
    extended = jnp.stack([blanks, extended], axis=-1).reshape(batch, -1)[:, :-1]
    # An out-of-range label has probability 0 (checked mode raises instead).
    emissions = jnp.take_along_axis(
        log_probs, extended[:, None, :], axis=-1, mode="fill", fill_value=-jnp.inf
    )
    # Skipping the blank between two labels is allowed unless they are equal.
    distinct = jnp.concatenate(
        [jnp.zeros((batch, 1), bool), labels[:, 1:] != labels[:, :-1]], axis=1
    )
    skip = jnp.stack([jnp.zeros_like(distinct), distinct], axis=-1).reshape(batch, -1)
    skip = jnp.concatenate([skip, jnp.zeros((batch, 1), bool)], axis=1)

    dtype = log_probs.dtype
    impossible = jnp.full((batch, 1), -jnp.inf, dtype)
    # A virtual state before the first frame: log 1 at the first blank.
    start = jnp.concatenate(
        [jnp.zeros((batch, 1), dtype), jnp.full((batch, 2 * num_labels), -jnp.inf, dtype)], axis=1
    )
    # Typed like the data (under jax.shard_map the scan's carry must vary as the inputs do).
    start = start + jnp.zeros_like(jnp.sum(emissions, axis=1))

    def step(alpha: jax.Array, frame: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
        emission, padded = frame
        previous = jnp.concatenate([impossible, alpha[:, :-1]], axis=1)
        before_previous = jnp.concatenate([impossible, impossible, alpha[:, :-2]], axis=1)
        before_previous = jnp.where(skip, before_previous, -jnp.inf)
        advanced = _log_add(alpha, previous, before_previous) + emission
        # A padded frame does not advance the recursion.
        return jnp.where(padded[:, None], alpha, advanced), None

    frames = (jnp.moveaxis(emissions, 1, 0), jnp.moveaxis(frame_padded, 1, 0))
    alpha, _ = jax.lax.scan(step, start, frames)
    rows = jnp.arange(batch)
    ends_in_blank = alpha[rows, 2 * label_lengths]
    ends_in_label = jnp.where(
        label_lengths > 0, alpha[rows, jnp.maximum(2 * label_lengths - 1, 0)], -jnp.inf
    )
    return _log_add(ends_in_blank, ends_in_label)


@register(
    task="sequence",
    input_kind="logits",
    summary="Connectionist temporal classification: -log p(labels) summed over all alignments.",
    aliases=("ctc", "connectionist_temporal_classification"),
    hyperparameters=(
        real(
            "logit_paddings",
            "1.0 marks a padded frame ([B, T], optax's convention)",
            lower=0.0,
            upper=1.0,
            optional=True,
            scalar=False,
        ),
        real(
            "label_paddings",
            "1.0 marks a padded label ([B, N], right-padded)",
            lower=0.0,
            upper=1.0,
            optional=True,
            scalar=False,
        ),
        integer("blank_id", "the class of the blank symbol", lower=0),
        flag("zero_infinity", "sequences without any alignment give 0, not inf (PyTorch)"),
    ),
    recommendations=(
        Recommendation(
            "unsegmented label sequences (speech, handwriting): sums over every alignment "
            "of the labels to the frames",
            score=1.0,
        ),
        Recommendation(
            "CTC when some label sequences may be longer than their inputs: those "
            "give 0 instead of inf",
            {"zero_infinity": True},
        ),
    ),
    default=True,
)
def ctc_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    logit_paddings: ArrayLike | None = None,
    label_paddings: ArrayLike | None = None,
    blank_id: int = 0,
    zero_infinity: bool = False,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Connectionist temporal classification loss, one value per sequence.

    With :math:`q_t = \operatorname{softmax}(z_t)` over the vocabulary (blank
    included) at each kept frame :math:`t = 1..T'`, and
    :math:`\mathcal{B}^{-1}(y)` the alignments :math:`\pi` of length
    :math:`T'` that give the labels :math:`y` once repeats are merged and
    blanks removed:

    .. math::

        l = -\log \sum_{\pi \in \mathcal{B}^{-1}(y)} \prod_{t=1}^{T'} q_{t, \pi_t},

    computed by the forward recursion over :math:`y` with blanks interleaved,
    in log space (see the module docstring).

    Equal to optax's ``ctc_loss`` (same paddings convention: 1.0 marks a
    padded frame or label, labels right-padded) and to PyTorch's
    ``ctc_loss(log_softmax(logits).transpose(0, 1), targets, input_lengths,
    target_lengths, reduction="none")`` with the lengths counted from the
    paddings. Padded frames may be anywhere: they are skipped. Differences:
    when no alignment exists (fewer kept frames than labels plus repeated
    neighbours), lossjax gives ``inf`` (PyTorch too; ``zero_infinity=True``
    gives 0, as PyTorch's), with a zero gradient; optax gives a large finite
    number (about :math:`10^5`, from its ``log_epsilon``). PyTorch's default
    ``reduction="mean"`` divides each value by its label length first:
    ``weights=1 / label_lengths`` gives the same weighting with the contract's
    mean (PyTorch averages over sequences,
    ``ctc_loss(..., reduction="none", weights=1 / lengths).sum() / B``).
    ``zero_infinity`` zeroes only sequences without an alignment; a possible
    sequence whose probability is below the float range stays ``inf``.

    Labels of unpadded positions must lie in :math:`[0, V)` and differ from
    ``blank_id``; an out-of-range label makes the sequence impossible (``inf``),
    and under :func:`lossjax.checked` either mistake raises.

    Args:
        logits: ``[B, T, V]`` floating unnormalised scores (log-softmax is
            applied over ``V``).
        labels: ``[B, N]`` integer label sequences.
        logit_paddings: optional ``[B, T]`` paddings, 1.0 where a frame is
            padding, 0.0 where it is kept (a scalar, or size-1 axes, broadcast).
        label_paddings: optional ``[B, N]`` paddings, 1.0 where a label is
            padding; each row must be zeros followed by ones.
        blank_id: the blank's class in ``[0, V)``.
        zero_infinity: sequences with no possible alignment give 0 (and a zero
            gradient) instead of ``inf``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[B]``).
        weights: optional per-sequence weights, a scalar or ``[B]``.
        where: optional boolean ``[B]`` mask; ``False`` sequences contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the ``[B]`` per-sequence values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.log(jnp.array([[[0.5, 0.5], [0.2, 0.8]]]))  # blank is class 0
        >>> lossjax.ctc_loss(logits, jnp.array([[1]]), reduction="none")  # -log(.5*.8+.5*.2+.5*.8)
        Array([0.10536052], dtype=float32)
        >>> lossjax.ctc_loss(logits, jnp.array([[1, 1]]), reduction="none")  # needs 3 frames
        Array([inf], dtype=float32)
        >>> lossjax.ctc_loss(logits, jnp.array([[1, 1]]), zero_infinity=True, reduction="none")
        Array([0.], dtype=float32)

    References:
        Graves et al., "Connectionist Temporal Classification: Labelling
        Unsegmented Sequence Data with Recurrent Neural Networks", ICML 2006
        (https://www.cs.toronto.edu/~graves/icml_2006.pdf).
    """
    _checks.check_reduction(reduction)
    logits = _checks.check_floating("logits", logits)
    labels = _checks.check_integer("labels", labels)
    _checks.check_rank("logits", logits, 3)
    _checks.check_rank("labels", labels, 2)
    batch, num_frames, vocabulary = logits.shape
    if labels.shape[0] != batch:
        raise ValueError(
            "lossjax: `labels` must be [B, N] with the batch size B of `logits` [B, T, V], got "
            f"labels.shape={tuple(labels.shape)} and logits.shape={tuple(logits.shape)}."
        )
    if blank_id >= vocabulary:
        raise ValueError(
            f"lossjax: `blank_id` must be a class of `logits` (in [0, {vocabulary})), got "
            f"blank_id={blank_id} for logits.shape={tuple(logits.shape)}."
        )
    dtype = _checks.compute_dtype(logits)
    where = prepare_where(where, (batch,))
    frame_padded = _paddings("logit_paddings", logit_paddings, (batch, num_frames), dtype)
    label_padded = _paddings("label_paddings", label_paddings, (batch, labels.shape[1]), dtype)
    logits = logits.astype(dtype)
    if where is not None:  # removed sequences: logits 0 (whatever they held), no label
        logits = mask_inputs(where[:, None], logits, 0.0, axis=-1)
        frame_padded = frame_padded & where[:, None]
        label_padded = label_padded | ~where[:, None]
    labels = labels.astype(jnp.int64 if labels.dtype.itemsize == 8 else jnp.int32)
    _checks.check_values(
        f"lossjax: `labels` must be classes in [0, {vocabulary}) other than the blank "
        f"{blank_id} (where not padded), got {{}}.",
        lambda xp, y, padded: (
            ~padded & ((y < 0) | (y >= vocabulary) | (y == blank_id)),
            y,
        ),
        labels,
        label_padded,
    )
    labels = jnp.where(label_padded, jnp.asarray(blank_id, labels.dtype), labels)

    label_lengths = jnp.sum(~label_padded, axis=1)
    frames = jnp.sum(~frame_padded, axis=1)
    position = jnp.arange(labels.shape[1])
    repeats = jnp.sum(
        (position[None, 1:] < label_lengths[:, None]) & (labels[:, 1:] == labels[:, :-1]), axis=1
    )
    possible = frames >= label_lengths + repeats

    log_probs = jax.nn.log_softmax(logits, axis=-1)
    log_likelihoods = _ctc_log_likelihoods(log_probs, labels, frame_padded, label_lengths, blank_id)
    impossible_value = 0.0 if zero_infinity else jnp.inf
    values = jnp.where(possible, -log_likelihoods, jnp.asarray(impossible_value, dtype))
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
