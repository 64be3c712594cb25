"""A registry of every lossjax loss with metadata, short aliases and recommendations.

``get(name, **hyperparameters)`` returns a loss with its hyperparameters bound and
checked at once (not at the first call inside a jitted training step);
``available(task)`` lists the losses; ``info(name)`` returns the metadata;
``suggest(task, ...)`` ranks the losses for a problem from that metadata.

The metadata written here is only what a signature cannot say: the task, the
kind of input, the qualitative properties and the valid range of each
hyperparameter. Defaults, and which hyperparameters exist, are read from
``inspect.signature`` of the function itself, so they cannot drift from the
code; the test suite checks that every declared range names a real keyword.
The registry is built on first use, so importing lossjax stays cheap and the
loss modules are imported in their own order.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
import numbers
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lossjax import _checks

TASKS = ("regression", "binary", "multiclass", "unsupervised", "embedding")

# Keyword arguments every loss takes (the reduction contract); not hyperparameters.
CONTRACT_ARGUMENTS = ("reduction", "weights", "where", "axis_name")

_NO_DEFAULT = inspect.Parameter.empty


# -- metadata types ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of a loss: its default and the values it accepts.

    Attributes:
        name: the keyword argument.
        default: the default, read from the function's signature.
        kind: ``"real"`` (a number, or an array checked elementwise), ``"int"``,
            ``"bool"``, ``"choice"``, ``"mask"`` (a boolean array), ``"axes"``
            (an int or a tuple of ints), or ``"any"`` (not checked here).
        lower, upper: bounds of a ``"real"`` or ``"int"`` value (``None``: unbounded).
        lower_open, upper_open: whether the bound itself is excluded.
        choices: the accepted values of a ``"choice"``.
        optional: whether ``None`` is accepted.
        description: one line.

    Example:
        >>> import lossjax
        >>> gamma = lossjax.info("focal").hyperparameter("gamma")
        >>> gamma.default, gamma.valid
        (2.0, '>= 0')
    """

    name: str
    default: Any
    kind: str
    lower: float | None = None
    upper: float | None = None
    lower_open: bool = False
    upper_open: bool = False
    choices: tuple[Any, ...] = ()
    optional: bool = False
    description: str = ""

    @property
    def valid(self) -> str:
        """The accepted values in words, e.g. ``"> 0"``, ``"[0, 1]"``, ``"None or int"``."""
        if self.kind == "any":
            return "see the docstring"
        if self.kind == "bool":
            text = "True/False"
        elif self.kind == "mask":
            text = "boolean array"
        elif self.kind == "axes":
            text = "int or tuple of ints"
        elif self.kind == "choice":
            text = " | ".join(repr(c) for c in self.choices)
        elif self.lower is not None and self.upper is not None:
            lo = "(" if self.lower_open else "["
            hi = ")" if self.upper_open else "]"
            text = f"{lo}{_number(self.lower)}, {_number(self.upper)}{hi}"
        elif self.lower is not None:
            text = f"{'>' if self.lower_open else '>='} {_number(self.lower)}"
        elif self.upper is not None:
            text = f"{'<' if self.upper_open else '<='} {_number(self.upper)}"
        else:
            text = "int" if self.kind == "int" else "real"
        if self.kind == "int" and (self.lower is not None or self.upper is not None):
            text = f"int {text}"
        return f"None or {text}" if self.optional else text

    def check(self, value: Any) -> None:
        """Raises TypeError for a value of the wrong type, ValueError for one out of range.

        Traced arrays (a hyperparameter swept with ``jax.vmap``) are not
        inspected; the loss accepts them as they are.
        """
        if self.kind == "any":
            return
        if value is None:
            if not self.optional:
                raise ValueError(
                    f"lossjax: `{self.name}` cannot be None; valid values: {self.valid}."
                )
            return
        if self.kind == "bool":
            if not isinstance(value, bool | np.bool_):
                raise TypeError(f"lossjax: `{self.name}` must be a Python bool, got {value!r}.")
        elif self.kind == "mask":
            dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
            if dtype != np.bool_:
                raise TypeError(f"lossjax: `{self.name}` must be a boolean array, got {value!r}.")
        elif self.kind == "axes":
            axes = value if isinstance(value, tuple) else (value,)
            if not axes or any(
                isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes
            ):
                raise TypeError(
                    f"lossjax: `{self.name}` must be an int or a tuple of ints, got {value!r}."
                )
        elif self.kind == "choice":
            _checks.check_choice(self.name, value, self.choices)
        elif self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"lossjax: `{self.name}` must be a Python int, got {value!r}.")
            self._check_range(value)
        else:
            self._check_range(value)

    def _check_range(self, value: Any) -> None:
        _checks.check_hyperparameter(
            self.name,
            value,
            lower=self.lower,
            upper=self.upper,
            lower_open=self.lower_open,
            upper_open=self.upper_open,
        )


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclasses.dataclass(frozen=True)
class LossInfo:
    """What the registry knows about one loss.

    Attributes:
        name: the public name, ``lossjax.<name>``.
        function: the loss function itself.
        task: one of ``"regression"``, ``"binary"``, ``"multiclass"``,
            ``"unsupervised"``, ``"embedding"``.
        input_kind: what the first argument holds: ``"predictions"``,
            ``"logits"``, ``"probabilities"``, ``"scores"`` (real-valued margins),
            ``"embeddings"``, ``"points"`` or ``"hidden states"``. For losses
            with ``from_logits`` it follows that flag's default.
        summary: one line.
        aliases: short names accepted by :func:`get`.
        hyperparameters: the hyperparameters, with defaults and valid ranges.
        robust_to_outliers: large errors have a bounded gradient.
        calibrated_probabilities: a proper scoring rule: trained outputs estimate
            the true class probabilities.
        margin_based: the loss is zero beyond a margin.
        handles_imbalance: has an option made for class imbalance (class or
            positive weights, focal modulation).
        large_vocab: built for very many classes (memory independent of the
            number of classes).

    Example:
        >>> import lossjax
        >>> entry = lossjax.info("mae")
        >>> entry.name, entry.task, entry.input_kind, entry.robust_to_outliers
        ('mean_absolute_error', 'regression', 'predictions', True)
    """

    name: str
    function: Callable[..., Any] = dataclasses.field(repr=False)
    task: str
    input_kind: str
    summary: str
    aliases: tuple[str, ...] = ()
    hyperparameters: tuple[Hyperparameter, ...] = ()
    robust_to_outliers: bool = False
    calibrated_probabilities: bool = False
    margin_based: bool = False
    handles_imbalance: bool = False
    large_vocab: bool = False

    @property
    def defaults(self) -> dict[str, Any]:
        """The hyperparameters' defaults, ``{name: default}``."""
        return {h.name: h.default for h in self.hyperparameters}

    def hyperparameter(self, name: str) -> Hyperparameter:
        """The :class:`Hyperparameter` called ``name``."""
        for h in self.hyperparameters:
            if h.name == name:
                return h
        raise KeyError(name)

    def bind(self, **hyperparameters: Any) -> BoundLoss:
        """Same as ``lossjax.get(self.name, **hyperparameters)``."""
        return get(self.name, **hyperparameters)


