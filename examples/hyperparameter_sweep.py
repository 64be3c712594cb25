"""A hyperparameter sweep as one ``jax.vmap``: Huber's ``delta`` and focal loss's ``gamma``.

lossjax hyperparameters may be traced arrays, not only Python numbers. So a
whole training run can be written as a function of the hyperparameter, and
``jax.vmap`` runs it for a grid of values in one compiled program, with no
Python loop and no recompilation per value:

    fits = jax.vmap(train, in_axes=(0, None, None))(deltas, x, y)

1. Huber regression, 12 values of ``delta`` x 32 random data sets (a 2-D
   vmap), on data with 10% gross outliers: which delta recovers the true
   weights best? Hyperparameters are differentiable too, so the script also
   takes ``jax.grad`` of the validation error with respect to ``delta``
   through the whole training run.
2. Logistic regression with focal loss on imbalanced data, 6 values of
   ``gamma`` in one vmap: precision, recall, average precision and
   calibration for each (``gamma=0`` is binary cross-entropy).

Run:  python examples/hyperparameter_sweep.py      (about 15 s on 2 CPU cores)
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.metrics import average_precision_score

import lossjax

# ------------------------------------------------------------------------ Huber


def make_regression(key, n=100, d=5, outlier_fraction=0.1):
    """y = x . w + noise(0.5), and 10% of the targets replaced by noise of scale 10."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    w = jnp.linspace(-1.0, 1.0, d)
    x = jax.random.normal(k1, (n, d))
    noise = 0.5 * jax.random.normal(k2, (n,))
    outlier = jax.random.uniform(k3, (n,)) < outlier_fraction
    noise = jnp.where(outlier, 10.0 * jax.random.normal(k4, (n,)), noise)
    return x, x @ w + noise, w


def train_huber(delta, x, y, *, steps):
    """Full-batch Adam on the Huber loss of a linear model; returns the weights."""
    optimizer = optax.adam(optax.cosine_decay_schedule(0.05, steps))
    w = jnp.zeros(x.shape[1])

    def step(carry, _):
        w, state = carry
        grad = jax.grad(lambda w: lossjax.huber_loss(x @ w, y, delta=delta))(w)
        updates, state = optimizer.update(grad, state)
        return (optax.apply_updates(w, updates), state), None

    (w, _), _ = jax.lax.scan(step, (w, optimizer.init(w)), None, length=steps)
    return w


def huber_sweep(steps, replicates):
    deltas = jnp.geomspace(0.05, 50.0, 12)
    keys = jax.random.split(jax.random.key(0), replicates)
    x, y, w_true = jax.vmap(make_regression)(keys)  # [R, n, d], [R, n], [R, d]

    # Inner vmap: all deltas on one data set; outer vmap: all data sets.
    sweep = jax.jit(
        jax.vmap(
            jax.vmap(
                lambda delta, x, y: train_huber(delta, x, y, steps=steps), in_axes=(0, None, None)
            ),
            in_axes=(None, 0, 0),
        )
    )
    start = time.perf_counter()
    w = sweep(deltas, x, y).block_until_ready()  # [R, G, d]
    seconds = time.perf_counter() - start
    error = jnp.mean(jnp.sum((w - w_true[:, None, :]) ** 2, axis=-1), axis=0)  # [G]

    print(
        f"1) Huber regression: {len(deltas)} deltas x {replicates} data sets = "
        f"{len(deltas) * replicates} fits of {steps} steps in one vmap ({seconds:.1f} s with compilation)."
    )
    print("   Data: 100 points, 5 features, noise 0.5, 10% outliers with noise 10.")
    print(f"   {'delta':>8}  {'mean ||w - w_true||^2':>22}")
    best = int(jnp.argmin(error))
    for i, (delta, e) in enumerate(zip(np.asarray(deltas), np.asarray(error), strict=True)):
        mark = "   <- best" if i == best else ""
        print(f"   {delta:8.3f}  {e:22.4f}{mark}")
    print(
        "   Large delta is MSE (every outlier pulls hard); tiny delta is MAE (ignores how far"
        "\n   even good points are). The best delta is near the scale of the clean noise."
    )

    # Hypergradient: d(validation error)/d(delta) through the whole training run.
    x_val, y_val, _ = make_regression(jax.random.key(1), n=1000, outlier_fraction=0.0)

    def validation_mse(delta):
        w = train_huber(delta, x[0], y[0], steps=steps)
        return jnp.mean((x_val @ w - y_val) ** 2)

    for delta in (0.05, 5.0):
        value, grad = jax.jit(jax.value_and_grad(validation_mse))(delta)
        print(
            f"   d(validation MSE)/d(delta) at delta={delta:<5}: {float(grad):+.2e}  (MSE {float(value):.3f})"
        )
    print("   (negative: increase delta; positive: decrease it.)\n")


