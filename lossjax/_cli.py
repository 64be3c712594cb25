"""``python -m lossjax``: list, info, suggest and compare, from the shell.

Argument parsing, validation and printing only: the registry answers ``list``,
``info`` and ``suggest`` (:func:`lossjax.available`, :func:`lossjax.info`,
:func:`lossjax.suggest`), and :mod:`lossjax.compare` runs the experiments. Every
argument is checked before any work starts; an error is one line and exit code 2,
under the usage line of its own subcommand. Tables and the progress bar come from
``rich`` when it is installed (``pip install "lossjax[cli]"``), plain text otherwise.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import textwrap
import unicodedata
from collections.abc import Sequence
from typing import Any

# -- plain text from reST docstrings -------------------------------------------------------

_SYMBOLS = {
    **dict(
        zip(
            "alpha beta gamma delta zeta theta lambda mu pi sigma tau".split(),
            "αβγδζθλμπστ",
            strict=True,
        )
    ),
    "epsilon": "ε",
    "ell": "ℓ",
    "varepsilon": "ε",
    "Delta": "Δ",
    "le": "≤",
    "ge": "≥",
    "ne": "≠",
    "in": "∈",
    "to": "→",
    "infty": "∞",
    "cdot": "·",
    "pm": "±",
    "approx": "≈",
    "partial": "∂",
    "sum": "Σ",
    "top": "ᵀ",
    "langle": "⟨",
    "rangle": "⟩",
    "lVert": "‖",
    "lvert": "|",
    "rvert": "|",
    "rVert": "‖",
    "quad": "  ",
    "qquad": "\n",
}
_DROP = {"left", "right", "big", "Big", "bigl", "bigr", "displaystyle"}
_FONTS = {"mathrm", "operatorname", "text", "texttt", "mathbf", "mathit", "boldsymbol"}
_ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303"}
_FRACTIONS = {("1", "2"): "½", ("1", "4"): "¼", ("3", "4"): "¾"}
_SUPER = dict(zip("0123456789+-()nipkT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿⁱᵖᵏᵀ", strict=True)) | {"γ": "ᵞ"}
_SUB = dict(zip("0123456789+-()aeijkmnpstx", "₀₁₂₃₄₅₆₇₈₉₊₋₍₎ₐₑᵢⱼₖₘₙₚₛₜₓ", strict=True))
_GROUP = r"\{([^{}]*)\}"  # a brace group without nested braces: innermost first


def _script(text: str, table: dict[str, str], mark: str) -> str:
    text = text.strip()
    if text and all(c in table for c in text):
        return "".join(table[c] for c in text)
    mark = "\x07" if mark == "^" else "\x08"  # restored at the end, out of later rules' way
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"


def _wrap(text: str) -> str:
    text = text.strip()
    return text if re.fullmatch(r"[^\s+\-−/=,]+", text) else f"({text})"


def _frac(num: str, den: str) -> str:
    pair = (num.strip(), den.strip())
    return _FRACTIONS[pair] if pair in _FRACTIONS else f"{_wrap(num)}/{_wrap(den)}"


def latex_to_text(tex: str) -> str:
    """A LaTeX formula as plain Unicode text: ``\\tfrac12 e^2 \\le \\delta`` -> ``½e² ≤ δ``.

    Covers what lossjax's docstrings use (Greek letters, relations, fractions,
    roots, scripts, accents, font commands, ``cases``); anything else keeps its name.
    """
    s = tex.replace("\\\\", "\x03")  # a row break of `cases`
    s = s.replace(r"\{", "\x01").replace(r"\}", "\x02").replace(r"\|", "‖").replace(r"\_", "\x06")
    s = re.sub(r"(\\t?frac)\s+", r"\1", s)
    s = re.sub(r"\\[,;:! ]", " ", s)
    s = re.sub(r"\\begin\{cases\}", "\x04", s)
    s = re.sub(r"\\end\{cases\}", "\x05", s)

    def command(m: re.Match) -> str:
        name, after = m.group(1), m.string[m.end() : m.end() + 1]
        if name in _DROP or name in _FONTS or name in _ACCENTS or "frac" in name:
            return "" if name in _DROP else m.group(0)  # the others take arguments: below
        if name in _SYMBOLS:
            return _SYMBOLS[name]
        before = m.string[m.start() - 1 : m.start()] if m.start() else ""
        name = " " + name if before.isalnum() else name  # x\log -> x log
        return name + " " if (after.isalnum() or after == "\\") else name  # \log\lambda

    s = re.sub(r"\\([A-Za-z]+)(?![A-Za-z])(?!\s*\{)", command, s)
    s = re.sub(r"\\(hat|bar|tilde)\s+(\\?\w)", lambda m: m.group(2) + _ACCENTS[m.group(1)], s)
    s = re.sub(r"\\t?frac\s*(\w)\s*(\w)", lambda m: _frac(m.group(1), m.group(2)), s)
    for _ in range(20):  # innermost brace groups first, until none is left
        before = s
        s = re.sub(r"\\t?frac\s*" + _GROUP + r"\s*" + _GROUP, lambda m: _frac(*m.groups()), s)
        s = re.sub(r"\\t?frac\s*" + _GROUP + r"\s*(\w)", lambda m: _frac(*m.groups()), s)
        s = re.sub(r"\\sqrt\s*" + _GROUP, lambda m: "√" + _wrap(m.group(1)), s)
        s = re.sub(r"\\(" + "|".join([*_FONTS, *_ACCENTS]) + r")\s*" + _GROUP, _font_or_accent, s)
        s = re.sub(r"\^\s*" + _GROUP, lambda m: _script(m.group(1), _SUPER, "^"), s)
        s = re.sub(r"_\s*" + _GROUP, lambda m: _script(m.group(1), _SUB, "_"), s)
        if s == before:  # only then bare groups, never a fraction's argument
            s = re.sub(r"(?<!frac)(?<!\})" + _GROUP, r"\1", s)
        if s == before:
            break
    s = re.sub(r"\^\s*(\\?\w|[^\s\\])", lambda m: _script(m.group(1), _SUPER, "^"), s)
    s = re.sub(r"_\s*(\w)", lambda m: _script(m.group(1), _SUB, "_"), s)
    s = re.sub(r"\\([A-Za-z]+)", lambda m: _SYMBOLS.get(m.group(1), m.group(1)), s)
    for code, char in zip("\x01\x02\x06\x07\x08", "{}_^_", strict=True):
        s = s.replace(code, char)
    s = re.sub(r" *\n *", "\n", re.sub(r"[ \t]+", " ", s))
    # Rows of an aligned block outside `cases`: one line each, alignment marks dropped.
    s = re.sub(r" *\x03 *", "\n", _cases(s)).replace(" & ", " ").replace("&", "")
    return unicodedata.normalize("NFC", s)  # y + combining hat -> ŷ


def _font_or_accent(m: re.Match) -> str:
    name, body = m.groups()
    return body + _ACCENTS[name] if name in _ACCENTS else body


def _cases(s: str) -> str:
    """``cases`` (marked by \\x04 rows \\x03 ... \\x05) as aligned lines: ``value   if condition``."""
    while "\x04" in s:
        head, rest = s.split("\x04", 1)
        body, tail = rest.split("\x05", 1) if "\x05" in rest else (rest, "")
        indent = " " * len(head.rsplit("\n", 1)[-1])
        rows = [[*r.split("&", 1), ""] for r in body.split("\x03") if r.strip()]
        width = max(len(_squash(r[0])) for r in rows)
        lines = []
        for value, condition, *_ in rows:
            condition = _squash(condition)
            if condition and not condition.startswith(("otherwise", "if ")):
                condition = f"if {condition}"
            lines.append(f"{_squash(value).ljust(width)}   {condition}".rstrip())
        s = head + ("\n" + indent).join(lines) + _squash(tail)
    return s


def _squash(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


def plain_doc(doc: str) -> str:
    """A docstring as plain text: reST roles and ``.. math::`` blocks rendered readable."""
    lines = textwrap.dedent("\n".join(doc.strip("\n").splitlines()[1:])).strip("\n").splitlines()
    out, text, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != ".. math::":
            text.append(line)
            i += 1
            continue
        indent = _indent(line)
        block, i = [], i + 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
            block.append(lines[i].strip())
            i += 1
        formula = latex_to_text(" ".join(b for b in block if b)).strip(" ")
        out += [_inline("\n".join(text)), ""]
        out += [" " * (indent + 4) + f.rstrip() for f in formula.split("\n")] + [""]
        text = []
    out.append(_inline("\n".join(text)))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _inline(line: str) -> str:
    """Roles (also across line breaks) and literals of a run of text."""
    line = re.sub(r":math:`([^`]*)`", lambda m: latex_to_text(m.group(1)), line)
    line = re.sub(r":\w+:`~?([^`]*)`", r"\1", line)
    return re.sub(r"``([^`]*)``", r"\1", line)


# -- output: rich when installed, plain text otherwise ----------------------------------------


def _rich():
    """The ``rich`` module, or None (then plain text). A function, so tests can block it."""
    try:
        import rich.console
        import rich.progress
        import rich.table
    except ImportError:
        return None
    return rich


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "") -> None:
    """A table on stdout: the first column left-aligned, the others right-aligned."""
    rich = _rich()
    if rich is not None:
        table = rich.table.Table(title=title or None, title_justify="left", box=rich.box.SIMPLE)
        for i, h in enumerate(headers):
            table.add_column(h, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for row in rows:
            table.add_row(*row)
        _console().print(table)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(
        "\n".join(
            [
                *([title] if title else []),
                line(headers),
                line(["-" * w for w in widths]),
                *map(line, rows),
            ]
        )
    )


def _console(stderr: bool = False):
    import rich.console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160  # a pipe or a file: do not wrap at 80
    return rich.console.Console(file=stream, width=width, highlight=False, soft_wrap=False)


class _Progress:
    """Training progress on stderr: a rich bar, or one plain line per trained loss."""

    def __init__(self):
        self.rich, self.bar = _rich(), None

    def __enter__(self):
        if self.rich is not None:
            columns = self.rich.progress
            self.bar = columns.Progress(
                columns.TextColumn("{task.description}"),
                columns.BarColumn(),
                columns.MofNCompleteColumn(),
                columns.TimeElapsedColumn(),
                console=_console(stderr=True),
                transient=True,
            )
            self.bar.__enter__()
            self.id = self.bar.add_task("compiling", total=None)
        return self

    def __call__(self, event) -> None:
        if event.seconds is not None:  # a loss is done
            message = f"  {event.task:10s} {event.label:50s} {event.seconds:5.1f}s"
            (self.bar.console.print if self.bar else lambda m: print(m, file=sys.stderr))(message)
        if self.bar is not None:
            self.bar.update(
                self.id, completed=event.done, total=event.total, description=event.task
            )

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


# -- argument parsing ------------------------------------------------------------------------


def _number(kind, low=None, high=None, *, low_open=False, high_open=False):
    """An argparse type: a number of ``kind`` within the bounds (open or closed)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not {'an integer' if kind is int else 'a number'}: {text!r}"
            ) from None
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if below or above or value != value:
            if high is None:
                raise argparse.ArgumentTypeError(
                    f"must be {'>' if low_open else '>='} {low}, got {text}"
                )
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"must be in {lo}{low}, {high}{hi}, got {text}")
        return value

    return parse


