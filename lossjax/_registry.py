"""The registry: every loss declares its metadata once, next to its definition.

A loss module decorates each public loss with :func:`register`::

    @register(
        task="regression",
        input_kind="predictions",
        summary="Quadratic below delta, linear above.",
        hyperparameters=(real("delta", "where quadratic turns linear", lower=0.0, lower_open=True),),
        recommendations=(Recommendation("robust yet efficient", {"delta": 1.0}),),
    )
    def huber_loss(predictions, targets, *, delta=1.0, reduction="mean", ...): ...

The declaration is the only place a hyperparameter's range is written: the
decorated loss checks every keyword it is given against it (a Python-level
check at trace time, nothing in the compiled program), and the registry reads it
for :func:`get`, :func:`info` and the documentation. Defaults are read from the
signature. :func:`suggest` ranks the recommendations that the losses declare.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import math
import numbers
import types
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import jax
import numpy as np

from lossjax import _checks

TASKS = (
    "regression",
    "binary",
    "multiclass",
    "unsupervised",
    "embedding",
    "ranking",
    "segmentation",
    "detection",
    "sequence",
    "distillation",
    "preference",
    "generative",
)

INPUT_KINDS = (
    "predictions",
    "logits",
    "probabilities",
    "scores",
    "embeddings",
    "points",
    "hidden states",
    "log-probabilities",
    "samples",
    "cosines",
    "distances",
    "boxes",
)

# Keyword arguments every loss takes (the reduction contract); not hyperparameters.
CONTRACT_ARGUMENTS = ("reduction", "weights", "where", "axis_name")
# Keyword arguments of the token-level losses, passed to reduce_loss; not hyperparameters.
SEQUENCE_ARGUMENTS = ("normalize_by", "segment_ids")

# The questions `suggest` answers, by task; any other combination is refused so
# that a flag is never silently ignored.
TASK_FLAGS = {
    "regression": ("outliers", "count_data", "heteroscedastic", "intervals", "skewed_positive"),
    "binary": ("imbalanced", "calibrated", "margin"),
    "multiclass": ("imbalanced", "calibrated", "large_vocab", "margin"),
    "unsupervised": ("outliers",),
    "embedding": (),
    "ranking": (),
    "segmentation": ("imbalanced",),
    "detection": (),
    "sequence": (),
    "distillation": (),
    "preference": (),
    "generative": (),
}

# Score of a recommendation that answers a question of `suggest` (count data,
# heteroscedastic noise, intervals, skewed positive targets, margin): above the
# +-2 of `outliers`, so the answer stays first when the question comes with outliers.
ANSWER = 5.0


# -- hyperparameters -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of a loss: its meaning, its default and the values it accepts.

    Attributes:
        name: the keyword argument.
        kind: ``"real"`` (a number, or an array checked elementwise), ``"int"``,
            ``"bool"``, ``"choice"``, ``"mask"`` (a boolean array), ``"axes"``
            (an int or a tuple of ints) or ``"callable"`` (a function, such as a
            ranking loss's ``lambdaweight_fn``).
        description: one line.
        lower, upper: bounds of a ``"real"`` or ``"int"`` value (``None``: unbounded).
        lower_open, upper_open: whether the bound itself is excluded.
        excluded: an open interval of a ``"real"`` value that is refused.
        choices: the accepted values of a ``"choice"``.
        optional: whether ``None`` is accepted.
        scalar: a ``"real"`` value must be a scalar (not a per-class array).
        static: a ``"real"`` value must be a Python number: it selects the
            formula at trace time and cannot be traced.
        default: the default, read from the loss's signature when it registers.

    Example:
        >>> import lossjax
        >>> gamma = lossjax.info("focal").hyperparameter("gamma")
        >>> gamma.default, gamma.valid
        (2.0, '>= 0')
    """

    name: str
    kind: str
    description: str
    lower: float | None = None
    upper: float | None = None
    lower_open: bool = False
    upper_open: bool = False
    excluded: tuple[float, float] | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False
    scalar: bool = False
    static: bool = False
    default: Any = None

    @property
    def valid(self) -> str:
        """The accepted values in words, e.g. ``"> 0"``, ``"[0, 1]"``, ``"None or int"``."""
        if self.kind == "bool":
            text = "True/False"
        elif self.kind == "mask":
            text = "boolean array"
        elif self.kind == "axes":
            text = "int or tuple of ints"
        elif self.kind == "callable":
            text = "callable"
        elif self.kind == "choice":
            text = " | ".join(repr(c) for c in self.choices)
        elif self.excluded is not None and self.lower is None and self.upper is None:
            low, high = (_number(x) for x in self.excluded)
            text = f"<= {low} or >= {high}"
        else:
            text = _interval_text(self)
            if self.excluded is not None:
                text += f", not in ({_number(self.excluded[0])}, {_number(self.excluded[1])})"
        return f"None or {text}" if self.optional else text

    def check(self, value: Any) -> None:
        """Raises TypeError for a value of the wrong type, ValueError for one out of range.

        Traced values (a hyperparameter swept with ``jax.vmap`` or differentiated)
        are checked for their type and shape only; their range is checked at run
        time in :func:`lossjax.checked` mode.
        """
        if value is None and self.optional:
            return
        if value is None and self.kind != "bool":  # (check_flag says "must be a Python bool")
            raise TypeError(f"lossjax: `{self.name}` cannot be None; valid values: {self.valid}.")
        if self.kind == "bool":
            _checks.check_flag(self.name, value)
        elif self.kind == "mask":
            dtype = getattr(value, "dtype", None)
            if dtype is None:
                dtype = _checks.as_array(self.name, value).dtype
            if dtype != np.bool_:
                raise TypeError(f"lossjax: `{self.name}` must be a boolean array, got {value!r}.")
        elif self.kind == "callable":
            _checks.check_callable(self.name, value)
        elif self.kind == "axes":
            if value == ():
                raise ValueError(
                    f"lossjax: `{self.name}` must be an int or a non-empty tuple of ints, got ()."
                )
            axes = value if isinstance(value, tuple) else (value,)
            if any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
                raise TypeError(
                    f"lossjax: `{self.name}` must be an int or a tuple of ints, got {value!r}."
                )
        elif self.kind == "choice":
            if isinstance(value, jax.core.Tracer) or np.ndim(value) != 0:
                raise TypeError(
                    f"lossjax: `{self.name}` must be one of {self.valid}, got {value!r}. It "
                    "selects the formula at trace time and cannot be a traced value or an array."
                )
            _checks.check_choice(self.name, value, self.choices)
        elif self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"lossjax: `{self.name}` must be a Python int, got {value!r}.")
            self._check_range(value)
        else:
            self._check_real(value)

    def _check_real(self, value: Any) -> None:
        if self.static and isinstance(value, jax.core.Tracer):
            raise TypeError(
                f"lossjax: `{self.name}` must be a Python number, got a traced value. It "
                "selects the formula at trace time and cannot be traced (bind it outside "
                "jax.jit/jax.vmap)."
            )
        if self.static and (
            isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real)
        ):
            raise TypeError(f"lossjax: `{self.name}` must be a Python number, got {value!r}.")
        if self.excluded is not None:  # static (see `real`): a Python number
            low, high = self.excluded
            if math.isnan(value) or low < value < high:
                raise ValueError(f"lossjax: `{self.name}` must be {self.valid}, got {value!r}.")
        # The number type, the scalar shape and the range: the shared check.
        self._check_range(value, scalar=self.scalar)

    def _check_range(self, value: Any, *, scalar: bool = False) -> None:
        _checks.check_hyperparameter(
            self.name,
            value,
            lower=self.lower,
            upper=self.upper,
            lower_open=self.lower_open,
            upper_open=self.upper_open,
            scalar=scalar,
        )


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _interval_text(h: Hyperparameter) -> str:
    if h.lower is not None and h.upper is not None:
        lo = "(" if h.lower_open else "["
        hi = ")" if h.upper_open else "]"
        text = f"{lo}{_number(h.lower)}, {_number(h.upper)}{hi}"
    elif h.lower is not None:
        text = f"{'>' if h.lower_open else '>='} {_number(h.lower)}"
    elif h.upper is not None:
        text = f"{'<' if h.upper_open else '<='} {_number(h.upper)}"
    else:
        return "int" if h.kind == "int" else "real"
    return f"int {text}" if h.kind == "int" else text


