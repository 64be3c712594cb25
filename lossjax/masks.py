"""Ready-made regularization masks (``lossjax.masks``).

A mask tells the penalties (:func:`lossjax.l1_penalty`, ...), :func:`lossjax.regularized`
and the transforms (:func:`lossjax.add_l2`, :func:`lossjax.proximal_l1`, ...) which
parameter leaves to regularize. The masks here are callables ``params -> tree of bools``
(``True`` = regularize), the form ``optax.masked`` also accepts, so they work for
any parameter pytree, including ``nnx.State``, and are evaluated from static
shapes only (no run-time cost, fine under ``jax.jit``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

__all__ = ["exclude_biases_and_norms", "only_rank_at_least"]


def only_rank_at_least(n: int) -> Callable[[Any], Any]:
    """A mask that regularizes only the leaves whose rank (``ndim``) is at least ``n``.

    Args:
        n: minimal rank, a non-negative Python int.

    Returns:
        A callable ``params -> pytree of bools`` with the structure of ``params``.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> params = {"kernel": jnp.ones((3, 3, 2, 4)), "dense": jnp.ones((4, 2))}
        >>> lossjax.masks.only_rank_at_least(3)(params)
        {'dense': False, 'kernel': True}
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"lossjax: `n` must be a non-negative int, got {n!r}.")
    n = int(n)

    def mask(params: Any) -> Any:
        return jax.tree.map(lambda x: np.ndim(x) >= n, params)

    mask.__name__ = mask.__qualname__ = f"only_rank_at_least({n})"
    return mask


def exclude_biases_and_norms(params: Any) -> Any:
    """Regularize weight matrices and kernels only: leaves of rank >= 2.

    Biases and normalization scales/offsets (``nnx.LayerNorm``, ``nnx.BatchNorm``,
    ``nnx.RMSNorm``) are vectors of rank 1 in Flax, and scalars are rank 0, so
    both are left unregularized, the usual choice for weight decay. The rule is
    by rank, not by name: an embedding table (rank 2) is regularized; use a
    tree of booleans when you need name-based control.

    Args:
        params: a parameter pytree (dict, list, ``nnx.State``, ...).

    Returns:
        A pytree of Python bools with the structure of ``params``.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.masks.exclude_biases_and_norms({"w": jnp.ones((2, 3)), "b": jnp.ones(3)})
        {'b': False, 'w': True}
    """
    return jax.tree.map(lambda x: np.ndim(x) >= 2, params)
