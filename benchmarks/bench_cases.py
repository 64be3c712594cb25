"""The benchmarked losses: each lossjax call, its optax and PyTorch counterparts, and inputs.

Shared by ``run.py`` (timings) and ``check_compiled.py`` (compiled temporaries).
Every loss uses the mean reduction, so each library returns a scalar. With a
``where`` mask, lossjax takes ``where=mask``; optax has no such argument in most
losses, so its counterpart is what a user writes::

    jnp.sum(jnp.where(mask, per_element_loss, 0)) / jnp.maximum(jnp.sum(mask), 1)

(PyTorch the same, with ``torch.where``). Elementwise losses take a mask of the
predictions' shape; multiclass losses a mask of one entry per row.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lossjax

ELEMENTWISE = "elementwise"
MULTICLASS = "multiclass"
MASK_KEEP = 0.9  # share of True entries in the `where` masks


@dataclasses.dataclass(frozen=True)
class LossCase:
    """One benchmarked loss.

    ``optax_elements`` returns optax's per-element (elementwise) or per-row
    (multiclass) losses; None where optax has no counterpart.
    """

    key: str  # name for --only
    title: str  # row label in the tables
    family: str  # ELEMENTWISE or MULTICLASS
    inputs: str  # kind of inputs, see make_inputs
    lossjax_name: str  # public lossjax function (also the name of its kernel, if any)
    kwargs: dict[str, Any]
    optax_elements: Callable[[jax.Array, jax.Array], jax.Array] | None

    def lossjax_fn(self) -> Callable:
        return getattr(lossjax, self.lossjax_name)

    def lossjax_loss(self, x, y, where=None):
        return self.lossjax_fn()(x, y, where=where, **self.kwargs)

    def optax_loss(self, x, y, where=None):
        return masked_mean(self.optax_elements(x, y), where)

    def loss(self, library: str) -> Callable:
        """``(x, y)`` or ``(x, y, mask)`` to a scalar, for "lossjax" or "optax"."""
        return self.lossjax_loss if library == "lossjax" else self.optax_loss

    @property
    def shared(self) -> bool:
        return self.optax_elements is not None


def masked_mean(values, where=None):
    if where is None:
        return jnp.mean(values)
    return jnp.sum(jnp.where(where, values, 0.0)) / jnp.maximum(jnp.sum(where), 1)


def _focal(gamma):
    return lambda x, y: optax.losses.sigmoid_focal_loss(x, y, gamma=gamma)


CASES = [
    LossCase(
        "squared_error",
        "squared error",
        ELEMENTWISE,
        "regression",
        "mean_squared_error",
        {},
        optax.losses.squared_error,
    ),
    LossCase(
        "absolute_error",
        "absolute error",
        ELEMENTWISE,
        "regression",
        "mean_absolute_error",
        {},
        None,  # optax has no absolute error
    ),
    LossCase(
        "huber",
        "Huber (delta=1)",
        ELEMENTWISE,
        "regression",
        "huber_loss",
        {"delta": 1.0},
        lambda x, y: optax.losses.huber_loss(x, y, delta=1.0),
    ),
    LossCase(
        "log_cosh",
        "log-cosh",
        ELEMENTWISE,
        "regression",
        "log_cosh_loss",
        {},
        optax.losses.log_cosh,
    ),
    LossCase(
        "bce",
        "sigmoid BCE",
        ELEMENTWISE,
        "binary",
        "binary_cross_entropy",
        {},
        optax.losses.sigmoid_binary_cross_entropy,
    ),
    LossCase(
        "hinge",
        "hinge (labels ±1)",
        ELEMENTWISE,
        "signed",
        "hinge_loss",
        {"margin": 1.0},
        optax.losses.hinge_loss,
    ),
    LossCase(
        "focal_g2",
        "sigmoid focal (gamma=2)",
        ELEMENTWISE,
        "binary",
        "focal_loss",
        {"gamma": 2.0},
        _focal(2.0),
    ),
    LossCase(
        "focal_g0.5",
        "sigmoid focal (gamma=0.5)",
        ELEMENTWISE,
        "binary",
        "focal_loss",
        {"gamma": 0.5},
        _focal(0.5),
    ),
    LossCase(
        "softmax_ce",
        "softmax CE",
        MULTICLASS,
        "dense",
        "categorical_cross_entropy",
        {},
        optax.losses.softmax_cross_entropy,
    ),
    LossCase(
        "sparse_ce",
        "sparse CE",
        MULTICLASS,
        "sparse",
        "sparse_categorical_cross_entropy",
        {},
        optax.losses.softmax_cross_entropy_with_integer_labels,
    ),
    LossCase(
        "kl",
        "KL divergence",
        MULTICLASS,
        "dense",
        "kl_divergence",
        {},
        # optax takes log-predictions: it is fed log_softmax of the same logits.
        lambda x, t: optax.losses.kl_divergence(jax.nn.log_softmax(x, axis=-1), t),
    ),
    LossCase(
        "categorical_focal",
        "categorical focal (gamma=2)",
        MULTICLASS,
        "sparse",
        "categorical_focal_loss",
        {"gamma": 2.0},
        None,  # optax has no softmax focal loss
    ),
]


def select(only: str | None) -> list[LossCase]:
    """The cases named (or prefixed) in a comma-separated ``--only`` list; all if None."""
    if not only:
        return list(CASES)
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    return [c for c in CASES if any(c.key == w or c.key.startswith(w) for w in wanted)]


# -- floors: the cost of touching the data once ----------------------------------------------


def elementwise_floor(a, b, *_mask):
    """Reads the two inputs, writes one array of their size."""
    return a - b


def multiclass_floor(x, *_rest):
    """Reads the logits, writes an array of their size."""
    return x * 2.0


def floor_of(case: LossCase) -> Callable:
    return elementwise_floor if case.family == ELEMENTWISE else multiclass_floor


# -- inputs (numpy, float32, seeded) -----------------------------------------------------------


def _normal(rng: np.random.Generator, shape, scale: float = 1.0) -> np.ndarray:
    x = rng.standard_normal(shape, dtype=np.float32)
    if scale != 1.0:
        x *= np.float32(scale)
    return x


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax in place: strictly positive target distributions."""
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def make_inputs(kind: str, shape: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Predictions / logits and targets of one kind:

    * regression: two standard normal arrays;
    * binary: logits of scale 3 and labels in {0, 1};
    * signed: scores and labels in {-1, +1} (optax's hinge convention; lossjax accepts it);
    * dense: logits of scale 2 and strictly positive target distributions per row;
    * sparse: logits of scale 2 and int32 labels in [0, K).
    """
    rng = np.random.default_rng(seed)
    n, k = shape
    if kind == "regression":
        return _normal(rng, shape), _normal(rng, shape)
    if kind == "binary":
        return _normal(rng, shape, 3.0), (rng.random(shape, dtype=np.float32) < 0.5).astype(
            np.float32
        )
    if kind == "signed":
        signs = np.where(rng.random(shape, dtype=np.float32) < 0.5, -1.0, 1.0)
        return _normal(rng, shape), signs.astype(np.float32)
    if kind == "dense":
        return _normal(rng, shape, 2.0), _softmax_rows(_normal(rng, shape))
    if kind == "sparse":
        return _normal(rng, shape, 2.0), rng.integers(0, k, size=n).astype(np.int32)
    raise ValueError(f"unknown input kind {kind!r}")


def make_mask(case: LossCase, shape: tuple[int, int], seed: int = 1) -> np.ndarray:
    """A boolean ``where`` mask, True with probability MASK_KEEP: per element or per row."""
    rng = np.random.default_rng(seed)
    mask_shape = shape if case.family == ELEMENTWISE else shape[:1]
    return rng.random(mask_shape, dtype=np.float32) < MASK_KEEP


# -- PyTorch counterparts (per element or per row; reduced as the others) --------------------


def torch_losses() -> dict[str, Callable]:
    """Per-element (per-row) PyTorch losses by case key, written with torch ops where torch
    has no function. Raises ImportError without torch."""
    import torch
    import torch.nn.functional as F

    log2 = math.log(2.0)

    def log_cosh(x, y):
        e = x - y
        return e + F.softplus(-2.0 * e) - log2  # stable log cosh(e)

    def sigmoid_focal(gamma):
        # As torchvision.ops.sigmoid_focal_loss with alpha disabled.
        def loss(x, y):
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
            p_t = p * y + (1.0 - p) * (1.0 - y)
            return ce * (1.0 - p_t) ** gamma

        return loss

    def categorical_focal(gamma):
        def loss(x, labels):
            log_p = F.log_softmax(x, dim=-1).gather(-1, labels[:, None]).squeeze(-1)
            return -((1.0 - log_p.exp()) ** gamma) * log_p

        return loss

    return {
        "squared_error": lambda x, y: F.mse_loss(x, y, reduction="none"),
        "absolute_error": lambda x, y: F.l1_loss(x, y, reduction="none"),
        "huber": lambda x, y: F.huber_loss(x, y, reduction="none", delta=1.0),
        "log_cosh": log_cosh,
        "bce": lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
        "hinge": lambda x, t: torch.clamp(1.0 - t * x, min=0.0),
        "focal_g2": sigmoid_focal(2.0),
        "focal_g0.5": sigmoid_focal(0.5),
        "softmax_ce": lambda x, t: F.cross_entropy(x, t, reduction="none"),
        "sparse_ce": lambda x, labels: F.cross_entropy(x, labels, reduction="none"),
        "kl": lambda x, t: F.kl_div(F.log_softmax(x, dim=-1), t, reduction="none").sum(-1),
        "categorical_focal": categorical_focal(2.0),
    }


def torch_reduce(values, mask=None):
    """Mean, or the masked mean of the module docstring."""
    import torch

    if mask is None:
        return values.mean()
    total = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
    return total.sum() / mask.sum().clamp(min=1)
