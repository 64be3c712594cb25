"""Reporting: the results JSON of ``run.py`` to RESULTS.md (and a chart, with matplotlib).

Imports neither JAX nor lossjax: a results file from another machine (a GPU run)
can be reported anywhere. matplotlib is imported only to draw the chart.

Each platform has its own block in RESULTS.md, between ``<!-- run.py:start -->``
and ``<!-- run.py:end -->`` for the CPU and ``<!-- run.py:gpu:start -->`` ...
``<!-- run.py:gpu:end -->`` for a GPU; everything outside the blocks (the
hand-written reasons for missed goals, notes) is kept as it is.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from pathlib import Path

# Why a goal is missed, by check id (shell patterns allowed), shown in the reason column
# of the "Misses" table. Check ids are printed in that table, e.g.
# "vg/hinge/1024x1024/where", "compile-vg/kl", "per-example/bce", "lce-memory/32000",
# "lce-time/128000", "kernel/huber_loss". The results file itself may hold more, in a
# hand-written table between REASONS_START and REASONS_END outside the run.py blocks:
#
#   <!-- reasons:start -->
#   | check id | reason |
#   |---|---|
#   | `vg/hinge/*` | the label mapping costs four operations per element |
#   <!-- reasons:end -->
#
# Entries there win over this dict. Longer explanations go in hand-written sections
# outside the blocks, which run.py never touches.
REASONS: dict[str, str] = {}
REASONS_START, REASONS_END = "<!-- reasons:start -->", "<!-- reasons:end -->"

UNEXPLAINED = "_to be explained_"

GOAL_TEXT = {
    "fwd": "Forward time ≤ optax's, every shared loss, size and mask",
    "vg": "Value+grad time ≤ optax's, every shared loss, size and mask",
    "compile-fwd": "Compile time of the forward ≤ 1.2× optax's",
    "compile-vg": "Compile time of value+grad ≤ 1.2× optax's",
    "per-example": "Per-example gradients (vmap of grad) ≤ optax's time",
    "lce-memory": "linear_cross_entropy temporaries ≤ 1/10 of naive at V=32000, ≤ 1/30 at V=128000",
    "lce-time": "linear_cross_entropy value+grad time ≤ 1.1× naive (CPU)",
    "kernel": "Each kernel ≥ 1.5× faster than its reference (value+grad, ≥ 1M elements), never slower",
}

KERNEL_SPEEDUP = 1.5  # reference/kernel, value+grad, at sizes of at least KERNEL_MIN_SIZE
KERNEL_MIN_SIZE = 2**20


# -- formatting -------------------------------------------------------------------------------


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def fmt_mib(b: int | None) -> str:
    return "—" if b is None else f"{b / 2**20:.1f}"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def shape_label(shape) -> str:
    return f"{shape[0]}×{shape[1]}"


def shape_id(shape) -> str:
    return f"{shape[0]}x{shape[1]}"


# -- goal checks ------------------------------------------------------------------------------


@dataclasses.dataclass
class Check:
    goal: str  # key of GOAL_TEXT
    check_id: str  # for REASONS
    item: str  # human label
    value: float | None  # the measured ratio
    limit: float | None  # None: reported, no goal on this platform or size
    note: str = ""
    passed: bool | None = None  # a verdict that is not one ratio against a limit (kernels)

    @property
    def met(self) -> bool | None:
        if self.passed is not None:
            return self.passed
        if self.value is None or self.limit is None:
            return None
        return self.value <= self.limit

    def reason(self, reasons: dict[str, str]) -> str:
        """The first entry of ``reasons`` whose pattern matches this check's id."""
        for pattern, text in reasons.items():
            if fnmatch.fnmatchcase(self.check_id, pattern):
                return text
        return UNEXPLAINED


def reasons_in(text: str) -> dict[str, str]:
    """The ``| check id | reason |`` rows of the hand-written reasons table in ``text``."""
    if REASONS_START not in text or REASONS_END not in text:
        return {}
    section = text.split(REASONS_START, 1)[1].split(REASONS_END, 1)[0]
    found = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0] or set(cells[0]) <= set("-: "):
            continue  # not a row, or the header's rule
        pattern = cells[0].strip("`")
        if pattern != "check id":
            found[pattern] = cells[1]
    return found


