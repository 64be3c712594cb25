r"""Binary classification losses: sigmoid cross-entropy, hinge and focal loss.

All three are elementwise: ``reduction="none"`` returns the shape of the first
argument. Labels are real arrays (float, integer or bool are cast); for the
cross-entropy losses they are probabilities of the positive class in
:math:`[0, 1]` (hard labels 0/1 or soft labels).

Numerics (with :math:`e = \exp(-|z|)`):

* Cross-entropy from logits is :math:`y\,\mathrm{sp}(-z) + (1 - y)\,\mathrm{sp}(z)`
  with the softplus pair :math:`\mathrm{sp}(\pm z) = \max(\pm z, 0) + \log(1 + e)`,
  evaluated as :math:`\log(1 + e) + \max(-zy, z(1 - y))` (one of the two max
  terms is the non-negative one, for every real ``y``): a sum of non-negative
  terms, so no cancellation and no overflow at any logit (``|z| = 1e4``
  included), one ``exp`` and one ``log1p``. The pair and
  the sigmoid pair :math:`\sigma(\pm z)` carry ``custom_jvp`` rules
  (:math:`\mathrm{sp}'(\pm z) = \pm\sigma(\pm z)`, :math:`\sigma'(\pm z) =
  \pm\sigma(z)\sigma(-z)`) because differentiating ``|z|`` and ``max`` gives the
  wrong second derivative at exactly ``z = 0``, a common initial logit.
  Writing the gradient as :math:`(1-y)\sigma(z) - y\sigma(-z)` keeps it
  accurate to the last bits for hard labels, where :math:`\sigma(z) - 1`
  rounds to 0 beyond ``z = 17`` in float32.
* Probabilities (``from_logits=False``) follow PyTorch's ``BCELoss``: each log
  is floored at -100, through a guarded ``where`` so that a probability of
  exactly 0 or 1 gives a finite value and a finite (zero) gradient.
* Focal loss is :math:`(1 - p_t)^\gamma\,\mathrm{CE}`, and :math:`1 - p_t` is
  never formed by subtraction: with ``c`` the label on the side of the
  predicted class (``y`` for :math:`z \ge 0`, ``1 - y`` otherwise),
  :math:`(1+e)(1-p_t) = (1-c) + c\,e = e + (1-c)(1-e)` and
  :math:`(1+e)\,p_t = c + (1-c)\,e`, sums of non-negative terms. Its log is
  :math:`-|z| - \log(1+e)` for a hard label the model gets right,
  :math:`-\log(1+e)` for one it gets wrong (no extra transcendental for hard
  labels, which are recognised statically from an integer or bool label
  dtype), and ``log`` or ``log1p``, whichever is exact, for soft labels. The
  factor itself is ``pow(1 - p_t, gamma)``, or products and one ``sqrt`` when
  ``gamma`` is a static multiple of 1/2 up to 3 (as accurate, several times
  cheaper: ``pow`` is the slowest operation here):
  ``exp(gamma * log(1 - p_t))`` would lose :math:`|\gamma\log(1-p_t)|` ulps
  (up to 1e-5 relative in float32), so the log form is used only where
  :math:`1 - p_t` is below the normal range (in the derivatives; the loss has
  underflowed there). The factor is exactly 1 for ``gamma = 0``; a static
  ``gamma=0`` without ``alpha`` runs the :func:`binary_cross_entropy` code, bit
  for bit. Values are within about :math:`3(\gamma + 1)` float32 ulps of the
  exact result (1e-6 relative at ``gamma = 5``).

Focal derivative rules. Autodiff through the formulas above would hit
``log(0)``, ``0 * inf`` and the kinks of ``|z|``, so two private functions
carry ``jax.custom_jvp`` rules:

* ``_log_one_minus_pt(z, y) = (log(1 - p_t), rho)`` with
  :math:`\partial_z \log(1-p_t) = (1-2y)\rho`, where :math:`\rho =
  p(1-p)/(1-p_t) \in (0, 1]` is evaluated as :math:`e/((1+e)((1-c)+c\,e))`
  (bounded, never 0/0), :math:`\partial_y \log(1-p_t) = (1-2p)/(1-p_t)`, and
  :math:`\partial_z \rho = \rho\,(1 - 2p - (1-2y)\rho)`, :math:`\partial_y \rho
  = -\rho\,\partial_y \log(1-p_t)`.
* ``_modulating_factor(z, y, gamma) = (1 - p_t)^gamma`` with ``gamma`` a
  differentiable primal: :math:`dm = m\,(\gamma\, d\log(1-p_t) + \log(1-p_t)\,
  d\gamma)`. So ``gamma`` (and ``alpha``, applied outside) may be traced,
  differentiated and ``vmap``-ed; :math:`\partial_\gamma` loss is
  :math:`\log(1-p_t)\cdot` loss.

The logits gradient that results is :math:`(1-p_t)^\gamma[\gamma(1-2y)\rho\,
\mathrm{CE} + (1-y)\sigma(z) - y\sigma(-z)]`, a product of bounded, accurately
computed factors, finite at any logit. ``custom_jvp`` rather than
``custom_vjp`` because JAX transposes it for reverse mode, so ``jax.grad``,
``jax.jvp`` and ``jax.hessian`` all work; the rules are written with the same
custom functions, so they are themselves differentiated exactly (Hessians,
also at ``z = 0``). Tangents that are symbolically zero (the labels, ``gamma``
when only the logits are differentiated) are skipped, so they cost nothing.

The one place that is not exact: :math:`1/(1 - p_t)` in the label derivative
is capped at ``1/finfo.tiny`` where :math:`1 - p_t` underflows (hard label on
the right side, ``|z|`` beyond about 87 in float32 or 708 in float64), so the
label gradient stays finite; it multiplies a loss that has underflowed there.

Speed: the compiled form. A jitted ``value_and_grad`` of an elementwise loss
takes at least two passes over the inputs on XLA:CPU, which has no fusion that
yields a reduction and an elementwise array together: the sum of the values
(reads ``z`` and ``y``) and the gradient (reads both, writes one array), 5/3 of
the memory traffic of ``z - y``. Anything else costs a full-size array written
and read back: an intermediate the two passes share (XLA does not recompute an
``exp`` for a second fusion, and it merges identical expressions, broadcast
constants included), and any operation that the reduction fusion (YNNPACK's,
``__ynn_fusion``) cannot take: ``select``, ``compare``, ``convert``, ``clamp``.
That fusion also runs operation by operation over tiles, so each cheap
operation in a value costs about a tenth of a pass. So each public loss goes
through one ``custom_jvp`` function (``_bce_logits``, ``_hinge``, ``_focal``):

* its primal is a select-free expression with few operations (a step function
  is ``min(max(x b, 0) b, 1)`` with ``b`` the largest float, exact for every
  ``x``), evaluated on inputs and constants passed through ``_fusion.apart``, an
  optimization barrier on CPU that keeps XLA from merging it with the
  derivative (the identity on other platforms, whose fusers combine the two
  passes themselves);
* its rule computes the logits derivative by a separate lean expression in one
  loop fusion: :math:`(1-y)\sigma(z) - y\sigma(-z)` for BCE (one ``exp``, one
  division), ``_focal_dz`` for focal loss, with ``log1p`` replaced by a short
  series (``_fusion.log1p_series``: XLA:CPU's loop ``log1p`` costs several ``exp``);
* every other derivative (labels, ``pos_weight``, ``label_smoothing``,
  ``gamma``, ``alpha``, and all second and higher derivatives) is the ``jvp``
  of the exact compositions of the building blocks above (``_bce_exact``,
  ``_focal_exact``, ``_focal_dz_exact``): unchanged, exact rules.

Label smoothing and ``pos_weight`` are applied inside these functions, on each
side of the barrier, so they add no pass either. Where the values cannot go
into the reduction fusion (``reduction="none"``, or a ``where`` mask, whose
select that fusion does not take), XLA:CPU computes them in an elementwise
loop instead, and there the primal uses ``_fusion.log1p_series`` too (faster
in a loop, slower inside the reduction fusion).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from lossjax import _checks, _fusion
from lossjax._reduction import AxisName, prepare_pair, reduce_loss

# PyTorch's BCELoss floors each log at -100 so that probabilities of exactly 0
# or 1 give a finite loss (100 per element at worst).
_LOG_FLOOR = -100.0


# -- smooth building blocks with closed-form derivative rules ---------------------


@jax.custom_jvp
def _sigmoid_pair(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sigmoid(z), sigmoid(-z))`` from one ``exp(-|z|)``, both accurate in the tails."""
    e = jnp.exp(-jnp.abs(z))
    r = 1.0 / (1.0 + e)
    positive = z >= 0
    return jnp.where(positive, r, e * r), jnp.where(positive, e * r, r)


