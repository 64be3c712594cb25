# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Choosing a loss
#
# Which loss should you use? The answer depends on the task (regression or
# classification), on the data (outliers, class imbalance) and on what you need
# from the model (a point prediction, a ranking, calibrated probabilities). This
# notebook shows the evidence behind the usual advice, with
# lossjax losses on small synthetic data sets:
#
# 1. what each loss and its gradient look like as a function of the error or margin;
# 2. what outliers do to a fitted line under MSE, Huber and MAE;
# 3. focal loss vs cross-entropy on imbalanced data;
# 4. calibration: reliability diagrams of cross-entropy vs hinge-loss scores.
#
# Every figure is also saved as a PNG file next to the notebook. The whole
# notebook runs in a few seconds on a CPU.

# %%
import functools

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.metrics import precision_recall_curve, precision_score, recall_score

import lossjax

plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})


def elementwise(loss, **kwargs):
    """A lossjax loss as a function of one scalar (prediction, target) pair, plus its derivative."""

    def value(prediction, target):
        return loss(prediction, target, reduction="none", **kwargs)

    grad = jax.vmap(jax.grad(value), in_axes=(0, None))
    return jax.vmap(value, in_axes=(0, None)), grad


# %% [markdown]
# ## 1. Losses and their gradients
#
# ### Regression: loss against the error $e = \hat y - y$
#
# The gradient is what training actually feels. **MSE**'s gradient grows without
# bound, so a single large error can dominate a batch. **MAE**'s gradient is
# always $\pm 1$: large errors pull no harder than small ones (robust), but
# small errors pull just as hard too, which makes the minimum sharp and the
# final fit noisy. **Huber** is quadratic up to $|e| = \delta$ and linear
# beyond; its gradient is the error clipped to $[-\delta, \delta]$.
# **Log-cosh** is a smooth version of the same idea: gradient $\tanh(e)$,
# twice differentiable everywhere.

# %%
errors = jnp.linspace(-4.0, 4.0, 401)
regression_losses = {
    "mean_squared_error": elementwise(lossjax.mean_squared_error),
    "mean_absolute_error": elementwise(lossjax.mean_absolute_error),
    "huber_loss (delta=1)": elementwise(lossjax.huber_loss, delta=1.0),
    "log_cosh_loss": elementwise(lossjax.log_cosh_loss),
}

fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(11, 4))
for name, (value, grad) in regression_losses.items():
    ax_loss.plot(errors, value(errors, 0.0), label=name)
    ax_grad.plot(errors, grad(errors, 0.0), label=name)
ax_loss.set(
    title="Regression losses", xlabel="error  prediction - target", ylabel="loss", ylim=(0, 8)
)
ax_grad.set(
    title="Their gradients",
    xlabel="error  prediction - target",
    ylabel="d loss / d prediction",
    ylim=(-4.5, 4.5),
)
ax_loss.legend()
ax_grad.legend()
fig.tight_layout()
fig.savefig("choosing_a_loss_regression.png", dpi=120)
plt.show()

# %% [markdown]
# ### Binary classification: loss against the margin
#
# With labels $y \in \{0, 1\}$ and a logit (score) $z$, the *margin* is
# $m = z$ for a positive and $m = -z$ for a negative: positive margins are
# correct decisions, large ones are confident correct decisions.
#
# * **Binary cross-entropy** $\log(1 + e^{-m})$ never reaches 0; its gradient
#   decays exponentially for confident correct examples. It is the negative
#   log-likelihood of a Bernoulli model, which is why its $\sigma(z)$ are
#   calibrated probabilities.
# * **Hinge** $\max(0, 1 - m)$ is exactly 0 beyond the margin 1: correct and
#   confident examples stop contributing at all. Good decisions, but no
#   probabilities.
# * **Focal loss** $(1 - p_t)^\gamma \cdot \text{BCE}$ shrinks the loss of
#   well-classified examples much faster than BCE does, so the many easy
#   examples of an imbalanced problem stop dominating the gradient.
# * **Label smoothing** makes the target $1 - \varepsilon/2$ instead of 1, so
#   the loss has its minimum at a finite margin: the model is discouraged from
#   becoming arbitrarily confident.

