r"""Regularization that composes with optax: penalties, gradient transforms, proximal L1.

Three ways to regularize the same objective ``loss + strength * penalty``:

* **Penalties** (:func:`l1_penalty`, :func:`l2_penalty`, :func:`elastic_net_penalty`)
  are pure functions of a parameter pytree; :func:`regularized` adds them to a
  loss function, so ``jax.grad`` differentiates loss and penalty together.
* **Gradient transforms** (:func:`add_l1`, :func:`add_l2`, :func:`add_elastic_net`)
  add the penalty's (sub)gradient to the updates inside ``optax.chain``, placed
  *before* the optimizer; they take the same steps as the first route.
* **Proximal L1** (:func:`proximal_l1`), placed *after* the optimizer, replaces
  the step by the soft-thresholding proximal step. Only this route produces exact
  zeros: a (sub)gradient step overshoots zero by up to ``learning_rate * strength``
  and keeps oscillating around it, while soft-thresholding sets every coordinate
  with ``|w| <= threshold`` to ``0.0`` exactly.

Conventions (one for every function here, chosen so the routes agree exactly):

* ``l2_penalty`` is :math:`\sum w^2`, with no factor 1/2. Its gradient, and what
  :func:`add_l2` adds, is therefore :math:`2\lambda w`. (``optax.add_decayed_weights``
  adds :math:`\lambda w`, i.e. it corresponds to :math:`\tfrac{\lambda}{2}\sum w^2`.)
* The subgradient of :math:`|w|` is ``sign(w)`` with ``sign(0) = 0``. ``jnp.abs``
  alone would give a gradient of 1 at 0 under ``jax.grad``, so the penalties go
  through a small ``custom_jvp`` absolute value whose derivative is ``sign``.
* Only real floating-point leaves are regularized. Integer, boolean and PRNG-key
  leaves (step counters, keys in a model state) are skipped: they contribute 0 to
  the penalty and their updates pass through unchanged. Complex leaves raise
  ``TypeError`` because :math:`w^2` is ambiguous for them.
* Penalties are computed in at least float32 (bfloat16/float16 parameters are
  upcast; float64 stays float64 under x64). Transforms return updates in the
  updates' own dtype.

Masks follow optax: ``mask`` is a pytree of Python booleans with the structure of
the parameters or a prefix of it (a boolean at a node applies to the whole
subtree), or a callable that maps the parameters to such a pytree. ``True`` means
"regularize this leaf". The flags must be static (Python or NumPy booleans), so a
mask costs nothing at run time. Ready-made masks are in :mod:`lossjax.masks`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lossjax import _checks, _numerics

if TYPE_CHECKING:  # optax is imported where a transform is built: `import lossjax` stays cheap
    import optax

Mask = Any  # a pytree of bools (or a prefix of the params' tree), or params -> such a tree
_INT32_MAX = np.iinfo(np.int32).max


# --------------------------------------------------------------------------- helpers


@jax.custom_jvp
def _abs(x: jax.Array) -> jax.Array:
    return jnp.abs(x)


@_abs.defjvp
def _abs_jvp(primals, tangents):
    # Subgradient sign(x): 0 at x = 0 (jnp.abs alone differentiates to 1 there),
    # so jax.grad of the penalty matches what add_l1 adds.
    (x,), (x_dot,) = primals, tangents
    return _abs(x), jnp.sign(x) * x_dot


def _is_regularizable(x: Any) -> bool:
    """True for real floating leaves; False for integer/bool/key leaves; complex raises."""
    if isinstance(x, (str, bytes)):  # NumPy would read 'f4' or 'a' as a dtype code
        dtype = None
    else:
        try:
            dtype = jnp.result_type(x)
        except TypeError:
            dtype = None
    if dtype is None:
        raise TypeError(
            f"lossjax: `params` must be a pytree of numeric arrays, got a leaf of type "
            f"{type(x).__name__}: {x!r:.80}."
        )
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(
            f"lossjax: regularization of complex parameters is not supported, got a leaf of "
            f"dtype {dtype}. Regularize its real and imaginary parts separately, or mask it out."
        )
    return bool(jnp.issubdtype(dtype, jnp.floating))


def _static_flag(flag: Any) -> bool:
    if isinstance(flag, jax.core.Tracer):
        raise TypeError(
            "lossjax: `mask` leaves must be static booleans (Python or NumPy bools), got a "
            "traced array. Compute masks from shapes, ranks or names, not from values."
        )
    arr = np.asarray(flag)
    if arr.shape != () or arr.dtype != np.bool_:
        raise TypeError(
            f"lossjax: `mask` leaves must be booleans (True = regularize this leaf), got {flag!r}."
        )
    return bool(arr)


def _resolve_mask(mask: Mask, params: Any) -> Any:
    """The mask as a tree of Python bools with exactly the structure of ``params``.

    Returns None when there is no mask (every leaf is regularized).
    """
    if mask is None:
        return None
    tree = mask(params) if callable(mask) else mask
    try:
        # A flag at an inner node of `params` covers that whole subtree (optax's prefix rule).
        return jax.tree.map(
            lambda flag, sub: jax.tree.map(lambda _: _static_flag(flag), sub), tree, params
        )
    except ValueError as e:
        raise ValueError(
            "lossjax: `mask` must be a pytree of booleans with the structure of the parameters "
            "(or a prefix of it), or a callable returning one; its structure "
            f"{jax.tree.structure(tree)} does not match the parameters' structure "
            f"{jax.tree.structure(params)}."
        ) from e


def _selected_leaves(params: Any, mask: Mask) -> list[jax.Array]:
    """The floating leaves of ``params`` that ``mask`` selects, as arrays."""
    leaves = jax.tree.leaves(params)
    resolved = _resolve_mask(mask, params)
    flags = [True] * len(leaves) if resolved is None else jax.tree.leaves(resolved)
    return [
        jnp.asarray(x)
        for x, keep in zip(leaves, flags, strict=True)
        if keep and _is_regularizable(x)
    ]


def _sum_over_leaves(leaves: list[jax.Array], fn: Callable[[jax.Array], jax.Array]) -> jax.Array:
    dtype = _checks.compute_dtype(*leaves)
    total = jnp.zeros((), dtype)
    for x in leaves:
        total = total + jnp.sum(fn(x.astype(dtype)))
    return total


def _check_strength(name: str, value: Any) -> None:
    if not callable(value):
        _checks.check_hyperparameter(name, value, lower=0.0)


def _check_l1_ratio(l1_ratio: Any) -> None:
    _checks.check_hyperparameter("l1_ratio", l1_ratio, lower=0.0, upper=1.0)


def _is_static_zero(value: Any) -> bool:
    # A strength may be a schedule (a callable): never statically zero.
    return not callable(value) and _numerics.is_static_zero(value)


# --------------------------------------------------------------------------- penalties


def l1_penalty(params: Any, *, mask: Mask = None) -> jax.Array:
    r"""L1 penalty: the sum of absolute values of every (selected) parameter.

    .. math::

        \Omega_1(w) = \sum_i |w_i|

    The gradient is ``sign(w)``, which is 0 at ``w = 0`` (a subgradient).

    Args:
        params: a pytree of arrays (dicts, lists, tuples, ``nnx.State``, ...).
            Only real floating leaves count; integer/bool/key leaves are skipped.
        mask: optional pytree of booleans (the params' structure or a prefix of
            it), or a callable ``params -> mask``; ``True`` = regularize the leaf.

    Returns:
        A scalar, float32 at least (float64 for float64 parameters).

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> params = {"w": jnp.array([[1.0, -2.0]]), "b": jnp.array([-3.0])}
        >>> lossjax.l1_penalty(params)
        Array(6., dtype=float32)
        >>> lossjax.l1_penalty(params, mask=lossjax.masks.exclude_biases_and_norms)
        Array(3., dtype=float32)

    References:
        Tibshirani, "Regression Shrinkage and Selection via the Lasso", 1996.
    """
    return _sum_over_leaves(_selected_leaves(params, mask), _abs)


def l2_penalty(params: Any, *, mask: Mask = None) -> jax.Array:
    r"""L2 penalty: the sum of squares of every (selected) parameter, without a 1/2.

    .. math::

        \Omega_2(w) = \sum_i w_i^2, \qquad \nabla \Omega_2(w) = 2w

    Note the convention: no factor :math:`\tfrac12`, so ``lam * l2_penalty`` has
    gradient ``2 * lam * w`` (what :func:`add_l2` adds). ``optax.add_decayed_weights(wd)``
    corresponds to ``(wd / 2) * l2_penalty``.

    Args:
        params: a pytree of arrays. Only real floating leaves count.
        mask: optional pytree of booleans or callable ``params -> mask``.

    Returns:
        A scalar, float32 at least.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> params = {"w": jnp.array([[1.0, -2.0]]), "b": jnp.array([-3.0])}
        >>> lossjax.l2_penalty(params)
        Array(14., dtype=float32)
        >>> lossjax.l2_penalty(params, mask={"w": True, "b": False})
        Array(5., dtype=float32)

    References:
        Hoerl & Kennard, "Ridge Regression: Biased Estimation for Nonorthogonal
        Problems", 1970.
    """
    return _sum_over_leaves(_selected_leaves(params, mask), jnp.square)


def elastic_net_penalty(params: Any, *, l1_ratio: Any = 0.5, mask: Mask = None) -> jax.Array:
    r"""Elastic-net penalty: a convex combination of the L1 and L2 penalties.

    .. math::

        \Omega(w) = \rho \sum_i |w_i| + (1 - \rho) \sum_i w_i^2, \qquad \rho = \text{l1\_ratio}

    with the same conventions as :func:`l1_penalty` and :func:`l2_penalty` (no
    1/2 on the squares). scikit-learn's ``ElasticNet`` uses
    :math:`\alpha\rho\|w\|_1 + \tfrac{\alpha}{2}(1-\rho)\|w\|_2^2` instead.

    Args:
        params: a pytree of arrays. Only real floating leaves count.
        l1_ratio: :math:`\rho \in [0, 1]`; 1 is pure L1, 0 is pure L2. A Python
            number or a (traced) scalar.
        mask: optional pytree of booleans or callable ``params -> mask``.

    Returns:
        A scalar, float32 at least.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.elastic_net_penalty({"w": jnp.array([[1.0, -2.0]])}, l1_ratio=0.25)
        Array(4.5, dtype=float32)

    References:
        Zou & Hastie, "Regularization and Variable Selection via the Elastic Net", 2005.
    """
    _check_l1_ratio(l1_ratio)
    leaves = _selected_leaves(params, mask)
    l1 = _sum_over_leaves(leaves, _abs)
    l2 = _sum_over_leaves(leaves, jnp.square)
    rho = _checks.hyperparameter(l1_ratio, l1.dtype)
    return rho * l1 + (1 - rho) * l2


def regularized(
    loss_fn: Callable[..., Any],
    *,
    l1: ArrayLike = 0.0,
    l2: ArrayLike = 0.0,
    mask: Mask = None,
    has_aux: bool = False,
) -> Callable[..., Any]:
    r"""Wraps ``loss_fn(params, ...)`` so that it returns the loss plus penalties.

    .. math::

        \text{regularized}(w, \ldots) = \text{loss\_fn}(w, \ldots)
            + \text{l1} \sum_i |w_i| + \text{l2} \sum_i w_i^2

    The wrapper has the signature of ``loss_fn`` (``functools.wraps``); its first
    positional argument must be the parameter pytree. It works under
    ``jax.grad``, ``jax.value_and_grad`` and ``jax.jit``. Detection of auxiliary
    outputs is explicit, never guessed: with ``has_aux=True`` the loss function
    must return ``(loss, aux)``, the penalty is added to ``loss`` and ``aux`` is
    returned unchanged (as ``jax.value_and_grad(..., has_aux=True)`` expects).
    A static zero strength adds no computation.

    Args:
        loss_fn: ``loss_fn(params, *args, **kwargs) -> loss`` (or ``(loss, aux)``).
        l1: non-negative L1 strength (number or traced scalar).
        l2: non-negative L2 strength; note the convention :math:`\sum w^2`.
        mask: optional pytree of booleans or callable ``params -> mask``; see
            :mod:`lossjax.masks`.
        has_aux: whether ``loss_fn`` returns ``(loss, aux)``.

    Returns:
        The regularized loss function.

    Example:
        >>> import jax, jax.numpy as jnp, lossjax
        >>> def loss(params, x, y):
        ...     return lossjax.mean_squared_error(x @ params["w"], y)
        >>> reg = lossjax.regularized(loss, l2=0.5)
        >>> params = {"w": jnp.array([1.0, 2.0])}
        >>> reg(params, jnp.eye(2), jnp.zeros(2))  # 2.5 + 0.5 * 5
        Array(5., dtype=float32)
        >>> jax.grad(reg)(params, jnp.eye(2), jnp.zeros(2))["w"]
        Array([2., 4.], dtype=float32)
    """
    _checks.check_callable("loss_fn", loss_fn)
    _check_strength("l1", l1)
    _check_strength("l2", l2)
    if callable(l1) or callable(l2):
        raise TypeError(
            "lossjax: `l1` and `l2` of `regularized` must be numbers or scalar arrays; "
            "use add_l1/add_l2 with an optax schedule for a schedule."
        )
    use_l1, use_l2 = not _is_static_zero(l1), not _is_static_zero(l2)

    def penalty(params: Any) -> jax.Array:
        leaves = _selected_leaves(params, mask)
        total = jnp.zeros((), _checks.compute_dtype(*leaves))
        if use_l1:
            value = _sum_over_leaves(leaves, _abs)
            total = total + _checks.hyperparameter(l1, value.dtype) * value
        if use_l2:
            value = _sum_over_leaves(leaves, jnp.square)
            total = total + _checks.hyperparameter(l2, value.dtype) * value
        return total

    @functools.wraps(loss_fn)
    def wrapped(params: Any, *args: Any, **kwargs: Any) -> Any:
        out = loss_fn(params, *args, **kwargs)
        if not has_aux:
            return out + penalty(params)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                "lossjax: with has_aux=True, `loss_fn` must return a pair (loss, aux), "
                f"got {type(out).__name__}."
            )
        loss, aux = out
        return loss + penalty(params), aux

    return wrapped


# --------------------------------------------------------------------------- transforms


class RegularizationState(NamedTuple):
    """State of the lossjax regularization transforms: the step count for schedules."""

    # int32 scalar, saturating at the int32 maximum (the name shadows tuple.count, as optax's).
    count: jax.Array  # type: ignore[assignment]


def _init(params: Any) -> RegularizationState:
    del params
    return RegularizationState(count=jnp.zeros((), jnp.int32))


def _next_count(count: jax.Array) -> jax.Array:
    # Saturate instead of wrapping around to negative step counts.
    return jnp.where(count < _INT32_MAX, count + 1, count)


def _strength_at(strength: Any, count: jax.Array) -> jax.Array:
    value = strength(count) if callable(strength) else strength
    # A schedule's value is traced: range-checked at run time in lossjax.checked mode.
    _checks.check_hyperparameter("strength", value, lower=0.0)
    return jnp.asarray(value)


def _require_params(name: str, params: Any) -> None:
    if params is None:
        raise ValueError(
            f"lossjax.{name}: `params` is None. This transformation needs the current "
            "parameter values; call `tx.update(updates, state, params)` with the parameters "
            "(nnx.Optimizer does this for you)."
        )


def _map_selected(
    fn: Callable[[jax.Array, jax.Array], jax.Array], updates: Any, params: Any, mask: Mask
) -> Any:
    """Applies ``fn(update, param)`` to the selected floating leaves; others pass through."""
    resolved = _resolve_mask(mask, params)

    def leaf(u, p, keep=True):
        if not keep or not _is_regularizable(p):
            return u
        dtype = _checks.compute_dtype(u, p)
        return fn(jnp.asarray(u).astype(dtype), jnp.asarray(p).astype(dtype)).astype(
            jnp.result_type(u)
        )

    if resolved is None:
        return jax.tree.map(leaf, updates, params)
    return jax.tree.map(leaf, updates, params, resolved)


def _additive_transform(
    name: str, strength: Any, mask: Mask, gradient: Callable[[jax.Array], jax.Array]
) -> optax.GradientTransformation:
    """A transform adding ``strength * gradient(w)`` to each selected update."""

    def update_fn(updates, state, params=None):
        _require_params(name, params)
        lam = _strength_at(strength, state.count)
        new_updates = _map_selected(
            lambda u, p: u + lam.astype(p.dtype) * gradient(p), updates, params, mask
        )
        return new_updates, RegularizationState(count=_next_count(state.count))

    import optax

    return optax.GradientTransformation(_init, update_fn)


def add_l1(strength: Any, *, mask: Mask = None) -> optax.GradientTransformation:
    r"""Adds the L1 subgradient :math:`\lambda\,\mathrm{sign}(w)` to the updates.

    Place it *before* the optimizer: ``optax.chain(add_l1(lam), optax.sgd(lr))``
    takes the same steps as ``optax.sgd(lr)`` on ``loss + lam * l1_penalty``
    (``sign(0) = 0`` in both). This never produces exact zeros: a weight that
    should be 0 oscillates around it with amplitude about ``lr * lam``. For
    sparse solutions use :func:`proximal_l1`.

    .. math::

        u \leftarrow u + \lambda_t\, \mathrm{sign}(w)

    Args:
        strength: non-negative :math:`\lambda`, a number or an optax schedule
            (a callable of the step count, counted from 0 by this transform).
        mask: optional pytree of booleans or callable ``params -> mask``;
            masked-out leaves pass through unchanged.

    Returns:
        An ``optax.GradientTransformation``; ``update`` requires ``params``.

    Example:
        >>> import jax.numpy as jnp, optax, lossjax
        >>> tx = lossjax.add_l1(0.1)
        >>> params = {"w": jnp.array([2.0, 0.0, -2.0])}
        >>> updates, _ = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
        >>> updates["w"]
        Array([1.1, 1. , 0.9], dtype=float32)
    """
    _check_strength("strength", strength)
    return _additive_transform("add_l1", strength, mask, jnp.sign)


def add_l2(strength: Any, *, mask: Mask = None) -> optax.GradientTransformation:
    r"""Adds the L2 gradient :math:`2\lambda w` to the updates (penalty :math:`\lambda\sum w^2`).

    Place it *before* the optimizer: ``optax.chain(add_l2(lam), optax.sgd(lr))``
    takes the same steps as ``optax.sgd(lr)`` on ``loss + lam * l2_penalty``.
    Because :func:`l2_penalty` has no factor 1/2, this adds ``2 * lam * w``;
    ``add_l2(lam)`` equals ``optax.add_decayed_weights(2 * lam)``. Before Adam
    this is L2 regularization, not decoupled weight decay (AdamW).

    .. math::

        u \leftarrow u + 2\lambda_t\, w

    Args:
        strength: non-negative :math:`\lambda`, a number or an optax schedule.
        mask: optional pytree of booleans or callable ``params -> mask``.

    Returns:
        An ``optax.GradientTransformation``; ``update`` requires ``params``.

    Example:
        >>> import jax.numpy as jnp, optax, lossjax
        >>> tx = lossjax.add_l2(0.1)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> updates, _ = tx.update({"w": jnp.zeros(2)}, tx.init(params), params)
        >>> updates["w"]
        Array([ 0.2, -0.4], dtype=float32)

    References:
        Krogh & Hertz, "A Simple Weight Decay Can Improve Generalization", 1991.
    """
    _check_strength("strength", strength)
    return _additive_transform("add_l2", strength, mask, lambda w: 2 * w)


def add_elastic_net(
    strength: Any, *, l1_ratio: Any = 0.5, mask: Mask = None
) -> optax.GradientTransformation:
    r"""Adds the elastic-net subgradient to the updates.

    Matches ``strength * elastic_net_penalty(params, l1_ratio=l1_ratio)``:

    .. math::

        u \leftarrow u + \lambda_t \big(\rho\, \mathrm{sign}(w) + 2 (1 - \rho)\, w\big)

    Place it before the optimizer, like :func:`add_l1` and :func:`add_l2`.

    Args:
        strength: non-negative :math:`\lambda`, a number or an optax schedule.
        l1_ratio: :math:`\rho \in [0, 1]` (number or traced scalar).
        mask: optional pytree of booleans or callable ``params -> mask``.

    Returns:
        An ``optax.GradientTransformation``; ``update`` requires ``params``.

    Example:
        >>> import jax.numpy as jnp, optax, lossjax
        >>> tx = lossjax.add_elastic_net(0.1, l1_ratio=0.5)
        >>> params = {"w": jnp.array([1.0, -2.0])}
        >>> updates, _ = tx.update({"w": jnp.zeros(2)}, tx.init(params), params)
        >>> updates["w"]
        Array([ 0.15, -0.25], dtype=float32)

    References:
        Zou & Hastie, "Regularization and Variable Selection via the Elastic Net", 2005.
    """
    _check_strength("strength", strength)
    _check_l1_ratio(l1_ratio)

    def gradient(w):
        rho = _checks.hyperparameter(l1_ratio, w.dtype)
        return rho * jnp.sign(w) + 2 * (1 - rho) * w

    return _additive_transform("add_elastic_net", strength, mask, gradient)


def soft_threshold(x: Any, threshold: Any) -> jax.Array:
    r"""Soft-thresholding, the proximal operator of :math:`t\,|\cdot|`.

    .. math::

        S_t(x) = \mathrm{sign}(x)\,\max(|x| - t,\ 0)

    Every entry with :math:`|x| \le t` becomes exactly ``0.0``.

    Args:
        x: floating array.
        threshold: non-negative :math:`t`, a scalar.

    Returns:
        An array like ``x``.

    Example:
        >>> import jax.numpy as jnp, lossjax
        >>> lossjax.soft_threshold(jnp.array([-2.0, 0.5, 3.0]), 1.0)
        Array([-1.,  0.,  2.], dtype=float32)
    """
    x = _checks.check_real("x", x)
    # A negative threshold would enlarge |x| instead of shrinking it.
    _checks.check_hyperparameter("threshold", threshold, lower=0.0, scalar=True)
    t = jnp.asarray(threshold).astype(x.dtype)
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, jnp.zeros((), x.dtype))


def proximal_l1(strength: Any, *, mask: Mask = None) -> optax.GradientTransformation:
    r"""Proximal L1 step (soft-thresholding): place it AFTER the optimizer; gives exact zeros.

    With ``params`` :math:`w` and the optimizer's update :math:`u`, the new update is

    .. math::

        u' = S_{\tau_t}(w + u) - w, \qquad S_\tau(x) = \mathrm{sign}(x)\max(|x| - \tau, 0),

    so ``optax.apply_updates`` yields :math:`\mathrm{prox}_{\tau\|\cdot\|_1}(w + u)`.
    Where the prox is 0 the update is exactly :math:`-w`, so the parameter becomes
    exactly ``0.0`` (elsewhere it equals the prox up to the one rounding of
    :math:`w + u'`).

    ``optax.chain(optax.sgd(lr), proximal_l1(lr * lam))`` is proximal gradient
    descent (ISTA) on ``loss + lam * l1_penalty``; note the threshold is
    ``lr * lam`` (pass the product; with a learning-rate schedule pass the
    product schedule). It converges to the exact lasso solution for
    ``lr <= 1 / L`` (``L`` the Lipschitz constant of the loss gradient).

    Meaningful with: plain SGD (ISTA), and SGD with a schedule. With momentum,
    Adam or other preconditioned optimizers the step is a heuristic
    (per-coordinate step sizes differ from ``lr``, so the threshold does not
    match the objective); it still gives exact zeros but not the lasso solution.

    Args:
        strength: the threshold :math:`\tau \ge 0` (usually ``learning_rate * lam``),
            a number or an optax schedule.
        mask: optional pytree of booleans or callable ``params -> mask``;
            masked-out leaves keep the optimizer's update unchanged.

    Returns:
        An ``optax.GradientTransformation``; ``update`` requires ``params``.

    Example:
        >>> import jax.numpy as jnp, optax, lossjax
        >>> tx = optax.chain(optax.sgd(0.1), lossjax.proximal_l1(0.1 * 1.0))
        >>> params = {"w": jnp.array([0.05, 1.0])}
        >>> grads = {"w": jnp.array([0.0, 0.0])}
        >>> updates, _ = tx.update(grads, tx.init(params), params)
        >>> optax.apply_updates(params, updates)["w"]
        Array([0. , 0.9], dtype=float32)

    References:
        Beck & Teboulle, "A Fast Iterative Shrinkage-Thresholding Algorithm for
        Linear Inverse Problems", 2009; Parikh & Boyd, "Proximal Algorithms", 2014.
    """
    _check_strength("strength", strength)

    def update_fn(updates, state, params=None):
        _require_params("proximal_l1", params)
        tau = _strength_at(strength, state.count)
        new_updates = _map_selected(
            lambda u, p: soft_threshold(p + u, tau) - p, updates, params, mask
        )
        return new_updates, RegularizationState(count=_next_count(state.count))

    import optax

    return optax.GradientTransformation(_init, update_fn)
