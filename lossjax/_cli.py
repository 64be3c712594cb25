"""``python -m lossjax``: compare losses on data, get recommendations, list the registry.

``compare`` answers "which loss for my problem?" with evidence: it trains the
same small model with each applicable loss on a synthetic data set made for
the question and prints the metrics that matter.

* regression: a linear signal with Gaussian noise, where a chosen fraction of
  the training targets are gross, one-sided outliers (a sensor glitch adds
  10 to 30 noise widths). Scored on the clean signal of a test set: an
  estimator that the outliers pull away from the signal scores badly.
* binary: two overlapping Gaussian classes with a chosen positive rate,
  a logistic model. Scored on a large test set with the same rate by the
  minority class's precision, recall and F1 at threshold 1/2, and by the
  expected calibration error of the predicted positive-class probability
  (10 equal-width bins; for the hinge loss, of sigmoid(score), which is what
  a user would be tempted to read as a probability).
* multiclass: 4 classes, each a mixture of Gaussian blobs in the plane, a
  one-hidden-layer MLP. Accuracy, macro precision/recall/F1 and the
  top-label calibration error.

Every loss of a task trains through one function (:func:`_train`): a
``jax.jit`` of a ``jax.vmap`` over seeds (each seed has its own data and
initialisation) of a full-batch optax Adam loop over the loss closure, so only
the loss differs. Data are drawn with NumPy, which costs no compilation; the
run time is mostly XLA compiling one training loop per loss. Runtime
dependencies are jax and optax; matplotlib is optional.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import Any

TASK_CHOICES = ("regression", "binary", "multiclass")
ECE_BINS = 10


# -- argument parsing -----------------------------------------------------------------------


def _fraction(low: float, high: float, *, low_open: bool = False, high_open: bool = True):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
        if not ok:
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"{value} is not in {lo}{low}, {high}{hi}")
        return value

    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from lossjax import _registry

    parser = argparse.ArgumentParser(
        prog="python -m lossjax",
        description="lossjax: choose a loss with evidence. Compare losses on synthetic data made "
        "for your question, get ranked recommendations, or list every loss.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(
            """\
            examples:
              python -m lossjax compare                        # all three tasks, < 1 minute
              python -m lossjax compare --task regression --outliers 0.2
              python -m lossjax compare --task binary --imbalance 0.02 --plot binary.png
              python -m lossjax suggest regression --outliers
              python -m lossjax suggest binary --imbalanced 0.05 --calibrated
              python -m lossjax suggest regression --intervals
              python -m lossjax list --task multiclass
              python -m lossjax info huber
            """
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    compare = commands.add_parser(
        "compare",
        help="train one small model with each loss on synthetic data and compare the metrics",
        description="Train the same small model with each applicable loss on an embedded "
        "synthetic data set and print a table of test metrics (mean over seeds) and the "
        "time per training step; save a bar-chart PNG.",
    )
    compare.add_argument(
        "--task",
        choices=(*TASK_CHOICES, "all"),
        default="all",
        help="which comparison (default: all)",
    )
    compare.add_argument(
        "--outliers",
        type=_fraction(0.0, 0.5),
        default=0.1,
        metavar="FRACTION",
        help="regression: fraction of training targets that are gross outliers, in [0, 0.5) "
        "(default: 0.1)",
    )
    compare.add_argument(
        "--imbalance",
        type=_fraction(0.0, 0.5, low_open=True, high_open=False),
        default=0.05,
        metavar="RATE",
        help="binary: rate of the positive (minority) class, in (0, 0.5] (default: 0.05)",
    )
    compare.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="training steps (default: 400 regression and binary, 500 multiclass; 60 with --quick)",
    )
    compare.add_argument(
        "--seeds",
        type=_positive_int,
        default=None,
        help="independent repetitions, trained together with jax.vmap (default: 3; 1 with --quick)",
    )
    compare.add_argument("--seed", type=_int, default=0, help="base random seed (default: 0)")
    compare.add_argument(
        "--plot",
        default="lossjax_compare.png",
        metavar="PATH",
        help="where to save the bar charts (default: lossjax_compare.png; needs matplotlib)",
    )
    compare.add_argument("--no-plot", action="store_true", help="do not save a plot")
    compare.add_argument(
        "--quick", action="store_true", help="tiny data and few steps: a smoke test in seconds"
    )
    compare.set_defaults(func=_cmd_compare)

    suggest = commands.add_parser(
        "suggest",
        help="ranked loss recommendations for a problem",
        description="Rank the registered losses for a task; flags describe the problem.",
    )
    suggest.add_argument("task", choices=_registry.TASKS)
    suggest.add_argument(
        "--outliers",
        nargs="?",
        const=True,
        default=False,
        type=_fraction(0.0, 1.0),
        metavar="FRACTION",
        help="the targets contain gross errors (an optional fraction is accepted)",
    )
    suggest.add_argument(
        "--imbalanced",
        "--imbalance",
        nargs="?",
        const=True,
        default=False,
        type=_fraction(0.0, 1.0, low_open=True, high_open=True),
        metavar="RATE",
        help="a class is rare; an optional positive rate sets a suggested pos_weight",
    )
    suggest.add_argument(
        "--calibrated", action="store_true", help="predicted probabilities must be calibrated"
    )
    suggest.add_argument(
        "--large-vocab", action="store_true", help="very many classes (a language model)"
    )
    suggest.add_argument(
        "--count-data", action="store_true", help="regression: the targets are counts (Poisson)"
    )
    suggest.add_argument(
        "--heteroscedastic",
        action="store_true",
        help="regression: the noise level varies; the model also predicts a variance",
    )
    suggest.add_argument(
        "--intervals",
        action="store_true",
        help="regression: quantiles or prediction intervals are wanted",
    )
    suggest.add_argument(
        "--skewed-positive",
        action="store_true",
        help="regression: positive, right-skewed targets such as prices",
    )
    suggest.add_argument(
        "--margin",
        action="store_true",
        help="binary, multiclass: a max-margin classifier (scores, not probabilities); "
        "contradicts --calibrated",
    )
    suggest.set_defaults(func=_cmd_suggest)

    listing = commands.add_parser(
        "list", help="the registry: every loss, its aliases, properties and hyperparameters"
    )
    listing.add_argument("--task", choices=_registry.TASKS, default=None)
    listing.set_defaults(func=_cmd_list)

    describe = commands.add_parser("info", help="one loss's metadata and documentation")
    describe.add_argument("name", help="a loss name or alias, e.g. huber or scce")
    describe.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args, parser)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m lossjax list | head`
        sys.stderr.close()
        return 0


# -- suggest / list / info -------------------------------------------------------------------


def _cmd_suggest(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lossjax import _registry

    outliers = args.outliers is True or (args.outliers is not False and args.outliers > 0)
    try:
        suggestions = _registry.suggest(
            args.task,
            outliers=outliers,
            imbalanced=args.imbalanced,
            calibrated=args.calibrated,
            large_vocab=args.large_vocab,
            count_data=args.count_data,
            heteroscedastic=args.heteroscedastic,
            intervals=args.intervals,
            skewed_positive=args.skewed_positive,
            margin=args.margin,
        )
    except ValueError as e:
        parser.error(str(e).removeprefix("lossjax: "))
    flags = [
        name
        for name, on in (
            ("outliers", outliers),
            ("imbalanced", args.imbalanced is not False),
            ("calibrated", args.calibrated),
            ("large vocabulary", args.large_vocab),
            ("count data", args.count_data),
            ("heteroscedastic", args.heteroscedastic),
            ("intervals", args.intervals),
            ("skewed positive", args.skewed_positive),
            ("margin", args.margin),
        )
        if on
    ]
    print(f"Recommended losses for {args.task}" + (f" ({', '.join(flags)})" if flags else "") + ":")
    for rank, s in enumerate(suggestions, 1):
        bound = ", ".join(
            [f"{k}={v!r}" for k, v in s.hyperparameters.items()] + [f"{k}=..." for k in s.requires]
        )
        call = f'lossjax.get("{s.name}"' + (f", {bound})" if bound else ")")
        print(f"{rank:2d}. {call}")
        for line in textwrap.wrap(s.reason, 88):
            print(f"      {line}")
    return 0


def _properties(entry: Any) -> str:
    props = [
        ("robust", entry.robust_to_outliers),
        ("calibrated", entry.calibrated_probabilities),
        ("margin", entry.margin_based),
        ("imbalance", entry.handles_imbalance),
        ("large-vocab", entry.large_vocab),
    ]
    return ", ".join(p for p, on in props if on) or "-"


def _cmd_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lossjax import _registry

    entries = [_registry.info(n) for n in _registry.available(args.task)]
    rows = [(e.name, e.task, e.input_kind, _properties(e)) for e in entries]
    headers = ("loss", "task", "input", "properties")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for entry, row in zip(entries, rows, strict=True):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        details = [f"aliases: {', '.join(entry.aliases)}"] if entry.aliases else []
        details += [f"{h.name}={h.default!r} ({h.valid})" for h in entry.hyperparameters]
        # Wrap between items only: no-break spaces inside an item such as "[0, 1]".
        items = "; ".join(d.replace(" ", "\u00a0") for d in details)
        for text in textwrap.wrap(items, 92):
            print(f"    {text}".replace("\u00a0", " "))
    print(
        f"\n{len(entries)} losses. `python -m lossjax info NAME` for one; "
        "lossjax.get(NAME, **hyperparameters) in code."
    )
    return 0


def _cmd_info(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lossjax import _registry

    try:
        entry = _registry.info(args.name)
    except KeyError as e:
        parser.error(str(e).removeprefix("lossjax: "))
    print(f"lossjax.{entry.name}  ({entry.summary})")
    print(f"  aliases:    {', '.join(entry.aliases) or '-'}")
    print(f"  task:       {entry.task}")
    print(f"  input:      {entry.input_kind}")
    print(f"  properties: {_properties(entry)}")
    for h in entry.hyperparameters:
        print(f"  {h.name} = {h.default!r}  valid: {h.valid}  -- {h.description}")
    doc = (entry.function.__doc__ or "").strip()
    if doc:
        print()
        print(textwrap.indent(textwrap.dedent("\n".join(doc.splitlines()[1:])).strip(), "  "))
    return 0


# -- compare: progress bar -----------------------------------------------------------------


class Progress:
    """A minimal progress bar on stderr (a line per item when stderr is not a terminal)."""

    def __init__(self, total: int, stream=None, width: int = 28):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.label = ""

    def update(self, n: int = 1, label: str | None = None) -> None:
        self.done = min(self.total, self.done + n)
        if label is not None:
            self.label = label
        if self.tty:
            self._draw()

    def _draw(self) -> None:
        frac = self.done / self.total
        filled = round(frac * self.width)
        elapsed = time.perf_counter() - self.start
        eta = f" eta {elapsed / frac - elapsed:4.0f}s" if 0 < frac < 1 else ""
        bar = "#" * filled + "-" * (self.width - filled)
        text = f"\r[{bar}] {frac:4.0%} {elapsed:4.0f}s{eta}  {self.label}"
        cols = _terminal_columns()
        self.stream.write(text[: cols - 1].ljust(cols - 1))
        self.stream.flush()

    def note(self, message: str) -> None:
        """A finished item: a line of its own (kept below the bar on a terminal)."""
        if self.tty:
            self.stream.write("\r" + " " * (_terminal_columns() - 1) + "\r")
        self.stream.write(message + "\n")
        self.stream.flush()
        if self.tty:
            self._draw()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * (_terminal_columns() - 1) + "\r")
            self.stream.flush()


def _terminal_columns() -> int:
    try:
        return max(40, os.get_terminal_size(sys.stderr.fileno()).columns)
    except (OSError, ValueError):
        return 100


# -- compare: tasks ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One loss in a comparison: a label and ``objective(params, data) -> scalar``."""

    label: str
    objective: Callable[[Any, dict], Any]


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str
    header: str
    higher_is_better: bool
    fmt: str = "{:.3f}"


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    title: str  # what the data set is, one line
    make_data: Callable[[Any], dict]  # numpy Generator -> arrays of one seed
    init: Callable[[Any], Any]  # numpy Generator -> parameters
    cases: tuple[Case, ...]
    evaluate: Callable[[Any, dict], dict]  # (params, data) -> {metric: scalar}
    metrics: tuple[Metric, ...]
    plots: tuple[tuple[str, ...], ...]  # metric keys per plot panel
    steps: int
    learning_rate: float
    verdict: Callable[[dict[str, dict[str, float]]], str]