def speed_checks(rows: list[dict]) -> list[Check]:
    checks = []
    for r in rows:
        if not r["shared"]:
            continue
        where = "where" if r["where"] else "all"
        for what in ("fwd", "vg"):
            checks.append(
                Check(
                    what,
                    f"{what}/{r['case']}/{shape_id(r['shape'])}/{where}",
                    speed_label(r),
                    ratio(r[what].get("lossjax"), r[what].get("optax")),
                    1.0,
                )
            )
    return checks


def speed_label(r: dict) -> str:
    return f"{r['title']} {shape_label(r['shape'])}" + (" where" if r["where"] else "")


def compile_checks(rows: list[dict]) -> list[Check]:
    return [
        Check(
            f"compile-{what}",
            f"compile-{what}/{r['case']}",
            f"{r['title']} {shape_label(r['shape'])}",
            ratio(r[what]["lossjax"]["median"], r[what]["optax"]["median"]),
            1.2,
        )
        for r in rows
        for what in ("fwd", "vg")
    ]


def per_example_checks(rows: list[dict]) -> list[Check]:
    return [
        Check(
            "per-example",
            f"per-example/{r['model']}",
            f"{r['title']}, {r['examples']} examples",
            ratio(r["ms"]["lossjax"], r["ms"]["optax"]),
            1.0,
        )
        for r in rows
    ]


def lce_checks(rows: list[dict], platform: str) -> list[Check]:
    checks = []
    for r in rows:
        label = f"N={r['n']} D={r['d']} V={r['v']}"
        t = r["temp_bytes"]
        note = "" if r["memory_goal"] is not None else "no goal at this size"
        checks.append(
            Check(
                "lce-memory",
                f"lce-memory/{r['v']}",
                label,
                ratio(t["fused"]["vg"], t["naive"]["vg"]),
                r["memory_goal"],
                note,
            )
        )
        on_cpu = platform == "cpu"
        checks.append(
            Check(
                "lce-time",
                f"lce-time/{r['v']}",
                label,
                ratio(r["ms"]["fused"], r["ms"]["naive"]),
                1.1 if on_cpu else None,
                "" if on_cpu else f"the goal is for the CPU; reported on {platform}",
            )
        )
    return checks


@dataclasses.dataclass
class KernelVerdict:
    name: str
    active: bool  # the kernel's backends include the one measured
    min_speedup: float | None  # smallest reference/kernel of value+grad at ≥ 1M elements
    slowest: float | None  # largest kernel/reference of any timing of a different program
    slowest_at: str
    verdict: str  # keep, delete, or n/a (...)


def kernel_verdicts(kernels: dict) -> list[KernelVerdict]:
    verdicts = []
    for name, backends in kernels.get("registered", {}).items():
        rows = [r for r in kernels.get("rows", []) if r["kernel"] == name]
        active = kernels.get("backend") in backends
        big = [r for r in rows if r["shape"][0] * r["shape"][1] >= KERNEL_MIN_SIZE]
        speedups = [ratio(r["vg"]["reference"], r["vg"]["kernel"]) for r in big]
        speedups = [s for s in speedups if s is not None]
        slowest, slowest_at = None, ""
        for r in rows:
            for what in ("fwd", "vg"):
                if r["same_program"].get(what):
                    continue  # one program: not slower by construction
                v = ratio(r[what]["kernel"], r[what]["reference"])
                if v is not None and (slowest is None or v > slowest):
                    slowest, slowest_at = v, f"{what} {speed_label(r)}"
        min_speedup = min(speedups) if speedups else None
        if not active:
            verdict = f"n/a (not used on {kernels.get('backend')})"
        elif not rows:
            verdict = "n/a (not measured)"
        elif min_speedup is None:
            verdict = "n/a (no size ≥ 1M elements measured)"
        elif min_speedup >= KERNEL_SPEEDUP and (slowest is None or slowest <= 1.0):
            verdict = "keep"
        else:
            verdict = "delete"
        verdicts.append(KernelVerdict(name, active, min_speedup, slowest, slowest_at, verdict))
    return verdicts


