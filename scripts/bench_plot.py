#!/usr/bin/env python3
"""Draws scripts/bench's plot: wall time and peak RSS against lines, on the generated backends.

    bench_plot.py RUN.json OUT.png      (RUN.json: the data scripts/bench wrote, .bench/last-run.json)

Run with the bench venv's Python (it has matplotlib); scripts/bench calls it.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display
import matplotlib.pyplot as plt  # noqa: E402

SERIES = [  # (row kind, tool, label, style)
    ("scoped", "strata", "strata check (all recipes)", "o-"),
    ("scoped", "ast-grep", "ast-grep (two rules)", "s--"),
    ("scoped", "Semgrep", "Semgrep (two rules)", "^--"),
    ("dryrun", "strata", "strata fix --dry-run", "D-"),
]


def main() -> int:
    run, out = json.load(open(sys.argv[1])), sys.argv[2]
    fig, (wall_ax, rss_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, tool, label, style in SERIES:
        points = []
        for row in run["rows"]:
            if row["kind"] != kind or row["size"] is None:
                continue
            task = next((t for t in row["tasks"] if t["tool"] == tool), None)
            if task:
                points.append((row["lines"], task["wall"], task["rss"] / 1024, task["timed_out"]))
        if not points:
            continue
        points.sort()
        (line,) = wall_ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
        # A killed run has a lower bound of its time and no peak RSS.
        rss_ax.plot([p[0] for p in points if not p[3]], [p[2] for p in points if not p[3]], style, label=label)
        for lines, wall, _, timed_out in points:
            if timed_out:
                wall_ax.plot([lines], [wall], "^", color=line.get_color(), markersize=11, fillstyle="none")
                wall_ax.annotate("timed out (≥)", (lines, wall), textcoords="offset points", xytext=(-70, 8), fontsize=7)
    for ax, title, unit in ((wall_ax, "wall time (median)", "seconds"), (rss_ax, "peak RSS (median)", "MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("lines of Python in the generated backend")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    wall_ax.legend(fontsize=8)
    meta = run["meta"]
    fig.suptitle(f"scripts/bench, {meta['date']} UTC, {meta['nproc']} cores, strata {meta['commit']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
