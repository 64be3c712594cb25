"""Argument checks and dtype handling shared by every loss, and the value checks of checked mode.

Two kinds of checks live here.

* **Static checks** look only at shapes, dtypes and Python values while JAX
  traces a function, so they cost nothing at run time and fail the same way on
  every backend. Messages always name the argument and show what was
  received, because a loss that silently broadcasts ``(N, 1)`` against
  ``(N,)`` trains a wrong model without ever raising.
* **Value checks** (label ranges, probabilities in [0, 1], target
  distributions, non-negative weights, hyperparameter ranges) look at the
  numbers. :func:`check_values` runs them

  - with NumPy, at once, when every array involved is concrete (not traced)
    and either the check is a *clear mistake* (``default=True``) or checked
    mode is on;
  - as ``jax.experimental.checkify`` checks on traced values, only in checked
    mode (:func:`lossjax.checked`), which functionalises them and raises after
    the run with the same message;
  - not at all for traced values in the default mode: zero cost, and the
    program is exactly the one without checks.

Checked mode is a JAX configuration state that is part of the jit cache key
(:data:`_CHECKS`), so a function traced with checks off is traced again, with
the checks, when checked mode is on, and the other way round.
"""

from __future__ import annotations

import contextlib
import inspect
import numbers
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

REDUCTIONS = ("mean", "sum", "none", "count")


# -- checked mode --------------------------------------------------------------


def _define_checks_state() -> Any:
    """The checked-mode flag as a JAX config state that enters the jit cache key.

    A plain Python flag would be read once, when ``jax.jit`` first traces a
    function; the cached program would then run without checks in checked
    mode (or with unfunctionalised checks after it). JAX offers no public way
    to add a key, so this uses ``jax._src.config``; on a JAX without it the
    fallback (:class:`_FallbackState`) clears JAX's caches on every switch.
    """
    try:
        from jax._src import config as jax_config

        existing = getattr(jax_config, "config_states", {}).get("lossjax_value_checks")
        if existing is not None:  # the module was reloaded
            return existing
        params = inspect.signature(jax_config.bool_state).parameters
        keys = [k for k in ("include_in_jit_key", "include_in_trace_context") if k in params]
        if "include_in_jit_key" not in keys:
            return _FallbackState()
        options: dict[str, Any] = dict.fromkeys(keys, True)
        return jax_config.bool_state(
            "lossjax_value_checks",
            False,
            "lossjax: emit value checks (checkify) while tracing. Set by lossjax.checked; "
            "do not set it directly: unfunctionalised checks cannot be compiled.",
            **options,
        )
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other JAX versions
        return _FallbackState()


class _FallbackState(threading.local):
    """A thread-local flag that clears JAX's trace caches whenever it changes."""

    value = False

    @contextlib.contextmanager
    def __call__(self, new: bool) -> Iterator[None]:
        old, self.value = self.value, bool(new)
        jax.clear_caches()
        try:
            yield
        finally:
            self.value = old
            jax.clear_caches()


_CHECKS = _define_checks_state()


def checks_enabled() -> bool:
    """True inside :func:`lossjax.checked`: traced values are checked too."""
    return bool(_CHECKS.value)


@contextlib.contextmanager
def enable_checks() -> Iterator[None]:
    """Turns value checks on while tracing (used by :func:`lossjax.checked` only).

    The checks it emits must be functionalised by ``checkify.checkify``;
    on their own they cannot be compiled.
    """
    with _CHECKS(True):
        yield


def _first(bad: Any, shown: Any, xp: Any) -> Any:
    """The first entry of ``shown`` where ``bad`` holds (anything if none does)."""
    flat_bad = xp.ravel(bad)
    flat_shown = xp.ravel(xp.broadcast_to(shown, bad.shape))
    return flat_shown[xp.argmax(flat_bad)]


def _has_tracer(*values: Any) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(values))