@_sigmoid_pair.defjvp
def _sigmoid_pair_jvp(primals, tangents):
    (z,), (z_dot,) = primals, tangents
    s_pos, s_neg = _sigmoid_pair(z)
    d = s_pos * s_neg * z_dot
    return (s_pos, s_neg), (d, -d)


@jax.custom_jvp
def _softplus_pair(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(softplus(z), softplus(-z))`` = ``(-log(1 - sigmoid(z)), -log sigmoid(z))``.

    Both are ``max(±z, 0) + log1p(exp(-|z|))``: non-negative terms, no overflow.
    """
    log1p_e = jnp.log1p(jnp.exp(-jnp.abs(z)))
    return jnp.maximum(z, 0.0) + log1p_e, jnp.maximum(-z, 0.0) + log1p_e


@_softplus_pair.defjvp
def _softplus_pair_jvp(primals, tangents):
    (z,), (z_dot,) = primals, tangents
    s_pos, s_neg = _sigmoid_pair(z)
    return _softplus_pair(z), (s_pos * z_dot, -s_neg * z_dot)


def _sigmoid_cross_entropy(
    logits: jax.Array, labels: jax.Array, pos_weight: jax.Array | None = None
) -> jax.Array:
    """``-pos_weight * y log sigmoid(z) - (1 - y) log(1 - sigmoid(z))`` (shared by BCE and focal)."""
    softplus_pos, softplus_neg = _softplus_pair(logits)
    positive = labels * softplus_neg
    if pos_weight is not None:
        positive = jnp.broadcast_to(pos_weight, positive.shape) * positive
    return positive + (1.0 - labels) * softplus_pos


def _one_minus_pt(z: jax.Array, y: jax.Array, hard: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Values ``(1 - p_t, log(1 - p_t), p (1 - p) / (1 - p_t))``, ``p = sigmoid(z)``.

    ``p_t = y p + (1 - y)(1 - p)``. With ``c`` the label on the side of the
    predicted class (``y`` when ``z >= 0``, ``1 - y`` otherwise) and
    ``e = exp(-|z|)``: ``(1 + e)(1 - p_t) = (1 - c) + c e`` and
    ``(1 + e) p_t = c + (1 - c) e``, sums of non-negative terms. ``hard`` (static)
    says the labels are exactly 0 or 1, which needs no log beyond ``log1p(e)``.
    Only values: the derivatives come from the custom rules below.
    """
    abs_z = jnp.abs(z)
    e = jnp.exp(-abs_z)
    log1p_e = jnp.log1p(e)
    r = 1.0 / (1.0 + e)
    y = jnp.clip(y, 0.0, 1.0)
    positive = z >= 0
    c = jnp.where(positive, y, 1.0 - y)
    one_minus_c = jnp.where(positive, 1.0 - y, y)  # never 1 - (1 - y): no double rounding
    right = one_minus_c == 0.0  # hard label on the predicted side: 1 - p_t = sigmoid(-|z|)
    if hard:
        q = jnp.where(right, e * r, r)
        log_q = jnp.where(right, -abs_z - log1p_e, -log1p_e)
        rho = jnp.where(right, r, e * r)
        return q, log_q, rho
    s = one_minus_c + c * e  # (1 + e)(1 - p_t) >= 1 - c > 0 unless c == 1
    q = s * r
    p_t = (c + one_minus_c * e) * r
    small = q < 0.5
    # log(s) is exact for small 1 - p_t, log1p(-p_t) for 1 - p_t near 1.
    log_s = jnp.where(right, -abs_z, jnp.log(jnp.where(right, 1.0, s)))
    log_q = jnp.where(small, log_s - log1p_e, jnp.log1p(-jnp.where(small, 0.0, p_t)))
    log_q = jnp.where(c == 0.0, -log1p_e, log_q)
    # rho = e r / s <= 1; s == 0 only when c == 1 and e underflows, where e / s -> 1.
    nonzero = s > 0
    rho = r * jnp.where(nonzero, e / jnp.where(nonzero, s, 1.0), 1.0)
    return q, log_q, rho


def _inverse_one_minus_pt(log_q: jax.Array) -> jax.Array:
    """``1 / (1 - p_t)``, capped at ``1 / finfo.tiny`` so that it never overflows."""
    log_tiny = float(np.log(jnp.finfo(log_q.dtype).tiny))
    return jnp.exp(-jnp.maximum(log_q, log_tiny))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _log_one_minus_pt(z: jax.Array, y: jax.Array, hard: bool) -> tuple[jax.Array, jax.Array]:
    """``(log(1 - p_t), rho)`` with ``rho = p (1 - p) / (1 - p_t) = d log(1 - p_t) / dz / (1 - 2y)``."""
    _, log_q, rho = _one_minus_pt(z, y, hard)
    return log_q, rho


@_log_one_minus_pt.defjvp
def _log_one_minus_pt_jvp(hard, primals, tangents):
    # Written with custom functions only, so that it is itself differentiable
    # exactly (Hessians, including at z = 0).
    z, y = primals
    z_dot, y_dot = tangents
    log_q, rho = _log_one_minus_pt(z, y, hard)
    s_pos, s_neg = _sigmoid_pair(z)
    log_q_dot = rho_dot = jnp.zeros_like(log_q)
    if not isinstance(z_dot, SymbolicZero):
        slope = (1.0 - 2.0 * y) * rho  # d log(1 - p_t) / dz, |slope| <= 1
        log_q_dot = log_q_dot + slope * z_dot
        rho_dot = rho_dot + rho * ((s_neg - s_pos) - slope) * z_dot
    if not isinstance(y_dot, SymbolicZero):
        slope_y = (s_neg - s_pos) * _inverse_one_minus_pt(log_q)  # (1 - 2p) / (1 - p_t)
        log_q_dot = log_q_dot + slope_y * y_dot
        rho_dot = rho_dot - rho * slope_y * y_dot
    return (log_q, rho), (log_q_dot, rho_dot)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _modulating_factor(z: jax.Array, y: jax.Array, gamma: jax.Array, hard: bool) -> jax.Array:
    """``(1 - p_t) ** gamma``.

    ``pow`` of the linear value is correctly rounded; ``exp(gamma * log(1 - p_t))``
    would lose ``|gamma log(1 - p_t)|`` ulps (1e-5 relative in float32). The log
    form is used only where ``1 - p_t`` is below the normal range (there the
    loss itself underflows). Both are exactly 1 for ``gamma == 0``.
    """
    q, log_q, _ = _one_minus_pt(z, y, hard)
    normal = q >= jnp.finfo(q.dtype).tiny
    power = jnp.power(jnp.where(normal, q, 1.0), gamma)
    return jnp.where(normal, power, jnp.exp(gamma * log_q))


@_modulating_factor.defjvp
def _modulating_factor_jvp(hard, primals, tangents):
    # d m = m (gamma d log(1 - p_t) + log(1 - p_t) d gamma): bounded factors only.
    z, y, gamma = primals
    z_dot, y_dot, gamma_dot = tangents
    m = _modulating_factor(z, y, gamma, hard)
    log_q, rho = _log_one_minus_pt(z, y, hard)
    log_q_dot = jnp.zeros_like(log_q)
    if not isinstance(z_dot, SymbolicZero):
        log_q_dot = log_q_dot + (1.0 - 2.0 * y) * rho * z_dot
    if not isinstance(y_dot, SymbolicZero):
        s_pos, s_neg = _sigmoid_pair(z)
        log_q_dot = log_q_dot + (s_neg - s_pos) * _inverse_one_minus_pt(log_q) * y_dot
    m_dot = (m * gamma) * log_q_dot
    if not isinstance(gamma_dot, SymbolicZero):
        m_dot = m_dot + (m * log_q) * gamma_dot
    return m, m_dot


# -- the compiled form: forward values apart from their derivatives ---------------
# (see "Speed" in the module docstring)


def _big(dtype: Any) -> float:
    """The largest finite float: ``x * big * big >= 1`` for every positive ``x`` (subnormals too)."""
    return float(jnp.finfo(dtype).max)


def _step(x: jax.Array, zero: jax.Array, one: jax.Array, big: jax.Array) -> jax.Array:
    """1 where ``x > 0``, 0 elsewhere, from products and min/max: no select, no sign."""
    return jnp.minimum(jnp.maximum(x * big, zero) * big, one)


def _is_zero(tangent: Any) -> bool:
    return tangent is None or isinstance(tangent, SymbolicZero)


def _tangent(fn, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> jax.Array | None:
    """Tangent of ``fn`` at ``primals`` along the nonzero ``tangents`` (None if all are zero)."""
    active = [i for i, t in enumerate(tangents) if not _is_zero(t)]
    if not active:
        return None

    def restricted(*xs):
        args = list(primals)
        for i, x in zip(active, xs, strict=True):
            args[i] = x
        return fn(*args)

    return jax.jvp(
        restricted, tuple(primals[i] for i in active), tuple(tangents[i] for i in active)
    )[1]


def _static_gamma(gamma: Any) -> float | None:
    """``gamma`` as a Python float when it is a static scalar, else None."""
    if not _checks.is_static(gamma) or np.ndim(gamma) != 0:
        return None
    return float(np.asarray(gamma))


def _power(q: jax.Array, gamma: jax.Array, static_gamma: float | None) -> jax.Array:
    """``q ** gamma``: products and a square root for a static multiple of 1/2 up to 3.

    These are as accurate as ``pow`` (a few ulp) and several times cheaper.
    """
    if static_gamma is not None and (2 * static_gamma).is_integer() and static_gamma <= 3:
        whole, half = divmod(int(2 * static_gamma), 2)
        result = jnp.sqrt(q) if half else jnp.ones_like(q)
        for _ in range(whole):
            result = result * q
        return result
    return jnp.power(q, gamma)


def _smooth(y: jax.Array, eps: jax.Array | None) -> jax.Array:
    """``y (1 - eps) + eps / 2`` (PyTorch/Keras convention); ``y`` for ``eps=None``.

    Applied inside the custom functions, on each side of ``_fusion.apart``: smoothed
    labels computed once outside would be materialised on CPU.
    """
    return y if eps is None else y * (1.0 - eps) + 0.5 * eps


def _alpha_weight(alpha: jax.Array, y: jax.Array, one_minus_y: jax.Array) -> jax.Array:
    return alpha * y + (1 - alpha) * one_minus_y


def _relu_pair_mix(z: jax.Array, y: jax.Array, one_minus_y: jax.Array) -> jax.Array:
    """``y max(-z, 0) + (1 - y) max(z, 0)`` as ``max(-(z y), z (1 - y))``, for every real y."""
    return jnp.maximum(-(z * y), z * one_minus_y)


def _bce_exact(z, y, pos_weight, eps):
    """BCE composed of the building blocks: exact derivatives of every order."""
    return _sigmoid_cross_entropy(z, _smooth(y, eps), pos_weight)


def _log1p_of_unit(x: jax.Array, in_loop: bool) -> jax.Array:
    """``log1p(x)`` for ``x`` in [0, 1], in the form that is fast where it is compiled.

    ``in_loop`` (:func:`_fusion.values_in_loop`): in an elementwise loop XLA:CPU's
    ``log1p`` is slow and :func:`_fusion.log1p_series` is faster; inside the
    reduction fusion ``log1p`` is the faster one.
    """
    return _fusion.log1p_series(x) if in_loop else jnp.log1p(x)


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _bce_logits(z: jax.Array, y: jax.Array, pos_weight: Any, eps: Any, in_loop: bool) -> jax.Array:
    """The values of ``_sigmoid_cross_entropy`` as one select-free expression.

    Without ``pos_weight`` it is ``log(1 + e) + max(-z y, z (1 - y))``: the
    softplus pair shares its log term, and one of the two max terms is 0.
    ``in_loop`` picks the ``log1p`` form (:func:`_log1p_of_unit`).
    """
    zero, one = _fusion.constants(z.dtype, 0.0, 1.0)
    z, y, pos_weight, eps, zero, one = _fusion.apart(z, y, pos_weight, eps, zero, one)
    y = _smooth(y, eps)
    log1p_e = _log1p_of_unit(jnp.exp(-jnp.abs(z)), in_loop)
    if pos_weight is None:
        return log1p_e + _relu_pair_mix(z, y, one - y)
    # Broadcast after _apart: a broadcast shared with the derivative would be materialised.
    positive = jnp.broadcast_to(pos_weight, z.shape) * (y * (jnp.maximum(-z, zero) + log1p_e))
    return positive + (one - y) * (jnp.maximum(z, zero) + log1p_e)


def _bce_logits_jvp(in_loop, primals, tangents):
    z, y, pos_weight, eps = primals
    z_dot, y_dot, pos_weight_dot, eps_dot = tangents
    value = _bce_logits(z, y, pos_weight, eps, in_loop)
    tangent = jnp.zeros_like(value)
    if not _is_zero(z_dot):
        y = _smooth(y, eps)
        # (1 - y) sigma(z) - w y sigma(-z): one exp and one division.
        s_pos, s_neg = _sigmoid_pair(z)
        negative = y * s_neg
        if pos_weight is not None:
            negative = jnp.broadcast_to(pos_weight, z.shape) * negative
        tangent = tangent + ((1.0 - y) * s_pos - negative) * z_dot
    rest = _tangent(_bce_exact, primals, (None, y_dot, pos_weight_dot, eps_dot))
    return value, tangent if rest is None else tangent + rest


_bce_logits.defjvp(_bce_logits_jvp, symbolic_zeros=True)


@jax.custom_jvp
def _hinge(scores: jax.Array, labels: jax.Array, margin: jax.Array) -> jax.Array:
    """``max(0, margin - sign * scores)`` with ``sign = +1`` for ``labels > 0``, else -1."""
    constants = _fusion.constants(scores.dtype, 0.0, 1.0, 2.0, _big(scores.dtype))
    scores, labels, margin, zero, one, two, big = _fusion.apart(scores, labels, margin, *constants)
    # +1 for labels > 0, else -1, in three operations: y * big >= 2 for every
    # normal positive y (CPU flushes subnormals to zero, in the comparison too).
    signs = jnp.maximum(jnp.minimum(labels * big, two) - one, -one)
    return jnp.maximum(margin - signs * scores, zero)


def _hinge_jvp(primals, tangents):
    # d/ds = -sign and d/d margin = 1 where the margin is violated, 0 elsewhere
    # (0 at the kink, as for jax.nn.relu); the labels are discrete.
    scores, labels, margin = primals
    scores_dot, _, margin_dot = tangents
    value = _hinge(scores, labels, margin)
    signs = jnp.where(labels > 0, 1.0, -1.0).astype(scores.dtype)
    active = margin - signs * scores > 0
    tangent = jnp.zeros_like(value)
    if not _is_zero(scores_dot):
        tangent = tangent + jnp.where(active, -signs, 0.0) * scores_dot
    if not _is_zero(margin_dot):
        tangent = tangent + jnp.where(active, 1.0, 0.0) * margin_dot
    return value, tangent


_hinge.defjvp(_hinge_jvp, symbolic_zeros=True)


def _focal_exact(z, y, gamma, alpha, eps, hard):
    """The focal loss composed of the building blocks: exact derivatives of every order."""
    y = _smooth(y, eps)
    values = _modulating_factor(z, y, gamma, hard) * _sigmoid_cross_entropy(z, y)
    return values if alpha is None else _alpha_weight(alpha, y, 1.0 - y) * values


def _focal_dz_exact(z, y, gamma, alpha, eps, hard):
    """``d _focal_exact / dz`` = ``a_t m [gamma (1 - 2y) rho CE + (1-y) sigma(z) - y sigma(-z)]``."""
    y = _smooth(y, eps)
    m = _modulating_factor(z, y, gamma, hard)
    _, rho = _log_one_minus_pt(z, y, hard)
    s_pos, s_neg = _sigmoid_pair(z)
    ce = _sigmoid_cross_entropy(z, y)
    dz = m * (gamma * (1.0 - 2.0 * y) * rho * ce + ((1.0 - y) * s_pos - y * s_neg))
    return dz if alpha is None else _alpha_weight(alpha, y, 1.0 - y) * dz


@functools.partial(jax.custom_jvp, nondiff_argnums=(5, 6, 7))
def _focal(
    z, y, gamma, alpha, eps, hard: bool, static_gamma: float | None, in_loop: bool
) -> jax.Array:
    """Focal loss as one select-free expression: the values of ``_focal_exact``.

    With ``c`` the label on the predicted side, ``1 - p_t = (e + (1 - c)(1 - e)) / (1 + e)``,
    a sum of non-negative terms like ``_one_minus_pt``'s ``((1 - c) + c e) / (1 + e)``.
    ``in_loop`` picks the ``log1p`` form (:func:`_log1p_of_unit`).
    """
    del hard  # the values take no shortcut for hard labels
    constants = _fusion.constants(z.dtype, 0.0, 1.0, _big(z.dtype))
    z, y, gamma, alpha, eps, zero, one, big = _fusion.apart(z, y, gamma, alpha, eps, *constants)
    y = _smooth(y, eps)
    e = jnp.exp(-jnp.abs(z))
    one_minus_y = one - y
    ce = _log1p_of_unit(e, in_loop) + _relu_pair_mix(z, y, one_minus_y)
    # 1 - c = |h - y| with h = 1 for z > 0, else 0 (at z = 0, where e = 1,
    # either side gives 1 - p_t = 1/2), and (1 + e)(1 - p_t) = e + (1 - c)(1 - e).
    y_clipped = jnp.minimum(jnp.maximum(y, zero), one)
    one_minus_c = jnp.abs(_step(z, zero, one, big) - y_clipped)
    q = (e + one_minus_c * (one - e)) / (one + e)
    values = _power(q, gamma, static_gamma) * ce
    return values if alpha is None else (alpha * y + (one - alpha) * one_minus_y) * values


def _focal_jvp(hard, static_gamma, in_loop, primals, tangents):
    z_dot, *other_dots = tangents
    value = _focal(*primals, hard, static_gamma, in_loop)
    tangent = jnp.zeros_like(value)
    if not _is_zero(z_dot):
        tangent = tangent + _focal_dz(*primals, hard, static_gamma) * z_dot
    exact = functools.partial(_focal_exact, hard=hard)
    rest = _tangent(exact, primals, (None, *other_dots))
    return value, tangent if rest is None else tangent + rest


_focal.defjvp(_focal_jvp, symbolic_zeros=True)


@functools.partial(jax.custom_jvp, nondiff_argnums=(5, 6))
def _focal_dz(z, y, gamma, alpha, eps, hard: bool, static_gamma: float | None) -> jax.Array:
    """The values of ``_focal_dz_exact`` from one exp, one log1p and one or two divisions."""
    del hard
    y = _smooth(y, eps)
    e = jnp.exp(-jnp.abs(z))
    r = 1.0 / (1.0 + e)
    positive = z >= 0
    s_pos = jnp.where(positive, r, e * r)
    s_neg = jnp.where(positive, e * r, r)
    one_minus_y = 1.0 - y
    ce = _fusion.log1p_series(e) + _relu_pair_mix(z, y, one_minus_y)
    y_clipped = jnp.clip(y, 0.0, 1.0)
    c = jnp.where(positive, y_clipped, 1.0 - y_clipped)
    one_minus_c = jnp.where(positive, 1.0 - y_clipped, y_clipped)
    s = one_minus_c + c * e  # (1 + e)(1 - p_t)
    q = s * r
    m = _power(q, gamma, static_gamma)
    if static_gamma is not None and static_gamma in (1.0, 2.0, 3.0, 4.0):
        # m rho = q^(gamma - 1) e r^2: no division.
        m_rho = _power(q, gamma - 1.0, static_gamma - 1.0) * (e * r * r)
    else:
        nonzero = s > 0
        m_rho = m * (r * jnp.where(nonzero, e / jnp.where(nonzero, s, 1.0), 1.0))
    dz = gamma * (1.0 - 2.0 * y) * m_rho * ce + m * (one_minus_y * s_pos - y * s_neg)
    return dz if alpha is None else _alpha_weight(alpha, y, one_minus_y) * dz


def _focal_dz_jvp(hard, static_gamma, primals, tangents):
    value = _focal_dz(*primals, hard, static_gamma)
    tangent = _tangent(functools.partial(_focal_dz_exact, hard=hard), primals, tangents)
    return value, jnp.zeros_like(value) if tangent is None else tangent


_focal_dz.defjvp(_focal_dz_jvp, symbolic_zeros=True)


# -- probabilities ---------------------------------------------------------------


def _floored_log(x: jax.Array) -> jax.Array:
    """``max(log x, -100)``; -100 with a zero (not NaN) gradient where ``x <= 0``."""
    positive = x > 0
    log_x = jnp.log(jnp.where(positive, x, 1.0))
    return jnp.where(positive, jnp.maximum(log_x, _LOG_FLOOR), _LOG_FLOOR)


def _floored_log1m(x: jax.Array) -> jax.Array:
    """``max(log(1 - x), -100)``; -100 with a zero gradient where ``x >= 1``."""
    below = x < 1
    log1m_x = jnp.log1p(-jnp.where(below, x, 0.0))
    return jnp.where(below, jnp.maximum(log1m_x, _LOG_FLOOR), _LOG_FLOOR)


def _probabilities_to_logits(p: jax.Array) -> jax.Array:
    """``log p - log(1 - p)`` with both logs floored at -100 (so 0 -> -100, 1 -> 100)."""
    return _floored_log(p) - _floored_log1m(p)


# -- argument handling -----------------------------------------------------------


def _check_from_logits(from_logits: Any) -> None:
    if not isinstance(from_logits, (bool, np.bool_)):
        raise TypeError(
            f"lossjax: `from_logits` must be a Python bool, got {from_logits!r}. It selects "
            "the formula at trace time and cannot be a traced value."
        )


def _smoothing(label_smoothing: Any, dtype: Any) -> jax.Array | None:
    """The label smoothing as an array, or None for a static 0."""
    if _checks.is_static(label_smoothing) and np.all(np.asarray(label_smoothing) == 0):
        return None
    return _checks.hyperparameter(label_smoothing, dtype)


def _pos_weight_array(pos_weight: Any, logits: jax.Array) -> jax.Array | None:
    if pos_weight is None:
        return None
    pos_weight = _checks.check_real("pos_weight", pos_weight)
    shape = tuple(logits.shape)
    try:
        ok = np.broadcast_shapes(tuple(pos_weight.shape), shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"lossjax: `pos_weight` must be a scalar or broadcastable to the shape of "
            f"`logits` {shape} (e.g. one weight per class, shape {shape[-1:]}), got "
            f"pos_weight.shape={tuple(pos_weight.shape)}."
        )
    # Broadcast where it is used (see _bce_logits).
    return pos_weight.astype(logits.dtype)


def _is_hard(labels: Any, label_smoothing: Any) -> bool:
    """Labels known at trace time to be 0/1: integer or bool dtype and no smoothing."""
    dtype = jnp.result_type(labels)
    hard_dtype = jnp.issubdtype(dtype, jnp.integer) or dtype == jnp.bool_
    no_smoothing = _checks.is_static(label_smoothing) and np.all(np.asarray(label_smoothing) == 0)
    return bool(hard_dtype and no_smoothing)


# -- public losses ---------------------------------------------------------------


def binary_cross_entropy(
    logits: Any,
    labels: Any,
    *,
    from_logits: bool = True,
    label_smoothing: Any = 0.0,
    pos_weight: Any = None,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary (sigmoid) cross-entropy, elementwise, for hard or soft labels.

    With :math:`p = \sigma(z)` (or the given probability when
    ``from_logits=False``), smoothed labels :math:`y' = y(1 - \varepsilon) +
    \varepsilon/2` and positive weight :math:`w_+`:

    .. math::

        l = -\,w_+\, y' \log p \;-\; (1 - y') \log(1 - p).

    From logits this is evaluated as :math:`w_+ y'\,\mathrm{softplus}(-z) +
    (1-y')\,\mathrm{softplus}(z)`, exact and finite for any logit (``±1e4``
    included), with gradient :math:`(1-y')\sigma(z) - w_+ y'\sigma(-z)`. From
    probabilities each log is floored at -100 (PyTorch ``BCELoss``'s convention),
    so probabilities of exactly 0 or 1 give a finite value (at most 100) and a
    finite gradient (0 where the floor is active).

    Args:
        logits: floating array of logits, any shape; probabilities in
            :math:`[0, 1]` when ``from_logits=False``.
        labels: labels with exactly the shape of ``logits``: 0/1 (float,
            integer or bool) or soft labels in :math:`[0, 1]`.
        from_logits: whether the first argument holds logits (default) or
            probabilities.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; labels become
            :math:`y(1-\varepsilon) + \varepsilon/2` (PyTorch/Keras convention).
            A Python number or a (traced, differentiable) scalar.
        pos_weight: optional non-negative weight of the positive term, a scalar
            or an array broadcastable (NumPy rules) to the shape of ``logits``,
            e.g. one per class ``[num_classes]``; may be traced. As in PyTorch's
            ``BCEWithLogitsLoss(pos_weight=...)``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean under
            ``shard_map``/``pmap``.

    Returns:
        The reduced loss (float32 at least), or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([2.0, -1.0, 1e4])
        >>> lossjax.binary_cross_entropy(logits, jnp.array([1, 0, 0]), reduction="none")
        Array([1.269280e-01, 3.132617e-01, 1.000000e+04], dtype=float32)
        >>> probs = jnp.array([0.9, 0.0])
        >>> lossjax.binary_cross_entropy(probs, jnp.array([1.0, 1.0]), from_logits=False,
        ...                              reduction="none")
        Array([  0.10536055, 100.        ], dtype=float32)

    References:
        PyTorch ``torch.nn.BCEWithLogitsLoss`` / ``torch.nn.BCELoss``;
        scikit-learn ``sklearn.metrics.log_loss``.
    """
    _checks.check_reduction(reduction)
    _check_from_logits(from_logits)
    _checks.check_hyperparameter("label_smoothing", label_smoothing, lower=0.0, upper=1.0)
    _checks.check_hyperparameter("pos_weight", pos_weight, lower=0.0)
    logits, labels, where = prepare_pair(
        "logits", logits, "labels", labels, where, fill_a=0.0 if from_logits else 0.5
    )
    eps = _smoothing(label_smoothing, logits.dtype)
    pos_weight = _pos_weight_array(pos_weight, logits)
    if from_logits:
        in_loop = _fusion.values_in_loop(reduction, where)
        values = _bce_logits(logits, labels, pos_weight, eps, in_loop)
    else:
        labels = _smooth(labels, eps)
        positive = labels * -_floored_log(logits)
        if pos_weight is not None:
            positive = jnp.broadcast_to(pos_weight, positive.shape) * positive
        values = positive + (1.0 - labels) * -_floored_log1m(logits)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def hinge_loss(
    scores: Any,
    labels: Any,
    *,
    margin: Any = 1.0,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary hinge loss :math:`l = \max(0, m - y' s)`, elementwise.

    The labels are mapped to signs by :math:`y' = +1` if :math:`y > 0` and
    :math:`y' = -1` otherwise, so labels in :math:`\{0, 1\}` (float, integer or
    bool) and in :math:`\{-1, +1\}` are both accepted as they are. The
    (sub)gradient at the kink :math:`y's = m` is 0, as for ``jax.nn.relu``.
    With ``margin=1`` and the mean this is ``sklearn.metrics.hinge_loss``.

    Args:
        scores: floating array of decision values (raw scores), any shape.
        labels: labels with exactly the shape of ``scores``, in
            :math:`\{0, 1\}` or :math:`\{-1, +1\}`.
        margin: non-negative margin :math:`m`; a Python number or a (traced,
            differentiable) scalar.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> scores = jnp.array([2.0, 0.5, 0.3])
        >>> lossjax.hinge_loss(scores, jnp.array([1, 1, 0]), reduction="none")
        Array([0. , 0.5, 1.3], dtype=float32)

    References:
        scikit-learn ``sklearn.metrics.hinge_loss``; Cortes and Vapnik,
        "Support-Vector Networks", 1995.
    """
    _checks.check_reduction(reduction)
    _checks.check_hyperparameter("margin", margin, lower=0.0)
    scores, labels, where = prepare_pair("scores", scores, "labels", labels, where)
    margin = _checks.hyperparameter(margin, scores.dtype)
    values = _hinge(scores, labels, margin)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def focal_loss(
    logits: Any,
    labels: Any,
    *,
    gamma: Any = 2.0,
    alpha: Any = None,
    from_logits: bool = True,
    label_smoothing: Any = 0.0,
    reduction: str = "mean",
    weights: Any = None,
    where: Any = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Binary (sigmoid) focal loss of Lin et al., elementwise.

    With :math:`p = \sigma(z)`, :math:`p_t = y p + (1 - y)(1 - p)`, the
    cross-entropy :math:`\mathrm{CE} = -y \log p - (1 - y)\log(1 - p)` and
    :math:`\alpha_t = \alpha y + (1 - \alpha)(1 - y)` (1 when ``alpha`` is None):

    .. math::

        l = \alpha_t\,(1 - p_t)^{\gamma}\,\mathrm{CE}.

    For hard labels this is :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`.
    :math:`1 - p_t` is computed as a sum of non-negative terms (never as
    :math:`1 - p_t` by subtraction), so the loss and its gradient are accurate
    at any logit (``±1e3`` included) and for every :math:`\gamma \ge 0`; with
    ``gamma=0, alpha=None`` the result equals :func:`binary_cross_entropy`
    exactly. The derivatives come from ``custom_jvp`` rules, so ``jax.grad``,
    ``jax.jvp`` and ``jax.hessian`` all work, with respect to the logits, the
    labels, ``gamma`` and ``alpha``.

    Args:
        logits: floating array of logits, any shape; probabilities in
            :math:`[0, 1]` when ``from_logits=False`` (converted to logits
            :math:`\log p - \log(1 - p)` with each log floored at -100).
        labels: labels with exactly the shape of ``logits``: 0/1 (float,
            integer or bool) or soft labels in :math:`[0, 1]`.
        gamma: focusing parameter :math:`\gamma \ge 0`; a Python number or a
            (traced, differentiable, vmappable) scalar.
        alpha: optional weight :math:`\alpha \in [0, 1]` of the positive class.
        from_logits: whether the first argument holds logits (default) or
            probabilities.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; labels become
            :math:`y(1-\varepsilon) + \varepsilon/2` before everything else.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
        weights: optional weights, a scalar or broadcastable to the shape.
        where: optional boolean mask; ``False`` entries contribute nothing.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss, or the elementwise losses.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> logits = jnp.array([2.0, -1.0, -1e3])
        >>> lossjax.focal_loss(logits, jnp.array([1, 0, 1]), gamma=2.0, reduction="none")
        Array([1.8035626e-03, 2.2658059e-02, 1.0000000e+03], dtype=float32)

    References:
        Lin, Goyal, Girshick, He and Dollár, "Focal Loss for Dense Object
        Detection", 2017 (https://arxiv.org/abs/1708.02002).
    """
    _checks.check_reduction(reduction)
    _check_from_logits(from_logits)
    _checks.check_hyperparameter("gamma", gamma, lower=0.0)
    _checks.check_hyperparameter("alpha", alpha, lower=0.0, upper=1.0)
    _checks.check_hyperparameter("label_smoothing", label_smoothing, lower=0.0, upper=1.0)
    hard = _is_hard(_checks.check_real("labels", labels), label_smoothing)
    logits, labels, where = prepare_pair(
        "logits", logits, "labels", labels, where, fill_a=0.0 if from_logits else 0.5
    )
    if not from_logits:
        logits = _probabilities_to_logits(logits)
    eps = _smoothing(label_smoothing, logits.dtype)
    static_gamma = _static_gamma(gamma)
    in_loop = _fusion.values_in_loop(reduction, where)
    if static_gamma == 0.0 and alpha is None:
        # The factor is 1: bit for bit binary_cross_entropy with the same options.
        values = _bce_logits(logits, labels, None, eps, in_loop)
    else:
        gamma = _checks.hyperparameter(gamma, logits.dtype)
        if alpha is not None:
            alpha = _checks.hyperparameter(alpha, logits.dtype)
        values = _focal(logits, labels, gamma, alpha, eps, hard, static_gamma, in_loop)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
