"""Data-parallel training with jax.shard_map and ``axis_name``: exact global losses.

Each device (of one process or of several) holds a shard of a padded, weighted
batch, and keeps a different number of real examples. ``axis_name="data"``
makes every lossjax loss sum its numerator and denominator across devices, so
the loss and its gradient are the exact global weighted mean: the loss curve
matches one device. The per-device-mean-then-``pmean`` shortcut is shown for
contrast. On CPU each process gets virtual devices (8 in all by default). Run:

    python examples/data_parallel_shard_map.py [--steps 200]

or as a multi-process (multi-host) job, one command per process; each process
builds its part of the global batch and ``jax.make_array_from_process_local_data``
turns the parts into global arrays (see docs/multi_host.md):

    python examples/data_parallel_shard_map.py --coordinator HOST:PORT --num-processes 2 --process-id 0
    python examples/data_parallel_shard_map.py --coordinator HOST:PORT --num-processes 2 --process-id 1
"""

import argparse
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # JAX_PLATFORMS=cuda (say) uses accelerators

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import lossjax

PER_DEVICE, FEATURES = 64, 16


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


def kept_per_device(n_devices):
    """Device d keeps 8 + 7 d of its 64 rows (8, 15, ..., 57, then round again)."""
    return 8 + (7 * np.arange(n_devices)) % (PER_DEVICE - 7)


def make_data(n_devices, seed=0):
    """Regression with outliers; device d keeps only kept_per_device(n_devices)[d] rows."""
    rng = np.random.default_rng(seed)
    n = n_devices * PER_DEVICE
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    w = rng.normal(size=(FEATURES,)).astype(np.float32)
    y = (np.tanh(x @ w / 4) * 3 + 0.1 * rng.normal(size=n)).astype(np.float32)
    outliers = rng.uniform(size=n) < 0.1
    y[outliers] += rng.normal(scale=20, size=outliers.sum()).astype(np.float32)
    kept = kept_per_device(n_devices)
    where = (np.arange(PER_DEVICE)[None, :] < kept[:, None]).reshape(-1)
    # Padding rows hold large garbage: the mask keeps it out of the loss and its
    # gradient. (Not NaN: a NaN model input would poison the parameter gradient
    # in the model's own backward pass, x.T @ g, before any loss sees it.)
    x[~where] = 1e3
    weights = rng.uniform(0.5, 2.0, size=n).astype(np.float32)
    return x, y, where, weights


def global_batch(batch, sharding):
    """Global arrays sharded by rows: each process passes only the rows its devices hold.

    Every process here makes the same synthetic batch and keeps its rows; a real
    job would read only its own rows (its files, its shard of the data set).
    """
    rows = [index[0] for index in sharding.addressable_devices_indices_map(batch[0].shape).values()]
    start = min(r.indices(len(batch[0]))[0] for r in rows)
    stop = max(r.indices(len(batch[0]))[1] for r in rows)
    return tuple(
        jax.make_array_from_process_local_data(sharding, a[start:stop], a.shape) for a in batch
    )


def init(key):
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (FEATURES, 32)) / np.sqrt(FEATURES),
        "b1": jnp.zeros(32),
        "w2": jax.random.normal(k2, (32,)) / np.sqrt(32),
        "b2": jnp.zeros(()),
    }


def predict(params, x):
    return jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def local_loss(params, x, y, where, weights, axis_name):
    return lossjax.huber_loss(
        predict(params, x), y, where=where, weights=weights, axis_name=axis_name
    )


def make_step(loss_of_batch):
    tx = optax.adam(1e-2)

    @jax.jit
    def step(params, opt_state, *batch):
        loss, grads = jax.value_and_grad(loss_of_batch)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return tx, step


def train(loss_of_batch, batch, steps, mesh=None):
    """The loss curve; with ``mesh``, parameters replicated on every device of the job."""
    tx, step = make_step(loss_of_batch)

    def start_state():
        params = init(jax.random.key(0))
        return params, tx.init(params)

    if mesh is None:  # one device of this process: a local computation
        params, opt_state = jax.jit(start_state)()
    else:
        params, opt_state = jax.jit(start_state, out_shardings=NamedSharding(mesh, P()))()
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
    n_devices = jax.device_count()
    host_batch = make_data(n_devices)
    mesh = jax.make_mesh((n_devices,), ("data",), axis_types=(AxisType.Auto,))
    batch = global_batch(host_batch, NamedSharding(mesh, P("data")))
    in_specs = (P(), P("data"), P("data"), P("data"), P("data"))

    def one_device(params, *b):
        return local_loss(params, *b, axis_name=None)

    exact = jax.shard_map(
        lambda params, *b: local_loss(params, *b, axis_name="data"),
        mesh=mesh,
        in_specs=in_specs,
        out_specs=P(),
    )
    mean_of_means = jax.shard_map(
        lambda params, *b: jax.lax.pmean(local_loss(params, *b, axis_name=None), "data"),
        mesh=mesh,
        in_specs=in_specs,
        out_specs=P(),
    )

    # The whole batch on one device of this process (every process computes it).
    single = train(one_device, host_batch, args.steps)
    global_curve = train(exact, batch, args.steps, mesh)
    naive = train(mean_of_means, batch, args.steps, mesh)

    kept = kept_per_device(n_devices)
    say(
        f"processes: {jax.process_count()}; devices: {n_devices} "
        f"({jax.local_device_count()} per process); "
        f"real examples per device: {', '.join(map(str, kept[:3]))}, ..., {kept[-1]}"
    )
    say("step   one device   shard_map+axis_name   pmean of local means")
    for i in sorted({0, args.steps // 4, args.steps // 2, args.steps - 1}):
        say(f"{i:4d}   {single[i]:10.6f}   {global_curve[i]:19.6f}   {naive[i]:20.6f}")
    diff = np.max(np.abs(global_curve - single))
    say(f"axis_name vs one device, largest difference: {diff:.2e}")
    say(f"pmean of local means vs one device at step 0: {abs(naive[0] - single[0]):.2e} (wrong)")
    if not diff < 1e-4 * max(1.0, abs(single[0])):
        raise SystemExit("the axis_name loss curve diverged from the single-device curve")


if __name__ == "__main__":
    main()