# %%
margins = jnp.linspace(-4.0, 6.0, 501)
classification_losses = {
    "binary_cross_entropy": elementwise(lossjax.binary_cross_entropy),
    "BCE, label_smoothing=0.1": elementwise(lossjax.binary_cross_entropy, label_smoothing=0.1),
    "hinge_loss (margin=1)": elementwise(lossjax.hinge_loss),
    "focal_loss (gamma=1)": elementwise(lossjax.focal_loss, gamma=1.0),
    "focal_loss (gamma=2)": elementwise(lossjax.focal_loss, gamma=2.0),
}

fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(11, 4))
for name, (value, grad) in classification_losses.items():
    style = "--" if "smoothing" in name else "-"
    # A positive example (label 1) with logit z has margin m = z.
    ax_loss.plot(margins, value(margins, 1.0), style, label=name)
    ax_grad.plot(margins, grad(margins, 1.0), style, label=name)
ax_loss.set(
    title="Binary classification losses",
    xlabel="margin  (label sign x logit)",
    ylabel="loss",
    ylim=(0, 4.5),
)
ax_grad.set(
    title="Their gradients", xlabel="margin  (label sign x logit)", ylabel="d loss / d logit"
)
ax_loss.legend()
ax_grad.legend()
fig.tight_layout()
fig.savefig("choosing_a_loss_classification.png", dpi=120)
plt.show()

# %% [markdown]
# ## 2. Outliers and a fitted line
#
# 200 points on the line $y = 1.5x + 0.5$ with noise 0.3, and 15% of them
# corrupted upwards by 4 to 12 (a broken sensor). The same linear model is fitted
# by Adam with each loss.


# %%
def fit_linear(loss, x, y, *, steps=800, learning_rate=0.1):
    """Full-batch Adam on loss(w * x + b, y), written as one jitted lax.scan."""
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))
    params = jnp.zeros(2)

    def step(carry, _):
        params, state = carry
        grad = jax.grad(lambda p: loss(p[0] * x + p[1], y))(params)
        updates, state = optimizer.update(grad, state)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.jit(
        lambda p: jax.lax.scan(step, (p, optimizer.init(p)), None, length=steps)
    )(params)
    return params


rng = np.random.default_rng(0)
x = rng.uniform(-2.0, 2.0, 200).astype(np.float32)
y = (1.5 * x + 0.5 + rng.normal(0.0, 0.3, 200)).astype(np.float32)
outlier = rng.uniform(size=200) < 0.15
y[outlier] += rng.uniform(4.0, 12.0, outlier.sum()).astype(np.float32)

line_losses = {
    "mean_squared_error": lossjax.mean_squared_error,
    "huber_loss (delta=1)": functools.partial(lossjax.huber_loss, delta=1.0),
    "mean_absolute_error": lossjax.mean_absolute_error,
}
fits = {name: fit_linear(loss, x, y) for name, loss in line_losses.items()}

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(x[~outlier], y[~outlier], s=12, color="0.5", label="clean points")
ax.scatter(x[outlier], y[outlier], s=18, color="tab:red", marker="x", label="outliers (15%)")
grid = np.linspace(-2.0, 2.0, 2)
ax.plot(grid, 1.5 * grid + 0.5, "k:", lw=2, label="true line")
for name, (w, b) in fits.items():
    ax.plot(grid, w * grid + b, lw=2, label=f"{name}: y = {w:.2f} x + {b:.2f}")
ax.set(title="A line fitted to data with outliers", xlabel="x", ylabel="y")
ax.legend(loc="upper left", fontsize=9)
fig.tight_layout()
fig.savefig("choosing_a_loss_outliers.png", dpi=120)
plt.show()

for name, (w, b) in fits.items():
    print(f"{name:<22} slope {w:5.2f}  intercept {b:5.2f}   (true 1.50, 0.50)")

