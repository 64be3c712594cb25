"""A variational autoencoder on embedded synthetic data with lossjax.gaussian_kl_divergence.

The data are 2-D points on a noisy circle embedded linearly in 12 dimensions.
A small Flax NNX VAE with a 2-D latent is trained on the negative ELBO,

    loss = mean_squared_error(reconstruction, x) * D / (2 sigma^2)
           + gaussian_kl_divergence(mu, log_var)

and the script prints the reconstruction error, the KL term and the ELBO on
held-out points before and after training.

Run:  python examples/vae.py [--steps N]     (a few seconds on 2 CPU cores)
"""

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import lossjax

DATA_DIM, LATENT, NOISE = 12, 2, 0.1


class VAE(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs):
        self.encoder = nnx.Linear(DATA_DIM, 32, rngs=rngs)
        self.mu = nnx.Linear(32, LATENT, rngs=rngs)
        self.log_var = nnx.Linear(32, LATENT, rngs=rngs)
        self.decoder1 = nnx.Linear(LATENT, 32, rngs=rngs)
        self.decoder2 = nnx.Linear(32, DATA_DIM, rngs=rngs)

    def __call__(self, x, key):
        h = nnx.tanh(self.encoder(x))
        mu, log_var = self.mu(h), self.log_var(h)
        z = mu + jnp.exp(0.5 * log_var) * jax.random.normal(key, mu.shape)
        return self.decoder2(nnx.tanh(self.decoder1(z))), mu, log_var


def make_data(n, rng, embedding):
    angle = rng.uniform(0, 2 * np.pi, size=n)
    circle = np.stack([np.cos(angle), np.sin(angle)], -1) * 2.0
    return (circle @ embedding + NOISE * rng.normal(size=(n, DATA_DIM))).astype(np.float32)


def negative_elbo(model, x, key):
    reconstruction, mu, log_var = model(x, key)
    scale = DATA_DIM / (2 * NOISE**2)  # Gaussian likelihood with the known noise level
    error = lossjax.mean_squared_error(reconstruction, x)
    kl = lossjax.gaussian_kl_divergence(mu, log_var)
    return error * scale + kl, (error, kl)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="optimizer steps")
    args = parser.parse_args()
    steps = 20 if os.environ.get("LOSSJAX_SMOKE") == "1" else args.steps

    rng = np.random.default_rng(0)
    embedding = rng.normal(size=(2, DATA_DIM)) / np.sqrt(2)
    x_train, x_test = make_data(4096, rng, embedding), make_data(512, rng, embedding)
    model = VAE(rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x, key):
        (_, _), grads = nnx.value_and_grad(negative_elbo, has_aux=True)(model, x, key)
        optimizer.update(model, grads)

    def report(label):
        loss, (error, kl) = negative_elbo(model, jnp.asarray(x_test), jax.random.key(123))
        print(f"{label:<8}{float(error):>18.4f}{float(kl):>10.3f}{float(loss):>16.2f}")

    print(f"{'':<8}{'test MSE per value':>18}{'KL':>10}{'negative ELBO':>16}")
    report("before")
    key = jax.random.key(1)
    for i in range(steps):
        key, sub = jax.random.split(key)
        batch = x_train[(i * 256) % 4096 : (i * 256) % 4096 + 256]
        step(model, optimizer, jnp.asarray(batch), sub)
    report("after")
    print(
        f"The noise floor of the MSE is {NOISE**2:.3f}; the KL term keeps the 2-D code near N(0, I)."
    )


if __name__ == "__main__":
    main()
