"""The weekly report's chart: open gaps by kind over the last weeks, as a PNG.

Drawn with matplotlib's Agg backend (no display needed) and sized for a phone: a 6x4.5 inch
figure at 200 dpi (1200x900 pixels) with large type, at most six coloured lines (the rest
summed as "other") and the legend under the plot where it never covers a line.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")  # before pyplot: servers and CI have no display

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

CHART_SIZE_INCHES = (6.0, 4.5)
CHART_DPI = 200
MAX_LINES = 6
"""More lines than this cannot be told apart on a phone; the smallest are summed as other."""
FONT_SIZE = 13
KIND_LABELS = {
    "duplicate": "Duplicate work",
    "priority_inversion": "Priority inversion",
    "parent_child_priority": "Parent/child priority",
    "focus_drift": "Focus drift",
    "unaligned_work": "Unaligned work",
    "stale_pr": "Stale PR",
    "blocked": "Blocked",
    "overdue": "Overdue",
    "status_drift": "Status drift",
    "overload": "Overload",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def kind_label(kind: str) -> str:
    """A finding kind in words."""
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def _top_series(series: Mapping[str, Sequence[int]], weeks: int) -> dict[str, list[int]]:
    ordered = sorted(series.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    ranked = [(k, list(v)) for k, v in ordered if any(v)]
    if len(ranked) <= MAX_LINES:
        return dict(ranked)
    kept = dict(ranked[: MAX_LINES - 1])
    other = [0] * weeks
    for _, values in ranked[MAX_LINES - 1 :]:
        other = [a + b for a, b in zip(other, values, strict=True)]
    kept["other"] = other
    return kept


def render_open_gaps_chart(
    weeks: Sequence[date], series: Mapping[str, Sequence[int]], *, title: str = "Open gaps by kind"
) -> bytes:
    """A PNG line chart of open gaps per kind, one point per week.

    Args:
        weeks: The weeks (their Mondays), oldest first.
        series: Kind -> open count per week, aligned with `weeks`.
        title: The chart's title.

    Returns:
        The PNG file's bytes.
    """
    lines = _top_series(series, len(weeks))
    with plt.rc_context({"font.size": FONT_SIZE}):
        figure, axes = plt.subplots(figsize=CHART_SIZE_INCHES, dpi=CHART_DPI)
        try:
            labels = [f"{w.day} {w.strftime('%b')}" for w in weeks]
            positions = list(range(len(weeks)))
            if lines:
                for kind, values in lines.items():
                    axes.plot(
                        positions,
                        values,
                        marker="o",
                        markersize=4,
                        linewidth=2.5,
                        label=kind_label(kind) if kind != "other" else "Other",
                    )
                axes.legend(
                    loc="upper center",
                    bbox_to_anchor=(0.5, -0.12),
                    ncol=2,
                    frameon=False,
                    fontsize=FONT_SIZE - 2,
                )
            else:
                axes.text(
                    0.5,
                    0.5,
                    "No open gaps recorded yet",
                    ha="center",
                    va="center",
                    transform=axes.transAxes,
                )
            axes.set_title(title, fontsize=FONT_SIZE + 2, loc="left")
            axes.set_ylabel("open gaps")
            axes.set_ylim(bottom=0)
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
            # Every other week labelled: twelve dates do not fit a phone's width.
            # Counted back from the newest, so the week reported on always has its label.
            step = 2 if len(weeks) > 6 else 1
            shown = positions[::-1][::step][::-1]
            axes.set_xticks(shown, [labels[i] for i in shown], rotation=0)
            axes.grid(axis="y", alpha=0.3)
            axes.spines[["top", "right"]].set_visible(False)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches="tight")
        finally:
            plt.close(figure)
    return buffer.getvalue()