def _tasks() -> list[str]:
    import lossjax

    entries = [lossjax.info(n) for n in lossjax.available()]
    return list(dict.fromkeys(t for e in entries for t in (e.task, *e.also_for)))


EXAMPLES = {
    "compare": """\
        python -m lossjax compare                      # all three tasks, about a minute
        python -m lossjax compare --quick              # a smoke run: seconds, not evidence
        python -m lossjax compare --task regression --outliers 0.2
        python -m lossjax compare --task binary --imbalance 0.02 --plot binary.png""",
    "suggest": """\
        python -m lossjax suggest regression --outliers
        python -m lossjax suggest binary --imbalanced 0.05 --calibrated
        python -m lossjax suggest regression --intervals""",
    "list": """\
        python -m lossjax list
        python -m lossjax list --task multiclass""",
    "info": """\
        python -m lossjax info huber_loss
        python -m lossjax info focal_loss""",
}


def build_parser() -> argparse.ArgumentParser:
    import lossjax

    parser = argparse.ArgumentParser(
        prog="python -m lossjax",
        description="lossjax: choose a loss with evidence. List the losses, read one's "
        "documentation, get ranked recommendations, or compare losses on synthetic data.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n" + "\n".join(textwrap.dedent(e) for e in EXAMPLES.values()),
    )
    parser.add_argument("--version", action="version", version=f"lossjax {lossjax.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    tasks = _tasks()

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog="examples:\n" + textwrap.dedent(EXAMPLES[name]),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(parser=sub)
        return sub

    listing = command(
        "list",
        "every loss with its task, input and properties",
        "List the registered losses: task, input kind, properties (robust to outliers, "
        "calibrated probabilities, margin-based, handles imbalance, large vocabulary), "
        "aliases and hyperparameters with their defaults and valid ranges.",
    )
    listing.add_argument("--task", choices=tasks, help="only the losses of this task")
    listing.set_defaults(func=_cmd_list)

    describe = command(
        "info",
        "one loss: metadata and documentation",
        "Show one loss's metadata, hyperparameters and documentation (formulas as plain text).",
    )
    describe.add_argument("name", help="a loss name such as huber_loss (aliases work too)")
    describe.set_defaults(func=_cmd_info)

    suggest = command(
        "suggest",
        "ranked loss recommendations for a problem",
        "Rank the registered losses of a task, best first, with a reason each. "
        "Flags describe the problem; a flag that does not apply to the task is an error.",
    )
    suggest.add_argument("task", choices=tasks)
    suggest.add_argument(
        "--outliers",
        nargs="?",
        const=True,
        default=False,
        type=_number(float, 0.0, 1.0, high_open=True),
        metavar="FRACTION",
        help="the targets contain gross errors (an optional fraction is accepted)",
    )
    suggest.add_argument(
        "--imbalanced",
        "--imbalance",
        nargs="?",
        const=True,
        default=False,
        type=_number(float, 0.0, 1.0, low_open=True, high_open=True),
        metavar="RATE",
        help="a class is rare; an optional positive rate sets a suggested pos_weight",
    )
    for flag, text in [
        ("--calibrated", "predicted probabilities must be calibrated"),
        ("--large-vocab", "very many classes (a language model)"),
        ("--count-data", "regression: the targets are counts (Poisson)"),
        ("--heteroscedastic", "regression: the noise level varies; the model predicts a variance"),
        ("--intervals", "regression: quantiles or prediction intervals are wanted"),
        ("--skewed-positive", "regression: positive, right-skewed targets such as prices"),
        ("--margin", "binary, multiclass: a max-margin classifier; contradicts --calibrated"),
    ]:
        suggest.add_argument(flag, action="store_true", help=text)
    suggest.set_defaults(func=_cmd_suggest)

    compare = command(
        "compare",
        "train a small model with each loss on synthetic data and compare test metrics",
        "Train the same small model with each applicable loss on synthetic data made for the "
        "question and print the test metrics (mean ± std over seeds; * marks the best and "
        "every loss indistinguishable from it, so a tie is shown as a tie), the time per "
        "training step (median of repeated timed chunks after a warm-up; not with --quick), "
        "and save bar charts as a PNG (needs matplotlib).",
    )
    compare.add_argument("--task", choices=(*_compare_tasks(), "all"), default="all")
    compare.add_argument(
        "--outliers",
        type=_number(float, 0.0, 0.5, high_open=True),
        default=0.1,
        metavar="FRACTION",
        help="regression: fraction of gross outliers among the training targets, in [0, 0.5) "
        "(default: 0.1)",
    )
    compare.add_argument(
        "--imbalance",
        type=_number(float, 0.0, 0.5, low_open=True),
        default=0.05,
        metavar="RATE",
        help="binary: the positive rate, in (0, 0.5] (default: 0.05)",
    )
    compare.add_argument(
        "--steps",
        type=_number(int, 1, 10**7),
        help="training steps per loss (default: 400 regression and binary, 500 multiclass; "
        "60 with --quick)",
    )
    compare.add_argument(
        "--seeds",
        type=_number(int, 1, 1000),
        help="independent repetitions, trained together by jax.vmap (default: 3; 1 with --quick)",
    )
    compare.add_argument(
        "--seed", type=_number(int, 0), default=0, help="base random seed, >= 0 (default: 0)"
    )
    compare.add_argument(
        "--plot",
        metavar="PATH",
        help="where to save the charts (default: lossjax_compare.png, none with --quick; "
        "needs matplotlib)",
    )
    compare.add_argument("--no-plot", action="store_true", help="do not save a chart")
    compare.add_argument(
        "--quick",
        action="store_true",
        help="small data, few steps, 1 seed, no step times: a smoke run in seconds, not evidence",
    )
    compare.set_defaults(func=_cmd_compare)
    return parser


def _compare_tasks() -> tuple[str, ...]:
    from lossjax import compare

    return compare.TASKS


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported under the subcommand's usage, not the top-level one
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m lossjax list | head`
        sys.stderr.close()
        return 0


# -- the subcommands ---------------------------------------------------------------------------


def _properties(entry: Any) -> str:
    props = [
        ("robust", entry.robust_to_outliers),
        ("calibrated", entry.calibrated_probabilities),
        ("margin", entry.margin_based),
        ("imbalance", entry.handles_imbalance),
        ("large-vocab", entry.large_vocab),
    ]
    return ", ".join(p for p, on in props if on) or "-"


def _hyperparameters(entry: Any) -> str:
    return "; ".join(f"{h.name}={h.default!r} ({h.valid})" for h in entry.hyperparameters) or "-"


def _cmd_list(args: argparse.Namespace) -> int:
    import lossjax

    entries = [lossjax.info(n) for n in lossjax.available(args.task)]
    rows = [(e.name, e.task, e.input_kind, _properties(e), _hyperparameters(e)) for e in entries]
    print_table(("loss", "task", "input", "properties", "hyperparameters (default, valid)"), rows)
    print(
        f"{len(entries)} losses. `python -m lossjax info NAME` for one; "
        "lossjax.get(NAME, **hyperparameters) in code."
    )
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import lossjax

    try:
        entry = lossjax.info(args.name)
    except (KeyError, ValueError) as e:
        args.parser.error(str(e).strip("'\"").removeprefix("lossjax: "))
    print(f"lossjax.{entry.name}: {entry.summary}")
    print(f"  task: {entry.task}; input: {entry.input_kind}; properties: {_properties(entry)}")
    if entry.aliases:
        print(f"  aliases: {', '.join(entry.aliases)}")
    for h in entry.hyperparameters:
        print(f"  {h.name} = {h.default!r}  (valid: {h.valid})  {h.description}")
    doc = entry.function.__doc__ or ""
    if doc.strip():
        print("\n" + textwrap.indent(plain_doc(doc), "  "))
    return 0


def _suggest_flags() -> list[str]:
    """The problem flags of :func:`lossjax.suggest` (its keyword-only arguments)."""
    import lossjax

    return list(inspect.signature(lossjax.suggest).parameters)[1:]


def _cmd_suggest(args: argparse.Namespace) -> int:
    import lossjax

    flags = {k: getattr(args, k) for k in _suggest_flags()}
    flags["outliers"] = flags["outliers"] is True or bool(flags["outliers"])
    try:
        suggestions = lossjax.suggest(args.task, **flags)
    except ValueError as e:
        args.parser.error(str(e).removeprefix("lossjax: "))
    on = [key.replace("_", " ") for key, value in flags.items() if value is not False]
    print(f"Recommended losses for {args.task}" + (f" ({', '.join(on)})" if on else "") + ":")
    for rank, s in enumerate(suggestions, 1):
        bound = [f"{k}={v!r}" for k, v in s.hyperparameters.items()]
        bound += [f"{k}=..." for k in s.requires]
        print(f'{rank:2d}. lossjax.get("{s.name}"' + "".join(f", {b}" for b in bound) + ")")
        for line in textwrap.wrap(s.reason, 88):
            print(f"      {line}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from lossjax import compare

    tasks = compare.TASKS if args.task == "all" else (args.task,)
    options = dict(steps=args.steps, seeds=args.seeds, seed=args.seed, quick=args.quick)
    options.update(outliers=args.outliers, imbalance=args.imbalance)
    path = None if args.no_plot else args.plot or (None if args.quick else "lossjax_compare.png")
    plot = path is not None and compare.matplotlib_available()
    try:  # every check before any work
        compare.plan(tasks, **options)
        if plot and path is not None:
            compare.check_plot_path(path)
    except (TypeError, ValueError) as e:
        args.parser.error(str(e).removeprefix("lossjax: "))
    with _Progress() as progress:
        result = compare.run(tasks, progress=progress, **options)
    _print_result(result)
    if path is not None:
        if plot:  # checked above
            compare.save_plot(result, path)
            print(f"plot saved to {path}")
        else:
            print("matplotlib is not installed: no plot (pip install matplotlib)")
    return 0


def _print_result(result) -> None:
    seeds = result.seeds
    for tr in result.tasks:
        marked = {m.key: set(tr.best(m)) for m in tr.task.metrics}
        headers = ["loss", *(m.header for m in tr.task.metrics)]
        headers += ["ms/step"] if tr.step_ms is not None else []
        rows = []
        for label in tr.labels:
            row = [label]
            for m in tr.task.metrics:
                cell = m.fmt.format(tr.mean(label, m.key))
                cell += f"±{m.fmt.format(tr.std(label, m.key))}" if seeds > 1 else ""
                row.append(cell + ("*" if label in marked[m.key] else " "))
            if tr.step_ms is not None:
                ms = sorted(tr.step_ms[label])
                row.append(f"{ms[len(ms) // 2]:.3f}")
            rows.append(row)
        spread = f"mean±std over {seeds} seeds (paired: shared data)" if seeds > 1 else "1 seed"
        print(f"\n== {tr.task.name}: {tr.task.title}")
        print(
            f"   {tr.steps} full-batch Adam steps; {spread}; * best, or indistinguishable "
            "from the best (within tolerance or a paired t-test at 5%)"
        )
        if tr.step_ms is not None:
            n = len(next(iter(tr.step_ms.values())))
            print(
                f"   ms/step: median of {n} timed chunks after a warm-up chunk, all seeds at once"
            )
        print_table(headers, rows)
        for line in tr.verdict():
            print(f"-> {line}")
    n = sum(len(t.labels) for t in result.tasks)
    print(f"\n{n} losses trained in {result.seconds:.1f}s.")
    if result.quick:
        print(
            "--quick is a smoke run (small data, few steps, 1 seed): it shows that the "
            "comparison runs, not which loss is better; step times are not measured."
        )