def kernel_checks(kernels: dict) -> list[Check]:
    checks = []
    for v in kernel_verdicts(kernels):
        judged = v.verdict in ("keep", "delete")
        note = f"smallest speed-up {fmt_ratio(v.min_speedup)}"
        if v.slowest is not None:
            note += f", slowest {fmt_ratio(v.slowest)} ({v.slowest_at})"
        checks.append(
            Check(
                "kernel",
                f"kernel/{v.name}",
                f"{v.name}: {v.verdict}",
                v.min_speedup,
                None,
                note if judged else v.verdict,
                (v.verdict == "keep") if judged else None,
            )
        )
    return checks


def all_checks(results: dict) -> list[Check]:
    platform = results.get("platform", "cpu")
    speed = _speed_order(results.get("speed", []), results.get("case_order", []))
    checks = (
        speed_checks(speed)
        + compile_checks(results.get("compile", []))
        + per_example_checks(results.get("per_example", []))
        + lce_checks(results.get("linear_ce", []), platform)
        + kernel_checks(results.get("kernels", {}))
    )
    goals = list(GOAL_TEXT)
    return sorted(checks, key=lambda c: goals.index(c.goal))  # stable: rows keep their order


def goals_summary(checks: list[Check]) -> str:
    rows = []
    for goal, text in GOAL_TEXT.items():
        mine = [c for c in checks if c.goal == goal]
        judged = [c for c in mine if c.met is not None]
        if not mine:
            rows.append([text, "not measured", "—", "—"])
            continue
        if not judged:
            rows.append([text, "no goal here", "—", mine[0].note or "—"])
            continue
        met = sum(c.met for c in judged)
        if goal == "kernel":
            worst = ", ".join(c.item for c in judged)
        else:
            w = max(judged, key=lambda c: c.value / c.limit)
            worst = f"{fmt_ratio(w.value)} ({w.item})"
        status = "met" if met == len(judged) else "**not met**"
        rows.append([text, status, f"{met} of {len(judged)}", worst])
    return table(["goal", "status", "checks met", "worst (or verdicts)"], rows)


def misses_table(checks: list[Check], reasons: dict[str, str]) -> str:
    missed = [c for c in checks if c.met is False]
    if not missed:
        return "Every measured check meets its goal."
    rows = [
        [
            c.goal,
            f"`{c.check_id}`",
            c.item,
            c.note if c.goal == "kernel" else fmt_ratio(c.value),
            "keep rule" if c.goal == "kernel" else f"≤ {c.limit:.3g}×",
            c.reason(reasons),
        ]
        for c in missed
    ]
    return table(["goal", "check id", "row", "measured", "limit", "reason"], rows)


# -- section tables ---------------------------------------------------------------------------


def speed_table(rows: list[dict], what: str) -> str:
    torch_on = any("torch" in r[what] for r in rows)
    head = ["loss", "where", "rounds", "lossjax ms", "optax ms", "floor ms"]
    head += ["torch ms"] if torch_on else []
    head += ["lossjax/optax", "lossjax/floor", "optax/floor"]
    head += ["lossjax/torch"] if torch_on else []
    body = []
    for r in rows:
        t = r[what]
        lj, ox, fl, tc = (t.get(k) for k in ("lossjax", "optax", "floor", "torch"))
        label = f"{r['title']} {shape_label(r['shape'])}"
        if r["warnings"]:
            label += " ⚠"
        cells = [label, "yes" if r["where"] else "no", str(r["repeats"])]
        cells += [fmt_ms(lj), fmt_ms(ox), fmt_ms(fl)]
        cells += [fmt_ms(tc)] if torch_on else []
        cells += [fmt_ratio(ratio(lj, ox)), fmt_ratio(ratio(lj, fl)), fmt_ratio(ratio(ox, fl))]
        cells += [fmt_ratio(ratio(lj, tc))] if torch_on else []
        body.append(cells)
    return table(head, body)