def _label(name: str, **hp: Any) -> str:
    """A short display name: the loss's first alias and its bound hyperparameters."""
    from lossjax import _registry

    entry = _registry.info(name)
    short = entry.aliases[0] if entry.aliases else entry.name
    args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hp.items())
    return f"{short}({args})" if args else short


def _linear_model(dim: int):
    """``(init, predict, case)`` of the linear model shared by the regression and binary tasks.

    ``case(name, **hp)`` trains the model on ``loss(predict(params, x), y)`` with the
    registry's loss ``name`` and its hyperparameters bound.
    """
    import numpy as np

    from lossjax import _registry

    def init(rng):
        return {"w": 0.1 * rng.normal(size=dim), "b": np.zeros(())}

    def predict(params, x):
        return x @ params["w"] + params["b"]

    def case(name, **hp):
        loss = _registry.get(name, **hp)
        return Case(_label(name, **hp), lambda p, d: loss(predict(p, d["x"]), d["y"]))

    return init, predict, case


def _regression_task(outliers: float, quick: bool) -> Task:
    import jax.numpy as jnp

    dim, n_train, n_test = 8, (256 if quick else 1000), (512 if quick else 4000)
    noise = 0.5

    def make_data(rng):
        w = rng.normal(size=dim)
        x = rng.normal(size=(n_train, dim))
        y = x @ w + 0.5 + noise * rng.normal(size=n_train)
        # Gross one-sided outliers (a glitch adds 10 to 30 noise widths): they bias an
        # estimator that is not robust, instead of only adding variance.
        is_outlier = rng.uniform(size=n_train) < outliers
        y = y + is_outlier * noise * rng.uniform(10.0, 30.0, size=n_train)
        x_test = rng.normal(size=(n_test, dim))
        return {"x": x, "y": y, "x_test": x_test, "f_test": x_test @ w + 0.5}

    init, predict, case = _linear_model(dim)

    cases = (
        case("mean_squared_error"),
        case("mean_absolute_error"),
        case("huber_loss", delta=1.0),
        case("log_cosh_loss"),
    )

    def evaluate(params, data):
        err = predict(params, data["x_test"]) - data["f_test"]
        return {"mse": jnp.mean(err**2), "mae": jnp.mean(jnp.abs(err))}

    def verdict(results):
        best = min(results, key=lambda c: results[c]["mse"])
        worst = max(results, key=lambda c: results[c]["mse"])
        ratio = results[worst]["mse"] / max(results[best]["mse"], 1e-12)
        return (
            f"closest to the clean signal: {best}; {worst} is {ratio:.0f}x worse in MSE"
            if ratio >= 2
            else f"closest to the clean signal: {best} (all within 2x: few or no outliers)"
        )

    return Task(
        name="regression",
        title=f"linear model, {n_train} training points, {outliers:.0%} gross outliers in the "
        "targets; test error against the clean signal",
        make_data=make_data,
        init=init,
        cases=cases,
        evaluate=evaluate,
        metrics=(
            Metric("mse", "clean MSE", False, "{:.4f}"),
            Metric("mae", "clean MAE", False, "{:.4f}"),
        ),
        plots=(("mse",), ("mae",)),
        steps=60 if quick else 400,
        learning_rate=0.1,
        verdict=verdict,
    )


