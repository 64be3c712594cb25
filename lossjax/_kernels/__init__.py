"""Optional fast paths ("kernels") and the one place that chooses them.

Every loss is defined by its reference formula in its topic module: that
formula is the loss, and its derivative is the loss's derivative. A kernel is
a second implementation of one reference that steers one compiler (for
example an optimization barrier that keeps XLA:CPU from merging two passes).
Kernels live in this package only; nothing else in lossjax reads the backend
or calls ``optimization_barrier``.

A kernel is used only when all of these hold:

* the mode is ``"auto"`` (the default; see :func:`set_kernels`),
* the default backend is one the kernel was measured on (``kernel.backends``),
* the kernel is registered for that loss.

Otherwise the reference runs. The choice is made while tracing, so a function
traced (jitted) in one mode keeps that choice until it is traced again.
A kernel stays in this package only while ``benchmarks/run.py`` shows it at
least 1.5x faster than its reference (value and gradient, at 1M elements and
more) and never slower at any benchmarked size.

No kernel is registered today: the split-passes kernel of Huber and log-cosh
(an optimization barrier between the value and the derivative on XLA:CPU) was
measured at 0.87x to 1.15x of its reference and deleted (benchmarks/RESULTS.md).
A loss that gets a kernel calls ``choose(name, reference)`` where it would call
its reference formula.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import Any, Literal

import jax

KernelMode = Literal["auto", "reference"]
_MODES = ("auto", "reference")


def _initial_mode() -> str:
    mode = os.environ.get("LOSSJAX_KERNELS", "auto")
    if mode not in _MODES:
        raise ValueError(
            f"lossjax: the environment variable LOSSJAX_KERNELS must be one of "
            f"{', '.join(repr(m) for m in _MODES)}; got {mode!r}."
        )
    return mode


_mode = _initial_mode()


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A fast path for one reference formula, with the backends it was measured on."""

    name: str
    fn: Callable[..., Any]
    backends: tuple[str, ...]


_REGISTRY: dict[str, Kernel] = {}


def register(name: str, fn: Callable[..., Any], *, backends: tuple[str, ...]) -> None:
    """Registers ``fn`` as the fast path of the reference called ``name``."""
    if name in _REGISTRY:
        raise ValueError(f"lossjax: a kernel for {name!r} is already registered.")
    _REGISTRY[name] = Kernel(name, fn, backends)


def registered() -> dict[str, Kernel]:
    """The registered kernels by reference name (a copy)."""
    return dict(_REGISTRY)


def set_kernels(mode: KernelMode) -> None:
    """Chooses whether lossjax may use its optional fast paths.

    ``"auto"`` (the default) uses a registered kernel on the backends it was
    benchmarked on and the reference formula everywhere else; ``"reference"``
    always uses the reference formulas. Results agree to float rounding either
    way. The choice is read when a loss is traced: set it before calling
    ``jax.jit`` (a function already compiled keeps its choice). The
    environment variable ``LOSSJAX_KERNELS`` sets the initial mode.

    Args:
        mode: ``"auto"`` or ``"reference"``.

    Returns:
        None.

    Example:
        >>> import lossjax
        >>> previous = lossjax.get_kernels()
        >>> lossjax.set_kernels("reference")
        >>> lossjax.get_kernels()
        'reference'
        >>> lossjax.set_kernels(previous)
    """
    global _mode
    if mode not in _MODES:
        raise ValueError(
            f"lossjax: `mode` must be one of {', '.join(repr(m) for m in _MODES)}; got {mode!r}."
        )
    _mode = mode


def get_kernels() -> KernelMode:
    """The current kernel mode (see :func:`set_kernels`).

    Returns:
        ``"auto"`` or ``"reference"``.

    Example:
        >>> import lossjax
        >>> lossjax.get_kernels() in ("auto", "reference")
        True
    """
    return _mode  # type: ignore[return-value]


@contextlib.contextmanager
def kernels(mode: KernelMode) -> Iterator[None]:
    """Context manager form of :func:`set_kernels`; restores the previous mode on exit.

    Args:
        mode: ``"auto"`` or ``"reference"``, for the body of the ``with`` block.

    Yields:
        Nothing; the mode holds inside the block.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> with lossjax.kernels("reference"):
        ...     lossjax.huber_loss(jnp.array([0.5, 3.0]), jnp.zeros(2))
        Array(1.3125, dtype=float32)
    """
    previous = get_kernels()
    set_kernels(mode)
    try:
        yield
    finally:
        set_kernels(previous)


def choose(name: str, reference: Callable[..., Any]) -> Callable[..., Any]:
    """The function to run for the reference ``name``: its kernel where allowed, else ``reference``."""
    kernel = _REGISTRY.get(name)
    if kernel is None or _mode == "reference":
        return reference
    if jax.default_backend() not in kernel.backends:
        return reference
    return kernel.fn
