r"""Preference optimisation: DPO and its variants, SimPO and ORPO.

Every loss takes per-pair sequence log-probabilities (a chosen response
:math:`y_w` and a rejected one :math:`y_l` for the same prompt) and returns one
value per pair through :func:`reduce_loss`. The formulas are the papers', and
equal, on the same inputs, to the loss functions of TRL's ``DPOTrainer``
(``loss_type`` ``"sigmoid"``, ``"ipo"``, ``"hinge"``, ``"robust"``),
``CPOTrainer`` (``loss_type="simpo"``) and ``ORPOTrainer``. Log-sigmoids are
written as softplus, exact for any margin.

The implicit rewards and the reward accuracy that trainers log come from
:func:`dpo_rewards`, so that each loss returns one array like every other loss.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lossjax import _checks, _numerics
from lossjax._reduction import AxisName, Reduction, mask_inputs, prepare_where, reduce_loss
from lossjax._registry import Recommendation, choice, real, register

DPO_KINDS = ("sigmoid", "ipo", "hinge", "robust")

BETA = real(
    "beta", "strength of the KL constraint to the reference model", lower=0.0, lower_open=True
)


def _pairs(
    names: tuple[str, ...], arrays: tuple[ArrayLike, ...], where: ArrayLike | None, fill: float
) -> tuple[list[jax.Array], jax.Array | None]:
    """The front of the preference losses: floating arrays of one per-pair shape.

    Casts them to the compute dtype (float32 at least) and replaces the pairs
    that ``where`` removes by ``fill``, so that NaN there reaches nothing.
    """
    checked = [_checks.check_floating(n, a) for n, a in zip(names, arrays, strict=True)]
    for n, a in zip(names[1:], checked[1:], strict=True):
        _checks.check_same_shape(names[0], checked[0], n, a)
    dtype = _checks.compute_dtype(*checked)
    where = prepare_where(where, tuple(checked[0].shape))
    return [mask_inputs(where, a.astype(dtype), fill) for a in checked], where


def _log_sigmoid(x: jax.Array) -> jax.Array:
    # log sigmoid(x) = -softplus(-x): no overflow and no rounding to 0 for any x.
    return -jax.nn.softplus(-x)


def _dpo(half_h: jax.Array, beta: jax.Array, label_smoothing: jax.Array, kind: str) -> jax.Array:
    """The DPO family as a function of half the reward margin ``h`` (log-ratio difference).

    For log-probabilities (at most 0) ``h / 2`` always fits, and ``beta * h`` is formed
    from it, so that it overflows only where it is beyond the float range.
    """
    h, beta_h = 2.0 * half_h, (2.0 * beta) * half_h
    if kind == "sigmoid":
        return -(1.0 - label_smoothing) * _log_sigmoid(beta_h) - label_smoothing * _log_sigmoid(
            -beta_h
        )
    if kind == "robust":
        unbiased = -(1.0 - label_smoothing) * _log_sigmoid(beta_h) + label_smoothing * (
            _log_sigmoid(-beta_h)
        )
        return unbiased / (1.0 - 2.0 * label_smoothing)
    if kind == "hinge":
        return jax.nn.relu(1.0 - beta_h)
    return jnp.square(h - 1.0 / (2.0 * beta))  # ipo


@register(
    task="preference",
    input_kind="log-probabilities",
    summary="Direct preference optimisation (DPO, cDPO, IPO, SLiC hinge, robust DPO) of a policy.",
    aliases=("dpo", "direct_preference_optimization"),
    presets={"ipo": {"kind": "ipo"}, "robust_dpo": {"kind": "robust"}, "slic": {"kind": "hinge"}},
    default=True,
    hyperparameters=(
        BETA,
        real(
            "label_smoothing",
            "probability that a preference label is flipped (sigmoid, robust)",
            lower=0.0,
            upper=0.5,
            upper_open=True,
        ),
        choice("kind", "the member of the DPO family", DPO_KINDS),
    ),
    recommendations=(
        Recommendation(
            "DPO: the standard offline preference objective, needs a frozen reference model",
            {"kind": "sigmoid", "beta": 0.1},
        ),
        Recommendation(
            "IPO: a squared loss that does not push margins to infinity on deterministic "
            "preferences (less overfitting)",
            {"kind": "ipo", "beta": 0.1},
            score=-0.5,
        ),
        Recommendation(
            "robust DPO when a known fraction of the preference labels is noisy",
            {"kind": "robust", "label_smoothing": 0.1},
            score=-1.0,
        ),
    ),
)
def dpo_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike = 0.1,
    label_smoothing: ArrayLike = 0.0,
    kind: str = "sigmoid",
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Direct preference optimisation loss and its variants, one value per pair.

    With the log-ratio margin
    :math:`h = [\log\pi(y_w) - \log\pi(y_l)] - [\log\pi_{\mathrm{ref}}(y_w) - \log\pi_{\mathrm{ref}}(y_l)]`
    and label smoothing :math:`\varepsilon`:

    .. math::

        \text{sigmoid}:\; -(1-\varepsilon)\log\sigma(\beta h) - \varepsilon\log\sigma(-\beta h)

        \text{robust}:\; \frac{-(1-\varepsilon)\log\sigma(\beta h) + \varepsilon\log\sigma(-\beta h)}
        {1 - 2\varepsilon}

        \text{hinge}:\; \max(0,\, 1 - \beta h), \qquad
        \text{ipo}:\; \Big(h - \frac{1}{2\beta}\Big)^2

    ``"sigmoid"`` is DPO (Rafailov et al. 2023); with :math:`\varepsilon > 0`
    it is the conservative cDPO, a binary cross-entropy of :math:`\beta h`
    against the smoothed label :math:`1 - \varepsilon`. ``"robust"`` is the
    unbiased loss under labels flipped with probability :math:`\varepsilon`
    (Chowdhury et al. 2024), ``"hinge"`` SLiC's calibration loss (Zhao et al.
    2023) and ``"ipo"`` IPO (Azar et al. 2023), where :math:`\beta` is the
    regularisation :math:`\tau`. These are TRL's ``DPOTrainer`` loss types of
    the same names; TRL too ignores ``label_smoothing`` for hinge and IPO, which
    here is an error instead.

    The log-probabilities are sums over each response's tokens (see
    :func:`dpo_rewards` for the implicit rewards and accuracy to log).

    Args:
        policy_chosen_logps: per-pair log-probabilities :math:`\log\pi(y_w)` of
            the trained policy, floating ``[...]``.
        policy_rejected_logps: :math:`\log\pi(y_l)`, the same shape.
        reference_chosen_logps: :math:`\log\pi_{\mathrm{ref}}(y_w)` of the
            frozen reference model, the same shape.
        reference_rejected_logps: :math:`\log\pi_{\mathrm{ref}}(y_l)`, the same shape.
        beta: :math:`\beta > 0`, the strength of the KL constraint (default 0.1).
        label_smoothing: :math:`\varepsilon \in [0, 0.5)`, for ``"sigmoid"``
            and ``"robust"`` only.
        kind: ``"sigmoid"`` (default), ``"ipo"``, ``"hinge"`` or ``"robust"``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per pair).
        weights: optional per-pair weights.
        where: optional boolean per-pair mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-pair values.

    Raises:
        ValueError: ``label_smoothing`` other than 0 with ``"ipo"`` or ``"hinge"``.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> chosen, rejected = jnp.array([-10.0, -12.0]), jnp.array([-14.0, -11.0])
        >>> ref_chosen, ref_rejected = jnp.array([-11.0, -12.0]), jnp.array([-13.0, -12.0])
        >>> lossjax.dpo_loss(chosen, rejected, ref_chosen, ref_rejected, reduction="none")
        Array([0.5981389, 0.7443967], dtype=float32)

    References:
        Rafailov et al., "Direct Preference Optimization", NeurIPS 2023
        (https://arxiv.org/abs/2305.18290); Azar et al., "A General Theoretical
        Paradigm to Understand Learning from Human Preferences", 2023
        (https://arxiv.org/abs/2310.12036); Zhao et al., "SLiC-HF", 2023
        (https://arxiv.org/abs/2305.10425); Chowdhury, Kini & Natarajan,
        "Provably Robust DPO", ICML 2024 (https://arxiv.org/abs/2403.00409).
    """
    _checks.check_reduction(reduction)
    if kind in ("ipo", "hinge") and not _numerics.is_static_zero(label_smoothing):
        raise ValueError(
            f"lossjax: `label_smoothing` applies to kind 'sigmoid' and 'robust' only, got "
            f"label_smoothing={label_smoothing!r} with kind={kind!r}."
        )
    (chosen, rejected, ref_chosen, ref_rejected), where = _pairs(
        (
            "policy_chosen_logps",
            "policy_rejected_logps",
            "reference_chosen_logps",
            "reference_rejected_logps",
        ),
        (
            policy_chosen_logps,
            policy_rejected_logps,
            reference_chosen_logps,
            reference_rejected_logps,
        ),
        where,
        0.0,
    )
    dtype = chosen.dtype
    half_h = (chosen - rejected) / 2.0 - (ref_chosen - ref_rejected) / 2.0
    values = _dpo(
        half_h,
        _checks.hyperparameter(beta, dtype),
        _checks.hyperparameter(label_smoothing, dtype),
        kind,
    )
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