def _expected_calibration_error(confidence, correct):
    """ECE with ``ECE_BINS`` equal-width bins of ``confidence`` in [0, 1]."""
    import jax
    import jax.numpy as jnp

    bins = jnp.clip(jnp.floor(confidence * ECE_BINS).astype(jnp.int32), 0, ECE_BINS - 1)
    one_hot = jax.nn.one_hot(bins, ECE_BINS, dtype=confidence.dtype)
    gap = one_hot.T @ correct.astype(confidence.dtype) - one_hot.T @ confidence
    return jnp.sum(jnp.abs(gap)) / confidence.shape[0]


def _precision_recall_f1(predicted, actual):
    import jax.numpy as jnp

    tp = jnp.sum(predicted & actual)
    fp = jnp.sum(predicted & ~actual)
    fn = jnp.sum(~predicted & actual)
    precision = tp / jnp.maximum(tp + fp, 1)
    recall = tp / jnp.maximum(tp + fn, 1)
    f1 = 2 * tp / jnp.maximum(2 * tp + fp + fn, 1)
    return precision, recall, f1


def _binary_task(rate: float, quick: bool) -> Task:
    import jax
    import numpy as np

    dim, n_train, n_test = 4, (1000 if quick else 4000), (4000 if quick else 40000)
    separation = 2.5  # distance between the class means, in noise widths

    def sample(rng, n, direction):
        y = rng.uniform(size=n) < rate
        x = rng.normal(size=(n, dim))
        x = x + np.where(y[:, None], 0.5, -0.5) * separation * direction[None, :]
        return x, y

    def make_data(rng):
        direction = rng.normal(size=dim)
        direction = direction / np.linalg.norm(direction)
        x, y = sample(rng, n_train, direction)
        x_test, y_test = sample(rng, n_test, direction)
        return {"x": x, "y": y.astype(np.float32), "x_test": x_test, "y_test": y_test}

    init, score, case = _linear_model(dim)

    pos_weight = round((1.0 - rate) / rate, 1)
    cases = (
        case("binary_cross_entropy"),
        case("binary_cross_entropy", pos_weight=pos_weight),
        case("focal_loss", gamma=2.0),
        case("focal_loss", gamma=2.0, alpha=0.75),
        case("hinge_loss"),
    )

    def evaluate(params, data):
        # Hinge scores are not probabilities; sigmoid(score) is what a user would try,
        # and its calibration error shows why that is wrong.
        p = jax.nn.sigmoid(score(params, data["x_test"]))
        actual = data["y_test"]
        precision, recall, f1 = _precision_recall_f1(p >= 0.5, actual)
        return {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "ece": _expected_calibration_error(p, actual),
        }

    def verdict(results):
        by_recall = max(results, key=lambda c: results[c]["recall"])
        by_f1 = max(results, key=lambda c: results[c]["f1"])
        by_ece = min(results, key=lambda c: results[c]["ece"])
        return f"minority recall: {by_recall}; F1: {by_f1}; calibration: {by_ece}"

    return Task(
        name="binary",
        title=f"logistic model, {n_train} training points, positive rate {rate:g}; "
        "minority-class metrics at threshold 0.5",
        make_data=make_data,
        init=init,
        cases=cases,
        evaluate=evaluate,
        metrics=(
            Metric("precision", "precision", True),
            Metric("recall", "recall", True),
            Metric("f1", "F1", True),
            Metric("ece", "ECE", False),
        ),
        plots=(("precision", "recall", "f1"), ("ece",)),
        steps=60 if quick else 400,
        learning_rate=0.1,
        verdict=verdict,
    )


