"""Fused large-vocabulary cross-entropy: the loss of ``hidden @ weight`` without the logits.

A language-model head computes ``logits = hidden @ weight`` ([N, V]) and a
cross-entropy over the vocabulary. With N = 8192 tokens and V = 256k the
logits alone are 8 GB in float32, and autodiff keeps them and builds a
gradient of the same size. :func:`linear_cross_entropy` never holds either:

* Forward: a loop over vocabulary blocks of ``block_size`` columns computes
  one [N, block_size] tile of logits at a time and folds it into an *online
  log-sum-exp* (running maximum ``m`` and running ``sum exp(logit - m)``, both
  float32 even for bfloat16 inputs: the matmul accumulates with
  ``preferred_element_type``). The label's logit is gathered in the block that
  holds it, and label smoothing keeps a running sum of the logits (scaled by a
  power of two, so that it does not overflow where their mean fits). When the
  vocabulary is not a multiple of ``block_size`` the last, narrower block is
  a separate static slice, so nothing is padded or copied.
* Backward: a ``jax.custom_vjp`` keeps as residuals only the inputs and a few
  numbers per token (log-sum-exp, label logit, mean logit). The backward loop
  recomputes each tile of logits, forms ``g_i * (softmax - target)`` for it
  (``g_i`` is the cotangent of token ``i``'s loss, so ``reduction="none"``
  with any cotangent is exact), adds ``tile @ weight_block.T`` into
  ``d_hidden`` and writes ``hidden.T @ tile`` into the block's columns of
  ``d_weight``.

The custom rule returns per-token losses; weights, masks, the mean and
``axis_name`` are applied by :func:`lossjax.reduce_loss` outside it, exactly as
for every other loss. Tokens removed by ``where`` or ``ignore_index`` have their
hidden row replaced by zeros before the loop and get a zero cotangent from the
reduction, so their gradient is exactly zero.

The price is one extra matmul: the backward recomputes the logits, so the
fused loss does four [N, D] x [D, V] matmuls where autodiff of the naive loss
does three. Forward-mode differentiation (``jax.jvp``, ``jax.hessian``) is not
supported, as for every ``custom_vjp``.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import AxisName, Normalize, Reduction, prepare_where, reduce_loss
from lossjax._registry import (
    IGNORE_INDEX,
    LABEL_SMOOTHING,
    LOGIT_SOFT_CAP,
    Z_LOSS,
    Recommendation,
    integer,
    register,
)

DEFAULT_BLOCK_SIZE = 4096

_DOT_NN = (((1,), (0,)), ((), ()))  # [N, D] x [D, B] -> [N, B]
_DOT_NT = (((1,), (1,)), ((), ()))  # [N, B] x [D, B] -> [N, D]
_DOT_TN = (((0,), (0,)), ((), ()))  # [N, D] x [N, B] -> [D, B]


def _block_logits(hidden, weight_block, cap, has_cap, dtype):
    """One [N, B] tile of logits in the compute dtype, soft-capped when asked."""
    raw = lax.dot_general(hidden, weight_block, _DOT_NN, preferred_element_type=dtype)
    if not has_cap:
        return raw, raw, None
    t = jnp.tanh(raw / cap)
    return raw, cap * t, t


def _varying_axes(x) -> set:
    """The ``jax.shard_map`` mesh axes over which ``x`` varies (empty outside)."""
    aval = jax.typeof(x)
    manual = getattr(aval, "manual_axis_type", None)  # newer JAX; older ones: aval.vma
    return set(manual.varying if manual is not None else getattr(aval, "vma", ()))


def _varying_like(carry, *inputs):
    """Marks fresh loop carries as varying over the inputs' mesh axes.

    Inside ``jax.shard_map`` a loop carry must keep its type: zeros created
    here are device-invariant while the values folded into them vary over the
    axes the inputs vary over, so the carries start out varying too.
    """
    axes = set().union(*(_varying_axes(x) for x in inputs))
    if not axes:
        return carry
    axes = tuple(sorted(axes, key=str))
    return jax.tree.map(lambda c: lax.pcast(c, axes, to="varying"), carry)


def _cotangent_like(cotangent, primal):
    """Sums a cotangent over the mesh axes where it varies and its primal does not.

    An input shared by all devices (a replicated ``weight`` inside
    ``shard_map``) receives the sum of every device's contribution: the
    transpose of using one value everywhere.
    """
    extra = _varying_axes(cotangent) - _varying_axes(primal)
    if extra:
        cotangent = lax.psum(cotangent, tuple(sorted(extra, key=str)))
    missing = _varying_axes(primal) - _varying_axes(cotangent)
    if missing:
        cotangent = lax.pcast(cotangent, tuple(sorted(missing, key=str)), to="varying")
    return cotangent


def _for_each_block(vocab, block_size, weight, body, carry):
    """Runs ``body(start, weight_block, carry)`` over the vocabulary blocks.

    Full blocks go through a ``fori_loop`` with ``dynamic_slice``; a last,
    narrower block (``vocab % block_size`` columns) is one static slice.
    """
    dim = weight.shape[0]
    num_full, rest = divmod(vocab, block_size)

    def loop_body(k, carry):
        start = k * block_size
        block = lax.dynamic_slice(weight, (0, start), (dim, block_size))
        return body(start, block, carry)

    if num_full:
        carry = lax.fori_loop(0, num_full, loop_body, carry)
    if rest:
        start = num_full * block_size
        carry = body(start, weight[:, start:], carry)
    return carry


def _forward(static, hidden, weight, labels, label_smoothing, z_loss, cap):
    block_size, has_cap, smoothing = static
    dtype = label_smoothing.dtype
    n, vocab = hidden.shape[0], weight.shape[1]
    # The logits are summed scaled by 2**-k, 2**k >= vocab (exact): their plain sum overflows
    # for logits near the float32 maximum, although their mean fits.
    mean_scale = 2.0 ** -math.ceil(math.log2(vocab))

    def body(start, weight_block, carry):
        running_max, running_sum, label_logit, logit_sum = carry
        _, logits, _ = _block_logits(hidden, weight_block, cap, has_cap, dtype)
        width = logits.shape[1]
        new_max = jnp.maximum(running_max, jnp.max(logits, axis=1))
        # exp(-inf - finite) = 0 on the first block: no special case needed.
        running_sum = running_sum * jnp.exp(running_max - new_max) + jnp.sum(
            jnp.exp(logits - new_max[:, None]), axis=1
        )
        local = labels - start
        inside = (local >= 0) & (local < width)
        picked = jnp.take_along_axis(logits, jnp.clip(local, 0, width - 1)[:, None], axis=1)
        label_logit = label_logit + jnp.where(inside, picked[:, 0], jnp.zeros((), dtype))
        if smoothing:
            logit_sum = logit_sum + jnp.sum(logits * mean_scale, axis=1)
        return new_max, running_sum, label_logit, logit_sum

    zeros = jnp.zeros((n,), dtype)
    init = (jnp.full((n,), -jnp.inf, dtype), zeros, zeros, zeros)
    init = _varying_like(init, hidden, weight, labels, label_smoothing, z_loss, cap)
    running_max, running_sum, label_logit, logit_sum = _for_each_block(
        vocab, block_size, weight, body, init
    )
    lse = running_max + jnp.log(running_sum)
    logit_mean = logit_sum / (vocab * mean_scale)
    # z lse^2 as (sqrt(z) lse)^2: z = 0 adds 0, not 0 * inf, once lse^2 overflows.
    loss = lse + jnp.square(jnp.sqrt(z_loss) * lse) - label_logit
    if smoothing:
        loss = loss + label_smoothing * (label_logit - logit_mean)
    return loss, (lse, label_logit, logit_mean)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _per_token_loss(static, hidden, weight, labels, label_smoothing, z_loss, cap):
    return _forward(static, hidden, weight, labels, label_smoothing, z_loss, cap)[0]


def _per_token_loss_fwd(static, hidden, weight, labels, label_smoothing, z_loss, cap):
    loss, stats = _forward(static, hidden, weight, labels, label_smoothing, z_loss, cap)
    return loss, (hidden, weight, labels, label_smoothing, z_loss, cap, stats)


def _per_token_loss_bwd(static, residuals, g):
    block_size, has_cap, smoothing = static
    hidden, weight, labels, label_smoothing, z_loss, cap, stats = residuals
    lse, label_logit, logit_mean = stats
    dtype = lse.dtype
    vocab = weight.shape[1]
    hidden_c = hidden.astype(dtype)

    # d loss_i / d logit_ij = softmax_ij * (1 + 2 z lse_i) - (1 - eps) [j = y_i] - eps / V,
    # scaled by the cotangent g_i of token i.
    softmax_scale = (g * (1.0 + 2.0 * z_loss * lse))[:, None]
    label_scale = (g * (1.0 - label_smoothing))[:, None]
    uniform_scale = (g * (label_smoothing / vocab))[:, None]

    def body(start, weight_block, carry):
        d_hidden, d_weight, d_cap = carry
        raw, logits, t = _block_logits(hidden, weight_block, cap, has_cap, dtype)
        width = logits.shape[1]
        is_label = jnp.arange(width)[None, :] == (labels - start)[:, None]
        d_logits = softmax_scale * jnp.exp(logits - lse[:, None])
        d_logits = d_logits - jnp.where(is_label, label_scale, jnp.zeros((), dtype))
        if smoothing:
            d_logits = d_logits - uniform_scale
        if has_cap:
            # logits = c tanh(raw / c): d/d raw = 1 - t^2, d/dc = t - (raw / c) (1 - t^2).
            one_minus_t2 = 1.0 - jnp.square(t)
            d_cap = d_cap + jnp.sum(d_logits * (t - raw / cap * one_minus_t2))
            d_logits = d_logits * one_minus_t2
        d_hidden = d_hidden + lax.dot_general(
            d_logits, weight_block.astype(dtype), _DOT_NT, preferred_element_type=dtype
        )
        d_block = lax.dot_general(hidden_c, d_logits, _DOT_TN, preferred_element_type=dtype)
        d_weight = lax.dynamic_update_slice(d_weight, d_block.astype(d_weight.dtype), (0, start))
        return d_hidden, d_weight, d_cap

    init = (
        jnp.zeros(hidden.shape, dtype),
        jnp.zeros(weight.shape, weight.dtype),
        jnp.zeros((), dtype),
    )
    init = _varying_like(init, hidden, weight, labels, label_smoothing, z_loss, cap, lse, g)
    d_hidden, d_weight, d_cap = _for_each_block(vocab, block_size, weight, body, init)

    d_z_loss = jnp.sum(g * jnp.square(lse))
    if smoothing:
        d_label_smoothing = jnp.sum(g * (label_logit - logit_mean))
    else:
        d_label_smoothing = jnp.zeros((), dtype)  # a static 0: never differentiated
    return (
        _cotangent_like(d_hidden.astype(hidden.dtype), hidden),
        _cotangent_like(d_weight, weight),
        None,
        _cotangent_like(d_label_smoothing.astype(label_smoothing.dtype), label_smoothing),
        _cotangent_like(d_z_loss.astype(z_loss.dtype), z_loss),
        _cotangent_like(d_cap.astype(cap.dtype), cap),
    )


_per_token_loss.defvjp(_per_token_loss_fwd, _per_token_loss_bwd)


def _check_scalar_hyperparameter(name: str, value: Any) -> None:
    shape = getattr(value, "shape", ())
    if shape != ():
        raise ValueError(f"lossjax: `{name}` must be a scalar, got shape {tuple(shape)}.")


@register(
    task="multiclass",
    input_kind="hidden states",
    summary="Cross-entropy of hidden @ weight in vocabulary blocks: never builds the [N, V] logits.",
    aliases=(
        "fused_ce",
        "fused_cross_entropy",
        "linear_ce",
        "lce",
    ),
    calibrated_probabilities=True,
    large_vocab=True,
    hyperparameters=(
        integer("block_size", "vocabulary columns per block", lower=1),
        IGNORE_INDEX,
        LABEL_SMOOTHING,
        Z_LOSS,
        LOGIT_SOFT_CAP,
    ),
    recommendations=(
        Recommendation(
            "fused cross-entropy of hidden @ weight: memory independent of the vocabulary, same "
            "value and gradient as sparse cross-entropy",
            when=("large_vocab",),
        ),
        Recommendation(
            "only worth it for large vocabularies: fused cross-entropy of hidden @ weight, memory "
            "independent of the vocabulary, same value and gradient as sparse cross-entropy",
            unless=("large_vocab",),
        ),
        Recommendation(
            "large vocabularies: the same token cross-entropy from hidden states and the "
            "output projection, never holding the [tokens, vocabulary] logits",
            tasks=("sequence",),
            score=0.5,
        ),
    ),
    also_for=("sequence",),
)
def linear_cross_entropy(
    hidden: ArrayLike,
    weight: ArrayLike,
    labels: ArrayLike,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    ignore_index: int | None = None,
    label_smoothing: ArrayLike = 0.0,
    z_loss: ArrayLike = 0.0,
    logit_soft_cap: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
    normalize_by: Normalize = "tokens",
    segment_ids: ArrayLike | None = None,
) -> jax.Array:
    r"""Cross-entropy of ``hidden @ weight`` without materialising the logits or their gradient.

    With logits :math:`s_{ij} = c \tanh\big((h_i^\top W_{:j}) / c\big)` (or
    :math:`h_i^\top W_{:j}` without a soft cap), :math:`\mathrm{lse}_i =
    \log \sum_j e^{s_{ij}}`, label smoothing :math:`\varepsilon` and z-loss
    coefficient :math:`\zeta`, the loss of token :math:`i` with label
    :math:`y_i` is

    .. math::

        l_i = \mathrm{lse}_i - (1 - \varepsilon)\, s_{i y_i}
              - \frac{\varepsilon}{V} \sum_j s_{ij} + \zeta\, \mathrm{lse}_i^2 ,

    i.e. the cross-entropy against the target :math:`(1-\varepsilon)\,
    \mathrm{onehot}(y_i) + \varepsilon / V` plus PaLM's z-loss, reduced by
    :func:`lossjax.reduce_loss`. The value equals
    ``sparse_categorical_cross_entropy(hidden @ weight, labels, ...)``, but the
    [N, V] logits are computed ``block_size`` columns at a time (online
    log-sum-exp in float32) and recomputed block by block in a custom backward
    pass, so the largest temporary is a few [N, block_size] tiles instead of
    several [N, V] arrays (see the module docstring for the algorithm). The
    gradients with respect to ``hidden``, ``weight`` and the (possibly traced)
    hyperparameters are exact; forward-mode autodiff is not supported.

    Choosing ``block_size``: the temporary memory is about one float32
    [N, block_size] tile, ``4 * N * block_size`` bytes, plus a few [N] and
    [N, D] vectors (the [D, V] weight gradient is an output, as for the naive
    loss). Compiled for N = 4096, D = 512, V = 65536, value and gradient need
    80 MiB of temporaries with the default against 3 GiB for log-softmax on
    the full logits. The default, 4096, keeps each tile a large, efficient
    matmul; lower it when N is large (e.g. 1024 for N = 65536 tokens).
    Any ``block_size`` works for any V: a last block narrower than
    ``block_size`` is handled separately, and ``block_size >= V`` is one block.

    Args:
        hidden: floating array [N, D] of final hidden states (bfloat16 is fine:
            all accumulation is in float32).
        weight: floating array [D, V], the output projection (the transposed
            embedding for tied weights).
        labels: integer array [N] of class indices in ``[0, V)``. A token whose
            label is outside ``[0, V)`` is removed like ``ignore_index`` (as in
            :func:`sparse_categorical_cross_entropy`); :func:`lossjax.checked`
            raises instead.
        block_size: positive Python int, vocabulary columns per block.
        ignore_index: optional Python int; tokens whose label equals it
            contribute nothing and are left out of the mean.
        label_smoothing: in ``[0, 1]``; a Python number or a traced scalar.
        z_loss: non-negative coefficient of :math:`\mathrm{lse}^2`; a Python
            number or a traced scalar.
        logit_soft_cap: ``None`` (default) or a positive cap :math:`c` applied as
            :math:`c \tanh(s / c)` before everything else (Gemma 2).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (shape [N]).
        weights: optional per-token weights, a scalar or shape [N].
        where: optional boolean mask [N]; ``False`` tokens contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean under
            ``shard_map``/``pmap``.
        normalize_by: ``"tokens"`` (default) or ``"sequences"``; the [N] tokens
            are one sequence unless ``segment_ids`` splits them (see
            :func:`lossjax.reduce_loss`).
        segment_ids: optional integer [N] ids of packed sequences, 0 = padding.

    Returns:
        The reduced loss (at least float32), or the [N] per-token losses.

    Example:
        >>> import jax, jax.numpy as jnp, lossjax
        >>> hidden = jnp.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
        >>> weight = jnp.array([[1.0, -1.0, 0.0], [0.0, 1.0, 2.0]])
        >>> labels = jnp.array([0, 2, 1])
        >>> losses = lossjax.linear_cross_entropy(
        ...     hidden, weight, labels, block_size=2, reduction="none"
        ... )
        >>> losses
        Array([0.407606  , 0.14293146, 2.407606  ], dtype=float32)
        >>> log_probs = jax.nn.log_softmax(hidden @ weight)  # the naive [N, V] way
        >>> naive = -jnp.take_along_axis(log_probs, labels[:, None], axis=1)[:, 0]
        >>> bool(jnp.allclose(losses, naive))
        True

    References:
        Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models",
        2024 (https://arxiv.org/abs/2411.09009); Liger-Kernel's fused linear
        cross-entropy (https://github.com/linkedin/Liger-Kernel); Chowdhery et
        al., "PaLM", 2022 (z-loss, https://arxiv.org/abs/2204.02311); Gemma Team,
        "Gemma 2", 2024 (logit soft-capping, https://arxiv.org/abs/2408.00118).
    """
    _checks.check_reduction(reduction)
    if (
        isinstance(block_size, bool)
        or not isinstance(block_size, numbers.Integral)
        or block_size <= 0
    ):
        raise ValueError(
            f"lossjax: `block_size` must be a positive Python int, got {block_size!r}."
        )
    for name, value in (
        ("label_smoothing", label_smoothing),
        ("z_loss", z_loss),
        ("logit_soft_cap", logit_soft_cap),
    ):
        _check_scalar_hyperparameter(name, value)

    hidden = _checks.check_floating("hidden", hidden)
    weight = _checks.check_floating("weight", weight)
    labels = _checks.check_integer("labels", labels)
    _checks.check_rank("hidden", hidden, 2)
    _checks.check_rank("weight", weight, 2)
    if hidden.shape[1] != weight.shape[0]:
        raise ValueError(
            "lossjax: `hidden` [N, D] and `weight` [D, V] must share D, got "
            f"hidden.shape={tuple(hidden.shape)} and weight.shape={tuple(weight.shape)}."
        )
    if labels.shape != (hidden.shape[0],):
        raise ValueError(
            "lossjax: `labels` must have shape [N] for `hidden` [N, D], got "
            f"labels.shape={tuple(labels.shape)} and hidden.shape={tuple(hidden.shape)}."
        )
    if weight.shape[1] == 0:
        raise ValueError("lossjax: `weight` must have at least one column (V >= 1).")

    dtype = _checks.compute_dtype(hidden, weight)
    where = prepare_where(where, (hidden.shape[0],))
    vocab = weight.shape[1]
    # Labels outside [0, V) are removed like ignore_index, as in the sparse losses
    # (they cannot raise under jit); checked mode makes them an error.
    _checks.check_class_labels("labels", labels, vocab, ignore_index, where)
    kept = (labels >= 0) & (labels < vocab)
    if ignore_index is not None:
        kept = kept & (labels != ignore_index)
    where = kept if where is None else where & kept
    if where is not None:
        # Removed tokens see a zero hidden row and label 0: finite, and their
        # gradient is exactly 0 even if the original row held NaN.
        hidden = jnp.where(where[:, None], hidden, jnp.zeros((), hidden.dtype))
        labels = jnp.where(where, labels, jnp.zeros((), labels.dtype))

    has_cap = logit_soft_cap is not None
    smoothing = not _numerics.is_static_zero(label_smoothing)
    static = (int(block_size), has_cap, smoothing)
    values = _per_token_loss(
        static,
        hidden,
        weight,
        labels,
        _checks.hyperparameter(label_smoothing, dtype),
        _checks.hyperparameter(z_loss, dtype),
        _checks.hyperparameter(logit_soft_cap if has_cap else 1.0, dtype),
    )
    return reduce_loss(
        values,
        reduction=reduction,
        weights=weights,
        where=where,
        axis_name=axis_name,
        normalize_by=normalize_by,
        segment_ids=segment_ids,
    )