def _speed_order(rows: list[dict], case_order: list[str]) -> list[dict]:
    def key(r):
        pos = case_order.index(r["case"]) if r["case"] in case_order else len(case_order)
        return (pos, r["shape"][0] * r["shape"][1], r["shape"], r["where"])

    return sorted(rows, key=key)


def compile_table(rows: list[dict]) -> str:
    head = ["loss", "rounds", "lossjax fwd ms", "optax fwd ms", "fwd ratio"]
    head += ["lossjax value+grad ms", "optax value+grad ms", "value+grad ratio"]
    head += ["first compile ratio (fwd, value+grad)"]
    body = []
    for r in rows:
        f, g = r["fwd"], r["vg"]
        cells = [f"{r['title']} {shape_label(r['shape'])}", str(r["repeats"])]
        cells += [fmt_ms(f["lossjax"]["median"]), fmt_ms(f["optax"]["median"])]
        cells += [fmt_ratio(ratio(f["lossjax"]["median"], f["optax"]["median"]))]
        cells += [fmt_ms(g["lossjax"]["median"]), fmt_ms(g["optax"]["median"])]
        cells += [fmt_ratio(ratio(g["lossjax"]["median"], g["optax"]["median"]))]
        first = [ratio(x["lossjax"]["first"], x["optax"]["first"]) for x in (f, g)]
        cells += [", ".join(fmt_ratio(v) for v in first)]
        body.append(cells)
    return table(head, body)


def per_example_table(rows: list[dict]) -> str:
    body = []
    for r in rows:
        lj, ox = r["ms"]["lossjax"], r["ms"]["optax"]
        label = r["title"] + (" ⚠" if r["warnings"] else "")
        body.append(
            [
                label,
                f"{r['examples']} × {r['features']}",
                str(r["repeats"]),
                fmt_ms(lj),
                fmt_ms(ox),
                fmt_ratio(ratio(lj, ox)),
            ]
        )
    return table(
        ["model", "examples × features", "rounds", "lossjax ms", "optax ms", "ratio"], body
    )


def lce_table(rows: list[dict]) -> str:
    head = ["N × D × V", "rounds", "naive temp MiB", "fused temp MiB", "memory ratio", "goal"]
    head += ["naive fwd temp MiB", "fused fwd temp MiB", "naive ms", "fused ms", "time ratio"]
    body = []
    for r in rows:
        t, ms = r["temp_bytes"], r["ms"]
        goal = "—" if r["memory_goal"] is None else f"≤ {r['memory_goal']:.3g}×"
        label = f"{r['n']} × {r['d']} × {r['v']}" + (" ⚠" if r["warnings"] else "")
        body.append(
            [
                label,
                str(r["repeats"]),
                fmt_mib(t["naive"]["vg"]),
                fmt_mib(t["fused"]["vg"]),
                f"{ratio(t['fused']['vg'], t['naive']['vg']):.3f}×",
                goal,
                fmt_mib(t["naive"]["fwd"]),
                fmt_mib(t["fused"]["fwd"]),
                fmt_ms(ms["naive"]),
                fmt_ms(ms["fused"]),
                fmt_ratio(ratio(ms["fused"], ms["naive"])),
            ]
        )
    return table(head, body)


