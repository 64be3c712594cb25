"""L1 regularization of a Flax NNX MLP: proximal L1 gives exact zeros, subgradient L1 does not.

The synthetic regression target depends on only 4 of 20 input features. Three
copies of the same MLP are trained with full-batch SGD on the mean squared
error:

* ``none``:        ``optax.sgd(lr)``
* ``add_l1``:      ``optax.chain(lossjax.add_l1(lam), optax.sgd(lr))``, the subgradient
                   of ``lam * l1_penalty`` added to the gradient;
* ``proximal_l1``: ``optax.chain(optax.sgd(lr), lossjax.proximal_l1(lr * lam))``,
                   proximal gradient descent (soft-thresholding after each step).

Both L1 runs minimise the same objective and only regularize the kernels
(``lossjax.masks.exclude_biases_and_norms``). The script prints how many
first-layer weights are exactly zero, how many of the 16 irrelevant input
features were dropped entirely (all their first-layer weights exactly zero) and
how many of the 4 relevant ones were kept.

Run:  python examples/regularization_flax.py [--steps 3000]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import lossjax

N_FEATURES, N_INFORMATIVE, HIDDEN = 20, 4, 16


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(N_FEATURES, HIDDEN, rngs=rngs)
        self.out = nnx.Linear(HIDDEN, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(jax.nn.tanh(self.hidden(x)))[:, 0]


def make_data(n: int = 2048, seed: int = 0) -> tuple[jax.Array, jax.Array]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    w_true = np.zeros(N_FEATURES, np.float32)
    w_true[:N_INFORMATIVE] = [1.5, -2.0, 1.0, 0.5]
    y = np.tanh(x @ w_true) + 0.5 * x[:, 0] * x[:, 1] + 0.05 * rng.normal(size=n)
    return jnp.asarray(x), jnp.asarray(y, jnp.float32)


def loss_fn(model: MLP, x: jax.Array, y: jax.Array) -> jax.Array:
    return lossjax.mean_squared_error(model(x), y)


@nnx.jit
def train_step(model: MLP, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array) -> jax.Array:
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def train(tx: optax.GradientTransformation, x, y, steps: int) -> tuple[MLP, float]:
    model = MLP(nnx.Rngs(0))  # same initialisation for every run
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    loss = jnp.nan
    for _ in range(steps):
        loss = train_step(model, optimizer, x, y)
    return model, float(loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="SGD steps per run")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
    parser.add_argument("--lam", type=float, default=0.005, help="L1 strength")
    args = parser.parse_args()

    x, y = make_data()
    mask = lossjax.masks.exclude_biases_and_norms  # kernels only; biases stay free
    runs = {
        "none": optax.sgd(args.lr),
        "add_l1": optax.chain(lossjax.add_l1(args.lam, mask=mask), optax.sgd(args.lr)),
        "proximal_l1": optax.chain(
            optax.sgd(args.lr), lossjax.proximal_l1(args.lr * args.lam, mask=mask)
        ),
    }
    print(
        f"{args.steps} steps, lr={args.lr}, lam={args.lam}; "
        f"{N_INFORMATIVE} of {N_FEATURES} features matter"
    )
    n_noise = N_FEATURES - N_INFORMATIVE
    print(
        f"{'run':>12} | {'MSE':>6} | {'objective':>9} | zero weights, layer 1 | "
        "noise features dropped | relevant features kept"
    )
    for name, tx in runs.items():
        start = time.perf_counter()
        model, mse = train(tx, x, y, args.steps)
        kernel = np.asarray(model.hidden.kernel[...])  # shape (features, hidden)
        params = nnx.state(model, nnx.Param)
        objective = mse + args.lam * float(lossjax.l1_penalty(params, mask=mask))
        zeros = int(np.count_nonzero(kernel == 0.0))
        row_is_zero = np.all(kernel == 0.0, axis=1)
        dropped = int(np.count_nonzero(row_is_zero[N_INFORMATIVE:]))
        kept = int(np.count_nonzero(~row_is_zero[:N_INFORMATIVE]))
        print(
            f"{name:>12} | {mse:6.4f} | {objective:9.4f} | {zeros:5d} of {kernel.size:<12d} | "
            f"{dropped:9d} of {n_noise:<9d} | {kept:8d} of {N_INFORMATIVE:<4d}"
            f"  ({time.perf_counter() - start:.1f}s)"
        )


if __name__ == "__main__":
    main()