def _multiclass_task(quick: bool) -> Task:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from lossjax import _registry

    classes, blobs, hidden = 4, 3, 32
    n_train, n_test = (500 if quick else 2000), (2000 if quick else 8000)

    def sample(rng, n, centres):
        y = rng.integers(0, classes, size=n)
        blob = rng.integers(0, blobs, size=n)
        x = centres[y, blob] + 0.7 * rng.normal(size=(n, 2))
        return x, y.astype(np.int32)

    def make_data(rng):
        centres = rng.uniform(-3.0, 3.0, size=(classes, blobs, 2))
        x, y = sample(rng, n_train, centres)
        x_test, y_test = sample(rng, n_test, centres)
        return {"x": x, "y": y, "x_test": x_test, "y_test": y_test}

    def init(rng):
        return {
            "w1": rng.normal(size=(2, hidden)) / math.sqrt(2.0),
            "b1": np.zeros(hidden),
            # The last layer acts on [features, 1], so that linear_cross_entropy (which
            # takes hidden states and a weight matrix) trains exactly the same model.
            "w2": rng.normal(size=(hidden + 1, classes)) / math.sqrt(hidden),
        }

    def features(params, x):
        h = jnp.tanh(x @ params["w1"] + params["b1"][None, :])
        return jnp.concatenate([h, jnp.ones((h.shape[0], 1), h.dtype)], axis=1)

    def logits(params, x):
        return features(params, x) @ params["w2"]

    def case(name, objective, **hp):
        loss = _registry.get(name, **hp)
        return Case(_label(name, **hp), lambda p, d: objective(loss, p, d))

    cases = (
        case("sparse_categorical_cross_entropy", lambda f, p, d: f(logits(p, d["x"]), d["y"])),
        case(
            "categorical_cross_entropy",
            lambda f, p, d: f(logits(p, d["x"]), jax.nn.one_hot(d["y"], classes)),
            label_smoothing=0.1,
        ),
        case("categorical_focal_loss", lambda f, p, d: f(logits(p, d["x"]), d["y"]), gamma=2.0),
        case(
            "linear_cross_entropy",
            lambda f, p, d: f(features(p, d["x"]), p["w2"], d["y"]),
        ),
    )

    def evaluate(params, data):
        probs = jax.nn.softmax(logits(params, data["x_test"]), axis=-1)
        predicted = jnp.argmax(probs, axis=-1)
        actual = data["y_test"]
        # Confusion matrix [actual, predicted]; macro averages over the classes.
        confusion = jax.nn.one_hot(actual, classes).T @ jax.nn.one_hot(predicted, classes)
        tp, n_actual, n_predicted = jnp.diag(confusion), confusion.sum(1), confusion.sum(0)
        correct = predicted == actual
        return {
            "accuracy": jnp.mean(correct),
            "precision": jnp.mean(tp / jnp.maximum(n_predicted, 1)),
            "recall": jnp.mean(tp / jnp.maximum(n_actual, 1)),
            "f1": jnp.mean(2 * tp / jnp.maximum(n_actual + n_predicted, 1)),
            "ece": _expected_calibration_error(jnp.max(probs, axis=-1), correct),
        }

    def verdict(results):
        by_acc = max(results, key=lambda c: results[c]["accuracy"])
        by_ece = min(results, key=lambda c: results[c]["ece"])
        return f"accuracy: {by_acc}; calibration: {by_ece}"

    return Task(
        name="multiclass",
        title=f"MLP 2-{hidden}-{classes}, {n_train} training points, {classes} classes of "
        f"{blobs} Gaussian blobs each; macro averages, top-label ECE",
        make_data=make_data,
        init=init,
        cases=cases,
        evaluate=evaluate,
        metrics=(
            Metric("accuracy", "accuracy", True),
            Metric("precision", "precision", True),
            Metric("recall", "recall", True),
            Metric("f1", "F1", True),
            Metric("ece", "ECE", False),
        ),
        plots=(("accuracy", "f1"), ("ece",)),
        steps=60 if quick else 500,
        learning_rate=0.03,
        verdict=verdict,
    )