def kernels_part(kernels: dict) -> str:
    registered = kernels.get("registered", {})
    if not registered:
        return (
            "No kernel is registered (`lossjax._kernels.registered()` is empty): nothing to time."
        )
    parts = []
    head = ["kernel", "loss", "where", "rounds", "fwd kernel ms", "fwd reference ms"]
    head += ["fwd reference/kernel", "value+grad kernel ms", "value+grad reference ms"]
    head += ["value+grad reference/kernel", "same program (fwd, value+grad)"]
    body = []
    for r in kernels.get("rows", []):
        f, g = r["fwd"], r["vg"]
        same = ", ".join("yes" if r["same_program"][w] else "no" for w in ("fwd", "vg"))
        label = f"{r['title']} {shape_label(r['shape'])}" + (" ⚠" if r["warnings"] else "")
        body.append(
            [
                f"`{r['kernel']}`",
                label,
                "yes" if r["where"] else "no",
                str(r["repeats"]),
                fmt_ms(f["kernel"]),
                fmt_ms(f["reference"]),
                fmt_ratio(ratio(f["reference"], f["kernel"])),
                fmt_ms(g["kernel"]),
                fmt_ms(g["reference"]),
                fmt_ratio(ratio(g["reference"], g["kernel"])),
                same,
            ]
        )
    if body:
        parts.append(table(head, body))
    verdicts = []
    for v in kernel_verdicts(kernels):
        verdicts.append(
            [
                f"`{v.name}`",
                ", ".join(registered[v.name]),
                fmt_ratio(v.min_speedup),
                f"{fmt_ratio(v.slowest)} ({v.slowest_at})" if v.slowest is not None else "—",
                f"**{v.verdict}**",
            ]
        )
    parts.append(
        table(
            [
                "kernel",
                "backends",
                "smallest value+grad speed-up at ≥ 1M elements",
                "slowest kernel/reference (different programs only)",
                "verdict",
            ],
            verdicts,
        )
    )
    if kernels.get("unmatched"):
        names = ", ".join(f"`{n}`" for n in kernels["unmatched"])
        parts.append(f"Registered kernels with no benchmark case (not timed): {names}.")
    return "\n\n".join(parts)


# -- the whole block --------------------------------------------------------------------------


def sizes_text(profile: dict) -> str:
    def sizes(entries):
        return ", ".join(f"{shape_label(s['shape'])} ({s['repeats']})" for s in entries)

    lce = ", ".join(f"V={s['v']} ({s['repeats']})" for s in profile["linear_ce"])
    return (
        f"- Elementwise losses (timed rounds): {sizes(profile['elementwise'])}.\n"
        f"- Multiclass losses: {sizes(profile['multiclass'])}.\n"
        f"- Compile time: elementwise at {shape_label(profile['compile_elementwise'])}, "
        f"multiclass at {shape_label(profile['compile_multiclass'])}, "
        f"{profile['compile_repeats']} compile(s) per library and round.\n"
        f"- Per-example gradients: {profile['per_example'][0]} examples × "
        f"{profile['per_example'][1]} features ({profile['per_example_repeats']}).\n"
        f"- linear_cross_entropy: N={profile['linear_ce'][0]['n'] if profile['linear_ce'] else '—'}, "
        f"D={profile['linear_ce'][0]['d'] if profile['linear_ce'] else '—'}, {lce}; "
        f"{profile['linear_ce_warmup']} warm-up call(s).\n"
        f"- Everything else: {profile['warmup']} warm-up call(s) after compiling; "
        f"{profile['inner']} back-to-back call(s) per timed sample."
    )


