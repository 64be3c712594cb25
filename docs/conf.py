"""Sphinx configuration of the lossjax documentation site.

Build with ``bash docs/build.sh`` (warnings are errors; nothing is fetched while
building). The API pages, the "Choosing a loss" guide and the gallery pages are
written at build time by ``docs/_ext/lossjax_docs.py`` from ``lossjax.__all__``,
the loss registry, ``notebooks/`` and ``examples/``.
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))  # an uninstalled checkout documents itself

import lossjax  # noqa: E402

# The notebooks are executed with the inline backend of their kernel, not a
# non-interactive backend inherited from the shell.
os.environ.pop("MPLBACKEND", None)

project = "lossjax"
author = "the lossjax authors"
copyright = "the lossjax authors, Apache-2.0"
release = version = lossjax.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",
    "lossjax_docs",
]

exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]
suppress_warnings = ["myst.header"]  # the changelog's versions start at level 2

# -- API pages: one per public name, from the docstrings ------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = False
# Signatures show the names of the library's type aliases, not their expansions
# (``ArrayLike`` rather than ``Array | ndarray | bool | number | ...``).
autodoc_type_aliases = {
    "ArrayLike": "ArrayLike",
    "AxisName": "AxisName",
    "Reduction": "Reduction",
    "Mask": "Mask",
}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = False  # "Attributes:" entries become attribute descriptions
napoleon_use_rtype = False
add_module_names = False
python_display_short_literal_types = True

# Cross-references are checked (-n). Types from other packages are not documented
# here (no intersphinx: the build is offline), so their names stay plain text.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:(class|obj|data)",
        r"(jax|jaxlib|numpy|np|jnp|optax|chex|collections|typing|contextlib|types)\..*",
    ),
    (
        r"py:(class|obj|data)",
        r"(Any|Array|ArrayLike|Callable|Iterator|Sequence|Mapping|PyTree|DTypeLike)",
    ),
    (r"py:(class|obj|data)", r"(AxisName|Reduction|Params|Mask|MaskFn|Shape|F|P|R)"),  # aliases
    (r"py:(class|obj|data|exc)", r"lossjax\._\w+\..*"),  # private classes named in signatures
    (r"py:(class|obj|data|exc)", r"(BoundLoss|Recommendation|UnknownLossError)"),
]

# -- MyST (Markdown pages) and MyST-NB (the executed notebooks) ------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"  # every build runs the notebooks: the plots are the current ones
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_in_temp = True  # the PNG files the notebooks save stay out of the source tree
nb_merge_streams = True

# -- HTML: a self-contained site, MathJax served from _static --------------------
html_theme = "furo"
html_title = f"lossjax {release}"
html_static_path = ["_static"]
html_css_files = ["lossjax.css"]
html_show_sourcelink = False
html_copy_source = False

# MathJax 3 is bundled (docs/build.sh installs the npm package once, into
# docs/_build/mathjax); lossjax_docs copies it into the site's _static/mathjax/.
mathjax_path = "mathjax/tex-chtml.js"
lossjax_mathjax_dir = str(DOCS / "_build" / "mathjax" / "node_modules" / "mathjax" / "es5")

# -- Gallery: arguments of each example's run at build time ----------------------
# Keys are file names in examples/; an example not listed runs with its defaults.
# LOSSJAX_DOCS_EXAMPLE_STEPS=N runs every example with ``--steps N`` instead (a
# quick local preview; the pages then say so, since they print the command).
# The slowest scripts run with about a third of their default steps, which keeps the
# whole build within about four minutes on two cores; each page prints its command.
lossjax_example_args = {
    "autoencoder.py": ["--steps", "500"],  # default 1500
    "flax_regression_outliers.py": ["--steps", "400"],  # default 1000
    "imbalanced_binary.py": ["--steps", "500"],  # default 1500
    "multiclass_distillation.py": ["--steps", "300"],  # default 1000
    "per_example_gradients.py": ["--steps", "200"],  # default 600
    "regularization_flax.py": ["--steps", "1000"],  # default 3000
    "siamese_embeddings.py": ["--steps", "500"],  # default 1500
}
if os.environ.get("LOSSJAX_DOCS_EXAMPLE_STEPS"):
    _steps = ["--steps", os.environ["LOSSJAX_DOCS_EXAMPLE_STEPS"]]
    lossjax_example_args = {p.name: _steps for p in (ROOT / "examples").glob("*.py")}
