r"""Binary classification losses: sigmoid cross-entropy, hinge and focal loss.

All three are elementwise: ``reduction="none"`` returns the shape of the first
argument. Labels are real arrays (float, integer or bool are cast); for the
cross-entropy losses they are probabilities of the positive class in
:math:`[0, 1]` (hard labels 0/1 or soft labels).

Numerics (the logits paths share one :math:`e = \exp(-|z|)` per element):

* Cross-entropy from logits is :math:`y\,\mathrm{sp}(-z) + (1 - y)\,\mathrm{sp}(z)`
  with the softplus pair :math:`\mathrm{sp}(\pm z) = \max(\pm z, 0) + \log(1 + e)`:
  a sum of non-negative terms, so no cancellation and no overflow at any
  logit (``|z| = 1e4`` included), one ``exp`` and one ``log1p``. The pair and
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
  :math:`(1+e)(1-p_t) = (1-c) + c\,e` and :math:`(1+e)\,p_t = c + (1-c)\,e`,
  sums of non-negative terms. Its log is :math:`-|z| - \log(1+e)` for a hard
  label the model gets right, :math:`-\log(1+e)` for one it gets wrong (no
  extra transcendental for hard labels, which are recognised statically from
  an integer or bool label dtype), and ``log`` or ``log1p``, whichever is
  exact, for soft labels. The factor itself is ``pow(1 - p_t, gamma)``:
  ``exp(gamma * log(1 - p_t))`` would lose :math:`|\gamma\log(1-p_t)|` ulps
  (up to 1e-5 relative in float32), so the log form is used only where
  :math:`1 - p_t` is below the normal range and the loss underflows anyway.
  Both are exactly 1 for ``gamma = 0``, so focal loss then equals
  :func:`binary_cross_entropy` bit for bit (the same cross-entropy code).
  Values are within about :math:`3(\gamma + 1)` float32 ulps of the exact
  result (1e-6 relative at ``gamma = 5``).

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
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from lossjax import _checks
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
        positive = pos_weight * positive
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


def _smooth_labels(labels: jax.Array, label_smoothing: Any) -> jax.Array:
    """``y (1 - eps) + eps / 2`` (PyTorch/Keras convention); a no-op for a static 0."""
    if _checks.is_static(label_smoothing) and np.all(np.asarray(label_smoothing) == 0):
        return labels
    eps = _checks.hyperparameter(label_smoothing, labels.dtype)
    return labels * (1.0 - eps) + 0.5 * eps


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
    return jnp.broadcast_to(pos_weight.astype(logits.dtype), shape)


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
    labels = _smooth_labels(labels, label_smoothing)
    pos_weight = _pos_weight_array(pos_weight, logits)
    if from_logits:
        values = _sigmoid_cross_entropy(logits, labels, pos_weight)
    else:
        positive = labels * -_floored_log(logits)
        if pos_weight is not None:
            positive = pos_weight * positive
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
    signs = jnp.where(labels > 0, 1.0, -1.0).astype(scores.dtype)
    values = jax.nn.relu(margin - signs * scores)
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

    For hard labels this is :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`. The
    factor :math:`(1 - p_t)^\gamma = \exp(\gamma \log(1 - p_t))` is computed in
    the log domain, so the loss and its gradient are accurate at any logit
    (``±1e3`` included) and for every :math:`\gamma \ge 0`; with
    ``gamma=0, alpha=None`` the result equals :func:`binary_cross_entropy`
    exactly. The derivative comes from a ``custom_jvp`` rule, so ``jax.grad``,
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
        Array([1.8035624e-03, 2.2658059e-02, 1.0000000e+03], dtype=float32)

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
    labels = _smooth_labels(labels, label_smoothing)
    gamma = _checks.hyperparameter(gamma, logits.dtype)
    # The factor is exactly 1 for gamma == 0: then this is binary_cross_entropy.
    values = _modulating_factor(logits, labels, gamma, hard) * _sigmoid_cross_entropy(
        logits, labels
    )
    if alpha is not None:
        alpha = _checks.hyperparameter(alpha, logits.dtype)
        values = (alpha * labels + (1.0 - alpha) * (1.0 - labels)) * values
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
