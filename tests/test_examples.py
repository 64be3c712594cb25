"""Every example and every notebook runs, at smoke sizes, so none of them can rot.

Examples run as scripts in a subprocess with ``LOSSJAX_SMOKE=1`` (each example
then uses a few optimizer steps) and ``--steps 20``; the test checks the exit
status and a line of the output. Notebooks are executed with nbclient in a
Jupyter kernel whose working directory is a temporary folder, and every PNG
they save must appear there. The notebooks' paired text form (jupytext
``py:percent``) must hold the same cells as the ``.ipynb``, and the ``.ipynb``
must be stored without outputs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# A line each example prints when it has really done its work (smoke sizes).
EXPECTED_OUTPUT = {
    "quickstart.py": "steps per fit",
    "flax_regression_outliers.py": "RMSE vs clean",
    "imbalanced_binary.py": "avg prec",
    "multiclass_distillation.py": "KL to teacher",
    "per_example_gradients.py": "All three agree",
    "kmeans_gradient_descent.py": "relative difference",
    "autoencoder.py": "test MSE per pixel",
    "siamese_embeddings.py": "1-NN accuracy",
    "hyperparameter_sweep.py": "gammas in one vmap",
    "distillation.py": "KL to teacher",
    "dpo.py": "reward accuracy",
    "vae.py": "negative ELBO",
    "gan.py": "nearest mode",
    "gradient_accumulation.py": "full-batch gradient",
}


def _smoke_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LOSSJAX_SMOKE"] = "1"
    env["JAX_PLATFORMS"] = "cpu"
    env["MPLBACKEND"] = "Agg"
    # conftest.py asks for 8 virtual devices for the sharding tests; examples need one.
    flags = env.get("XLA_FLAGS", "").replace("--xla_force_host_platform_device_count=8", "")
    env["XLA_FLAGS"] = flags.strip()
    return env


def test_every_example_and_notebook_is_found():
    assert len(EXAMPLES) >= len(EXPECTED_OUTPUT)
    assert {path.name for path in EXAMPLES} >= set(EXPECTED_OUTPUT)
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, tmp_path):
    result = subprocess.run(
        [sys.executable, str(path), "--steps", "20"],
        cwd=tmp_path,  # anything an example writes lands in a temporary folder
        env=_smoke_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"{path.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    assert result.stdout.strip(), f"{path.name} printed nothing"
    expected = EXPECTED_OUTPUT.get(path.name)
    if expected is not None:
        assert expected in result.stdout, result.stdout[-3000:]


def _saved_pngs(source: str) -> list[str]:
    return re.findall(r"""savefig\(\s*["']([^"']+\.png)["']""", source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: a code cell has stored outputs"
            assert cell.execution_count is None, f"{path.name}: stored execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_matches_its_text_form(path):
    nbformat = pytest.importorskip("nbformat")
    jupytext = pytest.importorskip("jupytext")
    text_form = path.with_suffix(".py")
    assert text_form.exists(), f"{path.name} has no paired {text_form.name}"
    from_text = jupytext.read(text_form)
    stored = nbformat.read(path, as_version=4)
    cells = [(c.cell_type, c.source.strip()) for c in stored.cells]
    expected = [(c.cell_type, c.source.strip()) for c in from_text.cells]
    assert cells == expected, (
        f"{path.name} is out of sync with {text_form.name}; regenerate it with "
        f"`jupytext --to notebook {text_form.relative_to(ROOT)}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_and_saves_its_figures(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(path, as_version=4)
    pngs = _saved_pngs("\n".join(c.source for c in notebook.cells if c.cell_type == "code"))
    assert pngs, f"{path.name} saves no PNG figure"

    # The kernel inherits the environment: one CPU device, smoke sizes.
    for key, value in _smoke_env().items():
        if key != "MPLBACKEND":  # keep the notebook's inline backend
            monkeypatch.setenv(key, value)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    for name in pngs:
        figure = tmp_path / name
        assert figure.exists(), f"{path.name} did not save {name}"
        assert figure.stat().st_size > 10_000, f"{name} is suspiciously small"


def test_benchmark_script_runs_and_writes_its_block_of_the_results_file(tmp_path):
    # The README's benchmark command, at smoke sizes and without timing claims:
    # it must run, check lossjax against optax, and rewrite only its own block.
    results = tmp_path / "RESULTS.md"
    results.write_text("kept above\n<!-- run.py:start -->\nold\n<!-- run.py:end -->\nkept below\n")
    options = ["--quick", "--repeats", "1", "--no-torch", "--only", "huber,sparse_ce"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *options, "--out-dir", str(tmp_path)],
        env=_smoke_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout
    text = results.read_text()
    assert text.startswith("kept above\n") and text.endswith("kept below\n")
    assert "old" not in text and "| Huber (delta=1) 256×512 |" in text
    assert "| sparse CE 128×1000 |" in text
    if sys.platform.startswith("linux"):  # the steadier process settings were applied
        assert "OMP_WAIT_POLICY=PASSIVE" in text
