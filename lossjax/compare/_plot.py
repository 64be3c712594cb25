"""Bar charts of a :class:`Result` (matplotlib, optional)."""

from __future__ import annotations

import os
import tempfile

from lossjax.compare._run import Result

COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3")


def check_plot_path(path: str) -> None:
    """Raises ``ValueError`` unless a PNG can be written at ``path`` (folders are created).

    Called before any training, so that a bad path costs nothing: a probe file is
    created (and removed) in the nearest existing folder, which also catches read-only
    file systems and the permissions ``os.access`` cannot see.
    """
    target = os.path.abspath(path)
    if os.path.isdir(target):
        raise ValueError(f"plot path {path!r} is a directory")
    folder = os.path.dirname(target)
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write the plot {path!r}: {folder!r} is not a directory")
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise ValueError(f"cannot write the plot {path!r}: the file is read-only")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f"cannot write the plot {path!r}: {e.strerror} ({folder})") from None


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def save_plot(result: Result, path: str) -> None:
    """One row of bar charts per task (error bars: std over seeds), and the step times
    when they were measured. A ``--quick`` chart says in its title that it is a smoke run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = max(len(t.task.plots) + (t.step_ms is not None) for t in result.tasks)
    fig, axes = plt.subplots(
        len(result.tasks), panels, figsize=(4.8 * panels, 4.4 * len(result.tasks)), squeeze=False
    )
    for row, tr in zip(axes, result.tasks, strict=True):
        labels, metrics = tr.labels, {m.key: m for m in tr.task.metrics}
        names = [label.replace("(", "\n(") for label in labels]
        used = 0
        for ax, keys in zip(row, tr.task.plots, strict=False):
            width = 0.8 / len(keys)
            for j, key in enumerate(keys):
                ax.bar(
                    [i + (j - (len(keys) - 1) / 2) * width for i in range(len(labels))],
                    [tr.mean(c, key) for c in labels],
                    width,
                    yerr=[tr.std(c, key) for c in labels] if result.seeds > 1 else None,
                    capsize=3,
                    label=metrics[key].header,
                    color=COLOURS[j % len(COLOURS)],
                )
            lower = "" if metrics[keys[0]].higher_is_better else " (lower is better)"
            ax.set_title(f"{tr.task.name}: {' / '.join(metrics[k].header for k in keys)}{lower}")
            if len(keys) > 1:
                ax.legend(fontsize=8)
            used += 1
        if tr.step_ms is not None:
            ax = row[used]
            medians = [float(sorted(tr.step_ms[c])[len(tr.step_ms[c]) // 2]) for c in labels]
            ax.bar(range(len(labels)), medians, 0.6, color="#937860")
            ax.set_title(f"{tr.task.name}: ms per step (median of timed chunks)")
            used += 1
        for ax in row[:used]:
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
            ax.grid(axis="y", alpha=0.3)
        for ax in row[used:]:
            ax.set_visible(False)
    spread = f"mean ± std over {result.seeds} seeds" if result.seeds > 1 else "1 seed"
    caveat = "\n--quick smoke run: few steps, small data, 1 seed; not evidence" * result.quick
    fig.suptitle(f"python -m lossjax compare: test metrics per loss ({spread}){caveat}")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
