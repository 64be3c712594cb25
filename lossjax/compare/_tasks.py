"""The comparisons: synthetic data made for one question, a small model, the losses to try.

Data and initial parameters are drawn with NumPy (nothing to compile); each
model's forward pass takes the array module (``numpy`` or ``jax.numpy``), so
that training runs in JAX and scoring in float64 NumPy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lossjax.compare._metrics import expected_calibration_error, precision_recall_f1


@dataclasses.dataclass(frozen=True)
class Metric:
    """A test metric: ``atol``/``rtol`` is the difference too small to call a winner."""

    key: str
    header: str
    higher_is_better: bool
    fmt: str = "{:.3f}"
    atol: float = 0.005
    rtol: float = 0.0


@dataclasses.dataclass(frozen=True)
class Case:
    """One loss of a comparison: its registry name, bound hyperparameters, and how it is fed."""

    loss: str
    hyperparameters: Mapping[str, Any]
    feed: Callable[..., Any]  # (bound loss, params, train data) -> scalar

    @property
    def label(self) -> str:
        """The loss's function name with its bound hyperparameters, e.g. ``huber_loss(delta=1)``."""
        args = ", ".join(f"{k}={v:g}" for k, v in self.hyperparameters.items())
        return f"{self.loss}({args})" if args else self.loss

    def objective(self) -> Callable[[Any, dict], Any]:
        """``objective(params, train data) -> scalar`` with the loss bound by ``lossjax.get``."""
        import lossjax

        loss = lossjax.get(self.loss, **self.hyperparameters)
        return lambda params, data: self.feed(loss, params, data)


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    title: str  # what the data set and model are, one line
    make_data: Callable[[np.random.Generator], tuple[dict, dict]]  # -> (train, test)
    init: Callable[[np.random.Generator], dict]  # -> initial parameters
    cases: tuple[Case, ...]
    evaluate: Callable[[dict, dict], dict[str, float]]  # (params, test) -> metrics, float64
    metrics: tuple[Metric, ...]
    verdict: tuple[str, ...]  # the metrics the one-line verdict names winners of
    plots: tuple[tuple[str, ...], ...]  # metric keys per chart panel
    steps: int
    learning_rate: float


def _linear(dim: int):
    def init(rng):
        return {"w": 0.1 * rng.normal(size=dim), "b": np.zeros(())}

    def predict(params, x):
        return x @ params["w"] + params["b"]

    return init, predict


def regression(outliers: float, quick: bool) -> Task:
    """A linear signal with Gaussian noise; a fraction of the training targets are gross
    one-sided outliers (a glitch adds 10 to 30 noise widths). Scored on the clean signal."""
    dim, n_train, n_test, noise = 8, (256 if quick else 1000), (512 if quick else 4000), 0.5

    def make_data(rng):
        w = rng.normal(size=dim)
        x, x_test = rng.normal(size=(n_train, dim)), rng.normal(size=(n_test, dim))
        y = x @ w + 0.5 + noise * rng.normal(size=n_train)
        # One-sided outliers bias an estimator that is not robust, not only its variance.
        y = y + (rng.uniform(size=n_train) < outliers) * noise * rng.uniform(10, 30, n_train)
        return {"x": x, "y": y}, {"x": x_test, "f": x_test @ w + 0.5}

    init, predict = _linear(dim)

    def feed(loss, p, d):
        return loss(predict(p, d["x"]), d["y"])

    def evaluate(params, test):
        err = predict(params, test["x"]) - test["f"]
        return {"mse": np.mean(err**2), "mae": np.mean(np.abs(err))}

    return Task(
        name="regression",
        title=f"linear model, {n_train} training points, {outliers:.0%} gross outliers in the "
        "targets; test error against the clean signal",
        make_data=make_data,
        init=init,
        cases=(
            Case("mean_squared_error", {}, feed),
            Case("mean_absolute_error", {}, feed),
            Case("huber_loss", {"delta": 1.0}, feed),
            Case("log_cosh_loss", {}, feed),
        ),
        evaluate=evaluate,
        metrics=(
            Metric("mse", "clean MSE", False, "{:.4f}", atol=1e-4, rtol=0.05),
            Metric("mae", "clean MAE", False, "{:.4f}", atol=1e-4, rtol=0.05),
        ),
        verdict=("mse",),
        plots=(("mse",), ("mae",)),
        steps=400,
        learning_rate=0.1,
    )


