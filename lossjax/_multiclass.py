r"""Multiclass losses: categorical and sparse cross-entropy, softmax focal loss, KL divergence.

All four consume a class axis (``axis=-1`` by default, any axis allowed):
``reduction="none"`` returns one value per example, the input shape without
that axis, and ``weights``/``where`` have that per-example shape.

Numerics:

* **Labels: log-odds.** The label losses work with the log-odds against the
  label, :math:`a = \log\sum_{k \ne y} e^{z_k} - z_y`, computed as
  :math:`\log r - (z_y - s)` with :math:`r = \sum_{k \ne y} e^{z_k - s}`
  (the label's term left out of the sum, not subtracted from it). Then
  :math:`-\log p_y = \operatorname{softplus}(a)` and
  :math:`\log(1 - p_y) = -\operatorname{softplus}(-a)`, both exact for any
  :math:`a`: the cross-entropy of a confident correct prediction (:math:`1 - p_y
  = 2\cdot10^{-9}`, where :math:`\log(1 + 10^{-9})` rounds to 0) keeps full
  relative precision, and so does its gradient :math:`-(1 - p_y) =
  -\sigma(a)`. The shift :math:`s` is the label's own logit, which needs no
  pass over the logits for their maximum; if a term overflows (a logit more
  than 88 above the label's) the sum is infinite and the batch is recomputed
  with :math:`s` the row maximum. The focal loss shifts by the largest other
  logit, so that :math:`a` (and the focal factor) stays exact even where
  :math:`1 - p_y` underflows (e.g. :math:`a = -2\cdot10^4` at logits
  :math:`\pm 10^4`).
* **Target distributions: log-softmax.** With :math:`m` the row maximum,
  :math:`\operatorname{logsumexp}(z) - m = \operatorname{log1p}(\sum_{z_k < m}
  e^{z_k - m} + n_m - 1)` (:math:`n_m` the number of classes at the maximum),
  the small part kept separately from the 1 of the maximum; the gradient
  :math:`s\,q - t` (:math:`s = \sum_k t_k`) is computed at the maximum as
  :math:`(s - t) + s\operatorname{expm1}(-\operatorname{lse})`, so :math:`1 - q`
  keeps its relative precision there too.
* **Speed.** Each loss reads the logits in a few fused row reductions and
  writes its gradient in one elementwise pass: the derivatives are
  hand-written JVP rules (linear in the tangents, so reverse mode transposes
  them into that one pass, and differentiable, so Hessians work) instead of
  derivatives through max, argmax and selects. No one-hot is formed. The row
  reductions are written with arithmetic (min/max, the distance to the
  label's index) rather than comparisons, which XLA's CPU reductions fuse,
  and separate loops share no subexpression (a shared one would be written to
  memory). With gradients, the forward pass writes one [..., K] array of
  exponentials into the gradient's own buffer, and the backward pass reads it
  back rather than recomputing them.
* **Probabilities** (``from_logits=False``): :math:`\log p` is clamped at
  :math:`-100` (PyTorch's ``BCELoss`` convention) through a safe ``where``, so
  a probability of exactly 0 gives :math:`-100` with a zero gradient and a
  probability of exactly 1 gives 0 with the finite gradient 1. Probabilities
  are used as given: they are not renormalised to sum to 1 (Keras rescales
  them, PyTorch and scikit-learn do not).
* **Zero targets.** :math:`0 \cdot \log 0 = 0`, in the value and in the
  gradient. A class excluded from the softmax with a logit of :math:`-\infty`
  contributes nothing where its target is 0 (optax's
  ``safe_softmax_cross_entropy`` behaviour) instead of ``0 * inf = nan``
  (a batch with such a term is summed a second time, with the term set to 0).
* **Focal factor.** :math:`(1 - p_y)^\gamma = \exp(-\gamma\operatorname{softplus}(-a))`,
  finite and exact for logits of any size; :math:`\gamma` can be traced,
  vmapped and differentiated.

Class weights (``class_weights`` of the two cross-entropies) follow PyTorch's
class-index convention: an example counts with weight
:math:`c_i = \sum_k w_k y_{ik}` (:math:`w_{y_i}` for a label or a one-hot
target) in the numerator and in the denominator of the mean, so
``sparse_categorical_cross_entropy(z, y, class_weights=w)`` equals
``categorical_cross_entropy(z, one_hot(y), class_weights=w)`` for every
reduction.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from lossjax import _checks, _reduction
from lossjax._reduction import AxisName, mask_inputs, prepare_where, reduce_loss

# Lower clamp of log-probabilities computed from probabilities (PyTorch's BCELoss value).
_LOG_CLAMP = -100.0


# -- shared pieces ------------------------------------------------------------------------


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"lossjax: `{name}` must be a Python bool, got {value!r}.")


def _check_ignore_index(ignore_index: Any) -> None:
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral)
    ):
        raise TypeError(
            f"lossjax: `ignore_index` must be a Python int or None, got {ignore_index!r}."
        )


def _class_last(name: str, x: jax.Array, axis: Any) -> jax.Array:
    """Moves the class axis of ``x`` last, so that the rest is the per-example shape."""
    if x.ndim == 0:
        raise ValueError(f"lossjax: `{name}` needs a class axis, got a scalar.")
    axis = _checks.normalize_axis("axis", axis, x.ndim)
    if x.shape[axis] == 0:
        raise ValueError(
            f"lossjax: `{name}` has no classes: its shape {tuple(x.shape)} is 0 along axis {axis}."
        )
    return jnp.moveaxis(x, axis, -1)


def _class_vector(name: str, value: Any, num_classes: int, dtype: jnp.dtype) -> jax.Array:
    """A non-negative per-class vector ``[K]`` (class weights, focal alpha)."""
    vector = _checks.check_real(name, value)
    if vector.shape != (num_classes,):
        raise ValueError(
            f"lossjax: `{name}` must be a 1-D array with one entry per class: the logits have "
            f"{num_classes} classes along `axis`, got {name}.shape={tuple(vector.shape)}."
        )
    return vector.astype(dtype)


def _per_class(vector: jax.Array, ndim: int) -> jax.Array:
    """Reshapes a ``[K]`` vector to broadcast against ``[..., K]`` of rank ``ndim``."""
    return vector.reshape((1,) * (ndim - 1) + vector.shape)


def _combine_weights(weights: Any, example_weights: jax.Array) -> jax.Array:
    """The caller's ``weights`` times the per-example class weights, checked first."""
    if weights is None:
        return example_weights
    weights = _checks.check_real("weights", weights)
    _reduction._check_per_example("weights", weights, tuple(example_weights.shape))
    return weights.astype(example_weights.dtype) * example_weights


