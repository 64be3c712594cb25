"""Sphinx extension that writes the generated pages of the lossjax site.

When the configuration is read (``config-inited``) it writes, into the source
tree (all of it git-ignored):

* ``api/index.rst``: one autosummary table per topic module, built from
  ``lossjax.__all__`` (and the ``__all__`` of every public submodule), so every
  public name gets its own page with its docstring and formula;
* ``guide/choosing_a_loss.md``: the "Choosing a loss" guide, made from the
  registry's public metadata (``lossjax.available``, ``lossjax.info``,
  ``lossjax.suggest``);
* ``gallery/``: the notebooks of ``notebooks/`` (executed by MyST-NB while the
  site is built) and one page per script of ``examples/``, with the output of a
  run made during this build.

The examples run in subprocesses started then, two at a time,
while Sphinx reads the other pages; each example page waits for its run when it
is read (``source-read``), and the example pages are read last. A run is
reused from ``docs/_build/examples/`` only while the example, the library
sources, the arguments and the JAX version are unchanged.

At ``build-finished`` it copies the bundled MathJax (``lossjax_mathjax_dir``,
installed by ``docs/build.sh``) into the site's ``_static/mathjax``.
"""

from __future__ import annotations

import ast
import concurrent.futures
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

import lossjax

LOG = logging.getLogger(__name__)
DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent

# Section titles of the API page, by the last component of a function's module
# (``lossjax._regression`` -> ``regression``); other modules get a title made
# from their name, so a new topic module needs no change here.
TOPIC_TITLES = {
    "reduction": "The reduction contract",
    "regression": "Regression",
    "probabilistic": "Probabilistic regression",
    "classification": "Binary classification",
    "binary": "Binary classification",
    "multiclass": "Multiclass classification",
    "margin": "Margin losses and Fenchel–Young losses",
    "unsupervised": "Unsupervised and embedding losses",
    "embeddings": "Embedding losses",
    "linear_cross_entropy": "Large-vocabulary cross-entropy",
    "metric_learning": "Metric learning: triplets, margins and pairs",
    "contrastive": "Contrastive embeddings and margin softmax",
    "segmentation": "Segmentation",
    "detection": "Detection",
    "ctc": "Connectionist temporal classification (CTC)",
    "regularization": "Regularization",
    "kernels": "Optional kernels",
    "registry": "Registry and recommendations",
    "recommend": "Registry and recommendations",
}

TASK_TITLES = {
    "regression": "Regression",
    "binary": "Binary classification",
    "multiclass": "Multiclass classification",
    "unsupervised": "Unsupervised learning",
    "embedding": "Embeddings and metric learning",
    "ranking": "Ranking (lossjax.ranking)",
    "segmentation": "Segmentation",
    "detection": "Detection (bounding boxes)",
    "sequence": "Sequences (CTC, token-level cross-entropy)",
    "distillation": "Knowledge distillation",
    "preference": "Preference optimisation",
    "generative": "Generative models",
}