def binary(rate: float, quick: bool) -> Task:
    """Two overlapping Gaussian classes with positive rate ``rate``, a logistic model.
    Minority-class precision/recall/F1 at threshold 1/2 and the calibration error of
    sigmoid(score) (for hinge, what a user would be tempted to read as a probability)."""
    dim, n_train, n_test = 4, (1000 if quick else 4000), (4000 if quick else 40000)
    separation = 2.5  # distance between the class means, in noise widths

    def sample(rng, n, direction):
        y = rng.uniform(size=n) < rate
        x = rng.normal(size=(n, dim)) + np.where(y[:, None], 0.5, -0.5) * separation * direction
        return x, y

    def make_data(rng):
        direction = rng.normal(size=dim)
        direction /= np.linalg.norm(direction)
        x, y = sample(rng, n_train, direction)
        x_test, y_test = sample(rng, n_test, direction)
        return {"x": x, "y": y.astype(np.float32)}, {"x": x_test, "y": y_test}

    init, score = _linear(dim)

    def feed(loss, p, d):
        return loss(score(p, d["x"]), d["y"])

    def evaluate(params, test):
        p = 1.0 / (1.0 + np.exp(-score(params, test["x"])))
        precision, recall, f1 = precision_recall_f1(p >= 0.5, test["y"])
        return {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "ece": expected_calibration_error(p, test["y"]),
        }

    pos_weight = round((1.0 - rate) / rate, 1)
    return Task(
        name="binary",
        title=f"logistic model, {n_train} training points, positive rate {rate:g}; "
        "minority-class metrics at threshold 0.5",
        make_data=make_data,
        init=init,
        cases=(
            Case("binary_cross_entropy", {}, feed),
            Case("binary_cross_entropy", {"pos_weight": pos_weight}, feed),
            Case("focal_loss", {"gamma": 2.0}, feed),
            Case("focal_loss", {"gamma": 2.0, "alpha": 0.75}, feed),
            Case("hinge_loss", {}, feed),
        ),
        evaluate=evaluate,
        metrics=(
            Metric("precision", "precision", True),
            Metric("recall", "recall", True),
            Metric("f1", "F1", True),
            Metric("ece", "ECE", False),
        ),
        verdict=("recall", "f1", "ece"),
        plots=(("precision", "recall", "f1"), ("ece",)),
        steps=400,
        learning_rate=0.1,
    )


def multiclass(quick: bool) -> Task:
    """4 classes, each a mixture of 3 Gaussian blobs in the plane, a one-hidden-layer MLP.
    Accuracy, macro precision/recall/F1 and the top-label calibration error."""
    classes, blobs, hidden = 4, 3, 32
    n_train, n_test = (500 if quick else 2000), (2000 if quick else 8000)

    def sample(rng, n, centres):
        y = rng.integers(0, classes, size=n)
        x = centres[y, rng.integers(0, blobs, size=n)] + 0.7 * rng.normal(size=(n, 2))
        return x, y.astype(np.int32)

    def make_data(rng):
        centres = rng.uniform(-3.0, 3.0, size=(classes, blobs, 2))
        x, y = sample(rng, n_train, centres)
        x_test, y_test = sample(rng, n_test, centres)
        return {"x": x, "y": y}, {"x": x_test, "y": y_test}

    def init(rng):
        return {
            "w1": rng.normal(size=(2, hidden)) / math.sqrt(2.0),
            "b1": np.zeros(hidden),
            # The last layer acts on [features, 1], so that linear_cross_entropy (hidden
            # states and a weight matrix) trains exactly the model sparse cross-entropy does.
            "w2": rng.normal(size=(hidden + 1, classes)) / math.sqrt(hidden),
        }

    def features(params, x, xp):
        h = xp.tanh(x @ params["w1"] + params["b1"][None, :])
        return xp.concatenate([h, xp.ones((h.shape[0], 1), h.dtype)], axis=1)

    def logits(params, x, xp):
        return features(params, x, xp) @ params["w2"]

    def on_logits(loss, p, d):
        import jax.numpy as jnp

        return loss(logits(p, d["x"], jnp), d["y"])

    def on_one_hot(loss, p, d):
        import jax
        import jax.numpy as jnp

        return loss(logits(p, d["x"], jnp), jax.nn.one_hot(d["y"], classes))

    def on_features(loss, p, d):
        import jax.numpy as jnp

        return loss(features(p, d["x"], jnp), p["w2"], d["y"])

    def evaluate(params, test):
        z = logits(params, test["x"], np)
        probs = np.exp(z - z.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        predicted, actual = probs.argmax(axis=1), test["y"]
        # Confusion matrix [actual, predicted]; macro averages over the classes.
        confusion = np.zeros((classes, classes))
        np.add.at(confusion, (actual, predicted), 1.0)
        tp, n_actual, n_predicted = np.diag(confusion), confusion.sum(1), confusion.sum(0)
        correct = predicted == actual
        return {
            "accuracy": np.mean(correct),
            "precision": np.mean(tp / np.maximum(n_predicted, 1)),
            "recall": np.mean(tp / np.maximum(n_actual, 1)),
            "f1": np.mean(2 * tp / np.maximum(n_actual + n_predicted, 1)),
            "ece": expected_calibration_error(probs.max(axis=1), correct),
        }

    return Task(
        name="multiclass",
        title=f"MLP 2-{hidden}-{classes}, {n_train} training points, {classes} classes of "
        f"{blobs} Gaussian blobs each; macro averages, top-label ECE",
        make_data=make_data,
        init=init,
        cases=(
            Case("sparse_categorical_cross_entropy", {}, on_logits),
            Case("categorical_cross_entropy", {"label_smoothing": 0.1}, on_one_hot),
            Case("categorical_focal_loss", {"gamma": 2.0}, on_logits),
            Case("linear_cross_entropy", {}, on_features),
        ),
        evaluate=evaluate,
        metrics=(
            Metric("accuracy", "accuracy", True),
            Metric("precision", "precision", True),
            Metric("recall", "recall", True),
            Metric("f1", "F1", True),
            Metric("ece", "ECE", False),
        ),
        verdict=("accuracy", "ece"),
        plots=(("accuracy", "f1"), ("ece",)),
        steps=500,
        learning_rate=0.03,
    )


BUILDERS = {
    "regression": lambda *, outliers, imbalance, quick: regression(outliers, quick),
    "binary": lambda *, outliers, imbalance, quick: binary(imbalance, quick),
    "multiclass": lambda *, outliers, imbalance, quick: multiclass(quick),
}