def real(
    name: str,
    description: str,
    *,
    lower: float | None = None,
    upper: float | None = None,
    lower_open: bool = False,
    upper_open: bool = False,
    excluded: tuple[float, float] | None = None,
    optional: bool = False,
    scalar: bool = True,
    static: bool = False,
) -> Hyperparameter:
    """A real hyperparameter: a Python number or a (traced, differentiable) array."""
    if excluded is not None and not static:
        raise ValueError(f"lossjax registry: `{name}` excludes an interval, so it must be static.")
    return Hyperparameter(
        name,
        "real",
        description,
        lower=lower,
        upper=upper,
        lower_open=lower_open,
        upper_open=upper_open,
        excluded=excluded,
        optional=optional,
        scalar=scalar,
        static=static,
    )


def integer(
    name: str, description: str, *, lower: int | None = None, optional: bool = False
) -> Hyperparameter:
    """A Python int chosen at trace time (a block size, a label value, an axis)."""
    return Hyperparameter(name, "int", description, lower=lower, optional=optional)


def flag(name: str, description: str) -> Hyperparameter:
    """A Python bool that selects the formula at trace time."""
    return Hyperparameter(name, "bool", description)


def choice(name: str, description: str, choices: tuple[Any, ...]) -> Hyperparameter:
    """One of a few values that select the formula at trace time."""
    return Hyperparameter(name, "choice", description, choices=tuple(choices))


