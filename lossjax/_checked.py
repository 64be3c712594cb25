"""Checked mode: value checks on request, under ``jax.jit``, ``jax.vmap`` and ``jax.grad`` too.

What is checked, and when (the checks themselves are in :mod:`lossjax._checks`):

==========================================  ==============================  ==========================
check                                       default mode                    ``lossjax.checked``
==========================================  ==============================  ==========================
shapes, dtypes, flags, static options,      at trace time, always           same
static hyperparameter ranges
binary labels in [0, 1], probabilities      concrete inputs only (eager     concrete and traced
in [0, 1] (``from_logits=False``),          calls): raise at once           values
non-negative weights and target
probabilities
class labels in [0, K) (else removed),      never (documented behaviour)    concrete and traced
targets summing to 1, traced                                                values
hyperparameter ranges
==========================================  ==============================  ==========================

With checks off, a traced value is never inspected: the compiled program is
exactly the one without checks (no operation is added) and its result is
deterministic. Entries removed by ``where`` (or a class removed by
``class_mask``) are never checked: they may hold anything, NaN included.
NaN itself is not a range violation (it propagates to the loss).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import jax
from jax.experimental import checkify

from lossjax import _checks

F = TypeVar("F", bound=Callable[..., Any])

_SUFFIX = " (`check` failed)"


def _message(text: str) -> str:
    """checkify's message, with the lossjax message first and checkify's suffix removed."""
    text = text.strip()
    if text.endswith(_SUFFIX):
        text = text[: -len(_SUFFIX)]
    start = text.find("lossjax:")
    if start > 0:  # "at mapped index 3: lossjax: ..." under jax.vmap
        prefix = text[:start].strip().rstrip(":")
        text = f"{text[start:]} ({prefix})"
    return text


def checked(fn: F) -> F:
    r"""Runs ``fn`` with lossjax's value checks on, raising ``ValueError`` on bad values.

    Every lossjax loss, penalty and transform called inside ``fn`` checks the
    *values* of its inputs, not only their shapes and dtypes: labels in range
    (binary labels in :math:`[0, 1]`, class labels in :math:`[0, K)` or
    ``ignore_index``), probabilities in :math:`[0, 1]` with
    ``from_logits=False``, targets that are distributions (non-negative,
    summing to 1), non-negative weights, and hyperparameter ranges (Huber's
    ``delta``, ``pos_weight``, focal ``alpha``, a temperature, ``z_loss``, a
    regularization strength), also when they are traced. The first violation
    raises ``ValueError`` with the same ``lossjax:`` message as the eager
    check, after the run.

    It works whatever ``fn`` does with JAX: the checks are emitted while
    ``fn`` is traced and functionalised by ``jax.experimental.checkify``, so
    ``lossjax.checked(jax.jit(step))``, ``lossjax.checked(jax.vmap(loss))`` and
    ``lossjax.checked(jax.grad(loss))`` all check. ``checked`` must be the
    outermost transformation: inside ``jax.jit`` (``jax.jit(checked(f))``)
    there is no Python left at run time to raise, and it says so at trace
    time. Nested ``checked`` calls are fine. Wrap a jitted function for speed:
    ``checked(fn)`` alone re-traces ``fn`` on every call, while
    ``checked(jax.jit(fn))`` compiles once (with the checks) and reuses it.

    Caching: checked mode is part of ``jax.jit``'s cache key, so a function
    jitted and run with checks off is traced again, with the checks, the first
    time it runs under ``checked``, and its unchecked program is still used
    outside. A trace without checks is never reused silently in checked mode,
    nor a checked one outside it.

    Outside ``checked`` (the default) traced values are never inspected: zero
    cost, and exactly the program without checks. Concrete inputs of an eager
    call are still checked for the clear mistakes (binary labels or
    probabilities outside :math:`[0, 1]`, negative weights or target
    probabilities), which costs a transfer to the host; the module docstring
    has the full table.

    Args:
        fn: any function; its outputs must be JAX values (arrays, pytrees).

    Returns:
        A function with the signature of ``fn`` that returns what ``fn``
        returns, or raises ``ValueError`` naming the argument and the first
        offending value.

    Example:
        >>> import jax, jax.numpy as jnp, lossjax
        >>> logits = jnp.array([2.0, -1.0])
        >>> loss = jax.jit(lossjax.binary_cross_entropy)
        >>> loss(logits, jnp.array([1.0, -1.0]))  # ±1 labels: a plausible, wrong number
        Array(-0.2799052, dtype=float32)
        >>> lossjax.checked(loss)(logits, jnp.array([1.0, -1.0]))
        Traceback (most recent call last):
        ...
        ValueError: lossjax: `labels` must be 0/1 or soft labels in [0, 1], got -1. ...
        >>> lossjax.checked(loss)(logits, jnp.array([1.0, 0.0]))
        Array(0.22009484, dtype=float32)

    References:
        ``jax.experimental.checkify`` (https://docs.jax.dev/en/latest/debugging/checkify_guide.html).
    """
    _checks.check_callable("fn", fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _checks.checks_enabled():  # inside another `checked`: it functionalises
            return fn(*args, **kwargs)
        with _checks.enable_checks():
            error, out = checkify.checkify(fn)(*args, **kwargs)
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(error)):
            raise TypeError(
                "lossjax: `checked` must be the outermost transformation: it raises after the "
                "run, which is impossible inside jax.jit, jax.vmap or jax.grad. Write "
                "`lossjax.checked(jax.jit(f))`, not `jax.jit(lossjax.checked(f))`."
            )
        message = error.get()
        if message is not None:
            raise ValueError(_message(message))
        return out

    return wrapper  # type: ignore[return-value]