def render(results: dict, json_name: str, chart_name: str | None, reasons: dict[str, str]) -> str:
    platform = results.get("platform", "cpu")
    checks = all_checks(results)
    device = results.get("device_kind", platform)
    title = "# lossjax benchmark results" + ("" if platform == "cpu" else f" on {device}")
    case_order = results.get("case_order", [])
    speed = _speed_order(results.get("speed", []), case_order)
    warnings = [
        f"- {label}: {w}"
        for section, rows in (
            ("speed", speed),
            ("per_example", results.get("per_example", [])),
            ("linear_ce", results.get("linear_ce", [])),
            ("kernels", results.get("kernels", {}).get("rows", [])),
        )
        for r in rows
        for label in [_row_label(section, r)]
        for w in r["warnings"]
    ] + [f"- {w}" for w in results.get("errors", [])]
    parts = [
        title,
        "",
        f"Measured by `{results['command']}` (profile `{results['profile']['name']}`, "
        f"{results.get('elapsed_s', 0) / 60:.1f} min); written from `{json_name}` by "
        f"`python benchmarks/run.py report`. Times are medians of interleaved rounds "
        "(the libraries take turns, in an order that rotates each round), float32, "
        "mean reduction. No timing is asserted anywhere.",
        "",
        "## Machine",
        "",
        "\n".join(f"- {k}: {v}" for k, v in results["machine"].items()),
        "",
        "## Sizes and rounds",
        "",
        sizes_text(results["profile"]),
        "",
        "## Goals",
        "",
        goals_summary(checks),
        "",
        "### Misses",
        "",
        misses_table(checks, reasons),
        "",
        "## 1. Speed against optax",
        "",
        "`jax.jit` of the loss (forward) and of `jax.value_and_grad` with respect to the "
        "predictions / logits. With *where*, lossjax gets `where=mask` (10% of the elements, "
        "or rows, masked out) and optax, which has no such argument, "
        "`jnp.sum(jnp.where(mask, loss, 0)) / jnp.maximum(jnp.sum(mask), 1)` over its "
        "per-element losses. *floor*: jitted `a - b` (elementwise: reads 2 arrays, writes 1) "
        "or `x * 2.0` (multiclass: reads and writes the logits), the cost of touching the "
        "data once; absolute error and categorical focal loss, which optax lacks, compare "
        "with it only. ⚠: the values disagree (see Warnings).",
        "",
        "### Value and gradient",
        "",
        speed_table(speed, "vg") if speed else "Not measured.",
        "",
        "### Forward",
        "",
        speed_table(speed, "fwd") if speed else "Not measured.",
        "",
        "## 2. Compile time",
        "",
        "Wall time of `jax.jit(f).lower(*args).compile()` of a fresh function (traced and "
        "compiled anew each time), lossjax and optax taking turns; median of the rounds, and the "
        "ratio of the first compiles apart.",
        "",
        compile_table(results["compile"]) if results.get("compile") else "Not measured.",
        "",
        "## 3. Per-example gradients",
        "",
        "`jax.jit(jax.vmap(jax.grad(loss_of_params), in_axes=(None, 0, 0)))` over a linear "
        "layer; each example's loss is the library's loss of one example's outputs.",
        "",
        per_example_table(results["per_example"])
        if results.get("per_example")
        else "Not measured.",
        "",
        "## 4. linear_cross_entropy",
        "",
        "`lossjax.linear_cross_entropy(hidden, weight, labels)` (default block size "
        f"{_lce_block(results)}) against the naive `sparse_categorical_cross_entropy(hidden @ "
        "weight, labels)`. Temporaries: `memory_analysis().temp_size_in_bytes` of the "
        "compiled value+grad (and forward); time: value+grad with respect to `hidden` and "
        "`weight`.",
        "",
        lce_table(results["linear_ce"]) if results.get("linear_ce") else "Not measured.",
        "",
        "## 5. Kernels",
        "",
        "Each registered kernel against its reference formula: the same loss traced and "
        "compiled in `lossjax.kernels('auto')` and in `lossjax.kernels('reference')`. "
        f"Rule: keep a kernel only if it is at least {KERNEL_SPEEDUP}× faster than the "
        "reference for value+grad at every size of at least 1M elements and never slower "
        "(kernel/reference ≤ 1.0) at any size, forward or value+grad, with or without a "
        "mask; where both modes compile to the same program, that timing is not counted.",
        "",
        kernels_part(results["kernels"]) if "kernels" in results else "Not measured.",
        "",
    ]
    if chart_name:
        parts += [f"![value+grad time of lossjax relative to optax]({chart_name})", ""]
    if warnings:
        parts += ["## Warnings", "", *warnings, ""]
    return "\n".join(parts)


def _row_label(section: str, r: dict) -> str:
    if section == "speed":
        return speed_label(r)
    if section == "per_example":
        return r["title"]
    if section == "linear_ce":
        return f"linear_cross_entropy V={r['v']}"
    return f"kernel {r['kernel']} {speed_label(r)}"


def _lce_block(results: dict) -> str:
    rows = results.get("linear_ce") or [{}]
    return str(rows[0].get("block_size", "?"))


def markers(platform: str) -> tuple[str, str]:
    if platform == "cpu":
        return "<!-- run.py:start -->", "<!-- run.py:end -->"
    return f"<!-- run.py:{platform}:start -->", f"<!-- run.py:{platform}:end -->"


