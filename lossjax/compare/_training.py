"""One training loop for every loss: only the loss closure differs between runs.

``jit(vmap(loop))``: ``loop`` runs a traced number of full-batch optax Adam steps
(cosine-decayed learning rate), ``vmap`` trains every seed at once (each seed its
own data and initialisation). Compiling it is most of the run time of a comparison.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

# --quick reports no step times, so its programs are compiled for compile speed.
QUICK_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def stack(trees: list[dict]) -> dict:
    """Per-seed NumPy dicts -> one dict of arrays with a leading seed axis (float32)."""
    out = {}
    for key in trees[0]:
        x = np.stack([t[key] for t in trees])
        out[key] = x.astype(np.float32) if x.dtype == np.float64 else x
    return out


def optimizer(learning_rate: float, steps: int):
    import optax

    return optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.01))


def chunk_sizes(steps: int, chunks: int) -> list[int]:
    chunks = max(1, min(chunks, steps))
    return [steps // chunks + (1 if i < steps % chunks else 0) for i in range(chunks)]


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A task ready to train: stacked seeds, Adam's initial state, the lowered program."""

    params: dict
    state: Any
    data: dict
    test: list[dict]
    lowered: Any  # jax.stages.Lowered of ``run(params, opt_state, data, n, index)``


def prepare(task, steps: int, seeds: int, seed: int, *, quick: bool) -> Prepared:
    """Draws every seed's data and initialisation and lowers the task's training program.

    One program per task, not per loss: ``run(params, opt_state, data, n, index)`` runs
    ``n`` Adam steps on loss ``index``, chosen by ``lax.switch`` on a traced index (only
    the chosen branch runs), every seed at once (vmapped). Every loss then shares the
    loop and the optimizer, and compiling, most of a comparison's time, happens once.
    """
    import jax
    import optax

    rngs = [np.random.default_rng([seed, i]) for i in range(seeds)]
    train_sets, test_sets = zip(*(task.make_data(rng) for rng in rngs), strict=True)
    params, data = stack([task.init(rng) for rng in rngs]), stack(list(train_sets))
    tx = optimizer(task.learning_rate, steps)
    grads = [jax.grad(case.objective()) for case in task.cases]

    def loop(params, opt_state, data, n, index):
        def step(_, carry):
            params, opt_state = carry
            updates, opt_state = tx.update(
                jax.lax.switch(index, grads, params, data), opt_state, params
            )
            return optax.apply_updates(params, updates), opt_state

        return jax.lax.fori_loop(0, n, step, (params, opt_state))

    # Adam's initial state (step counts, moments) is all zeros: made with NumPy from its
    # shapes, which costs no compilation (tests/test_cli.py checks it against tx.init).
    shapes = jax.eval_shape(jax.vmap(tx.init), params)
    state = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    options = QUICK_COMPILER_OPTIONS if quick else None
    program = jax.jit(jax.vmap(loop, in_axes=(0, 0, 0, None, None)), compiler_options=options)
    return Prepared(params, state, data, list(test_sets), program.lower(params, state, data, 1, 0))


def train(
    program, index: int, params: dict, opt_state: Any, data: dict, sizes: list[int], tick
) -> tuple[dict, list[float]]:
    """Trains loss ``index`` on every seed for ``sum(sizes)`` steps, one call per chunk.

    Returns the parameters (NumPy, float64) and the milliseconds per step of every
    chunk after the first: the first call is the warm-up (the first loss of a task
    also compiles); the others repeat one measurement with the same compiled program.
    """
    import jax

    ms = []
    for i, n in enumerate(sizes):
        start = time.perf_counter()
        params, opt_state = jax.block_until_ready(program(params, opt_state, data, n, index))
        if i > 0:
            ms.append(1000.0 * (time.perf_counter() - start) / n)
        tick()
    return {k: np.asarray(v, np.float64) for k, v in params.items()}, ms
