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
# # Losses in a Flax training loop
#
# This notebook puts lossjax losses into a standard
# [Flax NNX](https://flax.readthedocs.io/) training loop and uses the three
# options that every lossjax loss shares:
#
# * `where=`: a boolean mask; masked entries contribute exactly nothing to the
#   value and to the gradient, and the mean is over the entries that are kept
#   (padding in variable-length sequences);
# * `weights=`: per-example weights, for a weighted mean (trust some examples
#   more than others);
# * `label_smoothing=`: soft targets for the classification losses.
#
# The task is token tagging: sequences of up to 20 tokens, each token a vector of
# 8 features and one of 4 tags. Sequences have different lengths and are padded
# to 20. Half of the training sequences come from a curated source with correct
# tags, half from a crowd source in which 40% of the tags are random.

# %%
import time

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from flax import nnx

import lossjax

plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})

NUM_TAGS, FEATURES, MAX_LEN = 4, 8, 20
TRUE_W = np.random.default_rng(0).normal(size=(FEATURES, NUM_TAGS))


def make_sequences(n, seed, crowd_fraction=0.5, crowd_noise=0.4):
    """Padded sequences, their tags, the padding mask and which sequences are crowd-labelled."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, MAX_LEN, FEATURES)).astype(np.float32)
    tags = np.argmax(x @ TRUE_W, axis=-1).astype(np.int32)
    lengths = rng.integers(3, MAX_LEN + 1, size=n)
    mask = np.arange(MAX_LEN)[None, :] < lengths[:, None]  # [n, MAX_LEN], True = real token
    crowd = rng.uniform(size=n) < crowd_fraction
    noisy = crowd[:, None] & (rng.uniform(size=tags.shape) < crowd_noise)
    tags = np.where(noisy, rng.integers(0, NUM_TAGS, size=tags.shape), tags).astype(np.int32)
    # Padding: zero features and tag 0 -- a valid tag, as padding often is.
    x = np.where(mask[..., None], x, 0.0).astype(np.float32)
    tags = np.where(mask, tags, 0).astype(np.int32)
    return {"x": x, "tags": tags, "mask": mask, "crowd": crowd}


train_data = make_sequences(2000, seed=1)
test_data = make_sequences(1000, seed=2, crowd_fraction=0.0)  # clean tags for evaluation
print(
    f"{len(train_data['x'])} training sequences, {int(train_data['mask'].sum())} real tokens "
    f"out of {train_data['mask'].size} positions ({train_data['mask'].mean():.0%}); "
    f"{train_data['crowd'].mean():.0%} crowd-labelled."
)

# %% [markdown]
# ## The model and the loss function
#
# A small MLP applied to every token (`nnx.Linear` acts on the last axis, so
# `[batch, tokens, features]` inputs need no reshaping). The loss function is
# where lossjax comes in: `sparse_categorical_cross_entropy` takes the logits
# `[batch, tokens, tags]` and the integer tags `[batch, tokens]`; `where` and
# `weights` have the per-example shape `[batch, tokens]`, and a weight of shape
# `[batch, 1]` broadcasts over the tokens (a lower-rank `[batch]` would be
# refused, because silently broadcasting it against the token axis is a classic
# bug).


# %%
class Tagger(nnx.Module):
    def __init__(self, features: int, hidden: int, tags: int, *, rngs: nnx.Rngs):
        self.linear1 = nnx.Linear(features, hidden, rngs=rngs)
        self.linear2 = nnx.Linear(hidden, tags, rngs=rngs)

    def __call__(self, x):
        return self.linear2(nnx.relu(self.linear1(x)))


def loss_fn(model, batch, weights, label_smoothing, use_mask):
    logits = model(batch["x"])
    loss = lossjax.sparse_categorical_cross_entropy(
        logits,
        batch["tags"],
        label_smoothing=label_smoothing,
        weights=weights,
        where=batch["mask"] if use_mask else None,
    )
    return loss, logits


@nnx.jit(static_argnames="use_mask")
def train_step(model, optimizer, batch, weights, label_smoothing, use_mask):
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, _), grads = grad_fn(model, batch, weights, label_smoothing, use_mask)
    optimizer.update(model, grads)
    return loss


@nnx.jit
def eval_step(model, batch):
    logits = model(batch["x"])
    mask = batch["mask"]
    nll = lossjax.sparse_categorical_cross_entropy(logits, batch["tags"], where=mask)
    correct = jnp.argmax(logits, axis=-1) == batch["tags"]
    accuracy = jnp.sum(correct & mask) / jnp.sum(mask)
    return nll, accuracy


# %% [markdown]
# ## `where` removes padding; `ignore_index` is the same thing
#
# Before training, compare three ways to reduce the loss of the untrained model
# over a batch. Averaging over all positions counts the padding as if it were
# data. `where=mask` averages over the real tokens only, and gives the same
# value as marking padding with a tag of `-1` and passing `ignore_index=-1`,
# PyTorch-style.

# %%
model = Tagger(FEATURES, 32, NUM_TAGS, rngs=nnx.Rngs(0))
batch = {k: jnp.asarray(v[:64]) for k, v in train_data.items()}
logits = model(batch["x"])
print(
    "mean over all positions (padding included):",
    lossjax.sparse_categorical_cross_entropy(logits, batch["tags"]),
)
print(
    "where=mask (real tokens only):             ",
    lossjax.sparse_categorical_cross_entropy(logits, batch["tags"], where=batch["mask"]),
)
print(
    "ignore_index=-1 on tags with -1 at padding:",
    lossjax.sparse_categorical_cross_entropy(
        logits, jnp.where(batch["mask"], batch["tags"], -1), ignore_index=-1
    ),
)

# Per-token losses for a few sequences: reduction="none" keeps the [batch, tokens] shape,
# and masked entries are exactly 0.
per_token = lossjax.sparse_categorical_cross_entropy(
    logits[:12], batch["tags"][:12], where=batch["mask"][:12], reduction="none"
)
padding = ~np.asarray(batch["mask"][:12])
print("largest per-token loss at padding positions:", float(jnp.max(jnp.abs(per_token[padding]))))
cmap = plt.get_cmap("viridis").copy()
cmap.set_bad("0.85")  # padding drawn in grey
fig, ax = plt.subplots(figsize=(9, 3.8))
image = ax.imshow(np.ma.masked_where(padding, per_token), cmap=cmap, aspect="auto")
fig.colorbar(image, ax=ax, label="per-token loss")
ax.set(
    title="Per-token loss of the untrained model (reduction='none', where=mask)\n"
    "grey: padding, where the loss is exactly 0",
    xlabel="token position",
    ylabel="sequence",
    xticks=range(0, MAX_LEN, 2),
    yticks=range(12),
)
ax.grid(False)
fig.tight_layout()
fig.savefig("flax_training_loop_token_losses.png", dpi=120)
plt.show()

# %% [markdown]
# ## Training
#
# Four runs of the same loop, each adding one option:
#
# 1. **naive**: the mean over all positions, padding included;
# 2. **+ where**: the mean over real tokens only;
# 3. **+ weights**: crowd-labelled sequences weigh 0.25, curated ones 1
#    (`weights` of shape `[batch, 1]`);
# 4. **+ label smoothing 0.1**.
#
# Every run starts from the same initial weights and sees the same batches.

# %%
runs = {
    "naive (padding counted)": dict(use_mask=False, crowd_weight=1.0, label_smoothing=0.0),
    "+ where=mask": dict(use_mask=True, crowd_weight=1.0, label_smoothing=0.0),
    "+ weights (crowd 0.25)": dict(use_mask=True, crowd_weight=0.25, label_smoothing=0.0),
    "+ label_smoothing=0.1": dict(use_mask=True, crowd_weight=0.25, label_smoothing=0.1),
}
steps, batch_size, eval_every = 500, 64, 25
test_batch = {k: jnp.asarray(v) for k, v in test_data.items()}
history = {}
start = time.perf_counter()
for name, options in runs.items():
    model = Tagger(FEATURES, 32, NUM_TAGS, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)
    sequence_weight = np.where(train_data["crowd"], options["crowd_weight"], 1.0).astype(np.float32)
    rng = np.random.default_rng(0)
    losses, evaluations = [], []
    for step in range(steps):
        index = rng.integers(0, len(train_data["x"]), size=batch_size)
        batch = {k: v[index] for k, v in train_data.items()}
        weights = sequence_weight[index][:, None]  # [batch, 1]
        loss = train_step(
            model, optimizer, batch, weights, options["label_smoothing"], options["use_mask"]
        )
        losses.append(loss)
        if (step + 1) % eval_every == 0:
            evaluations.append((step + 1, *map(float, eval_step(model, test_batch))))
    history[name] = (np.asarray(jnp.stack(losses)), np.array(evaluations))
print(f"4 runs x {steps} steps in {time.perf_counter() - start:.1f} s")

for name, (losses, evaluations) in history.items():
    _, nll, accuracy = evaluations[-1]
    print(
        f"{name:<26} test accuracy {accuracy:.3f}   test NLL {nll:.3f}   final training loss {losses[-50:].mean():.3f}"
    )

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
for name, (losses, evaluations) in history.items():
    smoothed = np.convolve(losses, np.ones(20) / 20, mode="valid")
    ax_loss.plot(np.arange(len(smoothed)) + 20, smoothed, label=name)
    ax_acc.plot(evaluations[:, 0], evaluations[:, 2], label=name)
ax_loss.set(
    title="Training loss (as each run defines it)",
    xlabel="step",
    ylabel="loss (moving average of 20 steps)",
)
ax_acc.set(title="Test accuracy on real tokens (clean tags)", xlabel="step", ylabel="accuracy")
ax_loss.legend()
ax_acc.legend(loc="lower right")
fig.tight_layout()
fig.savefig("flax_training_loop_curves.png", dpi=120)
plt.show()

# %% [markdown]
# What the runs show:
#
# * The **naive** run's training loss is not comparable with the others: about
#   40% of the positions are padding, which the model learns to tag as 0 almost
#   for free, so the reported loss is too low. Worse, it costs accuracy: the
#   model learns that inputs near zero have tag 0, which is wrong for real tokens.
# * With **`where=mask`** the loss is the mean over real tokens, the number you
#   would report, and the padding has no influence on the gradient.
# * **Down-weighting** the noisy crowd labels (`weights`, shape `[batch, 1]`)
#   makes the model rely more on the curated half: higher test accuracy and a
#   much lower test NLL on clean tags. The weighted mean divides by the sum of
#   the weights, so the loss scale does not change with the weights.
# * **Label smoothing** changes the targets, so its training loss has a higher
#   floor (the entropy of the smoothed targets). It is a guard against
#   over-confidence; this small model is not over-confident, so here it makes
#   the test NLL worse at about the same accuracy. It pays off for large networks
#   that overfit (see `examples/multiclass_distillation.py`).
#
# The same loss function works unchanged under `jax.vmap` (per-example losses)
# and, with `axis_name=`, under `jax.shard_map` (the exact global mean across
# devices): see the examples directory.