def function(name: str, description: str, *, optional: bool = True) -> Hyperparameter:
    """A callable option (a ranking loss's ``lambdaweight_fn``), fixed at trace time."""
    return Hyperparameter(name, "callable", description, optional=optional)


# Hyperparameters that several losses share, declared once here.
FROM_LOGITS = flag("from_logits", "inputs are logits (True) or probabilities (False)")
LABEL_SMOOTHING = real(
    "label_smoothing", "mix the targets with the uniform distribution", lower=0.0, upper=1.0
)
CLASS_WEIGHTS = real(
    "class_weights",
    "one non-negative weight per class ([K] array)",
    lower=0.0,
    optional=True,
    scalar=False,
)
IGNORE_INDEX = integer("ignore_index", "label value whose examples are left out", optional=True)
Z_LOSS = real("z_loss", "coefficient of the log-partition penalty lse^2", lower=0.0)
LOGIT_SOFT_CAP = real(
    "logit_soft_cap", "c in c * tanh(logits / c)", lower=0.0, lower_open=True, optional=True
)
CLASS_AXIS = integer("axis", "the class axis")
FOCAL_GAMMA = real("gamma", "focusing strength (0 gives cross-entropy)", lower=0.0)
CLASS_AXES = Hyperparameter("axis", "axes", "the class axis, or a tuple of them")
CLASS_MASK = Hyperparameter(
    "class_mask",
    "mask",
    "False removes a class from the softmax (broadcast to the logits)",
    optional=True,
)


# -- recommendations ------------------------------------------------------------------------

# The note of the focal losses when calibrated probabilities are asked for.
CALIBRATION_NOTE = {
    "calibrated": "; probabilities come out under-confident, recalibrate if they must be exact"
}


@dataclasses.dataclass(frozen=True)
class FromPositiveRate:
    """A suggested value computed from the positive rate of ``suggest(imbalanced=rate)``.

    Without a rate (``imbalanced=True``) the hyperparameter is listed in the
    suggestion's ``requires``: the user sets it from the data.
    """

    formula: Callable[[float], Any]


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """When a loss is worth suggesting, with which hyperparameters, and why.

    Attributes:
        reason: why, in one line.
        hyperparameters: suggested keyword arguments (a :class:`FromPositiveRate`
            value is computed from the positive rate).
        when: flags of :func:`suggest` that must all be set for this to apply.
        unless: flags that must all be unset.
        score: the base score; :data:`ANSWER` for the loss that answers a question.
        answers: extra score for each of these flags that is set.
        notes: text appended to the reason when the flag is set.
        requires: hyperparameters the user must set from the data.
        handles_imbalance: this variant answers ``imbalanced``.
        robust, calibrated: override the loss's properties for this variant.
        tasks: the tasks of :func:`suggest` this is for (default: the loss's own
            task); a loss registered ``also_for`` another task is suggested there
            only through recommendations that name it.
    """

    reason: str
    hyperparameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    score: float = 0.0
    answers: Mapping[str, float] = dataclasses.field(default_factory=dict)
    notes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    requires: tuple[str, ...] = ()
    handles_imbalance: bool = False
    robust: bool | None = None
    calibrated: bool | None = None
    tasks: tuple[str, ...] = ()

    def applies(self, flags: Mapping[str, bool]) -> bool:
        """Whether every flag of ``when`` is set and none of ``unless``."""
        return all(flags[f] for f in self.when) and not any(flags[f] for f in self.unless)