# %% [markdown]
# MSE fits the conditional *mean*, so 15% of points shifted by about 8 lift its
# line by about $0.15 \times 8 \approx 1.2$. MAE fits the *median* and is
# nearly unaffected. Huber is in between: each outlier pulls with a force of at
# most $\delta$, while small errors keep MSE's efficiency. With symmetric
# outliers MSE would stay unbiased but get noisier; with one-sided ones, as here,
# it is biased.
#
# ## 3. Focal loss vs cross-entropy on imbalanced data
#
# Two overlapping classes in 2-D with 5% positives. A small MLP is trained with
# binary cross-entropy, with cross-entropy re-weighted by `pos_weight`, and with
# focal loss ($\gamma = 2$).


# %%
def init_mlp(key, sizes=(2, 32, 32, 1)):
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        (jax.random.normal(k, (m, n)) / np.sqrt(m), jnp.zeros(n))
        for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp(params, x):
    for w, b in params[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = params[-1]
    return (x @ w + b)[:, 0]


def fit_mlp(loss, x, y, *, steps=1000, learning_rate=0.01):
    optimizer = optax.adam(learning_rate)
    params = init_mlp(jax.random.key(0))

    def step(carry, _):
        params, state = carry
        grad = jax.grad(lambda p: loss(mlp(p, x), y))(params)
        updates, state = optimizer.update(grad, state)
        return (optax.apply_updates(params, updates), state), None

    run = jax.jit(lambda p: jax.lax.scan(step, (p, optimizer.init(p)), None, length=steps)[0][0])
    return run(params)


def make_imbalanced(n, seed):
    rng = np.random.default_rng(seed)
    labels = (rng.uniform(size=n) < 0.05).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(labels == 1, rng.normal(0.9, 0.3, n), rng.normal(2.0, 0.45, n))
    points = np.stack([radius * np.cos(angle), 0.7 * radius * np.sin(angle)], axis=1)
    return points.astype(np.float32), labels


x_train, y_train = make_imbalanced(4000, seed=1)
x_test, y_test = make_imbalanced(4000, seed=2)
n_pos = y_train.sum()
imbalance_losses = {
    "binary_cross_entropy": lossjax.binary_cross_entropy,
    f"BCE, pos_weight={(len(y_train) - n_pos) / n_pos:.0f}": functools.partial(
        lossjax.binary_cross_entropy, pos_weight=(len(y_train) - n_pos) / n_pos
    ),
    "focal_loss (gamma=2)": functools.partial(lossjax.focal_loss, gamma=2.0),
}
models = {name: fit_mlp(loss, x_train, y_train) for name, loss in imbalance_losses.items()}
probabilities = {name: np.asarray(jax.nn.sigmoid(mlp(p, x_test))) for name, p in models.items()}

fig, (ax_data, ax_pr) = plt.subplots(1, 2, figsize=(12, 5))
ax_data.scatter(*x_test[y_test == 0][:1500].T, s=4, color="0.7", label="negatives")
ax_data.scatter(*x_test[y_test == 1].T, s=8, color="tab:red", label="positives (5%)")
xx, yy = np.meshgrid(np.linspace(-3.5, 3.5, 200), np.linspace(-3.5, 2.5, 150))
grid_points = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
colors = dict(zip(models, ["tab:blue", "tab:orange", "tab:green"], strict=True))
for name, params in models.items():
    p_grid = np.asarray(jax.nn.sigmoid(mlp(params, grid_points))).reshape(xx.shape)
    ax_data.contour(xx, yy, p_grid, levels=[0.5], colors=[colors[name]], linewidths=2)
    ax_data.plot([], [], color=colors[name], lw=2, label=f"p = 0.5, {name}")
ax_data.set(title="Decision boundaries (p = 0.5)", xlabel="feature 1", ylabel="feature 2")
ax_data.legend(loc="lower left", fontsize=8, framealpha=0.95)

for name, p in probabilities.items():
    precision, recall, _ = precision_recall_curve(y_test, p)
    ax_pr.plot(recall, precision, color=colors[name], label=name)
    at_half = p >= 0.5
    ax_pr.plot(
        recall_score(y_test, at_half),
        precision_score(y_test, at_half, zero_division=0),
        "o",
        color=colors[name],
        markersize=9,
    )
ax_pr.plot([], [], "ko", label="threshold 0.5")
ax_pr.set(
    title="Precision-recall on held-out data",
    xlabel="recall",
    ylabel="precision",
    xlim=(0, 1.02),
    ylim=(0, 1.02),
)
ax_pr.legend(loc="lower left", fontsize=9)
fig.tight_layout()
fig.savefig("choosing_a_loss_imbalanced.png", dpi=120)
plt.show()

for name, p in probabilities.items():
    at_half = p >= 0.5
    print(
        f"{name:<22} precision {precision_score(y_test, at_half, zero_division=0):.2f}"
        f"  recall {recall_score(y_test, at_half):.2f}  mean p {p.mean():.3f}"
        f"  (positive rate {y_test.mean():.3f})"
    )

# %% [markdown]
# The precision-recall *curves* of BCE and focal loss nearly coincide: both rank
# the test points about equally well. (The heavily re-weighted BCE overfits its
# few, heavily weighted positives, visible in its wiggly boundary, and ranks a
# little worse.) What differs most is where the threshold 0.5 falls on the
# curve. Re-weighting moves it far towards recall; focal loss moves it a little,
# because it down-weights the many confidently classified negatives. If you only
# need a better operating point, choosing the threshold on validation data for
# the plain BCE model gets you there too, and keeps its probabilities
# calibrated, which the next section is about. Focal loss earns its place when
# easy examples swamp the gradient (dense object detection), not as a
# calibration-preserving fix for imbalance.
#
# ## 4. Calibration: cross-entropy vs hinge-derived scores
#
# A classifier is *calibrated* when, among the examples to which it gives
# probability 0.8, 80% are positive. A **reliability diagram** plots the observed
# frequency of positives against the predicted probability, in bins; a
# calibrated model lies on the diagonal.
#
# Binary cross-entropy is a proper scoring rule: its minimiser is the true
# conditional probability, so $\sigma(z)$ of a BCE-trained model is calibrated
# (up to model misfit). The hinge loss is not: it only cares about the sign of
# the score and about a margin of 1, so there is no reason for $\sigma(z)$ of a
# hinge-trained score to be a probability. Squashing it by a sigmoid, as below,
# gives numbers in $(0, 1)$ that are **not calibrated**. Platt scaling tries to
# fix this by fitting $\sigma(a z + b)$ with BCE on held-out scores. The data:
# two overlapping Gaussian classes (balanced), and the MLP of section 3 trained
# with BCE or with the hinge loss.


# %%
def make_overlapping(n, seed):
    rng = np.random.default_rng(seed)
    labels = (rng.uniform(size=n) < 0.5).astype(np.float32)
    points = rng.normal(size=(n, 2)) + np.where(labels[:, None] == 1, 0.8, -0.8)
    return points.astype(np.float32), labels


def fit_platt(scores, labels, steps=500):
    """Platt scaling: fit (a, b) of sigmoid(a * score + b) by binary cross-entropy."""
    optimizer = optax.adam(0.05)
    params = jnp.array([1.0, 0.0])

    def step(carry, _):
        params, state = carry
        grad = jax.grad(lambda p: lossjax.binary_cross_entropy(p[0] * scores + p[1], labels))(
            params
        )
        updates, state = optimizer.update(grad, state)
        return (optax.apply_updates(params, updates), state), None

    return jax.jit(lambda p: jax.lax.scan(step, (p, optimizer.init(p)), None, length=steps)[0][0])(
        params
    )


def reliability(p, y, bins=10):
    """Mean predicted probability, observed frequency and count per bin.

    Equal-count bins (quantiles of p), so that every point on the curve averages
    hundreds of examples even when the probabilities pile up at a few values.
    """
    edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, bins + 1)))
    index = np.searchsorted(edges[1:-1], p, side="right")
    rows = [
        (p[index == b].mean(), y[index == b].mean(), (index == b).sum())
        for b in range(len(edges) - 1)
        if (index == b).any()
    ]
    return np.array(rows).T


