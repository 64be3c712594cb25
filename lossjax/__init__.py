"""lossjax: a JAX-native functional loss toolkit.

Every loss is a pure function of arrays that works under ``jax.jit``,
``jax.grad``, ``jax.vmap``, ``jax.jvp``, ``jax.hessian`` and ``jax.shard_map``,
and shares one reduction contract (:func:`reduce_loss`).
"""

__version__ = "0.1.0"
__all__: list[str] = []

# -- reduction -----------------------------------------------------------------
from lossjax._reduction import reduce_loss as reduce_loss

__all__ += ["reduce_loss"]

# -- regression ----------------------------------------------------------------
from lossjax._regression import huber_loss as huber_loss
from lossjax._regression import log_cosh_loss as log_cosh_loss
from lossjax._regression import mean_absolute_error as mean_absolute_error
from lossjax._regression import mean_squared_error as mean_squared_error

__all__ += ["huber_loss", "log_cosh_loss", "mean_absolute_error", "mean_squared_error"]

# -- binary classification (lossjax/_classification.py) --------------------------
# (block owned by the classification helper)

# -- multiclass (lossjax/_multiclass.py) -----------------------------------------
# (block owned by the multiclass helper)

# -- unsupervised (lossjax/_unsupervised.py) -------------------------------------
# (block owned by the unsupervised helper)

# -- fused large-vocabulary cross-entropy (lossjax/_linear_cross_entropy.py) -----
# (block owned by the linear cross-entropy helper)

# -- regularization (lossjax/_regularization.py, lossjax/masks.py) ---------------
# (block owned by the regularization helper)
