#!/usr/bin/env bash
# Build the documentation site into docs/_build/html.
#
#   bash docs/build.sh            build (warnings are errors)
#   bash docs/build.sh --open     build, then open the site in the default browser
#
# Installs only what is missing: the `docs` extra of pyproject.toml (pip) and
# MathJax 3 (npm, into docs/_build/mathjax; the site serves its own copy). The
# Sphinx build itself runs without a network where the machine allows it (a
# network namespace with only the loopback device, which the notebook kernels
# use), so nothing can be fetched while the site is built.
# `python docs/check_site.py` then checks the built site in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

MATHJAX_VERSION=3.2.2
open_site=0
for arg in "$@"; do
    case "$arg" in
        --open) open_site=1 ;;
        *) echo "usage: bash docs/build.sh [--open]" >&2; exit 2 ;;
    esac
done

if ! python -c "import sphinx, myst_nb, furo, flax, matplotlib, sklearn, lossjax" 2>/dev/null; then
    echo "docs/build.sh: installing the docs extra: pip install -e '.[docs]'"
    python -m pip install --quiet -e ".[docs]"
fi
if [ ! -f docs/_build/mathjax/node_modules/mathjax/es5/tex-chtml.js ]; then
    echo "docs/build.sh: installing mathjax@$MATHJAX_VERSION from npm into docs/_build/mathjax"
    npm install --prefix docs/_build/mathjax --no-audit --no-fund --no-save --silent \
        "mathjax@$MATHJAX_VERSION"
fi

build=(python -m sphinx -b html -W --keep-going -n -q docs docs/_build/html)
start=$SECONDS
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && unshare --net true 2>/dev/null; then
    echo "docs/build.sh: building offline (network namespace with loopback only)"
    unshare --net bash -c 'ip link set lo up && exec "$@"' bash "${build[@]}"
else
    echo "docs/build.sh: building (no network namespace available here)"
    "${build[@]}"
fi
echo "docs/build.sh: built docs/_build/html/index.html in $((SECONDS - start)) s"

if [ "$open_site" = 1 ]; then
    python -m webbrowser -t "file://$PWD/docs/_build/html/index.html"
fi