def expected_calibration_error(p, y, bins=10):
    mean_p, frequency, count = reliability(p, y, bins)
    return float(np.sum(count * np.abs(mean_p - frequency)) / count.sum())


x_train, y_train = make_overlapping(4000, seed=3)
x_valid, y_valid = make_overlapping(2000, seed=4)
x_test, y_test = make_overlapping(4000, seed=5)
bce_model = fit_mlp(lossjax.binary_cross_entropy, x_train, y_train)  # the MLP of section 3
hinge_model = fit_mlp(lossjax.hinge_loss, x_train, y_train)
hinge_test = mlp(hinge_model, x_test)
a, b = fit_platt(mlp(hinge_model, x_valid), y_valid)  # fitted on held-out validation data
calibration = {
    "binary_cross_entropy: sigmoid(z)": np.asarray(jax.nn.sigmoid(mlp(bce_model, x_test))),
    "hinge_loss: sigmoid(z)  (NOT calibrated)": np.asarray(jax.nn.sigmoid(hinge_test)),
    "hinge_loss + Platt scaling: sigmoid(a z + b)": np.asarray(jax.nn.sigmoid(a * hinge_test + b)),
}

fig, (ax_rel, ax_hist) = plt.subplots(1, 2, figsize=(12, 4.8))
ax_rel.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
colors = ["tab:blue", "tab:red", "tab:purple"]
for (name, p), color in zip(calibration.items(), colors, strict=True):
    mean_p, frequency, _ = reliability(p, y_test)
    ece = expected_calibration_error(p, y_test)
    ax_rel.plot(mean_p, frequency, "o-", color=color, label=f"{name}, ECE {ece:.3f}")
    ax_hist.hist(p, bins=40, range=(0, 1), histtype="step", lw=2, color=color, label=name)
