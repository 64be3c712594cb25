"""Data-parallel training over every device of one or several processes with jax.jit.

Under ``jax.jit`` with sharded inputs (GSPMD) the loss needs no ``axis_name``:
the compiler makes the sums global, so the padded, weighted batch below gives
exactly the loss curve of one device, on a 1-D and on a 2-D device mesh. On CPU
each process gets virtual devices (8 in all by default). Run on one process:

    python examples/data_parallel_jit.py [--steps 200]

or as a multi-process (multi-host) job, one command per process; each process
builds its part of the global batch and ``jax.make_array_from_process_local_data``
turns the parts into global arrays (see docs/multi_host.md):

    python examples/data_parallel_jit.py --coordinator HOST:PORT --num-processes 2 --process-id 0
    python examples/data_parallel_jit.py --coordinator HOST:PORT --num-processes 2 --process-id 1
"""

import argparse
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # JAX_PLATFORMS=cuda (say) uses accelerators

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import lossjax


def start(args):
    """Joins the multi-process job if there is one; gives CPU processes virtual devices.

    Both must happen before JAX starts its backend. ``--num-processes`` and
    friends default to JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
    JAX_PROCESS_ID; ``--auto`` lets JAX detect them (Slurm, Open MPI, TPU pods).
    """
    if args.cpu_devices is None and "xla_force_host_platform_device_count" not in os.environ.get(
        "XLA_FLAGS", ""
    ):
        args.cpu_devices = max(1, 8 // args.num_processes)
    if args.cpu_devices is not None:
        jax.config.update("jax_num_cpu_devices", args.cpu_devices)
    if args.auto:
        jax.distributed.initialize()
    elif args.num_processes > 1:
        jax.distributed.initialize(
            coordinator_address=args.coordinator,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )


def add_launch_flags(parser):
    env = os.environ.get
    parser.add_argument("--coordinator", default=env("JAX_COORDINATOR_ADDRESS"), help="HOST:PORT")
    parser.add_argument("--num-processes", type=int, default=int(env("JAX_NUM_PROCESSES", "1")))
    parser.add_argument("--process-id", type=int, default=int(env("JAX_PROCESS_ID", "0")))
    parser.add_argument("--auto", action="store_true", help="let JAX detect the cluster")
    parser.add_argument("--cpu-devices", type=int, help="virtual CPU devices per process")


def say(*args):
    """print, from process 0 only."""
    if jax.process_index() == 0:
        print(*args, flush=True)


def make_data(n=512, features=16, seed=0):
    """Regression with 10% gross outliers; the last 40 rows are padding (where=False)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features,)).astype(np.float32)
    y = np.tanh(x @ w / 4) * 3 + 0.1 * rng.normal(size=n).astype(np.float32)
    outliers = rng.uniform(size=n) < 0.1
    y[outliers] += rng.normal(scale=20, size=outliers.sum()).astype(np.float32)
    where = np.arange(n) < n - 40
    # Padding rows hold large garbage: the mask keeps it out of the loss and its
    # gradient. (Not NaN: a NaN model input would poison the parameter gradient
    # in the model's own backward pass, x.T @ g, before any loss sees it.)
    x[~where] = 1e3
    weights = rng.uniform(0.5, 2.0, size=n).astype(np.float32)
    return x, y.astype(np.float32), where, weights


def process_part(array, sharding):
    """The block of a global host array that this process's devices hold under ``sharding``.

    Every process here makes the same synthetic batch and keeps its block; a real
    job would read only its own block (its files, its shard of the data set).
    """
    indices = sharding.addressable_devices_indices_map(array.shape).values()
    block = tuple(
        slice(
            min(index[d].indices(size)[0] for index in indices),
            max(index[d].indices(size)[1] for index in indices),
        )
        for d, size in enumerate(array.shape)
    )
    return array[block]


def global_batch(batch, shardings):
    """Global arrays from each process's part (one process: the whole batch)."""
    return tuple(
        jax.make_array_from_process_local_data(s, process_part(a, s), a.shape)
        for a, s in zip(batch, shardings, strict=True)
    )


def init(key, features=16, hidden=32):
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (features, hidden)) / np.sqrt(features),
        "b1": jnp.zeros(hidden),
        "w2": jax.random.normal(k2, (hidden,)) / np.sqrt(hidden),
        "b2": jnp.zeros(()),
    }


def predict(params, x):
    return jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def loss_fn(params, x, y, where, weights):
    return lossjax.huber_loss(predict(params, x), y, delta=1.0, where=where, weights=weights)


def train(batch, steps, shardings=None):
    """The loss curve; with ``shardings``, over global arrays on every device of the job."""
    tx = optax.adam(1e-2)

    def start_state():
        params = init(jax.random.key(0))
        return params, tx.init(params)

    @jax.jit
    def step(params, opt_state, x, y, where, weights):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, where, weights)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    if shardings is None:  # one device of this process: a local computation
        params, opt_state = jax.jit(start_state)()
    else:
        batch = global_batch(batch, shardings)
        # Parameters and optimizer state replicated on every device of the job.
        replicated = NamedSharding(shardings[0].mesh, P())
        params, opt_state = jax.jit(start_state, out_shardings=replicated)()
    curve = []
    for _ in range(steps):
        params, opt_state, loss = step(params, opt_state, *batch)
        curve.append(float(loss))
    return np.array(curve)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    add_launch_flags(parser)
    args = parser.parse_args()
    start(args)
    n = jax.device_count()
    batch = make_data()

    single = train(batch, args.steps)
    # Auto axes: GSPMD propagates shardings (Explicit axes would ask for out_sharding on x.T @ g).
    auto = (jax.sharding.AxisType.Auto,)
    mesh = jax.make_mesh((n,), ("data",), axis_types=auto)
    row = NamedSharding(mesh, P("data"))
    sharded = train(
        batch, args.steps, shardings=(NamedSharding(mesh, P("data", None)), row, row, row)
    )
    # A 2-D mesh: x's rows over "x" and its features over "y"; the 1-D arrays over both.
    shape2 = (n // 2, 2) if n % 2 == 0 else (n, 1)
    mesh2 = jax.make_mesh(shape2, ("x", "y"), axis_types=auto * 2)
    sharded2 = train(
        batch,
        args.steps,
        shardings=(NamedSharding(mesh2, P("x", "y")),) + (NamedSharding(mesh2, P(("x", "y"))),) * 3,
    )

    say(
        f"processes: {jax.process_count()}; devices: {n} x {jax.devices()[0].device_kind} "
        f"({jax.local_device_count()} per process)"
    )
    mesh2_name = f"{shape2[0]}x{shape2[1]} mesh"
    say(f"step   one device   {n}-way (1-D mesh)   {mesh2_name}")
    for i in sorted({0, args.steps // 4, args.steps // 2, args.steps - 1}):
        say(f"{i:4d}   {single[i]:10.6f}   {sharded[i]:16.6f}   {sharded2[i]:{len(mesh2_name)}.6f}")
    diff = max(np.max(np.abs(sharded - single)), np.max(np.abs(sharded2 - single)))
    say(f"largest difference between the loss curves: {diff:.2e}")
    if not diff < 1e-4 * max(1.0, abs(single[0])):
        raise SystemExit("sharded training diverged from the single-device curve")


if __name__ == "__main__":
    main()