# -- metadata -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LossInfo:
    """What the registry knows about one loss.

    Attributes:
        name: the public name, ``lossjax.<name>`` (``"ranking.softmax_loss"`` for a
            loss of a submodule).
        function: the loss function itself.
        task: ``"regression"``, ``"binary"``, ``"multiclass"``, ``"unsupervised"``,
            ``"embedding"``, ``"ranking"``, ``"segmentation"``, ``"detection"``,
            ``"sequence"``, ``"distillation"``, ``"preference"`` or ``"generative"``.
        input_kind: what the first argument holds: ``"predictions"``,
            ``"logits"``, ``"probabilities"``, ``"scores"`` (real-valued margins),
            ``"embeddings"``, ``"points"``, ``"hidden states"``,
            ``"log-probabilities"``, ``"samples"``, ``"cosines"``, ``"distances"`` or
            ``"boxes"``. For losses
            with ``from_logits`` it follows that flag's default.
        summary: one line.
        aliases: short names accepted by :func:`get`.
        presets: aliases that also bind hyperparameters (``"clip"`` is the
            symmetric InfoNCE).
        hyperparameters: the hyperparameters, with defaults and valid ranges.
        recommendations: when :func:`suggest` proposes this loss, and why.
        default: the usual default of its task (listed first).
        also_for: other tasks :func:`suggest` may propose it for (a token-level
            cross-entropy is also a ``"sequence"`` loss).
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
    presets: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    hyperparameters: tuple[Hyperparameter, ...] = ()
    recommendations: tuple[Recommendation, ...] = dataclasses.field(default=(), repr=False)
    default: bool = False
    also_for: tuple[str, ...] = ()
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


_ENTRIES: dict[str, LossInfo] = {}
_ALIASES: dict[str, tuple[str, Mapping[str, Any]]] = {}

P = ParamSpec("P")
R = TypeVar("R")


def register(
    *,
    task: str,
    input_kind: str,
    summary: str,
    aliases: tuple[str, ...] = (),
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    hyperparameters: tuple[Hyperparameter, ...] = (),
    recommendations: tuple[Recommendation, ...] = (),
    default: bool = False,
    also_for: tuple[str, ...] = (),
    robust_to_outliers: bool = False,
    calibrated_probabilities: bool = False,
    margin_based: bool = False,
    handles_imbalance: bool = False,
    large_vocab: bool = False,
    namespace: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declares a loss: its metadata, its hyperparameters' ranges, its recommendations.

    A loss of a public submodule (``lossjax.ranking.softmax_loss``) registers with
    ``namespace="ranking"``; its registry name is then ``"ranking.softmax_loss"``.

    The returned function is the loss, which checks each hyperparameter it is
    given against the declaration before running (trace-time Python, no cost
    in the compiled program). Every keyword-only argument other than the
    reduction contract must be declared, and nothing else.
    """
    if task not in TASKS or input_kind not in (*INPUT_KINDS, "from_logits"):
        raise ValueError(f"lossjax registry: bad task {task!r} or input kind {input_kind!r}.")

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        parameters = inspect.signature(fn).parameters
        declared = {h.name: h for h in hyperparameters}
        options = [
            p
            for p in parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
            and p.name not in CONTRACT_ARGUMENTS + SEQUENCE_ARGUMENTS
        ]
        if set(declared) != {p.name for p in options} or not set(CONTRACT_ARGUMENTS) <= set(
            parameters
        ):
            raise TypeError(
                f"lossjax registry: {fn.__name__} declares {sorted(declared)} but its "
                f"keyword-only options are {[p.name for p in options]}."
            )
        specs = tuple(dataclasses.replace(declared[p.name], default=p.default) for p in options)
        by_name = {h.name: h for h in specs}

        @functools.wraps(fn)
        def loss(*args: P.args, **kwargs: P.kwargs) -> R:
            for key, value in kwargs.items():
                spec = by_name.get(key)
                if spec is not None:
                    spec.check(value)
            return fn(*args, **kwargs)

        kind = input_kind
        if kind == "from_logits":
            kind = "logits" if parameters["from_logits"].default else "probabilities"
        entry = LossInfo(
            name=fn.__name__ if namespace is None else f"{namespace}.{fn.__name__}",
            function=loss,
            task=task,
            input_kind=kind,
            summary=summary,
            aliases=aliases,
            presets=types.MappingProxyType(dict(presets or {})),
            hyperparameters=specs,
            recommendations=recommendations,
            default=default,
            also_for=also_for,
            robust_to_outliers=robust_to_outliers,
            calibrated_probabilities=calibrated_probabilities,
            margin_based=margin_based,
            handles_imbalance=handles_imbalance,
            large_vocab=large_vocab,
        )
        for key, bound in [(entry.name, {}), *((a, {}) for a in aliases), *entry.presets.items()]:
            if key in _ALIASES:
                raise RuntimeError(f"lossjax registry: {key!r} is registered twice.")
            _ALIASES[key] = (entry.name, bound)
        _ENTRIES[entry.name] = entry
        return loss

    return decorate