class BoundLoss:
    """A loss with hyperparameters bound: call it like the loss itself.

    Like :func:`functools.partial`, but with a readable ``repr``, the loss's
    docstring and a signature showing the bound values as defaults, and the
    registry's metadata as ``.info``. Keyword arguments given at call time
    override the bound ones.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> loss = lossjax.get("bce", label_smoothing=0.1)
        >>> loss.info.task, dict(loss.hyperparameters)
        ('binary', {'label_smoothing': 0.1})
        >>> loss(jnp.array([0.0]), jnp.array([1.0]), reduction="none")
        Array([0.6931472], dtype=float32)
    """

    def __init__(self, info: LossInfo, hyperparameters: Mapping[str, Any]):
        self.info = info
        self.func = info.function
        self.hyperparameters = types.MappingProxyType(dict(hyperparameters))
        self.__name__ = info.function.__name__
        self.__qualname__ = info.function.__qualname__
        self.__module__ = "lossjax"
        self.__doc__ = info.function.__doc__
        self.__wrapped__ = info.function
        signature = inspect.signature(info.function)
        self.__signature__ = signature.replace(
            parameters=[
                p.replace(default=self.hyperparameters[p.name])
                if p.name in self.hyperparameters
                else p
                for p in signature.parameters.values()
            ]
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **{**self.hyperparameters, **kwargs})

    def __repr__(self) -> str:
        bound = "".join(f", {k}={_short_repr(v)}" for k, v in self.hyperparameters.items())
        return f"lossjax.get({self.info.name!r}{bound})"


