"""Fused vs naive large-vocabulary cross-entropy at chosen sizes and block sizes.

``run.py`` measures ``lossjax.linear_cross_entropy`` at its default block size as
part of the full benchmark (section ``linear_ce``: N=8192, D=1024, V=32000 and 128000;
``python benchmarks/run.py --sections linear_ce`` runs only that). This script uses
the same measurement (``bench_measure.linear_ce_case``) to compare block sizes or try
other shapes, and prints a table; it writes no results file.

Per loss: ``temp``, the compiled temporaries (``memory_analysis().temp_size_in_bytes``)
of the forward and of ``jax.value_and_grad`` w.r.t. ``hidden`` and ``weight``; and the
median value+grad time of interleaved rounds after the warm-up calls.

Usage::

    python benchmarks/linear_cross_entropy.py --quick
    python benchmarks/linear_cross_entropy.py --size 8192 1024 32000 --block-sizes 2048 8192
"""

from __future__ import annotations

import argparse

import bench_measure as bm
import jax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=256, D=64, V=8192: seconds")
    parser.add_argument(
        "--size", type=int, nargs=3, action="append", metavar=("N", "D", "V"), default=None
    )
    parser.add_argument(
        "--block-sizes", type=int, nargs="+", default=[], help="besides the default"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    options = parser.parse_args()

    sizes = options.size or ([(256, 64, 8192)] if options.quick else [(8192, 1024, 32000)])
    print(f"jax {jax.__version__} on {jax.default_backend()}")
    for n, d, v in sizes:
        size = bm.LceSize(n, d, v, options.repeats, None)
        row = bm.linear_ce_case(size, options.warmup, (None, *options.block_sizes))
        print(f"\nN={n} D={d} V={v} (median of {options.repeats} interleaved value+grad calls)")
        print(
            f"{'loss':<16}{'ms':>10}{'temp fwd MiB':>14}{'temp vg MiB':>13}{'time':>8}{'memory':>9}"
        )
        base_ms, base_temp = row["ms"]["naive"], row["temp_bytes"]["naive"]["vg"]
        for name, ms in row["ms"].items():
            temp = row["temp_bytes"][name]
            print(
                f"{name:<16}{ms:>10.1f}{temp['fwd'] / 2**20:>14.1f}{temp['vg'] / 2**20:>13.1f}"
                f"{ms / base_ms:>7.2f}×{temp['vg'] / max(base_temp, 1):>8.3f}×"
            )
        for warning in row["warnings"]:
            print(f"WARNING: {warning}")


if __name__ == "__main__":
    main()
