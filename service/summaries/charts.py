"""Charts of a summary as inline SVG, drawn with matplotlib's object API on the Agg/SVG backends.

Text stays text in the SVG (svg.fonttype 'none'), so Vietnamese labels use the reader's fonts and the
document stays small. No date or tool metadata is written, so the same figures give the same SVG.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context  # noqa: E402 - after choosing the backend
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import Formatter  # noqa: E402

from service.summaries.text import Words  # noqa: E402

VN_COLOUR = "#c8102e"
FOREIGN_COLOUR = "#4a6fa5"
FONTS = ["DejaVu Sans", "Arial", "Helvetica", "sans-serif"]
_DRAW_LOCK = threading.Lock()  # rcParams are global; draw one chart at a time


class LocaleFormatter(Formatter):
    """Axis tick labels written as the report writes numbers ('1,5' and '2.000' in Vietnamese, '1.5' and
    '2,000' in English), with the decimals the ticks' step needs and no more."""

    def __init__(self, words: Words):
        self.words = words
        self.digits = 0

    def set_locs(self, locs: list[float]) -> None:
        super().set_locs(locs)
        steps = [b - a for a, b in zip(locs, locs[1:], strict=False) if b > a]
        step = float(f"{min(steps):.6g}") if steps else 1.0
        self.digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.words.fixed(x, self.digits)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with _DRAW_LOCK, rc_context({"svg.fonttype": "none", "svg.hashsalt": "vnmeter", "font.family": FONTS}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def bar_chart(rows: Sequence[dict[str, Any]], value_key: str, scale: int, title: str, unit: str,
              words: Words) -> str:
    """Horizontal bars, largest on top, Vietnamese platforms in red and foreign ones in blue."""
    ordered = sorted((r for r in rows if r.get(value_key) is not None), key=lambda r: r[value_key])
    values = [r[value_key] * scale / 1e6 for r in ordered]
    figure = Figure(figsize=(7.5, 0.42 * max(len(ordered), 2) + 1.0), dpi=100)
    axes = figure.add_subplot()
    bars = axes.barh([r["name"] for r in ordered], values, height=0.6,
                     color=[VN_COLOUR if r["origin"] == "vn" else FOREIGN_COLOUR for r in ordered])
    axes.bar_label(bars, labels=[words.count(r[value_key] * scale) for r in ordered], padding=3, fontsize=9)
    axes.set_title(title, fontsize=11, loc="left")
    axes.set_xlabel(unit, fontsize=9)
    axes.set_xlim(0, max(values, default=1) * 1.25 or 1)
    padding = max(0, 3 - len(ordered)) / 2  # one or two bars stay as thin as in a longer chart, centred
    axes.set_ylim(-0.6 - padding, len(ordered) - 0.4 + padding)
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=9)
    axes.xaxis.set_major_formatter(LocaleFormatter(words))
    return _svg(figure)


def share_chart(share: dict[str, Any], words: Words) -> str:
    """Each top platform's MB per user per month, stacked per origin, with the origins' shares."""
    figure = Figure(figsize=(7.5, 2.6), dpi=100)
    axes = figure.add_subplot()
    labels = [f"{words.label('vn')}\n{words.percent(share['vn']['share'])}",
              f"{words.label('foreign')}\n{words.percent(share['foreign']['share'])}"]
    for row, side in enumerate(("vn", "foreign")):
        left = 0.0
        colour = VN_COLOUR if side == "vn" else FOREIGN_COLOUR
        for index, platform in enumerate(share[side]["platforms"]):
            value = platform["value"] or 0.0
            axes.barh(row, value, left=left, color=colour, alpha=1.0 - 0.22 * index, edgecolor="white")
            if value:
                axes.text(left + value / 2, row, f"{platform['name']}\n{words.mb(value)}", ha="center", va="center",
                          fontsize=8, color="white")
            left += value
        axes.text(left, row, f"  {words.mb(share[side]['total'])}", va="center", fontsize=9)
    axes.set_yticks([0, 1], labels=labels, fontsize=9)
    axes.invert_yaxis()
    total = (share["vn"]["total"] or 0) + (share["foreign"]["total"] or 0)
    axes.set_xlim(0, max(share["vn"]["total"] or 0, share["foreign"]["total"] or 0, 1) * 1.2 or total or 1)
    axes.set_title(words.label("chart_share"), fontsize=11, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="x", labelsize=8)
    axes.xaxis.set_major_formatter(LocaleFormatter(words))
    return _svg(figure)
