"""Exact gradient accumulation over micro-batches with uneven padding.

A token-level loss is a mean over the batch's kept tokens. Split the batch into
k micro-batches and average their mean losses (or gradients), and a token of a
sparsely filled micro-batch counts more than a token of a full one: the result
is not the full batch's gradient. lossjax gives every loss ``reduction="count"``
(the mean's denominator) beside ``reduction="sum"``, so the exact recipe is

    gradient = (sum over micro-batches of grad(loss(..., reduction="sum")))
               / (sum over micro-batches of loss(..., reduction="count"))

This script trains a tiny causal token model on sequences of very different
lengths and checks the recipe four ways against the full-batch gradient:

(a) the naive mean of micro-batch means (wrong, for contrast);
(b) a hand-written loop of sum/count;
(c) ``optax.MultiSteps`` with ``use_grad_mean=False``: it sums the k
    micro-gradients, each the gradient of its ``sum`` divided by the whole
    batch's count (known up front: it depends on the padding only);
(d) the hand loop across 8 (virtual CPU) devices with ``jax.shard_map`` and
    ``axis_name``, which makes both the sum and the count global.

Run:

    python examples/gradient_accumulation.py [--steps 100] [--micro-batches 4]
"""

import argparse
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # JAX_PLATFORMS=cuda (say) uses accelerators

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

import lossjax

VOCAB, DIM, LENGTH, BATCH = 32, 16, 24, 32
SMOKE = os.environ.get("LOSSJAX_SMOKE") == "1"


