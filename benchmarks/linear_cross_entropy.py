"""Fused vs naive large-vocabulary cross-entropy: forward+backward time and compiled memory.

For each size, both losses are jitted as ``jax.value_and_grad`` with respect to
``hidden`` and ``weight`` (the training-step use). Reported per loss:

* time: median wall time of several forward+backward calls in this process,
  after a warm-up call, each ended by ``block_until_ready``;
* temp: ``compiled.memory_analysis().temp_size_in_bytes`` (deterministic), for
  the value alone and for value and gradient.

The naive loss is ``sparse_categorical_cross_entropy(hidden @ weight, labels)``
(lossjax's when it exists, else log-softmax and a gather written here); the
fused loss is :func:`lossjax.linear_cross_entropy`. Goal from issue 4: at most
1/8 of the naive temporary memory at no more than 1.3x its time.

Usage::

    python benchmarks/linear_cross_entropy.py            # N=4096, D=512, V=32768 and 65536
    python benchmarks/linear_cross_entropy.py --quick    # small sizes, seconds
    python benchmarks/linear_cross_entropy.py --block-sizes 2048 4096
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import lossjax


def naive_loss(hidden, weight, labels):
    logits = hidden @ weight
    if hasattr(lossjax, "sparse_categorical_cross_entropy"):
        return lossjax.sparse_categorical_cross_entropy(logits, labels)
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=-1))


def fused_loss(block_size):
    def loss(hidden, weight, labels):
        return lossjax.linear_cross_entropy(hidden, weight, labels, block_size=block_size)

    return loss


def temp_bytes(fn, *shapes):
    return jax.jit(fn).lower(*shapes).compile().memory_analysis().temp_size_in_bytes


def run(n, d, v, block_sizes, repeats):
    rng = np.random.default_rng(0)
    hidden = jnp.asarray(rng.normal(size=(n, d)).astype(np.float32) / np.sqrt(d))
    weight = jnp.asarray(rng.normal(size=(d, v)).astype(np.float32))
    labels = jnp.asarray(rng.integers(0, v, size=n).astype(np.int32))
    args = (hidden, weight, labels)
    shapes = tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in args)

    candidates = [("naive", naive_loss)] + [(f"fused b={b}", fused_loss(b)) for b in block_sizes]
    rows = []
    for name, loss in candidates:
        grad_fn = jax.value_and_grad(loss, argnums=(0, 1))
        step = jax.jit(grad_fn)
        jax.block_until_ready(step(*args))  # warm-up: compilation and first touch of buffers
        rows.append((name, step, temp_bytes(loss, *shapes), temp_bytes(grad_fn, *shapes), []))
    # Interleaved rounds (naive, fused, naive, fused, ...): load from other
    # processes on a shared machine then hits every candidate alike.
    for _ in range(repeats):
        for _, step, _, _, times in rows:
            start = time.perf_counter()
            jax.block_until_ready(step(*args))
            times.append(time.perf_counter() - start)

    print(f"\nN={n} D={d} V={v}  (median of {repeats} interleaved fwd+bwd runs)")
    header = f"{'loss':<15}{'fwd+bwd s':>11}{'temp fwd MiB':>14}{'temp fwd+bwd MiB':>18}"
    print(header + f"{'time ratio':>12}{'mem ratio':>11}")
    base_time, base_mem = statistics.median(rows[0][4]), rows[0][3]
    for name, _, mem_fwd, mem_grad, times in rows:
        seconds = statistics.median(times)
        line = f"{name:<15}{seconds:>11.3f}{mem_fwd / 2**20:>14.1f}{mem_grad / 2**20:>18.1f}"
        print(line + f"{seconds / base_time:>11.2f}x{mem_grad / base_mem:>10.3f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--block-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=None)
    options = parser.parse_args()

    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, {platform.processor() or '?'}")
    print(f"cpu cores visible: {os.cpu_count()}")
    if options.quick:
        sizes = [(256, 64, 4096), (256, 64, 8192)]
        block_sizes = options.block_sizes or [512, 1024]
        repeats = options.repeats or 5
    else:
        sizes = [(4096, 512, 32768), (4096, 512, 65536)]
        block_sizes = options.block_sizes or [
            lossjax.linear_cross_entropy.__kwdefaults__["block_size"]
        ]
        repeats = options.repeats or 5
    for n, d, v in sizes:
        run(n, d, v, block_sizes, repeats)


if __name__ == "__main__":
    main()
