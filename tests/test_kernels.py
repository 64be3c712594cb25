"""The kernel switch, and each optional kernel against the reference formula it replaces.

A kernel must give the reference's values and first and second derivatives
(to float rounding) wherever it may run; the dispatcher runs it only on the
backends it was measured on, and never in the "reference" mode. No kernel is
registered today (the last two did not earn their place in the benchmark);
a kernel registered without an entry in KERNEL_LOSSES fails the first test.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lossjax
from lossjax import _kernels

# Errors from 0 through subnormal and tiny to huge, both signs.
_TINY = float(np.finfo(np.float32).tiny)
ERRORS = np.array(
    [0.0, 1e-45, -1e-40, _TINY, -1e-30, 1e-8, 0.3, -0.5, 0.5, 1.0, -1.5, 7.0, -1e4, 1e4, 3e30],
    np.float32,
)
TARGETS = np.array(
    [0.0, 1e-45, 1e-40, -2.0, 1.0, 0.0, 1e-42, 3.0, 0.0, 0.5, 2.0, -3.0, 1e4, 0.0, 1.0],
    np.float32,
)

# name -> (loss, keyword hyperparameters, the one differentiable hyperparameter or None),
# for every registered kernel, so that each is compared with its reference below.
KERNEL_LOSSES: dict[str, tuple] = {}


def test_every_registered_kernel_is_tested_here():
    assert set(_kernels.registered()) == set(KERNEL_LOSSES)


def _evaluate(mode, loss, kwargs, hyper):
    """Values, first and second derivatives of the summed loss, traced afresh in ``mode``."""
    p, t = jnp.asarray(ERRORS + TARGETS), jnp.asarray(TARGETS)
    with lossjax.kernels(mode):

        def total(p, t, *h):
            kw = dict(kwargs, **({hyper: h[0]} if h else {}))
            return loss(p, t, reduction="sum", **kw)

        extra = (jnp.float32(kwargs[hyper]),) if hyper else ()
        values = loss(p, t, reduction="none", **kwargs)
        grads = jax.grad(total, argnums=tuple(range(2 + len(extra))))(p, t, *extra)
        # Second derivative along the predictions (the diagonal, for an elementwise loss).
        second = jax.grad(lambda p: jnp.sum(jax.grad(total)(p, t, *extra)))(p)
    return values, grads, second


@pytest.mark.parametrize("name", sorted(KERNEL_LOSSES))
def test_kernel_matches_its_reference(name):
    loss, kwargs, hyper = KERNEL_LOSSES[name]
    kernel = _evaluate("auto", loss, kwargs, hyper)
    reference = _evaluate("reference", loss, kwargs, hyper)
    np.testing.assert_allclose(kernel[0], reference[0], rtol=2e-6, atol=0)
    for k, r in zip(kernel[1], reference[1], strict=True):
        np.testing.assert_allclose(k, r, rtol=2e-6, atol=0)
    np.testing.assert_allclose(kernel[2], reference[2], rtol=2e-6, atol=0)


def test_dispatch_follows_the_mode_and_the_backend(monkeypatch):
    def reference():
        pass

    def fast():
        pass

    here, elsewhere = jax.default_backend(), "no-such-backend"
    monkeypatch.setattr(_kernels, "_REGISTRY", {})
    _kernels.register("here", fast, backends=(here,))
    _kernels.register("elsewhere", fast, backends=(elsewhere,))
    with pytest.raises(ValueError, match="a kernel for 'here' is already registered"):
        _kernels.register("here", fast, backends=(here,))
    with lossjax.kernels("auto"):
        assert _kernels.choose("here", reference) is fast
        assert _kernels.choose("elsewhere", reference) is reference
        assert _kernels.choose("unregistered", reference) is reference
    with lossjax.kernels("reference"):
        assert _kernels.choose("here", reference) is reference


def test_mode_switch_is_checked_and_restored():
    before = lossjax.get_kernels()
    with lossjax.kernels("reference"):
        assert lossjax.get_kernels() == "reference"
    assert lossjax.get_kernels() == before
    with pytest.raises(ValueError, match=r"`mode` must be one of 'auto', 'reference'; got 'fast'"):
        lossjax.set_kernels("fast")  # type: ignore[arg-type]
