"""Test configuration: make mistakes loud, and give JAX 8 virtual CPU devices.

The device count must be set before JAX initialises its backend, so it is set
here, before anything imports jax.
"""

import os

# The suite compiles thousands of tiny programs once each: LLVM's optimisation passes
# would be most of its run time, and they do not change what the tests check (the
# mathematics; XLA's own HLO passes still run). A caller's own setting wins.
os.environ["XLA_FLAGS"] = " ".join(
    [
        os.environ.get("XLA_FLAGS", ""),
        "--xla_force_host_platform_device_count=8",
        *(
            []
            if "xla_backend_optimization_level" in os.environ.get("XLA_FLAGS", "")
            else ["--xla_backend_optimization_level=0"]
        ),
    ]
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import pytest
from hypothesis import HealthCheck, settings

# No silent rank broadcasting anywhere in lossjax or in the tests.
jax.config.update("jax_numpy_rank_promotion", "raise")
# The tests check the mathematics against float64 references: full-precision
# float32 matmuls everywhere (GPUs default to TF32 otherwise; no effect on CPU).
jax.config.update("jax_default_matmul_precision", "highest")

settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    # Reproducible in CI (a run must not fail by chance); exploratory locally.
    derandomize=os.environ.get("CI", "").lower() == "true",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("ci")


MULTI_DEVICE_COUNT = 8


def pytest_report_header(config):
    """The kernel mode the suite runs in (LOSSJAX_KERNELS; see lossjax.set_kernels)."""
    import lossjax

    variable = os.environ.get("LOSSJAX_KERNELS")
    source = "default" if variable is None else f"LOSSJAX_KERNELS={variable}"
    return f"lossjax kernels: {lossjax.get_kernels()} ({source})"


def pytest_collection_modifyitems(config, items):
    """Skips the ``multi_device`` tests where JAX has fewer than 8 devices (a
    single GPU: ``benchmarks/accelerator.sh`` runs them on the CPU instead)."""
    if jax.device_count() >= MULTI_DEVICE_COUNT:
        return
    skip = pytest.mark.skip(
        reason=f"needs {MULTI_DEVICE_COUNT} devices, JAX has {jax.device_count()} "
        "(with JAX_PLATFORMS=cpu, conftest.py provides 8 virtual CPU devices)"
    )
    for item in items:
        if "multi_device" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def x64():
    """Runs a test with float64 enabled (float64 inputs stay float64)."""
    with jax.enable_x64(True):
        yield