def _safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator``, and 0 (with zero gradients) where the denominator is 0."""
    nonzero = denominator != 0
    safe = jnp.where(nonzero, denominator, jnp.ones((), denominator.dtype))
    return jnp.where(nonzero, numerator / safe, jnp.zeros((), numerator.dtype))


def _safe_log(p: jax.Array) -> jax.Array:
    """``log p`` clamped at -100; ``p <= 0`` gives -100 with a zero gradient."""
    positive = p > 0
    safe = jnp.where(positive, p, jnp.ones((), p.dtype))
    clamp = jnp.asarray(_LOG_CLAMP, p.dtype)
    return jnp.where(positive, jnp.maximum(jnp.log(safe), clamp), clamp)


def _safe_log1m(p: jax.Array) -> jax.Array:
    """``log(1 - p)`` clamped at -100; ``p >= 1`` gives -100 with a zero gradient."""
    below_one = p < 1
    safe = jnp.where(below_one, p, jnp.zeros((), p.dtype))
    clamp = jnp.asarray(_LOG_CLAMP, p.dtype)
    return jnp.where(below_one, jnp.maximum(jnp.log1p(-safe), clamp), clamp)


# -- softmax kernels (logits) --------------------------------------------------------------
#
# Every pass over the [..., K] logits costs a full read of them, so the kernels
# below are written for the two kinds of fused loops XLA emits: row reductions
# (on CPU, YNNPACK fusions, which fuse arithmetic, exp/log, min/max and iota but
# not compare/select, are fastest on plain sums: each constant or unary
# operation in them costs about another pass) and elementwise loops (cheap
# per operation). Hand-written JVP rules (linear in the tangents, so they
# transpose to a single elementwise backward pass, and differentiable, so
# Hessians work) replace differentiation through max/argmax/where. With
# gradients, an elementwise loop writes the exponentials into the gradient's
# buffer, plain sums reduce them and the backward pass reads them back. Two
# loops never share a [..., K] subexpression (XLA would write it to memory):
# hence the variants and barriers below. See the module docstring for the numerics.

# Class indices are handled as floating-point numbers in the row reductions.
_MAX_FLOAT_CLASSES = 2**24


def _neg_zero(dtype: Any) -> jax.Array:
    # -0.0, the exact identity of addition, computed so that it stays a
    # constant of this reduction instead of a literal 0 shared with the rest of
    # the program (a shared initial value slows multi-output CPU reductions).
    return jax.lax.neg(jax.lax.full((), 0, dtype))


@jax.custom_jvp
def _row_sum(x: jax.Array) -> jax.Array:
    """Sum over the last axis (a plain fused reduction; differentiable through its JVP)."""
    return jax.lax.reduce(x, _neg_zero(x.dtype), jax.lax.add, (x.ndim - 1,))


@_row_sum.defjvp
def _row_sum_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _row_sum(x), jnp.sum(dx, axis=-1)


def _gather(x: jax.Array, labels: jax.Array) -> jax.Array:
    """``x[..., labels]`` per example (``x`` is ``[..., K]``, ``labels`` is ``[...]``)."""
    return jnp.take_along_axis(x, labels[..., None], axis=-1)[..., 0]


def _safe_log_sum(r: jax.Array) -> jax.Array:
    """``log r`` for a sum ``r >= 0``: ``-inf`` at 0, with finite derivatives everywhere."""
    positive = r > 0
    return jnp.where(
        positive, jnp.log(jnp.where(positive, r, jnp.ones((), r.dtype))), -jnp.inf
    ).astype(r.dtype)


def _label_distance(z: jax.Array, labels: jax.Array, squared: bool = False) -> jax.Array:
    """``|k - label|`` (or its square) as floats: 0 on the label's class, >= 1 elsewhere.

    Arithmetic rather than a comparison, so that it fuses into the row
    reductions. The two variants keep XLA from sharing (and so writing to
    memory) one [..., K] array between two reductions.
    """
    if z.shape[-1] > _MAX_FLOAT_CLASSES and jnp.finfo(z.dtype).nmant < 52:
        on_label = jax.lax.broadcasted_iota(labels.dtype, z.shape, z.ndim - 1)
        return (on_label != labels[..., None]).astype(z.dtype)
    iota = jax.lax.broadcasted_iota(z.dtype, z.shape, z.ndim - 1)
    if squared:
        # (k + 1) - (label + 1): the same integers, from a different broadcast.
        d = (iota + 1) - (labels + 1)[..., None].astype(z.dtype)
        return d * d
    return jnp.abs(iota - labels[..., None].astype(z.dtype))


def _others_max(z: jax.Array, labels: jax.Array) -> jax.Array:
    """Max over the classes other than the label (``-finfo.max / 2`` if there are none)."""
    big = jnp.finfo(z.dtype).max
    # Off the label (distance >= 1) the bound is >= big / 2, so min() keeps z;
    # on the label it is -big / 2, below every other class's logit.
    bound = (_label_distance(z, labels, squared=True) - 0.5) * big
    return jnp.max(jnp.minimum(z, bound), axis=-1)


def _label_sums_fused(
    z: jax.Array, labels: jax.Array, keep: jax.Array, exact: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(r, shift, z_label)`` in row reductions only (no [..., K] temporary).

    ``r = sum over k != label of exp(z_k - shift)``.
    """
    zy = _gather(z, labels)

    def below(shift):
        # exp(z_k - shift) <= 1 off the label: min() with the distance (0 on
        # the label, >= 1 elsewhere) drops the label's term.
        return jnp.sum(jnp.minimum(jnp.exp(z - shift[..., None]), _label_distance(z, labels)), -1)

    if exact:
        shift = _others_max(z, labels)
        return below(shift), shift, zy
    # Fast path, shifted by the label's logit: no pass for the row max.
    off_label = jnp.minimum(_label_distance(z, labels), 1)
    r = jnp.sum(off_label * jnp.exp(z - zy[..., None]), axis=-1)
    # A term that overflowed (a logit 88 above the label's) makes the sum
    # inf: then the batch is recomputed shifted by the row max.
    bad = jnp.any(keep & ~(r < jnp.inf))

    def by_max():
        m = jnp.max(z, axis=-1)
        return below(m), m

    r, shift = jax.lax.cond(bad, by_max, lambda: (r, zy))
    return r, shift, zy


