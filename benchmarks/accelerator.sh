#!/usr/bin/env bash
# lossjax on an NVIDIA GPU, offline: install CUDA JAX from wheels, run the tests and the benchmark.
#
# Usage:   bash benchmarks/accelerator.sh DIR
# Writes into DIR: accelerator.log (everything), nvidia-smi.txt, jax-devices.txt, pip-freeze.txt,
# pytest-gpu.log, pytest-cpu-multidevice.log, benchmark.log, results-gpu.json (the raw GPU
# measurements of `benchmarks/run.py --profile gpu`), RESULTS.md (a copy of
# benchmarks/RESULTS.md with the GPU block, between <!-- run.py:gpu:start/end -->, written or
# replaced), RESULTS-gpu.png (its chart), summary.txt (exit status of every step).
#
# To put the GPU tables into the repository's report, bring results-gpu.json back and run
#   python benchmarks/run.py report DIR/results-gpu.json
# which rewrites only the GPU block of benchmarks/RESULTS.md (no GPU needed for that).
#
# The machine needs Linux x86-64, an NVIDIA driver for CUDA 12 (R525 or newer; `nvidia-smi`
# works), Python 3 with venv, and NO internet: everything comes from wheel files.
#
# -- Which wheels, and how to get them (on any connected machine) ------------------------------
# Wheels go in benchmarks/wheels/ beside this script, or in the directory named by $WHEELS.
# Match --python-version to `python3 --version` on the GPU machine (3.12 below):
#
#   pip download --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d benchmarks/wheels \
#       "jax[cuda12]==0.10.2" optax chex pytest hypothesis numpy scipy scikit-learn flax matplotlib
#
# "jax[cuda12]==0.10.2" pulls jaxlib 0.10.2, jax-cuda12-plugin 0.10.2 (with its "with-cuda"
# extra), jax-cuda12-pjrt 0.10.2 and NVIDIA's CUDA 12 runtime wheels: nvidia-cublas-cu12,
# nvidia-cuda-cupti-cu12, nvidia-cuda-nvcc-cu12, nvidia-cuda-runtime-cu12, nvidia-cudnn-cu12,
# nvidia-cufft-cu12, nvidia-cusolver-cu12, nvidia-cusparse-cu12, nvidia-nccl-cu12,
# nvidia-nvjitlink-cu12, nvidia-cuda-nvrtc-cu12, nvidia-nvshmem-cu12 (and nvidia-cuda-cccl-cu12),
# about 3 GB in all. For a CUDA 13 driver (R580+) use "jax[cuda13]==0.10.2" and JAX_EXTRA=cuda13.
# The other names are lossjax's dependencies (optax, chex) and the test suite's (pytest,
# hypothesis, numpy, scipy, scikit-learn, flax, matplotlib). PyTorch is optional: if `import
# torch` works, the benchmark also times it (on the GPU when torch sees CUDA).
#
# lossjax itself is not installed: this checkout is put first on PYTHONPATH (a pure-Python
# package needs no build), so the code tested and timed is exactly this tree.
#
# If the Python given by $PYTHON (default python3) already has JAX with CUDA (jax.devices()[0]
# is a GPU), nothing is installed for JAX; missing test dependencies are then installed from the
# wheels, if any, into a venv that sees the system packages.
#
# Environment knobs: WHEELS (wheel directory), PYTHON (interpreter), VENV (venv to create,
# default /tmp/lossjax-accelerator-venv), JAX_EXTRA (cuda12 or cuda13), BENCH_ARGS (extra
# benchmarks/run.py flags after --profile gpu, e.g. "--quick" for a smoke run, "--no-torch",
# "--sections speed,kernels"), SKIP_TESTS=1 (no pytest: the benchmark only), PYTEST_FLAGS
# (default "-q -x -p no:cacheprovider"; e.g. add "-n 8" for pytest-xdist, with
# XLA_PYTHON_CLIENT_PREALLOCATE=false so that the workers share the GPU's memory).
#
# Tests: the suite runs with JAX_PLATFORMS=cuda,cpu, so the GPU is JAX's default device
# (tests/conftest.py only sets JAX_PLATFORMS=cpu when it is unset). With one GPU,
# jax.device_count() is 1, and the tests marked `multi_device` (shard_map and sharding over 8
# devices) would skip. They run in a second pass with JAX_PLATFORMS=cpu on the 8 virtual CPU
# devices that conftest.py sets up; everything else runs on the GPU.
set -uo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR   (logs, test output and benchmark table are written into DIR)" >&2
    exit 2
fi
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHEELS=${WHEELS:-$REPO/benchmarks/wheels}
PYTHON=${PYTHON:-python3}
VENV=${VENV:-${TMPDIR:-/tmp}/lossjax-accelerator-venv}
JAX_EXTRA=${JAX_EXTRA:-cuda12}
BENCH_ARGS=${BENCH_ARGS:-}
PYTEST_FLAGS=${PYTEST_FLAGS:--q -x -p no:cacheprovider}
TEST_PACKAGES="optax chex pytest hypothesis numpy scipy scikit-learn flax matplotlib"

exec > >(tee -a "$DIR/accelerator.log") 2>&1
echo "== lossjax accelerator run: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname)"
echo "repo: $REPO   out: $DIR   wheels: $WHEELS"
: >"$DIR/summary.txt"
status=0
step() {  # step NAME RC: record a step's exit status
    echo "$1: exit $2" | tee -a "$DIR/summary.txt"
    if [[ $2 -ne 0 ]]; then status=1; fi
}

