"""Exact global losses across devices (JAX SPMD) for every loss of the catalogue.

Runs on 8 virtual CPU devices (set in conftest.py before JAX starts).
``jax.shard_map`` with ``axis_name`` must give the single-device value and
gradient even when each device keeps a different number of examples and the
weights differ; ``jax.jit`` over ``NamedSharding``-placed inputs needs no
``axis_name`` and must not depend on the sharding.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from losses_catalogue import CATALOGUE, merge_args

import lossjax

N_DEVICES = 8
PER_DEVICE = 12

pytestmark = pytest.mark.multi_device


def _global_batch(spec):
    """N_DEVICES * PER_DEVICE examples: catalogue slices from several seeds, merged."""
    parts = [spec.make(np.random.default_rng(seed)) for seed in range(N_DEVICES)]
    in_axes, kwargs = parts[0][1], parts[0][2]
    args = []
    for i, ax in enumerate(in_axes):
        if ax is None:
            args.append(parts[0][0][i])
        else:
            stacked = np.concatenate([p[0][i] for p in parts], axis=0)
            args.append(stacked)
    merged = merge_args(tuple(args), in_axes)
    n = (
        merged[0].shape[0]
        if in_axes[0] is not None
        else merged[next(i for i, a in enumerate(in_axes) if a is not None)].shape[0]
    )
    assert n % N_DEVICES == 0
    # Keep the first N_DEVICES * PER_DEVICE examples.
    total = N_DEVICES * PER_DEVICE
    assert n >= total
    merged = tuple(a if ax is None else a[:total] for a, ax in zip(merged, in_axes, strict=True))
    return tuple(jnp.asarray(a) for a in merged), in_axes, kwargs


def _uneven_mask_and_weights():
    """Device d keeps 1 + (5 d mod 12) of its 12 examples; weights are non-uniform."""
    kept = [1 + (5 * d) % PER_DEVICE for d in range(N_DEVICES)]
    where = np.zeros((N_DEVICES, PER_DEVICE), bool)
    for d, k in enumerate(kept):
        where[d, :k] = True
    rng = np.random.default_rng(7)
    weights = rng.uniform(0.1, 3.0, size=(N_DEVICES, PER_DEVICE)).astype(np.float32)
    assert len(set(kept)) > 1
    return jnp.asarray(where.reshape(-1)), jnp.asarray(weights.reshape(-1))


def _auto_mesh(shape, names):
    """A mesh for shard_map: jax.make_mesh defaults to Explicit axes, whose inputs
    must already be sharded as in_specs says; Auto axes let shard_map reshard."""
    return jax.make_mesh(shape, names, axis_types=(jax.sharding.AxisType.Auto,) * len(shape))


def _diff_argnums(spec):
    return spec.diff_args


@functools.cache
def _single_device(spec):
    """The global batch's value and gradients on one device, with the uneven mask and
    weights: the reference of every test below, compiled once per loss."""
    args, _, kwargs = _global_batch(spec)
    where, weights = _uneven_mask_and_weights()
    f = lambda *a: spec.fn(*a, where=where, weights=weights, **kwargs)  # noqa: E731
    return jax.jit(jax.value_and_grad(f, argnums=_diff_argnums(spec)))(*args)


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_shard_map_with_axis_name_equals_single_device(spec):
    args, in_axes, kwargs = _global_batch(spec)
    where, weights = _uneven_mask_and_weights()
    mesh = _auto_mesh((N_DEVICES,), ("data",))
    specs = tuple(P() if ax is None else P("data") for ax in in_axes)

    def sharded(*a):
        def local(*la):
            *xs, w, m = la
            return spec.fn(*xs, where=m, weights=w, axis_name="data", **kwargs)

        return jax.shard_map(
            local, mesh=mesh, in_specs=(*specs, P("data"), P("data")), out_specs=P()
        )(*a, weights, where)

    argnums = _diff_argnums(spec)
    want_value, want_grads = _single_device(spec)
    got_value, got_grads = jax.jit(jax.value_and_grad(sharded, argnums=argnums))(*args)
    np.testing.assert_allclose(got_value, want_value, rtol=1e-6)
    for got, want in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_shard_map_sum_is_global_sum(spec):
    args, in_axes, kwargs = _global_batch(spec)
    mesh = _auto_mesh((N_DEVICES,), ("data",))
    specs = tuple(P() if ax is None else P("data") for ax in in_axes)
    local = lambda *a: spec.fn(*a, reduction="sum", axis_name="data", **kwargs)  # noqa: E731
    got = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=P()))(*args)
    want = jax.jit(lambda *a: spec.fn(*a, reduction="sum", **kwargs))(*args)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_pmean_of_local_means_would_be_wrong():
    """The difference is real: averaging per-device means is not the global mean."""
    spec = next(s for s in CATALOGUE if s.name == "binary_cross_entropy")
    args, _, kwargs = _global_batch(spec)
    where, _ = _uneven_mask_and_weights()
    mesh = _auto_mesh((N_DEVICES,), ("data",))

    def local_means(logits, labels, m):
        local = spec.fn(logits, labels, where=m, **kwargs)
        return jax.lax.pmean(local, "data")

    def exact(logits, labels, m):
        return spec.fn(logits, labels, where=m, axis_name="data", **kwargs)

    run = lambda f: jax.jit(  # noqa: E731
        jax.shard_map(f, mesh=mesh, in_specs=(P("data"),) * 3, out_specs=P())
    )(*args, where)
    want = spec.fn(*args, where=where, **kwargs)
    np.testing.assert_allclose(run(exact), want, rtol=1e-6)
    assert abs(float(run(local_means)) - float(want)) > 1e-3 * abs(float(want))


def _place(x, mesh, batch_axes):
    """Shards the batch axis over ``batch_axes``, and a second axis over 'y' when it divides."""
    if x.ndim == 0:
        return jax.device_put(x, NamedSharding(mesh, P()))
    spec = [batch_axes] + [None] * (x.ndim - 1)
    if (
        len(mesh.axis_names) == 2
        and batch_axes == "x"
        and x.ndim >= 2
        and x.shape[1] % mesh.shape["y"] == 0
    ):
        spec[1] = "y"
    return jax.device_put(x, NamedSharding(mesh, P(*spec)))


@pytest.mark.parametrize("mesh_shape", [(8,), (4, 2), (2, 4)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_jit_over_named_sharding_needs_no_axis_name(spec, mesh_shape):
    args, in_axes, kwargs = _global_batch(spec)
    where, weights = _uneven_mask_and_weights()
    names = ("data",) if len(mesh_shape) == 1 else ("x", "y")
    mesh = _auto_mesh(mesh_shape, names)
    batch_axes = "data" if len(mesh_shape) == 1 else ("x" if mesh_shape[0] == 4 else ("x", "y"))
    placed = tuple(
        jax.device_put(a, NamedSharding(mesh, P())) if ax is None else _place(a, mesh, batch_axes)
        for a, ax in zip(args, in_axes, strict=True)
    )
    w = _place(weights, mesh, batch_axes)
    m = _place(where, mesh, batch_axes)
    f = lambda *a: spec.fn(*a[:-2], weights=a[-2], where=a[-1], **kwargs)  # noqa: E731
    argnums = _diff_argnums(spec)
    want_value, want_grads = _single_device(spec)
    got_value, got_grads = jax.jit(jax.value_and_grad(f, argnums=argnums))(*placed, w, m)
    np.testing.assert_allclose(got_value, want_value, rtol=1e-6)
    for got, want in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_reduce_loss_accepts_a_tuple_of_axis_names():
    mesh = _auto_mesh((4, 2), ("x", "y"))
    values = jnp.arange(16.0)
    where = values % 3 != 0
    local = lambda v, m: lossjax.reduce_loss(v, where=m, axis_name=("x", "y"))  # noqa: E731
    got = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(P(("x", "y")),) * 2, out_specs=P()))(
        values, where
    )
    np.testing.assert_allclose(got, np.asarray(values)[np.asarray(where)].mean(), rtol=1e-6)
