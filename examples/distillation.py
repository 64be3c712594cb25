"""Knowledge distillation with lossjax.distillation_loss: a small student learns a teacher's
token distributions (forward KL, reverse KL and generalised JSD, optionally top-k).

The teacher is a fixed random "language model" head over a 50-token vocabulary
on synthetic contexts; each student is a low-rank head trained only on the
distillation loss. The script prints the student's KL to the teacher, on held-out
contexts, before and after training, for each divergence.

Run:  python examples/distillation.py [--steps N]     (a few seconds on 2 CPU cores)
"""

import argparse
import os

import jax
import numpy as np
import optax

import lossjax

VOCAB, DIM, RANK = 50, 16, 8


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps per student")
    args = parser.parse_args()
    steps = 20 if os.environ.get("LOSSJAX_SMOKE") == "1" else args.steps

    rng = np.random.default_rng(0)
    contexts = rng.normal(size=(2048, DIM)).astype(np.float32)
    held_out = rng.normal(size=(512, DIM)).astype(np.float32)
    teacher_w = (rng.normal(size=(DIM, VOCAB)) * 0.7).astype(np.float32)

    def teacher(x):
        return x @ teacher_w

    def student(params, x):
        return (x @ params["a"]) @ params["b"]

    def kl_to_teacher(params, x):
        return float(lossjax.distillation_loss(student(params, x), teacher(x)))

    def train(kind, top_k=None):
        key_a, key_b = jax.random.split(jax.random.key(1))
        params = {
            "a": jax.random.normal(key_a, (DIM, RANK)) * 0.1,
            "b": jax.random.normal(key_b, (RANK, VOCAB)) * 0.1,
        }
        optimizer = optax.adam(3e-2)
        state = optimizer.init(params)

        def loss_fn(params, x):
            return lossjax.distillation_loss(
                student(params, x), teacher(x), kind=kind, temperature=2.0, top_k=top_k
            )

        @jax.jit
        def step(params, state, x):
            grads = jax.grad(loss_fn)(params, x)
            updates, state = optimizer.update(grads, state)
            return optax.apply_updates(params, updates), state

        before = kl_to_teacher(params, held_out)
        for i in range(steps):
            batch = contexts[(i * 128) % 2048 : (i * 128) % 2048 + 128]
            params, state = step(params, state, batch)
        return before, kl_to_teacher(params, held_out)

    print(f"teacher: {DIM}x{VOCAB} head; student: rank-{RANK} head; {steps} Adam steps each")
    print(f"{'objective':<28}{'KL to teacher before':>22}{'after':>10}")
    for kind, top_k in (
        ("forward_kl", None),
        ("reverse_kl", None),
        ("jsd", None),
        ("forward_kl", 10),
    ):
        before, after = train(kind, top_k)
        name = kind + (f", top_k={top_k}" if top_k else "")
        print(f"{name:<28}{before:22.4f}{after:10.4f}")
    print("KL to teacher (T=1) falls for every divergence: the student approaches the teacher.")


if __name__ == "__main__":
    main()