# -- compare: training ---------------------------------------------------------------------------


def _stack(trees: list[dict]) -> dict:
    import jax.numpy as jnp
    import numpy as np

    def as_jax(x):
        x = np.stack(x)
        return jnp.asarray(x.astype(np.float32) if x.dtype == np.float64 else x)

    return {k: as_jax([t[k] for t in trees]) for k in trees[0]}


def _optimizer(task: Task, steps: int):
    import optax

    return optax.adam(optax.cosine_decay_schedule(task.learning_rate, steps, alpha=0.01))


def _train(case: Case, optimizer, params, opt_state, data, sizes: list[int], tick: Callable):
    """Trains ``case`` on every seed at once; returns (params, ms per step).

    The same structure for every loss: ``jit(vmap(loop))`` where ``loop`` runs
    a number of Adam steps (a traced count, so one compilation serves every
    chunk) on ``case.objective``; only the loss closure differs. The first
    chunk includes the compilation and is left out of the time per step.
    """
    import jax
    import optax

    def loop(params, opt_state, data, n):
        def step(_, carry):
            params, opt_state = carry
            grads = jax.grad(case.objective)(params, data)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        return jax.lax.fori_loop(0, n, step, (params, opt_state))

    run = jax.jit(jax.vmap(loop, in_axes=(0, 0, 0, None)))
    per_step = []  # seconds per step of each chunk after the first
    for i, n in enumerate(sizes):
        start = time.perf_counter()
        params, opt_state = run(params, opt_state, data, n)
        jax.block_until_ready(params)
        if i > 0:
            per_step.append((time.perf_counter() - start) / n)
        tick()
    if not per_step:  # a single chunk: time a second run of it, now compiled.
        start = time.perf_counter()
        jax.block_until_ready(run(params, opt_state, data, sizes[0]))
        per_step.append((time.perf_counter() - start) / sizes[0])
    # The fastest chunk, as timeit does: other processes only ever slow a chunk down.
    return params, 1000.0 * min(per_step)