def _short_repr(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0 and int(np.prod(shape)) > 8:
        return f"<{getattr(value, 'dtype', '')}{list(shape)}>"
    if isinstance(value, np.ndarray | np.generic) or shape is not None:
        return repr(np.asarray(value).tolist())
    return repr(value)


class UnknownLossError(KeyError, ValueError):
    """No loss by that name. A KeyError (a failed lookup) and a ValueError (a bad argument)."""

    def __str__(self) -> str:  # KeyError would show the message with quotes.
        return str(self.args[0])


# -- the table -----------------------------------------------------------------------------


def _real(name, description, **bounds):
    return dict(name=name, kind="real", description=description, **bounds)


def _int(name, description, **bounds):
    return dict(name=name, kind="int", description=description, **bounds)


def _bool(name, description):
    return dict(name=name, kind="bool", description=description)


def _choice(name, description, choices):
    return dict(name=name, kind="choice", description=description, choices=tuple(choices))


_FROM_LOGITS = _bool("from_logits", "inputs are logits (True) or probabilities (False)")
_SMOOTHING = _real(
    "label_smoothing", "mix the targets with the uniform distribution", lower=0.0, upper=1.0
)
_CLASS_WEIGHTS = _real(
    "class_weights", "one non-negative weight per class ([K] array)", lower=0.0, optional=True
)
_IGNORE_INDEX = _int("ignore_index", "label value whose examples are left out", optional=True)
_AXIS = _int("axis", "the class axis")
_CLASS_MASK = dict(
    name="class_mask",
    kind="mask",
    optional=True,
    description="False removes a class from the softmax (broadcast to the logits)",
)
_CLASS_AXES = dict(name="axis", kind="axes", description="the class axis, or a tuple of them")

# Declaration order is the order of `available()` and the tie-break of `suggest()`.
# (module, function, aliases, task, input_kind, summary, flags, hyperparameter ranges)
_TABLE: tuple[dict[str, Any], ...] = (
    dict(
        module="lossjax._regression",
        name="mean_squared_error",
        aliases=("mse", "l2", "squared_error"),
        task="regression",
        input_kind="predictions",
        summary="Squared error: fits the conditional mean; the default, but outliers dominate it.",
    ),
    dict(
        module="lossjax._regression",
        name="huber_loss",
        aliases=("huber",),
        task="regression",
        input_kind="predictions",
        summary="Quadratic below delta, linear above: MSE near zero, MAE's robustness for gross errors.",
        robust_to_outliers=True,
        ranges=(
            _real("delta", "error size where quadratic turns linear", lower=0.0, lower_open=True),
        ),
    ),
    dict(
        module="lossjax._regression",
        name="mean_absolute_error",
        aliases=("mae", "l1", "absolute_error"),
        task="regression",
        input_kind="predictions",
        summary="Absolute error: fits the conditional median; the most robust, constant-size gradient.",
        robust_to_outliers=True,
    ),
    dict(
        module="lossjax._regression",
        name="log_cosh_loss",
        aliases=("logcosh", "log_cosh"),
        task="regression",
        input_kind="predictions",
        summary="log cosh of the error: a smooth Huber with delta about 1, twice differentiable.",
        robust_to_outliers=True,
    ),
    dict(
        module="lossjax._regression",
        name="smooth_l1_loss",
        aliases=("smooth_l1", "smoothl1"),
        task="regression",
        input_kind="predictions",
        summary="PyTorch's smooth L1: Huber divided by beta, so the linear part has slope 1.",
        robust_to_outliers=True,
        ranges=(_real("beta", "error size where quadratic turns linear (0: MAE)", lower=0.0),),
    ),
    dict(
        module="lossjax._regression",
        name="mean_squared_logarithmic_error",
        aliases=("msle", "squared_log_error"),
        task="regression",
        input_kind="predictions",
        summary="Squared error of log(1 + y): relative errors of non-negative targets (counts, prices).",
    ),
    dict(
        module="lossjax._regression",
        name="mean_absolute_percentage_error",
        aliases=("mape", "percentage_error"),
        task="regression",
        input_kind="predictions",
        summary="|error| / |target| as a fraction (Keras: x100); for targets away from zero.",
        ranges=(
            _real("epsilon", "floor of |target| in the denominator", lower=0.0, lower_open=True),
        ),
    ),
    dict(
        module="lossjax._regression",
        name="quantile_loss",
        aliases=("quantile", "pinball", "pinball_loss"),
        task="regression",
        input_kind="predictions",
        summary="Pinball loss: fits a conditional quantile (one or several levels at once).",
        robust_to_outliers=True,
        ranges=(
            _real(
                "quantile",
                "level(s) of the fitted quantile, scalar or [Q]",
                lower=0.0,
                upper=1.0,
                lower_open=True,
                upper_open=True,
            ),
        ),
    ),
    dict(
        module="lossjax._regression",
        name="cosine_distance",
        aliases=("cosine_dist",),
        task="regression",
        input_kind="predictions",
        summary="1 - cosine similarity of predicted and target vectors: direction, not length.",
        ranges=(
            _int("axis", "the vector axis"),
            _real("epsilon", "floor of the squared norms (optax's convention)", lower=0.0),
        ),
    ),
    dict(
        module="lossjax._probabilistic",
        name="poisson_loss",
        aliases=("poisson", "poisson_nll"),
        task="regression",
        input_kind="predictions",
        summary="Poisson negative log-likelihood of counts, from log-rates (default) or rates.",
        ranges=(
            _bool("log_input", "predictions are log-rates (True) or rates (False)"),
            _bool("full", "add the Stirling term of log(y!) where y > 1"),
            _real(
                "epsilon",
                "offset inside log(rate) when log_input=False",
                lower=0.0,
                lower_open=True,
            ),
        ),
    ),
    dict(
        module="lossjax._probabilistic",
        name="gaussian_nll_loss",
        aliases=("gaussian_nll", "heteroscedastic"),
        task="regression",
        input_kind="predictions",
        summary="Gaussian negative log-likelihood with predicted means and variances.",
        ranges=(
            _bool("full", "add the constant log(2 pi) / 2"),
            _real("epsilon", "floor of the variances", lower=0.0, lower_open=True),
        ),
    ),
    dict(
        module="lossjax._probabilistic",
        name="tweedie_deviance",
        aliases=("tweedie",),
        task="regression",
        input_kind="predictions",
        summary="Tweedie deviance of predicted means: normal, Poisson, compound Poisson-Gamma, Gamma.",
        ranges=(
            _real(
                "power",
                "static Tweedie power: 0 normal, 1 Poisson, (1, 2) compound, 2 Gamma; "
                "not in (0, 1)",
            ),
        ),
    ),
    dict(
        module="lossjax._classification",
        name="binary_cross_entropy",
        aliases=("bce", "log_loss", "logistic"),
        task="binary",
        input_kind="from_logits",
        summary="Bernoulli log loss: a proper scoring rule, so sigmoid(logits) are calibrated.",
        calibrated_probabilities=True,
        handles_imbalance=True,
        ranges=(
            _FROM_LOGITS,
            _SMOOTHING,
            _real(
                "pos_weight",
                "weight of the positive term (n_neg / n_pos for imbalance)",
                lower=0.0,
                optional=True,
            ),
        ),
    ),
    dict(
        module="lossjax._classification",
        name="focal_loss",
        aliases=("focal", "binary_focal", "sigmoid_focal"),
        task="binary",
        input_kind="from_logits",
        summary="Cross-entropy scaled by (1 - p_t)^gamma: easy examples count less; for imbalance.",
        handles_imbalance=True,
        ranges=(
            _real("gamma", "focusing strength (0 gives cross-entropy)", lower=0.0),
            _real("alpha", "weight of the positive class", lower=0.0, upper=1.0, optional=True),
            _FROM_LOGITS,
            _SMOOTHING,
        ),
    ),
    dict(
        module="lossjax._classification",
        name="hinge_loss",
        aliases=("hinge", "svm"),
        task="binary",
        input_kind="scores",
        summary="Max-margin (SVM) loss: zero beyond the margin; scores are not probabilities.",
        margin_based=True,
        ranges=(_real("margin", "required margin y * score", lower=0.0),),
    ),
    dict(
        module="lossjax._multiclass",
        name="sparse_categorical_cross_entropy",
        aliases=("sparse_cce", "scce", "sparse_cross_entropy", "nll"),
        task="multiclass",
        input_kind="from_logits",
        summary="Softmax cross-entropy on integer labels; calibrated, with class weights and ignore_index.",
        calibrated_probabilities=True,
        handles_imbalance=True,
        ranges=(_FROM_LOGITS, _SMOOTHING, _CLASS_WEIGHTS, _CLASS_MASK, _IGNORE_INDEX, _CLASS_AXES),
    ),
    dict(
        module="lossjax._multiclass",
        name="categorical_cross_entropy",
        aliases=("cce", "cross_entropy", "softmax_cross_entropy"),
        task="multiclass",
        input_kind="from_logits",
        summary="Softmax cross-entropy on one-hot or soft target distributions, with label smoothing.",
        calibrated_probabilities=True,
        handles_imbalance=True,
        ranges=(_FROM_LOGITS, _SMOOTHING, _CLASS_WEIGHTS, _CLASS_MASK, _AXIS),
    ),
    dict(
        module="lossjax._multiclass",
        name="categorical_focal_loss",
        aliases=("categorical_focal", "multiclass_focal", "softmax_focal"),
        task="multiclass",
        input_kind="from_logits",
        summary="Softmax focal loss on labels or distributions: down-weights easy examples.",
        handles_imbalance=True,
        ranges=(
            _real("gamma", "focusing strength (0 gives cross-entropy)", lower=0.0),
            _real("alpha", "balance factor, scalar or [K]", lower=0.0, upper=1.0, optional=True),
            _FROM_LOGITS,
            _SMOOTHING,
            _CLASS_MASK,
            _IGNORE_INDEX,
            _AXIS,
        ),
    ),
    dict(
        module="lossjax._multiclass",
        name="poly_cross_entropy",
        aliases=("poly1", "poly_loss", "poly1_cross_entropy"),
        task="multiclass",
        input_kind="logits",
        summary="Poly-1: cross-entropy + epsilon (1 - p_t); epsilon tunes the push on confident classes.",
        ranges=(
            _real("epsilon", "coefficient of (1 - p_t); 0 gives cross-entropy"),
            _SMOOTHING,
            _AXIS,
        ),
    ),
    dict(
        module="lossjax._multiclass",
        name="generalized_cross_entropy",
        aliases=("gce", "generalized_ce"),
        task="multiclass",
        input_kind="logits",
        summary="(1 - p_y^q) / q on integer labels: robust to noisy labels (q -> 0: cross-entropy).",
        ranges=(
            _real(
                "q", "exponent: near 0 cross-entropy, 1 MAE", lower=0.0, upper=1.0, lower_open=True
            ),
            _AXIS,
        ),
    ),
    dict(
        module="lossjax._linear_cross_entropy",
        name="linear_cross_entropy",
        aliases=("fused_ce", "fused_cross_entropy", "linear_ce", "lce"),
        task="multiclass",
        input_kind="hidden states",
        summary="Cross-entropy of hidden @ weight in vocabulary blocks: never builds the [N, V] logits.",
        calibrated_probabilities=True,
        large_vocab=True,
        ranges=(
            _int("block_size", "vocabulary columns per block", lower=1),
            _IGNORE_INDEX,
            _SMOOTHING,
            _real("z_loss", "coefficient of the log-partition penalty lse^2", lower=0.0),
            _real(
                "logit_soft_cap",
                "c in c * tanh(logits / c)",
                lower=0.0,
                lower_open=True,
                optional=True,
            ),
        ),
    ),
    dict(
        module="lossjax._multiclass",
        name="kl_divergence",
        aliases=("kl", "kld", "kl_div"),
        task="multiclass",
        input_kind="from_logits",
        summary="KL(targets || predictions) for target distributions, e.g. knowledge distillation.",
        ranges=(
            _FROM_LOGITS,
            _bool("log_targets", "targets are given as log-probabilities"),
            _CLASS_MASK,
            _AXIS,
        ),
    ),
    dict(
        module="lossjax._multiclass",
        name="convex_kl_divergence",
        aliases=("generalized_kl_divergence", "generalized_kl", "convex_kl"),
        task="multiclass",
        input_kind="predictions",
        summary="Generalized KL for unnormalised measures from log-predictions: sum t log(t/p) - t + p.",
        ranges=(_AXIS,),
    ),
    dict(
        module="lossjax._unsupervised",
        name="kmeans_loss",
        aliases=("kmeans", "k_means", "inertia"),
        task="unsupervised",
        input_kind="points",
        summary="Squared distance of each point to its nearest centroid (k-means inertia).",
    ),
    dict(
        module="lossjax._unsupervised",
        name="reconstruction_loss",
        aliases=("reconstruction", "autoencoder"),
        task="unsupervised",
        input_kind="predictions",
        summary="Per-example reconstruction error of an autoencoder, averaged over features.",
        ranges=(_choice("kind", "error per feature", ("mse", "mae", "bce")),),
    ),
    dict(
        module="lossjax._unsupervised",
        name="contrastive_loss",
        aliases=("contrastive", "siamese"),
        task="embedding",
        input_kind="embeddings",
        summary="Pulls similar pairs together, pushes dissimilar pairs beyond a margin (siamese nets).",
        margin_based=True,
        ranges=(_real("margin", "distance dissimilar pairs are pushed to", lower=0.0),),
    ),
    dict(
        module="lossjax._unsupervised",
        name="info_nce_loss",
        aliases=("infonce", "info_nce", "ntxent", "nt_xent", "clip"),
        task="embedding",
        input_kind="embeddings",
        summary="Cross-entropy over in-batch negatives of scaled cosine similarities (NT-Xent, CLIP).",
        ranges=(
            _real(
                "temperature", "softmax temperature of the similarities", lower=0.0, lower_open=True
            ),
            _bool("symmetric", "average both directions (CLIP)"),
            _bool("normalize", "L2-normalise the embeddings first (cosine similarity)"),
        ),
    ),
    # -- margin losses (lossjax/_margin.py) --
    dict(
        module="lossjax._margin",
        name="squared_hinge_loss",
        aliases=("squared_hinge", "l2_hinge"),
        task="binary",
        input_kind="scores",
        summary="Squared max-margin loss max(0, m - y * score)^2: differentiable, penalises violations more.",
        margin_based=True,
        ranges=(_real("margin", "required margin y * score", lower=0.0),),
    ),
    dict(
        module="lossjax._margin",
        name="perceptron_loss",
        aliases=("perceptron",),
        task="binary",
        input_kind="scores",
        summary="max(0, -y * score): zero once the sign is right; the perceptron's update rule.",
        margin_based=True,
    ),
    dict(
        module="lossjax._margin",
        name="sparsemax_loss",
        aliases=("sparsemax", "binary_sparsemax"),
        task="binary",
        input_kind="logits",
        summary="Fenchel-Young loss of the sparse sigmoid: zero once y * logit >= 1, linear far from it.",
        margin_based=True,
    ),
    dict(
        module="lossjax._margin",
        name="multiclass_hinge_loss",
        aliases=("multiclass_hinge", "categorical_hinge", "multi_margin"),
        task="multiclass",
        input_kind="scores",
        summary="Multiclass SVM loss (Crammer-Singer or Weston-Watkins): zero beyond the margin.",
        margin_based=True,
        handles_imbalance=True,
        ranges=(
            _real("margin", "required margin s_y - s_k", lower=0.0),
            _choice(
                "kind",
                "most violating class or sum over classes (PyTorch MultiMarginLoss)",
                ("crammer_singer", "weston_watkins"),
            ),
            _choice("p", "power of each hinge term (2: squared hinge)", (1, 2)),
            _CLASS_WEIGHTS,
        ),
    ),
    dict(
        module="lossjax._margin",
        name="multiclass_perceptron_loss",
        aliases=("multiclass_perceptron",),
        task="multiclass",
        input_kind="scores",
        summary="max_k s_k - s_y: zero once the label scores highest; the multiclass perceptron.",
        margin_based=True,
    ),
    dict(
        module="lossjax._margin",
        name="multiclass_sparsemax_loss",
        aliases=("multiclass_sparsemax",),
        task="multiclass",
        input_kind="logits",
        summary="Fenchel-Young loss of sparsemax: sparse probabilities, zero beyond a margin of 1.",
        margin_based=True,
    ),
)


def _normalize_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def _build_info(row: dict[str, Any]) -> LossInfo:
    row = dict(row)
    module = importlib.import_module(row.pop("module"))
    function = getattr(module, row["name"])
    parameters = inspect.signature(function).parameters
    hyperparameters = []
    for spec in row.pop("ranges", ()):
        parameter = parameters.get(spec["name"])
        if parameter is None or parameter.kind != inspect.Parameter.KEYWORD_ONLY:
            raise RuntimeError(
                f"lossjax registry: {row['name']} has no keyword-only argument {spec['name']!r}."
            )
        hyperparameters.append(Hyperparameter(default=parameter.default, **spec))
    # A keyword the table does not describe yet is still accepted by `get` (unchecked);
    # tests/test_registry.py fails until its range is declared here.
    declared = {h.name for h in hyperparameters}
    for parameter in parameters.values():
        if (
            parameter.kind == inspect.Parameter.KEYWORD_ONLY
            and parameter.name not in declared
            and parameter.name not in CONTRACT_ARGUMENTS
        ):
            hyperparameters.append(
                Hyperparameter(name=parameter.name, default=parameter.default, kind="any")
            )
    if row["input_kind"] == "from_logits":
        from_logits = parameters["from_logits"].default
        row["input_kind"] = "logits" if from_logits else "probabilities"
    return LossInfo(function=function, hyperparameters=tuple(hyperparameters), **row)


@functools.cache
def _registry() -> tuple[dict[str, LossInfo], dict[str, str]]:
    entries = {row["name"]: _build_info(row) for row in _TABLE}
    aliases: dict[str, str] = {}
    for info in entries.values():
        for key in (info.name, *info.aliases):
            if key in aliases:
                raise RuntimeError(f"lossjax registry: {key!r} is registered twice.")
            aliases[key] = info.name
    return entries, aliases


def info(name: str | Callable[..., Any]) -> LossInfo:
    """The registry's metadata for a loss, by name, alias or the function itself.

    Args:
        name: a loss name (``"huber_loss"``), an alias (``"huber"``; case, ``-``
            and spaces do not matter), or the loss function.

    Returns:
        The loss's :class:`LossInfo`.

    Example:
        >>> import lossjax
        >>> lossjax.info("huber").hyperparameters[0].valid
        '> 0'

    Raises:
        UnknownLossError (a KeyError and a ValueError): no loss of that name;
            the message lists the closest names.
    """
    entries, aliases = _registry()
    if callable(name) and not isinstance(name, str):
        for entry in entries.values():
            if entry.function is name or entry.function is getattr(name, "func", None):
                return entry
        raise UnknownLossError(f"lossjax: {name!r} is not a registered loss.")
    if not isinstance(name, str):
        raise TypeError(f"lossjax: a loss name must be a string, got {type(name).__name__}.")
    key = _normalize_name(name)
    if key in aliases:
        return entries[aliases[key]]
    close = difflib.get_close_matches(key, list(aliases), n=3, cutoff=0.5)
    # An alias that is a prefix or substring of the query (or vice versa) is a good guess too.
    close += [a for a in aliases if len(key) >= 3 and key in a and a not in close][:2]
    hint = f" Did you mean {_or_list(close)}?" if close else ""
    raise UnknownLossError(
        f"lossjax: unknown loss {name!r}.{hint} "
        f"Available: {', '.join(entries)} (see lossjax.available())."
    )


def _or_list(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def get(name: str | Callable[..., Any], **hyperparameters: Any) -> BoundLoss:
    """A loss by name or alias, with hyperparameters bound and checked now.

    Args:
        name: a loss name (``"huber_loss"``), an alias (``"huber"``, ``"bce"``,
            ``"scce"``...; case, ``-`` and spaces do not matter) or the function.
        **hyperparameters: keyword arguments to bind: the loss's hyperparameters,
            and also ``reduction`` or ``axis_name`` if wanted.

    Returns:
        A :class:`BoundLoss`: call it with the data arguments like the loss.

    Raises:
        UnknownLossError: unknown name (a KeyError and a ValueError; the message
            suggests the closest names).
        TypeError: a keyword the loss does not take (the message lists the valid
            ones), or a value of the wrong type.
        ValueError: a value out of its range.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> loss = lossjax.get("huber", delta=0.5)
        >>> loss
        lossjax.get('huber_loss', delta=0.5)
        >>> loss(jnp.array([0.0, 2.0]), jnp.zeros(2))
        Array(0.4375, dtype=float32)
    """
    entry = info(name)
    known = {h.name: h for h in entry.hyperparameters}
    for key, value in hyperparameters.items():
        if key in known:
            known[key].check(value)
        elif key == "reduction":
            _checks.check_reduction(value)
        elif key not in CONTRACT_ARGUMENTS:
            valid = ", ".join([*known, *CONTRACT_ARGUMENTS])
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"lossjax: {entry.name} got an unknown hyperparameter {key!r}.{hint} "
                f"Valid keywords: {valid}."
            )
    return BoundLoss(entry, hyperparameters)


def available(task: str | None = None) -> list[str]:
    """The names of the registered losses, all or those of one task.

    Args:
        task: ``None`` (all), or one of ``"regression"``, ``"binary"``,
            ``"multiclass"``, ``"unsupervised"``, ``"embedding"``.

    Returns:
        A list of names (``lossjax.<name>`` is the function), in registry order:
        by task, the usual default of each task first.

    Example:
        >>> import lossjax
        >>> lossjax.available("regression")[:4]
        ['mean_squared_error', 'huber_loss', 'mean_absolute_error', 'log_cosh_loss']
    """
    if task is not None:
        _checks.check_choice("task", task, TASKS)
    entries, _ = _registry()
    return [n for n, e in entries.items() if task is None or e.task == task]


# -- recommendations -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """One recommendation of :func:`suggest`.

    Attributes:
        name: the loss's registry name.
        hyperparameters: suggested keyword arguments for :func:`get`.
        reason: why, in one line.
        requires: hyperparameters to set from your data, which the
            suggestion cannot know (``pos_weight``, ``class_weights``); the
            reason says how.

    Example:
        >>> import lossjax
        >>> best = lossjax.suggest("binary", imbalanced=0.1)[0]
        >>> best.name, best.hyperparameters
        ('binary_cross_entropy', {'pos_weight': 9.0})
        >>> best.get()
        lossjax.get('binary_cross_entropy', pos_weight=9.0)
    """

    name: str
    hyperparameters: dict[str, Any] = dataclasses.field(hash=False)
    reason: str
    requires: tuple[str, ...] = ()

    def get(self, **hyperparameters: Any) -> BoundLoss:
        """The suggested loss with the suggested hyperparameters (and these) bound."""
        missing = [k for k in self.requires if k not in hyperparameters]
        if missing:
            raise TypeError(
                f"lossjax: this suggestion needs {', '.join(missing)} from your data: "
                f"{self.reason}."
            )
        return get(self.name, **{**self.hyperparameters, **hyperparameters})

    def __str__(self) -> str:
        args = [f"{k}={v!r}" for k, v in self.hyperparameters.items()]
        args += [f"{k}=..." for k in self.requires]
        return f"{self.name}({', '.join(args)})"


# Which flags matter for which task; any other combination is refused so that a
# flag is never silently ignored.
_TASK_FLAGS = {
    "regression": ("outliers", "count_data", "heteroscedastic", "intervals", "skewed_positive"),
    "binary": ("imbalanced", "calibrated", "margin"),
    "multiclass": ("imbalanced", "calibrated", "large_vocab", "margin"),
    "unsupervised": ("outliers",),
    "embedding": (),
}


def suggest(
    task: str,
    *,
    outliers: bool = False,
    imbalanced: bool | float = False,
    calibrated: bool = False,
    large_vocab: bool = False,
    count_data: bool = False,
    heteroscedastic: bool = False,
    intervals: bool = False,
    skewed_positive: bool = False,
    margin: bool = False,
) -> list[Suggestion]:
    """Ranked losses for a problem, best first, each with a one-line reason.

    Every loss of the task is ranked by the registry's metadata: with
    ``outliers``, losses with ``robust_to_outliers`` first; with ``calibrated``,
    losses with ``calibrated_probabilities`` first and margin-based losses
    last; with ``imbalanced``, the imbalance options (focal modulation, positive
    or class weights) first, unless calibration matters more; with
    ``large_vocab``, the fused cross-entropy first. The probabilistic
    regression questions (``count_data``, ``heteroscedastic``, ``intervals``,
    ``skewed_positive``) and ``margin`` put the losses that answer them first.
    Ties keep the registry order, whose first entry is the usual default (MSE,
    cross-entropy).

    Args:
        task: ``"regression"``, ``"binary"``, ``"multiclass"``,
            ``"unsupervised"`` or ``"embedding"``.
        outliers: the targets contain gross errors (regression, reconstruction).
        imbalanced: one class is rare (binary, multiclass). For binary tasks, a
            number in ``(0, 1)`` is read as the positive rate and sets a
            suggested ``pos_weight = (1 - rate) / rate``.
        calibrated: predicted probabilities must be calibrated (binary, multiclass).
        large_vocab: very many classes, e.g. a language model's vocabulary.
        count_data: the targets are counts (regression): Poisson log-likelihood
            of predicted log-rates first, then the Tweedie deviance with power 1.
        heteroscedastic: the noise level varies from example to example
            (regression): the Gaussian negative log-likelihood first; the model
            must then also predict a variance per target.
        intervals: quantiles or prediction intervals are wanted (regression):
            the pinball loss at levels ``[0.1, 0.5, 0.9]`` first (the median and
            an 80% interval).
        skewed_positive: positive, right-skewed targets such as prices
            (regression): the squared log error and the Gamma deviance (Tweedie
            power 2) first, then the percentage error for relative errors.
        margin: a max-margin classifier is wanted, scores rather than
            probabilities (binary, multiclass): the hinge losses first, then
            sparsemax (sparse probabilities). Contradicts ``calibrated``.

    Returns:
        A list of :class:`Suggestion` (``name``, ``hyperparameters``, ``reason``);
        ``suggestion.get()`` gives the bound loss.

    Raises:
        ValueError: unknown task, a flag that does not apply to the task, or
            ``margin`` together with ``calibrated``.

    Example:
        >>> import lossjax
        >>> [str(s) for s in lossjax.suggest("regression", outliers=True)][:2]
        ['huber_loss(delta=1.0)', 'mean_absolute_error()']
        >>> [str(s) for s in lossjax.suggest("regression", count_data=True)][:2]
        ['poisson_loss(log_input=True)', 'tweedie_deviance(power=1.0)']
    """
    _checks.check_choice("task", task, TASKS)
    flags = {
        "outliers": outliers,
        "imbalanced": imbalanced,
        "calibrated": calibrated,
        "large_vocab": large_vocab,
        "count_data": count_data,
        "heteroscedastic": heteroscedastic,
        "intervals": intervals,
        "skewed_positive": skewed_positive,
        "margin": margin,
    }
    for flag, value in flags.items():
        if value is not False and value is not None and flag not in _TASK_FLAGS[task]:
            accepted = ", ".join(_TASK_FLAGS[task]) or "none"
            raise ValueError(
                f"lossjax: `{flag}` does not apply to task {task!r} (flags it takes: {accepted})."
            )
    if margin and calibrated:
        raise ValueError(
            "lossjax: `margin` and `calibrated` contradict each other: margin-based losses "
            "give scores, not calibrated probabilities. Drop one: calibrated=True for "
            "probabilities (cross-entropy), margin=True for a max-margin classifier (hinge)."
        )
    rate = None
    if not isinstance(imbalanced, bool) and imbalanced is not None:
        _checks.check_hyperparameter(
            "imbalanced", imbalanced, lower=0.0, upper=1.0, lower_open=True, upper_open=True
        )
        rate = float(imbalanced)
    imbalanced = bool(imbalanced)

    entries, _ = _registry()
    candidates: list[tuple[float, int, Suggestion]] = []

    def add(
        entry: LossInfo,
        hp: dict[str, Any],
        reason: str,
        *,
        score: float = 0.0,
        requires: tuple[str, ...] = (),
        **props,
    ):
        props = {
            "robust": entry.robust_to_outliers,
            "calibrated": entry.calibrated_probabilities,
            "imbalance": False,
            **props,
        }
        if outliers:
            score += 2.0 if props["robust"] else -2.0
        if calibrated:
            # Calibration is a requirement; imbalance can also be met by the threshold.
            score += 2.0 if props["calibrated"] else -1.0
            score -= 1.0 if entry.margin_based else 0.0
        if imbalanced and props["imbalance"]:
            score += 1.0
        if large_vocab and entry.large_vocab:
            score += 3.0
        for key, value in hp.items():
            entry.hyperparameter(key).check(value)
        order = len(candidates)
        candidates.append((score, order, Suggestion(entry.name, hp, reason, requires)))

    for entry in entries.values():
        if entry.task != task:
            continue
        _add_candidates(entry, add, flags | {"imbalanced": imbalanced}, rate)
    candidates.sort(key=lambda c: (-c[0], c[1]))
    return [c[2] for c in candidates]


# Score of a loss that answers a question of `suggest` (count data, heteroscedastic noise,
# intervals, skewed positive targets, margin): above the +-2 of `outliers`, so that the
# answer stays first when the question comes with outliers; lower scores rank alternatives.
_ANSWER = 5.0


def _add_candidates(entry: LossInfo, add, flags: dict[str, Any], rate: float | None) -> None:
    """The variants of one loss worth suggesting, with their reasons."""
    name, imbalanced, calibrated = entry.name, flags["imbalanced"], flags["calibrated"]
    outliers, large_vocab = flags["outliers"], flags["large_vocab"]
    count_data, heteroscedastic = flags["count_data"], flags["heteroscedastic"]
    intervals, skewed_positive, margin = (
        flags["intervals"],
        flags["skewed_positive"],
        flags["margin"],
    )
    if name == "mean_squared_error":
        why = (
            "not robust: each gross outlier pulls the fit with a gradient proportional to its size"
            if outliers
            else "the default: efficient for Gaussian-like noise, smooth, fits the conditional mean"
        )
        # With outliers, the least robust of all (the other squared errors are of logs,
        # or scaled by a predicted variance): last.
        add(entry, {}, why, score=-1.0 if outliers else 0.0)
    elif name == "huber_loss":
        add(
            entry,
            {"delta": 1.0},
            "quadratic near zero and linear for gross errors: robust yet "
            "efficient; set delta to about the typical error of clean data",
        )
    elif name == "mean_absolute_error":
        add(
            entry,
            {},
            "fits the median, the most robust to outliers; its gradient does not "
            "shrink near the optimum, so decay the learning rate",
        )
    elif name == "log_cosh_loss":
        add(
            entry,
            {},
            "a smooth Huber (twice differentiable, no threshold to choose); robust "
            "for errors well above 1, so scale the targets",
        )
    elif name == "smooth_l1_loss":
        add(
            entry,
            {"beta": 1.0},
            "Huber divided by beta (PyTorch's SmoothL1Loss, box regression): slope 1 for "
            "gross errors whatever beta; beta=0 is MAE",
        )
    elif name == "quantile_loss":
        if intervals or heteroscedastic:
            why = (
                "prediction intervals: pinball loss at levels 0.1, 0.5, 0.9 fits the median "
                "and an 80% interval at once (predictions get a trailing axis of 3)"
                if intervals
                else "heteroscedastic noise without a Gaussian assumption: quantiles at 0.1, "
                "0.5, 0.9 give an interval whose width follows the noise (predictions get a "
                "trailing axis of 3)"
            )
            add(
                entry,
                {"quantile": [0.1, 0.5, 0.9]},
                why,
                score=_ANSWER if intervals else _ANSWER - 1.0,
            )
        else:
            add(
                entry,
                {"quantile": 0.5},
                "pinball loss: quantile=0.5 fits the median (robust, half the MAE); other levels "
                "give prediction intervals, a [Q] array of levels fits several at once",
            )
    elif name == "mean_squared_logarithmic_error":
        why = (
            "non-negative targets spanning orders of magnitude (counts, prices): squared "
            "error of log(1 + y), i.e. relative errors"
        )
        if skewed_positive:
            why = (
                "positive, right-skewed targets (prices): squared error of log(1 + y) scores "
                "relative errors, so the few large targets do not dominate"
            )
        add(entry, {}, why, score=_ANSWER if skewed_positive else 0.0)
    elif name == "mean_absolute_percentage_error":
        why = "relative error as a fraction, when targets stay well away from zero"
        if skewed_positive:
            why = (
                "positive, skewed targets judged by relative error: |error| / target as a "
                "fraction; targets must stay well away from zero"
            )
        add(entry, {}, why, score=_ANSWER - 1.0 if skewed_positive else 0.0)
    elif name == "cosine_distance":
        add(entry, {}, "vector targets whose direction matters, not their length")
    elif name == "poisson_loss":
        if count_data:
            add(
                entry,
                {"log_input": True},
                "count targets: Poisson log-likelihood, the natural loss for counts; predict "
                "log-rates (log_input=True), so rates stay positive without a clamp",
                score=_ANSWER,
            )
        else:
            add(entry, {}, "count targets: Poisson log-likelihood of predicted log-rates")
    elif name == "gaussian_nll_loss":
        if heteroscedastic or intervals:
            why = (
                "heteroscedastic noise: Gaussian log-likelihood with a predicted variance "
                "per target, learns where the noise is large; needs a second, positive "
                "output (e.g. softplus): loss(means, targets, variances)"
                if heteroscedastic
                else "intervals from a predicted variance: mean +- 1.28 sigma is an 80% "
                "interval under Gaussian noise; needs a second, positive output: "
                "loss(means, targets, variances)"
            )
            add(
                entry,
                {},
                why,
                score=(_ANSWER if heteroscedastic else 0.0) + (_ANSWER - 2.0 if intervals else 0.0),
            )
        else:
            add(
                entry,
                {},
                "the model also predicts a variance per target (heteroscedastic noise): "
                "Gaussian log-likelihood",
            )
    elif name == "tweedie_deviance":
        if count_data:
            add(
                entry,
                {"power": 1.0},
                "count targets: power 1 is the Poisson deviance of predicted means (rates, "
                "not log-rates); same optimum as poisson_loss",
                score=_ANSWER - 1.0,
            )
        if skewed_positive:
            add(
                entry,
                {"power": 2.0},
                "positive, right-skewed targets (prices, durations): power 2 is the Gamma "
                "deviance, whose error scale grows with the mean; targets must be > 0",
                score=_ANSWER,
            )
        if not count_data:
            add(
                entry,
                {"power": 1.5},
                "non-negative targets with exact zeros (claims, rainfall): compound "
                "Poisson-Gamma deviance of predicted means (power 1: Poisson, 2: Gamma)",
                score=2.0 if skewed_positive else 0.0,
            )
    elif name == "binary_cross_entropy":
        if imbalanced:
            pos_weight = round((1.0 - rate) / rate, 2) if rate else None
            add(
                entry,
                {"pos_weight": pos_weight} if pos_weight else {},
                "weighted cross-entropy: pos_weight = n_negative / n_positive makes the rare "
                "class count as much as the common one: the highest minority recall, at some "
                "precision"
                + ("; it shifts the probabilities, so recalibrate after" if calibrated else ""),
                requires=() if pos_weight else ("pos_weight",),
                imbalance=True,
                calibrated=False,
            )
        why = "proper scoring rule: sigmoid(logits) are calibrated probabilities"
        if imbalanced:
            why += "; for the rare class, choose the decision threshold on validation data"
        else:
            why = "the default for binary labels: " + why
        add(entry, {}, why)
    elif name == "focal_loss":
        if imbalanced:
            # gamma alone leaves the decision threshold of a well-specified model where
            # cross-entropy puts it (`python -m lossjax compare --task binary` shows it);
            # alpha, the weight of the positive class, is what favours the rare class.
            alpha = 0.75 if rate is None or rate < 0.5 else 0.25
            rare = "positive" if alpha > 0.5 else "negative"
            why = (
                f"gamma=2 down-weights the many easy examples, alpha={alpha} weights the "
                f"rare {rare} class up: often a better precision/recall balance than pos_weight"
            )
            hp = {"gamma": 2.0, "alpha": alpha}
        else:
            why, hp = (
                "down-weights easy examples so that the hard ones drive training",
                {"gamma": 2.0},
            )
        if calibrated:
            why += "; probabilities come out under-confident, recalibrate if they must be exact"
        add(entry, hp, why, imbalance=imbalanced)
    elif name == "hinge_loss":
        why = "max-margin (SVM): sparse gradients, only examples inside the margin count"
        if calibrated:
            why = "not calibrated: scores are margins, not probabilities (needs Platt scaling)"
        if margin:
            why = (
                "max-margin classifier (linear SVM): zero beyond the margin, only examples "
                "inside it count; scores, not probabilities"
            )
        add(entry, {}, why, score=_ANSWER if margin else 0.0)
    elif name == "squared_hinge_loss" and margin:
        add(
            entry,
            {"margin": 1.0},
            "max-margin classifier with a smooth loss: squared hinge (L2-SVM) is "
            "differentiable and penalises margin violations more",
            score=_ANSWER,
        )
    elif name == "multiclass_hinge_loss" and margin:
        add(
            entry,
            {"margin": 1.0},
            "max-margin multiclass classifier (Crammer-Singer SVM): zero once the label "
            "beats every other class by the margin; scores, not probabilities",
            score=_ANSWER,
        )
        add(
            entry,
            {"p": 2},
            "max-margin with a smooth loss: squared multiclass hinge, differentiable, "
            "penalises margin violations more",
            score=_ANSWER - 1.0,
        )
        if imbalanced:
            add(
                entry,
                {},
                "weighted multiclass hinge: class_weights = inverse class frequencies "
                "(a [K] array) make rare classes count as much as common ones",
                score=_ANSWER,
                requires=("class_weights",),
                imbalance=True,
            )
    elif name in ("sparsemax_loss", "multiclass_sparsemax_loss") and margin:
        sparse = (
            "exactly 0 or 1 beyond the margin"
            if name == "sparsemax_loss"
            else "exactly 0 for the clearly wrong classes"
        )
        add(
            entry,
            {},
            "margin with sparse probabilities: sparsemax is zero beyond a margin of 1 like "
            f"the hinge, yet gives probabilities, {sparse}",
            score=_ANSWER - 2.0,
        )
    elif name in ("perceptron_loss", "multiclass_perceptron_loss") and margin:
        add(
            entry,
            {},
            "no margin at all: zero once the label scores highest, so the boundary may "
            "end anywhere; prefer the hinge for a max-margin classifier",
        )
    elif name == "sparse_categorical_cross_entropy":
        if imbalanced:
            add(
                entry,
                {},
                "weighted cross-entropy: class_weights = inverse class "
                "frequencies (a [K] array) make rare classes count as much as common ones"
                + ("; shifts the probabilities, recalibrate after" if calibrated else ""),
                requires=("class_weights",),
                imbalance=True,
                calibrated=False,
            )
        why = "the default for integer labels: calibrated softmax probabilities"
        if large_vocab:
            why += "; materialises [N, K] logits and their gradient"
        add(entry, {}, why)
    elif name == "categorical_cross_entropy":
        add(
            entry,
            {"label_smoothing": 0.1},
            "one-hot or soft targets; label smoothing 0.1 regularises over-confident large models",
        )
    elif name == "categorical_focal_loss":
        why = (
            "down-weights easy examples so that rare classes drive training; a [K] alpha "
            "weights the rare classes up"
        )
        if calibrated:
            why += "; probabilities come out under-confident, recalibrate if they must be exact"
        add(entry, {"gamma": 2.0}, why, imbalance=True)
    elif name == "linear_cross_entropy":
        why = (
            "fused cross-entropy of hidden @ weight: memory independent of the vocabulary, "
            "same value and gradient as sparse cross-entropy"
        )
        if not large_vocab:
            why = "only worth it for large vocabularies: " + why
        add(entry, {}, why)
    elif name == "kl_divergence":
        add(
            entry,
            {},
            "when the targets are distributions, e.g. a teacher's softened "
            "probabilities in knowledge distillation",
        )
    elif name == "kmeans_loss":
        add(entry, {}, "clustering: k-means inertia, differentiable in points and centroids")
    elif name == "reconstruction_loss":
        if outliers:
            add(
                entry,
                {"kind": "mae"},
                "reconstruction with robust per-feature absolute error",
                robust=True,
            )
        add(entry, {}, "autoencoders: squared error per example, averaged over features")
        add(
            entry,
            {"kind": "bce"},
            "autoencoders for data in [0, 1] (e.g. pixels): Bernoulli log-likelihood",
        )
    elif name == "info_nce_loss":
        add(
            entry,
            {"temperature": 0.1},
            "self-supervised or paired data: every other example "
            "in the batch is a negative; scales with batch size (SimCLR, CLIP)",
        )
    elif name == "contrastive_loss":
        add(entry, {"margin": 1.0}, "labelled similar/dissimilar pairs (siamese networks)")
    else:  # A new loss without a rule is still listed.
        add(entry, {}, entry.summary)
