"""Compiled temporaries of every loss, in both kernel modes: a report, not a test.

For each loss of ``run.py`` (elementwise at 1024×1024 = 1M elements, multiclass at
4096×32000), the forward and ``jax.value_and_grad`` (w.r.t. the predictions / logits)
are compiled in ``lossjax.kernels("auto")`` and in ``lossjax.kernels("reference")``,
and this prints per program:

* ``temp``: ``compiled.memory_analysis().temp_size_in_bytes``, the buffers XLA keeps
  besides the inputs and outputs;
* ``full-size``: how many instructions of the optimised program's entry computation
  produce an array of the input's shape (parameters and bitcasts not counted; the
  output gradient and copies included), read from its HLO text: 0 for a forward that
  is one fused reduction.

Budgets, checked on a CPU only (buffer accounting differs elsewhere) and without a
mask: the value+grad of an elementwise loss keeps less than 1 KiB of temporaries (no
full-size intermediate between the value pass and the gradient pass); a multiclass one
less than one logits-sized array. Rows with a mask (``--where``) are reported only. Over-budget rows are marked; ``--strict`` then exits with status 1.
These checks used to be tests; they describe what one compiler does with the code, so
they live here, beside the benchmarks.

Usage::

    python benchmarks/check_compiled.py
    python benchmarks/check_compiled.py --only huber,sparse_ce --where --strict
"""

from __future__ import annotations

import argparse
import re
import sys

import bench_cases as bc
import jax
import jax.numpy as jnp

import lossjax

ELEMENTWISE_SHAPE = (1024, 1024)
MULTICLASS_SHAPE = (4096, 32000)


def structs(case: bc.LossCase, shape, masked: bool):
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    y = jax.ShapeDtypeStruct(shape[:1], jnp.int32) if case.inputs == "sparse" else x
    if not masked:
        return x, y
    mask_shape = shape if case.family == bc.ELEMENTWISE else shape[:1]
    return x, y, jax.ShapeDtypeStruct(mask_shape, jnp.bool_)


def full_size_arrays(compiled, shape) -> int:
    """How many f32 arrays of ``shape`` the entry computation writes."""
    text = compiled.as_text() or ""
    if "ENTRY" not in text:
        return -1
    entry = text[text.index("ENTRY") :]
    dims = ",".join(map(str, shape))
    found = re.findall(rf"%\S+ = f32\[{dims}\]\S* (\w[\w-]*)\(", entry)
    return sum(op not in ("parameter", "bitcast") for op in found)


def budget(case: bc.LossCase, shape) -> int:
    """Most temporary bytes a value+grad may keep (CPU)."""
    if case.family == bc.ELEMENTWISE:
        return 1024
    return shape[0] * shape[1] * 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="loss names or prefixes, as run.py --only")
    parser.add_argument("--where", action="store_true", help="also with a where= mask")
    parser.add_argument("--strict", action="store_true", help="exit 1 when over a budget")
    options = parser.parse_args(argv)

    backend = jax.default_backend()
    on_cpu = backend == "cpu"
    registered = sorted(lossjax._kernels.registered())
    print(f"jax {jax.__version__} on {backend}; kernels registered: {registered or 'none'}")
    if not on_cpu:
        print(f"budgets are for the CPU: reported only on {backend}")
    head = ["loss", "shape", "where", "mode", "fwd temp B", "fwd full-size"]
    head += ["vg temp B", "vg full-size", "vg budget B", "status"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    over = []
    for case in bc.select(options.only):
        shape = ELEMENTWISE_SHAPE if case.family == bc.ELEMENTWISE else MULTICLASS_SHAPE
        for masked in (False, True) if options.where else (False,):
            args = structs(case, shape, masked)
            for mode in ("auto", "reference"):
                with lossjax.kernels(mode):
                    loss = case.lossjax_loss
                    fwd = jax.jit(lambda *a, f=loss: f(*a)).lower(*args).compile()
                    vg = jax.jit(jax.value_and_grad(lambda *a, f=loss: f(*a)))
                    vg = vg.lower(*args).compile()
                fwd_temp = fwd.memory_analysis().temp_size_in_bytes
                vg_temp = vg.memory_analysis().temp_size_in_bytes
                limit = budget(case, shape)
                if not on_cpu or masked:
                    status = "—"
                elif vg_temp < limit:
                    status = "ok"
                else:
                    status = "OVER"
                    over.append(f"{case.key} {mode}" + (" where" if masked else ""))
                cells = [case.title, f"{shape[0]}×{shape[1]}", "yes" if masked else "no", mode]
                cells += [str(fwd_temp), str(full_size_arrays(fwd, shape))]
                cells += [str(vg_temp), str(full_size_arrays(vg, shape))]
                cells += ["—" if masked else str(limit), status]
                print("| " + " | ".join(cells) + " |", flush=True)
    if over:
        print(f"\n{len(over)} over budget: {', '.join(over)}")
        return 1 if options.strict else 0
    print("\nall within budget" if on_cpu else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