def _label_odds_fused(z: jax.Array, labels: jax.Array, keep: jax.Array, exact: bool) -> jax.Array:
    """Primal of :func:`_label_log_odds`, in row reductions only (no [..., K] temporary)."""
    r, shift, zy = _label_sums_fused(z, labels, keep, exact)
    return _safe_log_sum(r) - (zy - shift)


def _label_odds_parts(
    z: jax.Array, labels: jax.Array, keep: jax.Array, exact: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(a, e, 1 / r)`` for the JVP rule of :func:`_label_log_odds`.

    ``e[..., k] = exp(z_k - shift)`` off the label (0 on the label and on
    removed examples) and ``r = sum(e)``: ``e / r`` is the softmax over the
    other classes, the derivative of ``a + z_label``. ``e`` is the one
    [..., K] array written in the forward pass; the backward pass reads it.
    """
    zero = jnp.zeros((), z.dtype)

    def shifted_exp(shift):
        on_label = jax.lax.broadcasted_iota(labels.dtype, z.shape, z.ndim - 1) == labels[..., None]
        e = jnp.where(on_label | ~keep[..., None], zero, jnp.exp(z - shift[..., None]))
        return e, jnp.sum(e, axis=-1)

    zy = _gather(z, labels)
    if exact:
        shift = _others_max(z, labels)
        e, r = shifted_exp(shift)
    else:
        shift = zy
        e, r = shifted_exp(shift)
        bad = jnp.any(keep & ~(r < jnp.inf))

        def by_max():
            m = jnp.max(z, axis=-1)
            return (*shifted_exp(m), m)

        e, r, shift = jax.lax.cond(bad, by_max, lambda: (e, r, shift))
    a = _safe_log_sum(r) - (zy - shift)
    # 1 / r is capped at 1 / tiny. XLA:CPU flushes subnormals to zero, but a
    # GPU keeps them, and there 1 / r of a subnormal r (every other logit about
    # 90 below the label's) overflows to inf, and e * inf gives inf and nan.
    # Below tiny, e / tiny <= 1 is exact enough: the gradient of the loss
    # through a = log r carries sigmoid(a) <= tiny, and r = 0 has e = 0.
    inv_r = 1 / jnp.maximum(r, jnp.finfo(r.dtype).tiny)
    return a, e, inv_r


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _label_log_odds(z: jax.Array, labels: jax.Array, keep: jax.Array, exact: bool) -> jax.Array:
    r"""Log-odds against the label, :math:`a = \log\sum_{k \ne y} e^{z_k} - z_y`, per example.

    ``-log p_y = softplus(a)`` and ``log(1 - p_y) = -softplus(-a)``, both exact
    for any ``a`` (module docstring). Removed examples (``keep`` False) give 0
    with zero derivatives, whatever their logits hold. ``exact=False`` may give
    ``a = -inf`` where ``1 - p_y`` underflows (cross-entropy 0, its correctly
    rounded value); ``exact=True`` shifts by the largest other logit so that
    ``a`` stays exact there too (the focal factor needs it).
    """
    return jnp.where(keep, _label_odds_fused(z, labels, keep, exact), jnp.zeros((), z.dtype))


@_label_log_odds.defjvp
def _label_log_odds_jvp(exact, primals, tangents):
    z, labels, keep = primals
    dz = tangents[0]
    a, e, inv_r = _label_odds_parts(z, labels, keep, exact)
    # d a = sum_k (e_k / r) dz_k - dz_label: linear in dz, so its transpose is
    # one elementwise pass (e * a_bar / r) plus a scatter at the labels.
    da = jnp.sum(e * inv_r[..., None] * dz, axis=-1) - _gather(dz, labels)
    zero = jnp.zeros((), z.dtype)
    return jnp.where(keep, a, zero), jnp.where(keep, da, zero)


def _log_softmax_stats(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(m, lse)``: the row max and ``logsumexp(z) - m``, exact for confident rows.

    ``lse = log1p(sum of exp(z_k - m) over the classes below the max + ties - 1)``:
    the usual ``log(1 + small)`` would round the small part away.
    """
    big = jnp.finfo(z.dtype).max
    m = jnp.max(z, axis=-1)
    # (m - z) * big is 0 at the max and >= 1 below it (inf far below):
    # min(exp(z - m), .) drops the max's 1 from the sum, min(., 1) counts the
    # classes below the max. (A constant for differentiation: it only selects
    # terms.) The two sums share no subexpression, not even the broadcast of
    # m: where XLA runs them as two loops, a shared one is written to memory.
    below = _row_sum(
        jnp.minimum(jnp.exp(z - m[..., None]), jax.lax.stop_gradient((m[..., None] - z) * big))
    )
    m_count = jax.lax.optimization_barrier(m)
    n_below = _row_sum(jnp.minimum(jax.lax.stop_gradient((m_count[..., None] - z) * big), 1))
    return m, jnp.log1p(below + ((z.shape[-1] - 1) - n_below))


def _dense_value(z: jax.Array, t: jax.Array, kind: str, stats=None):
    """``(m, lse, s, value)`` of the target-distribution kernel (row reductions only).

    With ``stats = (m, lse)`` given, they are used and ``s = sum(t)`` is
    returned too (for the derivative); else ``s`` is None.
    """
    with_sum = stats is not None

    def stats_and_value(safe: bool):
        m, lse = _log_softmax_stats(z) if stats is None else stats
        # t (-log q) = t (m - z) + t lse, plus t log t for KL; 0 where t = 0.
        # The barrier keeps XLA from sharing z - m and the broadcast row
        # statistics with the reductions above (shared, they are written to
        # memory); m - z = -(z - m) exactly.
        m_, lse_ = jax.lax.optimization_barrier((m, lse))
        gap = m_[..., None] - z
        if safe and with_sum:
            # m - z capped at finfo.max where t == 0 (0 * gap = 0 at a -inf
            # logit), uncapped where t != 0 (big / 0 = inf): arithmetic, so
            # that this rare pass also needs no [..., K] temporary.
            big = jnp.finfo(z.dtype).max
            present = jax.lax.stop_gradient(jnp.minimum(jnp.abs(t) * big, 1))
            gap = jnp.minimum(gap, jax.lax.stop_gradient(big / (1 - present)))
        terms = t * gap if with_sum else t * (gap + lse_[..., None])
        if kind == "kl":
            terms = terms + t * jnp.log(jnp.maximum(t, jnp.finfo(z.dtype).tiny))
        if safe and not with_sum:
            terms = jnp.where(t == 0, jnp.zeros((), t.dtype), terms)
        value = jnp.sum(terms, axis=-1)
        s = None
        if with_sum:
            s = jnp.sum(t, axis=-1)
            value = value + s * lse
        return m, lse, s, value

    m, lse, s, value = stats_and_value(False)
    # A -inf logit with a zero target gives 0 * inf = nan in that sum; such
    # batches (and only they) are computed again with the term set to 0.
    # (Recomputed from z, so that the forward pass stays one chain of reductions.)
    return jax.lax.cond(
        jnp.any(jnp.isnan(value)), lambda: stats_and_value(True), lambda: (m, lse, s, value)
    )


def _shifted_softmax_parts(z: jax.Array):
    """``(m, lse, w, tiny)`` for the JVP rule of :func:`_softmax_cross_entropy`.

    ``w = exp(z - m) / 2`` below the max (in ``[0, 1/2]``) and ``(z - m) -
    tiny = -tiny`` at it (``tiny`` twice the smallest normal number: a marker
    whose derivative is that of ``z - m``). ``w`` is the one [..., K] array of the
    forward pass, written into the gradient's own buffer and read back by the
    backward pass, which then needs neither ``z`` nor ``exp``. ``lse`` is
    :func:`_log_softmax_stats`'s, from two sums over ``w``.
    """
    # (Not finfo.tiny itself, which other terms use: XLA would share its
    # broadcast between loops and write it to memory.)
    tiny = 2 * jnp.finfo(z.dtype).tiny
    m = jnp.max(z, axis=-1)
    x = z - m[..., None]
    w = jnp.where(x == 0, x - tiny, jnp.exp(x) * 0.5)
    # The markers shift the plain sum by -tiny each (added back below, exact);
    # ceil(-w) counts them (ceil(tiny) = 1, ceil of [-1/2, 0] is 0). Plain
    # sums and few operations: XLA's CPU reductions are slow on others.
    ties = jnp.sum(jnp.ceil(-jax.lax.optimization_barrier(w)), axis=-1)
    below = 2 * (jnp.sum(w, axis=-1) + ties * tiny)
    return m, jnp.log1p(below + (ties - 1)), w, tiny


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _softmax_cross_entropy(z: jax.Array, t: jax.Array, kind: str) -> jax.Array:
    r"""Per-example :math:`\sum_k t_k (-\log q_k)` (``kind="ce"``) or
    :math:`\sum_k t_k (\log t_k - \log q_k)` (``kind="kl"``), :math:`q = \operatorname{softmax}(z)`."""
    return _dense_value(z, t, kind)[3]


def _softmax_cross_entropy_jvp(kind, primals, tangents):
    z, t = primals
    dz, dt = tangents
    zero = jnp.zeros((), z.dtype)
    out = zero
    if isinstance(dz, SymbolicZero):
        m, lse, _, value = _dense_value(z, t, kind)
    else:
        m, lse, w, tiny = _shifted_softmax_parts(z)
        m, lse, s, value = _dense_value(z, t, kind, (m, lse))
        # A select (which the CPU reduction fusions do not take) keeps XLA
        # from fusing the broadcast of s into its reduction and writing it out.
        s_ = jnp.where(s != 0, s, zero)[..., None]
        q_top = jnp.exp(-lse)[..., None]
        # s q - t with q = 2 w exp(-lse); at the max (w < 0), q = 1 +
        # expm1(-lse) keeps 1 - q exact, and `w + tiny` (0 there) gives the
        # entry its derivative.
        at_top = (s_ - t) + s_ * (jnp.expm1(-lse)[..., None] + (w + tiny) * q_top)
        grad_z = jnp.where(w < 0, at_top, s_ * (w * (2 * q_top)) - t)
        out = out + jnp.sum(grad_z * dz, axis=-1)
    if not isinstance(dt, SymbolicZero):
        # The barrier keeps XLA from sharing z - m with the forward reductions
        # (which would write it to memory).
        m_, lse_ = jax.lax.optimization_barrier((m, lse, value))[:2]
        neg_log_q = lse_[..., None] - (z - m_[..., None])
        if kind == "ce":
            # A -inf logit with a zero target adds nothing, also to the derivative.
            excluded = (t == 0) & jnp.isinf(neg_log_q)
            grad_t = jnp.where(excluded, zero, neg_log_q)
        else:
            present = t > 0
            log_t = jnp.log(jnp.where(present, t, jnp.ones((), t.dtype)))
            grad_t = jnp.where(present, log_t + 1 + neg_log_q, zero)
        out = out + jnp.sum(grad_t * dt, axis=-1)
    return value, jnp.broadcast_to(out, value.shape).astype(value.dtype)


_softmax_cross_entropy.defjvp(_softmax_cross_entropy_jvp, symbolic_zeros=True)


def _smoothing_is_zero(label_smoothing: Any) -> bool:
    return _checks.is_static(label_smoothing) and float(label_smoothing) == 0.0


def _prepare_sparse(
    logits: Any, labels: Any, axis: Any, where: Any, ignore_index: Any, from_logits: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The common front of the two label losses.

    Returns the logits (class axis last, compute dtype), the labels (removed
    ones replaced by 0) and the mask of kept examples: ``where`` and a label in
    ``[0, K)`` that is not ``ignore_index``. Probabilities of removed examples
    are replaced by ones; logits are left as they are (the kernels mask them).
    """
    _check_ignore_index(ignore_index)
    logits = _checks.check_floating("logits", logits)
    labels = _checks.check_integer("labels", labels)
    moved = _class_last("logits", logits, axis)
    shape = tuple(moved.shape[:-1])
    if tuple(labels.shape) != shape:
        raise ValueError(
            f"lossjax: `labels` must have the shape of `logits` without the class axis, "
            f"{shape}; got labels.shape={tuple(labels.shape)} and "
            f"logits.shape={tuple(logits.shape)} (axis={axis})."
        )
    # Compare in at least int32, so that small and unsigned label dtypes accept
    # any ignore_index (such as -100) without overflow.
    labels = labels.astype(jnp.int64 if labels.dtype.itemsize == 8 else jnp.int32)
    num_classes = moved.shape[-1]
    keep = (labels >= 0) & (labels < num_classes)
    if ignore_index is not None:
        keep = keep & (labels != ignore_index)
    where = prepare_where(where, shape)
    if where is not None:
        keep = keep & where
    moved = moved.astype(_checks.compute_dtype(moved))
    if not from_logits:
        moved = mask_inputs(keep, moved, 1.0, axis=-1)
    labels = jnp.where(keep, labels, jnp.zeros((), labels.dtype))
    return moved, labels, keep


# -- losses -----------------------------------------------------------------------------


def categorical_cross_entropy(
    logits: Any,
    targets: Any,
    *,
    from_logits: bool = True,
    label_smoothing: Any = 0.0,
    class_weights: Any = None,
    axis: int = -1,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Cross-entropy between target distributions and ``softmax(logits)``.

    With :math:`q = \operatorname{softmax}(z)` (or the given probabilities),
    smoothed targets :math:`y' = (1 - \varepsilon)\,y + \varepsilon / K` and
    class weights :math:`w` (all 1 when not given):

    .. math::

        l_i = -\sum_k w_k\, y'_{ik} \log q_{ik}, \qquad
        \text{mean} = \frac{\sum_i l_i}{\sum_i c_i}, \quad
        c_i = \sum_k w_k\, y_{ik} \ \ (\text{or } 1 \text{ without class weights}).

    Class weights, compared with other libraries: ``reduction="none"`` and
    ``"sum"`` agree with PyTorch's ``cross_entropy(..., weight=w)`` for class
    indices and for probability targets. The mean divides by
    :math:`\sum_i c_i` (the unsmoothed targets' class weight, :math:`w_{y_i}`
    for one-hot targets): this is PyTorch's mean for class indices, so one-hot
    targets give exactly :func:`sparse_categorical_cross_entropy`. PyTorch's
    mean for probability targets divides by :math:`N` instead (use
    ``reduction="sum"`` and divide by :math:`N` to reproduce it); Keras has no
    class weights in the loss, and ``fit(class_weight=...)`` divides
    :math:`\sum_i w_{y_i} l_i` by the batch size :math:`N` (its default
    ``sum_over_batch_size`` reduction). For targets summing to 1,
    ``class_weights=jnp.ones(K)`` gives the unweighted loss. An example whose
    :math:`c_i` is 0 contributes nothing, even with label smoothing.

    Label smoothing mixes the targets with the uniform distribution (the
    PyTorch and Keras convention), before the class weights are applied.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            in ``[0, 1]`` when ``from_logits=False``.
        targets: target probabilities (or one-hot vectors), non-negative, with
            the shape of ``logits``.
        from_logits: whether ``logits`` are logits (default) or probabilities;
            the log of probabilities is clamped at -100 (module docstring).
        label_smoothing: :math:`\varepsilon \in [0, 1]`; may be traced.
        class_weights: optional non-negative ``[K]`` array of class weights.
        axis: the class axis of ``logits`` and ``targets``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``logits.shape`` without ``axis``).
        where: optional boolean per-example mask; ``False`` removes an example,
            whatever its logits and targets hold (NaN included).
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
        >>> targets = jnp.array([[1.0, 0.0, 0.0], [0.1, 0.8, 0.1]])
        >>> lossjax.categorical_cross_entropy(logits, targets, reduction="none")
        Array([0.41703004, 0.6467341 ], dtype=float32)

    References:
        PyTorch ``torch.nn.CrossEntropyLoss``; Szegedy et al., "Rethinking the
        Inception Architecture for Computer Vision", 2016
        (https://arxiv.org/abs/1512.00567) for label smoothing.
    """
    _checks.check_reduction(reduction)
    _check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("label_smoothing", label_smoothing, lower=0.0, upper=1.0)
    _checks.check_hyperparameter("class_weights", class_weights, lower=0.0)
    logits = _checks.check_floating("logits", logits)
    targets = _checks.check_real("targets", targets)
    _checks.check_same_shape("logits", logits, "targets", targets)
    dtype = _checks.compute_dtype(logits, targets)
    logits = _class_last("logits", logits, axis).astype(dtype)
    targets = _class_last("targets", targets, axis).astype(dtype)
    num_classes = logits.shape[-1]
    where = prepare_where(where, tuple(logits.shape[:-1]))
    logits = mask_inputs(where, logits, 0.0, axis=-1)
    targets = mask_inputs(where, targets, 0.0, axis=-1)

    smoothed = targets
    if not _smoothing_is_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        smoothed = targets * (1 - eps) + eps / num_classes
    # Class weights enter as weighted targets: sum_k w_k t'_k (-log q_k).
    weighted = smoothed
    if class_weights is not None:
        w = _per_class(
            _class_vector("class_weights", class_weights, num_classes, dtype), logits.ndim
        )
        weighted = w * smoothed
    if from_logits:
        values = _softmax_cross_entropy(logits, weighted, "ce")
    else:
        values = jnp.sum(weighted * -_safe_log(logits), axis=-1)
    if class_weights is not None:
        example_weights = jnp.sum(w * targets, axis=-1)
        values = _safe_divide(values, example_weights)
        weights = _combine_weights(weights, example_weights)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def sparse_categorical_cross_entropy(
    logits: Any,
    labels: Any,
    *,
    from_logits: bool = True,
    label_smoothing: Any = 0.0,
    class_weights: Any = None,
    ignore_index: int | None = None,
    axis: int = -1,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Cross-entropy with integer class labels, without materialising a one-hot.

    With :math:`\log q_k = z_k - \operatorname{logsumexp}(z)` (or the log of the
    given probabilities), label smoothing :math:`\varepsilon` and class
    weights :math:`w` (all 1 when not given):

    .. math::

        l_i = (1 - \varepsilon)\,(-\log q_{i y_i})
              + \frac{\varepsilon}{w_{y_i}}\,\frac1K \sum_k w_k\,(-\log q_{ik}),
        \qquad
        \text{mean} = \frac{\sum_i w_{y_i} l_i}{\sum_i w_{y_i}}

    over the kept examples. This equals :func:`categorical_cross_entropy` on
    ``one_hot(labels)`` with the same options, for every reduction, and
    PyTorch's ``cross_entropy(..., weight=w, ignore_index=..., label_smoothing=...)``
    (which divides the smoothing term by :math:`\sum_i w_{y_i}` too). An
    example whose class has weight 0 contributes nothing, even with label
    smoothing (PyTorch still adds its smoothing term to the numerator).

    Removed examples contribute exactly nothing, to the value and the gradient,
    whatever their logits hold (NaN included), and are left out of the mean's
    denominator: those with ``where`` False, those labelled ``ignore_index``,
    and those whose label is outside ``[0, K)``. Out-of-range labels cannot
    raise under ``jax.jit``; they are removed like ``ignore_index`` rather
    than gathering an arbitrary logit, so check labels beforehand if a
    malformed label should be an error.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            when ``from_logits=False``.
        labels: integer array of class indices with the shape of ``logits``
            without ``axis``.
        from_logits: whether ``logits`` are logits (default) or probabilities;
            the log of probabilities is clamped at -100.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; may be traced.
        class_weights: optional non-negative ``[K]`` array of class weights.
        ignore_index: optional label value whose examples are removed
            (PyTorch's default is -100; here the default is None).
        axis: the class axis of ``logits``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to ``labels.shape``.
        where: optional boolean mask of ``labels``' shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses
        (0 for removed examples).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0], [9.0, 9.0, 9.0]])
        >>> labels = jnp.array([0, 1, -100])
        >>> lossjax.sparse_categorical_cross_entropy(logits, labels, ignore_index=-100,
        ...                                          reduction="none")
        Array([0.41703004, 0.1967341 , 0.        ], dtype=float32)

    References:
        PyTorch ``torch.nn.CrossEntropyLoss`` (class indices, ``weight``,
        ``ignore_index``, ``label_smoothing``); optax
        ``softmax_cross_entropy_with_integer_labels``.
    """
    _checks.check_reduction(reduction)
    _check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("label_smoothing", label_smoothing, lower=0.0, upper=1.0)
    _checks.check_hyperparameter("class_weights", class_weights, lower=0.0)
    logits, labels, keep = _prepare_sparse(logits, labels, axis, where, ignore_index, from_logits)
    dtype, num_classes = logits.dtype, logits.shape[-1]
    cw = cw_y = None
    if class_weights is not None:
        cw = _class_vector("class_weights", class_weights, num_classes, dtype)
        cw_y = cw[labels]

    zero = jnp.zeros((), dtype)
    if from_logits:
        nll = jax.nn.softplus(_label_log_odds(logits, labels, keep, False))
    else:
        neg_log_q = -_safe_log(logits)
        nll = _gather(neg_log_q, labels)
    values = nll
    if not _smoothing_is_zero(label_smoothing):
        eps = _checks.hyperparameter(label_smoothing, dtype)
        v = jnp.ones((num_classes,), dtype) if cw is None else cw
        if from_logits:
            # sum_k v_k (-log q_k) = sum(v) * nll - sum_k v_k (z_k - z_y), with
            # the differences taken per class (exact for logits of any size).
            spread = jnp.sum(
                _per_class(v, logits.ndim) * (logits - _gather(logits, labels)[..., None]),
                axis=-1,
            )
            total = jnp.sum(v) * nll - jnp.where(keep, spread, zero)
        else:
            total = jnp.sum(_per_class(v, logits.ndim) * neg_log_q, axis=-1)
        smooth = total / num_classes if cw is None else _safe_divide(total / num_classes, cw_y)
        # `where`, not a product: with an excluded class (-inf logit) the
        # smoothing term is inf, and a traced eps = 0 must still give 0, not nan.
        smooth = jnp.where(eps == 0, zero, eps * smooth)
        values = (1 - eps) * nll + smooth
    if cw_y is not None:
        weights = _combine_weights(weights, cw_y)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


def categorical_focal_loss(
    logits: Any,
    labels: Any,
    *,
    gamma: Any = 2.0,
    alpha: Any = None,
    from_logits: bool = True,
    ignore_index: int | None = None,
    axis: int = -1,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Softmax focal loss on integer labels: cross-entropy scaled down on easy examples.

    With :math:`p_y = \operatorname{softmax}(z)_y` (or the given probability of
    the labelled class):

    .. math::

        l_i = -\alpha_{y_i}\,(1 - p_{i y_i})^\gamma \log p_{i y_i} .

    With ``gamma=0`` and ``alpha=None`` this is
    :func:`sparse_categorical_cross_entropy`. ``alpha`` multiplies the loss
    values only (it is not in the mean's denominator, as in Keras's
    ``CategoricalFocalCrossentropy``); for weights that also normalise the
    mean use ``weights`` or ``sparse_categorical_cross_entropy``'s
    ``class_weights``. The factor is computed in log space (module
    docstring), so values and gradients stay finite and accurate for logits
    of any size and any :math:`\gamma \ge 0`, including :math:`\gamma < 1`
    where :math:`(1-p)^\gamma` has an infinite slope at :math:`p = 1`.
    Removed examples (``where``, ``ignore_index``, labels outside
    ``[0, K)``) contribute nothing, as in
    :func:`sparse_categorical_cross_entropy`.

    Args:
        logits: floating array ``[..., K, ...]`` of logits (``K >= 2``), or of
            probabilities when ``from_logits=False``.
        labels: integer array of class indices with the shape of ``logits``
            without ``axis``.
        gamma: focusing parameter :math:`\gamma \ge 0`; may be traced
            (differentiable, vmappable).
        alpha: optional balance factor: a scalar or a ``[K]`` array of values
            in ``[0, 1]``; may be traced.
        from_logits: whether ``logits`` are logits (default) or probabilities
            (logs clamped at -100).
        ignore_index: optional label value whose examples are removed.
        axis: the class axis of ``logits``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to ``labels.shape``.
        where: optional boolean mask of ``labels``' shape.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-example losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
        >>> lossjax.categorical_focal_loss(logits, jnp.array([0, 2]), gamma=2.0,
        ...                                reduction="none")
        Array([0.04849235, 2.3453376 ], dtype=float32)

    References:
        Lin et al., "Focal Loss for Dense Object Detection", 2017
        (https://arxiv.org/abs/1708.02002).
    """
    _checks.check_reduction(reduction)
    _check_flag("from_logits", from_logits)
    _checks.check_hyperparameter("gamma", gamma, lower=0.0)
    _checks.check_hyperparameter("alpha", alpha, lower=0.0, upper=1.0)
    logits, labels, keep = _prepare_sparse(logits, labels, axis, where, ignore_index, from_logits)
    dtype, num_classes = logits.dtype, logits.shape[-1]
    if num_classes < 2:
        raise ValueError(
            f"lossjax: categorical_focal_loss needs at least 2 classes, got logits with "
            f"{num_classes} along `axis`."
        )
    gamma = _checks.hyperparameter(gamma, dtype)

    if from_logits:
        # With the log-odds a against the label, -log p_y = softplus(a) and
        # log(1 - p_y) = -softplus(-a), both exact for any a. When every other
        # logit is -inf (p_y = 1 exactly), log(1 - p_y) = -inf is taken as the
        # most negative finite number so the gradients stay finite.
        a = _label_log_odds(logits, labels, keep, True)
        nll = jax.nn.softplus(a)
        log1m = jnp.maximum(-jax.nn.softplus(-a), jnp.finfo(dtype).min)
    else:
        p_y = _gather(logits, labels)
        nll = -_safe_log(p_y)
        log1m = _safe_log1m(p_y)
    values = jnp.exp(gamma * log1m) * nll
    if alpha is not None:
        alpha = _checks.as_array("alpha", alpha)
        if alpha.ndim == 0:
            values = alpha.astype(dtype) * values
        else:
            values = _class_vector("alpha", alpha, num_classes, dtype)[labels] * values
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=keep, axis_name=axis_name
    )