class PreferenceRewards(NamedTuple):
    """The implicit rewards of DPO that trainers log, one entry per pair.

    Its fields:

    * ``chosen``: :math:`\\beta(\\log\\pi(y_w) - \\log\\pi_{\\mathrm{ref}}(y_w))`;
    * ``rejected``: :math:`\\beta(\\log\\pi(y_l) - \\log\\pi_{\\mathrm{ref}}(y_l))`;
    * ``margins``: ``chosen - rejected``;
    * ``accuracies``: 1.0 where ``chosen > rejected``, else 0.0.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> r = lossjax.dpo_rewards(jnp.array([-1.0]), jnp.array([-2.0]), jnp.array([-1.5]),
        ...                         jnp.array([-1.5]), beta=1.0)
        >>> r.margins, r.accuracies
        (Array([1.], dtype=float32), Array([1.], dtype=float32))
    """

    chosen: jax.Array
    rejected: jax.Array
    margins: jax.Array
    accuracies: jax.Array


def dpo_rewards(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: ArrayLike = 0.1,
) -> PreferenceRewards:
    r"""DPO's implicit rewards, their margins and the reward accuracy, per pair.

    .. math::

        r_w = \beta\,(\log\pi(y_w) - \log\pi_{\mathrm{ref}}(y_w)), \quad
        r_l = \beta\,(\log\pi(y_l) - \log\pi_{\mathrm{ref}}(y_l)), \quad
        \text{accuracy} = [r_w > r_l]

    These are TRL's logged ``rewards/chosen``, ``rewards/rejected``,
    ``rewards/margins`` and ``rewards/accuracies`` before their batch mean:
    take ``jnp.mean`` of each field (or a masked mean) to log them. They are
    ordinary differentiable functions; wrap them in ``jax.lax.stop_gradient``
    if they enter a loss. (IPO's :math:`\beta` is its :math:`\tau`; the
    rewards are defined the same way.)

    Args:
        policy_chosen_logps: :math:`\log\pi(y_w)`, floating ``[...]``.
        policy_rejected_logps: :math:`\log\pi(y_l)`, the same shape.
        reference_chosen_logps: :math:`\log\pi_{\mathrm{ref}}(y_w)`, the same shape.
        reference_rejected_logps: :math:`\log\pi_{\mathrm{ref}}(y_l)`, the same shape.
        beta: :math:`\beta > 0`, as given to :func:`dpo_loss`.

    Returns:
        A :class:`PreferenceRewards` ``(chosen, rejected, margins, accuracies)``
        of ``[...]`` arrays (float32 at least).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> chosen, rejected = jnp.array([-10.0, -12.0]), jnp.array([-14.0, -11.0])
        >>> ref_chosen, ref_rejected = jnp.array([-11.0, -12.0]), jnp.array([-13.0, -12.0])
        >>> rewards = lossjax.dpo_rewards(chosen, rejected, ref_chosen, ref_rejected)
        >>> rewards.margins, float(rewards.accuracies.mean())
        (Array([ 0.2, -0.1], dtype=float32), 0.5)
    """
    BETA.check(beta)
    (chosen, rejected, ref_chosen, ref_rejected), _ = _pairs(
        (
            "policy_chosen_logps",
            "policy_rejected_logps",
            "reference_chosen_logps",
            "reference_rejected_logps",
        ),
        (
            policy_chosen_logps,
            policy_rejected_logps,
            reference_chosen_logps,
            reference_rejected_logps,
        ),
        None,
        0.0,
    )
    beta = _checks.hyperparameter(beta, chosen.dtype)
    chosen_rewards = beta * (chosen - ref_chosen)
    rejected_rewards = beta * (rejected - ref_rejected)
    return PreferenceRewards(
        chosen_rewards,
        rejected_rewards,
        chosen_rewards - rejected_rewards,
        (chosen_rewards > rejected_rewards).astype(chosen.dtype),
    )


