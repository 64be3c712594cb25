"""``run``: the comparison as data; ``Result``/``TaskResult``: what a caller prints or plots."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import numbers
import time
from collections.abc import Callable, Sequence

import numpy as np

from lossjax.compare._metrics import indistinguishable
from lossjax.compare._tasks import BUILDERS, Metric, Task
from lossjax.compare._training import chunk_sizes, prepare, train

TASKS = tuple(BUILDERS)
CHUNKS = 10  # a warm-up chunk, then 9 timed repetitions (without --quick)
MIN_TIMED = 3  # fewer timed chunks than this: no step time is reported


@dataclasses.dataclass(frozen=True)
class Event:
    """A progress report: ``done`` of ``total`` chunks; ``seconds`` is set when a loss is done."""

    done: int
    total: int
    task: str
    label: str
    seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """The scores of one comparison.

    Attributes:
        task: the :class:`Task` (data set, model, losses, metrics).
        steps: training steps per loss.
        scores: ``scores[label][metric]``, an array with one score per seed.
        step_ms: ``step_ms[label]``, milliseconds per training step (all seeds at
            once) of each timed chunk; ``None`` when steps were not timed.
        seconds: wall time per loss, compilation included.
    """

    task: Task
    steps: int
    scores: dict[str, dict[str, np.ndarray]]
    step_ms: dict[str, np.ndarray] | None
    seconds: dict[str, float]

    @property
    def labels(self) -> list[str]:
        return list(self.scores)

    def mean(self, label: str, key: str) -> float:
        return float(np.mean(self.scores[label][key]))

    def std(self, label: str, key: str) -> float:
        return float(np.std(self.scores[label][key]))

    def best(self, metric: Metric | str) -> list[str]:
        """The losses with the best mean, and every loss indistinguishable from it.

        More than one name is a tie: the differences are within the metric's tolerance
        or not significant across the seeds (a paired t-test at 5%; see
        ``indistinguishable`` in ``lossjax/compare/_metrics.py``).
        """
        m = self._metric(metric)
        sign = 1.0 if m.higher_is_better else -1.0
        top = max(self.labels, key=lambda c: sign * self.mean(c, m.key))
        ref = self.scores[top][m.key]
        return [
            c
            for c in self.labels
            if indistinguishable(self.scores[c][m.key], ref, atol=m.atol, rtol=m.rtol)
        ]

    def verdict(self) -> list[str]:
        """One line per verdict metric: the winner, or the tie."""
        lines = []
        for key in self.task.verdict:
            m, best = self._metric(key), self.best(key)
            if len(best) == len(self.labels):
                lines.append(f"{m.header}: no difference between the losses (all tied)")
            elif len(best) > 1:
                lines.append(f"{m.header}: tie between {', '.join(best)}")
            else:
                line = f"{m.header}: {best[0]}"
                if not m.higher_is_better:  # an error: say how much worse the worst is
                    worst = max(self.labels, key=lambda c: self.mean(c, key))
                    ratio = self.mean(worst, key) / max(self.mean(best[0], key), 1e-12)
                    line += f" ({worst} is {ratio:.0f}x worse)" if ratio >= 2 else ""
                lines.append(line)
        return lines

    def _metric(self, metric: Metric | str) -> Metric:
        key = metric if isinstance(metric, str) else metric.key
        return next(m for m in self.task.metrics if m.key == key)


@dataclasses.dataclass(frozen=True)
class Result:
    """Everything :func:`run` measured, one :class:`TaskResult` per task."""

    tasks: tuple[TaskResult, ...]
    seeds: int
    seed: int
    quick: bool
    seconds: float

    def __getitem__(self, name: str) -> TaskResult:
        for t in self.tasks:
            if t.task.name == name:
                return t
        raise KeyError(name)


def _check_number(name, value, low, high, *, low_open=False, high_open=False, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise TypeError(f"lossjax: `{name}` must be {what}, got {value!r}.")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high or (not integer and not math.isfinite(value)):
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"lossjax: `{name}` must be in {lo}{low}, {high}{hi}, got {value!r}.")


def plan(
    tasks: Sequence[str] = TASKS,
    *,
    outliers: float = 0.1,
    imbalance: float = 0.05,
    steps: int | None = None,
    seeds: int | None = None,
    seed: int = 0,
    quick: bool = False,
) -> list[tuple[Task, int]]:
    """Validates every argument of :func:`run` and builds its tasks, computing nothing."""
    if isinstance(tasks, str):
        tasks = (tasks,)
    for name in tasks:
        if name not in TASKS:
            raise ValueError(f"lossjax: unknown task {name!r}; tasks: {', '.join(TASKS)}.")
    _check_number("outliers", outliers, 0.0, 0.5, high_open=True)
    _check_number("imbalance", imbalance, 0.0, 0.5, low_open=True)
    big = 10**7
    if steps is not None:
        _check_number("steps", steps, 1, big, integer=True)
    if seeds is not None:
        _check_number("seeds", seeds, 1, 1000, integer=True)
    _check_number("seed", seed, 0, 2**63 - 1, integer=True)
    built = [BUILDERS[n](outliers=outliers, imbalance=imbalance, quick=quick) for n in tasks]
    return [(t, steps or (60 if quick else t.steps)) for t in built]


def run(
    tasks: Sequence[str] = TASKS,
    *,
    outliers: float = 0.1,
    imbalance: float = 0.05,
    steps: int | None = None,
    seeds: int | None = None,
    seed: int = 0,
    quick: bool = False,
    progress: Callable[[Event], None] | None = None,
) -> Result:
    """Trains the same small model with each loss of each task and scores it on test data.

    Args:
        tasks: names from :data:`TASKS` (``"regression"``, ``"binary"``, ``"multiclass"``).
        outliers: regression: the fraction of gross outliers among the training targets.
        imbalance: binary: the positive rate, in ``(0, 0.5]``.
        steps: training steps per loss (default: 400 or 500; 60 with ``quick``).
        seeds: independent repetitions (data and initialisation), trained together by
            ``jax.vmap`` (default 3; 1 with ``quick``).
        seed: the base random seed, a non-negative integer.
        quick: small data, few steps, one seed, programs compiled for compile speed, no
            step times: a smoke run, not evidence.
        progress: called with an :class:`Event` after every training chunk.

    Returns:
        A :class:`Result`.
    """
    todo = plan(
        tasks,
        outliers=outliers,
        imbalance=imbalance,
        steps=steps,
        seeds=seeds,
        seed=seed,
        quick=quick,
    )
    seeds = seeds or (1 if quick else 3)
    sizes = {t.name: chunk_sizes(n, 1 if quick else CHUNKS) for t, n in todo}
    total, done = sum(len(t.cases) * len(sizes[t.name]) for t, _ in todo), 0
    start = time.perf_counter()
    if progress is not None:
        progress(Event(0, total, "compiling", ""))
    # Seed i of every loss shares its data and initialisation: paired comparisons.
    prepared = [prepare(task, steps_, seeds, seed, quick=quick) for task, steps_ in todo]
    # XLA compiles outside the GIL: the tasks' programs compile in parallel.
    with concurrent.futures.ThreadPoolExecutor(len(prepared)) as pool:
        programs = list(pool.map(lambda p: p.lowered.compile(), prepared))
    results = []
    for (task, steps_), prep, program in zip(todo, prepared, programs, strict=True):
        scores, step_ms, seconds = {}, {}, {}
        for index, case in enumerate(task.cases):
            t0 = time.perf_counter()

            def tick(label=case.label, name=task.name):
                nonlocal done
                done += 1
                if progress is not None:
                    progress(Event(done, total, name, label))

            params, ms = train(
                program, index, prep.params, prep.state, prep.data, sizes[task.name], tick
            )
            per_seed = [
                task.evaluate({k: v[i] for k, v in params.items()}, test)
                for i, test in enumerate(prep.test)
            ]
            scores[case.label] = {
                m.key: np.array([s[m.key] for s in per_seed], np.float64) for m in task.metrics
            }
            step_ms[case.label] = np.array(ms)
            seconds[case.label] = time.perf_counter() - t0
            if progress is not None:
                progress(Event(done, total, task.name, case.label, seconds[case.label]))
        timed = not quick and len(sizes[task.name]) - 1 >= MIN_TIMED
        results.append(TaskResult(task, steps_, scores, step_ms if timed else None, seconds))
    return Result(tuple(results), seeds, seed, quick, time.perf_counter() - start)