def _run_task(task: Task, steps: int, seeds: int, seed: int, progress: Progress, chunks: int):
    import jax
    import numpy as np

    # Data and initial parameters come from NumPy (nothing to compile), one set per
    # seed, stacked on a leading axis that the training loop vmaps over.
    rngs = [np.random.default_rng([seed, i]) for i in range(seeds)]
    data = _stack([task.make_data(rng) for rng in rngs])
    params0 = _stack([task.init(rng) for rng in rngs])
    optimizer = _optimizer(task, steps)
    opt_state0 = jax.jit(jax.vmap(optimizer.init))(params0)
    evaluate = jax.jit(jax.vmap(task.evaluate))
    sizes = [steps // chunks + (1 if i < steps % chunks else 0) for i in range(chunks)]
    results: dict[str, dict[str, Any]] = {}
    for case in task.cases:
        start = time.perf_counter()

        def tick(label=f"{task.name}: {case.label}"):
            progress.update(1, label)

        progress.update(0, f"{task.name}: {case.label} (compiling)")
        params, ms = _train(case, optimizer, params0, opt_state0, data, sizes, tick)
        scores = {k: np.asarray(v, dtype=np.float64) for k, v in evaluate(params, data).items()}
        if not all(np.all(np.isfinite(v)) for v in scores.values()):
            progress.note(f"  warning: {case.label} produced non-finite metrics")
        results[case.label] = {
            **{k: float(v.mean()) for k, v in scores.items()},
            **{f"{k}_std": float(v.std()) for k, v in scores.items()},
            "ms": ms,
        }
        progress.note(f"  {task.name:10s} {case.label:46s} {time.perf_counter() - start:5.1f}s")
    return results


def _format_table(task: Task, results: dict[str, dict[str, float]], seeds: int) -> str:
    headers = ["loss", *(m.header for m in task.metrics), "ms/step"]
    best = {}
    for m in task.metrics:
        values = [r[m.key] for r in results.values()]
        best[m.key] = m.fmt.format(max(values) if m.higher_is_better else min(values))
    rows = []
    for label, r in results.items():
        cells = [label]
        for m in task.metrics:
            text = m.fmt.format(r[m.key])
            mark = "*" if text == best[m.key] else " "  # ties at the shown precision too
            if seeds > 1:
                text += f"±{m.fmt.format(r[m.key + '_std'])}"
            cells.append(text + mark)
        cells.append(f"{r['ms']:.3f}")
        rows.append(cells)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def fmt(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    lines = [fmt(headers), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]
    return "\n".join(lines)


def _plot(tasks: list[Task], all_results: dict[str, dict], seeds: int, path: str) -> str | None:
    """Bar charts of the key metrics and step time; returns a message if skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot (pip install matplotlib)"

    panels = max(len(t.plots) for t in tasks) + 1
    fig, axes = plt.subplots(
        len(tasks), panels, figsize=(4.6 * panels, 4.4 * len(tasks)), squeeze=False
    )
    colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3"]
    for row, task in zip(axes, tasks, strict=True):
        results = all_results[task.name]
        labels = list(results)
        x = list(range(len(labels)))
        metric_by_key = {m.key: m for m in task.metrics}
        for ax, keys in zip(row, task.plots, strict=False):
            width = 0.8 / len(keys)
            for j, key in enumerate(keys):
                values = [results[c][key] for c in labels]
                errors = [results[c][key + "_std"] for c in labels] if seeds > 1 else None
                offsets = [i + (j - (len(keys) - 1) / 2) * width for i in x]
                bars = ax.bar(
                    offsets,
                    values,
                    width,
                    yerr=errors,
                    capsize=3,
                    label=metric_by_key[key].header,
                    color=colours[j % len(colours)],
                )
            names = [metric_by_key[k].header for k in keys]
            lower = " (lower is better)" if not metric_by_key[keys[0]].higher_is_better else ""
            ax.set_title(f"{task.name}: {' / '.join(names)}{lower}", fontsize=11)
            ax.set_ylabel(" / ".join(names))
            positive = [results[c][k] for c in labels for k in keys if results[c][k] > 0]
            if not metric_by_key[keys[0]].higher_is_better and positive:
                if max(positive) / min(positive) > 30:
                    ax.set_yscale("log")
                    ax.set_ylabel(" / ".join(names) + " (log scale)")
                    ax.set_ylim(top=max(positive) * 3)  # room for the value labels
                else:
                    ax.margins(y=0.12)
            if len(keys) > 1:
                if metric_by_key[keys[0]].higher_is_better:
                    ax.set_ylim(0, 1.15)  # room for the legend above bars of scores <= 1
                ax.legend(fontsize=9, loc="upper center", ncol=len(keys), frameon=False)
            else:
                ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
            ax.set_xticks(x)
            ax.set_xticklabels(
                [_wrap_label(c) for c in labels], rotation=30, ha="right", fontsize=9
            )
            ax.grid(axis="y", alpha=0.3)
        ax = row[len(task.plots)]
        bars = ax.bar(x, [results[c]["ms"] for c in labels], 0.6, color="#937860")
        ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
        ax.margins(y=0.12)
        ax.set_title(f"{task.name}: time per training step", fontsize=11)
        ax.set_ylabel(f"ms per step ({seeds} seed{'s' if seeds > 1 else ''} vmapped)")
        ax.set_xticks(x)
        ax.set_xticklabels([_wrap_label(c) for c in labels], rotation=30, ha="right", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        for ax in row[len(task.plots) + 1 :]:
            ax.set_visible(False)
    spread = f"mean ± std over {seeds} seeds" if seeds > 1 else "1 seed"
    fig.suptitle(f"python -m lossjax compare: test metrics per loss ({spread})")
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _wrap_label(label: str) -> str:
    name, _, args = label.partition("(")
    return f"{name}\n({args}" if args else name


def _cmd_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    names = TASK_CHOICES if args.task == "all" else (args.task,)
    builders = {
        "regression": lambda: _regression_task(args.outliers, args.quick),
        "binary": lambda: _binary_task(args.imbalance, args.quick),
        "multiclass": lambda: _multiclass_task(args.quick),
    }
    tasks = [builders[n]() for n in names]
    seeds = args.seeds or (1 if args.quick else 3)
    chunks = 4 if args.quick else 10
    steps_of = {t.name: args.steps or t.steps for t in tasks}
    chunks_of = {t.name: min(chunks, steps_of[t.name]) for t in tasks}
    total = sum(len(t.cases) * chunks_of[t.name] for t in tasks)
    progress = Progress(total)
    start = time.perf_counter()
    all_results = {}
    for task in tasks:
        all_results[task.name] = _run_task(
            task, steps_of[task.name], seeds, args.seed, progress, chunks_of[task.name]
        )
    progress.close()
    elapsed = time.perf_counter() - start

    for task in tasks:
        print(f"\n== {task.name}: {task.title}")
        spread = (
            f"mean±std over {seeds} seeds, trained together by jax.vmap" if seeds > 1 else "1 seed"
        )
        print(
            f"   {steps_of[task.name]} full-batch Adam steps; {spread}; * best in column; "
            "ms/step: one step for all seeds"
        )
        print(_format_table(task, all_results[task.name], seeds))
        print(f"-> {task.verdict(all_results[task.name])}")
    print(f"\n{sum(len(t.cases) for t in tasks)} losses trained in {elapsed:.1f}s.")
    if not args.no_plot:
        skipped = _plot(tasks, all_results, seeds, args.plot)
        print(skipped if skipped else f"plot saved to {args.plot}")
    return 0