# ------------------------------------------------------------------------ focal


def make_imbalanced(seed=0, n=8000, positive_fraction=0.05):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < positive_fraction).astype(np.float32)
    x = rng.normal(size=(n, 2)).astype(np.float32) + y[:, None] * np.array([1.8, 1.2], np.float32)
    return (x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :])


def train_focal(gamma, x, y, *, steps):
    """Logistic regression trained with focal loss; returns (weights, bias)."""
    optimizer = optax.adam(optax.cosine_decay_schedule(0.1, steps))
    params = (jnp.zeros(x.shape[1]), jnp.zeros(()))

    def loss(params):
        w, b = params
        return lossjax.focal_loss(x @ w + b, y, gamma=gamma, from_logits=True)

    def step(carry, _):
        params, state = carry
        updates, state = optimizer.update(jax.grad(loss)(params), state)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
    return params


def focal_sweep(steps):
    gammas = jnp.array([0.0, 0.5, 1.0, 2.0, 3.0, 5.0])
    (x, y), (x_test, y_test) = make_imbalanced()
    sweep = jax.jit(jax.vmap(lambda g: train_focal(g, x, y, steps=steps)))
    w, b = sweep(gammas)  # [G, 2], [G]
    p = np.asarray(jax.nn.sigmoid(x_test @ w.T + b))  # [n_test, G]

    bce = lossjax.binary_cross_entropy(x @ w[0] + b[0], y, from_logits=True)
    focal0 = lossjax.focal_loss(x @ w[0] + b[0], y, gamma=0.0, from_logits=True)
    print(
        f"2) Focal loss on logistic regression, {len(gammas)} gammas in one vmap ({y.mean():.1%} positives)."
    )
    print(
        f"   Check: focal_loss(gamma=0) = {float(focal0):.6f} = binary_cross_entropy = {float(bce):.6f}"
    )
    np.testing.assert_allclose(float(focal0), float(bce), rtol=1e-6)
    print(
        f"   {'gamma':>6}{'precision':>11}{'recall':>8}{'avg prec':>10}{'mean p':>8}  (base rate {y_test.mean():.3f})"
    )
    for i, gamma in enumerate(np.asarray(gammas)):
        predicted = p[:, i] >= 0.5
        tp = np.sum(predicted & (y_test == 1))
        precision = tp / max(predicted.sum(), 1)
        recall = tp / y_test.sum()
        ap = average_precision_score(y_test, p[:, i])
        print(f"   {gamma:6.1f}{precision:11.2f}{recall:8.2f}{ap:10.3f}{p[:, i].mean():8.3f}")
    print(
        "   Raising gamma down-weights well-classified examples, most of them easy negatives."
        "\n   For this linear model the decisions at 0.5 change only a little and the ranking"
        "\n   (average precision) not at all, but the probabilities are pulled towards 0.5: the"
        "\n   mean predicted probability rises far above the base rate, so focal-loss scores are"
        "\n   not calibrated probabilities. gamma pays off when many easy examples would"
        "\n   otherwise dominate the gradient (dense detection); recalibrate if you need p."
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per fit")
    args = parser.parse_args()
    smoke = os.environ.get("LOSSJAX_SMOKE") == "1"
    steps = 10 if smoke else args.steps
    huber_sweep(steps, replicates=4 if smoke else 32)
    focal_sweep(steps)


if __name__ == "__main__":
    main()