# -- looking losses up ------------------------------------------------------------------------


class UnknownLossError(KeyError, ValueError):
    """No loss by that name. A KeyError (a failed lookup) and a ValueError (a bad argument)."""

    def __str__(self) -> str:  # KeyError would show the message with quotes.
        return str(self.args[0])


def _normalize_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def _lookup(name: str | Callable[..., Any]) -> tuple[LossInfo, Mapping[str, Any]]:
    """The entry of a name, alias, preset or function, and the preset's bindings."""
    if callable(name) and not isinstance(name, str):
        for entry in _ENTRIES.values():
            if entry.function is name or entry.function is getattr(name, "func", None):
                return entry, {}
        raise UnknownLossError(f"lossjax: {name!r} is not a registered loss.")
    if not isinstance(name, str):
        raise TypeError(f"lossjax: a loss name must be a string, got {type(name).__name__}.")
    key = _normalize_name(name)
    if key in _ALIASES:
        target, bound = _ALIASES[key]
        return _ENTRIES[target], bound
    close = difflib.get_close_matches(key, list(_ALIASES), n=3, cutoff=0.5)
    # An alias that is a prefix or substring of the query (or vice versa) is a good guess too.
    close += [a for a in _ALIASES if len(key) >= 3 and key in a and a not in close][:2]
    hint = f" Did you mean {_or_list(close)}?" if close else ""
    raise UnknownLossError(
        f"lossjax: unknown loss {name!r}.{hint} "
        f"Available: {', '.join(available())} (see lossjax.available())."
    )