# -- the GPU ------------------------------------------------------------------------------------
{
    nvidia-smi
    echo
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
        --format=csv
} >"$DIR/nvidia-smi.txt" 2>&1
step nvidia-smi $?
cat "$DIR/nvidia-smi.txt"

# -- Python with CUDA JAX -----------------------------------------------------------------------
has_gpu_jax() {
    env -u JAX_PLATFORMS "$1" -c \
        "import jax, sys; sys.exit(0 if jax.devices()[0].platform == 'gpu' else 1)" >/dev/null 2>&1
}
missing_test_packages() {  # prints the pip names of test dependencies that $1 cannot import
    "$1" - <<'EOF'
import importlib.util
names = {"optax": "optax", "chex": "chex", "pytest": "pytest", "hypothesis": "hypothesis",
         "numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn", "flax": "flax",
         "matplotlib": "matplotlib"}
print(" ".join(pip for mod, pip in names.items() if importlib.util.find_spec(mod) is None))
EOF
}
pip_offline() {  # pip_offline PY ARGS...: install from the wheel directory only
    local py=$1
    shift
    "$py" -m pip install --no-index --find-links "$WHEELS" --disable-pip-version-check "$@"
}

if has_gpu_jax "$PYTHON"; then
    echo "JAX with CUDA is already installed in $PYTHON: skipping the JAX install"
    PY=$PYTHON
    missing=$(missing_test_packages "$PY")
    if [[ -n $missing ]]; then
        echo "missing test dependencies: $missing"
        if [[ -d $WHEELS ]]; then
            "$PYTHON" -m venv --system-site-packages "$VENV" && PY=$VENV/bin/python
            # shellcheck disable=SC2086
            pip_offline "$PY" $missing
            step install-test-deps $?
        else
            echo "no wheel directory $WHEELS: the tests needing them will fail"
            step install-test-deps 1
        fi
    fi
else
    echo "no CUDA JAX in $PYTHON: installing jax[$JAX_EXTRA] and the test dependencies from $WHEELS"
    if [[ ! -d $WHEELS ]]; then
        echo "ERROR: wheel directory $WHEELS not found (see the top of this script)"
        step install-jax 1
        exit 1
    fi
    "$PYTHON" -m venv "$VENV" || { step venv 1; exit 1; }
    PY=$VENV/bin/python
    # shellcheck disable=SC2086
    pip_offline "$PY" "jax[$JAX_EXTRA]" $TEST_PACKAGES
    step install-jax $?
    if ! has_gpu_jax "$PY"; then
        echo "ERROR: JAX does not see a GPU after the install:"
        env -u JAX_PLATFORMS "$PY" -c "import jax; print(jax.devices())"
        step jax-sees-gpu 1
        exit 1
    fi
fi
echo "python: $PY"

export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
"$PY" -m pip freeze --disable-pip-version-check >"$DIR/pip-freeze.txt" 2>&1
env -u JAX_PLATFORMS "$PY" - >"$DIR/jax-devices.txt" 2>&1 <<'EOF'
import jax, jaxlib, lossjax
print("jax", jax.__version__, "jaxlib", jaxlib.__version__, "lossjax", lossjax.__file__)
print("default backend:", jax.default_backend())
for d in jax.devices():
    print(d, "|", d.platform, "|", d.device_kind)
EOF
step jax-devices $?
cat "$DIR/jax-devices.txt"

cd "$REPO" || exit 1

# -- tests: GPU pass, then the multi-device tests on 8 virtual CPU devices ------------------------
export JAX_PLATFORMS=cuda,cpu
if [[ ${SKIP_TESTS:-0} == 1 ]]; then
    echo "== tests skipped (SKIP_TESTS=1)"
else
    echo "== pytest on the GPU (JAX_PLATFORMS=$JAX_PLATFORMS), without the multi_device tests"
    # shellcheck disable=SC2086
    "$PY" -m pytest $PYTEST_FLAGS -m "not multi_device" 2>&1 | tee "$DIR/pytest-gpu.log"
    step pytest-gpu "${PIPESTATUS[0]}"

    echo "== pytest of the multi-device tests on 8 virtual CPU devices (JAX_PLATFORMS=cpu)"
    # shellcheck disable=SC2086
    JAX_PLATFORMS=cpu "$PY" -m pytest $PYTEST_FLAGS -m multi_device 2>&1 |
        tee "$DIR/pytest-cpu-multidevice.log"
    step pytest-cpu-multidevice "${PIPESTATUS[0]}"
fi

# -- benchmark on the GPU: the gpu profile (all goals, full sizes, about 5 minutes) ------------
# RESULTS.md starts as the repository's, so that the GPU block lands beside the CPU one.
if [[ -f benchmarks/RESULTS.md && ! -f $DIR/RESULTS.md ]]; then
    cp benchmarks/RESULTS.md "$DIR/RESULTS.md"
fi
echo "== benchmarks/run.py --profile gpu --out-dir $DIR $BENCH_ARGS"
# shellcheck disable=SC2086
"$PY" benchmarks/run.py --profile gpu --out-dir "$DIR" $BENCH_ARGS 2>&1 | tee "$DIR/benchmark.log"
step benchmark "${PIPESTATUS[0]}"

echo "== summary"
cat "$DIR/summary.txt"
exit "$status"