def check_values(
    message: str,
    predicate: Callable[..., tuple[Any, Any]],
    *arrays: Any,
    default: bool = False,
) -> None:
    """Raises ``ValueError(message)`` when ``predicate`` flags an entry of ``arrays``.

    ``predicate(xp, *arrays)`` returns ``(bad, shown)``: a boolean array of the
    offending entries and the values to report (broadcastable to ``bad``);
    ``xp`` is ``numpy`` or ``jax.numpy``. ``message`` holds one ``{:.7g}`` (or ``{}``) for the
    first offending value and no other braces. None entries of ``arrays`` are
    passed through.

    * All arrays concrete: checked now, with NumPy, when ``default`` (a clear
      mistake, checked in every mode) or in checked mode.
    * Some array traced: a ``checkify`` check in checked mode, nothing
      otherwise (no operation is added to the program).
    """
    if not _has_tracer(*arrays):
        if not (default or checks_enabled()):
            return
        concrete = [None if a is None else np.asarray(a) for a in arrays]
        bad, shown = predicate(np, *concrete)
        bad = np.asarray(bad)
        if bad.any():
            value = _first(bad, np.asarray(shown), np)
            raise ValueError(message.format(value.item() if hasattr(value, "item") else value))
        return
    if not checks_enabled():
        return
    bad, shown = predicate(jnp, *arrays)
    if bad.size == 0:
        return
    checkify.check(~jnp.any(bad), message, _first(bad, jnp.asarray(shown), jnp))


# -- arrays ----------------------------------------------------------------------


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None:
        return f"{type(x).__name__} {x!r}"
    return f"{dtype}{list(shape)}"


def _short_repr(x: Any, limit: int = 80) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_array(name: str, x: Any) -> jax.Array:
    """Converts ``x`` to a JAX array, with an error naming ``name`` on failure.

    ``None``, strings, pytrees that are not lists or tuples (dicts, dataclasses,
    ``nnx.State``) and ragged nested lists are refused with a message that
    names the argument, instead of NumPy's or JAX's own error.
    """
    if x is None:
        raise TypeError(f"lossjax: `{name}` is required, got None.")
    if isinstance(x, (jax.Array, np.ndarray, np.generic, numbers.Number)):
        return jnp.asarray(x)
    if isinstance(x, (str, bytes)):
        raise TypeError(f"lossjax: `{name}` must be a numeric array, got {_short_repr(x)}.")
    if not isinstance(x, (list, tuple)) and not jax.tree_util.treedef_is_leaf(
        jax.tree.structure(x)
    ):
        raise TypeError(
            f"lossjax: `{name}` must be an array, got a pytree ({type(x).__name__} "
            f"{_short_repr(x)}). Pass one array; map the loss over a pytree with "
            "jax.tree.map if that is what you mean."
        )
    try:
        return jnp.asarray(x)
    except ValueError as e:
        raise ValueError(
            f"lossjax: `{name}` must be a rectangular array, got a ragged nested "
            f"{type(x).__name__} (rows of different lengths): {_short_repr(x)}. Pad it and "
            "pass a `where` mask for the padding."
        ) from e
    except TypeError as e:
        raise TypeError(
            f"lossjax: `{name}` must be a numeric array, got {type(x).__name__} {_short_repr(x)}."
        ) from e


def check_floating(name: str, x: Any) -> jax.Array:
    """Returns ``x`` as an array; raises TypeError unless its dtype is floating."""
    x = as_array(name, x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"lossjax: `{name}` must be a floating-point array, got {_describe(x)}. "
            f"Cast it first, e.g. `{name}.astype(jnp.float32)`."
        )
    return x


def check_real(name: str, x: Any) -> jax.Array:
    """Returns ``x`` as an array; accepts float, integer and bool (not complex)."""
    x = as_array(name, x)
    if not (
        jnp.issubdtype(x.dtype, jnp.floating)
        or jnp.issubdtype(x.dtype, jnp.integer)
        or x.dtype == jnp.bool_
    ):
        raise TypeError(f"lossjax: `{name}` must be a real array, got {_describe(x)}.")
    return x


def check_integer(name: str, x: Any) -> jax.Array:
    """Returns ``x`` as an array; raises TypeError unless its dtype is integer."""
    x = as_array(name, x)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(
            f"lossjax: `{name}` must be an integer array of class indices, got {_describe(x)}. "
            "For probability or one-hot targets use categorical_cross_entropy."
        )
    return x