def _or_list(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


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
        UnknownLossError: no loss of that name (a KeyError and a ValueError);
            the message lists the closest names.
    """
    return _lookup(name)[0]


class BoundLoss(functools.partial):
    """A loss with hyperparameters bound: a :func:`functools.partial` with metadata.

    Its name, docstring and module are the loss's (``functools.update_wrapper``),
    its signature shows the bound values as defaults, ``.info`` is the
    registry's :class:`LossInfo`, and its ``repr`` is the call that made it.
    Keyword arguments given at call time override the bound ones.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> loss = lossjax.get("bce", label_smoothing=0.1)
        >>> loss.info.task, dict(loss.keywords)
        ('binary', {'label_smoothing': 0.1})
        >>> loss(jnp.array([0.0]), jnp.array([1.0]), reduction="none")
        Array([0.6931472], dtype=float32)
    """

    info: LossInfo

    @property
    def hyperparameters(self) -> Mapping[str, Any]:
        """The bound keyword arguments (read-only)."""
        return types.MappingProxyType(self.keywords)

    def __repr__(self) -> str:
        bound = "".join(f", {k}={_short_repr(v)}" for k, v in self.keywords.items())
        return f"lossjax.get({self.info.name!r}{bound})"


def _short_repr(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0 and int(np.prod(shape)) > 8:
        return f"<{getattr(value, 'dtype', '')}{list(shape)}>"
    if isinstance(value, np.ndarray | np.generic) or shape is not None:
        return repr(np.asarray(value).tolist())
    return repr(value)


def get(name: str | Callable[..., Any], **hyperparameters: Any) -> BoundLoss:
    """A loss by name or alias, with hyperparameters bound and checked now.

    Args:
        name: a loss name (``"huber_loss"``), an alias (``"huber"``, ``"bce"``,
            ``"scce"``...; case, ``-`` and spaces do not matter), a preset
            (``"clip"``: ``info_nce_loss`` with ``symmetric=True``) or the function.
        **hyperparameters: keyword arguments to bind: the loss's hyperparameters,
            and also ``reduction`` or ``axis_name`` if wanted.

    Returns:
        A :class:`BoundLoss` (a ``functools.partial``): call it with the data
        arguments like the loss.

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
    entry, preset = _lookup(name)
    hyperparameters = {**preset, **hyperparameters}
    known = {h.name: h for h in entry.hyperparameters}
    parameters = inspect.signature(entry.function).parameters
    sequence = tuple(a for a in SEQUENCE_ARGUMENTS if a in parameters)
    for key, value in hyperparameters.items():
        if key in known:
            known[key].check(value)
        elif key == "reduction":
            _checks.check_reduction(value)
        elif key == "normalize_by" and key in sequence:
            _checks.check_choice("normalize_by", value, ("tokens", "sequences"))
        elif key not in CONTRACT_ARGUMENTS + sequence:
            valid = ", ".join([*known, *CONTRACT_ARGUMENTS, *sequence])
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"lossjax: {entry.name} got an unknown hyperparameter {key!r}.{hint} "
                f"Valid keywords: {valid}."
            )
    bound = BoundLoss(entry.function, **hyperparameters)
    functools.update_wrapper(bound, entry.function)
    bound.info = entry
    signature = inspect.signature(entry.function)
    bound.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            p.replace(default=hyperparameters[p.name]) if p.name in hyperparameters else p
            for p in signature.parameters.values()
        ]
    )
    return bound


def available(task: str | None = None) -> list[str]:
    """The names of the registered losses, all or those of one task.

    Args:
        task: ``None`` (all), or one of the tasks: ``"regression"``, ``"binary"``, ``"multiclass"``, ``"unsupervised"``,
            ``"embedding"``, ``"ranking"``, ``"segmentation"``, ``"detection"``,
            ``"sequence"``, ``"distillation"``, ``"preference"`` or ``"generative"``.

    Returns:
        A list of names (``lossjax.<name>`` is the function): by task, the usual
        default of each task first, then in the order the losses are defined.

    Example:
        >>> import lossjax
        >>> lossjax.available("regression")[:3]
        ['mean_squared_error', 'mean_absolute_error', 'huber_loss']
    """
    if task is not None:
        _checks.check_choice("task", task, TASKS)
    order = list(_ENTRIES)
    entries = sorted(
        _ENTRIES.values(),
        key=lambda e: (TASKS.index(e.task), not e.default, order.index(e.name)),
    )
    return [e.name for e in entries if task is None or e.task == task]


