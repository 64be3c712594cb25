r"""Knowledge distillation: a student's token distributions against a teacher's.

One loss, :func:`distillation_loss`, with three divergences between the
temperature-softened distributions :math:`p = \operatorname{softmax}(t / T)`
(teacher) and :math:`q = \operatorname{softmax}(s / T)` (student): forward KL
(Hinton et al. 2015), reverse KL and the generalised Jensen-Shannon divergence
of Agarwal et al. (2024). The class (vocabulary) axis is last; every other
axis indexes examples or tokens, and the per-token values go through
:func:`reduce_loss` (``where`` masks padding tokens).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks
from lossjax._reduction import (
    AxisName,
    Normalize,
    Reduction,
    mask_inputs,
    prepare_where,
    reduce_loss,
)
from lossjax._registry import Recommendation, choice, integer, real, register

KINDS = ("forward_kl", "reverse_kl", "jsd")


def _kl(log_p: jax.Array, log_q: jax.Array) -> jax.Array:
    """``KL(p || q) = sum_k p_k (log p_k - log q_k)`` over the last axis, with ``0 log 0 = 0``.

    A class with ``p_k = 0`` (a teacher logit of -inf, or an underflow) adds
    nothing; both logs are replaced there before the product, so that neither
    the value nor the gradient meets ``0 * inf``.
    """
    p = jnp.exp(log_p)
    kept = p > 0
    zero = jnp.zeros((), log_p.dtype)
    difference = jnp.where(kept, log_p, zero) - jnp.where(kept, log_q, zero)
    return jnp.sum(jnp.where(kept, p * difference, zero), axis=-1)


def _jsd(log_p: jax.Array, log_q: jax.Array, beta: jax.Array) -> jax.Array:
    """``beta KL(p || m) + (1 - beta) KL(q || m)`` with ``m = beta p + (1 - beta) q``.

    ``log m`` is a log-sum-exp of the two logs, so ``m`` is never formed from
    probabilities that underflow.
    """
    log_m = jnp.logaddexp(jnp.log(beta) + log_p, jnp.log1p(-beta) + log_q)
    return beta * _kl(log_p, log_m) + (1.0 - beta) * _kl(log_q, log_m)


def _log_distributions(
    student: jax.Array, teacher: jax.Array, kind: str, top_k: int | None
) -> tuple[jax.Array, jax.Array]:
    """``(log p, log q)``: teacher and student log-probabilities on the compared support."""
    if top_k is None:
        return jax.nn.log_softmax(teacher, axis=-1), jax.nn.log_softmax(student, axis=-1)
    kept_logits, index = jax.lax.top_k(teacher, top_k)
    log_p = jax.nn.log_softmax(kept_logits, axis=-1)
    if kind == "forward_kl":
        # Normalised over the whole vocabulary: the mass the student puts on
        # other tokens is penalised (a cross-entropy to the truncated teacher).
        log_q = jnp.take_along_axis(jax.nn.log_softmax(student, axis=-1), index, axis=-1)
    else:
        # KL(q || p) needs q on p's support: both renormalised over the k tokens.
        log_q = jax.nn.log_softmax(jnp.take_along_axis(student, index, axis=-1), axis=-1)
    return log_p, log_q


@register(
    task="distillation",
    input_kind="logits",
    summary="KL or generalised JSD between temperature-softened student and teacher distributions.",
    aliases=("distillation", "kd", "knowledge_distillation"),
    presets={"gkd": {"kind": "jsd"}},
    default=True,
    hyperparameters=(
        real("temperature", "softmax temperature T of both models", lower=0.0, lower_open=True),
        choice("kind", "the divergence", KINDS),
        real(
            "beta",
            "teacher weight of the JSD mixture (kind='jsd')",
            lower=0.0,
            upper=1.0,
            lower_open=True,
            upper_open=True,
        ),
        integer("top_k", "keep only the teacher's k largest logits", lower=1, optional=True),
    ),
    recommendations=(
        Recommendation(
            "Hinton's distillation: forward KL to the teacher's softened distribution, "
            "scaled by T^2; covers every mode of the teacher",
            {"kind": "forward_kl", "temperature": 2.0},
        ),
        Recommendation(
            "generalised Jensen-Shannon (Agarwal et al. 2024, GKD): bounded, between forward "
            "and reverse KL; good for on-policy distillation of language models",
            {"kind": "jsd", "beta": 0.5},
            score=-0.5,
        ),
        Recommendation(
            "reverse KL: mode-seeking, the student concentrates on the teacher's main modes "
            "(a small student that cannot cover them all)",
            {"kind": "reverse_kl"},
            score=-1.0,
        ),
    ),
)
def distillation_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    temperature: ArrayLike = 1.0,
    kind: str = "forward_kl",
    beta: ArrayLike = 0.5,
    top_k: int | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
    normalize_by: Normalize = "tokens",
    segment_ids: ArrayLike | None = None,
) -> jax.Array:
    r"""Distillation loss between the student's and the teacher's softened distributions.

    With temperature :math:`T`, teacher :math:`p = \operatorname{softmax}(t/T)`
    and student :math:`q = \operatorname{softmax}(s/T)` over the last axis,
    one value per example (per token for language models):

    .. math::

        \text{forward\_kl}:\; T^2\,\mathrm{KL}(p\,\|\,q), \qquad
        \text{reverse\_kl}:\; T^2\,\mathrm{KL}(q\,\|\,p),

        \text{jsd}:\; T^2\,\big[\beta\,\mathrm{KL}(p\,\|\,m) + (1-\beta)\,\mathrm{KL}(q\,\|\,m)\big],
        \quad m = \beta p + (1-\beta) q .

    The factor :math:`T^2` (Hinton et al.) keeps the gradients' scale
    independent of the temperature; it multiplies every kind, so that switching
    the divergence does not rescale the loss. TRL's ``generalized_jsd_loss``
    (``GKDTrainer``) is the JSD without it (equal at ``T = 1``): its ``beta=0``
    and ``beta=1`` are our ``"forward_kl"`` and ``"reverse_kl"``. The JSD is
    at most :math:`T^2 H(\beta) \le T^2 \log 2` (:math:`H` the binary
    entropy), never infinite.

    ``top_k`` keeps the teacher's :math:`k` largest logits and their indices
    (MaxText's offline distillation stores exactly these): :math:`p` is the
    softmax over those :math:`k` logits, zero elsewhere. For ``"forward_kl"``
    the student keeps its full-vocabulary normalisation, so mass it puts on
    other tokens is penalised; ``"reverse_kl"`` and ``"jsd"`` compare both
    distributions renormalised over the :math:`k` tokens (a reverse KL to a
    truncated teacher would be infinite).

    Logits go through a log-softmax, so values are exact for logit ranges of
    :math:`10^4` and more; a teacher logit of :math:`-\infty` (a token that
    cannot occur) adds nothing, with a finite gradient. The teacher is not
    wrapped in ``stop_gradient``: do that where it should not be trained.

    Args:
        student_logits: ``[..., V]`` floating logits of the student.
        teacher_logits: ``[..., V]`` floating logits of the teacher, the same shape.
        temperature: :math:`T > 0`; may be traced.
        kind: ``"forward_kl"`` (default), ``"reverse_kl"`` or ``"jsd"``.
        beta: :math:`\beta \in (0, 1)`, the teacher's weight in the JSD
            mixture (used by ``"jsd"`` only).
        top_k: ``None`` (the whole vocabulary) or the number of teacher
            logits kept, at most ``V``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``[...]``).
        weights: optional per-token weights, a scalar or of the shape ``[...]``.
        where: optional boolean ``[...]`` mask (padding tokens ``False``).
        axis_name: mapped axis name(s) for an exact global mean.
        normalize_by: ``"tokens"`` (default) or ``"sequences"``: the mean over all
            kept tokens, or per sequence (the last axis of ``[...]``) first
            (see :func:`lossjax.reduce_loss`).
        segment_ids: optional integer ``[...]`` ids of packed sequences, 0 = padding.

    Returns:
        The reduced loss (float32 at least), or the per-token values ``[...]``.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> student = jnp.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
        >>> teacher = jnp.array([[2.0, 0.0, -2.0], [0.0, 0.0, 0.0]])
        >>> lossjax.distillation_loss(student, teacher, reduction="none")
        Array([0.11561133, 0.        ], dtype=float32)
        >>> lossjax.distillation_loss(student, teacher, kind="jsd", temperature=2.0)
        Array(0.03146463, dtype=float32)

    References:
        Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network",
        2015 (https://arxiv.org/abs/1503.02531); Agarwal et al., "On-Policy
        Distillation of Language Models: Learning from Self-Generated Mistakes",
        ICLR 2024 (https://arxiv.org/abs/2306.13649).
    """
    _checks.check_reduction(reduction)
    student = _checks.check_floating("student_logits", student_logits)
    teacher = _checks.check_floating("teacher_logits", teacher_logits)
    _checks.check_same_shape("student_logits", student, "teacher_logits", teacher)
    if student.ndim == 0 or student.shape[-1] == 0:
        raise ValueError(
            "lossjax: `student_logits` needs a non-empty class axis (the last one), got shape "
            f"{tuple(student.shape)}."
        )
    if top_k is not None and top_k > student.shape[-1]:
        raise ValueError(
            f"lossjax: `top_k`={top_k} exceeds the number of classes {student.shape[-1]} "
            f"(the last axis of `student_logits`, shape {tuple(student.shape)})."
        )
    dtype = _checks.compute_dtype(student, teacher)
    where = prepare_where(where, tuple(student.shape[:-1]))
    student = mask_inputs(where, student.astype(dtype), 0.0, axis=-1)
    teacher = mask_inputs(where, teacher.astype(dtype), 0.0, axis=-1)
    temperature = _checks.hyperparameter(temperature, dtype)
    log_p, log_q = _log_distributions(student / temperature, teacher / temperature, kind, top_k)
    if kind == "forward_kl":
        values = _kl(log_p, log_q)
    elif kind == "reverse_kl":
        values = _kl(log_q, log_p)
    else:
        values = _jsd(log_p, log_q, _checks.hyperparameter(beta, dtype))
    values = jnp.square(temperature) * values
    return reduce_loss(
        values,
        reduction=reduction,
        weights=weights,
        where=where,
        axis_name=axis_name,
        normalize_by=normalize_by,
        segment_ids=segment_ids,
    )
