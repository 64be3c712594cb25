"""One process of a two-process JAX job, started by ``tests/test_multiprocess.py``.

Not a test module (pytest collects ``test_*.py`` only). Each process joins the
job with ``jax.distributed.initialize`` (CPU collectives over gloo, loopback
only), holds ``LOCAL_DEVICES`` virtual CPU devices, builds the global batch
from its own rows with ``jax.make_array_from_process_local_data`` and computes
the value and gradient of three losses twice: under ``jax.jit`` over global
arrays (no ``axis_name``) and under ``jax.shard_map`` with ``axis_name``. It
also computes the mean over its own rows alone, on one local device, for the
naive mean of per-process means. Results go to ``<out>/process<id>.npz``.

Run (the test does this, each process with its own environment)::

    python tests/multiprocess_worker.py --coordinator 127.0.0.1:PORT --process-id 0 --out DIR

Exit status 3 means this JAX cannot run CPU collectives across processes here
(the message says why); the test turns it into a skip with that reason.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

import numpy as np

N_PROCESSES = 2
LOCAL_DEVICES = 4
PER_DEVICE = 6
N = N_PROCESSES * LOCAL_DEVICES * PER_DEVICE  # 48 global rows, 24 per process
HALF = N // N_PROCESSES
CLASSES = 5
DIM = 8
IGNORE = -100
TEMPERATURE = 0.2
CLASS_WEIGHTS = np.array([0.5, 1.0, 2.0, 3.0, 0.25], np.float32)
UNSUPPORTED = 3  # exit status: CPU collectives across processes are not available


def global_data() -> dict[str, np.ndarray]:
    """The global batch, the same in every process; process p owns rows [24 p, 24 p + 24).

    The masks are deliberately uneven across the processes: process 0 keeps 3
    of its 24 labels for the cross-entropy, 4 of its 72 entries for the BCE and
    5 of its 24 pairs for InfoNCE; process 1 keeps almost everything. A mean of
    the two per-process means then weights process 0's few entries as much as
    all of process 1's, and differs from the global mean.
    """
    rng = np.random.default_rng(2024)
    logits = (2.0 * rng.normal(size=(N, CLASSES))).astype(np.float32)
    labels = rng.integers(0, CLASSES, size=N).astype(np.int32)
    # Process 0's few kept labels are its well-classified rows: a small local mean.
    labels[:3] = np.argmax(logits[:3], axis=-1)
    labels[3:HALF] = IGNORE
    labels[HALF : HALF + 2] = IGNORE

    bce_logits = (3.0 * rng.normal(size=(N, 3))).astype(np.float32)
    bce_labels = (rng.uniform(size=(N, 3)) < 0.4).astype(np.float32)
    bce_where = np.zeros((N, 3), bool)
    bce_where[[0, 1, 5, 9], [0, 2, 1, 0]] = True  # process 0: 4 of 72 entries
    bce_where[HALF:] = rng.uniform(size=(N - HALF, 3)) < 0.9  # process 1: about 65 of 72
    # Garbage behind the mask must not reach the value or the gradient.
    bce_logits[:HALF][~bce_where[:HALF]] = np.nan
    bce_weights = rng.uniform(0.5, 2.0, size=(N, 3)).astype(np.float32)

    queries = rng.normal(size=(N, DIM)).astype(np.float32)
    keys = (queries + 0.7 * rng.normal(size=(N, DIM))).astype(np.float32)
    nce_where = np.ones(N, bool)
    nce_where[5:HALF] = False  # process 0 keeps 5 of its 24 pairs
    nce_where[HALF + 3] = False  # process 1 keeps 23 of its 24
    return {
        "logits": logits,
        "labels": labels,
        "bce_logits": bce_logits,
        "bce_labels": bce_labels,
        "bce_where": bce_where,
        "bce_weights": bce_weights,
        "queries": queries,
        "keys": keys,
        "nce_where": nce_where,
    }


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unsupported(why: str) -> None:
    print(f"lossjax multiprocess worker: unsupported: {why}", file=sys.stderr, flush=True)
    sys.exit(UNSUPPORTED)


def _use_gloo_on_loopback(jax) -> None:
    """CPU collectives over gloo, listening on 127.0.0.1 only.

    By default gloo listens on the address the host name resolves to, which may
    be a network interface. JAX has no public option for gloo's address, so the
    CPU backend factory is replaced by one that passes ``hostname="127.0.0.1"``
    (private API, checked); where it is missing the default is used only if the
    host name resolves to a loopback address.
    """
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception as e:  # an unknown option or value: no gloo in this JAX
        _unsupported(f"jax_cpu_collectives_implementation='gloo' is rejected ({e})")
    try:
        from jax._src import distributed, xla_bridge
        from jax._src.lib import _jax

        make_gloo = _jax.make_gloo_tcp_collectives
        make_cpu_client = xla_bridge.make_cpu_client
        register = xla_bridge.register_backend_factory
    except (ImportError, AttributeError):
        address = socket.gethostbyname(socket.gethostname())
        if not address.startswith("127."):
            _unsupported(f"gloo would listen on {address}; this test uses loopback only")
        return

    def cpu_client():
        collectives = make_gloo(
            distributed_client=distributed.global_state.client, hostname="127.0.0.1"
        )
        return make_cpu_client(collectives=collectives)

    register("cpu", cpu_client, priority=0, fail_quietly=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", required=True, help="127.0.0.1:PORT")
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--out", required=True, help="folder for process<id>.npz")
    args = parser.parse_args()
    if not args.coordinator.startswith("127.0.0.1:"):
        raise SystemExit("lossjax multiprocess worker: the coordinator must be on 127.0.0.1")

    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax

    jax.config.update("jax_num_cpu_devices", LOCAL_DEVICES)
    jax.config.update("jax_numpy_rank_promotion", "raise")
    jax.config.update("jax_default_matmul_precision", "highest")
    _use_gloo_on_loopback(jax)
    jax.distributed.initialize(
        coordinator_address=args.coordinator,
        num_processes=N_PROCESSES,
        process_id=args.process_id,
        coordinator_bind_address=args.coordinator,  # loopback only, not every interface
        initialization_timeout=60,
    )
    assert jax.process_count() == N_PROCESSES, jax.process_count()
    assert jax.local_device_count() == LOCAL_DEVICES, jax.local_devices()
    assert jax.device_count() == N_PROCESSES * LOCAL_DEVICES

    import jax.numpy as jnp
    from jax.sharding import AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    import lossjax

    mesh = jax.make_mesh((jax.device_count(),), ("data",), axis_types=(AxisType.Auto,))
    rows = NamedSharding(mesh, P("data"))
    replicated = NamedSharding(mesh, P())
    mine = slice(args.process_id * HALF, (args.process_id + 1) * HALF)
    # The rows this process's devices hold under `rows` are exactly its block.
    held = rows.addressable_devices_indices_map((N,)).values()
    assert min(i[0].start for i in held) == mine.start, held
    assert max(i[0].stop for i in held) == mine.stop, held

    data = global_data()
    local = {name: array[mine] for name, array in data.items()}
    batch = {
        name: jax.make_array_from_process_local_data(rows, part, data[name].shape)
        for name, part in local.items()
    }
    class_weights = jnp.asarray(CLASS_WEIGHTS)
    names = sorted(data)

    def ce(logits, labels, axis_name=None):
        return lossjax.sparse_categorical_cross_entropy(
            logits, labels, class_weights=class_weights, ignore_index=IGNORE, axis_name=axis_name
        )

    def bce(logits, labels, where, weights, axis_name=None):
        return lossjax.binary_cross_entropy(
            logits, labels, where=where, weights=weights, axis_name=axis_name
        )

    def nce(queries, keys, where, axis_name=None):
        return lossjax.info_nce_loss(
            queries,
            keys,
            where=where,
            temperature=TEMPERATURE,
            symmetric=True,
            axis_name=axis_name,
        )

    cases = {
        "ce": (ce, ("logits", "labels"), (0,)),
        "bce": (bce, ("bce_logits", "bce_labels", "bce_where", "bce_weights"), (0,)),
        "nce": (nce, ("queries", "keys", "nce_where"), (0, 1)),
    }

    def values_and_grads(distributed: str, *arrays):
        """Value and gradient of every case; one program (a single compilation) per mode."""
        out = {}
        for name, (loss, inputs, argnums) in cases.items():
            args = [arrays[names.index(k)] for k in inputs]
            if distributed == "shard_map":
                # Each device sees its rows; axis_name makes the sums (and negatives) global.
                loss = jax.shard_map(
                    lambda *a, loss=loss: loss(*a, axis_name="data"),
                    mesh=mesh,
                    in_specs=(P("data"),) * len(inputs),
                    out_specs=P(),
                )
            # "jit": global arrays, no axis_name; the compiler makes the sums global.
            # "local": this process's rows alone, on one of its devices, no collective.
            value, grads = jax.value_and_grad(loss, argnums)(*args)
            out[f"{name}_{distributed}_value"] = value
            for g, i in zip(grads, argnums, strict=True):
                out[f"{name}_{distributed}_grad{i}"] = g
        return out

    results = {}
    for mode in ("jit", "shard_map"):
        run = jax.jit(values_and_grads, static_argnums=0, out_shardings=replicated)
        results.update(run(mode, *[batch[k] for k in names]))
    local_run = jax.jit(values_and_grads, static_argnums=0)
    results.update(local_run("local", *[jnp.asarray(local[k]) for k in names]))
    results = {k: np.asarray(v) for k, v in results.items() if "local_grad" not in k}

    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, f"process{args.process_id}.npz"), **results)
    print(f"process {args.process_id}: done", flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
