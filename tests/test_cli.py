"""The command line (``python -m lossjax``) and the ``lossjax.compare`` harness.

Argument errors and the fast subcommands run in-process through the same ``main``
that ``python -m lossjax`` calls; one ``compare --quick`` run per task is shared
by the tests of its numbers (a module-scoped fixture), and one subprocess run
checks the real entry point end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import lossjax
from lossjax import _cli, compare
from lossjax.__main__ import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick():
    """One --quick comparison of every task (small data, 60 steps, 1 seed)."""
    return compare.run(quick=True)


@pytest.fixture(scope="module")
def regression_3_seeds():
    return compare.run(["regression"], quick=True, steps=30, seeds=3)


@pytest.fixture(params=["rich", "plain"])
def output(request, monkeypatch):
    """Every printing test runs with rich and with the plain fallback (rich blocked)."""
    if request.param == "plain":
        monkeypatch.setattr(_cli, "_rich", lambda: None)
    return request.param


# -- compare: the numbers -----------------------------------------------------------------------


def test_losses_are_named_by_their_function_names(quick):
    for tr in quick.tasks:
        for case in tr.task.cases:
            assert callable(getattr(lossjax, case.loss))
            assert tr.labels[tr.task.cases.index(case)].split("(")[0] == case.loss
    assert quick["binary"].labels[1] == "binary_cross_entropy(pos_weight=19)"


def test_regression_robust_losses_recover_the_clean_signal(quick):
    tr = quick["regression"]
    for robust in ("mean_absolute_error", "huber_loss(delta=1)", "log_cosh_loss"):
        assert tr.mean(robust, "mse") < tr.mean("mean_squared_error", "mse") / 10
    assert "mean_squared_error" not in tr.best("mse")


def test_binary_weighting_raises_minority_recall(quick):
    tr = quick["binary"]
    bce, weighted = "binary_cross_entropy", "binary_cross_entropy(pos_weight=19)"
    assert tr.mean(weighted, "recall") > tr.mean(bce, "recall") + 0.1
    assert tr.mean(bce, "ece") < tr.mean("focal_loss(gamma=2)", "ece")


def test_an_exact_tie_is_reported_as_a_tie(quick):
    """linear_cross_entropy trains exactly the model sparse cross-entropy trains."""
    tr = quick["multiclass"]
    sparse, fused = "sparse_categorical_cross_entropy", "linear_cross_entropy"
    for key in ("accuracy", "f1"):
        assert tr.mean(fused, key) == pytest.approx(tr.mean(sparse, key), abs=2e-3)
        best = tr.best(key)
        assert (sparse in best) == (fused in best)
    assert any("tie" in line for line in tr.verdict())


def test_ties_within_tolerance_and_across_seeds():
    same = np.array([0.5, 0.6, 0.7])
    assert compare.indistinguishable(same, same, atol=0.0, rtol=0.0)
    assert compare.indistinguishable(np.array([0.503]), np.array([0.5]), atol=0.005, rtol=0)
    assert not compare.indistinguishable(np.array([0.51]), np.array([0.5]), atol=0.005, rtol=0)
    # Paired over seeds: a consistent small gain is a difference, a noisy one is not.
    base = np.array([0.2, 0.5, 0.8, 0.3])
    assert not compare.indistinguishable(base + 0.05, base, atol=0.0, rtol=0.0)
    noisy = base + np.array([0.1, -0.08, 0.09, -0.07])
    assert compare.indistinguishable(noisy, base, atol=0.0, rtol=0.0)
    # The t-test by hand: mean 0.01, sd 0.0082, t = 2.45 < t(0.975, 3) = 3.18.
    d = np.array([0.02, 0.0, 0.015, 0.005])
    t = d.mean() / (d.std(ddof=1) / 2)
    assert 2.0 < t < 3.18
    assert compare.indistinguishable(base + d, base, atol=0.0, rtol=0.0)


def test_seeds_are_paired_and_give_spreads(regression_3_seeds):
    tr = regression_3_seeds["regression"]
    assert regression_3_seeds.seeds == 3
    assert all(tr.scores[c]["mse"].shape == (3,) for c in tr.labels)
    assert tr.std("mean_squared_error", "mse") > 0
    assert tr.step_ms is None  # --quick: no step times


def test_metrics_against_numpy_references():
    rng = np.random.default_rng(0)
    conf, correct = rng.uniform(size=500), rng.uniform(size=500) < 0.6
    bins = np.minimum((conf * 10).astype(int), 9)
    ref = sum(abs(np.sum(correct[bins == b]) - np.sum(conf[bins == b])) for b in range(10)) / 500
    assert compare.expected_calibration_error(conf, correct) == pytest.approx(ref, rel=1e-12)
    predicted, actual = rng.uniform(size=300) < 0.3, rng.uniform(size=300) < 0.2
    tp = np.sum(predicted & actual)
    p, r, f1 = compare.precision_recall_f1(predicted, actual)
    assert p == pytest.approx(tp / predicted.sum()) and r == pytest.approx(tp / actual.sum())
    assert f1 == pytest.approx(2 * p * r / (p + r))
    assert compare.precision_recall_f1(np.zeros(3, bool), np.zeros(3, bool)) == (0.0, 0.0, 0.0)


def test_adam_initial_state_made_without_compiling_equals_tx_init():
    import jax

    from lossjax.compare import _tasks, _training

    task = _tasks.binary(0.1, True)
    prepared = _training.prepare(task, 10, 2, 0, quick=True)
    ref = jax.vmap(_training.optimizer(task.learning_rate, 10).init)(prepared.params)
    assert jax.tree.structure(ref) == jax.tree.structure(prepared.state)
    for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(prepared.state), strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype


def test_timed_steps_need_a_warm_up_and_repetitions():
    result = compare.run(["regression"], steps=8, seeds=1)
    assert result["regression"].step_ms is not None
    assert all(len(v) == 7 for v in result["regression"].step_ms.values())  # 8 chunks - warm-up
    short = compare.run(["regression"], steps=3, seeds=1)
    assert short["regression"].step_ms is None  # 2 timed chunks are too few


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(seed=-1), "`seed`"),
        (dict(seed=1.5), "`seed`"),
        (dict(steps=0), "`steps`"),
        (dict(seeds=True), "`seeds`"),
        (dict(outliers=0.5), "`outliers`"),
        (dict(imbalance=0.0), "`imbalance`"),
        (dict(tasks=["telepathy"]), "telepathy"),
    ],
)
def test_run_checks_its_arguments(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        compare.plan(**kwargs)


# -- compare: the command -------------------------------------------------------------------------


def _subprocess(*args, cwd, env=None):
    full = {**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "lossjax", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_compare_quick_end_to_end_with_plot(tmp_path):
    png = tmp_path / "plots" / "r.png"
    result = _subprocess(
        "compare", "--quick", "--task", "regression", "--plot", str(png), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("clean MSE", "mean_squared_error", "huber_loss(delta=1)", "smoke run"):
        assert text in out
    assert "ms/step" not in out  # --quick does not time steps
    assert f"plot saved to {png}" in out and png.read_bytes()[:8] == PNG_MAGIC
    assert "regression" in result.stderr  # progress


def test_compare_prints_tables_verdicts_and_times(output, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert (
        main(["compare", "--task", "regression", "--steps", "8", "--seeds", "2", "--no-plot"]) == 0
    )
    out = capsys.readouterr().out
    assert "ms/step" in out and "median of 7 timed chunks" in out
    assert "±" in out and "-> clean MSE:" in out and "smoke run" not in out
    assert not list(tmp_path.iterdir())  # --no-plot


def test_compare_without_matplotlib_says_so(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(compare, "matplotlib_available", lambda: False)
    png = tmp_path / "x.png"
    assert (
        main(["compare", "--quick", "--task", "regression", "--steps", "3", "--plot", str(png)])
        == 0
    )
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not png.exists()


@pytest.fixture
def no_work(monkeypatch):
    """Fails the test if anything is trained."""

    def fail(*args, **kwargs):
        raise AssertionError("compare.run was called")

    monkeypatch.setattr(compare, "run", fail)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seed", "-1"], "--seed: must be >= 0, got -1"),
        (["--seed", "x"], "--seed: not an integer"),
        (["--steps", "0"], "--steps"),
        (["--seeds", "two"], "--seeds"),
        (["--outliers", "0.7"], "--outliers"),
        (["--imbalance", "0"], "--imbalance"),
        (["--task", "telepathy"], "--task"),
        (["--bogus"], "--bogus"),
    ],
)
def test_compare_bad_arguments_exit_2_before_any_work(argv, message, capsys, no_work):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("usage: python -m lossjax compare")
    assert len([line for line in err.splitlines() if "error:" in line]) == 1


def test_compare_unwritable_plot_path_exits_2_before_any_work(tmp_path, capsys, no_work):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for path in (blocker / "x.png", tmp_path):
        with pytest.raises(SystemExit) as exit_info:
            main(["compare", "--quick", "--plot", str(path)])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "usage: python -m lossjax compare" in err and "plot" in err
        assert "Traceback" not in err


# -- list, info, suggest, help ----------------------------------------------------------------


def test_list_prints_every_loss(output, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in lossjax.available():
        assert name in out
    assert "delta=1.0 (> 0)" in out
    assert main(["list", "--task", "embedding"]) == 0
    out = capsys.readouterr().out
    assert "info_nce_loss" in out and "huber_loss" not in out


def test_info_prints_metadata_and_readable_formulas(capsys):
    assert main(["info", "huber_loss"]) == 0
    out = capsys.readouterr().out
    assert "lossjax.huber_loss" in out and "delta = 1.0" in out and "Args:" in out
    assert ":math:" not in out and ".. math::" not in out and "\\" not in out
    assert "l(e) = ½ e²" in out and "if |e| ≤ δ" in out


@pytest.mark.parametrize("name", lossjax.available())
def test_every_docstring_renders_without_markup(name):
    text = _cli.plain_doc(lossjax.info(name).function.__doc__)
    for markup in (":math:", ":func:", ".. math::", "``", "\\frac", "\\mathrm", "\\begin"):
        assert markup not in text
    assert not any(c in text for c in "\x01\x02\x03\x04\x05\x06\x07\x08")


@pytest.mark.parametrize(
    "tex, text",
    [
        (r"\tfrac12 e^2 \le \delta", "½ e² ≤ δ"),
        (r"\frac{|\hat y - y|}{\max(|y|, \epsilon)}", "(|ŷ - y|)/(max(|y|, ε))"),
        (r"\lambda - y \log\lambda", "λ - y log λ"),
        (r"\sum_k t_{ik}\,\log q_{ik}", "Σₖ tᵢₖ log qᵢₖ"),
        (r"\mu^{2-p}", "μ²⁻ᵖ"),
        (r"\sqrt{\epsilon}", "√ε"),
        (r"\texttt{log\_input=True}", "log_input=True"),
        (r"\mathrm{KL}(t \,\|\, q)", "KL(t ‖ q)"),
        (
            r"l = \begin{cases} 0 & x \le -1 \\ x & \text{otherwise} \end{cases}",
            "l = 0   if x ≤ -1\n    x   otherwise",
        ),
    ],
)
def test_latex_to_text(tex, text):
    assert _cli.latex_to_text(tex) == text


def test_suggest_regression_with_outliers(output, capsys):
    assert main(["suggest", "regression", "--outliers"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x[:3].strip().rstrip(".").isdigit()]
    assert "huber_loss" in lines[0] or "mean_absolute_error" in lines[0]
    assert "mean_squared_error" in lines[-1]


def test_suggest_flags(capsys):
    assert main(["suggest", "binary", "--imbalanced", "0.05", "--calibrated"]) == 0
    out = capsys.readouterr().out
    assert "imbalanced, calibrated" in out
    assert 'lossjax.get("binary_cross_entropy")' in out.splitlines()[1]
    assert "pos_weight=19.0" in out
    assert main(["suggest", "multiclass", "--large-vocab"]) == 0
    assert 'lossjax.get("linear_cross_entropy")' in capsys.readouterr().out.splitlines()[1]
    assert main(["suggest", "regression", "--count-data"]) == 0
    assert 'lossjax.get("poisson_loss", log_input=True)' in capsys.readouterr().out.splitlines()[1]


@pytest.mark.parametrize("command", ["list", "info", "suggest", "compare"])
def test_each_subcommand_has_its_own_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m lossjax {command}")
    description = out.split("\n\n")[1]
    assert len(description) > 40 and "examples:" in out


def test_version_and_top_level_help(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"lossjax {lossjax.__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("compare", "suggest", "list", "info"):
        assert command in out


@pytest.mark.parametrize(
    "argv, usage, message",
    [
        ([], "python -m lossjax", "COMMAND"),
        (["frobnicate"], "python -m lossjax", "invalid choice"),
        (["suggest"], "python -m lossjax suggest", "task"),
        (["suggest", "telepathy"], "python -m lossjax suggest", "invalid choice"),
        (["suggest", "regression", "--imbalanced"], "python -m lossjax suggest", "imbalanced"),
        (["suggest", "binary", "--large-vocab"], "python -m lossjax suggest", "large_vocab"),
        (
            ["suggest", "binary", "--margin", "--calibrated"],
            "python -m lossjax suggest",
            "contradict",
        ),
        (["list", "--task", "telepathy"], "python -m lossjax list", "--task"),
        (["info", "hubr"], "python -m lossjax info", "Did you mean"),
    ],
)
def test_errors_exit_2_under_their_own_usage(argv, usage, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {usage} ") or err.startswith(f"usage: {usage}\n")
    assert message in err
