"""Data-parallel training with jax.shard_map and ``axis_name``: exact global losses.

Each of 8 virtual CPU devices holds a shard of a padded, weighted batch, and
keeps a different number of real examples. ``axis_name="data"`` makes every
lossjax loss sum its numerator and denominator across devices, so the loss and
its gradient are the exact global weighted mean: the loss curve matches one
device. The per-device-mean-then-``pmean`` shortcut is shown for contrast. Run:

    python examples/data_parallel_shard_map.py [--steps 200]
"""

import argparse
import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType
from jax.sharding import PartitionSpec as P

import lossjax

N_DEVICES, PER_DEVICE, FEATURES = 8, 64, 16


def make_data(seed=0):
    """Regression with outliers; device d keeps only 8 + 7 d of its 64 rows."""
    rng = np.random.default_rng(seed)
    n = N_DEVICES * PER_DEVICE
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    w = rng.normal(size=(FEATURES,)).astype(np.float32)
    y = (np.tanh(x @ w / 4) * 3 + 0.1 * rng.normal(size=n)).astype(np.float32)
    outliers = rng.uniform(size=n) < 0.1
    y[outliers] += rng.normal(scale=20, size=outliers.sum()).astype(np.float32)
    kept = 8 + 7 * np.arange(N_DEVICES)
    where = (np.arange(PER_DEVICE)[None, :] < kept[:, None]).reshape(-1)
    # Padding rows hold large garbage: the mask keeps it out of the loss and its
    # gradient. (Not NaN: a NaN model input would poison the parameter gradient
    # in the model's own backward pass, x.T @ g, before any loss sees it.)
    x[~where] = 1e3
    weights = rng.uniform(0.5, 2.0, size=n).astype(np.float32)
    return x, y, where, weights


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


def train(loss_of_batch, batch, steps):
    tx, step = make_step(loss_of_batch)
    params = init(jax.random.key(0))
    opt_state = tx.init(params)
    curve = []
    for _ in range(steps):
        params, opt_state, loss = step(params, opt_state, *batch)
        curve.append(float(loss))
    return np.array(curve)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    assert jax.device_count() == N_DEVICES, jax.devices()
    batch = tuple(jnp.asarray(a) for a in make_data())
    mesh = jax.make_mesh((N_DEVICES,), ("data",), axis_types=(AxisType.Auto,))
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

    single = train(one_device, batch, args.steps)
    global_curve = train(exact, batch, args.steps)
    naive = train(mean_of_means, batch, args.steps)

    print(f"devices: {jax.device_count()}; real examples per device: 8, 15, ..., 57")
    print("step   one device   shard_map+axis_name   pmean of local means")
    for i in sorted({0, args.steps // 4, args.steps // 2, args.steps - 1}):
        print(f"{i:4d}   {single[i]:10.6f}   {global_curve[i]:19.6f}   {naive[i]:20.6f}")
    diff = np.max(np.abs(global_curve - single))
    print(f"axis_name vs one device, largest difference: {diff:.2e}")
    print(f"pmean of local means vs one device at step 0: {abs(naive[0] - single[0]):.2e} (wrong)")
    if not diff < 1e-4 * max(1.0, abs(single[0])):
        raise SystemExit("the axis_name loss curve diverged from the single-device curve")


if __name__ == "__main__":
    main()
