"""A small GAN on embedded synthetic data with lossjax's GAN losses and gradient penalty.

Real data: a mixture of 4 Gaussians in 2-D, embedded linearly in 8 dimensions.
A Flax NNX generator and critic are trained with gan_generator_loss and
gan_discriminator_loss (non-saturating, plus the R1 penalty on real data via
gradient_penalty; pass --kind wasserstein for WGAN-GP). The script prints how
far generated samples are from the data (mean distance of each generated point
to its nearest mode, in the 2-D coordinates) before and after training.

Run:  python examples/gan.py [--steps N] [--kind non_saturating|wasserstein]
      (about 10 s on 2 CPU cores)
"""

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import lossjax

DIM, NOISE_DIM = 8, 4
MODES = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])


class MLP(nnx.Module):
    def __init__(self, din, dout, *, rngs):
        self.l1 = nnx.Linear(din, 64, rngs=rngs)
        self.l2 = nnx.Linear(64, 64, rngs=rngs)
        self.out = nnx.Linear(64, dout, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.tanh(self.l2(nnx.tanh(self.l1(x)))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="training steps")
    parser.add_argument(
        "--kind", default="non_saturating", choices=["non_saturating", "wasserstein"]
    )
    args = parser.parse_args()
    steps = 20 if os.environ.get("LOSSJAX_SMOKE") == "1" else args.steps

    rng = np.random.default_rng(0)
    embedding, _ = np.linalg.qr(rng.normal(size=(DIM, 2)))  # orthonormal columns
    embedding = embedding.T.astype(np.float32)  # [2, DIM]

    def real_batch(n):
        points = MODES[rng.integers(0, 4, size=n)] + 0.1 * rng.normal(size=(n, 2))
        return jnp.asarray(points.astype(np.float32) @ embedding)

    generator = MLP(NOISE_DIM, DIM, rngs=nnx.Rngs(0))
    critic = MLP(DIM, 1, rngs=nnx.Rngs(1))
    g_opt = nnx.Optimizer(generator, optax.adam(1e-3, b1=0.5), wrt=nnx.Param)
    d_opt = nnx.Optimizer(critic, optax.adam(1e-3, b1=0.5), wrt=nnx.Param)
    kind = args.kind
    penalty, weight = ("wgan_gp", 10.0) if kind == "wasserstein" else ("r1", 1.0)

    def critic_loss(critic, generator, real, z, key):
        fake = generator(z)
        scores = lambda x: critic(x)[:, 0]  # noqa: E731
        adversarial = lossjax.gan_discriminator_loss(scores(real), scores(fake), kind=kind)
        gp = lossjax.gradient_penalty(real, fake, key, critic_fn=scores, kind=penalty)
        return adversarial + weight * (0.5 if penalty == "r1" else 1.0) * gp

    def generator_loss(generator, critic, z):
        return lossjax.gan_generator_loss(critic(generator(z))[:, 0], kind=kind)

    @nnx.jit
    def step(generator, critic, g_opt, d_opt, real, z, key):
        grads = nnx.grad(critic_loss)(critic, generator, real, z, key)
        d_opt.update(critic, grads)
        grads = nnx.grad(generator_loss)(generator, critic, z)
        g_opt.update(generator, grads)

    def distance_to_modes():
        z = jax.random.normal(jax.random.key(7), (1000, NOISE_DIM))
        points = np.asarray(generator(z)) @ embedding.T  # back to 2-D coordinates
        return np.min(np.linalg.norm(points[:, None] - MODES[None], axis=-1), axis=1).mean()

    print(f"GAN ({kind}, {penalty} penalty), 4 modes embedded in {DIM}-D, {steps} steps")
    before = distance_to_modes()
    key = jax.random.key(2)
    for _ in range(steps):
        key, k1, k2 = jax.random.split(key, 3)
        step(
            generator,
            critic,
            g_opt,
            d_opt,
            real_batch(128),
            jax.random.normal(k1, (128, NOISE_DIM)),
            k2,
        )
    after = distance_to_modes()
    print(f"mean distance of generated points to the nearest mode: {before:.3f} -> {after:.3f}")


if __name__ == "__main__":
    main()