def make_batch(rng):
    """Sequences from a random Markov chain, padded to LENGTH; lengths from 2 to LENGTH.

    The batch is ordered by length, so the micro-batches hold very different
    numbers of real tokens (the situation where a mean of means is wrong).
    """
    transition = rng.dirichlet(np.full(VOCAB, 0.1), size=VOCAB)
    tokens = np.zeros((BATCH, LENGTH + 1), np.int32)
    tokens[:, 0] = rng.integers(0, VOCAB, BATCH)
    for t in range(LENGTH):
        for b in range(BATCH):
            tokens[b, t + 1] = rng.choice(VOCAB, p=transition[tokens[b, t]])
    lengths = np.sort(rng.choice([2, 3, LENGTH // 2, LENGTH], size=BATCH))
    mask = np.arange(LENGTH)[None, :] < lengths[:, None]
    return jnp.asarray(tokens), jnp.asarray(mask)


def init_params(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "embed": jax.random.normal(k1, (VOCAB, DIM)) * 0.5,
        "mix": jax.random.normal(k2, (DIM, DIM)) / np.sqrt(DIM),
        "out": jax.random.normal(k3, (DIM, VOCAB)) / np.sqrt(DIM),
    }


def token_loss(params, tokens, mask, *, reduction="mean", axis_name=None, normalize_by="tokens"):
    """Next-token cross-entropy of a one-layer model with a causal running mean of embeddings."""
    x = params["embed"][tokens[:, :-1]]
    context = jnp.cumsum(x, axis=1) / jnp.arange(1, LENGTH + 1)[None, :, None]
    logits = jnp.tanh(context @ params["mix"]) @ params["out"]
    return lossjax.sparse_categorical_cross_entropy(
        logits,
        tokens[:, 1:],
        where=mask,
        reduction=reduction,
        axis_name=axis_name,
        normalize_by=normalize_by,
    )


def max_difference(a, b):
    return max(
        float(jnp.max(jnp.abs(x - y)))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def micro_batches(tokens, mask, k):
    return list(zip(jnp.split(tokens, k), jnp.split(mask, k), strict=True))


def accumulate(grad_and_count, params, parts):
    """The hand-written loop: sum the gradients of `sum` and the counts, divide once."""
    total_grad, total_count = jax.tree.map(jnp.zeros_like, params), 0.0
    for tokens, mask in parts:
        grad, count = grad_and_count(params, tokens, mask)
        total_grad = jax.tree.map(jnp.add, total_grad, grad)
        total_count = total_count + count
    return jax.tree.map(lambda g: g / total_count, total_grad)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--micro-batches", type=int, default=4)
    args = parser.parse_args()
    jax.config.update("jax_num_cpu_devices", 8)  # before the backend starts: (d) needs 8
    k = args.micro_batches
    steps = min(args.steps, 5) if SMOKE else args.steps
    assert BATCH % (k * 8) == 0, "each micro-batch is split over 8 devices in (d)"

    rng = np.random.default_rng(0)
    tokens, mask = make_batch(rng)
    params = init_params(jax.random.PRNGKey(0))
    parts = micro_batches(tokens, mask, k)
    print(f"jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} devices")
    print(
        f"batch {BATCH} x {LENGTH} tokens, {int(mask.sum())} real; {k} micro-batches with "
        f"{[int(m.sum()) for _, m in parts]} real tokens"
    )

    full = jax.jit(jax.grad(token_loss))(params, tokens, mask)
    scale = max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(full))
    print(f"largest |full-batch gradient| entry: {scale:.3g}")

    # (a) The naive mean of micro-batch means.
    mean_grad = jax.jit(jax.grad(token_loss))
    naive = jax.tree.map(lambda *g: sum(g) / k, *[mean_grad(params, t, m) for t, m in parts])
    print(
        f"(a) mean of micro-batch means:   max |difference| to the full-batch gradient "
        f"{max_difference(naive, full):.3g}"
    )

    # (b) sum / count with a hand-written loop.
    @jax.jit
    def grad_and_count(p, t, m):
        return jax.grad(token_loss)(p, t, m, reduction="sum"), token_loss(
            p, t, m, reduction="count"
        )

    exact = accumulate(grad_and_count, params, parts)
    print(
        f"(b) sum/count, hand loop:        max |difference| to the full-batch gradient "
        f"{max_difference(exact, full):.3g}"
    )

    # Per-sequence normalisation accumulates the same way (count = number of sequences).
    @jax.jit
    def grad_and_count_seq(p, t, m):
        g = jax.grad(token_loss)(p, t, m, reduction="sum", normalize_by="sequences")
        return g, token_loss(p, t, m, reduction="count", normalize_by="sequences")

    full_seq = jax.jit(jax.grad(lambda p, t, m: token_loss(p, t, m, normalize_by="sequences")))(
        params, tokens, mask
    )
    exact_seq = accumulate(grad_and_count_seq, params, parts)
    print(
        f"    normalize_by='sequences':       max |difference| to the full-batch gradient "
        f"{max_difference(exact_seq, full_seq):.3g}"
    )

    # (c) optax.MultiSteps: it sums the micro-gradients (use_grad_mean=False); each is the
    # gradient of its sum over the whole batch's count, which depends on the mask only.
    total_count = sum(float(token_loss(params, t, m, reduction="count")) for t, m in parts)
    base = optax.adam(1e-2)
    multi = optax.MultiSteps(base, every_k_schedule=k, use_grad_mean=False)
    state = multi.init(params)
    micro_grad = jax.jit(
        lambda p, t, m: jax.tree.map(
            lambda g: g / total_count, jax.grad(token_loss)(p, t, m, reduction="sum")
        )
    )
    accumulated = params
    for t, m in parts:
        updates, state = multi.update(micro_grad(params, t, m), state, params)
        accumulated = optax.apply_updates(accumulated, updates)
    one_step, _ = base.update(full, base.init(params), params)
    reference = optax.apply_updates(params, one_step)
    print(
        f"(c) optax.MultiSteps:            max |difference| to the full-batch step "
        f"{max_difference(accumulated, reference):.3g}"
    )

    # (d) Across 8 devices: each micro-batch is sharded; axis_name makes sum and count global.
    mesh = Mesh(np.array(jax.devices()[:8]), ("data",))

    def sharded(reduction):
        return jax.shard_map(
            lambda p, t, m: token_loss(p, t, m, reduction=reduction, axis_name="data"),
            mesh=mesh,
            in_specs=(P(), P("data"), P("data")),
            out_specs=P(),
        )

    @jax.jit
    def grad_and_count_8(p, t, m):
        return jax.grad(sharded("sum"))(p, t, m), sharded("count")(p, t, m)

    exact_8 = accumulate(grad_and_count_8, params, parts)
    print(
        f"(d) sum/count on 8 devices:      max |difference| to the full-batch gradient "
        f"{max_difference(exact_8, full):.3g}"
    )

    # Training with the exact accumulation: the same trajectory as full batches.
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(params)
    for step in range(steps + 1):
        if step % max(1, steps // 5) == 0 or step == steps:
            print(f"step {step:4d}: loss {float(token_loss(params, tokens, mask)):.4f}")
        if step == steps:
            break
        grads = accumulate(grad_and_count, params, parts)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)


if __name__ == "__main__":
    main()