ax_rel.set(
    title="Reliability diagram (held-out data, 10 equal-count bins)",
    xlabel="predicted probability",
    ylabel="observed frequency of positives",
    xlim=(0, 1),
    ylim=(0, 1),
)
ax_rel.legend(loc="upper left", fontsize=8)
ax_hist.set(
    title="Distribution of predicted probabilities",
    xlabel="predicted probability",
    ylabel="number of test examples",
    yscale="log",
)
ax_hist.legend(loc="upper center", fontsize=8)
fig.tight_layout()
fig.savefig("choosing_a_loss_reliability.png", dpi=120)
plt.show()

print(f"Platt scaling fitted a = {float(a):.2f}, b = {float(b):.2f}")
for name, p in calibration.items():
    accuracy = np.mean((p >= 0.5) == (y_test == 1))
    print(f"{name:<46} accuracy {accuracy:.3f}   ECE {expected_calibration_error(p, y_test):.3f}")

# %% [markdown]
# All three make the same decisions (the same accuracy), but the hinge-trained
# MLP pushes almost every training score to exactly the margin, $z \approx \pm 1$,
# where the hinge loss becomes 0, and then stops. So $\sigma(z)$ piles up at
# $\sigma(\pm 1) \approx 0.27$ and $0.73$ (right panel), and its reliability
# curve is nearly *vertical*: examples given the same score are in fact positive
# anywhere from a few percent to about 20 percent of the time (or 70 to 95
# percent). The hinge score is a decision, not a probability. Platt scaling moves
# the two piles to better average values (lower ECE), but it cannot separate the
# examples inside a pile: the hinge loss gave every example beyond the margin the
# same score, and that information is gone. Cross-entropy keeps it, and its
# reliability curve follows the diagonal.
#
# ## Summary
#
# | Situation | Start with | Why |
# |---|---|---|
# | Regression, clean noise | `mean_squared_error` | efficient, estimates the mean |
# | Regression with outliers | `huber_loss` (delta about the noise scale), `log_cosh_loss`, or `mean_absolute_error` | bounded gradients; MAE estimates the median |
# | Binary / multiclass, probabilities needed | `binary_cross_entropy`, `sparse_categorical_cross_entropy` | proper scoring rule: calibrated |
# | Class imbalance, decisions needed | cross-entropy + threshold on validation data; `pos_weight`, `class_weights` or `weights=` | moves the operating point |
# | Many easy examples drown the signal | `focal_loss`, `categorical_focal_loss` | down-weights easy examples (scores not calibrated) |
# | Over-confident networks | `label_smoothing=0.1` | finite optimal margin |
# | Margin classifier, no probabilities needed | `hinge_loss` | sparse, margin-based; calibrate with Platt scaling if needed |