def check_same_shape(name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
    """Raises ValueError unless ``a`` and ``b`` have exactly the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"lossjax: `{name_a}` and `{name_b}` must have the same shape, got "
            f"{name_a}.shape={tuple(a.shape)} and {name_b}.shape={tuple(b.shape)}. "
            "lossjax never broadcasts them silently; reshape one explicitly "
            "(a (N, 1) against (N,) mismatch is the usual cause)."
        )


def check_rank(name: str, x: jax.Array, rank: int | Sequence[int]) -> None:
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    if x.ndim not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ValueError(
            f"lossjax: `{name}` must have rank {want}, got shape {tuple(x.shape)} (rank {x.ndim})."
        )


def normalize_axis(name: str, axis: int, ndim: int) -> int:
    """Returns ``axis`` as a non-negative index into an array of rank ``ndim``."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"lossjax: `{name}` must be a Python int, got {axis!r}.")
    if not -ndim <= axis < ndim:
        raise ValueError(f"lossjax: `{name}`={axis} is out of range for an array of rank {ndim}.")
    return int(axis) % ndim


# -- static options ----------------------------------------------------------------


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    try:
        ok = value in choices
    except (TypeError, ValueError):  # an array compared with strings
        ok = False
    if not ok:
        raise ValueError(
            f"lossjax: `{name}` must be one of {', '.join(repr(c) for c in choices)}; "
            f"got {_short_repr(value)}."
        )


def check_flag(name: str, value: Any) -> None:
    """Raises TypeError unless ``value`` is a Python or NumPy bool (it selects a formula at trace time)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"lossjax: `{name}` must be a Python bool, got {_short_repr(value)}. It selects "
            "the formula at trace time and cannot be a traced value."
        )


def check_callable(name: str, value: Any) -> None:
    """Raises TypeError unless ``value`` is callable (checked when a wrapper is built)."""
    if not callable(value):
        raise TypeError(
            f"lossjax: `{name}` must be a callable, got {type(value).__name__} "
            f"{_short_repr(value)}."
        )


def check_ignore_index(ignore_index: Any) -> None:
    """Raises TypeError unless ``ignore_index`` is None or a Python int (a bool is not)."""
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral)
    ):
        raise TypeError(
            f"lossjax: `ignore_index` must be a Python int or None, got {ignore_index!r}."
        )


def check_reduction(reduction: Any) -> None:
    check_choice("reduction", reduction, REDUCTIONS)


def _axis_size(name: Any) -> Any:
    axis_size = getattr(jax.lax, "axis_size", None)
    if axis_size is not None:
        return axis_size(name)
    return jax.lax.psum(1, name)  # pragma: no cover - JAX without lax.axis_size


def check_axis_name(axis_name: Any) -> None:
    """Raises unless every name in ``axis_name`` is bound by an enclosing mapped transformation.

    JAX's own error for an unbound name is ``NameError: unbound axis name``,
    raised from deep inside a collective; this one says which argument and
    what binds a name.
    """
    if axis_name is None:
        return
    names = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    for name in names:
        try:
            hash(name)
        except TypeError as e:
            raise TypeError(
                f"lossjax: `axis_name` must be a hashable name or a tuple of names, got "
                f"{_short_repr(axis_name)}."
            ) from e
        try:
            _axis_size(name)
        except NameError as e:
            raise NameError(
                f"lossjax: `axis_name`={name!r} is not bound here: a mapped axis name must be "
                "bound by `jax.shard_map` (or `jax.pmap`, or `jax.vmap(..., axis_name=...)`) "
                "around the call. Without them, drop `axis_name` (under jax.jit with sharded "
                "inputs the sums are already global)."
            ) from e


# -- hyperparameters ---------------------------------------------------------------


def is_static(value: Any) -> bool:
    """True when ``value`` is known while tracing (a Python or NumPy number/array)."""
    return not _has_tracer(value)


def _range_text(lower: Any, upper: Any, lower_open: bool, upper_open: bool) -> str:
    if lower is not None and upper is not None:
        lo = f"{'(' if lower_open else '['}{lower}"
        hi = f"{upper}{')' if upper_open else ']'}"
        return f"in {lo}, {hi}"
    if lower is not None:
        return f"{'>' if lower_open else '>='} {lower}"
    if upper is not None:
        return f"{'<' if upper_open else '<='} {upper}"
    return "a real number, not NaN"


def check_hyperparameter(
    name: str,
    value: Any,
    *,
    lower: float | None = None,
    upper: float | None = None,
    lower_open: bool = False,
    upper_open: bool = False,
    scalar: bool = False,
) -> None:
    """Checks a hyperparameter's type, shape and range; None passes (it means "not given").

    * Strings, dicts, ragged lists and other non-numbers raise TypeError, and
      with ``scalar=True`` so does an array (``delta=[1, 2]``), all naming
      ``name``. Traced values are checked for their type and shape too.
    * The range (and NaN) is checked at once for a value known at trace time.
      A traced value (a hyperparameter swept with ``jax.vmap``, differentiated,
      or an argument of a jitted function) is range-checked at run time in
      checked mode (:func:`lossjax.checked`) and passes unchecked otherwise.
    """
    if value is None:
        return
    arr: jax.Array | np.ndarray
    if _has_tracer(value):
        arr = jnp.asarray(value)
    else:
        if isinstance(value, (str, bytes, dict)):
            raise TypeError(f"lossjax: `{name}` must be a real number, got {_short_repr(value)}.")
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as e:  # ragged lists, unconvertible objects
            raise TypeError(
                f"lossjax: `{name}` must be a real number, got {_short_repr(value)}."
            ) from e
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
        raise TypeError(f"lossjax: `{name}` must be a real number, got {_short_repr(value)}.")
    if scalar and arr.ndim != 0:
        raise TypeError(
            f"lossjax: `{name}` must be a scalar (a number or a 0-d array), got shape "
            f"{tuple(arr.shape)}: {_short_repr(value)}."
        )
    want = _range_text(lower, upper, lower_open, upper_open)

    def out_of_range(xp: Any, x: Any) -> tuple[Any, Any]:
        bad = xp.isnan(x) if xp.issubdtype(x.dtype, xp.floating) else xp.zeros(x.shape, bool)
        if lower is not None:
            bad = bad | ((x <= lower) if lower_open else (x < lower))
        if upper is not None:
            bad = bad | ((x >= upper) if upper_open else (x > upper))
        return bad, x

    if isinstance(arr, np.ndarray):
        bad, _ = out_of_range(np, arr)
        if bad.any():
            shown = value if arr.ndim == 0 else arr[bad].tolist()
            raise ValueError(f"lossjax: `{name}` must be {want}, got {shown!r}.")
        return
    check_values(f"lossjax: `{name}` must be {want}, got {{:.7g}}.", out_of_range, arr)


def compute_dtype(*arrays: Any) -> jnp.dtype:
    """The dtype a loss computes in: the inputs' float type, at least float32.

    bfloat16 and float16 inputs are upcast so that logs, exps and the reduction
    are not quantised; float64 stays float64 when x64 is enabled.
    """
    dtype = jnp.dtype(jnp.float32)
    for a in arrays:
        if a is not None and jnp.issubdtype(jnp.result_type(a), jnp.floating):
            dtype = jnp.promote_types(dtype, jnp.result_type(a))
    return dtype


def hyperparameter(value: Any, dtype: jnp.dtype) -> jax.Array:
    """A (possibly traced) hyperparameter as an array of the compute dtype."""
    return jnp.asarray(value).astype(dtype)


# -- value checks of the inputs ------------------------------------------------------


def _kept(xp: Any, bad: Any, where: Any) -> Any:
    """``bad`` on the kept entries only; a per-example ``where`` covers trailing class axes."""
    if where is None:
        return bad
    where = xp.reshape(where, tuple(where.shape) + (1,) * (bad.ndim - where.ndim))
    return bad & xp.broadcast_to(where, bad.shape)


def check_unit_interval(name: str, x: Any, what: str, hint: str = "") -> None:
    """Values in [0, 1] (``what`` says so: labels of a binary cross-entropy, probabilities).

    A clear mistake: checked in the default mode too when the values are concrete.

    NaN passes (it propagates to the loss, which is not a plausible number);
    entries removed by ``where`` must have been replaced by the front already.
    """
    check_values(
        f"lossjax: `{name}` must be {what}, got {{:.7g}}.{hint}",
        lambda xp, v: ((v < 0) | (v > 1), v),
        x,
        default=True,
    )


def check_non_negative(
    name: str, x: Any, where: Any = None, *, what: str = "non-negative", default: bool = True
) -> None:
    """Non-negative values (weights, target probabilities); by default a clear mistake."""
    check_values(
        f"lossjax: `{name}` must be {what}, got {{:.7g}}.",
        lambda xp, v, w: (_kept(xp, v < 0, w), v),
        x,
        where,
        default=default,
    )


def check_distributions(name: str, targets: Any, where: Any = None, *, log: bool = False) -> None:
    """Checked mode: ``targets`` ``[..., K]`` (class axis last) sum to 1 over the classes.

    ``where`` is the per-example mask (removed examples are not checked). The
    tolerance, ``1e-3 + K * eps``, allows float32 rounding of the sum of
    ``K`` terms. With ``log=True`` the targets are log-probabilities.
    """

    def not_normalised(xp: Any, t: Any, w: Any) -> tuple[Any, Any]:
        p = xp.exp(t) if log else t
        total = xp.sum(p, axis=-1)
        tolerance = 1e-3 + t.shape[-1] * float(np.finfo(np.float32).eps)
        return _kept(xp, xp.abs(total - 1) > tolerance, w), total

    what = "exp(`targets`) (log-probabilities with log_targets=True)" if log else f"`{name}`"
    check_values(
        f"lossjax: {what} must sum to 1 over the class axis (target distributions), got a sum "
        "of {:.7g}. Normalise soft targets; for integer class labels use "
        "sparse_categorical_cross_entropy.",
        not_normalised,
        targets,
        where,
    )


def check_class_labels(
    name: str, labels: Any, num_classes: int, ignore_index: Any = None, where: Any = None
) -> None:
    """Checked mode: integer labels in ``[0, num_classes)`` or ``ignore_index``.

    In the default mode out-of-range labels are removed like ``ignore_index``
    (they cannot raise under ``jax.jit``); checked mode makes them an error.
    """

    def out_of_range(xp: Any, y: Any, w: Any) -> tuple[Any, Any]:
        bad = (y < 0) | (y >= num_classes)
        if ignore_index is not None:
            bad = bad & (y != ignore_index)
        return _kept(xp, bad, w), y

    ignore = "" if ignore_index is None else f" or ignore_index={ignore_index}"
    check_values(
        f"lossjax: `{name}` must be class indices in [0, {num_classes}){ignore}, got {{:.7g}}.",
        out_of_range,
        labels,
        where,
    )


def check_probabilities(name: str, x: Any, *, from_logits: bool = False) -> None:
    """``from_logits=False``: the first argument holds probabilities in [0, 1] (a clear mistake).

    Nothing to check with ``from_logits=True``.
    """
    if from_logits:
        return
    check_unit_interval(
        name,
        x,
        "probabilities in [0, 1] with from_logits=False",
        " Pass logits with from_logits=True (the default).",
    )


def check_binary_inputs(name: str, x: Any, labels: Any, *, from_logits: bool) -> None:
    """The binary cross-entropies: labels in [0, 1], and probabilities without logits."""
    check_unit_interval(
        "labels",
        labels,
        "0/1 or soft labels in [0, 1]",
        " Labels in -1/+1 map to 0/1 with `(labels + 1) / 2`; hinge_loss takes them as they are.",
    )
    if not from_logits:
        check_probabilities(name, x)


def check_target_distributions(
    name: str, targets: Any, where: Any = None, *, log: bool = False
) -> None:
    """Targets ``[..., K]`` (class axis last): non-negative (a clear mistake) and, in checked
    mode, summing to 1. With ``log=True`` they are log-probabilities (only the sum is checked).
    """
    if not log:
        check_non_negative(name, targets, where, what="non-negative probabilities")
    check_distributions(name, targets, where, log=log)
