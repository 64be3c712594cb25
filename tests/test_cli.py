"""The command line, ``python -m lossjax``: compare, suggest, list, info.

``compare --quick`` runs in a subprocess exactly as a user (or CI) runs it;
argument errors and the fast subcommands run in-process through the same
``main`` that ``python -m lossjax`` calls.
"""

import os
import subprocess
import sys

import pytest

import lossjax
from lossjax.__main__ import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(*args, cwd, env=None, timeout=240):
    full_env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUMPY_RANK_PROMOTION": "raise"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lossjax", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _table(stdout, task):
    """(headers, {loss label: [numbers]}) of one task's table in the compare output."""
    lines = stdout.split(f"== {task}:")[1].split("\n->")[0].splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans, pos = [], 0
    for dashes in lines[rule].split("  "):
        spans.append((pos, pos + len(dashes)))
        pos += len(dashes) + 2

    def cells(line):
        return [line[a:b].strip() for a, b in spans]

    rows = {}
    for line in lines[rule + 1 :]:
        label, *values = cells(line)
        rows[label] = [float(v.split("±")[0].rstrip("*")) for v in values]
    return cells(lines[rule - 1]), rows


def _check_compare(tmp_path, task, headers):
    png = tmp_path / "plots" / f"{task}.png"
    result = _run("compare", "--quick", "--task", task, "--plot", str(png), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for header in headers:
        assert header in result.stdout
    assert f"plot saved to {png}" in result.stdout
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert task in result.stderr  # the progress lines
    return result.stdout


def test_compare_regression_robust_losses_recover_the_clean_signal(tmp_path):
    stdout = _check_compare(tmp_path, "regression", ["clean MSE", "clean MAE", "ms/step"])
    _, rows = _table(stdout, "regression")
    assert set(rows) == {"mse", "mae", "huber(delta=1)", "logcosh"}
    # 10% gross one-sided outliers: MSE is pulled far from the clean signal.
    for robust in ("mae", "huber(delta=1)", "logcosh"):
        assert rows[robust][0] < rows["mse"][0] / 10


def test_compare_binary_weighting_raises_minority_recall(tmp_path):
    stdout = _check_compare(tmp_path, "binary", ["precision", "recall", "F1", "ECE", "ms/step"])
    headers, rows = _table(stdout, "binary")
    recall, ece = headers.index("recall") - 1, headers.index("ECE") - 1
    weighted = next(label for label in rows if label.startswith("bce(pos_weight="))
    assert rows[weighted][recall] > rows["bce"][recall] + 0.1
    assert rows["focal(gamma=2, alpha=0.75)"][recall] > rows["bce"][recall]
    assert rows["bce"][ece] < rows["hinge"][ece]  # cross-entropy is calibrated, hinge is not


def test_compare_multiclass(tmp_path):
    stdout = _check_compare(tmp_path, "multiclass", ["accuracy", "F1", "ECE", "ms/step"])
    _, rows = _table(stdout, "multiclass")
    # The fused loss trains exactly the same model as sparse cross-entropy.
    assert rows["fused_ce"][:5] == pytest.approx(rows["sparse_cce"][:5], abs=2e-3)


def test_compare_without_matplotlib_skips_the_plot(tmp_path):
    blocker = tmp_path / "blocked" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib blocked for a test')\n")
    png = tmp_path / "x.png"
    result = _run(
        "compare",
        "--quick",
        "--task",
        "regression",
        "--steps",
        "8",
        "--plot",
        str(png),
        cwd=tmp_path,
        # Keep any PYTHONPATH the suite runs with (an uninstalled checkout, as on a GPU run).
        env={
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(tmp_path / "blocked"), os.environ.get("PYTHONPATH")])
            )
        },
    )
    assert result.returncode == 0, result.stderr
    assert "matplotlib is not installed" in result.stdout
    assert not png.exists()


def test_help_through_python_dash_m(tmp_path):
    result = _run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("compare", "suggest", "list", "info"):
        assert command in result.stdout


def test_suggest_regression_with_outliers(capsys):
    assert main(["suggest", "regression", "--outliers"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line[:3].strip().rstrip(".").isdigit()]
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


def test_list_prints_every_loss(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in lossjax.available():
        assert name in out
    assert "delta=1.0 (> 0)" in out and "aliases: mse" in out
    assert main(["list", "--task", "embedding"]) == 0
    out = capsys.readouterr().out
    assert "info_nce_loss" in out and "huber_loss" not in out


def test_info_prints_metadata_and_doc(capsys):
    assert main(["info", "huber"]) == 0
    out = capsys.readouterr().out
    assert "lossjax.huber_loss" in out and "delta = 1.0" in out and "Args:" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "COMMAND"),
        (["frobnicate"], "invalid choice"),
        (["compare", "--bogus"], "--bogus"),
        (["compare", "--task", "ranking"], "--task"),
        (["compare", "--outliers", "0.7"], "--outliers"),
        (["compare", "--outliers", "many"], "--outliers"),
        (["compare", "--imbalance", "0"], "--imbalance"),
        (["compare", "--steps", "0"], "--steps"),
        (["compare", "--seeds", "two"], "--seeds"),
        (["suggest"], "task"),
        (["suggest", "ranking"], "invalid choice"),
        (["suggest", "regression", "--imbalanced"], "imbalanced"),
        (["suggest", "binary", "--large-vocab"], "large_vocab"),
        (["list", "--task", "ranking"], "--task"),
        (["info", "hubr"], "Did you mean 'huber'"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_suggest_probabilistic_regression_and_margin_flags(capsys):
    assert main(["suggest", "regression", "--count-data"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "(count data)" in out[0]
    assert 'lossjax.get("poisson_loss", log_input=True)' in out[1]
    assert main(["suggest", "regression", "--heteroscedastic"]) == 0
    assert 'lossjax.get("gaussian_nll_loss")' in capsys.readouterr().out.splitlines()[1]
    assert main(["suggest", "regression", "--intervals"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert 'lossjax.get("quantile_loss", quantile=[0.1, 0.5, 0.9])' in out[1]
    assert main(["suggest", "regression", "--skewed-positive"]) == 0
    assert (
        'lossjax.get("mean_squared_logarithmic_error")' in (capsys.readouterr().out.splitlines()[1])
    )
    assert main(["suggest", "binary", "--margin"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "(margin)" in out[0] and 'lossjax.get("hinge_loss")' in out[1]
    assert main(["suggest", "multiclass", "--margin"]) == 0
    assert "multiclass_hinge_loss" in capsys.readouterr().out.splitlines()[1]


def test_suggest_help_lists_the_new_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["suggest", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--count-data", "--heteroscedastic", "--intervals", "--skewed-positive"):
        assert flag in out
    assert "--margin" in out and "contradicts --calibrated" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["suggest", "binary", "--count-data"], "count_data"),
        (["suggest", "multiclass", "--intervals"], "intervals"),
        (["suggest", "regression", "--margin"], "margin"),
        (["suggest", "binary", "--margin", "--calibrated"], "contradict"),
    ],
)
def test_suggest_new_flags_bad_combinations_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