def kl_divergence(
    logits: Any,
    targets: Any,
    *,
    from_logits: bool = True,
    log_targets: bool = False,
    axis: int = -1,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Kullback-Leibler divergence ``KL(targets || softmax(logits))`` per example.

    .. math::

        l_i = \mathrm{KL}(t_i \,\|\, q_i) = \sum_k t_{ik}\,(\log t_{ik} - \log q_{ik}),
        \qquad q_i = \operatorname{softmax}(z_i) .

    :math:`0 \log 0 = 0` in the value and in the gradient: a zero target adds
    nothing, and the derivative with respect to a zero target (:math:`-\infty`
    mathematically) is returned as 0, while the gradient with respect to the
    logits is the exact :math:`q \sum_k t_k - t`. (optax's ``kl_divergence``
    gives NaN gradients at zero targets.) With ``log_targets=True`` a target of
    :math:`\log t = -\infty` is a zero target, with the exact gradient 0.

    Args:
        logits: floating array ``[..., K, ...]`` of logits, or of probabilities
            :math:`q` when ``from_logits=False`` (logs clamped at -100).
        targets: non-negative target probabilities, or their logs when
            ``log_targets=True``, with the shape of ``logits``.
        from_logits: whether ``logits`` are logits (default) or probabilities.
        log_targets: whether ``targets`` are log-probabilities.
        axis: the class axis.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per example).
        weights: optional per-example weights, broadcastable to the
            per-example shape (``logits.shape`` without ``axis``).
        where: optional boolean per-example mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced divergence (float32 at least), or the per-example values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
        >>> targets = jnp.array([[1.0, 0.0, 0.0], [0.2, 0.2, 0.6]])
        >>> lossjax.kl_divergence(logits, targets, reduction="none")
        Array([0.6931472 , 0.10464963], dtype=float32)

    References:
        Kullback and Leibler, "On Information and Sufficiency", 1951; PyTorch
        ``torch.nn.KLDivLoss`` (``log_target``), optax ``kl_divergence``.
    """
    _checks.check_reduction(reduction)
    _check_flag("from_logits", from_logits)
    _check_flag("log_targets", log_targets)
    logits = _checks.check_floating("logits", logits)
    targets = (_checks.check_floating if log_targets else _checks.check_real)("targets", targets)
    _checks.check_same_shape("logits", logits, "targets", targets)
    dtype = _checks.compute_dtype(logits, targets)
    logits = _class_last("logits", logits, axis).astype(dtype)
    targets = _class_last("targets", targets, axis).astype(dtype)
    where = prepare_where(where, tuple(logits.shape[:-1]))
    logits = mask_inputs(where, logits, 0.0, axis=-1)
    targets = mask_inputs(where, targets, -jnp.inf if log_targets else 0.0, axis=-1)

    if from_logits:
        # A log-target of -inf is a zero target; exp keeps the derivative
        # d/d(log t) = t * d/dt exact (0 there).
        t = jnp.exp(targets) if log_targets else targets
        values = _softmax_cross_entropy(logits, t, "kl")
        return reduce_loss(
            values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
        )
    neg_log_q = -_safe_log(logits)
    # Double `where`: at a zero target both the selected and the unused branch
    # are finite, so neither the value nor any gradient sees 0 * log 0.
    if log_targets:
        present = targets > -jnp.inf
        log_t = jnp.where(present, targets, jnp.zeros((), dtype))
        t = jnp.exp(log_t)
    else:
        present = targets > 0
        t = jnp.where(present, targets, jnp.ones((), dtype))
        log_t = jnp.log(t)
    neg_log_q = jnp.where(present, neg_log_q, jnp.zeros((), dtype))
    terms = jnp.where(present, t * (log_t + neg_log_q), jnp.zeros((), dtype))
    values = jnp.sum(terms, axis=-1)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