def write_between_markers(path: Path, body: str, platform: str) -> None:
    """Replaces this platform's block of ``path``, keeping everything around it; a file
    without the block gets it appended."""
    start, end = markers(platform)
    block = f"{start}\n{body}\n{end}"
    if not path.exists():
        path.write_text(block + "\n")
        return
    text = path.read_text()
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        path.write_text(before + block + after)
    else:
        path.write_text(text.rstrip("\n") + "\n\n" + block + "\n")


def write_chart(results: dict, path: Path) -> bool:
    """Value+grad time of lossjax over optax's, per shared loss and size; False without
    matplotlib or data."""
    rows = [r for r in results.get("speed", []) if r["shared"]]
    if not rows:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib not installed: no chart")
        return False
    order = [c for c in results.get("case_order", []) if any(r["case"] == c for r in rows)]
    titles = {r["case"]: r["title"] for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(max(9.0, 1.3 * len(order) + 3), 5.5), sharey=True)
    for ax, masked in zip(axes, (False, True), strict=True):
        mine = [r for r in rows if r["where"] == masked]
        shapes_by_case = {
            c: sorted({tuple(r["shape"]) for r in mine if r["case"] == c}) for c in order
        }
        width = 0.8 / max((len(s) for s in shapes_by_case.values()), default=1)
        for i, case in enumerate(order):
            for j, shape in enumerate(shapes_by_case[case]):
                (r,) = [r for r in mine if r["case"] == case and tuple(r["shape"]) == shape]
                value = ratio(r["vg"].get("lossjax"), r["vg"].get("optax"))
                if value is None:
                    continue
                color = ("#9ecae1", "#4292c6", "#08519c")[min(j, 2)]
                x = i - 0.4 + width * (j + 0.5)
                ax.bar(x, value, width, color=color)
                ax.text(x, value, f"{value:.2f}", ha="center", va="bottom", fontsize=6)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1.0)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels([titles[c] for c in order], rotation=35, ha="right", fontsize=8)
        ax.set_title("with where= mask" if masked else "no mask")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("lossjax / optax, value+grad time (log scale; goal ≤ 1, dashed)")
    for j, name in enumerate(("smallest size", "middle size", "largest size")):
        axes[1].bar([0], [0], 0, color=("#9ecae1", "#4292c6", "#08519c")[j], label=name)
    axes[1].legend(fontsize=8)
    device = results["machine"].get("JAX device", "")
    if device.startswith("cpu"):
        device = results["machine"].get("Processor", device)
    fig.suptitle(f"value_and_grad time, lossjax relative to optax ({device})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(results: dict, json_path: Path, results_path: Path, chart: bool = True) -> str:
    """Writes this platform's block of ``results_path`` (and its chart); returns the block."""
    platform = results.get("platform", "cpu")
    suffix = "" if platform == "cpu" else f"-{platform}"
    chart_path = results_path.with_name(results_path.stem + suffix + ".png")
    chart_name = chart_path.name if chart and write_chart(results, chart_path) else None
    try:
        json_name = str(json_path.resolve().relative_to(results_path.resolve().parent))
    except ValueError:
        json_name = json_path.name
    body = render(results, json_name, chart_name, all_reasons(results_path))
    results_path.parent.mkdir(parents=True, exist_ok=True)
    write_between_markers(results_path, body, platform)
    return body


def all_reasons(results_path: Path) -> dict[str, str]:
    """REASONS, overridden by the hand-written reasons table of the results file."""
    text = results_path.read_text() if results_path.exists() else ""
    return {**REASONS, **reasons_in(text)}


def summary(results: dict, results_path: Path) -> str:
    """The goals and the misses, for the terminal."""
    checks = all_checks(results)
    text = goals_summary(checks) + "\n\n" + misses_table(checks, all_reasons(results_path))
    kernels = results.get("kernels")
    if kernels is not None:
        text += "\n\nKernels:\n" + kernels_part(kernels)
    return text
