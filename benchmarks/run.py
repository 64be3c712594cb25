"""lossjax benchmarks: the goals of the loss library, measured in one process, as ratios.

Sections (``--sections``, all by default; run in the order compile, speed, per_example,
linear_ce, kernels):

1. ``speed``: forward and ``jax.value_and_grad`` (w.r.t. predictions / logits) of every
   loss lossjax shares with optax, each at three sizes (elementwise 64K, 1M and 16M
   elements; multiclass 8192×1000, 4096×32000 and 1024×128000), without and with a
   ``where=`` mask; lossjax-only losses (absolute error, categorical focal) against the
   floor, the cost of touching the data once. PyTorch too, when ``import torch`` works.
   Goal: lossjax ≤ 1.0× optax.
2. ``compile``: ``lower`` + ``compile`` wall time of each shared loss, forward and
   value+grad. Goal: ≤ 1.2× optax.
3. ``per_example``: ``jax.vmap(jax.grad(loss_of_params))`` over a linear layer, 4096
   examples × 256 features (sparse CE, squared error and BCE heads). Goal: ≤ 1.0× optax.
4. ``linear_ce``: ``lossjax.linear_cross_entropy`` against ``h @ W`` + sparse CE, N=8192,
   D=1024, V=32000 and 128000: compiled temporaries (goal ≤ 1/10 and ≤ 1/30) and
   value+grad time (goal ≤ 1.1× on a CPU).
5. ``kernels``: each registered kernel (``lossjax._kernels.registered()``) against its
   reference formula (``lossjax.kernels("auto")`` vs ``lossjax.kernels("reference")``),
   forward and value+grad at every size; verdict keep (≥ 1.5× faster for value+grad at
   ≥ 1M elements, never slower) or delete.

Measuring writes a JSON file of raw results (machine included); the report (RESULTS.md,
and RESULTS.png when matplotlib is installed) is written from that file, by the same
command or later by ``run.py report RESULTS.json``. No timing is asserted anywhere.

Profiles: ``cpu`` (the default on a CPU: full sizes, about 25 minutes on 2 cores),
``gpu`` (the default on a GPU: full sizes, 10 back-to-back calls per timed sample,
within 5 minutes on one H100/H200) and ``quick`` (tiny sizes, about a minute: a smoke
test, not a measurement).

Usage::

    python benchmarks/run.py                          # the profile for this device
    python benchmarks/run.py --quick --out-dir /tmp/bench
    python benchmarks/run.py --only huber,sparse_ce --sections speed,kernels
    python benchmarks/run.py --profile gpu --out-dir /tmp/gpu
    python benchmarks/run.py report benchmarks/results-cpu.json

On Linux the script re-executes itself once with the allocator and OpenMP settings of
``STEADY_ENV``, which take page faults and spinning threads out of the timings;
``LOSSJAX_BENCH_STEADY=0`` runs it without them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Compile time first: the losses are then compiled for the first time in the process, as a
# user's would be (later sections trace them again).
SECTIONS = ("compile", "speed", "per_example", "linear_ce", "kernels")

# Process settings for steadier timings on Linux, applied by re-executing this
# script once at start (glibc reads them when the process starts):
# * allocations up to 32 MiB come from the heap and freed memory is kept, so a
#   call's fresh output buffer is not page-faulted in again on every call;
# * OpenMP threads (PyTorch's) sleep when idle rather than spin, so they do not
#   take the cores from the JAX call timed after them.
# Every library in the process runs under the same settings. LOSSJAX_BENCH_STEADY=0
# turns this off.
STEADY_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(16 * 2**30),
    "MALLOC_TOP_PAD_": str(512 * 2**20),
    "OMP_WAIT_POLICY": "PASSIVE",
}


def _reexec_with_steady_env() -> None:
    if os.environ.get("LOSSJAX_BENCH_STEADY") == "0" or not sys.platform.startswith("linux"):
        return
    missing = {k: v for k, v in STEADY_ENV.items() if k not in os.environ}
    if missing:
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **missing})


def _steady_settings() -> str:
    active = [f"`{k}={os.environ[k]}`" for k in STEADY_ENV if k in os.environ]
    return ", ".join(active) if active else "none"


def log(text: str) -> None:
    print(text, flush=True)


# -- measuring --------------------------------------------------------------------------------


def measure(options: argparse.Namespace) -> dict:
    """Runs the chosen sections and returns the results (plain data, for the JSON)."""
    import bench_cases as bc
    import bench_measure as bm
    import jax

    platform = jax.default_backend()
    name = options.profile
    if name == "auto":
        name = "gpu" if platform == "gpu" else "cpu"
    profile = bm.override(bm.PROFILES[name], options.repeats, options.inner)

    cases = bc.select(options.only)
    wanted = {w.strip() for w in (options.only or "").split(",") if w.strip()}
    sections = [s.strip() for s in options.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")

    torch_dev = None
    if options.no_torch:
        log("torch: skipped (--no-torch)")
    elif "speed" in sections:
        torch_dev = bm.torch_device(options.torch_device)
    torch_runner = bm.TorchRunner(torch_dev) if torch_dev else None

    dev = jax.devices()[0]
    log(f"jax {jax.__version__} on {dev.platform} ({dev.device_kind}); profile {profile.name}")
    results: dict = {
        "format": 1,
        "command": "python benchmarks/run.py " + " ".join(options.argv),
        "platform": platform,
        "device_kind": dev.device_kind,
        "profile": dataclasses.asdict(profile),
        "machine": bm.machine(torch_dev, _steady_settings()),
        "case_order": [c.key for c in bc.CASES],
        "section_s": {},
    }
    start = time.perf_counter()
    for section in SECTIONS:
        if section not in sections:
            continue
        log(f"== {section}")
        t0 = time.perf_counter()
        if section == "speed":
            results["speed"] = bm.speed_section(cases, profile, torch_runner, log)
        elif section == "compile":
            results["compile"] = bm.compile_section(cases, profile, log)
        elif section == "per_example":
            keys = [k for k in bm.PER_EXAMPLE_MODELS if not wanted or k in {c.key for c in cases}]
            results["per_example"] = bm.per_example_section(keys, profile, log)
        elif section == "linear_ce":
            if not wanted or any("linear_ce".startswith(w) for w in wanted):
                results["linear_ce"] = bm.linear_ce_section(profile, log)
        elif section == "kernels":
            results["kernels"] = bm.kernels_section(cases, profile, log)
        results["section_s"][section] = time.perf_counter() - t0
        log(f"   {section}: {results['section_s'][section]:.0f} s")
    results["elapsed_s"] = time.perf_counter() - start
    return results


def _check_only(only: str | None) -> None:
    import bench_cases as bc

    if not only:
        return
    names = [w.strip() for w in only.split(",") if w.strip()]
    keys = [c.key for c in bc.CASES] + ["linear_ce"]
    unknown = [w for w in names if not any(k == w or k.startswith(w) for k in keys)]
    if unknown:
        raise SystemExit(f"unknown --only name(s) {unknown}; choose from: {', '.join(keys)}")


def measure_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Subcommand: `run.py report RESULTS.json [--results PATH]` writes the report "
        "from a results file.",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "quick", "cpu", "gpu"),
        default="auto",
        help="sizes and rounds (default: gpu on a GPU, else cpu)",
    )
    parser.add_argument("--quick", action="store_true", help="same as --profile quick")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds, every size")
    parser.add_argument(
        "--inner", type=int, default=None, help="back-to-back calls per timed sample"
    )
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS)
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated loss names or prefixes (squared_error, absolute_error, huber, "
        "log_cosh, bce, hinge, focal_g2, focal_g0.5, softmax_ce, sparse_ce, kl, "
        "categorical_focal) and/or linear_ce",
    )
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where the files go")
    parser.add_argument("--results", default="RESULTS.md", help="report file name in --out-dir")
    parser.add_argument(
        "--json", type=Path, default=None, help="results file (default results-PLATFORM.json)"
    )
    parser.add_argument("--no-report", action="store_true", help="write the JSON only")
    parser.add_argument("--no-chart", action="store_true", help="no RESULTS.png")
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    parser.add_argument(
        "--torch-device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="PyTorch device; auto: cuda when JAX runs on a GPU, else cpu",
    )
    options = parser.parse_args(argv)
    options.argv = argv
    if options.quick:
        options.profile = "quick"
    for flag in ("repeats", "inner"):
        value = getattr(options, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag} must be at least 1")
    _check_only(options.only)

    results = measure(options)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = options.json or options.out_dir / f"results-{results['platform']}.json"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    log(f"\nwrote {json_path} ({results['elapsed_s']:.0f} s of measuring)")
    if options.no_report:
        return 0
    return report(json_path, options.out_dir / options.results, chart=not options.no_chart)


# -- reporting --------------------------------------------------------------------------------


def report(json_path: Path, results_path: Path, chart: bool = True) -> int:
    import bench_report

    results = json.loads(json_path.read_text())
    bench_report.write_report(results, json_path, results_path, chart=chart)
    log("\n" + bench_report.summary(results, results_path))
    log(f"\nwrote {results_path}")
    return 0


def report_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="run.py report", description="Write RESULTS.md (and the chart) from a results file."
    )
    parser.add_argument("json", type=Path, help="results file written by run.py")
    parser.add_argument(
        "--results",
        type=Path,
        default=HERE / "RESULTS.md",
        help="report to update (default benchmarks/RESULTS.md); only this platform's block "
        "is rewritten",
    )
    parser.add_argument("--no-chart", action="store_true")
    options = parser.parse_args(argv)
    return report(options.json, options.results, chart=not options.no_chart)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        return report_main(argv[1:])
    return measure_main(argv)


if __name__ == "__main__":
    if sys.argv[1:2] != ["report"]:
        _reexec_with_steady_env()
    sys.exit(main())