# Questions answered on the guide page with lossjax.suggest(task, **flags).
QUESTIONS = [
    ("regression", {}, "a point prediction, no special concern"),
    ("regression", {"outliers": True}, "some targets are gross errors"),
    ("regression", {"count_data": True}, "the targets are counts"),
    ("regression", {"heteroscedastic": True}, "the noise level varies between examples"),
    ("regression", {"intervals": True}, "prediction intervals, not only a point"),
    ("regression", {"skewed_positive": True}, "positive, right-skewed targets"),
    ("binary", {}, "two classes, no special concern"),
    ("binary", {"calibrated": True}, "the probabilities must be calibrated"),
    ("binary", {"imbalanced": 0.05}, "5% positives"),
    ("binary", {"margin": True}, "a margin classifier (SVM-like)"),
    ("multiclass", {}, "one label per example"),
    ("multiclass", {"imbalanced": True}, "some classes are rare"),
    ("multiclass", {"calibrated": True}, "the probabilities must be calibrated"),
    ("multiclass", {"large_vocab": True}, "a language model's vocabulary"),
    ("unsupervised", {}, "no labels"),
    ("unsupervised", {"outliers": True}, "reconstruction with corrupted inputs"),
    ("embedding", {}, "learning an embedding"),
    ("ranking", {}, "ranking lists of items by graded relevance"),
    ("segmentation", {}, "a mask per pixel"),
    ("segmentation", {"imbalanced": True}, "a small foreground"),
    ("detection", {}, "regressing bounding boxes"),
    ("sequence", {}, "a label sequence without frame alignment, or token-level targets"),
    ("distillation", {}, "a student learns from a teacher's outputs"),
    ("preference", {}, "pairs of preferred and rejected responses"),
    ("generative", {}, "training a generative model"),
]


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (keeps Sphinx's caches valid)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _underline(title: str, char: str) -> str:
    return f"{title}\n{char * len(title)}\n"


# -- API page --------------------------------------------------------------------


def _topic(obj) -> str:
    module = getattr(obj, "__module__", "") or ""
    return module.rsplit(".", 1)[-1].lstrip("_")


def api_index() -> str:
    """The API page: an autosummary table per topic, then one per public submodule."""
    groups: dict[str, list[str]] = {}
    submodules = []
    for name in lossjax.__all__:
        obj = getattr(lossjax, name)
        if inspect.ismodule(obj):
            submodules.append(name)
            continue
        title = TOPIC_TITLES.get(_topic(obj), _topic(obj).replace("_", " ").capitalize())
        groups.setdefault(title, []).append(name)

    out = [
        ".. This page is written by docs/_ext/lossjax_docs.py from lossjax.__all__.\n",
        _underline("API reference", "="),
        "Every public name of ``lossjax``, grouped by topic; each has its own page with\n"
        "its formula, arguments, an example (run by the test suite) and references.\n"
        "Every loss takes the arguments of the reduction contract, ``reduction``,\n"
        "``weights``, ``where`` and ``axis_name`` (see :func:`lossjax.reduce_loss` and\n"
        ":doc:`../conventions`).\n",
        ".. automodule:: lossjax\n",
        ".. currentmodule:: lossjax\n",
    ]
    for title, names in groups.items():
        out.append(_underline(title, "-"))
        out.append(".. autosummary::\n   :toctree: .\n   :nosignatures:\n")
        out.extend(f"   {name}\n" for name in names)
        out.append("")
    for name in submodules:
        module = getattr(lossjax, name)
        out.append(_underline(f"lossjax.{name}", "-"))
        out.append(f".. automodule:: lossjax.{name}\n")
        out.append(f".. currentmodule:: lossjax.{name}\n")
        out.append(".. autosummary::\n   :toctree: .\n   :nosignatures:\n")
        out.extend(f"   {member}\n" for member in module.__all__)
        out.append("")
        out.append(".. currentmodule:: lossjax\n")
    return "\n".join(out)


# -- "Choosing a loss" guide ----------------------------------------------------


def _cost(entry) -> str:
    """Memory, from what the registry knows (``large_vocab``, ``task``, ``input_kind``)."""
    if entry.large_vocab:
        return "independent of the number of classes"
    if entry.task == "multiclass":
        return "holds the N×K scores"
    if entry.task in ("regression", "binary", "detection"):
        return "elementwise"
    if entry.task == "segmentation":
        return "one pass over each image"
    return ""


def _hyperparameters(entry) -> str:
    parts = []
    for h in entry.hyperparameters:
        valid = f", {h.valid}" if h.valid else ""
        parts.append(f"`{h.name}={h.default!r}`{valid}: {h.description}")
    return "<br>".join(parts) if parts else "—"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _call(task: str, flags: dict) -> str:
    args = [repr(task)] + [f"{k}={v!r}" for k, v in flags.items()]
    return f"`lossjax.suggest({', '.join(args)})`"


def _suggestion(s) -> str:
    kwargs = "".join(f", {k}={v!r}" for k, v in s.hyperparameters.items())
    return f"{{func}}`~lossjax.{s.name}`" + (f" `({kwargs[2:]})`" if kwargs else "")


def guide_page() -> str:
    """The "Choosing a loss" page, from the registry's metadata."""
    names = lossjax.available()
    entries = [lossjax.info(name) for name in names]
    tasks = list(dict.fromkeys(entry.task for entry in entries))
    out = [
        "<!-- This page is written by docs/_ext/lossjax_docs.py from the loss registry. -->\n",
        "# Choosing a loss\n",
        "This page is generated from the registry's metadata each time the site is built"
        f" ({len(entries)} losses in {len(tasks)} tasks), so it always matches the library."
        " The same data are available in Python (`lossjax.info(name)`,"
        " `lossjax.available(task)`, `lossjax.suggest(task, ...)`) and from the shell"
        " (`python -m lossjax list`, `python -m lossjax suggest regression --outliers`)."
        " The notebook {doc}`../gallery/notebooks/choosing_a_loss` shows the evidence"
        " behind the advice, as plots.\n",
        "## Quick answers\n",
        "The first suggestion of `lossjax.suggest` for common situations, with its reason;"
        " `suggest` returns a ranked list, and the runners-up follow.\n",
    ]
    for task in tasks:
        questions = [(flags, situation) for t, flags, situation in QUESTIONS if t == task]
        if not questions:
            continue
        out.append(f"### {TASK_TITLES.get(task, task.capitalize())}\n")
        for flags, situation in questions:
            ranked = lossjax.suggest(task, **flags)
            if not ranked:
                continue
            first = ranked[0]
            then = ", ".join(dict.fromkeys(f"`{s.name}`" for s in ranked[1:4] if s != first))
            out.append(f"{situation.capitalize()} ({_call(task, flags)})")
            reason = first.reason.rstrip() + ("" if first.reason.rstrip().endswith(".") else ".")
            out.append(f": {_suggestion(first)}: {reason}" + (f" Then: {then}." if then else ""))
            out.append("")
    out += [
        "## Every loss by task\n",
        "Columns from the fields of {class}`lossjax.LossInfo`: *input* is `input_kind`,"
        " what the first argument holds. *Properties*: **robust** (`robust_to_outliers`:"
        " large errors have a bounded gradient), **calibrated** (`calibrated_probabilities`:"
        " a proper scoring rule, trained outputs estimate the class probabilities),"
        " **margin** (`margin_based`: zero beyond a margin), **imbalance**"
        " (`handles_imbalance`: an option made for class imbalance). *Memory* is derived"
        " from `large_vocab` and the task: elementwise losses keep one value per entry,"
        " the softmax losses hold the N×K scores, and a `large_vocab` loss never holds"
        " them.\n",
    ]
    for task in tasks:
        out.append(f"### {TASK_TITLES.get(task, task.capitalize())} losses\n")
        out.append("| loss | input | summary | properties | memory | hyperparameters |")
        out.append("|---|---|---|---|---|---|")
        for entry in entries:
            if entry.task != task:
                continue
            aliases = ", ".join(f"`{a}`" for a in entry.aliases)
            name = f"{{func}}`~lossjax.{entry.name}`" + (f"<br>{aliases}" if aliases else "")
            properties = [
                label
                for label, flag in (
                    ("robust", entry.robust_to_outliers),
                    ("calibrated", entry.calibrated_probabilities),
                    ("margin", entry.margin_based),
                    ("imbalance", entry.handles_imbalance),
                )
                if flag
            ]
            out.append(
                f"| {name} | {_cell(entry.input_kind)} | {_cell(entry.summary)} | "
                f"{', '.join(properties)} | {_cell(_cost(entry))} | "
                f"{_cell(_hyperparameters(entry))} |"
            )
        out.append("")
    return "\n".join(out) + "\n"


# -- gallery ---------------------------------------------------------------------


def _notebook_title(path: Path) -> str:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem.replace("_", " ")


def _example_doc(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or path.stem


def _example_key(path: Path, args: list[str]) -> str:
    import jax

    digest = hashlib.sha256()
    digest.update(path.read_bytes())
    digest.update(json.dumps(args).encode())
    digest.update(jax.__version__.encode())
    for source in sorted((ROOT / "lossjax").rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _run_example(path: Path, args: list[str], cache: Path) -> dict:
    """Run one example in a subprocess (or reuse an identical earlier run)."""
    key = _example_key(path, args)
    record = cache / f"{path.stem}.json"
    if record.exists():
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return saved
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    env.pop("LOSSJAX_SMOKE", None)
    workdir = cache / f"{path.stem}.cwd"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(path), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise ExtensionError(
            f"lossjax: example {path.name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    saved = {"key": key, "args": args, "stdout": proc.stdout, "seconds": round(seconds, 1)}
    record.write_text(json.dumps(saved), encoding="utf-8")
    return saved


def _docstring_renders_cleanly(text: str) -> bool:
    """Whether ``text`` is reST that docutils parses without a warning."""
    import docutils.core
    import docutils.utils

    try:
        docutils.core.publish_doctree(
            text, settings_overrides={"report_level": 2, "halt_level": 2, "warning_stream": False}
        )
    except docutils.utils.SystemMessage:
        return False
    return True


def example_page(path: Path, run: dict) -> str:
    doc = _example_doc(path)
    title, _, body = doc.partition("\n")
    command = " ".join(["python", f"examples/{path.name}", *run["args"]])
    lines = [
        f".. This page is written by docs/_ext/lossjax_docs.py from examples/{path.name}.\n",
        _underline(title.strip(), "="),
    ]
    body = body.strip("\n")
    if body:
        if _docstring_renders_cleanly(body):
            lines.append(body + "\n")
        else:
            lines.append(".. code-block:: text\n")
            lines.extend("   " + line if line else "" for line in body.splitlines())
            lines.append("")
    lines += [
        _underline("Output", "-"),
        f"Printed by ``{command}`` while this site was built "
        f"({run['seconds']:.0f} s on the build machine).\n",
        ".. code-block:: text\n",
    ]
    lines.extend("   " + line if line.strip() else "" for line in run["stdout"].splitlines())
    lines += [
        "",
        _underline("Source", "-"),
        f".. literalinclude:: ../../../examples/{path.name}\n   :language: python\n",
    ]
    return "\n".join(lines) + "\n"


def gallery_index(notebooks: list[Path], examples: list[Path]) -> str:
    out = [
        "<!-- This page is written by docs/_ext/lossjax_docs.py. -->\n",
        "# Gallery\n",
        "Everything here was run while this site was built: the notebooks are executed"
        " by MyST-NB with their plots, and each example script's page shows what it"
        " printed.\n",
        "## Notebooks\n",
    ]
    for path in notebooks:
        out.append(f"- {{doc}}`notebooks/{path.stem}`")
    out += ["", "## Examples\n"]
    for path in examples:
        out.append(f"- {{doc}}`examples/{path.stem}`: `examples/{path.name}`")
    out += ["", "```{toctree}", ":hidden:", ":maxdepth: 1", ""]
    out += [f"notebooks/{p.stem}" for p in notebooks]
    out += [f"examples/{p.stem}" for p in examples]
    out += ["```", ""]
    return "\n".join(out)


# -- Sphinx hooks ----------------------------------------------------------------


def _on_config_inited(app, config) -> None:
    """Write the generated pages before Sphinx looks for source files, start the examples."""
    _write_if_changed(DOCS / "api" / "index.rst", api_index())
    _write_if_changed(DOCS / "guide" / "choosing_a_loss.md", guide_page())

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    examples = sorted((ROOT / "examples").glob("*.py"))
    for path in notebooks:
        _write_if_changed(
            DOCS / "gallery" / "notebooks" / path.name, path.read_text(encoding="utf-8")
        )
    _write_if_changed(DOCS / "gallery" / "index.md", gallery_index(notebooks, examples))

    cache = DOCS / "_build" / "examples"
    cache.mkdir(parents=True, exist_ok=True)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=config.lossjax_example_workers)
    app.lossjax_examples = {}
    for path in examples:
        args = list(config.lossjax_example_args.get(path.name, []))
        docname = f"gallery/examples/{path.stem}"
        app.lossjax_examples[docname] = (path, pool.submit(_run_example, path, args, cache))
        stub = DOCS / f"{docname}.rst"
        if not stub.exists():  # the page's text is supplied at source-read
            _write_if_changed(stub, _underline(path.stem, "=") + "\n")
    app.lossjax_pool = pool


# Pages listed in index.md's toctree that other work may not have added yet; the
# entry is dropped while the page does not exist.
OPTIONAL_PAGES = ["multi_host"]


def _on_env_get_outdated(app, env, added, changed, removed):
    """The example pages and the home page (optional entries) are read on every build."""
    return [d for d in [*app.lossjax_examples, "index"] if d not in added]


def _on_env_before_read_docs(app, env, docnames) -> None:
    """Read the example pages last, so their runs overlap with the other pages."""
    examples = [d for d in docnames if d in app.lossjax_examples]
    docnames[:] = [d for d in docnames if d not in app.lossjax_examples] + examples


def _on_source_read(app, docname, source) -> None:
    if docname == "index":
        for page in OPTIONAL_PAGES:
            if not any((DOCS / page).with_suffix(s).exists() for s in (".md", ".rst", ".ipynb")):
                source[0] = source[0].replace(f"\n{page}\n", "\n")
        return
    if docname not in getattr(app, "lossjax_examples", {}):
        return
    path, future = app.lossjax_examples[docname]
    run = future.result()
    LOG.info("lossjax: example %s ran in %.1f s", path.name, run["seconds"])
    text = example_page(path, run)
    source[0] = text
    _write_if_changed(DOCS / f"{docname}.rst", text)


def _on_build_finished(app, exception) -> None:
    pool = getattr(app, "lossjax_pool", None)
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    shutil.copytree(
        Path(app.config.lossjax_mathjax_dir),
        target,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("*-full*.js", "mml-*.js", "tex-svg*.js", "tex-mml-*.js"),
    )


_FORWARD_REF = re.compile(r"TypeAliasForwardRef\('([^']+)'\)")


def _on_process_signature(app, what, name, obj, options, signature, return_annotation):
    """Show ``ArrayLike | None`` for an optional alias (Sphinx 9 writes the wrapper's repr)."""
    if signature is None and return_annotation is None:
        return None
    fix = lambda text: _FORWARD_REF.sub(r"\1", text) if text else text  # noqa: E731
    return fix(signature), fix(return_annotation)


def _check_mathjax(app) -> None:
    entry = Path(app.config.lossjax_mathjax_dir) / Path(app.config.mathjax_path).name
    if app.builder.format == "html" and not entry.is_file():
        raise ExtensionError(
            f"lossjax: MathJax is not installed at {entry}; run `bash docs/build.sh`, "
            "which installs the npm package mathjax@3 there once"
        )


def setup(app):
    app.add_config_value("lossjax_mathjax_dir", str(DOCS / "_build" / "mathjax"), "html")
    app.add_config_value("lossjax_example_args", {}, "env")
    app.add_config_value("lossjax_example_workers", 2, "env")
    app.connect("builder-inited", _check_mathjax, priority=50)
    app.connect("config-inited", _on_config_inited)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("env-before-read-docs", _on_env_before_read_docs)
    app.connect("source-read", _on_source_read)
    app.connect("autodoc-process-signature", _on_process_signature)
    app.connect("build-finished", _on_build_finished)
    return {"version": lossjax.__version__, "parallel_read_safe": False}
