"""Data-parallel training over 8 virtual CPU devices with jax.jit + NamedSharding.

Under ``jax.jit`` with sharded inputs (GSPMD) the loss needs no ``axis_name``:
the compiler makes the sums global, so the padded, weighted batch below gives
exactly the loss curve of one device. Run:

    python examples/data_parallel_jit.py [--steps 200]
"""

import argparse
import os

# Virtual devices must be requested before JAX starts its backend.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import lossjax


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
    tx = optax.adam(1e-2)
    params = init(jax.random.key(0))
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, x, y, where, weights):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, where, weights)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    if shardings is not None:
        batch = tuple(jax.device_put(a, s) for a, s in zip(batch, shardings, strict=True))
    curve = []
    for _ in range(steps):
        params, opt_state, loss = step(params, opt_state, *batch)
        curve.append(float(loss))
    return np.array(curve)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    assert jax.device_count() == 8, jax.devices()
    batch = make_data()

    single = train(batch, args.steps)
    # Auto axes: GSPMD propagates shardings (Explicit axes would ask for out_sharding on x.T @ g).
    auto = (jax.sharding.AxisType.Auto,)
    mesh = jax.make_mesh((8,), ("data",), axis_types=auto)
    row = NamedSharding(mesh, P("data"))
    sharded = train(
        batch, args.steps, shardings=(NamedSharding(mesh, P("data", None)), row, row, row)
    )
    mesh2 = jax.make_mesh((4, 2), ("x", "y"), axis_types=auto * 2)
    sharded2 = train(
        batch,
        args.steps,
        shardings=(NamedSharding(mesh2, P("x", "y")),) + (NamedSharding(mesh2, P(("x", "y"))),) * 3,
    )

    print(f"devices: {jax.device_count()} x {jax.devices()[0].device_kind}")
    print("step   one device   8-way (1-D mesh)   4x2 mesh")
    for i in sorted({0, args.steps // 4, args.steps // 2, args.steps - 1}):
        print(f"{i:4d}   {single[i]:10.6f}   {sharded[i]:16.6f}   {sharded2[i]:8.6f}")
    diff = max(np.max(np.abs(sharded - single)), np.max(np.abs(sharded2 - single)))
    print(f"largest difference between the loss curves: {diff:.2e}")
    if not diff < 1e-4 * max(1.0, abs(single[0])):
        raise SystemExit("sharded training diverged from the single-device curve")


if __name__ == "__main__":
    main()
