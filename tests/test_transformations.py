"""Every public loss, parametrised over one catalogue, under JAX transformations.

What a user does with a loss -- ``jit``, ``vmap`` for per-example losses,
``grad``, ``jvp``, ``hessian``, ``checkpoint``, low-precision inputs, masks --
must work for every loss the same way. The catalogue lives in
``losses_catalogue.py`` so the sharding tests use the same list.

The tests whose answer could depend on how the loss is executed run under
``chex.variants`` (the ``chex.TestCase`` classes at the end): eagerly, jitted,
and under ``pmap`` (every device computes the whole loss).
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized
from jax.test_util import check_grads
from losses_catalogue import CATALOGUE, B, R, as_jnp, merge_args, slice_args

import lossjax
from lossjax import _kernels

each_loss = pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
# The same list for the chex.TestCase classes (absl parameterisation).
EACH_LOSS = [(spec.name, spec) for spec in CATALOGUE]


def _setup(spec, seed=0):
    args, in_axes, kwargs = spec.make(np.random.default_rng(seed))
    return as_jnp(args), in_axes, kwargs


@functools.cache
def _jitted(spec, reduction="mean"):
    """The loss with its catalogue options bound, compiled once per input shape and
    shared by the tests below (a slice's float32 program is compiled once, not once
    per test). The eager, op-by-op call is checked by the chex variants below."""
    _, _, kwargs = spec.make(np.random.default_rng(0))
    return jax.jit(lambda *a, **kw: spec.fn(*a, **kwargs, reduction=reduction, **kw))


def _first_slice(spec, seed=0):
    args, in_axes, kwargs = _setup(spec, seed)
    return slice_args(args, in_axes, 0), kwargs


@each_loss
def test_vmap_matches_a_python_loop(spec):
    args, in_axes, _ = _setup(spec)
    fn = _jitted(spec)
    mapped = jax.vmap(fn, in_axes=in_axes)(*args)
    loop = [fn(*slice_args(args, in_axes, b)) for b in range(B)]
    np.testing.assert_allclose(mapped, loop, rtol=1e-6)


@each_loss
def test_vmapped_mean_matches_none_row_by_row(spec):
    if not spec.independent:
        pytest.skip("in-batch negatives: a slice is not a set of independent examples")
    args, in_axes, _ = _setup(spec)
    mapped = jax.vmap(_jitted(spec), in_axes=in_axes)(*args)
    none = _jitted(spec, "none")(*merge_args(args, in_axes))
    np.testing.assert_allclose(mapped, np.asarray(none).reshape(B, R).mean(axis=1), rtol=1e-6)


@each_loss
def test_per_example_gradients_with_vmap(spec):
    """Per-example gradients (DP-SGD style): vmap(grad) over examples of one slice."""
    if not spec.independent:
        pytest.skip("in-batch negatives")
    args, in_axes, kwargs = _setup(spec)
    merged = merge_args(args, in_axes)

    def one(*example):
        expanded = tuple(
            a if ax is None else a[None] for a, ax in zip(example, in_axes, strict=True)
        )
        return spec.fn(*expanded, **kwargs)

    per_example = jax.jit(jax.vmap(jax.grad(one), in_axes=in_axes))(*merged)
    total = jax.jit(jax.grad(lambda a0: spec.fn(a0, *merged[1:], reduction="sum", **kwargs)))(
        merged[0]
    )
    np.testing.assert_allclose(per_example, total, rtol=1e-5, atol=1e-6)


def _diff_fn(spec, args, kwargs):
    def f(*diffs):
        full = list(args)
        for i, d in zip(spec.diff_args, diffs, strict=True):
            full[i] = d
        return spec.fn(*full, **kwargs)

    return f, tuple(args[i] for i in spec.diff_args)


def _needs_forward_mode(spec):
    if not spec.forward_mode:
        pytest.skip(
            "custom_vjp by design (the fused loss never stores its logits): reverse mode only"
        )


@each_loss
def test_forward_and_reverse_mode_agree(spec):
    _needs_forward_mode(spec)
    args, kwargs = _first_slice(spec)
    f, primals = _diff_fn(spec, args, kwargs)
    grads = jax.jit(jax.grad(f, argnums=tuple(range(len(primals)))))(*primals)
    rng = np.random.default_rng(1)
    tangents = tuple(jnp.asarray(rng.normal(size=p.shape), p.dtype) for p in primals)
    value, tangent_out = jax.jit(lambda p, t: jax.jvp(f, p, t))(primals, tangents)
    np.testing.assert_allclose(value, jax.jit(f)(*primals), rtol=1e-6)
    expected = sum(jnp.vdot(g, t) for g, t in zip(grads, tangents, strict=True))
    np.testing.assert_allclose(tangent_out, expected, rtol=1e-4, atol=1e-6)
    assert all(np.all(np.isfinite(g)) for g in grads)


@each_loss
def test_hessian_is_finite_and_symmetric(spec):
    _needs_forward_mode(spec)
    args, kwargs = _first_slice(spec)
    f, primals = _diff_fn(spec, args, kwargs)
    first = lambda x: f(x, *primals[1:])  # noqa: E731
    hess = np.asarray(jax.jit(jax.hessian(first))(primals[0])).reshape(primals[0].size, -1)
    assert np.all(np.isfinite(hess))
    np.testing.assert_allclose(hess, hess.T, rtol=1e-4, atol=1e-5)


def _as_float64(args):
    return tuple(
        jnp.asarray(a, jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a for a in args
    )


def _central_differences(f, x, eps=1e-6):
    """Float64 central differences of the scalar ``f`` at ``x``, every coordinate at once."""
    steps = eps * np.eye(x.size).reshape(x.size, *x.shape)
    batched = jax.jit(jax.vmap(f))
    return np.asarray((batched(x + steps) - batched(x - steps)) / (2 * eps)).reshape(x.shape)


@each_loss
def test_checkpointed_gradient_matches_float64_finite_differences(spec):
    """jax.checkpoint recomputes the forward pass inside the backward pass; the
    gradient must still be the derivative of the loss, here measured by float64
    finite differences of the loss value (no autodiff in the reference)."""
    args, kwargs = _first_slice(spec)
    f, primals = _diff_fn(spec, args, kwargs)
    argnums = tuple(range(len(primals)))
    remat = jax.jit(jax.grad(jax.checkpoint(f), argnums=argnums))(*primals)
    with jax.enable_x64(True):
        f64, primals64 = _diff_fn(spec, _as_float64(args), kwargs)
        for i, got in enumerate(remat):

            def along(x, i=i):
                return f64(*primals64[:i], x, *primals64[i + 1 :])

            want = _central_differences(along, np.asarray(primals64[i]))
            assert got.dtype == primals[i].dtype
            scale = np.max(np.abs(want))
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * scale)


@each_loss
def test_check_grads_in_float64(spec, x64):
    args, kwargs = _first_slice(spec)
    args = tuple(
        a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a for a in args
    )
    f, primals = _diff_fn(spec, args, kwargs)
    f = jax.jit(f)  # compiled once per derivative order instead of dispatched op by op
    assert f(*primals).dtype == jnp.float64
    # Reverse mode, to second order where the loss is smooth. Forward mode is checked
    # against reverse mode in test_forward_and_reverse_mode_agree, so its numerical
    # check here would repeat this one at twice the cost.
    order = 2 if spec.smooth and spec.forward_mode else 1
    check_grads(f, primals, order=order, modes=["rev"], eps=1e-6, atol=1e-5, rtol=1e-5)


@each_loss
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_low_precision_inputs_compute_in_float32(spec, dtype):
    args, _ = _first_slice(spec)
    low = tuple(a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a for a in args)
    fn = _jitted(spec)
    out = fn(*low)
    assert out.dtype == jnp.float32
    upcast = tuple(
        a.astype(jnp.float32) if jnp.issubdtype(a.dtype, jnp.floating) else a for a in low
    )
    np.testing.assert_allclose(out, fn(*upcast), rtol=1e-5)


@each_loss
def test_weights_enter_numerator_and_denominator(spec):
    args, _ = _first_slice(spec)
    weights = jnp.array([0.5, 2.0, 0.0, 1.5])
    none = np.asarray(_jitted(spec, "none")(*args), np.float64)
    got = _jitted(spec)(*args, weights=weights)
    w = np.asarray(weights, np.float64)
    np.testing.assert_allclose(got, (w * none).sum() / w.sum(), rtol=1e-6)


@each_loss
def test_hyperparameters_are_keyword_only(spec):
    args, _ = _first_slice(spec)
    # ("takes from 1 to 2 positional arguments" where the targets are optional.)
    with pytest.raises(
        TypeError, match=r"takes (from \d+ to )?\d+ positional arguments? but \d+ were given"
    ):
        spec.fn(*args, "mean")


@each_loss
def test_docstring_gives_the_formula(spec):
    """(Args, Returns and a running example are checked for every public function in
    test_docs.py.)"""
    doc = spec.fn.__doc__ or ""
    assert ".. math::" in doc or ":math:" in doc, f"{spec.name} docstring lacks a formula"


@pytest.mark.parametrize(
    "spec", [s for s in CATALOGUE if s.fn_name in _kernels.registered()], ids=lambda s: s.name
)
def test_kernel_modes_agree(spec):
    """lossjax.kernels("reference") and "auto" give the same value and gradient."""
    args, kwargs = _first_slice(spec)
    f, primals = _diff_fn(spec, args, kwargs)
    argnums = tuple(range(len(primals)))
    results = {}
    for mode in ("reference", "auto"):
        with lossjax.kernels(mode):  # read while tracing: a fresh jit per mode
            results[mode] = jax.jit(jax.value_and_grad(f, argnums=argnums))(*primals)
    for got, want in zip(
        jax.tree.leaves(results["auto"]), jax.tree.leaves(results["reference"]), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# -- under chex variants --------------------------------------------------------------


def _poisoned(spec, args, row, value):
    """``args`` with every per-example floating argument set to ``value`` at ``row``."""
    _, in_axes, _ = spec.make(np.random.default_rng(0))
    return tuple(
        a.at[row].set(value) if ax is not None and jnp.issubdtype(a.dtype, jnp.floating) else a
        for a, ax in zip(args, in_axes, strict=True)
    )


class EveryLossUnderVariants(chex.TestCase):
    """Eager, jitted, on device, on host and pmapped calls give the same answers."""

    # (chex's with_device/without_device variants only place the arguments differently
    # from with_jit: left out, they doubled this test's compilations.)
    @chex.variants(with_jit=True, without_jit=True, with_pmap=True)
    @parameterized.named_parameters(*EACH_LOSS)
    def test_value_reductions_and_gradient(self, spec):
        args, kwargs = _first_slice(spec)
        f, primals = _diff_fn(spec, args, kwargs)
        argnums = tuple(range(len(primals)))

        def everything(*a):
            return (
                spec.fn(*a, **kwargs),
                spec.fn(*a, reduction="sum", **kwargs),
                spec.fn(*a, reduction="none", **kwargs),
                jax.grad(_diff_fn(spec, a, kwargs)[0], argnums=argnums)(
                    *(a[i] for i in spec.diff_args)
                ),
            )

        mean, total, none, grads = self.variant(everything)(*args)
        assert none.shape == (R,) and mean.shape == () and total.shape == ()
        assert mean.dtype == none.dtype == jnp.float32
        none64 = np.asarray(none, np.float64)
        np.testing.assert_allclose(mean, none64.mean(), rtol=1e-6)
        np.testing.assert_allclose(total, none64.sum(), rtol=1e-6)
        # The same numbers as a plain eager call, to float32 rounding (XLA fuses differently).
        np.testing.assert_allclose(none, spec.fn(*args, reduction="none", **kwargs), rtol=1e-6)
        for got, want in zip(grads, jax.grad(f, argnums=argnums)(*primals), strict=True):
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(*EACH_LOSS)
    def test_everything_masked_gives_zero_and_zero_gradient(self, spec):
        args, kwargs = _first_slice(spec)
        f, primals = _diff_fn(spec, args, {**kwargs, "where": jnp.zeros(R, bool)})
        argnums = tuple(range(len(primals)))
        value, grads = self.variant(jax.value_and_grad(f, argnums=argnums))(*primals)
        assert value == 0.0
        for grad in grads:
            np.testing.assert_array_equal(grad, np.zeros(grad.shape))

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(*EACH_LOSS)
    def test_nan_and_inf_behind_the_mask_contribute_nothing(self, spec):
        """Every per-example input of a removed example is NaN (or inf): the value and
        every gradient are those of the clean inputs."""
        args, kwargs = _first_slice(spec)
        where = jnp.array([True, False, True, True])
        kwargs = {**kwargs, "where": where}
        clean_f, clean = _diff_fn(spec, args, kwargs)
        argnums = tuple(range(len(clean)))
        want_value, want_grads = jax.value_and_grad(clean_f, argnums=argnums)(*clean)
        for bad in (jnp.nan, jnp.inf):
            f, primals = _diff_fn(spec, _poisoned(spec, args, 1, bad), kwargs)
            value, grads = self.variant(jax.value_and_grad(f, argnums=argnums))(*primals)
            np.testing.assert_allclose(value, want_value, rtol=1e-6)
            for got, want in zip(grads, want_grads, strict=True):
                assert np.all(np.isfinite(got))
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