# -- suggestions -----------------------------------------------------------------------------


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

    ``str(suggestion)`` is the call and the reason; ``suggestion.call`` the call alone.

    Example:
        >>> import lossjax
        >>> best = lossjax.suggest("binary", imbalanced=0.1)[0]
        >>> best.call
        'binary_cross_entropy(pos_weight=9.0)'
        >>> best.get()
        lossjax.get('binary_cross_entropy', pos_weight=9.0)
    """

    name: str
    hyperparameters: dict[str, Any] = dataclasses.field(hash=False)
    reason: str
    requires: tuple[str, ...] = ()

    @property
    def call(self) -> str:
        """The suggested call, e.g. ``"huber_loss(delta=1.0)"``."""
        args = [f"{k}={v!r}" for k, v in self.hyperparameters.items()]
        args += [f"{k}=..." for k in self.requires]
        return f"{self.name}({', '.join(args)})"

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
        return f"{self.call}: {self.reason}"


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

    Each loss declares its recommendations (:class:`Recommendation`: when it
    applies, suggested hyperparameters, the reason). The applicable ones are
    ranked by their own score plus the registry's properties: with
    ``outliers``, losses with ``robust_to_outliers`` first; with ``calibrated``,
    losses with ``calibrated_probabilities`` first and margin-based losses
    last; with ``imbalanced``, the imbalance options (focal modulation, positive
    or class weights) first, unless calibration matters more; with
    ``large_vocab``, the fused cross-entropy first. The probabilistic
    regression questions (``count_data``, ``heteroscedastic``, ``intervals``,
    ``skewed_positive``) and ``margin`` put the losses that answer them first.
    A loss without an applicable recommendation is listed with its summary.
    Ties keep the order of :func:`available` (the usual default first).

    Args:
        task: ``"regression"``, ``"binary"``, ``"multiclass"``, ``"unsupervised"``,
            ``"embedding"``, ``"ranking"``, ``"segmentation"``, ``"detection"``,
            ``"sequence"``, ``"distillation"``, ``"preference"`` or ``"generative"``.
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
        TypeError: a flag that is not a bool.

    Example:
        >>> import lossjax
        >>> [s.call for s in lossjax.suggest("regression", outliers=True)][:2]
        ['huber_loss(delta=1.0)', 'mean_absolute_error()']
        >>> [s.call for s in lossjax.suggest("regression", count_data=True)][:2]
        ['poisson_loss(log_input=True)', 'tweedie_deviance(power=1.0)']
    """
    _checks.check_choice("task", task, TASKS)
    given = {
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
    rate = None
    for name, value in given.items():
        if name == "imbalanced" and not isinstance(value, bool | np.bool_):
            _checks.check_hyperparameter(
                "imbalanced", value, lower=0.0, upper=1.0, lower_open=True, upper_open=True
            )
            rate = float(value)
        else:
            _checks.check_flag(name, value)
        if value is not False and name not in TASK_FLAGS[task]:
            accepted = ", ".join(TASK_FLAGS[task]) or "none"
            raise ValueError(
                f"lossjax: `{name}` does not apply to task {task!r} (flags it takes: {accepted})."
            )
    if margin and calibrated:
        raise ValueError(
            "lossjax: `margin` and `calibrated` contradict each other: margin-based losses "
            "give scores, not calibrated probabilities. Drop one: calibrated=True for "
            "probabilities (cross-entropy), margin=True for a max-margin classifier (hinge)."
        )
    flags = {name: value is not False for name, value in given.items()}
    flags["negatives_rare"] = rate is not None and rate > 0.5

    ranked: list[tuple[float, int, Suggestion]] = []
    own = available(task)
    others = [n for n in available() if n not in own and task in _ENTRIES[n].also_for]
    for name in own + others:
        entry = _ENTRIES[name]
        applicable = [
            r
            for r in entry.recommendations
            if task in (r.tasks or (entry.task,)) and r.applies(flags)
        ]
        if not applicable and name in own:
            applicable = [Recommendation(entry.summary)]
        for rec in applicable:
            score = _score(entry, rec, flags)
            ranked.append((score, len(ranked), _suggestion(entry, rec, flags, rate)))
    ranked.sort(key=lambda c: (-c[0], c[1]))
    return [c[2] for c in ranked]


def _score(entry: LossInfo, rec: Recommendation, flags: Mapping[str, bool]) -> float:
    robust = entry.robust_to_outliers if rec.robust is None else rec.robust
    calibrated = entry.calibrated_probabilities if rec.calibrated is None else rec.calibrated
    score = rec.score + sum(v for f, v in rec.answers.items() if flags[f])
    if flags["outliers"]:
        score += 2.0 if robust else -2.0
    if flags["calibrated"]:
        # Calibration is a requirement; imbalance can also be met by the threshold.
        score += 2.0 if calibrated else -1.0
        score -= 1.0 if entry.margin_based else 0.0
    if flags["imbalanced"] and rec.handles_imbalance:
        score += 1.0
    if flags["large_vocab"] and entry.large_vocab:
        score += 3.0
    return score


def _suggestion(
    entry: LossInfo, rec: Recommendation, flags: Mapping[str, bool], rate: float | None
) -> Suggestion:
    hyperparameters, requires = {}, list(rec.requires)
    for key, value in rec.hyperparameters.items():
        if isinstance(value, FromPositiveRate):
            if rate is None:
                requires.append(key)
                continue
            value = value.formula(rate)
        entry.hyperparameter(key).check(value)
        hyperparameters[key] = value
    reason = rec.reason + "".join(text for f, text in rec.notes.items() if flags[f])
    return Suggestion(entry.name, hyperparameters, reason, tuple(requires))