@register(
    task="preference",
    input_kind="log-probabilities",
    summary="SimPO: reference-free, length-normalised log-probability margin with a target gap.",
    aliases=("simpo",),
    hyperparameters=(
        real("beta", "scale of the length-normalised reward", lower=0.0, lower_open=True),
        real("gamma", "target reward margin", lower=0.0),
    ),
    recommendations=(
        Recommendation(
            "SimPO: no reference model (half the memory of DPO); the rewards are average "
            "per-token log-probabilities, which removes DPO's length bias",
            {"beta": 2.0, "gamma": 0.5},
            score=-0.25,
        ),
    ),
)
def simpo_loss(
    chosen_logps: ArrayLike,
    rejected_logps: ArrayLike,
    *,
    beta: ArrayLike = 2.0,
    gamma: ArrayLike = 0.5,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Simple preference optimisation (SimPO, Meng et al. 2024), one value per pair.

    .. math::

        l = -\log\sigma\big(\beta\,(\bar\ell_w - \bar\ell_l) - \gamma\big), \qquad
        \bar\ell = \frac{1}{|y|}\log\pi(y)

    where :math:`\bar\ell_w, \bar\ell_l` are the *length-normalised* (mean
    per-token) log-probabilities of the chosen and rejected responses. There is
    no reference model. TRL's ``CPOTrainer`` with ``loss_type="simpo"`` writes
    the same loss as :math:`\beta(\bar\ell_w - \bar\ell_l - \gamma/\beta)`
    with ``simpo_gamma`` = :math:`\gamma`.

    Args:
        chosen_logps: mean per-token log-probabilities of the chosen
            responses, floating ``[...]``.
        rejected_logps: those of the rejected responses, the same shape.
        beta: :math:`\beta > 0` (default 2.0, the paper's range is 2 to 10).
        gamma: target margin :math:`\gamma \ge 0` (default 0.5).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per pair).
        weights: optional per-pair weights.
        where: optional boolean per-pair mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-pair values.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.simpo_loss(jnp.array([-0.5, -1.0]), jnp.array([-1.0, -0.8]), reduction="none")
        Array([0.474077 , 1.2411538], dtype=float32)

    References:
        Meng, Xia & Chen, "SimPO: Simple Preference Optimization with a
        Reference-Free Reward", NeurIPS 2024 (https://arxiv.org/abs/2405.14734).
    """
    _checks.check_reduction(reduction)
    (chosen, rejected), where = _pairs(
        ("chosen_logps", "rejected_logps"), (chosen_logps, rejected_logps), where, 0.0
    )
    dtype = chosen.dtype
    beta = _checks.hyperparameter(beta, dtype)
    gamma = _checks.hyperparameter(gamma, dtype)
    values = -_log_sigmoid(beta * (chosen - rejected) - gamma)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )


def _log1m_exp(x: jax.Array) -> jax.Array:
    """``log(1 - e^x)`` for ``x <= 0``, exact at both ends (Maechler's two branches).

    Each branch sees only inputs where it is finite, so the unused one never
    puts NaN into the gradient.
    """
    near_zero = x > -jnp.log(2.0)
    a = jnp.where(near_zero, x, -1.0)
    b = jnp.where(near_zero, -1.0, x)
    return jnp.where(near_zero, jnp.log(-jnp.expm1(a)), jnp.log1p(-jnp.exp(b)))


@register(
    task="preference",
    input_kind="log-probabilities",
    summary="ORPO: supervised NLL plus a log-odds-ratio preference term, no reference model.",
    aliases=("orpo",),
    hyperparameters=(real("beta", "weight lambda of the odds-ratio term", lower=0.0),),
    recommendations=(
        Recommendation(
            "ORPO: supervised fine-tuning and preference alignment in one stage, no reference "
            "model; needs the chosen responses' NLL",
            {"beta": 0.1},
            score=-0.5,
        ),
    ),
)
def orpo_loss(
    chosen_logps: ArrayLike,
    rejected_logps: ArrayLike,
    chosen_nll: ArrayLike,
    *,
    beta: ArrayLike = 0.1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis_name: AxisName | None = None,
) -> jax.Array:
    r"""Odds-ratio preference optimisation (ORPO, Hong et al. 2024), one value per pair.

    With mean per-token log-probabilities :math:`\bar\ell = \frac{1}{|y|}\log\pi(y) \le 0`,
    the odds :math:`\operatorname{odds}(y) = e^{\bar\ell} / (1 - e^{\bar\ell})` and
    the chosen response's negative log-likelihood :math:`\mathcal{L}_{\mathrm{SFT}}`:

    .. math::

        l = \mathcal{L}_{\mathrm{SFT}} - \beta \log\sigma\!\left(
        \log\frac{\operatorname{odds}(y_w)}{\operatorname{odds}(y_l)}\right), \qquad
        \log\operatorname{odds}(y) = \bar\ell - \log(1 - e^{\bar\ell})

    :math:`\log(1 - e^{\bar\ell})` is computed in two branches (``log(-expm1)``
    near 0, ``log1p(-exp)`` below :math:`-\log 2`), exact for every
    log-probability; :math:`\bar\ell = 0` (probability 1) gives infinite odds.
    TRL's ``ORPOTrainer`` computes the same terms (``odds_ratio_loss`` with
    ``beta`` = :math:`\lambda`); it averages the NLL over all chosen tokens of
    the batch, where this loss averages the per-pair ``chosen_nll`` you pass.

    Args:
        chosen_logps: mean per-token log-probabilities of the chosen
            responses, floating ``[...]``, at most 0.
        rejected_logps: those of the rejected responses, the same shape.
        chosen_nll: the supervised negative log-likelihood of each chosen
            response (usually ``-chosen_logps``), the same shape.
        beta: the weight :math:`\lambda \ge 0` of the odds-ratio term (default 0.1).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per pair).
        weights: optional per-pair weights.
        where: optional boolean per-pair mask.
        axis_name: mapped axis name(s) for an exact global mean.

    Returns:
        The reduced loss (float32 at least), or the per-pair values.

    Raises:
        ValueError: a (concrete) log-probability above 0.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> chosen, rejected = jnp.array([-0.5, -1.0]), jnp.array([-1.0, -0.8])
        >>> lossjax.orpo_loss(chosen, rejected, -chosen, reduction="none")
        Array([0.53203  , 1.0876327], dtype=float32)

    References:
        Hong, Lee & Thorne, "ORPO: Monolithic Preference Optimization without
        Reference Model", EMNLP 2024 (https://arxiv.org/abs/2403.07691).
    """
    _checks.check_reduction(reduction)
    # Removed pairs get a harmless log-probability of -1 (log(1 - e^0) would be -inf).
    (chosen, rejected, nll), where = _pairs(
        ("chosen_logps", "rejected_logps", "chosen_nll"),
        (chosen_logps, rejected_logps, chosen_nll),
        where,
        -1.0,
    )
    for name, x in (("chosen_logps", chosen), ("rejected_logps", rejected)):
        _checks.check_values(
            f"lossjax: `{name}` must be log-probabilities (at most 0), got {{:.7g}}.",
            lambda xp, v: (v > 0, v),
            x,
            default=True,
        )
    log_odds = (chosen - _log1m_exp(chosen)) - (rejected - _log1m_exp(rejected))
    values = nll - _checks.hyperparameter(beta, chosen.dtype) * _log_sigmoid(log_odds)
    return reduce_loss(
        values, reduction=reduction, weights=weights, where=where, axis_name=axis_name
    )
