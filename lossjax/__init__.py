"""lossjax: a JAX-native functional loss toolkit.

Every loss is a pure function of arrays that works under ``jax.jit``,
``jax.grad``, ``jax.vmap``, ``jax.jvp``, ``jax.hessian`` and ``jax.shard_map``,
and shares one reduction contract (:func:`reduce_loss`).
"""

from lossjax._reduction import reduce_loss as reduce_loss
from lossjax._regression import huber_loss as huber_loss
from lossjax._regression import log_cosh_loss as log_cosh_loss
from lossjax._regression import mean_absolute_error as mean_absolute_error
from lossjax._regression import mean_squared_error as mean_squared_error

__version__ = "0.1.0"

__all__ = [
    "huber_loss",
    "log_cosh_loss",
    "mean_absolute_error",
    "mean_squared_error",
    "reduce_loss",
]
